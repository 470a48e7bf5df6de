//! [`ResourceMetadataService`]: serves an RFC 9728 protected resource metadata document,
//! from which clients learn which authorization server issues tokens for this API.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use axum::Router;
//! use http::{Request, StatusCode, header::CONTENT_TYPE};
//! use tokengate::ResourceMetadata;
//! use tokengate_tower::ResourceMetadataService;
//! use tower::ServiceExt;
//!
//! let metadata = ResourceMetadata::builder("https://api.example.com/v1")
//!     .authorization_server("https://login.example.com")
//!     .scopes_supported(["read", "admin"])
//!     .build()
//!     .unwrap();
//! // RFC 9728 section 3.1: at the root of the host, followed by the resource's path.
//! let path = metadata.well_known_path();
//! assert_eq!(path, "/.well-known/oauth-protected-resource/v1");
//! let app: Router = Router::new().route_service(&path, ResourceMetadataService::new(&metadata));
//!
//! let request = Request::get(&path).body(axum::body::Body::empty()).unwrap();
//! let response = app.clone().oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
//! let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
//! let document: serde_json::Value = serde_json::from_slice(&body).unwrap();
//! assert_eq!(document, metadata.to_json());
//!
//! let request = Request::post(&path).body(axum::body::Body::empty()).unwrap();
//! let response = app.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
//! # }
//! ```
//!
//! Mount it where no [`TokenGateLayer`](crate::TokenGateLayer) applies (in axum, add the
//! route after `.layer(...)`, or merge a router holding it): the document is public.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use tokengate::ResourceMetadata;
use tower_service::Service;

/// A tower service answering `GET` (and `HEAD`) with the RFC 9728 section 3.2 response:
/// `200`, `Content-Type: application/json`, the document of
/// [`ResourceMetadata::to_json`]. Other methods get `405` with `Allow: GET, HEAD`.
///
/// It answers every request it is given, whatever the path: route
/// [`ResourceMetadata::well_known_path`] to it. The document is serialized once, here.
#[derive(Clone, Debug)]
pub struct ResourceMetadataService {
    document: Arc<str>,
}

impl ResourceMetadataService {
    /// Serves `metadata`'s document.
    pub fn new(metadata: &ResourceMetadata) -> Self {
        ResourceMetadataService {
            document: metadata.to_json().to_string().into(),
        }
    }
}

impl<B> Service<Request<B>> for ResourceMetadataService {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let mut response;
        if matches!(*request.method(), Method::GET | Method::HEAD) {
            // The server leaves a HEAD response's body out and keeps its headers.
            response = Response::new(self.document.as_ref().to_owned());
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        } else {
            response = Response::new(String::new());
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        }
        ready(Ok(response))
    }
}
