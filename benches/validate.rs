//! Per-token validation cost, each beside the raw aws-lc-rs verify of the same token with
//! a pre-parsed key (the floor: no JWT library can verify for less). `bench/ratios.py`
//! prints the ratios from criterion's results:
//!
//! ```sh
//! cargo bench --bench validate && python3 bench/ratios.py
//! ```

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use tokengate::testing::{TestKey, alg_name};
use tokengate::{Algorithm, DEFAULT_TOKEN_CACHE_SIZE, Validator, bearer};

const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "https://api.example";

/// Polls a future that never waits (keys are pinned, so validation is synchronous).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("validation waited on I/O"),
    }
}

/// A realistic access token of about 1.2 KB: RFC 9068 claims plus some extras.
fn mint(key: &TestKey) -> String {
    mint_for(key, "248289761001")
}

/// The same token for another subject (a different token of the same size).
fn mint_for(key: &TestKey, subject: &str) -> String {
    let claims = json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": subject, "client_id": "s6BhdRkqt3",
        "exp": 4_000_000_000u64, "iat": 1_700_000_000u64, "jti": "dbe39bf3a3ba4238a513f51d6e1691c4",
        "scope": "openid profile email read:orders write:orders admin",
        "auth_time": 1_700_000_000u64, "acr": "urn:mace:incommon:iap:silver",
        "groups": ["engineering", "on-call", "payments", "platform"],
        "tenant": "acme-corporation", "name": "Jane Doe", "email": "jane.doe@example.com",
    });
    key.mint_with_header(&json!({"typ": "at+jwt"}), &claims)
}

fn parsed_key(key: &TestKey) -> ParsedPublicKey {
    let jwk = key.public_jwk();
    let field = |name: &str| B64.decode(jwk[name].as_str().unwrap()).unwrap();
    match key.alg() {
        Algorithm::RS256 => RsaPublicKeyComponents {
            n: field("n"),
            e: field("e"),
        }
        .to_parsed_public_key(&sig::RSA_PKCS1_2048_8192_SHA256)
        .unwrap(),
        Algorithm::PS256 => RsaPublicKeyComponents {
            n: field("n"),
            e: field("e"),
        }
        .to_parsed_public_key(&sig::RSA_PSS_2048_8192_SHA256)
        .unwrap(),
        Algorithm::ES256 => {
            let point = [vec![4], field("x"), field("y")].concat();
            ParsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point).unwrap()
        }
        Algorithm::EdDSA => ParsedPublicKey::new(&sig::ED25519, field("x")).unwrap(),
        other => panic!("no bench for {other:?}"),
    }
}

fn validator(key: &TestKey, token_cache: bool) -> Validator {
    validator_for(ISSUER, json!({ "keys": [key.public_jwk()] }), token_cache)
}

/// A validator with pinned keys: the token cache at its default size, or off.
fn validator_for(issuer: &str, jwks: Value, token_cache: bool) -> Validator {
    Validator::builder()
        .issuer(issuer)
        .audience(AUDIENCE)
        .jwks(jwks)
        .token_cache_size(if token_cache {
            DEFAULT_TOKEN_CACHE_SIZE
        } else {
            0
        })
        .build()
        .unwrap()
}

fn bench_algorithm(c: &mut Criterion, alg: Algorithm) {
    let key = TestKey::generate("bench-key", alg);
    let token = mint(&key);
    let name = alg_name(alg).to_lowercase();
    let mut group = c.benchmark_group(&name);

    let parsed = parsed_key(&key);
    let (input, signature) = token.rsplit_once('.').unwrap();
    let signature = B64.decode(signature).unwrap();
    group.bench_function("raw_verify", |b| {
        b.iter(|| {
            parsed
                .verify_sig(black_box(input.as_bytes()), black_box(&signature))
                .unwrap()
        })
    });

    let uncached = validator(&key, false);
    assert!(ready(uncached.validate(&token)).is_ok());
    group.bench_function("validate", |b| {
        b.iter(|| ready(uncached.validate(black_box(&token))).unwrap())
    });

    let cached = validator(&key, true);
    assert!(ready(cached.validate(&token)).is_ok());
    group.bench_function("cache_hit", |b| {
        b.iter(|| ready(cached.validate(black_box(&token))).unwrap())
    });

    if alg == Algorithm::RS256 {
        // What hand-rolled code and jwt-authorizer do: jsonwebtoken::decode with a
        // DecodingKey built once from the JWK.
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.public_jwk()).unwrap();
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(alg.as_str().parse().unwrap());
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        group.bench_function("jsonwebtoken_decode", |b| {
            b.iter(|| {
                jsonwebtoken::decode::<Value>(black_box(&token), &decoding, &validation).unwrap()
            })
        });
    }
    group.finish();
}

fn algorithms(c: &mut Criterion) {
    for alg in [
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ] {
        bench_algorithm(c, alg);
    }
}

/// The hit path with 64 keys in the set, with 10 issuers, and from two threads at once.
fn scale(c: &mut Criterion) {
    let key = TestKey::generate("bench-key", Algorithm::RS256);
    let token = mint(&key);
    let mut keys: Vec<Value> = (0..63)
        .map(|i| TestKey::generate(format!("decoy-{i}"), Algorithm::ES256).public_jwk())
        .collect();
    keys.push(key.public_jwk());
    let build = |cache: bool| validator_for(ISSUER, json!({ "keys": keys }), cache);
    let mut group = c.benchmark_group("scale");
    let uncached = build(false);
    group.bench_function("validate_64_keys", |b| {
        b.iter(|| ready(uncached.validate(black_box(&token))).unwrap())
    });
    let cached = build(true);
    assert!(ready(cached.validate(&token)).is_ok());
    group.bench_function("cache_hit_64_keys", |b| {
        b.iter(|| ready(cached.validate(black_box(&token))).unwrap())
    });
    // Ten issuers (any_of): the token's issuer is one of them, each with its own key.
    let tenants = |cache: bool| {
        let mut members = vec![validator(&key, cache)];
        for i in 0..9 {
            let other = TestKey::generate(format!("tenant-{i}"), Algorithm::RS256);
            let jwks = json!({ "keys": [other.public_jwk()] });
            members.push(validator_for(
                &format!("https://tenant-{i}.example"),
                jwks,
                cache,
            ));
        }
        Validator::any_of(members).unwrap()
    };
    let uncached_tenants = tenants(false);
    group.bench_function("validate_10_issuers", |b| {
        b.iter(|| ready(uncached_tenants.validate(black_box(&token))).unwrap())
    });
    let cached_tenants = tenants(true);
    assert!(ready(cached_tenants.validate(&token)).is_ok());
    group.bench_function("cache_hit_10_issuers", |b| {
        b.iter(|| ready(cached_tenants.validate(black_box(&token))).unwrap())
    });
    // Wall time per hit with two threads hitting together: half the one-thread time means
    // no contention (on a 2-core machine). Both threads on one token (its entry's
    // reference counts shared), then each on its own token (only the cache shared).
    let own = mint_for(&key, "248289761002");
    assert!(ready(cached.validate(&own)).is_ok());
    for (name, tokens) in [
        ("cache_hit_2_threads", [&token, &token]),
        ("cache_hit_2_threads_2_tokens", [&token, &own]),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let start = std::time::Instant::now();
                std::thread::scope(|s| {
                    for token in tokens {
                        let cached = &cached;
                        s.spawn(move || {
                            for _ in 0..iters / 2 {
                                ready(cached.validate(black_box(token))).unwrap();
                            }
                        });
                    }
                });
                start.elapsed()
            })
        });
    }
    group.finish();
}

fn bearer_parsing(c: &mut Criterion) {
    let key = TestKey::generate("bench-key", Algorithm::RS256);
    let header = format!("Bearer {}", mint(&key));
    let mut group = c.benchmark_group("bearer");
    group.bench_function("extract", |b| {
        b.iter(|| bearer::extract([black_box(header.as_bytes())]).unwrap())
    });
    group.finish();
}

/// The per-request decision on a token-cache hit: what the adapters did before the gate
/// (bearer extraction and `try_validate`), beside `Gate::decide` without and with DPoP
/// allowed, for the same bearer token.
fn gate_decision(c: &mut Criterion) {
    use tokengate::gate::{Decision, Gate};
    use tokengate::request::RequestParts;
    let key = TestKey::generate("bench-key", Algorithm::RS256);
    let header = format!("Bearer {}", mint(&key));
    let cached = validator(&key, true);
    let token = header.strip_prefix("Bearer ").unwrap();
    assert!(ready(cached.validate(token)).is_ok());
    let mut group = c.benchmark_group("gate");
    group.bench_function("extract_and_try_validate", |b| {
        b.iter(|| {
            let token = bearer::extract([black_box(header.as_bytes())])
                .unwrap()
                .unwrap();
            cached.try_validate(token).unwrap().unwrap()
        })
    });
    let dpop = tokengate::binding::dpop::Dpop::new("https://api.example.com").unwrap();
    for (name, gate) in [
        ("decide", Gate::new(cached.clone())),
        ("decide_dpop_allowed", Gate::new(cached.clone()).dpop(dpop)),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let parts = RequestParts::new()
                    .authorization([black_box(header.as_bytes())])
                    .dpop(std::iter::empty())
                    .method("GET")
                    .target("/admin");
                match gate.decide(&parts) {
                    Decision::Pass(claims) => claims,
                    _ => unreachable!("a cached valid token passes"),
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, algorithms, scale, bearer_parsing, gate_decision);
criterion_main!(benches);
