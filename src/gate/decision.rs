//! What the gate decides of one request ([`Decision`]): pass, refuse ([`Refusal`]), or
//! wait for the issuer ([`Pending`]). The decision is made in `gate.rs`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::bearer::Scheme;
use crate::claims::Claims;
use crate::error::Error;

/// What the gate decided of one request.
#[derive(Debug)]
pub enum Decision {
    /// Let the request through, with the verified claims (`None`: an optional gate and
    /// no credentials).
    Pass(Option<Claims>),
    /// Refuse it (its status and challenge are the response:
    /// [`Gate::challenge`](super::Gate::challenge)).
    Reject(Refusal),
    /// The decision needs the issuer (keys not fetched yet, an unknown `kid`, an
    /// introspection) or the replay store (a DPoP proof): await the [`Pending`].
    Pending(Pending),
}

impl Decision {
    /// The final verdict, awaiting the issuer when the decision needs it.
    pub async fn resolve(self) -> Result<Option<Claims>, Refusal> {
        match self {
            Decision::Pass(claims) => Ok(claims),
            Decision::Reject(refusal) => Err(refusal),
            Decision::Pending(pending) => pending.await,
        }
    }
}

/// A refused request: the error, the scheme its credentials came with (so the
/// challenge puts the error on the right one, RFC 9449 section 7.1), and the DPoP nonce
/// the response must carry, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub(super) error: Error,
    pub(super) scheme: Option<Scheme>,
    pub(super) dpop_nonce: Option<String>,
}

impl Refusal {
    /// Every refusal of a gate is made here, and counted
    /// ([`tokengate_rejections_total`](crate::metrics)).
    pub(super) fn new(error: Error, scheme: Option<Scheme>) -> Self {
        crate::metrics::rejection(&error);
        Refusal {
            error,
            scheme,
            dpop_nonce: None,
        }
    }

    /// The value of the `DPoP-Nonce` response header (RFC 9449 section 9): a fresh nonce
    /// on a `use_dpop_nonce` refusal, `None` on every other.
    pub fn dpop_nonce(&self) -> Option<&str> {
        self.dpop_nonce.as_deref()
    }

    /// Why.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The error, for an adapter's own rejection type.
    pub fn into_error(self) -> Error {
        self.error
    }

    /// The scheme the request's credentials used, if any.
    pub fn scheme(&self) -> Option<Scheme> {
        self.scheme
    }
}

/// A decision that waits on the issuer or the replay store. Owns what it needs (the
/// token is copied), so an adapter can hold it beside the request it belongs to.
pub struct Pending {
    pub(super) future: Pin<Box<dyn Future<Output = Result<Option<Claims>, Refusal>> + Send>>,
    pub(super) dpop_nonce: Option<String>,
}

impl Pending {
    /// The value of the `DPoP-Nonce` header for the response when the request passes: the
    /// current nonce on a DPoP request to a gate that provides nonces
    /// ([`Dpop::use_nonce`](crate::binding::dpop::Dpop::use_nonce)),
    /// so a client that keeps the latest one is never refused for a rotation (RFC 9449
    /// section 8.2: a server may hand out a new nonce on any response). `None` otherwise.
    /// A refusal's own nonce is [`Refusal::dpop_nonce`].
    pub fn dpop_nonce(&self) -> Option<&str> {
        self.dpop_nonce.as_deref()
    }
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending").finish_non_exhaustive()
    }
}

impl Future for Pending {
    type Output = Result<Option<Claims>, Refusal>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.future.as_mut().poll(cx)
    }
}
