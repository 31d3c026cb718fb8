//! The reverse proxy: one pooled HTTP/1.1 client to the backend, bodies streamed both ways, WebSocket upgrades
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
//! Failures answer a small generic page: 502 when the backend cannot be reached or answers garbage, 504 when it
//! does not answer in time. The precise cause goes to the log, never to the browser.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header::{
    CACHE_CONTROL, CONNECTION, CONTENT_TYPE, HOST, TE, TRAILER, TRANSFER_ENCODING, UPGRADE, VIA,
};
use axum::http::uri::{Authority, PathAndQuery, Scheme};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Uri, Version};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

use self::edge::LoopMark;
use self::pool::{BackendPool, PooledBody, SendError};
use crate::identity::headers::{self, HeaderContract, IdentityHeaders};

pub mod edge;
pub mod forwarding;
pub mod pool;

const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");

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
}

impl ProxyConfig {
    /// Defaults: connect 5 s, response 60 s, idle connections kept 90 s, up to 512 of them, one pool, no
    /// public host, no `Via` entry.
    pub fn new(backend: impl Into<String>) -> Self {
        Self {
            backend: backend.into(),
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(60),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 512,
            public_host: None,
            loop_mark: None,
            pools: NonZeroUsize::MIN,
        }
    }
}

/// A backend URL the proxy cannot use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProxyConfigError {
    #[error("backend.url {url:?} is not a valid absolute URL: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error(
        "backend.url {url:?}: scheme {scheme:?} is not supported (only http; put TLS to the backend on loopback or a sidecar)"
    )]
    UnsupportedScheme { url: String, scheme: String },
    #[error("backend.url {url:?} must not carry a query or fragment")]
    HasQuery { url: String },
    #[error("public host {host:?} is not a valid Host header value")]
    InvalidPublicHost { host: String },
}

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
        if scheme != Scheme::HTTP {
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
        let target = Uri::builder()
            .scheme(scheme)
            .authority(authority.clone())
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
        let pool = BackendPool::new(
            connector,
            target,
            config.pools,
            config.pool_idle_timeout,
            config.pool_max_idle_per_host,
        );
        Ok(Self {
            pool: Arc::new(pool),
            authority,
            host,
            public_host,
            loop_mark: config.loop_mark.clone(),
            base_path,
            response_timeout: config.response_timeout,
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
        mut req: Request<Body>,
        identity: Option<&IdentityHeaders>,
        contract: &HeaderContract,
        client_addr: SocketAddr,
        proto: &str,
    ) -> Response<Body> {
        let websocket = is_websocket_upgrade(req.headers());
        let client_upgrade = websocket.then(|| hyper::upgrade::on(&mut req));
        let (mut parts, body) = req.into_parts();

        let received_as = parts.version;
        parts.uri = match self.backend_uri(&parts.uri) {
            Ok(uri) => uri,
            Err(e) => {
                tracing::warn!(error = %e, path = %parts.uri, "cannot build the backend URI for this request");
                return error_page(StatusCode::BAD_GATEWAY);
            }
        };
        parts.version = Version::HTTP_11;

        let h = &mut parts.headers;
        remove_hop_by_hop(h);
        forwarding::remove_client_copies(h);
        headers::strip(contract, h);
        if let Some(identity) = identity {
            headers::inject(identity, h);
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
            Some(client_upgrade) if response.status() == StatusCode::SWITCHING_PROTOCOLS => {
                tunnel(client_upgrade, response)
            }
            _ => {
                let (mut parts, body) = response.into_parts();
                remove_hop_by_hop(&mut parts.headers);
                match self.first_frame_with_head(body).await {
                    Ok(body) => Response::from_parts(parts, body),
                    Err(failure) => failure.into_page(&self.authority),
                }
            }
        }
    }

    /// Send, with the response timeout counted from the end of the request body.
    async fn send(&self, req: Request<Body>) -> Result<Response<PooledBody>, Failure> {
        use http_body::Body as _;
        if req.body().is_end_stream() {
            // The common GET: no body to wait for, no extra allocation.
            return match tokio::time::timeout(self.response_timeout, self.pool.send(req)).await {
                Ok(result) => result.map_err(Failure::Send),
                Err(_) => Err(Failure::Timeout(self.response_timeout)),
            };
        }
        let (parts, body) = req.into_parts();
        let (done_tx, done_rx) = oneshot::channel();
        let body = Body::new(EndSignal {
            inner: body,
            done: Some(done_tx),
        });
        let request = self.pool.send(Request::from_parts(parts, body));
        tokio::pin!(request);
        tokio::select! {
            result = &mut request => result.map_err(Failure::Send),
            // Resolves when the body ended or was dropped (e.g. the backend answered early).
            _ = done_rx => match tokio::time::timeout(self.response_timeout, request).await {
                Ok(result) => result.map_err(Failure::Send),
                Err(_) => Err(Failure::Timeout(self.response_timeout)),
            },
        }
    }

    /// For a small body of known length, wait for its first frame so that the server writes the response head and
    /// body in one go (one syscall, one TCP segment) instead of two; this is most of the gap to nginx on small
    /// responses. At most one frame (what hyper already read) is held, and streams of unknown length (SSE,
    /// chunked downloads) are passed on at once, so nothing is buffered.
    async fn first_frame_with_head(&self, mut body: PooledBody) -> Result<Body, Failure> {
        use http_body::Body as _;
        use http_body_util::BodyExt as _;
        match body.size_hint().exact() {
            Some(len) if len > 0 && len <= SMALL_BODY => {}
            _ => return Ok(Body::new(body)),
        }
        match tokio::time::timeout(self.response_timeout, body.frame()).await {
            Err(_) => Err(Failure::Timeout(self.response_timeout)),
            Ok(None) => Ok(Body::empty()),
            Ok(Some(Err(e))) => Err(Failure::Body(e)),
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

/// Why the backend gave no response.
enum Failure {
    Send(SendError),
    Body(hyper::Error),
    Timeout(Duration),
}

impl Failure {
    fn into_page(self, backend: &Authority) -> Response<Body> {
        match self {
            Failure::Timeout(after) => {
                tracing::warn!(%backend, timeout_ms = after.as_millis() as u64, "backend did not answer within the response timeout: 504");
                error_page(StatusCode::GATEWAY_TIMEOUT)
            }
            Failure::Send(SendError::Connect(e)) if caused_by_timeout(e.as_ref()) => {
                tracing::warn!(%backend, error = %chain(e.as_ref()), "backend connect timed out: 504");
                error_page(StatusCode::GATEWAY_TIMEOUT)
            }
            Failure::Send(SendError::Connect(e)) => {
                tracing::warn!(%backend, error = %chain(e.as_ref()), "cannot connect to the backend: 502");
                error_page(StatusCode::BAD_GATEWAY)
            }
            Failure::Send(SendError::Request(e)) => {
                tracing::warn!(%backend, error = %chain(&e), "backend request failed: 502");
                error_page(StatusCode::BAD_GATEWAY)
            }
            Failure::Body(e) => {
                tracing::warn!(%backend, error = %chain(&e), "backend response body failed before its first byte: 502");
                error_page(StatusCode::BAD_GATEWAY)
            }
        }
    }
}

fn caused_by_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(err) = source {
        if err
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        source = err.source();
    }
    false
}

/// The error and its causes on one line: hyper's top-level messages alone ("client error (Connect)") do not
/// tell an admin what happened.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(err) = source {
        out.push_str(": ");
        out.push_str(&err.to_string());
        source = err.source();
    }
    out
}

/// The page the browser sees when the backend fails: no backend detail in it.
pub fn error_page(status: StatusCode) -> Response<Body> {
    let (title, text) = match status {
        StatusCode::GATEWAY_TIMEOUT => (
            "504 Gateway Timeout",
            "The application behind this gateway did not answer in time. Please try again in a moment.",
        ),
        _ => (
            "502 Bad Gateway",
            "The application behind this gateway cannot be reached right now. Please try again in a moment.",
        ),
    };
    let html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{text}</p></body></html>\n"
    );
    let mut response = Response::new(Body::from(html));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    has_token(headers, CONNECTION, "upgrade") && has_token(headers, UPGRADE, "websocket")
}

/// Remove the hop-by-hop headers (RFC 9110 7.6.1): the fixed list, `Proxy-*`, and every header that
/// `Connection` names, except `Host`, which a client must not be able to make us drop.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // One pass over the names first: most messages carry none of these, and a removal costs a
    // lookup each.
    let mut doomed: Vec<HeaderName> = Vec::new();
    let mut connection = false;
    for name in headers.keys() {
        if *name == CONNECTION {
            connection = true;
        } else if [&KEEP_ALIVE, &TE, &TRAILER, &TRANSFER_ENCODING, &UPGRADE].contains(&name)
            || name.as_str().starts_with("proxy-")
        {
            doomed.push(name.clone());
        }
    }
    if connection {
        for value in headers.get_all(CONNECTION) {
            let Ok(value) = value.to_str() else { continue };
            for token in value.split(',').map(str::trim) {
                if let Ok(name) = HeaderName::from_bytes(token.as_bytes())
                    && name != HOST
                {
                    doomed.push(name);
                }
            }
        }
        doomed.push(CONNECTION);
    }
    for name in &doomed {
        headers.remove(name);
    }
}

/// Answer the browser's upgrade with the backend's 101 and copy bytes both ways once both sides switched.
fn tunnel<B>(
    client_upgrade: hyper::upgrade::OnUpgrade,
    mut response: Response<B>,
) -> Response<Body> {
    let backend_upgrade = hyper::upgrade::on(&mut response);
    tokio::spawn(async move {
        let (client, backend) = match tokio::try_join!(client_upgrade, backend_upgrade) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %chain(&e), "WebSocket upgrade did not complete on both sides");
                return;
            }
        };
        let mut client = TokioIo::new(client);
        let mut backend = TokioIo::new(backend);
        if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut backend).await {
            tracing::debug!(error = %e, "WebSocket tunnel closed with an error");
        }
    });
    let (mut parts, _) = response.into_parts();
    // Keep `Connection: upgrade` and `Upgrade`; drop the other hop-by-hop headers.
    let connection = parts.headers.remove(CONNECTION);
    let upgrade = parts.headers.remove(UPGRADE);
    remove_hop_by_hop(&mut parts.headers);
    if let Some(v) = connection {
        parts.headers.insert(CONNECTION, v);
    }
    if let Some(v) = upgrade {
        parts.headers.insert(UPGRADE, v);
    }
    Response::from_parts(parts, Body::empty())
}

/// A request body that drops its `done` sender when it ends (or is dropped), so that the response timeout can
/// start then and not at the start of a long upload.
struct EndSignal {
    inner: Body,
    done: Option<oneshot::Sender<()>>,
}

impl http_body::Body for EndSignal {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None | Some(Err(_))) = polled {
            self.done = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A response body whose first frame was already read.
struct FirstThenRest {
    first: Option<http_body::Frame<Bytes>>,
    rest: PooledBody,
}

impl http_body::Body for FirstThenRest {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, hyper::Error>>> {
        match self.first.take() {
            Some(first) => Poll::Ready(Some(Ok(first))),
            None => Pin::new(&mut self.rest).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        let mut hint = self.rest.size_hint();
        let first = self
            .first
            .as_ref()
            .and_then(|f| f.data_ref())
            .map_or(0, |d| d.len() as u64);
        if let Some(exact) = hint.exact() {
            hint.set_exact(exact + first);
        } else {
            hint.set_lower(hint.lower() + first);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(url: &str) -> Result<Proxy, ProxyConfigError> {
        Proxy::new(&ProxyConfig::new(url))
    }

    #[test]
    fn refuses_backend_urls_it_cannot_serve() {
        assert!(matches!(
            proxy("https://10.0.0.1"),
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

    #[test]
    fn removes_hop_by_hop_headers_and_those_connection_names_but_never_host() {
        let mut h = HeaderMap::new();
        h.insert(HOST, HeaderValue::from_static("app.example.com"));
        h.insert(
            CONNECTION,
            HeaderValue::from_static("close, X-Secret, Host"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("proxy-authorization", HeaderValue::from_static("Basic x"));
        h.insert(KEEP_ALIVE, HeaderValue::from_static("timeout=5"));
        h.insert(TE, HeaderValue::from_static("trailers"));
        h.insert("accept", HeaderValue::from_static("*/*"));
        remove_hop_by_hop(&mut h);
        let left: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["host", "accept"]);
    }

    #[test]
    fn error_pages_name_no_backend_detail() {
        for status in [StatusCode::BAD_GATEWAY, StatusCode::GATEWAY_TIMEOUT] {
            let page = error_page(status);
            assert_eq!(page.status(), status);
            assert_eq!(page.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        }
    }
}
