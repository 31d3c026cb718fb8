//! What `samlgate check` says of each IdP's metadata: the source, the signature status,
//! validUntil, the signing keys and their expiry. URL sources are fetched and checked now,
//! exactly as the running gateway would (`gateway::idp_sources::refresh::fetch_and_check`).

use crate::config::{Config, Idp, IdpMetadataInUse, MetadataSource};
use crate::gateway::idp_sources::fetch::{self, Validators};
use crate::gateway::idp_sources::refresh::fetch_and_check;
use crate::saml::key_set::key_facts;
use crate::saml::time::format_instant;

/// Print the report; `false` when an IdP would have no usable metadata (not ready at start).
pub fn report(config: &Config) -> bool {
    let any_url = config
        .idps
        .iter()
        .any(|i| matches!(i.source, MetadataSource::Url(_)));
    if !any_url {
        for idp in &config.idps {
            report_file(idp);
        }
        return true;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start a runtime to fetch metadata: {e}");
            return false;
        }
    };
    let mut all_ready = true;
    for idp in &config.idps {
        all_ready &= runtime.block_on(report_one(idp));
    }
    all_ready
}

async fn report_one(idp: &Idp) -> bool {
    let now = time::OffsetDateTime::now_utc();
    match &idp.source {
        MetadataSource::File => {
            report_file(idp);
            true
        }
        MetadataSource::Url(source) => {
            println!(
                "idp {}: metadata_url {} (refresh every {} s, last-known-good copy {})",
                idp.name,
                source.url,
                source.refresh.as_secs(),
                source.cache_file.display()
            );
            let fetched = match fetch::client() {
                Ok(client) => fetch_and_check(&client, source, &Validators::default(), now)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match fetched {
                Ok((Some((m, _, _)), _)) => {
                    println!("  fetched now:");
                    describe(&m);
                    true
                }
                Ok((None, _)) => {
                    println!("  fetched now: not modified");
                    true
                }
                Err(e) => match &idp.metadata {
                    Some(m) => {
                        eprintln!(
                            "warning: idp {}: {e}; the gateway would start on its copy from {}",
                            idp.name, m.origin
                        );
                        describe(m);
                        true
                    }
                    None => {
                        eprintln!(
                            "error: idp {}: {e}; with no cached copy either, logins for it would be refused until a fetch succeeds",
                            idp.name
                        );
                        false
                    }
                },
            }
        }
    }
}

fn report_file(idp: &Idp) {
    println!(
        "idp {}: metadata file {}",
        idp.name,
        idp.metadata_file.display()
    );
    match &idp.metadata {
        Some(m) => describe(m),
        None => println!("  no metadata"),
    }
}

fn describe(m: &IdpMetadataInUse) {
    println!("  entityID {} from {}", m.entity_id, m.origin);
    println!("  {}", m.signature);
    println!(
        "  validUntil {}",
        m.valid_until
            .map(format_instant)
            .unwrap_or_else(|| "not given".into())
    );
    for key in key_facts(&m.signing_keys) {
        println!("  signing key {key}");
    }
}
