//! The one escaper for text written into XML or HTML: element content and double- or
//! single-quoted attribute values alike.

/// `s` with `&`, `<`, `>`, `"` and `'` written as references, and a carriage return as `&#13;`
/// (a literal one would be normalized to a newline by the reader). `'` becomes `&#39;`, which
/// HTML and XML both read.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn every_markup_character_becomes_a_reference() {
        assert_eq!(
            escape("<a href=\"x\" title='y'>R&D\r\n</a>"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;R&amp;D&#13;\n&lt;/a&gt;"
        );
    }

    #[test]
    fn text_without_markup_is_unchanged() {
        assert_eq!(escape("José Müller, Zürich"), "José Müller, Zürich");
    }
}
