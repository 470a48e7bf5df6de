//! The comparison point of the HTTP benchmark (`bench/http.sh`): the same axum API as
//! `examples/axum_api.rs`, protected the way hand-rolled code does it today — an axum
//! `from_fn` middleware around `jsonwebtoken::decode`, with `DecodingKey`s built once from
//! the issuer's JWKS at start-up (already kinder than most: no per-request key fetch, no
//! refresh, no rotation handling). Not a user-facing example.
//!
//! Environment: `TOKENGATE_ISSUER`, `TOKENGATE_AUDIENCE`, `BIND_ADDR` (as the examples).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use serde_json::{Value, json};

struct Keys {
    by_kid: HashMap<String, DecodingKey>,
    validation: Validation,
}

async fn authenticate(State(keys): State<Arc<Keys>>, mut request: Request, next: Next) -> Response {
    let Some(token) = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let Some(key) = decode_header(token)
        .ok()
        .and_then(|header| header.kid)
        .and_then(|kid| keys.by_kid.get(&kid))
    else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    match decode::<Value>(token, key, &keys.validation) {
        Ok(data) => {
            request.extensions_mut().insert(data.claims);
            next.run(request).await
        }
        Err(_) => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn admin(Extension(claims): Extension<Value>) -> Response {
    let scopes = claims["scope"].as_str().unwrap_or_default();
    if !scopes.split(' ').any(|s| s == "admin") {
        return StatusCode::FORBIDDEN.into_response();
    }
    Json(json!({ "admin": true, "sub": claims["sub"] })).into_response()
}

#[tokio::main]
async fn main() {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            eprintln!("{name} is required");
            std::process::exit(2);
        })
    };
    let (issuer, audience) = (var("TOKENGATE_ISSUER"), var("TOKENGATE_AUDIENCE"));
    let bind = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());

    let client = reqwest::Client::new();
    let get_json = |url: String| {
        let client = client.clone();
        async move {
            client
                .get(&url)
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .unwrap_or_else(|e| panic!("GET {url}: {e}"))
                .json::<Value>()
                .await
                .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        }
    };
    let metadata = get_json(format!("{issuer}/.well-known/openid-configuration")).await;
    let jwks_uri = metadata["jwks_uri"].as_str().expect("jwks_uri").to_owned();
    let set: JwkSet = serde_json::from_value(get_json(jwks_uri).await).expect("a JWK set");
    let by_kid = set
        .keys
        .iter()
        .filter_map(|jwk| Some((jwk.common.key_id.clone()?, DecodingKey::from_jwk(jwk).ok()?)))
        .collect();
    let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[&issuer]);
    validation.set_audience(&[&audience]);
    let keys = Arc::new(Keys { by_kid, validation });

    let protected = Router::new()
        .route("/admin", get(admin))
        .route(
            "/me",
            get(|Extension(claims): Extension<Value>| async { Json(claims) }),
        )
        .layer(middleware::from_fn_with_state(keys, authenticate));
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(protected);
    let listener = tokio::net::TcpListener::bind(&bind).await.expect("bind");
    println!(
        "listening on http://{}",
        listener.local_addr().expect("address")
    );
    axum::serve(listener, app).await.expect("server error");
}
