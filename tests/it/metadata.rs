//! IdP metadata in: one entity, aggregates, rollover keys, and the refusals an admin will meet.

use base64::Engine;
use samlgate::saml::metadata::{Binding, MetadataError, parse_idp_metadata};

use crate::support::test_idp::*;

fn cert_b64(keys: &KeyPair) -> String {
    base64::engine::general_purpose::STANDARD.encode(keys.cert.to_der().expect("der"))
}

fn entity(entity_id: &str, key_descriptors: &str) -> String {
    format!(
        concat!(
            "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" ",
            "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{}\">",
            "<md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">",
            "{}",
            "<md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"https://idp/slo\"/>",
            "<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>",
            "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"https://idp/sso-post\"/>",
            "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"https://idp/sso\"/>",
            "</md:IDPSSODescriptor></md:EntityDescriptor>"
        ),
        entity_id, key_descriptors
    )
}

fn key_descriptor(usage: Option<&str>, keys: &KeyPair) -> String {
    let use_attr = usage.map(|u| format!(" use=\"{u}\"")).unwrap_or_default();
    format!(
        "<md:KeyDescriptor{use_attr}><ds:KeyInfo><ds:X509Data><ds:X509Certificate>\n{}\n</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
        cert_b64(keys)
    )
}

#[test]
fn reads_entity_id_keys_and_endpoints() {
    let xml = entity(IDP, &key_descriptor(Some("signing"), idp_keys()));
    let md = parse_idp_metadata(xml.as_bytes(), "corp.xml", None).expect("metadata");
    assert_eq!(md.entity_id, IDP);
    assert_eq!(md.signing_keys.len(), 1);
    assert_eq!(
        md.sso_endpoint(&Binding::HttpRedirect)
            .map(|e| e.location.as_str()),
        Some("https://idp/sso")
    );
    assert_eq!(
        md.sso_endpoint(&Binding::HttpPost)
            .map(|e| e.location.as_str()),
        Some("https://idp/sso-post")
    );
    assert_eq!(md.slo_endpoints.len(), 1);
    assert_eq!(
        md.name_id_formats,
        ["urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"]
    );
}

#[test]
fn keeps_every_signing_key_for_rollover_and_skips_encryption_keys() {
    let kds = format!(
        "{}{}{}",
        key_descriptor(Some("signing"), idp_keys()),
        key_descriptor(None, attacker_keys()),
        key_descriptor(Some("encryption"), &make_key_pair("enc"))
    );
    let md = parse_idp_metadata(entity(IDP, &kds).as_bytes(), "corp.xml", None).expect("metadata");
    assert_eq!(
        md.signing_keys.len(),
        2,
        "use=signing and no-use keys sign; use=encryption does not"
    );
}

#[test]
fn refuses_idp_without_signing_certificate() {
    let kds = key_descriptor(Some("encryption"), idp_keys());
    let err = parse_idp_metadata(entity(IDP, &kds).as_bytes(), "corp.xml", None).unwrap_err();
    assert!(matches!(err, MetadataError::NoSigningKey { .. }));
    let line = err.to_string();
    assert!(line.contains("corp.xml") && line.contains(IDP), "{line}");
}

#[test]
fn picks_one_idp_out_of_an_aggregate() {
    let a = entity("https://a.example/idp", &key_descriptor(None, idp_keys()));
    let b = entity(
        "https://b.example/idp",
        &key_descriptor(None, attacker_keys()),
    );
    let agg = format!(
        "<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\">{a}{b}</md:EntitiesDescriptor>"
    );
    let md =
        parse_idp_metadata(agg.as_bytes(), "fed.xml", Some("https://b.example/idp")).expect("b");
    assert_eq!(md.entity_id, "https://b.example/idp");
    let err = parse_idp_metadata(agg.as_bytes(), "fed.xml", None).unwrap_err();
    assert!(
        matches!(err, MetadataError::SeveralIdps { ref available, .. } if available.len() == 2)
    );
    let err =
        parse_idp_metadata(agg.as_bytes(), "fed.xml", Some("https://c.example/idp")).unwrap_err();
    let line = err.to_string();
    assert!(
        line.contains("https://a.example/idp") && line.contains("https://b.example/idp"),
        "{line}"
    );
}

#[test]
fn refuses_doctype_and_non_metadata_roots() {
    let err = parse_idp_metadata(b"<!DOCTYPE x><x/>", "m.xml", None).unwrap_err();
    assert!(matches!(err, MetadataError::Xml { .. }));
    let err = parse_idp_metadata(b"<html/>", "m.xml", None).unwrap_err();
    assert!(matches!(err, MetadataError::SomethingElse { .. }));
    let err = parse_idp_metadata(b"<root/>", "m.xml", None).unwrap_err();
    assert!(matches!(err, MetadataError::NotMetadata { .. }));
}

#[test]
fn refuses_a_corrupt_certificate_naming_the_file() {
    let kds = "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>bm90IGEgY2VydA==</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>";
    let err = parse_idp_metadata(entity(IDP, kds).as_bytes(), "corp.xml", None).unwrap_err();
    assert!(matches!(err, MetadataError::BadCertificate { .. }));
    assert!(err.to_string().contains("corp.xml"));
}
