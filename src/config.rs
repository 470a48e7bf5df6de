//! [`Config`]: a validator's (and a gate's DPoP) settings as data, read from the
//! environment ([`Config::from_env`], [`ValidatorBuilder::from_env`]) or deserialized with
//! serde from whatever file format the application uses (TOML, JSON, YAML: tokengate
//! depends on none of them), then built into the same [`Validator`] the builder makes.
//!
//! | field | variable (prefix `TOKENGATE`) | builder method |
//! |---|---|---|
//! | `issuer` (one, or a list) | `TOKENGATE_ISSUER` (comma-separated) | [`issuer`](ValidatorBuilder::issuer); several: [`Validator::any_of`] |
//! | `audience` (one, or a list) | `TOKENGATE_AUDIENCE` (comma-separated) | [`audience`](ValidatorBuilder::audience) |
//! | `jwks_url` | `TOKENGATE_JWKS_URL` | [`jwks_url`](ValidatorBuilder::jwks_url) |
//! | `leeway_seconds` | `TOKENGATE_LEEWAY_SECONDS` | [`leeway`](ValidatorBuilder::leeway) |
//! | `refresh_cooldown_ms` | `TOKENGATE_REFRESH_COOLDOWN_MS` | [`refresh_cooldown`](ValidatorBuilder::refresh_cooldown) |
//! | `min_cache_ttl_ms` | `TOKENGATE_MIN_CACHE_TTL_MS` | [`min_cache_ttl`](ValidatorBuilder::min_cache_ttl) |
//! | `token_cache_size` | `TOKENGATE_TOKEN_CACHE_SIZE` | [`token_cache_size`](ValidatorBuilder::token_cache_size) |
//! | `client_id`, `client_secret` | `TOKENGATE_CLIENT_ID`, `TOKENGATE_CLIENT_SECRET` | [`introspection`](ValidatorBuilder::introspection), with [`TokenFormat::JwtOrOpaque`] |
//! | `introspection_url` | `TOKENGATE_INTROSPECTION_URL` | [`introspection_endpoint`](ValidatorBuilder::introspection_endpoint) |
//! | `introspection_cache_ms` | `TOKENGATE_INTROSPECTION_CACHE_MS` | [`introspection_cache_ttl`](ValidatorBuilder::introspection_cache_ttl) |
//! | `dpop` (`off`, `allowed`, `required`) | `TOKENGATE_DPOP` | [`Gate::dpop`](crate::Gate::dpop), through [`Config::dpop`] |
//! | `public_url` | `TOKENGATE_PUBLIC_URL` | the origin of [`Dpop::new`] |
//! | `dpop_nonce` (`true`/`false`) | `TOKENGATE_DPOP_NONCE` (`1`/`0`) | [`Dpop::use_nonce`] |
//! | `dpop_redis_url` | `TOKENGATE_DPOP_REDIS_URL` | [`Dpop::replay_store`] with a `RedisReplayStore` (feature `redis`) |
//! | `require_keys` (`true`/`false`) | `TOKENGATE_REQUIRE_KEYS` (`1`/`0`) | for the application: refuse to start unless [`Validator::ready`] |
//!
//! An unset or empty variable leaves the builder's default. A value that does not parse,
//! and a setting [`build`](Config::build) refuses, is a [`ConfigError`] naming the
//! variable (or, deserialized, the field): [`ConfigError::InvalidValue`],
//! [`ConfigError::Setting`]. A file naming a field that does not exist is refused by
//! serde (`deny_unknown_fields`): a typo must not leave a default in place.
//!
//! ```
//! use tokengate::config::Config;
//!
//! let vars = [
//!     ("TOKENGATE_ISSUER", "https://login.example.com"),
//!     ("TOKENGATE_AUDIENCE", "https://api.example.com"),
//!     ("TOKENGATE_TOKEN_CACHE_SIZE", "50000"),
//! ];
//! let config = Config::from_vars("TOKENGATE", vars).unwrap();
//! let validator = config.build().unwrap();
//! assert_eq!(validator.issuer(), "https://login.example.com");
//!
//! // The same from JSON (or TOML, with the `toml` crate's `from_str`).
//! let config: Config = serde_json::from_str(
//!     r#"{"issuer": "https://login.example.com", "audience": ["https://api.example.com"]}"#,
//! )
//! .unwrap();
//! assert!(config.build().is_ok());
//!
//! let bad = Config::from_vars("TOKENGATE", [("TOKENGATE_TOKEN_CACHE_SIZE", "lots")]);
//! assert!(bad.unwrap_err().to_string().contains("TOKENGATE_TOKEN_CACHE_SIZE"));
//! ```

use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

use crate::binding::dpop::Dpop;
use crate::format::TokenFormat;
use crate::validator::{ConfigError, Validator, ValidatorBuilder};

/// The settings of a validator (and of a gate's DPoP), as data. See the [module
/// docs](self) for each field's variable and builder method.
///
/// Fields are public: start from [`Config::default`], a file, or the environment, and
/// change what you need before [`build`](Config::build).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The issuers trusted: one, or several (then each token is routed by its `iss`).
    #[serde(deserialize_with = "one_or_many")]
    pub issuer: Vec<String>,
    /// The audiences this API answers to (a token must name one).
    #[serde(deserialize_with = "one_or_many")]
    pub audience: Vec<String>,
    /// An explicit JWKS URL, skipping discovery (a single issuer only).
    pub jwks_url: Option<String>,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub leeway_seconds: Option<u64>,
    /// Shortest time between key-set fetches, in milliseconds.
    pub refresh_cooldown_ms: Option<u64>,
    /// Lower clamp on a key set's lifetime, in milliseconds.
    pub min_cache_ttl_ms: Option<u64>,
    /// Verified tokens remembered (`0`: off).
    pub token_cache_size: Option<u64>,
    /// Introspect opaque tokens as this client (JWTs are still verified locally).
    pub client_id: Option<String>,
    /// The introspection client's secret (never shown by `Debug`).
    #[serde(deserialize_with = "secret")]
    pub client_secret: Option<SecretString>,
    /// The introspection endpoint (else from the issuer's metadata).
    pub introspection_url: Option<String>,
    /// How long an introspection answer is remembered, in milliseconds.
    pub introspection_cache_ms: Option<u64>,
    /// DPoP (RFC 9449) at the gate: off unless set.
    pub dpop: Option<DpopMode>,
    /// The origin clients sign in DPoP proofs' `htu` (behind a proxy: the public one).
    pub public_url: Option<String>,
    /// DPoP proofs must carry a nonce the API hands out (RFC 9449 section 9).
    #[serde(deserialize_with = "boolean")]
    pub dpop_nonce: bool,
    /// Remember DPoP proofs' `jti`s in the Redis at this URL (`redis://host:port/`), so
    /// replicas sharing it refuse each other's replays; else in this process's memory.
    /// Needs the `redis` feature.
    pub dpop_redis_url: Option<String>,
    /// Whether the application should refuse to start until the keys load
    /// ([`Validator::ready`]); tokengate itself does not read it.
    #[serde(deserialize_with = "boolean")]
    pub require_keys: bool,
    /// The variables' prefix, when read from the environment: errors name variables.
    #[serde(skip)]
    prefix: Option<String>,
}

/// Whether a gate accepts DPoP-bound tokens (RFC 9449): [`Config::dpop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DpopMode {
    /// Bearer tokens only.
    Off,
    /// DPoP-bound tokens with their proofs, and bearer tokens.
    Allowed,
    /// DPoP-bound tokens only ([`Dpop::required`]).
    Required,
}

impl FromStr for DpopMode {
    type Err = &'static str;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "off" => Ok(DpopMode::Off),
            "allowed" => Ok(DpopMode::Allowed),
            "required" => Ok(DpopMode::Required),
            _ => Err("must be off, allowed or required"),
        }
    }
}

/// How one setting is read from its variable.
type Read = fn(&mut Config, &str) -> Result<(), String>;

/// Every setting: its field name (the variable is the prefix, `_`, and it upper-cased)
/// and how its value is read.
const SETTINGS: &[(&str, Read)] = &[
    ("issuer", |c, v| {
        c.issuer = list(v);
        Ok(())
    }),
    ("audience", |c, v| {
        c.audience = list(v);
        Ok(())
    }),
    ("jwks_url", |c, v| {
        c.jwks_url = Some(v.to_owned());
        Ok(())
    }),
    ("leeway_seconds", |c, v| {
        c.leeway_seconds = Some(number(v, "seconds")?);
        Ok(())
    }),
    ("refresh_cooldown_ms", |c, v| {
        c.refresh_cooldown_ms = Some(number(v, "milliseconds")?);
        Ok(())
    }),
    ("min_cache_ttl_ms", |c, v| {
        c.min_cache_ttl_ms = Some(number(v, "milliseconds")?);
        Ok(())
    }),
    ("token_cache_size", |c, v| {
        c.token_cache_size = Some(number(v, "entries")?);
        Ok(())
    }),
    ("client_id", |c, v| {
        c.client_id = Some(v.to_owned());
        Ok(())
    }),
    ("client_secret", |c, v| {
        c.client_secret = Some(SecretString::from(v.to_owned()));
        Ok(())
    }),
    ("introspection_url", |c, v| {
        c.introspection_url = Some(v.to_owned());
        Ok(())
    }),
    ("introspection_cache_ms", |c, v| {
        c.introspection_cache_ms = Some(number(v, "milliseconds")?);
        Ok(())
    }),
    ("dpop", |c, v| {
        let mode = v.parse().map_err(|e: &str| format!("{e}, not {v:?}"))?;
        c.dpop = Some(mode);
        Ok(())
    }),
    ("public_url", |c, v| {
        c.public_url = Some(v.to_owned());
        Ok(())
    }),
    ("dpop_nonce", |c, v| {
        c.dpop_nonce = flag(v)?;
        Ok(())
    }),
    ("dpop_redis_url", |c, v| {
        c.dpop_redis_url = Some(v.to_owned());
        Ok(())
    }),
    ("require_keys", |c, v| {
        c.require_keys = flag(v)?;
        Ok(())
    }),
];

fn flag(value: &str) -> Result<bool, String> {
    match value {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err(format!("must be 0 or 1, not {value:?}")),
    }
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn number(value: &str, unit: &str) -> Result<u64, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("must be a whole number of {unit}, not {value:?}"))
}

impl Config {
    /// The settings in the process environment under `prefix` (`"TOKENGATE"` reads
    /// `TOKENGATE_ISSUER`, ...): [`from_vars`](Self::from_vars) over `std::env::vars_os`.
    /// A variable under the prefix whose value is not UTF-8 is an error naming it.
    pub fn from_env(prefix: &str) -> Result<Config, ConfigError> {
        let mut vars = Vec::new();
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str().map(str::to_owned) else {
                continue;
            };
            match value.into_string() {
                Ok(value) => vars.push((name, value)),
                Err(_) if setting_of(prefix, &name).is_some() => {
                    return Err(ConfigError::InvalidValue {
                        name,
                        reason: "is not valid UTF-8".to_owned(),
                    });
                }
                Err(_) => {}
            }
        }
        Config::from_vars(prefix, vars)
    }

    /// The settings in these `(name, value)` pairs under `prefix`: the environment
    /// [`from_env`](Self::from_env) reads, or any other source of variables (a test's,
    /// a secrets manager's). Names outside the prefix, or not of a setting, are ignored;
    /// empty values leave the default.
    pub fn from_vars<K: AsRef<str>, V: AsRef<str>>(
        prefix: &str,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Config, ConfigError> {
        let mut config = Config {
            prefix: Some(prefix.trim_end_matches('_').to_owned()),
            ..Config::default()
        };
        for (name, value) in vars {
            let (name, value) = (name.as_ref(), value.as_ref());
            let Some(read) = setting_of(prefix, name) else {
                continue;
            };
            if value.trim().is_empty() {
                continue;
            }
            read(&mut config, value).map_err(|reason| ConfigError::InvalidValue {
                name: name.to_owned(),
                reason,
            })?;
        }
        Ok(config)
    }

    /// The name a message gives a field: its variable when read from the environment.
    fn name_of(&self, field: &str) -> String {
        match &self.prefix {
            Some(prefix) => format!("{prefix}_{}", field.to_ascii_uppercase()),
            None => field.to_owned(),
        }
    }

    /// The builder's error, naming the setting as it was given (variable or field).
    fn named(&self, error: ConfigError) -> ConfigError {
        let field = match &error {
            ConfigError::MissingIssuer => "issuer",
            ConfigError::MissingAudience => "audience",
            ConfigError::LeewayTooLarge => "leeway_seconds",
            ConfigError::CacheTtlBounds => "min_cache_ttl_ms",
            ConfigError::MissingIntrospectionClient => "client_id",
            ConfigError::InvalidUrl(setting)
            | ConfigError::InsecureUrl(setting)
            | ConfigError::ZeroLimit(setting) => match *setting {
                "issuer" => "issuer",
                "jwks_url" => "jwks_url",
                "introspection_endpoint" => "introspection_url",
                _ => return error,
            },
            _ => return error,
        };
        ConfigError::Setting {
            name: self.name_of(field),
            error: Box::new(error),
        }
    }

    /// A builder for the one issuer configured, with every setting applied. Several
    /// issuers need [`build`](Self::build) (a builder is one issuer's).
    pub fn builder(&self) -> Result<ValidatorBuilder, ConfigError> {
        match self.issuer.as_slice() {
            [] => self.builder_for(None),
            [issuer] => self.builder_for(Some(issuer)),
            _ => Err(ConfigError::InvalidValue {
                name: self.name_of("issuer"),
                reason: "names several issuers: use Config::build, which combines them with Validator::any_of".to_owned(),
            }),
        }
    }

    fn builder_for(&self, issuer: Option<&str>) -> Result<ValidatorBuilder, ConfigError> {
        if self.introspection_url.is_some() && self.client_id.is_none() {
            return Err(ConfigError::InvalidValue {
                name: self.name_of("introspection_url"),
                reason: format!("needs {}", self.name_of("client_id")),
            });
        }
        let mut builder = Validator::builder();
        if let Some(issuer) = issuer {
            builder = builder.issuer(issuer);
        }
        for audience in &self.audience {
            builder = builder.audience(audience);
        }
        if let Some(url) = &self.jwks_url {
            builder = builder.jwks_url(url);
        }
        if let Some(seconds) = self.leeway_seconds {
            builder = builder.leeway(Duration::from_secs(seconds));
        }
        if let Some(ms) = self.refresh_cooldown_ms {
            builder = builder.refresh_cooldown(Duration::from_millis(ms));
        }
        if let Some(ms) = self.min_cache_ttl_ms {
            builder = builder.min_cache_ttl(Duration::from_millis(ms));
        }
        if let Some(size) = self.token_cache_size {
            builder = builder.token_cache_size(size);
        }
        if let Some(id) = &self.client_id {
            let secret = self
                .client_secret
                .as_ref()
                .map_or("", |secret| secret.expose_secret());
            // Opaque tokens are introspected; JWTs are still verified locally.
            builder = builder
                .introspection(id, secret)
                .token_format(TokenFormat::JwtOrOpaque);
            if let Some(url) = &self.introspection_url {
                builder = builder.introspection_endpoint(url);
            }
            if let Some(ms) = self.introspection_cache_ms {
                builder = builder.introspection_cache_ttl(Duration::from_millis(ms));
            }
        }
        Ok(builder)
    }

    /// The validator: one issuer's, or for several [`Validator::any_of`] them (the same
    /// audience and settings for each; an explicit JWKS URL or introspection needs a
    /// single issuer, as nothing would say whose it is). Errors name the variable or
    /// field.
    pub fn build(&self) -> Result<Validator, ConfigError> {
        if self.issuer.len() <= 1 {
            return self.builder()?.build().map_err(|e| self.named(e));
        }
        for field in ["jwks_url", "client_id"] {
            let set = match field {
                "jwks_url" => self.jwks_url.is_some(),
                _ => self.client_id.is_some(),
            };
            if set {
                return Err(ConfigError::InvalidValue {
                    name: self.name_of(field),
                    reason: format!("needs a single {}", self.name_of("issuer")),
                });
            }
        }
        let members = self
            .issuer
            .iter()
            .map(|issuer| {
                self.builder_for(Some(issuer))?
                    .build()
                    .map_err(|e| self.named(e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Validator::any_of(members).map_err(|e| self.named(e))
    }

    /// The gate's DPoP settings ([`Gate::dpop`](crate::Gate::dpop)): `None` when off
    /// (the default), else proofs checked against `public_url`, or `default_public_url`
    /// when none is set (typically `http://{the listening address}`).
    pub fn dpop(&self, default_public_url: &str) -> Result<Option<Dpop>, ConfigError> {
        let mode = self.dpop.unwrap_or(DpopMode::Off);
        if mode == DpopMode::Off {
            return Ok(None);
        }
        let url = self.public_url.as_deref().unwrap_or(default_public_url);
        let dpop = Dpop::new(url).map_err(|reason| ConfigError::InvalidValue {
            name: self.name_of("public_url"),
            reason: format!("is refused: {reason}"),
        })?;
        let mut dpop = match mode {
            DpopMode::Required => dpop.required(),
            _ => dpop,
        };
        if self.dpop_nonce {
            dpop = dpop
                .use_nonce()
                .map_err(|reason| ConfigError::InvalidValue {
                    name: self.name_of("dpop_nonce"),
                    reason: reason.to_owned(),
                })?;
        }
        if let Some(url) = &self.dpop_redis_url {
            dpop = self.with_redis(dpop, url)?;
        }
        Ok(Some(dpop))
    }

    /// `dpop` remembering its proofs' `jti`s in the Redis at `url` (connected lazily:
    /// Redis down is a 503 for DPoP requests, not a failed start).
    #[cfg(feature = "redis")]
    fn with_redis(&self, dpop: Dpop, url: &str) -> Result<Dpop, ConfigError> {
        let store = crate::binding::redis::RedisReplayStore::connect(url).map_err(|e| {
            ConfigError::InvalidValue {
                name: self.name_of("dpop_redis_url"),
                reason: format!("is refused: {e}"),
            }
        })?;
        Ok(dpop.replay_store(store))
    }

    #[cfg(not(feature = "redis"))]
    fn with_redis(&self, _dpop: Dpop, _url: &str) -> Result<Dpop, ConfigError> {
        Err(ConfigError::InvalidValue {
            name: self.name_of("dpop_redis_url"),
            reason: "needs tokengate's `redis` feature".to_owned(),
        })
    }
}

/// The reader of `name`, if it is a setting's variable under `prefix`.
fn setting_of(prefix: &str, name: &str) -> Option<Read> {
    let prefix = prefix.trim_end_matches('_');
    let field = name.strip_prefix(prefix)?.strip_prefix('_')?;
    SETTINGS
        .iter()
        .find(|(setting, _)| {
            setting.eq_ignore_ascii_case(field) && field.bytes().all(|b| !b.is_ascii_lowercase())
        })
        .map(|(_, read)| *read)
}

impl ValidatorBuilder {
    /// A builder with the settings of the environment under `prefix` (`"TOKENGATE"`
    /// reads `TOKENGATE_ISSUER`, `TOKENGATE_AUDIENCE`, ...: the table of
    /// [`config`](crate::config)). A value that does not parse is an error naming the
    /// variable; one issuer only (several: [`Config::from_env`] and [`Config::build`]).
    /// Settings may still be changed before [`build`](Self::build).
    ///
    /// ```no_run
    /// let validator = tokengate::Validator::builder();
    /// # let _ = validator;
    /// let validator = tokengate::ValidatorBuilder::from_env("TOKENGATE")?.build()?;
    /// # Ok::<(), tokengate::ConfigError>(())
    /// ```
    pub fn from_env(prefix: &str) -> Result<ValidatorBuilder, ConfigError> {
        Config::from_env(prefix)?.builder()
    }
}

/// One string or a list of them.
fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

fn secret<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<SecretString>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.map(SecretString::from))
}

/// `true`/`false`, or `1`/`0` as the variable takes it.
fn boolean<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Number(u8),
    }
    match Flag::deserialize(deserializer)? {
        Flag::Bool(flag) => Ok(flag),
        Flag::Number(0) => Ok(false),
        Flag::Number(1) => Ok(true),
        Flag::Number(_) => Err(serde::de::Error::custom(
            "a flag must be true, false, 0 or 1",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars("TOKENGATE", pairs.iter().copied())
    }

    #[test]
    fn every_variable_is_read_and_others_ignored() {
        let config = vars(&[
            ("TOKENGATE_ISSUER", "https://a.example, https://b.example"),
            ("TOKENGATE_AUDIENCE", "api"),
            ("TOKENGATE_JWKS_URL", "https://a.example/keys"),
            ("TOKENGATE_LEEWAY_SECONDS", "30"),
            ("TOKENGATE_REFRESH_COOLDOWN_MS", "1000"),
            ("TOKENGATE_MIN_CACHE_TTL_MS", "2000"),
            ("TOKENGATE_TOKEN_CACHE_SIZE", "0"),
            ("TOKENGATE_CLIENT_ID", "rs"),
            ("TOKENGATE_CLIENT_SECRET", "s3cret"),
            (
                "TOKENGATE_INTROSPECTION_URL",
                "https://a.example/introspect",
            ),
            ("TOKENGATE_INTROSPECTION_CACHE_MS", "500"),
            ("TOKENGATE_DPOP", "required"),
            ("TOKENGATE_PUBLIC_URL", "https://api.example"),
            ("TOKENGATE_REQUIRE_KEYS", "1"),
            ("TOKENGATE_RESOURCE", "ignored: not a validator setting"),
            ("OTHER_ISSUER", "https://c.example"),
            ("TOKENGATE_issuer", "https://lowercase.example"),
        ])
        .unwrap();
        assert_eq!(config.issuer, ["https://a.example", "https://b.example"]);
        assert_eq!(config.audience, ["api"]);
        assert_eq!(config.jwks_url.as_deref(), Some("https://a.example/keys"));
        assert_eq!(config.leeway_seconds, Some(30));
        assert_eq!(config.refresh_cooldown_ms, Some(1000));
        assert_eq!(config.min_cache_ttl_ms, Some(2000));
        assert_eq!(config.token_cache_size, Some(0));
        assert_eq!(config.client_id.as_deref(), Some("rs"));
        assert_eq!(
            config.client_secret.as_ref().map(|s| s.expose_secret()),
            Some("s3cret")
        );
        assert_eq!(config.introspection_cache_ms, Some(500));
        assert_eq!(config.dpop, Some(DpopMode::Required));
        assert_eq!(config.public_url.as_deref(), Some("https://api.example"));
        assert!(config.require_keys);
        assert!(!format!("{config:?}").contains("s3cret"), "{config:?}");
    }

    #[test]
    fn bad_values_are_errors_naming_the_variable() {
        for (name, value, says) in [
            ("TOKENGATE_TOKEN_CACHE_SIZE", "lots", "whole number"),
            ("TOKENGATE_REFRESH_COOLDOWN_MS", "-1", "milliseconds"),
            ("TOKENGATE_LEEWAY_SECONDS", "1m", "seconds"),
            ("TOKENGATE_DPOP", "yes", "off, allowed or required"),
            ("TOKENGATE_REQUIRE_KEYS", "yes", "0 or 1"),
        ] {
            let error = vars(&[(name, value)]).unwrap_err();
            let message = error.to_string();
            assert!(
                message.contains(name) && message.contains(says),
                "{message}"
            );
            assert!(matches!(error, ConfigError::InvalidValue { .. }));
        }
    }

    #[test]
    fn empty_values_leave_the_defaults() {
        let config = vars(&[
            ("TOKENGATE_TOKEN_CACHE_SIZE", " "),
            ("TOKENGATE_ISSUER", ""),
        ])
        .unwrap();
        assert_eq!(config.token_cache_size, None);
        assert!(config.issuer.is_empty());
    }

    #[test]
    fn refused_settings_name_the_variable_or_the_field() {
        let error = vars(&[("TOKENGATE_ISSUER", "https://a.example")])
            .unwrap()
            .build()
            .unwrap_err();
        assert_eq!(
            error,
            ConfigError::Setting {
                name: "TOKENGATE_AUDIENCE".into(),
                error: Box::new(ConfigError::MissingAudience)
            }
        );
        let plain = vars(&[
            ("TOKENGATE_ISSUER", "http://id.example"),
            ("TOKENGATE_AUDIENCE", "a"),
        ]);
        let message = plain.unwrap().build().unwrap_err().to_string();
        assert!(message.starts_with("TOKENGATE_ISSUER: "), "{message}");
        let from_json: Config = serde_json::from_str(
            r#"{"issuer": "https://a.example", "leeway_seconds": 3600, "audience": "a"}"#,
        )
        .unwrap();
        let message = from_json.build().unwrap_err().to_string();
        assert!(message.starts_with("leeway_seconds: "), "{message}");
        let alone = vars(&[
            ("TOKENGATE_ISSUER", "https://a.example"),
            ("TOKENGATE_AUDIENCE", "a"),
            ("TOKENGATE_INTROSPECTION_URL", "https://a.example/i"),
        ]);
        let message = alone.unwrap().build().unwrap_err().to_string();
        assert!(
            message.contains("TOKENGATE_INTROSPECTION_URL")
                && message.contains("TOKENGATE_CLIENT_ID"),
            "{message}"
        );
    }

    #[test]
    fn several_issuers_build_any_of_and_refuse_what_needs_one() {
        let config = vars(&[
            ("TOKENGATE_ISSUER", "https://b.example,https://a.example"),
            ("TOKENGATE_AUDIENCE", "api"),
        ])
        .unwrap();
        assert_eq!(
            config.build().unwrap().issuers(),
            ["https://a.example", "https://b.example"]
        );
        assert!(
            config
                .builder()
                .unwrap_err()
                .to_string()
                .contains("several issuers")
        );
        let with_jwks = vars(&[
            ("TOKENGATE_ISSUER", "https://b.example,https://a.example"),
            ("TOKENGATE_AUDIENCE", "api"),
            ("TOKENGATE_JWKS_URL", "https://a.example/keys"),
        ]);
        let message = with_jwks.unwrap().build().unwrap_err().to_string();
        assert!(message.contains("TOKENGATE_JWKS_URL"), "{message}");
    }

    #[test]
    fn files_refuse_unknown_fields_and_take_one_or_many() {
        let typo = serde_json::from_str::<Config>(r#"{"isuer": "https://a.example"}"#);
        assert!(typo.unwrap_err().to_string().contains("isuer"));
        let config: Config = serde_json::from_str(
            r#"{"issuer": ["https://a.example"], "audience": "api", "dpop": "allowed", "require_keys": 1}"#,
        )
        .unwrap();
        assert_eq!(config.issuer, ["https://a.example"]);
        assert_eq!(config.dpop, Some(DpopMode::Allowed));
        assert!(config.require_keys);
        assert!(config.dpop("http://127.0.0.1:3000").unwrap().is_some());
        assert!(
            Config::default()
                .dpop("http://127.0.0.1:3000")
                .unwrap()
                .is_none()
        );
        let bad_url = Config {
            dpop: Some(DpopMode::Allowed),
            public_url: Some("not a url".into()),
            ..Config::default()
        };
        assert!(
            bad_url
                .dpop("http://x")
                .unwrap_err()
                .to_string()
                .contains("public_url")
        );
    }
}
