//! tokengate validating what the development authorization server
//! (`tokengate-dev-issuer`) issues, over real HTTP on 127.0.0.1: its access tokens
//! accepted by both adapters through a refresh, and the `full_flow` example run to its
//! end. The server's own protocol (every way the flow must fail) is tested beside it, in
//! `dev-issuer/tests/`.
//!
//! Run it through `cargo test --workspace` (or plain `cargo test`), which builds the
//! examples; `cargo test --test full_flow` alone would drive a stale example binary.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use tokengate::Validator;
use tokengate_dev_issuer::DevServer;
use tokengate_dev_issuer::client::{Pkce, check_callback, form_urlencode, new_state};

/// Never contacted: the test reads the redirect from the `Location` header.
const REDIRECT: &str = "http://127.0.0.1:9/callback";
const APP: (&str, &str) = ("app", "app-secret");
const USER: &str = "alice";

async fn start() -> DevServer {
    DevServer::builder()
        .client(APP.0, APP.1, [REDIRECT], ["read", "admin"])
        .user(USER)
        .start()
        .await
        .unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A token or introspection endpoint's answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    json: Value,
    headers: reqwest::header::HeaderMap,
}

impl Answer {
    fn str(&self, name: &str) -> &str {
        self.json[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name}: {self:?}"))
    }

    #[track_caller]
    fn assert_error(&self, status: u16, error: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.json["error"], error, "{self:?}");
    }
}

/// POSTs a form as `APP`, authenticating with `client_secret_basic`.
async fn post(url: &str, pairs: &[(&str, &str)]) -> Answer {
    let response = http()
        .post(url)
        .basic_auth(APP.0, Some(APP.1))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_urlencode(pairs))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap();
    let json = serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    Answer {
        status,
        json,
        headers,
    }
}

/// A code for `APP` through the front channel, scope `read`, checked as a client checks it.
async fn code_for(server: &DevServer, state: &str, pkce: &Pkce) -> String {
    let query = form_urlencode(&[
        ("response_type", "code"),
        ("client_id", APP.0),
        ("redirect_uri", REDIRECT),
        ("scope", "read"),
        ("state", state),
        ("code_challenge", pkce.challenge()),
        ("code_challenge_method", "S256"),
    ]);
    let url = format!("{}?{query}", server.authorization_endpoint());
    let response = http().get(url).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap();
    check_callback(location, REDIRECT, state, Some(server.issuer())).unwrap()
}

async fn exchange(server: &DevServer, code: &str, verifier: &str) -> Answer {
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ];
    post(&server.token_endpoint(), &pairs).await
}

async fn refresh(server: &DevServer, refresh_token: &str) -> Answer {
    let pairs = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    post(&server.token_endpoint(), &pairs).await
}

async fn introspect(server: &DevServer, token: &str) -> Answer {
    post(&server.introspection_endpoint(), &[("token", token)]).await
}

#[tokio::test]
async fn happy_path_code_token_api_refresh_api_then_the_old_refresh_token_is_refused() {
    let server = start().await;
    let validator = Validator::builder()
        .issuer(server.issuer())
        .audience(server.audience())
        .build()
        .unwrap();
    let api = common::serve(validator).await;

    // The front channel: a redirect to exactly the registered URI, with our state.
    let (state, pkce) = (new_state(), Pkce::new());
    let code = code_for(&server, &state, &pkce).await;

    // The code exchange (RFC 6749 4.1.3, 5.1).
    let answer = exchange(&server, &code, pkce.verifier()).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.headers["cache-control"], "no-store");
    assert_eq!(answer.json["token_type"], "Bearer");
    assert_eq!(answer.json["scope"], "read");
    assert_eq!(answer.json["expires_in"], 300);
    let access_token = answer.str("access_token").to_owned();
    let refresh_token = answer.str("refresh_token").to_owned();

    // The API (both adapters) accepts the access token and sees who and what.
    let me = api.get("/me", Some(&access_token)).await;
    assert_eq!(me.status, 200, "{me:?}");
    let claims = me.json();
    assert_eq!(claims["sub"], USER);
    assert_eq!(claims["client_id"], APP.0);
    assert_eq!(claims["scope"], "read");
    assert_eq!(claims["aud"], server.audience());
    assert_eq!(claims["iss"], server.issuer());
    let admin = api.get("/admin", Some(&access_token)).await;
    assert_eq!(admin.status, 403, "{admin:?}");

    // Refresh (RFC 6749 6): new tokens, and the API accepts the new access token.
    let refreshed = refresh(&server, &refresh_token).await;
    assert_eq!(refreshed.status, 200, "{refreshed:?}");
    let new_access_token = refreshed.str("access_token").to_owned();
    let new_refresh_token = refreshed.str("refresh_token").to_owned();
    assert_ne!(new_access_token, access_token);
    assert_ne!(new_refresh_token, refresh_token);
    assert_eq!(refreshed.json["scope"], "read");
    let me = api.get("/me", Some(&new_access_token)).await;
    assert_eq!(me.status, 200, "{me:?}");
    assert_eq!(me.json()["sub"], USER);
    assert_eq!(
        introspect(&server, &new_access_token).await.json["active"],
        true
    );

    // The old refresh token was rotated out: refused...
    refresh(&server, &refresh_token)
        .await
        .assert_error(400, "invalid_grant");
    // ...and its replay revoked the grant (RFC 9700 4.14.2): the current refresh token
    // and the access tokens too.
    refresh(&server, &new_refresh_token)
        .await
        .assert_error(400, "invalid_grant");
    assert_eq!(
        introspect(&server, &new_access_token).await.json,
        json!({"active": false})
    );
}

/// `cargo test` builds the examples next to the test binaries: target/<profile>/examples.
fn example_path(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().unwrap();
    dir.pop(); // the test binary
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test --workspace`, which builds the examples",
        path.display()
    );
    path
}

#[tokio::test]
async fn the_full_flow_example_runs_to_the_end_and_exits_0() {
    let run = tokio::process::Command::new(example_path("full_flow"))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the example did not finish within 120 s")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        output.status
    );
    // Every arrow of the diagram, in order.
    let mut rest = stdout.as_ref();
    for marker in [
        "GET http://127.0.0.1:",
        "/authorize?response_type=code&client_id=example-app&redirect_uri=",
        "&code_challenge_method=S256",
        "← 302 Found  Location: http://127.0.0.1:",
        "✓ state is the one the client sent",
        "POST /token (client_secret_basic as example-app) grant_type=authorization_code",
        "code_verifier=",
        "GET /me  Authorization: Bearer eyJ",
        "← 200 {",
        "GET /admin",
        "← 403",
        "grant_type=refresh_token",
        "POST /introspect",
        "\"active\":true",
        "grant_type=client_credentials",
        "\"sub\":\"example-service\"",
        "400 {\"error\":\"invalid_grant\"",
        "{\"active\":false}",
        "the client refuses it",
        "Every step went as RFC 6749",
    ] {
        let at = rest
            .find(marker)
            .unwrap_or_else(|| panic!("{marker:?} missing (or out of order) in:\n{stdout}"));
        rest = &rest[at + marker.len()..];
    }
}
