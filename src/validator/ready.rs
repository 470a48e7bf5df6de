//! Readiness: [`Validator::ready`](super::Validator::ready) loads every issuer's keys now
//! and, when it cannot, says why for each issuer ([`NotReady`]).

use std::fmt;
use std::sync::Arc;

use super::issuer::Issuer;
use crate::format::TokenFormat;
use crate::jwks::{KeyCache, KeyFetchError};

/// Why a [`Validator`](crate::Validator) cannot verify tokens yet: each issuer whose keys
/// are not loaded, with the precise cause. Its `Display` is one line, fit for a
/// readiness endpoint's body or a startup error.
///
/// ```
/// # async fn run(validator: tokengate::Validator) {
/// if let Err(not_ready) = validator.ready().await {
///     for (issuer, cause) in not_ready.causes() {
///         eprintln!("{issuer}: {} ({cause})", cause.as_str());
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NotReady {
    /// Issuer and cause, in the validator's order of issuers; never empty.
    causes: Vec<(String, KeyFetchError)>,
}

impl NotReady {
    /// Each issuer that is not ready, and why, in the order of
    /// [`Validator::issuers`](crate::Validator::issuers).
    pub fn causes(&self) -> impl Iterator<Item = (&str, &KeyFetchError)> {
        self.causes
            .iter()
            .map(|(issuer, cause)| (issuer.as_str(), cause))
    }
}

impl fmt::Display for NotReady {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (issuer, cause)) in self.causes.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "keys of issuer {issuer:?} not loaded: {cause}")?;
        }
        Ok(())
    }
}

impl std::error::Error for NotReady {}

/// What [`Validator::ready`](super::Validator::ready) checks of one issuer: its key
/// cache, unless it only introspects (its keys are then never used).
pub(super) fn key_cache_to_check(issuer: &Issuer) -> Option<Arc<KeyCache>> {
    let introspects_all =
        issuer.introspection.is_some() && issuer.token_format == TokenFormat::Opaque;
    (!introspects_all).then(|| Arc::clone(&issuer.keys))
}

/// Checks each issuer's keys concurrently (each on a task of its own when there is a
/// runtime, so that one slow issuer does not hold the others up) and collects the causes.
pub(super) async fn check_all(
    issuers: Vec<(String, Option<Arc<KeyCache>>)>,
) -> Result<(), NotReady> {
    let runtime = tokio::runtime::Handle::try_current().ok();
    let mut checks = Vec::with_capacity(issuers.len());
    for (issuer, keys) in issuers {
        let Some(keys) = keys else { continue };
        let started = runtime.as_ref().map(|rt| {
            let keys = Arc::clone(&keys);
            rt.spawn(async move { keys.ready().await })
        });
        checks.push((issuer, keys, started));
    }
    let mut causes = Vec::new();
    for (issuer, keys, started) in checks {
        let outcome = match started {
            Some(task) => match task.await {
                Ok(outcome) => outcome,
                // The task panicked or its runtime is going away: check here instead.
                Err(_) => keys.ready().await,
            },
            None => keys.ready().await,
        };
        if let Err(cause) = outcome {
            causes.push((issuer, cause));
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(NotReady { causes })
    }
}
