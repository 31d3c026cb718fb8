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
    // serde stops at the first value of the wrong type; each one found is reported, blanked
    // out, and the file read again, so that one run lists them all (a bounded number of reads:
    // each blanks at least one more assignment).
    let mut reading = std::borrow::Cow::Borrowed(text);
    for _ in 0..MAX_TYPE_ERRORS {
        let e = match toml::from_str::<as_written::RawConfig>(&reading) {
            Ok(raw) if !p.has_errors() => return validated(raw, path, p),
            Ok(_) => break,
            Err(e) => e,
        };
        let at = e.span().map(|span| span.start);
        let explained =
            at.and_then(|at| toml_words::type_error(doc.get_ref(), text, at, e.message().trim()));
        match explained {
            Some((key, message)) => p.error(key, e.span(), message),
            None => p.error("", e.span(), e.message().to_string()),
        }
        match at.and_then(|at| toml_words::blank_assignment(doc.get_ref(), &reading, at)) {
            Some(next) if next != *reading => reading = std::borrow::Cow::Owned(next),
            _ => break,
        }
    }
    Err(ConfigError {
        problems: p.into_vec(),
    })
}

/// The most values of the wrong type reported from one file.
const MAX_TYPE_ERRORS: usize = 64;

/// The configuration as written, validated into the model.
fn validated(
    raw: as_written::RawConfig,
    path: &Path,
    mut p: problems::Problems,
) -> Result<Loaded, ConfigError> {
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
