//! A valid session decoded once, as the gate needs it: the identity, its encoded headers and the
//! facts of its record. The cache and the memory store both hold sessions in this form.

use std::sync::Arc;

use serde::Serialize;
use time::Duration;
use tower_sessions::session::Id;

use super::record::{self, LoginDetails, NameIdDetails, RECORD_KEY, SessionRecord};
use crate::identity::Operator;
use crate::identity::headers::{HeaderContract, IdentityHeaders};
use crate::identity::operator::IdentityView;
use crate::identity::shared_text::{Text, TextBuilder, intern};
use crate::identity::token_cache::TokenCache;
use crate::store::expiring_map::Key;

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// The session store's key for a session ID.
pub(crate) fn key_of(id: &Id) -> Key {
    let bits = id.0 as u128;
    [bits as u64, (bits >> 64) as u64]
}

/// A valid session as the gate needs it.
///
/// It holds the whole session record, so that the memory store can keep it in place of the
/// record (see the module documentation). Its strings share one buffer with the values of its
/// identity headers.
///
/// The times come first (`repr(C)` keeps them there): a lookup reads them and the reference
/// count right before them, and with a million sessions each line it reads is a miss.
#[derive(Debug)]
#[repr(C)]
pub struct SignedIn {
    /// Whole seconds, as the record stores them.
    times: LoginTimes,
    pub identity: Operator,
    /// The identity headers, encoded by the header contract once per session.
    pub headers: IdentityHeaders,
    record: RecordFacts,
    /// The identity token, signed once and reused until due for refresh (`[identity_token]`).
    pub token: TokenCache,
}

/// The rest of the session record.
#[derive(Debug)]
struct RecordFacts {
    idp: Arc<String>,
    idp_entity_id: Arc<String>,
    name_id: Text,
    session_index: Option<Text>,
    details: Option<Arc<LoginDetails>>,
    name_id_details: Option<Box<NameIdDetails>>,
}

/// The instants of a login record, in Unix seconds: they tell which write of a session a
/// decoded copy was made from (a session ID holds one identity for its whole life: a login
/// always takes a new ID).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LoginTimes {
    pub created: i64,
    pub last_seen: i64,
    pub not_after: i64,
}

impl LoginTimes {
    /// The times of a record as the session layer stores it (`{RECORD_KEY: SessionRecord}`).
    pub fn of_record_value(record: &serde_json::Value) -> Option<Self> {
        Some(LoginTimes {
            created: record.get("created")?.as_i64()?,
            last_seen: record.get("last_seen")?.as_i64()?,
            not_after: record.get("not_after")?.as_i64()?,
        })
    }

    /// Is `later` the same login, as it was then or after its idle-timeout touch?
    pub fn same_login_no_newer_than(&self, later: &LoginTimes) -> bool {
        self.created == later.created
            && self.not_after == later.not_after
            && self.last_seen <= later.last_seen
    }
}

/// The record as `SessionRecord` serializes it, borrowed from a [`SignedIn`]: field for field the
/// same names and forms (a test holds the two together).
#[derive(Serialize)]
struct RecordView<'a> {
    identity: &'a Operator,
    idp: &'a str,
    idp_entity_id: &'a str,
    name_id: &'a str,
    session_index: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name_id_details: Option<&'a NameIdDetails>,
    created: i64,
    last_seen: i64,
    not_after: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a LoginDetails>,
}

impl SignedIn {
    pub fn new(record: &SessionRecord, contract: &HeaderContract) -> Self {
        let id = &record.identity;
        // The identity's own strings first: a header value equal to one (a plain value) is then
        // found there rather than stored again.
        let mut text = TextBuilder::new();
        let mut put = |s: &str| text.put(s);
        let user = put(&id.user);
        let email = id.email.as_deref().map(&mut put);
        let preferred_username = id.preferred_username.as_deref().map(&mut put);
        let name = id.name.as_deref().map(&mut put);
        let name_id = put(&record.name_id);
        let session_index = record.session_index.as_deref().map(&mut put);
        let view = IdentityView {
            user: &id.user,
            email: id.email.as_deref(),
            preferred_username: id.preferred_username.as_deref(),
            groups: id.groups.iter().map(|g| g.as_str()).collect(),
            access_group: &id.access_group,
            name: id.name.as_deref(),
            extra: &id.extra,
        };
        let plan = IdentityHeaders::plan(contract, &view, &mut text);
        let buffer = text.finish();
        let slice = |piece: Option<_>, whole: &str| match piece {
            Some(piece) => TextBuilder::text(&buffer, &piece),
            // Only a string over 4 GiB has no piece; keep it on its own.
            None => Text::from(whole),
        };
        let optional = |piece: Option<Option<_>>, whole: &Option<Text>| {
            whole.as_deref().map(|w| slice(piece.flatten(), w))
        };
        SignedIn {
            times: LoginTimes {
                created: record.created.unix_timestamp(),
                last_seen: record.last_seen.unix_timestamp(),
                not_after: record.not_after.unix_timestamp(),
            },
            identity: Operator {
                user: slice(user, &id.user),
                email: optional(email, &id.email),
                preferred_username: optional(preferred_username, &id.preferred_username),
                name: optional(name, &id.name),
                access_group: id.access_group.clone(),
                groups: id.groups.clone(),
                extra: id.extra.clone(),
            },
            headers: IdentityHeaders::from_plan(contract, plan, &buffer),
            record: RecordFacts {
                idp: intern(&record.idp),
                idp_entity_id: intern(&record.idp_entity_id),
                name_id: slice(name_id, &record.name_id),
                session_index: record
                    .session_index
                    .as_deref()
                    .map(|w| slice(session_index.flatten(), w)),
                details: record.details.as_deref().cloned().map(Arc::new),
                name_id_details: record.name_id_details.clone().map(Box::new),
            },
            token: TokenCache::default(),
        }
    }

    /// The entity ID of the IdP the session was signed in by.
    pub fn idp_entity_id(&self) -> &str {
        &self.record.idp_entity_id
    }

    /// When the session ends at the latest (Unix seconds): the absolute timeout or the IdP's bound.
    pub fn not_after(&self) -> i64 {
        self.times.not_after
    }

    pub(crate) fn times(&self) -> LoginTimes {
        self.times
    }

    /// The IdP's configured name and entityID.
    pub fn idp(&self) -> (&str, &str) {
        (&self.record.idp, &self.record.idp_entity_id)
    }

    pub fn name_id(&self) -> &str {
        &self.record.name_id
    }

    /// Login, last request and end of the session (the idle timeout aside), Unix seconds.
    pub fn instants(&self) -> (i64, i64, i64) {
        (
            self.times.created,
            self.times.last_seen,
            self.times.not_after,
        )
    }

    /// What the session page shows beyond the identity (with `[server] session_page` only).
    pub fn details(&self) -> Option<&LoginDetails> {
        self.record.details.as_deref()
    }

    /// The session record, as the session layer stores it under its key.
    pub(crate) fn record_data(
        &self,
    ) -> Result<std::collections::HashMap<String, serde_json::Value>, serde_json::Error> {
        let view = RecordView {
            identity: &self.identity,
            idp: &self.record.idp,
            idp_entity_id: &self.record.idp_entity_id,
            name_id: &self.record.name_id,
            session_index: self.record.session_index.as_deref(),
            name_id_details: self.record.name_id_details.as_deref(),
            created: self.times.created,
            last_seen: self.times.last_seen,
            not_after: self.times.not_after,
            details: self.record.details.as_deref(),
        };
        Ok(std::collections::HashMap::from([(
            RECORD_KEY.to_string(),
            serde_json::to_value(view)?,
        )]))
    }

    /// Still valid at `now` (Unix nanoseconds), and not yet due for the idle-timeout touch
    /// (which only the store path performs). The same decision as `record::check_times`, on
    /// integers.
    pub(crate) fn fresh_at(&self, now: i128, idle_timeout: Duration) -> bool {
        now < self.usable_until(idle_timeout)
    }

    /// The instant (Unix nanoseconds) from which this copy is no longer served: the session's
    /// end, its idle timeout, or its touch, whichever is first.
    pub(crate) fn usable_until(&self, idle_timeout: Duration) -> i128 {
        let seconds = |s: i64| i128::from(s) * NANOS_PER_SECOND;
        let idle = idle_timeout
            .whole_nanoseconds()
            .min(record::TOUCH_INTERVAL.whole_nanoseconds());
        seconds(self.times.not_after).min(seconds(self.times.last_seen) + idle)
    }
}
