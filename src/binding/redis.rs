//! A [`ReplayStore`] in Redis, shared by every replica of an API: a DPoP proof replayed
//! against another instance is refused too (RFC 9449 section 11.1). Feature `redis`.
//!
//! Each proof's replay key is written with one atomic `SET key 1 NX PX ttl`: the first
//! writer gets `OK`, every later one (on any replica) gets nothing. Keys are the hex of
//! the 32-byte replay key under a prefix, so a proof costs Redis about 100 bytes for the
//! proof window.
//!
//! When Redis cannot answer within the timeout, [`record`](ReplayStore::record) says
//! [`StoreUnavailable`]: the request gets 503, never accepted unchecked. The connection
//! is re-established by itself, so the API recovers when Redis does.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tokengate::binding::redis::RedisReplayStore;
//!
//! let store = RedisReplayStore::connect("redis://127.0.0.1:6379/")?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::fmt::Write as _;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::replay::{RecordFuture, ReplayStore, Seen, StoreUnavailable};

/// The prefix of every key tokengate writes, so they are easy to find and to keep apart
/// from the application's own.
pub const DEFAULT_KEY_PREFIX: &str = "tokengate:dpop:";

/// How long a request waits for Redis before it is answered 503: a proof check must not
/// hold a request longer than a key fetch would.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_secs(1);

/// A replay store in Redis. Cheap to clone: clones share one multiplexed connection.
#[derive(Clone)]
pub struct RedisReplayStore {
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
}

impl fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: it is not kept, so it cannot be printed.
        f.debug_struct("RedisReplayStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisReplayStore {
    /// A store at `url` (`redis://host:port/db`, `rediss://` for TLS where the client
    /// supports it). Connects lazily: an API starts while Redis is down, and its DPoP
    /// requests get 503 until Redis answers. Must be called inside a tokio runtime.
    pub fn connect(url: &str) -> Result<Self, StoreUnavailable> {
        RedisReplayStore::connect_with(url, DEFAULT_KEY_PREFIX, DEFAULT_REDIS_TIMEOUT)
    }

    /// [`connect`](Self::connect) with a key prefix and a timeout of your own.
    pub fn connect_with(
        url: &str,
        prefix: &str,
        timeout: Duration,
    ) -> Result<Self, StoreUnavailable> {
        let client = redis::Client::open(url)
            .map_err(|e| StoreUnavailable(format!("invalid Redis URL: {}", e.category())))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            // Reconnecting is retried on the next request; do not hold this one.
            .set_number_of_retries(1)
            .set_max_delay(timeout);
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| StoreUnavailable(format!("Redis: {}", e.category())))?;
        Ok(RedisReplayStore {
            connection,
            prefix: prefix.to_owned(),
            timeout,
        })
    }

    fn redis_key(&self, key: &[u8; 32]) -> String {
        let mut name = String::with_capacity(self.prefix.len() + 64);
        name.push_str(&self.prefix);
        for byte in key {
            let _ = write!(name, "{byte:02x}");
        }
        name
    }
}

impl ReplayStore for RedisReplayStore {
    fn record(&self, key: [u8; 32], ttl: Duration) -> RecordFuture<'_> {
        let name = self.redis_key(&key);
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut connection = self.connection.clone();
        let timeout = self.timeout;
        Box::pin(async move {
            let mut command = redis::cmd("SET");
            command.arg(&name).arg(1).arg("NX").arg("PX").arg(millis);
            let set = command.query_async::<Option<String>>(&mut connection);
            match tokio::time::timeout(timeout, set).await {
                Ok(Ok(Some(_))) => Ok(Seen::First),
                Ok(Ok(None)) => Ok(Seen::Before),
                Ok(Err(error)) => {
                    tracing::debug!(%error, "replay store: Redis refused");
                    Err(StoreUnavailable(format!("Redis: {}", error.category())))
                }
                Err(_) => Err(StoreUnavailable("Redis timed out".into())),
            }
        })
    }
}
