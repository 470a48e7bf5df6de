//! How long to wait before the next attempt after failures: exponential, capped, jittered.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::Duration;

/// The wait after failure `failures` in a row (counted from 1): `base * 2^(failures-1)`,
/// capped at `max` (never below `base`), plus up to 25 % jitter so that many instances of
/// an API do not retry in lockstep.
pub(crate) fn backoff(base: Duration, max: Duration, failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(16);
    let capped = base.saturating_mul(1 << exponent).min(max.max(base));
    capped + jitter(capped / 4)
}

/// A random duration in `[0, max)`, from the standard library's per-process random hasher
/// keys: enough to spread retries, no extra dependency.
fn jitter(max: Duration) -> Duration {
    let nanos = max.as_nanos() as u64;
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(RandomState::new().hash_one(std::time::SystemTime::now()) % nanos)
}
