//! Route rules against mapping tables: a `require_access_group` that no table can hand out.
//!
//! Access groups come only from mapping tables (a rule's `access_group` or the `default`), and
//! routes compare them exactly. A group that no table produces (`MyOrg:Administrator` written
//! for `MyOrg:Administrators`) therefore makes its route refuse everyone, and nothing else would
//! say why. It is a warning, not an error: the route fails closed, and refusing to start (or to
//! reload) would turn one locked page into a whole outage.

use toml::Spanned;

use crate::config::as_written::RawRoute;
use crate::config::model::{Idp, OAuthIssuer};
use crate::config::problems::Problems;

/// Warn about every `require_access_group` entry that no mapping table (an IdP's or an
/// `[[oauth]]` issuer's) produces, with the closest group a table does produce when one is near.
pub fn check_route_groups(
    routes: &[Spanned<RawRoute>],
    idps: &[Idp],
    oauth: &[OAuthIssuer],
    p: &mut Problems,
) {
    let produced: Vec<&str> = idps
        .iter()
        .map(|idp| &idp.mapping)
        .chain(oauth.iter().map(|o| &o.mapping))
        .flat_map(|table| table.access_groups())
        .collect();
    for (i, route) in routes.iter().enumerate() {
        let Some(wanted) = &route.get_ref().require_access_group else {
            continue;
        };
        for group in wanted.get_ref() {
            if produced.contains(&group.as_str()) {
                continue;
            }
            let hint = match closest(group, &produced) {
                Some(near) => format!(" (did you mean {near:?}?)"),
                None => String::new(),
            };
            let known = if produced.is_empty() {
                "no mapping table gives any access group".to_string()
            } else {
                format!("the mapping tables give {}", quoted(&produced))
            };
            p.warning(
                format!("route[{i}].require_access_group"),
                Some(wanted.span()),
                format!(
                    "no mapping table gives the access group {group:?}{hint}, so this route refuses everyone; {known}"
                ),
            );
        }
    }
}

/// The produced group nearest to `group`, if it is near enough to be a likely typo: the same
/// name in another letter case, or a few edits away relative to its length.
fn closest<'a>(group: &str, produced: &[&'a str]) -> Option<&'a str> {
    if let Some(same) = produced.iter().find(|g| g.eq_ignore_ascii_case(group)) {
        return Some(same);
    }
    produced
        .iter()
        .map(|g| (strsim::normalized_damerau_levenshtein(group, g), *g))
        .filter(|(score, _)| *score >= 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, g)| g)
}

fn quoted(groups: &[&str]) -> String {
    let mut unique: Vec<&str> = Vec::new();
    for g in groups {
        if !unique.contains(g) {
            unique.push(g);
        }
    }
    unique
        .iter()
        .map(|g| format!("{g:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_letter_typo_is_suggested() {
        let produced = ["MyOrg:Administrators", "MyOrg:RestrictedReadOnly"];
        assert_eq!(
            closest("MyOrg:Administrator", &produced),
            Some("MyOrg:Administrators")
        );
    }

    #[test]
    fn a_case_difference_is_suggested() {
        assert_eq!(
            closest("myorg:finance", &["MyOrg:Finance"]),
            Some("MyOrg:Finance")
        );
    }

    #[test]
    fn an_unrelated_group_gets_no_suggestion() {
        assert_eq!(
            closest("Auditors", &["MyOrg:Administrators", "MyOrg:Finance"]),
            None
        );
    }
}
