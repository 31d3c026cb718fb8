//! Property: for any attributes, the access group is the group of the first rule whose
//! conditions hold (checked by an independent, naive oracle written here), or the fallback;
//! never anything else. And: a rule the loader calls unreachable really is.

use proptest::prelude::*;
use samlgate::mapping::{MappingRefusal, MappingTable, MatchedRule, ProblemKind, evaluate};
use samlgate::saml::{Claims, NameId, SamlAttribute};

const GROUPS: &[&str] = &[
    "Admins",
    "admins",
    "Staff",
    "Finance-EU",
    "Finance-US",
    "proj-1-leads",
    "proj-22-leads",
    "Editors",
    "Writers",
    "Ünïcode Team",
    "",
];
const GROUP_ATTRS: &[&str] = &[
    "groups",
    "memberOf",
    "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
];
const DEPARTMENTS: &[&str] = &["Finance", "HR", "Treasury", ""];
const GLOBS: &[&str] = &["Finance-*", "*", "proj-?-leads", "*Team", "Ad*"];
const REGEXES: &[&str] = &["proj-[0-9]+-leads", "(?i)admins", "Finance-(EU|US)", "E.*"];

#[derive(Clone, Debug)]
enum Cond {
    Exact(&'static str),
    Glob(&'static str),
    Regex(&'static str),
    Any(Vec<&'static str>),
    All(Vec<&'static str>),
    Dept(Vec<&'static str>),
    Always,
}

#[derive(Clone, Debug)]
struct RuleSpec {
    conds: Vec<Cond>,
    group: String,
}

#[derive(Clone, Debug)]
struct Login {
    /// (attribute name, values)
    attrs: Vec<(&'static str, Vec<&'static str>)>,
    overage: bool,
}

fn named(list: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    prop::sample::select(list)
}

fn nonempty_groups() -> impl Strategy<Value = &'static str> {
    named(GROUPS).prop_filter("rules name real groups", |g| !g.is_empty())
}

fn cond() -> impl Strategy<Value = Cond> {
    prop_oneof![
        4 => nonempty_groups().prop_map(Cond::Exact),
        2 => named(GLOBS).prop_map(Cond::Glob),
        2 => named(REGEXES).prop_map(Cond::Regex),
        2 => prop::collection::vec(nonempty_groups(), 1..4).prop_map(Cond::Any),
        2 => prop::collection::vec(nonempty_groups(), 1..4).prop_map(Cond::All),
        2 => prop::collection::vec(named(&DEPARTMENTS[..3]), 1..3).prop_map(Cond::Dept),
        1 => Just(Cond::Always),
    ]
}

fn rule() -> impl Strategy<Value = RuleSpec> {
    (prop::collection::vec(cond(), 1..3), 1..6u8).prop_map(|(conds, g)| RuleSpec {
        conds,
        group: format!("G{g}"),
    })
}

fn login() -> impl Strategy<Value = Login> {
    let group_attr = (
        named(GROUP_ATTRS),
        prop::collection::vec(named(GROUPS), 0..6),
    )
        .prop_map(|(n, vs)| (n, vs));
    let dept = prop::collection::vec(named(DEPARTMENTS), 0..3).prop_map(|vs| ("department", vs));
    (
        prop::collection::vec(group_attr, 0..3),
        dept,
        prop::bool::weighted(0.1),
    )
        .prop_map(|(mut attrs, dept, overage)| {
            attrs.push(dept);
            Login { attrs, overage }
        })
}

fn toml_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

fn render(rules: &[RuleSpec], deny: bool, ignore_case: bool) -> String {
    let mut t = String::from("[access]\n");
    if ignore_case {
        t.push_str("ignore_case = true\n");
    }
    t.push_str(if deny {
        "deny = true\n"
    } else {
        "default = \"Fallback\"\n"
    });
    for r in rules {
        t.push_str("\n[[access.rule]]\n");
        let mut depts: Vec<&str> = Vec::new();
        // One key per kind in TOML: merge repeats the way the loader would see them.
        let (mut exact, mut glob, mut regex) = (None, None, None);
        let (mut any, mut all) = (None, None);
        let mut always = false;
        for c in &r.conds {
            match c {
                Cond::Exact(g) => exact = Some(*g),
                Cond::Glob(g) => glob = Some(*g),
                Cond::Regex(g) => regex = Some(*g),
                Cond::Any(v) => any = Some(v.clone()),
                Cond::All(v) => all = Some(v.clone()),
                Cond::Dept(v) => depts = v.clone(),
                Cond::Always => always = true,
            }
        }
        if let Some(g) = exact {
            t.push_str(&format!("group = {g:?}\n"));
        }
        if let Some(g) = glob {
            t.push_str(&format!("group_glob = {g:?}\n"));
        }
        if let Some(g) = regex {
            t.push_str(&format!("group_regex = {g:?}\n"));
        }
        if let Some(v) = any {
            t.push_str(&format!("any_group = {}\n", toml_list(&v)));
        }
        if let Some(v) = all {
            t.push_str(&format!("all_groups = {}\n", toml_list(&v)));
        }
        if !depts.is_empty() {
            t.push_str(&format!(
                "attribute = {{ department = {} }}\n",
                toml_list(&depts)
            ));
        }
        if always {
            t.push_str("always = true\n");
        }
        t.push_str(&format!("access_group = {:?}\n", r.group));
    }
    t
}

/// The conditions as the TOML says them (a later key of the same kind replaces the earlier).
fn effective(r: &RuleSpec) -> Vec<Cond> {
    let mut out: Vec<Cond> = Vec::new();
    for c in &r.conds {
        let same = |o: &Cond| std::mem::discriminant(o) == std::mem::discriminant(c);
        out.retain(|o| !same(o));
        out.push(c.clone());
    }
    out
}

/// Naive glob: `*` any run, `?` one character.
fn glob_match(p: &[char], s: &[char]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some('*'), _) => glob_match(&p[1..], s) || (!s.is_empty() && glob_match(p, &s[1..])),
        (Some('?'), Some(_)) => glob_match(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob_match(&p[1..], &s[1..]),
        _ => false,
    }
}

fn oracle_holds(r: &RuleSpec, login: &Login, ic: bool) -> bool {
    let fold = |s: &str| if ic { s.to_lowercase() } else { s.to_owned() };
    let groups: Vec<&str> = login
        .attrs
        .iter()
        .filter(|(n, _)| GROUP_ATTRS.contains(n))
        .flat_map(|(_, vs)| vs.iter().copied())
        .filter(|g| !g.is_empty())
        .collect();
    let depts: Vec<&str> = login
        .attrs
        .iter()
        .filter(|(n, _)| *n == "department")
        .flat_map(|(_, vs)| vs.iter().copied())
        .collect();
    let has = |g: &str| groups.iter().any(|x| fold(x) == fold(g));
    effective(r).iter().all(|c| match c {
        Cond::Exact(g) => has(g),
        Cond::Glob(p) => {
            let p: Vec<char> = fold(p).chars().collect();
            groups
                .iter()
                .any(|g| glob_match(&p, &fold(g).chars().collect::<Vec<_>>()))
        }
        Cond::Regex(r) => {
            let re = regex::RegexBuilder::new(&format!("^(?:{r})$"))
                .case_insensitive(ic)
                .build()
                .unwrap();
            groups.iter().any(|g| re.is_match(g))
        }
        Cond::Any(v) => v.iter().any(|g| has(g)),
        Cond::All(v) => v.iter().all(|g| has(g)),
        Cond::Dept(v) => depts.iter().any(|d| v.iter().any(|w| fold(w) == fold(d))),
        Cond::Always => true,
    })
}

fn claims(login: &Login) -> Claims {
    let mut attributes: Vec<SamlAttribute> = login
        .attrs
        .iter()
        .map(|(n, vs)| SamlAttribute {
            name: n.to_string(),
            name_format: None,
            friendly_name: None,
            values: vs.iter().map(|v| v.to_string()).collect(),
        })
        .collect();
    if login.overage {
        attributes.push(SamlAttribute {
            name: "http://schemas.microsoft.com/claims/groups.link".into(),
            name_format: None,
            friendly_name: None,
            values: vec!["https://graph.microsoft.com/v1.0/users/x/getMemberObjects".into()],
        });
    }
    Claims {
        idp_entity_id: "https://idp.example.com".into(),
        name_id: NameId {
            value: "user".into(),
            format: None,
            name_qualifier: None,
            sp_name_qualifier: None,
        },
        attributes,
    }
}

/// Loads the table; rules the loader proves unreachable are checked against the oracle on
/// every login and then dropped, until the table loads.
fn load_dropping_unreachable(
    mut rules: Vec<RuleSpec>,
    deny: bool,
    ic: bool,
    logins: &[Login],
) -> (MappingTable, Vec<RuleSpec>) {
    loop {
        match MappingTable::from_toml(&render(&rules, deny, ic), "prop.toml") {
            Ok(t) => return (t, rules),
            Err(e) => {
                let mut drop = Vec::new();
                for p in e.problems() {
                    let (later, earlier) = match p.kind {
                        ProblemKind::Shadowed { index, by, .. }
                        | ProblemKind::AfterCatchAll { index, by, .. } => (index, by),
                        ProblemKind::DuplicateRule { index, first, .. } => (index, first),
                        ref other => panic!(
                            "generated table refused for {other}:\n{}",
                            render(&rules, deny, ic)
                        ),
                    };
                    for login in logins {
                        if oracle_holds(&rules[later - 1], login, ic) {
                            assert!(
                                oracle_holds(&rules[earlier - 1], login, ic),
                                "rule #{later} called unreachable behind #{earlier}, but {login:?} reaches it:\n{}",
                                render(&rules, deny, ic)
                            );
                        }
                    }
                    drop.push(later - 1);
                }
                drop.sort_unstable();
                drop.dedup();
                for i in drop.into_iter().rev() {
                    rules.remove(i);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn access_group_is_first_holding_rule_or_fallback(
        rules in prop::collection::vec(rule(), 0..8),
        deny in any::<bool>(),
        ignore_case in any::<bool>(),
        logins in prop::collection::vec(login(), 1..8),
    ) {
        let (table, rules) = load_dropping_unreachable(rules, deny, ignore_case, &logins);
        for login in &logins {
            let first = if login.overage {
                None
            } else {
                rules.iter().position(|r| oracle_holds(r, login, ignore_case))
            };
            let got = evaluate(&table, &claims(login));
            match (first, got) {
                (Some(i), Ok(m)) => {
                    prop_assert_eq!(&m.operator.access_group, &rules[i].group);
                    prop_assert!(matches!(m.matched_rule, MatchedRule::Rule { index, .. } if index == i + 1),
                        "matched {:?}, oracle says rule #{}", m.matched_rule, i + 1);
                }
                (None, Ok(m)) => {
                    prop_assert!(!deny, "deny table granted {:?}", m);
                    prop_assert_eq!(m.operator.access_group.as_str(), "Fallback");
                    prop_assert_eq!(m.matched_rule, MatchedRule::Default);
                    prop_assert_eq!(m.overage, login.overage);
                }
                (None, Err(r)) => {
                    prop_assert!(deny);
                    let expected = if login.overage { MappingRefusal::DeniedGroupsOverage } else { MappingRefusal::Denied };
                    prop_assert_eq!(r, expected);
                }
                (Some(i), Err(r)) => prop_assert!(false, "oracle says rule #{} holds, got {:?}", i + 1, r),
            }
        }
    }
}
