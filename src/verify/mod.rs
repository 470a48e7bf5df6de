//! A compact JWS taken apart (RFC 7515 section 7.1), its header checked, and its
//! signature verified with a key that fits its `alg`.
//!
//! Nothing a token says about keys is trusted: `jwk`, `jku`, `x5u` and `x5c` header
//! parameters are ignored (RFC 8725 section 3.10), so no token can name the key that
//! verifies it or a URL for us to fetch.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::de::{Deserialize, Deserializer, MapAccess};
use serde_json::Value;

use crate::claims::Claims;
use crate::error::InvalidToken;
use crate::json::{SeenNames, Skip, Text};
use crate::jwks::VerifyingKey;

/// The asymmetric algorithms we verify, by their RFC 7518 / RFC 8037 names.
///
/// `none` and the HMAC family are absent on purpose (RFC 8725 sections 2.1 and 3.1): a
/// resource server holds no shared secret, and an HMAC "verified" with a public key is
/// the classic algorithm-confusion forgery.
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

/// The asymmetric algorithm named `name` (case-sensitive, RFC 7515 section 4.1.1).
pub(crate) fn parse_asymmetric_alg(name: &str) -> Option<Algorithm> {
    Some(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

/// The RFC 7518 name of an asymmetric algorithm we verify (the inverse of
/// [`parse_asymmetric_alg`]); `None` for HMAC.
pub(crate) fn asymmetric_alg_name(alg: Algorithm) -> Option<&'static str> {
    Some(match alg {
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::EdDSA => "EdDSA",
        _ => return None,
    })
}

/// The parts of a compact JWS, borrowed from the token.
#[derive(Debug)]
pub(crate) struct Jws<'a> {
    /// `BASE64URL(header) || '.' || BASE64URL(payload)`: what the signature covers.
    signing_input: &'a str,
    payload: &'a str,
    signature: &'a str,
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<String>,
    pub(crate) typ: Option<String>,
}

/// Strict base64url: no padding, no `+` or `/`, no non-zero trailing bits.
fn decode_segment(segment: &str) -> Result<Vec<u8>, InvalidToken> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| InvalidToken::Malformed)
}

impl<'a> Jws<'a> {
    /// Splits and checks a compact JWS whose size was already checked.
    ///
    /// `allowed` is the configured allow-list; `none` and HMAC never parse at all.
    pub(crate) fn parse(token: &'a str, allowed: &[Algorithm]) -> Result<Self, InvalidToken> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            // A JWE has five segments; anything but three is not a JWS we accept.
            return Err(InvalidToken::Malformed);
        };
        if header.is_empty() || payload.is_empty() || signature.is_empty() {
            return Err(InvalidToken::Malformed);
        }
        let header_bytes = decode_segment(header)?;
        let header_fields = HeaderFields::parse(&header_bytes)?;
        let alg = match &header_fields.alg {
            Some(name) => parse_asymmetric_alg(&name.0).ok_or(InvalidToken::AlgorithmNotAllowed)?,
            None => return Err(InvalidToken::Malformed),
        };
        if !allowed.contains(&alg) {
            return Err(InvalidToken::AlgorithmNotAllowed);
        }
        // RFC 7515 section 4.1.11: we implement no extension, so any `crit` is one we do
        // not understand, and the token must be rejected.
        // RFC 7797: `b64: false` changes what the signature covers; we never accept it.
        if header_fields.crit || header_fields.b64_other_than_true {
            return Err(InvalidToken::UnsupportedHeader);
        }
        let kid = header_fields.kid.map(|k| k.0.into_owned());
        let typ = header_fields.typ.map(|t| t.0.into_owned());
        let signing_input = &token[..header.len() + 1 + payload.len()];
        Ok(Jws {
            signing_input,
            payload,
            signature,
            alg,
            kid,
            typ,
        })
    }

    /// Verifies the signature with `key` (which the key cache chose to fit `alg`).
    pub(crate) fn verify_signature(&self, key: &VerifyingKey) -> Result<(), InvalidToken> {
        verify_with(key, self.alg, self.signing_input.as_bytes(), self.signature)
    }

    /// The claims. Call only after [`Jws::verify_signature`].
    pub(crate) fn claims(&self) -> Result<Claims, InvalidToken> {
        Claims::from_payload(decode_segment(self.payload)?)
    }
}

/// The verification layer: `signature` (base64url) over `message` with `key` for `alg`.
///
/// Refuses a key that does not fit `alg` (type, curve, JWK `alg`) before any crypto, then
/// verifies with aws-lc-rs and the key parsed once for `alg`. (`jsonwebtoken`'s
/// `crypto::verify` rebuilds the key from `n`/`e` and boxes a verifier on every call;
/// measured in `benches/validate.rs`, that costs more than all our parsing together.)
pub(crate) fn verify_with(
    key: &VerifyingKey,
    alg: Algorithm,
    message: &[u8],
    signature: &str,
) -> Result<(), InvalidToken> {
    if !key.fits(alg) {
        return Err(InvalidToken::KeyAlgorithmMismatch);
    }
    let parsed = key.parsed(alg).ok_or(InvalidToken::KeyAlgorithmMismatch)?;
    // The largest signature we verify is RSA-8192's 1024 bytes; decode onto the stack.
    let mut buffer = [0u8; MAX_SIGNATURE_BYTES];
    if signature.len() > MAX_SIGNATURE_CHARS {
        return Err(InvalidToken::BadSignature);
    }
    let len = URL_SAFE_NO_PAD
        .decode_slice(signature, &mut buffer)
        .map_err(|_| InvalidToken::Malformed)?;
    parsed
        .verify_sig(message, &buffer[..len])
        .map_err(|_| InvalidToken::BadSignature)
}

/// RSA-8192 signatures are 1024 bytes; base64url makes them 1366 characters.
const MAX_SIGNATURE_BYTES: usize = 1026;
const MAX_SIGNATURE_CHARS: usize = 1366;

/// The `iss` claim of a token, read WITHOUT verifying anything: only to choose which
/// issuer's policy will then verify it all (RFC 8725 section 3.9 warns against trusting
/// it for more). Refuses what any later step would refuse anyway: not three segments, a
/// payload that is not strict JSON, a missing or non-string `iss`.
pub(crate) fn peek_issuer(token: &str) -> Result<String, InvalidToken> {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(InvalidToken::Malformed);
    };
    let bytes = decode_segment(payload)?;
    let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
    let issuer = IssuerOnly::deserialize(&mut deserializer).map_err(|_| InvalidToken::Malformed)?;
    deserializer.end().map_err(|_| InvalidToken::Malformed)?;
    issuer.0.ok_or(InvalidToken::MissingClaim("iss"))
}

/// Reads only `iss`, with the same strictness as the full claims reader.
struct IssuerOnly(Option<String>);

impl<'de> Deserialize<'de> for IssuerOnly {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = IssuerOnly;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JWT claim set")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IssuerOnly, A::Error> {
                let mut seen = SeenNames::new();
                let mut issuer = None;
                while let Some(name) = map.next_key::<Text<'de>>()? {
                    if !seen.insert(&name) {
                        return Err(serde::de::Error::custom("duplicate member name"));
                    }
                    if name.0 == "iss" {
                        issuer = Some(map.next_value::<Text<'de>>()?.0.into_owned());
                    } else {
                        map.next_value::<Skip>()?;
                    }
                }
                Ok(IssuerOnly(issuer))
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// The JOSE header members we act on (RFC 7515 section 4.1), read in one pass.
///
/// Duplicate member names are refused: RFC 7515 section 5.2 lets a parser reject them or
/// take the last one, and RFC 8725 section 3.8 warns that parsers disagreeing here is an
/// attack (`{"alg":"none","alg":"RS256"}`). Other members (`jwk`, `jku`, `x5u`, `x5c`,
/// ...) are skipped unread: nothing a token says about keys is trusted.
struct HeaderFields<'de> {
    alg: Option<Text<'de>>,
    kid: Option<Text<'de>>,
    typ: Option<Text<'de>>,
    crit: bool,
    b64_other_than_true: bool,
}

impl<'de> HeaderFields<'de> {
    fn parse(bytes: &'de [u8]) -> Result<Self, InvalidToken> {
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let fields =
            HeaderFields::deserialize(&mut deserializer).map_err(|_| InvalidToken::Malformed)?;
        deserializer.end().map_err(|_| InvalidToken::Malformed)?;
        Ok(fields)
    }
}

impl<'de> Deserialize<'de> for HeaderFields<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = HeaderFields<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JOSE header object with unique member names")
            }

            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<HeaderFields<'de>, A::Error> {
                let mut seen = SeenNames::new();
                let mut fields = HeaderFields {
                    alg: None,
                    kid: None,
                    typ: None,
                    crit: false,
                    b64_other_than_true: false,
                };
                while let Some(name) = map.next_key::<Text<'de>>()? {
                    if !seen.insert(&name) {
                        return Err(serde::de::Error::custom("duplicate member name"));
                    }
                    match &*name.0 {
                        "alg" => fields.alg = Some(map.next_value()?),
                        "kid" => fields.kid = Some(map.next_value()?),
                        "typ" => fields.typ = Some(map.next_value()?),
                        "crit" => {
                            map.next_value::<Skip>()?;
                            fields.crit = true;
                        }
                        "b64" => {
                            let value: Value = map.next_value()?;
                            fields.b64_other_than_true = value != Value::Bool(true);
                        }
                        _ => {
                            map.next_value::<Skip>()?;
                        }
                    }
                }
                Ok(fields)
            }
        }
        deserializer.deserialize_map(V)
    }
}

#[cfg(test)]
mod wycheproof;

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str) -> String {
        format!("{}.{}.c2ln", b64(header), b64("{}"))
    }

    fn parse(t: &str) -> Result<Jws<'_>, InvalidToken> {
        Jws::parse(t, &SUPPORTED_ALGORITHMS)
    }

    #[test]
    fn refuses_none_and_hmac_in_any_case() {
        for alg in [
            "none", "None", "NONE", "nOnE", "HS256", "HS384", "HS512", "rs256", "",
        ] {
            let t = token(&format!(r#"{{"alg":"{alg}"}}"#));
            assert_eq!(
                parse(&t).unwrap_err(),
                InvalidToken::AlgorithmNotAllowed,
                "{alg}"
            );
        }
        let unsigned = format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64("{}"));
        assert!(parse(&unsigned).is_err());
    }

    #[test]
    fn allow_list_is_honoured() {
        let t = token(r#"{"alg":"ES256"}"#);
        assert_eq!(
            Jws::parse(&t, &[Algorithm::RS256]).unwrap_err(),
            InvalidToken::AlgorithmNotAllowed
        );
    }

    #[test]
    fn refuses_crit_and_b64_false() {
        for h in [
            r#"{"alg":"RS256","crit":["exp"]}"#,
            r#"{"alg":"RS256","crit":[]}"#,
            r#"{"alg":"RS256","b64":false,"crit":["b64"]}"#,
            r#"{"alg":"RS256","b64":false}"#,
        ] {
            assert_eq!(
                parse(&token(h)).unwrap_err(),
                InvalidToken::UnsupportedHeader,
                "{h}"
            );
        }
        assert!(parse(&token(r#"{"alg":"RS256","b64":true}"#)).is_ok());
    }

    #[test]
    fn refuses_wrong_segment_counts_and_empty_segments() {
        let good = token(r#"{"alg":"RS256"}"#);
        assert!(parse(&good).is_ok());
        for t in [
            "a.b".to_owned(),
            format!("{good}.x.y"),
            format!("{good}."),
            format!(".{}.c2ln", b64("{}")),
            format!("{}..c2ln", b64(r#"{"alg":"RS256"}"#)),
        ] {
            assert_eq!(parse(&t).unwrap_err(), InvalidToken::Malformed, "{t}");
        }
    }

    #[test]
    fn refuses_duplicate_member_names() {
        let t = token(r#"{"alg":"none","alg":"RS256"}"#);
        assert_eq!(parse(&t).unwrap_err(), InvalidToken::Malformed);
        let t = token(r#"{"alg":"RS256","kid":"a","kid":"b"}"#);
        assert_eq!(parse(&t).unwrap_err(), InvalidToken::Malformed);
        assert_eq!(
            HeaderFields::parse(br#"{"a":1,"a":1}"#)
                .map(drop)
                .unwrap_err(),
            InvalidToken::Malformed
        );
        // Nested duplicates are not our business: only top-level names are read.
        assert!(HeaderFields::parse(br#"{"a":{"b":1}}"#).is_ok());
    }

    #[test]
    fn refuses_deep_nesting_and_trailing_garbage() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(
            HeaderFields::parse(deep.as_bytes()).map(drop).unwrap_err(),
            InvalidToken::Malformed
        );
        assert_eq!(
            HeaderFields::parse(br#"{"a":1} x"#).map(drop).unwrap_err(),
            InvalidToken::Malformed
        );
        assert_eq!(
            HeaderFields::parse(br#"{"a":1e400}"#)
                .map(drop)
                .unwrap_err(),
            InvalidToken::Malformed
        );
        assert_eq!(
            HeaderFields::parse(b"{\"a\":\"\xff\"}")
                .map(drop)
                .unwrap_err(),
            InvalidToken::Malformed
        );
    }

    #[test]
    fn refuses_non_canonical_base64_and_non_object_headers() {
        let padded = format!("{}=.{}.c2ln", b64(r#"{"alg":"RS256"}"#), b64("{}"));
        assert!(parse(&padded).is_err());
        for h in ["[]", "\"x\"", "1", "null", "{"] {
            assert_eq!(
                parse(&token(h)).unwrap_err(),
                InvalidToken::Malformed,
                "{h}"
            );
        }
        assert!(parse(&token(r#"{"alg":"RS256","kid":7}"#)).is_err());
        assert!(parse(&token(r#"{"alg":["RS256"]}"#)).is_err());
    }
}
