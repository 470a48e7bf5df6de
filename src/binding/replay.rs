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

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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

/// One process's replay store: a bounded moka cache whose entries live for the proof
/// window. When full, the least useful entries go first; size it above the number of
/// DPoP requests one window brings (a proof that was evicted could be replayed once).
pub struct MemoryReplayStore {
    /// Each key holds its slot: the ttl it was recorded with, which [`PerEntryTtl`]
    /// reads, and whether a caller has claimed it.
    seen: moka::sync::Cache<[u8; 32], Arc<Slot>>,
}

impl fmt::Debug for MemoryReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayStore")
            .field("entries", &self.seen.entry_count())
            .finish()
    }
}

/// Entries kept by default: about 1,000 DPoP requests a second over a two-minute window.
pub const DEFAULT_REPLAY_CAPACITY: u64 = 120_000;

/// The longest any entry lives, whatever ttl it was recorded with.
const MAX_REPLAY_TTL: Duration = Duration::from_secs(3600);

impl MemoryReplayStore {
    /// A store holding at most `capacity` keys.
    pub fn new(capacity: u64) -> Self {
        MemoryReplayStore {
            seen: moka::sync::Cache::builder()
                .max_capacity(capacity.max(1))
                .time_to_live(MAX_REPLAY_TTL)
                .expire_after(PerEntryTtl)
                .build(),
        }
    }
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        MemoryReplayStore::new(DEFAULT_REPLAY_CAPACITY)
    }
}

/// One recorded key.
struct Slot {
    ttl: Duration,
    /// Set by the first caller: the claim is an atomic swap on the one slot that every
    /// concurrent caller gets (`get_with` runs one initializer per key and hands its
    /// value to the rest). `entry().or_insert` with `is_fresh` let two concurrent
    /// callers both see a fresh entry (found by the test below, 2 of 8 threads).
    claimed: AtomicBool,
}

/// Each key expires after the ttl it was recorded with.
struct PerEntryTtl;

impl moka::Expiry<[u8; 32], Arc<Slot>> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _key: &[u8; 32],
        slot: &Arc<Slot>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(slot.ttl.min(MAX_REPLAY_TTL))
    }
}

impl ReplayStore for MemoryReplayStore {
    fn record(&self, key: [u8; 32], ttl: Duration) -> RecordFuture<'_> {
        let slot = self.seen.get_with(key, || {
            Arc::new(Slot {
                ttl,
                claimed: AtomicBool::new(false),
            })
        });
        let seen = if slot.claimed.swap(true, Ordering::AcqRel) {
            Seen::Before
        } else {
            Seen::First
        };
        Box::pin(std::future::ready(Ok(seen)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_is_first_once_until_its_ttl_passes() {
        let store = MemoryReplayStore::new(100);
        let ttl = Duration::from_millis(200);
        assert_eq!(store.record([1; 32], ttl).await, Ok(Seen::First));
        assert_eq!(store.record([1; 32], ttl).await, Ok(Seen::Before));
        assert_eq!(store.record([2; 32], ttl).await, Ok(Seen::First));
        // moka's clock is the real one; well past the ttl the key is new again.
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
                        futures_lite_block_on(future)
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
    fn futures_lite_block_on(mut future: RecordFuture<'_>) -> Result<Seen, StoreUnavailable> {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(result) => result,
            std::task::Poll::Pending => panic!("the memory store never waits"),
        }
    }
}
