//! Client authentication (RFC 6749 2.3): `client_secret_basic`, `client_secret_post`,
//! and public clients, which send only their `client_id`.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::ExposeSecret;

use crate::config::{Client, Config};
use crate::errors::OAuthError;
use crate::params::Params;

/// Decodes `application/x-www-form-urlencoded` text: RFC 6749 2.3.1 encodes the client
/// id and secret that way before putting them in the `Basic` credentials. Strict, unlike
/// a form parser: a `%` not followed by two hex digits makes the credentials malformed.
fn form_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// `client_secret_basic` credentials, if the request has an `Authorization` header.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(OAuthError::invalid_request(
            "more than one Authorization header",
        ));
    }
    let malformed = || OAuthError::invalid_client("malformed Basic credentials");
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, encoded) = value.split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "client authentication must use the Basic scheme (client_secret_basic)",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    match (form_decode(id), form_decode(secret)) {
        (Some(id), Some(secret)) => Ok(Some((id, secret))),
        _ => Err(malformed()),
    }
}

/// Compared in constant time: how long a refusal takes says nothing about the secret.
fn secrets_equal(given: &str, expected: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(given.as_bytes(), expected.as_bytes()).is_ok()
}

/// Authenticates the client of a token request: `client_secret_basic`,
/// `client_secret_post`, or, for a public client, its `client_id` alone (RFC 6749 2.3.1,
/// 3.2.1). One method per request (2.3).
pub(crate) fn authenticate<'a>(
    config: &'a Config,
    headers: &HeaderMap,
    params: &Params,
) -> Result<&'a Client, OAuthError> {
    let failed = || OAuthError::invalid_client("client authentication failed");
    let (id, secret) = match basic_credentials(headers)? {
        Some((id, secret)) => {
            if params.get("client_secret").is_some() {
                return Err(OAuthError::invalid_request(
                    "use one client authentication method, not Basic and client_secret",
                ));
            }
            if params.get("client_id").is_some_and(|body_id| body_id != id) {
                return Err(OAuthError::invalid_client(
                    "client_id differs from the authenticated client",
                ));
            }
            (id, Some(secret).filter(|s| !s.is_empty()))
        }
        None => match params.get("client_id") {
            Some(id) => (
                id.to_owned(),
                params.get("client_secret").map(str::to_owned),
            ),
            None => {
                return Err(OAuthError::invalid_client(
                    "client authentication required (client_secret_basic)",
                ));
            }
        },
    };
    let client = config.client(&id).ok_or_else(failed)?;
    match (&client.secret, &secret) {
        (Some(expected), Some(given)) if secrets_equal(given, expected.expose_secret()) => {
            Ok(client)
        }
        (None, None) => Ok(client),
        _ => Err(failed()),
    }
}

/// Introspection callers authenticate with `client_secret_basic` as confidential clients
/// (RFC 7662 2.1).
pub(crate) fn authenticate_basic<'a>(
    config: &'a Config,
    headers: &HeaderMap,
) -> Result<&'a Client, OAuthError> {
    let Some((id, secret)) = basic_credentials(headers)? else {
        return Err(OAuthError::invalid_client(
            "introspection requires client authentication (client_secret_basic)",
        ));
    };
    match config.client(&id) {
        Some(client)
            if client
                .secret
                .as_ref()
                .is_some_and(|expected| secrets_equal(&secret, expected.expose_secret())) =>
        {
            Ok(client)
        }
        _ => Err(OAuthError::invalid_client("client authentication failed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        assert_eq!(form_decode("a+b%2Fc%3a").as_deref(), Some("a b/c:"));
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%+1"), None);
        assert_eq!(form_decode("%4"), None);
        assert_eq!(form_decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(form_decode("%FF"), None);
    }
}
