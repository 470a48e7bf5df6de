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

mod behavior;
mod certificate;
mod dpop;
mod issuer;
mod key;
mod routes;
mod state;
mod token;

pub use behavior::{Behavior, HANG_FOR};
pub use certificate::{certificate_cnf, x5t_s256};
pub use dpop::DpopKey;
pub use issuer::{DEFAULT_AUDIENCE, DEFAULT_INTROSPECTION_CLIENT, MockIssuer};
pub use key::{TestKey, alg_name};
pub use token::TokenBuilder;
