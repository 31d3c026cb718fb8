//! The one strict parser for untrusted XML (SAML messages, metadata, decrypted assertions).
//!
//! It refuses everything a SAML message never needs and attackers often use: DOCTYPE (and so
//! every entity trick), processing instructions, several roots, trailing text, non-UTF-8 input,
//! undeclared prefixes, duplicate attributes. It never touches the network or the file system.

use std::sync::Arc;

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::reader::Reader;

use super::tree::{
    Attribute, Document, Element, NamespaceDecl, NodeData, NodeId, NodeKind, XML_NAMESPACE,
};

const XMLNS_NAMESPACE: &str = "http://www.w3.org/2000/xmlns/";

/// Caps applied while parsing. The defaults fit any real SAML message or IdP metadata file;
/// aggregate metadata (federations) needs larger `max_bytes` and `max_nodes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseLimits {
    pub max_bytes: usize,
    pub max_depth: usize,
    pub max_nodes: usize,
    pub max_attributes_per_element: usize,
    pub max_name_len: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_bytes: 1024 * 1024,
            max_depth: 48,
            max_nodes: 50_000,
            max_attributes_per_element: 64,
            max_name_len: 256,
        }
    }
}

impl ParseLimits {
    /// Limits for IdP metadata files, which may be federation aggregates.
    pub fn metadata() -> Self {
        ParseLimits {
            max_bytes: 64 * 1024 * 1024,
            max_nodes: 5_000_000,
            ..ParseLimits::default()
        }
    }
}

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
    #[error("element <{element}> has more than {limit} attributes")]
    TooManyAttributes { element: String, limit: usize },
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
    Builder::new(limits, inherited_namespaces).run(text)
}

struct Builder<'l> {
    limits: &'l ParseLimits,
    nodes: Vec<NodeData>,
    /// Open elements, innermost last.
    stack: Vec<NodeId>,
    /// Namespace scopes: one frame per open element, plus the inherited frame at index 0.
    /// URIs are shared (`Arc<str>`), so resolving a name never copies its namespace.
    scopes: Vec<Vec<(Option<String>, Arc<str>)>>,
    root: Option<NodeId>,
    inherited: Vec<NamespaceDecl>,
    seen_event: bool,
    /// Text accumulated for the current parent; flushed at the next element boundary so that
    /// text split by comments, references or CDATA becomes one node.
    pending_text: String,
}

impl<'l> Builder<'l> {
    fn new(limits: &'l ParseLimits, inherited: &[NamespaceDecl]) -> Self {
        Builder {
            limits,
            nodes: Vec::new(),
            stack: Vec::new(),
            scopes: vec![
                inherited
                    .iter()
                    .map(|d| (d.prefix.clone(), Arc::from(d.uri.as_str())))
                    .collect(),
            ],
            inherited: inherited.to_vec(),
            root: None,
            seen_event: false,
            pending_text: String::new(),
        }
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
                    self.close(id);
                }
                Event::End(_) => {
                    // quick-xml has checked that the name matches the open element.
                    self.flush_text();
                    match self.stack.last().copied() {
                        Some(id) => self.close(id),
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
                    self.pending_text.push_str(&content);
                }
                Event::GeneralRef(r) => {
                    if self.stack.is_empty() {
                        return Err(XmlError::TextOutsideRoot);
                    }
                    let c = resolve_reference(&r)?;
                    self.pending_text.push(c);
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
        Ok(Document {
            nodes: self.nodes,
            root,
            inherited_namespaces: self.inherited,
        })
    }

    fn push_text(&mut self, content: &str) -> Result<(), XmlError> {
        if let Some(bad) = content.chars().find(|c| !is_xml_char(*c)) {
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
        self.pending_text.push_str(content);
        Ok(())
    }

    fn flush_text(&mut self) {
        if self.pending_text.is_empty() {
            return;
        }
        let text = std::mem::take(&mut self.pending_text);
        if let Some(parent) = self.stack.last().copied() {
            let id = NodeId(self.nodes.len() as u32);
            self.nodes.push(NodeData {
                parent: Some(parent),
                kind: NodeKind::Text(text),
                children: Vec::new(),
            });
            if let Some(p) = self.nodes.get_mut(parent.0 as usize) {
                p.children.push(id);
            }
        }
    }

    fn add_node(&mut self) -> Result<(), XmlError> {
        if self.nodes.len() >= self.limits.max_nodes {
            return Err(XmlError::TooManyNodes(self.limits.max_nodes));
        }
        Ok(())
    }

    fn open(&mut self, start: &BytesStart<'_>, offset: u64) -> Result<NodeId, XmlError> {
        self.flush_text();
        if self.stack.is_empty() && self.root.is_some() {
            return Err(XmlError::SeveralRoots);
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(XmlError::TooDeep(self.limits.max_depth));
        }
        self.add_node()?;
        // Leave room for the text node that may follow.
        let qname = start.name().into_inner();
        self.check_name(qname)?;

        let mut decls: Vec<NamespaceDecl> = Vec::new();
        let mut raw_attrs: Vec<(Option<String>, String, String)> = Vec::new();
        let mut count = 0usize;
        let mut attrs = start.attributes();
        attrs.with_checks(true);
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
            self.check_name(key)?;
            let value = normalize_attribute_value(&attr.value)?;
            let (prefix, local) = split_qname(key);
            if prefix.is_none() && local == "xmlns" {
                if value == XML_NAMESPACE || value == XMLNS_NAMESPACE {
                    return Err(XmlError::InvalidNamespaceDecl(format!("xmlns=\"{value}\"")));
                }
                decls.push(NamespaceDecl {
                    prefix: None,
                    uri: value,
                });
            } else if prefix == Some("xmlns") {
                let valid = !value.is_empty()
                    && local != "xmlns"
                    && (local == "xml") == (value == XML_NAMESPACE)
                    && value != XMLNS_NAMESPACE;
                if !valid {
                    return Err(XmlError::InvalidNamespaceDecl(format!(
                        "xmlns:{local}=\"{value}\""
                    )));
                }
                if local == "xml" {
                    // Declaring xml to its own URI is allowed and changes nothing.
                    continue;
                }
                decls.push(NamespaceDecl {
                    prefix: Some(local.to_string()),
                    uri: value,
                });
            } else {
                raw_attrs.push((prefix.map(str::to_string), local.to_string(), value));
            }
        }
        self.scopes.push(
            decls
                .iter()
                .map(|d| (d.prefix.clone(), Arc::from(d.uri.as_str())))
                .collect(),
        );

        let (prefix, local) = split_qname(qname);
        let namespace = self
            .resolve(prefix, true)
            .map_err(|p| XmlError::UndeclaredPrefix {
                prefix: p,
                element: qname.to_string(),
            })?;
        let mut attributes = Vec::with_capacity(raw_attrs.len());
        for (prefix, local_name, value) in raw_attrs {
            let namespace = match prefix.as_deref() {
                None => None,
                Some(p) => {
                    self.resolve(Some(p), false)
                        .map_err(|p| XmlError::UndeclaredPrefix {
                            prefix: p,
                            element: qname.to_string(),
                        })?
                }
            };
            // Two attributes with one expanded name (a:x and b:x bound to one URI) are a
            // well-formedness error under Namespaces in XML.
            if attributes
                .iter()
                .any(|a: &Attribute| a.namespace == namespace && a.local_name == local_name)
            {
                return Err(XmlError::DuplicateAttribute {
                    element: qname.to_string(),
                    attribute: local_name,
                });
            }
            attributes.push(Attribute {
                prefix,
                namespace,
                local_name,
                value,
            });
        }

        let element = Element {
            prefix: prefix.map(str::to_string),
            namespace,
            local_name: local.to_string(),
            namespace_decls: decls,
            attributes,
        };
        let id = NodeId(self.nodes.len() as u32);
        let parent = self.stack.last().copied();
        self.nodes.push(NodeData {
            parent,
            kind: NodeKind::Element(element),
            children: Vec::new(),
        });
        match parent {
            Some(p) => {
                if let Some(node) = self.nodes.get_mut(p.0 as usize) {
                    node.children.push(id);
                }
            }
            None => self.root = Some(id),
        }
        self.stack.push(id);
        Ok(id)
    }

    fn close(&mut self, id: NodeId) {
        self.flush_text();
        if self.stack.last() == Some(&id) {
            self.stack.pop();
            self.scopes.pop();
        }
    }

    /// Resolve a prefix against the open scopes. Unprefixed attributes never take the default
    /// namespace; unprefixed elements do. Returns the undeclared prefix on failure.
    fn resolve(&self, prefix: Option<&str>, is_element: bool) -> Result<Option<Arc<str>>, String> {
        match prefix {
            Some("xml") => Ok(Some(Arc::from(XML_NAMESPACE))),
            Some(p) => self
                .scopes
                .iter()
                .rev()
                .flat_map(|frame| frame.iter().rev())
                .find(|(dp, _)| dp.as_deref() == Some(p))
                .map(|(_, uri)| Some(Arc::clone(uri)))
                .ok_or_else(|| p.to_string()),
            None if !is_element => Ok(None),
            None => Ok(self
                .scopes
                .iter()
                .rev()
                .flat_map(|frame| frame.iter().rev())
                .find(|(dp, _)| dp.is_none())
                .and_then(|(_, uri)| (!uri.is_empty()).then(|| Arc::clone(uri)))),
        }
    }

    fn check_name(&self, name: &str) -> Result<(), XmlError> {
        if name.len() > self.limits.max_name_len {
            return Err(XmlError::NameTooLong(self.limits.max_name_len));
        }
        let (prefix, local) = split_qname(name);
        let ok = |s: &str| !s.is_empty() && !s.contains(':') && is_name(s);
        if !ok(local) || prefix.is_some_and(|p| !ok(p)) {
            return Err(XmlError::Malformed {
                offset: 0,
                message: format!("invalid name {name:?}"),
            });
        }
        Ok(())
    }
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
/// a carriage return, as canonicalization requires).
fn normalize_attribute_value(raw: &str) -> Result<String, XmlError> {
    if !raw
        .bytes()
        .any(|b| matches!(b, b'\r' | b'\n' | b'\t' | b'<' | b'&'))
    {
        return Ok(raw.to_string());
    }
    let mut out = String::with_capacity(raw.len());
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
    Ok(out)
}
