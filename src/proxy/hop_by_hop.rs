//! Hop-by-hop headers (RFC 9110 7.6.1): what one connection says to the next and never goes
//! further, and the one exception, a WebSocket handshake.

use axum::http::header::{CONNECTION, HOST, TE, TRAILER, TRANSFER_ENCODING, UPGRADE};
use axum::http::{HeaderMap, HeaderName};

const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");

fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

pub(super) fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

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
}
