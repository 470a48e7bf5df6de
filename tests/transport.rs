//! RFC 6750 section 2.1 (getting the token) and section 3 (answering without one), over HTTP.

mod common;

use common::issuer_and_api;

#[tokio::test]
async fn health_needs_no_token() {
    let (_issuer, api) = issuer_and_api().await;
    let reply = api.get("/health", None).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok"));
}

#[tokio::test]
async fn no_credentials_gets_a_bare_challenge() {
    let (_issuer, api) = issuer_and_api().await;
    let reply = api.get("/me", None).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.challenge.as_deref(), Some("Bearer"));
}

#[tokio::test]
async fn other_schemes_count_as_no_credentials() {
    let (_issuer, api) = issuer_and_api().await;
    for value in ["Basic dXNlcjpwYXNz", "Token abc", "Bearerabc", "DPoP abc"] {
        let reply = api.get_with_headers("/me", &[value]).await;
        assert_eq!(reply.status, 401, "{value}");
        assert_eq!(reply.challenge.as_deref(), Some("Bearer"), "{value}");
    }
}

#[tokio::test]
async fn scheme_is_case_insensitive() {
    let (issuer, api) = issuer_and_api().await;
    let token = issuer.token().sign();
    for scheme in ["bearer", "BEARER", "Bearer", "bEaReR"] {
        let reply = api
            .get_with_headers("/me", &[&format!("{scheme} {token}")])
            .await;
        assert_eq!(reply.status, 200, "{scheme}");
    }
}

#[tokio::test]
async fn two_authorization_headers_are_invalid_request() {
    let (issuer, api) = issuer_and_api().await;
    let token = issuer.token().sign();
    let value = format!("Bearer {token}");
    let reply = api.get_with_headers("/me", &[&value, &value]).await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.error().as_deref(), Some("invalid_request"));
}

/// RFC 6750 section 3.1: `invalid_request` is for a malformed *request*: `Bearer` with
/// no token at all (or, above, two `Authorization` headers).
#[tokio::test]
async fn bearer_without_a_token_is_invalid_request() {
    let (_issuer, api) = issuer_and_api().await;
    for value in ["Bearer", "Bearer ", "Bearer    "] {
        let reply = api.get_with_headers("/me", &[value]).await;
        assert_eq!(reply.status, 400, "{value:?}: {reply:?}");
        assert_eq!(reply.error().as_deref(), Some("invalid_request"));
    }
}

/// A token made of characters outside `b64token` is a malformed *token*: 401
/// `invalid_token` (RFC 6750 section 3.1), as Spring Security and
/// express-oauth2-jwt-bearer answer, on required and optional routes alike.
#[tokio::test]
async fn a_token_outside_b64token_is_invalid_token() {
    let (_issuer, api) = issuer_and_api().await;
    for value in [
        "Bearer !!!.@@@.###",
        "Bearer a b",
        "Bearer a,b",
        "Bearer \"a\"",
        "Bearer a=b",
        "Bearer ===",
        "Bearer a;b",
    ] {
        for path in ["/me", "/greet"] {
            let reply = api.get_with_headers(path, &[value]).await;
            assert_eq!(reply.status, 401, "{path} {value:?}: {reply:?}");
            assert_eq!(
                reply.challenge.as_deref(),
                Some(
                    r#"Bearer error="invalid_token", error_description="The access token is malformed""#
                ),
                "{path} {value:?}"
            );
        }
    }
}

#[tokio::test]
async fn optional_auth_lets_anonymous_through_but_not_bad_tokens() {
    let (issuer, api) = issuer_and_api().await;
    let anonymous = api.get("/greet", None).await;
    assert_eq!(
        (anonymous.status, anonymous.body.as_str()),
        (200, "hello stranger")
    );
    let token = issuer.token().subject("alice").sign();
    let known = api.get("/greet", Some(&token)).await;
    assert_eq!((known.status, known.body.as_str()), (200, "hello alice"));
    api.get("/greet", Some("not.a.token"))
        .await
        .assert_invalid_token();
}

#[tokio::test]
async fn scope_check_answers_403_naming_the_scope() {
    let (issuer, api) = issuer_and_api().await;
    let reply = api
        .get("/admin", Some(&issuer.token().scope("read").sign()))
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.challenge.as_deref(),
        Some(
            r#"Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="admin""#
        )
    );
    let admin = api
        .get("/admin", Some(&issuer.token().scope("admin").sign()))
        .await;
    assert_eq!(admin.status, 200);
    // No token at all on a scoped route: 401, not 403.
    assert_eq!(api.get("/admin", None).await.status, 401);
}
