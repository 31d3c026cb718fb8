//! Exclusive XML Canonicalization 1.0, without comments (`http://www.w3.org/2001/10/xml-exc-c14n#`),
//! of one element's subtree of a [`Document`], optionally leaving out one descendant (the
//! enveloped `ds:Signature`).
//!
//! It works on the same tree the values are read from, so what is verified is what is used.
//! Comments are already gone from the tree, which is exactly the without-comments form.

use super::tree::{AttributeRef, ChildRef, Document, ElementRef, NodeId};

/// Why a subtree could not be canonicalized.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum C14nError {
    #[error("node {0:?} is not an element of this document")]
    NotAnElement(NodeId),
}

/// Canonicalize `element`'s subtree.
///
/// - `omit`: a descendant element to leave out entirely (the enveloped-signature transform);
/// - `inclusive_prefixes`: the `InclusiveNamespaces PrefixList` tokens (`#default` for the
///   default namespace), whose declarations are rendered as inclusive c14n would.
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
    let mut scope_stack: Vec<(Option<&str>, &str)> = doc
        .inherited_namespaces()
        .iter()
        .map(|d| (d.prefix.as_deref(), d.uri.as_str()))
        .collect();
    if let Some(parent) = apex.parent() {
        for ancestor in parent.ancestry() {
            scope_stack.extend(ancestor.namespace_decls());
        }
    }
    let inclusive: Vec<Option<&str>> = inclusive_prefixes
        .iter()
        .map(|p| {
            if p == "#default" {
                None
            } else {
                Some(p.as_str())
            }
        })
        .collect();
    let mut out = Vec::with_capacity(4096);
    let mut c = Canonicalizer {
        omit,
        inclusive: &inclusive,
        rendered: Vec::new(),
        wanted: Vec::new(),
        ns_out: Vec::new(),
        attrs: Vec::new(),
    };
    c.element(apex, &mut scope_stack, &mut out);
    Ok(out)
}

struct Canonicalizer<'a> {
    omit: Option<NodeId>,
    inclusive: &'a [Option<&'a str>],
    /// Namespace declarations rendered by output ancestors, innermost last.
    rendered: Vec<(Option<&'a str>, &'a str)>,
    // Scratch space for one element's start tag, reused from element to element (each is
    // consumed before the element's children are visited).
    wanted: Vec<Option<&'a str>>,
    ns_out: Vec<(Option<&'a str>, &'a str)>,
    attrs: Vec<AttributeRef<'a>>,
}

fn lookup<'s>(stack: &[(Option<&'s str>, &'s str)], prefix: Option<&str>) -> Option<&'s str> {
    stack
        .iter()
        .rev()
        .find(|(p, _)| *p == prefix)
        .map(|(_, uri)| *uri)
}

impl<'a> Canonicalizer<'a> {
    fn element(
        &mut self,
        el: ElementRef<'a>,
        scope: &mut Vec<(Option<&'a str>, &'a str)>,
        out: &mut Vec<u8>,
    ) {
        let scope_mark = scope.len();
        scope.extend(el.namespace_decls());

        // Prefixes visibly utilized by the element and its attributes, then PrefixList ones.
        self.wanted.clear();
        self.wanted.push(el.prefix());
        for attr in el.attributes() {
            if let Some(p) = attr.prefix()
                && p != "xml"
                && !self.wanted.contains(&Some(p))
            {
                self.wanted.push(Some(p));
            }
        }
        for p in self.inclusive {
            if !self.wanted.contains(p) {
                self.wanted.push(*p);
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
                    let uri = in_scope.unwrap_or("");
                    if uri != lookup(&self.rendered, None).unwrap_or("") {
                        self.ns_out.push((None, uri));
                    }
                }
                Some("xml") => {}
                Some(p) => {
                    if let Some(uri) = in_scope
                        && lookup(&self.rendered, Some(p)) != Some(uri)
                    {
                        self.ns_out.push((Some(p), uri));
                    }
                }
            }
        }
        self.ns_out
            .sort_by(|a, b| a.0.unwrap_or("").cmp(b.0.unwrap_or("")));
        self.ns_out.dedup();

        out.push(b'<');
        push_qname(out, el.prefix(), el.local_name());
        for (prefix, uri) in &self.ns_out {
            match prefix {
                Some(p) => {
                    out.extend_from_slice(b" xmlns:");
                    out.extend_from_slice(p.as_bytes());
                }
                None => out.extend_from_slice(b" xmlns"),
            }
            out.extend_from_slice(b"=\"");
            escape_attr(out, uri);
            out.push(b'"');
            self.rendered.push((*prefix, uri));
        }

        self.attrs.clear();
        self.attrs.extend(el.attributes());
        self.attrs.sort_by(|a, b| {
            (a.namespace().unwrap_or(""), a.local_name())
                .cmp(&(b.namespace().unwrap_or(""), b.local_name()))
        });
        for attr in &self.attrs {
            out.push(b' ');
            push_qname(out, attr.prefix(), attr.local_name());
            out.extend_from_slice(b"=\"");
            escape_attr(out, attr.value());
            out.push(b'"');
        }
        out.push(b'>');

        for child in el.children() {
            match child {
                ChildRef::Text(t) => escape_text(out, t),
                ChildRef::Element(e) => {
                    if Some(e.id()) != self.omit {
                        self.element(e, scope, out);
                    }
                }
            }
        }

        out.extend_from_slice(b"</");
        push_qname(out, el.prefix(), el.local_name());
        out.push(b'>');

        self.rendered.truncate(rendered_mark);
        scope.truncate(scope_mark);
    }
}

fn push_qname(out: &mut Vec<u8>, prefix: Option<&str>, local: &str) {
    if let Some(p) = prefix {
        out.extend_from_slice(p.as_bytes());
        out.push(b':');
    }
    out.extend_from_slice(local.as_bytes());
}

/// Copy `value` into `out`, replacing each byte that `escape` maps; runs of ordinary bytes are
/// copied in one go (this is the hot loop of every signature check).
fn escape_with(out: &mut Vec<u8>, value: &str, escape: fn(u8) -> Option<&'static [u8]>) {
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        if let Some(replacement) = escape(*b) {
            out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
            out.extend_from_slice(replacement);
            start = i + 1;
        }
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
}

fn escape_text(out: &mut Vec<u8>, text: &str) {
    escape_with(out, text, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'>' => Some(b"&gt;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    })
}

fn escape_attr(out: &mut Vec<u8>, value: &str) {
    escape_with(out, value, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'"' => Some(b"&quot;"),
        b'\t' => Some(b"&#x9;"),
        b'\n' => Some(b"&#xA;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    })
}
