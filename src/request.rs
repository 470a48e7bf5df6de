//! What the [gate](crate::gate) sees of a request: the values of its credential headers,
//! its method and its target.
//!
//! Framework-neutral and borrowed: an adapter points a [`RequestParts`] at the request it
//! holds, without copying a byte, and hands it to [`Gate::decide`](crate::gate::Gate::decide).
//! The method and target are what a sender-constrained token's proof signs (RFC 9449
//! section 4.2, `htm` and `htu`); bearer tokens need only the `Authorization` values. A
//! certificate-bound token (RFC 8705 section 3) needs the client certificate of the
//! connection ([`RequestParts::client_certificate`]) or, behind a proxy, the peer address
//! and the header the proxy sets ([`RequestParts::peer`], [`RequestParts::headers`]).
//!
//! ```
//! use tokengate::request::RequestParts;
//!
//! let values: [&[u8]; 1] = [b"Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln"];
//! let request = RequestParts::new()
//!     .authorization(values)
//!     .method("GET")
//!     .target("/me");
//! assert_eq!(request.method_str(), "GET");
//! ```

use std::fmt;
use std::net::IpAddr;

/// The values one header name has in a request, as far as the gate needs to know:
/// none, one, or more than one (RFC 6750 section 2 and RFC 9449 section 4.3 both refuse
/// a credential sent twice). Holds the first value; never allocates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HeaderValues<'a> {
    /// The request does not carry the header.
    #[default]
    Absent,
    /// The header, once.
    One(&'a [u8]),
    /// The header more than once (its first value).
    Many(&'a [u8]),
}

impl<'a> HeaderValues<'a> {
    /// Reads the values of one header name; stops after the second.
    pub fn from_values<I>(values: I) -> Self
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let mut values = values.into_iter();
        match (values.next(), values.next()) {
            (None, _) => HeaderValues::Absent,
            (Some(first), None) => HeaderValues::One(first),
            (Some(first), Some(_)) => HeaderValues::Many(first),
        }
    }

    /// The values, as [`bearer::extract`](crate::bearer::extract) takes them: none, the
    /// one, or two (so "more than one" stays visible).
    pub(crate) fn iter(self) -> impl Iterator<Item = &'a [u8]> {
        let (first, second) = match self {
            HeaderValues::Absent => (None, None),
            HeaderValues::One(v) => (Some(v), None),
            // The second value's bytes are not kept; what matters is that there is one.
            HeaderValues::Many(v) => (Some(v), Some(&b""[..])),
        };
        first.into_iter().chain(second)
    }
}

/// The address of the peer that sent a request, for a tower stack that is not axum (axum's
/// `ConnectInfo<SocketAddr>` is read as it is): put it into the request's extensions and
/// `tokengate-tower` hands it to the gate ([`RequestParts::peer`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// Every value of one header name, in order: what [`RequestParts::headers`] looks up
/// (names are given lower case). An adapter's closure over its own header map.
pub type HeaderLookup<'a> = dyn Fn(&str) -> Vec<&'a [u8]> + 'a;

/// One request as the gate sees it. Built by an adapter per request, borrowed from the
/// framework's own request, so it costs no allocation.
#[derive(Clone, Copy, Default)]
pub struct RequestParts<'a> {
    authorization: HeaderValues<'a>,
    dpop: HeaderValues<'a>,
    method: &'a str,
    target: &'a str,
    client_certificate: Option<&'a [u8]>,
    peer: Option<IpAddr>,
    headers: Option<&'a HeaderLookup<'a>>,
}

impl fmt::Debug for RequestParts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestParts")
            .field("authorization", &self.authorization)
            .field("dpop", &self.dpop)
            .field("method", &self.method)
            .field("target", &self.target)
            .field(
                "client_certificate",
                &self.client_certificate.map(<[u8]>::len),
            )
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl<'a> RequestParts<'a> {
    /// A request with no credentials, no method and an empty target.
    pub fn new() -> Self {
        RequestParts::default()
    }

    /// The raw values of every `Authorization` header the request carries.
    pub fn authorization<I>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        self.authorization = HeaderValues::from_values(values);
        self
    }

    /// The raw values of every `DPoP` header the request carries (RFC 9449 section 4.1).
    pub fn dpop<I>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        self.dpop = HeaderValues::from_values(values);
        self
    }

    /// The request method, as sent (`GET`).
    pub fn method(mut self, method: &'a str) -> Self {
        self.method = method;
        self
    }

    /// The request target as the server received it: a path and query (`/me?x=1`) or,
    /// from a proxy, an absolute URI.
    pub fn target(mut self, target: &'a str) -> Self {
        self.target = target;
        self
    }

    /// The DER client certificate the TLS connection presented (RFC 8705 section 3: what
    /// a certificate-bound token is compared with), as the user's TLS acceptor recorded it
    /// ([`ClientCertificate`](crate::binding::mtls::ClientCertificate)); `None` for a
    /// connection without one.
    pub fn client_certificate(mut self, der: impl Into<Option<&'a [u8]>>) -> Self {
        self.client_certificate = der.into();
        self
    }

    /// The address of the peer that sent the request: a reverse proxy's forwarding
    /// headers are believed only when this is one of the
    /// [`TrustedProxies`](crate::forwarded::TrustedProxies); `None` when the adapter does
    /// not know it.
    pub fn peer(mut self, peer: impl Into<Option<IpAddr>>) -> Self {
        self.peer = peer.into();
        self
    }

    /// A way to read any header: the forwarding headers (RFC 7239 `Forwarded`,
    /// `X-Forwarded-Proto`, `X-Forwarded-Host`) and a proxy's client-certificate header,
    /// read only when the gate is configured to believe them.
    pub fn headers(mut self, lookup: &'a HeaderLookup<'a>) -> Self {
        self.headers = Some(lookup);
        self
    }

    /// The `Authorization` values.
    pub fn authorization_values(&self) -> HeaderValues<'a> {
        self.authorization
    }

    /// The `DPoP` values.
    pub fn dpop_values(&self) -> HeaderValues<'a> {
        self.dpop
    }

    /// The request method.
    pub fn method_str(&self) -> &'a str {
        self.method
    }

    /// The request target.
    pub fn target_str(&self) -> &'a str {
        self.target
    }

    /// The connection's client certificate (DER), if the adapter was given one.
    pub fn client_certificate_der(&self) -> Option<&'a [u8]> {
        self.client_certificate
    }

    /// The peer's address, if the adapter knows it.
    pub fn peer_addr(&self) -> Option<IpAddr> {
        self.peer
    }

    /// Every value of header `name` (lower case), in order; none without a lookup.
    pub fn header_values(&self, name: &str) -> Vec<&'a [u8]> {
        self.headers.map(|lookup| lookup(name)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_tell_none_one_and_many_apart() {
        let none: [&[u8]; 0] = [];
        assert_eq!(HeaderValues::from_values(none), HeaderValues::Absent);
        assert_eq!(
            HeaderValues::from_values([&b"a"[..]]),
            HeaderValues::One(b"a")
        );
        let many = HeaderValues::from_values([&b"a"[..], b"b", b"c"]);
        assert_eq!(many, HeaderValues::Many(b"a"));
        assert_eq!(many.iter().count(), 2, "more than one stays visible");
        assert_eq!(HeaderValues::One(b"a").iter().count(), 1);
        assert_eq!(HeaderValues::Absent.iter().count(), 0);
    }
}
