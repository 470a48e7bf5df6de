//! Where verification keys come from: discovery, fetching, and the key cache.
//!
//! # The cache policy
//!
//! - **Hits cost no I/O.** A known `kid` is answered from memory: a read lock held for one
//!   `Arc` clone, never across I/O.
//! - **Freshness follows HTTP caching** (RFC 9111): `Cache-Control: max-age` (minus `Age`),
//!   `no-cache`/`no-store`, or `Expires` on the JWKS response, clamped to
//!   [`min_cache_ttl`, `max_cache_ttl`], [`DEFAULT_CACHE_TTL`](crate::DEFAULT_CACHE_TTL)
//!   when the issuer says nothing. Refreshes are conditional (`If-None-Match`,
//!   `If-Modified-Since`); a `304` renews the lifetime without re-parsing keys.
//! - **Refresh ahead, in the background.** Once 80 % of the lifetime has passed, a timer
//!   task (one per cache, holding it weakly) refreshes the set without waiting for a
//!   request, and the next request would start one too; requests are served from memory
//!   meanwhile, as is every request after the set goes stale. No request in steady state
//!   waits on the network.
//! - **A request waits for a fetch only** when its `kid` is unknown (and the fetch budget
//!   allows one) or when no key set was ever fetched; concurrent waiters share one fetch
//!   (single flight).
//! - **One fetch budget.** Every fetch — background refresh, unknown-`kid` refetch, retry
//!   after a failure — needs the cooldown to have passed since the last attempt. After
//!   failures the wait grows exponentially (with jitter) up to
//!   [`DEFAULT_MAX_RETRY_BACKOFF`](crate::DEFAULT_MAX_RETRY_BACKOFF). A flood of made-up
//!   `kid`s therefore costs the issuer at most one request per cooldown, and a `kid` found
//!   unknown is remembered for a cooldown so that repeats cost a hash lookup.
//! - **A dropped caller changes nothing.** The budget is charged before a fetch starts and
//!   the fetch runs on a task of its own, so a client that hangs up mid-fetch neither
//!   re-opens the budget nor cancels the fetch.
//! - **Stale if error.** A failed fetch keeps the last good keys, however old (a JWKS
//!   that parses but holds no usable signature key is a failed fetch); failures
//!   and recoveries are logged once per change of state (or of cause), not per request,
//!   each naming the `issuer` and the `url`.
//! - **503 only before the first success.** While no key set was ever fetched, tokens get
//!   [`Error::IssuerUnavailable`](crate::Error::IssuerUnavailable) with the time until the next attempt (`Retry-After`); the
//!   first successful fetch recovers without a restart.

mod cache;
mod fetch_error;
mod key_set;
mod refresh;
mod stats;

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

pub use fetch_error::KeyFetchError;
pub use key_set::{MAX_RSA_BITS, MIN_RSA_BITS};
pub use stats::KeySetStats;

pub(crate) use cache::KeyCache;
pub(crate) use key_set::{KeySet, Lookup, MAX_KID_BYTES, parse_jwk};

use crate::http::{FetchLimits, TtlBounds};

/// Where the JWKS is found.
#[derive(Debug, Clone)]
pub(crate) enum KeySource {
    /// Discovery from the metadata of `at` (the issuer URL, unless configured
    /// otherwise), whose `issuer` must be `issuer`, then its `jwks_uri`.
    Discovery { issuer: String, at: String },
    /// A JWKS URL given explicitly.
    JwksUrl(Url),
    /// Keys pinned in configuration: never fetched, never refreshed.
    Static(Arc<KeySet>),
}

/// The settings of a [`KeyCache`].
#[derive(Debug, Clone)]
pub(crate) struct KeyCacheConfig {
    pub(crate) source: KeySource,
    pub(crate) client: reqwest::Client,
    pub(crate) limits: FetchLimits,
    pub(crate) cooldown: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) ttl: TtlBounds,
    pub(crate) max_keys: usize,
    pub(crate) allow_http: bool,
    /// The issuer these keys verify for: named in every log line about them.
    pub(crate) issuer: String,
}
