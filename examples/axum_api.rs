//! An axum API protected by tokengate.
//!
//! ```sh
//! cargo run --example axum_api        # embedded development issuer, prints tokens
//! TOKENGATE_ISSUER=https://login.example.com TOKENGATE_AUDIENCE=https://api.example.com \
//!     cargo run --example axum_api
//! ```
//!
//! Routes: `GET /health` and `GET /ready` (no auth; `/ready` is 503 with the cause until
//! the keys are loaded), `GET /me` (the verified claims as JSON),
//! `GET /admin` (needs scope `admin`). The environment contract is in `common/mod.rs`.
//!
//! With `TOKENGATE_RESOURCE` (this API's resource identifier, e.g.
//! `https://api.example.com`) it also serves the RFC 9728 protected resource metadata
//! document at `/.well-known/oauth-protected-resource[/path]`, naming the issuers as its
//! authorization servers, and every challenge carries `resource_metadata="<its URL>"`.

mod common;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Json, Router, routing::get};
use serde_json::{Value, json};
use tokengate::ResourceMetadata;
use tokengate_tower::{Claims, RequireScopeLayer, ResourceMetadataService, TokenGateLayer};

async fn me(Claims(claims): Claims) -> Json<tokengate::Claims> {
    Json(claims)
}

async fn admin(Claims(claims): Claims) -> Json<Value> {
    Json(json!({ "admin": true, "sub": claims.subject() }))
}

/// `GET /ready`: 200 once the keys are loaded, 503 with the cause otherwise.
async fn ready(State(validator): State<tokengate::Validator>) -> (StatusCode, String) {
    let (status, body) = common::readiness(&validator).await;
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
        body,
    )
}

/// RFC 9728 metadata for `TOKENGATE_RESOURCE`, if set, naming every trusted issuer as an
/// authorization server; exits with status 2 if invalid.
fn resource_metadata(validator: &tokengate::Validator) -> Option<ResourceMetadata> {
    let resource = std::env::var("TOKENGATE_RESOURCE")
        .ok()
        .filter(|v| !v.is_empty())?;
    let mut metadata = ResourceMetadata::builder(resource).scopes_supported(["read", "admin"]);
    for issuer in validator.issuers() {
        metadata = metadata.authorization_server(issuer);
    }
    Some(metadata.build().unwrap_or_else(|e| {
        eprintln!("configuration error: TOKENGATE_RESOURCE: {e}");
        std::process::exit(2);
    }))
}

#[tokio::main]
async fn main() {
    let setup = common::setup().await;
    let metadata = resource_metadata(&setup.validator);

    let listener = tokio::net::TcpListener::bind(&setup.bind_addr)
        .await
        .unwrap_or_else(|e| {
            eprintln!("cannot listen on {}: {e}", setup.bind_addr);
            std::process::exit(1);
        });
    let addr = listener.local_addr().expect("bound address");
    let mut gate = tokengate::Gate::new(setup.validator.clone());
    if let Some(metadata) = &metadata {
        gate = gate.resource_metadata(metadata);
    }
    if let Some(dpop) = common::dpop(addr) {
        gate = gate.dpop(dpop);
    }
    let protected = Router::new()
        .route("/me", get(me))
        .route("/admin", get(admin).layer(RequireScopeLayer::new("admin")))
        .layer(TokenGateLayer::new(gate));
    let mut app = Router::new()
        .route("/health", get(|| async { "ok" }))
        // Outside the gate: probes carry no token.
        .route("/ready", get(ready).with_state(setup.validator.clone()))
        .merge(protected);
    if let Some(metadata) = &metadata {
        // Public, so outside the gate.
        let service = ResourceMetadataService::new(metadata);
        app = app.route_service(&metadata.well_known_path(), service);
    }

    common::announce(&setup, addr);
    if let Some(metadata) = &metadata {
        println!("resource metadata (RFC 9728): {}", metadata.metadata_url());
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .expect("server error");
}
