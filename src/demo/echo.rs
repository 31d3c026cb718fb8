//! The echo backend: shows a backend's view of the gateway.
//!
//! * `GET /json`: the request headers as JSON, identity headers decoded;
//! * `GET /ws`: a WebSocket that sends back every message it receives;
//! * `GET /bytes/{n}`: a body of `n` bytes (a repeating pattern, see [`pattern_block`]), streamed;
//! * `GET` (or `HEAD`) anything else: an HTML page listing every header received, the identity headers
//!   highlighted and decoded;
//! * `POST` / `PUT` anything: `{"bytes": n, "sha256": "<hex>"}` of the body, read as a stream (constant memory,
//!   whatever the size).

use crate::xml::escape::escape;
use axum::Router;
use axum::body::Body;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use http_body_util::BodyExt;
use openssl::sha::Sha256;
use std::fmt::Write as _;
use std::sync::Arc;

use crate::identity::headers::{self, HeaderContract};

/// Serve the echo backend on `listener` until the process ends, recognising the default header names.
pub async fn serve_echo(listener: tokio::net::TcpListener) {
    let listener = listener.tap_io(|tcp| {
        // Loopback latency is what the benchmarks measure: do not let Nagle add to it.
        let _ = tcp.set_nodelay(true);
    });
    if let Err(e) = axum::serve(listener, echo_router(HeaderContract::default())).await {
        tracing::error!(error = %e, "echo backend stopped");
    }
}

/// The echo backend's routes, highlighting the headers of `contract`.
pub fn echo_router(contract: HeaderContract) -> Router {
    Router::new()
        .route("/json", get(json))
        .route("/ws", get(websocket))
        .route("/bytes/{n}", get(bytes))
        .fallback(echo)
        .with_state(Arc::new(contract))
}

type Contract = State<Arc<HeaderContract>>;

async fn echo(State(contract): Contract, request: Request) -> Response {
    match *request.method() {
        Method::GET | Method::HEAD => Html(html_page(&contract, &request)).into_response(),
        Method::POST | Method::PUT => digest(request.into_body()).await,
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}

async fn json(State(contract): Contract, request: Request) -> Response {
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let identity: serde_json::Map<String, serde_json::Value> =
        identity_headers(&contract, request.headers())
            .map(|(name, decoded)| (name.to_owned(), decoded.into()))
            .collect();
    axum::Json(serde_json::json!({
        "method": request.method().as_str(),
        "uri": request.uri().to_string(),
        "headers": headers,
        "identity": identity,
    }))
    .into_response()
}

/// The contract's headers present in `headers`, with their decoded value (or why it does not decode).
fn identity_headers<'a>(
    contract: &'a HeaderContract,
    headers: &'a HeaderMap,
) -> impl Iterator<Item = (&'a str, String)> + 'a {
    let groups = contract.header_for(headers::IdentityField::Groups);
    contract.header_names().filter_map(move |name| {
        let value = headers.get(name)?;
        let decoded = match value.to_str() {
            Ok(v) if Some(name) == groups => headers::decode_list(v)
                .map(|g| g.join(" | "))
                .unwrap_or_else(|e| format!("(undecodable: {e})")),
            Ok(v) => headers::decode_value(v).unwrap_or_else(|e| format!("(undecodable: {e})")),
            Err(_) => "(not ASCII: refused by the contract)".to_owned(),
        };
        Some((name.as_str(), decoded))
    })
}

fn html_page(contract: &HeaderContract, request: &Request) -> String {
    let mut rows = String::new();
    for (name, value) in request.headers() {
        let raw = String::from_utf8_lossy(value.as_bytes());
        let (class, decoded) = if contract.header_names().any(|h| h == name) {
            let decoded = identity_headers(contract, request.headers())
                .find(|(n, _)| *n == name.as_str())
                .map(|(_, d)| d)
                .unwrap_or_default();
            (" class=\"identity\"", decoded)
        } else {
            ("", String::new())
        };
        // infallible: writing to a String cannot fail
        let _ = writeln!(
            rows,
            "<tr{class}><th>{}</th><td><code>{}</code></td><td>{}</td></tr>",
            escape(name.as_str()),
            escape(&raw),
            escape(&decoded)
        );
    }
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>samlgate echo backend</title>\
         <style>body{{font-family:sans-serif}}table{{border-collapse:collapse}}th,td{{border:1px solid #ccc;\
         padding:4px 8px;text-align:left}}tr.identity{{background:#fff3b0;font-weight:bold}}</style></head>\
         <body><h1>What the backend received</h1><p><code>{} {}</code></p>\
         <form method=\"post\" action=\"/saml/logout\"><button type=\"submit\" id=\"sign-out\">Sign out</button> \
         (the gateway's sign-out, when this backend runs behind one)</form>\
         <p>Highlighted rows are identity headers set by the gateway; the last column shows them decoded.</p>\
         <table><tr><th>header</th><th>value as sent</th><th>decoded</th></tr>\n{rows}</table></body></html>\n",
        escape(request.method().as_str()),
        escape(&request.uri().to_string()),
    )
}

/// Count and hash the body frame by frame: memory stays flat for any size.
async fn digest(mut body: Body) -> Response {
    let mut hasher = Sha256::new();
    let mut bytes: u64 = 0;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    hasher.update(data);
                    bytes += data.len() as u64;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, received = bytes, "echo: request body failed");
                return (StatusCode::BAD_REQUEST, "request body failed\n").into_response();
            }
        }
    }
    let sha256: String = hasher.finish().iter().map(|b| format!("{b:02x}")).collect();
    (
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(serde_json::json!({ "bytes": bytes, "sha256": sha256 })),
    )
        .into_response()
}

/// The 64 KiB block that `/bytes/{n}` repeats (byte `i` is `i % 251`, so that a shifted or dropped block
/// changes the hash).
pub fn pattern_block() -> Bytes {
    (0..PATTERN_LEN)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

const PATTERN_LEN: usize = 64 * 1024;

async fn bytes(Path(n): Path<u64>) -> Response {
    let body = Body::new(Pattern {
        block: pattern_block(),
        remaining: n,
    });
    ([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response()
}

/// `remaining` bytes of the repeated block, one block per frame, never more than one block in memory.
struct Pattern {
    block: Bytes,
    remaining: u64,
}

impl http_body::Body for Pattern {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let len = usize::try_from(self.remaining).map_or(PATTERN_LEN, |r| r.min(PATTERN_LEN));
        if len == 0 {
            return std::task::Poll::Ready(None);
        }
        self.remaining -= len as u64;
        // infallible: len <= PATTERN_LEN, the length of the block, so the slice is in range
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(self.block.slice(..len)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.remaining)
    }
}

async fn websocket(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(echo_socket)
}

async fn echo_socket(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        let reply = match message {
            Message::Text(_) | Message::Binary(_) => message,
            Message::Close(_) => break,
            // axum answers pings itself.
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if socket.send(reply).await.is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_in_header_values() {
        assert_eq!(
            escape("<script>alert('x')&\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&amp;&quot;&lt;/script&gt;"
        );
    }
}
