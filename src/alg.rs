//! The signature algorithms tokengate verifies, as its own type.
//!
//! A leaf module: it names algorithms and nothing else. It is tokengate's own
//! `#[non_exhaustive]` enum rather than a re-export of `jsonwebtoken::Algorithm`, for two
//! reasons:
//! - `none` and the HMAC family (`HS256`, `HS384`, `HS512`) cannot even be named, so no
//!   configuration can allow them (RFC 8725 sections 2.1 and 3.1: a resource server holds
//!   no shared secret, and an HMAC "verified" with a public key is the classic
//!   algorithm-confusion forgery);
//! - a major release of another crate is not a breaking change of ours.

use std::fmt;
use std::str::FromStr;

/// A JWS signature algorithm tokengate verifies, by its RFC 7518 / RFC 8037 name.
///
/// Every variant is asymmetric. Parse one from its registered name (case-sensitive, RFC
/// 7515 section 4.1.1); the HMAC names and `none` are refused:
///
/// ```
/// use tokengate::Algorithm;
///
/// assert_eq!("ES256".parse::<Algorithm>(), Ok(Algorithm::ES256));
/// assert_eq!(Algorithm::PS256.as_str(), "PS256");
/// assert!("HS256".parse::<Algorithm>().is_err());
/// assert!("none".parse::<Algorithm>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256 and MGF1 with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384 and MGF1 with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512 and MGF1 with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// Ed25519 (RFC 8037; the only `EdDSA` curve we accept).
    EdDSA,
}

/// Every algorithm tokengate verifies, in a fixed order (the order of [`Algorithm`]).
pub const SUPPORTED_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

impl Algorithm {
    /// The registered name, as it appears in a JWS `alg` header.
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// The algorithm registered as `name`, if we verify it (case-sensitive).
    pub(crate) fn from_name(name: &str) -> Option<Algorithm> {
        SUPPORTED_ALGORITHMS
            .into_iter()
            .find(|alg| alg.as_str() == name)
    }

    /// The position of this algorithm in [`SUPPORTED_ALGORITHMS`]: a slot index for
    /// per-algorithm tables.
    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an [`Algorithm`]: the name is not one we verify (an HMAC name,
/// `none`, a typo, or a registered algorithm we do not support such as `ES512`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedAlgorithm(String);

impl UnsupportedAlgorithm {
    /// The name that was refused.
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UnsupportedAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unsupported signature algorithm {:?}: tokengate verifies only {}",
            self.0,
            SUPPORTED_ALGORITHMS.map(Algorithm::as_str).join(", ")
        )
    }
}

impl std::error::Error for UnsupportedAlgorithm {}

impl FromStr for Algorithm {
    type Err = UnsupportedAlgorithm;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Algorithm::from_name(name).ok_or_else(|| UnsupportedAlgorithm(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_and_the_index_is_the_table_position() {
        for (i, alg) in SUPPORTED_ALGORITHMS.into_iter().enumerate() {
            assert_eq!(alg.as_str().parse::<Algorithm>(), Ok(alg));
            assert_eq!(alg.to_string(), alg.as_str());
            assert_eq!(alg.index(), i);
        }
    }

    #[test]
    fn symmetric_none_unknown_and_miscased_names_are_refused() {
        for name in [
            "HS256", "HS384", "HS512", "none", "None", "", "rs256", "Es256", "EDDSA", "ES512",
            "RS256 ", " RS256", "RSA-OAEP",
        ] {
            let err = name.parse::<Algorithm>().unwrap_err();
            assert_eq!(err.name(), name);
            assert!(err.to_string().contains("RS256, RS384"), "{err}");
        }
    }
}
