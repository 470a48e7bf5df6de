//! [`Rejection`]: a core [`Error`] rendered through actix-web's `ResponseError`.

use std::fmt;

use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError};
use tokengate::Error;
use tokengate::gate::Gate;

/// A refusal: the status and RFC 6750 challenge the core decided, with an empty body.
///
/// To replace the body (JSON problem details, say), wrap the app in actix-web's
/// `ErrorHandlers` and rewrite the body of 400/401/403/503 responses: the
/// `WWW-Authenticate` header stays. The handler can read the core error back with
/// `res.response().error().and_then(|e| e.as_error::<Rejection>())`.
///
/// `?` converts a [`tokengate::Error`] into it, so a handler returning
/// `Result<_, Rejection>` can write `claims.require_scope("admin")?`.
///
/// RFC 9728 `resource_metadata`: `ResponseError` renders without the request, so a
/// `Rejection` alone cannot know the metadata URL. A [`TokenGate`](crate::TokenGate)
/// given [`resource_metadata`](tokengate::Gate::resource_metadata) adds it to every
/// `Rejection` response that passes through it: its own, [`RequireScope`](crate::RequireScope)'s,
/// and those of extractors and handlers inside it. A `Rejection` rendered anywhere else
/// (a route no gate wraps, or a gate without metadata) has the plain RFC 6750 challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection(pub Error);

impl From<Error> for Rejection {
    fn from(error: Error) -> Self {
        Rejection(error)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for Rejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::UNAUTHORIZED)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let Some(challenge) = self.0.www_authenticate() {
            response.insert_header((WWW_AUTHENTICATE, challenge));
        }
        if let Some(seconds) = self.0.retry_after() {
            response.insert_header((RETRY_AFTER, seconds));
        }
        response.finish()
    }
}

/// Marks a response whose challenge a gate already wrote (the innermost gate's wins).
struct Rechallenged;

/// If `response` renders a [`Rejection`] made inside `gate`, writes its challenge again
/// as the gate words it (its schemes, its RFC 9728 `resource_metadata`).
pub(crate) fn rechallenge<B>(response: &mut ServiceResponse<B>, gate: &Gate) {
    let response = response.response_mut();
    if response.extensions().contains::<Rechallenged>() {
        return;
    }
    let challenge = response
        .error()
        .and_then(|e| e.as_error::<Rejection>())
        .and_then(|rejection| gate.challenge_inner(&rejection.0));
    set_challenge(response, challenge);
}

/// Writes `challenge` as the response's `WWW-Authenticate`, marked as written.
pub(crate) fn set_challenge<B>(response: &mut HttpResponse<B>, challenge: Option<String>) {
    // The core only emits visible ASCII, so the header value is always valid.
    if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
        response.extensions_mut().insert(Rechallenged);
    }
}
