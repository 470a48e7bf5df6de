//! Shared by the protocol tests: a server with several kinds of client, and a client
//! that speaks to its endpoints over real HTTP on 127.0.0.1.
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use tokengate_dev_issuer::client::{Pkce, check_callback, form_urlencode, new_state};
use tokengate_dev_issuer::{DevServer, DevServerBuilder};
use url::Url;

/// Never contacted: the tests read the redirect from the `Location` header.
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";
pub const OTHER_REDIRECT: &str = "http://127.0.0.1:9/other-callback";
pub const APP: (&str, &str) = ("app", "app-secret");
pub const OTHER_APP: (&str, &str) = ("other-app", "other-secret");
pub const SERVICE: (&str, &str) = ("service", "service-secret");
pub const PUBLIC_APP: &str = "public-app";
pub const USER: &str = "alice";

pub fn builder() -> DevServerBuilder {
    DevServer::builder()
        .client(APP.0, APP.1, [REDIRECT, OTHER_REDIRECT], ["read", "admin"])
        .client(OTHER_APP.0, OTHER_APP.1, [REDIRECT], ["read"])
        .client(SERVICE.0, SERVICE.1, Vec::<String>::new(), ["read"])
        .public_client(PUBLIC_APP, [REDIRECT], ["read"])
        .user(USER)
}

pub async fn start() -> DevServer {
    builder().start().await.unwrap()
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A token or introspection endpoint's answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub json: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    pub fn str(&self, name: &str) -> &str {
        self.json[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name}: {self:?}"))
    }

    #[track_caller]
    pub fn assert_error(&self, status: u16, error: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.json["error"], error, "{self:?}");
        assert_eq!(self.headers["cache-control"], "no-store", "{self:?}");
    }
}

/// POSTs a form, authenticating with `client_secret_basic` when `auth` is given.
pub async fn post(url: &str, auth: Option<(&str, &str)>, pairs: &[(&str, &str)]) -> Answer {
    let mut request = http()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_urlencode(pairs));
    if let Some((id, secret)) = auth {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
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

pub async fn token(
    server: &DevServer,
    auth: Option<(&str, &str)>,
    pairs: &[(&str, &str)],
) -> Answer {
    post(&server.token_endpoint(), auth, pairs).await
}

pub async fn introspect(server: &DevServer, auth: Option<(&str, &str)>, token: &str) -> Answer {
    post(&server.introspection_endpoint(), auth, &[("token", token)]).await
}

/// The authorization request's parameters for `APP`, `REDIRECT`, scope `read`.
pub fn params<'a>(state: &'a str, pkce: &'a Pkce) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", APP.0),
        ("redirect_uri", REDIRECT),
        ("scope", "read"),
        ("state", state),
        ("code_challenge", pkce.challenge()),
        ("code_challenge_method", "S256"),
    ]
}

/// Replaces (or with `None` removes) a parameter.
pub fn with<'a>(
    mut params: Vec<(&'a str, &'a str)>,
    name: &'a str,
    value: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    params.retain(|(n, _)| *n != name);
    if let Some(value) = value {
        params.push((name, value));
    }
    params
}

/// The authorization endpoint's answer: status, `Location` if any, body.
pub async fn authorize(
    server: &DevServer,
    params: &[(&str, &str)],
) -> (u16, Option<String>, String) {
    let url = format!(
        "{}?{}",
        server.authorization_endpoint(),
        form_urlencode(params)
    );
    let response = http().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, location, response.text().await.unwrap())
}

/// The query parameters of a redirect.
pub fn query(location: &str) -> HashMap<String, String> {
    Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// Authorizes with these parameters and returns the redirect's parameters, checking that
/// it went to `REDIRECT`.
pub async fn redirected(server: &DevServer, params: &[(&str, &str)]) -> HashMap<String, String> {
    let (status, location, body) = authorize(server, params).await;
    assert_eq!(status, 302, "{body}");
    let location = location.unwrap();
    assert!(location.starts_with(&format!("{REDIRECT}?")), "{location}");
    query(&location)
}

/// A code for `APP` through the whole front channel, checked as the client checks it.
pub async fn code_for(server: &DevServer, state: &str, pkce: &Pkce) -> String {
    let (status, location, body) = authorize(server, &params(state, pkce)).await;
    assert_eq!(status, 302, "{body}");
    check_callback(&location.unwrap(), REDIRECT, state, Some(server.issuer())).unwrap()
}

pub async fn exchange(server: &DevServer, code: &str, verifier: &str) -> Answer {
    token(
        server,
        Some(APP),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

pub async fn refresh(server: &DevServer, refresh_token: &str) -> Answer {
    token(
        server,
        Some(APP),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// A code exchanged for tokens: (access token, refresh token).
pub async fn tokens(server: &DevServer) -> (String, String) {
    let (state, pkce) = (new_state(), Pkce::new());
    let code = code_for(server, &state, &pkce).await;
    let answer = exchange(server, &code, pkce.verifier()).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    (
        answer.str("access_token").to_owned(),
        answer.str("refresh_token").to_owned(),
    )
}
