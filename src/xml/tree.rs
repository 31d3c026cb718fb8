//! An owned, namespace-resolved XML tree, built once per untrusted message.
//!
//! Every value samlgate acts on is read from this tree, and every signature is checked over it,
//! so there is never a second view of the same document (the root cause of XSW-style bypasses).
//!
//! The tree is an arena: nodes live in one `Vec` and refer to each other by [`NodeId`], which
//! makes parent lookups (needed for "is this Signature a direct child of what it signs?") cheap.
//! Comments are dropped at parse time and adjacent text is merged, so a comment can never split
//! or truncate a value (`alice@example.com<!---->.evil.com` reads as one string).

use std::fmt;
use std::sync::Arc;

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

/// An attribute with its namespace resolved (unprefixed attributes are in no namespace).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    pub prefix: Option<String>,
    /// Shared with every other node in the same namespace (one allocation per declaration).
    pub namespace: Option<Arc<str>>,
    pub local_name: String,
    /// The normalized, unescaped value.
    pub value: String,
}

impl Attribute {
    /// The name as written in the source (`prefix:local` or `local`).
    pub fn qualified_name(&self) -> String {
        match &self.prefix {
            Some(p) => format!("{p}:{}", self.local_name),
            None => self.local_name.clone(),
        }
    }
}

/// An element with its namespace resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    pub prefix: Option<String>,
    /// Shared with every other node in the same namespace (one allocation per declaration).
    pub namespace: Option<Arc<str>>,
    pub local_name: String,
    /// Namespace declarations written on this element, in source order.
    pub namespace_decls: Vec<NamespaceDecl>,
    /// Attributes other than namespace declarations, in source order.
    pub attributes: Vec<Attribute>,
}

impl Element {
    pub fn qualified_name(&self) -> String {
        match &self.prefix {
            Some(p) => format!("{p}:{}", self.local_name),
            None => self.local_name.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeKind {
    Element(Element),
    /// Character data, unescaped, line endings normalized. CDATA sections become text.
    Text(String),
}

#[derive(Clone, Debug)]
pub(crate) struct NodeData {
    pub(crate) parent: Option<NodeId>,
    pub(crate) kind: NodeKind,
    pub(crate) children: Vec<NodeId>,
}

/// A parsed document. The root is always an element.
#[derive(Clone, Debug)]
pub struct Document {
    pub(crate) nodes: Vec<NodeData>,
    pub(crate) root: NodeId,
    /// Namespace bindings in scope above the root: empty for a whole document, the bindings of
    /// the surrounding context for a fragment (a decrypted Assertion inherits the Response's).
    pub(crate) inherited_namespaces: Vec<NamespaceDecl>,
}

/// A borrowed view of one element of a [`Document`].
#[derive(Clone, Copy)]
pub struct ElementRef<'a> {
    doc: &'a Document,
    id: NodeId,
    element: &'a Element,
}

impl fmt::Debug for ElementRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}> ({:?})", self.element.qualified_name(), self.id)
    }
}

/// Why an element's text could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("element <{element}> must hold only text but holds the element <{child}>")]
pub struct NotTextOnly {
    pub element: String,
    pub child: String,
}

impl Document {
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

    /// The number of nodes (elements and text) in the document.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
}

static EMPTY_ELEMENT: Element = Element {
    prefix: None,
    namespace: None,
    local_name: String::new(),
    namespace_decls: Vec::new(),
    attributes: Vec::new(),
};

impl<'a> ElementRef<'a> {
    pub fn id(&self) -> NodeId {
        self.id
    }

    pub fn document(&self) -> &'a Document {
        self.doc
    }

    pub fn element(&self) -> &'a Element {
        self.element
    }

    pub fn local_name(&self) -> &'a str {
        &self.element.local_name
    }

    pub fn namespace(&self) -> Option<&'a str> {
        self.element.namespace.as_deref()
    }

    pub fn prefix(&self) -> Option<&'a str> {
        self.element.prefix.as_deref()
    }

    /// True when this element has the given namespace URI and local name.
    pub fn is(&self, namespace: &str, local_name: &str) -> bool {
        self.element.local_name == local_name && self.namespace() == Some(namespace)
    }

    pub fn qualified_name(&self) -> String {
        self.element.qualified_name()
    }

    pub fn attributes(&self) -> &'a [Attribute] {
        &self.element.attributes
    }

    /// The value of the unqualified attribute `name` (SAML's own attributes are unqualified).
    pub fn attr(&self, name: &str) -> Option<&'a str> {
        self.element
            .attributes
            .iter()
            .find(|a| a.namespace.is_none() && a.local_name == name)
            .map(|a| a.value.as_str())
    }

    /// The value of the attribute `{namespace}local_name`.
    pub fn attr_ns(&self, namespace: &str, local_name: &str) -> Option<&'a str> {
        self.element
            .attributes
            .iter()
            .find(|a| a.namespace.as_deref() == Some(namespace) && a.local_name == local_name)
            .map(|a| a.value.as_str())
    }

    pub fn parent(&self) -> Option<ElementRef<'a>> {
        let parent = self.doc.node(self.id)?.parent?;
        self.doc.element(parent)
    }

    /// Child nodes ids (elements and text), in order.
    pub fn child_ids(&self) -> &'a [NodeId] {
        match self.doc.node(self.id) {
            Some(n) => &n.children,
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
                NodeKind::Text(t) => Some(ChildRef::Text(t.as_str())),
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
        let mut stack = vec![self.id];
        std::iter::from_fn(move || {
            while let Some(id) = stack.pop() {
                let node = doc.node(id)?;
                if let NodeKind::Element(element) = &node.kind {
                    stack.extend(node.children.iter().rev().copied());
                    return Some(ElementRef { doc, id, element });
                }
            }
            None
        })
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

    /// The concatenation of all the element's text children. An element that holds an element
    /// where text is expected is refused, so a value can never be built from part of a subtree.
    pub fn text(&self) -> Result<String, NotTextOnly> {
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

    /// The namespace bindings in scope at this element, innermost last-wins resolved:
    /// one entry per prefix (`None` = default namespace); an undeclared default (`xmlns=""`)
    /// appears with an empty URI.
    pub fn in_scope_namespaces(&self) -> Vec<NamespaceDecl> {
        let mut chain = Vec::new();
        let mut cur = Some(*self);
        while let Some(e) = cur {
            chain.push(e);
            cur = e.parent();
        }
        let mut scope: Vec<NamespaceDecl> = self.doc.inherited_namespaces.clone();
        for e in chain.iter().rev() {
            for decl in &e.element.namespace_decls {
                match scope.iter_mut().find(|d| d.prefix == decl.prefix) {
                    Some(existing) => existing.uri = decl.uri.clone(),
                    None => scope.push(decl.clone()),
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
