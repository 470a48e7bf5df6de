//! Policies as values: an axum API whose write route needs one of two scopes plus a
//! check of its own, with RFC 9457 problem details in every refusal. Zero setup: an
//! embedded mock issuer on 127.0.0.1 signs the tokens it prints.
//!
//! ```sh
//! cargo run --example policies_axum
//! curl -i -X POST -H "Authorization: Bearer $WRITER" http://127.0.0.1:3000/orders
//! ```
//!
//! Routes:
//! - `GET /orders`: any of the scopes `orders:read`, `orders:write`, `admin`;
//! - `POST /orders`: `admin` or `orders:write`, and a verified email (a custom check);
//!   a reader gets `403 insufficient_scope` with `scope="admin orders:write"`, an
//!   unverified writer `403` with the fixed description;
//! - `GET /orders/mine`: the same rule checked inside the handler, `claims.require(..)?`.
//!
//! Listens on `BIND_ADDR` (default `127.0.0.1:3000`), then prints `token <name> <jwt>`
//! for `writer`, `unverified_admin` and `reader`.

use axum::Router;
use axum::routing::get;
use serde_json::Value;
use tokengate::Gate;
use tokengate::rejection_body::RejectionBody;
use tokengate::require::Requirement;
use tokengate::testing::MockIssuer;
use tokengate_tower::{Claims, Rejection, RequireLayer, TokenGateLayer};

/// Who may write orders: an admin or an order writer, whose email is verified.
fn writers() -> Requirement {
    Requirement::all([
        Requirement::any_scope(["admin", "orders:write"]),
        Requirement::custom("email verified", |claims| {
            claims.get("email_verified").and_then(Value::as_bool) == Some(true)
        }),
    ])
}

async fn mine(Claims(claims): Claims) -> Result<String, Rejection> {
    claims.require(&writers())?;
    Ok(format!("orders of {}", claims.subject().unwrap_or("?")))
}

#[tokio::main]
async fn main() {
    let issuer = MockIssuer::start().await;
    let validator = tokengate::Validator::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .build()
        .expect("valid configuration");
    let gate = Gate::new(validator).rejection_body(RejectionBody::problem_json());

    let app = Router::new()
        .route(
            "/orders",
            get(|| async { "the orders" })
                .layer(RequireLayer::new(Requirement::any_scope([
                    "orders:read",
                    "orders:write",
                    "admin",
                ])))
                .merge(
                    axum::routing::post(|| async { "order created" })
                        .layer(RequireLayer::new(writers())),
                ),
        )
        .route("/orders/mine", get(mine))
        .layer(TokenGateLayer::new(gate));

    let bind = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .unwrap_or_else(|e| {
            eprintln!("cannot listen on {bind}: {e}");
            std::process::exit(1);
        });
    println!("listening on http://{}", listener.local_addr().unwrap());
    let token = |scope: &str, verified: bool| {
        issuer
            .token()
            .subject("alice")
            .scope(scope)
            .claim("email_verified", verified)
            .sign()
    };
    println!("token writer {}", token("orders:write", true));
    println!("token unverified_admin {}", token("admin", false));
    println!("token reader {}", token("orders:read", true));
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .expect("server error");
}
