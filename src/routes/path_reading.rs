//! One reading of a request path: access is decided on exactly the path the backend receives,
//! or the request is refused.
//!
//! Servers read the same bytes differently. Tomcat and Spring drop `;params` from every
//! segment, so `/admin/..;/` climbs out of `/admin` for them and not for nginx; IIS and many
//! Windows frameworks take `\` for `/`; some servers turn `%2F` into a separator, some decode
//! twice. A gateway that authorizes one reading while the backend acts on another is bypassed,
//! so a path is accepted only when its readings differ at most in ways the route rules weigh
//! (`;params`, letter case, percent-encoded letters; see [`PathReading::readings`]), and
//! refused otherwise:
//!
//! - a `.` or `..` segment (browsers and HTTP clients resolve them before sending), with or
//!   without `;params`;
//! - a backslash, raw or `%5C`; `%2F`, `%2E`, `%3B`, `%00` or any other encoded control
//!   character; a `%25` that makes a second escape; an invalid escape;
//! - anything but visible ASCII on the wire, or invalid UTF-8 once decoded.
//!
//! Repeated slashes are repaired instead: nginx, Tomcat and Python's servers all merge them,
//! so `//admin` means `/admin` everywhere; the backend is sent the merged path, which is the one
//! authorized. An already-normal path (the common request) is read without allocating.

use std::borrow::Cow;

/// A request path as the gateway reads it, and the readings of it that common servers make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathReading<'a> {
    /// What the backend receives: the request's own path, or it with repeated slashes merged.
    path: Cow<'a, str>,
    /// `path` percent-decoded; `None` when it holds no `%`.
    decoded: Option<String>,
    /// Some segment carries `;params`.
    params: bool,
}

impl<'a> PathReading<'a> {
    /// Read `raw` (a request path, without its query), or say why no single reading exists.
    pub fn new(raw: &'a str) -> Result<Self, PathRefusal> {
        let refuse = |reason| Err(PathRefusal::new(reason, raw.as_bytes()));
        if !raw.starts_with('/') {
            return refuse(RefusalReason::NotOriginForm);
        }
        // One pass over the bytes (the common request pays for nothing more): each byte's
        // class, and each segment once its `/` or the end is reached. A refusal of a byte
        // takes precedence over one of a segment, so the reason logged does not depend on
        // which comes first in the path.
        let bytes = raw.as_bytes();
        let (mut percent, mut params, mut merge) = (false, false, false);
        let mut bad_segment = None;
        // Where the current segment starts, and where its `;params` do if it has any.
        let (mut start, mut semicolon) = (1usize, None);
        for (i, &b) in bytes.iter().enumerate().skip(1) {
            match b {
                b'/' => {
                    match segment(bytes, start, semicolon, i) {
                        Segment::Empty => merge = true,
                        Segment::Refused(reason) => {
                            bad_segment.get_or_insert(reason);
                        }
                        Segment::Name => {}
                    }
                    start = i.saturating_add(1);
                    semicolon = None;
                }
                b';' => {
                    params = true;
                    semicolon.get_or_insert(i);
                }
                b'%' => percent = true,
                b'\\' => return refuse(RefusalReason::Backslash),
                b'?' | b'#' => return refuse(RefusalReason::QueryOrFragment),
                b'!'..=b'~' => {}
                other => return refuse(RefusalReason::RawByte(other)),
            }
        }
        // The last segment: empty after a trailing `/`, which is meaningful, not merged.
        if let Segment::Refused(reason) = segment(bytes, start, semicolon, bytes.len()) {
            bad_segment.get_or_insert(reason);
        }
        if let Some(reason) = bad_segment {
            return refuse(reason);
        }
        let decoded = if percent {
            Some(decode(raw).map_err(|reason| PathRefusal::new(reason, raw.as_bytes()))?)
        } else {
            None
        };
        // A server that decodes before it finds the query cuts the path at an escaped `?` or
        // `#`: `/.%3F` is `/.` to it. The segment that cut leaves must not be a dot segment.
        if let Some(d) = &decoded
            && let Some(end) = d.find(['?', '#'])
        {
            let cut = d.get(..end).unwrap_or_default();
            let last = cut.rsplit('/').next().unwrap_or_default();
            if matches!(last.split(';').next(), Some("." | "..")) {
                return refuse(RefusalReason::DotSegment);
            }
        }
        let path = if merge {
            Cow::Owned(merge_slashes(raw))
        } else {
            Cow::Borrowed(raw)
        };
        // Escapes never make a `/`, so merging the decoded path gives the merged path decoded.
        let decoded = match (decoded, merge) {
            (Some(d), true) => Some(merge_slashes(&d)),
            (d, _) => d,
        };
        Ok(PathReading {
            path,
            decoded,
            params,
        })
    }

    /// The path the backend must receive.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path the backend must receive, when it is not the request's own.
    pub fn rewritten(&self) -> Option<&str> {
        match &self.path {
            Cow::Owned(path) => Some(path),
            Cow::Borrowed(_) => None,
        }
    }

    /// The path percent-decoded: what most servers match their locations against.
    pub fn decoded(&self) -> &str {
        self.decoded.as_deref().unwrap_or(&self.path)
    }

    /// Every reading of the path a route rule must meet: the decoded path; the path as sent,
    /// for servers that do not decode; the decoded path cut at a `?` or `#` it decodes to, for
    /// servers that decode before splitting off the query; the decoded path without `;params`
    /// (and the empty segments that leaves), as servlet containers read it. Only readings that
    /// differ from the first are given, so an already-normal path yields itself alone.
    pub fn readings(&self) -> impl Iterator<Item = Cow<'_, str>> {
        std::iter::once(Cow::Borrowed(self.decoded())).chain(self.other_readings())
    }

    /// The readings after the first ([`Self::decoded`]): none for an already-normal path.
    pub fn other_readings(&self) -> impl Iterator<Item = Cow<'_, str>> {
        let decoded = self.decoded();
        let undecoded = self.decoded.is_some().then(|| Cow::Borrowed(self.path()));
        // Only an escape can put a `?` or `#` in the path.
        let cut = self
            .decoded
            .as_deref()
            .and_then(|d| d.find(['?', '#']))
            .and_then(|end| decoded.get(..end))
            .map(Cow::Borrowed);
        let servlet = self.params.then(|| Cow::Owned(without_params(decoded)));
        undecoded.into_iter().chain(cut).chain(servlet)
    }

    /// Whether [`Self::other_readings`] yields anything.
    pub fn has_other_readings(&self) -> bool {
        self.decoded.is_some() || self.params
    }
}

/// What a segment of a path is to the reading.
enum Segment {
    Name,
    Empty,
    Refused(RefusalReason),
}

/// The segment `bytes[start..end]`, whose `;params` start at `semicolon`.
fn segment(bytes: &[u8], start: usize, semicolon: Option<usize>, end: usize) -> Segment {
    let name = bytes
        .get(start..semicolon.unwrap_or(end))
        .unwrap_or_default();
    match (name, semicolon) {
        (b"." | b"..", None) => Segment::Refused(RefusalReason::DotSegment),
        (b"." | b"..", Some(_)) => Segment::Refused(RefusalReason::DotSegmentWithParams),
        _ if start >= end => Segment::Empty,
        _ => Segment::Name,
    }
}

/// `path` with each run of `/` made one `/` (its first byte is `/`).
fn merge_slashes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    out
}

/// `path` as a servlet container matches it: each segment's `;params` removed, then the
/// segments left empty dropped (`/;x/admin` is `/admin` to Tomcat).
fn without_params(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for segment in path.split('/') {
        let name = segment.split(';').next().unwrap_or(segment);
        if !name.is_empty() {
            out.push('/');
            out.push_str(name);
        }
    }
    if out.is_empty() || path.ends_with('/') {
        out.push('/');
    }
    out
}

/// Percent-decode `raw`, refusing the escapes servers read differently.
fn decode(raw: &str) -> Result<String, RefusalReason> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0usize;
    while let Some(&b) = bytes.get(i) {
        if b != b'%' {
            out.push(b);
            i = i.saturating_add(1);
            continue;
        }
        let escape = bytes.get(i..i.saturating_add(3)).unwrap_or_default();
        let Some(value) = escaped_byte(escape) else {
            return Err(RefusalReason::InvalidEscape);
        };
        let written = || String::from_utf8_lossy(escape).into_owned();
        match value {
            b'/' | b'\\' | b'.' | b';' => {
                return Err(RefusalReason::EncodedDelimiter { escape: written() });
            }
            0..=0x1f | 0x7f => return Err(RefusalReason::EncodedControl),
            b'%' if bytes
                .get(i.saturating_add(3)..i.saturating_add(5))
                .is_some_and(|next| next.iter().all(u8::is_ascii_hexdigit)) =>
            {
                return Err(RefusalReason::DoubleEncoding);
            }
            _ => out.push(value),
        }
        i = i.saturating_add(3);
    }
    let decoded = String::from_utf8(out).map_err(|_| RefusalReason::InvalidUtf8)?;
    // Raw control bytes are refused before decoding; this catches the encoded ones that
    // are not ASCII (U+0085 NEL, the other C1 controls).
    if decoded.chars().any(char::is_control) {
        return Err(RefusalReason::EncodedControl);
    }
    Ok(decoded)
}

/// The byte `%XY` stands for, when `escape` is exactly that.
fn escaped_byte(escape: &[u8]) -> Option<u8> {
    let [b'%', hi, lo] = *escape else {
        return None;
    };
    let digit = |b: u8| {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    Some(digit(hi)? << 4 | digit(lo)?)
}

/// Why a request path has no single reading. `Display` is the log line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("request path \"{path}\" refused: {reason}")]
pub struct PathRefusal {
    reason: RefusalReason,
    /// The path, escaped and shortened for the log.
    path: String,
}

impl PathRefusal {
    fn new(reason: RefusalReason, path: &[u8]) -> Self {
        PathRefusal {
            reason,
            path: shown(path),
        }
    }

    pub fn reason(&self) -> &RefusalReason {
        &self.reason
    }

    /// A stable label for metrics.
    pub fn kind(&self) -> &'static str {
        self.reason.kind()
    }
}

/// Which rule a refused path breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RefusalReason {
    #[error("it does not start with /")]
    NotOriginForm,
    #[error(
        "it holds the raw byte 0x{0:02X} (a path on the wire is visible ASCII: spaces, control characters and non-ASCII are sent percent-encoded)"
    )]
    RawByte(u8),
    #[error("it holds a backslash, which Windows servers and some frameworks read as /")]
    Backslash,
    #[error("it holds a ? or # that is not the start of the query")]
    QueryOrFragment,
    #[error("it has a % not followed by two hex digits")]
    InvalidEscape,
    #[error(
        "{escape} encodes a /, \\, . or ;, which some servers decode into a delimiter and others keep as data"
    )]
    EncodedDelimiter { escape: String },
    #[error("it encodes a control character")]
    EncodedControl,
    #[error(
        "it encodes a % before two hex digits, which servers that decode twice read as another character"
    )]
    DoubleEncoding,
    #[error("it does not decode to UTF-8")]
    InvalidUtf8,
    #[error(
        "it has a . or .. segment (clients resolve these before sending; servers disagree on what they mean)"
    )]
    DotSegment,
    #[error(
        "it has a . or .. segment with ;parameters (servlet containers read \"..;\" as \"..\", other servers as a name)"
    )]
    DotSegmentWithParams,
}

impl RefusalReason {
    /// A stable label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            RefusalReason::NotOriginForm => "not_origin_form",
            RefusalReason::RawByte(_) => "raw_byte",
            RefusalReason::Backslash => "backslash",
            RefusalReason::QueryOrFragment => "query_or_fragment",
            RefusalReason::InvalidEscape => "invalid_escape",
            RefusalReason::EncodedDelimiter { .. } => "encoded_delimiter",
            RefusalReason::EncodedControl => "encoded_control",
            RefusalReason::DoubleEncoding => "double_encoding",
            RefusalReason::InvalidUtf8 => "invalid_utf8",
            RefusalReason::DotSegment => "dot_segment",
            RefusalReason::DotSegmentWithParams => "dot_segment_params",
        }
    }
}

/// Longer paths are shortened in the log.
const SHOWN_MAX: usize = 256;

/// `bytes` for a log line: visible ASCII as is (`\` and `"` escaped), every other byte as
/// `\xNN`, at most [`SHOWN_MAX`] bytes of it. A log line can then never be split or faked by
/// what a client sent.
pub fn shown(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().min(SHOWN_MAX));
    for &b in bytes.iter().take(SHOWN_MAX) {
        out.extend(std::ascii::escape_default(b).map(char::from));
    }
    if bytes.len() > SHOWN_MAX {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests;
