//! [`ValidatorBuilder`]: every setting with its default ([`defaults`](super::defaults)),
//! checked once by [`build`](ValidatorBuilder::build), which hands each part its own
//! settings: the key cache its [`KeyCacheConfig`], the introspector its
//! [`introspection::Settings`], the pipeline its [`Policy`].

use std::sync::Arc;
use std::time::Duration;

use crate::alg::Algorithm;
use reqwest::Url;
use secrecy::SecretString;

use super::audience::Audience;
use super::defaults::*;
use super::issuer::Issuer;
use super::issuer_template::{IssuerTemplate, TENANT_PLACEHOLDER, TrustedTenants};
use super::policy::{MAX_LEEWAY, Policy};
use super::token_cache::new_token_cache;
use super::{ConfigError, KeySource, Kind, Validator};
use crate::alg::SUPPORTED_ALGORITHMS;
use crate::format::TokenFormat;
use crate::http::{FetchLimits, TtlBounds, redirect_policy, scheme_allowed};
use crate::introspection::{self, ClientAuth, Credentials, Introspector};
use crate::jwks::{KeyCache, KeyCacheConfig};

/// Configures a [`Validator`]; every setting has a safe default but the issuer and the
/// audience, which only you can know.
#[derive(Debug)]
#[must_use]
pub struct ValidatorBuilder {
    issuer: Option<String>,
    /// Set by `issuer_template`: `issuer` is then a template.
    tenants: Option<TrustedTenants>,
    audiences: Vec<String>,
    cognito_client_ids: Vec<String>,
    key_source: KeySource,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    require_access_token_type: bool,
    allow_sender_constrained: bool,
    max_token_bytes: usize,
    token_cache_size: u64,
    token_cache_ttl: Duration,
    keys: KeyOptions,
    introspection: IntrospectionOptions,
    /// `None`: [`TokenFormat::Jwt`], or [`TokenFormat::Opaque`] with introspection.
    token_format: Option<TokenFormat>,
    fetch_timeout: Duration,
    allow_insecure_http: bool,
    http_client: Option<reqwest::Client>,
}

/// The key cache's settings.
#[derive(Debug)]
struct KeyOptions {
    refresh_cooldown: Duration,
    max_jwks_bytes: usize,
    max_keys: usize,
    min_cache_ttl: Duration,
    max_cache_ttl: Duration,
    default_cache_ttl: Duration,
    max_retry_backoff: Duration,
}

/// The introspection settings; off while `client` is `None`.
#[derive(Debug)]
struct IntrospectionOptions {
    /// The client id and secret; the secret is redacted in `Debug`.
    client: Option<(String, SecretString)>,
    endpoint: Option<String>,
    auth: ClientAuth,
    cache_ttl: Duration,
    max_concurrent: usize,
    allow_without_audience: bool,
}

impl Default for ValidatorBuilder {
    fn default() -> Self {
        ValidatorBuilder {
            issuer: None,
            tenants: None,
            audiences: Vec::new(),
            cognito_client_ids: Vec::new(),
            key_source: KeySource::discovery(),
            algorithms: SUPPORTED_ALGORITHMS.to_vec(),
            leeway: DEFAULT_LEEWAY,
            require_access_token_type: false,
            allow_sender_constrained: false,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            token_cache_size: DEFAULT_TOKEN_CACHE_SIZE,
            token_cache_ttl: DEFAULT_TOKEN_CACHE_TTL,
            keys: KeyOptions {
                refresh_cooldown: DEFAULT_REFRESH_COOLDOWN,
                max_jwks_bytes: DEFAULT_MAX_JWKS_BYTES,
                max_keys: DEFAULT_MAX_KEYS,
                min_cache_ttl: DEFAULT_MIN_CACHE_TTL,
                max_cache_ttl: DEFAULT_MAX_CACHE_TTL,
                default_cache_ttl: DEFAULT_CACHE_TTL,
                max_retry_backoff: DEFAULT_MAX_RETRY_BACKOFF,
            },
            introspection: IntrospectionOptions {
                client: None,
                endpoint: None,
                auth: ClientAuth::default(),
                cache_ttl: DEFAULT_INTROSPECTION_CACHE_TTL,
                max_concurrent: DEFAULT_MAX_CONCURRENT_INTROSPECTIONS,
                allow_without_audience: false,
            },
            token_format: None,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            allow_insecure_http: false,
            http_client: None,
        }
    }
}

impl ValidatorBuilder {
    /// The issuer (`iss`) whose tokens are accepted, compared exactly (RFC 7519 section
    /// 4.1.1), trailing slash included: Auth0 writes `https://tenant.auth0.com/`, Okta
    /// `https://org.okta.com/oauth2/default`. Keys are found by discovery from it unless
    /// another [`key_source`](Self::key_source) is set; a discovery document naming
    /// another issuer is refused, and [`Validator::ready`] and the key-fetch warning name
    /// both values. Replaces an [`issuer_template`](Self::issuer_template).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self.tenants = None;
        self
    }

    /// A multi-tenant issuer (Microsoft Entra ID's `common` and `organizations`
    /// endpoints), instead of [`issuer`](Self::issuer): `template` holds
    /// [`{tenantid}`](TENANT_PLACEHOLDER) once, such as
    /// `https://login.microsoftonline.com/{tenantid}/v2.0` (Entra's v2 tokens) or
    /// `https://sts.windows.net/{tenantid}/` (v1). A token passes when its `tid` claim is
    /// a well-formed tenant id that `tenants` trusts and its `iss` is exactly the
    /// template filled with that `tid` (RFC 7519 section 4.1.1's string comparison,
    /// after the substitution). A token without `tid` is refused.
    ///
    /// The keys cannot be discovered from a template: name where they are, with
    /// [`KeySource::discovery_at`] (Entra: `https://login.microsoftonline.com/common/v2.0`,
    /// whose discovery document's `issuer` is the template itself, as it must be) or
    /// [`KeySource::jwks_url`]. v1 and v2 tokens are two templates: one validator each,
    /// joined with [`Validator::any_of`]. Introspection is not available with a template.
    ///
    /// ```
    /// use tokengate::{KeySource, TrustedTenants, Validator};
    ///
    /// let entra = Validator::builder()
    ///     .issuer_template(
    ///         "https://login.microsoftonline.com/{tenantid}/v2.0",
    ///         TrustedTenants::list(["9188040d-6c67-4c5b-b112-36a304b66dad"]),
    ///     )
    ///     .key_source(KeySource::discovery_at("https://login.microsoftonline.com/common/v2.0"))
    ///     .audience("api://my-api")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(entra.issuer(), "https://login.microsoftonline.com/{tenantid}/v2.0");
    /// ```
    pub fn issuer_template(mut self, template: impl Into<String>, tenants: TrustedTenants) -> Self {
        self.issuer = Some(template.into());
        self.tenants = Some(tenants);
        self
    }

    /// Where the keys come from: [`KeySource::discovery`] (the default),
    /// [`KeySource::jwks_url`] or [`KeySource::static_set`]. One source: a second call
    /// replaces the first.
    pub fn key_source(mut self, source: KeySource) -> Self {
        self.key_source = source;
        self
    }

    /// Fetch keys from this JWKS URL instead of discovering it from the issuer.
    ///
    /// Shorthand for [`key_source`](Self::key_source)`(`[`KeySource::jwks_url`]`(url))`,
    /// kept for existing code; prefer `key_source`.
    pub fn jwks_url(self, url: impl Into<String>) -> Self {
        self.key_source(KeySource::jwks_url(url))
    }

    /// Verify with this JWK Set (RFC 7517 section 5) instead of fetching one: keys pinned
    /// in configuration, never fetched or refreshed.
    ///
    /// Shorthand for [`key_source`](Self::key_source)`(`[`KeySource::static_set`]`(jwk_set))`,
    /// kept for existing code; prefer `key_source`.
    pub fn jwks(self, jwk_set: serde_json::Value) -> Self {
        self.key_source(KeySource::static_set(jwk_set))
    }

    /// An audience (`aud`) this API answers to; call again to accept several. Required:
    /// without it, a token the same issuer minted for any other API would pass. An
    /// introspected token whose answer names no audience is refused as well, unless
    /// [`allow_introspection_without_audience`](Self::allow_introspection_without_audience).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Several audiences (`aud`) this API answers to, added to those already set: a token
    /// naming any one of them passes (an API known by its URL and by a client id, or
    /// renamed). Same rule as [`audience`](Self::audience), called once per value.
    pub fn audiences(mut self, audiences: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.audiences.extend(audiences.into_iter().map(Into::into));
        self
    }

    /// AWS Cognito access tokens, instead of an [`audience`](Self::audience): Cognito's
    /// access tokens carry no `aud`, so a token passes when its `token_use` is `access`
    /// and its `client_id` is one of these app client ids. A Cognito ID token (`token_use:
    /// id`, whose `aud` is the client id) and a token without `token_use` are refused, so
    /// an ID token cannot be replayed to the API.
    ///
    /// The audience check is not skipped, it reads another claim: `build()` refuses a
    /// validator with neither audiences nor client ids, an empty client id, or both
    /// audiences and client ids (one issuer, one meaning of "meant for this API").
    /// Cognito's issuer is `https://cognito-idp.<region>.amazonaws.com/<user pool id>`,
    /// found by discovery like any other.
    ///
    /// ```
    /// let validator = tokengate::Validator::builder()
    ///     .issuer("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123")
    ///     .cognito_client_ids(["3n4b5urk1ft4fl3mg5e62d9ado"])
    ///     .build()
    ///     .unwrap();
    /// # let _ = validator;
    /// ```
    pub fn cognito_client_ids(
        mut self,
        client_ids: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.cognito_client_ids
            .extend(client_ids.into_iter().map(Into::into));
        self
    }

    /// The signature algorithms accepted. Default: every one in
    /// [`SUPPORTED_ALGORITHMS`]. HMAC and `none` are refused by [`build`](Self::build).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Tolerance for clock skew on `exp` and `nbf`. Default [`DEFAULT_LEEWAY`].
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The shortest time between two key-set fetches. Default [`DEFAULT_REFRESH_COOLDOWN`].
    ///
    /// `Duration::ZERO` is allowed, for tests that rotate keys: there is then no fetch
    /// budget at all. A token with an unknown `kid` always causes a fetch (concurrent
    /// requests still share one), and a failed fetch is retried by the next request that
    /// needs keys, without backoff ([`max_retry_backoff`](Self::max_retry_backoff) has
    /// nothing to double). Never in production: a flood of made-up `kid`s becomes a
    /// stream of fetches.
    pub fn refresh_cooldown(mut self, cooldown: Duration) -> Self {
        self.keys.refresh_cooldown = cooldown;
        self
    }

    /// Deadline for one discovery or JWKS fetch. Default [`DEFAULT_FETCH_TIMEOUT`].
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Cap on a discovery or JWKS response body. Default [`DEFAULT_MAX_JWKS_BYTES`].
    pub fn max_jwks_bytes(mut self, bytes: usize) -> Self {
        self.keys.max_jwks_bytes = bytes;
        self
    }

    /// Tokens longer than this are refused unread. Default [`DEFAULT_MAX_TOKEN_BYTES`].
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = bytes;
        self
    }

    /// Usable keys beyond this many in a JWKS are ignored (and a warning logged with the
    /// numbers). Default [`DEFAULT_MAX_KEYS`].
    pub fn max_keys(mut self, keys: usize) -> Self {
        self.keys.max_keys = keys;
        self
    }

    /// The shortest lifetime of a fetched key set, whatever the issuer's `Cache-Control`
    /// says. Default [`DEFAULT_MIN_CACHE_TTL`].
    pub fn min_cache_ttl(mut self, ttl: Duration) -> Self {
        self.keys.min_cache_ttl = ttl;
        self
    }

    /// The longest lifetime of a fetched key set. Default [`DEFAULT_MAX_CACHE_TTL`].
    pub fn max_cache_ttl(mut self, ttl: Duration) -> Self {
        self.keys.max_cache_ttl = ttl;
        self
    }

    /// The lifetime when the issuer sends no caching headers. Default [`DEFAULT_CACHE_TTL`].
    pub fn default_cache_ttl(mut self, ttl: Duration) -> Self {
        self.keys.default_cache_ttl = ttl;
        self
    }

    /// The longest wait between retries after repeated fetch failures (never less than
    /// the [cooldown](Self::refresh_cooldown): a smaller value retries every cooldown).
    /// Default [`DEFAULT_MAX_RETRY_BACKOFF`]; zero is refused by [`build`](Self::build).
    pub fn max_retry_backoff(mut self, backoff: Duration) -> Self {
        self.keys.max_retry_backoff = backoff;
        self
    }

    /// How many verified tokens to remember (about: the bound is kept per shard of the
    /// cache, rounded up to whole shards); `0` turns the cache off. An entry is found
    /// by SHA-256 of the token's signature and answers only a byte-identical token: it
    /// keeps the signing input (header and claims), never the signature, so nothing in
    /// the cache can be presented as a token. Default [`DEFAULT_TOKEN_CACHE_SIZE`]. A hit still checks `exp`/`nbf`
    /// against the clock and that the verifying key is still published. With
    /// introspection, it also bounds the answers remembered, so `0` turns that cache
    /// off too: every opaque token is introspected on every request (concurrent requests
    /// for one token still share one call).
    pub fn token_cache_size(mut self, entries: u64) -> Self {
        self.token_cache_size = entries;
        self
    }

    /// The longest a verified token is remembered (never past its `exp`).
    /// Default [`DEFAULT_TOKEN_CACHE_TTL`].
    pub fn token_cache_ttl(mut self, ttl: Duration) -> Self {
        self.token_cache_ttl = ttl;
        self
    }

    /// Validate opaque tokens by RFC 7662 introspection, authenticating as this client.
    /// The endpoint comes from the issuer's metadata (`introspection_endpoint`) unless
    /// [`introspection_endpoint`](Self::introspection_endpoint) names it. With
    /// introspection on, every token is introspected unless
    /// [`token_format`](Self::token_format) says otherwise.
    pub fn introspection(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.introspection.client =
            Some((client_id.into(), SecretString::from(client_secret.into())));
        self
    }

    /// The introspection endpoint, instead of the one in the issuer's metadata.
    pub fn introspection_endpoint(mut self, url: impl Into<String>) -> Self {
        self.introspection.endpoint = Some(url.into());
        self
    }

    /// How to authenticate to the introspection endpoint. Default: `client_secret_basic`.
    pub fn introspection_auth(mut self, auth: ClientAuth) -> Self {
        self.introspection.auth = auth;
        self
    }

    /// How long an introspection answer is remembered at most (never past the token's
    /// `exp`). Default [`DEFAULT_INTROSPECTION_CACHE_TTL`]. `Duration::ZERO`: answers are
    /// not remembered; every request is introspected (concurrent requests for one token
    /// still share one call), so a revoked token is refused at once.
    pub fn introspection_cache_ttl(mut self, ttl: Duration) -> Self {
        self.introspection.cache_ttl = ttl;
        self
    }

    /// How many introspection requests may be in flight at once; more wait for a turn,
    /// for at most the [fetch timeout](Self::fetch_timeout), then get 503. A request
    /// keeps its turn until the endpoint answered or timed out, even when the client
    /// that caused it has gone. Default [`DEFAULT_MAX_CONCURRENT_INTROSPECTIONS`]; zero
    /// is refused by [`build`](Self::build).
    pub fn max_concurrent_introspections(mut self, requests: usize) -> Self {
        self.introspection.max_concurrent = requests;
        self
    }

    /// Accept introspection answers that name no audience (no `aud`, or an empty one).
    /// Off by default: such a token is bound to no resource (a token requested without an
    /// RFC 8707 resource indicator, or one of any other client of the issuer), so every
    /// API that introspects at this issuer would accept it. RFC 7662 section 2.2 makes
    /// `aud` optional; turn this on only when your issuer never names audiences in its
    /// answers and every token it issues is meant for this API. The claims of such a
    /// token then have no audience (none is invented). An answer naming other audiences
    /// is refused either way.
    pub fn allow_introspection_without_audience(mut self, allow: bool) -> Self {
        self.introspection.allow_without_audience = allow;
        self
    }

    /// Which tokens are JWTs and which are introspected. Default: [`TokenFormat::Jwt`],
    /// or [`TokenFormat::Opaque`] once [`introspection`](Self::introspection) is set.
    pub fn token_format(mut self, format: TokenFormat) -> Self {
        self.token_format = Some(format);
        self
    }

    /// RFC 9068 mode: require `typ: at+jwt`, so that an ID token (or any other JWT the
    /// issuer signs) cannot be replayed as an access token. Off by default because many
    /// issuers do not set it yet.
    pub fn require_access_token_type(mut self, require: bool) -> Self {
        self.require_access_token_type = require;
        self
    }

    /// Accept sender-constrained tokens (those with a `cnf` claim: DPoP-bound, RFC 9449,
    /// or certificate-bound, RFC 8705) as bearer tokens. Off by default: a `Bearer`
    /// request does not prove possession of the bound key, so accepting the token would
    /// let whoever stole it use it, which is what the binding exists to stop (RFC 9449
    /// section 7.2). Turn it on only when something in front of this validator checks
    /// the binding, such as a proxy that terminates mutual TLS and compares the client
    /// certificate with `cnf.x5t#S256` ([`Claims::is_sender_constrained`](crate::Claims::is_sender_constrained)).
    pub fn allow_sender_constrained_tokens(mut self, allow: bool) -> Self {
        self.allow_sender_constrained = allow;
        self
    }

    /// Allow plain `http` URLs (issuer, JWKS, introspection endpoint, and redirects to
    /// them) on non-loopback hosts. Never do this in production: anyone on the path could
    /// swap the keys, or read the client secret and every opaque token. Loopback `http`
    /// is always allowed, for development issuers (and a redirect to it only from
    /// loopback `http`).
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Use this HTTP client for discovery, JWKS fetches and introspection (proxies,
    /// custom roots). The fetch timeout and body cap still apply, and so does the scheme
    /// policy: every request's URL is checked before it is sent, and every answer that
    /// came through a redirect to a URL the policy refuses (https to http, or to
    /// loopback http from anywhere but loopback http) is discarded, as is any redirected
    /// introspection answer.
    ///
    /// tokengate cannot stop your client from *sending* a redirected request, though:
    /// build it with `reqwest::redirect::Policy::none()` (or a policy as strict as the
    /// default's: https only, at most three hops), or a 307/308 on the introspection POST
    /// re-sends the token, and with `client_secret_post` the secret, to its target. The
    /// default client follows at most three redirects on GETs, within the policy, and
    /// none on introspection requests.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Checks the configuration and builds the validator.
    pub fn build(self) -> Result<Validator, ConfigError> {
        let issuer = self.issuer.ok_or(ConfigError::MissingIssuer)?;
        let issuer_template = match self.tenants {
            Some(tenants) => {
                Some(IssuerTemplate::parse(&issuer, tenants).map_err(ConfigError::IssuerTemplate)?)
            }
            None if issuer.contains(TENANT_PLACEHOLDER) => {
                return Err(ConfigError::IssuerTemplate(
                    "the issuer holds {tenantid}: set it with issuer_template(template, tenants)",
                ));
            }
            None => None,
        };
        // A template's URL is checked as its tenants' will be.
        let issuer_url = Url::parse(&issuer.replace(TENANT_PLACEHOLDER, "tenant"))
            .map_err(|_| ConfigError::InvalidUrl("issuer"))?;
        let audience = match (
            self.audiences.is_empty(),
            self.cognito_client_ids.is_empty(),
        ) {
            (false, false) => return Err(ConfigError::AudienceAndCognitoClientIds),
            (true, true) => return Err(ConfigError::MissingAudience),
            (false, true) => Audience::Aud(self.audiences),
            (true, false) => Audience::CognitoClientIds(self.cognito_client_ids),
        };
        let (Audience::Aud(ids) | Audience::CognitoClientIds(ids)) = &audience;
        if ids.iter().any(String::is_empty) {
            return Err(ConfigError::MissingAudience);
        }
        let allow_http = self.allow_insecure_http;
        if issuer_template.is_some() {
            if self.key_source.is_discovery() {
                return Err(ConfigError::IssuerTemplate(
                    "keys cannot be discovered from a template: set key_source(KeySource::discovery_at(..)) or jwks_url",
                ));
            }
            if self.introspection.client.is_some() {
                return Err(ConfigError::IssuerTemplate(
                    "introspection is not available with an issuer template",
                ));
            }
        }
        // The issuer is contacted for key discovery, and for the introspection endpoint
        // when none is configured: then it obeys the scheme policy like every other URL
        // (else whoever is on the path of a plain-http issuer names the endpoint that
        // receives our client credentials and every opaque token).
        let contacts_issuer = self.key_source.is_discovery()
            || (self.introspection.client.is_some() && self.introspection.endpoint.is_none());
        let source = self
            .key_source
            .resolve(&issuer, self.keys.max_keys, allow_http)?;
        if contacts_issuer && !scheme_allowed(&issuer_url, allow_http) {
            return Err(ConfigError::InsecureUrl("issuer"));
        }
        if self.algorithms.is_empty() {
            return Err(ConfigError::NoAlgorithms);
        }
        if self.leeway > MAX_LEEWAY {
            return Err(ConfigError::LeewayTooLarge);
        }
        if self.fetch_timeout.is_zero() {
            return Err(ConfigError::ZeroLimit("fetch_timeout"));
        }
        for (value, name) in [
            (self.max_token_bytes, "max_token_bytes"),
            (self.keys.max_jwks_bytes, "max_jwks_bytes"),
            (self.keys.max_keys, "max_keys"),
            (
                self.introspection.max_concurrent,
                "max_concurrent_introspections",
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::ZeroLimit(name));
            }
        }
        // Zero would mean "retry every cooldown", not the "no wait" it reads as.
        if self.keys.max_retry_backoff.is_zero() {
            return Err(ConfigError::ZeroLimit("max_retry_backoff"));
        }
        if self.keys.min_cache_ttl > self.keys.max_cache_ttl {
            return Err(ConfigError::CacheTtlBounds);
        }
        // GETs (discovery, JWKS) may follow a few redirects within the scheme policy; the
        // introspection requests follow none. A client of the user's serves both, and
        // every answer's URL is checked against the policy all the same.
        let (client, introspection_client) = match self.http_client {
            Some(client) => (client.clone(), client),
            None => (
                default_client(redirect_policy(allow_http)).map_err(|_| ConfigError::HttpClient)?,
                default_client(reqwest::redirect::Policy::none())
                    .map_err(|_| ConfigError::HttpClient)?,
            ),
        };
        let limits = FetchLimits {
            timeout: self.fetch_timeout,
            max_body: self.keys.max_jwks_bytes,
            allow_http,
        };
        let keys = Arc::new(KeyCache::new(KeyCacheConfig {
            source,
            client,
            limits: limits.clone(),
            cooldown: self.keys.refresh_cooldown,
            max_backoff: self.keys.max_retry_backoff,
            ttl: TtlBounds {
                min: self.keys.min_cache_ttl,
                max: self.keys.max_cache_ttl,
                default: self.keys.default_cache_ttl,
            },
            max_keys: self.keys.max_keys,
            allow_http,
            issuer: issuer.clone(),
        }));
        let introspection = match self.introspection.settings(
            &issuer,
            self.token_cache_size,
            introspection_client,
            limits,
        )? {
            Some(settings) => {
                Some(Arc::new(Introspector::new(settings).map_err(|_| {
                    ConfigError::InsecureUrl("introspection_endpoint")
                })?))
            }
            None => None,
        };
        let token_format = match (self.token_format, &introspection) {
            (Some(format), Some(_)) => format,
            (None, Some(_)) => TokenFormat::Opaque,
            (None | Some(TokenFormat::Jwt), None) => TokenFormat::Jwt,
            (Some(_), None) => return Err(ConfigError::MissingIntrospectionClient),
        };
        let token_cache =
            (self.token_cache_size > 0).then(|| new_token_cache(self.token_cache_size));
        let metrics = crate::metrics::IssuerLabels::new(&issuer);
        Ok(Validator {
            inner: Arc::new(Kind::One(Issuer {
                policy: Policy {
                    issuer,
                    issuer_template,
                    audience,
                    algorithms: self.algorithms,
                    leeway: self.leeway.as_secs() as i64,
                    require_access_token_type: self.require_access_token_type,
                    allow_sender_constrained: self.allow_sender_constrained,
                },
                max_token_bytes: self.max_token_bytes,
                keys,
                token_cache,
                token_cache_ttl: self.token_cache_ttl,
                introspection,
                token_format,
                metrics,
            })),
        })
    }
}

impl IntrospectionOptions {
    /// The introspector's settings, if introspection is on: it remembers as many answers
    /// as the token cache holds tokens (`token_cache_size`).
    fn settings(
        &self,
        issuer: &str,
        token_cache_size: u64,
        client: reqwest::Client,
        limits: FetchLimits,
    ) -> Result<Option<introspection::Settings>, ConfigError> {
        let Some((id, secret)) = &self.client else {
            return Ok(None);
        };
        if id.is_empty() {
            return Err(ConfigError::MissingIntrospectionClient);
        }
        Ok(Some(introspection::Settings {
            issuer: issuer.to_owned(),
            credentials: Credentials {
                client_id: id.clone(),
                client_secret: secret.clone(),
                auth: self.auth,
            },
            endpoint: self.endpoint.clone(),
            cache_ttl: self.cache_ttl,
            cache_size: token_cache_size,
            max_concurrent: self.max_concurrent,
            allow_without_audience: self.allow_without_audience,
            client,
            limits,
        }))
    }
}

/// A default HTTP client: rustls, a connect timeout, and `redirects`: for GETs at most
/// three and only where the scheme policy allows (a redirect must not move a JWKS fetch
/// to plain http), for the introspection requests none.
fn default_client(redirects: reqwest::redirect::Policy) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(redirects)
        .connect_timeout(DEFAULT_FETCH_TIMEOUT)
        .user_agent(concat!("tokengate/", env!("CARGO_PKG_VERSION")))
        .build()
}
