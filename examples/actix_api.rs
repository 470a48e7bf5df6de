//! An actix-web API protected by tokengate; the same contract as `axum_api`.
//!
//! ```sh
//! cargo run --example actix_api       # embedded development issuer, prints tokens
//! TOKENGATE_ISSUER=https://login.example.com TOKENGATE_AUDIENCE=https://api.example.com \
//!     cargo run --example actix_api
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

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::json;
use tokengate::ResourceMetadata;
use tokengate_actix::{Claims, RequireScope, TokenGate, resource_metadata_service};

async fn me(Claims(claims): Claims) -> web::Json<tokengate::Claims> {
    web::Json(claims)
}

async fn admin(Claims(claims): Claims) -> web::Json<serde_json::Value> {
    web::Json(json!({ "admin": true, "sub": claims.subject() }))
}

/// `GET /ready`: 200 once the keys are loaded, 503 with the cause otherwise.
async fn ready(validator: web::Data<tokengate::Validator>) -> HttpResponse {
    let (status, body) = common::readiness(&validator).await;
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE))
        .content_type("text/plain; charset=utf-8")
        .body(body)
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

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let setup = common::setup().await;
    let metadata = resource_metadata(&setup.validator);
    let listener = std::net::TcpListener::bind(&setup.bind_addr).unwrap_or_else(|e| {
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
    let served = metadata.clone();
    let validator = web::Data::new(setup.validator.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(validator.clone())
            .route("/health", web::get().to(|| async { "ok" }))
            // Outside the gate: probes carry no token.
            .route("/ready", web::get().to(ready))
            // Public, so outside the gate, and before the scope "" that matches every path.
            .configure(|config| {
                if let Some(metadata) = &served {
                    config.service(resource_metadata_service(metadata));
                }
            })
            .service(
                web::scope("")
                    .wrap(TokenGate::new(gate.clone()))
                    .route("/me", web::get().to(me))
                    .service(
                        web::resource("/admin")
                            .wrap(RequireScope::new("admin"))
                            .route(web::get().to(admin)),
                    ),
            )
    })
    .listen(listener)
    .unwrap_or_else(|e| {
        eprintln!("cannot listen on {}: {e}", setup.bind_addr);
        std::process::exit(1);
    });
    common::announce(&setup, addr);
    if let Some(metadata) = &metadata {
        println!("resource metadata (RFC 9728): {}", metadata.metadata_url());
    }
    server.run().await
}
