//! The interop peers themselves, checked before samlgate is tested against them: pysaml2 and
//! Lasso produce SAML responses in each signing and encryption mode they offer; each response
//! must parse with samlgate's strict parser, carry its ds:Signature as a direct child of the
//! element it signs, be accepted by `xmlsec1 --verify` with the IdP certificate, and be
//! canonicalized by samlgate byte for byte as xmlsec1 canonicalizes it.
//!
//! Needs `scripts/install-test-deps`; without it each test prints why and skips (fails under
//! CI=true).

use samlgate::xml::c14n::canonicalize;
use samlgate::xml::{Document, ElementRef, ParseLimits, ns, parse};

use crate::support::peers::{
    self, ASSERTION_XPATH, DataEncryption, Encryption, KeyTransport, Peer, PeerOutput, PeerRequest,
    SigAlg, SignMode,
};

fn strict_parse(xml: &[u8], what: &str) -> Document {
    parse(xml, &ParseLimits::default()).unwrap_or_else(|e| {
        panic!(
            "{what}: samlgate's strict parser refused it: {e}\n{}",
            String::from_utf8_lossy(xml)
        )
    })
}

fn produce(peer: Peer, req: &PeerRequest) -> PeerOutput {
    peers::peer_response(peer, req).unwrap_or_else(|e| panic!("{e}"))
}

fn signatures_in(el: ElementRef<'_>) -> usize {
    el.descendants_and_self()
        .filter(|e| e.is(ns::DS, "Signature"))
        .count()
}

fn the_assertion<'a>(response: ElementRef<'a>) -> ElementRef<'a> {
    response
        .first_child_named(ns::SAML, "Assertion")
        .or_else(|| {
            response
                .first_child_named(ns::SAML, "EncryptedAssertion")
                .and_then(|e| e.first_child_named(ns::SAML, "Assertion"))
        })
        .expect("a saml:Assertion child (or one inside saml:EncryptedAssertion)")
}

/// The enveloped signature of `signed`: a direct child, referring to `signed`'s ID, with the
/// requested algorithm. Returns it.
fn enveloped_signature<'a>(signed: ElementRef<'a>, alg: SigAlg, what: &str) -> ElementRef<'a> {
    let sig = signed
        .first_child_named(ns::DS, "Signature")
        .unwrap_or_else(|| panic!("{what}: no ds:Signature as a direct child of {signed:?}"));
    let signed_info = sig
        .first_child_named(ns::DS, "SignedInfo")
        .expect("ds:SignedInfo");
    let method = signed_info
        .first_child_named(ns::DS, "SignatureMethod")
        .and_then(|m| m.attr("Algorithm"));
    assert_eq!(method, Some(alg.uri()), "{what}: SignatureMethod");
    let references: Vec<_> = signed_info.children_named(ns::DS, "Reference").collect();
    assert_eq!(references.len(), 1, "{what}: one ds:Reference");
    let id = signed.attr("ID").expect("signed element has an ID");
    assert_eq!(
        references[0].attr("URI"),
        Some(format!("#{id}").as_str()),
        "{what}: the Reference points at the element the Signature sits in"
    );
    sig
}

/// The InclusiveNamespaces PrefixList of the Reference's exc-c14n transform, if any.
fn inclusive_prefixes(sig: ElementRef<'_>) -> Vec<String> {
    sig.descendants_and_self()
        .find(|e| e.is(ns::EXC_C14N, "InclusiveNamespaces"))
        .and_then(|e| e.attr("PrefixList"))
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// samlgate's exclusive c14n of the signed element (Signature left out) and of SignedInfo must
/// equal, byte for byte, what xmlsec1 digested and signed.
fn assert_c14n_matches_xmlsec1(
    doc: &Document,
    signed: ElementRef<'_>,
    sig: ElementRef<'_>,
    file: &std::path::Path,
    cert: &std::path::Path,
    xpath: Option<&str>,
    what: &str,
) {
    let oracle = peers::xmlsec1_c14n(file, cert, xpath).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        oracle.verified,
        "{what}: xmlsec1 did not verify the signature"
    );
    assert_eq!(oracle.references.len(), 1, "{what}: one reference digested");
    let ours = canonicalize(doc, signed.id(), Some(sig.id()), &inclusive_prefixes(sig))
        .expect("c14n of the signed element");
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&oracle.references[0]),
        "{what}: canonical form of the signed element differs from xmlsec1's"
    );
    let signed_info = sig
        .first_child_named(ns::DS, "SignedInfo")
        .expect("SignedInfo");
    let ours = canonicalize(doc, signed_info.id(), None, &[]).expect("c14n of SignedInfo");
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&oracle.signed_info),
        "{what}: canonical SignedInfo differs from xmlsec1's"
    );
}

fn check_signing_mode(peer: Peer, sign: SignMode, alg: SigAlg) {
    let what = format!("{} sign={} alg={}", peer.name(), sign.arg(), alg.arg());
    let req = PeerRequest {
        sign,
        sig_alg: alg,
        ..PeerRequest::default()
    };
    let out = produce(peer, &req);
    let doc = strict_parse(&out.xml, &what);
    let response = doc.root();
    assert!(
        response.is(ns::SAMLP, "Response"),
        "{what}: root is samlp:Response"
    );
    assert_eq!(response.attr("Destination"), Some(req.acs_url.as_str()));
    assert_eq!(response.attr("InResponseTo"), req.in_response_to.as_deref());
    let assertion = the_assertion(response);
    let expected = usize::from(sign.signs_assertion()) + usize::from(sign.signs_response());
    assert_eq!(
        signatures_in(response),
        expected,
        "{what}: ds:Signature count"
    );

    if sign.signs_response() {
        let sig = enveloped_signature(response, alg, &what);
        peers::xmlsec1_verify(&out.xml_path(), &out.idp_cert, None)
            .unwrap_or_else(|e| panic!("{what}: response signature: {e}"));
        assert_c14n_matches_xmlsec1(
            &doc,
            response,
            sig,
            &out.xml_path(),
            &out.idp_cert,
            None,
            &format!("{what} (response signature)"),
        );
    } else {
        assert!(response.first_child_named(ns::DS, "Signature").is_none());
    }
    if sign.signs_assertion() {
        let sig = enveloped_signature(assertion, alg, &what);
        peers::xmlsec1_verify(&out.xml_path(), &out.idp_cert, Some(ASSERTION_XPATH))
            .unwrap_or_else(|e| panic!("{what}: assertion signature: {e}"));
        assert_c14n_matches_xmlsec1(
            &doc,
            assertion,
            sig,
            &out.xml_path(),
            &out.idp_cert,
            Some(ASSERTION_XPATH),
            &format!("{what} (assertion signature)"),
        );
    } else {
        assert!(assertion.first_child_named(ns::DS, "Signature").is_none());
    }
}

// ---- signing modes ---------------------------------------------------------------------------

#[test]
fn pysaml2_produces_an_unsigned_response_samlgate_parses() {
    if peers::require(Peer::Pysaml2) {
        check_signing_mode(Peer::Pysaml2, SignMode::None, SigAlg::RsaSha256);
    }
}

#[test]
fn pysaml2_signs_the_assertion_with_an_enveloped_signature_xmlsec1_accepts() {
    if peers::require(Peer::Pysaml2) {
        check_signing_mode(Peer::Pysaml2, SignMode::Assertion, SigAlg::RsaSha256);
    }
}

#[test]
fn pysaml2_signs_the_response_with_an_enveloped_signature_xmlsec1_accepts() {
    if peers::require(Peer::Pysaml2) {
        check_signing_mode(Peer::Pysaml2, SignMode::Response, SigAlg::RsaSha256);
    }
}

#[test]
fn pysaml2_signs_both_response_and_assertion() {
    if peers::require(Peer::Pysaml2) {
        check_signing_mode(Peer::Pysaml2, SignMode::Both, SigAlg::RsaSha256);
    }
}

#[test]
fn pysaml2_signs_with_rsa_sha1_and_rsa_sha512_on_request() {
    if peers::require(Peer::Pysaml2) {
        check_signing_mode(Peer::Pysaml2, SignMode::Both, SigAlg::RsaSha1);
        check_signing_mode(Peer::Pysaml2, SignMode::Both, SigAlg::RsaSha512);
    }
}

#[test]
fn lasso_produces_an_unsigned_response_samlgate_parses() {
    if peers::require(Peer::Lasso) {
        check_signing_mode(Peer::Lasso, SignMode::None, SigAlg::RsaSha256);
    }
}

#[test]
fn lasso_signs_the_assertion_with_an_enveloped_signature_xmlsec1_accepts() {
    if peers::require(Peer::Lasso) {
        check_signing_mode(Peer::Lasso, SignMode::Assertion, SigAlg::RsaSha256);
    }
}

#[test]
fn lasso_signs_the_response_with_an_enveloped_signature_xmlsec1_accepts() {
    if peers::require(Peer::Lasso) {
        check_signing_mode(Peer::Lasso, SignMode::Response, SigAlg::RsaSha256);
    }
}

#[test]
fn lasso_signs_both_response_and_assertion() {
    if peers::require(Peer::Lasso) {
        check_signing_mode(Peer::Lasso, SignMode::Both, SigAlg::RsaSha256);
    }
}

#[test]
fn lasso_signs_with_rsa_sha1_and_rsa_sha512_on_request() {
    if peers::require(Peer::Lasso) {
        check_signing_mode(Peer::Lasso, SignMode::Both, SigAlg::RsaSha1);
        check_signing_mode(Peer::Lasso, SignMode::Both, SigAlg::RsaSha512);
    }
}

// ---- the oracle itself -----------------------------------------------------------------------

#[test]
fn xmlsec1_oracle_refuses_a_signature_checked_against_another_certificate() {
    if !peers::require(Peer::Pysaml2) {
        return;
    }
    let out = produce(Peer::Pysaml2, &PeerRequest::default());
    let (_, other_cert) = peers::sp_key_pair().expect("SP key pair");
    assert!(peers::xmlsec1_verify(&out.xml_path(), &other_cert, Some(ASSERTION_XPATH)).is_err());
    let oracle = peers::xmlsec1_c14n(&out.xml_path(), &other_cert, Some(ASSERTION_XPATH))
        .expect("oracle runs");
    assert!(!oracle.verified);
}

#[test]
fn xmlsec1_oracle_refuses_a_response_altered_after_signing() {
    if !peers::require(Peer::Lasso) {
        return;
    }
    let out = produce(Peer::Lasso, &PeerRequest::default());
    let xml = String::from_utf8(out.xml.clone()).expect("utf-8");
    assert!(xml.contains("alice@example.org"));
    let altered = out.dir.path().join("altered.xml");
    std::fs::write(
        &altered,
        xml.replace("alice@example.org", "mallory@example.org"),
    )
    .expect("write");
    assert!(peers::xmlsec1_verify(&altered, &out.idp_cert, Some(ASSERTION_XPATH)).is_err());
}

// ---- request binding, metadata ----------------------------------------------------------------

fn check_unsolicited(peer: Peer) {
    let req = PeerRequest {
        in_response_to: None,
        ..PeerRequest::default()
    };
    let out = produce(peer, &req);
    let doc = strict_parse(&out.xml, peer.name());
    assert!(
        doc.root()
            .descendants_and_self()
            .all(|e| e.attr("InResponseTo").is_none()),
        "{}: an unsolicited response carries no InResponseTo",
        peer.name()
    );
}

#[test]
fn pysaml2_unsolicited_response_has_no_in_response_to() {
    if peers::require(Peer::Pysaml2) {
        check_unsolicited(Peer::Pysaml2);
    }
}

#[test]
fn lasso_unsolicited_response_has_no_in_response_to() {
    if peers::require(Peer::Lasso) {
        check_unsolicited(Peer::Lasso);
    }
}

fn pem_body(path: &std::path::Path) -> String {
    std::fs::read_to_string(path)
        .expect("read cert")
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect()
}

fn check_metadata(peer: Peer) {
    let req = PeerRequest::default();
    let out = produce(peer, &req);
    let md = std::fs::read(&out.idp_metadata).expect("metadata written");
    let doc = parse(&md, &ParseLimits::metadata()).expect("metadata parses strictly");
    let ed = doc.root();
    assert!(ed.is(ns::MD, "EntityDescriptor"));
    assert_eq!(ed.attr("entityID"), Some(req.idp_entity_id.as_str()));
    let idp = ed
        .first_child_named(ns::MD, "IDPSSODescriptor")
        .expect("IDPSSODescriptor");
    let certs: Vec<String> = idp
        .descendants_and_self()
        .filter(|e| e.is(ns::DS, "X509Certificate"))
        .map(|e| e.text().expect("text").split_whitespace().collect())
        .collect();
    assert!(
        certs.contains(&pem_body(&out.idp_cert)),
        "{}: the metadata names the certificate the IdP signs with",
        peer.name()
    );
}

#[test]
fn pysaml2_metadata_parses_and_names_the_signing_certificate() {
    if peers::require(Peer::Pysaml2) {
        check_metadata(Peer::Pysaml2);
    }
}

#[test]
fn lasso_metadata_parses_and_names_the_signing_certificate() {
    if peers::require(Peer::Lasso) {
        check_metadata(Peer::Lasso);
    }
}

// ---- encryption --------------------------------------------------------------------------------

fn encryption_method(el: ElementRef<'_>) -> Option<&str> {
    el.first_child_named(ns::XENC, "EncryptionMethod")
        .and_then(|m| m.attr("Algorithm"))
}

fn check_encryption(peer: Peer, data: DataEncryption, key_transport: KeyTransport) {
    let what = format!(
        "{} encrypt={} key-transport={}",
        peer.name(),
        data.arg(),
        key_transport.arg()
    );
    let (sp_key, sp_cert) = peers::sp_key_pair().expect("SP key pair");
    let req = PeerRequest {
        sign: SignMode::Both,
        encrypt: Some(Encryption {
            data,
            key_transport,
            sp_cert,
        }),
        ..PeerRequest::default()
    };
    let out = produce(peer, &req);
    let doc = strict_parse(&out.xml, &what);
    let response = doc.root();
    assert!(response.first_child_named(ns::SAML, "Assertion").is_none());
    let encrypted = response
        .first_child_named(ns::SAML, "EncryptedAssertion")
        .unwrap_or_else(|| panic!("{what}: no saml:EncryptedAssertion"));
    let data_el = encrypted
        .first_child_named(ns::XENC, "EncryptedData")
        .unwrap_or_else(|| panic!("{what}: no xenc:EncryptedData"));
    assert_eq!(encryption_method(data_el), Some(data.uri()), "{what}");
    let key_el = encrypted
        .descendants_and_self()
        .find(|e| e.is(ns::XENC, "EncryptedKey"))
        .unwrap_or_else(|| panic!("{what}: no xenc:EncryptedKey"));
    assert_eq!(
        encryption_method(key_el),
        Some(key_transport.uri()),
        "{what}"
    );
    enveloped_signature(response, req.sig_alg, &what);
    peers::xmlsec1_verify(&out.xml_path(), &out.idp_cert, None)
        .unwrap_or_else(|e| panic!("{what}: response signature over the ciphertext: {e}"));

    let plain =
        peers::xmlsec1_decrypt(&out.xml_path(), &sp_key).unwrap_or_else(|e| panic!("{what}: {e}"));
    let plain_path = out.dir.path().join("decrypted.xml");
    std::fs::write(&plain_path, &plain).expect("write");
    let plain_doc = strict_parse(&plain, &format!("{what} (decrypted)"));
    let assertion = the_assertion(plain_doc.root());
    let name_id = assertion
        .descendants_and_self()
        .find(|e| e.is(ns::SAML, "NameID"))
        .and_then(|e| e.text().ok());
    assert_eq!(name_id.as_deref(), Some(req.name_id.as_str()), "{what}");
    enveloped_signature(assertion, req.sig_alg, &what);
    peers::xmlsec1_verify(&plain_path, &out.idp_cert, Some(ASSERTION_XPATH))
        .unwrap_or_else(|e| panic!("{what}: decrypted assertion's signature: {e}"));
}

/// Both key transports for one data encryption algorithm.
fn check_data_encryption(peer: Peer, data: DataEncryption) {
    assert!(peer.data_encryptions().contains(&data));
    for key_transport in KeyTransport::ALL {
        check_encryption(peer, data, key_transport);
    }
}

#[test]
fn pysaml2_encrypts_the_signed_assertion_with_aes128_cbc_under_either_key_transport() {
    if peers::require(Peer::Pysaml2) {
        check_data_encryption(Peer::Pysaml2, DataEncryption::Aes128Cbc);
    }
}

#[test]
fn pysaml2_encrypts_the_signed_assertion_with_aes192_cbc_under_either_key_transport() {
    if peers::require(Peer::Pysaml2) {
        check_data_encryption(Peer::Pysaml2, DataEncryption::Aes192Cbc);
    }
}

#[test]
fn pysaml2_encrypts_the_signed_assertion_with_aes256_cbc_under_either_key_transport() {
    if peers::require(Peer::Pysaml2) {
        check_data_encryption(Peer::Pysaml2, DataEncryption::Aes256Cbc);
    }
}

#[test]
fn pysaml2_encrypts_the_signed_assertion_with_aes128_gcm_under_either_key_transport() {
    if peers::require(Peer::Pysaml2) {
        check_data_encryption(Peer::Pysaml2, DataEncryption::Aes128Gcm);
    }
}

#[test]
fn pysaml2_encrypts_the_signed_assertion_with_aes256_gcm_under_either_key_transport() {
    if peers::require(Peer::Pysaml2) {
        check_data_encryption(Peer::Pysaml2, DataEncryption::Aes256Gcm);
    }
}

#[test]
fn pysaml2_encrypts_the_signed_assertion_with_tripledes_cbc_under_either_key_transport() {
    if peers::require(Peer::Pysaml2) {
        check_data_encryption(Peer::Pysaml2, DataEncryption::TripleDesCbc);
    }
}

#[test]
fn lasso_encrypts_the_signed_assertion_with_aes128_cbc_under_either_key_transport() {
    if peers::require(Peer::Lasso) {
        check_data_encryption(Peer::Lasso, DataEncryption::Aes128Cbc);
    }
}

#[test]
fn lasso_encrypts_the_signed_assertion_with_aes256_cbc_under_either_key_transport() {
    if peers::require(Peer::Lasso) {
        check_data_encryption(Peer::Lasso, DataEncryption::Aes256Cbc);
    }
}

#[test]
fn lasso_encrypts_the_signed_assertion_with_tripledes_cbc_under_either_key_transport() {
    if peers::require(Peer::Lasso) {
        check_data_encryption(Peer::Lasso, DataEncryption::TripleDesCbc);
    }
}

#[test]
fn lasso_encrypts_an_unsigned_assertion_under_a_signed_response() {
    if !peers::require(Peer::Lasso) {
        return;
    }
    let (sp_key, sp_cert) = peers::sp_key_pair().expect("SP key pair");
    let req = PeerRequest {
        sign: SignMode::Response,
        encrypt: Some(Encryption {
            data: DataEncryption::Aes256Cbc,
            key_transport: KeyTransport::RsaOaepMgf1p,
            sp_cert,
        }),
        ..PeerRequest::default()
    };
    let out = produce(Peer::Lasso, &req);
    strict_parse(&out.xml, "lasso sign=response encrypted");
    peers::xmlsec1_verify(&out.xml_path(), &out.idp_cert, None).expect("response signature");
    let plain = peers::xmlsec1_decrypt(&out.xml_path(), &sp_key).expect("decrypts");
    let plain_doc = strict_parse(&plain, "lasso sign=response decrypted");
    let assertion = the_assertion(plain_doc.root());
    assert_eq!(
        signatures_in(assertion),
        0,
        "the assertion itself is unsigned"
    );
}
