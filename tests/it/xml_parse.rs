//! The strict parser refuses what docs/security.md "Parsing" lists, and reads text values whole.

use samlgate::xml::{ParseLimits, XmlError, parse};

fn refuse(xml: &str) -> XmlError {
    match parse(xml.as_bytes(), &ParseLimits::default()) {
        Ok(_) => panic!("parser accepted: {xml}"),
        Err(e) => e,
    }
}

#[test]
fn refuses_doctype() {
    assert_eq!(refuse("<!DOCTYPE r><r/>"), XmlError::Doctype);
}

#[test]
fn refuses_internal_entity_payload() {
    let billion_laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><r>&lol2;</r>"#;
    assert_eq!(refuse(billion_laughs), XmlError::Doctype);
}

#[test]
fn refuses_external_entity_payload() {
    let xxe = r#"<!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:1/x">]><r>&x;</r>"#;
    assert_eq!(refuse(xxe), XmlError::Doctype);
}

#[test]
fn refuses_undeclared_entity_reference() {
    assert!(matches!(refuse("<r>&nbsp;</r>"), XmlError::UnknownEntity(e) if e == "nbsp"));
    assert!(matches!(refuse(r#"<r a="&x;"/>"#), XmlError::UnknownEntity(e) if e == "x"));
}

#[test]
fn refuses_processing_instructions() {
    assert!(matches!(
        refuse(r#"<r><?xml-stylesheet href="x"?></r>"#),
        XmlError::ProcessingInstruction(_)
    ));
    assert!(matches!(
        refuse("<?pi data?><r/>"),
        XmlError::ProcessingInstruction(_)
    ));
}

#[test]
fn accepts_xml_declaration_only_at_the_start() {
    assert!(
        parse(
            br#"<?xml version="1.0" encoding="UTF-8"?><r/>"#,
            &ParseLimits::default()
        )
        .is_ok()
    );
    assert!(parse(br#" <?xml version="1.0"?><r/>"#, &ParseLimits::default()).is_err());
}

#[test]
fn refuses_non_utf8_encodings() {
    assert!(matches!(
        refuse(r#"<?xml version="1.0" encoding="ISO-8859-1"?><r/>"#),
        XmlError::UnsupportedEncoding(_)
    ));
    let latin1: &[u8] = b"<r>caf\xe9</r>";
    assert!(matches!(
        parse(latin1, &ParseLimits::default()),
        Err(XmlError::NotUtf8 { .. })
    ));
}

#[test]
fn refuses_several_roots_and_trailing_content() {
    assert_eq!(refuse("<a/><b/>"), XmlError::SeveralRoots);
    assert_eq!(refuse("<a/>trailing"), XmlError::TextOutsideRoot);
    assert_eq!(refuse("leading<a/>"), XmlError::TextOutsideRoot);
    assert!(parse(b"<a/>\n  <!-- ok -->\n", &ParseLimits::default()).is_ok());
}

#[test]
fn refuses_empty_and_unclosed_documents() {
    assert_eq!(refuse(""), XmlError::NoRoot);
    assert!(matches!(refuse("<a><b></a>"), XmlError::Malformed { .. }));
    assert!(matches!(refuse("<a>"), XmlError::Malformed { .. }));
}

#[test]
fn refuses_depth_beyond_the_limit() {
    let limits = ParseLimits::default();
    let deep = "<a>".repeat(limits.max_depth + 1) + &"</a>".repeat(limits.max_depth + 1);
    assert_eq!(refuse(&deep), XmlError::TooDeep(limits.max_depth));
}

#[test]
fn refuses_documents_over_the_size_limit() {
    let limits = ParseLimits {
        max_bytes: 100,
        ..ParseLimits::default()
    };
    let big = format!("<r>{}</r>", "x".repeat(200));
    assert!(matches!(
        parse(big.as_bytes(), &limits),
        Err(XmlError::TooLarge {
            size: 207,
            limit: 100
        })
    ));
}

#[test]
fn refuses_too_many_nodes_and_attributes() {
    let limits = ParseLimits {
        max_nodes: 10,
        max_attributes_per_element: 3,
        ..ParseLimits::default()
    };
    let many = format!("<r>{}</r>", "<c/>".repeat(20));
    assert_eq!(
        parse(many.as_bytes(), &limits).err(),
        Some(XmlError::TooManyNodes(10))
    );
    let attrs = r#"<r a="1" b="2" c="3" d="4"/>"#;
    assert!(matches!(
        parse(attrs.as_bytes(), &limits),
        Err(XmlError::TooManyAttributes { .. })
    ));
}

#[test]
fn refuses_duplicate_attributes_including_by_expanded_name() {
    assert!(matches!(
        refuse(r#"<r a="1" a="2"/>"#),
        XmlError::Malformed { .. }
    ));
    assert!(matches!(
        refuse(r#"<r xmlns:p="urn:x" xmlns:q="urn:x" p:a="1" q:a="2"/>"#),
        XmlError::DuplicateAttribute { .. }
    ));
}

/// The parser checks repeated names itself (not quick-xml): every form of a name written twice
/// on one tag is refused, wherever the two sit among the tag's attributes.
#[test]
fn refuses_every_name_written_twice_on_one_tag() {
    for xml in [
        r#"<r a="1" b="2" a="3"/>"#,
        r#"<r xmlns:p="urn:x" p:a="1" p:a="2"/>"#,
        r#"<r xmlns:p="urn:x" xmlns:p="urn:y"/>"#,
        r#"<r xmlns="urn:x" xmlns="urn:y"/>"#,
        r#"<r xmlns:p="urn:x" a="0" xmlns:q="urn:z" xmlns:p="urn:x"/>"#,
        r#"<r><c ID="a" x="1" ID="b"/></r>"#,
    ] {
        assert!(matches!(refuse(xml), XmlError::Malformed { .. }), "{xml}");
    }
    // One name each, even when they look alike: accepted.
    for xml in [
        r#"<r a="1" A="2" xmlns:a="urn:x" a:a="3"/>"#,
        r#"<r xmlns="urn:x" xmlns:p="urn:x" p:ID="1" ID="1"/>"#,
    ] {
        assert!(
            parse(xml.as_bytes(), &ParseLimits::default()).is_ok(),
            "{xml}"
        );
    }
}

#[test]
fn refuses_undeclared_prefixes() {
    assert!(matches!(
        refuse("<p:r/>"),
        XmlError::UndeclaredPrefix { .. }
    ));
    assert!(matches!(
        refuse(r#"<r p:a="1"/>"#),
        XmlError::UndeclaredPrefix { .. }
    ));
}

#[test]
fn refuses_control_characters() {
    assert!(matches!(refuse("<r>\u{1}</r>"), XmlError::Malformed { .. }));
    assert!(matches!(refuse("<r>&#0;</r>"), XmlError::InvalidCharRef(_)));
}

#[test]
fn comment_inside_a_value_never_truncates_it() {
    let d = parse(
        b"<NameID>alice@example.com<!---->.evil.com</NameID>",
        &ParseLimits::default(),
    )
    .expect("parses");
    assert_eq!(d.root().text().expect("text"), "alice@example.com.evil.com");
}

#[test]
fn element_where_text_is_expected_is_refused() {
    let d = parse(b"<NameID>alice<b>x</b></NameID>", &ParseLimits::default()).expect("parses");
    assert!(d.root().text().is_err());
}

#[test]
fn namespaces_resolve_by_scope_not_by_prefix() {
    let d = parse(
        br#"<x:Response xmlns:x="urn:oasis:names:tc:SAML:2.0:protocol"><Assertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion"/></x:Response>"#,
        &ParseLimits::default(),
    )
    .expect("parses");
    let root = d.root();
    assert!(root.is("urn:oasis:names:tc:SAML:2.0:protocol", "Response"));
    let a = root.child_elements().next().expect("child");
    assert!(a.is("urn:oasis:names:tc:SAML:2.0:assertion", "Assertion"));
}

#[test]
fn refuses_more_namespace_declarations_in_scope_than_the_cap() {
    let limits = ParseLimits {
        max_namespaces_in_scope: 4,
        ..ParseLimits::default()
    };
    let nested = r#"<a xmlns:a="urn:x" xmlns:b="urn:x"><b xmlns:c="urn:x"><c xmlns:d="urn:x" xmlns:e="urn:x"/></b></a>"#;
    assert_eq!(
        parse(nested.as_bytes(), &limits).err(),
        Some(XmlError::TooManyNamespaces {
            element: "c".into(),
            limit: 4
        })
    );
    // Declarations that go out of scope do not count: siblings may each declare up to the cap.
    let siblings = format!(
        "<r>{}</r>",
        r#"<s xmlns:a="urn:x" xmlns:b="urn:x" xmlns:c="urn:x" xmlns:d="urn:x"/>"#.repeat(50)
    );
    assert!(parse(siblings.as_bytes(), &limits).is_ok());
}

#[test]
fn inherited_namespaces_count_toward_the_in_scope_cap() {
    use samlgate::xml::{NamespaceDecl, parse_with_context};
    let limits = ParseLimits {
        max_namespaces_in_scope: 4,
        ..ParseLimits::default()
    };
    let inherited: Vec<NamespaceDecl> = (0..4)
        .map(|i| NamespaceDecl {
            prefix: Some(format!("p{i}")),
            uri: "urn:x".into(),
        })
        .collect();
    assert!(parse_with_context(b"<p0:a/>", &limits, &inherited).is_ok());
    assert_eq!(
        parse_with_context(br#"<p0:a xmlns:q="urn:y"/>"#, &limits, &inherited).err(),
        Some(XmlError::TooManyNamespaces {
            element: "p0:a".into(),
            limit: 4
        })
    );
}

#[test]
fn finds_duplicate_expanded_names_wherever_they_sit_among_many_attributes() {
    // quick-xml refuses two attributes with one qualified name; these differ in prefix only.
    for at in [0usize, 1, 30, 61] {
        let mut attributes: Vec<String> = (0..61).map(|i| format!(r#" p:a{i}="""#)).collect();
        attributes.insert(at, r#" q:a5="""#.into());
        let xml = format!(
            r#"<r xmlns:p="urn:same" xmlns:q="urn:same"{}/>"#,
            attributes.concat()
        );
        assert_eq!(
            refuse(&xml),
            XmlError::DuplicateAttribute {
                element: "r".into(),
                attribute: "a5".into()
            },
            "q:a5 at {at}"
        );
    }
    // One local name in two namespaces, or in none and in one, is no duplicate.
    let distinct = r#"<r xmlns:p="urn:p" xmlns:q="urn:q" a="1" p:a="2" q:a="3"/>"#;
    assert!(parse(distinct.as_bytes(), &ParseLimits::default()).is_ok());
}

/// The IDs the duplicate-ID check compares are listed by the parser as it reads: every
/// unqualified `ID` in the document, however deep, and never a namespaced one.
#[test]
fn the_parser_lists_every_unqualified_id_for_the_duplicate_check() {
    let doc = |xml: &str| parse(xml.as_bytes(), &ParseLimits::default()).expect(xml);
    let deep = doc(r#"<r ID="a"><x><y/><z><w ID="b"/><v ID="a"/></z></x></r>"#);
    assert_eq!(deep.duplicate_id(), Some("a"));
    let siblings = doc(r#"<r><x ID="b"/><x ID="c"/><x ID="b"/></r>"#);
    assert_eq!(siblings.duplicate_id(), Some("b"));
    let distinct = doc(r#"<r xmlns:p="urn:x" ID="a" p:ID="a"><x ID="b" id="a"/></r>"#);
    assert_eq!(distinct.duplicate_id(), None);
}

/// An element's subtree is read as the run of nodes up to its recorded end: it holds every
/// element below, in document order, and nothing after the element closes.
#[test]
fn an_elements_descendants_are_its_subtree_and_nothing_after_it() {
    let xml = r#"<r><a>t<!--c--><b><c/></b>u<d/></a><e><f/></e></r>"#;
    let doc = parse(xml.as_bytes(), &ParseLimits::default()).expect("well-formed");
    let names = |e: samlgate::xml::ElementRef<'_>| -> Vec<String> {
        e.descendants_and_self()
            .map(|d| d.local_name().to_owned())
            .collect()
    };
    assert_eq!(names(doc.root()), ["r", "a", "b", "c", "d", "e", "f"]);
    let a = doc.root().child_elements().next().expect("a");
    assert_eq!(names(a), ["a", "b", "c", "d"]);
    let c = a
        .child_elements()
        .next()
        .and_then(|b| b.child_elements().next())
        .expect("c");
    assert_eq!(names(c), ["c"]);
}
