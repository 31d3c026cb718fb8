//! Strict XML: one parse of untrusted bytes into an owned tree, and exclusive canonicalization
//! over that same tree.

pub mod c14n;
pub mod escape;
pub mod limits;
pub mod parse;
pub mod tree;

pub use limits::ParseLimits;
pub use parse::{XmlError, parse, parse_with_context};
pub use tree::{AttributeRef, ChildRef, Document, ElementRef, NamespaceDecl, NodeId, NotTextOnly};

/// Namespace URIs used across samlgate.
pub mod ns {
    pub const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
    pub const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
    pub const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
    pub const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
    pub const DS11: &str = "http://www.w3.org/2009/xmldsig11#";
    pub const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
    pub const XENC11: &str = "http://www.w3.org/2009/xmlenc11#";
    pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
    pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
    pub const XS: &str = "http://www.w3.org/2001/XMLSchema";
}
