//! Reading a ds:Signature: its children in schema order, the allow-listed algorithms, exactly
//! the two Transforms, the InclusiveNamespaces prefixes, and the base64 DigestValue and
//! SignatureValue.

use std::collections::BTreeSet;

use super::SignatureError;
use crate::crypto::algorithms::{DigestAlgorithm, SignatureAlgorithm, uri};
use crate::xml::limits::{MAX_DIGEST_VALUE_LEN, MAX_INCLUSIVE_PREFIXES, MAX_SIGNATURE_VALUE_LEN};
use crate::xml::parse::is_ncname;
use crate::xml::{ElementRef, ns};

/// The parts of a ds:Signature, read and shape-checked.
pub(super) struct SignatureParts<'a> {
    pub(super) signed_info: ElementRef<'a>,
    pub(super) canonicalization_prefixes: Vec<String>,
    pub(super) signature_algorithm: SignatureAlgorithm,
    pub(super) reference_uri: Option<&'a str>,
    pub(super) reference_prefixes: Vec<String>,
    pub(super) digest_algorithm: DigestAlgorithm,
    pub(super) digest_value: Vec<u8>,
    pub(super) signature_value: Vec<u8>,
}

impl<'a> SignatureParts<'a> {
    pub(super) fn read(
        signature: ElementRef<'a>,
        allow_sha1: bool,
    ) -> Result<Self, SignatureError> {
        // ds:Object and ds:Manifest are how signed-but-unchecked content and second Reference
        // lists get into a signature; SAML needs neither, wherever they hide (even in KeyInfo).
        for element in signature.descendants_and_self() {
            if element.namespace() == Some(ns::DS)
                && matches!(element.local_name(), "Object" | "Manifest")
            {
                return Err(SignatureError::ForbiddenElement {
                    element: element.qualified_name(),
                });
            }
        }

        let mut children = children_of(signature);
        let signed_info = children.require("SignedInfo")?;
        let signature_value = children.require("SignatureValue")?;
        children.optional("KeyInfo")?;
        children.end()?;

        let mut info = children_of(signed_info);
        let canonicalization = info.require("CanonicalizationMethod")?;
        let signature_method = info.require("SignatureMethod")?;
        let reference = info.require("Reference")?;
        let extra_references = signed_info.children_named(ns::DS, "Reference").count();
        if extra_references > 1 {
            return Err(SignatureError::ReferenceCount {
                count: extra_references,
            });
        }
        info.end()?;

        let canonicalization_prefixes = read_exc_c14n(canonicalization)?;
        let signature_algorithm =
            SignatureAlgorithm::from_uri(algorithm_of(signature_method)?, allow_sha1)?;
        no_children(signature_method)?;

        let mut parts = children_of(reference);
        // A Reference without Transforms digests the whole element, Signature included, which
        // no enveloped signature can match; name the real problem instead.
        if parts.peek().is_none_or(|e| e.is(ns::DS, "DigestMethod")) {
            return Err(SignatureError::TransformCount { count: 0 });
        }
        let transforms = parts.require("Transforms")?;
        let digest_method = parts.require("DigestMethod")?;
        let digest_value = parts.require("DigestValue")?;
        parts.end()?;

        let reference_prefixes = read_transforms(transforms)?;
        let digest_algorithm = DigestAlgorithm::from_uri(algorithm_of(digest_method)?, allow_sha1)?;
        no_children(digest_method)?;

        Ok(SignatureParts {
            signed_info,
            canonicalization_prefixes,
            signature_algorithm,
            reference_uri: reference.attr("URI"),
            reference_prefixes,
            digest_algorithm,
            digest_value: base64_content(digest_value, MAX_DIGEST_VALUE_LEN)?,
            signature_value: base64_content(signature_value, MAX_SIGNATURE_VALUE_LEN)?,
        })
    }
}

/// Walks the child elements of a ds: element in schema order.
struct Children<'a, I: Iterator<Item = ElementRef<'a>>> {
    parent: ElementRef<'a>,
    elements: std::iter::Peekable<I>,
}

/// The child elements of `parent`, to be walked in schema order (no boxed iterator: this runs
/// three times per signature).
fn children_of<'a>(
    parent: ElementRef<'a>,
) -> Children<'a, impl Iterator<Item = ElementRef<'a>> + 'a> {
    Children {
        parent,
        elements: parent.child_elements().peekable(),
    }
}

impl<'a, I: Iterator<Item = ElementRef<'a>>> Children<'a, I> {
    fn peek(&mut self) -> Option<ElementRef<'a>> {
        self.elements.peek().copied()
    }

    fn require(&mut self, local_name: &str) -> Result<ElementRef<'a>, SignatureError> {
        match self.elements.next() {
            Some(e) if e.is(ns::DS, local_name) => Ok(e),
            Some(e) => Err(SignatureError::UnexpectedElement {
                parent: self.parent.qualified_name(),
                element: e.qualified_name(),
            }),
            None => Err(SignatureError::MissingElement {
                parent: self.parent.qualified_name(),
                element: format!("ds:{local_name}"),
            }),
        }
    }

    fn optional(&mut self, local_name: &str) -> Result<Option<ElementRef<'a>>, SignatureError> {
        match self.peek() {
            Some(e) if e.is(ns::DS, local_name) => self.require(local_name).map(Some),
            _ => Ok(None),
        }
    }

    fn end(&mut self) -> Result<(), SignatureError> {
        match self.elements.next() {
            None => Ok(()),
            Some(e) => Err(SignatureError::UnexpectedElement {
                parent: self.parent.qualified_name(),
                element: e.qualified_name(),
            }),
        }
    }
}

fn algorithm_of<'a>(element: ElementRef<'a>) -> Result<&'a str, SignatureError> {
    element
        .attr("Algorithm")
        .ok_or_else(|| SignatureError::MissingAttribute {
            element: element.qualified_name(),
            attribute: "Algorithm".to_string(),
        })
}

fn no_children(element: ElementRef<'_>) -> Result<(), SignatureError> {
    match element.child_elements().next() {
        None => Ok(()),
        Some(child) => Err(SignatureError::UnexpectedElement {
            parent: element.qualified_name(),
            element: child.qualified_name(),
        }),
    }
}

/// A CanonicalizationMethod (or the second Transform): exclusive c14n without comments, with an
/// optional `InclusiveNamespaces PrefixList`. Returns the listed prefixes (`#default` kept as is).
fn read_exc_c14n(method: ElementRef<'_>) -> Result<Vec<String>, SignatureError> {
    let algorithm = algorithm_of(method)?;
    if algorithm != uri::EXC_C14N {
        return Err(SignatureError::UnsupportedCanonicalization {
            uri: algorithm.to_string(),
        });
    }
    inclusive_prefixes(method)
}

/// The PrefixList of the InclusiveNamespaces child of `method`, if any: at most
/// [`MAX_INCLUSIVE_PREFIXES`] tokens, each a prefix (NCName) or `#default`, without duplicates.
fn inclusive_prefixes(method: ElementRef<'_>) -> Result<Vec<String>, SignatureError> {
    let mut prefixes = Vec::new();
    let mut seen_list = false;
    for child in method.child_elements() {
        if !child.is(ns::EXC_C14N, "InclusiveNamespaces") || seen_list {
            return Err(SignatureError::UnexpectedElement {
                parent: method.qualified_name(),
                element: child.qualified_name(),
            });
        }
        seen_list = true;
        no_children(child)?;
        let list = child
            .attr("PrefixList")
            .ok_or_else(|| SignatureError::MissingAttribute {
                element: child.qualified_name(),
                attribute: "PrefixList".to_string(),
            })?;
        prefixes = prefix_list(list)?;
    }
    Ok(prefixes)
}

/// Read a PrefixList value (XML Schema list: tokens separated by whitespace).
pub(super) fn prefix_list(list: &str) -> Result<Vec<String>, SignatureError> {
    let count = list.split_ascii_whitespace().count();
    if count > MAX_INCLUSIVE_PREFIXES {
        return Err(SignatureError::PrefixListTooLong {
            count,
            limit: MAX_INCLUSIVE_PREFIXES,
        });
    }
    let mut set = BTreeSet::new();
    for token in list.split_ascii_whitespace() {
        if token != "#default" && !is_ncname(token) {
            return Err(SignatureError::PrefixListToken {
                token: token.chars().take(64).collect(),
            });
        }
        set.insert(token);
    }
    Ok(set.into_iter().map(str::to_string).collect())
}

/// Exactly enveloped-signature then exclusive c14n. Returns the c14n InclusiveNamespaces prefixes.
fn read_transforms(transforms: ElementRef<'_>) -> Result<Vec<String>, SignatureError> {
    const EXPECTED: [&str; 2] = [uri::ENVELOPED_SIGNATURE, uri::EXC_C14N];
    let mut count = 0usize;
    let mut prefixes = Vec::new();
    for transform in transforms.child_elements() {
        if !transform.is(ns::DS, "Transform") {
            return Err(SignatureError::UnexpectedElement {
                parent: transforms.qualified_name(),
                element: transform.qualified_name(),
            });
        }
        let algorithm = algorithm_of(transform)?;
        let position = count.saturating_add(1);
        match EXPECTED.get(count) {
            Some(&expected) if expected == algorithm => {}
            _ => {
                return Err(SignatureError::UnexpectedTransform {
                    position,
                    uri: algorithm.to_string(),
                });
            }
        }
        if algorithm == uri::ENVELOPED_SIGNATURE {
            no_children(transform)?;
        } else {
            prefixes = inclusive_prefixes(transform)?;
        }
        count = position;
    }
    if count != EXPECTED.len() {
        return Err(SignatureError::TransformCount { count });
    }
    Ok(prefixes)
}

/// The base64 text of DigestValue / SignatureValue, at most `limit` characters; whitespace
/// (IdPs wrap at 64 or 76 columns, some with `&#13;`) is allowed anywhere.
fn base64_content(element: ElementRef<'_>, limit: usize) -> Result<Vec<u8>, SignatureError> {
    let text = element
        .text_ref()
        .map_err(|e| SignatureError::UnexpectedElement {
            parent: e.element,
            element: e.child,
        })?;
    if text.len() > limit {
        return Err(SignatureError::ValueTooLong {
            element: element.qualified_name(),
            length: text.len(),
            limit,
        });
    }
    crate::text::base64_text::decode(text.as_bytes()).map_err(|reason| {
        SignatureError::InvalidBase64 {
            element: element.qualified_name(),
            reason,
        }
    })
}
