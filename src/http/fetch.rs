//! Bounded HTTP GETs of JSON documents (discovery metadata, JWK Sets).
//!
//! Every fetch has a deadline covering connect, headers and body, and a cap on the body
//! size that is enforced while reading, so a slow, hung or hostile issuer costs at most
//! the timeout and the cap.
//!
//! This module also holds the one scheme policy every URL tokengate contacts obeys
//! (discovery, JWKS, introspection metadata, the introspection POST): [`scheme_allowed`]
//! for where a request may go, [`redirect_allowed`] for where a response may come from.
//! Each request checks its URL before any byte is sent, and the URL its answer came
//! from after, whoever built the HTTP client.

use std::fmt;
use std::time::Duration;

use reqwest::header::{
    ETAG, HeaderMap, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use reqwest::{StatusCode, Url};
use serde_json::Value;

/// Why a fetch failed. For logs only: never shown to a client.
#[derive(Debug)]
pub(crate) enum FetchError {
    Timeout,
    Transport(reqwest::Error),
    Status(u16),
    TooLarge(usize),
    NotJson(serde_json::Error),
    Invalid(&'static str),
    /// RFC 8414 section 3.3: the metadata's `issuer` (as found, if a string) is not ours.
    IssuerMismatch {
        found: Option<String>,
    },
}

/// A failed fetch and the URL it was for: what the logs and readiness name.
#[derive(Debug)]
pub(crate) struct FailedFetch {
    pub(crate) url: Url,
    pub(crate) error: FetchError,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Timeout => f.write_str("timed out"),
            FetchError::Transport(e) => write!(f, "transport error: {e}"),
            FetchError::Status(s) => write!(f, "HTTP status {s}"),
            FetchError::TooLarge(cap) => write!(f, "body larger than {cap} bytes"),
            FetchError::NotJson(e) => write!(f, "body is not JSON: {e}"),
            FetchError::Invalid(why) => f.write_str(why),
            FetchError::IssuerMismatch { found: Some(found) } => write!(
                f,
                "the metadata's issuer {found:?} differs from the configured issuer"
            ),
            FetchError::IssuerMismatch { found: None } => f.write_str("the metadata has no issuer"),
        }
    }
}

/// Limits that apply to every fetch.
#[derive(Debug, Clone)]
pub(crate) struct FetchLimits {
    pub(crate) timeout: Duration,
    pub(crate) max_body: usize,
    /// The scheme policy's opt-in: plain `http` to any host ([`scheme_allowed`]).
    pub(crate) allow_http: bool,
}

/// Validators from an earlier response, for a conditional GET (RFC 9110 section 13.1).
#[derive(Debug, Clone, Default)]
pub(crate) struct Conditional {
    pub(crate) etag: Option<HeaderValue>,
    pub(crate) last_modified: Option<HeaderValue>,
}

/// A successful fetch.
#[derive(Debug)]
pub(crate) struct Fetched {
    /// The parsed body, or `None` for `304 Not Modified`.
    pub(crate) body: Option<Value>,
    /// The response headers (caching directives, validators).
    pub(crate) headers: HeaderMap,
}

impl Fetched {
    /// The validators to send on the next conditional request.
    pub(crate) fn conditional(&self) -> Conditional {
        Conditional {
            etag: self.headers.get(ETAG).cloned(),
            last_modified: self.headers.get(LAST_MODIFIED).cloned(),
        }
    }
}

/// GETs `url`, conditionally when `conditional` holds validators, within `limits`.
pub(crate) async fn fetch(
    client: &reqwest::Client,
    url: &Url,
    limits: &FetchLimits,
    conditional: &Conditional,
) -> Result<Fetched, FetchError> {
    check_url(url, limits.allow_http)?;
    let request = async {
        let mut request = client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(etag) = &conditional.etag {
            request = request.header(IF_NONE_MATCH, etag.clone());
        }
        if let Some(date) = &conditional.last_modified {
            request = request.header(IF_MODIFIED_SINCE, date.clone());
        }
        let mut response = request.send().await.map_err(FetchError::Transport)?;
        // A client of the user's may follow redirects the default client would refuse.
        check_final_url(url, response.url(), limits.allow_http)?;
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let conditional_sent = conditional.etag.is_some() || conditional.last_modified.is_some();
        if status == StatusCode::NOT_MODIFIED && conditional_sent {
            return Ok(Fetched {
                body: None,
                headers,
            });
        }
        if !status.is_success() {
            return Err(FetchError::Status(status.as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|len| len > limits.max_body as u64)
        {
            return Err(FetchError::TooLarge(limits.max_body));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(FetchError::Transport)? {
            if body.len() + chunk.len() > limits.max_body {
                return Err(FetchError::TooLarge(limits.max_body));
            }
            body.extend_from_slice(&chunk);
        }
        let body = serde_json::from_slice(&body).map_err(FetchError::NotJson)?;
        Ok(Fetched {
            body: Some(body),
            headers,
        })
    };
    tokio::time::timeout(limits.timeout, request)
        .await
        .unwrap_or(Err(FetchError::Timeout))
}

/// The redirect policy of the default client for GETs (discovery, JWKS): at most
/// [`MAX_REDIRECTS`], and only where [`redirect_allowed`] says, so a redirect can neither
/// move a fetch to plain http nor turn an https fetch into a GET of a local service.
pub(crate) fn redirect_policy(allow_http: bool) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        let original = attempt.previous().first().cloned();
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else if !original.is_some_and(|from| redirect_allowed(&from, attempt.url(), allow_http)) {
            attempt.error("redirect to a URL the scheme policy refuses")
        } else {
            attempt.follow()
        }
    })
}

/// `Err` unless `url` may be contacted ([`scheme_allowed`]): checked before any request
/// is sent, so a refused URL is never connected to.
pub(crate) fn check_url(url: &Url, allow_http: bool) -> Result<(), FetchError> {
    if scheme_allowed(url, allow_http) {
        Ok(())
    } else {
        Err(FetchError::Invalid(
            "the URL is not https (plain http only to loopback hosts, or with allow_insecure_http)",
        ))
    }
}

/// `Err` unless an answer to a request for `requested` may come from `answered`: the
/// same URL, or a redirect target [`redirect_allowed`] accepts. A user-supplied client
/// may follow any redirect; this refuses what it brings back.
pub(crate) fn check_final_url(
    requested: &Url,
    answered: &Url,
    allow_http: bool,
) -> Result<(), FetchError> {
    if answered == requested || redirect_allowed(requested, answered, allow_http) {
        Ok(())
    } else {
        Err(FetchError::Invalid(
            "redirected to a URL the scheme policy refuses",
        ))
    }
}

/// `Err` if the answer to a request for `requested` came from anywhere else: for the
/// introspection POST, which follows no redirect (a 307 or 308 would re-send the token
/// and, with `client_secret_post`, the secret).
pub(crate) fn check_not_redirected(
    requested: &Url,
    response: &reqwest::Response,
) -> Result<(), FetchError> {
    if response.url() == requested {
        Ok(())
    } else {
        Err(FetchError::Invalid(
            "the introspection request was redirected",
        ))
    }
}

/// Whether a request for `from` may be redirected to `to`:
///
/// - with `allow_http`, to any URL [`scheme_allowed`] accepts;
/// - else to `https` anywhere;
/// - to loopback `http` only from loopback `http` (a development issuer on this
///   machine): an https issuer must not make us GET a local service.
///
/// Never from `https` to `http`: the attacker on the path of the second request could
/// swap the keys (RFC 8414 section 3 and RFC 7517 section 8 require TLS).
pub(crate) fn redirect_allowed(from: &Url, to: &Url, allow_http: bool) -> bool {
    match to.scheme() {
        "https" => true,
        "http" if allow_http => true,
        "http" => is_loopback(to) && from.scheme() == "http" && is_loopback(from),
        _ => false,
    }
}

/// Issuers move their JWKS behind a CDN now and then; more hops than this is a loop.
pub(crate) const MAX_REDIRECTS: usize = 3;

/// Whether `url` may be fetched: `https`, or `http` to a loopback host (development
/// issuers), or `http` anywhere when the user opted in.
pub(crate) fn scheme_allowed(url: &Url, allow_http: bool) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => allow_http || is_loopback(url),
        _ => false,
    }
}

/// Whether `url`'s host is `localhost` or a loopback address (plain `http` is allowed
/// there: the one policy for every URL tokengate contacts or publishes).
pub(crate) fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_is_allowed() {
        let ok = [
            "https://a.example/",
            "http://127.0.0.1:8/",
            "http://localhost/",
            "http://[::1]/",
        ];
        for u in ok {
            assert!(scheme_allowed(&Url::parse(u).unwrap(), false), "{u}");
        }
        let refused = [
            "http://a.example/",
            "http://10.0.0.1/",
            "file:///etc/passwd",
            "ftp://a/",
        ];
        for u in refused {
            assert!(!scheme_allowed(&Url::parse(u).unwrap(), false), "{u}");
        }
        assert!(scheme_allowed(
            &Url::parse("http://a.example/").unwrap(),
            true
        ));
        assert!(!scheme_allowed(&Url::parse("file:///x").unwrap(), true));
    }

    fn url(u: &str) -> Url {
        Url::parse(u).unwrap()
    }

    /// Issue 12, item 11: where an answer may come from, for each kind of original URL.
    #[test]
    fn redirects_never_leave_https_and_reach_loopback_http_only_from_it() {
        let https = url("https://id.example/jwks");
        let loopback = url("http://127.0.0.1:8/jwks");
        let cases = [
            (&https, "https://cdn.example/jwks", true),
            (&https, "http://cdn.example/jwks", false),
            // A blind GET of a local service, on an https issuer's say-so.
            (&https, "http://127.0.0.1:6379/", false),
            (&https, "http://localhost/admin", false),
            (&https, "http://[::1]/", false),
            (&loopback, "http://localhost:9/jwks", true),
            (&loopback, "https://id.example/jwks", true),
            (&loopback, "http://id.example/jwks", false),
            (&https, "file:///etc/passwd", false),
        ];
        for (from, to, allowed) in cases {
            assert_eq!(
                redirect_allowed(from, &url(to), false),
                allowed,
                "{from} -> {to}"
            );
            assert_eq!(
                check_final_url(from, &url(to), false).is_ok(),
                allowed,
                "{from} -> {to}"
            );
        }
        // The user's opt-in covers plain http anywhere, never another scheme.
        assert!(redirect_allowed(&https, &url("http://cdn.example/"), true));
        assert!(!redirect_allowed(&https, &url("ftp://cdn.example/"), true));
        // An answer from the URL asked is always fine.
        assert!(check_final_url(&https, &https, false).is_ok());
    }

    /// Issue 12, item 7: a URL the policy refuses is never connected to. (192.0.2.1 is
    /// TEST-NET-1: a connection attempt would hang until the timeout.)
    #[tokio::test]
    async fn a_refused_url_is_never_contacted() {
        let limits = FetchLimits {
            timeout: Duration::from_secs(30),
            max_body: 1024,
            allow_http: false,
        };
        let started = std::time::Instant::now();
        for remote in ["http://192.0.2.1/jwks", "http://example.invalid/jwks"] {
            let result = fetch(
                &reqwest::Client::new(),
                &url(remote),
                &limits,
                &Conditional::default(),
            )
            .await;
            assert!(
                matches!(result, Err(FetchError::Invalid(_))),
                "{remote}: {result:?}"
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no connection tried"
        );
    }
}
