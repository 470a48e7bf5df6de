//! Unguessable values: authorization codes, refresh tokens, `jti`s, `state`, verifiers.

use aws_lc_rs::rand::SecureRandom as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `bytes` random bytes, base64url without padding.
pub(crate) fn random_string(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut buf)
        .expect("the system random generator works");
    URL_SAFE_NO_PAD.encode(buf)
}
