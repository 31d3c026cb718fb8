//! The one strict parser for untrusted XML (SAML messages, metadata, decrypted assertions).
//!
//! It refuses everything a SAML message never needs and attackers often use: DOCTYPE (and so
//! every entity trick), processing instructions, several roots, trailing text, non-UTF-8 input,
//! undeclared prefixes, duplicate attributes. It never touches the network or the file system.

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::reader::Reader;

use super::limits::ParseLimits;
use super::tree::{
    AttributeData, DeclData, Document, ElementData, NamespaceDecl, NodeData, NodeId, NodeKind,
    Slots, Span, XML_NAMESPACE,
};

const XMLNS_NAMESPACE: &str = "http://www.w3.org/2000/xmlns/";

/// Why a document was refused by the strict parser.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("XML document is {size} bytes, over the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("XML document is not UTF-8 (byte offset {offset})")]
    NotUtf8 { offset: usize },
    #[error("XML declaration names encoding {0:?}; only UTF-8 is accepted")]
    UnsupportedEncoding(String),
    #[error("XML declaration is not at the start of the document")]
    MisplacedDeclaration,
    #[error("DOCTYPE declarations are refused (they enable entity expansion and external fetches)")]
    Doctype,
    #[error("processing instruction <?{0}?> is refused")]
    ProcessingInstruction(String),
    #[error(
        "entity reference &{0}; is refused; only the five predefined entities and character references are allowed"
    )]
    UnknownEntity(String),
    #[error("invalid character reference &{0};")]
    InvalidCharRef(String),
    #[error("document has more than one root element")]
    SeveralRoots,
    #[error("document has text outside the root element")]
    TextOutsideRoot,
    #[error("document has no root element")]
    NoRoot,
    #[error("element nesting deeper than {0}")]
    TooDeep(usize),
    #[error("document has more than {0} nodes")]
    TooManyNodes(usize),
    #[error(
        "element <{element}> has more than {limit} attributes (namespace declarations included)"
    )]
    TooManyAttributes { element: String, limit: usize },
    #[error(
        "more than {limit} namespace declarations are in scope at <{element}> (on it and its ancestors)"
    )]
    TooManyNamespaces { element: String, limit: usize },
    #[error("name longer than {0} characters")]
    NameTooLong(usize),
    #[error("namespace prefix {prefix:?} is used on <{element}> but never declared")]
    UndeclaredPrefix { prefix: String, element: String },
    #[error("invalid namespace declaration {0}")]
    InvalidNamespaceDecl(String),
    #[error("attribute {attribute} appears twice on <{element}>")]
    DuplicateAttribute { element: String, attribute: String },
    #[error("malformed XML at byte {offset}: {message}")]
    Malformed { offset: u64, message: String },
}

/// Parse a whole document.
pub fn parse(input: &[u8], limits: &ParseLimits) -> Result<Document, XmlError> {
    parse_with_context(input, limits, &[])
}

/// Parse a fragment that was cut out of a larger document (a decrypted Assertion), with the
/// namespace bindings that were in scope where it stood.
pub fn parse_with_context(
    input: &[u8],
    limits: &ParseLimits,
    inherited_namespaces: &[NamespaceDecl],
) -> Result<Document, XmlError> {
    if input.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            size: input.len(),
            limit: limits.max_bytes,
        });
    }
    let text = std::str::from_utf8(input).map_err(|e| XmlError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    Builder::new(limits, inherited_namespaces, text.len())?.run(text)
}

/// An attribute read from a start tag, before its prefix is resolved (a declaration later in
/// the same tag may bind it).
#[derive(Clone, Copy)]
struct RawAttribute {
    prefix: Option<Span>,
    local_name: Span,
    value: Span,
}

struct Builder<'l> {
    limits: &'l ParseLimits,
    /// The document's string arena: every name, URI, value and text is appended here once.
    strings: String,
    nodes: Vec<NodeData>,
    attributes: Vec<AttributeData>,
    decls: Vec<DeclData>,
    /// Open elements, innermost last.
    stack: Vec<NodeId>,
    /// Namespace bindings in scope, innermost last: (prefix, URI). The inherited ones first.
    bindings: Vec<(Option<Span>, Span)>,
    /// For each open element, the length of `bindings` before its declarations.
    binding_marks: Vec<usize>,
    /// Attributes of the start tag being read (reused from tag to tag).
    raw_attributes: Vec<RawAttribute>,
    /// Scratch space for the duplicate check of one start tag (reused from tag to tag).
    sorted_attributes: Vec<AttributeData>,
    /// Where `XML_NAMESPACE` sits in the arena (the `xml` prefix is bound without a declaration).
    xml_namespace: Span,
    root: Option<NodeId>,
    /// Values of the unqualified `ID` attributes read so far (see [`Document::duplicate_id`]).
    ids: Vec<Span>,
    inherited: Vec<NamespaceDecl>,
    seen_event: bool,
    /// Start, in the arena, of the text accumulated for the current parent; flushed at the
    /// next element boundary so that text split by comments, references or CDATA becomes one
    /// node. Nothing else is appended to the arena between two pieces of one text.
    pending_text: Option<u32>,
}

impl<'l> Builder<'l> {
    fn new(
        limits: &'l ParseLimits,
        inherited: &[NamespaceDecl],
        input_len: usize,
    ) -> Result<Self, XmlError> {
        // Names, values and text are never longer than their source, so the arena is filled
        // without growing.
        let inherited_len: usize = inherited
            .iter()
            .map(|d| d.uri.len() + d.prefix.as_ref().map_or(0, String::len))
            .sum();
        let mut builder = Builder {
            limits,
            strings: String::with_capacity(
                input_len
                    .saturating_add(inherited_len)
                    .saturating_add(XML_NAMESPACE.len()),
            ),
            nodes: Vec::with_capacity(input_len / 64),
            attributes: Vec::with_capacity(input_len / 128),
            decls: Vec::new(),
            stack: Vec::new(),
            bindings: Vec::with_capacity(inherited.len() + 8),
            binding_marks: Vec::new(),
            raw_attributes: Vec::new(),
            sorted_attributes: Vec::new(),
            xml_namespace: Span::default(),
            root: None,
            ids: Vec::new(),
            inherited: inherited.to_vec(),
            seen_event: false,
            pending_text: None,
        };
        builder.xml_namespace = builder.store(XML_NAMESPACE)?;
        for decl in inherited {
            let prefix = match &decl.prefix {
                Some(p) => Some(builder.store(p)?),
                None => None,
            };
            let uri = builder.store(&decl.uri)?;
            builder.bindings.push((prefix, uri));
        }
        Ok(builder)
    }

    /// Append `s` to the arena.
    fn store(&mut self, s: &str) -> Result<Span, XmlError> {
        let start = self.position()?;
        self.strings.push_str(s);
        let end = self.position()?;
        Ok(Span { start, end })
    }

    fn position(&self) -> Result<u32, XmlError> {
        u32::try_from(self.strings.len()).map_err(|_| XmlError::TooLarge {
            size: self.strings.len(),
            limit: u32::MAX as usize,
        })
    }

    fn text_of(&self, span: Span) -> &str {
        self.strings
            .get(span.start as usize..span.end as usize)
            .unwrap_or_default()
    }

    fn run(mut self, text: &str) -> Result<Document, XmlError> {
        let mut reader = Reader::from_str(text);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.check_comments = true;
        config.expand_empty_elements = false;
        config.allow_dangling_amp = false;
        config.allow_unmatched_ends = false;
        loop {
            let offset = reader.buffer_position();
            let event = reader.read_event().map_err(|e| XmlError::Malformed {
                offset: reader.error_position(),
                message: e.to_string(),
            })?;
            let first = !self.seen_event;
            self.seen_event = true;
            match event {
                Event::Decl(decl) => {
                    if !first || offset != 0 {
                        return Err(XmlError::MisplacedDeclaration);
                    }
                    if let Some(enc) = decl.encoding() {
                        let enc = enc.map_err(|e| XmlError::Malformed {
                            offset,
                            message: e.to_string(),
                        })?;
                        if !enc.eq_ignore_ascii_case("utf-8") && !enc.eq_ignore_ascii_case("utf8") {
                            return Err(XmlError::UnsupportedEncoding(enc.into_owned()));
                        }
                    }
                }
                Event::DocType(_) => return Err(XmlError::Doctype),
                Event::PI(pi) => {
                    let target: String = pi.chars().take(32).collect();
                    return Err(XmlError::ProcessingInstruction(target));
                }
                Event::Comment(_) => {}
                Event::Start(start) => {
                    self.open(&start, offset)?;
                }
                Event::Empty(start) => {
                    let id = self.open(&start, offset)?;
                    self.close(id)?;
                }
                Event::End(_) => {
                    // quick-xml has checked that the name matches the open element.
                    match self.stack.last().copied() {
                        Some(id) => self.close(id)?,
                        None => {
                            return Err(XmlError::Malformed {
                                offset,
                                message: "end tag without start tag".into(),
                            });
                        }
                    }
                }
                Event::Text(t) => {
                    let content = t.xml10_content();
                    self.push_text(&content)?;
                }
                Event::CData(c) => {
                    let content = c.xml10_content();
                    if self.stack.is_empty() {
                        return Err(XmlError::TextOutsideRoot);
                    }
                    self.append_text(&content)?;
                }
                Event::GeneralRef(r) => {
                    if self.stack.is_empty() {
                        return Err(XmlError::TextOutsideRoot);
                    }
                    let c = resolve_reference(&r)?;
                    self.append_text(c.encode_utf8(&mut [0u8; 4]))?;
                }
                Event::Eof => break,
            }
        }
        if !self.stack.is_empty() {
            return Err(XmlError::Malformed {
                offset: text.len() as u64,
                message: "document ends inside an element".into(),
            });
        }
        let root = self.root.ok_or(XmlError::NoRoot)?;
        let children = link_children(&mut self.nodes);
        Ok(Document {
            source_len: text.len(),
            strings: self.strings,
            nodes: self.nodes,
            attributes: self.attributes,
            decls: self.decls,
            children,
            root,
            ids: self.ids,
            inherited_namespaces: self.inherited,
        })
    }

    fn push_text(&mut self, content: &str) -> Result<(), XmlError> {
        if !only_xml_chars(content) {
            let bad = content.chars().find(|c| !is_xml_char(*c)).unwrap_or('\0');
            return Err(XmlError::Malformed {
                offset: 0,
                message: format!("character U+{:04X} is not allowed in XML", bad as u32),
            });
        }
        if self.stack.is_empty() {
            if content.chars().all(is_xml_whitespace) {
                return Ok(());
            }
            return Err(XmlError::TextOutsideRoot);
        }
        self.append_text(content)
    }

    fn append_text(&mut self, content: &str) -> Result<(), XmlError> {
        if self.pending_text.is_none() {
            self.pending_text = Some(self.position()?);
        }
        self.strings.push_str(content);
        Ok(())
    }

    fn flush_text(&mut self) -> Result<(), XmlError> {
        let Some(start) = self.pending_text.take() else {
            return Ok(());
        };
        let end = self.position()?;
        if end == start {
            return Ok(());
        }
        if let Some(parent) = self.stack.last().copied() {
            self.add_node()?;
            let subtree_end = u32::try_from(self.nodes.len() + 1)
                .map_err(|_| XmlError::TooManyNodes(self.limits.max_nodes))?;
            self.nodes.push(NodeData {
                parent: Some(parent),
                kind: NodeKind::Text(Span { start, end }),
                children: Slots::default(),
                subtree_end,
            });
        }
        Ok(())
    }

    fn add_node(&mut self) -> Result<(), XmlError> {
        if self.nodes.len() >= self.limits.max_nodes {
            return Err(XmlError::TooManyNodes(self.limits.max_nodes));
        }
        Ok(())
    }

    fn open(&mut self, start: &BytesStart<'_>, offset: u64) -> Result<NodeId, XmlError> {
        self.flush_text()?;
        if self.stack.is_empty() && self.root.is_some() {
            return Err(XmlError::SeveralRoots);
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(XmlError::TooDeep(self.limits.max_depth));
        }
        self.add_node()?;
        let qname = start.name().into_inner();
        let (prefix, _) = self.split_name(qname)?;

        let binding_mark = self.bindings.len();
        let decls_start = self.decls.len();
        self.raw_attributes.clear();
        let mut count = 0usize;
        let mut xml_declared = false;
        let mut attrs = start.attributes();
        // Two attributes with one qualified name are refused below, without quick-xml's check,
        // which allocates a list for every start tag with two attributes or more.
        attrs.with_checks(false);
        for attr in attrs {
            let attr = attr.map_err(|e| XmlError::Malformed {
                offset,
                message: e.to_string(),
            })?;
            count += 1;
            if count > self.limits.max_attributes_per_element {
                return Err(XmlError::TooManyAttributes {
                    element: qname.to_string(),
                    limit: self.limits.max_attributes_per_element,
                });
            }
            let key = attr.key.into_inner();
            let (attr_prefix, attr_local) = self.split_name(key)?;
            let value_start = self.position()?;
            normalize_attribute_value(&attr.value, &mut self.strings)?;
            let value = Span {
                start: value_start,
                end: self.position()?,
            };
            let repeated = || XmlError::Malformed {
                offset,
                message: format!("attribute {key} appears twice on <{qname}>"),
            };
            if attr_prefix.is_none() && attr_local == "xmlns" {
                let uri = self.text_of(value);
                if uri == XML_NAMESPACE || uri == XMLNS_NAMESPACE {
                    return Err(XmlError::InvalidNamespaceDecl(format!("xmlns=\"{uri}\"")));
                }
                if self.declares(decls_start, None) {
                    return Err(repeated());
                }
                self.declare(None, value, qname)?;
            } else if attr_prefix == Some("xmlns") {
                let uri = self.text_of(value);
                let valid = !uri.is_empty()
                    && attr_local != "xmlns"
                    && (attr_local == "xml") == (uri == XML_NAMESPACE)
                    && uri != XMLNS_NAMESPACE;
                if !valid {
                    return Err(XmlError::InvalidNamespaceDecl(format!(
                        "xmlns:{attr_local}=\"{uri}\""
                    )));
                }
                if attr_local == "xml" {
                    // Declaring xml to its own URI is allowed and changes nothing.
                    if std::mem::replace(&mut xml_declared, true) {
                        return Err(repeated());
                    }
                    continue;
                }
                if self.declares(decls_start, Some(attr_local.as_bytes())) {
                    return Err(repeated());
                }
                let prefix = self.store(attr_local)?;
                self.declare(Some(prefix), value, qname)?;
            } else {
                if self.has_raw_attribute(key.as_bytes()) {
                    return Err(repeated());
                }
                let (prefix, local_name) = self.store_name(key, attr_prefix)?;
                if prefix.is_none() && self.bytes_of(local_name) == b"ID" {
                    self.ids.push(value);
                }
                self.raw_attributes.push(RawAttribute {
                    prefix,
                    local_name,
                    value,
                });
            }
        }
        self.binding_marks.push(binding_mark);
        let namespace_decls = slots(decls_start, self.decls.len())?;

        let namespace = match prefix {
            None => self.default_namespace(),
            Some(p) => Some(self.resolve_prefix(p.as_bytes()).ok_or_else(|| {
                XmlError::UndeclaredPrefix {
                    prefix: p.to_string(),
                    element: qname.to_string(),
                }
            })?),
        };
        let attributes_start = self.attributes.len();
        for i in 0..self.raw_attributes.len() {
            let Some(raw) = self.raw_attributes.get(i).copied() else {
                break;
            };
            // Unprefixed attributes are in no namespace (they never take the default one).
            let namespace = match raw.prefix {
                None => None,
                Some(p) => {
                    let p = self.bytes_of(p);
                    Some(
                        self.resolve_prefix(p)
                            .ok_or_else(|| XmlError::UndeclaredPrefix {
                                prefix: String::from_utf8_lossy(p).into_owned(),
                                element: qname.to_string(),
                            })?,
                    )
                }
            };
            self.attributes.push(AttributeData {
                prefix: raw.prefix,
                namespace,
                local_name: raw.local_name,
                value: raw.value,
            });
        }
        self.refuse_duplicate_expanded_names(attributes_start, qname)?;
        let attributes = slots(attributes_start, self.attributes.len())?;

        let (prefix, local_name) = self.store_name(qname, prefix)?;
        let element = ElementData {
            prefix,
            local_name,
            namespace,
            attributes,
            namespace_decls,
        };
        let id = NodeId(
            u32::try_from(self.nodes.len())
                .map_err(|_| XmlError::TooManyNodes(self.limits.max_nodes))?,
        );
        let parent = self.stack.last().copied();
        self.nodes.push(NodeData {
            parent,
            kind: NodeKind::Element(element),
            children: Slots::default(),
            // Set when the element closes; until then the subtree is the element alone.
            subtree_end: id.0.saturating_add(1),
        });
        if parent.is_none() {
            self.root = Some(id);
        }
        self.stack.push(id);
        Ok(id)
    }

    /// Two attributes with one expanded name (a:x and b:x bound to one URI) are a
    /// well-formedness error under Namespaces in XML. Two with one qualified name have been
    /// refused while the tag was read, and an unprefixed attribute (in no namespace) never
    /// shares its expanded name with a prefixed one (always in a namespace), so only the
    /// prefixed attributes from `start` on are compared, sorted: n log n, not n squared, for an
    /// element with many.
    fn refuse_duplicate_expanded_names(
        &mut self,
        start: usize,
        qname: &str,
    ) -> Result<(), XmlError> {
        let mut prefixed = std::mem::take(&mut self.sorted_attributes);
        prefixed.clear();
        prefixed.extend(
            self.attributes
                .get(start..)
                .unwrap_or_default()
                .iter()
                .filter(|a| a.namespace.is_some()),
        );
        let mut duplicate = None;
        if prefixed.len() > 1 {
            let key = |a: &AttributeData| {
                (
                    a.namespace.map(|n| self.bytes_of(n)),
                    self.bytes_of(a.local_name),
                )
            };
            prefixed.sort_unstable_by(|a, b| key(a).cmp(&key(b)));
            duplicate = prefixed.windows(2).find_map(|pair| match pair {
                [a, b] if key(a) == key(b) => Some(b.local_name),
                _ => None,
            });
        }
        self.sorted_attributes = prefixed;
        match duplicate {
            Some(local_name) => Err(XmlError::DuplicateAttribute {
                element: qname.to_string(),
                attribute: self.text_of(local_name).to_string(),
            }),
            None => Ok(()),
        }
    }

    /// True when the start tag being read, whose declarations begin at `decls_start`, already
    /// declares `prefix` (`None`: the default namespace). A tag has at most the attribute cap
    /// of them, so the scan is as bounded as the tag.
    fn declares(&self, decls_start: usize, prefix: Option<&[u8]>) -> bool {
        self.decls
            .get(decls_start..)
            .unwrap_or_default()
            .iter()
            .any(|d| d.prefix.map(|p| self.bytes_of(p)) == prefix)
    }

    /// True when the start tag being read already has an attribute (other than a namespace
    /// declaration) with the qualified name `qname`. Each is stored as one run of the arena.
    fn has_raw_attribute(&self, qname: &[u8]) -> bool {
        self.raw_attributes.iter().any(|a| {
            let start = a.prefix.map_or(a.local_name.start, |p| p.start);
            self.bytes_of(Span {
                start,
                end: a.local_name.end,
            }) == qname
        })
    }

    /// Record a namespace declaration of the element `qname`. Every later prefix lookup scans
    /// the bindings in scope, so their number is capped.
    fn declare(&mut self, prefix: Option<Span>, uri: Span, qname: &str) -> Result<(), XmlError> {
        if self.bindings.len() >= self.limits.max_namespaces_in_scope {
            return Err(XmlError::TooManyNamespaces {
                element: qname.to_string(),
                limit: self.limits.max_namespaces_in_scope,
            });
        }
        self.decls.push(DeclData { prefix, uri });
        self.bindings.push((prefix, uri));
        Ok(())
    }

    fn close(&mut self, id: NodeId) -> Result<(), XmlError> {
        self.flush_text()?;
        if self.stack.last() == Some(&id) {
            self.stack.pop();
            // Every node pushed since the element opened lies within it.
            let end = u32::try_from(self.nodes.len())
                .map_err(|_| XmlError::TooManyNodes(self.limits.max_nodes))?;
            if let Some(node) = self.nodes.get_mut(id.0 as usize) {
                node.subtree_end = end;
            }
            if let Some(mark) = self.binding_marks.pop() {
                self.bindings.truncate(mark);
            }
        }
        Ok(())
    }

    /// The arena bytes of a span (empty if the span were ever out of range).
    fn bytes_of(&self, span: Span) -> &[u8] {
        self.strings
            .as_bytes()
            .get(span.start as usize..span.end as usize)
            .unwrap_or_default()
    }

    /// Append a name that [`Self::split_name`] accepted, as one run, and return the spans of
    /// its prefix and local part.
    fn store_name(
        &mut self,
        name: &str,
        prefix: Option<&str>,
    ) -> Result<(Option<Span>, Span), XmlError> {
        let whole = self.store(name)?;
        match prefix {
            None => Ok((None, whole)),
            Some(p) => {
                // `p` is the part of `name` before its one colon: both ends fit in `whole`.
                let colon = whole
                    .start
                    .checked_add(u32::try_from(p.len()).unwrap_or(u32::MAX))
                    .filter(|c| *c < whole.end)
                    .ok_or(XmlError::TooLarge {
                        size: self.strings.len(),
                        limit: u32::MAX as usize,
                    })?;
                Ok((
                    Some(Span {
                        start: whole.start,
                        end: colon,
                    }),
                    Span {
                        start: colon + 1,
                        end: whole.end,
                    },
                ))
            }
        }
    }

    /// The URI bound to a prefix in scope (`xml` is always bound), innermost declaration first.
    fn resolve_prefix(&self, prefix: &[u8]) -> Option<Span> {
        if prefix == b"xml" {
            return Some(self.xml_namespace);
        }
        self.bindings
            .iter()
            .rev()
            .find(|(dp, _)| dp.is_some_and(|dp| self.bytes_of(dp) == prefix))
            .map(|(_, uri)| *uri)
    }

    /// The default namespace in scope for an unprefixed element (`None`: none, or undeclared
    /// by `xmlns=""`).
    fn default_namespace(&self) -> Option<Span> {
        self.bindings
            .iter()
            .rev()
            .find(|(dp, _)| dp.is_none())
            .and_then(|(_, uri)| (uri.end > uri.start).then_some(*uri))
    }

    /// Check an element or attribute name and split it at its colon: at most `max_name_len`
    /// bytes, and a prefix (if any) and a local part that are both non-empty XML names
    /// without a colon. ASCII names, all SAML uses, are checked in one pass over the bytes.
    fn split_name<'n>(&self, name: &'n str) -> Result<(Option<&'n str>, &'n str), XmlError> {
        if name.len() > self.limits.max_name_len {
            return Err(XmlError::NameTooLong(self.limits.max_name_len));
        }
        let invalid = || XmlError::Malformed {
            offset: 0,
            message: format!("invalid name {name:?}"),
        };
        match split_ascii_name(name.as_bytes()) {
            AsciiName::Valid(None) => Ok((None, name)),
            AsciiName::Valid(Some(colon)) => {
                let prefix = name.get(..colon).ok_or_else(invalid)?;
                let local = name.get(colon + 1..).ok_or_else(invalid)?;
                Ok((Some(prefix), local))
            }
            AsciiName::Invalid => Err(invalid()),
            AsciiName::NotAscii => {
                let (prefix, local) = split_qname(name);
                let ok = |s: &str| !s.is_empty() && !s.contains(':') && is_name(s);
                if !ok(local) || prefix.is_some_and(|p| !ok(p)) {
                    return Err(invalid());
                }
                Ok((prefix, local))
            }
        }
    }
}

/// The outcome of checking a name's bytes in one pass, for ASCII names.
enum AsciiName {
    /// A valid name; the position of its colon if it has a prefix.
    Valid(Option<usize>),
    Invalid,
    /// A byte above 0x7F: the name needs the full Unicode check.
    NotAscii,
}

/// Byte classes for names: a letter or `_` may start a name part; those, digits, `-` and `.`
/// may continue one. Every byte above 0x7F is `NOT_ASCII` (the name needs the Unicode check).
const NAME_START: u8 = 1;
const NAME_CHAR: u8 = 2;
const COLON: u8 = 4;
const NOT_ASCII: u8 = 8;
static NAME_BYTE_CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = if c >= 0x80 {
            NOT_ASCII
        } else if c.is_ascii_alphabetic() || c == b'_' {
            NAME_START | NAME_CHAR
        } else if c.is_ascii_digit() || c == b'-' || c == b'.' {
            NAME_CHAR
        } else if c == b':' {
            COLON
        } else {
            0
        };
        b += 1;
    }
    table
};

fn name_byte_class(b: u8) -> u8 {
    NAME_BYTE_CLASS.get(usize::from(b)).copied().unwrap_or(0)
}

/// One pass over an ASCII qualified name: a prefix and a local part that are both
/// non-empty NCNames (a letter or `_`, then letters, digits, `_`, `-`, `.`), at most one colon.
fn split_ascii_name(bytes: &[u8]) -> AsciiName {
    let mut colon = None;
    for (i, &b) in bytes.iter().enumerate() {
        let class = name_byte_class(b);
        if class & NAME_CHAR != 0 {
            continue;
        }
        if class & NOT_ASCII != 0 {
            return AsciiName::NotAscii;
        }
        if class & COLON == 0 || colon.is_some() {
            return AsciiName::Invalid;
        }
        colon = Some(i);
    }
    // Each part starts with a start character (which also makes it non-empty).
    let starts_ok = |at: usize| {
        bytes
            .get(at)
            .is_some_and(|b| name_byte_class(*b) & NAME_START != 0)
    };
    let valid = match colon {
        None => starts_ok(0),
        Some(c) => starts_ok(0) && starts_ok(c + 1),
    };
    if valid {
        AsciiName::Valid(colon)
    } else {
        AsciiName::Invalid
    }
}

fn slots(start: usize, end: usize) -> Result<Slots, XmlError> {
    let too_many = |_| XmlError::TooManyNodes(u32::MAX as usize);
    Ok(Slots {
        start: u32::try_from(start).map_err(too_many)?,
        end: u32::try_from(end).map_err(too_many)?,
    })
}

/// Lay the children of every node out in one table, each node's in a run in document order,
/// and record each node's run. Nodes are in document order, so one counting pass and one
/// placing pass suffice.
fn link_children(nodes: &mut [NodeData]) -> Vec<NodeId> {
    let mut next = vec![0u32; nodes.len()];
    for node in nodes.iter() {
        if let Some(count) = node.parent.and_then(|p| next.get_mut(p.0 as usize)) {
            *count += 1;
        }
    }
    let mut total = 0u32;
    for (node, start) in nodes.iter_mut().zip(next.iter_mut()) {
        let count = *start;
        node.children = Slots {
            start: total,
            end: total + count,
        };
        *start = total;
        total += count;
    }
    let mut children = vec![NodeId(0); total as usize];
    for i in 0..nodes.len() {
        let parent = nodes.get(i).and_then(|n| n.parent);
        if let Some(slot) = parent.and_then(|p| next.get_mut(p.0 as usize)) {
            if let Some(child) = children.get_mut(*slot as usize) {
                *child = NodeId(i as u32);
            }
            *slot += 1;
        }
    }
    children
}

/// True when every character is one XML allows; most text is plain ASCII, checked bytewise.
fn only_xml_chars(content: &str) -> bool {
    let ascii_ok = !any_not_plain_ascii(content.as_bytes());
    ascii_ok || content.chars().all(is_xml_char)
}

/// `any_byte_in(bytes, &NOT_PLAIN_ASCII)`, eight bytes per step as one word: a byte with its
/// high bit set is not plain; a byte below 0x20 may be (tab, line feed, carriage return), so a
/// word that has one is checked byte by byte. Text is mostly base64 and names: plain.
fn any_not_plain_ascii(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let Ok(block) = <[u8; 8]>::try_from(chunk) else {
            return any_byte_in(chunk, &NOT_PLAIN_ASCII);
        };
        let word = u64::from_le_bytes(block);
        if word & HIGH != 0 {
            return true;
        }
        // With every byte below 0x80, this is non-zero exactly when some byte is below 0x20.
        let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
        if below_space != 0 && any_byte_in(chunk, &NOT_PLAIN_ASCII) {
            return true;
        }
    }
    any_byte_in(chunks.remainder(), &NOT_PLAIN_ASCII)
}

/// A set of bytes, for [`any_byte_in`].
type ByteSet = [bool; 256];

/// Bytes other than printable ASCII, tab, newline and carriage return.
static NOT_PLAIN_ASCII: ByteSet = {
    let mut set = [true; 256];
    let mut b = 0x20;
    while b < 0x80 {
        set[b] = false;
        b += 1;
    }
    set[b'\t' as usize] = false;
    set[b'\n' as usize] = false;
    set[b'\r' as usize] = false;
    set
};

/// Bytes that attribute-value normalization changes or refuses.
static ATTRIBUTE_VALUE_SPECIAL: ByteSet = {
    let mut set = [false; 256];
    set[b'\r' as usize] = true;
    set[b'\n' as usize] = true;
    set[b'\t' as usize] = true;
    set[b'<' as usize] = true;
    set[b'&' as usize] = true;
    set
};

/// True when a byte of `bytes` is in `set`. Eight bytes are tested per step without a
/// branch on each (text and values are mostly plain).
fn any_byte_in(bytes: &[u8], set: &ByteSet) -> bool {
    let marked = |b: u8| set.get(usize::from(b)).copied().unwrap_or(true);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let hit = match <&[u8; 8]>::try_from(chunk) {
            Ok(block) => block.iter().fold(false, |any, b| any | marked(*b)),
            Err(_) => chunk.iter().any(|b| marked(*b)),
        };
        if hit {
            return true;
        }
    }
    chunks.remainder().iter().any(|b| marked(*b))
}

fn is_xml_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// XML NameStartChar / NameChar, restricted to what the spec allows.
fn is_name(s: &str) -> bool {
    // Fast path: the ASCII names every SAML message uses.
    let bytes = s.as_bytes();
    if let Some(first) = bytes.first()
        && s.is_ascii()
    {
        return (first.is_ascii_alphabetic() || *first == b'_')
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    }
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let start = |c: char| {
        c.is_ascii_alphabetic()
            || c == '_'
            || c == ':'
            || matches!(c as u32, 0xC0..=0xD6 | 0xD8..=0xF6 | 0xF8..=0x2FF | 0x370..=0x37D
                | 0x37F..=0x1FFF | 0x200C..=0x200D | 0x2070..=0x218F | 0x2C00..=0x2FEF
                | 0x3001..=0xD7FF | 0xF900..=0xFDCF | 0xFDF0..=0xFFFD | 0x10000..=0xEFFFF)
    };
    let rest = |c: char| {
        start(c)
            || c.is_ascii_digit()
            || c == '-'
            || c == '.'
            || matches!(c as u32, 0xB7 | 0x300..=0x36F | 0x203F..=0x2040)
    };
    start(first) && chars.all(rest)
}

/// True when `s` is an NCName: a non-empty XML name without a colon (a namespace prefix).
pub(crate) fn is_ncname(s: &str) -> bool {
    !s.is_empty() && !s.contains(':') && is_name(s)
}

fn split_qname(name: &str) -> (Option<&str>, &str) {
    match name.split_once(':') {
        Some((p, l)) => (Some(p), l),
        None => (None, name),
    }
}

fn is_xml_char(c: char) -> bool {
    matches!(c as u32, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

fn resolve_reference(r: &BytesRef<'_>) -> Result<char, XmlError> {
    let name: &str = r;
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) if is_xml_char(c) => Ok(c),
            _ => Err(XmlError::InvalidCharRef(name.to_string())),
        };
    }
    predefined_entity(name).ok_or_else(|| XmlError::UnknownEntity(name.chars().take(64).collect()))
}

fn predefined_entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    }
}

/// Attribute-value normalization (XML 1.0 section 3.3.3) for CDATA attributes: line ends become
/// `\n`, then literal tab/newline become spaces, then references are resolved (so `&#13;` stays
/// a carriage return, as canonicalization requires). The value is appended to `out`.
fn normalize_attribute_value(raw: &str, out: &mut String) -> Result<(), XmlError> {
    if !any_byte_in(raw.as_bytes(), &ATTRIBUTE_VALUE_SPECIAL) {
        out.push_str(raw);
        return Ok(());
    }
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push(' ');
            }
            '\n' | '\t' => out.push(' '),
            '<' => {
                return Err(XmlError::Malformed {
                    offset: 0,
                    message: "'<' in attribute value".into(),
                });
            }
            '&' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some(';') => break,
                        Some(ch) if name.len() < 64 => name.push(ch),
                        _ => {
                            return Err(XmlError::Malformed {
                                offset: 0,
                                message: "unterminated reference in attribute value".into(),
                            });
                        }
                    }
                }
                let r = BytesRef::new(name.as_str());
                out.push(resolve_reference(&r)?);
            }
            c => out.push(c),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference rule the one-pass check must agree with: split at the first colon, each
    /// part a non-empty name without a colon.
    fn reference(name: &str) -> Option<(Option<&str>, &str)> {
        let (prefix, local) = split_qname(name);
        let ok = |s: &str| !s.is_empty() && !s.contains(':') && is_name(s);
        (ok(local) && prefix.is_none_or(ok)).then_some((prefix, local))
    }

    proptest::proptest! {
        #[test]
        fn the_word_scan_agrees_with_the_byte_scan(
            value in proptest::collection::vec(
                proptest::prop_oneof![0u8..0x20, 0x20u8..0x80, 0x80u8..=0xff, proptest::strategy::Just(b'\n')],
                0..80,
            )
        ) {
            proptest::prop_assert_eq!(
                any_not_plain_ascii(&value),
                any_byte_in(&value, &NOT_PLAIN_ASCII)
            );
        }
    }

    #[test]
    fn blockwise_byte_scans_agree_with_bytewise_ones() {
        for len in 0usize..30 {
            for at in 0..len {
                for b in [
                    b'a', b'\t', b'\n', b'\r', b'<', b'&', b' ', 0x00, 0x01, 0x1f, 0x20, 0x7f,
                    0x80, 0xff,
                ] {
                    let mut value = vec![b'x'; len];
                    value[at] = b;
                    let plain =
                        |b: &u8| (0x20..0x80).contains(b) || matches!(b, b'\t' | b'\n' | b'\r');
                    assert_eq!(
                        any_byte_in(&value, &NOT_PLAIN_ASCII),
                        !value.iter().all(plain),
                        "{value:?}"
                    );
                    assert_eq!(
                        any_not_plain_ascii(&value),
                        !value.iter().all(plain),
                        "{value:?}"
                    );
                    assert_eq!(
                        any_byte_in(&value, &ATTRIBUTE_VALUE_SPECIAL),
                        value
                            .iter()
                            .any(|b| matches!(b, b'\r' | b'\n' | b'\t' | b'<' | b'&')),
                        "{value:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn one_pass_name_check_agrees_with_the_reference_rule() {
        let limits = ParseLimits::default();
        let builder = Builder::new(&limits, &[], 0).expect("builder");
        let alphabet = [
            "a", "Z", "_", "0", "-", ".", ":", " ", "é", "\u{b7}", "<", "x",
        ];
        let mut names = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = names
                .iter()
                .flat_map(|n| alphabet.iter().map(move |c| format!("{n}{c}")))
                .collect();
            names.extend(longer);
        }
        names.sort();
        names.dedup();
        for name in &names {
            let got = builder.split_name(name).ok();
            assert_eq!(got, reference(name), "{name:?}");
        }
        assert!(builder.split_name(&"a".repeat(257)).is_err());
    }
}
