//! [`resource_metadata_service`]: serves an RFC 9728 protected resource metadata
//! document, from which clients learn which authorization server issues tokens for this
//! API.
//!
//! ```
//! use actix_web::{App, body::to_bytes, test};
//! use tokengate::ResourceMetadata;
//! use tokengate_actix::resource_metadata_service;
//!
//! # #[actix_web::main]
//! # async fn main() {
//! let metadata = ResourceMetadata::builder("https://api.example.com/v1")
//!     .authorization_server("https://login.example.com")
//!     .scopes_supported(["read", "admin"])
//!     .build()
//!     .unwrap();
//! let app = test::init_service(App::new().service(resource_metadata_service(&metadata))).await;
//!
//! // RFC 9728 section 3.1: at the root of the host, followed by the resource's path.
//! let uri = "/.well-known/oauth-protected-resource/v1";
//! let response = test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.headers().get("content-type").unwrap(), "application/json");
//! let body = to_bytes(response.into_body()).await.unwrap();
//! let document: serde_json::Value = serde_json::from_slice(&body).unwrap();
//! assert_eq!(document, metadata.to_json());
//!
//! let response = test::call_service(&app, test::TestRequest::post().uri(uri).to_request()).await;
//! assert_eq!(response.status(), 405);
//! # }
//! ```

use actix_web::http::header::{ALLOW, ContentType};
use actix_web::web::{self, Bytes};
use actix_web::{HttpResponse, Resource};
use tokengate::ResourceMetadata;

/// A resource at [`ResourceMetadata::well_known_path`] answering `GET` (and `HEAD`) with the
/// RFC 9728 section 3.2 response: `200`, `Content-Type: application/json`, the document
/// of [`ResourceMetadata::to_json`]. Other methods get `405` with `Allow: GET, HEAD`.
///
/// Register it with `App::service` outside any [`TokenGate`](crate::TokenGate) (the
/// document is public) and before a `web::scope("")`, which would match the path first.
/// The well-known path is at the root of the host, whatever prefix the API lives under.
pub fn resource_metadata_service(metadata: &ResourceMetadata) -> Resource {
    let document = Bytes::from(metadata.to_json().to_string());
    let serve = move || {
        let document = document.clone();
        async move {
            HttpResponse::Ok()
                .insert_header(ContentType::json())
                .body(document)
        }
    };
    web::resource(metadata.well_known_path())
        .route(web::get().to(serve.clone()))
        .route(web::head().to(serve))
        .default_service(web::to(|| async {
            HttpResponse::MethodNotAllowed()
                .insert_header((ALLOW, "GET, HEAD"))
                .finish()
        }))
}
