//! A gateway state on the memory store, filled with signed-in sessions through the code a login
//! and the first request after it run: the session layer's store (`Sessions::establish`), the
//! single-logout index (as the ACS indexes a login) and the session cache (`Sessions::identity_of`
//! on the first request). Shared by `benches/sessions.rs` and `examples/session_memory.rs`, each
//! of which uses a part.
#![allow(dead_code)]

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use samlgate::crypto::keygen::{generate_sp_credentials, self_signed_certificate};
use samlgate::gateway::{AppState, Clock};
use samlgate::identity::Operator;
use samlgate::saml::metadata::write_idp_metadata;
use samlgate::session::{AnySessionStore, CacheLookup, SessionRecord};
use samlgate::store::SessionIndexKey;
use time::{Duration, OffsetDateTime};
use tower_sessions::Session;
use tower_sessions::session::Id;

const IDP: &str = "https://idp.corp.example.com/adfs/services/trust";
const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
const ACCESS_GROUPS: [&str; 4] = [
    "MyOrg:Staff",
    "MyOrg:Administrators",
    "MyOrg:RestrictedReadOnly",
    "MyOrg:Contractors",
];
const DEPARTMENTS: [&str; 10] = [
    "Engineering",
    "Sales-EMEA",
    "Finance",
    "HumanResources",
    "Platform-Operations",
    "Legal",
    "Marketing",
    "CustomerSupport",
    "Research",
    "Procurement",
];

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The state of a gateway on the memory store, with time frozen at `now` so that no session is
/// due for its touch (or expires) while it is measured. Keep the directory while the state lives.
pub fn state(now: OffsetDateTime) -> Result<(Arc<AppState>, tempfile::TempDir), String> {
    let dir = tempfile::tempdir().map_err(err)?;
    let (sp_key, sp_cert) = generate_sp_credentials("bench SP", 2).map_err(err)?;
    let idp_key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).map_err(err)?)
        .map_err(err)?;
    let idp_cert = self_signed_certificate(&idp_key, "bench IdP", 2).map_err(err)?;
    let metadata = write_idp_metadata(IDP, &idp_cert, "https://idp.corp.example.com/sso", false)
        .map_err(err)?;
    let mapping = "[operator]\nid = \"NameID\"\n\n[attributes]\nemail = \"mail\"\nname = \"displayName\"\n\n[access]\ngroups = [\"groups\"]\ndefault = \"MyOrg:RestrictedReadOnly\"\n";
    let config = "[server]\nlisten = \"127.0.0.1:8080\"\npublic_url = \"http://127.0.0.1:8080\"\n\n[sp]\nentity_id = \"http://127.0.0.1:8080/saml/metadata\"\nkey = \"sp.key\"\ncert = \"sp.crt\"\n\n[[idp]]\nname = \"corp\"\nmetadata = \"idp.xml\"\nmapping = \"mapping.toml\"\n\n[session]\nstore = \"memory\"\n\n[backend]\nurl = \"http://127.0.0.1:9000\"\n";
    for (name, text) in [
        ("sp.key", sp_key.as_str()),
        ("sp.crt", sp_cert.as_str()),
        ("idp.xml", metadata.as_str()),
        ("mapping.toml", mapping),
        ("samlgate.toml", config),
    ] {
        std::fs::write(dir.path().join(name), text).map_err(err)?;
    }
    let loaded = samlgate::config::load(&dir.path().join("samlgate.toml")).map_err(err)?;
    let clock: Clock = Arc::new(move || now);
    let state = AppState::new(loaded.config, clock).map_err(err)?;
    Ok((Arc::new(state), dir))
}

/// Group names as a directory has them: a few hundred, 20-40 characters.
pub fn group_pool() -> Vec<String> {
    let mut pool = Vec::new();
    for (d, dept) in DEPARTMENTS.iter().enumerate() {
        for team in 0..20 {
            pool.push(format!("GRP-{dept}-Team{team:02}-Members-{d}"));
        }
    }
    pool
}

/// The session of operator `i`: a persistent NameID, an email, a display name, 5-10 groups
/// from `pool`, one of a few access groups, the IdP's SessionIndex.
pub fn record(i: u64, pool: &[String], rng: &mut StdRng, now: OffsetDateTime) -> SessionRecord {
    let user = format!("op-{i:010}-{:012x}", rng.random::<u64>() >> 16);
    let n_groups = rng.random_range(5..=10);
    let groups = pool
        .choose_multiple(rng, n_groups)
        .cloned()
        .collect::<Vec<_>>();
    let access_group = ACCESS_GROUPS
        .choose(rng)
        .map_or("MyOrg:Staff", |g| g)
        .to_string();
    SessionRecord {
        identity: Operator {
            preferred_username: Some(user.clone().into()),
            email: Some(format!("firstname.lastname{i}@corp.example.com").into()),
            name: Some(format!("Firstname Lastname {i}").into()),
            access_group,
            groups: groups.into_iter().collect(),
            extra: Vec::new(),
            user: user.clone().into(),
        },
        idp: "corp".into(),
        idp_entity_id: IDP.into(),
        name_id: user,
        session_index: Some(format!("_{:032x}", rng.random::<u128>())),
        name_id_details: None,
        created: now,
        last_seen: now,
        not_after: now + Duration::hours(8),
        details: None,
    }
}

/// Whether a signed-in session also makes its first request (which decodes and caches it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstRequest {
    Make,
    Skip,
}

/// Sign `record` in as a login does, then make the first request (which caches it) unless told
/// not to; returns the new session's ID.
pub async fn sign_in(
    state: &AppState,
    store: &Arc<AnySessionStore>,
    record: &SessionRecord,
    first_request: FirstRequest,
) -> Result<Id, String> {
    let now = state.now();
    let login = Session::new(None, Arc::clone(store), None);
    state
        .sessions
        .establish(&login, record)
        .await
        .map_err(err)?;
    let id = login.id().ok_or("the new session has no ID")?;
    let key = SessionIndexKey {
        idp_entity_id: record.idp_entity_id.clone(),
        name_id: record.name_id.clone(),
        name_id_format: Some(PERSISTENT.to_string()),
        name_qualifier: None,
        sp_name_qualifier: None,
        session_index: record.session_index.clone(),
    };
    state
        .session_index
        .add(&key, &id.to_string(), record.not_after, now)
        .await
        .map_err(err)?;
    if first_request == FirstRequest::Skip {
        return Ok(id);
    }
    let first = Session::new(Some(id), Arc::clone(store), None);
    match state
        .sessions
        .identity_of(&first, CacheLookup::Consult)
        .await
    {
        Ok(Some(_)) => Ok(id),
        Ok(None) => Err("the new session was not found".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// A seeded generator, so every run signs in the same identities.
pub fn rng() -> StdRng {
    StdRng::seed_from_u64(14)
}

/// Sign in `count` sessions; returns their IDs in sign-in order.
pub async fn fill(
    state: &AppState,
    store: &Arc<AnySessionStore>,
    count: u64,
    first_request: FirstRequest,
) -> Result<Vec<Id>, String> {
    let pool = group_pool();
    let mut rng = rng();
    let now = state.now();
    let mut ids = Vec::with_capacity(usize::try_from(count).map_err(err)?);
    for i in 0..count {
        let record = record(i, &pool, &mut rng, now);
        ids.push(sign_in(state, store, &record, first_request).await?);
    }
    Ok(ids)
}

/// Shuffle `ids` so consecutive lookups touch unrelated sessions, as real traffic does.
pub fn shuffled(mut ids: Vec<Id>) -> Vec<Id> {
    rand::seq::SliceRandom::shuffle(ids.as_mut_slice(), &mut rng());
    ids
}

/// [`shuffled`] for plain keys.
pub fn shuffled_keys(mut keys: Vec<u128>) -> Vec<u128> {
    rand::seq::SliceRandom::shuffle(keys.as_mut_slice(), &mut rng());
    keys
}

/// Resident and peak memory of this process in bytes (`VmRSS`, `VmHWM` from `/proc/self/status`).
pub fn memory() -> Result<(u64, u64), String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(err)?;
    let field = |name: &str| -> Result<u64, String> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .ok_or_else(|| format!("no {name} in /proc/self/status"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}
