//! The ACS pipeline: HTTP-POST `SAMLResponse` bytes -> [`VerifiedAssertion`] or a typed
//! [`Rejection`]. Pure: bytes, policy and a clock value in; no I/O, no global state.
//!
//! It reads top-down, one named check per step (docs/security.md "Structure and conditions"):
//! decode -> parse once -> shape of the Response -> status -> Response signature -> Issuer,
//! Destination, IssueInstant, InResponseTo -> the one Assertion (decrypted if need be) ->
//! its signature -> signing policy -> Issuer -> Subject and bearer confirmation -> Conditions
//! -> AuthnStatement -> attributes.

use time::OffsetDateTime;

use super::assertion::{Claims, NameId, SamlAttribute, Sealed, SignedParts, VerifiedAssertion};
use super::policy::{ExpectedRequest, IdpPolicy, SpIdentity};
use super::rejection::{ConditionFailure, Malformed, PolicyFailure, Rejection};
use super::time::parse_instant;
use crate::crypto::decrypt;
use crate::crypto::dsig;
use crate::xml::{Document, ElementRef, ParseLimits, ns, parse, parse_with_context};

pub use crate::xml::limits::MAX_RESPONSE_BASE64_BYTES;

const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const CM_BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// Validate the HTTP-POST binding's `SAMLResponse` form value (base64 of the XML).
pub fn validate(
    saml_response_b64: &[u8],
    idp: &IdpPolicy,
    sp: &SpIdentity,
    expected: ExpectedRequest<'_>,
    now: OffsetDateTime,
) -> Result<VerifiedAssertion, Rejection> {
    let xml = decode_post_binding(saml_response_b64)?;
    validate_xml(&xml, idp, sp, expected, now)
}

/// Decode the HTTP-POST binding's base64 (line breaks and spaces, which some IdPs insert, are
/// ignored), with the size cap applied before any work.
pub fn decode_post_binding(value: &[u8]) -> Result<Vec<u8>, Rejection> {
    if value.len() > MAX_RESPONSE_BASE64_BYTES {
        return Err(Malformed::TooLarge {
            size: value.len(),
            limit: MAX_RESPONSE_BASE64_BYTES,
        }
        .into());
    }
    crate::text::base64_text::decode(value).map_err(|reason| Malformed::Base64(reason).into())
}

/// Validate a Response given as XML bytes.
pub fn validate_xml(
    xml: &[u8],
    idp: &IdpPolicy,
    sp: &SpIdentity,
    expected: ExpectedRequest<'_>,
    now: OffsetDateTime,
) -> Result<VerifiedAssertion, Rejection> {
    if idp.signing_keys.is_empty() {
        return Err(PolicyFailure::NoSigningKey.into());
    }
    let limits = ParseLimits::default();
    let doc = parse(xml, &limits)?;
    let response = response_element(&doc)?;
    check_unique_ids(&doc)?;
    let placement = locate_assertion(&doc, response)?;
    check_status(response)?;

    let response_signed = verify_signature_if_present(&doc, response, idp)?;
    check_issuer("Response", response, idp, false)?;
    check_destination(response, sp, response_signed)?;
    check_issue_instant("Response", response, idp, now)?;
    check_in_response_to("Response", response.attr("InResponseTo"), expected)?;

    match placement {
        AssertionPlacement::Plain(assertion) => verify_assertion(
            &doc,
            assertion,
            response_signed,
            None,
            idp,
            sp,
            expected,
            now,
        ),
        AssertionPlacement::Encrypted(encrypted) => {
            let (inner, needs_signature) = decrypt_and_parse(
                encrypted,
                "Assertion",
                "saml:Assertion inside EncryptedAssertion",
                sp,
                idp,
            )?;
            let assertion = inner.root();
            check_unique_ids(&inner)?;
            refuse_nested_assertions(assertion)?;
            verify_assertion(
                &inner,
                assertion,
                response_signed,
                Some(needs_signature),
                idp,
                sp,
                expected,
                now,
            )
        }
    }
}

/// Decrypt an EncryptedAssertion / EncryptedID / EncryptedAttribute and parse the plaintext with
/// the same strict parser, in the namespace context where it stood. The root must be the
/// expected `saml:` element. Returns the tree and whether a signature must cover it (CBC).
fn decrypt_and_parse(
    encrypted: ElementRef<'_>,
    expected_root: &str,
    what: &'static str,
    sp: &SpIdentity,
    idp: &IdpPolicy,
) -> Result<(Document, bool), Rejection> {
    let decrypted =
        decrypt::decrypt_element(encrypted, &sp.decryption_keys, &idp.encryption_policy())?;
    let inner = parse_with_context(
        &decrypted.plaintext,
        &ParseLimits::default(),
        &encrypted.in_scope_namespaces(),
    )?;
    if !inner.root().is(ns::SAML, expected_root) {
        return Err(Malformed::Missing { what }.into());
    }
    Ok((inner, decrypted.needs_covering_signature()))
}

enum AssertionPlacement<'a> {
    Plain(ElementRef<'a>),
    Encrypted(ElementRef<'a>),
}

fn response_element(doc: &Document) -> Result<ElementRef<'_>, Rejection> {
    let root = doc.root();
    if !root.is(ns::SAMLP, "Response") {
        return Err(Malformed::NotAResponse {
            found: root.qualified_name(),
        }
        .into());
    }
    check_version(root)?;
    Ok(root)
}

pub(super) fn check_version(el: ElementRef<'_>) -> Result<(), Rejection> {
    match el.attr("Version") {
        Some("2.0") => Ok(()),
        Some(other) => Err(Malformed::BadVersion(other.to_string()).into()),
        None => Err(Malformed::Missing {
            what: "Version attribute",
        }
        .into()),
    }
}

/// Every `ID` in the document is unique: a duplicate ID is how signature-wrapping attacks make
/// a reference resolve to a different element than the one the SP reads.
pub(super) fn check_unique_ids(doc: &Document) -> Result<(), Rejection> {
    match doc.duplicate_id() {
        Some(id) => Err(Malformed::DuplicateId { id: id.to_string() }.into()),
        None => Ok(()),
    }
}

/// Exactly one Assertion or EncryptedAssertion, a direct child of the Response; no Assertion
/// anywhere else (Advice, Extensions, ds:Object, a wrapper element...).
fn locate_assertion<'a>(
    doc: &'a Document,
    response: ElementRef<'a>,
) -> Result<AssertionPlacement<'a>, Rejection> {
    let is_assertion =
        |e: &ElementRef<'_>| e.is(ns::SAML, "Assertion") || e.is(ns::SAML, "EncryptedAssertion");
    let direct: Vec<ElementRef<'a>> = response.child_elements().filter(is_assertion).collect();
    let chosen = match direct.as_slice() {
        [one] => *one,
        [] => {
            return Err(Malformed::Missing {
                what: "Assertion or EncryptedAssertion as a child of Response",
            }
            .into());
        }
        several => {
            return Err(Malformed::NotExactlyOne {
                what: "Assertion/EncryptedAssertion",
                count: several.len(),
            }
            .into());
        }
    };
    if let Some(stray) = doc
        .elements()
        .filter(is_assertion)
        .find(|e| e.id() != chosen.id())
    {
        return Err(Malformed::AssertionOutOfPlace {
            container: stray
                .parent()
                .map(|p| p.qualified_name())
                .unwrap_or_default(),
        }
        .into());
    }
    if chosen.is(ns::SAML, "Assertion") {
        Ok(AssertionPlacement::Plain(chosen))
    } else {
        Ok(AssertionPlacement::Encrypted(chosen))
    }
}

fn refuse_nested_assertions(assertion: ElementRef<'_>) -> Result<(), Rejection> {
    if let Some(stray) = assertion
        .descendants_and_self()
        .skip(1)
        .find(|e| e.is(ns::SAML, "Assertion") || e.is(ns::SAML, "EncryptedAssertion"))
    {
        return Err(Malformed::AssertionOutOfPlace {
            container: stray
                .parent()
                .map(|p| p.qualified_name())
                .unwrap_or_default(),
        }
        .into());
    }
    Ok(())
}

pub(super) fn check_status(response: ElementRef<'_>) -> Result<(), Rejection> {
    let status = response
        .first_child_named(ns::SAMLP, "Status")
        .ok_or(Malformed::Missing {
            what: "samlp:Status",
        })?;
    let code_el = status
        .first_child_named(ns::SAMLP, "StatusCode")
        .ok_or(Malformed::Missing {
            what: "samlp:StatusCode",
        })?;
    let code = code_el.attr("Value").unwrap_or_default();
    if code == STATUS_SUCCESS {
        return Ok(());
    }
    let sub_code = code_el
        .first_child_named(ns::SAMLP, "StatusCode")
        .and_then(|s| s.attr("Value"))
        .map(str::to_string);
    let message = status
        .first_child_named(ns::SAMLP, "StatusMessage")
        .and_then(|m| m.text().ok());
    Err(PolicyFailure::StatusNotSuccess {
        code: code.to_string(),
        sub_code,
        message,
    }
    .into())
}

/// A present signature must verify; an absent one is reported as `false` and the signing
/// policy decides later whether that is acceptable.
fn verify_signature_if_present(
    doc: &Document,
    element: ElementRef<'_>,
    idp: &IdpPolicy,
) -> Result<bool, Rejection> {
    match dsig::signature_child(element)? {
        None => Ok(false),
        Some(_) => {
            let verified = dsig::verify(doc, element, &idp.signing_keys, idp.allow_sha1)?;
            tracing::debug!(
                element = %element.qualified_name(),
                key = %verified.key_description,
                "signature verified"
            );
            Ok(true)
        }
    }
}

/// The Issuer must equal the entityID whose keys verified the signature. On the Response it is
/// optional (SAML core 3.2.2); on the Assertion it is required.
fn check_issuer(
    what: &'static str,
    element: ElementRef<'_>,
    idp: &IdpPolicy,
    required: bool,
) -> Result<(), Rejection> {
    let issuers: Vec<ElementRef<'_>> = element.children_named(ns::SAML, "Issuer").collect();
    let issuer = match issuers.as_slice() {
        [] if !required => return Ok(()),
        [] => {
            return Err(Malformed::Missing {
                what: "Assertion Issuer",
            }
            .into());
        }
        [one] => *one,
        several => {
            return Err(Malformed::NotExactlyOne {
                what: "Issuer",
                count: several.len(),
            }
            .into());
        }
    };
    if let Some(format) = issuer.attr("Format")
        && format != "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
    {
        return Err(PolicyFailure::IssuerMismatch {
            what,
            found: format!("(Format {format})"),
            expected: idp.entity_id.clone(),
        }
        .into());
    }
    let value = issuer.text()?;
    if value.trim() != idp.entity_id {
        return Err(PolicyFailure::IssuerMismatch {
            what,
            found: value,
            expected: idp.entity_id.clone(),
        }
        .into());
    }
    Ok(())
}

fn check_destination(
    response: ElementRef<'_>,
    sp: &SpIdentity,
    response_signed: bool,
) -> Result<(), Rejection> {
    match response.attr("Destination") {
        Some(found) if found == sp.acs_url => Ok(()),
        Some(found) => Err(ConditionFailure::DestinationMismatch {
            found: found.to_string(),
            expected: sp.acs_url.clone(),
        }
        .into()),
        None if response_signed => Err(ConditionFailure::DestinationMissing {
            expected: sp.acs_url.clone(),
        }
        .into()),
        None => Ok(()),
    }
}

fn required_instant(
    el: ElementRef<'_>,
    attr: &str,
    what: &'static str,
) -> Result<OffsetDateTime, Rejection> {
    let raw = el.attr(attr).ok_or(Malformed::Missing { what })?;
    parse_instant(raw).ok_or_else(|| {
        Malformed::BadTime {
            what,
            value: raw.to_string(),
        }
        .into()
    })
}

pub(super) fn optional_instant(
    el: ElementRef<'_>,
    attr: &str,
    what: &'static str,
) -> Result<Option<OffsetDateTime>, Rejection> {
    match el.attr(attr) {
        None => Ok(None),
        Some(raw) => parse_instant(raw).map(Some).ok_or_else(|| {
            Malformed::BadTime {
                what,
                value: raw.to_string(),
            }
            .into()
        }),
    }
}

pub(super) fn check_issue_instant(
    what: &'static str,
    el: ElementRef<'_>,
    idp: &IdpPolicy,
    now: OffsetDateTime,
) -> Result<(), Rejection> {
    let issue_instant = required_instant(el, "IssueInstant", "IssueInstant")?;
    if issue_instant > now + idp.clock_skew {
        return Err(ConditionFailure::IssuedInFuture {
            what,
            issue_instant,
            now,
            skew_secs: idp.clock_skew.whole_seconds(),
        }
        .into());
    }
    let max_age = idp.max_issue_age + idp.clock_skew;
    if issue_instant < now - max_age {
        return Err(ConditionFailure::IssuedTooLongAgo {
            what,
            issue_instant,
            now,
            max_age_secs: max_age.whole_seconds(),
        }
        .into());
    }
    Ok(())
}

/// The Response's and the bearer SubjectConfirmationData's InResponseTo must both equal the
/// request ID we sent (and both be absent for IdP-initiated login).
pub(super) fn check_in_response_to(
    what: &'static str,
    found: Option<&str>,
    expected: ExpectedRequest<'_>,
) -> Result<(), ConditionFailure> {
    match (expected, found) {
        (ExpectedRequest::NotChecked, _) => Ok(()),
        (ExpectedRequest::Solicited(id), Some(f)) if f == id => Ok(()),
        (ExpectedRequest::Solicited(id), f) => Err(ConditionFailure::InResponseToMismatch {
            what,
            found: f.map(str::to_string),
            expected: id.to_string(),
        }),
        (ExpectedRequest::Unsolicited, None) => Ok(()),
        (ExpectedRequest::Unsolicited, Some(f)) => {
            Err(ConditionFailure::UnsolicitedWithInResponseTo {
                what,
                found: f.to_string(),
            })
        }
    }
}

fn check_not_before(
    what: &'static str,
    not_before: OffsetDateTime,
    idp: &IdpPolicy,
    now: OffsetDateTime,
) -> Result<(), ConditionFailure> {
    if now + idp.clock_skew < not_before {
        return Err(ConditionFailure::NotYetValid {
            what,
            not_before,
            now,
            skew_secs: idp.clock_skew.whole_seconds(),
        });
    }
    Ok(())
}

pub(super) fn check_not_on_or_after(
    what: &'static str,
    not_on_or_after: OffsetDateTime,
    idp: &IdpPolicy,
    now: OffsetDateTime,
) -> Result<(), ConditionFailure> {
    if now - idp.clock_skew >= not_on_or_after {
        return Err(ConditionFailure::Expired {
            what,
            not_on_or_after,
            now,
            skew_secs: idp.clock_skew.whole_seconds(),
        });
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn verify_assertion(
    doc: &Document,
    assertion: ElementRef<'_>,
    response_signed: bool,
    // Some(needs a covering signature) when the Assertion arrived encrypted.
    encrypted_with: Option<bool>,
    idp: &IdpPolicy,
    sp: &SpIdentity,
    expected: ExpectedRequest<'_>,
    now: OffsetDateTime,
) -> Result<VerifiedAssertion, Rejection> {
    check_version(assertion)?;
    let assertion_id = assertion
        .attr("ID")
        .filter(|id| !id.is_empty())
        .ok_or(Malformed::Missing {
            what: "Assertion ID",
        })?
        .to_string();

    let assertion_signed = verify_signature_if_present(doc, assertion, idp)?;
    check_signing_policy(response_signed, assertion_signed, idp)?;
    // CBC has no integrity of its own: its plaintext counts only under a verified signature.
    if encrypted_with == Some(true) && !(response_signed || assertion_signed) {
        return Err(PolicyFailure::UnauthenticatedEncryptionUnsigned.into());
    }
    check_issuer("Assertion", assertion, idp, true)?;
    check_issue_instant("Assertion", assertion, idp, now)?;

    let subject = assertion
        .first_child_named(ns::SAML, "Subject")
        .ok_or(Malformed::Missing {
            what: "saml:Subject",
        })?;
    let name_id = read_name_id(subject, sp, idp)?;
    let confirmation_until = check_bearer_confirmation(subject, idp, sp, expected, now)?;
    let conditions_until = check_conditions(assertion, idp, sp, now)?;
    let authn = read_authn_statement(assertion, idp, now)?;
    let attributes = read_attributes(assertion, sp, idp)?;

    let replay_until = match conditions_until {
        Some(c) => c.min(confirmation_until),
        None => confirmation_until,
    } + idp.clock_skew;

    Ok(VerifiedAssertion {
        claims: Claims {
            idp_entity_id: idp.entity_id.clone(),
            name_id,
            attributes,
        },
        assertion_id,
        issue_instant: required_instant(assertion, "IssueInstant", "IssueInstant")?,
        in_response_to: match expected {
            ExpectedRequest::Solicited(id) => Some(id.to_string()),
            _ => None,
        },
        session_index: authn.session_index,
        authn_instant: authn.authn_instant,
        authn_context_class_ref: authn.class_ref,
        session_not_on_or_after: authn.session_not_on_or_after,
        replay_until,
        signed: SignedParts {
            response: response_signed,
            assertion: assertion_signed,
        },
        was_encrypted: encrypted_with.is_some(),
        _sealed: Sealed::default(),
    })
}

fn check_signing_policy(
    response_signed: bool,
    assertion_signed: bool,
    idp: &IdpPolicy,
) -> Result<(), PolicyFailure> {
    if !response_signed && !assertion_signed {
        return Err(PolicyFailure::Unsigned);
    }
    if idp.require_signed_assertion && !assertion_signed {
        return Err(PolicyFailure::AssertionNotSigned);
    }
    if idp.require_signed_response && !response_signed {
        return Err(PolicyFailure::ResponseNotSigned);
    }
    Ok(())
}

pub(super) fn read_name_id(
    subject: ElementRef<'_>,
    sp: &SpIdentity,
    idp: &IdpPolicy,
) -> Result<NameId, Rejection> {
    let name_ids: Vec<ElementRef<'_>> = subject.children_named(ns::SAML, "NameID").collect();
    let encrypted: Vec<ElementRef<'_>> = subject.children_named(ns::SAML, "EncryptedID").collect();
    match (name_ids.as_slice(), encrypted.as_slice()) {
        ([one], []) => name_id_from(*one),
        ([], [enc]) => {
            let (inner, _) =
                decrypt_and_parse(*enc, "NameID", "saml:NameID inside EncryptedID", sp, idp)?;
            name_id_from(inner.root())
        }
        ([], []) => Err(Malformed::Missing {
            what: "Subject NameID",
        }
        .into()),
        (a, b) => Err(Malformed::NotExactlyOne {
            what: "Subject NameID/EncryptedID",
            count: a.len() + b.len(),
        }
        .into()),
    }
}

fn name_id_from(el: ElementRef<'_>) -> Result<NameId, Rejection> {
    let value = el.text()?;
    if value.trim().is_empty() {
        return Err(Malformed::Missing {
            what: "NameID value",
        }
        .into());
    }
    Ok(NameId {
        value: value.trim().to_string(),
        format: el.attr("Format").map(str::to_string),
        name_qualifier: el.attr("NameQualifier").map(str::to_string),
        sp_name_qualifier: el.attr("SPNameQualifier").map(str::to_string),
    })
}

/// At least one bearer SubjectConfirmation whose data names our ACS as Recipient, is not
/// expired, and answers our request. Returns its NotOnOrAfter. When every bearer confirmation
/// fails, the first one's precise failure is reported.
fn check_bearer_confirmation(
    subject: ElementRef<'_>,
    idp: &IdpPolicy,
    sp: &SpIdentity,
    expected: ExpectedRequest<'_>,
    now: OffsetDateTime,
) -> Result<OffsetDateTime, Rejection> {
    let mut first_failure: Option<Rejection> = None;
    let bearers = subject
        .children_named(ns::SAML, "SubjectConfirmation")
        .filter(|c| c.attr("Method") == Some(CM_BEARER));
    for confirmation in bearers {
        match check_one_bearer(confirmation, idp, sp, expected, now) {
            Ok(until) => return Ok(until),
            Err(e) => {
                first_failure.get_or_insert(e);
            }
        }
    }
    Err(first_failure.unwrap_or_else(|| PolicyFailure::NoBearerConfirmation.into()))
}

fn check_one_bearer(
    confirmation: ElementRef<'_>,
    idp: &IdpPolicy,
    sp: &SpIdentity,
    expected: ExpectedRequest<'_>,
    now: OffsetDateTime,
) -> Result<OffsetDateTime, Rejection> {
    let data = confirmation
        .first_child_named(ns::SAML, "SubjectConfirmationData")
        .ok_or(Malformed::Missing {
            what: "bearer SubjectConfirmationData",
        })?;
    match data.attr("Recipient") {
        Some(r) if r == sp.acs_url => {}
        found => {
            return Err(ConditionFailure::RecipientMismatch {
                found: found.unwrap_or("(none)").to_string(),
                expected: sp.acs_url.clone(),
            }
            .into());
        }
    }
    let not_on_or_after =
        required_instant(data, "NotOnOrAfter", "SubjectConfirmationData NotOnOrAfter")?;
    check_not_on_or_after("SubjectConfirmationData", not_on_or_after, idp, now)?;
    if let Some(not_before) =
        optional_instant(data, "NotBefore", "SubjectConfirmationData NotBefore")?
    {
        check_not_before("SubjectConfirmationData", not_before, idp, now)?;
    }
    check_in_response_to(
        "SubjectConfirmationData",
        data.attr("InResponseTo"),
        expected,
    )?;
    Ok(not_on_or_after)
}

/// Conditions: the time window and an AudienceRestriction naming us. Every AudienceRestriction
/// must contain our entityID (SAML core 2.5.1.4: they are ANDed). Returns NotOnOrAfter if set.
fn check_conditions(
    assertion: ElementRef<'_>,
    idp: &IdpPolicy,
    sp: &SpIdentity,
    now: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, Rejection> {
    let conditions: Vec<ElementRef<'_>> =
        assertion.children_named(ns::SAML, "Conditions").collect();
    let conditions = match conditions.as_slice() {
        [one] => *one,
        [] => return Err(PolicyFailure::NoAudienceRestriction.into()),
        several => {
            return Err(Malformed::NotExactlyOne {
                what: "Conditions",
                count: several.len(),
            }
            .into());
        }
    };
    if let Some(not_before) = optional_instant(conditions, "NotBefore", "Conditions NotBefore")? {
        check_not_before("Conditions", not_before, idp, now)?;
    }
    let not_on_or_after = optional_instant(conditions, "NotOnOrAfter", "Conditions NotOnOrAfter")?;
    if let Some(t) = not_on_or_after {
        check_not_on_or_after("Conditions", t, idp, now)?;
    }
    let mut restrictions = 0usize;
    for restriction in conditions.children_named(ns::SAML, "AudienceRestriction") {
        restrictions += 1;
        let mut audiences = Vec::new();
        for audience in restriction.children_named(ns::SAML, "Audience") {
            audiences.push(audience.text()?.trim().to_string());
        }
        if !audiences.contains(&sp.entity_id) {
            return Err(ConditionFailure::AudienceMismatch {
                found: if audiences.is_empty() {
                    "(none)".to_string()
                } else {
                    audiences.join(", ")
                },
                expected: sp.entity_id.clone(),
            }
            .into());
        }
    }
    if restrictions == 0 {
        return Err(PolicyFailure::NoAudienceRestriction.into());
    }
    Ok(not_on_or_after)
}

struct Authn {
    session_index: Option<String>,
    authn_instant: Option<OffsetDateTime>,
    class_ref: Option<String>,
    session_not_on_or_after: Option<OffsetDateTime>,
}

fn read_authn_statement(
    assertion: ElementRef<'_>,
    idp: &IdpPolicy,
    now: OffsetDateTime,
) -> Result<Authn, Rejection> {
    let statement = assertion
        .first_child_named(ns::SAML, "AuthnStatement")
        .ok_or(PolicyFailure::NoAuthnStatement)?;
    let session_not_on_or_after = optional_instant(
        statement,
        "SessionNotOnOrAfter",
        "AuthnStatement SessionNotOnOrAfter",
    )?;
    if let Some(t) = session_not_on_or_after {
        check_not_on_or_after("AuthnStatement Session", t, idp, now)?;
    }
    let class_ref = match statement
        .first_child_named(ns::SAML, "AuthnContext")
        .and_then(|c| c.first_child_named(ns::SAML, "AuthnContextClassRef"))
    {
        Some(el) => Some(el.text()?.trim().to_string()),
        None => None,
    };
    Ok(Authn {
        session_index: statement.attr("SessionIndex").map(str::to_string),
        authn_instant: optional_instant(statement, "AuthnInstant", "AuthnInstant")?,
        class_ref,
        session_not_on_or_after,
    })
}

fn read_attributes(
    assertion: ElementRef<'_>,
    sp: &SpIdentity,
    idp: &IdpPolicy,
) -> Result<Vec<SamlAttribute>, Rejection> {
    let mut out = Vec::new();
    for statement in assertion.children_named(ns::SAML, "AttributeStatement") {
        for child in statement.child_elements() {
            if child.is(ns::SAML, "Attribute") {
                out.push(read_attribute(child)?);
            } else if child.is(ns::SAML, "EncryptedAttribute") {
                let (inner, _) = decrypt_and_parse(
                    child,
                    "Attribute",
                    "saml:Attribute inside EncryptedAttribute",
                    sp,
                    idp,
                )?;
                out.push(read_attribute(inner.root())?);
            }
        }
    }
    Ok(out)
}

fn read_attribute(el: ElementRef<'_>) -> Result<SamlAttribute, Rejection> {
    let name = el
        .attr("Name")
        .ok_or(Malformed::Missing {
            what: "Attribute Name",
        })?
        .to_string();
    let mut values = Vec::new();
    for value in el.children_named(ns::SAML, "AttributeValue") {
        if value.attr_ns(ns::XSI, "nil") == Some("true") {
            continue;
        }
        values.push(value.text()?);
    }
    Ok(SamlAttribute {
        name,
        name_format: el.attr("NameFormat").map(str::to_string),
        friendly_name: el.attr("FriendlyName").map(str::to_string),
        values,
    })
}
