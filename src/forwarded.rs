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
//!
//! // A whole subnet of proxies (a load balancer's), IPv4 or IPv6.
//! let subnet = TrustedProxies::cidr("10.0.0.0/16").unwrap();
//! assert!(subnet.contains("10.0.200.1".parse().unwrap()));
//! assert!(TrustedProxies::cidr("10.0.0.7/16").is_err()); // host bits set: a typo?
//! ```

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use crate::error::InvalidRequest;
use crate::request::RequestParts;

/// The peers whose forwarding headers are believed: the reverse proxies in front of the
/// API, by address. Cheap to clone; one value can serve a [`ForwardedOrigin`] and a
/// [`CertificateSource`](crate::binding::mtls::CertificateSource) alike.
///
/// Proxies are named by address ([`list`](Self::list)) or by network in CIDR notation
/// ([`cidr`](Self::cidr), [`cidrs`](Self::cidrs): RFC 4632 section 3.1 for IPv4, RFC
/// 4291 section 2.3 for IPv6). A peer is compared by value: an IPv4-mapped IPv6 peer,
/// `::ffff:10.0.0.7` (what a dual-stack socket reports for an IPv4 client), is the IPv4
/// address it maps, and matches IPv4 addresses and networks only.
///
/// The proxies must overwrite the headers they set, never pass on a client's own: a
/// proxy that appends to a client's `Forwarded` makes the request ambiguous, and
/// ambiguous requests are refused (400).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Arc<[Network]>,
}

/// One trusted network: an address whose bits past `prefix` are zero. A single address
/// is the network of its full length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    fn host(addr: IpAddr) -> Self {
        let addr = addr.to_canonical();
        Network {
            addr,
            prefix: bits(addr),
        }
    }

    fn contains(&self, peer: IpAddr) -> bool {
        match (self.addr, peer) {
            (IpAddr::V4(net), IpAddr::V4(peer)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(peer) & mask == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(peer)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(peer) & mask == u128::from(net)
            }
            _ => false,
        }
    }
}

/// The length of an address in bits: the longest prefix of its family.
fn bits(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// A network that [`TrustedProxies::cidr`] refuses, and why. Its message quotes the
/// input, which is configuration, never request data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidCidr {
    input: String,
    reason: &'static str,
}

impl fmt::Display for InvalidCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "trusted proxy network {:?}: {}", self.input, self.reason)
    }
}

impl std::error::Error for InvalidCidr {}

/// Parses one trusted network, strictly: `address/prefix` or a bare address (the
/// network of that one address).
///
/// - the address as the standard library reads it (dotted-quad IPv4 without leading
///   zeros, so `010.0.0.1` is no octal trap; RFC 4291 section 2.2 IPv6 text, no zone);
/// - the prefix in decimal, no sign, no leading zero, at most 32 (IPv4) or 128 (IPv6);
/// - no bit set past the prefix: `10.0.0.7/8` is refused rather than read as
///   `10.0.0.0/8`, as it is far more likely a mistyped `/32` (or a mistyped address)
///   than a wish to trust sixteen million peers;
/// - no IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`): peers are compared as IPv4,
///   so the IPv4 network is what to write;
/// - nothing else: no spaces, no second `/`.
fn parse_network(input: &str) -> Result<Network, InvalidCidr> {
    let refuse = |reason| InvalidCidr {
        input: input.to_owned(),
        reason,
    };
    let (addr, prefix) = match input.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (input, None),
    };
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| refuse("not an IPv4 or IPv6 address"))?;
    if let IpAddr::V6(v6) = addr {
        if v6.to_ipv4_mapped().is_some() {
            return Err(refuse(
                "an IPv4-mapped IPv6 address: write the IPv4 address or network",
            ));
        }
    }
    let Some(prefix) = prefix else {
        return Ok(Network::host(addr));
    };
    let digits_only = !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || (prefix.len() > 1 && prefix.starts_with('0')) || prefix.len() > 3 {
        return Err(refuse("the prefix length is not a decimal number"));
    }
    let prefix: u8 = prefix
        .parse()
        .map_err(|_| refuse("the prefix length is not a decimal number"))?;
    if prefix > bits(addr) {
        return Err(refuse(
            "the prefix length is longer than the address (32 for IPv4, 128 for IPv6)",
        ));
    }
    let network = Network { addr, prefix };
    if !network.contains(addr) {
        return Err(refuse(
            "bits are set past the prefix length: write the network address (or /32, /128 for one host)",
        ));
    }
    Ok(network)
}

impl TrustedProxies {
    /// Believes no peer: forwarding headers are ignored. The default.
    pub fn none() -> Self {
        TrustedProxies::default()
    }

    /// Believes the peers at exactly these addresses.
    pub fn list(addrs: impl IntoIterator<Item = IpAddr>) -> Self {
        TrustedProxies {
            networks: addrs.into_iter().map(Network::host).collect(),
        }
    }

    /// Believes every peer in one network, in CIDR notation: `10.0.0.0/8`,
    /// `fd00:ab::/32`, or a bare address for that one peer. Strict: a prefix too long
    /// for the address, bits set past the prefix (`10.0.0.7/8`), an IPv4-mapped IPv6
    /// network, or anything else than an address and a decimal prefix is an
    /// [`InvalidCidr`] naming the input.
    ///
    /// ```
    /// use tokengate::forwarded::TrustedProxies;
    ///
    /// let proxies = TrustedProxies::cidr("2001:db8:7::/48").unwrap();
    /// assert!(proxies.contains("2001:db8:7:1::5".parse().unwrap()));
    /// assert!(!proxies.contains("2001:db8:8::5".parse().unwrap()));
    /// for bad in ["10.0.0.0/33", "10.0.0.1/8", "10.0.0.0/", "10.0.0.0/8 ", "proxy"] {
    ///     assert!(TrustedProxies::cidr(bad).is_err(), "{bad}");
    /// }
    /// ```
    pub fn cidr(network: &str) -> Result<Self, InvalidCidr> {
        TrustedProxies::cidrs([network])
    }

    /// Believes every peer in any of these networks ([`cidr`](Self::cidr)'s notation
    /// each); the first invalid one is the error. An empty list believes no one.
    ///
    /// ```
    /// use tokengate::forwarded::TrustedProxies;
    ///
    /// let proxies = TrustedProxies::cidrs(["10.0.0.0/8", "192.168.1.7", "fd00::/8"]).unwrap();
    /// assert!(proxies.contains("10.1.2.3".parse().unwrap()));
    /// assert!(proxies.contains("::ffff:192.168.1.7".parse().unwrap())); // IPv4-mapped
    /// assert!(!proxies.contains("192.168.1.8".parse().unwrap()));
    /// ```
    pub fn cidrs<'a>(networks: impl IntoIterator<Item = &'a str>) -> Result<Self, InvalidCidr> {
        Ok(TrustedProxies {
            networks: networks
                .into_iter()
                .map(parse_network)
                .collect::<Result<_, _>>()?,
        })
    }

    /// Whether `peer` is one of the proxies.
    pub fn contains(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.networks.iter().any(|network| network.contains(peer))
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
    fn networks_contain_exactly_their_addresses() {
        let cases: [(&str, &[&str], &[&str]); 7] = [
            (
                "10.0.0.0/8",
                &["10.0.0.0", "10.255.255.255", "::ffff:10.1.2.3"],
                &["11.0.0.0", "9.255.255.255", "::a00:1", "::ffff:11.0.0.1"],
            ),
            (
                "192.168.1.7/32",
                &["192.168.1.7"],
                &["192.168.1.6", "192.168.1.8"],
            ),
            ("192.168.1.7", &["192.168.1.7"], &["192.168.1.70"]),
            // Everything of one family, none of the other.
            (
                "0.0.0.0/0",
                &["1.2.3.4", "255.255.255.255"],
                &["::1", "fd00::1"],
            ),
            (
                "::/0",
                &["::1", "2001:db8::1"],
                &["10.0.0.1", "::ffff:10.0.0.1"],
            ),
            (
                "2001:db8:7::/48",
                &["2001:db8:7::", "2001:db8:7:ffff:ffff:ffff:ffff:ffff"],
                &["2001:db8:8::", "2001:db8:6:ffff::1"],
            ),
            ("fd00::1/128", &["fd00::1"], &["fd00::2", "fd00::"]),
        ];
        for (network, inside, outside) in cases {
            let proxies = TrustedProxies::cidr(network).unwrap();
            for peer in inside {
                assert!(
                    proxies.contains(peer.parse().unwrap()),
                    "{peer} in {network}"
                );
            }
            for peer in outside {
                assert!(
                    !proxies.contains(peer.parse().unwrap()),
                    "{peer} not in {network}"
                );
            }
        }
        // Prefixes that do not fall on an octet.
        let odd = TrustedProxies::cidr("172.16.0.0/12").unwrap();
        assert!(odd.contains("172.31.255.255".parse().unwrap()));
        assert!(!odd.contains("172.32.0.0".parse().unwrap()));
        assert!(!odd.contains("172.15.255.255".parse().unwrap()));
        let list = TrustedProxies::cidrs(["10.0.0.0/8", "fd00::/8"]).unwrap();
        assert!(list.contains("10.9.9.9".parse().unwrap()));
        assert!(list.contains("fdff::1".parse().unwrap()));
        assert!(!list.contains("fe00::1".parse().unwrap()));
        assert_eq!(TrustedProxies::cidrs([]).unwrap(), TrustedProxies::none());
    }

    #[test]
    fn malformed_networks_are_refused_with_the_input_named() {
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/256",
            "10.0.0.0/99999999999999999999",
            "10.0.0.1/8",
            "10.0.0.0/0x8",
            "172.16.0.1/12",
            "2001:db8::1/32",
            "10.0.0.0/",
            "/8",
            "",
            "10.0.0.0/08",
            "10.0.0.0/+8",
            "10.0.0.0/-1",
            "10.0.0.0/8/8",
            " 10.0.0.0/8",
            "10.0.0.0/8 ",
            "10.0.0.0 /8",
            "010.0.0.0/8",
            "10.0.0/24",
            "10.0.0.0.0/8",
            "256.0.0.0/8",
            "fe80::1%eth0/128",
            "[::1]/128",
            "::ffff:10.0.0.0/104",
            "::ffff:10.0.0.7",
            "localhost",
            "10.0.0.0/８",
            r"10.0.0.0\8",
        ] {
            let error = TrustedProxies::cidr(bad).expect_err(bad);
            assert!(
                error.to_string().contains(&format!("{bad:?}")),
                "{bad}: {error}"
            );
        }
        // One bad network spoils the list.
        assert!(TrustedProxies::cidrs(["10.0.0.0/8", "10.0.0.0/33"]).is_err());
        // The shortest and longest prefixes are fine.
        for good in ["0.0.0.0/0", "::/0", "10.0.0.7/32", "::1/128", "10.0.0.0/8"] {
            assert!(TrustedProxies::cidr(good).is_ok(), "{good}");
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
