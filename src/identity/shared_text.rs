//! The strings of a signed-in session, held once.
//!
//! A node may hold a million sessions, each with a handful of short strings: allocated one by
//! one, their allocation overhead and the copies between the session record, the decoded identity
//! and its encoded headers cost more than the text itself. So:
//!
//! - [`Text`] is an immutable string that is a slice of a buffer shared with the session's other
//!   strings (and with its encoded header values, see `session_cache`), cloned by reference count.
//! - [`Groups`] holds group names [`intern`]ed: the same few hundred names recur in every
//!   session, and each is kept once per process for as long as a session uses it.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Deref, Range};
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An immutable string, cheap to clone: a range of a shared buffer.
#[derive(Clone)]
pub struct Text {
    buffer: Arc<str>,
    start: u32,
    end: u32,
}

/// `end` of a text that is its whole buffer, however long (a range's ends are `u32`).
const WHOLE: u32 = u32::MAX;

impl Text {
    pub fn as_str(&self) -> &str {
        // The range was a char-boundary range of this very buffer when it was made; `get` keeps
        // even a broken invariant from panicking.
        let start = self.start as usize;
        let found = match self.end {
            WHOLE => self.buffer.get(start..),
            end => self.buffer.get(start..end as usize),
        };
        found.unwrap_or_default()
    }

    /// The shared buffer this text is a slice of.
    pub fn buffer(&self) -> &Arc<str> {
        &self.buffer
    }
}

impl Default for Text {
    fn default() -> Self {
        static EMPTY: OnceLock<Arc<str>> = OnceLock::new();
        Text {
            buffer: EMPTY.get_or_init(|| Arc::from("")).clone(),
            start: 0,
            end: 0,
        }
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text::from(Arc::<str>::from(s))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text::from(Arc::<str>::from(s))
    }
}

impl From<Arc<str>> for Text {
    fn from(buffer: Arc<str>) -> Self {
        Text {
            end: u32::try_from(buffer.len()).unwrap_or(WHOLE),
            buffer,
            start: 0,
        }
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Hash for Text {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Text::from)
    }
}

/// Builds one buffer out of several strings; each string given twice is stored once.
#[derive(Debug, Default)]
pub struct TextBuilder {
    text: String,
    pieces: Vec<Range<u32>>,
}

/// Where a string went in a [`TextBuilder`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece(Range<u32>);

impl Piece {
    pub fn range(&self) -> Range<usize> {
        self.0.start as usize..self.0.end as usize
    }
}

impl TextBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add `s` (or find it already added).
    pub fn put(&mut self, s: &str) -> Option<Piece> {
        if let Some(found) = self
            .pieces
            .iter()
            .find(|r| self.text.get(r.start as usize..r.end as usize) == Some(s))
        {
            return Some(Piece(found.clone()));
        }
        let start = u32::try_from(self.text.len()).ok()?;
        let end = u32::try_from(self.text.len().checked_add(s.len())?).ok()?;
        self.text.push_str(s);
        self.pieces.push(start..end);
        Some(Piece(start..end))
    }

    /// The finished buffer.
    pub fn finish(self) -> Arc<str> {
        Arc::from(self.text)
    }

    /// The text of `piece` in `buffer` (as returned by [`TextBuilder::finish`]).
    pub fn text(buffer: &Arc<str>, piece: &Piece) -> Text {
        Text {
            buffer: Arc::clone(buffer),
            start: piece.0.start,
            end: piece.0.end,
        }
    }
}

/// An interned string: the key of the intern table, found by `&str`.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Interned(Arc<String>);

impl Borrow<str> for Interned {
    fn borrow(&self) -> &str {
        self.0.as_str()
    }
}

#[derive(Default)]
struct InternTable {
    names: HashSet<Interned>,
    /// The table is purged of names no one holds when it grows past this.
    purge_at: usize,
}

/// Purge no sooner than at this many names, so small tables are never walked.
const MIN_PURGE_AT: usize = 1024;

/// The one shared copy of `s` (group names, IdP names: strings that recur across sessions).
///
/// A name stays while any session holds it: the table is purged of unheld names whenever it has
/// doubled since the last purge, so its cost per interned string stays constant.
pub fn intern(s: &str) -> Arc<String> {
    intern_table().intern(s)
}

impl InternTable {
    fn intern(&mut self, s: &str) -> Arc<String> {
        if let Some(found) = self.names.get(s) {
            return Arc::clone(&found.0);
        }
        if self.names.len() >= self.purge_at.max(MIN_PURGE_AT) {
            self.names.retain(|n| Arc::strong_count(&n.0) > 1);
            self.purge_at = self.names.len().saturating_mul(2);
        }
        let new = Arc::new(s.to_string());
        self.names.insert(Interned(Arc::clone(&new)));
        new
    }
}

fn intern_table() -> std::sync::MutexGuard<'static, InternTable> {
    static TABLE: OnceLock<Mutex<InternTable>> = OnceLock::new();
    // A poisoned lock only means a panic mid-insert of a plain set: it is still whole.
    TABLE
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// The groups of an operator: interned names, in the order the mapping gave them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Groups(Box<[Arc<String>]>);

impl Groups {
    /// Whether `name` is one of the groups.
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|g| g.as_str() == name)
    }

    /// The names as plain strings.
    pub fn to_vec(&self) -> Vec<String> {
        self.0.iter().map(|g| g.to_string()).collect()
    }
}

/// The names, as a slice (`iter`, `len`, `is_empty`, indexing); each derefs to the `String` the
/// route rules compare with.
impl Deref for Groups {
    type Target = [Arc<String>];
    fn deref(&self) -> &[Arc<String>] {
        &self.0
    }
}

impl<'a> IntoIterator for &'a Groups {
    type Item = &'a Arc<String>;
    type IntoIter = std::slice::Iter<'a, Arc<String>>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl Groups {
    /// `names`, interned under one lock.
    fn of<S: AsRef<str>>(names: &[S]) -> Self {
        let mut table = intern_table();
        Groups(names.iter().map(|s| table.intern(s.as_ref())).collect())
    }
}

impl<S: AsRef<str>> FromIterator<S> for Groups {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        // Collected before the table is locked: the iterator may run any code.
        Groups::of(&iter.into_iter().collect::<Vec<_>>())
    }
}

impl From<Vec<String>> for Groups {
    fn from(names: Vec<String>) -> Self {
        Groups::of(&names)
    }
}

impl fmt::Debug for Groups {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

impl Serialize for Groups {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|g| g.as_str()))
    }
}

impl<'de> Deserialize<'de> for Groups {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<String>::deserialize(deserializer).map(Groups::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_of_one_buffer_share_it_and_repeated_strings_are_stored_once() {
        let mut b = TextBuilder::new();
        let user = b.put("jmuller").unwrap();
        let email = b.put("jose.muller@example.com").unwrap();
        let again = b.put("jmuller").unwrap();
        assert_eq!(user, again);
        let buffer = b.finish();
        assert_eq!(
            buffer.len(),
            "jmuller".len() + "jose.muller@example.com".len()
        );
        let (u, e) = (
            TextBuilder::text(&buffer, &user),
            TextBuilder::text(&buffer, &email),
        );
        assert_eq!(u, "jmuller");
        assert_eq!(e.as_str(), "jose.muller@example.com");
        assert!(Arc::ptr_eq(u.buffer(), e.buffer()));
    }

    #[test]
    fn text_serializes_as_a_plain_string() {
        let t = Text::from("José Müller");
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"José Müller\"");
        assert_eq!(serde_json::from_str::<Text>(&json).unwrap(), t);
        assert_eq!(Text::default().as_str(), "");
    }

    #[test]
    fn groups_are_interned_and_round_trip_as_a_list() {
        let a: Groups = ["staff", "Sales, EMEA"].into_iter().collect();
        let b = Groups::from(vec!["staff".to_string()]);
        assert!(Arc::ptr_eq(&a.iter().next().unwrap().clone(), &b.0[0]));
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json, serde_json::json!(["staff", "Sales, EMEA"]));
        assert_eq!(serde_json::from_value::<Groups>(json).unwrap(), a);
        // What the route rules do: compare with configured `String`s.
        let required = ["Sales, EMEA".to_string()];
        assert!(a.iter().any(|g| required.contains(g)));
        assert!(a.contains("staff") && !a.contains("Staff"));
        assert_eq!((a.len(), a[1].as_str()), (2, "Sales, EMEA"));
    }

    #[test]
    fn unheld_names_are_purged_and_held_ones_kept() {
        let held = intern("held-group-for-the-purge-test");
        for i in 0..(5 * MIN_PURGE_AT) {
            drop(intern(&format!("passing-group-{i}")));
        }
        // Other tests intern a few names meanwhile; none holds hundreds.
        assert!(intern_table().names.len() <= 2 * MIN_PURGE_AT);
        let again = intern("held-group-for-the-purge-test");
        assert!(Arc::ptr_eq(&held, &again), "a held name survives purges");
    }
}
