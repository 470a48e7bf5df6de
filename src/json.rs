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

/// Top-level member names seen so far: a linear scan while few (the common case, no
/// hashing), a hash set past that, so that a payload of thousands of members cannot make
/// duplicate detection quadratic.
pub(crate) struct SeenNames<'de> {
    few: Vec<Text<'de>>,
    many: Option<std::collections::HashSet<Cow<'de, str>>>,
}

const LINEAR_SCAN_LIMIT: usize = 24;

impl<'de> SeenNames<'de> {
    pub(crate) fn new() -> Self {
        SeenNames {
            few: Vec::with_capacity(LINEAR_SCAN_LIMIT),
            many: None,
        }
    }

    /// Records `name`; `false` if it was seen before.
    pub(crate) fn insert(&mut self, name: &Text<'de>) -> bool {
        if let Some(many) = &mut self.many {
            return many.insert(name.0.clone());
        }
        if self.few.contains(name) {
            return false;
        }
        self.few.push(Text(name.0.clone()));
        if self.few.len() > LINEAR_SCAN_LIMIT {
            self.many = Some(self.few.drain(..).map(|t| t.0).collect());
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
