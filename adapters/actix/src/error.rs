//! [`Rejection`]: a core [`Error`] rendered through actix-web's `ResponseError`.

use std::fmt;

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError};
use tokengate::Error;
use tokengate::gate::Gate;

/// A refusal: the status and RFC 6750 challenge the core decided, with the body the
/// gate's [`RejectionBody`](tokengate::rejection_body::RejectionBody) renders (empty by
/// default) and the [`tokengate::Error`] in the response's extensions.
///
/// Inside a [`TokenGate`](crate::TokenGate), the gate writes the body it was configured
/// with (RFC 9457 problem details, or your own). An outer layer (actix-web's
/// `ErrorHandlers`, say) can read the core error back with
/// `res.response().extensions().get::<tokengate::Error>()` or
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
        let mut response = response.finish();
        response.extensions_mut().insert(self.0.clone());
        response
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

/// The response with the body `gate` renders for the [`Rejection`] it carries, if any:
/// in the right arm; every other response in the left, untouched.
pub(crate) fn with_body<B>(
    mut response: ServiceResponse<B>,
    gate: Option<&Gate>,
) -> ServiceResponse<EitherBody<B>> {
    let Some(gate) = gate else {
        return response.map_into_left_body();
    };
    // The innermost gate writes the body, as it words the challenge.
    if response.response().extensions().contains::<BodyWritten>() {
        return response.map_into_left_body();
    }
    let rendered = match response
        .response()
        .error()
        .and_then(|e| e.as_error::<Rejection>())
    {
        Some(rejection) => gate.body(&rejection.0),
        None => return response.map_into_left_body(),
    };
    response.response_mut().extensions_mut().insert(BodyWritten);
    let Some((content_type, bytes)) =
        rendered.and_then(|body| Some((content_type(&body)?, body.bytes)))
    else {
        return response.map_into_left_body();
    };
    let mut response = response.map_body(|_, _| EitherBody::right(BoxBody::new(bytes)));
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response
}

/// Marks a rejection whose body a gate already wrote (or left empty).
pub(crate) struct BodyWritten;

/// A rendered body's `Content-Type`, if it is a valid header value.
pub(crate) fn content_type(body: &tokengate::rejection_body::Body) -> Option<HeaderValue> {
    HeaderValue::from_str(&body.content_type).ok()
}

/// Writes `challenge` as the response's `WWW-Authenticate`, marked as written.
pub(crate) fn set_challenge<B>(response: &mut HttpResponse<B>, challenge: Option<String>) {
    // The core only emits visible ASCII, so the header value is always valid.
    if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
        response.extensions_mut().insert(Rechallenged);
    }
}
