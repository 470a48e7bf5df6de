//! A mock issuer for the HTTP benchmark (`bench/http.sh`): mints N distinct tokens with
//! scope `read admin` and a dozen other claims (~1.4 KB each, like a real issuer's) into
//! a file, prints the issuer URL, and serves discovery and the JWKS until its standard
//! input closes (or 30 minutes pass).
//!
//! `cargo run --release --example bench_issuer -- N TOKENS_FILE [--dpop ORIGIN]`
//!
//! With `--dpop ORIGIN` (the API's public origin, which the DPoP workload's proofs sign
//! in `htu`, e.g. `http://api.bench`) it also mints one token of the same shape bound to
//! a fresh client key (`cnf.jkt`, RFC 9449 section 6; ES256, or `DPOP_ALG`, e.g.
//! `EdDSA`) and prints `dpop <token>`
//! after the issuer line. Each `proofs COUNT FILE PATH` line on its standard input then
//! writes COUNT fresh proofs of that key for `GET ORIGIN PATH` and that token into FILE,
//! one `DPoP: <proof>` per line (`bench_load --lines`), and prints `proofs COUNT FILE`
//! once they are written.
//! A pre-signed pool, not a proof signed per request: a proof is single-use (the replay
//! store refuses a `jti` twice) and must be used within the `iat` window (60 s either
//! way by default), so the benchmark asks for a batch just before each run, sized for
//! it, and sends each proof once, in order; the load generator then spends nothing on
//! signing and keeps up with the server.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use tokengate::testing::{DpopKey, MockIssuer, TokenBuilder};
use tokio::io::AsyncBufReadExt;

/// The most proofs one `proofs` line may ask for: at ~0.5 KB a line, 500 MB of file
/// (and about a minute of signing).
const MAX_PROOFS: usize = 1_000_000;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let path = args.next().unwrap_or_else(|| "tokens.txt".to_owned());
    let dpop_origin = match (args.next().as_deref(), args.next()) {
        (Some("--dpop"), Some(origin)) => Some(origin),
        (None, _) => None,
        _ => {
            eprintln!("usage: bench_issuer N TOKENS_FILE [--dpop ORIGIN]");
            std::process::exit(2);
        }
    };
    let issuer = MockIssuer::start().await;
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("tokens file"));
    for i in 0..count {
        let token = shaped(issuer.token(), i).sign();
        writeln!(file, "{token}").expect("write token");
    }
    file.flush().expect("flush tokens");
    println!("issuer {} audience {}", issuer.issuer(), issuer.audience());
    // The bound token: the pool's shape plus `cnf`, so the DPoP rows differ from the
    // reuse rows by the proof alone.
    let dpop = dpop_origin.map(|origin| {
        let alg = std::env::var("DPOP_ALG").unwrap_or_else(|_| "ES256".to_owned());
        let alg = alg.parse::<tokengate::Algorithm>().unwrap_or_else(|e| {
            eprintln!("bench_issuer: DPOP_ALG: {e}");
            std::process::exit(2);
        });
        let key = DpopKey::generate(alg);
        let token = shaped(issuer.token(), count).claim("cnf", key.cnf()).sign();
        println!("dpop {token}");
        Arc::new((key, origin, token))
    });
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let until_closed = async {
        while let Ok(Some(line)) = stdin.next_line().await {
            let Some(dpop) = &dpop else { continue };
            let mut words = line.split_whitespace();
            let (Some("proofs"), Some(n), Some(file), Some(path)) =
                (words.next(), words.next(), words.next(), words.next())
            else {
                eprintln!("bench_issuer: expected `proofs COUNT FILE PATH`, not {line:?}");
                continue;
            };
            let n = match n.parse::<usize>() {
                Ok(n) if n <= MAX_PROOFS => n,
                _ => {
                    eprintln!("bench_issuer: COUNT must be a number up to {MAX_PROOFS}, not {n}");
                    std::process::exit(2);
                }
            };
            // Signing takes seconds: off the thread that serves the JWKS.
            let (dpop, file, path) = (Arc::clone(dpop), file.to_owned(), path.to_owned());
            let written = tokio::task::spawn_blocking(move || write_proofs(&dpop, n, &file, &path))
                .await
                .expect("proof minting panicked");
            match written {
                Ok(file) => println!("proofs {n} {file}"),
                Err(e) => {
                    eprintln!("bench_issuer: writing proofs: {e}");
                    std::process::exit(1);
                }
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1800), until_closed).await;
}

/// Writes `n` fresh proofs (a new `jti` each, `iat` now) for `GET {origin}{path}` with
/// the bound token into `file`, one `DPoP: <proof>` line each.
fn write_proofs(
    dpop: &(DpopKey, String, String),
    n: usize,
    file: &str,
    path: &str,
) -> std::io::Result<String> {
    let (key, origin, token) = dpop;
    let uri = format!("{origin}{path}");
    let mut out = std::io::BufWriter::new(std::fs::File::create(file)?);
    for _ in 0..n {
        writeln!(out, "DPoP: {}", key.proof("GET", &uri, token))?;
    }
    out.flush()?;
    Ok(file.to_owned())
}

/// Token `i` of the pool: shaped like a real issuer's RFC 9068 access token.
fn shaped(token: TokenBuilder<'_>, i: usize) -> TokenBuilder<'_> {
    // Keycloak, Okta, Entra mint 1.2-1.5 KB RS256 tokens with a dozen claims: what `/me`
    // hands back as JSON.
    token
        .subject(&format!("f3c1e0a2-7d4b-4c5e-9a8f-{i:012}"))
        .scope("openid profile email read admin orders:read orders:write")
        .expires_in(3 * 3600)
        .claim("client_id", "orders-web-frontend")
        .claim("azp", "orders-web-frontend")
        .claim("jti", format!("6e9c7a52-0b8d-4f3e-8a71-{i:012}"))
        .claim("auth_time", 1_764_633_600)
        .claim("sid", format!("2b7f4d1e-93a6-4c08-b5e2-{i:012}"))
        .claim("acr", "1")
        .claim("amr", serde_json::json!(["pwd", "otp"]))
        .claim("email", format!("user{i}@orders.example.com"))
        .claim("email_verified", true)
        .claim("name", "Ada Lovelace")
        .claim("preferred_username", format!("user{i}"))
        .claim("tenant", "orders-eu-west-1")
        .claim(
            "realm_access",
            serde_json::json!({"roles": ["offline_access", "uma_authorization", "orders-admin"]}),
        )
        .claim(
            "resource_access",
            serde_json::json!({"orders-api": {"roles": ["read", "write"]}, "account": {"roles": ["manage-account", "view-profile"]}}),
        )
}
