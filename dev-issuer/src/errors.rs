//! Error responses of the token and introspection endpoints (RFC 6749 5.2).

use axum::http::header::{CACHE_CONTROL, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::Full;

/// The headers of every token and introspection response, errors included (RFC 6749
/// 5.1): they carry credentials, so no cache may keep them.
pub(crate) fn no_store() -> [(HeaderName, HeaderValue); 2] {
    [
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

/// An error response of the token or introspection endpoint (RFC 6749 5.2).
#[derive(Debug)]
pub(crate) struct OAuthError {
    pub(crate) status: StatusCode,
    /// The RFC 6749 5.2 `error` code.
    pub(crate) error: &'static str,
    pub(crate) description: String,
}

impl OAuthError {
    pub(crate) fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<String>,
    ) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
        }
    }

    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// Client authentication failed: 401 with a `Basic` challenge (RFC 6749 5.2).
    pub(crate) fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    pub(crate) fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub(crate) fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    pub(crate) fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", description)
    }

    pub(crate) fn unsupported_grant_type(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            description,
        )
    }

    pub(crate) fn temporarily_unavailable(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            description,
        )
    }
}

impl From<Full> for OAuthError {
    fn from(_: Full) -> Self {
        OAuthError::temporarily_unavailable(
            "the development server holds too many grants; try again later",
        )
    }
}

/// RFC 6749 5.2: `error_description` is limited to `%x20-21 / %x23-5B / %x5D-7E`.
pub(crate) fn description_chars(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '?',
        })
        .collect()
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": self.error,
            "error_description": description_chars(&self.description),
        });
        let mut response = (self.status, no_store(), axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"tokengate-dev-server\""),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_keep_to_the_allowed_characters() {
        assert_eq!(description_chars("a \"b\" \\ é"), "a ?b? ? ?");
    }
}
