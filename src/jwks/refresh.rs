//! How [`KeyCache`] fetches: refresh ahead in the background, the single flight, the
//! fetch budget (cooldown and backoff), discovery, and logging once per change of state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::time::Instant;

use super::cache::{Cached, KeyCache, REFRESH_AHEAD_DIVISOR, RefreshState, TIMER_MIN_INTERVAL};
use super::fetch_error::{KeyFetchError, shown};
use super::key_set::log_cap;
use super::{KeySet, KeySource};
use crate::error::Error;
use crate::http::{self, FetchError, backoff};

impl KeyCache {
    /// Starts a background refresh if `cached` is due for one and none is running.
    pub(super) fn refresh_ahead(self: &Arc<Self>, cached: &Arc<Cached>) {
        if Instant::now() < cached.refresh_at || self.wait_before_fetch().is_some() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.background.swap(true, Ordering::AcqRel) {
            return; // already scheduled
        }
        let this = Arc::clone(self);
        let seen = Arc::clone(cached);
        runtime.spawn(async move {
            // However the task ends (done, panicked, or dropped with its runtime), the
            // flag is cleared: a flag left set would stop background refreshes for good.
            let _clear = ClearOnDrop(&this.background);
            tracing::debug!("refreshing the key set in the background");
            let _ = this.refresh(Some(&seen)).await;
        });
    }

    /// Starts the refresh timer unless it runs already or there is no tokio runtime.
    ///
    /// The timer refreshes the set when it is due (80 % of its lifetime), with or
    /// without requests, as Envoy's JWKS cache does: an idle API neither keeps a key the
    /// issuer removed nor makes the first request after the idle time wait for a fetch.
    /// It holds the cache only weakly between wake-ups, so dropping the last
    /// [`Validator`](crate::Validator) clone ends it, and it obeys the fetch budget.
    fn ensure_timer(self: &Arc<Self>) {
        if matches!(self.config.source, KeySource::Static(_)) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.timer.swap(true, Ordering::AcqRel) {
            return; // one timer per cache
        }
        runtime.spawn(refresh_timer(Arc::downgrade(self)));
    }

    /// When the refresh timer should next look at the set: when it is due and the budget
    /// allows a fetch, and not sooner than [`TIMER_MIN_INTERVAL`] from now.
    fn next_timer_wake(&self) -> Option<Instant> {
        let cached = self.current()?;
        let allowed = self
            .budget
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .next_allowed
            .unwrap_or(cached.refresh_at);
        Some(
            cached
                .refresh_at
                .max(allowed)
                .max(Instant::now() + TIMER_MIN_INTERVAL),
        )
    }

    /// Time left before the budget allows another fetch, or `None` if one may start now.
    fn wait_before_fetch(&self) -> Option<Duration> {
        let next = self
            .budget
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .next_allowed?;
        let left = next.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }

    /// A newer key set than `seen`: fetched now, or by a concurrent caller; or the current
    /// one when the budget forbids a fetch or the fetch fails.
    ///
    /// The fetch runs on a task of its own, which the caller merely awaits: a caller
    /// dropped mid-fetch (a client that hung up: HTTP/1 close, HTTP/2 `RST_STREAM`) cancels
    /// nothing. The budget is charged before the fetch starts, so nothing a caller does
    /// can re-open it, and the fetch's result (the new keys, the `kid`s remembered as
    /// unknown by the waiters) is there for the next request.
    pub(super) async fn refresh(
        self: &Arc<Self>,
        seen: Option<&Arc<Cached>>,
    ) -> Result<Arc<Cached>, Error> {
        let unavailable = |left: Duration| Error::IssuerUnavailable { retry_after: left };
        if let KeySource::Static(_) = self.config.source {
            return self.current().ok_or(unavailable(self.config.cooldown));
        }
        // Under a flood, most callers stop here: no fetch allowed and none in flight.
        // When a fetch is in flight, wait for it instead: its result may be what we need.
        if let Some(left) = self.wait_before_fetch() {
            if self.refresh.try_lock().is_ok() {
                self.counters.skipped.fetch_add(1, Ordering::Relaxed);
                return self.current().ok_or(unavailable(left));
            }
        }
        let state = Arc::clone(&self.refresh).lock_owned().await;
        let current = self.current();
        // A concurrent caller refreshed while we waited for the lock: use its result.
        let changed = match (&current, seen) {
            (Some(now), Some(before)) => !Arc::ptr_eq(now, before),
            (Some(_), None) => true,
            _ => false,
        };
        if let (true, Some(current)) = (changed, &current) {
            return Ok(current.clone());
        }
        if let Some(left) = self.wait_before_fetch() {
            self.counters.skipped.fetch_add(1, Ordering::Relaxed);
            return current.ok_or(unavailable(left));
        }
        self.counters.fetches.fetch_add(1, Ordering::Relaxed);
        let started = self.charge();
        let this = Arc::clone(self);
        // One span per attempt, `result` and `url` recorded when
        // it ends; child of the validation that needed it, if any.
        let span = tracing::info_span!(
            "tokengate.key_fetch",
            issuer = %self.config.issuer,
            url = tracing::field::Empty,
            result = tracing::field::Empty
        );
        let fetch = tracing::Instrument::instrument(
            async move { this.fetch_and_publish(state, current, started).await },
            span,
        );
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => match runtime.spawn(fetch).await {
                Ok(outcome) => outcome,
                // The fetch task panicked or its runtime is shutting down; the budget was
                // charged, and the lock released with the task.
                Err(_) => {
                    let left = self.wait_before_fetch().unwrap_or(self.config.cooldown);
                    self.current().ok_or(unavailable(left))
                }
            },
            Err(_) => fetch.await,
        }
    }

    /// Charges the budget for an attempt starting now (one cooldown; [`KeyCache::settle`]
    /// widens it to the backoff if the attempt fails). Returns the start time.
    fn charge(&self) -> Instant {
        let started = Instant::now();
        let mut budget = self.budget.lock().unwrap_or_else(|e| e.into_inner());
        budget.next_allowed = Some(started + self.config.cooldown);
        started
    }

    /// One fetch attempt and its consequences: the budget settled, the set published,
    /// state changes logged. Holds the single-flight lock throughout.
    async fn fetch_and_publish(
        self: Arc<Self>,
        mut state: tokio::sync::OwnedMutexGuard<RefreshState>,
        current: Option<Arc<Cached>>,
        started: Instant,
    ) -> Result<Arc<Cached>, Error> {
        let unavailable = |left: Duration| Error::IssuerUnavailable { retry_after: left };
        let outcome = self.fetch(&mut state, current.as_deref()).await;
        let jwks_url = state.jwks_uri.as_ref().map(|(url, _)| shown(url));
        // A set that parses but holds no usable key is a failed fetch: it must not
        // replace a good one (stale-if-error, RFC 5861 section 4). With nothing to keep,
        // it is published, so tokens get 401 rather than 503, but still counts as a
        // failure for the budget, the logs and readiness.
        let (outcome, empty) = match outcome {
            Ok(fetched) if fetched.set.len() == 0 => (
                Err(KeyFetchError::NoUsableKey {
                    url: jwks_url.clone().unwrap_or_default(),
                    published: fetched.set.published(),
                    skipped: fetched
                        .set
                        .published()
                        .saturating_sub(fetched.set.over_cap()),
                }),
                Some(fetched),
            ),
            other => (other, None),
        };
        let keys_held = match (&outcome, &current) {
            (Ok(fetched), _) => fetched.set.len(),
            (Err(_), Some(current)) => current.set.len(),
            (Err(_), None) => 0,
        };
        let span = tracing::Span::current();
        span.record("result", if outcome.is_ok() { "ok" } else { "error" });
        if let Some(url) = &jwks_url {
            span.record("url", url.as_str());
        }
        crate::metrics::key_fetch(
            &self.config.issuer,
            outcome.is_ok(),
            started.elapsed(),
            keys_held,
        );
        let was_failing = self.failing.load(Ordering::Relaxed);
        let issuer = self.config.issuer.as_str();
        match outcome {
            Ok(cached) => {
                self.settle(started, true);
                *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
                if was_failing {
                    tracing::info!(
                        issuer,
                        url = jwks_url.as_deref().unwrap_or_default(),
                        "key set fetch recovered"
                    );
                }
                // A 304 keeps the very same set: nothing to log.
                if current
                    .as_ref()
                    .is_none_or(|c| !Arc::ptr_eq(&c.set, &cached.set))
                {
                    log_rotation(issuer, current.as_ref().map(|c| &*c.set), &cached.set);
                    self.log_cap_change(&cached.set);
                }
                let cached = Arc::new(cached);
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(cached.clone());
                drop(state);
                self.ensure_timer();
                Ok(cached)
            }
            Err(error) => {
                self.counters.failures.fetch_add(1, Ordering::Relaxed);
                let retry_in = self.settle(started, false);
                let mut last = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
                // Logged once per change of state, and again when the cause changes (a
                // DNS failure that becomes a 500 is news to whoever is fixing it).
                if !was_failing || last.as_ref() != Some(&error) {
                    tracing::warn!(
                        issuer,
                        url = error.url().unwrap_or_default(),
                        cause = error.as_str(),
                        %error,
                        retry_in_ms = retry_in.as_millis() as u64,
                        "key set fetch failed; keeping the last good keys"
                    );
                }
                *last = Some(error);
                drop(last);
                match (current, empty) {
                    (Some(current), _) => Ok(current),
                    (None, Some(empty)) => {
                        let empty = Arc::new(empty);
                        *self.current.write().unwrap_or_else(|e| e.into_inner()) =
                            Some(empty.clone());
                        Ok(empty)
                    }
                    (None, None) => Err(unavailable(retry_in)),
                }
            }
        }
    }

    /// Warns when the fetched set starts or stops hitting `max_keys` (once per change,
    /// not per fetch).
    fn log_cap_change(&self, set: &KeySet) {
        let capped = set.over_cap() > 0;
        if self.capped.swap(capped, Ordering::Relaxed) != capped {
            if capped {
                log_cap(&self.config.issuer, set, self.config.max_keys);
            } else {
                tracing::info!(
                    issuer = self.config.issuer,
                    keys = set.len(),
                    "JWKS fits within max_keys again"
                );
            }
        }
    }

    /// Records an attempt's outcome in the budget; returns the wait before the next one.
    ///
    /// Success: one cooldown. Failure `n` in a row: `cooldown * 2^(n-1)`, capped at the
    /// maximum backoff (never below the cooldown), plus up to 25 % jitter so that many
    /// instances of an API do not retry in lockstep.
    fn settle(&self, started: Instant, success: bool) -> Duration {
        let mut budget = self.budget.lock().unwrap_or_else(|e| e.into_inner());
        let cooldown = self.config.cooldown;
        let wait = if success {
            budget.consecutive_failures = 0;
            cooldown
        } else {
            budget.consecutive_failures = budget.consecutive_failures.saturating_add(1);
            backoff(
                cooldown,
                self.config.max_backoff,
                budget.consecutive_failures,
            )
        };
        self.failing.store(!success, Ordering::Relaxed);
        budget.next_allowed = Some(started + wait);
        wait
    }

    /// One fetch attempt: discovery if needed, then the JWKS (conditionally if we have
    /// validators for it).
    async fn fetch(
        &self,
        state: &mut RefreshState,
        current: Option<&Cached>,
    ) -> Result<Cached, KeyFetchError> {
        let config = &self.config;
        let timeout = config.limits.timeout;
        let rediscover = match &state.jwks_uri {
            None => true,
            Some((_, Some(until))) => Instant::now() >= *until,
            Some((_, None)) => false,
        };
        if let (true, KeySource::Discovery { issuer, at }) = (rediscover, &config.source) {
            let (url, headers) = http::discover_jwks_uri(
                &config.client,
                at,
                issuer,
                &config.limits,
                config.allow_http,
            )
            .await
            .map_err(|failed| KeyFetchError::discovery(failed, issuer, timeout))?;
            let ttl = http::lifetime(&headers, &config.ttl);
            state.jwks_uri = Some((url, Some(Instant::now() + ttl)));
        }
        let Some(url) = state.jwks_uri.as_ref().map(|(url, _)| url.clone()) else {
            // Static sets never reach here (refresh returns early); nothing to fetch.
            return Err(KeyFetchError::RetryLater {
                retry_in: config.cooldown,
            });
        };
        let conditional = current.map(|c| c.conditional.clone()).unwrap_or_default();
        let result = http::fetch(&config.client, &url, &config.limits, &conditional).await;
        if matches!(result, Err(FetchError::Status(404 | 410)))
            && matches!(config.source, KeySource::Discovery { .. })
        {
            // The issuer may have moved its JWKS: discover again on the next attempt.
            state.jwks_uri = None;
        }
        let fail = |error| KeyFetchError::jwks(&url, error, timeout);
        let fetched = result.map_err(fail)?;
        let now = Instant::now();
        let ttl = http::lifetime(&fetched.headers, &config.ttl);
        let refresh_at = now + ttl - ttl / REFRESH_AHEAD_DIVISOR;
        let set = match (&fetched.body, current) {
            (Some(body), _) => {
                let set = KeySet::from_json(body, config.max_keys)
                    .map_err(|problem| fail(FetchError::Invalid(problem)))?
                    .reusing(current.map(|c| &*c.set));
                Arc::new(set)
            }
            (None, Some(current)) => {
                self.counters.not_modified.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(issuer = config.issuer, url = %shown(&url), "key set not modified");
                Arc::clone(&current.set)
            }
            (None, None) => {
                return Err(fail(FetchError::Invalid("304 without a cached key set")));
            }
        };
        let mut conditional = fetched.conditional();
        if fetched.body.is_none() {
            // RFC 9110 section 15.4.5: a 304 may omit validators; keep the ones we had.
            let old = current.map(|c| c.conditional.clone()).unwrap_or_default();
            conditional.etag = conditional.etag.or(old.etag);
            conditional.last_modified = conditional.last_modified.or(old.last_modified);
        }
        Ok(Cached {
            set,
            fetched_at: now,
            refresh_at,
            conditional,
        })
    }
}

/// Resets a flag when dropped: however the task holding it ends.
struct ClearOnDrop<'a>(&'a AtomicBool);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// The refresh timer of one cache (see [`KeyCache::ensure_timer`]): sleeps until the set
/// is due, refreshes it through the fetch budget, and ends when the cache is dropped.
async fn refresh_timer(cache: Weak<KeyCache>) {
    /// Clears the cache's timer flag however the task ends, so that the next successful
    /// fetch can start a new timer (say, after the runtime it ran on shut down).
    struct Stopped(Weak<KeyCache>);
    impl Drop for Stopped {
        fn drop(&mut self) {
            if let Some(cache) = self.0.upgrade() {
                cache.timer.store(false, Ordering::Release);
            }
        }
    }
    let _stopped = Stopped(cache.clone());
    loop {
        // No strong reference is held while sleeping.
        let Some(wake) = cache.upgrade().and_then(|c| c.next_timer_wake()) else {
            return;
        };
        tokio::time::sleep_until(wake).await;
        let Some(this) = cache.upgrade() else {
            return;
        };
        let Some(current) = this.current() else {
            return;
        };
        if Instant::now() >= current.refresh_at && this.wait_before_fetch().is_none() {
            tracing::debug!("refreshing the key set on its timer");
            let _ = this.refresh(Some(&current)).await;
        }
    }
}

/// Logs keys that appeared or disappeared between two sets.
fn log_rotation(issuer: &str, old: Option<&KeySet>, new: &KeySet) {
    let Some(old) = old else {
        tracing::debug!(issuer, keys = new.len(), "key set fetched");
        return;
    };
    let added: Vec<&str> = new.kids().filter(|k| !old.has_kid(k)).collect();
    let removed: Vec<&str> = old.kids().filter(|k| !new.has_kid(k)).collect();
    if !added.is_empty() || !removed.is_empty() {
        tracing::info!(issuer, ?added, ?removed, "issuer keys rotated");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{FetchLimits, TtlBounds};
    use crate::jwks::KeyCacheConfig;
    use crate::testing::{Behavior, MockIssuer};
    use reqwest::Url;

    fn cache_for(issuer: &MockIssuer) -> Arc<KeyCache> {
        Arc::new(KeyCache::new(KeyCacheConfig {
            source: KeySource::JwksUrl(Url::parse(&issuer.jwks_url()).unwrap()),
            client: reqwest::Client::new(),
            limits: FetchLimits {
                timeout: Duration::from_secs(30),
                max_body: 512 * 1024,
                // The mock issuer is on loopback http, which the policy allows anyway.
                allow_http: false,
            },
            cooldown: Duration::ZERO,
            max_backoff: Duration::from_secs(1),
            ttl: TtlBounds {
                min: Duration::ZERO,
                max: Duration::from_secs(3600),
                default: Duration::from_secs(600),
            },
            max_keys: 64,
            allow_http: true,
            issuer: issuer.issuer().to_owned(),
        }))
    }

    /// Item 5: a background refresh whose task is dropped (its runtime shut down) or
    /// panics must not leave the `background` flag set, or refreshes would stop for good.
    #[test]
    fn the_background_flag_is_reset_when_its_task_is_dropped() {
        let main = tokio::runtime::Runtime::new().unwrap();
        let issuer = main.block_on(MockIssuer::start());
        issuer.set_jwks_headers(&[("cache-control", "max-age=0")]);
        let cache = cache_for(&issuer);
        main.block_on(cache.prefetch()).unwrap();
        issuer.set_behavior(Behavior::Hang);

        let doomed = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        doomed.block_on(async {
            let cached = cache.current().unwrap();
            cache.refresh_ahead(&cached);
            // Let the task start and reach the hung issuer.
            tokio::time::sleep(Duration::from_millis(300)).await;
        });
        assert!(
            cache.background.load(Ordering::Acquire),
            "a refresh is running"
        );
        drop(doomed); // the refresh task is dropped mid-fetch
        assert!(
            !cache.background.load(Ordering::Acquire),
            "the background flag outlived its task"
        );
    }
}
