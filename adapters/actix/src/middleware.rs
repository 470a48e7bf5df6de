//! [`TokenGate`]: actix-web middleware that requires a valid bearer token (with
//! [`RequireScope`](crate::RequireScope) inside it, requiring a scope of that token).
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
use std::task::{Context, Poll, ready};

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use actix_web::{Error as ActixError, HttpMessage};
use pin_project_lite::pin_project;
use tokengate::binding::mtls::ClientCertificate;
use tokengate::gate::{Decision, Gate, Refusal};
use tokengate::request::RequestParts;

use crate::error::{BodyWritten, Rejection, content_type, rechallenge, set_challenge, with_body};

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// The `DPoP` request header (RFC 9449 section 4.1).
const DPOP: HeaderName = HeaderName::from_static("dpop");

/// The `DPoP-Nonce` response header (RFC 9449 section 8.1).
const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// Requires a valid bearer token on every request it wraps, putting the verified
/// [`tokengate::Claims`] into the request extensions.
///
/// What passes is decided by the core's [`Gate`]; rejections (401, 400, 503) are
/// answered through [`Rejection`]'s `ResponseError`, without calling the wrapped service.
#[derive(Clone, Debug)]
pub struct TokenGate {
    gate: Gate,
}

impl TokenGate {
    /// Carries out the decisions of `gate`: a [`Validator`](tokengate::Validator) alone (a
    /// valid bearer token on every request), or a [`Gate`] configured in the core —
    /// optional authentication, RFC 9728 `resource_metadata` in every challenge, DPoP —
    /// so that both adapters take the same settings from one place.
    ///
    /// ```
    /// # fn gated(validator: tokengate::Validator, metadata: &tokengate::ResourceMetadata) {
    /// use tokengate::Gate;
    /// use tokengate_actix::TokenGate;
    ///
    /// let required = TokenGate::new(validator.clone());
    /// let optional = TokenGate::new(Gate::new(validator).optional().resource_metadata(metadata));
    /// # }
    /// ```
    pub fn new(gate: impl Into<Gate>) -> Self {
        TokenGate { gate: gate.into() }
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
            gate: self.gate.clone(),
        }))
    }
}

/// The service made by [`TokenGate`].
pub struct TokenGateMiddleware<S> {
    service: Rc<S>,
    gate: Gate,
}

impl<S, B> Service<ServiceRequest> for TokenGateMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = ActixError> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = ActixError;
    type Future = GateFuture<S::Future, B>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let headers = request.headers();
        let lookup = |name: &str| headers.get_all(name).map(|v| v.as_bytes()).collect();
        let parts = RequestParts::new()
            .authorization(headers.get_all(AUTHORIZATION).map(|v| v.as_bytes()))
            .dpop(headers.get_all(DPOP).map(|v| v.as_bytes()))
            .method(request.method().as_str())
            .target(request.uri().path_and_query().map_or("/", |p| p.as_str()))
            .headers(&lookup)
            // What the connection knows: the client certificate the TLS acceptor recorded
            // with `HttpServer::on_connect` (RFC 8705), and the peer address.
            .client_certificate(request.conn_data().map(ClientCertificate::der))
            .peer(request.peer_addr().map(|peer| peer.ip()));
        // Most requests are decided from memory, without copying the token.
        match self.gate.decide(&parts) {
            Decision::Pass(claims) => {
                if let Some(claims) = claims {
                    request.extensions_mut().insert(claims);
                }
                self.call_inner(request)
            }
            Decision::Reject(refusal) => GateFuture::rejected(request, &self.gate, refusal),
            Decision::Pending(pending) => {
                let service = Rc::clone(&self.service);
                let gate = self.gate.clone();
                // The core's `DPoP-Nonce` for a request that passes.
                let dpop_nonce = pending.dpop_nonce().map(str::to_owned);
                GateFuture::waiting(Box::pin(async move {
                    match pending.await {
                        Ok(claims) => {
                            if let Some(claims) = claims {
                                request.extensions_mut().insert(claims);
                            }
                            let mut response = service.call(request).await?;
                            set_dpop_nonce(response.response_mut(), dpop_nonce.as_deref());
                            Ok(leaving_gate(response, Some(&gate)))
                        }
                        Err(refusal) => Ok(rejection(request, &gate, refusal)),
                    }
                }))
            }
        }
    }
}

impl<S, B> TokenGateMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = ActixError> + 'static,
    B: MessageBody + 'static,
{
    fn call_inner(&self, request: ServiceRequest) -> GateFuture<S::Future, B> {
        GateFuture::inner(self.service.call(request), Some(self.gate.clone()))
    }
}

pin_project! {
    /// The response future of [`TokenGateMiddleware`] and [`RequireScopeMiddleware`]: the
    /// inner service's future (most requests, decided from memory, with no allocation), a
    /// ready rejection, or a validation that had to wait for the issuer's keys.
    pub struct GateFuture<F, B> {
        #[pin]
        state: GateState<F, B>,
    }
}

pin_project! {
    #[project = GateProj]
    enum GateState<F, B> {
        Inner { #[pin] future: F, gate: Option<Gate> },
        Ready { response: Option<ServiceResponse<EitherBody<B>>> },
        Waiting { future: LocalBoxFuture<Result<ServiceResponse<EitherBody<B>>, ActixError>> },
    }
}

impl<F, B> GateFuture<F, B> {
    pub(crate) fn inner(future: F, gate: Option<Gate>) -> Self {
        GateFuture {
            state: GateState::Inner { future, gate },
        }
    }

    fn waiting(future: LocalBoxFuture<Result<ServiceResponse<EitherBody<B>>, ActixError>>) -> Self {
        GateFuture {
            state: GateState::Waiting { future },
        }
    }

    fn rejected(request: ServiceRequest, gate: &Gate, refusal: Refusal) -> Self {
        GateFuture::ready(rejection(request, gate, refusal))
    }

    pub(crate) fn ready(response: ServiceResponse<EitherBody<B>>) -> Self {
        GateFuture {
            state: GateState::Ready {
                response: Some(response),
            },
        }
    }
}

impl<F, B> Future for GateFuture<F, B>
where
    F: Future<Output = Result<ServiceResponse<B>, ActixError>>,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, ActixError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            GateProj::Inner { future, gate } => {
                let response = ready!(future.poll(cx))?;
                Poll::Ready(Ok(leaving_gate(response, gate.as_ref())))
            }
            GateProj::Ready { response } => Poll::Ready(Ok(response
                .take()
                .expect("GateFuture polled after completion"))),
            GateProj::Waiting { future } => future.as_mut().poll(cx),
        }
    }
}

/// A response from inside the gate: a [`Rejection`] made there (by [`RequireScope`](crate::RequireScope), an
/// extractor or a handler) learns the gate's challenge here.
fn leaving_gate<B>(
    mut response: ServiceResponse<B>,
    gate: Option<&Gate>,
) -> ServiceResponse<EitherBody<B>> {
    if let Some(gate) = gate {
        rechallenge(&mut response, gate);
    }
    with_body(response, gate)
}

/// The gate's own refusal, challenged as the gate says.
fn rejection<B>(
    request: ServiceRequest,
    gate: &Gate,
    refusal: Refusal,
) -> ServiceResponse<EitherBody<B>> {
    let challenge = gate.challenge(&refusal);
    let nonce = refusal.dpop_nonce().map(str::to_owned);
    let error = refusal.into_error();
    let body = gate.body(&error);
    let mut response = request.error_response(Rejection(error));
    set_challenge(response.response_mut(), challenge);
    set_dpop_nonce(response.response_mut(), nonce.as_deref());
    let mut response = match body.and_then(|body| Some((content_type(&body)?, body.bytes))) {
        Some((content_type, bytes)) => {
            let mut response = response.map_body(|_, _| BoxBody::new(bytes));
            response.headers_mut().insert(CONTENT_TYPE, content_type);
            response
        }
        None => response,
    };
    response.response_mut().extensions_mut().insert(BodyWritten);
    response.map_into_right_body()
}

/// Writes the core's `DPoP-Nonce` (RFC 9449 sections 8.1 and 9), if it gave one: exactly
/// one header, replacing any the inner service set.
fn set_dpop_nonce<B>(response: &mut actix_web::HttpResponse<B>, nonce: Option<&str>) {
    if let Some(value) = nonce.and_then(|n| HeaderValue::from_str(n).ok()) {
        response.headers_mut().insert(DPOP_NONCE, value);
    }
}
