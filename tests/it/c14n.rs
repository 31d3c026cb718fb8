//! Exclusive c14n against outputs worked out by hand from the W3C exc-c14n and c14n specs.
//! (Byte-for-byte agreement with xmlsec1 on IdP-signed documents is in tests/c14n_oracle.rs.)

use samlgate::xml::c14n::canonicalize;
use samlgate::xml::{Document, ParseLimits, parse};

fn doc(xml: &str) -> Document {
    parse(xml.as_bytes(), &ParseLimits::default()).expect("test document parses")
}

fn c14n_of(d: &Document, local_name: &str, prefixes: &[&str]) -> String {
    let el = d
        .elements()
        .find(|e| e.local_name() == local_name)
        .expect("element present");
    let prefixes: Vec<String> = prefixes.iter().map(|s| s.to_string()).collect();
    String::from_utf8(canonicalize(d, el.id(), None, &prefixes).expect("c14n")).expect("utf-8")
}

#[test]
fn subtree_carries_the_namespaces_it_uses_from_ancestors() {
    let d = doc(r#"<a:root xmlns:a="urn:a" xmlns:b="urn:b"><a:child b:attr="1"/></a:root>"#);
    assert_eq!(
        c14n_of(&d, "child", &[]),
        r#"<a:child xmlns:a="urn:a" xmlns:b="urn:b" b:attr="1"></a:child>"#
    );
}

#[test]
fn unused_namespace_declarations_are_dropped() {
    let d = doc(r#"<r xmlns:u="urn:unused"><c/></r>"#);
    assert_eq!(c14n_of(&d, "r", &[]), "<r><c></c></r>");
}

#[test]
fn inclusive_prefix_list_keeps_a_declaration_in_scope() {
    let d = doc(r#"<r xmlns:u="urn:unused"><c/></r>"#);
    assert_eq!(
        c14n_of(&d, "r", &["u"]),
        r#"<r xmlns:u="urn:unused"><c></c></r>"#
    );
    // Only rendered once: the child's output ancestor already has it.
    assert_eq!(c14n_of(&d, "c", &["u"]), r#"<c xmlns:u="urn:unused"></c>"#);
}

#[test]
fn default_namespace_redeclared_empty_is_rendered_only_under_a_default() {
    let d = doc(r#"<root xmlns="urn:x"><inner xmlns=""><leaf/></inner></root>"#);
    assert_eq!(
        c14n_of(&d, "root", &[]),
        r#"<root xmlns="urn:x"><inner xmlns=""><leaf></leaf></inner></root>"#
    );
    assert_eq!(c14n_of(&d, "inner", &[]), "<inner><leaf></leaf></inner>");
}

#[test]
fn prefix_declared_high_and_used_low_is_rendered_where_used() {
    let d = doc(r#"<p:a xmlns:p="urn:p" xmlns:q="urn:q"><p:b><q:c/><q:d/></p:b></p:a>"#);
    assert_eq!(
        c14n_of(&d, "a", &[]),
        r#"<p:a xmlns:p="urn:p"><p:b><q:c xmlns:q="urn:q"></q:c><q:d xmlns:q="urn:q"></q:d></p:b></p:a>"#
    );
}

#[test]
fn namespace_redeclared_to_another_uri_is_rendered_again() {
    let d = doc(r#"<p:a xmlns:p="urn:one"><p:b xmlns:p="urn:two"/></p:a>"#);
    assert_eq!(
        c14n_of(&d, "a", &[]),
        r#"<p:a xmlns:p="urn:one"><p:b xmlns:p="urn:two"></p:b></p:a>"#
    );
}

#[test]
fn attributes_sort_by_namespace_uri_then_local_name() {
    let d = doc(r#"<r xmlns:b="urn:b" xmlns:a="urn:z" b:x="1" a:y="2" z="3" c="4"/>"#);
    assert_eq!(
        c14n_of(&d, "r", &[]),
        r#"<r xmlns:a="urn:z" xmlns:b="urn:b" c="4" z="3" b:x="1" a:y="2"></r>"#
    );
}

#[test]
fn text_and_attribute_escaping_follow_the_spec() {
    let d =
        doc("<r a=\"&quot;&#9;&#10;&#13;&lt;&gt;&amp;'\">a &amp; b &lt; c &#13; d &gt; e \"'</r>");
    assert_eq!(
        c14n_of(&d, "r", &[]),
        "<r a=\"&quot;&#x9;&#xA;&#xD;&lt;>&amp;'\">a &amp; b &lt; c &#xD; d &gt; e \"'</r>"
    );
}

#[test]
fn literal_whitespace_in_attributes_is_normalized_to_spaces() {
    let d = doc("<r a=\"x\ty\nz\r\nw\"/>");
    assert_eq!(c14n_of(&d, "r", &[]), "<r a=\"x y z w\"></r>");
}

#[test]
fn cdata_becomes_escaped_text_and_line_ends_are_normalized() {
    let d = doc("<r><![CDATA[<x>&]]>\r\nnext\rline</r>");
    assert_eq!(c14n_of(&d, "r", &[]), "<r>&lt;x&gt;&amp;\nnext\nline</r>");
}

#[test]
fn comments_are_removed_and_text_around_them_joined() {
    let d = doc("<r>alice@example.com<!---->.evil.com<!-- x --></r>");
    assert_eq!(c14n_of(&d, "r", &[]), "<r>alice@example.com.evil.com</r>");
}

#[test]
fn xml_prefixed_attributes_are_kept_without_declaring_xml() {
    let d = doc(r#"<r xml:lang="en"><c/></r>"#);
    assert_eq!(c14n_of(&d, "r", &[]), r#"<r xml:lang="en"><c></c></r>"#);
    // Exclusive c14n does not inherit xml:* attributes into a subtree.
    assert_eq!(c14n_of(&d, "c", &[]), "<c></c>");
}

#[test]
fn omitted_descendant_is_left_out_with_its_subtree() {
    let d = doc(
        r#"<r ID="x"><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X/></ds:Signature><k>v</k></r>"#,
    );
    let root = d.root();
    let sig = root.child_elements().next().expect("signature");
    let out = canonicalize(&d, root.id(), Some(sig.id()), &[]).expect("c14n");
    assert_eq!(String::from_utf8(out).unwrap(), r#"<r ID="x"><k>v</k></r>"#);
}

#[test]
fn fragment_inherits_context_namespaces() {
    use samlgate::xml::{NamespaceDecl, parse_with_context};
    let ctx = vec![NamespaceDecl {
        prefix: Some("saml".into()),
        uri: "urn:oasis:names:tc:SAML:2.0:assertion".into(),
    }];
    let d = parse_with_context(
        br#"<saml:Assertion ID="a"><saml:Issuer>i</saml:Issuer></saml:Assertion>"#,
        &ParseLimits::default(),
        &ctx,
    )
    .expect("fragment parses with context");
    assert_eq!(
        c14n_of(&d, "Assertion", &[]),
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="a"><saml:Issuer>i</saml:Issuer></saml:Assertion>"#
    );
}

// ---- the PrefixList and the size of the canonical form -----------------------------------------

#[test]
fn prefix_list_with_duplicates_canonicalizes_as_the_deduplicated_list() {
    let d = doc(
        r#"<p:r xmlns:p="urn:p" xmlns="urn:x" xmlns:u="urn:u" xmlns:v="urn:v"><p:c u:a="1"/></p:r>"#,
    );
    let once = c14n_of(&d, "c", &["#default", "v"]);
    assert_eq!(
        once,
        r#"<p:c xmlns="urn:x" xmlns:p="urn:p" xmlns:u="urn:u" xmlns:v="urn:v" u:a="1"></p:c>"#
    );
    let repeated = ["v", "#default", "v", "u", "v", "#default", "p", "v"];
    assert_eq!(c14n_of(&d, "c", &repeated), once);
}

#[test]
fn a_listed_prefix_redeclared_below_the_apex_is_rendered_only_where_its_binding_changes() {
    let d = doc(concat!(
        r#"<r xmlns:l="urn:one"><a><b xmlns:l="urn:two"><c/></b>"#,
        r#"<d xmlns:l="urn:one"/><e><f xmlns:k="urn:k"/></e></a></r>"#
    ));
    assert_eq!(
        c14n_of(&d, "r", &["l", "k"]),
        concat!(
            r#"<r xmlns:l="urn:one"><a><b xmlns:l="urn:two"><c></c></b>"#,
            r#"<d></d><e><f xmlns:k="urn:k"></f></e></a></r>"#
        )
    );
}

#[test]
fn a_listed_default_namespace_undeclared_and_redeclared_below_the_apex() {
    let d = doc(
        r#"<p:r xmlns:p="urn:p" xmlns="urn:x"><p:a xmlns=""/><p:b xmlns="urn:y"/><p:c/></p:r>"#,
    );
    assert_eq!(
        c14n_of(&d, "r", &["#default"]),
        r#"<p:r xmlns="urn:x" xmlns:p="urn:p"><p:a xmlns=""></p:a><p:b xmlns="urn:y"></p:b><p:c></p:c></p:r>"#
    );
    // Unlisted, the default namespace appears nowhere: no element uses it.
    assert_eq!(
        c14n_of(&d, "r", &[]),
        r#"<p:r xmlns:p="urn:p"><p:a></p:a><p:b></p:b><p:c></p:c></p:r>"#
    );
}

#[test]
fn the_canonical_form_is_capped_at_a_multiple_of_the_message() {
    use samlgate::xml::c14n::C14nError;
    use samlgate::xml::limits::{C14N_GROWTH_ALLOWANCE, C14N_MAX_GROWTH};
    // A 10 KB URI declared once, and rendered again on each of 200 children that use it.
    let xml = format!(
        r#"<r xmlns:p="urn:{}">{}</r>"#,
        "a".repeat(10_000),
        "<p:x/>".repeat(200)
    );
    let d = doc(&xml);
    let limit = xml.len() * C14N_MAX_GROWTH + C14N_GROWTH_ALLOWANCE;
    assert_eq!(
        canonicalize(&d, d.root().id(), None, &[]),
        Err(C14nError::TooLarge {
            element: "r".into(),
            limit,
            source_len: xml.len(),
            growth: C14N_MAX_GROWTH,
            allowance: C14N_GROWTH_ALLOWANCE,
        })
    );
    // Ten children stay well under the cap and are rendered in full.
    let xml = format!(
        r#"<r xmlns:p="urn:{}">{}</r>"#,
        "a".repeat(10_000),
        "<p:x/>".repeat(10)
    );
    let d = doc(&xml);
    let out = canonicalize(&d, d.root().id(), None, &[]).expect("c14n");
    assert_eq!(
        out.len(),
        "<r></r>".len() + 10 * r#"<p:x xmlns:p="urn:"></p:x>"#.len() + 10 * 10_000
    );
}

#[test]
fn escaping_that_grows_every_byte_of_the_message_stays_under_the_cap() {
    // The largest growth escaping can cause: `"` in a single-quoted value becomes `&quot;`.
    let xml = format!("<r a='{}'/>", "\"".repeat(100_000));
    let d = doc(&xml);
    let out = canonicalize(&d, d.root().id(), None, &[]).expect("c14n");
    assert_eq!(out.len(), r#"<r a=""></r>"#.len() + 6 * 100_000);
}
