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
