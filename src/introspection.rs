//! Opaque tokens: RFC 7662 token introspection.
//!
//! The validator posts the token to the issuer's `introspection_endpoint` (from discovery,
//! or configured), authenticating as a client (`client_secret_basic` or
//! `client_secret_post`, RFC 6749 section 2.3.1), and maps the answer to the same
//! [`Claims`] a JWT gives:
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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

use crate::claims::Claims;
use crate::error::{Error, InvalidToken};
use crate::jwks::{
    FetchError, FetchLimits, backoff, check_not_redirected, check_url, fetch_metadata,
    scheme_allowed,
};

/// After a failed introspection request, how long tokens not answered yet are refused
/// (503) before the endpoint is asked again: an outage costs the issuer about one request
/// a second per API instance instead of one per incoming request, and a blip costs a
/// second. Doubles with each failure in a row.
pub const INTROSPECTION_RETRY_DELAY: Duration = Duration::from_secs(1);
/// The longest wait between two introspection attempts while the endpoint keeps failing:
/// recovery is noticed within half a minute.
pub const MAX_INTROSPECTION_RETRY_DELAY: Duration = Duration::from_secs(30);

/// How the resource server authenticates to the introspection endpoint (RFC 7662
/// section 2.1 requires some authentication; RFC 6749 section 2.3.1 defines these two).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientAuth {
    /// HTTP Basic with the form-urlencoded client id and secret (the default; the
    /// method every server must support).
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
}

/// Which tokens are verified locally as JWTs and which are introspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TokenFormat {
    /// Every token is a JWT, verified with the issuer's keys (the default without
    /// introspection).
    #[default]
    Jwt,
    /// Every token is introspected (the default with introspection).
    Opaque,
    /// A token shaped like a JWS (three segments, a JSON header) is verified locally;
    /// any other is introspected. Routing is by shape alone: a JWT that fails
    /// verification is refused, never introspected instead.
    JwtOrOpaque,
}

/// The introspection settings given to the builder.
#[derive(Debug, Clone)]
pub(crate) struct IntrospectionConfig {
    pub(crate) client_id: String,
    /// Redacted in `Debug`; exposed only to build the request.
    pub(crate) client_secret: SecretString,
    pub(crate) endpoint: Option<String>,
    pub(crate) auth: ClientAuth,
    pub(crate) cache_ttl: Duration,
    pub(crate) cache_size: u64,
    pub(crate) max_concurrent: usize,
    /// Accept answers that name no audience
    /// ([`allow_introspection_without_audience`](crate::ValidatorBuilder::allow_introspection_without_audience)).
    pub(crate) allow_without_audience: bool,
}

/// What an introspection decided, cached.
type Outcome = Result<Claims, InvalidToken>;

/// What the callers of one token's attempt are told when it ends: the endpoint's verdict,
/// or why there is none (503).
type Attempt = watch::Receiver<Option<Result<Outcome, Error>>>;

/// Posts tokens to the introspection endpoint and remembers the answers.
pub(crate) struct Introspector {
    issuer: String,
    config: IntrospectionConfig,
    endpoint: OnceCell<Url>,
    client: reqwest::Client,
    limits: FetchLimits,
    allow_http: bool,
    /// Answers by token digest; `None` when configured to remember none
    /// (`introspection_cache_ttl(0)` or `token_cache_size(0)`).
    answers: Option<moka::sync::Cache<[u8; 32], Outcome>>,
    /// The attempt under way for a token digest, from the moment a caller starts waiting
    /// for a permit until its request ended: concurrent callers of one token share it.
    in_flight: Mutex<HashMap<[u8; 32], Attempt>>,
    /// Permits for requests in flight.
    permits: Arc<Semaphore>,
    /// When the endpoint may be asked again after failures.
    budget: Mutex<Budget>,
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

/// What the endpoint said about a token.
#[derive(Debug)]
enum Reply {
    /// An RFC 7662 section 2.2 answer.
    Answer(Map<String, Value>),
    /// A 4xx about this token (a firewall in front of the server refusing what it looks
    /// like, a token the server cannot parse): no verdict on the endpoint.
    Refused(u16),
}

/// Why the endpoint gave no answer: counted against it in the failure budget.
#[derive(Debug)]
enum Failure {
    /// No usable endpoint (discovery failed, or named none).
    Unavailable(Error),
    /// Unreachable, timed out, 5xx, 408, 429, or a success that is not a JSON object.
    Endpoint(FetchError),
    /// Our client credentials were refused: 401 (RFC 7662 section 2.3), or any 4xx whose
    /// body is an RFC 6749 section 5.2 `invalid_client` or `unauthorized_client` error.
    Credentials(u16),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Unavailable(error)
    }
}

impl From<FetchError> for Failure {
    fn from(error: FetchError) -> Self {
        Failure::Endpoint(error)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Unavailable(error) => write!(f, "no usable endpoint: {error}"),
            Failure::Endpoint(error) => error.fmt(f),
            Failure::Credentials(status) => {
                write!(f, "client credentials refused (HTTP status {status})")
            }
        }
    }
}

/// How much of a refusal's body is read: enough for an RFC 6749 error object, no more.
const REFUSAL_BODY_BYTES: usize = 4 * 1024;

/// Sorts the endpoint's response (RFC 7662 section 2.3). Only what says the endpoint or
/// our client is at fault is a [`Failure`]; a 4xx about one token is that token's refusal,
/// or anyone able to make a firewall in front of the server refuse one chosen token
/// (`Bearer ../../../../etc/passwd` is a valid bearer token) would close introspection
/// for every other token.
///
/// - 2xx: the answer, which must be a JSON object;
/// - 401: the server refused our client credentials, as RFC 7662 section 2.3 says it
///   does; so does any 4xx carrying an RFC 6749 section 5.2 `invalid_client` (or
///   `unauthorized_client`) error, which a firewall does not answer;
/// - 408, 429: about our requests (too slow, too many), not about a token;
/// - any other 4xx (400, 403, 404, 413, ...): about this token;
/// - anything else (5xx, an unfollowed 3xx): the endpoint failed.
fn classify(status: u16, body: &[u8]) -> Result<Reply, Failure> {
    let names_our_client = || {
        serde_json::from_slice::<Map<String, Value>>(body)
            .ok()
            .and_then(|error| {
                let code = error.get("error")?.as_str()?;
                Some(code == "invalid_client" || code == "unauthorized_client")
            })
            .unwrap_or(false)
    };
    match status {
        200..=299 => serde_json::from_slice(body)
            .map(Reply::Answer)
            .map_err(|error| Failure::Endpoint(FetchError::NotJson(error))),
        401 => Err(Failure::Credentials(status)),
        408 | 429 => Err(Failure::Endpoint(FetchError::Status(status))),
        400..=499 if names_our_client() => Err(Failure::Credentials(status)),
        400..=499 => Ok(Reply::Refused(status)),
        _ => Err(Failure::Endpoint(FetchError::Status(status))),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere while it was held; the data is whole.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
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

impl Introspector {
    pub(crate) fn new(
        issuer: String,
        config: IntrospectionConfig,
        client: reqwest::Client,
        limits: FetchLimits,
        allow_http: bool,
    ) -> Result<Self, &'static str> {
        let endpoint = OnceCell::new();
        if let Some(url) = &config.endpoint {
            let url = Url::parse(url).map_err(|_| "introspection_endpoint is not a URL")?;
            if !scheme_allowed(&url, allow_http) {
                return Err("introspection_endpoint must use https");
            }
            let _ = endpoint.set(url);
        }
        // Zero (either setting): nothing remembered, every request introspected; callers
        // of one token still share the attempt under way.
        let remember = config.cache_size > 0 && !config.cache_ttl.is_zero();
        let answers = remember.then(|| {
            moka::sync::Cache::builder()
                .max_capacity(config.cache_size)
                .time_to_live(config.cache_ttl)
                .build()
        });
        // `build()` refuses zero; one permit is the least that works.
        let permits = Arc::new(Semaphore::new(config.max_concurrent.max(1)));
        Ok(Introspector {
            issuer,
            config,
            endpoint,
            client,
            limits,
            allow_http,
            answers,
            in_flight: Mutex::default(),
            permits,
            budget: Mutex::default(),
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
        let permit = match self.admit().await {
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

    /// A permit, if the failure budget allows a request and one frees up in time.
    async fn admit(&self) -> Result<OwnedSemaphorePermit, Error> {
        self.budget_allows()?;
        let permits = Arc::clone(&self.permits);
        let permit = tokio::time::timeout(self.limits.timeout, permits.acquire_owned()).await;
        let Ok(Ok(permit)) = permit else {
            tracing::debug!("introspection endpoint busy: every permit taken");
            return Err(Error::KeysUnavailable {
                retry_after: INTROSPECTION_RETRY_DELAY,
            });
        };
        // A request that failed while we waited for the permit closes the budget.
        self.budget_allows()?;
        Ok(permit)
    }

    /// One request, its outcome recorded: the answer remembered, a failure charged to
    /// the budget. A refusal of this one token is neither.
    async fn ask_and_settle(&self, token: &str, digest: [u8; 32]) -> Result<Outcome, Error> {
        let started = Instant::now();
        let reply = self.ask(token).await;
        let mut budget = lock(&self.budget);
        match reply {
            Ok(Reply::Answer(answer)) => {
                if budget.consecutive_failures > 0 {
                    tracing::info!("introspection endpoint recovered");
                }
                *budget = Budget::default();
                drop(budget);
                let outcome = self.outcome(answer);
                if let Some(answers) = &self.answers {
                    answers.insert(digest, outcome.clone());
                }
                Ok(outcome)
            }
            Ok(Reply::Refused(status)) => {
                // Neither remembered nor a sign of health: a refusal must not reopen a
                // budget that an outage closed, nor be cached as a verdict.
                tracing::debug!(status, "the introspection endpoint refused this token");
                Ok(Err(InvalidToken::Inactive))
            }
            Err(failure) => {
                let (wait, first) = budget.failed(started, Instant::now());
                drop(budget);
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
                Err(Error::KeysUnavailable { retry_after: wait })
            }
        }
    }

    /// `Err(503)` with the time left while the failure budget forbids a request.
    fn budget_allows(&self) -> Result<(), Error> {
        let budget = lock(&self.budget);
        // One reading of the clock: the wait is what is left of the window it saw.
        let now = Instant::now();
        match budget.next_allowed {
            Some(next) if next > now => Err(Error::KeysUnavailable {
                retry_after: next - now,
            }),
            _ => Ok(()),
        }
    }

    async fn endpoint(&self) -> Result<&Url, Error> {
        self.endpoint
            .get_or_try_init(|| async {
                let (metadata, _) = fetch_metadata(&self.client, &self.issuer, &self.limits)
                    .await
                    .map_err(|error| unavailable(&error))?;
                let url = metadata
                    .get("introspection_endpoint")
                    .and_then(Value::as_str)
                    .and_then(|u| Url::parse(u).ok())
                    .filter(|u| scheme_allowed(u, self.allow_http))
                    .ok_or_else(|| {
                        tracing::warn!(
                            "the issuer's metadata has no usable introspection_endpoint"
                        );
                        Error::KeysUnavailable {
                            retry_after: Duration::from_secs(30),
                        }
                    })?;
                Ok(url)
            })
            .await
    }

    /// One request to the endpoint (RFC 7662 section 2.1), its response sorted by
    /// [`classify`].
    async fn ask(&self, token: &str) -> Result<Reply, Failure> {
        let url = self.endpoint().await?.clone();
        // The one scheme policy, before the token or the secret leaves this process.
        check_url(&url, self.allow_http).map_err(|error| unavailable(&error))?;
        let mut form = vec![("token", token), ("token_type_hint", "access_token")];
        let mut request = self
            .client
            .post(url.clone())
            .header(ACCEPT, "application/json");
        match self.config.auth {
            ClientAuth::ClientSecretBasic => {
                let credentials = format!(
                    "{}:{}",
                    form_urlencode(&self.config.client_id),
                    form_urlencode(self.config.client_secret.expose_secret())
                );
                use base64::Engine;
                let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
                // Sensitive, as `RequestBuilder::basic_auth` marks it: kept out of
                // debug output and of HTTP/2 header compression tables.
                let mut value =
                    HeaderValue::from_str(&format!("Basic {encoded}")).map_err(|_| {
                        unavailable(&FetchError::Invalid("unusable client credentials"))
                    })?;
                value.set_sensitive(true);
                request = request.header(AUTHORIZATION, value);
            }
            ClientAuth::ClientSecretPost => {
                form.push(("client_id", &self.config.client_id));
                form.push(("client_secret", self.config.client_secret.expose_secret()));
            }
        }
        let limits = &self.limits;
        let response = async {
            let mut response = request
                .form(&form)
                .send()
                .await
                .map_err(FetchError::Transport)?;
            check_not_redirected(&url, &response)?;
            let status = response.status();
            // An answer is read up to the body cap; a refusal only as far as it takes to
            // see whose fault it is (a firewall's page may be of any size).
            let success = status.is_success();
            let cap = if success {
                limits.max_body
            } else {
                REFUSAL_BODY_BYTES
            };
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(FetchError::Transport)? {
                if body.len() + chunk.len() > cap {
                    if success {
                        return Err(FetchError::TooLarge(limits.max_body));
                    }
                    body.extend_from_slice(&chunk[..cap - body.len()]);
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok((status.as_u16(), body))
        };
        let (status, body) = tokio::time::timeout(limits.timeout, response)
            .await
            .unwrap_or(Err(FetchError::Timeout))?;
        classify(status, &body)
    }

    /// Maps an introspection answer to claims (RFC 7662 section 2.2).
    fn outcome(&self, mut answer: Map<String, Value>) -> Outcome {
        if answer.remove("active") != Some(Value::Bool(true)) {
            return Err(InvalidToken::Inactive);
        }
        // A refresh token (or any other kind the server can introspect) is not an access
        // token, whatever else its answer says.
        if answer
            .get("token_type")
            .is_some_and(|t| !is_access_token_type(t))
        {
            return Err(InvalidToken::WrongType);
        }
        // Members the answer leaves out are vouched for by the endpoint we asked: our
        // issuer, our audience; without `exp`, the cache bound limits the trust.
        match answer.get("iss") {
            None => {
                answer.insert("iss".into(), json!(self.issuer));
            }
            Some(Value::String(iss)) if *iss == self.issuer => {}
            Some(_) => return Err(InvalidToken::WrongIssuer),
        }
        // No `aud` (or an empty one): the server bound the token to no resource, so it
        // would pass at every API that introspects here. Refused, unless configured;
        // then recorded as no audience rather than inventing ours, which `accept` lets
        // through (RFC 7662 section 2.2 makes `aud` optional) and handlers see exactly
        // what the server said.
        let unrestricted = match answer.get("aud") {
            None | Some(Value::Null) => true,
            Some(Value::Array(audiences)) => audiences.is_empty(),
            Some(_) => false,
        };
        if unrestricted {
            if !self.config.allow_without_audience {
                return Err(InvalidToken::WrongAudience);
            }
            answer.insert("aud".into(), json!([]));
        }
        answer.entry("exp").or_insert_with(|| {
            json!(crate::validator::unix_now() + self.config.cache_ttl.as_secs() as i64)
        });
        let bytes = serde_json::to_vec(&answer).map_err(|_| InvalidToken::Malformed)?;
        Claims::from_payload(bytes)
    }
}

/// The `token_type` values of an access token (RFC 7662 section 2.2 uses the token types
/// of RFC 6749 section 7.1): `Bearer` (RFC 6750), `DPoP` (RFC 9449), compared
/// case-insensitively as RFC 6749 section 5.1 says, and the names servers use for the
/// kind of token, `access_token` (RFC 7009 section 2.1 token type hints) and its RFC 8693
/// section 3 URI. Anything else present (`refresh_token`, a number, ...) is refused; an
/// answer without `token_type` is not refused for it.
fn is_access_token_type(token_type: &Value) -> bool {
    const ACCESS_TOKEN_TYPES: [&str; 4] = [
        "Bearer",
        "DPoP",
        "access_token",
        "urn:ietf:params:oauth:token-type:access_token",
    ];
    token_type.as_str().is_some_and(|t| {
        ACCESS_TOKEN_TYPES
            .iter()
            .any(|access| t.eq_ignore_ascii_case(access))
    })
}

fn unavailable(error: &FetchError) -> Error {
    tracing::debug!(%error, "introspection failed");
    Error::KeysUnavailable {
        retry_after: Duration::from_secs(1),
    }
}

/// `application/x-www-form-urlencoded` encoding of one value (RFC 6749 appendix B), as
/// Basic credentials must be encoded before base64 (RFC 6749 section 2.3.1).
pub(crate) fn form_urlencode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Whether a token looks like a compact JWS: three segments, the first a base64url
/// JSON object. Only for routing: the JWT path then checks everything.
pub(crate) fn looks_like_jwt(token: &str) -> bool {
    use base64::Engine;
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    // The first 4 characters decode to the first 3 bytes: `{"` starts any JSON object
    // header, possibly after whitespace.
    let prefix = header.get(..4).unwrap_or(header);
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(prefix)
        .is_ok_and(|bytes| bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_form_urlencoded() {
        assert_eq!(form_urlencode("a b:c/d"), "a+b%3Ac%2Fd");
        assert_eq!(form_urlencode("plain-id_1.x"), "plain-id_1.x");
    }

    #[test]
    fn only_access_token_types_pass() {
        for t in [
            "Bearer",
            "bearer",
            "DPoP",
            "dpop",
            "access_token",
            "ACCESS_TOKEN",
        ] {
            assert!(is_access_token_type(&json!(t)), "{t}");
        }
        assert!(is_access_token_type(&json!(
            "urn:ietf:params:oauth:token-type:access_token"
        )));
        for t in [
            json!("refresh_token"),
            json!("urn:ietf:params:oauth:token-type:refresh_token"),
            json!("id_token"),
            json!("Bearer "),
            json!(""),
            json!(null),
            json!(true),
            json!(["Bearer"]),
        ] {
            assert!(!is_access_token_type(&t), "{t}");
        }
    }

    #[test]
    fn jwt_shape_is_three_segments_and_a_json_header() {
        assert!(looks_like_jwt("eyJhbGciOiJSUzI1NiJ9.e30.c2ln"));
        assert!(!looks_like_jwt("2YotnFZFEjr1zCsicMWpAA"));
        assert!(!looks_like_jwt("a.b.c"));
        assert!(!looks_like_jwt("eyJhbGciOiJSUzI1NiJ9.e30"));
    }

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

    fn introspector(max_concurrent: usize, timeout: Duration) -> Arc<Introspector> {
        let config = IntrospectionConfig {
            client_id: "rs".into(),
            client_secret: "secret".into(),
            endpoint: Some("https://issuer.example/introspect".into()),
            auth: ClientAuth::ClientSecretBasic,
            cache_ttl: seconds(60),
            cache_size: 10,
            max_concurrent,
            allow_without_audience: false,
        };
        let limits = FetchLimits {
            timeout,
            max_body: 1024,
            allow_http: false,
        };
        Arc::new(
            Introspector::new(
                "https://issuer.example".into(),
                config,
                reqwest::Client::new(),
                limits,
                false,
            )
            .unwrap(),
        )
    }

    /// Introspects a token, expecting 503: its `Retry-After` and how long the call took.
    async fn refused(introspector: &Arc<Introspector>) -> (Duration, Duration) {
        let started = Instant::now();
        let error = introspector
            .introspect("opaque", [7; 32])
            .await
            .unwrap_err();
        let Error::KeysUnavailable { retry_after } = error else {
            panic!("{error:?}");
        };
        (retry_after, started.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_free_permit_in_time_the_answer_is_503_and_the_endpoint_is_not_blamed() {
        let timeout = seconds(5);
        let introspector = introspector(1, timeout);
        let _taken = introspector.permits.acquire().await.unwrap();
        let (retry_after, waited) = refused(&introspector).await;
        assert_eq!(waited, timeout, "waited the fetch timeout, no longer");
        assert_eq!(retry_after, INTROSPECTION_RETRY_DELAY);
        assert!(introspector.budget_allows().is_ok());
        assert_eq!(introspector.budget.lock().unwrap().consecutive_failures, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn callers_waiting_on_one_token_share_a_failed_attempt_instead_of_queueing_again() {
        let timeout = seconds(5);
        let introspector = introspector(1, timeout);
        let _taken = introspector.permits.acquire().await.unwrap();
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
        introspector
            .budget
            .lock()
            .unwrap()
            .failed(Instant::now(), Instant::now());
        // Every permit taken: a request attempt would wait the whole timeout first.
        let _taken = introspector.permits.acquire().await.unwrap();
        let (retry_after, waited) = refused(&introspector).await;
        assert_eq!(waited, Duration::ZERO, "refused at once");
        assert_backoff(retry_after, INTROSPECTION_RETRY_DELAY);
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_that_goes_away_while_queued_hands_the_attempt_to_the_next() {
        let timeout = seconds(5);
        let introspector = introspector(1, timeout);
        let _taken = introspector.permits.acquire().await.unwrap();
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

    #[test]
    fn only_endpoint_and_credential_failures_count_against_the_endpoint() {
        let answer = classify(200, br#"{"active":false}"#).unwrap();
        assert!(matches!(answer, Reply::Answer(map) if map["active"] == false));
        // Our credentials: 401 whatever its body (RFC 7662 section 2.3), and any 4xx
        // that names our client (RFC 6749 section 5.2).
        for (status, body) in [
            (401, &b""[..]),
            (401, b"<html>no</html>"),
            (400, br#"{"error":"invalid_client"}"#),
            (
                403,
                br#"{"error":"unauthorized_client","error_description":"x"}"#,
            ),
        ] {
            assert!(
                matches!(classify(status, body), Err(Failure::Credentials(s)) if s == status),
                "{status}"
            );
        }
        // One token's refusal: a firewall's page, an RFC 6749 error about the request.
        for (status, body) in [
            (400, &b""[..]),
            (403, b"<html>Request blocked</html>"),
            (400, br#"{"error":"invalid_request"}"#),
            (404, b""),
            (413, b""),
        ] {
            assert!(
                matches!(classify(status, body), Ok(Reply::Refused(s)) if s == status),
                "{status}"
            );
        }
        // The endpoint: 5xx, timeouts and rate limits, an unfollowed redirect, non-JSON.
        for (status, body) in [
            (500, &b""[..]),
            (503, b""),
            (408, b""),
            (429, b""),
            (302, b""),
            (200, b"not json"),
            (200, b"[]"),
        ] {
            assert!(
                matches!(classify(status, body), Err(Failure::Endpoint(_))),
                "{status}"
            );
        }
    }
}
