//! Rejection bodies users can shape (issue 15 item 5), over real HTTP through both
//! adapters: the RFC 6750 challenge always; an empty body by default; RFC 9457 problem
//! details or a custom body when the gate says so, for the gate's own refusals and for
//! those made inside it (a route requirement, an extractor, a handler); and the
//! `tokengate::Error` in every rejection's extensions for an outer layer.

mod common;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use serde_json::Value;
use tokengate::rejection_body::{Body, PROBLEM_JSON, RejectionBody};
use tokengate::require::Requirement;
use tokengate::testing::MockIssuer;
use tokengate::{Error, Gate};

use common::both::{ActixRoutes, Both, serve_both};

/// The header the outer layer of both apps writes from the `Error` it finds in a
/// rejection's extensions.
const SEEN: &str = "x-seen-error";

/// What the outer layer writes for an error: its RFC 6750 code, or what it is.
fn label(error: &Error) -> &'static str {
    match error {
        Error::MissingCredentials => "missing_credentials",
        Error::IssuerUnavailable { .. } => "issuer_unavailable",
        other => other.error_code().unwrap_or("other"),
    }
}

fn axum_app(gate: Gate) -> Router {
    use tokengate_tower::{Claims, Rejection, RequireLayer, TokenGateLayer};
    Router::new()
        .route("/me", get(|Claims(c): Claims| async move { axum::Json(c) }))
        .route(
            "/orders",
            get(|| async { "ok" }).layer(RequireLayer::new(Requirement::any_scope([
                "admin",
                "orders:write",
            ]))),
        )
        .route(
            "/handler",
            get(|Claims(c): Claims| async move {
                c.require(&Requirement::claim("tenant").equals("acme"))?;
                Ok::<_, Rejection>("ok")
            }),
        )
        // The extractor refuses claims that do not fit the handler's type.
        .route(
            "/typed",
            get(|Claims(c): Claims<Typed>| async move { c.tenant }),
        )
        .layer(TokenGateLayer::new(gate))
        // An outer layer that reads the core error of any rejection.
        .layer(axum::middleware::map_response(
            |mut response: axum::response::Response| async move {
                if let Some(error) = response.extensions().get::<Error>() {
                    let value = http::HeaderValue::from_static(label(error));
                    response.headers_mut().insert(SEEN, value);
                }
                response
            },
        ))
}

#[derive(serde::Deserialize)]
struct Typed {
    tenant: String,
}

fn actix_app(gate: Gate) -> ActixRoutes {
    use actix_web::dev::Service;
    use actix_web::web;
    use tokengate_actix::{Claims, Rejection, Require, TokenGate};
    Arc::new(move |cfg: &mut web::ServiceConfig| {
        cfg.service(
            web::scope("")
                // actix-web: the last wrap is the outermost.
                .wrap(TokenGate::new(gate.clone()))
                .route(
                    "/me",
                    web::get().to(|Claims(c): Claims| async move { web::Json(c) }),
                )
                .service(
                    web::resource("/orders")
                        .wrap(Require::new(Requirement::any_scope([
                            "admin",
                            "orders:write",
                        ])))
                        .to(|| async { "ok" }),
                )
                .route(
                    "/handler",
                    web::get().to(|Claims(c): Claims| async move {
                        c.require(&Requirement::claim("tenant").equals("acme"))?;
                        Ok::<_, Rejection>("ok")
                    }),
                )
                .route(
                    "/typed",
                    web::get().to(|Claims(c): Claims<Typed>| async move { c.tenant }),
                )
                .wrap_fn(|request, service| {
                    let response = service.call(request);
                    async move {
                        let mut response = response.await?;
                        let seen = response.response().extensions().get::<Error>().map(label);
                        if let Some(seen) = seen {
                            let value = actix_web::http::header::HeaderValue::from_static(seen);
                            response.headers_mut().insert(
                                actix_web::http::header::HeaderName::from_static(SEEN),
                                value,
                            );
                        }
                        Ok(response)
                    }
                }),
        );
    })
}

async fn serve(issuer: &MockIssuer, body: RejectionBody) -> Both {
    let gate = Gate::new(common::builder_for(issuer).build().unwrap()).rejection_body(body);
    serve_both(axum_app(gate.clone()), actix_app(gate)).await
}

/// GET with these headers from both adapters; the reply, its content type and the error
/// the outer layer saw (from the axum side; the actix side must agree).
async fn ask(
    api: &Both,
    path: &str,
    token: Option<&str>,
) -> (common::Reply, Option<String>, Option<String>) {
    let header = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = header
        .iter()
        .map(|h| ("authorization", h.as_str()))
        .collect();
    let (reply, content_type) = api.get(path, &headers).await;
    let client = reqwest::Client::new();
    let mut seen = Vec::new();
    for base in [&api.axum, &api.actix] {
        let mut request = client.get(format!("{base}{path}"));
        for (name, value) in &headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        seen.push(
            response
                .headers()
                .get(SEEN)
                .map(|v| v.to_str().unwrap().to_owned()),
        );
    }
    assert_eq!(
        seen[0], seen[1],
        "the outer layers saw different errors on {path}"
    );
    (reply, content_type, seen.remove(0))
}

#[track_caller]
fn problem(
    reply: &common::Reply,
    content_type: &Option<String>,
    status: u16,
    detail: &str,
) -> Value {
    assert_eq!(reply.status, status, "{reply:?}");
    assert_eq!(content_type.as_deref(), Some(PROBLEM_JSON), "{reply:?}");
    let json = reply.json();
    assert_eq!(json["status"], status);
    assert_eq!(json["type"], "about:blank");
    assert_eq!(json["detail"], detail);
    json
}

#[tokio::test]
async fn by_default_rejections_have_an_empty_body_and_the_error_in_their_extensions() {
    let issuer = MockIssuer::start().await;
    let api = serve(&issuer, RejectionBody::empty()).await;
    let (reply, content_type, seen) = ask(&api, "/me", None).await;
    assert_eq!(
        (reply.status, reply.challenge.as_deref()),
        (401, Some("Bearer"))
    );
    assert_eq!((reply.body.as_str(), content_type), ("", None));
    assert_eq!(seen.as_deref(), Some("missing_credentials"));
    let read = issuer.token().scope("orders:read").sign();
    let (reply, content_type, seen) = ask(&api, "/orders", Some(&read)).await;
    assert_eq!(
        (reply.status, reply.body.as_str(), content_type),
        (403, "", None)
    );
    assert_eq!(seen.as_deref(), Some("insufficient_scope"));
    // A response that is not a rejection carries no error.
    let (reply, _, seen) = ask(&api, "/me", Some(&read)).await;
    assert_eq!((reply.status, seen), (200, None));
}

#[tokio::test]
async fn problem_json_answers_the_gates_own_refusals_with_the_fixed_descriptions() {
    let issuer = MockIssuer::start().await;
    let api = serve(&issuer, RejectionBody::problem_json()).await;
    let (reply, content_type, seen) = ask(&api, "/me", None).await;
    let json = problem(&reply, &content_type, 401, "No access token was sent");
    assert_eq!(json["title"], "Unauthorized");
    assert!(json.get("error").is_none());
    assert_eq!(
        reply.challenge.as_deref(),
        Some("Bearer"),
        "the challenge stays"
    );
    assert_eq!(seen.as_deref(), Some("missing_credentials"));

    let expired = issuer.token().expires_in(-3600).sign();
    let (reply, content_type, seen) = ask(&api, "/me", Some(&expired)).await;
    let json = problem(&reply, &content_type, 401, "The access token expired");
    assert_eq!(json["error"], "invalid_token");
    assert!(
        reply
            .challenge
            .unwrap()
            .contains(r#"error="invalid_token""#)
    );
    assert_eq!(seen.as_deref(), Some("invalid_token"));

    // A claim that names a secret never reaches the body.
    let forged = issuer
        .token()
        .claim("iss", "https://evil.example/secret-tenant")
        .sign();
    let (reply, content_type, _) = ask(&api, "/me", Some(&forged)).await;
    problem(
        &reply,
        &content_type,
        401,
        "The access token was not issued for this resource",
    );
    assert!(!reply.body.contains("evil"));

    let (reply, content_type, seen) = ask(&api, "/me", Some("not a token")).await;
    problem(&reply, &content_type, 401, "The access token is malformed");
    assert_eq!(seen.as_deref(), Some("invalid_token"));
}

#[tokio::test]
async fn problem_json_answers_refusals_made_inside_the_gate() {
    let issuer = MockIssuer::start().await;
    let api = serve(&issuer, RejectionBody::problem_json()).await;
    let read = issuer
        .token()
        .scope("orders:read")
        .claim("tenant", "globex")
        .sign();
    let (reply, content_type, seen) = ask(&api, "/orders", Some(&read)).await;
    let json = problem(
        &reply,
        &content_type,
        403,
        "The access token lacks a required scope",
    );
    assert_eq!(
        (json["title"].as_str(), json["error"].as_str()),
        (Some("Forbidden"), Some("insufficient_scope"))
    );
    assert!(
        reply
            .challenge
            .unwrap()
            .ends_with(r#"scope="admin orders:write""#)
    );
    assert_eq!(seen.as_deref(), Some("insufficient_scope"));

    let (reply, content_type, seen) = ask(&api, "/handler", Some(&read)).await;
    problem(
        &reply,
        &content_type,
        403,
        "The access token does not meet a requirement of this resource",
    );
    assert!(!reply.body.contains("globex") && !reply.body.contains("tenant"));
    assert_eq!(seen.as_deref(), Some("insufficient_scope"));

    // `tenant` must be a string for the handler's type: the extractor's 401.
    let typed = issuer.token().claim("tenant", 7).sign();
    let (reply, content_type, _) = ask(&api, "/typed", Some(&typed)).await;
    problem(
        &reply,
        &content_type,
        401,
        "The access token claims are invalid",
    );

    let fine = issuer.token().scope("admin").claim("tenant", "acme").sign();
    for path in ["/orders", "/handler", "/typed"] {
        let (reply, content_type, seen) = ask(&api, path, Some(&fine)).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_ne!(content_type.as_deref(), Some(PROBLEM_JSON));
        assert_eq!(seen, None);
    }
}

#[tokio::test]
async fn a_custom_body_is_written_by_both_adapters() {
    let issuer = MockIssuer::start().await;
    let body = RejectionBody::custom(|error| {
        // Only 403s get a body here; the rest stay empty.
        (error.status() == 403).then(|| Body {
            content_type: "text/plain; charset=utf-8".into(),
            bytes: format!("denied: {}", error.description()).into_bytes(),
        })
    });
    let api = serve(&issuer, body).await;
    let read = issuer.token().scope("orders:read").sign();
    let (reply, content_type, _) = ask(&api, "/orders", Some(&read)).await;
    assert_eq!(reply.status, 403);
    assert_eq!(content_type.as_deref(), Some("text/plain; charset=utf-8"));
    assert_eq!(
        reply.body,
        "denied: The access token lacks a required scope"
    );
    let (reply, content_type, _) = ask(&api, "/me", None).await;
    assert_eq!(
        (reply.status, reply.body.as_str(), content_type),
        (401, "", None)
    );
}

#[tokio::test]
async fn a_content_type_no_header_may_carry_leaves_the_body_empty() {
    let issuer = MockIssuer::start().await;
    let body = RejectionBody::custom(|_| {
        Some(Body {
            content_type: "text/plain\r\nx-injected: 1".into(),
            bytes: b"injected".to_vec(),
        })
    });
    let api = serve(&issuer, body).await;
    let (reply, content_type, _) = ask(&api, "/me", None).await;
    assert_eq!(
        (reply.status, reply.body.as_str(), content_type),
        (401, "", None)
    );
}

#[tokio::test]
async fn problem_json_answers_an_unavailable_issuer_with_retry_after_and_no_challenge() {
    use tokengate::testing::Behavior;
    let issuer = MockIssuer::start().await;
    // Before the first fetch: no key set was ever loaded.
    issuer.set_behavior(Behavior::Fail(503));
    let api = serve(&issuer, RejectionBody::problem_json()).await;
    let token = issuer.token().sign();
    let (reply, content_type, seen) = ask(&api, "/me", Some(&token)).await;
    let json = problem(
        &reply,
        &content_type,
        503,
        "The token issuer is unavailable",
    );
    assert_eq!(json["title"], "Service Unavailable");
    assert!(json.get("error").is_none());
    assert_eq!(reply.challenge, None);
    assert!(reply.retry_after.is_some());
    assert_eq!(seen.as_deref(), Some("issuer_unavailable"));
}
