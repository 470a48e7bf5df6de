//! OAuth 2.0 Protected Resource Metadata (RFC 9728): the document that tells a client
//! which authorization server issues tokens for this API, and where to find it.
//!
//! ```
//! use tokengate::{Error, ResourceMetadata};
//!
//! let metadata = ResourceMetadata::builder("https://api.example.com/v1")
//!     .authorization_server("https://login.example.com")
//!     .scopes_supported(["read", "admin"])
//!     .resource_name("Example API")
//!     .build()?;
//!
//! // RFC 9728 section 3.1: the well-known string goes between the host and the path.
//! assert_eq!(metadata.well_known_path(), "/.well-known/oauth-protected-resource/v1");
//! assert_eq!(
//!     metadata.metadata_url(),
//!     "https://api.example.com/.well-known/oauth-protected-resource/v1",
//! );
//! // Section 2: the document served there.
//! assert_eq!(metadata.to_json()["authorization_servers"][0], "https://login.example.com");
//! // Section 5.1: every challenge points at it.
//! assert_eq!(
//!     Error::MissingCredentials.www_authenticate_with(Some(&metadata.metadata_url())).unwrap(),
//!     r#"Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/v1""#,
//! );
//! # Ok::<(), tokengate::resource_metadata::MetadataError>(())
//! ```
//!
//! The adapters serve the document and put its URL into every `WWW-Authenticate`
//! challenge: `Gate::resource_metadata` with `ResourceMetadataService` in
//! `tokengate-tower`, or with `resource_metadata_service` in
//! `tokengate-actix`.
//!
//! **Choose the resource identifier with care.** RFC 9728 section 3.3 has clients check
//! that the document's `resource` is *identical* to the identifier they derived the
//! metadata URL from, and, when they followed a challenge's `resource_metadata`, to the
//! URL they requested. Use exactly the identifier your clients know your API by (the same
//! string the authorization server accepts as an RFC 8707 `resource` and puts in `aud`,
//! usually), spelled the same way: it is published verbatim, never normalized.

use std::fmt;

use reqwest::Url;
use serde_json::{Value, json};

use crate::alg::Algorithm;
use crate::binding::dpop::Dpop;
use crate::binding::mtls::Mtls;

/// The default well-known URI suffix (RFC 9728 section 3), registered with IANA.
pub const WELL_KNOWN_PATH: &str = "/.well-known/oauth-protected-resource";

/// An RFC 9728 protected resource metadata document, validated when built.
///
/// Every URL in it uses `https` (plain `http` only to a loopback host, for development)
/// and has no fragment, query or credentials. `bearer_methods_supported` is always
/// `["header"]`: tokengate accepts a token only in the `Authorization` header (RFC 6750
/// section 2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceMetadata {
    resource: String,
    /// Byte offset in `resource` where the path begins (its length when there is none).
    path_start: usize,
    authorization_servers: Vec<String>,
    scopes_supported: Vec<String>,
    resource_name: Option<String>,
    resource_documentation: Option<String>,
    /// RFC 9728 section 2 `dpop_signing_alg_values_supported`.
    dpop_signing_alg_values_supported: Vec<Algorithm>,
    /// RFC 9728 section 2 `dpop_bound_access_tokens_required`.
    dpop_bound_access_tokens_required: bool,
    /// RFC 9728 section 2 `tls_client_certificate_bound_access_tokens`.
    tls_client_certificate_bound_access_tokens: bool,
}

/// Builds a [`ResourceMetadata`]; [`build`](ResourceMetadataBuilder::build) checks it.
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until build() is called"]
pub struct ResourceMetadataBuilder {
    resource: String,
    authorization_servers: Vec<String>,
    scopes_supported: Vec<String>,
    resource_name: Option<String>,
    resource_documentation: Option<String>,
    /// RFC 9728 section 2 `dpop_signing_alg_values_supported`.
    dpop_signing_alg_values_supported: Vec<Algorithm>,
    /// RFC 9728 section 2 `dpop_bound_access_tokens_required`.
    dpop_bound_access_tokens_required: bool,
    /// RFC 9728 section 2 `tls_client_certificate_bound_access_tokens`.
    tls_client_certificate_bound_access_tokens: bool,
}

impl ResourceMetadata {
    /// Starts a document for the protected resource `resource`: its resource identifier
    /// (RFC 9728 section 1.2), an `https` URL with no query or fragment, for example
    /// `https://api.example.com`.
    pub fn builder(resource: impl Into<String>) -> ResourceMetadataBuilder {
        ResourceMetadataBuilder {
            resource: resource.into(),
            authorization_servers: Vec::new(),
            scopes_supported: Vec::new(),
            resource_name: None,
            resource_documentation: None,
            dpop_signing_alg_values_supported: Vec::new(),
            dpop_bound_access_tokens_required: false,
            tls_client_certificate_bound_access_tokens: false,
        }
    }

    /// The resource identifier, exactly as configured.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The issuer identifiers of the authorization servers that issue tokens for it.
    pub fn authorization_servers(&self) -> &[String] {
        &self.authorization_servers
    }

    /// The scope values advertised in `scopes_supported`.
    pub fn scopes_supported(&self) -> &[String] {
        &self.scopes_supported
    }

    /// The algorithms advertised in `dpop_signing_alg_values_supported`.
    pub fn dpop_signing_alg_values_supported(&self) -> &[Algorithm] {
        &self.dpop_signing_alg_values_supported
    }

    /// Whether the document says `dpop_bound_access_tokens_required: true`.
    pub fn dpop_bound_access_tokens_required(&self) -> bool {
        self.dpop_bound_access_tokens_required
    }

    /// Whether the document says `tls_client_certificate_bound_access_tokens: true`.
    pub fn tls_client_certificate_bound_access_tokens(&self) -> bool {
        self.tls_client_certificate_bound_access_tokens
    }

    /// The RFC 9728 section 2 document, as served at [`metadata_url`](Self::metadata_url).
    ///
    /// Parameters without a value are left out (section 3.2: "Parameters with zero values
    /// MUST be omitted").
    pub fn to_json(&self) -> Value {
        let mut document = json!({
            "resource": self.resource,
            "bearer_methods_supported": ["header"],
        });
        let members = document.as_object_mut().expect("a JSON object");
        if !self.authorization_servers.is_empty() {
            members.insert(
                "authorization_servers".to_owned(),
                json!(self.authorization_servers),
            );
        }
        if !self.scopes_supported.is_empty() {
            members.insert("scopes_supported".to_owned(), json!(self.scopes_supported));
        }
        if let Some(name) = &self.resource_name {
            members.insert("resource_name".to_owned(), json!(name));
        }
        if let Some(url) = &self.resource_documentation {
            members.insert("resource_documentation".to_owned(), json!(url));
        }
        if !self.dpop_signing_alg_values_supported.is_empty() {
            let names: Vec<&str> = self
                .dpop_signing_alg_values_supported
                .iter()
                .map(|alg| alg.as_str())
                .collect();
            members.insert("dpop_signing_alg_values_supported".to_owned(), json!(names));
        }
        // Section 2: "If omitted, the default value is false", so false is left out.
        if self.dpop_bound_access_tokens_required {
            members.insert("dpop_bound_access_tokens_required".to_owned(), json!(true));
        }
        // The same: "If omitted, the default value is false".
        if self.tls_client_certificate_bound_access_tokens {
            members.insert(
                "tls_client_certificate_bound_access_tokens".to_owned(),
                json!(true),
            );
        }
        document
    }

    /// The path the document is served at on the resource's host (RFC 9728 section 3.1):
    /// `/.well-known/oauth-protected-resource` followed by the resource identifier's path.
    ///
    /// | resource | path |
    /// |---|---|
    /// | `https://api.example.com` or `https://api.example.com/` | `/.well-known/oauth-protected-resource` |
    /// | `https://api.example.com/v1` | `/.well-known/oauth-protected-resource/v1` |
    ///
    /// The well-known URI sits at the root of the host (RFC 8615), whatever prefix the API
    /// itself is mounted under.
    pub fn well_known_path(&self) -> String {
        let path = &self.resource[self.path_start..];
        // Section 3.1: "any terminating slash (/) following the host component MUST be
        // removed" before inserting; a path's own characters stay as they are.
        let path = if path == "/" { "" } else { path };
        let mut out = String::with_capacity(WELL_KNOWN_PATH.len() + path.len());
        out.push_str(WELL_KNOWN_PATH);
        out.push_str(path);
        out
    }

    /// The absolute URL of the document: the resource's scheme and host with
    /// [`well_known_path`](Self::well_known_path). This is what challenges carry as
    /// `resource_metadata` (RFC 9728 section 5.1).
    pub fn metadata_url(&self) -> String {
        let mut out = self.resource[..self.path_start].to_owned();
        out.push_str(&self.well_known_path());
        out
    }
}

impl ResourceMetadataBuilder {
    /// Adds an authorization server that issues tokens for this resource, by its issuer
    /// identifier (RFC 8414 section 2), to `authorization_servers`. Repeatable.
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        if !self.authorization_servers.contains(&issuer) {
            self.authorization_servers.push(issuer);
        }
        self
    }

    /// The scope values clients may request to use this resource (`scopes_supported`,
    /// RECOMMENDED by RFC 9728 section 2). Replaces any set before.
    pub fn scopes_supported<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// A human-readable name for the resource (`resource_name`).
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// A page with human-readable information for developers using the resource
    /// (`resource_documentation`).
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.resource_documentation = Some(url.into());
        self
    }

    /// The JWS algorithms the resource accepts DPoP proofs signed with
    /// (`dpop_signing_alg_values_supported`, RFC 9728 section 2). Replaces any set before;
    /// [`dpop`](Self::dpop) sets it from the gate's configuration.
    pub fn dpop_signing_alg_values_supported(
        mut self,
        algorithms: impl IntoIterator<Item = Algorithm>,
    ) -> Self {
        self.dpop_signing_alg_values_supported = algorithms.into_iter().collect();
        self
    }

    /// Whether the resource always requires DPoP-bound access tokens
    /// (`dpop_bound_access_tokens_required`, RFC 9728 section 2; published only when
    /// `true`, its default being `false`).
    pub fn dpop_bound_access_tokens_required(mut self, required: bool) -> Self {
        self.dpop_bound_access_tokens_required = required;
        self
    }

    /// Both DPoP parameters as `dpop` configures the gate: its proof algorithms, and
    /// whether it refuses bearer tokens ([`Dpop::required`]), so the document cannot
    /// say other than what the gate does.
    ///
    /// ```
    /// use tokengate::ResourceMetadata;
    /// use tokengate::binding::dpop::Dpop;
    ///
    /// let dpop = Dpop::new("https://api.example.com").unwrap().required();
    /// let metadata = ResourceMetadata::builder("https://api.example.com")
    ///     .dpop(&dpop)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(metadata.to_json()["dpop_bound_access_tokens_required"], true);
    /// assert_eq!(metadata.to_json()["dpop_signing_alg_values_supported"][0], "RS256");
    /// ```
    pub fn dpop(self, dpop: &Dpop) -> Self {
        self.dpop_signing_alg_values_supported(dpop.algorithm_list().iter().copied())
            .dpop_bound_access_tokens_required(dpop.is_required())
    }

    /// Whether the resource supports RFC 8705 certificate-bound access tokens
    /// (`tls_client_certificate_bound_access_tokens`, RFC 9728 section 2; published only
    /// when `true`, its default being `false`). [`mtls`](Self::mtls) sets it from the
    /// gate's configuration.
    pub fn tls_client_certificate_bound_access_tokens(mut self, supported: bool) -> Self {
        self.tls_client_certificate_bound_access_tokens = supported;
        self
    }

    /// The mutual-TLS parameter as `mtls` configures the gate
    /// ([`Gate::mtls`](crate::gate::Gate::mtls)): a gate that checks client certificates
    /// supports certificate-bound tokens, `tls_client_certificate_bound_access_tokens:
    /// true`. RFC 9728 has no parameter saying they are *required*
    /// ([`Mtls::required`]): the document says support either way, and a bearer token
    /// sent to a gate that requires binding is refused with the usual `invalid_token`.
    ///
    /// ```
    /// use tokengate::ResourceMetadata;
    /// use tokengate::binding::mtls::{CertificateSource, Mtls};
    ///
    /// let mtls = Mtls::new(CertificateSource::connection());
    /// let metadata = ResourceMetadata::builder("https://api.example.com")
    ///     .mtls(&mtls)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(metadata.to_json()["tls_client_certificate_bound_access_tokens"], true);
    /// ```
    pub fn mtls(self, _: &Mtls) -> Self {
        // Every `Mtls`, required or not, checks a bound token's `cnf.x5t#S256` against the
        // request's certificate (RFC 8705 section 3): support is unconditional.
        self.tls_client_certificate_bound_access_tokens(true)
    }

    /// Checks every setting; the error names the one at fault.
    pub fn build(self) -> Result<ResourceMetadata, MetadataError> {
        let path_start = check_url("resource", &self.resource)?;
        for issuer in &self.authorization_servers {
            check_url("authorization_server", issuer)?;
        }
        if let Some(url) = &self.resource_documentation {
            check_url("resource_documentation", url)?;
        }
        if let Some(bad) = self.scopes_supported.iter().find(|s| !is_scope_token(s)) {
            return Err(MetadataError::InvalidScope(bad.clone()));
        }
        Ok(ResourceMetadata {
            resource: self.resource,
            path_start,
            authorization_servers: self.authorization_servers,
            scopes_supported: self.scopes_supported,
            resource_name: self.resource_name,
            resource_documentation: self.resource_documentation,
            dpop_signing_alg_values_supported: self.dpop_signing_alg_values_supported,
            dpop_bound_access_tokens_required: self.dpop_bound_access_tokens_required,
            tls_client_certificate_bound_access_tokens: self
                .tls_client_certificate_bound_access_tokens,
        })
    }
}

/// A [`ResourceMetadataBuilder`] setting that [`build`](ResourceMetadataBuilder::build)
/// refuses. The message names the setting.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetadataError {
    /// Not an absolute URL, or it holds characters a URL may not (spaces, quotes,
    /// non-ASCII: percent-encode them).
    InvalidUrl(&'static str),
    /// Neither `https` nor `http` to a loopback host.
    InsecureUrl(&'static str),
    /// The URL has a query or a fragment (RFC 9728 section 1.2, RFC 8414 section 2).
    QueryOrFragment(&'static str),
    /// The URL carries a user name or password.
    Credentials(&'static str),
    /// A `scopes_supported` value is not an RFC 6749 section 3.3 scope token.
    InvalidScope(String),
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetadataError::InvalidUrl(name) => write!(
                f,
                "{name} is not a valid absolute URL (percent-encode spaces, quotes and non-ASCII characters)"
            ),
            MetadataError::InsecureUrl(name) => write!(
                f,
                "{name} must use https (plain http is allowed only to loopback hosts)"
            ),
            MetadataError::QueryOrFragment(name) => {
                write!(f, "{name} must have no query and no fragment")
            }
            MetadataError::Credentials(name) => {
                write!(f, "{name} must not carry a user name or password")
            }
            MetadataError::InvalidScope(scope) => write!(
                f,
                "scopes_supported contains {scope:?}, which is not a scope token (RFC 6749 section 3.3)"
            ),
        }
    }
}

impl std::error::Error for MetadataError {}

/// Checks `url` and returns the byte offset where its path begins.
fn check_url(name: &'static str, url: &str) -> Result<usize, MetadataError> {
    // Published verbatim in JSON and in a quoted-string: only characters a URL may hold
    // unencoded (RFC 3986), so what we publish is exactly what the parser checked.
    let acceptable = |c: char| c.is_ascii_graphic() && !"\"<>\\^`{|}".contains(c);
    if url.is_empty() || !url.chars().all(acceptable) {
        return Err(MetadataError::InvalidUrl(name));
    }
    let parsed = Url::parse(url).map_err(|_| MetadataError::InvalidUrl(name))?;
    let secure = match parsed.scheme() {
        "https" => true,
        "http" => crate::http::is_loopback(&parsed),
        _ => false,
    };
    if !secure {
        return Err(MetadataError::InsecureUrl(name));
    }
    // `scheme://authority[/path]`: the authority runs to the first slash after `://`.
    let Some(authority_start) = url.find("://").map(|at| at + 3) else {
        return Err(MetadataError::InvalidUrl(name));
    };
    if !parsed.has_host() {
        return Err(MetadataError::InvalidUrl(name));
    }
    if url.contains(['?', '#']) {
        return Err(MetadataError::QueryOrFragment(name));
    }
    let path_start = url[authority_start..]
        .find('/')
        .map_or(url.len(), |at| authority_start + at);
    if url[authority_start..path_start].contains('@') {
        return Err(MetadataError::Credentials(name));
    }
    Ok(path_start)
}

/// RFC 6749 section 3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(resource: &str) -> ResourceMetadata {
        ResourceMetadata::builder(resource).build().unwrap()
    }

    #[test]
    fn a_resource_without_a_path_is_served_at_the_bare_well_known_path() {
        for resource in ["https://api.example.com", "https://api.example.com/"] {
            let m = metadata(resource);
            assert_eq!(m.well_known_path(), WELL_KNOWN_PATH, "{resource}");
            assert_eq!(
                m.metadata_url(),
                "https://api.example.com/.well-known/oauth-protected-resource",
                "{resource}"
            );
        }
    }

    #[test]
    fn the_well_known_string_goes_between_host_and_path() {
        let cases = [
            (
                "https://api.example.com/v1",
                "/.well-known/oauth-protected-resource/v1",
            ),
            (
                "https://api.example.com/tenant/a/api",
                "/.well-known/oauth-protected-resource/tenant/a/api",
            ),
            // Only the slash right after the host is dropped; a path keeps its own.
            (
                "https://api.example.com/v1/",
                "/.well-known/oauth-protected-resource/v1/",
            ),
            (
                "https://api.example.com:8443/v1",
                "/.well-known/oauth-protected-resource/v1",
            ),
        ];
        for (resource, path) in cases {
            assert_eq!(metadata(resource).well_known_path(), path, "{resource}");
        }
        assert_eq!(
            metadata("https://api.example.com:8443/v1").metadata_url(),
            "https://api.example.com:8443/.well-known/oauth-protected-resource/v1"
        );
        assert_eq!(
            metadata("http://[::1]:3000/api").metadata_url(),
            "http://[::1]:3000/.well-known/oauth-protected-resource/api"
        );
    }

    #[test]
    fn the_document_has_the_section_2_members_and_omits_empty_ones() {
        let full = ResourceMetadata::builder("https://api.example.com")
            .authorization_server("https://login.example.com")
            .authorization_server("https://login2.example.com/tenant")
            .authorization_server("https://login.example.com")
            .scopes_supported(["read", "admin"])
            .resource_name("Example \"API\"")
            .resource_documentation("https://docs.example.com/api")
            .build()
            .unwrap();
        assert_eq!(
            full.to_json(),
            json!({
                "resource": "https://api.example.com",
                "authorization_servers": ["https://login.example.com", "https://login2.example.com/tenant"],
                "scopes_supported": ["read", "admin"],
                "bearer_methods_supported": ["header"],
                "resource_name": "Example \"API\"",
                "resource_documentation": "https://docs.example.com/api",
            })
        );
        assert_eq!(
            metadata("https://api.example.com/").to_json(),
            json!({
                "resource": "https://api.example.com/",
                "bearer_methods_supported": ["header"],
            })
        );
    }

    #[test]
    fn the_dpop_parameters_are_published_only_when_set() {
        let plain = metadata("https://api.example.com").to_json();
        assert!(plain.get("dpop_signing_alg_values_supported").is_none());
        assert!(plain.get("dpop_bound_access_tokens_required").is_none());

        let allowed = ResourceMetadata::builder("https://api.example.com")
            .dpop_signing_alg_values_supported([Algorithm::ES256, Algorithm::EdDSA])
            .dpop_bound_access_tokens_required(false)
            .build()
            .unwrap();
        assert_eq!(
            allowed.to_json()["dpop_signing_alg_values_supported"],
            json!(["ES256", "EdDSA"])
        );
        // False is the default: left out.
        assert!(
            allowed
                .to_json()
                .get("dpop_bound_access_tokens_required")
                .is_none()
        );

        let dpop = Dpop::new("https://api.example.com")
            .unwrap()
            .required()
            .algorithms([Algorithm::PS256]);
        let required = ResourceMetadata::builder("https://api.example.com")
            .dpop(&dpop)
            .build()
            .unwrap();
        assert_eq!(
            required.dpop_signing_alg_values_supported(),
            [Algorithm::PS256]
        );
        assert!(required.dpop_bound_access_tokens_required());
        let json = required.to_json();
        assert_eq!(json["dpop_signing_alg_values_supported"], json!(["PS256"]));
        assert_eq!(json["dpop_bound_access_tokens_required"], json!(true));
        // An allowed (not required) DPoP gate does not claim to require it.
        let optional = ResourceMetadata::builder("https://api.example.com")
            .dpop(&Dpop::new("https://api.example.com").unwrap())
            .build()
            .unwrap();
        assert!(!optional.dpop_bound_access_tokens_required());
    }

    #[test]
    fn the_mtls_parameter_is_published_only_when_certificates_are_checked() {
        use crate::binding::mtls::CertificateSource;
        use crate::forwarded::TrustedProxies;

        let plain = metadata("https://api.example.com");
        assert!(!plain.tls_client_certificate_bound_access_tokens());
        assert!(
            plain
                .to_json()
                .get("tls_client_certificate_bound_access_tokens")
                .is_none()
        );
        // Set, then unset: false is the default, so it is left out.
        let unset = ResourceMetadata::builder("https://api.example.com")
            .tls_client_certificate_bound_access_tokens(true)
            .tls_client_certificate_bound_access_tokens(false)
            .build()
            .unwrap();
        assert!(
            unset
                .to_json()
                .get("tls_client_certificate_bound_access_tokens")
                .is_none()
        );
        // From the gate's configuration: every source, allowed or required.
        let proxies = TrustedProxies::list(["10.0.0.7".parse().unwrap()]);
        let header = CertificateSource::header(
            "x-client-cert",
            crate::binding::mtls::CertificateHeader::EscapedPem,
            proxies,
        )
        .unwrap();
        for mtls in [
            Mtls::new(CertificateSource::connection()),
            Mtls::new(CertificateSource::connection()).required(),
            Mtls::new(header),
        ] {
            let published = ResourceMetadata::builder("https://api.example.com")
                .mtls(&mtls)
                .build()
                .unwrap();
            assert!(published.tls_client_certificate_bound_access_tokens());
            let json = published.to_json();
            assert_eq!(
                json["tls_client_certificate_bound_access_tokens"],
                json!(true)
            );
            // The DPoP parameters are independent of it.
            assert!(json.get("dpop_bound_access_tokens_required").is_none());
        }
    }

    #[test]
    fn the_resource_is_published_as_configured() {
        // Section 3.3 compares it character for character: no normalization.
        let m = metadata("https://API.Example.com:443");
        assert_eq!(m.resource(), "https://API.Example.com:443");
        assert_eq!(m.to_json()["resource"], "https://API.Example.com:443");
        assert_eq!(
            m.metadata_url(),
            "https://API.Example.com:443/.well-known/oauth-protected-resource"
        );
    }

    #[test]
    fn plain_http_is_allowed_only_to_loopback_hosts() {
        for ok in [
            "http://127.0.0.1:3000",
            "http://localhost:8080/api",
            "http://[::1]",
        ] {
            assert!(ResourceMetadata::builder(ok).build().is_ok(), "{ok}");
        }
        for bad in [
            "http://api.example.com",
            "http://localhost.example.com",
            "ftp://api.example.com",
        ] {
            assert_eq!(
                ResourceMetadata::builder(bad).build(),
                Err(MetadataError::InsecureUrl("resource")),
                "{bad}"
            );
        }
        let err = ResourceMetadata::builder("https://api.example.com")
            .authorization_server("http://login.example.com")
            .build()
            .unwrap_err();
        assert_eq!(err, MetadataError::InsecureUrl("authorization_server"));
        assert!(
            err.to_string()
                .starts_with("authorization_server must use https")
        );
    }

    #[test]
    fn malformed_urls_are_refused_with_the_setting_named() {
        let cases = [
            ("", MetadataError::InvalidUrl("resource")),
            ("api.example.com", MetadataError::InvalidUrl("resource")),
            ("/v1", MetadataError::InvalidUrl("resource")),
            ("https://", MetadataError::InvalidUrl("resource")),
            (
                "https://api.example.com/a b",
                MetadataError::InvalidUrl("resource"),
            ),
            (
                "https://api.example.com/\"",
                MetadataError::InvalidUrl("resource"),
            ),
            (
                "https://api.example.com/é",
                MetadataError::InvalidUrl("resource"),
            ),
            (
                "https://api.example.com/\n",
                MetadataError::InvalidUrl("resource"),
            ),
            (
                "mailto:api@example.com",
                MetadataError::InsecureUrl("resource"),
            ),
            (
                "https://api.example.com/#x",
                MetadataError::QueryOrFragment("resource"),
            ),
            (
                "https://api.example.com/?v=1",
                MetadataError::QueryOrFragment("resource"),
            ),
            (
                "https://user:pw@api.example.com",
                MetadataError::Credentials("resource"),
            ),
            (
                "https://user@api.example.com",
                MetadataError::Credentials("resource"),
            ),
        ];
        for (resource, expected) in cases {
            assert_eq!(
                ResourceMetadata::builder(resource).build(),
                Err(expected),
                "{resource:?}"
            );
        }
        let docs = ResourceMetadata::builder("https://api.example.com")
            .resource_documentation("docs")
            .build();
        assert_eq!(
            docs,
            Err(MetadataError::InvalidUrl("resource_documentation"))
        );
    }

    #[test]
    fn scopes_must_be_scope_tokens() {
        for bad in ["", "has space", "quote\"", "back\\slash", "é"] {
            assert_eq!(
                ResourceMetadata::builder("https://api.example.com")
                    .scopes_supported(["read", bad])
                    .build(),
                Err(MetadataError::InvalidScope(bad.to_owned())),
                "{bad:?}"
            );
        }
        assert!(
            ResourceMetadata::builder("https://api.example.com")
                .scopes_supported(["read", "api:write", "https://api.example.com/x"])
                .build()
                .is_ok()
        );
    }
}
