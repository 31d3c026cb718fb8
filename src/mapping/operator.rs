//! What the mapping decides: the operator, with the facts the audit line names (the IdP, the
//! NameID, the department), and which row of the table decided the access group.
//! [`Mapped::into_identity`] turns it into the one [`identity::Operator`] the session keeps and
//! the header contract reads; nothing else copies it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::identity;
use crate::identity::shared_text::{Groups, Text};

/// A signed-in person, as the backend will see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    /// The operator id after normalization (`X-Forwarded-User`).
    pub id: String,
    pub email: Option<String>,
    /// Full name (`X-Forwarded-Name`).
    pub name: Option<String>,
    pub department: Option<String>,
    /// The access group the decision table chose (`X-Forwarded-Access-Group`).
    pub access_group: String,
    /// Every group the IdP sent, in its order, without empty values; when several attributes
    /// carry groups, repeats across them are dropped.
    pub groups: Vec<String>,
    /// Extra headers the table forwards: (header name, value).
    pub extra: Vec<(String, String)>,
    /// The IdP's entityID. With `name_id`, the user's key: an email alone never identifies a
    /// user, since two IdPs (or one IdP over time) may hand out the same address.
    pub idp: String,
    /// The Subject's NameID exactly as the IdP sent it.
    pub name_id: String,
}

/// Which row of the table chose the access group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MatchedRule {
    /// Rule number `index` (counted from 1, as in load errors), declared at `line`.
    Rule {
        index: usize,
        name: Option<String>,
        line: usize,
    },
    /// No rule matched (or the groups were unknown) and the table's `default` applied.
    Default,
}

impl fmt::Display for MatchedRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MatchedRule::Rule {
                index,
                name: Some(name),
                line,
            } => write!(f, "rule #{index} {name:?} (line {line})"),
            MatchedRule::Rule {
                index,
                name: None,
                line,
            } => write!(f, "rule #{index} (line {line})"),
            MatchedRule::Default => f.write_str("default"),
        }
    }
}

/// The outcome of a successful mapping.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapped {
    pub operator: Operator,
    pub matched_rule: MatchedRule,
    /// The assertion carried Entra ID's groups overage link instead of the groups: the rules
    /// were skipped and the default applied. The caller logs it; the fix is on the IdP side
    /// (emit only groups assigned to the application, or use app roles).
    pub overage: bool,
}

impl Mapped {
    /// The identity a session keeps: the operator id is also the preferred username.
    pub fn into_identity(self) -> identity::Operator {
        let op = self.operator;
        let user = Text::from(op.id);
        identity::Operator {
            preferred_username: Some(user.clone()),
            user,
            email: op.email.map(Text::from),
            name: op.name.map(Text::from),
            access_group: op.access_group,
            groups: Groups::from(op.groups),
            extra: op.extra,
        }
    }
}
