//! xmlsec1 (libxmlsec1 over OpenSSL, what most SAML stacks sit on) as an independent oracle for
//! our XML-DSig: what we sign, it verifies; what it signs, we verify. The test parses nothing
//! with xmlsec itself in the gateway: it only runs the command-line tool on files.
//!
//! Without xmlsec1 (Debian package `xmlsec1`) the tests print why and pass, except when CI=true,
//! where they fail. xmlsec1 1.2.x has no RSA-PSS, so PSS is checked against the `openssl`
//! command line in `crypto::primitive` instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};

use samlgate::crypto::dsig::{self, SignatureError, VerifiedSignature};
use samlgate::crypto::sign::sign_enveloped;
use samlgate::crypto::{DigestAlgorithm, SignatureAlgorithm, VerificationKey};
use samlgate::xml::{ParseLimits, parse};

use crate::support;

const ASSERTION_NODE: &str = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion";
const RESPONSE_NODE: &str = "urn:oasis:names:tc:SAML:2.0:protocol:Response";

/// A Response whose AttributeValue uses `xs:string` with `xs` declared on the Response: the
/// prefix only appears in attribute content, so exclusive c14n keeps it only when it is listed
/// in InclusiveNamespaces (as Shibboleth and ADFS list it).
const RESPONSE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="_resp1" Version="2.0" IssueInstant="2026-11-22T12:00:00Z" Destination="https://sp.example.com/saml/acs">
  <saml:Issuer>https://idp.example.com</saml:Issuer>
  <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
  <saml:Assertion ID="_assert1" Version="2.0" IssueInstant="2026-11-22T12:00:00Z">
    <saml:Issuer>https://idp.example.com</saml:Issuer>{SIGNATURE}
    <saml:Subject>
      <saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">alice@example.com</saml:NameID>
    </saml:Subject>
    <saml:AttributeStatement>
      <saml:Attribute Name="groups"><saml:AttributeValue xsi:type="xs:string">staff &amp; ops</saml:AttributeValue></saml:Attribute>
    </saml:AttributeStatement>
  </saml:Assertion>
</samlp:Response>
"#;

fn unsigned_response() -> String {
    RESPONSE.replace("{SIGNATURE}", "")
}

fn xmlsec1() -> Option<PathBuf> {
    support::tool("xmlsec1")
}

fn rsa_key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
}

fn ec_key(nid: Nid) -> PKey<Private> {
    PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(nid).unwrap()).unwrap()).unwrap()
}

fn self_signed(key: &PKey<Private>) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "idp.example.com").unwrap();
    let name = name.build();
    let mut builder = X509::builder().unwrap();
    builder.set_version(2).unwrap();
    builder
        .set_serial_number(&BigNum::from_u32(7).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(key).unwrap();
    builder
        .set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    builder.sign(key, MessageDigest::sha256()).unwrap();
    builder.build()
}

/// Run xmlsec1 with `args` in `dir`; returns (success, combined output).
fn run_xmlsec(xmlsec: &Path, dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(xmlsec)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// xmlsec1's verdict on `xml`, with the certificate as the only key.
fn xmlsec_verifies(xmlsec: &Path, xml: &str, cert: &X509, node: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.to_pem().unwrap()).unwrap();
    std::fs::write(dir.path().join("doc.xml"), xml).unwrap();
    run_xmlsec(
        xmlsec,
        dir.path(),
        &[
            "--verify",
            "--pubkey-cert-pem",
            "cert.pem",
            "--id-attr:ID",
            node,
            "doc.xml",
        ],
    )
}

/// Sign `template` (a document holding a Signature template) with xmlsec1.
fn xmlsec_sign(
    xmlsec: &Path,
    template: &str,
    key: &PKey<Private>,
    cert: &X509,
    node: &str,
) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("key.pem"),
        key.private_key_to_pem_pkcs8().unwrap(),
    )
    .unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.to_pem().unwrap()).unwrap();
    std::fs::write(dir.path().join("tmpl.xml"), template).unwrap();
    let (ok, output) = run_xmlsec(
        xmlsec,
        dir.path(),
        &[
            "--sign",
            "--privkey-pem",
            "key.pem,cert.pem",
            "--id-attr:ID",
            node,
            "--output",
            "signed.xml",
            "tmpl.xml",
        ],
    );
    assert!(ok, "xmlsec1 --sign failed: {output}");
    std::fs::read_to_string(dir.path().join("signed.xml")).unwrap()
}

fn our_verify(xml: &str, id: &str, cert: &X509) -> Result<VerifiedSignature, SignatureError> {
    let keys = [VerificationKey::from_certificate(cert.clone(), "oracle test").unwrap()];
    let doc = parse(xml.as_bytes(), &ParseLimits::default()).unwrap();
    let element = doc.elements().find(|e| e.attr("ID") == Some(id)).unwrap();
    dsig::verify(&doc, element, &keys, false)
}

fn key_for(algorithm: SignatureAlgorithm) -> PKey<Private> {
    match algorithm {
        SignatureAlgorithm::EcdsaSha256 => ec_key(Nid::X9_62_PRIME256V1),
        SignatureAlgorithm::EcdsaSha384 => ec_key(Nid::SECP384R1),
        SignatureAlgorithm::EcdsaSha512 => ec_key(Nid::SECP521R1),
        _ => rsa_key(),
    }
}

/// The algorithms xmlsec1 1.2 implements from our allow-list (all but RSA-PSS).
const ORACLE_CASES: [(SignatureAlgorithm, DigestAlgorithm); 6] = [
    (SignatureAlgorithm::RsaSha256, DigestAlgorithm::Sha256),
    (SignatureAlgorithm::RsaSha384, DigestAlgorithm::Sha384),
    (SignatureAlgorithm::RsaSha512, DigestAlgorithm::Sha512),
    (SignatureAlgorithm::EcdsaSha256, DigestAlgorithm::Sha256),
    (SignatureAlgorithm::EcdsaSha384, DigestAlgorithm::Sha384),
    (SignatureAlgorithm::EcdsaSha512, DigestAlgorithm::Sha512),
];

#[test]
fn xmlsec1_verifies_our_signed_assertion() {
    let Some(xmlsec) = xmlsec1() else { return };
    for (algorithm, digest) in ORACLE_CASES {
        let key = key_for(algorithm);
        let cert = self_signed(&key);
        let signed = sign_enveloped(
            &unsigned_response(),
            Some("_assert1"),
            &key,
            None,
            algorithm,
            digest,
        )
        .unwrap();
        let (ok, output) = xmlsec_verifies(&xmlsec, &signed, &cert, ASSERTION_NODE);
        assert!(
            ok,
            "xmlsec1 refused our {algorithm}/{digest} Assertion signature: {output}\n{signed}"
        );
    }
}

#[test]
fn xmlsec1_verifies_our_signed_response_with_key_info() {
    let Some(xmlsec) = xmlsec1() else { return };
    let key = rsa_key();
    let cert = self_signed(&key);
    let signed = sign_enveloped(
        &unsigned_response(),
        None,
        &key,
        Some(&cert),
        SignatureAlgorithm::RsaSha256,
        DigestAlgorithm::Sha256,
    )
    .unwrap();
    let (ok, output) = xmlsec_verifies(&xmlsec, &signed, &cert, RESPONSE_NODE);
    assert!(
        ok,
        "xmlsec1 refused our Response signature: {output}\n{signed}"
    );
}

#[test]
fn xmlsec1_refuses_our_signature_after_tampering() {
    // The oracle must be able to say no, or its yes above means nothing.
    let Some(xmlsec) = xmlsec1() else { return };
    let key = rsa_key();
    let cert = self_signed(&key);
    let signed = sign_enveloped(
        &unsigned_response(),
        Some("_assert1"),
        &key,
        None,
        SignatureAlgorithm::RsaSha256,
        DigestAlgorithm::Sha256,
    )
    .unwrap();
    let tampered = signed.replace("alice@example.com", "admin@example.com");
    let (ok, _) = xmlsec_verifies(&xmlsec, &tampered, &cert, ASSERTION_NODE);
    assert!(!ok, "xmlsec1 accepted a tampered document");
}

/// A Signature template as IdPs lay it out: indented, InclusiveNamespaces on the c14n
/// transform, KeyInfo for xmlsec1 to fill with the certificate.
fn template(
    reference: &str,
    algorithm: SignatureAlgorithm,
    digest: DigestAlgorithm,
    prefix_list: &str,
) -> String {
    let signature = format!(
        r##"
    <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
      <ds:SignedInfo>
        <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
        <ds:SignatureMethod Algorithm="{sig}"/>
        <ds:Reference URI="#{reference}">
          <ds:Transforms>
            <ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
            <ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#">
              <ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="{prefix_list}"/>
            </ds:Transform>
          </ds:Transforms>
          <ds:DigestMethod Algorithm="{dig}"/>
          <ds:DigestValue></ds:DigestValue>
        </ds:Reference>
      </ds:SignedInfo>
      <ds:SignatureValue></ds:SignatureValue>
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate></ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </ds:Signature>"##,
        sig = algorithm.uri(),
        dig = digest.uri(),
    );
    RESPONSE.replace("{SIGNATURE}", &signature)
}

#[test]
fn we_verify_assertions_signed_by_xmlsec1() {
    let Some(xmlsec) = xmlsec1() else { return };
    for (algorithm, digest) in ORACLE_CASES {
        let key = key_for(algorithm);
        let cert = self_signed(&key);
        let signed = xmlsec_sign(
            &xmlsec,
            &template("_assert1", algorithm, digest, "xs"),
            &key,
            &cert,
            ASSERTION_NODE,
        );
        assert!(
            !signed.contains("<ds:SignatureValue></ds:SignatureValue>"),
            "{signed}"
        );
        let verified = our_verify(&signed, "_assert1", &cert).unwrap_or_else(|e| {
            panic!("we refused xmlsec1's {algorithm}/{digest} signature: {e}\n{signed}")
        });
        assert_eq!(verified.signature_algorithm, algorithm);
        assert_eq!(verified.digest_algorithm, digest);
    }
}

#[test]
fn we_verify_xmlsec1_signatures_whose_prefix_list_is_empty_or_default() {
    let Some(xmlsec) = xmlsec1() else { return };
    let key = rsa_key();
    let cert = self_signed(&key);
    for prefix_list in ["", "#default saml", "xs xsi saml"] {
        let signed = xmlsec_sign(
            &xmlsec,
            &template(
                "_assert1",
                SignatureAlgorithm::RsaSha256,
                DigestAlgorithm::Sha256,
                prefix_list,
            ),
            &key,
            &cert,
            ASSERTION_NODE,
        );
        our_verify(&signed, "_assert1", &cert)
            .unwrap_or_else(|e| panic!("PrefixList {prefix_list:?}: {e}\n{signed}"));
    }
}

#[test]
fn refuses_xmlsec1_signed_assertion_after_tampering() {
    let Some(xmlsec) = xmlsec1() else { return };
    let key = rsa_key();
    let cert = self_signed(&key);
    let signed = xmlsec_sign(
        &xmlsec,
        &template(
            "_assert1",
            SignatureAlgorithm::RsaSha256,
            DigestAlgorithm::Sha256,
            "xs",
        ),
        &key,
        &cert,
        ASSERTION_NODE,
    );
    our_verify(&signed, "_assert1", &cert).unwrap();
    let tampered = signed.replace("alice@example.com", "admin@example.com");
    assert_eq!(
        our_verify(&tampered, "_assert1", &cert).unwrap_err().kind(),
        "signature_digest_mismatch"
    );
    // Dropping `xs` from the PrefixList changes what the digest covers.
    let unlisted = signed.replace(r#"PrefixList="xs""#, r#"PrefixList="""#);
    assert_eq!(
        our_verify(&unlisted, "_assert1", &cert).unwrap_err().kind(),
        "signature_digest_mismatch"
    );
}

#[test]
fn refuses_xmlsec1_signature_checked_with_another_key() {
    let Some(xmlsec) = xmlsec1() else { return };
    let key = rsa_key();
    let cert = self_signed(&key);
    let signed = xmlsec_sign(
        &xmlsec,
        &template(
            "_assert1",
            SignatureAlgorithm::RsaSha256,
            DigestAlgorithm::Sha256,
            "xs",
        ),
        &key,
        &cert,
        ASSERTION_NODE,
    );
    // KeyInfo carries the signer's certificate; we must not use it.
    assert!(signed.contains("<ds:X509Certificate>MII"), "{signed}");
    let other = self_signed(&rsa_key());
    assert_eq!(
        our_verify(&signed, "_assert1", &other).unwrap_err().kind(),
        "signature_no_key_verified"
    );
}

#[test]
fn refuses_xpath_transform_that_xmlsec1_itself_accepts() {
    // The XPath filter form of enveloped-signature is valid XML-DSig (xmlsec1 signs and
    // verifies it) but is outside the SAML profile: we refuse it by name.
    let Some(xmlsec) = xmlsec1() else { return };
    let key = rsa_key();
    let cert = self_signed(&key);
    let xpath = "http://www.w3.org/TR/1999/REC-xpath-19991116";
    let tmpl = template("_assert1", SignatureAlgorithm::RsaSha256, DigestAlgorithm::Sha256, "xs").replace(
        r#"<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>"#,
        &format!(
            r#"<ds:Transform Algorithm="{xpath}"><ds:XPath>not(ancestor-or-self::ds:Signature)</ds:XPath></ds:Transform>"#
        ),
    );
    let signed = xmlsec_sign(&xmlsec, &tmpl, &key, &cert, ASSERTION_NODE);
    let (ok, output) = xmlsec_verifies(&xmlsec, &signed, &cert, ASSERTION_NODE);
    assert!(
        ok,
        "xmlsec1 should accept its own XPath signature: {output}"
    );
    let err = our_verify(&signed, "_assert1", &cert).unwrap_err();
    assert_eq!(
        err,
        SignatureError::UnexpectedTransform {
            position: 1,
            uri: xpath.to_string()
        }
    );
}

#[test]
fn we_verify_xmlsec1_signatures_with_inclusive_namespaces_on_signed_info() {
    // The PrefixList on CanonicalizationMethod pulls in-scope declarations (here xs, xsi, saml
    // from the Response) into the canonical SignedInfo, so both sides must agree on it.
    let Some(xmlsec) = xmlsec1() else { return };
    let key = rsa_key();
    let cert = self_signed(&key);
    let tmpl = template("_assert1", SignatureAlgorithm::RsaSha256, DigestAlgorithm::Sha256, "xs").replace(
        r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#,
        r##"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"><ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="xs xsi saml #default"/></ds:CanonicalizationMethod>"##,
    );
    let signed = xmlsec_sign(&xmlsec, &tmpl, &key, &cert, ASSERTION_NODE);
    our_verify(&signed, "_assert1", &cert).unwrap_or_else(|e| panic!("{e}\n{signed}"));
    // Without the list the canonical SignedInfo differs, so the signature no longer verifies.
    let unlisted = signed.replace(r#"PrefixList="xs xsi saml #default""#, r#"PrefixList="""#);
    assert_eq!(
        our_verify(&unlisted, "_assert1", &cert).unwrap_err().kind(),
        "signature_no_key_verified"
    );
}

#[test]
fn xmlsec1_verifies_our_signed_sp_metadata() {
    let Some(xmlsec) = xmlsec1() else { return };
    let key = ec_key(Nid::X9_62_PRIME256V1);
    let cert = self_signed(&key);
    let metadata = r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ID="_sp-metadata" entityID="https://sp.example.com">
  <md:SPSSODescriptor AuthnRequestsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example.com/saml/acs" index="0"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#;
    let signed = sign_enveloped(
        metadata,
        None,
        &key,
        Some(&cert),
        SignatureAlgorithm::EcdsaSha256,
        DigestAlgorithm::Sha256,
    )
    .unwrap();
    let (ok, output) = xmlsec_verifies(
        &xmlsec,
        &signed,
        &cert,
        "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor",
    );
    assert!(
        ok,
        "xmlsec1 refused our signed metadata: {output}\n{signed}"
    );
}
