//! tokengate's metrics (feature `metrics`) exported for Prometheus: the axum API of
//! `axum_api.rs` with `GET /metrics` beside it, in the Prometheus text format.
//!
//! ```sh
//! cargo run --example prometheus      # embedded development issuer, prints tokens
//! curl -s http://127.0.0.1:3000/metrics | grep tokengate_
//! ```
//!
//! The same environment contract as the other examples (`common/mod.rs`). The names and
//! labels are documented in `tokengate::metrics`; `ops/grafana-dashboard.json` is a
//! dashboard over them. `/metrics`, `/health` and `/ready` are outside the gate.

mod common;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Json, Router, routing::get};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokengate_tower::{Claims, RequireScopeLayer, TokenGateLayer};

/// Histogram buckets for the `_seconds` histograms (key fetches, introspection): from a
/// loopback answer to the fetch timeout.
const SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often the exporter drains its histograms (its documented upkeep).
const UPKEEP: std::time::Duration = std::time::Duration::from_secs(5);

async fn me(Claims(claims): Claims) -> Json<tokengate::Claims> {
    Json(claims)
}

/// `GET /ready`: 200 once the keys are loaded, 503 with the cause otherwise.
async fn ready(State(validator): State<tokengate::Validator>) -> (StatusCode, String) {
    let (status, body) = common::readiness(&validator).await;
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
        body,
    )
}

async fn metrics(State(handle): State<PrometheusHandle>) -> String {
    handle.render()
}

#[tokio::main]
async fn main() {
    // Installed before the validator is built or used: every recording goes to it.
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
        .expect("non-empty buckets")
        .install_recorder()
        .expect("the only recorder of this process");
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP);
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });

    let setup = common::setup().await;
    let listener = tokio::net::TcpListener::bind(&setup.bind_addr)
        .await
        .unwrap_or_else(|e| {
            eprintln!("cannot listen on {}: {e}", setup.bind_addr);
            std::process::exit(1);
        });
    let addr = listener.local_addr().expect("bound address");
    let mut gate = tokengate::Gate::new(setup.validator.clone());
    if let Some(dpop) = common::dpop(addr) {
        gate = gate.dpop(dpop);
    }
    let protected = Router::new()
        .route("/me", get(me))
        .route(
            "/admin",
            get(|| async { "admin" }).layer(RequireScopeLayer::new("admin")),
        )
        .layer(TokenGateLayer::new(gate));
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(ready).with_state(setup.validator.clone()))
        .route("/metrics", get(metrics).with_state(handle))
        .merge(protected);

    common::announce(&setup, addr);
    println!("  curl -s http://{addr}/metrics | grep tokengate_");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .expect("server error");
}
