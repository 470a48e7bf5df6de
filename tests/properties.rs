//! Property tests: whatever the bytes, the validator answers with an error and never
//! panics; and no mutation of a valid token is ever accepted.

use std::sync::LazyLock;

use proptest::prelude::*;
use tokengate::testing::TestKey;
use tokengate::{Algorithm, Validator, bearer};

const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "api";

struct Fixture {
    runtime: tokio::runtime::Runtime,
    validator: Validator,
    tokens: Vec<String>,
}

/// One validator with pinned keys (no network) and one valid token per algorithm family.
static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let keys = [
        TestKey::generate("rsa", Algorithm::RS256),
        TestKey::generate("ec", Algorithm::ES256),
        TestKey::generate("ed", Algorithm::EdDSA),
    ];
    let jwks =
        serde_json::json!({ "keys": keys.iter().map(TestKey::public_jwk).collect::<Vec<_>>() });
    let validator = Validator::builder()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .jwks(jwks)
        .build()
        .unwrap();
    let tokens = keys.iter().map(mint).collect();
    Fixture {
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        validator,
        tokens,
    }
});

fn mint(key: &TestKey) -> String {
    key.mint(&serde_json::json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "p", "exp": 4_000_000_000u64, "scope": "read",
    }))
}

fn validate(token: &str) -> Result<tokengate::Claims, tokengate::Error> {
    let f = &*FIXTURE;
    f.runtime.block_on(f.validator.validate(token))
}

#[test]
fn the_fixture_tokens_are_valid() {
    for token in &FIXTURE.tokens {
        assert!(validate(token).is_ok(), "{token}");
    }
}

/// A mutation of a token: replace, insert or delete characters.
#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, char),
    Insert(usize, char),
    Delete(usize, usize),
    Swap(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let c = prop::sample::select(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \0é"
            .chars()
            .collect::<Vec<_>>(),
    );
    prop_oneof![
        (any::<usize>(), c.clone()).prop_map(|(i, c)| Mutation::Replace(i, c)),
        (any::<usize>(), c).prop_map(|(i, c)| Mutation::Insert(i, c)),
        (any::<usize>(), 1..8usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Mutation::Swap(i, j)),
    ]
}

fn apply(token: &str, mutations: &[Mutation]) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    for m in mutations {
        let len = chars.len().max(1);
        match *m {
            Mutation::Replace(i, c) => {
                if !chars.is_empty() {
                    chars[i % len] = c;
                }
            }
            Mutation::Insert(i, c) => chars.insert(i % (chars.len() + 1), c),
            Mutation::Delete(i, n) => {
                let start = i % len;
                let end = (start + n).min(chars.len());
                chars.drain(start..end);
            }
            Mutation::Swap(i, j) => {
                if !chars.is_empty() {
                    chars.swap(i % len, j % len);
                }
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_tokens_are_never_accepted(
        which in 0..3usize,
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let original = &FIXTURE.tokens[which];
        let mutated = apply(original, &mutations);
        prop_assume!(&mutated != original);
        prop_assert!(validate(&mutated).is_err(), "accepted a mutation: {mutated}");
    }

    #[test]
    fn arbitrary_strings_never_panic(token in ".{0,400}") {
        prop_assert!(validate(&token).is_err());
    }

    #[test]
    fn arbitrary_token_shaped_strings_never_panic(
        parts in prop::collection::vec("[A-Za-z0-9_-]{0,60}", 0..6)
    ) {
        prop_assert!(validate(&parts.join(".")).is_err());
    }

    #[test]
    fn bearer_parsing_never_panics_on_arbitrary_bytes(
        values in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..3)
    ) {
        let _ = bearer::extract(values.iter().map(Vec::as_slice));
    }
}
