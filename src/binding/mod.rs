//! Sender-constrained access tokens: a token bound to a key its client must prove it
//! holds on every request.
//!
//! - [`dpop`]: RFC 9449 DPoP proofs (the `DPoP` header), checked against the request and
//!   the token's `cnf.jkt`, with a [`replay`] store for their `jti`s (in memory, or in
//!   Redis across replicas with feature `redis`).
//! - [`mtls`]: RFC 8705 certificate-bound tokens (`cnf.x5t#S256`), checked against the
//!   client certificate of the TLS connection or of a trusted proxy's header.

pub mod dpop;
pub mod mtls;
#[cfg(feature = "redis")]
pub mod redis;
pub mod replay;
