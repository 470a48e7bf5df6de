//! The Redis replay store against a real `redis-server` (Debian's package; `.ci/run`
//! installs it when missing). Each test starts its own server on a free 127.0.0.1 port,
//! with no persistence, and stops it when done.

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokengate::binding::redis::RedisReplayStore;
use tokengate::binding::replay::{ReplayStore, Seen};

/// A `redis-server` on 127.0.0.1 for the length of a test.
struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    fn start() -> RedisServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = RedisServer { port, child: None };
        server.restart();
        server
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts the server (again) on its port and waits until it accepts connections.
    fn restart(&mut self) {
        let binary = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(&binary)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {binary} ({e}): install it (apt-get install redis-server)")
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

const TTL: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_proof_is_first_once_across_replicas_sharing_redis() {
    let redis = RedisServer::start();
    // Two API instances, each with its own connection to the one Redis.
    let one = RedisReplayStore::connect(&redis.url()).unwrap();
    let two = RedisReplayStore::connect(&redis.url()).unwrap();
    assert_eq!(one.record([1; 32], TTL).await, Ok(Seen::First));
    assert_eq!(two.record([1; 32], TTL).await, Ok(Seen::Before));
    assert_eq!(one.record([1; 32], TTL).await, Ok(Seen::Before));
    assert_eq!(two.record([2; 32], TTL).await, Ok(Seen::First));
}

#[tokio::test]
async fn concurrent_replays_on_two_replicas_admit_exactly_one() {
    let redis = RedisServer::start();
    let stores: Vec<_> = (0..2)
        .map(|_| RedisReplayStore::connect(&redis.url()).unwrap())
        .collect();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = stores[i % 2].clone();
        tasks.push(tokio::spawn(
            async move { store.record([7; 32], TTL).await },
        ));
    }
    let mut firsts = 0;
    for task in tasks {
        if task.await.unwrap() == Ok(Seen::First) {
            firsts += 1;
        }
    }
    assert_eq!(firsts, 1);
}

#[tokio::test]
async fn an_entry_expires_with_its_ttl() {
    let redis = RedisServer::start();
    let store = RedisReplayStore::connect(&redis.url()).unwrap();
    let short = Duration::from_millis(100);
    assert_eq!(store.record([3; 32], short).await, Ok(Seen::First));
    assert_eq!(store.record([3; 32], short).await, Ok(Seen::Before));
    // Redis expires keys on its own clock: poll, bounded.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if store.record([3; 32], short).await == Ok(Seen::First) {
            break;
        }
        assert!(Instant::now() < deadline, "the key never expired");
    }
}

#[tokio::test]
async fn redis_down_is_unavailable_never_first_and_recovery_needs_no_restart() {
    let mut redis = RedisServer::start();
    let store = RedisReplayStore::connect(&redis.url()).unwrap();
    assert_eq!(store.record([4; 32], TTL).await, Ok(Seen::First));

    redis.stop();
    let started = Instant::now();
    let answer = store.record([5; 32], TTL).await;
    assert!(answer.is_err(), "Redis down must not say First: {answer:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a request waits at most about the timeout for Redis"
    );

    // The same store, without any call to reconnect, works again once Redis is back.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match store.record([5; 32], TTL).await {
            Ok(seen) => {
                assert_eq!(seen, Seen::First);
                break;
            }
            Err(_) => assert!(Instant::now() < deadline, "never recovered"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_store_starts_while_redis_is_down() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = RedisReplayStore::connect(&format!("redis://127.0.0.1:{port}/")).unwrap();
    assert!(store.record([6; 32], TTL).await.is_err());
    assert!(RedisReplayStore::connect("not a url").is_err());
}

/// The API on both adapters, each a replica with its own connection to one Redis.
async fn replicas(issuer: &tokengate::testing::MockIssuer, redis: &RedisServer) -> common::Api {
    let validator = common::builder_for(issuer).build().unwrap();
    let url = redis.url();
    common::serve_gated(|| {
        let store = RedisReplayStore::connect(&url).unwrap();
        let dpop = tokengate::binding::dpop::Dpop::new("https://api.example.test")
            .unwrap()
            .replay_store(store);
        tokengate::Gate::new(validator.clone()).dpop(dpop)
    })
    .await
}

async fn send_dpop(api: &common::Api, base: &str, token: &str, proof: &str) -> common::Reply {
    let authorization = format!("DPoP {token}");
    api.send_to(
        base,
        "/me",
        &[("authorization", &authorization), ("dpop", proof)],
    )
    .await
}

#[tokio::test]
async fn a_proof_replayed_against_another_replica_is_refused_over_http() {
    use tokengate::testing::{DpopKey, MockIssuer};
    let issuer = MockIssuer::start().await;
    let redis = RedisServer::start();
    let api = replicas(&issuer, &redis).await;
    let client = DpopKey::generate(tokengate::Algorithm::ES256);
    let token = issuer.token().claim("cnf", client.cnf()).sign();
    let proof = client.proof("GET", "https://api.example.test/me", &token);
    // axum's replica accepts it; actix's, sharing the Redis, refuses the replay.
    let first = send_dpop(&api, &api.base, &token, &proof).await;
    assert_eq!(first.status, 200, "{first:?}");
    let replay = send_dpop(&api, &api.actix_base, &token, &proof).await;
    assert_eq!(replay.status, 401, "{replay:?}");
    assert_eq!(replay.error().as_deref(), Some("invalid_dpop_proof"));
}

#[tokio::test]
async fn redis_down_is_503_on_both_adapters_and_the_api_recovers() {
    use tokengate::testing::{DpopKey, MockIssuer};
    let issuer = MockIssuer::start().await;
    let mut redis = RedisServer::start();
    let api = replicas(&issuer, &redis).await;
    let client = DpopKey::generate(tokengate::Algorithm::ES256);
    let token = issuer.token().claim("cnf", client.cnf()).sign();
    let me = "https://api.example.test/me";
    for base in [&api.base, &api.actix_base] {
        let ok = send_dpop(&api, base, &token, &client.proof("GET", me, &token)).await;
        assert_eq!(ok.status, 200, "{base}: {ok:?}");
    }
    redis.stop();
    for base in [&api.base, &api.actix_base] {
        let down = send_dpop(&api, base, &token, &client.proof("GET", me, &token)).await;
        assert_eq!(
            down.status, 503,
            "{base}: never accepted unchecked: {down:?}"
        );
        assert!(down.retry_after.is_some(), "{base}: {down:?}");
    }
    redis.restart();
    for base in [&api.base, &api.actix_base] {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let reply = send_dpop(&api, base, &token, &client.proof("GET", me, &token)).await;
            if reply.status == 200 {
                break;
            }
            assert_eq!(reply.status, 503, "{base}: {reply:?}");
            assert!(Instant::now() < deadline, "{base} never recovered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// One example process: its base URL, kept running until dropped (with its stdout open:
/// it prints after it listens).
struct ExampleApi {
    base: String,
    _stdout: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    _child: tokio::process::Child,
}

/// Starts the built example `name` against `issuer`, its DPoP proofs' `htu` on
/// `https://api.example.test`, remembering `jti`s in `redis_url` when given.
async fn example(
    name: &str,
    issuer: &tokengate::testing::MockIssuer,
    redis_url: Option<&str>,
) -> ExampleApi {
    use common::examples::{example_command, spawn_listening};
    let mut command = example_command(name);
    command
        .env("TOKENGATE_ISSUER", issuer.issuer())
        .env("TOKENGATE_AUDIENCE", issuer.audience())
        .env("TOKENGATE_PUBLIC_URL", "https://api.example.test");
    if let Some(url) = redis_url {
        command.env("TOKENGATE_DPOP_REDIS_URL", url);
    }
    let (base, stdout, child) = spawn_listening(name, command).await;
    ExampleApi {
        base,
        _stdout: stdout,
        _child: child,
    }
}

#[tokio::test]
async fn the_examples_share_proofs_jtis_through_tokengate_dpop_redis_url() {
    use tokengate::testing::{DpopKey, MockIssuer};
    let issuer = MockIssuer::start().await;
    let redis = RedisServer::start();
    let client = DpopKey::generate(tokengate::Algorithm::ES256);
    let token = issuer.token().claim("cnf", client.cnf()).sign();
    let http = reqwest::Client::new();
    let send = |base: &str, proof: &str| {
        http.get(format!("{base}/me"))
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof.to_owned())
            .send()
    };
    for name in common::examples::EXAMPLES {
        // Two replicas of the example sharing one Redis: a proof accepted by one is a
        // replay on the other.
        let one = example(name, &issuer, Some(&redis.url())).await;
        let two = example(name, &issuer, Some(&redis.url())).await;
        let proof = client.proof("GET", "https://api.example.test/me", &token);
        let first = common::reply(send(&one.base, &proof).await.unwrap()).await;
        assert_eq!(first.status, 200, "{name}: {first:?}");
        let replay = common::reply(send(&two.base, &proof).await.unwrap()).await;
        assert_eq!(replay.status, 401, "{name}: {replay:?}");
        assert_eq!(
            replay.error().as_deref(),
            Some("invalid_dpop_proof"),
            "{name}"
        );

        // Without the setting each replica remembers only its own proofs: the same
        // replay passes, so it was the shared Redis that refused it above.
        let alone = example(name, &issuer, None).await;
        let elsewhere = example(name, &issuer, None).await;
        let proof = client.proof("GET", "https://api.example.test/me", &token);
        let first = common::reply(send(&alone.base, &proof).await.unwrap()).await;
        assert_eq!(first.status, 200, "{name}: {first:?}");
        let replay = common::reply(send(&elsewhere.base, &proof).await.unwrap()).await;
        assert_eq!(replay.status, 200, "{name}: {replay:?}");
    }
}
