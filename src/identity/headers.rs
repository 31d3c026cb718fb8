//! The identity headers: stripped from every incoming request, then written from the
//! [`Operator`] by the contract ([`super::contract`] names the headers and what each carries).
//!
//! # Stripping
//!
//! Before anything is added, [`strip`] removes from the incoming request every header of the contract (and every
//! name in the configured `also_strip` list) under any letter case and also with `_` in place of `-`
//! (`X_Forwarded_User`): several backend stacks (CGI, PHP, WSGI, some Node frameworks) fold `_` and `-` into the
//! same variable, so a client-sent `X_Forwarded_User` would otherwise shadow ours. `Connection` tokens naming a
//! contract header are dropped too, so that no later hop can be told to remove the header we add.
//!
//! # Value encoding
//!
//! Header values are ASCII-only, in exactly one documented encoding:
//!
//! * A value made only of printable ASCII (`0x20`..=`0x7E`), that neither starts nor ends with a space, and that
//!   does not start with the marker `UTF-8''` (any case) passes **unchanged**: `X-Forwarded-User: jdoe`.
//! * Any other value (non-ASCII, control characters, leading or trailing space, or a value that itself starts with
//!   the marker) is sent as `UTF-8''` followed by its UTF-8 bytes percent-encoded, in the style of an RFC 8187
//!   `ext-value`: every byte outside RFC 8187 `attr-char` (ASCII letters and digits, ``!#$&+-.^_`|~``) is
//!   written `%XX` with upper-case hex. Example: `X-Forwarded-Name: UTF-8''Jos%C3%A9%20M%C3%BCller`.
//! * `X-Forwarded-Groups` is the comma-join of the groups, each encoded on its own by the rule above; a group
//!   whose name contains a comma (or is empty) is always encoded, so splitting the header on `,` is unambiguous:
//!   `X-Forwarded-Groups: admins,UTF-8''Sales%2C%20EMEA,UTF-8''Z%C3%BCrich`.
//!
//! A backend decodes a value by checking for the `UTF-8''` prefix and percent-decoding the rest
//! ([`decode_value`], [`decode_list`] do exactly that).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::header::CONNECTION;
use axum::http::{HeaderMap, HeaderName, HeaderValue};

pub use super::contract::{
    HeaderContract, HeaderContractConfig, HeaderContractError, IdentityField,
};
use super::operator::{IdentityView, Operator};
use super::shared_text::{Piece, TextBuilder};

/// The prefix that marks an encoded value.
pub const ENCODED_MARKER: &str = "UTF-8''";

/// Remove every contract header (any case, `_` form, `also_strip` list) from an incoming request, and every
/// `Connection` token that names one of them.
pub fn strip(contract: &HeaderContract, headers: &mut HeaderMap) {
    // Collected first because a HeaderMap cannot be changed while iterated; the Vec stays unallocated in the
    // usual case where the client sent none of them.
    let mut doomed: Vec<HeaderName> = Vec::new();
    for name in headers.keys() {
        if contract.is_stripped(name.as_str()) {
            doomed.push(name.clone());
        }
    }
    for name in &doomed {
        headers.remove(name);
    }

    if headers.contains_key(CONNECTION) {
        strip_connection_tokens(contract, headers);
    }
}

fn strip_connection_tokens(contract: &HeaderContract, headers: &mut HeaderMap) {
    let names_one = headers.get_all(CONNECTION).iter().any(|v| {
        v.to_str().map_or(true, |s| {
            s.split(',').any(|t| contract.is_stripped(t.trim()))
        })
    });
    if !names_one {
        return;
    }
    let kept: Vec<String> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty() && !contract.is_stripped(t))
        .map(str::to_owned)
        .collect();
    headers.remove(CONNECTION);
    if !kept.is_empty()
        && let Ok(value) = HeaderValue::try_from(kept.join(", "))
    {
        headers.insert(CONNECTION, value);
    }
}

/// An identity's headers, encoded by the contract once (e.g. at login, stored with the session) so that
/// each proxied request only copies reference-counted bytes.
///
/// A node holds one per signed-in session, so they are compact: the names are shared with the contract when the
/// identity has every field, and the values are spans of one buffer, which a session also shares with its own
/// strings (see [`IdentityHeaders::plan`]). A `HeaderValue` kept made costs a session 40 bytes; making one from
/// its span costs a request a check of its bytes (already checked once here, so it cannot fail). So short
/// values are made per request and long ones (the group list) are kept made: most of the memory saved, little
/// of the work added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityHeaders {
    names: Arc<[HeaderName]>,
    text: Bytes,
    /// Where each name's value is in `text`.
    spans: Box<[(u32, u32)]>,
    /// The values of the spans longer than [`MADE_PER_REQUEST`], in order.
    kept: Box<[HeaderValue]>,
}

/// Values up to this many bytes are made per request from their span; longer ones are kept made.
const MADE_PER_REQUEST: u32 = 64;

fn kept_made((start, end): (u32, u32)) -> bool {
    end.saturating_sub(start) > MADE_PER_REQUEST
}

/// Identity headers encoded into a [`TextBuilder`], not yet stored: see [`IdentityHeaders::plan`].
#[derive(Debug)]
pub struct HeaderPlan {
    headers: Vec<(HeaderName, Piece)>,
}

/// Keeps a session's shared text alive under the header values sliced from it.
struct SharedText(Arc<str>);

impl AsRef<[u8]> for SharedText {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl IdentityHeaders {
    /// Encode `identity` by the contract's rules. Absent fields (and an empty group list) give no header.
    /// Extra headers whose name the contract does not declare are left out, with a warning: only declared
    /// names are stripped from incoming requests, so only they may be trusted.
    pub fn encode(contract: &HeaderContract, identity: &Operator) -> Self {
        let mut text = TextBuilder::new();
        let plan = Self::plan(contract, &identity.view(), &mut text);
        Self::from_plan(contract, plan, &text.finish())
    }

    /// [`IdentityHeaders::encode`] in two steps, for a caller that keeps other strings in the same buffer: the
    /// encoded values are written into `text` (a value equal to a string already there, as a plain one is to the
    /// identity's own, is not written again), and [`IdentityHeaders::from_plan`] then slices them out of the
    /// finished buffer.
    pub fn plan(
        contract: &HeaderContract,
        identity: &IdentityView<'_>,
        text: &mut TextBuilder,
    ) -> HeaderPlan {
        let mut headers = Vec::with_capacity(contract.rules.len() + identity.extra.len());
        let mut push = |name: &HeaderName, value: &str| match text.put(value) {
            Some(piece) => headers.push((name.clone(), piece)),
            None => {
                tracing::warn!(header = %name, "identity header value too long to keep; not sent")
            }
        };
        for rule in &contract.rules {
            let value = match rule.source {
                IdentityField::User => Some(encoded(identity.user)),
                IdentityField::AccessGroup => Some(encoded(identity.access_group)),
                IdentityField::Email => identity.email.map(encoded),
                IdentityField::PreferredUsername => identity.preferred_username.map(encoded),
                IdentityField::Name => identity.name.map(encoded),
                IdentityField::Groups if identity.groups.is_empty() => None,
                IdentityField::Groups => {
                    Some(Cow::Owned(encode_items(identity.groups.iter().copied())))
                }
            };
            if let Some(value) = value {
                push(&rule.name, &value);
            }
        }
        for (name, value) in identity.extra {
            match contract
                .extra
                .iter()
                .find(|h| h.as_str().eq_ignore_ascii_case(name))
            {
                Some(header) => push(header, &encoded(value)),
                None => tracing::warn!(
                    header = %name,
                    "identity carries extra header {name:?} that the header contract does not declare; not sent \
                     (declare it under [headers] extra so that client-sent copies are stripped)"
                ),
            }
        }
        HeaderPlan { headers }
    }

    /// The headers of `plan`, their values sliced from `buffer` (the finished text the plan was written into).
    pub fn from_plan(contract: &HeaderContract, plan: HeaderPlan, buffer: &Arc<str>) -> Self {
        let text = Bytes::from_owner(SharedText(Arc::clone(buffer)));
        let mut names = Vec::with_capacity(plan.headers.len());
        let mut spans = Vec::with_capacity(plan.headers.len());
        let mut kept = Vec::new();
        for (name, piece) in plan.headers {
            let range = piece.range();
            let span = u32::try_from(range.start)
                .ok()
                .zip(u32::try_from(range.end).ok());
            match span.and_then(|span| Some((span, value_at(&text, span)?))) {
                Some((span, value)) => {
                    names.push(name);
                    spans.push(span);
                    if kept_made(span) {
                        kept.push(value);
                    }
                }
                // infallible in practice: the encoding only produces printable ASCII; kept as a refusal, not a panic.
                None => {
                    tracing::warn!(header = %name, "identity header value was not valid after encoding; not sent")
                }
            }
        }
        let names = if names.as_slice() == &*contract.rule_names {
            Arc::clone(&contract.rule_names)
        } else {
            Arc::from(names)
        };
        Self {
            names,
            text,
            spans: spans.into_boxed_slice(),
            kept: kept.into_boxed_slice(),
        }
    }

    /// The encoded headers, in contract order.
    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, HeaderValue)> {
        let mut kept = self.kept.iter();
        self.names
            .iter()
            .zip(self.spans.iter())
            .filter_map(move |(name, span)| {
                let value = if kept_made(*span) {
                    kept.next().cloned()
                } else {
                    value_at(&self.text, *span)
                };
                Some((name, value?))
            })
    }
}

impl IdentityHeaders {
    /// The encoded headers in contract order, as bytes: for a caller that writes them out
    /// itself. Every value was checked to be a valid header value when these headers were
    /// built ([`IdentityHeaders::from_plan`] keeps no other), and none can change since.
    pub fn fields(&self) -> impl Iterator<Item = (&HeaderName, &[u8])> {
        self.names
            .iter()
            .zip(self.spans.iter())
            .filter_map(|(name, &(start, end))| {
                Some((name, self.text.get(start as usize..end as usize)?))
            })
    }
}

/// The header value at `span` of `text`, if the span is in it and its bytes are a valid value.
fn value_at(text: &Bytes, (start, end): (u32, u32)) -> Option<HeaderValue> {
    let (start, end) = (start as usize, end as usize);
    (start <= end && end <= text.len())
        .then(|| HeaderValue::from_maybe_shared(text.slice(start..end)).ok())
        .flatten()
}

/// Add the identity headers (encoded once per session by [`IdentityHeaders::encode`]),
/// replacing any value already present under the same name.
///
/// Call [`strip`] first: `inject` only replaces the exact names, not their case or `_` variants.
pub fn inject(identity: &IdentityHeaders, headers: &mut HeaderMap) {
    for (name, value) in identity.iter() {
        headers.insert(name.clone(), value);
    }
}

/// RFC 8187 `attr-char`: the bytes an encoded value keeps as they are.
fn is_attr_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
        )
}

fn starts_with_marker(value: &str) -> bool {
    value
        .get(..ENCODED_MARKER.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(ENCODED_MARKER))
}

fn passes_plain(value: &str) -> bool {
    value.bytes().all(|b| (0x20..=0x7e).contains(&b))
        && !value.starts_with(' ')
        && !value.ends_with(' ')
        && !starts_with_marker(value)
}

fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(ENCODED_MARKER.len() + value.len() * 3);
    out.push_str(ENCODED_MARKER);
    for b in value.bytes() {
        if is_attr_char(b) {
            out.push(char::from(b));
        } else {
            // infallible: writing to a String cannot fail
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Encode one header value by the contract's rule (see the module documentation).
pub fn encode_value(value: &str) -> String {
    encoded(value).into_owned()
}

/// [`encode_value`], borrowing a value that passes unchanged.
fn encoded(value: &str) -> Cow<'_, str> {
    if passes_plain(value) {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(percent_encode(value))
    }
}

/// Encode a list (the groups): each item by [`encode_value`], an item holding a comma or empty always encoded,
/// then joined with `,`.
pub fn encode_list(items: &[String]) -> String {
    encode_items(items.iter().map(String::as_str))
}

fn encode_items<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if item.is_empty() || item.contains(',') || !passes_plain(item) {
            out.push_str(&percent_encode(item));
        } else {
            out.push_str(item);
        }
    }
    out
}

/// A header value that does not follow the contract's encoding.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeaderDecodeError {
    #[error("encoded header value has a bad percent escape at byte {at}")]
    BadEscape { at: usize },
    #[error("encoded header value does not decode to UTF-8")]
    NotUtf8,
}

/// Decode one header value written by [`encode_value`]: values without the `UTF-8''` marker are returned as they
/// are; marked values are percent-decoded and must be UTF-8.
pub fn decode_value(value: &str) -> Result<String, HeaderDecodeError> {
    let Some(encoded) = value.strip_prefix(ENCODED_MARKER) else {
        return Ok(value.to_owned());
    };
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).and_then(|c| char::from(*c).to_digit(16));
            let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2)) else {
                return Err(HeaderDecodeError::BadEscape {
                    at: ENCODED_MARKER.len() + i,
                });
            };
            // infallible: hi and lo are single hex digits, so hi * 16 + lo <= 255
            out.push(u8::try_from(hi * 16 + lo).unwrap_or(0));
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| HeaderDecodeError::NotUtf8)
}

/// Decode a list header written by [`encode_list`] (e.g. `X-Forwarded-Groups`).
pub fn decode_list(value: &str) -> Result<Vec<String>, HeaderDecodeError> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    value
        .split(',')
        .map(|item| decode_value(item.trim()))
        .collect()
}

#[cfg(test)]
mod tests;
