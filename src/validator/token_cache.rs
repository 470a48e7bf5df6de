//! Verified tokens remembered, so a repeat costs a hash, a lookup and a comparison instead
//! of a signature check. An entry never outlives its token's `exp` (plus the leeway) nor
//! the configured bound, and is void once the key that verified it is no longer published.
//!
//! # The key, and why a hit is the same token
//!
//! An entry is found by SHA-256 of the token's last segment (a JWS's signature, RFC 7515
//! section 7.1), and answers only when the rest, the JWS signing input
//! (`header.payload`, section 5.1), is byte for byte the one that was verified: a token
//! that keeps a verified signature and changes anything it covers is a miss, verified
//! (and refused) like any other. So a hit is a byte-identical token, as with a digest of
//! the whole token, for a quarter of the hashing (about 340 of 1,400 bytes for RS256):
//! SHA-256 of the whole token was the largest cost of a hit.
//!
//! The entry keeps the signing input (the claims it carries are the entry's anyway) but
//! never the signature: what the cache holds is not a token anyone could present. A
//! token without a `.` (opaque, for introspection) is keyed by SHA-256 of all of it.

use std::sync::Arc;
use std::time::Duration;

use crate::claims::Claims;
use crate::verify::VerifyingKey;

/// A verified token, remembered.
///
/// Aligned to a cache line, so the `Arc`'s counts, written on every hit, share no line
/// with the fields that hits on other cores read.
#[repr(align(64))]
pub(super) struct CachedToken {
    /// The JWS signing input it was verified with: a hit must present the same.
    pub(super) signing_input: Box<str>,
    pub(super) claims: Claims,
    pub(super) kid: Option<String>,
    /// The key that verified it: the entry is void once the issuer stops publishing it.
    pub(super) key: Arc<VerifyingKey>,
    /// Until when (a NumericDate) it answers: the token's `exp` plus the leeway, and no
    /// later than the configured bound after it was verified. Past it, the token is
    /// verified afresh (and refused if it has expired).
    pub(super) remember_until: i64,
    /// The member of an `any_of` set that verified it (0 for a single issuer).
    pub(super) member: usize,
}

impl CachedToken {
    /// Whether this entry may still answer at `now` (see [`remember_until`](Self::remember_until)).
    pub(super) fn remembered_at(&self, now: i64) -> bool {
        now < self.remember_until
    }
}

/// Verified tokens by digest, shared by the validator's clones.
///
/// [quick_cache]'s: a hit takes a shard's read lock and probes its table, nothing more
/// (the eviction, CLOCK-PRO, reads a per-entry reference count that stops growing after
/// two hits), where a cache that keeps an access order writes to shared memory on every
/// read. An entry's lifetime is its own ([`CachedToken::remember_until`]), checked on
/// the hit; an entry past it is only dropped when evicted or replaced.
pub(super) type TokenCache = Arc<
    quick_cache::sync::Cache<[u8; 32], Arc<CachedToken>, quick_cache::UnitWeighter, DigestHash>,
>;

/// A token cache of about `entries` entries (the bound is per shard, so approximate).
pub(super) fn new_token_cache(entries: u64) -> TokenCache {
    Arc::new(quick_cache::sync::Cache::with(
        usize::try_from(entries).unwrap_or(usize::MAX),
        entries,
        quick_cache::UnitWeighter,
        DigestHash,
        quick_cache::sync::DefaultLifecycle::default(),
    ))
}

/// The cache's hash of a key that is already a SHA-256 digest: its first eight bytes.
///
/// A digest's bits are uniform, so hashing it again (a SipHash, there against keys an
/// attacker picks) buys nothing; and nobody picks these keys: a digest
/// is of a whole token, and an entry is made only for a token whose signature verified.
#[derive(Clone, Copy, Default)]
pub(super) struct DigestHash;

impl std::hash::BuildHasher for DigestHash {
    type Hasher = DigestHasher;

    fn build_hasher(&self) -> DigestHasher {
        DigestHasher(0)
    }
}

/// See [`DigestHash`]. `[u8; 32]` hashes as its length, then its bytes.
pub(super) struct DigestHasher(u64);

impl std::hash::Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut word = [0u8; 8];
        let n = bytes.len().min(8);
        word[..n].copy_from_slice(&bytes[..n]);
        self.0 = self.0.rotate_left(17) ^ u64::from_le_bytes(word);
    }

    fn write_usize(&mut self, _length: usize) {
        // The length prefix of a `[u8; 32]`: the same for every key.
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Where a token is remembered once verified, and found when it comes again.
#[derive(Clone, Copy)]
pub(super) struct Slot<'a> {
    pub(super) cache: &'a TokenCache,
    /// The member of an `any_of` set that verifies it (0 for a single issuer).
    pub(super) member: usize,
    /// [`cache_key`] of the token.
    pub(super) digest: [u8; 32],
    /// The length of the token's signing input: its bytes before the last `.`.
    pub(super) signing_input_len: usize,
}

impl<'a> Slot<'a> {
    /// The slot of `token` in `cache`, for `member`.
    pub(super) fn new(cache: &'a TokenCache, member: usize, token: &[u8]) -> Self {
        let (digest, signing_input_len) = split_key(token);
        Slot {
            cache,
            member,
            digest,
            signing_input_len,
        }
    }

    /// What the cache holds for `token` (the token this slot was made for): an entry of
    /// the same signature is `token` only if it was verified with the same signing input.
    pub(super) fn get(&self, token: &[u8]) -> Option<Arc<CachedToken>> {
        self.cache
            .get(&self.digest)
            .filter(|entry| entry.signing_input.as_bytes() == &token[..self.signing_input_len])
    }

    /// Forgets this token (its entry failed revalidation).
    pub(super) fn invalidate(&self) {
        self.cache.remove(&self.digest);
    }

    /// Remembers `token` (the token this slot was made for), verified at `now`, for
    /// `lifetime` (nothing when it is zero).
    pub(super) fn remember(
        &self,
        token: &str,
        claims: &Claims,
        kid: Option<&str>,
        key: Arc<VerifyingKey>,
        now: i64,
        lifetime: Duration,
    ) {
        if lifetime.is_zero() {
            return;
        }
        let lifetime = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
        let entry = CachedToken {
            signing_input: token[..self.signing_input_len].into(),
            claims: claims.clone(),
            kid: kid.map(str::to_owned),
            key,
            remember_until: now.saturating_add(lifetime),
            member: self.member,
        };
        self.cache.insert(self.digest, Arc::new(entry));
    }
}

/// A [`Slot`] that owns its cache handle (a clone of the cache), for a token whose
/// decision waits on the network in a future of its own. Made only on that slow path: the
/// hot path borrows.
pub(super) struct ParkedSlot {
    cache: TokenCache,
    member: usize,
    digest: [u8; 32],
    signing_input_len: usize,
}

impl Slot<'_> {
    /// This slot, owning its cache handle.
    pub(super) fn park(self) -> ParkedSlot {
        ParkedSlot {
            cache: self.cache.clone(),
            member: self.member,
            digest: self.digest,
            signing_input_len: self.signing_input_len,
        }
    }
}

impl ParkedSlot {
    /// The slot again, borrowing the handle.
    pub(super) fn slot(&self) -> Slot<'_> {
        Slot {
            cache: &self.cache,
            member: self.member,
            digest: self.digest,
            signing_input_len: self.signing_input_len,
        }
    }
}

/// How long a token verified at `now` may be remembered: until its `exp` plus the
/// leeway (it is still accepted until then), and never beyond `bound`.
pub(super) fn entry_lifetime(expires_at: i64, leeway: i64, now: i64, bound: Duration) -> Duration {
    let until_expiry = expires_at.saturating_add(leeway).saturating_sub(now);
    Duration::from_secs(until_expiry.max(0) as u64).min(bound)
}

/// The token cache's key: SHA-256 of the token's last segment (a JWS's signature), or of
/// the whole token when it has no `.`. See the module's documentation.
#[cfg(test)]
pub(crate) fn cache_key(token: &str) -> [u8; 32] {
    split_key(token.as_bytes()).0
}

/// [`cache_key`], and the length of what a hit must match besides: the token up to its
/// last `.` (a JWS's signing input), nothing for a token without one.
fn split_key(token: &[u8]) -> ([u8; 32], usize) {
    match memchr::memrchr(b'.', token) {
        Some(dot) => (sha256(&token[dot + 1..]), dot),
        None => (sha256(token), 0),
    }
}

/// SHA-256 of the whole token: the introspection cache's key.
pub(crate) fn token_digest(token: &str) -> [u8; 32] {
    sha256(token.as_bytes())
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_lives_until_exp_plus_leeway_within_the_bound() {
        let bound = Duration::from_secs(300);
        assert_eq!(
            entry_lifetime(1_005, 60, 1_000, bound),
            Duration::from_secs(65)
        );
        assert_eq!(entry_lifetime(10_000, 60, 1_000, bound), bound);
        // Already past: nothing to remember, and no underflow at the extremes.
        assert_eq!(entry_lifetime(900, 60, 1_000, bound), Duration::ZERO);
        assert_eq!(
            entry_lifetime(i64::MIN, 60, i64::MAX, bound),
            Duration::ZERO
        );
        assert_eq!(entry_lifetime(i64::MAX, 60, i64::MIN, bound), bound);
    }

    #[test]
    fn the_cache_hash_of_a_digest_is_its_first_word() {
        use std::hash::BuildHasher;
        let digest = token_digest("a.b.c");
        let first = u64::from_le_bytes(digest[..8].try_into().unwrap());
        assert_eq!(DigestHash.hash_one(digest), first);
        assert_ne!(
            DigestHash.hash_one(token_digest("a.b.d")),
            DigestHash.hash_one(digest)
        );
    }

    #[test]
    fn digests_are_sha256_of_the_whole_token() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let hex: String = token_digest("abc")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, expected);
        assert_ne!(token_digest("a.b.c"), token_digest("a.b.d"));
    }
}
