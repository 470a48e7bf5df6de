//! [`Validator`]: the one entry point of all policy, and its builder.
//!
//! ```no_run
//! # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use tokengate::Validator;
//!
//! let validator = Validator::builder()
//!     .issuer("https://login.example.com")
//!     .audience("https://api.example.com")
//!     .build()?;
//!
//! let claims = validator.validate(token).await?;
//! println!("hello, {:?}", claims.subject());
//! # Ok(()) }
//! ```
//!
//! A token's way through: [`Validator`] routes it once (its size, the token cache, its
//! shape: a JWS parsed, or an opaque token for introspection), to one issuer of
//! [`any_of`](Validator::any_of) by its `iss`; that issuer's pipeline decides it from
//! memory when it can and after the network otherwise, with the same parsed JWS; the
//! claims are checked by the issuer's policy (`iss`, `aud`, `exp`, `nbf`, `typ`) and
//! remembered.
//!
//! - `any_of.rs`: several issuers, one shared token cache;
//! - `issuer.rs`: one issuer's pipeline, the [`Route`](issuer::Route) of a token;
//! - `policy.rs`: the claim checks as a value applied to claims;
//! - `token_cache.rs`: verified tokens by digest;
//! - `builder.rs`, `key_source.rs`, `config_error.rs`, `defaults.rs`: configuration.

mod any_of;
mod audience;
mod builder;
mod config_error;
pub mod defaults;
mod explain;
mod issuer;
mod issuer_template;
mod key_source;
mod policy;
mod ready;
mod rejection;
mod token_cache;

use std::fmt;
use std::sync::Arc;

use crate::claims::Claims;
use crate::clock::unix_now;
use crate::error::Error;
use crate::jwks::KeySetStats;
use any_of::Issuers;
use issuer::{Checked, Issuer, Parked};

pub use builder::ValidatorBuilder;
pub use config_error::ConfigError;
pub use defaults::*;
pub use explain::{CheckStatus, ExplainedCheck, Explanation};
pub use issuer_template::{TENANT_PLACEHOLDER, TrustedTenants};
pub use key_source::KeySource;
pub(crate) use policy::Presented;
pub use ready::NotReady;

/// Checks bearer tokens: signature, issuer, audience, lifetime. Cheap to clone; clones
/// share their key caches.
///
/// One validator serves one issuer ([`Validator::builder`]) or several
/// ([`Validator::any_of`]): then each token is routed by its `iss` to that issuer's own
/// keys and policy before any key is looked up.
#[derive(Clone)]
pub struct Validator {
    inner: Arc<Kind>,
}

// Held once, behind the Validator's Arc: boxing `One` would only add an indirection to
// every request of the common single-issuer case.
#[allow(clippy::large_enum_variant)]
enum Kind {
    One(Issuer),
    Many(Issuers),
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.inner {
            Kind::One(issuer) => f
                .debug_struct("Validator")
                .field("issuer", &issuer.policy.issuer)
                .field("audience", &issuer.policy.audience)
                .field("algorithms", &issuer.policy.algorithms)
                .finish_non_exhaustive(),
            Kind::Many(_) => f
                .debug_struct("Validator")
                .field("issuers", &self.issuers())
                .finish_non_exhaustive(),
        }
    }
}

impl Validator {
    /// Starts configuring a validator.
    pub fn builder() -> ValidatorBuilder {
        ValidatorBuilder::default()
    }

    /// A validator for tokens from any of these issuers (multi-tenant APIs, migrations
    /// between identity providers), each with its own keys and policy.
    ///
    /// A token is routed by its `iss` claim, read before any key is fetched; the chosen
    /// issuer's validator then checks everything, `iss` included, with its own settings:
    /// audiences, algorithms, leeway, `typ` requirement, token format. A token whose
    /// `iss` no member names exactly goes to the first member (in order of issuers) whose
    /// [issuer template](ValidatorBuilder::issuer_template) it fits, which then compares
    /// it with the template filled with the token's `tid`. A token naming no
    /// configured issuer is refused without any network call: issuers are never "tried
    /// in turn", so one issuer's keys can never vouch for another issuer's tokens.
    ///
    /// Verified tokens of every issuer go into one shared cache, as large as the members'
    /// caches together, each entry naming the issuer that verified it: a repeated token
    /// is found by its digest and answered (after that issuer's `exp`/`nbf` and key
    /// checks) without its payload being decoded again. A member built with
    /// `token_cache_size(0)` keeps its tokens out of it.
    ///
    /// Opaque tokens carry no `iss` to route by: a token not shaped like a JWT goes to
    /// the member configured to introspect opaque tokens
    /// ([`introspection`](ValidatorBuilder::introspection) with
    /// [`TokenFormat::Opaque`](crate::TokenFormat::Opaque) or
    /// [`JwtOrOpaque`](crate::TokenFormat::JwtOrOpaque)). At most one member may be: with
    /// two, nothing in the token says which to ask, and `any_of` refuses
    /// ([`ConfigError::SeveralIntrospectingIssuers`]). With none, opaque tokens are
    /// `invalid_token`.
    ///
    /// ```
    /// # use tokengate::Validator;
    /// let a = Validator::builder().issuer("https://a.example").audience("api").build().unwrap();
    /// let b = Validator::builder().issuer("https://b.example").audience("api").build().unwrap();
    /// let both = Validator::any_of([a, b]).unwrap();
    /// assert_eq!(both.issuers(), ["https://a.example", "https://b.example"]);
    /// ```
    pub fn any_of(
        validators: impl IntoIterator<Item = Validator>,
    ) -> Result<Validator, ConfigError> {
        any_of::any_of(validators)
    }

    /// The issuer whose tokens this validator accepts (the first, in order, of several).
    pub fn issuer(&self) -> &str {
        match &*self.inner {
            Kind::One(issuer) => &issuer.policy.issuer,
            Kind::Many(set) => set.members.first().map_or("", Validator::issuer),
        }
    }

    /// Every issuer whose tokens this validator accepts, sorted.
    pub fn issuers(&self) -> Vec<&str> {
        match &*self.inner {
            Kind::One(issuer) => vec![&issuer.policy.issuer],
            Kind::Many(set) => set.members.iter().map(Validator::issuer).collect(),
        }
    }

    /// Validates a bearer token and returns its verified claims.
    ///
    /// Waits on the network only when the token names a key we have not seen (at most one
    /// fetch per cooldown, shared by all concurrent callers) or no key set was fetched yet.
    pub async fn validate(&self, token: &str) -> Result<Claims, Error> {
        self.validate_as(token, Presented::Bearer).await
    }

    /// Validates a token from memory alone, or returns `None` when the issuer's keys must
    /// be fetched first (an unknown `kid`, or no key set yet): then call
    /// [`validate`](Self::validate). Adapters use it to answer most requests without
    /// allocating a future.
    pub fn try_validate(&self, token: &str) -> Option<Result<Claims, Error>> {
        self.try_validate_as(token, Presented::Bearer)
    }

    /// [`validate`](Self::validate), for a token presented as `presented`.
    pub(crate) async fn validate_as(
        &self,
        token: &str,
        presented: Presented,
    ) -> Result<Claims, Error> {
        match self.check(token, presented) {
            Verdict::Done(result) => result,
            Verdict::Wait(waiting) => waiting.finish().await,
        }
    }

    /// The verdict on `token` from memory, or the validation parked to wait for the
    /// network. The token is routed and parsed once: what waits carries the parsed JWS
    /// on, owning a copy of the token, so the caller may keep it in a future of its own
    /// (the gate's [`Pending`](crate::gate::Pending)).
    pub(crate) fn check(&self, token: &str, presented: Presented) -> Verdict {
        self.check_with(
            || self.route(token),
            presented,
            |member, route, span| {
                Verdict::Wait(Box::new(Waiting {
                    validator: self.clone(),
                    member,
                    parked: route.park(),
                    presented,
                    span,
                }))
            },
        )
        .unwrap_or_else(Verdict::Done)
    }

    /// [`try_validate`](Self::try_validate), for a token presented as `presented`.
    pub(crate) fn try_validate_as(
        &self,
        token: &str,
        presented: Presented,
    ) -> Option<Result<Claims, Error>> {
        self.check_with(|| self.route(token), presented, |_, _, _| ())
            .err()
    }

    /// The verdict on a token the token cache holds byte for byte (a hit, or a refusal
    /// once its lifetime is over), exactly as [`check`](Self::check) would give it; or
    /// `None`, having done nothing, when the cache does not answer it (a miss, or its key
    /// is gone): then check it as usual.
    ///
    /// The gate's hot path, on the token's bytes as they came: a hit is the same bytes as
    /// a token that was verified, so its syntax (`b64token`, RFC 6750 section 2.1, and
    /// UTF-8) needs no checking again; a miss is checked before anything else reads it.
    pub(crate) fn check_remembered(
        &self,
        token: &[u8],
        presented: Presented,
    ) -> Option<Result<Claims, Error>> {
        let (member, issuer, slot, entry) = match &*self.inner {
            Kind::One(issuer) => {
                let (slot, entry) = issuer.lookup(token)?;
                (0, issuer, slot, entry)
            }
            Kind::Many(set) => set.lookup(token)?,
        };
        let now = unix_now();
        if issuer.must_reverify(&entry, now) {
            return None;
        }
        // What `route` makes of this entry (a refusal is one on routing, as there), through
        // the same span, log and counters.
        let route = || {
            let claims = issuer.answer(slot, &entry, now)?;
            Ok((member, issuer, issuer::Routed::Remembered(claims)))
        };
        self.check_with(route, presented, |_, _, _| ()).err()
    }

    /// Routes and checks `token` from memory: `Err` holds the verdict (logged), `Ok` what
    /// `wait` made of the route that needs the network.
    fn check_with<'v, 't, W>(
        &'v self,
        route: impl FnOnce() -> Result<(usize, &'v Issuer, issuer::Routed<'v, 't>), Error>,
        presented: Presented,
        wait: impl FnOnce(usize, issuer::Route<'v, 't>, tracing::Span) -> W,
    ) -> Result<W, Result<Claims, Error>> {
        let span = validation_span();
        // Nothing at all to do for a span no subscriber wants: the common production case.
        let traced = !span.is_disabled();
        let entered = traced.then(|| span.enter());
        let (judge, result) = match route() {
            Ok((member, issuer, routed)) => {
                if traced {
                    span.record("issuer", issuer.policy.issuer.as_str());
                    span.record("cache_hit", matches!(routed, issuer::Routed::Remembered(_)));
                }
                (
                    Some(issuer),
                    match issuer.check_now(routed) {
                        Checked::Done(result) => result,
                        Checked::Fetch(route) => {
                            drop(entered);
                            return Ok(wait(member, route, span));
                        }
                    }
                    .and_then(|claims| issuer.check_binding(claims, presented)),
                )
            }
            // A single issuer judged it even when it was refused on routing.
            Err(error) => match &*self.inner {
                Kind::One(issuer) => (Some(issuer), Err(error)),
                Kind::Many(_) => (None, Err(error)),
            },
        };
        count_outcome(judge, &result);
        record_outcome(&span, &result);
        drop(entered);
        Err(result)
    }

    /// Fetches the issuers' keys now, so the first request does not wait for them.
    ///
    /// Counts as a fetch for the refresh cooldown. An error here is not fatal: requests
    /// get 503 until a later fetch succeeds.
    pub async fn prefetch_keys(&self) -> Result<(), Error> {
        match &*self.inner {
            Kind::One(issuer) => issuer.keys.prefetch().await,
            Kind::Many(set) => {
                let mut result = Ok(());
                for validator in &set.members {
                    if let Err(error) = Box::pin(validator.prefetch_keys()).await {
                        result = Err(error);
                    }
                }
                result
            }
        }
    }

    /// Whether tokens can be verified now: `Ok` once every issuer's key set, with at least
    /// one usable key, is loaded; else each issuer's keys are fetched now and
    /// [`NotReady`] names, per issuer, the precise cause ([`KeyFetchError`]): DNS,
    /// connection, timeout, TLS, an HTTP status with its URL, an unusable discovery
    /// document, an issuer mismatch with both values, a JWKS without a usable key.
    ///
    /// For a readiness endpoint, or to refuse to start without keys. Once keys are
    /// loaded it answers from memory (stale keys still verify, so a later outage does
    /// not make a validator unready). Fetches go through the fetch budget and the single
    /// flight: a probe calling it every second costs the issuer at most one request per
    /// cooldown, and between attempts the last attempt's cause is returned. The issuers
    /// of [`any_of`](Self::any_of) are fetched concurrently; an issuer that only
    /// introspects ([`TokenFormat::Opaque`](crate::TokenFormat::Opaque)) uses no keys and
    /// is not checked.
    ///
    /// ```no_run
    /// # async fn run(validator: tokengate::Validator) {
    /// match validator.ready().await {
    ///     Ok(()) => println!("ready"),
    ///     Err(not_ready) => eprintln!("not ready: {not_ready}"),
    /// }
    /// # }
    /// ```
    ///
    /// [`KeyFetchError`]: crate::KeyFetchError
    pub async fn ready(&self) -> Result<(), NotReady> {
        let issuers = match &*self.inner {
            Kind::One(issuer) => vec![(
                issuer.policy.issuer.clone(),
                ready::key_cache_to_check(issuer),
            )],
            Kind::Many(set) => set
                .members
                .iter()
                .map(|member| {
                    let issuer = member.single();
                    (
                        issuer.policy.issuer.clone(),
                        ready::key_cache_to_check(issuer),
                    )
                })
                .collect(),
        };
        ready::check_all(issuers).await
    }

    /// Counters of the key cache: fetches, failures, `304`s, skipped refetches, the age
    /// and size of the current set (summed over issuers; the oldest age). Cheap; fine for
    /// a health endpoint.
    pub fn key_set_stats(&self) -> KeySetStats {
        match &*self.inner {
            Kind::One(issuer) => issuer.keys.stats(),
            Kind::Many(set) => set.members.iter().map(Validator::key_set_stats).fold(
                KeySetStats::default(),
                |mut sum, s| {
                    sum.fetches += s.fetches;
                    sum.failures += s.failures;
                    sum.not_modified += s.not_modified;
                    sum.skipped += s.skipped;
                    sum.unknown_kid_hits += s.unknown_kid_hits;
                    sum.keys += s.keys;
                    sum.age = sum.age.max(s.age);
                    sum.failing |= s.failing;
                    sum
                },
            ),
        }
    }

    /// The issuer that must judge `token` (and its index among the members), and where
    /// its way goes from there (decided once: see [`Issuer::route`] and
    /// [`Issuers::route`]).
    fn route<'v, 't>(
        &'v self,
        token: &'t str,
    ) -> Result<(usize, &'v Issuer, issuer::Routed<'v, 't>), Error> {
        match &*self.inner {
            Kind::One(issuer) => Ok((0, issuer, issuer.route(token)?)),
            Kind::Many(set) => set.route(token),
        }
    }

    /// Member `member` (the only one of a single-issuer validator).
    fn member(&self, member: usize) -> &Issuer {
        match &*self.inner {
            Kind::One(issuer) => issuer,
            Kind::Many(set) => set.members[member].single(),
        }
    }

    /// The policy of a single-issuer validator (`any_of` stores only those).
    fn single(&self) -> &Issuer {
        match &*self.inner {
            Kind::One(issuer) => issuer,
            Kind::Many(_) => unreachable!("any_of flattens nested sets"),
        }
    }
}

/// What [`Validator::check`] decided without waiting.
pub(crate) enum Verdict {
    /// The verdict, from memory.
    Done(Result<Claims, Error>),
    /// The validation waits on the issuer: [`Waiting::finish`]. Boxed: the slow path
    /// allocates anyway (the token is copied), and the verdict from memory stays small.
    Wait(Box<Waiting>),
}

/// A validation parked to wait on the issuer (a key to fetch, an endpoint to ask). It owns
/// its validator handle, the token and the parsed JWS: nothing is routed or parsed again.
pub(crate) struct Waiting {
    validator: Validator,
    member: usize,
    parked: Parked,
    presented: Presented,
    /// The validation's span, entered again while it waits and finishes.
    span: tracing::Span,
}

impl Waiting {
    /// The verdict, after the network.
    pub(crate) async fn finish(self) -> Result<Claims, Error> {
        use tracing::Instrument;
        let span = self.span.clone();
        async move {
            let issuer = self.validator.member(self.member);
            let result = issuer
                .check_parked(self.parked)
                .await
                .and_then(|claims| issuer.check_binding(claims, self.presented));
            count_outcome(Some(issuer), &result);
            record_outcome(&self.span, &result);
            result
        }
        .instrument(span)
        .await
    }
}

/// The span of one validation, at `debug`: `issuer` (once routed), `outcome`
/// (`accepted`, `rejected`), `reason` (the metric label of a rejection), `cache_hit`
/// (answered from the verified-token cache), `sub`. Without a subscriber that wants it,
/// one check of the call site's cached interest: the hot path stays as it was.
fn validation_span() -> tracing::Span {
    use tracing::field::Empty;
    tracing::debug_span!(
        "tokengate.validate",
        issuer = Empty,
        outcome = Empty,
        reason = Empty,
        cache_hit = Empty,
        sub = Empty
    )
}

/// Records a validation's outcome on its span.
fn record_outcome(span: &tracing::Span, result: &Result<Claims, Error>) {
    if span.is_disabled() {
        return;
    }
    match result {
        Ok(claims) => {
            span.record("outcome", "accepted");
            if let Some(sub) = claims.subject() {
                span.record("sub", sub);
            }
        }
        Err(error) => {
            span.record("outcome", "rejected");
            span.record("reason", crate::metrics::reason(error));
        }
    }
}

/// Counts the outcome. A refusal was logged where it was decided, with what was known
/// of the token there (`rejection.rs`).
fn count_outcome(issuer: Option<&Issuer>, result: &Result<Claims, Error>) {
    crate::metrics::validation(issuer.map(|issuer| &issuer.metrics), result);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::alg::Algorithm;

    use super::*;

    fn base() -> ValidatorBuilder {
        Validator::builder()
            .issuer("https://id.example")
            .audience("api")
    }

    #[test]
    fn builds_with_safe_defaults() {
        assert!(base().build().is_ok());
    }

    #[test]
    fn issuer_without_audience_is_refused() {
        let err = Validator::builder()
            .issuer("https://id.example")
            .build()
            .unwrap_err();
        assert_eq!(err, ConfigError::MissingAudience);
        assert!(err.to_string().contains("audience"));
        assert!(base().audience("").build().is_err());
    }

    #[test]
    fn missing_issuer_is_refused_even_with_a_jwks_url() {
        let err = Validator::builder()
            .jwks_url("https://id.example/jwks")
            .audience("api")
            .build()
            .unwrap_err();
        assert_eq!(err, ConfigError::MissingIssuer);
    }

    #[test]
    fn hmac_cannot_be_named_and_empty_allow_lists_are_refused() {
        // HMAC is not a variant of our Algorithm: no allow-list can hold it.
        assert!("HS256".parse::<Algorithm>().is_err());
        assert_eq!(
            base().algorithms([]).build().unwrap_err(),
            ConfigError::NoAlgorithms
        );
    }

    #[test]
    fn plain_http_is_refused_off_loopback() {
        let http = Validator::builder()
            .issuer("http://id.example")
            .audience("a");
        assert_eq!(
            http.build().unwrap_err(),
            ConfigError::InsecureUrl("issuer")
        );
        let jwks = base().jwks_url("http://id.example/jwks");
        assert_eq!(
            jwks.build().unwrap_err(),
            ConfigError::InsecureUrl("jwks_url")
        );
        let loopback = Validator::builder()
            .issuer("http://127.0.0.1:9")
            .audience("a");
        assert!(loopback.build().is_ok());
    }

    #[test]
    fn static_jwks_must_hold_a_usable_key() {
        let oct = serde_json::json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]});
        assert_eq!(
            base().jwks(oct).build().unwrap_err(),
            ConfigError::InvalidJwks
        );
        assert_eq!(
            base().jwks(serde_json::json!([])).build().unwrap_err(),
            ConfigError::InvalidJwks
        );
    }

    #[test]
    fn absurd_limits_are_refused() {
        assert!(base().leeway(Duration::from_secs(3600)).build().is_err());
        assert!(base().max_token_bytes(0).build().is_err());
        assert!(base().fetch_timeout(Duration::ZERO).build().is_err());
        assert!(base().issuer("not a url").build().is_err());
    }

    #[cfg(feature = "testing")]
    mod token_cache {
        use super::*;
        use crate::clock::unix_now;
        use crate::testing::TestKey;
        use crate::validator::token_cache::cache_key;

        fn mint(key: &TestKey, exp: i64) -> String {
            mint_for(key, "https://id.example", exp)
        }

        fn mint_for(key: &TestKey, iss: &str, exp: i64) -> String {
            key.mint(&serde_json::json!({"iss": iss, "aud": "api", "exp": exp}))
        }

        fn validator(key: &TestKey, size: u64) -> Validator {
            base()
                .jwks(serde_json::json!({"keys": [key.public_jwk()]}))
                .token_cache_size(size)
                .build()
                .unwrap()
        }

        #[test]
        fn verified_tokens_are_remembered_by_digest() {
            let key = TestKey::generate("k", Algorithm::ES256);
            let v = validator(&key, 100);
            let token = mint(&key, unix_now() + 600);
            assert!(v.try_validate(&token).unwrap().is_ok());
            let cache = v.single().token_cache.as_ref().unwrap();
            let entry = cache.get(&cache_key(&token)).expect("remembered");
            let bound = i64::try_from(DEFAULT_TOKEN_CACHE_TTL.as_secs()).unwrap();
            assert!(entry.remember_until <= unix_now() + bound);
            // A hit answers without verifying again: the same claims object comes back.
            let again = v.try_validate(&token).unwrap().unwrap();
            assert!(Arc::ptr_eq(
                &again.inner_for_tests(),
                &entry.claims.inner_for_tests()
            ));
        }

        #[test]
        fn several_issuers_share_one_cache_and_each_entry_names_its_issuer() {
            let member = |iss: &str, key: &TestKey, size: u64| {
                Validator::builder()
                    .issuer(iss)
                    .audience("api")
                    .jwks(serde_json::json!({"keys": [key.public_jwk()]}))
                    .token_cache_size(size)
                    .build()
                    .unwrap()
            };
            let keys: Vec<TestKey> = ["a", "b", "c"]
                .into_iter()
                .map(|kid| TestKey::generate(kid, Algorithm::ES256))
                .collect();
            let issuers = [
                "https://a.example",
                "https://b.example",
                "https://c.example",
            ];
            // Given out of order: members are sorted by issuer, so indexes are 0, 1, 2.
            let set = Validator::any_of([
                member(issuers[2], &keys[2], 0),
                member(issuers[0], &keys[0], 100),
                member(issuers[1], &keys[1], 50),
            ])
            .unwrap();
            let Kind::Many(members) = &*set.inner else {
                unreachable!()
            };
            let cache = members.token_cache.as_ref().expect("a shared cache");
            // The members' 100 + 50, rounded up to whole shards.
            assert!(
                (150..160).contains(&cache.capacity()),
                "{}",
                cache.capacity()
            );

            let tokens: Vec<String> = (0..3)
                .map(|i| mint_for(&keys[i], issuers[i], unix_now() + 600))
                .collect();
            for token in &tokens {
                assert!(set.try_validate(token).unwrap().is_ok());
            }
            for i in 0..2 {
                let entry = cache.get(&cache_key(&tokens[i])).expect("remembered");
                assert_eq!(entry.member, i);
                assert_eq!(entry.claims.issuer(), issuers[i]);
                // The repeat is answered from that entry.
                let again = set.try_validate(&tokens[i]).unwrap().unwrap();
                assert!(Arc::ptr_eq(
                    &again.inner_for_tests(),
                    &entry.claims.inner_for_tests()
                ));
            }
            // The member configured without a cache keeps its tokens out.
            assert!(cache.get(&cache_key(&tokens[2])).is_none());
            assert!(set.try_validate(&tokens[2]).unwrap().is_ok());
            // A's key never verifies B's issuer claim, cached or not.
            let forged = mint_for(&keys[0], issuers[1], unix_now() + 600);
            // (B knows no kid "a": refused, or left to the fetching path, never accepted.)
            assert!(!matches!(set.try_validate(&forged), Some(Ok(_))));
            assert!(cache.get(&cache_key(&forged)).is_none());
        }

        /// The key is the signature's digest: a token that keeps a cached token's
        /// signature and changes what it signs must find nothing, and leave the entry be.
        #[test]
        fn a_cached_signature_on_another_signing_input_is_not_a_hit() {
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let key = TestKey::generate("k", Algorithm::ES256);
            let v = validator(&key, 100);
            let exp = unix_now() + 600;
            let token = key.mint(&serde_json::json!({
                "iss": "https://id.example", "aud": "api", "exp": exp, "sub": "alice"
            }));
            let genuine = v.try_validate(&token).unwrap().unwrap();
            let (header, rest) = token.split_once('.').unwrap();
            let (_, signature) = rest.split_once('.').unwrap();
            let payload = |claims: serde_json::Value| b64.encode(claims.to_string());
            let forgeries = [
                // Another subject under the cached signature.
                format!(
                    "{header}.{}.{signature}",
                    payload(serde_json::json!({
                        "iss": "https://id.example", "aud": "api", "exp": exp, "sub": "mallory"
                    }))
                ),
                // Another header (an algorithm the key does not have) over the same claims.
                format!("{}.{}", b64.encode(r#"{"alg":"ES384","kid":"k"}"#), rest),
                // The signature alone, and the signature with nothing before it.
                signature.to_owned(),
                format!(".{signature}"),
                // The signing input changed by one character at its end.
                format!("{}x.{signature}", &token[..token.rfind('.').unwrap()]),
            ];
            let cache = v.single().token_cache.as_ref().unwrap();
            for forged in &forgeries {
                assert_eq!(cache_key(forged), cache_key(&token), "{forged}");
                assert!(
                    !matches!(v.try_validate(forged), Some(Ok(_))),
                    "accepted a forgery: {forged}"
                );
                // Still there, still the genuine token's, still answering it.
                let entry = cache.get(&cache_key(&token)).expect("the entry stays");
                assert_eq!(&*entry.signing_input, &token[..token.rfind('.').unwrap()]);
                let again = v.try_validate(&token).unwrap().unwrap();
                assert!(Arc::ptr_eq(
                    &again.inner_for_tests(),
                    &genuine.inner_for_tests()
                ));
            }
            // The entry holds no signature: nothing in the cache can be presented.
            let entry = cache.get(&cache_key(&token)).unwrap();
            assert!(!entry.signing_input.contains(signature));
        }

        #[test]
        fn entries_never_outlive_the_token() {
            let key = TestKey::generate("k", Algorithm::ES256);
            let v = validator(&key, 100);
            let token = mint(&key, unix_now() + 5);
            assert!(v.try_validate(&token).unwrap().is_ok());
            let entry = v
                .single()
                .token_cache
                .as_ref()
                .unwrap()
                .get(&cache_key(&token))
                .unwrap();
            // exp + the 60 s leeway, not the 5 min bound.
            assert!(
                entry.remember_until <= unix_now() + 65,
                "{}",
                entry.remember_until
            );
        }

        /// The size bound holds however many distinct valid tokens come: the cache keeps
        /// at most its capacity (rounded up to whole shards).
        #[test]
        fn the_cache_holds_no_more_than_its_size() {
            let key = TestKey::generate("k", Algorithm::ES256);
            let v = validator(&key, 64);
            let cache = v.single().token_cache.as_ref().unwrap();
            let exp = unix_now() + 600;
            for i in 0..1_000 {
                let token = key.mint(&serde_json::json!({
                    "iss": "https://id.example", "aud": "api", "exp": exp, "jti": i
                }));
                assert!(v.try_validate(&token).unwrap().is_ok());
                assert!(
                    cache.len() as u64 <= cache.capacity(),
                    "{} entries",
                    cache.len()
                );
            }
            assert!(cache.capacity() < 64 + 32, "{}", cache.capacity());
        }

        /// The bound (`token_cache_ttl`) is the entry's own, checked on every hit: from
        /// the second it ends, a still-valid token is verified afresh, never answered.
        #[test]
        fn an_entry_past_its_bound_is_verified_afresh() {
            let key = TestKey::generate("k", Algorithm::ES256);
            let v = base()
                .jwks(serde_json::json!({"keys": [key.public_jwk()]}))
                .token_cache_ttl(Duration::from_secs(30))
                .build()
                .unwrap();
            let token = mint(&key, unix_now() + 3600);
            let before = unix_now();
            assert!(v.try_validate(&token).unwrap().is_ok());
            let issuer = v.single();
            let entry = issuer
                .token_cache
                .as_ref()
                .unwrap()
                .get(&cache_key(&token))
                .expect("remembered");
            // 30 s from when it was verified, well before exp + leeway.
            assert!((before + 30..=unix_now() + 30).contains(&entry.remember_until));
            let until = entry.remember_until;
            assert!(!issuer.must_reverify(&entry, until - 1));
            assert!(issuer.must_reverify(&entry, until));
            assert!(issuer.must_reverify(&entry, until + 1_000));
            // A token that has expired by then is refused from the entry, not re-verified.
            assert!(!issuer.must_reverify(&entry, unix_now() + 3600 + 61));
        }

        #[test]
        fn failures_are_never_remembered_and_size_zero_is_off() {
            let key = TestKey::generate("k", Algorithm::ES256);
            let v = validator(&key, 100);
            let expired = mint(&key, unix_now() - 3600);
            assert!(v.try_validate(&expired).unwrap().is_err());
            assert!(
                v.single()
                    .token_cache
                    .as_ref()
                    .unwrap()
                    .get(&cache_key(&expired))
                    .is_none()
            );
            assert!(validator(&key, 0).single().token_cache.is_none());
        }
    }

    #[test]
    fn zero_limits_that_would_not_do_what_they_say_fail_at_build_naming_the_setting() {
        let err = base()
            .introspection("rs", "secret")
            .max_concurrent_introspections(0)
            .build()
            .unwrap_err();
        assert_eq!(err, ConfigError::ZeroLimit("max_concurrent_introspections"));
        assert!(err.to_string().contains("max_concurrent_introspections"));
        // Named even without introspection: the setting is wrong wherever it is used.
        assert!(base().max_concurrent_introspections(0).build().is_err());
        let err = base()
            .max_retry_backoff(Duration::ZERO)
            .build()
            .unwrap_err();
        assert_eq!(err, ConfigError::ZeroLimit("max_retry_backoff"));
        assert!(err.to_string().contains("max_retry_backoff"));
        // The zeros that mean something documented build.
        assert!(base().refresh_cooldown(Duration::ZERO).build().is_ok());
        let introspecting = || base().introspection("rs", "secret");
        assert!(
            introspecting()
                .introspection_cache_ttl(Duration::ZERO)
                .build()
                .is_ok()
        );
        assert!(introspecting().token_cache_size(0).build().is_ok());
    }

    #[cfg(feature = "testing")]
    mod zero_settings {
        use super::*;
        use crate::testing::{Behavior, DEFAULT_INTROSPECTION_CLIENT, MockIssuer};

        fn introspecting(issuer: &MockIssuer) -> ValidatorBuilder {
            let (id, secret) = DEFAULT_INTROSPECTION_CLIENT;
            Validator::builder()
                .issuer(issuer.issuer())
                .audience(issuer.audience())
                .introspection(id, secret)
                .introspection_endpoint(issuer.introspection_url())
        }

        /// `n` validations of `token` at once, each of which must pass.
        async fn concurrently(validator: &Validator, token: &str, n: usize) {
            let calls: Vec<_> = (0..n)
                .map(|_| {
                    let (validator, token) = (validator.clone(), token.to_owned());
                    tokio::spawn(async move { validator.validate(&token).await })
                })
                .collect();
            for call in calls {
                call.await.unwrap().unwrap();
            }
        }

        #[tokio::test]
        async fn refresh_cooldown_zero_still_shares_one_fetch_among_concurrent_requests() {
            let issuer = MockIssuer::start().await;
            let validator = Validator::builder()
                .issuer(issuer.issuer())
                .audience(issuer.audience())
                .refresh_cooldown(Duration::ZERO)
                .build()
                .unwrap();
            issuer.set_behavior(Behavior::Slow(Duration::from_millis(300)));
            concurrently(&validator, &issuer.token().sign(), 20).await;
            assert_eq!(
                issuer.jwks_hits(),
                1,
                "one fetch for 20 concurrent requests"
            );
            // And no cooldown: a new key is fetched at once, once.
            let rotated = issuer.token().key(&issuer.rotate()).sign();
            concurrently(&validator, &rotated, 20).await;
            assert_eq!(issuer.jwks_hits(), 2);
        }

        #[tokio::test]
        async fn introspection_cache_ttl_zero_remembers_no_answer() {
            let issuer = MockIssuer::start().await;
            let validator = introspecting(&issuer)
                .introspection_cache_ttl(Duration::ZERO)
                .build()
                .unwrap();
            let token = issuer.token().opaque();
            for n in 1..=3 {
                validator.validate(&token).await.unwrap();
                assert_eq!(issuer.introspection_hits(), n);
            }
            assert!(
                validator.try_validate(&token).is_none(),
                "nothing in memory"
            );
            issuer.revoke(&token);
            assert!(validator.validate(&token).await.is_err(), "refused at once");
            // Concurrent requests for one token still share one call.
            let token = issuer.token().opaque();
            issuer.set_behavior(Behavior::Slow(Duration::from_millis(300)));
            let before = issuer.introspection_hits();
            concurrently(&validator, &token, 20).await;
            assert_eq!(issuer.introspection_hits(), before + 1);
        }

        #[tokio::test]
        async fn token_cache_size_zero_remembers_no_introspection_answer_either() {
            let issuer = MockIssuer::start().await;
            let validator = introspecting(&issuer).token_cache_size(0).build().unwrap();
            let token = issuer.token().opaque();
            for n in 1..=3 {
                validator.validate(&token).await.unwrap();
                assert_eq!(issuer.introspection_hits(), n);
            }
            assert!(
                validator.try_validate(&token).is_none(),
                "nothing in memory"
            );
            // The default remembers it.
            let validator = introspecting(&issuer).build().unwrap();
            validator.validate(&token).await.unwrap();
            assert!(matches!(validator.try_validate(&token), Some(Ok(_))));
        }
    }
}
