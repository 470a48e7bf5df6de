//! # tokengate-dev-issuer
//!
//! A **development authorization server** on 127.0.0.1: the whole OAuth 2.0 flow,
//! runnable locally, so a resource server protected by [`tokengate`] can be tried against
//! the real sequence of requests instead of hand-minted tokens. Add it as a
//! dev-dependency; it has no place in a production build.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tokengate_dev_issuer::DevServer;
//! use tokengate_dev_issuer::client::{Pkce, check_callback, form_urlencode, new_state};
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
//!   [`MockIssuer`](tokengate::testing::MockIssuer) from tokengate's testing kit, whose
//!   metadata names the endpoints below, `grant_types_supported`,
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
//!
//! The source keeps one job per file, named for the RFC's part: `authorize.rs` (RFC 6749
//! 4.1.1), `token.rs` (the grants, 4.1.3, 4.4, 6), `introspect.rs` (RFC 7662),
//! `client_auth.rs` (2.3), `errors.rs` (5.2), `store.rs` (what is remembered) and
//! [`client`] (the client's side: PKCE, `state`, the callback checks).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod authorize;
mod builder;
pub mod client;
mod client_auth;
mod config;
mod defaults;
mod discovery;
mod errors;
mod introspect;
mod params;
mod random;
mod routes;
mod scope;
mod server;
mod store;
mod token;

pub use builder::{DevServerBuilder, DevServerError};
pub use defaults::{
    DEFAULT_ACCESS_TOKEN_LIFETIME, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_CODE_LIFETIME,
    DEFAULT_REDIRECT_URI, DEFAULT_REFRESH_TOKEN_LIFETIME, DEFAULT_SCOPES, DEFAULT_USER, MAX_GRANTS,
};
pub use server::DevServer;
