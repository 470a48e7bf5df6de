//! `TokenGateLayer` in front of a tonic service, called by a real tonic client over
//! HTTP/2 on 127.0.0.1: refusals arrive as gRPC statuses (`UNAUTHENTICATED` 16,
//! `PERMISSION_DENIED` 7, `UNAVAILABLE` 14) with the `www-authenticate` challenge in the
//! metadata, and the handler reads the verified claims from the request extensions.
//! tonic-health's generated service and client: no protoc, no build script.

use std::net::SocketAddr;

use tokengate::Requirement;
use tokengate::testing::MockIssuer;
use tokengate::{Gate, Validator};
use tokengate_tower::{RequireLayer, TokenGateLayer};
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

/// A health service that answers with the caller's `sub` in the response metadata: the
/// claims the gate put on the request.
struct Whoami;

#[tonic::async_trait]
impl Health for Whoami {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let claims = request
            .extensions()
            .get::<tokengate::Claims>()
            .ok_or_else(|| Status::internal("no claims on the request"))?;
        let mut response = Response::new(HealthCheckResponse {
            status: ServingStatus::Serving as i32,
        });
        let sub = claims.subject().unwrap_or_default();
        response.metadata_mut().insert(
            "x-subject",
            sub.parse().map_err(|_| Status::internal("sub"))?,
        );
        Ok(response)
    }

    type WatchStream = tonic::codegen::tokio_stream::Empty<Result<HealthCheckResponse, Status>>;

    async fn watch(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("watch"))
    }
}

/// Serves `Whoami` behind `gate` (and, with `scope`, a scope requirement) on 127.0.0.1.
async fn serve(gate: Gate, requirement: Option<Requirement>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    // RequireScopeLayer::new(s) is RequireLayer::new(Requirement::scope(s)).
    let scope = requirement.map(RequireLayer::new);
    tokio::spawn(async move {
        let mut server = Server::builder()
            .layer(TokenGateLayer::new(gate))
            .layer(tower::util::option_layer(scope));
        server
            .add_service(HealthServer::new(Whoami))
            .serve_with_incoming(incoming)
            .await
            .unwrap();
    });
    addr
}

async fn client(addr: SocketAddr) -> HealthClient<Channel> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    HealthClient::new(channel)
}

/// One `Check` call with `Authorization: Bearer {token}` when a token is given.
async fn check(
    client: &mut HealthClient<Channel>,
    token: Option<&str>,
) -> Result<Response<HealthCheckResponse>, Status> {
    let mut request = Request::new(HealthCheckRequest::default());
    if let Some(token) = token {
        let value = format!("Bearer {token}").parse().unwrap();
        request.metadata_mut().insert("authorization", value);
    }
    client.check(request).await
}

fn validator(issuer: &MockIssuer) -> Validator {
    Validator::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .build()
        .unwrap()
}

fn challenge(status: &Status) -> &str {
    status
        .metadata()
        .get("www-authenticate")
        .unwrap_or_else(|| panic!("no challenge in {status:?}"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn a_valid_token_reaches_the_service_with_its_claims() {
    let issuer = MockIssuer::start().await;
    let addr = serve(Gate::new(validator(&issuer)), None).await;
    let mut client = client(addr).await;
    let token = issuer.token().subject("alice").sign();
    // The first call waits for the keys, the second is decided from memory.
    for _ in 0..2 {
        let response = check(&mut client, Some(&token)).await.unwrap();
        assert_eq!(response.get_ref().status, ServingStatus::Serving as i32);
        assert_eq!(response.metadata().get("x-subject").unwrap(), "alice");
    }
}

#[tokio::test]
async fn refusals_are_unauthenticated_with_the_challenge_in_the_metadata() {
    let issuer = MockIssuer::start().await;
    let addr = serve(Gate::new(validator(&issuer)), None).await;
    let mut client = client(addr).await;

    let status = check(&mut client, None).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(challenge(&status), "Bearer");
    // A gRPC status of ours, not one the client made up from an HTTP status.
    let error = tokengate::Error::MissingCredentials;
    assert_eq!(status.message(), error.description(), "{status:?}");

    let expired = issuer.token().expires_in(-3600).sign();
    let status = check(&mut client, Some(&expired)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(
        challenge(&status).contains("error=\"invalid_token\""),
        "{status:?}"
    );
    // The core's fixed description, never the precise reason.
    let error = tokengate::Error::InvalidToken(tokengate::InvalidToken::Expired);
    assert_eq!(status.message(), error.description());

    // Two Authorization values: a malformed request.
    let mut request = Request::new(HealthCheckRequest::default());
    let value: tonic::metadata::MetadataValue<_> = format!("Bearer {expired}").parse().unwrap();
    request
        .metadata_mut()
        .append("authorization", value.clone());
    request.metadata_mut().append("authorization", value);
    let status = client.check(request).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
}

#[tokio::test]
async fn a_missing_scope_is_permission_denied_with_insufficient_scope() {
    let issuer = MockIssuer::start().await;
    let health_read = Requirement::scope("health:read");
    let addr = serve(Gate::new(validator(&issuer)), Some(health_read)).await;
    let mut client = client(addr).await;
    let without = issuer.token().scope("other").sign();
    let status = check(&mut client, Some(&without)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(
        challenge(&status).contains("error=\"insufficient_scope\""),
        "{status:?}"
    );
    assert!(
        challenge(&status).contains("scope=\"health:read\""),
        "{status:?}"
    );
    let error = tokengate::Error::InsufficientScope {
        required: "health:read".into(),
    };
    assert_eq!(status.message(), error.description(), "{status:?}");
    let with = issuer.token().subject("bob").scope("health:read").sign();
    let response = check(&mut client, Some(&with)).await.unwrap();
    assert_eq!(response.metadata().get("x-subject").unwrap(), "bob");
}

#[tokio::test]
async fn an_issuer_without_keys_is_unavailable() {
    let issuer = MockIssuer::start().await;
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks", closed.local_addr().unwrap());
    drop(closed);
    let validator = Validator::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .jwks_url(url)
        .build()
        .unwrap();
    let addr = serve(Gate::new(validator), None).await;
    let mut client = client(addr).await;
    let status = check(&mut client, Some(&issuer.token().sign()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.metadata().get("retry-after").is_some(), "{status:?}");
    let error = tokengate::Error::IssuerUnavailable {
        retry_after: std::time::Duration::from_secs(1),
    };
    assert_eq!(status.message(), error.description(), "{status:?}");
}

#[tokio::test]
async fn a_requirement_of_any_scope_refuses_as_permission_denied_naming_each_scope() {
    let issuer = MockIssuer::start().await;
    let either = Requirement::any_scope(["health:read", "admin"]);
    let addr = serve(Gate::new(validator(&issuer)), Some(either)).await;
    let mut client = client(addr).await;
    let without = issuer.token().scope("other").sign();
    let status = check(&mut client, Some(&without)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(
        challenge(&status).contains("scope=\"health:read admin\""),
        "{status:?}"
    );
    // The core's fixed description as grpc-message: the mapping ran (without it, tonic
    // reads PERMISSION_DENIED off the HTTP 403 but has no message).
    let error = tokengate::Error::InsufficientScope {
        required: "health:read admin".into(),
    };
    assert_eq!(status.message(), error.description(), "{status:?}");
    let admin = issuer.token().subject("ada").scope("admin").sign();
    let response = check(&mut client, Some(&admin)).await.unwrap();
    assert_eq!(response.metadata().get("x-subject").unwrap(), "ada");
}
