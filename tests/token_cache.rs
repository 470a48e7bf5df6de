//! The verified-token cache: a hit still answers to the clock and to key removal.

mod common;

use std::time::Duration;

use common::{builder_for, serve_one as serve};
use tokengate::testing::MockIssuer;

#[tokio::test]
async fn a_cached_token_still_expires_on_time() {
    let issuer = MockIssuer::start().await;
    let validator = builder_for(&issuer).leeway(Duration::ZERO).build().unwrap();
    let api = serve(validator).await;
    let token = issuer.token().expires_in(2).sign();
    assert_eq!(api.get("/me", Some(&token)).await.status, 200);
    assert_eq!(
        api.get("/me", Some(&token)).await.status,
        200,
        "served again (from the cache)"
    );
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let reply = api.get("/me", Some(&token)).await;
    reply.assert_invalid_token();
    assert!(reply.challenge.unwrap().contains("expired"));
}

#[tokio::test]
async fn removing_the_verifying_key_voids_cached_tokens() {
    let issuer = MockIssuer::start().await;
    issuer.set_jwks_headers(&[("cache-control", "max-age=0")]);
    let validator = builder_for(&issuer)
        .min_cache_ttl(Duration::from_millis(50))
        .refresh_cooldown(Duration::from_millis(50))
        .build()
        .unwrap();
    let api = serve(validator).await;
    let token = issuer.token().sign();
    assert_eq!(api.get("/me", Some(&token)).await.status, 200);
    assert_eq!(api.get("/me", Some(&token)).await.status, 200);
    issuer.rotate();
    issuer.retract("key-1");
    assert_eq!(
        api.status_once_refused(&token).await,
        401,
        "a cached token outlived the removal of its key"
    );
}

#[tokio::test]
async fn unchanged_keys_keep_cached_tokens_across_refreshes() {
    let issuer = MockIssuer::start().await;
    issuer.set_jwks_headers(&[("cache-control", "max-age=0")]);
    issuer.serve_etag(false); // full refetches: new key objects each time
    let validator = builder_for(&issuer)
        .min_cache_ttl(Duration::from_millis(50))
        .refresh_cooldown(Duration::from_millis(50))
        .build()
        .unwrap();
    let api = serve(validator.clone()).await;
    let token = issuer.token().sign();
    for _ in 0..10 {
        assert_eq!(api.get("/me", Some(&token)).await.status, 200);
        tokio::time::sleep(Duration::from_millis(80)).await;
    }
    assert!(
        issuer.jwks_hits() >= 3,
        "the set was refreshed ({} fetches)",
        issuer.jwks_hits()
    );
}

#[tokio::test]
async fn the_cache_can_be_turned_off() {
    let issuer = MockIssuer::start().await;
    let validator = builder_for(&issuer).token_cache_size(0).build().unwrap();
    let api = serve(validator).await;
    let token = issuer.token().sign();
    for _ in 0..3 {
        assert_eq!(api.get("/me", Some(&token)).await.status, 200);
    }
    api.get("/me", Some(&format!("{token}x")))
        .await
        .assert_invalid_token();
}

/// The cache finds a token by its signature: an attacker who keeps a cached token's
/// signature and rewrites its claims must get a verification (and a refusal), never the
/// cached answer, and must not evict the genuine token's entry.
#[tokio::test]
async fn a_cached_signature_under_rewritten_claims_is_refused() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let issuer = MockIssuer::start().await;
    let validator = builder_for(&issuer).build().unwrap();
    let api = serve(validator).await;
    let token = issuer.token().subject("alice").sign();
    for _ in 0..2 {
        assert_eq!(api.get("/me", Some(&token)).await.status, 200);
    }
    let (header, rest) = token.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&b64.decode(payload).unwrap()).unwrap();
    claims["sub"] = "mallory".into();
    claims["scope"] = "admin".into();
    let rewritten = b64.encode(claims.to_string());
    for forged in [
        format!("{header}.{rewritten}.{signature}"),
        format!("{header}.{payload}x.{signature}"),
    ] {
        api.get("/me", Some(&forged)).await.assert_invalid_token();
        api.get("/admin", Some(&forged))
            .await
            .assert_invalid_token();
    }
    // The genuine token is still answered (from its entry: the key set is unchanged).
    let fetches = issuer.jwks_hits();
    let reply = api.get("/me", Some(&token)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["sub"], "alice");
    assert_eq!(issuer.jwks_hits(), fetches);
}
