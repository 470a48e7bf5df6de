//! What the examples share: their environment contract and the embedded development
//! issuer. Both `axum_api` and `actix_api` follow exactly this contract.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `TOKENGATE_ISSUER` | issuer URL; keys found by discovery | embedded dev issuer |
//! | `TOKENGATE_JWKS_URL` | explicit JWKS URL (skips discovery; needs the issuer too) | - |
//! | `TOKENGATE_AUDIENCE` | the audience this API answers to | required with an issuer |
//! | `TOKENGATE_REFRESH_COOLDOWN_MS` | shortest time between key-set fetches | 30000 |
//! | `TOKENGATE_MIN_CACHE_TTL_MS` | lower clamp on a key set's lifetime | 60000 |
//! | `TOKENGATE_TOKEN_CACHE_SIZE` | verified tokens remembered (`0`: off) | 20000 |
//! | `TOKENGATE_CLIENT_ID`, `TOKENGATE_CLIENT_SECRET` | introspect opaque tokens as this client (JWTs still verified locally) | off |
//! | `TOKENGATE_INTROSPECTION_URL` | the introspection endpoint (else from discovery) | discovered |
//! | `TOKENGATE_INTROSPECTION_CACHE_MS` | how long an introspection answer is remembered | 60000 |
//! | `TOKENGATE_DPOP` | `off`, `allowed` (DPoP-bound tokens with proofs, and bearer tokens) or `required` (DPoP only) | `allowed` |
//! | `TOKENGATE_PUBLIC_URL` | the origin clients sign in DPoP proofs' `htu` | `http://{listening address}` |
//! | `TOKENGATE_DPOP_REDIS_URL` | remember DPoP proofs' `jti`s in Redis at this URL (`redis://host:port/`), shared by replicas | this process's memory |
//! | `TOKENGATE_REQUIRE_KEYS` | `1`: refuse to start (exit 1, the cause on stderr) unless the keys load; `0`: start at once and fetch them in the background | `0` |
//! | `BIND_ADDR` | where to listen | 127.0.0.1:3000 |
//!
//! `TOKENGATE_ISSUER` may list several issuers, comma-separated: each token is routed by
//! its `iss` to that issuer's own keys (same audience and settings for all).
//!
//! Both examples serve `GET /health` (200 `ok`: the process is up) and `GET /ready` (200
//! `ready` once the keys are loaded, else 503 with the cause as text), outside the gate.

use std::time::Duration;

use tokengate::testing::{DEFAULT_AUDIENCE, MockIssuer};
use tokengate::{TokenFormat, Validator, ValidatorBuilder};

/// The validator and, when no issuer was configured, the embedded one serving it.
pub struct Setup {
    pub validator: Validator,
    pub bind_addr: String,
    /// Kept alive for as long as the API runs.
    pub dev_issuer: Option<MockIssuer>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A duration variable in milliseconds; exits with a message if it is not a number.
fn millis(name: &str) -> Option<Duration> {
    let value = env(name)?;
    match value.parse::<u64>() {
        Ok(ms) => Some(Duration::from_millis(ms)),
        Err(_) => exit_with(&format!(
            "{name} must be a whole number of milliseconds, not {value:?}"
        )),
    }
}

fn exit_with(message: &str) -> ! {
    eprintln!("configuration error: {message}");
    std::process::exit(2);
}

/// Reads the environment, starting the development issuer if no issuer is configured.
/// Exits with status 2 and a message naming the setting on any configuration error.
pub async fn setup() -> Setup {
    // `RUST_LOG=tokengate=debug` shows every rejected token's precise reason.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let bind_addr = env("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let cooldown = millis("TOKENGATE_REFRESH_COOLDOWN_MS");
    let min_ttl = millis("TOKENGATE_MIN_CACHE_TTL_MS");
    let cache_size = env("TOKENGATE_TOKEN_CACHE_SIZE").map(|size| {
        size.parse::<u64>().unwrap_or_else(|_| {
            exit_with(&format!(
                "TOKENGATE_TOKEN_CACHE_SIZE must be a whole number, not {size:?}"
            ))
        })
    });
    let audience = env("TOKENGATE_AUDIENCE");
    let client = env("TOKENGATE_CLIENT_ID")
        .map(|id| (id, env("TOKENGATE_CLIENT_SECRET").unwrap_or_default()));
    let introspection_url = env("TOKENGATE_INTROSPECTION_URL");
    let introspection_ttl = millis("TOKENGATE_INTROSPECTION_CACHE_MS");
    if introspection_url.is_some() && client.is_none() {
        exit_with(
            "TOKENGATE_INTROSPECTION_URL needs TOKENGATE_CLIENT_ID (and TOKENGATE_CLIENT_SECRET)",
        );
    }
    // The settings every issuer shares.
    let configure = |mut builder: ValidatorBuilder| {
        if let Some(cooldown) = cooldown {
            builder = builder.refresh_cooldown(cooldown);
        }
        if let Some(ttl) = min_ttl {
            builder = builder.min_cache_ttl(ttl);
        }
        if let Some(size) = cache_size {
            builder = builder.token_cache_size(size);
        }
        if let Some(audience) = &audience {
            builder = builder.audience(audience);
        }
        if let Some((id, secret)) = &client {
            // Opaque tokens are introspected; JWTs are still verified locally.
            builder = builder
                .introspection(id, secret)
                .token_format(TokenFormat::JwtOrOpaque);
            if let Some(url) = &introspection_url {
                builder = builder.introspection_endpoint(url);
            }
            if let Some(ttl) = introspection_ttl {
                builder = builder.introspection_cache_ttl(ttl);
            }
        }
        builder
    };
    let build = |builder: ValidatorBuilder| {
        builder
            .build()
            .unwrap_or_else(|e| exit_with(&e.to_string()))
    };
    let issuers: Vec<String> = env("TOKENGATE_ISSUER")
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let jwks_url = env("TOKENGATE_JWKS_URL");
    let (validator, dev_issuer) = if issuers.is_empty() && jwks_url.is_none() {
        let audience = audience
            .clone()
            .unwrap_or_else(|| DEFAULT_AUDIENCE.to_owned());
        let dev = MockIssuer::start_with(&audience, tokengate::Algorithm::RS256).await;
        let builder = configure(
            Validator::builder()
                .issuer(dev.issuer())
                .audience(&audience),
        );
        (build(builder), Some(dev))
    } else if issuers.len() > 1 {
        if jwks_url.is_some() || client.is_some() {
            // An opaque token names no issuer: introspection asks one.
            exit_with(
                "TOKENGATE_JWKS_URL and introspection (TOKENGATE_CLIENT_ID) need a single TOKENGATE_ISSUER",
            );
        }
        let each = issuers
            .iter()
            .map(|issuer| build(configure(Validator::builder().issuer(issuer))));
        let all = Validator::any_of(each).unwrap_or_else(|e| exit_with(&e.to_string()));
        (all, None)
    } else {
        let mut builder = configure(Validator::builder());
        if let Some(issuer) = issuers.first() {
            builder = builder.issuer(issuer);
        }
        if let Some(url) = jwks_url {
            builder = builder.jwks_url(url);
        }
        (build(builder), None)
    };
    if require_keys() {
        // Asked to refuse to start without keys: a wrong issuer fails here, named,
        // instead of answering 503 to every request.
        if let Err(not_ready) = validator.ready().await {
            eprintln!("not ready: {not_ready}");
            std::process::exit(1);
        }
    } else {
        // Like Envoy's async_fetch: listen at once, load the keys in the background (a
        // failure is logged and retried; /ready says why meanwhile).
        let warm = validator.clone();
        tokio::spawn(async move { warm.ready().await });
    }
    Setup {
        validator,
        bind_addr,
        dev_issuer,
    }
}

/// `TOKENGATE_REQUIRE_KEYS`: `1` to refuse to start without keys; exits on another value.
fn require_keys() -> bool {
    match env("TOKENGATE_REQUIRE_KEYS").as_deref() {
        None | Some("0") => false,
        Some("1") => true,
        Some(other) => exit_with(&format!(
            "TOKENGATE_REQUIRE_KEYS must be 0 or 1, not {other:?}"
        )),
    }
}

/// The answer of `GET /ready`: 200 `ready` once the keys are loaded, else 503 and the
/// cause as text (issuers and URLs, never a secret).
pub async fn readiness(validator: &Validator) -> (u16, String) {
    match validator.ready().await {
        Ok(()) => (200, "ready".to_owned()),
        Err(not_ready) => (503, format!("not ready: {not_ready}")),
    }
}

/// The DPoP settings of `TOKENGATE_DPOP`, `TOKENGATE_PUBLIC_URL` and
/// `TOKENGATE_DPOP_REDIS_URL`, for an API listening on `addr`; exits with a message on a
/// bad value. Must be called inside the tokio runtime (the Redis store connects lazily).
pub fn dpop(addr: std::net::SocketAddr) -> Option<tokengate::binding::dpop::Dpop> {
    let mode = env("TOKENGATE_DPOP").unwrap_or_else(|| "allowed".to_owned());
    let public = env("TOKENGATE_PUBLIC_URL").unwrap_or_else(|| format!("http://{addr}"));
    let redis = env("TOKENGATE_DPOP_REDIS_URL");
    let dpop = || {
        let dpop = tokengate::binding::dpop::Dpop::new(&public)
            .unwrap_or_else(|e| exit_with(&format!("TOKENGATE_PUBLIC_URL: {e}")));
        match &redis {
            // A proof replayed against another replica sharing this Redis is refused too.
            Some(url) => dpop.replay_store(
                tokengate::binding::redis::RedisReplayStore::connect(url)
                    .unwrap_or_else(|e| exit_with(&format!("TOKENGATE_DPOP_REDIS_URL: {e}"))),
            ),
            None => dpop,
        }
    };
    match mode.as_str() {
        "off" => None,
        "allowed" => Some(dpop()),
        "required" => Some(dpop().required()),
        other => exit_with(&format!(
            "TOKENGATE_DPOP must be off, allowed or required, not {other:?}"
        )),
    }
}

/// Prints where the API listens and, with the development issuer, ready tokens.
pub fn announce(setup: &Setup, addr: std::net::SocketAddr) {
    println!("listening on http://{addr}");
    let Some(dev) = &setup.dev_issuer else {
        println!("validating tokens from {}", setup.validator.issuer());
        return;
    };
    let user = dev.token().subject("dev-user").scope("read").sign();
    let admin = dev.token().subject("dev-admin").scope("read admin").sign();
    println!();
    println!(
        "DEVELOPMENT ISSUER at {} (fresh key each run; never use in production)",
        dev.issuer()
    );
    println!();
    println!("token for /me (scope \"read\"):\n{user}\n");
    println!("token with scope \"admin\":\n{admin}\n");
    println!("try:");
    println!("  curl -i http://{addr}/health");
    println!("  curl -i http://{addr}/ready");
    println!("  curl -i http://{addr}/me");
    println!("  curl -i -H 'Authorization: Bearer {user}' http://{addr}/me");
    println!("  curl -i -H 'Authorization: Bearer {user}' http://{addr}/admin");
    println!("  curl -i -H 'Authorization: Bearer {admin}' http://{addr}/admin");
}
