//! [`Validator::explain`]: the answer to "why is this 401?". The same checks as
//! [`Validator::validate`], made by the same code (the issuer's policy, key cache and
//! signature check), each recorded in order with the values it compared, so a person can
//! read where a token fails. The verdict is the one `validate` gives (the token cache
//! aside: a token is always verified afresh here, and nothing is remembered).
//!
//! Never shown: the token, its signature, a key or a secret. Values from the token are
//! the sender's: quoted with `Debug` and cut to 128 characters, as in the rejection logs.

use std::fmt;

use super::issuer::Issuer;
use super::policy::Presented;
use super::rejection::{cut, expected_and_found};
use super::{Kind, Validator};
use crate::claims::Claims;
use crate::clock::unix_now;
use crate::error::{Error, InvalidToken};
use crate::format::is_jws_shaped;
use crate::verify::{Jws, peek_issuer};

/// How one check of an [`Explanation`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckStatus {
    /// The token passed it.
    Passed,
    /// The token failed it: the verdict.
    Failed,
    /// Not made, because an earlier check failed (its values are still shown when known).
    NotChecked,
}

impl CheckStatus {
    /// `ok`, `FAILED` or `-`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Passed => "ok",
            CheckStatus::Failed => "FAILED",
            CheckStatus::NotChecked => "-",
        }
    }
}

/// One check of an [`Explanation`]: its name, how it went, and the values it compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplainedCheck {
    name: &'static str,
    status: CheckStatus,
    detail: String,
}

impl ExplainedCheck {
    /// The check: `size`, `header`, `key`, `signature`, `claims`, `iss`, `aud`, `exp`,
    /// `nbf`, `binding`, `scope`, `issuer` (routing among several), `introspection`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// How it went.
    pub fn status(&self) -> CheckStatus {
        self.status
    }

    /// The values it compared, for a person (no token, signature or secret).
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

/// What [`Validator::explain`] found: each check in order, and the verdict.
///
/// Its `Display` is one line per check and the verdict:
///
/// ```text
/// ok      size       612 bytes (at most 8192)
/// ok      header     alg "RS256", kid "key-1", typ "at+jwt"
/// ok      key        kid "key-1" found (RS256)
/// ok      signature  verified
/// ok      claims     decoded: sub "alice", scope "read"
/// ok      iss        expected "https://id.example", found "https://id.example"
/// FAILED  aud        expected one of ["api"], found ["other-api"]
/// -       exp        exp 1800000600 (...), now 1800000000, leeway 60 s
/// refused: invalid_token (wrong_audience)
/// ```
#[derive(Debug)]
#[must_use]
pub struct Explanation {
    checks: Vec<ExplainedCheck>,
    result: Result<Claims, Error>,
}

impl Explanation {
    /// The checks, in the order they were made.
    pub fn checks(&self) -> &[ExplainedCheck] {
        &self.checks
    }

    /// The check that failed, if one did.
    pub fn failed(&self) -> Option<&ExplainedCheck> {
        self.checks
            .iter()
            .find(|check| check.status == CheckStatus::Failed)
    }

    /// The verdict: the claims, or the error [`Validator::validate`] gives.
    pub fn result(&self) -> Result<&Claims, &Error> {
        self.result.as_ref()
    }

    /// Whether the token is valid (and grants every scope required).
    pub fn is_valid(&self) -> bool {
        self.result.is_ok()
    }

    /// Adds a scope requirement, checked as the gates' scope requirements check it
    /// ([`Claims::require_scope`], RFC 6750 section 3.1 `insufficient_scope`). Not made
    /// when the token already failed.
    pub fn require_scope(mut self, scope: &str) -> Self {
        let Ok(claims) = &self.result else {
            self.push(
                "scope",
                CheckStatus::NotChecked,
                format!("{scope:?} required"),
            );
            return self;
        };
        let granted: Vec<&str> = claims.scopes().iter().collect();
        let detail = format!("{scope:?} required, granted {granted:?}");
        match claims.require_scope(scope) {
            Ok(()) => self.push("scope", CheckStatus::Passed, detail),
            Err(error) => {
                self.push("scope", CheckStatus::Failed, detail);
                self.result = Err(error);
            }
        }
        self
    }

    fn new() -> Self {
        Explanation {
            checks: Vec::new(),
            result: Err(InvalidToken::Malformed.into()),
        }
    }

    fn push(&mut self, name: &'static str, status: CheckStatus, detail: impl Into<String>) {
        self.checks.push(ExplainedCheck {
            name,
            status,
            detail: detail.into(),
        });
    }

    fn pass(&mut self, name: &'static str, detail: impl Into<String>) {
        self.push(name, CheckStatus::Passed, detail);
    }

    /// Records the failed check and the verdict; returns the explanation to hand back.
    fn fail(mut self, name: &'static str, detail: impl Into<String>, error: Error) -> Self {
        self.push(name, CheckStatus::Failed, detail);
        self.result = Err(error);
        self
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for check in &self.checks {
            writeln!(
                f,
                "{:<7} {:<10} {}",
                check.status.as_str(),
                check.name,
                check.detail
            )?;
        }
        match &self.result {
            Ok(claims) => write!(f, "valid: sub {}", quoted(claims.subject())),
            Err(error) => write!(f, "refused: {}", verdict(error)),
        }
    }
}

/// The verdict line of a refusal: the RFC 6750 code, the precise reason, the status.
fn verdict(error: &Error) -> String {
    let code = error.error_code().unwrap_or(crate::metrics::reason(error));
    match error {
        Error::InvalidToken(reason) => {
            format!("{code} ({}), HTTP {}", reason.as_str(), error.status())
        }
        _ => format!("{code}, HTTP {}", error.status()),
    }
}

impl Validator {
    /// Explains what [`validate`](Self::validate) decides of `token`: every check in
    /// order (size, header, key, signature, claims, `iss`, `aud`, `exp`, `nbf`,
    /// binding), with the values it compared, and the verdict. For people and tools
    /// (the `tokengate` command line), not for requests: it always verifies afresh,
    /// remembers nothing, and may fetch the issuer's keys.
    ///
    /// The checks are the validator's own, made by the same code; an opaque token that
    /// this validator introspects is one `introspection` check, asked as `validate`
    /// would.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use tokengate::testing::MockIssuer;
    /// use tokengate::{CheckStatus, Validator};
    ///
    /// let issuer = MockIssuer::start().await;
    /// let validator = Validator::builder()
    ///     .issuer(issuer.issuer())
    ///     .audience("another-api")
    ///     .build()
    ///     .unwrap();
    /// let explanation = validator.explain(&issuer.token().sign()).await;
    /// let failed = explanation.failed().unwrap();
    /// assert_eq!((failed.name(), failed.status()), ("aud", CheckStatus::Failed));
    /// assert!(failed.detail().contains("another-api"));
    /// println!("{explanation}");
    /// # }
    /// ```
    pub async fn explain(&self, token: &str) -> Explanation {
        let mut explanation = Explanation::new();
        let issuer = match &*self.inner {
            Kind::One(issuer) => issuer,
            Kind::Many(set) => {
                let expected: Vec<&str> = set.members.iter().map(Validator::issuer).collect();
                let found = match peek_issuer(token) {
                    Ok(found) => found,
                    Err(error) => {
                        // No `iss` to route by: an opaque token goes to the member that
                        // introspects, if any.
                        match set
                            .members
                            .iter()
                            .find(|member| member.single().introspects_opaque_tokens())
                        {
                            Some(member) if !is_jws_shaped(token) => {
                                return Box::pin(member.explain(token)).await;
                            }
                            _ => {
                                let detail =
                                    format!("no readable iss to route by ({})", error.as_str());
                                return explanation.fail("issuer", detail, error.into());
                            }
                        }
                    }
                };
                let detail = format!("one of {expected:?}, found {:?}", cut(&found));
                match set.members.iter().find(|member| member.issuer() == found) {
                    Some(member) => {
                        explanation.pass("issuer", detail);
                        let mut rest = Box::pin(member.explain(token)).await;
                        explanation.checks.append(&mut rest.checks);
                        explanation.result = rest.result;
                        return explanation;
                    }
                    None => {
                        return explanation.fail(
                            "issuer",
                            detail,
                            InvalidToken::WrongIssuer.into(),
                        );
                    }
                }
            }
        };
        let size = format!("{} bytes (at most {})", token.len(), issuer.max_token_bytes);
        if token.len() > issuer.max_token_bytes {
            return explanation.fail("size", size, InvalidToken::TooLarge.into());
        }
        explanation.pass("size", size);
        if issuer.introspection.is_some()
            && issuer.token_format.introspects(|| is_jws_shaped(token))
        {
            return match self.validate(token).await {
                Ok(claims) => {
                    explanation.pass("introspection", format!("active: {}", describe(&claims)));
                    explanation.result = Ok(claims);
                    explanation
                }
                Err(error) => {
                    let detail = format!("refused: {}", verdict(&error));
                    explanation.fail("introspection", detail, error)
                }
            };
        }
        explain_jws(issuer, token, explanation).await
    }
}

/// The JWS pipeline of `issuer`, check by check.
async fn explain_jws(issuer: &Issuer, token: &str, mut explanation: Explanation) -> Explanation {
    let policy = &issuer.policy;
    let jws = match policy.parse(token) {
        Ok(jws) => jws,
        Err(error) => {
            let detail = format!(
                "{} ({}; allowed algorithms {:?})",
                header_shown(token),
                error.as_str(),
                policy
                    .algorithms
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
            );
            return explanation.fail("header", detail, error.into());
        }
    };
    explanation.pass("header", header_of(&jws));
    let key = match issuer.keys.key_for(jws.kid.as_deref(), jws.alg).await {
        Ok(key) => key,
        Err(error) => {
            let kid = jws.kid.as_deref();
            let detail = match &error {
                Error::IssuerUnavailable { .. } => match issuer.keys.ready().await {
                    Err(cause) => format!("the issuer's keys are unavailable: {cause}"),
                    Ok(()) => "the issuer's keys are unavailable".to_owned(),
                },
                Error::InvalidToken(reason) => {
                    let stats = issuer.keys.stats();
                    format!(
                        "kid {} for {}: {} (the issuer's set holds {} usable keys)",
                        quoted(kid),
                        jws.alg.as_str(),
                        reason.as_str(),
                        stats.keys
                    )
                }
                other => other.to_string(),
            };
            return explanation.fail("key", detail, error);
        }
    };
    explanation.pass("key", key_found(&jws));
    if let Err(error) = jws.verify_signature(token, &key) {
        let detail = format!(
            "{} (with the key of kid {})",
            error.as_str(),
            quoted(jws.kid.as_deref())
        );
        return explanation.fail("signature", detail, error.into());
    }
    explanation.pass("signature", "verified");
    let claims = match jws.claims(token) {
        Ok(claims) => claims,
        Err(error) => {
            return explanation.fail("claims", error.as_str(), error.into());
        }
    };
    explanation.pass("claims", format!("decoded: {}", describe(&claims)));
    // The claim checks, made by the policy as `validate` makes them (RFC 7519 section
    // 4.1: iss, aud, exp, nbf, in that order): the first failure is the verdict.
    let failed = policy.check(&claims, unix_now()).err();
    let mut reached = true;
    for (name, reason) in [
        ("iss", InvalidToken::WrongIssuer),
        ("aud", InvalidToken::WrongAudience),
        ("exp", InvalidToken::Expired),
        ("nbf", InvalidToken::NotYetValid),
    ] {
        let (expected, found) = expected_and_found(policy, &claims, reason);
        let detail = match (expected, found) {
            (Some(expected), Some(found)) => format!("expected {expected}, found {found}"),
            (Some(expected), None) => format!("expected {expected}, none in the token"),
            _ => String::new(),
        };
        let detail = times(name, &claims, detail);
        let status = match (reached, failed) {
            (false, _) => CheckStatus::NotChecked,
            (true, Some(failure)) if failure == reason => {
                reached = false;
                CheckStatus::Failed
            }
            (true, _) => CheckStatus::Passed,
        };
        explanation.push(name, status, detail);
    }
    if let Some(failure) = failed {
        if reached {
            // A claim check we do not list (a missing claim, say): named as it is.
            explanation.push("claims", CheckStatus::Failed, failure.as_str());
        }
        explanation.result = Err(failure.into());
        return explanation;
    }
    let bound = claims.is_sender_constrained();
    match policy.check_binding(claims.clone(), Presented::Bearer) {
        Ok(claims) => {
            let detail = if bound {
                "sender-constrained (cnf), accepted as configured"
            } else {
                "not sender-constrained (no cnf)"
            };
            explanation.pass("binding", detail);
            explanation.result = Ok(claims);
            explanation
        }
        Err(error) => explanation.fail(
            "binding",
            "sender-constrained (cnf): refused as a bearer token (RFC 9449 section 7.2, RFC 8705 section 3)",
            error,
        ),
    }
}

/// `exp`/`nbf` details with the times readable, after the policy's values.
fn times(name: &str, claims: &Claims, detail: String) -> String {
    let at = |secs: i64| {
        u64::try_from(secs)
            .ok()
            .and_then(|secs| {
                std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(secs))
            })
            .map(httpdate::fmt_http_date)
            .unwrap_or_else(|| "out of range".to_owned())
    };
    match name {
        "exp" => format!("{detail} ({})", at(claims.expires_at())),
        "nbf" => match claims.not_before() {
            Some(nbf) => format!("{detail} ({})", at(nbf)),
            None => "no nbf in the token".to_owned(),
        },
        _ => detail,
    }
}

/// A verified header's values.
fn header_of(jws: &Jws) -> String {
    format!(
        "alg {:?}, kid {}, typ {}",
        jws.alg.as_str(),
        quoted(jws.kid.as_deref()),
        quoted(jws.typ.as_deref())
    )
}

/// The key that was found for a header.
fn key_found(jws: &Jws) -> String {
    format!(
        "kid {} found ({})",
        quoted(jws.kid.as_deref()),
        jws.alg.as_str()
    )
}

/// A refused header's `alg`, `kid` and `typ`, read for display only (no rule is applied
/// here: the policy's parse refused it).
fn header_shown(token: &str) -> String {
    use base64::Engine;
    let header = token
        .split('.')
        .next()
        .and_then(|segment| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(segment)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok());
    let Some(header) = header else {
        return format!(
            "no readable JOSE header ({} segments)",
            token.split('.').count()
        );
    };
    let field = |name: &str| match header.get(name) {
        Some(serde_json::Value::String(value)) => format!("{:?}", cut(value)),
        Some(other) => cut(&other.to_string()).to_owned(),
        None => "none".to_owned(),
    };
    format!(
        "alg {}, kid {}, typ {}",
        field("alg"),
        field("kid"),
        field("typ")
    )
}

/// The claims a person looks for first: `sub`, `client_id`, `scope`.
fn describe(claims: &Claims) -> String {
    let scopes: Vec<&str> = claims.scopes().iter().collect();
    format!(
        "sub {}, client_id {}, scope {:?}",
        quoted(claims.subject()),
        quoted(claims.client_id()),
        scopes.join(" ")
    )
}

/// A value from the token, quoted and cut, or `none`.
fn quoted(value: Option<&str>) -> String {
    match value {
        Some(value) => format!("{:?}", cut(value)),
        None => "none".to_owned(),
    }
}
