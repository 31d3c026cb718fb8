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

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use bytes::BytesMut;

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

/// What was taken off the start of a buffer.
#[derive(Debug)]
pub(super) enum Parsed {
    /// An interim `1xx` response (`100 Continue`, `103 Early Hints`), skipped: the final
    /// response follows it.
    Interim,
    /// The final head.
    Final(Head),
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

/// A field kept for the response's header map, read before the head is taken off the buffer:
/// its name, and where its value lies in the head.
pub(super) type KeptField = (HeaderName, std::ops::Range<usize>);

/// Parse the head at the start of `buf`, for a request made with `method`, and take it off
/// `buf` when it is complete (an interim `1xx` included). `None`: the head is not complete yet
/// (and `buf` is below [`MAX_HEAD_BYTES`]). `kept` is scratch space, reused from response to
/// response.
///
/// The header map holds the head's end-to-end fields only: the hop-by-hop ones (RFC 9110
/// 7.6.1: the fixed list, `Proxy-*`, and what `Connection` names, never `Host`) are read for
/// what they say about the connection and left out, which is what `remove_hop_by_hop` would
/// do to the map afterwards. The values are slices of the head's own bytes, not copies.
pub(super) fn parse(
    buf: &mut BytesMut,
    method: &Method,
    kept: &mut Vec<KeptField>,
) -> Result<Option<Parsed>, HeadError> {
    kept.clear();
    let (len, status, framing, keep_alive, connection_names) = {
        // Left uninitialized: filled in only as far as the head has fields (no 3 KiB cleared
        // per response).
        let mut fields = [const { std::mem::MaybeUninit::uninit() }; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut []);
        let bytes: &[u8] = buf;
        let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut response,
            bytes,
            &mut fields,
        ) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if bytes.len() >= MAX_HEAD_BYTES => {
                return Err(HeadError::TooLarge);
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) if bytes.len() >= MAX_HEAD_BYTES => {
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
            let _ = buf.split_to(len);
            return Ok(Some(Parsed::Interim));
        }
        let facts = FieldFacts::read(response.headers)?;
        let framing = framing(&facts, status, method)?;
        let keep_alive =
            response.version == Some(1) && framing != Framing::UntilClose && !facts.close;
        for field in response.headers.iter() {
            if FieldFacts::is_hop_by_hop(field.name.as_bytes()) {
                continue;
            }
            let name =
                HeaderName::from_bytes(field.name.as_bytes()).map_err(|_| HeadError::Header {
                    name: field.name.to_owned(),
                })?;
            kept.push((name, within(bytes, field.value)));
        }
        let connection_names: Vec<_> = facts
            .connection_names
            .iter()
            .map(|n| within(bytes, n))
            .collect();
        (len, status, framing, keep_alive, connection_names)
    };
    let head = buf.split_to(len).freeze();
    // Room beyond the response's own fields: hyper keeps this map, emptied, for the next
    // request on the browser's connection, to which the proxy adds its headers.
    let mut headers = HeaderMap::with_capacity(kept.len().max(MAP_ROOM));
    for (name, value) in kept.drain(..) {
        // `Bytes::slice` panics out of range: the range is checked first (it is always inside
        // the head, which httparse took the value from).
        let value = (value.end <= head.len())
            .then(|| head.slice(value))
            .and_then(|v| HeaderValue::from_maybe_shared(v).ok())
            .ok_or_else(|| HeadError::Header {
                name: name.as_str().to_owned(),
            })?;
        headers.append(name, value);
    }
    // One lookup per name (none in the common case): however many names `Connection` lists,
    // the work stays linear in the head. The names are visible ASCII (see `FieldFacts::read`).
    for name in connection_names {
        if let Some(name) = head.get(name).and_then(|n| std::str::from_utf8(n).ok()) {
            headers.remove(name);
        }
    }
    Ok(Some(Parsed::Final(Head {
        status,
        headers,
        framing,
        keep_alive,
    })))
}

/// Where `part`, a slice of `whole`, lies in it (an empty range at the end were it not one).
fn within(whole: &[u8], part: &[u8]) -> std::ops::Range<usize> {
    let start = (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize);
    let end = start.saturating_add(part.len()).min(whole.len());
    start.min(end)..end
}

/// What a head's fields say about its body and its connection, read from the fields as
/// written (names compared without case).
struct FieldFacts<'h> {
    /// The one length every `Content-Length` value gives.
    length: Option<u64>,
    /// `Transfer-Encoding` is there, exactly `chunked` (checked by [`Self::read`]).
    chunked: bool,
    /// A `Connection` option is `close`.
    close: bool,
    /// The other `Connection` options: the names of more hop-by-hop fields.
    connection_names: Vec<&'h [u8]>,
}

impl<'h> FieldFacts<'h> {
    fn read(fields: &[httparse::Header<'h>]) -> Result<Self, HeadError> {
        let mut facts = FieldFacts {
            length: None,
            chunked: false,
            close: false,
            connection_names: Vec::new(),
        };
        let mut transfer_encodings = 0usize;
        for field in fields {
            let name = field.name.as_bytes();
            if name.eq_ignore_ascii_case(b"content-length") {
                facts.add_length(field.value)?;
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                transfer_encodings = transfer_encodings.saturating_add(1);
                facts.chunked = field.value.trim_ascii().eq_ignore_ascii_case(b"chunked");
            } else if name.eq_ignore_ascii_case(b"connection") {
                // As `remove_hop_by_hop` reads it: a value with bytes other than visible ASCII
                // names no field (but its `close` still counts).
                let names = field
                    .value
                    .iter()
                    .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b));
                for option in field.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                    if option.eq_ignore_ascii_case(b"close") {
                        facts.close = true;
                    } else if names
                        && !option.is_empty()
                        && !option.eq_ignore_ascii_case(b"host")
                        // Left out of the map anyway (`keep-alive`, which nginx always sends).
                        && !Self::is_hop_by_hop(option)
                    {
                        facts.connection_names.push(option);
                    }
                }
            }
        }
        // Exactly one `Transfer-Encoding`, and it says `chunked`; the message lists them all.
        if transfer_encodings > 1 || (transfer_encodings == 1 && !facts.chunked) {
            let all: Vec<_> = fields
                .iter()
                .filter(|f| f.name.eq_ignore_ascii_case("transfer-encoding"))
                .map(|f| String::from_utf8_lossy(f.value))
                .collect();
            return Err(HeadError::TransferEncoding(all.join(", ")));
        }
        Ok(facts)
    }

    /// `5`, `5, 5` and two fields of `5` agree; anything else is refused.
    fn add_length(&mut self, value: &[u8]) -> Result<(), HeadError> {
        let refused = || HeadError::ContentLength(String::from_utf8_lossy(value).into_owned());
        for item in value.split(|&b| b == b',') {
            let item = item.trim_ascii();
            if item.is_empty() || !item.iter().all(u8::is_ascii_digit) {
                return Err(refused());
            }
            let n = std::str::from_utf8(item)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(refused)?;
            if self.length.is_some_and(|l| l != n) {
                return Err(refused());
            }
            self.length = Some(n);
        }
        Ok(())
    }

    /// Is a field of this name hop-by-hop whatever `Connection` says (RFC 9110 7.6.1)? The
    /// fields `Connection` names are taken out of the map once it is built.
    fn is_hop_by_hop(name: &[u8]) -> bool {
        const FIXED: [&[u8]; 6] = [
            b"connection",
            b"keep-alive",
            b"te",
            b"trailer",
            b"transfer-encoding",
            b"upgrade",
        ];
        FIXED.iter().any(|f| name.eq_ignore_ascii_case(f))
            || name
                .get(..6)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"proxy-"))
    }
}

/// RFC 9112 section 6.3, with every ambiguity refused.
fn framing(
    facts: &FieldFacts<'_>,
    status: StatusCode,
    method: &Method,
) -> Result<Framing, HeadError> {
    let chunked = facts.chunked;
    if chunked && facts.length.is_some() {
        return Err(HeadError::LengthAndChunked);
    }
    if *method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(Framing::Empty);
    }
    Ok(match (chunked, facts.length) {
        (true, _) => Framing::Chunked,
        (false, Some(0)) => Framing::Empty,
        (false, Some(n)) => Framing::Length(n),
        (false, None) => Framing::UntilClose,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parse `text` for a request made with `method`: the final head, and how many bytes of
    /// `text` were left after it.
    fn parse_text(text: &[u8], method: &Method) -> Result<Option<(Parsed, usize)>, HeadError> {
        let mut buf = BytesMut::from(text);
        let parsed = parse(&mut buf, method, &mut Vec::new())?;
        Ok(parsed.map(|p| (p, buf.len())))
    }

    fn final_head(text: &str, method: &Method) -> Result<(Head, usize), HeadError> {
        match parse_text(text.as_bytes(), method)? {
            Some((Parsed::Final(head), left)) => Ok((head, text.len() - left)),
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
            parse_text(b"HTTP/1.1 200 OK\r\nX-A:", &Method::GET),
            Ok(None)
        ));
        let mut long = b"HTTP/1.1 200 OK\r\nX-A: ".to_vec();
        long.resize(MAX_HEAD_BYTES, b'a');
        assert_eq!(
            parse_text(&long, &Method::GET).unwrap_err(),
            HeadError::TooLarge
        );
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
        assert_eq!(head.headers["content-length"], "10", "but keeps its length");
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
                parse_text(text.as_bytes(), &Method::GET).is_err(),
                "{text:?} was accepted"
            );
        }
    }

    #[test]
    fn interim_responses_are_skipped_and_an_unasked_upgrade_refused() {
        let text = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\n";
        let Ok(Some((Parsed::Interim, left))) = parse_text(text, &Method::GET) else {
            panic!("103 is interim");
        };
        assert_eq!(&text[text.len() - left..], b"HTTP/1.1 200 OK\r\n");
        assert_eq!(
            parse_text(b"HTTP/1.1 101 Switching Protocols\r\n\r\n", &Method::GET).unwrap_err(),
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

    #[test]
    fn hop_by_hop_fields_are_read_and_left_out_of_the_map_as_remove_hop_by_hop_would() {
        let text = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive, X-Secret, Host\r\n\
                    X-Secret: s\r\nx-secret: t\r\nKeep-Alive: timeout=5\r\nProxy-Thing: p\r\n\
                    TE: trailers\r\nTrailer: x\r\nUpgrade: h2c\r\nHost: h\r\nX-Kept: k\r\n\r\nok";
        let (head, _) = final_head(text, &Method::GET).unwrap();
        // Removals may reorder fields of different names (as they do on the hyper path): only
        // the order of one name's values is significant.
        let mut names: Vec<_> = head.headers.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["content-length", "host", "x-kept"]);
        assert!(head.keep_alive);
        // The same head through the hyper path's filter over a map of every field.
        let mut all = HeaderMap::new();
        for line in text.split("\r\n").skip(1).take_while(|l| !l.is_empty()) {
            let (name, value) = line.split_once(": ").unwrap();
            all.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        crate::proxy::hop_by_hop::remove_hop_by_hop(&mut all);
        assert_eq!(head.headers, all);
    }

    #[test]
    fn a_connection_value_outside_visible_ascii_names_no_field_but_still_closes() {
        let text = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close, X-A, \xe9\r\nX-A: 1\r\n\r\n";
        let Ok(Some((Parsed::Final(head), _))) = parse_text(text, &Method::GET) else {
            panic!("a final head");
        };
        assert!(!head.keep_alive);
        assert_eq!(head.headers["x-a"], "1");
        assert!(head.headers.get("connection").is_none());
    }

    #[test]
    fn values_are_the_heads_bytes_and_what_follows_the_head_stays_in_the_buffer() {
        let mut buf = BytesMut::from(
            &b"HTTP/1.1 200 OK\r\nX-A: \xe9t\xe9\r\nContent-Length: 2\r\n\r\nokNEXT"[..],
        );
        let Ok(Some(Parsed::Final(head))) = parse(&mut buf, &Method::GET, &mut Vec::new()) else {
            panic!("a final head");
        };
        assert_eq!(head.headers["x-a"].as_bytes(), b"\xe9t\xe9");
        assert_eq!(&buf[..], b"okNEXT");
    }

    #[test]
    fn a_connection_field_naming_a_great_many_fields_takes_out_exactly_those_named() {
        let names: Vec<String> = (0..20_000).map(|i| format!("x-{i}")).collect();
        let text = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: {}\r\nX-7: a\r\nX-19999: b\r\nX-Other: c\r\n\r\n",
            names.join(", ")
        );
        let (head, _) = final_head(&text, &Method::GET).unwrap();
        let mut left: Vec<_> = head.headers.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        assert_eq!(left, ["content-length", "x-other"]);
    }

    /// The rules as they were stated over a map of every field, before the head was read from
    /// its raw fields (kept here as the reference the one-pass reading must agree with).
    mod reference {
        use axum::http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
        use axum::http::{HeaderMap, Method, StatusCode};

        use super::super::{Framing, HeadError};

        pub(super) fn framing(
            headers: &HeaderMap,
            status: StatusCode,
            method: &Method,
        ) -> Result<Framing, HeadError> {
            let mut length = None;
            for value in headers.get_all(CONTENT_LENGTH) {
                for item in value.as_bytes().split(|&b| b == b',') {
                    let item = item.trim_ascii();
                    let refused = || {
                        HeadError::ContentLength(String::from_utf8_lossy(value.as_bytes()).into())
                    };
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
            let all: Vec<_> = headers.get_all(TRANSFER_ENCODING).iter().collect();
            let chunked = match all.as_slice() {
                [] => false,
                [one] if one.as_bytes().trim_ascii().eq_ignore_ascii_case(b"chunked") => true,
                _ => {
                    let all: Vec<_> = all
                        .iter()
                        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                        .collect();
                    return Err(HeadError::TransferEncoding(all.join(", ")));
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

        pub(super) fn names_close(headers: &HeaderMap) -> bool {
            headers.get_all(CONNECTION).iter().any(|v| {
                v.as_bytes()
                    .split(|&b| b == b',')
                    .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
            })
        }
    }

    fn field_strategy() -> impl proptest::strategy::Strategy<Value = (String, String)> {
        use proptest::prelude::*;
        let name = prop_oneof![
            Just("content-length"),
            Just("transfer-encoding"),
            Just("connection"),
            Just("keep-alive"),
            Just("proxy-x"),
            Just("host"),
            Just("te"),
            Just("trailer"),
            Just("upgrade"),
            Just("x-a"),
            Just("x-b"),
        ];
        let value = prop_oneof![
            Just("5"),
            Just("5, 5"),
            Just("5,6"),
            Just(" 0 "),
            Just("+5"),
            Just("chunked"),
            Just("Chunked "),
            Just("gzip, chunked"),
            Just("close"),
            Just("keep-alive"),
            Just("X-A, close"),
            Just("x-b,,te, Host"),
            Just("proxy-x"),
            Just("content-length"),
            Just("v\u{e9}, close"),
            Just("v"),
        ];
        (name, any::<u8>(), value).prop_map(|(name, case, value)| {
            // Some names written in upper case: names are compared without case.
            let name = if case % 3 == 0 {
                name.to_ascii_uppercase()
            } else {
                name.to_string()
            };
            (name, value.to_string())
        })
    }

    proptest::proptest! {
        #[test]
        fn reading_the_raw_fields_agrees_with_the_rules_over_a_map_of_every_field(
            fields in proptest::collection::vec(field_strategy(), 0..7),
            status in proptest::sample::select(vec![200u16, 204, 304, 404]),
            http10 in proptest::bool::ANY,
            head_request in proptest::bool::ANY,
        ) {
            let version = if http10 { "1.0" } else { "1.1" };
            let mut text = format!("HTTP/{version} {status} X\r\n").into_bytes();
            let mut all = HeaderMap::new();
            for (name, value) in &fields {
                text.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
                // As httparse gives it (and gave it to the rules over the map): without the
                // whitespace around it.
                let value = value.trim_matches([' ', '\t']);
                all.append(
                    HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_bytes(value.as_bytes()).unwrap(),
                );
            }
            text.extend_from_slice(b"\r\n");
            let method = if head_request { Method::HEAD } else { Method::GET };
            let status = StatusCode::from_u16(status).unwrap();

            let expected = reference::framing(&all, status, &method).map(|framing| {
                let keep_alive =
                    !http10 && framing != Framing::UntilClose && !reference::names_close(&all);
                crate::proxy::hop_by_hop::remove_hop_by_hop(&mut all);
                (framing, keep_alive, all)
            });
            let got = match parse_text(&text, &method) {
                Ok(Some((Parsed::Final(head), _))) => {
                    Ok((head.framing, head.keep_alive, head.headers))
                }
                Err(e) => Err(e),
                other => panic!("a final head or a refusal, got {other:?}"),
            };
            proptest::prop_assert_eq!(got, expected);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_are_refused_or_read_as_a_head_that_is_a_prefix_of_them(
            valid in proptest::sample::select(vec![
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\n\r\nok",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: x-a\r\nX-A: 1\r\n\r\n0\r\n\r\n",
                "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
            ]),
            edits in proptest::collection::vec((proptest::num::usize::ANY, proptest::num::u8::ANY), 0..6),
            head_request in proptest::bool::ANY,
        ) {
            let mut bytes = valid.as_bytes().to_vec();
            for (at, byte) in edits {
                let at = at % (bytes.len() + 1);
                if byte % 2 == 0 {
                    bytes.insert(at, byte);
                } else if at < bytes.len() {
                    bytes[at] = byte;
                }
            }
            let method = if head_request { Method::HEAD } else { Method::GET };
            let mut buf = BytesMut::from(&bytes[..]);
            let mut kept = Vec::new();
            // Interim heads are taken off one at a time, as the exchange does.
            while let Ok(Some(parsed)) = parse(&mut buf, &method, &mut kept) {
                let taken = bytes.len() - buf.len();
                let head = &bytes[..taken];
                proptest::prop_assert_eq!(&bytes[taken..], &buf[..]);
                proptest::prop_assert!(head.ends_with(b"\n\r\n") || head.ends_with(b"\n\n"));
                match parsed {
                    Parsed::Interim => continue,
                    Parsed::Final(h) => {
                        for value in h.headers.values() {
                            let v = value.as_bytes();
                            proptest::prop_assert!(
                                v.is_empty() || head.windows(v.len()).any(|w| w == v),
                                "{:?} is not in the head",
                                value
                            );
                        }
                        break;
                    }
                }
            }
        }
    }
}
