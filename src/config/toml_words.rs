//! TOML mistakes in plain words: the key, what is wrong, and the line as it should be written.
//! The parser's own words ("invalid type: integer `180`, expected a string", "invalid float")
//! name neither the key nor the fix.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

/// Keys that hold a duration, written as text with a unit ("180s", "30m").
fn is_duration_key(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key);
    last.ends_with("_timeout") || last == "clock_skew"
}

/// A syntax error the parser found at byte `at` of `text`: (key, message), when the line is a
/// `key = value` whose value is unquoted text.
pub fn syntax_error(text: &str, at: usize, parser_says: &str) -> Option<(String, String)> {
    let (key, value) = assignment_at(text, at)?;
    if value.starts_with(['"', '\'', '[', '{']) {
        return None;
    }
    let fixed = format!("{} = \"{}\"", last_name(&key), value.replace('"', "\\\""));
    Some((
        key,
        format!("{value} is not a TOML value ({parser_says}): text goes in quotes, write {fixed}"),
    ))
}

/// A value of the wrong type: `at` is where the value starts, `parser_says` serde's message.
/// Returns (key, message); `None` when the place names no key (the caller keeps the parser's
/// words).
pub fn type_error(
    doc: &DeTable<'_>,
    text: &str,
    at: usize,
    parser_says: &str,
) -> Option<(String, String)> {
    let (key, span) = key_at(doc, "", at)?;
    let written = text.get(span)?.trim();
    let name = last_name(&key);
    let fix = if parser_says.contains("expected a string") {
        if is_duration_key(&key) && written.bytes().all(|b| b.is_ascii_digit()) {
            format!("a duration is text with a unit: write {name} = \"{written}s\"")
        } else {
            format!("this key takes text in quotes: write {name} = \"{written}\"")
        }
    } else if parser_says.contains("expected a boolean") {
        let bare = written.trim_matches(['"', '\'']);
        format!("write true or false without quotes, e.g. {name} = {bare}")
    } else if parser_says.contains("expected i64")
        || parser_says.contains("expected u64")
        || parser_says.contains("expected an integer")
    {
        let bare = written.trim_matches(['"', '\'']);
        format!("write a whole number without quotes, e.g. {name} = {bare}")
    } else if parser_says.contains("expected a sequence") {
        format!("this key takes a list: write {name} = [{written}]")
    } else {
        return Some((
            key,
            format!("{written} is the wrong kind of value: {parser_says}"),
        ));
    };
    Some((
        key,
        format!("{written} is the wrong kind of value ({parser_says}); {fix}"),
    ))
}

/// `text` with the assignment whose value holds byte `at` blanked out, so that the rest of the
/// file can be read on after a value of the wrong type and every such value reported in one
/// run. Blanked means every byte from the start of the key's line to the end of the value made
/// a space, line breaks kept: every other span and line number stays where it was in the
/// original (whose document `doc` is). `None` when no key's value holds `at`.
pub fn blank_assignment(doc: &DeTable<'_>, text: &str, at: usize) -> Option<String> {
    let (_, span) = key_at(doc, "", at)?;
    let line_start = text.get(..span.start)?.rfind('\n').map_or(0, |i| i + 1);
    let end = span.end.min(text.len());
    let mut out = String::with_capacity(text.len());
    out.push_str(text.get(..line_start)?);
    for c in text.get(line_start..end)?.chars() {
        if c == '\n' {
            out.push('\n');
        } else {
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        }
    }
    out.push_str(text.get(end..)?);
    Some(out)
}

fn last_name(key: &str) -> &str {
    let last = key.rsplit('.').next().unwrap_or(key);
    last.split('[').next().unwrap_or(last)
}

/// The dotted key (arrays of tables indexed: `idp[0].clock_skew`) whose value holds byte `at`,
/// and that value's span.
fn key_at(table: &DeTable<'_>, prefix: &str, at: usize) -> Option<(String, Range<usize>)> {
    for (k, v) in table.iter() {
        let name = if prefix.is_empty() {
            k.get_ref().to_string()
        } else {
            format!("{prefix}.{}", k.get_ref())
        };
        match v.get_ref() {
            DeValue::Table(inner) => {
                if let Some(found) = key_at(inner, &name, at) {
                    return Some(found);
                }
            }
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let DeValue::Table(inner) = item.get_ref()
                        && let Some(found) = key_at(inner, &format!("{name}[{i}]"), at)
                    {
                        return Some(found);
                    }
                }
                if v.span().contains(&at) {
                    return Some((name, v.span()));
                }
            }
            _ if v.span().contains(&at) => return Some((name, v.span())),
            _ => {}
        }
    }
    None
}

/// The `key = value` on the line holding byte `at`, with its section (`[server]`) prefixed:
/// read from the text, since a syntax error leaves no document to walk.
fn assignment_at(text: &str, at: usize) -> Option<(String, String)> {
    let before = text.get(..at.min(text.len()))?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text.get(line_start..)?.lines().next()?;
    let (key, value) = line.split_once('=')?;
    let key = key.trim();
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return None;
    }
    let value = value.split(" #").next().unwrap_or(value).trim();
    let section = before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(['[', ']']).trim().to_string());
    let key = match section {
        Some(section) => format!("{section}.{key}"),
        None => key.to_string(),
    };
    Some((key, value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn type_error_of(text: &str, needle: &str) -> (String, String) {
        let doc = DeTable::parse(text).unwrap();
        let at = text.find(needle).unwrap();
        type_error(
            doc.get_ref(),
            text,
            at,
            "invalid type: integer `180`, expected a string",
        )
        .unwrap()
    }

    #[test]
    fn a_duration_written_as_a_number_gets_its_unit() {
        let (key, message) = type_error_of(
            "[server]\nlisten = \"x\"\n\n[[idp]]\nname = \"a\"\nclock_skew = 180\n",
            "180",
        );
        assert_eq!(key, "idp[0].clock_skew");
        assert!(
            message.ends_with("write clock_skew = \"180s\""),
            "{message}"
        );
    }

    #[test]
    fn a_blanked_assignment_keeps_every_other_byte_and_line_where_it_was() {
        let text = "[a]\nx = 1\nname = \"Zoë\"\nlist = [\n  1,\n  2,\n]\ny = 2\n";
        let doc = DeTable::parse(text).unwrap();
        let blanked = blank_assignment(doc.get_ref(), text, text.find("\"Zo").unwrap()).unwrap();
        assert_eq!(blanked.len(), text.len());
        assert_eq!(
            blanked,
            "[a]\nx = 1\n             \nlist = [\n  1,\n  2,\n]\ny = 2\n"
        );
        // A value over several lines: its lines stay, empty.
        let again = blank_assignment(doc.get_ref(), &blanked, text.find("  2").unwrap()).unwrap();
        assert_eq!(again.lines().count(), text.lines().count());
        let rest = DeTable::parse(&again).unwrap();
        let keys: Vec<_> = match rest.get_ref().get("a").map(|v| v.get_ref()) {
            Some(DeValue::Table(a)) => a.iter().map(|(k, _)| k.get_ref().to_string()).collect(),
            other => panic!("{other:?}"),
        };
        assert_eq!(keys, ["x", "y"]);
        // Nothing to blank where no value is.
        assert!(blank_assignment(doc.get_ref(), text, 0).is_none());
    }

    #[test]
    fn an_unquoted_address_is_told_to_quote_it() {
        let text = "[server]\nlisten = 127.0.0.1:18090\n";
        let (key, message) =
            syntax_error(text, text.find("127").unwrap(), "invalid float").unwrap();
        assert_eq!(key, "server.listen");
        assert!(
            message.ends_with("write listen = \"127.0.0.1:18090\""),
            "{message}"
        );
    }
}
