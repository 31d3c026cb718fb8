//! `samlgate verify --token FILE`: run the bearer-token checks on one access token, outside
//! the gateway, fetching the issuer's keys as the gateway would.
//!
//! The issuer comes from `--config` (the `[[oauth]]` table whose `issuer` is the token's `iss`,
//! whose mapping then also runs) or from `--oauth-issuer` with `--audience` (keys by
//! discovery, or `--jwks-uri`). Exit 0 with JSON on stdout when the token is accepted; exit 1
//! with the failed check and the values compared on stderr (`rejected [expired]: ...`); exit 2
//! for usage errors.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use url::Url;

use crate::config::{JwksSource, OAuthIssuer};
use crate::crypto::jws::ALL_JWS_ALGORITHMS;
use crate::identity::headers::HeaderContract;
use crate::mapping::{MappingTable, evaluate};
use crate::oauth::claims::to_mapping_claims;
use crate::oauth::fetch::fetchable;
use crate::oauth::{Bearer, BearerError};
use crate::ops::Metrics;

#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// Check this OAuth access token (a file holding the JWT) instead of a SAML Response.
    #[arg(long, value_name = "FILE")]
    pub token: Option<PathBuf>,
    /// The gateway's configuration (verify's own `--config`): its [[oauth]] issuers (and their
    /// mapping tables).
    #[arg(skip)]
    pub config: Option<PathBuf>,
    /// The issuer the token must come from (exactly its `iss`).
    #[arg(
        long,
        value_name = "URL",
        requires = "token",
        conflicts_with = "config"
    )]
    pub oauth_issuer: Option<String>,
    /// An audience the token's `aud` must contain (repeat for several).
    #[arg(long = "audience", value_name = "AUD", requires = "oauth_issuer")]
    pub audiences: Vec<String>,
    /// The issuer's key set; without it, found through the issuer's discovery document.
    #[arg(long, value_name = "URL", requires = "oauth_issuer")]
    pub jwks_uri: Option<String>,
    /// Require the header `typ` at+jwt (RFC 9068).
    #[arg(long, requires = "oauth_issuer")]
    pub require_at_jwt: bool,
    /// A scope the token must grant (repeat for several).
    #[arg(long = "scope", value_name = "SCOPE", requires = "token")]
    pub scopes: Vec<String>,
}

struct Usage(String);

/// Run the checks; `now` and `clock_skew` are `verify`'s own flags.
pub fn run(args: &TokenArgs, now: Option<&str>, clock_skew: Option<i64>) -> ExitCode {
    match prepare(args, now, clock_skew) {
        Err(Usage(message)) => {
            eprintln!("samlgate verify: {message}");
            ExitCode::from(2)
        }
        Ok((token, issuers, now, with_mapping)) => {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("samlgate verify: cannot start the runtime: {e}");
                    return ExitCode::from(2);
                }
            };
            runtime.block_on(check(&token, &issuers, now, with_mapping, &args.scopes))
        }
    }
}

fn prepare(
    args: &TokenArgs,
    now: Option<&str>,
    clock_skew: Option<i64>,
) -> Result<(String, Vec<OAuthIssuer>, OffsetDateTime, bool), Usage> {
    let Some(path) = &args.token else {
        return Err(Usage("--token FILE is required".into()));
    };
    let token = std::fs::read_to_string(path)
        .map_err(|e| Usage(format!("cannot read the token {}: {e}", path.display())))?
        .trim()
        .to_owned();
    let now = match now {
        Some(t) => OffsetDateTime::parse(t, &Rfc3339)
            .map_err(|e| Usage(format!("--now {t:?} is not an RFC 3339 time: {e}")))?,
        None => OffsetDateTime::now_utc(),
    };
    let skew = match clock_skew {
        Some(secs) if !(0..=300).contains(&secs) => {
            return Err(Usage(format!(
                "--clock-skew {secs} is outside 0..=300 seconds"
            )));
        }
        Some(secs) => Some(time::Duration::seconds(secs)),
        None => None,
    };
    if let Some(config) = &args.config {
        let loaded = crate::config::load(config).map_err(|e| Usage(e.to_string()))?;
        let mut issuers = loaded.config.oauth;
        if issuers.is_empty() {
            return Err(Usage(format!(
                "{} has no [[oauth]] issuer",
                config.display()
            )));
        }
        if let Some(skew) = skew {
            issuers.iter_mut().for_each(|i| i.clock_skew = skew);
        }
        return Ok((token, issuers, now, true));
    }
    let Some(issuer) = &args.oauth_issuer else {
        return Err(Usage(
            "--token needs --config FILE, or --oauth-issuer URL with --audience".into(),
        ));
    };
    if args.audiences.is_empty() {
        return Err(Usage("--oauth-issuer needs at least one --audience".into()));
    }
    let url = |text: &str, flag: &str| -> Result<Url, Usage> {
        let url = Url::parse(text).map_err(|e| Usage(format!("{flag} {text:?}: {e}")))?;
        if fetchable(&url) {
            Ok(url)
        } else {
            Err(Usage(format!(
                "{flag} {text:?} must be https (plain http only to a loopback address)"
            )))
        }
    };
    let keys = match &args.jwks_uri {
        Some(uri) => JwksSource::Uri(url(uri, "--jwks-uri")?),
        None => JwksSource::Discovery(url(
            &format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            ),
            "--oauth-issuer",
        )?),
    };
    let mapping = MappingTable::from_toml("[access]\ndefault = \"-\"\n", "(none)")
        .map_err(|e| Usage(e.to_string()))?;
    Ok((
        token,
        vec![OAuthIssuer {
            name: "cli".into(),
            issuer: issuer.clone(),
            audiences: args.audiences.clone(),
            keys,
            algorithms: ALL_JWS_ALGORITHMS.to_vec(),
            require_at_jwt: args.require_at_jwt,
            clock_skew: skew.unwrap_or(crate::saml::policy::DEFAULT_CLOCK_SKEW),
            jwks_refresh: time::Duration::hours(1),
            mapping,
            introspection: None,
        }],
        now,
        false,
    ))
}

async fn check(
    token: &str,
    issuers: &[OAuthIssuer],
    now: OffsetDateTime,
    with_mapping: bool,
    scopes: &[String],
) -> ExitCode {
    let bearer = match Bearer::new(issuers, HeaderContract::default(), Arc::new(Metrics::new())) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("samlgate verify: {e}");
            return ExitCode::from(2);
        }
    };
    let (verified, issuer) = match bearer.verify(token, now).await {
        Ok(v) => v,
        Err((BearerError::Token(rejection), _)) => {
            eprintln!("rejected [{}]: {rejection}", rejection.kind());
            return ExitCode::from(1);
        }
        Err((e, _)) => {
            eprintln!("samlgate verify: {e}");
            return ExitCode::from(2);
        }
    };
    let missing: Vec<&String> = scopes
        .iter()
        .filter(|s| !verified.scopes.contains(s))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "rejected [scope]: the token grants {:?}; missing {missing:?}",
            verified.scopes
        );
        return ExitCode::from(1);
    }
    let mut out = serde_json::json!({
        "issuer": verified.issuer,
        "subject": verified.subject,
        "scopes": verified.scopes,
        "expires_at": verified.expires_at,
        "claims": verified.claims,
    });
    if with_mapping {
        let claims = to_mapping_claims(&verified.issuer, &verified.subject, &verified.claims);
        match evaluate(&issuer.mapping, &claims) {
            Ok(mapped) => {
                out["operator"] = serde_json::json!({
                    "id": mapped.operator.id,
                    "access_group": mapped.operator.access_group,
                    "groups": mapped.operator.groups,
                    "matched_rule": mapped.matched_rule.to_string(),
                });
            }
            Err(refusal) => {
                eprintln!("rejected [mapping]: {refusal}");
                return ExitCode::from(1);
            }
        }
    }
    match serde_json::to_string_pretty(&out) {
        Ok(json) => println!("{json}"),
        Err(e) => eprintln!("samlgate verify: cannot print the result: {e}"),
    }
    ExitCode::SUCCESS
}
