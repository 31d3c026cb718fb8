//! Configuration: the TOML file, read once and validated up front. Every problem is reported
//! together with file, key and line; a configuration that would fail open is refused.
//!
//! - [`as_written`]: the file as written (spanned, all optional)
//! - [`schema`]: unknown keys
//! - [`validate`]: as written -> [`Config`], one file per section, fail-open refusals, certificate
//!   expiry warnings
//! - [`model`]: the validated [`Config`] the gateway runs on; [`backend_url`]: a backend URL the
//!   proxy can use
//! - [`problems`]: what is wrong, where; [`duration`]: `30m`, `8h` as admins write them
//!
//! `samlgate check` is `cli::check`.

pub mod as_written;
pub mod backend_url;
pub mod duration;
pub mod model;
pub mod problems;
pub mod schema;
pub mod toml_words;
pub mod validate;

use std::path::Path;

pub use backend_url::{BackendUrl, BackendUrlError};
pub use model::*;
pub use problems::{ConfigError, Problem, Severity};

/// A usable configuration and the warnings found while reading it.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Problem>,
}

/// Read and validate the configuration file at `path`.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        problems: vec![Problem {
            severity: Severity::Error,
            file: path.to_path_buf(),
            key: String::new(),
            line: None,
            message: format!("cannot read the configuration file: {e}"),
        }],
    })?;
    load_str(&text, path)
}

/// Validate configuration `text` as if read from `path` (relative paths resolve against its folder).
pub fn load_str(text: &str, path: &Path) -> Result<Loaded, ConfigError> {
    let mut p = problems::Problems::new(path, text);
    let doc = match toml::de::DeTable::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let explained = e
                .span()
                .and_then(|span| toml_words::syntax_error(text, span.start, e.message().trim()));
            match explained {
                Some((key, message)) => p.error(key, e.span(), message),
                None => p.error("", e.span(), format!("not valid TOML: {}", e.message())),
            }
            return Err(ConfigError {
                problems: p.into_vec(),
            });
        }
    };
    schema::check_unknown_keys(doc.get_ref(), &mut p);
    if p.has_errors() {
        return Err(ConfigError {
            problems: p.into_vec(),
        });
    }
    let raw: as_written::RawConfig = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let explained = e.span().and_then(|span| {
                toml_words::type_error(doc.get_ref(), text, span.start, e.message().trim())
            });
            match explained {
                Some((key, message)) => p.error(key, e.span(), message),
                None => p.error("", e.span(), e.message().to_string()),
            }
            return Err(ConfigError {
                problems: p.into_vec(),
            });
        }
    };
    match validate::validate(raw, path, &mut p) {
        Some(config) if !p.has_errors() => Ok(Loaded {
            config,
            warnings: p.into_vec(),
        }),
        _ => Err(ConfigError {
            problems: p.into_vec(),
        }),
    }
}
