//! DPoP behind a reverse proxy (issue 14 item 3) over HTTP on both adapters: the scheme
//! and host of the `htu` a proof signs (RFC 9449 section 4.3 step 9) come from RFC 7239
//! `Forwarded` or `X-Forwarded-Proto`/`-Host`, believed only from a named trusted proxy
//! (here the test client on 127.0.0.1); malformed or conflicting values are 400.

mod common;

use common::{Api, Reply, builder_for, serve_gated};
use tokengate::Gate;
use tokengate::binding::dpop::Dpop;
use tokengate::forwarded::{ForwardedOrigin, TrustedProxies};
use tokengate::testing::{DpopKey, MockIssuer};

/// What the servers are configured with: not what the clients use.
const CONFIGURED: &str = "http://backend.internal:8080";
/// The URL the clients use, which only the proxy's headers tell.
const PUBLIC: &str = "https://api.example.test";

async fn api(
    issuer: &MockIssuer,
    origin: impl Fn(TrustedProxies) -> ForwardedOrigin,
    proxy: &str,
) -> Api {
    api_trusting(
        issuer,
        origin,
        TrustedProxies::list([proxy.parse().unwrap()]),
    )
    .await
}

async fn api_trusting(
    issuer: &MockIssuer,
    origin: impl Fn(TrustedProxies) -> ForwardedOrigin,
    proxies: TrustedProxies,
) -> Api {
    let validator = builder_for(issuer).build().unwrap();
    serve_gated(|| {
        let dpop = Dpop::new(CONFIGURED)
            .unwrap()
            .forwarded_origin(origin(proxies.clone()));
        Gate::new(validator.clone()).dpop(dpop)
    })
    .await
}

/// `GET /me` with a fresh proof for `htu` and these extra headers; both adapters (each has
/// its own replay store, so one proof serves both).
async fn get(issuer: &MockIssuer, api: &Api, htu: &str, extra: &[(&str, &str)]) -> Reply {
    let client = DpopKey::generate(tokengate::Algorithm::ES256);
    let token = issuer.token().claim("cnf", client.cnf()).sign();
    let proof = client.proof("GET", htu, &token);
    let authorization = format!("DPoP {token}");
    let mut headers = vec![("authorization", authorization.as_str()), ("dpop", &proof)];
    headers.extend_from_slice(extra);
    api.get_with("/me", &headers).await
}

#[track_caller]
fn assert_htu_refused(reply: &Reply) {
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(
        reply.error().as_deref(),
        Some("invalid_dpop_proof"),
        "{reply:?}"
    );
}

#[track_caller]
fn assert_invalid_request(reply: &Reply) {
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(
        reply.error().as_deref(),
        Some("invalid_request"),
        "{reply:?}"
    );
}

const FORWARDED: (&str, &str) = (
    "forwarded",
    "for=192.0.2.60;proto=https;host=api.example.test",
);

#[tokio::test]
async fn a_proof_for_the_public_url_passes_through_a_trusted_proxys_forwarded_header() {
    let issuer = MockIssuer::start().await;
    let api = api(&issuer, ForwardedOrigin::rfc7239, "127.0.0.1").await;
    let me = format!("{PUBLIC}/me");
    assert_eq!(get(&issuer, &api, &me, &[FORWARDED]).await.status, 200);
    // Quoted, upper case, and over two lines that agree.
    let quoted = ("forwarded", r#"proto="HTTPS";host="API.example.test""#);
    assert_eq!(get(&issuer, &api, &me, &[quoted]).await.status, 200);
    let split = [
        ("forwarded", "proto=https"),
        ("forwarded", "host=api.example.test"),
    ];
    assert_eq!(get(&issuer, &api, &me, &split).await.status, 200);
    // Without the header, the configured URL stands: the public one is then wrong.
    assert_htu_refused(&get(&issuer, &api, &me, &[]).await);
    assert_eq!(
        get(&issuer, &api, &format!("{CONFIGURED}/me"), &[])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn the_same_forwarded_header_from_an_untrusted_peer_is_ignored() {
    let issuer = MockIssuer::start().await;
    // The proxy is elsewhere: this test's client is not it.
    let api = api(&issuer, ForwardedOrigin::rfc7239, "192.0.2.1").await;
    assert_htu_refused(&get(&issuer, &api, &format!("{PUBLIC}/me"), &[FORWARDED]).await);
    // Not even read: a malformed one changes nothing.
    let garbage = ("forwarded", "proto=\"https");
    assert_eq!(
        get(&issuer, &api, &format!("{CONFIGURED}/me"), &[garbage])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_proxy_is_believed_when_its_address_is_in_a_trusted_network() {
    let issuer = MockIssuer::start().await;
    let me = format!("{PUBLIC}/me");
    // This test's client, the "proxy", connects from 127.0.0.1.
    for network in [
        &["127.0.0.0/8"][..],
        &["127.0.0.1/32"],
        &["10.0.0.0/8", "fd00::/8", "127.0.0.0/30"],
    ] {
        let proxies = TrustedProxies::cidrs(network.iter().copied()).unwrap();
        let api = api_trusting(&issuer, ForwardedOrigin::rfc7239, proxies).await;
        assert_eq!(
            get(&issuer, &api, &me, &[FORWARDED]).await.status,
            200,
            "{network:?}"
        );
    }
    // Networks that do not hold 127.0.0.1: the header is not believed.
    for network in [
        &["127.0.0.2/31"][..],
        &["10.0.0.0/8"],
        &["::/0"],
        &["::1/128"],
        &["0.0.0.0/2", "128.0.0.0/1"],
    ] {
        let proxies = TrustedProxies::cidrs(network.iter().copied()).unwrap();
        let api = api_trusting(&issuer, ForwardedOrigin::rfc7239, proxies).await;
        assert_htu_refused(&get(&issuer, &api, &me, &[FORWARDED]).await);
    }
}

#[tokio::test]
async fn x_forwarded_headers_are_read_only_when_chosen() {
    let issuer = MockIssuer::start().await;
    let me = format!("{PUBLIC}/me");
    let x_forwarded = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "api.example.test"),
    ];
    let api_x = api(&issuer, ForwardedOrigin::x_forwarded, "127.0.0.1").await;
    assert_eq!(get(&issuer, &api_x, &me, &x_forwarded).await.status, 200);
    // The family not chosen is ignored: a client could have sent it through the proxy.
    assert_htu_refused(&get(&issuer, &api_x, &me, &[FORWARDED]).await);
    let api_rfc = api(&issuer, ForwardedOrigin::rfc7239, "127.0.0.1").await;
    assert_htu_refused(&get(&issuer, &api_rfc, &me, &x_forwarded).await);
}

#[tokio::test]
async fn a_proof_for_another_host_than_the_proxy_says_is_refused() {
    let issuer = MockIssuer::start().await;
    let api = api(&issuer, ForwardedOrigin::rfc7239, "127.0.0.1").await;
    for htu in [
        "https://evil.example.test/me",
        "http://api.example.test/me",
        "https://api.example.test:8443/me",
    ] {
        assert_htu_refused(&get(&issuer, &api, htu, &[FORWARDED]).await);
    }
}

#[tokio::test]
async fn malformed_or_conflicting_forwarding_headers_are_invalid_request() {
    let issuer = MockIssuer::start().await;
    let me = format!("{PUBLIC}/me");
    let api_rfc = api(&issuer, ForwardedOrigin::rfc7239, "127.0.0.1").await;
    for headers in [
        &[("forwarded", "proto=\"https")][..],
        &[("forwarded", "proto")],
        &[("forwarded", "proto=https;proto=https")],
        &[("forwarded", "proto=ftp")],
        &[("forwarded", "host=\"evil.test/path\"")],
        &[("forwarded", "host=\"user@evil.test\"")],
        &[("forwarded", "host=a.test, host=b.test")],
        &[("forwarded", "proto=http"), ("forwarded", "proto=https")],
    ] {
        assert_invalid_request(&get(&issuer, &api_rfc, &me, headers).await);
    }
    let api_x = api(&issuer, ForwardedOrigin::x_forwarded, "127.0.0.1").await;
    for headers in [
        &[("x-forwarded-proto", "http, https")][..],
        &[
            ("x-forwarded-proto", "https"),
            ("x-forwarded-proto", "http"),
        ],
        &[("x-forwarded-host", "a.test,")],
        &[("x-forwarded-host", "a.test/x")],
    ] {
        assert_invalid_request(&get(&issuer, &api_x, &me, headers).await);
    }
}
