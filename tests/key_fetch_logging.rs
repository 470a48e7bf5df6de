//! Key-fetch failures and recoveries are logged once per change of state, not per request.
//!
//! Alone in its test binary, with a global subscriber: tracing caches each call site's
//! interest process-wide, so a thread-local subscriber (`set_default`) misses events when
//! another test of the same binary reaches the same call site first, as the other
//! key-lifecycle tests do.

mod common;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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
    let subscriber = tracing_subscriber::registry().with(EventCounter {
        warnings: warnings.clone(),
        recoveries: recoveries.clone(),
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
}

/// Counts tokengate's WARN events and "recovered" INFO events.
struct EventCounter {
    warnings: Arc<AtomicUsize>,
    recoveries: Arc<AtomicUsize>,
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
        let mut message = String::new();
        event.record(&mut MessageVisitor(&mut message));
        if message.contains("recovered") {
            self.recoveries.fetch_add(1, Ordering::Relaxed);
        }
    }
}

struct MessageVisitor<'a>(&'a mut String);

impl tracing::field::Visit for MessageVisitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            *self.0 = format!("{value:?}");
        }
    }
}
