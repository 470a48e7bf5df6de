//! [`KeyFetchError`]: why an issuer's key set could not be fetched, with the values that
//! say where to look (the URL, the status, both issuers of a mismatch), for
//! [`Validator::ready`](crate::Validator::ready) and the key cache's warnings.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use reqwest::Url;

use crate::http::{FailedFetch, FetchError};

/// Why an issuer's key set could not be fetched: the precise cause, naming the URL it
/// concerns and the values involved. Never a token, a key or a secret: URLs are shown
/// without their user name and password.
///
/// Returned inside [`NotReady`](crate::NotReady) by
/// [`Validator::ready`](crate::Validator::ready), and logged (field `error`) with each
/// key-fetch warning.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFetchError {
    /// The host name did not resolve (DNS).
    #[non_exhaustive]
    Dns {
        /// The URL requested.
        url: String,
        /// The host that did not resolve.
        host: String,
    },
    /// No connection could be made: refused (nothing listens on the port), host or
    /// network unreachable.
    #[non_exhaustive]
    Connect {
        /// The URL requested.
        url: String,
        /// The operating system's or the HTTP client's words.
        detail: String,
    },
    /// No complete answer within the fetch timeout (connect, headers and body together).
    #[non_exhaustive]
    Timeout {
        /// The URL requested.
        url: String,
        /// The timeout that passed (`fetch_timeout`).
        after: Duration,
    },
    /// The TLS handshake failed: the server does not speak TLS, or its certificate is not
    /// trusted or not for this host.
    #[non_exhaustive]
    Tls {
        /// The URL requested.
        url: String,
        /// The TLS library's words.
        detail: String,
    },
    /// The server answered with a status other than success.
    #[non_exhaustive]
    Status {
        /// The URL requested.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// Another transport failure: the connection closed mid-answer, a redirect refused.
    #[non_exhaustive]
    Transport {
        /// The URL requested.
        url: String,
        /// The HTTP client's words.
        detail: String,
    },
    /// The answer was larger than `max_jwks_bytes`.
    #[non_exhaustive]
    TooLarge {
        /// The URL requested.
        url: String,
        /// The cap, in bytes.
        limit: usize,
    },
    /// The discovery document (OIDC Discovery section 4, RFC 8414 section 3) is
    /// unusable: not JSON, no `jwks_uri`, a `jwks_uri` that is not https.
    #[non_exhaustive]
    Discovery {
        /// The metadata URL.
        url: String,
        /// What is wrong with it.
        problem: String,
    },
    /// RFC 8414 section 3.3 (OIDC Discovery section 4.3): the discovery document's
    /// `issuer` is not identical to the configured issuer, so its keys cannot vouch for
    /// it. Usually a trailing slash, `http` for `https`, or a tenant path. Its `Display`
    /// ends with the setting that would have matched ("did you mean issuer(..)?"), which
    /// tokengate never adopts by itself.
    #[non_exhaustive]
    IssuerMismatch {
        /// The metadata URL.
        url: String,
        /// The issuer this validator is configured with.
        configured: String,
        /// The document's `issuer` (`None`: it has none), at most 256 characters of it.
        found: Option<String>,
    },
    /// The JWKS is not a JWK Set (RFC 7517 section 5): not JSON, or no `keys` array.
    #[non_exhaustive]
    InvalidJwks {
        /// The JWKS URL.
        url: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The JWKS holds no key fit to verify signatures: every key was skipped (symmetric,
    /// `use` other than `sig`, RSA under 2048 bits, an unknown curve...).
    #[non_exhaustive]
    NoUsableKey {
        /// The JWKS URL.
        url: String,
        /// Keys in the document.
        published: usize,
        /// Keys skipped as unusable (`RUST_LOG=tokengate=debug` logs each one's reason).
        skipped: usize,
    },
    /// No attempt was made: the fetch budget forbids one for this long (the cause of the
    /// last failure is reported instead whenever it is known).
    #[non_exhaustive]
    RetryLater {
        /// When the next attempt is allowed.
        retry_in: Duration,
    },
}

impl KeyFetchError {
    /// A stable, lower-case label for this cause, for metrics, logs and readiness checks.
    pub const fn as_str(&self) -> &'static str {
        match self {
            KeyFetchError::Dns { .. } => "dns",
            KeyFetchError::Connect { .. } => "connect",
            KeyFetchError::Timeout { .. } => "timeout",
            KeyFetchError::Tls { .. } => "tls",
            KeyFetchError::Status { .. } => "status",
            KeyFetchError::Transport { .. } => "transport",
            KeyFetchError::TooLarge { .. } => "too_large",
            KeyFetchError::Discovery { .. } => "discovery",
            KeyFetchError::IssuerMismatch { .. } => "issuer_mismatch",
            KeyFetchError::InvalidJwks { .. } => "invalid_jwks",
            KeyFetchError::NoUsableKey { .. } => "no_usable_key",
            KeyFetchError::RetryLater { .. } => "retry_later",
        }
    }

    /// The URL the failure concerns, if there is one.
    pub fn url(&self) -> Option<&str> {
        match self {
            KeyFetchError::Dns { url, .. }
            | KeyFetchError::Connect { url, .. }
            | KeyFetchError::Timeout { url, .. }
            | KeyFetchError::Tls { url, .. }
            | KeyFetchError::Status { url, .. }
            | KeyFetchError::Transport { url, .. }
            | KeyFetchError::TooLarge { url, .. }
            | KeyFetchError::Discovery { url, .. }
            | KeyFetchError::IssuerMismatch { url, .. }
            | KeyFetchError::InvalidJwks { url, .. }
            | KeyFetchError::NoUsableKey { url, .. } => Some(url),
            KeyFetchError::RetryLater { .. } => None,
        }
    }

    /// A failure of discovery, for the validator configured with `issuer`.
    pub(crate) fn discovery(failed: FailedFetch, issuer: &str, timeout: Duration) -> Self {
        let url = shown(&failed.url);
        match failed.error {
            FetchError::IssuerMismatch { found } => KeyFetchError::IssuerMismatch {
                url,
                configured: issuer.to_owned(),
                found,
            },
            FetchError::NotJson(error) => KeyFetchError::Discovery {
                url,
                problem: format!("not JSON: {error}"),
            },
            FetchError::Invalid(problem) => KeyFetchError::Discovery {
                url,
                problem: problem.to_owned(),
            },
            other => KeyFetchError::request(&failed.url, other, timeout),
        }
    }

    /// A failure of the JWKS request to `url`.
    pub(crate) fn jwks(url: &Url, error: FetchError, timeout: Duration) -> Self {
        match error {
            FetchError::NotJson(error) => KeyFetchError::InvalidJwks {
                url: shown(url),
                problem: format!("not JSON: {error}"),
            },
            FetchError::Invalid(problem) => KeyFetchError::InvalidJwks {
                url: shown(url),
                problem: problem.to_owned(),
            },
            other => KeyFetchError::request(url, other, timeout),
        }
    }

    /// A failure of the request itself (transport, status, size), whatever it fetched.
    fn request(url: &Url, error: FetchError, timeout: Duration) -> Self {
        let shown_url = shown(url);
        match error {
            FetchError::Timeout => KeyFetchError::Timeout {
                url: shown_url,
                after: timeout,
            },
            FetchError::Status(status) => KeyFetchError::Status {
                url: shown_url,
                status,
            },
            FetchError::TooLarge(limit) => KeyFetchError::TooLarge {
                url: shown_url,
                limit,
            },
            FetchError::Transport(error) => transport(url, &error, timeout),
            // Stage-specific errors are mapped by the callers; anything else is a
            // problem with what came back.
            other => KeyFetchError::Transport {
                url: shown_url,
                detail: other.to_string(),
            },
        }
    }
}

/// Sorts a transport failure by the errors it wraps: the resolver's, the operating
/// system's (`io::ErrorKind`), rustls'.
fn transport(url: &Url, error: &reqwest::Error, timeout: Duration) -> KeyFetchError {
    let detail = causes(error);
    let shown_url = shown(url);
    if error.is_timeout() {
        return KeyFetchError::Timeout {
            url: shown_url,
            after: timeout,
        };
    }
    let mut source: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(current) = source {
        // hyper-util's connector names a failed resolution so ("dns error").
        if current.to_string() == "dns error" {
            return KeyFetchError::Dns {
                url: shown_url,
                host: url.host_str().unwrap_or_default().to_owned(),
            };
        }
        if current.is::<rustls::Error>() {
            return KeyFetchError::Tls {
                url: shown_url,
                detail,
            };
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            // An io::Error hides its payload from `source()`: look inside.
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>())
            {
                return KeyFetchError::Tls {
                    url: shown_url,
                    detail,
                };
            }
            use std::io::ErrorKind::*;
            match io.kind() {
                ConnectionRefused | HostUnreachable | NetworkUnreachable | AddrNotAvailable => {
                    return KeyFetchError::Connect {
                        url: shown_url,
                        detail,
                    };
                }
                TimedOut => {
                    return KeyFetchError::Timeout {
                        url: shown_url,
                        after: timeout,
                    };
                }
                _ => {}
            }
        }
        source = current.source();
    }
    if error.is_connect() && url.scheme() == "https" {
        // Connected, but no session: the handshake is what failed (a server that closes
        // on a ClientHello it cannot read, say).
        return KeyFetchError::Tls {
            url: shown_url,
            detail,
        };
    }
    if error.is_connect() {
        return KeyFetchError::Connect {
            url: shown_url,
            detail,
        };
    }
    KeyFetchError::Transport {
        url: shown_url,
        detail,
    }
}

/// The messages of the errors `error` wraps, outermost first, without reqwest's own
/// (which repeats the URL).
fn causes(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = error.source();
    while let Some(current) = source {
        let text = current.to_string();
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                let inner = inner.to_string();
                if !parts.contains(&inner) {
                    parts.push(inner);
                }
                source = current.source();
                continue;
            }
        }
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = current.source();
    }
    if parts.is_empty() {
        parts.push(error.to_string());
    }
    parts.join(": ")
}

/// `url` as shown in logs and readiness reports: without user name and password.
pub(crate) fn shown(url: &Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.to_string();
    }
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

impl fmt::Display for KeyFetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFetchError::Dns { url, host } => {
                write!(f, "DNS: {host} did not resolve (fetching {url})")
            }
            KeyFetchError::Connect { url, detail } => {
                write!(f, "cannot connect to {url}: {detail}")
            }
            KeyFetchError::Timeout { url, after } => {
                write!(f, "no answer from {url} within {} ms", after.as_millis())
            }
            KeyFetchError::Tls { url, detail } => write!(f, "TLS with {url} failed: {detail}"),
            KeyFetchError::Status { url, status } => write!(f, "HTTP {status} from {url}"),
            KeyFetchError::Transport { url, detail } => write!(f, "fetching {url}: {detail}"),
            KeyFetchError::TooLarge { url, limit } => {
                write!(f, "the answer from {url} is larger than {limit} bytes")
            }
            KeyFetchError::Discovery { url, problem } => {
                write!(f, "discovery document {url} is unusable: {problem}")
            }
            KeyFetchError::IssuerMismatch {
                url,
                configured,
                found: Some(found),
            } => {
                write!(
                    f,
                    "issuer mismatch: configured {configured:?}, discovery document {url} says {found:?}"
                )?;
                did_you_mean(f, configured, found)
            }
            KeyFetchError::IssuerMismatch {
                url,
                configured,
                found: None,
            } => write!(
                f,
                "issuer mismatch: configured {configured:?}, discovery document {url} names no issuer"
            ),
            KeyFetchError::InvalidJwks { url, problem } => {
                write!(f, "the JWKS at {url} is not a JWK Set: {problem}")
            }
            KeyFetchError::NoUsableKey {
                url,
                published,
                skipped,
            } => write!(
                f,
                "the JWKS at {url} has no usable signature key ({published} published, {skipped} skipped)"
            ),
            KeyFetchError::RetryLater { retry_in } => write!(
                f,
                "no key set yet; the next fetch is allowed in {} ms",
                retry_in.as_millis()
            ),
        }
    }
}

impl StdError for KeyFetchError {}

/// The setting that would have matched the discovery document's `issuer` (RFC 8414
/// section 3.3 compares exactly, so tokengate never guesses it), for whoever reads the
/// warning or the readiness report: a trailing slash (Auth0's issuers end with one,
/// Okta's do not), or an issuer template (Entra's `common` document names one).
fn did_you_mean(f: &mut fmt::Formatter<'_>, configured: &str, found: &str) -> fmt::Result {
    // `TENANT_PLACEHOLDER`, spelled out: the key cache does not import the validator.
    if found.contains("{tenantid}") {
        return write!(
            f,
            "; did you mean issuer_template({found:?}, ..) with key_source(KeySource::discovery_at({configured:?}))?"
        );
    }
    write!(f, "; did you mean issuer({found:?})?")?;
    if found.trim_end_matches('/') == configured.trim_end_matches('/') {
        f.write_str(" (issuers are compared exactly: the trailing slash counts)")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_credentials() {
        let url = Url::parse("https://user:secret@id.example/jwks?x=1").unwrap();
        assert_eq!(shown(&url), "https://id.example/jwks?x=1");
        let plain = Url::parse("https://id.example/jwks").unwrap();
        assert_eq!(shown(&plain), "https://id.example/jwks");
    }

    #[test]
    fn an_issuer_mismatch_names_both_issuers() {
        let error = KeyFetchError::IssuerMismatch {
            url: "https://id.example/.well-known/openid-configuration".into(),
            configured: "https://id.example".into(),
            found: Some("https://id.example/".into()),
        };
        let text = error.to_string();
        assert!(
            text.contains(r#"configured "https://id.example""#),
            "{text}"
        );
        assert!(text.contains(r#"says "https://id.example/""#), "{text}");
        assert!(
            text.ends_with(r#"; did you mean issuer("https://id.example/")? (issuers are compared exactly: the trailing slash counts)"#),
            "{text}"
        );
        assert_eq!(error.as_str(), "issuer_mismatch");
        let other = KeyFetchError::IssuerMismatch {
            url: "https://id.example/.well-known/openid-configuration".into(),
            configured: "https://id.example".into(),
            found: Some("https://login.id.example".into()),
        };
        let text = other.to_string();
        assert!(
            text.ends_with(r#"; did you mean issuer("https://login.id.example")?"#),
            "{text}"
        );
        // Entra's common document names the template: configured as the issuer, the
        // hint is the template and the discovery URL.
        let common = KeyFetchError::IssuerMismatch {
            url: "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"
                .into(),
            configured: "https://login.microsoftonline.com/common/v2.0".into(),
            found: Some("https://login.microsoftonline.com/{tenantid}/v2.0".into()),
        };
        let text = common.to_string();
        assert!(
            text.contains(r#"did you mean issuer_template("https://login.microsoftonline.com/{tenantid}/v2.0", ..) with key_source(KeySource::discovery_at("https://login.microsoftonline.com/common/v2.0"))?"#),
            "{text}"
        );
    }
}
