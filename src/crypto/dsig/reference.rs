//! What a signature covers: the one element whose direct child it is, named by a Reference URI
//! that is that element's ID, in a document where no ID answers for two elements.

use super::SignatureError;
use crate::xml::{Document, ElementRef, ns};

/// The `ds:Signature` direct child of `element`, if there is one. More than one is an error:
/// a second signature is only ever there to confuse which one is checked.
pub fn signature_child(element: ElementRef<'_>) -> Result<Option<ElementRef<'_>>, SignatureError> {
    let mut signatures = element.children_named(ns::DS, "Signature");
    let first = signatures.next();
    let more = signatures.count();
    if more > 0 {
        return Err(SignatureError::MultipleSignatures {
            element: element.qualified_name(),
            count: more.saturating_add(1),
        });
    }
    Ok(first)
}

/// Every `ID` attribute in the document is distinct. Signature wrapping relies on two elements
/// answering to the same ID (one verified, the other read); with unique IDs there is no choice.
pub(super) fn check_unique_ids(doc: &Document) -> Result<(), SignatureError> {
    match duplicate_id(doc) {
        Some(id) => Err(SignatureError::DuplicateId { id: id.to_string() }),
        None => Ok(()),
    }
}

/// An `ID` attribute value that appears on two elements, if any.
pub(crate) fn duplicate_id(doc: &Document) -> Option<&str> {
    doc.duplicate_id()
}

/// The Reference URI is `#` and the signed element's ID: no whole-document reference, no
/// XPointer, no other element.
pub(super) fn check_reference_uri(
    reference_uri: Option<&str>,
    id: &str,
) -> Result<(), SignatureError> {
    // The error's copy of the ID is made only on the way out (this runs on every Response).
    let expected_id = || id.to_string();
    let Some(uri) = reference_uri else {
        return Err(SignatureError::ReferenceUriMissing {
            expected_id: expected_id(),
        });
    };
    if uri.is_empty() {
        return Err(SignatureError::EmptyReferenceUri {
            expected_id: expected_id(),
        });
    }
    if uri.starts_with("#xpointer(") {
        return Err(SignatureError::XPointerReference {
            uri: uri.to_string(),
            expected_id: expected_id(),
        });
    }
    if uri.strip_prefix('#') != Some(id) {
        return Err(SignatureError::ReferenceMismatch {
            uri: uri.to_string(),
            expected_id: expected_id(),
        });
    }
    Ok(())
}
