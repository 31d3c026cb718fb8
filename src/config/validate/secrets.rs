//! A secret (today the Redis URL, which carries its password) may stay out of the
//! configuration file: `<key>_file` names a file that holds it (a systemd credential, a
//! Kubernetes secret mount; one trailing newline is dropped), `<key>_env` the environment
//! variable that holds it. One of the three forms at most.

use std::path::Path;

use toml::Spanned;

use super::fields::resolve;
use crate::config::as_written::S;
use crate::config::problems::Problems;

/// The secret `key` from its value, its `_file` or its `_env` form, with the span of the form
/// used; `None` when none is given or when the one given cannot be read (reported).
pub fn secret(
    value: &S<String>,
    file: &S<String>,
    env: &S<String>,
    key: &str,
    base: &Path,
    p: &mut Problems,
) -> S<String> {
    let given = [value.is_some(), file.is_some(), env.is_some()]
        .iter()
        .filter(|g| **g)
        .count();
    if given > 1 {
        let span = file.as_ref().or(env.as_ref()).map(Spanned::span);
        p.error(
            key,
            span,
            format!("give {key} one way only: {key}, {key}_file or {key}_env"),
        );
        return None;
    }
    if let Some(v) = value {
        return Some(v.clone());
    }
    if let Some(f) = file {
        let path = resolve(base, f.get_ref());
        return match std::fs::read_to_string(&path) {
            Ok(text) => {
                let text = text.strip_suffix('\n').unwrap_or(&text);
                let text = text.strip_suffix('\r').unwrap_or(text);
                Some(Spanned::new(f.span(), text.to_string()))
            }
            Err(e) => {
                p.error(
                    format!("{key}_file"),
                    Some(f.span()),
                    format!("cannot read {}: {e}", path.display()),
                );
                None
            }
        };
    }
    if let Some(name) = env {
        return match std::env::var(name.get_ref()) {
            Ok(v) if !v.is_empty() => Some(Spanned::new(name.span(), v)),
            Ok(_) | Err(_) => {
                p.error(
                    format!("{key}_env"),
                    Some(name.span()),
                    format!(
                        "the environment variable {} is not set (or empty)",
                        name.get_ref()
                    ),
                );
                None
            }
        };
    }
    None
}
