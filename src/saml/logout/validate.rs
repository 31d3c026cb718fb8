//! The checks a logout message must pass, top-down, one named step each (as `saml::response`):
//!
//! LogoutRequest (IdP-initiated): the binding delivered a request -> parse once (strict parser)
//! -> samlp:LogoutRequest, Version 2.0, unique IDs, an ID -> Issuer is a configured IdP ->
//! signature by that IdP's metadata keys, required (HTTP-Redirect: over the query octets as
//! received, `SigAlg` from the allow-list; HTTP-POST: enveloped) -> Destination is our SLO URL ->
//! IssueInstant within the IdP's skew and age -> NotOnOrAfter not passed -> NameID (EncryptedID
//! decrypted with the SP keys; BaseID refused) -> SessionIndexes.
//!
//! Over SOAP (the back channel) the message is the one element of the Envelope's Body, its
//! signature enveloped, and Destination is optional.
//!
//! LogoutResponse (answering our request): the same up to the times, then InResponseTo is the
//! request this browser sent, then the status. The ID's single use (replay store) is the
//! caller's step, after these: nothing is written for a message that does not verify.

use base64::Engine;
use time::OffsetDateTime;

use super::binding::{Inbound, InboundKind, is_soap, soap_body_message};
use super::rejection::LogoutRejection;
use crate::crypto::SignatureError;
use crate::crypto::algorithms::SignatureAlgorithm;
use crate::crypto::dsig;
use crate::crypto::dsig::verify_with_any_key;
use crate::saml::NameId;
use crate::saml::metadata::Binding;
use crate::saml::policy::{ExpectedRequest, IdpPolicy, SpIdentity};
use crate::saml::rejection::{Malformed, Rejection};
use crate::saml::response::{
    check_in_response_to, check_issue_instant, check_not_on_or_after, check_status,
    check_unique_ids, check_version, optional_instant, read_name_id,
};
use crate::saml::time::parse_instant;
use crate::xml::{Document, ElementRef, ParseLimits, ns, parse};

/// This SP as a logout message must address it.
#[derive(Clone, Copy, Debug)]
pub struct SloEndpoint<'a> {
    pub sp: &'a SpIdentity,
    /// The exact URL of `/saml/slo`; a message's Destination must equal it.
    pub url: &'a str,
}

/// A LogoutRequest that passed every check. Only [`validate_logout_request`] builds one.
#[derive(Clone, Debug)]
pub struct VerifiedLogoutRequest {
    /// The configured IdP that issued and signed it.
    pub idp_entity_id: String,
    pub id: String,
    pub name_id: NameId,
    /// Empty: every session of the NameID.
    pub session_indexes: Vec<String>,
    pub issue_instant: OffsetDateTime,
    /// Until when its ID must stay in the replay store: past this the request is refused as
    /// too old anyway.
    pub replay_until: OffsetDateTime,
    pub binding: Binding,
    pub relay_state: Option<String>,
}

/// A LogoutResponse that passed every check but the status, and what its status said.
#[derive(Debug)]
pub struct VerifiedLogoutResponse {
    pub idp_entity_id: String,
    pub id: String,
    pub in_response_to: String,
    /// `Ok`: the IdP says its session ended; `Err`: the status it gave instead.
    pub status: Result<(), Rejection>,
    pub relay_state: Option<String>,
}

/// Validate an IdP-initiated LogoutRequest against every configured IdP policy.
pub fn validate_logout_request(
    inbound: &Inbound,
    idps: &[&IdpPolicy],
    slo: SloEndpoint<'_>,
    now: OffsetDateTime,
) -> Result<VerifiedLogoutRequest, LogoutRejection> {
    const WHAT: &str = "LogoutRequest";
    let doc = parse_message(inbound, InboundKind::Request, WHAT)?;
    let request = message_element(&doc, inbound, WHAT)?;
    let id = message_id(request)?;
    let idp = issuing_idp(request, idps, WHAT)?;
    check_signature(inbound, &doc, request, idp, WHAT)?;
    check_destination(request, slo.url, &inbound.binding, WHAT)?;
    check_issue_instant(WHAT, request, idp, now)?;
    if let Some(until) = optional_instant(request, "NotOnOrAfter", "NotOnOrAfter")? {
        check_not_on_or_after(WHAT, until, idp, now).map_err(Rejection::from)?;
    }
    if request.first_child_named(ns::SAML, "BaseID").is_some() {
        return Err(LogoutRejection::BaseIdUnsupported);
    }
    let name_id = read_name_id(request, slo.sp, idp)?;
    let mut session_indexes = Vec::new();
    for index in request.children_named(ns::SAMLP, "SessionIndex") {
        let value = index.text().map_err(Rejection::from)?;
        session_indexes.push(value.trim().to_string());
    }
    let issue_instant = request
        .attr("IssueInstant")
        .and_then(parse_instant)
        .unwrap_or(now);
    Ok(VerifiedLogoutRequest {
        idp_entity_id: idp.entity_id.clone(),
        id,
        name_id,
        session_indexes,
        issue_instant,
        replay_until: issue_instant + idp.max_issue_age + idp.clock_skew + idp.clock_skew,
        binding: inbound.binding.clone(),
        relay_state: inbound.relay_state.clone(),
    })
}

/// Validate the LogoutResponse that answers `request_id`, the LogoutRequest this browser took
/// to `idp`.
pub fn validate_logout_response(
    inbound: &Inbound,
    idp: &IdpPolicy,
    slo: SloEndpoint<'_>,
    request_id: &str,
    now: OffsetDateTime,
) -> Result<VerifiedLogoutResponse, LogoutRejection> {
    const WHAT: &str = "LogoutResponse";
    let doc = parse_message(inbound, InboundKind::Response, WHAT)?;
    let response = message_element(&doc, inbound, WHAT)?;
    let id = message_id(response)?;
    let idp = issuing_idp(response, &[idp], WHAT)?;
    check_signature(inbound, &doc, response, idp, WHAT)?;
    check_destination(response, slo.url, &inbound.binding, WHAT)?;
    check_issue_instant(WHAT, response, idp, now)?;
    check_in_response_to(
        WHAT,
        response.attr("InResponseTo"),
        ExpectedRequest::Solicited(request_id),
    )
    .map_err(Rejection::from)?;
    Ok(VerifiedLogoutResponse {
        idp_entity_id: idp.entity_id.clone(),
        id,
        in_response_to: request_id.to_string(),
        status: check_status(response),
        relay_state: inbound.relay_state.clone(),
    })
}

/// The Issuer a logout message claims, read without checking anything else: for naming the IdP
/// in the log and metrics of a refusal, never for a decision.
pub fn claimed_issuer(inbound: &Inbound) -> Option<String> {
    let doc = parse(&inbound.xml, &ParseLimits::default()).ok()?;
    let message = if is_soap(&inbound.binding) {
        soap_body_message(&doc).ok()?
    } else {
        doc.root()
    };
    let issuer = message.first_child_named(ns::SAML, "Issuer")?;
    issuer.text().ok().map(|t| t.trim().to_string())
}

/// The binding carried the expected message; it parses; its root is that message.
fn parse_message(
    inbound: &Inbound,
    kind: InboundKind,
    what: &'static str,
) -> Result<Document, LogoutRejection> {
    if inbound.kind != kind {
        return Err(LogoutRejection::WrongMessage {
            expected: what,
            found: inbound.kind.parameter().to_string(),
        });
    }
    let doc = parse(&inbound.xml, &ParseLimits::default())?;
    message_element(&doc, inbound, what)?;
    check_unique_ids(&doc)?;
    Ok(doc)
}

/// The message: the root, or for SOAP the one element in the Envelope's Body; it must be the
/// expected one, in SAML 2.0.
fn message_element<'d>(
    doc: &'d Document,
    inbound: &Inbound,
    what: &'static str,
) -> Result<ElementRef<'d>, LogoutRejection> {
    let message = if is_soap(&inbound.binding) {
        soap_body_message(doc)?
    } else {
        doc.root()
    };
    if !message.is(ns::SAMLP, what) {
        return Err(LogoutRejection::WrongMessage {
            expected: what,
            found: message.qualified_name(),
        });
    }
    check_version(message)?;
    Ok(message)
}

fn message_id(root: ElementRef<'_>) -> Result<String, LogoutRejection> {
    root.attr("ID")
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            Rejection::from(Malformed::Missing {
                what: "ID attribute",
            })
            .into()
        })
}

/// The one Issuer names a configured IdP: its keys, and only its, then check the signature,
/// and its users, and only its, are the ones a request may sign out.
fn issuing_idp<'p>(
    root: ElementRef<'_>,
    idps: &[&'p IdpPolicy],
    what: &'static str,
) -> Result<&'p IdpPolicy, LogoutRejection> {
    let issuers: Vec<ElementRef<'_>> = root.children_named(ns::SAML, "Issuer").collect();
    let issuer = match issuers.as_slice() {
        [] => return Err(LogoutRejection::NoIssuer { what }),
        [one] => *one,
        several => {
            return Err(Rejection::from(Malformed::NotExactlyOne {
                what: "Issuer",
                count: several.len(),
            })
            .into());
        }
    };
    let value = issuer.text().map_err(Rejection::from)?;
    let value = value.trim();
    let entity_format = matches!(
        issuer.attr("Format"),
        None | Some("urn:oasis:names:tc:SAML:2.0:nameid-format:entity")
    );
    idps.iter()
        .copied()
        .find(|idp| entity_format && idp.entity_id == value)
        .ok_or_else(|| LogoutRejection::UnknownIssuer {
            what,
            found: value.to_string(),
        })
}

/// A signature by one of `idp`'s metadata keys is required, in the binding's own form.
fn check_signature(
    inbound: &Inbound,
    doc: &Document,
    root: ElementRef<'_>,
    idp: &IdpPolicy,
    what: &'static str,
) -> Result<(), LogoutRejection> {
    let unsigned = || LogoutRejection::Unsigned {
        what,
        idp: idp.entity_id.clone(),
    };
    match inbound.binding {
        Binding::HttpRedirect => {
            let detached = inbound.redirect_signature.as_ref().ok_or_else(unsigned)?;
            let redirect =
                |error: SignatureError| LogoutRejection::RedirectSignature { what, error };
            let algorithm = SignatureAlgorithm::from_uri(&detached.sig_alg, idp.allow_sha1)
                .map_err(|e| redirect(e.into()))?;
            let signature = base64::engine::general_purpose::STANDARD
                .decode(&detached.signature_b64)
                .map_err(|e| {
                    redirect(SignatureError::InvalidBase64 {
                        element: "Signature parameter".into(),
                        reason: e.to_string(),
                    })
                })?;
            let (_, key) = verify_with_any_key(
                algorithm,
                &idp.signing_keys,
                detached.signed_octets.as_bytes(),
                &signature,
            )
            .map_err(redirect)?;
            tracing::debug!(key = %key.description, "{what} HTTP-Redirect signature verified");
            Ok(())
        }
        _ => {
            if dsig::signature_child(root)?.is_none() {
                return Err(unsigned());
            }
            let verified = dsig::verify(doc, root, &idp.signing_keys, idp.allow_sha1)?;
            tracing::debug!(key = %verified.key_description, "{what} signature verified");
            Ok(())
        }
    }
}

/// Destination must be present (the message is signed, bindings 3.4.5.2 and 3.5.5.2) and equal
/// our SLO URL: a request signed for another SP cannot be replayed here. Over SOAP (bindings
/// 3.2) it is optional, and checked when present.
fn check_destination(
    root: ElementRef<'_>,
    expected: &str,
    binding: &Binding,
    what: &'static str,
) -> Result<(), LogoutRejection> {
    match root.attr("Destination") {
        None if is_soap(binding) => Ok(()),
        Some(found) if found == expected => Ok(()),
        Some(found) => Err(LogoutRejection::DestinationMismatch {
            what,
            found: found.to_string(),
            expected: expected.to_string(),
        }),
        None => Err(LogoutRejection::DestinationMissing {
            what,
            expected: expected.to_string(),
        }),
    }
}
