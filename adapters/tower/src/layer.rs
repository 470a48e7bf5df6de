//! [`TokenGateLayer`], [`TokenGate`] and [`ResponseFuture`]: bearer-token authentication
//! for any tower service over `http` requests.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use http::{Request, Response, StatusCode, header::AUTHORIZATION};
//! use tokengate::testing::MockIssuer;
//! use tokengate_tower::TokenGateLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! let issuer = MockIssuer::start().await;
//! let validator = tokengate::Validator::builder()
//!     .issuer(issuer.issuer())
//!     .audience(issuer.audience())
//!     .build()
//!     .unwrap();
//!
//! let service = ServiceBuilder::new()
//!     .layer(TokenGateLayer::new(validator))
//!     .service(service_fn(|req: Request<String>| async move {
//!         let claims = req.extensions().get::<tokengate::Claims>().unwrap();
//!         Ok::<_, std::convert::Infallible>(Response::new(format!("{:?}", claims.subject())))
//!     }));
//!
//! let token = issuer.token().subject("alice").sign();
//! let request = Request::builder()
//!     .header(AUTHORIZATION, format!("Bearer {token}"))
//!     .body(String::new())
//!     .unwrap();
//! let response = service.clone().oneshot(request).await.unwrap();
//! assert_eq!(response.body(), "Some(\"alice\")");
//!
//! let anonymous = service.oneshot(Request::new(String::new())).await.unwrap();
//! assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
//! # }
//! ```

use std::future::Future;
use std::net::IpAddr;
#[cfg(feature = "axum")]
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::header::AUTHORIZATION;
use http::{HeaderName, Request, Response};
use pin_project_lite::pin_project;
use tokengate::binding::mtls::ClientCertificate;
use tokengate::gate::{Decision, Gate, Pending, Refusal};
use tokengate::request::{PeerAddr, RequestParts};
use tower_layer::Layer;
use tower_service::Service;

use crate::response::{rechallenge, refusal, set_dpop_nonce};

/// The `DPoP` request header (RFC 9449 section 4.1).
static DPOP: HeaderName = HeaderName::from_static("dpop");

/// Applies [`TokenGate`] to a service: every request must carry a valid bearer token.
///
/// The verified [`Claims`](tokengate::Claims) are put into the request's extensions for
/// the handler. What passes is decided by the core's [`Gate`]; this layer only carries
/// the decision out.
#[derive(Clone, Debug)]
pub struct TokenGateLayer {
    gate: Gate,
}

impl TokenGateLayer {
    /// Carries out the decisions of `gate`: a [`Validator`](tokengate::Validator) alone (a valid bearer token on
    /// every request), or a [`Gate`] configured in the core — optional authentication,
    /// RFC 9728 `resource_metadata` in every challenge, DPoP — so that both adapters
    /// take the same settings from one place.
    ///
    /// ```
    /// # fn gated(validator: tokengate::Validator, metadata: &tokengate::ResourceMetadata) {
    /// use tokengate::Gate;
    /// use tokengate_tower::TokenGateLayer;
    ///
    /// let required = TokenGateLayer::new(validator.clone());
    /// let optional = TokenGateLayer::new(Gate::new(validator).optional().resource_metadata(metadata));
    /// # }
    /// ```
    pub fn new(gate: impl Into<Gate>) -> Self {
        TokenGateLayer { gate: gate.into() }
    }
}

impl<S> Layer<S> for TokenGateLayer {
    type Service = TokenGate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TokenGate {
            inner,
            gate: self.gate.clone(),
        }
    }
}

/// Authenticates each request's bearer token before calling the inner service.
///
/// Rejections are responses (`401`, `400`, `503`) with the RFC 6750 challenge, the body
/// the gate's [`RejectionBody`](tokengate::rejection_body::RejectionBody) renders (empty by
/// default; written into axum's `Body`, `String` and `Vec<u8>` bodies) and the
/// [`tokengate::Error`] in their extensions, so the inner service's error type is
/// untouched and an outer layer can log or rewrite them.
#[derive(Clone, Debug)]
pub struct TokenGate<S> {
    inner: S,
    gate: Gate,
}

impl<S> TokenGate<S> {
    /// Wraps `inner`, carrying out the decisions of `gate` ([`TokenGateLayer::new`]).
    pub fn new(inner: S, gate: impl Into<Gate>) -> Self {
        TokenGateLayer::new(gate).layer(inner)
    }

    /// A [`TokenGateLayer`] for `gate`.
    pub fn layer(gate: impl Into<Gate>) -> TokenGateLayer {
        TokenGateLayer::new(gate)
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for TokenGate<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: Default + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let headers = request.headers();
        let lookup = |name: &str| headers.get_all(name).iter().map(|v| v.as_bytes()).collect();
        let extensions = request.extensions();
        let parts = RequestParts::new()
            .authorization(headers.get_all(AUTHORIZATION).iter().map(|v| v.as_bytes()))
            .dpop(headers.get_all(&DPOP).iter().map(|v| v.as_bytes()))
            .method(request.method().as_str())
            .target(request.uri().path_and_query().map_or("/", |p| p.as_str()))
            .headers(&lookup)
            // What the connection knows: the TLS acceptor's client certificate (RFC 8705)
            // and the peer address (whose forwarding headers the gate may believe).
            .client_certificate(extensions.get().map(ClientCertificate::der))
            .peer(peer_addr(extensions));
        // A gRPC client is refused in gRPC's terms (`grpc.rs`).
        let grpc = crate::grpc::is_grpc(headers);
        // Most requests are decided from memory: the inner service, polled ready, is
        // called right here (no clone of it, no future allocated).
        match self.gate.decide(&parts) {
            Decision::Pass(claims) => {
                if let Some(claims) = claims {
                    request.extensions_mut().insert(claims);
                }
                ResponseFuture::calling(self.inner.call(request), &self.gate)
            }
            Decision::Reject(refusal) => ResponseFuture::rejected(refusal, &self.gate, grpc),
            Decision::Pending(pending) => {
                // The inner service is called later, from the future: tower's advice is
                // to take the one that was polled ready and leave a clone in its place.
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                ResponseFuture {
                    state: State::Validating {
                        pending,
                        inner: Some(inner),
                        request: Some(request),
                    },
                    gate: self.gate.clone(),
                    grpc,
                }
            }
        }
    }
}

/// The peer address: axum's `ConnectInfo<SocketAddr>`, or a [`PeerAddr`] any stack can
/// insert.
fn peer_addr(extensions: &http::Extensions) -> Option<IpAddr> {
    #[cfg(feature = "axum")]
    if let Some(info) = extensions.get::<axum::extract::ConnectInfo<SocketAddr>>() {
        return Some(info.0.ip());
    }
    extensions.get::<PeerAddr>().map(|peer| peer.0.ip())
}

pin_project! {
    /// The response future of [`TokenGate`]: validation, then the inner service.
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: State<S, B>,
        gate: Gate,
        // The request speaks gRPC: a refusal is written as gRPC's.
        grpc: bool,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<Request<B>>,
    {
        Validating {
            #[pin]
            pending: Pending,
            inner: Option<S>,
            request: Option<Request<B>>,
        },
        Calling {
            #[pin]
            future: S::Future,
            // The core's `DPoP-Nonce` for a request that passed.
            dpop_nonce: Option<String>,
        },
        Rejected {
            refusal: Option<Refusal>,
        },
    }
}

impl<S, B> ResponseFuture<S, B>
where
    S: Service<Request<B>>,
{
    fn calling(future: S::Future, gate: &Gate) -> Self {
        ResponseFuture {
            state: State::Calling {
                future,
                dpop_nonce: None,
            },
            gate: gate.clone(),
            // Only a refusal of the gate's own is written here.
            grpc: false,
        }
    }

    fn rejected(refusal: Refusal, gate: &Gate, grpc: bool) -> Self {
        ResponseFuture {
            state: State::Rejected {
                refusal: Some(refusal),
            },
            gate: gate.clone(),
            grpc,
        }
    }
}

impl<S, B, ResBody> Future for ResponseFuture<S, B>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: Default + 'static,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Validating {
                    mut pending,
                    inner,
                    request,
                } => {
                    let outcome = ready!(pending.as_mut().poll(cx));
                    let (Some(mut inner), Some(mut request)) = (inner.take(), request.take())
                    else {
                        unreachable!("Validating is left as soon as validation completes")
                    };
                    match outcome {
                        Ok(claims) => {
                            if let Some(claims) = claims {
                                request.extensions_mut().insert(claims);
                            }
                            let dpop_nonce = pending.dpop_nonce().map(str::to_owned);
                            let future = inner.call(request);
                            this.state.set(State::Calling { future, dpop_nonce });
                        }
                        Err(refusal) => this.state.set(State::Rejected {
                            refusal: Some(refusal),
                        }),
                    }
                }
                StateProj::Calling { future, dpop_nonce } => {
                    let mut response = ready!(future.poll(cx))?;
                    // A rejection made inside the gate learns the gate's challenge here.
                    rechallenge(&mut response, this.gate);
                    set_dpop_nonce(&mut response, dpop_nonce.as_deref());
                    return Poll::Ready(Ok(response));
                }
                StateProj::Rejected { refusal: rejected } => {
                    let rejected = rejected
                        .take()
                        .expect("ResponseFuture polled after completion");
                    let mut response = refusal(this.gate, &rejected);
                    if *this.grpc {
                        crate::grpc::into_grpc(&mut response, rejected.error());
                    }
                    return Poll::Ready(Ok(response));
                }
            }
        }
    }
}
