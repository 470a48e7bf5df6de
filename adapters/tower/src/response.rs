//! Turning a core [`Error`] into an HTTP response: the status, `WWW-Authenticate` and
//! `Retry-After` the core decided; this module only writes them down.

use http::header::{HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use tokengate::Error;

/// Put into the extensions of a rejection made inside a [`TokenGate`](crate::TokenGate)
/// (by [`RequireScope`](crate::RequireScope) or an axum `Rejection`), which cannot know
/// the gate's resource metadata URL: the gate, on the way out, rewrites the challenge
/// with it ([`add_resource_metadata`]).
#[derive(Clone, Debug)]
pub(crate) struct Challenged(Error);

/// The response for `error`, with an empty body of the service's own body type, marked
/// [`Challenged`] for a gate outside it.
pub(crate) fn rejection<B: Default>(error: &Error) -> Response<B> {
    let mut response = rejection_with(error, None);
    if response.headers().contains_key(WWW_AUTHENTICATE) {
        response.extensions_mut().insert(Challenged(error.clone()));
    }
    response
}

/// The response for `error`, its challenge carrying RFC 9728 `resource_metadata` when a
/// URL is given.
pub(crate) fn rejection_with<B: Default>(
    error: &Error,
    resource_metadata: Option<&str>,
) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() =
        StatusCode::from_u16(error.status()).unwrap_or(StatusCode::UNAUTHORIZED);
    set_challenge(&mut response, error, resource_metadata);
    if let Some(seconds) = error.retry_after() {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// If `response` is a [`Challenged`] rejection, writes its challenge again with
/// `resource_metadata`. The mark is taken off, so the innermost gate's URL is the one
/// that stays when gates are nested.
pub(crate) fn add_resource_metadata<B>(response: &mut Response<B>, resource_metadata: &str) {
    if let Some(Challenged(error)) = response.extensions_mut().remove::<Challenged>() {
        set_challenge(response, &error, Some(resource_metadata));
    }
}

fn set_challenge<B>(response: &mut Response<B>, error: &Error, resource_metadata: Option<&str>) {
    if let Some(challenge) = error.www_authenticate_with(resource_metadata) {
        // The core only emits visible ASCII, so this always succeeds.
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
    }
}
