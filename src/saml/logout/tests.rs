//! Unit tests of `saml::logout`, compiled only under #[cfg(test)] (the parent declares `mod tests;`).
use super::binding::{SigningKey, encode, from_post_form, from_redirect_query};
use super::*;
use crate::crypto::test_fixtures::{rsa_key, verification_key};
use crate::saml::NameId;
use crate::saml::metadata::Binding;
use crate::saml::policy::{IdpPolicy, SpIdentity};
use openssl::pkey::{PKey, Private};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const IDP: &str = "https://idp.example.com/metadata";
const OTHER_IDP: &str = "https://other-idp.example.com/metadata";
const SLO: &str = "https://app.example.com/saml/slo";
const NOW: OffsetDateTime = datetime!(2026-05-23 09:14:20 UTC);

struct Fixture {
    idp_key: PKey<Private>,
    other_key: PKey<Private>,
    idp: IdpPolicy,
    other: IdpPolicy,
    sp: SpIdentity,
}

fn fixture() -> Fixture {
    let idp_key = rsa_key();
    let other_key = rsa_key();
    Fixture {
        idp: IdpPolicy::new(IDP, vec![verification_key(&idp_key, "idp")]),
        other: IdpPolicy::new(OTHER_IDP, vec![verification_key(&other_key, "other")]),
        idp_key,
        other_key,
        sp: SpIdentity {
            entity_id: "https://app.example.com/saml/metadata".into(),
            acs_url: "https://app.example.com/saml/acs".into(),
            decryption_keys: vec![],
        },
    }
}

fn request(issuer: &str) -> LogoutRequest {
    LogoutRequest {
        id: "_4a1f0000000000000000000000000001".into(),
        issue_instant: NOW - Duration::seconds(5),
        destination: SLO.into(),
        issuer: issuer.into(),
        not_on_or_after: Some(NOW + Duration::minutes(5)),
        name_id: NameId {
            value: "alice@example.com".into(),
            format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into()),
            name_qualifier: None,
            sp_name_qualifier: None,
        },
        session_index: Some("_session-1".into()),
        encrypted_id: None,
    }
}

fn slo(f: &Fixture) -> SloEndpoint<'_> {
    SloEndpoint {
        sp: &f.sp,
        url: SLO,
    }
}

/// The query string of an HTTP-Redirect URL that `key` signs (unsigned without one).
fn redirect_query(xml: &str, relay: Option<&str>, key: Option<&PKey<Private>>) -> String {
    let url = binding::redirect_url(
        "https://idp.example.com/slo",
        InboundKind::Request,
        xml,
        relay,
        key.map(|k| &**k),
    )
    .unwrap();
    url.split_once('?').unwrap().1.to_string()
}

fn post_body(xml: &str, relay: Option<&str>, key: Option<&PKey<Private>>) -> Vec<u8> {
    let signing = key.map(|k| SigningKey {
        key: k,
        certificate: None,
    });
    let Outbound::Post(page) = encode(
        &Binding::HttpPost,
        "https://app.example.com/saml/slo",
        InboundKind::Request,
        xml,
        relay,
        signing,
    )
    .unwrap() else {
        panic!("POST binding gave a redirect");
    };
    let value = |name: &str| {
        let marker = format!("name=\"{name}\" value=\"");
        page.split_once(&marker)
            .map(|(_, rest)| rest.split_once('"').unwrap().0.to_string())
    };
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    body.append_pair("SAMLRequest", &value("SAMLRequest").unwrap());
    if let Some(r) = value("RelayState") {
        body.append_pair("RelayState", &r);
    }
    body.finish().into_bytes()
}

fn validate_redirect(f: &Fixture, query: &str) -> Result<VerifiedLogoutRequest, LogoutRejection> {
    let inbound = from_redirect_query(query)?;
    validate_logout_request(&inbound, &[&f.other, &f.idp], slo(f), NOW)
}

fn validate_post(f: &Fixture, body: &[u8]) -> Result<VerifiedLogoutRequest, LogoutRejection> {
    let inbound = from_post_form(body)?;
    validate_logout_request(&inbound, &[&f.other, &f.idp], slo(f), NOW)
}

#[test]
fn a_signed_redirect_logout_request_is_accepted_with_what_it_names() {
    let f = fixture();
    let query = redirect_query(
        &request(IDP).to_xml(),
        Some("back to /x?a=1&b=2"),
        Some(&f.idp_key),
    );
    let verified = validate_redirect(&f, &query).unwrap();
    assert_eq!(verified.idp_entity_id, IDP);
    assert_eq!(verified.id, "_4a1f0000000000000000000000000001");
    assert_eq!(verified.name_id.value, "alice@example.com");
    assert_eq!(
        verified.name_id.format.as_deref(),
        Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
    );
    assert_eq!(verified.session_indexes, vec!["_session-1".to_string()]);
    assert_eq!(verified.relay_state.as_deref(), Some("back to /x?a=1&b=2"));
    assert_eq!(verified.binding, Binding::HttpRedirect);
}

#[test]
fn a_signed_post_logout_request_is_accepted() {
    let f = fixture();
    let body = post_body(&request(IDP).to_xml(), Some("rs"), Some(&f.idp_key));
    let verified = validate_post(&f, &body).unwrap();
    assert_eq!(verified.name_id.value, "alice@example.com");
    assert_eq!(verified.relay_state.as_deref(), Some("rs"));
    assert_eq!(verified.binding, Binding::HttpPost);
}

#[test]
fn an_unsigned_logout_request_is_refused_in_either_binding() {
    let f = fixture();
    let xml = request(IDP).to_xml();
    let r = validate_redirect(&f, &redirect_query(&xml, None, None));
    assert!(matches!(r, Err(LogoutRejection::Unsigned { .. })), "{r:?}");
    let r = validate_post(&f, &post_body(&xml, None, None));
    assert!(matches!(r, Err(LogoutRejection::Unsigned { .. })), "{r:?}");
}

#[test]
fn a_request_signed_by_another_key_than_its_issuers_is_refused() {
    let f = fixture();
    // Signed by the other IdP's key, but naming this IdP as Issuer: the other IdP cannot sign
    // this IdP's users out.
    let xml = request(IDP).to_xml();
    let r = validate_redirect(&f, &redirect_query(&xml, None, Some(&f.other_key)));
    assert!(
        matches!(r, Err(LogoutRejection::RedirectSignature { .. })),
        "{r:?}"
    );
    let r = validate_post(&f, &post_body(&xml, None, Some(&f.other_key)));
    assert!(
        matches!(
            r,
            Err(LogoutRejection::Saml(crate::saml::Rejection::Signature(_)))
        ),
        "{r:?}"
    );
}

#[test]
fn an_unknown_issuer_is_refused_before_any_signature_work() {
    let f = fixture();
    let stranger = rsa_key();
    let xml = request("https://stranger.example").to_xml();
    let r = validate_redirect(&f, &redirect_query(&xml, None, Some(&stranger)));
    assert!(
        matches!(r, Err(LogoutRejection::UnknownIssuer { .. })),
        "{r:?}"
    );
}

#[test]
fn a_tampered_redirect_query_is_refused() {
    let f = fixture();
    let xml = request(IDP).to_xml();
    let query = redirect_query(&xml, Some("relay"), Some(&f.idp_key));
    // RelayState changed after signing.
    let tampered = query.replace("RelayState=relay", "RelayState=https%3A%2F%2Fevil.example");
    assert_ne!(tampered, query);
    let r = validate_redirect(&f, &tampered);
    assert!(
        matches!(r, Err(LogoutRejection::RedirectSignature { .. })),
        "{r:?}"
    );
    // RelayState dropped after signing.
    let dropped = query.replace("&RelayState=relay", "");
    let r = validate_redirect(&f, &dropped);
    assert!(
        matches!(r, Err(LogoutRejection::RedirectSignature { .. })),
        "{r:?}"
    );
    // A message swapped in under the same signature.
    let mut other = request(IDP);
    other.name_id.value = "bob@example.com".into();
    let other_query = redirect_query(&other.to_xml(), Some("relay"), None);
    let swapped_message = other_query.split('&').next().unwrap();
    let signature_part = query.split_once("&RelayState").unwrap().1;
    let swapped = format!("{swapped_message}&RelayState{signature_part}");
    let r = validate_redirect(&f, &swapped);
    assert!(
        matches!(r, Err(LogoutRejection::RedirectSignature { .. })),
        "{r:?}"
    );
}

#[test]
fn the_signature_is_checked_over_the_octets_as_received_not_as_re_encoded() {
    let f = fixture();
    let xml = request(IDP).to_xml();
    // Sign a query whose RelayState uses lower-case percent escapes and %20 (not how we encode).
    let deflated = crate::saml::request::deflate_base64(&xml).unwrap();
    let message: String = url::form_urlencoded::byte_serialize(deflated.as_bytes()).collect();
    let alg: String = url::form_urlencoded::byte_serialize(
        crate::crypto::SignatureAlgorithm::RsaSha256
            .uri()
            .as_bytes(),
    )
    .collect();
    let signed = format!("SAMLRequest={message}&RelayState=a%2fb%20c&SigAlg={alg}");
    let signature = crate::crypto::primitive::sign_bytes(
        crate::crypto::SignatureAlgorithm::RsaSha256,
        &f.idp_key,
        signed.as_bytes(),
    )
    .unwrap();
    use base64::Engine;
    let sig: String = url::form_urlencoded::byte_serialize(
        base64::engine::general_purpose::STANDARD
            .encode(signature)
            .as_bytes(),
    )
    .collect();
    let verified = validate_redirect(&f, &format!("{signed}&Signature={sig}")).unwrap();
    assert_eq!(verified.relay_state.as_deref(), Some("a/b c"));
}

#[test]
fn sig_alg_outside_the_allow_list_is_refused() {
    let f = fixture();
    let xml = request(IDP).to_xml();
    let query = redirect_query(&xml, None, Some(&f.idp_key));
    let rsa256: String = url::form_urlencoded::byte_serialize(
        crate::crypto::SignatureAlgorithm::RsaSha256
            .uri()
            .as_bytes(),
    )
    .collect();
    for alg in [
        "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
        "http://example.com/none",
    ] {
        let enc: String = url::form_urlencoded::byte_serialize(alg.as_bytes()).collect();
        let r = validate_redirect(&f, &query.replace(&rsa256, &enc));
        match r {
            Err(LogoutRejection::RedirectSignature {
                error: crate::crypto::SignatureError::Algorithm(_),
                ..
            }) => {}
            other => panic!("{alg}: {other:?}"),
        }
    }
}

#[test]
fn a_tampered_post_request_is_refused() {
    let f = fixture();
    let body = post_body(&request(IDP).to_xml(), None, Some(&f.idp_key));
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let xml = String::from_utf8(b64.decode(&form[0].1).unwrap()).unwrap();
    let altered = xml.replace("alice@example.com", "bob@example.com");
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("SAMLRequest", &b64.encode(altered))
        .finish();
    let r = validate_post(&f, body.as_bytes());
    assert!(
        matches!(
            r,
            Err(LogoutRejection::Saml(crate::saml::Rejection::Signature(_)))
        ),
        "{r:?}"
    );
}

#[test]
fn destination_and_times_are_checked() {
    let f = fixture();
    let mut wrong = request(IDP);
    wrong.destination = "https://other-sp.example.com/slo".into();
    let r = validate_redirect(&f, &redirect_query(&wrong.to_xml(), None, Some(&f.idp_key)));
    assert!(
        matches!(r, Err(LogoutRejection::DestinationMismatch { .. })),
        "{r:?}"
    );

    let mut expired = request(IDP);
    expired.not_on_or_after = Some(NOW - Duration::minutes(10));
    let r = validate_redirect(
        &f,
        &redirect_query(&expired.to_xml(), None, Some(&f.idp_key)),
    );
    assert!(matches!(r, Err(LogoutRejection::Saml(_))), "{r:?}");
    assert_eq!(r.unwrap_err().kind(), "expired");

    let mut old = request(IDP);
    old.issue_instant = NOW - Duration::hours(1);
    old.not_on_or_after = None;
    let r = validate_redirect(&f, &redirect_query(&old.to_xml(), None, Some(&f.idp_key)));
    assert!(matches!(r, Err(LogoutRejection::Saml(_))), "{r:?}");

    let mut future = request(IDP);
    future.issue_instant = NOW + Duration::hours(1);
    let r = validate_redirect(
        &f,
        &redirect_query(&future.to_xml(), None, Some(&f.idp_key)),
    );
    assert!(matches!(r, Err(LogoutRejection::Saml(_))), "{r:?}");
}

#[test]
fn a_logout_response_must_answer_the_request_this_browser_sent() {
    let f = fixture();
    let response = LogoutResponse {
        id: "_resp0000000000000000000000000001".into(),
        issue_instant: NOW,
        destination: SLO.into(),
        in_response_to: "_ours".into(),
        issuer: IDP.into(),
        status: LogoutStatus::Success,
    };
    let query = |r: &LogoutResponse| {
        let url = binding::redirect_url(
            "https://x/",
            InboundKind::Response,
            &r.to_xml(),
            None,
            Some(&f.idp_key),
        )
        .unwrap();
        from_redirect_query(url.split_once('?').unwrap().1).unwrap()
    };
    let ok = validate_logout_response(&query(&response), &f.idp, slo(&f), "_ours", NOW).unwrap();
    assert!(ok.status.is_ok());
    let r = validate_logout_response(&query(&response), &f.idp, slo(&f), "_another", NOW);
    assert_eq!(r.unwrap_err().kind(), "in_response_to_mismatch");
    // A response from another IdP than the one the request went to.
    let r = validate_logout_response(&query(&response), &f.other, slo(&f), "_ours", NOW);
    assert!(
        matches!(r, Err(LogoutRejection::UnknownIssuer { .. })),
        "{r:?}"
    );
    let partial = LogoutResponse {
        status: LogoutStatus::PartialLogout,
        ..response.clone()
    };
    let said = validate_logout_response(&query(&partial), &f.idp, slo(&f), "_ours", NOW).unwrap();
    assert!(said.status.is_err());
    // A request where a response is expected.
    let inbound = from_redirect_query(&redirect_query(
        &request(IDP).to_xml(),
        None,
        Some(&f.idp_key),
    ))
    .unwrap();
    let r = validate_logout_response(&inbound, &f.idp, slo(&f), "_ours", NOW);
    assert!(
        matches!(r, Err(LogoutRejection::WrongMessage { .. })),
        "{r:?}"
    );
}

#[test]
fn binding_refusals_are_typed() {
    for (query, kind) in [
        ("", "no_message"),
        ("RelayState=x", "no_message"),
        ("SAMLRequest=a&SAMLResponse=b", "both_messages"),
        ("SAMLRequest=a&SAMLRequest=b", "duplicated_parameter"),
        ("SAMLRequest=%%%", "bad_base64"),
        ("SAMLRequest=AAAA", "bad_deflate"),
    ] {
        let r = from_redirect_query(query);
        assert_eq!(r.map(|_| ()).unwrap_err().kind(), kind, "{query}");
    }
    let xml = request(IDP).to_xml();
    let q = redirect_query(&xml, None, None);
    let r = from_redirect_query(&format!("{q}&Signature=abc"));
    assert_eq!(r.unwrap_err().kind(), "missing_parameter");
    // A deflate bomb: a small query inflating past the message cap.
    let huge = " ".repeat(crate::xml::limits::MAX_MESSAGE_BYTES + 10);
    let q = redirect_query(&huge, None, None);
    assert!(q.len() < 20_000);
    assert_eq!(
        from_redirect_query(&q).map(|_| ()).unwrap_err().kind(),
        "too_large"
    );
}

#[test]
fn soap_envelopes_are_read_strictly_and_their_request_checked_like_a_post() {
    use super::binding::{from_soap_envelope, soap_envelope};
    let f = fixture();
    let soap_url = "https://app.example.com/saml/slo/soap";
    let endpoint = SloEndpoint {
        sp: &f.sp,
        url: soap_url,
    };
    let signed = |r: &LogoutRequest, key: &PKey<Private>| {
        crate::saml::request::sign_for_post(&r.to_xml(), key, None).unwrap()
    };
    let mut request = request(IDP);
    request.destination = soap_url.into();
    let envelope = soap_envelope(&signed(&request, &f.idp_key));
    let inbound = from_soap_envelope(envelope.as_bytes()).unwrap();
    let ok = validate_logout_request(&inbound, &[&f.idp], endpoint, NOW).unwrap();
    assert_eq!(ok.name_id.value, "alice@example.com");

    // Destination is optional over SOAP: dropping it after signing breaks the signature, a
    // request signed without one is accepted (and one for another URL is refused, below).
    let without = soap_envelope(
        &signed(&request, &f.idp_key).replace(&format!(r#" Destination="{soap_url}""#), ""),
    );
    let inbound = from_soap_envelope(without.as_bytes()).unwrap();
    assert!(validate_logout_request(&inbound, &[&f.idp], endpoint, NOW).is_err());
    let mut unaddressed = request.clone();
    unaddressed.destination = String::new();
    let xml = crate::saml::request::sign_for_post(
        &unaddressed.to_xml().replace(r#" Destination="""#, ""),
        &f.idp_key,
        None,
    )
    .unwrap();
    let inbound = from_soap_envelope(soap_envelope(&xml).as_bytes()).unwrap();
    validate_logout_request(&inbound, &[&f.idp], endpoint, NOW).unwrap();
    let front_channel = from_soap_envelope(envelope.as_bytes()).unwrap();
    let r = validate_logout_request(&front_channel, &[&f.idp], slo(&f), NOW);
    assert!(
        matches!(r, Err(LogoutRejection::DestinationMismatch { .. })),
        "{r:?}"
    );

    // Unsigned, or signed by another key: refused.
    let unsigned = soap_envelope(&request.to_xml());
    let inbound = from_soap_envelope(unsigned.as_bytes()).unwrap();
    let r = validate_logout_request(&inbound, &[&f.idp], endpoint, NOW);
    assert!(matches!(r, Err(LogoutRejection::Unsigned { .. })), "{r:?}");
    let forged = soap_envelope(&signed(&request, &f.other_key));
    let inbound = from_soap_envelope(forged.as_bytes()).unwrap();
    assert!(validate_logout_request(&inbound, &[&f.idp], endpoint, NOW).is_err());

    // The envelope's shape.
    for (body, kind) in [
        (request.to_xml(), "not_soap"),
        (
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>"#.to_string(),
            "soap_shape",
        ),
        (
            soap_envelope(&format!("{}{}", request.to_xml(), request.to_xml())),
            "soap_shape",
        ),
    ] {
        let r = from_soap_envelope(body.as_bytes());
        assert_eq!(r.map(|_| ()).unwrap_err().kind(), kind);
    }
}

#[test]
fn an_encrypted_id_decrypts_to_the_name_id_it_hides() {
    let mut f = fixture();
    let sp_key = rsa_key();
    let sp_cert = crate::crypto::test_fixtures::self_signed(&sp_key, "sp");
    f.sp.decryption_keys = vec![crate::crypto::keys::DecryptionKey {
        key: sp_key,
        certificate: Some(sp_cert.clone()),
        description: "sp".into(),
    }];
    let mut r = request(IDP);
    r.encrypted_id = Some(message::encrypted_name_id(&r.name_id, &sp_cert).unwrap());
    let xml = r.to_xml();
    assert!(!xml.contains("alice@example.com"), "{xml}");
    let verified = validate_redirect(&f, &redirect_query(&xml, None, Some(&f.idp_key))).unwrap();
    assert_eq!(verified.name_id, r.name_id);
}
