//! `samlgate mapping test` from the outside: attributes as JSON, and a real signed Response
//! run through the ACS pipeline before mapping.

use std::process::{Command, Output};

use samlgate::saml::issue::SignParts;

use crate::support::test_idp::*;

fn mapping_test(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_samlgate"))
        .args(["mapping", "test", "--mapping", "mappings/default.toml"])
        .args(args)
        .output()
        .expect("run samlgate")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new(response: &str) -> Files {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("idp.xml"), metadata_xml()).expect("metadata");
        std::fs::write(dir.path().join("response.xml"), response).expect("response");
        Files { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

#[test]
fn attributes_json_prints_operator_and_rule() {
    let out = mapping_test(&[
        "--attributes",
        r#"{"name_id": "Ana@Example.com", "attributes": {"mail": "ana@example.com", "groups": ["Editors"]}}"#,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(
        text.contains("operator:      \"ana@example.com\"\n"),
        "{text}"
    );
    assert!(
        text.contains("access group:  \"MyOrg:Editors\"\n"),
        "{text}"
    );
    assert!(text.contains("rule #4 \"editors\""), "{text}");
}

#[test]
fn verified_response_is_mapped_like_a_login() {
    let f = Files::new(&signed(&spec(), SignParts::Both));
    let out = mapping_test(&[
        "--response",
        &f.path("response.xml"),
        "--idp-metadata",
        &f.path("idp.xml"),
        "--sp-entity-id",
        SP,
        "--acs-url",
        ACS,
        "--now",
        "2026-05-23T09:14:20Z",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let op = &json["mapped"]["operator"];
    assert_eq!(op["idp"], IDP);
    assert_eq!(op["name_id"], "alice@example.com");
    assert_eq!(op["access_group"], "MyOrg:Administrators");
    assert_eq!(op["groups"], serde_json::json!(["Admins", "Staff"]));
    assert_eq!(json["mapped"]["matched_rule"]["name"], "administrators");
}

#[test]
fn refused_response_exits_1_and_is_never_mapped() {
    let f = Files::new(&signed(&spec(), SignParts::Both));
    let out = mapping_test(&[
        "--response",
        &f.path("response.xml"),
        "--idp-metadata",
        &f.path("idp.xml"),
        "--sp-entity-id",
        "https://another-sp.example.com/metadata",
        "--acs-url",
        ACS,
        "--now",
        "2026-05-23T09:14:20Z",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "{}", stdout(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refused"), "{stderr}");
}

#[test]
fn bad_now_is_a_usage_error() {
    let f = Files::new(&signed(&spec(), SignParts::Both));
    let out = mapping_test(&[
        "--response",
        &f.path("response.xml"),
        "--idp-metadata",
        &f.path("idp.xml"),
        "--sp-entity-id",
        SP,
        "--acs-url",
        ACS,
        "--now",
        "yesterday",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--now"));
}

#[test]
fn a_table_stripping_every_domain_is_warned_about_on_stderr() {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = dir.path().join("strip.toml");
    std::fs::write(
        &table,
        "[operator]\nstrip_domain = true\n\n[access]\ndefault = \"D\"\n",
    )
    .expect("table");
    let out = Command::new(env!("CARGO_BIN_EXE_samlgate"))
        .args(["mapping", "test", "--mapping"])
        .arg(&table)
        .args(["--attributes", r#"{"name_id": "CEO@evil.example"}"#])
        .output()
        .expect("run samlgate");
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: mapping table")
            && stderr.contains("line 2")
            && stderr.contains("ANY domain"),
        "{stderr}"
    );
    assert!(
        stdout(&out).contains("operator:      \"CEO\"\n"),
        "{}",
        stdout(&out)
    );
}
