//! [`RequireScopeLayer`]: a per-route scope requirement (RFC 6750 section 3.1
//! `insufficient_scope`), placed inside a [`TokenGateLayer`](crate::TokenGateLayer).
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
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::Either;
use http::{Request, Response};
use tokengate::Claims;
use tokengate::gate::require_scope;
use tower_layer::Layer;
use tower_service::Service;

use crate::response::rejection;

/// Requires the verified token to grant `scope`; else 403 `insufficient_scope`.
///
/// Requests that reached it without verified claims (no [`TokenGateLayer`](crate::TokenGateLayer)
/// outside it, or an optional one and no token) get 401.
///
/// Its challenges carry RFC 9728 `resource_metadata` when the gate outside it was given
/// [`resource_metadata`](tokengate::Gate::resource_metadata): nothing to configure here.
#[derive(Clone, Debug)]
pub struct RequireScopeLayer {
    scope: Arc<str>,
}

impl RequireScopeLayer {
    /// Requires `scope`, compared exactly (RFC 6749 section 3.3).
    pub fn new(scope: impl AsRef<str>) -> Self {
        RequireScopeLayer {
            scope: scope.as_ref().into(),
        }
    }
}

impl<S> Layer<S> for RequireScopeLayer {
    type Service = RequireScope<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScope {
            inner,
            scope: self.scope.clone(),
        }
    }
}

/// The service made by [`RequireScopeLayer`].
#[derive(Clone, Debug)]
pub struct RequireScope<S> {
    inner: S,
    scope: Arc<str>,
}

impl<S> RequireScope<S> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireScope<S>
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
        match require_scope(request.extensions().get::<Claims>(), &self.scope) {
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
