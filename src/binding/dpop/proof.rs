//! One DPoP proof against the request it came with: every check of RFC 9449 section 4.3
//! that needs only the proof and the request (the `jti` replay check needs shared state,
//! [`replay`](crate::binding::replay); the `nonce` check needs the server's secret,
//! [`DpopNonces`](super::DpopNonces)).

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use super::header::{ProofHeaders, check_header, decode};
use super::htu::same_uri;
use super::thumbprint::access_token_hash;
use crate::alg::Algorithm;
use crate::error::InvalidProof;
use crate::json::NumericDate;
use crate::verify::verify_with;

/// The largest proof read: an RSA-8192 key and its signature fit in about 3.5 KB, so
/// anything longer is refused before decoding.
pub const MAX_PROOF_BYTES: usize = 8 * 1024;

/// The longest `jti` accepted: it is kept (hashed) in the replay store, and RFC 9449
/// section 4.2 asks only for enough randomness (96 bits or more).
pub const MAX_JTI_BYTES: usize = 256;

/// How far a proof's `iat` may be from now, either way, before the leeway: RFC 9449
/// section 11.1 leaves the window to the server; a minute covers a client's retries
/// and keeps the replay store small.
pub const DEFAULT_PROOF_WINDOW: Duration = Duration::from_secs(60);

/// Clock drift tolerated beyond the proof window by default.
pub const DEFAULT_PROOF_LEEWAY: Duration = Duration::from_secs(5);

/// What a proof proved: its key's thumbprint, and what the replay store keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// RFC 7638 SHA-256 thumbprint of the proof's key, base64url: compare with `cnf.jkt`.
    pub jkt: String,
    /// The proof's `jti`.
    pub jti: String,
    /// The proof's `iat`.
    pub iat: i64,
    /// The proof's `nonce` (RFC 9449 section 8), if it has one: checked by the caller
    /// when the server provides nonces ([`Dpop::use_nonce`](super::Dpop::use_nonce)).
    pub nonce: Option<String>,
}

/// The request a proof must match.
#[derive(Debug, Clone, Copy)]
pub struct ProofContext<'a> {
    /// The request method (`htm`).
    pub method: &'a str,
    /// The request URI as the client addressed it (`htu`); query and fragment ignored.
    pub uri: &'a Url,
    /// The access token sent with the proof (`ath`).
    pub access_token: &'a str,
    /// Now, in seconds since the epoch.
    pub now: i64,
}

/// The proof rules a resource server configures.
#[derive(Debug, Clone)]
pub struct ProofPolicy {
    /// Algorithms a proof may be signed with (asymmetric only).
    pub algorithms: Vec<Algorithm>,
    /// How far `iat` may be from now, either way.
    pub window: Duration,
    /// Clock drift tolerated beyond the window.
    pub leeway: Duration,
}

#[derive(Deserialize)]
struct ProofClaims {
    jti: Option<String>,
    htm: Option<String>,
    htu: Option<String>,
    iat: Option<NumericDate>,
    ath: Option<String>,
    nonce: Option<String>,
}

/// Checks one DPoP proof against the request it came with (RFC 9449 section 4.3, all
/// but the replay check), returning its key's thumbprint and `jti`.
pub fn check_proof(
    proof: &str,
    policy: &ProofPolicy,
    request: &ProofContext<'_>,
) -> Result<VerifiedProof, InvalidProof> {
    check_proof_with(proof, policy, request, None)
}

/// [`check_proof`], remembering checked headers in `headers` when given.
pub(crate) fn check_proof_with(
    proof: &str,
    policy: &ProofPolicy,
    request: &ProofContext<'_>,
    headers: Option<&ProofHeaders>,
) -> Result<VerifiedProof, InvalidProof> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(InvalidProof::Malformed);
    }
    let mut parts = proof.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(InvalidProof::Malformed);
    };
    if header.is_empty() || payload.is_empty() || signature.is_empty() {
        return Err(InvalidProof::Malformed);
    }
    let remembered = headers.and_then(|cache| cache.0.get(header));
    let was_remembered = remembered.is_some();
    let checked = match remembered {
        // The one policy-dependent header rule, for this request's policy.
        Some(checked) if !policy.algorithms.contains(&checked.alg) => {
            return Err(InvalidProof::AlgorithmNotAllowed);
        }
        Some(checked) => checked,
        None => Arc::new(check_header(header, &policy.algorithms)?),
    };
    let signing_input = &proof[..header.len() + 1 + payload.len()];
    verify_with(
        &checked.key,
        checked.alg,
        signing_input.as_bytes(),
        signature,
    )
    .map_err(|error| match error {
        crate::InvalidToken::KeyAlgorithmMismatch => InvalidProof::BadKey,
        crate::InvalidToken::Malformed => InvalidProof::Malformed,
        _ => InvalidProof::BadSignature,
    })?;
    if let (Some(cache), false) = (headers, was_remembered) {
        // Only a header whose proof verified is remembered.
        cache.0.insert(header.to_owned(), Arc::clone(&checked));
    }

    let claims: ProofClaims = decode(payload)?;
    let (Some(jti), Some(htm), Some(htu), Some(NumericDate(iat))) =
        (claims.jti, claims.htm, claims.htu, claims.iat)
    else {
        return Err(InvalidProof::MissingClaim);
    };
    if jti.is_empty() || jti.len() > MAX_JTI_BYTES {
        return Err(InvalidProof::MissingClaim);
    }
    // RFC 9110 section 9.1: the method is case-sensitive.
    if htm != request.method {
        return Err(InvalidProof::MethodMismatch);
    }
    if !same_uri(&htu, request.uri) {
        return Err(InvalidProof::UriMismatch);
    }
    let window = policy.window.saturating_add(policy.leeway).as_secs();
    let window = i64::try_from(window).unwrap_or(i64::MAX);
    if request.now.abs_diff(iat) > window.unsigned_abs() {
        return Err(InvalidProof::Stale);
    }
    let ath = claims.ath.ok_or(InvalidProof::MissingClaim)?;
    if ath != access_token_hash(request.access_token) {
        return Err(InvalidProof::AccessTokenHashMismatch);
    }
    Ok(VerifiedProof {
        jkt: checked.jkt.clone(),
        jti,
        iat,
        nonce: claims.nonce,
    })
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::{Value, json};

    use super::*;
    use crate::binding::dpop::thumbprint::{access_token_hash, thumbprint};
    use crate::testing::{TestKey, alg_name};

    const NOW: i64 = 1_700_000_000;

    /// A named change to a proof and the refusal it must cause.
    type Case = (&'static str, fn(&mut Value), InvalidProof);
    const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln";

    fn policy() -> ProofPolicy {
        ProofPolicy {
            algorithms: crate::SUPPORTED_ALGORITHMS.to_vec(),
            window: DEFAULT_PROOF_WINDOW,
            leeway: Duration::from_secs(5),
        }
    }

    fn uri() -> Url {
        Url::parse("https://api.example.com/orders").unwrap()
    }

    /// A public JWK without the members a client's proof key would not carry.
    fn proof_jwk(key: &TestKey) -> Value {
        let mut jwk = key.public_jwk();
        let object = jwk.as_object_mut().unwrap();
        for member in ["kid", "use", "alg"] {
            object.remove(member);
        }
        jwk
    }

    fn sign(key: &TestKey, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()));
        format!("{input}.{signature}")
    }

    fn header(key: &TestKey) -> Value {
        json!({"typ": "dpop+jwt", "alg": alg_name(key.alg()), "jwk": proof_jwk(key)})
    }

    fn claims() -> Value {
        json!({
            "jti": "e1j3V_bKic8-LAEB",
            "htm": "GET",
            "htu": "https://api.example.com/orders",
            "iat": NOW,
            "ath": access_token_hash(TOKEN),
        })
    }

    fn check(proof: &str) -> Result<VerifiedProof, InvalidProof> {
        let uri = uri();
        let context = ProofContext {
            method: "GET",
            uri: &uri,
            access_token: TOKEN,
            now: NOW,
        };
        check_proof(proof, &policy(), &context)
    }

    fn with_claims(change: impl FnOnce(&mut Value)) -> String {
        let key = TestKey::generate("p", Algorithm::ES256);
        let mut claims = claims();
        change(&mut claims);
        sign(&key, &header(&key), &claims)
    }

    fn with_header(change: impl FnOnce(&mut Value)) -> String {
        let key = TestKey::generate("p", Algorithm::ES256);
        let mut header = header(&key);
        change(&mut header);
        sign(&key, &header, &claims())
    }

    #[test]
    fn a_proof_of_each_key_type_passes_and_names_its_thumbprint() {
        for alg in [Algorithm::ES256, Algorithm::EdDSA, Algorithm::PS256] {
            let key = TestKey::generate("p", alg);
            let proof = sign(&key, &header(&key), &claims());
            let verified = check(&proof).unwrap_or_else(|e| panic!("{alg:?}: {e:?}"));
            let jwk = proof_jwk(&key);
            assert_eq!(verified.jkt, thumbprint(jwk.as_object().unwrap()).unwrap());
            assert_eq!(verified.jti, "e1j3V_bKic8-LAEB");
            assert_eq!(verified.nonce, None);
        }
        let proof = with_claims(|c| c["nonce"] = json!("n-1"));
        assert_eq!(check(&proof).unwrap().nonce.as_deref(), Some("n-1"));
    }

    #[test]
    fn the_request_must_match_method_uri_time_and_token() {
        let cases: [Case; 7] = [
            (
                "htm",
                |c| c["htm"] = json!("POST"),
                InvalidProof::MethodMismatch,
            ),
            (
                "htm case",
                |c| c["htm"] = json!("get"),
                InvalidProof::MethodMismatch,
            ),
            (
                "htu path",
                |c| c["htu"] = json!("https://api.example.com/admin"),
                InvalidProof::UriMismatch,
            ),
            (
                "htu host",
                |c| c["htu"] = json!("https://evil.example.com/orders"),
                InvalidProof::UriMismatch,
            ),
            ("stale", |c| c["iat"] = json!(NOW - 66), InvalidProof::Stale),
            (
                "future",
                |c| c["iat"] = json!(NOW + 66),
                InvalidProof::Stale,
            ),
            (
                "ath",
                |c| c["ath"] = json!(access_token_hash("another token")),
                InvalidProof::AccessTokenHashMismatch,
            ),
        ];
        for (name, change, expected) in cases {
            assert_eq!(check(&with_claims(change)), Err(expected), "{name}");
        }
        // Within the window and leeway, either way.
        assert!(check(&with_claims(|c| c["iat"] = json!(NOW - 65))).is_ok());
        assert!(check(&with_claims(|c| c["iat"] = json!(NOW + 65))).is_ok());
    }

    #[test]
    fn every_required_claim_is_required() {
        for claim in ["jti", "htm", "htu", "iat", "ath"] {
            let proof = with_claims(|c| {
                c.as_object_mut().unwrap().remove(claim);
            });
            assert_eq!(check(&proof), Err(InvalidProof::MissingClaim), "{claim}");
        }
        let long = "j".repeat(MAX_JTI_BYTES + 1);
        assert_eq!(
            check(&with_claims(|c| c["jti"] = json!(long))),
            Err(InvalidProof::MissingClaim)
        );
    }

    #[test]
    fn the_header_must_be_a_dpop_proof_with_a_public_key() {
        let cases: [Case; 6] = [
            (
                "typ jwt",
                |h| h["typ"] = json!("JWT"),
                InvalidProof::WrongType,
            ),
            (
                "typ at+jwt",
                |h| h["typ"] = json!("at+jwt"),
                InvalidProof::WrongType,
            ),
            (
                "alg none",
                |h| h["alg"] = json!("none"),
                InvalidProof::AlgorithmNotAllowed,
            ),
            (
                "alg HS256",
                |h| h["alg"] = json!("HS256"),
                InvalidProof::AlgorithmNotAllowed,
            ),
            (
                "crit",
                |h| h["crit"] = json!(["exp"]),
                InvalidProof::UnsupportedHeader,
            ),
            (
                "no jwk",
                |h| {
                    h.as_object_mut().unwrap().remove("jwk");
                },
                InvalidProof::BadKey,
            ),
        ];
        for (name, change, expected) in cases {
            assert_eq!(check(&with_header(change)), Err(expected), "{name}");
        }
        // A private member in the key, even beside a valid public key and signature.
        assert_eq!(
            check(&with_header(|h| h["jwk"]["d"] = json!("AAAA"))),
            Err(InvalidProof::BadKey)
        );
        // A symmetric key.
        assert_eq!(
            check(&with_header(
                |h| h["jwk"] = json!({"kty": "oct", "k": "c2VjcmV0"})
            )),
            Err(InvalidProof::BadKey)
        );
    }

    #[test]
    fn the_signature_must_be_the_embedded_keys() {
        let signer = TestKey::generate("a", Algorithm::ES256);
        let other = TestKey::generate("b", Algorithm::ES256);
        // Signed by `signer`, but naming `other`'s key.
        let proof = sign(&signer, &header(&other), &claims());
        assert_eq!(check(&proof), Err(InvalidProof::BadSignature));
        // A key that does not fit the algorithm.
        let ed = TestKey::generate("c", Algorithm::EdDSA);
        let mut h = header(&ed);
        h["alg"] = json!("ES256");
        assert_eq!(check(&sign(&ed, &h, &claims())), Err(InvalidProof::BadKey));
        // The claims changed after signing.
        let proof = sign(&signer, &header(&signer), &claims());
        let mut parts: Vec<&str> = proof.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(
            json!({"jti": "x", "htm": "GET", "htu": "https://api.example.com/orders",
                   "iat": NOW, "ath": access_token_hash(TOKEN)})
            .to_string(),
        );
        parts[1] = &forged;
        assert_eq!(check(&parts.join(".")), Err(InvalidProof::BadSignature));
    }

    #[test]
    fn a_remembered_header_still_needs_its_signature_and_an_allowed_alg() {
        let uri = uri();
        let context = ProofContext {
            method: "GET",
            uri: &uri,
            access_token: TOKEN,
            now: NOW,
        };
        let headers = ProofHeaders::new(100);
        let cached = |proof: &str, policy: &ProofPolicy| {
            check_proof_with(proof, policy, &context, Some(&headers))
        };
        let key = TestKey::generate("p", Algorithm::ES256);
        let other = TestKey::generate("q", Algorithm::ES256);
        // Signed by `other` while naming `key`: refused, and the header not remembered.
        let forged = sign(&other, &header(&key), &claims());
        let segment = forged.split('.').next().unwrap().to_owned();
        assert_eq!(cached(&forged, &policy()), Err(InvalidProof::BadSignature));
        assert!(headers.0.get(&segment).is_none());
        // A genuine proof: accepted, and its header remembered.
        let genuine = sign(&key, &header(&key), &claims());
        let first = cached(&genuine, &policy()).unwrap();
        assert!(headers.0.get(&segment).is_some());
        assert_eq!(first, check(&genuine).unwrap());
        // The same header again: the forged signature is still refused, a new genuine
        // proof still passes with the same thumbprint.
        assert_eq!(cached(&forged, &policy()), Err(InvalidProof::BadSignature));
        let again = with_claims(|_| {});
        assert!(cached(&again, &policy()).is_ok());
        let next = sign(&key, &header(&key), &{
            let mut c = claims();
            c["jti"] = json!("another");
            c
        });
        assert_eq!(cached(&next, &policy()).unwrap().jkt, first.jkt);
        // Claims are still checked on a remembered header.
        let stale = sign(&key, &header(&key), &{
            let mut c = claims();
            c["iat"] = json!(NOW - 600);
            c
        });
        assert_eq!(cached(&stale, &policy()), Err(InvalidProof::Stale));
        // A policy without ES256 (a clone of a Dpop given other algorithms shares the
        // cache) refuses the remembered header.
        let eddsa_only = ProofPolicy {
            algorithms: vec![Algorithm::EdDSA],
            ..policy()
        };
        assert_eq!(
            cached(&genuine, &eddsa_only),
            Err(InvalidProof::AlgorithmNotAllowed)
        );
    }

    #[test]
    fn malformed_proofs_are_refused_without_a_panic() {
        let duplicate = format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(r#"{"typ":"dpop+jwt","typ":"dpop+jwt","alg":"ES256"}"#),
            URL_SAFE_NO_PAD.encode("{}")
        );
        for proof in [
            "",
            "a.b",
            "a.b.c.d",
            "..",
            "!!!.@@@.###",
            &duplicate,
            &"a".repeat(MAX_PROOF_BYTES + 1),
        ] {
            assert!(check(proof).is_err(), "{proof:.40}");
        }
    }
}
