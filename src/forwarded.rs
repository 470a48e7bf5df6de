//! What a reverse proxy may tell us about a request, and whom we believe: the peers named
//! in [`TrustedProxies`], and only them.
//!
//! Behind a proxy, the API's server sees the proxy's connection, not the client's: the
//! scheme and host the client used, and the client certificate it presented, reach it
//! only as headers the proxy sets. Any client can send those headers too, so they are
//! believed only when the request's peer address ([`RequestParts::peer`]) is one of the
//! proxies named here. Nothing is trusted by default.
//!
//! - [`ForwardedOrigin`]: the scheme and host the client used, from RFC 7239 `Forwarded`
//!   (`proto=`, `host=`: sections 5.3, 5.4) or `X-Forwarded-Proto` / `X-Forwarded-Host`,
//!   for the URI a DPoP proof signs (RFC 9449 section 4.3, `htu`):
//!   [`Dpop::forwarded_origin`](crate::binding::dpop::Dpop::forwarded_origin).
//! - a client-certificate header (RFC 8705 section 3 behind a TLS-terminating proxy):
//!   [`CertificateSource::header`](crate::binding::mtls::CertificateSource::header).
//!
//! ```
//! use std::net::{IpAddr, Ipv4Addr};
//! use tokengate::forwarded::{ForwardedOrigin, TrustedProxies};
//!
//! let proxies = TrustedProxies::list([IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7))]);
//! assert!(proxies.contains("10.0.0.7".parse().unwrap()));
//! assert!(!proxies.contains("10.0.0.8".parse().unwrap()));
//! assert!(!TrustedProxies::none().contains("10.0.0.7".parse().unwrap()));
//! let origin = ForwardedOrigin::rfc7239(proxies); // `Forwarded: proto=https;host=...`
//! ```

use std::net::IpAddr;
use std::sync::Arc;

use crate::error::InvalidRequest;
use crate::request::RequestParts;

/// The peers whose forwarding headers are believed: the reverse proxies in front of the
/// API, by address. Cheap to clone; one value can serve a [`ForwardedOrigin`] and a
/// [`CertificateSource`](crate::binding::mtls::CertificateSource) alike.
///
/// Addresses are compared exactly (an IPv4-mapped IPv6 peer, `::ffff:10.0.0.7`, is the
/// IPv4 address it maps). The proxies must overwrite the headers they set, never pass
/// on a client's own: a proxy that appends to a client's `Forwarded` makes the request
/// ambiguous, and ambiguous requests are refused (400).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    addrs: Arc<[IpAddr]>,
}

impl TrustedProxies {
    /// Believes no peer: forwarding headers are ignored. The default.
    pub fn none() -> Self {
        TrustedProxies::default()
    }

    /// Believes the peers at exactly these addresses.
    pub fn list(addrs: impl IntoIterator<Item = IpAddr>) -> Self {
        TrustedProxies {
            addrs: addrs.into_iter().map(|a| a.to_canonical()).collect(),
        }
    }

    /// Whether `peer` is one of the proxies.
    pub fn contains(&self, peer: IpAddr) -> bool {
        self.addrs.contains(&peer.to_canonical())
    }

    /// Whether the request came from one of the proxies (a request whose peer the adapter
    /// does not know did not).
    pub(crate) fn sent(&self, request: &RequestParts<'_>) -> bool {
        request.peer_addr().is_some_and(|peer| self.contains(peer))
    }
}

/// Which headers carry the client's scheme and host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Headers {
    /// RFC 7239 `Forwarded: proto=https;host=api.example.com`.
    Rfc7239,
    /// `X-Forwarded-Proto: https` and `X-Forwarded-Host: api.example.com`.
    XForwarded,
}

/// Where the scheme and host the client used come from behind a trusted proxy: one
/// family of headers, named explicitly (a proxy that sets one family and passes the
/// other through from the client would otherwise let the client choose).
///
/// From any other peer, or when the proxy sent neither, the configured public URL
/// stands. Malformed values, or values that disagree (two `host`s, two
/// `X-Forwarded-Proto` headers of different schemes), refuse the request with 400
/// `invalid_request`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardedOrigin {
    proxies: TrustedProxies,
    headers: Headers,
}

/// The scheme and host a trusted proxy said the client used (lower case); either may be
/// absent, and then the public URL's stands.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Origin {
    pub(crate) scheme: Option<String>,
    pub(crate) host: Option<String>,
}

impl ForwardedOrigin {
    /// RFC 7239 `Forwarded`: `proto=` (section 5.4) and `host=` (section 5.3), from
    /// these proxies.
    pub fn rfc7239(proxies: TrustedProxies) -> Self {
        ForwardedOrigin {
            proxies,
            headers: Headers::Rfc7239,
        }
    }

    /// `X-Forwarded-Proto` and `X-Forwarded-Host` (the de facto headers of nginx
    /// configurations, AWS load balancers, Traefik...), from these proxies.
    pub fn x_forwarded(proxies: TrustedProxies) -> Self {
        ForwardedOrigin {
            proxies,
            headers: Headers::XForwarded,
        }
    }

    /// What the request's proxy said, if it is one of ours: `Ok(None)` from any other
    /// peer.
    pub(crate) fn origin(
        &self,
        request: &RequestParts<'_>,
    ) -> Result<Option<Origin>, InvalidRequest> {
        if !self.proxies.sent(request) {
            return Ok(None);
        }
        let origin = match self.headers {
            Headers::Rfc7239 => parse_forwarded(&request.header_values("forwarded")),
            Headers::XForwarded => (|| {
                Ok(Origin {
                    scheme: single_item(&request.header_values("x-forwarded-proto"))?,
                    host: single_item(&request.header_values("x-forwarded-host"))?,
                })
            })(),
        }
        .map_err(|_| InvalidRequest::MalformedForwarded)?;
        check_origin(&origin)?;
        Ok(Some(origin))
    }
}

/// RFC 7239 section 5.4: `proto` is a URI scheme; only http(s) make sense for an `htu`.
/// Section 5.3: `host` is the `Host` the proxy received: a host and an optional port,
/// nothing else (no user, path or query that could reshape the URI).
fn check_origin(origin: &Origin) -> Result<(), InvalidRequest> {
    if let Some(scheme) = &origin.scheme {
        if !matches!(scheme.as_str(), "http" | "https") {
            return Err(InvalidRequest::MalformedForwarded);
        }
    }
    if let Some(host) = &origin.host {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-._:[]".contains(c);
        if host.is_empty() || !host.chars().all(allowed) {
            return Err(InvalidRequest::MalformedForwarded);
        }
        let url = reqwest::Url::parse(&format!("https://{host}/"))
            .map_err(|_| InvalidRequest::MalformedForwarded)?;
        if url.host_str().is_none() || url.path() != "/" {
            return Err(InvalidRequest::MalformedForwarded);
        }
    }
    Ok(())
}

/// Marks a header that cannot be read, or values that disagree.
#[derive(Debug, PartialEq, Eq)]
struct Malformed;

/// Sets `slot` to `value`, or checks it agrees with the value already there.
fn agree(slot: &mut Option<String>, value: String) -> Result<(), Malformed> {
    match slot {
        Some(seen) if *seen != value => Err(Malformed),
        Some(_) => Ok(()),
        None => {
            *slot = Some(value);
            Ok(())
        }
    }
}

/// The one value of an `X-Forwarded-*` header: every header line and every
/// comma-separated item must say the same thing (lower case).
fn single_item(values: &[&[u8]]) -> Result<Option<String>, Malformed> {
    let mut item = None;
    for value in values {
        let text = visible_ascii(value)?;
        for part in text.split(',') {
            let part = part.trim_matches([' ', '\t']);
            if part.is_empty() || part.contains([' ', '\t', '"']) {
                return Err(Malformed);
            }
            agree(&mut item, part.to_ascii_lowercase())?;
        }
    }
    Ok(item)
}

/// A header value as text: visible ASCII, spaces and tabs only (RFC 9110 section 5.5).
fn visible_ascii(value: &[u8]) -> Result<&str, Malformed> {
    if value
        .iter()
        .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b))
    {
        std::str::from_utf8(value).map_err(|_| Malformed)
    } else {
        Err(Malformed)
    }
}

/// RFC 9110 section 5.6.2 `tchar`.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// RFC 7239 section 4, every `Forwarded` line:
///
/// ```text
/// Forwarded         = 1#forwarded-element
/// forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )
/// forwarded-pair    = token "=" value
/// value             = token / quoted-string
/// ```
///
/// A parameter at most once per element (section 4); `proto` and `host` must agree
/// across every element and line, or the request is ambiguous.
fn parse_forwarded(values: &[&[u8]]) -> Result<Origin, Malformed> {
    let mut origin = Origin::default();
    for value in values {
        let mut rest = visible_ascii(value)?;
        let mut names: Vec<String> = Vec::new();
        loop {
            rest = rest.trim_start_matches([' ', '\t']);
            if !rest.is_empty() && !rest.starts_with([';', ',']) {
                let (name, value, after) = forwarded_pair(rest)?;
                let name = name.to_ascii_lowercase();
                if names.contains(&name) {
                    return Err(Malformed);
                }
                match name.as_str() {
                    "proto" => agree(&mut origin.scheme, value.to_ascii_lowercase())?,
                    "host" => agree(&mut origin.host, value.to_ascii_lowercase())?,
                    _ => {}
                }
                names.push(name);
                rest = after.trim_start_matches([' ', '\t']);
            }
            match rest.chars().next() {
                None => break,
                Some(';') => rest = &rest[1..],
                Some(',') => {
                    rest = &rest[1..];
                    names.clear();
                }
                Some(_) => return Err(Malformed),
            }
        }
    }
    Ok(origin)
}

/// One `token "=" value` at the start of `input`: the name, the value (a quoted
/// string unescaped) and what follows.
fn forwarded_pair(input: &str) -> Result<(&str, String, &str), Malformed> {
    let name_end = input.find(|c| !is_tchar(c)).unwrap_or(input.len());
    let (name, rest) = input.split_at(name_end);
    let rest = rest.strip_prefix('=').ok_or(Malformed)?;
    if name.is_empty() {
        return Err(Malformed);
    }
    if let Some(quoted) = rest.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return Ok((name, value, &quoted[i + 1..])),
                '\\' => value.push(chars.next().ok_or(Malformed)?.1),
                c => value.push(c),
            }
        }
        return Err(Malformed);
    }
    let value_end = rest.find(|c| !is_tchar(c)).unwrap_or(rest.len());
    let (value, after) = rest.split_at(value_end);
    if value.is_empty() {
        return Err(Malformed);
    }
    Ok((name, value.to_owned(), after))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(values: &[&str]) -> Result<Origin, Malformed> {
        let values: Vec<&[u8]> = values.iter().map(|v| v.as_bytes()).collect();
        parse_forwarded(&values)
    }

    fn origin(scheme: Option<&str>, host: Option<&str>) -> Origin {
        Origin {
            scheme: scheme.map(str::to_owned),
            host: host.map(str::to_owned),
        }
    }

    #[test]
    fn forwarded_proto_and_host_are_read_case_insensitively() {
        assert_eq!(
            forwarded(&["for=192.0.2.60;proto=HTTPS;Host=API.example.com"]),
            Ok(origin(Some("https"), Some("api.example.com")))
        );
        assert_eq!(
            forwarded(&[r#"for="[2001:db8:cafe::17]:4711"; host="api.example.com:8443""#]),
            Ok(origin(None, Some("api.example.com:8443")))
        );
        assert_eq!(forwarded(&["for=unknown"]), Ok(origin(None, None)));
        assert_eq!(forwarded(&[]), Ok(origin(None, None)));
        // Elements that agree, over one line or two.
        assert_eq!(
            forwarded(&["proto=https, proto=https;for=x", "proto=https"]),
            Ok(origin(Some("https"), None))
        );
    }

    #[test]
    fn malformed_or_conflicting_forwarded_is_refused() {
        for bad in [
            "proto",
            "proto=",
            "=https",
            "proto=https;proto=https",
            "proto=http, proto=https",
            "host=a.example, host=b.example",
            "proto=\"https",
            "proto=https host=x",
            "proto=ht\"tps",
            "proto=https;;for=\u{7f}",
            "pro to=https",
        ] {
            assert_eq!(forwarded(&[bad]), Err(Malformed), "{bad:?}");
        }
        assert_eq!(forwarded(&["host=a", "host=b"]), Err(Malformed));
        assert!(parse_forwarded(&[&[0xff, b'a'][..]]).is_err());
    }

    #[test]
    fn empty_pairs_and_elements_are_allowed() {
        assert_eq!(
            forwarded(&[";proto=https;, ,for=x"]),
            Ok(origin(Some("https"), None))
        );
    }

    #[test]
    fn x_forwarded_items_must_agree() {
        let items = |values: &[&str]| {
            let values: Vec<&[u8]> = values.iter().map(|v| v.as_bytes()).collect();
            single_item(&values)
        };
        assert_eq!(items(&["HTTPS"]), Ok(Some("https".to_owned())));
        assert_eq!(
            items(&["https, https", "https"]),
            Ok(Some("https".to_owned()))
        );
        assert_eq!(items(&[]), Ok(None));
        for bad in [
            &["http, https"][..],
            &["http", "https"],
            &["https,"],
            &["a b"],
        ] {
            assert_eq!(items(bad), Err(Malformed), "{bad:?}");
        }
    }

    #[test]
    fn only_http_schemes_and_plain_hosts_are_origins() {
        assert!(check_origin(&origin(Some("https"), Some("api.example.com:8443"))).is_ok());
        assert!(check_origin(&origin(Some("http"), Some("[::1]:80"))).is_ok());
        for (scheme, host) in [
            (Some("ftp"), None),
            (Some("javascript"), None),
            (None, Some("evil.example/path")),
            (None, Some("user@evil.example")),
            (None, Some("a.example?x")),
            (None, Some("")),
            (None, Some("a.example:99999")),
        ] {
            assert!(
                check_origin(&origin(scheme, host)).is_err(),
                "{scheme:?} {host:?}"
            );
        }
    }

    #[test]
    fn proxies_are_matched_exactly_and_ipv4_mapped_peers_are_ipv4() {
        let proxies = TrustedProxies::list(["10.0.0.7".parse().unwrap()]);
        assert!(proxies.contains("::ffff:10.0.0.7".parse().unwrap()));
        assert!(!proxies.contains("10.0.0.70".parse().unwrap()));
        let request = RequestParts::new();
        assert!(!proxies.sent(&request), "an unknown peer is not a proxy");
    }
}
