//! Shared by the integration tests: an axum API guarded by tokengate, served on
//! 127.0.0.1 for the length of one test, and a client to call it.
#![allow(dead_code)]

use std::time::Duration;

use axum::{Json, Router, routing::get};
use serde_json::{Value, json};
use tokengate::testing::MockIssuer;
use tokengate::{Validator, ValidatorBuilder};
use tokengate_tower::{Claims, RequireScopeLayer, TokenGateLayer};

/// A running API: the routes of the examples, in-process.
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.server.abort();
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
    let protected = Router::new()
        .route("/me", get(|Claims(c): Claims| async move { Json(c) }))
        .route(
            "/admin",
            get(|| async { Json(json!({"admin": true})) }).layer(RequireScopeLayer::new("admin")),
        )
        .layer(TokenGateLayer::new(validator.clone()));
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
        .layer(TokenGateLayer::new(validator).optional());
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(protected)
        .merge(optional)
}

/// Serves `router(validator)` on 127.0.0.1 until the returned [`Api`] is dropped.
pub async fn serve(validator: Validator) -> Api {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(validator);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Api {
        base,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        server,
    }
}

/// A response reduced to what the contract speaks of.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub challenge: Option<String>,
    pub retry_after: Option<String>,
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
    let status = response.status().as_u16();
    Reply {
        status,
        challenge,
        retry_after,
        body: response.text().await.unwrap(),
    }
}

impl Api {
    /// GET `path` with `Authorization: Bearer {token}` when a token is given.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        reply(request.send().await.unwrap()).await
    }

    /// GET `path` with these raw `Authorization` header values.
    pub async fn get_with_headers(&self, path: &str, authorization: &[&str]) -> Reply {
        let mut request = self.client.get(format!("{}{path}", self.base));
        for value in authorization {
            request = request.header("authorization", *value);
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
