//! One row of the access decision table, and the load-time proof that a row can be reached.
//!
//! A rule holds when all of its conditions hold. Rules are tried top to bottom and the first
//! that holds picks the access group, so a rule that every login reaching it would already
//! have matched above is a mistake the admin wants to hear about at load time, not a silent
//! dead row.

use super::aliases::AttributeName;
use super::pattern::PatternIndex;
use crate::saml::assertion::Claims;

#[derive(Clone, Debug)]
pub(crate) enum Condition {
    /// The login has a group matching this pattern (exact, glob or regex).
    Group(usize),
    /// The login has a group equal to at least one of these exact names.
    AnyGroup(Vec<usize>),
    /// The login has a group equal to each of these exact names.
    AllGroups(Vec<usize>),
    /// The attribute has at least one of these values (folded when the table ignores case).
    Attribute {
        name: AttributeName,
        values: Vec<String>,
    },
    Always,
}

#[derive(Clone, Debug)]
pub(crate) struct Rule {
    /// 1-based position in the table.
    pub index: usize,
    pub name: Option<String>,
    /// Line of the rule's `[[access.rule]]` header.
    pub line: usize,
    pub conditions: Vec<Condition>,
    pub access_group: String,
}

impl Condition {
    pub fn uses_groups(&self) -> bool {
        matches!(
            self,
            Condition::Group(_) | Condition::AnyGroup(_) | Condition::AllGroups(_)
        )
    }

    /// Whether the condition holds, given the pattern hits of the login's groups.
    pub fn holds(&self, hits: &[bool], claims: &Claims, ignore_case: bool) -> bool {
        let hit = |id: &usize| hits.get(*id).copied().unwrap_or(false);
        match self {
            Condition::Group(id) => hit(id),
            Condition::AnyGroup(ids) => ids.iter().any(hit),
            Condition::AllGroups(ids) => ids.iter().all(hit),
            Condition::Attribute { name, values } => name.values(claims).any(|v| {
                if ignore_case {
                    let v = v.to_lowercase();
                    values.contains(&v)
                } else {
                    values.iter().any(|w| w == v)
                }
            }),
            Condition::Always => true,
        }
    }

    /// The patterns this condition guarantees the login has a group for (every one of them).
    fn forced(&self) -> &[usize] {
        match self {
            Condition::Group(id) => std::slice::from_ref(id),
            Condition::AllGroups(ids) => ids,
            Condition::AnyGroup(ids) if ids.len() == 1 => ids,
            _ => &[],
        }
    }
}

impl Rule {
    pub fn holds(&self, hits: &[bool], claims: &Claims, ignore_case: bool) -> bool {
        self.conditions
            .iter()
            .all(|c| c.holds(hits, claims, ignore_case))
    }

    pub fn is_catch_all(&self) -> bool {
        self.conditions
            .iter()
            .all(|c| matches!(c, Condition::Always))
    }

    /// True when every login that satisfies `self` also satisfies `earlier`, so `self` can
    /// never be the first match. Sound, not complete: it answers true only when it can show it.
    pub fn implies(&self, earlier: &Rule, patterns: &PatternIndex) -> bool {
        earlier
            .conditions
            .iter()
            .all(|a| self.conditions.iter().any(|b| implies(b, a, patterns)))
    }
}

/// Does group pattern `q` (which some group of the login matches) guarantee a group matching
/// pattern `p`? Yes when they are the same pattern, when `q` is an exact name that `p`
/// matches, or when `p` matches every group name.
fn forces(q: usize, p: usize, patterns: &PatternIndex) -> bool {
    if q == p {
        return true;
    }
    let (Some(qp), Some(pp)) = (patterns.get(q), patterns.get(p)) else {
        return false;
    };
    if pp.matches_everything() {
        return true;
    }
    qp.kind == super::pattern::PatternKind::Exact && patterns.matches(p, &qp.source)
}

/// Does condition `b` guarantee condition `a`?
fn implies(b: &Condition, a: &Condition, patterns: &PatternIndex) -> bool {
    // A group pattern is guaranteed if one of b's forced patterns forces it, or b is an
    // any-of whose every alternative forces it.
    let guarantees = |p: usize| -> bool {
        b.forced().iter().any(|q| forces(*q, p, patterns))
            || matches!(b, Condition::AnyGroup(qs) if !qs.is_empty() && qs.iter().all(|q| forces(*q, p, patterns)))
    };
    match a {
        Condition::Always => true,
        Condition::Group(p) => guarantees(*p),
        Condition::AllGroups(ps) => ps.iter().all(|p| guarantees(*p)),
        Condition::AnyGroup(ps) => {
            ps.iter().any(|p| guarantees(*p))
                || matches!(b, Condition::AnyGroup(qs) if !qs.is_empty()
                    && qs.iter().all(|q| ps.iter().any(|p| forces(*q, *p, patterns))))
        }
        Condition::Attribute { name, values } => match b {
            Condition::Attribute {
                name: bn,
                values: bv,
            } => bn.canonical() == name.canonical() && bv.iter().all(|v| values.contains(v)),
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::pattern::PatternKind;

    fn rule(index: usize, conditions: Vec<Condition>) -> Rule {
        Rule {
            index,
            name: None,
            line: index,
            conditions,
            access_group: "g".into(),
        }
    }

    fn attr(name: &str, values: &[&str]) -> Condition {
        Condition::Attribute {
            name: AttributeName::new(name),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn implication_table() {
        let mut p = PatternIndex::new(false);
        let admins = p.intern(PatternKind::Exact, "Admins").unwrap();
        let ops = p.intern(PatternKind::Exact, "Ops").unwrap();
        let fin_eu = p.intern(PatternKind::Exact, "Fin-EU").unwrap();
        let fin_glob = p.intern(PatternKind::Glob, "Fin-*").unwrap();
        let star = p.intern(PatternKind::Glob, "*").unwrap();
        let re = p.intern(PatternKind::Regex, "Fin-[A-Z]+").unwrap();
        p.finish().unwrap();
        use Condition::*;
        // (later rule's conditions, earlier rule's conditions, later is shadowed)
        let cases: Vec<(Vec<Condition>, Vec<Condition>, bool)> = vec![
            (vec![Group(admins)], vec![Group(admins)], true),
            (vec![Group(admins)], vec![Group(ops)], false),
            (
                vec![Group(admins), attr("department", &["Finance"])],
                vec![Group(admins)],
                true,
            ),
            (
                vec![Group(admins)],
                vec![Group(admins), attr("department", &["Finance"])],
                false,
            ),
            (vec![AllGroups(vec![admins, ops])], vec![Group(ops)], true),
            (vec![Group(ops)], vec![AllGroups(vec![admins, ops])], false),
            (vec![Group(ops)], vec![AnyGroup(vec![admins, ops])], true),
            (vec![AnyGroup(vec![admins, ops])], vec![Group(ops)], false),
            (
                vec![AnyGroup(vec![admins, ops])],
                vec![AnyGroup(vec![ops, admins, fin_eu])],
                true,
            ),
            (vec![Group(fin_eu)], vec![Group(fin_glob)], true),
            (vec![Group(fin_glob)], vec![Group(fin_eu)], false),
            (vec![Group(fin_eu)], vec![Group(re)], true),
            (vec![Group(admins)], vec![Group(re)], false),
            (vec![Group(re)], vec![Group(star)], true),
            (vec![attr("ou", &["x"])], vec![Group(star)], false),
            (
                vec![attr("ou", &["x"])],
                vec![attr("urn:oid:2.5.4.11", &["x", "y"])],
                true,
            ),
            (
                vec![attr("ou", &["x", "y"])],
                vec![attr("ou", &["x"])],
                false,
            ),
            (vec![attr("ou", &["x"])], vec![attr("o", &["x"])], false),
            (vec![attr("ou", &["x"])], vec![Always], true),
        ];
        for (i, (later, earlier, expected)) in cases.into_iter().enumerate() {
            let later = rule(2, later);
            let earlier = rule(1, earlier);
            assert_eq!(later.implies(&earlier, &p), expected, "case {i}");
        }
    }
}
