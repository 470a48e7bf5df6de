//! The README's "Testing your own API" example, kept compiling and passing here: a user's
//! axum API tested with tokengate's testing kit (feature `testing`).

use axum::{Router, body::Body, routing::get};
use http::{Request, StatusCode, header::AUTHORIZATION};
use tokengate::testing::{Behavior, MockIssuer};
use tokengate_tower::{Claims, RequireScopeLayer, TokenGateLayer};
use tower::ServiceExt;

/// The API under test: what a user of tokengate would write.
fn app(validator: tokengate::Validator) -> Router {
    Router::new()
        .route("/orders", get(|Claims(c): Claims| async move { format!("orders of {}", c.subject().unwrap_or("?")) }))
        .route("/admin", get(|| async { "admin" }).layer(RequireScopeLayer::new("admin")))
        .layer(TokenGateLayer::new(validator))
}

fn get_with(path: &str, token: &str) -> Request<Body> {
    Request::get(path)
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn my_api_checks_tokens() {
    // A mock authorization server on 127.0.0.1: discovery, JWKS, token minting.
    let issuer = MockIssuer::start().await;
    let validator = tokengate::Validator::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        // Tests rotate keys seconds after the first fetch: no 30 s refetch cooldown.
        .refresh_cooldown(std::time::Duration::ZERO)
        .build()
        .unwrap();
    let app = app(validator);

    let alice = issuer.token().subject("alice").scope("read").sign();
    let response = app
        .clone()
        .oneshot(get_with("/orders", &alice))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let response = app
        .clone()
        .oneshot(get_with("/admin", &alice))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let expired = issuer.token().expires_in(-3600).sign();
    let response = app
        .clone()
        .oneshot(get_with("/orders", &expired))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // Rotate the signing key: a token with the new kid is accepted after one refetch.
    let new_kid = issuer.rotate();
    let rotated = issuer.token().key(&new_kid).sign();
    let response = app
        .clone()
        .oneshot(get_with("/orders", &rotated))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // Make the issuer fail: known keys keep working (stale-if-error).
    issuer.set_behavior(Behavior::Fail(500));
    let response = app.oneshot(get_with("/orders", &alice)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
