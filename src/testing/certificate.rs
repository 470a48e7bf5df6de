//! Certificate-bound tokens (RFC 8705 section 3.1) for tests: the `cnf` claim that binds
//! a token to a client certificate.

use serde_json::{Value, json};

/// `x5t#S256` of a DER certificate: base64url(SHA-256(DER)), what a certificate-bound
/// token's `cnf` carries (RFC 8705 section 3.1).
pub fn x5t_s256(der: &[u8]) -> String {
    crate::binding::mtls::certificate_thumbprint(der)
}

/// The `cnf` claim of a token bound to the DER certificate `der`, for
/// [`TokenBuilder::claim`](super::TokenBuilder::claim):
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tokengate::testing::{MockIssuer, certificate_cnf};
///
/// let issuer = MockIssuer::start().await;
/// let token = issuer.token().claim("cnf", certificate_cnf(b"the client's DER")).sign();
/// # }
/// ```
pub fn certificate_cnf(der: &[u8]) -> Value {
    json!({ "x5t#S256": x5t_s256(der) })
}
