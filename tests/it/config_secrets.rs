//! A secret kept out of the configuration file: `session.url_file` (a credential file) and
//! `session.url_env` (an environment variable), as `samlgate check` and the loader read them.

use std::path::Path;
use std::process::Command;

use samlgate::config::{self, SessionStoreKind};

use crate::support::gateway::{Setup, write_config};

fn with_session(dir: &Path, session: &str) -> std::path::PathBuf {
    let (path, _) = write_config(
        dir,
        8080,
        &Setup {
            session: session.to_string(),
            ..Setup::default()
        },
    );
    path
}

#[test]
fn the_redis_url_may_come_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("redis-url"),
        "rediss://gw:s3cret@redis.internal:6380/3\n",
    )
    .unwrap();
    let path = with_session(dir.path(), "store = \"redis\"\nurl_file = \"redis-url\"");
    let loaded = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let SessionStoreKind::Redis(settings) = &loaded.config.session.store else {
        panic!("expected the Redis store");
    };
    assert_eq!(settings.url, "rediss://gw:s3cret@redis.internal:6380/3");
}

#[test]
fn the_redis_url_may_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let path = with_session(
        dir.path(),
        "store = \"redis\"\nurl_env = \"SAMLGATE_TEST_REDIS_URL\"",
    );
    let check = |env: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_samlgate"));
        cmd.args(["check", "--config"]).arg(&path);
        cmd.env_remove("SAMLGATE_TEST_REDIS_URL");
        if let Some(v) = env {
            cmd.env("SAMLGATE_TEST_REDIS_URL", v);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, out) = check(Some("rediss://gw:s3cret@redis.internal:6380/3"));
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("s3cret"), "{out}");
    let (code, out) = check(None);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(
            "session.url_env: the environment variable SAMLGATE_TEST_REDIS_URL is not set"
        ),
        "{out}"
    );
}

#[test]
fn a_secret_given_two_ways_or_from_a_missing_file_is_refused_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = with_session(
        dir.path(),
        "store = \"redis\"\nurl = \"redis://127.0.0.1:6379/0\"\nurl_file = \"redis-url\"",
    );
    let problems = config::load(&path).unwrap_err().problems;
    assert!(
        problems
            .iter()
            .any(|p| p.key == "session.url" && p.message.contains("one way only")),
        "{problems:?}"
    );
    let path = with_session(dir.path(), "store = \"redis\"\nurl_file = \"nowhere\"");
    let problems = config::load(&path).unwrap_err().problems;
    assert!(
        problems
            .iter()
            .any(|p| p.key == "session.url_file" && p.message.contains("cannot read")),
        "{problems:?}"
    );
}

/// Without `--config`, `SAMLGATE_CONFIG` names the file, else /etc/samlgate/samlgate.toml.
#[test]
fn check_finds_the_configuration_through_samlgate_config_or_the_default_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = with_session(dir.path(), "");
    let out = Command::new(env!("CARGO_BIN_EXE_samlgate"))
        .arg("check")
        .env("SAMLGATE_CONFIG", &path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let help = Command::new(env!("CARGO_BIN_EXE_samlgate"))
        .args(["check", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("/etc/samlgate/samlgate.toml"), "{help}");
    assert!(help.contains("SAMLGATE_CONFIG"), "{help}");
}

#[test]
fn version_man_page_and_completions_come_from_the_binary() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_samlgate"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let version = run(&["--version"]);
    assert!(
        version.starts_with(&format!("samlgate {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    assert!(version.contains(", built 20"), "{version}");
    let man = run(&["man"]);
    assert!(man.contains(".TH samlgate 1"), "{man}");
    assert!(man.contains("serve"), "{man}");
    let bash = run(&["completions", "bash"]);
    assert!(bash.contains("_samlgate()"), "{bash}");
    assert!(bash.contains("verify"), "{bash}");
    let zsh = run(&["completions", "zsh"]);
    assert!(zsh.contains("#compdef samlgate"), "{zsh}");
}
