//! Configuring and starting a [`DevServer`]: clients, user, lifetimes, where it listens.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokengate::Algorithm;
use tokengate::testing::{DEFAULT_AUDIENCE, MockIssuer};
use url::Url;

use crate::config::{Client, Config};
use crate::defaults::*;
use crate::scope::is_scope_token;
use crate::server::{DevServer, Shared};
use crate::store::Store;
use crate::{discovery, routes};

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
    /// ([`DEFAULT_AUDIENCE`](tokengate::testing::DEFAULT_AUDIENCE) by default).
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

        for (name, value) in discovery::metadata(&base_url, &clients) {
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
            store: Mutex::new(Store::default()),
        });
        let app = routes::router(shared.clone());
        let server = tokio::spawn(async move {
            // Ends when the DevServer is dropped (the task is aborted) or the runtime stops.
            let _ = axum::serve(listener, app).await;
        });
        Ok(DevServer::new(mock, shared, addr, server))
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

// The entry points of `DevServer` live beside the builder they hand out, so that the
// running server does not import its own configuration.
impl DevServer {
    /// Starts configuring a development authorization server.
    pub fn builder() -> DevServerBuilder {
        DevServerBuilder::default()
    }

    /// Starts one with the defaults: the client [`DEFAULT_CLIENT_ID`](crate::DEFAULT_CLIENT_ID), the user
    /// [`DEFAULT_USER`](crate::DEFAULT_USER), the audience [`DEFAULT_AUDIENCE`](tokengate::testing::DEFAULT_AUDIENCE).
    pub async fn start() -> Result<DevServer, DevServerError> {
        Self::builder().start().await
    }
}
