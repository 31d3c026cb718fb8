//! `[session] store = "redis"`: what the configuration accepts and refuses, each refusal
//! naming the key and the line.

use std::path::Path;
use std::time::Duration;

use samlgate::config::{self, Problem, SessionStoreKind, Severity};

use crate::support::gateway::{Setup, write_config};

fn config_with_session(dir: &Path, session: &str) -> String {
    let setup = Setup {
        session: session.to_string(),
        ..Setup::default()
    };
    let (path, _) = write_config(dir, 8080, &setup);
    std::fs::read_to_string(path).unwrap()
}

fn load(session: &str) -> (String, Result<config::Loaded, Vec<Problem>>) {
    let dir = tempfile::tempdir().unwrap();
    let text = config_with_session(dir.path(), session);
    let result = config::load(&dir.path().join("samlgate.toml")).map_err(|e| e.problems);
    (text, result)
}

fn errors(session: &str) -> (String, Vec<Problem>) {
    let (text, result) = load(session);
    let problems = match result {
        Ok(_) => Vec::new(),
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

#[test]
fn redis_store_with_url_prefix_pool_and_timeouts_is_accepted() {
    let (_, result) = load(
        "store = \"redis\"\nurl = \"rediss://gw:s3cret@redis.internal:6380/3\"\nkey_prefix = \"samlgate-prod:\"\npool_size = 16\nconnect_timeout = \"3s\"\ncommand_timeout = \"2s\"",
    );
    let loaded = result.unwrap_or_else(|p| panic!("{p:?}"));
    let SessionStoreKind::Redis(settings) = &loaded.config.session.store else {
        panic!("expected the Redis store");
    };
    assert_eq!(settings.url, "rediss://gw:s3cret@redis.internal:6380/3");
    assert_eq!(settings.key_prefix, "samlgate-prod:");
    assert_eq!(settings.pool_size, 16);
    assert_eq!(settings.connect_timeout, Duration::from_secs(3));
    assert_eq!(settings.command_timeout, Duration::from_secs(2));
    let shown = format!("{settings:?}");
    assert!(
        !shown.contains("s3cret"),
        "password must not reach logs: {shown}"
    );
    assert!(
        loaded.warnings.iter().all(|w| w.key != "session.url"),
        "TLS to another host needs no warning: {:?}",
        loaded.warnings
    );
}

#[test]
fn redis_defaults_are_sane() {
    let (_, result) = load("store = \"redis\"\nurl = \"redis://127.0.0.1:6379\"");
    let loaded = result.unwrap_or_else(|p| panic!("{p:?}"));
    let SessionStoreKind::Redis(settings) = &loaded.config.session.store else {
        panic!("expected the Redis store");
    };
    assert_eq!(settings.key_prefix, "samlgate:");
    assert_eq!(settings.pool_size, 8);
    assert_eq!(settings.connect_timeout, Duration::from_secs(2));
    assert_eq!(settings.command_timeout, Duration::from_secs(1));
}

#[test]
fn memory_stays_the_default() {
    let (_, result) = load("");
    let loaded = result.unwrap_or_else(|p| panic!("{p:?}"));
    assert_eq!(loaded.config.session.store, SessionStoreKind::Memory);
}

#[test]
fn redis_without_a_url_is_refused_at_the_store_line() {
    let (text, errs) = errors("store = \"redis\"");
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].key, "session.store");
    assert_eq!(errs[0].line, Some(line_of(&text, "store = \"redis\"")));
    assert!(errs[0].message.contains("needs url"), "{}", errs[0].message);
}

#[test]
fn refuses_bad_urls_without_echoing_the_password() {
    for (url, why) in [
        ("http://gw:pw1234@redis:6379", "redis:// or rediss://"),
        ("redis://gw:pw1234@redis:6379/db1", "database number"),
        ("redis://gw:pw1234@redis:6379/300", "database number"),
        ("not a url", "not a URL"),
    ] {
        let (text, errs) = errors(&format!("store = \"redis\"\nurl = \"{url}\""));
        assert_eq!(errs.len(), 1, "{url}: {errs:?}");
        assert_eq!(errs[0].key, "session.url", "{url}");
        assert_eq!(
            errs[0].line,
            Some(line_of(&text, &format!("url = \"{url}\""))),
            "{url}"
        );
        assert!(errs[0].message.contains(why), "{url}: {}", errs[0].message);
        assert!(!errs[0].message.contains("pw1234"), "{}", errs[0].message);
    }
}

#[test]
fn warns_about_plain_redis_to_another_host() {
    let (_, result) = load("store = \"redis\"\nurl = \"redis://:pw1234@redis.internal:6379/0\"");
    let loaded = result.unwrap_or_else(|p| panic!("{p:?}"));
    let warning = loaded
        .warnings
        .iter()
        .find(|w| w.key == "session.url")
        .expect("a warning about plain TCP");
    assert!(warning.message.contains("rediss://"), "{}", warning.message);
    assert!(!warning.message.contains("pw1234"), "{}", warning.message);
}

#[test]
fn plain_redis_on_this_machine_is_not_warned_about_whatever_way_it_is_written() {
    for url in [
        "redis://127.0.0.1:6379/0",
        "redis://127.0.0.2",
        "redis://localhost:6379",
        "redis://[::1]:6379/1",
    ] {
        let (_, result) = load(&format!("store = \"redis\"\nurl = \"{url}\""));
        let loaded = result.unwrap_or_else(|p| panic!("{url}: {p:?}"));
        assert!(
            loaded.warnings.iter().all(|w| w.key != "session.url"),
            "{url}: {:?}",
            loaded.warnings
        );
    }
}

#[test]
fn refuses_prefixes_that_could_overlap_another_deployments_keys() {
    for prefix in ["", ":", "samlgate", "a:b:", "sg*:", "sg :"] {
        let (text, errs) = errors(&format!(
            "store = \"redis\"\nurl = \"redis://127.0.0.1\"\nkey_prefix = \"{prefix}\""
        ));
        assert_eq!(errs.len(), 1, "{prefix:?}: {errs:?}");
        assert_eq!(errs[0].key, "session.key_prefix");
        assert_eq!(errs[0].line, Some(line_of(&text, "key_prefix")));
    }
}

#[test]
fn refuses_pool_sizes_and_timeouts_out_of_range() {
    let (_, errs) = errors(
        "store = \"redis\"\nurl = \"redis://127.0.0.1\"\npool_size = 0\nconnect_timeout = \"0s\"\ncommand_timeout = \"5m\"",
    );
    let keys: Vec<&str> = errs.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        vec![
            "session.pool_size",
            "session.connect_timeout",
            "session.command_timeout"
        ]
    );
}

#[test]
fn redis_settings_with_the_memory_store_are_refused() {
    let (text, errs) = errors("store = \"memory\"\nurl = \"redis://127.0.0.1\"\npool_size = 4");
    let keys: Vec<(&str, Option<usize>)> = errs.iter().map(|p| (p.key.as_str(), p.line)).collect();
    assert_eq!(
        keys,
        vec![
            ("session.url", Some(line_of(&text, "url = \"redis"))),
            ("session.pool_size", Some(line_of(&text, "pool_size"))),
        ]
    );
}
