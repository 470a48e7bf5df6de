//! Each refused token is logged once at `debug` with the issuer, its `kid` and `alg`, the
//! failing check and the expected and found values (`iss`, `aud`, `exp` against now);
//! never the token or its signature.
//!
//! Alone in its test binary, with a global subscriber: tracing caches each call site's
//! interest process-wide, so a thread-local subscriber misses events when another test of
//! the same binary reaches the same call site first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokengate::testing::MockIssuer;
use tokengate::{Error, InvalidToken, Validator};
use tracing_subscriber::layer::SubscriberExt;

type Events = Arc<Mutex<Vec<HashMap<String, String>>>>;

#[tokio::test]
async fn rejections_are_logged_with_the_check_and_the_values_compared() {
    let events: Events = Arc::default();
    let subscriber = tracing_subscriber::registry().with(Rejections(events.clone()));
    tracing::subscriber::set_global_default(subscriber)
        .expect("the only subscriber of this binary");

    let issuer = MockIssuer::start().await;
    let validator = Validator::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .build()
        .unwrap();
    let kid = issuer.rotate();
    let expired = issuer.token().key(&kid).expires_in(-3600).sign();
    let wrong_audience = issuer.token().key(&kid).audience("another-api").sign();
    let wrong_issuer = issuer
        .token()
        .key(&kid)
        .claim("iss", "https://evil.example")
        .sign();
    let mut forged = issuer.token().key(&kid).sign();
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");

    let cases: [(&str, InvalidToken); 4] = [
        (&expired, InvalidToken::Expired),
        (&wrong_audience, InvalidToken::WrongAudience),
        (&wrong_issuer, InvalidToken::WrongIssuer),
        (&forged, InvalidToken::BadSignature),
    ];
    for (token, reason) in cases {
        assert_eq!(
            validator.validate(token).await.unwrap_err(),
            Error::InvalidToken(reason)
        );
    }
    let events = events.lock().unwrap().clone();
    assert_eq!(events.len(), 4, "one line per refusal: {events:#?}");
    for (event, (token, reason)) in events.iter().zip(cases) {
        let field = |name: &str| event.get(name).map(String::as_str);
        assert_eq!(field("check"), Some(reason.as_str()), "{event:?}");
        assert_eq!(field("issuer"), Some(issuer.issuer()), "{event:?}");
        assert_eq!(field("kid"), Some(kid.as_str()), "{event:?}");
        assert_eq!(field("alg"), Some("RS256"), "{event:?}");
        // Neither the token nor any of its parts (the signature above all).
        let line = format!("{event:?}");
        for part in token.split('.') {
            assert!(!line.contains(part), "a token part was logged: {line}");
        }
    }
    let values = |i: usize| {
        let event = &events[i];
        (
            event.get("expected").cloned().unwrap_or_default(),
            event.get("found").cloned().unwrap_or_default(),
        )
    };
    let (expected, found) = values(0);
    assert!(
        expected.starts_with("exp >= ") && expected.contains("leeway 60 s"),
        "{expected}"
    );
    assert!(found.starts_with("exp "), "{found}");
    let (expected, found) = values(1);
    assert!(expected.contains(issuer.audience()), "{expected}");
    assert!(found.contains("another-api"), "{found}");
    let (expected, found) = values(2);
    assert_eq!(expected, format!("{:?}", issuer.issuer()));
    assert_eq!(found, format!("{:?}", "https://evil.example"));
    assert!(
        !events[3].contains_key("expected"),
        "a signature has no expected value"
    );
}

/// Keeps the fields of every "token rejected" event.
struct Rejections(Events);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Rejections {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if !event.metadata().target().starts_with("tokengate") {
            return;
        }
        let mut fields = HashMap::new();
        event.record(&mut FieldVisitor(&mut fields));
        if fields.get("message").is_some_and(|m| m == "token rejected") {
            self.0.lock().unwrap().push(fields);
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
