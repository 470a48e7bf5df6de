//! RFC 9449 DPoP proofs: checking the `DPoP` header of a request to a protected resource.
//!
//! A DPoP-bound access token carries `cnf.jkt`, the RFC 7638 thumbprint of a key its
//! client holds (RFC 9449 section 6). On every request the client sends a fresh proof, a
//! JWT signed with that key over the request's method and URI and the token's hash.
//! [`check_proof`] runs every check of RFC 9449 section 4.3 that needs only the proof and
//! the request (the `jti` replay check needs shared state: see
//! [`replay`](crate::binding::replay)):
//!
//! 1. one compact JWS, at most [`MAX_PROOF_BYTES`];
//! 2. header `typ` exactly `dpop+jwt`, `alg` asymmetric and in the allow-list, `jwk` a
//!    public key (a private member is refused), no `crit`;
//! 3. the signature verifies with that embedded key: the one place an embedded key is
//!    ever used, and only for the proof;
//! 4. `jti`, `htm`, `htu`, `iat` present; `htm` equals the method; `htu` equals the
//!    request URI without query and fragment, both normalized (scheme and host lower
//!    case, default port dropped: RFC 3986 section 6);
//! 5. `iat` within the window around now;
//! 6. `ath` equals base64url(SHA-256(access token)) (RFC 9449 section 4.2).
//!
//! The caller then compares [`VerifiedProof::jkt`] with the token's `cnf.jkt`, and, when
//! the server provides nonces ([`Dpop::use_nonce`], RFC 9449 sections 8 and 9), the
//! proof's `nonce` with [`DpopNonces`].
//!
//! | file | rule |
//! |---|---|
//! | `proof.rs` | one proof: `typ`, `alg`, public `jwk`, signature, `htm`, `iat`, `ath`, `jkt` |
//! | `htu.rs` | `htu` against the request URI (RFC 9449 section 4.3 step 9, RFC 3986 6.2.2-6.2.3) |
//! | `thumbprint.rs` | RFC 7638 thumbprints and `ath` |
//! | `nonce.rs` | server-provided nonces (RFC 9449 sections 8, 9) |
//! | `mod.rs` | [`Dpop`]: a gate's configuration and the whole check of one request |

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use reqwest::Url;

mod header;
mod htu;
mod nonce;
mod proof;
mod thumbprint;

pub use self::header::{DEFAULT_PROOF_HEADER_CACHE, PROOF_TYPE};
pub use self::nonce::{DEFAULT_NONCE_ROTATION, DpopNonces, MIN_NONCE_SECRET_BYTES};
pub use self::proof::{
    DEFAULT_PROOF_LEEWAY, DEFAULT_PROOF_WINDOW, MAX_JTI_BYTES, MAX_PROOF_BYTES, ProofContext,
    ProofPolicy, VerifiedProof, check_proof,
};
pub use self::thumbprint::{access_token_hash, thumbprint};
use super::replay::{MemoryReplayStore, ReplayStore, Seen, StoreUnavailable};
use crate::alg::Algorithm;
pub use crate::error::InvalidProof;
use crate::error::InvalidRequest;
use crate::forwarded::ForwardedOrigin;
use crate::request::{HeaderValues, RequestParts};

/// How a gate accepts DPoP-bound tokens (RFC 9449 section 7): where its API is reached
/// (the `htu` clients sign), which proofs it accepts, and where it remembers their `jti`s.
///
/// ```
/// use tokengate::binding::dpop::Dpop;
///
/// let dpop = Dpop::new("https://api.example.com").unwrap(); // bound or bearer tokens
/// let only = Dpop::new("https://api.example.com").unwrap().required(); // bound only
/// assert!(Dpop::new("not a url").is_err());
/// // Proofs must carry a nonce this server handed out (RFC 9449 section 9).
/// let fresh = Dpop::new("https://api.example.com").unwrap().use_nonce().unwrap();
/// ```
///
/// Behind a reverse proxy that tells the scheme and host clients used (RFC 7239
/// `Forwarded`), believed from that proxy only:
///
/// ```
/// use tokengate::binding::dpop::Dpop;
/// use tokengate::forwarded::{ForwardedOrigin, TrustedProxies};
///
/// let proxies = TrustedProxies::list(["10.0.0.7".parse().unwrap()]);
/// let dpop = Dpop::new("https://api.example.com")
///     .unwrap()
///     .forwarded_origin(ForwardedOrigin::rfc7239(proxies));
/// ```
#[derive(Clone)]
pub struct Dpop {
    required: bool,
    policy: ProofPolicy,
    public_base: Url,
    store: Arc<dyn ReplayStore>,
    nonces: Option<DpopNonces>,
    forwarded: Option<ForwardedOrigin>,
    /// Proof headers checked before, shared by clones (see `proof.rs`).
    headers: header::ProofHeaders,
}

impl std::fmt::Debug for Dpop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dpop")
            .field("required", &self.required)
            .field("policy", &self.policy)
            .field("public_base", &self.public_base.as_str())
            .field("nonces", &self.nonces)
            .field("forwarded", &self.forwarded)
            .finish_non_exhaustive()
    }
}

/// Why a DPoP request was refused: its proof, or the replay store could not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpopRefusal {
    /// 401 `invalid_dpop_proof` (RFC 9449 section 7.1).
    Proof(InvalidProof),
    /// 401 `use_dpop_nonce` with a fresh nonce (RFC 9449 section 9): the proof is valid
    /// but has no nonce, or one no longer accepted.
    UseNonce(InvalidProof),
    /// The replay store did not answer: 503, never accepted unchecked.
    StoreUnavailable(StoreUnavailable),
}

impl Dpop {
    /// Accepts DPoP-bound tokens with their proofs, beside bearer tokens, for an API
    /// that clients reach at `public_base_url` (`https://api.example.com`; behind a proxy,
    /// the URL the clients use, not the one the server listens on). Only its scheme,
    /// host and port are used: `htu` must be that origin and the request's path.
    ///
    /// Defaults: [`SUPPORTED_ALGORITHMS`](crate::SUPPORTED_ALGORITHMS),
    /// [`DEFAULT_PROOF_WINDOW`], a 5-second leeway, and a [`MemoryReplayStore`] (one
    /// process: several replicas need a shared store, [`Dpop::replay_store`]).
    pub fn new(public_base_url: &str) -> Result<Self, &'static str> {
        let public_base =
            Url::parse(public_base_url).map_err(|_| "the DPoP public base URL is not a URL")?;
        if !matches!(public_base.scheme(), "https" | "http") || public_base.host().is_none() {
            return Err("the DPoP public base URL must be an http(s) URL with a host");
        }
        Ok(Dpop {
            required: false,
            policy: ProofPolicy {
                algorithms: crate::SUPPORTED_ALGORITHMS.to_vec(),
                window: DEFAULT_PROOF_WINDOW,
                leeway: DEFAULT_PROOF_LEEWAY,
            },
            public_base,
            store: Arc::new(MemoryReplayStore::default()),
            nonces: None,
            forwarded: None,
            headers: header::ProofHeaders::new(DEFAULT_PROOF_HEADER_CACHE),
        })
    }

    /// Behind reverse proxies: the scheme and host of the URI clients sign (`htu`, RFC
    /// 9449 section 4.3 step 9) are those `origin`'s trusted proxies say the client used
    /// (RFC 7239 `proto=` and `host=`, or `X-Forwarded-Proto` and `X-Forwarded-Host`),
    /// instead of the public base URL's; from any other peer, or when the proxy says
    /// nothing, the public base URL stands. Malformed or conflicting forwarding headers
    /// from a trusted proxy refuse the request: `400 invalid_request`.
    ///
    /// For an API reached under several names through one proxy. With a single public
    /// name, [`Dpop::new`] alone is simpler and trusts no header at all.
    pub fn forwarded_origin(mut self, origin: ForwardedOrigin) -> Self {
        self.forwarded = Some(origin);
        self
    }

    /// The origin whose URIs this request's proof must sign: the public base URL, or
    /// what a trusted proxy said ([`Dpop::forwarded_origin`]).
    pub(crate) fn origin_for(&self, request: &RequestParts<'_>) -> Result<Url, InvalidRequest> {
        let Some(forwarded) = &self.forwarded else {
            return Ok(self.public_base.clone());
        };
        let Some(origin) = forwarded.origin(request)? else {
            return Ok(self.public_base.clone());
        };
        let scheme = origin
            .scheme
            .as_deref()
            .unwrap_or(self.public_base.scheme());
        let host = match &origin.host {
            Some(host) => host.clone(),
            None => {
                let host = self.public_base.host_str().unwrap_or_default();
                match self.public_base.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host.to_owned(),
                }
            }
        };
        Url::parse(&format!("{scheme}://{host}/")).map_err(|_| InvalidRequest::MalformedForwarded)
    }

    /// Accepts only DPoP-bound tokens: a bearer token is refused (RFC 9449 section 7.1).
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// The algorithms proofs may be signed with (asymmetric only; HMAC and `none` never
    /// parse). Also what `algs` in the challenge lists.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.policy.algorithms = algorithms
            .into_iter()
            .filter(|alg| crate::SUPPORTED_ALGORITHMS.contains(alg))
            .collect();
        self
    }

    /// How far a proof's `iat` may be from now, either way (before the leeway).
    pub fn proof_window(mut self, window: Duration) -> Self {
        self.policy.window = window;
        self
    }

    /// Clock drift tolerated beyond the window.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.policy.leeway = leeway;
        self
    }

    /// Where proofs' `jti`s are remembered: share one store (Redis, feature `redis`)
    /// between the replicas of an API so a proof replayed on another is refused too.
    pub fn replay_store(mut self, store: impl ReplayStore) -> Self {
        self.store = Arc::new(store);
        self
    }

    /// Requires every proof to carry a nonce this server handed out (RFC 9449 sections 8
    /// and 9), from a secret drawn now ([`DpopNonces::random`]) rotating every
    /// [`DEFAULT_NONCE_ROTATION`]: a proof without one, or with one no longer accepted,
    /// is refused with `use_dpop_nonce` and a fresh nonce in `DPoP-Nonce`; every
    /// successful DPoP response carries the current nonce too, so a client that keeps
    /// the latest one never needs a retry.
    ///
    /// Clones of this `Dpop` (the gates of one process) share the secret; replicas in
    /// several processes need [`Dpop::nonces`] with [`DpopNonces::from_secret`]. Fails
    /// only if the system random generator does.
    pub fn use_nonce(self) -> Result<Self, &'static str> {
        Ok(self.nonces(DpopNonces::random()?))
    }

    /// [`use_nonce`](Self::use_nonce) with these nonces (a shared secret, another
    /// rotation period).
    pub fn nonces(mut self, nonces: DpopNonces) -> Self {
        self.nonces = Some(nonces);
        self
    }

    /// The nonce to hand out now, when this server provides nonces.
    pub fn fresh_nonce(&self) -> Option<String> {
        self.nonce_at(crate::clock::unix_now())
    }

    fn nonce_at(&self, now: i64) -> Option<String> {
        self.nonces.as_ref().map(|nonces| nonces.issue(now))
    }

    /// Whether bearer tokens are refused.
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// The algorithms proofs may be signed with, in order: RFC 9728 section 2
    /// `dpop_signing_alg_values_supported`.
    pub fn algorithm_list(&self) -> &[Algorithm] {
        &self.policy.algorithms
    }

    /// The `algs` of the `DPoP` challenge, space-separated (RFC 9449 section 7.1).
    pub fn algs(&self) -> String {
        let names: Vec<&str> = self
            .policy
            .algorithms
            .iter()
            .map(|alg| alg.as_str())
            .collect();
        names.join(" ")
    }

    /// How long a proof's replay key is kept: as long as its `iat` can be accepted,
    /// from the earliest to the latest.
    fn replay_ttl(&self) -> Duration {
        self.policy
            .window
            .saturating_add(self.policy.leeway)
            .saturating_mul(2)
            .max(Duration::from_secs(1))
    }

    /// The whole check of a request carrying `Authorization: DPoP <token>` (RFC 9449
    /// sections 4.3 and 7.1), once the token itself was validated: exactly one proof,
    /// valid for this request and token, signed by the key the token is bound to
    /// (`cnf.jkt`), with a nonce we accept when we provide them, never seen before.
    pub(crate) async fn check(
        &self,
        proofs: HeaderValues<'_>,
        method: &str,
        origin: &Url,
        target: &str,
        token: &str,
        jkt: Option<&str>,
    ) -> Result<(), DpopRefusal> {
        let now = crate::clock::unix_now();
        let proof = self.check_now(proofs, method, origin, target, token, jkt, now)?;
        self.check_nonce(&proof, now)?;
        match self
            .store
            .record(proof.replay_key(), self.replay_ttl())
            .await
        {
            Ok(Seen::First) => Ok(()),
            Ok(Seen::Before) => Err(DpopRefusal::Proof(InvalidProof::Replayed)),
            Err(error) => {
                tracing::warn!(%error, "DPoP replay store unavailable: refusing with 503");
                Err(DpopRefusal::StoreUnavailable(error))
            }
        }
    }

    /// RFC 9449 sections 8 and 9: when we provide nonces, the proof's must be one we
    /// accept at `now`. Checked after the signature (the nonce is a signed claim) and
    /// before the replay store (a proof refused here is never recorded, so its client's
    /// retry with a new proof and the fresh nonce is not a replay).
    fn check_nonce(&self, proof: &VerifiedProof, now: i64) -> Result<(), DpopRefusal> {
        let Some(nonces) = &self.nonces else {
            return Ok(());
        };
        match proof.nonce.as_deref() {
            None => Err(DpopRefusal::UseNonce(InvalidProof::MissingNonce)),
            Some(nonce) => nonces.check(nonce, now).map_err(DpopRefusal::UseNonce),
        }
    }

    /// Everything but the nonce and the replay store.
    #[allow(clippy::too_many_arguments)]
    fn check_now(
        &self,
        proofs: HeaderValues<'_>,
        method: &str,
        origin: &Url,
        target: &str,
        token: &str,
        jkt: Option<&str>,
        now: i64,
    ) -> Result<VerifiedProof, DpopRefusal> {
        let refuse = |reason| Err(DpopRefusal::Proof(reason));
        // RFC 9449 section 7.1: a DPoP-bound token needs exactly one proof, and a token
        // presented with the DPoP scheme must be bound (an unbound token is not).
        let HeaderValues::One(proof) = proofs else {
            return refuse(InvalidProof::MissingProof);
        };
        let Some(jkt) = jkt else {
            return refuse(InvalidProof::KeyMismatch);
        };
        let Ok(proof) = std::str::from_utf8(proof) else {
            return refuse(InvalidProof::Malformed);
        };
        let Some(uri) = htu::expected_uri(origin, target) else {
            return refuse(InvalidProof::UriMismatch);
        };
        let context = ProofContext {
            method,
            uri: &uri,
            access_token: token,
            now,
        };
        let verified = proof::check_proof_with(
            proof.trim_ascii(),
            &self.policy,
            &context,
            Some(&self.headers),
        )
        .map_err(DpopRefusal::Proof)?;
        if verified.jkt != jkt {
            return refuse(InvalidProof::KeyMismatch);
        }
        Ok(verified)
    }
}

impl VerifiedProof {
    /// The replay store's key for this proof: SHA-256 over the key thumbprint and the
    /// `jti` (a `jti` is unique per client key; hashing bounds what the store holds).
    pub fn replay_key(&self) -> [u8; 32] {
        let mut context = digest::Context::new(&digest::SHA256);
        context.update(self.jkt.as_bytes());
        context.update(b".");
        context.update(self.jti.as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(context.finish().as_ref());
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn replay_keys_differ_by_key_and_jti() {
        let proof = |jkt: &str, jti: &str| VerifiedProof {
            jkt: jkt.into(),
            jti: jti.into(),
            iat: NOW,
            nonce: None,
        };
        assert_eq!(proof("k", "1").replay_key(), proof("k", "1").replay_key());
        assert_ne!(proof("k", "1").replay_key(), proof("k", "2").replay_key());
        assert_ne!(proof("k", "1").replay_key(), proof("l", "1").replay_key());
    }
}
