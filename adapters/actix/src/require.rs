//! [`Require`]: actix-web middleware requiring a [`Requirement`] of the verified token
//! (scopes, claim values, roles, a check of your own). The core decides
//! ([`tokengate::gate::require`]); this middleware only carries the refusal out.
//!
//! ```no_run
//! use actix_web::{App, web};
//! use tokengate::Requirement;
//! use tokengate_actix::{Require, TokenGate};
//!
//! # fn app(validator: tokengate::Validator) {
//! let writers = Requirement::any_scope(["admin", "orders:write"]);
//! let app = App::new().service(
//!     web::scope("")
//!         .wrap(TokenGate::new(validator))
//!         .service(web::resource("/orders").wrap(Require::new(writers)).to(|| async { "ok" })),
//! );
//! # }
//! ```

use std::future::{Ready, ready};
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error as ActixError, HttpMessage};
use tokengate::Claims;
use tokengate::gate::require;
use tokengate::require::Requirement;

use crate::error::Rejection;
use crate::middleware::GateFuture;

/// Requires the verified token to meet a [`Requirement`]; else 403 (RFC 6750 section
/// 3.1). [`RequireScope`](crate::RequireScope) is the one-scope shortcut. Must sit inside
/// a [`TokenGate`](crate::TokenGate), which words the challenge and the body; requests
/// without verified claims get 401.
#[derive(Clone, Debug)]
pub struct Require {
    requirement: Requirement,
}

impl Require {
    /// Requires `requirement` of every request.
    pub fn new(requirement: Requirement) -> Self {
        Require { requirement }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Require
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = ActixError> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = ActixError;
    type Transform = RequireMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequireMiddleware {
            service: Rc::new(service),
            requirement: self.requirement.clone(),
        }))
    }
}

/// Requires the verified token to grant a scope; else 403 `insufficient_scope` naming it:
/// a [`Require`] of [`Requirement::scope`]. Must sit inside a [`TokenGate`](crate::TokenGate);
/// requests without verified claims get 401.
///
/// Its challenges carry RFC 9728 `resource_metadata` when the gate outside it was given
/// [`resource_metadata`](tokengate::Gate::resource_metadata): nothing to configure here.
#[derive(Clone, Debug)]
pub struct RequireScope(Require);

impl RequireScope {
    /// Requires `scope`, compared exactly (RFC 6749 section 3.3).
    pub fn new(scope: impl AsRef<str>) -> Self {
        RequireScope(Require::new(Requirement::scope(scope)))
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequireScope
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = ActixError> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = ActixError;
    type Transform = RequireMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        self.0.new_transform(service)
    }
}

/// The service made by [`RequireScope`]: a [`RequireMiddleware`] of one scope.
pub type RequireScopeMiddleware<S> = RequireMiddleware<S>;

/// The service made by [`Require`] (and [`RequireScope`]).
pub struct RequireMiddleware<S> {
    service: Rc<S>,
    requirement: Requirement,
}

impl<S, B> Service<ServiceRequest> for RequireMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = ActixError> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = ActixError;
    type Future = GateFuture<S::Future, B>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let verdict = require(request.extensions().get::<Claims>(), &self.requirement);
        match verdict {
            Ok(()) => GateFuture::inner(self.service.call(request), None),
            // Rendered plainly; the gate outside it rewrites the challenge on the way out.
            Err(error) => GateFuture::ready(
                request
                    .error_response(Rejection(error))
                    .map_into_right_body(),
            ),
        }
    }
}
