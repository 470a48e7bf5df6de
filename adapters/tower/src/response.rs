//! Turning a core [`Error`] into an HTTP response: the status, `WWW-Authenticate` and
//! `Retry-After` the core decided; this module only writes them down.

use http::header::{HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use tokengate::Error;

/// The response for `error`, with an empty body of the service's own body type.
pub(crate) fn rejection<B: Default>(error: &Error) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() =
        StatusCode::from_u16(error.status()).unwrap_or(StatusCode::UNAUTHORIZED);
    let headers = response.headers_mut();
    if let Some(challenge) = error.www_authenticate() {
        // The core only emits visible ASCII, so this always succeeds.
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            headers.insert(WWW_AUTHENTICATE, value);
        }
    }
    if let Some(seconds) = error.retry_after() {
        headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
