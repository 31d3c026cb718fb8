//! Is this input XML, or an encoding of it? What the command-line tools ask of a file before
//! they decide to base64-decode it.

/// After an optional UTF-8 byte-order mark and whitespace, the first byte is `<`.
pub fn looks_like_xml(raw: &[u8]) -> bool {
    let trimmed = raw
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(raw)
        .trim_ascii_start();
    trimmed.first() == Some(&b'<')
}

#[cfg(test)]
mod tests {
    use super::looks_like_xml;

    #[test]
    fn xml_after_a_byte_order_mark_and_whitespace_is_xml_and_base64_is_not() {
        assert!(looks_like_xml(b"<samlp:Response/>"));
        assert!(looks_like_xml(b"\xEF\xBB\xBF \n\t<x/>"));
        assert!(!looks_like_xml(b"PHNhbWxwOlJlc3BvbnNlLz4="));
        assert!(!looks_like_xml(b""));
        assert!(!looks_like_xml(b"\xEF\xBB\xBF"));
    }
}
