//! `samlgate verify`: run the ACS pipeline on one Response from a file, outside the gateway
//! (or, with `--token`, the bearer-token checks on one access token: `verify_token`).
//!
//! Exit 0 with JSON on stdout when the Response is accepted; exit 1 with every failed check on
//! stderr, each with its fix, when it is refused (an input that does not decode is refused
//! too: it is the message's fault); exit 2 for usage errors (unreadable files, bad arguments).
//! With `--config` the IdP, the SP entityID, the ACS URL and the keys come from the gateway's
//! configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::crypto::keys::DecryptionKey;
use crate::saml::metadata::parse_idp_metadata;
use crate::saml::policy::{ExpectedRequest, IdpPolicy, SpIdentity};
use crate::saml::response::{decode_post_binding, validate_xml};
use crate::saml::{Rejection, VerifiedAssertion};
use crate::text::xml_sniff::looks_like_xml;

mod diagnosis;

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Take the IdP, SP entityID, ACS URL, keys and IdP policy from the gateway's configuration.
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// With --config: the [[idp]] name (needed when several are configured).
    #[arg(long, value_name = "NAME", requires = "config")]
    pub idp: Option<String>,
    /// The IdP's metadata (EntityDescriptor, or an aggregate with --idp-entity-id).
    #[arg(long, value_name = "FILE")]
    pub idp_metadata: Option<PathBuf>,
    /// Pick this IdP out of an aggregate metadata file.
    #[arg(long, value_name = "ENTITY_ID")]
    pub idp_entity_id: Option<String>,
    /// Our SP entityID (the expected Audience).
    #[arg(long, value_name = "ID")]
    pub sp_entity_id: Option<String>,
    /// Our ACS URL (the expected Destination and Recipient).
    #[arg(long, value_name = "URL")]
    pub acs_url: Option<String>,
    /// The file is a Single Logout message (LogoutRequest, or LogoutResponse with
    /// --request-id): an HTTP-Redirect query string (`SAMLRequest=...&SigAlg=...&Signature=...`,
    /// or a whole URL) or an HTTP-POST message (base64 or XML, enveloped signature).
    #[arg(long, requires = "slo_url", conflicts_with_all = ["unsolicited", "acs_url"])]
    pub logout: bool,
    /// With --logout: our Single Logout URL (the expected Destination).
    #[arg(long, value_name = "URL")]
    pub slo_url: Option<String>,
    /// Validate as of this time (RFC 3339), instead of the system clock.
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
    /// The AuthnRequest ID the Response must answer. Without it InResponseTo is not compared.
    /// With --logout: the LogoutRequest ID a LogoutResponse must answer.
    #[arg(long, value_name = "ID")]
    pub request_id: Option<String>,
    /// Treat the Response as IdP-initiated: InResponseTo must be absent.
    #[arg(long, conflicts_with = "request_id")]
    pub unsolicited: bool,
    /// Accept RSA-SHA1 / SHA-1 (legacy IdPs only).
    #[arg(long)]
    pub allow_sha1: bool,
    /// Require the Assertion itself to be signed.
    #[arg(long)]
    pub require_signed_assertion: bool,
    /// Accept 3DES content encryption.
    #[arg(long)]
    pub allow_3des: bool,
    /// Clock skew in seconds (default 180, at most 300).
    #[arg(long, value_name = "SECONDS")]
    pub clock_skew: Option<i64>,
    /// SP private key (PEM) to decrypt with; repeat for rollover.
    #[arg(long = "sp-key", value_name = "FILE")]
    pub sp_keys: Vec<PathBuf>,
    /// The Response: raw XML, or the SAMLResponse form value as base64, URL-encoded or with
    /// `SAMLResponse=` in front (as browser tools copy it).
    #[arg(value_name = "RESPONSE_FILE", required_unless_present = "token")]
    pub response_file: Option<PathBuf>,
    /// An OAuth access token (a file holding the JWT) to check instead of a Response.
    #[command(flatten)]
    pub token: super::verify_token::TokenArgs,
}

/// What `verify` prints on success.
#[derive(Serialize)]
struct Output<'a> {
    name_id: &'a str,
    name_id_format: Option<&'a str>,
    issuer: &'a str,
    assertion_id: &'a str,
    attributes: serde_json::Map<String, serde_json::Value>,
    session_index: Option<&'a str>,
    #[serde(with = "time::serde::rfc3339::option")]
    session_not_on_or_after: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    authn_instant: Option<OffsetDateTime>,
    authn_context_class_ref: Option<&'a str>,
    in_response_to: Option<&'a str>,
    signed_response: bool,
    signed_assertion: bool,
    encrypted: bool,
    #[serde(with = "time::serde::rfc3339")]
    replay_until: OffsetDateTime,
}

/// A usage error: exit code 2 with this message.
struct Usage(String);

pub fn run(args: VerifyArgs) -> ExitCode {
    if args.token.token.is_some() {
        let token = super::verify_token::TokenArgs {
            config: args.config.clone(),
            ..args.token
        };
        return super::verify_token::run(&token, args.now.as_deref(), args.clock_skew);
    }
    if args.logout {
        let (Some(idp_metadata), Some(message_file)) = (args.idp_metadata, args.response_file)
        else {
            eprintln!("samlgate verify: --logout needs --idp-metadata and the message file");
            return ExitCode::from(2);
        };
        return super::verify_logout::run(&super::verify_logout::LogoutArgs {
            idp_metadata,
            idp_entity_id: args.idp_entity_id,
            sp_entity_id: args.sp_entity_id.unwrap_or_default(),
            slo_url: args.slo_url,
            now: args.now,
            request_id: args.request_id,
            allow_sha1: args.allow_sha1,
            clock_skew: args.clock_skew,
            sp_keys: args.sp_keys,
            message_file,
        });
    }
    let p = match prepare(&args) {
        Err(Usage(message)) => {
            eprintln!("samlgate verify: {message}");
            return ExitCode::from(2);
        }
        Ok(p) => p,
    };
    let xml = match decode_input(&p.raw) {
        Ok(xml) => xml,
        Err(rejection) => {
            eprintln!("rejected [{}]: {rejection}", rejection.kind());
            eprintln!(
                "  fix: give the Response as XML, as the base64 SAMLResponse value, or as the form body copied from the browser's network tools (SAMLResponse=...)"
            );
            return ExitCode::from(1);
        }
    };
    match verify(&p, &xml, &args) {
        Ok(verified) => {
            print_json(&verified);
            ExitCode::SUCCESS
        }
        Err(first) => {
            let failures = diagnosis::every_failure(first, &xml, &p, expected(&args));
            let many = failures.len() > 1;
            // Every failure starts `rejected [kind]:` (scripts read the first one as the
            // verdict), in the order found.
            for failure in &failures {
                eprintln!(
                    "rejected [{}]: {}",
                    failure.rejection.kind(),
                    failure.rejection
                );
                for line in &failure.fix {
                    eprintln!("  {line}");
                }
            }
            if many {
                eprintln!(
                    "{} checks failed; each one after the first was found by setting the earlier ones aside",
                    failures.len()
                );
            }
            ExitCode::from(1)
        }
    }
}

pub(crate) struct Prepared {
    pub(crate) raw: Vec<u8>,
    pub(crate) policy: IdpPolicy,
    pub(crate) sp: SpIdentity,
    pub(crate) now: OffsetDateTime,
    /// `--now` was given: no need to suggest it.
    pub(crate) now_given: bool,
}

fn read(path: &PathBuf, what: &str) -> Result<Vec<u8>, Usage> {
    std::fs::read(path).map_err(|e| Usage(format!("cannot read {what} {}: {e}", path.display())))
}

/// The IdP policy and SP identity: from the configuration, or from the flags.
fn from_config(
    args: &VerifyArgs,
    path: &std::path::Path,
) -> Result<(IdpPolicy, SpIdentity), Usage> {
    let loaded = crate::config::load(path).map_err(|e| Usage(e.to_string()))?;
    let config = loaded.config;
    let idp = match (&args.idp, config.idps.as_slice()) {
        (Some(name), idps) => idps.iter().find(|i| &i.name == name).ok_or_else(|| {
            Usage(format!(
                "--idp {name}: no such [[idp]] in {} (configured: {})",
                path.display(),
                idps.iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?,
        (None, [only]) => only,
        (None, idps) => {
            return Err(Usage(format!(
                "{} configures several IdPs: pass --idp NAME (one of {})",
                path.display(),
                idps.iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    };
    let mut decryption_keys = vec![config.sp.key.clone()];
    decryption_keys.extend(config.sp.old_keys.iter().cloned());
    Ok((
        idp.policy.clone(),
        SpIdentity {
            entity_id: config.sp.entity_id.clone(),
            acs_url: config.server.acs_url(),
            decryption_keys,
        },
    ))
}

fn from_flags(args: &VerifyArgs) -> Result<(IdpPolicy, SpIdentity), Usage> {
    let (Some(metadata_path), Some(sp_entity_id), Some(acs_url)) =
        (&args.idp_metadata, &args.sp_entity_id, &args.acs_url)
    else {
        return Err(Usage(
            "needs --config samlgate.toml, or --idp-metadata, --sp-entity-id and --acs-url".into(),
        ));
    };
    let metadata = read(metadata_path, "IdP metadata")?;
    let source = metadata_path.display().to_string();
    let idp = parse_idp_metadata(&metadata, &source, args.idp_entity_id.as_deref())
        .map_err(|e| Usage(e.to_string()))?;
    Ok((
        IdpPolicy::new(idp.entity_id, idp.signing_keys),
        SpIdentity {
            entity_id: sp_entity_id.clone(),
            acs_url: acs_url.clone(),
            decryption_keys: Vec::new(),
        },
    ))
}

fn prepare(args: &VerifyArgs) -> Result<Prepared, Usage> {
    let (mut policy, mut sp) = match &args.config {
        Some(path) => from_config(args, path)?,
        None => from_flags(args)?,
    };
    // Flags given beside --config win over it.
    if let Some(id) = &args.sp_entity_id {
        sp.entity_id = id.clone();
    }
    if let Some(url) = &args.acs_url {
        sp.acs_url = url.clone();
    }
    policy.allow_sha1 |= args.allow_sha1;
    policy.allow_3des |= args.allow_3des;
    policy.require_signed_assertion |= args.require_signed_assertion;
    if let Some(secs) = args.clock_skew {
        if !(0..=300).contains(&secs) {
            return Err(Usage(format!(
                "--clock-skew {secs} is outside 0..=300 seconds"
            )));
        }
        policy.clock_skew = time::Duration::seconds(secs);
    }
    for path in &args.sp_keys {
        let pem = read(path, "SP key")?;
        let key = DecryptionKey::from_pem(&pem, &path.display().to_string())
            .map_err(|e| Usage(format!("SP key {}: {e}", path.display())))?;
        sp.decryption_keys.push(key);
    }
    let now = match &args.now {
        Some(t) => OffsetDateTime::parse(t, &Rfc3339)
            .map_err(|e| Usage(format!("--now {t:?} is not an RFC 3339 time: {e}")))?,
        None => OffsetDateTime::now_utc(),
    };
    let Some(response_file) = &args.response_file else {
        return Err(Usage(
            "RESPONSE_FILE is required to verify a Response".into(),
        ));
    };
    let raw = read(response_file, "response file")?;
    Ok(Prepared {
        raw,
        policy,
        sp,
        now,
        now_given: args.now.is_some(),
    })
}

/// The Response's XML from what was pasted: XML as is; else the form value, after taking off
/// `SAMLResponse=` (and anything after `&`) and URL-decoding it when it is URL-encoded.
fn decode_input(raw: &[u8]) -> Result<Vec<u8>, Rejection> {
    if looks_like_xml(raw) {
        return Ok(raw.to_vec());
    }
    let text = String::from_utf8_lossy(raw);
    let mut value = text.trim();
    if let Some(form) = value.find("SAMLResponse=") {
        let rest = value.get(form + "SAMLResponse=".len()..).unwrap_or("");
        value = rest.split('&').next().unwrap_or(rest);
    }
    let value = if value.contains('%') {
        // URL-encoded base64: %2B, %2F, %3D; a `+` stays a `+` (base64 has no spaces).
        percent_encoding::percent_decode_str(value)
            .decode_utf8_lossy()
            .into_owned()
    } else {
        value.to_string()
    };
    decode_post_binding(value.as_bytes())
}

fn expected(args: &VerifyArgs) -> ExpectedRequest<'_> {
    match (&args.request_id, args.unsolicited) {
        (Some(id), _) => ExpectedRequest::Solicited(id),
        (None, true) => ExpectedRequest::Unsolicited,
        (None, false) => ExpectedRequest::NotChecked,
    }
}

fn verify(p: &Prepared, xml: &[u8], args: &VerifyArgs) -> Result<VerifiedAssertion, Rejection> {
    validate_xml(xml, &p.policy, &p.sp, expected(args), p.now)
}

fn print_json(v: &VerifiedAssertion) {
    let mut attributes = serde_json::Map::new();
    for attr in &v.claims.attributes {
        let entry = attributes
            .entry(attr.name.clone())
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        if let serde_json::Value::Array(list) = entry {
            list.extend(attr.values.iter().cloned().map(serde_json::Value::String));
        }
    }
    let out = Output {
        name_id: &v.claims.name_id.value,
        name_id_format: v.claims.name_id.format.as_deref(),
        issuer: &v.claims.idp_entity_id,
        assertion_id: &v.assertion_id,
        attributes,
        session_index: v.session_index.as_deref(),
        session_not_on_or_after: v.session_not_on_or_after,
        authn_instant: v.authn_instant,
        authn_context_class_ref: v.authn_context_class_ref.as_deref(),
        in_response_to: v.in_response_to.as_deref(),
        signed_response: v.signed.response,
        signed_assertion: v.signed.assertion,
        encrypted: v.was_encrypted,
        replay_until: v.replay_until,
    };
    match serde_json::to_string_pretty(&out) {
        Ok(json) => println!("{json}"),
        Err(e) => eprintln!("samlgate verify: cannot print the result: {e}"),
    }
}
