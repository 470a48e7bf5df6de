//! The server's routes, and its front page.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::server::Shared;
use crate::{authorize, introspect, token};

/// Form bodies are a few hundred bytes; anything much larger is refused (413).
const MAX_BODY: usize = 16 * 1024;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/authorize", get(authorize::authorize))
        .route("/token", post(token::token))
        .route("/introspect", post(introspect::introspect))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

/// `GET /`: what this is and where its endpoints are, for a developer's browser.
async fn index(State(shared): State<Arc<Shared>>) -> Response {
    let c = &shared.config;
    let text = format!(
        "tokengate DEVELOPMENT authorization server: never use in production.\n\
         It signs in the development user {user:?} without asking.\n\n\
         issuer (discovery, JWKS): {issuer}\n\
         authorization endpoint:   {base}/authorize\n\
         token endpoint:           {base}/token\n\
         introspection endpoint:   {base}/introspect\n",
        user = c.user,
        issuer = c.issuer,
        base = c.base_url,
    );
    ([(CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}
