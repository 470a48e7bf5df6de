//! The header of a DPoP proof (RFC 9449 section 4.2): `typ`, an allowed asymmetric `alg`,
//! the client's public `jwk`; and the headers already checked, remembered by their text.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

use super::thumbprint::thumbprint;
use crate::alg::Algorithm;
use crate::error::InvalidProof;
use crate::jwks::parse_jwk;
use crate::verify::VerifyingKey;

/// The `typ` of a DPoP proof (RFC 9449 section 4.2), compared exactly.
pub const PROOF_TYPE: &str = "dpop+jwt";

#[derive(Deserialize)]
struct ProofHeader {
    typ: Option<String>,
    alg: Option<String>,
    jwk: Option<Value>,
    crit: Option<IgnoredAny>,
}

/// A base64url JSON segment of a proof, decoded into `T`.
pub(super) fn decode<T: for<'de> Deserialize<'de>>(segment: &str) -> Result<T, InvalidProof> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| InvalidProof::Malformed)?;
    // serde's derived visitor refuses a duplicate member of these structs.
    serde_json::from_slice(&bytes).map_err(|_| InvalidProof::Malformed)
}

/// JWK members that only a private key has (RFC 7518 sections 6.2.2, 6.3.2; RFC 8037).
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

/// Proof headers remembered by default: one per client key in use. About 1 KB each
/// (the header text and the parsed key): a few megabytes at most.
pub const DEFAULT_PROOF_HEADER_CACHE: u64 = 10_000;

/// What a proof header says once checked: its algorithm, its key, the key's thumbprint.
#[derive(Debug)]
pub(super) struct CheckedHeader {
    pub(super) alg: Algorithm,
    pub(super) key: VerifyingKey,
    pub(super) jkt: String,
}

/// Proof headers already checked, by their exact text (the first base64url segment).
///
/// A client signs all its proofs with one key, so all its proofs have one header
/// (`typ`, `alg`, `jwk`): decoding it, parsing and validating the key (an EC point's
/// curve check) and hashing its thumbprint once per key instead of once per request is
/// most of what a proof check costs beyond its signature (`benches/dpop.rs`). What is
/// remembered is a pure function of the header's bytes, entered only once a proof with
/// that header verified; the signature of every proof is still verified, with the
/// remembered key, and the algorithm still checked against the policy of the request.
#[derive(Clone)]
pub(crate) struct ProofHeaders(pub(super) moka::sync::Cache<String, Arc<CheckedHeader>>);

impl ProofHeaders {
    pub(crate) fn new(capacity: u64) -> Self {
        ProofHeaders(moka::sync::Cache::new(capacity))
    }
}

/// RFC 9449 section 4.2: the header of a proof: `typ`, an allowed asymmetric `alg`, a
/// public `jwk` (no private member), no `crit`.
pub(super) fn check_header(
    header: &str,
    algorithms: &[Algorithm],
) -> Result<CheckedHeader, InvalidProof> {
    let fields: ProofHeader = decode(header)?;
    if fields.typ.as_deref() != Some(PROOF_TYPE) {
        return Err(InvalidProof::WrongType);
    }
    let alg = fields
        .alg
        .as_deref()
        .and_then(Algorithm::from_name)
        .filter(|alg| algorithms.contains(alg))
        .ok_or(InvalidProof::AlgorithmNotAllowed)?;
    if fields.crit.is_some() {
        return Err(InvalidProof::UnsupportedHeader);
    }
    let jwk = fields.jwk.ok_or(InvalidProof::BadKey)?;
    let object = jwk.as_object().ok_or(InvalidProof::BadKey)?;
    if PRIVATE_MEMBERS.iter().any(|m| object.contains_key(*m)) {
        return Err(InvalidProof::BadKey);
    }
    let (_, key) = parse_jwk(&jwk).map_err(|_| InvalidProof::BadKey)?;
    let jkt = thumbprint(object).ok_or(InvalidProof::BadKey)?;
    Ok(CheckedHeader { alg, key, jkt })
}
