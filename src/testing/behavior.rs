//! How the mock issuer misbehaves on request: fail, hang, answer garbage, be slow.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// How long a [`Behavior::Hang`] holds a request: longer than any fetch timeout, short
/// enough that a forgotten test server ends by itself.
pub const HANG_FOR: Duration = Duration::from_secs(60);

/// How the issuer answers discovery and JWKS requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behavior {
    /// Serve the documents.
    Normal,
    /// Answer every request with this status and an empty body.
    Fail(u16),
    /// Hold every request for [`HANG_FOR`], then answer normally.
    Hang,
    /// Answer 200 with a body that is not JSON.
    Garbage,
    /// Wait this long, then answer normally (a slow issuer).
    Slow(Duration),
    /// Wait this long, then answer with this status and an empty body (a slow, failing
    /// issuer: the caller may give up before the answer).
    SlowFail(Duration, u16),
}

impl Behavior {
    /// Applies the behavior to one request; `None` means "serve normally" (after any
    /// delay it asks for).
    pub(super) async fn apply(self) -> Option<Response> {
        match self {
            Behavior::Normal => None,
            Behavior::Fail(status) => Some(status_only(status)),
            Behavior::Hang => {
                tokio::time::sleep(HANG_FOR).await;
                None
            }
            Behavior::Garbage => Some((StatusCode::OK, "{\"keys\": [ not json").into_response()),
            Behavior::Slow(delay) => {
                tokio::time::sleep(delay).await;
                None
            }
            Behavior::SlowFail(delay, status) => {
                tokio::time::sleep(delay).await;
                Some(status_only(status))
            }
        }
    }
}

/// An empty answer with this status (500 if it is not one).
fn status_only(status: u16) -> Response {
    StatusCode::from_u16(status)
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        .into_response()
}
