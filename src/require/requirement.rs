//! [`Requirement`]: what a token must grant, beyond being valid, as a value.

use std::fmt;
use std::sync::Arc;

use super::claim::{ClaimRequirement, ClaimTest};
use super::path::ClaimPath;
use super::roles::RoleSource;
use crate::claims::Claims;
use crate::error::Error;

/// What a valid token must also grant to reach a resource: scopes, claim values, roles,
/// a check of your own, or all / any of several.
///
/// Attach one to a whole gate ([`Gate::require`](crate::Gate::require)), to one route
/// (the adapters' `Require` middleware), or check it in a handler
/// ([`Claims::require`]). Cheap to clone (one shared pointer).
///
/// Refusals follow RFC 6750 section 3.1: a missing scope is `403 insufficient_scope`
/// whose `scope` attribute names every scope that would satisfy the requirement (all of
/// an all-of, each of an any-of); any other failure is `403 insufficient_scope` with a
/// fixed description ([`Error::RequirementNotMet`]), never echoing a claim value.
///
/// ```
/// use tokengate::require::{Requirement, RoleSource};
///
/// let writers = Requirement::any([
///     Requirement::any_scope(["admin", "orders:write"]),
///     Requirement::role(RoleSource::keycloak_realm(), "order-admin"),
/// ]);
/// let policy = Requirement::all([
///     writers,
///     Requirement::claim("tenant").equals("acme"),
///     Requirement::custom("verified email", |claims| {
///         claims.get("email_verified").and_then(|v| v.as_bool()) == Some(true)
///     }),
/// ]);
/// ```
#[derive(Clone)]
pub struct Requirement {
    rule: Arc<Rule>,
}

enum Rule {
    Scope(Box<str>),
    AllScopes(Box<[Box<str>]>),
    AnyScope(Box<[Box<str>]>),
    /// Scopes read from another claim, or in one claim shape only.
    ScopesIn {
        source: RoleSource,
        scopes: Box<[Box<str>]>,
        all: bool,
    },
    Claim {
        path: ClaimPath,
        test: ClaimTest,
    },
    Roles {
        source: RoleSource,
        roles: Box<[Box<str>]>,
    },
    Custom {
        name: Arc<str>,
        check: Check,
    },
    All(Box<[Requirement]>),
    Any(Box<[Requirement]>),
}

type Check = Box<dyn Fn(&Claims) -> bool + Send + Sync>;

fn boxed<I, S>(items: I) -> Box<[Box<str>]>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    items.into_iter().map(|s| s.as_ref().into()).collect()
}

impl Requirement {
    fn new(rule: Rule) -> Self {
        Requirement {
            rule: Arc::new(rule),
        }
    }

    /// The token grants `scope`, compared exactly (RFC 6749 section 3.3), in the shape its
    /// issuer uses ([`Claims::scopes`]: `scope` as a space-separated string, or `scp` as a
    /// string or an array). An empty scope is never granted.
    pub fn scope(scope: impl AsRef<str>) -> Self {
        Self::new(Rule::Scope(scope.as_ref().into()))
    }

    /// The token grants every one of `scopes` (none: always met).
    pub fn all_scopes<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::new(Rule::AllScopes(boxed(scopes)))
    }

    /// The token grants at least one of `scopes` (none: never met).
    pub fn any_scope<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::new(Rule::AnyScope(boxed(scopes)))
    }

    /// The token grants `scope` in `source` rather than in [`Claims::scopes`]: scopes
    /// in another claim (Auth0's `permissions`: [`RoleSource::auth0_permissions`]), or
    /// in one shape only (only RFC 8693 `scope`, never `scp`:
    /// `RoleSource::space_delimited("scope")`). Refused as `insufficient_scope` naming
    /// it, like [`scope`](Self::scope).
    pub fn scope_in(source: RoleSource, scope: impl AsRef<str>) -> Self {
        Self::all_scopes_in(source, [scope])
    }

    /// Every one of `scopes` in `source` (see [`scope_in`](Self::scope_in); none: always
    /// met).
    pub fn all_scopes_in<I, S>(source: RoleSource, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::new(Rule::ScopesIn {
            source,
            scopes: boxed(scopes),
            all: true,
        })
    }

    /// At least one of `scopes` in `source` (see [`scope_in`](Self::scope_in); none:
    /// never met).
    pub fn any_scope_in<I, S>(source: RoleSource, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::new(Rule::ScopesIn {
            source,
            scopes: boxed(scopes),
            all: false,
        })
    }

    /// A claim's value: a top-level name (`"tenant"`, `"https://example.com/org"`, never
    /// split) or a [`ClaimPath`] into nested objects; then `.equals(..)`, `.one_of(..)`
    /// or `.contains(..)`.
    pub fn claim(path: impl Into<ClaimPath>) -> ClaimRequirement {
        ClaimRequirement { path: path.into() }
    }

    pub(super) fn from_claim(path: ClaimPath, test: ClaimTest) -> Self {
        Self::new(Rule::Claim { path, test })
    }

    /// The token holds `role` in `source` (see [`RoleSource`] for each issuer's shape).
    pub fn role(source: RoleSource, role: impl AsRef<str>) -> Self {
        Self::any_role(source, [role])
    }

    /// The token holds at least one of `roles` in `source` (none: never met).
    pub fn any_role<I, S>(source: RoleSource, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::new(Rule::Roles {
            source,
            roles: boxed(roles),
        })
    }

    /// A check of your own on the verified claims; `name` says which in logs (the client
    /// sees the fixed description). It runs on every request it guards: keep it cheap and
    /// free of I/O.
    pub fn custom<F>(name: impl Into<Arc<str>>, check: F) -> Self
    where
        F: Fn(&Claims) -> bool + Send + Sync + 'static,
    {
        Self::new(Rule::Custom {
            name: name.into(),
            check: Box::new(check),
        })
    }

    /// Every one of `requirements` (none: always met).
    pub fn all(requirements: impl IntoIterator<Item = Requirement>) -> Self {
        Self::new(Rule::All(requirements.into_iter().collect()))
    }

    /// At least one of `requirements` (none: never met).
    pub fn any(requirements: impl IntoIterator<Item = Requirement>) -> Self {
        Self::new(Rule::Any(requirements.into_iter().collect()))
    }

    /// `Ok` if `claims` meet the requirement; else the 403 to answer with. Allocates
    /// nothing when met.
    pub fn check(&self, claims: &Claims) -> Result<(), Error> {
        match &*self.rule {
            Rule::Scope(scope) => {
                if claims.scopes().contains(scope) {
                    Ok(())
                } else {
                    Err(Error::insufficient_scope(&**scope))
                }
            }
            Rule::AllScopes(scopes) => {
                if scopes.iter().all(|s| claims.scopes().contains(s)) {
                    Ok(())
                } else {
                    Err(insufficient(scopes.iter().map(|s| &**s)))
                }
            }
            Rule::AnyScope(scopes) => {
                if scopes.iter().any(|s| claims.scopes().contains(s)) {
                    Ok(())
                } else {
                    Err(insufficient(scopes.iter().map(|s| &**s)))
                }
            }
            Rule::ScopesIn {
                source,
                scopes,
                all,
            } => {
                let mut held = scopes.iter().map(|scope| source.holds(claims, scope));
                let met = if *all {
                    held.all(|held| held)
                } else {
                    held.any(|held| held)
                };
                if met {
                    Ok(())
                } else {
                    Err(insufficient(scopes.iter().map(|s| &**s)))
                }
            }
            Rule::Claim { path, test } => {
                if test.holds(path.lookup(claims)) {
                    Ok(())
                } else {
                    Err(Error::requirement_not_met(format!("claim {path}")))
                }
            }
            Rule::Roles { source, roles } => {
                if roles.iter().any(|role| source.holds(claims, role)) {
                    Ok(())
                } else {
                    Err(Error::requirement_not_met(format!(
                        "role in {}",
                        source.path()
                    )))
                }
            }
            Rule::Custom { name, check } => {
                if check(claims) {
                    Ok(())
                } else {
                    Err(Error::RequirementNotMet {
                        requirement: Arc::clone(name),
                    })
                }
            }
            Rule::All(requirements) => {
                // A failure that no scope can cure wins; else every missing scope is named.
                let mut missing: Vec<Error> = Vec::new();
                for requirement in requirements {
                    match requirement.check(claims) {
                        Ok(()) => {}
                        Err(error @ Error::InsufficientScope { .. }) => missing.push(error),
                        Err(error) => return Err(error),
                    }
                }
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(merged(&missing))
                }
            }
            Rule::Any(requirements) => {
                let mut failures: Vec<Error> = Vec::new();
                for requirement in requirements {
                    match requirement.check(claims) {
                        Ok(()) => return Ok(()),
                        Err(error) => failures.push(error),
                    }
                }
                // Any alternative that a scope would satisfy is named; else the first.
                let scopes: Vec<Error> = failures
                    .iter()
                    .filter(|e| matches!(e, Error::InsufficientScope { .. }))
                    .cloned()
                    .collect();
                if !scopes.is_empty() {
                    return Err(merged(&scopes));
                }
                Err(failures
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| Error::requirement_not_met("any of none")))
            }
        }
    }
}

/// `insufficient_scope` naming `scopes` (RFC 6750 section 3.1: the `scope` attribute is a
/// space-delimited list), each once.
fn insufficient<'a>(scopes: impl Iterator<Item = &'a str>) -> Error {
    let mut named: Vec<&str> = Vec::new();
    for scope in scopes {
        if !scope.is_empty() && !named.contains(&scope) {
            named.push(scope);
        }
    }
    Error::insufficient_scope(named.join(" "))
}

/// One `insufficient_scope` naming the scopes of several.
fn merged(errors: &[Error]) -> Error {
    insufficient(errors.iter().flat_map(|error| match error {
        Error::InsufficientScope { required } => required.split(' '),
        _ => "".split(' '),
    }))
}

impl Claims {
    /// `Ok` if these claims meet `requirement`, else the 403 (RFC 6750 section 3.1) to
    /// answer with: `claims.require(&requirement)?` in a handler.
    ///
    /// ```
    /// # let key = tokengate::testing::TestKey::generate("k1", tokengate::Algorithm::ES256);
    /// # let token = key.mint(&serde_json::json!({
    /// #     "iss": "https://issuer.example", "aud": "api", "exp": 4000000000u64,
    /// #     "scope": "orders:read", "tenant": "acme",
    /// # }));
    /// # let validator = tokengate::Validator::builder()
    /// #     .issuer("https://issuer.example").audience("api")
    /// #     .jwks(serde_json::json!({"keys": [key.public_jwk()]})).build().unwrap();
    /// # let claims = validator.try_validate(&token).unwrap().unwrap();
    /// use tokengate::require::Requirement;
    ///
    /// assert!(claims.require(&Requirement::claim("tenant").equals("acme")).is_ok());
    /// let write = Requirement::any_scope(["admin", "orders:write"]);
    /// let refused = claims.require(&write).unwrap_err();
    /// assert!(refused.www_authenticate().unwrap().ends_with(r#"scope="admin orders:write""#));
    /// ```
    pub fn require(&self, requirement: &Requirement) -> Result<(), Error> {
        requirement.check(self)
    }
}

impl fmt::Debug for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.rule {
            Rule::Scope(scope) => f.debug_tuple("Scope").field(scope).finish(),
            Rule::AllScopes(scopes) => f.debug_tuple("AllScopes").field(scopes).finish(),
            Rule::AnyScope(scopes) => f.debug_tuple("AnyScope").field(scopes).finish(),
            Rule::ScopesIn {
                source,
                scopes,
                all,
            } => f
                .debug_struct("ScopesIn")
                .field("source", source)
                .field("scopes", scopes)
                .field("all", all)
                .finish(),
            Rule::Claim { path, test } => f
                .debug_struct("Claim")
                .field("path", path)
                .field("test", test)
                .finish(),
            Rule::Roles { source, roles } => f
                .debug_struct("Roles")
                .field("source", source)
                .field("roles", roles)
                .finish(),
            Rule::Custom { name, .. } => f.debug_tuple("Custom").field(name).finish(),
            Rule::All(all) => f.debug_tuple("All").field(all).finish(),
            Rule::Any(any) => f.debug_tuple("Any").field(any).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn claims(extra: Value) -> Claims {
        let mut map = json!({"iss": "i", "aud": "a", "exp": 10});
        for (k, v) in extra.as_object().unwrap() {
            map[k] = v.clone();
        }
        Claims::from_json(map).unwrap()
    }

    fn scope_of(error: Error) -> String {
        match error {
            Error::InsufficientScope { required } => required,
            other => panic!("not insufficient_scope: {other:?}"),
        }
    }

    #[test]
    fn one_scope_is_exact() {
        let c = claims(json!({"scope": "read administrator ADMIN"}));
        assert_eq!(c.require(&Requirement::scope("read")), Ok(()));
        assert_eq!(
            scope_of(c.require(&Requirement::scope("admin")).unwrap_err()),
            "admin"
        );
        assert!(c.require(&Requirement::scope("")).is_err());
        assert!(c.require(&Requirement::scope("read admin")).is_err());
    }

    #[test]
    fn all_and_any_scopes_name_every_scope_that_would_satisfy() {
        let c = claims(json!({"scope": "orders:read"}));
        let any = Requirement::any_scope(["admin", "orders:write"]);
        assert_eq!(scope_of(c.require(&any).unwrap_err()), "admin orders:write");
        let all = Requirement::all_scopes(["orders:read", "orders:write"]);
        assert_eq!(
            scope_of(c.require(&all).unwrap_err()),
            "orders:read orders:write"
        );
        assert_eq!(c.require(&Requirement::all_scopes(["orders:read"])), Ok(()));
        assert_eq!(
            c.require(&Requirement::any_scope(["x", "orders:read"])),
            Ok(())
        );
        assert!(
            c.require(&Requirement::any_scope::<[&str; 0], &str>([]))
                .is_err()
        );
        assert_eq!(
            c.require(&Requirement::all_scopes::<[&str; 0], &str>([])),
            Ok(())
        );
    }

    #[test]
    fn scopes_in_another_claim_or_one_shape_only() {
        let auth0 = claims(json!({"scope": "openid", "permissions": ["read:orders"]}));
        let write =
            Requirement::any_scope_in(RoleSource::auth0_permissions(), ["write:orders", "admin"]);
        assert_eq!(
            scope_of(auth0.require(&write).unwrap_err()),
            "write:orders admin"
        );
        let read = Requirement::scope_in(RoleSource::auth0_permissions(), "read:orders");
        assert_eq!(auth0.require(&read), Ok(()));
        // `scp` is a scope claim for Claims::scopes, not for a source that names `scope`.
        let okta = claims(json!({"scp": ["admin"]}));
        assert_eq!(okta.require(&Requirement::scope("admin")), Ok(()));
        let strict = Requirement::scope_in(RoleSource::space_delimited("scope"), "admin");
        assert_eq!(scope_of(okta.require(&strict).unwrap_err()), "admin");
        let both = Requirement::all_scopes_in(RoleSource::space_delimited("scope"), ["a", "b"]);
        assert_eq!(claims(json!({"scope": "b a"})).require(&both), Ok(()));
        assert_eq!(
            scope_of(claims(json!({"scope": "a"})).require(&both).unwrap_err()),
            "a b"
        );
    }

    #[test]
    fn claim_values_compare_as_json_with_their_type() {
        let c =
            claims(json!({"tenant": "acme", "level": 3, "amr": ["pwd", "mfa"], "flag": "true"}));
        assert_eq!(
            c.require(&Requirement::claim("tenant").equals("acme")),
            Ok(())
        );
        for refused in [
            Requirement::claim("tenant").equals("Acme"),
            Requirement::claim("tenant").equals(json!(["acme"])),
            Requirement::claim("level").equals("3"),
            Requirement::claim("flag").equals(true),
            Requirement::claim("missing").equals("acme"),
            Requirement::claim("tenant").one_of(["globex", "initech"]),
            Requirement::claim("tenant").one_of::<[&str; 0], &str>([]),
            Requirement::claim("tenant").contains("acme"),
            Requirement::claim("amr").contains("otp"),
            Requirement::claim("").equals("acme"),
        ] {
            let error = c.require(&refused).unwrap_err();
            assert!(
                matches!(error, Error::RequirementNotMet { .. }),
                "{refused:?}"
            );
            assert_eq!(error.status(), 403);
        }
        assert_eq!(c.require(&Requirement::claim("level").equals(3)), Ok(()));
        assert_eq!(
            c.require(&Requirement::claim("tenant").one_of(["x", "acme"])),
            Ok(())
        );
        assert_eq!(
            c.require(&Requirement::claim("amr").contains("mfa")),
            Ok(())
        );
    }

    #[test]
    fn nested_claim_paths_never_split_names() {
        let c =
            claims(json!({"org": {"id": "42"}, "org.id": "7", "https://x.example/org": "acme"}));
        let nested = Requirement::claim(ClaimPath::new(["org", "id"])).equals("42");
        assert_eq!(c.require(&nested), Ok(()));
        assert_eq!(c.require(&Requirement::claim("org.id").equals("7")), Ok(()));
        assert_eq!(
            c.require(&Requirement::claim("https://x.example/org").equals("acme")),
            Ok(())
        );
        let through_string = Requirement::claim(ClaimPath::new(["org", "id", "x"])).equals("42");
        assert!(c.require(&through_string).is_err());
    }

    #[test]
    fn a_refusal_never_echoes_claim_values() {
        let c = claims(json!({"tenant": "secret-tenant-name"}));
        let error = c
            .require(&Requirement::claim("tenant").equals("acme"))
            .unwrap_err();
        let challenge = error.www_authenticate().unwrap();
        assert_eq!(
            challenge,
            r#"Bearer error="insufficient_scope", error_description="The access token does not meet a requirement of this resource""#
        );
        assert!(!error.to_string().contains("secret-tenant-name"));
        assert!(!error.to_string().contains("acme"));
    }

    #[test]
    fn custom_checks_see_the_claims() {
        let verified = Requirement::custom("email verified", |c| {
            c.get("email_verified").and_then(Value::as_bool) == Some(true)
        });
        assert_eq!(
            claims(json!({"email_verified": true})).require(&verified),
            Ok(())
        );
        for bad in [json!({"email_verified": "true"}), json!({})] {
            assert_eq!(
                claims(bad).require(&verified),
                Err(Error::requirement_not_met("email verified"))
            );
        }
    }

    #[test]
    fn combinators_prefer_an_incurable_failure_and_merge_scopes() {
        let c = claims(json!({"scope": "read", "tenant": "acme"}));
        let tenant = Requirement::claim("tenant").equals("globex");
        // all: a failed claim is not cured by scopes.
        let all = Requirement::all([Requirement::scope("write"), tenant.clone()]);
        assert!(matches!(
            c.require(&all),
            Err(Error::RequirementNotMet { .. })
        ));
        let all = Requirement::all([Requirement::scope("a"), Requirement::any_scope(["b", "a"])]);
        assert_eq!(scope_of(c.require(&all).unwrap_err()), "a b");
        // any: one alternative suffices; the scopes that would satisfy are named.
        let any = Requirement::any([tenant.clone(), Requirement::scope("admin")]);
        assert_eq!(scope_of(c.require(&any).unwrap_err()), "admin");
        let any = Requirement::any([tenant.clone(), Requirement::scope("read")]);
        assert_eq!(c.require(&any), Ok(()));
        let any = Requirement::any([tenant.clone()]);
        assert!(matches!(
            c.require(&any),
            Err(Error::RequirementNotMet { .. })
        ));
        assert!(c.require(&Requirement::any([])).is_err());
        assert_eq!(c.require(&Requirement::all([])), Ok(()));
    }
}
