//! The client's side of the authorization code flow: a PKCE verifier and challenge
//! (RFC 7636), an unguessable `state` (RFC 6749 10.12), and the checks a client makes on
//! the authorization response before it trusts the code in it.
//!
//! ```
//! use tokengate_dev_issuer::client::{CallbackError, Pkce, check_callback, new_state};
//!
//! let (state, pkce) = (new_state(), Pkce::new());
//! assert_eq!(pkce.challenge(), tokengate_dev_issuer::client::s256_challenge(pkce.verifier()));
//!
//! let redirect_uri = "http://127.0.0.1:8080/callback";
//! let ok = format!("{redirect_uri}?code=abc&state={state}");
//! assert_eq!(check_callback(&ok, redirect_uri, &state, None).unwrap(), "abc");
//!
//! // A response without our state may have been started by someone else (CSRF).
//! let forged = format!("{redirect_uri}?code=attackers-code");
//! assert_eq!(check_callback(&forged, redirect_uri, &state, None), Err(CallbackError::MissingState));
//! ```

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use url::Url;

use crate::random::random_string;

/// A PKCE code verifier and its `S256` challenge (RFC 7636 4.1, 4.2). The client sends
/// the challenge with the authorization request and the verifier with the token request;
/// a stolen code is useless without the verifier.
#[derive(Clone)]
pub struct Pkce {
    verifier: String,
    challenge: String,
}

impl std::fmt::Debug for Pkce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkce")
            .field("challenge", &self.challenge)
            .finish_non_exhaustive()
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

impl Pkce {
    /// The only `code_challenge_method` the development server accepts (RFC 7636 4.2).
    pub const METHOD: &'static str = "S256";

    /// A fresh verifier: 32 random bytes, base64url (43 characters, as RFC 7636 4.1
    /// recommends), and its challenge.
    pub fn new() -> Pkce {
        Self::from_verifier(random_string(32))
    }

    /// The challenge for a given verifier (for tests of wrong verifiers; the verifier is
    /// not checked against the RFC 7636 4.1 syntax here, the server does that).
    pub fn from_verifier(verifier: impl Into<String>) -> Pkce {
        let verifier = verifier.into();
        let challenge = s256_challenge(&verifier);
        Pkce {
            verifier,
            challenge,
        }
    }

    /// The `code_verifier`: kept by the client, sent only to the token endpoint.
    pub fn verifier(&self) -> &str {
        &self.verifier
    }

    /// The `code_challenge`: `BASE64URL(SHA256(ASCII(code_verifier)))` (RFC 7636 4.2).
    pub fn challenge(&self) -> &str {
        &self.challenge
    }
}

/// `BASE64URL-ENCODE(SHA256(ASCII(verifier)))`: the `S256` transformation (RFC 7636 4.2).
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
}

/// An unguessable `state` value (128 random bits, base64url) binding the authorization
/// response to this client's session (RFC 6749 10.12).
pub fn new_state() -> String {
    random_string(16)
}

/// An `application/x-www-form-urlencoded` body, the format of token and introspection
/// requests (RFC 6749 3.2, appendix B; RFC 7662 2.1).
pub fn form_urlencode(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Why a client refuses an authorization response (see [`check_callback`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallbackError {
    /// The URL is not the client's redirect URI (scheme, host, port and path).
    NotRedirectUri,
    /// The response names a parameter more than once, or is not a URL.
    Malformed,
    /// No `state`: the client always sends one, so the response is not an answer to its
    /// request: possibly cross-site request forgery (RFC 6749 10.12).
    MissingState,
    /// A `state` other than the one this client sent (RFC 6749 10.12).
    StateMismatch,
    /// The `iss` parameter is missing or names another authorization server (RFC 9207
    /// 2.4: a mix-up attack).
    IssuerMismatch,
    /// The authorization server refused the request (RFC 6749 4.1.2.1).
    Refused {
        /// The `error` code, such as `access_denied` or `invalid_request`.
        error: String,
        /// The `error_description`, if any.
        description: Option<String>,
    },
    /// A successful-looking response without a `code`.
    MissingCode,
}

impl std::fmt::Display for CallbackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallbackError::NotRedirectUri => {
                f.write_str("the authorization response did not come to our redirect URI")
            }
            CallbackError::Malformed => f.write_str("the authorization response is malformed"),
            CallbackError::MissingState => f.write_str(
                "the authorization response has no state: not an answer to our request (possible CSRF)",
            ),
            CallbackError::StateMismatch => f.write_str(
                "the authorization response's state is not the one we sent (possible CSRF)",
            ),
            CallbackError::IssuerMismatch => f.write_str(
                "the authorization response's iss is missing or not our authorization server (possible mix-up)",
            ),
            CallbackError::Refused { error, description } => {
                write!(f, "the authorization server refused: {error}")?;
                if let Some(description) = description {
                    write!(f, " ({description})")?;
                }
                Ok(())
            }
            CallbackError::MissingCode => f.write_str("the authorization response has no code"),
        }
    }
}

impl std::error::Error for CallbackError {}

/// Checks the authorization response the browser brought back to the client
/// (`callback_url`: the redirect URI with its query, RFC 6749 4.1.2) and returns the
/// authorization code. In order: it must come to `redirect_uri`; its `state` must be
/// exactly `expected_state` (RFC 6749 10.12: otherwise anyone could make the browser
/// deliver *their* code to this client); with `expected_issuer`, `iss` must name it
/// (RFC 9207); then an `error` is reported, else the `code` returned.
pub fn check_callback(
    callback_url: &str,
    redirect_uri: &str,
    expected_state: &str,
    expected_issuer: Option<&str>,
) -> Result<String, CallbackError> {
    let url = Url::parse(callback_url).map_err(|_| CallbackError::Malformed)?;
    let expected = Url::parse(redirect_uri).map_err(|_| CallbackError::NotRedirectUri)?;
    let same_endpoint = url.scheme() == expected.scheme()
        && url.host() == expected.host()
        && url.port_or_known_default() == expected.port_or_known_default()
        && url.path() == expected.path();
    if !same_endpoint {
        return Err(CallbackError::NotRedirectUri);
    }
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let mut values = std::collections::HashMap::new();
    for (name, value) in &pairs {
        if values.insert(name.as_str(), value.as_str()).is_some() {
            return Err(CallbackError::Malformed);
        }
    }
    let state = values
        .get("state")
        .filter(|s| !s.is_empty())
        .ok_or(CallbackError::MissingState)?;
    if aws_lc_rs::constant_time::verify_slices_are_equal(
        state.as_bytes(),
        expected_state.as_bytes(),
    )
    .is_err()
    {
        return Err(CallbackError::StateMismatch);
    }
    // Not a let chain: those need Rust 1.88, and the workspace promises 1.85.
    if expected_issuer.is_some_and(|issuer| values.get("iss") != Some(&issuer)) {
        return Err(CallbackError::IssuerMismatch);
    }
    if let Some(error) = values.get("error") {
        return Err(CallbackError::Refused {
            error: (*error).to_owned(),
            description: values.get("error_description").map(|d| (*d).to_owned()),
        });
    }
    values
        .get("code")
        .filter(|c| !c.is_empty())
        .map(|c| (*c).to_owned())
        .ok_or(CallbackError::MissingCode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7636_appendix_b() {
        let pkce = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            pkce.challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(Pkce::new().verifier().len(), 43);
    }

    #[test]
    fn form_encoding() {
        assert_eq!(
            form_urlencode(&[("a b", "c&d=e/é"), ("x", "")]),
            "a+b=c%26d%3De%2F%C3%A9&x="
        );
    }

    #[test]
    fn callback_checks() {
        let r = "http://127.0.0.1:8080/callback";
        let check = |url: &str| check_callback(url, r, "s1", Some("http://127.0.0.1:9"));
        let iss = "iss=http%3A%2F%2F127.0.0.1%3A9";
        assert_eq!(check(&format!("{r}?code=c&state=s1&{iss}")).unwrap(), "c");
        assert_eq!(
            check(&format!("{r}?code=c&{iss}")),
            Err(CallbackError::MissingState)
        );
        assert_eq!(
            check(&format!("{r}?code=c&state=&{iss}")),
            Err(CallbackError::MissingState)
        );
        assert_eq!(
            check(&format!("{r}?code=c&state=s2&{iss}")),
            Err(CallbackError::StateMismatch)
        );
        assert_eq!(
            check(&format!("{r}?code=c&state=s1&state=s1&{iss}")),
            Err(CallbackError::Malformed)
        );
        assert_eq!(
            check(&format!("{r}?code=c&state=s1")),
            Err(CallbackError::IssuerMismatch)
        );
        assert_eq!(
            check(&format!("{r}?state=s1&{iss}")),
            Err(CallbackError::MissingCode)
        );
        assert_eq!(
            check(&format!(
                "http://127.0.0.1:8081/callback?code=c&state=s1&{iss}"
            )),
            Err(CallbackError::NotRedirectUri)
        );
        assert!(matches!(
            check(&format!("{r}?error=access_denied&state=s1&{iss}")),
            Err(CallbackError::Refused { error, .. }) if error == "access_denied"
        ));
        // A refusal with someone else's state is still a state mismatch first.
        assert_eq!(
            check(&format!("{r}?error=access_denied&state=s2&{iss}")),
            Err(CallbackError::StateMismatch)
        );
    }
}
