//! `application/x-www-form-urlencoded` values (the WHATWG URL standard's serializer, as
//! RFC 6749 appendix B requires), by the `form_urlencoded` crate.

/// One value form-encoded: as Basic credentials must be encoded before base64 (RFC 6749
/// section 2.3.1). Space becomes `+`; only `A-Z a-z 0-9 - . _ *` stay as they are.
pub(crate) fn form_urlencode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_form_urlencoded() {
        assert_eq!(form_urlencode("a b:c/d"), "a+b%3Ac%2Fd");
        assert_eq!(form_urlencode("plain-id_1.x*"), "plain-id_1.x*");
        assert_eq!(form_urlencode("é%+&="), "%C3%A9%25%2B%26%3D");
    }
}
