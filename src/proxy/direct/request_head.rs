//! The head of a request to the backend, written from the proxy's request parts: the method,
//! the origin-form target, `HTTP/1.1`, and every header field as the map holds it. Nothing in
//! it needs checking here: `http`'s types admit no CR, LF or NUL in a method, a path, a header
//! name or a header value, so a field cannot end early or add another.

use axum::http::request::Parts;

/// Append the head of `parts` (a request without a body) to `out`.
pub(in crate::proxy) fn encode(parts: &Parts, out: &mut Vec<u8>) {
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in &parts.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, Request};

    use super::*;

    #[test]
    fn writes_the_request_line_and_every_field_in_order() {
        let request = Request::get("/a/b?c=d")
            .header("host", "app.example.com")
            .header("x-two", "1")
            .header("x-two", "2")
            .body(())
            .unwrap();
        let (parts, ()) = request.into_parts();
        let mut out = Vec::new();
        encode(&parts, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET /a/b?c=d HTTP/1.1\r\nhost: app.example.com\r\nx-two: 1\r\nx-two: 2\r\n\r\n"
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
            encode(&parts, &mut out);
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
