//! Certificate-bound access tokens (RFC 8705) with axum over rustls mutual TLS.
//!
//! ```sh
//! cargo run --example mtls_axum
//! ```
//!
//! No setup: at start it makes a test CA, a server certificate for 127.0.0.1 and a client
//! certificate, starts an embedded development issuer, and serves `GET /me` on
//! `https://127.0.0.1:PORT` (`BIND_ADDR` to choose) to clients presenting a certificate of
//! that CA. The gate requires certificate-bound tokens: the token's `cnf.x5t#S256` must be
//! the thumbprint of the certificate on the connection. It then calls itself once with
//! the client certificate and once with another, prints both answers, writes the client's
//! files to a temporary directory and prints a `curl` command to try it by hand.
//!
//! The TLS side is the part to copy: a `Listener` that completes the handshake, a
//! `Connected` type that keeps the peer's certificate, and a `map_request` that puts it
//! into each request as a [`ClientCertificate`], where `tokengate-tower` reads it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, connect_info::Connected};
use axum::serve::{IncomingStream, Listener};
use axum::{Json, Router, routing::get};
use base64::Engine;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokengate::Gate;
use tokengate::binding::mtls::{CertificateSource, ClientCertificate, Mtls};
use tokengate::testing::{MockIssuer, certificate_cnf};
use tokengate_tower::{Claims, TokenGateLayer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, server::TlsStream};

/// Accepts TCP connections and completes their TLS handshakes (one at a time: enough
/// for an example; a production server hands each handshake to its own task).
struct MutualTls {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl Listener for MutualTls {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            match self.acceptor.accept(tcp).await {
                Ok(tls) => return (tls, addr),
                Err(error) => eprintln!("TLS handshake with {addr} failed: {error}"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// The connection's client certificate, as axum's `ConnectInfo`.
#[derive(Clone)]
struct PeerCertificate(Option<ClientCertificate>);

impl Connected<IncomingStream<'_, MutualTls>> for PeerCertificate {
    fn connect_info(stream: IncomingStream<'_, MutualTls>) -> Self {
        let (_, connection) = stream.io().get_ref();
        let leaf = connection
            .peer_certificates()
            .and_then(|chain| chain.first());
        PeerCertificate(leaf.map(|der| ClientCertificate(der.to_vec())))
    }
}

/// Moves the connection's certificate into the request, for the gate.
async fn with_certificate(
    ConnectInfo(PeerCertificate(certificate)): ConnectInfo<PeerCertificate>,
    mut request: Request,
) -> Request {
    if let Some(certificate) = certificate {
        request.extensions_mut().insert(certificate);
    }
    request
}

/// A certificate (DER) and its PKCS#8 key (DER).
type Identity = (Vec<u8>, Vec<u8>);

fn leaf(name: &str, ca: &CertifiedIssuer<'_, KeyPair>) -> Identity {
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec![name.to_owned()])
        .expect("params")
        .signed_by(&key, ca)
        .expect("certificate");
    (cert.der().to_vec(), key.serialize_der())
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

#[tokio::main]
async fn main() {
    // A test PKI: the CA clients must be issued by, our server leaf, two clients.
    let mut ca_params = CertificateParams::new(Vec::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("CA");
    let (server, client, other) = (
        leaf("127.0.0.1", &ca),
        leaf("client.example.test", &ca),
        leaf("other.example.test", &ca),
    );

    // TLS that requires a client certificate of our CA.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca.der().to_vec()))
        .expect("CA");
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .expect("client verifier");
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(server.0.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server.1.clone())),
        )
        .expect("server certificate");

    // tokengate: a validator for the development issuer, a gate requiring bound tokens.
    let issuer = MockIssuer::start().await;
    let validator = tokengate::Validator::builder()
        .issuer(issuer.issuer())
        .audience(issuer.audience())
        .build()
        .expect("valid configuration");
    let gate = Gate::new(validator).mtls(Mtls::new(CertificateSource::connection()).required());
    let app = Router::new()
        .route("/me", get(|Claims(c): Claims| async move { Json(c) }))
        .layer(TokenGateLayer::new(gate))
        .layer(axum::middleware::map_request(with_certificate));

    let bind = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:0".to_owned());
    let tcp = TcpListener::bind(&bind).await.unwrap_or_else(|e| {
        eprintln!("cannot listen on {bind}: {e}");
        std::process::exit(1);
    });
    let base = format!("https://{}", tcp.local_addr().expect("bound address"));
    let listener = MutualTls {
        tcp,
        acceptor: TlsAcceptor::from(Arc::new(tls)),
    };
    let server = tokio::spawn(async move {
        let app = app.into_make_service_with_connect_info::<PeerCertificate>();
        axum::serve(listener, app).await
    });

    // A token bound to the client's certificate (RFC 8705 section 3.1).
    let token = issuer
        .token()
        .subject("client")
        .claim("cnf", certificate_cnf(&client.0))
        .sign();
    for (name, identity) in [
        ("the bound certificate", &client),
        ("another certificate", &other),
    ] {
        let pem = format!(
            "{}{}",
            pem("PRIVATE KEY", &identity.1),
            pem("CERTIFICATE", &identity.0)
        );
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_der(ca.der()).expect("CA"))
            .identity(reqwest::Identity::from_pem(pem.as_bytes()).expect("identity"))
            .build()
            .expect("client");
        let response = http
            .get(format!("{base}/me"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let challenge = response.headers().get("www-authenticate").cloned();
        println!("with {name}: {status} {challenge:?}");
    }

    let dir = std::env::temp_dir().join(format!("tokengate-mtls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    std::fs::write(dir.join("ca.pem"), pem("CERTIFICATE", ca.der())).expect("write");
    std::fs::write(dir.join("client.pem"), pem("CERTIFICATE", &client.0)).expect("write");
    std::fs::write(dir.join("client.key"), pem("PRIVATE KEY", &client.1)).expect("write");
    let d = dir.display();
    println!(
        "try: curl --cacert {d}/ca.pem --cert {d}/client.pem --key {d}/client.key \
         -H 'Authorization: Bearer {token}' {base}/me"
    );
    println!("listening on {base}");
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("server error: {e}"),
        Err(e) => eprintln!("server task failed: {e}"),
    }
}
