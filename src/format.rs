//! Which tokens are JWTs and which are opaque: the configured [`TokenFormat`] and the
//! token's shape, read once to choose its route (local verification or RFC 7662
//! introspection).
//!
//! The shape is only a routing hint: a token routed to the JWT path is then checked in
//! full (RFC 7515 section 5.2), and one that fails is refused, never introspected instead.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Which tokens are verified locally as JWTs and which are introspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TokenFormat {
    /// Every token is a JWT, verified with the issuer's keys (the default without
    /// introspection).
    #[default]
    Jwt,
    /// Every token is introspected (the default with introspection).
    Opaque,
    /// A token shaped like a JWS (three segments, a JSON header) is verified locally;
    /// any other is introspected. Routing is by shape alone: a JWT that fails
    /// verification is refused, never introspected instead.
    JwtOrOpaque,
}

impl TokenFormat {
    /// Whether a token goes to introspection under this format (when introspection is
    /// configured). `jws_shaped` reads the token's shape ([`is_jws_shaped`]); it is
    /// called only for [`JwtOrOpaque`](TokenFormat::JwtOrOpaque), so the other formats
    /// never scan the token.
    pub(crate) fn introspects(self, jws_shaped: impl FnOnce() -> bool) -> bool {
        match self {
            TokenFormat::Jwt => false,
            TokenFormat::Opaque => true,
            TokenFormat::JwtOrOpaque => !jws_shaped(),
        }
    }
}

/// Whether a token is shaped like a compact JWS (RFC 7515 section 7.1): three segments,
/// the first a base64url JSON object. Allocation-free: only the header's first four
/// characters are decoded.
pub(crate) fn is_jws_shaped(token: &str) -> bool {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    // The first 4 characters decode to the first 3 bytes: `{"` starts any JSON object
    // header, possibly after whitespace.
    let prefix = header.get(..4).unwrap_or(header);
    let mut bytes = [0u8; 3];
    URL_SAFE_NO_PAD
        .decode_slice(prefix, &mut bytes)
        .is_ok_and(|len| bytes[..len].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jws_shape_is_three_segments_and_a_json_header() {
        assert!(is_jws_shaped("eyJhbGciOiJSUzI1NiJ9.e30.c2ln"));
        assert!(!is_jws_shaped("2YotnFZFEjr1zCsicMWpAA"));
        assert!(!is_jws_shaped("a.b.c"));
        assert!(!is_jws_shaped("eyJhbGciOiJSUzI1NiJ9.e30"));
        assert!(!is_jws_shaped("eyJhbGciOiJSUzI1NiJ9.e30.c2ln.x.y"));
        // Whitespace before the brace is still a JSON object ("  {" is "ICB7").
        assert!(is_jws_shaped("ICB7.e30.c2ln"));
        // Short or empty headers, non-base64 bytes: not a JWS, and no panic.
        for token in ["e3.e30.c2ln", ".e30.c2ln", "..", "é€.a.b", "ey==.a.b"] {
            assert!(!is_jws_shaped(token), "{token}");
        }
    }

    #[test]
    fn only_jwt_or_opaque_reads_the_shape() {
        let never = || -> bool { panic!("the shape is not read for this format") };
        assert!(!TokenFormat::Jwt.introspects(never));
        assert!(TokenFormat::Opaque.introspects(never));
        assert!(TokenFormat::JwtOrOpaque.introspects(|| false));
        assert!(!TokenFormat::JwtOrOpaque.introspects(|| true));
    }
}
