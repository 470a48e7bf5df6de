//! # tokengate-actix
//!
//! Bearer-token authentication for actix-web. A thin adapter: every decision is made by
//! [`tokengate::Validator`]; this crate moves headers in and responses out, so a fix in
//! the core fixes axum and actix alike.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use tokengate_actix::{Claims, RequireScope, TokenGate};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let validator = tokengate::Validator::builder()
//!     .issuer("https://login.example.com")
//!     .audience("https://api.example.com")
//!     .build()?;
//! HttpServer::new(move || {
//!     App::new().service(
//!         web::scope("")
//!             .wrap(TokenGate::new(validator.clone()))
//!             .route("/me", web::get().to(|Claims(c): Claims| async move { web::Json(c) }))
//!             .service(web::resource("/admin").wrap(RequireScope::new("admin")).to(|| async { "ok" })),
//!     )
//! })
//! .bind("127.0.0.1:3000")?
//! .run()
//! .await?;
//! # Ok(()) }
//! ```
//!
//! - [`TokenGate`]: middleware validating the token, verified [`tokengate::Claims`] into
//!   the request extensions; `TokenGate::new(Gate::new(v).optional())` for optional authentication.
//! - [`RequireScope`]: middleware requiring a scope (403 `insufficient_scope`);
//!   [`Require`]: any [`tokengate::Requirement`] (scopes, claim values, roles, a check of
//!   your own).
//! - [`Claims<T>`] and [`OptionalClaims<T>`] (for optional authentication): extractors.
//! - [`Rejection`]: the core error as an actix `ResponseError`, with the RFC 6750 challenge.
//! - Rejection bodies: empty by default; RFC 9457 problem details or your own with
//!   [`Gate::rejection_body`](tokengate::Gate::rejection_body). Every rejection carries
//!   the [`tokengate::Error`] in its response extensions: a middleware outside the gate
//!   (`wrap_fn`, `ErrorHandlers`) can log it or render its own response.
//! - RFC 9728 protected resource metadata: [`resource_metadata_service`] serves the
//!   document, and [`Gate::resource_metadata`](tokengate::Gate::resource_metadata) puts its URL into every challenge made
//!   by or inside the gate, so clients can discover the authorization server.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod extract;
mod metadata;
mod middleware;
mod require;

pub use error::Rejection;
pub use extract::{Claims, OptionalClaims};
pub use metadata::resource_metadata_service;
pub use middleware::{GateFuture, TokenGate, TokenGateMiddleware};
pub use require::{Require, RequireMiddleware, RequireScope, RequireScopeMiddleware};
