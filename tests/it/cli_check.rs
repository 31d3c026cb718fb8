//! `samlgate check` as an admin reads it: TOML mistakes in plain words with the fix, a file that
//! is not SAML metadata said to be what it is, problems in file order, and the shipped example
//! quiet but for one line about groups left to the backend.

use std::path::Path;
use std::process::Command;

use base64::Engine;

use crate::support::gateway::{Setup, write_config};
use crate::support::test_idp;

/// (exit code, stdout + stderr) of `samlgate check --config PATH`.
fn check(path: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_samlgate"))
        .args(["check", "--config"])
        .arg(path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn config_with(dir: &Path, edit: impl Fn(String) -> String) -> std::path::PathBuf {
    let (path, _) = write_config(dir, 8080, &Setup::default());
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, edit(text)).unwrap();
    path
}

#[test]
fn a_duration_written_as_a_number_is_told_to_add_its_unit() {
    let dir = tempfile::tempdir().unwrap();
    let path = config_with(dir.path(), |t| {
        t.replace(
            "mapping = \"mapping.toml\"",
            "mapping = \"mapping.toml\"\nclock_skew = 180",
        )
    });
    let (code, out) = check(&path);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(": idp[0].clock_skew: 180 is the wrong kind of value")
            && out.contains("write clock_skew = \"180s\""),
        "{out}"
    );
}

#[test]
fn an_unquoted_listen_address_is_told_to_quote_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = config_with(dir.path(), |t| {
        t.replace("listen = \"127.0.0.1:8080\"", "listen = 127.0.0.1:18090")
    });
    let (code, out) = check(&path);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("samlgate.toml:3: server.listen: 127.0.0.1:18090 is not a TOML value"),
        "{out}"
    );
    assert!(out.contains("write listen = \"127.0.0.1:18090\""), "{out}");
}

#[test]
fn a_quoted_number_and_a_quoted_boolean_are_told_to_drop_the_quotes() {
    let dir = tempfile::tempdir().unwrap();
    let path = config_with(dir.path(), |t| {
        t.replace("api_prefixes", "workers = \"4\"\napi_prefixes")
    });
    let (_, out) = check(&path);
    assert!(
        out.contains("write a whole number without quotes, e.g. workers = 4"),
        "{out}"
    );
    let path = config_with(dir.path(), |t| {
        t.replace("[session]", "[session]\nsecure_cookies = \"yes\"")
    });
    let (_, out) = check(&path);
    assert!(out.contains("session.secure_cookies"), "{out}");
    assert!(out.contains("write true or false without quotes"), "{out}");
}

#[test]
fn files_that_are_not_metadata_are_named_for_what_they_are() {
    let response = test_idp::signed(&test_idp::spec(), samlgate::saml::issue::SignParts::Both);
    let cases = [
        (
            "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Sign in</body></html>"
                .to_string(),
            "this is not SAML metadata: it is an HTML page",
        ),
        (
            "{\"error\": \"Not Found\"}".to_string(),
            "this is not SAML metadata: it is JSON",
        ),
        (
            base64::engine::general_purpose::STANDARD.encode(test_idp::metadata_xml()),
            "this is not SAML metadata: it is base64 text that decodes to XML",
        ),
        (response, "this is not SAML metadata: it is a SAML Response"),
    ];
    for (content, said) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = config_with(dir.path(), |t| t);
        std::fs::write(dir.path().join("idp.xml"), &content).unwrap();
        let (code, out) = check(&path);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("idp[0].metadata: IdP metadata"), "{out}");
        assert!(out.contains(said), "{said:?} not in {out}");
    }
}

#[test]
fn problems_are_listed_errors_first_then_by_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = config_with(dir.path(), |t| {
        t.replace("[session]", "[session]\nbogus = 1\nalso_bogus = 2")
            .replace("api_prefixes", "bogus_too = 1\napi_prefixes")
    });
    let (_, out) = check(&path);
    let lines: Vec<usize> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("error: "))
        .filter_map(|l| l.split(':').nth(1)?.parse().ok())
        .collect();
    assert_eq!(lines.len(), 3, "{out}");
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted, "{out}");
}

/// The shipped example with the files it names: it passes, and access groups its routes leave
/// to the backend make one warning, not one per group.
#[test]
fn the_shipped_example_checks_with_one_line_about_unmentioned_groups() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(root.join("samlgate.example.toml"), d.join("samlgate.toml")).unwrap();
    std::fs::create_dir_all(d.join("mappings")).unwrap();
    std::fs::copy(
        root.join("mappings/default.toml"),
        d.join("mappings/default.toml"),
    )
    .unwrap();
    std::fs::create_dir_all(d.join("certs")).unwrap();
    std::fs::create_dir_all(d.join("metadata")).unwrap();
    let sp = test_idp::make_key_pair("example SP");
    std::fs::write(
        d.join("certs/sp.key"),
        sp.key.private_key_to_pem_pkcs8().unwrap(),
    )
    .unwrap();
    std::fs::set_permissions(
        d.join("certs/sp.key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(d.join("certs/sp.crt"), sp.cert.to_pem().unwrap()).unwrap();
    std::fs::write(d.join("metadata/corp.xml"), test_idp::metadata_xml()).unwrap();
    let (code, out) = check(&d.join("samlgate.toml"));
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.matches("not mentioned by any route").count(),
        1,
        "{out}"
    );
}
