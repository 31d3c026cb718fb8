//! Unit tests of `crypto::sign`, compiled only under #[cfg(test)] (the parent declares `mod tests;`).
use super::*;
use crate::crypto::test_fixtures::{RESPONSE, rsa_key, self_signed};
use crate::xml::ElementRef;

fn sign(xml: &str, id: Option<&str>) -> Result<String, SignError> {
    let key = rsa_key();
    sign_enveloped(
        xml,
        id,
        &key,
        None,
        SignatureAlgorithm::RsaSha256,
        DigestAlgorithm::Sha256,
    )
}

fn by_id<'d>(doc: &'d Document, id: &str) -> ElementRef<'d> {
    doc.elements().find(|e| e.attr("ID") == Some(id)).unwrap()
}

fn child_names(element: ElementRef<'_>) -> Vec<String> {
    element
        .child_elements()
        .map(|e| e.qualified_name())
        .collect()
}

#[test]
fn places_signature_right_after_the_issuer() {
    for id in ["_resp1", "_assert1"] {
        let signed = sign(RESPONSE, Some(id)).unwrap();
        let doc = xml::parse(signed.as_bytes(), &ParseLimits::default()).unwrap();
        let names = child_names(by_id(&doc, id));
        assert_eq!(names[0], "saml:Issuer");
        assert_eq!(names[1], "ds:Signature", "{id}: {names:?}");
    }
}

#[test]
fn places_signature_first_without_an_issuer() {
    let xml = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ID="_m" entityID="https://sp.example.com"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></md:EntityDescriptor>"#;
    let signed = sign(xml, None).unwrap();
    let doc = xml::parse(signed.as_bytes(), &ParseLimits::default()).unwrap();
    assert_eq!(
        child_names(doc.root()),
        ["ds:Signature", "md:SPSSODescriptor"]
    );
}

#[test]
fn expands_a_self_closing_target() {
    let xml = r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_lr" Version="2.0" />"#;
    let signed = sign(xml, None).unwrap();
    assert!(
        signed.ends_with("</ds:Signature></samlp:LogoutRequest>"),
        "{signed}"
    );
    let doc = xml::parse(signed.as_bytes(), &ParseLimits::default()).unwrap();
    assert_eq!(child_names(doc.root()), ["ds:Signature"]);
}

#[test]
fn expands_a_self_closing_issuer_anchor() {
    let xml = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_ar"><saml:Issuer/><samlp:NameIDPolicy/></samlp:AuthnRequest>"#;
    let signed = sign(xml, Some("_ar")).unwrap();
    let doc = xml::parse(signed.as_bytes(), &ParseLimits::default()).unwrap();
    assert_eq!(
        child_names(doc.root()),
        ["saml:Issuer", "ds:Signature", "samlp:NameIDPolicy"]
    );
}

#[test]
fn leaves_the_rest_of_the_text_untouched() {
    let with_comment = RESPONSE.replace("<samlp:Status>", "<!-- status --><samlp:Status>");
    let signed = sign(&with_comment, Some("_assert1")).unwrap();
    let start = signed.find("<ds:Signature ").unwrap();
    let end = signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    assert_eq!(
        format!("{}{}", &signed[..start], &signed[end..]),
        with_comment
    );
}

#[test]
fn writes_the_certificate_into_key_info_when_given() {
    let key = rsa_key();
    let cert = self_signed(&key, "idp.example.com");
    let signed = sign_enveloped(
        RESPONSE,
        None,
        &key,
        Some(&cert),
        SignatureAlgorithm::RsaSha256,
        DigestAlgorithm::Sha256,
    )
    .unwrap();
    let doc = xml::parse(signed.as_bytes(), &ParseLimits::default()).unwrap();
    let text = doc
        .elements()
        .find(|e| e.is(ns::DS, "X509Certificate"))
        .unwrap()
        .text()
        .unwrap();
    let der = base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap();
    assert_eq!(der, cert.to_der().unwrap());
}

#[test]
fn writes_exactly_the_shape_the_verifier_requires() {
    let signed = sign(RESPONSE, Some("_assert1")).unwrap();
    let doc = xml::parse(signed.as_bytes(), &ParseLimits::default()).unwrap();
    let signature = dsig::signature_child(by_id(&doc, "_assert1"))
        .unwrap()
        .unwrap();
    assert_eq!(
        child_names(signature),
        ["ds:SignedInfo", "ds:SignatureValue"]
    );
    let reference = doc.elements().find(|e| e.is(ns::DS, "Reference")).unwrap();
    assert_eq!(reference.attr("URI"), Some("#_assert1"));
    let transforms: Vec<_> = doc
        .elements()
        .filter(|e| e.is(ns::DS, "Transform"))
        .map(|e| e.attr("Algorithm").unwrap().to_string())
        .collect();
    assert_eq!(
        transforms,
        [
            "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
            "http://www.w3.org/2001/10/xml-exc-c14n#"
        ]
    );
}

#[test]
fn refuses_an_element_already_signed() {
    let once = sign(RESPONSE, Some("_assert1")).unwrap();
    assert_eq!(
        sign(&once, Some("_assert1")).unwrap_err(),
        SignError::AlreadySigned {
            element: "saml:Assertion".into()
        }
    );
}

#[test]
fn refuses_duplicate_ids_and_missing_targets() {
    let dup = RESPONSE.replace("<samlp:Status>", r#"<samlp:Status ID="_assert1">"#);
    assert_eq!(
        sign(&dup, Some("_resp1")).unwrap_err(),
        SignError::DuplicateId {
            id: "_assert1".into()
        }
    );
    assert_eq!(
        sign(RESPONSE, Some("_nope")).unwrap_err(),
        SignError::TargetNotFound { id: "_nope".into() }
    );
    let no_id = RESPONSE.replace(r#" ID="_resp1""#, "");
    assert_eq!(
        sign(&no_id, None).unwrap_err(),
        SignError::TargetWithoutId {
            element: "samlp:Response".into()
        }
    );
}

#[test]
fn refuses_input_the_strict_parser_refuses() {
    let doctype = format!("<!DOCTYPE x>{RESPONSE}");
    assert!(matches!(sign(&doctype, None), Err(SignError::Parse(_))));
}
