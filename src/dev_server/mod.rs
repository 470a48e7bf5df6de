//! A **development authorization server** on 127.0.0.1 (feature `dev-issuer`, which is
//! never on by default): the whole OAuth 2.0 flow, runnable locally, so a resource server
//! can be tried against the real sequence of requests instead of hand-minted tokens.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tokengate::dev_server::DevServer;
//! use tokengate::dev_server::client::{Pkce, check_callback, form_urlencode, new_state};
//!
//! let redirect_uri = "http://127.0.0.1:8080/callback";
//! let server = DevServer::builder()
//!     .client("my-app", "my-secret", [redirect_uri], ["read"])
//!     .user("alice")
//!     .start()
//!     .await?;
//!
//! // The client sends the browser to the authorization endpoint (RFC 6749 4.1.1) with a
//! // fresh `state` and a PKCE challenge (RFC 7636 4.2).
//! let (state, pkce) = (new_state(), Pkce::new());
//! let mut authorize = reqwest::Url::parse(&server.authorization_endpoint())?;
//! authorize
//!     .query_pairs_mut()
//!     .append_pair("response_type", "code")
//!     .append_pair("client_id", "my-app")
//!     .append_pair("redirect_uri", redirect_uri)
//!     .append_pair("scope", "read")
//!     .append_pair("state", &state)
//!     .append_pair("code_challenge", pkce.challenge())
//!     .append_pair("code_challenge_method", "S256");
//! let http = reqwest::Client::builder()
//!     .redirect(reqwest::redirect::Policy::none())
//!     .build()?;
//! let response = http.get(authorize).send().await?;
//! assert_eq!(response.status(), 302);
//!
//! // "alice" is signed in and consents at once; the browser comes back to the redirect URI
//! // with a code and the same `state` (RFC 6749 4.1.2), which the client checks.
//! let location = response.headers()["location"].to_str()?;
//! let code = check_callback(location, redirect_uri, &state, Some(server.issuer()))?;
//!
//! // The client exchanges the code, proving it holds the PKCE verifier (RFC 6749 4.1.3).
//! let body = form_urlencode(&[
//!     ("grant_type", "authorization_code"),
//!     ("code", &code),
//!     ("redirect_uri", redirect_uri),
//!     ("code_verifier", pkce.verifier()),
//! ]);
//! let tokens = http
//!     .post(server.token_endpoint())
//!     .basic_auth("my-app", Some("my-secret"))
//!     .header("content-type", "application/x-www-form-urlencoded")
//!     .body(body)
//!     .send()
//!     .await?
//!     .text()
//!     .await?;
//! let tokens: serde_json::Value = serde_json::from_str(&tokens)?;
//!
//! // The access token is a JWT any resource server validates by discovery.
//! let validator = tokengate::Validator::builder()
//!     .issuer(server.issuer())
//!     .audience(server.audience())
//!     .build()?;
//! let claims = validator.validate(tokens["access_token"].as_str().unwrap()).await?;
//! assert_eq!(claims.subject(), Some("alice"));
//! assert!(tokens["refresh_token"].is_string());
//! # Ok(()) }
//! ```
//!
//! What it serves:
//!
//! - **Discovery and JWKS** (OpenID Connect Discovery, RFC 8414): a wrapped
//!   [`MockIssuer`], whose metadata names the endpoints below, `grant_types_supported`,
//!   `code_challenge_methods_supported: ["S256"]` and the rest.
//! - **`GET /authorize`** (RFC 6749 4.1.1): the configured development user is signed in
//!   and consents automatically. Redirect URIs must match a registered one exactly
//!   (RFC 6749 3.1.2.3); `state` is passed back verbatim (4.1.2), with `iss` (RFC 9207).
//!   PKCE is required, `S256` only: a missing challenge and the `plain` method are refused
//!   (RFC 7636 4.4.1). An unknown client or a bad redirect URI gets a 400 page and never a
//!   redirect; every other error redirects back with `error` and `state` (RFC 6749 4.1.2.1).
//! - **`POST /token`** (RFC 6749 3.2): `authorization_code` (4.1.3; the code is single-use,
//!   short-lived, bound to its client, redirect URI and PKCE challenge, RFC 7636 4.6),
//!   `client_credentials` (4.4) and `refresh_token` (6; refresh tokens rotate on use).
//!   Clients authenticate with `client_secret_basic` or `client_secret_post` (2.3.1);
//!   public clients send only `client_id`. Errors follow RFC 6749 5.2.
//! - **`POST /introspect`** (RFC 7662): for clients authenticating with
//!   `client_secret_basic`, whether an access token it issued is still active.
//!
//! Access tokens are RFC 9068 JWTs signed by the mock issuer's key: `sub` (the user, or
//! the client for `client_credentials`), `client_id`, `scope`, `aud`, `iat`, `exp`, `jti`.
//! Refresh tokens and codes are opaque random strings.
//!
//! Reuse is treated as theft: a second use of a code (RFC 6749 4.1.2) or of a rotated
//! refresh token (RFC 9700 4.14.2) revokes every token of that grant: its refresh tokens
//! stop working and introspection answers `active: false` for its access tokens. An API
//! validating JWTs locally still accepts them until they expire: keep access tokens
//! short-lived ([`DevServerBuilder::access_token_lifetime`]).
//!
//! It binds 127.0.0.1 only, keeps everything in memory (at most [`MAX_GRANTS`] codes,
//! refresh tokens and access tokens each), and stops when the [`DevServer`] is dropped.
//! It is a development tool: **never use it in production**.

use secrecy::{ExposeSecret, SecretString};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::Algorithm;
use aws_lc_rs::rand::SecureRandom as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Url;
use serde_json::json;

use crate::testing::{DEFAULT_AUDIENCE, MockIssuer};

pub mod client;
mod endpoints;
mod store;

/// The development user signed in by default (the `sub` of tokens from the
/// authorization code flow).
pub const DEFAULT_USER: &str = "dev-user";
/// The client registered when the builder registers none.
pub const DEFAULT_CLIENT_ID: &str = "dev-client";
/// The secret of [`DEFAULT_CLIENT_ID`].
pub const DEFAULT_CLIENT_SECRET: &str = "dev-secret";
/// The redirect URI of [`DEFAULT_CLIENT_ID`].
pub const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1:8080/callback";
/// The scopes [`DEFAULT_CLIENT_ID`] may ask for.
pub const DEFAULT_SCOPES: &[&str] = &["read", "admin"];
/// How long an authorization code can be redeemed. RFC 6749 4.1.2 recommends at most ten
/// minutes; one is plenty for a client that redeems it at once.
pub const DEFAULT_CODE_LIFETIME: Duration = Duration::from_secs(60);
/// The lifetime of access tokens (`expires_in`, RFC 6749 5.1).
pub const DEFAULT_ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(300);
/// The lifetime of each refresh token (RFC 6749 6); a rotation issues a fresh one.
pub const DEFAULT_REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// At most this many authorization codes, refresh tokens and access tokens each are
/// remembered; expired ones are forgotten first, and when that is not enough the server
/// answers `temporarily_unavailable` rather than grow.
pub const MAX_GRANTS: usize = 10_000;

/// A registered client (RFC 6749 2).
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub(crate) id: String,
    /// `None`: a public client (RFC 6749 2.1), which cannot keep a secret. Redacted in
    /// `Debug`, so a printed builder or config never shows it.
    pub(crate) secret: Option<SecretString>,
    pub(crate) redirect_uris: Vec<String>,
    pub(crate) scopes: Vec<String>,
}

/// What the endpoints need, fixed at start.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) user: String,
    pub(crate) clients: Vec<Client>,
    pub(crate) code_lifetime: Duration,
    pub(crate) access_token_lifetime: Duration,
    pub(crate) refresh_token_lifetime: Duration,
    pub(crate) base_url: String,
}

impl Config {
    pub(crate) fn client(&self, id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.id == id)
    }
}

/// The state shared by the endpoints.
pub(crate) struct Shared {
    pub(crate) config: Config,
    /// Weak: dropping the [`DevServer`] stops the issuer at once, even while a connection
    /// to the endpoints is still open.
    pub(crate) mock: Weak<MockIssuer>,
    pub(crate) store: Mutex<store::Store>,
}

/// Why a [`DevServer`] did not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum DevServerError {
    /// Asked to bind anything but 127.0.0.1: the development server is loopback only.
    NotLoopback(SocketAddr),
    /// A setting is unusable (an empty or duplicate client id, a redirect URI that is not
    /// an absolute URI without fragment (RFC 6749 3.1.2), a malformed scope, a zero
    /// lifetime); the message names it.
    Config(String),
    /// The listener could not be bound.
    Io(std::io::Error),
}

impl std::fmt::Display for DevServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DevServerError::NotLoopback(addr) => write!(
                f,
                "the development authorization server binds 127.0.0.1 only, not {addr}"
            ),
            DevServerError::Config(message) => {
                write!(f, "development authorization server: {message}")
            }
            DevServerError::Io(err) => {
                write!(f, "development authorization server: cannot listen: {err}")
            }
        }
    }
}

impl std::error::Error for DevServerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DevServerError::Io(err) => Some(err),
            _ => None,
        }
    }
}

/// Configures a [`DevServer`]; from [`DevServer::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct DevServerBuilder {
    clients: Vec<Client>,
    user: String,
    audience: String,
    algorithm: Algorithm,
    code_lifetime: Duration,
    access_token_lifetime: Duration,
    refresh_token_lifetime: Duration,
    bind: SocketAddr,
}

impl Default for DevServerBuilder {
    fn default() -> Self {
        DevServerBuilder {
            clients: Vec::new(),
            user: DEFAULT_USER.to_owned(),
            audience: DEFAULT_AUDIENCE.to_owned(),
            algorithm: Algorithm::RS256,
            code_lifetime: DEFAULT_CODE_LIFETIME,
            access_token_lifetime: DEFAULT_ACCESS_TOKEN_LIFETIME,
            refresh_token_lifetime: DEFAULT_REFRESH_TOKEN_LIFETIME,
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        }
    }
}

impl DevServerBuilder {
    /// Registers a confidential client (RFC 6749 2.1) authenticating with `secret`
    /// (`client_secret_basic` or `client_secret_post`, RFC 6749 2.3.1). It may use the
    /// authorization code flow with these exact `redirect_uris` (none: it cannot), the
    /// client credentials grant, refresh tokens and introspection, and ask for any of
    /// `scopes` (all of them when a request names none, RFC 6749 3.3).
    ///
    /// If no client is registered, [`DEFAULT_CLIENT_ID`] is, with [`DEFAULT_CLIENT_SECRET`],
    /// [`DEFAULT_REDIRECT_URI`] and [`DEFAULT_SCOPES`].
    pub fn client<R, S>(
        mut self,
        id: &str,
        secret: &str,
        redirect_uris: impl IntoIterator<Item = R>,
        scopes: impl IntoIterator<Item = S>,
    ) -> Self
    where
        R: Into<String>,
        S: Into<String>,
    {
        self.clients.push(Client {
            id: id.to_owned(),
            secret: Some(SecretString::from(secret)),
            redirect_uris: redirect_uris.into_iter().map(Into::into).collect(),
            scopes: scopes.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// Registers a public client (RFC 6749 2.1: a native or browser app, which cannot keep
    /// a secret): it sends only its `client_id` to the token endpoint, relies on PKCE
    /// (RFC 7636), and may not use the client credentials grant or introspection.
    pub fn public_client<R, S>(
        mut self,
        id: &str,
        redirect_uris: impl IntoIterator<Item = R>,
        scopes: impl IntoIterator<Item = S>,
    ) -> Self
    where
        R: Into<String>,
        S: Into<String>,
    {
        self.clients.push(Client {
            id: id.to_owned(),
            secret: None,
            redirect_uris: redirect_uris.into_iter().map(Into::into).collect(),
            scopes: scopes.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// The development user the authorization endpoint signs in, without asking, for every
    /// request ([`DEFAULT_USER`] by default).
    pub fn user(mut self, user: &str) -> Self {
        self.user = user.to_owned();
        self
    }

    /// The audience (`aud`) of the access tokens: the resource server's identifier
    /// ([`DEFAULT_AUDIENCE`] by default).
    pub fn audience(mut self, audience: &str) -> Self {
        self.audience = audience.to_owned();
        self
    }

    /// The algorithm of the signing key (RS256 by default).
    pub fn signing_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// How long an authorization code can be redeemed ([`DEFAULT_CODE_LIFETIME`]).
    pub fn code_lifetime(mut self, lifetime: Duration) -> Self {
        self.code_lifetime = lifetime;
        self
    }

    /// The lifetime of access tokens, rounded down to whole seconds (at least one;
    /// [`DEFAULT_ACCESS_TOKEN_LIFETIME`]).
    pub fn access_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.access_token_lifetime = lifetime;
        self
    }

    /// The lifetime of each refresh token ([`DEFAULT_REFRESH_TOKEN_LIFETIME`]).
    pub fn refresh_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.refresh_token_lifetime = lifetime;
        self
    }

    /// Where the authorization, token and introspection endpoints listen (127.0.0.1 on a
    /// free port by default). Only 127.0.0.1 is accepted: [`DevServerBuilder::start`]
    /// refuses any other address with [`DevServerError::NotLoopback`].
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Checks the settings, binds 127.0.0.1 and starts serving. The issuer (discovery and
    /// JWKS) listens on its own free port of 127.0.0.1.
    pub async fn start(self) -> Result<DevServer, DevServerError> {
        if self.bind.ip() != IpAddr::V4(Ipv4Addr::LOCALHOST) {
            return Err(DevServerError::NotLoopback(self.bind));
        }
        let mut clients = self.clients;
        if clients.is_empty() {
            clients.push(Client {
                id: DEFAULT_CLIENT_ID.to_owned(),
                secret: Some(SecretString::from(DEFAULT_CLIENT_SECRET)),
                redirect_uris: vec![DEFAULT_REDIRECT_URI.to_owned()],
                scopes: DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            });
        }
        check_settings(
            &clients,
            &self.user,
            &self.audience,
            [
                ("code_lifetime", self.code_lifetime),
                ("access_token_lifetime", self.access_token_lifetime),
                ("refresh_token_lifetime", self.refresh_token_lifetime),
            ],
        )?;
        let listener = tokio::net::TcpListener::bind(self.bind)
            .await
            .map_err(DevServerError::Io)?;
        let addr = listener.local_addr().map_err(DevServerError::Io)?;
        let base_url = format!("http://{addr}");
        let mock = Arc::new(MockIssuer::start_with(&self.audience, self.algorithm).await);

        let mut scopes: Vec<&str> = Vec::new();
        for scope in clients.iter().flat_map(|c| &c.scopes) {
            if !scopes.contains(&scope.as_str()) {
                scopes.push(scope);
            }
        }
        // RFC 8414 2: what a client discovers about this server.
        let metadata = [
            (
                "authorization_endpoint",
                json!(format!("{base_url}/authorize")),
            ),
            ("token_endpoint", json!(format!("{base_url}/token"))),
            (
                "introspection_endpoint",
                json!(format!("{base_url}/introspect")),
            ),
            ("response_types_supported", json!(["code"])),
            ("response_modes_supported", json!(["query"])),
            (
                "grant_types_supported",
                json!(["authorization_code", "client_credentials", "refresh_token"]),
            ),
            ("code_challenge_methods_supported", json!(["S256"])),
            (
                "token_endpoint_auth_methods_supported",
                json!(["client_secret_basic", "client_secret_post", "none"]),
            ),
            (
                "introspection_endpoint_auth_methods_supported",
                json!(["client_secret_basic"]),
            ),
            ("scopes_supported", json!(scopes)),
            (
                "authorization_response_iss_parameter_supported",
                json!(true),
            ),
        ];
        for (name, value) in metadata {
            mock.set_metadata(name, value);
        }

        let shared = Arc::new(Shared {
            config: Config {
                issuer: mock.issuer().to_owned(),
                audience: self.audience,
                user: self.user,
                clients,
                code_lifetime: self.code_lifetime,
                access_token_lifetime: self.access_token_lifetime.max(Duration::from_secs(1)),
                refresh_token_lifetime: self.refresh_token_lifetime,
                base_url,
            },
            mock: Arc::downgrade(&mock),
            store: Mutex::new(store::Store::default()),
        });
        let app = endpoints::router(shared.clone());
        let server = tokio::spawn(async move {
            // Ends when the DevServer is dropped (the task is aborted) or the runtime stops.
            let _ = axum::serve(listener, app).await;
        });
        Ok(DevServer {
            mock,
            shared,
            addr,
            server,
        })
    }
}

fn check_settings(
    clients: &[Client],
    user: &str,
    audience: &str,
    lifetimes: [(&str, Duration); 3],
) -> Result<(), DevServerError> {
    let fail = |message: String| Err(DevServerError::Config(message));
    if user.is_empty() {
        return fail("the development user must not be empty".into());
    }
    if audience.is_empty() {
        return fail("the audience must not be empty".into());
    }
    for (name, lifetime) in lifetimes {
        if lifetime.is_zero() {
            return fail(format!("{name} must not be zero"));
        }
    }
    for (i, client) in clients.iter().enumerate() {
        // RFC 6749 A.1: client_id = *VSCHAR; empty ones are useless.
        if client.id.is_empty() || !client.id.chars().all(|c| matches!(c, ' '..='~')) {
            return fail(format!("client id {:?} must be printable ASCII", client.id));
        }
        if clients[..i].iter().any(|c| c.id == client.id) {
            return fail(format!("client id {:?} is registered twice", client.id));
        }
        if client
            .secret
            .as_ref()
            .is_some_and(|s| s.expose_secret().is_empty())
        {
            return fail(format!("client {:?} has an empty secret", client.id));
        }
        for uri in &client.redirect_uris {
            // RFC 6749 3.1.2: an absolute URI, without a fragment.
            match Url::parse(uri) {
                Ok(url) if url.fragment().is_none() && !url.cannot_be_a_base() => {}
                _ => {
                    return fail(format!(
                        "redirect URI {uri:?} of client {:?} must be an absolute URI without fragment",
                        client.id
                    ));
                }
            }
        }
        for scope in &client.scopes {
            if !is_scope_token(scope) {
                return fail(format!(
                    "scope {scope:?} of client {:?} is not a scope token (RFC 6749 3.3)",
                    client.id
                ));
            }
        }
    }
    Ok(())
}

/// RFC 6749 3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
pub(crate) fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// `bytes` random bytes, base64url without padding: codes, tokens, `state`, verifiers.
pub(crate) fn random_string(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut buf)
        .expect("the system random generator works");
    URL_SAFE_NO_PAD.encode(buf)
}

/// A development authorization server serving on 127.0.0.1 until dropped. See the
/// [module documentation](self).
pub struct DevServer {
    /// The only strong reference: dropping the server drops the issuer.
    mock: Arc<MockIssuer>,
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for DevServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevServer")
            .field("issuer", &self.shared.config.issuer)
            .field("endpoints", &self.shared.config.base_url)
            .finish_non_exhaustive()
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl DevServer {
    /// Starts configuring a development authorization server.
    pub fn builder() -> DevServerBuilder {
        DevServerBuilder::default()
    }

    /// Starts one with the defaults: the client [`DEFAULT_CLIENT_ID`], the user
    /// [`DEFAULT_USER`], the audience [`DEFAULT_AUDIENCE`].
    pub async fn start() -> Result<DevServer, DevServerError> {
        Self::builder().start().await
    }

    /// The issuer identifier (`iss`, `http://127.0.0.1:PORT`), where discovery is served:
    /// what a [`Validator`](crate::Validator) is configured with.
    pub fn issuer(&self) -> &str {
        &self.shared.config.issuer
    }

    /// The audience (`aud`) of the access tokens.
    pub fn audience(&self) -> &str {
        &self.shared.config.audience
    }

    /// The development user signed in by the authorization endpoint.
    pub fn user(&self) -> &str {
        &self.shared.config.user
    }

    /// The wrapped mock issuer: to mint tokens directly, rotate keys or change the
    /// discovery metadata.
    pub fn mock(&self) -> &MockIssuer {
        &self.mock
    }

    /// Where the authorization, token and introspection endpoints listen.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The authorization endpoint (RFC 6749 3.1), `GET` only.
    pub fn authorization_endpoint(&self) -> String {
        format!("{}/authorize", self.shared.config.base_url)
    }

    /// The token endpoint (RFC 6749 3.2).
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.shared.config.base_url)
    }

    /// The introspection endpoint (RFC 7662 2).
    pub fn introspection_endpoint(&self) -> String {
        format!("{}/introspect", self.shared.config.base_url)
    }
}
