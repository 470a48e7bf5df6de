//! # tokengate
//!
//! OAuth 2.0 resource-server token validation for Rust APIs: take the bearer token off a
//! request (RFC 6750), prove it was issued by a trusted authorization server, and hand the
//! verified claims to the handler.
//!
//! ```no_run
//! # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use tokengate::Validator;
//!
//! let validator = Validator::builder()
//!     .issuer("https://login.example.com")     // keys found by OIDC / RFC 8414 discovery
//!     .audience("https://api.example.com")     // required: tokens for other APIs fail
//!     .build()?;
//!
//! match validator.validate(token).await {
//!     Ok(claims) => println!("{:?} may call us with {:?}", claims.subject(), claims.scopes()),
//!     Err(err) => println!("{} {:?}", err.status(), err.www_authenticate()),
//! }
//! # Ok(()) }
//! ```
//!
//! What it does for you:
//! - finds the issuer's keys by discovery or an explicit JWKS URL, caches them by `kid`,
//!   refetches on an unknown `kid` at most once per cooldown, single-flight, and keeps the
//!   last good keys when the issuer fails ([`jwks`]);
//! - verifies RS256/384/512, PS256/384/512, ES256/384 and EdDSA signatures with keys bound
//!   to their type, curve and `alg`; never `none`, never HMAC (RFC 8725);
//! - checks `iss` exactly, `aud`, `exp`, `nbf` with a leeway, `crit`, and optionally the
//!   RFC 9068 `typ: at+jwt`;
//! - maps every refusal to RFC 6750's status and `WWW-Authenticate` challenge ([`Error`]),
//!   with an optional RFC 9457 problem details body ([`rejection_body`]);
//! - checks what a route needs beyond a valid token as a value: scopes (all of, any of),
//!   claim values, roles in each issuer's claim shape, checks of your own ([`require`]);
//! - describes the API in an RFC 9728 protected resource metadata document, whose URL
//!   every challenge can carry, so clients discover the authorization server
//!   ([`ResourceMetadata`]).
//!
//! Framework adapters (`tokengate-tower` for axum/hyper/tonic, `tokengate-actix`) are thin:
//! all policy lives here, and every request is decided by [`gate::Gate::decide`].
//!
//! ## Cargo features
//!
//! None is on by default. `metrics` and `redis` are for production; `testing` never is.
//!
//! | feature      | what it adds |
//! |--------------|--------------|
//! | `metrics`    | counters, gauges and histograms of validations, refusals, the token cache, introspection and key fetches, per issuer, through the [`metrics`](https://docs.rs/metrics) facade (names and labels: [`metrics`](mod@metrics)) |
//! | `redis`      | `binding::redis::RedisReplayStore`: DPoP proof `jti`s in Redis, shared by replicas |
//! | `testing`    | `testing`: keys, a mock issuer on 127.0.0.1 and token minting, for your tests and the examples' embedded issuer |
//!
//! On docs.rs every feature is on and each gated item is labelled with its feature.
//!
//! The whole OAuth flow runnable locally (a development authorization server with
//! authorize, token and introspection endpoints around the mock issuer) is its own crate,
//! `tokengate-dev-issuer`: a dev-dependency, never part of a production build.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
// docs.rs (`--cfg docsrs`, see Cargo.toml) labels each feature-gated item with its feature.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod alg;
pub mod bearer;
pub mod binding;
pub mod claims;
mod clock;
pub mod config;
mod cookie;
pub mod error;
mod format;
pub mod forwarded;
pub mod gate;
mod http;
pub mod introspection;
mod json;
pub mod jwks;
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub mod metrics;
pub mod rejection_body;
pub mod request;
pub mod require;
pub mod resource_metadata;
#[cfg(feature = "testing")]
pub mod testing;
mod validator;
mod verify;

pub use alg::{Algorithm, SUPPORTED_ALGORITHMS, UnsupportedAlgorithm};
pub use claims::{Claims, Scopes};
pub use error::{Error, InvalidRequest, InvalidToken};
pub use gate::{Decision, Gate};
pub use introspection::{
    ClientAuth, INTROSPECTION_RETRY_DELAY, MAX_INTROSPECTION_RETRY_DELAY, TokenFormat,
};
pub use jwks::{KeyFetchError, KeySetStats};
pub use require::{Requirement, RoleSource};
pub use resource_metadata::ResourceMetadata;
pub use validator::defaults;
pub use validator::{
    CheckStatus, ConfigError, DEFAULT_CACHE_TTL, DEFAULT_FETCH_TIMEOUT,
    DEFAULT_INTROSPECTION_CACHE_TTL, DEFAULT_LEEWAY, DEFAULT_MAX_CACHE_TTL,
    DEFAULT_MAX_CONCURRENT_INTROSPECTIONS, DEFAULT_MAX_JWKS_BYTES, DEFAULT_MAX_KEYS,
    DEFAULT_MAX_RETRY_BACKOFF, DEFAULT_MAX_TOKEN_BYTES, DEFAULT_MIN_CACHE_TTL,
    DEFAULT_REFRESH_COOLDOWN, DEFAULT_TOKEN_CACHE_SIZE, DEFAULT_TOKEN_CACHE_TTL, ExplainedCheck,
    Explanation, KeySource, NotReady, TENANT_PLACEHOLDER, TrustedTenants, Validator,
    ValidatorBuilder,
};
