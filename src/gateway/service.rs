//! What a connection to the gateway is served by: the [`edge`] rules first (one `Host`, no
//! loop), then its own endpoints (`/saml/*`, `/healthz`, `/readyz`, `/metrics`) through the axum
//! router, every other request straight to [`gate::fast_gate`].
//!
//! Proxied requests are nearly all the traffic, and going through the router first would cost
//! each of them the route lookup and its URL-params extension, the `ConnectInfo` extension (a
//! map allocated per request) and a handler future boxed twice. A path that only looks like an endpoint still reaches the router, whose
//! fallback is the same `fast_gate`, so what a request gets does not depend on which way in it
//! took.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use tower::ServiceExt;

use super::gate;
use super::state::AppState;
use crate::config::ConnectionLimits;
use crate::proxy::edge::{self, LoopMark};
use crate::server::connections::log_refusal;
use crate::server::{Answer, ServeApp};

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

    /// The state this gateway serves with.
    pub fn state(&self) -> &Arc<AppState> {
        &self.inner.state
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
    path.starts_with("/saml/")
        || matches!(path, "/healthz" | "/readyz" | "/metrics")
        || path == super::identity_token::JWKS_PATH
}

impl ServeApp for Gateway {
    fn limits(&self) -> ConnectionLimits {
        Gateway::limits(self)
    }

    fn tls(&self) -> Option<tokio_rustls::TlsAcceptor> {
        self.inner.state.tls.clone()
    }

    /// The [`edge`] rules first (with the loop check), then the endpoints through the router or
    /// every other request straight to the gate; logged when `[server] access_log` is on.
    fn answer(
        &self,
        client: SocketAddr,
        req: Request,
    ) -> impl Future<Output = Result<Response, Infallible>> + Send + use<> {
        let seen = self
            .inner
            .state
            .config
            .server
            .access_log
            .then(|| super::access_log::Seen::of(&req));
        let inner = Arc::clone(&self.inner);
        let way = Way::of(&inner, client, req);
        // The answer's future is made where it is awaited: made here and held until then, it
        // would be copied once more per request (it is kilobytes).
        async move {
            match seen {
                None => way.answer(&inner, client).await,
                Some(seen) => {
                    let answer = async move { way.answer(&inner, client).await };
                    seen.logged(Box::pin(answer)).await
                }
            }
        }
    }
}

/// Where a request goes once past the edge rules.
enum Way {
    /// Refused by them: this page.
    Refused(Response),
    /// To an endpoint, through the router (boxed: the router's future is large and these
    /// requests are few).
    Endpoint(Answer),
    /// To the gate, and on to the backend: the proxied requests, nearly all of them. Not boxed:
    /// hyper keeps the answer in storage the connection allocates once.
    Gate(Request),
}

impl Way {
    /// The [`edge`] rules, then the endpoints or the gate.
    fn of(inner: &Inner, client: SocketAddr, req: Request) -> Way {
        if let Err(refusal) = edge::check(req.version(), req.headers(), inner.loop_mark.as_ref()) {
            log_refusal(refusal, client, &req);
            Way::Refused(refusal.page())
        } else if is_endpoint_path(req.uri().path()) {
            let mut req = req;
            req.extensions_mut().insert(ConnectInfo(client));
            Way::Endpoint(Box::pin(inner.endpoints.clone().oneshot(req)))
        } else {
            Way::Gate(req)
        }
    }

    /// The answer (without the access log).
    async fn answer(self, inner: &Inner, client: SocketAddr) -> Result<Response, Infallible> {
        match self {
            Way::Refused(page) => Ok(page),
            Way::Endpoint(answer) => answer.await,
            Way::Gate(req) => Ok(gate::fast_gate(&inner.state, &inner.slow, client, req).await),
        }
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
            "/saml/slo",
            "/saml/slo/soap",
            "/.well-known/jwks.json",
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
