//! A tonic gRPC service behind `TokenGateLayer`, with an embedded development issuer:
//! zero setup.
//!
//! ```sh
//! cargo run -p tokengate-tower --example tonic_health
//! ```
//!
//! It serves `grpc.health.v1.Health` (tonic-health's generated service: no protoc)
//! behind the gate and a scope requirement (`health:read`), calls it with a tonic client
//! three ways (no token, a token without the scope, a good token) and prints what the
//! client saw: `UNAUTHENTICATED` and `PERMISSION_DENIED` with the `www-authenticate`
//! challenge in the metadata, then the answer of a handler that read the caller's claims
//! from the request extensions. It then keeps serving (Ctrl-C stops it) and prints a token
//! for your own client, e.g. `grpcurl -plaintext -H "authorization: Bearer $TOKEN"
//! -proto health.proto 127.0.0.1:PORT grpc.health.v1.Health/Check`.

use tokengate::testing::MockIssuer;
use tokengate::{Claims, Validator};
use tokengate_tower::{RequireScopeLayer, TokenGateLayer};
use tonic::transport::{Channel, Server};
use tonic::{Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

/// Answers `SERVING` to any caller the gate let through, naming the caller.
struct Checker;

#[tonic::async_trait]
impl Health for Checker {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        // The gate put the verified claims on the request.
        let claims = request
            .extensions()
            .get::<Claims>()
            .ok_or_else(|| Status::internal("no claims: is the gate in front?"))?;
        println!("  handler: called by {:?}", claims.subject());
        Ok(Response::new(HealthCheckResponse {
            status: ServingStatus::Serving as i32,
        }))
    }

    type WatchStream = tonic::codegen::tokio_stream::Empty<Result<HealthCheckResponse, Status>>;

    async fn watch(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("watch"))
    }
}

async fn call(client: &mut HealthClient<Channel>, what: &str, token: Option<&str>) {
    let mut request = Request::new(HealthCheckRequest::default());
    if let Some(token) = token {
        let value = format!("Bearer {token}").parse().expect("ASCII");
        request.metadata_mut().insert("authorization", value);
    }
    match client.check(request).await {
        Ok(response) => println!("{what}: OK, status {:?}", response.get_ref().status()),
        Err(status) => println!(
            "{what}: {:?} ({}), www-authenticate: {:?}",
            status.code(),
            status.message(),
            status.metadata().get("www-authenticate")
        ),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = MockIssuer::start().await;
    let validator = Validator::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .build()?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = Server::builder()
        .layer(TokenGateLayer::new(validator))
        .layer(RequireScopeLayer::new("health:read"))
        .add_service(HealthServer::new(Checker))
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
    let server = tokio::spawn(server);
    println!(
        "gRPC on http://{addr}, tokens from the development issuer {}",
        issuer.issuer()
    );

    let channel = Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    let mut client = HealthClient::new(channel);
    call(&mut client, "no token", None).await;
    let reader = issuer.token().subject("reader").scope("other").sign();
    call(&mut client, "without health:read", Some(&reader)).await;
    let token = issuer.token().subject("alice").scope("health:read").sign();
    call(&mut client, "with health:read", Some(&token)).await;

    println!("\nserving until Ctrl-C; a token with health:read:\n{token}");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        result = server => result??,
    }
    Ok(())
}
