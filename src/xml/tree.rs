//! An owned, namespace-resolved XML tree, built once per untrusted message.
//!
//! Every value samlgate acts on is read from this tree, and every signature is checked over it,
//! so there is never a second view of the same document (the root cause of XSW-style bypasses).
//!
//! The tree is an arena: nodes live in one `Vec` and refer to each other by [`NodeId`], which
//! makes parent lookups (needed for "is this Signature a direct child of what it signs?") cheap.
//! Every name, namespace URI, attribute value and text lives in one string owned by the
//! document and is referred to by position, so building the tree costs a handful of
//! allocations, not several per element (parsing is on the hot path of every login).
//! Comments are dropped at parse time and adjacent text is merged, so a comment can never split
//! or truncate a value (`alice@example.com<!---->.evil.com` reads as one string).

use std::fmt;

/// Index of a node in its [`Document`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub(crate) u32);

/// The namespace URI bound to the `xml` prefix by the Namespaces in XML recommendation.
pub const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";

/// A namespace declaration as written on an element: `xmlns:prefix="uri"` or `xmlns="uri"`.
/// `prefix` is `None` for the default namespace; `uri` is empty for `xmlns=""`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceDecl {
    pub prefix: Option<String>,
    pub uri: String,
}

/// A byte range of the document's string arena.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

/// A range of one of the document's tables (attributes, declarations, children).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Slots {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Slots {
    pub(crate) fn of<T>(self, table: &[T]) -> &[T] {
        table
            .get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }
}

/// An element with its namespace resolved.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ElementData {
    pub(crate) prefix: Option<Span>,
    pub(crate) local_name: Span,
    /// The URI of the declaration the name resolved to (`None`: no namespace).
    pub(crate) namespace: Option<Span>,
    /// Attributes other than namespace declarations, in source order.
    pub(crate) attributes: Slots,
    /// Namespace declarations written on this element, in source order.
    pub(crate) namespace_decls: Slots,
}

/// An attribute with its namespace resolved (unprefixed attributes are in no namespace).
#[derive(Clone, Copy, Debug)]
pub(crate) struct AttributeData {
    pub(crate) prefix: Option<Span>,
    pub(crate) namespace: Option<Span>,
    pub(crate) local_name: Span,
    /// The normalized, unescaped value.
    pub(crate) value: Span,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct DeclData {
    pub(crate) prefix: Option<Span>,
    pub(crate) uri: Span,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum NodeKind {
    Element(ElementData),
    /// Character data, unescaped, line endings normalized. CDATA sections become text.
    Text(Span),
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct NodeData {
    pub(crate) parent: Option<NodeId>,
    pub(crate) kind: NodeKind,
    pub(crate) children: Slots,
    /// One past the last node of this node's subtree. Nodes are stored in document order, so
    /// a subtree is the run of nodes from the node itself to here: walking it needs no stack.
    pub(crate) subtree_end: u32,
}

/// A parsed document. The root is always an element.
#[derive(Clone, Debug)]
pub struct Document {
    /// Length in bytes of the text the document was parsed from (what work on it is
    /// measured against).
    pub(crate) source_len: usize,
    /// Every name, URI, value and text of the document.
    pub(crate) strings: String,
    pub(crate) nodes: Vec<NodeData>,
    pub(crate) attributes: Vec<AttributeData>,
    pub(crate) decls: Vec<DeclData>,
    /// Children of every node, each node's in one run, in document order.
    pub(crate) children: Vec<NodeId>,
    pub(crate) root: NodeId,
    /// The values of every unqualified `ID` attribute, in document order: listed by the parser
    /// as it reads, so that the duplicate-ID check, made before every signature check, costs no
    /// walk of the tree.
    pub(crate) ids: Vec<Span>,
    /// Namespace bindings in scope above the root: empty for a whole document, the bindings of
    /// the surrounding context for a fragment (a decrypted Assertion inherits the Response's).
    pub(crate) inherited_namespaces: Vec<NamespaceDecl>,
}

/// A borrowed view of one element of a [`Document`].
#[derive(Clone, Copy)]
pub struct ElementRef<'a> {
    doc: &'a Document,
    id: NodeId,
    element: &'a ElementData,
}

impl fmt::Debug for ElementRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}> ({:?})", self.qualified_name(), self.id)
    }
}

/// A borrowed view of one attribute of an element.
#[derive(Clone, Copy)]
pub struct AttributeRef<'a> {
    doc: &'a Document,
    attribute: &'a AttributeData,
}

impl fmt::Debug for AttributeRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}", self.qualified_name(), self.value())
    }
}

/// Why an element's text could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("element <{element}> must hold only text but holds the element <{child}>")]
pub struct NotTextOnly {
    pub element: String,
    pub child: String,
}

fn qualified(prefix: Option<&str>, local: &str) -> String {
    match prefix {
        Some(p) => format!("{p}:{local}"),
        None => local.to_string(),
    }
}

static EMPTY_ELEMENT: ElementData = ElementData {
    prefix: None,
    local_name: Span { start: 0, end: 0 },
    namespace: None,
    attributes: Slots { start: 0, end: 0 },
    namespace_decls: Slots { start: 0, end: 0 },
};

impl Document {
    /// The text of a span; spans are only ever made by the parser over whole strings.
    pub(crate) fn str(&self, span: Span) -> &str {
        self.strings
            .get(span.start as usize..span.end as usize)
            .unwrap_or_default()
    }

    /// The bytes of a span (see [`Self::str`]); cheaper where no `str` is needed.
    pub(crate) fn bytes(&self, span: Span) -> &[u8] {
        self.strings
            .as_bytes()
            .get(span.start as usize..span.end as usize)
            .unwrap_or_default()
    }

    fn opt_str(&self, span: Option<Span>) -> Option<&str> {
        span.map(|s| self.str(s))
    }

    pub fn root(&self) -> ElementRef<'_> {
        // The parser only builds documents whose root is an element; fall back defensively.
        self.element(self.root)
            .unwrap_or_else(|| self.first_element_or_root())
    }

    fn first_element_or_root(&self) -> ElementRef<'_> {
        // Unreachable for documents built by the parser; kept total rather than panicking.
        self.nodes
            .iter()
            .enumerate()
            .find_map(|(i, n)| match &n.kind {
                NodeKind::Element(e) => Some(ElementRef {
                    doc: self,
                    id: NodeId(i as u32),
                    element: e,
                }),
                NodeKind::Text(_) => None,
            })
            .unwrap_or(ElementRef {
                doc: self,
                id: self.root,
                element: &EMPTY_ELEMENT,
            })
    }

    /// The element with this id, if the id names an element of this document.
    pub fn element(&self, id: NodeId) -> Option<ElementRef<'_>> {
        match &self.nodes.get(id.0 as usize)?.kind {
            NodeKind::Element(element) => Some(ElementRef {
                doc: self,
                id,
                element,
            }),
            NodeKind::Text(_) => None,
        }
    }

    pub(crate) fn node(&self, id: NodeId) -> Option<&NodeData> {
        self.nodes.get(id.0 as usize)
    }

    /// Every element in document order.
    pub fn elements(&self) -> impl Iterator<Item = ElementRef<'_>> {
        self.root().descendants_and_self()
    }

    /// Bindings in scope above the root (see the field's documentation).
    pub fn inherited_namespaces(&self) -> &[NamespaceDecl] {
        &self.inherited_namespaces
    }

    /// An `ID` attribute value that two elements share, if any (the smallest such value). A
    /// duplicate ID is how signature wrapping makes a reference resolve to another element
    /// than the one read; SAML's `ID` is an unqualified attribute.
    pub fn duplicate_id(&self) -> Option<&str> {
        // A Response carries a handful of IDs: a sort beats hashing them.
        let mut ids: Vec<&str> = self.ids.iter().map(|span| self.str(*span)).collect();
        ids.sort_unstable();
        ids.windows(2).find_map(|pair| match pair {
            [a, b] if a == b => Some(*a),
            _ => None,
        })
    }

    /// The number of nodes (elements and text) in the document.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
}

impl<'a> AttributeRef<'a> {
    pub fn prefix(&self) -> Option<&'a str> {
        self.doc.opt_str(self.attribute.prefix)
    }

    pub fn namespace(&self) -> Option<&'a str> {
        self.doc.opt_str(self.attribute.namespace)
    }

    pub fn local_name(&self) -> &'a str {
        self.doc.str(self.attribute.local_name)
    }

    /// The normalized, unescaped value.
    pub fn value(&self) -> &'a str {
        self.doc.str(self.attribute.value)
    }

    /// The name as written in the source (`prefix:local` or `local`).
    pub fn qualified_name(&self) -> String {
        qualified(self.prefix(), self.local_name())
    }
}

impl<'a> ElementRef<'a> {
    pub fn id(&self) -> NodeId {
        self.id
    }

    pub fn document(&self) -> &'a Document {
        self.doc
    }

    pub fn local_name(&self) -> &'a str {
        self.doc.str(self.element.local_name)
    }

    pub fn namespace(&self) -> Option<&'a str> {
        self.doc.opt_str(self.element.namespace)
    }

    pub fn prefix(&self) -> Option<&'a str> {
        self.doc.opt_str(self.element.prefix)
    }

    /// True when this element has the given namespace URI and local name.
    pub fn is(&self, namespace: &str, local_name: &str) -> bool {
        self.local_name() == local_name && self.namespace() == Some(namespace)
    }

    pub fn qualified_name(&self) -> String {
        qualified(self.prefix(), self.local_name())
    }

    /// The attributes other than namespace declarations, in source order.
    pub fn attributes(&self) -> impl ExactSizeIterator<Item = AttributeRef<'a>> + 'a {
        let doc = self.doc;
        self.element
            .attributes
            .of(&doc.attributes)
            .iter()
            .map(move |attribute| AttributeRef { doc, attribute })
    }

    /// The namespace declarations written on this element, in source order, as
    /// (prefix, URI); `None` is the default namespace and an empty URI undeclares it.
    pub fn namespace_decls(
        &self,
    ) -> impl ExactSizeIterator<Item = (Option<&'a str>, &'a str)> + 'a {
        let doc = self.doc;
        self.element
            .namespace_decls
            .of(&doc.decls)
            .iter()
            .map(move |d| (doc.opt_str(d.prefix), doc.str(d.uri)))
    }

    /// The value of the unqualified attribute `name` (SAML's own attributes are unqualified).
    pub fn attr(&self, name: &str) -> Option<&'a str> {
        self.attributes()
            .find(|a| a.attribute.namespace.is_none() && a.local_name() == name)
            .map(|a| a.value())
    }

    /// The value of the attribute `{namespace}local_name`.
    pub fn attr_ns(&self, namespace: &str, local_name: &str) -> Option<&'a str> {
        self.attributes()
            .find(|a| a.namespace() == Some(namespace) && a.local_name() == local_name)
            .map(|a| a.value())
    }

    pub fn parent(&self) -> Option<ElementRef<'a>> {
        let parent = self.doc.node(self.id)?.parent?;
        self.doc.element(parent)
    }

    /// Child nodes ids (elements and text), in order.
    pub fn child_ids(&self) -> &'a [NodeId] {
        match self.doc.node(self.id) {
            Some(n) => n.children.of(&self.doc.children),
            None => &[],
        }
    }

    /// Child nodes, in order.
    pub fn children(self) -> impl Iterator<Item = ChildRef<'a>> + 'a {
        let doc = self.doc;
        self.child_ids()
            .iter()
            .filter_map(move |id| match &doc.node(*id)?.kind {
                NodeKind::Element(element) => Some(ChildRef::Element(ElementRef {
                    doc,
                    id: *id,
                    element,
                })),
                NodeKind::Text(t) => Some(ChildRef::Text(doc.str(*t))),
            })
    }

    /// Child elements, in order.
    pub fn child_elements(self) -> impl Iterator<Item = ElementRef<'a>> + 'a {
        self.children().filter_map(|c| match c {
            ChildRef::Element(e) => Some(e),
            ChildRef::Text(_) => None,
        })
    }

    /// Child elements with the given namespace and local name.
    pub fn children_named(
        &self,
        namespace: &'a str,
        local_name: &'a str,
    ) -> impl Iterator<Item = ElementRef<'a>> + 'a {
        self.child_elements()
            .filter(move |e| e.is(namespace, local_name))
    }

    /// The first child element with the given namespace and local name.
    pub fn first_child_named(&self, namespace: &str, local_name: &str) -> Option<ElementRef<'a>> {
        self.child_elements().find(|e| e.is(namespace, local_name))
    }

    /// This element and all its descendant elements, in document order.
    pub fn descendants_and_self(self) -> impl Iterator<Item = ElementRef<'a>> + 'a {
        let doc = self.doc;
        let end = doc.node(self.id).map_or(self.id.0, |n| n.subtree_end);
        (self.id.0..end).filter_map(move |i| doc.element(NodeId(i)))
    }

    /// True when `self` is `other` or one of its descendants.
    pub fn is_within(&self, other: NodeId) -> bool {
        let mut cur = Some(self.id);
        while let Some(id) = cur {
            if id == other {
                return true;
            }
            cur = self.doc.node(id).and_then(|n| n.parent);
        }
        false
    }

    /// [`Self::text`], borrowed from the document when the element holds one text node or
    /// none (the parser merges adjacent text, so that is every element that holds only text).
    pub fn text_ref(&self) -> Result<std::borrow::Cow<'a, str>, NotTextOnly> {
        match self.child_ids() {
            [] => Ok(std::borrow::Cow::Borrowed("")),
            [only] => match self.doc.node(*only).map(|n| &n.kind) {
                Some(NodeKind::Text(t)) => Ok(std::borrow::Cow::Borrowed(self.doc.str(*t))),
                _ => self.text().map(std::borrow::Cow::Owned),
            },
            _ => self.text().map(std::borrow::Cow::Owned),
        }
    }

    /// The concatenation of all the element's text children. An element that holds an element
    /// where text is expected is refused, so a value can never be built from part of a subtree.
    pub fn text(&self) -> Result<String, NotTextOnly> {
        // The parser merges adjacent text, so an element that holds only text has at most one
        // text child: copied once, at its size.
        if let [only] = self.child_ids()
            && let Some(NodeKind::Text(t)) = self.doc.node(*only).map(|n| &n.kind)
        {
            return Ok(self.doc.str(*t).to_string());
        }
        let mut out = String::new();
        for child in self.children() {
            match child {
                ChildRef::Text(t) => out.push_str(t),
                ChildRef::Element(e) => {
                    return Err(NotTextOnly {
                        element: self.qualified_name(),
                        child: e.qualified_name(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// The ancestors of this element and the element itself, outermost first.
    pub(crate) fn ancestry(&self) -> Vec<ElementRef<'a>> {
        let mut chain = Vec::new();
        let mut cur = Some(*self);
        while let Some(e) = cur {
            chain.push(e);
            cur = e.parent();
        }
        chain.reverse();
        chain
    }

    /// The namespace bindings in scope at this element, innermost last-wins resolved:
    /// one entry per prefix (`None` = default namespace); an undeclared default (`xmlns=""`)
    /// appears with an empty URI.
    pub fn in_scope_namespaces(&self) -> Vec<NamespaceDecl> {
        let mut scope: Vec<NamespaceDecl> = self.doc.inherited_namespaces.clone();
        for e in self.ancestry() {
            for (prefix, uri) in e.namespace_decls() {
                match scope.iter_mut().find(|d| d.prefix.as_deref() == prefix) {
                    Some(existing) => existing.uri = uri.to_string(),
                    None => scope.push(NamespaceDecl {
                        prefix: prefix.map(str::to_string),
                        uri: uri.to_string(),
                    }),
                }
            }
        }
        scope
    }
}

/// A child node of an element.
#[derive(Clone, Copy, Debug)]
pub enum ChildRef<'a> {
    Element(ElementRef<'a>),
    Text(&'a str),
}
