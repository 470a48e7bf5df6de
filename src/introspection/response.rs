//! The endpoint's response (RFC 7662 section 2.3) sorted by whose fault it is, and an
//! answer (section 2.2) mapped to [`Claims`].

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::claims::Claims;
use crate::error::{Error, InvalidToken};
use crate::http::{FetchError, FetchLimits};

/// What an introspection decided, cached.
pub(super) type Outcome = Result<Claims, InvalidToken>;

/// What the endpoint said about a token.
#[derive(Debug)]
pub(super) enum Reply {
    /// An RFC 7662 section 2.2 answer.
    Answer(Map<String, Value>),
    /// A 4xx about this token (a firewall in front of the server refusing what it looks
    /// like, a token the server cannot parse): no verdict on the endpoint.
    Refused(u16),
}

/// Why the endpoint gave no answer: counted against it in the failure budget.
#[derive(Debug)]
pub(super) enum Failure {
    /// No usable endpoint (discovery failed, or named none).
    Unavailable(Error),
    /// Unreachable, timed out, 5xx, 408, 429, or a success that is not a JSON object.
    Endpoint(FetchError),
    /// Our client credentials were refused: 401 (RFC 7662 section 2.3), or any 4xx whose
    /// body is an RFC 6749 section 5.2 `invalid_client` or `unauthorized_client` error.
    Credentials(u16),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Unavailable(error)
    }
}

impl From<FetchError> for Failure {
    fn from(error: FetchError) -> Self {
        Failure::Endpoint(error)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Unavailable(error) => write!(f, "no usable endpoint: {error}"),
            Failure::Endpoint(error) => error.fmt(f),
            Failure::Credentials(status) => {
                write!(f, "client credentials refused (HTTP status {status})")
            }
        }
    }
}

/// How much of a refusal's body is read: enough for an RFC 6749 error object, no more.
const REFUSAL_BODY_BYTES: usize = 4 * 1024;

/// The status and body of a response: an answer is read up to the body cap; a refusal
/// only as far as it takes to see whose fault it is (a firewall's page may be of any
/// size).
pub(super) async fn read(
    mut response: reqwest::Response,
    limits: &FetchLimits,
) -> Result<(u16, Vec<u8>), FetchError> {
    let status = response.status();
    let success = status.is_success();
    let cap = if success {
        limits.max_body
    } else {
        REFUSAL_BODY_BYTES
    };
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(FetchError::Transport)? {
        if body.len() + chunk.len() > cap {
            if success {
                return Err(FetchError::TooLarge(limits.max_body));
            }
            body.extend_from_slice(&chunk[..cap - body.len()]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status.as_u16(), body))
}

/// Sorts the endpoint's response (RFC 7662 section 2.3). Only what says the endpoint or
/// our client is at fault is a [`Failure`]; a 4xx about one token is that token's refusal,
/// or anyone able to make a firewall in front of the server refuse one chosen token
/// (`Bearer ../../../../etc/passwd` is a valid bearer token) would close introspection
/// for every other token.
///
/// - 2xx: the answer, which must be a JSON object;
/// - 401: the server refused our client credentials, as RFC 7662 section 2.3 says it
///   does; so does any 4xx carrying an RFC 6749 section 5.2 `invalid_client` (or
///   `unauthorized_client`) error, which a firewall does not answer;
/// - 408, 429: about our requests (too slow, too many), not about a token;
/// - any other 4xx (400, 403, 404, 413, ...): about this token;
/// - anything else (5xx, an unfollowed 3xx): the endpoint failed.
pub(super) fn classify(status: u16, body: &[u8]) -> Result<Reply, Failure> {
    let names_our_client = || {
        serde_json::from_slice::<Map<String, Value>>(body)
            .ok()
            .and_then(|error| {
                let code = error.get("error")?.as_str()?;
                Some(code == "invalid_client" || code == "unauthorized_client")
            })
            .unwrap_or(false)
    };
    match status {
        200..=299 => serde_json::from_slice(body)
            .map(Reply::Answer)
            .map_err(|error| Failure::Endpoint(FetchError::NotJson(error))),
        401 => Err(Failure::Credentials(status)),
        408 | 429 => Err(Failure::Endpoint(FetchError::Status(status))),
        400..=499 if names_our_client() => Err(Failure::Credentials(status)),
        400..=499 => Ok(Reply::Refused(status)),
        _ => Err(Failure::Endpoint(FetchError::Status(status))),
    }
}

/// How an answer is read: what the introspector vouches for in members the answer
/// leaves out.
pub(super) struct AnswerPolicy<'a> {
    /// Our issuer: an answer naming another is refused; one naming none gets ours.
    pub(super) issuer: &'a str,
    /// Accept answers that name no audience
    /// ([`allow_introspection_without_audience`](crate::ValidatorBuilder::allow_introspection_without_audience)).
    pub(super) allow_without_audience: bool,
    /// Without `exp`, the answer is trusted this long from `now` (the cache bound).
    pub(super) cache_ttl: Duration,
}

impl AnswerPolicy<'_> {
    /// Maps an introspection answer to claims (RFC 7662 section 2.2), at time `now`.
    pub(super) fn outcome(&self, mut answer: Map<String, Value>, now: i64) -> Outcome {
        if answer.remove("active") != Some(Value::Bool(true)) {
            return Err(InvalidToken::Inactive);
        }
        // A refresh token (or any other kind the server can introspect) is not an access
        // token, whatever else its answer says.
        if answer
            .get("token_type")
            .is_some_and(|t| !is_access_token_type(t))
        {
            return Err(InvalidToken::WrongType);
        }
        // Members the answer leaves out are vouched for by the endpoint we asked: our
        // issuer, our audience; without `exp`, the cache bound limits the trust.
        match answer.get("iss") {
            None => {
                answer.insert("iss".into(), json!(self.issuer));
            }
            Some(Value::String(iss)) if *iss == self.issuer => {}
            Some(_) => return Err(InvalidToken::WrongIssuer),
        }
        // No `aud` (or an empty one): the server bound the token to no resource, so it
        // would pass at every API that introspects here. Refused, unless configured;
        // then recorded as no audience rather than inventing ours, which the validator's
        // policy lets through (RFC 7662 section 2.2 makes `aud` optional) and handlers
        // see exactly what the server said.
        let unrestricted = match answer.get("aud") {
            None | Some(Value::Null) => true,
            Some(Value::Array(audiences)) => audiences.is_empty(),
            Some(_) => false,
        };
        if unrestricted {
            if !self.allow_without_audience {
                return Err(InvalidToken::WrongAudience);
            }
            answer.insert("aud".into(), json!([]));
        }
        answer
            .entry("exp")
            .or_insert_with(|| json!(now + self.cache_ttl.as_secs() as i64));
        let bytes = serde_json::to_vec(&answer).map_err(|_| InvalidToken::Malformed)?;
        Claims::from_payload(bytes)
    }
}

/// The `token_type` values of an access token (RFC 7662 section 2.2 uses the token types
/// of RFC 6749 section 7.1): `Bearer` (RFC 6750), `DPoP` (RFC 9449), compared
/// case-insensitively as RFC 6749 section 5.1 says, and the names servers use for the
/// kind of token, `access_token` (RFC 7009 section 2.1 token type hints) and its RFC 8693
/// section 3 URI. Anything else present (`refresh_token`, a number, ...) is refused; an
/// answer without `token_type` is not refused for it.
fn is_access_token_type(token_type: &Value) -> bool {
    const ACCESS_TOKEN_TYPES: [&str; 4] = [
        "Bearer",
        "DPoP",
        "access_token",
        "urn:ietf:params:oauth:token-type:access_token",
    ];
    token_type.as_str().is_some_and(|t| {
        ACCESS_TOKEN_TYPES
            .iter()
            .any(|access| t.eq_ignore_ascii_case(access))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_access_token_types_pass() {
        for t in [
            "Bearer",
            "bearer",
            "DPoP",
            "dpop",
            "access_token",
            "ACCESS_TOKEN",
        ] {
            assert!(is_access_token_type(&json!(t)), "{t}");
        }
        assert!(is_access_token_type(&json!(
            "urn:ietf:params:oauth:token-type:access_token"
        )));
        for t in [
            json!("refresh_token"),
            json!("urn:ietf:params:oauth:token-type:refresh_token"),
            json!("id_token"),
            json!("Bearer "),
            json!(""),
            json!(null),
            json!(true),
            json!(["Bearer"]),
        ] {
            assert!(!is_access_token_type(&t), "{t}");
        }
    }

    fn answer(value: Value) -> Map<String, Value> {
        let Value::Object(map) = value else {
            panic!("not an object")
        };
        map
    }

    const POLICY: AnswerPolicy<'static> = AnswerPolicy {
        issuer: "https://issuer.example",
        allow_without_audience: false,
        cache_ttl: Duration::from_secs(60),
    };

    #[test]
    fn an_answer_fills_in_what_the_endpoint_vouches_for_and_nothing_else() {
        let claims = POLICY
            .outcome(
                answer(json!({"active": true, "aud": "api", "sub": "a"})),
                1000,
            )
            .unwrap();
        assert_eq!(claims.issuer(), "https://issuer.example");
        assert_eq!(claims.expires_at(), 1060, "now plus the cache bound");
        assert_eq!(claims.subject(), Some("a"));
        let claims = POLICY
            .outcome(
                answer(json!({"active": true, "aud": "api", "exp": 5})),
                1000,
            )
            .unwrap();
        assert_eq!(claims.expires_at(), 5, "the answer's own exp is kept");
    }

    #[test]
    fn inactive_foreign_unbound_or_non_access_answers_are_refused() {
        for (value, expected) in [
            (
                json!({"active": false, "aud": "api"}),
                InvalidToken::Inactive,
            ),
            (
                json!({"active": "true", "aud": "api"}),
                InvalidToken::Inactive,
            ),
            (json!({"aud": "api"}), InvalidToken::Inactive),
            (
                json!({"active": true, "aud": "api", "iss": "https://other.example"}),
                InvalidToken::WrongIssuer,
            ),
            (
                json!({"active": true, "aud": "api", "token_type": "refresh_token"}),
                InvalidToken::WrongType,
            ),
            (json!({"active": true}), InvalidToken::WrongAudience),
            (
                json!({"active": true, "aud": []}),
                InvalidToken::WrongAudience,
            ),
        ] {
            assert_eq!(
                POLICY.outcome(answer(value.clone()), 1000).unwrap_err(),
                expected,
                "{value}"
            );
        }
        // Allowed without audience: then recorded as none, not as ours.
        let lenient = AnswerPolicy {
            allow_without_audience: true,
            ..POLICY
        };
        let claims = lenient
            .outcome(answer(json!({"active": true})), 1000)
            .unwrap();
        assert!(claims.audience().is_empty());
    }

    #[test]
    fn only_endpoint_and_credential_failures_count_against_the_endpoint() {
        let answer = classify(200, br#"{"active":false}"#).unwrap();
        assert!(matches!(answer, Reply::Answer(map) if map["active"] == false));
        // Our credentials: 401 whatever its body (RFC 7662 section 2.3), and any 4xx
        // that names our client (RFC 6749 section 5.2).
        for (status, body) in [
            (401, &b""[..]),
            (401, b"<html>no</html>"),
            (400, br#"{"error":"invalid_client"}"#),
            (
                403,
                br#"{"error":"unauthorized_client","error_description":"x"}"#,
            ),
        ] {
            assert!(
                matches!(classify(status, body), Err(Failure::Credentials(s)) if s == status),
                "{status}"
            );
        }
        // One token's refusal: a firewall's page, an RFC 6749 error about the request.
        for (status, body) in [
            (400, &b""[..]),
            (403, b"<html>Request blocked</html>"),
            (400, br#"{"error":"invalid_request"}"#),
            (404, b""),
            (413, b""),
        ] {
            assert!(
                matches!(classify(status, body), Ok(Reply::Refused(s)) if s == status),
                "{status}"
            );
        }
        // The endpoint: 5xx, timeouts and rate limits, an unfollowed redirect, non-JSON.
        for (status, body) in [
            (500, &b""[..]),
            (503, b""),
            (408, b""),
            (429, b""),
            (302, b""),
            (200, b"not json"),
            (200, b"[]"),
        ] {
            assert!(
                matches!(classify(status, body), Err(Failure::Endpoint(_))),
                "{status}"
            );
        }
    }
}
