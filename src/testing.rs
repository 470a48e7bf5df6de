//! A mock authorization server on 127.0.0.1 and a token minter, for tests (feature
//! `testing`). The examples embed it as their development issuer.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use tokengate::testing::MockIssuer;
//! use tokengate::Validator;
//!
//! let issuer = MockIssuer::start().await;
//! let validator = Validator::builder()
//!     .issuer(issuer.issuer())
//!     .audience(issuer.audience())
//!     .build()
//!     .unwrap();
//!
//! let token = issuer.token().subject("alice").scope("read admin").sign();
//! let claims = validator.validate(&token).await.unwrap();
//! assert!(claims.scopes().contains("admin"));
//!
//! let expired = issuer.token().expires_in(-3600).sign();
//! assert!(validator.validate(&expired).await.is_err());
//! # }
//! ```
//!
//! It serves OIDC discovery, RFC 8414 metadata and a JWKS, counts its hits, rotates and
//! retracts keys, and can be told to fail, hang, or serve any JWKS document. It is a test
//! double: never expose it beyond loopback.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::Algorithm;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use axum::Router;
use axum::extract::State;
use axum::http::header::{
    CONTENT_TYPE, ETAG, HeaderName, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
    LOCATION,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

/// The audience [`MockIssuer::start`] mints tokens for.
pub const DEFAULT_AUDIENCE: &str = "tokengate-dev-api";
/// The client id and secret the mock's introspection endpoint accepts by default.
pub const DEFAULT_INTROSPECTION_CLIENT: (&str, &str) = ("rs-client", "rs-secret");
/// How long a [`Behavior::Hang`] holds a request: longer than any fetch timeout, short
/// enough that a forgotten test server ends by itself.
pub const HANG_FOR: Duration = Duration::from_secs(60);

/// How the issuer answers discovery and JWKS requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behavior {
    /// Serve the documents.
    Normal,
    /// Answer every request with this status and an empty body.
    Fail(u16),
    /// Hold every request for [`HANG_FOR`], then answer normally.
    Hang,
    /// Answer 200 with a body that is not JSON.
    Garbage,
    /// Wait this long, then answer normally (a slow issuer).
    Slow(Duration),
    /// Wait this long, then answer with this status and an empty body (a slow, failing
    /// issuer: the caller may give up before the answer).
    SlowFail(Duration, u16),
}

enum KeyMaterial {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A signing key pair for tests: generate one, publish its JWK, sign with it. The
/// [`MockIssuer`] holds these; use one directly to pin keys with
/// [`ValidatorBuilder::jwks`](crate::ValidatorBuilder::jwks) or in a fuzz target.
///
/// ```
/// use tokengate::testing::TestKey;
/// let key = TestKey::generate("k1", tokengate::Algorithm::ES256);
/// assert_eq!(key.public_jwk()["crv"], "P-256");
/// assert_eq!(key.sign(b"message").len(), 64);
/// ```
pub struct TestKey {
    kid: String,
    alg: Algorithm,
    material: KeyMaterial,
    published: bool,
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl TestKey {
    /// Generates a fresh key for `alg` (RSA keys are 2048 bits).
    pub fn generate(kid: impl Into<String>, alg: Algorithm) -> Self {
        let kid = kid.into();
        use Algorithm::*;
        let material = match alg {
            RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => KeyMaterial::Rsa(
                RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA keygen"),
            ),
            ES256 => KeyMaterial::Ec(
                EcdsaKeyPair::generate(&sig::ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC keygen"),
            ),
            ES384 => KeyMaterial::Ec(
                EcdsaKeyPair::generate(&sig::ECDSA_P384_SHA384_FIXED_SIGNING).expect("EC keygen"),
            ),
            EdDSA => KeyMaterial::Ed(Ed25519KeyPair::generate().expect("Ed25519 keygen")),
        };
        TestKey {
            kid,
            alg,
            material,
            published: true,
        }
    }

    /// The key's `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm it signs with.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The public JWK, with `kid`, `use: sig` and `alg`.
    pub fn public_jwk(&self) -> Value {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let mut jwk = match &self.material {
            KeyMaterial::Rsa(k) => json!({
                "kty": "RSA",
                "n": b64(k.public_key().modulus().big_endian_without_leading_zero()),
                "e": b64(k.public_key().exponent().big_endian_without_leading_zero()),
            }),
            KeyMaterial::Ec(k) => {
                let point = k.public_key().as_ref();
                let len = (point.len() - 1) / 2;
                let crv = if len == 32 { "P-256" } else { "P-384" };
                json!({"kty": "EC", "crv": crv, "x": b64(&point[1..1 + len]), "y": b64(&point[1 + len..])})
            }
            KeyMaterial::Ed(k) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(k.public_key().as_ref())})
            }
        };
        jwk["kid"] = json!(self.kid);
        jwk["use"] = json!("sig");
        jwk["alg"] = json!(alg_name(self.alg));
        jwk
    }

    /// The raw JWS signature of `message` (`R || S` for ECDSA).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        use Algorithm::*;
        match &self.material {
            KeyMaterial::Rsa(k) => {
                let padding: &'static dyn sig::RsaEncoding = match self.alg {
                    RS256 => &sig::RSA_PKCS1_SHA256,
                    RS384 => &sig::RSA_PKCS1_SHA384,
                    RS512 => &sig::RSA_PKCS1_SHA512,
                    PS256 => &sig::RSA_PSS_SHA256,
                    PS384 => &sig::RSA_PSS_SHA384,
                    _ => &sig::RSA_PSS_SHA512,
                };
                let mut out = vec![0; k.public_modulus_len()];
                k.sign(padding, &SystemRandom::new(), message, &mut out)
                    .expect("RSA signing");
                out
            }
            KeyMaterial::Ec(k) => k
                .sign(&SystemRandom::new(), message)
                .expect("ECDSA signing")
                .as_ref()
                .to_vec(),
            KeyMaterial::Ed(k) => k.sign(message).as_ref().to_vec(),
        }
    }
}

/// The RFC 7518 name of an algorithm.
pub fn alg_name(alg: Algorithm) -> &'static str {
    alg.as_str()
}

struct IssuerState {
    issuer: String,
    audience: String,
    keys: Mutex<Vec<TestKey>>,
    behavior: Mutex<Behavior>,
    jwks_override: Mutex<Option<Value>>,
    oidc_discovery: Mutex<bool>,
    jwks_headers: Mutex<Vec<(String, String)>>,
    metadata_extra: Mutex<Map<String, Value>>,
    etag: Mutex<bool>,
    redirect_to: Mutex<String>,
    discovery_hits: AtomicUsize,
    jwks_hits: AtomicUsize,
    not_modified_hits: AtomicUsize,
    /// RFC 7662: the client allowed to introspect, and the opaque tokens issued.
    introspection_client: Mutex<(String, String)>,
    opaque_tokens: Mutex<std::collections::HashMap<String, Map<String, Value>>>,
    introspection_hits: AtomicUsize,
    /// Introspection requests being answered now, and the most at once.
    introspections_in_flight: AtomicUsize,
    introspection_peak: AtomicUsize,
    next_kid: AtomicUsize,
    /// Opaque tokens the introspection endpoint refuses with a status of their own.
    introspection_refusals: Mutex<std::collections::HashMap<String, u16>>,
}

/// A mock issuer serving on 127.0.0.1 until dropped.
pub struct MockIssuer {
    state: Arc<IssuerState>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for MockIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockIssuer")
            .field("issuer", &self.state.issuer)
            .finish_non_exhaustive()
    }
}

impl Drop for MockIssuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl MockIssuer {
    /// Starts an issuer with one RS256 key, minting tokens for [`DEFAULT_AUDIENCE`].
    pub async fn start() -> MockIssuer {
        Self::start_with(DEFAULT_AUDIENCE, Algorithm::RS256).await
    }

    /// Starts an issuer whose first key signs with `alg`, minting tokens for `audience`.
    pub async fn start_with(audience: &str, alg: Algorithm) -> MockIssuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(IssuerState {
            issuer: format!("http://{addr}"),
            audience: audience.to_owned(),
            keys: Mutex::new(Vec::new()),
            behavior: Mutex::new(Behavior::Normal),
            jwks_override: Mutex::new(None),
            oidc_discovery: Mutex::new(true),
            jwks_headers: Mutex::new(Vec::new()),
            metadata_extra: Mutex::new(Map::new()),
            etag: Mutex::new(true),
            redirect_to: Mutex::new("/jwks".to_owned()),
            discovery_hits: AtomicUsize::new(0),
            jwks_hits: AtomicUsize::new(0),
            not_modified_hits: AtomicUsize::new(0),
            introspection_client: Mutex::new((
                DEFAULT_INTROSPECTION_CLIENT.0.to_owned(),
                DEFAULT_INTROSPECTION_CLIENT.1.to_owned(),
            )),
            opaque_tokens: Mutex::new(std::collections::HashMap::new()),
            introspection_hits: AtomicUsize::new(0),
            introspections_in_flight: AtomicUsize::new(0),
            introspection_peak: AtomicUsize::new(0),
            next_kid: AtomicUsize::new(1),
            introspection_refusals: Mutex::new(std::collections::HashMap::new()),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(oidc_metadata))
            .route(
                "/.well-known/oauth-authorization-server",
                get(oauth_metadata),
            )
            .route("/jwks", get(jwks))
            .route("/moved", get(moved))
            .route("/introspect", axum::routing::post(introspect))
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            // Ends when the issuer is dropped (the task is aborted) or the runtime stops.
            let _ = axum::serve(listener, app).await;
        });
        let issuer = MockIssuer {
            state,
            addr,
            server,
        };
        issuer.set_metadata("introspection_endpoint", issuer.introspection_url());
        issuer.add_key(alg);
        issuer
    }

    /// The issuer identifier (`iss`), `http://127.0.0.1:PORT`.
    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// The audience tokens are minted for by default.
    pub fn audience(&self) -> &str {
        &self.state.audience
    }

    /// The JWKS URL.
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.state.issuer)
    }

    /// The socket address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Generates and publishes a new key for `alg`; returns its `kid`. New tokens are
    /// signed with the newest key unless [`TokenBuilder::key`] says otherwise.
    pub fn add_key(&self, alg: Algorithm) -> String {
        let n = self.state.next_kid.fetch_add(1, Ordering::Relaxed);
        let kid = format!("key-{n}");
        let key = TestKey::generate(kid.clone(), alg);
        self.state.keys.lock().unwrap().push(key);
        kid
    }

    /// Key rotation: publishes a new key of the newest key's algorithm; returns its `kid`.
    pub fn rotate(&self) -> String {
        let alg = self.newest().1;
        self.add_key(alg)
    }

    /// Stops publishing the key `kid` (it can still sign, for tests of retracted keys).
    pub fn retract(&self, kid: &str) {
        for key in self.state.keys.lock().unwrap().iter_mut() {
            if key.kid == kid {
                key.published = false;
            }
        }
    }

    /// The public JWK of `kid` as published.
    pub fn public_jwk(&self, kid: &str) -> Option<Value> {
        let keys = self.state.keys.lock().unwrap();
        keys.iter().find(|k| k.kid == kid).map(TestKey::public_jwk)
    }

    /// The public key of `kid` as DER SubjectPublicKeyInfo (RSA and Ed25519) or as the
    /// uncompressed point (EC): what an attacker would try as an HMAC secret.
    pub fn public_key_der(&self, kid: &str) -> Option<Vec<u8>> {
        use aws_lc_rs::encoding::AsDer;
        let keys = self.state.keys.lock().unwrap();
        let key = keys.iter().find(|k| k.kid == kid)?;
        Some(match &key.material {
            KeyMaterial::Rsa(k) => k.public_key().as_der().ok()?.as_ref().to_vec(),
            KeyMaterial::Ec(k) => k.public_key().as_ref().to_vec(),
            KeyMaterial::Ed(k) => k.public_key().as_der().ok()?.as_ref().to_vec(),
        })
    }

    /// Serve `doc` as the JWKS instead of the real keys (`None`: back to the real keys).
    pub fn serve_jwks(&self, doc: Option<Value>) {
        *self.state.jwks_override.lock().unwrap() = doc;
    }

    /// Whether `/.well-known/openid-configuration` exists (else only RFC 8414 metadata).
    pub fn serve_oidc_discovery(&self, serve: bool) {
        *self.state.oidc_discovery.lock().unwrap() = serve;
    }

    /// Extra headers on JWKS responses (`Cache-Control`, `Expires`, `Last-Modified`, ...).
    pub fn set_jwks_headers(&self, headers: &[(&str, &str)]) {
        *self.state.jwks_headers.lock().unwrap() = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
    }

    /// Adds (or replaces) members of the discovery metadata, such as
    /// `authorization_endpoint` or `introspection_endpoint` served by another test server.
    /// `issuer` and `jwks_uri` cannot be replaced.
    pub fn set_metadata(&self, name: &str, value: impl Into<Value>) {
        self.state
            .metadata_extra
            .lock()
            .unwrap()
            .insert(name.to_owned(), value.into());
    }

    /// Whether JWKS responses carry an `ETag` and answer a matching `If-None-Match`
    /// with `304 Not Modified` (on by default, as real issuers do).
    pub fn serve_etag(&self, serve: bool) {
        *self.state.etag.lock().unwrap() = serve;
    }

    /// Where `/moved` redirects (307); `/jwks` by default. [`MockIssuer::moved_url`]
    /// is the URL to configure as a JWKS URL to test redirects.
    pub fn redirect_to(&self, location: &str) {
        *self.state.redirect_to.lock().unwrap() = location.to_owned();
    }

    /// The URL that redirects (see [`MockIssuer::redirect_to`]).
    pub fn moved_url(&self) -> String {
        format!("{}/moved", self.state.issuer)
    }

    /// The RFC 7662 introspection endpoint (also in the discovery metadata).
    pub fn introspection_url(&self) -> String {
        format!("{}/introspect", self.state.issuer)
    }

    /// The client allowed to introspect (`client_secret_basic` or `client_secret_post`).
    pub fn set_introspection_client(&self, client_id: &str, client_secret: &str) {
        *self.state.introspection_client.lock().unwrap() =
            (client_id.to_owned(), client_secret.to_owned());
    }

    /// Introspection requests received (whatever the answer).
    pub fn introspection_hits(&self) -> usize {
        self.state.introspection_hits.load(Ordering::SeqCst)
    }

    /// The most introspection requests this issuer was answering at one time.
    pub fn introspection_peak(&self) -> usize {
        self.state.introspection_peak.load(Ordering::SeqCst)
    }

    /// Ends an opaque token's life early: introspection answers `active: false` from now.
    pub fn revoke(&self, opaque_token: &str) {
        self.state
            .opaque_tokens
            .lock()
            .unwrap()
            .remove(opaque_token);
    }

    /// Makes the introspection endpoint answer `status` with a non-JSON body whenever it
    /// is asked about `token` (any token, opaque or not, made up or issued), as a web
    /// application firewall in front of an issuer answers a token that looks like an
    /// attack (`../../../../etc/passwd` is a valid bearer token). Client authentication
    /// is not checked first: the firewall answers before the issuer sees the request.
    pub fn refuse_introspection(&self, token: &str, status: u16) {
        self.state
            .introspection_refusals
            .lock()
            .unwrap()
            .insert(token.to_owned(), status);
    }

    /// JWKS requests answered `304 Not Modified`.
    pub fn not_modified_hits(&self) -> usize {
        self.state.not_modified_hits.load(Ordering::SeqCst)
    }

    /// How discovery and JWKS requests are answered from now on.
    pub fn set_behavior(&self, behavior: Behavior) {
        *self.state.behavior.lock().unwrap() = behavior;
    }

    /// JWKS requests served so far (whatever the behavior).
    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    /// Discovery requests served so far (both metadata locations).
    pub fn discovery_hits(&self) -> usize {
        self.state.discovery_hits.load(Ordering::SeqCst)
    }

    fn newest(&self) -> (String, Algorithm) {
        let keys = self.state.keys.lock().unwrap();
        let key = keys.last().expect("the issuer always has a key");
        (key.kid.clone(), key.alg)
    }

    /// Starts a token with default claims: `iss`, `aud`, `sub` = `dev-user`, `iat`, `exp`
    /// in one hour, header `typ: at+jwt`, signed by the newest key.
    pub fn token(&self) -> TokenBuilder<'_> {
        let now = unix_now();
        let (kid, alg) = self.newest();
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.state.issuer));
        claims.insert("aud".into(), json!(self.state.audience));
        claims.insert("sub".into(), json!("dev-user"));
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + 3600));
        let mut header = Map::new();
        header.insert("alg".into(), json!(alg_name(alg)));
        header.insert("typ".into(), json!("at+jwt"));
        header.insert("kid".into(), json!(kid));
        TokenBuilder {
            issuer: self,
            key: kid,
            header,
            claims,
            raw_header: None,
            raw_payload: None,
        }
    }
}

/// A token being minted by a [`MockIssuer`]. Every setter overrides what was there.
#[must_use]
pub struct TokenBuilder<'a> {
    issuer: &'a MockIssuer,
    key: String,
    header: Map<String, Value>,
    claims: Map<String, Value>,
    raw_header: Option<Vec<u8>>,
    raw_payload: Option<Vec<u8>>,
}

impl TokenBuilder<'_> {
    /// Sets any claim.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a claim.
    pub fn without_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Sets `sub`.
    pub fn subject(self, sub: &str) -> Self {
        self.claim("sub", sub)
    }

    /// Sets `scope` (space-delimited).
    pub fn scope(self, scope: &str) -> Self {
        self.claim("scope", scope)
    }

    /// Sets `aud`.
    pub fn audience(self, aud: impl Into<Value>) -> Self {
        self.claim("aud", aud)
    }

    /// Sets `exp` to now plus `seconds` (negative: already expired).
    pub fn expires_in(self, seconds: i64) -> Self {
        self.claim("exp", unix_now() + seconds)
    }

    /// Sets any header parameter (`alg`, `kid`, `typ`, `crit`, `jwk`, ...). The signature
    /// is still made with the chosen key's own algorithm, whatever `alg` says.
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a header parameter.
    pub fn without_header(mut self, name: &str) -> Self {
        self.header.remove(name);
        self
    }

    /// Signs with the key `kid` (published or retracted), and names it in the header.
    pub fn key(mut self, kid: &str) -> Self {
        let keys = self.issuer.state.keys.lock().unwrap();
        let key = keys.iter().find(|k| k.kid == kid).expect("no such key");
        self.header.insert("alg".into(), json!(alg_name(key.alg)));
        self.header.insert("kid".into(), json!(kid));
        drop(keys);
        self.key = kid.to_owned();
        self
    }

    /// Uses these exact bytes as the header, instead of the header built so far (for
    /// duplicate members, odd encodings, non-UTF-8). The token is still properly signed.
    pub fn raw_header(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.raw_header = Some(bytes.into());
        self
    }

    /// Uses these exact bytes as the payload, instead of the claims built so far.
    pub fn raw_payload(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.raw_payload = Some(bytes.into());
        self
    }

    /// The claims as JSON text: a starting point for [`TokenBuilder::raw_payload`].
    pub fn claims_json(&self) -> String {
        Value::Object(self.claims.clone()).to_string()
    }

    /// The encoded `header.payload`, unsigned.
    pub fn signing_input(&self) -> String {
        let part = |raw: &Option<Vec<u8>>, m: &Map<String, Value>| match raw {
            Some(bytes) => URL_SAFE_NO_PAD.encode(bytes),
            None => URL_SAFE_NO_PAD.encode(Value::Object(m.clone()).to_string()),
        };
        format!(
            "{}.{}",
            part(&self.raw_header, &self.header),
            part(&self.raw_payload, &self.claims)
        )
    }

    /// The compact JWS, signed by the chosen key.
    pub fn sign(self) -> String {
        let input = self.signing_input();
        let keys = self.issuer.state.keys.lock().unwrap();
        let key = keys
            .iter()
            .find(|k| k.kid == self.key)
            .expect("the chosen key exists");
        let signature = URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()));
        format!("{input}.{signature}")
    }

    /// An opaque token (random, not a JWT) whose claims only introspection reveals. The
    /// introspection answer is the claims with `active: true` and `token_type: Bearer`
    /// (a `token_type` claim replaces it; `token_type` set to `null` leaves it out).
    pub fn opaque(self) -> String {
        let mut bytes = [0u8; 24];
        aws_lc_rs::rand::fill(&mut bytes).expect("random bytes");
        let token = URL_SAFE_NO_PAD.encode(bytes);
        self.issuer
            .state
            .opaque_tokens
            .lock()
            .unwrap()
            .insert(token.clone(), self.claims);
        token
    }

    /// The compact JWS with an HMAC-SHA256 "signature" under `secret`: the forgery an
    /// attacker makes when a validator treats a public key as an HMAC secret.
    pub fn sign_hs256(self, secret: &[u8]) -> String {
        let input = self.header("alg", "HS256").signing_input();
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
        let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }
}

use crate::validator::unix_now;

/// Applies the configured behavior; `None` means "serve normally".
async fn misbehave(state: &IssuerState) -> Option<Response> {
    let behavior = state.behavior.lock().unwrap().clone();
    match behavior {
        Behavior::Normal => None,
        Behavior::Fail(status) => Some(
            StatusCode::from_u16(status)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                .into_response(),
        ),
        Behavior::Hang => {
            tokio::time::sleep(HANG_FOR).await;
            None
        }
        Behavior::Garbage => Some((StatusCode::OK, "{\"keys\": [ not json").into_response()),
        Behavior::Slow(delay) => {
            tokio::time::sleep(delay).await;
            None
        }
        Behavior::SlowFail(delay, status) => {
            tokio::time::sleep(delay).await;
            Some(
                StatusCode::from_u16(status)
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                    .into_response(),
            )
        }
    }
}

fn metadata(state: &IssuerState) -> Response {
    let mut doc = state.metadata_extra.lock().unwrap().clone();
    doc.insert("issuer".into(), json!(state.issuer));
    doc.insert("jwks_uri".into(), json!(format!("{}/jwks", state.issuer)));
    doc.entry("id_token_signing_alg_values_supported")
        .or_insert(json!(["RS256"]));
    axum::Json(Value::Object(doc)).into_response()
}

async fn oidc_metadata(State(state): State<Arc<IssuerState>>) -> Response {
    state.discovery_hits.fetch_add(1, Ordering::SeqCst);
    if !*state.oidc_discovery.lock().unwrap() {
        return StatusCode::NOT_FOUND.into_response();
    }
    if let Some(response) = misbehave(&state).await {
        return response;
    }
    metadata(&state)
}

async fn oauth_metadata(State(state): State<Arc<IssuerState>>) -> Response {
    state.discovery_hits.fetch_add(1, Ordering::SeqCst);
    if let Some(response) = misbehave(&state).await {
        return response;
    }
    metadata(&state)
}

async fn jwks(State(state): State<Arc<IssuerState>>, request: HeaderMap) -> Response {
    state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    if let Some(response) = misbehave(&state).await {
        return response;
    }
    let doc = state.jwks_override.lock().unwrap().clone();
    let doc = doc.unwrap_or_else(|| {
        let keys: Vec<Value> = state
            .keys
            .lock()
            .unwrap()
            .iter()
            .filter(|k| k.published)
            .map(TestKey::public_jwk)
            .collect();
        json!({ "keys": keys })
    });
    let body = doc.to_string();
    let mut headers = HeaderMap::new();
    for (name, value) in state.jwks_headers.lock().unwrap().iter() {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(n, v);
        }
    }
    let mut not_modified = false;
    if *state.etag.lock().unwrap() {
        let etag = format!("\"{:016x}\"", content_tag(&body));
        not_modified |= request
            .get(IF_NONE_MATCH)
            .is_some_and(|v| v == etag.as_str());
        headers.insert(ETAG, HeaderValue::from_str(&etag).unwrap());
    }
    if let Some(modified) = headers.get(LAST_MODIFIED) {
        not_modified |= request.get(IF_MODIFIED_SINCE) == Some(modified);
    }
    if not_modified {
        state.not_modified_hits.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (StatusCode::OK, headers, body).into_response()
}

async fn moved(State(state): State<Arc<IssuerState>>) -> Response {
    let location = state.redirect_to.lock().unwrap().clone();
    match HeaderValue::from_str(&location) {
        Ok(location) => (StatusCode::TEMPORARY_REDIRECT, [(LOCATION, location)]).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A content hash for ETags: the same body gives the same tag within one process.
fn content_tag(body: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut hasher);
    hasher.finish()
}

/// RFC 7662 section 2: the introspection endpoint, authenticating the client with
/// `client_secret_basic` or `client_secret_post`.
async fn introspect(
    State(state): State<Arc<IssuerState>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<std::collections::HashMap<String, String>>,
) -> Response {
    /// Counts the request out even when its client gives up and the handler is dropped.
    struct InFlight<'a>(&'a AtomicUsize);
    impl Drop for InFlight<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    state.introspection_hits.fetch_add(1, Ordering::SeqCst);
    let now = state
        .introspections_in_flight
        .fetch_add(1, Ordering::SeqCst)
        + 1;
    state.introspection_peak.fetch_max(now, Ordering::SeqCst);
    let _in_flight = InFlight(&state.introspections_in_flight);
    answer_introspection(&state, &headers, &form).await
}

async fn answer_introspection(
    state: &IssuerState,
    headers: &HeaderMap,
    form: &std::collections::HashMap<String, String>,
) -> Response {
    use base64::engine::general_purpose::STANDARD;
    if let Some(response) = misbehave(state).await {
        return response;
    }
    let refusal = form
        .get("token")
        .and_then(|t| state.introspection_refusals.lock().unwrap().get(t).copied());
    if let Some(status) = refusal {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
        return (status, "<html>Request blocked</html>").into_response();
    }
    let (id, secret) = state.introspection_client.lock().unwrap().clone();
    let basic = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let authenticated = match basic {
        Some(pair) => pair == format!("{id}:{secret}"),
        None => form.get("client_id") == Some(&id) && form.get("client_secret") == Some(&secret),
    };
    if !authenticated {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let claims = form
        .get("token")
        .and_then(|t| state.opaque_tokens.lock().unwrap().get(t).cloned());
    let active = claims.as_ref().is_some_and(|c| {
        c.get("exp")
            .and_then(Value::as_i64)
            .is_none_or(|exp| exp > unix_now())
    });
    match (active, claims) {
        (true, Some(mut claims)) => {
            claims.insert("active".into(), json!(true));
            // `Bearer` unless the token was minted with a `token_type` claim of its own
            // (`null`: the answer names none).
            match claims.get("token_type") {
                None => {
                    claims.insert("token_type".into(), json!("Bearer"));
                }
                Some(Value::Null) => {
                    claims.remove("token_type");
                }
                Some(_) => {}
            }
            axum::Json(Value::Object(claims)).into_response()
        }
        _ => axum::Json(json!({"active": false})).into_response(),
    }
}

/// A DPoP client's key (RFC 9449): mint the `cnf.jkt` a bound token carries and sign
/// the proof of each request, to test an API that accepts DPoP-bound tokens.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tokengate::testing::{DpopKey, MockIssuer};
///
/// let issuer = MockIssuer::start().await;
/// let client = DpopKey::generate(tokengate::Algorithm::ES256);
/// let token = issuer.token().claim("cnf", client.cnf()).sign();
/// let proof = client.proof("GET", "https://api.example.com/me", &token);
/// // Send: `Authorization: DPoP {token}` and `DPoP: {proof}`.
/// assert_eq!(proof.split('.').count(), 3);
/// # }
/// ```
#[derive(Debug)]
pub struct DpopKey {
    key: TestKey,
}

impl DpopKey {
    /// A fresh key for `alg`.
    pub fn generate(alg: Algorithm) -> Self {
        DpopKey {
            key: TestKey::generate("dpop", alg),
        }
    }

    /// The public JWK a proof embeds (no `kid`, `use` or `alg`).
    pub fn public_jwk(&self) -> Value {
        let mut jwk = self.key.public_jwk();
        if let Some(object) = jwk.as_object_mut() {
            for member in ["kid", "use", "alg"] {
                object.remove(member);
            }
        }
        jwk
    }

    /// The RFC 7638 thumbprint of the key, as `cnf.jkt` carries it.
    pub fn jkt(&self) -> String {
        let jwk = self.public_jwk();
        crate::binding::dpop::thumbprint(jwk.as_object().expect("a JWK is an object"))
            .expect("the key types we generate have thumbprints")
    }

    /// The `cnf` claim of a token bound to this key: `{"jkt": ...}`.
    pub fn cnf(&self) -> Value {
        json!({ "jkt": self.jkt() })
    }

    /// A fresh proof for `method` and `uri` with `access_token` (a new `jti`, `iat` now).
    pub fn proof(&self, method: &str, uri: &str, access_token: &str) -> String {
        self.proof_with(method, uri, access_token, |_| {})
    }

    /// A proof whose claims `change` edits before signing (for attack tests: a stale
    /// `iat`, another `ath`, a reused `jti`).
    pub fn proof_with(
        &self,
        method: &str,
        uri: &str,
        access_token: &str,
        change: impl FnOnce(&mut Value),
    ) -> String {
        let header = json!({
            "typ": "dpop+jwt",
            "alg": alg_name(self.key.alg()),
            "jwk": self.public_jwk(),
        });
        let mut jti = [0u8; 16];
        aws_lc_rs::rand::fill(&mut jti).expect("random jti");
        let mut claims = json!({
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "htm": method,
            "htu": uri,
            "iat": crate::validator::unix_now(),
            "ath": crate::binding::dpop::access_token_hash(access_token),
        });
        change(&mut claims);
        self.sign(&header, &claims)
    }

    /// Signs any header and claims with this key (for malformed-proof tests).
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = URL_SAFE_NO_PAD.encode(self.key.sign(input.as_bytes()));
        format!("{input}.{signature}")
    }
}
