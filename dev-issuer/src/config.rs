//! What the endpoints know, fixed at start: the registered clients and the settings.

use std::time::Duration;

use secrecy::SecretString;

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
