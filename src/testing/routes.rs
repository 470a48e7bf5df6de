//! The mock issuer's HTTP handlers: discovery (OIDC and RFC 8414), the JWKS with
//! `ETag`s and conditional requests, a redirect, and RFC 7662 introspection.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::header::{
    CONTENT_TYPE, ETAG, HeaderName, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
    LOCATION,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};

use super::key::TestKey;
use super::state::IssuerState;
use crate::clock::unix_now;

/// The issuer's routes, over its shared state.
pub(super) fn router(state: Arc<IssuerState>) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(oidc_metadata))
        .route(
            "/.well-known/oauth-authorization-server",
            get(oauth_metadata),
        )
        .route("/jwks", get(jwks))
        .route("/moved", get(moved))
        .route("/introspect", post(introspect))
        .with_state(state)
}

/// Applies the configured behavior; `None` means "serve normally".
async fn misbehave(state: &IssuerState) -> Option<Response> {
    let behavior = state.behavior.lock().unwrap().clone();
    behavior.apply().await
}

fn metadata(state: &IssuerState) -> Response {
    let mut doc = state.metadata_extra.lock().unwrap().clone();
    doc.insert("issuer".into(), json!(state.issuer));
    doc.insert("jwks_uri".into(), json!(format!("{}/jwks", state.issuer)));
    doc.entry("id_token_signing_alg_values_supported")
        .or_insert(json!(["RS256"]));
    axum::Json(Value::Object(doc)).into_response()
}

async fn oidc_metadata(State(state): State<Arc<IssuerState>>) -> Response {
    state.discovery_hits.fetch_add(1, Ordering::SeqCst);
    if !*state.oidc_discovery.lock().unwrap() {
        return StatusCode::NOT_FOUND.into_response();
    }
    if let Some(response) = misbehave(&state).await {
        return response;
    }
    metadata(&state)
}

async fn oauth_metadata(State(state): State<Arc<IssuerState>>) -> Response {
    state.discovery_hits.fetch_add(1, Ordering::SeqCst);
    if let Some(response) = misbehave(&state).await {
        return response;
    }
    metadata(&state)
}

async fn jwks(State(state): State<Arc<IssuerState>>, request: HeaderMap) -> Response {
    state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    if let Some(response) = misbehave(&state).await {
        return response;
    }
    let doc = state.jwks_override.lock().unwrap().clone();
    let doc = doc.unwrap_or_else(|| {
        let keys: Vec<Value> = state
            .keys
            .lock()
            .unwrap()
            .iter()
            .filter(|k| k.published)
            .map(TestKey::public_jwk)
            .collect();
        json!({ "keys": keys })
    });
    let body = doc.to_string();
    let mut headers = HeaderMap::new();
    for (name, value) in state.jwks_headers.lock().unwrap().iter() {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(n, v);
        }
    }
    let mut not_modified = false;
    if *state.etag.lock().unwrap() {
        let etag = format!("\"{:016x}\"", content_tag(&body));
        not_modified |= request
            .get(IF_NONE_MATCH)
            .is_some_and(|v| v == etag.as_str());
        headers.insert(ETAG, HeaderValue::from_str(&etag).unwrap());
    }
    if let Some(modified) = headers.get(LAST_MODIFIED) {
        not_modified |= request.get(IF_MODIFIED_SINCE) == Some(modified);
    }
    if not_modified {
        state.not_modified_hits.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (StatusCode::OK, headers, body).into_response()
}

async fn moved(State(state): State<Arc<IssuerState>>) -> Response {
    let location = state.redirect_to.lock().unwrap().clone();
    match HeaderValue::from_str(&location) {
        Ok(location) => (StatusCode::TEMPORARY_REDIRECT, [(LOCATION, location)]).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A content hash for ETags: the same body gives the same tag within one process.
fn content_tag(body: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut hasher);
    hasher.finish()
}

/// RFC 7662 section 2: the introspection endpoint, authenticating the client with
/// `client_secret_basic` or `client_secret_post`.
async fn introspect(
    State(state): State<Arc<IssuerState>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<std::collections::HashMap<String, String>>,
) -> Response {
    /// Counts the request out even when its client gives up and the handler is dropped.
    struct InFlight<'a>(&'a AtomicUsize);
    impl Drop for InFlight<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    state.introspection_hits.fetch_add(1, Ordering::SeqCst);
    let now = state
        .introspections_in_flight
        .fetch_add(1, Ordering::SeqCst)
        + 1;
    state.introspection_peak.fetch_max(now, Ordering::SeqCst);
    let _in_flight = InFlight(&state.introspections_in_flight);
    answer_introspection(&state, &headers, &form).await
}

async fn answer_introspection(
    state: &IssuerState,
    headers: &HeaderMap,
    form: &std::collections::HashMap<String, String>,
) -> Response {
    use base64::engine::general_purpose::STANDARD;
    if let Some(response) = misbehave(state).await {
        return response;
    }
    let refusal = form
        .get("token")
        .and_then(|t| state.introspection_refusals.lock().unwrap().get(t).copied());
    if let Some(status) = refusal {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
        return (status, "<html>Request blocked</html>").into_response();
    }
    let (id, secret) = state.introspection_client.lock().unwrap().clone();
    let basic = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let authenticated = match basic {
        Some(pair) => pair == format!("{id}:{secret}"),
        None => form.get("client_id") == Some(&id) && form.get("client_secret") == Some(&secret),
    };
    if !authenticated {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let claims = form
        .get("token")
        .and_then(|t| state.opaque_tokens.lock().unwrap().get(t).cloned());
    let active = claims.as_ref().is_some_and(|c| {
        c.get("exp")
            .and_then(Value::as_i64)
            .is_none_or(|exp| exp > unix_now())
    });
    match (active, claims) {
        (true, Some(mut claims)) => {
            claims.insert("active".into(), json!(true));
            // `Bearer` unless the token was minted with a `token_type` claim of its own
            // (`null`: the answer names none).
            match claims.get("token_type") {
                None => {
                    claims.insert("token_type".into(), json!("Bearer"));
                }
                Some(Value::Null) => {
                    claims.remove("token_type");
                }
                Some(_) => {}
            }
            axum::Json(Value::Object(claims)).into_response()
        }
        _ => axum::Json(json!({"active": false})).into_response(),
    }
}
