//! [`RequireLayer`]: a per-route [`Requirement`] (scopes, claim values, roles, a check of
//! your own), placed inside a [`TokenGateLayer`](crate::TokenGateLayer), and
//! [`RequireScopeLayer`], its one-scope shortcut. The core decides
//! ([`tokengate::gate::require`]); this layer only carries the refusal out (as gRPC's
//! `grpc-status` 7 / 16 for a gRPC request, see [`crate`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use axum::{Router, routing::post};
//! use http::{Request, StatusCode, header::AUTHORIZATION};
//! use tokengate::Requirement;
//! use tokengate::testing::MockIssuer;
//! use tokengate_tower::{RequireLayer, TokenGateLayer};
//! use tower::ServiceExt;
//!
//! let issuer = MockIssuer::start().await;
//! let validator = tokengate::Validator::builder()
//!     .issuer(issuer.issuer())
//!     .audience(issuer.audience())
//!     .build()
//!     .unwrap();
//! let writers = Requirement::any_scope(["admin", "orders:write"]);
//! let app = Router::new()
//!     .route("/orders", post(|| async { "created" }))
//!     .layer(RequireLayer::new(writers))
//!     .layer(TokenGateLayer::new(validator));
//!
//! let token = issuer.token().scope("orders:read").sign();
//! let request = Request::post("/orders")
//!     .header(AUTHORIZATION, format!("Bearer {token}"))
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! let response = app.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//! let challenge = response.headers()["www-authenticate"].to_str().unwrap();
//! assert!(challenge.ends_with(r#"scope="admin orders:write""#));
//! # }
//! ```
//!
//! One scope, RFC 6750 section 3.1 `insufficient_scope` naming it:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use axum::{Router, routing::get};
//! use http::{Request, StatusCode, header::AUTHORIZATION};
//! use tokengate::testing::MockIssuer;
//! use tokengate_tower::{RequireScopeLayer, TokenGateLayer};
//! use tower::ServiceExt;
//!
//! let issuer = MockIssuer::start().await;
//! let validator = tokengate::Validator::builder()
//!     .issuer(issuer.issuer())
//!     .audience(issuer.audience())
//!     .build()
//!     .unwrap();
//! let app = Router::new()
//!     .route("/admin", get(|| async { "hello, admin" }))
//!     .layer(RequireScopeLayer::new("admin"))
//!     .layer(TokenGateLayer::new(validator));
//!
//! let token = issuer.token().scope("read").sign();
//! let request = Request::get("/admin")
//!     .header(AUTHORIZATION, format!("Bearer {token}"))
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! let response = app.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//! assert!(response.headers()["www-authenticate"].to_str().unwrap().contains(r#"scope="admin""#));
//! # }
//! ```

use std::future::{Ready, ready};
use std::task::{Context, Poll};

use futures_util::future::Either;
use http::{Request, Response};
use tokengate::Claims;
use tokengate::gate::require;
use tokengate::require::Requirement;
use tower_layer::Layer;
use tower_service::Service;

use crate::response::rejection;

/// Requires the verified token to meet a [`Requirement`]; else 403 (RFC 6750 section
/// 3.1). [`RequireScopeLayer`](crate::RequireScopeLayer) is the one-scope shortcut.
///
/// Requests that reached it without verified claims (no [`TokenGateLayer`](crate::TokenGateLayer)
/// outside it, or an optional one and no token) get 401. The gate outside it words the
/// challenge (its schemes, RFC 9728 `resource_metadata`) and the body.
#[derive(Clone, Debug)]
pub struct RequireLayer {
    requirement: Requirement,
}

impl RequireLayer {
    /// Requires `requirement` of every request.
    pub fn new(requirement: Requirement) -> Self {
        RequireLayer { requirement }
    }
}

impl<S> Layer<S> for RequireLayer {
    type Service = Require<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Require {
            inner,
            requirement: self.requirement.clone(),
        }
    }
}

/// Requires the verified token to grant `scope`; else 403 `insufficient_scope` naming
/// it: a [`RequireLayer`] of [`Requirement::scope`].
///
/// Requests that reached it without verified claims (no [`TokenGateLayer`](crate::TokenGateLayer)
/// outside it, or an optional one and no token) get 401. Its challenges carry RFC 9728
/// `resource_metadata` when the gate outside it was given
/// [`resource_metadata`](tokengate::Gate::resource_metadata): nothing to configure here.
#[derive(Clone, Debug)]
pub struct RequireScopeLayer(RequireLayer);

impl RequireScopeLayer {
    /// Requires `scope`, compared exactly (RFC 6749 section 3.3).
    pub fn new(scope: impl AsRef<str>) -> Self {
        RequireScopeLayer(RequireLayer::new(Requirement::scope(scope)))
    }
}

impl<S> Layer<S> for RequireScopeLayer {
    type Service = Require<S>;

    fn layer(&self, inner: S) -> Self::Service {
        self.0.layer(inner)
    }
}

/// The service made by [`RequireScopeLayer`]: a [`Require`] of one scope.
pub type RequireScope<S> = Require<S>;

/// The service made by [`RequireLayer`] (and [`RequireScopeLayer`]).
#[derive(Clone, Debug)]
pub struct Require<S> {
    inner: S,
    requirement: Requirement,
}

impl<S> Require<S> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Require<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    /// The inner service's future, or the ready 403/401: nothing allocated either way.
    type Future = Either<S::Future, Ready<Result<Response<ResBody>, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        match require(request.extensions().get::<Claims>(), &self.requirement) {
            Ok(()) => Either::Left(self.inner.call(request)),
            Err(error) => {
                let mut response = rejection(&error);
                if crate::grpc::is_grpc(request.headers()) {
                    crate::grpc::into_grpc(&mut response, &error);
                }
                Either::Right(ready(Ok(response)))
            }
        }
    }
}
