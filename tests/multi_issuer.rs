//! Several issuers behind one validator: routed by `iss` before any key is fetched, each
//! with its own keys and policy.

mod common;

use std::time::Duration;

use common::{builder_for, serve, serve_one};
use tokengate::testing::{DEFAULT_AUDIENCE, DEFAULT_INTROSPECTION_CLIENT, MockIssuer};
use tokengate::{Algorithm, ConfigError, TokenFormat, Validator};

async fn two_issuers() -> (MockIssuer, MockIssuer, common::Api) {
    let a = MockIssuer::start_with("api-a", Algorithm::RS256).await;
    let b = MockIssuer::start_with("api-b", Algorithm::ES256).await;
    let both = Validator::any_of([
        builder_for(&a).build().unwrap(),
        builder_for(&b).build().unwrap(),
    ])
    .unwrap();
    (a, b, serve(both).await)
}

#[tokio::test]
async fn each_issuer_is_served_with_its_own_keys() {
    let (a, b, api) = two_issuers().await;
    let from_a = api
        .get("/me", Some(&a.token().subject("alice").sign()))
        .await;
    assert_eq!(
        (from_a.status, from_a.json()["sub"].as_str()),
        (200, Some("alice"))
    );
    let from_b = api.get("/me", Some(&b.token().subject("bob").sign())).await;
    assert_eq!(
        (from_b.status, from_b.json()["sub"].as_str()),
        (200, Some("bob"))
    );
    assert_eq!((a.jwks_hits(), b.jwks_hits()), (1, 1));
}

#[tokio::test]
async fn a_token_claiming_issuer_a_signed_by_issuer_b_is_refused() {
    let (a, b, api) = two_issuers().await;
    assert_eq!(api.get("/me", Some(&b.token().sign())).await.status, 200);
    let forged = b.token().claim("iss", a.issuer()).audience("api-a").sign();
    api.get("/me", Some(&forged)).await.assert_invalid_token();
    // B's kid is unknown to A, so A may refetch once; B is never consulted for it.
    assert_eq!(b.jwks_hits(), 1);
}

#[tokio::test]
async fn each_issuer_keeps_its_own_audience() {
    let (a, b, api) = two_issuers().await;
    let b_for_a = b.token().audience("api-a").sign();
    api.get("/me", Some(&b_for_a)).await.assert_invalid_token();
    let a_for_b = a.token().audience("api-b").sign();
    api.get("/me", Some(&a_for_b)).await.assert_invalid_token();
}

#[tokio::test]
async fn an_unknown_issuer_costs_no_network_call() {
    let (a, b, api) = two_issuers().await;
    let stranger = MockIssuer::start_with(DEFAULT_AUDIENCE, Algorithm::RS256).await;
    for token in [
        stranger.token().sign(),
        a.token().claim("iss", "https://evil.example").sign(),
        a.token().without_claim("iss").sign(),
        a.token().claim("iss", 7).sign(),
    ] {
        api.get("/me", Some(&token)).await.assert_invalid_token();
    }
    let hits = [
        a.discovery_hits(),
        a.jwks_hits(),
        b.discovery_hits(),
        b.jwks_hits(),
    ];
    assert_eq!(hits, [0; 4], "an unknown issuer caused a fetch");
    assert_eq!((stranger.discovery_hits(), stranger.jwks_hits()), (0, 0));
}

#[tokio::test]
async fn configuration_errors_are_reported() {
    let a = MockIssuer::start().await;
    let twice = Validator::any_of([
        builder_for(&a).build().unwrap(),
        builder_for(&a).build().unwrap(),
    ]);
    assert!(matches!(twice, Err(ConfigError::DuplicateIssuer(_))));
    assert!(Validator::any_of([]).is_err());

    // Two members introspecting opaque tokens: nothing says which to ask.
    let b = MockIssuer::start_with("api-b", Algorithm::ES256).await;
    let (id, secret) = DEFAULT_INTROSPECTION_CLIENT;
    let two = Validator::any_of([
        builder_for(&a).introspection(id, secret).build().unwrap(),
        builder_for(&b).introspection(id, secret).build().unwrap(),
    ]);
    assert!(matches!(two, Err(ConfigError::SeveralIntrospectingIssuers)));
    // One introspecting and one that only verifies JWTs: fine.
    let one = Validator::any_of([
        builder_for(&a).introspection(id, secret).build().unwrap(),
        builder_for(&b)
            .introspection(id, secret)
            .token_format(TokenFormat::Jwt)
            .build()
            .unwrap(),
    ]);
    assert!(one.is_ok());
}

/// Opaque tokens name no issuer: they go to the one member that introspects, and JWTs
/// are still routed by `iss`, to whichever issuer minted them.
#[tokio::test]
async fn opaque_tokens_go_to_the_introspecting_issuer() {
    let a = MockIssuer::start_with("api-a", Algorithm::RS256).await;
    let b = MockIssuer::start_with("api-b", Algorithm::ES256).await;
    let (id, secret) = DEFAULT_INTROSPECTION_CLIENT;
    let both = Validator::any_of([
        builder_for(&a).build().unwrap(),
        builder_for(&b)
            .introspection(id, secret)
            .token_format(TokenFormat::JwtOrOpaque)
            .build()
            .unwrap(),
    ])
    .unwrap();
    let api = serve(both).await;
    let opaque = b.token().subject("olga").opaque();
    let reply = api.get("/me", Some(&opaque)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["sub"], "olga");
    assert_eq!(reply.json()["iss"], b.issuer());
    api.get("/me", Some("made-up-opaque-token"))
        .await
        .assert_invalid_token();
    assert_eq!(b.introspection_hits(), 2, "B was asked about both");
    assert_eq!(a.introspection_hits(), 0);
    // JWTs of either issuer are verified locally, as before.
    assert_eq!(api.get("/me", Some(&a.token().sign())).await.status, 200);
    assert_eq!(api.get("/me", Some(&b.token().sign())).await.status, 200);
    assert_eq!(b.introspection_hits(), 2);

    // Without an introspecting member, an opaque token is refused without a request.
    let jwt_only = Validator::any_of([builder_for(&b).build().unwrap()]).unwrap();
    let api = serve(jwt_only).await;
    api.get("/me", Some(&b.token().opaque()))
        .await
        .assert_invalid_token();
    assert_eq!(b.introspection_hits(), 2);
}

/// A repeated token is found in the issuers' shared cache (by its digest) and handed to
/// the issuer that verified it, whose `exp`/`nbf` and key checks still run on every hit.
#[tokio::test]
async fn a_shared_cache_entry_does_not_outlive_the_key_or_the_token() {
    let a = MockIssuer::start_with("api-a", Algorithm::RS256).await;
    let b = MockIssuer::start_with("api-b", Algorithm::ES256).await;
    b.set_jwks_headers(&[("cache-control", "max-age=0")]);
    let both = Validator::any_of([
        builder_for(&a).build().unwrap(),
        builder_for(&b)
            .leeway(Duration::ZERO)
            .min_cache_ttl(Duration::from_millis(50))
            .refresh_cooldown(Duration::from_millis(50))
            .build()
            .unwrap(),
    ])
    .unwrap();
    // One adapter: the key set changes under the test, between any two requests.
    let api = serve_one(both).await;

    // Expiry: checked against the clock on a shared-cache hit too.
    let short = b.token().subject("short").expires_in(2).sign();
    for _ in 0..3 {
        assert_eq!(api.get("/me", Some(&short)).await.status, 200);
    }
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let reply = api.get("/me", Some(&short)).await;
    reply.assert_invalid_token();
    assert!(reply.challenge.unwrap().contains("expired"));

    // Key removal: the shared entry is void once its key leaves the set.
    let token = b.token().sign();
    for _ in 0..3 {
        assert_eq!(api.get("/me", Some(&token)).await.status, 200);
    }
    b.rotate();
    b.retract("key-1");
    assert_eq!(
        api.status_once_refused(&token).await,
        401,
        "a shared-cache entry outlived its key"
    );
    // A's tokens were never affected.
    assert_eq!(api.get("/me", Some(&a.token().sign())).await.status, 200);
}

/// Each member of `any_of` keeps its own audiences, and an API may answer to several: A's
/// second audience is no audience of B's.
#[tokio::test]
async fn each_issuer_accepts_only_its_own_audiences_however_many() {
    let a = MockIssuer::start_with("api-a", Algorithm::RS256).await;
    let b = MockIssuer::start_with("api-b", Algorithm::ES256).await;
    let both = Validator::any_of([
        builder_for(&a)
            .audiences(["https://api.a.example", "legacy-a"])
            .build()
            .unwrap(),
        builder_for(&b).build().unwrap(),
    ])
    .unwrap();
    let api = serve(both).await;
    for aud in ["api-a", "https://api.a.example", "legacy-a"] {
        let token = a.token().audience(aud).sign();
        assert_eq!(api.get("/me", Some(&token)).await.status, 200, "{aud}");
    }
    // An array naming one of ours passes; naming none does not.
    let array = a
        .token()
        .audience(serde_json::json!(["x", "legacy-a"]))
        .sign();
    assert_eq!(api.get("/me", Some(&array)).await.status, 200);
    for aud in ["legacy-a", "https://api.a.example", "api-a"] {
        let b_with_a_audience = b.token().audience(aud).sign();
        api.get("/me", Some(&b_with_a_audience))
            .await
            .assert_invalid_token();
    }
    let a_with_b_audience = a.token().audience("api-b").sign();
    api.get("/me", Some(&a_with_b_audience))
        .await
        .assert_invalid_token();
    assert_eq!(api.get("/me", Some(&b.token().sign())).await.status, 200);
}

/// The algorithm allow-list is the member's: A takes RS256 only, B any; a key of A's of
/// another algorithm never verifies for A, while B's key of that algorithm does for B.
#[tokio::test]
async fn each_issuer_allows_only_its_own_algorithms() {
    let a = MockIssuer::start_with("api-a", Algorithm::RS256).await;
    let b = MockIssuer::start_with("api-b", Algorithm::RS256).await;
    let a_es256 = a.add_key(Algorithm::ES256);
    let b_es256 = b.add_key(Algorithm::ES256);
    let both = Validator::any_of([
        builder_for(&a)
            .algorithms([Algorithm::RS256])
            .build()
            .unwrap(),
        builder_for(&b).build().unwrap(),
    ])
    .unwrap();
    let api = serve(both).await;
    assert_eq!(
        api.get("/me", Some(&a.token().key("key-1").sign()))
            .await
            .status,
        200
    );
    let refused = api.get("/me", Some(&a.token().key(&a_es256).sign())).await;
    refused.assert_invalid_token();
    assert_eq!(
        api.get("/me", Some(&b.token().key(&b_es256).sign()))
            .await
            .status,
        200
    );
    assert_eq!(
        api.get("/me", Some(&b.token().key("key-1").sign()))
            .await
            .status,
        200
    );
}

/// Leeway and the RFC 9068 `typ` requirement are per issuer: A is strict on both, B lenient.
#[tokio::test]
async fn each_issuer_keeps_its_own_leeway_and_typ_requirement() {
    let a = MockIssuer::start_with("api-a", Algorithm::RS256).await;
    let b = MockIssuer::start_with("api-b", Algorithm::ES256).await;
    let both = Validator::any_of([
        builder_for(&a)
            .leeway(Duration::ZERO)
            .require_access_token_type(true)
            .build()
            .unwrap(),
        builder_for(&b)
            .leeway(Duration::from_secs(120))
            .build()
            .unwrap(),
    ])
    .unwrap();
    let api = serve(both).await;
    // Expired 30 s ago: beyond A's zero leeway, within B's two minutes.
    api.get("/me", Some(&a.token().expires_in(-30).sign()))
        .await
        .assert_invalid_token();
    assert_eq!(
        api.get("/me", Some(&b.token().expires_in(-30).sign()))
            .await
            .status,
        200
    );
    // Beyond B's leeway too.
    api.get("/me", Some(&b.token().expires_in(-200).sign()))
        .await
        .assert_invalid_token();
    // `typ: JWT` (an ID token's, say): refused by A, which requires `at+jwt`, not by B.
    api.get("/me", Some(&a.token().header("typ", "JWT").sign()))
        .await
        .assert_invalid_token();
    api.get("/me", Some(&a.token().without_header("typ").sign()))
        .await
        .assert_invalid_token();
    assert_eq!(api.get("/me", Some(&a.token().sign())).await.status, 200);
    assert_eq!(
        api.get("/me", Some(&b.token().header("typ", "JWT").sign()))
            .await
            .status,
        200
    );
    assert_eq!(
        api.get("/me", Some(&b.token().without_header("typ").sign()))
            .await
            .status,
        200
    );
}

/// The token format is per issuer: A introspects every token it issued (`Opaque`), B
/// verifies JWTs only; a JWT of A's goes to A's introspection endpoint, never to B's keys,
/// and an opaque token is never taken for B's.
#[tokio::test]
async fn each_issuer_keeps_its_own_token_format() {
    let a = MockIssuer::start_with("api-a", Algorithm::RS256).await;
    let b = MockIssuer::start_with("api-b", Algorithm::ES256).await;
    let (id, secret) = DEFAULT_INTROSPECTION_CLIENT;
    let both = Validator::any_of([
        builder_for(&a)
            .introspection(id, secret)
            .token_format(TokenFormat::Opaque)
            .build()
            .unwrap(),
        builder_for(&b).build().unwrap(),
    ])
    .unwrap();
    let api = serve(both).await;
    let opaque = a.token().subject("olga").opaque();
    assert_eq!(api.get("/me", Some(&opaque)).await.json()["sub"], "olga");
    // A's JWT is not one A's endpoint knows: introspected, inactive, refused; no key fetched.
    api.get("/me", Some(&a.token().sign()))
        .await
        .assert_invalid_token();
    assert_eq!(a.jwks_hits(), 0, "A verifies nothing locally");
    assert!(a.introspection_hits() >= 2);
    // B's JWTs are verified with B's keys; B's opaque tokens are A's to judge (refused).
    let hits = a.introspection_hits();
    assert_eq!(api.get("/me", Some(&b.token().sign())).await.status, 200);
    assert_eq!(a.introspection_hits(), hits);
    api.get("/me", Some(&b.token().opaque()))
        .await
        .assert_invalid_token();
    assert_eq!(b.introspection_hits(), 0);
}
