//! Bounded HTTP GETs of JSON documents (discovery metadata, JWK Sets).
//!
//! Every fetch has a deadline covering connect, headers and body, and a cap on the body
//! size that is enforced while reading, so a slow, hung or hostile issuer costs at most
//! the timeout and the cap.

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
        }
    }
}

/// Limits that apply to every fetch.
#[derive(Debug, Clone)]
pub(crate) struct FetchLimits {
    pub(crate) timeout: Duration,
    pub(crate) max_body: usize,
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

/// The redirect policy of the default client: at most [`MAX_REDIRECTS`], and only to
/// URLs the scheme policy allows, so a redirect cannot move a fetch to plain http.
pub(crate) fn redirect_policy(allow_http: bool) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else if !scheme_allowed(attempt.url(), allow_http) {
            attempt.error("redirect to a URL the scheme policy refuses")
        } else {
            attempt.follow()
        }
    })
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

fn is_loopback(url: &Url) -> bool {
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
}
