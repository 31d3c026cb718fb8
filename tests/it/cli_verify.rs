//! `samlgate verify` from the outside: the contract other tools and the interop suite use.

use std::process::Command;

use base64::Engine;
use samlgate::saml::issue::SignParts;

use crate::support::test_idp::*;

struct Files {
    _dir: tempfile::TempDir,
    metadata: std::path::PathBuf,
    response: std::path::PathBuf,
}

fn files(response: &[u8]) -> Files {
    let dir = tempfile::tempdir().expect("tempdir");
    let metadata = dir.path().join("idp.xml");
    std::fs::write(&metadata, metadata_xml()).expect("write metadata");
    let path = dir.path().join("response");
    std::fs::write(&path, response).expect("write response");
    Files {
        _dir: dir,
        metadata,
        response: path,
    }
}

fn verify(f: &Files, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_samlgate"))
        .arg("verify")
        .arg("--idp-metadata")
        .arg(&f.metadata)
        .args([
            "--sp-entity-id",
            SP,
            "--acs-url",
            ACS,
            "--now",
            "2026-05-23T09:14:20Z",
        ])
        .args(extra)
        .arg(&f.response)
        .output()
        .expect("run samlgate")
}

#[test]
fn accepted_response_prints_json_and_exits_0() {
    let xml = signed(&spec(), SignParts::Both);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&xml);
    for body in [xml.as_bytes(), b64.as_bytes()] {
        let f = files(body);
        let out = verify(&f, &["--request-id", REQUEST_ID]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(json["name_id"], "alice@example.com");
        assert_eq!(json["issuer"], IDP);
        assert_eq!(
            json["attributes"]["groups"],
            serde_json::json!(["Admins", "Staff"])
        );
        assert!(json["session_not_on_or_after"].is_string());
    }
}

#[test]
fn refused_response_exits_1_with_the_reason_on_stderr() {
    let f = files(signed(&spec(), SignParts::Both).as_bytes());
    let out = verify(&f, &["--request-id", "_another"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("InResponseTo"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn without_request_id_in_response_to_is_not_compared() {
    let f = files(signed(&spec(), SignParts::Both).as_bytes());
    let out = verify(&f, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn usage_errors_exit_2() {
    let f = files(b"<x/>");
    let out = Command::new(env!("CARGO_BIN_EXE_samlgate"))
        .args(["verify", "--idp-metadata", "/nonexistent/metadata.xml"])
        .args(["--sp-entity-id", SP, "--acs-url", ACS])
        .arg(&f.response)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/metadata.xml"));
    let out = Command::new(env!("CARGO_BIN_EXE_samlgate"))
        .args(["verify", "--bogus-flag"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_samlgate"))
        .arg("verify")
        .arg("--idp-metadata")
        .arg(&f.metadata)
        .args(["--sp-entity-id", SP, "--acs-url", ACS, "--now", "yesterday"])
        .arg(&f.response)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RFC 3339"));
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn input_copied_from_browser_tools_is_accepted() {
    let xml = signed(&spec(), SignParts::Both);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&xml);
    let url_encoded: String = url::form_urlencoded::byte_serialize(b64.as_bytes()).collect();
    assert!(
        url_encoded.contains('%'),
        "the test needs an encoded character"
    );
    for body in [
        url_encoded.clone(),
        format!("SAMLResponse={url_encoded}&RelayState=abc"),
        format!("SAMLResponse={b64}\n"),
    ] {
        let f = files(body.as_bytes());
        let out = verify(&f, &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{body:.40}: {}",
            stderr_of(&out)
        );
    }
}

#[test]
fn input_that_does_not_decode_is_a_rejection_not_a_usage_error() {
    let f = files(b"this is not a SAML Response at all!");
    let out = verify(&f, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert!(stderr.contains("rejected [bad_base64]"), "{stderr}");
    assert!(stderr.contains("fix: give the Response as XML"), "{stderr}");
}

#[test]
fn every_failed_check_is_listed_with_its_fix_and_the_time_hint() {
    let f = files(signed(&spec(), SignParts::Both).as_bytes());
    let out = Command::new(env!("CARGO_BIN_EXE_samlgate"))
        .arg("verify")
        .arg("--idp-metadata")
        .arg(&f.metadata)
        .args([
            "--sp-entity-id",
            "https://other.example.com/saml/metadata",
            "--acs-url",
            ACS,
            "--request-id",
            "_another",
        ])
        .arg(&f.response)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = stderr_of(&out);
    // The first line is the verdict, in the `rejected [kind]` form scripts read.
    assert!(
        stderr.starts_with("rejected [issued_too_long_ago]"),
        "{stderr}"
    );
    for needle in [
        "rejected [issued_too_long_ago]",
        "hint: a Response captured earlier can be checked as of the time it was issued: --now 2026-05-23T09:14:20",
        "rejected [audience_mismatch]",
        "fix: the Identifier/Entity ID at the IdP must equal [sp] entity_id",
        "rejected [in_response_to_mismatch]",
        "fix: give --request-id",
        "3 checks failed",
    ] {
        assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    }
}

#[test]
fn a_signature_by_a_key_not_in_the_metadata_names_that_keys_fingerprint() {
    let forged = signer_with(attacker_keys())
        .response(&spec(), SignParts::Both)
        .unwrap();
    let f = files(forged.as_bytes());
    let out = verify(&f, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = stderr_of(&out);
    let fingerprint = attacker_keys()
        .cert
        .digest(openssl::hash::MessageDigest::sha256())
        .unwrap()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    assert!(
        stderr.contains(&format!(
            "the Response carries a certificate that is not in the metadata: SHA-256 {fingerprint}"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("never trusted"), "{stderr}");
    // Named, not trusted: nothing after it is reported as accepted.
    assert!(out.stdout.is_empty());
}

#[test]
fn with_config_the_idp_sp_and_acs_come_from_the_gateways_file() {
    use crate::support::gateway::{SP_ENTITY, Setup, write_config};
    let dir = tempfile::tempdir().unwrap();
    let (config, _) = write_config(dir.path(), 8080, &Setup::default());
    let mut spec = spec();
    spec.sp_entity_id = SP_ENTITY.to_string();
    spec.acs_url = "http://127.0.0.1:8080/saml/acs".to_string();
    let f = files(signed(&spec, SignParts::Both).as_bytes());
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_samlgate"))
            .arg("verify")
            .arg("--config")
            .arg(&config)
            .args(["--now", "2026-05-23T09:14:20Z"])
            .args(extra)
            .arg(&f.response)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let out = run(&["--idp", "corp"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let out = run(&["--idp", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("no such [[idp]]"),
        "{}",
        stderr_of(&out)
    );
}
