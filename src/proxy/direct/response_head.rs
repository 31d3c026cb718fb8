//! A backend's response head, parsed by `httparse` (the parser hyper itself uses), and what it
//! says about the body that follows: how it is delimited, and whether the connection can carry
//! another request afterwards.
//!
//! The body's delimitation is where a proxy and its backend can disagree on where a response
//! ends, and a disagreement hands one browser the next response on the connection. So every
//! doubt is refused (the browser gets 502) or ends the connection, never guessed:
//! - a `Content-Length` that is not one decimal number (repeated values must all be the same);
//! - a `Transfer-Encoding` other than exactly `chunked`, or beside a `Content-Length`;
//! - a `101 Switching Protocols` to a request that asked for no upgrade;
//! - a body delimited by the connection's end (no length, not chunked), or an HTTP/1.0
//!   response, or `Connection: close`: the connection is not used again.

use axum::http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

/// At most this many header fields in a response head (hyper's default too).
pub(super) const MAX_HEADERS: usize = 100;
/// At most this many bytes in a response head (hyper's default read buffer limit).
pub(super) const MAX_HEAD_BYTES: usize = 8192 + 4096 * 100;

/// Entries a response's header map is made with at least (see [`parse`]).
const MAP_ROOM: usize = 32;

/// How the body after a head is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body: the answer to `HEAD`, a `204` or a `304`.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the backend closes the connection.
    UntilClose,
}

/// A final response head.
#[derive(Debug)]
pub(super) struct Head {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) framing: Framing,
    /// Whether the connection may carry another request once the body has been read.
    pub(super) keep_alive: bool,
}

/// What the start of a buffer holds.
#[derive(Debug)]
pub(super) enum Parsed {
    /// An interim `1xx` response of this many bytes, to be skipped (`100 Continue`, `103 Early
    /// Hints`): the final response follows it.
    Interim(usize),
    /// The final head, and its length in bytes.
    Final(Head, usize),
}

/// Why a response head was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeadError {
    #[error("malformed response head: {0}")]
    Malformed(httparse::Error),
    #[error("response head larger than {MAX_HEAD_BYTES} bytes")]
    TooLarge,
    #[error("status {0} is not a valid status code")]
    Status(u16),
    #[error("header {name:?} is not a valid header name or value")]
    Header { name: String },
    #[error("Content-Length {0:?} is not one decimal length")]
    ContentLength(String),
    #[error("Transfer-Encoding {0:?}: only \"chunked\" alone is accepted")]
    TransferEncoding(String),
    #[error("both Transfer-Encoding and Content-Length: the body's end would be ambiguous")]
    LengthAndChunked,
    #[error("101 Switching Protocols to a request that asked for no upgrade")]
    UnaskedUpgrade,
}

/// Parse the head at the start of `buf`, for a request made with `method`. `None`: the head is
/// not complete yet (and `buf` is below [`MAX_HEAD_BYTES`]).
pub(super) fn parse(buf: &[u8], method: &Method) -> Result<Option<Parsed>, HeadError> {
    // Left uninitialized: filled in only as far as the head has fields (no 3 KiB cleared per
    // response).
    let mut fields = [const { std::mem::MaybeUninit::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        buf,
        &mut fields,
    ) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD_BYTES => {
            return Err(HeadError::TooLarge);
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) if buf.len() >= MAX_HEAD_BYTES => {
            return Err(HeadError::TooLarge);
        }
        Err(e) => return Err(HeadError::Malformed(e)),
    };
    if len > MAX_HEAD_BYTES {
        return Err(HeadError::TooLarge);
    }
    let code = response.code.unwrap_or_default();
    let status = StatusCode::from_u16(code).map_err(|_| HeadError::Status(code))?;
    if status == StatusCode::SWITCHING_PROTOCOLS {
        return Err(HeadError::UnaskedUpgrade);
    }
    if status.is_informational() {
        return Ok(Some(Parsed::Interim(len)));
    }

    // Room beyond the response's own fields: hyper keeps this map, emptied, for the next
    // request on the browser's connection, to which the proxy adds its headers.
    let mut headers = HeaderMap::with_capacity(response.headers.len().max(MAP_ROOM));
    for field in response.headers.iter() {
        let invalid = || HeadError::Header {
            name: field.name.to_owned(),
        };
        let name = HeaderName::from_bytes(field.name.as_bytes()).map_err(|_| invalid())?;
        let value = HeaderValue::from_bytes(field.value).map_err(|_| invalid())?;
        headers.append(name, value);
    }
    let framing = framing(&headers, status, method)?;
    let keep_alive =
        response.version == Some(1) && framing != Framing::UntilClose && !names_close(&headers);
    Ok(Some(Parsed::Final(
        Head {
            status,
            headers,
            framing,
            keep_alive,
        },
        len,
    )))
}

/// RFC 9112 section 6.3, with every ambiguity refused.
fn framing(headers: &HeaderMap, status: StatusCode, method: &Method) -> Result<Framing, HeadError> {
    let length = content_length(headers)?;
    let chunked = match headers.get(TRANSFER_ENCODING) {
        None => false,
        Some(value) => {
            let one = headers.get_all(TRANSFER_ENCODING).iter().count() == 1;
            if !one
                || !value
                    .as_bytes()
                    .trim_ascii()
                    .eq_ignore_ascii_case(b"chunked")
            {
                let all: Vec<_> = headers
                    .get_all(TRANSFER_ENCODING)
                    .iter()
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .collect();
                return Err(HeadError::TransferEncoding(all.join(", ")));
            }
            true
        }
    };
    if chunked && length.is_some() {
        return Err(HeadError::LengthAndChunked);
    }
    if *method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(Framing::Empty);
    }
    Ok(match (chunked, length) {
        (true, _) => Framing::Chunked,
        (false, Some(0)) => Framing::Empty,
        (false, Some(n)) => Framing::Length(n),
        (false, None) => Framing::UntilClose,
    })
}

/// The one length every `Content-Length` value gives (`5`, `5, 5` and two fields of `5` agree);
/// `None` without one.
fn content_length(headers: &HeaderMap) -> Result<Option<u64>, HeadError> {
    let mut length = None;
    for value in headers.get_all(CONTENT_LENGTH) {
        for item in value.as_bytes().split(|&b| b == b',') {
            let item = item.trim_ascii();
            let refused =
                || HeadError::ContentLength(String::from_utf8_lossy(value.as_bytes()).into_owned());
            if item.is_empty() || !item.iter().all(u8::is_ascii_digit) {
                return Err(refused());
            }
            let n = std::str::from_utf8(item)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(refused)?;
            if length.is_some_and(|l| l != n) {
                return Err(refused());
            }
            length = Some(n);
        }
    }
    Ok(length)
}

/// Does a `Connection` field carry the `close` option?
fn names_close(headers: &HeaderMap) -> bool {
    headers.get_all(CONNECTION).iter().any(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn final_head(text: &str, method: &Method) -> Result<(Head, usize), HeadError> {
        match parse(text.as_bytes(), method)? {
            Some(Parsed::Final(head, len)) => Ok((head, len)),
            other => panic!("expected a final head, got {other:?}"),
        }
    }

    fn framing_of(text: &str) -> Result<Framing, HeadError> {
        final_head(text, &Method::GET).map(|(h, _)| h.framing)
    }

    #[test]
    fn a_complete_head_gives_its_length_status_and_headers() {
        let text = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\nX-A: 2\r\n\r\nok";
        let (head, len) = final_head(text, &Method::GET).unwrap();
        assert_eq!(len, text.len() - 2);
        assert_eq!(head.status, StatusCode::OK);
        assert_eq!(head.framing, Framing::Length(2));
        assert!(head.keep_alive);
        let a: Vec<_> = head.headers.get_all("x-a").iter().collect();
        assert_eq!(a, ["1", "2"]);
    }

    #[test]
    fn an_incomplete_head_asks_for_more_until_the_limit() {
        assert!(matches!(
            parse(b"HTTP/1.1 200 OK\r\nX-A:", &Method::GET),
            Ok(None)
        ));
        let mut long = b"HTTP/1.1 200 OK\r\nX-A: ".to_vec();
        long.resize(MAX_HEAD_BYTES, b'a');
        assert_eq!(parse(&long, &Method::GET).unwrap_err(), HeadError::TooLarge);
    }

    #[test]
    fn the_body_is_delimited_as_rfc_9112_says() {
        let cases = [
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
                Framing::Length(10),
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 10, 10\r\n\r\n",
                Framing::Length(10),
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n",
                Framing::Length(7),
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                Framing::Empty,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                Framing::Chunked,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked \r\n\r\n",
                Framing::Chunked,
            ),
            ("HTTP/1.1 200 OK\r\n\r\n", Framing::UntilClose),
            (
                "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
                Framing::Empty,
            ),
            (
                "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
                Framing::Empty,
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(framing_of(text), Ok(expected), "{text:?}");
        }
        let (head, _) = final_head(
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
            &Method::HEAD,
        )
        .unwrap();
        assert_eq!(
            head.framing,
            Framing::Empty,
            "the answer to HEAD has no body"
        );
        assert_eq!(head.headers[CONTENT_LENGTH], "10", "but keeps its length");
    }

    #[test]
    fn every_ambiguous_delimitation_is_refused() {
        let refused = [
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Length: 11\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 10, 11\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: +10\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        ];
        for text in refused {
            assert!(framing_of(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn malformed_heads_are_refused() {
        let refused = [
            "HTTP/1.1 2000 OK\r\n\r\n",
            "HTTP/1.1 099 Odd\r\n\r\n",
            "HTTP/2 200 OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n",
            "HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n",
            "hello",
        ];
        for text in refused {
            assert!(
                parse(text.as_bytes(), &Method::GET).is_err(),
                "{text:?} was accepted"
            );
        }
    }

    #[test]
    fn interim_responses_are_skipped_and_an_unasked_upgrade_refused() {
        let text = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\n";
        let Ok(Some(Parsed::Interim(len))) = parse(text, &Method::GET) else {
            panic!("103 is interim");
        };
        assert_eq!(&text[len..len + 8], b"HTTP/1.1");
        assert_eq!(
            parse(b"HTTP/1.1 101 Switching Protocols\r\n\r\n", &Method::GET).unwrap_err(),
            HeadError::UnaskedUpgrade
        );
    }

    #[test]
    fn the_connection_is_kept_only_when_the_response_says_nothing_against_it() {
        let kept = |text: &str| final_head(text, &Method::GET).unwrap().0.keep_alive;
        assert!(kept("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
        assert!(kept(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        ));
        assert!(!kept(
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ));
        assert!(!kept(
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: x, Close\r\n\r\n"
        ));
        assert!(!kept("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
        assert!(
            !kept("HTTP/1.1 200 OK\r\n\r\n"),
            "a body until close ends the connection"
        );
    }
}
