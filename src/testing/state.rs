//! What a [`MockIssuer`](super::MockIssuer)'s handle and its routes share.

use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;

use serde_json::{Map, Value};

use super::behavior::Behavior;
use super::key::TestKey;

/// What the issuer's handle and its routes share.
pub(super) struct IssuerState {
    pub(super) issuer: String,
    pub(super) audience: String,
    pub(super) keys: Mutex<Vec<TestKey>>,
    pub(super) behavior: Mutex<Behavior>,
    pub(super) jwks_override: Mutex<Option<Value>>,
    pub(super) oidc_discovery: Mutex<bool>,
    pub(super) jwks_headers: Mutex<Vec<(String, String)>>,
    pub(super) metadata_extra: Mutex<Map<String, Value>>,
    pub(super) etag: Mutex<bool>,
    pub(super) redirect_to: Mutex<String>,
    pub(super) discovery_hits: AtomicUsize,
    pub(super) jwks_hits: AtomicUsize,
    pub(super) not_modified_hits: AtomicUsize,
    /// RFC 7662: the client allowed to introspect, and the opaque tokens issued.
    pub(super) introspection_client: Mutex<(String, String)>,
    pub(super) opaque_tokens: Mutex<std::collections::HashMap<String, Map<String, Value>>>,
    pub(super) introspection_hits: AtomicUsize,
    /// Introspection requests being answered now, and the most at once.
    pub(super) introspections_in_flight: AtomicUsize,
    pub(super) introspection_peak: AtomicUsize,
    pub(super) next_kid: AtomicUsize,
    /// Opaque tokens the introspection endpoint refuses with a status of their own.
    pub(super) introspection_refusals: Mutex<std::collections::HashMap<String, u16>>,
}
