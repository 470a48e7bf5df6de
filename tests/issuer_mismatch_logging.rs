//! A configured issuer that its discovery document does not name (RFC 8414 section 3.3)
//! is logged at the first fetch, once, with both values and the setting that would have
//! matched: "did you mean issuer(..)?". The classic case: Auth0's trailing slash.
//!
//! Alone in its test binary, with a global subscriber: tracing caches each call site's
//! interest process-wide, so a thread-local subscriber misses events when another test of
//! the same binary reaches the call site first.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::serve_one;
use tokengate::Validator;
use tokengate::testing::MockIssuer;
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test]
async fn a_trailing_slash_mismatch_is_warned_once_with_did_you_mean() {
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry().with(Warnings(warnings.clone()));
    tracing::subscriber::set_global_default(subscriber)
        .expect("the only subscriber of this binary");

    let issuer = MockIssuer::start().await;
    // Auth0 style: configured with a slash the document (`http://127.0.0.1:PORT`) lacks.
    let configured = format!("{}/", issuer.issuer());
    let validator = Validator::builder()
        .issuer(&configured)
        .audience(issuer.audience())
        .refresh_cooldown(Duration::from_millis(1))
        .max_retry_backoff(Duration::from_millis(1))
        .fetch_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let api = serve_one(validator.clone()).await;
    let token = issuer.token().claim("iss", configured.as_str()).sign();
    for _ in 0..10 {
        // Keys never load: 503, never a pass.
        assert_eq!(api.get("/me", Some(&token)).await.status, 503);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(validator.key_set_stats().failures >= 3, "it kept trying");

    let warnings = warnings.lock().unwrap();
    assert_eq!(
        warnings.len(),
        1,
        "warned once, not per attempt: {warnings:?}"
    );
    let warning = &warnings[0];
    assert_eq!(warning.get("issuer"), Some(&configured));
    assert_eq!(
        warning.get("cause").map(String::as_str),
        Some("issuer_mismatch")
    );
    let error = warning.get("error").cloned().unwrap_or_default();
    assert!(
        error.contains(&format!("configured {configured:?}")),
        "{error}"
    );
    assert!(
        error.contains(&format!("says {:?}", issuer.issuer())),
        "{error}"
    );
    assert!(
        error.contains(&format!(
            "did you mean issuer({:?})? (issuers are compared exactly: the trailing slash counts)",
            issuer.issuer()
        )),
        "{error}"
    );
    assert_eq!(
        issuer.jwks_hits(),
        0,
        "no key fetched for a mismatched issuer"
    );
}

/// Keeps the fields of tokengate's WARN events.
struct Warnings(Arc<Mutex<Vec<HashMap<String, String>>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Warnings {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let meta = event.metadata();
        if !meta.target().starts_with("tokengate") || *meta.level() != tracing::Level::WARN {
            return;
        }
        let mut fields = HashMap::new();
        event.record(&mut FieldVisitor(&mut fields));
        self.0.lock().unwrap().push(fields);
    }
}

/// Every field of an event, as text (strings unquoted, `Display` values as written).
struct FieldVisitor<'a>(&'a mut HashMap<String, String>);

impl tracing::field::Visit for FieldVisitor<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}
