//! Tracing: a `tokengate.validate` span per validation (issuer, outcome, reason, cache
//! hit, and `sub`), at `debug`, over real HTTP through both adapters, and a
//! `tokengate.key_fetch` span per key-set fetch (issuer, URL, result), at `info`.
//!
//! Alone in its test binary, with a global subscriber: tracing caches each call site's
//! interest process-wide.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokengate::testing::MockIssuer;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

mod common;

/// Each span: its name and the fields recorded on it (at creation or later).
type Spans = Arc<Mutex<Vec<(String, HashMap<String, String>)>>>;

struct Capture(Spans);

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

/// The index of a span in the list, kept in its extensions.
struct Index(usize);

impl<S> Layer<S> for Capture
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let name = attrs.metadata().name();
        if !name.starts_with("tokengate.") {
            return;
        }
        let mut fields = HashMap::new();
        attrs.record(&mut Fields(&mut fields));
        let mut spans = self.0.lock().unwrap();
        spans.push((name.to_owned(), fields));
        let index = spans.len() - 1;
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Index(index));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let Some(Index(index)) = span.extensions().get::<Index>().map(|i| Index(i.0)) else {
            return;
        };
        let mut spans = self.0.lock().unwrap();
        values.record(&mut Fields(&mut spans[index].1));
    }
}

#[tokio::test]
async fn each_validation_and_key_fetch_has_a_span_with_its_fields() {
    let spans: Spans = Arc::default();
    let subscriber = tracing_subscriber::registry()
        .with(Capture(spans.clone()).with_filter(tracing_subscriber::filter::LevelFilter::DEBUG));
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let issuer = MockIssuer::start().await;
    let api = common::serve(common::builder_for(&issuer).build().unwrap()).await;
    let valid = issuer.token().subject("alice").sign();
    // axum first: keys fetched, token verified; actix: a token cache hit.
    assert_eq!(api.get("/me", Some(&valid)).await.status, 200);
    let expired = issuer.token().expires_in(-3600).sign();
    assert_eq!(api.get("/me", Some(&expired)).await.status, 401);

    let spans = spans.lock().unwrap().clone();
    let of = |name: &str| -> Vec<&HashMap<String, String>> {
        spans
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, f)| f)
            .collect()
    };
    let validations = of("tokengate.validate");
    assert_eq!(validations.len(), 4, "one per validation: {spans:#?}");
    let iss = issuer.issuer();
    let field = |span: &HashMap<String, String>, name: &str| span.get(name).cloned();
    for (span, outcome, cache_hit, sub, reason) in [
        (validations[0], "accepted", "false", Some("alice"), None),
        (validations[1], "accepted", "true", Some("alice"), None),
        (validations[2], "rejected", "false", None, Some("expired")),
        (validations[3], "rejected", "false", None, Some("expired")),
    ] {
        assert_eq!(field(span, "issuer").as_deref(), Some(iss), "{span:?}");
        assert_eq!(field(span, "outcome").as_deref(), Some(outcome), "{span:?}");
        assert_eq!(
            field(span, "cache_hit").as_deref(),
            Some(cache_hit),
            "{span:?}"
        );
        assert_eq!(field(span, "sub").as_deref(), sub, "{span:?}");
        assert_eq!(field(span, "reason").as_deref(), reason, "{span:?}");
        // Never the token.
        assert!(
            span.values()
                .all(|v| !v.contains(&valid) && !v.contains(&expired))
        );
    }
    let fetches = of("tokengate.key_fetch");
    assert_eq!(fetches.len(), 1, "{spans:#?}");
    assert_eq!(field(fetches[0], "issuer").as_deref(), Some(iss));
    assert_eq!(field(fetches[0], "result").as_deref(), Some("ok"));
    assert_eq!(
        field(fetches[0], "url").as_deref(),
        Some(issuer.jwks_url().as_str()),
        "{:?}",
        fetches[0]
    );
}
