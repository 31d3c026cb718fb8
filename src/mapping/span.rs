//! Byte offsets (from `toml::Spanned` and toml's errors) to what an admin looks for: a line
//! number and a dotted key such as `access.rule[3].group_regex` (rules counted from 1).

use std::ops::Range;

use crate::text::lines::line_of;

/// The table's text, kept while loading so errors can point into it.
pub(crate) struct Source<'a> {
    text: &'a str,
}

impl<'a> Source<'a> {
    pub fn new(text: &'a str) -> Self {
        Source { text }
    }

    /// 1-based line of a byte offset (offsets past the end count as the last line).
    pub fn line(&self, offset: usize) -> usize {
        line_of(self.text, offset)
    }

    pub fn line_of(&self, span: &Range<usize>) -> usize {
        self.line(span.start)
    }

    /// The text a span covers, if the span is valid for this text.
    pub fn slice(&self, span: &Range<usize>) -> Option<&'a str> {
        self.text.get(span.clone())
    }

    /// The dotted path of the table that holds `offset`: the nearest `[header]` or
    /// `[[header]]` above it, with the array index of a `[[header]]` counted from 1.
    /// A heuristic over lines, good for messages; empty for top-level keys.
    pub fn table_path(&self, offset: usize) -> String {
        let mut path = String::new();
        let mut array_counts: Vec<(String, usize)> = Vec::new();
        let mut pos = 0usize;
        for line in self.text.split_inclusive('\n') {
            if pos > offset {
                break;
            }
            pos += line.len();
            let t = line.trim();
            if let Some(inner) = t.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
                let name = inner.trim().to_owned();
                let n = match array_counts.iter_mut().find(|(k, _)| *k == name) {
                    Some((_, c)) => {
                        *c += 1;
                        *c
                    }
                    None => {
                        array_counts.push((name.clone(), 1));
                        1
                    }
                };
                path = format!("{name}[{n}]");
            } else if let Some(inner) = t.strip_prefix('[').and_then(|r| r.split(']').next()) {
                path = inner.trim().to_owned();
            }
        }
        path
    }

    /// The key written on the line of `offset` (`key = value`), if there is one.
    pub fn key_on_line(&self, offset: usize) -> Option<String> {
        let start = self
            .text
            .get(..offset.min(self.text.len()))?
            .rfind('\n')
            .map_or(0, |p| p + 1);
        let line = self.text.get(start..)?.lines().next()?;
        let (key, _) = line.split_once('=')?;
        let key = key.trim().trim_matches('"').trim_matches('\'');
        if key.is_empty() || key.starts_with('#') || key.starts_with('[') {
            return None;
        }
        Some(key.to_owned())
    }

    /// `table.key`, or `key` at the top level.
    pub fn join(table: &str, key: &str) -> String {
        if table.is_empty() {
            key.to_owned()
        } else if key.is_empty() {
            table.to_owned()
        } else {
            format!("{table}.{key}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "a = 1\n[access]\ndefault = \"x\"\n[[access.rule]]\ngroup = \"A\"\n[[access.rule]]\ngroup_regex = \"((\"\n";

    #[test]
    fn lines_are_counted_from_one() {
        let s = Source::new(TEXT);
        assert_eq!(s.line(0), 1);
        assert_eq!(s.line(TEXT.find("default").unwrap()), 3);
        assert_eq!(s.line(TEXT.find("((").unwrap()), 7);
        assert_eq!(s.line(10_000), 8);
    }

    #[test]
    fn table_path_counts_array_tables_from_one() {
        let s = Source::new(TEXT);
        assert_eq!(s.table_path(0), "");
        assert_eq!(s.table_path(TEXT.find("default").unwrap()), "access");
        assert_eq!(
            s.table_path(TEXT.find("group =").unwrap()),
            "access.rule[1]"
        );
        assert_eq!(s.table_path(TEXT.find("((").unwrap()), "access.rule[2]");
    }

    #[test]
    fn key_on_line_reads_the_key_left_of_the_equals_sign() {
        let s = Source::new(TEXT);
        assert_eq!(
            s.key_on_line(TEXT.find("((").unwrap()).as_deref(),
            Some("group_regex")
        );
        assert_eq!(s.key_on_line(TEXT.find("[access]").unwrap()), None);
    }
}
