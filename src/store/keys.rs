//! Store keys: one function builds every key, from every field that identifies the entry.
//!
//! Shared stores have broken before by keying entries on too few fields, so that two users met
//! under one key and one received the other's token. Here each field is length-prefixed
//! (`<bytes>:<value>,`, a netstring) and an absent optional field is written `-`, so no two
//! different field lists can produce the same key: `("a:b", "c")` and `("a", "b:c")` differ, and
//! so do `None` and `Some("")`.

use std::fmt::Write;

/// What a key names. Each kind has its own namespace under the deployment's prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Replay cache: (IdP entityID, Assertion ID).
    Replay,
    /// An answered AuthnRequest: (request ID).
    Request,
    /// Session index: (IdP entityID, NameID value, Format, NameQualifier, SPNameQualifier,
    /// SessionIndex).
    SessionIndex,
    /// A tower-sessions session: (session ID).
    Session,
    /// One node's marker that its session cache is in step with Redis: (random node ID).
    Node,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Kind::Replay => "replay",
            Kind::Request => "authnreq",
            Kind::SessionIndex => "sidx",
            Kind::Session => "session",
            Kind::Node => "node",
        }
    }
}

/// The key namespace of one deployment: every key starts with its prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySpace {
    prefix: String,
}

impl KeySpace {
    /// `prefix` separates deployments that share one Redis (config checks it is non-empty).
    pub fn new(prefix: &str) -> Self {
        KeySpace {
            prefix: prefix.to_string(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The start every key of `kind` shares (what Redis client tracking watches).
    pub fn kind_prefix(&self, kind: Kind) -> String {
        self.key(kind, &[])
    }

    /// The key for `kind` and `fields`, each field length-prefixed; `None` is written `-`.
    pub fn key(&self, kind: Kind, fields: &[Option<&str>]) -> String {
        let mut key = String::with_capacity(
            self.prefix.len() + 16 + fields.iter().flatten().map(|f| f.len() + 6).sum::<usize>(),
        );
        key.push_str(&self.prefix);
        key.push_str(kind.tag());
        key.push(':');
        for field in fields {
            match field {
                // infallible: writing to a String cannot fail.
                Some(value) => {
                    let _ = write!(key, "{}:{value},", value.len());
                }
                None => key.push('-'),
            }
        }
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_separators_never_run_together() {
        let k = KeySpace::new("sg:");
        assert_ne!(
            k.key(Kind::Replay, &[Some("a:b"), Some("c")]),
            k.key(Kind::Replay, &[Some("a"), Some("b:c")])
        );
        assert_ne!(
            k.key(Kind::Replay, &[Some("a,1:b"), Some("")]),
            k.key(Kind::Replay, &[Some("a"), Some("b")])
        );
        assert_ne!(
            k.key(Kind::Replay, &[Some("ab"), None]),
            k.key(Kind::Replay, &[Some("a"), Some("b")])
        );
    }

    #[test]
    fn absent_and_empty_fields_differ() {
        let k = KeySpace::new("sg:");
        assert_ne!(
            k.key(Kind::SessionIndex, &[Some("idp"), None]),
            k.key(Kind::SessionIndex, &[Some("idp"), Some("")])
        );
        assert_ne!(
            k.key(Kind::SessionIndex, &[Some("idp"), None, Some("x")]),
            k.key(Kind::SessionIndex, &[Some("idp"), Some("x"), None])
        );
    }

    #[test]
    fn kinds_and_prefixes_separate_keys() {
        let a = KeySpace::new("app-a:");
        let b = KeySpace::new("app-b:");
        assert_ne!(
            a.key(Kind::Session, &[Some("id")]),
            b.key(Kind::Session, &[Some("id")])
        );
        assert_ne!(
            a.key(Kind::Session, &[Some("id")]),
            a.key(Kind::Request, &[Some("id")])
        );
        assert_ne!(
            a.key(Kind::Replay, &[Some("id")]),
            a.key(Kind::Request, &[Some("id")]),
            "an Assertion ID never meets an AuthnRequest ID"
        );
        assert_eq!(
            a.key(Kind::Replay, &[Some("https://idp"), Some("_a1")]),
            "app-a:replay:11:https://idp,3:_a1,"
        );
    }

    #[test]
    fn lengths_count_bytes_not_characters() {
        let k = KeySpace::new("p:");
        assert_eq!(k.key(Kind::Request, &[Some("é")]), "p:authnreq:2:é,");
    }
}
