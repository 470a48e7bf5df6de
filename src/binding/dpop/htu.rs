//! `htu` against the request URI (RFC 9449 section 4.3 step 9), and the URI a client
//! must have signed for a request target: our public origin and the request's path.

use reqwest::Url;

/// `htu` against the request URI (RFC 9449 section 4.3 step 9): both parsed, so scheme
/// and host compare lower-case and a default port equals no port (RFC 3986 sections
/// 6.2.2-6.2.3); query and fragment are ignored (RFC 9449 section 4.2).
pub(crate) fn same_uri(htu: &str, expected: &Url) -> bool {
    let Ok(htu) = Url::parse(htu) else {
        return false;
    };
    htu.scheme() == expected.scheme()
        && matches!(htu.scheme(), "https" | "http")
        && htu.host_str() == expected.host_str()
        && htu.port_or_known_default() == expected.port_or_known_default()
        && htu.username().is_empty()
        && htu.password().is_none()
        && htu.path() == expected.path()
}

/// The URI the client must have signed for `target` (a request's origin-form or
/// absolute-form target): `public_base`'s origin and the target's path, without query
/// or fragment. `None` for a target that has no path.
pub(crate) fn expected_uri(public_base: &Url, target: &str) -> Option<Url> {
    // A proxy may send an absolute URI; only its path matters here.
    let path = match target.find("://") {
        Some(_) => Url::parse(target).ok()?.path().to_owned(),
        None => target.split(['?', '#']).next().unwrap_or("/").to_owned(),
    };
    if !path.starts_with('/') {
        return None;
    }
    let mut uri = public_base.clone();
    uri.set_path(&path);
    uri.set_query(None);
    uri.set_fragment(None);
    Some(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orders() -> Url {
        Url::parse("https://api.example.com/orders").unwrap()
    }

    #[test]
    fn htu_is_compared_normalized_without_query_or_fragment() {
        for same in [
            "https://API.Example.com/orders",
            "HTTPS://api.example.com:443/orders",
            "https://api.example.com/orders?page=2",
            "https://api.example.com/orders#top",
        ] {
            assert!(same_uri(same, &orders()), "{same}");
        }
        for other in [
            "http://api.example.com/orders",
            "https://api.example.com:8443/orders",
            "https://api.example.com/orders/",
            "https://user@api.example.com/orders",
            "https://evil.example.com/orders",
            "ftp://api.example.com/orders",
            "/orders",
            "",
        ] {
            assert!(!same_uri(other, &orders()), "{other}");
        }
    }

    #[test]
    fn the_expected_uri_is_the_public_origin_and_the_request_path() {
        let base = Url::parse("https://api.example.com").unwrap();
        for target in [
            "/orders",
            "/orders?page=2",
            "/orders#x",
            "http://10.0.0.1:8080/orders?q",
        ] {
            assert_eq!(expected_uri(&base, target), Some(orders()), "{target}");
        }
        assert_eq!(expected_uri(&base, "*"), None);
        assert_eq!(expected_uri(&base, "orders"), None);
    }
}
