//! The authorization endpoint (RFC 6749 4.1.1, 4.1.2; RFC 7636 4.3, 4.4): the
//! development user is signed in and consents at once; the answer is a redirect to the
//! client with a code, or with an error once the client and its redirect URI are known
//! good.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use url::Url;

use crate::errors::description_chars;
use crate::params::Params;
use crate::random::random_string;
use crate::scope::grant_scope;
use crate::server::Shared;
use crate::store::CodeGrant;

/// A 400 page for the user: with no trustworthy redirect URI, the authorization server
/// "MUST NOT automatically redirect the user-agent" (RFC 6749 4.1.2.1).
fn error_page(message: &str) -> Response {
    let text = format!(
        "tokengate development authorization server\n\n\
         The authorization request was refused: {message}.\n\n\
         The client or its redirect URI is not valid, so this error is shown here instead of\n\
         being sent back to the client (RFC 6749 section 4.1.2.1).\n"
    );
    (
        StatusCode::BAD_REQUEST,
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

/// A `302 Found` to `redirect_uri` with these query parameters added (RFC 6749 4.1.2:
/// the redirect URI's own query is kept).
fn redirect(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return error_page("the redirect URI is not a valid URI");
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
    }
    match HeaderValue::from_str(url.as_str()) {
        Ok(location) => (
            StatusCode::FOUND,
            [
                (LOCATION, location),
                (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        Err(_) => error_page("the redirect URI cannot be sent in a Location header"),
    }
}

/// S256 challenges are BASE64URL(SHA-256(verifier)): exactly 43 base64url characters.
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub(crate) async fn authorize(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let Ok(Query(pairs)) = query else {
        return error_page("the query string is not valid application/x-www-form-urlencoded");
    };
    let params = Params(pairs);
    let config = &shared.config;

    // First the client and its redirect URI: until both are known good, errors go to the
    // user, never to a URI an attacker may have chosen (RFC 6749 4.1.2.1, 10.15).
    if params.count("client_id") > 1 || params.count("redirect_uri") > 1 {
        return error_page("client_id or redirect_uri is given more than once");
    }
    let Some(client_id) = params.get("client_id") else {
        return error_page("client_id is missing");
    };
    let Some(client) = config.client(client_id) else {
        return error_page("the client_id is not registered");
    };
    let given_redirect = params.get("redirect_uri");
    let redirect_uri = match given_redirect {
        // RFC 6749 3.1.2.3: compared as strings, exactly (no prefix, no normalisation).
        Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => uri,
        Some(_) => {
            return error_page(
                "the redirect_uri is not registered for this client (exact match required)",
            );
        }
        None => match client.redirect_uris.as_slice() {
            [only] => only.as_str(),
            [] => return error_page("the client has no registered redirect URI"),
            _ => {
                return error_page(
                    "redirect_uri is required: the client has several registered redirect URIs",
                );
            }
        },
    };

    // From here on, errors go back to the client, with its state (RFC 6749 4.1.2.1) and
    // our issuer identifier (RFC 9207).
    let state = if params.count("state") == 1 {
        params.get("state")
    } else {
        None
    };
    let issuer = config.issuer.as_str();
    let fail = |error: &str, description: &str| {
        let description = description_chars(description);
        let mut response = vec![
            ("error", error),
            ("error_description", description.as_str()),
        ];
        if let Some(state) = state {
            response.push(("state", state));
        }
        response.push(("iss", issuer));
        redirect(redirect_uri, &response)
    };

    if let Some(name) = params.duplicated() {
        return fail(
            "invalid_request",
            &format!("{name} is given more than once"),
        );
    }
    match params.get("response_type") {
        Some("code") => {}
        None => return fail("invalid_request", "response_type is missing"),
        Some(_) => {
            return fail(
                "unsupported_response_type",
                "only response_type=code is supported",
            );
        }
    }
    // PKCE (RFC 7636) is required of every client, confidential or public.
    let Some(challenge) = params.get("code_challenge") else {
        return fail(
            "invalid_request",
            "code_challenge is required (PKCE, RFC 7636, method S256)",
        );
    };
    match params.get("code_challenge_method") {
        Some("S256") => {}
        // RFC 7636 4.3: a missing method means plain, which this server does not support.
        None | Some("plain") => {
            return fail(
                "invalid_request",
                "code_challenge_method must be S256; plain is not supported",
            );
        }
        Some(_) => {
            return fail(
                "invalid_request",
                "unsupported code_challenge_method; only S256 is supported",
            );
        }
    }
    if !is_s256_challenge(challenge) {
        return fail(
            "invalid_request",
            "code_challenge must be BASE64URL(SHA-256(code_verifier)), 43 characters",
        );
    }
    let scope = match grant_scope(&client.scopes, params.get("scope")) {
        Ok(scope) => scope,
        Err(err) => return fail(err.error, &err.description),
    };

    // The development user is signed in and consents at once.
    let code = random_string(32);
    let mut store = shared.store.lock().unwrap();
    let grant = store.new_grant();
    let stored = store.insert_code(
        code.clone(),
        CodeGrant {
            client_id: client.id.clone(),
            redirect_uri: given_redirect.map(str::to_owned),
            challenge: challenge.to_owned(),
            sub: config.user.clone(),
            scope,
            expires: Instant::now() + config.code_lifetime,
            used: false,
            grant,
        },
    );
    drop(store);
    if stored.is_err() {
        return fail(
            "temporarily_unavailable",
            "the development server holds too many codes; try again later",
        );
    }
    let mut response = vec![("code", code.as_str())];
    if let Some(state) = state {
        response.push(("state", state));
    }
    response.push(("iss", issuer));
    redirect(redirect_uri, &response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::s256_challenge;

    #[test]
    fn challenges_have_their_rfc_7636_syntax() {
        assert!(is_s256_challenge(&s256_challenge(&"a".repeat(43))));
        assert!(!is_s256_challenge(&"a".repeat(44)));
    }
}
