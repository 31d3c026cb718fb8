//! Cross-checks between a mapping table and the gateway's routes, made by `samlgate check`
//! and at start-up. These are warnings: the table is valid, but probably not what was meant.

use super::error::Warning;
use super::table::{Fallback, MappingTable};

/// Warns about access groups no route mentions, given every access group the routes name
/// (`require_access_group`). The default group is the one that matters most: if no route
/// names it, everyone who matches no rule can reach exactly the routes open to any session,
/// which is rarely what "restricted" was meant to say.
///
/// One warning for the whole table, at the first group's line: a table with several groups the
/// routes leave to the backend would otherwise print one line each and bury the others.
pub fn validate_against_routes(table: &MappingTable, route_groups: &[&str]) -> Vec<Warning> {
    let mentioned = |g: &str| route_groups.contains(&g);
    // (group, where it is declared in words, line, key)
    let mut unmentioned: Vec<(&str, String, usize, String)> = Vec::new();
    if let Fallback::Default(g) = &table.fallback
        && !mentioned(g)
    {
        unmentioned.push((
            g,
            "the default".to_string(),
            table.fallback_at.0,
            table.fallback_at.1.clone(),
        ));
    }
    for rule in &table.rules {
        let g = rule.access_group.as_str();
        if !mentioned(g) && !unmentioned.iter().any(|(seen, ..)| *seen == g) {
            unmentioned.push((
                g,
                format!("rule #{}", rule.index),
                rule.line,
                format!("access.rule[{}].access_group", rule.index),
            ));
        }
    }
    let message = match unmentioned.as_slice() {
        [] => return Vec::new(),
        [(g, what, ..)] if what == "the default" => format!(
            "the default access group {g:?} is not mentioned by any route's require_access_group"
        ),
        [(g, what, ..)] => format!(
            "access group {g:?} ({what}) is not mentioned by any route's require_access_group"
        ),
        several => format!(
            "{} access groups are not mentioned by any route's require_access_group: {} (fine when the backend decides by the access group header)",
            several.len(),
            several
                .iter()
                .map(|(g, what, line, _)| format!("{g:?} ({what}, line {line})"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let (_, _, line, key) = unmentioned.swap_remove(0);
    vec![Warning {
        file: table.file.clone(),
        line,
        key,
        message,
    }]
}
