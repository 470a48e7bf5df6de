//! The key set's lifecycle: HTTP caching, background refresh, conditional requests,
//! backoff, floods and hung refreshes, redirects, observability.
//!
//! Timing: lifetimes are shortened with `min_cache_ttl` so that tests take about a second;
//! every latency assertion is an upper bound several times what it should take, and
//! "eventually" conditions are polled with a generous deadline.

mod common;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Api, builder_for, serve_one as serve};
use serde_json::json;
use tokengate::ValidatorBuilder;
use tokengate::testing::{Behavior, MockIssuer};

/// A validator whose key sets live exactly as long as the issuer's max-age says (down
/// to 50 ms), with a short cooldown.
fn quick(issuer: &MockIssuer) -> ValidatorBuilder {
    builder_for(issuer)
        .min_cache_ttl(Duration::from_millis(50))
        .refresh_cooldown(Duration::from_millis(50))
}

async fn quick_api(issuer: &MockIssuer) -> (tokengate::Validator, Api) {
    let validator = quick(issuer).build().unwrap();
    (validator.clone(), serve(validator).await)
}

/// Polls `condition` every 50 ms for up to 20 s.
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
async fn max_age_drives_a_background_refresh_that_no_request_waits_for() {
    let issuer = MockIssuer::start().await;
    issuer.set_jwks_headers(&[("cache-control", "max-age=1")]);
    let (validator, api) = quick_api(&issuer).await;
    let token = issuer.token().sign();
    assert_eq!(api.get("/me", Some(&token)).await.status, 200);
    assert_eq!(issuer.jwks_hits(), 1);

    // Within the lifetime: no refresh at all.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(api.get("/me", Some(&token)).await.status, 200);
    assert_eq!(issuer.jwks_hits(), 1);

    // Past 80 % of it, with an issuer that now takes 1.5 s to answer (within the 2 s
    // fetch timeout): the request is served from memory at once, the refresh runs behind.
    tokio::time::sleep(Duration::from_millis(700)).await;
    issuer.set_behavior(Behavior::Slow(Duration::from_millis(1500)));
    let started = Instant::now();
    assert_eq!(api.get("/me", Some(&token)).await.status, 200);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_millis(1000),
        "request waited {waited:?}"
    );
    eventually("a background refresh", || async { issuer.jwks_hits() == 2 }).await;
    issuer.set_behavior(Behavior::Normal);
    eventually("the refresh to complete", || async {
        validator.key_set_stats().age.unwrap() < Duration::from_secs(2)
            && validator.key_set_stats().not_modified >= 1
    })
    .await;
}

#[tokio::test]
async fn no_cache_means_the_shortest_lifetime_and_long_max_age_means_none() {
    let chatty = MockIssuer::start().await;
    chatty.set_jwks_headers(&[("cache-control", "no-cache")]);
    let calm = MockIssuer::start().await;
    calm.set_jwks_headers(&[("cache-control", "public, max-age=3600")]);
    let (_, chatty_api) = quick_api(&chatty).await;
    let (_, calm_api) = quick_api(&calm).await;
    let (chatty_token, calm_token) = (chatty.token().sign(), calm.token().sign());
    for _ in 0..10 {
        assert_eq!(chatty_api.get("/me", Some(&chatty_token)).await.status, 200);
        assert_eq!(calm_api.get("/me", Some(&calm_token)).await.status, 200);
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    assert_eq!(calm.jwks_hits(), 1, "max-age=3600: fetched once");
    assert!(
        chatty.jwks_hits() >= 3,
        "no-cache: {} fetches",
        chatty.jwks_hits()
    );
}

#[tokio::test]
async fn an_invalid_expires_means_already_stale() {
    let issuer = MockIssuer::start().await;
    issuer.set_jwks_headers(&[("expires", "0")]);
    let (_, api) = quick_api(&issuer).await;
    let token = issuer.token().sign();
    for _ in 0..6 {
        assert_eq!(api.get("/me", Some(&token)).await.status, 200);
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    assert!(issuer.jwks_hits() >= 2, "{} fetches", issuer.jwks_hits());
}

#[tokio::test]
async fn unchanged_sets_are_confirmed_with_304() {
    for use_etag in [true, false] {
        let issuer = MockIssuer::start().await;
        issuer.serve_etag(use_etag);
        let mut headers = vec![("cache-control", "max-age=0")];
        if !use_etag {
            headers.push(("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT"));
        }
        issuer.set_jwks_headers(&headers);
        let (validator, api) = quick_api(&issuer).await;
        let token = issuer.token().sign();
        assert_eq!(api.get("/me", Some(&token)).await.status, 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(api.get("/me", Some(&token)).await.status, 200);
        eventually("a 304", || async { issuer.not_modified_hits() >= 1 }).await;
        eventually("the 304 counted", || async {
            validator.key_set_stats().not_modified >= 1
        })
        .await;
        // The confirmed set still verifies.
        assert_eq!(
            api.get("/me", Some(&token)).await.status,
            200,
            "etag: {use_etag}"
        );
    }
}

#[tokio::test]
async fn a_key_removed_from_the_published_set_stops_after_a_background_refresh() {
    let issuer = MockIssuer::start().await;
    issuer.set_jwks_headers(&[("cache-control", "max-age=0")]);
    let (_, api) = quick_api(&issuer).await;
    let old = issuer.token().sign();
    assert_eq!(api.get("/me", Some(&old)).await.status, 200);
    issuer.rotate();
    issuer.retract("key-1");
    // No unknown kid involved: only the background refresh can notice the removal.
    eventually("the retracted key to stop verifying", || async {
        tokio::time::sleep(Duration::from_millis(60)).await;
        api.get("/me", Some(&old)).await.status == 401
    })
    .await;
}

#[tokio::test]
async fn a_hung_background_refresh_never_slows_valid_requests() {
    let issuer = MockIssuer::start().await;
    issuer.set_jwks_headers(&[("cache-control", "max-age=0")]);
    let validator = quick(&issuer)
        .fetch_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let api = serve(validator).await;
    let token = issuer.token().sign();
    assert_eq!(api.get("/me", Some(&token)).await.status, 200);
    let baseline = slowest_of(&api, &token, 20).await;

    issuer.set_behavior(Behavior::Hang);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let during = slowest_of(&api, &token, 50).await;
    eventually("a refresh to be attempted", || async {
        issuer.jwks_hits() >= 2
    })
    .await;
    let also_during = slowest_of(&api, &token, 50).await;
    let bound = Duration::from_millis(500).max(baseline * 20);
    assert!(
        during < bound && also_during < bound,
        "{baseline:?} -> {during:?}, {also_during:?}"
    );
}

async fn slowest_of(api: &Api, token: &str, n: usize) -> Duration {
    let mut slowest = Duration::ZERO;
    for _ in 0..n {
        let started = Instant::now();
        assert_eq!(api.get("/me", Some(token)).await.status, 200);
        slowest = slowest.max(started.elapsed());
    }
    slowest
}

#[tokio::test]
async fn unknown_kid_flood_costs_one_fetch_and_valid_requests_keep_flowing() {
    const FLOOD: usize = 3000;
    const FLOOD_IN_FLIGHT: usize = 200;
    let issuer = MockIssuer::start().await;
    let validator = builder_for(&issuer)
        .refresh_cooldown(Duration::from_secs(600))
        .build()
        .unwrap();
    let api = Arc::new(serve(validator.clone()).await);
    let valid = issuer.token().sign();
    assert_eq!(api.get("/me", Some(&valid)).await.status, 200);
    let baseline = slowest_of(&api, &valid, 20).await;

    let junk: Vec<String> = (0..FLOOD)
        .map(|i| {
            issuer
                .token()
                .header("kid", format!("junk-{}", i % 1000))
                .sign()
        })
        .collect();
    let refused = Arc::new(AtomicUsize::new(0));
    // Many requests in flight at once, but not one connection per token: 3,000 at once
    // (to each adapter) overflowed the listen backlog on a loaded 2-core machine, and a
    // reset connection said nothing about the key set.
    let in_flight = Arc::new(tokio::sync::Semaphore::new(FLOOD_IN_FLIGHT));
    let mut flood = Vec::with_capacity(FLOOD);
    for token in junk {
        let (api, refused, in_flight) = (api.clone(), refused.clone(), in_flight.clone());
        flood.push(tokio::spawn(async move {
            let _permit = in_flight.acquire().await.unwrap();
            if api.get("/me", Some(&token)).await.status == 401 {
                refused.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let during = slowest_of(&api, &valid, 30).await;
    for request in flood {
        request.await.unwrap();
    }
    assert_eq!(refused.load(Ordering::Relaxed), FLOOD);
    assert!(issuer.jwks_hits() <= 2, "{} fetches", issuer.jwks_hits());
    let stats = validator.key_set_stats();
    assert!(
        stats.unknown_kid_hits > 0,
        "repeated kids were not remembered: {stats:?}"
    );
    println!(
        "flood: {FLOOD} requests, {} JWKS fetches, valid-request latency {baseline:?} before, \
         {during:?} slowest during; {} refused from memory",
        issuer.jwks_hits(),
        stats.unknown_kid_hits
    );
    // Generous: queueing behind 3000 requests on a 2-core machine, not behind a fetch.
    assert!(
        during < Duration::from_secs(5),
        "valid requests stalled: {during:?}"
    );
}

#[tokio::test]
async fn failing_issuer_is_retried_with_backoff_and_recovers() {
    let issuer = MockIssuer::start().await;
    issuer.set_behavior(Behavior::Fail(500));
    let validator = builder_for(&issuer)
        .refresh_cooldown(Duration::from_millis(100))
        .build()
        .unwrap();
    let api = serve(validator.clone()).await;
    let token = issuer.token().sign();
    let first = api.get("/me", Some(&token)).await;
    assert_eq!(first.status, 503);
    assert!(first.retry_after.is_some());

    // Hammer it for 1.5 s. Without backoff that allows ~15 attempts (one per 100 ms);
    // with doubling (100, 200, 400, 800 ms ...) at most 5.
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        assert_eq!(api.get("/me", Some(&token)).await.status, 503);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let attempts = issuer.discovery_hits();
    assert!((2..=6).contains(&attempts), "{attempts} attempts in 1.5 s");
    let stats = validator.key_set_stats();
    assert_eq!(stats.failures as usize, attempts);
    assert!(stats.failing);

    issuer.set_behavior(Behavior::Normal);
    eventually("recovery", || async {
        api.get("/me", Some(&token)).await.status == 200
    })
    .await;
    assert!(!validator.key_set_stats().failing);
}

#[tokio::test]
async fn redirects_are_followed_only_within_the_scheme_policy() {
    let issuer = MockIssuer::start().await;
    let via_redirect = builder_for(&issuer)
        .jwks_url(issuer.moved_url())
        .build()
        .unwrap();
    let api = serve(via_redirect).await;
    assert_eq!(
        api.get("/me", Some(&issuer.token().sign())).await.status,
        200
    );

    for location in ["ftp://127.0.0.1/jwks", "/moved"] {
        let issuer = MockIssuer::start().await;
        issuer.redirect_to(location);
        let validator = builder_for(&issuer)
            .jwks_url(issuer.moved_url())
            .build()
            .unwrap();
        let api = serve(validator).await;
        let reply = api.get("/me", Some(&issuer.token().sign())).await;
        assert_eq!(reply.status, 503, "{location}");
    }
}

#[tokio::test]
async fn keys_beyond_the_cap_are_ignored() {
    let issuer = MockIssuer::start().await;
    let real = issuer.public_jwk("key-1").unwrap();
    let mut keys: Vec<_> = (0..5)
        .map(|i| {
            let mut decoy = real.clone();
            decoy["kid"] = json!(format!("decoy-{i}"));
            decoy
        })
        .collect();
    keys.push(real);
    issuer.serve_jwks(Some(json!({ "keys": keys })));
    let capped = serve(builder_for(&issuer).max_keys(5).build().unwrap()).await;
    capped
        .get("/me", Some(&issuer.token().sign()))
        .await
        .assert_invalid_token();
    let roomy = serve(builder_for(&issuer).max_keys(6).build().unwrap()).await;
    assert_eq!(
        roomy.get("/me", Some(&issuer.token().sign())).await.status,
        200
    );
}
