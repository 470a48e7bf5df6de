//! [`Rejection`]: a core [`Error`] rendered through actix-web's `ResponseError`.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError};
use tokengate::Error;

/// A refusal: the status and RFC 6750 challenge the core decided, with an empty body.
///
/// To replace the body (JSON problem details, say), wrap the app in actix-web's
/// `ErrorHandlers` and rewrite the body of 400/401/403/503 responses: the
/// `WWW-Authenticate` header stays. The handler can read the core error back with
/// `res.response().error().and_then(|e| e.as_error::<Rejection>())`.
///
/// `?` converts a [`tokengate::Error`] into it, so a handler returning
/// `Result<_, Rejection>` can write `claims.require_scope("admin")?`.
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
