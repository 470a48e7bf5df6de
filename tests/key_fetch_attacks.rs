//! Attacks on the key source (issue 12, second review): clients that hang up mid-fetch,
//! key sets without a usable key, large sets, oversized `kid`s, malformed RSA moduli, and
//! an idle API that must still notice rotations.
//!
//! Timing: every bound is generous (seconds); fetches are counted with the issuer's hit
//! counter, never inferred from latency.

mod common;

use std::time::{Duration, Instant};

use common::{builder_for, serve};
use serde_json::json;
use tokengate::testing::{Behavior, MockIssuer};

/// Polls `condition` every 50 ms until `within` has passed; whether it became true.
async fn within(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    condition()
}

/// Item 1: a request that hangs up while the key fetch it started is in flight must not
/// leave the fetch budget open (nor cancel the fetch). Tried against each adapter on its
/// own, so each shows that its server really drops the request future on a hang-up.
#[tokio::test]
async fn clients_that_hang_up_mid_fetch_do_not_reopen_the_fetch_budget() {
    const COOLDOWN: Duration = Duration::from_secs(1);
    for adapter in ["axum", "actix"] {
        let issuer = MockIssuer::start().await;
        let validator = builder_for(&issuer)
            .refresh_cooldown(COOLDOWN)
            .build()
            .unwrap();
        let api = serve(validator).await;
        assert_eq!(
            api.get("/me", Some(&issuer.token().sign())).await.status,
            200
        );
        assert_eq!(issuer.jwks_hits(), 1);
        let new_kid = issuer.rotate();
        issuer.set_behavior(Behavior::Slow(Duration::from_millis(400)));
        tokio::time::sleep(COOLDOWN + Duration::from_millis(200)).await;

        let base = if adapter == "axum" {
            &api.base
        } else {
            &api.actix_base
        };
        let impatient = reqwest::Client::builder()
            .timeout(Duration::from_millis(50))
            .build()
            .unwrap();
        // 30 requests, one per 100 ms, each with a new unknown kid, each hanging up after
        // 50 ms, while the JWKS takes 400 ms to answer.
        let started = Instant::now();
        for i in 0..30 {
            let token = issuer.token().header("kid", format!("junk-{i}")).sign();
            let sent = Instant::now();
            let _ = impatient
                .get(format!("{base}/me"))
                .bearer_auth(token)
                .send()
                .await;
            tokio::time::sleep(Duration::from_millis(100).saturating_sub(sent.elapsed())).await;
        }
        let elapsed = started.elapsed();
        let fetches = issuer.jwks_hits() - 1;
        // One fetch per cooldown, plus one for the partial cooldown at each end.
        let allowed = elapsed.as_secs() as usize + 2;
        assert!(
            fetches <= allowed,
            "{adapter}: {fetches} JWKS fetches in {elapsed:?} from clients that hung up \
             (cooldown {COOLDOWN:?}, at most {allowed} allowed)"
        );

        // The fetch the first of them started was not cancelled with it: the rotated key
        // is known, without another fetch.
        issuer.set_behavior(Behavior::Normal);
        let hits = issuer.jwks_hits();
        let rotated = issuer.token().key(&new_kid).sign();
        assert_eq!(
            api.get("/me", Some(&rotated)).await.status,
            200,
            "{adapter}"
        );
        assert_eq!(
            issuer.jwks_hits(),
            hits,
            "{adapter}: the new key was not known"
        );
    }
}

/// Item 2: a JWKS that parses but holds no usable signature key is a failed fetch: the
/// last good set stays.
#[tokio::test]
async fn a_jwks_without_a_usable_key_keeps_the_last_good_set() {
    let issuer = MockIssuer::start().await;
    let validator = builder_for(&issuer)
        .refresh_cooldown(Duration::from_secs(1))
        .build()
        .unwrap();
    let api = serve(validator.clone()).await;
    let valid = issuer.token().sign();
    assert_eq!(api.get("/me", Some(&valid)).await.status, 200);

    let mut enc = issuer.public_jwk("key-1").unwrap();
    enc["use"] = json!("enc");
    issuer.serve_jwks(Some(json!({"keys": [
        enc,
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
    ]})));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // An unknown kid makes the cache refetch: it gets the unusable set.
    let unknown = issuer.token().header("kid", "not-published").sign();
    api.get("/me", Some(&unknown)).await.assert_invalid_token();
    assert_eq!(issuer.jwks_hits(), 2, "the refetch happened");

    assert_eq!(
        api.get("/me", Some(&valid)).await.status,
        200,
        "a JWKS without a usable key replaced the good set"
    );
    let stats = validator.key_set_stats();
    assert_eq!(stats.keys, 1, "{stats:?}");
    assert!(
        stats.failing,
        "the unusable set counts as a failure: {stats:?}"
    );
}

/// Item 3: a set of 67 RSA keys (about 35 KB, far under the 512 KiB body cap) keeps its
/// newest key, appended at the end.
#[tokio::test]
async fn the_newest_of_many_keys_is_not_dropped() {
    let issuer = MockIssuer::start().await;
    let template = issuer.public_jwk("key-1").unwrap();
    let newest = issuer.rotate();
    let mut keys: Vec<_> = (0..66)
        .map(|i| {
            let mut key = template.clone();
            key["kid"] = json!(format!("older-{i}"));
            key
        })
        .collect();
    keys.push(issuer.public_jwk(&newest).unwrap());
    let doc = json!({ "keys": keys });
    let bytes = doc.to_string().len();
    assert!((20_000..100_000).contains(&bytes), "{bytes} bytes");
    issuer.serve_jwks(Some(doc));

    let validator = builder_for(&issuer).build().unwrap();
    let api = serve(validator.clone()).await;
    let token = issuer.token().key(&newest).sign();
    assert_eq!(
        api.get("/me", Some(&token)).await.status,
        200,
        "the 67th key of a {bytes}-byte JWKS was dropped"
    );
    assert_eq!(validator.key_set_stats().keys, 67);
}

/// Item 4: a `kid` longer than any real one is refused before lookup: no fetch, and
/// nothing remembered.
#[tokio::test]
async fn an_overlong_kid_is_refused_without_a_fetch() {
    let issuer = MockIssuer::start().await;
    let validator = builder_for(&issuer)
        .refresh_cooldown(Duration::ZERO)
        .build()
        .unwrap();
    let api = serve(validator).await;
    assert_eq!(
        api.get("/me", Some(&issuer.token().sign())).await.status,
        200
    );
    let hits = issuer.jwks_hits();
    for len in [257, 12 * 1024] {
        let token = issuer.token().header("kid", "k".repeat(len)).sign();
        api.get("/me", Some(&token)).await.assert_invalid_token();
        assert_eq!(
            issuer.jwks_hits(),
            hits,
            "a {len}-byte kid caused a JWKS fetch"
        );
    }
    // At the bound, a kid is an ordinary unknown kid (the cooldown is zero: refetched).
    let token = issuer.token().header("kid", "k".repeat(256)).sign();
    api.get("/me", Some(&token)).await.assert_invalid_token();
    assert!(issuer.jwks_hits() > hits);
}

/// Item 5: RSA JWKs with an empty or all-zero modulus are skipped, not a panic: fetched,
/// or pinned with `jwks()` (then a configuration error when nothing usable is left).
#[tokio::test]
async fn an_rsa_jwk_with_an_empty_modulus_is_skipped() {
    let issuer = MockIssuer::start().await;
    let good = issuer.public_jwk("key-1").unwrap();
    let empty = json!({"kty": "RSA", "kid": "empty", "n": "", "e": "AQAB"});
    let zero = json!({"kty": "RSA", "kid": "zero", "n": "AA", "e": "AQAB"});
    issuer.serve_jwks(Some(json!({"keys": [empty, zero, good]})));
    let api = serve(builder_for(&issuer).build().unwrap()).await;
    assert_eq!(
        api.get("/me", Some(&issuer.token().sign())).await.status,
        200
    );
    for bad in [&empty, &zero] {
        let pinned = tokengate::Validator::builder()
            .issuer(issuer.issuer())
            .audience(issuer.audience())
            .jwks(json!({ "keys": [bad] }))
            .build();
        assert_eq!(
            pinned.err(),
            Some(tokengate::ConfigError::InvalidJwks),
            "{bad}"
        );
    }
}

/// Item 15: an idle API refreshes its keys on a timer: with `max-age=3`, a rotation and
/// no request at all, the issuer is asked again, so the first requests after the idle
/// time neither use the removed key nor wait for the new one.
#[tokio::test]
async fn an_idle_api_refreshes_its_keys_on_a_timer() {
    let issuer = MockIssuer::start().await;
    issuer.set_jwks_headers(&[("cache-control", "max-age=3")]);
    let validator = builder_for(&issuer)
        .min_cache_ttl(Duration::from_secs(1))
        .refresh_cooldown(Duration::from_secs(2))
        .build()
        .unwrap();
    let api = serve(validator.clone()).await;
    let old = issuer.token().sign();
    assert_eq!(api.get("/me", Some(&old)).await.status, 200);
    assert_eq!(issuer.jwks_hits(), 1);

    let new_kid = issuer.rotate();
    issuer.retract("key-1");
    // The refreshed set lives long: nothing but the timer's refetch happens below.
    issuer.set_jwks_headers(&[("cache-control", "max-age=3600")]);
    let refreshed = within(Duration::from_secs(10), || {
        issuer.jwks_hits() >= 2
            && validator
                .key_set_stats()
                .age
                .is_some_and(|age| age < Duration::from_secs(1))
    })
    .await;
    assert!(
        refreshed,
        "no refetch in 10 s without requests (max-age=3): {} JWKS hits, {:?}",
        issuer.jwks_hits(),
        validator.key_set_stats()
    );
    let hits = issuer.jwks_hits();
    api.get("/me", Some(&old)).await.assert_invalid_token();
    let new = issuer.token().key(&new_kid).sign();
    assert_eq!(api.get("/me", Some(&new)).await.status, 200);
    assert_eq!(issuer.jwks_hits(), hits, "a request had to fetch");
}

/// Item 15: the refresh timer holds the cache weakly: dropping the validator stops it,
/// while a validator still alive keeps refreshing.
#[tokio::test]
async fn the_refresh_timer_ends_with_the_validator() {
    let build = |issuer: &MockIssuer| {
        issuer.set_jwks_headers(&[("cache-control", "max-age=1")]);
        builder_for(issuer)
            .min_cache_ttl(Duration::from_secs(1))
            .refresh_cooldown(Duration::from_millis(100))
            .build()
            .unwrap()
    };
    let (kept_issuer, dropped_issuer) = (MockIssuer::start().await, MockIssuer::start().await);
    let kept = build(&kept_issuer);
    let dropped = build(&dropped_issuer);
    kept.prefetch_keys().await.unwrap();
    dropped.prefetch_keys().await.unwrap();
    drop(dropped);
    // A refresh about every 0.8 s for the validator still alive.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        kept_issuer.jwks_hits() >= 3,
        "the live validator refreshed {} times in 4 s",
        kept_issuer.jwks_hits() - 1
    );
    assert_eq!(
        dropped_issuer.jwks_hits(),
        1,
        "a dropped validator kept fetching"
    );
    drop(kept);
}
