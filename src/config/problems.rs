//! A configuration problem names the file, the key and the line, so an admin can go straight to
//! it. Every problem found is reported together (oauth2-proxy style), not one per run.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::text::lines::line_of;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The gateway refuses to start.
    Error,
    /// Reported by `check` and at startup; the gateway still runs.
    Warning,
}

/// One problem with a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    pub file: PathBuf,
    /// Dotted key path, e.g. `idp[0].clock_skew`; empty for the whole file.
    pub key: String,
    /// 1-based line, when the problem has a place in the file.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}: {}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Collects problems while a file is read and validated.
#[derive(Debug)]
pub struct Problems {
    file: PathBuf,
    source: String,
    list: Vec<Problem>,
}

impl Problems {
    pub fn new(file: &Path, source: &str) -> Self {
        Problems {
            file: file.to_path_buf(),
            source: source.to_string(),
            list: Vec::new(),
        }
    }

    pub fn error(
        &mut self,
        key: impl Into<String>,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) {
        self.push(Severity::Error, key.into(), span, message.into());
    }

    pub fn warning(
        &mut self,
        key: impl Into<String>,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) {
        self.push(Severity::Warning, key.into(), span, message.into());
    }

    fn push(
        &mut self,
        severity: Severity,
        key: String,
        span: Option<Range<usize>>,
        message: String,
    ) {
        let line = span.map(|s| line_of(&self.source, s.start));
        self.list.push(Problem {
            severity,
            file: self.file.clone(),
            key,
            line,
            message,
        });
    }

    /// A problem located in another file (a mapping table), with its own line.
    pub fn external(
        &mut self,
        severity: Severity,
        file: &Path,
        line: usize,
        key: String,
        message: String,
    ) {
        self.list.push(Problem {
            severity,
            file: file.to_path_buf(),
            key,
            line: Some(line),
            message,
        });
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|p| p.severity == Severity::Error)
    }

    /// Every problem, errors first, then by file (the configuration file before the files it
    /// names) and line, so that a file reads top to bottom.
    pub fn into_vec(self) -> Vec<Problem> {
        let mut list = self.list;
        let main = self.file;
        list.sort_by(|a, b| {
            let rank = |p: &Problem| {
                (
                    p.severity != Severity::Error,
                    p.file != main,
                    p.file.clone(),
                    p.line,
                )
            };
            rank(a).cmp(&rank(b))
        });
        list
    }
}

/// The configuration cannot be used: every error (and warning) found.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = self
            .problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count();
        writeln!(f, "configuration refused: {errors} error(s)")?;
        for p in &self.problems {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_display_names_file_line_and_key() {
        let mut p = Problems::new(Path::new("/etc/samlgate.toml"), "x\ny = 1\n");
        p.error(
            "idp[0].clock_skew",
            Some(2..3),
            "600s is over the maximum of 300s",
        );
        let list = p.into_vec();
        assert_eq!(
            list[0].to_string(),
            "error: /etc/samlgate.toml:2: idp[0].clock_skew: 600s is over the maximum of 300s"
        );
    }
}
