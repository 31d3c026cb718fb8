//! Producing enveloped signatures in the one shape `dsig::verify` accepts: for tests, the
//! development IdP and signed SP metadata / AuthnRequests.
//!
//! The document text is kept as given (formatting, comments); the `ds:Signature` is spliced in
//! at a byte offset found by walking the same text, so nothing is ever re-serialized. Every digest
//! and the SignedInfo are canonicalized from the strict parser's tree of the exact text that is
//! returned, and the result is verified with our own verifier before it is handed out.

use base64::Engine;
use openssl::pkey::{PKey, PKeyRef, Private};
use openssl::x509::X509Ref;
use quick_xml::events::Event;
use quick_xml::reader::Reader;

use super::algorithms::{DigestAlgorithm, SignatureAlgorithm, uri};
use super::dsig::{self, SignatureError};
use super::keys::VerificationKey;
use super::primitive::{self, PrimitiveError};
use crate::xml::c14n::canonicalize;
use crate::xml::{self, Document, ElementRef, NodeId, ParseLimits, XmlError, ns};

/// Why a document could not be signed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("document to sign is refused by the strict parser: {0}")]
    Parse(#[from] XmlError),
    #[error("no element with ID {id:?} in the document to sign")]
    TargetNotFound { id: String },
    #[error("the element to sign, <{element}>, has no (or an empty) ID attribute")]
    TargetWithoutId { element: String },
    #[error(
        "ID {id:?} appears on more than one element; such a document would be refused when verified"
    )]
    DuplicateId { id: String },
    #[error("<{element}> already carries a ds:Signature")]
    AlreadySigned { element: String },
    #[error("signing key unusable: {0}")]
    Key(String),
    #[error("cryptographic library error: {0}")]
    Crypto(String),
    #[error("canonicalization failed: {0}")]
    Canonicalization(String),
    #[error("internal error placing the signature: {0}")]
    Placement(String),
    #[error("the signature just produced does not verify: {0}")]
    SelfCheck(SignatureError),
}

/// The primitive's refusals, as the signer names them: a key of the wrong kind or curve is the
/// key's fault, the rest the library's.
impl From<PrimitiveError> for SignError {
    fn from(e: PrimitiveError) -> Self {
        match e {
            PrimitiveError::KeyTypeMismatch { .. } => SignError::Key(e.to_string()),
            PrimitiveError::UnusableKey(reason) => SignError::Key(reason),
            PrimitiveError::Crypto(reason) => SignError::Crypto(reason),
            PrimitiveError::EcdsaLength { .. } | PrimitiveError::Invalid { .. } => {
                SignError::Crypto(e.to_string())
            }
        }
    }
}

/// Sign the element whose `ID` is `target_id` (the root when `None`) with an enveloped
/// signature, placed as a direct child right after its `saml:Issuer` child (SAML schema order)
/// or, without one, as its first child. `certificate`, when given, goes into `KeyInfo` as IdPs
/// do (verifiers that pin keys, like ours, ignore it).
pub fn sign_enveloped(
    xml: &str,
    target_id: Option<&str>,
    key: &PKeyRef<Private>,
    certificate: Option<&X509Ref>,
    signature_algorithm: SignatureAlgorithm,
    digest_algorithm: DigestAlgorithm,
) -> Result<String, SignError> {
    let limits = ParseLimits::metadata();
    let doc = xml::parse(xml.as_bytes(), &limits)?;
    let target = find_target(&doc, target_id)?;
    let id = target
        .attr("ID")
        .ok_or_else(|| SignError::TargetWithoutId {
            element: target.qualified_name(),
        })?
        .to_string();
    if !matches!(dsig::signature_child(target), Ok(None)) {
        return Err(SignError::AlreadySigned {
            element: target.qualified_name(),
        });
    }

    // The enveloped transform leaves the Signature out, so the digest over the unsigned text
    // equals the one the verifier computes after insertion (the self-check confirms it).
    let content = canonicalize(&doc, target.id(), None, &[])
        .map_err(|e| SignError::Canonicalization(e.to_string()))?;
    let digest = digest_algorithm
        .digest(&content)
        .map_err(|e| SignError::Crypto(e.to_string()))?;
    let certificate_b64 = match certificate {
        Some(cert) => Some(b64(&cert
            .to_der()
            .map_err(|e| SignError::Key(e.to_string()))?)),
        None => None,
    };
    let template = SignatureTemplate::new(
        &id,
        signature_algorithm,
        digest_algorithm,
        &b64(&digest),
        certificate_b64,
    );

    let anchor = match target.first_child_named(ns::SAML, "Issuer") {
        Some(issuer) => Anchor::AfterEndOf(document_index(&doc, issuer.id())?),
        None => Anchor::AfterStartOf(document_index(&doc, target.id())?),
    };
    let (with_signature, value_offset) = splice(xml, anchor, &template)?;

    // Canonicalize SignedInfo where it now stands, from the tree of the text we return.
    let placed = xml::parse(with_signature.as_bytes(), &limits)?;
    let signed_info = find_signed_info(&placed, &id)?;
    let signed_info = canonicalize(&placed, signed_info, None, &[])
        .map_err(|e| SignError::Canonicalization(e.to_string()))?;
    let value = b64(&primitive::sign_bytes(
        signature_algorithm,
        key,
        &signed_info,
    )?);
    let mut signed = with_signature;
    if !signed.is_char_boundary(value_offset) {
        return Err(SignError::Placement(
            "SignatureValue offset is not a character boundary".into(),
        ));
    }
    signed.insert_str(value_offset, &value);

    self_check(&signed, &id, key)?;
    Ok(signed)
}

fn find_target<'d>(
    doc: &'d Document,
    target_id: Option<&str>,
) -> Result<ElementRef<'d>, SignError> {
    if let Some(id) = dsig::duplicate_id(doc) {
        return Err(SignError::DuplicateId { id: id.to_string() });
    }
    let target = match target_id {
        None => doc.root(),
        Some(wanted) => doc
            .elements()
            .find(|e| e.attr("ID") == Some(wanted))
            .ok_or_else(|| SignError::TargetNotFound {
                id: wanted.to_string(),
            })?,
    };
    match target.attr("ID") {
        Some(id) if !id.is_empty() => Ok(target),
        _ => Err(SignError::TargetWithoutId {
            element: target.qualified_name(),
        }),
    }
}

fn find_signed_info(doc: &Document, id: &str) -> Result<NodeId, SignError> {
    doc.elements()
        .find(|e| e.attr("ID") == Some(id))
        .and_then(|target| dsig::signature_child(target).ok().flatten())
        .and_then(|signature| signature.first_child_named(ns::DS, "SignedInfo"))
        .map(|e| e.id())
        .ok_or_else(|| {
            SignError::Placement("inserted ds:SignedInfo not found after re-parsing".into())
        })
}

/// Verify what we produced with the signing key's public half, through the real verifier.
fn self_check(signed: &str, id: &str, key: &PKeyRef<Private>) -> Result<(), SignError> {
    let public = key
        .public_key_to_der()
        .and_then(|der| PKey::public_key_from_der(&der))
        .map_err(|e| SignError::Key(e.to_string()))?;
    let keys = [VerificationKey {
        key: public,
        certificate: None,
        description: "the signing key".to_string(),
    }];
    let doc = xml::parse(signed.as_bytes(), &ParseLimits::metadata())?;
    let target = doc
        .elements()
        .find(|e| e.attr("ID") == Some(id))
        .ok_or_else(|| SignError::Placement("signed element lost after insertion".into()))?;
    dsig::verify(&doc, target, &keys, true)
        .map(|_| ())
        .map_err(SignError::SelfCheck)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Position of an element in document order (the order of quick-xml's Start/Empty events).
fn document_index(doc: &Document, id: NodeId) -> Result<usize, SignError> {
    doc.elements()
        .position(|e| e.id() == id)
        .ok_or_else(|| SignError::Placement("element not found in document order".into()))
}

/// The ds:Signature text, with an empty SignatureValue to be filled once SignedInfo is signed.
struct SignatureTemplate {
    text: String,
    /// Byte offset, inside `text`, of the SignatureValue content.
    value_offset: usize,
}

impl SignatureTemplate {
    fn new(
        id: &str,
        signature_algorithm: SignatureAlgorithm,
        digest_algorithm: DigestAlgorithm,
        digest_b64: &str,
        certificate_b64: Option<String>,
    ) -> Self {
        let mut text = format!(
            concat!(
                r#"<ds:Signature xmlns:ds="{ds}"><ds:SignedInfo>"#,
                r#"<ds:CanonicalizationMethod Algorithm="{c14n}"/>"#,
                r#"<ds:SignatureMethod Algorithm="{sig}"/>"#,
                r##"<ds:Reference URI="#{id}"><ds:Transforms>"##,
                r#"<ds:Transform Algorithm="{env}"/><ds:Transform Algorithm="{c14n}"/>"#,
                r#"</ds:Transforms><ds:DigestMethod Algorithm="{dig}"/>"#,
                r#"<ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>"#,
                r#"<ds:SignatureValue>"#
            ),
            ds = ns::DS,
            c14n = uri::EXC_C14N,
            sig = signature_algorithm.uri(),
            id = crate::xml::escape::escape(id),
            env = uri::ENVELOPED_SIGNATURE,
            dig = digest_algorithm.uri(),
            digest = digest_b64,
        );
        let value_offset = text.len();
        text.push_str("</ds:SignatureValue>");
        if let Some(cert) = certificate_b64 {
            text.push_str("<ds:KeyInfo><ds:X509Data><ds:X509Certificate>");
            text.push_str(&cert);
            text.push_str("</ds:X509Certificate></ds:X509Data></ds:KeyInfo>");
        }
        text.push_str("</ds:Signature>");
        SignatureTemplate { text, value_offset }
    }
}

/// Where the signature goes, by element position in document order.
#[derive(Clone, Copy)]
enum Anchor {
    /// Right after the end tag of this element (the Issuer).
    AfterEndOf(usize),
    /// Right after the start tag of this element (the signed element, as first child).
    AfterStartOf(usize),
}

/// Insert the template into `xml` at `anchor`; returns the new text and the absolute offset of
/// the SignatureValue content.
fn splice(
    xml: &str,
    anchor: Anchor,
    template: &SignatureTemplate,
) -> Result<(String, usize), SignError> {
    let (wanted, after_end) = match anchor {
        Anchor::AfterEndOf(i) => (i, true),
        Anchor::AfterStartOf(i) => (i, false),
    };
    let mut reader = Reader::from_str(xml);
    reader.config_mut().expand_empty_elements = false;
    let position = |reader: &Reader<&[u8]>| {
        usize::try_from(reader.buffer_position())
            .map_err(|_| SignError::Placement("offset overflow".into()))
    };
    let mut index = 0usize;
    let mut depth = 0usize;
    let mut wanted_depth = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| SignError::Placement(format!("re-reading the document: {e}")))?;
        match event {
            Event::Start(_) => {
                if index == wanted {
                    if !after_end {
                        let at = position(&reader)?;
                        return insert(xml, at, at, "", "", template);
                    }
                    wanted_depth = Some(depth);
                }
                index = index.saturating_add(1);
                depth = depth.saturating_add(1);
            }
            Event::Empty(start) => {
                if index == wanted {
                    let end = position(&reader)?;
                    if after_end {
                        return insert(xml, end, end, "", "", template);
                    }
                    // `<X .../>` becomes `<X ...>signature</X>`.
                    let name = start.name().into_inner().to_string();
                    let slash = end.saturating_sub(2);
                    if xml.get(slash..end) != Some("/>") {
                        return Err(SignError::Placement(
                            "empty element does not end with />".into(),
                        ));
                    }
                    return insert(xml, slash, end, ">", &format!("</{name}>"), template);
                }
                index = index.saturating_add(1);
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if after_end && wanted_depth == Some(depth) {
                    let at = position(&reader)?;
                    return insert(xml, at, at, "", "", template);
                }
            }
            Event::Eof => return Err(SignError::Placement("anchor element not found".into())),
            _ => {}
        }
    }
}

/// `xml[..from] + opening + template + closing + xml[to..]`, and the SignatureValue offset in
/// the result.
fn insert(
    xml: &str,
    from: usize,
    to: usize,
    opening: &str,
    closing: &str,
    template: &SignatureTemplate,
) -> Result<(String, usize), SignError> {
    let (Some(head), Some(tail)) = (xml.get(..from), xml.get(to..)) else {
        return Err(SignError::Placement(format!(
            "offsets {from}..{to} do not split the text"
        )));
    };
    let mut out = String::with_capacity(
        xml.len()
            .saturating_add(template.text.len())
            .saturating_add(opening.len())
            .saturating_add(closing.len()),
    );
    out.push_str(head);
    out.push_str(opening);
    let offset = out.len().saturating_add(template.value_offset);
    out.push_str(&template.text);
    out.push_str(closing);
    out.push_str(tail);
    Ok((out, offset))
}

#[cfg(test)]
mod tests;
