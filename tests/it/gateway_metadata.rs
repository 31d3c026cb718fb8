//! The SP metadata samlgate publishes, validated against the OASIS SAML metadata schema with
//! `xmllint --schema` (Debian's libxml2-utils; run on our own output, never on untrusted input).

use std::process::{Command, ExitCode};

use hyper::StatusCode;
use samlgate::cli::metadata::{MetadataArgs, run_metadata};

use crate::support;
use crate::support::gateway::*;
use crate::support::require_tool;

fn xsd() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/xsd/saml-schema-metadata-2.0.xsd")
}

fn xmllint_validates(file: &std::path::Path) -> (bool, String) {
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--nonet")
        .arg("--schema")
        .arg(xsd())
        .arg(file)
        .output()
        .expect("run xmllint");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn served_metadata_is_valid_against_the_oasis_schema() {
    if !require_tool("xmllint") {
        return;
    }
    let gw = start(Setup::default()).await;
    let mut browser = Browser::new(&gw.base);
    let reply = browser.get("/saml/metadata").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header("content-type"),
        Some("application/samlmetadata+xml")
    );
    let file = gw.dir.path().join("served.xml");
    std::fs::write(&file, &reply.body).unwrap();
    let (ok, stderr) = xmllint_validates(&file);
    assert!(
        ok,
        "xmllint refused the metadata:\n{stderr}\n{}",
        reply.body
    );
    assert!(reply.body.contains(&format!("entityID=\"{SP_ENTITY}\"")));
    assert!(
        reply
            .body
            .contains(&format!("Location=\"{}\"", gw.acs_url()))
    );
    assert!(reply.body.contains("AuthnRequestsSigned=\"true\""));
}

#[tokio::test]
async fn metadata_with_a_next_certificate_is_valid_and_lists_both() {
    if !require_tool("xmllint") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_config(dir.path(), 8443, &Setup::default());
    let next = support::test_idp::make_key_pair("samlgate next SP");
    std::fs::write(dir.path().join("next.crt"), next.cert.to_pem().unwrap()).unwrap();
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "cert = \"sp.crt\"",
        "cert = \"sp.crt\"\nnext_cert = \"next.crt\"",
    );
    std::fs::write(&path, text).unwrap();
    let out = dir.path().join("sp-metadata.xml");
    assert_eq!(
        run_metadata(MetadataArgs {
            config: path,
            out: Some(out.clone())
        }),
        ExitCode::SUCCESS
    );
    let (ok, stderr) = xmllint_validates(&out);
    assert!(ok, "xmllint refused the metadata:\n{stderr}");
    let xml = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        xml.matches("<md:KeyDescriptor use=\"encryption\">").count(),
        2
    );
    assert_eq!(xml.matches("<md:KeyDescriptor use=\"signing\">").count(), 2);
    assert!(xml.contains("http://www.w3.org/2009/xmlenc11#aes256-gcm"));
    assert!(!xml.contains("rsa-1_5"));
}

#[test]
fn the_schema_check_itself_refuses_a_broken_descriptor() {
    if !require_tool("xmllint") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.xml");
    // AssertionConsumerService before KeyDescriptor: wrong order, and no required Location.
    std::fs::write(
        &file,
        concat!(
            "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"x\">",
            "<md:SPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">",
            "<md:AssertionConsumerService Binding=\"b\" index=\"0\"/>",
            "</md:SPSSODescriptor></md:EntityDescriptor>"
        ),
    )
    .unwrap();
    let (ok, _) = xmllint_validates(&file);
    assert!(!ok, "the XSD check must be able to fail");
}

#[tokio::test]
async fn served_metadata_is_signed_with_the_sp_key() {
    let gw = start(Setup::default()).await;
    let mut browser = Browser::new(&gw.base);
    let xml = browser.get("/saml/metadata").await.body;
    let doc = samlgate::xml::parse(xml.as_bytes(), &samlgate::xml::ParseLimits::default()).unwrap();
    let key = samlgate::crypto::keys::VerificationKey::from_certificate(gw.sp_cert.clone(), "sp")
        .unwrap();
    let verified =
        samlgate::crypto::dsig::verify(&doc, doc.root(), std::slice::from_ref(&key), false);
    assert!(verified.is_ok(), "{verified:?}");
    // Another key does not verify it.
    let other = support::test_idp::make_key_pair("other");
    let other =
        samlgate::crypto::keys::VerificationKey::from_certificate(other.cert, "other").unwrap();
    assert!(
        samlgate::crypto::dsig::verify(&doc, doc.root(), std::slice::from_ref(&other), false)
            .is_err()
    );
}
