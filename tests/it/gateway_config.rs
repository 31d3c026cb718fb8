//! `samlgate check` and configuration loading: every problem listed with file, key and line;
//! fail-open configurations refused.

use std::path::Path;
use std::process::ExitCode;

use samlgate::cli::check::{CheckArgs, run_check};
use samlgate::config::{self, Severity};

use crate::support;
use crate::support::gateway::{Setup, write_config};

fn base_config(dir: &Path) -> String {
    let (path, _) = write_config(dir, 8080, &Setup::default());
    std::fs::read_to_string(path).unwrap()
}

fn problems_of(dir: &Path, text: &str) -> Vec<samlgate::config::Problem> {
    let path = dir.join("samlgate.toml");
    std::fs::write(&path, text).unwrap();
    match config::load(&path) {
        Ok(loaded) => loaded.warnings,
        Err(e) => e.problems,
    }
}

/// The key and line of every error among `problems`.
fn error_keys(problems: &[samlgate::config::Problem]) -> Vec<(&str, Option<usize>)> {
    problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .map(|p| (p.key.as_str(), p.line))
        .collect()
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn the_test_configuration_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let text = base_config(dir.path());
    let problems = problems_of(dir.path(), &text);
    assert!(
        problems.iter().all(|p| p.severity == Severity::Warning),
        "{problems:?}"
    );
    let loaded = config::load(&dir.path().join("samlgate.toml")).unwrap();
    assert_eq!(
        loaded.config.idps[0].policy.entity_id,
        support::test_idp::IDP
    );
    assert_eq!(
        loaded.config.idps[0].policy.clock_skew,
        time::Duration::seconds(180)
    );
    assert!(!loaded.config.idps[0].allow_idp_initiated);
    assert_eq!(loaded.config.session.cookie_name, "samlgate_session");
}

#[test]
fn every_unknown_key_is_reported_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = base_config(dir.path())
        .replace(
            "name = \"corp\"",
            "name = \"corp\"\nalow_idp_initiated = true",
        )
        .replace("[session]", "[session]\nidle_timout = \"5m\"");
    let problems = problems_of(dir.path(), &text);
    let errors: Vec<_> = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0].key, "idp[0].alow_idp_initiated");
    assert_eq!(errors[0].line, Some(line_of(&text, "alow_idp_initiated")));
    assert_eq!(errors[1].key, "session.idle_timout");
    assert_eq!(errors[1].line, Some(line_of(&text, "idle_timout")));
    assert!(errors[0].to_string().contains("samlgate.toml:"));
}

#[test]
fn several_value_problems_are_reported_together() {
    let dir = tempfile::tempdir().unwrap();
    let text = base_config(dir.path())
        .replace("name = \"corp\"", "name = \"corp\"\nclock_skew = \"600s\"")
        .replace(
            "[session]",
            "[session]\nstore = \"redis\"\nidle_timeout = \"30\"",
        );
    let problems = problems_of(dir.path(), &text);
    let keys = error_keys(&problems);
    assert!(
        keys.contains(&("idp[0].clock_skew", Some(line_of(&text, "clock_skew")))),
        "{keys:?}"
    );
    assert!(
        keys.contains(&("session.store", Some(line_of(&text, "store = ")))),
        "{keys:?}"
    );
    assert!(
        keys.contains(&("session.idle_timeout", Some(line_of(&text, "idle_timeout")))),
        "{keys:?}"
    );
    let redis = problems.iter().find(|p| p.key == "session.store").unwrap();
    assert!(redis.message.contains("needs url"), "{}", redis.message);
    let skew = problems
        .iter()
        .find(|p| p.key == "idp[0].clock_skew")
        .unwrap();
    assert!(
        skew.message.contains("over the maximum of 5m"),
        "{}",
        skew.message
    );
}

#[test]
fn every_value_of_the_wrong_type_is_reported_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let text = base_config(dir.path())
        .replace("name = \"corp\"", "name = \"corp\"\nclock_skew = 180")
        .replace("[session]", "[session]\nsecure_cookies = \"yes\"")
        .replace(
            "url = \"http://127.0.0.1:9\"",
            "url = \"http://127.0.0.1:9\"\nconnect_timeout = [\n  \"5s\",\n]\nrequest_timeout = 60",
        );
    let problems = problems_of(dir.path(), &text);
    let keys = error_keys(&problems);
    assert_eq!(
        keys.len(),
        4,
        "one error per value of the wrong type, nothing else: {problems:?}"
    );
    for (key, needle) in [
        ("idp[0].clock_skew", "clock_skew = 180"),
        ("session.secure_cookies", "secure_cookies = "),
        ("backend.connect_timeout", "connect_timeout = ["),
        ("backend.request_timeout", "request_timeout = 60"),
    ] {
        assert!(
            keys.contains(&(key, Some(line_of(&text, needle)))),
            "{key}: {keys:?}"
        );
    }
    let skew = problems
        .iter()
        .find(|p| p.key == "idp[0].clock_skew")
        .unwrap();
    assert!(
        skew.message.ends_with("write clock_skew = \"180s\""),
        "{}",
        skew.message
    );
}

#[test]
fn refuses_plain_http_on_a_public_host_without_secure_cookies() {
    let dir = tempfile::tempdir().unwrap();
    let text = base_config(dir.path()).replace(
        "public_url = \"http://127.0.0.1:8080\"",
        "public_url = \"http://app.example.com\"",
    );
    let problems = problems_of(dir.path(), &text);
    // Nobody wrote secure_cookies: the line to change is public_url's.
    let p = problems
        .iter()
        .find(|p| p.key == "server.public_url")
        .expect("refusal");
    assert_eq!(p.severity, Severity::Error);
    assert_eq!(p.line, Some(line_of(&text, "public_url =")));
    assert!(p.message.contains("in clear"), "{}", p.message);
    assert!(
        p.message
            .contains("public_url = \"https://app.example.com\""),
        "{}",
        p.message
    );
    assert!(
        !problems.iter().any(|p| p.key == "session.secure_cookies"),
        "{problems:?}"
    );

    // Written, secure_cookies = false is the line to blame.
    let text = text.replace("[session]", "[session]\nsecure_cookies = false");
    let problems = problems_of(dir.path(), &text);
    let p = problems
        .iter()
        .find(|p| p.key == "session.secure_cookies")
        .expect("refusal");
    assert_eq!(p.line, Some(line_of(&text, "secure_cookies = false")));
}

#[test]
fn https_public_url_gets_host_prefixed_secure_cookies() {
    let dir = tempfile::tempdir().unwrap();
    let text = base_config(dir.path()).replace(
        "public_url = \"http://127.0.0.1:8080\"",
        "public_url = \"https://app.example.com\"",
    );
    std::fs::write(dir.path().join("samlgate.toml"), &text).unwrap();
    let loaded = config::load(&dir.path().join("samlgate.toml")).unwrap();
    assert_eq!(loaded.config.session.cookie_name, "__Host-samlgate_session");
    assert!(loaded.config.session.secure_cookies);
    let off = text.replace("[session]", "[session]\nsecure_cookies = false");
    let problems = problems_of(dir.path(), &off);
    assert!(
        problems
            .iter()
            .any(|p| p.key == "session.secure_cookies" && p.severity == Severity::Error)
    );
}

#[test]
fn refuses_an_idp_without_a_signing_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let text = base_config(dir.path());
    let metadata = std::fs::read_to_string(dir.path().join("idp.xml")).unwrap();
    let start = metadata.find("<md:KeyDescriptor").unwrap();
    let end = metadata.find("</md:KeyDescriptor>").unwrap() + "</md:KeyDescriptor>".len();
    let stripped = format!("{}{}", &metadata[..start], &metadata[end..]);
    std::fs::write(dir.path().join("idp.xml"), stripped).unwrap();
    let problems = problems_of(dir.path(), &text);
    let p = problems
        .iter()
        .find(|p| p.key == "idp[0].metadata")
        .expect("refusal");
    assert_eq!(p.severity, Severity::Error);
    assert_eq!(p.line, Some(line_of(&text, "metadata = ")));
    assert!(p.message.contains("signing"), "{}", p.message);
}

#[test]
fn missing_files_and_sections_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let text = base_config(dir.path()).replace("cert = \"sp.crt\"", "cert = \"missing.crt\"");
    let problems = problems_of(dir.path(), &text);
    let p = problems
        .iter()
        .find(|p| p.key == "sp.cert")
        .expect("missing cert");
    assert!(p.message.contains("missing.crt"));
    let problems = problems_of(
        dir.path(),
        "[server]\nlisten = \"127.0.0.1:1\"\npublic_url = \"http://127.0.0.1:1\"\n",
    );
    for key in ["sp", "backend", "idp"] {
        assert!(
            problems.iter().any(|p| p.key == key),
            "{key} missing not reported: {problems:?}"
        );
    }
}

#[test]
fn a_private_key_every_user_can_read_is_a_warning_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_config(dir.path(), 8080, &Setup::default());
    let key = dir.path().join("sp.key");
    assert!(
        config::load(&path)
            .expect("valid")
            .warnings
            .iter()
            .all(|w| w.key != "sp.key"),
        "mode 600 is fine"
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert!(
        config::load(&path)
            .expect("valid")
            .warnings
            .iter()
            .all(|w| w.key != "sp.key"),
        "group-readable is left to the admin"
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let loaded = config::load(&path).expect("a warning does not stop the gateway");
    let warning = loaded
        .warnings
        .iter()
        .find(|w| w.key == "sp.key")
        .expect("a warning about the key's mode");
    assert!(warning.message.contains("chmod 600"), "{}", warning.message);
    assert!(warning.message.contains("644"), "{}", warning.message);
    assert!(warning.line.is_some(), "{warning:?}");
}

#[test]
fn a_certificate_expiring_soon_is_a_warning_not_an_error() {
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::x509::{X509, X509NameBuilder};
    let dir = tempfile::tempdir().unwrap();
    let text = base_config(dir.path());
    let key = openssl::pkey::PKey::private_key_from_pem(
        &std::fs::read(dir.path().join("sp.key")).unwrap(),
    )
    .unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "soon").unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(10).unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    std::fs::write(dir.path().join("sp.crt"), b.build().to_pem().unwrap()).unwrap();
    let path = dir.path().join("samlgate.toml");
    std::fs::write(&path, &text).unwrap();
    let loaded = config::load(&path).expect("a warning does not stop the gateway");
    let w = loaded
        .warnings
        .iter()
        .find(|w| w.key == "sp.cert")
        .expect("expiry warning");
    assert!(w.message.contains("expires"), "{}", w.message);
}

#[test]
fn check_exits_0_for_a_good_file_and_1_for_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let text = base_config(dir.path());
    let path = dir.path().join("samlgate.toml");
    std::fs::write(&path, &text).unwrap();
    assert_eq!(
        run_check(CheckArgs {
            config: path.clone()
        }),
        ExitCode::SUCCESS
    );
    std::fs::write(&path, text.replace("[session]", "[session]\nbogus = 1")).unwrap();
    assert_eq!(run_check(CheckArgs { config: path }), ExitCode::FAILURE);
}

#[test]
fn invalid_toml_is_reported_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let problems = problems_of(
        dir.path(),
        "[server]\nlisten = \"127.0.0.1:1\"\npublic_url = \n",
    );
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].line, Some(3));
    assert!(problems[0].message.contains("TOML"));
}

#[test]
fn mapping_table_problems_point_into_the_mapping_file() {
    let dir = tempfile::tempdir().unwrap();
    let text = base_config(dir.path());
    std::fs::write(dir.path().join("mapping.toml"), "[access]\ngroups = [\"groups\"]\ndefault = \"X\"\n\n[[access.rule]]\ngroup_regex = \"([\"\naccess_group = \"Y\"\n").unwrap();
    let problems = problems_of(dir.path(), &text);
    let p = problems
        .iter()
        .find(|p| p.file.ends_with("mapping.toml"))
        .expect("mapping problem");
    assert_eq!(p.severity, Severity::Error);
    assert_eq!(p.line, Some(6));
}

#[test]
fn an_idp_without_a_mapping_table_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = base_config(dir.path()).replace("mapping = \"mapping.toml\"\n", "");
    let problems = problems_of(dir.path(), &text);
    assert!(
        problems
            .iter()
            .any(|p| p.key == "idp[0].mapping" && p.severity == Severity::Error),
        "{problems:?}"
    );
}

#[test]
fn header_contract_and_backend_errors_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let text = base_config(dir.path()).replace(
        "url = \"http://127.0.0.1:9\"",
        "url = \"ftp://backend.internal\"",
    ) + "\n[headers]\nnames = { usr = \"X-User\" }\n";
    let problems = problems_of(dir.path(), &text);
    let backend = problems
        .iter()
        .find(|p| p.key == "backend.url")
        .expect("backend refusal");
    assert_eq!(backend.line, Some(line_of(&text, "ftp://backend.internal")));
    let headers = problems
        .iter()
        .find(|p| p.key == "headers")
        .expect("headers refusal");
    assert!(headers.message.contains("usr"), "{}", headers.message);
}

#[test]
fn expired_idp_metadata_is_reported_as_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let text = base_config(dir.path());
    let metadata = std::fs::read_to_string(dir.path().join("idp.xml")).unwrap();
    let dated = metadata.replacen(
        "<md:EntityDescriptor ",
        "<md:EntityDescriptor validUntil=\"2020-01-01T00:00:00Z\" ",
        1,
    );
    std::fs::write(dir.path().join("idp.xml"), dated).unwrap();
    let path = dir.path().join("samlgate.toml");
    std::fs::write(&path, &text).unwrap();
    let loaded = config::load(&path).expect("expired metadata warns, it does not stop the gateway");
    let w = loaded
        .warnings
        .iter()
        .find(|w| w.key == "idp[0].metadata")
        .expect("validUntil warning");
    assert!(w.message.contains("expired"), "{}", w.message);
}

/// The test IdP's metadata with its signing certificate replaced by one for an RSA key of `bits`.
fn idp_metadata_with_rsa_bits(dir: &Path, bits: u32) {
    use base64::Engine;
    let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(bits).unwrap()).unwrap();
    let cert = samlgate::crypto::keygen::self_signed_certificate(&key, "short", 365).unwrap();
    let der = base64::engine::general_purpose::STANDARD.encode(cert.to_der().unwrap());
    let metadata = std::fs::read_to_string(dir.join("idp.xml")).unwrap();
    let start = metadata.find("<ds:X509Certificate>").unwrap() + "<ds:X509Certificate>".len();
    let end = metadata.find("</ds:X509Certificate>").unwrap();
    let replaced = format!("{}{der}{}", &metadata[..start], &metadata[end..]);
    std::fs::write(dir.join("idp.xml"), replaced).unwrap();
}

#[test]
fn a_short_idp_rsa_key_is_refused_and_a_1024_bit_one_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let text = base_config(dir.path());
    idp_metadata_with_rsa_bits(dir.path(), 768);
    let problems = problems_of(dir.path(), &text);
    let p = problems
        .iter()
        .find(|p| p.key == "idp[0].metadata" && p.message.contains("768-bit"))
        .unwrap_or_else(|| panic!("no refusal of a 768-bit key: {problems:?}"));
    assert_eq!(p.severity, Severity::Error);
    assert_eq!(p.line, Some(line_of(&text, "metadata = ")));
    assert!(p.message.contains("forged"), "{}", p.message);

    idp_metadata_with_rsa_bits(dir.path(), 1024);
    let path = dir.path().join("samlgate.toml");
    let loaded = config::load(&path).expect("a 1024-bit key is a warning, not an error");
    let w = loaded
        .warnings
        .iter()
        .find(|w| w.key == "idp[0].metadata")
        .expect("a warning for the 1024-bit key");
    assert!(w.message.contains("1024-bit RSA key"), "{}", w.message);
}

#[test]
fn metrics_on_a_public_listener_is_a_warning_and_metrics_listen_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let text = base_config(dir.path()).replace(
        "public_url = \"http://127.0.0.1:8080\"",
        "public_url = \"https://app.example.com\"",
    );
    assert!(text.contains("https://app.example.com"));
    let problems = problems_of(dir.path(), &text);
    let w = problems
        .iter()
        .find(|p| p.key == "server.metrics_listen")
        .unwrap_or_else(|| panic!("no warning about /metrics: {problems:?}"));
    assert_eq!(w.severity, Severity::Warning);
    assert!(w.message.contains("metrics_listen = "), "{}", w.message);

    let with = text.replace(
        "api_prefixes = [\"/api\"]",
        "api_prefixes = [\"/api\"]\nmetrics_listen = \"127.0.0.1:9464\"",
    );
    let problems = problems_of(dir.path(), &with);
    assert!(
        !problems.iter().any(|p| p.key == "server.metrics_listen"),
        "{problems:?}"
    );
    let same = text.replace(
        "api_prefixes = [\"/api\"]",
        "api_prefixes = [\"/api\"]\nmetrics_listen = \"127.0.0.1:8080\"",
    );
    let problems = problems_of(dir.path(), &same);
    let e = problems
        .iter()
        .find(|p| p.key == "server.metrics_listen")
        .expect("same address refused");
    assert_eq!(e.severity, Severity::Error);
    assert_eq!(e.line, Some(line_of(&same, "metrics_listen")));
}

#[test]
fn workers_must_be_a_sensible_number_of_event_loops() {
    let dir = tempfile::tempdir().unwrap();
    let text = base_config(dir.path());
    for (value, accepted) in [
        ("1", true),
        ("8", true),
        ("0", false),
        ("-2", false),
        ("5000", false),
    ] {
        let with = text.replace(
            "api_prefixes = [\"/api\"]",
            &format!("api_prefixes = [\"/api\"]\nworkers = {value}"),
        );
        let problems = problems_of(dir.path(), &with);
        let found = problems.iter().find(|p| p.key == "server.workers");
        match (accepted, found) {
            (true, None) => {}
            (false, Some(e)) => {
                assert_eq!(e.severity, Severity::Error);
                assert_eq!(e.line, Some(line_of(&with, "workers = ")));
                assert!(e.message.contains(value), "{}", e.message);
                assert!(e.message.contains("one per core"), "{}", e.message);
            }
            (_, found) => panic!("workers = {value}: {found:?}"),
        }
    }
    let path = dir.path().join("samlgate.toml");
    let three = text.replace(
        "api_prefixes = [\"/api\"]",
        "api_prefixes = [\"/api\"]\nworkers = 3",
    );
    let server = |t: &str| samlgate::config::load_str(t, &path).unwrap().config.server;
    assert_eq!(server(&three).event_loop_count().get(), 3);
    // Left out: one loop per core this process may use.
    assert_eq!(
        server(&text).event_loop_count(),
        std::thread::available_parallelism().unwrap()
    );
}

fn route_errors(dir: &Path, routes: &str) -> (String, Vec<samlgate::config::Problem>) {
    let text = base_config(dir) + routes;
    let errors = problems_of(dir, &text)
        .into_iter()
        .filter(|p| p.severity == Severity::Error)
        .collect();
    (text, errors)
}

#[test]
fn route_paths_that_could_never_match_are_refused_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = [
        "admin",
        "/%61dmin",
        "/admin;jsessionid",
        "/admin/./x",
        "/x/../admin",
        "//admin",
        "/admin\\\\x",
        "/ad min",
        "/admin?x=1",
        "/admin.",
    ];
    let routes: String = bad
        .iter()
        .map(|p| format!("\n[[route]]\npath = \"{p}\"\nrequire_access_group = [\"A\"]\n"))
        .collect();
    let (text, errors) = route_errors(dir.path(), &routes);
    assert_eq!(errors.len(), bad.len(), "{errors:#?}");
    for (i, (p, problem)) in bad.iter().zip(&errors).enumerate() {
        assert_eq!(problem.key, format!("route[{i}].path"));
        assert_eq!(
            problem.line,
            Some(line_of(&text, &format!("path = \"{p}\"")))
        );
    }
    assert!(
        errors[1].message.contains("'%'") && errors[1].message.contains("never match"),
        "{}",
        errors[1].message
    );
}

#[test]
fn shadowed_and_duplicate_routes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let routes = r#"
[[route]]
path = "/admin"
require_access_group = ["MyOrg:Administrators"]

[[route]]
path = "/admin/"
public = true

[[route]]
path = "/ADMIN"
require_access_group = ["Other"]

[[route]]
path = "/Healthcheck"
public = true

[[route]]
path = "/healthcheck"
public = true

[[route]]
path = "/healthcheck"
public = true
"#;
    let (text, errors) = route_errors(dir.path(), routes);
    let keys: Vec<(&str, Option<usize>)> =
        errors.iter().map(|p| (p.key.as_str(), p.line)).collect();
    assert_eq!(
        keys,
        [
            ("route[1].path", Some(line_of(&text, "path = \"/admin/\""))),
            ("route[2].path", Some(line_of(&text, "path = \"/ADMIN\""))),
            // Against /admin and against /admin/: each conflict is named.
            ("route[2].path", Some(line_of(&text, "path = \"/ADMIN\""))),
            (
                "route[5].path",
                Some(
                    text.lines()
                        .collect::<Vec<_>>()
                        .iter()
                        .rposition(|l| *l == "path = \"/healthcheck\"")
                        .unwrap()
                        + 1
                )
            ),
        ],
        "{errors:#?}"
    );
    assert!(
        errors[0]
            .message
            .contains("route[0].path \"/admin\" (protected)"),
        "{}",
        errors[0].message
    );
    assert!(
        errors[0].message.contains("trailing /"),
        "{}",
        errors[0].message
    );
    assert!(
        errors[1].message.contains("letter case"),
        "{}",
        errors[1].message
    );
    assert!(
        errors[2]
            .message
            .contains("route[1].path \"/admin/\" (public)"),
        "{}",
        errors[2].message
    );
    assert!(
        errors[3].message.contains("two [[route]] entries"),
        "{}",
        errors[3].message
    );
}

#[test]
fn api_prefixes_are_checked_like_route_paths() {
    let dir = tempfile::tempdir().unwrap();
    let text = base_config(dir.path()).replace(
        "api_prefixes = [\"/api\"]",
        "api_prefixes = [\"/api\", \"api2\", \"/v1;x\"]",
    );
    let problems: Vec<_> = problems_of(dir.path(), &text)
        .into_iter()
        .filter(|p| p.key == "server.api_prefixes")
        .collect();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems
            .iter()
            .all(|p| p.line == Some(line_of(&text, "api_prefixes")))
    );
}

#[test]
fn forward_auth_reads_the_configured_header_and_checks_the_section() {
    let dir = tempfile::tempdir().unwrap();
    let default =
        config::load_str(&base_config(dir.path()), &dir.path().join("samlgate.toml")).unwrap();
    assert_eq!(default.config.forward_auth.uri_header, "x-original-uri");
    let text = base_config(dir.path()) + "\n[forward_auth]\nuri_header = \"X-Forwarded-Uri\"\n";
    let traefik = config::load_str(&text, &dir.path().join("samlgate.toml")).unwrap();
    assert_eq!(traefik.config.forward_auth.uri_header, "x-forwarded-uri");

    let text = base_config(dir.path())
        + "\n[forward_auth]\nuri_header = \"X Original\"\nurl_header = \"x\"\n";
    let problems = problems_of(dir.path(), &text);
    let unknown = problems
        .iter()
        .find(|p| p.key == "forward_auth.url_header")
        .expect("unknown key");
    assert_eq!(unknown.line, Some(line_of(&text, "url_header")));
    let text = base_config(dir.path()) + "\n[forward_auth]\nuri_header = \"X Original\"\n";
    let problems = problems_of(dir.path(), &text);
    let bad = problems
        .iter()
        .find(|p| p.key == "forward_auth.uri_header")
        .expect("bad header");
    assert_eq!(bad.line, Some(line_of(&text, "uri_header")));
    assert!(bad.message.contains("not a header name"), "{}", bad.message);
}

#[test]
fn a_route_group_no_mapping_gives_is_flagged_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{}\n[[route]]\npath = \"/admin\"\nrequire_access_group = [\"MyOrg:Administrator\"]\n",
        base_config(dir.path())
    );
    let problems = problems_of(dir.path(), &text);
    let w = problems
        .iter()
        .find(|p| p.key == "route[0].require_access_group")
        .unwrap_or_else(|| panic!("no warning for the unreachable group: {problems:?}"));
    assert_eq!(w.severity, Severity::Warning);
    assert_eq!(w.line, Some(line_of(&text, "MyOrg:Administrator\"]")));
    assert!(
        w.message.contains("\"MyOrg:Administrator\"")
            && w.message.contains("did you mean \"MyOrg:Administrators\"?")
            && w.message.contains("refuses everyone"),
        "{}",
        w.message
    );
    // A group the table does give is not flagged.
    let fixed = text.replace("MyOrg:Administrator\"", "MyOrg:Administrators\"");
    assert!(
        !problems_of(dir.path(), &fixed)
            .iter()
            .any(|p| p.key == "route[0].require_access_group"),
    );
}

#[test]
fn strip_domain_true_is_flagged_and_a_domain_list_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let text = base_config(dir.path());
    let mapping_with = |strip: &str| {
        support::gateway::MAPPING.replace(
            "id = \"NameID\"",
            &format!("id = \"NameID\"\nstrip_domain = {strip}"),
        )
    };
    let mapping = mapping_with("true");
    std::fs::write(dir.path().join("mapping.toml"), &mapping).unwrap();
    let problems = problems_of(dir.path(), &text);
    let w = problems
        .iter()
        .find(|p| p.key == "operator.strip_domain")
        .unwrap_or_else(|| panic!("no strip_domain warning: {problems:?}"));
    assert_eq!(w.severity, Severity::Warning);
    assert!(w.file.ends_with("mapping.toml"));
    assert_eq!(w.line, Some(line_of(&mapping, "strip_domain")));
    assert!(
        w.message.contains("ANY domain") && w.message.contains("strip_domain = [\"example.com\"]"),
        "{}",
        w.message
    );
    std::fs::write(
        dir.path().join("mapping.toml"),
        mapping_with("[\"example.com\"]"),
    )
    .unwrap();
    assert!(
        !problems_of(dir.path(), &text)
            .iter()
            .any(|p| p.key == "operator.strip_domain")
    );
}

#[test]
fn acs_concurrency_is_bounded_and_defaults_to_one_per_event_loop() {
    let dir = tempfile::tempdir().unwrap();
    let text = base_config(dir.path());
    for (value, accepted) in [
        ("1", true),
        ("16", true),
        ("0", false),
        ("-1", false),
        ("100000", false),
    ] {
        let with = text.replace(
            "api_prefixes = [\"/api\"]",
            &format!("api_prefixes = [\"/api\"]\nacs_concurrency = {value}"),
        );
        let problems = problems_of(dir.path(), &with);
        let found = problems.iter().find(|p| p.key == "server.acs_concurrency");
        match (accepted, found) {
            (true, None) => {}
            (false, Some(e)) => {
                assert_eq!(e.severity, Severity::Error);
                assert_eq!(e.line, Some(line_of(&with, "acs_concurrency = ")));
                assert!(e.message.contains(value), "{}", e.message);
            }
            (_, found) => panic!("acs_concurrency = {value}: {found:?}"),
        }
    }
    let path = dir.path().join("samlgate.toml");
    let server = |t: &str| samlgate::config::load_str(t, &path).unwrap().config.server;
    let two = text.replace(
        "api_prefixes = [\"/api\"]",
        "api_prefixes = [\"/api\"]\nacs_concurrency = 2",
    );
    assert_eq!(server(&two).acs_validations().get(), 2);
    let three_loops = text.replace(
        "api_prefixes = [\"/api\"]",
        "api_prefixes = [\"/api\"]\nworkers = 3",
    );
    assert_eq!(server(&three_loops).acs_validations().get(), 3);
}

#[test]
fn backend_body_and_websocket_timeouts_have_defaults_and_must_be_positive_durations() {
    let dir = tempfile::tempdir().unwrap();
    let text = base_config(dir.path());
    let path = dir.path().join("samlgate.toml");
    let backend = |t: &str| samlgate::config::load_str(t, &path).unwrap().config.backend;
    type Read = fn(&samlgate::config::model::Backend) -> time::Duration;
    let keys: [(&str, Read, time::Duration); 2] = [
        (
            "body_timeout",
            |b| b.body_timeout,
            time::Duration::seconds(60),
        ),
        (
            "websocket_idle_timeout",
            |b| b.websocket_idle_timeout,
            time::Duration::hours(1),
        ),
    ];
    for (key, read, default) in keys {
        assert_eq!(read(&backend(&text)), default, "{key}");
        let url = "url = \"http://127.0.0.1:9\"";
        let with = |value: &str| text.replace(url, &format!("{url}\n{key} = {value}"));
        assert_eq!(
            read(&backend(&with("\"90s\""))),
            time::Duration::seconds(90),
            "{key}"
        );
        for bad in ["\"0s\"", "\"soon\""] {
            let bad_text = with(bad);
            let problems = problems_of(dir.path(), &bad_text);
            let problem = problems
                .iter()
                .find(|p| p.key == format!("backend.{key}"))
                .unwrap_or_else(|| panic!("{key} = {bad}: {problems:?}"));
            assert_eq!(problem.severity, Severity::Error);
            assert_eq!(problem.line, Some(line_of(&bad_text, &format!("{key} = "))));
        }
    }
}
