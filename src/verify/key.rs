//! One public key, parsed by aws-lc-rs once per algorithm it verifies.
//!
//! Where keys come from (a JWKS, a DPoP proof's `jwk`) is the caller's business; this
//! module holds the key material and binds it to the algorithms its type may verify
//! (RFC 7518 section 3, RFC 8037 section 3.1).

use std::sync::OnceLock;

use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaPublicKeyComponents};

use crate::alg::Algorithm;

/// The kinds of key we verify with, with the curve where one matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl KeyKind {
    /// RFC 7518 section 3.1 and RFC 8037 section 3.1: which `alg` each key type signs.
    pub(crate) fn fits(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        matches!(
            (self, alg),
            (KeyKind::Rsa, RS256 | RS384 | RS512 | PS256 | PS384 | PS512)
                | (KeyKind::P256, ES256)
                | (KeyKind::P384, ES384)
                | (KeyKind::Ed25519, EdDSA)
        )
    }
}

/// The public key material, as the JWK gave it (leading zeros stripped for RSA).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Material {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// The uncompressed point `0x04 || x || y` (SEC 1 section 2.3.3).
    Ec(Vec<u8>),
    Ed25519(Vec<u8>),
}

/// How many algorithms a key can be parsed for: a slot each, by [`Algorithm::index`].
const ALGORITHMS: usize = crate::alg::SUPPORTED_ALGORITHMS.len();

/// The aws-lc-rs verification algorithm for a JWS `alg` (RFC 7518 section 3, RFC 8037).
/// RSA parameters accept 2048 to 8192-bit moduli, as our key hygiene does.
fn rsa_params(alg: Algorithm) -> Option<&'static sig::RsaParameters> {
    Some(match alg {
        Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

/// One verification key from the set.
///
/// The key is parsed by aws-lc-rs once per algorithm it is used with (an RSA key may
/// serve RS256 and PS256), on first use, and kept: verifying costs the signature check
/// alone, with no key rebuilding per request.
#[derive(Debug)]
pub(crate) struct VerifyingKey {
    pub(crate) kind: KeyKind,
    /// The JWK's own `alg`, which the token's `alg` must then equal.
    pub(crate) alg: Option<Algorithm>,
    material: Material,
    parsed: [OnceLock<Option<ParsedKey>>; ALGORITHMS],
}

/// `ParsedPublicKey` has no `Debug`; this wrapper gives it one.
struct ParsedKey(ParsedPublicKey);

impl std::fmt::Debug for ParsedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ParsedPublicKey")
    }
}

impl VerifyingKey {
    pub(crate) fn new(kind: KeyKind, alg: Option<Algorithm>, material: Material) -> Self {
        VerifyingKey {
            kind,
            alg,
            material,
            parsed: Default::default(),
        }
    }

    /// Same type, same `alg`, same key material.
    pub(crate) fn same_key(&self, other: &VerifyingKey) -> bool {
        self.kind == other.kind && self.alg == other.alg && self.material == other.material
    }

    /// Whether this key may verify a token signed with `alg`.
    pub(crate) fn fits(&self, alg: Algorithm) -> bool {
        self.kind.fits(alg) && self.alg.is_none_or(|own| own == alg)
    }

    /// The key parsed for `alg`, or `None` if it does not fit or aws-lc-rs rejects it.
    pub(crate) fn parsed(&self, alg: Algorithm) -> Option<&ParsedPublicKey> {
        if !self.fits(alg) {
            return None;
        }
        let slot = &self.parsed[alg.index()];
        slot.get_or_init(|| self.parse(alg).map(ParsedKey))
            .as_ref()
            .map(|k| &k.0)
    }

    fn parse(&self, alg: Algorithm) -> Option<ParsedPublicKey> {
        match (&self.material, alg) {
            (Material::Rsa { n, e }, alg) => RsaPublicKeyComponents { n, e }
                .to_parsed_public_key(rsa_params(alg)?)
                .ok(),
            (Material::Ec(point), Algorithm::ES256) => {
                ParsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point).ok()
            }
            (Material::Ec(point), Algorithm::ES384) => {
                ParsedPublicKey::new(&sig::ECDSA_P384_SHA384_FIXED, point).ok()
            }
            (Material::Ed25519(x), Algorithm::EdDSA) => ParsedPublicKey::new(&sig::ED25519, x).ok(),
            _ => None,
        }
    }

    /// The algorithm a key of this kind is checked with when loaded.
    pub(crate) fn probe_alg(&self) -> Algorithm {
        self.alg.unwrap_or(match self.kind {
            KeyKind::Rsa => Algorithm::RS256,
            KeyKind::P256 => Algorithm::ES256,
            KeyKind::P384 => Algorithm::ES384,
            KeyKind::Ed25519 => Algorithm::EdDSA,
        })
    }
}
