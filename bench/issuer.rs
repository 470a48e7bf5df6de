//! A mock issuer for the HTTP benchmark (`bench/http.sh`): mints N distinct tokens with
//! scope `read admin` and a dozen other claims (~1.4 KB each, like a real issuer's) into
//! a file, prints the issuer URL, and serves discovery and the JWKS until its standard
//! input closes (or 30 minutes pass).
//!
//! `cargo run --release --example bench_issuer -- N TOKENS_FILE`

use std::io::Write;
use std::time::Duration;

use tokengate::testing::MockIssuer;
use tokio::io::AsyncReadExt;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let path = args.next().unwrap_or_else(|| "tokens.txt".to_owned());
    let issuer = MockIssuer::start().await;
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("tokens file"));
    for i in 0..count {
        // Shaped like a real issuer's RFC 9068 access token (Keycloak, Okta, Entra mint
        // 1.2-1.5 KB RS256 tokens with a dozen claims): what `/me` hands back as JSON.
        let token = issuer
            .token()
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
            .sign();
        writeln!(file, "{token}").expect("write token");
    }
    file.flush().expect("flush tokens");
    println!("issuer {} audience {}", issuer.issuer(), issuer.audience());
    let mut stdin = tokio::io::stdin();
    let mut sink = [0u8; 64];
    let until_closed = async { while stdin.read(&mut sink).await.is_ok_and(|n| n > 0) {} };
    let _ = tokio::time::timeout(Duration::from_secs(1800), until_closed).await;
}
