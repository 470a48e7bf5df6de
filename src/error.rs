//! Why a request was refused, in the terms of RFC 6750 section 3.
//!
//! Every refusal is one [`Error`] whose variants are the RFC's cases, not this crate's
//! internals. An adapter turns it into a response with [`Error::status`],
//! [`Error::www_authenticate`] (or [`Error::www_authenticate_with`], which adds RFC 9728's
//! `resource_metadata`) and [`Error::retry_after`]; it decides nothing itself.
//!
//! ```
//! use tokengate::Error;
//!
//! let err = Error::insufficient_scope("admin");
//! assert_eq!(err.status(), 403);
//! assert_eq!(
//!     err.www_authenticate().unwrap(),
//!     r#"Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="admin""#,
//! );
//! ```
//!
//! The text a client sees (`error_description`) is always one of a fixed set of strings;
//! the precise reason ([`InvalidToken`], [`InvalidRequest`]) is kept for logs and tests.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A refused request, as RFC 6750 section 3 classifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// No credentials were sent. RFC 6750 section 3.1: the challenge carries no `error`.
    MissingCredentials,
    /// The request is malformed (RFC 6750 `invalid_request`, 400).
    InvalidRequest(InvalidRequest),
    /// The token is malformed, expired, not ours or not genuine (`invalid_token`, 401).
    InvalidToken(InvalidToken),
    /// The token is valid but lacks a scope the resource needs (`insufficient_scope`, 403).
    InsufficientScope {
        /// The scope the resource requires, named in the challenge.
        required: String,
    },
    /// The token is valid but fails a requirement of the resource other than a scope: a
    /// claim value, a role, a custom check ([`Requirement`](crate::require::Requirement)).
    /// RFC 6750 section 3.1: 403 `insufficient_scope` ("the request requires higher
    /// privileges than provided by the access token"), with a fixed description and no
    /// `scope` attribute; never a claim value.
    RequirementNotMet {
        /// The failed requirement's name, from the configuration (for logs only).
        requirement: Arc<str>,
    },
    /// The DPoP proof sent with a DPoP-bound token is missing, invalid, replayed or made
    /// with another key (RFC 9449 section 7.1 `invalid_dpop_proof`, 401).
    InvalidDpopProof(InvalidProof),
    /// The resource server provides DPoP nonces and the proof has none, or one it no
    /// longer accepts (RFC 9449 section 9 `use_dpop_nonce`, 401). The response carries a
    /// fresh nonce in `DPoP-Nonce` ([`Refusal::dpop_nonce`](crate::gate::Refusal::dpop_nonce));
    /// the reason ([`InvalidProof::MissingNonce`] or [`InvalidProof::BadNonce`]) is kept
    /// for logs.
    UseDpopNonce(InvalidProof),
    /// The issuer could not be consulted (503): no key set was ever fetched from it, or
    /// its introspection endpoint failed. Never a verdict on the token.
    IssuerUnavailable {
        /// When a new fetch may be tried; sent as `Retry-After`.
        retry_after: Duration,
    },
    /// The DPoP replay store (for example Redis) could not say whether a proof's `jti`
    /// was seen before (503). The proof is never accepted unchecked.
    ReplayStoreUnavailable {
        /// When to try again; sent as `Retry-After`.
        retry_after: Duration,
    },
}

/// The precise reason a request was `invalid_request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidRequest {
    /// More than one `Authorization` header (RFC 6750 section 2: one method, once).
    MultipleAuthorizationHeaders,
    /// `Authorization: Bearer` with no token. (A token of characters outside `b64token`
    /// is [`InvalidToken::Malformed`]: RFC 6750 section 3.1.)
    MalformedBearer,
    /// The `Authorization` header is not valid visible ASCII.
    MalformedHeader,
    /// A trusted proxy's forwarding headers (RFC 7239 `Forwarded`, `X-Forwarded-Proto`,
    /// `X-Forwarded-Host`) cannot be read, or disagree with each other.
    MalformedForwarded,
    /// A trusted proxy's client-certificate header is not one certificate in the
    /// configured format.
    MalformedClientCertificate,
    /// The token came both in the `Authorization` header and in the gate's token cookie
    /// (RFC 6750 section 2: a client uses one method only).
    MultipleTokenSources,
    /// The token cookie appears more than once, or its value is not one quoted or unquoted
    /// cookie value (RFC 6265 section 4.1.1).
    MalformedCookie,
}

/// The precise reason a token was `invalid_token`. Kept for logs; never sent to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidToken {
    /// Larger than the configured cap; refused before any decoding.
    TooLarge,
    /// Not three base64url segments, or a segment is not a JSON object.
    Malformed,
    /// The `alg` is `none`, HMAC, unknown or not in the allow-list (RFC 8725 section 3.1).
    AlgorithmNotAllowed,
    /// The header uses an extension we do not understand (RFC 7515 section 4.1.11 `crit`),
    /// or unencoded payloads (RFC 7797 `b64: false`).
    UnsupportedHeader,
    /// RFC 9068 mode: the header's `typ` is not `at+jwt`; or an introspection answer's
    /// `token_type` names something other than an access token (RFC 7662 section 2.2).
    WrongType,
    /// No published key has this `kid` (after at most one refetch).
    UnknownKey,
    /// The key exists but does not fit the token's `alg` (type, curve or JWK `alg`).
    KeyAlgorithmMismatch,
    /// No `kid` and more than one candidate key.
    AmbiguousKey,
    /// The signature does not verify.
    BadSignature,
    /// `exp` is in the past, beyond the leeway.
    Expired,
    /// `nbf` is in the future, beyond the leeway.
    NotYetValid,
    /// A required claim is absent.
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type.
    InvalidClaim(&'static str),
    /// `iss` is not the configured issuer.
    WrongIssuer,
    /// `aud` does not contain the configured audience.
    WrongAudience,
    /// RFC 7662 section 2.2: the introspection endpoint says the token is not active
    /// (expired, revoked, or never issued).
    Inactive,
    /// The token is sender-constrained (a `cnf` claim, RFC 7800): bound to a DPoP key
    /// (RFC 9449 section 7.2) or a client certificate (RFC 8705 section 3), a binding a
    /// `Bearer` request cannot prove.
    SenderConstrained,
    /// The token is bound to a client certificate (`cnf.x5t#S256`, RFC 8705 section 3.1)
    /// and the request presented none, or another one (RFC 8705 section 3).
    CertificateMismatch,
    /// The route requires certificate-bound tokens and this one carries no
    /// `cnf.x5t#S256`.
    NotCertificateBound,
}

impl InvalidToken {
    /// A stable, lower-case label for this reason (the `reason` of metrics and logs):
    /// no internal detail, the same across releases.
    pub const fn as_str(self) -> &'static str {
        match self {
            InvalidToken::TooLarge => "too_large",
            InvalidToken::Malformed => "malformed",
            InvalidToken::AlgorithmNotAllowed => "algorithm_not_allowed",
            InvalidToken::UnsupportedHeader => "unsupported_header",
            InvalidToken::WrongType => "wrong_type",
            InvalidToken::UnknownKey => "unknown_key",
            InvalidToken::KeyAlgorithmMismatch => "key_algorithm_mismatch",
            InvalidToken::AmbiguousKey => "ambiguous_key",
            InvalidToken::BadSignature => "bad_signature",
            InvalidToken::Expired => "expired",
            InvalidToken::NotYetValid => "not_yet_valid",
            InvalidToken::MissingClaim(_) => "missing_claim",
            InvalidToken::InvalidClaim(_) => "invalid_claim",
            InvalidToken::WrongIssuer => "wrong_issuer",
            InvalidToken::WrongAudience => "wrong_audience",
            InvalidToken::Inactive => "inactive",
            InvalidToken::SenderConstrained => "sender_constrained",
            InvalidToken::CertificateMismatch => "certificate_mismatch",
            InvalidToken::NotCertificateBound => "not_certificate_bound",
        }
    }
}

/// Why a proof was refused; for logs and tests, never sent to clients (they get the
/// fixed `invalid_dpop_proof` description).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidProof {
    /// Not one compact JWS of strict base64url and JSON, or too long.
    Malformed,
    /// `typ` is not `dpop+jwt`.
    WrongType,
    /// `alg` is not an asymmetric algorithm of the allow-list.
    AlgorithmNotAllowed,
    /// The header has `crit`, which no extension we implement can satisfy.
    UnsupportedHeader,
    /// `jwk` is missing, not a usable public key, holds a private member, or does not
    /// fit `alg`.
    BadKey,
    /// The signature does not verify with the embedded key.
    BadSignature,
    /// A required claim (`jti`, `htm`, `htu`, `iat`, `ath`) is missing or mistyped.
    MissingClaim,
    /// `htm` is not the request's method.
    MethodMismatch,
    /// `htu` is not the request's URI.
    UriMismatch,
    /// `iat` is outside the window around now.
    Stale,
    /// `ath` is not the hash of the access token sent with it.
    AccessTokenHashMismatch,
    /// The proof's key is not the one the token is bound to (`cnf.jkt`).
    KeyMismatch,
    /// The `jti` was seen before within the window.
    Replayed,
    /// `Authorization: DPoP` without exactly one `DPoP` header.
    MissingProof,
    /// The server provides nonces and the proof has no `nonce` (RFC 9449 section 9):
    /// answered with [`Error::UseDpopNonce`].
    MissingNonce,
    /// The proof's `nonce` is not one the server accepts now: older than the accepted
    /// windows, made with another secret (before a restart), or forged. Answered with
    /// [`Error::UseDpopNonce`] (RFC 9449 section 8: a mismatch gets a new nonce).
    BadNonce,
}

impl InvalidProof {
    /// A stable, lower-case label for this reason, for metrics and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            InvalidProof::Malformed => "malformed",
            InvalidProof::WrongType => "wrong_type",
            InvalidProof::AlgorithmNotAllowed => "algorithm_not_allowed",
            InvalidProof::UnsupportedHeader => "unsupported_header",
            InvalidProof::BadKey => "bad_key",
            InvalidProof::BadSignature => "bad_signature",
            InvalidProof::MissingClaim => "missing_claim",
            InvalidProof::MethodMismatch => "method_mismatch",
            InvalidProof::UriMismatch => "uri_mismatch",
            InvalidProof::Stale => "stale",
            InvalidProof::AccessTokenHashMismatch => "access_token_hash_mismatch",
            InvalidProof::KeyMismatch => "key_mismatch",
            InvalidProof::Replayed => "replayed",
            InvalidProof::MissingProof => "missing_proof",
            InvalidProof::MissingNonce => "missing_nonce",
            InvalidProof::BadNonce => "bad_nonce",
        }
    }
}

/// Fixed client-facing descriptions. Internal error text never reaches a client.
mod description {
    pub const MISSING: &str = "No access token was sent";
    pub const REQUEST: &str = "The Authorization header is malformed";
    pub const FORWARDED: &str = "The forwarding headers are malformed or disagree";
    pub const CLIENT_CERTIFICATE: &str = "The client certificate header is malformed";
    pub const CERTIFICATE: &str =
        "The access token is not bound to the client certificate of this request";
    pub const MULTIPLE: &str = "More than one Authorization header was sent";
    pub const MALFORMED: &str = "The access token is malformed";
    pub const SIGNATURE: &str = "The access token is not signed by a trusted key";
    pub const EXPIRED: &str = "The access token expired";
    pub const NOT_YET_VALID: &str = "The access token is not valid yet";
    pub const NOT_FOR_US: &str = "The access token was not issued for this resource";
    pub const CLAIMS: &str = "The access token claims are invalid";
    pub const INACTIVE: &str = "The access token is not active";
    pub const BOUND: &str =
        "The access token is bound to a key and cannot be used as a bearer token";
    pub const SCOPE: &str = "The access token lacks a required scope";
    pub const REQUIREMENT: &str = "The access token does not meet a requirement of this resource";
    pub const SOURCES: &str = "The access token was sent in more than one way";
    pub const COOKIE: &str = "The access token cookie is malformed";
    pub const UNAVAILABLE: &str = "The token issuer is unavailable";
    pub const REPLAY_STORE: &str = "The DPoP proof cannot be checked right now";
    pub const DPOP_PROOF: &str = "The DPoP proof is missing or invalid";
    pub const DPOP_NONCE: &str = "The resource server requires a fresh nonce in the DPoP proof";
}

impl Error {
    /// The 403 for a token that lacks `scope`.
    pub fn insufficient_scope(scope: impl Into<String>) -> Self {
        Error::InsufficientScope {
            required: scope.into(),
        }
    }

    /// The 403 for a token that fails the requirement named `requirement` (a claim, a
    /// role, a custom check): the name is for logs, the client sees a fixed description.
    pub fn requirement_not_met(requirement: impl Into<Arc<str>>) -> Self {
        Error::RequirementNotMet {
            requirement: requirement.into(),
        }
    }

    /// The HTTP status code RFC 6750 section 3.1 gives this error.
    pub fn status(&self) -> u16 {
        match self {
            Error::MissingCredentials
            | Error::InvalidToken(_)
            | Error::InvalidDpopProof(_)
            | Error::UseDpopNonce(_) => 401,
            Error::InvalidRequest(_) => 400,
            Error::InsufficientScope { .. } | Error::RequirementNotMet { .. } => 403,
            Error::IssuerUnavailable { .. } | Error::ReplayStoreUnavailable { .. } => 503,
        }
    }

    /// The RFC 6750 error code, or `None` when the client sent no credentials.
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            Error::MissingCredentials
            | Error::IssuerUnavailable { .. }
            | Error::ReplayStoreUnavailable { .. } => None,
            Error::InvalidRequest(_) => Some("invalid_request"),
            Error::InvalidToken(_) => Some("invalid_token"),
            Error::InsufficientScope { .. } | Error::RequirementNotMet { .. } => {
                Some("insufficient_scope")
            }
            Error::InvalidDpopProof(_) => Some("invalid_dpop_proof"),
            Error::UseDpopNonce(_) => Some("use_dpop_nonce"),
        }
    }

    /// The fixed, human-readable description sent to the client.
    pub fn description(&self) -> &'static str {
        use InvalidToken as T;
        match self {
            Error::MissingCredentials => description::MISSING,
            Error::InvalidRequest(InvalidRequest::MultipleAuthorizationHeaders) => {
                description::MULTIPLE
            }
            Error::InvalidRequest(InvalidRequest::MalformedForwarded) => description::FORWARDED,
            Error::InvalidRequest(InvalidRequest::MalformedClientCertificate) => {
                description::CLIENT_CERTIFICATE
            }
            Error::InvalidRequest(InvalidRequest::MultipleTokenSources) => description::SOURCES,
            Error::InvalidRequest(InvalidRequest::MalformedCookie) => description::COOKIE,
            Error::InvalidRequest(_) => description::REQUEST,
            Error::InvalidToken(reason) => match reason {
                T::TooLarge | T::Malformed | T::UnsupportedHeader | T::AlgorithmNotAllowed => {
                    description::MALFORMED
                }
                T::UnknownKey | T::KeyAlgorithmMismatch | T::AmbiguousKey | T::BadSignature => {
                    description::SIGNATURE
                }
                T::Expired => description::EXPIRED,
                T::NotYetValid => description::NOT_YET_VALID,
                T::WrongIssuer | T::WrongAudience | T::WrongType => description::NOT_FOR_US,
                T::Inactive => description::INACTIVE,
                T::SenderConstrained => description::BOUND,
                T::CertificateMismatch | T::NotCertificateBound => description::CERTIFICATE,
                T::MissingClaim(_) | T::InvalidClaim(_) => description::CLAIMS,
            },
            Error::InsufficientScope { .. } => description::SCOPE,
            Error::RequirementNotMet { .. } => description::REQUIREMENT,
            Error::IssuerUnavailable { .. } => description::UNAVAILABLE,
            Error::ReplayStoreUnavailable { .. } => description::REPLAY_STORE,
            Error::InvalidDpopProof(_) => description::DPOP_PROOF,
            Error::UseDpopNonce(_) => description::DPOP_NONCE,
        }
    }

    /// The `WWW-Authenticate` value (RFC 6750 section 3), or `None` for 503, which is not
    /// an authentication failure.
    ///
    /// Quoted strings are escaped as RFC 9110 section 5.6.4 says; characters that no
    /// header may carry (control characters) are dropped from them.
    pub fn www_authenticate(&self) -> Option<String> {
        self.www_authenticate_with(None)
    }

    /// [`www_authenticate`](Self::www_authenticate) with, when `resource_metadata` is
    /// given, the RFC 9728 section 5.1 `resource_metadata` attribute: the URL of the
    /// protected resource metadata document
    /// ([`ResourceMetadata::metadata_url`](crate::ResourceMetadata::metadata_url)), from
    /// which a client learns which authorization server to ask for a token.
    ///
    /// Every challenge carries it, the bare one for missing credentials included:
    ///
    /// ```
    /// use tokengate::Error;
    ///
    /// let url = "https://api.example.com/.well-known/oauth-protected-resource";
    /// assert_eq!(
    ///     Error::MissingCredentials.www_authenticate_with(Some(url)).unwrap(),
    ///     r#"Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource""#,
    /// );
    /// assert!(
    ///     Error::insufficient_scope("admin")
    ///         .www_authenticate_with(Some(url))
    ///         .unwrap()
    ///         .ends_with(r#", scope="admin", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource""#),
    /// );
    /// ```
    pub fn www_authenticate_with(&self, resource_metadata: Option<&str>) -> Option<String> {
        self.www_authenticate_in(&Challenges {
            resource_metadata,
            ..Challenges::default()
        })
    }

    /// The `WWW-Authenticate` value offering the schemes of `challenges`: `Bearer` (RFC
    /// 6750 section 3) and/or `DPoP` (RFC 9449 section 7.1, with its `algs`), the error's
    /// attributes on the scheme the request used, and `resource_metadata` on each.
    ///
    /// ```
    /// use tokengate::Error;
    /// use tokengate::error::Challenges;
    ///
    /// let both = Challenges { dpop_algs: Some("ES256 EdDSA"), ..Challenges::default() };
    /// assert_eq!(
    ///     Error::MissingCredentials.www_authenticate_in(&both).unwrap(),
    ///     r#"Bearer, DPoP algs="ES256 EdDSA""#,
    /// );
    /// ```
    pub fn www_authenticate_in(&self, challenges: &Challenges<'_>) -> Option<String> {
        if self.status() == 503 {
            return None;
        }
        let dpop_error = challenges.dpop_algs.is_some()
            && (challenges.dpop_used
                || !challenges.bearer
                || matches!(self, Error::InvalidDpopProof(_) | Error::UseDpopNonce(_)));
        let mut value = String::with_capacity(160);
        if challenges.bearer || challenges.dpop_algs.is_none() {
            value.push_str("Bearer");
            let with_error = !dpop_error;
            self.push_attributes(&mut value, with_error, None, challenges.resource_metadata);
        }
        if let Some(algs) = challenges.dpop_algs {
            if !value.is_empty() {
                value.push_str(", ");
            }
            value.push_str("DPoP");
            self.push_attributes(
                &mut value,
                dpop_error,
                Some(algs),
                challenges.resource_metadata,
            );
        }
        Some(value)
    }

    /// A challenge's attributes: `algs` first (DPoP), then the error's, then the metadata.
    fn push_attributes(
        &self,
        value: &mut String,
        with_error: bool,
        algs: Option<&str>,
        resource_metadata: Option<&str>,
    ) {
        let mut first = true;
        let mut separator = |value: &mut String| {
            value.push_str(if first { " " } else { ", " });
            first = false;
        };
        if let Some(algs) = algs {
            separator(value);
            value.push_str("algs=");
            push_quoted(value, algs);
        }
        // RFC 6750 section 3.1: with no credentials, no error code and no description;
        // only the attributes that help the client get a token.
        if let (true, Some(code)) = (with_error, self.error_code()) {
            separator(value);
            value.push_str("error=\"");
            value.push_str(code);
            value.push_str("\", error_description=");
            push_quoted(value, self.description());
            if let Error::InsufficientScope { required } = self {
                value.push_str(", scope=");
                push_quoted(value, required);
            }
        }
        if let Some(url) = resource_metadata {
            separator(value);
            value.push_str("resource_metadata=");
            push_quoted(value, url);
        }
    }

    /// Seconds for a `Retry-After` header, on 503 only: the wait rounded up (a client that
    /// obeys it never comes back early), at least one.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::IssuerUnavailable { retry_after }
            | Error::ReplayStoreUnavailable { retry_after } => {
                let partial = u64::from(retry_after.subsec_nanos() > 0);
                Some(retry_after.as_secs().saturating_add(partial).max(1))
            }
            _ => None,
        }
    }
}

/// What a `WWW-Authenticate` header offers: the schemes a resource accepts and the
/// attributes that help a client get a token. The default is a bearer-only resource.
#[derive(Debug, Clone, Copy)]
pub struct Challenges<'a> {
    /// Bearer tokens are accepted (a `Bearer` challenge).
    pub bearer: bool,
    /// DPoP-bound tokens are accepted, with proofs signed by these algorithms (a `DPoP`
    /// challenge with `algs`, RFC 9449 section 7.1).
    pub dpop_algs: Option<&'a str>,
    /// The request used the `DPoP` scheme: the error goes on the `DPoP` challenge.
    pub dpop_used: bool,
    /// RFC 9728 section 5.1 `resource_metadata`, on every challenge.
    pub resource_metadata: Option<&'a str>,
}

impl Default for Challenges<'_> {
    fn default() -> Self {
        Challenges {
            bearer: true,
            dpop_algs: None,
            dpop_used: false,
            resource_metadata: None,
        }
    }
}

/// Appends `s` as an RFC 9110 quoted-string.
fn push_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_ascii_control() || !c.is_ascii() => {}
            c => out.push(c),
        }
    }
    out.push('"');
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidToken(reason) => write!(f, "invalid_token ({reason:?})"),
            Error::InvalidRequest(reason) => write!(f, "invalid_request ({reason:?})"),
            Error::InsufficientScope { required } => {
                write!(f, "insufficient_scope (requires {required:?})")
            }
            Error::RequirementNotMet { requirement } => {
                write!(
                    f,
                    "insufficient_scope (requirement {requirement:?} not met)"
                )
            }
            Error::MissingCredentials => f.write_str("no bearer token"),
            Error::InvalidDpopProof(reason) => write!(f, "invalid_dpop_proof ({reason:?})"),
            Error::UseDpopNonce(reason) => write!(f, "use_dpop_nonce ({reason:?})"),
            Error::IssuerUnavailable { .. } => {
                f.write_str("issuer unavailable (no key set yet, or introspection failed)")
            }
            Error::ReplayStoreUnavailable { .. } => f.write_str("DPoP replay store unavailable"),
        }
    }
}

impl std::error::Error for Error {}

impl From<InvalidToken> for Error {
    fn from(reason: InvalidToken) -> Self {
        Error::InvalidToken(reason)
    }
}

impl From<InvalidRequest> for Error {
    fn from(reason: InvalidRequest) -> Self {
        Error::InvalidRequest(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_credentials_challenge_has_no_error_attribute() {
        let err = Error::MissingCredentials;
        assert_eq!(err.status(), 401);
        assert_eq!(err.www_authenticate().as_deref(), Some("Bearer"));
    }

    #[test]
    fn invalid_token_challenge_names_the_error() {
        let err = Error::from(InvalidToken::Expired);
        assert_eq!(err.status(), 401);
        assert_eq!(
            err.www_authenticate().unwrap(),
            r#"Bearer error="invalid_token", error_description="The access token expired""#
        );
    }

    #[test]
    fn invalid_request_is_400() {
        let err = Error::from(InvalidRequest::MultipleAuthorizationHeaders);
        assert_eq!(err.status(), 400);
        assert!(
            err.www_authenticate()
                .unwrap()
                .starts_with(r#"Bearer error="invalid_request""#)
        );
    }

    #[test]
    fn scope_is_escaped_in_the_challenge() {
        let err = Error::insufficient_scope("a\"b\\c\r\nd");
        let value = err.www_authenticate().unwrap();
        assert!(value.ends_with(r#"scope="a\"b\\cd""#), "{value}");
    }

    #[test]
    fn issuer_unavailable_is_503_with_retry_after_and_no_challenge() {
        let err = Error::IssuerUnavailable {
            retry_after: Duration::from_millis(200),
        };
        assert_eq!(err.status(), 503);
        assert_eq!(err.retry_after(), Some(1));
        assert_eq!(err.www_authenticate(), None);
    }

    #[test]
    fn retry_after_rounds_up_so_an_obedient_client_is_never_early() {
        let after = |millis| {
            Error::IssuerUnavailable {
                retry_after: Duration::from_millis(millis),
            }
            .retry_after()
        };
        assert_eq!(after(0), Some(1));
        assert_eq!(after(1000), Some(1));
        assert_eq!(after(1001), Some(2));
        assert_eq!(after(29_999), Some(30));
    }

    const METADATA: &str = "https://api.example.com/.well-known/oauth-protected-resource/v1";

    #[test]
    fn resource_metadata_is_the_only_attribute_without_credentials() {
        assert_eq!(
            Error::MissingCredentials
                .www_authenticate_with(Some(METADATA))
                .unwrap(),
            format!("Bearer resource_metadata=\"{METADATA}\"")
        );
    }

    #[test]
    fn resource_metadata_follows_the_error_attributes() {
        assert_eq!(
            Error::from(InvalidToken::BadSignature)
                .www_authenticate_with(Some(METADATA))
                .unwrap(),
            format!(
                "Bearer error=\"invalid_token\", error_description=\"The access token is not signed by a trusted key\", resource_metadata=\"{METADATA}\""
            )
        );
        assert_eq!(
            Error::from(InvalidRequest::MalformedBearer)
                .www_authenticate_with(Some(METADATA))
                .unwrap(),
            format!(
                "Bearer error=\"invalid_request\", error_description=\"The Authorization header is malformed\", resource_metadata=\"{METADATA}\""
            )
        );
        assert_eq!(
            Error::insufficient_scope("admin")
                .www_authenticate_with(Some(METADATA))
                .unwrap(),
            format!(
                "Bearer error=\"insufficient_scope\", error_description=\"The access token lacks a required scope\", scope=\"admin\", resource_metadata=\"{METADATA}\""
            )
        );
    }

    #[test]
    fn resource_metadata_is_escaped_as_a_quoted_string() {
        let value = Error::MissingCredentials
            .www_authenticate_with(Some("https://x/\"a\\b\r\n"))
            .unwrap();
        assert_eq!(value, r#"Bearer resource_metadata="https://x/\"a\\b""#);
    }

    #[test]
    fn without_resource_metadata_the_challenges_are_unchanged() {
        let errors = [
            Error::MissingCredentials,
            Error::from(InvalidToken::Expired),
            Error::from(InvalidRequest::MultipleAuthorizationHeaders),
            Error::insufficient_scope("admin"),
        ];
        for err in errors {
            let value = err.www_authenticate_with(None).unwrap();
            assert!(!value.contains("resource_metadata"), "{value}");
            assert_eq!(Some(value), err.www_authenticate());
        }
        assert_eq!(
            Error::MissingCredentials.www_authenticate().as_deref(),
            Some("Bearer")
        );
    }

    #[test]
    fn issuer_unavailable_has_no_challenge_even_with_resource_metadata() {
        let err = Error::IssuerUnavailable {
            retry_after: Duration::from_secs(1),
        };
        assert_eq!(err.www_authenticate_with(Some(METADATA)), None);
    }

    #[test]
    fn use_dpop_nonce_is_a_401_on_the_dpop_challenge_with_a_fixed_description() {
        let both = Challenges {
            dpop_algs: Some("ES256"),
            ..Challenges::default()
        };
        for reason in [InvalidProof::MissingNonce, InvalidProof::BadNonce] {
            let err = Error::UseDpopNonce(reason);
            assert_eq!(err.status(), 401);
            assert_eq!(
                err.www_authenticate_in(&both).unwrap(),
                r#"Bearer, DPoP algs="ES256", error="use_dpop_nonce", error_description="The resource server requires a fresh nonce in the DPoP proof""#
            );
        }
        assert_eq!(InvalidProof::BadNonce.as_str(), "bad_nonce");
        assert_eq!(InvalidProof::MissingNonce.as_str(), "missing_nonce");
    }

    #[test]
    fn descriptions_never_carry_internal_detail() {
        let err = Error::from(InvalidToken::MissingClaim("exp"));
        assert!(!err.description().contains("exp"));
    }
}
