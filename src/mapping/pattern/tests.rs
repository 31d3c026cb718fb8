//! Unit tests of `mapping::pattern`, compiled only under #[cfg(test)] (the parent declares `mod tests;`).
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
fn first_character_prefilter_is_conservative() {
    assert_eq!(glob_first_char("Fin-*"), Some('F'));
    assert_eq!(glob_first_char("*-admins"), None);
    assert_eq!(glob_first_char("[ab]x"), None);
    assert_eq!(glob_first_char("\\*x"), Some('*'));
    assert_eq!(regex_first_char("proj-[0-9]+"), Some('p'));
    assert_eq!(regex_first_char("^proj"), Some('p'));
    assert_eq!(regex_first_char("p?roj"), None);
    assert_eq!(regex_first_char("p*roj"), None);
    assert_eq!(regex_first_char("p{0,1}roj"), None);
    assert_eq!(regex_first_char("proj|ops"), None);
    assert_eq!(regex_first_char("proj-(a|b)"), Some('p'));
    assert_eq!(regex_first_char("proj[|]x|y"), None);
    assert_eq!(regex_first_char("proj\\|x"), Some('p'));
    assert_eq!(regex_first_char("(?i)admins"), None);
    assert_eq!(regex_first_char(".*"), None);
    assert_eq!(regex_first_char("\\w+"), None);
}

#[test]
fn prefilter_never_hides_a_match() {
    for ignore_case in [false, true] {
        let mut idx = PatternIndex::new(ignore_case);
        let a = idx.intern(PatternKind::Glob, "fin-*").unwrap();
        let b = idx.intern(PatternKind::Regex, "proj-(a|b)").unwrap();
        idx.finish().unwrap();
        let hits = idx.hits(&["x", "proj-b", "fin-"]);
        assert!(hits[a] && hits[b]);
        let folded = idx.hits(&["FIN-x"]);
        assert_eq!(folded[a], ignore_case);
        let mut idx = PatternIndex::new(ignore_case);
        let k = idx.intern(PatternKind::Glob, "k*").unwrap();
        idx.finish().unwrap();
        // U+212A KELVIN SIGN folds to `k`.
        assert_eq!(idx.hits(&["\u{212A}elvin"])[k], ignore_case);
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
fn length_prefilter_never_hides_an_exact_match() {
    let mut idx = PatternIndex::new(true);
    // `İ` (2 bytes) lowercases to `i̇` (3 bytes): the folded name is longer than the group.
    let a = idx.intern(PatternKind::Exact, "i\u{307}x").unwrap();
    let b = idx.intern(PatternKind::Exact, "Admins").unwrap();
    idx.finish().unwrap();
    let hits = idx.hits(&["\u{130}x", "ADMINS", "Admins2"]);
    assert!(hits[a] && hits[b]);
    let mut idx = PatternIndex::new(false);
    let long = "g".repeat(300);
    let c = idx.intern(PatternKind::Exact, &long).unwrap();
    idx.finish().unwrap();
    assert!(idx.hits(&[long.as_str()])[c]);
    assert!(!idx.hits(&["g".repeat(299).as_str()])[c]);
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
