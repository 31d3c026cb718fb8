//! What a connection to the gateway is served by: the [`edge`] rules first (one `Host`, no
//! loop), then its own endpoints (`/saml/*`, `/healthz`, `/readyz`, `/metrics`) through the axum
//! router, every other request straight to [`gate::fast_gate`].
//!
//! Proxied requests are nearly all the traffic, and going through the router first cost them
//! about a tenth of the gateway's instructions (callgrind): the route lookup and its URL-params
//! extension, the `ConnectInfo` extension (a map allocated per request), a handler future
//! boxed twice. A path that only looks like an endpoint still reaches the router, whose
//! fallback is the same `fast_gate`, so what a request gets does not depend on which way in it
//! took.

use std::convert::Infallible;
use std::future::{Future, ready};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use tower::ServiceExt;

use super::connection_limits::HeadClock;
use super::edge::{self, EdgeRefusal, LoopMark};
use super::gate;
use super::state::AppState;
use crate::config::ConnectionLimits;

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
    /// The `Via` entry the proxy adds, by which a request that comes back is refused.
    loop_mark: Option<LoopMark>,
}

impl Gateway {
    pub(super) fn new(state: Arc<AppState>, endpoints: Router, slow: Router) -> Self {
        let loop_mark = state.proxy.loop_mark().cloned();
        Self {
            inner: Arc::new(Inner {
                state,
                endpoints,
                slow,
                loop_mark,
            }),
        }
    }

    /// The configured timeouts and connection cap.
    pub fn limits(&self) -> ConnectionLimits {
        self.inner.state.config.server.connections
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

/// What serves one connection from `client`: the [`edge`] rules first, then the gateway (or
/// the router).
#[derive(Clone)]
pub struct Connection {
    app: App,
    client: SocketAddr,
    /// Told when a request head arrives (see [`HeadClock`]).
    head: Arc<HeadClock>,
}

impl Connection {
    pub fn new(app: App, client: SocketAddr, head: Arc<HeadClock>) -> Self {
        Self { app, client, head }
    }
}

type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl hyper::service::Service<hyper::Request<hyper::body::Incoming>> for Connection {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, req: hyper::Request<hyper::body::Incoming>) -> Answer {
        self.head.head_arrived();
        let mut req: Request = req.map(Body::new);
        let client = self.client;
        let mark = match &self.app {
            App::Gateway(gateway) => gateway.inner.loop_mark.as_ref(),
            App::Router(_) => None,
        };
        if let Err(refusal) = edge::check(req.version(), req.headers(), mark) {
            log_refusal(refusal, client, &req);
            return Box::pin(ready(Ok(refusal.page())));
        }
        match &self.app {
            App::Gateway(gateway) => {
                let inner = Arc::clone(&gateway.inner);
                if is_endpoint_path(req.uri().path()) {
                    req.extensions_mut().insert(ConnectInfo(client));
                    Box::pin(inner.endpoints.clone().oneshot(req))
                } else {
                    Box::pin(async move {
                        Ok(gate::fast_gate(&inner.state, &inner.slow, client, req).await)
                    })
                }
            }
            App::Router(router) => {
                req.extensions_mut().insert(ConnectInfo(client));
                Box::pin(router.clone().oneshot(req))
            }
        }
    }
}

fn log_refusal(refusal: EdgeRefusal, client: SocketAddr, req: &Request) {
    let path = req.uri().path();
    match refusal {
        EdgeRefusal::Loop => {
            let via: Vec<&str> = req
                .headers()
                .get_all(axum::http::header::VIA)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            tracing::warn!(
                %client,
                path,
                via = via.join(", "),
                refusal = refusal.kind(),
                "{refusal}: backend.url leads back to this gateway; 508"
            );
        }
        EdgeRefusal::TwoHosts | EdgeRefusal::NoHost => {
            tracing::info!(%client, path, refusal = refusal.kind(), "{refusal}: 400");
        }
    }
}

/// What [`super::serve::serve_until`] serves: the gateway, or a plain router (the metrics
/// listener, the demo, the benchmarks' fixed-identity proxy), which gets the client address as
/// `ConnectInfo`, the default [`ConnectionLimits`], and no loop check (it adds no `Via`).
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

impl App {
    /// The timeouts and cap to serve with: the gateway's configured ones, the defaults for a router.
    pub fn limits(&self) -> ConnectionLimits {
        match self {
            App::Gateway(gateway) => gateway.limits(),
            App::Router(_) => ConnectionLimits::default(),
        }
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
