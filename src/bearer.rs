//! RFC 6750 section 2.1: getting the bearer token out of the `Authorization` header.
//!
//! Framework-neutral: an adapter hands in the raw bytes of every `Authorization` header
//! the request carries, and gets back the token, nothing, or the error: `invalid_request`
//! for what is wrong with the request, `invalid_token` for a malformed token.
//!
//! ```
//! use tokengate::bearer;
//!
//! let headers: [&[u8]; 1] = [b"bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln"];
//! assert_eq!(bearer::extract(headers), Ok(Some("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")));
//!
//! // Another scheme is not a bearer credential: treated as "no token" (bare challenge).
//! assert_eq!(bearer::extract([b"Basic dXNlcjpwYXNz".as_slice()]), Ok(None));
//!
//! // Two Authorization headers: 400 invalid_request.
//! assert!(bearer::extract([b"Bearer a".as_slice(), b"Bearer b".as_slice()]).is_err());
//!
//! // A token of characters outside `b64token`: 401 invalid_token.
//! let junk = bearer::extract([b"Bearer !!!.@@@.###".as_slice()]).unwrap_err();
//! assert_eq!(junk.error_code(), Some("invalid_token"));
//! ```

use crate::error::{Error, InvalidRequest, InvalidToken};

/// The authentication scheme of RFC 6750 section 2.1, matched case-insensitively
/// (RFC 9110 section 11.1).
const SCHEME: &[u8] = b"bearer";

/// Finds the bearer token among the values of the request's `Authorization` headers.
///
/// - no header, or a scheme other than `Bearer` (`DPoP` too: see
///   [`extract_credentials`]): `Ok(None)`;
/// - more than one header: `invalid_request` (RFC 6750 section 2 allows one method once);
/// - `Bearer` followed by nothing, or a value no header may carry (control or non-ASCII
///   bytes): `invalid_request`;
/// - `Bearer` followed by a token with characters outside `b64token`: `invalid_token`
///   (RFC 6750 section 3.1: the token is malformed, not the request).
pub fn extract<'a, I>(authorization: I) -> Result<Option<&'a str>, Error>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    Ok(extract_credentials(authorization)?
        .and_then(|(scheme, token)| (scheme == Scheme::Bearer).then_some(token)))
}

/// An `Authorization` scheme tokengate reads a token from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Bearer` (RFC 6750 section 2.1).
    Bearer,
    /// `DPoP` (RFC 9449 section 7.1): a DPoP-bound token, with its proof in the `DPoP`
    /// header.
    Dpop,
}

/// The DPoP scheme's name, matched case-insensitively like `Bearer`.
const DPOP_SCHEME: &[u8] = b"dpop";

/// Like [`extract`], but also reads `Authorization: DPoP <token>` (RFC 9449 section
/// 7.1, the same `token68` syntax), saying which scheme carried the token.
///
/// ```
/// use tokengate::bearer::{self, Scheme};
///
/// let dpop: [&[u8]; 1] = [b"DPoP eyJhbGciOiJFUzI1NiJ9.e30.c2ln"];
/// assert_eq!(
///     bearer::extract_credentials(dpop),
///     Ok(Some((Scheme::Dpop, "eyJhbGciOiJFUzI1NiJ9.e30.c2ln")))
/// );
/// ```
pub fn extract_credentials<'a, I>(authorization: I) -> Result<Option<(Scheme, &'a str)>, Error>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    match locate_credentials(authorization)? {
        Some((scheme, located)) => Ok(Some((scheme, located.text()?))),
        None => Ok(None),
    }
}

/// A token found after its scheme, its characters not read yet: [`Located::text`]
/// checks them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Located<'a> {
    /// The whole `Authorization` value, trimmed: what a broken rule is judged on.
    value: &'a [u8],
    /// What follows the scheme and its spaces.
    token: &'a [u8],
}

impl<'a> Located<'a> {
    /// The token's bytes, unchecked.
    pub(crate) fn bytes(&self) -> &'a [u8] {
        self.token
    }

    /// The token, once its characters are a `b64token`; otherwise the error
    /// [`extract_credentials`] gives.
    pub(crate) fn text(&self) -> Result<&'a str, Error> {
        let token = self.token;
        if token.is_empty() || !is_b64token(token) {
            // The slow path: say which rule the value broke.
            return Err(if !self.value.iter().all(|b| is_field_byte(*b)) {
                InvalidRequest::MalformedHeader.into()
            } else if token.is_empty() {
                InvalidRequest::MalformedBearer.into()
            } else {
                // RFC 6750 section 3.1: "malformed" is an `invalid_token` case; Spring
                // Security and express-oauth2-jwt-bearer answer so.
                InvalidToken::Malformed.into()
            });
        }
        // Checked above: every byte is ASCII.
        std::str::from_utf8(token).map_err(|_| InvalidToken::Malformed.into())
    }
}

/// [`extract_credentials`] up to the token's characters: everything about the header
/// (how many, the scheme, the spaces, another scheme's bytes), not the token's syntax,
/// which [`Located::text`] checks. The gate looks a token up in the token cache first,
/// by its bytes: a hit is a token verified before, so its characters were checked then.
pub(crate) fn locate_credentials<'a, I>(
    authorization: I,
) -> Result<Option<(Scheme, Located<'a>)>, Error>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut values = authorization.into_iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(InvalidRequest::MultipleAuthorizationHeaders.into());
    }
    let trimmed = value.trim_ascii();
    let is_dpop = trimmed.len() >= DPOP_SCHEME.len()
        && trimmed[..DPOP_SCHEME.len()].eq_ignore_ascii_case(DPOP_SCHEME)
        && trimmed
            .get(DPOP_SCHEME.len())
            .is_none_or(|b| matches!(b, b' ' | b'\t'));
    if is_dpop {
        return Ok(locate(value, DPOP_SCHEME)?.map(|t| (Scheme::Dpop, t)));
    }
    Ok(locate(value, SCHEME)?.map(|t| (Scheme::Bearer, t)))
}

/// Finds the token in one `Authorization` value, `<scheme> 1*SP b64token`, or `None` for
/// another scheme.
fn locate<'a>(value: &'a [u8], scheme: &[u8]) -> Result<Option<Located<'a>>, Error> {
    let value = value.trim_ascii();
    let scheme_len = value
        .iter()
        .position(|b| *b == b' ' || *b == b'\t')
        .unwrap_or(value.len());
    if !value[..scheme_len].eq_ignore_ascii_case(scheme) {
        // Not ours; but a value no header may carry is still a malformed request.
        return if value.iter().all(|b| is_field_byte(*b)) {
            Ok(None)
        } else {
            Err(InvalidRequest::MalformedHeader.into())
        };
    }
    let token = value[scheme_len..].trim_ascii_start();
    Ok(Some(Located { value, token }))
}

/// Visible ASCII, space or tab: what an `Authorization` value may hold here.
fn is_field_byte(b: u8) -> bool {
    b.is_ascii_graphic() || b == b' ' || b == b'\t'
}

/// One `b64token` body character of RFC 6750 section 2.1:
/// `ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/"`. Comparisons only, no table, so the
/// loop over a whole token compiles to vector instructions (this runs on every request).
#[inline(always)]
fn is_body_byte(b: u8) -> bool {
    // Setting bit 5 folds upper-case letters onto lower-case; nothing else lands in a..z.
    ((b | 0x20).wrapping_sub(b'a') < 26)
        | (b.wrapping_sub(b'0') < 10)
        | (b == b'-')
        | (b == b'.')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'/')
}

/// RFC 6750 section 2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
pub(crate) fn is_b64token(token: &[u8]) -> bool {
    let body_len = token.len() - token.iter().rev().take_while(|b| **b == b'=').count();
    let body = &token[..body_len];
    // Whole blocks without an early exit inside (so they vectorize), then the tail.
    let blocks = body.chunks_exact(32);
    let tail = blocks.remainder();
    body_len > 0
        && blocks
            .into_iter()
            .all(|block| block.iter().fold(true, |ok, b| ok & is_body_byte(*b)))
        && tail.iter().all(|b| is_body_byte(*b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(v: &[u8]) -> Result<Option<&str>, Error> {
        extract([v])
    }

    #[test]
    fn scheme_is_case_insensitive() {
        for v in [&b"Bearer abc"[..], b"BEARER abc", b"bEaReR abc"] {
            assert_eq!(one(v), Ok(Some("abc")));
        }
    }

    #[test]
    fn no_header_is_no_token() {
        assert_eq!(extract(std::iter::empty()), Ok(None));
    }

    #[test]
    fn other_schemes_are_no_token() {
        assert_eq!(one(b"Basic abc"), Ok(None));
        assert_eq!(one(b"Bearerabc"), Ok(None));
        assert_eq!(one(b"DPoP abc"), Ok(None));
    }

    #[test]
    fn two_headers_are_invalid_request() {
        assert_eq!(
            extract([&b"Bearer a"[..], b"Bearer a"]),
            Err(Error::InvalidRequest(
                InvalidRequest::MultipleAuthorizationHeaders
            ))
        );
    }

    #[test]
    fn empty_token_is_invalid_request() {
        for v in [&b"Bearer"[..], b"Bearer ", b"Bearer    "] {
            assert_eq!(
                one(v),
                Err(Error::InvalidRequest(InvalidRequest::MalformedBearer)),
                "{v:?}"
            );
        }
    }

    #[test]
    fn non_token68_characters_are_invalid_token() {
        for v in [
            &b"Bearer a b"[..],
            b"Bearer a,b",
            b"Bearer a\"b",
            b"Bearer a=b",
            b"Bearer a;b",
            b"Bearer ===",
            b"Bearer !!!.@@@.###",
        ] {
            assert_eq!(
                one(v),
                Err(Error::InvalidToken(InvalidToken::Malformed)),
                "{v:?}"
            );
        }
    }

    #[test]
    fn control_and_non_ascii_bytes_are_invalid_request() {
        for v in [&b"Bearer a\0b"[..], b"Bearer a\nb", "Bearer é".as_bytes()] {
            assert_eq!(
                one(v),
                Err(Error::InvalidRequest(InvalidRequest::MalformedHeader))
            );
        }
    }

    #[test]
    fn padding_and_extra_spaces_are_accepted() {
        assert_eq!(one(b"Bearer   a.b.c=="), Ok(Some("a.b.c==")));
        assert_eq!(one(b" Bearer a.b.c "), Ok(Some("a.b.c")));
    }

    /// The RFC's list, written out: the comparisons must accept exactly these bytes.
    const RFC_6750_BODY: &[u8] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/";

    #[test]
    fn body_bytes_are_exactly_the_rfc_list() {
        for b in 0..=255u8 {
            assert_eq!(is_body_byte(b), RFC_6750_BODY.contains(&b), "byte {b:#04x}");
        }
    }

    #[test]
    fn one_bad_byte_anywhere_in_a_long_token_is_caught() {
        // Lengths around the 32-byte blocks, the bad byte in a block and in the tail.
        for len in [1, 31, 32, 33, 63, 64, 65, 1200] {
            let good: Vec<u8> = RFC_6750_BODY.iter().copied().cycle().take(len).collect();
            assert!(is_b64token(&good), "len {len}");
            for at in 0..len {
                for bad in [b'!', b'=', b' ', 0x80, b'@', b'[', b'`', b'{'] {
                    let mut token = good.clone();
                    token[at] = bad;
                    let expect_ok = at > 0 && bad == b'=' && token[at..].iter().all(|b| *b == b'=');
                    assert_eq!(
                        is_b64token(&token),
                        expect_ok,
                        "len {len}, {bad:#04x} at {at}"
                    );
                }
            }
        }
    }
}
