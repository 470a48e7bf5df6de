//! The access token from a named cookie (opt-in: [`Gate::cookie`](crate::Gate::cookie)),
//! for browser-facing APIs behind a backend-for-frontend that keeps the token in an
//! `HttpOnly` cookie.
//!
//! RFC 6265 section 4.2.1: `Cookie: name=value; name2=value2`, where a value may be
//! wrapped in double quotes (section 4.1.1 `cookie-value`); HTTP/2 may split it over
//! several `Cookie` fields (RFC 9113 section 8.2.3). Names are compared exactly. The
//! value must be an RFC 6750 `b64token`, like a bearer token in the header.

use crate::bearer::is_b64token;
use crate::error::{Error, InvalidRequest, InvalidToken};

/// Whether `name` can be a cookie's name: an RFC 9110 `token` (RFC 6265 section 4.1.1).
pub(crate) fn is_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The token in cookie `name` among the values of the request's `Cookie` headers.
///
/// - no such cookie, or an empty one: `Ok(None)` (no credentials);
/// - the cookie more than once (another path's or a sibling domain's cookie of the same
///   name: which one is the client's?), or a value with an unbalanced quote or bytes no
///   cookie may carry: `invalid_request`;
/// - a value that is not a `b64token` (percent-encoded, say): `invalid_token`.
pub(crate) fn token<'a, I>(cookies: I, name: &str) -> Result<Option<&'a str>, Error>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut found: Option<&'a [u8]> = None;
    for header in cookies {
        for pair in header.split(|b| *b == b';') {
            let pair = pair.trim_ascii();
            let Some(at) = pair.iter().position(|b| *b == b'=') else {
                continue;
            };
            if pair[..at].trim_ascii() != name.as_bytes() {
                continue;
            }
            if found.is_some() {
                return Err(InvalidRequest::MalformedCookie.into());
            }
            found = Some(pair[at + 1..].trim_ascii());
        }
    }
    let Some(value) = found else {
        return Ok(None);
    };
    // RFC 6265 section 4.1.1: cookie-value = *cookie-octet / ( DQUOTE *cookie-octet DQUOTE ).
    let value = match value {
        [b'"', inner @ .., b'"'] => inner,
        [b'"', ..] | [.., b'"'] => return Err(InvalidRequest::MalformedCookie.into()),
        value => value,
    };
    if value.is_empty() {
        return Ok(None);
    }
    if !value.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        return Err(InvalidRequest::MalformedCookie.into());
    }
    if !is_b64token(value) {
        return Err(InvalidToken::Malformed.into());
    }
    // Checked above: every byte is ASCII.
    Ok(std::str::from_utf8(value).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(header: &[u8]) -> Result<Option<&str>, Error> {
        token([header], "at")
    }

    #[test]
    fn finds_the_named_cookie_among_others_and_across_headers() {
        assert_eq!(one(b"at=a.b.c"), Ok(Some("a.b.c")));
        assert_eq!(one(b"x=1; at=a.b.c; y=2"), Ok(Some("a.b.c")));
        assert_eq!(one(b"x=1;at=a.b.c"), Ok(Some("a.b.c")));
        assert_eq!(token([&b"x=1"[..], b"at=a.b.c"], "at"), Ok(Some("a.b.c")));
        assert_eq!(one(b"at=\"a.b.c\""), Ok(Some("a.b.c")));
    }

    #[test]
    fn other_names_and_empty_values_are_no_token() {
        for header in [
            &b"AT=a.b.c"[..],
            b"xat=a.b.c",
            b"at2=a.b.c",
            b"at",
            b"at=",
            b"at=\"\"",
            b"",
        ] {
            assert_eq!(one(header), Ok(None), "{header:?}");
        }
        assert_eq!(token(std::iter::empty(), "at"), Ok(None));
    }

    #[test]
    fn twice_or_oddly_quoted_is_invalid_request() {
        let malformed = Err(Error::InvalidRequest(InvalidRequest::MalformedCookie));
        assert_eq!(one(b"at=a.b.c; at=a.b.c"), malformed);
        assert_eq!(token([&b"at=a"[..], b"at=b"], "at"), malformed);
        for header in [
            &b"at=\"a.b.c"[..],
            b"at=a.b.c\"",
            b"at=\"",
            b"at=a\x01b",
            "at=é".as_bytes(),
        ] {
            assert_eq!(one(header), malformed, "{header:?}");
        }
    }

    #[test]
    fn a_value_that_is_not_a_b64token_is_invalid_token() {
        for header in [
            &b"at=a%2Eb"[..],
            b"at=a b",
            b"at=a,b",
            b"at=\"a\"b\"",
            b"at=a\\b",
        ] {
            assert_eq!(
                one(header),
                Err(Error::InvalidToken(InvalidToken::Malformed)),
                "{header:?}"
            );
        }
    }

    #[test]
    fn cookie_names_are_rfc_9110_tokens() {
        assert!(is_cookie_name("__Host-access_token"));
        for bad in ["", "a b", "a=b", "a;b", "a\"b", "é", "a,b"] {
            assert!(!is_cookie_name(bad), "{bad:?}");
        }
    }
}
