//! Counters and histograms through the [`metrics`](https://docs.rs/metrics) facade
//! (feature `metrics`). Install any recorder (Prometheus, StatsD, ...) and these appear:
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `tokengate_validations_total` | counter | `outcome` (`accepted`, `rejected`), `reason` | every validation; `reason` is the RFC 6750 error code, or for `invalid_token` the precise reason (`expired`, `bad_signature`, `unknown_key`, ...) |
//! | `tokengate_token_cache_hits_total` | counter | | validations answered from the verified-token cache |
//! | `tokengate_key_fetches_total` | counter | `result` (`ok`, `error`) | key-set fetch attempts (discovery and JWKS together count as one) |
//! | `tokengate_key_fetch_duration_seconds` | histogram | `result` | how long each attempt took |
//!
//! Without the feature every function here is empty and inlined away.

use std::time::Duration;

use crate::claims::Claims;
use crate::error::Error;

/// The metric label for a rejection: stable, lower-case, no internal detail. For
/// `invalid_token` it is the precise reason ([`InvalidToken::as_str`](crate::InvalidToken::as_str)).
fn reason(error: &Error) -> &'static str {
    match error {
        Error::InvalidToken(reason) => reason.as_str(),
        other => other.error_code().unwrap_or(match other {
            Error::MissingCredentials => "missing_credentials",
            Error::ReplayStoreUnavailable { .. } => "replay_store_unavailable",
            _ => "issuer_unavailable",
        }),
    }
}

/// Records one validation's outcome.
#[inline]
pub(crate) fn validation(result: &Result<Claims, Error>) {
    #[cfg(feature = "metrics")]
    match result {
        Ok(_) => metrics::counter!("tokengate_validations_total", "outcome" => "accepted", "reason" => "")
            .increment(1),
        Err(error) => metrics::counter!(
            "tokengate_validations_total",
            "outcome" => "rejected",
            "reason" => reason(error)
        )
        .increment(1),
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (result, reason);
}

/// Records a verified-token cache hit.
#[inline]
pub(crate) fn token_cache_hit() {
    #[cfg(feature = "metrics")]
    metrics::counter!("tokengate_token_cache_hits_total").increment(1);
}

/// Records a key-set fetch attempt.
#[inline]
pub(crate) fn key_fetch(ok: bool, took: Duration) {
    #[cfg(feature = "metrics")]
    {
        let result = if ok { "ok" } else { "error" };
        metrics::counter!("tokengate_key_fetches_total", "result" => result).increment(1);
        metrics::histogram!("tokengate_key_fetch_duration_seconds", "result" => result)
            .record(took.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (ok, took);
}

#[cfg(all(test, feature = "metrics", feature = "testing"))]
mod tests {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use crate::testing::TestKey;
    use crate::{Algorithm, Validator};

    fn mint(key: &TestKey, exp: i64) -> String {
        key.mint(&serde_json::json!({"iss": "https://id.example", "aud": "api", "exp": exp}))
    }

    #[test]
    fn validations_and_cache_hits_are_counted_by_outcome_and_reason() {
        let key = TestKey::generate("k", Algorithm::ES256);
        let validator = Validator::builder()
            .issuer("https://id.example")
            .audience("api")
            .jwks(serde_json::json!({"keys": [key.public_jwk()]}))
            .build()
            .unwrap();
        let now = crate::clock::unix_now();
        let (good, expired) = (mint(&key, now + 600), mint(&key, now - 3600));
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            for token in [&good, &good, &expired, &"junk".to_owned()] {
                let _ = validator.try_validate(token);
            }
        });
        let mut seen = std::collections::HashMap::new();
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            let (_, key) = key.into_parts();
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            if let DebugValue::Counter(n) = value {
                seen.insert(format!("{} {}", key.name(), labels.join(",")), n);
            }
        }
        assert_eq!(
            seen.get("tokengate_validations_total outcome=accepted,reason="),
            Some(&2),
            "{seen:?}"
        );
        assert_eq!(
            seen.get("tokengate_validations_total outcome=rejected,reason=expired"),
            Some(&1),
            "{seen:?}"
        );
        assert_eq!(
            seen.get("tokengate_validations_total outcome=rejected,reason=malformed"),
            Some(&1),
            "{seen:?}"
        );
        assert_eq!(
            seen.get("tokengate_token_cache_hits_total "),
            Some(&1),
            "{seen:?}"
        );
    }
}
