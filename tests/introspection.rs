//! Opaque tokens through RFC 7662 introspection, against the mock issuer's endpoint
//! (which checks client authentication and counts its calls), through both adapters.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{builder_for, serve};
use serde_json::json;
use tokengate::testing::{Behavior, DEFAULT_INTROSPECTION_CLIENT, MockIssuer};
use tokengate::{ClientAuth, TokenFormat, ValidatorBuilder};

/// `GET /me` with each token, all at once; the statuses in the tokens' order.
async fn concurrently(api: &Arc<common::Api>, tokens: Vec<String>) -> Vec<u16> {
    let requests: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let api = api.clone();
            tokio::spawn(async move { api.get("/me", Some(&token)).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for request in requests {
        statuses.push(request.await.unwrap());
    }
    statuses
}

fn introspecting(issuer: &MockIssuer) -> ValidatorBuilder {
    let (id, secret) = DEFAULT_INTROSPECTION_CLIENT;
    builder_for(issuer).introspection(id, secret)
}

#[tokio::test]
async fn an_active_opaque_token_passes_with_its_claims_and_scopes() {
    let issuer = MockIssuer::start().await;
    let api = serve(introspecting(&issuer).build().unwrap()).await;
    let token = issuer.token().subject("carol").scope("read admin").opaque();
    let me = api.get("/me", Some(&token)).await;
    assert_eq!(me.status, 200, "{me:?}");
    assert_eq!(me.json()["sub"], "carol");
    assert_eq!(api.get("/admin", Some(&token)).await.status, 200);
    let reader = issuer.token().scope("read").opaque();
    assert_eq!(api.get("/admin", Some(&reader)).await.status, 403);
}

#[tokio::test]
async fn answers_are_cached_and_a_flood_of_one_token_is_one_introspection() {
    let issuer = MockIssuer::start().await;
    issuer.set_behavior(Behavior::Slow(Duration::from_millis(200)));
    let api = Arc::new(serve(introspecting(&issuer).build().unwrap()).await);
    let token = issuer.token().opaque();
    let statuses = concurrently(&api, vec![token; 100]).await;
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    // Discovery (once) plus one introspection for 200 requests (100 per adapter).
    assert_eq!(issuer.introspection_hits(), 1);
}

#[tokio::test]
async fn inactive_revoked_and_unknown_tokens_are_invalid_token() {
    let issuer = MockIssuer::start().await;
    let api = serve(
        introspecting(&issuer)
            .introspection_cache_ttl(Duration::from_millis(100))
            .build()
            .unwrap(),
    )
    .await;
    api.get("/me", Some("2YotnFZFEjr1zCsicMWpAA"))
        .await
        .assert_invalid_token();
    let expired = issuer.token().expires_in(-10).opaque();
    api.get("/me", Some(&expired)).await.assert_invalid_token();
    let revoked = issuer.token().opaque();
    assert_eq!(api.get("/me", Some(&revoked)).await.status, 200);
    issuer.revoke(&revoked);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reply = api.get("/me", Some(&revoked)).await;
    reply.assert_invalid_token();
    assert!(reply.challenge.unwrap().contains("not active"));
}

#[tokio::test]
async fn a_cached_answer_never_outlives_the_token() {
    let issuer = MockIssuer::start().await;
    let api = serve(
        introspecting(&issuer)
            .leeway(Duration::ZERO)
            .build()
            .unwrap(),
    )
    .await;
    let token = issuer.token().expires_in(2).opaque();
    assert_eq!(api.get("/me", Some(&token)).await.status, 200);
    tokio::time::sleep(Duration::from_millis(3200)).await;
    api.get("/me", Some(&token)).await.assert_invalid_token();
    assert_eq!(
        issuer.introspection_hits(),
        1,
        "refused from the cache, by the clock"
    );
}

#[tokio::test]
async fn tokens_for_another_resource_or_issuer_are_refused() {
    let issuer = MockIssuer::start().await;
    let api = serve(introspecting(&issuer).build().unwrap()).await;
    for token in [
        issuer.token().audience("another-api").opaque(),
        issuer.token().claim("iss", "https://evil.example").opaque(),
        issuer.token().claim("nbf", 4_000_000_000i64).opaque(),
    ] {
        api.get("/me", Some(&token)).await.assert_invalid_token();
    }
}

#[tokio::test]
async fn an_unreachable_or_failing_endpoint_is_503_never_valid() {
    for behavior in [Behavior::Fail(500), Behavior::Garbage, Behavior::Hang] {
        let issuer = MockIssuer::start().await;
        let validator = introspecting(&issuer)
            .introspection_endpoint(issuer.introspection_url())
            .fetch_timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let api = serve(validator).await;
        let token = issuer.token().opaque();
        issuer.set_behavior(behavior.clone());
        let started = Instant::now();
        let reply = api.get("/me", Some(&token)).await;
        assert_eq!(reply.status, 503, "{behavior:?}: {reply:?}");
        assert!(reply.retry_after.is_some());
        assert!(started.elapsed() < Duration::from_secs(10));
        // Errors are not cached: once the endpoint answers and the retry delay it asked
        // for has passed, so do we.
        issuer.set_behavior(Behavior::Normal);
        wait_out(&reply).await;
        assert_eq!(
            api.get("/me", Some(&token)).await.status,
            200,
            "{behavior:?}"
        );
    }
}

/// Sleeps for the reply's `Retry-After`.
async fn wait_out(reply: &common::Reply) {
    let seconds: u64 = reply.retry_after.as_deref().unwrap().parse().unwrap();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
}

/// `Retry-After` in seconds.
fn retry_after(reply: &common::Reply) -> u64 {
    reply.retry_after.as_deref().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_failing_endpoint_is_asked_once_per_retry_delay_not_once_per_request() {
    let issuer = MockIssuer::start().await;
    let validator = introspecting(&issuer)
        .introspection_endpoint(issuer.introspection_url())
        .build()
        .unwrap();
    let api = serve(validator).await;
    let tokens: Vec<String> = (0..20).map(|_| issuer.token().opaque()).collect();
    issuer.set_behavior(Behavior::Fail(500));

    let started = Instant::now();
    let first = api.get("/me", Some(&tokens[0])).await;
    assert_eq!(first.status, 503, "{first:?}");
    assert!(retry_after(&first) >= 1);
    assert_eq!(issuer.introspection_hits(), 1);
    // Within the delay, no token reaches the endpoint, on either adapter: 40 requests
    // cost at most one more call per second they took (the delay is 1 s, then longer),
    // where without a budget each would have been a call.
    let mut last = first;
    for token in &tokens {
        last = api.get("/me", Some(token)).await;
        assert_eq!(last.status, 503, "{last:?}");
        assert!(last.retry_after.is_some());
    }
    let seconds = started.elapsed().as_secs() as usize;
    assert!(
        issuer.introspection_hits() <= 1 + seconds,
        "{} calls in {seconds} s",
        issuer.introspection_hits()
    );

    // The delay over, one request; it fails too, and the next delay is longer.
    wait_out(&last).await;
    let before = issuer.introspection_hits();
    let second = api.get("/me", Some(&tokens[1])).await;
    assert_eq!(second.status, 503);
    assert_eq!(
        issuer.introspection_hits(),
        before + 1,
        "one call, by one adapter"
    );
    assert!(retry_after(&second) >= 2, "{second:?}");

    // Recovery: after the delay, every token is answered again.
    issuer.set_behavior(Behavior::Normal);
    wait_out(&second).await;
    let before = issuer.introspection_hits();
    for token in &tokens {
        assert_eq!(api.get("/me", Some(token)).await.status, 200);
    }
    assert_eq!(issuer.introspection_hits(), before + tokens.len());
}

#[tokio::test]
async fn callers_waiting_on_one_token_fail_together_when_the_endpoint_hangs() {
    let issuer = MockIssuer::start().await;
    let validator = introspecting(&issuer)
        .introspection_endpoint(issuer.introspection_url())
        .fetch_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let api = Arc::new(serve(validator).await);
    let token = issuer.token().opaque();
    issuer.set_behavior(Behavior::Hang);
    let started = Instant::now();
    let statuses = concurrently(&api, vec![token; 20]).await;
    assert!(statuses.iter().all(|&s| s == 503), "{statuses:?}");
    // One request timed out; the 39 other callers (20 per adapter, 19 waiting on the
    // same token) were refused with it rather than each waiting out a timeout in turn
    // (which took 40 x 300 ms): at most one call per second the test took.
    let seconds = started.elapsed().as_secs() as usize;
    assert!(
        issuer.introspection_hits() <= 1 + seconds,
        "{} calls in {seconds} s",
        issuer.introspection_hits()
    );
    assert!(seconds < 6, "{seconds} s");
}

#[tokio::test]
async fn a_flood_of_distinct_tokens_keeps_at_most_the_configured_requests_in_flight() {
    let issuer = MockIssuer::start().await;
    let validator = introspecting(&issuer)
        .introspection_endpoint(issuer.introspection_url())
        .max_concurrent_introspections(2)
        .build()
        .unwrap();
    let api = Arc::new(serve(validator).await);
    issuer.set_behavior(Behavior::Slow(Duration::from_millis(100)));
    let tokens: Vec<String> = (0..12).map(|_| issuer.token().opaque()).collect();
    let statuses = concurrently(&api, tokens).await;
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    assert_eq!(issuer.introspection_hits(), 12, "one request per token");
    assert!(
        issuer.introspection_peak() <= 2,
        "{} requests in flight at once",
        issuer.introspection_peak()
    );
}

#[tokio::test]
async fn wrong_client_credentials_are_503_not_a_verdict_on_the_token() {
    let issuer = MockIssuer::start().await;
    let validator = builder_for(&issuer)
        .introspection("rs-client", "wrong")
        .build()
        .unwrap();
    let api = serve(validator).await;
    let reply = api.get("/me", Some(&issuer.token().opaque())).await;
    assert_eq!(reply.status, 503);
}

#[tokio::test]
async fn client_secret_post_and_an_explicit_endpoint_work() {
    let issuer = MockIssuer::start().await;
    issuer.set_introspection_client("post client", "s3cr:t");
    let validator = builder_for(&issuer)
        .introspection("post client", "s3cr:t")
        .introspection_auth(ClientAuth::ClientSecretPost)
        .introspection_endpoint(issuer.introspection_url())
        .build()
        .unwrap();
    let api = serve(validator).await;
    assert_eq!(
        api.get("/me", Some(&issuer.token().opaque())).await.status,
        200
    );
    assert_eq!(
        issuer.discovery_hits(),
        0,
        "explicit endpoint: no discovery"
    );
}

#[tokio::test]
async fn jwt_or_opaque_verifies_jwts_locally_and_introspects_the_rest() {
    let issuer = MockIssuer::start().await;
    let validator = introspecting(&issuer)
        .token_format(TokenFormat::JwtOrOpaque)
        .build()
        .unwrap();
    let api = serve(validator).await;
    assert_eq!(
        api.get("/me", Some(&issuer.token().sign())).await.status,
        200
    );
    assert_eq!(
        issuer.introspection_hits(),
        0,
        "the JWT was verified locally"
    );
    // A JWT that fails verification is refused, not introspected instead.
    api.get("/me", Some(&format!("{}x", issuer.token().sign())))
        .await
        .assert_invalid_token();
    assert_eq!(issuer.introspection_hits(), 0);
    assert_eq!(
        api.get("/me", Some(&issuer.token().opaque())).await.status,
        200
    );
    assert_eq!(issuer.introspection_hits(), 1);
}

#[tokio::test]
async fn opaque_tokens_without_introspection_are_a_configuration_error() {
    let issuer = MockIssuer::start().await;
    assert!(
        builder_for(&issuer)
            .token_format(TokenFormat::Opaque)
            .build()
            .is_err()
    );
    assert!(builder_for(&issuer).introspection("", "x").build().is_err());
}

#[tokio::test]
async fn oversized_opaque_tokens_are_refused_before_any_introspection() {
    let issuer = MockIssuer::start().await;
    let api = serve(introspecting(&issuer).build().unwrap()).await;
    let huge = "o".repeat(20 * 1024);
    api.get("/me", Some(&huge)).await.assert_invalid_token();
    assert_eq!(issuer.introspection_hits(), 0);
    assert_eq!(issuer.discovery_hits(), 0);
}

// Issue 12, item 9: `token_type` in an answer.

#[tokio::test]
async fn an_answer_for_a_refresh_token_or_another_non_access_token_type_is_invalid_token() {
    let issuer = MockIssuer::start().await;
    let api = serve(introspecting(&issuer).build().unwrap()).await;
    for token_type in [
        json!("refresh_token"),
        json!("urn:ietf:params:oauth:token-type:refresh_token"),
        json!("urn:ietf:params:oauth:token-type:id_token"),
        json!("N_A"),
        json!("Bearer "),
        json!(""),
        json!(1),
        json!(["Bearer"]),
    ] {
        let token = issuer
            .token()
            .claim("token_type", token_type.clone())
            .opaque();
        let reply = api.get("/me", Some(&token)).await;
        assert_eq!(reply.status, 401, "token_type {token_type}: {reply:?}");
        reply.assert_invalid_token();
    }
    // Access token types pass, compared case-insensitively; so does an answer naming none.
    for token_type in [
        json!("Bearer"),
        json!("bearer"),
        json!("BEARER"),
        json!("access_token"),
        json!("DPoP"),
        json!("dpop"),
        json!(null),
    ] {
        let token = issuer
            .token()
            .claim("token_type", token_type.clone())
            .opaque();
        let reply = api.get("/me", Some(&token)).await;
        assert_eq!(reply.status, 200, "token_type {token_type}: {reply:?}");
    }
}

// Issue 12, item 6: an answer without `aud`.

#[tokio::test]
async fn an_answer_without_an_audience_is_refused_unless_explicitly_allowed() {
    let issuer = MockIssuer::start().await;
    // Tokens a real server binds to no resource: requested without a resource indicator.
    let unbound = issuer.token().without_claim("aud").opaque();
    let empty = issuer.token().audience(json!([])).opaque();
    let other = issuer.token().audience("another-api").opaque();
    let api = serve(introspecting(&issuer).build().unwrap()).await;
    for token in [&unbound, &empty, &other] {
        let reply = api.get("/me", Some(token)).await;
        reply.assert_invalid_token();
        assert!(
            reply
                .challenge
                .as_deref()
                .unwrap()
                .contains("not issued for this resource"),
            "{reply:?}"
        );
    }
    drop(api);

    // The opt-in: accepted, and the claims say exactly that (no audience is invented).
    let api = serve(
        introspecting(&issuer)
            .allow_introspection_without_audience(true)
            .build()
            .unwrap(),
    )
    .await;
    for token in [&unbound, &empty] {
        let reply = api.get("/me", Some(token)).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.json()["aud"], json!([]));
    }
    // Still refused: another audience, which is a restriction to another resource.
    api.get("/me", Some(&other)).await.assert_invalid_token();
    // No aud, iss or exp in the answer: vouched for by the endpoint we asked.
    let bare = issuer
        .token()
        .without_claim("aud")
        .without_claim("iss")
        .without_claim("exp")
        .opaque();
    let reply = api.get("/me", Some(&bare)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["aud"], json!([]));
    assert_eq!(reply.json()["iss"], issuer.issuer());
}

// Issue 12, item 8: one chosen token must not close introspection for everyone.

#[tokio::test]
async fn a_firewall_refusing_one_token_is_that_tokens_401_and_closes_nothing_for_others() {
    let issuer = MockIssuer::start().await;
    let validator = introspecting(&issuer)
        .introspection_endpoint(issuer.introspection_url())
        .build()
        .unwrap();
    let api = serve(validator).await;
    let good = issuer.token().opaque();
    for (attack, status) in [
        ("../../../../etc/passwd", 403),
        ("../../../../etc/shadow", 400),
        ("....//....//etc/passwd", 404),
        ("x/../../../../etc/hosts==", 413),
    ] {
        issuer.refuse_introspection(attack, status);
        let reply = api.get("/me", Some(attack)).await;
        assert_eq!(reply.status, 401, "{status} for {attack}: {reply:?}");
        reply.assert_invalid_token();
        // At once, an uncached good token is introspected and passes, on both adapters.
        let fresh = issuer.token().opaque();
        let hits = issuer.introspection_hits();
        let reply = api.get("/me", Some(&fresh)).await;
        assert_eq!(
            reply.status, 200,
            "after a {status} for {attack}: {reply:?}"
        );
        assert_eq!(issuer.introspection_hits(), hits + 1);
    }
    assert_eq!(api.get("/me", Some(&good)).await.status, 200);
    // A refusal is not remembered as a verdict: the endpoint is asked again.
    let hits = issuer.introspection_hits();
    api.get("/me", Some("../../../../etc/passwd"))
        .await
        .assert_invalid_token();
    assert_eq!(issuer.introspection_hits(), hits + 2, "one per adapter");
}

#[tokio::test]
async fn refused_client_credentials_still_close_the_budget() {
    let issuer = MockIssuer::start().await;
    let validator = introspecting(&issuer)
        .introspection_endpoint(issuer.introspection_url())
        .build()
        .unwrap();
    let api = serve(validator).await;
    issuer.set_introspection_client("rs-client", "rotated-secret");
    let reply = api.get("/me", Some(&issuer.token().opaque())).await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(issuer.introspection_hits(), 1, "one call, by one adapter");
    // Within the delay, no other token reaches the endpoint.
    let reply = api.get("/me", Some(&issuer.token().opaque())).await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert!(reply.retry_after.is_some());
    assert!(issuer.introspection_hits() <= 2);
}

// Issue 12, item 14: zero means what the documentation says.

#[tokio::test]
async fn without_answer_caching_every_request_is_introspected_but_concurrent_ones_share_a_call() {
    for name in ["introspection_cache_ttl(0)", "token_cache_size(0)"] {
        let issuer = MockIssuer::start().await;
        let builder = introspecting(&issuer).introspection_endpoint(issuer.introspection_url());
        let builder = match name {
            "token_cache_size(0)" => builder.token_cache_size(0),
            _ => builder.introspection_cache_ttl(Duration::ZERO),
        };
        let api = Arc::new(serve(builder.build().unwrap()).await);
        let token = issuer.token().opaque();
        for n in 1..=3 {
            assert_eq!(api.get("/me", Some(&token)).await.status, 200);
            assert_eq!(issuer.introspection_hits(), 2 * n, "{name}: not remembered");
        }
        // A burst of one token while the endpoint is slow: one call per adapter's wave.
        issuer.set_behavior(Behavior::Slow(Duration::from_secs(1)));
        let before = issuer.introspection_hits();
        let statuses = concurrently(&api, vec![token.clone(); 20]).await;
        assert!(statuses.iter().all(|&s| s == 200), "{name}: {statuses:?}");
        assert!(
            issuer.introspection_hits() - before <= 2,
            "{name}: {} calls for 40 concurrent requests",
            issuer.introspection_hits() - before
        );
    }
}

// Issue 12, item 1: a client that hangs up changes nothing.

/// `GET /me` with `token` from the axum adapter, hanging up after 50 ms.
///
/// Only axum: hyper drops a handler's future when its client hangs up, which is what
/// cancelled an introspection half-way. actix-web runs the handler to completion whoever
/// waits for it, so there a hung-up client is a patient one (and, sent there too, would
/// close the budget for the axum requests and hide what is tested). Both adapters are
/// asked, and must agree, once the hang-ups are over.
async fn hang_up(api: &common::Api, token: &str) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let _ = client
        .get(format!("{}/me", api.base))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await;
}

#[tokio::test]
async fn clients_that_hang_up_leave_their_failure_to_the_budget() {
    let issuer = MockIssuer::start().await;
    let validator = introspecting(&issuer)
        .introspection_endpoint(issuer.introspection_url())
        .max_concurrent_introspections(1)
        .build()
        .unwrap();
    let api = serve(validator).await;
    // Each request fails, 300 ms after it began: long after its client hung up.
    issuer.set_behavior(Behavior::SlowFail(Duration::from_millis(300), 500));
    let started = Instant::now();
    for _ in 0..20 {
        hang_up(&api, &issuer.token().opaque()).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every failure was charged: at most one call per second (the delay is 1 s, then
    // doubles), where each hung-up request used to be a call of its own.
    let seconds = started.elapsed().as_secs() as usize;
    assert!(
        issuer.introspection_hits() <= 1 + seconds,
        "{} calls in {seconds} s",
        issuer.introspection_hits()
    );
    let reply = api.get("/me", Some(&issuer.token().opaque())).await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert!(reply.retry_after.is_some());
}

#[tokio::test]
async fn clients_that_hang_up_do_not_free_a_permit_before_the_endpoint_answered() {
    let issuer = MockIssuer::start().await;
    let validator = introspecting(&issuer)
        .introspection_endpoint(issuer.introspection_url())
        .max_concurrent_introspections(2)
        .build()
        .unwrap();
    let api = Arc::new(serve(validator).await);
    // Answers take a second; clients give up after 50 ms.
    issuer.set_behavior(Behavior::Slow(Duration::from_secs(1)));
    let started = Instant::now();
    for _ in 0..12 {
        let wave: Vec<_> = (0..2)
            .map(|_| {
                let (api, token) = (api.clone(), issuer.token().opaque());
                tokio::spawn(async move { hang_up(&api, &token).await })
            })
            .collect();
        for client in wave {
            client.await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seconds = started.elapsed().as_secs() as usize;
    assert!(
        issuer.introspection_peak() <= 2,
        "{} requests in flight at once",
        issuer.introspection_peak()
    );
    // Each permit is held for the second its request takes.
    assert!(
        issuer.introspection_hits() <= 2 * (1 + seconds),
        "{} calls in {seconds} s",
        issuer.introspection_hits()
    );
    // A patient client is answered, alike on both adapters.
    issuer.set_behavior(Behavior::Normal);
    let reply = api.get("/me", Some(&issuer.token().opaque())).await;
    assert_eq!(reply.status, 200, "{reply:?}");
}
