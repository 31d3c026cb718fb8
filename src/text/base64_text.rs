//! Base64 text as SAML carries it: the HTTP-POST binding's form value and XML-DSig's
//! DigestValue and SignatureValue, which IdPs may wrap with line breaks and spaces.

use std::borrow::Cow;

/// True for the bytes `u8::is_ascii_whitespace` accepts: space, tab, line feed, form feed,
/// carriage return.
fn is_whitespace(b: u8) -> bool {
    b.is_ascii_whitespace()
}

/// The position of the first ASCII whitespace byte of `bytes`, found by two vectorized scans
/// (most values have none, or one line break every 64 or 76 characters).
fn first_whitespace(bytes: &[u8]) -> Option<usize> {
    let common = memchr::memchr3(b'\n', b'\r', b' ', bytes);
    let limit = common.unwrap_or(bytes.len());
    let rare = bytes
        .get(..limit)
        .and_then(|head| memchr::memchr2(b'\t', 0x0C, head));
    rare.or(common)
}

/// `value` without its ASCII whitespace: borrowed when it has none, else copied run by run.
pub fn without_whitespace(value: &[u8]) -> Cow<'_, [u8]> {
    let Some(first) = first_whitespace(value) else {
        return Cow::Borrowed(value);
    };
    let mut out = Vec::with_capacity(value.len());
    let mut rest = value;
    let mut next = Some(first);
    while let Some(i) = next {
        let (run, tail) = rest.split_at_checked(i).unwrap_or((rest, &[]));
        out.extend_from_slice(run);
        let skip = tail
            .iter()
            .position(|b| !is_whitespace(*b))
            .unwrap_or(tail.len());
        rest = tail.get(skip..).unwrap_or_default();
        next = first_whitespace(rest);
    }
    out.extend_from_slice(rest);
    Cow::Owned(out)
}

/// Decode standard, padded base64 text after removing its ASCII whitespace.
///
/// The HTTP-POST binding's value is the largest input the ACS decodes (a signed Response is 8 to
/// 12 KB of base64), and a vectorized decoder takes it in about a fifth of the time of a
/// byte-by-byte one. The two decoders accept exactly the same text (the tests compare them); a
/// refusal is described by the `base64` crate, whose messages name the offending byte and its
/// offset, for the log line.
pub fn decode(value: &[u8]) -> Result<Vec<u8>, String> {
    let compact = without_whitespace(value);
    base64_simd::STANDARD
        .decode_to_vec(&compact)
        .map_err(|_| refusal_reason(&compact))
}

/// Why `compact` (no whitespace) is not base64, in the words of the `base64` crate.
fn refusal_reason(compact: &[u8]) -> String {
    use base64::Engine as _;
    match base64::engine::general_purpose::STANDARD.decode(compact) {
        Err(e) => e.to_string(),
        // Not reached while the two decoders agree (tested); still a refusal if they ever do not.
        Ok(_) => "not canonical base64".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn whitespace_is_removed_wherever_it_is() {
        assert_eq!(&*without_whitespace(b"abc"), b"abc");
        assert!(matches!(without_whitespace(b"abc"), Cow::Borrowed(_)));
        assert_eq!(&*without_whitespace(b" a\tb\nc\x0Cd\re \r\n"), b"abcde");
        assert_eq!(&*without_whitespace(b""), b"");
        assert_eq!(&*without_whitespace(b"\r\n\t \x0C"), b"");
        // Vertical tab is not ASCII whitespace for u8::is_ascii_whitespace.
        assert_eq!(&*without_whitespace(b"a\x0Bb"), b"a\x0Bb");
    }

    /// The reference: whitespace filtered byte by byte, then the `base64` crate's strict decoder.
    fn reference_decode(value: &[u8]) -> Option<Vec<u8>> {
        use base64::Engine as _;
        let compact: Vec<u8> = value
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(compact)
            .ok()
    }

    #[test]
    fn decodes_what_idps_send_and_refuses_the_rest() {
        assert_eq!(decode(b"PHg+PC94Pg==").as_deref(), Ok(&b"<x></x>"[..]));
        assert_eq!(
            decode(b"PHg+\r\nPC94\r\nPg==\n").as_deref(),
            Ok(&b"<x></x>"[..])
        );
        assert_eq!(decode(b"").as_deref(), Ok(&b""[..]));
        // Missing padding, a URL-safe symbol, padding inside, bits after the last symbol.
        for bad in [
            &b"PHg+PC94Pg"[..],
            b"PHg-PC94Pg==",
            b"PH==PC94Pg==",
            b"PHg+PC94Ph==",
        ] {
            let reason = decode(bad).expect_err("refused");
            assert!(!reason.is_empty(), "{bad:?}");
            assert!(reference_decode(bad).is_none(), "{bad:?}");
        }
        // The reason names what is wrong, for the log.
        assert!(decode(b"PHg-PC94").expect_err("refused").contains("45"));
    }

    /// Base64 text of `bytes` with some of its symbols changed to `edits` (each an offset and a
    /// byte) and whitespace inserted: mostly valid text near the edges a decoder gets wrong.
    fn edited(bytes: &[u8], edits: &[(usize, u8)], breaks: &[usize]) -> Vec<u8> {
        use base64::Engine as _;
        let mut text = base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .into_bytes();
        for (at, b) in edits {
            if !text.is_empty() {
                let at = at % text.len();
                if let Some(slot) = text.get_mut(at) {
                    *slot = *b;
                }
            }
        }
        for at in breaks {
            let at = at % (text.len() + 1);
            text.insert(at, b'\n');
        }
        text
    }

    proptest! {
        #[test]
        fn decode_agrees_with_the_base64_crate(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
            edits in proptest::collection::vec((any::<usize>(), prop_oneof![
                Just(b'='), Just(b'A'), Just(b'/'), Just(b'+'), Just(b'-'), Just(b'_'), any::<u8>()
            ]), 0..3),
            breaks in proptest::collection::vec(any::<usize>(), 0..3),
        ) {
            let text = edited(&bytes, &edits, &breaks);
            prop_assert_eq!(decode(&text).ok(), reference_decode(&text));
        }

        #[test]
        fn decode_agrees_on_arbitrary_bytes(value in proptest::collection::vec(
            prop_oneof![Just(b'='), Just(b'A'), Just(b'Q'), Just(b'g'), Just(b'/'), Just(b' '), any::<u8>()],
            0..80,
        )) {
            prop_assert_eq!(decode(&value).ok(), reference_decode(&value));
        }

        #[test]
        fn same_as_filtering_byte_by_byte(value in proptest::collection::vec(
            prop_oneof![Just(b' '), Just(b'\t'), Just(b'\n'), Just(0x0C), Just(b'\r'), Just(0x0B), any::<u8>(), Just(b'A')],
            0..300,
        )) {
            let expected: Vec<u8> = value.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
            prop_assert_eq!(&*without_whitespace(&value), &expected[..]);
        }
    }
}
