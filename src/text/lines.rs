//! Byte offsets (from `toml::Spanned`, a parser's error) to the line an admin opens the file at.

/// 1-based line number of a byte offset (offsets past the end count as the last line).
pub fn line_of(source: &str, offset: usize) -> usize {
    let end = offset.min(source.len());
    source
        .as_bytes()
        .get(..end)
        .map(|b| b.iter().filter(|c| **c == b'\n').count())
        .unwrap_or(0)
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_start_at_one_and_count_newlines() {
        let src = "a = 1\nb = 2\nc = 3\n";
        assert_eq!(line_of(src, 0), 1);
        assert_eq!(line_of(src, 6), 2);
        assert_eq!(line_of(src, 12), 3);
        assert_eq!(line_of(src, 10_000), 4);
    }
}
