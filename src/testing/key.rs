//! Signing keys for tests, and tokens minted with one key and no server.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::Algorithm;

enum KeyMaterial {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A signing key pair for tests: generate one, publish its JWK, sign with it. The
/// [`MockIssuer`](super::MockIssuer) holds these; use one directly to pin keys with
/// [`ValidatorBuilder::jwks`](crate::ValidatorBuilder::jwks) or in a fuzz target.
///
/// ```
/// use tokengate::testing::TestKey;
/// let key = TestKey::generate("k1", tokengate::Algorithm::ES256);
/// assert_eq!(key.public_jwk()["crv"], "P-256");
/// assert_eq!(key.sign(b"message").len(), 64);
/// ```
pub struct TestKey {
    pub(super) kid: String,
    pub(super) alg: Algorithm,
    material: KeyMaterial,
    /// Whether the issuer holding it lists it in its JWKS.
    pub(super) published: bool,
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl TestKey {
    /// Generates a fresh key for `alg` (RSA keys are 2048 bits). Panics on HMAC.
    pub fn generate(kid: impl Into<String>, alg: Algorithm) -> Self {
        let kid = kid.into();
        use Algorithm::*;
        let material = match alg {
            RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => KeyMaterial::Rsa(
                RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA keygen"),
            ),
            ES256 => KeyMaterial::Ec(
                EcdsaKeyPair::generate(&sig::ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC keygen"),
            ),
            ES384 => KeyMaterial::Ec(
                EcdsaKeyPair::generate(&sig::ECDSA_P384_SHA384_FIXED_SIGNING).expect("EC keygen"),
            ),
            EdDSA => KeyMaterial::Ed(Ed25519KeyPair::generate().expect("Ed25519 keygen")),
        };
        TestKey {
            kid,
            alg,
            material,
            published: true,
        }
    }

    /// The key's `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm it signs with.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The public JWK, with `kid`, `use: sig` and `alg`.
    pub fn public_jwk(&self) -> Value {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let mut jwk = match &self.material {
            KeyMaterial::Rsa(k) => json!({
                "kty": "RSA",
                "n": b64(k.public_key().modulus().big_endian_without_leading_zero()),
                "e": b64(k.public_key().exponent().big_endian_without_leading_zero()),
            }),
            KeyMaterial::Ec(k) => {
                let point = k.public_key().as_ref();
                let len = (point.len() - 1) / 2;
                let crv = if len == 32 { "P-256" } else { "P-384" };
                json!({"kty": "EC", "crv": crv, "x": b64(&point[1..1 + len]), "y": b64(&point[1 + len..])})
            }
            KeyMaterial::Ed(k) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(k.public_key().as_ref())})
            }
        };
        jwk["kid"] = json!(self.kid);
        jwk["use"] = json!("sig");
        jwk["alg"] = json!(alg_name(self.alg));
        jwk
    }

    /// A compact JWS of `claims` (any JSON, usually an object) with the header
    /// `{"alg": ..., "kid": ...}` of this key, signed by it: a token for a validator that
    /// pins the key ([`ValidatorBuilder::jwks`](crate::ValidatorBuilder::jwks)), minted
    /// without any server.
    ///
    /// ```
    /// use serde_json::json;
    /// use tokengate::Validator;
    /// use tokengate::testing::TestKey;
    ///
    /// let key = TestKey::generate("k1", tokengate::Algorithm::ES256);
    /// let validator = Validator::builder()
    ///     .issuer("https://issuer.example")
    ///     .audience("api")
    ///     .jwks(json!({"keys": [key.public_jwk()]}))
    ///     .build()
    ///     .unwrap();
    /// let token = key.mint(&json!({
    ///     "iss": "https://issuer.example", "aud": "api", "exp": 4_000_000_000u64, "sub": "alice",
    /// }));
    /// let claims = validator.try_validate(&token).unwrap().unwrap();
    /// assert_eq!(claims.subject(), Some("alice"));
    /// ```
    #[must_use]
    pub fn mint(&self, claims: &Value) -> String {
        self.mint_with_header(&json!({}), claims)
    }

    /// Like [`TestKey::mint`], with more header parameters (`typ`, `crit`, ...). They are
    /// set after `alg` and `kid`, so they may replace them; the signature is still made
    /// with this key's own algorithm. Panics if `header` is not a JSON object.
    ///
    /// ```
    /// # use serde_json::json;
    /// # let key = tokengate::testing::TestKey::generate("k1", tokengate::Algorithm::EdDSA);
    /// let token = key.mint_with_header(&json!({"typ": "at+jwt"}), &json!({"sub": "alice"}));
    /// assert_eq!(token.split('.').count(), 3);
    /// ```
    #[must_use]
    pub fn mint_with_header(&self, header: &Value, claims: &Value) -> String {
        let mut full = json!({"alg": alg_name(self.alg), "kid": self.kid});
        let extra = header.as_object().expect("a JWS header is a JSON object");
        for (name, value) in extra {
            full[name] = value.clone();
        }
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(full.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        self.sign_compact(&input)
    }

    /// `signing_input.signature`: the compact JWS of an already encoded
    /// `header.payload` (RFC 7515 7.1), signed by this key.
    pub(super) fn sign_compact(&self, signing_input: &str) -> String {
        let signature = URL_SAFE_NO_PAD.encode(self.sign(signing_input.as_bytes()));
        format!("{signing_input}.{signature}")
    }

    /// The public key as DER SubjectPublicKeyInfo (RSA and Ed25519) or as the
    /// uncompressed point (EC).
    pub(super) fn public_key_bytes(&self) -> Option<Vec<u8>> {
        use aws_lc_rs::encoding::AsDer;
        Some(match &self.material {
            KeyMaterial::Rsa(k) => k.public_key().as_der().ok()?.as_ref().to_vec(),
            KeyMaterial::Ec(k) => k.public_key().as_ref().to_vec(),
            KeyMaterial::Ed(k) => k.public_key().as_der().ok()?.as_ref().to_vec(),
        })
    }

    /// The raw JWS signature of `message` (`R || S` for ECDSA).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        use Algorithm::*;
        match &self.material {
            KeyMaterial::Rsa(k) => {
                let padding: &'static dyn sig::RsaEncoding = match self.alg {
                    RS256 => &sig::RSA_PKCS1_SHA256,
                    RS384 => &sig::RSA_PKCS1_SHA384,
                    RS512 => &sig::RSA_PKCS1_SHA512,
                    PS256 => &sig::RSA_PSS_SHA256,
                    PS384 => &sig::RSA_PSS_SHA384,
                    _ => &sig::RSA_PSS_SHA512,
                };
                let mut out = vec![0; k.public_modulus_len()];
                k.sign(padding, &SystemRandom::new(), message, &mut out)
                    .expect("RSA signing");
                out
            }
            KeyMaterial::Ec(k) => k
                .sign(&SystemRandom::new(), message)
                .expect("ECDSA signing")
                .as_ref()
                .to_vec(),
            KeyMaterial::Ed(k) => k.sign(message).as_ref().to_vec(),
        }
    }
}

/// The RFC 7518 name of an algorithm.
pub fn alg_name(alg: Algorithm) -> &'static str {
    alg.as_str()
}
