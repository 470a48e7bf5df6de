//! How long a fetched document stays fresh: RFC 9111 (HTTP Caching) sections 4.2.1 and
//! 5.2, applied to JWKS and discovery responses, clamped to the configured bounds.
//!
//! - `Cache-Control: no-store` or `no-cache`: the shortest lifetime allowed;
//! - `Cache-Control: max-age=N` (minus `Age`), which takes precedence over
//! - `Expires` (relative to `Date`, else to our clock);
//! - nothing: the configured default.

use std::time::{Duration, SystemTime};

use reqwest::header::{AGE, CACHE_CONTROL, DATE, EXPIRES, HeaderMap};

/// Bounds on a document's lifetime.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TtlBounds {
    pub(crate) min: Duration,
    pub(crate) max: Duration,
    pub(crate) default: Duration,
}

impl TtlBounds {
    fn clamp(&self, ttl: Duration) -> Duration {
        ttl.clamp(self.min, self.max)
    }
}

/// The freshness lifetime the response headers give, clamped to `bounds`.
pub(crate) fn lifetime(headers: &HeaderMap, bounds: &TtlBounds) -> Duration {
    match stated_lifetime(headers, SystemTime::now()) {
        Some(ttl) => bounds.clamp(ttl),
        None => bounds.clamp(bounds.default),
    }
}

/// What the headers say, unclamped; `None` when they say nothing usable.
fn stated_lifetime(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let mut max_age = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim();
            let (name, arg) = match directive.split_once('=') {
                Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                None => (directive, None),
            };
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                return Some(Duration::ZERO);
            }
            if name.eq_ignore_ascii_case("max-age") {
                // RFC 9111 section 1.2.2: a delta-seconds that does not parse is invalid;
                // one too large for us is "very long".
                max_age = arg.and_then(|a| {
                    a.parse::<u64>().ok().or_else(|| {
                        (!a.is_empty() && a.bytes().all(|b| b.is_ascii_digit())).then_some(u64::MAX)
                    })
                });
            }
        }
    }
    if let Some(max_age) = max_age {
        let age = header_str(headers, AGE)
            .and_then(|a| a.trim().parse::<u64>().ok())
            .unwrap_or(0);
        return Some(Duration::from_secs(max_age.saturating_sub(age)));
    }
    let expires = header_str(headers, EXPIRES)?;
    // RFC 9111 section 5.3: an invalid date (such as "0") means "already expired".
    let Ok(expires) = httpdate::parse_http_date(expires) else {
        return Some(Duration::ZERO);
    };
    let date = header_str(headers, DATE)
        .and_then(|d| httpdate::parse_http_date(d).ok())
        .unwrap_or(now);
    Some(expires.duration_since(date).unwrap_or(Duration::ZERO))
}

fn header_str(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    const BOUNDS: TtlBounds = TtlBounds {
        min: Duration::from_secs(60),
        max: Duration::from_secs(86_400),
        default: Duration::from_secs(600),
    };

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn ttl(pairs: &[(&'static str, &str)]) -> u64 {
        lifetime(&headers(pairs), &BOUNDS).as_secs()
    }

    #[test]
    fn max_age_is_honoured_within_bounds() {
        assert_eq!(ttl(&[("cache-control", "public, max-age=3600")]), 3600);
        assert_eq!(ttl(&[("cache-control", "max-age=5")]), 60, "clamped up");
        assert_eq!(
            ttl(&[("cache-control", "max-age=9999999")]),
            86_400,
            "clamped down"
        );
        assert_eq!(
            ttl(&[("cache-control", "max-age=99999999999999999999999")]),
            86_400
        );
        assert_eq!(ttl(&[("cache-control", "MAX-AGE=\"7200\"")]), 7200);
    }

    #[test]
    fn age_is_subtracted() {
        assert_eq!(
            ttl(&[("cache-control", "max-age=3600"), ("age", "600")]),
            3000
        );
    }

    #[test]
    fn no_cache_and_no_store_mean_the_minimum() {
        assert_eq!(ttl(&[("cache-control", "no-cache")]), 60);
        assert_eq!(ttl(&[("cache-control", "max-age=3600, no-store")]), 60);
    }

    #[test]
    fn silence_means_the_default() {
        assert_eq!(ttl(&[]), 600);
        assert_eq!(ttl(&[("cache-control", "public")]), 600);
        assert_eq!(ttl(&[("cache-control", "max-age=soon")]), 600);
    }

    #[test]
    fn expires_counts_from_date() {
        let h = [
            ("date", "Sun, 06 Nov 1994 08:49:37 GMT"),
            ("expires", "Sun, 06 Nov 1994 10:49:37 GMT"),
        ];
        assert_eq!(ttl(&h), 7200);
        let bogus = [("expires", "0")];
        assert_eq!(ttl(&bogus), 60, "an invalid Expires means already stale");
        let with_max_age = [
            ("date", "Sun, 06 Nov 1994 08:49:37 GMT"),
            ("expires", "Sun, 06 Nov 1994 10:49:37 GMT"),
            ("cache-control", "max-age=300"),
        ];
        assert_eq!(ttl(&with_max_age), 300, "max-age wins over Expires");
    }
}
