//! The tower contract of `TokenGate`: readiness, body genericity, extensions.

use std::convert::Infallible;

use http::{Request, Response, StatusCode, header::AUTHORIZATION};
use tokengate::testing::MockIssuer;
use tokengate_tower::{RequireScopeLayer, TokenGate, TokenGateLayer};
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

async fn validator(issuer: &MockIssuer) -> tokengate::Validator {
    tokengate::Validator::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .build()
        .unwrap()
}

fn request(token: Option<&str>) -> Request<Vec<u8>> {
    let mut builder = Request::builder();
    if let Some(token) = token {
        builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(Vec::new()).unwrap()
}

/// `ConcurrencyLimit` panics when called without a permit from `poll_ready`: if
/// `TokenGate::call` used a fresh clone instead of the service polled ready, this panics.
#[tokio::test]
async fn calls_the_service_that_was_polled_ready() {
    let issuer = MockIssuer::start().await;
    let mut service = ServiceBuilder::new()
        .layer(TokenGateLayer::new(validator(&issuer).await))
        .concurrency_limit(1)
        .service(service_fn(|_req: Request<Vec<u8>>| async {
            Ok::<_, Infallible>(Response::new(Vec::<u8>::new()))
        }));
    for _ in 0..3 {
        let token = issuer.token().sign();
        let ready = service.ready().await.unwrap();
        let response = ready.call(request(Some(&token))).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn verified_claims_reach_the_inner_service_and_rejections_skip_it() {
    let issuer = MockIssuer::start().await;
    let inner = service_fn(|req: Request<Vec<u8>>| async move {
        let claims = req.extensions().get::<tokengate::Claims>().cloned();
        let sub = claims.and_then(|c| c.subject().map(str::to_owned));
        Ok::<_, Infallible>(Response::new(sub.unwrap_or_default().into_bytes()))
    });
    let service = TokenGate::new(inner, validator(&issuer).await);
    let token = issuer.token().subject("bob").sign();
    let ok = service
        .clone()
        .oneshot(request(Some(&token)))
        .await
        .unwrap();
    assert_eq!(ok.body(), b"bob");

    let bad = service.oneshot(request(Some("a.b.c"))).await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    assert!(bad.body().is_empty(), "the inner service was not called");
    assert!(
        bad.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
}

#[tokio::test]
async fn optional_layer_passes_anonymous_requests_without_claims() {
    let issuer = MockIssuer::start().await;
    let service = ServiceBuilder::new()
        .layer(TokenGateLayer::new(
            tokengate::Gate::new(validator(&issuer).await).optional(),
        ))
        .service(service_fn(|req: Request<Vec<u8>>| async move {
            let has = req.extensions().get::<tokengate::Claims>().is_some();
            Ok::<_, Infallible>(Response::new(vec![u8::from(has)]))
        }));
    let anonymous = service.clone().oneshot(request(None)).await.unwrap();
    assert_eq!(anonymous.body(), &[0]);
    let token = issuer.token().sign();
    let known = service
        .clone()
        .oneshot(request(Some(&token)))
        .await
        .unwrap();
    assert_eq!(known.body(), &[1]);
    let bad = service.oneshot(request(Some("x.y.z"))).await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn require_scope_without_a_gate_is_401() {
    let service = ServiceBuilder::new()
        .layer(RequireScopeLayer::new("admin"))
        .service(service_fn(|_req: Request<Vec<u8>>| async {
            Ok::<_, Infallible>(Response::new(Vec::<u8>::new()))
        }));
    let response = service.oneshot(request(None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn issuer_unavailable_is_503_with_retry_after() {
    let issuer = MockIssuer::start().await;
    issuer.set_behavior(tokengate::testing::Behavior::Fail(500));
    let service = TokenGate::new(
        service_fn(|_req: Request<Vec<u8>>| async {
            Ok::<_, Infallible>(Response::new(Vec::<u8>::new()))
        }),
        validator(&issuer).await,
    );
    let token = issuer.token().sign();
    let response = service.oneshot(request(Some(&token))).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    assert!(!response.headers().contains_key("www-authenticate"));
}
