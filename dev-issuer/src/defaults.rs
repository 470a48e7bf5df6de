//! The defaults of a [`DevServer`](crate::DevServer), each with its reason.

use std::time::Duration;

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
