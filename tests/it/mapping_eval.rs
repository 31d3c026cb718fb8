//! Evaluating mapping tables against claims: each matcher, rule order, fallbacks, overage,
//! required attributes, and the awkward inputs real IdPs send.

use samlgate::mapping::{
    Mapped, MappingRefusal, MappingTable, MatchedRule, Operator, audit_line, audit_refusal_line,
    evaluate,
};
use samlgate::saml::{Claims, NameId, SamlAttribute};

const GROUPS_URI: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups";
const OVERAGE_URI: &str = "http://schemas.microsoft.com/claims/groups.link";

fn claims(name_id: &str, attrs: &[(&str, &[&str])]) -> Claims {
    Claims {
        idp_entity_id: "https://idp.example.com/metadata".into(),
        name_id: NameId {
            value: name_id.into(),
            format: None,
            name_qualifier: None,
            sp_name_qualifier: None,
        },
        attributes: attrs
            .iter()
            .map(|(n, vs)| SamlAttribute {
                name: n.to_string(),
                name_format: None,
                friendly_name: None,
                values: vs.iter().map(|v| v.to_string()).collect(),
            })
            .collect(),
    }
}

fn table(text: &str) -> MappingTable {
    MappingTable::from_toml(text, "test.toml").unwrap_or_else(|e| panic!("table must load: {e}"))
}

fn access_group(t: &MappingTable, c: &Claims) -> Result<String, MappingRefusal> {
    evaluate(t, c).map(|m| m.operator.access_group)
}

fn rule_index(m: &Mapped) -> Option<usize> {
    match m.matched_rule {
        MatchedRule::Rule { index, .. } => Some(index),
        MatchedRule::Default => None,
    }
}

/// One rule with `condition`, default "Fallback".
fn one_rule(condition: &str) -> MappingTable {
    table(&format!(
        "[access]\ndefault = \"Fallback\"\n[[access.rule]]\n{condition}\naccess_group = \"Hit\"\n"
    ))
}

#[test]
fn each_matcher_decides_as_specified() {
    // (condition, groups, department values, expected access group)
    let cases: &[(&str, &[&str], &[&str], &str)] = &[
        // exact
        ("group = \"Admins\"", &["Admins"], &[], "Hit"),
        ("group = \"Admins\"", &["Staff", "Admins"], &[], "Hit"),
        ("group = \"Admins\"", &["admins"], &[], "Fallback"),
        ("group = \"Admins\"", &["Admins2"], &[], "Fallback"),
        ("group = \"Admins\"", &[], &[], "Fallback"),
        // glob
        ("group_glob = \"Finance-*\"", &["Finance-EU"], &[], "Hit"),
        ("group_glob = \"Finance-*\"", &["Finance"], &[], "Fallback"),
        (
            "group_glob = \"Finance-*\"",
            &["Old-Finance-EU"],
            &[],
            "Fallback",
        ),
        ("group_glob = \"team-?\"", &["team-a"], &[], "Hit"),
        ("group_glob = \"team-?\"", &["team-ab"], &[], "Fallback"),
        ("group_glob = \"team-[!x]\"", &["team-x"], &[], "Fallback"),
        // regex (must match the whole group name)
        (
            "group_regex = \"proj-[0-9]+-leads\"",
            &["proj-42-leads"],
            &[],
            "Hit",
        ),
        (
            "group_regex = \"proj-[0-9]+-leads\"",
            &["proj-42-leads-old"],
            &[],
            "Fallback",
        ),
        (
            "group_regex = \"proj-[0-9]+-leads\"",
            &["xproj-42-leads"],
            &[],
            "Fallback",
        ),
        ("group_regex = \"(?i)admins\"", &["ADMINS"], &[], "Hit"),
        // any of several
        ("any_group = [\"A\", \"B\"]", &["B"], &[], "Hit"),
        ("any_group = [\"A\", \"B\"]", &["C", "A"], &[], "Hit"),
        ("any_group = [\"A\", \"B\"]", &["C"], &[], "Fallback"),
        // all of several
        ("all_groups = [\"A\", \"B\"]", &["B", "A"], &[], "Hit"),
        ("all_groups = [\"A\", \"B\"]", &["A"], &[], "Fallback"),
        (
            "all_groups = [\"A\", \"B\"]",
            &["A", "C", "B", "D"],
            &[],
            "Hit",
        ),
        // attribute condition
        (
            "attribute = { department = \"Finance\" }",
            &[],
            &["Finance"],
            "Hit",
        ),
        (
            "attribute = { department = \"Finance\" }",
            &[],
            &["HR", "Finance"],
            "Hit",
        ),
        (
            "attribute = { department = \"Finance\" }",
            &[],
            &["HR"],
            "Fallback",
        ),
        (
            "attribute = { department = \"Finance\" }",
            &["Finance"],
            &[],
            "Fallback",
        ),
        (
            "attribute = { department = [\"Finance\", \"Treasury\"] }",
            &[],
            &["Treasury"],
            "Hit",
        ),
        // combined conditions: all must hold
        (
            "group = \"Staff\"\nattribute = { department = \"Finance\" }",
            &["Staff"],
            &["Finance"],
            "Hit",
        ),
        (
            "group = \"Staff\"\nattribute = { department = \"Finance\" }",
            &["Staff"],
            &["HR"],
            "Fallback",
        ),
        (
            "group = \"Staff\"\nattribute = { department = \"Finance\" }",
            &[],
            &["Finance"],
            "Fallback",
        ),
        // always
        ("always = true", &[], &[], "Hit"),
    ];
    for (condition, groups, department, expected) in cases {
        let t = one_rule(condition);
        let c = claims("u", &[("groups", groups), ("department", department)]);
        assert_eq!(
            access_group(&t, &c).unwrap(),
            *expected,
            "{condition} with groups {groups:?} department {department:?}"
        );
    }
}

#[test]
fn ignore_case_applies_to_groups_and_attribute_values() {
    let t = table(
        "[access]\nignore_case = true\ndefault = \"F\"\n\
         [[access.rule]]\ngroup = \"Admins\"\naccess_group = \"A\"\n\
         [[access.rule]]\nattribute = { department = \"Finance\" }\naccess_group = \"B\"\n",
    );
    assert_eq!(
        access_group(&t, &claims("u", &[("groups", &["ADMINS"])])).unwrap(),
        "A"
    );
    assert_eq!(
        access_group(&t, &claims("u", &[("department", &["FINANCE"])])).unwrap(),
        "B"
    );
}

#[test]
fn first_matching_rule_wins() {
    let t = table(
        "[access]\ndefault = \"Fallback\"\n\
         [[access.rule]]\nname = \"admins\"\ngroup = \"Admins\"\naccess_group = \"MyOrg:Administrators\"\n\
         [[access.rule]]\nname = \"staff\"\ngroup = \"Staff\"\naccess_group = \"MyOrg:Staff\"\n\
         [[access.rule]]\ngroup_glob = \"*\"\naccess_group = \"MyOrg:AnyGroup\"\n",
    );
    // (groups, access group, matched rule index)
    let cases: &[(&[&str], &str, Option<usize>)] = &[
        (&["Staff", "Admins"], "MyOrg:Administrators", Some(1)),
        (&["Admins", "Staff"], "MyOrg:Administrators", Some(1)),
        (&["Staff"], "MyOrg:Staff", Some(2)),
        (&["Other"], "MyOrg:AnyGroup", Some(3)),
        (&[], "Fallback", None),
    ];
    for (groups, expected, index) in cases {
        let m = evaluate(&t, &claims("u", &[("groups", groups)])).unwrap();
        assert_eq!(m.operator.access_group, *expected, "{groups:?}");
        assert_eq!(rule_index(&m), *index, "{groups:?}");
    }
    let m = evaluate(&t, &claims("u", &[("groups", &["Admins"])])).unwrap();
    assert_eq!(
        m.matched_rule,
        MatchedRule::Rule {
            index: 1,
            name: Some("admins".into()),
            line: 3
        }
    );
}

#[test]
fn default_applies_and_deny_refuses_when_no_rule_matches() {
    let with_default = one_rule("group = \"Admins\"");
    let m = evaluate(&with_default, &claims("u", &[("groups", &["Staff"])])).unwrap();
    assert_eq!(m.operator.access_group, "Fallback");
    assert_eq!(m.matched_rule, MatchedRule::Default);

    let with_deny = table(
        "[access]\ndeny = true\n[[access.rule]]\ngroup = \"Admins\"\naccess_group = \"Hit\"\n",
    );
    assert_eq!(
        evaluate(&with_deny, &claims("u", &[("groups", &["Staff"])])),
        Err(MappingRefusal::Denied)
    );
    assert_eq!(
        access_group(&with_deny, &claims("u", &[("groups", &["Admins"])])).unwrap(),
        "Hit"
    );
}

#[test]
fn groups_overage_skips_rules_and_reports_overage() {
    let t = table(
        "[access]\ndefault = \"MyOrg:RestrictedReadOnly\"\n\
         [[access.rule]]\nalways = true\naccess_group = \"MyOrg:Everyone\"\n",
    );
    let c = claims(
        "u",
        &[(
            OVERAGE_URI,
            &["https://graph.microsoft.com/v1.0/users/x/getMemberObjects"],
        )],
    );
    let m = evaluate(&t, &c).unwrap();
    assert!(m.overage);
    assert_eq!(m.operator.access_group, "MyOrg:RestrictedReadOnly");
    assert_eq!(m.matched_rule, MatchedRule::Default);
    assert!(m.operator.groups.is_empty());
    assert!(
        audit_line(&m).contains("overage=true"),
        "{}",
        audit_line(&m)
    );

    let deny =
        table("[access]\ndeny = true\n[[access.rule]]\ngroup = \"Admins\"\naccess_group = \"A\"\n");
    // Even with an Admins group present beside the link, the incomplete list decides nothing.
    let c = claims(
        "u",
        &[(OVERAGE_URI, &["https://graph"]), (GROUPS_URI, &["Admins"])],
    );
    let refusal = evaluate(&deny, &c).unwrap_err();
    assert_eq!(refusal, MappingRefusal::DeniedGroupsOverage);
    assert!(refusal.is_overage());
    assert!(refusal.to_string().contains("groups.link"), "{refusal}");
}

#[test]
fn no_overage_is_reported_for_an_ordinary_login() {
    let m = evaluate(
        &one_rule("group = \"A\""),
        &claims("u", &[("groups", &["A"])]),
    )
    .unwrap();
    assert!(!m.overage);
}

#[test]
fn missing_required_attribute_refuses_and_names_it() {
    let t = table(
        "required_attributes = [\"mail\", \"eduPersonPrincipalName\"]\n[access]\ndefault = \"D\"\n",
    );
    let refusal = evaluate(&t, &claims("u", &[("mail", &["a@example.com"])])).unwrap_err();
    assert_eq!(
        refusal,
        MappingRefusal::MissingRequiredAttribute {
            attribute: "eduPersonPrincipalName".into()
        }
    );
    assert!(refusal.to_string().contains("eduPersonPrincipalName"));

    // Present under its urn:oid name: satisfied.
    let c = claims(
        "u",
        &[
            ("urn:oid:0.9.2342.19200300.100.1.3", &["a@example.com"]),
            ("urn:oid:1.3.6.1.4.1.5923.1.1.1.6", &["a@example.edu"]),
        ],
    );
    assert!(evaluate(&t, &c).is_ok());
}

#[test]
fn required_attribute_with_only_empty_values_is_missing() {
    let t = table("required_attributes = [\"mail\"]\n[access]\ndefault = \"D\"\n");
    let refusal = evaluate(&t, &claims("u", &[("mail", &["", "   "])])).unwrap_err();
    assert!(
        matches!(refusal, MappingRefusal::MissingRequiredAttribute { ref attribute } if attribute == "mail")
    );
}

#[test]
fn empty_values_are_ignored_everywhere() {
    let t = table(
        "[attributes]\nemail = \"mail\"\nname = \"displayName\"\n\
         [access]\ndefault = \"D\"\n[[access.rule]]\ngroup = \"A\"\naccess_group = \"Hit\"\n",
    );
    let c = claims(
        "u",
        &[
            ("mail", &["", "b@example.com"]),
            ("displayName", &[""]),
            ("groups", &["", "A", ""]),
        ],
    );
    let m = evaluate(&t, &c).unwrap();
    assert_eq!(m.operator.email.as_deref(), Some("b@example.com"));
    assert_eq!(m.operator.name, None);
    assert_eq!(m.operator.groups, vec!["A".to_string()]);
    assert_eq!(m.operator.access_group, "Hit");
}

#[test]
fn multi_valued_attributes_keep_all_groups_and_first_profile_value() {
    let t = table(
        "[extra_headers]\n\"X-Affiliation\" = \"eduPersonAffiliation\"\n\
         [access]\ngroups = [\"groups\", \"memberOf\"]\ndefault = \"D\"\n\
         [[access.rule]]\nall_groups = [\"A\", \"M\"]\naccess_group = \"Both\"\n",
    );
    let c = claims(
        "u",
        &[
            ("mail", &["first@example.com", "second@example.com"]),
            ("groups", &["A", "B", "A"]),
            ("urn:oid:1.2.840.113556.1.2.102", &["M", "B"]),
            ("eduPersonAffiliation", &["staff", "member"]),
        ],
    );
    let m = evaluate(&t, &c).unwrap();
    assert_eq!(m.operator.email.as_deref(), Some("first@example.com"));
    assert_eq!(m.operator.groups, vec!["A", "B", "M"]);
    assert_eq!(m.operator.access_group, "Both");
    assert_eq!(
        m.operator.extra,
        vec![("X-Affiliation".to_string(), "staff,member".to_string())]
    );
}

#[test]
fn one_attribute_matching_two_group_sources_is_read_once() {
    let t = table(&format!(
        "[access]\ngroups = [\"groups\", \"{GROUPS_URI}\"]\ndefault = \"D\"\n"
    ));
    let m = evaluate(&t, &claims("u", &[(GROUPS_URI, &["A", "B"])])).unwrap();
    assert_eq!(m.operator.groups, vec!["A", "B"]);
}

#[test]
fn non_ascii_names_and_groups_pass_through_unchanged() {
    let t = table(
        "[operator]\nlowercase = true\n[attributes]\nname = [\"displayName\", \"{givenName} {sn}\"]\n\
         [access]\ndefault = \"D\"\n[[access.rule]]\ngroup = \"Финансы\"\naccess_group = \"MyOrg:Finanzen\"\n",
    );
    let c = claims(
        "JOSÉ.MÜLLER@EXAMPLE.COM",
        &[
            ("urn:oid:2.5.4.42", &["José"]),
            ("urn:oid:2.5.4.4", &["Müller"]),
            ("groups", &["Финансы"]),
        ],
    );
    let m = evaluate(&t, &c).unwrap();
    assert_eq!(m.operator.name.as_deref(), Some("José Müller"));
    assert_eq!(m.operator.id, "josé.müller@example.com");
    assert_eq!(m.operator.name_id, "JOSÉ.MÜLLER@EXAMPLE.COM");
    assert_eq!(m.operator.access_group, "MyOrg:Finanzen");
}

#[test]
fn five_hundred_groups_are_all_kept_and_matched() {
    let t = table(
        "[access]\ndefault = \"D\"\n\
         [[access.rule]]\ngroup = \"group-0499\"\nattribute = { department = \"X\" }\naccess_group = \"Never\"\n\
         [[access.rule]]\ngroup_regex = \"group-04[0-9]9\"\naccess_group = \"Late\"\n",
    );
    let groups: Vec<String> = (0..500).map(|i| format!("group-{i:04}")).collect();
    let refs: Vec<&str> = groups.iter().map(String::as_str).collect();
    let m = evaluate(&t, &claims("u", &[(GROUPS_URI, &refs)])).unwrap();
    assert_eq!(m.operator.groups.len(), 500);
    assert_eq!(
        m.operator.groups.last().map(String::as_str),
        Some("group-0499")
    );
    assert_eq!(m.operator.access_group, "Late");
    assert_eq!(rule_index(&m), Some(2));
}

#[test]
fn operator_id_normalization() {
    // (operator section, name_id, attributes, expected id)
    type Attrs<'a> = &'a [(&'a str, &'a [&'a str])];
    let cases: &[(&str, &str, Attrs, &str)] = &[
        ("", "Jose@Example.com", &[], "Jose@Example.com"),
        (
            "lowercase = true",
            "Jose@Example.com",
            &[],
            "jose@example.com",
        ),
        ("strip_domain = true", "jose@example.com", &[], "jose"),
        ("strip_domain = true", "CORP\\jose", &[], "jose"),
        (
            "strip_domain = \"example.com\"",
            "jose@EXAMPLE.com",
            &[],
            "jose",
        ),
        (
            "strip_domain = \"example.com\"",
            "jose@other.org",
            &[],
            "jose@other.org",
        ),
        (
            "strip_domain = [\"a.com\", \"corp\"]",
            "CORP\\jose",
            &[],
            "jose",
        ),
        // A domain list keeps the users of other domains apart from the listed one's.
        (
            "strip_domain = [\"example.com\"]\nlowercase = true",
            "ceo@example.com",
            &[],
            "ceo",
        ),
        (
            "strip_domain = [\"example.com\"]\nlowercase = true",
            "CEO@evil.example",
            &[],
            "ceo@evil.example",
        ),
        (
            "strip_domain = [\"example.com\"]\nlowercase = true",
            "EVIL\\ceo",
            &[],
            "evil\\ceo",
        ),
        (
            "strip_domain = true\nlowercase = true",
            " Jose@X.org ",
            &[],
            "jose",
        ),
        (
            "id = \"mail\"",
            "transient-123",
            &[("urn:oid:0.9.2342.19200300.100.1.3", &["m@x.org"])],
            "m@x.org",
        ),
        (
            "id = \"uid\"\nlowercase = true",
            "n",
            &[("uid", &["JM", "JM"])],
            "jm",
        ),
    ];
    for (operator, name_id, attrs, expected) in cases {
        let t = table(&format!(
            "[operator]\n{operator}\n[access]\ndefault = \"D\"\n"
        ));
        let m = evaluate(&t, &claims(name_id, attrs)).unwrap();
        assert_eq!(
            m.operator.id, *expected,
            "[operator] {operator} with {name_id}"
        );
        assert_eq!(m.operator.name_id, *name_id, "the NameID is kept as sent");
    }
}

#[test]
fn operator_id_refusals_name_the_attribute() {
    let t = table("[operator]\nid = \"uid\"\n[access]\ndefault = \"D\"\n");
    assert_eq!(
        evaluate(&t, &claims("n", &[])),
        Err(MappingRefusal::MissingOperatorId {
            attribute: "uid".into()
        })
    );
    assert_eq!(
        evaluate(&t, &claims("n", &[("uid", &["a", "b"])])),
        Err(MappingRefusal::AmbiguousOperatorId {
            attribute: "uid".into(),
            count: 2
        })
    );
    let t = table("[operator]\nstrip_domain = true\n[access]\ndefault = \"D\"\n");
    let refusal = evaluate(&t, &claims("@example.com", &[])).unwrap_err();
    assert!(
        matches!(refusal, MappingRefusal::EmptyOperatorId { .. }),
        "{refusal:?}"
    );
    assert!(refusal.to_string().contains("NameID"), "{refusal}");
}

#[test]
fn empty_name_id_is_refused_even_when_the_id_comes_from_an_attribute() {
    let t = table("[operator]\nid = \"mail\"\n[access]\ndefault = \"D\"\n");
    for name_id in ["", "  "] {
        let c = claims(name_id, &[("mail", &["a@example.com"])]);
        assert_eq!(evaluate(&t, &c), Err(MappingRefusal::EmptyNameId));
    }
}

#[test]
fn user_key_is_idp_and_name_id_not_email() {
    let t = table("[operator]\nid = \"mail\"\n[access]\ndefault = \"D\"\n");
    let mut a = claims("alice-at-idp-a", &[("mail", &["same@example.com"])]);
    let mut b = claims("mallory-at-idp-b", &[("mail", &["same@example.com"])]);
    a.idp_entity_id = "https://idp-a.example".into();
    b.idp_entity_id = "https://idp-b.example".into();
    let (ma, mb) = (evaluate(&t, &a).unwrap(), evaluate(&t, &b).unwrap());
    assert_eq!(
        ma.operator.id, mb.operator.id,
        "same email-based operator id"
    );
    assert_ne!(
        (&ma.operator.idp, &ma.operator.name_id),
        (&mb.operator.idp, &mb.operator.name_id),
        "but different user keys"
    );
}

#[test]
fn profile_fields_come_from_known_aliases_by_default() {
    let t = table("[access]\ndefault = \"D\"\n");
    let c = claims(
        "n",
        &[
            (
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
                &["e@x.org"],
            ),
            (
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
                &["Ana"],
            ),
            (
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
                &["Ruiz"],
            ),
            ("urn:oid:2.5.4.11", &["Research"]),
            (GROUPS_URI, &["g1"]),
        ],
    );
    let op: Operator = evaluate(&t, &c).unwrap().operator;
    assert_eq!(op.email.as_deref(), Some("e@x.org"));
    assert_eq!(op.name.as_deref(), Some("Ana Ruiz"));
    assert_eq!(op.department.as_deref(), Some("Research"));
    assert_eq!(op.groups, vec!["g1"]);
}

#[test]
fn extra_headers_are_forwarded_only_when_present() {
    let t = table(
        "[extra_headers]\n\"X-Employee\" = \"employeeNumber\"\n\"X-Cost\" = [\"costCenter\", \"{o}/{ou}\"]\n\
         \"X-Missing\" = \"nothere\"\n[access]\ndefault = \"D\"\n",
    );
    let c = claims(
        "n",
        &[
            ("urn:oid:2.16.840.1.113730.3.1.3", &["E42"]),
            ("o", &["ACME"]),
            ("ou", &["R&D"]),
        ],
    );
    let op = evaluate(&t, &c).unwrap().operator;
    assert_eq!(
        op.extra,
        vec![
            ("X-Employee".to_string(), "E42".to_string()),
            ("X-Cost".to_string(), "ACME/R&D".to_string())
        ]
    );
    assert_eq!(
        t.extra_header_names(),
        ["X-Employee", "X-Cost", "X-Missing"],
        "every declared header, present or not, for the gateway to strip from requests"
    );
}

#[test]
fn operator_survives_a_session_round_trip() {
    let m = evaluate(
        &table("[access]\ndefault = \"D\"\n[[access.rule]]\ngroup = \"A\"\nname = \"r\"\naccess_group = \"G\"\n"),
        &claims("José", &[("groups", &["A"]), ("displayName", &["José Müller"])]),
    )
    .unwrap();
    let json = serde_json::to_string(&m).unwrap();
    let back: Mapped = serde_json::from_str(&json).unwrap();
    assert_eq!(back, m);
    let op_json = serde_json::to_string(&m.operator).unwrap();
    let op: Operator = serde_json::from_str(&op_json).unwrap();
    assert_eq!(op, m.operator);
}

#[test]
fn audit_line_names_idp_name_id_rule_and_access_group() {
    let t = table(
        "[access]\ndefault = \"D\"\n[[access.rule]]\nname = \"admins\"\ngroup = \"A\"\naccess_group = \"MyOrg:Administrators\"\n",
    );
    let m = evaluate(&t, &claims("jose@example.com", &[("groups", &["A"])])).unwrap();
    assert_eq!(
        audit_line(&m),
        "mapping outcome=mapped idp=\"https://idp.example.com/metadata\" name_id=\"jose@example.com\" \
         operator=\"jose@example.com\" rule=\"rule #1 \\\"admins\\\" (line 3)\" \
         access_group=\"MyOrg:Administrators\" overage=false"
    );
}

#[test]
fn audit_line_cannot_be_split_by_a_hostile_value() {
    let t = table("[access]\ndefault = \"D\"\n");
    let m = evaluate(&t, &claims("x\" access_group=\"Admin\nfake line", &[])).unwrap();
    let line = audit_line(&m);
    assert!(!line.contains('\n'), "{line}");
    assert!(
        line.contains("name_id=\"x\\\" access_group=\\\"Admin\\nfake line\""),
        "{line}"
    );
}

#[test]
fn audit_refusal_line_names_the_reason() {
    let t = table("required_attributes = [\"mail\"]\n[access]\ndefault = \"D\"\n");
    let c = claims("jose", &[]);
    let r = evaluate(&t, &c).unwrap_err();
    let line = audit_refusal_line(&c, &r);
    assert!(line.starts_with("mapping outcome=refused idp=\"https://idp.example.com/metadata\" name_id=\"jose\" reason=missing_required_attribute"), "{line}");
    assert!(line.contains("`mail`"), "{line}");
}

#[test]
fn shipped_example_tables_load_and_map() {
    for file in [
        "mappings/default.toml",
        "mappings/entra.toml",
        "mappings/okta.toml",
    ] {
        let t = MappingTable::load(file).unwrap_or_else(|e| panic!("{e}"));
        assert!(t.rule_count() >= 3, "{file}");
    }
    let t = MappingTable::load("mappings/default.toml").unwrap();
    let admin = claims(
        "Jose@Example.com",
        &[("mail", &["jose@example.com"]), ("groups", &["Admins"])],
    );
    assert_eq!(access_group(&t, &admin).unwrap(), "MyOrg:Administrators");
    let nobody = claims(
        "ana@example.com",
        &[("mail", &["ana@example.com"]), ("groups", &["Visitors"])],
    );
    assert_eq!(
        access_group(&t, &nobody).unwrap(),
        "MyOrg:RestrictedReadOnly"
    );

    let entra = MappingTable::load("mappings/entra.toml").unwrap();
    let c = claims(
        "pairwise-id",
        &[
            (
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
                &["Ana@Contoso.com"],
            ),
            (
                "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
                &["samlgate.admin"],
            ),
        ],
    );
    let m = evaluate(&entra, &c).unwrap();
    assert_eq!(m.operator.id, "ana@contoso.com");
    assert_eq!(m.operator.access_group, "MyOrg:Administrators");
    let c = claims(
        "pairwise-id",
        &[
            (
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
                &["ana@contoso.com"],
            ),
            (OVERAGE_URI, &["x"]),
        ],
    );
    assert_eq!(
        evaluate(&entra, &c),
        Err(MappingRefusal::DeniedGroupsOverage)
    );
}
