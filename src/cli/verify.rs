//! `samlgate verify`: run the ACS pipeline on one Response from a file, outside the gateway
//! (or, with `--token`, the bearer-token checks on one access token: `verify_token`).
//!
//! Exit 0 with JSON on stdout when the Response is accepted; exit 1 with the rejection on
//! stderr when it is refused; exit 2 for usage errors (unreadable files, bad arguments).

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

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The IdP's metadata (EntityDescriptor, or an aggregate with --idp-entity-id).
    #[arg(long, value_name = "FILE", required_unless_present = "token")]
    pub idp_metadata: Option<PathBuf>,
    /// Pick this IdP out of an aggregate metadata file.
    #[arg(long, value_name = "ENTITY_ID")]
    pub idp_entity_id: Option<String>,
    /// Our SP entityID (the expected Audience).
    #[arg(long, value_name = "ID", required_unless_present = "token")]
    pub sp_entity_id: Option<String>,
    /// Our ACS URL (the expected Destination and Recipient).
    #[arg(long, value_name = "URL", required_unless_present_any = ["logout", "token"])]
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
    /// The Response: the base64 SAMLResponse form value, or raw XML (auto-detected).
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
        return super::verify_token::run(&args.token, args.now.as_deref(), args.clock_skew);
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
    match prepare(&args) {
        Err(Usage(message)) => {
            eprintln!("samlgate verify: {message}");
            ExitCode::from(2)
        }
        Ok(p) => match verify(&p, &args) {
            Ok(verified) => {
                print_json(&verified);
                ExitCode::SUCCESS
            }
            Err(rejection) => {
                eprintln!("rejected [{}]: {rejection}", rejection.kind());
                ExitCode::from(1)
            }
        },
    }
}

struct Prepared {
    xml: Vec<u8>,
    policy: IdpPolicy,
    sp: SpIdentity,
    now: OffsetDateTime,
}

fn read(path: &PathBuf, what: &str) -> Result<Vec<u8>, Usage> {
    std::fs::read(path).map_err(|e| Usage(format!("cannot read {what} {}: {e}", path.display())))
}

/// A SAML argument clap requires whenever `--token` is absent.
fn given<'a, T>(value: &'a Option<T>, flag: &str) -> Result<&'a T, Usage> {
    value
        .as_ref()
        .ok_or_else(|| Usage(format!("{flag} is required to verify a Response")))
}

fn prepare(args: &VerifyArgs) -> Result<Prepared, Usage> {
    let idp_metadata = given(&args.idp_metadata, "--idp-metadata")?;
    let metadata = read(idp_metadata, "IdP metadata")?;
    let source = idp_metadata.display().to_string();
    let idp = parse_idp_metadata(&metadata, &source, args.idp_entity_id.as_deref())
        .map_err(|e| Usage(e.to_string()))?;
    let mut policy = IdpPolicy::new(idp.entity_id, idp.signing_keys);
    policy.allow_sha1 = args.allow_sha1;
    policy.allow_3des = args.allow_3des;
    policy.require_signed_assertion = args.require_signed_assertion;
    if let Some(secs) = args.clock_skew {
        if !(0..=300).contains(&secs) {
            return Err(Usage(format!(
                "--clock-skew {secs} is outside 0..=300 seconds"
            )));
        }
        policy.clock_skew = time::Duration::seconds(secs);
    }
    let mut decryption_keys = Vec::new();
    for path in &args.sp_keys {
        let pem = read(path, "SP key")?;
        let key = DecryptionKey::from_pem(&pem, &path.display().to_string())
            .map_err(|e| Usage(format!("SP key {}: {e}", path.display())))?;
        decryption_keys.push(key);
    }
    let now = match &args.now {
        Some(t) => OffsetDateTime::parse(t, &Rfc3339)
            .map_err(|e| Usage(format!("--now {t:?} is not an RFC 3339 time: {e}")))?,
        None => OffsetDateTime::now_utc(),
    };
    let raw = read(
        given(&args.response_file, "RESPONSE_FILE")?,
        "response file",
    )?;
    let xml = if looks_like_xml(&raw) {
        raw
    } else {
        // A base64 problem is the message's fault, not a usage error: report it as a rejection.
        match decode_post_binding(&raw) {
            Ok(xml) => xml,
            Err(rejection) => {
                eprintln!("rejected [{}]: {rejection}", rejection.kind());
                return Err(Usage("the response file is neither XML nor base64".into()));
            }
        }
    };
    Ok(Prepared {
        xml,
        policy,
        sp: SpIdentity {
            entity_id: given(&args.sp_entity_id, "--sp-entity-id")?.clone(),
            acs_url: given(&args.acs_url, "--acs-url")?.clone(),
            decryption_keys,
        },
        now,
    })
}

fn looks_like_xml(raw: &[u8]) -> bool {
    let trimmed = raw
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(raw)
        .trim_ascii_start();
    trimmed.first() == Some(&b'<')
}

fn verify(p: &Prepared, args: &VerifyArgs) -> Result<VerifiedAssertion, Rejection> {
    let expected = match (&args.request_id, args.unsolicited) {
        (Some(id), _) => ExpectedRequest::Solicited(id),
        (None, true) => ExpectedRequest::Unsolicited,
        (None, false) => ExpectedRequest::NotChecked,
    };
    validate_xml(&p.xml, &p.policy, &p.sp, expected, p.now)
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
