//! The one identity: what the mapping decided about a signed-in person, what the session keeps
//! and what the header contract (and every other way of telling the backend) reads.

use serde::{Deserialize, Serialize};

use super::shared_text::{Groups, Text};

/// What the backend is told about the operator (the header contract's source), as kept in
/// the session store. A node holds one per signed-in session, so its strings are shared rather
/// than copied (see `shared_text`); it serializes as plain strings and lists.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    /// Stable operator ID (the mapping's `operator_id`).
    pub user: Text,
    pub email: Option<Text>,
    pub preferred_username: Option<Text>,
    pub name: Option<Text>,
    pub access_group: String,
    pub groups: Groups,
    /// Extra headers the mapping table forwards: (header name, value).
    pub extra: Vec<(String, String)>,
}

impl Operator {
    /// This operator, borrowed as the header contract reads it.
    pub fn view(&self) -> IdentityView<'_> {
        IdentityView {
            user: &self.user,
            email: self.email.as_deref(),
            preferred_username: self.preferred_username.as_deref(),
            groups: self.groups.iter().map(|g| g.as_str()).collect(),
            access_group: &self.access_group,
            name: self.name.as_deref(),
            extra: &self.extra,
        }
    }
}

/// An [`Operator`] borrowed from wherever its strings are kept (a session's, say), so that encoding its
/// headers copies none of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityView<'a> {
    pub user: &'a str,
    pub email: Option<&'a str>,
    pub preferred_username: Option<&'a str>,
    pub groups: Vec<&'a str>,
    pub access_group: &'a str,
    pub name: Option<&'a str>,
    pub extra: &'a [(String, String)],
}
