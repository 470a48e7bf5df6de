//! [`Claims<T>`]: the verified claims as an actix-web extractor.
//!
//! ```
//! use actix_web::{HttpResponse, web};
//! use serde::Deserialize;
//! use tokengate_actix::{Claims, Rejection};
//!
//! #[derive(Deserialize)]
//! struct MyClaims { sub: String }
//!
//! async fn me(Claims(c): Claims<MyClaims>) -> String {
//!     format!("hello, {}", c.sub)
//! }
//!
//! async fn admin(Claims(c): Claims) -> Result<HttpResponse, Rejection> {
//!     c.require_scope("admin")?;
//!     Ok(HttpResponse::Ok().body("welcome"))
//! }
//!
//! async fn greet(claims: Option<Claims>) -> String {
//!     match claims {
//!         Some(Claims(c)) => format!("hello, {}", c.subject().unwrap_or("client")),
//!         None => "hello, stranger".to_owned(),
//!     }
//! }
//! # let _ = web::get().to(me);
//! # let _ = web::get().to(admin);
//! # let _ = web::get().to(greet);
//! ```

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use tokengate::Error;
use tokengate::claims::FromClaims;

use crate::error::Rejection;

/// The verified claims of the request's token, deserialized into `T` (by default the
/// core [`tokengate::Claims`], with scopes and registered claims).
///
/// Needs a [`TokenGate`](crate::TokenGate) around the route; without verified claims it
/// answers 401. If the claims do not fit `T`, 401 `invalid_token`.
///
/// `Option<Claims<T>>` is `None` when the request carried no verified claims (with
/// [`Gate::optional`](tokengate::Gate::optional)) and, as actix-web makes every
/// `Option<E>` extractor, also when the claims do not fit `T`. To refuse those instead
/// (401, as axum's `Option<Claims<T>>` does), use [`OptionalClaims<T>`].
#[derive(Debug, Clone)]
pub struct Claims<T = tokengate::Claims>(pub T);

/// The verified claims of the request's token if it carried one: for routes behind
/// [`Gate::optional`](tokengate::Gate::optional).
///
/// `None` only when the request came without credentials; claims that do not fit `T`
/// are refused (401 `invalid_token`) rather than passed off as an anonymous request,
/// which is what actix-web's `Option<Claims<T>>` does with any extraction error.
///
/// ```
/// use actix_web::web;
/// use serde::Deserialize;
/// use tokengate_actix::OptionalClaims;
///
/// #[derive(Deserialize)]
/// struct Member { sub: String, tenant: String }
///
/// async fn greet(OptionalClaims(member): OptionalClaims<Member>) -> String {
///     match member {
///         Some(m) => format!("hello, {} of {}", m.sub, m.tenant),
///         None => "hello, stranger".to_owned(),
///     }
/// }
/// # let _ = web::get().to(greet);
/// ```
#[derive(Debug, Clone)]
pub struct OptionalClaims<T = tokengate::Claims>(pub Option<T>);

/// `None` without verified claims; the typed claims, or the refusal, otherwise.
fn typed_claims<T: FromClaims>(request: &HttpRequest) -> Option<Result<T, Rejection>> {
    let extensions = request.extensions();
    let claims = extensions.get::<tokengate::Claims>()?;
    Some(tokengate::claims::typed(claims).map_err(Rejection))
}

impl<T: FromClaims> FromRequest for Claims<T> {
    type Error = Rejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let claims = typed_claims(request).unwrap_or(Err(Rejection(Error::MissingCredentials)));
        ready(claims.map(Claims))
    }
}

impl<T: FromClaims> FromRequest for OptionalClaims<T> {
    type Error = Rejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(typed_claims(request).transpose().map(OptionalClaims))
    }
}
