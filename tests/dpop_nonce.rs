//! DPoP server-provided nonces (RFC 9449 sections 8 and 9) over real HTTP through both
//! adapters: a proof without a nonce, or with one the server no longer accepts, is
//! refused with `use_dpop_nonce` and a fresh nonce in `DPoP-Nonce`; a proof with an
//! accepted nonce passes, and its response carries the current nonce.
//!
//! Times are explicit: the nonces a test sends are made with [`DpopNonces::issue`] at a
//! chosen time, never by waiting for a rotation.

mod common;

use std::time::Duration;

use common::{Api, Reply, builder_for, serve_gated};
use serde_json::json;
use tokengate::binding::dpop::{Dpop, DpopNonces};
use tokengate::testing::{DpopKey, MockIssuer};
use tokengate::{Algorithm, Gate, Validator};

const PUBLIC: &str = "https://api.example.test";
const ROTATION: Duration = Duration::from_secs(60);

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Nonces of a known secret, so a test can make the nonce of any window.
fn nonces(secret: u8) -> DpopNonces {
    DpopNonces::from_secret(&[secret; 32])
        .unwrap()
        .rotation(ROTATION)
}

/// Both adapters behind gates that share `nonces` (as replicas would) but each has its
/// own replay store, so one proof can be sent to both.
async fn api_with_nonces(issuer: &MockIssuer, nonces: &DpopNonces) -> Api {
    let validator: Validator = builder_for(issuer).build().unwrap();
    serve_gated(|| {
        let dpop = Dpop::new(PUBLIC).unwrap().nonces(nonces.clone());
        Gate::new(validator.clone()).dpop(dpop)
    })
    .await
}

async fn get_dpop(api: &Api, token: &str, proof: &str) -> Reply {
    let authorization = format!("DPoP {token}");
    api.get_with("/me", &[("authorization", &authorization), ("dpop", proof)])
        .await
}

fn proof_with_nonce(client: &DpopKey, token: &str, nonce: &str) -> String {
    let nonce = nonce.to_owned();
    client.proof_with("GET", &format!("{PUBLIC}/me"), token, move |c| {
        c["nonce"] = json!(nonce)
    })
}

#[track_caller]
fn assert_use_dpop_nonce(reply: &Reply) -> String {
    assert_eq!(reply.status, 401, "{reply:?}");
    let challenge = reply.challenge.as_deref().unwrap_or_default();
    assert!(
        challenge.starts_with(r#"Bearer, DPoP algs=""#)
            && challenge.contains(r#"error="use_dpop_nonce", error_description="The resource server requires a fresh nonce in the DPoP proof""#),
        "{reply:?}"
    );
    reply.dpop_nonce.clone().expect("a fresh DPoP-Nonce")
}

#[tokio::test]
async fn a_proof_without_a_nonce_is_told_to_use_one_and_then_passes() {
    let issuer = MockIssuer::start().await;
    let nonces = nonces(1);
    let api = api_with_nonces(&issuer, &nonces).await;
    let client = DpopKey::generate(Algorithm::ES256);
    let token = issuer
        .token()
        .subject("alice")
        .claim("cnf", client.cnf())
        .sign();

    let bare = client.proof("GET", &format!("{PUBLIC}/me"), &token);
    let nonce = assert_use_dpop_nonce(&get_dpop(&api, &token, &bare).await);
    assert!(nonces.check(&nonce, now()).is_ok(), "a nonce we accept");

    // RFC 9449 section 9: the client retries with the nonce, in a new proof.
    let reply = get_dpop(&api, &token, &proof_with_nonce(&client, &token, &nonce)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["sub"], "alice");
    // Every successful DPoP response carries the current nonce.
    let current = reply.dpop_nonce.expect("a DPoP-Nonce on success");
    assert!(nonces.check(&current, now()).is_ok());

    // A bearer request and an unauthenticated one are not DPoP: no nonce is handed out.
    let bearer = issuer.token().sign();
    let reply = api.get("/me", Some(&bearer)).await;
    assert_eq!((reply.status, reply.dpop_nonce), (200, None));
    assert_eq!(api.get("/me", None).await.dpop_nonce, None);
}

#[tokio::test]
async fn the_previous_windows_nonce_passes_and_older_ones_do_not() {
    let issuer = MockIssuer::start().await;
    let nonces = nonces(2);
    let api = api_with_nonces(&issuer, &nonces).await;
    let client = DpopKey::generate(Algorithm::ES256);
    let token = issuer.token().claim("cnf", client.cnf()).sign();
    let period = ROTATION.as_secs() as i64;

    // Handed out one period ago: the previous window, still accepted.
    let previous = nonces.issue(now() - period);
    let reply = get_dpop(&api, &token, &proof_with_nonce(&client, &token, &previous)).await;
    assert_eq!(reply.status, 200, "{reply:?}");

    // Two periods ago and more: beyond the accepted window, refused with a fresh one.
    for age in [2, 3, 1000] {
        let stale = nonces.issue(now() - age * period);
        let reply = get_dpop(&api, &token, &proof_with_nonce(&client, &token, &stale)).await;
        let fresh = assert_use_dpop_nonce(&reply);
        assert_ne!(fresh, stale);
    }
    // A nonce of a window not reached yet (a client cannot have been given it).
    let future = nonces.issue(now() + 2 * period);
    assert_use_dpop_nonce(
        &get_dpop(&api, &token, &proof_with_nonce(&client, &token, &future)).await,
    );
}

#[tokio::test]
async fn a_nonce_from_before_a_restart_or_forged_is_refused() {
    let issuer = MockIssuer::start().await;
    let client = DpopKey::generate(Algorithm::ES256);
    let token = issuer.token().claim("cnf", client.cnf()).sign();
    // Before the restart: its nonce passes.
    let before = DpopNonces::random().unwrap();
    let api = api_with_nonces(&issuer, &before).await;
    let nonce = before.issue(now());
    let reply = get_dpop(&api, &token, &proof_with_nonce(&client, &token, &nonce)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    drop(api);
    // After it, with a new random secret: the same nonce is refused.
    let after = DpopNonces::random().unwrap();
    let api = api_with_nonces(&issuer, &after).await;
    let reply = get_dpop(&api, &token, &proof_with_nonce(&client, &token, &nonce)).await;
    let fresh = assert_use_dpop_nonce(&reply);
    assert!(after.check(&fresh, now()).is_ok());

    // Forged: well-formed but never handed out, edited, empty, or not a string.
    let mut edited = fresh.clone().into_bytes();
    edited[5] = if edited[5] == b'x' { b'y' } else { b'x' };
    let edited = String::from_utf8(edited).unwrap();
    for forged in ["A".repeat(43), edited, String::new(), "x".repeat(4000)] {
        let reply = get_dpop(&api, &token, &proof_with_nonce(&client, &token, &forged)).await;
        assert_use_dpop_nonce(&reply);
    }
    let numeric = client.proof_with("GET", &format!("{PUBLIC}/me"), &token, |c| {
        c["nonce"] = json!(42)
    });
    let reply = get_dpop(&api, &token, &numeric).await;
    assert_eq!(
        reply.status, 401,
        "a mistyped nonce is a malformed proof: {reply:?}"
    );
}

#[tokio::test]
async fn a_good_nonce_does_not_excuse_a_bad_proof() {
    let issuer = MockIssuer::start().await;
    let nonces = nonces(3);
    let api = api_with_nonces(&issuer, &nonces).await;
    let client = DpopKey::generate(Algorithm::ES256);
    let thief = DpopKey::generate(Algorithm::ES256);
    let token = issuer.token().claim("cnf", client.cnf()).sign();
    let nonce = nonces.issue(now());
    // Another key, with the right nonce: invalid_dpop_proof, no nonce handed out.
    let reply = get_dpop(&api, &token, &proof_with_nonce(&thief, &token, &nonce)).await;
    assert_eq!(reply.status, 401);
    assert!(
        reply
            .challenge
            .as_deref()
            .unwrap()
            .contains(r#"error="invalid_dpop_proof""#),
        "{reply:?}"
    );
    assert_eq!(reply.dpop_nonce, None);
    // A proof with a good nonce is still single-use.
    let proof = proof_with_nonce(&client, &token, &nonce);
    assert_eq!(get_dpop(&api, &token, &proof).await.status, 200);
    let replayed = get_dpop(&api, &token, &proof).await;
    assert_eq!(replayed.status, 401);
    assert!(replayed.challenge.unwrap().contains("invalid_dpop_proof"));
    // A proof refused for its nonce is not recorded in the replay store: sent again,
    // it is still told to use a nonce, not called a replay.
    let bare = client.proof("GET", &format!("{PUBLIC}/me"), &token);
    assert_use_dpop_nonce(&get_dpop(&api, &token, &bare).await);
    assert_use_dpop_nonce(&get_dpop(&api, &token, &bare).await);
}
