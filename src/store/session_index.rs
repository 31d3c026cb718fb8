//! Which sessions an IdP login created: (IdP, NameID, SessionIndex) -> session IDs, for single
//! logout. An IdP's LogoutRequest names the NameID (with its Format and qualifiers, which are
//! part of its identity in SAML) and optionally SessionIndexes; without one it means every
//! session of that NameID, so each session is also indexed under the NameID-wide key.

use std::hash::{BuildHasher, RandomState};

use time::OffsetDateTime;
use tower_sessions::session::Id;

use super::expiring_map::{ExpiringMap, Key, SWEEP_PER_WRITE, unix_nanos};
use super::keys::{KeySpace, Kind};
use super::{BoxFuture, StoreError};

/// Everything that identifies one IdP login of one subject.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionIndexKey {
    pub idp_entity_id: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub name_qualifier: Option<String>,
    pub sp_name_qualifier: Option<String>,
    /// `None`: every session of this NameID at this IdP.
    pub session_index: Option<String>,
}

impl SessionIndexKey {
    /// The NameID-wide key this one also belongs to.
    pub fn all_sessions(&self) -> SessionIndexKey {
        SessionIndexKey {
            session_index: None,
            ..self.clone()
        }
    }

    /// The store key: every field, length-prefixed.
    pub fn store_key(&self, keys: &KeySpace) -> String {
        keys.key(
            Kind::SessionIndex,
            &[
                Some(&self.idp_entity_id),
                Some(&self.name_id),
                self.name_id_format.as_deref(),
                self.name_qualifier.as_deref(),
                self.sp_name_qualifier.as_deref(),
                self.session_index.as_deref(),
            ],
        )
    }

    /// The keys a new session is indexed under: its own, and the NameID-wide one.
    pub fn index_keys(&self) -> Vec<SessionIndexKey> {
        let mut keys = vec![self.clone()];
        if self.session_index.is_some() {
            keys.push(self.all_sessions());
        }
        keys
    }
}

pub trait SessionIndex: Send + Sync {
    /// Record that `session_id` belongs to `key` (and to its NameID-wide key) until `until`.
    fn add<'a>(
        &'a self,
        key: &'a SessionIndexKey,
        session_id: &'a str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Remove and return the unexpired session IDs under exactly `key`.
    fn take<'a>(
        &'a self,
        key: &'a SessionIndexKey,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Vec<String>, StoreError>>;
}

/// One node's session index.
///
/// It holds an entry per subject (IdP, NameID and its qualifiers) listing that subject's sessions
/// with their SessionIndex, rather than a set per key: a session is then held once, not under both
/// of its keys. A subject is known by a 128-bit keyed digest of its fields, and a SessionIndex by a
/// 64-bit one within its subject (keys drawn at random per process, so no one can make two
/// subjects collide on purpose; by chance they would after 2^64 subjects), so an entry's size does
/// not depend on how long the IdP's strings are. Expired sessions are dropped from a subject when it
/// is next touched, and subjects whose sessions all expired are swept a bounded amount per add
/// (`expiring_map`), so no operation walks the whole index.
pub struct MemorySessionIndex {
    subjects: ExpiringMap<Box<[Member]>>,
    digests: [RandomState; 2],
}

/// One session of a subject.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Member {
    session: SessionRef,
    /// Digest of its SessionIndex (of `None` for a login without one).
    session_index: u64,
    /// Unix nanoseconds.
    until: i64,
    /// Still to be returned by a take of its own key (with its SessionIndex).
    under_own_key: bool,
    /// Still to be returned by a take of the NameID-wide key.
    under_subject: bool,
}

/// A session ID as given; the usual form (a tower-sessions ID) is kept as its 128 bits.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SessionRef {
    Id([u64; 2]),
    Other(Box<str>),
}

impl SessionRef {
    fn of(session_id: &str) -> Self {
        match session_id.parse::<Id>() {
            Ok(id) if id.to_string() == session_id => {
                let bits = id.0 as u128;
                SessionRef::Id([bits as u64, (bits >> 64) as u64])
            }
            _ => SessionRef::Other(session_id.into()),
        }
    }

    fn to_text(&self) -> String {
        match self {
            SessionRef::Id([low, high]) => {
                Id(((u128::from(*high) << 64) | u128::from(*low)) as i128).to_string()
            }
            SessionRef::Other(s) => s.to_string(),
        }
    }
}

impl Default for MemorySessionIndex {
    fn default() -> Self {
        MemorySessionIndex {
            subjects: ExpiringMap::new(),
            digests: [RandomState::new(), RandomState::new()],
        }
    }
}

impl MemorySessionIndex {
    pub fn new() -> Self {
        Self::default()
    }

    fn subject(&self, key: &SessionIndexKey) -> Key {
        let fields = (
            &key.idp_entity_id,
            &key.name_id,
            &key.name_id_format,
            &key.name_qualifier,
            &key.sp_name_qualifier,
        );
        let [a, b] = &self.digests;
        [a.hash_one(fields), b.hash_one(fields)]
    }

    fn session_index(&self, key: &SessionIndexKey) -> u64 {
        let [a, _] = &self.digests;
        a.hash_one(("session index", &key.session_index))
    }

    fn add_at(
        &self,
        key: &SessionIndexKey,
        session_id: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) {
        let (subject, now) = (self.subject(key), unix_nanos(now));
        let member = Member {
            session: SessionRef::of(session_id),
            session_index: self.session_index(key),
            until: unix_nanos(until),
            // Without a SessionIndex its own key is the NameID-wide one.
            under_own_key: key.session_index.is_some(),
            under_subject: true,
        };
        {
            let mut shard = self.subjects.shard(&subject);
            let latest = match shard.get_mut(&subject) {
                Some((members, _)) => {
                    let mut kept: Vec<Member> = members
                        .iter()
                        .filter(|m| m.until > now)
                        .filter(|m| {
                            !(m.session == member.session
                                && m.session_index == member.session_index)
                        })
                        .cloned()
                        .collect();
                    kept.push(member);
                    let latest = kept.iter().map(|m| m.until).max();
                    *members = kept.into_boxed_slice();
                    latest
                }
                None => {
                    let until = member.until;
                    shard.insert(subject, Box::new([member]), until);
                    None
                }
            };
            if let Some(latest) = latest {
                shard.set_expiry(&subject, latest);
            }
        }
        self.subjects.sweep(now, SWEEP_PER_WRITE);
    }

    fn take_at(&self, key: &SessionIndexKey, now: OffsetDateTime) -> Vec<String> {
        let (subject, now) = (self.subject(key), unix_nanos(now));
        let own = key.session_index.is_some();
        let session_index = self.session_index(key);
        let mut shard = self.subjects.shard(&subject);
        let Some((members, _)) = shard.get_mut(&subject) else {
            return Vec::new();
        };
        let mut taken = Vec::new();
        let mut kept = Vec::new();
        for m in members.iter() {
            let mut m = m.clone();
            let listed = if !own {
                std::mem::take(&mut m.under_subject)
            } else if m.session_index == session_index {
                std::mem::take(&mut m.under_own_key)
            } else {
                false
            };
            if listed && m.until > now {
                taken.push(m.session.to_text());
            }
            if m.until > now && (m.under_own_key || m.under_subject) {
                kept.push(m);
            }
        }
        match kept.iter().map(|m| m.until).max() {
            Some(latest) => {
                *members = kept.into_boxed_slice();
                shard.set_expiry(&subject, latest);
            }
            None => {
                shard.remove(&subject);
            }
        }
        taken.sort();
        taken.dedup();
        taken
    }

    /// Number of users (IdP + NameID) with sessions indexed.
    pub fn len(&self) -> usize {
        self.subjects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl SessionIndex for MemorySessionIndex {
    fn add<'a>(
        &'a self,
        key: &'a SessionIndexKey,
        session_id: &'a str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.add_at(key, session_id, until, now);
            Ok(())
        })
    }

    fn take<'a>(
        &'a self,
        key: &'a SessionIndexKey,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(async move { Ok(self.take_at(key, now)) })
    }
}

#[cfg(test)]
mod tests;
