//! [`KeyCache`]: the current key set, and the lookups that answer from memory.
//!
//! Fetching, refreshing and the fetch budget are in `refresh.rs`; the policy they follow
//! is described in the module docs of [`crate::jwks`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_utils::sync::ShardedLock;
use reqwest::Url;
use tokio::time::Instant;

use super::fetch_error::KeyFetchError;
use super::key_set::log_cap;
use super::stats::{Counters, KeySetStats};
use super::{KeyCacheConfig, KeySet, KeySource, Lookup, MAX_KID_BYTES};
use crate::alg::Algorithm;
use crate::error::{Error, InvalidToken};
use crate::http::Conditional;
use crate::verify::VerifyingKey;

/// One fetched key set and its freshness.
#[derive(Debug)]
pub(super) struct Cached {
    pub(super) set: Arc<KeySet>,
    pub(super) fetched_at: Instant,
    /// When a background refresh should start.
    pub(super) refresh_at: Instant,
    /// Validators for the next conditional request.
    pub(super) conditional: Conditional,
}

/// The fetch budget: when the next attempt may start.
#[derive(Debug, Default)]
pub(super) struct Budget {
    pub(super) next_allowed: Option<Instant>,
    pub(super) consecutive_failures: u32,
}

/// The current key set and the machinery to refresh it.
#[derive(Debug)]
pub(crate) struct KeyCache {
    pub(super) config: KeyCacheConfig,
    /// The last good key set. Held only to read, clone or replace the `Arc`: never across
    /// I/O. Read on every request, replaced on a refresh: a reader locks only its own
    /// thread's part of the lock, so readers on several cores share no written line.
    pub(super) current: ShardedLock<Option<Arc<Cached>>>,
    /// Checked without waiting on a fetch in flight.
    pub(super) budget: Mutex<Budget>,
    /// Held for the duration of a fetch: the single flight. Shared with the task that
    /// runs the fetch, which outlives a caller that goes away.
    pub(super) refresh: Arc<tokio::sync::Mutex<RefreshState>>,
    /// A background refresh is scheduled or running.
    pub(super) background: AtomicBool,
    /// The refresh timer task is running (at most one per cache).
    pub(super) timer: AtomicBool,
    /// The last fetched set hit `max_keys` (a warning is logged on each change).
    pub(super) capped: AtomicBool,
    /// `kid`s recently found unknown after a fetch (or while fetching was not allowed).
    pub(super) unknown_kids: moka::sync::Cache<String, ()>,
    pub(super) counters: Counters,
    pub(super) failing: AtomicBool,
    /// Why the last attempt failed (`None` after a success): what readiness reports.
    pub(super) last_error: Mutex<Option<KeyFetchError>>,
}

#[derive(Debug, Default)]
pub(super) struct RefreshState {
    /// The discovered `jwks_uri` and when discovery should run again.
    pub(super) jwks_uri: Option<(Url, Option<Instant>)>,
}

/// Kept bounded: a flood of distinct junk `kid`s must not grow memory without limit.
pub(super) const UNKNOWN_KID_CAPACITY: u64 = 10_000;
/// Start the background refresh when this fraction of the lifetime is left.
pub(super) const REFRESH_AHEAD_DIVISOR: u32 = 5;
/// The refresh timer never wakes more often than this, whatever the cooldown (which may
/// be zero) and the issuer's caching headers say.
pub(super) const TIMER_MIN_INTERVAL: Duration = Duration::from_secs(1);

impl KeyCache {
    pub(crate) fn new(config: KeyCacheConfig) -> Self {
        let jwks_uri = match &config.source {
            KeySource::JwksUrl(url) => Some((url.clone(), None)),
            KeySource::Discovery { .. } | KeySource::Static(_) => None,
        };
        let pinned = match &config.source {
            KeySource::Static(set) => Some(Arc::new(Cached {
                set: Arc::clone(set),
                fetched_at: Instant::now(),
                // Never due: a pinned set is never refreshed.
                refresh_at: Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600),
                conditional: Conditional::default(),
            })),
            _ => None,
        };
        if let KeySource::Static(set) = &config.source {
            log_cap(&config.issuer, set, config.max_keys);
        }
        let unknown_kids = moka::sync::Cache::builder()
            .max_capacity(UNKNOWN_KID_CAPACITY)
            .time_to_live(config.cooldown.max(Duration::from_millis(1)))
            .build();
        KeyCache {
            config,
            current: ShardedLock::new(pinned),
            budget: Mutex::new(Budget::default()),
            refresh: Arc::new(tokio::sync::Mutex::new(RefreshState { jwks_uri })),
            background: AtomicBool::new(false),
            timer: AtomicBool::new(false),
            capped: AtomicBool::new(false),
            unknown_kids,
            counters: Counters::default(),
            failing: AtomicBool::new(false),
            last_error: Mutex::new(None),
        }
    }

    pub(super) fn current(&self) -> Option<Arc<Cached>> {
        // A poisoned lock only means a panic elsewhere while cloning an Arc; the data is fine.
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The key for this `kid` and `alg` if it can be decided from memory: `None` when a
    /// fetch is needed (an unknown `kid` not recently seen, or no key set yet).
    ///
    /// A `kid` longer than [`MAX_KID_BYTES`] is refused here, before any lookup, fetch or
    /// memory of it: no published key has one (they are skipped when a set is parsed).
    pub(crate) fn key_now(
        self: &Arc<Self>,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Option<Result<Arc<VerifyingKey>, Error>> {
        if kid.is_some_and(|kid| kid.len() > MAX_KID_BYTES) {
            return Some(Err(InvalidToken::UnknownKey.into()));
        }
        let cached = self.current()?;
        self.refresh_ahead(&cached);
        match cached.set.lookup(kid, alg) {
            Lookup::Found(key) => Some(Ok(key)),
            Lookup::Mismatch => Some(Err(InvalidToken::KeyAlgorithmMismatch.into())),
            Lookup::Ambiguous => Some(Err(InvalidToken::AmbiguousKey.into())),
            Lookup::UnknownKid => {
                if kid.is_some_and(|kid| self.unknown_kids.contains_key(kid)) {
                    self.counters
                        .unknown_kid_hits
                        .fetch_add(1, Ordering::Relaxed);
                    return Some(Err(InvalidToken::UnknownKey.into()));
                }
                None
            }
        }
    }

    /// The key to verify a token with this `kid` and `alg`, fetching if needed.
    pub(crate) async fn key_for(
        self: &Arc<Self>,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<VerifyingKey>, Error> {
        if let Some(decided) = self.key_now(kid, alg) {
            return decided;
        }
        let seen = self.current();
        let cached = self.refresh(seen.as_ref()).await?;
        match cached.set.lookup(kid, alg) {
            Lookup::Found(key) => Ok(key),
            Lookup::Mismatch => Err(InvalidToken::KeyAlgorithmMismatch.into()),
            Lookup::Ambiguous => Err(InvalidToken::AmbiguousKey.into()),
            Lookup::UnknownKid => {
                if let Some(kid) = kid {
                    self.unknown_kids.insert(kid.to_owned(), ());
                }
                Err(InvalidToken::UnknownKey.into())
            }
        }
    }

    /// Whether `key` is still in the current set under `kid` (the very same key object:
    /// refreshes reuse the objects of unchanged keys, so a rotation or removal is seen).
    ///
    /// Token-cache hits come here instead of [`KeyCache::key_now`], so this also starts
    /// the background refresh when one is due: steady traffic of cached tokens must still
    /// notice rotations.
    pub(crate) fn still_published(
        self: &Arc<Self>,
        kid: Option<&str>,
        key: &Arc<VerifyingKey>,
    ) -> bool {
        // Read under the lock, without cloning the `Arc`: this runs on every cache hit,
        // and a clone is two atomic writes to a line every core shares. Only a due
        // refresh (rare) takes a clone, to start it once the lock is released.
        let (published, due) = {
            let current = self.current.read().unwrap_or_else(|e| e.into_inner());
            let Some(cached) = current.as_ref() else {
                return false;
            };
            let due = (Instant::now() >= cached.refresh_at).then(|| Arc::clone(cached));
            (cached.set.contains(kid, key), due)
        };
        if let Some(cached) = due {
            self.refresh_ahead(&cached);
        }
        published
    }

    /// Fetches the key set now unless the budget forbids it; for warming up at start.
    pub(crate) async fn prefetch(self: &Arc<Self>) -> Result<(), Error> {
        let seen = self.current();
        self.refresh(seen.as_ref()).await.map(drop)
    }

    /// `Ok` once a key set with a usable key is held (pinned, or fetched: however long
    /// ago, since stale keys still verify); else fetches it now, through the fetch
    /// budget and the single flight, and names why it cannot.
    ///
    /// A readiness probe calling this every second costs the issuer at most one request
    /// per cooldown (backoff after failures): between attempts it answers with the last
    /// attempt's cause.
    pub(crate) async fn ready(self: &Arc<Self>) -> Result<(), KeyFetchError> {
        let usable = |cached: &Cached| cached.set.len() > 0;
        let seen = self.current();
        if seen.as_deref().is_some_and(usable) {
            return Ok(());
        }
        let outcome = self.refresh(seen.as_ref()).await;
        if outcome.as_deref().is_ok_and(usable) {
            return Ok(());
        }
        let last = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
        Err(last.clone().unwrap_or_else(|| KeyFetchError::RetryLater {
            retry_in: match outcome {
                Err(Error::IssuerUnavailable { retry_after }) => retry_after,
                _ => self.config.cooldown,
            },
        }))
    }

    /// The cache's counters.
    pub(crate) fn stats(&self) -> KeySetStats {
        let c = &self.counters;
        let current = self.current();
        KeySetStats {
            fetches: c.fetches.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
            not_modified: c.not_modified.load(Ordering::Relaxed),
            skipped: c.skipped.load(Ordering::Relaxed),
            unknown_kid_hits: c.unknown_kid_hits.load(Ordering::Relaxed),
            keys: current.as_ref().map_or(0, |c| c.set.len()),
            age: current.map(|c| c.fetched_at.elapsed()),
            failing: self.failing.load(Ordering::Relaxed),
        }
    }
}
