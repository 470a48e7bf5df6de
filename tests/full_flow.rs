//! The development authorization server (feature `dev-issuer`) over real HTTP on
//! 127.0.0.1: the whole authorization code flow against an API guarded by both adapters,
//! and every way the flow must fail (RFC 6749, RFC 7636, RFC 7662). Then the
//! `full_flow` example, run to its end.
//!
//! Run it through `cargo test --workspace` (or plain `cargo test`), which builds the
//! examples; `cargo test --test full_flow` alone would drive a stale example binary.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;
use serde_json::{Value, json};
use tokengate::Validator;
use tokengate::dev_server::client::{
    CallbackError, Pkce, check_callback, form_urlencode, new_state,
};
use tokengate::dev_server::{DevServer, DevServerBuilder, DevServerError};

/// Never contacted: the tests read the redirect from the `Location` header.
const REDIRECT: &str = "http://127.0.0.1:9/callback";
const OTHER_REDIRECT: &str = "http://127.0.0.1:9/other-callback";
const APP: (&str, &str) = ("app", "app-secret");
const OTHER_APP: (&str, &str) = ("other-app", "other-secret");
const SERVICE: (&str, &str) = ("service", "service-secret");
const PUBLIC_APP: &str = "public-app";
const USER: &str = "alice";

fn builder() -> DevServerBuilder {
    DevServer::builder()
        .client(APP.0, APP.1, [REDIRECT, OTHER_REDIRECT], ["read", "admin"])
        .client(OTHER_APP.0, OTHER_APP.1, [REDIRECT], ["read"])
        .client(SERVICE.0, SERVICE.1, Vec::<String>::new(), ["read"])
        .public_client(PUBLIC_APP, [REDIRECT], ["read"])
        .user(USER)
}

async fn start() -> DevServer {
    builder().start().await.unwrap()
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
        assert_eq!(self.headers["cache-control"], "no-store", "{self:?}");
    }
}

/// POSTs a form, authenticating with `client_secret_basic` when `auth` is given.
async fn post(url: &str, auth: Option<(&str, &str)>, pairs: &[(&str, &str)]) -> Answer {
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

async fn token(server: &DevServer, auth: Option<(&str, &str)>, pairs: &[(&str, &str)]) -> Answer {
    post(&server.token_endpoint(), auth, pairs).await
}

async fn introspect(server: &DevServer, auth: Option<(&str, &str)>, token: &str) -> Answer {
    post(&server.introspection_endpoint(), auth, &[("token", token)]).await
}

/// The authorization request's parameters for `APP`, `REDIRECT`, scope `read`.
fn params<'a>(state: &'a str, pkce: &'a Pkce) -> Vec<(&'a str, &'a str)> {
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
fn with<'a>(
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
async fn authorize(server: &DevServer, params: &[(&str, &str)]) -> (u16, Option<String>, String) {
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
fn query(location: &str) -> HashMap<String, String> {
    Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// Authorizes with these parameters and returns the redirect's parameters, checking that
/// it went to `REDIRECT`.
async fn redirected(server: &DevServer, params: &[(&str, &str)]) -> HashMap<String, String> {
    let (status, location, body) = authorize(server, params).await;
    assert_eq!(status, 302, "{body}");
    let location = location.unwrap();
    assert!(location.starts_with(&format!("{REDIRECT}?")), "{location}");
    query(&location)
}

/// A code for `APP` through the whole front channel, checked as the client checks it.
async fn code_for(server: &DevServer, state: &str, pkce: &Pkce) -> String {
    let (status, location, body) = authorize(server, &params(state, pkce)).await;
    assert_eq!(status, 302, "{body}");
    check_callback(&location.unwrap(), REDIRECT, state, Some(server.issuer())).unwrap()
}

async fn exchange(server: &DevServer, code: &str, verifier: &str) -> Answer {
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

async fn refresh(server: &DevServer, refresh_token: &str) -> Answer {
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
async fn tokens(server: &DevServer) -> (String, String) {
    let (state, pkce) = (new_state(), Pkce::new());
    let code = code_for(server, &state, &pkce).await;
    let answer = exchange(server, &code, pkce.verifier()).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    (
        answer.str("access_token").to_owned(),
        answer.str("refresh_token").to_owned(),
    )
}

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
        introspect(&server, Some(APP), &new_access_token).await.json["active"],
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
        introspect(&server, Some(APP), &new_access_token).await.json,
        json!({"active": false})
    );
}

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
async fn a_bad_redirect_uri_at_authorize_is_a_400_page_never_a_redirect() {
    let server = start().await;
    let (state, pkce) = (new_state(), Pkce::new());
    let good = params(&state, &pkce);
    let attacker = "http://127.0.0.1:9/callback.evil";
    let cases: Vec<Vec<(&str, &str)>> = vec![
        // Not registered, or only nearly: exact string comparison (RFC 6749 3.1.2.3).
        with(
            good.clone(),
            "redirect_uri",
            Some("https://evil.example/callback"),
        ),
        with(good.clone(), "redirect_uri", Some(attacker)),
        with(
            good.clone(),
            "redirect_uri",
            Some("http://127.0.0.1:9/callback/"),
        ),
        with(
            good.clone(),
            "redirect_uri",
            Some("http://127.0.0.1:9/callback?x=1"),
        ),
        with(
            good.clone(),
            "redirect_uri",
            Some("http://127.0.0.1:10/callback"),
        ),
        with(
            good.clone(),
            "redirect_uri",
            Some("HTTP://127.0.0.1:9/callback"),
        ),
        with(
            good.clone(),
            "redirect_uri",
            Some("http://localhost:9/callback"),
        ),
        // Registered, but for another client.
        with(
            with(good.clone(), "client_id", Some(OTHER_APP.0)),
            "redirect_uri",
            Some(OTHER_REDIRECT),
        ),
        // APP has two redirect URIs: it must name one.
        with(good.clone(), "redirect_uri", None),
        // Duplicated.
        [good.clone(), vec![("redirect_uri", attacker)]].concat(),
        // The client itself is unknown or missing: no redirect URI can be trusted.
        with(good.clone(), "client_id", Some("nobody")),
        with(good.clone(), "client_id", None),
    ];
    for case in cases {
        let (status, location, body) = authorize(&server, &case).await;
        assert_eq!(status, 400, "{case:?}");
        assert_eq!(location, None, "{case:?}");
        assert!(body.contains("development authorization server"), "{body}");
        assert!(!body.contains("code="), "{body}");
    }
    // Even with other errors in the request, a bad redirect URI gets the page.
    let bad = with(
        with(good.clone(), "redirect_uri", Some(attacker)),
        "code_challenge_method",
        Some("plain"),
    );
    let (status, location, _) = authorize(&server, &bad).await;
    assert_eq!((status, location), (400, None));
    // The one registered URI may be left out when it is the only one.
    let single = with(
        with(good.clone(), "client_id", Some(OTHER_APP.0)),
        "redirect_uri",
        None,
    );
    let query = redirected(&server, &single).await;
    assert!(query.contains_key("code"), "{query:?}");
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
async fn state_is_passed_through_verbatim_and_the_client_checks_it() {
    let server = start().await;
    let pkce = Pkce::new();
    // Any characters come back exactly as sent.
    let state = "a b&c=d/é+%25?#";
    let query = redirected(&server, &params(state, &pkce)).await;
    assert_eq!(query["state"], state);
    assert_eq!(query["iss"], server.issuer());

    // With no state, none comes back; the client, which always sends one, refuses that.
    let sent = new_state();
    let (_, location, _) = authorize(&server, &with(params(&sent, &pkce), "state", None)).await;
    let location = location.unwrap();
    assert!(
        !query_keys(&location).contains(&"state".to_owned()),
        "{location}"
    );
    assert_eq!(
        check_callback(&location, REDIRECT, &sent, Some(server.issuer())),
        Err(CallbackError::MissingState)
    );

    // A response to someone else's request (another state) is refused too.
    let theirs = new_state();
    let (_, location, _) = authorize(&server, &params(&theirs, &pkce)).await;
    let location = location.unwrap();
    assert_eq!(
        check_callback(&location, REDIRECT, &sent, Some(server.issuer())),
        Err(CallbackError::StateMismatch)
    );
    // And with our state, from our server, the code is accepted.
    assert!(check_callback(&location, REDIRECT, &theirs, Some(server.issuer())).is_ok());
    // From another authorization server (RFC 9207 mix-up): refused.
    assert_eq!(
        check_callback(&location, REDIRECT, &theirs, Some("http://127.0.0.1:1")),
        Err(CallbackError::IssuerMismatch)
    );

    // Error redirects carry the state as well (RFC 6749 4.1.2.1).
    let query = redirected(&server, &with(params(&sent, &pkce), "code_challenge", None)).await;
    assert_eq!(query["state"], sent);
}

fn query_keys(location: &str) -> Vec<String> {
    query(location).into_keys().collect()
}

#[tokio::test]
async fn pkce_is_required_and_plain_is_refused() {
    let server = start().await;
    let (state, pkce) = (new_state(), Pkce::new());
    let good = params(&state, &pkce);
    let plain_challenge = "a".repeat(43);
    let cases = [
        with(good.clone(), "code_challenge_method", Some("plain")),
        // RFC 7636 4.3: no method means plain.
        with(good.clone(), "code_challenge_method", None),
        with(good.clone(), "code_challenge_method", Some("S512")),
        with(good.clone(), "code_challenge", None),
        with(
            with(good.clone(), "code_challenge", None),
            "code_challenge_method",
            None,
        ),
        with(good.clone(), "code_challenge", Some("too-short")),
        with(
            with(good.clone(), "code_challenge", Some(&plain_challenge)),
            "code_challenge_method",
            Some("plain"),
        ),
    ];
    for case in cases {
        let query = redirected(&server, &case).await;
        assert_eq!(query["error"], "invalid_request", "{case:?}: {query:?}");
        assert_eq!(query["state"], state, "{case:?}");
        assert!(!query.contains_key("code"), "{case:?}: {query:?}");
        assert_eq!(
            check_callback(
                &format!("{REDIRECT}?{}", form_urlencode(&as_pairs(&query))),
                REDIRECT,
                &state,
                None
            )
            .map_err(|e| matches!(e, CallbackError::Refused { .. })),
            Err(true)
        );
    }
}

fn as_pairs(query: &HashMap<String, String>) -> Vec<(&str, &str)> {
    query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[tokio::test]
async fn other_authorization_request_errors_redirect_with_their_rfc_6749_codes() {
    let server = start().await;
    let (state, pkce) = (new_state(), Pkce::new());
    let good = params(&state, &pkce);
    let cases = [
        (
            with(good.clone(), "response_type", Some("token")),
            "unsupported_response_type",
        ),
        (with(good.clone(), "response_type", None), "invalid_request"),
        (
            with(good.clone(), "scope", Some("read write")),
            "invalid_scope",
        ),
        (
            [good.clone(), vec![("scope", "admin")]].concat(),
            "invalid_request",
        ),
    ];
    for (case, error) in cases {
        let query = redirected(&server, &case).await;
        assert_eq!(query["error"], error, "{case:?}: {query:?}");
        assert!(!query.contains_key("code"), "{query:?}");
    }
}

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
        tokengate::dev_server::DEFAULT_REDIRECT_URI,
        &[
            ("response_type", "code"),
            ("client_id", tokengate::dev_server::DEFAULT_CLIENT_ID),
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
