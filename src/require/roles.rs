//! [`RoleSource`]: where an issuer puts a token's roles, groups or permissions.

use std::fmt;

use serde_json::Value;

use super::path::ClaimPath;
use crate::claims::Claims;

/// Where a token's roles (or groups, or permissions) live, and in which JSON shape; for
/// [`Requirement::role`](super::Requirement::role), or for scopes kept outside
/// [`Claims::scopes`] ([`Requirement::scope_in`](super::Requirement::scope_in)).
///
/// The ready-made sources read the claim each issuer documents, in the shape it
/// documents (an array of strings); [`claim`](Self::claim) and
/// [`space_delimited`](Self::space_delimited) read any other. A value of another shape
/// than the source's (a string where an array is expected, an array holding a number or
/// an object) grants nothing at all: a requirement on it fails closed.
///
/// | issuer | roles / groups | source |
/// |--------|----------------|--------|
/// | Keycloak | `realm_access.roles` | [`keycloak_realm`](Self::keycloak_realm) |
/// | Keycloak | `resource_access.<client>.roles` | [`keycloak_client`](Self::keycloak_client) |
/// | Microsoft Entra ID | `roles` (app roles), `groups` (object ids) | [`entra_roles`](Self::entra_roles), [`entra_groups`](Self::entra_groups) |
/// | Auth0 | `permissions` (RBAC), a namespaced custom claim | [`auth0_permissions`](Self::auth0_permissions), [`namespaced`](Self::namespaced) |
/// | Okta | `groups` | [`okta_groups`](Self::okta_groups) |
/// | AWS Cognito | `cognito:groups` | [`cognito_groups`](Self::cognito_groups) |
///
/// ```
/// use tokengate::require::{Requirement, RoleSource};
///
/// let admin = Requirement::role(RoleSource::keycloak_client("orders-api"), "admin");
/// let staff = Requirement::any_role(RoleSource::entra_roles(), ["Orders.Admin", "Orders.Support"]);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RoleSource {
    path: ClaimPath,
    shape: Shape,
}

/// The JSON shape a source accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// An array of strings.
    Array,
    /// An array of strings, or one string that is one role.
    StringOrArray,
    /// One string of space-separated values (like RFC 8693 `scope`), or an array.
    SpaceDelimited,
}

impl RoleSource {
    /// Keycloak realm roles: `realm_access.roles`, an array.
    pub fn keycloak_realm() -> Self {
        Self::array(ClaimPath::new(["realm_access", "roles"]))
    }

    /// Keycloak client roles of `client_id`: `resource_access.<client_id>.roles`, an
    /// array. A role of another client in the same token grants nothing here.
    pub fn keycloak_client(client_id: &str) -> Self {
        Self::array(ClaimPath::new(["resource_access", client_id, "roles"]))
    }

    /// Microsoft Entra ID app roles: `roles`, an array.
    pub fn entra_roles() -> Self {
        Self::array("roles".into())
    }

    /// Microsoft Entra ID security groups: `groups`, an array of object ids. (A user in
    /// too many groups gets an overage claim instead, `_claim_names`: no groups here.)
    pub fn entra_groups() -> Self {
        Self::array("groups".into())
    }

    /// Auth0 RBAC permissions: `permissions`, an array (with "Add Permissions in the
    /// Access Token" on).
    pub fn auth0_permissions() -> Self {
        Self::array("permissions".into())
    }

    /// A namespaced custom claim, as Auth0 actions add them (`https://example.com/roles`):
    /// the whole name is one claim, an array or one string.
    pub fn namespaced(claim: &str) -> Self {
        Self::claim(claim)
    }

    /// Okta groups: `groups`, an array (with a groups claim on the authorization server).
    pub fn okta_groups() -> Self {
        Self::array("groups".into())
    }

    /// AWS Cognito user pool groups: `cognito:groups`, an array.
    pub fn cognito_groups() -> Self {
        Self::array("cognito:groups".into())
    }

    /// Any claim (a name, or a [`ClaimPath`] into nested objects): an array of strings or
    /// one string, which is one value (never split).
    pub fn claim(path: impl Into<ClaimPath>) -> Self {
        RoleSource {
            path: path.into(),
            shape: Shape::StringOrArray,
        }
    }

    /// Any claim holding one space-separated string (like RFC 8693 `scope`), or an array
    /// of strings without spaces.
    pub fn space_delimited(path: impl Into<ClaimPath>) -> Self {
        RoleSource {
            path: path.into(),
            shape: Shape::SpaceDelimited,
        }
    }

    fn array(path: ClaimPath) -> Self {
        RoleSource {
            path,
            shape: Shape::Array,
        }
    }

    /// Where the values are read from.
    pub fn path(&self) -> &ClaimPath {
        &self.path
    }

    /// Whether `claims` hold `role` here, compared exactly (case-sensitive). An empty
    /// `role` is never held.
    pub fn holds(&self, claims: &Claims, role: &str) -> bool {
        if role.is_empty() {
            return false;
        }
        let Some(value) = self.path.lookup(claims) else {
            return false;
        };
        match (value, self.shape) {
            (Value::Array(items), _) => {
                // Every element must be a string of the shape; one that is not spoils the
                // whole claim (fail closed: the issuer did not send what we expect).
                let mut found = false;
                for item in items {
                    let Some(text) = item.as_str() else {
                        return false;
                    };
                    if self.shape == Shape::SpaceDelimited && text.contains(' ') {
                        return false;
                    }
                    found |= text == role;
                }
                found
            }
            (Value::String(text), Shape::StringOrArray) => text == role,
            (Value::String(text), Shape::SpaceDelimited) => text.split(' ').any(|v| v == role),
            _ => false,
        }
    }
}

impl fmt::Debug for RoleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RoleSource({}, {:?})", self.path, self.shape)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn claims(extra: Value) -> Claims {
        let mut map = json!({"iss": "i", "aud": "a", "exp": 10});
        for (k, v) in extra.as_object().unwrap() {
            map[k] = v.clone();
        }
        Claims::from_json(map).unwrap()
    }

    #[test]
    fn keycloak_client_roles_belong_to_their_client() {
        let c = claims(json!({
            "realm_access": {"roles": ["offline_access", "user"]},
            "resource_access": {"billing": {"roles": ["admin"]}, "orders": {"roles": ["viewer"]}},
        }));
        assert!(RoleSource::keycloak_realm().holds(&c, "user"));
        assert!(!RoleSource::keycloak_realm().holds(&c, "admin"));
        assert!(RoleSource::keycloak_client("billing").holds(&c, "admin"));
        assert!(!RoleSource::keycloak_client("orders").holds(&c, "admin"));
        assert!(!RoleSource::keycloak_client("").holds(&c, "admin"));
    }

    #[test]
    fn arrays_with_a_value_of_another_type_grant_nothing() {
        for roles in [
            json!(["admin", 1]),
            json!(["admin", null]),
            json!([["admin"]]),
        ] {
            let c = claims(json!({ "roles": roles }));
            assert!(!RoleSource::entra_roles().holds(&c, "admin"), "{roles}");
        }
    }

    #[test]
    fn ready_made_sources_want_arrays_and_claim_takes_a_string_too() {
        let c = claims(json!({"roles": "admin", "groups": {"admin": true}}));
        assert!(!RoleSource::entra_roles().holds(&c, "admin"));
        assert!(!RoleSource::okta_groups().holds(&c, "admin"));
        assert!(RoleSource::claim("roles").holds(&c, "admin"));
        let spaced = claims(json!({"roles": "reader admin"}));
        assert!(!RoleSource::claim("roles").holds(&spaced, "admin"));
        assert!(RoleSource::space_delimited("roles").holds(&spaced, "admin"));
        let joined = claims(json!({"roles": ["reader admin"]}));
        assert!(!RoleSource::space_delimited("roles").holds(&joined, "admin"));
        assert!(!RoleSource::space_delimited("roles").holds(&joined, "reader admin"));
    }

    #[test]
    fn empty_and_case_variants_never_match() {
        let c = claims(json!({"cognito:groups": ["", "Admins"]}));
        assert!(!RoleSource::cognito_groups().holds(&c, ""));
        assert!(!RoleSource::cognito_groups().holds(&c, "admins"));
        assert!(RoleSource::cognito_groups().holds(&c, "Admins"));
    }
}
