//! The token endpoint's grants (RFC 6749 4.1.3, 4.4, 6; RFC 7636 4.5, 4.6): codes are
//! single-use, short-lived and bound to client, redirect URI and verifier; refresh tokens
//! rotate and never widen the scope; errors follow RFC 6749 5.2.

mod common;

use std::time::Duration;

use serde_json::{Value, json};
use tokengate::Validator;
use tokengate_dev_issuer::client::{Pkce, check_callback, new_state};

use common::*;

#[tokio::test]
async fn a_refresh_may_narrow_the_scope_but_never_widen_it() {
    let server = start().await;
    let (state, pkce) = (new_state(), Pkce::new());
    let code = {
        let params = with(params(&state, &pkce), "scope", Some("read admin"));
        let (_, location, _) = authorize(&server, &params).await;
        check_callback(&location.unwrap(), REDIRECT, &state, None).unwrap()
    };
    let answer = exchange(&server, &code, pkce.verifier()).await;
    assert_eq!(answer.json["scope"], "read admin", "{answer:?}");
    let refresh_token = answer.str("refresh_token");
    let pairs = |scope| {
        [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("scope", scope),
        ]
    };
    token(&server, Some(APP), &pairs("read write"))
        .await
        .assert_error(400, "invalid_scope");
    // A refused request did not spend the refresh token.
    let narrowed = token(&server, Some(APP), &pairs("read")).await;
    assert_eq!(narrowed.status, 200, "{narrowed:?}");
    assert_eq!(narrowed.json["scope"], "read");
    // The new refresh token still carries the whole original grant.
    let widened_again = refresh(&server, narrowed.str("refresh_token")).await;
    assert_eq!(
        widened_again.json["scope"], "read admin",
        "{widened_again:?}"
    );
}

#[tokio::test]
async fn a_wrong_code_verifier_is_invalid_grant_and_spends_the_code() {
    let server = start().await;
    let (state, pkce) = (new_state(), Pkce::new());
    let code = code_for(&server, &state, &pkce).await;
    let other = Pkce::new();
    exchange(&server, &code, other.verifier())
        .await
        .assert_error(400, "invalid_grant");
    // One redemption attempt per code: the right verifier comes too late.
    exchange(&server, &code, pkce.verifier())
        .await
        .assert_error(400, "invalid_grant");

    // A verifier that is not even RFC 7636 syntax, and a missing one.
    let (state, pkce) = (new_state(), Pkce::new());
    let code = code_for(&server, &state, &pkce).await;
    exchange(&server, &code, "short")
        .await
        .assert_error(400, "invalid_grant");
    let code = code_for(&server, &state, &pkce).await;
    let answer = token(
        &server,
        Some(APP),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    answer.assert_error(400, "invalid_request");
}

#[tokio::test]
async fn a_reused_code_is_invalid_grant_and_revokes_the_tokens_issued_from_it() {
    let server = start().await;
    let (state, pkce) = (new_state(), Pkce::new());
    let code = code_for(&server, &state, &pkce).await;
    let first = exchange(&server, &code, pkce.verifier()).await;
    assert_eq!(first.status, 200, "{first:?}");
    let (access_token, refresh_token) = (first.str("access_token"), first.str("refresh_token"));
    assert_eq!(
        introspect(&server, Some(APP), access_token).await.json["active"],
        true
    );

    exchange(&server, &code, pkce.verifier())
        .await
        .assert_error(400, "invalid_grant");
    // RFC 6749 4.1.2: the tokens issued from the code are revoked.
    refresh(&server, refresh_token)
        .await
        .assert_error(400, "invalid_grant");
    assert_eq!(
        introspect(&server, Some(APP), access_token).await.json,
        json!({"active": false})
    );
}

#[tokio::test]
async fn an_expired_code_is_invalid_grant() {
    let server = builder()
        .code_lifetime(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let (state, pkce) = (new_state(), Pkce::new());
    let code = code_for(&server, &state, &pkce).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    exchange(&server, &code, pkce.verifier())
        .await
        .assert_error(400, "invalid_grant");
    // A fresh code, redeemed at once, works.
    let code = code_for(&server, &state, &pkce).await;
    assert_eq!(exchange(&server, &code, pkce.verifier()).await.status, 200);
}

#[tokio::test]
async fn a_redirect_uri_mismatch_at_the_token_endpoint_is_invalid_grant() {
    let server = start().await;
    let (state, pkce) = (new_state(), Pkce::new());
    let exchange_with = |code: String, redirect_uri: Option<&'static str>| {
        let verifier = pkce.verifier().to_owned();
        let server = &server;
        async move {
            let mut pairs = vec![
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("code_verifier", verifier.as_str()),
            ];
            if let Some(uri) = redirect_uri {
                pairs.push(("redirect_uri", uri));
            }
            token(server, Some(APP), &pairs).await
        }
    };
    // Another registered URI of the same client.
    let code = code_for(&server, &state, &pkce).await;
    exchange_with(code, Some(OTHER_REDIRECT))
        .await
        .assert_error(400, "invalid_grant");
    // Left out, though the authorization request had one (RFC 6749 4.1.3).
    let code = code_for(&server, &state, &pkce).await;
    exchange_with(code, None)
        .await
        .assert_error(400, "invalid_grant");
    // Exactly the one of the authorization request.
    let code = code_for(&server, &state, &pkce).await;
    assert_eq!(exchange_with(code, Some(REDIRECT)).await.status, 200);
}

#[tokio::test]
async fn client_credentials_tokens_are_the_clients_own() {
    let server = start().await;
    let validator = Validator::builder()
        .issuer(server.issuer())
        .audience(server.audience())
        .build()
        .unwrap();
    let answer = token(
        &server,
        Some(SERVICE),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json["scope"], "read");
    // RFC 6749 4.4.3: no refresh token.
    assert!(answer.json.get("refresh_token").is_none(), "{answer:?}");
    let claims = validator
        .validate(answer.str("access_token"))
        .await
        .unwrap();
    assert_eq!(claims.subject(), Some(SERVICE.0));
    assert_eq!(claims.get("client_id"), Some(&json!(SERVICE.0)));

    token(
        &server,
        Some(SERVICE),
        &[("grant_type", "client_credentials"), ("scope", "admin")],
    )
    .await
    .assert_error(400, "invalid_scope");
}

#[tokio::test]
async fn malformed_token_requests_are_refused_per_rfc_6749_5_2() {
    let server = start().await;
    token(&server, Some(APP), &[("grant_type", "password")])
        .await
        .assert_error(400, "unsupported_grant_type");
    token(&server, Some(APP), &[])
        .await
        .assert_error(400, "invalid_request");
    token(
        &server,
        Some(APP),
        &[
            ("grant_type", "client_credentials"),
            ("grant_type", "client_credentials"),
        ],
    )
    .await
    .assert_error(400, "invalid_request");
    token(
        &server,
        Some(APP),
        &[("grant_type", "authorization_code"), ("code", "made-up")],
    )
    .await
    .assert_error(400, "invalid_grant");
    refresh(&server, "made-up")
        .await
        .assert_error(400, "invalid_grant");
    // Two authentication methods at once (RFC 6749 2.3).
    token(
        &server,
        Some(APP),
        &[
            ("grant_type", "client_credentials"),
            ("client_secret", APP.1),
        ],
    )
    .await
    .assert_error(400, "invalid_request");
    // Not a form.
    let response = http()
        .post(server.token_endpoint())
        .basic_auth(APP.0, Some(APP.1))
        .header("content-type", "application/json")
        .body(r#"{"grant_type":"client_credentials"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}
