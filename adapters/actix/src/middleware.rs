//! [`TokenGate`]: actix-web middleware that requires a valid bearer token, and
//! [`RequireScope`]: middleware that requires a scope of it.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use tokengate_actix::{Claims, RequireScope, TokenGate};
//!
//! # async fn run() -> std::io::Result<()> {
//! let validator = tokengate::Validator::builder()
//!     .issuer("https://login.example.com")
//!     .audience("https://api.example.com")
//!     .build()
//!     .expect("valid configuration");
//! HttpServer::new(move || {
//!     App::new().service(
//!         web::scope("/api")
//!             .wrap(TokenGate::new(validator.clone()))
//!             .route("/me", web::get().to(|Claims(c): Claims| async move { web::Json(c) }))
//!             .service(
//!                 web::resource("/admin")
//!                     .wrap(RequireScope::new("admin"))
//!                     .route(web::get().to(|| async { "hello, admin" })),
//!             ),
//!     )
//! })
//! .bind("127.0.0.1:3000")?
//! .run()
//! .await
//! # }
//! ```

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::AUTHORIZATION;
use actix_web::{Error as ActixError, HttpMessage};
use tokengate::{Claims, Error, Validator, bearer};

use crate::error::Rejection;

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// Requires a valid bearer token on every request it wraps, putting the verified
/// [`tokengate::Claims`] into the request extensions.
///
/// Rejections (401, 400, 503) are answered through [`Rejection`]'s `ResponseError`,
/// without calling the wrapped service.
#[derive(Clone, Debug)]
pub struct TokenGate {
    validator: Validator,
    optional: bool,
}

impl TokenGate {
    /// Requires a valid token on every request.
    pub fn new(validator: Validator) -> Self {
        TokenGate {
            validator,
            optional: false,
        }
    }

    /// Lets requests without any credentials through, without claims; a token that is
    /// sent must still be valid. Pair with `Option<Claims<T>>` in handlers.
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
}

impl<S, B> Transform<S, ServiceRequest> for TokenGate
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = ActixError> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = ActixError;
    type Transform = TokenGateMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(TokenGateMiddleware {
            service: Rc::new(service),
            validator: self.validator.clone(),
            optional: self.optional,
        }))
    }
}

/// The service made by [`TokenGate`].
pub struct TokenGateMiddleware<S> {
    service: Rc<S>,
    validator: Validator,
    optional: bool,
}

impl<S, B> Service<ServiceRequest> for TokenGateMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = ActixError> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = ActixError;
    type Future = LocalBoxFuture<Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let headers = request.headers().get_all(AUTHORIZATION);
        let token = match bearer::extract(headers.map(|v| v.as_bytes())) {
            Ok(Some(token)) => token,
            Ok(None) if self.optional => {
                let service = Rc::clone(&self.service);
                return Box::pin(async move {
                    service.call(request).await.map(|r| r.map_into_left_body())
                });
            }
            Ok(None) => return reject(request, Error::MissingCredentials),
            Err(error) => return reject(request, error),
        };
        // Most requests are decided from memory, without copying the token.
        let decided = self.validator.try_validate(token);
        let service = Rc::clone(&self.service);
        match decided {
            Some(Ok(claims)) => {
                request.extensions_mut().insert(claims);
                Box::pin(async move { service.call(request).await.map(|r| r.map_into_left_body()) })
            }
            Some(Err(error)) => reject(request, error),
            None => {
                let token = token.to_owned();
                let validator = self.validator.clone();
                Box::pin(async move {
                    match validator.validate(&token).await {
                        Ok(claims) => {
                            request.extensions_mut().insert(claims);
                            service.call(request).await.map(|r| r.map_into_left_body())
                        }
                        Err(error) => Ok(request
                            .error_response(Rejection(error))
                            .map_into_right_body()),
                    }
                })
            }
        }
    }
}

fn reject<B: 'static>(
    request: ServiceRequest,
    error: Error,
) -> LocalBoxFuture<Result<ServiceResponse<EitherBody<B>>, ActixError>> {
    let response = request
        .error_response(Rejection(error))
        .map_into_right_body();
    Box::pin(ready(Ok(response)))
}

/// Requires the verified token to grant a scope; else 403 `insufficient_scope` naming it.
/// Must sit inside a [`TokenGate`]; requests without verified claims get 401.
#[derive(Clone, Debug)]
pub struct RequireScope {
    scope: Rc<str>,
}

impl RequireScope {
    /// Requires `scope`, compared exactly (RFC 6749 section 3.3).
    pub fn new(scope: impl AsRef<str>) -> Self {
        RequireScope {
            scope: scope.as_ref().into(),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequireScope
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = ActixError> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = ActixError;
    type Transform = RequireScopeMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequireScopeMiddleware {
            service: Rc::new(service),
            scope: Rc::clone(&self.scope),
        }))
    }
}

/// The service made by [`RequireScope`].
pub struct RequireScopeMiddleware<S> {
    service: Rc<S>,
    scope: Rc<str>,
}

impl<S, B> Service<ServiceRequest> for RequireScopeMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = ActixError> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = ActixError;
    type Future = LocalBoxFuture<Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let verdict = match request.extensions().get::<Claims>() {
            Some(claims) => claims.require_scope(&self.scope),
            None => Err(Error::MissingCredentials),
        };
        match verdict {
            Ok(()) => {
                let service = Rc::clone(&self.service);
                Box::pin(async move { service.call(request).await.map(|r| r.map_into_left_body()) })
            }
            Err(error) => reject(request, error),
        }
    }
}
