//! Counters, gauges and histograms through the [`metrics`](https://docs.rs/metrics) facade
//! (feature `metrics`). Install any recorder (Prometheus, StatsD, ...) and these appear.
//! Names follow the Prometheus conventions: `_total` on counters, base units (`_seconds`),
//! and a timestamp rather than an age for the key set, so the age is computed where it
//! is read (`time() - tokengate_key_set_last_success_timestamp_seconds`; Prometheus
//! "instrumentation" practices: export timestamps, not time since).
//!
//! | name | type | labels | meaning |
//! |---|---|---|---|
//! | `tokengate_validations_total` | counter | `issuer`, `outcome` (`accepted`, `rejected`), `reason` (rejected only) | every token the validator judged; `reason` is the RFC 6750 error code, or for `invalid_token` the precise reason ([`InvalidToken::as_str`](crate::InvalidToken::as_str): `expired`, `bad_signature`, `unknown_key`, ...), `issuer_unavailable` for a 503. `issuer` is the issuer that judged the token; a token that [`any_of`](crate::Validator::any_of) could route to none has no `issuer` label |
//! | `tokengate_rejections_total` | counter | `reason` | every refusal a gate answered (what the client saw), by the same labels plus `missing_credentials`, `invalid_request`, `insufficient_scope` (a scope requirement), `invalid_dpop_proof`, `use_dpop_nonce`, `replay_store_unavailable` |
//! | `tokengate_token_cache_hits_total` | counter | `issuer` | validations answered from the verified-token cache |
//! | `tokengate_introspections_total` | counter | `issuer`, `result` (`active`, `inactive`, `refused`, `error`) | RFC 7662 requests sent to the introspection endpoint: an active token, an inactive (or unacceptable) one, the endpoint refusing the token with a 4xx, or a failure (network, 5xx, our credentials) |
//! | `tokengate_introspection_duration_seconds` | histogram | `issuer`, `result` | how long each introspection request took |
//! | `tokengate_introspection_cache_hits_total` | counter | `issuer` | validations answered from a remembered introspection answer |
//! | `tokengate_key_fetches_total` | counter | `issuer`, `result` (`ok`, `error`) | key-set fetch attempts (discovery and JWKS together count as one) |
//! | `tokengate_key_fetch_duration_seconds` | histogram | `issuer`, `result` | how long each attempt took |
//! | `tokengate_key_set_keys` | gauge | `issuer` | usable keys in the current set, after each attempt |
//! | `tokengate_key_set_failing` | gauge | `issuer` | `1` while the last attempt failed (the last good keys still verify), else `0` |
//! | `tokengate_key_set_last_success_timestamp_seconds` | gauge | `issuer` | Unix time at which the current set was last fetched or confirmed (`304`) |
//!
//! The gauges are set at each fetch attempt: a pinned key set
//! ([`KeySource::static_set`](crate::KeySource::static_set)) is never fetched and has none.
//! Every name is in [`METRIC_NAMES`].
//!
//! The labels of an accepted validation and of a cache hit are built once per issuer, so
//! the common request records without allocating; a rejection's labels are built when it
//! is recorded. Without the feature every recording function is empty and inlined away.

use std::time::Duration;

use crate::claims::Claims;
use crate::error::Error;

/// Every metric name in the table above, for dashboards and alert rules to be checked
/// against (the repository's `ops/grafana-dashboard.json` is, by a test).
pub const METRIC_NAMES: &[&str] = &[
    VALIDATIONS,
    REJECTIONS,
    TOKEN_CACHE_HITS,
    INTROSPECTIONS,
    INTROSPECTION_DURATION,
    INTROSPECTION_CACHE_HITS,
    KEY_FETCHES,
    KEY_FETCH_DURATION,
    KEY_SET_KEYS,
    KEY_SET_FAILING,
    KEY_SET_LAST_SUCCESS,
];

const VALIDATIONS: &str = "tokengate_validations_total";
const REJECTIONS: &str = "tokengate_rejections_total";
const TOKEN_CACHE_HITS: &str = "tokengate_token_cache_hits_total";
const INTROSPECTIONS: &str = "tokengate_introspections_total";
const INTROSPECTION_DURATION: &str = "tokengate_introspection_duration_seconds";
const INTROSPECTION_CACHE_HITS: &str = "tokengate_introspection_cache_hits_total";
const KEY_FETCHES: &str = "tokengate_key_fetches_total";
const KEY_FETCH_DURATION: &str = "tokengate_key_fetch_duration_seconds";
const KEY_SET_KEYS: &str = "tokengate_key_set_keys";
const KEY_SET_FAILING: &str = "tokengate_key_set_failing";
const KEY_SET_LAST_SUCCESS: &str = "tokengate_key_set_last_success_timestamp_seconds";

/// The metric label for a rejection: stable, lower-case, no internal detail. For
/// `invalid_token` it is the precise reason ([`InvalidToken::as_str`](crate::InvalidToken::as_str)).
pub(crate) fn reason(error: &Error) -> &'static str {
    match error {
        Error::InvalidToken(reason) => reason.as_str(),
        other => other.error_code().unwrap_or(match other {
            Error::MissingCredentials => "missing_credentials",
            Error::ReplayStoreUnavailable { .. } => "replay_store_unavailable",
            _ => "issuer_unavailable",
        }),
    }
}

/// One issuer's labels, built once: what its hot-path recordings use.
#[derive(Debug)]
pub(crate) struct IssuerLabels {
    #[cfg(feature = "metrics")]
    issuer: metrics::SharedString,
    #[cfg(feature = "metrics")]
    accepted: metrics::Key,
    #[cfg(feature = "metrics")]
    token_cache_hit: metrics::Key,
    #[cfg(feature = "metrics")]
    introspection_cache_hit: metrics::Key,
}

#[cfg(feature = "metrics")]
static METADATA: metrics::Metadata<'static> =
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

impl IssuerLabels {
    /// The labels of the issuer `issuer`.
    pub(crate) fn new(issuer: &str) -> Self {
        #[cfg(feature = "metrics")]
        {
            use metrics::{Key, Label, SharedString};
            let issuer = SharedString::from_shared(std::sync::Arc::<str>::from(issuer));
            let key = |name: &'static str, extra: Option<Label>| {
                let mut labels = vec![Label::new("issuer", issuer.clone())];
                labels.extend(extra);
                Key::from_parts(name, labels)
            };
            IssuerLabels {
                accepted: key(
                    VALIDATIONS,
                    Some(Label::from_static_parts("outcome", "accepted")),
                ),
                token_cache_hit: key(TOKEN_CACHE_HITS, None),
                introspection_cache_hit: key(INTROSPECTION_CACHE_HITS, None),
                issuer,
            }
        }
        #[cfg(not(feature = "metrics"))]
        {
            let _ = issuer;
            IssuerLabels {}
        }
    }
}

#[cfg(feature = "metrics")]
fn increment(key: &metrics::Key) {
    metrics::with_recorder(|recorder| recorder.register_counter(key, &METADATA).increment(1));
}

/// Records one validation's outcome, by the issuer that judged it (`None`: routed to
/// none).
#[inline]
pub(crate) fn validation(issuer: Option<&IssuerLabels>, result: &Result<Claims, Error>) {
    #[cfg(feature = "metrics")]
    match (result, issuer) {
        (Ok(_), Some(issuer)) => increment(&issuer.accepted),
        (Ok(_), None) => metrics::counter!(VALIDATIONS, "outcome" => "accepted").increment(1),
        (Err(error), Some(issuer)) => metrics::counter!(
            VALIDATIONS,
            "issuer" => issuer.issuer.clone(),
            "outcome" => "rejected",
            "reason" => reason(error)
        )
        .increment(1),
        (Err(error), None) => metrics::counter!(
            VALIDATIONS,
            "outcome" => "rejected",
            "reason" => reason(error)
        )
        .increment(1),
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (issuer, result);
}

/// Records a refusal a gate answers with (or a scope requirement).
#[inline]
pub(crate) fn rejection(error: &Error) {
    #[cfg(feature = "metrics")]
    metrics::counter!(REJECTIONS, "reason" => reason(error)).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = error;
}

/// Records a verified-token cache hit.
#[inline]
pub(crate) fn token_cache_hit(issuer: &IssuerLabels) {
    #[cfg(feature = "metrics")]
    increment(&issuer.token_cache_hit);
    #[cfg(not(feature = "metrics"))]
    let _ = issuer;
}

/// Records a remembered introspection answer used.
#[inline]
pub(crate) fn introspection_cache_hit(issuer: &IssuerLabels) {
    #[cfg(feature = "metrics")]
    increment(&issuer.introspection_cache_hit);
    #[cfg(not(feature = "metrics"))]
    let _ = issuer;
}

/// Records an introspection request: `result` is `active`, `inactive`, `refused` or
/// `error`.
#[inline]
pub(crate) fn introspection(issuer: &str, result: &'static str, took: Duration) {
    #[cfg(feature = "metrics")]
    {
        let issuer = issuer.to_owned();
        metrics::counter!(INTROSPECTIONS, "issuer" => issuer.clone(), "result" => result)
            .increment(1);
        metrics::histogram!(INTROSPECTION_DURATION, "issuer" => issuer, "result" => result)
            .record(took.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (issuer, result, took);
}

/// Records a key-set fetch attempt and the state of the set after it: `keys` usable keys
/// held, the attempt `ok` or not (a failed attempt keeps the last good keys).
#[inline]
pub(crate) fn key_fetch(issuer: &str, ok: bool, took: Duration, keys: usize) {
    #[cfg(feature = "metrics")]
    {
        let issuer = issuer.to_owned();
        let result = if ok { "ok" } else { "error" };
        metrics::counter!(KEY_FETCHES, "issuer" => issuer.clone(), "result" => result).increment(1);
        metrics::histogram!(KEY_FETCH_DURATION, "issuer" => issuer.clone(), "result" => result)
            .record(took.as_secs_f64());
        metrics::gauge!(KEY_SET_KEYS, "issuer" => issuer.clone()).set(keys as f64);
        metrics::gauge!(KEY_SET_FAILING, "issuer" => issuer.clone()).set(if ok {
            0.0
        } else {
            1.0
        });
        if ok {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            metrics::gauge!(KEY_SET_LAST_SUCCESS, "issuer" => issuer).set(now.as_secs_f64());
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (issuer, ok, took, keys);
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
    fn validations_and_cache_hits_are_counted_by_issuer_outcome_and_reason() {
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
        let iss = "issuer=https://id.example";
        for (series, count) in [
            (
                format!("tokengate_validations_total {iss},outcome=accepted"),
                2,
            ),
            (
                format!("tokengate_validations_total {iss},outcome=rejected,reason=expired"),
                1,
            ),
            (
                format!("tokengate_validations_total {iss},outcome=rejected,reason=malformed"),
                1,
            ),
            (format!("tokengate_token_cache_hits_total {iss}"), 1),
        ] {
            assert_eq!(seen.get(&series), Some(&count), "{series}: {seen:?}");
        }
        assert_eq!(seen.len(), 4, "no other series (no empty reason): {seen:?}");
    }
}
