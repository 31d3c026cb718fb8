//! The forwarding facts the gateway owns: where the request came from and which site and scheme
//! the browser used. Backends and their frameworks build URLs, log addresses and make access
//! decisions from these headers, so none of them may carry what the client wrote:
//!
//! - [`set_forwarded`] sets `X-Forwarded-Proto`, `X-Forwarded-Host`, one RFC 7239 `Forwarded`
//!   element (host and scheme from `[server] public_url`, the host the browser used as configured)
//!   and `X-Real-IP` (the socket's peer), replacing the client's, and appends the peer to
//!   `X-Forwarded-For`;
//! - [`remove_client_copies`] removes, under any letter case and with `_` for `-` (CGI, PHP and
//!   WSGI fold both into one variable), the client's copies of headers that common servers and
//!   frameworks trust when a proxy sets them: the path overrides `X-Original-URL` and
//!   `X-Rewrite-URL` (IIS, Symfony, Zend), `X-Forwarded-Prefix/Port/Ssl/Server` (Spring, Rails,
//!   Werkzeug's ProxyFix), the user names `Remote-User` and `X-Remote-User` (Apache, Django's
//!   RemoteUserMiddleware, Grafana's auth proxy), every `X-Auth-Request-*` (oauth2-proxy's), and
//!   the `_` spellings of the headers set above.

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, HeaderName, HeaderValue};

pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub const FORWARDED: HeaderName = HeaderName::from_static("forwarded");
pub const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// Client-sent headers removed whatever their case or `_` spelling (lower case, `-` form).
const REMOVED: &[&str] = &[
    "x-original-url",
    "x-rewrite-url",
    "x-forwarded-prefix",
    "x-forwarded-port",
    "x-forwarded-ssl",
    "x-forwarded-server",
    "x-remote-user",
    "remote-user",
];

/// Every header under this prefix is removed.
const REMOVED_PREFIX: &str = "x-auth-request-";

/// The headers [`set_forwarded`] sets: their exact names are replaced (or appended to), their
/// `_` spellings removed.
const SET: &[&str] = &[
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
    "x-real-ip",
];

/// Remove the client's copies of the headers the gateway owns (see the module documentation).
pub fn remove_client_copies(headers: &mut HeaderMap) {
    // Collected first (a HeaderMap cannot change while iterated); stays unallocated when the
    // client sent none, the usual case.
    let mut doomed: Vec<HeaderName> = Vec::new();
    for name in headers.keys() {
        if is_client_copy(name.as_str()) {
            doomed.push(name.clone());
        }
    }
    for name in &doomed {
        headers.remove(name);
    }
}

/// Is `name` (lower case, as `HeaderName` keeps it) one the client may not send?
fn is_client_copy(name: &str) -> bool {
    let b = name.as_bytes();
    // Every name concerned starts with x, r or f: most headers are dismissed here.
    if !matches!(b.first(), Some(b'x' | b'r' | b'f')) {
        return false;
    }
    REMOVED.iter().any(|r| eq_folded(r.as_bytes(), b))
        || b.get(..REMOVED_PREFIX.len())
            .is_some_and(|p| eq_folded(REMOVED_PREFIX.as_bytes(), p))
        || (b.contains(&b'_') && SET.iter().any(|s| eq_folded(s.as_bytes(), b)))
}

/// `canonical` (lower case, `-` form) equals `name` once `_` is read as `-`.
fn eq_folded(canonical: &[u8], name: &[u8]) -> bool {
    canonical.len() == name.len()
        && canonical.iter().zip(name).all(|(c, n)| {
            let n = if *n == b'_' {
                b'-'
            } else {
                n.to_ascii_lowercase()
            };
            *c == n
        })
}

/// Set the forwarding facts: `X-Forwarded-For` (the peer appended), `X-Forwarded-Proto` (`proto`),
/// `X-Forwarded-Host` (`host`, removed when `None`), one `Forwarded` element with the same facts,
/// `X-Real-IP` (the peer); the client's values of all but the first are replaced.
pub fn set_forwarded(
    headers: &mut HeaderMap,
    client_addr: SocketAddr,
    proto: &str,
    host: Option<&HeaderValue>,
) {
    let facts = take_facts(headers, client_addr, proto, host);
    for (name, value) in facts.fields() {
        match value {
            Some(value) => headers.insert(name, value.clone()),
            None => headers.remove(name),
        };
    }
}

/// The forwarding facts of one request, as [`set_forwarded`] sets them: each header's value, or
/// `None` where the header is not sent.
#[derive(Debug)]
pub struct ForwardingFacts {
    x_forwarded_for: Option<HeaderValue>,
    x_real_ip: Option<HeaderValue>,
    x_forwarded_proto: Option<HeaderValue>,
    x_forwarded_host: Option<HeaderValue>,
    forwarded: Option<HeaderValue>,
}

impl ForwardingFacts {
    /// Each header with its value (`None`: not sent).
    pub fn fields(&self) -> [(HeaderName, Option<&HeaderValue>); 5] {
        [
            (X_FORWARDED_FOR, self.x_forwarded_for.as_ref()),
            (X_REAL_IP, self.x_real_ip.as_ref()),
            (X_FORWARDED_PROTO, self.x_forwarded_proto.as_ref()),
            (X_FORWARDED_HOST, self.x_forwarded_host.as_ref()),
            (FORWARDED, self.forwarded.as_ref()),
        ]
    }
}

/// The forwarding facts of a request from `client_addr`, with the client's copies of their
/// headers taken out of `headers`: `X-Forwarded-For` continues what came before (taken out to be
/// continued), the rest replace the client's.
pub fn take_facts(
    headers: &mut HeaderMap,
    client_addr: SocketAddr,
    proto: &str,
    host: Option<&HeaderValue>,
) -> ForwardingFacts {
    let ip = client_addr.ip();
    let (peer, forwarded) = peer_facts(ip, proto, host);
    // Append to what earlier proxies (or the client) sent, as nginx's $proxy_add_x_forwarded_for does: the
    // backend must take the rightmost entries it trusts, never the leftmost.
    let x_forwarded_for = if headers.contains_key(X_FORWARDED_FOR) {
        let mut xff = Vec::with_capacity(64);
        for value in headers.get_all(X_FORWARDED_FOR) {
            if let Ok(value) = value.to_str() {
                xff.extend_from_slice(value.as_bytes());
                xff.extend_from_slice(b", ");
            }
        }
        push_ip(&mut xff, ip);
        headers.remove(X_FORWARDED_FOR);
        HeaderValue::from_bytes(&xff).ok()
    } else {
        peer.clone()
    };
    // The client's copies of the others, in one look at the names (usually there are none).
    let mut doomed: Vec<HeaderName> = Vec::new();
    for name in headers.keys() {
        if [
            &X_REAL_IP,
            &X_FORWARDED_PROTO,
            &X_FORWARDED_HOST,
            &FORWARDED,
        ]
        .contains(&name)
        {
            doomed.push(name.clone());
        }
    }
    for name in &doomed {
        headers.remove(name);
    }
    let x_forwarded_proto = match proto {
        "https" => Some(HeaderValue::from_static("https")),
        "http" => Some(HeaderValue::from_static("http")),
        other => HeaderValue::from_str(other).ok(),
    };
    ForwardingFacts {
        x_forwarded_for,
        x_real_ip: peer,
        x_forwarded_proto,
        x_forwarded_host: host.cloned(),
        forwarded,
    }
}

/// What depends only on the peer (the host and scheme are the same for every request): the peer
/// alone (`X-Real-IP`, and a first `X-Forwarded-For`) and the `Forwarded` element.
struct PeerFacts {
    ip: IpAddr,
    proto: Box<str>,
    host: Option<HeaderValue>,
    peer: Option<HeaderValue>,
    forwarded: Option<HeaderValue>,
}

thread_local! {
    /// The last peer's facts on this thread. Behind a load balancer nearly every request comes
    /// from the same few peers, and reusing the values (a reference count) spares each request
    /// formatting and copying them: a few hundred instructions of the proxy path.
    static LAST_PEER: RefCell<Option<PeerFacts>> = const { RefCell::new(None) };
}

/// `X-Real-IP` and `Forwarded` for a request from `ip`, reused from the last request on this
/// thread when it came from the same peer.
fn peer_facts(
    ip: IpAddr,
    proto: &str,
    host: Option<&HeaderValue>,
) -> (Option<HeaderValue>, Option<HeaderValue>) {
    let compute = || {
        let mut peer = Vec::with_capacity(40);
        push_ip(&mut peer, ip);
        PeerFacts {
            ip,
            proto: proto.into(),
            host: host.cloned(),
            peer: HeaderValue::from_bytes(&peer).ok(),
            forwarded: forwarded_element(ip, proto, host),
        }
    };
    let cached = LAST_PEER.try_with(|last| {
        let mut last = last.try_borrow_mut().ok()?;
        let hit = last
            .as_ref()
            .is_some_and(|f| f.ip == ip && *f.proto == *proto && f.host.as_ref() == host);
        if !hit {
            *last = Some(compute());
        }
        last.as_ref().map(|f| (f.peer.clone(), f.forwarded.clone()))
    });
    match cached {
        Ok(Some(values)) => values,
        // Only while this thread is being torn down.
        _ => {
            let fresh = compute();
            (fresh.peer, fresh.forwarded)
        }
    }
}

/// One RFC 7239 element: `for=192.0.2.9;host="app.example.com";proto=https` (an IPv6 address
/// quoted in brackets; the host quoted, and left out if it holds a quote, a backslash or a
/// control character; the scheme left out unless http or https).
fn forwarded_element(
    ip: std::net::IpAddr,
    proto: &str,
    host: Option<&HeaderValue>,
) -> Option<HeaderValue> {
    let mut element = Vec::with_capacity(96);
    match ip {
        std::net::IpAddr::V4(_) => {
            element.extend_from_slice(b"for=");
            push_ip(&mut element, ip);
        }
        std::net::IpAddr::V6(_) => {
            element.extend_from_slice(b"for=\"[");
            push_ip(&mut element, ip);
            element.extend_from_slice(b"]\"");
        }
    }
    if let Some(host) = host.map(HeaderValue::as_bytes).filter(|h| {
        !h.is_empty()
            && h.iter()
                .all(|&b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    }) {
        element.extend_from_slice(b";host=\"");
        element.extend_from_slice(host);
        element.push(b'"');
    }
    if matches!(proto, "http" | "https") {
        element.extend_from_slice(b";proto=");
        element.extend_from_slice(proto.as_bytes());
    }
    HeaderValue::from_bytes(&element).ok()
}

/// Append `ip` in its usual text form. IPv4, the common case, is written digit by digit:
/// formatting it through `core::fmt` is far slower, on every request.
fn push_ip(out: &mut Vec<u8>, ip: std::net::IpAddr) {
    match ip {
        std::net::IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                if octet >= 100 {
                    out.push(b'0' + octet / 100);
                }
                if octet >= 10 {
                    out.push(b'0' + octet / 10 % 10);
                }
                out.push(b'0' + octet % 10);
            }
        }
        std::net::IpAddr::V6(v6) => {
            use std::io::Write;
            // Writing into a Vec cannot fail.
            let _ = write!(out, "{v6}");
        }
    }
}

#[cfg(test)]
mod tests;
