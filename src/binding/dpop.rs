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
//! The caller then compares [`VerifiedProof::jkt`] with the token's `cnf.jkt`.

use std::time::Duration;

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Url;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

use super::replay::{MemoryReplayStore, ReplayStore, Seen, StoreUnavailable};
use crate::alg::Algorithm;
pub use crate::error::InvalidProof;
use crate::json::NumericDate;
use crate::jwks::parse_jwk;
use crate::request::HeaderValues;
use crate::verify::verify_with;

/// The `typ` of a DPoP proof (RFC 9449 section 4.2), compared exactly.
pub const PROOF_TYPE: &str = "dpop+jwt";

/// The largest proof read: an RSA-8192 key and its signature fit in about 3.5 KB, so
/// anything longer is refused before decoding.
pub const MAX_PROOF_BYTES: usize = 8 * 1024;

/// The longest `jti` accepted: it is kept (hashed) in the replay store, and RFC 9449
/// section 4.2 asks only for enough randomness (96 bits or more).
pub const MAX_JTI_BYTES: usize = 256;

/// How far a proof's `iat` may be from now, either way, before the leeway: RFC 9449
/// section 11.1 leaves the window to the server; a minute covers a client's retries
/// and keeps the replay store small.
pub const DEFAULT_PROOF_WINDOW: Duration = Duration::from_secs(60);

/// What a proof proved: its key's thumbprint, and what the replay store keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// RFC 7638 SHA-256 thumbprint of the proof's key, base64url: compare with `cnf.jkt`.
    pub jkt: String,
    /// The proof's `jti`.
    pub jti: String,
    /// The proof's `iat`.
    pub iat: i64,
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

/// The request a proof must match.
#[derive(Debug, Clone, Copy)]
pub struct ProofContext<'a> {
    /// The request method (`htm`).
    pub method: &'a str,
    /// The request URI as the client addressed it (`htu`); query and fragment ignored.
    pub uri: &'a Url,
    /// The access token sent with the proof (`ath`).
    pub access_token: &'a str,
    /// Now, in seconds since the epoch.
    pub now: i64,
}

/// The proof rules a resource server configures.
#[derive(Debug, Clone)]
pub struct ProofPolicy {
    /// Algorithms a proof may be signed with (asymmetric only).
    pub algorithms: Vec<Algorithm>,
    /// How far `iat` may be from now, either way.
    pub window: Duration,
    /// Clock drift tolerated beyond the window.
    pub leeway: Duration,
}

#[derive(Deserialize)]
struct ProofHeader {
    typ: Option<String>,
    alg: Option<String>,
    jwk: Option<Value>,
    crit: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct ProofClaims {
    jti: Option<String>,
    htm: Option<String>,
    htu: Option<String>,
    iat: Option<NumericDate>,
    ath: Option<String>,
}

fn decode<T: for<'de> Deserialize<'de>>(segment: &str) -> Result<T, InvalidProof> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| InvalidProof::Malformed)?;
    // serde's derived visitor refuses a duplicate member of these structs.
    serde_json::from_slice(&bytes).map_err(|_| InvalidProof::Malformed)
}

/// JWK members that only a private key has (RFC 7518 sections 6.2.2, 6.3.2; RFC 8037).
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

/// Checks one DPoP proof against the request it came with (RFC 9449 section 4.3, all
/// but the replay check), returning its key's thumbprint and `jti`.
pub fn check_proof(
    proof: &str,
    policy: &ProofPolicy,
    request: &ProofContext<'_>,
) -> Result<VerifiedProof, InvalidProof> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(InvalidProof::Malformed);
    }
    let mut parts = proof.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(InvalidProof::Malformed);
    };
    if header.is_empty() || payload.is_empty() || signature.is_empty() {
        return Err(InvalidProof::Malformed);
    }
    let fields: ProofHeader = decode(header)?;
    if fields.typ.as_deref() != Some(PROOF_TYPE) {
        return Err(InvalidProof::WrongType);
    }
    let alg = fields
        .alg
        .as_deref()
        .and_then(Algorithm::from_name)
        .filter(|alg| policy.algorithms.contains(alg))
        .ok_or(InvalidProof::AlgorithmNotAllowed)?;
    if fields.crit.is_some() {
        return Err(InvalidProof::UnsupportedHeader);
    }
    let jwk = fields.jwk.ok_or(InvalidProof::BadKey)?;
    let object = jwk.as_object().ok_or(InvalidProof::BadKey)?;
    if PRIVATE_MEMBERS.iter().any(|m| object.contains_key(*m)) {
        return Err(InvalidProof::BadKey);
    }
    let (_, key) = parse_jwk(&jwk).map_err(|_| InvalidProof::BadKey)?;
    let signing_input = &proof[..header.len() + 1 + payload.len()];
    verify_with(&key, alg, signing_input.as_bytes(), signature).map_err(|error| match error {
        crate::InvalidToken::KeyAlgorithmMismatch => InvalidProof::BadKey,
        crate::InvalidToken::Malformed => InvalidProof::Malformed,
        _ => InvalidProof::BadSignature,
    })?;

    let claims: ProofClaims = decode(payload)?;
    let (Some(jti), Some(htm), Some(htu), Some(NumericDate(iat))) =
        (claims.jti, claims.htm, claims.htu, claims.iat)
    else {
        return Err(InvalidProof::MissingClaim);
    };
    if jti.is_empty() || jti.len() > MAX_JTI_BYTES {
        return Err(InvalidProof::MissingClaim);
    }
    // RFC 9110 section 9.1: the method is case-sensitive.
    if htm != request.method {
        return Err(InvalidProof::MethodMismatch);
    }
    if !same_uri(&htu, request.uri) {
        return Err(InvalidProof::UriMismatch);
    }
    let window = policy.window.saturating_add(policy.leeway).as_secs();
    let window = i64::try_from(window).unwrap_or(i64::MAX);
    if request.now.abs_diff(iat) > window.unsigned_abs() {
        return Err(InvalidProof::Stale);
    }
    let ath = claims.ath.ok_or(InvalidProof::MissingClaim)?;
    if ath != access_token_hash(request.access_token) {
        return Err(InvalidProof::AccessTokenHashMismatch);
    }
    let jkt = thumbprint(object).ok_or(InvalidProof::BadKey)?;
    Ok(VerifiedProof { jkt, jti, iat })
}

/// `htu` against the request URI (RFC 9449 section 4.3 step 9): both parsed, so scheme
/// and host compare lower-case and a default port equals no port (RFC 3986 section
/// 6.2.2-6.2.3); query and fragment are ignored.
fn same_uri(htu: &str, expected: &Url) -> bool {
    let Ok(htu) = Url::parse(htu) else {
        return false;
    };
    htu.scheme() == expected.scheme()
        && matches!(htu.scheme(), "https" | "http")
        && htu.host_str() == expected.host_str()
        && htu.port_or_known_default() == expected.port_or_known_default()
        && htu.username().is_empty()
        && htu.password().is_none()
        && htu.path() == expected.path()
}

/// The `ath` of a proof sent with `access_token`: base64url(SHA-256 of its ASCII bytes)
/// (RFC 9449 section 4.2).
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, access_token.as_bytes()))
}

/// The RFC 7638 SHA-256 thumbprint of a public JWK, base64url: the required members of
/// its key type, in lexicographic order, as compact JSON. `None` for a key type we do
/// not verify with, or a required member that is not a string.
pub fn thumbprint(jwk: &serde_json::Map<String, Value>) -> Option<String> {
    let members: &[&str] = match jwk.get("kty")?.as_str()? {
        "RSA" => &["e", "kty", "n"],
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        _ => return None,
    };
    let mut canonical = String::from("{");
    for (i, name) in members.iter().enumerate() {
        let value = jwk.get(*name)?.as_str()?;
        if i > 0 {
            canonical.push(',');
        }
        // serde_json writes a string as RFC 8259 JSON, escapes and all.
        canonical.push_str(&serde_json::to_string(name).ok()?);
        canonical.push(':');
        canonical.push_str(&serde_json::to_string(value).ok()?);
    }
    canonical.push('}');
    Some(URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes())))
}

/// How a gate accepts DPoP-bound tokens (RFC 9449 section 7): where its API is reached
/// (the `htu` clients sign), which proofs it accepts, and where it remembers their `jti`s.
///
/// ```
/// use tokengate::binding::dpop::Dpop;
///
/// let dpop = Dpop::new("https://api.example.com").unwrap(); // bound or bearer tokens
/// let only = Dpop::new("https://api.example.com").unwrap().required(); // bound only
/// assert!(Dpop::new("not a url").is_err());
/// ```
#[derive(Clone)]
pub struct Dpop {
    required: bool,
    policy: ProofPolicy,
    public_base: Url,
    store: std::sync::Arc<dyn ReplayStore>,
}

impl std::fmt::Debug for Dpop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dpop")
            .field("required", &self.required)
            .field("policy", &self.policy)
            .field("public_base", &self.public_base.as_str())
            .finish_non_exhaustive()
    }
}

/// Why a DPoP request was refused: its proof, or the replay store could not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpopRefusal {
    /// 401 `invalid_dpop_proof` (RFC 9449 section 7.1).
    Proof(InvalidProof),
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
            store: std::sync::Arc::new(MemoryReplayStore::default()),
        })
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
        self.store = std::sync::Arc::new(store);
        self
    }

    /// Whether bearer tokens are refused.
    pub fn is_required(&self) -> bool {
        self.required
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

    /// The URI the client must have signed: our public origin and the request's path.
    fn expected_uri(&self, target: &str) -> Option<Url> {
        // A proxy may send an absolute URI; only its path matters here.
        let path = match target.find("://") {
            Some(_) => Url::parse(target).ok()?.path().to_owned(),
            None => target.split(['?', '#']).next().unwrap_or("/").to_owned(),
        };
        if !path.starts_with('/') {
            return None;
        }
        let mut uri = self.public_base.clone();
        uri.set_path(&path);
        uri.set_query(None);
        uri.set_fragment(None);
        Some(uri)
    }

    /// The whole check of a request carrying `Authorization: DPoP <token>` (RFC 9449
    /// sections 4.3 and 7.1), once the token itself was validated: exactly one proof,
    /// valid for this request and token, signed by the key the token is bound to
    /// (`cnf.jkt`), never seen before.
    pub(crate) async fn check(
        &self,
        proofs: HeaderValues<'_>,
        method: &str,
        target: &str,
        token: &str,
        jkt: Option<&str>,
    ) -> Result<(), DpopRefusal> {
        let proof = self.check_now(proofs, method, target, token, jkt)?;
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

    /// Everything but the replay store.
    fn check_now(
        &self,
        proofs: HeaderValues<'_>,
        method: &str,
        target: &str,
        token: &str,
        jkt: Option<&str>,
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
        let Some(uri) = self.expected_uri(target) else {
            return refuse(InvalidProof::UriMismatch);
        };
        let context = ProofContext {
            method,
            uri: &uri,
            access_token: token,
            now: crate::clock::unix_now(),
        };
        let verified =
            check_proof(proof.trim_ascii(), &self.policy, &context).map_err(DpopRefusal::Proof)?;
        if verified.jkt != jkt {
            return refuse(InvalidProof::KeyMismatch);
        }
        Ok(verified)
    }
}

/// Clock drift tolerated beyond the proof window by default.
pub const DEFAULT_PROOF_LEEWAY: Duration = Duration::from_secs(5);

#[cfg(all(test, feature = "testing"))]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::{TestKey, alg_name};

    const NOW: i64 = 1_700_000_000;

    /// A named change to a proof and the refusal it must cause.
    type Case = (&'static str, fn(&mut Value), InvalidProof);
    const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln";

    fn policy() -> ProofPolicy {
        ProofPolicy {
            algorithms: crate::SUPPORTED_ALGORITHMS.to_vec(),
            window: DEFAULT_PROOF_WINDOW,
            leeway: Duration::from_secs(5),
        }
    }

    fn uri() -> Url {
        Url::parse("https://api.example.com/orders").unwrap()
    }

    /// A public JWK without the members a client's proof key would not carry.
    fn proof_jwk(key: &TestKey) -> Value {
        let mut jwk = key.public_jwk();
        let object = jwk.as_object_mut().unwrap();
        for member in ["kid", "use", "alg"] {
            object.remove(member);
        }
        jwk
    }

    fn sign(key: &TestKey, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()));
        format!("{input}.{signature}")
    }

    fn header(key: &TestKey) -> Value {
        json!({"typ": "dpop+jwt", "alg": alg_name(key.alg()), "jwk": proof_jwk(key)})
    }

    fn claims() -> Value {
        json!({
            "jti": "e1j3V_bKic8-LAEB",
            "htm": "GET",
            "htu": "https://api.example.com/orders",
            "iat": NOW,
            "ath": access_token_hash(TOKEN),
        })
    }

    fn check(proof: &str) -> Result<VerifiedProof, InvalidProof> {
        let uri = uri();
        let context = ProofContext {
            method: "GET",
            uri: &uri,
            access_token: TOKEN,
            now: NOW,
        };
        check_proof(proof, &policy(), &context)
    }

    fn with_claims(change: impl FnOnce(&mut Value)) -> String {
        let key = TestKey::generate("p", Algorithm::ES256);
        let mut claims = claims();
        change(&mut claims);
        sign(&key, &header(&key), &claims)
    }

    fn with_header(change: impl FnOnce(&mut Value)) -> String {
        let key = TestKey::generate("p", Algorithm::ES256);
        let mut header = header(&key);
        change(&mut header);
        sign(&key, &header, &claims())
    }

    #[test]
    fn a_proof_of_each_key_type_passes_and_names_its_thumbprint() {
        for alg in [Algorithm::ES256, Algorithm::EdDSA, Algorithm::PS256] {
            let key = TestKey::generate("p", alg);
            let proof = sign(&key, &header(&key), &claims());
            let verified = check(&proof).unwrap_or_else(|e| panic!("{alg:?}: {e:?}"));
            let jwk = proof_jwk(&key);
            assert_eq!(verified.jkt, thumbprint(jwk.as_object().unwrap()).unwrap());
            assert_eq!(verified.jti, "e1j3V_bKic8-LAEB");
        }
    }

    #[test]
    fn the_thumbprint_is_rfc_7638s_example() {
        // RFC 7638 section 3.1.
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            thumbprint(jwk.as_object().unwrap()).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }

    #[test]
    fn the_access_token_hash_is_rfc_9449s_example() {
        // RFC 9449 section 7.1, figure 13's token and its `ath`.
        let token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
        assert_eq!(
            access_token_hash(token),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn the_request_must_match_method_uri_time_and_token() {
        let cases: [Case; 7] = [
            (
                "htm",
                |c| c["htm"] = json!("POST"),
                InvalidProof::MethodMismatch,
            ),
            (
                "htm case",
                |c| c["htm"] = json!("get"),
                InvalidProof::MethodMismatch,
            ),
            (
                "htu path",
                |c| c["htu"] = json!("https://api.example.com/admin"),
                InvalidProof::UriMismatch,
            ),
            (
                "htu host",
                |c| c["htu"] = json!("https://evil.example.com/orders"),
                InvalidProof::UriMismatch,
            ),
            ("stale", |c| c["iat"] = json!(NOW - 66), InvalidProof::Stale),
            (
                "future",
                |c| c["iat"] = json!(NOW + 66),
                InvalidProof::Stale,
            ),
            (
                "ath",
                |c| c["ath"] = json!(access_token_hash("another token")),
                InvalidProof::AccessTokenHashMismatch,
            ),
        ];
        for (name, change, expected) in cases {
            assert_eq!(check(&with_claims(change)), Err(expected), "{name}");
        }
        // Within the window and leeway, either way.
        assert!(check(&with_claims(|c| c["iat"] = json!(NOW - 65))).is_ok());
        assert!(check(&with_claims(|c| c["iat"] = json!(NOW + 65))).is_ok());
    }

    #[test]
    fn htu_is_compared_normalized_without_query_or_fragment() {
        for same in [
            "https://API.Example.com/orders",
            "HTTPS://api.example.com:443/orders",
            "https://api.example.com/orders?page=2",
            "https://api.example.com/orders#top",
        ] {
            assert!(
                check(&with_claims(|c| c["htu"] = json!(same))).is_ok(),
                "{same}"
            );
        }
        for other in [
            "http://api.example.com/orders",
            "https://api.example.com:8443/orders",
            "https://api.example.com/orders/",
            "https://user@api.example.com/orders",
            "/orders",
        ] {
            assert_eq!(
                check(&with_claims(|c| c["htu"] = json!(other))),
                Err(InvalidProof::UriMismatch),
                "{other}"
            );
        }
    }

    #[test]
    fn every_required_claim_is_required() {
        for claim in ["jti", "htm", "htu", "iat", "ath"] {
            let proof = with_claims(|c| {
                c.as_object_mut().unwrap().remove(claim);
            });
            assert_eq!(check(&proof), Err(InvalidProof::MissingClaim), "{claim}");
        }
        let long = "j".repeat(MAX_JTI_BYTES + 1);
        assert_eq!(
            check(&with_claims(|c| c["jti"] = json!(long))),
            Err(InvalidProof::MissingClaim)
        );
    }

    #[test]
    fn the_header_must_be_a_dpop_proof_with_a_public_key() {
        let cases: [Case; 6] = [
            (
                "typ jwt",
                |h| h["typ"] = json!("JWT"),
                InvalidProof::WrongType,
            ),
            (
                "typ at+jwt",
                |h| h["typ"] = json!("at+jwt"),
                InvalidProof::WrongType,
            ),
            (
                "alg none",
                |h| h["alg"] = json!("none"),
                InvalidProof::AlgorithmNotAllowed,
            ),
            (
                "alg HS256",
                |h| h["alg"] = json!("HS256"),
                InvalidProof::AlgorithmNotAllowed,
            ),
            (
                "crit",
                |h| h["crit"] = json!(["exp"]),
                InvalidProof::UnsupportedHeader,
            ),
            (
                "no jwk",
                |h| {
                    h.as_object_mut().unwrap().remove("jwk");
                },
                InvalidProof::BadKey,
            ),
        ];
        for (name, change, expected) in cases {
            assert_eq!(check(&with_header(change)), Err(expected), "{name}");
        }
        // A private member in the key, even beside a valid public key and signature.
        assert_eq!(
            check(&with_header(|h| h["jwk"]["d"] = json!("AAAA"))),
            Err(InvalidProof::BadKey)
        );
        // A symmetric key.
        assert_eq!(
            check(&with_header(
                |h| h["jwk"] = json!({"kty": "oct", "k": "c2VjcmV0"})
            )),
            Err(InvalidProof::BadKey)
        );
    }

    #[test]
    fn the_signature_must_be_the_embedded_keys() {
        let signer = TestKey::generate("a", Algorithm::ES256);
        let other = TestKey::generate("b", Algorithm::ES256);
        // Signed by `signer`, but naming `other`'s key.
        let proof = sign(&signer, &header(&other), &claims());
        assert_eq!(check(&proof), Err(InvalidProof::BadSignature));
        // A key that does not fit the algorithm.
        let ed = TestKey::generate("c", Algorithm::EdDSA);
        let mut h = header(&ed);
        h["alg"] = json!("ES256");
        assert_eq!(check(&sign(&ed, &h, &claims())), Err(InvalidProof::BadKey));
        // The claims changed after signing.
        let proof = sign(&signer, &header(&signer), &claims());
        let mut parts: Vec<&str> = proof.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(
            json!({"jti": "x", "htm": "GET", "htu": "https://api.example.com/orders",
                   "iat": NOW, "ath": access_token_hash(TOKEN)})
            .to_string(),
        );
        parts[1] = &forged;
        assert_eq!(check(&parts.join(".")), Err(InvalidProof::BadSignature));
    }

    #[test]
    fn malformed_proofs_are_refused_without_a_panic() {
        let duplicate = format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(r#"{"typ":"dpop+jwt","typ":"dpop+jwt","alg":"ES256"}"#),
            URL_SAFE_NO_PAD.encode("{}")
        );
        for proof in [
            "",
            "a.b",
            "a.b.c.d",
            "..",
            "!!!.@@@.###",
            &duplicate,
            &"a".repeat(MAX_PROOF_BYTES + 1),
        ] {
            assert!(check(proof).is_err(), "{proof:.40}");
        }
    }

    #[test]
    fn replay_keys_differ_by_key_and_jti() {
        let proof = |jkt: &str, jti: &str| VerifiedProof {
            jkt: jkt.into(),
            jti: jti.into(),
            iat: NOW,
        };
        assert_eq!(proof("k", "1").replay_key(), proof("k", "1").replay_key());
        assert_ne!(proof("k", "1").replay_key(), proof("k", "2").replay_key());
        assert_ne!(proof("k", "1").replay_key(), proof("l", "1").replay_key());
    }
}
