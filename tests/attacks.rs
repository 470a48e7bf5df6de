//! Every security rule of the validator, attacked over real HTTP. Each test first shows
//! the honest token passing (so the attack test could fail), then the forgery failing.

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{builder_for, issuer_and_api, serve};
use serde_json::json;
use tokengate::testing::MockIssuer;

fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

/// Replaces the header of a signed token, keeping its payload and signature.
fn with_header(token: &str, header: &str) -> String {
    let rest = &token[token.find('.').unwrap()..];
    format!("{}{rest}", b64(header))
}

#[tokio::test]
async fn baseline_honest_token_passes() {
    let (issuer, api) = issuer_and_api().await;
    let reply = api
        .get("/me", Some(&issuer.token().subject("alice").sign()))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["sub"], "alice");
}

#[tokio::test]
async fn rejects_alg_none_in_any_case_with_or_without_signature() {
    let (issuer, api) = issuer_and_api().await;
    let honest = issuer.token().sign();
    let kid = issuer.token().sign();
    let kid = kid.split('.').next().unwrap();
    let header_json = String::from_utf8(URL_SAFE_NO_PAD.decode(kid).unwrap()).unwrap();
    assert_eq!(api.get("/me", Some(&honest)).await.status, 200);
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = header_json.replace("\"RS256\"", &format!("\"{alg}\""));
        let signed = with_header(&honest, &header);
        api.get("/me", Some(&signed)).await.assert_invalid_token();
        let payload = honest.split('.').nth(1).unwrap();
        for unsigned in [
            format!("{}.{payload}.", b64(&header)),
            format!("{}.{payload}", b64(&header)),
        ] {
            let reply = api.get("/me", Some(&unsigned)).await;
            assert_eq!(reply.status, 401, "{alg}: {reply:?}");
        }
    }
}

#[tokio::test]
async fn rejects_hmac_signed_with_rsa_public_key() {
    let (issuer, api) = issuer_and_api().await;
    let kid = "key-1";
    let der = issuer.public_key_der(kid).unwrap();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        STANDARD
            .encode(&der)
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let jwk = issuer.public_jwk(kid).unwrap();
    let modulus = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    let secrets: Vec<Vec<u8>> = vec![
        der,
        pem.into_bytes(),
        jwk.to_string().into_bytes(),
        modulus,
        jwk["n"].as_str().unwrap().as_bytes().to_vec(),
    ];
    assert_eq!(
        api.get("/me", Some(&issuer.token().sign())).await.status,
        200
    );
    for secret in secrets {
        for kid_header in [Some(kid), None] {
            let mut forged = issuer.token().scope("admin");
            if kid_header.is_none() {
                forged = forged.without_header("kid");
            }
            let token = forged.sign_hs256(&secret);
            api.get("/admin", Some(&token)).await.assert_invalid_token();
        }
    }
}

#[tokio::test]
async fn ignores_embedded_jwk_and_never_fetches_jku_or_x5u() {
    let (victim, api) = issuer_and_api().await;
    let attacker = MockIssuer::start().await;
    let attacker_jwk = attacker.public_jwk("key-1").unwrap();
    let cases = [
        ("jwk", attacker_jwk.clone()),
        ("jku", json!(attacker.jwks_url())),
        ("x5u", json!(format!("{}/cert.pem", attacker.issuer()))),
        (
            "x5c",
            json!(["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]),
        ),
    ];
    for (name, value) in cases {
        for kid in ["key-1", "attacker-key"] {
            // Claims say "victim"; the signature is the attacker's.
            let token = attacker
                .token()
                .claim("iss", victim.issuer())
                .scope("admin")
                .header(name, value.clone())
                .header("kid", kid)
                .sign();
            api.get("/admin", Some(&token)).await.assert_invalid_token();
        }
    }
    assert_eq!(
        attacker.jwks_hits(),
        0,
        "a URL named by a token was fetched"
    );
    assert_eq!(attacker.discovery_hits(), 0);
}

#[tokio::test]
async fn rejects_tampered_signature_and_payload() {
    let (issuer, api) = issuer_and_api().await;
    let token = issuer.token().scope("read").sign();
    assert_eq!(api.get("/me", Some(&token)).await.status, 200);

    let (input, signature) = token.rsplit_once('.').unwrap();
    let mut sig = URL_SAFE_NO_PAD.decode(signature).unwrap();
    sig[10] ^= 1;
    let flipped = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&sig));
    api.get("/me", Some(&flipped)).await.assert_invalid_token();

    let truncated = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&sig[..sig.len() - 1]));
    api.get("/me", Some(&truncated))
        .await
        .assert_invalid_token();

    let (header, rest) = token.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let claims = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let escalated = claims.replace("\"read\"", "\"read admin\"");
    assert_ne!(claims, escalated);
    let forged = format!("{header}.{}.{signature}", b64(&escalated));
    api.get("/admin", Some(&forged))
        .await
        .assert_invalid_token();
}

#[tokio::test]
async fn rejects_wrong_or_lookalike_issuer() {
    let (issuer, api) = issuer_and_api().await;
    let iss = issuer.issuer().to_owned();
    for wrong in [
        json!("https://evil.example"),
        json!(format!("{iss}/")),
        json!(&iss[..iss.len() - 1]),
        json!(format!("{iss}.evil")),
        json!(iss.to_uppercase()),
        json!([iss.clone()]),
        json!(null),
    ] {
        let token = issuer.token().claim("iss", wrong.clone()).sign();
        api.get("/me", Some(&token)).await.assert_invalid_token();
    }
    let missing = issuer.token().without_claim("iss").sign();
    api.get("/me", Some(&missing)).await.assert_invalid_token();
}

#[tokio::test]
async fn rejects_wrong_audience_and_accepts_ours_in_an_array() {
    let (issuer, api) = issuer_and_api().await;
    let ours = issuer.audience().to_owned();
    let in_array = issuer
        .token()
        .audience(json!(["other", ours.clone()]))
        .sign();
    assert_eq!(api.get("/me", Some(&in_array)).await.status, 200);
    for wrong in [
        json!("other-api"),
        json!(["other", "another"]),
        json!([]),
        json!(format!("{ours}x")),
        json!(7),
        json!({ "aud": ours }),
    ] {
        let token = issuer.token().audience(wrong.clone()).sign();
        api.get("/me", Some(&token)).await.assert_invalid_token();
    }
    let missing = issuer.token().without_claim("aud").sign();
    api.get("/me", Some(&missing)).await.assert_invalid_token();
}

#[tokio::test]
async fn expiry_is_enforced_beyond_the_leeway_only() {
    let (issuer, api) = issuer_and_api().await;
    // Within the default 60 s leeway: accepted.
    let just_expired = issuer.token().expires_in(-20).sign();
    assert_eq!(api.get("/me", Some(&just_expired)).await.status, 200);
    for token in [
        issuer.token().expires_in(-120).sign(),
        issuer.token().claim("exp", 0).sign(),
        issuer.token().claim("exp", -1e300).sign(),
    ] {
        let reply = api.get("/me", Some(&token)).await;
        reply.assert_invalid_token();
        assert!(reply.challenge.unwrap().contains("expired"));
    }
    for bad in [json!("9999999999"), json!(null), json!(true), json!([1])] {
        let token = issuer.token().claim("exp", bad).sign();
        api.get("/me", Some(&token)).await.assert_invalid_token();
    }
    let missing = issuer.token().without_claim("exp").sign();
    api.get("/me", Some(&missing)).await.assert_invalid_token();
}

#[tokio::test]
async fn leeway_is_configurable() {
    let issuer = MockIssuer::start().await;
    let strict = builder_for(&issuer).leeway(Duration::ZERO).build().unwrap();
    let api = serve(strict).await;
    let expired = issuer.token().expires_in(-5).sign();
    api.get("/me", Some(&expired)).await.assert_invalid_token();
}

#[tokio::test]
async fn not_before_is_honoured() {
    let (issuer, api) = issuer_and_api().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let soon = issuer.token().claim("nbf", now + 30).sign();
    assert_eq!(
        api.get("/me", Some(&soon)).await.status,
        200,
        "within leeway"
    );
    let later = issuer.token().claim("nbf", now + 600).sign();
    api.get("/me", Some(&later)).await.assert_invalid_token();
    let garbage = issuer.token().claim("nbf", "now").sign();
    api.get("/me", Some(&garbage)).await.assert_invalid_token();
}

#[tokio::test]
async fn rejects_unknown_crit_and_unencoded_payloads() {
    let (issuer, api) = issuer_and_api().await;
    for (name, value) in [
        ("crit", json!(["exp"])),
        ("crit", json!(["urn:example:unknown"])),
        ("crit", json!([])),
        ("b64", json!(false)),
    ] {
        let token = issuer.token().header(name, value).sign();
        api.get("/me", Some(&token)).await.assert_invalid_token();
    }
}

#[tokio::test]
async fn rejects_oversized_tokens_before_decoding() {
    let (issuer, api) = issuer_and_api().await;
    let fat = issuer.token().claim("pad", "x".repeat(8 * 1024)).sign();
    assert_eq!(
        api.get("/me", Some(&fat)).await.status,
        200,
        "under the cap"
    );
    let huge = issuer.token().claim("pad", "x".repeat(16 * 1024)).sign();
    api.get("/me", Some(&huge)).await.assert_invalid_token();
    // Not even base64: refused on size alone.
    let junk = "a".repeat(20 * 1024);
    api.get("/me", Some(&junk)).await.assert_invalid_token();
}

#[tokio::test]
async fn alg_must_fit_the_key_type_and_the_jwk_alg() {
    let (issuer, api) = issuer_and_api().await;
    // The published JWK says alg RS256.
    for alg in ["PS256", "RS512", "ES256", "ES384", "EdDSA"] {
        let token = issuer.token().header("alg", alg).sign();
        api.get("/me", Some(&token)).await.assert_invalid_token();
    }
}

#[tokio::test]
async fn rs_ps_swap_fails_on_a_key_without_alg() {
    let issuer = MockIssuer::start().await;
    let mut jwk = issuer.public_jwk("key-1").unwrap();
    jwk.as_object_mut().unwrap().remove("alg");
    issuer.serve_jwks(Some(json!({ "keys": [jwk] })));
    let api = serve(builder_for(&issuer).build().unwrap()).await;
    assert_eq!(
        api.get("/me", Some(&issuer.token().sign())).await.status,
        200
    );
    // Signed with RS256, labelled PS256 (and the reverse would fail the same way).
    let swapped = issuer.token().header("alg", "PS256").sign();
    api.get("/me", Some(&swapped)).await.assert_invalid_token();
}

#[tokio::test]
async fn hostile_kids_are_refused_and_cost_at_most_one_fetch() {
    let issuer = MockIssuer::start().await;
    let validator = builder_for(&issuer)
        .refresh_cooldown(Duration::from_secs(600))
        .build()
        .unwrap();
    let api = serve(validator).await;
    assert_eq!(
        api.get("/me", Some(&issuer.token().sign())).await.status,
        200
    );
    let long = "k".repeat(10 * 1024);
    for kid in [
        "../../../../etc/passwd",
        "' OR 1=1 --",
        "key-1\u{0}",
        "",
        long.as_str(),
        "KEY-1",
    ] {
        let token = issuer.token().header("kid", kid).sign();
        api.get("/me", Some(&token)).await.assert_invalid_token();
    }
    assert!(issuer.jwks_hits() <= 2, "hits: {}", issuer.jwks_hits());
}

#[tokio::test]
async fn token_without_kid_needs_exactly_one_candidate_key() {
    let (issuer, api) = issuer_and_api().await;
    let no_kid = issuer.token().without_header("kid").sign();
    assert_eq!(
        api.get("/me", Some(&no_kid)).await.status,
        200,
        "one key: used"
    );

    let issuer = MockIssuer::start().await;
    issuer.rotate();
    let api = serve(builder_for(&issuer).build().unwrap()).await;
    assert_eq!(
        api.get("/me", Some(&issuer.token().sign())).await.status,
        200
    );
    let no_kid = issuer.token().without_header("kid").sign();
    api.get("/me", Some(&no_kid)).await.assert_invalid_token();
}

#[tokio::test]
async fn access_token_type_mode_refuses_id_tokens() {
    let issuer = MockIssuer::start().await;
    let strict = builder_for(&issuer)
        .require_access_token_type(true)
        .build()
        .unwrap();
    let api = serve(strict).await;
    assert_eq!(
        api.get("/me", Some(&issuer.token().sign())).await.status,
        200
    );
    let full = issuer.token().header("typ", "application/at+jwt").sign();
    assert_eq!(api.get("/me", Some(&full)).await.status, 200);
    for typ in [json!("JWT"), json!("id_token"), json!(null)] {
        let token = issuer.token().header("typ", typ).sign();
        api.get("/me", Some(&token)).await.assert_invalid_token();
    }
    let untyped = issuer.token().without_header("typ").sign();
    api.get("/me", Some(&untyped)).await.assert_invalid_token();
}

/// RFC 9449 section 7.2 and RFC 8705 section 3: a token bound to a key (`cnf`) is
/// refused as a bearer token, whatever the binding, however the member name is spelled,
/// on every repeat (a refusal is never cached as a pass), and through introspection.
#[tokio::test]
async fn sender_constrained_tokens_are_not_bearer_tokens() {
    let issuer = MockIssuer::start().await;
    let api = serve(builder_for(&issuer).build().unwrap()).await;
    assert_eq!(
        api.get("/me", Some(&issuer.token().sign())).await.status,
        200
    );
    let bindings = [
        json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
        json!({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}),
        json!({}),
        json!(null),
        json!("not an object"),
    ];
    for cnf in &bindings {
        let token = issuer.token().claim("cnf", cnf.clone()).sign();
        for _ in 0..2 {
            let reply = api.get("/me", Some(&token)).await;
            reply.assert_invalid_token();
            assert!(
                reply
                    .challenge
                    .as_deref()
                    .unwrap()
                    .contains("bound to a key"),
                "{cnf}: {reply:?}"
            );
        }
    }
    // An escaped member name is the same member (RFC 8259 section 7).
    let claims = issuer.token().claims_json();
    let escaped = format!(r#"{},"cnf":{{"jkt":"x"}}}}"#, &claims[..claims.len() - 1]);
    let token = issuer.token().raw_payload(escaped).sign();
    api.get("/me", Some(&token)).await.assert_invalid_token();
    // A look-alike member is not a binding.
    let token = issuer.token().claim("cnf2", json!({"jkt": "x"})).sign();
    assert_eq!(api.get("/me", Some(&token)).await.status, 200);

    // Introspection answers carry `cnf` too (RFC 9449 section 6.2).
    let (id, secret) = tokengate::testing::DEFAULT_INTROSPECTION_CLIENT;
    let introspecting = builder_for(&issuer)
        .introspection(id, secret)
        .token_format(tokengate::TokenFormat::JwtOrOpaque)
        // Answers without `aud` reach the binding check only when they are accepted.
        .allow_introspection_without_audience(true)
        .build()
        .unwrap();
    let api = serve(introspecting).await;
    assert_eq!(
        api.get("/me", Some(&issuer.token().opaque())).await.status,
        200
    );
    let bound = issuer.token().claim("cnf", bindings[0].clone()).opaque();
    api.get("/me", Some(&bound)).await.assert_invalid_token();
    // Also where the answer names no audience (the path that skips the audience check).
    let unrestricted = issuer.token().without_claim("aud");
    let bound = unrestricted.claim("cnf", bindings[0].clone()).opaque();
    api.get("/me", Some(&bound)).await.assert_invalid_token();
    let free = issuer.token().without_claim("aud").opaque();
    assert_eq!(api.get("/me", Some(&free)).await.status, 200);

    // Allowed where something in front checks the binding: the handler sees `cnf`.
    let lenient = builder_for(&issuer)
        .allow_sender_constrained_tokens(true)
        .build()
        .unwrap();
    let api = serve(lenient).await;
    let token = issuer.token().claim("cnf", bindings[1].clone()).sign();
    let reply = api.get("/me", Some(&token)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["cnf"], bindings[1]);
}

#[tokio::test]
async fn scope_lookalikes_never_grant_admin() {
    let (issuer, api) = issuer_and_api().await;
    for scope in [
        json!("administrator"),
        json!("ADMIN"),
        json!("read,admin"),
        json!("admin:read"),
    ] {
        let token = issuer.token().claim("scope", scope).sign();
        let reply = api.get("/admin", Some(&token)).await;
        assert_eq!(reply.status, 403, "{reply:?}");
        assert_eq!(reply.error().as_deref(), Some("insufficient_scope"));
        assert!(reply.challenge.unwrap().contains(r#"scope="admin""#));
    }
    let granted = issuer.token().scope("read admin").sign();
    assert_eq!(api.get("/admin", Some(&granted)).await.status, 200);
    let scp = issuer.token().claim("scp", json!(["admin"])).sign();
    assert_eq!(api.get("/admin", Some(&scp)).await.status, 200);
}

#[tokio::test]
async fn malformed_tokens_are_invalid_token_never_500() {
    let (issuer, api) = issuer_and_api().await;
    let honest = issuer.token().sign();
    let (h, rest) = honest.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    let cases = vec![
        "a".to_owned(),
        "a.b".to_owned(),
        "a.b.c".to_owned(),
        format!("{h}.{p}.{s}.{s}.{s}"),
        format!("{h}..{s}"),
        format!("{h}.{p}="),
        format!("{}.{p}.{s}", b64("[1,2]")),
        format!("{}.{p}.{s}", b64("{\"alg\":\"RS256\"")),
        format!("{h}.{}.{s}", b64("[\"not an object\"]")),
        format!("{}.{p}.{s}", URL_SAFE_NO_PAD.encode([0xff, 0xfe, 0x00])),
    ];
    for token in cases {
        let reply = api.get("/me", Some(&token)).await;
        reply.assert_invalid_token();
    }
}

/// Replaces a token's signature with these bytes.
fn with_signature(token: &str, signature: &[u8]) -> String {
    let (input, _) = token.rsplit_once('.').unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn signature_of(token: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(token.rsplit_once('.').unwrap().1)
        .unwrap()
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` from a P1363 `r || s` signature.
fn der_from_p1363(sig: &[u8]) -> Vec<u8> {
    let int = |x: &[u8]| {
        let x: Vec<u8> = x.iter().copied().skip_while(|b| *b == 0).collect();
        let mut out = vec![0x02];
        let pad = x.first().is_some_and(|b| b & 0x80 != 0);
        out.push((x.len() + usize::from(pad)) as u8);
        if pad {
            out.push(0);
        }
        out.extend(x);
        out
    };
    let (r, s) = sig.split_at(sig.len() / 2);
    let body = [int(r), int(s)].concat();
    [vec![0x30, body.len() as u8], body].concat()
}

#[tokio::test]
async fn ecdsa_signature_edge_cases_are_refused() {
    use tokengate::testing::DEFAULT_AUDIENCE;
    let issuer = MockIssuer::start_with(DEFAULT_AUDIENCE, tokengate::Algorithm::ES256).await;
    let api = serve(builder_for(&issuer).build().unwrap()).await;
    let token = issuer.token().scope("admin").sign();
    assert_eq!(api.get("/admin", Some(&token)).await.status, 200);
    let sig = signature_of(&token);
    assert_eq!(sig.len(), 64);
    // The P-256 group order n.
    let n: Vec<u8> = (0..32)
        .map(|i| {
            u8::from_str_radix(
                &"ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"
                    [2 * i..2 * i + 2],
                16,
            )
            .unwrap()
        })
        .collect();
    let mut s_plus_n = sig.clone();
    s_plus_n[32..].copy_from_slice(&n);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("r = s = 0 (CVE-2022-21449)", vec![0; 64]),
        ("r = s = n", [n.clone(), n.clone()].concat()),
        ("r = 0, real s", [vec![0; 32], sig[32..].to_vec()].concat()),
        ("s = n", s_plus_n),
        ("all ones", vec![0xff; 64]),
        ("DER-encoded", der_from_p1363(&sig)),
        ("63 bytes", sig[..63].to_vec()),
        ("65 bytes", [sig.clone(), vec![0]].concat()),
        (
            "r and s swapped",
            [sig[32..].to_vec(), sig[..32].to_vec()].concat(),
        ),
    ];
    for (name, bytes) in cases {
        let forged = with_signature(&token, &bytes);
        let reply = api.get("/admin", Some(&forged)).await;
        assert_eq!(reply.status, 401, "{name}: {reply:?}");
    }
}

#[tokio::test]
async fn rsa_signature_length_games_are_refused() {
    let (issuer, api) = issuer_and_api().await;
    let token = issuer.token().sign();
    let sig = signature_of(&token);
    for (name, bytes) in [
        ("extended", [sig.clone(), vec![0]].concat()),
        ("leading zero", [vec![0], sig.clone()].concat()),
        ("truncated", sig[1..].to_vec()),
        ("empty", Vec::new()),
        ("zero", vec![0; sig.len()]),
    ] {
        let forged = with_signature(&token, &bytes);
        let reply = api.get("/me", Some(&forged)).await;
        assert_eq!(reply.status, 401, "{name}: {reply:?}");
    }
}

#[tokio::test]
async fn non_canonical_base64_is_refused() {
    let (issuer, api) = issuer_and_api().await;
    let token = issuer.token().sign();
    let (input, sig) = token.rsplit_once('.').unwrap();
    // 256 signature bytes take 342 characters: the last one carries 4 unused bits.
    let last = sig.as_bytes()[sig.len() - 1];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let index = alphabet.iter().position(|c| *c == last).unwrap();
    let sloppy = alphabet[index | 1] as char;
    assert_ne!(sloppy as u8, last);
    let trailing_bits = format!("{input}.{}{sloppy}", &sig[..sig.len() - 1]);
    let padded = format!("{token}==");
    let standard_alphabet = {
        let h = issuer.token().claim("pad", "~~~~???>>>").sign();
        h.replace('-', "+").replace('_', "/")
    };
    for forged in [trailing_bits, padded, standard_alphabet] {
        api.get("/me", Some(&forged)).await.assert_invalid_token();
    }
    // Whitespace and JSON are not token68 at all: a malformed token (401 invalid_token,
    // RFC 6750 section 3.1), refused before any decoding.
    for value in [
        format!("Bearer {} {}", &token[..10], &token[10..]),
        format!(
            "Bearer {{\"payload\":\"{}\",\"signatures\":[]}}",
            &token[..20]
        ),
    ] {
        api.get_with_headers("/me", &[&value])
            .await
            .assert_invalid_token();
    }
}

#[tokio::test]
async fn validly_signed_but_hostile_json_is_refused() {
    let (issuer, api) = issuer_and_api().await;
    let honest = issuer.token().scope("read");
    let claims = honest.claims_json();
    let iss = issuer.issuer().to_owned();
    let inner = &claims[1..claims.len() - 1];
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // The last "scope" would grant admin to a parser that takes the last one.
        (
            "duplicate scope",
            format!(r#"{{{inner},"scope":"admin"}}"#).into_bytes(),
        ),
        (
            "duplicate iss",
            format!(r#"{{"iss":"https://evil.example",{inner}}}"#).into_bytes(),
        ),
        (
            "huge exp",
            format!(
                r#"{{{},"exp":1e400}}"#,
                inner.replace("\"exp\"", "\"old_exp\"")
            )
            .into_bytes(),
        ),
        (
            "deep nesting",
            format!(r#"{{{inner},"x":{}1{}}}"#, "[".repeat(500), "]".repeat(500)).into_bytes(),
        ),
        (
            "not UTF-8",
            [b"{\"iss\":\"".as_slice(), iss.as_bytes(), b"\xff\"}"].concat(),
        ),
        ("array", b"[1,2,3]".to_vec()),
        ("trailing data", format!("{claims} {{}}").into_bytes()),
    ];
    for (name, payload) in cases {
        let token = issuer.token().raw_payload(payload).sign();
        let reply = api.get("/admin", Some(&token)).await;
        assert_eq!(reply.status, 401, "{name}: {reply:?}");
    }
    let header_dupes = r#"{"alg":"none","alg":"RS256","kid":"key-1","typ":"at+jwt"}"#;
    let token = issuer.token().raw_header(header_dupes).sign();
    api.get("/me", Some(&token)).await.assert_invalid_token();
    // And the honest token with the same claims passes: the cases above fail on JSON.
    assert_eq!(api.get("/me", Some(&honest.sign())).await.status, 200);
}

#[tokio::test]
async fn keys_not_meant_for_verification_never_verify() {
    for (name, tweak) in [
        ("use: enc", json!({"use": "enc"})),
        (
            "key_ops without verify",
            json!({"key_ops": ["sign", "encrypt"]}),
        ),
        ("key_ops not an array", json!({"key_ops": "verify"})),
        ("alg: RSA-OAEP", json!({"alg": "RSA-OAEP"})),
    ] {
        let issuer = MockIssuer::start().await;
        let mut jwk = issuer.public_jwk("key-1").unwrap();
        for (k, v) in tweak.as_object().unwrap() {
            jwk[k] = v.clone();
        }
        issuer.serve_jwks(Some(json!({ "keys": [jwk] })));
        let api = serve(builder_for(&issuer).build().unwrap()).await;
        // The very key that signed the token, but published as not for verification.
        let reply = api.get("/me", Some(&issuer.token().sign())).await;
        assert_eq!(reply.status, 401, "{name}: {reply:?}");
    }
}

#[tokio::test]
async fn a_symmetric_key_in_the_jwks_is_never_an_hmac_secret() {
    let issuer = MockIssuer::start().await;
    let secret = b"attacker-chosen-secret";
    let good = issuer.public_jwk("key-1").unwrap();
    issuer.serve_jwks(Some(json!({"keys": [
        good,
        {"kty": "oct", "kid": "hmac-1", "k": URL_SAFE_NO_PAD.encode(secret), "alg": "HS256"},
    ]})));
    let api = serve(builder_for(&issuer).build().unwrap()).await;
    assert_eq!(
        api.get("/me", Some(&issuer.token().sign())).await.status,
        200
    );
    let forged = issuer
        .token()
        .scope("admin")
        .header("kid", "hmac-1")
        .sign_hs256(secret);
    api.get("/admin", Some(&forged))
        .await
        .assert_invalid_token();
}

#[tokio::test]
async fn oversized_headers_are_refused_by_every_adapter() {
    let (_issuer, api) = issuer_and_api().await;
    let huge = format!("Bearer {}", "a".repeat(100 * 1024));
    for base in [&api.base, &api.actix_base] {
        let status = api
            .client
            .get(format!("{base}/me"))
            .header("authorization", &huge)
            .send()
            .await
            .map(|r| r.status().as_u16());
        // 400/401/431 are all refusals; a reset connection is one too.
        if let Ok(status) = status {
            assert!(matches!(status, 400 | 401 | 431), "{base}: {status}");
        }
    }
}

/// Issue 12, item 7: every URL tokengate contacts obeys one scheme policy. An `http`
/// issuer on a remote host is refused at `build()` whenever it would be contacted: for
/// discovery, and for the introspection endpoint's metadata even when an https
/// `jwks_url` skips key discovery (else a network attacker names its own endpoint,
/// receives the client credentials and every opaque token, and answers `active: true`).
#[tokio::test]
async fn a_plain_http_issuer_is_never_asked_for_the_introspection_endpoint() {
    use tokengate::{ConfigError, TokenFormat, Validator};
    let remote = || {
        Validator::builder()
            .issuer("http://example.invalid")
            .audience("api")
            .jwks_url("https://id.example/jwks")
    };
    for format in [TokenFormat::Opaque, TokenFormat::JwtOrOpaque] {
        let err = remote()
            .introspection("client", "secret")
            .token_format(format)
            .build()
            .unwrap_err();
        assert_eq!(err, ConfigError::InsecureUrl("issuer"), "{format:?}");
    }
    // An explicit https endpoint means the http issuer is never contacted: only its name
    // is compared with `iss`.
    assert!(
        remote()
            .introspection("client", "secret")
            .introspection_endpoint("https://id.example/introspect")
            .build()
            .is_ok()
    );
    // The same over HTTP: a loopback issuer whose metadata names a plain-http remote
    // introspection endpoint is never trusted with a token (503, no request made).
    let issuer = MockIssuer::start().await;
    issuer.set_metadata("introspection_endpoint", "http://192.0.2.1/introspect");
    let (id, secret) = tokengate::testing::DEFAULT_INTROSPECTION_CLIENT;
    let api = serve(
        builder_for(&issuer)
            .introspection(id, secret)
            .build()
            .unwrap(),
    )
    .await;
    let reply = api.get("/me", Some(&issuer.token().opaque())).await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(issuer.introspection_hits(), 0);
}

/// An opaque token `elsewhere` knows, with the claims `issuer` would accept.
fn for_issuer(elsewhere: &MockIssuer, issuer: &MockIssuer) -> String {
    elsewhere
        .token()
        .claim("iss", issuer.issuer())
        .audience(issuer.audience())
        .opaque()
}

/// A server on 127.0.0.1 answering every request with `status` to `location`.
async fn redirector(status: u16, location: String) -> String {
    use axum::http::{StatusCode, header::LOCATION};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(move || {
        let location = location.clone();
        async move {
            (
                StatusCode::from_u16(status).unwrap(),
                [(LOCATION, location)],
            )
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

/// Issue 12, item 10: a 307/308 on the introspection POST would re-send the token and,
/// with `client_secret_post`, the secret, to wherever it points. No redirects there: the
/// target receives nothing and the API answers 503.
#[tokio::test]
async fn the_introspection_post_never_follows_a_redirect() {
    use tokengate::ClientAuth;
    let (id, secret) = tokengate::testing::DEFAULT_INTROSPECTION_CLIENT;
    for auth in [ClientAuth::ClientSecretBasic, ClientAuth::ClientSecretPost] {
        for status in [307, 308] {
            let issuer = MockIssuer::start().await;
            // The attacker's endpoint: the mock's own, which counts the requests it gets
            // and would answer `active: true` for the token.
            let elsewhere = MockIssuer::start().await;
            let moved = redirector(status, elsewhere.introspection_url()).await;
            let validator = builder_for(&issuer)
                .introspection(id, secret)
                .introspection_auth(auth)
                .introspection_endpoint(format!("{moved}/introspect"))
                .build()
                .unwrap();
            let api = serve(validator).await;
            let reply = api.get("/me", Some(&for_issuer(&elsewhere, &issuer))).await;
            assert_eq!(reply.status, 503, "{auth:?} {status}: {reply:?}");
            assert_eq!(elsewhere.introspection_hits(), 0, "{auth:?} {status}");
        }
    }
}

/// Issue 12, item 10, with a client of the user's that follows redirects: the request
/// cannot be held back, but the answer from anywhere but the endpoint is refused (503).
#[tokio::test]
async fn an_introspection_answer_from_a_redirect_target_is_refused() {
    let (id, secret) = tokengate::testing::DEFAULT_INTROSPECTION_CLIENT;
    let issuer = MockIssuer::start().await;
    let elsewhere = MockIssuer::start().await;
    let moved = redirector(307, elsewhere.introspection_url()).await;
    let follows = reqwest::Client::builder().build().unwrap();
    // With `client_secret_post` the secret is in the body, which reqwest re-sends on a
    // 307 (it drops `Authorization` when the host changes).
    let validator = builder_for(&issuer)
        .introspection(id, secret)
        .introspection_auth(tokengate::ClientAuth::ClientSecretPost)
        .introspection_endpoint(format!("{moved}/introspect"))
        .http_client(follows)
        .build()
        .unwrap();
    let api = serve(validator).await;
    let reply = api.get("/me", Some(&for_issuer(&elsewhere, &issuer))).await;
    assert_eq!(reply.status, 503, "{reply:?}");
}

/// Issue 12, item 12: the builder's `Debug` shows no client secret (the development
/// server's builder is checked in `dev-issuer/tests/client_auth.rs`).
#[tokio::test]
async fn builders_never_print_client_secrets() {
    let secret = "hunter2-very-secret";
    let builder = tokengate::Validator::builder()
        .issuer("https://id.example")
        .audience("api")
        .introspection("my-api", secret);
    let printed = format!("{builder:?}");
    assert!(printed.contains("my-api"), "{printed}");
    assert!(!printed.contains(secret), "{printed}");
}
