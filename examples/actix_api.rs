//! An actix-web API protected by tokengate; the same contract as `axum_api`.
//!
//! ```sh
//! cargo run --example actix_api       # embedded development issuer, prints tokens
//! TOKENGATE_ISSUER=https://login.example.com TOKENGATE_AUDIENCE=https://api.example.com \
//!     cargo run --example actix_api
//! ```
//!
//! Routes: `GET /health` (no auth), `GET /me` (the verified claims as JSON),
//! `GET /admin` (needs scope `admin`). The environment contract is in `common/mod.rs`.

mod common;

use actix_web::{App, HttpServer, web};
use serde_json::json;
use tokengate_actix::{Claims, RequireScope, TokenGate};

async fn me(Claims(claims): Claims) -> web::Json<tokengate::Claims> {
    web::Json(claims)
}

async fn admin(Claims(claims): Claims) -> web::Json<serde_json::Value> {
    web::Json(json!({ "admin": true, "sub": claims.subject() }))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let setup = common::setup().await;
    let validator = setup.validator.clone();
    let server = HttpServer::new(move || {
        App::new()
            .route("/health", web::get().to(|| async { "ok" }))
            .service(
                web::scope("")
                    .wrap(TokenGate::new(validator.clone()))
                    .route("/me", web::get().to(me))
                    .service(
                        web::resource("/admin")
                            .wrap(RequireScope::new("admin"))
                            .route(web::get().to(admin)),
                    ),
            )
    })
    .bind(&setup.bind_addr)
    .unwrap_or_else(|e| {
        eprintln!("cannot listen on {}: {e}", setup.bind_addr);
        std::process::exit(1);
    });
    common::announce(&setup, server.addrs()[0]);
    server.run().await
}
