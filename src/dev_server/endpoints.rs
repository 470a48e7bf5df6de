//! The authorization, token and introspection endpoints.

use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Form, Query, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Url;
use serde_json::{Value, json};

use super::client::s256_challenge;
use super::store::{AccessRecord, CodeGrant, Full, RefreshGrant, Store};
use super::{Client, Config, Shared, is_scope_token, random_string};

/// Form bodies are a few hundred bytes; anything much larger is refused (413).
const MAX_BODY: usize = 16 * 1024;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .route("/introspect", post(introspect))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

/// Request parameters, in order, duplicates kept so that they can be refused.
struct Params(Vec<(String, String)>);

impl Params {
    /// The value of `name`; "parameters sent without a value MUST be treated as if they
    /// were omitted" (RFC 6749 3.1).
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    fn count(&self, name: &str) -> usize {
        self.0.iter().filter(|(n, _)| n == name).count()
    }

    /// The first parameter given more than once: "request and response parameters MUST
    /// NOT be included more than once" (RFC 6749 3.1, 3.2).
    fn duplicated(&self) -> Option<&str> {
        let mut seen = std::collections::HashSet::new();
        self.0
            .iter()
            .map(|(n, _)| n.as_str())
            .find(|n| !seen.insert(*n))
    }
}

use crate::validator::{token_digest, unix_now};

/// The headers of every token and introspection response (RFC 6749 5.1).
fn no_store() -> [(axum::http::HeaderName, HeaderValue); 2] {
    [
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (
            axum::http::header::PRAGMA,
            HeaderValue::from_static("no-cache"),
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// Errors

/// An error response of the token or introspection endpoint (RFC 6749 5.2).
#[derive(Debug)]
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// Client authentication failed: 401 with a `Basic` challenge (RFC 6749 5.2).
    fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    fn full() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the development server holds too many grants; try again later",
        )
    }
}

impl From<Full> for OAuthError {
    fn from(_: Full) -> Self {
        OAuthError::full()
    }
}

/// RFC 6749 5.2: `error_description` is limited to `%x20-21 / %x23-5B / %x5D-7E`.
fn description_chars(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '?',
        })
        .collect()
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": self.error,
            "error_description": description_chars(&self.description),
        });
        let mut response = (self.status, no_store(), axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"tokengate-dev-server\""),
            );
        }
        response
    }
}

// ---------------------------------------------------------------------------------------
// Client authentication (RFC 6749 2.3)

/// Decodes `application/x-www-form-urlencoded` text: RFC 6749 2.3.1 encodes the client
/// id and secret that way before putting them in the `Basic` credentials.
fn form_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// `client_secret_basic` credentials, if the request has an `Authorization` header.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(OAuthError::invalid_request(
            "more than one Authorization header",
        ));
    }
    let malformed = || OAuthError::invalid_client("malformed Basic credentials");
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, encoded) = value.split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "client authentication must use the Basic scheme (client_secret_basic)",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    match (form_decode(id), form_decode(secret)) {
        (Some(id), Some(secret)) => Ok(Some((id, secret))),
        _ => Err(malformed()),
    }
}

fn secrets_equal(given: &str, expected: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(given.as_bytes(), expected.as_bytes()).is_ok()
}

/// Authenticates the client of a token request: `client_secret_basic`,
/// `client_secret_post`, or, for a public client, its `client_id` alone (RFC 6749 2.3.1,
/// 3.2.1). One method per request (2.3).
fn authenticate<'a>(
    config: &'a Config,
    headers: &HeaderMap,
    params: &Params,
) -> Result<&'a Client, OAuthError> {
    let failed = || OAuthError::invalid_client("client authentication failed");
    let (id, secret) = match basic_credentials(headers)? {
        Some((id, secret)) => {
            if params.get("client_secret").is_some() {
                return Err(OAuthError::invalid_request(
                    "use one client authentication method, not Basic and client_secret",
                ));
            }
            if params.get("client_id").is_some_and(|body_id| body_id != id) {
                return Err(OAuthError::invalid_client(
                    "client_id differs from the authenticated client",
                ));
            }
            (id, Some(secret).filter(|s| !s.is_empty()))
        }
        None => match params.get("client_id") {
            Some(id) => (
                id.to_owned(),
                params.get("client_secret").map(str::to_owned),
            ),
            None => {
                return Err(OAuthError::invalid_client(
                    "client authentication required (client_secret_basic)",
                ));
            }
        },
    };
    let client = config.client(&id).ok_or_else(failed)?;
    match (&client.secret, &secret) {
        (Some(expected), Some(given)) if secrets_equal(given, expected.expose_secret()) => {
            Ok(client)
        }
        (None, None) => Ok(client),
        _ => Err(failed()),
    }
}

/// Introspection callers authenticate with `client_secret_basic` as confidential clients
/// (RFC 7662 2.1).
fn authenticate_basic<'a>(
    config: &'a Config,
    headers: &HeaderMap,
) -> Result<&'a Client, OAuthError> {
    let Some((id, secret)) = basic_credentials(headers)? else {
        return Err(OAuthError::invalid_client(
            "introspection requires client authentication (client_secret_basic)",
        ));
    };
    match config.client(&id) {
        Some(client)
            if client
                .secret
                .as_ref()
                .is_some_and(|expected| secrets_equal(&secret, expected.expose_secret())) =>
        {
            Ok(client)
        }
        _ => Err(OAuthError::invalid_client("client authentication failed")),
    }
}

/// The scope to grant for a request asking for `requested` (RFC 6749 3.3): all of
/// `allowed` when it names none, else exactly what it names, if all of it is allowed.
fn grant_scope(allowed: &[String], requested: Option<&str>) -> Result<Vec<String>, OAuthError> {
    let Some(requested) = requested else {
        return Ok(allowed.to_vec());
    };
    let mut scope: Vec<String> = Vec::new();
    for token in requested.split(' ') {
        if !is_scope_token(token) {
            return Err(OAuthError::invalid_scope(
                "scope must be space-delimited scope tokens (RFC 6749 3.3)",
            ));
        }
        if !allowed.iter().any(|a| a == token) {
            return Err(OAuthError::invalid_scope(format!(
                "scope {token} is not allowed for this client"
            )));
        }
        if !scope.iter().any(|s| s == token) {
            scope.push(token.to_owned());
        }
    }
    Ok(scope)
}

// ---------------------------------------------------------------------------------------
// GET /

async fn index(State(shared): State<Arc<Shared>>) -> Response {
    let c = &shared.config;
    let text = format!(
        "tokengate DEVELOPMENT authorization server: never use in production.\n\
         It signs in the development user {user:?} without asking.\n\n\
         issuer (discovery, JWKS): {issuer}\n\
         authorization endpoint:   {base}/authorize\n\
         token endpoint:           {base}/token\n\
         introspection endpoint:   {base}/introspect\n",
        user = c.user,
        issuer = c.issuer,
        base = c.base_url,
    );
    ([(CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}

// ---------------------------------------------------------------------------------------
// GET /authorize (RFC 6749 4.1.1, 4.1.2; RFC 7636 4.3, 4.4)

/// A 400 page for the user: with no trustworthy redirect URI, the authorization server
/// "MUST NOT automatically redirect the user-agent" (RFC 6749 4.1.2.1).
fn error_page(message: &str) -> Response {
    let text = format!(
        "tokengate development authorization server\n\n\
         The authorization request was refused: {message}.\n\n\
         The client or its redirect URI is not valid, so this error is shown here instead of\n\
         being sent back to the client (RFC 6749 section 4.1.2.1).\n"
    );
    (
        StatusCode::BAD_REQUEST,
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

/// A `302 Found` to `redirect_uri` with these query parameters added (RFC 6749 4.1.2:
/// the redirect URI's own query is kept).
fn redirect(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return error_page("the redirect URI is not a valid URI");
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
    }
    match HeaderValue::from_str(url.as_str()) {
        Ok(location) => (
            StatusCode::FOUND,
            [
                (LOCATION, location),
                (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        Err(_) => error_page("the redirect URI cannot be sent in a Location header"),
    }
}

/// S256 challenges are BASE64URL(SHA-256(verifier)): exactly 43 base64url characters.
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn authorize(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let Ok(Query(pairs)) = query else {
        return error_page("the query string is not valid application/x-www-form-urlencoded");
    };
    let params = Params(pairs);
    let config = &shared.config;

    // First the client and its redirect URI: until both are known good, errors go to the
    // user, never to a URI an attacker may have chosen (RFC 6749 4.1.2.1, 10.15).
    if params.count("client_id") > 1 || params.count("redirect_uri") > 1 {
        return error_page("client_id or redirect_uri is given more than once");
    }
    let Some(client_id) = params.get("client_id") else {
        return error_page("client_id is missing");
    };
    let Some(client) = config.client(client_id) else {
        return error_page("the client_id is not registered");
    };
    let given_redirect = params.get("redirect_uri");
    let redirect_uri = match given_redirect {
        // RFC 6749 3.1.2.3: compared as strings, exactly (no prefix, no normalisation).
        Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => uri,
        Some(_) => {
            return error_page(
                "the redirect_uri is not registered for this client (exact match required)",
            );
        }
        None => match client.redirect_uris.as_slice() {
            [only] => only.as_str(),
            [] => return error_page("the client has no registered redirect URI"),
            _ => {
                return error_page(
                    "redirect_uri is required: the client has several registered redirect URIs",
                );
            }
        },
    };

    // From here on, errors go back to the client, with its state (RFC 6749 4.1.2.1) and
    // our issuer identifier (RFC 9207).
    let state = if params.count("state") == 1 {
        params.get("state")
    } else {
        None
    };
    let issuer = config.issuer.as_str();
    let fail = |error: &str, description: &str| {
        let description = description_chars(description);
        let mut response = vec![
            ("error", error),
            ("error_description", description.as_str()),
        ];
        if let Some(state) = state {
            response.push(("state", state));
        }
        response.push(("iss", issuer));
        redirect(redirect_uri, &response)
    };

    if let Some(name) = params.duplicated() {
        return fail(
            "invalid_request",
            &format!("{name} is given more than once"),
        );
    }
    match params.get("response_type") {
        Some("code") => {}
        None => return fail("invalid_request", "response_type is missing"),
        Some(_) => {
            return fail(
                "unsupported_response_type",
                "only response_type=code is supported",
            );
        }
    }
    // PKCE (RFC 7636) is required of every client, confidential or public.
    let Some(challenge) = params.get("code_challenge") else {
        return fail(
            "invalid_request",
            "code_challenge is required (PKCE, RFC 7636, method S256)",
        );
    };
    match params.get("code_challenge_method") {
        Some("S256") => {}
        // RFC 7636 4.3: a missing method means plain, which this server does not support.
        None | Some("plain") => {
            return fail(
                "invalid_request",
                "code_challenge_method must be S256; plain is not supported",
            );
        }
        Some(_) => {
            return fail(
                "invalid_request",
                "unsupported code_challenge_method; only S256 is supported",
            );
        }
    }
    if !is_s256_challenge(challenge) {
        return fail(
            "invalid_request",
            "code_challenge must be BASE64URL(SHA-256(code_verifier)), 43 characters",
        );
    }
    let scope = match grant_scope(&client.scopes, params.get("scope")) {
        Ok(scope) => scope,
        Err(err) => return fail(err.error, &err.description),
    };

    // The development user is signed in and consents at once.
    let code = random_string(32);
    let mut store = shared.store.lock().unwrap();
    let grant = store.new_grant();
    let stored = store.insert_code(
        code.clone(),
        CodeGrant {
            client_id: client.id.clone(),
            redirect_uri: given_redirect.map(str::to_owned),
            challenge: challenge.to_owned(),
            sub: config.user.clone(),
            scope,
            expires: Instant::now() + config.code_lifetime,
            used: false,
            grant,
        },
    );
    drop(store);
    if stored.is_err() {
        return fail(
            "temporarily_unavailable",
            "the development server holds too many codes; try again later",
        );
    }
    let mut response = vec![("code", code.as_str())];
    if let Some(state) = state {
        response.push(("state", state));
    }
    response.push(("iss", issuer));
    redirect(redirect_uri, &response)
}

// ---------------------------------------------------------------------------------------
// POST /token (RFC 6749 3.2, 4.1.3, 4.4.2, 6)

async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    match token_response(&shared, &headers, form) {
        Ok(body) => (StatusCode::OK, no_store(), axum::Json(body)).into_response(),
        Err(err) => err.into_response(),
    }
}

fn token_response(
    shared: &Shared,
    headers: &HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Value, OAuthError> {
    let Ok(Form(pairs)) = form else {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    };
    let params = Params(pairs);
    if let Some(name) = params.duplicated() {
        return Err(OAuthError::invalid_request(format!(
            "{name} is given more than once"
        )));
    }
    let client = authenticate(&shared.config, headers, &params)?;
    match params.get("grant_type") {
        Some("authorization_code") => authorization_code(shared, client, &params),
        Some("client_credentials") => client_credentials(shared, client, &params),
        Some("refresh_token") => refresh_token(shared, client, &params),
        None => Err(OAuthError::invalid_request("grant_type is missing")),
        Some(_) => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "supported: authorization_code, client_credentials, refresh_token",
        )),
    }
}

/// RFC 6749 4.1.3 and RFC 7636 4.5, 4.6.
fn authorization_code(
    shared: &Shared,
    client: &Client,
    params: &Params,
) -> Result<Value, OAuthError> {
    let code = params
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is missing"))?;
    let mut store = shared.store.lock().unwrap();
    let Some(grant) = store.codes.get_mut(code) else {
        return Err(OAuthError::invalid_grant("unknown authorization code"));
    };
    if grant.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "the code was issued to another client",
        ));
    }
    if grant.used {
        // RFC 6749 4.1.2: deny, and revoke the tokens already issued from this code.
        let id = grant.grant;
        store.revoke_grant(id);
        return Err(OAuthError::invalid_grant(
            "the code was already used; the tokens issued from it are revoked",
        ));
    }
    // One redemption attempt per code, successful or not.
    grant.used = true;
    if grant.expires <= Instant::now() {
        return Err(OAuthError::invalid_grant("the code has expired"));
    }
    let redirect_ok = match (&grant.redirect_uri, params.get("redirect_uri")) {
        // RFC 6749 4.1.3: required and identical if the authorization request had one.
        (Some(expected), Some(given)) => expected == given,
        (Some(_), None) => false,
        // Without one, the only registered URI was used; naming it is allowed.
        (None, given) => given.is_none_or(|g| client.redirect_uris.iter().any(|r| r == g)),
    };
    if !redirect_ok {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    let Some(verifier) = params.get("code_verifier") else {
        return Err(OAuthError::invalid_request(
            "code_verifier is missing (PKCE, RFC 7636 4.5)",
        ));
    };
    let computed = s256_challenge(verifier);
    let verifier_ok = is_verifier(verifier)
        && aws_lc_rs::constant_time::verify_slices_are_equal(
            computed.as_bytes(),
            grant.challenge.as_bytes(),
        )
        .is_ok();
    if !verifier_ok {
        return Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge (RFC 7636 4.6)",
        ));
    }
    let (sub, scope, id) = (grant.sub.clone(), grant.scope.clone(), grant.grant);
    let mut body = issue_access_token(shared, &mut store, client, &sub, &scope, Some(id))?;
    body["refresh_token"] = json!(issue_refresh_token(
        shared, &mut store, client, &sub, &scope, id
    )?);
    Ok(body)
}

/// RFC 7636 4.1: `code-verifier = 43*128unreserved`.
fn is_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// RFC 6749 4.4: for confidential clients only; no refresh token (4.4.3).
fn client_credentials(
    shared: &Shared,
    client: &Client,
    params: &Params,
) -> Result<Value, OAuthError> {
    if client.secret.is_none() {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "a public client cannot use client_credentials (RFC 6749 4.4)",
        ));
    }
    let scope = grant_scope(&client.scopes, params.get("scope"))?;
    let mut store = shared.store.lock().unwrap();
    issue_access_token(shared, &mut store, client, &client.id, &scope, None)
}

/// RFC 6749 6, with rotation: the presented refresh token is spent, a new one is issued;
/// a spent one presented again revokes the whole grant (RFC 9700 4.14.2).
fn refresh_token(shared: &Shared, client: &Client, params: &Params) -> Result<Value, OAuthError> {
    let token = params
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?;
    let mut store = shared.store.lock().unwrap();
    let Some(grant) = store.refresh_tokens.get_mut(token) else {
        return Err(OAuthError::invalid_grant(
            "unknown or revoked refresh token",
        ));
    };
    if grant.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    if grant.used {
        let id = grant.grant;
        store.revoke_grant(id);
        return Err(OAuthError::invalid_grant(
            "the refresh token was already used; every token of this grant is revoked",
        ));
    }
    if grant.expires <= Instant::now() {
        return Err(OAuthError::invalid_grant("the refresh token has expired"));
    }
    // RFC 6749 6: a narrower scope may be asked for, never a wider one.
    let scope = grant_scope(&grant.scope, params.get("scope"))?;
    grant.used = true;
    let (sub, original, id) = (grant.sub.clone(), grant.scope.clone(), grant.grant);
    let mut body = issue_access_token(shared, &mut store, client, &sub, &scope, Some(id))?;
    body["refresh_token"] = json!(issue_refresh_token(
        shared, &mut store, client, &sub, &original, id
    )?);
    Ok(body)
}

/// Mints an RFC 9068 access token and records it for introspection; the token response
/// without a refresh token (RFC 6749 5.1).
fn issue_access_token(
    shared: &Shared,
    store: &mut Store,
    client: &Client,
    sub: &str,
    scope: &[String],
    grant: Option<u64>,
) -> Result<Value, OAuthError> {
    let mock = shared.mock.upgrade().ok_or_else(|| {
        OAuthError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the development server is stopping",
        )
    })?;
    let lifetime = shared.config.access_token_lifetime.as_secs() as i64;
    let (iat, jti) = (unix_now(), random_string(16));
    let exp = iat + lifetime;
    let scope_text = scope.join(" ");
    let mut builder = mock
        .token()
        .subject(sub)
        .claim("client_id", client.id.as_str())
        .claim("iat", iat)
        .claim("exp", exp)
        .claim("jti", jti.as_str());
    builder = if scope.is_empty() {
        builder.without_claim("scope")
    } else {
        builder.scope(&scope_text)
    };
    let token = builder.sign();
    store.insert_access_token(
        token_digest(&token),
        AccessRecord {
            client_id: client.id.clone(),
            sub: sub.to_owned(),
            scope: scope.to_vec(),
            iat,
            exp,
            jti,
            grant,
        },
        iat,
    )?;
    let mut body = json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": lifetime,
    });
    if !scope.is_empty() {
        body["scope"] = json!(scope_text);
    }
    Ok(body)
}

fn issue_refresh_token(
    shared: &Shared,
    store: &mut Store,
    client: &Client,
    sub: &str,
    scope: &[String],
    grant: u64,
) -> Result<String, OAuthError> {
    let token = random_string(32);
    store.insert_refresh_token(
        token.clone(),
        RefreshGrant {
            client_id: client.id.clone(),
            sub: sub.to_owned(),
            scope: scope.to_vec(),
            expires: Instant::now() + shared.config.refresh_token_lifetime,
            used: false,
            grant,
        },
    )?;
    Ok(token)
}

// ---------------------------------------------------------------------------------------
// POST /introspect (RFC 7662)

async fn introspect(
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
    let Ok(Form(pairs)) = form else {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    };
    let params = Params(pairs);
    if let Some(name) = params.duplicated() {
        return Err(OAuthError::invalid_request(format!(
            "{name} is given more than once"
        )));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        assert_eq!(form_decode("a+b%2Fc%3a").as_deref(), Some("a b/c:"));
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%+1"), None);
        assert_eq!(form_decode("%4"), None);
        assert_eq!(form_decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(form_decode("%FF"), None);
    }

    #[test]
    fn scopes_are_checked_against_the_allowed_ones() {
        let allowed = vec!["read".to_owned(), "admin".to_owned()];
        assert_eq!(grant_scope(&allowed, None).unwrap(), allowed);
        assert_eq!(grant_scope(&allowed, Some("read read")).unwrap(), ["read"]);
        assert_eq!(
            grant_scope(&allowed, Some("write")).unwrap_err().error,
            "invalid_scope"
        );
        assert_eq!(
            grant_scope(&allowed, Some("read  admin"))
                .unwrap_err()
                .error,
            "invalid_scope"
        );
    }

    #[test]
    fn verifiers_and_challenges_have_their_rfc_7636_syntax() {
        assert!(is_verifier(&"a".repeat(43)));
        assert!(!is_verifier(&"a".repeat(42)));
        assert!(!is_verifier(&"a".repeat(129)));
        assert!(!is_verifier(&format!("{}+", "a".repeat(43))));
        assert!(is_s256_challenge(&s256_challenge(&"a".repeat(43))));
        assert!(!is_s256_challenge(&"a".repeat(44)));
    }

    #[test]
    fn descriptions_keep_to_the_allowed_characters() {
        assert_eq!(description_chars("a \"b\" \\ é"), "a ?b? ? ?");
    }
}
