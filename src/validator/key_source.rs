//! [`KeySource`]: where a validator finds the keys that verify its tokens, one type with
//! a named constructor per source, as tower-http's `AllowOrigin::any/exact/list`.

use std::sync::Arc;

use reqwest::Url;

use super::ConfigError;
use crate::http::scheme_allowed;
use crate::jwks::{self, KeySet};

/// Where a validator finds the keys that verify its tokens (RFC 7517 JWK Sets), set with
/// [`ValidatorBuilder::key_source`](crate::ValidatorBuilder::key_source).
///
/// One source per validator: setting another replaces the first, so "a URL and a pinned
/// set at once" cannot be configured. Every source is checked by
/// [`build`](crate::ValidatorBuilder::build), naming the setting in its [`ConfigError`].
///
/// ```
/// use tokengate::{KeySource, Validator};
///
/// let validator = Validator::builder()
///     .issuer("https://login.example.com")
///     .audience("https://api.example.com")
///     .key_source(KeySource::jwks_url("https://login.example.com/keys"))
///     .build()
///     .unwrap();
/// # let _ = validator;
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct KeySource(Source);

#[derive(Debug, Clone, Default)]
enum Source {
    #[default]
    Discovery,
    DiscoveryAt(String),
    JwksUrl(String),
    Static(serde_json::Value),
}

impl KeySource {
    /// The issuer's own metadata names its keys (the default): OpenID Connect Discovery
    /// 1.0 section 4 (`/.well-known/openid-configuration`), then RFC 8414 section 3
    /// (`/.well-known/oauth-authorization-server`), and the `jwks_uri` found there. The
    /// issuer must then use https (or be a loopback development issuer).
    pub fn discovery() -> Self {
        KeySource(Source::Discovery)
    }

    /// Discovery as [`discovery`](Self::discovery) does it, from the metadata of this
    /// URL instead of the issuer's: `{url}/.well-known/openid-configuration`, then RFC
    /// 8414's location. The document's `issuer` must still be identical to the configured
    /// issuer (RFC 8414 section 3.3), so a document cannot vouch for an issuer it does
    /// not name. For issuers whose keys are published under another identifier: above
    /// all Microsoft Entra's multi-tenant `https://login.microsoftonline.com/common/v2.0`,
    /// whose document names the issuer template
    /// `https://login.microsoftonline.com/{tenantid}/v2.0`
    /// ([`issuer_template`](crate::ValidatorBuilder::issuer_template)). The URL must use
    /// https (or be a loopback development issuer).
    pub fn discovery_at(url: impl Into<String>) -> Self {
        KeySource(Source::DiscoveryAt(url.into()))
    }

    /// Fetch the key set from this URL, skipping discovery. Fetched, cached and
    /// refreshed like a discovered one; it must use https (or loopback http).
    pub fn jwks_url(url: impl Into<String>) -> Self {
        KeySource(Source::JwksUrl(url.into()))
    }

    /// Verify with this JWK Set (RFC 7517 section 5) instead of fetching one: keys pinned
    /// in configuration, never fetched or refreshed. For issuers without a JWKS endpoint,
    /// air-gapped deployments, tests and fuzzing. The same key hygiene applies: `build()`
    /// refuses a set without one usable signature key ([`ConfigError::InvalidJwks`]).
    pub fn static_set(jwk_set: serde_json::Value) -> Self {
        KeySource(Source::Static(jwk_set))
    }

    /// Whether keys are found through the issuer's metadata (so the issuer is contacted).
    pub(super) fn is_discovery(&self) -> bool {
        matches!(self.0, Source::Discovery)
    }

    /// The key cache's source, checked: a URL that parses and obeys the scheme policy, or
    /// a pinned set with at least one usable key (at most `max_keys` of them kept).
    pub(super) fn resolve(
        self,
        issuer: &str,
        max_keys: usize,
        allow_http: bool,
    ) -> Result<jwks::KeySource, ConfigError> {
        Ok(match self.0 {
            Source::Discovery => jwks::KeySource::Discovery {
                issuer: issuer.to_owned(),
                at: issuer.to_owned(),
            },
            Source::DiscoveryAt(at) => {
                let url = Url::parse(&at).map_err(|_| ConfigError::InvalidUrl("discovery_at"))?;
                if !scheme_allowed(&url, allow_http) {
                    return Err(ConfigError::InsecureUrl("discovery_at"));
                }
                jwks::KeySource::Discovery {
                    issuer: issuer.to_owned(),
                    at,
                }
            }
            Source::JwksUrl(url) => {
                let url = Url::parse(&url).map_err(|_| ConfigError::InvalidUrl("jwks_url"))?;
                if !scheme_allowed(&url, allow_http) {
                    return Err(ConfigError::InsecureUrl("jwks_url"));
                }
                jwks::KeySource::JwksUrl(url)
            }
            Source::Static(doc) => {
                // `max_keys(0)` is refused later, naming that setting.
                let set = KeySet::from_json(&doc, max_keys.max(1))
                    .map_err(|_| ConfigError::InvalidJwks)?;
                if set.len() == 0 {
                    return Err(ConfigError::InvalidJwks);
                }
                jwks::KeySource::Static(Arc::new(set))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://id.example";

    #[test]
    fn discovery_is_the_default_and_contacts_the_issuer() {
        assert!(KeySource::default().is_discovery());
        assert!(KeySource::discovery().is_discovery());
        assert!(!KeySource::jwks_url("https://id.example/jwks").is_discovery());
        let source = KeySource::discovery().resolve(ISSUER, 10, false).unwrap();
        assert!(
            matches!(source, jwks::KeySource::Discovery { issuer, at } if issuer == ISSUER && at == ISSUER)
        );
    }

    #[test]
    fn discovery_elsewhere_keeps_the_issuer_to_compare_and_obeys_the_scheme_policy() {
        let resolve =
            |url: &str, allow_http| KeySource::discovery_at(url).resolve(ISSUER, 10, allow_http);
        let source = resolve("https://keys.example/common", false).unwrap();
        assert!(
            matches!(source, jwks::KeySource::Discovery { issuer, at } if issuer == ISSUER && at == "https://keys.example/common")
        );
        assert_eq!(
            resolve("http://keys.example", false).unwrap_err(),
            ConfigError::InsecureUrl("discovery_at")
        );
        assert_eq!(
            resolve("not a url", false).unwrap_err(),
            ConfigError::InvalidUrl("discovery_at")
        );
        assert!(!KeySource::discovery_at("https://keys.example").is_discovery());
    }

    #[test]
    fn a_jwks_url_must_parse_and_use_https_off_loopback() {
        let resolve =
            |url: &str, allow_http| KeySource::jwks_url(url).resolve(ISSUER, 10, allow_http);
        assert_eq!(
            resolve("not a url", false).unwrap_err(),
            ConfigError::InvalidUrl("jwks_url")
        );
        assert_eq!(
            resolve("http://id.example/jwks", false).unwrap_err(),
            ConfigError::InsecureUrl("jwks_url")
        );
        assert!(resolve("http://id.example/jwks", true).is_ok());
        assert!(resolve("http://127.0.0.1:9/jwks", false).is_ok());
        let source = resolve("https://id.example/jwks", false).unwrap();
        assert!(
            matches!(source, jwks::KeySource::JwksUrl(url) if url.as_str() == "https://id.example/jwks")
        );
    }

    #[test]
    fn a_static_set_needs_a_usable_signature_key() {
        let resolve = |doc| KeySource::static_set(doc).resolve(ISSUER, 10, false);
        for doc in [
            serde_json::json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}),
            serde_json::json!({"keys": []}),
            serde_json::json!([]),
            serde_json::json!("keys"),
        ] {
            assert_eq!(
                resolve(doc.clone()).unwrap_err(),
                ConfigError::InvalidJwks,
                "{doc}"
            );
        }
    }

    #[test]
    fn the_last_source_set_is_the_one() {
        let unusable = serde_json::json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]});
        let base = || crate::Validator::builder().issuer(ISSUER).audience("api");
        // The unusable pinned set is replaced, so nothing refuses it...
        let replaced = base()
            .key_source(KeySource::static_set(unusable.clone()))
            .key_source(KeySource::jwks_url("https://id.example/jwks"));
        assert!(replaced.build().is_ok());
        // ...while set last, it is the source, and refused.
        let last = base().jwks_url("https://id.example/jwks").jwks(unusable);
        assert_eq!(last.build().unwrap_err(), ConfigError::InvalidJwks);
    }
}
