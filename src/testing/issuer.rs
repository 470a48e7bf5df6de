//! The mock issuer: discovery, JWKS and introspection on 127.0.0.1, with keys it
//! rotates and retracts, and hit counters for tests to assert on.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use super::behavior::Behavior;
use super::key::TestKey;
use super::routes;
use super::state::IssuerState;
use crate::Algorithm;

/// The audience [`MockIssuer::start`] mints tokens for.
pub const DEFAULT_AUDIENCE: &str = "tokengate-dev-api";
/// The client id and secret the mock's introspection endpoint accepts by default.
pub const DEFAULT_INTROSPECTION_CLIENT: (&str, &str) = ("rs-client", "rs-secret");

/// A mock issuer serving on 127.0.0.1 until dropped.
pub struct MockIssuer {
    pub(super) state: Arc<IssuerState>,
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
        let app = routes::router(state.clone());
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
    /// signed with the newest key unless [`TokenBuilder::key`](super::TokenBuilder::key) says otherwise.
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
        let keys = self.state.keys.lock().unwrap();
        keys.iter().find(|k| k.kid == kid)?.public_key_bytes()
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

    pub(super) fn newest(&self) -> (String, Algorithm) {
        let keys = self.state.keys.lock().unwrap();
        let key = keys.last().expect("the issuer always has a key");
        (key.kid.clone(), key.alg)
    }
}
