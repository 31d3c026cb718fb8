//! Claims -> operator: the pure heart of the mapping. Steps, in order:
//! required attributes, operator id, profile fields, groups, access decision.

use std::collections::HashSet;

use super::fasthash::FastBuildHasher;

use super::aliases::has_groups_overage;
use super::operator::{Mapped, MatchedRule, Operator};
use super::refusal::MappingRefusal;
use super::source::first_single;
use super::table::{Fallback, MappingTable, OperatorIdSource, StripDomain};
use crate::saml::assertion::{Claims, VerifiedAssertion};

/// Maps a verified assertion. The only entry point the gateway uses: it takes the verified
/// type, so unverified claims cannot reach a session by mistake.
pub fn apply(
    table: &MappingTable,
    assertion: &VerifiedAssertion,
) -> Result<Mapped, MappingRefusal> {
    evaluate(table, &assertion.claims)
}

/// A verified login's identity, or the refusal; either way its audit line is written.
pub fn sign_in(
    table: &MappingTable,
    assertion: &VerifiedAssertion,
) -> Result<crate::identity::Operator, MappingRefusal> {
    sign_in_explained(table, assertion).map(|(identity, _)| identity)
}

/// [`sign_in`], with the rule that chose the access group (for the session page).
pub fn sign_in_explained(
    table: &MappingTable,
    assertion: &VerifiedAssertion,
) -> Result<(crate::identity::Operator, MatchedRule), MappingRefusal> {
    match apply(table, assertion) {
        Ok(mapped) => {
            super::audit(&mapped);
            let rule = mapped.matched_rule.clone();
            Ok((mapped.into_identity(), rule))
        }
        Err(refusal) => {
            super::audit_refusal(&assertion.claims, &refusal);
            Err(refusal)
        }
    }
}

/// Maps claims (also used by `samlgate mapping test` on hand-written attributes).
pub fn evaluate(table: &MappingTable, claims: &Claims) -> Result<Mapped, MappingRefusal> {
    if claims.name_id.value.trim().is_empty() {
        return Err(MappingRefusal::EmptyNameId);
    }
    for required in &table.required {
        if required.first_value(claims).is_none() {
            return Err(MappingRefusal::MissingRequiredAttribute {
                attribute: required.written().to_owned(),
            });
        }
    }

    let id = operator_id(table, claims)?;
    let email = first_single(&table.email, claims);
    let name = first_single(&table.name, claims);
    let department = first_single(&table.department, claims);
    let extra = table
        .extra
        .iter()
        .filter_map(|(header, sources)| {
            sources
                .iter()
                .find_map(|s| s.joined(claims))
                .map(|v| (header.clone(), v))
        })
        .collect();
    let groups = groups(table, claims);

    // Entra ID's overage link means "more groups than fit": the list we have is not the
    // user's groups, so no rule may be tested on it (a rule like "not in Contractors" would
    // otherwise be decided on missing data). Only the fallback applies.
    let overage = has_groups_overage(claims);
    let decided = if overage {
        None
    } else {
        decide(table, &groups, claims)
    };

    let (access_group, matched_rule) = match decided {
        Some((group, rule)) => (group, rule),
        None => match &table.fallback {
            Fallback::Default(g) => (g.clone(), MatchedRule::Default),
            Fallback::Deny if overage => return Err(MappingRefusal::DeniedGroupsOverage),
            Fallback::Deny => return Err(MappingRefusal::Denied),
        },
    };

    Ok(Mapped {
        operator: Operator {
            id,
            email,
            name,
            department,
            access_group,
            groups,
            extra,
            idp: claims.idp_entity_id.clone(),
            name_id: claims.name_id.value.clone(),
        },
        matched_rule,
        overage,
    })
}

/// The first rule that holds: its access group and which rule it was.
fn decide(
    table: &MappingTable,
    groups: &[String],
    claims: &Claims,
) -> Option<(String, MatchedRule)> {
    let hits = if table.rules_use_groups {
        table.patterns.hits(groups)
    } else {
        Vec::new()
    };
    let rule = table
        .rules
        .iter()
        .find(|r| r.holds(&hits, claims, table.ignore_case))?;
    Some((
        rule.access_group.clone(),
        MatchedRule::Rule {
            index: rule.index,
            name: rule.name.clone(),
            line: rule.line,
        },
    ))
}

/// Every group from the group attributes, without empty values. One attribute (the usual
/// case: IdPs send the groups as one multi-valued attribute, a set) is taken as sent; when
/// several attributes carry groups (`groups` and `memberOf`), repeats across them are dropped.
fn groups(table: &MappingTable, claims: &Claims) -> Vec<String> {
    let mut carriers = claims
        .attributes
        .iter()
        .filter(|a| table.groups_from.iter().any(|s| s.is(a)));
    match (carriers.next(), carriers.next()) {
        (None, _) => Vec::new(),
        (Some(only), None) => only
            .values
            .iter()
            .filter(|v| !v.is_empty())
            .cloned()
            .collect(),
        (Some(_), Some(_)) => merged_groups(table, claims),
    }
}

fn merged_groups(table: &MappingTable, claims: &Claims) -> Vec<String> {
    let capacity: usize = claims.attributes.iter().map(|a| a.values.len()).sum();
    let mut seen: HashSet<&str, FastBuildHasher> =
        HashSet::with_capacity_and_hasher(capacity, FastBuildHasher::default());
    let mut out = Vec::with_capacity(capacity);
    for source in &table.groups_from {
        for v in source.values(claims) {
            if seen.insert(v) {
                out.push(v.to_owned());
            }
        }
    }
    out
}

fn operator_id(table: &MappingTable, claims: &Claims) -> Result<String, MappingRefusal> {
    let (raw, source_name) = match &table.operator_id {
        OperatorIdSource::NameId => (claims.name_id.value.as_str(), "the NameID".to_owned()),
        OperatorIdSource::Attribute(name) => {
            let mut distinct: Vec<&str> = Vec::new();
            for v in name.values(claims).map(str::trim).filter(|v| !v.is_empty()) {
                if !distinct.contains(&v) {
                    distinct.push(v);
                }
            }
            match distinct.as_slice() {
                [] => {
                    return Err(MappingRefusal::MissingOperatorId {
                        attribute: name.written().to_owned(),
                    });
                }
                [one] => (*one, format!("attribute `{}`", name.written())),
                many => {
                    return Err(MappingRefusal::AmbiguousOperatorId {
                        attribute: name.written().to_owned(),
                        count: many.len(),
                    });
                }
            }
        }
    };
    let mut id = strip_domain(raw.trim(), &table.strip_domain)
        .trim()
        .to_owned();
    if table.lowercase_id {
        id = id.to_lowercase();
    }
    if id.is_empty() {
        return Err(MappingRefusal::EmptyOperatorId { source_name });
    }
    Ok(id)
}

/// `jose@example.com` -> `jose`, `CORP\jose` -> `jose` (any domain, or only listed ones).
fn strip_domain<'a>(id: &'a str, strip: &StripDomain) -> &'a str {
    let listed = |domain: &str| match strip {
        StripDomain::None => false,
        StripDomain::Any => true,
        StripDomain::Only(domains) => {
            let domain = domain.to_lowercase();
            domains.contains(&domain)
        }
    };
    if let Some((user, domain)) = id.rsplit_once('@')
        && listed(domain)
    {
        return user;
    }
    if let Some((domain, user)) = id.split_once('\\')
        && listed(domain)
    {
        return user;
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::assertion::{NameId, SamlAttribute, Sealed, SignedParts};
    use time::macros::datetime;

    fn verified(groups: &[&str]) -> VerifiedAssertion {
        VerifiedAssertion {
            claims: Claims {
                idp_entity_id: "https://idp.example.com".into(),
                name_id: NameId {
                    value: "jose@example.com".into(),
                    format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into()),
                    name_qualifier: None,
                    sp_name_qualifier: None,
                },
                attributes: vec![SamlAttribute {
                    name: "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups".into(),
                    name_format: None,
                    friendly_name: None,
                    values: groups.iter().map(|g| g.to_string()).collect(),
                }],
            },
            assertion_id: "_a1".into(),
            issue_instant: datetime!(2026-11-22 09:00 UTC),
            in_response_to: Some("_r1".into()),
            session_index: None,
            authn_instant: None,
            authn_context_class_ref: None,
            session_not_on_or_after: None,
            replay_until: datetime!(2026-11-22 09:05 UTC),
            signed: SignedParts {
                response: true,
                assertion: true,
            },
            was_encrypted: false,
            _sealed: Sealed::default(),
        }
    }

    #[test]
    fn apply_maps_the_verified_claims_and_keeps_the_user_key() {
        let table = MappingTable::from_toml(
            "[access]\ndefault = \"MyOrg:RestrictedReadOnly\"\n\
             [[access.rule]]\ngroup = \"Admins\"\naccess_group = \"MyOrg:Administrators\"\n",
            "t.toml",
        )
        .unwrap();
        let m = apply(&table, &verified(&["Staff", "Admins"])).unwrap();
        assert_eq!(m.operator.access_group, "MyOrg:Administrators");
        assert_eq!(m.operator.idp, "https://idp.example.com");
        assert_eq!(m.operator.name_id, "jose@example.com");
        assert_eq!(m.operator.groups, vec!["Staff", "Admins"]);
        let m = apply(&table, &verified(&[])).unwrap();
        assert_eq!(m.operator.access_group, "MyOrg:RestrictedReadOnly");
    }
}
