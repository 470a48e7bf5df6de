//! Minting a token from a [`MockIssuer`]'s keys, claim by claim.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::issuer::MockIssuer;
use super::key::alg_name;
use crate::clock::unix_now;

/// A token being minted by a [`MockIssuer`]. Every setter overrides what was there.
#[must_use]
pub struct TokenBuilder<'a> {
    issuer: &'a MockIssuer,
    key: String,
    header: Map<String, Value>,
    claims: Map<String, Value>,
    raw_header: Option<Vec<u8>>,
    raw_payload: Option<Vec<u8>>,
}

impl<'a> TokenBuilder<'a> {
    pub(super) fn new(
        issuer: &'a MockIssuer,
        key: String,
        header: Map<String, Value>,
        claims: Map<String, Value>,
    ) -> Self {
        TokenBuilder {
            issuer,
            key,
            header,
            claims,
            raw_header: None,
            raw_payload: None,
        }
    }

    /// Sets any claim.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a claim.
    pub fn without_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Sets `sub`.
    pub fn subject(self, sub: &str) -> Self {
        self.claim("sub", sub)
    }

    /// Sets `scope` (space-delimited).
    pub fn scope(self, scope: &str) -> Self {
        self.claim("scope", scope)
    }

    /// Sets `aud`.
    pub fn audience(self, aud: impl Into<Value>) -> Self {
        self.claim("aud", aud)
    }

    /// Sets `exp` to now plus `seconds` (negative: already expired).
    pub fn expires_in(self, seconds: i64) -> Self {
        self.claim("exp", unix_now() + seconds)
    }

    /// Sets any header parameter (`alg`, `kid`, `typ`, `crit`, `jwk`, ...). The signature
    /// is still made with the chosen key's own algorithm, whatever `alg` says.
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a header parameter.
    pub fn without_header(mut self, name: &str) -> Self {
        self.header.remove(name);
        self
    }

    /// Signs with the key `kid` (published or retracted), and names it in the header.
    pub fn key(mut self, kid: &str) -> Self {
        let keys = self.issuer.state.keys.lock().unwrap();
        let key = keys.iter().find(|k| k.kid == kid).expect("no such key");
        self.header.insert("alg".into(), json!(alg_name(key.alg)));
        self.header.insert("kid".into(), json!(kid));
        drop(keys);
        self.key = kid.to_owned();
        self
    }

    /// Uses these exact bytes as the header, instead of the header built so far (for
    /// duplicate members, odd encodings, non-UTF-8). The token is still properly signed.
    pub fn raw_header(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.raw_header = Some(bytes.into());
        self
    }

    /// Uses these exact bytes as the payload, instead of the claims built so far.
    pub fn raw_payload(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.raw_payload = Some(bytes.into());
        self
    }

    /// The claims as JSON text: a starting point for [`TokenBuilder::raw_payload`].
    pub fn claims_json(&self) -> String {
        Value::Object(self.claims.clone()).to_string()
    }

    /// The encoded `header.payload`, unsigned.
    pub fn signing_input(&self) -> String {
        let part = |raw: &Option<Vec<u8>>, m: &Map<String, Value>| match raw {
            Some(bytes) => URL_SAFE_NO_PAD.encode(bytes),
            None => URL_SAFE_NO_PAD.encode(Value::Object(m.clone()).to_string()),
        };
        format!(
            "{}.{}",
            part(&self.raw_header, &self.header),
            part(&self.raw_payload, &self.claims)
        )
    }

    /// The compact JWS, signed by the chosen key.
    pub fn sign(self) -> String {
        let input = self.signing_input();
        let keys = self.issuer.state.keys.lock().unwrap();
        let key = keys
            .iter()
            .find(|k| k.kid == self.key)
            .expect("the chosen key exists");
        key.sign_compact(&input)
    }

    /// An opaque token (random, not a JWT) whose claims only introspection reveals. The
    /// introspection answer is the claims with `active: true` and `token_type: Bearer`
    /// (a `token_type` claim replaces it; `token_type` set to `null` leaves it out).
    pub fn opaque(self) -> String {
        let mut bytes = [0u8; 24];
        aws_lc_rs::rand::fill(&mut bytes).expect("random bytes");
        let token = URL_SAFE_NO_PAD.encode(bytes);
        self.issuer
            .state
            .opaque_tokens
            .lock()
            .unwrap()
            .insert(token.clone(), self.claims);
        token
    }

    /// The compact JWS with an HMAC-SHA256 "signature" under `secret`: the forgery an
    /// attacker makes when a validator treats a public key as an HMAC secret.
    pub fn sign_hs256(self, secret: &[u8]) -> String {
        let input = self.header("alg", "HS256").signing_input();
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
        let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }
}

// Minting starts from the issuer, but lives here: the issuer does not import its minter.
impl MockIssuer {
    /// Starts a token with default claims: `iss`, `aud`, `sub` = `dev-user`, `iat`, `exp`
    /// in one hour, header `typ: at+jwt`, signed by the newest key.
    pub fn token(&self) -> TokenBuilder<'_> {
        let now = unix_now();
        let (kid, alg) = self.newest();
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.state.issuer));
        claims.insert("aud".into(), json!(self.state.audience));
        claims.insert("sub".into(), json!("dev-user"));
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + 3600));
        let mut header = Map::new();
        header.insert("alg".into(), json!(alg_name(alg)));
        header.insert("typ".into(), json!("at+jwt"));
        header.insert("kid".into(), json!(kid));
        TokenBuilder::new(self, kid, header, claims)
    }
}
