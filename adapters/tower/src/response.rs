//! Turning a core [`Error`] into an HTTP response: the status, `WWW-Authenticate`,
//! `Retry-After` and body the core decided; this module only writes them down. Every
//! rejection carries the [`Error`] in its extensions, for an outer layer to log or
//! rewrite.

use std::any::Any;

use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderName, Response, StatusCode};
use tokengate::Error;
use tokengate::gate::{Gate, Refusal};

/// The `DPoP-Nonce` response header (RFC 9449 section 8.1).
static DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

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
    response.extensions_mut().insert(Challenged(error.clone()));
    response
}

/// The response for the gate's own refusal, challenged as the gate says, with the
/// `DPoP-Nonce` the core gave it.
pub(crate) fn refusal<B: Default + 'static>(gate: &Gate, refusal: &Refusal) -> Response<B> {
    let mut response = respond(refusal.error(), gate.challenge(refusal));
    set_dpop_nonce(&mut response, refusal.dpop_nonce());
    set_body(&mut response, gate, refusal.error());
    response
}

/// Writes the body the gate renders for `error` (RFC 9457 problem details, or the
/// user's), when the response's body type is one we can fill: axum's `Body`, `String`,
/// `Vec<u8>`. Another body type keeps its empty default (and no `Content-Type`); the
/// challenge and the [`Error`] in the extensions are there either way.
fn set_body<B: Default + 'static>(response: &mut Response<B>, gate: &Gate, error: &Error) {
    let Some(body) = gate.body(error) else {
        return;
    };
    let Ok(content_type) = HeaderValue::from_str(&body.content_type) else {
        return;
    };
    if let Some(filled) = fill::<B>(body.bytes) {
        *response.body_mut() = filled;
        response.headers_mut().insert(CONTENT_TYPE, content_type);
    }
}

/// `bytes` as a `B`, for the body types that can hold them.
fn fill<B: 'static>(bytes: Vec<u8>) -> Option<B> {
    let mut slot: Option<B> = None;
    let any: &mut dyn Any = &mut slot;
    #[cfg(feature = "axum")]
    let bytes = match any.downcast_mut::<Option<axum_core::body::Body>>() {
        Some(body) => {
            *body = Some(axum_core::body::Body::from(bytes));
            return slot;
        }
        None => bytes,
    };
    if let Some(text) = any.downcast_mut::<Option<String>>() {
        *text = String::from_utf8(bytes).ok();
    } else if let Some(raw) = any.downcast_mut::<Option<Vec<u8>>>() {
        *raw = Some(bytes);
    }
    slot
}

/// Writes the core's `DPoP-Nonce` (RFC 9449 sections 8.1 and 9), if it gave one: exactly
/// one header, replacing any the inner service set.
pub(crate) fn set_dpop_nonce<B>(response: &mut Response<B>, nonce: Option<&str>) {
    if let Some(value) = nonce.and_then(|n| HeaderValue::from_str(n).ok()) {
        response.headers_mut().insert(&DPOP_NONCE, value);
    }
}

fn respond<B: Default>(error: &Error, challenge: Option<String>) -> Response<B> {
    let mut response = Response::new(B::default());
    response.extensions_mut().insert(error.clone());
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
pub(crate) fn rechallenge<B: Default + 'static>(response: &mut Response<B>, gate: &Gate) {
    if let Some(Challenged(error)) = response.extensions_mut().remove::<Challenged>() {
        if let Some(value) = gate
            .challenge_inner(&error)
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        set_body(response, gate, &error);
    }
}
