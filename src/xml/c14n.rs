//! Exclusive XML Canonicalization 1.0, without comments (`http://www.w3.org/2001/10/xml-exc-c14n#`),
//! of one element's subtree of a [`Document`], optionally leaving out one descendant (the
//! enveloped `ds:Signature`).
//!
//! It works on the same tree the values are read from, so what is verified is what is used.
//! Comments are already gone from the tree, which is exactly the without-comments form.

use super::limits::{C14N_GROWTH_ALLOWANCE, C14N_MAX_GROWTH};
use super::tree::{AttributeData, Document, NodeData, NodeId, NodeKind, Span};

/// Why a subtree could not be canonicalized.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum C14nError {
    #[error("node {0:?} is not an element of this document")]
    NotAnElement(NodeId),
    #[error(
        "canonical form of <{element}> exceeds {limit} bytes, the cap for a {source_len}-byte message \
         ({growth} times its size plus {allowance}); only namespace declarations repeated on many \
         elements grow a message that much"
    )]
    TooLarge {
        element: String,
        limit: usize,
        source_len: usize,
        growth: usize,
        allowance: usize,
    },
}

/// Canonicalize `element`'s subtree.
///
/// - `omit`: a descendant element to leave out entirely (the enveloped-signature transform);
/// - `inclusive_prefixes`: the `InclusiveNamespaces PrefixList` tokens (`#default` for the
///   default namespace), whose declarations are rendered as inclusive c14n would. Duplicates
///   are harmless; the caller caps the list's length.
///
/// The work is linear in the subtree (and in the list), and the output is capped at
/// [`C14N_MAX_GROWTH`] times the document's source plus [`C14N_GROWTH_ALLOWANCE`].
pub fn canonicalize(
    doc: &Document,
    element: NodeId,
    omit: Option<NodeId>,
    inclusive_prefixes: &[String],
) -> Result<Vec<u8>, C14nError> {
    let apex = doc
        .element(element)
        .ok_or(C14nError::NotAnElement(element))?;
    // Bindings in scope above the apex, outermost first (a lookup takes the innermost): they
    // are candidates for rendering on the apex.
    let mut scope_stack: Vec<Binding<'_>> = doc
        .inherited_namespaces()
        .iter()
        .map(|d| (d.prefix.as_ref().map(|p| p.as_bytes()), d.uri.as_bytes()))
        .collect();
    if let Some(parent) = apex.parent() {
        for ancestor in parent.ancestry() {
            scope_stack.extend(
                ancestor
                    .namespace_decls()
                    .map(|(p, uri)| (p.map(str::as_bytes), uri.as_bytes())),
            );
        }
    }
    // A sorted set: looked up by binary search on every element that declares a prefix.
    let mut inclusive: Vec<Option<&[u8]>> = inclusive_prefixes
        .iter()
        .map(|p| {
            if p == "#default" {
                None
            } else {
                Some(p.as_bytes())
            }
        })
        .collect();
    inclusive.sort_unstable();
    inclusive.dedup();
    let limit = doc
        .source_len
        .saturating_mul(C14N_MAX_GROWTH)
        .saturating_add(C14N_GROWTH_ALLOWANCE);
    // The canonical form is about as long as the subtree's source; reserve once.
    let mut out = Vec::with_capacity(doc.strings.len().saturating_add(1024));
    let mut c = Canonicalizer {
        doc,
        omit,
        apex: element,
        inclusive: &inclusive,
        limit,
        rendered: Vec::with_capacity(8),
        wanted: Vec::with_capacity(8),
        ns_out: Vec::with_capacity(8),
        attrs: Vec::with_capacity(8),
    };
    match c.element(element, &mut scope_stack, &mut out) {
        Ok(()) => Ok(out),
        Err(TooLarge) => Err(C14nError::TooLarge {
            element: apex.qualified_name(),
            limit,
            source_len: doc.source_len,
            growth: C14N_MAX_GROWTH,
            allowance: C14N_GROWTH_ALLOWANCE,
        }),
    }
}

/// A namespace binding as (prefix, URI) bytes; `None` is the default namespace.
type Binding<'a> = (Option<&'a [u8]>, &'a [u8]);

/// The output passed its cap; the walk stops there.
struct TooLarge;

struct Canonicalizer<'a> {
    doc: &'a Document,
    omit: Option<NodeId>,
    apex: NodeId,
    /// The PrefixList, sorted and deduplicated.
    inclusive: &'a [Option<&'a [u8]>],
    /// Longest output allowed.
    limit: usize,
    /// Namespace declarations rendered by output ancestors, innermost last.
    rendered: Vec<Binding<'a>>,
    // Scratch space for one element's start tag, reused from element to element (each is
    // consumed before the element's children are visited).
    wanted: Vec<Option<&'a [u8]>>,
    ns_out: Vec<Binding<'a>>,
    attrs: Vec<&'a AttributeData>,
}

/// Byte equality that never hands an empty slice to `memcmp`: an empty slice made by
/// `unwrap_or_default` has a dangling pointer, on which glibc's AVX-512 `memcmp` takes a slow
/// fault-suppressing path even for length 0.
/// Two spans of one document that are one span (a binding rendered by an ancestor and the
/// same declaration in scope, nearly always) are equal without a comparison of their bytes.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && (a.is_empty() || std::ptr::eq(a.as_ptr(), b.as_ptr()) || a == b)
}

/// Prefixes are short: compared byte by byte, not by a call to `memcmp`.
fn same_prefix(a: Option<&[u8]>, b: Option<&[u8]>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y),
        _ => false,
    }
}

fn lookup<'s>(stack: &[Binding<'s>], prefix: Option<&[u8]>) -> Option<&'s [u8]> {
    stack
        .iter()
        .rev()
        .find(|(p, _)| same_prefix(*p, prefix))
        .map(|(_, uri)| *uri)
}

impl<'a> Canonicalizer<'a> {
    fn bytes(&self, span: Span) -> &'a [u8] {
        self.doc.bytes(span)
    }

    fn within_limit(&self, out: &[u8]) -> Result<(), TooLarge> {
        if out.len() > self.limit {
            return Err(TooLarge);
        }
        Ok(())
    }

    fn element(
        &mut self,
        id: NodeId,
        scope: &mut Vec<Binding<'a>>,
        out: &mut Vec<u8>,
    ) -> Result<(), TooLarge> {
        let doc = self.doc;
        let Some(NodeData {
            kind: NodeKind::Element(el),
            children,
            ..
        }) = doc.node(id)
        else {
            return Ok(());
        };
        let el_prefix = el.prefix.map(|p| self.bytes(p));
        let decls = el.namespace_decls.of(&doc.decls);
        let attributes = el.attributes.of(&doc.attributes);

        let scope_mark = scope.len();
        scope.extend(
            decls
                .iter()
                .map(|d| (d.prefix.map(|p| self.bytes(p)), self.bytes(d.uri))),
        );

        // Prefixes visibly utilized by the element and its attributes (at most the attribute
        // cap of them, so the pairwise check stays small), then PrefixList ones.
        self.wanted.clear();
        self.wanted.push(el_prefix);
        for attr in attributes {
            if let Some(p) = attr.prefix.map(|p| self.bytes(p))
                && p != b"xml"
                && !self.wanted.iter().any(|w| same_prefix(*w, Some(p)))
            {
                self.wanted.push(Some(p));
            }
        }
        let utilized = self.wanted.len();
        if id == self.apex {
            for p in self.inclusive {
                if !self
                    .wanted
                    .get(..utilized)
                    .unwrap_or_default()
                    .iter()
                    .any(|w| same_prefix(*w, *p))
                {
                    self.wanted.push(*p);
                }
            }
        } else if !self.inclusive.is_empty() {
            // Below the apex a listed prefix can need rendering only where it is declared:
            // anywhere else its binding is the parent's, which the parent has rendered (or
            // had rendered) already. So the list costs nothing on the other elements.
            for d in decls {
                let p = d.prefix.map(|p| self.bytes(p));
                if self.inclusive.binary_search(&p).is_ok()
                    && !self
                        .wanted
                        .get(..utilized)
                        .unwrap_or_default()
                        .iter()
                        .any(|w| same_prefix(*w, p))
                {
                    self.wanted.push(p);
                }
            }
        }

        let rendered_mark = self.rendered.len();
        self.ns_out.clear();
        for prefix in &self.wanted {
            let in_scope = lookup(scope, *prefix);
            match prefix {
                // An unprefixed element with no default namespace renders xmlns="" only to undo
                // a non-empty default rendered by an output ancestor.
                None => {
                    let uri = in_scope.unwrap_or_default();
                    let rendered = lookup(&self.rendered, None).unwrap_or_default();
                    if !same_bytes(uri, rendered) {
                        self.ns_out.push((None, uri));
                    }
                }
                Some(b"xml") => {}
                Some(p) => {
                    if let Some(uri) = in_scope
                        && !lookup(&self.rendered, Some(p)).is_some_and(|r| same_bytes(r, uri))
                    {
                        self.ns_out.push((Some(p), uri));
                    }
                }
            }
        }
        if self.ns_out.len() > 1 {
            // By prefix, the default namespace (None) first: prefixes are never empty, so
            // this is the order of the prefixes as strings, with the default's empty one.
            self.ns_out.sort_by(|a, b| a.0.cmp(&b.0));
            self.ns_out.dedup();
        }

        out.push(b'<');
        push_qname(out, doc, el.prefix, el.local_name);
        for (prefix, uri) in &self.ns_out {
            // Checked before each declaration: one start tag may repeat many long URIs.
            self.within_limit(out)?;
            match prefix {
                Some(p) => {
                    out.extend_from_slice(b" xmlns:");
                    out.extend_from_slice(p);
                }
                None => out.extend_from_slice(b" xmlns"),
            }
            out.extend_from_slice(b"=\"");
            escape_attr(out, uri);
            out.push(b'"');
            self.rendered.push((*prefix, uri));
        }

        self.attrs.clear();
        self.attrs.extend(attributes);
        if self.attrs.len() > 1 {
            // By namespace URI, then local name; no namespace (None) sorts first, as the empty
            // URI would (a namespace URI is never empty).
            self.attrs.sort_by(|a, b| {
                let key = |x: &AttributeData| {
                    (x.namespace.map(|n| doc.bytes(n)), doc.bytes(x.local_name))
                };
                key(a).cmp(&key(b))
            });
        }
        for attr in &self.attrs {
            out.push(b' ');
            push_qname(out, doc, attr.prefix, attr.local_name);
            out.extend_from_slice(b"=\"");
            escape_attr(out, doc.bytes(attr.value));
            out.push(b'"');
        }
        out.push(b'>');
        self.within_limit(out)?;

        for child in children.of(&doc.children) {
            match doc.node(*child).map(|n| &n.kind) {
                Some(NodeKind::Text(t)) => {
                    escape_text(out, doc.bytes(*t));
                    self.within_limit(out)?;
                }
                Some(NodeKind::Element(_)) if Some(*child) != self.omit => {
                    self.element(*child, scope, out)?;
                }
                Some(NodeKind::Element(_)) | None => {}
            }
        }

        out.extend_from_slice(b"</");
        push_qname(out, doc, el.prefix, el.local_name);
        out.push(b'>');

        self.rendered.truncate(rendered_mark);
        scope.truncate(scope_mark);
        Ok(())
    }
}

/// Write the name `prefix:local` (or `local`) as written. The parser stores each name as one
/// run of the arena and splits it at its colon, so the name is copied as one slice, not three.
fn push_qname(out: &mut Vec<u8>, doc: &Document, prefix: Option<Span>, local: Span) {
    match prefix {
        None => out.extend_from_slice(doc.bytes(local)),
        Some(p) if p.end.checked_add(1) == Some(local.start) => {
            out.extend_from_slice(doc.bytes(Span {
                start: p.start,
                end: local.end,
            }))
        }
        // Spans not made by the parser as one run: the pieces, as written.
        Some(p) => {
            out.extend_from_slice(doc.bytes(p));
            out.push(b':');
            out.extend_from_slice(doc.bytes(local));
        }
    }
}

/// Copy `value` into `out`, replacing each byte that `escape` maps (the bytes `find` finds);
/// runs of ordinary bytes are copied in one go (this is the hot loop of every signature check).
fn escape_with(
    out: &mut Vec<u8>,
    value: &[u8],
    find: fn(&[u8]) -> Option<usize>,
    escape: fn(u8) -> Option<&'static [u8]>,
) {
    let mut rest = value;
    while let Some(i) = find(rest) {
        let (run, tail) = rest.split_at_checked(i).unwrap_or((rest, &[]));
        out.extend_from_slice(run);
        let Some((b, tail)) = tail.split_first() else {
            break;
        };
        match escape(*b) {
            Some(replacement) => out.extend_from_slice(replacement),
            None => out.push(*b),
        }
        rest = tail;
    }
    out.extend_from_slice(rest);
}

/// Below this length a value is scanned eight bytes at a time; from it on, by memchr's
/// vectorized searches (whose setup costs more than a short value's scan: most names, IDs and
/// URIs are short, certificates and signature values are long).
const VECTOR_SCAN_FROM: usize = 64;

/// The position of the first byte of `bytes` marked in `special`. Eight bytes are tested
/// per step without branching on each (most values have nothing to escape).
fn first_special(bytes: &[u8], special: &[bool; 256]) -> Option<usize> {
    let is_special = |b: u8| special.get(usize::from(b)).copied().unwrap_or(true);
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0usize;
    for chunk in &mut chunks {
        let clean = <&[u8; 8]>::try_from(chunk)
            .is_ok_and(|block| !block.iter().fold(false, |any, b| any | is_special(*b)));
        if !clean && let Some(i) = chunk.iter().position(|b| is_special(*b)) {
            return Some(offset + i);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|b| is_special(*b))
        .map(|i| offset + i)
}

/// The first byte of text that canonical text escapes (`&`, `<`, `>`, carriage return).
fn first_text_special(bytes: &[u8]) -> Option<usize> {
    if bytes.len() < VECTOR_SCAN_FROM {
        return first_special(bytes, &TEXT_SPECIAL);
    }
    let markup = memchr::memchr3(b'&', b'<', b'>', bytes);
    let head = bytes.get(..markup.unwrap_or(bytes.len())).unwrap_or(bytes);
    memchr::memchr(b'\r', head).or(markup)
}

/// The first byte of a value that a canonical attribute escapes (`&`, `<`, `"`, tab, line
/// feed, carriage return).
fn first_attr_special(bytes: &[u8]) -> Option<usize> {
    if bytes.len() < VECTOR_SCAN_FROM {
        return first_special(bytes, &ATTR_SPECIAL);
    }
    let markup = memchr::memchr3(b'&', b'<', b'"', bytes);
    let head = bytes.get(..markup.unwrap_or(bytes.len())).unwrap_or(bytes);
    memchr::memchr3(b'\t', b'\n', b'\r', head).or(markup)
}

const fn byte_set(bytes: &[u8]) -> [bool; 256] {
    let mut set = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        set[bytes[i] as usize] = true;
        i += 1;
    }
    set
}

static TEXT_SPECIAL: [bool; 256] = byte_set(b"&<>\r");
static ATTR_SPECIAL: [bool; 256] = byte_set(b"&<\"\t\n\r");

fn escape_text(out: &mut Vec<u8>, text: &[u8]) {
    escape_with(out, text, first_text_special, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'>' => Some(b"&gt;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    })
}

fn escape_attr(out: &mut Vec<u8>, value: &[u8]) {
    escape_with(out, value, first_attr_special, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'"' => Some(b"&quot;"),
        b'\t' => Some(b"&#x9;"),
        b'\n' => Some(b"&#xA;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(value: &[u8], text: bool) -> Vec<u8> {
        let mut out = Vec::new();
        for &b in value {
            let r: &[u8] = match (b, text) {
                (b'&', _) => b"&amp;",
                (b'<', _) => b"&lt;",
                (b'>', true) => b"&gt;",
                (b'"', false) => b"&quot;",
                (b'\t', false) => b"&#x9;",
                (b'\n', false) => b"&#xA;",
                (b'\r', _) => b"&#xD;",
                _ => std::slice::from_ref(&b),
            };
            out.extend_from_slice(r);
        }
        out
    }

    #[test]
    fn escaping_finds_special_bytes_at_every_position_of_a_block() {
        for len in (0usize..40).chain([63, 64, 65, 100, 130]) {
            for special in [b'&', b'<', b'>', b'"', b'\t', b'\n', b'\r', b'a'] {
                for at in 0..len {
                    for second in [None, Some(len.saturating_sub(1)), Some(at / 2)] {
                        let mut value = vec![b'x'; len];
                        value[at] = special;
                        if let Some(s) = second {
                            value[s] = b'<';
                        }
                        let mut out = Vec::new();
                        escape_text(&mut out, &value);
                        assert_eq!(out, naive(&value, true), "{value:?}");
                        out.clear();
                        escape_attr(&mut out, &value);
                        assert_eq!(out, naive(&value, false), "{value:?}");
                    }
                }
            }
        }
        let mut out = Vec::new();
        escape_text(&mut out, "é&\u{10000}>".as_bytes());
        assert_eq!(out, "é&amp;\u{10000}&gt;".as_bytes());
    }
}
