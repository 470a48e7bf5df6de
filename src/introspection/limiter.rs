//! When the introspection endpoint may be asked: a failure budget that backs off, and a
//! bound on the requests in flight.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::lock;
use crate::error::Error;
use crate::http::backoff;

/// After a failed introspection request, how long tokens not answered yet are refused
/// (503) before the endpoint is asked again: an outage costs the issuer about one request
/// a second per API instance instead of one per incoming request, and a blip costs a
/// second. Doubles with each failure in a row.
pub const INTROSPECTION_RETRY_DELAY: Duration = Duration::from_secs(1);
/// The longest wait between two introspection attempts while the endpoint keeps failing:
/// recovery is noticed within half a minute.
pub const MAX_INTROSPECTION_RETRY_DELAY: Duration = Duration::from_secs(30);

/// The failure budget and the permits of one introspection endpoint.
#[derive(Debug)]
pub(super) struct Limiter {
    /// When the endpoint may be asked again after failures.
    budget: Mutex<Budget>,
    /// Permits for requests in flight.
    pub(super) permits: Arc<Semaphore>,
    /// The longest a request waits for a permit (the fetch timeout).
    wait: Duration,
}

impl Limiter {
    /// `max_concurrent` requests in flight at once (at least one), each waiting at most
    /// `wait` for its turn.
    pub(super) fn new(max_concurrent: usize, wait: Duration) -> Self {
        Limiter {
            budget: Mutex::default(),
            // `build()` refuses zero; one permit is the least that works.
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            wait,
        }
    }

    /// `Err(503)` with the time left while the failure budget forbids a request.
    pub(super) fn allows(&self) -> Result<(), Error> {
        let budget = lock(&self.budget);
        // One reading of the clock: the wait is what is left of the window it saw.
        let now = Instant::now();
        match budget.next_allowed {
            Some(next) if next > now => Err(Error::IssuerUnavailable {
                retry_after: next - now,
            }),
            _ => Ok(()),
        }
    }

    /// A permit, if the failure budget allows a request and one frees up in time.
    pub(super) async fn admit(&self) -> Result<OwnedSemaphorePermit, Error> {
        self.allows()?;
        let permits = Arc::clone(&self.permits);
        let permit = tokio::time::timeout(self.wait, permits.acquire_owned()).await;
        let Ok(Ok(permit)) = permit else {
            tracing::debug!("introspection endpoint busy: every permit taken");
            return Err(Error::IssuerUnavailable {
                retry_after: INTROSPECTION_RETRY_DELAY,
            });
        };
        // A request that failed while we waited for the permit closes the budget.
        self.allows()?;
        Ok(permit)
    }

    /// The endpoint answered: the budget opens again.
    pub(super) fn answered(&self) {
        let mut budget = lock(&self.budget);
        if budget.consecutive_failures > 0 {
            tracing::info!("introspection endpoint recovered");
        }
        *budget = Budget::default();
    }

    /// A request started at `started` failed now: the wait before the next request, and
    /// whether this failure began a new outage.
    pub(super) fn failed(&self, started: Instant) -> (Duration, bool) {
        lock(&self.budget).failed(started, Instant::now())
    }

    #[cfg(test)]
    pub(super) fn consecutive_failures(&self) -> u32 {
        lock(&self.budget).consecutive_failures
    }
}

/// The failure budget of the introspection endpoint.
#[derive(Debug, Default)]
struct Budget {
    /// Before this, tokens not answered yet are refused without a request.
    next_allowed: Option<Instant>,
    /// Failures in a row, counting only requests started after the previous failure was
    /// recorded: requests already in flight when an outage began do not lengthen the wait.
    consecutive_failures: u32,
    /// When the last counted failure was recorded.
    last_failure: Option<Instant>,
}

impl Budget {
    /// Records a failed request started at `started` and seen at `now`; returns the wait
    /// before the next request, and whether this failure began a new outage.
    fn failed(&mut self, started: Instant, now: Instant) -> (Duration, bool) {
        if self.last_failure.is_none_or(|at| started > at) {
            self.consecutive_failures = self.consecutive_failures.saturating_add(1);
            self.last_failure = Some(now);
        }
        let first = self.consecutive_failures == 1 && self.last_failure == Some(now);
        let wait = backoff(
            INTROSPECTION_RETRY_DELAY,
            MAX_INTROSPECTION_RETRY_DELAY,
            self.consecutive_failures,
        );
        let next = self
            .next_allowed
            .map_or(now + wait, |next| next.max(now + wait));
        self.next_allowed = Some(next);
        (next - now, first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// `base * 2^(n-1)` plus up to 25 % jitter.
    fn assert_backoff(wait: Duration, base: Duration) {
        assert!(
            wait >= base && wait <= base + base / 4,
            "{wait:?} for {base:?}"
        );
    }

    #[test]
    fn failures_in_a_row_double_the_wait_up_to_the_cap() {
        let t0 = Instant::now();
        let mut budget = Budget::default();
        let mut now = t0;
        for n in 0..8u32 {
            let (wait, first) = budget.failed(now, now + seconds(1));
            assert_eq!(first, n == 0);
            let expected = INTROSPECTION_RETRY_DELAY * 2u32.pow(n);
            assert_backoff(wait, expected.min(MAX_INTROSPECTION_RETRY_DELAY));
            now += seconds(1) + wait; // the retry starts once the wait is over
        }
        assert_eq!(budget.consecutive_failures, 8);
    }

    #[test]
    fn requests_already_in_flight_when_an_outage_began_do_not_lengthen_the_wait() {
        let t0 = Instant::now();
        let mut budget = Budget::default();
        // 32 requests started together; they all fail, one after another.
        let (first_wait, first) = budget.failed(t0, t0 + seconds(5));
        assert!(first);
        for i in 1..32 {
            let (wait, first) = budget.failed(t0, t0 + seconds(5) + Duration::from_millis(i));
            assert!(!first);
            assert_backoff(wait, INTROSPECTION_RETRY_DELAY);
        }
        assert_eq!(budget.consecutive_failures, 1);
        // The retry after the wait is a new failure in a row.
        let retry = t0 + seconds(5) + first_wait;
        let (wait, _) = budget.failed(retry, retry + seconds(1));
        assert_eq!(budget.consecutive_failures, 2);
        assert_backoff(wait, INTROSPECTION_RETRY_DELAY * 2);
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_reopens_a_closed_budget() {
        let limiter = Limiter::new(1, seconds(5));
        let (wait, first) = limiter.failed(Instant::now());
        assert!(first);
        assert!(matches!(
            limiter.allows(),
            Err(Error::IssuerUnavailable { retry_after }) if retry_after == wait
        ));
        limiter.answered();
        assert!(limiter.allows().is_ok());
        assert_eq!(limiter.consecutive_failures(), 0);
    }
}
