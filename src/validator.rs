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

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::Algorithm;
use reqwest::Url;
use secrecy::SecretString;

use crate::claims::Claims;
use crate::error::{Error, InvalidToken};
use crate::introspection::{
    ClientAuth, IntrospectionConfig, Introspector, TokenFormat, looks_like_jwt,
};
use crate::jwks::{
    FetchLimits, KeyCache, KeyCacheConfig, KeySet, KeySetStats, KeySource, TtlBounds, VerifyingKey,
    redirect_policy, scheme_allowed,
};
use crate::verify::{Jws, SUPPORTED_ALGORITHMS};

/// RFC 8725 and most issuers: clocks drift; one minute is the common tolerance.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
/// The shortest time between two key-set fetches: bounds what a flood of unknown `kid`s
/// can cost the issuer (one request per 30 s), while a rotated key is picked up quickly.
pub const DEFAULT_REFRESH_COOLDOWN: Duration = Duration::from_secs(30);
/// A hung issuer must not hold requests for long; 5 s is ample for a JWKS.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Real JWK Sets are a few KiB; 512 KiB leaves room for large sets and stops a hostile
/// or broken endpoint from exhausting memory.
pub const DEFAULT_MAX_JWKS_BYTES: usize = 512 * 1024;
/// Access tokens are 1-4 KiB; 16 KiB allows fat claim sets and refuses junk before any
/// base64 or JSON work.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;
/// RFC 9111 lifetimes below a minute would turn a chatty issuer into a fetch per request.
pub const DEFAULT_MIN_CACHE_TTL: Duration = Duration::from_secs(60);
/// A key set older than a day risks trusting a key the issuer revoked long ago.
pub const DEFAULT_MAX_CACHE_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// When the issuer sends no caching headers: rotation is noticed within ten minutes, at
/// one small conditional request per ten minutes.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(10 * 60);
/// After repeated failures, retries back off up to this: an outage is not made worse by
/// every API instance retrying every cooldown, and recovery is noticed within minutes.
pub const DEFAULT_MAX_RETRY_BACKOFF: Duration = Duration::from_secs(5 * 60);
/// Verified tokens remembered, so a repeat costs a hash and a lookup instead of a
/// signature check. Each entry holds the token's claims (~1 KiB for a typical 1.2 KB
/// token), so the default bounds the cache to roughly 20 MiB.
pub const DEFAULT_TOKEN_CACHE_SIZE: u64 = 20_000;
/// How long a verified token is trusted without re-verification (never beyond its `exp`):
/// short enough that a configuration or clock surprise heals by itself.
pub const DEFAULT_TOKEN_CACHE_TTL: Duration = Duration::from_secs(5 * 60);
/// RFC 7662 answers are remembered this long at most (and never past the token's `exp`):
/// a revoked opaque token is refused within a minute, at one request per token per minute.
pub const DEFAULT_INTROSPECTION_CACHE_TTL: Duration = Duration::from_secs(60);
/// Introspection requests in flight at once, per validator: enough for a burst of new
/// users, while a flood of made-up opaque tokens waits its turn instead of opening a
/// connection to the issuer per token.
pub const DEFAULT_MAX_CONCURRENT_INTROSPECTIONS: usize = 16;
/// Issuers publish two or three keys, some hundreds; the bound that binds first is the
/// body cap ([`DEFAULT_MAX_JWKS_BYTES`]), which fits at most about 6,500 of the smallest
/// JWKs (Ed25519 without `kid`), so this cap never drops a key of a set the body cap
/// admits. Parsing a full 512 KiB set costs about 6 ms (P-256, the worst case) in
/// release builds. Lookups are by `kid`, so a large set does not slow verification.
pub const DEFAULT_MAX_KEYS: usize = 10_000;

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

/// The members of [`Validator::any_of`] and the one token cache they share.
struct Issuers {
    /// Single-issuer validators, sorted by issuer identifier.
    members: Vec<Validator>,
    /// Issuer identifier → index into `members`.
    index: HashMap<String, usize>,
    /// Tokens any member verified, each entry naming its member: a repeated token is
    /// found, routed and answered by one lookup, without its payload being decoded to
    /// read `iss`. Members' own caches go unused; a member configured without a cache
    /// puts nothing here. `None` when no member caches tokens.
    token_cache: Option<TokenCache>,
    /// The largest size cap of any member: the bound before any hashing or decoding.
    max_token_bytes: usize,
    /// The member that introspects opaque tokens, if one does: a token not shaped like a
    /// JWT names no issuer, so it goes there.
    introspecting: Option<usize>,
}

/// Where a token is remembered once verified, and found when it comes again.
#[derive(Clone, Copy)]
struct Slot<'a> {
    cache: &'a TokenCache,
    /// The member of an [`Issuers`] set that verifies it (0 for a single issuer).
    member: usize,
    /// SHA-256 of the whole token.
    digest: [u8; 32],
}

/// Where [`Validator::route`] sent a token.
struct Routed<'a> {
    issuer: &'a Issuer,
    slot: Option<Slot<'a>>,
    /// What the slot's cache held for the token (looked up once, here).
    entry: Option<Arc<CachedToken>>,
    /// The issuer's introspector, if this token is to be introspected (decided once,
    /// here: for `JwtOrOpaque` it scans the token's shape).
    introspector: Option<&'a Arc<Introspector>>,
}

impl Routed<'_> {
    /// [`Issuer::check_now`] with what routing found.
    fn check_now(&mut self, token: &str) -> Option<Result<Claims, Error>> {
        self.issuer
            .check_now(token, self.slot, self.entry.take(), self.introspector)
    }

    /// [`Issuer::check_fetching`] with what routing found.
    async fn check_fetching(&self, token: &str) -> Result<Claims, Error> {
        self.issuer
            .check_fetching(token, self.slot, self.introspector)
            .await
    }
}

/// How a token was presented (RFC 9449 section 7): its binding is checked accordingly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presented {
    /// `Authorization: Bearer`: proves nothing of a key, so a bound token is refused.
    Bearer,
    /// With a proof of possession the gate checks on this request (DPoP): a bound token
    /// passes here, and the gate compares its `cnf` with the proof.
    Bound,
}

/// One issuer's policy and keys.
struct Issuer {
    issuer: String,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    leeway: i64,
    max_token_bytes: usize,
    require_access_token_type: bool,
    allow_sender_constrained: bool,
    keys: Arc<KeyCache>,
    token_cache: Option<TokenCache>,
    token_cache_ttl: Duration,
    introspection: Option<Arc<Introspector>>,
    token_format: TokenFormat,
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.inner {
            Kind::One(issuer) => f
                .debug_struct("Validator")
                .field("issuer", &issuer.issuer)
                .field("audiences", &issuer.audiences)
                .field("algorithms", &issuer.algorithms)
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
    /// issuer's validator then checks everything, `iss` included. A token naming no
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
        let mut members: Vec<Validator> = Vec::new();
        for validator in validators {
            match &*validator.inner {
                Kind::One(_) => members.push(validator.clone()),
                Kind::Many(inner) => members.extend(inner.members.iter().cloned()),
            }
        }
        if members.is_empty() {
            return Err(ConfigError::MissingIssuer);
        }
        members.sort_by(|a, b| a.issuer().cmp(b.issuer()));
        let mut index = HashMap::new();
        for (i, member) in members.iter().enumerate() {
            let issuer = member.issuer().to_owned();
            if index.insert(issuer.clone(), i).is_some() {
                return Err(ConfigError::DuplicateIssuer(issuer));
            }
        }
        let singles = || members.iter().map(Validator::single);
        let max_token_bytes = singles().map(|m| m.max_token_bytes).max().unwrap_or(0);
        // Room for what the members' caches would have held together; each entry's
        // lifetime is still its own member's (set when it is verified).
        let capacities: Vec<u64> = singles()
            .filter_map(|m| m.token_cache.as_ref()?.policy().max_capacity())
            .collect();
        let token_cache =
            (!capacities.is_empty()).then(|| new_token_cache(capacities.iter().sum()));
        let mut introspecting = singles()
            .enumerate()
            .filter(|(_, m)| m.introspects_opaque_tokens())
            .map(|(i, _)| i);
        let (first, second) = (introspecting.next(), introspecting.next());
        if second.is_some() {
            return Err(ConfigError::SeveralIntrospectingIssuers);
        }
        Ok(Validator {
            inner: Arc::new(Kind::Many(Issuers {
                members,
                index,
                token_cache,
                max_token_bytes,
                introspecting: first,
            })),
        })
    }

    /// The issuer whose tokens this validator accepts (the first, in order, of several).
    pub fn issuer(&self) -> &str {
        match &*self.inner {
            Kind::One(issuer) => &issuer.issuer,
            Kind::Many(set) => set.members.first().map_or("", Validator::issuer),
        }
    }

    /// Every issuer whose tokens this validator accepts, sorted.
    pub fn issuers(&self) -> Vec<&str> {
        match &*self.inner {
            Kind::One(issuer) => vec![&issuer.issuer],
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
        let result = match self.route(token) {
            Ok(mut routed) => match routed.check_now(token) {
                Some(result) => result,
                None => routed.check_fetching(token).await,
            }
            .and_then(|claims| routed.issuer.check_binding(claims, presented)),
            Err(error) => Err(error),
        };
        log_rejection(&result);
        result
    }

    /// [`try_validate`](Self::try_validate), for a token presented as `presented`.
    pub(crate) fn try_validate_as(
        &self,
        token: &str,
        presented: Presented,
    ) -> Option<Result<Claims, Error>> {
        let result = match self.route(token) {
            Ok(mut routed) => routed
                .check_now(token)?
                .and_then(|claims| routed.issuer.check_binding(claims, presented)),
            Err(error) => Err(error),
        };
        log_rejection(&result);
        Some(result)
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

    /// The issuer policy that must judge `token`.
    fn route(&self, token: &str) -> Result<Routed<'_>, Error> {
        let set = match &*self.inner {
            Kind::One(issuer) => {
                // Bounded before it is hashed; an opaque token is never in this cache.
                let slot = (token.len() <= issuer.max_token_bytes)
                    .then(|| issuer.own_slot(token))
                    .flatten();
                let introspector = issuer.opaque(|| looks_like_jwt(token));
                let entry = slot
                    .as_ref()
                    .filter(|_| introspector.is_none())
                    .and_then(|slot| slot.cache.get(&slot.digest));
                return Ok(Routed {
                    issuer,
                    slot,
                    entry,
                    introspector,
                });
            }
            Kind::Many(set) => set,
        };
        // Bounded like any token before it is hashed or decoded.
        if token.len() > set.max_token_bytes {
            return Err(InvalidToken::TooLarge.into());
        }
        let mut slot = set.token_cache.as_ref().map(|cache| Slot {
            cache,
            member: 0,
            digest: token_digest(token),
        });
        if let Some(slot) = &mut slot {
            if let Some(entry) = slot.cache.get(&slot.digest) {
                slot.member = entry.member;
                // Only verified JWTs are cached: never one to introspect.
                return Ok(Routed {
                    issuer: set.members[entry.member].single(),
                    slot: Some(*slot),
                    entry: Some(entry),
                    introspector: None,
                });
            }
        }
        // The shape is scanned once, and only when some member introspects.
        let jwt_shaped = set.introspecting.map(|_| looks_like_jwt(token));
        let member = match (set.introspecting, jwt_shaped) {
            (Some(member), Some(false)) => member,
            _ => {
                let iss = crate::verify::peek_issuer(token)?;
                *set.index.get(&*iss).ok_or(InvalidToken::WrongIssuer)?
            }
        };
        let issuer = set.members[member].single();
        let introspector = issuer.opaque(|| jwt_shaped.unwrap_or_else(|| looks_like_jwt(token)));
        Ok(Routed {
            issuer,
            // A member configured without a token cache keeps its tokens out of it.
            slot: slot
                .filter(|_| issuer.token_cache.is_some())
                .map(|slot| Slot { member, ..slot }),
            entry: None,
            introspector,
        })
    }

    /// The policy of a single-issuer validator (`any_of` stores only those).
    fn single(&self) -> &Issuer {
        match &*self.inner {
            Kind::One(issuer) => issuer,
            Kind::Many(_) => unreachable!("any_of flattens nested sets"),
        }
    }
}

impl Issuer {
    /// Everything that needs no I/O: the token cache, parsing, a known key, verification.
    ///
    /// `slot` is where the token is remembered (its digest already computed); `entry`,
    /// what [`Validator::route`] found there.
    fn check_now(
        &self,
        token: &str,
        slot: Option<Slot<'_>>,
        entry: Option<Arc<CachedToken>>,
        introspector: Option<&Arc<Introspector>>,
    ) -> Option<Result<Claims, Error>> {
        let policy = self;
        if token.len() > policy.max_token_bytes {
            return Some(Err(InvalidToken::TooLarge.into()));
        }
        if let Some(introspector) = introspector {
            let digest = slot.map_or_else(|| token_digest(token), |s| s.digest);
            let outcome = introspector.cached(&digest)?;
            return Some(self.accept(outcome));
        }
        if let (Some(slot), Some(entry)) = (&slot, entry) {
            match self.revalidate(&entry) {
                Ok(()) => {
                    crate::metrics::token_cache_hit();
                    return Some(Ok(entry.claims.clone()));
                }
                Err(Some(error)) => {
                    slot.cache.invalidate(&slot.digest);
                    return Some(Err(error.into()));
                }
                // The key that verified it is gone: forget it, verify afresh.
                Err(None) => slot.cache.invalidate(&slot.digest),
            }
        }
        let jws = match self.parse(token) {
            Ok(jws) => jws,
            Err(error) => return Some(Err(error)),
        };
        let key = match policy.keys.key_now(jws.kid.as_deref(), jws.alg)? {
            Ok(key) => key,
            Err(error) => return Some(Err(error)),
        };
        Some(self.finish(&jws, key, slot))
    }

    /// Where a single-issuer validator remembers `token`: its own cache, if it has one.
    fn own_slot(&self, token: &str) -> Option<Slot<'_>> {
        self.token_cache.as_ref().map(|cache| Slot {
            cache,
            member: 0,
            digest: token_digest(token),
        })
    }

    /// Whether tokens not shaped like a JWT are introspected here.
    fn introspects_opaque_tokens(&self) -> bool {
        self.introspection.is_some() && self.token_format != TokenFormat::Jwt
    }

    /// The introspector, if this token is to be introspected rather than verified;
    /// `jwt_shaped` scans the token's shape, for `JwtOrOpaque` only.
    fn opaque(&self, jwt_shaped: impl FnOnce() -> bool) -> Option<&Arc<Introspector>> {
        let introspector = self.introspection.as_ref()?;
        match self.token_format {
            TokenFormat::Jwt => None,
            TokenFormat::Opaque => Some(introspector),
            TokenFormat::JwtOrOpaque => (!jwt_shaped()).then_some(introspector),
        }
    }

    /// An introspection outcome, with the claims checked against the clock and policy on
    /// every use (a cached answer must not outlive the token).
    fn accept(&self, outcome: Result<Claims, InvalidToken>) -> Result<Claims, Error> {
        let claims = outcome?;
        if claims.audience().is_empty() {
            // The answer named no audience (RFC 7662 makes it optional), which the
            // introspector let through only with `allow_introspection_without_audience`.
            if claims.issuer() != self.issuer {
                return Err(InvalidToken::WrongIssuer.into());
            }
            self.check_lifetime(&claims)?;
        } else {
            self.check_claims(&claims)?;
        }
        Ok(claims)
    }

    /// The path that may fetch keys (or introspect). Only ever reached after
    /// [`Issuer::check_now`], which has already applied the size cap.
    async fn check_fetching(
        &self,
        token: &str,
        slot: Option<Slot<'_>>,
        introspector: Option<&Arc<Introspector>>,
    ) -> Result<Claims, Error> {
        if let Some(introspector) = introspector {
            let digest = slot.map_or_else(|| token_digest(token), |s| s.digest);
            let outcome = introspector.introspect(token, digest).await?;
            return self.accept(outcome);
        }
        let jws = self.parse(token)?;
        let key = self.keys.key_for(jws.kid.as_deref(), jws.alg).await?;
        self.finish(&jws, key, slot)
    }

    fn parse<'t>(&self, token: &'t str) -> Result<Jws<'t>, Error> {
        let policy = self;
        if token.len() > policy.max_token_bytes {
            return Err(InvalidToken::TooLarge.into());
        }
        let jws = Jws::parse(token, &policy.algorithms)?;
        if policy.require_access_token_type && !is_access_token_type(jws.typ.as_deref()) {
            return Err(InvalidToken::WrongType.into());
        }
        Ok(jws)
    }

    /// Signature, claims, and into the token cache.
    fn finish(
        &self,
        jws: &Jws<'_>,
        key: Arc<VerifyingKey>,
        slot: Option<Slot<'_>>,
    ) -> Result<Claims, Error> {
        jws.verify_signature(&key)?;
        let claims = jws.claims()?;
        self.check_claims(&claims)?;
        if let Some(slot) = slot {
            let until_expiry = claims
                .expires_at()
                .saturating_add(self.leeway)
                .saturating_sub(unix_now());
            let lifetime =
                Duration::from_secs(until_expiry.max(0) as u64).min(self.token_cache_ttl);
            if !lifetime.is_zero() {
                let entry = CachedToken {
                    claims: claims.clone(),
                    kid: jws.kid.clone(),
                    key,
                    lifetime,
                    member: slot.member,
                };
                slot.cache.insert(slot.digest, Arc::new(entry));
            }
        }
        Ok(claims)
    }

    /// A cached token is still good: its lifetime claims hold now, and the key that
    /// verified it is still published. `Err(None)`: the key is gone.
    fn revalidate(&self, entry: &CachedToken) -> Result<(), Option<InvalidToken>> {
        self.check_lifetime(&entry.claims).map_err(Some)?;
        if self.keys.still_published(entry.kid.as_deref(), &entry.key) {
            Ok(())
        } else {
            Err(None)
        }
    }

    /// RFC 7519 section 4.1 and RFC 9068 section 4: the claims every access token must pass.
    fn check_claims(&self, claims: &Claims) -> Result<(), InvalidToken> {
        let policy = self;
        if claims.issuer() != policy.issuer {
            return Err(InvalidToken::WrongIssuer);
        }
        if !claims
            .audience()
            .iter()
            .any(|aud| policy.audiences.contains(aud))
        {
            return Err(InvalidToken::WrongAudience);
        }
        self.check_lifetime(claims)
    }

    /// A sender-constrained token proves nothing when presented as a bearer token: its
    /// binding must be checked, or it must be refused. RFC 9449 section 7.2 (DPoP-bound
    /// tokens received as bearer tokens MUST be rejected) and RFC 8705 section 3 (a
    /// certificate-bound token whose certificate does not match MUST be rejected with
    /// `invalid_token`). Runs on every request, token cache hit or not: the cache holds
    /// bound tokens too (their binding is the gate's check of each request's proof).
    fn check_binding(&self, claims: Claims, presented: Presented) -> Result<Claims, Error> {
        match presented {
            Presented::Bearer
                if claims.is_sender_constrained() && !self.allow_sender_constrained =>
            {
                Err(InvalidToken::SenderConstrained.into())
            }
            _ => Ok(claims),
        }
    }

    /// `exp` and `nbf` against the clock, with the leeway: on every request, cached or not.
    fn check_lifetime(&self, claims: &Claims) -> Result<(), InvalidToken> {
        let policy = self;
        let now = unix_now();
        if now > claims.expires_at().saturating_add(policy.leeway) {
            return Err(InvalidToken::Expired);
        }
        if claims
            .not_before()
            .is_some_and(|nbf| nbf > now.saturating_add(policy.leeway))
        {
            return Err(InvalidToken::NotYetValid);
        }
        Ok(())
    }
}

fn log_rejection(result: &Result<Claims, Error>) {
    crate::metrics::validation(result);
    if let Err(error) = result {
        // `debug`, not `info`: under attack this fires on every request.
        tracing::debug!(%error, "token rejected");
    }
}

/// The token cache's key: SHA-256 of the whole token, so that no two tokens share an
/// entry and the cache never holds a token itself.
pub(crate) fn token_digest(token: &str) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// A verified token, remembered.
struct CachedToken {
    claims: Claims,
    kid: Option<String>,
    /// The key that verified it: the entry is void once the issuer stops publishing it.
    key: Arc<VerifyingKey>,
    /// Until the token's `exp` (plus leeway), and no longer than the configured bound.
    lifetime: Duration,
    /// The member of an [`Issuers`] set that verified it (0 for a single issuer).
    member: usize,
}

/// Per-entry expiry for the token cache.
struct TokenExpiry;

impl moka::Expiry<[u8; 32], Arc<CachedToken>> for TokenExpiry {
    fn expire_after_create(
        &self,
        _key: &[u8; 32],
        value: &Arc<CachedToken>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(value.lifetime)
    }
}

type TokenCache = moka::sync::Cache<[u8; 32], Arc<CachedToken>>;

/// A token cache of `entries` entries, each expiring after its own lifetime.
fn new_token_cache(entries: u64) -> TokenCache {
    moka::sync::Cache::builder()
        .max_capacity(entries)
        .expire_after(TokenExpiry)
        .build()
}

/// RFC 9068 section 4: `typ` is `at+jwt` (or its full media type), compared
/// case-insensitively as media types are (RFC 7515 section 4.1.9).
fn is_access_token_type(typ: Option<&str>) -> bool {
    typ.is_some_and(|t| {
        t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
    })
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Configures a [`Validator`]; every setting has a safe default but the issuer and the
/// audience, which only you can know.
#[derive(Debug, Default)]
#[must_use]
pub struct ValidatorBuilder {
    issuer: Option<String>,
    jwks_url: Option<String>,
    static_jwks: Option<serde_json::Value>,
    audiences: Vec<String>,
    algorithms: Option<Vec<Algorithm>>,
    leeway: Option<Duration>,
    refresh_cooldown: Option<Duration>,
    fetch_timeout: Option<Duration>,
    max_jwks_bytes: Option<usize>,
    max_token_bytes: Option<usize>,
    max_keys: Option<usize>,
    min_cache_ttl: Option<Duration>,
    max_cache_ttl: Option<Duration>,
    default_cache_ttl: Option<Duration>,
    max_retry_backoff: Option<Duration>,
    token_cache_size: Option<u64>,
    token_cache_ttl: Option<Duration>,
    /// The client id and secret; the secret is redacted in `Debug`.
    introspection: Option<(String, SecretString)>,
    introspection_endpoint: Option<String>,
    introspection_auth: ClientAuth,
    introspection_cache_ttl: Option<Duration>,
    max_concurrent_introspections: Option<usize>,
    allow_introspection_without_audience: bool,
    token_format: Option<TokenFormat>,
    require_access_token_type: bool,
    allow_sender_constrained: bool,
    allow_insecure_http: bool,
    http_client: Option<reqwest::Client>,
}

impl ValidatorBuilder {
    /// The issuer (`iss`) whose tokens are accepted, compared exactly. Keys are found by
    /// discovery from it unless [`jwks_url`](Self::jwks_url) is set.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Fetch keys from this JWKS URL instead of discovering it from the issuer.
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// Verify with this JWK Set (RFC 7517 section 5) instead of fetching one: keys pinned
    /// in configuration, never fetched or refreshed. For issuers without a JWKS endpoint,
    /// air-gapped deployments, tests and fuzzing. The same key hygiene applies.
    pub fn jwks(mut self, jwk_set: serde_json::Value) -> Self {
        self.static_jwks = Some(jwk_set);
        self
    }

    /// An audience (`aud`) this API answers to; call again to accept several. Required:
    /// without it, a token the same issuer minted for any other API would pass. An
    /// introspected token whose answer names no audience is refused as well, unless
    /// [`allow_introspection_without_audience`](Self::allow_introspection_without_audience).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// The signature algorithms accepted. Default: every one in
    /// [`SUPPORTED_ALGORITHMS`]. HMAC and `none` are refused by [`build`](Self::build).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// Tolerance for clock skew on `exp` and `nbf`. Default [`DEFAULT_LEEWAY`].
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = Some(leeway);
        self
    }

    /// The shortest time between two key-set fetches. Default [`DEFAULT_REFRESH_COOLDOWN`].
    ///
    /// `Duration::ZERO` is allowed, for tests that rotate keys: there is then no fetch
    /// budget at all. A token with an unknown `kid` always causes a fetch (concurrent
    /// requests still share one), and a failed fetch is retried by the next request that
    /// needs keys, without backoff ([`max_retry_backoff`](Self::max_retry_backoff) has
    /// nothing to double). Never in production: a flood of made-up `kid`s becomes a
    /// stream of fetches.
    pub fn refresh_cooldown(mut self, cooldown: Duration) -> Self {
        self.refresh_cooldown = Some(cooldown);
        self
    }

    /// Deadline for one discovery or JWKS fetch. Default [`DEFAULT_FETCH_TIMEOUT`].
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = Some(timeout);
        self
    }

    /// Cap on a discovery or JWKS response body. Default [`DEFAULT_MAX_JWKS_BYTES`].
    pub fn max_jwks_bytes(mut self, bytes: usize) -> Self {
        self.max_jwks_bytes = Some(bytes);
        self
    }

    /// Tokens longer than this are refused unread. Default [`DEFAULT_MAX_TOKEN_BYTES`].
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = Some(bytes);
        self
    }

    /// Usable keys beyond this many in a JWKS are ignored (and a warning logged with the
    /// numbers). Default [`DEFAULT_MAX_KEYS`].
    pub fn max_keys(mut self, keys: usize) -> Self {
        self.max_keys = Some(keys);
        self
    }

    /// The shortest lifetime of a fetched key set, whatever the issuer's `Cache-Control`
    /// says. Default [`DEFAULT_MIN_CACHE_TTL`].
    pub fn min_cache_ttl(mut self, ttl: Duration) -> Self {
        self.min_cache_ttl = Some(ttl);
        self
    }

    /// The longest lifetime of a fetched key set. Default [`DEFAULT_MAX_CACHE_TTL`].
    pub fn max_cache_ttl(mut self, ttl: Duration) -> Self {
        self.max_cache_ttl = Some(ttl);
        self
    }

    /// The lifetime when the issuer sends no caching headers. Default [`DEFAULT_CACHE_TTL`].
    pub fn default_cache_ttl(mut self, ttl: Duration) -> Self {
        self.default_cache_ttl = Some(ttl);
        self
    }

    /// The longest wait between retries after repeated fetch failures (never less than
    /// the [cooldown](Self::refresh_cooldown): a smaller value retries every cooldown).
    /// Default [`DEFAULT_MAX_RETRY_BACKOFF`]; zero is refused by [`build`](Self::build).
    pub fn max_retry_backoff(mut self, backoff: Duration) -> Self {
        self.max_retry_backoff = Some(backoff);
        self
    }

    /// How many verified tokens to remember (by SHA-256 of the token); `0` turns the
    /// cache off. Default [`DEFAULT_TOKEN_CACHE_SIZE`]. A hit still checks `exp`/`nbf`
    /// against the clock and that the verifying key is still published. With
    /// introspection, it also bounds the answers remembered, so `0` turns that cache
    /// off too: every opaque token is introspected on every request (concurrent requests
    /// for one token still share one call).
    pub fn token_cache_size(mut self, entries: u64) -> Self {
        self.token_cache_size = Some(entries);
        self
    }

    /// The longest a verified token is remembered (never past its `exp`).
    /// Default [`DEFAULT_TOKEN_CACHE_TTL`].
    pub fn token_cache_ttl(mut self, ttl: Duration) -> Self {
        self.token_cache_ttl = Some(ttl);
        self
    }

    /// Validate opaque tokens by RFC 7662 introspection, authenticating as this client.
    /// The endpoint comes from the issuer's metadata (`introspection_endpoint`) unless
    /// [`introspection_endpoint`](Self::introspection_endpoint) names it. With
    /// introspection on, every token is introspected unless
    /// [`token_format`](Self::token_format) says otherwise.
    pub fn introspection(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.introspection = Some((client_id.into(), SecretString::from(client_secret.into())));
        self
    }

    /// The introspection endpoint, instead of the one in the issuer's metadata.
    pub fn introspection_endpoint(mut self, url: impl Into<String>) -> Self {
        self.introspection_endpoint = Some(url.into());
        self
    }

    /// How to authenticate to the introspection endpoint. Default: `client_secret_basic`.
    pub fn introspection_auth(mut self, auth: ClientAuth) -> Self {
        self.introspection_auth = auth;
        self
    }

    /// How long an introspection answer is remembered at most (never past the token's
    /// `exp`). Default [`DEFAULT_INTROSPECTION_CACHE_TTL`]. `Duration::ZERO`: answers are
    /// not remembered; every request is introspected (concurrent requests for one token
    /// still share one call), so a revoked token is refused at once.
    pub fn introspection_cache_ttl(mut self, ttl: Duration) -> Self {
        self.introspection_cache_ttl = Some(ttl);
        self
    }

    /// How many introspection requests may be in flight at once; more wait for a turn,
    /// for at most the [fetch timeout](Self::fetch_timeout), then get 503. A request
    /// keeps its turn until the endpoint answered or timed out, even when the client
    /// that caused it has gone. Default [`DEFAULT_MAX_CONCURRENT_INTROSPECTIONS`]; zero
    /// is refused by [`build`](Self::build).
    pub fn max_concurrent_introspections(mut self, requests: usize) -> Self {
        self.max_concurrent_introspections = Some(requests);
        self
    }

    /// Accept introspection answers that name no audience (no `aud`, or an empty one).
    /// Off by default: such a token is bound to no resource (a token requested without an
    /// RFC 8707 resource indicator, or one of any other client of the issuer), so every
    /// API that introspects at this issuer would accept it. RFC 7662 section 2.2 makes
    /// `aud` optional; turn this on only when your issuer never names audiences in its
    /// answers and every token it issues is meant for this API. The claims of such a
    /// token then have no audience (none is invented). An answer naming other audiences
    /// is refused either way.
    pub fn allow_introspection_without_audience(mut self, allow: bool) -> Self {
        self.allow_introspection_without_audience = allow;
        self
    }

    /// Which tokens are JWTs and which are introspected. Default: [`TokenFormat::Jwt`],
    /// or [`TokenFormat::Opaque`] once [`introspection`](Self::introspection) is set.
    pub fn token_format(mut self, format: TokenFormat) -> Self {
        self.token_format = Some(format);
        self
    }

    /// RFC 9068 mode: require `typ: at+jwt`, so that an ID token (or any other JWT the
    /// issuer signs) cannot be replayed as an access token. Off by default because many
    /// issuers do not set it yet.
    pub fn require_access_token_type(mut self, require: bool) -> Self {
        self.require_access_token_type = require;
        self
    }

    /// Accept sender-constrained tokens (those with a `cnf` claim: DPoP-bound, RFC 9449,
    /// or certificate-bound, RFC 8705) as bearer tokens. Off by default: a `Bearer`
    /// request does not prove possession of the bound key, so accepting the token would
    /// let whoever stole it use it, which is what the binding exists to stop (RFC 9449
    /// section 7.2). Turn it on only when something in front of this validator checks
    /// the binding, such as a proxy that terminates mutual TLS and compares the client
    /// certificate with `cnf.x5t#S256` ([`Claims::is_sender_constrained`]).
    pub fn allow_sender_constrained_tokens(mut self, allow: bool) -> Self {
        self.allow_sender_constrained = allow;
        self
    }

    /// Allow plain `http` URLs (issuer, JWKS, introspection endpoint, and redirects to
    /// them) on non-loopback hosts. Never do this in production: anyone on the path could
    /// swap the keys, or read the client secret and every opaque token. Loopback `http`
    /// is always allowed, for development issuers (and a redirect to it only from
    /// loopback `http`).
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Use this HTTP client for discovery, JWKS fetches and introspection (proxies,
    /// custom roots). The fetch timeout and body cap still apply, and so does the scheme
    /// policy: every request's URL is checked before it is sent, and every answer that
    /// came through a redirect to a URL the policy refuses (https to http, or to
    /// loopback http from anywhere but loopback http) is discarded, as is any redirected
    /// introspection answer.
    ///
    /// tokengate cannot stop your client from *sending* a redirected request, though:
    /// build it with `reqwest::redirect::Policy::none()` (or a policy as strict as the
    /// default's: https only, at most three hops), or a 307/308 on the introspection POST
    /// re-sends the token, and with `client_secret_post` the secret, to its target. The
    /// default client follows at most three redirects on GETs, within the policy, and
    /// none on introspection requests.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Checks the configuration and builds the validator.
    pub fn build(self) -> Result<Validator, ConfigError> {
        let issuer = self.issuer.ok_or(ConfigError::MissingIssuer)?;
        let issuer_url = Url::parse(&issuer).map_err(|_| ConfigError::InvalidUrl("issuer"))?;
        if self.audiences.is_empty() || self.audiences.iter().any(String::is_empty) {
            return Err(ConfigError::MissingAudience);
        }
        let max_keys = self.max_keys.unwrap_or(DEFAULT_MAX_KEYS);
        let source = match (&self.jwks_url, &self.static_jwks) {
            (Some(_), Some(_)) => return Err(ConfigError::ConflictingKeySources),
            (None, Some(doc)) => {
                let set = KeySet::from_json(doc, max_keys.max(1))
                    .map_err(|_| ConfigError::InvalidJwks)?;
                if set.len() == 0 {
                    return Err(ConfigError::InvalidJwks);
                }
                KeySource::Static(Arc::new(set))
            }
            (Some(url), None) => {
                let url = Url::parse(url).map_err(|_| ConfigError::InvalidUrl("jwks_url"))?;
                if !scheme_allowed(&url, self.allow_insecure_http) {
                    return Err(ConfigError::InsecureUrl("jwks_url"));
                }
                KeySource::JwksUrl(url)
            }
            (None, None) => KeySource::Discovery {
                issuer: issuer.clone(),
            },
        };
        // The issuer is contacted for key discovery, and for the introspection endpoint
        // when none is configured: then it obeys the scheme policy like every other URL
        // (else whoever is on the path of a plain-http issuer names the endpoint that
        // receives our client credentials and every opaque token).
        let contacts_issuer = matches!(source, KeySource::Discovery { .. })
            || (self.introspection.is_some() && self.introspection_endpoint.is_none());
        if contacts_issuer && !scheme_allowed(&issuer_url, self.allow_insecure_http) {
            return Err(ConfigError::InsecureUrl("issuer"));
        }
        let algorithms = self
            .algorithms
            .unwrap_or_else(|| SUPPORTED_ALGORITHMS.to_vec());
        if algorithms.is_empty() {
            return Err(ConfigError::NoAlgorithms);
        }
        if let Some(alg) = algorithms
            .iter()
            .find(|alg| !SUPPORTED_ALGORITHMS.contains(alg))
        {
            return Err(ConfigError::UnsupportedAlgorithm(*alg));
        }
        let leeway = self.leeway.unwrap_or(DEFAULT_LEEWAY);
        if leeway > Duration::from_secs(300) {
            return Err(ConfigError::LeewayTooLarge);
        }
        let timeout = self.fetch_timeout.unwrap_or(DEFAULT_FETCH_TIMEOUT);
        if timeout.is_zero() {
            return Err(ConfigError::ZeroLimit("fetch_timeout"));
        }
        let max_token_bytes = self.max_token_bytes.unwrap_or(DEFAULT_MAX_TOKEN_BYTES);
        let max_jwks_bytes = self.max_jwks_bytes.unwrap_or(DEFAULT_MAX_JWKS_BYTES);
        for (value, name) in [
            (max_token_bytes, "max_token_bytes"),
            (max_jwks_bytes, "max_jwks_bytes"),
            (max_keys, "max_keys"),
            (
                self.max_concurrent_introspections
                    .unwrap_or(DEFAULT_MAX_CONCURRENT_INTROSPECTIONS),
                "max_concurrent_introspections",
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::ZeroLimit(name));
            }
        }
        // Zero would mean "retry every cooldown", not the "no wait" it reads as.
        let max_backoff = self.max_retry_backoff.unwrap_or(DEFAULT_MAX_RETRY_BACKOFF);
        if max_backoff.is_zero() {
            return Err(ConfigError::ZeroLimit("max_retry_backoff"));
        }
        let min_ttl = self.min_cache_ttl.unwrap_or(DEFAULT_MIN_CACHE_TTL);
        let max_ttl = self.max_cache_ttl.unwrap_or(DEFAULT_MAX_CACHE_TTL);
        if min_ttl > max_ttl {
            return Err(ConfigError::CacheTtlBounds);
        }
        let ttl = TtlBounds {
            min: min_ttl,
            max: max_ttl,
            default: self.default_cache_ttl.unwrap_or(DEFAULT_CACHE_TTL),
        };
        // GETs (discovery, JWKS) may follow a few redirects within the scheme policy; the
        // introspection requests follow none. A client of the user's serves both, and
        // every answer's URL is checked against the policy all the same.
        let (client, introspection_client) = match self.http_client {
            Some(client) => (client.clone(), client),
            None => (
                default_client(redirect_policy(self.allow_insecure_http))
                    .map_err(|_| ConfigError::HttpClient)?,
                default_client(reqwest::redirect::Policy::none())
                    .map_err(|_| ConfigError::HttpClient)?,
            ),
        };
        let keys = Arc::new(KeyCache::new(KeyCacheConfig {
            source,
            client: client.clone(),
            limits: FetchLimits {
                timeout,
                max_body: max_jwks_bytes,
                allow_http: self.allow_insecure_http,
            },
            cooldown: self.refresh_cooldown.unwrap_or(DEFAULT_REFRESH_COOLDOWN),
            max_backoff,
            ttl,
            max_keys,
            allow_http: self.allow_insecure_http,
        }));
        let token_cache_size = self.token_cache_size.unwrap_or(DEFAULT_TOKEN_CACHE_SIZE);
        let introspection = match &self.introspection {
            None => None,
            Some((id, secret)) => {
                if id.is_empty() {
                    return Err(ConfigError::MissingIntrospectionClient);
                }
                let config = IntrospectionConfig {
                    client_id: id.clone(),
                    client_secret: secret.clone(),
                    endpoint: self.introspection_endpoint.clone(),
                    auth: self.introspection_auth,
                    cache_ttl: self
                        .introspection_cache_ttl
                        .unwrap_or(DEFAULT_INTROSPECTION_CACHE_TTL),
                    cache_size: token_cache_size,
                    max_concurrent: self
                        .max_concurrent_introspections
                        .unwrap_or(DEFAULT_MAX_CONCURRENT_INTROSPECTIONS),
                    allow_without_audience: self.allow_introspection_without_audience,
                };
                let limits = FetchLimits {
                    timeout,
                    max_body: max_jwks_bytes,
                    allow_http: self.allow_insecure_http,
                };
                let introspector = Introspector::new(
                    issuer.clone(),
                    config,
                    introspection_client,
                    limits,
                    self.allow_insecure_http,
                )
                .map_err(|_| ConfigError::InsecureUrl("introspection_endpoint"))?;
                Some(Arc::new(introspector))
            }
        };
        let token_format = match (self.token_format, &introspection) {
            (Some(format), Some(_)) => format,
            (None, Some(_)) => TokenFormat::Opaque,
            (None | Some(TokenFormat::Jwt), None) => TokenFormat::Jwt,
            (Some(_), None) => return Err(ConfigError::MissingIntrospectionClient),
        };
        let token_cache = (token_cache_size > 0).then(|| new_token_cache(token_cache_size));
        Ok(Validator {
            inner: Arc::new(Kind::One(Issuer {
                issuer,
                audiences: self.audiences,
                algorithms,
                leeway: leeway.as_secs() as i64,
                max_token_bytes,
                require_access_token_type: self.require_access_token_type,
                allow_sender_constrained: self.allow_sender_constrained,
                keys,
                token_cache,
                token_cache_ttl: self.token_cache_ttl.unwrap_or(DEFAULT_TOKEN_CACHE_TTL),
                introspection,
                token_format,
            })),
        })
    }
}

/// A default HTTP client: rustls, a connect timeout, and `redirects`: for GETs at most
/// three and only where the scheme policy allows (a redirect must not move a JWKS fetch
/// to plain http), for the introspection requests none.
fn default_client(redirects: reqwest::redirect::Policy) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(redirects)
        .connect_timeout(DEFAULT_FETCH_TIMEOUT)
        .user_agent(concat!("tokengate/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A configuration [`ValidatorBuilder::build`] refuses. The message names the setting.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// No issuer was set.
    MissingIssuer,
    /// No audience was set (or an empty one).
    MissingAudience,
    /// A URL setting does not parse.
    InvalidUrl(&'static str),
    /// A URL is plain `http` to a non-loopback host.
    InsecureUrl(&'static str),
    /// The algorithm allow-list is empty.
    NoAlgorithms,
    /// The allow-list names an algorithm we never accept (HMAC) or do not support.
    UnsupportedAlgorithm(Algorithm),
    /// The leeway is over five minutes.
    LeewayTooLarge,
    /// A limit is zero.
    ZeroLimit(&'static str),
    /// `min_cache_ttl` is above `max_cache_ttl`.
    CacheTtlBounds,
    /// `any_of` was given two validators for the same issuer.
    DuplicateIssuer(String),
    /// Opaque tokens were asked for without `introspection(client_id, secret)`, or with an
    /// empty client id.
    MissingIntrospectionClient,
    /// Both `jwks_url` and a static `jwks` were given.
    ConflictingKeySources,
    /// `any_of` was given more than one validator that introspects opaque tokens: an
    /// opaque token names no issuer, so nothing would say which to ask.
    SeveralIntrospectingIssuers,
    /// The static `jwks` is not a JWK Set with at least one usable key.
    InvalidJwks,
    /// The default HTTP client could not be built (no TLS roots).
    HttpClient,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::MissingIssuer => f.write_str("issuer is required: the `iss` your tokens carry"),
            ConfigError::MissingAudience => f.write_str(
                "audience is required: without it, tokens the issuer minted for any other API would be accepted",
            ),
            ConfigError::InvalidUrl(name) => write!(f, "{name} is not a valid URL"),
            ConfigError::InsecureUrl(name) => write!(
                f,
                "{name} must use https (plain http is allowed only to loopback hosts, or with allow_insecure_http)"
            ),
            ConfigError::NoAlgorithms => f.write_str("algorithms is empty: no token could ever pass"),
            ConfigError::UnsupportedAlgorithm(alg) => write!(
                f,
                "algorithms contains {alg:?}, which is never accepted from a JWKS (only RS*, PS*, ES256, ES384, EdDSA)"
            ),
            ConfigError::LeewayTooLarge => f.write_str("leeway must be at most 300 seconds"),
            ConfigError::ZeroLimit(name) => write!(f, "{name} must be greater than zero"),
            ConfigError::CacheTtlBounds => f.write_str("min_cache_ttl must not exceed max_cache_ttl"),
            ConfigError::MissingIntrospectionClient => f.write_str(
                "introspection needs a client: call introspection(client_id, client_secret) (a non-empty client id)",
            ),
            ConfigError::DuplicateIssuer(issuer) => {
                write!(f, "issuer {issuer:?} is configured twice: each issuer needs exactly one policy")
            }
            ConfigError::ConflictingKeySources => f.write_str("jwks_url and jwks are exclusive: give one key source"),
            ConfigError::SeveralIntrospectingIssuers => f.write_str(
                "any_of was given several validators that introspect opaque tokens: an opaque token names no issuer, so at most one may",
            ),
            ConfigError::InvalidJwks => f.write_str("jwks is not a JWK Set with at least one usable signature key"),
            ConfigError::HttpClient => f.write_str("http client: the default TLS client could not be built"),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
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
    fn hmac_and_empty_allow_lists_are_refused() {
        assert_eq!(
            base().algorithms([Algorithm::HS256]).build().unwrap_err(),
            ConfigError::UnsupportedAlgorithm(Algorithm::HS256)
        );
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
    fn static_jwks_must_hold_a_usable_key_and_exclude_a_url() {
        let oct = serde_json::json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]});
        assert_eq!(
            base().jwks(oct).build().unwrap_err(),
            ConfigError::InvalidJwks
        );
        assert_eq!(
            base().jwks(serde_json::json!([])).build().unwrap_err(),
            ConfigError::InvalidJwks
        );
        let both = base()
            .jwks(serde_json::json!({"keys": []}))
            .jwks_url("https://id.example/jwks");
        assert_eq!(
            both.build().unwrap_err(),
            ConfigError::ConflictingKeySources
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
        use crate::testing::{TestKey, alg_name};
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

        fn mint(key: &TestKey, exp: i64) -> String {
            mint_for(key, "https://id.example", exp)
        }

        fn mint_for(key: &TestKey, iss: &str, exp: i64) -> String {
            let header = serde_json::json!({"alg": alg_name(key.alg()), "kid": key.kid()});
            let claims = serde_json::json!({"iss": iss, "aud": "api", "exp": exp});
            let input = format!(
                "{}.{}",
                B64.encode(header.to_string()),
                B64.encode(claims.to_string())
            );
            format!("{input}.{}", B64.encode(key.sign(input.as_bytes())))
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
            let entry = cache.get(&token_digest(&token)).expect("remembered");
            assert!(entry.lifetime <= DEFAULT_TOKEN_CACHE_TTL);
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
            assert_eq!(cache.policy().max_capacity(), Some(150));

            let tokens: Vec<String> = (0..3)
                .map(|i| mint_for(&keys[i], issuers[i], unix_now() + 600))
                .collect();
            for token in &tokens {
                assert!(set.try_validate(token).unwrap().is_ok());
            }
            for i in 0..2 {
                let entry = cache.get(&token_digest(&tokens[i])).expect("remembered");
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
            assert!(cache.get(&token_digest(&tokens[2])).is_none());
            assert!(set.try_validate(&tokens[2]).unwrap().is_ok());
            // A's key never verifies B's issuer claim, cached or not.
            let forged = mint_for(&keys[0], issuers[1], unix_now() + 600);
            // (B knows no kid "a": refused, or left to the fetching path, never accepted.)
            assert!(!matches!(set.try_validate(&forged), Some(Ok(_))));
            assert!(cache.get(&token_digest(&forged)).is_none());
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
                .get(&token_digest(&token))
                .unwrap();
            // exp + the 60 s leeway, not the 5 min bound.
            assert!(
                entry.lifetime <= Duration::from_secs(65),
                "{:?}",
                entry.lifetime
            );
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
                    .get(&token_digest(&expired))
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

    #[test]
    fn access_token_type_is_matched_case_insensitively() {
        assert!(is_access_token_type(Some("at+jwt")));
        assert!(is_access_token_type(Some("application/AT+JWT")));
        assert!(!is_access_token_type(Some("JWT")));
        assert!(!is_access_token_type(None));
    }
}
