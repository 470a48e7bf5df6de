//! What a DPoP request costs (RFC 9449), beside the floor: the raw aws-lc-rs ES256 verify
//! of the same proof's signature with a key parsed once (a proof's key comes in the
//! proof, so no verifier can do less).
//!
//! ```sh
//! cargo bench --bench dpop
//! ```
//!
//! - `dpop/raw_es256_verify`: the floor, one proof verified again and again;
//! - `dpop/raw_es256_verify_fresh`: the floor over fresh proofs, as a server sees them:
//!   proofs are signed in pools outside the timing, then each is verified once;
//! - `dpop/check_proof`: [`check_proof`], every rule of RFC 9449 section 4.3 that needs
//!   only the proof and the request (parse, embedded key, signature, `htm`, `htu`, `iat`,
//!   `ath`, thumbprint);
//! - `dpop/proof_check`: the public `check_proof` on a fresh proof (a new `jti` each
//!   time, from the same pools) and the `jti` recorded in the in-memory replay store:
//!   every proof parsed from scratch, header and key included;
//! - `dpop/gate_decide_cached_token`: the gate's whole decision for `Authorization: DPoP`
//!   with the token in the verified-token cache: the token cache hit, and `Dpop`'s check
//!   of the proof as a server runs it (the client's proof header, hence its key, parsed
//!   once and remembered; the signature verified every time) with the in-memory replay
//!   store; the target is at most 1.3x `raw_es256_verify_fresh`. Beside it
//!   `dpop/gate_decide_bearer_cached_token`, the same gate for a bearer token;
//! - before them, a paired run prints the same ratio measured turn by turn (raw verify
//!   and gate decision alternating over the same proofs), which load drift on a shared
//!   machine does not skew;
//! - `replay/memory_record` and `replay/redis_record`: one replay-store insert, in memory
//!   and against a real local `redis-server` (started here on a free 127.0.0.1 port;
//!   skipped with a message when it is not installed) over one multiplexed connection.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::process::{Child, Command, Stdio};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{self as sig, ParsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use tokengate::binding::dpop::{
    DEFAULT_PROOF_LEEWAY, DEFAULT_PROOF_WINDOW, Dpop, ProofContext, ProofPolicy, check_proof,
};
use tokengate::binding::replay::{MemoryReplayStore, ReplayStore, Seen};
use tokengate::gate::{Decision, Gate};
use tokengate::request::RequestParts;
use tokengate::testing::{DpopKey, TestKey};
use tokengate::{Algorithm, DEFAULT_TOKEN_CACHE_SIZE, Validator};

const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "https://api.example";
const PUBLIC: &str = "https://api.example.com";
const URI: &str = "https://api.example.com/orders";

/// Polls a future that never waits (pinned keys, a cached token, the memory store).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the check waited on I/O"),
    }
}

fn unix_now() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(since.as_secs()).unwrap()
}

/// An RFC 9068 access token of about 1.2 KB bound to `client` (`cnf.jkt`), as
/// benches/validate.rs mints them.
fn bound_token(issuer_key: &TestKey, client: &DpopKey, subject: &str) -> String {
    let mut claims = json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": subject, "client_id": "s6BhdRkqt3",
        "exp": 4_000_000_000u64, "iat": 1_700_000_000u64, "jti": "dbe39bf3a3ba4238a513f51d6e1691c4",
        "scope": "openid profile email read:orders write:orders admin",
        "auth_time": 1_700_000_000u64, "acr": "urn:mace:incommon:iap:silver",
        "groups": ["engineering", "on-call", "payments", "platform"],
        "tenant": "acme-corporation", "name": "Jane Doe", "email": "jane.doe@example.com",
    });
    claims["cnf"] = client.cnf();
    issuer_key.mint_with_header(&json!({"typ": "at+jwt"}), &claims)
}

fn policy() -> ProofPolicy {
    ProofPolicy {
        algorithms: tokengate::SUPPORTED_ALGORITHMS.to_vec(),
        window: DEFAULT_PROOF_WINDOW,
        leeway: DEFAULT_PROOF_LEEWAY,
    }
}

/// The proof's own key, parsed once, and its signing input and decoded signature.
fn raw_parts(proof: &str) -> (ParsedPublicKey, String, Vec<u8>) {
    let header: serde_json::Value =
        serde_json::from_slice(&B64.decode(proof.split('.').next().unwrap()).unwrap()).unwrap();
    let field = |name: &str| B64.decode(header["jwk"][name].as_str().unwrap()).unwrap();
    let point = [vec![4], field("x"), field("y")].concat();
    let key = ParsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point).unwrap();
    let (input, signature) = proof.rsplit_once('.').unwrap();
    (key, input.to_owned(), B64.decode(signature).unwrap())
}

fn proofs(c: &mut Criterion) {
    let issuer_key = TestKey::generate("bench-key", Algorithm::RS256);
    let client = DpopKey::generate(Algorithm::ES256);
    let token = bound_token(&issuer_key, &client, "248289761001");
    let uri = reqwest::Url::parse(URI).unwrap();
    let policy = policy();
    let mut group = c.benchmark_group("dpop");

    let proof = client.proof("GET", URI, &token);
    let (key, input, signature) = raw_parts(&proof);
    group.bench_function("raw_es256_verify", |b| {
        b.iter(|| {
            key.verify_sig(black_box(input.as_bytes()), black_box(&signature))
                .unwrap()
        })
    });

    let now = unix_now();
    let context = ProofContext {
        method: "GET",
        uri: &uri,
        access_token: &token,
        now,
    };
    assert_eq!(
        check_proof(&proof, &policy, &context).unwrap().jkt,
        client.jkt()
    );
    group.bench_function("check_proof", |b| {
        b.iter(|| check_proof(black_box(&proof), &policy, &context).unwrap())
    });

    // The floor again, over fresh proofs as a server sees them (each its own signature).
    let fresh = || client.proof("GET", URI, &token);
    group.bench_function("raw_es256_verify_fresh", |b| {
        b.iter_custom(|iters| {
            over_pool(
                iters,
                &fresh,
                |proof| {
                    let (input, signature) = proof.rsplit_once('.').unwrap();
                    (input.to_owned(), B64.decode(signature).unwrap())
                },
                |(input, signature)| {
                    key.verify_sig(black_box(input.as_bytes()), black_box(signature))
                        .unwrap()
                },
            )
        })
    });

    // One request's proof check as `Dpop` runs it: a fresh proof, the clock read, the
    // rules, the thumbprint against `cnf.jkt`, the `jti` recorded (first time).
    let store = MemoryReplayStore::default();
    let ttl = (DEFAULT_PROOF_WINDOW + DEFAULT_PROOF_LEEWAY) * 2;
    let jkt = client.jkt();
    group.bench_function("proof_check", |b| {
        b.iter_custom(|iters| {
            over_pool(
                iters,
                &fresh,
                |proof| proof,
                |proof| {
                    let context = ProofContext {
                        method: "GET",
                        uri: &uri,
                        access_token: &token,
                        now: unix_now(),
                    };
                    let verified = check_proof(black_box(proof), &policy, &context).unwrap();
                    assert!(verified.jkt == jkt);
                    let seen = ready(store.record(verified.replay_key(), ttl)).unwrap();
                    assert_eq!(seen, Seen::First);
                },
            )
        })
    });

    // The gate's whole decision, the token already in the verified-token cache.
    let validator = Validator::builder()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .jwks(json!({ "keys": [issuer_key.public_jwk()] }))
        .token_cache_size(DEFAULT_TOKEN_CACHE_SIZE)
        .build()
        .unwrap();
    let gate = Gate::new(validator.clone()).dpop(Dpop::new(PUBLIC).unwrap());
    let authorization = format!("DPoP {token}");
    let decide = |proof: &str| {
        let parts = RequestParts::new()
            .authorization([authorization.as_bytes()])
            .dpop([proof.as_bytes()])
            .method("GET")
            .target("/orders");
        match gate.decide(&parts) {
            Decision::Pending(pending) => ready(pending).unwrap().unwrap(),
            _ => unreachable!("a DPoP request always records its proof"),
        }
    };
    decide(&client.proof("GET", URI, &token)); // the token is cached now
    group.bench_function("gate_decide_cached_token", |b| {
        b.iter_custom(|iters| over_pool(iters, &fresh, |proof| proof, |proof| decide(proof)))
    });
    // The same gate for a bearer token (another, unbound one), cached too.
    let bearer = format!(
        "Bearer {}",
        issuer_key.mint_with_header(
            &json!({"typ": "at+jwt"}),
            &json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "b", "exp": 4_000_000_000u64}),
        )
    );
    let decide_bearer = || {
        let parts = RequestParts::new()
            .authorization([bearer.as_bytes()])
            .dpop(std::iter::empty())
            .method("GET")
            .target("/orders");
        match gate.decide(&parts) {
            Decision::Pass(claims) => claims,
            Decision::Pending(pending) => ready(pending).unwrap(),
            Decision::Reject(refusal) => panic!("{:?}", refusal.error()),
        }
    };
    decide_bearer();
    group.bench_function("gate_decide_bearer_cached_token", |b| b.iter(decide_bearer));
    group.finish();
}

/// Proofs signed per pool, outside the timing.
const POOL: u64 = 512;

/// Times `run` over `iters` fresh inputs: `make` signs a proof and `prepare` turns it into
/// the input, a pool at a time, untimed, so the timing holds only the checks (and the
/// caches are as warm as a server's, which signs nothing).
fn over_pool<T, R>(
    iters: u64,
    make: &impl Fn() -> String,
    prepare: impl Fn(String) -> T,
    mut run: impl FnMut(&T) -> R,
) -> Duration {
    let mut elapsed = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let batch = POOL.min(iters - done);
        let inputs: Vec<T> = (0..batch).map(|_| prepare(make())).collect();
        let start = Instant::now();
        for input in &inputs {
            black_box(run(input));
        }
        elapsed += start.elapsed();
        done += batch;
    }
    elapsed
}

/// A `redis-server` on a free 127.0.0.1 port for as long as it lives.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// `None` (with a message) when `redis-server` cannot be started here.
    fn start() -> Option<RedisServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .ok()?
            .port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(error) => {
                eprintln!("replay/redis_record skipped: cannot start redis-server ({error})");
                return None;
            }
        };
        let server = RedisServer { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                eprintln!("replay/redis_record skipped: redis-server did not listen");
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(server)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A replay key never recorded before (a counter, as a fresh `jti` is).
fn next_key(counter: &mut u64) -> [u8; 32] {
    *counter += 1;
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&counter.to_be_bytes());
    key
}

fn replay_stores(c: &mut Criterion) {
    let ttl = (DEFAULT_PROOF_WINDOW + DEFAULT_PROOF_LEEWAY) * 2;
    let mut group = c.benchmark_group("replay");
    let memory = MemoryReplayStore::default();
    let mut counter = 0;
    group.bench_function("memory_record", |b| {
        b.iter(|| ready(memory.record(next_key(&mut counter), ttl)).unwrap())
    });

    if let Some(redis) = RedisServer::start() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let url = format!("redis://127.0.0.1:{}/", redis.port);
        let store = runtime.block_on(async {
            tokengate::binding::redis::RedisReplayStore::connect(&url).unwrap()
        });
        let key = next_key(&mut counter);
        assert_eq!(runtime.block_on(store.record(key, ttl)), Ok(Seen::First));
        assert_eq!(runtime.block_on(store.record(key, ttl)), Ok(Seen::Before));
        // One request's insert, awaited: a round trip to the local server.
        group.bench_function("redis_record", |b| {
            b.iter(|| {
                let seen = runtime.block_on(store.record(next_key(&mut counter), ttl));
                assert_eq!(seen, Ok(Seen::First));
            })
        });
        drop(redis);
    }
    group.finish();
}

/// The target's ratio measured so that load drift on a shared machine cancels out: the
/// raw verify and the gate's DPoP decision take turns over the same fresh proofs, pool
/// after pool, and each total is compared. Printed, not a criterion result.
fn paired(_: &mut Criterion) {
    let issuer_key = TestKey::generate("bench-key", Algorithm::RS256);
    let client = DpopKey::generate(Algorithm::ES256);
    let token = bound_token(&issuer_key, &client, "248289761001");
    let validator = Validator::builder()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .jwks(json!({ "keys": [issuer_key.public_jwk()] }))
        .token_cache_size(DEFAULT_TOKEN_CACHE_SIZE)
        .build()
        .unwrap();
    let gate = Gate::new(validator).dpop(Dpop::new(PUBLIC).unwrap());
    let authorization = format!("DPoP {token}");
    let decide = |proof: &str| {
        let parts = RequestParts::new()
            .authorization([authorization.as_bytes()])
            .dpop([proof.as_bytes()])
            .method("GET")
            .target("/orders");
        match gate.decide(&parts) {
            Decision::Pending(pending) => ready(pending).unwrap().unwrap(),
            _ => unreachable!("a DPoP request always records its proof"),
        }
    };
    decide(&client.proof("GET", URI, &token));
    let (key, _, _) = raw_parts(&client.proof("GET", URI, &token));
    let (mut raw, mut gated) = (Duration::ZERO, Duration::ZERO);
    let rounds = 40;
    for round in 0..rounds {
        let proofs: Vec<String> = (0..POOL)
            .map(|_| client.proof("GET", URI, &token))
            .collect();
        let parts: Vec<(String, Vec<u8>)> = proofs
            .iter()
            .map(|p| {
                let (input, signature) = p.rsplit_once('.').unwrap();
                (input.to_owned(), B64.decode(signature).unwrap())
            })
            .collect();
        let time_raw = || {
            let start = Instant::now();
            for (input, signature) in &parts {
                key.verify_sig(black_box(input.as_bytes()), black_box(signature))
                    .unwrap();
            }
            start.elapsed()
        };
        let time_gate = || {
            let start = Instant::now();
            for proof in &proofs {
                black_box(decide(proof));
            }
            start.elapsed()
        };
        // Alternate which goes first.
        if round % 2 == 0 {
            raw += time_raw();
            gated += time_gate();
        } else {
            gated += time_gate();
            raw += time_raw();
        }
    }
    let n = f64::from(rounds) * POOL as f64;
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n;
    println!(
        "paired, {} fresh proofs: raw ES256 verify {:.1} us, gate DPoP decision (cached token) {:.1} us, ratio {:.2}",
        rounds as u64 * POOL,
        per(raw),
        per(gated),
        gated.as_secs_f64() / raw.as_secs_f64()
    );
}

criterion_group!(benches, paired, proofs, replay_stores);
criterion_main!(benches);
