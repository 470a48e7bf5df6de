//! `Validator::explain` gives the verdict `validate` gives, names the check that failed
//! with the values it compared, and never shows the token's signature.

use tokengate::testing::MockIssuer;
use tokengate::{CheckStatus, Validator};

fn validator(issuer: &MockIssuer) -> Validator {
    Validator::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .build()
        .unwrap()
}

/// (token, the check that must fail, a value its detail must name), `None` for valid.
fn cases(issuer: &MockIssuer) -> Vec<(String, Option<(&'static str, String)>)> {
    let unknown = tokengate::testing::TestKey::generate("stranger", tokengate::Algorithm::RS256);
    let valid = issuer.token().sign();
    // A character in the middle of the signature changed: still canonical base64url
    // (the last character's spare bits stay as they were), so it is the signature that
    // fails, not its encoding.
    let mut damaged = valid.clone().into_bytes();
    let middle = valid.rfind('.').unwrap() + 20;
    damaged[middle] = if damaged[middle] == b'A' { b'B' } else { b'A' };
    let damaged = String::from_utf8(damaged).unwrap();
    vec![
        (valid, None),
        (
            issuer.token().expires_in(-3600).sign(),
            Some(("exp", "leeway 60 s".to_owned())),
        ),
        (
            issuer.token().audience("someone-else").sign(),
            Some(("aud", "someone-else".to_owned())),
        ),
        (
            issuer.token().claim("iss", "https://evil.example").sign(),
            Some(("iss", "https://evil.example".to_owned())),
        ),
        (
            issuer.token().claim("nbf", 4_000_000_000i64).sign(),
            Some(("nbf", "4000000000".to_owned())),
        ),
        (
            issuer.token().header("kid", "no-such-kid").sign(),
            Some(("key", "no-such-kid".to_owned())),
        ),
        (
            unknown.mint(&serde_json::json!({
                "iss": issuer.issuer(), "aud": issuer.audience(), "exp": 4_000_000_000i64
            })),
            Some(("key", "stranger".to_owned())),
        ),
        (damaged, Some(("signature", "bad_signature".to_owned()))),
        (
            issuer.token().header("alg", "none").sign(),
            Some(("header", "\"none\"".to_owned())),
        ),
        ("not.a.token".to_owned(), Some(("header", String::new()))),
        (
            issuer
                .token()
                .claim("cnf", serde_json::json!({"jkt": "abc"}))
                .sign(),
            Some(("binding", "cnf".to_owned())),
        ),
    ]
}

#[tokio::test]
async fn explain_gives_the_verdict_of_validate_and_names_the_failing_check() {
    let issuer = MockIssuer::start().await;
    let explaining = validator(&issuer);
    let validating = validator(&issuer);
    for (token, expected) in cases(&issuer) {
        let explanation = explaining.explain(&token).await;
        let verdict = validating.validate(&token).await;
        assert_eq!(
            explanation.result().map(|c| c.subject().map(str::to_owned)),
            verdict.as_ref().map(|c| c.subject().map(str::to_owned)),
            "{explanation}"
        );
        let shown = explanation.to_string();
        let signature = token.rsplit('.').next().unwrap();
        assert!(
            signature.len() < 8 || !shown.contains(signature),
            "the signature is shown: {shown}"
        );
        match expected {
            None => {
                assert!(explanation.is_valid(), "{shown}");
                assert!(explanation.failed().is_none());
                let names: Vec<&str> = explanation.checks().iter().map(|c| c.name()).collect();
                assert_eq!(
                    names,
                    [
                        "size",
                        "header",
                        "key",
                        "signature",
                        "claims",
                        "iss",
                        "aud",
                        "exp",
                        "nbf",
                        "binding"
                    ]
                );
                assert!(shown.contains("\nvalid: sub"), "{shown}");
            }
            Some((check, value)) => {
                let failed = explanation.failed().unwrap_or_else(|| panic!("{shown}"));
                assert_eq!(failed.name(), check, "{shown}");
                assert!(failed.detail().contains(&value), "{value} in {shown}");
                // Every check after the failing one was not made.
                let after = explanation
                    .checks()
                    .iter()
                    .skip_while(|c| c.status() != CheckStatus::Failed)
                    .skip(1);
                assert!(
                    after.clone().all(|c| c.status() == CheckStatus::NotChecked),
                    "{shown}"
                );
                assert!(shown.contains("refused: "), "{shown}");
            }
        }
    }
}

#[tokio::test]
async fn a_scope_requirement_is_explained_with_the_scopes_granted() {
    let issuer = MockIssuer::start().await;
    let validator = validator(&issuer);
    let token = issuer.token().scope("read write").sign();
    let explained = validator.explain(&token).await.require_scope("admin");
    let failed = explained.failed().expect("admin is not granted");
    assert_eq!(failed.name(), "scope");
    assert!(failed.detail().contains("\"read\""), "{explained}");
    assert!(!explained.is_valid());
    assert!(
        validator
            .explain(&token)
            .await
            .require_scope("write")
            .is_valid()
    );
}

#[tokio::test]
async fn an_issuer_whose_keys_cannot_be_fetched_is_explained_with_the_cause() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let issuer = MockIssuer::start().await;
    let validator = Validator::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .jwks_url(format!("{url}/jwks"))
        .build()
        .unwrap();
    let explained = validator.explain(&issuer.token().sign()).await;
    let failed = explained.failed().expect("no keys");
    assert_eq!(failed.name(), "key");
    assert!(failed.detail().contains(&url), "{explained}");
}

#[tokio::test]
async fn several_issuers_are_routed_by_iss_and_a_stranger_named() {
    let (a, b) = (MockIssuer::start().await, MockIssuer::start().await);
    let both = Validator::any_of([validator(&a), validator(&b)]).unwrap();
    let explained = both.explain(&b.token().sign()).await;
    assert!(explained.is_valid(), "{explained}");
    assert_eq!(explained.checks()[0].name(), "issuer");
    let stranger = a.token().claim("iss", "https://stranger.example").sign();
    let explained = both.explain(&stranger).await;
    let failed = explained.failed().unwrap();
    assert_eq!(failed.name(), "issuer");
    assert!(
        failed.detail().contains("https://stranger.example"),
        "{explained}"
    );
    assert!(failed.detail().contains(a.issuer()), "{explained}");
}
