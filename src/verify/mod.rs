//! A compact JWS taken apart (RFC 7515 section 7.1), its header checked, and its
//! signature verified with a key that fits its `alg`.
//!
//! Nothing a token says about keys is trusted: `jwk`, `jku`, `x5u` and `x5c` header
//! parameters are ignored (RFC 8725 section 3.10), so no token can name the key that
//! verifies it or a URL for us to fetch.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{Deserialize, Deserializer, MapAccess};
use serde_json::Value;

use crate::alg::Algorithm;
use crate::claims::Claims;
use crate::error::InvalidToken;
use crate::json::{SeenNames, Skip, Text};

mod key;

pub(crate) use key::{KeyKind, Material, VerifyingKey};

/// A compact JWS taken apart: its checked header, and where its segments lie in the token.
///
/// It holds offsets, not borrows, so that a token parsed once can travel on (into the
/// future that waits for the issuer's keys) beside an owned copy of the token, and never be
/// parsed again. Every method takes the token it was parsed from.
#[derive(Debug)]
pub(crate) struct Jws {
    /// The length of `BASE64URL(header) || '.' || BASE64URL(payload)`: what the signature
    /// covers. The signature follows the dot at this offset.
    signed: usize,
    /// Where the payload starts (after the first dot).
    payload_start: usize,
    /// The whole token's length, to catch a token that is not the parsed one.
    len: usize,
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<String>,
    pub(crate) typ: Option<String>,
}

/// Strict base64url: no padding, no `+` or `/`, no non-zero trailing bits.
///
/// Decoded into a buffer of exactly the decoded length (unpadded base64 turns `n`
/// characters into `3n / 4` bytes, rounded down), not `base64`'s rounded-up estimate: the
/// payload's buffer becomes the claims' own string, and an exact one is kept as it is
/// instead of shrunk, that is copied, on every verified token.
fn decode_segment(segment: &str) -> Result<Vec<u8>, InvalidToken> {
    let mut bytes = vec![0; segment.len() / 4 * 3 + segment.len() % 4 * 3 / 4];
    let len = URL_SAFE_NO_PAD
        .decode_slice(segment, &mut bytes)
        .map_err(|_| InvalidToken::Malformed)?;
    // A length of 4k + 1 characters is refused above; every other length fills the buffer.
    bytes.truncate(len);
    Ok(bytes)
}

/// The three segments of a compact JWS, `header.payload.signature` (RFC 7515 section
/// 7.1), or `None` for any other number of dots. The dots are found with `memchr` rather
/// than a byte-at-a-time split: this runs over the whole token on every verified request.
fn segments(token: &str) -> Option<(&str, &str, &str)> {
    let bytes = token.as_bytes();
    let first = memchr::memchr(b'.', bytes)?;
    let second = first + 1 + memchr::memchr(b'.', &bytes[first + 1..])?;
    if memchr::memchr(b'.', &bytes[second + 1..]).is_some() {
        // A JWE has five segments; anything but three is not a JWS we accept.
        return None;
    }
    // Dots are ASCII: every cut falls on a character boundary.
    Some((
        &token[..first],
        &token[first + 1..second],
        &token[second + 1..],
    ))
}

impl Jws {
    /// Splits and checks a compact JWS whose size was already checked.
    ///
    /// `allowed` is the configured allow-list; `none` and HMAC never parse at all.
    pub(crate) fn parse(token: &str, allowed: &[Algorithm]) -> Result<Self, InvalidToken> {
        let (header, payload, signature) = segments(token).ok_or(InvalidToken::Malformed)?;
        if header.is_empty() || payload.is_empty() || signature.is_empty() {
            return Err(InvalidToken::Malformed);
        }
        let header_bytes = decode_segment(header)?;
        let header_fields = HeaderFields::parse(&header_bytes)?;
        let alg = match &header_fields.alg {
            Some(name) => Algorithm::from_name(&name.0).ok_or(InvalidToken::AlgorithmNotAllowed)?,
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
        Ok(Jws {
            signed: header.len() + 1 + payload.len(),
            payload_start: header.len() + 1,
            len: token.len(),
            alg,
            kid,
            typ,
        })
    }

    /// Verifies the signature with `key` (which the key cache chose to fit `alg`).
    pub(crate) fn verify_signature(
        &self,
        token: &str,
        key: &VerifyingKey,
    ) -> Result<(), InvalidToken> {
        let (signing_input, signature) = self.split(token)?;
        verify_with(key, self.alg, signing_input.as_bytes(), signature)
    }

    /// The claims of `token`. Call only after [`Jws::verify_signature`].
    pub(crate) fn claims(&self, token: &str) -> Result<Claims, InvalidToken> {
        let (signing_input, _) = self.split(token)?;
        Claims::from_payload(decode_segment(&signing_input[self.payload_start..])?)
    }

    /// The signing input and the signature of `token`, which must be the parsed one.
    fn split<'t>(&self, token: &'t str) -> Result<(&'t str, &'t str), InvalidToken> {
        // A different token would be a bug of ours: refuse it rather than slice blindly.
        if token.len() != self.len || token.as_bytes().get(self.signed) != Some(&b'.') {
            return Err(InvalidToken::Malformed);
        }
        Ok((&token[..self.signed], &token[self.signed + 1..]))
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
    let (_, payload, _) = segments(token).ok_or(InvalidToken::Malformed)?;
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

    fn parse(t: &str) -> Result<Jws, InvalidToken> {
        Jws::parse(t, &crate::alg::SUPPORTED_ALGORITHMS)
    }

    #[test]
    fn the_parsed_segments_are_read_back_from_the_same_token_only() {
        let t = format!(
            "{}.{}.c2ln",
            b64(r#"{"alg":"RS256"}"#),
            b64(r#"{"iss":"i","aud":"a","exp":1,"sub":"alice"}"#)
        );
        let jws = parse(&t).unwrap();
        assert_eq!(jws.claims(&t).unwrap().subject(), Some("alice"));
        // Another token (longer, shorter, or the same length with the dot elsewhere) is
        // refused, never sliced at the first token's offsets.
        let longer = format!("{t}x");
        let moved = format!("x{}", &t[..t.len() - 1]);
        for other in [longer.as_str(), &t[..t.len() - 1], moved.as_str()] {
            assert_eq!(jws.claims(other).unwrap_err(), InvalidToken::Malformed);
        }
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
    fn segments_are_cut_at_exactly_two_dots() {
        assert_eq!(segments("a.b.c"), Some(("a", "b", "c")));
        assert_eq!(segments("ab.cd.efg"), Some(("ab", "cd", "efg")));
        assert_eq!(segments("..."), None);
        for t in ["", "abc", "a.b", "a.b.c.d", "a.b.c.d.e", "a.b.c."] {
            assert_eq!(segments(t), None, "{t}");
        }
        // Empty segments are cut too; `Jws::parse` refuses them.
        assert_eq!(segments(".."), Some(("", "", "")));
        assert_eq!(segments("a..c"), Some(("a", "", "c")));
    }

    #[test]
    fn segments_decode_to_exactly_their_bytes_at_every_length() {
        // Every remainder of the length by 4 (0, 2, 3; 1 is never valid base64): the
        // exact-size buffer holds the whole of it, and no byte more.
        for len in 0..64usize {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let encoded = URL_SAFE_NO_PAD.encode(&bytes);
            let decoded = decode_segment(&encoded).unwrap();
            assert_eq!(decoded, bytes, "{len} bytes");
            assert_eq!(decoded.capacity(), len, "{len} bytes");
        }
        for bad in ["a", "abcde", "ab=", "a+b/", "ab c"] {
            assert_eq!(decode_segment(bad), Err(InvalidToken::Malformed), "{bad}");
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
