//! [`ClaimPath`]: where a value sits in a claim set, one member name per level.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::claims::Claims;

/// A member of the claim set, or of an object nested in it: one name per level, never
/// split on dots or slashes, since real claim names carry both (Auth0's namespaced
/// `https://example.com/roles`, Keycloak's `resource_access` → client id → `roles`).
///
/// ```
/// use tokengate::require::ClaimPath;
///
/// let top = ClaimPath::from("https://example.com/roles"); // one name, as written
/// let nested = ClaimPath::new(["resource_access", "orders-api", "roles"]);
/// assert_eq!(top.to_string(), "https://example.com/roles");
/// assert_eq!(nested.to_string(), "resource_access/orders-api/roles");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ClaimPath {
    names: Arc<[Box<str>]>,
}

impl ClaimPath {
    /// The value at `names[0]`, then `names[1]` inside it, and so on.
    pub fn new<I, N>(names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: AsRef<str>,
    {
        ClaimPath {
            names: names.into_iter().map(|n| n.as_ref().into()).collect(),
        }
    }

    /// The value this path names in `claims`, if every level is there and an object.
    pub fn lookup<'c>(&self, claims: &'c Claims) -> Option<&'c Value> {
        let (first, rest) = self.names.split_first()?;
        let mut value = claims.get(first)?;
        for name in rest {
            value = value.as_object()?.get(&**name)?;
        }
        Some(value)
    }
}

impl From<&str> for ClaimPath {
    /// A top-level claim, named exactly (no splitting).
    fn from(name: &str) -> Self {
        ClaimPath::new([name])
    }
}

impl From<String> for ClaimPath {
    fn from(name: String) -> Self {
        ClaimPath::new([name])
    }
}

/// For logs: the names joined by `/` (a configuration value, never a claim's).
impl fmt::Display for ClaimPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.names.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

impl fmt::Debug for ClaimPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClaimPath({self})")
    }
}
