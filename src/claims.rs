//! The verified claims of an access token (RFC 7519 section 4, RFC 9068 section 2.2).
//!
//! A [`Claims`] only exists after the signature, issuer, audience and lifetime were
//! checked. It keeps the whole claim set as JSON, reads the registered claims, and reads
//! scopes from `scope` (RFC 8693 section 4.2, space-delimited) or `scp` (string or array,
//! as Azure AD and Okta send it).
//!
//! ```
//! use serde::Deserialize;
//! use tokengate::Claims;
//!
//! let claims = Claims::from_json(serde_json::json!({
//!     "iss": "https://issuer.example", "aud": "api", "exp": 2000000000,
//!     "sub": "alice", "scope": "read admin", "tenant": "acme",
//! })).unwrap();
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

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::{Error, InvalidToken};

/// The verified claims of a token. Cheap to clone.
#[derive(Clone, Debug, PartialEq)]
pub struct Claims {
    inner: Arc<Inner>,
}

#[derive(Debug, PartialEq)]
struct Inner {
    json: Value,
    issuer: String,
    audience: Vec<String>,
    expires_at: i64,
    not_before: Option<i64>,
    scopes: Scopes,
}

impl Claims {
    /// Reads the registered claims out of a claim set, checking their JSON types.
    ///
    /// This checks shapes only (`exp` present and numeric, `iss` a string, and so on);
    /// whether the values are acceptable is the validator's business. Useful in tests.
    pub fn from_json(json: Value) -> Result<Self, Error> {
        let Value::Object(map) = &json else {
            return Err(InvalidToken::Malformed.into());
        };
        let issuer = match map.get("iss") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(InvalidToken::InvalidClaim("iss").into()),
            None => return Err(InvalidToken::MissingClaim("iss").into()),
        };
        let audience = match map.get("aud") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or(InvalidToken::InvalidClaim("aud"))?,
            Some(_) => return Err(InvalidToken::InvalidClaim("aud").into()),
            None => return Err(InvalidToken::MissingClaim("aud").into()),
        };
        let expires_at =
            numeric_date(map, "exp")?.ok_or(Error::from(InvalidToken::MissingClaim("exp")))?;
        let not_before = numeric_date(map, "nbf")?;
        numeric_date(map, "iat")?;
        if map.get("sub").is_some_and(|v| !v.is_string()) {
            return Err(InvalidToken::InvalidClaim("sub").into());
        }
        let scopes = Scopes::from_claims(map)?;
        Ok(Claims {
            inner: Arc::new(Inner {
                json,
                issuer,
                audience,
                expires_at,
                not_before,
                scopes,
            }),
        })
    }

    /// `sub`: whom the token is about (a user, or the client itself).
    pub fn subject(&self) -> Option<&str> {
        self.get("sub").and_then(Value::as_str)
    }

    /// `iss`: who issued the token (already checked against the configured issuer).
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// `aud`: the audiences, one or several (already checked to contain ours).
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
        self.get("client_id").and_then(Value::as_str)
    }

    /// The granted scopes.
    pub fn scopes(&self) -> &Scopes {
        &self.inner.scopes
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
        self.inner.json.get(name)
    }

    /// The whole claim set, as the token carried it.
    pub fn as_json(&self) -> &Map<String, Value> {
        match &self.inner.json {
            Value::Object(map) => map,
            // `from_json` only ever stores an object.
            _ => unreachable!("claims are always a JSON object"),
        }
    }

    /// Deserializes the claim set into the caller's own type.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.inner.json)
    }
}

/// Reads a NumericDate (RFC 7519 section 2): a JSON number of seconds, possibly
/// fractional. Huge values saturate instead of overflowing.
fn numeric_date(map: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, Error> {
    match map.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Some(i)),
            // `as` saturates: 1e300 becomes i64::MAX, not a wrap-around.
            (None, Some(f)) if f.is_finite() => Ok(Some(f.floor() as i64)),
            _ => Err(InvalidToken::InvalidClaim(name).into()),
        },
        Some(_) => Err(InvalidToken::InvalidClaim(name).into()),
    }
}

impl Serialize for Claims {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.inner.json.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Claims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = Value::deserialize(deserializer)?;
        Claims::from_json(json).map_err(serde::de::Error::custom)
    }
}

/// The scopes a token grants: exact, case-sensitive tokens (RFC 6749 section 3.3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// Reads `scope` (space-delimited string, or an array of strings) or, when absent,
    /// `scp` (the same shapes).
    fn from_claims(map: &Map<String, Value>) -> Result<Self, Error> {
        let (name, value) = match (map.get("scope"), map.get("scp")) {
            (Some(v), _) => ("scope", v),
            (None, Some(v)) => ("scp", v),
            (None, None) => return Ok(Scopes::default()),
        };
        let scopes = match value {
            Value::String(s) => s
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or(InvalidToken::InvalidClaim(name))?,
            _ => return Err(InvalidToken::InvalidClaim(name).into()),
        };
        Ok(Scopes(scopes))
    }

    /// Whether `scope` is granted, compared exactly: `admin` is not `ADMIN`,
    /// `administrator` or `read,admin`.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s == scope)
    }

    /// The scopes, in the token's order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// How many scopes were granted.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no scope was granted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
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
        for name in ["iss", "aud", "exp"] {
            assert_eq!(
                without(name),
                Err(InvalidToken::MissingClaim(match name {
                    "iss" => "iss",
                    "aud" => "aud",
                    _ => "exp",
                })
                .into())
            );
        }
        assert!(with("exp", json!("10")).is_err());
        assert!(with("nbf", json!(true)).is_err());
        assert!(with("iss", json!(["i"])).is_err());
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
    fn require_scope_names_the_missing_scope() {
        let claims = with("scope", json!("read")).unwrap();
        assert_eq!(claims.require_scope("read"), Ok(()));
        assert_eq!(
            claims.require_scope("admin"),
            Err(Error::insufficient_scope("admin"))
        );
    }
}
