//! Certificate-bound access tokens (RFC 8705 section 3) over real HTTP: axum over a real
//! rustls mutual-TLS connection and actix-web over its own rustls listener (the
//! certificate from the handshake), both adapters behind a "proxy" on 127.0.0.1 (the
//! certificate from its header: escaped PEM, base64 DER, Envoy's XFCC), DPoP and mTLS
//! together, and the `mtls_axum` example. Each rule has a test that tries to break it.
//!
//! Run it through `cargo test --workspace` (or plain `cargo test`), which builds the
//! examples; `cargo test --test mtls` alone would drive a stale (or missing) example.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Reply, builder_for, reply, router_with, serve_gated};
use serde_json::json;
use tokengate::Gate;
use tokengate::binding::mtls::{CertificateHeader, CertificateSource, ClientCertificate, Mtls};
use tokengate::forwarded::TrustedProxies;
use tokengate::testing::{DpopKey, MockIssuer, certificate_cnf};

/// A test CA, a server leaf for 127.0.0.1, and two client identities it signed.
struct Pki {
    ca: Vec<u8>,
    server: (Vec<u8>, Vec<u8>),
    alice: (Vec<u8>, Vec<u8>),
    mallory: (Vec<u8>, Vec<u8>),
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        (cert.der().to_vec(), key.serialize_der())
    };
    Pki {
        ca: ca.der().to_vec(),
        server: leaf("127.0.0.1"),
        alice: leaf("alice.client.test"),
        mallory: leaf("mallory.client.test"),
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// A TLS listener for axum that asks every client for a certificate of the CA (a client
/// without one is let in: the gate decides), recording it with the peer address.
struct MutualTls {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

/// What the connection knew: axum's `ConnectInfo` of a [`MutualTls`] connection.
#[derive(Clone)]
struct TlsPeer {
    certificate: Option<ClientCertificate>,
}

impl axum::serve::Listener for MutualTls {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, MutualTls>>
    for TlsPeer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, MutualTls>) -> Self {
        let (_, connection) = stream.io().get_ref();
        TlsPeer {
            certificate: connection
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|leaf| ClientCertificate(leaf.to_vec())),
        }
    }
}

/// The common routes behind `gate`, served over mutual TLS on 127.0.0.1; the base URL.
async fn mutual_tls_api(pki: &Pki, gate: Gate) -> String {
    let config = server_config(pki);
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("https://{}", tcp.local_addr().unwrap());
    let listener = MutualTls {
        tcp,
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    };
    // The acceptor's certificate goes into each request, where the adapter reads it.
    let app = router_with(gate).layer(axum::middleware::map_request(
        |ConnectInfo(peer): ConnectInfo<TlsPeer>, mut request: axum::extract::Request| async move {
            if let Some(certificate) = peer.certificate {
                request.extensions_mut().insert(certificate);
            }
            request
        },
    ));
    let app = app.into_make_service_with_connect_info::<TlsPeer>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

/// The server side of the handshake: the leaf for 127.0.0.1, and every client asked for
/// a certificate of the test CA (one without is let in: the gate decides).
fn server_config(pki: &Pki) -> rustls::ServerConfig {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(pki.ca.clone())).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .allow_unauthenticated()
    .build()
    .unwrap();
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(pki.server.0.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server.1.clone())),
        )
        .unwrap()
}

/// A client trusting the test CA, presenting `identity` (certificate, key) if given.
fn client(pki: &Pki, identity: Option<&(Vec<u8>, Vec<u8>)>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_der(&pki.ca).unwrap());
    if let Some((cert, key)) = identity {
        let pem = format!("{}{}", pem("PRIVATE KEY", key), pem("CERTIFICATE", cert));
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

async fn get(client: &reqwest::Client, url: &str, token: &str) -> Reply {
    let request = client
        .get(url)
        .header("authorization", format!("Bearer {token}"));
    reply(request.send().await.unwrap()).await
}

const CERTIFICATE_REFUSED: &str = r#"Bearer error="invalid_token", error_description="The access token is not bound to the client certificate of this request""#;

#[track_caller]
fn assert_certificate_refused(reply: &Reply) {
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(
        reply.challenge.as_deref(),
        Some(CERTIFICATE_REFUSED),
        "{reply:?}"
    );
}

fn connection_gate(issuer: &MockIssuer, required: bool) -> Gate {
    let mut mtls = Mtls::new(CertificateSource::connection());
    if required {
        mtls = mtls.required();
    }
    Gate::new(builder_for(issuer).build().unwrap()).mtls(mtls)
}

#[tokio::test]
async fn a_bound_token_passes_over_mutual_tls_only_with_its_certificate() {
    let (pki, issuer) = (pki(), MockIssuer::start().await);
    let base = mutual_tls_api(&pki, connection_gate(&issuer, false)).await;
    let token = issuer
        .token()
        .subject("alice")
        .claim("cnf", certificate_cnf(&pki.alice.0))
        .sign();
    let me = format!("{base}/me");
    let alice = get(&client(&pki, Some(&pki.alice)), &me, &token).await;
    assert_eq!(alice.status, 200, "{alice:?}");
    assert_eq!(alice.json()["sub"], "alice");
    // The same token from a client with another certificate of the same CA, or none.
    assert_certificate_refused(&get(&client(&pki, Some(&pki.mallory)), &me, &token).await);
    assert_certificate_refused(&get(&client(&pki, None), &me, &token).await);
}

#[tokio::test]
async fn a_token_cache_hit_still_compares_this_requests_certificate() {
    let (pki, issuer) = (pki(), MockIssuer::start().await);
    let gate = connection_gate(&issuer, false);
    let validator = gate.validator().clone();
    let base = mutual_tls_api(&pki, gate).await;
    let token = issuer
        .token()
        .claim("cnf", certificate_cnf(&pki.alice.0))
        .sign();
    let me = format!("{base}/me");
    let (alice, mallory) = (
        client(&pki, Some(&pki.alice)),
        client(&pki, Some(&pki.mallory)),
    );
    assert_eq!(get(&alice, &me, &token).await.status, 200);
    // The token is verified and cached now: what the cache holds is its claims, not a
    // verdict on whichever certificate came with it.
    let verified = validator.try_validate(&token);
    assert!(
        matches!(verified, Some(Err(tokengate::Error::InvalidToken(_)))),
        "as a plain bearer token the validator still refuses it: {verified:?}"
    );
    for _ in 0..3 {
        assert_certificate_refused(&get(&mallory, &me, &token).await);
        assert_eq!(get(&alice, &me, &token).await.status, 200);
    }
}

#[tokio::test]
async fn an_unbound_token_passes_where_binding_is_allowed_and_is_refused_where_required() {
    let (pki, issuer) = (pki(), MockIssuer::start().await);
    let allowed = mutual_tls_api(&pki, connection_gate(&issuer, false)).await;
    let required = mutual_tls_api(&pki, connection_gate(&issuer, true)).await;
    let unbound = issuer.token().subject("bob").sign();
    let alice = client(&pki, Some(&pki.alice));
    assert_eq!(
        get(&alice, &format!("{allowed}/me"), &unbound).await.status,
        200
    );
    assert_eq!(
        get(&client(&pki, None), &format!("{allowed}/me"), &unbound)
            .await
            .status,
        200
    );
    // Required: a certificate on the connection does not make an unbound token bound.
    assert_certificate_refused(&get(&alice, &format!("{required}/me"), &unbound).await);
    let bound = issuer
        .token()
        .claim("cnf", certificate_cnf(&pki.alice.0))
        .sign();
    assert_eq!(
        get(&alice, &format!("{required}/me"), &bound).await.status,
        200
    );
}

/// Mutual TLS proves a certificate, not a DPoP key: a token bound to a key (alone or
/// beside the certificate) stays refused as a bearer token (RFC 9449 section 7.2), and
/// an `x5t#S256` that is not a thumbprint binds to nothing.
#[tokio::test]
async fn other_bindings_stay_refused_as_bearer_tokens_over_mutual_tls() {
    let (pki, issuer) = (pki(), MockIssuer::start().await);
    let base = mutual_tls_api(&pki, connection_gate(&issuer, false)).await;
    let key = DpopKey::generate(tokengate::Algorithm::ES256);
    let x5t = tokengate::testing::x5t_s256(&pki.alice.0);
    let alice = client(&pki, Some(&pki.alice));
    for cnf in [
        key.cnf(),
        json!({"jkt": key.jkt(), "x5t#S256": x5t}),
        json!({"x5t#S256": 42}),
        json!({"x5t#S256": format!("{x5t}=")}),
    ] {
        let token = issuer.token().claim("cnf", cnf.clone()).sign();
        get(&alice, &format!("{base}/me"), &token)
            .await
            .assert_invalid_token();
    }
}

/// The header source over plain HTTP on both adapters: the test client plays the proxy
/// on 127.0.0.1.
fn header_gate(issuer: &MockIssuer, proxy: &str, format: CertificateHeader) -> Gate {
    let proxies = TrustedProxies::list([proxy.parse().unwrap()]);
    let source = CertificateSource::header("X-Client-Cert", format, proxies).unwrap();
    Gate::new(builder_for(issuer).build().unwrap()).mtls(Mtls::new(source))
}

/// nginx's `$ssl_client_escaped_cert`: the PEM, percent-encoded.
fn escaped_pem(der: &[u8]) -> String {
    pem("CERTIFICATE", der)
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_trusted_proxys_certificate_header_binds_on_both_adapters() {
    let (pki, issuer) = (pki(), MockIssuer::start().await);
    let token = issuer
        .token()
        .claim("cnf", certificate_cnf(&pki.alice.0))
        .sign();
    let bearer = format!("Bearer {token}");
    for (format, value, other) in [
        (
            CertificateHeader::EscapedPem,
            escaped_pem(&pki.alice.0),
            escaped_pem(&pki.mallory.0),
        ),
        (
            CertificateHeader::Base64Der,
            STANDARD.encode(&pki.alice.0),
            STANDARD.encode(&pki.mallory.0),
        ),
    ] {
        let api = serve_gated(|| header_gate(&issuer, "127.0.0.1", format)).await;
        let with = |cert: &str| {
            vec![
                ("authorization", bearer.clone()),
                ("x-client-cert", cert.to_owned()),
            ]
        };
        let send = |headers: Vec<(&'static str, String)>| {
            let api = &api;
            async move {
                let headers: Vec<(&str, &str)> =
                    headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
                api.get_with("/me", &headers).await
            }
        };
        assert_eq!(send(with(&value)).await.status, 200, "{format:?}");
        assert_certificate_refused(&send(with(&other)).await);
        assert_certificate_refused(&send(vec![("authorization", bearer.clone())]).await);
        // An empty header is no certificate (nginx's value when the client sent none).
        assert_certificate_refused(&send(with("")).await);
    }
}

#[tokio::test]
async fn a_certificate_header_from_an_untrusted_peer_is_ignored() {
    let (pki, issuer) = (pki(), MockIssuer::start().await);
    // The proxy is elsewhere: this test's client, on 127.0.0.1, is not it.
    let api = serve_gated(|| header_gate(&issuer, "192.0.2.1", CertificateHeader::Base64Der)).await;
    let token = issuer
        .token()
        .claim("cnf", certificate_cnf(&pki.alice.0))
        .sign();
    let bearer = format!("Bearer {token}");
    let cert = STANDARD.encode(&pki.alice.0);
    let reply = api
        .get_with(
            "/me",
            &[("authorization", &bearer), ("x-client-cert", &cert)],
        )
        .await;
    assert_certificate_refused(&reply);
    // Nor is a malformed one: it is not read at all.
    let reply = api
        .get_with(
            "/me",
            &[("authorization", &bearer), ("x-client-cert", "%%%")],
        )
        .await;
    assert_certificate_refused(&reply);
}

#[tokio::test]
async fn a_trusted_proxys_malformed_or_doubled_certificate_header_is_invalid_request() {
    let (pki, issuer) = (pki(), MockIssuer::start().await);
    let api =
        serve_gated(|| header_gate(&issuer, "127.0.0.1", CertificateHeader::EscapedPem)).await;
    let token = issuer
        .token()
        .claim("cnf", certificate_cnf(&pki.alice.0))
        .sign();
    let bearer = format!("Bearer {token}");
    let good = escaped_pem(&pki.alice.0);
    let truncated = &good[..good.len() / 2];
    for headers in [
        vec![("x-client-cert", "%zz")],
        vec![("x-client-cert", truncated)],
        vec![("x-client-cert", "-----BEGIN CERTIFICATE-----")],
        vec![
            ("x-client-cert", good.as_str()),
            ("x-client-cert", good.as_str()),
        ],
    ] {
        let mut headers = headers.clone();
        headers.push(("authorization", &bearer));
        let reply = api.get_with("/me", &headers).await;
        assert_eq!(reply.status, 400, "{headers:?}: {reply:?}");
        assert_eq!(reply.error().as_deref(), Some("invalid_request"));
    }
}

/// Envoy's `x-forwarded-client-cert` as it writes it: `Hash` (hex SHA-256 of the DER),
/// `Cert` (URL-encoded PEM, quoted), `Subject` (quoted), `URI`, `DNS`.
fn xfcc_element(der: &[u8], subject: &str) -> String {
    use aws_lc_rs::digest;
    let hash: String = digest::digest(&digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "By=spiffe://cluster.local/ns/api/sa/api;Hash={hash};Cert=\"{}\";Subject=\"{subject}\";\
         URI=spiffe://cluster.local/ns/clients/sa/client;DNS=client.test",
        escaped_pem(der)
    )
}

#[tokio::test]
async fn envoys_xfcc_header_binds_on_both_adapters_by_its_nearest_element() {
    let (pki, issuer) = (pki(), MockIssuer::start().await);
    let api = serve_gated(|| {
        let envoys = TrustedProxies::cidr("127.0.0.0/8").unwrap();
        let source = CertificateSource::header(
            "x-forwarded-client-cert",
            CertificateHeader::EnvoyXfcc,
            envoys,
        )
        .unwrap();
        Gate::new(builder_for(&issuer).build().unwrap()).mtls(Mtls::new(source))
    })
    .await;
    let token = issuer
        .token()
        .claim("cnf", certificate_cnf(&pki.alice.0))
        .sign();
    let bearer = format!("Bearer {token}");
    let send = |xfcc: String| {
        let (api, bearer) = (&api, &bearer);
        async move {
            api.get_with(
                "/me",
                &[
                    ("authorization", bearer),
                    ("x-forwarded-client-cert", &xfcc),
                ],
            )
            .await
        }
    };
    let alice = xfcc_element(&pki.alice.0, "CN=alice.client.test,O=Clients, Inc.");
    let mallory = xfcc_element(&pki.mallory.0, "CN=mallory.client.test");
    assert_eq!(send(alice.clone()).await.status, 200);
    assert_certificate_refused(&send(mallory.clone()).await);
    // APPEND_FORWARD: one element per proxy; the last is the nearest proxy's.
    assert_eq!(send(format!("{mallory},{alice}")).await.status, 200);
    assert_certificate_refused(&send(format!("{alice},{mallory}")).await);
    // Malformed, or a Hash that is not the Cert's: 400 invalid_request.
    let good_cert = escaped_pem(&pki.alice.0);
    for bad in [
        format!("{alice};Cert=\"{good_cert}\""),
        alice.replace("Hash=", "Hash=00"),
        format!("{alice},By=spiffe://other;Hash=abc"),
        // The quote of Subject never closed.
        alice.replace("\";URI=", ";URI="),
        alice[..alice.len() / 2].to_owned(),
        format!("{alice},"),
    ] {
        let reply = send(bad.clone()).await;
        assert_eq!(reply.status, 400, "{bad}: {reply:?}");
        assert_eq!(reply.error().as_deref(), Some("invalid_request"));
    }
}

/// actix-web: the certificate an acceptor recorded in the connection data (with
/// `HttpServer::on_connect`, here a stand-in for rustls that records a fixed one).
#[tokio::test]
async fn actix_reads_the_certificate_its_acceptor_recorded() {
    use actix_web::{App, HttpServer, web};
    use tokengate_actix::{Claims, TokenGate};

    let (pki, issuer) = (pki(), MockIssuer::start().await);
    let gate = connection_gate(&issuer, false);
    let presented = pki.alice.0.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        App::new().service(web::scope("").wrap(TokenGate::new(gate.clone())).route(
            "/me",
            web::get().to(|Claims(c): Claims| async move { web::Json(c) }),
        ))
    })
    .on_connect(move |_, data| {
        data.insert(ClientCertificate(presented.clone()));
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    let http = reqwest::Client::new();
    let bound = |der: &[u8]| issuer.token().claim("cnf", certificate_cnf(der)).sign();
    let me = format!("{base}/me");
    assert_eq!(get(&http, &me, &bound(&pki.alice.0)).await.status, 200);
    assert_certificate_refused(&get(&http, &me, &bound(&pki.mallory.0)).await);
    drop(handle.stop(false));
}

/// DPoP and mutual TLS at once: a token bound to a DPoP key and to a certificate
/// (`cnf` with `jkt` and `x5t#S256`) needs its proof and its certificate, over a real
/// rustls handshake.
#[tokio::test]
async fn a_token_bound_to_a_dpop_key_and_a_certificate_needs_both_over_mutual_tls() {
    use tokengate::binding::dpop::Dpop;
    const PUBLIC: &str = "https://api.example.test";

    let (pki, issuer) = (pki(), MockIssuer::start().await);
    let validator = builder_for(&issuer).build().unwrap();
    let gate = Gate::new(validator)
        .dpop(Dpop::new(PUBLIC).unwrap())
        .mtls(Mtls::new(CertificateSource::connection()));
    let base = mutual_tls_api(&pki, gate).await;
    let key = DpopKey::generate(tokengate::Algorithm::ES256);
    let x5t = tokengate::testing::x5t_s256(&pki.alice.0);
    let token = issuer
        .token()
        .claim("cnf", json!({"jkt": key.jkt(), "x5t#S256": x5t}))
        .sign();
    let send = |client: reqwest::Client, proof: Option<String>| {
        let (base, token) = (&base, &token);
        async move {
            let mut request = client.get(format!("{base}/me"));
            request = match proof {
                Some(proof) => request
                    .header("authorization", format!("DPoP {token}"))
                    .header("dpop", proof),
                None => request.header("authorization", format!("Bearer {token}")),
            };
            reply(request.send().await.unwrap()).await
        }
    };
    let proof = || Some(key.proof("GET", &format!("{PUBLIC}/me"), &token));
    let alice = || client(&pki, Some(&pki.alice));
    assert_eq!(send(alice(), proof()).await.status, 200);
    // The proof with another certificate, or none: the certificate binding fails.
    let mallory = send(client(&pki, Some(&pki.mallory)), proof()).await;
    assert_eq!(mallory.status, 401, "{mallory:?}");
    assert_eq!(mallory.error().as_deref(), Some("invalid_token"));
    let anonymous = send(client(&pki, None), proof()).await;
    assert_eq!(anonymous.status, 401, "{anonymous:?}");
    // The certificate without the proof: a DPoP-bound token is no bearer token.
    let bearer = send(alice(), None).await;
    assert_eq!(bearer.status, 401, "{bearer:?}");
    assert_eq!(bearer.error().as_deref(), Some("invalid_token"));
    // Another key's proof with the right certificate.
    let other = DpopKey::generate(tokengate::Algorithm::ES256);
    let wrong_key = Some(other.proof("GET", &format!("{PUBLIC}/me"), &token));
    let reply = send(alice(), wrong_key).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(reply.error().as_deref(), Some("invalid_dpop_proof"));
}

/// examples/mtls_axum: it calls itself with its client certificate (200) and another
/// (401), and serves what its `try:` line says to a client of our own.
#[tokio::test]
async fn the_mtls_axum_example_accepts_its_bound_certificate_only() {
    use tokio::io::AsyncBufReadExt;

    let mut command = common::examples::example_command("mtls_axum");
    let mut child = command.spawn().expect("spawn mtls_axum");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let base = tokio::time::timeout(common::examples::STARTUP, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("listening on ") {
                return url.to_owned();
            }
            seen.push(line);
        }
        panic!("mtls_axum exited before listening: {seen:?}");
    })
    .await
    .expect("mtls_axum did not start in time");
    let line = |prefix: &str| {
        seen.iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?} in {seen:?}"))
            .clone()
    };
    assert!(
        line("with the bound certificate: ").contains("200"),
        "{seen:?}"
    );
    let other = line("with another certificate: ");
    assert!(
        other.contains("401") && other.contains("invalid_token"),
        "{other}"
    );
    // try: curl --cacert DIR/ca.pem --cert DIR/client.pem --key DIR/client.key
    //      -H 'Authorization: Bearer TOKEN' URL/me
    let try_line = line("try: curl ");
    let word_after = |flag: &str| {
        let start = try_line.find(flag).unwrap() + flag.len();
        try_line[start..]
            .split([' ', '\''])
            .next()
            .unwrap()
            .to_owned()
    };
    let (ca, cert, key) = (
        word_after("--cacert "),
        word_after("--cert "),
        word_after("--key "),
    );
    let token = word_after("Bearer ");
    let read = |path: &str| std::fs::read(path).unwrap();
    let identity = [read(&key), read(&cert)].concat();
    let ours = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&read(&ca)).unwrap())
        .identity(reqwest::Identity::from_pem(&identity).unwrap())
        .build()
        .unwrap();
    let response = ours
        .get(format!("{base}/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Without a client certificate the example's listener refuses the handshake.
    let anonymous = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&read(&ca)).unwrap())
        .build()
        .unwrap();
    let refused = anonymous
        .get(format!("{base}/me"))
        .bearer_auth(&token)
        .send()
        .await;
    assert!(refused.is_err(), "{refused:?}");
    let _ = std::fs::remove_dir_all(std::path::Path::new(&ca).parent().unwrap());
}

/// actix-web's own rustls listener (`listen_rustls_0_23`), the client certificate read
/// from the handshake in `on_connect`, and a real client certificate from reqwest: a
/// certificate-bound bearer token and a token bound to a DPoP key and a certificate.
#[tokio::test]
async fn actix_over_its_rustls_listener_binds_tokens_to_the_handshakes_certificate() {
    use actix_tls::accept::rustls_0_23::TlsStream;
    use actix_web::{App, HttpServer, web};
    use tokengate::binding::dpop::Dpop;
    use tokengate_actix::{Claims, TokenGate};
    const PUBLIC: &str = "https://api.example.test";

    let (pki, issuer) = (pki(), MockIssuer::start().await);
    let validator = builder_for(&issuer).build().unwrap();
    let gate = Gate::new(validator)
        .dpop(Dpop::new(PUBLIC).unwrap())
        .mtls(Mtls::new(CertificateSource::connection()));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("https://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        App::new().service(web::scope("").wrap(TokenGate::new(gate.clone())).route(
            "/me",
            web::get().to(|Claims(c): Claims| async move { web::Json(c) }),
        ))
    })
    // What the handshake saw, for the adapter to read from the connection data.
    .on_connect(|connection, data| {
        let tls = connection.downcast_ref::<TlsStream<actix_web::rt::net::TcpStream>>();
        let leaf = tls.and_then(|tls| tls.get_ref().1.peer_certificates()?.first().cloned());
        if let Some(leaf) = leaf {
            data.insert(ClientCertificate(leaf.to_vec()));
        }
    })
    .workers(1)
    .disable_signals()
    .listen_rustls_0_23(listener, server_config(&pki))
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);

    let me = format!("{base}/me");
    let (alice, mallory, anonymous) = (
        client(&pki, Some(&pki.alice)),
        client(&pki, Some(&pki.mallory)),
        client(&pki, None),
    );
    // A certificate-bound bearer token.
    let bound = issuer
        .token()
        .claim("cnf", certificate_cnf(&pki.alice.0))
        .sign();
    assert_eq!(get(&alice, &me, &bound).await.status, 200);
    // The Bearer challenge's error, beside the DPoP challenge this gate also offers.
    for refused in [
        get(&mallory, &me, &bound).await,
        get(&anonymous, &me, &bound).await,
    ] {
        assert_eq!(refused.status, 401, "{refused:?}");
        let challenge = refused.challenge.as_deref().unwrap_or_default();
        assert!(
            challenge.starts_with(CERTIFICATE_REFUSED) && challenge.contains(", DPoP algs="),
            "{challenge}"
        );
    }
    let unbound = issuer.token().sign();
    assert_eq!(get(&mallory, &me, &unbound).await.status, 200);

    // Bound to a DPoP key and the certificate: the proof and the certificate.
    let key = DpopKey::generate(tokengate::Algorithm::ES256);
    let both = issuer
        .token()
        .claim(
            "cnf",
            json!({"jkt": key.jkt(), "x5t#S256": tokengate::testing::x5t_s256(&pki.alice.0)}),
        )
        .sign();
    let dpop = |client: &reqwest::Client| {
        client
            .get(&me)
            .header("authorization", format!("DPoP {both}"))
            .header("dpop", key.proof("GET", &format!("{PUBLIC}/me"), &both))
            .send()
    };
    assert_eq!(reply(dpop(&alice).await.unwrap()).await.status, 200);
    let refused = reply(dpop(&mallory).await.unwrap()).await;
    assert_eq!(refused.status, 401, "{refused:?}");
    assert_eq!(refused.error().as_deref(), Some("invalid_token"));
    drop(handle.stop(false));
}
