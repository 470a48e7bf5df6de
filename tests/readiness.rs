//! `Validator::ready`: keys loaded now, or the precise cause of each issuer's failure,
//! over real HTTP on 127.0.0.1 (a closed port, a hung issuer, a plain listener behind an
//! https URL, a name that cannot resolve).

use std::time::Duration;

use serde_json::json;
use tokengate::testing::{Behavior, MockIssuer};
use tokengate::{KeyFetchError, NotReady, Validator, ValidatorBuilder};

/// Generous: a cause must be found long before this, even on a loaded machine.
const TIMEOUT: Duration = Duration::from_secs(10);

fn builder(issuer: &str) -> ValidatorBuilder {
    Validator::builder()
        .issuer(issuer)
        .audience("api")
        .fetch_timeout(TIMEOUT)
}

/// The one issuer's cause.
async fn cause_of(validator: &Validator) -> (NotReady, KeyFetchError) {
    let not_ready = validator.ready().await.expect_err("not ready");
    let causes: Vec<_> = not_ready.causes().collect();
    assert_eq!(causes.len(), 1, "{not_ready}");
    assert_eq!(causes[0].0, validator.issuer());
    let cause = causes[0].1.clone();
    (not_ready, cause)
}

#[tokio::test]
async fn ready_once_keys_are_loaded_and_then_answers_from_memory() {
    let issuer = MockIssuer::start().await;
    let validator = builder(issuer.issuer())
        .audience(issuer.audience())
        .build()
        .unwrap();
    assert_eq!(validator.ready().await, Ok(()));
    assert_eq!(issuer.jwks_hits(), 1);
    // Stale keys still verify: an outage after loading does not make it unready.
    issuer.set_behavior(Behavior::Fail(500));
    for _ in 0..10 {
        assert_eq!(validator.ready().await, Ok(()));
    }
    assert_eq!(issuer.jwks_hits(), 1, "probes cost no fetch once ready");
}

#[tokio::test]
async fn an_unresolvable_host_is_a_dns_failure_naming_the_host() {
    // RFC 6761 section 6.4: `.invalid` never resolves.
    let validator = builder("https://tokengate-readiness.invalid")
        .build()
        .unwrap();
    let (not_ready, cause) = cause_of(&validator).await;
    match &cause {
        KeyFetchError::Dns { host, url, .. } => {
            assert_eq!(host, "tokengate-readiness.invalid");
            assert_eq!(
                url,
                "https://tokengate-readiness.invalid/.well-known/openid-configuration"
            );
        }
        other => panic!("not a DNS failure: {other:?}"),
    }
    let text = not_ready.to_string();
    assert!(text.contains("DNS"), "{text}");
    assert!(text.contains("tokengate-readiness.invalid"), "{text}");
}

#[tokio::test]
async fn a_closed_port_is_a_refused_connection() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }; // closed again: nothing listens there now
    let validator = builder(&format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();
    let (not_ready, cause) = cause_of(&validator).await;
    assert!(matches!(cause, KeyFetchError::Connect { .. }), "{cause:?}");
    assert_eq!(cause.as_str(), "connect");
    let text = not_ready.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
}

#[tokio::test]
async fn a_hung_issuer_is_a_timeout_naming_the_limit() {
    let issuer = MockIssuer::start().await;
    issuer.set_behavior(Behavior::Hang);
    let validator = builder(issuer.issuer())
        .fetch_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let (not_ready, cause) = cause_of(&validator).await;
    match &cause {
        KeyFetchError::Timeout { after, url, .. } => {
            assert_eq!(*after, Duration::from_millis(300));
            assert!(url.starts_with(issuer.issuer()), "{url}");
        }
        other => panic!("not a timeout: {other:?}"),
    }
    assert!(not_ready.to_string().contains("300 ms"), "{not_ready}");
}

#[tokio::test]
async fn https_to_a_plain_http_listener_is_a_tls_failure() {
    let issuer = MockIssuer::start().await;
    // The mock issuer speaks plain HTTP: a TLS handshake with it cannot succeed.
    let https = format!("https://{}", issuer.addr());
    let validator = builder(&https).build().unwrap();
    let (not_ready, cause) = cause_of(&validator).await;
    assert!(matches!(cause, KeyFetchError::Tls { .. }), "{cause:?}");
    let text = not_ready.to_string();
    assert!(text.contains("TLS"), "{text}");
    assert!(text.contains(&https), "{text}");
}

#[tokio::test]
async fn an_http_status_names_the_status_and_the_url() {
    let issuer = MockIssuer::start().await;
    issuer.set_behavior(Behavior::Fail(500));
    let validator = builder(issuer.issuer()).build().unwrap();
    let (not_ready, cause) = cause_of(&validator).await;
    let metadata = format!("{}/.well-known/openid-configuration", issuer.issuer());
    assert!(
        matches!(&cause, KeyFetchError::Status { url, status: 500, .. } if *url == metadata),
        "{cause:?}"
    );
    assert!(
        not_ready
            .to_string()
            .contains(&format!("HTTP 500 from {metadata}")),
        "{not_ready}"
    );

    // The JWKS's own status, with its URL.
    let jwks = builder(issuer.issuer())
        .jwks_url(issuer.jwks_url())
        .build()
        .unwrap();
    issuer.set_behavior(Behavior::Fail(503));
    let (_, cause) = cause_of(&jwks).await;
    assert!(
        matches!(&cause, KeyFetchError::Status { url, status: 503, .. } if *url == issuer.jwks_url()),
        "{cause:?}"
    );
}

#[tokio::test]
async fn a_discovery_document_that_is_not_json_is_unusable() {
    let issuer = MockIssuer::start().await;
    issuer.set_behavior(Behavior::Garbage);
    let validator = builder(issuer.issuer()).build().unwrap();
    let (not_ready, cause) = cause_of(&validator).await;
    assert!(
        matches!(&cause, KeyFetchError::Discovery { url, .. } if url.ends_with("/.well-known/openid-configuration")),
        "{cause:?}"
    );
    assert!(not_ready.to_string().contains("not JSON"), "{not_ready}");
}

/// RFC 8414 section 3.3: the discovery document's `issuer` must be identical to the one
/// configured. A trailing slash is the classic difference: both values are shown.
#[tokio::test]
async fn an_issuer_mismatch_shows_both_values() {
    let issuer = MockIssuer::start().await;
    let configured = format!("{}/", issuer.issuer());
    let validator = builder(&configured).build().unwrap();
    let (not_ready, cause) = cause_of(&validator).await;
    match &cause {
        KeyFetchError::IssuerMismatch {
            configured: c,
            found,
            ..
        } => {
            assert_eq!(c, &configured);
            assert_eq!(found.as_deref(), Some(issuer.issuer()));
        }
        other => panic!("not an issuer mismatch: {other:?}"),
    }
    let text = not_ready.to_string();
    assert!(
        text.contains(&format!("configured {configured:?}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("says {:?}", issuer.issuer())),
        "{text}"
    );
    assert_eq!(
        issuer.jwks_hits(),
        0,
        "no key fetched for a mismatched issuer"
    );
}

#[tokio::test]
async fn a_jwks_without_a_usable_key_says_how_many_were_skipped() {
    let issuer = MockIssuer::start().await;
    let rsa = issuer.public_jwk(&issuer.rotate()).unwrap();
    let mut encryption = rsa.clone();
    encryption["use"] = json!("enc");
    issuer.serve_jwks(Some(json!({"keys": [
        {"kty": "oct", "k": "c2VjcmV0"},
        encryption,
    ]})));
    let validator = builder(issuer.issuer()).build().unwrap();
    let (not_ready, cause) = cause_of(&validator).await;
    assert!(
        matches!(
            &cause,
            KeyFetchError::NoUsableKey { url, published: 2, skipped: 2, .. } if *url == issuer.jwks_url()
        ),
        "{cause:?}"
    );
    assert!(
        not_ready.to_string().contains("2 published, 2 skipped"),
        "{not_ready}"
    );
    // Not a JWK Set at all.
    issuer.serve_jwks(Some(json!({"not_keys": []})));
    let validator = builder(issuer.issuer()).build().unwrap();
    let (_, cause) = cause_of(&validator).await;
    assert!(
        matches!(cause, KeyFetchError::InvalidJwks { .. }),
        "{cause:?}"
    );
    // Fixed: ready on the next attempt.
    issuer.serve_jwks(None);
    let validator = builder(issuer.issuer()).build().unwrap();
    assert_eq!(validator.ready().await, Ok(()));
}

#[tokio::test]
async fn several_issuers_each_name_their_own_cause() {
    let good = MockIssuer::start().await;
    let failing = MockIssuer::start().await;
    failing.set_behavior(Behavior::Fail(502));
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())
    };
    let validator = Validator::any_of([
        builder(good.issuer()).build().unwrap(),
        builder(failing.issuer()).build().unwrap(),
        builder(&closed).build().unwrap(),
    ])
    .unwrap();
    let not_ready = validator.ready().await.expect_err("two issuers fail");
    let causes: Vec<(&str, &str)> = not_ready
        .causes()
        .map(|(issuer, cause)| (issuer, cause.as_str()))
        .collect();
    let mut expected = vec![(failing.issuer(), "status"), (closed.as_str(), "connect")];
    expected.sort();
    assert_eq!(causes, expected, "{not_ready}");
    let text = not_ready.to_string();
    assert!(
        text.contains(failing.issuer()) && text.contains(&closed),
        "{text}"
    );
    assert!(!text.contains(&format!("{:?}", good.issuer())), "{text}");

    // Once the failing one answers, only the closed port is left.
    failing.set_behavior(Behavior::Normal);
    let validator = Validator::any_of([
        builder(good.issuer()).build().unwrap(),
        builder(failing.issuer()).build().unwrap(),
    ])
    .unwrap();
    assert_eq!(validator.ready().await, Ok(()));
}

/// A readiness probe every second must not become a fetch every second: attempts go
/// through the fetch budget, and in between the last attempt's cause is answered.
#[tokio::test]
async fn probes_of_a_failing_issuer_cost_one_fetch_per_cooldown() {
    let issuer = MockIssuer::start().await;
    issuer.set_behavior(Behavior::Fail(500));
    let validator = builder(issuer.issuer())
        .refresh_cooldown(Duration::from_secs(600))
        .build()
        .unwrap();
    for _ in 0..20 {
        let (_, cause) = cause_of(&validator).await;
        assert!(
            matches!(cause, KeyFetchError::Status { status: 500, .. }),
            "{cause:?}"
        );
    }
    assert_eq!(issuer.discovery_hits(), 1);
}

/// A URL's user name and password are never shown.
#[tokio::test]
async fn causes_never_show_credentials_in_urls() {
    let issuer = MockIssuer::start().await;
    issuer.set_behavior(Behavior::Fail(401));
    let url = issuer
        .jwks_url()
        .replacen("http://", "http://reader:hunter2@", 1);
    let validator = builder(issuer.issuer()).jwks_url(url).build().unwrap();
    let (not_ready, cause) = cause_of(&validator).await;
    let text = format!("{not_ready} {cause:?}");
    assert!(
        !text.contains("hunter2") && !text.contains("reader"),
        "{text}"
    );
    assert!(text.contains(&issuer.jwks_url()), "{text}");
}

#[tokio::test]
async fn pinned_keys_are_always_ready() {
    let issuer = MockIssuer::start().await;
    let jwk = issuer.public_jwk(&issuer.rotate()).unwrap();
    let validator = builder("https://id.example")
        .jwks(json!({ "keys": [jwk] }))
        .build()
        .unwrap();
    assert_eq!(validator.ready().await, Ok(()));
}
