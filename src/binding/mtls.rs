//! RFC 8705 certificate-bound access tokens: a token that only the client holding one
//! certificate may use.
//!
//! An authorization server that authenticated its client with mutual TLS can bind the
//! token it issues to the client's certificate: the token's `cnf` claim carries
//! `x5t#S256`, the base64url SHA-256 of the certificate's DER encoding (RFC 8705 section
//! 3.1). A resource server must then take the client certificate of each request's TLS
//! connection and refuse the token, `401 invalid_token`, when they do not match (RFC 8705
//! section 3). With [`Gate::mtls`](crate::gate::Gate::mtls) the gate does exactly that on
//! every request (a token cache hit too: the cache holds claims, never a verdict on a
//! certificate).
//!
//! Where the certificate comes from is a [`CertificateSource`]:
//!
//! - [`CertificateSource::connection`]: the TLS connection itself. The server's TLS
//!   acceptor puts the peer's certificate into the request as a [`ClientCertificate`]
//!   (tower: the request's extensions; actix-web: the connection data of
//!   `HttpServer::on_connect`), and the adapter hands it to the gate.
//! - [`CertificateSource::header`]: a header set by a TLS-terminating proxy (nginx's
//!   `$ssl_client_escaped_cert`, an AWS load balancer's `X-Amzn-Mtls-Clientcert`, Envoy's
//!   `x-forwarded-client-cert`), believed only from the [`TrustedProxies`] named with it.
//!
//! ```
//! use tokengate::binding::mtls::{CertificateHeader, CertificateSource, Mtls};
//! use tokengate::forwarded::TrustedProxies;
//!
//! // Bound tokens need their certificate; unbound tokens still pass.
//! let allowed = Mtls::new(CertificateSource::connection());
//! // Only certificate-bound tokens pass.
//! let required = Mtls::new(CertificateSource::connection()).required();
//! // Behind nginx at 10.0.0.7: `proxy_set_header X-Client-Cert $ssl_client_escaped_cert;`
//! let proxies = TrustedProxies::list(["10.0.0.7".parse().unwrap()]);
//! let behind_nginx = Mtls::new(
//!     CertificateSource::header("x-client-cert", CertificateHeader::EscapedPem, proxies).unwrap(),
//! );
//! // Behind Envoy (any peer of 10.1.0.0/16), `forward_client_cert_details: SANITIZE_SET`.
//! let envoys = TrustedProxies::cidr("10.1.0.0/16").unwrap();
//! let behind_envoy = Mtls::new(
//!     CertificateSource::header("x-forwarded-client-cert", CertificateHeader::EnvoyXfcc, envoys)
//!         .unwrap(),
//! );
//! ```

use std::sync::Arc;

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::claims::Claims;
use crate::error::{Error, InvalidRequest, InvalidToken};
use crate::forwarded::TrustedProxies;
use crate::request::RequestParts;

/// The `cnf` member of a certificate-bound token (RFC 8705 section 3.1).
pub const CONFIRMATION_MEMBER: &str = "x5t#S256";

/// The longest client-certificate header read: a certificate of a few kilobytes, PEM and
/// percent-encoded, fits well within it; anything longer is not one certificate.
pub const MAX_CERTIFICATE_HEADER_BYTES: usize = 16 * 1024;

/// The longest `x-forwarded-client-cert` read ([`CertificateHeader::EnvoyXfcc`]): besides
/// the certificate it may carry its whole chain (`Chain`), the subject and SANs, and one
/// element per proxy, all URL-encoded.
pub const MAX_XFCC_HEADER_BYTES: usize = 64 * 1024;

/// The client certificate of a TLS connection, DER-encoded (the leaf the client
/// presented, as rustls' `peer_certificates()[0]` gives it).
///
/// Put it into each request of a mutual-TLS connection: with tower/axum into the
/// request's extensions, with actix-web into the connection data (`HttpServer::on_connect`).
/// The adapters read it from there.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCertificate(pub Vec<u8>);

impl ClientCertificate {
    /// The certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.0
    }

    /// Its RFC 8705 section 3.1 thumbprint ([`certificate_thumbprint`]).
    pub fn thumbprint(&self) -> String {
        certificate_thumbprint(&self.0)
    }
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ClientCertificate")
            .field(&self.thumbprint())
            .finish()
    }
}

/// RFC 8705 section 3.1: `x5t#S256`, the base64url (unpadded) SHA-256 of a certificate's
/// DER encoding.
///
/// ```
/// let x5t = tokengate::binding::mtls::certificate_thumbprint(b"not really DER");
/// assert_eq!(x5t.len(), 43);
/// ```
pub fn certificate_thumbprint(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(sha256(der))
}

fn sha256(der: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, der).as_ref());
    out
}

/// How a proxy writes the client certificate into its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateHeader {
    /// The PEM certificate, percent-encoded (URL-encoded): nginx's
    /// `$ssl_client_escaped_cert`, an AWS Application Load Balancer's
    /// `X-Amzn-Mtls-Clientcert`. A chain is read as its first certificate, the leaf.
    EscapedPem,
    /// The DER certificate in standard base64 (RFC 4648 section 4, padded), as HAProxy's
    /// `%[ssl_c_der,base64]` writes it.
    Base64Der,
    /// Envoy's `x-forwarded-client-cert` (XFCC): elements separated by `,`, one per
    /// proxy, each of `key=value` pairs separated by `;`, values double-quoted when they
    /// hold `,`, `;` or `=` (a `"` inside escaped as `\"`). The certificate is the
    /// `Cert` pair (URL-encoded PEM) of the **last** element: the one the nearest proxy,
    /// the trusted peer, added. When that element also has `Hash` (the hex SHA-256 of
    /// the certificate), it must agree. An element without `Cert`, a `Cert` or `Hash`
    /// given twice, or any quoting or syntax error is `400 invalid_request`.
    ///
    /// Configure the Envoy that terminates the client's TLS with
    /// `forward_client_cert_details: SANITIZE_SET` and `set_current_client_cert_details:
    /// { cert: true }`, so the header holds exactly what it saw; with `APPEND_FORWARD`,
    /// every proxy on the way must be trusted, as the last element is believed.
    EnvoyXfcc,
}

/// Where the client certificate of a request comes from.
#[derive(Clone, Debug)]
pub struct CertificateSource(Source);

#[derive(Clone, Debug)]
enum Source {
    Connection,
    Header {
        name: Arc<str>,
        format: CertificateHeader,
        proxies: TrustedProxies,
    },
}

impl CertificateSource {
    /// The TLS connection: the [`ClientCertificate`] the server's TLS acceptor recorded.
    pub fn connection() -> Self {
        CertificateSource(Source::Connection)
    }

    /// Header `name`, in `format`, set by a TLS-terminating proxy: believed only when the
    /// request's peer is one of `proxies` (from any other peer the header is ignored, as
    /// if no certificate was presented). The proxy must overwrite the header on every
    /// request, so a client cannot send its own. An empty value means no certificate (as
    /// nginx sends when the client presented none).
    ///
    /// Fails when `name` is not a header name.
    pub fn header(
        name: &str,
        format: CertificateHeader,
        proxies: TrustedProxies,
    ) -> Result<Self, &'static str> {
        let valid = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if name.is_empty() || !name.chars().all(valid) {
            return Err("the client certificate header name is not a header name");
        }
        Ok(CertificateSource(Source::Header {
            name: name.to_ascii_lowercase().into(),
            format,
            proxies,
        }))
    }

    /// The SHA-256 of the certificate this request presented, if any.
    fn presented(&self, request: &RequestParts<'_>) -> Result<Option<[u8; 32]>, InvalidRequest> {
        match &self.0 {
            Source::Connection => Ok(request.client_certificate_der().map(sha256)),
            Source::Header {
                name,
                format,
                proxies,
            } => {
                if !proxies.sent(request) {
                    return Ok(None);
                }
                match request.header_values(name).as_slice() {
                    [] => Ok(None),
                    [value] => decode_header(value, *format).map(|der| der.as_deref().map(sha256)),
                    _ => Err(InvalidRequest::MalformedClientCertificate),
                }
            }
        }
    }
}

/// One header value as a DER certificate: `None` for an empty value.
fn decode_header(
    value: &[u8],
    format: CertificateHeader,
) -> Result<Option<Vec<u8>>, InvalidRequest> {
    const MALFORMED: InvalidRequest = InvalidRequest::MalformedClientCertificate;
    let value = value.trim_ascii();
    if value.is_empty() {
        return Ok(None);
    }
    let limit = match format {
        CertificateHeader::EnvoyXfcc => MAX_XFCC_HEADER_BYTES,
        _ => MAX_CERTIFICATE_HEADER_BYTES,
    };
    if value.len() > limit {
        return Err(MALFORMED);
    }
    let der = match format {
        CertificateHeader::Base64Der => STANDARD.decode(value).map_err(|_| MALFORMED)?,
        CertificateHeader::EnvoyXfcc => xfcc_certificate(value).ok_or(MALFORMED)?,
        CertificateHeader::EscapedPem => {
            let pem = percent_decode(value).ok_or(MALFORMED)?;
            let pem = std::str::from_utf8(&pem).map_err(|_| MALFORMED)?;
            pem_certificate(pem).ok_or(MALFORMED)?
        }
    };
    if der.is_empty() {
        return Err(MALFORMED);
    }
    Ok(Some(der))
}

/// The DER of the certificate in an XFCC value's last element ([`CertificateHeader::EnvoyXfcc`]):
/// its `Cert`, checked against its `Hash` when there is one. `None` when malformed.
fn xfcc_certificate(value: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(value).ok()?;
    if !text.chars().all(|c| c == '\t' || (' '..='~').contains(&c)) {
        return None;
    }
    let elements = xfcc_elements(text)?;
    let last = elements.last()?;
    let only = |key: &str| -> Option<Option<&String>> {
        let mut values = last
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v);
        let first = values.next();
        // A key given twice is ambiguous.
        values.next().is_none().then_some(first)
    };
    let cert = only("cert")??;
    let hash = only("hash")?;
    let pem = percent_decode(cert.as_bytes())?;
    let der = pem_certificate(std::str::from_utf8(&pem).ok()?)?;
    if let Some(hash) = hash {
        let digest = sha256(&der);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        if !hash.eq_ignore_ascii_case(&hex) {
            return None;
        }
    }
    Some(der)
}

/// An XFCC value's elements, each its `(key, value)` pairs with quoted values unquoted.
/// `None` for an empty element or pair, a key that is not a token, a pair without `=`,
/// an unquoted value holding `"` or `=`, or an unterminated quote.
fn xfcc_elements(text: &str) -> Option<Vec<Vec<(String, String)>>> {
    let is_tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    let mut elements = Vec::new();
    let mut pairs = Vec::new();
    let mut rest = text.trim_start_matches([' ', '\t']);
    loop {
        let key_end = rest.find(|c| !is_tchar(c)).unwrap_or(rest.len());
        let (key, after) = rest.split_at(key_end);
        let after = after.strip_prefix('=')?;
        if key.is_empty() {
            return None;
        }
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => {
                let mut value = String::new();
                let mut chars = quoted.char_indices();
                loop {
                    match chars.next()? {
                        (i, '"') => break (value, &quoted[i + 1..]),
                        (_, '\\') => value.push(chars.next()?.1),
                        (_, c) => value.push(c),
                    }
                }
            }
            None => {
                let end = after.find([';', ',']).unwrap_or(after.len());
                let (value, after) = after.split_at(end);
                let value = value.trim_end_matches([' ', '\t']);
                if value.contains(['"', '=']) {
                    return None;
                }
                (value.to_owned(), after)
            }
        };
        pairs.push((key.to_owned(), value));
        let after = after.trim_start_matches([' ', '\t']);
        match after.chars().next() {
            None => {
                elements.push(pairs);
                return Some(elements);
            }
            Some(';') => rest = &after[1..],
            Some(',') => {
                elements.push(std::mem::take(&mut pairs));
                rest = &after[1..];
            }
            Some(_) => return None,
        }
        rest = rest.trim_start_matches([' ', '\t']);
    }
}

/// RFC 3986 section 2.1 percent-decoding (`+` stays `+`: it is a base64 character).
fn percent_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut bytes = input.iter();
    while let Some(&b) = bytes.next() {
        if b == b'%' {
            let hex = |b: Option<&u8>| (*b? as char).to_digit(16);
            let (high, low) = (hex(bytes.next())?, hex(bytes.next())?);
            out.push((high * 16 + low) as u8);
        } else {
            out.push(b);
        }
    }
    Some(out)
}

/// The DER of the first `CERTIFICATE` block of a PEM text (RFC 7468 section 5).
fn pem_certificate(pem: &str) -> Option<Vec<u8>> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let body = &pem[pem.find(BEGIN)? + BEGIN.len()..];
    let body = &body[..body.find(END)?];
    let base64: String = body.split_ascii_whitespace().collect();
    STANDARD.decode(base64).ok()
}

/// How a gate checks certificate-bound tokens (RFC 8705 section 3): where the client
/// certificate comes from, and whether unbound tokens still pass.
#[derive(Clone, Debug)]
pub struct Mtls {
    source: CertificateSource,
    required: bool,
}

impl Mtls {
    /// Checks certificate-bound tokens against the certificate from `source`; tokens
    /// without `cnf.x5t#S256` pass as before.
    pub fn new(source: CertificateSource) -> Self {
        Mtls {
            source,
            required: false,
        }
    }

    /// Accepts only certificate-bound tokens: one without `cnf.x5t#S256` is refused,
    /// `401 invalid_token`, whatever scheme it came with.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Whether unbound tokens are refused.
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// The SHA-256 of the client certificate this request presented, if any (`400
    /// invalid_request` for a trusted proxy's header that cannot be read).
    pub(crate) fn presented(&self, request: &RequestParts<'_>) -> Result<Option<[u8; 32]>, Error> {
        self.source.presented(request).map_err(Error::from)
    }

    /// RFC 8705 section 3: a bound token's `x5t#S256` must be the thumbprint of the
    /// certificate presented (`presented`, its SHA-256); else `401 invalid_token`.
    pub(crate) fn check(&self, claims: &Claims, presented: Option<&[u8; 32]>) -> Result<(), Error> {
        let bound = claims
            .get("cnf")
            .and_then(|cnf| cnf.get(CONFIRMATION_MEMBER));
        let Some(bound) = bound else {
            return if self.required {
                Err(InvalidToken::NotCertificateBound.into())
            } else {
                Ok(())
            };
        };
        // RFC 8705 section 3.1: base64url of a SHA-256; anything else binds to nothing.
        let expected = bound
            .as_str()
            .and_then(|x5t| URL_SAFE_NO_PAD.decode(x5t).ok())
            .ok_or(InvalidToken::InvalidClaim("cnf"))?;
        match presented {
            Some(presented) if presented[..] == expected[..] => Ok(()),
            _ => {
                tracing::debug!(
                    presented = presented.is_some(),
                    "certificate-bound token without its certificate"
                );
                Err(InvalidToken::CertificateMismatch.into())
            }
        }
    }
}

/// Whether a token's only confirmation is a certificate (`cnf` holds `x5t#S256` and
/// nothing else): the binding a `Bearer` request can prove over mutual TLS. A token also
/// bound to a DPoP key (`jkt`) or anything else stays refused as a bearer token.
pub(crate) fn is_only_certificate_bound(claims: &Claims) -> bool {
    claims
        .get("cnf")
        .and_then(|cnf| cnf.as_object())
        .is_some_and(|cnf| cnf.len() == 1 && cnf.contains_key(CONFIRMATION_MEMBER))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A claim set with the registered claims a token needs and `value`'s members.
    fn claims(value: serde_json::Value) -> Claims {
        let mut full = json!({"iss": "i", "aud": "a", "exp": 2_000_000_000, "iat": 1});
        full.as_object_mut()
            .unwrap()
            .extend(value.as_object().unwrap().clone());
        Claims::from_payload(serde_json::to_vec(&full).unwrap()).unwrap()
    }

    fn bound_to(der: &[u8]) -> Claims {
        claims(json!({"iss": "i", "cnf": {"x5t#S256": certificate_thumbprint(der)}}))
    }

    #[test]
    fn a_bound_token_needs_exactly_its_certificate() {
        let mtls = Mtls::new(CertificateSource::connection());
        let token = bound_to(b"cert A");
        assert_eq!(mtls.check(&token, Some(&sha256(b"cert A"))), Ok(()));
        for presented in [Some(sha256(b"cert B")), None] {
            assert_eq!(
                mtls.check(&token, presented.as_ref()),
                Err(InvalidToken::CertificateMismatch.into())
            );
        }
        let garbage = claims(json!({"iss": "i", "cnf": {"x5t#S256": "***"}}));
        assert_eq!(
            mtls.check(&garbage, Some(&sha256(b"cert A"))),
            Err(InvalidToken::InvalidClaim("cnf").into())
        );
    }

    #[test]
    fn an_unbound_token_passes_unless_binding_is_required() {
        let unbound = claims(json!({"iss": "i"}));
        let mtls = Mtls::new(CertificateSource::connection());
        assert_eq!(mtls.check(&unbound, None), Ok(()));
        assert_eq!(
            mtls.required().check(&unbound, Some(&sha256(b"cert A"))),
            Err(InvalidToken::NotCertificateBound.into())
        );
    }

    #[test]
    fn only_a_lone_x5t_is_a_certificate_binding() {
        assert!(is_only_certificate_bound(&bound_to(b"a")));
        for other in [
            json!({"iss": "i", "cnf": {"jkt": "k"}}),
            json!({"iss": "i", "cnf": {"jkt": "k", "x5t#S256": "x"}}),
            json!({"iss": "i", "cnf": "x5t#S256"}),
            json!({"iss": "i"}),
        ] {
            assert!(
                !is_only_certificate_bound(&claims(other.clone())),
                "{other}"
            );
        }
    }

    #[test]
    fn header_formats_decode_to_the_same_der() {
        let der = b"\x30\x82\x01\x0a some DER bytes +/=".to_vec();
        let b64 = STANDARD.encode(&der);
        let pem = format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n");
        let escaped: String = pem
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => {
                    (b as char).to_string()
                }
                b => format!("%{b:02X}"),
            })
            .collect();
        let decode = decode_header;
        assert_eq!(
            decode(escaped.as_bytes(), CertificateHeader::EscapedPem),
            Ok(Some(der.clone()))
        );
        assert_eq!(
            decode(b64.as_bytes(), CertificateHeader::Base64Der),
            Ok(Some(der))
        );
        assert_eq!(decode(b"  ", CertificateHeader::EscapedPem), Ok(None));
    }

    #[test]
    fn malformed_certificate_headers_are_invalid_requests() {
        let malformed = Err(InvalidRequest::MalformedClientCertificate);
        for (value, format) in [
            (&b"%zz"[..], CertificateHeader::EscapedPem),
            (b"%4", CertificateHeader::EscapedPem),
            (b"no pem here", CertificateHeader::EscapedPem),
            (
                b"-----BEGIN CERTIFICATE-----%0A!!!%0A-----END CERTIFICATE-----",
                CertificateHeader::EscapedPem,
            ),
            (
                b"-----BEGIN CERTIFICATE-----%0A-----END CERTIFICATE-----",
                CertificateHeader::EscapedPem,
            ),
            (b"%FF%FE", CertificateHeader::EscapedPem),
            (b"not base64!", CertificateHeader::Base64Der),
        ] {
            assert_eq!(decode_header(value, format), malformed, "{value:?}");
        }
        let huge = vec![b'A'; MAX_CERTIFICATE_HEADER_BYTES + 4];
        assert_eq!(
            decode_header(&huge, CertificateHeader::Base64Der),
            malformed
        );
    }

    /// A PEM certificate URL-encoded as Envoy writes `Cert` (every reserved byte as %XX).
    fn envoy_cert(der: &[u8]) -> String {
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            STANDARD.encode(der)
        );
        pem.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                b => format!("%{b:02X}"),
            })
            .collect()
    }

    fn hex(digest: [u8; 32]) -> String {
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn xfcc_takes_the_cert_of_the_nearest_proxys_element() {
        let client = b"\x30\x82 the client's DER +/=".to_vec();
        let upstream = b"\x30\x82 a farther hop's DER".to_vec();
        let (cert, hash) = (envoy_cert(&client), hex(sha256(&client)));
        let xfcc = |value: String| decode_header(value.as_bytes(), CertificateHeader::EnvoyXfcc);
        let expected = Ok(Some(client.clone()));
        // Envoy's documented shape: By, Hash, Cert, Subject (quoted: it holds `,` and
        // `=`), URI, repeated DNS.
        let full = format!(
            "By=spiffe://cluster.local/ns/default/sa/api;Hash={hash};Cert=\"{cert}\";\
             Subject=\"/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client, Inc.\";\
             URI=spiffe://cluster.local/ns/default/sa/client;DNS=client.test;DNS=www.client.test"
        );
        assert_eq!(xfcc(full.clone()), expected);
        // Unquoted Cert, keys in any case, spaces around separators.
        assert_eq!(
            xfcc(format!("cert={cert} ; HASH={}", hash.to_uppercase())),
            expected
        );
        // Several elements: the last one is the nearest proxy's.
        assert_eq!(
            xfcc(format!(
                "By=a;Cert=\"{}\", By=b;Cert=\"{cert}\"",
                envoy_cert(&upstream)
            )),
            expected
        );
        assert_eq!(
            xfcc(format!("{full},By=b;Cert=\"{}\"", envoy_cert(&upstream))),
            Ok(Some(upstream.clone()))
        );
        // An escaped quote inside a quoted value is part of it.
        assert_eq!(
            xfcc(format!(r#"Subject="CN=\"quoted\", O=x";Cert="{cert}""#)),
            expected
        );
        // Without Hash the Cert alone is believed.
        assert_eq!(xfcc(format!("Cert=\"{cert}\"")), expected);
        // No header value: no certificate.
        assert_eq!(xfcc(String::new()), Ok(None));
    }

    #[test]
    fn malformed_xfcc_is_an_invalid_request() {
        let client = b"\x30\x82 the client's DER".to_vec();
        let other = b"\x30\x82 someone else".to_vec();
        let (cert, hash) = (envoy_cert(&client), hex(sha256(&client)));
        let malformed = Err(InvalidRequest::MalformedClientCertificate);
        for value in [
            // The nearest element has no Cert (only an earlier one does).
            format!("Cert=\"{cert}\",By=b;Hash={hash}"),
            format!("Hash={hash}"),
            // Cert or Hash twice in the element.
            format!("Cert=\"{cert}\";Cert=\"{cert}\""),
            format!("Cert=\"{cert}\";Hash={hash};hash={hash}"),
            // A Hash of another certificate.
            format!("Cert=\"{cert}\";Hash={}", hex(sha256(&other))),
            format!("Cert=\"{cert}\";Hash=zz"),
            // Quoting and syntax.
            format!("Cert=\"{cert}"),
            format!("Cert=\"{cert}\"junk"),
            format!("Cert={cert}\"x\""),
            format!("Cert={cert}=x"),
            "Cert".to_owned(),
            format!("=\"{cert}\""),
            format!("Cert=\"{cert}\","),
            format!("Cert=\"{cert}\";"),
            format!(",Cert=\"{cert}\""),
            format!("Cert=\"{cert}\";;By=x"),
            format!("C ert=\"{cert}\""),
            format!("Cert=\"{cert}\\"),
            // Not a certificate inside.
            "Cert=\"not%20pem\"".to_owned(),
            "Cert=\"%zz\"".to_owned(),
            "Cert=\"-----BEGIN%20CERTIFICATE-----%0A!!!%0A-----END%20CERTIFICATE-----\"".to_owned(),
            // Bytes a header cannot hold.
            format!("Cert=\"{cert}\";Subject=\"\u{e9}\""),
            format!("Cert=\"{cert}\";Subject=\"\u{7f}\""),
        ] {
            assert_eq!(
                decode_header(value.as_bytes(), CertificateHeader::EnvoyXfcc),
                malformed,
                "{value}"
            );
        }
        let huge = format!(
            "Cert=\"{cert}\";Subject=\"{}\"",
            "A".repeat(MAX_XFCC_HEADER_BYTES)
        );
        assert_eq!(
            decode_header(huge.as_bytes(), CertificateHeader::EnvoyXfcc),
            malformed
        );
    }

    #[test]
    fn a_header_is_believed_only_from_a_trusted_proxy_and_only_once() {
        let der = b"cert".to_vec();
        let value = STANDARD.encode(&der);
        let proxies = TrustedProxies::list(["10.0.0.7".parse().unwrap()]);
        let source =
            CertificateSource::header("X-Client-Cert", CertificateHeader::Base64Der, proxies)
                .unwrap();
        let once = |_: &str| vec![value.as_bytes()];
        let twice = |_: &str| vec![value.as_bytes(), value.as_bytes()];
        let from = |peer: &str| -> std::net::IpAddr { peer.parse().unwrap() };
        let proxy = RequestParts::new().peer(from("10.0.0.7")).headers(&once);
        assert_eq!(source.presented(&proxy), Ok(Some(sha256(&der))));
        let client = RequestParts::new().peer(from("10.0.0.8")).headers(&once);
        assert_eq!(source.presented(&client), Ok(None));
        assert_eq!(
            source.presented(&RequestParts::new().headers(&once)),
            Ok(None)
        );
        let doubled = RequestParts::new().peer(from("10.0.0.7")).headers(&twice);
        assert_eq!(
            source.presented(&doubled),
            Err(InvalidRequest::MalformedClientCertificate)
        );
        assert!(
            CertificateSource::header(
                "x cert",
                CertificateHeader::EscapedPem,
                TrustedProxies::none()
            )
            .is_err()
        );
    }
}
