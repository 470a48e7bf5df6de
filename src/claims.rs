//! The verified claims of an access token (RFC 7519 section 4, RFC 9068 section 2.2).
//!
//! A [`Claims`] only exists after the signature, issuer, audience and lifetime were
//! checked. It keeps the payload as sent, reads the registered claims in one pass, and
//! reads scopes from `scope` (RFC 8693 section 4.2, space-delimited) or `scp` (string or
//! array, as Azure AD and Okta send it). The rest of the claim set is parsed only when a
//! handler asks for it ([`Claims::get`], [`Claims::as_json`], [`Claims::deserialize`]).
//!
//! Verified claims come only from [`Validator::validate`](crate::Validator::validate)
//! (or an adapter's extractor): `Claims` has no public constructor and does not
//! implement `Deserialize`, so claims read from a request body cannot pass for verified
//! ones.
//!
//! ```
//! use serde::Deserialize;
//! use tokengate::{Claims, Validator};
//! # let key = tokengate::testing::TestKey::generate("k1", tokengate::Algorithm::ES256);
//! # let token = key.mint(&serde_json::json!({
//! #     "iss": "https://issuer.example", "aud": "api", "exp": 4000000000u64,
//! #     "sub": "alice", "scope": "read admin", "tenant": "acme",
//! # }));
//! let validator = Validator::builder()
//!     .issuer("https://issuer.example")
//!     .audience("api")
//!     .jwks(serde_json::json!({"keys": [key.public_jwk()]}))
//!     .build()
//!     .unwrap();
//! let claims: Claims = validator.try_validate(&token).unwrap().unwrap();
//! assert_eq!(claims.subject(), Some("alice"));
//! assert!(claims.scopes().contains("admin"));
//! assert!(!claims.scopes().contains("adm"));
//! assert!(claims.require_scope("write").is_err());
//!
//! #[derive(Deserialize)]
//! struct Mine { tenant: String }
//! let mine: Mine = claims.deserialize().unwrap();
//! assert_eq!(mine.tenant, "acme");
//! ```
//!
//! Deserializing `Claims` from anything does not compile: a handler taking
//! `Json<tokengate::Claims>` would otherwise trust whatever the client sent.
//!
//! ```compile_fail
//! let forged: tokengate::Claims = serde_json::from_str(r#"{"iss":"x","aud":"a","exp":1}"#).unwrap();
//! ```
//!
//! Your own claim types deserialize from the verified payload, as above, or in an
//! adapter's `Claims<MyType>`.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::{Error, InvalidToken};
use crate::json::{NumericDate, OneOrMany, SeenNames, Skip, Text};

/// The verified claims of a token. Cheap to clone.
#[derive(Clone)]
pub struct Claims {
    inner: Arc<Inner>,
}

/// Aligned to a cache line, so the `Arc`'s counts, written by every clone (one per
/// request that a remembered token answers), share no line with the claims that the
/// handlers on other cores read at the same time.
#[repr(align(64))]
struct Inner {
    /// The payload JSON exactly as signed (a strict object, UTF-8): what `Serialize`
    /// writes for serde_json.
    raw: Box<RawValue>,
    issuer: String,
    subject: Option<String>,
    client_id: Option<String>,
    audience: Vec<String>,
    expires_at: i64,
    not_before: Option<i64>,
    scopes: Scopes,
    /// A `cnf` (confirmation, RFC 7800) member is present.
    confirmation: bool,
    /// The whole claim set, parsed on first request.
    json: OnceLock<Map<String, Value>>,
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field("iss", &self.inner.issuer)
            .field("sub", &self.inner.subject)
            .field("aud", &self.inner.audience)
            .field("exp", &self.inner.expires_at)
            .field("scopes", &self.inner.scopes)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Claims {
    fn eq(&self, other: &Self) -> bool {
        self.inner.raw.get() == other.inner.raw.get()
    }
}

impl Claims {
    /// Reads the registered claims of a claim set, checking their JSON types, WITHOUT
    /// verifying anything: for this crate's unit tests only. Never public: verified
    /// claims must be impossible to build from request data outside the validator.
    #[cfg(test)]
    pub(crate) fn from_json(json: Value) -> Result<Self, Error> {
        if !json.is_object() {
            return Err(InvalidToken::Malformed.into());
        }
        Self::from_payload(json.to_string().into_bytes()).map_err(Error::from)
    }

    /// Parses a decoded JWT payload: one pass over the top-level members, refusing
    /// duplicate names, reading the registered claims and skipping the rest unparsed.
    ///
    /// The payload must be UTF-8 throughout, unregistered claims too (RFC 7519 section 7.2
    /// step 10: the claims are a UTF-8 JSON object; RFC 8259 section 8.1).
    pub(crate) fn from_payload(raw: Vec<u8>) -> Result<Self, InvalidToken> {
        // UTF-8 checked once, over the whole payload (serde_json would otherwise check
        // each string it reads, and skip the unread ones unchecked): the parse then reads
        // a `str`, borrowing its strings without checking them again.
        let text = String::from_utf8(raw).map_err(|_| InvalidToken::Malformed)?;
        let registered = {
            let mut deserializer = serde_json::Deserializer::from_str(&text);
            let registered =
                Registered::deserialize(&mut deserializer).map_err(|e| classify(&e.to_string()))?;
            deserializer.end().map_err(|_| InvalidToken::Malformed)?;
            registered.into_owned()?
        };
        // One JSON value, as RawValue requires: the object just read.
        let raw = RawValue::from_string(text).map_err(|_| InvalidToken::Malformed)?;
        Ok(Claims {
            inner: Arc::new(Inner {
                raw,
                issuer: registered.issuer,
                subject: registered.subject,
                client_id: registered.client_id,
                audience: registered.audience,
                expires_at: registered.expires_at,
                not_before: registered.not_before,
                scopes: registered.scopes,
                confirmation: registered.confirmation,
                json: OnceLock::new(),
            }),
        })
    }

    /// `sub`: whom the token is about (a user, or the client itself).
    pub fn subject(&self) -> Option<&str> {
        self.inner.subject.as_deref()
    }

    /// `iss`: who issued the token (already checked against the configured issuer).
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// `aud`: the audiences, one or several (already checked to contain ours); none for
    /// an AWS Cognito access token, checked by its `client_id` instead
    /// ([`cognito_client_ids`](crate::ValidatorBuilder::cognito_client_ids)).
    pub fn audience(&self) -> &[String] {
        &self.inner.audience
    }

    /// `exp`, in seconds since the Unix epoch.
    pub fn expires_at(&self) -> i64 {
        self.inner.expires_at
    }

    /// `nbf`, in seconds since the Unix epoch, if the token has one.
    pub fn not_before(&self) -> Option<i64> {
        self.inner.not_before
    }

    /// `client_id` (RFC 9068 section 2.2), if present.
    pub fn client_id(&self) -> Option<&str> {
        self.inner.client_id.as_deref()
    }

    /// The granted scopes.
    pub fn scopes(&self) -> &Scopes {
        &self.inner.scopes
    }

    /// Whether the token is sender-constrained: it carries a `cnf` (confirmation) claim
    /// (RFC 7800 section 3.1), binding it to a DPoP key (`jkt`, RFC 9449 section 6) or a
    /// client certificate (`x5t#S256`, RFC 8705 section 3.1). The validator refuses such
    /// tokens unless
    /// [`allow_sender_constrained_tokens`](crate::ValidatorBuilder::allow_sender_constrained_tokens)
    /// says the binding is checked elsewhere.
    pub fn is_sender_constrained(&self) -> bool {
        self.inner.confirmation
    }

    /// `Ok` if the token grants `scope`, else the 403 `insufficient_scope` error naming it.
    pub fn require_scope(&self, scope: &str) -> Result<(), Error> {
        if self.scopes().contains(scope) {
            Ok(())
        } else {
            Err(Error::insufficient_scope(scope))
        }
    }

    /// Any claim, by name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.as_json().get(name)
    }

    /// The whole claim set, as the token carried it.
    pub fn as_json(&self) -> &Map<String, Value> {
        self.inner.json.get_or_init(|| {
            // The payload was parsed once already as a strict object: this cannot fail.
            serde_json::from_str(self.inner.raw.get()).unwrap_or_default()
        })
    }

    /// The payload JSON exactly as signed.
    pub fn as_bytes(&self) -> &[u8] {
        self.inner.raw.get().as_bytes()
    }

    #[cfg(test)]
    pub(crate) fn inner_for_tests(&self) -> Arc<impl Sized> {
        Arc::clone(&self.inner)
    }

    /// Deserializes the claim set into the caller's own type, straight from the payload.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.inner.raw.get())
    }
}

/// What the verified claims can be turned into in a handler: [`Claims`] itself, or any
/// type that deserializes (`T: DeserializeOwned`), read from the signed payload.
///
/// `Claims` does not implement `Deserialize` (so request data can never become verified
/// claims); this trait is how the adapters' `Claims<T>` extractors accept both.
pub trait FromClaims: Sized + 'static {
    /// `T` from the verified claims; a payload that does not fit is `invalid_token`.
    fn from_claims(claims: &Claims) -> Result<Self, Error>;
}

impl FromClaims for Claims {
    /// A clone of the shared claims: no JSON work at all (this runs on every request
    /// that takes the default `Claims`).
    fn from_claims(claims: &Claims) -> Result<Self, Error> {
        Ok(claims.clone())
    }
}

impl<T: DeserializeOwned + 'static> FromClaims for T {
    fn from_claims(claims: &Claims) -> Result<Self, Error> {
        claims
            .deserialize::<T>()
            .map_err(|_| InvalidToken::InvalidClaim("claims").into())
    }
}

/// The verified claims as the handler's type `T`: for `T = Claims` itself, a clone of the
/// shared claims (no JSON work at all); for any other type, deserialized from the signed
/// payload. A payload that does not fit `T` is `invalid_token` (the token is genuine, but
/// not one this handler can serve). The one function both adapters' extractors call.
pub fn typed<T: FromClaims>(claims: &Claims) -> Result<T, Error> {
    T::from_claims(claims)
}

/// Maps a serde error from [`Registered`] to the reason, by the marker we put in it.
fn classify(message: &str) -> InvalidToken {
    for name in [
        "iss",
        "aud",
        "exp",
        "nbf",
        "iat",
        "sub",
        "client_id",
        "scope",
        "scp",
    ] {
        if message.starts_with(&format!("claim {name} ")) {
            return InvalidToken::InvalidClaim(static_name(name));
        }
    }
    InvalidToken::Malformed
}

fn static_name(name: &str) -> &'static str {
    match name {
        "iss" => "iss",
        "aud" => "aud",
        "exp" => "exp",
        "nbf" => "nbf",
        "iat" => "iat",
        "sub" => "sub",
        "client_id" => "client_id",
        "scope" => "scope",
        _ => "scp",
    }
}

/// The claim set as a JSON object.
///
/// To serde_json's compact writer (what `axum::Json`, actix-web's `web::Json` and
/// `serde_json::to_string`/`to_vec`/`to_writer` use) the claims go out as the payload's own
/// bytes, exactly as signed: a handler answering `Json(claims)` pays a copy, not a parse
/// and a re-encoding of every claim (this is most of what a protected route that returns
/// its claims costs beyond the token check). Every other serializer (serde_json's pretty
/// printer and `to_value` too) gets the parsed claim set, [`Claims::as_json`]. Both are
/// the same JSON object, member for member.
impl Serialize for Claims {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if writes_compact_json::<S>() {
            self.inner.raw.serialize(serializer)
        } else {
            self.as_json().serialize(serializer)
        }
    }
}

/// Whether `S` is serde_json's compact text serializer, which writes a [`RawValue`]
/// verbatim. Any other serializer would see a `RawValue` as a struct with a private
/// name, so only this one gets it; a serializer this does not recognise (the type's name
/// is the only way to tell, and a compiler may print it otherwise) gets the parsed claim
/// set, which is slower and just as correct.
fn writes_compact_json<S>() -> bool {
    let name = std::any::type_name::<S>();
    let name = name.strip_prefix("&mut ").unwrap_or(name);
    let Some(arguments) = name
        .strip_prefix("serde_json::ser::Serializer<")
        .and_then(|rest| rest.strip_suffix('>'))
    else {
        return false;
    };
    // `Serializer<W, F = CompactFormatter>`: the names leave a default argument out, so
    // the formatter is compact unless a second argument at the top level names another.
    if !arguments.contains(',') {
        return true;
    }
    let mut depth = 0usize;
    for (at, c) in arguments.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                return arguments[at + 1..].trim() == "serde_json::ser::CompactFormatter";
            }
            _ => {}
        }
    }
    true
}

/// The registered claims, borrowed from the payload where possible.
struct Registered<'de> {
    issuer: Option<Text<'de>>,
    subject: Option<Text<'de>>,
    client_id: Option<Text<'de>>,
    audience: Option<OneOrMany<'de>>,
    expires_at: Option<i64>,
    not_before: Option<i64>,
    scope: Option<OneOrMany<'de>>,
    scp: Option<OneOrMany<'de>>,
    confirmation: bool,
}

/// Reads a claim's value, tagging a type error with the claim's name.
fn claim<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    name: &str,
) -> Result<T, A::Error> {
    map.next_value::<T>()
        .map_err(|_| serde::de::Error::custom(format!("claim {name} has the wrong type")))
}

impl<'de> Deserialize<'de> for Registered<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Registered<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object with unique member names")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Registered<'de>, A::Error> {
                let mut seen = SeenNames::new();
                let mut r = Registered {
                    issuer: None,
                    subject: None,
                    client_id: None,
                    audience: None,
                    expires_at: None,
                    not_before: None,
                    scope: None,
                    scp: None,
                    confirmation: false,
                };
                while let Some(name) = map.next_key::<Text<'de>>()? {
                    // RFC 8725 section 3.8: parsers that disagree on duplicates are an attack.
                    if !seen.insert(&name) {
                        return Err(serde::de::Error::custom("duplicate member name"));
                    }
                    match &*name.0 {
                        "iss" => r.issuer = Some(claim(&mut map, "iss")?),
                        "sub" => r.subject = Some(claim(&mut map, "sub")?),
                        "client_id" => r.client_id = Some(claim(&mut map, "client_id")?),
                        "aud" => r.audience = Some(claim(&mut map, "aud")?),
                        "exp" => r.expires_at = Some(claim::<A, NumericDate>(&mut map, "exp")?.0),
                        "nbf" => r.not_before = Some(claim::<A, NumericDate>(&mut map, "nbf")?.0),
                        "iat" => {
                            claim::<A, NumericDate>(&mut map, "iat")?;
                        }
                        "scope" => r.scope = Some(claim(&mut map, "scope")?),
                        "scp" => r.scp = Some(claim(&mut map, "scp")?),
                        "cnf" => {
                            r.confirmation = true;
                            map.next_value::<Skip>()?;
                        }
                        _ => {
                            map.next_value::<Skip>()?;
                        }
                    }
                }
                Ok(r)
            }
        }
        deserializer.deserialize_map(V)
    }
}

impl Registered<'_> {
    fn into_owned(self) -> Result<Owned, InvalidToken> {
        let issuer = self
            .issuer
            .ok_or(InvalidToken::MissingClaim("iss"))?
            .0
            .into_owned();
        // No `aud` reads as none: the validator's audience check refuses it (an AWS
        // Cognito access token has none and is checked by its `client_id` instead).
        let audience = match self.audience {
            None => Vec::new(),
            Some(OneOrMany::One(aud)) => vec![aud.0.into_owned()],
            Some(OneOrMany::Many(auds)) => auds.into_iter().map(|a| a.0.into_owned()).collect(),
        };
        let expires_at = self.expires_at.ok_or(InvalidToken::MissingClaim("exp"))?;
        // `scope` wins over `scp` when a token carries both.
        let scopes = match (self.scope, self.scp) {
            (Some(scope), _) => Scopes::from_claim(scope, "scope")?,
            (None, Some(scp)) => Scopes::from_claim(scp, "scp")?,
            (None, None) => Scopes::default(),
        };
        Ok(Owned {
            issuer,
            subject: self.subject.map(|s| s.0.into_owned()),
            client_id: self.client_id.map(|s| s.0.into_owned()),
            audience,
            expires_at,
            not_before: self.not_before,
            scopes,
            confirmation: self.confirmation,
        })
    }
}

struct Owned {
    issuer: String,
    subject: Option<String>,
    client_id: Option<String>,
    audience: Vec<String>,
    expires_at: i64,
    not_before: Option<i64>,
    scopes: Scopes,
    confirmation: bool,
}

/// The scopes a token grants: exact, case-sensitive tokens (RFC 6749 section 3.3), kept
/// as one space-delimited string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scopes(String);

impl Scopes {
    fn from_claim(value: OneOrMany<'_>, name: &'static str) -> Result<Self, InvalidToken> {
        match value {
            OneOrMany::One(text) => Ok(Scopes(text.0.into_owned())),
            OneOrMany::Many(items) => {
                // RFC 6749 section 3.3: a scope token never contains a space; one that did
                // would split into tokens the issuer never granted.
                if items.iter().any(|i| i.0.is_empty() || i.0.contains(' ')) {
                    return Err(InvalidToken::InvalidClaim(name));
                }
                let joined: Vec<&str> = items.iter().map(|i| &*i.0).collect();
                Ok(Scopes(joined.join(" ")))
            }
        }
    }

    /// Whether `scope` is granted, compared exactly: `admin` is not `ADMIN`,
    /// `administrator` or `read,admin`.
    pub fn contains(&self, scope: &str) -> bool {
        self.iter().any(|s| s == scope)
    }

    /// The scopes, in the token's order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.split(' ').filter(|s| !s.is_empty())
    }

    /// How many scopes were granted.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether no scope was granted.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Map<String, Value> {
        json!({"iss": "i", "aud": "a", "exp": 10})
            .as_object()
            .unwrap()
            .clone()
    }

    fn with(name: &str, value: Value) -> Result<Claims, Error> {
        let mut map = base();
        map.insert(name.into(), value);
        Claims::from_json(Value::Object(map))
    }

    fn without(name: &str) -> Result<Claims, Error> {
        let mut map = base();
        map.remove(name);
        Claims::from_json(Value::Object(map))
    }

    #[test]
    fn registered_claims_are_required_with_their_types() {
        assert_eq!(
            without("iss"),
            Err(InvalidToken::MissingClaim("iss").into())
        );
        // `aud` may be absent (read as none; the audience check refuses it).
        assert!(without("aud").unwrap().audience().is_empty());
        assert_eq!(
            without("exp"),
            Err(InvalidToken::MissingClaim("exp").into())
        );
        assert_eq!(
            with("exp", json!("10")),
            Err(InvalidToken::InvalidClaim("exp").into())
        );
        assert_eq!(
            with("nbf", json!(true)),
            Err(InvalidToken::InvalidClaim("nbf").into())
        );
        assert_eq!(
            with("iat", json!([1])),
            Err(InvalidToken::InvalidClaim("iat").into())
        );
        assert_eq!(
            with("iss", json!(["i"])),
            Err(InvalidToken::InvalidClaim("iss").into())
        );
        assert!(with("aud", json!(["a", 1])).is_err());
        assert!(with("aud", json!({"a": 1})).is_err());
        assert!(with("sub", json!(7)).is_err());
        assert!(Claims::from_json(json!([1])).is_err());
    }

    #[test]
    fn numeric_dates_accept_fractions_and_saturate() {
        assert_eq!(with("exp", json!(10.9)).unwrap().expires_at(), 10);
        assert_eq!(with("exp", json!(1e300)).unwrap().expires_at(), i64::MAX);
        assert_eq!(with("exp", json!(-1e300)).unwrap().expires_at(), i64::MIN);
        assert_eq!(with("exp", json!(u64::MAX)).unwrap().expires_at(), i64::MAX);
    }

    #[test]
    fn audience_may_be_a_string_or_an_array() {
        assert_eq!(with("aud", json!("x")).unwrap().audience(), ["x"]);
        assert_eq!(
            with("aud", json!(["x", "y"])).unwrap().audience(),
            ["x", "y"]
        );
    }

    #[test]
    fn duplicate_members_are_refused_even_beyond_the_linear_scan() {
        let raw = br#"{"iss":"i","aud":"a","exp":10,"iss":"j"}"#.to_vec();
        assert_eq!(
            Claims::from_payload(raw).unwrap_err(),
            InvalidToken::Malformed
        );
        let mut many: String = (0..100).map(|i| format!("\"k{i}\":0,")).collect();
        many.push_str(r#""k7":1,"iss":"i","aud":"a","exp":10"#);
        let raw = format!("{{{many}}}").into_bytes();
        assert_eq!(
            Claims::from_payload(raw).unwrap_err(),
            InvalidToken::Malformed
        );
        let escaped = br#"{"iss":"i","aud":"a","exp":10,"\u0069ss":"j"}"#.to_vec();
        assert_eq!(
            Claims::from_payload(escaped).unwrap_err(),
            InvalidToken::Malformed
        );
    }

    #[test]
    fn the_rest_of_the_claims_is_available_as_signed() {
        let claims = with("tenant", json!({"id": 7})).unwrap();
        assert_eq!(claims.get("tenant"), Some(&json!({"id": 7})));
        assert_eq!(claims.as_json().len(), 4);
        #[derive(Deserialize)]
        struct T {
            tenant: Value,
        }
        assert_eq!(claims.deserialize::<T>().unwrap().tenant["id"], 7);
        assert_eq!(serde_json::to_value(&claims).unwrap()["tenant"]["id"], 7);
    }

    #[test]
    fn scope_lookalikes_never_match() {
        let claims = with("scope", json!("administrator ADMIN read,admin  admin:read")).unwrap();
        assert!(!claims.scopes().contains("admin"));
        assert!(claims.scopes().contains("ADMIN"));
        assert_eq!(claims.scopes().len(), 4);
    }

    #[test]
    fn scp_is_read_as_string_or_array() {
        assert!(
            with("scp", json!(["a", "admin"]))
                .unwrap()
                .scopes()
                .contains("admin")
        );
        assert!(
            with("scp", json!("a admin"))
                .unwrap()
                .scopes()
                .contains("admin")
        );
        assert!(with("scp", json!([1])).is_err());
        assert!(with("scope", json!(1)).is_err());
    }

    #[test]
    fn array_scopes_with_spaces_never_split_into_grants() {
        assert!(with("scp", json!(["read admin"])).is_err());
        assert!(with("scope", json!(["read", ""])).is_err());
    }

    #[test]
    fn require_scope_names_the_missing_scope() {
        let claims = with("scope", json!("read")).unwrap();
        assert_eq!(claims.require_scope("read"), Ok(()));
        assert_eq!(
            claims.require_scope("admin"),
            Err(Error::insufficient_scope("admin"))
        );
    }

    #[test]
    fn compact_json_writes_the_signed_bytes_and_every_other_serializer_the_claim_set() {
        // Spacing and member order that a re-encoding would not keep: the compact writer
        // must hand back these bytes, not a copy rebuilt from the parsed claims.
        let signed = r#"{"iss":"i", "exp":10,  "aud":"a","z":{"b":[1,2.5,"\u00e9"]},"a":null}"#;
        let claims = Claims::from_payload(signed.as_bytes().to_vec()).unwrap();
        assert_eq!(serde_json::to_string(&claims).unwrap(), signed);
        assert_eq!(serde_json::to_vec(&claims).unwrap(), signed.as_bytes());
        // Inside a larger document too (what a handler's own response struct does).
        let wrapped = serde_json::to_string(&json!({"claims": claims.as_json()})).unwrap();
        let mine = serde_json::to_string(&std::collections::BTreeMap::from([("claims", &claims)]));
        assert_eq!(
            serde_json::from_str::<Value>(&mine.unwrap()).unwrap(),
            serde_json::from_str::<Value>(&wrapped).unwrap()
        );
        // The others get the parsed claim set: the same object, member for member.
        let parsed = Value::Object(claims.as_json().clone());
        assert_eq!(serde_json::to_value(&claims).unwrap(), parsed);
        assert_eq!(
            serde_json::to_string_pretty(&claims).unwrap(),
            serde_json::to_string_pretty(&parsed).unwrap()
        );
        assert_eq!(serde_json::from_str::<Value>(signed).unwrap(), parsed);
    }

    #[test]
    fn only_serde_jsons_compact_writer_is_handed_raw_json() {
        use serde_json::ser::{CompactFormatter, PrettyFormatter};
        assert!(writes_compact_json::<&mut serde_json::Serializer<Vec<u8>>>());
        assert!(writes_compact_json::<
            &mut serde_json::Serializer<&mut Vec<u8>, CompactFormatter>,
        >());
        assert!(!writes_compact_json::<
            &mut serde_json::Serializer<Vec<u8>, PrettyFormatter<'static>>,
        >());
        assert!(!writes_compact_json::<serde_json::value::Serializer>());
        assert!(!writes_compact_json::<&mut Vec<u8>>());
        // A writer whose own type has several arguments is still the compact writer.
        struct Two<A, B>(std::marker::PhantomData<(A, B)>);
        impl<A, B> std::io::Write for Two<A, B> {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        assert!(writes_compact_json::<
            &mut serde_json::Serializer<Two<u8, (u8, u8)>>,
        >());
        assert!(!writes_compact_json::<
            &mut serde_json::Serializer<Two<u8, u8>, PrettyFormatter<'static>>,
        >());
    }

    #[test]
    fn a_payload_that_is_not_utf8_is_malformed_even_in_an_unread_claim() {
        let mut payload = br#"{"iss":"i","aud":"a","exp":10,"note":"x"}"#.to_vec();
        let x = payload.iter().position(|b| *b == b'x').unwrap();
        payload[x] = 0xff;
        assert_eq!(
            Claims::from_payload(payload).unwrap_err(),
            InvalidToken::Malformed
        );
    }
}
