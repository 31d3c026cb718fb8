//! The mapping table file as the admin writes it: serde structs that mirror the TOML one to
//! one. Nothing here is trusted yet; `table.rs` turns it into a checked [`super::MappingTable`].
//!
//! Every value that a load error may point at is a `toml::Spanned`, so the error can name the
//! line. `deny_unknown_fields` everywhere: a misspelt key (`defualt = ...`) must not silently
//! leave the table without its fallback.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, SeqAccess, Visitor};
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTable {
    #[serde(default)]
    pub required_attributes: Vec<Spanned<String>>,
    #[serde(default)]
    pub operator: Option<Spanned<RawOperator>>,
    #[serde(default)]
    pub attributes: Option<Spanned<RawAttributes>>,
    #[serde(default)]
    pub extra_headers: BTreeMap<Spanned<String>, Spanned<OneOrMany>>,
    pub access: Spanned<RawAccess>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOperator {
    pub id: Option<Spanned<String>>,
    #[serde(default)]
    pub lowercase: bool,
    pub strip_domain: Option<Spanned<StripDomainSetting>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAttributes {
    pub email: Option<Spanned<OneOrMany>>,
    pub name: Option<Spanned<OneOrMany>>,
    pub department: Option<Spanned<OneOrMany>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccess {
    pub groups: Option<Spanned<OneOrMany>>,
    #[serde(default)]
    pub ignore_case: bool,
    pub default: Option<Spanned<String>>,
    pub deny: Option<Spanned<bool>>,
    #[serde(default, rename = "rule")]
    pub rules: Vec<Spanned<RawRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    pub name: Option<Spanned<String>>,
    pub group: Option<Spanned<String>>,
    pub group_glob: Option<Spanned<String>>,
    pub group_regex: Option<Spanned<String>>,
    pub any_group: Option<Spanned<Vec<String>>>,
    pub all_groups: Option<Spanned<Vec<String>>>,
    pub attribute: Option<Spanned<BTreeMap<String, OneOrMany>>>,
    pub always: Option<Spanned<bool>>,
    pub access_group: Option<Spanned<String>>,
}

/// `strip_domain = true` (any domain) or `strip_domain = "example.com"` / `["a.com", "b.com"]`.
#[derive(Debug)]
pub(crate) enum StripDomainSetting {
    Any(bool),
    Only(Vec<String>),
}

/// A key that takes one string or a list of strings. Written by hand rather than with
/// `#[serde(untagged)]`: untagged enums buffer their input and `Spanned` then loses its span.
#[derive(Debug, Clone)]
pub(crate) struct OneOrMany(pub Vec<String>);

struct OneOrManyVisitor;

impl<'de> Visitor<'de> for OneOrManyVisitor {
    type Value = OneOrMany;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or a list of strings")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
        Ok(OneOrMany(vec![v.to_owned()]))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<String>()? {
            out.push(v);
        }
        Ok(OneOrMany(out))
    }
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OneOrManyVisitor)
    }
}

struct StripDomainVisitor;

impl<'de> Visitor<'de> for StripDomainVisitor {
    type Value = StripDomainSetting;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("true, false, a domain, or a list of domains")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<StripDomainSetting, E> {
        Ok(StripDomainSetting::Any(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<StripDomainSetting, E> {
        Ok(StripDomainSetting::Only(vec![v.to_owned()]))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<StripDomainSetting, A::Error> {
        OneOrManyVisitor
            .visit_seq(seq)
            .map(|v| StripDomainSetting::Only(v.0))
    }
}

impl<'de> Deserialize<'de> for StripDomainSetting {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StripDomainVisitor)
    }
}
