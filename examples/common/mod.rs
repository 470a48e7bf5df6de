//! What the examples share: their environment contract and the embedded development
//! issuer. Both `axum_api` and `actix_api` follow exactly this contract. The `TOKENGATE_*`
//! variables are read by tokengate itself (`tokengate::config::Config::from_env`, whose
//! errors name the variable); only the defaults below that differ from the library's
//! (the embedded issuer, DPoP allowed) are the examples' own.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `TOKENGATE_ISSUER` | issuer URL; keys found by discovery | embedded dev issuer |
//! | `TOKENGATE_JWKS_URL` | explicit JWKS URL (skips discovery; needs the issuer too) | - |
//! | `TOKENGATE_AUDIENCE` | the audience this API answers to | required with an issuer |
//! | `TOKENGATE_LEEWAY_SECONDS` | clock skew tolerated on `exp` and `nbf` | 60 |
//! | `TOKENGATE_REFRESH_COOLDOWN_MS` | shortest time between key-set fetches | 30000 |
//! | `TOKENGATE_MIN_CACHE_TTL_MS` | lower clamp on a key set's lifetime | 60000 |
//! | `TOKENGATE_TOKEN_CACHE_SIZE` | verified tokens remembered (`0`: off) | 20000 |
//! | `TOKENGATE_CLIENT_ID`, `TOKENGATE_CLIENT_SECRET` | introspect opaque tokens as this client (JWTs still verified locally) | off |
//! | `TOKENGATE_INTROSPECTION_URL` | the introspection endpoint (else from discovery) | discovered |
//! | `TOKENGATE_INTROSPECTION_CACHE_MS` | how long an introspection answer is remembered | 60000 |
//! | `TOKENGATE_DPOP` | `off`, `allowed` (DPoP-bound tokens with proofs, and bearer tokens) or `required` (DPoP only) | `allowed` |
//! | `TOKENGATE_PUBLIC_URL` | the origin clients sign in DPoP proofs' `htu` | `http://{listening address}` |
//! | `TOKENGATE_DPOP_NONCE` | `1`: proofs must carry a server nonce (`use_dpop_nonce`, `DPoP-Nonce`); `0`: no nonces | `0` |
//! | `TOKENGATE_DPOP_REDIS_URL` | remember DPoP proofs' `jti`s in this Redis (`redis://host:port/`), shared by replicas, instead of in memory | in memory |
//! | `TOKENGATE_REQUIRE_KEYS` | `1`: refuse to start (exit 1, the cause on stderr) unless the keys load; `0`: start at once and fetch them in the background | `0` |
//! | `BIND_ADDR` | where to listen | 127.0.0.1:3000 |
//!
//! `TOKENGATE_ISSUER` may list several issuers, comma-separated: each token is routed by
//! its `iss` to that issuer's own keys (same audience and settings for all).
//!
//! Both examples serve `GET /health` (200 `ok`: the process is up) and `GET /ready` (200
//! `ready` once the keys are loaded, else 503 with the cause as text), outside the gate.

use tokengate::Validator;
use tokengate::config::{Config, DpopMode};
use tokengate::testing::{DEFAULT_AUDIENCE, MockIssuer};

/// The variables' prefix: `TOKENGATE_ISSUER`, ...
const PREFIX: &str = "TOKENGATE";

/// The validator and, when no issuer was configured, the embedded one serving it.
pub struct Setup {
    pub validator: Validator,
    pub bind_addr: String,
    /// Kept alive for as long as the API runs.
    pub dev_issuer: Option<MockIssuer>,
}

fn exit_with(message: &str) -> ! {
    eprintln!("configuration error: {message}");
    std::process::exit(2);
}

/// The `TOKENGATE_*` settings, read and checked by tokengate itself
/// ([`Config::from_env`]); exits with status 2 and the message naming the variable.
fn config() -> Config {
    let mut config = Config::from_env(PREFIX).unwrap_or_else(|e| exit_with(&e.to_string()));
    // The examples accept DPoP-bound tokens unless told otherwise.
    config.dpop.get_or_insert(DpopMode::Allowed);
    config
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
    let bind_addr = std::env::var("BIND_ADDR")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let mut config = config();
    let dev_issuer = if config.issuer.is_empty() && config.jwks_url.is_none() {
        if config.audience.is_empty() {
            config.audience.push(DEFAULT_AUDIENCE.to_owned());
        }
        let dev = MockIssuer::start_with(&config.audience[0], tokengate::Algorithm::RS256).await;
        config.issuer = vec![dev.issuer().to_owned()];
        Some(dev)
    } else {
        None
    };
    let validator = config.build().unwrap_or_else(|e| exit_with(&e.to_string()));
    if config.require_keys {
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

/// The answer of `GET /ready`: 200 `ready` once the keys are loaded, else 503 and the
/// cause as text (issuers and URLs, never a secret).
pub async fn readiness(validator: &Validator) -> (u16, String) {
    match validator.ready().await {
        Ok(()) => (200, "ready".to_owned()),
        Err(not_ready) => (503, format!("not ready: {not_ready}")),
    }
}

/// The DPoP settings of `TOKENGATE_DPOP` and `TOKENGATE_PUBLIC_URL` ([`Config::dpop`]),
/// for an API listening on `addr`; exits with a message on a bad value.
pub fn dpop(addr: std::net::SocketAddr) -> Option<tokengate::binding::dpop::Dpop> {
    config()
        .dpop(&format!("http://{addr}"))
        .unwrap_or_else(|e| exit_with(&e.to_string()))
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
