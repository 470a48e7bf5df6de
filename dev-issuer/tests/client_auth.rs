//! Client authentication (RFC 6749 2.3): secrets checked by Basic or in the body, public
//! clients by PKCE alone, and secrets never printed.

mod common;

use tokengate_dev_issuer::DevServer;
use tokengate_dev_issuer::client::{Pkce, check_callback, new_state};

use common::*;

#[tokio::test]
async fn a_wrong_client_secret_is_401_invalid_client() {
    let server = start().await;
    let (state, pkce) = (new_state(), Pkce::new());
    let code = code_for(&server, &state, &pkce).await;
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", pkce.verifier()),
    ];
    for auth in [
        Some((APP.0, "wrong-secret")),
        Some((APP.0, OTHER_APP.1)),
        Some(("nobody", APP.1)),
        None,
    ] {
        let answer = token(&server, auth, &pairs).await;
        answer.assert_error(401, "invalid_client");
        assert!(
            answer.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic"),
            "{answer:?}"
        );
    }
    // client_secret_post with a wrong secret, too.
    let post = [
        pairs.as_slice(),
        &[("client_id", APP.0), ("client_secret", "wrong")],
    ]
    .concat();
    token(&server, None, &post)
        .await
        .assert_error(401, "invalid_client");
    // A public client's id alone does not authenticate a confidential client.
    let bare = [pairs.as_slice(), &[("client_id", APP.0)]].concat();
    token(&server, None, &bare)
        .await
        .assert_error(401, "invalid_client");
    // None of that spent the code: with the right secret it is redeemed...
    let post = [
        pairs.as_slice(),
        &[("client_id", APP.0), ("client_secret", APP.1)],
    ]
    .concat();
    assert_eq!(token(&server, None, &post).await.status, 200);

    // ...and a code is bound to its client: another authenticated client cannot use it.
    let code = code_for(&server, &state, &pkce).await;
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", pkce.verifier()),
    ];
    token(&server, Some(OTHER_APP), &pairs)
        .await
        .assert_error(400, "invalid_grant");
}

#[tokio::test]
async fn a_public_client_uses_pkce_alone() {
    let server = start().await;
    let (state, pkce) = (new_state(), Pkce::new());
    let params = with(params(&state, &pkce), "client_id", Some(PUBLIC_APP));
    let (_, location, _) = authorize(&server, &params).await;
    let code = check_callback(&location.unwrap(), REDIRECT, &state, None).unwrap();
    let answer = token(
        &server,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", PUBLIC_APP),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", pkce.verifier()),
        ],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    // But it gets no client credentials grant and cannot introspect.
    token(
        &server,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", PUBLIC_APP),
        ],
    )
    .await
    .assert_error(400, "unauthorized_client");
    introspect(&server, Some((PUBLIC_APP, "")), answer.str("access_token"))
        .await
        .assert_error(401, "invalid_client");
}

/// Issue 12, item 12: the builder's `Debug` shows client ids, never their secrets.
#[test]
fn the_builder_never_prints_client_secrets() {
    let secret = "hunter2-very-secret";
    let builder =
        DevServer::builder().client("my-app", secret, ["http://127.0.0.1:9/cb"], ["read"]);
    let printed = format!("{builder:?}");
    assert!(printed.contains("my-app"), "{printed}");
    assert!(!printed.contains(secret), "{printed}");
}
