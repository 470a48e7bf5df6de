//! Every supported algorithm verifies end to end, and the allow-list is honoured.

mod common;

use common::{builder_for, serve};
use tokengate::testing::{DEFAULT_AUDIENCE, MockIssuer};
use tokengate::{Algorithm, SUPPORTED_ALGORITHMS};

#[tokio::test]
async fn every_supported_algorithm_verifies() {
    for alg in SUPPORTED_ALGORITHMS {
        let issuer = MockIssuer::start_with(DEFAULT_AUDIENCE, alg).await;
        let api = serve(builder_for(&issuer).build().unwrap()).await;
        let reply = api.get("/me", Some(&issuer.token().sign())).await;
        assert_eq!(reply.status, 200, "{alg:?}: {reply:?}");
        // And a flipped signature bit fails for each of them.
        let token = issuer.token().sign();
        let (input, sig) = token.rsplit_once('.').unwrap();
        let mut bytes: Vec<u8> = sig.bytes().collect();
        bytes[3] = if bytes[3] == b'A' { b'B' } else { b'A' };
        let tampered = format!("{input}.{}", String::from_utf8(bytes).unwrap());
        api.get("/me", Some(&tampered)).await.assert_invalid_token();
    }
}

#[tokio::test]
async fn algorithms_outside_the_allow_list_are_refused() {
    let issuer = MockIssuer::start_with(DEFAULT_AUDIENCE, Algorithm::ES256).await;
    let rsa_only = builder_for(&issuer)
        .algorithms([Algorithm::RS256])
        .build()
        .unwrap();
    let api = serve(rsa_only).await;
    api.get("/me", Some(&issuer.token().sign()))
        .await
        .assert_invalid_token();
    assert_eq!(issuer.jwks_hits(), 0, "refused before any key lookup");
}

#[tokio::test]
async fn an_ec_key_never_verifies_for_another_curve() {
    let issuer = MockIssuer::start_with(DEFAULT_AUDIENCE, Algorithm::ES384).await;
    let api = serve(builder_for(&issuer).build().unwrap()).await;
    assert_eq!(
        api.get("/me", Some(&issuer.token().sign())).await.status,
        200
    );
    let relabelled = issuer.token().header("alg", "ES256").sign();
    api.get("/me", Some(&relabelled))
        .await
        .assert_invalid_token();
}

#[tokio::test]
async fn a_static_jwks_verifies_without_any_fetch() {
    let issuer = MockIssuer::start().await;
    let jwk = issuer.public_jwk("key-1").unwrap();
    let pinned = builder_for(&issuer)
        .jwks(serde_json::json!({ "keys": [jwk] }))
        .build()
        .unwrap();
    let api = serve(pinned.clone()).await;
    assert_eq!(
        api.get("/me", Some(&issuer.token().sign())).await.status,
        200
    );
    let rotated = issuer.rotate();
    let unknown = issuer.token().key(&rotated).sign();
    api.get("/me", Some(&unknown)).await.assert_invalid_token();
    assert_eq!((issuer.discovery_hits(), issuer.jwks_hits()), (0, 0));
    assert_eq!(pinned.key_set_stats().fetches, 0);
}
