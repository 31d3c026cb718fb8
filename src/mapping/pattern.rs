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

use super::fasthash::FastBuildHasher;

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
                        other => {
                            class.push_str(&regex::escape(&other.to_string()));
                            open_range = false;
                        }
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

/// The character every name matching this glob starts with, if there is one.
fn glob_first_char(glob: &str) -> Option<char> {
    let mut chars = glob.chars();
    match chars.next()? {
        '*' | '?' | '[' => None,
        '\\' => chars.next(),
        c => Some(c),
    }
}

/// The character every name matching this regex starts with, when that is plain to see:
/// a literal first character (after an optional `^`) that no quantifier makes optional, in a
/// regex with no `|` outside parentheses and no leading flag group. Anything else: `None`
/// (the prefilter then lets every group through, which is always correct).
fn regex_first_char(regex: &str) -> Option<char> {
    let body = regex.strip_prefix('^').unwrap_or(regex);
    let mut chars = body.chars();
    let first = chars.next()?;
    if !(first.is_alphanumeric() || " -_=:/@,;'\"<>!%&~#`".contains(first)) {
        return None;
    }
    if matches!(chars.next(), Some('?' | '*' | '{')) {
        return None;
    }
    // A top-level alternation could start with anything; count parentheses, skipping
    // escapes and character classes.
    let mut depth = 0usize;
    let mut in_class = false;
    let mut escaped = false;
    for c in body.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '(' if !in_class => depth += 1,
            ')' if !in_class => depth = depth.saturating_sub(1),
            '|' if !in_class && depth == 0 => return None,
            _ => {}
        }
    }
    Some(first)
}

fn anchored(body: &str, ignore_case: bool) -> Result<Regex, regex::Error> {
    RegexBuilder::new(&format!("^(?:{body})$"))
        .case_insensitive(ignore_case)
        .dot_matches_new_line(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// All distinct patterns of a table, indexed for matching.
#[derive(Clone, Debug)]
pub(crate) struct PatternIndex {
    patterns: Vec<Pattern>,
    ignore_case: bool,
    /// Exact names (lowercased when `ignore_case`) -> pattern id.
    exact: HashMap<String, usize, FastBuildHasher>,
    /// Prefilter: the byte lengths of the exact names (folded), so a group of another
    /// length skips the hash lookup. Lengths of 256 and more share the last slot.
    exact_lengths: Box<[bool; 257]>,
    /// Globs and regexes; `set_ids[i]` is the pattern id of the set's i-th regex.
    set: Option<RegexSet>,
    set_ids: Vec<usize>,
    /// Prefilter: the bytes a group name may start with to match some glob or regex, or
    /// `None` when some pattern may start with anything. Most groups of a real login match no
    /// pattern, and most are ruled out by their first byte without running the set.
    first_bytes: Option<Box<[bool; 256]>>,
}

impl PatternIndex {
    pub fn new(ignore_case: bool) -> Self {
        PatternIndex {
            patterns: Vec::new(),
            ignore_case,
            exact: HashMap::default(),
            exact_lengths: Box::new([false; 257]),
            set: None,
            set_ids: Vec::new(),
            first_bytes: None,
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
                if let Some(slot) = self.exact_lengths.get_mut(key.len().min(256)) {
                    *slot = true;
                }
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
        let mut table = Box::new([false; 256]);
        let mut bounded = true;
        for p in self.set_ids.iter().filter_map(|id| self.patterns.get(*id)) {
            let first = match p.kind {
                PatternKind::Glob => glob_first_char(&p.source),
                PatternKind::Regex => regex_first_char(&p.source),
                PatternKind::Exact => None,
            };
            let Some(c) = first else {
                bounded = false;
                break;
            };
            if self.ignore_case && !c.is_ascii() {
                bounded = false;
                break;
            }
            let mut buf = [0u8; 4];
            let variants = if self.ignore_case {
                [c.to_ascii_lowercase(), c.to_ascii_uppercase()]
            } else {
                [c, c]
            };
            for v in variants {
                if let Some(b) = v.encode_utf8(&mut buf).as_bytes().first()
                    && let Some(slot) = table.get_mut(usize::from(*b))
                {
                    *slot = true;
                }
            }
        }
        if self.ignore_case {
            // Unicode case folding maps some non-ASCII characters onto ASCII letters (the
            // Kelvin sign onto `k`, long s onto `s`): let every non-ASCII start through.
            for slot in table.iter_mut().skip(0x80) {
                *slot = true;
            }
        }
        self.first_bytes = bounded.then_some(table);
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

    fn may_match_exact(&self, group: &str) -> bool {
        if self.exact.is_empty() {
            return false;
        }
        // Folding non-ASCII text may change its length (`İ` lowercases to two characters).
        if self.ignore_case && !group.is_ascii() {
            return true;
        }
        self.exact_lengths
            .get(group.len().min(256))
            .copied()
            .unwrap_or(true)
    }

    fn may_match_set(&self, group: &str) -> bool {
        match (&self.first_bytes, group.as_bytes().first()) {
            (None, _) => true,
            (Some(table), Some(b)) => table.get(usize::from(*b)).copied().unwrap_or(true),
            (Some(_), None) => true,
        }
    }

    /// For each pattern id: does at least one of `groups` match it?
    pub fn hits<S: AsRef<str>>(&self, groups: &[S]) -> Vec<bool> {
        let mut hits = vec![false; self.patterns.len()];
        let mut set_left = self.set_ids.len();
        for group in groups {
            let group = group.as_ref();
            if self.may_match_exact(group)
                && let Some(&id) = self.exact.get(self.fold(group).as_ref())
                && let Some(h) = hits.get_mut(id)
            {
                *h = true;
            }
            if set_left > 0
                && let Some(set) = &self.set
                && self.may_match_set(group)
                && set.is_match(group)
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
mod tests;
