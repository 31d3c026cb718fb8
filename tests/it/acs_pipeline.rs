//! The ACS pipeline, rule by rule (docs/security.md "Parsing", "Signatures", "Structure and
//! conditions"): each test is an attack refused, or the valid shape accepted.

use base64::Engine;
use samlgate::saml::issue::{ResponseSpec, SignParts};
use samlgate::saml::response::{validate, validate_xml};
use samlgate::saml::{ExpectedRequest, Rejection, VerifiedAssertion};
use time::Duration;

use crate::support::test_idp::*;

fn check(xml: &str) -> Result<VerifiedAssertion, Rejection> {
    validate_xml(
        xml.as_bytes(),
        &policy(),
        &sp(),
        ExpectedRequest::Solicited(REQUEST_ID),
        NOW,
    )
}

fn check_at(xml: &str, now: time::OffsetDateTime) -> Result<VerifiedAssertion, Rejection> {
    validate_xml(
        xml.as_bytes(),
        &policy(),
        &sp(),
        ExpectedRequest::Solicited(REQUEST_ID),
        now,
    )
}

#[track_caller]
fn refused(result: Result<VerifiedAssertion, Rejection>) -> Rejection {
    match result {
        Ok(v) => panic!("accepted, expected a rejection: NameID {:?}", v.name_id()),
        Err(e) => e,
    }
}

/// Refused, and for a reason other than malformed XML: the attack document itself is
/// well-formed, so the refusal must come from a SAML or signature rule.
#[track_caller]
fn refused_by_a_rule(result: Result<VerifiedAssertion, Rejection>) -> Rejection {
    let e = refused(result);
    assert_ne!(
        e.kind(),
        "bad_xml",
        "attack fixture is not well-formed: {e}"
    );
    eprintln!("refused as expected: [{}] {e}", e.kind());
    e
}

#[track_caller]
fn assert_kind(result: Result<VerifiedAssertion, Rejection>, kind: &str) -> Rejection {
    let e = refused(result);
    assert_eq!(e.kind(), kind, "rejection was: {e}");
    e
}

/// The byte range of the first `<ds:Signature>...</ds:Signature>` in `xml`; `inner_end` is
/// where its closing tag starts (to append children such as a copied document or ds:Object).
struct SignatureSpan {
    start: usize,
    inner_end: usize,
    end: usize,
}

fn signature_span(xml: &str) -> SignatureSpan {
    let start = xml.find("<ds:Signature").expect("signature");
    let inner_end = xml.find("</ds:Signature>").expect("end of signature");
    SignatureSpan {
        start,
        inner_end,
        end: inner_end + "</ds:Signature>".len(),
    }
}

// ---------------------------------------------------------------- accepted shapes

#[test]
fn accepts_response_with_signed_assertion() {
    let v = check(&signed(&spec(), SignParts::Assertion)).expect("valid");
    assert_eq!(v.name_id().value, "alice@example.com");
    assert_eq!(v.idp_entity_id(), IDP);
    assert!(v.signed.assertion && !v.signed.response);
    let groups: Vec<&str> = v.claims.values("groups").collect();
    assert_eq!(groups, ["Admins", "Staff"]);
    assert_eq!(v.in_response_to.as_deref(), Some(REQUEST_ID));
}

#[test]
fn accepts_response_signed_on_the_response_only() {
    let v = check(&signed(&spec(), SignParts::Response)).expect("valid");
    assert!(v.signed.response && !v.signed.assertion);
}

#[test]
fn accepts_response_signed_on_both() {
    let v = check(&signed(&spec(), SignParts::Both)).expect("valid");
    assert!(v.signed.response && v.signed.assertion);
}

#[test]
fn accepts_post_binding_base64_with_line_breaks() {
    let xml = signed(&spec(), SignParts::Both);
    let b64 = base64::engine::general_purpose::STANDARD.encode(xml);
    let wrapped: String = b64
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n");
    let v = validate(
        wrapped.as_bytes(),
        &policy(),
        &sp(),
        ExpectedRequest::Solicited(REQUEST_ID),
        NOW,
    )
    .expect("valid");
    assert_eq!(v.name_id().value, "alice@example.com");
}

#[test]
fn replay_window_is_earliest_not_on_or_after_plus_skew() {
    let s = spec();
    let v = check(&signed(&s, SignParts::Assertion)).expect("valid");
    assert_eq!(v.replay_until, s.not_on_or_after + Duration::seconds(180));
    assert_eq!(v.session_not_on_or_after, s.session_not_on_or_after);
    assert_eq!(v.assertion_id, s.assertion_id);
}

// ---------------------------------------------------------------- parsing

#[test]
fn refuses_doctype_in_a_response() {
    let xml = signed(&spec(), SignParts::Both);
    let evil = format!("<!DOCTYPE r [<!ENTITY x \"y\">]>{xml}");
    assert_kind(check(&evil), "bad_xml");
}

#[test]
fn refuses_bad_base64_and_oversized_form_values() {
    let r = validate(
        b"%%%not base64",
        &policy(),
        &sp(),
        ExpectedRequest::NotChecked,
        NOW,
    );
    assert_kind(r, "bad_base64");
    let huge = vec![b'A'; 2 * 1024 * 1024];
    let r = validate(&huge, &policy(), &sp(), ExpectedRequest::NotChecked, NOW);
    assert_kind(r, "too_large");
}

#[test]
fn refuses_a_root_other_than_response() {
    let xml = spec().assertion_xml();
    assert_kind(check(&xml), "not_a_response");
}

// ---------------------------------------------------------------- signatures

#[test]
fn refuses_unsigned_response() {
    assert_kind(check(&signed(&spec(), SignParts::None)), "unsigned");
}

#[test]
fn refuses_when_no_signing_key_is_configured() {
    let mut p = policy();
    p.signing_keys.clear();
    let xml = signed(&spec(), SignParts::Both);
    let r = validate_xml(xml.as_bytes(), &p, &sp(), ExpectedRequest::NotChecked, NOW);
    assert_kind(r, "no_signing_key");
}

#[test]
fn refuses_signed_name_id_changed_after_signing() {
    let xml = signed(&spec(), SignParts::Assertion).replace(
        "alice@example.com</saml:NameID>",
        "admin@example.com</saml:NameID>",
    );
    let e = refused(check(&xml));
    assert_eq!(e.category(), "signature", "{e}");
}

#[test]
fn refuses_signed_response_whose_assertion_was_changed() {
    let xml = signed(&spec(), SignParts::Response).replace(">Admins<", ">Domain Admins<");
    let e = refused(check(&xml));
    assert_eq!(e.category(), "signature", "{e}");
}

#[test]
fn comment_injected_into_signed_name_id_reads_as_the_whole_value() {
    let mut s = spec();
    s.name_id = "alice@example.com.evil.com".to_string();
    let xml = signed(&s, SignParts::Both).replace(
        "alice@example.com.evil.com</saml:NameID>",
        "alice@example.com<!---->.evil.com</saml:NameID>",
    );
    // The signature still verifies (c14n drops comments), and the value is never truncated.
    let v = check(&xml).expect("signature over the comment-free text verifies");
    assert_eq!(v.name_id().value, "alice@example.com.evil.com");
}

#[test]
fn refuses_element_inside_name_id() {
    let mut s = spec();
    s.name_id = "alice".to_string();
    let xml = signed(&s, SignParts::None).replace(
        "alice</saml:NameID>",
        "alice<saml:X xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">@evil</saml:X></saml:NameID>",
    );
    // Signed after the edit, so the refusal comes from the text rule, not the signature.
    let signed_xml = sign_element(&xml, &s.assertion_id);
    assert_kind(check(&signed_xml), "element_in_text");
}

#[test]
fn refuses_signature_by_a_key_carried_in_key_info() {
    // The attacker signs with their own key and ships their certificate in KeyInfo.
    let xml = signer_with(attacker_keys())
        .response(&spec(), SignParts::Both)
        .expect("sign");
    assert!(xml.contains("X509Certificate"));
    let e = refused(check(&xml));
    assert_eq!(e.category(), "signature", "{e}");
}

#[test]
fn refuses_hmac_signature_method() {
    let xml = signed(&spec(), SignParts::Assertion).replace(
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
    );
    let e = refused(check(&xml));
    assert_eq!(e.category(), "signature", "{e}");
    assert!(e.to_string().contains("hmac"), "{e}");
}

#[test]
fn refuses_sha1_unless_the_idp_policy_allows_it() {
    let keys = idp_keys();
    let sha1 = samlgate::saml::issue::ResponseSigner {
        key: &keys.key,
        certificate: Some(&keys.cert),
        signature_algorithm: samlgate::crypto::algorithms::SignatureAlgorithm::RsaSha1,
        digest_algorithm: samlgate::crypto::algorithms::DigestAlgorithm::Sha1,
    };
    let xml = sha1.response(&spec(), SignParts::Both).expect("sign");
    let e = refused(check(&xml));
    assert_eq!(e.category(), "signature", "{e}");
    let mut p = policy();
    p.allow_sha1 = true;
    let r = validate_xml(
        xml.as_bytes(),
        &p,
        &sp(),
        ExpectedRequest::Solicited(REQUEST_ID),
        NOW,
    );
    assert!(r.is_ok(), "{:?}", r.err().map(|e| e.to_string()));
}

#[test]
fn refuses_xpath_transform() {
    let xml = signed(&spec(), SignParts::Assertion).replace(
        "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>",
        "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\"><ds:XPath>not(ancestor-or-self::ds:Signature)</ds:XPath></ds:Transform>",
    );
    assert!(
        xml.contains("REC-xpath"),
        "fixture must contain the XPath transform"
    );
    let e = refused(check(&xml));
    assert_eq!(e.category(), "signature", "{e}");
}

#[test]
fn refuses_response_signature_moved_into_the_assertion() {
    // The Response's signature (Reference #response-id) is placed inside the Assertion, so the
    // Assertion looks signed by a signature that covers something else.
    let s = spec();
    let xml = signed(&s, SignParts::Response);
    let SignatureSpan { start, end, .. } = signature_span(&xml);
    let signature = &xml[start..end];
    let without = format!("{}{}", &xml[..start], &xml[end..]);
    let moved = without.replacen(
        "</saml:Issuer><saml:Subject>",
        &format!("</saml:Issuer>{signature}<saml:Subject>"),
        1,
    );
    assert_ne!(moved, without, "signature was moved");
    let e = refused(check(&moved));
    assert_eq!(e.category(), "signature", "{e}");
}

#[test]
fn refuses_duplicate_ids() {
    let s = spec();
    let xml = signed(&s, SignParts::Assertion).replacen(
        "<samlp:Status>",
        &format!("<samlp:Extensions><x:Thing xmlns:x=\"urn:x\" ID=\"{}\"/></samlp:Extensions><samlp:Status>", s.assertion_id),
        1,
    );
    assert_kind(check(&xml), "duplicate_id");
}

#[test]
fn signing_policy_can_require_a_signed_assertion() {
    let mut p = policy();
    p.require_signed_assertion = true;
    let xml = signed(&spec(), SignParts::Response);
    let r = validate_xml(
        xml.as_bytes(),
        &p,
        &sp(),
        ExpectedRequest::Solicited(REQUEST_ID),
        NOW,
    );
    assert_kind(r, "assertion_not_signed");
}

#[test]
fn signing_policy_can_require_a_signed_response() {
    let mut p = policy();
    p.require_signed_response = true;
    let xml = signed(&spec(), SignParts::Assertion);
    let r = validate_xml(
        xml.as_bytes(),
        &p,
        &sp(),
        ExpectedRequest::Solicited(REQUEST_ID),
        NOW,
    );
    assert_kind(r, "response_not_signed");
}

// ---------------------------------------------------------------- XML signature wrapping (XSW1-8)

/// The original, validly signed Assertion, and an evil unsigned one for user "admin".
fn xsw_parts(same_id: bool) -> (ResponseSpec, String, String) {
    let s = spec();
    let original = signer().signed_assertion(&s).expect("sign");
    let mut evil = s.clone();
    evil.name_id = "admin@example.com".to_string();
    if !same_id {
        evil.assertion_id = "_evil".to_string();
    }
    (s, original, evil.assertion_xml())
}

#[test]
fn refuses_xsw1_signed_response_copied_into_its_own_signature() {
    let s = spec();
    let original = signed(&s, SignParts::Response);
    let mut evil_spec = s.clone();
    evil_spec.response_id = "_evil".to_string();
    evil_spec.name_id = "admin@example.com".to_string();
    let evil = signed(&evil_spec, SignParts::None);
    // Take the original signature, put the whole original Response inside it, and put that
    // signature into the evil Response.
    let SignatureSpan {
        start,
        inner_end: end,
        ..
    } = signature_span(&original);
    let sig_with_copy = format!("{}{}</ds:Signature>", &original[start..end], original);
    let xsw = evil.replacen(
        "<samlp:Status>",
        &format!("{sig_with_copy}<samlp:Status>"),
        1,
    );
    refused_by_a_rule(check(&xsw));
}

#[test]
fn refuses_xsw2_signed_response_placed_beside_the_signature() {
    let s = spec();
    let original = signed(&s, SignParts::Response);
    let mut evil_spec = s.clone();
    evil_spec.response_id = "_evil".to_string();
    evil_spec.name_id = "admin@example.com".to_string();
    let evil = signed(&evil_spec, SignParts::None);
    let SignatureSpan { start, end, .. } = signature_span(&original);
    let sig = &original[start..end];
    let xsw = evil.replacen(
        "<samlp:Status>",
        &format!("{original}{sig}<samlp:Status>"),
        1,
    );
    refused_by_a_rule(check(&xsw));
}

#[test]
fn refuses_xsw3_evil_assertion_before_the_signed_one() {
    let (s, original, evil) = xsw_parts(true);
    let xml = s.response_xml_around(&format!("{evil}{original}"));
    refused_by_a_rule(check(&xml));
    let (s, original, evil) = xsw_parts(false);
    let xml = s.response_xml_around(&format!("{evil}{original}"));
    assert_kind(check(&xml), "not_exactly_one");
}

#[test]
fn refuses_xsw4_signed_assertion_wrapped_inside_the_evil_one() {
    let (s, original, evil) = xsw_parts(false);
    let wrapped = evil.replacen(
        "</saml:Assertion>",
        &format!("{original}</saml:Assertion>"),
        1,
    );
    let xml = s.response_xml_around(&wrapped);
    assert_kind(check(&xml), "assertion_out_of_place");
}

#[test]
fn refuses_xsw5_signature_moved_to_the_evil_assertion_original_appended() {
    let (s, original, evil) = xsw_parts(false);
    let SignatureSpan { start, end, .. } = signature_span(&original);
    let sig = &original[start..end];
    let evil_signed = evil.replacen("</saml:Issuer>", &format!("</saml:Issuer>{sig}"), 1);
    let xml = s.response_xml_around(&format!("{evil_signed}{original}"));
    refused_by_a_rule(check(&xml));
}

#[test]
fn refuses_xsw6_original_assertion_inside_the_signature_of_the_evil_one() {
    let (s, original, evil) = xsw_parts(false);
    let SignatureSpan {
        start,
        inner_end: end,
        ..
    } = signature_span(&original);
    let sig_with_copy = format!("{}{}</ds:Signature>", &original[start..end], original);
    let evil_signed = evil.replacen(
        "</saml:Issuer>",
        &format!("</saml:Issuer>{sig_with_copy}"),
        1,
    );
    let xml = s.response_xml_around(&evil_signed);
    assert_kind(check(&xml), "assertion_out_of_place");
}

#[test]
fn refuses_xsw7_signed_assertion_hidden_in_extensions() {
    let (s, original, evil) = xsw_parts(true);
    let xml = s.response_xml_around(&evil).replacen(
        "<samlp:Status>",
        &format!("<samlp:Extensions>{original}</samlp:Extensions><samlp:Status>"),
        1,
    );
    refused_by_a_rule(check(&xml));
    let (s, original, evil) = xsw_parts(false);
    let xml = s.response_xml_around(&evil).replacen(
        "<samlp:Status>",
        &format!("<samlp:Extensions>{original}</samlp:Extensions><samlp:Status>"),
        1,
    );
    assert_kind(check(&xml), "assertion_out_of_place");
}

#[test]
fn refuses_xsw8_signed_assertion_hidden_in_a_signature_object() {
    let (s, original, evil) = xsw_parts(false);
    let SignatureSpan {
        start,
        inner_end: end,
        ..
    } = signature_span(&original);
    let sig_with_object = format!(
        "{}<ds:Object>{}</ds:Object></ds:Signature>",
        &original[start..end],
        original
    );
    let evil_signed = evil.replacen(
        "</saml:Issuer>",
        &format!("</saml:Issuer>{sig_with_object}"),
        1,
    );
    let xml = s.response_xml_around(&evil_signed);
    assert_kind(check(&xml), "assertion_out_of_place");
}

#[test]
fn refuses_assertion_wrapped_in_advice() {
    let (s, original, _) = xsw_parts(false);
    let mut outer = s.clone();
    outer.assertion_id = "_outer".to_string();
    outer.assertion_extra = format!("<saml:Advice>{original}</saml:Advice>");
    let xml = signed(&outer, SignParts::Both);
    assert_kind(check(&xml), "assertion_out_of_place");
}

#[test]
fn refuses_two_assertions() {
    let s = spec();
    let a = signer().signed_assertion(&s).expect("sign");
    let mut s2 = s.clone();
    s2.assertion_id = "_second".to_string();
    let b = signer().signed_assertion(&s2).expect("sign");
    assert_kind(
        check(&s.response_xml_around(&format!("{a}{b}"))),
        "not_exactly_one",
    );
}

#[test]
fn refuses_response_without_assertion() {
    let s = spec();
    assert_kind(check(&s.response_xml_around("")), "missing_element");
}

// ---------------------------------------------------------------- status, issuer, destination

#[test]
fn refuses_non_success_status_with_its_code_and_message() {
    let mut s = spec();
    s.status_code = "urn:oasis:names:tc:SAML:2.0:status:Responder".to_string();
    let xml = signed(&s, SignParts::Response).replace(
        "</samlp:Status>",
        "<samlp:StatusMessage>User is not assigned to this application</samlp:StatusMessage></samlp:Status>",
    );
    // The message edit breaks the signature; status is checked first, before signatures.
    let e = assert_kind(check(&xml), "status_not_success");
    let line = e.to_string();
    assert!(line.contains("status:Responder"), "{line}");
    assert!(line.contains("User is not assigned"), "{line}");
}

#[test]
fn refuses_assertion_issuer_other_than_the_idp() {
    let mut s = spec();
    s.idp_entity_id = "https://evil.example.net/idp".to_string();
    let e = assert_kind(check(&signed(&s, SignParts::Assertion)), "issuer_mismatch");
    assert!(e.to_string().contains("https://evil.example.net/idp"));
}

#[test]
fn refuses_destination_other_than_the_acs() {
    let mut s = spec();
    s.acs_url = "https://other.example.com/saml/acs".to_string();
    let e = assert_kind(check(&signed(&s, SignParts::Both)), "destination_mismatch");
    assert!(e.to_string().contains("https://other.example.com/saml/acs"));
}

#[test]
fn refuses_signed_response_without_destination() {
    let s = spec();
    let unsigned = signer().signed_assertion(&s).expect("sign");
    let response =
        s.response_xml_around(&unsigned)
            .replacen(&format!(" Destination=\"{ACS}\""), "", 1);
    let xml = sign_element(&response, &s.response_id);
    assert_kind(check(&xml), "destination_missing");
}

#[test]
fn refuses_recipient_other_than_the_acs() {
    let s = spec();
    let xml = signed(&s, SignParts::None).replacen(
        &format!("Recipient=\"{ACS}\""),
        "Recipient=\"https://other.example.com/saml/acs\"",
        1,
    );
    let xml = sign_element(&xml, &s.assertion_id);
    assert_kind(check(&xml), "recipient_mismatch");
}

#[test]
fn refuses_audience_that_differs_by_a_trailing_slash() {
    let mut s = spec();
    s.sp_entity_id = format!("{SP}/");
    let e = assert_kind(check(&signed(&s, SignParts::Both)), "audience_mismatch");
    assert_eq!(
        e.to_string(),
        format!("Audience {SP}/ does not match SP entityID {SP}")
    );
}

// ---------------------------------------------------------------- InResponseTo

#[test]
fn refuses_response_to_another_request() {
    let mut s = spec();
    s.in_response_to = Some("_someone-elses-request".to_string());
    assert_kind(
        check(&signed(&s, SignParts::Both)),
        "in_response_to_mismatch",
    );
}

#[test]
fn refuses_unsolicited_response_when_a_request_is_expected() {
    let mut s = spec();
    s.in_response_to = None;
    assert_kind(
        check(&signed(&s, SignParts::Both)),
        "in_response_to_mismatch",
    );
}

#[test]
fn idp_initiated_response_must_not_carry_in_response_to() {
    let xml = signed(&spec(), SignParts::Both);
    let r = validate_xml(
        xml.as_bytes(),
        &policy(),
        &sp(),
        ExpectedRequest::Unsolicited,
        NOW,
    );
    assert_kind(r, "unsolicited_in_response_to");
    let mut s = spec();
    s.in_response_to = None;
    let xml = signed(&s, SignParts::Both);
    let v = validate_xml(
        xml.as_bytes(),
        &policy(),
        &sp(),
        ExpectedRequest::Unsolicited,
        NOW,
    )
    .expect("IdP-initiated shape is valid when the caller allows it");
    assert_eq!(v.in_response_to, None);
}

#[test]
fn verify_without_request_id_still_checks_everything_else() {
    let mut s = spec();
    s.sp_entity_id = "https://wrong.example.com".to_string();
    let xml = signed(&s, SignParts::Both);
    let r = validate_xml(
        xml.as_bytes(),
        &policy(),
        &sp(),
        ExpectedRequest::NotChecked,
        NOW,
    );
    assert_kind(r, "audience_mismatch");
}

// ---------------------------------------------------------------- time conditions and skew

const SKEW: Duration = Duration::seconds(180);

#[test]
fn not_on_or_after_is_accepted_just_inside_the_skew() {
    let s = spec();
    let xml = signed(&s, SignParts::Both);
    let now = s.not_on_or_after + SKEW - Duration::seconds(1);
    assert!(check_at(&xml, now).is_ok());
}

#[test]
fn not_on_or_after_is_refused_just_outside_the_skew() {
    let s = spec();
    let xml = signed(&s, SignParts::Both);
    let now = s.not_on_or_after + SKEW;
    let e = assert_kind(check_at(&xml, now), "expired");
    let line = e.to_string();
    assert!(line.contains("NotOnOrAfter"), "{line}");
    assert!(line.contains("allowed skew 180s"), "{line}");
}

#[test]
fn not_before_is_accepted_just_inside_the_skew() {
    let mut s = spec();
    s.issue_instant = s.not_before;
    let xml = signed(&s, SignParts::Both);
    assert!(check_at(&xml, s.not_before - SKEW).is_ok());
}

#[test]
fn not_before_is_refused_just_outside_the_skew() {
    let mut s = spec();
    s.issue_instant = s.not_before;
    let xml = signed(&s, SignParts::Both);
    let e = refused(check_at(&xml, s.not_before - SKEW - Duration::seconds(1)));
    assert!(
        matches!(e.kind(), "not_yet_valid" | "issued_in_future"),
        "{e}"
    );
}

#[test]
fn issue_instant_in_the_future_beyond_the_skew_is_refused() {
    let mut s = spec();
    s.issue_instant = NOW + SKEW + Duration::seconds(1);
    s.not_before = NOW - Duration::seconds(10);
    assert_kind(check(&signed(&s, SignParts::Both)), "issued_in_future");
    s.issue_instant = NOW + SKEW;
    assert!(check(&signed(&s, SignParts::Both)).is_ok());
}

#[test]
fn issue_instant_older_than_the_bound_is_refused() {
    let mut s = spec();
    s.issue_instant = NOW - Duration::minutes(10) - SKEW - Duration::seconds(1);
    s.not_on_or_after = NOW + Duration::minutes(5);
    assert_kind(check(&signed(&s, SignParts::Both)), "issued_too_long_ago");
}

#[test]
fn expired_idp_session_is_refused() {
    let mut s = spec();
    s.session_not_on_or_after = Some(NOW - SKEW - Duration::seconds(1));
    assert_kind(check(&signed(&s, SignParts::Both)), "expired");
}

#[test]
fn refuses_assertion_without_authn_statement() {
    let s = spec();
    let assertion = s.assertion_xml();
    let start = assertion.find("<saml:AuthnStatement").expect("authn");
    let end =
        assertion.find("</saml:AuthnStatement>").expect("end") + "</saml:AuthnStatement>".len();
    let stripped = format!("{}{}", &assertion[..start], &assertion[end..]);
    let response = s.response_xml_around(&stripped);
    let xml = sign_element(&response, &s.response_id);
    assert_kind(check(&xml), "no_authn_statement");
}

#[test]
fn rejection_log_line_names_the_check_and_the_values() {
    let s = spec();
    let xml = signed(&s, SignParts::Both);
    let now = time::macros::datetime!(2026-05-23 09:22:21 UTC);
    let e = refused(check_at(&xml, now));
    // Conditions NotOnOrAfter 09:19:20Z, now 09:22:21Z, skew 180s: one second outside.
    assert_eq!(e.kind(), "expired");
    let line = e.to_string();
    assert!(line.contains("2026-05-23T09:19:20Z"), "{line}");
    assert!(line.contains("2026-05-23T09:22:21Z"), "{line}");
}

#[test]
fn in_response_to_mismatch_reads_as_plain_values() {
    let mut s = spec();
    s.in_response_to = Some("_other".to_string());
    let e = refused(check(&signed(&s, SignParts::Both)));
    assert_eq!(
        e.to_string(),
        format!("Response InResponseTo _other does not match the request ID {REQUEST_ID}")
    );
    s.in_response_to = None;
    let e = refused(check(&signed(&s, SignParts::Both)));
    assert_eq!(
        e.to_string(),
        format!("Response InResponseTo (absent) does not match the request ID {REQUEST_ID}")
    );
}
