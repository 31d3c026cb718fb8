//! The head of a request to the backend, written from the proxy's request parts: the method,
//! the origin-form target, `HTTP/1.1`, `Host`, every header field as the map holds it, then the
//! fields the proxy adds. Nothing in it needs checking here: `http`'s types admit no CR, LF or
//! NUL in a method, a path, a header name or a header value (and the added values were checked
//! as header values when they were made), so a field cannot end early or add another.

use axum::http::HeaderValue;
use axum::http::header::HOST;
use axum::http::request::Parts;

/// Start the head of `parts` (a request without a body) in `out`: the request line, then
/// `Host` (first, as clients send it), then every field of `parts.headers`. More fields may
/// follow ([`field`]); [`end`] ends the head.
pub(in crate::proxy) fn start(parts: &Parts, host: &HeaderValue, out: &mut Vec<u8>) {
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    field(out, HOST.as_str(), host.as_bytes());
    for (name, value) in &parts.headers {
        field(out, name.as_str(), value.as_bytes());
    }
}

/// One field. `value` must be a valid header value (as every `HeaderValue` is).
pub(in crate::proxy) fn field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    // One room check for the whole field, not one per piece.
    out.reserve(name.len().saturating_add(value.len()).saturating_add(4));
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// End the head.
pub(in crate::proxy) fn end(out: &mut Vec<u8>) {
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    #[test]
    fn writes_the_request_line_and_every_field_in_order() {
        let request = Request::get("/a/b?c=d")
            .header("x-two", "1")
            .header("x-two", "2")
            .body(())
            .unwrap();
        let (parts, ()) = request.into_parts();
        let mut out = Vec::new();
        start(
            &parts,
            &HeaderValue::from_static("app.example.com"),
            &mut out,
        );
        field(&mut out, "x-added", b"3");
        end(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET /a/b?c=d HTTP/1.1\r\nhost: app.example.com\r\nx-two: 1\r\nx-two: 2\r\nx-added: 3\r\n\r\n"
        );
    }

    #[test]
    fn an_absolute_uri_is_sent_in_origin_form_and_an_empty_one_as_slash() {
        for (uri, line) in [
            ("http://other.example/x?y", "HEAD /x?y HTTP/1.1\r\n"),
            ("http://other.example", "HEAD / HTTP/1.1\r\n"),
        ] {
            let (parts, ()) = Request::head(uri).body(()).unwrap().into_parts();
            let mut out = Vec::new();
            start(&parts, &HeaderValue::from_static("h"), &mut out);
            assert!(String::from_utf8(out).unwrap().starts_with(line), "{uri}");
        }
    }

    #[test]
    fn no_header_value_can_carry_a_line_break() {
        for bad in ["a\r\nX-Injected: 1", "a\nb", "a\rb", "a\0b"] {
            assert!(HeaderValue::from_str(bad).is_err(), "{bad:?}");
        }
    }
}
