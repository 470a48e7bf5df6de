//! Requirements as values: what a valid token must also grant to reach a resource.
//!
//! A [`Requirement`] is built from named constructors (scopes, claim values, roles from
//! the claim shapes issuers really emit, a check of your own) and combined with
//! [`Requirement::all`] and [`Requirement::any`]. The core evaluates it, wherever it is
//! attached: to a whole [`Gate`](crate::Gate::require), to one route (`Require` in
//! `tokengate-tower` and `tokengate-actix`), or in a handler ([`Claims::require`](crate::Claims::require)).
//!
//! ```
//! use tokengate::require::{Requirement, RoleSource};
//!
//! // A route for order writers of tenant acme.
//! let policy = Requirement::all([
//!     Requirement::any([
//!         Requirement::any_scope(["admin", "orders:write"]),
//!         Requirement::role(RoleSource::keycloak_client("orders-api"), "writer"),
//!     ]),
//!     Requirement::claim("tenant").equals("acme"),
//! ]);
//! ```
//!
//! Scopes are read as [`Claims::scopes`](crate::Claims::scopes) reads them, which covers
//! the shapes issuers send: `scope` as one space-separated string (RFC 8693 section 4.2,
//! RFC 9068; Keycloak, Auth0, AWS Cognito), `scp` as a string (Microsoft Entra ID) or an
//! array (Okta); `scope` wins when both are sent. To read scopes elsewhere (Auth0's
//! `permissions`) or in one shape only (`scope`, never `scp`), name the claim with a
//! [`RoleSource`] in [`Requirement::scope_in`] / [`Requirement::any_scope_in`] /
//! [`Requirement::all_scopes_in`]. Roles and groups live in other claims, in other
//! shapes: a [`RoleSource`] names one.

mod claim;
mod path;
mod requirement;
mod roles;

pub use claim::ClaimRequirement;
pub use path::ClaimPath;
pub use requirement::Requirement;
pub use roles::RoleSource;
