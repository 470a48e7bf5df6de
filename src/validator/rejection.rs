//! The `debug` line logged for each refused token: the issuer, the token's `kid` and `alg`
//! when its header was read, the failing check, and the expected and found values where
//! they are not secret (`iss`, `aud`, `exp`/`nbf` against now). Never the token, its
//! signature or a key.
//!
//! `debug`, not `info`: under attack this fires on every request. Values taken from a
//! token are the sender's: shown with `Debug` (quoted, control characters escaped) and
//! cut to [`MAX_SHOWN_CHARS`].

use crate::claims::Claims;
use crate::clock::unix_now;
use crate::error::{Error, InvalidToken};
use crate::verify::Jws;

use super::policy::Policy;

/// The most of one value from a token that a log line repeats.
const MAX_SHOWN_CHARS: usize = 128;

/// What is known of a refused token where it was refused.
#[derive(Clone, Copy, Default)]
pub(super) struct Seen<'a> {
    /// Its header, once parsed: `kid` and `alg`.
    pub(super) jws: Option<&'a Jws>,
    /// Its claims, once decoded: the values the claim checks compare.
    pub(super) claims: Option<&'a Claims>,
}

impl<'a> Seen<'a> {
    /// Only the header.
    pub(super) fn header(jws: &'a Jws) -> Self {
        Seen {
            jws: Some(jws),
            claims: None,
        }
    }
}

/// Logs the refusal of a token by the issuer of `policy` (`None`: before any issuer was
/// chosen) and returns the error, for `map_err`.
pub(super) fn refused(policy: Option<&Policy>, seen: Seen<'_>, error: Error) -> Error {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return error;
    }
    let issuer = policy.map(|p| p.issuer.as_str());
    let kid = seen.jws.and_then(|jws| jws.kid.as_deref()).map(cut);
    let alg = seen.jws.map(|jws| jws.alg.as_str());
    let (expected, found) = match (policy, seen.claims, &error) {
        (Some(policy), Some(claims), Error::InvalidToken(reason)) => {
            expected_and_found(policy, claims, *reason)
        }
        _ => (None, None),
    };
    tracing::debug!(
        issuer,
        kid,
        alg,
        check = check_of(&error),
        expected,
        found,
        %error,
        "token rejected"
    );
    error
}

/// The label of the failing check: the reason's for `invalid_token`.
fn check_of(error: &Error) -> &'static str {
    match error {
        Error::InvalidToken(reason) => reason.as_str(),
        Error::MissingCredentials => "missing_credentials",
        Error::InvalidRequest(_) => "invalid_request",
        Error::InsufficientScope { .. } => "insufficient_scope",
        Error::RequirementNotMet { .. } => "requirement_not_met",
        Error::InvalidDpopProof(proof) | Error::UseDpopNonce(proof) => proof.as_str(),
        Error::IssuerUnavailable { .. } => "issuer_unavailable",
        Error::ReplayStoreUnavailable { .. } => "replay_store_unavailable",
    }
}

/// The values a failed claim check compared, as (expected, found).
pub(super) fn expected_and_found(
    policy: &Policy,
    claims: &Claims,
    reason: InvalidToken,
) -> (Option<String>, Option<String>) {
    let now = unix_now();
    match reason {
        InvalidToken::WrongIssuer if policy.issuer_template.is_some() => (
            Some(format!("{:?} filled with a trusted tid", policy.issuer)),
            Some(format!(
                "{:?}, tid {:?}",
                cut(claims.issuer()),
                claims
                    .get("tid")
                    .and_then(serde_json::Value::as_str)
                    .map(cut)
            )),
        ),
        InvalidToken::WrongIssuer => (
            Some(format!("{:?}", policy.issuer)),
            Some(format!("{:?}", cut(claims.issuer()))),
        ),
        InvalidToken::WrongAudience => (
            Some(policy.audience.expected()),
            Some(policy.audience.found(claims, cut)),
        ),
        InvalidToken::Expired => (
            Some(format!(
                "exp >= {} (now {now}, leeway {} s)",
                now.saturating_sub(policy.leeway),
                policy.leeway
            )),
            Some(format!("exp {}", claims.expires_at())),
        ),
        InvalidToken::NotYetValid => (
            Some(format!(
                "nbf <= {} (now {now}, leeway {} s)",
                now.saturating_add(policy.leeway),
                policy.leeway
            )),
            claims.not_before().map(|nbf| format!("nbf {nbf}")),
        ),
        _ => (None, None),
    }
}

/// At most [`MAX_SHOWN_CHARS`] of a value from a token.
pub(super) fn cut(value: &str) -> &str {
    match value.char_indices().nth(MAX_SHOWN_CHARS) {
        Some((end, _)) => &value[..end],
        None => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_from_tokens_are_cut() {
        assert_eq!(cut("short"), "short");
        let long = "é".repeat(300);
        assert_eq!(cut(&long).chars().count(), MAX_SHOWN_CHARS);
    }
}
