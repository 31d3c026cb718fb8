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

    proptest! {
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
