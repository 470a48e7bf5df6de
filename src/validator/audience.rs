//! What makes a token meant for this API: an `aud` of ours (RFC 7519 section 4.1.3), or,
//! for AWS Cognito access tokens, which carry no `aud`, a `client_id` of ours with
//! `token_use: access`. Either way something is checked: there is no "any audience".

use std::fmt;

use serde_json::Value;

use crate::claims::Claims;
use crate::error::InvalidToken;

/// The audience check of one issuer, set by
/// [`audience`](crate::ValidatorBuilder::audience) or
/// [`cognito_client_ids`](crate::ValidatorBuilder::cognito_client_ids).
#[derive(Clone, PartialEq, Eq)]
pub(super) enum Audience {
    /// RFC 7519 section 4.1.3: `aud` (a string or an array) contains one of these.
    Aud(Vec<String>),
    /// AWS Cognito access tokens: `token_use` is `access` and `client_id` is one of these
    /// app client ids. Cognito ID tokens (`token_use: id`, whose `aud` is the client id)
    /// and tokens without `token_use` are refused.
    CognitoClientIds(Vec<String>),
}

/// Cognito's `token_use` of an access token; its ID tokens say `id`.
const COGNITO_ACCESS: &str = "access";

impl Audience {
    /// Whether `claims` are meant for this API.
    pub(super) fn check(&self, claims: &Claims) -> Result<(), InvalidToken> {
        match self {
            Audience::Aud(ours) => {
                if claims.audience().iter().any(|aud| ours.contains(aud)) {
                    Ok(())
                } else {
                    Err(InvalidToken::WrongAudience)
                }
            }
            Audience::CognitoClientIds(ours) => {
                // An ID token is not an access token, whatever else it names (OpenID
                // Connect Core section 2: it is for the client, not for an API).
                match claims.get("token_use") {
                    None => return Err(InvalidToken::MissingClaim("token_use")),
                    Some(Value::String(use_)) if use_ == COGNITO_ACCESS => {}
                    Some(Value::String(_)) => return Err(InvalidToken::WrongType),
                    Some(_) => return Err(InvalidToken::InvalidClaim("token_use")),
                }
                match claims.client_id() {
                    Some(id) if ours.iter().any(|ours| ours == id) => Ok(()),
                    Some(_) => Err(InvalidToken::WrongAudience),
                    None => Err(InvalidToken::MissingClaim("client_id")),
                }
            }
        }
    }

    /// Whether an introspection answer naming no `aud` may skip this check (it reached
    /// the policy only with `allow_introspection_without_audience`): never for Cognito's
    /// mode, which does not read `aud`.
    pub(super) fn skipped_without_aud(&self, claims: &Claims) -> bool {
        matches!(self, Audience::Aud(_)) && claims.audience().is_empty()
    }

    /// What was expected, for the refusal's log line.
    pub(super) fn expected(&self) -> String {
        match self {
            Audience::Aud(ours) => format!("aud one of {ours:?}"),
            Audience::CognitoClientIds(ours) => {
                format!("token_use \"access\" and client_id one of {ours:?}")
            }
        }
    }

    /// What the token had in the place the check reads, for the refusal's log line.
    pub(super) fn found(&self, claims: &Claims, cut: impl Fn(&str) -> &str) -> String {
        match self {
            Audience::Aud(_) => format!(
                "aud {:?}",
                claims
                    .audience()
                    .iter()
                    .take(8)
                    .map(|a| cut(a))
                    .collect::<Vec<_>>()
            ),
            Audience::CognitoClientIds(_) => format!(
                "token_use {:?}, client_id {:?}",
                claims.get("token_use").and_then(Value::as_str).map(&cut),
                claims.client_id().map(&cut),
            ),
        }
    }
}

impl fmt::Debug for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Audience::Aud(ours) => ours.fmt(f),
            Audience::CognitoClientIds(ours) => {
                f.debug_tuple("CognitoClientIds").field(ours).finish()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Claims {
        Claims::from_payload(serde_json::to_vec(&value).unwrap()).unwrap()
    }

    fn cognito() -> Audience {
        Audience::CognitoClientIds(vec!["app-a".into(), "app-b".into()])
    }

    const ISS: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab12";

    #[test]
    fn cognito_access_tokens_pass_by_client_id_without_aud() {
        let access = claims(
            json!({"iss": ISS, "exp": 1, "token_use": "access", "client_id": "app-b", "scope": "read"}),
        );
        assert_eq!(cognito().check(&access), Ok(()));
        // The plain audience check refuses the same token: it names no aud.
        assert_eq!(
            Audience::Aud(vec!["app-b".into()]).check(&access),
            Err(InvalidToken::WrongAudience)
        );
    }

    #[test]
    fn cognito_id_tokens_and_tokens_without_token_use_are_refused() {
        for (value, expected) in [
            // A Cognito ID token: aud is the client id, token_use "id".
            (
                json!({"iss": ISS, "exp": 1, "token_use": "id", "aud": "app-a", "client_id": "app-a"}),
                InvalidToken::WrongType,
            ),
            (
                json!({"iss": ISS, "exp": 1, "client_id": "app-a"}),
                InvalidToken::MissingClaim("token_use"),
            ),
            (
                json!({"iss": ISS, "exp": 1, "token_use": "ACCESS", "client_id": "app-a"}),
                InvalidToken::WrongType,
            ),
            (
                json!({"iss": ISS, "exp": 1, "token_use": ["access"], "client_id": "app-a"}),
                InvalidToken::InvalidClaim("token_use"),
            ),
            (
                json!({"iss": ISS, "exp": 1, "token_use": "access", "client_id": "app-c"}),
                InvalidToken::WrongAudience,
            ),
            (
                json!({"iss": ISS, "exp": 1, "token_use": "access", "aud": "app-a"}),
                InvalidToken::MissingClaim("client_id"),
            ),
        ] {
            assert_eq!(
                cognito().check(&claims(value.clone())),
                Err(expected),
                "{value}"
            );
        }
    }

    #[test]
    fn only_the_aud_check_may_be_skipped_for_an_answer_without_aud() {
        let none = claims(json!({"iss": ISS, "exp": 1}));
        assert!(Audience::Aud(vec!["api".into()]).skipped_without_aud(&none));
        assert!(!cognito().skipped_without_aud(&none));
    }
}
