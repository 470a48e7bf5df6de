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
//! let Decision::Reject(error) = gate.decide(&RequestParts::new()) else { panic!() };
//! assert_eq!(error.www_authenticate().as_deref(), Some("Bearer"));
//!
//! // A valid token: the first request waits for the issuer's keys, later ones do not.
//! let header = format!("Bearer {}", issuer.token().subject("alice").sign());
//! let request = RequestParts::new().authorization([header.as_bytes()]);
//! let claims = gate.decide(&request).resolve().await.unwrap().unwrap();
//! assert_eq!(claims.subject(), Some("alice"));
//! assert!(matches!(gate.decide(&request), Decision::Pass(Some(_))));
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::bearer;
use crate::claims::Claims;
use crate::error::Error;
use crate::request::RequestParts;
use crate::resource_metadata::ResourceMetadata;
use crate::validator::Validator;

/// What the gate decided of one request.
#[derive(Debug)]
pub enum Decision {
    /// Let the request through, with the verified claims (`None`: an optional gate and
    /// no credentials).
    Pass(Option<Claims>),
    /// Refuse it with this error (its status and challenge are the response).
    Reject(Error),
    /// The decision needs the issuer (keys not fetched yet, an unknown `kid`, an
    /// introspection): await the [`Pending`] for it.
    Pending(Pending),
}

impl Decision {
    /// The final verdict, awaiting the issuer when the decision needs it.
    pub async fn resolve(self) -> Result<Option<Claims>, Error> {
        match self {
            Decision::Pass(claims) => Ok(claims),
            Decision::Reject(error) => Err(error),
            Decision::Pending(pending) => pending.await,
        }
    }
}

/// A decision that waits on the issuer. Owns what it needs (the token is copied), so an
/// adapter can hold it beside the request it belongs to.
pub struct Pending {
    future: Pin<Box<dyn Future<Output = Result<Option<Claims>, Error>> + Send>>,
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending").finish_non_exhaustive()
    }
}

impl Future for Pending {
    type Output = Result<Option<Claims>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.future.as_mut().poll(cx)
    }
}

/// The gate's settings and its validator: what an adapter's layer or middleware holds.
///
/// Cheap to clone (a validator handle and an optional shared URL).
#[derive(Clone, Debug)]
pub struct Gate {
    validator: Validator,
    optional: bool,
    resource_metadata: Option<Arc<str>>,
}

impl Gate {
    /// Requires a valid token on every request.
    pub fn new(validator: Validator) -> Self {
        Gate {
            validator,
            optional: false,
            resource_metadata: None,
        }
    }

    /// Lets requests without any credentials through, without claims; a token that is
    /// sent must still be valid (RFC 6750 section 3: a request with no credentials is
    /// not an error when the resource does not require them).
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// Names `metadata`'s document (RFC 9728 section 5.1 `resource_metadata`) in every
    /// challenge made by or inside this gate.
    pub fn resource_metadata(mut self, metadata: &ResourceMetadata) -> Self {
        self.resource_metadata = Some(metadata.metadata_url().into());
        self
    }

    /// The validator behind the gate.
    pub fn validator(&self) -> &Validator {
        &self.validator
    }

    /// Whether requests without credentials pass.
    pub fn is_optional(&self) -> bool {
        self.optional
    }

    /// The RFC 9728 metadata URL challenges carry, if one was set.
    pub fn resource_metadata_url(&self) -> Option<&Arc<str>> {
        self.resource_metadata.as_ref()
    }

    /// Decides one request: from memory when it can (most requests: no allocation, no
    /// copy of the token), or as a [`Decision::Pending`] that waits on the issuer.
    ///
    /// - no credentials, or another scheme than `Bearer`: refused with a bare challenge
    ///   (`401`, RFC 6750 section 3.1), or passed without claims when the gate is
    ///   [`optional`](Self::optional);
    /// - a malformed request (two `Authorization` headers, `Bearer` without a token):
    ///   `400 invalid_request`, even when optional;
    /// - a token: exactly what [`Validator::validate`] says of it.
    pub fn decide(&self, request: &RequestParts<'_>) -> Decision {
        let token = match bearer::extract(request.authorization_values().iter()) {
            Ok(Some(token)) => token,
            Ok(None) if self.optional => return Decision::Pass(None),
            Ok(None) => return Decision::Reject(Error::MissingCredentials),
            Err(error) => return Decision::Reject(error),
        };
        match self.validator.try_validate(token) {
            Some(Ok(claims)) => Decision::Pass(Some(claims)),
            Some(Err(error)) => Decision::Reject(error),
            None => {
                let validator = self.validator.clone();
                let token = token.to_owned();
                Decision::Pending(Pending {
                    future: Box::pin(async move { validator.validate(&token).await.map(Some) }),
                })
            }
        }
    }
}

/// The scope check of a per-route requirement (`RequireScope` in both adapters): the
/// claims the gate put on the request must grant `scope` (RFC 6750 section 3.1
/// `insufficient_scope`, 403); a request that reached it without verified claims (no
/// gate outside it, or an optional one and no token) is `401`.
pub fn require_scope(claims: Option<&Claims>, scope: &str) -> Result<(), Error> {
    match claims {
        Some(claims) => claims.require_scope(scope),
        None => Err(Error::MissingCredentials),
    }
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
                Decision::Reject(Error::MissingCredentials)
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
            Decision::Reject(Error::InvalidToken(_))
        ));
        let token = format!("Bearer {}", issuer.token().sign());
        let twice = RequestParts::new().authorization([token.as_bytes(), token.as_bytes()]);
        assert!(matches!(
            gate.decide(&twice),
            Decision::Reject(Error::InvalidRequest(_))
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
