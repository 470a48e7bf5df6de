//! Where DPoP proofs' `jti`s are remembered, so a proof is accepted once (RFC 9449
//! section 11.1).
//!
//! A [`ReplayStore`] records a proof's [replay key](super::dpop::VerifiedProof::replay_key)
//! for as long as the proof could still be accepted (the `iat` window), atomically: of
//! two requests carrying the same proof, at once or on two replicas sharing the store,
//! exactly one is first. [`MemoryReplayStore`] serves one process; a store shared by
//! replicas (Redis) implements the same trait.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::time::Duration;
//! use tokengate::binding::replay::{MemoryReplayStore, ReplayStore, Seen};
//!
//! let store = MemoryReplayStore::new(10_000);
//! let key = [7u8; 32];
//! let ttl = Duration::from_secs(130);
//! assert_eq!(store.record(key, ttl).await, Ok(Seen::First));
//! assert_eq!(store.record(key, ttl).await, Ok(Seen::Before));
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Whether a replay key was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// First time within its lifetime: the proof may be accepted.
    First,
    /// Recorded before: a replay.
    Before,
}

/// The store could not answer (a shared store unreachable). The request is refused
/// with 503, never accepted unchecked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreUnavailable(pub String);

impl fmt::Display for StoreUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "replay store unavailable: {}", self.0)
    }
}

impl std::error::Error for StoreUnavailable {}

/// The future a [`ReplayStore`] answers with.
pub type RecordFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Seen, StoreUnavailable>> + Send + 'a>>;

/// Remembers replay keys for a while, atomically.
pub trait ReplayStore: Send + Sync + 'static {
    /// Records `key` for `ttl` unless it is already recorded, and says which it was.
    /// Must be atomic: of concurrent calls with one key, exactly one sees
    /// [`Seen::First`].
    fn record(&self, key: [u8; 32], ttl: Duration) -> RecordFuture<'_>;
}

/// One process's replay store: bounded, each key kept for the ttl it was recorded with.
///
/// When full, the oldest entries go first; size it above the number of DPoP requests one
/// window brings (a proof that was evicted could be replayed once).
///
/// # Design
///
/// Keys are SHA-256 outputs, so their first byte spreads them evenly over [`SHARDS`]
/// shards, each a `Mutex` over a hash map (key to expiry) and a queue of the keys in the
/// order they were recorded. A record locks one shard for a hash-map lookup and insert:
/// the check and the insert happen under one lock, so of concurrent callers with one key
/// exactly one is first. Expired entries are swept from the queue's front as records
/// arrive, and, past the capacity, the oldest entries are evicted. Every step is O(1)
/// amortized: no background task, no timer wheel. (A moka cache served here first; at
/// about 14 us per insert under load it was a tenth of a proof check, `benches/dpop.rs`,
/// where this takes well under one.)
pub struct MemoryReplayStore {
    shards: Box<[Mutex<Shard>]>,
    /// Entries each shard keeps at most.
    shard_capacity: usize,
}

/// The number of shards: enough that a lock is rarely contended at a few cores.
pub const SHARDS: usize = 16;

#[derive(Default)]
struct Shard {
    /// Each recorded key and the instant it expires.
    expiries: HashMap<[u8; 32], Instant>,
    /// Keys in the order they were recorded, with the expiry each was recorded with (a key
    /// recorded again after it expired appears twice; the map says which is current).
    order: VecDeque<([u8; 32], Instant)>,
}

impl Shard {
    /// Forgets the queue's front entry, and the key itself if that entry is its current one.
    fn pop_front(&mut self) {
        if let Some((key, expiry)) = self.order.pop_front() {
            if self.expiries.get(&key) == Some(&expiry) {
                self.expiries.remove(&key);
            }
        }
    }

    fn record(&mut self, key: [u8; 32], ttl: Duration, now: Instant, capacity: usize) -> Seen {
        // Sweep what expired at the front (with one ttl for all, the front expires first).
        while self.order.front().is_some_and(|(_, expiry)| *expiry <= now) {
            self.pop_front();
        }
        if self.expiries.get(&key).is_some_and(|expiry| *expiry > now) {
            return Seen::Before;
        }
        let expiry = now + ttl.min(MAX_REPLAY_TTL);
        self.expiries.insert(key, expiry);
        self.order.push_back((key, expiry));
        while self.expiries.len() > capacity {
            self.pop_front();
        }
        // Entries that were recorded again leave stale queue entries; keep the queue
        // bounded by the map it indexes.
        while self.order.len() > capacity.saturating_mul(2) {
            self.pop_front();
        }
        Seen::First
    }
}

impl fmt::Debug for MemoryReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries: usize = self
            .shards
            .iter()
            .map(|shard| shard.lock().map_or(0, |shard| shard.expiries.len()))
            .sum();
        f.debug_struct("MemoryReplayStore")
            .field("entries", &entries)
            .finish()
    }
}

/// Entries kept by default: about 1,000 DPoP requests a second over a two-minute window.
pub const DEFAULT_REPLAY_CAPACITY: u64 = 120_000;

/// The longest any entry lives, whatever ttl it was recorded with.
const MAX_REPLAY_TTL: Duration = Duration::from_secs(3600);

impl MemoryReplayStore {
    /// A store holding at most about `capacity` keys (rounded up to a multiple of
    /// [`SHARDS`]).
    pub fn new(capacity: u64) -> Self {
        let capacity = usize::try_from(capacity).unwrap_or(usize::MAX);
        MemoryReplayStore {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            shard_capacity: capacity.div_ceil(SHARDS).max(1),
        }
    }
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        MemoryReplayStore::new(DEFAULT_REPLAY_CAPACITY)
    }
}

impl ReplayStore for MemoryReplayStore {
    fn record(&self, key: [u8; 32], ttl: Duration) -> RecordFuture<'_> {
        let shard = &self.shards[usize::from(key[0]) % SHARDS];
        // A panic elsewhere while holding the lock leaves the map consistent (every
        // step above is a whole insert or remove): keep using it.
        let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
        let seen = shard.record(key, ttl, Instant::now(), self.shard_capacity);
        drop(shard);
        Box::pin(std::future::ready(Ok(seen)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const TTL: Duration = Duration::from_secs(130);

    fn key(n: u32) -> [u8; 32] {
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(&n.to_be_bytes());
        key
    }

    #[test]
    fn a_shard_keeps_a_key_exactly_for_its_ttl() {
        let t0 = Instant::now();
        let mut shard = Shard::default();
        assert_eq!(shard.record(key(1), TTL, t0, 10), Seen::First);
        assert_eq!(shard.record(key(1), TTL, t0 + TTL / 2, 10), Seen::Before);
        assert_eq!(
            shard.record(key(1), TTL, t0 + TTL - Duration::from_nanos(1), 10),
            Seen::Before
        );
        // At its expiry it is gone, and may be recorded again, for a new ttl.
        assert_eq!(shard.record(key(1), TTL, t0 + TTL, 10), Seen::First);
        assert_eq!(
            shard.record(key(1), TTL, t0 + TTL * 2 - Duration::from_nanos(1), 10),
            Seen::Before
        );
        // Expired entries are swept: only the current one is left.
        assert_eq!(shard.expiries.len(), 1);
        assert!(shard.order.len() <= 2);
        // A ttl beyond the longest is cut to it.
        assert_eq!(shard.record(key(2), Duration::MAX, t0, 10), Seen::First);
        assert_eq!(shard.expiries[&key(2)], t0 + MAX_REPLAY_TTL);
    }

    #[test]
    fn a_full_shard_evicts_its_oldest_entries_first() {
        let t0 = Instant::now();
        let mut shard = Shard::default();
        for n in 0..5 {
            assert_eq!(shard.record(key(n), TTL, t0, 3), Seen::First);
        }
        assert_eq!(shard.expiries.len(), 3);
        // The two oldest are gone (a replay of them would pass: size the store above a
        // window's requests), the three newest remain.
        for n in 2..5 {
            assert_eq!(shard.record(key(n), TTL, t0, 3), Seen::Before, "{n}");
        }
        assert_eq!(shard.record(key(0), TTL, t0, 3), Seen::First);
        assert_eq!(shard.expiries.len(), 3);
        assert!(shard.order.len() <= 6);
    }

    #[test]
    fn entries_of_different_ttls_expire_each_at_its_own() {
        let t0 = Instant::now();
        let mut shard = Shard::default();
        let long = Duration::from_secs(600);
        let short = Duration::from_secs(10);
        assert_eq!(shard.record(key(1), long, t0, 10), Seen::First);
        assert_eq!(shard.record(key(2), short, t0, 10), Seen::First);
        let later = t0 + Duration::from_secs(11);
        // Behind a longer-lived entry, the short one is not swept, but is expired.
        assert_eq!(shard.record(key(2), short, later, 10), Seen::First);
        assert_eq!(shard.record(key(1), long, later, 10), Seen::Before);
        // And its stale queue entry does not evict its new life.
        assert_eq!(shard.record(key(2), short, later, 10), Seen::Before);
    }

    #[test]
    fn the_store_bounds_its_size_over_all_shards() {
        let store = MemoryReplayStore::new(64);
        for n in 0..10_000u32 {
            let mut k = [0u8; 32];
            k[0] = (n % 251) as u8;
            k[1..5].copy_from_slice(&n.to_be_bytes());
            assert_eq!(block_on(store.record(k, TTL)), Ok(Seen::First));
        }
        let entries: usize = store
            .shards
            .iter()
            .map(|s| s.lock().unwrap().expiries.len())
            .sum();
        assert!(entries <= 64, "{entries}");
        assert!(format!("{store:?}").contains("entries"));
        // A zero capacity still remembers one key per shard.
        let tiny = MemoryReplayStore::new(0);
        assert_eq!(block_on(tiny.record(key(1), TTL)), Ok(Seen::First));
        assert_eq!(block_on(tiny.record(key(1), TTL)), Ok(Seen::Before));
    }

    #[tokio::test]
    async fn a_key_is_first_once_until_its_ttl_passes() {
        let store = MemoryReplayStore::new(100);
        let ttl = Duration::from_millis(200);
        assert_eq!(store.record([1; 32], ttl).await, Ok(Seen::First));
        assert_eq!(store.record([1; 32], ttl).await, Ok(Seen::Before));
        assert_eq!(store.record([2; 32], ttl).await, Ok(Seen::First));
        // The real clock: well past the ttl the key is new again.
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(store.record([1; 32], ttl).await, Ok(Seen::First));
    }

    #[test]
    fn of_concurrent_callers_with_one_key_exactly_one_is_first() {
        let store = Arc::new(MemoryReplayStore::new(10_000));
        for round in 0..200u8 {
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let store = Arc::clone(&store);
                    std::thread::spawn(move || {
                        let future = store.record([round; 32], Duration::from_secs(60));
                        block_on(future)
                    })
                })
                .collect();
            let firsts = threads
                .into_iter()
                .map(|t| t.join().unwrap())
                .filter(|seen| *seen == Ok(Seen::First))
                .count();
            assert_eq!(firsts, 1, "round {round}");
        }
    }

    /// The memory store's future is ready at once: poll it once.
    fn block_on(mut future: RecordFuture<'_>) -> Result<Seen, StoreUnavailable> {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(result) => result,
            std::task::Poll::Pending => panic!("the memory store never waits"),
        }
    }
}
