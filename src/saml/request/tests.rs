//! Unit tests of `saml::request`, compiled only under #[cfg(test)] (the parent declares `mod tests;`).
use super::*;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::sign::Verifier;
use std::io::Read;
use time::macros::datetime;

fn request() -> AuthnRequest {
    AuthnRequest {
        id: "_0123456789abcdef0123456789abcdef".into(),
        issue_instant: datetime!(2026-05-23 09:14:20 UTC),
        destination: "https://idp.example.com/sso?tenant=a&x=1".into(),
        acs_url: "https://app.example.com/saml/acs".into(),
        sp_entity_id: "https://app.example.com/saml/metadata".into(),
        force_authn: true,
        is_passive: false,
        name_id_format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into()),
        authn_context: vec![
            "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport".into(),
        ],
    }
}

fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

fn decode(v: &str) -> String {
    percent_encoding::percent_decode_str(v)
        .decode_utf8()
        .map(|c| c.into_owned())
        .unwrap()
}

#[test]
fn request_ids_are_128_random_bits_with_an_underscore() {
    let a = new_request_id();
    let b = new_request_id();
    assert_eq!(a.len(), 33);
    assert!(a.starts_with('_'));
    assert!(a[1..].bytes().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);
}

#[test]
fn xml_parses_with_the_strict_parser_and_carries_every_field() {
    let xml = request().to_xml();
    let doc = crate::xml::parse(xml.as_bytes(), &crate::xml::ParseLimits::default()).unwrap();
    let root = doc.root();
    assert!(root.is(crate::xml::ns::SAMLP, "AuthnRequest"));
    assert_eq!(root.attr("ID"), Some("_0123456789abcdef0123456789abcdef"));
    assert_eq!(root.attr("IssueInstant"), Some("2026-05-23T09:14:20Z"));
    assert_eq!(
        root.attr("Destination"),
        Some("https://idp.example.com/sso?tenant=a&x=1")
    );
    assert_eq!(root.attr("ForceAuthn"), Some("true"));
    assert_eq!(root.attr("IsPassive"), None);
    let issuer = root
        .first_child_named(crate::xml::ns::SAML, "Issuer")
        .unwrap();
    assert_eq!(
        issuer.text().unwrap(),
        "https://app.example.com/saml/metadata"
    );
    let policy = root
        .first_child_named(crate::xml::ns::SAMLP, "NameIDPolicy")
        .unwrap();
    assert_eq!(
        policy.attr("Format"),
        Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
    );
    assert!(
        root.first_child_named(crate::xml::ns::SAMLP, "RequestedAuthnContext")
            .is_some()
    );
}

#[test]
fn redirect_binding_inflates_back_to_the_request_and_keeps_the_idp_query() {
    let xml = request().to_xml();
    let url = redirect_url(
        "https://idp.example.com/sso?tenant=a",
        &xml,
        "r3lay/+=",
        None,
    )
    .unwrap();
    assert!(url.starts_with("https://idp.example.com/sso?tenant=a&SAMLRequest="));
    let compressed = B64
        .decode(decode(query_param(&url, "SAMLRequest").unwrap()))
        .unwrap();
    let mut inflated = String::new();
    flate2::read::DeflateDecoder::new(compressed.as_slice())
        .read_to_string(&mut inflated)
        .unwrap();
    assert_eq!(inflated, xml);
    assert_eq!(query_param(&url, "RelayState"), Some("r3lay%2F%2B%3D"));
    assert!(query_param(&url, "Signature").is_none());
}

#[test]
fn redirect_signature_covers_the_query_string_in_binding_order() {
    let rsa = Rsa::generate(2048).unwrap();
    let key = PKey::from_rsa(rsa).unwrap();
    let url = redirect_url("https://idp.example.com/sso", "<x/>", "abc", Some(&key)).unwrap();
    let query = url.split_once('?').unwrap().1;
    let (signed, sig) = query.split_once("&Signature=").unwrap();
    assert!(signed.starts_with("SAMLRequest="));
    assert!(signed.contains("&RelayState=abc&SigAlg="));
    assert_eq!(
        decode(query_param(&url, "SigAlg").unwrap()),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    );
    let signature = B64.decode(decode(sig)).unwrap();
    let public = PKey::public_key_from_pem(&key.public_key_to_pem().unwrap()).unwrap();
    let mut verifier = Verifier::new(MessageDigest::sha256(), &public).unwrap();
    verifier.update(signed.as_bytes()).unwrap();
    assert!(verifier.verify(&signature).unwrap());
}

#[test]
fn redirect_signing_refuses_keys_other_than_rsa_and_ec() {
    let key = PKey::generate_ed25519().unwrap();
    assert!(matches!(
        redirect_url("https://idp/sso", "<x/>", "", Some(&key)),
        Err(RequestError::UnsupportedKey(_))
    ));
}

#[test]
fn post_request_signature_verifies_with_the_project_verifier() {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let signed = sign_for_post(&request().to_xml(), &key, None).unwrap();
    let doc = crate::xml::parse(signed.as_bytes(), &crate::xml::ParseLimits::default()).unwrap();
    let public = PKey::public_key_from_pem(&key.public_key_to_pem().unwrap()).unwrap();
    let vk = crate::crypto::keys::VerificationKey {
        key: public,
        certificate: None,
        description: "sp".into(),
    };
    let verified = crate::crypto::dsig::verify(&doc, doc.root(), std::slice::from_ref(&vk), false);
    assert!(verified.is_ok(), "{verified:?}");
}

#[test]
fn post_form_escapes_the_action_and_relay_state() {
    let page = post_form(
        "https://idp.example.com/sso?a=1&b=\"2\"",
        "<x/>",
        "<script>",
    );
    assert!(page.contains(r#"action="https://idp.example.com/sso?a=1&amp;b=&quot;2&quot;""#));
    assert!(page.contains(r#"name="RelayState" value="&lt;script&gt;""#));
    assert!(page.contains(&format!(
        r#"name="SAMLRequest" value="{}""#,
        B64.encode("<x/>")
    )));
}
