//! gRPC clients get gRPC refusals: a request whose `content-type` is `application/grpc`
//! (gRPC over HTTP/2, "Requests": `application/grpc` optionally followed by `+proto`,
//! `+json`, ...) is refused with a trailers-only response (HTTP 200, the status in
//! `grpc-status`), as gRPC clients expect, instead of a bare HTTP status they would
//! report as a transport error. The code is read from the status the core decided (gRPC's
//! `http-grpc-status-mapping.md`: 401 is `UNAUTHENTICATED`, 403 `PERMISSION_DENIED`, 503
//! `UNAVAILABLE`; a malformed request, 400, is `INVALID_ARGUMENT`), and the core's
//! `WWW-Authenticate` challenge and `Retry-After` stay, as response metadata.

use http::header::{CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, HeaderName, Response, StatusCode};
use tokengate::Error;

static GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
static GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");

/// gRPC status codes (`grpc/doc/statuscodes.md`).
const INVALID_ARGUMENT: u16 = 3;
const PERMISSION_DENIED: u16 = 7;
const UNAVAILABLE: u16 = 14;
const UNAUTHENTICATED: u16 = 16;
const UNKNOWN: u16 = 2;

/// Whether a request with these headers speaks gRPC.
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            let value = value.as_bytes();
            value.len() >= 16
                && value[..16].eq_ignore_ascii_case(b"application/grpc")
                && matches!(value.get(16), None | Some(b'+' | b';'))
        })
}

/// The gRPC code for a refusal with this HTTP status.
fn code(status: u16) -> u16 {
    match status {
        400 => INVALID_ARGUMENT,
        401 => UNAUTHENTICATED,
        403 => PERMISSION_DENIED,
        503 => UNAVAILABLE,
        _ => UNKNOWN,
    }
}

/// Rewrites the HTTP refusal `response` for `error` as a trailers-only gRPC response: the
/// status 200, `content-type: application/grpc`, `grpc-status`, and the core's fixed
/// description as `grpc-message` (percent-encoded, as the gRPC spec asks). The headers the
/// refusal carried (`WWW-Authenticate`, `Retry-After`, `DPoP-Nonce`) stay.
pub(crate) fn into_grpc<B>(response: &mut Response<B>, error: &Error) {
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert(&GRPC_STATUS, HeaderValue::from(code(error.status())));
    if let Ok(message) = HeaderValue::from_str(&percent_encode(error.description())) {
        headers.insert(&GRPC_MESSAGE, message);
    }
}

/// gRPC's `Percent-Encoded` message: printable ASCII but `%` as is, every other byte
/// `%XX`.
fn percent_encode(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for byte in message.bytes() {
        match byte {
            0x20..=0x7e if byte != b'%' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_content_types_are_recognised_and_others_not() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
            is_grpc(&headers)
        };
        for grpc in [
            "application/grpc",
            "application/grpc+proto",
            "Application/GRPC;x=1",
        ] {
            assert!(with(grpc), "{grpc}");
        }
        for other in [
            "application/json",
            "application/grpc-web",
            "application/grpcx",
            "text/plain",
        ] {
            assert!(!with(other), "{other}");
        }
        assert!(!is_grpc(&HeaderMap::new()));
    }

    #[test]
    fn statuses_map_to_grpc_codes_and_messages_are_percent_encoded() {
        assert_eq!(code(401), UNAUTHENTICATED);
        assert_eq!(code(403), PERMISSION_DENIED);
        assert_eq!(code(400), INVALID_ARGUMENT);
        assert_eq!(code(503), UNAVAILABLE);
        assert_eq!(percent_encode("50% off é"), "50%25 off %C3%A9");
    }
}
