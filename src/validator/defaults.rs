//! Every default of [`ValidatorBuilder`](crate::ValidatorBuilder), named, each with the
//! reason for its value. Also re-exported at the crate root (`tokengate::DEFAULT_LEEWAY`).
//!
//! ```
//! use std::time::Duration;
//! use tokengate::defaults;
//!
//! // Twice the default leeway, for a fleet whose clocks are known to drift.
//! let validator = tokengate::Validator::builder()
//!     .issuer("https://login.example.com")
//!     .audience("https://api.example.com")
//!     .leeway(defaults::DEFAULT_LEEWAY * 2)
//!     .build()
//!     .unwrap();
//! # let _ = validator;
//! assert_eq!(defaults::DEFAULT_LEEWAY, Duration::from_secs(60));
//! ```

use std::time::Duration;

/// RFC 8725 and most issuers: clocks drift; one minute is the common tolerance.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
/// The shortest time between two key-set fetches: bounds what a flood of unknown `kid`s
/// can cost the issuer (one request per 30 s), while a rotated key is picked up quickly.
pub const DEFAULT_REFRESH_COOLDOWN: Duration = Duration::from_secs(30);
/// A hung issuer must not hold requests for long; 5 s is ample for a JWKS.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Real JWK Sets are a few KiB; 512 KiB leaves room for large sets and stops a hostile
/// or broken endpoint from exhausting memory.
pub const DEFAULT_MAX_JWKS_BYTES: usize = 512 * 1024;
/// Access tokens are 1-4 KiB; 16 KiB allows fat claim sets and refuses junk before any
/// base64 or JSON work.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;
/// RFC 9111 lifetimes below a minute would turn a chatty issuer into a fetch per request.
pub const DEFAULT_MIN_CACHE_TTL: Duration = Duration::from_secs(60);
/// A key set older than a day risks trusting a key the issuer revoked long ago.
pub const DEFAULT_MAX_CACHE_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// When the issuer sends no caching headers: rotation is noticed within ten minutes, at
/// one small conditional request per ten minutes.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(10 * 60);
/// After repeated failures, retries back off up to this: an outage is not made worse by
/// every API instance retrying every cooldown, and recovery is noticed within minutes.
pub const DEFAULT_MAX_RETRY_BACKOFF: Duration = Duration::from_secs(5 * 60);
/// Verified tokens remembered, so a repeat costs a hash and a lookup instead of a
/// signature check. Each entry holds the token's claims and its signing input (about
/// 2.7 KB for a typical 1.4 KB token, as `bench/http.sh` measures it), so the default
/// bounds the cache to roughly 52 MiB.
pub const DEFAULT_TOKEN_CACHE_SIZE: u64 = 20_000;
/// How long a verified token is trusted without re-verification (never beyond its `exp`):
/// short enough that a configuration or clock surprise heals by itself.
pub const DEFAULT_TOKEN_CACHE_TTL: Duration = Duration::from_secs(5 * 60);
/// RFC 7662 answers are remembered this long at most (and never past the token's `exp`):
/// a revoked opaque token is refused within a minute, at one request per token per minute.
pub const DEFAULT_INTROSPECTION_CACHE_TTL: Duration = Duration::from_secs(60);
/// Introspection requests in flight at once, per validator: enough for a burst of new
/// users, while a flood of made-up opaque tokens waits its turn instead of opening a
/// connection to the issuer per token.
pub const DEFAULT_MAX_CONCURRENT_INTROSPECTIONS: usize = 16;
/// Issuers publish two or three keys, some hundreds; the bound that binds first is the
/// body cap ([`DEFAULT_MAX_JWKS_BYTES`]), which fits at most about 6,500 of the smallest
/// JWKs (Ed25519 without `kid`), so this cap never drops a key of a set the body cap
/// admits. Parsing a full 512 KiB set costs about 6 ms (P-256, the worst case) in
/// release builds. Lookups are by `kid`, so a large set does not slow verification.
pub const DEFAULT_MAX_KEYS: usize = 10_000;
