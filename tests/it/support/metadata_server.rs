//! IdP metadata as a federation publishes it: written for given signing certificates, signed by
//! Debian's `xmlsec1 --sign` (a signer samlgate did not write), served by Python's
//! `http.server` from a folder the test rewrites.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use openssl::x509::X509;
use time::OffsetDateTime;

use crate::support::test_idp::KeyPair;

/// The enveloped signature template xmlsec1 fills: exclusive c14n, RSA-SHA256, one Reference to
/// the root's ID.
fn signature_template(id: &str) -> String {
    format!(
        concat!(
            "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>",
            "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
            "<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>",
            "<ds:Reference URI=\"#{id}\"><ds:Transforms>",
            "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>",
            "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>",
            "<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>",
            "<ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature>"
        ),
        id = id
    )
}

/// One IdP's `EntityDescriptor` (without namespace declarations of its own when `nested`).
pub fn entity_descriptor(entity_id: &str, certs: &[&X509], sso_url: &str) -> String {
    let keys: String = certs
        .iter()
        .map(|c| {
            format!(
                "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
                B64.encode(c.to_der().unwrap())
            )
        })
        .collect();
    format!(
        concat!(
            "<md:EntityDescriptor entityID=\"{entity}\">",
            "<md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">",
            "{keys}<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"{sso}\"/>",
            "</md:IDPSSODescriptor></md:EntityDescriptor>"
        ),
        entity = entity_id,
        keys = keys,
        sso = sso_url,
    )
}

/// A metadata document with `ID`, `validUntil` and an unsigned signature template as the root's
/// first child. `body` is one EntityDescriptor (it becomes the root) or several (wrapped in an
/// EntitiesDescriptor).
pub fn document(id: &str, valid_until: OffsetDateTime, entities: &[String]) -> String {
    let until = samlgate::saml::time::format_instant(valid_until);
    let ns = "xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"";
    match entities {
        [one] => one
            .replacen(
                "<md:EntityDescriptor ",
                &format!("<md:EntityDescriptor {ns} ID=\"{id}\" validUntil=\"{until}\" "),
                1,
            )
            .replacen(
                "<md:IDPSSODescriptor",
                &format!("{}<md:IDPSSODescriptor", signature_template(id)),
                1,
            ),
        many => format!(
            "<md:EntitiesDescriptor {ns} ID=\"{id}\" validUntil=\"{until}\" Name=\"test-federation\">{}{}</md:EntitiesDescriptor>",
            signature_template(id),
            many.concat()
        ),
    }
}

/// The root element's qualified name for xmlsec1's `--id-attr:ID`.
fn id_node(xml: &str) -> &'static str {
    if xml.starts_with("<md:EntitiesDescriptor") {
        "urn:oasis:names:tc:SAML:2.0:metadata:EntitiesDescriptor"
    } else {
        "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor"
    }
}

/// Sign `template` (from [`document`]) with `signer` using `xmlsec1 --sign`.
pub fn xmlsec1_sign(template: &str, signer: &KeyPair) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("key.pem"),
        signer.key.private_key_to_pem_pkcs8().unwrap(),
    )
    .unwrap();
    std::fs::write(dir.path().join("cert.pem"), signer.cert.to_pem().unwrap()).unwrap();
    std::fs::write(dir.path().join("template.xml"), template).unwrap();
    let out = Command::new("xmlsec1")
        .current_dir(dir.path())
        .args([
            "--sign",
            "--privkey-pem",
            "key.pem,cert.pem",
            "--id-attr:ID",
            id_node(template),
            "--output",
            "signed.xml",
            "template.xml",
        ])
        .output()
        .expect("xmlsec1 runs");
    assert!(
        out.status.success(),
        "xmlsec1 --sign failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(dir.path().join("signed.xml")).unwrap()
}

/// Python's `http.server` serving a folder on a loopback port; stopped when dropped.
pub struct MetadataServer {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
    /// Each write gets a later modification time, so `If-Modified-Since` (one-second resolution)
    /// never hides a change.
    version: u64,
}

impl MetadataServer {
    pub fn start() -> MetadataServer {
        let dir = tempfile::tempdir().unwrap();
        let mut server = MetadataServer {
            dir,
            port: crate::support::free_port(),
            child: None,
            version: 0,
        };
        server.resume();
        server
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Publish `content` as `name`.
    pub fn publish(&mut self, name: &str, content: &str) {
        self.version += 1;
        let path = self.path(name);
        let folder = path.parent().unwrap().to_path_buf();
        std::fs::create_dir_all(&folder).unwrap();
        let temporary = folder.join(format!(
            ".{}.tmp",
            path.file_name().unwrap().to_string_lossy()
        ));
        std::fs::write(&temporary, content).unwrap();
        let file = std::fs::File::options()
            .write(true)
            .open(&temporary)
            .unwrap();
        file.set_modified(SystemTime::now() + Duration::from_secs(self.version * 10))
            .unwrap();
        drop(file);
        std::fs::rename(&temporary, &path).unwrap();
    }

    /// Stop serving (the port refuses connections).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Serve again on the same port.
    pub fn resume(&mut self) {
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .arg("--directory")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m http.server");
        self.child = Some(child);
        wait_for_port(self.port);
    }
}

impl Drop for MetadataServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn wait_for_port(port: u16) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "http.server did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Write `pair` as PEM files `NAME.key`, `NAME.crt` into `dir`; returns their paths.
pub fn write_pair(dir: &Path, name: &str, pair: &KeyPair) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let cert = dir.join(format!("{name}.crt"));
    std::fs::write(&key, pair.key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    std::fs::write(&cert, pair.cert.to_pem().unwrap()).unwrap();
    (key, cert)
}
