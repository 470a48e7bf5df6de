//! axum extractors: [`Claims<T>`] for the verified claims, `Option<Claims<T>>` for
//! optional authentication, and [`Rejection`] for refusals made inside a handler.
//!
//! ```
//! use axum::{Json, Router, routing::get};
//! use serde::Deserialize;
//! use tokengate_tower::{Claims, Rejection};
//!
//! #[derive(Deserialize)]
//! struct MyClaims { sub: String, tenant: Option<String> }
//!
//! // The verified claims, deserialized into your own type.
//! async fn me(Claims(c): Claims<MyClaims>) -> String {
//!     format!("{} of {:?}", c.sub, c.tenant)
//! }
//!
//! // The core claims, with a scope check inside the handler.
//! async fn admin(Claims(c): Claims) -> Result<&'static str, Rejection> {
//!     c.require_scope("admin")?;
//!     Ok("welcome")
//! }
//!
//! // Optional authentication (with `TokenGateLayer::new(Gate::new(v).optional())`).
//! async fn greet(claims: Option<Claims>) -> String {
//!     match claims {
//!         Some(Claims(c)) => format!("hello, {}", c.subject().unwrap_or("client")),
//!         None => "hello, stranger".to_owned(),
//!     }
//! }
//!
//! let app: Router = Router::new()
//!     .route("/me", get(me))
//!     .route("/admin", get(admin))
//!     .route("/greet", get(greet));
//! ```

use std::fmt;

use axum_core::body::Body;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use tokengate::Error;
use tokengate::claims::FromClaims;

use crate::response::rejection;

/// The verified claims of the request's token, deserialized into `T` (by default the
/// core [`tokengate::Claims`], with scopes and registered claims).
///
/// Needs a [`TokenGateLayer`](crate::TokenGateLayer) on the route; without verified
/// claims it answers 401. If the claims do not fit `T`, 401 `invalid_token`.
#[derive(Debug, Clone)]
pub struct Claims<T = tokengate::Claims>(pub T);

fn claims_from<T: FromClaims>(parts: &Parts) -> Option<Result<Claims<T>, Rejection>> {
    let claims = parts.extensions.get::<tokengate::Claims>()?;
    Some(
        tokengate::claims::typed(claims)
            .map(Claims)
            .map_err(Rejection),
    )
}

impl<S, T> FromRequestParts<S> for Claims<T>
where
    S: Send + Sync,
    T: FromClaims,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        claims_from(parts).unwrap_or(Err(Rejection(Error::MissingCredentials)))
    }
}

impl<S, T> OptionalFromRequestParts<S> for Claims<T>
where
    S: Send + Sync,
    T: FromClaims,
{
    type Rejection = Rejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        claims_from(parts).transpose()
    }
}

/// A refusal as an axum response: the core's status and RFC 6750 challenge.
///
/// `?` converts a [`tokengate::Error`] into it, so handlers can write
/// `claims.require_scope("admin")?`.
///
/// Behind a [`TokenGateLayer`](crate::TokenGateLayer) configured with
/// [`resource_metadata`](tokengate::Gate::resource_metadata), its challenge carries
/// the RFC 9728 `resource_metadata` URL too: the gate adds it as the response passes.
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

impl std::error::Error for Rejection {}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        rejection::<Body>(&self.0)
    }
}
