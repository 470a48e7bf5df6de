//! examples/policies_axum.rs, run as built (`cargo test` builds the examples): a route
//! needing any of `admin`, `orders:write` plus a custom check, with problem+json refusals.

mod common;

use std::collections::HashMap;

use common::examples::{STARTUP, example_command, spawn_listening};

#[tokio::test]
async fn the_policies_example_enforces_any_of_two_scopes_and_its_custom_check() {
    let (base, mut lines, _child) =
        spawn_listening("policies_axum", example_command("policies_axum")).await;
    let mut tokens = HashMap::new();
    tokio::time::timeout(STARTUP, async {
        while tokens.len() < 3 {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("the example printed its tokens");
            if let Some(rest) = line.strip_prefix("token ") {
                let (name, token) = rest.split_once(' ').unwrap();
                tokens.insert(name.to_owned(), token.to_owned());
            }
        }
    })
    .await
    .expect("tokens in time");
    let client = reqwest::Client::new();
    let send = |method: reqwest::Method, path: &str, token: Option<&str>| {
        let mut request = client.request(method, format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let post = reqwest::Method::POST;
    let get = reqwest::Method::GET;

    let writer = send(post.clone(), "/orders", Some(&tokens["writer"]))
        .await
        .unwrap();
    assert_eq!(writer.status(), 200);
    assert_eq!(writer.text().await.unwrap(), "order created");

    let reader = send(post.clone(), "/orders", Some(&tokens["reader"]))
        .await
        .unwrap();
    assert_eq!(reader.status(), 403);
    let challenge = reader.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.ends_with(r#"scope="admin orders:write""#),
        "{challenge}"
    );
    assert_eq!(reader.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = reader.json().await.unwrap();
    assert_eq!(problem["detail"], "The access token lacks a required scope");

    let unverified = send(post.clone(), "/orders", Some(&tokens["unverified_admin"]))
        .await
        .unwrap();
    assert_eq!(unverified.status(), 403);
    let problem: serde_json::Value = unverified.json().await.unwrap();
    assert_eq!(
        problem["detail"],
        "The access token does not meet a requirement of this resource"
    );

    // Reading needs any order scope; each token has one.
    for name in ["writer", "unverified_admin", "reader"] {
        let response = send(get.clone(), "/orders", Some(&tokens[name]))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{name}");
    }
    // The same rule inside a handler.
    let mine = send(get.clone(), "/orders/mine", Some(&tokens["writer"]))
        .await
        .unwrap();
    assert_eq!(mine.text().await.unwrap(), "orders of alice");
    let mine = send(get.clone(), "/orders/mine", Some(&tokens["reader"]))
        .await
        .unwrap();
    assert_eq!(mine.status(), 403);
    // No token: the bare challenge, with a problem body.
    let anonymous = send(post, "/orders", None).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
}
