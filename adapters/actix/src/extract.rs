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
use serde::de::DeserializeOwned;
use tokengate::Error;

use crate::error::Rejection;

/// The verified claims of the request's token, deserialized into `T` (by default the
/// core [`tokengate::Claims`], with scopes and registered claims).
///
/// Needs a [`TokenGate`](crate::TokenGate) around the route; without verified claims it
/// answers 401. If the claims do not fit `T`, 401 `invalid_token`.
///
/// `Option<Claims<T>>` is `None` when the request carried no verified claims (with
/// [`TokenGate::optional`](crate::TokenGate::optional)).
#[derive(Debug, Clone)]
pub struct Claims<T = tokengate::Claims>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Claims<T> {
    type Error = Rejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let extensions = request.extensions();
        let result = match extensions.get::<tokengate::Claims>() {
            Some(claims) => tokengate::claims::typed(claims)
                .map(Claims)
                .map_err(Rejection),
            None => Err(Rejection(Error::MissingCredentials)),
        };
        ready(result)
    }
}
