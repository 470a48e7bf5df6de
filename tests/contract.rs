//! The examples' HTTP contract, proven by starting the built example binaries against a
//! mock issuer on 127.0.0.1. One suite, run against every example in [`EXAMPLES`].
//!
//! Run it through `cargo test --workspace` (or plain `cargo test`), which builds the
//! examples; `cargo test --test contract` alone would drive stale example binaries.

mod common;

use std::time::Duration;

use common::examples::{EXAMPLES, STARTUP, example_command, spawn_listening};
use common::{Reply, reply};
use tokengate::testing::{Behavior, MockIssuer};
use tokio::io::{BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// A running example, killed when dropped.
struct Example {
    base: String,
    client: reqwest::Client,
    lines: Lines<BufReader<ChildStdout>>,
    _child: Child,
}

fn command(name: &str, env: &[(&str, String)]) -> Command {
    let mut command = example_command(name);
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

impl Example {
    async fn start(name: &str, env: &[(&str, String)]) -> Example {
        let (base, lines, child) = spawn_listening(name, command(name, env)).await;
        Example {
            base,
            client: reqwest::Client::new(),
            lines,
            _child: child,
        }
    }

    /// An example validating tokens from `issuer`, with a short refresh cooldown.
    async fn against(name: &str, issuer: &MockIssuer) -> Example {
        Example::start(
            name,
            &[
                ("TOKENGATE_ISSUER", issuer.issuer().to_owned()),
                ("TOKENGATE_AUDIENCE", issuer.audience().to_owned()),
                ("TOKENGATE_REFRESH_COOLDOWN_MS", "200".to_owned()),
            ],
        )
        .await
    }

    async fn get(&self, path: &str, authorization: &[String]) -> Reply {
        let mut request = self.client.get(format!("{}{path}", self.base));
        for value in authorization {
            request = request.header("authorization", value);
        }
        reply(request.send().await.unwrap()).await
    }

    async fn get_bearer(&self, path: &str, token: &str) -> Reply {
        self.get(path, &[format!("Bearer {token}")]).await
    }

    /// The next stdout line after `marker`.
    async fn line_after(&mut self, marker: &str) -> String {
        while let Some(line) = self.lines.next_line().await.unwrap() {
            if line.contains(marker) {
                return self.lines.next_line().await.unwrap().unwrap();
            }
        }
        panic!("no line after {marker:?}");
    }
}

#[tokio::test]
async fn health_is_open() {
    let issuer = MockIssuer::start().await;
    for name in EXAMPLES {
        let api = Example::against(name, &issuer).await;
        let reply = api.get("/health", &[]).await;
        assert_eq!(reply.status, 200, "{name}");
    }
}

#[tokio::test]
async fn me_returns_the_verified_claims() {
    let issuer = MockIssuer::start().await;
    for name in EXAMPLES {
        let api = Example::against(name, &issuer).await;
        let token = issuer
            .token()
            .subject("alice")
            .claim("tenant", "acme")
            .sign();
        let reply = api.get_bearer("/me", &token).await;
        assert_eq!(reply.status, 200, "{name}: {reply:?}");
        let claims = reply.json();
        assert_eq!(claims["sub"], "alice", "{name}");
        assert_eq!(claims["tenant"], "acme", "{name}");
        assert_eq!(claims["iss"], issuer.issuer(), "{name}");
    }
}

#[tokio::test]
async fn missing_token_is_401_with_a_bare_challenge() {
    let issuer = MockIssuer::start().await;
    for name in EXAMPLES {
        let api = Example::against(name, &issuer).await;
        let reply = api.get("/me", &[]).await;
        assert_eq!(reply.status, 401, "{name}");
        // DPoP is allowed by default: both schemes are offered (RFC 9449 section 7.1).
        assert_eq!(
            reply.challenge.as_deref(),
            Some(format!(r#"Bearer, DPoP algs="{ALL_ALGS}""#).as_str()),
            "{name}"
        );
        let off = Example::start(name, &[("TOKENGATE_DPOP", "off".to_owned())]).await;
        let reply = off.get("/me", &[]).await;
        assert_eq!(reply.challenge.as_deref(), Some("Bearer"), "{name}");
    }
}

/// Every algorithm a DPoP proof may use by default, as the challenge lists them.
const ALL_ALGS: &str = "RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA";

#[tokio::test]
async fn dpop_bound_tokens_need_their_proof_and_required_mode_refuses_bearer_tokens() {
    use tokengate::testing::DpopKey;
    let issuer = MockIssuer::start().await;
    let client = DpopKey::generate(tokengate::Algorithm::ES256);
    let bound = issuer
        .token()
        .subject("alice")
        .claim("cnf", client.cnf())
        .sign();
    for name in EXAMPLES {
        let api = Example::against(name, &issuer).await;
        // TOKENGATE_PUBLIC_URL defaults to the address the example listens on.
        let proof = client.proof("GET", &format!("{}/me", api.base), &bound);
        let send = |proof: &str| {
            api.client
                .get(format!("{}/me", api.base))
                .header("authorization", format!("DPoP {bound}"))
                .header("dpop", proof)
                .send()
        };
        let ok = reply(send(&proof).await.unwrap()).await;
        assert_eq!(ok.status, 200, "{name}: {ok:?}");
        assert_eq!(ok.json()["sub"], "alice", "{name}");
        let replayed = reply(send(&proof).await.unwrap()).await;
        assert_eq!(replayed.status, 401, "{name}");
        assert_eq!(
            replayed.error().as_deref(),
            Some("invalid_dpop_proof"),
            "{name}"
        );
        // The bound token as a bearer token: refused.
        api.get_bearer("/me", &bound).await.assert_invalid_token();

        let required = Example::start(
            name,
            &[
                ("TOKENGATE_ISSUER", issuer.issuer().to_owned()),
                ("TOKENGATE_AUDIENCE", issuer.audience().to_owned()),
                ("TOKENGATE_DPOP", "required".to_owned()),
            ],
        )
        .await;
        let bearer = issuer.token().sign();
        let refused = required.get_bearer("/me", &bearer).await;
        assert_eq!(refused.status, 401, "{name}");
        assert_eq!(
            refused.challenge.as_deref(),
            Some(format!(r#"DPoP algs="{ALL_ALGS}""#).as_str()),
            "{name}"
        );
    }
}

#[tokio::test]
async fn invalid_tokens_are_401_invalid_token() {
    let issuer = MockIssuer::start().await;
    for name in EXAMPLES {
        let api = Example::against(name, &issuer).await;
        for token in [
            issuer.token().expires_in(-3600).sign(),
            issuer.token().audience("another-api").sign(),
            issuer.token().claim("iss", "https://evil.example").sign(),
            format!("{}x", issuer.token().sign()),
            "garbage".to_owned(),
        ] {
            let reply = api.get_bearer("/me", &token).await;
            reply.assert_invalid_token();
        }
    }
}

#[tokio::test]
async fn malformed_requests_are_400_invalid_request() {
    let issuer = MockIssuer::start().await;
    for name in EXAMPLES {
        let api = Example::against(name, &issuer).await;
        let value = format!("Bearer {}", issuer.token().sign());
        let two = api.get("/me", &[value.clone(), value]).await;
        assert_eq!(two.status, 400, "{name}");
        assert_eq!(two.error().as_deref(), Some("invalid_request"), "{name}");
        let empty = api.get("/me", &["Bearer ".to_owned()]).await;
        assert_eq!(empty.status, 400, "{name}");
    }
}

#[tokio::test]
async fn admin_needs_the_admin_scope() {
    let issuer = MockIssuer::start().await;
    for name in EXAMPLES {
        let api = Example::against(name, &issuer).await;
        let user = api
            .get_bearer("/admin", &issuer.token().scope("read").sign())
            .await;
        assert_eq!(user.status, 403, "{name}");
        assert_eq!(
            user.error().as_deref(),
            Some("insufficient_scope"),
            "{name}"
        );
        assert!(
            user.challenge
                .as_deref()
                .unwrap()
                .contains(r#"scope="admin""#),
            "{name}"
        );
        let admin = api
            .get_bearer("/admin", &issuer.token().scope("read admin").sign())
            .await;
        assert_eq!(admin.status, 200, "{name}");
        assert_eq!(api.get("/admin", &[]).await.status, 401, "{name}");
    }
}

#[tokio::test]
async fn unavailable_keys_are_503_until_the_issuer_answers() {
    for name in EXAMPLES {
        let issuer = MockIssuer::start().await;
        issuer.set_behavior(Behavior::Fail(503));
        let api = Example::against(name, &issuer).await;
        let token = issuer.token().sign();
        let down = api.get_bearer("/me", &token).await;
        assert_eq!(down.status, 503, "{name}: {down:?}");
        assert!(down.retry_after.is_some(), "{name}");

        issuer.set_behavior(Behavior::Normal);
        // The cooldown is 200 ms; poll for up to 30 s (generous on a loaded machine).
        let mut status = 0;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            status = api.get_bearer("/me", &token).await.status;
            if status == 200 {
                break;
            }
        }
        assert_eq!(status, 200, "{name}: did not recover without a restart");
    }
}

/// Issue 16 item 1: `/ready` (outside the gate, like `/health`) is 503 with the cause as
/// text while no key set is loaded, and 200 `ready` once one is, without a restart.
#[tokio::test]
async fn ready_is_503_with_the_cause_until_the_keys_load() {
    for name in EXAMPLES {
        let issuer = MockIssuer::start().await;
        issuer.set_behavior(Behavior::Fail(503));
        let api = Example::against(name, &issuer).await;
        assert_eq!(api.get("/health", &[]).await.status, 200, "{name}");
        let down = api.get("/ready", &[]).await;
        assert_eq!(down.status, 503, "{name}: {down:?}");
        let metadata = format!("{}/.well-known/openid-configuration", issuer.issuer());
        assert!(
            down.body.contains(issuer.issuer())
                && down.body.contains(&format!("HTTP 503 from {metadata}")),
            "{name}: {}",
            down.body
        );
        assert_eq!(
            down.challenge, None,
            "{name}: /ready is not behind the gate"
        );

        issuer.set_behavior(Behavior::Normal);
        // The cooldown is 200 ms; poll for up to 30 s (generous on a loaded machine).
        let mut up = api.get("/ready", &[]).await;
        for _ in 0..100 {
            if up.status == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            up = api.get("/ready", &[]).await;
        }
        assert_eq!((up.status, up.body.as_str()), (200, "ready"), "{name}");
    }
}

/// `TOKENGATE_REQUIRE_KEYS=1`: no keys, no start; the exit status is 1 and stderr names
/// the cause with its values (here the RFC 8414 section 3.3 mismatch of a trailing
/// slash). With keys, it starts ready.
#[tokio::test]
async fn require_keys_refuses_to_start_without_keys_and_names_the_cause() {
    for name in EXAMPLES {
        let issuer = MockIssuer::start().await;
        let configured = format!("{}/", issuer.issuer());
        let env = [
            ("TOKENGATE_ISSUER", configured.clone()),
            ("TOKENGATE_AUDIENCE", issuer.audience().to_owned()),
            ("TOKENGATE_REQUIRE_KEYS", "1".to_owned()),
        ];
        let output = tokio::time::timeout(STARTUP, command(name, &env).output())
            .await
            .expect("example hung without keys")
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{name}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("issuer mismatch")
                && stderr.contains(&format!("{configured:?}"))
                && stderr.contains(&format!("{:?}", issuer.issuer())),
            "{name}: {stderr}"
        );
        assert!(
            !String::from_utf8_lossy(&output.stdout).contains("listening on"),
            "{name}"
        );

        let api = Example::start(
            name,
            &[
                ("TOKENGATE_ISSUER", issuer.issuer().to_owned()),
                ("TOKENGATE_AUDIENCE", issuer.audience().to_owned()),
                ("TOKENGATE_REQUIRE_KEYS", "1".to_owned()),
            ],
        )
        .await;
        let ready = api.get("/ready", &[]).await;
        assert_eq!(
            (ready.status, ready.body.as_str()),
            (200, "ready"),
            "{name}"
        );
    }
}

#[tokio::test]
async fn explicit_jwks_url_skips_discovery() {
    for name in EXAMPLES {
        let issuer = MockIssuer::start().await;
        let api = Example::start(
            name,
            &[
                ("TOKENGATE_ISSUER", issuer.issuer().to_owned()),
                ("TOKENGATE_JWKS_URL", issuer.jwks_url()),
                ("TOKENGATE_AUDIENCE", issuer.audience().to_owned()),
            ],
        )
        .await;
        assert_eq!(
            api.get_bearer("/me", &issuer.token().sign()).await.status,
            200,
            "{name}"
        );
        assert_eq!(issuer.discovery_hits(), 0, "{name}");
    }
}

#[tokio::test]
async fn unknown_kids_cost_at_most_one_fetch_per_cooldown() {
    for name in EXAMPLES {
        let issuer = MockIssuer::start().await;
        let api = Example::start(
            name,
            &[
                ("TOKENGATE_ISSUER", issuer.issuer().to_owned()),
                ("TOKENGATE_AUDIENCE", issuer.audience().to_owned()),
                ("TOKENGATE_REFRESH_COOLDOWN_MS", "600000".to_owned()),
            ],
        )
        .await;
        assert_eq!(
            api.get_bearer("/me", &issuer.token().sign()).await.status,
            200
        );
        for i in 0..200 {
            let token = issuer.token().header("kid", format!("made-up-{i}")).sign();
            api.get_bearer("/me", &token).await.assert_invalid_token();
        }
        assert!(
            issuer.jwks_hits() <= 2,
            "{name}: {} fetches",
            issuer.jwks_hits()
        );
    }
}

#[tokio::test]
async fn unsafe_configuration_exits_with_a_message_naming_the_setting() {
    for name in EXAMPLES {
        let issuer_without_audience = [("TOKENGATE_ISSUER", "https://id.example".to_owned())];
        let remote_http = [
            ("TOKENGATE_ISSUER", "http://id.example".to_owned()),
            ("TOKENGATE_AUDIENCE", "api".to_owned()),
        ];
        let dpop_mode = [("TOKENGATE_DPOP", "sometimes".to_owned())];
        let public_url = [("TOKENGATE_PUBLIC_URL", "not a url".to_owned())];
        let redis_url = [("TOKENGATE_DPOP_REDIS_URL", "not a url".to_owned())];
        let require_keys = [("TOKENGATE_REQUIRE_KEYS", "yes".to_owned())];
        for (env, word) in [
            (&require_keys[..], "TOKENGATE_REQUIRE_KEYS"),
            (&issuer_without_audience[..], "audience"),
            (&remote_http[..], "issuer"),
            (&dpop_mode[..], "TOKENGATE_DPOP"),
            (&public_url[..], "TOKENGATE_PUBLIC_URL"),
            (&redis_url[..], "TOKENGATE_DPOP_REDIS_URL"),
        ] {
            let output = tokio::time::timeout(STARTUP, command(name, env).output())
                .await
                .expect("example hung on a bad configuration")
                .unwrap();
            assert_eq!(output.status.code(), Some(2), "{name}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.contains(word), "{name}: {stderr}");
        }
    }
}

#[tokio::test]
async fn embedded_dev_issuer_prints_working_tokens() {
    for name in EXAMPLES {
        let mut api = Example::start(name, &[]).await;
        let user = api.line_after("token for /me").await;
        let admin = api.line_after("scope \"admin\"").await;
        let me = api.get_bearer("/me", &user).await;
        assert_eq!(me.status, 200, "{name}: {me:?}");
        assert_eq!(api.get_bearer("/admin", &user).await.status, 403, "{name}");
        assert_eq!(api.get_bearer("/admin", &admin).await.status, 200, "{name}");
    }
}

#[tokio::test]
async fn min_cache_ttl_lets_short_max_ages_refresh_in_the_background() {
    for name in EXAMPLES {
        let issuer = MockIssuer::start().await;
        issuer.set_jwks_headers(&[("cache-control", "max-age=0")]);
        let api = Example::start(
            name,
            &[
                ("TOKENGATE_ISSUER", issuer.issuer().to_owned()),
                ("TOKENGATE_AUDIENCE", issuer.audience().to_owned()),
                ("TOKENGATE_REFRESH_COOLDOWN_MS", "50".to_owned()),
                ("TOKENGATE_MIN_CACHE_TTL_MS", "100".to_owned()),
            ],
        )
        .await;
        let token = issuer.token().sign();
        let mut refreshed = false;
        for _ in 0..100 {
            assert_eq!(api.get_bearer("/me", &token).await.status, 200, "{name}");
            if issuer.jwks_hits() >= 2 {
                refreshed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(refreshed, "{name}: the key set was never refreshed");
    }
}

#[tokio::test]
async fn several_issuers_in_one_variable_are_each_trusted() {
    for name in EXAMPLES {
        let audience = "shared-api";
        let a = MockIssuer::start_with(audience, tokengate::Algorithm::RS256).await;
        let b = MockIssuer::start_with(audience, tokengate::Algorithm::ES256).await;
        let api = Example::start(
            name,
            &[
                (
                    "TOKENGATE_ISSUER",
                    format!("{}, {}", a.issuer(), b.issuer()),
                ),
                ("TOKENGATE_AUDIENCE", audience.to_owned()),
            ],
        )
        .await;
        assert_eq!(
            api.get_bearer("/me", &a.token().sign()).await.status,
            200,
            "{name}"
        );
        assert_eq!(
            api.get_bearer("/me", &b.token().sign()).await.status,
            200,
            "{name}"
        );
        let forged = b.token().claim("iss", a.issuer()).sign();
        api.get_bearer("/me", &forged).await.assert_invalid_token();
        let stranger = a.token().claim("iss", "https://evil.example").sign();
        api.get_bearer("/me", &stranger)
            .await
            .assert_invalid_token();
    }
}

#[tokio::test]
async fn opaque_tokens_are_introspected_and_jwts_still_verified() {
    use tokengate::testing::DEFAULT_INTROSPECTION_CLIENT as CLIENT;
    for name in EXAMPLES {
        let issuer = MockIssuer::start().await;
        let api = Example::start(
            name,
            &[
                ("TOKENGATE_ISSUER", issuer.issuer().to_owned()),
                ("TOKENGATE_AUDIENCE", issuer.audience().to_owned()),
                ("TOKENGATE_CLIENT_ID", CLIENT.0.to_owned()),
                ("TOKENGATE_CLIENT_SECRET", CLIENT.1.to_owned()),
                ("TOKENGATE_INTROSPECTION_URL", issuer.introspection_url()),
                ("TOKENGATE_INTROSPECTION_CACHE_MS", "100".to_owned()),
            ],
        )
        .await;
        let opaque = issuer.token().subject("dora").scope("admin").opaque();
        let me = api.get_bearer("/me", &opaque).await;
        assert_eq!(
            (me.status, me.json()["sub"].as_str()),
            (200, Some("dora")),
            "{name}"
        );
        assert_eq!(
            api.get_bearer("/admin", &opaque).await.status,
            200,
            "{name}"
        );
        assert_eq!(
            api.get_bearer("/me", &issuer.token().sign()).await.status,
            200,
            "{name}"
        );
        issuer.revoke(&opaque);
        tokio::time::sleep(Duration::from_millis(300)).await;
        api.get_bearer("/me", &opaque).await.assert_invalid_token();
    }
}
