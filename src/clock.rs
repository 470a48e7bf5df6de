//! The wall clock, read in one place.
//!
//! JWT lifetimes are NumericDate values, seconds since the Unix epoch (RFC 7519 section
//! 2): every `exp`/`nbf` comparison, cache lifetime and minted test token reads the time
//! through [`unix_now`]. A leaf module: it imports nothing of the crate, so the modules
//! that need the time (validator, introspection, binding, metrics) need nothing else of
//! each other for it.

use std::time::{SystemTime, UNIX_EPOCH};

/// The current time as an RFC 7519 NumericDate: whole seconds since the Unix epoch, UTC.
///
/// A clock set before 1970 reads as 0 (every token is then "not yet valid" or expired
/// by the usual comparisons, never valid forever).
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_now_reads_the_system_clock_in_seconds() {
        let expected = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let now = unix_now();
        // Read one after the other: equal, or one second apart across a tick.
        assert!(
            (expected..=expected + 1).contains(&now),
            "{now} vs {expected}"
        );
        // After 2023-11-14 (1_700_000_000): seconds, not milliseconds or zero.
        assert!(now > 1_700_000_000 && now < 100_000_000_000, "{now}");
    }
}
