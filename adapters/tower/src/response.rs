//! Turning a core [`Error`] into an HTTP response: the status, `WWW-Authenticate` and
//! `Retry-After` the core decided; this module only writes them down.

use http::header::{HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use tokengate::Error;
use tokengate::gate::{Gate, Refusal};

/// Put into the extensions of a rejection made inside a [`TokenGate`](crate::TokenGate)
/// (by [`RequireScope`](crate::RequireScope) or an axum `Rejection`), which cannot know
/// the gate's settings: the gate, on the way out, rewrites the challenge with them
/// ([`rechallenge`]).
#[derive(Clone, Debug)]
pub(crate) struct Challenged(Error);

/// The response for `error` made outside the gate's own decision, with an empty body of
/// the service's own body type, marked [`Challenged`] for a gate outside it.
pub(crate) fn rejection<B: Default>(error: &Error) -> Response<B> {
    let mut response = respond(error, error.www_authenticate());
    if response.headers().contains_key(WWW_AUTHENTICATE) {
        response.extensions_mut().insert(Challenged(error.clone()));
    }
    response
}

/// The response for the gate's own refusal, challenged as the gate says.
pub(crate) fn refusal<B: Default>(gate: &Gate, refusal: &Refusal) -> Response<B> {
    respond(refusal.error(), gate.challenge(refusal))
}

fn respond<B: Default>(error: &Error, challenge: Option<String>) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() =
        StatusCode::from_u16(error.status()).unwrap_or(StatusCode::UNAUTHORIZED);
    if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    if let Some(seconds) = error.retry_after() {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// A rejection made inside the gate learns the gate's challenge (its schemes and its
/// resource metadata URL) on the way out.
pub(crate) fn rechallenge<B>(response: &mut Response<B>, gate: &Gate) {
    if let Some(Challenged(error)) = response.extensions_mut().remove::<Challenged>() {
        if let Some(value) = gate
            .challenge_inner(&error)
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
    }
}
