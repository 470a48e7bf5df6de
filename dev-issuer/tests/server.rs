//! The server itself: what discovery says of it (RFC 8414), loopback only, its settings
//! checked at start, and stopped when dropped.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use tokengate_dev_issuer::client::{Pkce, new_state};
use tokengate_dev_issuer::{DEFAULT_CLIENT_ID, DEFAULT_REDIRECT_URI, DevServer, DevServerError};

use common::*;

#[tokio::test]
async fn discovery_names_the_endpoints_and_pkce_s256_only() {
    let server = start().await;
    let metadata: Value = http()
        .get(format!(
            "{}/.well-known/openid-configuration",
            server.issuer()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["issuer"], server.issuer());
    assert_eq!(
        metadata["authorization_endpoint"],
        server.authorization_endpoint()
    );
    assert_eq!(metadata["token_endpoint"], server.token_endpoint());
    assert_eq!(
        metadata["introspection_endpoint"],
        server.introspection_endpoint()
    );
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(
        metadata["grant_types_supported"],
        json!(["authorization_code", "client_credentials", "refresh_token"])
    );
    assert_eq!(metadata["response_types_supported"], json!(["code"]));
    assert_eq!(metadata["scopes_supported"], json!(["read", "admin"]));
    assert!(
        server
            .authorization_endpoint()
            .starts_with("http://127.0.0.1:")
    );
    assert!(server.issuer().starts_with("http://127.0.0.1:"));
}

#[tokio::test]
async fn the_server_is_loopback_only_and_checks_its_settings() {
    for addr in ["0.0.0.0:0", "[::1]:0", "[::]:0", "127.0.0.2:0"] {
        let addr: SocketAddr = addr.parse().unwrap();
        match DevServer::builder().bind(addr).start().await {
            Err(DevServerError::NotLoopback(refused)) => assert_eq!(refused, addr),
            other => panic!("{addr}: {other:?}"),
        }
    }
    let bad = [
        DevServer::builder().client("a", "s", ["http://127.0.0.1/cb#frag"], ["read"]),
        DevServer::builder().client("a", "s", ["/relative"], ["read"]),
        DevServer::builder().client("a", "s", [REDIRECT], ["re\"ad"]),
        DevServer::builder()
            .client("a", "s", [REDIRECT], ["read"])
            .client("a", "t", [REDIRECT], ["read"]),
        DevServer::builder().client("", "s", [REDIRECT], ["read"]),
        DevServer::builder().code_lifetime(Duration::ZERO),
        DevServer::builder().user(""),
    ];
    for builder in bad {
        assert!(
            matches!(builder.start().await, Err(DevServerError::Config(_))),
            "accepted"
        );
    }
    // The defaults: one client, for the examples.
    let server = DevServer::start().await.unwrap();
    assert_eq!(server.addr().ip().to_string(), "127.0.0.1");
    let pkce = Pkce::new();
    let state = new_state();
    let query = redirected_to(
        &server,
        DEFAULT_REDIRECT_URI,
        &[
            ("response_type", "code"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("state", &state),
            ("code_challenge", pkce.challenge()),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert!(query.contains_key("code"), "{query:?}");
}

async fn redirected_to(
    server: &DevServer,
    redirect_uri: &str,
    params: &[(&str, &str)],
) -> HashMap<String, String> {
    let (status, location, body) = authorize(server, params).await;
    assert_eq!(status, 302, "{body}");
    let location = location.unwrap();
    assert!(location.starts_with(redirect_uri), "{location}");
    query(&location)
}

#[tokio::test]
async fn dropping_the_server_stops_both_listeners() {
    let server = start().await;
    let (endpoints, issuer) = (server.token_endpoint(), server.issuer().to_owned());
    let client = http();
    assert!(client.get(&issuer).send().await.is_ok());
    drop(server);
    let mut stopped = false;
    for _ in 0..100 {
        let token_down = client.post(&endpoints).send().await.is_err();
        let issuer_down = client.get(format!("{issuer}/jwks")).send().await.is_err();
        if token_down && issuer_down {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(stopped, "still serving after the DevServer was dropped");
}
