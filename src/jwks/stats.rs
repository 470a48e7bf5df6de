//! What the key cache counts: [`KeySetStats`] for health checks, and its atomic counters.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// Counters describing the key cache, for health checks and dashboards.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeySetStats {
    /// Fetch attempts made (discovery and JWKS together count as one).
    pub fetches: u64,
    /// Attempts that failed.
    pub failures: u64,
    /// Attempts answered `304 Not Modified`.
    pub not_modified: u64,
    /// Refetches not made because the fetch budget (cooldown, backoff) forbade them.
    pub skipped: u64,
    /// Requests refused from the unknown-`kid` memory without touching the fetch path.
    pub unknown_kid_hits: u64,
    /// Usable keys in the current set.
    pub keys: usize,
    /// Time since the current set was fetched or confirmed (`None`: never fetched).
    pub age: Option<Duration>,
    /// Whether the last attempt failed.
    pub failing: bool,
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) fetches: AtomicU64,
    pub(super) failures: AtomicU64,
    pub(super) not_modified: AtomicU64,
    pub(super) skipped: AtomicU64,
    pub(super) unknown_kid_hits: AtomicU64,
}
