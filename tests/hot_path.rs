//! The gate answers a bearer token the token cache holds byte for byte before it reads
//! the token's characters. Whatever the gate's configuration and whatever the request, a
//! cached token must get exactly the decision an uncached one gets: each case here is
//! decided twice, by a gate whose validator has the genuine token cached and by the same
//! gate on a validator without a cache, and the two decisions must be equal.

use tokengate::binding::dpop::Dpop;
use tokengate::binding::mtls::{CertificateSource, Mtls};
use tokengate::gate::{Decision, Gate};
use tokengate::request::RequestParts;
use tokengate::testing::MockIssuer;
use tokengate::{Requirement, Validator};

/// A case: its name, the `Authorization` values, the `Cookie` value.
type Request<'a> = (&'static str, Vec<&'a [u8]>, Option<&'a [u8]>);

/// What a decision says, in comparable form.
#[derive(Debug, PartialEq)]
enum Seen {
    Pass(Option<String>),
    Reject {
        status: u16,
        error: Option<&'static str>,
        description: &'static str,
        scheme: Option<tokengate::bearer::Scheme>,
    },
}

async fn decide(gate: &Gate, authorization: &[&[u8]], cookie: Option<&[u8]>) -> Seen {
    let lookup = move |name: &str| match (name, cookie) {
        ("cookie", Some(cookie)) => vec![cookie],
        _ => Vec::new(),
    };
    let parts = RequestParts::new()
        .authorization(authorization.iter().copied())
        .dpop(std::iter::empty())
        .method("GET")
        .target("/me")
        .headers(&lookup);
    let outcome = match gate.decide(&parts) {
        Decision::Pass(claims) => Ok(claims),
        Decision::Reject(refusal) => Err(refusal),
        Decision::Pending(pending) => pending.await,
    };
    match outcome {
        Ok(claims) => Seen::Pass(claims.and_then(|c| c.subject().map(str::to_owned))),
        Err(refusal) => Seen::Reject {
            status: refusal.error().status(),
            error: refusal.error().error_code(),
            description: refusal.error().description(),
            scheme: refusal.scheme(),
        },
    }
}

/// The gates the hot path must not short-circuit, each built on `validator`.
fn gates(validator: &Validator) -> Vec<(&'static str, Gate)> {
    let dpop = || Dpop::new("https://api.example.com").unwrap();
    vec![
        ("plain", Gate::new(validator.clone())),
        ("optional", Gate::new(validator.clone()).optional()),
        ("cookie", Gate::new(validator.clone()).cookie("at")),
        ("dpop allowed", Gate::new(validator.clone()).dpop(dpop())),
        (
            "dpop required",
            Gate::new(validator.clone()).dpop(dpop().required()),
        ),
        (
            "mtls",
            Gate::new(validator.clone()).mtls(Mtls::new(CertificateSource::connection())),
        ),
        (
            "mtls required",
            Gate::new(validator.clone())
                .mtls(Mtls::new(CertificateSource::connection()).required()),
        ),
        (
            "requirement",
            Gate::new(validator.clone()).require(Requirement::scope("admin")),
        ),
    ]
}

#[tokio::test]
async fn a_cached_token_gets_the_decision_an_uncached_one_gets() {
    let issuer = MockIssuer::start().await;
    let builder = || {
        Validator::builder()
            .issuer(issuer.issuer())
            .audience(issuer.audience())
    };
    let cached = builder().build().unwrap();
    let uncached = builder().token_cache_size(0).build().unwrap();
    cached.prefetch_keys().await.unwrap();
    uncached.prefetch_keys().await.unwrap();

    let token = issuer.token().subject("alice").scope("read").sign();
    cached.validate(&token).await.unwrap();
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let bearer = |t: &str| format!("Bearer {t}").into_bytes();
    let genuine = bearer(&token);
    // Each keeps the cached signature: the cache finds the entry by it.
    let bang = bearer(&format!("{signing_input}!.{signature}"));
    let control = bearer(&format!("{signing_input}\x01.{signature}"));
    let space = bearer(&format!("{signing_input} .{signature}"));
    let other = bearer(&format!("{signing_input}A.{signature}"));
    let non_ascii = [
        &genuine[..genuine.len() - signature.len()],
        "é".as_bytes(),
        signature.as_bytes(),
    ]
    .concat();
    let lower = format!("bearer {token}").into_bytes();
    let dpop_scheme = format!("DPoP {token}").into_bytes();
    let cookie = format!("at={token}").into_bytes();

    let requests: Vec<Request<'_>> = vec![
        ("the genuine token", vec![&genuine], None),
        ("the scheme in lower case", vec![&lower], None),
        ("a '!' before the signature", vec![&bang], None),
        ("a control byte before the signature", vec![&control], None),
        ("a space before the signature", vec![&space], None),
        ("another character before the signature", vec![&other], None),
        (
            "a non-ASCII character before the signature",
            vec![&non_ascii],
            None,
        ),
        ("the token twice", vec![&genuine, &genuine], None),
        (
            "the token in the header and the cookie",
            vec![&genuine],
            Some(&cookie),
        ),
        ("the token as DPoP", vec![&dpop_scheme], None),
    ];
    let mut passes = 0;
    for ((name, with_cache), (_, without_cache)) in gates(&cached).into_iter().zip(gates(&uncached))
    {
        for (request, authorization, cookie) in &requests {
            let seen = decide(&with_cache, authorization, *cookie).await;
            let expected = decide(&without_cache, authorization, *cookie).await;
            assert_eq!(seen, expected, "gate {name}, {request}");
            passes += usize::from(matches!(seen, Seen::Pass(Some(_))));
        }
    }
    // The genuine token passes where it should (so the comparison is of real decisions).
    assert!(passes >= 5, "{passes} passes");
}
