//! The introspection endpoint (RFC 7662): active only for live tokens this server
//! issued, and only to authenticated clients.

mod common;

use std::time::Duration;

use serde_json::json;

use common::*;

#[tokio::test]
async fn introspection_answers_active_only_for_live_tokens_it_issued() {
    let server = start().await;
    let (access_token, refresh_token) = tokens(&server).await;

    let answer = introspect(&server, Some(SERVICE), &access_token).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.headers["cache-control"], "no-store");
    let json = &answer.json;
    assert_eq!(json["active"], true);
    assert_eq!(json["scope"], "read");
    assert_eq!(json["client_id"], APP.0);
    assert_eq!(json["sub"], USER);
    assert_eq!(json["aud"], server.audience());
    assert_eq!(json["iss"], server.issuer());
    assert_eq!(json["token_type"], "Bearer");
    assert!(json["exp"].as_i64().unwrap() > json["iat"].as_i64().unwrap());

    // Not tokens it issued: a refresh token, garbage, and a validly signed JWT it never
    // handed out through the token endpoint.
    let minted = server.mock().token().subject(USER).sign();
    for token in [refresh_token.as_str(), "garbage", &minted] {
        let answer = introspect(&server, Some(SERVICE), token).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.json, json!({"active": false}), "{token}");
    }

    // Unauthenticated, or with a wrong secret: refused, telling nothing about the token.
    for auth in [None, Some((SERVICE.0, "wrong")), Some(("nobody", "x"))] {
        let answer = introspect(&server, auth, &access_token).await;
        answer.assert_error(401, "invalid_client");
        assert!(answer.json.get("active").is_none(), "{answer:?}");
    }
    // client_secret_post is not accepted for introspection: client_secret_basic only.
    post(
        &server.introspection_endpoint(),
        None,
        &[
            ("token", &access_token),
            ("client_id", SERVICE.0),
            ("client_secret", SERVICE.1),
        ],
    )
    .await
    .assert_error(401, "invalid_client");
    introspect(&server, Some(SERVICE), "")
        .await
        .assert_error(400, "invalid_request");
}

#[tokio::test]
async fn introspection_answers_inactive_once_a_token_expires() {
    let server = builder()
        // Two seconds: the token is live for at least one whole second after it is issued
        // (`exp` is in whole seconds), and dead at most two seconds after.
        .access_token_lifetime(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let (access_token, _) = tokens(&server).await;
    assert_eq!(
        introspect(&server, Some(SERVICE), &access_token).await.json["active"],
        true
    );
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(
        introspect(&server, Some(SERVICE), &access_token).await.json,
        json!({"active": false})
    );
}
