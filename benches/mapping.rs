//! The mapping's cost per login: an assertion with 200 groups against a 100-rule table
//! (target: under 20 µs per mapping). Two cases: no rule matches (every rule is tested, then
//! the default applies) and the last rule matches.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use samlgate::mapping::{MappingTable, evaluate};
use samlgate::saml::{Claims, NameId, SamlAttribute};

/// 100 rules of every kind, none shadowing another.
fn table_text() -> String {
    let mut t = String::from("required_attributes = [\"mail\"]\n[operator]\nlowercase = true\n");
    t.push_str("[access]\ndefault = \"MyOrg:RestrictedReadOnly\"\n");
    let mut rule = |body: String, i: usize| {
        t.push_str(&format!(
            "\n[[access.rule]]\nname = \"r{i}\"\n{body}access_group = \"MyOrg:G{i}\"\n"
        ));
    };
    let mut n = 0;
    for i in 0..40 {
        rule(format!("group = \"app-{i}-admins\"\n"), n);
        n += 1;
    }
    for i in 0..20 {
        rule(format!("group_glob = \"dept-{i}-*\"\n"), n);
        n += 1;
    }
    for i in 0..15 {
        rule(
            format!("group_regex = \"proj-{i}-[a-z]+-(lead|owner)\"\n"),
            n,
        );
        n += 1;
    }
    for i in 0..10 {
        rule(
            format!("any_group = [\"team-{i}-a\", \"team-{i}-b\", \"team-{i}-c\"]\n"),
            n,
        );
        n += 1;
    }
    for i in 0..10 {
        rule(
            format!("all_groups = [\"role-{i}-x\", \"role-{i}-y\"]\n"),
            n,
        );
        n += 1;
    }
    for i in 0..5 {
        rule(
            format!("group = \"staff-{i}\"\nattribute = {{ department = \"Dept{i}\" }}\n"),
            n,
        );
        n += 1;
    }
    assert_eq!(n, 100);
    t
}

/// 200 groups, many of them near misses (`role-3-x` without `role-3-y`, `staff-2` in the
/// wrong department), plus `last` if given.
fn claims(last: Option<&str>) -> Claims {
    let mut groups: Vec<String> = (0..180)
        .map(|i| format!("CN=Group {i},OU=Groups,DC=corp,DC=example,DC=com"))
        .collect();
    groups.extend((0..10).map(|i| format!("role-{i}-x")));
    groups.extend((0..5).map(|i| format!("staff-{i}")));
    groups.extend((0..5).map(|i| format!("proj-{i}-x")));
    if let Some(last) = last {
        groups.pop();
        groups.push(last.to_owned());
    }
    assert_eq!(groups.len(), 200);
    Claims {
        idp_entity_id: "https://sts.windows.net/tenant/".into(),
        name_id: NameId {
            value: "Jose.Muller@example.com".into(),
            format: None,
            name_qualifier: None,
            sp_name_qualifier: None,
        },
        attributes: vec![
            SamlAttribute {
                name: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress".into(),
                name_format: None,
                friendly_name: None,
                values: vec!["jose.muller@example.com".into()],
            },
            SamlAttribute {
                name: "http://schemas.microsoft.com/identity/claims/displayname".into(),
                name_format: None,
                friendly_name: None,
                values: vec!["José Müller".into()],
            },
            SamlAttribute {
                name: "department".into(),
                name_format: None,
                friendly_name: None,
                values: vec!["Other".into()],
            },
            SamlAttribute {
                name: "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups".into(),
                name_format: None,
                friendly_name: None,
                values: groups,
            },
        ],
    }
}

fn bench(c: &mut Criterion) {
    let table = MappingTable::from_toml(&table_text(), "bench.toml").expect("bench table loads");
    assert_eq!(table.rule_count(), 100);

    let no_match = claims(None);
    let m = evaluate(&table, &no_match).expect("maps");
    assert_eq!(m.operator.access_group, "MyOrg:RestrictedReadOnly");
    assert_eq!(m.operator.groups.len(), 200);
    c.bench_function("mapping 200 groups x 100 rules, default", |b| {
        b.iter(|| evaluate(black_box(&table), black_box(&no_match)))
    });

    let last = claims(Some("staff-4"));
    let mut last = last;
    if let Some(dept) = last.attributes.iter_mut().find(|a| a.name == "department") {
        dept.values = vec!["Dept4".into()];
    }
    let m = evaluate(&table, &last).expect("maps");
    assert_eq!(m.operator.access_group, "MyOrg:G99");
    c.bench_function("mapping 200 groups x 100 rules, last rule", |b| {
        b.iter(|| evaluate(black_box(&table), black_box(&last)))
    });

    c.bench_function("load 100-rule table", |b| {
        let text = table_text();
        b.iter(|| MappingTable::from_toml(black_box(&text), "bench.toml"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
