//! An axum API protected by tokengate.
//!
//! ```sh
//! cargo run --example axum_api        # embedded development issuer, prints tokens
//! TOKENGATE_ISSUER=https://login.example.com TOKENGATE_AUDIENCE=https://api.example.com \
//!     cargo run --example axum_api
//! ```
//!
//! Routes: `GET /health` (no auth), `GET /me` (the verified claims as JSON),
//! `GET /admin` (needs scope `admin`). The environment contract is in `common/mod.rs`.

mod common;

use axum::{Json, Router, routing::get};
use serde_json::{Value, json};
use tokengate_tower::{Claims, RequireScopeLayer, TokenGateLayer};

async fn me(Claims(claims): Claims) -> Json<tokengate::Claims> {
    Json(claims)
}

async fn admin(Claims(claims): Claims) -> Json<Value> {
    Json(json!({ "admin": true, "sub": claims.subject() }))
}

#[tokio::main]
async fn main() {
    let setup = common::setup().await;

    let protected = Router::new()
        .route("/me", get(me))
        .route("/admin", get(admin).layer(RequireScopeLayer::new("admin")))
        .layer(TokenGateLayer::new(setup.validator.clone()));
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(protected);

    let listener = tokio::net::TcpListener::bind(&setup.bind_addr)
        .await
        .unwrap_or_else(|e| {
            eprintln!("cannot listen on {}: {e}", setup.bind_addr);
            std::process::exit(1);
        });
    common::announce(&setup, listener.local_addr().expect("bound address"));
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .expect("server error");
}
