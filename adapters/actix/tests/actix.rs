//! actix-specific behaviour: extractors, optional authentication, scope checks in
//! middleware and in handlers, and replacing the rejection body without losing the
//! challenge.

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{App, HttpResponse, test, web};
use serde::Deserialize;
use tokengate::testing::{Behavior, MockIssuer};
use tokengate_actix::{Claims, OptionalClaims, Rejection, RequireScope, TokenGate};

fn validator(issuer: &MockIssuer) -> tokengate::Validator {
    tokengate::Validator::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .build()
        .unwrap()
}

#[derive(Deserialize)]
struct Tenanted {
    sub: String,
    tenant: String,
}

async fn tenant(Claims(c): Claims<Tenanted>) -> String {
    format!("{}@{}", c.sub, c.tenant)
}

async fn admin_in_handler(Claims(c): Claims) -> Result<HttpResponse, Rejection> {
    c.require_scope("admin")?;
    Ok(HttpResponse::Ok().body("welcome"))
}

async fn greet(claims: Option<Claims>) -> String {
    match claims {
        Some(Claims(c)) => format!("hello {}", c.subject().unwrap_or("?")),
        None => "hello stranger".to_owned(),
    }
}

fn challenge<B>(res: &ServiceResponse<B>) -> String {
    res.headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn bearer(token: &str) -> (header::HeaderName, String) {
    (header::AUTHORIZATION, format!("Bearer {token}"))
}

#[actix_web::test]
async fn claims_deserialize_into_the_users_type() {
    let issuer = MockIssuer::start().await;
    let app = test::init_service(
        App::new().service(
            web::scope("")
                .wrap(TokenGate::new(validator(&issuer)))
                .route("/tenant", web::get().to(tenant)),
        ),
    )
    .await;
    let token = issuer
        .token()
        .subject("alice")
        .claim("tenant", "acme")
        .sign();
    let req = test::TestRequest::get()
        .uri("/tenant")
        .insert_header(bearer(&token));
    let res = test::call_service(&app, req.to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(test::read_body(res).await, "alice@acme");

    // A valid token whose claims do not fit the handler's type: 401 invalid_token.
    let token = issuer.token().subject("alice").sign();
    let req = test::TestRequest::get()
        .uri("/tenant")
        .insert_header(bearer(&token));
    let res = test::call_service(&app, req.to_request()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&res).contains("invalid_token"));
}

#[actix_web::test]
async fn optional_auth_passes_anonymous_and_refuses_bad_tokens() {
    let issuer = MockIssuer::start().await;
    let app = test::init_service(
        App::new().service(
            web::scope("")
                .wrap(TokenGate::new(
                    tokengate::Gate::new(validator(&issuer)).optional(),
                ))
                .route("/greet", web::get().to(greet)),
        ),
    )
    .await;
    let res = test::call_service(&app, test::TestRequest::get().uri("/greet").to_request()).await;
    assert_eq!(test::read_body(res).await, "hello stranger");

    let token = issuer.token().subject("bob").sign();
    let req = test::TestRequest::get()
        .uri("/greet")
        .insert_header(bearer(&token));
    let res = test::call_service(&app, req.to_request()).await;
    assert_eq!(test::read_body(res).await, "hello bob");

    let req = test::TestRequest::get()
        .uri("/greet")
        .insert_header(bearer("x.y.z"));
    let res = test::call_service(&app, req.to_request()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

async fn tenant_or_stranger(OptionalClaims(c): OptionalClaims<Tenanted>) -> String {
    match c {
        Some(c) => format!("{}@{}", c.sub, c.tenant),
        None => "stranger".to_owned(),
    }
}

async fn tenant_or_stranger_by_option(c: Option<Claims<Tenanted>>) -> String {
    match c {
        Some(Claims(c)) => format!("{}@{}", c.sub, c.tenant),
        None => "stranger".to_owned(),
    }
}

#[actix_web::test]
async fn optional_claims_refuse_a_token_whose_claims_do_not_fit_instead_of_going_anonymous() {
    let issuer = MockIssuer::start().await;
    let app = test::init_service(
        App::new().service(
            web::scope("")
                .wrap(TokenGate::new(
                    tokengate::Gate::new(validator(&issuer)).optional(),
                ))
                .route("/optional", web::get().to(tenant_or_stranger))
                .route("/option", web::get().to(tenant_or_stranger_by_option)),
        ),
    )
    .await;
    let get = |uri: &str, token: Option<&str>| {
        let mut req = test::TestRequest::get().uri(uri);
        if let Some(token) = token {
            req = req.insert_header(bearer(token));
        }
        req.to_request()
    };
    let fits = issuer.token().subject("ann").claim("tenant", "acme").sign();
    let misfit = issuer.token().subject("ann").sign(); // no `tenant`

    let res = test::call_service(&app, get("/optional", None)).await;
    assert_eq!(test::read_body(res).await, "stranger");
    let res = test::call_service(&app, get("/optional", Some(&fits))).await;
    assert_eq!(test::read_body(res).await, "ann@acme");
    let res = test::call_service(&app, get("/optional", Some(&misfit))).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        challenge(&res).contains("invalid_token"),
        "{}",
        challenge(&res)
    );

    // What the docs warn of: actix's own `Option<E>` turns that refusal into `None`.
    let res = test::call_service(&app, get("/option", Some(&misfit))).await;
    assert_eq!(test::read_body(res).await, "stranger");
}

#[actix_web::test]
async fn scope_is_required_by_middleware_and_by_handler_check() {
    let issuer = MockIssuer::start().await;
    let app = test::init_service(
        App::new().service(
            web::scope("")
                .wrap(TokenGate::new(validator(&issuer)))
                .service(
                    web::resource("/admin")
                        .wrap(RequireScope::new("admin"))
                        .route(web::get().to(|| async { "ok" })),
                )
                .route("/admin-in-handler", web::get().to(admin_in_handler)),
        ),
    )
    .await;
    let user = issuer.token().scope("read administrator").sign();
    let admin = issuer.token().scope("read admin").sign();
    for path in ["/admin", "/admin-in-handler"] {
        let req = test::TestRequest::get()
            .uri(path)
            .insert_header(bearer(&user));
        let res = test::call_service(&app, req.to_request()).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            challenge(&res),
            r#"Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="admin""#,
            "{path}"
        );
        let req = test::TestRequest::get()
            .uri(path)
            .insert_header(bearer(&admin));
        let res = test::call_service(&app, req.to_request()).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
    }
}

#[actix_web::test]
async fn transport_errors_match_the_core() {
    let issuer = MockIssuer::start().await;
    let app = test::init_service(
        App::new().service(
            web::scope("")
                .wrap(TokenGate::new(validator(&issuer)))
                .route(
                    "/me",
                    web::get().to(|Claims(c): Claims| async move { web::Json(c) }),
                ),
        ),
    )
    .await;
    let res = test::call_service(&app, test::TestRequest::get().uri("/me").to_request()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&res), "Bearer");

    let token = issuer.token().sign();
    let req = test::TestRequest::get()
        .uri("/me")
        .append_header(bearer(&token))
        .append_header(bearer(&token));
    let res = test::call_service(&app, req.to_request()).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(challenge(&res).contains("invalid_request"));

    let issuer_down = MockIssuer::start().await;
    issuer_down.set_behavior(Behavior::Fail(500));
    let down = test::init_service(
        App::new().service(
            web::scope("")
                .wrap(TokenGate::new(validator(&issuer_down)))
                .route("/me", web::get().to(|| async { "unreachable" })),
        ),
    )
    .await;
    let req = test::TestRequest::get()
        .uri("/me")
        .insert_header(bearer(&issuer_down.token().sign()));
    let res = test::call_service(&down, req.to_request()).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key(header::RETRY_AFTER));
}

/// Rewrites any rejection's body as JSON, reading the core error back from the response.
fn problem_json<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let error = res
        .response()
        .error()
        .and_then(|e| e.as_error::<Rejection>())
        .map(|r| r.0.clone());
    let (req, mut response) = res.into_parts();
    let Some(error) = error else {
        let res = ServiceResponse::new(req, response).map_into_left_body();
        return Ok(ErrorHandlerResponse::Response(res));
    };
    let body = serde_json::json!({
        "status": error.status(),
        "error": error.error_code(),
        "detail": error.description(),
    })
    .to_string();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    let response = response.set_body(BoxBody::new(body));
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, response).map_into_right_body(),
    ))
}

#[actix_web::test]
async fn users_can_replace_the_body_without_losing_the_challenge() {
    let issuer = MockIssuer::start().await;
    let app = test::init_service(
        App::new()
            .wrap(
                ErrorHandlers::new()
                    .handler(StatusCode::UNAUTHORIZED, problem_json)
                    .handler(StatusCode::FORBIDDEN, problem_json),
            )
            .service(
                web::scope("")
                    .wrap(TokenGate::new(validator(&issuer)))
                    .service(
                        web::resource("/admin")
                            .wrap(RequireScope::new("admin"))
                            .route(web::get().to(|| async { "ok" })),
                    ),
            ),
    )
    .await;
    let req = test::TestRequest::get()
        .uri("/admin")
        .insert_header(bearer("a.b.c"));
    let res: ServiceResponse<EitherBody<BoxBody>> =
        test::call_service(&app, req.to_request()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&res).starts_with(r#"Bearer error="invalid_token""#));
    let body: serde_json::Value = test::read_body_json(res).await;
    assert_eq!(body["error"], "invalid_token");

    let token = issuer.token().scope("read").sign();
    let req = test::TestRequest::get()
        .uri("/admin")
        .insert_header(bearer(&token));
    let res = test::call_service(&app, req.to_request()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(challenge(&res).contains(r#"scope="admin""#));
    let body: serde_json::Value = test::read_body_json(res).await;
    assert_eq!(body["error"], "insufficient_scope");
}
