//! `samlgate mapping test`: shows the operator a login would become and which rule decided,
//! without an IdP. Exit status: 0 mapped, 1 refused by the table, 2 bad input or bad table.

use std::fmt::{self, Write as _};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};

use time::OffsetDateTime;

use crate::crypto::keys::DecryptionKey;
use crate::identity::headers::{HeaderContract, IdentityHeaders};
use crate::mapping::{Mapped, MappingLoadError, MappingRefusal, MappingTable, apply, evaluate};
use crate::saml::assertion::{Claims, NameId, SamlAttribute, VerifiedAssertion};
use crate::saml::metadata::parse_idp_metadata;
use crate::saml::policy::{ExpectedRequest, IdpPolicy, SpIdentity};
use crate::saml::rejection::Rejection;
use crate::saml::response::{decode_post_binding, validate_xml};
use crate::saml::time::parse_instant;

const AFTER_HELP: &str = "\
--attributes takes JSON inline (when it starts with '{'), '-' for standard input, or a file path:

  {
    \"name_id\": \"jose@example.com\",
    \"idp\": \"https://idp.example.com/metadata\",
    \"attributes\": {
      \"mail\": [\"jose@example.com\"],
      \"displayName\": \"José Müller\",
      \"http://schemas.microsoft.com/ws/2008/06/identity/claims/groups\": [\"Admins\", \"Staff\"]
    }
  }

name_id is required; idp defaults to \"mapping-test\"; name_id_format is optional. Each attribute
holds a list of strings (or one string). Attribute names are written as the IdP sends them: a
friendly name, a urn:oid: name or a claim URI.

--response runs the whole ACS pipeline first (signature, conditions at --now, audience
--sp-entity-id, destination --acs-url; InResponseTo is not compared), then maps the verified
assertion exactly as the gateway would.

Exit status: 0 the login maps to an operator, 1 the table or the ACS pipeline refuses it,
2 bad input or bad table.";

/// Arguments of `samlgate mapping test`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct MappingTestArgs {
    /// The mapping table (TOML) to test.
    #[arg(long, value_name = "FILE")]
    pub mapping: PathBuf,
    /// The login's NameID and attributes as JSON: inline, '-' for stdin, or a file (see --help).
    #[arg(
        long,
        value_name = "JSON",
        conflicts_with = "response",
        required_unless_present = "response"
    )]
    pub attributes: Option<String>,
    /// A SAML Response to verify with the full ACS pipeline and then map: the base64
    /// SAMLResponse form value or the XML (auto-detected). InResponseTo is not compared.
    #[arg(
        long,
        value_name = "FILE",
        requires_all = ["idp_metadata", "sp_entity_id", "acs_url"]
    )]
    pub response: Option<PathBuf>,
    /// The IdP's metadata, for verifying --response.
    #[arg(long, value_name = "FILE")]
    pub idp_metadata: Option<PathBuf>,
    /// Pick this IdP out of an aggregate metadata file (--response).
    #[arg(long, value_name = "ENTITY_ID")]
    pub idp_entity_id: Option<String>,
    /// Our SP entityID, the Audience the Response must name (--response).
    #[arg(long, value_name = "ID")]
    pub sp_entity_id: Option<String>,
    /// Our ACS URL, the Destination and Recipient the Response must name (--response).
    #[arg(long, value_name = "URL")]
    pub acs_url: Option<String>,
    /// SP private key (PEM) to decrypt an EncryptedAssertion with; repeat for rollover.
    #[arg(long = "sp-key", value_name = "FILE")]
    pub sp_keys: Vec<PathBuf>,
    /// The time to verify --response at (RFC 3339, e.g. 2026-11-22T09:14:52Z); default: now.
    #[arg(long, value_name = "T")]
    pub now: Option<String>,
    /// Print the outcome as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Why `mapping test` could not produce an outcome (exit status 2).
#[derive(Debug, thiserror::Error)]
enum TestInputError {
    #[error(transparent)]
    Table(#[from] MappingLoadError),
    #[error("--attributes: cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("--attributes: not the expected JSON ({0}); see `samlgate mapping test --help`")]
    Json(#[from] serde_json::Error),
    #[error("--response: {0}")]
    Response(String),
    /// The ACS pipeline refused the Response (exit status 1, like `samlgate verify`).
    #[error("the Response is refused [{kind}]: {rejection}", kind = .0.kind(), rejection = .0)]
    Rejected(Rejection),
}

/// Runs `samlgate mapping test`.
pub fn run(args: MappingTestArgs) -> ExitCode {
    match outcome(&args) {
        Err(e @ TestInputError::Rejected(_)) => {
            eprintln!("samlgate mapping test: {e}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("samlgate mapping test: {e}");
            ExitCode::from(2)
        }
        Ok((claims, result)) => {
            let refused = result.is_err();
            if args.json {
                println!("{}", render_json(&claims, &result));
            } else {
                print!("{}", render_text(&claims, &result));
            }
            if refused {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

fn outcome(
    args: &MappingTestArgs,
) -> Result<(Claims, Result<Mapped, MappingRefusal>), TestInputError> {
    let table = MappingTable::load(&args.mapping)?;
    for warning in table.warnings() {
        eprintln!("warning: {warning}");
    }
    match (&args.attributes, &args.response) {
        (Some(attributes), _) => {
            let claims = claims_from_json(&read_attributes(attributes)?)?;
            let result = evaluate(&table, &claims);
            Ok((claims, result))
        }
        (None, Some(response)) => {
            let verified = verify_response(args, response)?;
            let result = apply(&table, &verified);
            Ok((verified.claims, result))
        }
        (None, None) => Err(TestInputError::Response(
            "give --attributes or --response".to_owned(),
        )),
    }
}

/// Runs the gateway's ACS pipeline on the Response, so the claims mapped are exactly those a
/// login would map. InResponseTo is not compared (there is no AuthnRequest here); every other
/// check runs.
fn verify_response(
    args: &MappingTestArgs,
    response: &Path,
) -> Result<VerifiedAssertion, TestInputError> {
    let usage = TestInputError::Response;
    let read = |path: &Path, what: &str| {
        std::fs::read(path)
            .map_err(|e| usage(format!("cannot read {what} {}: {e}", path.display())))
    };
    let (Some(metadata_path), Some(sp_entity_id), Some(acs_url)) =
        (&args.idp_metadata, &args.sp_entity_id, &args.acs_url)
    else {
        return Err(usage(
            "needs --idp-metadata, --sp-entity-id and --acs-url".to_owned(),
        ));
    };
    let metadata = read(metadata_path, "IdP metadata")?;
    let idp = parse_idp_metadata(
        &metadata,
        &metadata_path.display().to_string(),
        args.idp_entity_id.as_deref(),
    )
    .map_err(|e| usage(e.to_string()))?;
    let policy = IdpPolicy::new(idp.entity_id, idp.signing_keys);
    let mut decryption_keys = Vec::new();
    for path in &args.sp_keys {
        let pem = read(path, "SP key")?;
        let key = DecryptionKey::from_pem(&pem, &path.display().to_string())
            .map_err(|e| usage(format!("SP key {}: {e}", path.display())))?;
        decryption_keys.push(key);
    }
    let sp = SpIdentity {
        entity_id: sp_entity_id.clone(),
        acs_url: acs_url.clone(),
        decryption_keys,
    };
    let now = match &args.now {
        Some(t) => parse_instant(t).ok_or_else(|| {
            usage(format!(
                "--now {t:?} is not an RFC 3339 / xs:dateTime instant"
            ))
        })?,
        None => OffsetDateTime::now_utc(),
    };
    let raw = read(response, "Response")?;
    let xml = if crate::text::xml_sniff::looks_like_xml(&raw) {
        raw.clone()
    } else {
        decode_post_binding(&raw).map_err(TestInputError::Rejected)?
    };
    validate_xml(&xml, &policy, &sp, ExpectedRequest::NotChecked, now)
        .map_err(TestInputError::Rejected)
}

fn read_attributes(arg: &str) -> Result<String, TestInputError> {
    if arg.trim_start().starts_with('{') {
        return Ok(arg.to_owned());
    }
    let read_err = |source| TestInputError::Read {
        path: arg.to_owned(),
        source,
    };
    if arg == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(read_err)?;
        return Ok(s);
    }
    std::fs::read_to_string(arg).map_err(read_err)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttributesInput {
    name_id: String,
    #[serde(default)]
    name_id_format: Option<String>,
    #[serde(default)]
    idp: Option<String>,
    #[serde(default)]
    attributes: OrderedAttributes,
}

/// Attributes in the order written (a JSON object read into a list, not a sorted map: the
/// order decides which attribute's value comes first, as in an assertion).
#[derive(Default)]
struct OrderedAttributes(Vec<(String, Vec<String>)>);

impl<'de> Deserialize<'de> for OrderedAttributes {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedAttributes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of attribute name -> list of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Values>()? {
                    out.push((k, v.0));
                }
                Ok(OrderedAttributes(out))
            }
        }
        d.deserialize_map(V)
    }
}

struct Values(Vec<String>);

impl<'de> Deserialize<'de> for Values {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Values;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Values, E> {
                Ok(Values(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Values, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<String>()? {
                    out.push(v);
                }
                Ok(Values(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Claims from the `--attributes` JSON (public for tests and for `samlgate explain`).
pub fn claims_from_json(json: &str) -> Result<Claims, serde_json::Error> {
    let input: AttributesInput = serde_json::from_str(json)?;
    Ok(Claims {
        idp_entity_id: input.idp.unwrap_or_else(|| "mapping-test".to_owned()),
        name_id: NameId {
            value: input.name_id,
            format: input.name_id_format,
            name_qualifier: None,
            sp_name_qualifier: None,
        },
        attributes: input
            .attributes
            .0
            .into_iter()
            .map(|(name, values)| SamlAttribute {
                name,
                name_format: None,
                friendly_name: None,
                values,
            })
            .collect(),
    })
}

/// A value as the report shows it: in double quotes (JSON escapes), so that a comma, a space
/// or an empty value inside it shows.
fn quoted(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| format!("{value:?}"))
}

/// The text report: one `label: value` per line, values quoted, then the identity headers the
/// backend would get (the default header names; `[headers]` in the gateway may rename them).
pub fn render_text(claims: &Claims, result: &Result<Mapped, MappingRefusal>) -> String {
    let mut out = String::new();
    // infallible: writing to a String cannot fail.
    let mut line = |label: &str, value: &str| {
        let _ = writeln!(out, "{label:<15}{value}");
    };
    match result {
        Err(refusal) => {
            line("outcome:", "REFUSED");
            line("reason:", &refusal.to_string());
            line("idp:", &quoted(&claims.idp_entity_id));
            line("name_id:", &quoted(&claims.name_id.value));
        }
        Ok(m) => {
            let op = &m.operator;
            let none = "(none)".to_string();
            let optional = |v: &Option<String>| v.as_deref().map_or_else(|| none.clone(), quoted);
            line("outcome:", "mapped");
            line("operator:", &quoted(&op.id));
            line("access group:", &quoted(&op.access_group));
            line("matched:", &m.matched_rule.to_string());
            if m.overage {
                line(
                    "overage:",
                    "yes: Entra ID sent groups.link instead of the groups; rules were skipped",
                );
            }
            line("idp:", &quoted(&op.idp));
            line("name_id:", &quoted(&op.name_id));
            line("email:", &optional(&op.email));
            line("name:", &optional(&op.name));
            line("department:", &optional(&op.department));
            line(
                &format!("groups ({}):", op.groups.len()),
                &op.groups
                    .iter()
                    .map(|g| quoted(g))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            for (header, value) in &op.extra {
                line("header:", &format!("{header}: {}", quoted(value)));
            }
            let identity = m.clone().into_identity();
            let headers = IdentityHeaders::encode(&HeaderContract::default(), &identity);
            let _ = writeln!(out, "the backend gets (default header names):");
            for (name, value) in headers.iter() {
                let _ = writeln!(
                    out,
                    "  {name}: {}",
                    String::from_utf8_lossy(value.as_bytes())
                );
            }
        }
    }
    out
}

/// The JSON report: `{"outcome": "mapped", "mapped": {...}}` or
/// `{"outcome": "refused", "reason": "...", "kind": "...", "idp": ..., "name_id": ...}`.
pub fn render_json(claims: &Claims, result: &Result<Mapped, MappingRefusal>) -> String {
    let value = match result {
        Ok(m) => serde_json::json!({ "outcome": "mapped", "mapped": m }),
        Err(r) => serde_json::json!({
            "outcome": "refused",
            "kind": r.kind(),
            "reason": r.to_string(),
            "idp": claims.idp_entity_id,
            "name_id": claims.name_id.value,
        }),
    };
    value.to_string()
}

#[cfg(test)]
mod tests;
