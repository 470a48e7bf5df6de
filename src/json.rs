//! Reading untrusted JSON strictly and cheaply: borrowed strings, one pass, duplicate
//! member names refused (RFC 8725 section 3.8), nesting bounded by serde_json's recursion
//! limit (128) even in members we skip, so no token can overflow the stack or make a
//! later full parse fail.

use std::borrow::Cow;
use std::fmt;

use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A string borrowed from the payload when it has no escapes.
#[derive(PartialEq, Eq)]
pub(crate) struct Text<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// A string or an array of strings (`aud`, `scp`, `scope`).
pub(crate) enum OneOrMany<'de> {
    One(Text<'de>),
    Many(Vec<Text<'de>>),
}

impl<'de> Deserialize<'de> for OneOrMany<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<OneOrMany<'de>, E> {
                Ok(OneOrMany::One(Text(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<OneOrMany<'de>, E> {
                Ok(OneOrMany::One(Text(Cow::Owned(v.to_owned()))))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany<'de>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Text<'de>>()? {
                    items.push(item);
                }
                Ok(OneOrMany::Many(items))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A NumericDate (RFC 7519 section 2): seconds, possibly fractional; huge values saturate.
pub(crate) struct NumericDate(pub(crate) i64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of seconds")
            }
            fn visit_i64<E>(self, v: i64) -> Result<NumericDate, E> {
                Ok(NumericDate(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<NumericDate, E> {
                Ok(NumericDate(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<NumericDate, E> {
                if v.is_finite() {
                    // `as` saturates: 1e300 becomes i64::MAX, not a wrap-around.
                    Ok(NumericDate(v.floor() as i64))
                } else {
                    Err(E::custom("not finite"))
                }
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Top-level member names seen so far: a linear scan while few (the common case, on the
/// stack, no hashing and no allocation), a hash set past that, so that a payload of
/// thousands of members cannot make duplicate detection quadratic.
///
/// The scan compares a fingerprint first (the length and the first seven bytes in one
/// word), so the usual short names (`iss`, `sub`, `aud`, `exp`, `iat`, `jti`, ... : ten of
/// an access token's dozen names have three letters) are told apart by one integer
/// comparison each, not a call to `memcmp`; only names longer than seven bytes whose
/// fingerprints match are compared in full.
pub(crate) struct SeenNames<'de> {
    fingerprints: [u64; LINEAR_SCAN_LIMIT],
    few: [Cow<'de, str>; LINEAR_SCAN_LIMIT],
    len: usize,
    many: Option<std::collections::HashSet<Cow<'de, str>>>,
}

const LINEAR_SCAN_LIMIT: usize = 24;

/// The bytes a fingerprint holds of a name: a name this long or shorter is equal to
/// another exactly when their fingerprints are.
const FINGERPRINT_BYTES: usize = 7;

/// A name's first [`FINGERPRINT_BYTES`] bytes (zero-filled) and its length (saturated at
/// 255) in the last byte.
fn fingerprint(name: &str) -> u64 {
    let bytes = name.as_bytes();
    // Shifted in byte by byte: a copy into an array would call `memcpy` for a few bytes.
    let prefix = bytes
        .iter()
        .take(FINGERPRINT_BYTES)
        .enumerate()
        .fold(0u64, |word, (at, b)| word | u64::from(*b) << (8 * at));
    prefix | u64::from(u8::try_from(bytes.len()).unwrap_or(u8::MAX)) << 56
}

impl<'de> SeenNames<'de> {
    pub(crate) fn new() -> Self {
        SeenNames {
            fingerprints: [0; LINEAR_SCAN_LIMIT],
            few: [const { Cow::Borrowed("") }; LINEAR_SCAN_LIMIT],
            len: 0,
            many: None,
        }
    }

    /// Records `name`; `false` if it was seen before.
    pub(crate) fn insert(&mut self, name: &Text<'de>) -> bool {
        if let Some(many) = &mut self.many {
            return many.insert(name.0.clone());
        }
        let key = fingerprint(&name.0);
        let short = name.0.len() <= FINGERPRINT_BYTES;
        let fingerprints = &self.fingerprints[..self.len];
        let seen_before = if short {
            fingerprints.contains(&key)
        } else {
            fingerprints
                .iter()
                .zip(&self.few[..self.len])
                .any(|(seen_key, seen)| *seen_key == key && *seen == name.0)
        };
        if seen_before {
            return false;
        }
        if self.len < LINEAR_SCAN_LIMIT {
            self.fingerprints[self.len] = key;
            self.few[self.len] = name.0.clone();
            self.len += 1;
        } else {
            let mut many: std::collections::HashSet<_> =
                self.few.iter_mut().map(std::mem::take).collect();
            many.insert(name.0.clone());
            self.many = Some(many);
        }
        true
    }
}

/// Skips any JSON value, but through `deserialize_any` so that serde_json's recursion
/// limit applies (its `IgnoredAny` skips nesting iteratively, without a limit). Strings
/// are borrowed, so skipping allocates nothing.
pub(crate) struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Skip;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_borrowed_str<E>(self, _: &'de str) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_unit<E>(self) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(Skip)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
                while map.next_key::<Skip>()?.is_some() {
                    map.next_value::<Skip>()?;
                }
                Ok(Skip)
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names that share a fingerprint's bytes, or differ only past them, or only in
    /// length, are told apart; each one repeated is found.
    #[test]
    fn seen_names_tell_apart_names_alike_in_their_first_bytes() {
        let long = "x".repeat(300);
        let longer = "x".repeat(301);
        let names = [
            "",
            "\0",
            "\0\0",
            "a",
            "a\0",
            "iss",
            "isa",
            "abcdefg",
            "abcdefx",
            "abcdefa",
            "abcdefgh",
            "abcdefgi",
            "abcdefghij",
            "abcdefgxij",
            &long,
            &longer,
        ];
        let mut seen = SeenNames::new();
        for name in names {
            assert!(seen.insert(&Text(Cow::Borrowed(name))), "{name:?} is new");
        }
        for name in names {
            let again = Text(Cow::Owned(name.to_owned()));
            assert!(!seen.insert(&again), "{name:?} was seen");
        }
    }

    /// Every repeat is found, whichever of the linear scan and the hash set holds the
    /// first sight of the name, on both sides of the switch between them.
    #[test]
    fn seen_names_finds_every_repeat_around_the_linear_scan_limit() {
        let names: Vec<String> = (0..2 * LINEAR_SCAN_LIMIT + 2)
            .map(|i| format!("k{i}"))
            .collect();
        for count in 1..names.len() {
            for repeat in 0..count {
                let mut seen = SeenNames::new();
                for name in &names[..count] {
                    assert!(seen.insert(&Text(Cow::Borrowed(name))), "{name} of {count}");
                }
                let again = Text(Cow::Owned(names[repeat].clone()));
                assert!(
                    !seen.insert(&again),
                    "{} again after {count}",
                    names[repeat]
                );
                // A name not seen yet still goes in.
                assert!(
                    seen.insert(&Text(Cow::Borrowed("new"))),
                    "new after {count}"
                );
            }
        }
    }
}
