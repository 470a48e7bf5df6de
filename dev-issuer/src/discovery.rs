//! What a client discovers about this server (RFC 8414 2), served by the wrapped mock
//! issuer beside its `issuer` and `jwks_uri`.

use serde_json::{Value, json};

use crate::config::Client;

/// The metadata members naming the endpoints at `base_url` and what they support;
/// `scopes_supported` is every scope a registered client may ask for.
pub(crate) fn metadata(base_url: &str, clients: &[Client]) -> [(&'static str, Value); 11] {
    let mut scopes: Vec<&str> = Vec::new();
    for scope in clients.iter().flat_map(|c| &c.scopes) {
        if !scopes.contains(&scope.as_str()) {
            scopes.push(scope);
        }
    }
    [
        (
            "authorization_endpoint",
            json!(format!("{base_url}/authorize")),
        ),
        ("token_endpoint", json!(format!("{base_url}/token"))),
        (
            "introspection_endpoint",
            json!(format!("{base_url}/introspect")),
        ),
        ("response_types_supported", json!(["code"])),
        ("response_modes_supported", json!(["query"])),
        (
            "grant_types_supported",
            json!(["authorization_code", "client_credentials", "refresh_token"]),
        ),
        // RFC 7636 4.2: plain would let a stolen challenge redeem the code.
        ("code_challenge_methods_supported", json!(["S256"])),
        (
            "token_endpoint_auth_methods_supported",
            json!(["client_secret_basic", "client_secret_post", "none"]),
        ),
        (
            "introspection_endpoint_auth_methods_supported",
            json!(["client_secret_basic"]),
        ),
        ("scopes_supported", json!(scopes)),
        // RFC 9207: every authorization response carries `iss`.
        (
            "authorization_response_iss_parameter_supported",
            json!(true),
        ),
    ]
}
