//! [`ConfigError`]: what [`ValidatorBuilder::build`](crate::ValidatorBuilder::build) and
//! [`Validator::any_of`](crate::Validator::any_of) refuse, each naming the setting.

use std::fmt;

/// A configuration [`ValidatorBuilder::build`](crate::ValidatorBuilder::build) refuses. The message names the setting.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// No issuer was set.
    MissingIssuer,
    /// No audience was set (or an empty one), nor Cognito client ids.
    MissingAudience,
    /// Both `audience` and `cognito_client_ids` were set: one issuer's tokens are meant
    /// for this API in one way.
    AudienceAndCognitoClientIds,
    /// An issuer template (`issuer_template`) that cannot work: what is wrong with it.
    IssuerTemplate(&'static str),
    /// A URL setting does not parse.
    InvalidUrl(&'static str),
    /// A URL is plain `http` to a non-loopback host.
    InsecureUrl(&'static str),
    /// The algorithm allow-list is empty.
    NoAlgorithms,
    /// The leeway is over five minutes.
    LeewayTooLarge,
    /// A limit is zero.
    ZeroLimit(&'static str),
    /// `min_cache_ttl` is above `max_cache_ttl`.
    CacheTtlBounds,
    /// `any_of` was given two validators for the same issuer.
    DuplicateIssuer(String),
    /// Opaque tokens were asked for without `introspection(client_id, secret)`, or with an
    /// empty client id.
    MissingIntrospectionClient,
    /// `any_of` was given more than one validator that introspects opaque tokens: an
    /// opaque token names no issuer, so nothing would say which to ask.
    SeveralIntrospectingIssuers,
    /// The static key set ([`KeySource::static_set`](crate::KeySource::static_set)) is not
    /// a JWK Set with at least one usable key.
    InvalidJwks,
    /// The default HTTP client could not be built (no TLS roots).
    HttpClient,
    /// A setting read by [`Config`](crate::config::Config) (from the environment or a
    /// file) does not parse; `name` is the variable or field.
    InvalidValue {
        /// The variable (`TOKENGATE_TOKEN_CACHE_SIZE`) or field (`token_cache_size`).
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The builder refused a setting that [`Config`](crate::config::Config) gave it:
    /// `error` names it as the builder does, `name` as it was given.
    Setting {
        /// The variable or field.
        name: String,
        /// The builder's refusal.
        error: Box<ConfigError>,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::MissingIssuer => f.write_str("issuer is required: the `iss` your tokens carry"),
            ConfigError::MissingAudience => f.write_str(
                "audience is required (or cognito_client_ids, for AWS Cognito access tokens): without it, tokens the issuer minted for any other API would be accepted",
            ),
            ConfigError::AudienceAndCognitoClientIds => f.write_str(
                "audience and cognito_client_ids are both set: Cognito access tokens carry no aud, so set only cognito_client_ids for them",
            ),
            ConfigError::IssuerTemplate(problem) => write!(f, "issuer_template: {problem}"),
            ConfigError::InvalidUrl(name) => write!(f, "{name} is not a valid URL"),
            ConfigError::InsecureUrl(name) => write!(
                f,
                "{name} must use https (plain http is allowed only to loopback hosts, or with allow_insecure_http)"
            ),
            ConfigError::NoAlgorithms => f.write_str("algorithms is empty: no token could ever pass"),
            ConfigError::LeewayTooLarge => f.write_str("leeway must be at most 300 seconds"),
            ConfigError::ZeroLimit(name) => write!(f, "{name} must be greater than zero"),
            ConfigError::CacheTtlBounds => f.write_str("min_cache_ttl must not exceed max_cache_ttl"),
            ConfigError::MissingIntrospectionClient => f.write_str(
                "introspection needs a client: call introspection(client_id, client_secret) (a non-empty client id)",
            ),
            ConfigError::DuplicateIssuer(issuer) => {
                write!(f, "issuer {issuer:?} is configured twice: each issuer needs exactly one policy")
            }
            ConfigError::SeveralIntrospectingIssuers => f.write_str(
                "any_of was given several validators that introspect opaque tokens: an opaque token names no issuer, so at most one may",
            ),
            ConfigError::InvalidJwks => f.write_str("jwks is not a JWK Set with at least one usable signature key"),
            ConfigError::HttpClient => f.write_str("http client: the default TLS client could not be built"),
            ConfigError::InvalidValue { name, reason } => write!(f, "{name} {reason}"),
            ConfigError::Setting { name, error } => write!(f, "{name}: {error}"),
        }
    }
}

impl std::error::Error for ConfigError {}
