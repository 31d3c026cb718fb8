//! Loading mapping tables: every refusal names the file, the key and the line.

use samlgate::mapping::{MappingLoadError, MappingTable, ProblemKind, validate_against_routes};

const FILE: &str = "mappings/corp.toml";

fn load_err(text: &str) -> MappingLoadError {
    match MappingTable::from_toml(text, FILE) {
        Ok(_) => panic!("table must not load:\n{text}"),
        Err(e) => e,
    }
}

/// Asserts the error has exactly one problem, at `line` and `key`, whose message contains
/// `needle`; and that the rendered message names file, line and key.
fn assert_single(text: &str, line: usize, key: &str, needle: &str) -> ProblemKind {
    let e = load_err(text);
    let problems = e.problems();
    assert_eq!(problems.len(), 1, "expected one problem, got: {e}");
    let p = &problems[0];
    assert_eq!((p.line, p.key.as_str()), (line, key), "{e}");
    let msg = e.to_string();
    assert!(msg.contains(FILE), "{msg}");
    assert!(msg.contains(&format!("line {line}")), "{msg}");
    assert!(msg.contains(&format!("key `{key}`")), "{msg}");
    assert!(msg.contains(needle), "{msg}");
    p.kind.clone()
}

const HEAD: &str = "[access]\ndefault = \"D\"\n"; // lines 1-2

#[test]
fn unknown_key_names_file_key_and_line() {
    let text = format!("{HEAD}[[access.rule]]\ngroup = \"A\"\nacess_group = \"X\"\n");
    assert_single(
        &text,
        5,
        "access.rule[1].acess_group",
        "unknown field `acess_group`",
    );
}

#[test]
fn unknown_top_level_table_is_refused() {
    let text = format!("[extra_header]\n\"X-A\" = \"a\"\n{HEAD}");
    assert_single(&text, 1, "extra_header", "unknown field `extra_header`");
}

#[test]
fn misspelt_default_does_not_leave_the_table_without_a_fallback() {
    assert_single(
        "[access]\ndefualt = \"D\"\n",
        2,
        "access.defualt",
        "unknown field `defualt`",
    );
}

#[test]
fn wrong_type_names_the_key_on_its_line() {
    let text = format!("{HEAD}[[access.rule]]\ngroup = \"A\"\naccess_group = 4\n");
    assert_single(&text, 5, "access.rule[1].access_group", "invalid type");
}

#[test]
fn toml_syntax_error_names_the_line() {
    let text = format!("{HEAD}[[access.rule]]\ngroup = \"A\naccess_group = \"X\"\n");
    let e = load_err(&text);
    assert_eq!(e.problems().len(), 1, "{e}");
    assert_eq!(e.problems()[0].line, 4, "{e}");
    assert!(e.to_string().contains(FILE));
}

#[test]
fn missing_access_section_is_refused() {
    let e = load_err("[operator]\nlowercase = true\n");
    assert!(e.to_string().contains("missing field `access`"), "{e}");
}

#[test]
fn bad_regex_names_key_line_and_pattern() {
    let text = format!(
        "{HEAD}[[access.rule]]\ngroup = \"A\"\naccess_group = \"X\"\n\n[[access.rule]]\ngroup_regex = \"proj-(\"\naccess_group = \"Y\"\n"
    );
    let kind = assert_single(
        &text,
        8,
        "access.rule[2].group_regex",
        "bad regex \"proj-(\"",
    );
    assert!(matches!(kind, ProblemKind::BadRegex { .. }));
}

#[test]
fn bad_glob_names_key_line_and_reason() {
    let text =
        format!("{HEAD}[[access.rule]]\ngroup_glob = \"Finance-[EU\"\naccess_group = \"X\"\n");
    let kind = assert_single(&text, 4, "access.rule[1].group_glob", "never closed");
    assert!(matches!(kind, ProblemKind::BadGlob { .. }));
}

#[test]
fn duplicate_rule_is_refused_with_both_lines() {
    let text = format!(
        "{HEAD}[[access.rule]]\ngroup = \"A\"\naccess_group = \"X\"\n[[access.rule]]\ngroup = \"A\"\naccess_group = \"Y\"\n"
    );
    let kind = assert_single(
        &text,
        6,
        "access.rule[2]",
        "same conditions as rule #1 (line 3)",
    );
    assert!(matches!(
        kind,
        ProblemKind::DuplicateRule {
            index: 2,
            first: 1,
            first_line: 3
        }
    ));
}

#[test]
fn rule_after_catch_all_is_unreachable() {
    let text = format!(
        "{HEAD}[[access.rule]]\nalways = true\naccess_group = \"X\"\n[[access.rule]]\ngroup = \"A\"\naccess_group = \"Y\"\n"
    );
    let kind = assert_single(
        &text,
        6,
        "access.rule[2]",
        "rule #1 (line 3) above it is a catch-all",
    );
    assert!(matches!(
        kind,
        ProblemKind::AfterCatchAll {
            index: 2,
            by: 1,
            ..
        }
    ));
}

#[test]
fn rule_shadowed_by_a_broader_earlier_rule_is_unreachable() {
    let text = format!(
        "{HEAD}[[access.rule]]\ngroup_glob = \"Finance-*\"\naccess_group = \"X\"\n\
         [[access.rule]]\ngroup = \"Finance-EU\"\nattribute = {{ department = \"Treasury\" }}\naccess_group = \"Y\"\n"
    );
    let kind = assert_single(
        &text,
        6,
        "access.rule[2]",
        "already matches rule #1 (line 3)",
    );
    assert!(matches!(
        kind,
        ProblemKind::Shadowed {
            index: 2,
            by: 1,
            ..
        }
    ));
}

#[test]
fn group_star_shadows_group_rules_but_not_attribute_rules() {
    let text = format!(
        "{HEAD}[[access.rule]]\ngroup_glob = \"*\"\naccess_group = \"X\"\n\
         [[access.rule]]\nattribute = {{ department = \"Finance\" }}\naccess_group = \"Y\"\n"
    );
    assert!(MappingTable::from_toml(&text, FILE).is_ok());
    let text = format!(
        "{HEAD}[[access.rule]]\ngroup_glob = \"*\"\naccess_group = \"X\"\n\
         [[access.rule]]\ngroup_regex = \"a+\"\naccess_group = \"Y\"\n"
    );
    assert_single(&text, 6, "access.rule[2]", "can never match");
}

#[test]
fn narrower_rule_before_broader_rule_is_fine() {
    let text = format!(
        "{HEAD}[[access.rule]]\ngroup = \"Finance-EU\"\naccess_group = \"X\"\n\
         [[access.rule]]\ngroup_glob = \"Finance-*\"\naccess_group = \"Y\"\n\
         [[access.rule]]\nalways = true\naccess_group = \"Z\"\n"
    );
    assert!(MappingTable::from_toml(&text, FILE).is_ok());
}

#[test]
fn default_and_deny_together_are_refused() {
    let kind = assert_single(
        "[access]\ndefault = \"D\"\ndeny = true\n",
        2,
        "access.default",
        "keep exactly one",
    );
    assert_eq!(kind, ProblemKind::DefaultAndDeny);
}

#[test]
fn neither_default_nor_deny_is_refused() {
    let kind = assert_single(
        "[access]\n\n[[access.rule]]\ngroup = \"A\"\naccess_group = \"X\"\n",
        1,
        "access",
        "neither `default",
    );
    assert_eq!(kind, ProblemKind::NoFallback);
    // deny = false is not a fallback either.
    assert_single("[access]\ndeny = false\n", 2, "access", "neither `default");
}

#[test]
fn rule_without_condition_or_access_group_is_refused() {
    let text = format!("{HEAD}[[access.rule]]\nname = \"x\"\naccess_group = \"X\"\n");
    assert_single(&text, 3, "access.rule[1]", "has no condition");
    let text = format!("{HEAD}[[access.rule]]\ngroup = \"A\"\n");
    assert_single(&text, 3, "access.rule[1]", "has no `access_group`");
    let text = format!("{HEAD}[[access.rule]]\nalways = false\naccess_group = \"X\"\n");
    assert_single(&text, 4, "access.rule[1].always", "never match");
}

#[test]
fn duplicate_rule_names_are_refused() {
    let text = format!(
        "{HEAD}[[access.rule]]\nname = \"n\"\ngroup = \"A\"\naccess_group = \"X\"\n\
         [[access.rule]]\nname = \"n\"\ngroup = \"B\"\naccess_group = \"Y\"\n"
    );
    assert_single(
        &text,
        8,
        "access.rule[2].name",
        "already used by rule #1 (line 3)",
    );
}

#[test]
fn bad_template_and_header_names_are_refused() {
    let text = format!("[attributes]\nname = \"{{givenName}} {{sn\"\n{HEAD}");
    assert_single(&text, 2, "attributes.name", "never closed");
    let text = format!("[extra_headers]\n\"X Bad\" = \"a\"\n{HEAD}");
    assert_single(
        &text,
        2,
        "extra_headers.\"X Bad\"",
        "not a valid HTTP header name",
    );
    let text = format!("[extra_headers]\n\"x-forwarded-user\" = \"mail\"\n{HEAD}");
    assert_single(
        &text,
        2,
        "extra_headers.\"x-forwarded-user\"",
        "identity headers",
    );
}

#[test]
fn bad_access_groups_are_refused() {
    let text = format!("{HEAD}[[access.rule]]\ngroup = \"A\"\naccess_group = \"X,Y\"\n");
    assert_single(&text, 5, "access.rule[1].access_group", "comma");
    assert_single(
        "[access]\ndefault = \"  \"\n",
        2,
        "access.default",
        "is empty",
    );
}

#[test]
fn every_problem_is_reported_together() {
    let text = format!(
        "{HEAD}[[access.rule]]\ngroup_regex = \"(\"\naccess_group = \"X\"\n\
         [[access.rule]]\ngroup_glob = \"[\"\naccess_group = \"Y\"\n"
    );
    let e = load_err(&text);
    let lines: Vec<usize> = e.problems().iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![4, 7], "{e}");
    assert_eq!(e.to_string().lines().count(), 2, "{e}");
}

#[test]
fn missing_file_names_the_file() {
    let e = MappingTable::load("mappings/does-not-exist.toml").unwrap_err();
    assert!(
        e.to_string().contains("mappings/does-not-exist.toml"),
        "{e}"
    );
}

#[test]
fn default_group_no_route_mentions_is_a_warning() {
    let text = format!(
        "{HEAD}[[access.rule]]\ngroup = \"Admins\"\naccess_group = \"MyOrg:Administrators\"\n"
    );
    let t = MappingTable::from_toml(&text, FILE).unwrap();
    let warnings = validate_against_routes(&t, &["MyOrg:Administrators"]);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let w = warnings[0].to_string();
    assert!(
        w.contains(FILE) && w.contains("line 2") && w.contains("key `access.default`"),
        "{w}"
    );
    assert!(w.contains("\"D\""), "{w}");

    assert!(validate_against_routes(&t, &["MyOrg:Administrators", "D"]).is_empty());

    let warnings = validate_against_routes(&t, &["D"]);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].key, "access.rule[1].access_group");
    assert_eq!(warnings[0].line, 3);
}

#[test]
fn groups_no_route_mentions_are_one_warning_naming_each() {
    let text = format!(
        "{HEAD}[[access.rule]]\ngroup = \"Admins\"\naccess_group = \"A\"\n[[access.rule]]\ngroup = \"Fin\"\naccess_group = \"F\"\n"
    );
    let t = MappingTable::from_toml(&text, FILE).unwrap();
    let warnings = validate_against_routes(&t, &["Other"]);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].line, 2);
    assert!(
        warnings[0].message.starts_with(
            "3 access groups are not mentioned by any route's require_access_group: \"D\" (the default, line 2), \"A\" (rule #1, line 3), \"F\" (rule #2, line 6)"
        ),
        "{}",
        warnings[0].message
    );
}

#[test]
fn deny_tables_have_no_default_to_warn_about() {
    let t = MappingTable::from_toml(
        "[access]\ndeny = true\n[[access.rule]]\ngroup = \"A\"\naccess_group = \"G\"\n",
        FILE,
    )
    .unwrap();
    assert!(validate_against_routes(&t, &["G"]).is_empty());
}
