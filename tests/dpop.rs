//! DPoP-bound tokens (RFC 9449) over real HTTP through both adapters: a bound token with
//! its proof passes; every way of breaking the proof, the binding or the scheme is
//! refused with the challenge RFC 9449 section 7.1 gives.

mod common;

use std::time::Duration;

use common::{Api, Reply, builder_for, serve_gated};
use serde_json::json;
use tokengate::binding::dpop::Dpop;
use tokengate::testing::{DpopKey, MockIssuer};
use tokengate::{Algorithm, Gate, Validator};

/// The URL clients use for the API (the servers listen elsewhere, as behind a proxy).
const PUBLIC: &str = "https://api.example.test";

async fn api_with(issuer: &MockIssuer, dpop: impl Fn() -> Dpop) -> Api {
    let validator: Validator = builder_for(issuer).build().unwrap();
    serve_gated(|| Gate::new(validator.clone()).dpop(dpop())).await
}

async fn dpop_api(issuer: &MockIssuer) -> Api {
    api_with(issuer, || Dpop::new(PUBLIC).unwrap()).await
}

/// `GET path` with `Authorization: DPoP token` and each of `proofs` as a `DPoP` header.
async fn get_dpop(api: &Api, path: &str, token: &str, proofs: &[&str]) -> Reply {
    let authorization = format!("DPoP {token}");
    let mut headers = vec![("authorization", authorization.as_str())];
    headers.extend(proofs.iter().map(|p| ("dpop", *p)));
    api.get_with(path, &headers).await
}

#[track_caller]
fn assert_invalid_proof(reply: &Reply) {
    assert_eq!(reply.status, 401, "{reply:?}");
    let challenge = reply.challenge.as_deref().unwrap_or_default();
    assert!(
        challenge.contains(r#"DPoP algs=""#) && challenge.contains(r#"error="invalid_dpop_proof""#),
        "{reply:?}"
    );
    assert!(
        challenge.starts_with("Bearer, DPoP"),
        "the bearer challenge stays bare: {reply:?}"
    );
}

#[tokio::test]
async fn a_bound_token_with_its_proof_passes_on_both_adapters() {
    let issuer = MockIssuer::start().await;
    let api = dpop_api(&issuer).await;
    for alg in [Algorithm::ES256, Algorithm::EdDSA, Algorithm::PS256] {
        let client = DpopKey::generate(alg);
        let token = issuer
            .token()
            .subject("alice")
            .claim("cnf", client.cnf())
            .sign();
        // Each adapter has its own replay store: one proof serves both.
        let proof = client.proof("GET", &format!("{PUBLIC}/me"), &token);
        let reply = get_dpop(&api, "/me", &token, &[&proof]).await;
        assert_eq!(reply.status, 200, "{alg:?}: {reply:?}");
        assert_eq!(reply.json()["sub"], "alice");
        assert_eq!(reply.json()["cnf"]["jkt"], client.jkt());
    }
}

#[tokio::test]
async fn a_replayed_proof_is_refused() {
    let issuer = MockIssuer::start().await;
    let api = dpop_api(&issuer).await;
    let client = DpopKey::generate(Algorithm::ES256);
    let token = issuer.token().claim("cnf", client.cnf()).sign();
    let proof = client.proof("GET", &format!("{PUBLIC}/me"), &token);
    assert_eq!(get_dpop(&api, "/me", &token, &[&proof]).await.status, 200);
    assert_invalid_proof(&get_dpop(&api, "/me", &token, &[&proof]).await);
    // A fresh proof from the same client still works.
    let fresh = client.proof("GET", &format!("{PUBLIC}/me"), &token);
    assert_eq!(get_dpop(&api, "/me", &token, &[&fresh]).await.status, 200);
}

#[tokio::test]
async fn a_proof_for_another_request_time_token_or_key_is_refused() {
    let issuer = MockIssuer::start().await;
    let api = dpop_api(&issuer).await;
    let client = DpopKey::generate(Algorithm::ES256);
    let token = issuer.token().claim("cnf", client.cnf()).sign();
    let other_token = issuer
        .token()
        .claim("cnf", client.cnf())
        .subject("x")
        .sign();
    let me = format!("{PUBLIC}/me");
    let thief = DpopKey::generate(Algorithm::ES256);
    let cases = [
        ("htm", client.proof("POST", &me, &token)),
        (
            "htu path",
            client.proof("GET", &format!("{PUBLIC}/admin"), &token),
        ),
        (
            "htu host",
            client.proof("GET", "https://evil.example.test/me", &token),
        ),
        (
            "htu scheme",
            client.proof("GET", "http://api.example.test/me", &token),
        ),
        (
            "stale iat",
            client.proof_with("GET", &me, &token, |c| {
                c["iat"] = json!(c["iat"].as_i64().unwrap() - 600)
            }),
        ),
        (
            "future iat",
            client.proof_with("GET", &me, &token, |c| {
                c["iat"] = json!(c["iat"].as_i64().unwrap() + 600)
            }),
        ),
        (
            "ath of another token",
            client.proof("GET", &me, &other_token),
        ),
        ("another key", thief.proof("GET", &me, &token)),
        (
            "no ath",
            client.proof_with("GET", &me, &token, |c| {
                c.as_object_mut().unwrap().remove("ath");
            }),
        ),
        (
            "typ JWT",
            client.sign(
                &json!({"typ": "JWT", "alg": "ES256", "jwk": client.public_jwk()}),
                &json!({"jti": "a", "htm": "GET", "htu": me, "iat": 0}),
            ),
        ),
        ("not a JWT", "!!!.@@@.###".to_owned()),
    ];
    for (name, proof) in cases {
        let reply = get_dpop(&api, "/me", &token, &[&proof]).await;
        assert_eq!(reply.status, 401, "{name}: {reply:?}");
        assert_invalid_proof(&reply);
    }
}

#[tokio::test]
async fn a_dpop_token_needs_exactly_one_proof() {
    let issuer = MockIssuer::start().await;
    let api = dpop_api(&issuer).await;
    let client = DpopKey::generate(Algorithm::ES256);
    let token = issuer.token().claim("cnf", client.cnf()).sign();
    let me = format!("{PUBLIC}/me");
    assert_invalid_proof(&get_dpop(&api, "/me", &token, &[]).await);
    let (one, two) = (
        client.proof("GET", &me, &token),
        client.proof("GET", &me, &token),
    );
    assert_invalid_proof(&get_dpop(&api, "/me", &token, &[&one, &two]).await);
}

#[tokio::test]
async fn a_bound_token_as_a_bearer_token_stays_refused_even_once_cached() {
    let issuer = MockIssuer::start().await;
    let api = dpop_api(&issuer).await;
    let client = DpopKey::generate(Algorithm::ES256);
    let token = issuer.token().claim("cnf", client.cnf()).sign();
    // Verified (and cached) through the DPoP scheme first...
    let proof = client.proof("GET", &format!("{PUBLIC}/me"), &token);
    assert_eq!(get_dpop(&api, "/me", &token, &[&proof]).await.status, 200);
    // ...a stolen copy presented as a bearer token is still refused (RFC 9449 7.2).
    let reply = api.get("/me", Some(&token)).await;
    reply.assert_invalid_token();
    let challenge = reply.challenge.unwrap();
    assert!(
        challenge.starts_with(r#"Bearer error="invalid_token""#),
        "{challenge}"
    );
    assert!(challenge.contains(r#", DPoP algs=""#), "{challenge}");
}

#[tokio::test]
async fn an_unbound_token_under_the_dpop_scheme_is_an_invalid_token() {
    let issuer = MockIssuer::start().await;
    let api = dpop_api(&issuer).await;
    let client = DpopKey::generate(Algorithm::ES256);
    let token = issuer.token().sign();
    let proof = client.proof("GET", &format!("{PUBLIC}/me"), &token);
    let reply = get_dpop(&api, "/me", &token, &[&proof]).await;
    reply.assert_invalid_token();
    let challenge = reply.challenge.unwrap();
    assert!(
        challenge.starts_with(r#"Bearer, DPoP algs=""#)
            && challenge.contains(r#"error="invalid_token""#),
        "the error is on the DPoP challenge: {challenge}"
    );
    // The same unbound token as a bearer token is fine where DPoP is only allowed.
    assert_eq!(api.get("/me", Some(&token)).await.status, 200);
}

#[tokio::test]
async fn challenges_offer_both_schemes_or_only_dpop_when_required() {
    let issuer = MockIssuer::start().await;
    let allowed = dpop_api(&issuer).await;
    let reply = allowed.get("/me", None).await;
    assert_eq!(reply.status, 401);
    let algs = "RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA";
    assert_eq!(
        reply.challenge.as_deref(),
        Some(format!(r#"Bearer, DPoP algs="{algs}""#).as_str())
    );

    let required = api_with(&issuer, || {
        Dpop::new(PUBLIC)
            .unwrap()
            .required()
            .algorithms([Algorithm::ES256, Algorithm::EdDSA])
    })
    .await;
    let reply = required.get("/me", None).await;
    assert_eq!(
        reply.challenge.as_deref(),
        Some(r#"DPoP algs="ES256 EdDSA""#)
    );
    // A valid, unbound bearer token is refused where DPoP is required.
    let bearer = issuer.token().sign();
    let reply = required.get("/me", Some(&bearer)).await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.challenge.as_deref(),
        Some(r#"DPoP algs="ES256 EdDSA""#)
    );
    // And a proof signed with an algorithm outside the list is refused.
    let rsa = DpopKey::generate(Algorithm::PS256);
    let token = issuer.token().claim("cnf", rsa.cnf()).sign();
    let proof = rsa.proof("GET", &format!("{PUBLIC}/me"), &token);
    let reply = get_dpop(&required, "/me", &token, &[&proof]).await;
    assert_eq!(reply.status, 401);
    assert!(
        reply
            .challenge
            .unwrap()
            .contains(r#"DPoP algs="ES256 EdDSA", error="invalid_dpop_proof""#)
    );
}

#[tokio::test]
async fn scopes_apply_to_dpop_tokens_and_inner_refusals_offer_dpop() {
    let issuer = MockIssuer::start().await;
    let api = dpop_api(&issuer).await;
    let client = DpopKey::generate(Algorithm::ES256);
    let admin = format!("{PUBLIC}/admin");
    let reader = issuer
        .token()
        .scope("read")
        .claim("cnf", client.cnf())
        .sign();
    let reply = get_dpop(
        &api,
        "/admin",
        &reader,
        &[&client.proof("GET", &admin, &reader)],
    )
    .await;
    assert_eq!(reply.status, 403, "{reply:?}");
    let challenge = reply.challenge.unwrap();
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(challenge.contains(r#"DPoP algs=""#), "{challenge}");
    let boss = issuer
        .token()
        .scope("admin")
        .claim("cnf", client.cnf())
        .sign();
    let reply = get_dpop(
        &api,
        "/admin",
        &boss,
        &[&client.proof("GET", &admin, &boss)],
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[tokio::test]
async fn without_dpop_configured_the_scheme_is_not_a_credential() {
    let issuer = MockIssuer::start().await;
    let api = common::serve(builder_for(&issuer).build().unwrap()).await;
    let client = DpopKey::generate(Algorithm::ES256);
    let token = issuer.token().claim("cnf", client.cnf()).sign();
    let proof = client.proof("GET", &format!("{PUBLIC}/me"), &token);
    let reply = get_dpop(&api, "/me", &token, &[&proof]).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.challenge.as_deref(), Some("Bearer"));
}

#[tokio::test]
async fn a_proof_waits_for_nothing_once_keys_are_known() {
    // The replay store is in memory: a DPoP request is answered without the issuer once
    // its keys are cached, even while the issuer is down.
    let issuer = MockIssuer::start().await;
    let api = dpop_api(&issuer).await;
    let client = DpopKey::generate(Algorithm::ES256);
    let token = issuer.token().claim("cnf", client.cnf()).sign();
    let me = format!("{PUBLIC}/me");
    assert_eq!(
        get_dpop(&api, "/me", &token, &[&client.proof("GET", &me, &token)])
            .await
            .status,
        200
    );
    issuer.set_behavior(tokengate::testing::Behavior::Hang);
    let started = std::time::Instant::now();
    let reply = get_dpop(&api, "/me", &token, &[&client.proof("GET", &me, &token)]).await;
    assert_eq!(reply.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no wait on a hung issuer"
    );
}

#[tokio::test]
async fn the_binding_is_checked_on_every_request_even_when_the_token_is_cached() {
    // The first request verifies the token and caches it; each later one is a
    // token-cache hit, and its proof is still checked in full.
    let issuer = MockIssuer::start().await;
    let api = dpop_api(&issuer).await;
    let client = DpopKey::generate(Algorithm::ES256);
    let thief = DpopKey::generate(Algorithm::ES256);
    let token = issuer.token().claim("cnf", client.cnf()).sign();
    let me = format!("{PUBLIC}/me");
    let first = client.proof("GET", &me, &token);
    assert_eq!(get_dpop(&api, "/me", &token, &[&first]).await.status, 200);
    // Replayed, missing, of another key, for another URL: refused.
    assert_invalid_proof(&get_dpop(&api, "/me", &token, &[&first]).await);
    assert_invalid_proof(&get_dpop(&api, "/me", &token, &[]).await);
    assert_invalid_proof(&get_dpop(&api, "/me", &token, &[&thief.proof("GET", &me, &token)]).await);
    let elsewhere = client.proof("GET", &format!("{PUBLIC}/admin"), &token);
    assert_invalid_proof(&get_dpop(&api, "/me", &token, &[&elsewhere]).await);
    // And the right one still passes.
    let next = client.proof("GET", &me, &token);
    assert_eq!(get_dpop(&api, "/me", &token, &[&next]).await.status, 200);
}

/// RFC 9449 section 6.2: an opaque token's binding is the introspection answer's
/// `cnf.jkt` (the mock issuer answers with the claims the token was minted with).
async fn introspecting_dpop_api(issuer: &MockIssuer) -> Api {
    let (id, secret) = tokengate::testing::DEFAULT_INTROSPECTION_CLIENT;
    let validator = builder_for(issuer)
        .introspection(id, secret)
        .build()
        .unwrap();
    serve_gated(|| Gate::new(validator.clone()).dpop(Dpop::new(PUBLIC).unwrap())).await
}

#[tokio::test]
async fn an_introspected_bound_token_passes_with_its_proof_and_only_with_it() {
    let issuer = MockIssuer::start().await;
    let api = introspecting_dpop_api(&issuer).await;
    let client = DpopKey::generate(Algorithm::ES256);
    let thief = DpopKey::generate(Algorithm::ES256);
    let token = issuer
        .token()
        .subject("dora")
        .claim("cnf", client.cnf())
        .opaque();
    let me = format!("{PUBLIC}/me");

    let reply = get_dpop(&api, "/me", &token, &[&client.proof("GET", &me, &token)]).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["sub"], "dora");
    assert_eq!(reply.json()["cnf"]["jkt"], client.jkt());

    // Another key's proof: the answer (cached now) binds the token to the client's.
    assert_invalid_proof(&get_dpop(&api, "/me", &token, &[&thief.proof("GET", &me, &token)]).await);
    // A replayed proof, the introspection answer coming from the cache.
    let proof = client.proof("GET", &me, &token);
    assert_eq!(get_dpop(&api, "/me", &token, &[&proof]).await.status, 200);
    assert_invalid_proof(&get_dpop(&api, "/me", &token, &[&proof]).await);
    assert_eq!(
        issuer.introspection_hits(),
        1,
        "later requests were cache hits"
    );

    // The bound opaque token as a bearer token (RFC 9449 section 7.2).
    let reply = api.get("/me", Some(&token)).await;
    reply.assert_invalid_token();
    assert!(
        reply
            .challenge
            .unwrap()
            .starts_with(r#"Bearer error="invalid_token""#)
    );
    // An unbound opaque token under the DPoP scheme: not a DPoP token.
    let unbound = issuer.token().opaque();
    let reply = get_dpop(
        &api,
        "/me",
        &unbound,
        &[&client.proof("GET", &me, &unbound)],
    )
    .await;
    reply.assert_invalid_token();
}
