//! [`RejectionBody`]: what the body of a refusal says, chosen once on the
//! [`Gate`](crate::Gate) so both adapters answer alike.
//!
//! The RFC 6750 `WWW-Authenticate` challenge is always sent; the body is extra. By
//! default it is empty. [`RejectionBody::problem_json`] sends RFC 9457 problem details
//! with the same fixed descriptions the challenge carries; [`RejectionBody::custom`]
//! renders your own from the [`Error`].
//!
//! ```
//! use tokengate::Error;
//! use tokengate::rejection_body::RejectionBody;
//!
//! let body = RejectionBody::problem_json()
//!     .render(&Error::insufficient_scope("admin"))
//!     .unwrap();
//! assert_eq!(body.content_type, "application/problem+json");
//! let json: serde_json::Value = serde_json::from_slice(&body.bytes).unwrap();
//! assert_eq!(json["status"], 403);
//! assert_eq!(json["title"], "Forbidden");
//! assert_eq!(json["detail"], "The access token lacks a required scope");
//! assert_eq!(json["error"], "insufficient_scope");
//! ```
//!
//! Every rejection response of either adapter also carries the [`Error`] in its
//! extensions, so an outer layer can log or rewrite it.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::error::Error;

/// The RFC 9457 section 6.1 media type of a problem details document in JSON.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A rendered body: its `Content-Type` and bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Body {
    /// The `Content-Type` the response gets with it.
    pub content_type: Cow<'static, str>,
    /// The body.
    pub bytes: Vec<u8>,
}

/// What a refusal's body says: nothing (the default), RFC 9457 problem details, or what
/// your function renders. Cheap to clone.
#[derive(Clone, Default)]
pub struct RejectionBody {
    render: Render,
}

#[derive(Clone, Default)]
enum Render {
    /// No body: what RFC 6750 asks for; the challenge says it all.
    #[default]
    Empty,
    ProblemJson,
    Custom(Arc<Renderer>),
}

/// A user's body renderer.
type Renderer = dyn Fn(&Error) -> Option<Body> + Send + Sync;

impl RejectionBody {
    /// No body (the default): the status and the `WWW-Authenticate` challenge only.
    pub fn empty() -> Self {
        RejectionBody::default()
    }

    /// RFC 9457 problem details, `application/problem+json`: `type` `about:blank`
    /// (section 4.2.1: the status says it all), `title` the status phrase, `status`,
    /// `detail` the fixed description of the challenge, and the RFC 6750 `error` code
    /// as an extension member when there is one. Never a claim value or an internal
    /// reason.
    pub fn problem_json() -> Self {
        RejectionBody {
            render: Render::ProblemJson,
        }
    }

    /// Your own body for each refusal (`None`: empty). It sees the [`Error`]; what it
    /// renders goes to the client as is, so it should keep to
    /// [`Error::description`] and [`Error::error_code`], not the precise reason.
    ///
    /// ```
    /// use tokengate::rejection_body::{Body, RejectionBody};
    ///
    /// let text = RejectionBody::custom(|error| {
    ///     Some(Body {
    ///         content_type: "text/plain".into(),
    ///         bytes: error.description().as_bytes().to_vec(),
    ///     })
    /// });
    /// ```
    pub fn custom<F>(render: F) -> Self
    where
        F: Fn(&Error) -> Option<Body> + Send + Sync + 'static,
    {
        RejectionBody {
            render: Render::Custom(Arc::new(render)),
        }
    }

    /// The body for `error`, or `None` for an empty one.
    pub fn render(&self, error: &Error) -> Option<Body> {
        match &self.render {
            Render::Empty => None,
            Render::ProblemJson => Some(problem_details(error)),
            Render::Custom(render) => render(error),
        }
    }

    /// Whether refusals get no body.
    pub fn is_empty(&self) -> bool {
        matches!(self.render, Render::Empty)
    }
}

/// RFC 9457 section 3.1 members for `error`.
fn problem_details(error: &Error) -> Body {
    let status = error.status();
    let mut problem = serde_json::json!({
        "type": "about:blank",
        "title": title(status),
        "status": status,
        "detail": error.description(),
    });
    if let Some(code) = error.error_code() {
        problem["error"] = code.into();
    }
    Body {
        content_type: Cow::Borrowed(PROBLEM_JSON),
        bytes: problem.to_string().into_bytes(),
    }
}

/// RFC 9457 section 4.2.1: with `about:blank`, the title is the status's phrase (RFC 9110
/// section 15).
fn title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

impl fmt::Debug for RejectionBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.render {
            Render::Empty => "RejectionBody::empty",
            Render::ProblemJson => "RejectionBody::problem_json",
            Render::Custom(_) => "RejectionBody::custom",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{InvalidRequest, InvalidToken};

    fn json(error: &Error) -> serde_json::Value {
        let body = RejectionBody::problem_json().render(error).unwrap();
        assert_eq!(body.content_type, PROBLEM_JSON);
        serde_json::from_slice(&body.bytes).unwrap()
    }

    #[test]
    fn problem_details_carry_the_fixed_description_and_status() {
        let missing = json(&Error::MissingCredentials);
        assert_eq!(missing["status"], 401);
        assert_eq!(missing["title"], "Unauthorized");
        assert_eq!(missing["type"], "about:blank");
        assert!(missing.get("error").is_none());
        let bad = json(&InvalidToken::MissingClaim("tenant_secret").into());
        assert_eq!(bad["detail"], "The access token claims are invalid");
        assert!(!bad.to_string().contains("tenant_secret"));
        assert_eq!(json(&InvalidRequest::MalformedBearer.into())["status"], 400);
        let unmet = json(&Error::requirement_not_met("claim tenant"));
        assert_eq!(unmet["status"], 403);
        assert!(!unmet.to_string().contains("tenant"));
        let unavailable = json(&Error::IssuerUnavailable {
            retry_after: std::time::Duration::from_secs(1),
        });
        assert_eq!(unavailable["title"], "Service Unavailable");
    }

    #[test]
    fn empty_renders_nothing_and_custom_renders_its_own() {
        assert_eq!(
            RejectionBody::empty().render(&Error::MissingCredentials),
            None
        );
        let custom = RejectionBody::custom(|e| {
            (e.status() == 403).then(|| Body {
                content_type: "text/plain".into(),
                bytes: b"no".to_vec(),
            })
        });
        assert_eq!(custom.render(&Error::MissingCredentials), None);
        assert_eq!(
            custom
                .render(&Error::insufficient_scope("a"))
                .unwrap()
                .bytes,
            b"no"
        );
    }
}
