//! The token endpoint (RFC 6749 3.2) and its grants: `authorization_code` (4.1.3, with
//! RFC 7636 4.5 and 4.6), `client_credentials` (4.4) and `refresh_token` (6, rotated on
//! use). Access tokens are RFC 9068 JWTs signed by the mock issuer; each is recorded for
//! introspection.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::client::s256_challenge;
use crate::client_auth::authenticate;
use crate::config::Client;
use crate::errors::{OAuthError, no_store};
use crate::params::Params;
use crate::random::random_string;
use crate::scope::grant_scope;
use crate::server::Shared;
use crate::store::{AccessRecord, RefreshGrant, Store, token_digest};

/// The current time as an RFC 7519 NumericDate (whole seconds since the Unix epoch):
/// the clock of `iat` and `exp`, read as tokengate's validator reads it.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    match token_response(&shared, &headers, form) {
        Ok(body) => (StatusCode::OK, no_store(), axum::Json(body)).into_response(),
        Err(err) => err.into_response(),
    }
}

fn token_response(
    shared: &Shared,
    headers: &HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Value, OAuthError> {
    let params = Params::from_form(form)?;
    let client = authenticate(&shared.config, headers, &params)?;
    match params.get("grant_type") {
        Some("authorization_code") => authorization_code(shared, client, &params),
        Some("client_credentials") => client_credentials(shared, client, &params),
        Some("refresh_token") => refresh_token(shared, client, &params),
        None => Err(OAuthError::invalid_request("grant_type is missing")),
        Some(_) => Err(OAuthError::unsupported_grant_type(
            "supported: authorization_code, client_credentials, refresh_token",
        )),
    }
}

/// RFC 6749 4.1.3 and RFC 7636 4.5, 4.6.
fn authorization_code(
    shared: &Shared,
    client: &Client,
    params: &Params,
) -> Result<Value, OAuthError> {
    let code = params
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is missing"))?;
    let mut store = shared.store.lock().unwrap();
    let Some(grant) = store.codes.get_mut(code) else {
        return Err(OAuthError::invalid_grant("unknown authorization code"));
    };
    if grant.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "the code was issued to another client",
        ));
    }
    if grant.used {
        // RFC 6749 4.1.2: deny, and revoke the tokens already issued from this code.
        let id = grant.grant;
        store.revoke_grant(id);
        return Err(OAuthError::invalid_grant(
            "the code was already used; the tokens issued from it are revoked",
        ));
    }
    // One redemption attempt per code, successful or not.
    grant.used = true;
    if grant.expires <= Instant::now() {
        return Err(OAuthError::invalid_grant("the code has expired"));
    }
    let redirect_ok = match (&grant.redirect_uri, params.get("redirect_uri")) {
        // RFC 6749 4.1.3: required and identical if the authorization request had one.
        (Some(expected), Some(given)) => expected == given,
        (Some(_), None) => false,
        // Without one, the only registered URI was used; naming it is allowed.
        (None, given) => given.is_none_or(|g| client.redirect_uris.iter().any(|r| r == g)),
    };
    if !redirect_ok {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    let Some(verifier) = params.get("code_verifier") else {
        return Err(OAuthError::invalid_request(
            "code_verifier is missing (PKCE, RFC 7636 4.5)",
        ));
    };
    let computed = s256_challenge(verifier);
    let verifier_ok = is_verifier(verifier)
        && aws_lc_rs::constant_time::verify_slices_are_equal(
            computed.as_bytes(),
            grant.challenge.as_bytes(),
        )
        .is_ok();
    if !verifier_ok {
        return Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge (RFC 7636 4.6)",
        ));
    }
    let (sub, scope, id) = (grant.sub.clone(), grant.scope.clone(), grant.grant);
    let mut body = issue_access_token(shared, &mut store, client, &sub, &scope, Some(id))?;
    body["refresh_token"] = json!(issue_refresh_token(
        shared, &mut store, client, &sub, &scope, id
    )?);
    Ok(body)
}

/// RFC 7636 4.1: `code-verifier = 43*128unreserved`.
fn is_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// RFC 6749 4.4: for confidential clients only; no refresh token (4.4.3).
fn client_credentials(
    shared: &Shared,
    client: &Client,
    params: &Params,
) -> Result<Value, OAuthError> {
    if client.secret.is_none() {
        return Err(OAuthError::unauthorized_client(
            "a public client cannot use client_credentials (RFC 6749 4.4)",
        ));
    }
    let scope = grant_scope(&client.scopes, params.get("scope"))?;
    let mut store = shared.store.lock().unwrap();
    issue_access_token(shared, &mut store, client, &client.id, &scope, None)
}

/// RFC 6749 6, with rotation: the presented refresh token is spent, a new one is issued;
/// a spent one presented again revokes the whole grant (RFC 9700 4.14.2).
fn refresh_token(shared: &Shared, client: &Client, params: &Params) -> Result<Value, OAuthError> {
    let token = params
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?;
    let mut store = shared.store.lock().unwrap();
    let Some(grant) = store.refresh_tokens.get_mut(token) else {
        return Err(OAuthError::invalid_grant(
            "unknown or revoked refresh token",
        ));
    };
    if grant.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    if grant.used {
        let id = grant.grant;
        store.revoke_grant(id);
        return Err(OAuthError::invalid_grant(
            "the refresh token was already used; every token of this grant is revoked",
        ));
    }
    if grant.expires <= Instant::now() {
        return Err(OAuthError::invalid_grant("the refresh token has expired"));
    }
    // RFC 6749 6: a narrower scope may be asked for, never a wider one.
    let scope = grant_scope(&grant.scope, params.get("scope"))?;
    grant.used = true;
    let (sub, original, id) = (grant.sub.clone(), grant.scope.clone(), grant.grant);
    let mut body = issue_access_token(shared, &mut store, client, &sub, &scope, Some(id))?;
    body["refresh_token"] = json!(issue_refresh_token(
        shared, &mut store, client, &sub, &original, id
    )?);
    Ok(body)
}

/// Mints an RFC 9068 access token and records it for introspection; the token response
/// without a refresh token (RFC 6749 5.1).
fn issue_access_token(
    shared: &Shared,
    store: &mut Store,
    client: &Client,
    sub: &str,
    scope: &[String],
    grant: Option<u64>,
) -> Result<Value, OAuthError> {
    let mock = shared
        .mock
        .upgrade()
        .ok_or_else(|| OAuthError::temporarily_unavailable("the development server is stopping"))?;
    let lifetime = shared.config.access_token_lifetime.as_secs() as i64;
    let (iat, jti) = (unix_now(), random_string(16));
    let exp = iat + lifetime;
    let scope_text = scope.join(" ");
    let mut builder = mock
        .token()
        .subject(sub)
        .claim("client_id", client.id.as_str())
        .claim("iat", iat)
        .claim("exp", exp)
        .claim("jti", jti.as_str());
    builder = if scope.is_empty() {
        builder.without_claim("scope")
    } else {
        builder.scope(&scope_text)
    };
    let token = builder.sign();
    store.insert_access_token(
        token_digest(&token),
        AccessRecord {
            client_id: client.id.clone(),
            sub: sub.to_owned(),
            scope: scope.to_vec(),
            iat,
            exp,
            jti,
            grant,
        },
        iat,
    )?;
    let mut body = json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": lifetime,
    });
    if !scope.is_empty() {
        body["scope"] = json!(scope_text);
    }
    Ok(body)
}

fn issue_refresh_token(
    shared: &Shared,
    store: &mut Store,
    client: &Client,
    sub: &str,
    scope: &[String],
    grant: u64,
) -> Result<String, OAuthError> {
    let token = random_string(32);
    store.insert_refresh_token(
        token.clone(),
        RefreshGrant {
            client_id: client.id.clone(),
            sub: sub.to_owned(),
            scope: scope.to_vec(),
            expires: Instant::now() + shared.config.refresh_token_lifetime,
            used: false,
            grant,
        },
    )?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifiers_have_their_rfc_7636_syntax() {
        assert!(is_verifier(&"a".repeat(43)));
        assert!(!is_verifier(&"a".repeat(42)));
        assert!(!is_verifier(&"a".repeat(129)));
        assert!(!is_verifier(&format!("{}+", "a".repeat(43))));
    }
}
