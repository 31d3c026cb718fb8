//! Group patterns (exact names, globs, regexes) and the index that tests all of a login's
//! groups against all of a table's patterns in one pass.
//!
//! Why an index: a login may carry hundreds of groups and a table may hold a hundred rules.
//! Testing rule by rule is groups x rules string comparisons. Instead, exact names go into a
//! hash map and globs and regexes into one `RegexSet`, so each group is looked at once and the
//! rules then read a bit per pattern.

use std::borrow::Cow;
use std::collections::HashMap;

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

/// Upper bound on the compiled size of one pattern: a table is admin-written, but a regex such
/// as `(a{1000}){1000}` should be a load error, not a gateway that eats its memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PatternKind {
    Exact,
    Glob,
    Regex,
}

#[derive(Clone, Debug)]
pub(crate) struct Pattern {
    pub kind: PatternKind,
    /// As written in the table.
    pub source: String,
    /// Globs and regexes, anchored at both ends: a pattern matches the whole group name.
    anchored: Option<Regex>,
}

impl Pattern {
    /// Whether this pattern matches every possible group name (`*`, `.*`, `.+`): rules after
    /// it cannot be reached by anyone who has a group at all. Sound because patterns are
    /// compiled with `.` matching newlines and empty group values are dropped before matching.
    pub fn matches_everything(&self) -> bool {
        match self.kind {
            PatternKind::Exact => false,
            PatternKind::Glob => !self.source.is_empty() && self.source.chars().all(|c| c == '*'),
            PatternKind::Regex => matches!(
                self.source.as_str(),
                ".*" | "^.*$" | "^.*" | ".*$" | ".+" | "^.+$"
            ),
        }
    }
}

/// Translates a glob (`*` any run, `?` one character, `[abc]`, `[a-z]`, `[!abc]`, `\` escapes
/// the next character) into a regex body. Errors say what is wrong with the glob.
pub(crate) fn glob_to_regex(glob: &str) -> Result<String, String> {
    if glob.is_empty() {
        return Err("it is empty".to_owned());
    }
    let mut out = String::with_capacity(glob.len() * 2);
    let mut chars = glob.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '\\' => match chars.next() {
                Some(next) => out.push_str(&regex::escape(&next.to_string())),
                None => return Err("it ends with a lone `\\`".to_owned()),
            },
            '[' => {
                let mut class = String::new();
                let mut negated = false;
                let mut closed = false;
                let mut first = true;
                let mut open_range = false;
                for k in chars.by_ref() {
                    open_range = false;
                    match k {
                        ']' => {
                            closed = true;
                            break;
                        }
                        '!' if first => negated = true,
                        '-' if !first && !class.is_empty() => {
                            class.push('-');
                            open_range = true;
                        }
                        other => class.push_str(&regex::escape(&other.to_string())),
                    }
                    first = false;
                }
                if !closed {
                    return Err("a `[` is never closed by `]`".to_owned());
                }
                if class.is_empty() {
                    return Err("`[]` matches no character".to_owned());
                }
                if open_range {
                    return Err("a range in `[...]` has no upper end".to_owned());
                }
                out.push('[');
                if negated {
                    out.push('^');
                }
                out.push_str(&class);
                out.push(']');
            }
            ']' => return Err("a `]` has no opening `[`".to_owned()),
            other => out.push_str(&regex::escape(&other.to_string())),
        }
    }
    Ok(out)
}

/// regex's syntax errors span several lines (the pattern, a caret, the error); a load error
/// is one line, so keep the `error: ...` part.
fn one_line(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map_or_else(|| text.replace('\n', " "), str::to_owned)
}

fn anchored(body: &str, ignore_case: bool) -> Result<Regex, regex::Error> {
    RegexBuilder::new(&format!("^(?:{body})$"))
        .case_insensitive(ignore_case)
        .dot_matches_new_line(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// All distinct patterns of a table, indexed for matching.
#[derive(Clone, Debug, Default)]
pub(crate) struct PatternIndex {
    patterns: Vec<Pattern>,
    ignore_case: bool,
    /// Exact names (lowercased when `ignore_case`) -> pattern id.
    exact: HashMap<String, usize>,
    /// Globs and regexes; `set_ids[i]` is the pattern id of the set's i-th regex.
    set: Option<RegexSet>,
    set_ids: Vec<usize>,
}

impl PatternIndex {
    pub fn new(ignore_case: bool) -> Self {
        PatternIndex {
            ignore_case,
            ..PatternIndex::default()
        }
    }

    fn fold<'a>(&self, s: &'a str) -> Cow<'a, str> {
        if self.ignore_case {
            Cow::Owned(s.to_lowercase())
        } else {
            Cow::Borrowed(s)
        }
    }

    /// Adds a pattern (or finds the same one added before) and returns its id. The error is
    /// the reason a glob or regex is bad.
    pub fn intern(&mut self, kind: PatternKind, source: &str) -> Result<usize, String> {
        if let Some(id) = self
            .patterns
            .iter()
            .position(|p| p.kind == kind && *self.fold(&p.source) == *self.fold(source))
        {
            return Ok(id);
        }
        let id = self.patterns.len();
        let anchored = match kind {
            PatternKind::Exact => {
                let key = self.fold(source).into_owned();
                self.exact.insert(key, id);
                None
            }
            PatternKind::Glob => {
                let body = glob_to_regex(source)?;
                Some(anchored(&body, self.ignore_case).map_err(|e| one_line(&e))?)
            }
            PatternKind::Regex => {
                if source.is_empty() {
                    return Err("it is empty".to_owned());
                }
                Some(anchored(source, self.ignore_case).map_err(|e| one_line(&e))?)
            }
        };
        if anchored.is_some() {
            self.set_ids.push(id);
        }
        self.patterns.push(Pattern {
            kind,
            source: source.to_owned(),
            anchored,
        });
        Ok(id)
    }

    /// Builds the combined regex set once every pattern is interned.
    pub fn finish(&mut self) -> Result<(), regex::Error> {
        let bodies: Vec<&str> = self
            .set_ids
            .iter()
            .filter_map(|id| self.patterns.get(*id))
            .filter_map(|p| p.anchored.as_ref().map(Regex::as_str))
            .collect();
        self.set = if bodies.is_empty() {
            None
        } else {
            Some(
                RegexSetBuilder::new(bodies)
                    .case_insensitive(self.ignore_case)
                    .dot_matches_new_line(true)
                    .size_limit(REGEX_SIZE_LIMIT.saturating_mul(16))
                    .build()?,
            )
        };
        Ok(())
    }

    pub fn get(&self, id: usize) -> Option<&Pattern> {
        self.patterns.get(id)
    }

    /// Whether pattern `id` matches one group name (used by the load-time rule analysis).
    pub fn matches(&self, id: usize, group: &str) -> bool {
        match self.patterns.get(id) {
            None => false,
            Some(p) => match &p.anchored {
                Some(re) => re.is_match(group),
                None => *self.fold(&p.source) == *self.fold(group),
            },
        }
    }

    /// For each pattern id: does at least one of `groups` match it?
    pub fn hits<S: AsRef<str>>(&self, groups: &[S]) -> Vec<bool> {
        let mut hits = vec![false; self.patterns.len()];
        let mut set_left = self.set_ids.len();
        for group in groups {
            let group = group.as_ref();
            if !self.exact.is_empty()
                && let Some(&id) = self.exact.get(self.fold(group).as_ref())
                && let Some(h) = hits.get_mut(id)
            {
                *h = true;
            }
            if set_left > 0
                && let Some(set) = &self.set
            {
                for i in set.matches(group).iter() {
                    if let Some(h) = self.set_ids.get(i).and_then(|id| hits.get_mut(*id))
                        && !*h
                    {
                        *h = true;
                        set_left -= 1;
                    }
                }
            }
        }
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_translation_table() {
        // (glob, name, matches)
        let cases = [
            ("Finance-*", "Finance-EU", true),
            ("Finance-*", "Finance-", true),
            ("Finance-*", "finance-EU", false),
            ("Finance-*", "XFinance-EU", false),
            ("team-?", "team-a", true),
            ("team-?", "team-ab", false),
            ("team-[abc]", "team-b", true),
            ("team-[abc]", "team-d", false),
            ("team-[!abc]", "team-d", true),
            ("team-[a-c]", "team-c", true),
            ("team-[a-c]", "team-d", false),
            ("a.b", "a.b", true),
            ("a.b", "axb", false),
            ("star\\*", "star*", true),
            ("star\\*", "stars", false),
            ("Ünï*", "Ünïcode", true),
            ("*", "anything at all", true),
            ("*", "two\nlines", true),
            ("x[-]y", "x-y", true),
        ];
        for (glob, name, expected) in cases {
            let mut idx = PatternIndex::new(false);
            let id = idx.intern(PatternKind::Glob, glob).unwrap();
            idx.finish().unwrap();
            assert_eq!(idx.matches(id, name), expected, "{glob} vs {name}");
            assert_eq!(idx.hits(&[name]), vec![expected], "{glob} vs {name} (set)");
        }
    }

    #[test]
    fn bad_globs_are_explained() {
        for (glob, reason) in [
            ("team-[abc", "never closed"),
            ("team-]", "no opening"),
            ("x\\", "lone"),
            ("[]", "no character"),
            ("[a-]", "no upper end"),
            ("[a-]]", "no upper end"),
            ("", "empty"),
        ] {
            let err = glob_to_regex(glob).unwrap_err();
            assert!(err.contains(reason), "{glob}: {err}");
        }
    }

    #[test]
    fn regexes_match_the_whole_group_name() {
        let mut idx = PatternIndex::new(false);
        let id = idx.intern(PatternKind::Regex, "proj-[0-9]+").unwrap();
        idx.finish().unwrap();
        assert!(idx.matches(id, "proj-42"));
        assert!(!idx.matches(id, "proj-42-old"));
        assert!(!idx.matches(id, "old-proj-42"));
    }

    #[test]
    fn same_pattern_is_interned_once() {
        let mut idx = PatternIndex::new(true);
        let a = idx.intern(PatternKind::Exact, "Admins").unwrap();
        let b = idx.intern(PatternKind::Exact, "ADMINS").unwrap();
        let c = idx.intern(PatternKind::Glob, "Admins").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn hits_mark_each_pattern_matched_by_some_group() {
        let mut idx = PatternIndex::new(false);
        let exact = idx.intern(PatternKind::Exact, "Admins").unwrap();
        let glob = idx.intern(PatternKind::Glob, "Fin-*").unwrap();
        let regex = idx.intern(PatternKind::Regex, "p[0-9]").unwrap();
        let never = idx.intern(PatternKind::Exact, "Nobody").unwrap();
        idx.finish().unwrap();
        let hits = idx.hits(&["x", "Fin-EU", "Admins", "p7", "Fin-US"]);
        assert!(hits[exact] && hits[glob] && hits[regex]);
        assert!(!hits[never]);
    }

    #[test]
    fn ignore_case_folds_non_ascii_too() {
        let mut idx = PatternIndex::new(true);
        let exact = idx.intern(PatternKind::Exact, "Müller-Team").unwrap();
        let glob = idx.intern(PatternKind::Glob, "ÉQUIPE-*").unwrap();
        idx.finish().unwrap();
        let hits = idx.hits(&["MÜLLER-TEAM", "équipe-paris"]);
        assert!(hits[exact] && hits[glob]);
    }
}
