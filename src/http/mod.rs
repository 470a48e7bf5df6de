//! The HTTP plumbing every outgoing request shares: bounded fetches, the one scheme and
//! redirect policy, discovery (OIDC and RFC 8414 metadata), HTTP caching lifetimes
//! (RFC 9111), retry backoff and form encoding.
//!
//! A leaf module: it knows URLs, headers and bodies, never keys or tokens. The key cache
//! ([`crate::jwks`]) and the introspection client ([`crate::introspection`]) both stand
//! on it.

mod backoff;
mod cache_policy;
mod discovery;
mod fetch;
mod form;

pub(crate) use backoff::backoff;
pub(crate) use cache_policy::{TtlBounds, lifetime};
pub(crate) use discovery::{discover_jwks_uri, fetch_metadata};
pub(crate) use fetch::{
    Conditional, FailedFetch, FetchError, FetchLimits, check_not_redirected, check_url, fetch,
    is_loopback, redirect_policy, scheme_allowed,
};
pub(crate) use form::form_urlencode;
