//! A mock issuer for the HTTP benchmark (`bench/http.sh`): mints N distinct tokens with
//! scope `read admin` into a file, prints the issuer URL, and serves discovery and the
//! JWKS until its standard input closes (or 30 minutes pass).
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
        let token = issuer
            .token()
            .subject(&format!("user-{i}"))
            .scope("read admin")
            .expires_in(3 * 3600)
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
