//! tokengate's spans exported through OpenTelemetry: an axum API whose `tracing` spans go
//! through `tracing-opentelemetry` to an OpenTelemetry SDK tracer provider with the stdout
//! exporter. Zero setup: an embedded mock issuer on 127.0.0.1 signs the token it prints;
//! no network beyond loopback, no collector.
//!
//! ```sh
//! cargo run --example otel_axum
//! curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/me
//! ```
//!
//! Each request is an `http.request` span (this example's own) holding tokengate's
//! `tokengate.validate` span (`issuer`, `outcome`, `reason`, `cache_hit`, `sub`), which
//! holds the `tokengate.key_fetch` span when the keys had to be fetched; the rejection's
//! debug line (`check`, `expected`, `found`) is an event on the validation span. Each span
//! is printed to stdout as it ends.
//!
//! The filter is `RUST_LOG` if set, else `info,tokengate=debug`: `tokengate.validate` is
//! a `debug` span, so a filter of `info` alone drops it (and keeps `tokengate.key_fetch`).
//!
//! Listens on `BIND_ADDR` (default `127.0.0.1:3000`), prints `listening on <url>` and
//! `token <jwt>` (subject `otel-user`), then serves until Ctrl-C or, with
//! `EXIT_AFTER_REQUESTS=N`, until N responses have been sent; either way the tracer
//! provider is shut down before exit, which flushes every span still buffered.
//!
//! **A real collector.** Swap the exporter for OTLP: add `opentelemetry-otlp` (features
//! `trace` and `grpc-tonic` or `http-proto`) and build the provider with
//! `.with_batch_exporter(opentelemetry_otlp::SpanExporter::builder().with_tonic().build()?)`
//! instead of `.with_simple_exporter(opentelemetry_stdout::SpanExporter::default())`; it
//! reads `OTEL_EXPORTER_OTLP_ENDPOINT` (default `http://localhost:4317`). The batch
//! exporter sends from its own thread, so the shutdown at exit is what flushes the last
//! spans. Nothing else here changes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::{Json, Router, routing::get};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tokengate::testing::MockIssuer;
use tokengate_tower::{Claims, TokenGateLayer};
use tokio::sync::Notify;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The filter without `RUST_LOG`: tokengate's `debug` validation spans, `info` elsewhere.
const DEFAULT_FILTER: &str = "info,tokengate=debug";

/// The service name the exported spans carry (OpenTelemetry's `service.name`).
const SERVICE_NAME: &str = "tokengate-otel-example";

async fn me(Claims(claims): Claims) -> Json<tokengate::Claims> {
    Json(claims)
}

/// The tracer provider printing every finished span to stdout, and the subscriber
/// (`EnvFilter` + the OpenTelemetry layer) installed as the global default.
fn install_tracing() -> SdkTracerProvider {
    let provider = SdkTracerProvider::builder()
        // The simple processor exports each span as it ends: right for stdout, where a
        // reader is watching. For OTLP use the batch exporter (see the header).
        .with_simple_exporter(opentelemetry_stdout::SpanExporter::default())
        .with_resource(Resource::builder().with_service_name(SERVICE_NAME).build())
        .build();
    let tracer = provider.tracer("otel_axum");
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| DEFAULT_FILTER.into());
    tracing_subscriber::registry()
        .with(filter)
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .init();
    provider
}

/// `EXIT_AFTER_REQUESTS`: stop after this many responses (unset: run until Ctrl-C).
fn exit_after() -> Option<usize> {
    let value = std::env::var("EXIT_AFTER_REQUESTS").ok()?;
    match value.parse() {
        Ok(n) if n > 0 => Some(n),
        _ => {
            eprintln!("configuration error: EXIT_AFTER_REQUESTS must be a positive integer");
            std::process::exit(2);
        }
    }
}

/// Counts responses and wakes `done` at the `limit`th.
#[derive(Clone)]
struct Countdown {
    served: Arc<AtomicUsize>,
    limit: Option<usize>,
    done: Arc<Notify>,
}

/// One `http.request` span around the whole request, tokengate's spans inside it.
async fn traced(
    axum::extract::State(countdown): axum::extract::State<Countdown>,
    request: Request,
    next: Next,
) -> Response {
    let span = tracing::info_span!(
        "http.request",
        http.request.method = %request.method(),
        url.path = request.uri().path(),
        http.response.status_code = tracing::field::Empty,
    );
    let response = next.run(request).instrument(span.clone()).await;
    span.record(
        "http.response.status_code",
        i64::from(response.status().as_u16()),
    );
    drop(span);
    let served = countdown.served.fetch_add(1, Ordering::SeqCst) + 1;
    if countdown.limit == Some(served) {
        countdown.done.notify_one();
    }
    response
}

#[tokio::main]
async fn main() {
    let provider = install_tracing();
    let countdown = Countdown {
        served: Arc::default(),
        limit: exit_after(),
        done: Arc::default(),
    };

    let issuer = MockIssuer::start().await;
    let validator = tokengate::Validator::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .build()
        .expect("valid configuration");
    let app = Router::new()
        .route("/me", get(me))
        .layer(TokenGateLayer::new(tokengate::Gate::new(validator)))
        .layer(middleware::from_fn_with_state(countdown.clone(), traced));

    let bind = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .unwrap_or_else(|e| {
            eprintln!("cannot listen on {bind}: {e}");
            std::process::exit(1);
        });
    println!("listening on http://{}", listener.local_addr().unwrap());
    println!("token {}", issuer.token().subject("otel-user").sign());

    let done = countdown.done.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = done.notified() => {}
            }
        })
        .await
        .expect("server error");
    // Flushes what the exporter still holds (with a batch exporter, the last spans).
    if let Err(e) = provider.shutdown() {
        eprintln!("tracer provider shutdown: {e}");
    }
}
