//! Opaque tokens: RFC 7662 token introspection.
//!
//! The validator posts the token to the issuer's `introspection_endpoint` (from discovery,
//! or configured), authenticating as a client (`client_secret_basic` or
//! `client_secret_post`, RFC 6749 section 2.3.1), and maps the answer to the same
//! [`Claims`](crate::Claims) a JWT gives:
//!
//! - `active: false` (or anything but `true`) is `invalid_token`; an unreachable, failing
//!   or misconfigured endpoint is 503, never "valid";
//! - where the answer names `iss`, `aud`, `exp` or `nbf`, they are checked as for a JWT,
//!   so an opaque token minted for another resource is refused; an answer without `aud`
//!   (a token the server did not restrict to any resource, which every API introspecting
//!   at that server would otherwise accept) is refused too, unless
//!   [`allow_introspection_without_audience`](crate::ValidatorBuilder::allow_introspection_without_audience)
//!   says otherwise; then its claims have no audience;
//! - a `token_type` that is present must be an access token's (`Bearer`, `DPoP`,
//!   `access_token`): a refresh token is not an access token;
//! - answers are cached by SHA-256 of the token (never the token itself) for no longer
//!   than the token's own `exp` and the configured bound (zero, or `token_cache_size(0)`:
//!   not cached); concurrent introspections of one token are a single request.
//!
//! A failing or flooded endpoint is not hammered:
//!
//! - **Failures back off.** After a failed request (unreachable, timed out, a 5xx, 408
//!   or 429 status, an answer that is not JSON, refused client credentials), tokens not answered
//!   yet get 503 at once, with the wait in `Retry-After`, until
//!   [`INTROSPECTION_RETRY_DELAY`] has passed; the delay doubles with each failure in a
//!   row up to [`MAX_INTROSPECTION_RETRY_DELAY`]. An outage costs the issuer about one
//!   request per delay per API instance, and callers waiting on the same token fail
//!   together instead of retrying one after another. Cached answers are still served.
//! - **Requests in flight are bounded** by
//!   [`max_concurrent_introspections`](crate::ValidatorBuilder::max_concurrent_introspections)
//!   ([`DEFAULT_MAX_CONCURRENT_INTROSPECTIONS`](crate::DEFAULT_MAX_CONCURRENT_INTROSPECTIONS)):
//!   a flood of distinct made-up tokens waits its turn (for at most the fetch timeout,
//!   then 503) instead of opening a connection each.
//! - **One token cannot close the endpoint for others.** A 4xx about one token (a
//!   firewall in front of the server refusing `../../../../etc/passwd`, which is a valid
//!   bearer token) is that token's `invalid_token`, neither remembered nor counted. Only
//!   401 (our client credentials refused, RFC 7662 section 2.3) and a 4xx carrying an
//!   RFC 6749 `invalid_client` error count as our credentials refused. A server that
//!   refuses every request of ours with a bare 400 or 403 thus shows as 401 for every
//!   opaque token, not 503.
//! - **A client that hangs up changes nothing.** Once its request has a permit, it runs
//!   to completion on a task of its own, keeps the permit until the endpoint answered or
//!   timed out, and its failure counts; callers still waiting get its result.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tokengate::{TokenFormat, Validator};
//!
//! let validator = Validator::builder()
//!     .issuer("https://login.example.com")
//!     .audience("https://api.example.com")
//!     .introspection("my-api", "s3cret")           // endpoint found by discovery
//!     .token_format(TokenFormat::JwtOrOpaque)      // JWTs verified locally, others introspected
//!     .build()?;
//! # Ok(()) }
//! ```

mod client_auth;
mod limiter;
mod response;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Url;
use reqwest::header::ACCEPT;
use serde_json::Value;
use tokio::sync::{OnceCell, watch};
use tokio::time::Instant;

use crate::error::{Error, InvalidToken};
use crate::http::{
    FetchError, FetchLimits, check_not_redirected, check_url, fetch_metadata, scheme_allowed,
};
use response::{AnswerPolicy, Failure, Outcome, Reply};

pub use crate::format::TokenFormat;
pub use client_auth::ClientAuth;
pub(crate) use client_auth::Credentials;
pub use limiter::{INTROSPECTION_RETRY_DELAY, MAX_INTROSPECTION_RETRY_DELAY};

/// What the builder hands over to build an [`Introspector`]: the endpoint, how to
/// authenticate to it, and how much to remember and ask at once.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The issuer whose tokens are introspected; its metadata names the endpoint when
    /// `endpoint` is `None`.
    pub(crate) issuer: String,
    pub(crate) credentials: Credentials,
    pub(crate) endpoint: Option<String>,
    pub(crate) cache_ttl: Duration,
    pub(crate) cache_size: u64,
    pub(crate) max_concurrent: usize,
    /// Accept answers that name no audience
    /// ([`allow_introspection_without_audience`](crate::ValidatorBuilder::allow_introspection_without_audience)).
    pub(crate) allow_without_audience: bool,
    /// The client for the introspection requests (following no redirects, by default).
    pub(crate) client: reqwest::Client,
    /// The timeout, body cap and scheme policy of every request.
    pub(crate) limits: FetchLimits,
}

/// What the callers of one token's attempt are told when it ends: the endpoint's verdict,
/// or why there is none (503).
type Attempt = watch::Receiver<Option<Result<Outcome, Error>>>;

/// Posts tokens to the introspection endpoint and remembers the answers.
pub(crate) struct Introspector {
    issuer: String,
    credentials: Credentials,
    cache_ttl: Duration,
    allow_without_audience: bool,
    endpoint: OnceCell<Url>,
    client: reqwest::Client,
    limits: FetchLimits,
    /// Answers by token digest; `None` when configured to remember none
    /// (`introspection_cache_ttl(0)` or `token_cache_size(0)`).
    answers: Option<moka::sync::Cache<[u8; 32], Outcome>>,
    /// The attempt under way for a token digest, from the moment a caller starts waiting
    /// for a permit until its request ended: concurrent callers of one token share it.
    in_flight: Mutex<HashMap<[u8; 32], Attempt>>,
    /// The failure budget and the permits for requests in flight.
    limiter: limiter::Limiter,
}

/// The caller leading a token's attempt. Dropped (its caller went away before the request
/// started, or the attempt ended), it takes the attempt out of `in_flight` first, then
/// wakes the waiters: those not told a result start again, one of them leading.
struct Lead {
    introspector: Arc<Introspector>,
    digest: [u8; 32],
    sender: watch::Sender<Option<Result<Outcome, Error>>>,
}

impl Lead {
    /// Tells every caller of this attempt its result.
    fn finish(self, result: Result<Outcome, Error>) {
        self.sender.send_replace(Some(result));
    }
}

impl Drop for Lead {
    fn drop(&mut self) {
        let ours = self.sender.subscribe();
        let mut in_flight = lock(&self.introspector.in_flight);
        if in_flight
            .get(&self.digest)
            .is_some_and(|attempt| attempt.same_channel(&ours))
        {
            in_flight.remove(&self.digest);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere while it was held; the data is whole.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Introspector {
    /// An introspector for `settings`; `Err` names what is wrong with the configured
    /// endpoint.
    pub(crate) fn new(settings: Settings) -> Result<Self, &'static str> {
        let endpoint = OnceCell::new();
        if let Some(url) = &settings.endpoint {
            let url = Url::parse(url).map_err(|_| "introspection_endpoint is not a URL")?;
            if !scheme_allowed(&url, settings.limits.allow_http) {
                return Err("introspection_endpoint must use https");
            }
            let _ = endpoint.set(url);
        }
        // Zero (either setting): nothing remembered, every request introspected; callers
        // of one token still share the attempt under way.
        let remember = settings.cache_size > 0 && !settings.cache_ttl.is_zero();
        let answers = remember.then(|| {
            moka::sync::Cache::builder()
                .max_capacity(settings.cache_size)
                .time_to_live(settings.cache_ttl)
                .build()
        });
        Ok(Introspector {
            issuer: settings.issuer,
            credentials: settings.credentials,
            cache_ttl: settings.cache_ttl,
            allow_without_audience: settings.allow_without_audience,
            endpoint,
            client: settings.client,
            limiter: limiter::Limiter::new(settings.max_concurrent, settings.limits.timeout),
            limits: settings.limits,
            answers,
            in_flight: Mutex::default(),
        })
    }
    /// A remembered answer for this token, if any.
    pub(crate) fn cached(&self, digest: &[u8; 32]) -> Option<Outcome> {
        self.answers.as_ref()?.get(digest)
    }

    /// The answer for this token: remembered, or asked for (once for concurrent callers).
    ///
    /// A caller that goes away (its client hung up) changes nothing: once a permit is
    /// taken, the request runs on a task of its own, holds the permit until the endpoint
    /// answered or timed out, charges its failure to the budget, and tells whoever still
    /// waits. A caller that goes away while still waiting for a permit asked nothing; the
    /// next caller of the token takes its place.
    pub(crate) async fn introspect(
        self: &Arc<Self>,
        token: &str,
        digest: [u8; 32],
    ) -> Result<Outcome, Error> {
        loop {
            if let Some(outcome) = self.cached(&digest) {
                return Ok(outcome);
            }
            let (mut attempt, lead) = self.join(digest);
            if let Some(lead) = lead {
                self.lead(token, lead).await;
            }
            // A closed channel without a result: the leader went away before its request
            // started. Go again.
            if let Ok(result) = attempt.wait_for(Option::is_some).await {
                if let Some(result) = &*result {
                    return result.clone();
                }
            }
        }
    }

    /// The attempt under way for this token, or a new one that this caller leads.
    fn join(self: &Arc<Self>, digest: [u8; 32]) -> (Attempt, Option<Lead>) {
        let mut in_flight = lock(&self.in_flight);
        if let Some(attempt) = in_flight.get(&digest) {
            return (attempt.clone(), None);
        }
        let (sender, attempt) = watch::channel(None);
        in_flight.insert(digest, attempt.clone());
        let lead = Lead {
            introspector: Arc::clone(self),
            digest,
            sender,
        };
        (attempt, Some(lead))
    }

    /// Waits for the budget and a permit, then starts the request on a task of its own.
    async fn lead(self: &Arc<Self>, token: &str, lead: Lead) {
        let permit = match self.limiter.admit().await {
            Ok(permit) => permit,
            Err(error) => return lead.finish(Err(error)),
        };
        let this = Arc::clone(self);
        let token = token.to_owned();
        let request = async move {
            let result = this.ask_and_settle(&token, lead.digest).await;
            drop(permit);
            lead.finish(result);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(request)),
            Err(_) => request.await,
        }
    }

    /// One request, its outcome recorded: the answer remembered, a failure charged to
    /// the budget. A refusal of this one token is neither.
    async fn ask_and_settle(&self, token: &str, digest: [u8; 32]) -> Result<Outcome, Error> {
        let started = Instant::now();
        match self.ask(token).await {
            Ok(Reply::Answer(answer)) => {
                self.limiter.answered();
                let policy = AnswerPolicy {
                    issuer: &self.issuer,
                    allow_without_audience: self.allow_without_audience,
                    cache_ttl: self.cache_ttl,
                };
                let outcome = policy.outcome(answer, crate::clock::unix_now());
                let result = if outcome.is_ok() {
                    "active"
                } else {
                    "inactive"
                };
                crate::metrics::introspection(&self.issuer, result, started.elapsed());
                if let Some(answers) = &self.answers {
                    answers.insert(digest, outcome.clone());
                }
                Ok(outcome)
            }
            Ok(Reply::Refused(status)) => {
                crate::metrics::introspection(&self.issuer, "refused", started.elapsed());
                // Neither remembered nor a sign of health: a refusal must not reopen a
                // budget that an outage closed, nor be cached as a verdict.
                tracing::debug!(status, "the introspection endpoint refused this token");
                Ok(Err(InvalidToken::Inactive))
            }
            Err(failure) => {
                crate::metrics::introspection(&self.issuer, "error", started.elapsed());
                let (wait, first) = self.limiter.failed(started);
                let retry_in_ms = wait.as_millis() as u64;
                tracing::debug!(%failure, "introspection failed");
                if first {
                    if let Failure::Credentials(status) = failure {
                        tracing::warn!(
                            status,
                            retry_in_ms,
                            "the introspection endpoint refused our client credentials; backing off"
                        );
                    } else {
                        tracing::warn!(%failure, retry_in_ms, "introspection failed; backing off");
                    }
                }
                Err(Error::IssuerUnavailable { retry_after: wait })
            }
        }
    }

    async fn endpoint(&self) -> Result<&Url, Error> {
        self.endpoint
            .get_or_try_init(|| async {
                let metadata = fetch_metadata(&self.client, &self.issuer, &self.limits)
                    .await
                    .map_err(|failed| unavailable(&failed.error))?;
                let url = metadata
                    .document
                    .get("introspection_endpoint")
                    .and_then(Value::as_str)
                    .and_then(|u| Url::parse(u).ok())
                    .filter(|u| scheme_allowed(u, self.limits.allow_http))
                    .ok_or_else(|| {
                        tracing::warn!(
                            "the issuer's metadata has no usable introspection_endpoint"
                        );
                        Error::IssuerUnavailable {
                            retry_after: Duration::from_secs(30),
                        }
                    })?;
                Ok(url)
            })
            .await
    }

    /// One request to the endpoint (RFC 7662 section 2.1), its response sorted by
    /// [`response::classify`].
    async fn ask(&self, token: &str) -> Result<Reply, Failure> {
        let url = self.endpoint().await?.clone();
        // The one scheme policy, before the token or the secret leaves this process.
        check_url(&url, self.limits.allow_http).map_err(|error| unavailable(&error))?;
        let mut form = vec![("token", token), ("token_type_hint", "access_token")];
        let request = self
            .client
            .post(url.clone())
            .header(ACCEPT, "application/json");
        let request = self
            .credentials
            .authenticate(request, &mut form)
            .ok_or_else(|| unavailable(&FetchError::Invalid("unusable client credentials")))?;
        let response = async {
            let response = request
                .form(&form)
                .send()
                .await
                .map_err(FetchError::Transport)?;
            check_not_redirected(&url, &response)?;
            response::read(response, &self.limits).await
        };
        let (status, body) = tokio::time::timeout(self.limits.timeout, response)
            .await
            .unwrap_or(Err(FetchError::Timeout))?;
        response::classify(status, &body)
    }
}

fn unavailable(error: &FetchError) -> Error {
    tracing::debug!(%error, "introspection failed");
    Error::IssuerUnavailable {
        retry_after: Duration::from_secs(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn introspector(max_concurrent: usize, timeout: Duration) -> Arc<Introspector> {
        let mut settings = Settings {
            endpoint: Some("https://issuer.example/introspect".into()),
            max_concurrent,
            ..introspector_settings()
        };
        settings.limits.timeout = timeout;
        Arc::new(Introspector::new(settings).unwrap())
    }

    #[test]
    fn a_configured_endpoint_must_be_an_https_url() {
        let with = |endpoint: &str| {
            let settings = Settings {
                endpoint: Some(endpoint.into()),
                ..introspector_settings()
            };
            Introspector::new(settings).map(drop)
        };
        assert_eq!(
            with("not a url"),
            Err("introspection_endpoint is not a URL")
        );
        assert_eq!(
            with("http://issuer.example/introspect"),
            Err("introspection_endpoint must use https")
        );
        assert!(with("http://127.0.0.1:9/introspect").is_ok(), "loopback");
        assert!(with("https://issuer.example/introspect").is_ok());
    }

    fn introspector_settings() -> Settings {
        Settings {
            issuer: "https://issuer.example".into(),
            credentials: Credentials {
                client_id: "rs".into(),
                client_secret: "secret".into(),
                auth: ClientAuth::ClientSecretBasic,
            },
            endpoint: None,
            cache_ttl: seconds(60),
            cache_size: 10,
            max_concurrent: 1,
            allow_without_audience: false,
            client: reqwest::Client::new(),
            limits: FetchLimits {
                timeout: seconds(5),
                max_body: 1024,
                allow_http: false,
            },
        }
    }

    /// `base * 2^(n-1)` plus up to 25 % jitter.
    fn assert_backoff(wait: Duration, base: Duration) {
        assert!(
            wait >= base && wait <= base + base / 4,
            "{wait:?} for {base:?}"
        );
    }

    /// Introspects a token, expecting 503: its `Retry-After` and how long the call took.
    async fn refused(introspector: &Arc<Introspector>) -> (Duration, Duration) {
        let started = Instant::now();
        let error = introspector
            .introspect("opaque", [7; 32])
            .await
            .unwrap_err();
        let Error::IssuerUnavailable { retry_after } = error else {
            panic!("{error:?}");
        };
        (retry_after, started.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_free_permit_in_time_the_answer_is_503_and_the_endpoint_is_not_blamed() {
        let timeout = seconds(5);
        let introspector = introspector(1, timeout);
        let _taken = introspector.limiter.permits.acquire().await.unwrap();
        let (retry_after, waited) = refused(&introspector).await;
        assert_eq!(waited, timeout, "waited the fetch timeout, no longer");
        assert_eq!(retry_after, INTROSPECTION_RETRY_DELAY);
        assert!(introspector.limiter.allows().is_ok());
        assert_eq!(introspector.limiter.consecutive_failures(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn callers_waiting_on_one_token_share_a_failed_attempt_instead_of_queueing_again() {
        let timeout = seconds(5);
        let introspector = introspector(1, timeout);
        let _taken = introspector.limiter.permits.acquire().await.unwrap();
        let started = Instant::now();
        let (a, b, c) = tokio::join!(
            refused(&introspector),
            refused(&introspector),
            refused(&introspector)
        );
        assert_eq!(
            started.elapsed(),
            timeout,
            "one wait for all, not three in turn"
        );
        assert_eq!([a.1, b.1, c.1], [timeout; 3]);
        // A caller arriving after that failure tries again for itself.
        let (_, waited) = refused(&introspector).await;
        assert_eq!(waited, timeout);
    }

    #[tokio::test(start_paused = true)]
    async fn while_the_budget_is_closed_no_request_is_made() {
        let introspector = introspector(1, seconds(5));
        introspector.limiter.failed(Instant::now());
        // Every permit taken: a request attempt would wait the whole timeout first.
        let _taken = introspector.limiter.permits.acquire().await.unwrap();
        let (retry_after, waited) = refused(&introspector).await;
        assert_eq!(waited, Duration::ZERO, "refused at once");
        assert_backoff(retry_after, INTROSPECTION_RETRY_DELAY);
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_that_goes_away_while_queued_hands_the_attempt_to_the_next() {
        let timeout = seconds(5);
        let introspector = introspector(1, timeout);
        let _taken = introspector.limiter.permits.acquire().await.unwrap();
        let leader = {
            let introspector = introspector.clone();
            tokio::spawn(async move { introspector.introspect("opaque", [7; 32]).await })
        };
        tokio::time::sleep(seconds(1)).await;
        let follower = {
            let introspector = introspector.clone();
            tokio::spawn(async move { refused(&introspector).await })
        };
        tokio::time::sleep(seconds(1)).await;
        // The leader's client hangs up while it waits for a permit: it asked nothing.
        leader.abort();
        let (retry_after, waited) = follower.await.unwrap();
        // The follower led from then on, and waited a whole timeout of its own.
        assert_eq!(waited, seconds(1) + timeout);
        assert_eq!(retry_after, INTROSPECTION_RETRY_DELAY);
        assert!(
            lock(&introspector.in_flight).is_empty(),
            "nothing left behind"
        );
    }
}
