//! A parsed JWK Set (RFC 7517 section 5), holding only keys fit to verify signatures.
//!
//! Key hygiene follows RFC 8725 section 3: only asymmetric keys (RSA of at least
//! [`MIN_RSA_BITS`], EC P-256 / P-384, Ed25519); a JWK whose `use` is not `sig`
//! (RFC 7517 section 4.2) or whose `key_ops` lacks `verify` (section 4.3) is skipped; and
//! a key binds the algorithms it may verify: its type, its curve, and its own `alg`
//! (section 4.4) when it names one. One bad JWK never drops the good ones: it is skipped
//! and logged at `debug`.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use serde_json::Value;

use crate::alg::Algorithm;
use crate::verify::{KeyKind, Material, VerifyingKey};

/// RFC 8725 section 3.5 and NIST SP 800-131A: RSA keys below 2048 bits are breakable.
pub const MIN_RSA_BITS: usize = 2048;
/// aws-lc-rs verifies RSA up to 8192 bits; a larger modulus would be a denial of service.
pub const MAX_RSA_BITS: usize = 8192;
/// The longest `kid` looked up or remembered. RFC 7515 section 4.1.4 leaves its length
/// open; real issuers use at most a few dozen bytes (a UUID, a thumbprint). Longer ones,
/// in a token or a JWKS, are refused before any lookup, so that a flood of made-up `kid`s
/// costs bounded memory in the unknown-`kid` memory.
pub(crate) const MAX_KID_BYTES: usize = 256;

/// The usable keys of one fetched JWKS, looked up by `kid`.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    by_kid: HashMap<String, Vec<Arc<VerifyingKey>>>,
    /// Keys without a `kid`, and every key, for tokens that name none.
    all: Vec<Arc<VerifyingKey>>,
    /// JWKs in the document, usable or not.
    published: usize,
    /// JWKs left unread because the set reached `max_keys`.
    over_cap: usize,
}

/// What a lookup found.
#[derive(Debug)]
pub(crate) enum Lookup {
    Found(Arc<VerifyingKey>),
    /// No key under this `kid`: a refetch may help.
    UnknownKid,
    /// A key exists under this `kid` but not for this `alg`: no refetch will help.
    Mismatch,
    /// No `kid`, and not exactly one key fits the `alg`.
    Ambiguous,
}

impl KeySet {
    /// Parses a JWKS document, keeping every usable key and skipping the rest.
    ///
    /// Fails only when the document itself is not `{"keys": [...]}`. Once `max_keys`
    /// usable keys are kept the rest is left unread ([`KeySet::over_cap`]; the caller
    /// logs it).
    pub(crate) fn from_json(doc: &Value, max_keys: usize) -> Result<KeySet, &'static str> {
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("the JWKS is not an object with a \"keys\" array")?;
        let mut set = KeySet {
            published: keys.len(),
            ..KeySet::default()
        };
        for (index, jwk) in keys.iter().enumerate() {
            if set.all.len() == max_keys {
                set.over_cap = keys.len() - index;
                break;
            }
            match parse_jwk(jwk) {
                Ok((kid, key)) => {
                    let key = Arc::new(key);
                    if let Some(kid) = kid {
                        set.by_kid.entry(kid).or_default().push(key.clone());
                    }
                    set.all.push(key);
                }
                Err(reason) => {
                    let kid = jwk.get("kid").and_then(Value::as_str);
                    tracing::debug!(index, kid, reason, "skipping JWK");
                }
            }
        }
        Ok(set)
    }

    /// How many usable keys the set holds.
    pub(crate) fn len(&self) -> usize {
        self.all.len()
    }

    /// How many JWKs the document held, usable or not.
    pub(crate) fn published(&self) -> usize {
        self.published
    }

    /// How many JWKs were left unread because the set reached its key cap.
    pub(crate) fn over_cap(&self) -> usize {
        self.over_cap
    }

    /// Replaces keys identical to keys of `previous` (same `kid`, type, `alg` and key
    /// material) by the previous objects: their parsed forms stay warm, and whatever was
    /// verified with them stays valid (see [`KeySet::contains`]).
    pub(crate) fn reusing(mut self, previous: Option<&KeySet>) -> KeySet {
        let Some(previous) = previous else {
            return self;
        };
        for (kid, keys) in self.by_kid.iter_mut() {
            let Some(old_keys) = previous.by_kid.get(kid) else {
                continue;
            };
            for key in keys.iter_mut() {
                if let Some(old) = old_keys.iter().find(|old| old.same_key(key)) {
                    let fresh = std::mem::replace(key, Arc::clone(old));
                    for entry in self.all.iter_mut() {
                        if Arc::ptr_eq(entry, &fresh) {
                            *entry = Arc::clone(old);
                        }
                    }
                }
            }
        }
        self
    }

    /// Whether this very key object is in the set under `kid` (or at all, without one).
    pub(crate) fn contains(&self, kid: Option<&str>, key: &Arc<VerifyingKey>) -> bool {
        match kid {
            Some(kid) => self
                .by_kid
                .get(kid)
                .is_some_and(|keys| keys.iter().any(|k| Arc::ptr_eq(k, key))),
            None => self.all.iter().any(|k| Arc::ptr_eq(k, key)),
        }
    }

    /// The `kid`s in the set.
    pub(crate) fn kids(&self) -> impl Iterator<Item = &str> {
        self.by_kid.keys().map(String::as_str)
    }

    /// Whether the set has a key under `kid`.
    pub(crate) fn has_kid(&self, kid: &str) -> bool {
        self.by_kid.contains_key(kid)
    }

    /// The key for a token's `kid` (or lack of one) and `alg`.
    pub(crate) fn lookup(&self, kid: Option<&str>, alg: Algorithm) -> Lookup {
        match kid {
            Some(kid) => match self.by_kid.get(kid) {
                None => Lookup::UnknownKid,
                Some(keys) => keys
                    .iter()
                    .find(|k| k.fits(alg))
                    .map_or(Lookup::Mismatch, |k| Lookup::Found(k.clone())),
            },
            None => {
                let mut fitting = self.all.iter().filter(|k| k.fits(alg));
                match (fitting.next(), fitting.next()) {
                    (Some(key), None) => Lookup::Found(key.clone()),
                    _ => Lookup::Ambiguous,
                }
            }
        }
    }
}

/// Warns that a set reached `max_keys`, with the numbers.
pub(crate) fn log_cap(issuer: &str, set: &KeySet, max_keys: usize) {
    if set.over_cap() > 0 {
        tracing::warn!(
            issuer,
            max_keys,
            published = set.published(),
            kept = set.len(),
            unread = set.over_cap(),
            "JWKS has more keys than max_keys allows; the rest are ignored"
        );
    }
}

/// Strict base64url without padding (RFC 7515 section 2); trailing bits must be zero.
fn b64(jwk: &Value, member: &'static str) -> Result<Vec<u8>, &'static str> {
    let text = jwk
        .get(member)
        .and_then(Value::as_str)
        .ok_or("a key member is missing or not a string")?;
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| "a key member is not base64url")
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    &bytes[zeros..]
}

/// Parses one JWK, returning its `kid` and the key, or why it was skipped.
pub(crate) fn parse_jwk(jwk: &Value) -> Result<(Option<String>, VerifyingKey), &'static str> {
    if !jwk.is_object() {
        return Err("not a JSON object");
    }
    let kid = match jwk.get("kid") {
        None => None,
        // Tokens with longer kids are refused unread: such a key could never verify.
        Some(Value::String(kid)) if kid.len() > MAX_KID_BYTES => {
            return Err("kid longer than 256 bytes");
        }
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err("kid is not a string"),
    };
    // RFC 7517 section 4.2: a key for encryption must not verify signatures.
    if let Some(use_) = jwk.get("use") {
        if use_.as_str() != Some("sig") {
            return Err("use is not \"sig\"");
        }
    }
    // RFC 7517 section 4.3.
    if let Some(ops) = jwk.get("key_ops") {
        let verifies = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op.as_str() == Some("verify")));
        if !verifies {
            return Err("key_ops lacks \"verify\"");
        }
    }
    let alg = match jwk.get("alg") {
        None => None,
        Some(Value::String(name)) => {
            Some(Algorithm::from_name(name).ok_or("alg is not a supported signature algorithm")?)
        }
        Some(_) => return Err("alg is not a string"),
    };
    let (kind, key) = match jwk.get("kty").and_then(Value::as_str) {
        Some("RSA") => {
            let n = b64(jwk, "n")?;
            let e = b64(jwk, "e")?;
            let (n, e) = (strip_leading_zeros(&n), strip_leading_zeros(&e));
            // Attacker-sized input: checked arithmetic only. An empty (or all-zero)
            // modulus has no bits; otherwise its first byte is non-zero, so fewer than 8
            // of its bits are leading zeros.
            let bits = match n.first() {
                None => 0,
                Some(first) => n
                    .len()
                    .checked_mul(8)
                    .and_then(|all| all.checked_sub(first.leading_zeros() as usize))
                    .unwrap_or(usize::MAX),
            };
            if bits < MIN_RSA_BITS {
                return Err("RSA modulus shorter than 2048 bits");
            }
            if bits > MAX_RSA_BITS {
                return Err("RSA modulus longer than 8192 bits");
            }
            if e.is_empty() || e.len() > 4 {
                return Err("RSA exponent out of range");
            }
            (
                KeyKind::Rsa,
                Material::Rsa {
                    n: n.to_vec(),
                    e: e.to_vec(),
                },
            )
        }
        Some("EC") => {
            let (kind, len) = match jwk.get("crv").and_then(Value::as_str) {
                Some("P-256") => (KeyKind::P256, 32),
                Some("P-384") => (KeyKind::P384, 48),
                _ => return Err("EC curve is not P-256 or P-384"),
            };
            let (x, y) = (b64(jwk, "x")?, b64(jwk, "y")?);
            if x.len() != len || y.len() != len {
                return Err("EC coordinates have the wrong length");
            }
            // SEC 1 section 2.3.3: the uncompressed point 0x04 || x || y.
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            (kind, Material::Ec(point))
        }
        Some("OKP") => {
            if jwk.get("crv").and_then(Value::as_str) != Some("Ed25519") {
                return Err("OKP curve is not Ed25519");
            }
            let x = b64(jwk, "x")?;
            if x.len() != 32 {
                return Err("Ed25519 key has the wrong length");
            }
            (KeyKind::Ed25519, Material::Ed25519(x))
        }
        // RFC 8725 section 3.1: a symmetric key from a public JWKS would let anyone sign.
        Some("oct") => return Err("symmetric (oct) keys are never used"),
        _ => return Err("unsupported kty"),
    };
    if alg.is_some_and(|alg| !kind.fits(alg)) {
        return Err("alg does not fit the key type");
    }
    let key = VerifyingKey::new(kind, alg, key);
    // Parse now, so a key aws-lc-rs rejects (a point not on the curve, a bad modulus) is
    // skipped at load time like any other bad JWK, not discovered per request.
    if key.parsed(key.probe_alg()).is_none() {
        return Err("the key material is invalid");
    }
    Ok((kid, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rsa_jwk(bits: usize) -> Value {
        let mut n = vec![0xffu8; bits / 8];
        n[0] = 0x80;
        json!({"kty": "RSA", "kid": "r", "n": URL_SAFE_NO_PAD.encode(&n), "e": "AQAB"})
    }

    /// A JWK for a real point on `crv` when the curve is P-256/P-384 and `len` fits it,
    /// else filler coordinates of `len` bytes.
    fn ec_jwk(crv: &str, len: usize) -> Value {
        use aws_lc_rs::signature::{
            ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
        };
        let alg = match (crv, len) {
            ("P-256", 32) => Some(&ECDSA_P256_SHA256_FIXED_SIGNING),
            ("P-384", 48) => Some(&ECDSA_P384_SHA384_FIXED_SIGNING),
            _ => None,
        };
        let (x, y) = match alg {
            Some(alg) => {
                let point = EcdsaKeyPair::generate(alg)
                    .unwrap()
                    .public_key()
                    .as_ref()
                    .to_vec();
                (point[1..1 + len].to_vec(), point[1 + len..].to_vec())
            }
            None => (vec![1u8; len], vec![1u8; len]),
        };
        json!({"kty": "EC", "kid": "e", "crv": crv, "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)})
    }

    #[test]
    fn points_off_the_curve_are_skipped_at_load() {
        let mut jwk = ec_jwk("P-256", 32);
        jwk["y"] = json!(URL_SAFE_NO_PAD.encode([1u8; 32]));
        assert_eq!(set(vec![jwk]).len(), 0);
    }

    fn set(keys: Vec<Value>) -> KeySet {
        KeySet::from_json(&json!({ "keys": keys }), 64).unwrap()
    }

    #[test]
    fn rejects_rsa_under_2048_bits() {
        assert_eq!(set(vec![rsa_jwk(1024)]).len(), 0);
        assert_eq!(set(vec![rsa_jwk(2040)]).len(), 0);
        assert_eq!(set(vec![rsa_jwk(2048)]).len(), 1);
    }

    #[test]
    fn leading_zeros_do_not_count_as_modulus_bits() {
        let mut jwk = rsa_jwk(1024);
        let mut n = vec![0u8; 200];
        n.extend(URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap());
        jwk["n"] = json!(URL_SAFE_NO_PAD.encode(&n));
        assert_eq!(set(vec![jwk]).len(), 0);
    }

    #[test]
    fn skips_oct_enc_and_non_verify_keys_but_keeps_good_ones() {
        let mut enc = rsa_jwk(2048);
        enc["use"] = json!("enc");
        let mut sign_only = rsa_jwk(2048);
        sign_only["key_ops"] = json!(["sign"]);
        let oct = json!({"kty": "oct", "k": "c2VjcmV0", "kid": "h"});
        let good = rsa_jwk(2048);
        let s = set(vec![
            enc,
            sign_only,
            oct,
            json!("garbage"),
            json!({"kty": "RSA"}),
            good,
        ]);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn skips_wrong_curves_and_lengths() {
        assert_eq!(set(vec![ec_jwk("P-521", 66)]).len(), 0);
        assert_eq!(set(vec![ec_jwk("secp256k1", 32)]).len(), 0);
        assert_eq!(set(vec![ec_jwk("P-256", 31)]).len(), 0);
        assert_eq!(set(vec![ec_jwk("P-256", 32)]).len(), 1);
        assert_eq!(set(vec![ec_jwk("P-384", 48)]).len(), 1);
    }

    #[test]
    fn key_binds_its_type_curve_and_alg() {
        let mut pinned = rsa_jwk(2048);
        pinned["alg"] = json!("PS256");
        let s = set(vec![pinned, ec_jwk("P-256", 32)]);
        assert!(matches!(
            s.lookup(Some("r"), Algorithm::PS256),
            Lookup::Found(_)
        ));
        assert!(matches!(
            s.lookup(Some("r"), Algorithm::RS256),
            Lookup::Mismatch
        ));
        assert!(matches!(
            s.lookup(Some("e"), Algorithm::ES256),
            Lookup::Found(_)
        ));
        assert!(matches!(
            s.lookup(Some("e"), Algorithm::ES384),
            Lookup::Mismatch
        ));
        assert!(matches!(
            s.lookup(Some("e"), Algorithm::RS256),
            Lookup::Mismatch
        ));
        assert!(matches!(
            s.lookup(Some("x"), Algorithm::RS256),
            Lookup::UnknownKid
        ));
    }

    #[test]
    fn jwk_alg_must_be_asymmetric_and_fit_the_key() {
        for alg in ["HS256", "none", "ES256", "RSA-OAEP"] {
            let mut jwk = rsa_jwk(2048);
            jwk["alg"] = json!(alg);
            assert_eq!(set(vec![jwk]).len(), 0, "{alg}");
        }
    }

    #[test]
    fn token_without_kid_needs_exactly_one_fitting_key() {
        let one = set(vec![rsa_jwk(2048)]);
        assert!(matches!(
            one.lookup(None, Algorithm::RS256),
            Lookup::Found(_)
        ));
        let two = set(vec![rsa_jwk(2048), rsa_jwk(4096)]);
        assert!(matches!(
            two.lookup(None, Algorithm::RS256),
            Lookup::Ambiguous
        ));
    }

    #[test]
    fn refreshed_sets_reuse_unchanged_keys_only() {
        let mut changed = ec_jwk("P-256", 32);
        changed["kid"] = json!("c");
        let old = set(vec![rsa_jwk(2048), changed.clone()]);
        let mut replaced = ec_jwk("P-256", 32);
        replaced["kid"] = json!("c");
        let new = set(vec![rsa_jwk(2048), replaced]).reusing(Some(&old));
        let Lookup::Found(old_rsa) = old.lookup(Some("r"), Algorithm::RS256) else {
            panic!()
        };
        let Lookup::Found(old_ec) = old.lookup(Some("c"), Algorithm::ES256) else {
            panic!()
        };
        assert!(new.contains(Some("r"), &old_rsa), "unchanged key kept");
        assert!(new.contains(None, &old_rsa));
        assert!(
            !new.contains(Some("c"), &old_ec),
            "new material under the same kid"
        );
    }

    #[test]
    fn caps_the_number_of_keys() {
        let keys: Vec<Value> = (0..10).map(|_| rsa_jwk(2048)).collect();
        let s = KeySet::from_json(&json!({ "keys": keys }), 3).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!((s.published(), s.over_cap()), (10, 7));
        let s = KeySet::from_json(&json!({ "keys": [rsa_jwk(2048)] }), 3).unwrap();
        assert_eq!((s.published(), s.over_cap()), (1, 0));
    }

    /// Parsing a JWKS as large as the default body cap allows, of the smallest keys of
    /// each kind (every one checked by aws-lc-rs at load), stays bounded. The byte cap,
    /// not the key cap, binds first. Prints the times (`-- --nocapture`).
    #[test]
    fn a_max_size_jwks_parses_in_bounded_time() {
        let cap = crate::DEFAULT_MAX_JWKS_BYTES;
        let p256 = ec_jwk("P-256", 32);
        let mut off_curve = p256.clone();
        off_curve["y"] = json!(URL_SAFE_NO_PAD.encode([1u8; 32]));
        let ed = json!({"kty": "OKP", "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(
                aws_lc_rs::signature::KeyPair::public_key(
                    &aws_lc_rs::signature::Ed25519KeyPair::generate().unwrap()).as_ref())});
        for (name, template) in [
            ("Ed25519, no kid", ed),
            ("P-256", p256),
            ("P-256 off the curve", off_curve),
            ("RSA-2048", rsa_jwk(2048)),
            ("RSA-8192", rsa_jwk(8192)),
        ] {
            let one = template.to_string().len() + 1;
            let count = cap / one;
            let doc = json!({ "keys": vec![template; count] });
            assert!(doc.to_string().len() <= cap);
            let started = std::time::Instant::now();
            let parsed = KeySet::from_json(&doc, crate::DEFAULT_MAX_KEYS).unwrap();
            let took = started.elapsed();
            println!(
                "{name}: {count} JWKs in {cap} bytes parsed in {took:?}, {} kept",
                parsed.len()
            );
            assert_eq!(
                parsed.over_cap(),
                0,
                "{name}: the key cap bound before the byte cap"
            );
            assert!(
                took < std::time::Duration::from_secs(20),
                "{name}: {took:?}"
            );
        }
    }

    #[test]
    fn kids_longer_than_the_bound_are_skipped() {
        let mut long = rsa_jwk(2048);
        long["kid"] = json!("k".repeat(MAX_KID_BYTES + 1));
        let mut at_bound = rsa_jwk(2048);
        at_bound["kid"] = json!("k".repeat(MAX_KID_BYTES));
        assert_eq!(set(vec![long]).len(), 0);
        assert_eq!(set(vec![at_bound]).len(), 1);
    }

    #[test]
    fn rsa_moduli_that_are_empty_or_zero_are_skipped_not_a_panic() {
        for n in ["", "AA", "AAAA"] {
            let jwk = json!({"kty": "RSA", "kid": "r", "n": n, "e": "AQAB"});
            assert!(parse_jwk(&jwk).is_err(), "n = {n:?}");
        }
        let jwk =
            json!({"kty": "RSA", "kid": "r", "n": URL_SAFE_NO_PAD.encode([0u8; 256]), "e": ""});
        assert!(parse_jwk(&jwk).is_err());
    }

    #[test]
    fn rejects_documents_without_keys() {
        assert!(KeySet::from_json(&json!([]), 64).is_err());
        assert!(KeySet::from_json(&json!({"keys": {}}), 64).is_err());
    }
}
