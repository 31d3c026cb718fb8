//! `[[oauth]]` and the routes' `require_scope` / `auth` / `pass_authorization`: what the
//! configuration accepts and refuses, each refusal naming the key and the line.

use samlgate::config::{self, JwksSource, Problem, Severity};
use samlgate::crypto::jws::JwsAlgorithm;

use crate::support::gateway::{Setup, write_config};

/// Load the tests' configuration with `extra` appended (and `routes`); its text and outcome.
fn load(extra: &str, routes: &str) -> (String, Result<config::Loaded, Vec<Problem>>) {
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup {
        extra_toml: extra.to_string(),
        routes: routes.to_string(),
        ..Setup::default()
    };
    let (path, _) = write_config(dir.path(), 8080, &setup);
    let text = std::fs::read_to_string(&path).unwrap();
    (text, config::load(&path).map_err(|e| e.problems))
}

fn errors(extra: &str, routes: &str) -> (String, Vec<Problem>) {
    let (text, result) = load(extra, routes);
    let problems = match result {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(p) => p
            .into_iter()
            .filter(|p| p.severity == Severity::Error)
            .collect(),
    };
    (text, problems)
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

/// The one error at `key`, on the line holding `needle`, saying `words`.
fn assert_refused(extra: &str, routes: &str, key: &str, needle: &str, words: &str) {
    let (text, problems) = errors(extra, routes);
    let p = problems
        .iter()
        .find(|p| p.key == key)
        .unwrap_or_else(|| panic!("no error at {key}: {problems:?}"));
    assert_eq!(p.line, Some(line_of(&text, needle)), "{p:?}");
    assert!(p.message.contains(words), "{}", p.message);
}

const ISSUER: &str = r#"
[[oauth]]
name = "corp-as"
issuer = "https://login.example.com"
audience = "https://api.example.com"
mapping = "mapping.toml"
"#;

#[test]
fn an_issuer_with_defaults_is_accepted() {
    let (_, result) = load(ISSUER, "");
    let config = result.unwrap().config;
    let issuer = &config.oauth[0];
    assert_eq!(issuer.name, "corp-as");
    assert_eq!(issuer.audiences, ["https://api.example.com"]);
    assert_eq!(
        issuer.keys,
        JwksSource::Discovery(
            "https://login.example.com/.well-known/openid-configuration"
                .parse()
                .unwrap()
        )
    );
    assert_eq!(issuer.clock_skew, time::Duration::seconds(180));
    assert!(issuer.algorithms.contains(&JwsAlgorithm::Es256));
    assert!(!issuer.require_at_jwt);
}

#[test]
fn keys_over_plain_http_to_another_host_are_refused() {
    let extra = format!("{ISSUER}jwks_uri = \"http://login.example.com/jwks\"\n");
    assert_refused(&extra, "", "oauth[0].jwks_uri", "jwks_uri", "https://");
    // Loopback is fine.
    let extra = format!("{ISSUER}jwks_uri = \"http://127.0.0.1:9000/jwks\"\n");
    assert!(load(&extra, "").1.is_ok());
}

#[test]
fn none_and_hmac_algorithms_are_refused() {
    for alg in ["none", "HS256"] {
        let extra = format!("{ISSUER}algorithms = [\"RS256\", \"{alg}\"]\n");
        assert_refused(
            &extra,
            "",
            "oauth[0].algorithms",
            "algorithms",
            "never accepted",
        );
    }
}

#[test]
fn settings_out_of_bounds_or_not_supported_are_refused() {
    let extra = format!("{ISSUER}clock_skew = \"10m\"\n");
    assert_refused(&extra, "", "oauth[0].clock_skew", "clock_skew", "maximum");
    let introspect = format!(
        "{ISSUER}introspection_endpoint = \"https://login.example.com/introspect\"\nclient_id = \"gw\"\n"
    );
    let extra = format!("{introspect}client_auth = \"tls_client_auth\"\n");
    let (_, problems) = errors(&extra, "");
    assert!(
        problems
            .iter()
            .any(|p| p.key == "oauth[0].client_cert" && p.message == "required key is missing"),
        "{problems:?}"
    );
    let extra = format!("{introspect}client_auth = \"mtls\"\n");
    assert_refused(
        &extra,
        "",
        "oauth[0].client_auth",
        "client_auth",
        "tls_client_auth",
    );
    let extra = format!("{introspect}client_secret_file = \"missing.secret\"\n");
    assert_refused(
        &extra,
        "",
        "oauth[0].client_secret_file",
        "client_secret_file",
        "cannot read",
    );
    let extra =
        format!("{introspect}client_auth = \"private_key_jwt\"\nclient_key = \"mapping.toml\"\n");
    assert_refused(
        &extra,
        "",
        "oauth[0].client_key",
        "client_key",
        "PEM private key",
    );
    let extra = format!("{ISSUER}client_id = \"gw\"\n");
    assert_refused(
        &extra,
        "",
        "oauth[0].client_id",
        "client_id",
        "only with introspection_endpoint",
    );
    let extra = format!("{ISSUER}require_typ = \"JWT\"\n");
    assert_refused(&extra, "", "oauth[0].require_typ", "require_typ", "at+jwt");
    let extra = format!("{ISSUER}audiences = [\"x\"]\n");
    assert_refused(&extra, "", "oauth[0].audiences", "audiences", "unknown key");
    let twice = format!("{ISSUER}{}", ISSUER.replace("corp-as", "other"));
    let (_, problems) = errors(&twice, "");
    assert!(
        problems.iter().any(|p| p.key == "oauth[1].issuer"),
        "{problems:?}"
    );
}

#[test]
fn route_scopes_need_a_bearer_only_route() {
    let route = "[[route]]\npath = \"/api/admin\"\nrequire_scope = [\"admin\"]\n";
    assert_refused(
        ISSUER,
        route,
        "route[0].require_scope",
        "require_scope",
        "auth = [\"bearer\"]",
    );
    let ok = "[[route]]\npath = \"/api/admin\"\nauth = [\"bearer\"]\nrequire_scope = [\"admin\"]\npass_authorization = true\n";
    let config = load(ISSUER, ok).1.unwrap().config;
    let route = &config.routes[0];
    assert_eq!(route.require_scope, ["admin"]);
    assert!(route.pass_authorization);
    let bad = "[[route]]\npath = \"/api\"\nauth = [\"cookie\"]\n";
    assert_refused(ISSUER, bad, "route[0].auth", "auth =", "not a credential");
    let quoted = "[[route]]\npath = \"/api\"\nauth = [\"bearer\"]\nrequire_scope = [\"a b\"]\n";
    assert_refused(
        ISSUER,
        quoted,
        "route[0].require_scope",
        "require_scope",
        "not a scope",
    );
}

#[test]
fn an_access_group_only_an_oauth_mapping_gives_is_not_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup {
        files: vec![(
            "api-mapping.toml".into(),
            "[access]\ndefault = \"api-users\"\n\n[[access.rule]]\nattribute = { client_id = \"ops\" }\naccess_group = \"api-admins\"\n".into(),
        )],
        extra_toml: ISSUER.replace("mapping.toml", "api-mapping.toml"),
        routes: "[[route]]\npath = \"/api/ops\"\nrequire_access_group = [\"api-admins\"]\n".into(),
        ..Setup::default()
    };
    let (path, _) = write_config(dir.path(), 8080, &setup);
    let loaded = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !loaded
            .warnings
            .iter()
            .any(|w| w.message.contains("no mapping table gives")),
        "{:?}",
        loaded.warnings
    );
    // A group no table gives is still warned about.
    let setup = Setup {
        routes: "[[route]]\npath = \"/api/ops\"\nrequire_access_group = [\"api-admin\"]\n".into(),
        ..setup
    };
    let (path, _) = write_config(dir.path(), 8080, &setup);
    let loaded = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.message.contains("did you mean \"api-admins\"")),
        "{:?}",
        loaded.warnings
    );
}
