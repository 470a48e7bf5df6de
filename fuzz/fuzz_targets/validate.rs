//! Fuzzes the whole token path: bearer extraction from raw header bytes, then
//! validation (size cap, JWS parsing, header checks, key lookup, signature, claims)
//! against pinned keys, so no network is involved.
//!
//! Run from the repository root:
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run validate -- -max_total_time=60`

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tokengate::testing::TestKey;
use tokengate::{Algorithm, Validator, bearer};

struct Fixture {
    runtime: tokio::runtime::Runtime,
    validator: Validator,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let keys = [
        TestKey::generate("rsa", Algorithm::RS256),
        TestKey::generate("ec", Algorithm::ES256),
        TestKey::generate("ed", Algorithm::EdDSA),
    ];
    let jwks =
        serde_json::json!({ "keys": keys.iter().map(TestKey::public_jwk).collect::<Vec<_>>() });
    Fixture {
        runtime: tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap(),
        validator: Validator::builder()
            .issuer("https://issuer.example")
            .audience("api")
            .jwks(jwks)
            .build()
            .unwrap(),
    }
});

fuzz_target!(|data: &[u8]| {
    let fixture = &*FIXTURE;
    // As an Authorization header value, then (if it is one) as the token itself.
    if let Ok(Some(token)) = bearer::extract([data]) {
        let result = fixture.runtime.block_on(fixture.validator.validate(token));
        assert!(result.is_err(), "accepted a fuzzed token");
    }
    if let Ok(token) = std::str::from_utf8(data) {
        let result = fixture.runtime.block_on(fixture.validator.validate(token));
        assert!(result.is_err(), "accepted a fuzzed token");
    }
});
