//! Cross-checks between a mapping table and the gateway's routes, made by `samlgate check`
//! and at start-up. These are warnings: the table is valid, but probably not what was meant.

use super::error::Warning;
use super::table::{Fallback, MappingTable};

/// Warns about access groups no route mentions, given every access group the routes name
/// (`require_access_group`). The default group is the one that matters most: if no route
/// names it, everyone who matches no rule can reach exactly the routes open to any session,
/// which is rarely what "restricted" was meant to say.
pub fn validate_against_routes(table: &MappingTable, route_groups: &[&str]) -> Vec<Warning> {
    let mentioned = |g: &str| route_groups.contains(&g);
    let mut warnings = Vec::new();
    let mut reported: Vec<&str> = Vec::new();
    if let Fallback::Default(g) = &table.fallback
        && !mentioned(g)
    {
        reported.push(g);
        warnings.push(Warning {
            file: table.file.clone(),
            line: table.fallback_at.0,
            key: table.fallback_at.1.clone(),
            message: format!(
                "the default access group {g:?} is not mentioned by any route's require_access_group"
            ),
        });
    }
    for rule in &table.rules {
        let g = rule.access_group.as_str();
        if !mentioned(g) && !reported.contains(&g) {
            reported.push(g);
            warnings.push(Warning {
                file: table.file.clone(),
                line: rule.line,
                key: format!("access.rule[{}].access_group", rule.index),
                message: format!(
                    "access group {g:?} (rule #{}) is not mentioned by any route's require_access_group",
                    rule.index
                ),
            });
        }
    }
    warnings
}
