//! What a connection to the gateway is served by: its own endpoints (`/saml/*`, `/healthz`,
//! `/readyz`, `/metrics`) through the axum router, every other request straight to
//! [`gate::fast_gate`].
//!
//! Proxied requests are nearly all the traffic, and going through the router first cost them
//! about a tenth of the gateway's instructions (callgrind): the route lookup and its URL-params
//! extension, the `ConnectInfo` extension (a map allocated per request), a handler future
//! boxed twice. A path that only looks like an endpoint still reaches the router, whose
//! fallback is the same `fast_gate`, so what a request gets does not depend on which way in it
//! took.

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use axum::serve::{IncomingStream, Listener};
use tower::{Service, ServiceExt};

use super::gate;
use super::state::AppState;

/// The gateway, ready to serve: see [`super::gateway`].
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    state: Arc<AppState>,
    /// The gateway's endpoints; its fallback is `fast_gate`.
    endpoints: Router,
    /// Behind the session layer: what `fast_gate` cannot answer from the session cache.
    slow: Router,
}

impl Gateway {
    pub(super) fn new(state: Arc<AppState>, endpoints: Router, slow: Router) -> Self {
        Self {
            inner: Arc::new(Inner {
                state,
                endpoints,
                slow,
            }),
        }
    }
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").finish_non_exhaustive()
    }
}

/// Might `path` be one of the gateway's endpoints? Every route [`super::gateway`] registers
/// must answer true here, or its requests would be proxied to the backend instead; a false
/// "true" costs only the router's lookup.
pub fn is_endpoint_path(path: &str) -> bool {
    path.starts_with("/saml/") || matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// The gateway for one connection from `client`.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
    client: SocketAddr,
}

type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl Service<Request> for Connection {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request) -> Answer {
        let inner = Arc::clone(&self.inner);
        let client = self.client;
        if is_endpoint_path(req.uri().path()) {
            req.extensions_mut().insert(ConnectInfo(client));
            Box::pin(inner.endpoints.clone().oneshot(req))
        } else {
            Box::pin(
                async move { Ok(gate::fast_gate(&inner.state, &inner.slow, client, req).await) },
            )
        }
    }
}

/// One [`Connection`] per accepted connection (axum's make-service).
impl<L> Service<IncomingStream<'_, L>> for Gateway
where
    L: Listener<Addr = SocketAddr>,
{
    type Response = Connection;
    type Error = Infallible;
    type Future = Ready<Result<Connection, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, stream: IncomingStream<'_, L>) -> Self::Future {
        ready(Ok(Connection {
            inner: Arc::clone(&self.inner),
            client: *stream.remote_addr(),
        }))
    }
}

/// What [`super::serve::serve_until`] serves: the gateway, or a plain router (the metrics
/// listener, the demo, the benchmarks' fixed-identity proxy), which gets the client address as
/// `ConnectInfo`.
#[derive(Clone, Debug)]
pub enum App {
    Gateway(Gateway),
    Router(Router),
}

impl From<Gateway> for App {
    fn from(gateway: Gateway) -> Self {
        App::Gateway(gateway)
    }
}

impl From<Router> for App {
    fn from(router: Router) -> Self {
        App::Router(router)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_is_recognized_and_application_paths_are_not() {
        for path in [
            "/healthz",
            "/readyz",
            "/metrics",
            "/saml/login",
            "/saml/acs",
            "/saml/logout",
            "/saml/metadata",
            "/saml/auth",
        ] {
            assert!(is_endpoint_path(path), "{path}");
        }
        for path in [
            "/",
            "/app",
            "/healthz/",
            "/saml",
            "/samlx/acs",
            "/api/metrics",
        ] {
            assert!(!is_endpoint_path(path), "{path}");
        }
    }
}
