//! The claim checks of one issuer as a value: a [`Policy`] is applied to a token's header
//! and its [`Claims`], as jsonwebtoken's `validate(claims, &Validation)`, with the time
//! passed in, so every rule is a pure function of its inputs.

use std::time::Duration;

use crate::alg::Algorithm;

use super::audience::Audience;
use super::issuer_template::IssuerTemplate;
use crate::claims::Claims;
use crate::error::{Error, InvalidToken};
use crate::verify::Jws;

/// The most clock skew a leeway may tolerate: beyond five minutes "expired" stops meaning
/// much, so `build()` refuses more ([`ConfigError::LeewayTooLarge`](super::ConfigError)).
pub(super) const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// How a token was presented (RFC 9449 section 7): its binding is checked accordingly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presented {
    /// `Authorization: Bearer`: proves nothing of a key, so a bound token is refused.
    Bearer,
    /// With a proof of possession the gate checks on this request (DPoP): a bound token
    /// passes here, and the gate compares its `cnf` with the proof.
    Bound,
    /// `Authorization: Bearer` to a gate that checks client certificates (RFC 8705
    /// section 3): a token bound only to a certificate passes here, and the gate compares
    /// its `cnf.x5t#S256` with the request's certificate; any other binding is refused as
    /// for [`Presented::Bearer`].
    Certificate,
}

/// What one issuer's tokens must satisfy, beyond their signature.
#[derive(Debug)]
pub(super) struct Policy {
    /// The `iss` accepted, compared exactly (RFC 7519 section 4.1.1); for a multi-tenant
    /// issuer, the template's text (what logs and `Validator::issuer` show).
    pub(super) issuer: String,
    /// A multi-tenant issuer: `iss` is then the template filled with the token's `tid`,
    /// instead of `issuer`.
    pub(super) issuer_template: Option<IssuerTemplate>,
    /// What makes a token meant for this API: an `aud` of ours (RFC 7519 section 4.1.3),
    /// or Cognito's `client_id` and `token_use`.
    pub(super) audience: Audience,
    /// The `alg` allow-list (RFC 8725 section 3.1).
    pub(super) algorithms: Vec<Algorithm>,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub(super) leeway: i64,
    /// RFC 9068 section 2.1: `typ` must be `at+jwt`.
    pub(super) require_access_token_type: bool,
    /// Sender-constrained tokens pass as bearer tokens (something in front checks them).
    pub(super) allow_sender_constrained: bool,
}

impl Policy {
    /// Takes a compact JWS apart and checks its header: an allowed `alg`, no `crit`, and
    /// `typ: at+jwt` when required (RFC 9068 section 4).
    pub(super) fn parse(&self, token: &str) -> Result<Jws, InvalidToken> {
        let jws = Jws::parse(token, &self.algorithms)?;
        if self.require_access_token_type && !is_access_token_type(jws.typ.as_deref()) {
            return Err(InvalidToken::WrongType);
        }
        Ok(jws)
    }

    /// RFC 7519 section 4.1 and RFC 9068 section 4: the claims every access token must
    /// pass at time `now`: `iss` exactly ours, an `aud` of ours, and its lifetime.
    pub(super) fn check(&self, claims: &Claims, now: i64) -> Result<(), InvalidToken> {
        self.check_issuer(claims)?;
        self.audience.check(claims)?;
        self.check_lifetime(claims, now)
    }

    /// RFC 7519 section 4.1.1: `iss` is ours, compared as a string; for a multi-tenant
    /// issuer, the template filled with a trusted `tid`.
    fn check_issuer(&self, claims: &Claims) -> Result<(), InvalidToken> {
        match &self.issuer_template {
            None if claims.issuer() == self.issuer => Ok(()),
            None => Err(InvalidToken::WrongIssuer),
            Some(template) => template.check(claims),
        }
    }

    /// An introspection answer's claims (RFC 7662 section 2.2), on every use: a cached
    /// answer must not outlive the token. An answer naming no audience (RFC 7662 makes it
    /// optional) reached here only with `allow_introspection_without_audience`; it is
    /// checked for all but the audience.
    pub(super) fn check_introspected(&self, claims: &Claims, now: i64) -> Result<(), InvalidToken> {
        if !self.audience.skipped_without_aud(claims) {
            return self.check(claims, now);
        }
        self.check_issuer(claims)?;
        self.check_lifetime(claims, now)
    }

    /// `exp` and `nbf` at time `now`, with the leeway (RFC 7519 sections 4.1.4 and
    /// 4.1.5): on every request, cached or not.
    pub(super) fn check_lifetime(&self, claims: &Claims, now: i64) -> Result<(), InvalidToken> {
        if now > claims.expires_at().saturating_add(self.leeway) {
            return Err(InvalidToken::Expired);
        }
        if claims
            .not_before()
            .is_some_and(|nbf| nbf > now.saturating_add(self.leeway))
        {
            return Err(InvalidToken::NotYetValid);
        }
        Ok(())
    }

    /// A sender-constrained token proves nothing when presented as a bearer token: its
    /// binding must be checked, or it must be refused. RFC 9449 section 7.2 (DPoP-bound
    /// tokens received as bearer tokens MUST be rejected) and RFC 8705 section 3 (a
    /// certificate-bound token whose certificate does not match MUST be rejected with
    /// `invalid_token`). Runs on every request, token cache hit or not: the cache holds
    /// bound tokens too (their binding is the gate's check of each request's proof).
    pub(super) fn check_binding(
        &self,
        claims: Claims,
        presented: Presented,
    ) -> Result<Claims, Error> {
        match presented {
            Presented::Bearer
                if claims.is_sender_constrained() && !self.allow_sender_constrained =>
            {
                Err(InvalidToken::SenderConstrained.into())
            }
            Presented::Certificate
                if claims.is_sender_constrained()
                    && !self.allow_sender_constrained
                    && !crate::binding::mtls::is_only_certificate_bound(&claims) =>
            {
                Err(InvalidToken::SenderConstrained.into())
            }
            _ => Ok(claims),
        }
    }
}

/// RFC 9068 section 4: `typ` is `at+jwt` (or its full media type), compared
/// case-insensitively as media types are (RFC 7515 section 4.1.9).
fn is_access_token_type(typ: Option<&str>) -> bool {
    typ.is_some_and(|t| {
        t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

    fn policy() -> Policy {
        Policy {
            issuer: "https://id.example".into(),
            issuer_template: None,
            audience: Audience::Aud(vec!["api".into(), "other-api".into()]),
            algorithms: vec![Algorithm::ES256],
            leeway: 60,
            require_access_token_type: false,
            allow_sender_constrained: false,
        }
    }

    fn claims(value: serde_json::Value) -> Claims {
        Claims::from_payload(serde_json::to_vec(&value).unwrap()).unwrap()
    }

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn access_token_type_is_matched_case_insensitively() {
        assert!(is_access_token_type(Some("at+jwt")));
        assert!(is_access_token_type(Some("application/AT+JWT")));
        assert!(!is_access_token_type(Some("JWT")));
        assert!(!is_access_token_type(None));
    }

    #[test]
    fn issuer_exactly_and_one_of_our_audiences() {
        let p = policy();
        let ok = claims(
            serde_json::json!({"iss": "https://id.example", "aud": ["x", "other-api"], "exp": NOW}),
        );
        assert_eq!(p.check(&ok, NOW), Ok(()));
        for (value, expected) in [
            (
                serde_json::json!({"iss": "https://id.example/", "aud": "api", "exp": NOW}),
                InvalidToken::WrongIssuer,
            ),
            (
                serde_json::json!({"iss": "https://ID.example", "aud": "api", "exp": NOW}),
                InvalidToken::WrongIssuer,
            ),
            (
                serde_json::json!({"iss": "https://id.example", "aud": "API", "exp": NOW}),
                InvalidToken::WrongAudience,
            ),
            (
                serde_json::json!({"iss": "https://id.example", "aud": [], "exp": NOW}),
                InvalidToken::WrongAudience,
            ),
        ] {
            assert_eq!(
                p.check(&claims(value.clone()), NOW),
                Err(expected),
                "{value}"
            );
        }
    }

    #[test]
    fn lifetime_holds_within_the_leeway_and_not_a_second_beyond() {
        let p = policy();
        let exp =
            claims(serde_json::json!({"iss": "https://id.example", "aud": "api", "exp": NOW}));
        assert_eq!(p.check_lifetime(&exp, NOW + 60), Ok(()));
        assert_eq!(p.check_lifetime(&exp, NOW + 61), Err(InvalidToken::Expired));
        let nbf = claims(
            serde_json::json!({"iss": "https://id.example", "aud": "api", "exp": NOW + 600, "nbf": NOW}),
        );
        assert_eq!(p.check_lifetime(&nbf, NOW - 60), Ok(()));
        assert_eq!(
            p.check_lifetime(&nbf, NOW - 61),
            Err(InvalidToken::NotYetValid)
        );
        // Far-future and far-past values saturate instead of overflowing.
        let max = claims(
            serde_json::json!({"iss": "https://id.example", "aud": "api", "exp": i64::MAX, "nbf": i64::MIN}),
        );
        assert_eq!(p.check_lifetime(&max, i64::MAX), Ok(()));
    }

    #[test]
    fn an_introspected_answer_without_audience_is_checked_for_the_rest() {
        let p = policy();
        let unbound =
            claims(serde_json::json!({"iss": "https://id.example", "aud": [], "exp": NOW}));
        assert_eq!(p.check_introspected(&unbound, NOW), Ok(()));
        assert_eq!(
            p.check_introspected(&unbound, NOW + 61),
            Err(InvalidToken::Expired)
        );
        let foreign =
            claims(serde_json::json!({"iss": "https://other.example", "aud": [], "exp": NOW}));
        assert_eq!(
            p.check_introspected(&foreign, NOW),
            Err(InvalidToken::WrongIssuer)
        );
        let elsewhere =
            claims(serde_json::json!({"iss": "https://id.example", "aud": "x", "exp": NOW}));
        assert_eq!(
            p.check_introspected(&elsewhere, NOW),
            Err(InvalidToken::WrongAudience)
        );
    }

    #[test]
    fn an_introspected_answer_without_aud_skips_nothing_in_cognitos_mode() {
        let p = Policy {
            audience: Audience::CognitoClientIds(vec!["app".into()]),
            ..policy()
        };
        let other_client = claims(
            serde_json::json!({"iss": "https://id.example", "exp": NOW, "token_use": "access", "client_id": "x"}),
        );
        assert_eq!(
            p.check_introspected(&other_client, NOW),
            Err(InvalidToken::WrongAudience)
        );
        let ours = claims(
            serde_json::json!({"iss": "https://id.example", "exp": NOW, "token_use": "access", "client_id": "app"}),
        );
        assert_eq!(p.check_introspected(&ours, NOW), Ok(()));
    }

    #[test]
    fn a_template_replaces_the_exact_issuer_comparison() {
        let tid = "9188040d-6c67-4c5b-b112-36a304b66dad";
        let p = Policy {
            issuer: "https://login.example/{tenantid}/v2.0".into(),
            issuer_template: Some(
                IssuerTemplate::parse(
                    "https://login.example/{tenantid}/v2.0",
                    super::super::TrustedTenants::list([tid]),
                )
                .unwrap(),
            ),
            ..policy()
        };
        let token = |iss: &str| {
            claims(serde_json::json!({"iss": iss, "tid": tid, "aud": "api", "exp": NOW}))
        };
        assert_eq!(
            p.check(&token(&format!("https://login.example/{tid}/v2.0")), NOW),
            Ok(())
        );
        // The template's own text is no issuer, nor is `issuer`.
        assert_eq!(
            p.check(&token("https://login.example/{tenantid}/v2.0"), NOW),
            Err(InvalidToken::WrongIssuer)
        );
        assert_eq!(
            p.check_introspected(&token("https://id.example"), NOW),
            Err(InvalidToken::WrongIssuer)
        );
    }

    #[test]
    fn a_bound_token_passes_as_bearer_only_when_allowed() {
        let bound = || {
            claims(
                serde_json::json!({"iss": "https://id.example", "aud": "api", "exp": NOW, "cnf": {"jkt": "x"}}),
            )
        };
        let mut p = policy();
        assert_eq!(
            p.check_binding(bound(), Presented::Bearer).unwrap_err(),
            Error::InvalidToken(InvalidToken::SenderConstrained)
        );
        assert!(p.check_binding(bound(), Presented::Bound).is_ok());
        p.allow_sender_constrained = true;
        assert!(p.check_binding(bound(), Presented::Bearer).is_ok());
    }

    #[test]
    fn typ_is_required_only_when_configured_and_the_allow_list_applies() {
        let token = |header: &str| format!("{}.{}.c2ln", B64.encode(header), B64.encode("{}"));
        let mut p = policy();
        let plain = token(r#"{"alg":"ES256"}"#);
        assert!(p.parse(&plain).is_ok());
        assert_eq!(
            p.parse(&token(r#"{"alg":"RS256"}"#)).unwrap_err(),
            InvalidToken::AlgorithmNotAllowed
        );
        p.require_access_token_type = true;
        assert_eq!(p.parse(&plain).unwrap_err(), InvalidToken::WrongType);
        assert!(p.parse(&token(r#"{"alg":"ES256","typ":"at+jwt"}"#)).is_ok());
    }
}
