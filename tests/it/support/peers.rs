//! Third-party IdPs as test peers: pysaml2 (PyPI, in build/venv) and Lasso (Debian's
//! python3-lasso), driven through tests/interop/*.py, plus xmlsec1 as a signature and
//! canonicalization oracle. `scripts/install-test-deps` installs all of them.
//!
//! A test that needs a peer starts with `if !peers::require(Peer::Lasso) { return; }`: when the
//! peer is missing it prints why and skips, except under `CI=true`, where it fails.
//!
//! The drivers stamp responses with the real clock: validate them with
//! `time::OffsetDateTime::now_utc()` (their lifetime is `PeerRequest::lifetime_minutes`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::support;

/// The repository root (where `build/` and `tests/interop/` are).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn interop_dir() -> PathBuf {
    repo_root().join("tests").join("interop")
}

/// Where generated keys and other cached peer material live (git-ignored).
pub fn cache_dir() -> PathBuf {
    repo_root().join("build").join("interop")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    Pysaml2,
    Lasso,
}

impl Peer {
    pub fn name(self) -> &'static str {
        match self {
            Peer::Pysaml2 => "pysaml2",
            Peer::Lasso => "lasso",
        }
    }

    /// The IdP certificate the driver signs with when `PeerRequest::idp_key_cert` is `None`
    /// (generated once by the driver, then cached).
    pub fn default_idp_cert(self) -> PathBuf {
        cache_dir()
            .join(format!("{}-idp", self.name()))
            .join("cert.pem")
    }

    /// Encryption algorithms (`--encrypt` values) this peer really produces.
    pub fn data_encryptions(self) -> &'static [DataEncryption] {
        use DataEncryption::*;
        match self {
            Peer::Pysaml2 => &[
                Aes128Cbc,
                Aes192Cbc,
                Aes256Cbc,
                Aes128Gcm,
                Aes256Gcm,
                TripleDesCbc,
            ],
            Peer::Lasso => &[Aes128Cbc, Aes256Cbc, TripleDesCbc],
        }
    }
}

/// What the IdP signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignMode {
    None,
    Assertion,
    Response,
    Both,
}

impl SignMode {
    pub const ALL: [SignMode; 4] = [
        SignMode::None,
        SignMode::Assertion,
        SignMode::Response,
        SignMode::Both,
    ];

    pub fn arg(self) -> &'static str {
        match self {
            SignMode::None => "none",
            SignMode::Assertion => "assertion",
            SignMode::Response => "response",
            SignMode::Both => "both",
        }
    }

    pub fn signs_assertion(self) -> bool {
        matches!(self, SignMode::Assertion | SignMode::Both)
    }

    pub fn signs_response(self) -> bool {
        matches!(self, SignMode::Response | SignMode::Both)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigAlg {
    RsaSha1,
    RsaSha256,
    RsaSha512,
}

impl SigAlg {
    pub fn arg(self) -> &'static str {
        match self {
            SigAlg::RsaSha1 => "rsa-sha1",
            SigAlg::RsaSha256 => "rsa-sha256",
            SigAlg::RsaSha512 => "rsa-sha512",
        }
    }

    pub fn uri(self) -> &'static str {
        match self {
            SigAlg::RsaSha1 => "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            SigAlg::RsaSha256 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            SigAlg::RsaSha512 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataEncryption {
    Aes128Cbc,
    Aes192Cbc,
    Aes256Cbc,
    Aes128Gcm,
    Aes256Gcm,
    TripleDesCbc,
}

impl DataEncryption {
    pub fn arg(self) -> &'static str {
        match self {
            DataEncryption::Aes128Cbc => "aes128-cbc",
            DataEncryption::Aes192Cbc => "aes192-cbc",
            DataEncryption::Aes256Cbc => "aes256-cbc",
            DataEncryption::Aes128Gcm => "aes128-gcm",
            DataEncryption::Aes256Gcm => "aes256-gcm",
            DataEncryption::TripleDesCbc => "tripledes-cbc",
        }
    }

    pub fn uri(self) -> &'static str {
        match self {
            DataEncryption::Aes128Cbc => "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
            DataEncryption::Aes192Cbc => "http://www.w3.org/2001/04/xmlenc#aes192-cbc",
            DataEncryption::Aes256Cbc => "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
            DataEncryption::Aes128Gcm => "http://www.w3.org/2009/xmlenc11#aes128-gcm",
            DataEncryption::Aes256Gcm => "http://www.w3.org/2009/xmlenc11#aes256-gcm",
            DataEncryption::TripleDesCbc => "http://www.w3.org/2001/04/xmlenc#tripledes-cbc",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyTransport {
    RsaOaepMgf1p,
    Rsa15,
}

impl KeyTransport {
    pub const ALL: [KeyTransport; 2] = [KeyTransport::RsaOaepMgf1p, KeyTransport::Rsa15];

    pub fn arg(self) -> &'static str {
        match self {
            KeyTransport::RsaOaepMgf1p => "rsa-oaep-mgf1p",
            KeyTransport::Rsa15 => "rsa-1_5",
        }
    }

    pub fn uri(self) -> &'static str {
        match self {
            KeyTransport::RsaOaepMgf1p => "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
            KeyTransport::Rsa15 => "http://www.w3.org/2001/04/xmlenc#rsa-1_5",
        }
    }
}

/// Encrypt the assertion to `sp_cert` (PEM).
#[derive(Clone, Debug)]
pub struct Encryption {
    pub data: DataEncryption,
    pub key_transport: KeyTransport,
    pub sp_cert: PathBuf,
}

/// The parameters of one response, as the drivers' command line takes them.
#[derive(Clone, Debug)]
pub struct PeerRequest {
    pub sp_entity_id: String,
    pub acs_url: String,
    /// `None`: an unsolicited (IdP-initiated) response.
    pub in_response_to: Option<String>,
    pub idp_entity_id: String,
    pub name_id: String,
    pub attributes: Vec<(String, Vec<String>)>,
    pub sign: SignMode,
    pub sig_alg: SigAlg,
    pub encrypt: Option<Encryption>,
    /// IdP (key, cert) PEM files; `None`: the peer's generated, cached pair.
    pub idp_key_cert: Option<(PathBuf, PathBuf)>,
    pub lifetime_minutes: u32,
}

impl Default for PeerRequest {
    fn default() -> Self {
        PeerRequest {
            sp_entity_id: "https://sp.interop.test/saml".into(),
            acs_url: "https://sp.interop.test/saml/acs".into(),
            in_response_to: Some("_req-interop-0001".into()),
            idp_entity_id: "https://idp.interop.test/idp".into(),
            name_id: "alice@example.org".into(),
            attributes: vec![
                ("mail".into(), vec!["alice@example.org".into()]),
                ("groups".into(), vec!["staff".into(), "admins".into()]),
            ],
            sign: SignMode::Assertion,
            sig_alg: SigAlg::RsaSha256,
            encrypt: None,
            idp_key_cert: None,
            lifetime_minutes: 5,
        }
    }
}

/// One response produced by a peer.
#[derive(Debug)]
pub struct PeerOutput {
    pub peer: Peer,
    /// The HTTP-POST form value `SAMLResponse`, as the browser would send it.
    pub saml_response_b64: String,
    /// The decoded response XML.
    pub xml: Vec<u8>,
    /// The IdP's metadata as the peer wrote it.
    pub idp_metadata: PathBuf,
    /// The IdP's signing certificate (PEM).
    pub idp_cert: PathBuf,
    /// Holds `idp_metadata` (and a copy of the response XML, `response.xml`) until dropped.
    pub dir: tempfile::TempDir,
}

impl PeerOutput {
    /// The response XML as a file (for xmlsec1).
    pub fn xml_path(&self) -> PathBuf {
        self.dir.path().join("response.xml")
    }
}

fn python_for(peer: Peer) -> PathBuf {
    match peer {
        Peer::Pysaml2 => repo_root()
            .join("build")
            .join("venv")
            .join("bin")
            .join("python"),
        // Lasso's bindings exist only for Debian's interpreter, not for a pyenv python3 on PATH.
        Peer::Lasso => PathBuf::from("/usr/bin/python3"),
    }
}

fn driver_for(peer: Peer) -> PathBuf {
    interop_dir().join(format!("{}_idp.py", peer.name()))
}

fn command_works(cmd: &mut Command) -> bool {
    cmd.output().map(|o| o.status.success()).unwrap_or(false)
}

/// Whether xmlsec1 runs here; `Err` says what is missing.
pub fn xmlsec1_available() -> Result<(), String> {
    static AVAILABLE: OnceLock<Result<(), String>> = OnceLock::new();
    AVAILABLE
        .get_or_init(|| {
            if command_works(Command::new("xmlsec1").arg("--version")) {
                Ok(())
            } else {
                Err(
                    "xmlsec1 not found (Debian package xmlsec1; run scripts/install-test-deps)"
                        .into(),
                )
            }
        })
        .clone()
}

/// Whether `peer` can run here; `Err` says what is missing.
pub fn available(peer: Peer) -> Result<(), String> {
    static PYSAML2: OnceLock<Result<(), String>> = OnceLock::new();
    static LASSO: OnceLock<Result<(), String>> = OnceLock::new();
    let cell = match peer {
        Peer::Pysaml2 => &PYSAML2,
        Peer::Lasso => &LASSO,
    };
    cell.get_or_init(|| {
        xmlsec1_available()?;
        command_works(Command::new("openssl").arg("version"))
            .then_some(())
            .ok_or("openssl CLI not found (it generates the peers' test keys)")?;
        let python = python_for(peer);
        let (module, hint) = match peer {
            Peer::Pysaml2 => ("saml2", "pysaml2 in build/venv"),
            Peer::Lasso => ("lasso", "Debian package python3-lasso for /usr/bin/python3"),
        };
        if command_works(Command::new(&python).args(["-c", &format!("import {module}")])) {
            Ok(())
        } else {
            Err(format!(
                "{} cannot import {module} ({hint}; run scripts/install-test-deps)",
                python.display()
            ))
        }
    })
    .clone()
}

/// Whether a test needing `peer` can go on. Prints why not and returns false when the peer is
/// missing; panics instead under `CI=true`.
pub fn require(peer: Peer) -> bool {
    support::require(&format!("interop peer {}", peer.name()), available(peer))
}

/// Like [`require`], for tests that need only xmlsec1.
pub fn require_xmlsec1() -> bool {
    support::require("interop peer xmlsec1", xmlsec1_available())
}

fn attributes_json(attributes: &[(String, Vec<String>)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = attributes
        .iter()
        .map(|(name, values)| (name.clone(), serde_json::json!(values)))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// Runs `peer`'s driver for `req`.
pub fn peer_response(peer: Peer, req: &PeerRequest) -> Result<PeerOutput, String> {
    available(peer)?;
    let dir = tempfile::Builder::new()
        .prefix(&format!("{}-peer-", peer.name()))
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))?;
    let metadata = dir.path().join("idp-metadata.xml");
    let mut cmd = Command::new(python_for(peer));
    cmd.arg(driver_for(peer))
        .args(["--sp-entity-id", &req.sp_entity_id])
        .args(["--acs-url", &req.acs_url])
        .args(["--idp-entity-id", &req.idp_entity_id])
        .args(["--name-id", &req.name_id])
        .args(["--attributes", &attributes_json(&req.attributes)])
        .args(["--sign", req.sign.arg()])
        .args(["--sig-alg", req.sig_alg.arg()])
        .args(["--lifetime-minutes", &req.lifetime_minutes.to_string()])
        .arg("--metadata-out")
        .arg(&metadata);
    if let Some(id) = &req.in_response_to {
        cmd.args(["--in-response-to", id]);
    }
    if let Some(enc) = &req.encrypt {
        cmd.args(["--encrypt", enc.data.arg()])
            .args(["--key-transport", enc.key_transport.arg()])
            .arg("--sp-cert")
            .arg(&enc.sp_cert);
    }
    if let Some((key, cert)) = &req.idp_key_cert {
        cmd.arg("--idp-key").arg(key).arg("--idp-cert").arg(cert);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {} driver: {e}", peer.name()))?;
    if !out.status.success() {
        return Err(format!(
            "{} driver failed ({}): {}",
            peer.name(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let saml_response_b64 = String::from_utf8(out.stdout)
        .map_err(|_| format!("{} driver printed non-UTF-8", peer.name()))?
        .trim()
        .to_string();
    let xml = B64
        .decode(&saml_response_b64)
        .map_err(|e| format!("{} driver output is not base64: {e}", peer.name()))?;
    std::fs::write(dir.path().join("response.xml"), &xml)
        .map_err(|e| format!("writing response.xml: {e}"))?;
    let idp_cert = match &req.idp_key_cert {
        Some((_, cert)) => cert.clone(),
        None => peer.default_idp_cert(),
    };
    Ok(PeerOutput {
        peer,
        saml_response_b64,
        xml,
        idp_metadata: metadata,
        idp_cert,
        dir,
    })
}

/// A response from pysaml2's IdP (saml2.server.Server).
pub fn pysaml2_response(req: &PeerRequest) -> Result<PeerOutput, String> {
    peer_response(Peer::Pysaml2, req)
}

/// A response from Lasso's IdP (lasso.Login).
pub fn lasso_response(req: &PeerRequest) -> Result<PeerOutput, String> {
    peer_response(Peer::Lasso, req)
}

/// An SP key pair for encryption tests: (key PEM, cert PEM), generated once with the openssl
/// CLI as build/interop/sp-test/{key,cert}.pem. The pair is made in a fresh directory that is
/// then renamed into place: atomic, and refused when the target exists, so parallel test
/// processes never see half a pair.
pub fn sp_key_pair() -> Result<(PathBuf, PathBuf), String> {
    static PAIR: OnceLock<Result<(PathBuf, PathBuf), String>> = OnceLock::new();
    PAIR.get_or_init(|| {
        let cache = cache_dir();
        let dir = cache.join("sp-test");
        let pair = (dir.join("key.pem"), dir.join("cert.pem"));
        if dir.is_dir() {
            return Ok(pair);
        }
        std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
        let tmp = tempfile::Builder::new()
            .prefix(".sp-test-")
            .tempdir_in(&cache)
            .map_err(|e| format!("temp dir in {}: {e}", cache.display()))?;
        let out = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256"])
            .args(["-days", "3650", "-subj", "/CN=samlgate interop test SP"])
            .arg("-keyout")
            .arg(tmp.path().join("key.pem"))
            .arg("-out")
            .arg(tmp.path().join("cert.pem"))
            .output()
            .map_err(|e| format!("cannot run openssl: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "openssl req failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        // Losing the race to another process is fine: its pair is complete; ours is dropped.
        let _ = std::fs::rename(tmp.path(), &dir);
        if dir.is_dir() {
            Ok(pair)
        } else {
            Err(format!("could not create {}", dir.display()))
        }
    })
    .clone()
}

/// XPath (for xmlsec1 `--node-xpath`) of the first saml:Assertion anywhere.
pub const ASSERTION_XPATH: &str = "//*[local-name()='Assertion']";

/// `xmlsec1 --verify` of the first ds:Signature at or under `node_xpath` (default: the first
/// in the document), with `cert` as the only key it may use and ID attributes on
/// samlp:Response and saml:Assertion.
pub fn xmlsec1_verify(xml: &Path, cert: &Path, node_xpath: Option<&str>) -> Result<(), String> {
    let mut cmd = Command::new("xmlsec1");
    cmd.arg("--verify")
        .arg("--pubkey-cert-pem")
        .arg(cert)
        .args(["--enabled-key-data", "key-name"])
        .args(["--enabled-reference-uris", "empty,same-doc"])
        .args([
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:protocol:Response",
        ])
        .args([
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
        ]);
    if let Some(x) = node_xpath {
        cmd.args(["--node-xpath", x]);
    }
    let out = cmd
        .arg(xml)
        .output()
        .map_err(|e| format!("cannot run xmlsec1: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "xmlsec1 --verify refused {}: {}",
            xml.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// `xmlsec1 --decrypt` with the SP key: the document with its EncryptedData replaced by the
/// plaintext (the saml:Assertion then sits inside saml:EncryptedAssertion).
pub fn xmlsec1_decrypt(xml: &Path, sp_key: &Path) -> Result<Vec<u8>, String> {
    let out = Command::new("xmlsec1")
        .arg("--decrypt")
        .arg("--privkey-pem")
        .arg(sp_key)
        .arg(xml)
        .output()
        .map_err(|e| format!("cannot run xmlsec1: {e}"))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(format!(
            "xmlsec1 --decrypt failed on {}: {}",
            xml.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// What xmlsec1 canonicalized while verifying one signature (tests/interop/xmlsec_c14n.sh).
#[derive(Debug)]
pub struct XmlsecC14n {
    /// The bytes each ds:Reference digested, in document order.
    pub references: Vec<Vec<u8>>,
    /// The canonical ds:SignedInfo.
    pub signed_info: Vec<u8>,
    /// Whether xmlsec1 accepted the signature.
    pub verified: bool,
}

/// Runs the c14n oracle on the first ds:Signature at or under `node_xpath`.
pub fn xmlsec1_c14n(
    xml: &Path,
    cert: &Path,
    node_xpath: Option<&str>,
) -> Result<XmlsecC14n, String> {
    let outdir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let mut cmd = Command::new(interop_dir().join("xmlsec_c14n.sh"));
    cmd.arg(xml).arg("saml").arg(cert).arg(outdir.path());
    if let Some(x) = node_xpath {
        cmd.arg(x);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run xmlsec_c14n.sh: {e}"))?;
    let verified = match out.status.code() {
        Some(0) => true,
        Some(1) => false,
        _ => {
            return Err(format!(
                "xmlsec_c14n.sh failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    };
    let mut references = Vec::new();
    for i in 1.. {
        match std::fs::read(outdir.path().join(format!("reference-{i}.c14n"))) {
            Ok(bytes) => references.push(bytes),
            Err(_) => break,
        }
    }
    let signed_info = std::fs::read(outdir.path().join("signedinfo.c14n"))
        .map_err(|e| format!("xmlsec1 printed no canonical SignedInfo: {e}"))?;
    Ok(XmlsecC14n {
        references,
        signed_info,
        verified,
    })
}

/// samlgate's policy for the IdP that produced `out`: its metadata, as the peer wrote it, read
/// by `samlgate::saml::metadata::parse_idp_metadata`, with docs/security.md's defaults.
pub fn idp_policy(out: &PeerOutput) -> Result<samlgate::saml::IdpPolicy, String> {
    let xml = std::fs::read(&out.idp_metadata)
        .map_err(|e| format!("{}: {e}", out.idp_metadata.display()))?;
    let md = samlgate::saml::metadata::parse_idp_metadata(
        &xml,
        &out.idp_metadata.display().to_string(),
        None,
    )
    .map_err(|e| e.to_string())?;
    Ok(samlgate::saml::IdpPolicy::new(
        md.entity_id,
        md.signing_keys,
    ))
}

/// The private half of [`sp_key_pair`] as samlgate's decryption key.
pub fn sp_decryption_key() -> Result<samlgate::crypto::DecryptionKey, String> {
    let (key, _) = sp_key_pair()?;
    let pem = std::fs::read(&key).map_err(|e| format!("{}: {e}", key.display()))?;
    samlgate::crypto::DecryptionKey::from_pem(&pem, &key.display().to_string())
        .map_err(|e| e.to_string())
}

/// A Single Logout message built by `peer` (`tests/interop/<peer>_logout.py` with `args`):
/// what the driver printed (a Redirect URL or a POST form value) and the IdP metadata it wrote,
/// in a folder that lives as long as the returned `TempDir`.
pub fn peer_logout(
    peer: Peer,
    args: &[&str],
) -> Result<(String, PathBuf, tempfile::TempDir), String> {
    available(peer)?;
    let dir = tempfile::Builder::new()
        .prefix(&format!("{}-logout-", peer.name()))
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))?;
    let metadata = dir.path().join("idp-metadata.xml");
    let out = Command::new(python_for(peer))
        .arg(interop_dir().join(format!("{}_logout.py", peer.name())))
        .args(args)
        .arg("--metadata-out")
        .arg(&metadata)
        .output()
        .map_err(|e| format!("cannot run {} logout driver: {e}", peer.name()))?;
    if !out.status.success() {
        return Err(format!(
            "{} logout driver failed ({}): {}",
            peer.name(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let printed = String::from_utf8(out.stdout)
        .map_err(|_| format!("{} logout driver printed non-UTF-8", peer.name()))?
        .trim()
        .to_string();
    Ok((printed, metadata, dir))
}
