//! The front-channel bindings of a logout message, both ways.
//!
//! In: HTTP-Redirect (SAML bindings 3.4) from the raw query string, keeping each parameter's
//! bytes exactly as received, because the detached signature covers
//! `SAMLRequest=..[&RelayState=..]&SigAlg=..` as the IdP URL-encoded them, not as we would
//! re-encode them (bindings 3.4.4.1); HTTP-POST (bindings 3.5) from the form body, whose
//! signature is enveloped in the XML. Nothing here checks a signature: [`super::validate`] does.
//!
//! Out: the same two, signed the way each requires (query-string signature or enveloped).

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use openssl::pkey::{PKeyRef, Private};
use openssl::x509::X509Ref;

use super::rejection::{BindingFailure, LogoutRejection};
use crate::saml::metadata::Binding;
use crate::saml::request::{RequestError, redirect_url_for, sign_for_post};
use crate::xml::escape::escape;
use crate::xml::limits::{MAX_MESSAGE_BYTES, MAX_RESPONSE_BASE64_BYTES};

/// The SAML SOAP binding (bindings 3.2), for the back channel.
pub const BINDING_SOAP: &str = "urn:oasis:names:tc:SAML:2.0:bindings:SOAP";
/// SOAP 1.1's envelope namespace, the one the SAML SOAP binding uses.
pub const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// Is this the SOAP binding?
pub fn is_soap(binding: &Binding) -> bool {
    matches!(binding, Binding::Other(uri) if uri == BINDING_SOAP)
}

/// Which of the two logout messages a binding carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboundKind {
    /// `SAMLRequest`: a LogoutRequest.
    Request,
    /// `SAMLResponse`: a LogoutResponse.
    Response,
}

impl InboundKind {
    pub fn parameter(self) -> &'static str {
        match self {
            InboundKind::Request => "SAMLRequest",
            InboundKind::Response => "SAMLResponse",
        }
    }
}

/// The HTTP-Redirect binding's detached signature, as received.
#[derive(Clone, Debug)]
pub struct RedirectSignature {
    /// `SigAlg`, URL-decoded (checked against the allow-list by the validator).
    pub sig_alg: String,
    /// `Signature`, URL-decoded base64.
    pub signature_b64: String,
    /// The octets the signature covers: the raw parameters, in the order the binding fixes.
    pub signed_octets: String,
}

/// A logout message as a binding delivered it, before any check.
#[derive(Clone, Debug)]
pub struct Inbound {
    pub kind: InboundKind,
    pub binding: Binding,
    /// The message XML (inflated for HTTP-Redirect, base64-decoded for HTTP-POST).
    pub xml: Vec<u8>,
    /// `RelayState`, URL-decoded; returned unaltered with the answer.
    pub relay_state: Option<String>,
    /// HTTP-Redirect only; `None` when the query carried no `Signature`.
    pub redirect_signature: Option<RedirectSignature>,
}

/// Read an HTTP-Redirect query string (without the `?`), exactly as it arrived.
pub fn from_redirect_query(raw_query: &str) -> Result<Inbound, LogoutRejection> {
    if raw_query.len() > MAX_RESPONSE_BASE64_BYTES {
        return Err(BindingFailure::TooLarge {
            size: raw_query.len(),
            limit: MAX_RESPONSE_BASE64_BYTES,
        }
        .into());
    }
    let mut request = None;
    let mut response = None;
    let mut relay_state = None;
    let mut sig_alg = None;
    let mut signature = None;
    for piece in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = piece.split_once('=').unwrap_or((piece, ""));
        let name = decode_component(raw_name);
        let slot = match name.as_str() {
            "SAMLRequest" => &mut request,
            "SAMLResponse" => &mut response,
            "RelayState" => &mut relay_state,
            "SigAlg" => &mut sig_alg,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.replace((raw_name, raw_value)).is_some() {
            return Err(BindingFailure::Duplicated { parameter: name }.into());
        }
    }
    let (kind, (raw_name, raw_message)) = match (request, response) {
        (Some(r), None) => (InboundKind::Request, r),
        (None, Some(r)) => (InboundKind::Response, r),
        (None, None) => return Err(BindingFailure::NoMessage.into()),
        (Some(_), Some(_)) => return Err(BindingFailure::BothMessages.into()),
    };
    let deflated = B64
        .decode(strip_whitespace(&decode_component(raw_message)))
        .map_err(|e| BindingFailure::Base64(e.to_string()))?;
    let xml = inflate(&deflated)?;
    let redirect_signature = match (signature, sig_alg) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(BindingFailure::Missing {
                parameter: "SigAlg",
            }
            .into());
        }
        (Some((_, raw_signature)), Some((raw_alg_name, raw_alg))) => {
            let mut signed_octets = format!("{raw_name}={raw_message}");
            if let Some((raw_relay_name, raw_relay)) = relay_state {
                signed_octets.push_str(&format!("&{raw_relay_name}={raw_relay}"));
            }
            signed_octets.push_str(&format!("&{raw_alg_name}={raw_alg}"));
            Some(RedirectSignature {
                sig_alg: decode_component(raw_alg),
                signature_b64: strip_whitespace(&decode_component(raw_signature)),
                signed_octets,
            })
        }
    };
    Ok(Inbound {
        kind,
        binding: Binding::HttpRedirect,
        xml,
        relay_state: relay_state.map(|(_, raw)| decode_component(raw)),
        redirect_signature,
    })
}

/// Read an HTTP-POST form body (`application/x-www-form-urlencoded`).
pub fn from_post_form(body: &[u8]) -> Result<Inbound, LogoutRejection> {
    if body.len() > MAX_RESPONSE_BASE64_BYTES.saturating_mul(2) {
        return Err(BindingFailure::TooLarge {
            size: body.len(),
            limit: MAX_RESPONSE_BASE64_BYTES.saturating_mul(2),
        }
        .into());
    }
    let mut request = None;
    let mut response = None;
    let mut relay_state = None;
    for (name, value) in url::form_urlencoded::parse(body) {
        let slot = match name.as_ref() {
            "SAMLRequest" => &mut request,
            "SAMLResponse" => &mut response,
            "RelayState" => &mut relay_state,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(BindingFailure::Duplicated {
                parameter: name.into_owned(),
            }
            .into());
        }
    }
    let (kind, message) = match (request, response) {
        (Some(r), None) => (InboundKind::Request, r),
        (None, Some(r)) => (InboundKind::Response, r),
        (None, None) => return Err(BindingFailure::NoMessage.into()),
        (Some(_), Some(_)) => return Err(BindingFailure::BothMessages.into()),
    };
    if message.len() > MAX_RESPONSE_BASE64_BYTES {
        return Err(BindingFailure::TooLarge {
            size: message.len(),
            limit: MAX_RESPONSE_BASE64_BYTES,
        }
        .into());
    }
    let xml = B64
        .decode(strip_whitespace(&message))
        .map_err(|e| BindingFailure::Base64(e.to_string()))?;
    Ok(Inbound {
        kind,
        binding: Binding::HttpPost,
        xml,
        relay_state,
        redirect_signature: None,
    })
}

/// Read a SOAP request body (bindings 3.2): a SOAP 1.1 Envelope whose Body holds the message,
/// its signature enveloped. Which message it is, the Body's element says; the validator checks
/// the envelope's shape again on the tree it verifies.
pub fn from_soap_envelope(body: &[u8]) -> Result<Inbound, LogoutRejection> {
    if body.len() > MAX_MESSAGE_BYTES {
        return Err(BindingFailure::TooLarge {
            size: body.len(),
            limit: MAX_MESSAGE_BYTES,
        }
        .into());
    }
    let doc = crate::xml::parse(body, &crate::xml::ParseLimits::default())?;
    let message = soap_body_message(&doc)?;
    let kind = if message.is(crate::xml::ns::SAMLP, "LogoutResponse") {
        InboundKind::Response
    } else {
        InboundKind::Request
    };
    Ok(Inbound {
        kind,
        binding: Binding::Other(BINDING_SOAP.to_string()),
        xml: body.to_vec(),
        relay_state: None,
        redirect_signature: None,
    })
}

/// The one element inside `Envelope/Body`.
pub fn soap_body_message(
    doc: &crate::xml::Document,
) -> Result<crate::xml::ElementRef<'_>, LogoutRejection> {
    let root = doc.root();
    if !root.is(SOAP_ENV, "Envelope") {
        return Err(BindingFailure::NotSoap {
            found: root.qualified_name(),
        }
        .into());
    }
    let bodies: Vec<_> = root.children_named(SOAP_ENV, "Body").collect();
    let [body] = bodies.as_slice() else {
        return Err(BindingFailure::SoapShape {
            what: "exactly one SOAP Body",
        }
        .into());
    };
    let messages: Vec<_> = body.child_elements().collect();
    match messages.as_slice() {
        [one] => Ok(*one),
        _ => Err(BindingFailure::SoapShape {
            what: "exactly one element in the SOAP Body",
        }
        .into()),
    }
}

/// `xml` (a signed message) in a SOAP 1.1 envelope.
pub fn soap_envelope(xml: &str) -> String {
    format!(
        r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV}"><SOAP-ENV:Body>{xml}</SOAP-ENV:Body></SOAP-ENV:Envelope>"#
    )
}

/// A SOAP Fault with a generic reason (the precise one goes to the log).
pub fn soap_fault(client_fault: bool, reason: &str) -> String {
    let code = if client_fault { "Client" } else { "Server" };
    format!(
        r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV}"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:{code}</faultcode><faultstring>{}</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"#,
        escape(reason)
    )
}

/// One query component, percent-decoded as a form value (`+` is a space).
fn decode_component(raw: &str) -> String {
    url::form_urlencoded::parse(format!("x={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn strip_whitespace(value: &str) -> String {
    value.chars().filter(|c| !c.is_ascii_whitespace()).collect()
}

/// Raw DEFLATE, at most [`MAX_MESSAGE_BYTES`] out: a small query cannot inflate into a huge
/// document.
fn inflate(deflated: &[u8]) -> Result<Vec<u8>, LogoutRejection> {
    let limit = MAX_MESSAGE_BYTES;
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    flate2::read::DeflateDecoder::new(deflated)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| BindingFailure::Inflate(e.to_string()))?;
    if out.len() > limit {
        return Err(BindingFailure::TooLarge {
            size: out.len(),
            limit,
        }
        .into());
    }
    Ok(out)
}

/// A logout message on its way out: where the browser goes, or the form it posts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outbound {
    /// HTTP-Redirect: the full URL for a 303.
    Redirect(String),
    /// HTTP-POST: an auto-submitting form page.
    Post(String),
}

/// The SP's key (and certificate for `KeyInfo`) to sign with, when signing.
#[derive(Clone, Copy)]
pub struct SigningKey<'a> {
    pub key: &'a PKeyRef<Private>,
    pub certificate: Option<&'a X509Ref>,
}

/// Encode `xml` for `binding` to `destination`, signed when `signing` is given.
pub fn encode(
    binding: &Binding,
    destination: &str,
    kind: InboundKind,
    xml: &str,
    relay_state: Option<&str>,
    signing: Option<SigningKey<'_>>,
) -> Result<Outbound, RequestError> {
    match binding {
        Binding::HttpPost => {
            let xml = match signing {
                Some(s) => sign_for_post(xml, s.key, s.certificate)?,
                None => xml.to_string(),
            };
            Ok(Outbound::Post(post_form(
                destination,
                kind,
                &xml,
                relay_state,
            )))
        }
        _ => redirect_url(destination, kind, xml, relay_state, signing.map(|s| s.key))
            .map(Outbound::Redirect),
    }
}

/// The HTTP-Redirect URL, the signature over the query exactly as sent.
pub fn redirect_url(
    destination: &str,
    kind: InboundKind,
    xml: &str,
    relay_state: Option<&str>,
    signing_key: Option<&PKeyRef<Private>>,
) -> Result<String, RequestError> {
    redirect_url_for(destination, kind.parameter(), xml, relay_state, signing_key)
}

/// The HTTP-POST page: the message and RelayState in hidden fields, submitted on load; a button
/// covers browsers without JavaScript.
pub fn post_form(
    destination: &str,
    kind: InboundKind,
    xml: &str,
    relay_state: Option<&str>,
) -> String {
    let relay = relay_state
        .map(|r| {
            format!(
                r#"<input type="hidden" name="RelayState" value="{}"/>"#,
                escape(r)
            )
        })
        .unwrap_or_default();
    format!(
        concat!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Signing out</title></head>",
            "<body onload=\"document.forms[0].submit()\">",
            "<form method=\"post\" action=\"{action}\">",
            "<input type=\"hidden\" name=\"{param}\" value=\"{message}\"/>{relay}",
            "<noscript><button type=\"submit\">Continue signing out</button></noscript>",
            "</form></body></html>\n"
        ),
        action = escape(destination),
        param = kind.parameter(),
        message = B64.encode(xml.as_bytes()),
        relay = relay,
    )
}
