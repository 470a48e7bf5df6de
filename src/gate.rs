//! The per-request decision, in one place: which credentials a request carries, whether
//! it may pass without any, and what the validator says of its token.
//!
//! Both adapters (`tokengate-tower`, `tokengate-actix`) hand a [`RequestParts`] to
//! [`Gate::decide`] and carry out the [`Decision`]: they hold no policy of their own, the
//! way tower-http's `AsyncAuthorizeRequest` decides and `AsyncRequireAuthorization` only
//! carries. A rule changed here changes both adapters alike.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use tokengate::gate::{Decision, Gate};
//! use tokengate::request::RequestParts;
//! use tokengate::testing::MockIssuer;
//!
//! let issuer = MockIssuer::start().await;
//! let validator = tokengate::Validator::builder()
//!     .issuer(issuer.issuer())
//!     .audience(issuer.audience())
//!     .build()
//!     .unwrap();
//! let gate = Gate::new(validator);
//!
//! // No credentials: refused with a bare challenge (RFC 6750 section 3.1).
//! let Decision::Reject(refusal) = gate.decide(&RequestParts::new()) else { panic!() };
//! assert_eq!(gate.challenge(&refusal).as_deref(), Some("Bearer"));
//!
//! // A valid token: the first request waits for the issuer's keys, later ones do not.
//! let header = format!("Bearer {}", issuer.token().subject("alice").sign());
//! let request = RequestParts::new().authorization([header.as_bytes()]);
//! let claims = gate.decide(&request).resolve().await.unwrap().unwrap();
//! assert_eq!(claims.subject(), Some("alice"));
//! assert!(matches!(gate.decide(&request), Decision::Pass(Some(_))));
//! # }
//! ```

use std::sync::Arc;

use crate::bearer::{self, Scheme};
use crate::binding::dpop::{Dpop, DpopRefusal};
use crate::binding::mtls::Mtls;
use crate::claims::Claims;
use crate::cookie;
use crate::error::{Challenges, Error, InvalidRequest, InvalidToken};
use crate::rejection_body::{Body, RejectionBody};
use crate::request::{HeaderValues, RequestParts};
use crate::require::Requirement;
use crate::resource_metadata::ResourceMetadata;
use crate::validator::{Presented, Validator, Verdict};

mod decision;

pub use decision::{Decision, Pending, Refusal};

/// The gate's settings and its validator: what an adapter's layer or middleware holds.
///
/// Cheap to clone: one shared pointer.
#[derive(Clone, Debug)]
pub struct Gate {
    inner: Arc<Inner>,
}

/// Aligned to a cache line: an adapter clones the gate for each response it writes, and
/// those writes to the `Arc`'s counts must not share a line with what every request on
/// every core reads here.
#[derive(Clone, Debug)]
#[repr(align(64))]
struct Inner {
    validator: Validator,
    optional: bool,
    resource_metadata: Option<Arc<str>>,
    dpop: Option<Dpop>,
    /// The `algs` of the DPoP challenge, rendered once.
    dpop_algs: Option<String>,
    mtls: Option<Mtls>,
    /// What every token must also grant ([`Gate::require`]).
    requirement: Option<Requirement>,
    /// What the body of a refusal says ([`Gate::rejection_body`]).
    rejection_body: RejectionBody,
    /// The cookie a bearer token may come in ([`Gate::cookie`]).
    cookie: Option<Arc<str>>,
}

/// A gate that requires a valid bearer token of this validator on every request: what
/// the adapters' `new(validator)` builds.
impl From<Validator> for Gate {
    fn from(validator: Validator) -> Self {
        Gate::new(validator)
    }
}

impl Gate {
    /// Requires a valid token on every request.
    pub fn new(validator: Validator) -> Self {
        Gate {
            inner: Arc::new(Inner {
                validator,
                optional: false,
                resource_metadata: None,
                dpop: None,
                dpop_algs: None,
                mtls: None,
                requirement: None,
                rejection_body: RejectionBody::empty(),
                cookie: None,
            }),
        }
    }

    fn with(mut self, change: impl FnOnce(&mut Inner)) -> Self {
        change(Arc::make_mut(&mut self.inner));
        self
    }

    /// Lets requests without any credentials through, without claims; a token that is
    /// sent must still be valid (RFC 6750 section 3: a request with no credentials is
    /// not an error when the resource does not require them).
    pub fn optional(self) -> Self {
        self.with(|inner| inner.optional = true)
    }

    /// Names `metadata`'s document (RFC 9728 section 5.1 `resource_metadata`) in every
    /// challenge made by or inside this gate.
    pub fn resource_metadata(self, metadata: &ResourceMetadata) -> Self {
        let url: Arc<str> = metadata.metadata_url().into();
        self.with(|inner| inner.resource_metadata = Some(url))
    }

    /// Accepts DPoP-bound tokens with their proofs (RFC 9449): `Authorization: DPoP
    /// <token>` and one `DPoP` header. With [`Dpop::required`], bearer tokens are
    /// refused; otherwise both are accepted, and a bound token sent as a bearer token
    /// stays refused.
    pub fn dpop(self, dpop: Dpop) -> Self {
        let algs = dpop.algs();
        self.with(|inner| {
            inner.dpop = Some(dpop);
            inner.dpop_algs = Some(algs);
        })
    }

    /// Checks certificate-bound tokens (RFC 8705 section 3): a token whose `cnf` carries
    /// `x5t#S256` passes only with the client certificate it names, from `mtls`'s
    /// source; with [`Mtls::required`], a token without one is refused. Bearer and DPoP
    /// requests alike; the comparison runs on every request, token cache hits included.
    pub fn mtls(self, mtls: Mtls) -> Self {
        self.with(|inner| inner.mtls = Some(mtls))
    }

    /// Requires every token that passes this gate to meet `requirement` too (RFC 6750
    /// section 3.1: a token that does not is `403 insufficient_scope`); called twice,
    /// both apply. An [`optional`](Self::optional) gate still lets requests without
    /// credentials through: the requirement is on the tokens that are sent.
    ///
    /// ```
    /// # fn gated(validator: tokengate::Validator) {
    /// use tokengate::{Gate, Requirement};
    ///
    /// let gate = Gate::new(validator).require(Requirement::claim("tenant").equals("acme"));
    /// # }
    /// ```
    pub fn require(self, requirement: Requirement) -> Self {
        self.with(|inner| {
            inner.requirement = Some(match inner.requirement.take() {
                None => requirement,
                Some(first) => Requirement::all([first, requirement]),
            });
        })
    }

    /// Also takes the bearer token from the cookie `name` (for browser-facing APIs
    /// behind a backend-for-frontend that keeps the token in an `HttpOnly` cookie). A
    /// request that sends a token both in `Authorization` and in the cookie is `400
    /// invalid_request` (RFC 6750 section 2: one method per request), as is one with the
    /// cookie twice or oddly quoted; an empty cookie is no token.
    ///
    /// **CSRF**: a browser attaches cookies to every request to your API, cross-site ones
    /// included, so a cookie-authenticated API can be made to act by any page the user
    /// visits; a header token cannot. Set the cookie `Secure; HttpOnly; SameSite=Strict`
    /// (or `Lax`) with the `__Host-` prefix, and for every state-changing request require
    /// a header a cross-site form cannot send (a CSRF token, or check `Origin`):
    /// tokengate does not check it for you.
    ///
    /// ```
    /// # fn gated(validator: tokengate::Validator) {
    /// let gate = tokengate::Gate::new(validator).cookie("__Host-access_token");
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// If `name` is not a cookie name (an RFC 9110 `token`: RFC 6265 section 4.1.1): a
    /// configuration error, caught at startup.
    pub fn cookie(self, name: &str) -> Self {
        assert!(
            cookie::is_cookie_name(name),
            "Gate::cookie: {name:?} is not a cookie name (RFC 6265 section 4.1.1)"
        );
        let name: Arc<str> = name.into();
        self.with(|inner| inner.cookie = Some(name))
    }

    /// What the body of every refusal made by or inside this gate says: empty (the
    /// default), RFC 9457 problem details ([`RejectionBody::problem_json`]) or your own
    /// ([`RejectionBody::custom`]). Both adapters write it; the RFC 6750 challenge is
    /// sent either way.
    ///
    /// ```
    /// # fn gated(validator: tokengate::Validator) {
    /// use tokengate::Gate;
    /// use tokengate::rejection_body::RejectionBody;
    ///
    /// let gate = Gate::new(validator).rejection_body(RejectionBody::problem_json());
    /// # }
    /// ```
    pub fn rejection_body(self, body: RejectionBody) -> Self {
        self.with(|inner| inner.rejection_body = body)
    }

    /// The body of a refusal of `error` made by or inside this gate (`None`: empty), as
    /// [`rejection_body`](Self::rejection_body) says.
    pub fn body(&self, error: &Error) -> Option<Body> {
        self.inner.rejection_body.render(error)
    }

    /// The validator behind the gate.
    pub fn validator(&self) -> &Validator {
        &self.inner.validator
    }

    /// Whether requests without credentials pass.
    pub fn is_optional(&self) -> bool {
        self.inner.optional
    }

    /// The RFC 9728 metadata URL challenges carry, if one was set.
    pub fn resource_metadata_url(&self) -> Option<&Arc<str>> {
        self.inner.resource_metadata.as_ref()
    }

    /// The `WWW-Authenticate` value for a refusal of this gate (`None` for 503): the
    /// schemes it accepts, the error on the scheme the request used, and the metadata
    /// URL on each challenge.
    pub fn challenge(&self, refusal: &Refusal) -> Option<String> {
        refusal
            .error
            .www_authenticate_in(&self.challenges(refusal.scheme))
    }

    /// The `WWW-Authenticate` value for an error made inside the gate (a scope
    /// requirement, an extractor, a handler).
    pub fn challenge_inner(&self, error: &Error) -> Option<String> {
        error.www_authenticate_in(&self.challenges(None))
    }

    fn challenges(&self, scheme: Option<Scheme>) -> Challenges<'_> {
        let inner = &*self.inner;
        Challenges {
            bearer: !inner.dpop.as_ref().is_some_and(Dpop::is_required),
            dpop_algs: inner.dpop_algs.as_deref(),
            dpop_used: scheme == Some(Scheme::Dpop),
            resource_metadata: inner.resource_metadata.as_deref(),
        }
    }

    /// Decides one request: from memory when it can (most requests: no allocation, no
    /// copy of the token), or as a [`Decision::Pending`] that waits on the issuer.
    ///
    /// - no credentials, or a scheme the gate does not take: refused with a bare
    ///   challenge (`401`, RFC 6750 section 3.1), or passed without claims when the gate
    ///   is [`optional`](Self::optional);
    /// - a malformed request (two `Authorization` headers, a scheme without a token):
    ///   `400 invalid_request`, even when optional;
    /// - with [`cookie`](Self::cookie), the token in that cookie is a bearer token; a
    ///   token both there and in `Authorization` (`Bearer` or `DPoP`; another scheme is
    ///   no token) is `400 invalid_request` (RFC 6750 section 2);
    /// - a bearer token: exactly what [`Validator::validate`] says of it (a bound token
    ///   is refused: RFC 9449 section 7.2), or refused when DPoP is required;
    /// - a DPoP token: validated, then its proof checked against this request and the
    ///   token's `cnf.jkt`, and its `jti` recorded (RFC 9449 sections 4.3, 7.1);
    /// - with [`mtls`](Self::mtls), either kind: a token's `cnf.x5t#S256` compared with
    ///   this request's client certificate (RFC 8705 section 3).
    pub fn decide(&self, request: &RequestParts<'_>) -> Decision {
        let inner = &*self.inner;
        let located = match bearer::locate_credentials(request.authorization_values().iter()) {
            Ok(located) => located,
            Err(error) => return Decision::Reject(Refusal::new(error, None)),
        };
        // The hot path: a bearer token the token cache holds byte for byte, where nothing
        // else could decide first (no cookie to compare with, no certificate to present,
        // bearer tokens allowed). Its characters were checked when it was verified.
        if let Some((Scheme::Bearer, token)) = located {
            if inner.cookie.is_none()
                && inner.mtls.is_none()
                && !inner.dpop.as_ref().is_some_and(|dpop| dpop.is_required())
            {
                if let Some(result) = inner
                    .validator
                    .check_remembered(token.bytes(), Presented::Bearer)
                {
                    return self.admit_bearer(result, None);
                }
            }
        }
        // Everything else as `bearer::extract_credentials` and the rest say.
        let mut credentials = match located.map(|(scheme, token)| Ok((scheme, token.text()?))) {
            None => None,
            Some(Ok(credentials)) => Some(credentials),
            Some(Err(error)) => return Decision::Reject(Refusal::new(error, None)),
        };
        if let Some(name) = &inner.cookie {
            match cookie::token(request.header_values("cookie"), name) {
                Ok(None) => {}
                // RFC 6750 section 2: "Clients MUST NOT use more than one method to
                // transmit the token in each request."
                Ok(Some(_)) if credentials.is_some() => {
                    let error = InvalidRequest::MultipleTokenSources.into();
                    return Decision::Reject(Refusal::new(error, None));
                }
                Ok(Some(token)) => credentials = Some((Scheme::Bearer, token)),
                Err(error) => return Decision::Reject(Refusal::new(error, None)),
            }
        }
        let (scheme, token) = match (credentials, &inner.dpop) {
            (Some((Scheme::Dpop, _)), None) | (None, _) => {
                // No credentials of a scheme we take.
                return if inner.optional {
                    Decision::Pass(None)
                } else {
                    Decision::Reject(Refusal::new(Error::MissingCredentials, None))
                };
            }
            (Some((Scheme::Bearer, _)), Some(dpop)) if dpop.is_required() => {
                return Decision::Reject(Refusal::new(Error::MissingCredentials, None));
            }
            (Some(credentials), _) => credentials,
        };
        if scheme == Scheme::Bearer {
            return self.decide_bearer(request, token);
        }
        self.decide_dpop(request, token)
    }

    /// A bearer request: decided from memory when the validator can.
    fn decide_bearer(&self, request: &RequestParts<'_>, token: &str) -> Decision {
        let refuse = |error: Error| Refusal::new(error, Some(Scheme::Bearer));
        // RFC 8705 section 3: where client certificates are checked, a token bound to one
        // comes as a bearer token, and the certificate to compare is this request's.
        let (presented, certificate) = match &self.inner.mtls {
            None => (Presented::Bearer, None),
            Some(mtls) => match mtls.presented(request) {
                Ok(certificate) => (Presented::Certificate, certificate),
                Err(error) => return Decision::Reject(refuse(error)),
            },
        };
        // Routed and parsed once: what waits for the issuer carries the parsed token.
        match self.inner.validator.check(token, presented) {
            Verdict::Done(result) => self.admit_bearer(result, certificate),
            Verdict::Wait(waiting) => {
                let gate = self.clone();
                Decision::Pending(Pending {
                    future: Box::pin(async move {
                        waiting
                            .finish()
                            .await
                            .and_then(|claims| gate.check_certificate(claims, certificate))
                            .and_then(|claims| gate.meets_requirement(claims))
                            .map(Some)
                            .map_err(refuse)
                    }),
                    dpop_nonce: None,
                })
            }
        }
    }

    /// A bearer token's verdict from memory, then its certificate (with
    /// [`mtls`](Self::mtls)) and the gate's requirement.
    fn admit_bearer(
        &self,
        result: Result<Claims, Error>,
        certificate: Option<[u8; 32]>,
    ) -> Decision {
        let admitted = result
            .and_then(|claims| self.check_certificate(claims, certificate))
            .and_then(|claims| self.meets_requirement(claims));
        match admitted {
            Ok(claims) => Decision::Pass(Some(claims)),
            Err(error) => Decision::Reject(Refusal::new(error, Some(Scheme::Bearer))),
        }
    }

    /// RFC 8705 section 3, when the gate checks certificates: the token's `x5t#S256`
    /// against `certificate`, the SHA-256 of this request's client certificate. Never
    /// cached: every request brings its own certificate.
    fn check_certificate(
        &self,
        claims: Claims,
        certificate: Option<[u8; 32]>,
    ) -> Result<Claims, Error> {
        match &self.inner.mtls {
            Some(mtls) => mtls.check(&claims, certificate.as_ref()).map(|()| claims),
            None => Ok(claims),
        }
    }

    /// The gate's own [`require`](Self::require)ment, last: on claims whose token and
    /// binding were proven. Never cached (the claims may come from the token cache).
    fn meets_requirement(&self, claims: Claims) -> Result<Claims, Error> {
        match &self.inner.requirement {
            // Counted by the refusal the gate makes of it, not here.
            Some(requirement) => check_requirement(&claims, requirement).map(|()| claims),
            None => Ok(claims),
        }
    }

    /// A DPoP request: always pending, as the replay store must record the proof.
    fn decide_dpop(&self, request: &RequestParts<'_>, token: &str) -> Decision {
        let refuse = |error| Refusal::new(error, Some(Scheme::Dpop));
        // What the proof check needs, copied out of the request.
        let proof = match request.dpop_values() {
            HeaderValues::One(proof) => Some(proof.to_vec()),
            _ => None,
        };
        let method = request.method_str().to_owned();
        let target = request.target_str().to_owned();
        let token = token.to_owned();
        let Some(dpop) = &self.inner.dpop else {
            return Decision::Reject(refuse(Error::MissingCredentials));
        };
        // Read now, while the request is borrowed: the origin the proof signs (RFC 9449
        // section 4.3 step 9, behind a proxy) and the client certificate (RFC 8705).
        let origin = match dpop.origin_for(request) {
            Ok(origin) => origin,
            Err(error) => return Decision::Reject(refuse(error.into())),
        };
        let certificate = match self.inner.mtls.as_ref().map(|m| m.presented(request)) {
            None => None,
            Some(Ok(certificate)) => certificate,
            Some(Err(error)) => return Decision::Reject(refuse(error)),
        };
        let gate = self.clone();
        let dpop_nonce = dpop.fresh_nonce();
        Decision::Pending(Pending {
            dpop_nonce,
            future: Box::pin(async move {
                let inner = &*gate.inner;
                let Some(dpop) = &inner.dpop else {
                    return Err(refuse(Error::MissingCredentials));
                };
                let claims = inner
                    .validator
                    .validate_as(&token, Presented::Bound)
                    .await
                    .map_err(refuse)?;
                let claims = gate
                    .check_certificate(claims, certificate)
                    .map_err(refuse)?;
                // RFC 9449 section 6.1: a DPoP-bound token carries `cnf.jkt`; one that
                // does not is not a DPoP token, whatever the scheme says.
                let Some(jkt) = claims
                    .get("cnf")
                    .and_then(|cnf| cnf.get("jkt"))
                    .and_then(|jkt| jkt.as_str())
                else {
                    return Err(refuse(InvalidToken::InvalidClaim("cnf").into()));
                };
                let proofs = match &proof {
                    Some(proof) => HeaderValues::One(proof),
                    None => HeaderValues::Absent,
                };
                match dpop
                    .check(proofs, &method, &origin, &target, &token, Some(jkt))
                    .await
                {
                    Ok(()) => gate.meets_requirement(claims).map(Some).map_err(refuse),
                    Err(DpopRefusal::Proof(reason)) => {
                        tracing::debug!(?reason, "DPoP proof refused");
                        Err(refuse(Error::InvalidDpopProof(reason)))
                    }
                    Err(DpopRefusal::UseNonce(reason)) => {
                        // RFC 9449 section 9: 401 `use_dpop_nonce` and a nonce to use.
                        tracing::debug!(?reason, "DPoP proof without an accepted nonce");
                        let mut refusal = refuse(Error::UseDpopNonce(reason));
                        refusal.dpop_nonce = dpop.fresh_nonce();
                        Err(refusal)
                    }
                    Err(DpopRefusal::StoreUnavailable(_)) => {
                        Err(refuse(Error::ReplayStoreUnavailable {
                            retry_after: std::time::Duration::from_secs(1),
                        }))
                    }
                }
            }),
        })
    }
}

/// The scope check of a per-route requirement (`RequireScope` in both adapters): the
/// claims the gate put on the request must grant `scope` (RFC 6750 section 3.1
/// `insufficient_scope`, 403); a request that reached it without verified claims (no
/// gate outside it, or an optional one and no token) is `401`.
pub fn require_scope(claims: Option<&Claims>, scope: &str) -> Result<(), Error> {
    let result = match claims {
        Some(claims) => claims.require_scope(scope),
        None => Err(Error::MissingCredentials),
    };
    if let Err(error) = &result {
        crate::metrics::rejection(error);
    }
    result
}

/// A per-route requirement (`Require` in both adapters): the claims the gate put on the
/// request must meet `requirement` (403, RFC 6750 section 3.1); a request that reached it
/// without verified claims is `401`, as for [`require_scope`].
pub fn require(claims: Option<&Claims>, requirement: &Requirement) -> Result<(), Error> {
    let result = match claims {
        Some(claims) => check_requirement(claims, requirement),
        None => Err(Error::MissingCredentials),
    };
    if let Err(error) = &result {
        crate::metrics::rejection(error);
    }
    result
}

/// `requirement` checked against `claims`, a refusal logged.
fn check_requirement(claims: &Claims, requirement: &Requirement) -> Result<(), Error> {
    requirement.check(claims).inspect_err(|error| {
        // Debug, not info: a refusal under attack must not flood the logs. The error
        // names the requirement or the scopes, from the configuration; no claim value.
        tracing::debug!(%error, "token refused by a requirement");
    })
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::testing::MockIssuer;

    async fn gate_for(issuer: &MockIssuer) -> Gate {
        let validator = Validator::builder()
            .issuer(issuer.issuer())
            .audience(issuer.audience())
            // A rotated key may be fetched at once.
            .refresh_cooldown(std::time::Duration::ZERO)
            .build()
            .unwrap();
        validator.prefetch_keys().await.unwrap();
        Gate::new(validator)
    }

    #[tokio::test]
    async fn without_credentials_a_required_gate_refuses_and_an_optional_one_passes() {
        let issuer = MockIssuer::start().await;
        let gate = gate_for(&issuer).await;
        let basic = RequestParts::new().authorization([&b"Basic dXNlcjpwYXNz"[..]]);
        for request in [RequestParts::new(), basic] {
            assert!(matches!(
                gate.decide(&request),
                Decision::Reject(r) if *r.error() == Error::MissingCredentials
            ));
            assert!(matches!(
                gate.clone().optional().decide(&request),
                Decision::Pass(None)
            ));
        }
    }

    #[tokio::test]
    async fn an_optional_gate_still_refuses_a_bad_token_and_a_malformed_request() {
        let issuer = MockIssuer::start().await;
        let gate = gate_for(&issuer).await.optional();
        let expired = format!("Bearer {}", issuer.token().expires_in(-3600).sign());
        let request = RequestParts::new().authorization([expired.as_bytes()]);
        assert!(matches!(
            gate.decide(&request),
            Decision::Reject(r) if matches!(r.error(), Error::InvalidToken(_))
        ));
        let token = format!("Bearer {}", issuer.token().sign());
        let twice = RequestParts::new().authorization([token.as_bytes(), token.as_bytes()]);
        assert!(matches!(
            gate.decide(&twice),
            Decision::Reject(r) if matches!(r.error(), Error::InvalidRequest(_))
        ));
    }

    #[tokio::test]
    async fn a_token_of_an_unknown_key_is_decided_after_a_fetch() {
        let issuer = MockIssuer::start().await;
        let gate = gate_for(&issuer).await;
        let kid = issuer.rotate();
        let header = format!("Bearer {}", issuer.token().key(&kid).subject("bob").sign());
        let request = RequestParts::new().authorization([header.as_bytes()]);
        let Decision::Pending(pending) = gate.decide(&request) else {
            panic!("a new kid cannot be decided from memory");
        };
        let claims = pending.await.unwrap().unwrap();
        assert_eq!(claims.subject(), Some("bob"));
    }

    #[tokio::test]
    async fn require_scope_needs_claims_and_the_exact_scope() {
        let issuer = MockIssuer::start().await;
        let gate = gate_for(&issuer).await;
        let header = format!("Bearer {}", issuer.token().scope("read admin").sign());
        let request = RequestParts::new().authorization([header.as_bytes()]);
        let Decision::Pass(Some(claims)) = gate.decide(&request) else {
            panic!("a valid token passes");
        };
        assert_eq!(require_scope(Some(&claims), "admin"), Ok(()));
        assert!(matches!(
            require_scope(Some(&claims), "adm"),
            Err(Error::InsufficientScope { .. })
        ));
        assert_eq!(require_scope(None, "admin"), Err(Error::MissingCredentials));
    }
}
