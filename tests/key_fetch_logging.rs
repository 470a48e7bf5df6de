//! Key-fetch failures and recoveries are logged once per change of state, not per request,
//! each naming the issuer and the URL (fields `issuer`, `url`).
//!
//! Alone in its test binary, with a global subscriber: tracing caches each call site's
//! interest process-wide, so a thread-local subscriber (`set_default`) misses events when
//! another test of the same binary reaches the same call site first, as the other
//! key-lifecycle tests do.

mod common;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{builder_for, serve_one as serve};
use tokengate::testing::{Behavior, MockIssuer};
use tracing_subscriber::layer::SubscriberExt;

async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..400 {
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test]
async fn failures_and_recoveries_are_logged_once_per_change() {
    let warnings = Arc::new(AtomicUsize::new(0));
    let recoveries = Arc::new(AtomicUsize::new(0));
    let fields = Arc::new(Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry().with(EventCounter {
        warnings: warnings.clone(),
        recoveries: recoveries.clone(),
        fields: fields.clone(),
    });
    tracing::subscriber::set_global_default(subscriber)
        .expect("the only subscriber of this binary");

    let issuer = MockIssuer::start().await;
    issuer.set_behavior(Behavior::Fail(500));
    let validator = builder_for(&issuer)
        .refresh_cooldown(Duration::from_millis(1))
        .max_retry_backoff(Duration::from_millis(1))
        .build()
        .unwrap();
    let api = serve(validator.clone()).await;
    let token = issuer.token().sign();
    for _ in 0..20 {
        api.get("/me", Some(&token)).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(validator.key_set_stats().failures >= 5);
    assert_eq!(warnings.load(Ordering::Relaxed), 1);
    issuer.set_behavior(Behavior::Normal);
    eventually("recovery", || async {
        api.get("/me", Some(&token)).await.status == 200
    })
    .await;
    for _ in 0..5 {
        api.get("/me", Some(&token)).await;
    }
    assert_eq!(recoveries.load(Ordering::Relaxed), 1);
    // The warning and the recovery each name the issuer and the URL concerned.
    let fields = fields.lock().unwrap();
    assert_eq!(fields.len(), 2, "{fields:?}");
    let metadata = format!("{}/.well-known/openid-configuration", issuer.issuer());
    let (warning, recovery) = (&fields[0], &fields[1]);
    assert_eq!(warning.get("issuer"), Some(&issuer.issuer().to_owned()));
    assert_eq!(warning.get("url"), Some(&metadata));
    assert_eq!(warning.get("cause").map(String::as_str), Some("status"));
    assert_eq!(recovery.get("issuer"), Some(&issuer.issuer().to_owned()));
    assert_eq!(recovery.get("url"), Some(&issuer.jwks_url()));
}

/// Counts tokengate's WARN events and "recovered" INFO events, and keeps their fields.
struct EventCounter {
    warnings: Arc<AtomicUsize>,
    recoveries: Arc<AtomicUsize>,
    fields: Arc<Mutex<Vec<HashMap<String, String>>>>,
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for EventCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let meta = event.metadata();
        if !meta.target().starts_with("tokengate") {
            return;
        }
        if *meta.level() == tracing::Level::WARN {
            self.warnings.fetch_add(1, Ordering::Relaxed);
        }
        let mut fields = HashMap::new();
        event.record(&mut FieldVisitor(&mut fields));
        let message = fields.get("message").cloned().unwrap_or_default();
        if message.contains("recovered") {
            self.recoveries.fetch_add(1, Ordering::Relaxed);
        }
        if *meta.level() == tracing::Level::WARN || message.contains("recovered") {
            self.fields.lock().unwrap().push(fields);
        }
    }
}

/// Every field of an event, as text (strings unquoted).
struct FieldVisitor<'a>(&'a mut HashMap<String, String>);

impl tracing::field::Visit for FieldVisitor<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}
