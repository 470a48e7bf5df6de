//! The key cache against a real (mock) issuer: rotation, retraction, floods, outages.
//!
//! Timing: a test that asserts "no fetch happened" uses a cooldown far longer than the
//! test; a test that needs a fetch to be allowed again sleeps past a short cooldown. No
//! assertion depends on how fast this machine is, except generous upper bounds.

mod common;

use std::time::{Duration, Instant};

use common::{builder_for, serve_one as serve};
use serde_json::json;
use tokengate::testing::{Behavior, MockIssuer};

const SHORT: Duration = Duration::from_millis(150);
const PAST_SHORT: Duration = Duration::from_millis(400);
const LONG: Duration = Duration::from_secs(600);

async fn api_with_cooldown(issuer: &MockIssuer, cooldown: Duration) -> common::Api {
    serve(
        builder_for(issuer)
            .refresh_cooldown(cooldown)
            .build()
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn rotated_key_is_accepted_after_one_refetch() {
    let issuer = MockIssuer::start().await;
    let api = api_with_cooldown(&issuer, SHORT).await;
    assert_eq!(
        api.get("/me", Some(&issuer.token().sign())).await.status,
        200
    );
    assert_eq!(issuer.jwks_hits(), 1);

    let new_kid = issuer.rotate();
    tokio::time::sleep(PAST_SHORT).await;
    let token = issuer.token().key(&new_kid).sign();
    assert_eq!(api.get("/me", Some(&token)).await.status, 200);
    assert_eq!(issuer.jwks_hits(), 2, "exactly one refetch for the new kid");
    // Both keys now verify from memory.
    let old = issuer.token().key("key-1").sign();
    assert_eq!(api.get("/me", Some(&old)).await.status, 200);
    assert_eq!(api.get("/me", Some(&token)).await.status, 200);
    assert_eq!(issuer.jwks_hits(), 2);
}

#[tokio::test]
async fn retracted_key_stops_verifying_once_a_refresh_succeeds() {
    let issuer = MockIssuer::start().await;
    let api = api_with_cooldown(&issuer, SHORT).await;
    let old = issuer.token().sign();
    assert_eq!(api.get("/me", Some(&old)).await.status, 200);

    let new_kid = issuer.rotate();
    issuer.retract("key-1");
    tokio::time::sleep(PAST_SHORT).await;
    let new = issuer.token().key(&new_kid).sign();
    assert_eq!(api.get("/me", Some(&new)).await.status, 200);
    api.get("/me", Some(&old)).await.assert_invalid_token();
}

#[tokio::test]
async fn unknown_kid_flood_is_bounded_by_the_cooldown() {
    let issuer = MockIssuer::start().await;
    let api = serve(builder_for(&issuer).refresh_cooldown(LONG).build().unwrap()).await;
    let valid = issuer.token().sign();
    assert_eq!(api.get("/me", Some(&valid)).await.status, 200);

    let mut flood = Vec::new();
    for i in 0..2000 {
        let token = issuer.token().header("kid", format!("junk-{i}")).sign();
        let (client, url) = (api.client.clone(), format!("{}/me", api.base));
        flood.push(tokio::spawn(async move {
            let r = client.get(url).bearer_auth(token).send().await.unwrap();
            r.status().as_u16()
        }));
    }
    // Valid tokens are served while the flood is on.
    for _ in 0..20 {
        assert_eq!(api.get("/me", Some(&valid)).await.status, 200);
    }
    for request in flood {
        assert_eq!(request.await.unwrap(), 401);
    }
    assert!(
        issuer.jwks_hits() <= 2,
        "the flood caused {} JWKS fetches",
        issuer.jwks_hits()
    );
}

#[tokio::test]
async fn concurrent_first_requests_share_one_fetch() {
    let issuer = MockIssuer::start().await;
    let api = serve(builder_for(&issuer).build().unwrap()).await;
    let token = issuer.token().sign();
    let requests: Vec<_> = (0..100)
        .map(|_| {
            let (client, url, token) = (
                api.client.clone(),
                format!("{}/me", api.base),
                token.clone(),
            );
            tokio::spawn(async move {
                client
                    .get(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap(), 200);
    }
    assert_eq!(issuer.discovery_hits(), 1);
    assert_eq!(issuer.jwks_hits(), 1);
}

#[tokio::test]
async fn failed_refresh_keeps_the_last_good_keys() {
    let issuer = MockIssuer::start().await;
    let api = api_with_cooldown(&issuer, SHORT).await;
    let old = issuer.token().sign();
    assert_eq!(api.get("/me", Some(&old)).await.status, 200);

    for behavior in [Behavior::Fail(500), Behavior::Garbage, Behavior::Fail(404)] {
        issuer.set_behavior(behavior.clone());
        let new_kid = issuer.rotate();
        tokio::time::sleep(PAST_SHORT).await;
        let hits = issuer.jwks_hits();
        let new = issuer.token().key(&new_kid).sign();
        // The refetch fails: the new kid stays unknown (401, not 503) ...
        api.get("/me", Some(&new)).await.assert_invalid_token();
        assert!(
            issuer.jwks_hits() + issuer.discovery_hits() > hits,
            "{behavior:?}: no refetch"
        );
        // ... and the old key still verifies.
        assert_eq!(api.get("/me", Some(&old)).await.status, 200, "{behavior:?}");
        issuer.set_behavior(Behavior::Normal);
    }
}

#[tokio::test]
async fn no_key_set_yet_is_503_then_recovers_without_restart() {
    let issuer = MockIssuer::start().await;
    issuer.set_behavior(Behavior::Fail(500));
    let api = api_with_cooldown(&issuer, SHORT).await;
    let token = issuer.token().sign();
    let reply = api.get("/me", Some(&token)).await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert!(reply.retry_after.is_some());
    assert!(reply.challenge.is_none());

    issuer.set_behavior(Behavior::Normal);
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(api.get("/me", Some(&token)).await.status, 200);
}

#[tokio::test]
async fn a_hung_issuer_holds_a_request_no_longer_than_the_fetch_timeout() {
    let issuer = MockIssuer::start().await;
    issuer.set_behavior(Behavior::Hang);
    let validator = builder_for(&issuer)
        .fetch_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let api = serve(validator).await;
    let started = Instant::now();
    let reply = api.get("/me", Some(&issuer.token().sign())).await;
    assert_eq!(reply.status, 503);
    // Generous bound: the timeout is 300 ms, the hang 60 s.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn discovery_falls_back_to_rfc_8414_metadata() {
    let issuer = MockIssuer::start().await;
    issuer.serve_oidc_discovery(false);
    let api = serve(builder_for(&issuer).build().unwrap()).await;
    assert_eq!(
        api.get("/me", Some(&issuer.token().sign())).await.status,
        200
    );
    assert_eq!(issuer.discovery_hits(), 2, "OIDC location, then RFC 8414");
}

#[tokio::test]
async fn metadata_for_another_issuer_is_refused() {
    let issuer = MockIssuer::start().await;
    // Same server, but we call it "localhost": its metadata names 127.0.0.1.
    let configured = format!("http://localhost:{}", issuer.addr().port());
    let validator = tokengate::Validator::builder()
        .issuer(configured.clone())
        .audience(issuer.audience())
        .build()
        .unwrap();
    let api = serve(validator).await;
    let token = issuer.token().claim("iss", configured).sign();
    assert_eq!(api.get("/me", Some(&token)).await.status, 503);
    assert_eq!(issuer.jwks_hits(), 0);
}

#[tokio::test]
async fn explicit_jwks_url_skips_discovery() {
    let issuer = MockIssuer::start().await;
    let validator = builder_for(&issuer)
        .jwks_url(issuer.jwks_url())
        .build()
        .unwrap();
    let api = serve(validator).await;
    assert_eq!(
        api.get("/me", Some(&issuer.token().sign())).await.status,
        200
    );
    assert_eq!(issuer.discovery_hits(), 0);
    assert_eq!(issuer.jwks_hits(), 1);
}

#[tokio::test]
async fn oversized_jwks_is_refused() {
    let issuer = MockIssuer::start().await;
    let small = builder_for(&issuer).max_jwks_bytes(200).build().unwrap();
    let api = serve(small).await;
    assert_eq!(
        api.get("/me", Some(&issuer.token().sign())).await.status,
        503
    );
    assert_eq!(issuer.jwks_hits(), 1);
}

#[tokio::test]
async fn bad_jwks_entries_never_drop_the_good_key() {
    let issuer = MockIssuer::start().await;
    let good = issuer.public_jwk("key-1").unwrap();
    let mut enc = good.clone();
    enc["use"] = json!("enc");
    enc["kid"] = json!("enc-key");
    issuer.serve_jwks(Some(json!({"keys": [
        "garbage",
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
        {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
        {"kty": "EC", "crv": "P-521", "kid": "p521", "x": "AA", "y": "AA"},
        enc,
        good,
    ]})));
    let api = serve(builder_for(&issuer).build().unwrap()).await;
    assert_eq!(
        api.get("/me", Some(&issuer.token().sign())).await.status,
        200
    );
    // The `enc` key holds the same RSA key, but may not verify.
    let via_enc = issuer.token().header("kid", "enc-key").sign();
    api.get("/me", Some(&via_enc)).await.assert_invalid_token();
}
