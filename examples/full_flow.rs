//! The whole OAuth 2.0 flow, live on 127.0.0.1: the sequence diagram of an OAuth guide,
//! run for real and printed step by step.
//!
//! ```sh
//! cargo run --example full_flow
//! ```
//!
//! It starts the development authorization server (the `tokengate-dev-issuer` crate, a
//! dev-dependency), an axum API protected by tokengate, and a callback endpoint for the
//! client; then it plays the client: discovery, the authorization request with `state`
//! and PKCE, the redirect, the `state` check, the code exchange, API calls, a refresh,
//! introspection, the client credentials grant, and what happens when a spent refresh
//! token or a forged callback comes back. It exits 0 when every step went as the RFCs
//! say, and 1 naming the step that did not.

use std::fmt::Display;
use std::process::ExitCode;
use std::time::Duration;

use axum::extract::State;
use axum::http::Uri;
use axum::{Json, Router, routing::get};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tokengate::Validator;
use tokengate_dev_issuer::DevServer;
use tokengate_dev_issuer::client::{Pkce, check_callback, form_urlencode, new_state};
use tokengate_tower::{Claims, RequireScopeLayer, TokenGateLayer};
use tokio::sync::mpsc;

/// The whole flow must finish within this, or the example fails.
const DEADLINE: Duration = Duration::from_secs(60);
/// Each HTTP request must finish within this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

const USER: &str = "alice";
const APP: (&str, &str) = ("example-app", "app-secret");
const SERVICE: (&str, &str) = ("example-service", "service-secret");
const API: (&str, &str) = ("example-api", "api-secret");

type Step<T = ()> = Result<T, String>;

#[tokio::main]
async fn main() -> ExitCode {
    match tokio::time::timeout(DEADLINE, run()).await {
        Ok(Ok(())) => {
            println!();
            println!("Every step went as RFC 6749, RFC 7636, RFC 7662 and RFC 9207 say.");
            ExitCode::SUCCESS
        }
        Ok(Err(message)) => {
            eprintln!("\nFAILED: {message}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("\nFAILED: the flow did not finish within {DEADLINE:?}");
            ExitCode::FAILURE
        }
    }
}

/// Numbered steps, like the arrows of a sequence diagram.
struct Diagram {
    step: usize,
}

impl Diagram {
    fn arrow(&mut self, from_to: &str, what: impl Display) {
        self.step += 1;
        println!();
        println!("{:>2}. {from_to}: {what}", self.step);
    }

    fn back(&self, what: impl Display) {
        println!("    ← {what}");
    }

    fn note(&self, what: impl Display) {
        println!("    {what}");
    }

    fn check(&self, what: impl Display) {
        println!("    ✓ {what}");
    }

    fn fail(&self, what: impl Display) -> String {
        format!("step {}: {what}", self.step)
    }
}

/// A long token, shortened for printing.
fn short(text: &str) -> String {
    if text.len() <= 48 {
        text.to_owned()
    } else {
        format!("{}…({} chars)", &text[..24], text.len())
    }
}

/// A form body as sent, with long values shortened.
fn show_form(pairs: &[(&str, &str)]) -> String {
    let shown: Vec<String> = pairs
        .iter()
        .map(|pair| {
            let encoded = form_urlencode(&[*pair]);
            let (name, value) = encoded.split_once('=').unwrap_or((&encoded, ""));
            format!("{name}={}", short(value))
        })
        .collect();
    shown.join("&")
}

/// A JSON object with long strings shortened.
fn show_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let shown: serde_json::Map<String, Value> = map
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => (k.clone(), json!(short(s))),
                    other => (k.clone(), other.clone()),
                })
                .collect();
            Value::Object(shown).to_string()
        }
        other => other.to_string(),
    }
}

/// The claims of a JWT, decoded without verification: for display only (the API verifies).
fn peek_claims(jwt: &str) -> Value {
    jwt.split('.')
        .nth(1)
        .and_then(|payload| URL_SAFE_NO_PAD.decode(payload).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null)
}

fn string<'a>(value: &'a Value, name: &str, d: &Diagram) -> Step<&'a str> {
    value[name]
        .as_str()
        .ok_or_else(|| d.fail(format!("no {name} in {value}")))
}

struct Http {
    client: reqwest::Client,
}

impl Http {
    /// A form POST with `client_secret_basic` authentication; the status and JSON body.
    async fn post_form(
        &self,
        url: &str,
        (id, secret): (&str, &str),
        pairs: &[(&str, &str)],
        d: &Diagram,
    ) -> Step<(u16, Value)> {
        let response = self
            .client
            .post(url)
            .basic_auth(id, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_urlencode(pairs))
            .send()
            .await
            .map_err(|e| d.fail(format!("POST {url}: {e}")))?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|e| d.fail(format!("POST {url}: {e}")))?;
        let json = serde_json::from_str(&body).map_err(|_| {
            d.fail(format!(
                "POST {url}: {status} with a body that is not JSON: {body}"
            ))
        })?;
        Ok((status, json))
    }

    /// GET `url` with a bearer token: status, `WWW-Authenticate`, body.
    async fn get_bearer(&self, url: &str, token: &str, d: &Diagram) -> Step<(u16, String, String)> {
        let response = self
            .client
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| d.fail(format!("GET {url}: {e}")))?;
        let status = response.status().as_u16();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response
            .text()
            .await
            .map_err(|e| d.fail(format!("GET {url}: {e}")))?;
        Ok((status, challenge, body))
    }
}

/// The client's redirect endpoint: hands each request's URI to the flow.
async fn callback(State(tx): State<mpsc::Sender<Uri>>, uri: Uri) -> &'static str {
    let _ = tx.try_send(uri);
    "signed in: you can close this window"
}

async fn listen() -> Step<(tokio::net::TcpListener, String)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("no local address: {e}"))?;
    Ok((listener, format!("http://{addr}")))
}

async fn run() -> Step {
    // The client's callback endpoint, first: its URL is the redirect URI to register.
    let (callback_listener, client_base) = listen().await?;
    let redirect_uri = format!("{client_base}/callback");
    let (tx, mut callbacks) = mpsc::channel::<Uri>(4);
    let client_app = Router::new()
        .route("/callback", get(callback))
        .with_state(tx);
    tokio::spawn(async move {
        let _ = axum::serve(callback_listener, client_app).await;
    });

    let server = DevServer::builder()
        .client(APP.0, APP.1, [redirect_uri.as_str()], ["read", "admin"])
        .client(SERVICE.0, SERVICE.1, Vec::<String>::new(), ["read"])
        .client(API.0, API.1, Vec::<String>::new(), Vec::<String>::new())
        .user(USER)
        .audience("https://api.example.test")
        .start()
        .await
        .map_err(|e| e.to_string())?;

    // The protected API, as in examples/axum_api.rs.
    let validator = Validator::builder()
        .issuer(server.issuer())
        .audience(server.audience())
        .build()
        .map_err(|e| e.to_string())?;
    let api_app = Router::new()
        .route("/me", get(|Claims(c): Claims| async move { Json(c) }))
        .route(
            "/admin",
            get(|| async { Json(json!({"admin": true})) }).layer(RequireScopeLayer::new("admin")),
        )
        .layer(TokenGateLayer::new(validator));
    let (api_listener, api_base) = listen().await?;
    tokio::spawn(async move {
        let _ = axum::serve(api_listener, api_app).await;
    });

    let http = Http {
        client: reqwest::Client::builder()
            // The browser's redirect is followed by hand, to show it.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?,
    };

    println!("The whole OAuth 2.0 flow, live on 127.0.0.1");
    println!();
    println!(
        "  authorization server  {}   (DEVELOPMENT server: never use in production)",
        server.issuer()
    );
    println!("      endpoints at      http://{}", server.addr());
    println!("  protected API         {api_base}   (GET /me; GET /admin needs scope admin)");
    println!(
        "  client                {}, redirect URI {redirect_uri}",
        APP.0
    );
    println!("  user                  {USER} (signed in and consenting automatically)");

    let mut d = Diagram { step: 0 };

    // 1. Discovery (OpenID Connect Discovery / RFC 8414).
    let discovery_url = format!("{}/.well-known/openid-configuration", server.issuer());
    d.arrow(
        "client → authorization server",
        format!("GET {discovery_url}"),
    );
    let metadata: Value = http
        .client
        .get(&discovery_url)
        .send()
        .await
        .map_err(|e| d.fail(e))?
        .json()
        .await
        .map_err(|e| d.fail(e))?;
    let authorization_endpoint = string(&metadata, "authorization_endpoint", &d)?.to_owned();
    let token_endpoint = string(&metadata, "token_endpoint", &d)?.to_owned();
    let introspection_endpoint = string(&metadata, "introspection_endpoint", &d)?.to_owned();
    d.back(format!(
        "200 authorization_endpoint={authorization_endpoint}"
    ));
    d.note(format!("      token_endpoint={token_endpoint}"));
    d.note(format!(
        "      introspection_endpoint={introspection_endpoint}"
    ));
    d.note(format!(
        "      code_challenge_methods_supported={}",
        metadata["code_challenge_methods_supported"]
    ));
    if metadata["code_challenge_methods_supported"] != json!(["S256"]) {
        return Err(d.fail("the server does not offer PKCE with S256"));
    }

    // 2. The client's secrets for this one authorization.
    let (state, pkce) = (new_state(), Pkce::new());
    d.arrow(
        "client",
        "makes a fresh state (RFC 6749 10.12) and a PKCE pair (RFC 7636 4.1, 4.2)",
    );
    d.note(format!("state          = {state}"));
    d.note(format!(
        "code_verifier  = {}   (kept secret)",
        pkce.verifier()
    ));
    d.note(format!(
        "code_challenge = BASE64URL(SHA-256(code_verifier)) = {}",
        pkce.challenge()
    ));

    // 3. The authorization request (RFC 6749 4.1.1), through the user's browser.
    let mut authorize = reqwest::Url::parse(&authorization_endpoint).map_err(|e| d.fail(e))?;
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", APP.0)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", "read")
        .append_pair("state", &state)
        .append_pair("code_challenge", pkce.challenge())
        .append_pair("code_challenge_method", Pkce::METHOD);
    d.arrow(
        "client → browser → authorization server",
        format!("GET {authorize}"),
    );
    let response = http
        .client
        .get(authorize.clone())
        .send()
        .await
        .map_err(|e| d.fail(e))?;
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (302, Some(location)) = (response.status().as_u16(), location) else {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        return Err(d.fail(format!("expected a 302 redirect, got {status}: {body}")));
    };
    d.back(format!("302 Found  Location: {location}"));
    d.note(format!(
        "(the server signed in \"{USER}\", who consented at once: development server)"
    ));

    // 4. The browser follows the redirect to the client's callback (RFC 6749 4.1.2).
    d.arrow("browser → client", format!("GET {location}"));
    let response = http
        .client
        .get(&location)
        .send()
        .await
        .map_err(|e| d.fail(e))?;
    let uri = tokio::time::timeout(REQUEST_TIMEOUT, callbacks.recv())
        .await
        .ok()
        .flatten()
        .ok_or_else(|| d.fail("the callback endpoint received nothing"))?;
    d.back(format!(
        "{} (the client's callback endpoint has code, state and iss)",
        response.status()
    ));
    let code = check_callback(
        &format!("{client_base}{uri}"),
        &redirect_uri,
        &state,
        Some(server.issuer()),
    )
    .map_err(|e| d.fail(format!("the client refuses the callback: {e}")))?;
    d.check("state is the one the client sent: this response answers its own request");
    d.check("iss is the authorization server the client asked (RFC 9207)");
    d.note(format!("code = {code}"));

    // 5. The code exchange (RFC 6749 4.1.3), proving possession of the verifier.
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", pkce.verifier()),
    ];
    d.arrow(
        "client → authorization server",
        format!(
            "POST /token (client_secret_basic as {}) {}",
            APP.0,
            show_form(&form)
        ),
    );
    let (status, tokens) = http.post_form(&token_endpoint, APP, &form, &d).await?;
    if status != 200 {
        return Err(d.fail(format!("{status} {tokens}")));
    }
    d.back(format!("200 {}", show_json(&tokens)));
    let access_token = string(&tokens, "access_token", &d)?.to_owned();
    let refresh_token = string(&tokens, "refresh_token", &d)?.to_owned();
    d.note(format!(
        "access token claims (RFC 9068 JWT): {}",
        peek_claims(&access_token)
    ));

    // 6. The API call (RFC 6750).
    d.arrow(
        "client → API",
        format!("GET /me  Authorization: Bearer {}", short(&access_token)),
    );
    let (status, _, body) = http
        .get_bearer(&format!("{api_base}/me"), &access_token, &d)
        .await?;
    if status != 200 {
        return Err(d.fail(format!("expected 200, got {status} {body}")));
    }
    d.back(format!("200 {body}"));

    // 7. Scope is enforced by the API.
    d.arrow(
        "client → API",
        format!("GET /admin  Authorization: Bearer {}", short(&access_token)),
    );
    let (status, challenge, _) = http
        .get_bearer(&format!("{api_base}/admin"), &access_token, &d)
        .await?;
    if status != 403 || !challenge.contains("insufficient_scope") {
        return Err(d.fail(format!(
            "expected 403 insufficient_scope, got {status} {challenge}"
        )));
    }
    d.back(format!("403  WWW-Authenticate: {challenge}"));
    d.note("(the user granted scope read only)");

    // 8. Refresh (RFC 6749 6), with rotation.
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.as_str()),
    ];
    d.arrow(
        "client → authorization server",
        format!(
            "POST /token (client_secret_basic as {}) {}",
            APP.0,
            show_form(&form)
        ),
    );
    let (status, refreshed) = http.post_form(&token_endpoint, APP, &form, &d).await?;
    if status != 200 {
        return Err(d.fail(format!("{status} {refreshed}")));
    }
    d.back(format!("200 {}", show_json(&refreshed)));
    let new_access_token = string(&refreshed, "access_token", &d)?.to_owned();
    let new_refresh_token = string(&refreshed, "refresh_token", &d)?.to_owned();
    if new_refresh_token == refresh_token || new_access_token == access_token {
        return Err(d.fail("the refresh did not issue new tokens"));
    }
    d.note("(a new refresh token: the one just used is spent)");

    // 9. The API with the new access token.
    d.arrow(
        "client → API",
        format!(
            "GET /me  Authorization: Bearer {}",
            short(&new_access_token)
        ),
    );
    let (status, _, body) = http
        .get_bearer(&format!("{api_base}/me"), &new_access_token, &d)
        .await?;
    if status != 200 {
        return Err(d.fail(format!("expected 200, got {status} {body}")));
    }
    d.back(format!("200 {body}"));

    // 10. Introspection (RFC 7662), by the API with its own client credentials.
    let form = [("token", new_access_token.as_str())];
    d.arrow(
        "API → authorization server",
        format!(
            "POST /introspect (client_secret_basic as {}) {}",
            API.0,
            show_form(&form)
        ),
    );
    let (status, introspection) = http
        .post_form(&introspection_endpoint, API, &form, &d)
        .await?;
    if status != 200 || introspection["active"] != json!(true) {
        return Err(d.fail(format!(
            "expected an active token, got {status} {introspection}"
        )));
    }
    d.back(format!("200 {introspection}"));

    // 11. The client credentials grant (RFC 6749 4.4): a service acting for itself.
    let form = [("grant_type", "client_credentials"), ("scope", "read")];
    d.arrow(
        "service → authorization server",
        format!(
            "POST /token (client_secret_basic as {}) {}",
            SERVICE.0,
            show_form(&form)
        ),
    );
    let (status, service_tokens) = http.post_form(&token_endpoint, SERVICE, &form, &d).await?;
    if status != 200 || service_tokens.get("refresh_token").is_some() {
        return Err(d.fail(format!(
            "expected an access token alone, got {status} {service_tokens}"
        )));
    }
    d.back(format!("200 {}", show_json(&service_tokens)));
    d.note("(no refresh token: the service can always ask again, RFC 6749 4.4.3)");
    let service_token = string(&service_tokens, "access_token", &d)?.to_owned();

    // 12. The service calls the API.
    d.arrow(
        "service → API",
        format!("GET /me  Authorization: Bearer {}", short(&service_token)),
    );
    let (status, _, body) = http
        .get_bearer(&format!("{api_base}/me"), &service_token, &d)
        .await?;
    let sub = serde_json::from_str::<Value>(&body).unwrap_or_default()["sub"].clone();
    if status != 200 || sub != json!(SERVICE.0) {
        return Err(d.fail(format!(
            "expected 200 with sub {}, got {status} {body}",
            SERVICE.0
        )));
    }
    d.back(format!("200 {body}"));

    // 13. A spent refresh token comes back: theft is assumed (RFC 9700 4.14.2).
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.as_str()),
    ];
    d.arrow(
        "someone → authorization server",
        format!(
            "POST /token (as {}) replaying the spent refresh token: {}",
            APP.0,
            show_form(&form)
        ),
    );
    let (status, refused) = http.post_form(&token_endpoint, APP, &form, &d).await?;
    if status != 400 || refused["error"] != json!("invalid_grant") {
        return Err(d.fail(format!(
            "expected 400 invalid_grant, got {status} {refused}"
        )));
    }
    d.back(format!("400 {refused}"));

    // 14. ... which revoked the whole grant.
    let form = [("token", new_access_token.as_str())];
    d.arrow(
        "API → authorization server",
        format!("POST /introspect (as {}) {}", API.0, show_form(&form)),
    );
    let (status, introspection) = http
        .post_form(&introspection_endpoint, API, &form, &d)
        .await?;
    if status != 200 || introspection != json!({"active": false}) {
        return Err(d.fail(format!(
            "expected an inactive token, got {status} {introspection}"
        )));
    }
    d.back(format!("200 {introspection}"));
    d.note("(revoked with its grant; an API that validates the JWT locally still accepts it");
    d.note(" until it expires: keep access tokens short-lived, or introspect)");

    // 15. A forged callback: someone makes the browser deliver their own code.
    let forged = format!("{redirect_uri}?code=attackers-code");
    d.arrow("someone → browser → client", format!("GET {forged}"));
    match check_callback(&forged, &redirect_uri, &state, Some(server.issuer())) {
        Err(refusal) => d.check(format!("the client refuses it: {refusal}")),
        Ok(_) => return Err(d.fail("the client accepted a callback without state")),
    }
    let forged = format!("{redirect_uri}?code=attackers-code&state={}", new_state());
    d.note(format!("and GET {forged}"));
    match check_callback(&forged, &redirect_uri, &state, Some(server.issuer())) {
        Err(refusal) => d.check(format!("the client refuses it: {refusal}")),
        Ok(_) => return Err(d.fail("the client accepted a callback with another state")),
    }
    Ok(())
}
