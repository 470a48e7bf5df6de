//! Shared by the integration tests: the examples' API guarded by tokengate, served on
//! 127.0.0.1 by BOTH adapters (axum and actix-web, sharing one validator) for the length
//! of one test, and a client that sends every request to both and checks that they
//! answer alike.
#![allow(dead_code)]

pub mod both;
pub mod examples;

use std::time::Duration;

use axum::{Json, Router, routing::get};
use serde_json::{Value, json};
use tokengate::testing::MockIssuer;
use tokengate::{Gate, Validator, ValidatorBuilder};
use tokengate_tower::{Claims, RequireScopeLayer, TokenGateLayer};

/// A running API: the routes of the examples, in-process, on both adapters.
///
/// `base` is the axum server (for tests that drive load directly); [`Api::get`] asks
/// both and asserts they agree on status, challenge and `Retry-After`.
pub struct Api {
    pub base: String,
    pub actix_base: String,
    pub client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
    actix: actix_web::dev::ServerHandle,
    /// Whether [`Api::get`] asks both adapters (off for timing-driven lifecycle tests,
    /// where the key set may legitimately change between the two requests).
    compare: bool,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.server.abort();
        // The stop command is sent when `stop` is called; no need to await it.
        drop(self.actix.stop(false));
    }
}

/// A validator for `issuer`, with a short fetch timeout so failures are quick.
pub fn builder_for(issuer: &MockIssuer) -> ValidatorBuilder {
    Validator::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .fetch_timeout(Duration::from_secs(2))
}

pub fn router(validator: Validator) -> Router {
    router_with(Gate::new(validator))
}

/// [`router`] with the protected routes behind `gate` (the optional route keeps a plain
/// optional gate on the same validator).
pub fn router_with(gate: Gate) -> Router {
    let validator = gate.validator().clone();
    let protected = Router::new()
        .route("/me", get(|Claims(c): Claims| async move { Json(c) }))
        .route(
            "/admin",
            get(|| async { Json(json!({"admin": true})) }).layer(RequireScopeLayer::new("admin")),
        )
        .route(
            "/orders",
            get(|| async { Json(json!({"orders": []})) }).layer(
                tokengate_tower::RequireLayer::new(tokengate::Requirement::any_scope([
                    "admin",
                    "orders:write",
                ])),
            ),
        )
        .layer(TokenGateLayer::new(gate));
    let optional = Router::new()
        .route(
            "/greet",
            get(|claims: Option<Claims>| async move {
                match claims {
                    Some(Claims(c)) => format!("hello {}", c.subject().unwrap_or("?")),
                    None => "hello stranger".to_owned(),
                }
            }),
        )
        .layer(TokenGateLayer::new(Gate::new(validator).optional()));
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(protected)
        .merge(optional)
}

/// The same routes on actix-web.
fn actix_server(validator: Validator) -> (String, actix_web::dev::Server) {
    actix_server_with(Gate::new(validator))
}

fn actix_server_with(gate: Gate) -> (String, actix_web::dev::Server) {
    let validator = gate.validator().clone();
    use actix_web::{App, HttpServer, web};
    use tokengate_actix::{Claims as ActixClaims, RequireScope, TokenGate};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        App::new()
            .route("/health", web::get().to(|| async { "ok" }))
            .service(
                web::scope("/greet")
                    .wrap(TokenGate::new(Gate::new(validator.clone()).optional()))
                    .route(
                        "",
                        web::get().to(|claims: Option<ActixClaims>| async move {
                            match claims {
                                Some(ActixClaims(c)) => {
                                    format!("hello {}", c.subject().unwrap_or("?"))
                                }
                                None => "hello stranger".to_owned(),
                            }
                        }),
                    ),
            )
            .service(
                web::scope("")
                    .wrap(TokenGate::new(gate.clone()))
                    .route(
                        "/me",
                        web::get().to(|ActixClaims(c): ActixClaims| async move { web::Json(c) }),
                    )
                    .service(
                        web::resource("/admin")
                            .wrap(RequireScope::new("admin"))
                            .route(web::get().to(|| async { web::Json(json!({"admin": true})) })),
                    )
                    .service(
                        web::resource("/orders")
                            .wrap(tokengate_actix::Require::new(
                                tokengate::Requirement::any_scope(["admin", "orders:write"]),
                            ))
                            .route(web::get().to(|| async { web::Json(json!({"orders": []})) })),
                    ),
            )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    (base, server)
}

/// Serves the routes on both adapters until the returned [`Api`] is dropped.
pub async fn serve(validator: Validator) -> Api {
    serve_gated(|| Gate::new(validator.clone())).await
}

/// Serves the routes on both adapters, each behind its own gate from `gate` (so that,
/// for DPoP, each adapter has its own replay store and one proof can be sent to both).
pub async fn serve_gated(gate: impl Fn() -> Gate) -> Api {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router_with(gate());
    let server = tokio::spawn(async move {
        // With the peer address (`ConnectInfo`), as the trusted-proxy tests need.
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let _ = axum::serve(listener, app).await;
    });
    let (actix_base, actix_server) = actix_server_with(gate());
    let actix = actix_server.handle();
    tokio::spawn(actix_server);
    Api {
        base,
        actix_base,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        server,
        actix,
        compare: true,
    }
}

/// Like [`serve`], but [`Api::get`] asks only the axum adapter: for tests of the core's
/// timing (refreshes, backoff), where state may change between two requests.
pub async fn serve_one(validator: Validator) -> Api {
    let mut api = serve(validator).await;
    api.compare = false;
    api
}

/// A response reduced to what the contract speaks of.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub challenge: Option<String>,
    pub retry_after: Option<String>,
    /// The `DPoP-Nonce` response header (RFC 9449 section 9).
    pub dpop_nonce: Option<String>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }

    /// The `error` attribute of the challenge, if any.
    pub fn error(&self) -> Option<String> {
        let c = self.challenge.as_deref()?;
        let start = c.find("error=\"")? + 7;
        Some(c[start..][..c[start..].find('"')?].to_owned())
    }

    #[track_caller]
    pub fn assert_invalid_token(&self) {
        assert_eq!(self.status, 401, "{self:?}");
        assert_eq!(self.error().as_deref(), Some("invalid_token"), "{self:?}");
    }
}

pub async fn reply(response: reqwest::Response) -> Reply {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (challenge, retry_after) = (header("www-authenticate"), header("retry-after"));
    let dpop_nonce = header("dpop-nonce");
    let status = response.status().as_u16();
    Reply {
        status,
        challenge,
        retry_after,
        dpop_nonce,
        body: response.text().await.unwrap(),
    }
}

impl Api {
    /// GET `path` with `Authorization: Bearer {token}` when a token is given, from both
    /// adapters; asserts they agree and returns axum's reply.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let header = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<&str> = header.iter().map(String::as_str).collect();
        self.get_with_headers(path, &headers).await
    }

    /// GET `/me` with `token` every 50 ms until it is refused with 401 (for up to 10 s):
    /// for changes that take effect at the next key-set refresh. The last status.
    pub async fn status_once_refused(&self, token: &str) -> u16 {
        let mut status = 200;
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            status = self.get("/me", Some(token)).await.status;
            if status == 401 {
                break;
            }
        }
        status
    }

    /// GET `path` with these raw `Authorization` header values, from both adapters.
    pub async fn get_with_headers(&self, path: &str, authorization: &[&str]) -> Reply {
        let headers: Vec<(&str, &str)> = authorization
            .iter()
            .map(|v| ("authorization", *v))
            .collect();
        self.get_with(path, &headers).await
    }

    /// GET `path` with these raw headers (name, value), from both adapters.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let axum = self.send_to(&self.base, path, headers).await;
        if !self.compare {
            return axum;
        }
        let actix = self.send_to(&self.actix_base, path, headers).await;
        assert_eq!(
            (
                axum.status,
                &axum.challenge,
                axum.retry_after.is_some(),
                axum.dpop_nonce.is_some()
            ),
            (
                actix.status,
                &actix.challenge,
                actix.retry_after.is_some(),
                actix.dpop_nonce.is_some()
            ),
            "the adapters disagree on GET {path}:\n axum: {axum:?}\nactix: {actix:?}"
        );
        if axum.status == 200 {
            assert_eq!(
                axum.body, actix.body,
                "the adapters' bodies differ on GET {path}"
            );
        }
        axum
    }

    /// GET `base` + `path` with these raw headers: one adapter.
    pub async fn send_to(&self, base: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.client.get(format!("{base}{path}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        reply(request.send().await.unwrap()).await
    }
}

/// An issuer and an API trusting it, with default settings but a short fetch timeout.
pub async fn issuer_and_api() -> (MockIssuer, Api) {
    let issuer = MockIssuer::start().await;
    let api = serve(builder_for(&issuer).build().unwrap()).await;
    (issuer, api)
}
