//! Every shape an attacker can POST to make parsing, canonicalization, signature checking or
//! key lookup do more than linear work before a signature is trusted is refused by a named cap,
//! and the rejection names the count and the cap; shapes that are only large, and legal, still
//! verify when the IdP signed them. Bodies are the largest the gateway takes (a 256 KiB form
//! body). How long each takes is measured by benches/adversarial.rs, never here.

use samlgate::crypto::{DecryptionError, SignatureError};
use samlgate::saml::issue::SignParts;
use samlgate::saml::rejection::Malformed;
use samlgate::saml::response::validate;
use samlgate::saml::{ExpectedRequest, Rejection, VerifiedAssertion};
use samlgate::xml::XmlError;
use samlgate::xml::c14n::C14nError;
use samlgate::xml::limits::{
    C14N_GROWTH_ALLOWANCE, C14N_MAX_GROWTH, MAX_ATTRIBUTES_PER_ELEMENT, MAX_DEPTH,
    MAX_DIGEST_VALUE_LEN, MAX_ENCRYPTED_KEYS, MAX_INCLUSIVE_PREFIXES, MAX_NAMESPACES_IN_SCOPE,
    MAX_NODES, MAX_SIGNATURE_VALUE_LEN,
};

use crate::support::adversarial::{self as shapes, fill};
use crate::support::test_idp::*;

/// `validate` on the form value a browser would POST, which must fit the default body cap.
fn answer(xml: &str) -> Result<VerifiedAssertion, Rejection> {
    let body = shapes::form_body_len(xml);
    assert!(body <= shapes::MAX_ACS_BODY, "fixture is {body} bytes");
    validate(
        shapes::saml_response_value(xml).as_bytes(),
        &policy(),
        &sp(),
        ExpectedRequest::Solicited(REQUEST_ID),
        NOW,
    )
}

#[track_caller]
fn refused(xml: &str) -> Rejection {
    match answer(xml) {
        Ok(v) => panic!("accepted, expected a rejection: NameID {:?}", v.name_id()),
        Err(e) => {
            eprintln!("refused as expected: [{}] {e}", e.kind());
            e
        }
    }
}

#[track_caller]
fn xml_error(xml: &str) -> XmlError {
    match refused(xml) {
        Rejection::Malformed(Malformed::Xml(e)) => e,
        other => panic!("expected an XML refusal, got: {other}"),
    }
}

#[track_caller]
fn signature_error(xml: &str) -> SignatureError {
    match refused(xml) {
        Rejection::Signature(e) => e,
        other => panic!("expected a signature refusal, got: {other}"),
    }
}

#[track_caller]
fn decryption_error(xml: &str) -> DecryptionError {
    match refused(xml) {
        Rejection::Decryption(e) => e,
        other => panic!("expected a decryption refusal, got: {other}"),
    }
}

/// The signed Response with `extra` inside its Assertion, signed by the IdP after it was added.
fn signed_with_extra(extra: &str) -> String {
    let mut spec = spec();
    spec.assertion_extra = extra.to_string();
    signed(&spec, SignParts::Both)
}

#[track_caller]
fn accepted(xml: &str) -> VerifiedAssertion {
    match answer(xml) {
        Ok(v) => {
            assert_eq!(v.name_id().value, "alice@example.com");
            v
        }
        Err(e) => panic!("refused a legal, signed message: [{}] {e}", e.kind()),
    }
}

// ---- InclusiveNamespaces PrefixList -----------------------------------------------------------

#[test]
fn refuses_the_reported_prefix_list_of_16000_tokens_naming_count_and_cap() {
    let error = signature_error(&shapes::prefix_list_distinct(16_000));
    assert_eq!(
        error,
        SignatureError::PrefixListTooLong {
            count: 16_000,
            limit: MAX_INCLUSIVE_PREFIXES
        }
    );
    assert_eq!(error.kind(), "signature_prefix_list_too_long");
    let line = error.to_string();
    assert!(line.contains("16000") && line.contains(&MAX_INCLUSIVE_PREFIXES.to_string()));
}

#[test]
fn refuses_a_prefix_list_filling_the_body_with_distinct_or_repeated_tokens() {
    for xml in [
        fill(shapes::prefix_list_distinct),
        fill(shapes::prefix_list_repeated),
    ] {
        match signature_error(&xml) {
            SignatureError::PrefixListTooLong { count, limit } => {
                assert_eq!(limit, MAX_INCLUSIVE_PREFIXES);
                assert!(count > 10_000, "{count}");
            }
            other => panic!("{other}"),
        }
    }
}

#[test]
fn refuses_one_token_over_the_cap_and_reads_a_list_at_the_cap() {
    let over = shapes::with_prefix_list(
        shapes::signed_response(),
        &shapes::distinct_prefixes(MAX_INCLUSIVE_PREFIXES + 1),
    );
    assert_eq!(
        signature_error(&over),
        SignatureError::PrefixListTooLong {
            count: MAX_INCLUSIVE_PREFIXES + 1,
            limit: MAX_INCLUSIVE_PREFIXES
        }
    );
    // At the cap the list is read, and the Response's digest still matches (none of these
    // prefixes is declared): only the SignedInfo, which the list changed, fails to verify.
    let at = shapes::with_prefix_list(
        shapes::signed_response(),
        &shapes::distinct_prefixes(MAX_INCLUSIVE_PREFIXES),
    );
    assert_eq!(signature_error(&at).kind(), "signature_no_key_verified");
}

#[test]
fn refuses_prefix_list_tokens_that_are_not_prefixes() {
    for token in ["a:b", "1x", "#other", "-x", "x&amp;y"] {
        let xml = shapes::with_prefix_list(shapes::signed_response(), &format!("xs {token}"));
        match signature_error(&xml) {
            SignatureError::PrefixListToken { token: found } => {
                assert_eq!(found, token.replace("&amp;", "&"));
            }
            other => panic!("{token}: {other}"),
        }
    }
}

#[test]
fn a_prefix_list_at_the_cap_over_thousands_of_elements_reaches_the_digest() {
    // Legal but large: 32 declared, listed prefixes and every element of a 256 KiB body.
    let xml = fill(|n| shapes::prefix_list_over_many_elements(MAX_INCLUSIVE_PREFIXES, n));
    assert_eq!(
        signature_error(&xml),
        SignatureError::DigestMismatch {
            reference: format!("#{}", response_id(&xml))
        }
    );
}

fn response_id(xml: &str) -> String {
    let start = xml.find(" ID=\"").unwrap() + 5;
    let end = start + xml[start..].find('"').unwrap();
    xml[start..end].to_string()
}

// ---- attributes and namespace declarations ----------------------------------------------------

#[test]
fn refuses_an_element_with_thousands_of_attributes() {
    assert_eq!(
        xml_error(&fill(shapes::attributes_on_one_element)),
        XmlError::TooManyAttributes {
            element: "x".into(),
            limit: MAX_ATTRIBUTES_PER_ELEMENT
        }
    );
}

#[test]
fn refuses_an_element_with_thousands_of_namespace_declarations() {
    // Declarations are attributes: the same cap applies.
    assert_eq!(
        xml_error(&fill(shapes::declarations_on_one_element)),
        XmlError::TooManyAttributes {
            element: "x".into(),
            limit: MAX_ATTRIBUTES_PER_ELEMENT
        }
    );
}

#[test]
fn refuses_namespace_declarations_nested_past_the_in_scope_cap() {
    let error = xml_error(&fill(|n| shapes::namespaces_in_scope(47, 63, n)));
    assert_eq!(
        error,
        XmlError::TooManyNamespaces {
            element: "x".into(),
            limit: MAX_NAMESPACES_IN_SCOPE
        }
    );
    assert!(error.to_string().contains("in scope"), "{error}");
}

#[test]
fn the_namespace_cap_counts_what_is_in_scope_not_what_the_document_declares() {
    // Thousands of declarations in all, at most 60 of them (plus the Response's) in scope.
    let declarations: String = (0..60).map(|i| format!(r#" xmlns:n{i}="urn:n""#)).collect();
    let xml = fill(|n| shapes::with_padding(&format!("<x{declarations}/>").repeat(n)));
    assert!(xml.matches("xmlns:").count() > 10 * MAX_NAMESPACES_IN_SCOPE);
    assert_eq!(signature_error(&xml).kind(), "signature_digest_mismatch");
    // Two levels of 60 around thousands of leaves that look the outermost prefix up.
    let xml = fill(|n| shapes::namespaces_in_scope(2, 60, n));
    assert_eq!(signature_error(&xml).kind(), "signature_digest_mismatch");
}

#[test]
fn accepts_signed_elements_with_the_most_attributes_allowed() {
    // Prefixed ones too: duplicates by expanded name are looked for among all of them.
    let attributes: String = (0..MAX_ATTRIBUTES_PER_ELEMENT - 1)
        .map(|i| format!(r#" p:a{i}="{i}""#))
        .collect();
    let element = format!(r#"<x xmlns:p="urn:p"{attributes}/>"#);
    accepted(&signed_with_extra(&element.repeat(100)));
}

#[test]
fn refuses_two_attributes_with_one_expanded_name_among_many() {
    let mut attributes: Vec<String> = (0..60).map(|i| format!(r#" p:a{i}="""#)).collect();
    attributes.push(r#" q:a7="""#.into());
    let xml = shapes::with_padding(&format!(
        r#"<x xmlns:p="urn:same" xmlns:q="urn:same"{}/>"#,
        attributes.concat()
    ));
    assert_eq!(
        xml_error(&xml),
        XmlError::DuplicateAttribute {
            element: "x".into(),
            attribute: "a7".into()
        }
    );
}

// ---- tree shape -------------------------------------------------------------------------------

#[test]
fn refuses_nesting_past_the_depth_cap() {
    assert_eq!(
        xml_error(&fill(|n| shapes::deep_nesting(n, 1))),
        XmlError::TooDeep(MAX_DEPTH)
    );
}

#[test]
fn refuses_more_nodes_than_the_cap() {
    assert_eq!(
        xml_error(&fill(shapes::many_nodes)),
        XmlError::TooManyNodes(MAX_NODES)
    );
}

#[test]
fn accepts_signed_trees_that_are_wide_deep_or_full_of_ids_and_references() {
    // The Assertion sits at depth 2: chains of 46 reach the cap exactly.
    let deepest = format!("{}{}", "<a>".repeat(46), "</a>".repeat(46));
    let cases = [
        ("siblings", "<a/>".repeat(40_000)),
        ("chains to the depth cap", deepest.repeat(400)),
        (
            "IDs",
            (0..8_000).map(|i| format!(r#"<a ID="_{i}"/>"#)).collect(),
        ),
        (
            "character references",
            format!(
                r#"<x a="{refs}">{refs}</x>"#,
                refs = "&#65;&#x42;&lt;".repeat(4_000)
            ),
        ),
        ("comments", format!("<x>{}</x>", "a<!---->".repeat(15_000))),
    ];
    for (what, extra) in cases {
        eprintln!("{what}");
        accepted(&signed_with_extra(&extra));
    }
}

#[test]
fn accepts_a_legit_response_with_thousands_of_group_values() {
    let values = accepted(&fill(shapes::signed_response_with_groups))
        .claims
        .values("memberOf")
        .count();
    assert!(values > 1_000, "{values}");
}

// ---- ds:Signature parts -----------------------------------------------------------------------

#[test]
fn refuses_a_signature_value_or_digest_value_over_its_cap() {
    match signature_error(&fill(shapes::huge_signature_value)) {
        SignatureError::ValueTooLong {
            element,
            length,
            limit,
        } => {
            assert_eq!(element, "ds:SignatureValue");
            assert_eq!(limit, MAX_SIGNATURE_VALUE_LEN);
            assert!(length > 100_000, "{length}");
        }
        other => panic!("{other}"),
    }
    match signature_error(&fill(shapes::huge_digest_value)) {
        SignatureError::ValueTooLong { element, limit, .. } => {
            assert_eq!(element, "ds:DigestValue");
            assert_eq!(limit, MAX_DIGEST_VALUE_LEN);
        }
        other => panic!("{other}"),
    }
}

#[test]
fn accepts_a_huge_certificate_in_key_info_because_it_is_never_read() {
    accepted(&fill(shapes::huge_certificate));
}

#[test]
fn refuses_floods_of_signatures_and_references() {
    assert!(matches!(
        signature_error(&fill(shapes::many_signatures)),
        SignatureError::MultipleSignatures { count, .. } if count > 10_000
    ));
    assert!(matches!(
        signature_error(&fill(shapes::many_references)),
        SignatureError::ReferenceCount { count } if count > 10_000
    ));
}

// ---- canonical form ---------------------------------------------------------------------------

#[test]
fn refuses_a_namespace_uri_that_c14n_would_repeat_on_thousands_of_elements() {
    let xml = fill(|n| shapes::namespace_amplification(90_000, n));
    match signature_error(&xml) {
        SignatureError::Canonicalization(C14nError::TooLarge {
            element,
            limit,
            source_len,
            ..
        }) => {
            assert_eq!(element, "samlp:Response");
            assert_eq!(source_len, xml.len());
            assert_eq!(limit, xml.len() * C14N_MAX_GROWTH + C14N_GROWTH_ALLOWANCE);
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_declaration_repeated_on_a_few_elements_is_canonicalized() {
    // The same trick at a scale real documents reach (xsi declared above every AttributeValue).
    let xml = shapes::namespace_amplification(100, 200);
    assert_eq!(signature_error(&xml).kind(), "signature_digest_mismatch");
}

// ---- key lookup in EncryptedAssertion ---------------------------------------------------------

#[test]
fn refuses_thousands_of_retrieval_methods_before_resolving_any() {
    let xml = fill(shapes::retrieval_methods);
    let count = xml.matches("<ds:RetrievalMethod").count();
    assert_eq!(
        decryption_error(&xml),
        DecryptionError::TooManyKeyReferences {
            count,
            limit: MAX_ENCRYPTED_KEYS
        }
    );
}

#[test]
fn refuses_thousands_of_key_names() {
    let xml = fill(shapes::key_names);
    let count = xml.matches("<ds:KeyName>").count();
    assert_eq!(
        decryption_error(&xml),
        DecryptionError::TooManyKeyReferences {
            count,
            limit: MAX_ENCRYPTED_KEYS
        }
    );
}

#[test]
fn refuses_thousands_of_encrypted_keys_beside_the_data() {
    let xml = fill(shapes::encrypted_key_siblings);
    let count = xml.matches("<xenc:EncryptedKey/>").count();
    assert_eq!(
        decryption_error(&xml),
        DecryptionError::TooManyEncryptedKeys {
            count,
            limit: MAX_ENCRYPTED_KEYS
        }
    );
}

#[test]
fn a_few_retrieval_methods_to_one_key_count_it_once() {
    // Within the cap, several references to one EncryptedKey are one key to try; with no SP
    // key configured, the lookup got as far as the key list.
    let xml = shapes::retrieval_methods(MAX_ENCRYPTED_KEYS);
    assert_eq!(decryption_error(&xml), DecryptionError::NoDecryptionKeys);
}
