//! # tokengate-tower
//!
//! Bearer-token authentication for tower services: axum, hyper, tonic. A thin adapter:
//! every decision is made by [`tokengate::Validator`]; this crate moves headers in and
//! responses out.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use tokengate::Validator;
//! use tokengate_tower::{Claims, RequireScopeLayer, TokenGateLayer};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let validator = Validator::builder()
//!     .issuer("https://login.example.com")
//!     .audience("https://api.example.com")
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/me", get(|Claims(c): Claims| async move { axum::Json(c) }))
//!     .route("/admin", get(|| async { "ok" }).layer(RequireScopeLayer::new("admin")))
//!     .layer(TokenGateLayer::new(validator));
//! # Ok(()) }
//! ```
//!
//! - [`TokenGateLayer`] / [`TokenGate`] / [`ResponseFuture`]: validates the token and puts
//!   the verified [`tokengate::Claims`] into the request extensions; rejects with the
//!   RFC 6750 status and `WWW-Authenticate` challenge.
//! - [`RequireScopeLayer`]: a per-route scope requirement (403 `insufficient_scope`);
//!   [`RequireLayer`]: any [`tokengate::Requirement`] (scopes, claim values, roles, a
//!   check of your own).
//! - With the default `axum` feature: the [`Claims<T>`] extractor (and `Option<Claims<T>>`)
//!   and [`Rejection`] for refusals inside handlers.
//! - Rejection bodies: empty by default; RFC 9457 problem details or your own with
//!   [`Gate::rejection_body`](tokengate::Gate::rejection_body), written by the layer
//!   into axum's `Body`, `String` or `Vec<u8>` bodies. Every rejection carries the
//!   [`tokengate::Error`] in its response extensions: a layer outside the gate
//!   (`axum::middleware::map_response`, say) can log it or render its own response.
//! - gRPC: behind `tonic::transport::Server::builder().layer(TokenGateLayer::new(..))`,
//!   a request with `content-type: application/grpc` is refused with a trailers-only gRPC
//!   response: `grpc-status` 16 `UNAUTHENTICATED` for a 401, 7 `PERMISSION_DENIED` for a
//!   403 (a [`RequireScopeLayer`] too), 3 `INVALID_ARGUMENT` for a 400, 14 `UNAVAILABLE`
//!   for a 503, the core's fixed description as `grpc-message`, and the `www-authenticate`
//!   challenge (and `retry-after`) in the metadata. The claims are in the request
//!   extensions, as `tonic::Request::extensions()` shows them. See
//!   `examples/tonic_health.rs` and `tests/grpc.rs`.
//! - RFC 9728 protected resource metadata: [`ResourceMetadataService`] serves the document,
//!   and [`Gate::resource_metadata`](tokengate::Gate::resource_metadata) puts its URL into every challenge made by
//!   or inside the gate, so clients can discover the authorization server.

#![forbid(unsafe_code)]
// docs.rs (`--cfg docsrs`, see Cargo.toml) labels each feature-gated item with its feature.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

#[cfg(feature = "axum")]
mod extract;
mod grpc;
mod layer;
mod metadata;
mod require;
mod response;

#[cfg(feature = "axum")]
pub use extract::{Claims, Rejection};
pub use layer::{ResponseFuture, TokenGate, TokenGateLayer};
pub use metadata::ResourceMetadataService;
pub use require::{Require, RequireLayer, RequireScope, RequireScopeLayer};
