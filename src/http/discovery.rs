//! Finding the issuer's `jwks_uri`: OpenID Connect Discovery 1.0 section 4, falling back
//! to RFC 8414 section 3 (OAuth 2.0 Authorization Server Metadata).

use reqwest::Url;
use serde_json::Value;

use reqwest::header::HeaderMap;

use super::fetch::{Conditional, FailedFetch, FetchError, FetchLimits, fetch, scheme_allowed};

/// OIDC Discovery section 4: appended to the issuer, path and all.
const OIDC_SUFFIX: &str = ".well-known/openid-configuration";
/// RFC 8414 section 3: inserted between the host and the issuer's path.
const OAUTH_WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";

/// The two metadata locations for `issuer`, in the order they are tried.
pub(crate) fn metadata_urls(issuer: &Url) -> [Url; 2] {
    let mut oidc = issuer.clone();
    let path = issuer.path();
    let joined = if path.ends_with('/') {
        format!("{path}{OIDC_SUFFIX}")
    } else {
        format!("{path}/{OIDC_SUFFIX}")
    };
    oidc.set_path(&joined);

    let mut oauth = issuer.clone();
    let rest = path.trim_end_matches('/');
    oauth.set_path(&format!("{OAUTH_WELL_KNOWN}{rest}"));
    [oidc, oauth]
}

/// Fetches the metadata and returns the `jwks_uri`, after checking that the metadata's
/// `issuer` is exactly ours (RFC 8414 section 3.3; OIDC Discovery section 4.3): else an
/// attacker who controls one metadata document could vouch for another issuer.
///
/// Also returns the metadata response's headers, whose caching directives say how long
/// the `jwks_uri` may be trusted before discovery runs again. A failure names the
/// metadata URL it concerns.
///
/// The metadata is looked for at `at`'s well-known locations: the issuer's own, unless
/// it publishes its keys under another identifier (Entra's `common`).
pub(crate) async fn discover_jwks_uri(
    client: &reqwest::Client,
    at: &str,
    issuer: &str,
    limits: &FetchLimits,
    allow_http: bool,
) -> Result<(Url, HeaderMap), FailedFetch> {
    let metadata = fetch_metadata_at(client, at, issuer, limits).await?;
    match read_jwks_uri(&metadata.document, issuer, allow_http) {
        Ok(jwks_uri) => Ok((jwks_uri, metadata.headers)),
        Err(error) => Err(FailedFetch {
            url: metadata.url,
            error,
        }),
    }
}

/// An issuer's metadata document, the headers it came with, and where it was found.
#[derive(Debug)]
pub(crate) struct Metadata {
    pub(crate) document: Value,
    pub(crate) headers: HeaderMap,
    pub(crate) url: Url,
}

/// Fetches the issuer's metadata (OIDC location, then RFC 8414's) and checks that its
/// `issuer` is exactly ours (RFC 8414 section 3.3). A failure names the URL last tried.
pub(crate) async fn fetch_metadata(
    client: &reqwest::Client,
    issuer: &str,
    limits: &FetchLimits,
) -> Result<Metadata, FailedFetch> {
    fetch_metadata_at(client, issuer, issuer, limits).await
}

/// [`fetch_metadata`] from the well-known locations of `at`, the document's `issuer`
/// still compared with `issuer`.
async fn fetch_metadata_at(
    client: &reqwest::Client,
    at: &str,
    issuer: &str,
    limits: &FetchLimits,
) -> Result<Metadata, FailedFetch> {
    let issuer_url = Url::parse(at).map_err(|_| FailedFetch {
        // Unreachable in practice: `build()` parsed the issuer. Named as it was given.
        url: Url::parse("invalid:issuer").expect("a valid URL"),
        error: FetchError::Invalid("issuer is not a URL"),
    })?;
    let [oidc, oauth] = metadata_urls(&issuer_url);
    let none = Conditional::default();
    let (url, fetched) = match fetch(client, &oidc, limits, &none).await {
        // Only a definite "not here" sends us to the RFC 8414 location; a timeout or a
        // 5xx would just double the wait.
        Err(FetchError::Status(400..=499)) => {
            let fetched = fetch(client, &oauth, limits, &none).await;
            (oauth, fetched)
        }
        other => (oidc, other),
    };
    let failed = |error| FailedFetch {
        url: url.clone(),
        error,
    };
    let fetched = fetched.map_err(failed)?;
    let document = fetched.body.ok_or_else(|| {
        failed(FetchError::Invalid(
            "304 Not Modified to an unconditional request",
        ))
    })?;
    check_issuer(&document, issuer).map_err(failed)?;
    Ok(Metadata {
        document,
        headers: fetched.headers,
        url,
    })
}

/// RFC 8414 section 3.3: the metadata's `issuer` is identical to the configured one.
fn check_issuer(metadata: &Value, issuer: &str) -> Result<(), FetchError> {
    let found = metadata.get("issuer");
    if found.and_then(Value::as_str) == Some(issuer) {
        return Ok(());
    }
    // The value is the issuer's (untrusted) text: bounded before it goes into a log line.
    let found = found.map(|value| {
        let text = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned);
        text.chars().take(MAX_FOUND_CHARS).collect()
    });
    Err(FetchError::IssuerMismatch { found })
}

/// The most of a metadata document's `issuer` a log line or readiness report repeats.
const MAX_FOUND_CHARS: usize = 256;

/// Checks the metadata document and reads its `jwks_uri`.
fn read_jwks_uri(metadata: &Value, issuer: &str, allow_http: bool) -> Result<Url, FetchError> {
    check_issuer(metadata, issuer)?;
    let uri = metadata
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or(FetchError::Invalid("the metadata has no jwks_uri"))?;
    let url = Url::parse(uri).map_err(|_| FetchError::Invalid("jwks_uri is not a URL"))?;
    if !scheme_allowed(&url, allow_http) {
        return Err(FetchError::Invalid("jwks_uri is not https"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn urls(issuer: &str) -> [String; 2] {
        metadata_urls(&Url::parse(issuer).unwrap()).map(|u| u.to_string())
    }

    #[test]
    fn metadata_locations_follow_oidc_and_rfc_8414() {
        assert_eq!(
            urls("https://id.example"),
            [
                "https://id.example/.well-known/openid-configuration",
                "https://id.example/.well-known/oauth-authorization-server",
            ]
        );
        assert_eq!(
            urls("https://id.example/tenant/1"),
            [
                "https://id.example/tenant/1/.well-known/openid-configuration",
                "https://id.example/.well-known/oauth-authorization-server/tenant/1",
            ]
        );
        assert_eq!(
            urls("https://id.example/t/")[0],
            "https://id.example/t/.well-known/openid-configuration"
        );
    }

    #[test]
    fn metadata_issuer_must_match_exactly() {
        let doc = |iss: &str| json!({"issuer": iss, "jwks_uri": "https://id.example/jwks"});
        assert!(read_jwks_uri(&doc("https://id.example"), "https://id.example", false).is_ok());
        for wrong in [
            "https://id.example/",
            "https://ID.example",
            "https://id.example.evil",
        ] {
            assert!(read_jwks_uri(&doc(wrong), "https://id.example", false).is_err());
        }
    }

    #[test]
    fn jwks_uri_must_be_https_or_loopback() {
        let doc = json!({"issuer": "https://id.example", "jwks_uri": "http://id.example/jwks"});
        assert!(read_jwks_uri(&doc, "https://id.example", false).is_err());
        assert!(read_jwks_uri(&doc, "https://id.example", true).is_ok());
        let none = json!({"issuer": "https://id.example"});
        assert!(read_jwks_uri(&none, "https://id.example", false).is_err());
    }
}
