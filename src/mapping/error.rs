//! Why a mapping table does not load. Every problem names the file, the line and the key, and
//! all problems of one file are reported together, so an admin fixes them in one pass.

use std::fmt;
use std::path::PathBuf;

/// What is wrong at one place of the table.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProblemKind {
    /// The TOML parser or the table's shape (unknown key, wrong type, missing key): toml's message.
    #[error("{0}")]
    Toml(String),
    #[error("bad regex {pattern:?}: {reason}")]
    BadRegex { pattern: String, reason: String },
    #[error("bad glob {pattern:?}: {reason}")]
    BadGlob { pattern: String, reason: String },
    #[error("bad template {template:?}: {reason}")]
    BadTemplate { template: String, reason: String },
    #[error("`default` and `deny = true` are both set: keep exactly one")]
    DefaultAndDeny,
    #[error(
        "neither `default = \"<access group>\"` nor `deny = true` is set: say what happens when no rule matches"
    )]
    NoFallback,
    #[error("rule #{index} has no condition (write `always = true` for a catch-all)")]
    RuleWithoutCondition { index: usize },
    #[error("rule #{index} has no `access_group`")]
    RuleWithoutAccessGroup { index: usize },
    #[error("`always = false` can never match: remove the key or the rule")]
    AlwaysFalse,
    #[error("rule #{index} has the same conditions as rule #{first} (line {first_line})")]
    DuplicateRule {
        index: usize,
        first: usize,
        first_line: usize,
    },
    #[error(
        "rule #{index} can never match: rule #{by} (line {by_line}) above it is a catch-all, and the first match wins"
    )]
    AfterCatchAll {
        index: usize,
        by: usize,
        by_line: usize,
    },
    #[error(
        "rule #{index} can never match: every login it matches already matches rule #{by} (line {by_line}) above it, and the first match wins"
    )]
    Shadowed {
        index: usize,
        by: usize,
        by_line: usize,
    },
    #[error("rule name {name:?} is already used by rule #{first} (line {first_line})")]
    DuplicateRuleName {
        name: String,
        first: usize,
        first_line: usize,
    },
    #[error("{what} is empty")]
    Empty { what: String },
    #[error("{what} {value:?} contains a control character or a comma")]
    BadAccessGroup { what: String, value: String },
    #[error("{name:?} is not a valid HTTP header name (letters, digits and `-` only)")]
    BadHeaderName { name: String },
    #[error("header {name:?} is one of the gateway's identity headers; pick another name")]
    ReservedHeader { name: String },
    #[error("header {name:?} is listed twice (header names ignore case)")]
    DuplicateHeader { name: String },
    #[error("rules test groups but `groups` lists no attribute to read them from")]
    NoGroupSource,
}

/// One problem, located.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line in the file.
    pub line: usize,
    /// Dotted key, e.g. `access.rule[2].group_regex` (rules counted from 1).
    pub key: String,
    pub kind: ProblemKind,
}

/// A mapping table that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MappingLoadError {
    #[error("mapping table {}: cannot read it: {source}", file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", Rendered { file, problems })]
    Invalid {
        file: PathBuf,
        problems: Vec<Problem>,
    },
}

impl MappingLoadError {
    /// The located problems (empty for a read error).
    pub fn problems(&self) -> &[Problem] {
        match self {
            MappingLoadError::Read { .. } => &[],
            MappingLoadError::Invalid { problems, .. } => problems,
        }
    }
}

struct Rendered<'a> {
    file: &'a PathBuf,
    problems: &'a [Problem],
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(
                f,
                "mapping table {} line {}, key `{}`: {}",
                self.file.display(),
                p.line,
                p.key,
                p.kind
            )?;
        }
        Ok(())
    }
}

/// Something that loads but is probably not what the admin meant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub file: PathBuf,
    pub line: usize,
    pub key: String,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "mapping table {} line {}, key `{}`: {}",
            self.file.display(),
            self.line,
            self.key,
            self.message
        )
    }
}
