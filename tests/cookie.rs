//! The token from a named cookie (issue 15 item 6), over real HTTP through both
//! adapters: opt-in, never together with an `Authorization` token (RFC 6750 section 2),
//! and every odd cookie an attacker or a sloppy client could send.

mod common;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use tokengate::Gate;
use tokengate::require::Requirement;
use tokengate::testing::MockIssuer;

use common::Reply;
use common::both::{ActixRoutes, Both, serve_both};

const COOKIE: &str = "__Host-access_token";

fn axum_app(gate: Gate) -> Router {
    use tokengate_tower::{Claims, RequireLayer, TokenGateLayer};
    Router::new()
        .route(
            "/me",
            get(|Claims(c): Claims| async move { c.subject().unwrap_or("?").to_owned() }),
        )
        .route(
            "/admin",
            get(|| async { "admin" }).layer(RequireLayer::new(Requirement::scope("admin"))),
        )
        .layer(TokenGateLayer::new(gate))
}

fn actix_app(gate: Gate) -> ActixRoutes {
    use actix_web::web;
    use tokengate_actix::{Claims, Require, TokenGate};
    Arc::new(move |cfg: &mut web::ServiceConfig| {
        cfg.service(
            web::scope("")
                .wrap(TokenGate::new(gate.clone()))
                .route(
                    "/me",
                    web::get().to(|Claims(c): Claims| async move {
                        c.subject().unwrap_or("?").to_owned()
                    }),
                )
                .service(
                    web::resource("/admin")
                        .wrap(Require::new(Requirement::scope("admin")))
                        .to(|| async { "admin" }),
                ),
        );
    })
}

async fn serve(gate: Gate) -> Both {
    serve_both(axum_app(gate.clone()), actix_app(gate)).await
}

async fn with_cookie(issuer: &MockIssuer) -> Both {
    serve(Gate::new(common::builder_for(issuer).build().unwrap()).cookie(COOKIE)).await
}

async fn ask(api: &Both, path: &str, headers: &[(&str, &str)]) -> Reply {
    api.get(path, headers).await.0
}

#[track_caller]
fn assert_invalid_request(reply: &Reply, description: &str) {
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(
        reply.challenge.as_deref(),
        Some(&*format!(
            r#"Bearer error="invalid_request", error_description="{description}""#
        ))
    );
}

#[track_caller]
fn assert_bare_challenge(reply: &Reply) {
    assert_eq!(
        (reply.status, reply.challenge.as_deref()),
        (401, Some("Bearer")),
        "{reply:?}"
    );
}

#[tokio::test]
async fn a_token_in_the_named_cookie_is_validated_like_a_bearer_token() {
    let issuer = MockIssuer::start().await;
    let api = with_cookie(&issuer).await;
    let token = issuer.token().subject("alice").scope("admin").sign();
    for cookie in [
        format!("{COOKIE}={token}"),
        format!("theme=dark; {COOKIE}={token}; lang=en"),
        format!("theme=dark;{COOKIE}={token}"),
        format!("{COOKIE}=\"{token}\""),
    ] {
        let reply = ask(&api, "/me", &[("cookie", &cookie)]).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (200, "alice"),
            "{cookie}"
        );
    }
    // Split over two Cookie fields, as HTTP/2 may send it.
    let cookie = format!("{COOKIE}={token}");
    let reply = ask(
        &api,
        "/me",
        &[("cookie", "theme=dark"), ("cookie", &cookie)],
    )
    .await;
    assert_eq!(reply.status, 200);
    // Requirements apply to cookie tokens alike.
    assert_eq!(
        ask(&api, "/admin", &[("cookie", &cookie)]).await.status,
        200
    );
    let reader = format!("{COOKIE}={}", issuer.token().scope("read").sign());
    assert_eq!(
        ask(&api, "/admin", &[("cookie", &reader)]).await.status,
        403
    );
    // The header still works alone.
    assert_eq!(api.bearer("/me", &token).await.status, 200);
}

#[tokio::test]
async fn both_sources_at_once_are_invalid_request() {
    let issuer = MockIssuer::start().await;
    let api = with_cookie(&issuer).await;
    let token = issuer.token().sign();
    let other = issuer.token().subject("mallory").sign();
    let bearer = format!("Bearer {token}");
    for cookie in [format!("{COOKIE}={token}"), format!("{COOKIE}={other}")] {
        let reply = ask(
            &api,
            "/me",
            &[("authorization", &bearer), ("cookie", &cookie)],
        )
        .await;
        assert_invalid_request(&reply, "The access token was sent in more than one way");
    }
    // A DPoP-scheme header with the cookie: still two methods.
    let dpop = format!("DPoP {token}");
    let cookie = format!("{COOKIE}={token}");
    let reply = ask(
        &api,
        "/me",
        &[("authorization", &dpop), ("cookie", &cookie)],
    )
    .await;
    assert_invalid_request(&reply, "The access token was sent in more than one way");
    // An expired header token and a good cookie: refused, not rescued by the cookie.
    let expired = format!("Bearer {}", issuer.token().expires_in(-3600).sign());
    let reply = ask(
        &api,
        "/me",
        &[("authorization", &expired), ("cookie", &cookie)],
    )
    .await;
    assert_invalid_request(&reply, "The access token was sent in more than one way");
}

#[tokio::test]
async fn the_cookie_twice_or_oddly_quoted_is_invalid_request() {
    let issuer = MockIssuer::start().await;
    let api = with_cookie(&issuer).await;
    let token = issuer.token().sign();
    let other = issuer.token().subject("mallory").sign();
    let twice_one_field = format!("{COOKIE}={token}; {COOKIE}={other}");
    let unbalanced = format!("{COOKIE}=\"{token}");
    let trailing = format!("{COOKIE}={token}\"");
    for cookie in [twice_one_field, unbalanced, trailing] {
        let reply = ask(&api, "/me", &[("cookie", &cookie)]).await;
        assert_invalid_request(&reply, "The access token cookie is malformed");
    }
    // Twice across two fields (a sibling domain's cookie of the same name, say).
    let first = format!("{COOKIE}={token}");
    let second = format!("{COOKIE}={other}");
    let reply = ask(&api, "/me", &[("cookie", &first), ("cookie", &second)]).await;
    assert_invalid_request(&reply, "The access token cookie is malformed");
}

#[tokio::test]
async fn a_cookie_value_that_is_not_a_b64token_is_invalid_token() {
    let issuer = MockIssuer::start().await;
    let api = with_cookie(&issuer).await;
    let token = issuer.token().sign();
    let encoded = token.replace('.', "%2E");
    for value in [
        encoded,
        format!("{token},x"),
        format!("Bearer {token}"),
        "a\\b".into(),
    ] {
        let cookie = format!("{COOKIE}={value}");
        let reply = ask(&api, "/me", &[("cookie", &cookie)]).await;
        reply.assert_invalid_token();
    }
    let expired = format!("{COOKIE}={}", issuer.token().expires_in(-3600).sign());
    ask(&api, "/me", &[("cookie", &expired)])
        .await
        .assert_invalid_token();
    let foreign = format!(
        "{COOKIE}={}",
        issuer.token().claim("iss", "https://evil.example").sign()
    );
    ask(&api, "/me", &[("cookie", &foreign)])
        .await
        .assert_invalid_token();
}

#[tokio::test]
async fn other_cookie_names_and_empty_values_are_no_credentials() {
    let issuer = MockIssuer::start().await;
    let api = with_cookie(&issuer).await;
    let token = issuer.token().sign();
    for cookie in [
        format!("{}={token}", COOKIE.to_lowercase()),
        format!("x{COOKIE}={token}"),
        format!("{COOKIE}x={token}"),
        format!("access_token={token}"),
        format!("{COOKIE}="),
        format!("{COOKIE}=\"\""),
        COOKIE.to_owned(),
        // An unrelated cookie of odd bytes is not ours to judge.
        format!("other=\"{token}; theme=é"),
    ] {
        assert_bare_challenge(&ask(&api, "/me", &[("cookie", &cookie)]).await);
    }
    assert_bare_challenge(&ask(&api, "/me", &[]).await);
}

#[tokio::test]
async fn without_the_opt_in_a_cookie_is_never_read() {
    let issuer = MockIssuer::start().await;
    let api = serve(Gate::new(common::builder_for(&issuer).build().unwrap())).await;
    let token = issuer.token().sign();
    let cookie = format!("{COOKIE}={token}");
    assert_bare_challenge(&ask(&api, "/me", &[("cookie", &cookie)]).await);
    // And with a header token, the cookie is not a second method: it is not a method.
    let bearer = format!("Bearer {token}");
    let reply = ask(
        &api,
        "/me",
        &[("authorization", &bearer), ("cookie", &cookie)],
    )
    .await;
    assert_eq!(reply.status, 200);
}

#[test]
#[should_panic(expected = "is not a cookie name")]
fn a_cookie_name_that_is_not_a_token_is_refused_at_startup() {
    let key = tokengate::testing::TestKey::generate("k1", tokengate::Algorithm::ES256);
    let validator = tokengate::Validator::builder()
        .issuer("https://issuer.example")
        .audience("api")
        .jwks(serde_json::json!({"keys": [key.public_jwk()]}))
        .build()
        .unwrap();
    let _ = Gate::new(validator).cookie("access token; Path=/");
}
