//! The interop matrix (issue 3): every combination the third-party IdPs offer, sent through
//! samlgate's real ACS pipeline, and compared with what docs/security.md says must
//! happen.
//!
//! Axes: peer (pysaml2, Lasso) x what the IdP signs (none, assertion, response, both) x
//! encryption (none, and every content algorithm the peer offers) x key transport
//! (rsa-oaep-mgf1p, rsa-1_5) x signature algorithm (rsa-sha256; also rsa-sha1 and rsa-sha512 on
//! the plain rows). Each response is judged under one or more samlgate set-ups: the defaults;
//! the legacy opt-ins (allow_sha1, allow_3des); a required Assertion signature; AES-CBC off;
//! SP key rollover (encrypted to the old key, the SP holds [new, old]); a key the SP does not
//! hold.
//!
//! The expected outcome of each cell is [`expected`]: docs/security.md's rules written as code,
//! never an output of samlgate. Its inputs are the cell's axes and one fact of the peer's
//! Assertion read by the xmlsec1 oracle (whether it carries a Recipient). Before a cell is
//! judged, the response is checked to have the signatures and algorithms the cell asked for.
//! Each cell runs through `samlgate::saml::response::validate` and through the
//! `samlgate verify` binary ("-" where the CLI has no switch for the set-up: allow_cbc=false).
//! The whole matrix is printed, one line per cell:
//!
//!     cargo test --test it interop_matrix:: -- --nocapture
//!
//! A cell whose outcome differs keeps its response under build/interop-matrix/ for a human.
//! Needs scripts/install-test-deps; a missing peer is skipped with the reason printed (a
//! failure under CI=true). The peers stamp responses with the real clock, so each is judged at
//! `OffsetDateTime::now_utc()`. Generating one takes about a second: cells run on
//! `MATRIX_THREADS` threads (default 4).

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use samlgate::crypto::DecryptionKey;
use samlgate::saml::response::validate;
use samlgate::saml::{ExpectedRequest, IdpPolicy, SpIdentity, VerifiedAssertion};
use samlgate::xml::{ElementRef, ParseLimits, ns, parse};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support;
use crate::support::peers::{
    self, DataEncryption, Encryption, KeyTransport, Peer, PeerOutput, PeerRequest, SigAlg, SignMode,
};

// ---------------------------------------------------------------------------------------------
// The cells

/// What the peer is asked to produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Wire {
    peer: Peer,
    sign: SignMode,
    alg: SigAlg,
    /// `None`: a plain Assertion.
    encryption: Option<(DataEncryption, KeyTransport)>,
}

/// Which SP private keys samlgate holds. Responses are always encrypted to the certificate of
/// `peers::sp_key_pair()`; "new" is a key made for this run that nothing is encrypted to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SpKeys {
    /// [the key the response is encrypted to]
    Current,
    /// [new, old]: the response is encrypted to the old one (the second).
    Rollover,
    /// [new]: the response is encrypted to a key the SP does not hold.
    Unknown,
}

/// How samlgate is configured for the IdP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Setup {
    name: &'static str,
    allow_sha1: bool,
    allow_3des: bool,
    allow_cbc: bool,
    require_signed_assertion: bool,
    sp_keys: SpKeys,
}

const DEFAULTS: Setup = Setup {
    name: "default",
    allow_sha1: false,
    allow_3des: false,
    allow_cbc: true,
    require_signed_assertion: false,
    sp_keys: SpKeys::Current,
};
const LEGACY_OPT_IN: Setup = Setup {
    name: "allow_sha1+3des",
    allow_sha1: true,
    allow_3des: true,
    ..DEFAULTS
};
const ASSERTION_SIGNATURE_REQUIRED: Setup = Setup {
    name: "require_signed_assertion",
    require_signed_assertion: true,
    ..DEFAULTS
};
const CBC_OFF: Setup = Setup {
    name: "allow_cbc=false",
    allow_cbc: false,
    ..DEFAULTS
};
const THREE_DES_WITH_CBC_OFF: Setup = Setup {
    name: "allow_3des, allow_cbc=false",
    allow_3des: true,
    allow_cbc: false,
    ..DEFAULTS
};
const ROLLOVER: Setup = Setup {
    name: "keys [new, old]",
    sp_keys: SpKeys::Rollover,
    ..DEFAULTS
};
const UNKNOWN_KEY: Setup = Setup {
    name: "keys [new] only",
    sp_keys: SpKeys::Unknown,
    ..DEFAULTS
};

/// A fact of the Assertion the peer sent that no cell axis fixes, read by the xmlsec1 oracle
/// (`xmlsec1 --decrypt` when encrypted), not by samlgate's pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
struct AssertionFacts {
    /// The bearer SubjectConfirmationData's Recipient. Lasso fills it in while it builds the
    /// response message; the Lasso driver encrypts an assertion it does not sign before that
    /// (tests/interop/lasso_idp.py, `--sign none|response` with `--encrypt`), so those
    /// assertions arrive without one.
    recipient: Option<String>,
}

#[derive(Clone, Debug)]
struct Cell {
    wire: Wire,
    setup: Setup,
    facts: AssertionFacts,
}

/// What should happen, or what did. A refusal is named by `Rejection::kind()`, the stable label
/// of samlgate's metrics and of `samlgate verify`'s `rejected [kind]` line.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Expect {
    Accept,
    Refuse(String),
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Accept => f.write_str("accept"),
            Expect::Refuse(kind) => write!(f, "refuse {kind}"),
        }
    }
}

fn refuse(kind: &str) -> Expect {
    Expect::Refuse(kind.to_string())
}

const SHA1_REFUSED: &str = "signature_algorithm_sha1_not_allowed";
const DECRYPTION_FAILED: &str = "decryption_failed";
const UNSIGNED: &str = "unsigned";
const ASSERTION_NOT_SIGNED: &str = "assertion_not_signed";
const CBC_WITHOUT_SIGNATURE: &str = "cbc_without_signature";
const RECIPIENT_MISMATCH: &str = "recipient_mismatch";

fn is_aes_cbc(data: DataEncryption) -> bool {
    matches!(
        data,
        DataEncryption::Aes128Cbc | DataEncryption::Aes192Cbc | DataEncryption::Aes256Cbc
    )
}

/// 3DES is a CBC cipher too.
fn is_cbc(data: DataEncryption) -> bool {
    is_aes_cbc(data) || data == DataEncryption::TripleDesCbc
}

/// AES-GCM is the only content cipher with integrity of its own.
fn is_authenticated(data: DataEncryption) -> bool {
    matches!(data, DataEncryption::Aes128Gcm | DataEncryption::Aes256Gcm)
}

/// docs/security.md's rules for one cell. Several rules may refuse the same cell; the one named is
/// the first the ACS pipeline reaches, in the order src/saml/response.rs documents: the
/// Response's signature, then decryption of the Assertion, then the Assertion's signature,
/// then the signing policy, then the Subject.
fn expected(cell: &Cell) -> Expect {
    let Cell { wire, setup, facts } = cell;
    // "SHA-1 only by explicit per-IdP opt-in."
    let sha1_refused = wire.alg == SigAlg::RsaSha1 && !setup.allow_sha1;
    if wire.sign.signs_response() && sha1_refused {
        return refuse(SHA1_REFUSED);
    }
    if let Some((data, transport)) = wire.encryption {
        // "RSA1_5 is refused before any RSA operation."
        if transport == KeyTransport::Rsa15 {
            return refuse(DECRYPTION_FAILED);
        }
        // "3DES refused by default."
        if data == DataEncryption::TripleDesCbc && !setup.allow_3des {
            return refuse(DECRYPTION_FAILED);
        }
        // "AES-CBC accepted per IdP"; 3DES, a CBC cipher, needs that opt-in as well.
        if is_cbc(data) && !setup.allow_cbc {
            return refuse(DECRYPTION_FAILED);
        }
        // "Several SP decryption keys may be configured (rollover)"; a key the SP does not
        // hold is one more decryption failure, and "every decryption failure looks the same".
        if setup.sp_keys == SpKeys::Unknown {
            return refuse(DECRYPTION_FAILED);
        }
    }
    if wire.sign.signs_assertion() && sha1_refused {
        return refuse(SHA1_REFUSED);
    }
    // "A response with no valid signature is refused."
    if wire.sign == SignMode::None {
        return refuse(UNSIGNED);
    }
    // "Per-IdP policy may require the Assertion [to be signed]."
    if setup.require_signed_assertion && !wire.sign.signs_assertion() {
        return refuse(ASSERTION_NOT_SIGNED);
    }
    // "AES-CBC ... only when the outer Response is signed or the decrypted Assertion is signed
    // and verified." (Every signed cell is covered, and unsigned ones are refused just above:
    // no peer cell reaches this refusal, but it is the rule.)
    if let Some((data, _)) = wire.encryption
        && !is_authenticated(data)
        && !(wire.sign.signs_response() || wire.sign.signs_assertion())
    {
        return refuse(CBC_WITHOUT_SIGNATURE);
    }
    // "A bearer SubjectConfirmation with Recipient = ACS URL."
    if facts.recipient.as_deref() != Some(ACS_URL) {
        return refuse(RECIPIENT_MISMATCH);
    }
    Expect::Accept
}

/// Every cell of the matrix, grouped by the response they judge (one peer run each).
fn matrix(peer: Peer) -> Vec<(Wire, Vec<Setup>)> {
    let mut out = Vec::new();
    for sign in SignMode::ALL {
        for alg in [SigAlg::RsaSha256, SigAlg::RsaSha1, SigAlg::RsaSha512] {
            let mut setups = vec![DEFAULTS];
            match alg {
                SigAlg::RsaSha1 => setups.push(LEGACY_OPT_IN),
                SigAlg::RsaSha256 => setups.push(ASSERTION_SIGNATURE_REQUIRED),
                SigAlg::RsaSha512 => {}
            }
            let wire = Wire {
                peer,
                sign,
                alg,
                encryption: None,
            };
            out.push((wire, setups));
        }
    }
    for &data in peer.data_encryptions() {
        for transport in KeyTransport::ALL {
            for sign in SignMode::ALL {
                let mut setups = vec![DEFAULTS];
                if data == DataEncryption::TripleDesCbc {
                    setups.push(LEGACY_OPT_IN);
                    if transport == KeyTransport::RsaOaepMgf1p {
                        setups.push(THREE_DES_WITH_CBC_OFF);
                    }
                }
                if is_aes_cbc(data) && transport == KeyTransport::RsaOaepMgf1p {
                    setups.push(CBC_OFF);
                }
                // Key rollover on each cipher the default policy accepts.
                if sign == SignMode::Both
                    && transport == KeyTransport::RsaOaepMgf1p
                    && data != DataEncryption::TripleDesCbc
                {
                    setups.push(ROLLOVER);
                    setups.push(UNKNOWN_KEY);
                }
                let wire = Wire {
                    peer,
                    sign,
                    alg: SigAlg::RsaSha256,
                    encryption: Some((data, transport)),
                };
                out.push((wire, setups));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Running one cell

/// The SP keys for this run: the one responses are encrypted to, and a new one.
struct SpKeyMaterial {
    encrypted_to: DecryptionKey,
    encrypted_to_pem: PathBuf,
    new: DecryptionKey,
    new_pem: PathBuf,
    sp_cert: PathBuf,
    /// `samlgate verify`, or why its column is skipped.
    cli: Result<PathBuf, String>,
    _dir: tempfile::TempDir,
}

impl SpKeyMaterial {
    fn create() -> SpKeyMaterial {
        let (key_pem, cert_pem) = peers::sp_key_pair().expect("SP key pair");
        let encrypted_to = peers::sp_decryption_key().expect("SP decryption key");
        let dir = tempfile::tempdir().expect("temp dir");
        let fresh = support::test_idp::make_key_pair("samlgate matrix: new SP key");
        let new_pem = dir.path().join("new-sp-key.pem");
        std::fs::write(
            &new_pem,
            fresh.key.private_key_to_pem_pkcs8().expect("key to PEM"),
        )
        .expect("write new SP key");
        let new = DecryptionKey {
            key: fresh.key.clone(),
            certificate: Some(fresh.cert.clone()),
            description: "new SP key".into(),
        };
        let cli = samlgate_binary(dir.path());
        SpKeyMaterial {
            encrypted_to,
            encrypted_to_pem: key_pem,
            new,
            new_pem,
            sp_cert: cert_pem,
            cli,
            _dir: dir,
        }
    }

    fn keys(&self, which: SpKeys) -> Vec<DecryptionKey> {
        match which {
            SpKeys::Current => vec![self.encrypted_to.clone()],
            SpKeys::Rollover => vec![self.new.clone(), self.encrypted_to.clone()],
            SpKeys::Unknown => vec![self.new.clone()],
        }
    }

    fn pem_files(&self, which: SpKeys) -> Vec<&Path> {
        match which {
            SpKeys::Current => vec![&self.encrypted_to_pem],
            SpKeys::Rollover => vec![&self.new_pem, &self.encrypted_to_pem],
            SpKeys::Unknown => vec![&self.new_pem],
        }
    }
}

/// The SP's ACS URL in every request (Destination, Recipient).
const ACS_URL: &str = "https://sp.interop.test/saml/acs";

/// The `samlgate` binary cargo built for this test, hard-linked (or copied) into `dir` so that
/// it cannot change during the run: checkouts sharing one target dir overwrite the uplifted
/// `CARGO_BIN_EXE_samlgate` with their own build. A binary without `verify` cannot be this
/// checkout's; then the CLI column is skipped, loudly (a failure under CI=true).
fn samlgate_binary(dir: &Path) -> Result<PathBuf, String> {
    let built = PathBuf::from(env!("CARGO_BIN_EXE_samlgate"));
    let private = dir.join("samlgate");
    std::fs::hard_link(&built, &private)
        .or_else(|_| std::fs::copy(&built, &private).map(|_| ()))
        .map_err(|e| format!("cannot link {}: {e}", built.display()))?;
    let probe = Command::new(&private)
        .args(["verify", "--help"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", built.display()))?;
    if probe.status.success() {
        return Ok(private);
    }
    let why = format!(
        "{} has no `verify` subcommand ({}): another checkout's build sharing the target dir?",
        built.display(),
        String::from_utf8_lossy(&probe.stderr).trim()
    );
    if support::in_ci() {
        panic!("{why}");
    }
    eprintln!("SKIPPED: the samlgate verify column: {why}");
    Err(why)
}

fn request_for(wire: &Wire, keys: &SpKeyMaterial) -> PeerRequest {
    PeerRequest {
        acs_url: ACS_URL.to_string(),
        sign: wire.sign,
        sig_alg: wire.alg,
        encrypt: wire.encryption.map(|(data, key_transport)| Encryption {
            data,
            key_transport,
            sp_cert: keys.sp_cert.clone(),
        }),
        ..PeerRequest::default()
    }
}

/// The peer really produced what the cell names: signatures where asked, with the asked
/// algorithm, and the asked encryption algorithms. Otherwise a cell could pass for the wrong
/// reason (say, a driver quietly signing with rsa-sha256 in an rsa-sha512 cell).
fn check_wire_shape(xml: &[u8], wire: &Wire) -> Result<(), String> {
    let doc = parse(xml, &ParseLimits::default()).map_err(|e| format!("strict parser: {e}"))?;
    let response = doc.root();
    check_signature(response, wire.sign.signs_response(), wire.alg, "Response")?;
    match wire.encryption {
        None => {
            let assertion = response
                .first_child_named(ns::SAML, "Assertion")
                .ok_or("no saml:Assertion child")?;
            check_signature(
                assertion,
                wire.sign.signs_assertion(),
                wire.alg,
                "Assertion",
            )
        }
        Some((data, transport)) => {
            let encrypted = response
                .first_child_named(ns::SAML, "EncryptedAssertion")
                .ok_or("no saml:EncryptedAssertion child")?;
            let data_el = encrypted
                .first_child_named(ns::XENC, "EncryptedData")
                .ok_or("no xenc:EncryptedData")?;
            expect_method(data_el, data.uri(), "EncryptedData")?;
            let key_el = encrypted
                .descendants_and_self()
                .find(|e| e.is(ns::XENC, "EncryptedKey"))
                .ok_or("no xenc:EncryptedKey")?;
            expect_method(key_el, transport.uri(), "EncryptedKey")
        }
    }
}

fn check_signature(
    el: ElementRef<'_>,
    wanted: bool,
    alg: SigAlg,
    what: &str,
) -> Result<(), String> {
    let sig = el.first_child_named(ns::DS, "Signature");
    match (wanted, sig) {
        (false, None) => Ok(()),
        (false, Some(_)) => Err(format!(
            "{what} is signed, but the cell asked for no signature"
        )),
        (true, None) => Err(format!("{what} is not signed")),
        (true, Some(sig)) => {
            let method = sig
                .first_child_named(ns::DS, "SignedInfo")
                .and_then(|si| si.first_child_named(ns::DS, "SignatureMethod"))
                .and_then(|m| m.attr("Algorithm"));
            if method == Some(alg.uri()) {
                Ok(())
            } else {
                Err(format!(
                    "{what} SignatureMethod {method:?}, asked {}",
                    alg.uri()
                ))
            }
        }
    }
}

fn expect_method(el: ElementRef<'_>, uri: &str, what: &str) -> Result<(), String> {
    let found = el
        .first_child_named(ns::XENC, "EncryptionMethod")
        .and_then(|m| m.attr("Algorithm"));
    if found == Some(uri) {
        Ok(())
    } else {
        Err(format!("{what} EncryptionMethod {found:?}, asked {uri}"))
    }
}

/// Reads [`AssertionFacts`] from the response, decrypted by xmlsec1 when encrypted.
fn read_facts(
    out: &PeerOutput,
    wire: &Wire,
    keys: &SpKeyMaterial,
) -> Result<AssertionFacts, String> {
    let xml = match wire.encryption {
        None => out.xml.clone(),
        Some(_) => peers::xmlsec1_decrypt(&out.xml_path(), &keys.encrypted_to_pem)?,
    };
    let doc = parse(&xml, &ParseLimits::default()).map_err(|e| format!("strict parser: {e}"))?;
    let recipient = doc
        .root()
        .descendants_and_self()
        .filter(|e| e.is(ns::SAML, "SubjectConfirmationData"))
        .find_map(|e| e.attr("Recipient"))
        .map(str::to_string);
    Ok(AssertionFacts { recipient })
}

/// The facts of an accepted login must be the ones the peer was asked to send.
fn check_facts(v: &VerifiedAssertion, req: &PeerRequest, wire: &Wire) -> Result<(), String> {
    let mut wrong = Vec::new();
    if v.claims.name_id.value != req.name_id {
        wrong.push(format!("NameID {:?}", v.claims.name_id.value));
    }
    if v.claims.idp_entity_id != req.idp_entity_id {
        wrong.push(format!("IdP {:?}", v.claims.idp_entity_id));
    }
    if v.in_response_to.as_deref() != req.in_response_to.as_deref() {
        wrong.push(format!("InResponseTo {:?}", v.in_response_to));
    }
    if v.signed.response != wire.sign.signs_response()
        || v.signed.assertion != wire.sign.signs_assertion()
    {
        wrong.push(format!("signed parts {:?}", v.signed));
    }
    if v.was_encrypted != wire.encryption.is_some() {
        wrong.push(format!("was_encrypted {}", v.was_encrypted));
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!("accepted with wrong facts: {}", wrong.join(", ")))
    }
}

/// What happened to a cell, in [`Expect`]'s words, or why it could not be judged.
type Outcome = Result<Expect, String>;

fn outcome_text(o: &Outcome) -> String {
    match o {
        Ok(e) => e.to_string(),
        Err(problem) => format!("ERROR {problem}"),
    }
}

fn judge_with_library(
    out: &PeerOutput,
    req: &PeerRequest,
    wire: &Wire,
    setup: &Setup,
    keys: &SpKeyMaterial,
    now: OffsetDateTime,
) -> Outcome {
    let mut idp: IdpPolicy = peers::idp_policy(out)?;
    idp.allow_sha1 = setup.allow_sha1;
    idp.allow_3des = setup.allow_3des;
    idp.allow_cbc = setup.allow_cbc;
    idp.require_signed_assertion = setup.require_signed_assertion;
    let sp = SpIdentity {
        entity_id: req.sp_entity_id.clone(),
        acs_url: req.acs_url.clone(),
        decryption_keys: keys.keys(setup.sp_keys),
    };
    let request_id = req.in_response_to.as_deref().ok_or("no request ID")?;
    match validate(
        out.saml_response_b64.as_bytes(),
        &idp,
        &sp,
        ExpectedRequest::Solicited(request_id),
        now,
    ) {
        Ok(v) => check_facts(&v, req, wire).map(|()| Expect::Accept),
        Err(rejection) => Ok(Expect::Refuse(rejection.kind().to_string())),
    }
}

/// `samlgate verify` on the same response. `None` for set-ups the CLI has no switch for.
fn judge_with_cli(
    out: &PeerOutput,
    req: &PeerRequest,
    setup: &Setup,
    keys: &SpKeyMaterial,
    now: OffsetDateTime,
) -> Option<Outcome> {
    if !setup.allow_cbc {
        return None;
    }
    let binary = keys.cli.as_ref().ok()?;
    let response_file = out.dir.path().join("response.b64");
    if let Err(e) = std::fs::write(&response_file, &out.saml_response_b64) {
        return Some(Err(format!("write {}: {e}", response_file.display())));
    }
    let now = match now.format(&Rfc3339) {
        Ok(t) => t,
        Err(e) => return Some(Err(format!("format now: {e}"))),
    };
    let mut cmd = Command::new(binary);
    cmd.arg("verify")
        .arg("--idp-metadata")
        .arg(&out.idp_metadata)
        .args(["--sp-entity-id", &req.sp_entity_id])
        .args(["--acs-url", &req.acs_url])
        .args(["--now", &now]);
    if let Some(id) = &req.in_response_to {
        cmd.args(["--request-id", id]);
    }
    if setup.allow_sha1 {
        cmd.arg("--allow-sha1");
    }
    if setup.allow_3des {
        cmd.arg("--allow-3des");
    }
    if setup.require_signed_assertion {
        cmd.arg("--require-signed-assertion");
    }
    if req.encrypt.is_some() {
        for pem in keys.pem_files(setup.sp_keys) {
            cmd.arg("--sp-key").arg(pem);
        }
    }
    cmd.arg(&response_file);
    let output = match cmd.output() {
        Ok(o) => o,
        Err(e) => return Some(Err(format!("cannot run samlgate verify: {e}"))),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    Some(match output.status.code() {
        Some(0) => Ok(Expect::Accept),
        Some(1) => stderr
            .lines()
            .find_map(|l| l.strip_prefix("rejected ["))
            .and_then(|rest| rest.split_once(']'))
            .map(|(kind, _)| Expect::Refuse(kind.to_string()))
            .ok_or_else(|| format!("exit 1 without a `rejected [kind]` line: {stderr}")),
        _ => Err(format!("exit {}: {}", output.status, stderr.trim())),
    })
}

struct Row {
    cell: Cell,
    expected: Expect,
    actual: Outcome,
    cli: Option<Outcome>,
}

impl Row {
    fn agrees(&self) -> bool {
        self.actual.as_ref() == Ok(&self.expected)
            && self
                .cli
                .as_ref()
                .is_none_or(|c| c.as_ref() == Ok(&self.expected))
    }
}

fn label(wire: &Wire) -> [String; 5] {
    let (encryption, transport) = match wire.encryption {
        None => ("none".to_string(), "-".to_string()),
        Some((d, t)) => (d.arg().to_string(), t.arg().to_string()),
    };
    [
        wire.peer.name().to_string(),
        wire.sign.arg().to_string(),
        encryption,
        transport,
        wire.alg.arg().to_string(),
    ]
}

/// Keeps the response of a disagreeing cell for the lead: build/interop-matrix/<cell>/.
fn keep_for_humans(out: &PeerOutput, rows: &[Row]) -> Option<PathBuf> {
    let first = rows.first()?;
    let name = label(&first.cell.wire).join("_");
    let dir = peers::repo_root()
        .join("build")
        .join("interop-matrix")
        .join(name);
    std::fs::create_dir_all(&dir).ok()?;
    std::fs::write(dir.join("response.xml"), &out.xml).ok()?;
    std::fs::write(dir.join("response.b64"), &out.saml_response_b64).ok()?;
    std::fs::copy(&out.idp_metadata, dir.join("idp-metadata.xml")).ok()?;
    let mut notes = String::new();
    for row in rows {
        notes.push_str(&format!(
            "setup {}: expected {}; validate: {}; samlgate verify: {}\n",
            row.cell.setup.name,
            row.expected,
            outcome_text(&row.actual),
            row.cli.as_ref().map(outcome_text).unwrap_or("-".into()),
        ));
    }
    std::fs::write(dir.join("outcome.txt"), notes).ok()?;
    Some(dir)
}

/// Produces the response of `wire` and judges it under each set-up.
fn run_wire(wire: Wire, setups: &[Setup], keys: &SpKeyMaterial) -> Vec<Row> {
    let req = request_for(&wire, keys);
    let produced = peers::peer_response(wire.peer, &req).and_then(|out| {
        check_wire_shape(&out.xml, &wire)?;
        let facts = read_facts(&out, &wire, keys)?;
        Ok((out, facts))
    });
    let now = OffsetDateTime::now_utc();
    let rows: Vec<Row> = setups
        .iter()
        .map(|&setup| {
            let facts = match &produced {
                Ok((_, facts)) => facts.clone(),
                // Unknown; the row fails on the peer error anyway.
                Err(_) => AssertionFacts { recipient: None },
            };
            let cell = Cell { wire, setup, facts };
            let expected = expected(&cell);
            let (actual, cli) = match &produced {
                Ok((out, _)) => (
                    judge_with_library(out, &req, &wire, &setup, keys, now),
                    judge_with_cli(out, &req, &setup, keys, now),
                ),
                Err(e) => (Err(format!("peer: {e}")), None),
            };
            Row {
                cell,
                expected,
                actual,
                cli,
            }
        })
        .collect();
    if let Ok((out, _)) = &produced
        && rows.iter().any(|r| !r.agrees())
        && let Some(dir) = keep_for_humans(out, &rows)
    {
        eprintln!("disagreeing cell kept in {}", dir.display());
    }
    rows
}

fn threads() -> usize {
    std::env::var("MATRIX_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(4)
}

/// Runs every wire on a few threads (each peer run is a ~1 s subprocess); rows come back in
/// matrix order.
fn run_all(work: Vec<(Wire, Vec<Setup>)>, keys: &SpKeyMaterial) -> Vec<Row> {
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, Vec<Row>)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads() {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((wire, setups)) = work.get(i) else {
                        break;
                    };
                    let rows = run_wire(*wire, setups, keys);
                    done.lock().expect("results lock").push((i, rows));
                }
            });
        }
    });
    let mut done = done.into_inner().expect("results lock");
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().flat_map(|(_, rows)| rows).collect()
}

fn table(rows: &[Row]) -> String {
    let header = [
        "peer",
        "signing",
        "encryption",
        "transport",
        "alg",
        "samlgate setup",
        "expected",
        "validate()",
        "samlgate verify",
        "",
    ];
    let lines: Vec<[String; 10]> = rows
        .iter()
        .map(|r| {
            let [peer, sign, enc, transport, alg] = label(&r.cell.wire);
            [
                peer,
                sign,
                enc,
                transport,
                alg,
                r.cell.setup.name.to_string(),
                r.expected.to_string(),
                outcome_text(&r.actual),
                r.cli.as_ref().map(outcome_text).unwrap_or("-".into()),
                match (r.agrees(), &r.cell.facts.recipient) {
                    (true, Some(_)) => "ok",
                    (true, None) => "ok (the peer sent no Recipient)",
                    (false, _) => "MISMATCH",
                }
                .to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.len());
        }
    }
    let render = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join(" | ").trim_end().to_string()
    };
    let mut out = render(&header.map(str::to_string));
    out.push('\n');
    out.push_str(&"-".repeat(out.len().saturating_sub(1)));
    out.push('\n');
    for line in &lines {
        out.push_str(&render(line));
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The test

#[test]
fn every_peer_response_is_accepted_or_refused_as_security_md_says() {
    let peers_here: Vec<Peer> = [Peer::Pysaml2, Peer::Lasso]
        .into_iter()
        .filter(|&p| peers::require(p))
        .collect();
    if peers_here.is_empty() {
        return;
    }
    let keys = SpKeyMaterial::create();
    let work: Vec<(Wire, Vec<Setup>)> = peers_here.iter().flat_map(|&p| matrix(p)).collect();
    let responses = work.len();
    let started = std::time::Instant::now();
    let rows = run_all(work, &keys);
    let elapsed = started.elapsed();

    let disagreeing: Vec<&Row> = rows.iter().filter(|r| !r.agrees()).collect();
    eprintln!(
        "\ninterop matrix: {} cells, {} responses, {} threads, {:.1} s\n{}",
        rows.len(),
        responses,
        threads(),
        elapsed.as_secs_f64(),
        table(&rows)
    );

    // The matrix is not vacuous: every peer has accepted and refused cells, and every content
    // algorithm it offers is accepted somewhere.
    for &peer in &peers_here {
        let of_peer = || rows.iter().filter(move |r| r.cell.wire.peer == peer);
        assert!(
            of_peer().any(|r| r.expected == Expect::Accept),
            "{peer:?}: no cell is expected to be accepted"
        );
        assert!(
            of_peer().any(|r| r.expected != Expect::Accept),
            "{peer:?}: no cell is expected to be refused"
        );
        for &data in peer.data_encryptions() {
            assert!(
                of_peer().any(|r| r.cell.wire.encryption.map(|(d, _)| d) == Some(data)
                    && r.expected == Expect::Accept),
                "{peer:?}: no cell accepts {}",
                data.arg()
            );
        }
    }
    assert!(
        disagreeing.is_empty(),
        "{} of {} cells differ from docs/security.md:\n{}",
        disagreeing.len(),
        rows.len(),
        disagreeing
            .iter()
            .map(|r| format!(
                "{} [{}]: expected {}, validate() {}, samlgate verify {}",
                label(&r.cell.wire).join(" "),
                r.cell.setup.name,
                r.expected,
                outcome_text(&r.actual),
                r.cli.as_ref().map(outcome_text).unwrap_or("-".into())
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
