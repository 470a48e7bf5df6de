//! RFC 6750 section 2.1 (getting the token) and section 3 (answering without one), over HTTP.

mod common;

use common::issuer_and_api;

#[tokio::test]
async fn health_needs_no_token() {
    let (_issuer, api) = issuer_and_api().await;
    let reply = api.get("/health", None).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok"));
}

#[tokio::test]
async fn no_credentials_gets_a_bare_challenge() {
    let (_issuer, api) = issuer_and_api().await;
    let reply = api.get("/me", None).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.challenge.as_deref(), Some("Bearer"));
}

#[tokio::test]
async fn other_schemes_count_as_no_credentials() {
    let (_issuer, api) = issuer_and_api().await;
    for value in ["Basic dXNlcjpwYXNz", "Token abc", "Bearerabc", "DPoP abc"] {
        let reply = api.get_with_headers("/me", &[value]).await;
        assert_eq!(reply.status, 401, "{value}");
        assert_eq!(reply.challenge.as_deref(), Some("Bearer"), "{value}");
    }
}

#[tokio::test]
async fn scheme_is_case_insensitive() {
    let (issuer, api) = issuer_and_api().await;
    let token = issuer.token().sign();
    for scheme in ["bearer", "BEARER", "Bearer", "bEaReR"] {
        let reply = api
            .get_with_headers("/me", &[&format!("{scheme} {token}")])
            .await;
        assert_eq!(reply.status, 200, "{scheme}");
    }
}

#[tokio::test]
async fn two_authorization_headers_are_invalid_request() {
    let (issuer, api) = issuer_and_api().await;
    let token = issuer.token().sign();
    let value = format!("Bearer {token}");
    let reply = api.get_with_headers("/me", &[&value, &value]).await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.error().as_deref(), Some("invalid_request"));
}

/// RFC 6750 section 3.1: `invalid_request` is for a malformed *request*: `Bearer` with
/// no token at all (or, above, two `Authorization` headers).
#[tokio::test]
async fn bearer_without_a_token_is_invalid_request() {
    let (_issuer, api) = issuer_and_api().await;
    for value in ["Bearer", "Bearer ", "Bearer    "] {
        let reply = api.get_with_headers("/me", &[value]).await;
        assert_eq!(reply.status, 400, "{value:?}: {reply:?}");
        assert_eq!(reply.error().as_deref(), Some("invalid_request"));
    }
}

/// A token made of characters outside `b64token` is a malformed *token*: 401
/// `invalid_token` (RFC 6750 section 3.1), as Spring Security and
/// express-oauth2-jwt-bearer answer, on required and optional routes alike.
#[tokio::test]
async fn a_token_outside_b64token_is_invalid_token() {
    let (_issuer, api) = issuer_and_api().await;
    for value in [
        "Bearer !!!.@@@.###",
        "Bearer a b",
        "Bearer a,b",
        "Bearer \"a\"",
        "Bearer a=b",
        "Bearer ===",
        "Bearer a;b",
    ] {
        for path in ["/me", "/greet"] {
            let reply = api.get_with_headers(path, &[value]).await;
            assert_eq!(reply.status, 401, "{path} {value:?}: {reply:?}");
            assert_eq!(
                reply.challenge.as_deref(),
                Some(
                    r#"Bearer error="invalid_token", error_description="The access token is malformed""#
                ),
                "{path} {value:?}"
            );
        }
    }
}

#[tokio::test]
async fn optional_auth_lets_anonymous_through_but_not_bad_tokens() {
    let (issuer, api) = issuer_and_api().await;
    let anonymous = api.get("/greet", None).await;
    assert_eq!(
        (anonymous.status, anonymous.body.as_str()),
        (200, "hello stranger")
    );
    let token = issuer.token().subject("alice").sign();
    let known = api.get("/greet", Some(&token)).await;
    assert_eq!((known.status, known.body.as_str()), (200, "hello alice"));
    api.get("/greet", Some("not.a.token"))
        .await
        .assert_invalid_token();
}

#[tokio::test]
async fn scope_check_answers_403_naming_the_scope() {
    let (issuer, api) = issuer_and_api().await;
    let reply = api
        .get("/admin", Some(&issuer.token().scope("read").sign()))
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.challenge.as_deref(),
        Some(
            r#"Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="admin""#
        )
    );
    let admin = api
        .get("/admin", Some(&issuer.token().scope("admin").sign()))
        .await;
    assert_eq!(admin.status, 200);
    // No token at all on a scoped route: 401, not 403.
    assert_eq!(api.get("/admin", None).await.status, 401);
}

/// A test CA and a leaf it signed for `127.0.0.1`: the CA's certificate, the leaf's
/// certificate and the leaf's PKCS#8 key, all DER.
fn test_pki() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    (
        ca.der().to_vec(),
        leaf.der().to_vec(),
        leaf_key.serialize_der(),
    )
}

/// A TLS server on 127.0.0.1 presenting `leaf` (with `key`), answering every request with
/// `302 Found` to `location`. Its base URL (`https://127.0.0.1:PORT`).
async fn https_redirector(location: String, leaf: Vec<u8>, key: Vec<u8>) -> String {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf)],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("https://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, location) = (acceptor.clone(), location.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                // One request per connection: read its head, answer, close.
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    base
}

/// A validator whose JWKS is `jwks_url`, for tokens of `issuer`.
fn validator_at(
    issuer: &tokengate::testing::MockIssuer,
    jwks_url: String,
    client: Option<reqwest::Client>,
) -> tokengate::Validator {
    let mut builder = tokengate::Validator::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .jwks_url(jwks_url)
        .fetch_timeout(std::time::Duration::from_secs(2));
    if let Some(client) = client {
        builder = builder.http_client(client);
    }
    builder.build().unwrap()
}

/// Issue 12, item 11, over HTTP: an https JWKS endpoint on 127.0.0.1 redirects (302) to
/// a plain-http loopback JWKS that would verify the token (the mock issuer's, which
/// counts its hits). The user's own client trusts the test CA and follows redirects, so
/// it does reach the http server (a client of the user's cannot be held back); but the
/// answer came from a URL the scheme policy refuses (https to loopback http), so it is
/// discarded: no keys, and the token gets 503 from both adapters.
#[tokio::test]
async fn an_https_jwks_redirected_to_loopback_http_is_refused_through_a_users_client() {
    use tokengate::testing::MockIssuer;

    let (ca, leaf, key) = test_pki();
    let issuer = MockIssuer::start().await;
    let https = https_redirector(issuer.jwks_url(), leaf, key).await;
    let user_client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_der(&ca).unwrap())
        .build()
        .unwrap();
    let validator = validator_at(&issuer, format!("{https}/jwks"), Some(user_client));
    let api = common::serve(validator.clone()).await;
    let token = issuer.token().sign();
    let reply = api.get("/me", Some(&token)).await;
    // The TLS handshake with the test CA worked and the redirect was followed...
    assert!(issuer.jwks_hits() >= 1, "the http JWKS was never reached");
    // ...but what it served was never used.
    assert_eq!(reply.status, 503, "{reply:?}");
    let stats = validator.key_set_stats();
    assert_eq!(stats.keys, 0, "{stats:?}");
    assert!(stats.failures >= 1, "{stats:?}");
}

/// The same redirect with tokengate's default client, whose redirect policy refuses it
/// before any request to the http server is made: 503 from both adapters, and the http
/// JWKS never asked. The default client trusts only the platform's roots, which on Linux
/// `SSL_CERT_FILE` names, read when the client is built; as setting it here would change
/// the environment of every test in this binary, the test runs itself in a child process
/// with `SSL_CERT_FILE` naming the test CA.
#[tokio::test]
async fn an_https_jwks_redirected_to_loopback_http_is_refused_by_the_default_client() {
    use base64::Engine;
    use tokengate::testing::MockIssuer;

    const NAME: &str = "an_https_jwks_redirected_to_loopback_http_is_refused_by_the_default_client";
    const PKI: &str = "TOKENGATE_TEST_PKI_DIR";
    let Some(dir) = std::env::var_os(PKI) else {
        // The parent: a CA for the child to trust, then the child.
        let (ca, leaf, key) = test_pki();
        let dir = std::env::temp_dir().join(format!("tokengate-pki-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&ca);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        );
        std::fs::write(dir.join("ca.pem"), pem).unwrap();
        std::fs::write(dir.join("leaf.der"), leaf).unwrap();
        std::fs::write(dir.join("leaf.key"), key).unwrap();
        let output = tokio::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
            .env(PKI, &dir)
            .env("SSL_CERT_FILE", dir.join("ca.pem"))
            .env_remove("SSL_CERT_DIR")
            .output()
            .await
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let out = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && out.contains("1 passed"),
            "the child failed:\n{out}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let (leaf, key) = (
        std::fs::read(dir.join("leaf.der")).unwrap(),
        std::fs::read(dir.join("leaf.key")).unwrap(),
    );
    let issuer = MockIssuer::start().await;
    let https = https_redirector(issuer.jwks_url(), leaf, key).await;
    // Control: a client with reqwest's default TLS settings (as tokengate's default
    // client has) trusts the test CA here, so the 503 below is the redirect refused,
    // not a failed handshake.
    let probe = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{https}/jwks"))
        .send()
        .await
        .expect("the platform roots (SSL_CERT_FILE) trust the test CA");
    assert_eq!(probe.status(), 302);
    let validator = validator_at(&issuer, format!("{https}/jwks"), None);
    let api = common::serve(validator.clone()).await;
    let reply = api.get("/me", Some(&issuer.token().sign())).await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(
        issuer.jwks_hits(),
        0,
        "the default client followed the redirect"
    );
    let stats = validator.key_set_stats();
    assert_eq!(stats.keys, 0, "{stats:?}");
    assert!(stats.failures >= 1, "{stats:?}");
}
