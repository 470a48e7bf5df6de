//! What the development authorization server remembers: authorization codes, refresh
//! tokens and the access tokens it issued, each map bounded by [`MAX_GRANTS`].
//!
//! Every token issued from one authorization (a code and the refresh tokens and access
//! tokens that follow from it) shares a grant id, so that reuse of a code or of a rotated
//! refresh token can revoke them all.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Instant;

use crate::MAX_GRANTS;

/// An authorization code (RFC 6749 4.1.2), bound to what it was issued for.
pub(crate) struct CodeGrant {
    pub(crate) client_id: String,
    /// The `redirect_uri` of the authorization request, if it had one (RFC 6749 4.1.3).
    pub(crate) redirect_uri: Option<String>,
    /// The PKCE `code_challenge` (S256, RFC 7636 4.2).
    pub(crate) challenge: String,
    pub(crate) sub: String,
    pub(crate) scope: Vec<String>,
    pub(crate) expires: Instant,
    /// Kept after use until it expires, to recognise a replay (RFC 6749 4.1.2).
    pub(crate) used: bool,
    pub(crate) grant: u64,
}

/// A refresh token (RFC 6749 6). Rotated on use; a used one is kept to recognise replays.
pub(crate) struct RefreshGrant {
    pub(crate) client_id: String,
    pub(crate) sub: String,
    /// The scope originally granted; a refresh may ask for less, never more.
    pub(crate) scope: Vec<String>,
    pub(crate) expires: Instant,
    pub(crate) used: bool,
    pub(crate) grant: u64,
}

/// An issued access token, as introspection describes it (RFC 7662 2.2).
pub(crate) struct AccessRecord {
    pub(crate) client_id: String,
    pub(crate) sub: String,
    pub(crate) scope: Vec<String>,
    pub(crate) iat: i64,
    pub(crate) exp: i64,
    pub(crate) jti: String,
    /// `None` for client credentials tokens, which belong to no authorization.
    pub(crate) grant: Option<u64>,
}

/// The key of an issued access token: its SHA-256, which needs no parsing to look up.
pub(crate) fn token_digest(token: &str) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// The server is holding [`MAX_GRANTS`] unexpired entries of one kind.
#[derive(Debug)]
pub(crate) struct Full;

#[derive(Default)]
pub(crate) struct Store {
    pub(crate) codes: HashMap<String, CodeGrant>,
    pub(crate) refresh_tokens: HashMap<String, RefreshGrant>,
    /// Keyed by the SHA-256 of the token, which needs no parsing to look up.
    pub(crate) access_tokens: HashMap<[u8; 32], AccessRecord>,
    next_grant: u64,
}

/// Inserts, first forgetting expired entries if the map is full.
fn insert_bounded<K: Eq + Hash, V>(
    map: &mut HashMap<K, V>,
    key: K,
    value: V,
    expired: impl Fn(&V) -> bool,
) -> Result<(), Full> {
    if map.len() >= MAX_GRANTS {
        map.retain(|_, v| !expired(v));
    }
    if map.len() >= MAX_GRANTS {
        return Err(Full);
    }
    map.insert(key, value);
    Ok(())
}

impl Store {
    /// A new grant id: one per authorization.
    pub(crate) fn new_grant(&mut self) -> u64 {
        self.next_grant += 1;
        self.next_grant
    }

    pub(crate) fn insert_code(&mut self, code: String, grant: CodeGrant) -> Result<(), Full> {
        let now = Instant::now();
        insert_bounded(&mut self.codes, code, grant, |g| g.expires <= now)
    }

    pub(crate) fn insert_refresh_token(
        &mut self,
        token: String,
        grant: RefreshGrant,
    ) -> Result<(), Full> {
        let now = Instant::now();
        insert_bounded(&mut self.refresh_tokens, token, grant, |g| g.expires <= now)
    }

    pub(crate) fn insert_access_token(
        &mut self,
        digest: [u8; 32],
        record: AccessRecord,
        now: i64,
    ) -> Result<(), Full> {
        insert_bounded(&mut self.access_tokens, digest, record, |r| r.exp <= now)
    }

    /// Revokes every refresh token and access token of `grant` (RFC 6749 4.1.2, 10.4).
    pub(crate) fn revoke_grant(&mut self, grant: u64) {
        self.refresh_tokens.retain(|_, g| g.grant != grant);
        self.access_tokens.retain(|_, r| r.grant != Some(grant));
    }
}
