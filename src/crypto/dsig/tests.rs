//! Unit tests of `crypto::dsig`, compiled only under #[cfg(test)] (the parent declares `mod tests;`).
use std::sync::OnceLock;

use base64::Engine;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};

use super::*;
use crate::crypto::algorithms::uri;
use crate::crypto::sign::sign_enveloped;
use crate::crypto::test_fixtures::{RESPONSE, ec_key, rsa_key, self_signed, verification_key};
use crate::xml::limits::MAX_INCLUSIVE_PREFIXES;
use crate::xml::ns;
use crate::xml::{ParseLimits, parse};

const XPATH: &str = "http://www.w3.org/TR/1999/REC-xpath-19991116";
const XSLT: &str = "http://www.w3.org/TR/1999/REC-xslt-19991116";
const INCLUSIVE_C14N: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";

fn idp_key() -> &'static PKey<Private> {
    static KEY: OnceLock<PKey<Private>> = OnceLock::new();
    KEY.get_or_init(rsa_key)
}

fn idp_keys() -> Vec<VerificationKey> {
    vec![verification_key(idp_key(), "idp.example.com")]
}

fn sign_with(
    xml: &str,
    id: &str,
    key: &PKey<Private>,
    alg: SignatureAlgorithm,
    dig: DigestAlgorithm,
) -> String {
    sign_enveloped(xml, Some(id), key, None, alg, dig).unwrap()
}

/// RESPONSE with the element `id` signed by the IdP key, RSA-SHA256.
fn signed(id: &str) -> String {
    sign_with(
        RESPONSE,
        id,
        idp_key(),
        SignatureAlgorithm::RsaSha256,
        DigestAlgorithm::Sha256,
    )
}

fn check(
    xml: &str,
    id: &str,
    keys: &[VerificationKey],
    allow_sha1: bool,
) -> Result<VerifiedSignature, SignatureError> {
    let doc = parse(xml.as_bytes(), &ParseLimits::default()).unwrap();
    let element = doc.elements().find(|e| e.attr("ID") == Some(id)).unwrap();
    verify(&doc, element, keys, allow_sha1)
}

fn check_idp(xml: &str, id: &str) -> Result<VerifiedSignature, SignatureError> {
    check(xml, id, &idp_keys(), false)
}

fn replace_once(haystack: &str, from: &str, to: &str) -> String {
    assert_eq!(
        haystack.matches(from).count(),
        1,
        "{from:?} must occur once"
    );
    haystack.replacen(from, to, 1)
}

/// The `<ds:Signature ...>...</ds:Signature>` text of a document signed once.
fn signature_text(xml: &str) -> &str {
    let start = xml.find("<ds:Signature ").unwrap();
    let end = xml.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    &xml[start..end]
}

#[test]
fn prefix_list_is_read_as_a_set_of_prefixes() {
    let listed = prefix_list(" xs\txs  #default\nsaml xs ").unwrap();
    assert_eq!(listed, ["#default", "saml", "xs"]);
    // The cap counts tokens as written: duplicates cost reading too.
    let at_cap = vec!["xs"; MAX_INCLUSIVE_PREFIXES].join(" ");
    assert_eq!(prefix_list(&at_cap).unwrap(), ["xs"]);
    assert_eq!(
        prefix_list(&format!("{at_cap} xs")).unwrap_err(),
        SignatureError::PrefixListTooLong {
            count: MAX_INCLUSIVE_PREFIXES + 1,
            limit: MAX_INCLUSIVE_PREFIXES
        }
    );
    assert_eq!(prefix_list("").unwrap(), Vec::<String>::new());
    for bad in ["p:q", "#Default", "0a", "a b,c"] {
        assert_eq!(
            prefix_list(bad).unwrap_err().kind(),
            "signature_prefix_list_invalid",
            "{bad}"
        );
    }
}

#[test]
fn verifies_every_allowed_algorithm_round_trip() {
    let rsa = idp_key();
    let p256 = ec_key(Nid::X9_62_PRIME256V1);
    let p384 = ec_key(Nid::SECP384R1);
    let p521 = ec_key(Nid::SECP521R1);
    let cases: [(&PKey<Private>, SignatureAlgorithm, DigestAlgorithm); 9] = [
        (rsa, SignatureAlgorithm::RsaSha256, DigestAlgorithm::Sha256),
        (rsa, SignatureAlgorithm::RsaSha384, DigestAlgorithm::Sha384),
        (rsa, SignatureAlgorithm::RsaSha512, DigestAlgorithm::Sha512),
        (
            rsa,
            SignatureAlgorithm::RsaPssSha256,
            DigestAlgorithm::Sha256,
        ),
        (
            rsa,
            SignatureAlgorithm::RsaPssSha384,
            DigestAlgorithm::Sha384,
        ),
        (
            rsa,
            SignatureAlgorithm::RsaPssSha512,
            DigestAlgorithm::Sha512,
        ),
        (
            &p256,
            SignatureAlgorithm::EcdsaSha256,
            DigestAlgorithm::Sha256,
        ),
        (
            &p384,
            SignatureAlgorithm::EcdsaSha384,
            DigestAlgorithm::Sha384,
        ),
        (
            &p521,
            SignatureAlgorithm::EcdsaSha512,
            DigestAlgorithm::Sha512,
        ),
    ];
    for (key, alg, dig) in cases {
        for id in ["_resp1", "_assert1"] {
            let xml = sign_with(RESPONSE, id, key, alg, dig);
            let keys = [verification_key(key, "k")];
            let verified = check(&xml, id, &keys, false)
                .unwrap_or_else(|e| panic!("{alg}/{dig} on {id}: {e}"));
            assert_eq!(verified.signature_algorithm, alg);
            assert_eq!(verified.digest_algorithm, dig);
            assert_eq!(verified.reference_id, id);
            let doc = parse(xml.as_bytes(), &ParseLimits::default()).unwrap();
            let element = doc.element(verified.signed_element).unwrap();
            assert_eq!(element.attr("ID"), Some(id));
        }
    }
}

#[test]
fn verifies_response_and_assertion_both_signed() {
    let inner = signed("_assert1");
    let both = sign_with(
        &inner,
        "_resp1",
        idp_key(),
        SignatureAlgorithm::RsaSha256,
        DigestAlgorithm::Sha256,
    );
    check_idp(&both, "_resp1").unwrap();
    check_idp(&both, "_assert1").unwrap();
}

#[test]
fn refuses_response_signature_moved_into_the_assertion() {
    let xml = signed("_resp1");
    let signature = signature_text(&xml).to_string();
    let moved = xml.replacen(&signature, "", 1).replacen(
        "<saml:Issuer>https://idp.example.com</saml:Issuer>\n    <saml:Subject>",
        &format!(
            "<saml:Issuer>https://idp.example.com</saml:Issuer>{signature}\n    <saml:Subject>"
        ),
        1,
    );
    assert_ne!(moved, xml);
    assert_eq!(
        check_idp(&moved, "_resp1").unwrap_err(),
        SignatureError::Missing {
            element: "samlp:Response".into()
        }
    );
    assert_eq!(
        check_idp(&moved, "_assert1").unwrap_err(),
        SignatureError::ReferenceMismatch {
            uri: "#_resp1".into(),
            expected_id: "_assert1".into()
        }
    );
}

#[test]
fn refuses_signature_nested_below_a_direct_child() {
    let xml = signed("_resp1");
    let signature = signature_text(&xml).to_string();
    let nested = xml.replacen(&signature, "", 1).replacen(
        "<samlp:Status>",
        &format!("<samlp:Status>{signature}"),
        1,
    );
    assert_eq!(
        check_idp(&nested, "_resp1").unwrap_err().kind(),
        "signature_missing"
    );
}

#[test]
fn refuses_two_signature_children() {
    let xml = signed("_assert1");
    let signature = signature_text(&xml).to_string();
    let doubled = replace_once(&xml, &signature, &format!("{signature}{signature}"));
    let err = check_idp(&doubled, "_assert1").unwrap_err();
    assert_eq!(
        err,
        SignatureError::MultipleSignatures {
            element: "saml:Assertion".into(),
            count: 2
        }
    );
    let doc = parse(doubled.as_bytes(), &ParseLimits::default()).unwrap();
    let assertion = doc
        .elements()
        .find(|e| e.attr("ID") == Some("_assert1"))
        .unwrap();
    assert!(signature_child(assertion).is_err());
}

#[test]
fn signature_child_reports_unsigned_and_signed_elements() {
    let xml = signed("_assert1");
    let doc = parse(xml.as_bytes(), &ParseLimits::default()).unwrap();
    assert_eq!(signature_child(doc.root()).unwrap().map(|e| e.id()), None);
    let assertion = doc
        .elements()
        .find(|e| e.attr("ID") == Some("_assert1"))
        .unwrap();
    let signature = signature_child(assertion).unwrap().unwrap();
    assert!(signature.is(ns::DS, "Signature"));
    assert_eq!(signature.parent().unwrap().id(), assertion.id());
}

#[test]
fn refuses_reference_to_another_element() {
    let xml = signed("_resp1");
    let other = replace_once(&xml, r##"URI="#_resp1""##, r##"URI="#_assert1""##);
    assert_eq!(
        check_idp(&other, "_resp1").unwrap_err(),
        SignatureError::ReferenceMismatch {
            uri: "#_assert1".into(),
            expected_id: "_resp1".into()
        }
    );
    let unknown = replace_once(&xml, r##"URI="#_resp1""##, r##"URI="#nowhere""##);
    assert_eq!(
        check_idp(&unknown, "_resp1").unwrap_err().kind(),
        "signature_reference_mismatch"
    );
}

#[test]
fn refuses_empty_reference_uri() {
    let xml = replace_once(&signed("_resp1"), r##"URI="#_resp1""##, r#"URI="""#);
    assert_eq!(
        check_idp(&xml, "_resp1").unwrap_err(),
        SignatureError::EmptyReferenceUri {
            expected_id: "_resp1".into()
        }
    );
    let absent = replace_once(&signed("_resp1"), r##" URI="#_resp1""##, "");
    assert_eq!(
        check_idp(&absent, "_resp1").unwrap_err().kind(),
        "signature_reference_uri_missing"
    );
}

#[test]
fn refuses_xpointer_reference() {
    for uri in ["#xpointer(/)", "#xpointer(id('_resp1'))"] {
        let xml = replace_once(
            &signed("_resp1"),
            r##"URI="#_resp1""##,
            &format!("URI=\"{uri}\""),
        );
        assert_eq!(
            check_idp(&xml, "_resp1").unwrap_err(),
            SignatureError::XPointerReference {
                uri: uri.into(),
                expected_id: "_resp1".into()
            }
        );
    }
}

#[test]
fn refuses_duplicate_id_of_the_signed_element() {
    // Classic wrapping: an attacker's Assertion carrying the signed one's ID.
    let xml = signed("_assert1");
    let wrapped = replace_once(
        &xml,
        "<samlp:Status>",
        r#"<samlp:Extensions><saml:Assertion ID="_assert1"/></samlp:Extensions><samlp:Status>"#,
    );
    let doc = parse(wrapped.as_bytes(), &ParseLimits::default()).unwrap();
    let holders: Vec<_> = doc
        .elements()
        .filter(|e| e.attr("ID") == Some("_assert1"))
        .collect();
    assert_eq!(holders.len(), 2);
    for element in holders {
        assert_eq!(
            verify(&doc, element, &idp_keys(), false).unwrap_err(),
            SignatureError::DuplicateId {
                id: "_assert1".into()
            }
        );
    }
}

#[test]
fn refuses_any_duplicate_id_in_the_document() {
    let xml = signed("_assert1");
    let twice = replace_once(&xml, "<samlp:Status>", r#"<samlp:Status ID="_resp1">"#);
    assert_eq!(
        check_idp(&twice, "_assert1").unwrap_err(),
        SignatureError::DuplicateId {
            id: "_resp1".into()
        }
    );
}

#[test]
fn refuses_signed_element_without_id() {
    let xml = signed("_assert1");
    let doc = parse(xml.as_bytes(), &ParseLimits::default()).unwrap();
    let status = doc.elements().find(|e| e.local_name() == "Status").unwrap();
    // An element with no ID and no signature: the missing signature is reported first.
    assert_eq!(
        verify(&doc, status, &idp_keys(), false).unwrap_err().kind(),
        "signature_missing"
    );
    let moved = replace_once(
        &xml,
        r#"<saml:Assertion ID="_assert1" "#,
        "<saml:Assertion ",
    );
    let doc = parse(moved.as_bytes(), &ParseLimits::default()).unwrap();
    let assertion = doc
        .elements()
        .find(|e| e.local_name() == "Assertion")
        .unwrap();
    assert_eq!(
        verify(&doc, assertion, &idp_keys(), false).unwrap_err(),
        SignatureError::MissingId {
            element: "saml:Assertion".into()
        }
    );
}

fn enveloped_transform() -> String {
    format!(
        r#"<ds:Transform Algorithm="{}"/>"#,
        uri::ENVELOPED_SIGNATURE
    )
}

fn exc_transform() -> String {
    format!(r#"<ds:Transform Algorithm="{}"/>"#, uri::EXC_C14N)
}

#[test]
fn refuses_xpath_transform() {
    let xpath = format!(
        r#"<ds:Transform Algorithm="{XPATH}"><ds:XPath>not(ancestor-or-self::ds:Signature)</ds:XPath></ds:Transform>"#
    );
    let xml = replace_once(&signed("_assert1"), &enveloped_transform(), &xpath);
    assert_eq!(
        check_idp(&xml, "_assert1").unwrap_err(),
        SignatureError::UnexpectedTransform {
            position: 1,
            uri: XPATH.into()
        }
    );
}

#[test]
fn refuses_xslt_transform() {
    let xslt = format!(
        r#"{}<ds:Transform Algorithm="{XSLT}"/>"#,
        enveloped_transform()
    );
    let xml = replace_once(&signed("_assert1"), &enveloped_transform(), &xslt);
    let err = check_idp(&xml, "_assert1").unwrap_err();
    assert_eq!(
        err,
        SignatureError::UnexpectedTransform {
            position: 2,
            uri: XSLT.into()
        }
    );
    assert!(err.to_string().contains(XSLT));
}

#[test]
fn refuses_with_comments_canonicalization() {
    let in_transform = replace_once(
        &signed("_assert1"),
        &exc_transform(),
        &format!(
            r#"<ds:Transform Algorithm="{}"/>"#,
            uri::EXC_C14N_WITH_COMMENTS
        ),
    );
    assert_eq!(
        check_idp(&in_transform, "_assert1").unwrap_err(),
        SignatureError::UnexpectedTransform {
            position: 2,
            uri: uri::EXC_C14N_WITH_COMMENTS.into()
        }
    );
    let in_signed_info = replace_once(
        &signed("_assert1"),
        &format!(
            r#"<ds:CanonicalizationMethod Algorithm="{}"/>"#,
            uri::EXC_C14N
        ),
        &format!(
            r#"<ds:CanonicalizationMethod Algorithm="{}"/>"#,
            uri::EXC_C14N_WITH_COMMENTS
        ),
    );
    assert_eq!(
        check_idp(&in_signed_info, "_assert1").unwrap_err(),
        SignatureError::UnsupportedCanonicalization {
            uri: uri::EXC_C14N_WITH_COMMENTS.into()
        }
    );
}

#[test]
fn refuses_inclusive_canonicalization() {
    let xml = replace_once(
        &signed("_assert1"),
        &format!(
            r#"<ds:CanonicalizationMethod Algorithm="{}"/>"#,
            uri::EXC_C14N
        ),
        &format!(r#"<ds:CanonicalizationMethod Algorithm="{INCLUSIVE_C14N}"/>"#),
    );
    assert_eq!(
        check_idp(&xml, "_assert1").unwrap_err().kind(),
        "signature_canonicalization_refused"
    );
}

#[test]
fn refuses_a_third_transform() {
    let three = format!("{}{}", exc_transform(), exc_transform());
    let xml = replace_once(&signed("_assert1"), &exc_transform(), &three);
    assert_eq!(
        check_idp(&xml, "_assert1").unwrap_err(),
        SignatureError::UnexpectedTransform {
            position: 3,
            uri: uri::EXC_C14N.into()
        }
    );
}

#[test]
fn refuses_missing_or_partial_transforms() {
    let all = format!(
        "<ds:Transforms>{}{}</ds:Transforms>",
        enveloped_transform(),
        exc_transform()
    );
    let none = replace_once(&signed("_assert1"), &all, "");
    assert_eq!(
        check_idp(&none, "_assert1").unwrap_err(),
        SignatureError::TransformCount { count: 0 }
    );
    let only_enveloped = replace_once(&signed("_assert1"), &exc_transform(), "");
    assert_eq!(
        check_idp(&only_enveloped, "_assert1").unwrap_err(),
        SignatureError::TransformCount { count: 1 }
    );
    let swapped = replace_once(
        &signed("_assert1"),
        &all,
        &format!(
            "<ds:Transforms>{}{}</ds:Transforms>",
            exc_transform(),
            enveloped_transform()
        ),
    );
    assert_eq!(
        check_idp(&swapped, "_assert1").unwrap_err(),
        SignatureError::UnexpectedTransform {
            position: 1,
            uri: uri::EXC_C14N.into()
        }
    );
}

#[test]
fn refuses_object_and_manifest() {
    let xml = signed("_assert1");
    let object = replace_once(
        &xml,
        "</ds:SignatureValue>",
        "</ds:SignatureValue><ds:Object><saml:Assertion ID=\"_evil\"/></ds:Object>",
    );
    assert_eq!(
        check_idp(&object, "_assert1").unwrap_err(),
        SignatureError::ForbiddenElement {
            element: "ds:Object".into()
        }
    );
    let manifest = replace_once(
        &xml,
        "</ds:SignatureValue>",
        "</ds:SignatureValue><ds:KeyInfo><ds:Manifest/></ds:KeyInfo>",
    );
    assert_eq!(
        check_idp(&manifest, "_assert1").unwrap_err(),
        SignatureError::ForbiddenElement {
            element: "ds:Manifest".into()
        }
    );
}

#[test]
fn refuses_unknown_elements_in_the_signature() {
    let xml = replace_once(
        &signed("_assert1"),
        "</ds:SignedInfo>",
        "</ds:SignedInfo><ds:SignedInfo/>",
    );
    assert_eq!(
        check_idp(&xml, "_assert1").unwrap_err(),
        SignatureError::UnexpectedElement {
            parent: "ds:Signature".into(),
            element: "ds:SignedInfo".into()
        }
    );
}

#[test]
fn refuses_two_references() {
    let xml = signed("_assert1");
    let start = xml.find("<ds:Reference ").unwrap();
    let end = xml.find("</ds:Reference>").unwrap() + "</ds:Reference>".len();
    let reference = &xml[start..end];
    let doubled = replace_once(&xml, reference, &format!("{reference}{reference}"));
    assert_eq!(
        check_idp(&doubled, "_assert1").unwrap_err(),
        SignatureError::ReferenceCount { count: 2 }
    );
}

#[test]
fn refuses_hmac_signature_method() {
    let hmac = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256";
    let xml = replace_once(&signed("_assert1"), uri::RSA_SHA256, hmac);
    for allow_sha1 in [false, true] {
        let err = check(&xml, "_assert1", &idp_keys(), allow_sha1).unwrap_err();
        assert_eq!(err.kind(), "signature_algorithm_hmac");
        assert!(err.to_string().contains(hmac));
    }
}

#[test]
fn refuses_unknown_algorithm_naming_it() {
    let md5 = "http://www.w3.org/2001/04/xmldsig-more#rsa-md5";
    let xml = replace_once(&signed("_assert1"), uri::RSA_SHA256, md5);
    let err = check_idp(&xml, "_assert1").unwrap_err();
    assert_eq!(err.kind(), "signature_algorithm_unknown");
    assert!(err.to_string().contains(md5), "{err}");
}

#[test]
fn refuses_sha1_unless_allowed() {
    let xml = sign_with(
        RESPONSE,
        "_assert1",
        idp_key(),
        SignatureAlgorithm::RsaSha1,
        DigestAlgorithm::Sha1,
    );
    let err = check(&xml, "_assert1", &idp_keys(), false).unwrap_err();
    assert_eq!(err.kind(), "signature_algorithm_sha1_not_allowed");
    assert!(err.to_string().contains(uri::RSA_SHA1));
    let verified = check(&xml, "_assert1", &idp_keys(), true).unwrap();
    assert_eq!(verified.signature_algorithm, SignatureAlgorithm::RsaSha1);

    // A SHA-1 digest under a SHA-256 signature is SHA-1 all the same.
    let digest_only = sign_with(
        RESPONSE,
        "_assert1",
        idp_key(),
        SignatureAlgorithm::RsaSha256,
        DigestAlgorithm::Sha1,
    );
    let err = check(&digest_only, "_assert1", &idp_keys(), false).unwrap_err();
    assert!(err.to_string().contains(uri::SHA1), "{err}");
    check(&digest_only, "_assert1", &idp_keys(), true).unwrap();
}

#[test]
fn refuses_attacker_signature_with_attacker_certificate_in_key_info() {
    // The attacker edits the NameID and signs with their own key, shipping their own
    // certificate in KeyInfo. KeyInfo is never read, so the IdP key decides.
    let attacker = rsa_key();
    let attacker_cert = self_signed(&attacker, "idp.example.com");
    let forged_source = replace_once(RESPONSE, "alice@example.com", "admin@example.com");
    let forged = sign_enveloped(
        &forged_source,
        Some("_assert1"),
        &attacker,
        Some(&attacker_cert),
        SignatureAlgorithm::RsaSha256,
        DigestAlgorithm::Sha256,
    )
    .unwrap();
    assert!(forged.contains("<ds:X509Certificate>"));
    let err = check_idp(&forged, "_assert1").unwrap_err();
    assert!(
        matches!(err, SignatureError::NoKeyVerified { tried: 1, .. }),
        "{err:?}"
    );
}

#[test]
fn refuses_tampered_name_id_as_digest_mismatch() {
    let xml = replace_once(
        &signed("_assert1"),
        "alice@example.com",
        "admin@example.com",
    );
    let err = check_idp(&xml, "_assert1").unwrap_err();
    assert_eq!(
        err,
        SignatureError::DigestMismatch {
            reference: "#_assert1".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "digest mismatch for Reference #_assert1: the signed content was altered"
    );
}

#[test]
fn refuses_tampered_attribute_value_and_added_attribute() {
    let value = replace_once(&signed("_resp1"), ">staff<", ">admins<");
    assert_eq!(
        check_idp(&value, "_resp1").unwrap_err().kind(),
        "signature_digest_mismatch"
    );
    let added = replace_once(
        &signed("_resp1"),
        "<saml:AttributeValue>staff</saml:AttributeValue>",
        "<saml:AttributeValue>staff</saml:AttributeValue><saml:AttributeValue>admins</saml:AttributeValue>",
    );
    assert_eq!(
        check_idp(&added, "_resp1").unwrap_err().kind(),
        "signature_digest_mismatch"
    );
}

#[test]
fn refuses_tampered_content_with_recomputed_digest_as_bad_signature() {
    // The attacker also fixes up DigestValue: SignedInfo changes, so SignatureValue fails.
    let xml = signed("_assert1");
    let tampered = replace_once(&xml, "alice@example.com", "admin@example.com");
    let doc = parse(tampered.as_bytes(), &ParseLimits::default()).unwrap();
    let assertion = doc
        .elements()
        .find(|e| e.attr("ID") == Some("_assert1"))
        .unwrap();
    let signature = signature_child(assertion).unwrap().unwrap();
    let content = canonicalize(&doc, assertion.id(), Some(signature.id()), &[]).unwrap();
    let digest = base64::engine::general_purpose::STANDARD
        .encode(DigestAlgorithm::Sha256.digest(&content).unwrap());
    let start = tampered.find("<ds:DigestValue>").unwrap() + "<ds:DigestValue>".len();
    let end = tampered.find("</ds:DigestValue>").unwrap();
    let fixed = format!("{}{}{}", &tampered[..start], digest, &tampered[end..]);
    let err = check_idp(&fixed, "_assert1").unwrap_err();
    assert!(
        matches!(err, SignatureError::NoKeyVerified { tried: 1, .. }),
        "{err:?}"
    );
}

#[test]
fn refuses_tampered_signed_info() {
    let xml = replace_once(
        &signed("_assert1"),
        "<ds:SignedInfo>",
        r#"<ds:SignedInfo Id="x">"#,
    );
    let err = check_idp(&xml, "_assert1").unwrap_err();
    assert_eq!(err.kind(), "signature_no_key_verified");
}

#[test]
fn refuses_wrong_key_naming_the_keys_tried() {
    let xml = signed("_assert1");
    let other = [
        verification_key(&rsa_key(), "old.example.com"),
        verification_key(&ec_key(Nid::X9_62_PRIME256V1), "ec.example.com"),
    ];
    let err = check(&xml, "_assert1", &other, false).unwrap_err();
    let SignatureError::NoKeyVerified { tried, failures } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*tried, 2);
    assert!(failures[0].contains("old.example.com"), "{failures:?}");
    assert!(
        failures[1].contains("needs another kind of key"),
        "{failures:?}"
    );
    assert!(
        err.to_string()
            .starts_with("no configured key verified the SignatureValue (tried 2 keys: ")
    );
}

#[test]
fn accepts_the_second_key_during_rollover() {
    let xml = signed("_assert1");
    let keys = [
        verification_key(&rsa_key(), "next"),
        verification_key(idp_key(), "current"),
    ];
    let verified = check(&xml, "_assert1", &keys, false).unwrap();
    assert_eq!(verified.key_index, 1);
    assert!(verified.key_description.contains("current"));
}

#[test]
fn refuses_everything_with_no_keys() {
    let xml = signed("_assert1");
    assert_eq!(
        check(&xml, "_assert1", &[], false).unwrap_err(),
        SignatureError::NoKeys
    );
}

#[test]
fn refuses_element_from_another_document() {
    let xml = signed("_assert1");
    let a = parse(xml.as_bytes(), &ParseLimits::default()).unwrap();
    let b = parse(xml.as_bytes(), &ParseLimits::default()).unwrap();
    let assertion = b
        .elements()
        .find(|e| e.attr("ID") == Some("_assert1"))
        .unwrap();
    assert_eq!(
        verify(&a, assertion, &idp_keys(), false).unwrap_err(),
        SignatureError::ForeignElement
    );
}

#[test]
fn accepts_signature_value_wrapped_with_whitespace_and_carriage_returns() {
    let xml = signed("_assert1");
    let start = xml.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
    let end = xml.find("</ds:SignatureValue>").unwrap();
    let value = &xml[start..end];
    let wrapped: Vec<&str> = value
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let rewrapped = format!(
        "{}\n{}&#13;\n{}",
        &xml[..start],
        wrapped.join("&#13;\n"),
        &xml[end..]
    );
    check_idp(&rewrapped, "_assert1").unwrap();
}

#[test]
fn refuses_signature_value_that_is_not_base64() {
    let xml = signed("_assert1");
    let bad = replace_once(&xml, "<ds:SignatureValue>", "<ds:SignatureValue>!!");
    assert_eq!(
        check_idp(&bad, "_assert1").unwrap_err().kind(),
        "signature_invalid_base64"
    );
}

#[test]
fn refuses_der_ecdsa_signature_value() {
    use openssl::sign::Signer;
    let key = ec_key(Nid::X9_62_PRIME256V1);
    let keys = [verification_key(&key, "ec")];
    let xml = sign_with(
        RESPONSE,
        "_assert1",
        &key,
        SignatureAlgorithm::EcdsaSha256,
        DigestAlgorithm::Sha256,
    );
    // Re-sign SignedInfo the way a DER-emitting implementation would.
    let doc = parse(xml.as_bytes(), &ParseLimits::default()).unwrap();
    let signed_info = doc.elements().find(|e| e.is(ns::DS, "SignedInfo")).unwrap();
    let data = canonicalize(&doc, signed_info.id(), None, &[]).unwrap();
    let mut signer = Signer::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
    signer.update(&data).unwrap();
    let der = base64::engine::general_purpose::STANDARD.encode(signer.sign_to_vec().unwrap());
    let start = xml.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
    let end = xml.find("</ds:SignatureValue>").unwrap();
    let with_der = format!("{}{}{}", &xml[..start], der, &xml[end..]);
    check(&xml, "_assert1", &keys, false).unwrap();
    let err = check(&with_der, "_assert1", &keys, false).unwrap_err();
    assert_eq!(err.kind(), "signature_no_key_verified");
}

#[test]
fn ignores_comments_inserted_into_signed_text() {
    // Comments are not signed content (c14n without comments) and the tree drops them, so
    // the NameID still reads whole: there is nothing for a comment to truncate.
    let xml = replace_once(
        &signed("_assert1"),
        "alice@example.com",
        "alice@example.com<!---->.evil.com",
    );
    assert_eq!(
        check_idp(&xml, "_assert1").unwrap_err().kind(),
        "signature_digest_mismatch"
    );
    let harmless = replace_once(
        &signed("_assert1"),
        "alice@example.com",
        "alice@<!-- x -->example.com",
    );
    check_idp(&harmless, "_assert1").unwrap();
    let doc = parse(harmless.as_bytes(), &ParseLimits::default()).unwrap();
    let name_id = doc.elements().find(|e| e.local_name() == "NameID").unwrap();
    assert_eq!(name_id.text().unwrap(), "alice@example.com");
}

#[test]
fn refuses_inclusive_namespaces_outside_exclusive_c14n() {
    let list = r#"<ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="xs"/>"#;
    let on_enveloped = replace_once(
        &signed("_assert1"),
        &enveloped_transform(),
        &format!(
            r#"<ds:Transform Algorithm="{}">{list}</ds:Transform>"#,
            uri::ENVELOPED_SIGNATURE
        ),
    );
    assert_eq!(
        check_idp(&on_enveloped, "_assert1").unwrap_err(),
        SignatureError::UnexpectedElement {
            parent: "ds:Transform".into(),
            element: "ec:InclusiveNamespaces".into()
        }
    );
    let twice = replace_once(
        &signed("_assert1"),
        &exc_transform(),
        &format!(
            r#"<ds:Transform Algorithm="{}">{list}{list}</ds:Transform>"#,
            uri::EXC_C14N
        ),
    );
    assert_eq!(
        check_idp(&twice, "_assert1").unwrap_err().kind(),
        "signature_unexpected_element"
    );
}

#[test]
fn refuses_missing_algorithm_attribute() {
    let xml = replace_once(
        &signed("_assert1"),
        &format!(r#"<ds:DigestMethod Algorithm="{}"/>"#, uri::SHA256),
        "<ds:DigestMethod/>",
    );
    assert_eq!(
        check_idp(&xml, "_assert1").unwrap_err(),
        SignatureError::MissingAttribute {
            element: "ds:DigestMethod".into(),
            attribute: "Algorithm".into()
        }
    );
}

/// The signed document and the canonical form of its signed Assertion, made once.
fn signed_fixture() -> &'static (String, Vec<u8>) {
    static FIXTURE: OnceLock<(String, Vec<u8>)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let xml = signed("_assert1");
        let doc = parse(xml.as_bytes(), &ParseLimits::default()).unwrap();
        let assertion = doc
            .elements()
            .find(|e| e.attr("ID") == Some("_assert1"))
            .unwrap();
        let signature = signature_child(assertion).unwrap().unwrap();
        let content = canonicalize(&doc, assertion.id(), Some(signature.id()), &[]).unwrap();
        (xml, content)
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Any one-byte edit of a signed document either fails to parse, is refused, or leaves
    /// the signed content exactly as it was; and nothing panics.
    #[test]
    fn a_one_byte_edit_never_changes_what_a_verified_signature_covers(
        position in 0usize..4000,
        byte in proptest::sample::select(b"<>/=\"'&#: \nax0_-".to_vec()),
    ) {
        let (xml, content) = signed_fixture();
        let mut bytes = xml.clone().into_bytes();
        let position = position % bytes.len();
        bytes[position] = byte;
        let Ok(doc) = parse(&bytes, &ParseLimits::default()) else { return Ok(()) };
        let Some(assertion) = doc.elements().find(|e| e.attr("ID") == Some("_assert1")) else {
            return Ok(());
        };
        if let Ok(verified) = verify(&doc, assertion, &idp_keys(), false) {
            let signature = doc.element(verified.signature_element).unwrap();
            let now = canonicalize(&doc, assertion.id(), Some(signature.id()), &[]).unwrap();
            proptest::prop_assert_eq!(&now, content);
        }
    }
}
