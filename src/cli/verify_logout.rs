//! `samlgate verify --logout`: run the Single Logout checks (`saml::logout`) on one logout
//! message from a file, outside the gateway, as `/saml/slo` would.
//!
//! The binding is read from the file: a query string (or a URL with one) is HTTP-Redirect, its
//! signature over the query octets as written; a SOAP envelope is the SOAP back channel; other
//! XML, or base64, is HTTP-POST; the last two with the signature enveloped. A LogoutRequest is checked as IdP-initiated; a LogoutResponse needs
//! `--request-id`, the LogoutRequest it must answer. Exit codes as `verify`: 0 accepted (JSON on
//! stdout), 1 refused (the reason on stderr), 2 usage.

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::crypto::keys::DecryptionKey;
use crate::saml::logout::binding::{
    Inbound, InboundKind, SOAP_ENV, from_post_form, from_redirect_query, from_soap_envelope,
};
use crate::saml::logout::{
    LogoutRejection, SloEndpoint, validate_logout_request, validate_logout_response,
};
use crate::saml::metadata::{Binding, parse_idp_metadata};
use crate::saml::policy::{IdpPolicy, SpIdentity};
use crate::text::xml_sniff::looks_like_xml;

/// What `verify --logout` was given (from `verify`'s command line).
#[derive(Debug)]
pub struct LogoutArgs {
    pub idp_metadata: PathBuf,
    pub idp_entity_id: Option<String>,
    pub sp_entity_id: String,
    pub slo_url: Option<String>,
    pub now: Option<String>,
    /// A LogoutResponse must answer this LogoutRequest ID.
    pub request_id: Option<String>,
    pub allow_sha1: bool,
    pub clock_skew: Option<i64>,
    pub sp_keys: Vec<PathBuf>,
    pub message_file: PathBuf,
}

fn read_file(path: &PathBuf, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
}

#[derive(Serialize)]
#[serde(tag = "message")]
enum Output {
    LogoutRequest {
        issuer: String,
        id: String,
        binding: &'static str,
        name_id: String,
        name_id_format: Option<String>,
        session_indexes: Vec<String>,
        relay_state: Option<String>,
    },
    LogoutResponse {
        issuer: String,
        id: String,
        binding: &'static str,
        in_response_to: String,
        /// `success`, or the status the IdP gave instead.
        status: String,
        relay_state: Option<String>,
    },
}

pub fn run(args: &LogoutArgs) -> ExitCode {
    match prepare(args) {
        Err(message) => {
            eprintln!("samlgate verify --logout: {message}");
            ExitCode::from(2)
        }
        Ok(Ok(p)) => match check(&p, args) {
            Ok(Some(out)) => match serde_json::to_string_pretty(&out) {
                Ok(json) => {
                    println!("{json}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("samlgate verify --logout: cannot print the result: {e}");
                    ExitCode::from(2)
                }
            },
            Ok(None) => {
                eprintln!(
                    "samlgate verify --logout: a LogoutResponse needs --request-id, the ID of the LogoutRequest it answers"
                );
                ExitCode::from(2)
            }
            Err(rejection) => refused(&rejection),
        },
        Ok(Err(rejection)) => refused(&rejection),
    }
}

fn refused(rejection: &LogoutRejection) -> ExitCode {
    eprintln!("rejected [{}]: {rejection}", rejection.kind());
    ExitCode::from(1)
}

struct Prepared {
    inbound: Inbound,
    policy: IdpPolicy,
    sp: SpIdentity,
    slo_url: String,
    now: OffsetDateTime,
}

/// Usage errors outside, the binding's refusal inside.
fn prepare(args: &LogoutArgs) -> Result<Result<Prepared, LogoutRejection>, String> {
    let metadata = read_file(&args.idp_metadata, "IdP metadata")?;
    let source = args.idp_metadata.display().to_string();
    let idp = parse_idp_metadata(&metadata, &source, args.idp_entity_id.as_deref())
        .map_err(|e| e.to_string())?;
    let mut policy = IdpPolicy::new(idp.entity_id, idp.signing_keys);
    policy.allow_sha1 = args.allow_sha1;
    if let Some(secs) = args.clock_skew {
        if !(0..=300).contains(&secs) {
            return Err(format!("--clock-skew {secs} is outside 0..=300 seconds"));
        }
        policy.clock_skew = time::Duration::seconds(secs);
    }
    let mut decryption_keys = Vec::new();
    for path in &args.sp_keys {
        let pem = read_file(path, "SP key")?;
        let key = DecryptionKey::from_pem(&pem, &path.display().to_string())
            .map_err(|e| format!("SP key {}: {e}", path.display()))?;
        decryption_keys.push(key);
    }
    let now = match &args.now {
        Some(t) => OffsetDateTime::parse(t, &Rfc3339)
            .map_err(|e| format!("--now {t:?} is not an RFC 3339 time: {e}"))?,
        None => OffsetDateTime::now_utc(),
    };
    let slo_url = args.slo_url.clone().ok_or("--logout needs --slo-url")?;
    let raw = read_file(&args.message_file, "logout message file")?;
    let inbound = match read_binding(&raw) {
        Ok(inbound) => inbound,
        Err(rejection) => return Ok(Err(rejection)),
    };
    Ok(Ok(Prepared {
        inbound,
        policy,
        sp: SpIdentity {
            entity_id: args.sp_entity_id.clone(),
            acs_url: String::new(),
            decryption_keys,
        },
        slo_url,
        now,
    }))
}

/// A query string (or URL) is HTTP-Redirect; XML or base64 is HTTP-POST.
fn read_binding(raw: &[u8]) -> Result<Inbound, LogoutRejection> {
    let text = String::from_utf8_lossy(raw);
    let text = text.trim();
    if looks_like_xml(raw) && text.contains(SOAP_ENV) {
        return from_soap_envelope(raw);
    }
    if looks_like_xml(raw) {
        return Ok(Inbound {
            kind: if text.contains("LogoutResponse") {
                InboundKind::Response
            } else {
                InboundKind::Request
            },
            binding: Binding::HttpPost,
            xml: raw.to_vec(),
            relay_state: None,
            redirect_signature: None,
        });
    }
    let query = text.split_once('?').map_or(text, |(_, q)| q);
    if query.starts_with("SAMLRequest=") || query.starts_with("SAMLResponse=") {
        return from_redirect_query(query);
    }
    // Base64 of the XML, as the HTTP-POST form value: which of the two it is, the XML says.
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("SAMLRequest", text)
        .finish();
    let mut inbound = from_post_form(body.as_bytes())?;
    if String::from_utf8_lossy(&inbound.xml).contains("LogoutResponse") {
        inbound.kind = InboundKind::Response;
    }
    Ok(inbound)
}

fn binding_name(binding: &Binding) -> &'static str {
    match binding {
        Binding::HttpRedirect => "HTTP-Redirect",
        Binding::HttpPost => "HTTP-POST",
        Binding::Other(_) => "SOAP",
    }
}

fn check(p: &Prepared, args: &LogoutArgs) -> Result<Option<Output>, LogoutRejection> {
    let slo = SloEndpoint {
        sp: &p.sp,
        url: &p.slo_url,
    };
    match p.inbound.kind {
        InboundKind::Request => {
            let v = validate_logout_request(&p.inbound, &[&p.policy], slo, p.now)?;
            Ok(Some(Output::LogoutRequest {
                issuer: v.idp_entity_id,
                id: v.id,
                binding: binding_name(&v.binding),
                name_id: v.name_id.value,
                name_id_format: v.name_id.format,
                session_indexes: v.session_indexes,
                relay_state: v.relay_state,
            }))
        }
        InboundKind::Response => {
            let Some(request_id) = &args.request_id else {
                return Ok(None);
            };
            let v = validate_logout_response(&p.inbound, &p.policy, slo, request_id, p.now)?;
            Ok(Some(Output::LogoutResponse {
                issuer: v.idp_entity_id,
                id: v.id,
                binding: binding_name(&p.inbound.binding),
                in_response_to: v.in_response_to,
                status: match v.status {
                    Ok(()) => "success".to_string(),
                    Err(status) => status.to_string(),
                },
                relay_state: v.relay_state,
            }))
        }
    }
}
