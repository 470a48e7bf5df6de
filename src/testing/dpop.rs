//! A DPoP client's key (RFC 9449): the `cnf` of a bound token and the proof of each
//! request.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::key::{TestKey, alg_name};
use crate::Algorithm;

/// A DPoP client's key (RFC 9449): mint the `cnf.jkt` a bound token carries and sign
/// the proof of each request, to test an API that accepts DPoP-bound tokens.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tokengate::testing::{DpopKey, MockIssuer};
///
/// let issuer = MockIssuer::start().await;
/// let client = DpopKey::generate(tokengate::Algorithm::ES256);
/// let token = issuer.token().claim("cnf", client.cnf()).sign();
/// let proof = client.proof("GET", "https://api.example.com/me", &token);
/// // Send: `Authorization: DPoP {token}` and `DPoP: {proof}`.
/// assert_eq!(proof.split('.').count(), 3);
/// # }
/// ```
#[derive(Debug)]
pub struct DpopKey {
    key: TestKey,
}

impl DpopKey {
    /// A fresh key for `alg`.
    pub fn generate(alg: Algorithm) -> Self {
        DpopKey {
            key: TestKey::generate("dpop", alg),
        }
    }

    /// The public JWK a proof embeds (no `kid`, `use` or `alg`).
    pub fn public_jwk(&self) -> Value {
        let mut jwk = self.key.public_jwk();
        if let Some(object) = jwk.as_object_mut() {
            for member in ["kid", "use", "alg"] {
                object.remove(member);
            }
        }
        jwk
    }

    /// The RFC 7638 thumbprint of the key, as `cnf.jkt` carries it.
    pub fn jkt(&self) -> String {
        let jwk = self.public_jwk();
        crate::binding::dpop::thumbprint(jwk.as_object().expect("a JWK is an object"))
            .expect("the key types we generate have thumbprints")
    }

    /// The `cnf` claim of a token bound to this key: `{"jkt": ...}`.
    pub fn cnf(&self) -> Value {
        json!({ "jkt": self.jkt() })
    }

    /// A fresh proof for `method` and `uri` with `access_token` (a new `jti`, `iat` now).
    pub fn proof(&self, method: &str, uri: &str, access_token: &str) -> String {
        self.proof_with(method, uri, access_token, |_| {})
    }

    /// A proof whose claims `change` edits before signing (for attack tests: a stale
    /// `iat`, another `ath`, a reused `jti`).
    pub fn proof_with(
        &self,
        method: &str,
        uri: &str,
        access_token: &str,
        change: impl FnOnce(&mut Value),
    ) -> String {
        let header = json!({
            "typ": "dpop+jwt",
            "alg": alg_name(self.key.alg()),
            "jwk": self.public_jwk(),
        });
        let mut jti = [0u8; 16];
        aws_lc_rs::rand::fill(&mut jti).expect("random jti");
        let mut claims = json!({
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "htm": method,
            "htu": uri,
            "iat": crate::clock::unix_now(),
            "ath": crate::binding::dpop::access_token_hash(access_token),
        });
        change(&mut claims);
        self.sign(&header, &claims)
    }

    /// Signs any header and claims with this key (for malformed-proof tests).
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        self.key.sign_compact(&input)
    }
}
