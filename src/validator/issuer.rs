//! One issuer's pipeline: a token is routed once (its size, the token cache, its shape),
//! then decided from memory when it can be ([`Issuer::check_now`]), or, [`Parked`] with
//! its parsed JWS, after the network ([`Issuer::check_parked`]): never routed or parsed
//! twice.

use std::sync::Arc;
use std::time::Duration;

use super::policy::Policy;
use super::rejection::{Seen, refused};
use super::token_cache::{CachedToken, ParkedSlot, Slot, TokenCache, entry_lifetime, token_digest};
use crate::claims::Claims;
use crate::clock::unix_now;
use crate::error::{Error, InvalidToken};
use crate::format::{TokenFormat, is_jws_shaped};
use crate::introspection::Introspector;
use crate::jwks::KeyCache;
use crate::metrics::IssuerLabels;
use crate::verify::Jws;
use crate::verify::VerifyingKey;

/// One issuer's policy, keys and memory.
pub(super) struct Issuer {
    pub(super) policy: Policy,
    /// Tokens longer than this are refused before any hashing or decoding.
    pub(super) max_token_bytes: usize,
    pub(super) keys: Arc<KeyCache>,
    pub(super) token_cache: Option<TokenCache>,
    /// The longest a verified token is remembered.
    pub(super) token_cache_ttl: Duration,
    pub(super) introspection: Option<Arc<Introspector>>,
    pub(super) token_format: TokenFormat,
    /// Its metric labels, built once.
    pub(super) metrics: IssuerLabels,
}

/// Where a token goes, decided once from its shape and the configured [`TokenFormat`].
pub(super) enum Route<'v, 't> {
    /// A compact JWS, parsed (and its header checked) once: verified with the issuer's
    /// keys, then remembered in `slot`.
    Jws {
        token: &'t str,
        jws: Jws,
        slot: Option<Slot<'v>>,
    },
    /// An opaque token, for the issuer's RFC 7662 endpoint; `digest` keys its answers.
    Introspect {
        token: &'t str,
        introspector: &'v Arc<Introspector>,
        digest: [u8; 32],
    },
}

/// A [`Route`] that waits for the network, owning all it needs (the token copied, the
/// parsed JWS, its cache slot), so that it can wait in a future of its own.
pub(super) struct Parked {
    token: Box<str>,
    way: ParkedWay,
}

enum ParkedWay {
    Jws {
        jws: Jws,
        slot: Option<ParkedSlot>,
    },
    Introspect {
        introspector: Arc<Introspector>,
        digest: [u8; 32],
    },
}

impl Route<'_, '_> {
    /// This route, owning what it borrowed. The slow path only: it copies the token.
    pub(super) fn park(self) -> Parked {
        match self {
            Route::Jws { token, jws, slot } => Parked {
                token: token.into(),
                way: ParkedWay::Jws {
                    jws,
                    slot: slot.map(Slot::park),
                },
            },
            Route::Introspect {
                token,
                introspector,
                digest,
            } => Parked {
                token: token.into(),
                way: ParkedWay::Introspect {
                    introspector: introspector.clone(),
                    digest,
                },
            },
        }
    }
}

/// What routing found.
pub(super) enum Routed<'v, 't> {
    /// A token verified before and still good: its remembered claims.
    Remembered(Claims),
    /// A token to verify or introspect.
    Route(Route<'v, 't>),
}

/// What [`Issuer::check_now`] could decide from memory.
pub(super) enum Checked<'v, 't> {
    /// The verdict.
    Done(Result<Claims, Error>),
    /// The network is needed (a key to fetch, an endpoint to ask): the route, unchanged,
    /// to [`park`](Route::park) for [`Issuer::check_parked`].
    Fetch(Route<'v, 't>),
}

impl Issuer {
    /// Routes a token of a single-issuer validator: its size checked, its shape read (only
    /// when some tokens are introspected), its digest looked up in the token cache, and a
    /// JWS parsed, each once.
    pub(super) fn route<'v, 't>(&'v self, token: &'t str) -> Result<Routed<'v, 't>, Error> {
        // Bounded before it is hashed or decoded.
        if token.len() > self.max_token_bytes {
            return Err(self.refused(Seen::default(), InvalidToken::TooLarge));
        }
        let slot = self
            .token_cache
            .as_ref()
            .map(|cache| Slot::new(cache, 0, token.as_bytes()));
        if let Some(introspector) = self.introspector_for(|| is_jws_shaped(token)) {
            // An opaque token is never in the token cache: only its digest is used.
            return Ok(Routed::Route(introspect(token, introspector, slot)));
        }
        if let Some(slot) = slot {
            if let Some(entry) = slot.get(token.as_bytes()) {
                return self.recall(token, slot, entry);
            }
        }
        Ok(Routed::Route(Route::Jws {
            token,
            jws: self.parse(token)?,
            slot,
        }))
    }

    /// Routes a token that an `any_of` set sent to this member, after a miss in the
    /// set's cache (`slot`): the member's own size bound, the shape the set read
    /// (`jws_shaped`, when some member introspects), and a JWS parsed once.
    pub(super) fn route_chosen<'v, 't>(
        &'v self,
        token: &'t str,
        slot: Option<Slot<'v>>,
        jws_shaped: Option<bool>,
    ) -> Result<Route<'v, 't>, Error> {
        // The set checked its largest bound before hashing; this is the member's own.
        if token.len() > self.max_token_bytes {
            return Err(self.refused(Seen::default(), InvalidToken::TooLarge));
        }
        let shaped = || jws_shaped.unwrap_or_else(|| is_jws_shaped(token));
        if let Some(introspector) = self.introspector_for(shaped) {
            return Ok(introspect(token, introspector, slot));
        }
        Ok(Route::Jws {
            token,
            jws: self.parse(token)?,
            // A member configured without a token cache keeps its tokens out of it.
            slot: slot.filter(|_| self.token_cache.is_some()),
        })
    }

    /// A token found in the cache: its claims while still good, refused once its lifetime
    /// is over (and forgotten), verified afresh (parsed here) once its key is gone.
    pub(super) fn recall<'v, 't>(
        &'v self,
        token: &'t str,
        slot: Slot<'v>,
        entry: Arc<CachedToken>,
    ) -> Result<Routed<'v, 't>, Error> {
        let now = unix_now();
        if !self.must_reverify(&entry, now) {
            return self.answer(slot, &entry, now).map(Routed::Remembered);
        }
        // Its bound is over or the key that verified it is gone: forget it, verify afresh.
        slot.invalidate();
        Ok(Routed::Route(Route::Jws {
            token,
            jws: self.parse(token)?,
            slot: Some(slot),
        }))
    }

    /// The cache's entry for `token`, if it holds one and this issuer would look there
    /// first (`route` does); nothing is recorded or logged.
    pub(super) fn lookup<'v>(&'v self, token: &[u8]) -> Option<(Slot<'v>, Arc<CachedToken>)> {
        // What `route` decides before the cache: the size bound; and an issuer that may
        // introspect a token decides on its shape first (left to `route`).
        if token.len() > self.max_token_bytes || self.introspection.is_some() {
            return None;
        }
        let slot = Slot::new(self.token_cache.as_ref()?, 0, token);
        let entry = slot.get(token)?;
        Some((slot, entry))
    }

    /// Whether a remembered token must be verified afresh: it is still within its
    /// lifetime but the entry's bound (`token_cache_ttl`) is over, or the key that
    /// verified it is no longer published.
    pub(super) fn must_reverify(&self, entry: &CachedToken, now: i64) -> bool {
        self.policy.check_lifetime(&entry.claims, now).is_ok()
            && (!entry.remembered_at(now)
                || !self.keys.still_published(entry.kid.as_deref(), &entry.key))
    }

    /// The answer from a remembered token whose key is still published: its claims, or
    /// its refusal once its lifetime is over (and the entry forgotten).
    pub(super) fn answer(
        &self,
        slot: Slot<'_>,
        entry: &CachedToken,
        now: i64,
    ) -> Result<Claims, Error> {
        if let Err(error) = self.policy.check_lifetime(&entry.claims, now) {
            slot.invalidate();
            let seen = Seen {
                claims: Some(&entry.claims),
                ..Seen::default()
            };
            return Err(self.refused(seen, error));
        }
        crate::metrics::token_cache_hit(&self.metrics);
        Ok(entry.claims.clone())
    }

    /// Whether tokens not shaped like a JWT are introspected here.
    pub(super) fn introspects_opaque_tokens(&self) -> bool {
        self.introspection.is_some() && self.token_format != TokenFormat::Jwt
    }

    /// The introspector, if this token is introspected rather than verified;
    /// `jws_shaped` reads the token's shape, for `JwtOrOpaque` only.
    fn introspector_for(&self, jws_shaped: impl FnOnce() -> bool) -> Option<&Arc<Introspector>> {
        let introspector = self.introspection.as_ref()?;
        self.token_format
            .introspects(jws_shaped)
            .then_some(introspector)
    }

    /// Everything that needs no I/O: a remembered answer, a known key and the
    /// verification with it.
    pub(super) fn check_now<'v, 't>(&'v self, routed: Routed<'v, 't>) -> Checked<'v, 't> {
        let route = match routed {
            Routed::Remembered(claims) => return Checked::Done(Ok(claims)),
            Routed::Route(route) => route,
        };
        match route {
            Route::Introspect {
                introspector,
                digest,
                ..
            } => match introspector.cached(&digest) {
                Some(outcome) => {
                    crate::metrics::introspection_cache_hit(&self.metrics);
                    Checked::Done(self.accept(outcome))
                }
                None => Checked::Fetch(route),
            },
            Route::Jws {
                token,
                ref jws,
                slot,
            } => match self.keys.key_now(jws.kid.as_deref(), jws.alg) {
                Some(Ok(key)) => Checked::Done(self.finish(token, jws, key, slot)),
                Some(Err(error)) => Checked::Done(Err(self.refused(Seen::header(jws), error))),
                None => Checked::Fetch(route),
            },
        }
    }

    /// The route [`check_now`](Self::check_now) could not decide, parked: the key
    /// fetched (at most once per cooldown, shared by concurrent callers) or the endpoint
    /// asked, then the same parsed JWS verified.
    pub(super) async fn check_parked(&self, parked: Parked) -> Result<Claims, Error> {
        let token = &*parked.token;
        match parked.way {
            ParkedWay::Introspect {
                introspector,
                digest,
            } => {
                let outcome = introspector
                    .introspect(token, digest)
                    .await
                    .map_err(|error| self.refused(Seen::default(), error))?;
                self.accept(outcome)
            }
            ParkedWay::Jws { jws, slot } => {
                let key = self
                    .keys
                    .key_for(jws.kid.as_deref(), jws.alg)
                    .await
                    .map_err(|error| self.refused(Seen::header(&jws), error))?;
                self.finish(token, &jws, key, slot.as_ref().map(ParkedSlot::slot))
            }
        }
    }

    /// An introspection outcome, with the claims checked against the clock and policy on
    /// every use (a cached answer must not outlive the token).
    fn accept(&self, outcome: Result<Claims, InvalidToken>) -> Result<Claims, Error> {
        let claims = outcome.map_err(|error| self.refused(Seen::default(), error))?;
        if let Err(error) = self.policy.check_introspected(&claims, unix_now()) {
            let seen = Seen {
                claims: Some(&claims),
                ..Seen::default()
            };
            return Err(self.refused(seen, error));
        }
        Ok(claims)
    }

    /// The policy's binding check ([`Policy::check_binding`]), the refusal logged.
    pub(super) fn check_binding(
        &self,
        claims: Claims,
        presented: super::Presented,
    ) -> Result<Claims, Error> {
        self.policy
            .check_binding(claims, presented)
            .map_err(|error| self.refused(Seen::default(), error))
    }

    /// A JWS taken apart and its header checked, or the refusal logged.
    fn parse(&self, token: &str) -> Result<Jws, Error> {
        self.policy
            .parse(token)
            .map_err(|error| self.refused(Seen::default(), error))
    }

    /// Logs a token this issuer refused (at `debug`, with what `seen` holds of it) and
    /// returns the error.
    pub(super) fn refused(&self, seen: Seen<'_>, error: impl Into<Error>) -> Error {
        refused(Some(&self.policy), seen, error.into())
    }

    /// Signature, claims, and into the token cache.
    fn finish(
        &self,
        token: &str,
        jws: &Jws,
        key: Arc<VerifyingKey>,
        slot: Option<Slot<'_>>,
    ) -> Result<Claims, Error> {
        jws.verify_signature(token, &key)
            .map_err(|error| self.refused(Seen::header(jws), error))?;
        let claims = jws
            .claims(token)
            .map_err(|error| self.refused(Seen::header(jws), error))?;
        let now = unix_now();
        if let Err(error) = self.policy.check(&claims, now) {
            let seen = Seen {
                jws: Some(jws),
                claims: Some(&claims),
            };
            return Err(self.refused(seen, error));
        }
        if let Some(slot) = slot {
            let lifetime = entry_lifetime(
                claims.expires_at(),
                self.policy.leeway,
                now,
                self.token_cache_ttl,
            );
            slot.remember(token, &claims, jws.kid.as_deref(), key, now, lifetime);
        }
        Ok(claims)
    }
}

/// The introspection route of `token`, keyed by SHA-256 of the whole token: the slot's
/// key when the token has no `.` (then the two are the same), computed otherwise.
fn introspect<'v, 't>(
    token: &'t str,
    introspector: &'v Arc<Introspector>,
    slot: Option<Slot<'v>>,
) -> Route<'v, 't> {
    let digest = match slot {
        Some(slot) if !token.contains('.') => slot.digest,
        _ => token_digest(token),
    };
    Route::Introspect {
        token,
        introspector,
        digest,
    }
}
