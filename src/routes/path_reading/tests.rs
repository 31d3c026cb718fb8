//! Unit tests of `routes::path_reading`, compiled only under #[cfg(test)] (the parent declares `mod tests;`).
use std::collections::BTreeSet;

use super::*;

fn refusal(raw: &str) -> RefusalReason {
    match PathReading::new(raw) {
        Ok(reading) => panic!("{raw:?} was accepted as {:?}", reading.path()),
        Err(refusal) => refusal.reason().clone(),
    }
}

fn readings(raw: &str) -> Vec<String> {
    PathReading::new(raw)
        .unwrap_or_else(|e| panic!("{e}"))
        .readings()
        .map(Cow::into_owned)
        .collect()
}

#[test]
fn reads_an_ordinary_path_without_copying_it() {
    for raw in [
        "/",
        "/app",
        "/app/reports/2026/",
        "/.well-known/x",
        "/a-b_c~d!$&'()*+,=:@",
    ] {
        let reading = PathReading::new(raw).unwrap();
        assert!(
            matches!(reading.path, Cow::Borrowed(p) if p == raw),
            "{raw}"
        );
        assert!(reading.decoded.is_none() && reading.rewritten().is_none());
        assert_eq!(readings(raw), [raw]);
    }
}

#[test]
fn merges_repeated_slashes_and_forwards_the_merged_path() {
    for (raw, merged) in [
        ("//admin", "/admin"),
        ("/admin//x", "/admin/x"),
        ("/admin///", "/admin/"),
        ("//", "/"),
        ("/%61dmin//x", "/%61dmin/x"),
    ] {
        let reading = PathReading::new(raw).unwrap();
        assert_eq!(reading.rewritten(), Some(merged), "{raw}");
        assert_eq!(reading.path(), merged);
    }
    assert_eq!(readings("/%61dmin//x"), ["/admin/x", "/%61dmin/x"]);
}

#[test]
fn refuses_dot_segments() {
    for raw in [
        "/x/../admin",
        "/./admin/x",
        "/admin/.",
        "/admin/..",
        "/..",
        "/public/../admin",
    ] {
        assert_eq!(refusal(raw), RefusalReason::DotSegment, "{raw}");
    }
    // Dots inside a name are names.
    assert!(PathReading::new("/a.b/..c/c../...").is_ok());
}

/// A server that decodes before it finds the query reads `/.%3F` as `/.`: a dot segment that
/// only an escaped `?` or `#` makes (found by the property test below).
#[test]
fn refuses_a_dot_segment_that_an_escaped_query_or_fragment_would_leave() {
    for raw in ["/.%3f", "/.%3F", "/..%3Fx", "/admin/..%23top", "/a/.%3f;p"] {
        assert_eq!(refusal(raw), RefusalReason::DotSegment, "{raw}");
    }
    // A name before the escape stays a name.
    assert!(PathReading::new("/a.%3F").is_ok());
    assert!(PathReading::new("/..a%3Fx").is_ok());
}

#[test]
fn refuses_dot_segment_with_params() {
    for raw in [
        "/admin/..;/",
        "/admin/..;/healthcheck",
        "/admin/.;x/",
        "/..;/admin",
        "/public/..;jsessionid=1/admin",
        "/admin/x/.;",
    ] {
        assert_eq!(refusal(raw), RefusalReason::DotSegmentWithParams, "{raw}");
    }
}

#[test]
fn refuses_backslashes_raw_or_encoded() {
    assert_eq!(refusal("/admin/x\\..\\..\\"), RefusalReason::Backslash);
    assert_eq!(refusal("/public\\admin"), RefusalReason::Backslash);
    for raw in ["/admin/x%5C..%5C..%5C", "/admin%5cx"] {
        assert!(
            matches!(refusal(raw), RefusalReason::EncodedDelimiter { .. }),
            "{raw}"
        );
    }
}

#[test]
fn refuses_encoded_slash_dot_semicolon_in_any_case() {
    for (raw, escape) in [
        ("/admin%2Fx", "%2F"),
        ("/admin%2fx", "%2f"),
        ("/admin/%2e%2e%3b/", "%2e"),
        ("/admin/%2E", "%2E"),
        ("/admin%3Bx", "%3B"),
        ("/admin%3bx", "%3b"),
        ("/%2e%2e/admin", "%2e"),
    ] {
        assert_eq!(
            refusal(raw),
            RefusalReason::EncodedDelimiter {
                escape: escape.into()
            },
            "{raw}"
        );
    }
}

#[test]
fn refuses_encoded_nul_and_control_characters() {
    for raw in [
        "/admin%00",
        "/admin%00.html",
        "/a%0Ab",
        "/a%0d%0aSet-Cookie:x",
        "/a%7F",
        "/a%C2%85",
    ] {
        assert_eq!(refusal(raw), RefusalReason::EncodedControl, "{raw}");
    }
}

#[test]
fn refuses_raw_control_characters_spaces_and_non_ascii() {
    for (raw, byte) in [
        ("/a\nb", b'\n'),
        ("/a\tb", b'\t'),
        ("/a b", b' '),
        ("/a\u{7f}", 0x7f),
        ("/admin/\u{e9}", 0xc3),
    ] {
        assert_eq!(refusal(raw), RefusalReason::RawByte(byte), "{raw:?}");
    }
}

#[test]
fn refuses_invalid_escapes() {
    for raw in ["/a%", "/a%2", "/a%zz", "/a%u002e", "/a%%41", "/a%4"] {
        assert_eq!(refusal(raw), RefusalReason::InvalidEscape, "{raw}");
    }
}

#[test]
fn refuses_invalid_utf8_after_decoding() {
    // %C0%AE is the overlong encoding of '.', the classic traversal through lax decoders.
    for raw in ["/a%C3", "/a%FF", "/%C0%AE%C0%AE/admin", "/a%ED%A0%80"] {
        assert_eq!(refusal(raw), RefusalReason::InvalidUtf8, "{raw}");
    }
}

#[test]
fn refuses_double_encoding_but_not_an_encoded_percent() {
    for raw in ["/%252e%252e/admin", "/admin%252Fx", "/a%2541"] {
        assert_eq!(refusal(raw), RefusalReason::DoubleEncoding, "{raw}");
    }
    assert_eq!(readings("/100%25"), ["/100%", "/100%25"]);
    assert_eq!(readings("/100%25x"), ["/100%x", "/100%25x"]);
}

#[test]
fn refuses_what_is_not_an_origin_form_path() {
    for raw in ["", "*", "admin", "http://host/admin"] {
        assert_eq!(refusal(raw), RefusalReason::NotOriginForm, "{raw}");
    }
    for raw in ["/admin?x", "/admin#x"] {
        assert_eq!(refusal(raw), RefusalReason::QueryOrFragment, "{raw}");
    }
}

#[test]
fn readings_cover_servlet_containers_and_servers_that_do_not_decode() {
    assert_eq!(
        readings("/admin;jsessionid=1/x"),
        ["/admin;jsessionid=1/x", "/admin/x"]
    );
    assert_eq!(readings("/;x/admin/"), ["/;x/admin/", "/admin/"]);
    assert_eq!(readings("/;x"), ["/;x", "/"]);
    assert_eq!(readings("/%61dmin"), ["/admin", "/%61dmin"]);
    assert_eq!(readings("/caf%C3%A9"), ["/café", "/caf%C3%A9"]);
    // A decoded `?` or `#` ends the path for servers that split the query after decoding.
    assert_eq!(
        readings("/admin%3F/x"),
        ["/admin?/x", "/admin%3F/x", "/admin"]
    );
    assert_eq!(readings("/admin%23"), ["/admin#", "/admin%23", "/admin"]);
}

#[test]
fn the_log_line_names_the_rule_and_shows_the_path_safely() {
    let e = PathReading::new("/admin/..;/\u{1b}[2J\n").unwrap_err();
    assert_eq!(e.kind(), "raw_byte");
    let line = e.to_string();
    assert!(
        line.starts_with(
            "request path \"/admin/..;/\\x1b[2J\\n\" refused: it holds the raw byte 0x1B"
        ),
        "{line}"
    );
    let e = PathReading::new("/admin/..;/").unwrap_err();
    assert_eq!(e.kind(), "dot_segment_params");
    assert!(e.to_string().contains("\"/admin/..;/\""), "{e}");
    let long = format!("/{}\\", "a".repeat(1000));
    let line = PathReading::new(&long).unwrap_err().to_string();
    assert!(line.len() < 500 && line.contains("aaa..."), "{line}");
    assert_eq!(shown(b"/a\"b\\c\xc3\xa9"), "/a\\\"b\\\\c\\xc3\\xa9");
}

// ----- The shortcut against the long way -----

/// The path forwarded and every reading, rebuilt the long way for an accepted path: segments
/// split and joined again, `percent_encoding`'s decoder, every reading computed.
fn rebuilt(raw: &str) -> (String, BTreeSet<String>) {
    let join = |segments: Vec<&str>, trailing: bool| {
        let mut out = format!("/{}", segments.join("/"));
        if trailing && !segments.is_empty() {
            out.push('/');
        }
        out
    };
    let trailing = raw.ends_with('/');
    let forwarded = join(raw.split('/').filter(|s| !s.is_empty()).collect(), trailing);
    let decoded = percent_encoding::percent_decode_str(&forwarded)
        .decode_utf8()
        .unwrap()
        .into_owned();
    let cut = decoded.split(['?', '#']).next().unwrap().to_string();
    let servlet = join(
        decoded
            .split('/')
            .map(|s| s.split(';').next().unwrap())
            .filter(|s| !s.is_empty())
            .collect(),
        trailing,
    );
    let all = [decoded, forwarded.clone(), cut, servlet]
        .into_iter()
        .collect();
    (forwarded, all)
}

fn from_chars(chars: Vec<char>) -> String {
    format!("/{}", chars.into_iter().collect::<String>())
}

fn from_segments(segments: Vec<&str>) -> String {
    format!("/{}", segments.join("/"))
}

fn characters() -> impl proptest::strategy::Strategy<Value = String> {
    proptest::collection::vec(
        proptest::sample::select(vec![
            '/', '/', '.', 'a', 'A', '%', '2', 'e', 'E', 'f', 'F', '5', 'c', '3', 'b', ';', '\\',
            '?', '#', 'é', '0',
        ]),
        0..16,
    )
    .prop_map(from_chars)
}

fn segments() -> impl proptest::strategy::Strategy<Value = String> {
    proptest::collection::vec(
        proptest::sample::select(vec![
            "admin", "ADMIN", "", ".", "..", "..;", ".;x", ";x", "x;y=1", "%61dmin", "%2e", "%2F",
            "%3F", "%23", "%25", "%2541", "%C3%A9", "%C3", "%5c", "\\", "é", "a b", "%00", "%20",
        ]),
        0..6,
    )
    .prop_map(from_segments)
}

/// Paths from single characters that matter to reading, and from segments that do.
fn paths() -> impl proptest::strategy::Strategy<Value = String> {
    proptest::prop_oneof![characters(), segments()]
}

use proptest::strategy::Strategy as _;

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

    /// The shortcut (borrow when nothing needs decoding or merging, give only the readings
    /// that differ) reads exactly what the long way reads.
    #[test]
    fn the_shortcut_agrees_with_the_full_rebuild(raw in paths()) {
        if let Ok(reading) = PathReading::new(&raw) {
            let (forwarded, all) = rebuilt(&raw);
            proptest::prop_assert_eq!(reading.path(), forwarded.as_str());
            let given: BTreeSet<String> = reading.readings().map(Cow::into_owned).collect();
            proptest::prop_assert_eq!(given, all);
            let plain = !raw.contains(['%', ';']) && !raw.contains("//");
            proptest::prop_assert_eq!(plain, matches!(reading.path, Cow::Borrowed(_)) && reading.decoded.is_none() && !reading.params);
        }
    }

    /// No accepted path can be read with a dot segment, a backslash, a control character, or
    /// a separator that an escape made.
    #[test]
    fn accepted_paths_have_no_reading_that_climbs_or_splits(raw in paths()) {
        if let Ok(reading) = PathReading::new(&raw) {
            let path = reading.path();
            let decoded = percent_encoding::percent_decode_str(path).decode_utf8().unwrap();
            proptest::prop_assert_eq!(decoded.matches('/').count(), path.matches('/').count());
            for r in reading.readings() {
                proptest::prop_assert!(!r.contains('\\') && !r.chars().any(char::is_control), "{}", r);
                for segment in r.split('/') {
                    let name = segment.split(';').next().unwrap();
                    proptest::prop_assert!(!matches!(name, "." | ".."), "{} in {}", segment, r);
                }
            }
        }
    }

    /// The path forwarded is read as itself: the backend receives a path the gateway would
    /// accept unchanged, with the same readings.
    #[test]
    fn the_forwarded_path_reads_as_itself(raw in paths()) {
        if let Ok(reading) = PathReading::new(&raw) {
            let again = PathReading::new(reading.path()).unwrap();
            proptest::prop_assert_eq!(again.rewritten(), None);
            proptest::prop_assert_eq!(again.readings().collect::<Vec<_>>(), reading.readings().collect::<Vec<_>>());
        }
    }
}
