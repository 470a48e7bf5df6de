//! Bounded HTTP GETs of JSON documents (discovery metadata, JWK Sets).
//!
//! Every fetch has a deadline covering connect, headers and body, and a cap on the body
//! size that is enforced while reading, so a slow, hung or hostile issuer costs at most
//! the timeout and the cap.

use std::fmt;
use std::time::Duration;

use reqwest::Url;
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

/// GETs `url` and parses its body as JSON, within `limits`.
pub(crate) async fn fetch_json(
    client: &reqwest::Client,
    url: &Url,
    limits: &FetchLimits,
) -> Result<Value, FetchError> {
    let request = async {
        let mut response = client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(FetchError::Transport)?;
        let status = response.status();
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
        serde_json::from_slice(&body).map_err(FetchError::NotJson)
    };
    tokio::time::timeout(limits.timeout, request)
        .await
        .unwrap_or(Err(FetchError::Timeout))
}

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
