//! Why the mapping refuses a verified login. None of these grants anything: a refusal ends
//! the login with the generic error page, and its Display is the log line.

/// A login the table does not let through.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MappingRefusal {
    /// The user key is (IdP entityID, NameID): without a NameID every such login would share
    /// one key, so it is refused whatever the operator id comes from.
    #[error("the assertion's NameID is empty: it is half of the user key (IdP, NameID)")]
    EmptyNameId,
    #[error(
        "required attribute `{attribute}` is missing from the assertion (or all its values are empty)"
    )]
    MissingRequiredAttribute { attribute: String },
    #[error(
        "the operator id comes from attribute `{attribute}`, which the assertion does not carry"
    )]
    MissingOperatorId { attribute: String },
    #[error(
        "the operator id comes from attribute `{attribute}`, which carries {count} different values; it must carry exactly one"
    )]
    AmbiguousOperatorId { attribute: String, count: usize },
    #[error("the operator id taken from {source_name} is empty after normalization")]
    EmptyOperatorId { source_name: String },
    #[error("no access rule matched and the mapping table says `deny = true`")]
    Denied,
    #[error(
        "Entra ID groups overage: the assertion carries `http://schemas.microsoft.com/claims/groups.link` instead of the groups, so no rule could be tested, and the mapping table says `deny = true`"
    )]
    DeniedGroupsOverage,
}

impl MappingRefusal {
    /// A stable label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            MappingRefusal::EmptyNameId => "empty_name_id",
            MappingRefusal::MissingRequiredAttribute { .. } => "missing_required_attribute",
            MappingRefusal::MissingOperatorId { .. } => "missing_operator_id",
            MappingRefusal::AmbiguousOperatorId { .. } => "ambiguous_operator_id",
            MappingRefusal::EmptyOperatorId { .. } => "empty_operator_id",
            MappingRefusal::Denied => "denied",
            MappingRefusal::DeniedGroupsOverage => "denied_groups_overage",
        }
    }

    /// True when the refusal comes from Entra ID's groups overage (the caller logs it).
    pub fn is_overage(&self) -> bool {
        matches!(self, MappingRefusal::DeniedGroupsOverage)
    }
}
