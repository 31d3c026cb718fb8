//! Adversarial ACS bodies: the shapes an attacker can POST to the ACS without any key, each
//! sized by one count, so that a test can build a small one and the benchmark a 256 KiB one.
//! Shared by tests/it/acs_adversarial.rs (each refused by name, or accepted when legal) and
//! benches/adversarial.rs (each timed through `saml::response::validate`).
//!
//! Most are the test IdP's signed Response with something added where the verifier has to walk
//! it before the signature can fail (inside the signed Response, in its ds:Signature), or an
//! unsigned Response whose EncryptedAssertion is shaped to make key lookup work hard.

use std::sync::OnceLock;

use base64::Engine;
use samlgate::crypto::enc_algorithms::uri as enc;
use samlgate::saml::issue::SignParts;
use samlgate::saml::time::format_instant;
use samlgate::xml::ns;

use super::test_idp;

/// The gateway's default `server.max_acs_body`: the whole form body `SAMLResponse=<base64>`.
pub const MAX_ACS_BODY: usize = 256 * 1024;

const EXC_C14N_TRANSFORM: &str =
    r#"<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#;

/// The `SAMLResponse` form value (base64 of the XML), as `validate` takes it.
pub fn saml_response_value(xml: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(xml)
}

/// Length of the form body a browser would POST: `SAMLResponse=` and the URL-encoded base64.
pub fn form_body_len(xml: &str) -> usize {
    let value = saml_response_value(xml);
    let escaped = value
        .bytes()
        .filter(|b| matches!(b, b'+' | b'/' | b'='))
        .count();
    "SAMLResponse=".len() + value.len() + 2 * escaped
}

/// `build(n)` for the largest `n` whose form body fits in [`MAX_ACS_BODY`].
pub fn fill(build: impl Fn(usize) -> String) -> String {
    let fits = |n: usize| form_body_len(&build(n)) <= MAX_ACS_BODY;
    assert!(fits(0), "the shape does not fit even with n = 0");
    let mut high = 1usize;
    while fits(high) {
        high *= 2;
    }
    let mut low = high / 2;
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        if fits(mid) {
            low = mid;
        } else {
            high = mid;
        }
    }
    build(low)
}

/// The test IdP's Response, Response and Assertion signed (made once per binary).
pub fn signed_response() -> &'static str {
    static XML: OnceLock<String> = OnceLock::new();
    XML.get_or_init(|| test_idp::signed(&test_idp::spec(), SignParts::Both))
}

/// A legitimately large signed Response: `groups` carries `n` values.
pub fn signed_response_with_groups(n: usize) -> String {
    let mut spec = test_idp::spec();
    spec.attributes.push((
        "memberOf".to_string(),
        (0..n)
            .map(|i| format!("cn=group-{i},ou=groups,dc=example,dc=org"))
            .collect(),
    ));
    test_idp::signed(&spec, SignParts::Both)
}

fn splice(xml: &str, at: usize, insert: &str) -> String {
    let mut out = String::with_capacity(xml.len() + insert.len());
    out.push_str(&xml[..at]);
    out.push_str(insert);
    out.push_str(&xml[at..]);
    out
}

/// The signed Response with `padding` as its last children, inside what its signature covers.
pub fn with_padding(padding: &str) -> String {
    let xml = signed_response();
    let end = xml.rfind("</samlp:Response>").expect("Response end tag");
    splice(xml, end, padding)
}

/// `xml` with `declarations` (` xmlns:p="..."` ...) added to the Response's start tag.
pub fn declared_on_response(xml: &str, declarations: &str) -> String {
    let at = "<samlp:Response".len();
    assert!(xml.starts_with("<samlp:Response"));
    splice(xml, at, declarations)
}

/// The Response's exc-c14n Reference transform given an InclusiveNamespaces PrefixList (the
/// Response's signature comes first in the document, so it is the one checked first).
pub fn with_prefix_list(xml: &str, list: &str) -> String {
    assert!(xml.contains(EXC_C14N_TRANSFORM));
    xml.replacen(
        EXC_C14N_TRANSFORM,
        &format!(
            r#"<ds:Transform Algorithm="{c14n}"><ec:InclusiveNamespaces xmlns:ec="{c14n}" PrefixList="{list}"/></ds:Transform>"#,
            c14n = ns::EXC_C14N
        ),
        1,
    )
}

/// The text of the first `<tag>` ... `</tag>` of `xml` replaced by `text`.
fn replace_first_text(xml: &str, tag: &str, text: &str) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open).expect("open tag") + open.len();
    let end = start + xml[start..].find(&close).expect("close tag");
    format!("{}{text}{}", &xml[..start], &xml[end..])
}

/// `n` distinct prefixes: `p0 p1 p2 ...`.
pub fn distinct_prefixes(n: usize) -> String {
    (0..n)
        .map(|i| format!("p{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

// ---- the shapes, each sized by `n` ----------------------------------------------------------

/// A PrefixList of `n` distinct tokens (the reported attack: 16,000 of them in 90 KB).
pub fn prefix_list_distinct(n: usize) -> String {
    with_prefix_list(signed_response(), &distinct_prefixes(n))
}

/// A PrefixList of one token written `n` times.
pub fn prefix_list_repeated(n: usize) -> String {
    with_prefix_list(signed_response(), &vec!["xs"; n.max(1)].join(" "))
}

/// `listed` prefixes declared on the Response and listed in its PrefixList, over `n` empty
/// siblings: legal, and each sibling is an element c14n visits.
pub fn prefix_list_over_many_elements(listed: usize, n: usize) -> String {
    let declarations: String = (0..listed)
        .map(|i| format!(r#" xmlns:p{i}="urn:p{i}""#))
        .collect();
    let xml = with_padding(&"<a/>".repeat(n));
    with_prefix_list(
        &declared_on_response(&xml, &declarations),
        &distinct_prefixes(listed),
    )
}

/// One element with `n` attributes.
pub fn attributes_on_one_element(n: usize) -> String {
    let attributes: String = (0..n).map(|i| format!(r#" a{i}="""#)).collect();
    with_padding(&format!("<x{attributes}/>"))
}

/// `n` elements, each with `per_element` attributes.
pub fn attributes_on_many_elements(per_element: usize, n: usize) -> String {
    let attributes: String = (0..per_element).map(|i| format!(r#" a{i}="""#)).collect();
    with_padding(&format!("<x{attributes}/>").repeat(n))
}

/// One element with `n` namespace declarations.
pub fn declarations_on_one_element(n: usize) -> String {
    let declarations: String = (0..n).map(|i| format!(r#" xmlns:n{i}="urn:n""#)).collect();
    with_padding(&format!("<x{declarations}/>"))
}

/// `levels` nested elements each declaring `per_level` prefixes, around `n` leaves that each
/// name the outermost prefix (the last one found by a scan from the innermost) and one in no
/// namespace (the default-namespace lookup finds none and scans all).
pub fn namespaces_in_scope(levels: usize, per_level: usize, n: usize) -> String {
    let mut open = String::new();
    for level in 0..levels {
        let declarations: String = (0..per_level)
            .map(|i| format!(r#" xmlns:n{level}_{i}="urn:n""#))
            .collect();
        open.push_str(&format!("<x{declarations}>"));
    }
    let leaves = r#"<n0_0:y n0_0:a=""/><y/>"#.repeat(n);
    with_padding(&format!("{open}{leaves}{}", "</x>".repeat(levels)))
}

/// `n` chains of `depth` nested elements.
pub fn deep_nesting(depth: usize, n: usize) -> String {
    let chain = format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
    with_padding(&chain.repeat(n))
}

/// `n` empty sibling elements.
pub fn many_siblings(n: usize) -> String {
    with_padding(&"<a/>".repeat(n))
}

/// `n` empty elements each followed by text: two nodes per five bytes.
pub fn many_nodes(n: usize) -> String {
    with_padding(&"<a/>x".repeat(n))
}

/// `n` extra ds:Signature children of the Response (one verifies; the others only confuse).
pub fn many_signatures(n: usize) -> String {
    let xml = with_padding(&"<ds:Signature/>".repeat(n));
    declared_on_response(&xml, &format!(r#" xmlns:ds="{}""#, ns::DS))
}

/// `n` extra ds:Reference elements in the Response's SignedInfo.
pub fn many_references(n: usize) -> String {
    let xml = signed_response();
    let end = xml.find("</ds:SignedInfo>").expect("SignedInfo");
    splice(xml, end, &"<ds:Reference/>".repeat(n))
}

/// The Response's SignatureValue replaced by `n` base64 quads.
pub fn huge_signature_value(n: usize) -> String {
    replace_first_text(signed_response(), "ds:SignatureValue", &"AAAA".repeat(n))
}

/// The Response's DigestValue replaced by `n` base64 quads.
pub fn huge_digest_value(n: usize) -> String {
    replace_first_text(signed_response(), "ds:DigestValue", &"AAAA".repeat(n))
}

/// The certificate in the Response's KeyInfo (never read: keys come from metadata) replaced by
/// `n` base64 quads. The signature still verifies, so this one is accepted.
pub fn huge_certificate(n: usize) -> String {
    replace_first_text(signed_response(), "ds:X509Certificate", &"AAAA".repeat(n))
}

/// `n` elements each with its own ID.
pub fn many_ids(n: usize) -> String {
    with_padding(
        &(0..n)
            .map(|i| format!(r#"<a ID="_{i}"/>"#))
            .collect::<String>(),
    )
}

/// Text made of `n` character references.
pub fn char_references_in_text(n: usize) -> String {
    with_padding(&format!("<x>{}</x>", "&#65;".repeat(n)))
}

/// An attribute value made of `n` character references.
pub fn char_references_in_attribute(n: usize) -> String {
    with_padding(&format!(r#"<x a="{}"/>"#, "&#65;".repeat(n)))
}

/// Text split by `n` comments.
pub fn many_comments(n: usize) -> String {
    with_padding(&format!("<x>{}</x>", "a<!---->".repeat(n)))
}

/// A namespace URI of `uri_len` bytes, declared on an element that does not use it, over `n`
/// children that do: exclusive c14n renders the declaration on every one of them.
pub fn namespace_amplification(uri_len: usize, n: usize) -> String {
    with_padding(&format!(
        r#"<w xmlns:p="urn:{}">{}</w>"#,
        "a".repeat(uri_len),
        "<p:x/>".repeat(n)
    ))
}

/// An unsigned Response whose EncryptedAssertion holds one EncryptedData with `key_info` and,
/// beside it, `siblings`. Everything else is valid, so only the key lookup can refuse it.
pub fn encrypted_response(key_info: &str, siblings: &str) -> String {
    format!(
        concat!(
            r#"<samlp:Response xmlns:samlp="{samlp}" xmlns:saml="{saml}" xmlns:ds="{ds}" xmlns:xenc="{xenc}" "#,
            r#"ID="_r" Version="2.0" IssueInstant="{now}" Destination="{acs}" InResponseTo="{request}">"#,
            r#"<saml:Issuer>{idp}</saml:Issuer>"#,
            r#"<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>"#,
            r#"<saml:EncryptedAssertion><xenc:EncryptedData Type="{element}">"#,
            r#"<xenc:EncryptionMethod Algorithm="{aes}"/>{key_info}"#,
            r#"<xenc:CipherData><xenc:CipherValue>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA</xenc:CipherValue></xenc:CipherData>"#,
            r#"</xenc:EncryptedData>{siblings}</saml:EncryptedAssertion></samlp:Response>"#
        ),
        samlp = ns::SAMLP,
        saml = ns::SAML,
        ds = ns::DS,
        xenc = ns::XENC,
        now = format_instant(test_idp::NOW),
        acs = test_idp::ACS,
        request = test_idp::REQUEST_ID,
        idp = test_idp::IDP,
        element = enc::TYPE_ELEMENT,
        aes = enc::AES256_GCM,
        key_info = key_info,
        siblings = siblings,
    )
}

/// A well-formed EncryptedKey with `Id="k"`.
pub fn encrypted_key() -> String {
    format!(
        r#"<xenc:EncryptedKey Id="k"><xenc:EncryptionMethod Algorithm="{}"/><xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey>"#,
        enc::RSA_OAEP_MGF1P
    )
}

/// `n` RetrievalMethods in the EncryptedData's KeyInfo, all naming the one EncryptedKey.
pub fn retrieval_methods(n: usize) -> String {
    encrypted_response(
        &format!(
            "<ds:KeyInfo>{}</ds:KeyInfo>",
            r##"<ds:RetrievalMethod URI="#k"/>"##.repeat(n)
        ),
        &encrypted_key(),
    )
}

/// `n` KeyNames in the EncryptedData's KeyInfo and `n` EncryptedKeys beside it carrying
/// another name.
pub fn key_names(n: usize) -> String {
    encrypted_response(
        &format!(
            "<ds:KeyInfo>{}</ds:KeyInfo>",
            "<ds:KeyName>a</ds:KeyName>".repeat(n)
        ),
        &"<xenc:EncryptedKey><xenc:CarriedKeyName>b</xenc:CarriedKeyName></xenc:EncryptedKey>"
            .repeat(n),
    )
}

/// `n` EncryptedKeys beside an EncryptedData without KeyInfo (each applies, SAML core 6.2).
pub fn encrypted_key_siblings(n: usize) -> String {
    encrypted_response("", &"<xenc:EncryptedKey/>".repeat(n))
}

/// One adversarial body and what `validate` must answer: a rejection kind, or "accepted".
pub struct Shape {
    pub name: &'static str,
    pub expect: &'static str,
    pub xml: String,
}

/// Every shape at the largest size whose form body fits in 256 KiB, the normal signed Response
/// first for scale.
pub fn all_at_256_kib() -> Vec<Shape> {
    let shape = |name, expect, xml| Shape { name, expect, xml };
    vec![
        shape(
            "normal signed Response (for scale)",
            "accepted",
            signed_response().to_string(),
        ),
        shape(
            "legit signed Response, thousands of group values",
            "accepted",
            fill(signed_response_with_groups),
        ),
        shape(
            "PrefixList, 16,000 distinct tokens (the report, 90 KB)",
            "signature_prefix_list_too_long",
            prefix_list_distinct(16_000),
        ),
        shape(
            "PrefixList, distinct tokens",
            "signature_prefix_list_too_long",
            fill(prefix_list_distinct),
        ),
        shape(
            "PrefixList, one token repeated",
            "signature_prefix_list_too_long",
            fill(prefix_list_repeated),
        ),
        shape(
            "PrefixList of 32 declared prefixes over many elements",
            "signature_digest_mismatch",
            fill(|n| prefix_list_over_many_elements(32, n)),
        ),
        shape(
            "attributes on one element",
            "bad_xml",
            fill(attributes_on_one_element),
        ),
        shape(
            "64 attributes on each of many elements",
            "signature_digest_mismatch",
            fill(|n| attributes_on_many_elements(64, n)),
        ),
        shape(
            "namespace declarations on one element",
            "bad_xml",
            fill(declarations_on_one_element),
        ),
        shape(
            "47 levels of 63 namespace declarations, many leaves",
            "bad_xml",
            fill(|n| namespaces_in_scope(47, 63, n)),
        ),
        shape(
            "2 levels of 60 namespace declarations, many leaves",
            "signature_digest_mismatch",
            fill(|n| namespaces_in_scope(2, 60, n)),
        ),
        shape(
            "deep nesting to the cap, many chains",
            "signature_digest_mismatch",
            fill(|n| deep_nesting(47, n)),
        ),
        shape(
            "deep nesting past the cap",
            "bad_xml",
            fill(|n| deep_nesting(n, 1)),
        ),
        shape(
            "many sibling elements",
            "signature_digest_mismatch",
            fill(many_siblings),
        ),
        shape("nodes past the cap", "bad_xml", fill(many_nodes)),
        shape(
            "many ds:Signature children",
            "signature_multiple",
            fill(many_signatures),
        ),
        shape(
            "many ds:Reference elements",
            "signature_reference_count",
            fill(many_references),
        ),
        shape(
            "huge SignatureValue",
            "signature_value_too_long",
            fill(huge_signature_value),
        ),
        shape(
            "huge DigestValue",
            "signature_value_too_long",
            fill(huge_digest_value),
        ),
        shape(
            "huge X509Certificate in KeyInfo (never read)",
            "accepted",
            fill(huge_certificate),
        ),
        shape("many IDs", "signature_digest_mismatch", fill(many_ids)),
        shape(
            "character references in text",
            "signature_digest_mismatch",
            fill(char_references_in_text),
        ),
        shape(
            "character references in an attribute",
            "signature_digest_mismatch",
            fill(char_references_in_attribute),
        ),
        shape(
            "text split by comments",
            "signature_digest_mismatch",
            fill(many_comments),
        ),
        shape(
            "90 KB namespace URI re-rendered by c14n",
            "signature_canonical_form_too_large",
            fill(|n| namespace_amplification(90_000, n)),
        ),
        shape(
            "RetrievalMethods to one EncryptedKey",
            "decryption_failed",
            fill(retrieval_methods),
        ),
        shape(
            "KeyNames against CarriedKeyNames",
            "decryption_failed",
            fill(key_names),
        ),
        shape(
            "EncryptedKeys beside the EncryptedData",
            "decryption_failed",
            fill(encrypted_key_siblings),
        ),
    ]
}
