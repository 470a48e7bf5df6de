//! The floor under the HTTP benchmark's cache-off rows (`bench/http.sh`): how long the
//! RS256 signature check of the run's own token takes with nothing else around it — the
//! raw aws-lc-rs verify with the key parsed once, as `benches/validate.rs`'s `raw_verify`,
//! but on the benchmark's machine, core and moment, with the issuer's real key.
//!
//! `cargo run --release --example bench_verify -- TOKEN JWKS_FILE SECONDS`
//!
//! Prints `verify_us V verifies N`. With `/health` costing `H` µs of server CPU, a route
//! that verifies every token can serve at most `H / (H + V)` of `/health`'s throughput
//! even if everything else it does were free: the script prints that ceiling beside the
//! cache-off rows.

use std::time::{Duration, Instant};

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [token, jwks, seconds] = args.as_slice() else {
        eprintln!("usage: bench_verify TOKEN JWKS_FILE SECONDS");
        std::process::exit(2);
    };
    let seconds: f64 = seconds.parse().unwrap_or(2.0);
    let jwks: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(jwks).expect("read the JWKS file"))
            .expect("the JWKS is JSON");
    let (signing_input, signature) = token.rsplit_once('.').expect("a compact JWS");
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .expect("base64url signature");
    let header: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(signing_input.split('.').next().unwrap_or_default())
            .expect("base64url header"),
    )
    .expect("the header is JSON");
    // The key the token names, as the validator would pick it.
    let jwk = jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["kid"] == header["kid"] && k["kty"] == "RSA")
        .expect("an RSA key with the token's kid");
    let field = |name: &str| {
        URL_SAFE_NO_PAD
            .decode(jwk[name].as_str().expect("a string member"))
            .expect("base64url member")
    };
    let key = RsaPublicKeyComponents {
        n: field("n"),
        e: field("e"),
    }
    .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
    .expect("an RSA public key");
    let verify = || {
        key.verify_sig(signing_input.as_bytes(), &signature)
            .expect("the token's signature verifies")
    };
    // Warm up, then count whole batches until the time is up.
    for _ in 0..200 {
        verify();
    }
    let started = Instant::now();
    let until = Duration::from_secs_f64(seconds);
    let mut verifies = 0u64;
    while started.elapsed() < until {
        for _ in 0..100 {
            verify();
        }
        verifies += 100;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "verify_us {:.2} verifies {verifies}",
        elapsed * 1e6 / verifies as f64
    );
}
