//! A running [`DevServer`]: where it listens, what it issues as, and the state its
//! endpoints share.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};

use tokengate::testing::MockIssuer;

use crate::config::Config;
use crate::store::Store;

/// The state shared by the endpoints.
pub(crate) struct Shared {
    pub(crate) config: Config,
    /// Weak: dropping the [`DevServer`] stops the issuer at once, even while a connection
    /// to the endpoints is still open.
    pub(crate) mock: Weak<MockIssuer>,
    pub(crate) store: Mutex<Store>,
}

/// A development authorization server serving on 127.0.0.1 until dropped. See the
/// [crate documentation](crate).
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
    pub(crate) fn new(
        mock: Arc<MockIssuer>,
        shared: Arc<Shared>,
        addr: SocketAddr,
        server: tokio::task::JoinHandle<()>,
    ) -> Self {
        DevServer {
            mock,
            shared,
            addr,
            server,
        }
    }

    /// The issuer identifier (`iss`, `http://127.0.0.1:PORT`), where discovery is served:
    /// what a [`Validator`](tokengate::Validator) is configured with.
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
