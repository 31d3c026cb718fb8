//! The reverse proxy: pooled HTTP/1.1 connections to the backend (the gateway's own exchange,
//! [`direct`], for `GET` and `HEAD` without a body to a plain-HTTP backend; hyper's client for
//! the rest, over TLS for `https://`, see [`tls`]), bodies streamed both ways, WebSocket upgrades
//! tunnelled, identity headers stripped and injected per the [`HeaderContract`].
//!
//! # What the backend receives
//!
//! Every request the gateway forwards (the edge rules of [`edge`] have already refused two `Host`
//! headers, an HTTP/1.1 request without one, and a request that passed this gateway before):
//! * the original method, path and query (below the backend URL's path, if it has one), as HTTP/1.1;
//! * `Host`: the authority of `[server] public_url` (the host the browser used, as configured), so that the
//!   application builds its links and redirects for the right site; the backend URL's authority where no
//!   public host is configured. Never the client's `Host`: the client cannot choose the site the backend serves
//!   or writes into its links;
//! * no hop-by-hop header (`Connection` and every header it names, `Keep-Alive`, `Proxy-*`, `TE`, `Trailer`,
//!   `Transfer-Encoding`, `Upgrade`), except `Connection: upgrade` + `Upgrade: websocket` for a WebSocket handshake;
//! * no client-sent identity header (any case, `_` form), then ours (see [`crate::identity::headers`]);
//! * forwarding facts set by the gateway ([`forwarding`]): `X-Forwarded-Proto` and `X-Forwarded-Host` from
//!   `public_url`, the same facts and the client address as one RFC 7239 `Forwarded` element, `X-Real-IP` (the
//!   address of the connection's peer), each replacing whatever the client sent; `X-Forwarded-For` with the
//!   peer appended to what came before (only its rightmost entry is the gateway's: trust earlier entries only
//!   as far as the proxies in front of the gateway are trusted);
//! * none of the client's copies of headers that servers and frameworks trust from a proxy: `X-Original-URL`,
//!   `X-Rewrite-URL`, `X-Forwarded-Prefix`, `X-Forwarded-Port`, `X-Forwarded-Ssl`, `X-Forwarded-Server`,
//!   `X-Remote-User`, `Remote-User`, every `X-Auth-Request-*`, any case, `_` for `-`;
//! * `Via` with the gateway's own entry appended (`1.1 samlgate-<8 hex digits>`, see [`edge`]), by which a
//!   request that comes back to the gateway is recognized and refused.
//!
//! So a backend may trust the identity headers, `Host`, `X-Forwarded-Host`, `X-Forwarded-Proto`, `Forwarded`,
//! `X-Real-IP` and the last entry of `X-Forwarded-For`, provided it can be reached only through the gateway.
//!
//! Failures answer a small generic page: 502 when the backend cannot be reached or answers garbage (a response
//! whose end is in doubt, see [`direct`], is garbage), 504 when it does not answer in time. The precise cause goes
//! to the log, never to the browser.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header::{CONNECTION, HOST, UPGRADE, VIA};
use axum::http::uri::{Authority, PathAndQuery, Scheme};
use axum::http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri, Version};
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::sync::oneshot;

use self::edge::LoopMark;
use self::pool::{BackendPool, PooledBody, SendError};
use crate::identity::headers::{self, HeaderContract, IdentityHeaders};

mod body;
mod deadline;
mod direct;
pub mod edge;
mod failure;
pub mod forwarding;
pub mod hop_by_hop;
mod idle;
pub mod pool;
pub mod tls;
mod upgrade;

use self::body::{BodyEnd, EndSignal, FirstThenRest};
use self::failure::Failure;
pub use self::failure::{error_page, new_reference};
use self::hop_by_hop::{is_websocket_upgrade, remove_hop_by_hop};
use self::upgrade::tunnel;
pub use self::upgrade::{LEASE_CHECK_EVERY, TunnelLease};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Gives the lease of a WebSocket tunnel (see [`TunnelLease`]); called only for a request that
/// upgrades.
pub type LeaseFor<'a> = &'a (dyn Fn() -> Option<Box<dyn TunnelLease>> + Sync);

/// How to reach the backend. Build with [`ProxyConfig::new`] and adjust the fields.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// `http://host:port` with an optional path prefix (`http://127.0.0.1:9000/app`).
    pub backend: String,
    /// TCP connect to the backend; beyond it the browser gets 504.
    pub connect_timeout: Duration,
    /// From the end of the request body to the backend's response headers; beyond it the browser gets 504.
    /// (Counted from the end of the body so that a long upload is not cut by it.)
    pub response_timeout: Duration,
    /// Longest silence of the client while it sends a request body; beyond it the backend
    /// request is abandoned and the client gets 408 (nginx's `client_body_timeout`).
    pub body_timeout: Duration,
    /// Longest a WebSocket tunnel may go without a byte either way; then both connections
    /// are closed.
    pub websocket_idle_timeout: Duration,
    /// How long an idle pooled backend connection is kept (it is closed within twice this).
    pub pool_idle_timeout: Duration,
    /// Idle connections kept per backend; size it to the expected concurrency.
    pub pool_max_idle_per_host: usize,
    /// The authority of `[server] public_url` (`app.example.com`, `app.example.com:8443`): the backend's `Host`
    /// and `X-Forwarded-Host`. `None`: `Host` is the backend URL's authority and `X-Forwarded-Host` is not sent.
    pub public_host: Option<String>,
    /// The gateway's `Via` entry, added to every forwarded request. `None`: no `Via` is added.
    pub loop_mark: Option<LoopMark>,
    /// Connection pools, one per event loop (see `server::event_loops`), so that a request and its
    /// backend connection run on the same thread. Threads that are not event loops use the first.
    pub pools: NonZeroUsize,
    /// For an `https://` backend: the CA and the client certificate (default: the system's
    /// roots, no client certificate).
    pub tls: tls::BackendTls,
    /// Send `GET` and `HEAD` without a body to a plain-HTTP backend over the gateway's own
    /// exchange ([`direct`]); `false` sends every request through hyper's client. Default
    /// `true`; `false` is there to compare the two.
    pub direct_exchange: bool,
}

impl ProxyConfig {
    /// Defaults: connect 5 s, response 60 s, request body silence 60 s, WebSocket silence 1 h, idle connections kept 90 s, up to 512 of them, one pool, no
    /// public host, no `Via` entry.
    pub fn new(backend: impl Into<String>) -> Self {
        Self {
            backend: backend.into(),
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(60),
            websocket_idle_timeout: Duration::from_secs(3600),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 512,
            public_host: None,
            loop_mark: None,
            pools: NonZeroUsize::MIN,
            tls: tls::BackendTls::default(),
            direct_exchange: true,
        }
    }
}

/// A backend URL the proxy cannot use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProxyConfigError {
    #[error("backend.url {url:?} is not a valid absolute URL: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("backend.url {url:?}: scheme {scheme:?} is not supported (http or https)")]
    UnsupportedScheme { url: String, scheme: String },
    #[error("backend.url {url:?} must not carry a query or fragment")]
    HasQuery { url: String },
    #[error("public host {host:?} is not a valid Host header value")]
    InvalidPublicHost { host: String },
    #[error("backend TLS: {0}")]
    Tls(#[from] tls::BackendTlsError),
}

/// About how many headers [`Proxy::forward_with_token`] adds to a request (identity headers,
/// the identity token, the forwarding headers, `Host`, `Via`).
const ADDED_HEADERS: usize = 16;

/// The reverse proxy to one backend. Cheap to clone (the connection pools are shared).
#[derive(Clone)]
pub struct Proxy {
    pool: Arc<BackendPool>,
    authority: Authority,
    /// The backend's `Host`: the public host, or the backend URL's authority.
    host: HeaderValue,
    /// `X-Forwarded-Host` and the `Forwarded` element's `host=`.
    public_host: Option<HeaderValue>,
    loop_mark: Option<LoopMark>,
    /// Path prefix without its trailing `/`; `None` when the backend URL has no path.
    base_path: Option<String>,
    response_timeout: Duration,
    body_timeout: Duration,
    websocket_idle_timeout: Duration,
    /// See [`ProxyConfig::direct_exchange`].
    direct_exchange: bool,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("backend", &format_args!("http://{}", self.authority))
            .field("base_path", &self.base_path)
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// Validate the backend URL and build the pooled client (no connection is made yet). Building needs no
    /// runtime; [`Proxy::forward`] must run inside a Tokio runtime.
    pub fn new(config: &ProxyConfig) -> Result<Self, ProxyConfigError> {
        let invalid = |reason: String| ProxyConfigError::InvalidUrl {
            url: config.backend.clone(),
            reason,
        };
        let uri: Uri = config
            .backend
            .parse()
            .map_err(|e: axum::http::uri::InvalidUri| invalid(e.to_string()))?;
        let scheme = uri
            .scheme()
            .cloned()
            .ok_or_else(|| invalid("no scheme".into()))?;
        if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
            return Err(ProxyConfigError::UnsupportedScheme {
                url: config.backend.clone(),
                scheme: scheme.to_string(),
            });
        }
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| invalid("no host".into()))?;
        if uri.query().is_some() || config.backend.contains('#') {
            return Err(ProxyConfigError::HasQuery {
                url: config.backend.clone(),
            });
        }
        let path = uri.path().trim_end_matches('/');
        let base_path = (!path.is_empty()).then(|| path.to_owned());

        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(config.connect_timeout));
        // Small requests and responses must not wait for Nagle: this is what keeps p99 low on loopback.
        connector.set_nodelay(true);
        connector.set_keepalive(Some(Duration::from_secs(60)));
        let https = scheme == Scheme::HTTPS;
        // The connector makes the TCP connection; TLS goes over it in the pool.
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let target = Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(format!("{}:{port}", authority.host()))
            .path_and_query("/")
            .build()
            .map_err(|e| invalid(e.to_string()))?;
        let public_host = match &config.public_host {
            Some(host) => Some(
                HeaderValue::from_str(host)
                    .map_err(|_| ProxyConfigError::InvalidPublicHost { host: host.clone() })?,
            ),
            None => None,
        };
        let host = match &public_host {
            Some(public) => public.clone(),
            None => {
                HeaderValue::from_str(authority.as_str()).map_err(|e| invalid(e.to_string()))?
            }
        };
        let mut pool = BackendPool::new(
            connector,
            target,
            config.pools,
            config.pool_idle_timeout,
            config.pool_max_idle_per_host,
        );
        if https {
            pool = pool.with_tls(tls::connector(&config.tls, authority.host())?);
        }
        Ok(Self {
            pool: Arc::new(pool),
            authority,
            host,
            public_host,
            loop_mark: config.loop_mark.clone(),
            base_path,
            response_timeout: config.response_timeout,
            body_timeout: config.body_timeout,
            websocket_idle_timeout: config.websocket_idle_timeout,
            direct_exchange: config.direct_exchange,
        })
    }

    /// The gateway's `Via` entry, by which the edge recognizes a request that comes back.
    pub fn loop_mark(&self) -> Option<&LoopMark> {
        self.loop_mark.as_ref()
    }

    /// Idle backend connections kept (for tests).
    pub fn idle_connections(&self) -> usize {
        self.pool.idle_count()
    }

    /// Forward one request to the backend and return its response, streaming both bodies.
    ///
    /// `identity` holds the identity headers encoded once per session
    /// ([`IdentityHeaders::encode`]), so nothing is encoded per request; it is `None` on routes
    /// that need no login, where identity headers are still stripped. `proto` is the scheme the
    /// browser used (`http` or `https`), for `X-Forwarded-Proto`.
    pub async fn forward(
        &self,
        req: Request<Body>,
        identity: Option<&IdentityHeaders>,
        contract: &HeaderContract,
        client_addr: SocketAddr,
        proto: &str,
    ) -> Response<Body> {
        self.forward_with_token(req, identity, None, contract, client_addr, proto, &|| None)
            .await
    }

    /// [`Proxy::forward`], with one more identity header set after the client's copies are
    /// stripped: the signed identity token (its name is among the contract's stripped names);
    /// and a WebSocket tunnel kept open only while the lease `lease_for` gives holds.
    #[allow(clippy::too_many_arguments)]
    pub async fn forward_with_token(
        &self,
        mut req: Request<Body>,
        identity: Option<&IdentityHeaders>,
        token: Option<(&HeaderName, HeaderValue)>,
        contract: &HeaderContract,
        client_addr: SocketAddr,
        proto: &str,
        lease_for: LeaseFor<'_>,
    ) -> Response<Body> {
        let websocket = is_websocket_upgrade(req.headers());
        let client_upgrade = websocket.then(|| hyper::upgrade::on(&mut req));
        let (mut parts, body) = req.into_parts();

        let received_as = parts.version;
        parts.uri = match self.backend_uri(&parts.uri) {
            Ok(uri) => uri,
            Err(e) => {
                let reference = failure::new_reference();
                tracing::warn!(error = %e, path = %parts.uri, %reference, "cannot build the backend URI for this request: 502");
                return error_page(StatusCode::BAD_GATEWAY, &reference);
            }
        };
        parts.version = Version::HTTP_11;

        let h = &mut parts.headers;
        remove_hop_by_hop(h);
        forwarding::remove_client_copies(h);
        headers::strip(contract, h);

        if !websocket
            && matches!(parts.method, Method::GET | Method::HEAD)
            && http_body::Body::is_end_stream(&body)
            && self.direct_exchange
            && self.pool.speaks_direct()
        {
            let head =
                self.direct_head(&mut parts, identity, token, client_addr, proto, received_as);
            return match self.send_direct(&head, &parts.method).await {
                Ok(response) => self.pass_on(response).await,
                Err(failure) => failure.into_page(&self.authority),
            };
        }

        let h = &mut parts.headers;
        // Room for what is added below (identity headers, forwarding headers, Host, Via) at
        // once: the map parsed from the request is sized for the request's own headers, and
        // would otherwise grow (rehashing every entry) once or twice per request. A failed
        // reservation only means the inserts below grow the map as they would have.
        let _ = h.try_reserve(ADDED_HEADERS);
        if let Some(identity) = identity {
            headers::inject(identity, h);
        }
        if let Some((name, value)) = token {
            h.insert(name.clone(), value);
        }
        forwarding::set_forwarded(h, client_addr, proto, self.public_host.as_ref());
        h.insert(HOST, self.host.clone());
        if let Some(mark) = &self.loop_mark {
            h.append(VIA, mark.via_entry(received_as));
        }
        if websocket {
            h.insert(CONNECTION, HeaderValue::from_static("upgrade"));
            h.insert(UPGRADE, HeaderValue::from_static("websocket"));
        }

        let response = match self.send(Request::from_parts(parts, body)).await {
            Ok(response) => response,
            Err(failure) => return failure.into_page(&self.authority),
        };

        match client_upgrade {
            Some(client_upgrade) if response.status() == StatusCode::SWITCHING_PROTOCOLS => tunnel(
                client_upgrade,
                response,
                lease_for(),
                self.websocket_idle_timeout,
            ),
            _ => self.pass_on(response).await,
        }
    }

    /// The backend's response as the browser gets it: without hop-by-hop headers, a small
    /// body's first frame with the head.
    async fn pass_on<B>(&self, response: Response<B>) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: Into<BoxError>,
    {
        let (mut parts, body) = response.into_parts();
        remove_hop_by_hop(&mut parts.headers);
        match self.first_frame_with_head(body).await {
            Ok(body) => Response::from_parts(parts, body),
            Err(failure) => failure.into_page(&self.authority),
        }
    }

    /// The head of a request without a body for the gateway's own exchange: what the hyper
    /// path adds to the request's header map (`Host`, the identity headers and token, the
    /// forwarding facts, `Via`) written after the map's own fields instead, the client's copies
    /// of each having been taken out of the map (by `strip`, by `take_facts`, and here for
    /// `Host`). Writing them costs no insertion into the map.
    #[allow(clippy::too_many_arguments)]
    fn direct_head(
        &self,
        parts: &mut axum::http::request::Parts,
        identity: Option<&IdentityHeaders>,
        token: Option<(&HeaderName, HeaderValue)>,
        client_addr: SocketAddr,
        proto: &str,
        received_as: Version,
    ) -> Vec<u8> {
        parts.headers.remove(HOST);
        let facts = forwarding::take_facts(
            &mut parts.headers,
            client_addr,
            proto,
            self.public_host.as_ref(),
        );
        let mut head = Vec::with_capacity(direct::HEAD_CAPACITY);
        direct::start_head(parts, &self.host, &mut head);
        for (name, value) in identity.into_iter().flat_map(IdentityHeaders::fields) {
            direct::field(&mut head, name.as_str(), value);
        }
        if let Some((name, value)) = &token {
            direct::field(&mut head, name.as_str(), value.as_bytes());
        }
        for (name, value) in facts.fields() {
            if let Some(value) = value {
                direct::field(&mut head, name.as_str(), value.as_bytes());
            }
        }
        if let Some(mark) = &self.loop_mark {
            direct::field(
                &mut head,
                VIA.as_str(),
                mark.via_entry(received_as).as_bytes(),
            );
        }
        direct::end_head(&mut head);
        head
    }

    /// Send `head` (see [`Proxy::direct_head`]) on the gateway's own connections (see
    /// [`direct`]), with the response timeout.
    async fn send_direct(
        &self,
        head: &[u8],
        method: &Method,
    ) -> Result<Response<direct::DirectBody>, Failure> {
        let deadline = tokio::time::Instant::now() + self.response_timeout;
        match self.pool.send_direct(head, method, Some(deadline)).await {
            Some(Ok(response)) => Ok(response),
            Some(Err(SendError::TimedOut)) => Err(Failure::Timeout(self.response_timeout)),
            Some(Err(e)) => Err(Failure::Send(e)),
            None => Err(Failure::Send(SendError::Exchange(
                direct::ExchangeError::NotPlainHttp,
            ))),
        }
    }

    /// Send, with the response timeout counted from the end of the request body.
    async fn send(&self, req: Request<Body>) -> Result<Response<PooledBody>, Failure> {
        use http_body::Body as _;
        if req.body().is_end_stream() {
            // The common GET: no body to wait for, no extra allocation.
            let deadline = tokio::time::Instant::now() + self.response_timeout;
            return match self.pool.send(req, Some(deadline)).await {
                Err(SendError::TimedOut) => Err(Failure::Timeout(self.response_timeout)),
                result => result.map_err(Failure::Send),
            };
        }
        // Boxed: requests with a body are the rarer kind, and this path's state (two sends in
        // flight at once) would otherwise make every request's future larger.
        Box::pin(self.send_with_body(req)).await
    }

    /// [`Proxy::send`] for a request with a body: the response timeout starts once the body
    /// has been sent (or dropped); a body the client stops sending for the body timeout is cut,
    /// and the client answered 408.
    async fn send_with_body(&self, req: Request<Body>) -> Result<Response<PooledBody>, Failure> {
        let (parts, body) = req.into_parts();
        let (done_tx, mut done_rx) = oneshot::channel();
        let body = Body::new(EndSignal::new(body, done_tx, self.body_timeout));
        let request = self.pool.send(Request::from_parts(parts, body), None);
        tokio::pin!(request);
        let stalled = Failure::ClientBodyStalled(self.body_timeout);
        tokio::select! {
            // hyper may report the cut body before the signal is looked at.
            result = &mut request => match result {
                Err(_) if done_rx.try_recv() == Ok(BodyEnd::Stalled) => Err(stalled),
                result => result.map_err(Failure::Send),
            },
            // Resolves when the body ended, failed, stalled or was dropped (e.g. the backend
            // answered early).
            end = &mut done_rx => match end {
                Ok(BodyEnd::Stalled) => Err(stalled),
                Err(_) => match tokio::time::timeout(self.response_timeout, request).await {
                    Ok(result) => result.map_err(Failure::Send),
                    Err(_) => Err(Failure::Timeout(self.response_timeout)),
                },
            },
        }
    }

    /// For a small body of known length, wait for its first frame so that the server writes the response head and
    /// body in one go (one syscall, one TCP segment) instead of two; this is most of the gap to nginx on small
    /// responses. At most one frame (what hyper already read) is held, and streams of unknown length (SSE,
    /// chunked downloads) are passed on at once, so nothing is buffered.
    async fn first_frame_with_head<B>(&self, mut body: B) -> Result<Body, Failure>
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: Into<BoxError>,
    {
        use http_body_util::BodyExt as _;
        match body.size_hint().exact() {
            Some(len) if len > 0 && len <= SMALL_BODY => {}
            _ => return Ok(Body::new(body)),
        }
        match tokio::time::timeout(self.response_timeout, body.frame()).await {
            Err(_) => Err(Failure::Timeout(self.response_timeout)),
            Ok(None) => Ok(Body::empty()),
            Ok(Some(Err(e))) => Err(Failure::Body(e.into())),
            Ok(Some(Ok(first))) => Ok(Body::new(FirstThenRest {
                first: Some(first),
                rest: body,
            })),
        }
    }

    /// The request's path and query below the backend URL's path, in origin form (the
    /// connection already goes to the backend; `Host` says which site).
    fn backend_uri(&self, original: &Uri) -> Result<Uri, axum::http::Error> {
        let path_and_query = match (&self.base_path, original.path_and_query()) {
            // No prefix: reuse the request's own path (a cheap reference-counted clone).
            (None, Some(pq)) => pq.clone(),
            (None, None) => PathAndQuery::from_static("/"),
            (Some(base), pq) => {
                let pq = pq.map_or("/", PathAndQuery::as_str);
                PathAndQuery::try_from(format!("{base}{pq}"))?
            }
        };
        Ok(Uri::from(path_and_query))
    }
}

/// Bodies up to this size (exact `Content-Length`) get their first frame sent with the head.
const SMALL_BODY: u64 = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(url: &str) -> Result<Proxy, ProxyConfigError> {
        Proxy::new(&ProxyConfig::new(url))
    }

    #[test]
    fn refuses_backend_urls_it_cannot_serve() {
        assert!(matches!(
            proxy("ftp://10.0.0.1"),
            Err(ProxyConfigError::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            proxy("127.0.0.1:9000"),
            Err(ProxyConfigError::InvalidUrl { .. })
        ));
        assert!(matches!(
            proxy("http://127.0.0.1:9000/?a=b"),
            Err(ProxyConfigError::HasQuery { .. })
        ));
    }

    #[test]
    fn rewrites_the_uri_below_the_backend_prefix() {
        let plain = proxy("http://127.0.0.1:9000").unwrap();
        let uri: Uri = "/app/x?y=1".parse().unwrap();
        assert_eq!(plain.backend_uri(&uri).unwrap(), "/app/x?y=1");
        let prefixed = proxy("http://127.0.0.1:9000/base/").unwrap();
        assert_eq!(prefixed.backend_uri(&uri).unwrap(), "/base/app/x?y=1");
    }
}
