//! Multi-tenant issuers (Microsoft Entra ID): one issuer per tenant, written as a template
//! such as `https://login.microsoftonline.com/{tenantid}/v2.0`. The tenant is the token's
//! `tid` claim; `iss` must then equal the template filled with that `tid`, exactly, and
//! the tenant must be one the API trusts ([`TrustedTenants`]).

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::claims::Claims;
use crate::error::InvalidToken;

/// The placeholder an issuer template holds once: where the tenant id goes.
pub const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// The longest tenant id accepted (Entra's are 36-character GUIDs).
const MAX_TENANT_ID_CHARS: usize = 64;

/// The tenants whose tokens a multi-tenant issuer template accepts, given with
/// [`ValidatorBuilder::issuer_template`](crate::ValidatorBuilder::issuer_template): a list,
/// or a predicate (a tenant registry, a database lookup cached in memory).
///
/// A tenant id (the token's `tid`) must in any case be 1 to 64 ASCII letters, digits or
/// `-` (an Entra tenant id is a GUID): a `tid` holding `/`, `.`, `?`, `#`, `@`, `%` or
/// anything else that could change the meaning of the issuer URL it fills is refused
/// before either is consulted.
///
/// ```
/// use tokengate::TrustedTenants;
///
/// let listed = TrustedTenants::list(["9188040d-6c67-4c5b-b112-36a304b66dad"]);
/// let any_paying = TrustedTenants::predicate(|tid| tid.starts_with("72f988bf"));
/// # let _ = (listed, any_paying);
/// ```
#[derive(Clone)]
#[must_use]
pub struct TrustedTenants(Tenants);

#[derive(Clone)]
enum Tenants {
    List(Vec<String>),
    Predicate(Arc<dyn Fn(&str) -> bool + Send + Sync>),
}

impl TrustedTenants {
    /// Exactly these tenant ids, compared exactly (as tokens carry them: Entra writes
    /// GUIDs in lower case). An empty list is refused by `build()`.
    pub fn list(tenant_ids: impl IntoIterator<Item = impl Into<String>>) -> Self {
        TrustedTenants(Tenants::List(
            tenant_ids.into_iter().map(Into::into).collect(),
        ))
    }

    /// The tenants for which `trusts` returns `true`. It is called once per token
    /// verified (not per cached hit), with a well-formed tenant id whose issuer matched:
    /// keep it fast and free of I/O. `|_| true` trusts every Entra tenant, including
    /// those anyone can create in minutes: then authorize by tenant somewhere else.
    pub fn predicate(trusts: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        TrustedTenants(Tenants::Predicate(Arc::new(trusts)))
    }

    fn trusts(&self, tenant_id: &str) -> bool {
        match &self.0 {
            Tenants::List(ids) => ids.iter().any(|id| id == tenant_id),
            Tenants::Predicate(trusts) => trusts(tenant_id),
        }
    }
}

impl fmt::Debug for TrustedTenants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Tenants::List(ids) => f.debug_tuple("TrustedTenants::list").field(ids).finish(),
            Tenants::Predicate(_) => f.write_str("TrustedTenants::predicate(..)"),
        }
    }
}

/// Whether `tenant_id` may fill a template: 1 to 64 ASCII letters, digits or `-`, so
/// nothing in it can reach another part of the URL (RFC 3986 section 2.2's delimiters,
/// dot segments, percent-encoding).
fn is_tenant_id(tenant_id: &str) -> bool {
    (1..=MAX_TENANT_ID_CHARS).contains(&tenant_id.len())
        && tenant_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A multi-tenant issuer: the text around `{tenantid}`, and the tenants trusted.
#[derive(Debug, Clone)]
pub(super) struct IssuerTemplate {
    prefix: String,
    suffix: String,
    tenants: TrustedTenants,
}

impl IssuerTemplate {
    /// The template, checked: `{tenantid}` exactly once, and at least one trusted tenant
    /// if they are listed. The error says what is wrong, for
    /// [`ConfigError::IssuerTemplate`](super::ConfigError::IssuerTemplate).
    pub(super) fn parse(template: &str, tenants: TrustedTenants) -> Result<Self, &'static str> {
        let Some((prefix, suffix)) = template.split_once(TENANT_PLACEHOLDER) else {
            return Err("the template must hold {tenantid} once");
        };
        if suffix.contains(TENANT_PLACEHOLDER) {
            return Err("the template must hold {tenantid} only once");
        }
        if matches!(&tenants.0, Tenants::List(ids) if ids.is_empty()) {
            return Err("TrustedTenants::list is empty: no token could ever pass");
        }
        if let Tenants::List(ids) = &tenants.0 {
            if !ids.iter().all(|id| is_tenant_id(id)) {
                return Err(
                    "a listed tenant id is not 1 to 64 ASCII letters, digits or '-': no token could carry it",
                );
            }
        }
        Ok(IssuerTemplate {
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
            tenants,
        })
    }

    /// The template with `tenant_id` in place: the `iss` that tenant's tokens carry.
    pub(super) fn fill(&self, tenant_id: &str) -> String {
        format!("{}{tenant_id}{}", self.prefix, self.suffix)
    }

    /// Whether `iss` has the template's shape (prefix, a well-formed tenant id, suffix):
    /// where [`Validator::any_of`](super::Validator::any_of) routes a token. Routing
    /// only: [`check`](Self::check) decides.
    pub(super) fn fits(&self, iss: &str) -> bool {
        iss.strip_prefix(&*self.prefix)
            .and_then(|rest| rest.strip_suffix(&*self.suffix))
            .is_some_and(is_tenant_id)
    }

    /// The token's tenant: a well-formed `tid` of a trusted tenant, and `iss` exactly the
    /// template filled with it (RFC 7519 section 4.1.1 compares `iss` as a string: so do
    /// we, once the template is filled).
    pub(super) fn check(&self, claims: &Claims) -> Result<(), InvalidToken> {
        let tenant_id = match claims.get("tid") {
            Some(Value::String(tid)) => tid,
            None => return Err(InvalidToken::MissingClaim("tid")),
            Some(_) => return Err(InvalidToken::InvalidClaim("tid")),
        };
        if !is_tenant_id(tenant_id) {
            return Err(InvalidToken::InvalidClaim("tid"));
        }
        // The comparison first: a token of another tenant than its `tid` never reaches
        // the user's predicate.
        let iss = claims.issuer();
        if iss.len() != self.prefix.len() + tenant_id.len() + self.suffix.len()
            || iss != self.fill(tenant_id)
        {
            return Err(InvalidToken::WrongIssuer);
        }
        if !self.tenants.trusts(tenant_id) {
            return Err(InvalidToken::WrongIssuer);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const V2: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";
    const TID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

    fn claims(value: Value) -> Claims {
        Claims::from_payload(serde_json::to_vec(&value).unwrap()).unwrap()
    }

    fn v2() -> IssuerTemplate {
        IssuerTemplate::parse(V2, TrustedTenants::list([TID])).unwrap()
    }

    fn token(iss: &str, tid: Value) -> Claims {
        claims(json!({"iss": iss, "tid": tid, "aud": "api", "exp": 1}))
    }

    #[test]
    fn the_issuer_is_the_template_filled_with_the_tokens_tid() {
        let ok = format!("https://login.microsoftonline.com/{TID}/v2.0");
        assert_eq!(v2().fill(TID), ok);
        assert_eq!(v2().check(&token(&ok, json!(TID))), Ok(()));
        assert!(v2().fits(&ok));
    }

    #[test]
    fn every_way_around_the_template_is_refused() {
        let other = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let at = |tid: &str| format!("https://login.microsoftonline.com/{tid}/v2.0");
        for (iss, tid, expected) in [
            // A tenant not trusted, its own issuer.
            (at(other), json!(other), InvalidToken::WrongIssuer),
            // `iss` of another tenant than `tid` (trusted `tid`).
            (at(other), json!(TID), InvalidToken::WrongIssuer),
            // A v1 issuer on a v2 template.
            (
                format!("https://sts.windows.net/{TID}/"),
                json!(TID),
                InvalidToken::WrongIssuer,
            ),
            // Characters that would change the URL, whatever the issuer says.
            (
                at(&format!("{TID}/v2.0?")),
                json!(format!("{TID}/v2.0?")),
                InvalidToken::InvalidClaim("tid"),
            ),
            (at(".."), json!(".."), InvalidToken::InvalidClaim("tid")),
            (
                at(&format!("{TID}%2F")),
                json!(format!("{TID}%2F")),
                InvalidToken::InvalidClaim("tid"),
            ),
            (at(""), json!(""), InvalidToken::InvalidClaim("tid")),
            (
                at("x"),
                json!("x".repeat(65)),
                InvalidToken::InvalidClaim("tid"),
            ),
            (at(TID), json!([TID]), InvalidToken::InvalidClaim("tid")),
            // The template itself is no issuer.
            (
                V2.to_owned(),
                json!("{tenantid}"),
                InvalidToken::InvalidClaim("tid"),
            ),
            // Case matters in an issuer.
            (
                at(&TID.to_uppercase()),
                json!(TID),
                InvalidToken::WrongIssuer,
            ),
        ] {
            assert_eq!(
                v2().check(&token(&iss, tid.clone())),
                Err(expected),
                "{iss} {tid}"
            );
        }
        let no_tid = claims(json!({"iss": at(TID), "aud": "api", "exp": 1}));
        assert_eq!(v2().check(&no_tid), Err(InvalidToken::MissingClaim("tid")));
    }

    #[test]
    fn a_predicate_sees_only_well_formed_tenants_whose_issuer_matched() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let template = IssuerTemplate::parse(
            V2,
            TrustedTenants::predicate(move |tid| {
                log.lock().unwrap().push(tid.to_owned());
                tid.starts_with("9188")
            }),
        )
        .unwrap();
        let at = |tid: &str| format!("https://login.microsoftonline.com/{tid}/v2.0");
        assert_eq!(template.check(&token(&at(TID), json!(TID))), Ok(()));
        assert_eq!(
            template.check(&token(&at("abc"), json!("abc"))),
            Err(InvalidToken::WrongIssuer)
        );
        assert_eq!(
            template.check(&token(&at("a/b"), json!("a/b"))),
            Err(InvalidToken::InvalidClaim("tid"))
        );
        assert_eq!(
            template.check(&token(&at("other"), json!(TID))),
            Err(InvalidToken::WrongIssuer)
        );
        assert_eq!(*seen.lock().unwrap(), [TID, "abc"]);
    }

    #[test]
    fn templates_are_checked_when_built() {
        let list = || TrustedTenants::list([TID]);
        assert!(
            IssuerTemplate::parse("https://login.microsoftonline.com/common/v2.0", list()).is_err()
        );
        assert!(IssuerTemplate::parse("https://x/{tenantid}/{tenantid}", list()).is_err());
        assert!(IssuerTemplate::parse(V2, TrustedTenants::list(Vec::<String>::new())).is_err());
        assert!(IssuerTemplate::parse(V2, TrustedTenants::list(["a/b"])).is_err());
        let v1 = IssuerTemplate::parse("https://sts.windows.net/{tenantid}/", list()).unwrap();
        assert_eq!(v1.fill(TID), format!("https://sts.windows.net/{TID}/"));
        assert!(!v1.fits(&format!("https://login.microsoftonline.com/{TID}/v2.0")));
        assert!(!v1.fits("https://sts.windows.net/a/b/"));
    }
}
