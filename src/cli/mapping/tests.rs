//! Unit tests of `cli::mapping`, compiled only under #[cfg(test)] (the parent declares `mod tests;`).
use super::*;
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: MappingTestArgs,
}

fn parse(argv: &[&str]) -> Result<MappingTestArgs, clap::Error> {
    Cli::try_parse_from(std::iter::once("mapping-test").chain(argv.iter().copied())).map(|c| c.args)
}

#[test]
fn attributes_json_keeps_attribute_order_and_accepts_single_strings() {
    let c = claims_from_json(
        r#"{"name_id": "jose", "attributes": {"sn": "Müller", "givenName": ["José", "Pepe"]}}"#,
    )
    .unwrap();
    assert_eq!(c.idp_entity_id, "mapping-test");
    assert_eq!(c.name_id.value, "jose");
    let names: Vec<&str> = c.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["sn", "givenName"]);
    assert_eq!(c.attributes[1].values, ["José", "Pepe"]);
}

#[test]
fn attributes_json_refuses_unknown_keys_and_missing_name_id() {
    let e = claims_from_json(r#"{"nameid": "x", "attributes": {}}"#).unwrap_err();
    assert!(e.to_string().contains("unknown field `nameid`"), "{e}");
    let e = claims_from_json(r#"{"attributes": {}}"#).unwrap_err();
    assert!(e.to_string().contains("missing field `name_id`"), "{e}");
    let e = claims_from_json(r#"{"name_id": "x", "attributes": {"a": 3}}"#).unwrap_err();
    assert!(
        e.to_string().contains("a string or a list of strings"),
        "{e}"
    );
}

#[test]
fn needs_attributes_or_response_but_not_both() {
    assert!(parse(&["--mapping", "m.toml"]).is_err());
    assert!(
        parse(&[
            "--mapping",
            "m.toml",
            "--attributes",
            "{}",
            "--response",
            "r",
            "--idp-metadata",
            "x"
        ])
        .is_err()
    );
    assert!(
        parse(&["--mapping", "m.toml", "--response", "r"]).is_err(),
        "--response needs --idp-metadata"
    );
    let response = [
        "--mapping",
        "m.toml",
        "--response",
        "r",
        "--idp-metadata",
        "x",
    ];
    let without_acs = [&response[..], &["--sp-entity-id", "s"]].concat();
    assert!(parse(&without_acs).is_err(), "--response needs --acs-url");
    let full = [&without_acs[..], &["--acs-url", "u"]].concat();
    assert_eq!(parse(&full).unwrap().acs_url.as_deref(), Some("u"));
    let a = parse(&["--mapping", "m.toml", "--attributes", "{}"]).unwrap();
    assert_eq!(a.attributes.as_deref(), Some("{}"));
}

#[test]
fn text_report_shows_operator_and_matched_rule() {
    let table = MappingTable::load("mappings/default.toml").unwrap();
    let claims = claims_from_json(
        r#"{"name_id": "Jose@Example.com", "idp": "https://idp.example.com",
            "attributes": {"mail": "jose@example.com", "givenName": "José", "sn": "Müller",
                           "groups": ["Staff", "Admins"]}}"#,
    )
    .unwrap();
    let result = evaluate(&table, &claims);
    let text = render_text(&claims, &result);
    assert!(
        text.contains("operator:      \"jose@example.com\"\n"),
        "{text}"
    );
    assert!(
        text.contains("access group:  \"MyOrg:Administrators\"\n"),
        "{text}"
    );
    let file = std::fs::read_to_string("mappings/default.toml").unwrap();
    let first_rule_line = file.lines().position(|l| l == "[[access.rule]]").unwrap() + 1;
    let expected = format!("matched:       rule #1 \"administrators\" (line {first_rule_line})\n");
    assert!(text.contains(&expected), "{text}");
    assert!(text.contains("name:          \"José Müller\"\n"), "{text}");
    assert!(
        text.contains("groups (2):    \"Staff\", \"Admins\"\n"),
        "{text}"
    );
    // The headers the backend gets, as sent (non-ASCII encoded by the header contract).
    assert!(
        text.contains(
            "the backend gets (default header names):\n  x-forwarded-user: jose@example.com\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("  x-forwarded-access-group: MyOrg:Administrators\n"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&render_json(&claims, &result)).unwrap();
    assert_eq!(json["outcome"], "mapped");
    assert_eq!(
        json["mapped"]["operator"]["access_group"],
        "MyOrg:Administrators"
    );
    assert_eq!(json["mapped"]["matched_rule"]["index"], 1);
}

#[test]
fn text_report_shows_a_refusal_with_its_reason() {
    let table = MappingTable::load("mappings/default.toml").unwrap();
    let claims = claims_from_json(r#"{"name_id": "x", "attributes": {}}"#).unwrap();
    let result = evaluate(&table, &claims);
    let text = render_text(&claims, &result);
    assert!(text.starts_with("outcome:       REFUSED\n"), "{text}");
    assert!(text.contains("`mail`"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&render_json(&claims, &result)).unwrap();
    assert_eq!(json["kind"], "missing_required_attribute");
}

#[test]
fn exit_status_tells_mapped_refused_and_bad_input_apart() {
    let run_with = |attributes: &str, mapping: &str| {
        run(MappingTestArgs {
            mapping: mapping.into(),
            attributes: Some(attributes.to_owned()),
            response: None,
            idp_metadata: None,
            idp_entity_id: None,
            sp_entity_id: None,
            acs_url: None,
            sp_keys: Vec::new(),
            now: None,
            json: true,
        })
    };
    let ok = r#"{"name_id": "a", "attributes": {"mail": "a@example.com"}}"#;
    assert_eq!(run_with(ok, "mappings/default.toml"), ExitCode::SUCCESS);
    assert_eq!(
        run_with(r#"{"name_id": "a"}"#, "mappings/default.toml"),
        ExitCode::from(1)
    );
    assert_eq!(
        run_with("{not json", "mappings/default.toml"),
        ExitCode::from(2)
    );
    assert_eq!(run_with(ok, "mappings/missing.toml"), ExitCode::from(2));
}

#[test]
fn text_report_quotes_values_so_a_comma_inside_a_group_shows() {
    let table = MappingTable::load("mappings/default.toml").unwrap();
    let claims = claims_from_json(
        r#"{"name_id": "ana@example.com", "attributes": {"mail": "ana@example.com", "groups": ["Finance-EU", "R&D, Europe"]}}"#,
    )
    .unwrap();
    let text = render_text(&claims, &evaluate(&table, &claims));
    assert!(
        text.contains("groups (2):    \"Finance-EU\", \"R&D, Europe\"\n"),
        "{text}"
    );
    assert!(text.contains("  x-forwarded-groups: "), "{text}");
}
