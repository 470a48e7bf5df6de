//! The introspection endpoint (RFC 7662): whether an access token this server issued is
//! still active, for clients authenticating with `client_secret_basic`.

use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::client_auth::authenticate_basic;
use crate::errors::{OAuthError, no_store};
use crate::params::Params;
use crate::server::Shared;
use crate::store::token_digest;
use crate::token::unix_now;

pub(crate) async fn introspect(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    match introspection_response(&shared, &headers, form) {
        Ok(body) => (StatusCode::OK, no_store(), axum::Json(body)).into_response(),
        Err(err) => err.into_response(),
    }
}

fn introspection_response(
    shared: &Shared,
    headers: &HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Value, OAuthError> {
    // RFC 7662 2.1: the endpoint requires authorization, here client_secret_basic.
    authenticate_basic(&shared.config, headers)?;
    let params = Params::from_form(form)?;
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    let now = unix_now();
    let store = shared.store.lock().unwrap();
    // RFC 7662 2.2: unknown, expired and revoked tokens are all just inactive.
    let Some(record) = store
        .access_tokens
        .get(&token_digest(token))
        .filter(|r| r.exp > now)
    else {
        return Ok(json!({ "active": false }));
    };
    let mut body = json!({
        "active": true,
        "client_id": record.client_id,
        "sub": record.sub,
        "aud": shared.config.audience,
        "iss": shared.config.issuer,
        "iat": record.iat,
        "exp": record.exp,
        "jti": record.jti,
        "token_type": "Bearer",
    });
    if !record.scope.is_empty() {
        body["scope"] = json!(record.scope.join(" "));
    }
    Ok(body)
}
