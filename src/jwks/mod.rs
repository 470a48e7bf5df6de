//! Where verification keys come from: discovery, fetching, and the key cache.
//!
//! The cache answers a known `kid` from memory: a read lock held for one `Arc` clone, no
//! I/O. An unknown `kid` (or no key set yet) triggers a refetch that is
//! - **single-flight**: concurrent requests wait on one fetch instead of starting their own;
//! - **rate-limited**: at most one fetch attempt per cooldown, whatever the traffic, so a
//!   flood of tokens with made-up `kid`s cannot hammer the issuer;
//! - **fail-safe**: a failed fetch keeps the keys we had (stale-if-error).
//!
//! While no key set was ever fetched, every token is answered with
//! [`Error::KeysUnavailable`] (503); the next fetch after the cooldown recovers without a
//! restart.

mod discovery;
mod fetch;
mod key_set;

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use jsonwebtoken::Algorithm;
use reqwest::Url;
use tokio::time::Instant;

pub use key_set::{MAX_RSA_BITS, MIN_RSA_BITS};

pub(crate) use fetch::{FetchLimits, scheme_allowed};
pub(crate) use key_set::{KeySet, Lookup, VerifyingKey};

use crate::error::{Error, InvalidToken};
use fetch::FetchError;

/// Where the JWKS is found.
#[derive(Debug, Clone)]
pub(crate) enum KeySource {
    /// Discovery from the issuer URL, then its `jwks_uri`.
    Discovery { issuer: String },
    /// A JWKS URL given explicitly.
    JwksUrl(Url),
}

/// The settings of a [`KeyCache`].
#[derive(Debug, Clone)]
pub(crate) struct KeyCacheConfig {
    pub(crate) source: KeySource,
    pub(crate) client: reqwest::Client,
    pub(crate) limits: FetchLimits,
    pub(crate) cooldown: Duration,
    pub(crate) max_keys: usize,
    pub(crate) allow_http: bool,
}

/// The current key set and the machinery to refresh it.
#[derive(Debug)]
pub(crate) struct KeyCache {
    config: KeyCacheConfig,
    /// The last good key set. Held only to clone or replace the `Arc`: never across I/O.
    current: RwLock<Option<Arc<KeySet>>>,
    /// When the last fetch was attempted: checked without waiting on a fetch in flight.
    last_attempt: Mutex<Option<Instant>>,
    /// Held for the duration of a fetch: the single flight.
    refresh: tokio::sync::Mutex<RefreshState>,
}

#[derive(Debug, Default)]
struct RefreshState {
    /// The discovered `jwks_uri`, once known.
    jwks_uri: Option<Url>,
    /// Whether the last fetch failed: we log state changes, not every failure.
    failing: bool,
}

impl KeyCache {
    pub(crate) fn new(config: KeyCacheConfig) -> Self {
        let jwks_uri = match &config.source {
            KeySource::JwksUrl(url) => Some(url.clone()),
            KeySource::Discovery { .. } => None,
        };
        KeyCache {
            config,
            current: RwLock::new(None),
            last_attempt: Mutex::new(None),
            refresh: tokio::sync::Mutex::new(RefreshState {
                jwks_uri,
                failing: false,
            }),
        }
    }

    fn current(&self) -> Option<Arc<KeySet>> {
        // A poisoned lock only means a panic elsewhere while cloning an Arc; the data is fine.
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The key to verify a token with this `kid` and `alg`, refetching at most once per
    /// cooldown when the `kid` is unknown.
    pub(crate) async fn key_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<VerifyingKey>, Error> {
        let seen = self.current();
        if let Some(set) = &seen {
            match set.lookup(kid, alg) {
                Lookup::Found(key) => return Ok(key),
                Lookup::Mismatch => return Err(InvalidToken::KeyAlgorithmMismatch.into()),
                Lookup::Ambiguous => return Err(InvalidToken::AmbiguousKey.into()),
                Lookup::UnknownKid => {}
            }
        }
        let set = self.refresh(seen.as_ref()).await?;
        match set.lookup(kid, alg) {
            Lookup::Found(key) => Ok(key),
            Lookup::Mismatch => Err(InvalidToken::KeyAlgorithmMismatch.into()),
            Lookup::Ambiguous => Err(InvalidToken::AmbiguousKey.into()),
            Lookup::UnknownKid => Err(InvalidToken::UnknownKey.into()),
        }
    }

    /// Fetches the key set now unless the cooldown forbids it; for warming up at start.
    pub(crate) async fn prefetch(&self) -> Result<(), Error> {
        let seen = self.current();
        self.refresh(seen.as_ref()).await.map(drop)
    }

    /// Time left before another fetch may start, or `None` if one may start now.
    fn cooling(&self) -> Option<Duration> {
        let last = *self.last_attempt.lock().unwrap_or_else(|e| e.into_inner());
        let left = self.config.cooldown.checked_sub(last?.elapsed())?;
        (!left.is_zero()).then_some(left)
    }

    /// A newer key set than `seen`: fetched now, or by a concurrent request, or the current
    /// one when the cooldown forbids a fetch or the fetch fails.
    async fn refresh(&self, seen: Option<&Arc<KeySet>>) -> Result<Arc<KeySet>, Error> {
        let unavailable = |left: Duration| Error::KeysUnavailable { retry_after: left };
        // Under a flood, most requests stop here: cooling down and no fetch in flight.
        // When a fetch is in flight, wait for it instead: its result may be what we need.
        if let Some(left) = self.cooling() {
            if self.refresh.try_lock().is_ok() {
                tracing::trace!("key refresh skipped: cooling down");
                return self.current().ok_or(unavailable(left));
            }
        }
        let mut state = self.refresh.lock().await;
        let current = self.current();
        // A concurrent request refreshed while we waited for the lock: use its result.
        let changed = match (&current, seen) {
            (Some(now), Some(before)) => !Arc::ptr_eq(now, before),
            (Some(_), None) => true,
            _ => false,
        };
        if changed {
            return Ok(current.expect("changed implies a current set"));
        }
        if let Some(left) = self.cooling() {
            return current.ok_or(unavailable(left));
        }
        *self.last_attempt.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());

        match self.fetch(&mut state).await {
            Ok(set) => {
                if state.failing {
                    tracing::info!("key set fetch recovered");
                }
                state.failing = false;
                tracing::debug!(keys = set.len(), "key set fetched");
                let set = Arc::new(set);
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(set.clone());
                Ok(set)
            }
            Err(error) => {
                if !state.failing {
                    tracing::warn!(%error, "key set fetch failed; keeping the last good keys");
                }
                state.failing = true;
                current.ok_or(unavailable(self.config.cooldown))
            }
        }
    }

    /// One fetch attempt: discovery if needed, then the JWKS.
    async fn fetch(&self, state: &mut RefreshState) -> Result<KeySet, FetchError> {
        let config = &self.config;
        let url = match (&state.jwks_uri, &config.source) {
            (Some(url), _) => url.clone(),
            (None, KeySource::Discovery { issuer }) => {
                let url = discovery::discover_jwks_uri(
                    &config.client,
                    issuer,
                    &config.limits,
                    config.allow_http,
                )
                .await?;
                state.jwks_uri = Some(url.clone());
                url
            }
            (None, KeySource::JwksUrl(url)) => url.clone(),
        };
        let result = fetch::fetch_json(&config.client, &url, &config.limits).await;
        if matches!(result, Err(FetchError::Status(404 | 410)))
            && matches!(config.source, KeySource::Discovery { .. })
        {
            // The issuer may have moved its JWKS: discover again on the next attempt.
            state.jwks_uri = None;
        }
        KeySet::from_json(&result?, config.max_keys).map_err(FetchError::Invalid)
    }
}
