//! The metrics of `tokengate::metrics` over real HTTP, through both adapters: every
//! declared name is emitted with its labels, the gate's own refusals are counted, an
//! accepted validation carries no `reason` label, and the Grafana dashboard in `ops/`
//! queries only names that exist.
//!
//! Alone in its binary: the recorder is global (the adapters serve on other threads than
//! the test's, so a thread-local recorder would see nothing).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tokengate::metrics::METRIC_NAMES;
use tokengate::testing::{DEFAULT_INTROSPECTION_CLIENT, MockIssuer};

/// A series: the name and its labels, `name{a=x,b=y}` with labels sorted.
fn series(name: &str, labels: &[(&str, &str)]) -> String {
    let mut labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    labels.sort();
    format!("{name}{{{}}}", labels.join(","))
}

#[tokio::test]
async fn every_metric_is_emitted_with_its_labels_through_both_adapters() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this binary");

    let issuer = MockIssuer::start().await;
    let api = common::serve(common::builder_for(&issuer).build().unwrap()).await;
    let iss = issuer.issuer().to_owned();

    // Each `get` asks both adapters: every count below is two, one per adapter.
    let valid = issuer.token().scope("read").sign();
    assert_eq!(api.get("/me", Some(&valid)).await.status, 200);
    assert_eq!(api.get("/me", None).await.status, 401);
    let header = format!("Bearer {valid}");
    let twice = api.get_with_headers("/me", &[&header, &header]).await;
    assert_eq!(twice.status, 400);
    assert_eq!(api.get("/admin", Some(&valid)).await.status, 403);
    // A per-route requirement (RequireLayer / Require) counts its refusal too.
    assert_eq!(api.get("/orders", Some(&valid)).await.status, 403);
    let expired = issuer.token().expires_in(-3600).sign();
    assert_eq!(api.get("/me", Some(&expired)).await.status, 401);

    // Opaque tokens, introspected (one validator behind both adapters: the second
    // adapter is answered from the remembered answer).
    let (id, secret) = DEFAULT_INTROSPECTION_CLIENT;
    let introspecting = common::builder_for(&issuer)
        .introspection(id, secret)
        .introspection_endpoint(issuer.introspection_url())
        .build()
        .unwrap();
    let opaque_api = common::serve(introspecting).await;
    let opaque = issuer.token().opaque();
    assert_eq!(opaque_api.get("/me", Some(&opaque)).await.status, 200);
    let revoked = issuer.token().opaque();
    issuer.revoke(&revoked);
    assert_eq!(opaque_api.get("/me", Some(&revoked)).await.status, 401);

    let mut counters = BTreeMap::new();
    let mut others = BTreeMap::new();
    let mut names = BTreeSet::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let (_, key) = key.into_parts();
        let labels: Vec<(String, String)> = key
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        for (k, v) in &labels {
            assert!(!v.is_empty(), "empty label {k} on {}", key.name());
        }
        let borrowed: Vec<(&str, &str)> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let name = series(key.name(), &borrowed);
        names.insert(key.name().to_owned());
        match value {
            DebugValue::Counter(n) => drop(counters.insert(name, n)),
            other => drop(others.insert(name, other)),
        }
    }
    let declared: BTreeSet<String> = METRIC_NAMES.iter().map(|n| n.to_string()).collect();
    assert_eq!(names, declared, "emitted vs declared names");

    let iss = iss.as_str();
    let validations = "tokengate_validations_total";
    let rejections = "tokengate_rejections_total";
    for (series, count) in [
        // The valid JWT three times per adapter (`/me`, `/admin`, `/orders`: a token
        // cache hit each time but the first), the valid opaque token once per adapter.
        (
            series(validations, &[("issuer", iss), ("outcome", "accepted")]),
            6 + 2,
        ),
        (
            series(
                validations,
                &[
                    ("issuer", iss),
                    ("outcome", "rejected"),
                    ("reason", "expired"),
                ],
            ),
            2,
        ),
        (
            series(
                validations,
                &[
                    ("issuer", iss),
                    ("outcome", "rejected"),
                    ("reason", "inactive"),
                ],
            ),
            2,
        ),
        (
            series("tokengate_token_cache_hits_total", &[("issuer", iss)]),
            5,
        ),
        (series(rejections, &[("reason", "missing_credentials")]), 2),
        (series(rejections, &[("reason", "invalid_request")]), 2),
        (series(rejections, &[("reason", "insufficient_scope")]), 4),
        (series(rejections, &[("reason", "expired")]), 2),
        (series(rejections, &[("reason", "inactive")]), 2),
        (
            series(
                "tokengate_introspections_total",
                &[("issuer", iss), ("result", "active")],
            ),
            1,
        ),
        (
            series(
                "tokengate_introspections_total",
                &[("issuer", iss), ("result", "inactive")],
            ),
            1,
        ),
        (
            series(
                "tokengate_introspection_cache_hits_total",
                &[("issuer", iss)],
            ),
            2,
        ),
        (
            series(
                "tokengate_key_fetches_total",
                &[("issuer", iss), ("result", "ok")],
            ),
            1,
        ),
    ] {
        assert_eq!(
            counters.get(&series),
            Some(&count),
            "{series} in {counters:#?}"
        );
    }
    // Gauges: the one key of the mock issuer, not failing, fetched just now.
    let gauge = |name: &str| match others.get(&series(name, &[("issuer", iss)])) {
        Some(DebugValue::Gauge(value)) => value.into_inner(),
        other => panic!("{name}: {other:?} in {others:#?}"),
    };
    assert_eq!(gauge("tokengate_key_set_keys"), 1.0);
    assert_eq!(gauge("tokengate_key_set_failing"), 0.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let fetched = gauge("tokengate_key_set_last_success_timestamp_seconds");
    assert!(
        now - 300.0 < fetched && fetched <= now,
        "{fetched} vs {now}"
    );
    for histogram in [
        "tokengate_key_fetch_duration_seconds",
        "tokengate_introspection_duration_seconds",
    ] {
        assert!(
            others.iter().any(|(s, v)| s.starts_with(histogram)
                && matches!(v, DebugValue::Histogram(h) if !h.is_empty())),
            "{histogram} in {others:#?}"
        );
    }
}

/// Every `tokengate_*` name a query of the dashboard uses is a metric we emit (a
/// histogram's `_bucket`, `_sum` and `_count` series are its own).
#[test]
fn the_grafana_dashboard_queries_only_declared_metrics() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/ops/grafana-dashboard.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("valid JSON");
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() >= 6, "panels with queries: {exprs:?}");
    let mut used = BTreeSet::new();
    for expr in &exprs {
        let mut rest = expr.as_str();
        while let Some(start) = rest.find("tokengate_") {
            let name: String = rest[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[start + name.len()..];
            used.insert(name);
        }
    }
    assert!(!used.is_empty());
    for name in &used {
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .filter(|base| base.ends_with("_seconds"))
            .unwrap_or(name);
        assert!(
            METRIC_NAMES.contains(&base),
            "the dashboard queries {name}, which tokengate does not emit"
        );
    }
}

fn collect_exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr", serde_json::Value::String(expr)) => out.push(expr.clone()),
                    _ => collect_exprs(value, out),
                }
            }
        }
        serde_json::Value::Array(values) => values.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}
