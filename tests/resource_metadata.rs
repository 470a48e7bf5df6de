//! RFC 9728 protected resource metadata over real HTTP on 127.0.0.1, through BOTH adapters
//! (axum via `tokengate-tower`, actix-web via `tokengate-actix`) and both example
//! binaries: the document at its well-known path (sections 2, 3.1, 3.2), and
//! `resource_metadata` in every challenge (section 5.1), missing, invalid and
//! insufficient tokens alike, whether the gate, `RequireScope` or a handler refused.
//!
//! Run it through `cargo test --workspace` (or plain `cargo test`), which builds the
//! examples; `cargo test --test resource_metadata` alone would drive stale example binaries.

mod common;

use std::time::Duration;

use axum::{Json, Router, routing::get};
use common::examples::{EXAMPLES, STARTUP, example_command, spawn_listening};
use common::{Reply, builder_for, reply};
use serde_json::{Value, json};
use tokengate::testing::MockIssuer;
use tokengate::{Gate, ResourceMetadata, Validator};
use tokio::process::{Child, Command};

const RESOURCE: &str = "https://api.example.test/v1";
const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource/v1";
const METADATA_URL: &str = "https://api.example.test/.well-known/oauth-protected-resource/v1";

fn metadata_for(resource: &str, issuer: &MockIssuer) -> ResourceMetadata {
    ResourceMetadata::builder(resource)
        .authorization_server(issuer.issuer())
        .scopes_supported(["read", "admin"])
        .resource_name("Test API")
        .build()
        .unwrap()
}

/// What the document must say, member for member.
fn expected_document(resource: &str, issuer: &MockIssuer) -> Value {
    json!({
        "resource": resource,
        "authorization_servers": [issuer.issuer()],
        "scopes_supported": ["read", "admin"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Test API",
    })
}

// ---------------------------------------------------------------------------------------
// The same routes on both adapters, with or without resource metadata.
// ---------------------------------------------------------------------------------------

/// `/me` (gate), `/admin` (`RequireScope`), `/handler-admin` (a handler's
/// `require_scope(..)?`), `/greet` (optional gate), and the document when configured.
fn axum_app(validator: Validator, metadata: Option<&ResourceMetadata>) -> Router {
    use tokengate_tower::{
        Claims, Rejection, RequireScopeLayer, ResourceMetadataService, TokenGateLayer,
    };

    let gate = |gate: Gate| {
        TokenGateLayer::new(match metadata {
            Some(metadata) => gate.resource_metadata(metadata),
            None => gate,
        })
    };
    let protected = Router::new()
        .route("/me", get(|Claims(c): Claims| async move { Json(c) }))
        .route(
            "/admin",
            get(|| async { "admin" }).layer(RequireScopeLayer::new("admin")),
        )
        .route(
            "/handler-admin",
            get(|Claims(c): Claims| async move {
                c.require_scope("admin")?;
                Ok::<_, Rejection>("admin")
            }),
        )
        .layer(gate(Gate::new(validator.clone())));
    let optional = Router::new()
        .route(
            "/greet",
            get(|claims: Option<Claims>| async move {
                match claims {
                    Some(_) => "hello client",
                    None => "hello stranger",
                }
            }),
        )
        .layer(gate(Gate::new(validator).optional()));
    let mut app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(protected)
        .merge(optional);
    if let Some(metadata) = metadata {
        app = app.route_service(
            &metadata.well_known_path(),
            ResourceMetadataService::new(metadata),
        );
    }
    app
}

fn actix_server(
    listener: std::net::TcpListener,
    validator: Validator,
    metadata: Option<ResourceMetadata>,
) -> actix_web::dev::Server {
    use actix_web::{App, HttpServer, web};
    use tokengate_actix::{Claims, Rejection, RequireScope, TokenGate, resource_metadata_service};

    fn gate(gate: Gate, metadata: &Option<ResourceMetadata>) -> TokenGate {
        TokenGate::new(match metadata {
            Some(metadata) => gate.resource_metadata(metadata),
            None => gate,
        })
    }
    HttpServer::new(move || {
        let metadata = metadata.clone();
        App::new()
            .route("/health", web::get().to(|| async { "ok" }))
            .configure(|config| {
                if let Some(metadata) = &metadata {
                    config.service(resource_metadata_service(metadata));
                }
            })
            .service(
                web::scope("/greet")
                    .wrap(gate(Gate::new(validator.clone()).optional(), &metadata))
                    .route(
                        "",
                        web::get().to(|claims: Option<Claims>| async move {
                            match claims {
                                Some(_) => "hello client",
                                None => "hello stranger",
                            }
                        }),
                    ),
            )
            .service(
                web::scope("")
                    .wrap(gate(Gate::new(validator.clone()), &metadata))
                    .route(
                        "/me",
                        web::get().to(|Claims(c): Claims| async move { web::Json(c) }),
                    )
                    .service(
                        web::resource("/admin")
                            .wrap(RequireScope::new("admin"))
                            .route(web::get().to(|| async { "admin" })),
                    )
                    .route(
                        "/handler-admin",
                        web::get().to(|Claims(c): Claims| async move {
                            c.require_scope("admin")?;
                            Ok::<_, Rejection>("admin")
                        }),
                    ),
            )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run()
}

/// Both adapters serving the routes, until dropped.
struct Apis {
    axum: String,
    actix: String,
    client: reqwest::Client,
    axum_server: tokio::task::JoinHandle<()>,
    actix_handle: actix_web::dev::ServerHandle,
}

impl Drop for Apis {
    fn drop(&mut self) {
        self.axum_server.abort();
        drop(self.actix_handle.stop(false));
    }
}

/// Serves both adapters; `resource` builds each one's metadata from its own base URL
/// (`None`: no resource metadata at all).
async fn serve_with(issuer: &MockIssuer, resource: Option<fn(&str) -> String>) -> Apis {
    let validator = builder_for(issuer).build().unwrap();

    let axum_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let axum = format!("http://{}", axum_listener.local_addr().unwrap());
    let metadata = resource.map(|r| metadata_for(&r(&axum), issuer));
    let app = axum_app(validator.clone(), metadata.as_ref());
    let axum_server = tokio::spawn(async move {
        let _ = axum::serve(axum_listener, app).await;
    });

    let actix_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let actix = format!("http://{}", actix_listener.local_addr().unwrap());
    let metadata = resource.map(|r| metadata_for(&r(&actix), issuer));
    let server = actix_server(actix_listener, validator, metadata);
    let actix_handle = server.handle();
    tokio::spawn(server);

    Apis {
        axum,
        actix,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        axum_server,
        actix_handle,
    }
}

/// Both adapters, with (or without) the metadata of [`RESOURCE`].
async fn serve(issuer: &MockIssuer, configured: bool) -> Apis {
    let fixed: fn(&str) -> String = |_| RESOURCE.to_owned();
    serve_with(issuer, configured.then_some(fixed)).await
}

impl Apis {
    async fn request(
        &self,
        base: &str,
        method: reqwest::Method,
        path: &str,
        authorization: &[String],
    ) -> (Reply, reqwest::header::HeaderMap) {
        let mut request = self.client.request(method, format!("{base}{path}"));
        for value in authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        let headers = response.headers().clone();
        (reply(response).await, headers)
    }

    /// `method path` on both adapters; asserts they agree on status, challenge, body
    /// and content type, and returns axum's reply and headers.
    async fn both(
        &self,
        method: reqwest::Method,
        path: &str,
        authorization: &[String],
    ) -> (Reply, reqwest::header::HeaderMap) {
        let (axum, axum_headers) = self
            .request(&self.axum, method.clone(), path, authorization)
            .await;
        let (actix, actix_headers) = self
            .request(&self.actix, method.clone(), path, authorization)
            .await;
        let content_type = |h: &reqwest::header::HeaderMap| h.get("content-type").cloned();
        assert_eq!(
            (axum.status, &axum.challenge),
            (actix.status, &actix.challenge),
            "the adapters disagree on {method} {path}:\n axum: {axum:?}\nactix: {actix:?}"
        );
        if axum.status == 200 {
            assert_eq!(axum.body, actix.body, "bodies differ on {method} {path}");
            assert_eq!(
                content_type(&axum_headers),
                content_type(&actix_headers),
                "content types differ on {method} {path}"
            );
        }
        (axum, axum_headers)
    }

    /// No document at `path` on either adapter: axum answers 404; actix 401, as its gated
    /// `scope("")` owns every unmatched path.
    async fn assert_not_served(&self, path: &str) {
        for (base, status) in [(&self.axum, 404), (&self.actix, 401)] {
            let (reply, _) = self.request(base, reqwest::Method::GET, path, &[]).await;
            assert_eq!(reply.status, status, "{base}{path}: {reply:?}");
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let header: Vec<String> = token.map(|t| format!("Bearer {t}")).into_iter().collect();
        self.both(reqwest::Method::GET, path, &header).await.0
    }
}

/// The expected `WWW-Authenticate` value: `Bearer`, then the attributes if any.
fn challenge(attributes: &str) -> Option<String> {
    Some(match attributes {
        "" => "Bearer".to_owned(),
        _ => format!("Bearer {attributes}"),
    })
}

// ---------------------------------------------------------------------------------------
// The document.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_document_is_served_at_the_well_known_path() {
    let issuer = MockIssuer::start().await;
    let apis = serve(&issuer, true).await;

    let (document, headers) = apis.both(reqwest::Method::GET, WELL_KNOWN, &[]).await;
    assert_eq!(document.status, 200, "{document:?}");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(document.json(), expected_document(RESOURCE, &issuer));
    assert_eq!(document.challenge, None, "the document needs no token");

    // Section 3.1: the resource's path follows the well-known string. The bare path
    // belongs to another resource (the host root), and the path-appended form (as OpenID
    // Connect discovery builds it) is not RFC 9728's: neither is served.
    for path in [
        "/.well-known/oauth-protected-resource",
        "/v1/.well-known/oauth-protected-resource",
    ] {
        apis.assert_not_served(path).await;
    }
}

#[tokio::test]
async fn the_binding_parameters_are_served_as_the_gate_is_configured() {
    use tokengate::binding::dpop::Dpop;
    use tokengate::binding::mtls::{CertificateSource, Mtls};

    let issuer = MockIssuer::start().await;
    let validator = builder_for(&issuer).build().unwrap();
    let dpop = Dpop::new(RESOURCE)
        .unwrap()
        .algorithms([tokengate::Algorithm::ES256]);
    let mtls = Mtls::new(CertificateSource::connection());
    // RFC 9728 section 2, from the same values the gate would be given.
    let metadata = ResourceMetadata::builder(RESOURCE)
        .authorization_server(issuer.issuer())
        .dpop(&dpop)
        .mtls(&mtls)
        .build()
        .unwrap();
    let axum_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let axum = format!("http://{}", axum_listener.local_addr().unwrap());
    let app = axum_app(validator.clone(), Some(&metadata));
    let axum_server = tokio::spawn(async move {
        let _ = axum::serve(axum_listener, app).await;
    });
    let actix_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let actix = format!("http://{}", actix_listener.local_addr().unwrap());
    let server = actix_server(actix_listener, validator, Some(metadata));
    let actix_handle = server.handle();
    tokio::spawn(server);
    let apis = Apis {
        axum,
        actix,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        axum_server,
        actix_handle,
    };

    let (document, _) = apis.both(reqwest::Method::GET, WELL_KNOWN, &[]).await;
    assert_eq!(document.status, 200, "{document:?}");
    assert_eq!(
        document.json(),
        json!({
            "resource": RESOURCE,
            "authorization_servers": [issuer.issuer()],
            "bearer_methods_supported": ["header"],
            "dpop_signing_alg_values_supported": ["ES256"],
            "tls_client_certificate_bound_access_tokens": true,
        })
    );
}

#[tokio::test]
async fn only_get_and_head_are_answered() {
    let issuer = MockIssuer::start().await;
    let apis = serve(&issuer, true).await;

    let (head, headers) = apis.both(reqwest::Method::HEAD, WELL_KNOWN, &[]).await;
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(head.body, "", "HEAD has no body");

    for method in [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        for base in [&apis.axum, &apis.actix] {
            let (reply, headers) = apis.request(base, method.clone(), WELL_KNOWN, &[]).await;
            assert_eq!(reply.status, 405, "{method} on {base}: {reply:?}");
            assert_eq!(headers["allow"], "GET, HEAD", "{method} on {base}");
        }
    }
}

#[tokio::test]
async fn a_resource_at_the_host_root_is_served_at_the_bare_well_known_path() {
    let issuer = MockIssuer::start().await;
    let apis = serve_with(&issuer, Some(|base| format!("{base}/"))).await;
    for base in [&apis.axum, &apis.actix] {
        let (document, _) = apis
            .request(
                base,
                reqwest::Method::GET,
                "/.well-known/oauth-protected-resource",
                &[],
            )
            .await;
        assert_eq!(document.status, 200, "{base}: {document:?}");
        // Published as configured, trailing slash and all (section 3.3 compares exactly).
        assert_eq!(document.json()["resource"], format!("{base}/"));
    }
}

/// A client that knows nothing but the API's URL: the challenge leads it to the document,
/// the document to the authorization server, whose token then opens the API.
#[tokio::test]
async fn a_client_discovers_the_authorization_server_from_a_challenge() {
    let issuer = MockIssuer::start().await;
    let apis = serve_with(&issuer, Some(|base| base.to_owned())).await;
    for base in [&apis.axum, &apis.actix] {
        let (refused, _) = apis.request(base, reqwest::Method::GET, "/me", &[]).await;
        assert_eq!(refused.status, 401);
        let challenge = refused.challenge.unwrap();
        let url = challenge
            .strip_prefix("Bearer resource_metadata=\"")
            .and_then(|rest| rest.strip_suffix('"'))
            .unwrap_or_else(|| panic!("{base}: {challenge}"));
        assert_eq!(url, format!("{base}/.well-known/oauth-protected-resource"));

        let document: Value = apis
            .client
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(document["resource"], base.as_str());
        let server = document["authorization_servers"][0].as_str().unwrap();
        let discovery: Value = apis
            .client
            .get(format!("{server}/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(discovery["issuer"], issuer.issuer());

        let token = issuer.token().scope("read").sign();
        let (me, _) = apis
            .request(
                base,
                reqwest::Method::GET,
                "/me",
                &[format!("Bearer {token}")],
            )
            .await;
        assert_eq!(me.status, 200, "{base}: {me:?}");
    }
}

// ---------------------------------------------------------------------------------------
// The challenges.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn missing_credentials_get_a_challenge_with_only_resource_metadata() {
    let issuer = MockIssuer::start().await;
    let apis = serve(&issuer, true).await;
    let me = apis.get("/me", None).await;
    assert_eq!(me.status, 401);
    assert_eq!(
        me.challenge,
        challenge(&format!(r#"resource_metadata="{METADATA_URL}""#))
    );
    // The optional gate lets an anonymous request through: nothing to challenge.
    let greet = apis.get("/greet", None).await;
    assert_eq!((greet.status, greet.challenge), (200, None));
    assert_eq!(greet.body, "hello stranger");
}

#[tokio::test]
async fn invalid_tokens_and_requests_carry_resource_metadata() {
    let issuer = MockIssuer::start().await;
    let apis = serve(&issuer, true).await;
    let expired = issuer.token().expires_in(-3600).sign();
    let expected = challenge(&format!(
        r#"error="invalid_token", error_description="The access token expired", resource_metadata="{METADATA_URL}""#
    ));
    for path in ["/me", "/admin", "/handler-admin", "/greet"] {
        let reply = apis.get(path, Some(&expired)).await;
        assert_eq!(reply.status, 401, "{path}: {reply:?}");
        assert_eq!(reply.challenge, expected, "{path}");
    }
    let malformed = apis.get("/me", Some("not-a-token")).await;
    assert_eq!(
        malformed.challenge,
        challenge(&format!(
            r#"error="invalid_token", error_description="The access token is malformed", resource_metadata="{METADATA_URL}""#
        ))
    );
    let two = [
        format!("Bearer {}", issuer.token().sign()),
        format!("Bearer {}", issuer.token().sign()),
    ];
    let (twice, _) = apis.both(reqwest::Method::GET, "/me", &two).await;
    assert_eq!(twice.status, 400);
    assert_eq!(
        twice.challenge,
        challenge(&format!(
            r#"error="invalid_request", error_description="More than one Authorization header was sent", resource_metadata="{METADATA_URL}""#
        ))
    );
}

#[tokio::test]
async fn insufficient_scope_carries_resource_metadata_from_middleware_and_handlers() {
    let issuer = MockIssuer::start().await;
    let apis = serve(&issuer, true).await;
    let user = issuer.token().scope("read").sign();
    let expected = challenge(&format!(
        r#"error="insufficient_scope", error_description="The access token lacks a required scope", scope="admin", resource_metadata="{METADATA_URL}""#
    ));
    // `RequireScope` middleware, and a `Rejection` a handler returned with `?`.
    for path in ["/admin", "/handler-admin"] {
        let reply = apis.get(path, Some(&user)).await;
        assert_eq!(reply.status, 403, "{path}: {reply:?}");
        assert_eq!(reply.challenge, expected, "{path}");
    }
    let admin = issuer.token().scope("read admin").sign();
    for path in ["/admin", "/handler-admin"] {
        let reply = apis.get(path, Some(&admin)).await;
        assert_eq!((reply.status, reply.challenge), (200, None), "{path}");
    }
}

// ---------------------------------------------------------------------------------------
// Without configuration, nothing changes.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn without_resource_metadata_nothing_changes() {
    let issuer = MockIssuer::start().await;
    let apis = serve(&issuer, false).await;

    assert_eq!(apis.get("/me", None).await.challenge, challenge(""));
    let user = issuer.token().scope("read").sign();
    let expired = issuer.token().expires_in(-3600).sign();
    let refusals = [
        ("/me", Some(expired.as_str())),
        ("/greet", Some("not-a-token")),
        ("/admin", Some(user.as_str())),
        ("/handler-admin", Some(user.as_str())),
    ];
    for (path, token) in refusals {
        let reply = apis.get(path, token).await;
        let value = reply.challenge.clone().unwrap_or_default();
        assert!(value.starts_with("Bearer error="), "{path}: {reply:?}");
        assert!(!value.contains("resource_metadata"), "{path}: {reply:?}");
    }
    for path in [WELL_KNOWN, "/.well-known/oauth-protected-resource"] {
        apis.assert_not_served(path).await;
    }
}

// ---------------------------------------------------------------------------------------
// The examples, with TOKENGATE_RESOURCE (as tests/contract.rs starts them).
// ---------------------------------------------------------------------------------------

/// An example trusting `issuers` (all minting for the first one's audience).
fn command(name: &str, issuers: &[&MockIssuer], resource: Option<&str>) -> Command {
    let names: Vec<&str> = issuers.iter().map(|i| i.issuer()).collect();
    let mut command = example_command(name);
    command
        .env("TOKENGATE_ISSUER", names.join(", "))
        .env("TOKENGATE_AUDIENCE", issuers[0].audience());
    if let Some(resource) = resource {
        command.env("TOKENGATE_RESOURCE", resource);
    }
    command
}

/// A running example and its base URL, killed when dropped.
struct Example {
    base: String,
    client: reqwest::Client,
    _child: Child,
}

impl Example {
    async fn start(name: &str, issuers: &[&MockIssuer], resource: Option<&str>) -> Example {
        let (base, mut lines, child) =
            spawn_listening(name, command(name, issuers, resource)).await;
        // Keep reading stdout so the example never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Example {
            base,
            client: reqwest::Client::new(),
            _child: child,
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (Reply, reqwest::header::HeaderMap) {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = request.send().await.unwrap();
        let headers = response.headers().clone();
        (reply(response).await, headers)
    }
}

#[tokio::test]
async fn the_examples_serve_the_document_and_point_every_challenge_at_it() {
    let issuer = MockIssuer::start().await;
    let user = issuer.token().scope("read").sign();
    let expired = issuer.token().expires_in(-3600).sign();
    for name in EXAMPLES {
        let api = Example::start(name, &[&issuer], Some(RESOURCE)).await;

        let (document, headers) = api.get(WELL_KNOWN, None).await;
        assert_eq!(document.status, 200, "{name}: {document:?}");
        assert_eq!(headers["content-type"], "application/json", "{name}");
        assert_eq!(
            document.json(),
            json!({
                "resource": RESOURCE,
                "authorization_servers": [issuer.issuer()],
                "scopes_supported": ["read", "admin"],
                "bearer_methods_supported": ["header"],
            }),
            "{name}"
        );

        let attribute = format!(r#"resource_metadata="{METADATA_URL}""#);
        let (missing, _) = api.get("/me", None).await;
        assert_eq!(missing.status, 401, "{name}");
        // The examples allow DPoP by default: its challenge carries the URL too.
        let algs = "RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA";
        assert_eq!(
            missing.challenge,
            Some(format!(
                r#"Bearer {attribute}, DPoP algs="{algs}", {attribute}"#
            )),
            "{name}"
        );
        let (invalid, _) = api.get("/me", Some(&expired)).await;
        invalid.assert_invalid_token();
        assert!(
            invalid.challenge.as_deref().unwrap().ends_with(&attribute),
            "{name}: {invalid:?}"
        );
        let (scope, _) = api.get("/admin", Some(&user)).await;
        assert_eq!(scope.status, 403, "{name}");
        assert!(
            scope.challenge.as_deref().unwrap().ends_with(&attribute),
            "{name}: {scope:?}"
        );
        let (me, _) = api.get("/me", Some(&user)).await;
        assert_eq!((me.status, me.challenge), (200, None), "{name}");
        assert_eq!(api.get("/health", None).await.0.status, 200, "{name}");
    }
}

#[tokio::test]
async fn the_examples_name_every_trusted_issuer_as_an_authorization_server() {
    let a = MockIssuer::start_with("shared-api", tokengate::Algorithm::RS256).await;
    let b = MockIssuer::start_with("shared-api", tokengate::Algorithm::ES256).await;
    let mut expected = vec![a.issuer(), b.issuer()];
    expected.sort_unstable();
    for name in EXAMPLES {
        let api = Example::start(name, &[&a, &b], Some("https://api.example.test")).await;
        let (document, _) = api.get("/.well-known/oauth-protected-resource", None).await;
        assert_eq!(document.status, 200, "{name}: {document:?}");
        assert_eq!(
            document.json()["authorization_servers"],
            json!(expected),
            "{name}"
        );
        let (me, _) = api.get("/me", Some(&b.token().sign())).await;
        assert_eq!(me.status, 200, "{name}: {me:?}");
    }
}

#[tokio::test]
async fn the_examples_without_tokengate_resource_serve_no_document() {
    let issuer = MockIssuer::start().await;
    for name in EXAMPLES {
        let api = Example::start(name, &[&issuer], None).await;
        let (missing, _) = api.get("/me", None).await;
        let challenge = missing.challenge.unwrap_or_default();
        assert!(
            !challenge.contains("resource_metadata"),
            "{name}: {challenge}"
        );
        for path in ["/.well-known/oauth-protected-resource", WELL_KNOWN] {
            let (reply, _) = api.get(path, None).await;
            assert_ne!(reply.status, 200, "{name} {path}: {reply:?}");
        }
    }
}

#[tokio::test]
async fn an_unsafe_tokengate_resource_exits_with_a_message() {
    let issuer = MockIssuer::start().await;
    for name in EXAMPLES {
        for (resource, word) in [
            ("http://api.example.test", "must use https"),
            ("https://api.example.test/#top", "no fragment"),
        ] {
            let output =
                tokio::time::timeout(STARTUP, command(name, &[&issuer], Some(resource)).output())
                    .await
                    .expect("example hung on a bad configuration")
                    .unwrap();
            assert_eq!(output.status.code(), Some(2), "{name} {resource}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                stderr.contains("TOKENGATE_RESOURCE") && stderr.contains(word),
                "{name} {resource}: {stderr}"
            );
        }
    }
}
