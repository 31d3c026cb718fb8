//! Verification of enveloped XML signatures, restricted to the SAML core 5.4 profile.
//!
//! XML-DSig can sign almost anything in almost any way; every bypass of a SAML SP in the last
//! decade lived in that generality (signature wrapping, XPath transforms, comments, KeyInfo
//! trust, HMAC confusion). This module accepts exactly one shape and refuses the rest by name:
//!
//! ```text
//! <X ID="abc">                               the signed element (Response or Assertion)
//!   <ds:Signature>                           a DIRECT child, the only one
//!     <ds:SignedInfo>
//!       <ds:CanonicalizationMethod Algorithm="exc-c14n"/>   (optional InclusiveNamespaces)
//!       <ds:SignatureMethod Algorithm="allow-listed"/>
//!       <ds:Reference URI="#abc">           exactly one, pointing at X itself
//!         <ds:Transforms> enveloped-signature, exc-c14n </ds:Transforms>
//!         <ds:DigestMethod Algorithm="allow-listed"/><ds:DigestValue/>
//!       </ds:Reference>
//!     </ds:SignedInfo>
//!     <ds:SignatureValue/>
//!     <ds:KeyInfo/>                          optional and never read: keys come from metadata
//!   </ds:Signature>
//! ```
//!
//! The signature is checked over the same parsed tree the caller then reads values from, and
//! the result names the one element it covers. One concept per file: `parts` reads the
//! ds:Signature's shape, `reference` ties it to the one element it covers, `keys` picks
//! the configured key that verifies it.

mod error;
mod keys;
mod parts;
mod reference;

use super::algorithms::{DigestAlgorithm, SignatureAlgorithm};
use super::keys::VerificationKey;
use crate::xml::c14n::canonicalize;
use crate::xml::{Document, ElementRef, NodeId};

pub use error::SignatureError;
pub use keys::verify_with_any_key;
use parts::SignatureParts;
#[cfg(test)]
use parts::prefix_list;
pub(crate) use reference::duplicate_id;
pub use reference::signature_child;
use reference::{check_reference_uri, check_unique_ids};

/// A signature that verified: which element it covers and how. Callers read values only from
/// `signed_element` (and its descendants), the one node the verified Reference pointed to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// The element the signature covers (its ds:Signature is a direct child of it).
    pub signed_element: NodeId,
    /// The ds:Signature element itself.
    pub signature_element: NodeId,
    /// The signed element's ID, which the Reference URI named.
    pub reference_id: String,
    pub signature_algorithm: SignatureAlgorithm,
    pub digest_algorithm: DigestAlgorithm,
    /// Index into the `keys` slice of the key that verified.
    pub key_index: usize,
    /// That key's description (for the log: which certificate, during rollover).
    pub key_description: String,
}

/// Verify the enveloped signature of `signed` (a direct `ds:Signature` child) with the IdP's
/// `keys`, trying each in turn (key rollover). `KeyInfo` in the message is never read.
pub fn verify(
    doc: &Document,
    signed: ElementRef<'_>,
    keys: &[VerificationKey],
    allow_sha1: bool,
) -> Result<VerifiedSignature, SignatureError> {
    if keys.is_empty() {
        return Err(SignatureError::NoKeys);
    }
    if !std::ptr::eq(signed.document(), doc) {
        return Err(SignatureError::ForeignElement);
    }
    check_unique_ids(doc)?;
    let signature = signature_child(signed)?.ok_or_else(|| SignatureError::Missing {
        element: signed.qualified_name(),
    })?;
    let id = match signed.attr("ID") {
        Some(id) if !id.is_empty() => id,
        _ => {
            return Err(SignatureError::MissingId {
                element: signed.qualified_name(),
            });
        }
    };
    let parts = SignatureParts::read(signature, allow_sha1)?;
    check_reference_uri(parts.reference_uri, id)?;

    let content = canonicalize(
        doc,
        signed.id(),
        Some(signature.id()),
        &parts.reference_prefixes,
    )?;
    let digest = parts
        .digest_algorithm
        .digest(&content)
        .map_err(|e| SignatureError::Crypto(e.to_string()))?;
    // memcmp::eq needs equal lengths (it panics otherwise); the length of a digest is public.
    if digest.len() != parts.digest_value.len()
        || !openssl::memcmp::eq(&digest, &parts.digest_value)
    {
        return Err(SignatureError::DigestMismatch {
            reference: format!("#{id}"),
        });
    }

    let signed_info = canonicalize(
        doc,
        parts.signed_info.id(),
        None,
        &parts.canonicalization_prefixes,
    )?;
    let (key_index, key) = verify_with_any_key(
        parts.signature_algorithm,
        keys,
        &signed_info,
        &parts.signature_value,
    )?;
    Ok(VerifiedSignature {
        signed_element: signed.id(),
        signature_element: signature.id(),
        reference_id: id.to_string(),
        signature_algorithm: parts.signature_algorithm,
        digest_algorithm: parts.digest_algorithm,
        key_index,
        key_description: key.description.clone(),
    })
}

#[cfg(test)]
mod tests;
