//! Server-provided nonces (RFC 9449 section 8, and section 9 for resource servers): a
//! value the client must put in its proofs' `nonce`, so that a proof cannot be made
//! ahead of time by whoever holds (or once held) the client's key (section 11.2).
//!
//! The design, and why it is sound, is on [`DpopNonces`].

use std::fmt;
use std::time::Duration;

use aws_lc_rs::{hmac, rand};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::InvalidProof;

/// How often the nonce changes by default. A nonce is then accepted for five to ten
/// minutes: a proof can be made at most ten minutes before it is used, and a client that
/// ignores the `DPoP-Nonce` of successful responses is sent a `use_dpop_nonce` retry at
/// most once every five minutes.
pub const DEFAULT_NONCE_ROTATION: Duration = Duration::from_secs(300);

/// The shortest secret [`DpopNonces::from_secret`] takes: HMAC-SHA256's output size
/// (RFC 2104 section 3: a shorter key weakens it).
pub const MIN_NONCE_SECRET_BYTES: usize = 32;

/// Binds the HMAC input to this use, so the secret, if it were ever shared with another
/// HMAC use, still gives values of its own here.
const LABEL: &[u8] = b"tokengate DPoP nonce v1\0";

/// The length of a nonce: base64url of a 32-byte HMAC-SHA256 tag, without padding.
const NONCE_CHARS: usize = 43;

/// The nonces a resource server hands out and accepts (RFC 9449 sections 8 and 9).
///
/// # Design
///
/// Stateless, so any number of requests and replicas check a nonce without a store:
///
/// - time is cut into windows of [`rotation`](DpopNonces::rotation) seconds (by
///   default [`DEFAULT_NONCE_ROTATION`]), counted from the Unix epoch;
/// - the nonce of window `w` is `base64url(HMAC-SHA256(secret, LABEL || w))`, computed
///   with aws-lc-rs's `hmac` (no cryptography of our own), from a 256-bit secret drawn
///   from the system random generator when the server starts
///   ([`DpopNonces::random`]) or shared by replicas ([`DpopNonces::from_secret`]);
/// - a proof's `nonce` is accepted when it is the nonce of the current window or of the
///   one before, compared by `hmac::verify` (constant time).
///
/// Why this is sound: HMAC-SHA256 is a pseudo-random function, so without the secret
/// the nonce of a window not yet reached cannot be predicted (RFC 9449 section 8:
/// "Nonce values MUST be unpredictable") nor forged from any number of past nonces. A
/// nonce is accepted from the moment its window starts until the next window ends:
/// between one and two rotation periods, so a nonce just handed out is always good for
/// at least one full period, and none is good for more than two. A new secret (a
/// restart with [`DpopNonces::random`]) refuses every earlier nonce; the client is told
/// `use_dpop_nonce` with a fresh one and retries once. The nonce is the same for every
/// client within a window: it proves freshness, not identity (the proof's key does
/// that), so it need not be secret.
///
/// ```
/// use std::time::Duration;
/// use tokengate::binding::dpop::DpopNonces;
///
/// let nonces = DpopNonces::random().unwrap().rotation(Duration::from_secs(60));
/// let now = 1_700_000_000;
/// let nonce = nonces.issue(now);
/// assert!(nonces.check(&nonce, now + 60).is_ok()); // the next window still accepts it
/// assert!(nonces.check(&nonce, now + 120).is_err()); // the one after does not
/// ```
#[derive(Clone)]
pub struct DpopNonces {
    key: hmac::Key,
    rotation: u64,
}

impl fmt::Debug for DpopNonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secret.
        f.debug_struct("DpopNonces")
            .field("rotation_seconds", &self.rotation)
            .finish_non_exhaustive()
    }
}

impl DpopNonces {
    /// Nonces from a secret drawn now from the system random generator: one process, or
    /// replicas whose clients always reach the same one. A restart makes a new secret,
    /// and every earlier nonce is refused with a fresh one in its place.
    ///
    /// Fails only if the system random generator does.
    pub fn random() -> Result<Self, &'static str> {
        let mut secret = [0u8; MIN_NONCE_SECRET_BYTES];
        rand::fill(&mut secret).map_err(|_| "the system random generator failed")?;
        Ok(Self::with_key(&secret))
    }

    /// Nonces from a secret the replicas of an API share (so a nonce one hands out is
    /// accepted by all), at least [`MIN_NONCE_SECRET_BYTES`] random bytes kept like any
    /// other server secret.
    pub fn from_secret(secret: &[u8]) -> Result<Self, &'static str> {
        if secret.len() < MIN_NONCE_SECRET_BYTES {
            return Err("the DPoP nonce secret must be at least 32 bytes");
        }
        Ok(Self::with_key(secret))
    }

    fn with_key(secret: &[u8]) -> Self {
        DpopNonces {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            rotation: DEFAULT_NONCE_ROTATION.as_secs(),
        }
    }

    /// How often the nonce changes (whole seconds, at least one). Replicas sharing a
    /// secret must share this too.
    #[must_use]
    pub fn rotation(mut self, every: Duration) -> Self {
        self.rotation = every.as_secs().max(1);
        self
    }

    /// The window `now` (seconds since the epoch) falls in; a clock before 1970 reads
    /// as window 0.
    fn window(&self, now: i64) -> u64 {
        u64::try_from(now).unwrap_or(0) / self.rotation
    }

    fn tag(&self, window: u64) -> hmac::Tag {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(LABEL);
        context.update(&window.to_be_bytes());
        context.sign()
    }

    /// The nonce to hand out at `now`: the current window's.
    pub fn issue(&self, now: i64) -> String {
        URL_SAFE_NO_PAD.encode(self.tag(self.window(now)))
    }

    /// Whether `nonce` may be used at `now`: the current window's or the previous one's
    /// ([`InvalidProof::BadNonce`] otherwise: older, from another secret, or forged,
    /// which cannot be told apart and need not be).
    pub fn check(&self, nonce: &str, now: i64) -> Result<(), InvalidProof> {
        if nonce.len() != NONCE_CHARS {
            return Err(InvalidProof::BadNonce);
        }
        let tag = URL_SAFE_NO_PAD
            .decode(nonce)
            .map_err(|_| InvalidProof::BadNonce)?;
        let current = self.window(now);
        let mut windows = [Some(current), current.checked_sub(1)]
            .into_iter()
            .flatten();
        let mut data = [0u8; LABEL.len() + 8];
        data[..LABEL.len()].copy_from_slice(LABEL);
        if windows.any(|window| {
            data[LABEL.len()..].copy_from_slice(&window.to_be_bytes());
            hmac::verify(&self.key, &data, &tag).is_ok()
        }) {
            Ok(())
        } else {
            Err(InvalidProof::BadNonce)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROTATION: u64 = 60;
    /// The start of a window.
    const T0: i64 = 1_700_000_040;

    fn nonces() -> DpopNonces {
        DpopNonces::from_secret(&[7; 32])
            .unwrap()
            .rotation(Duration::from_secs(ROTATION))
    }

    #[test]
    fn a_nonce_is_accepted_in_its_window_and_the_next_one_only() {
        assert_eq!(T0 % ROTATION as i64, 0);
        let nonces = nonces();
        let nonce = nonces.issue(T0);
        // Issued at the start of its window: good until the end of the next one.
        for now in [T0, T0 + 59, T0 + 60, T0 + 119] {
            assert_eq!(nonces.check(&nonce, now), Ok(()), "{now}");
        }
        // Beyond the accepted window, and before its own window (a clock set back).
        for now in [T0 + 120, T0 + 10_000, T0 - 1] {
            assert_eq!(
                nonces.check(&nonce, now),
                Err(InvalidProof::BadNonce),
                "{now}"
            );
        }
        // Issued at the end of its window: still good for one whole period after.
        let late = nonces.issue(T0 + 59);
        assert_eq!(late, nonce);
        assert_eq!(nonces.check(&late, T0 + 119), Ok(()));
    }

    #[test]
    fn the_nonce_rotates_every_window_and_is_unpredictable_from_earlier_ones() {
        let nonces = nonces();
        let (a, b, c) = (
            nonces.issue(T0),
            nonces.issue(T0 + 60),
            nonces.issue(T0 + 120),
        );
        assert!(a != b && b != c && a != c);
        assert_eq!(a.len(), NONCE_CHARS);
        // Within one window, the same value.
        assert_eq!(nonces.issue(T0 + 30), a);
    }

    #[test]
    fn a_nonce_of_another_secret_is_refused() {
        // What a restart with a random secret does to the nonces handed out before it.
        let before = DpopNonces::random().unwrap();
        let after = DpopNonces::random().unwrap();
        let nonce = before.issue(T0);
        assert_eq!(before.check(&nonce, T0), Ok(()));
        assert_eq!(after.check(&nonce, T0), Err(InvalidProof::BadNonce));
        // Replicas sharing a secret accept each other's.
        assert_eq!(nonces().check(&nonces().issue(T0), T0), Ok(()));
    }

    #[test]
    fn forged_and_malformed_nonces_are_refused_without_a_panic() {
        let nonces = nonces();
        let genuine = nonces.issue(T0);
        let mut flipped = genuine.clone().into_bytes();
        flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        let too_long = format!("{genuine}A");
        let forged = [
            "",
            "nonce",
            &flipped,
            &too_long,
            &genuine[..NONCE_CHARS - 1],
            &"A".repeat(NONCE_CHARS),
            &"!".repeat(NONCE_CHARS),
            &"é".repeat(NONCE_CHARS),
        ];
        for nonce in forged {
            assert_eq!(
                nonces.check(nonce, T0),
                Err(InvalidProof::BadNonce),
                "{nonce}"
            );
        }
        // Extreme clocks.
        for now in [i64::MIN, -1, 0, i64::MAX] {
            assert!(nonces.check(&genuine, now).is_err());
            let _ = nonces.issue(now);
        }
    }

    #[test]
    fn a_short_secret_is_refused_and_the_debug_output_hides_the_secret() {
        assert!(DpopNonces::from_secret(&[1; 31]).is_err());
        let debug = format!("{:?}", nonces());
        assert!(debug.contains("rotation_seconds: 60"), "{debug}");
        // A zero rotation would divide by zero: it is one second.
        let nonces = nonces().rotation(Duration::ZERO);
        assert_eq!(nonces.check(&nonces.issue(T0), T0 + 1), Ok(()));
        assert!(nonces.check(&nonces.issue(T0), T0 + 2).is_err());
    }
}
