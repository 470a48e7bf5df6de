//! Whether a token-cache hit gets dearer when two cores take hits at once: the shared
//! state a hit touches (the cache's shard lock, the entry's and the claims' reference
//! counts, the key set's lock, the gate's handle) must not make cores wait on each other.
//!
//! ```sh
//! cargo bench --bench contention
//! ```
//!
//! Each round runs, for `SECONDS` (default 1), one thread and then two threads that each
//! decide the same cached RS256 token through one [`Gate`], clone the gate (as the tower
//! adapter does for each response) and write the claims as JSON (as a `/me` handler does).
//! The control runs the same JSON writing on a private copy of the claims: work that
//! shares nothing, so its scaling is the machine's own (two cores that are not quite two,
//! a neighbour's load). Printed: the median per-hit time on one thread and on two, and the
//! two-thread throughput over the one-thread one, for the hits and for the control.
//! A machine with fewer than two cores measures nothing here.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use serde_json::json;
use tokengate::gate::{Decision, Gate};
use tokengate::request::RequestParts;
use tokengate::testing::TestKey;
use tokengate::{Algorithm, Validator};

const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "https://api.example";

fn token(key: &TestKey) -> String {
    let claims = json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "248289761001", "client_id": "s6BhdRkqt3",
        "exp": 4_000_000_000u64, "iat": 1_700_000_000u64, "jti": "dbe39bf3a3ba4238a513f51d6e1691c4",
        "scope": "openid profile email read:orders write:orders admin",
        "groups": ["engineering", "on-call", "payments", "platform"],
        "tenant": "acme-corporation", "name": "Jane Doe", "email": "jane.doe@example.com",
    });
    key.mint_with_header(&json!({"typ": "at+jwt"}), &claims)
}

/// Runs `work` on `threads` threads for `duration`; the operations done in all.
fn run(threads: usize, duration: Duration, work: &(dyn Fn(&mut Vec<u8>) + Sync)) -> u64 {
    let start = Barrier::new(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::with_capacity(4096);
                    start.wait();
                    let began = Instant::now();
                    let mut done = 0u64;
                    while began.elapsed() < duration {
                        for _ in 0..256 {
                            out.clear();
                            work(&mut out);
                        }
                        done += 256;
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it once, briefly.
    let quick = !std::env::args().any(|a| a == "--bench");
    let seconds: f64 = std::env::var("SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 0.05 } else { 1.0 });
    let rounds = if quick { 1 } else { 7 };
    let duration = Duration::from_secs_f64(seconds);

    let key = TestKey::generate("bench-key", Algorithm::RS256);
    let header = format!("Bearer {}", token(&key));
    let validator = Validator::builder()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .jwks(json!({ "keys": [key.public_jwk()] }))
        .build()
        .unwrap();
    let gate = Gate::new(validator);
    let decide = || {
        let parts = RequestParts::new()
            .authorization([black_box(header.as_bytes())])
            .method("GET")
            .target("/me");
        match gate.decide(&parts) {
            Decision::Pass(Some(claims)) => claims,
            _ => panic!("a valid token is refused"),
        }
    };
    // The first decision verifies and remembers the token; every later one is a hit.
    let private = serde_json::to_value(decide()).unwrap();

    let hit = |out: &mut Vec<u8>| {
        let claims = decide();
        let handle = black_box(gate.clone());
        serde_json::to_writer(&mut *out, &claims).unwrap();
        drop(handle);
    };
    let control =
        |out: &mut Vec<u8>| serde_json::to_writer(&mut *out, black_box(&private)).unwrap();

    println!("{rounds} rounds of {seconds} s per thread count; medians");
    println!(
        "{:<9} {:>14} {:>14} {:>18}",
        "work", "1 thread ns", "2 threads ns", "2-thread speed-up"
    );
    for (name, work) in [
        ("hit", &hit as &(dyn Fn(&mut Vec<u8>) + Sync)),
        ("control", &control),
    ] {
        let (mut one, mut two, mut speedup) = (vec![], vec![], vec![]);
        for _ in 0..rounds {
            let single = run(1, duration, work) as f64;
            let double = run(2, duration, work) as f64;
            one.push(seconds * 1e9 / single);
            two.push(seconds * 1e9 * 2.0 / double);
            speedup.push(double / single);
        }
        println!(
            "{name:<9} {:>14.0} {:>14.0} {:>18.2}",
            median(one),
            median(two),
            median(speedup)
        );
    }
}
