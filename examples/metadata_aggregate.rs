//! A federation-sized signed aggregate: 5,000 IdP entities (about 60 MB), generated here and
//! signed by Debian's `xmlsec1 --sign`, then loaded the way a `metadata_url` refresh loads it:
//! parse, check the enveloped signature with the pinned certificate, pick one IdP by entityID.
//! Prints the time of each step (median of the runs) and the process's peak RSS.
//!
//! Run: `cargo run --release --example metadata_aggregate [ENTITIES] [RUNS]` (needs xmlsec1).

use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use samlgate::crypto::dsig;
use samlgate::crypto::keys::VerificationKey;
use samlgate::saml::metadata::{idp_in_document, parse_metadata_document};
use samlgate::saml::metadata_trust::trust_metadata;

#[path = "../tests/it/support/test_idp.rs"]
#[allow(dead_code)]
mod test_idp;

/// Filler as federations carry it: UI descriptions, organisation, contacts, scopes.
fn entity(i: usize, cert_b64: &str) -> String {
    let description = "A university identity provider for students and staff, with single sign-on to library, \
        learning and research services; operated by the campus IT department under the federation's policy. "
        .repeat(40);
    format!(
        concat!(
            "<md:EntityDescriptor entityID=\"https://idp{i}.example.edu/idp/shibboleth\">",
            "<md:Extensions><mdrpi:RegistrationInfo xmlns:mdrpi=\"urn:oasis:names:tc:SAML:metadata:rpi\" ",
            "registrationAuthority=\"https://federation.example.org\" registrationInstant=\"2020-01-01T00:00:00Z\"/>",
            "</md:Extensions>",
            "<md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">",
            "<md:Extensions><mdui:UIInfo xmlns:mdui=\"urn:oasis:names:tc:SAML:metadata:ui\">",
            "<mdui:DisplayName xml:lang=\"en\">Example University {i}</mdui:DisplayName>",
            "<mdui:Description xml:lang=\"en\">{description}</mdui:Description>",
            "<mdui:InformationURL xml:lang=\"en\">https://www{i}.example.edu/it/sso</mdui:InformationURL>",
            "</mdui:UIInfo></md:Extensions>",
            "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}",
            "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
            "<md:KeyDescriptor use=\"encryption\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}",
            "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
            "<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>",
            "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" ",
            "Location=\"https://idp{i}.example.edu/idp/profile/SAML2/Redirect/SSO\"/>",
            "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" ",
            "Location=\"https://idp{i}.example.edu/idp/profile/SAML2/POST/SSO\"/>",
            "</md:IDPSSODescriptor>",
            "<md:Organization><md:OrganizationName xml:lang=\"en\">Example University {i}</md:OrganizationName>",
            "<md:OrganizationDisplayName xml:lang=\"en\">Example University {i}</md:OrganizationDisplayName>",
            "<md:OrganizationURL xml:lang=\"en\">https://www{i}.example.edu/</md:OrganizationURL></md:Organization>",
            "<md:ContactPerson contactType=\"technical\"><md:GivenName>IT</md:GivenName>",
            "<md:EmailAddress>mailto:sso@idp{i}.example.edu</md:EmailAddress></md:ContactPerson>",
            "</md:EntityDescriptor>\n"
        ),
        i = i,
        description = description,
        cert = cert_b64,
    )
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5000);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let dir = tempfile::tempdir().expect("temp dir");
    let federation = test_idp::make_key_pair("benchmark federation signer");
    let idp = test_idp::make_key_pair("benchmark IdP");
    let cert_b64 = base64::engine::general_purpose::STANDARD.encode(idp.cert.to_der().unwrap());

    let started = Instant::now();
    let mut xml = String::from(concat!(
        "<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" ",
        "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" ID=\"_aggregate\" ",
        "validUntil=\"2099-01-01T00:00:00Z\" Name=\"https://federation.example.org\">",
        "<ds:Signature><ds:SignedInfo>",
        "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
        "<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>",
        "<ds:Reference URI=\"#_aggregate\"><ds:Transforms>",
        "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>",
        "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>",
        "<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>",
        "<ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature>\n"
    ));
    for i in 0..count {
        xml.push_str(&entity(i, &cert_b64));
    }
    xml.push_str("</md:EntitiesDescriptor>\n");
    std::fs::write(dir.path().join("template.xml"), &xml).unwrap();
    std::fs::write(
        dir.path().join("key.pem"),
        federation.key.private_key_to_pem_pkcs8().unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("cert.pem"),
        federation.cert.to_pem().unwrap(),
    )
    .unwrap();
    drop(xml);
    let out = Command::new("xmlsec1")
        .current_dir(dir.path())
        .args([
            "--sign",
            "--privkey-pem",
            "key.pem,cert.pem",
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:metadata:EntitiesDescriptor",
            "--output",
            "signed.xml",
            "template.xml",
        ])
        .output()
        .expect("xmlsec1 (Debian package xmlsec1)");
    assert!(
        out.status.success(),
        "xmlsec1 --sign: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signed = std::fs::read(dir.path().join("signed.xml")).unwrap();
    println!(
        "aggregate: {count} entities, {:.1} MB, generated and signed by xmlsec1 in {:.1} s",
        signed.len() as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    let rss_before = peak_rss_mib();

    let pinned =
        vec![VerificationKey::from_certificate(federation.cert.clone(), "federation").unwrap()];
    let wanted = format!("https://idp{}.example.edu/idp/shibboleth", count - 1);
    let (mut parse, mut verify, mut pick, mut whole) = (vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        let t = Instant::now();
        let doc = parse_metadata_document(&signed, "aggregate").expect("parses");
        parse.push(t.elapsed());
        let t = Instant::now();
        dsig::verify(&doc, doc.root(), &pinned, false).expect("signature verifies");
        verify.push(t.elapsed());
        let t = Instant::now();
        let idp = idp_in_document(&doc, "aggregate", Some(&wanted)).expect("entity found");
        pick.push(t.elapsed());
        assert_eq!(idp.entity_id, wanted);
        drop(doc);
        let t = Instant::now();
        let trusted =
            trust_metadata(&signed, "aggregate", Some(&wanted), &pinned).expect("trusted");
        whole.push(t.elapsed());
        assert_eq!(trusted.idp.entity_id, wanted);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "median of {runs}: parse {:.0} ms, signature (c14n + SHA-256 + RSA) {:.0} ms, pick the last entity {:.1} ms; \
         the whole load (trust_metadata) {:.0} ms",
        ms(median(parse)),
        ms(median(verify)),
        ms(median(pick)),
        ms(median(whole))
    );
    println!(
        "peak RSS: {:.0} MiB (of which {:.0} MiB before loading: the generated document and its signed copy)",
        peak_rss_mib(),
        rss_before
    );
}
