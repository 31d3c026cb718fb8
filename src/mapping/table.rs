//! Loading a mapping table: TOML text -> a checked [`MappingTable`]. Every check that can be
//! made without a login is made here, so a table that loads cannot fail open at login time.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::aliases::AttributeName;
use super::as_written::{
    OneOrMany, RawAccess, RawAttributes, RawOperator, RawRule, RawTable, StripDomainSetting,
};
use super::error::{MappingLoadError, Problem, ProblemKind, Warning};
use super::pattern::{PatternIndex, PatternKind};
use super::rule::{Condition, Rule};
use super::source::ValueSource;
use super::span::Source;

/// Headers the gateway sets itself (the header contract, `identity::headers`); an extra header must
/// not be able to overwrite one of them.
const RESERVED_HEADERS: &[&str] = &[
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-preferred-username",
    "x-forwarded-groups",
    "x-forwarded-access-group",
    "x-forwarded-name",
];

/// Attributes the groups are read from when the table does not say (`[access] groups`).
const DEFAULT_GROUP_SOURCES: &[&str] = &["groups", "memberOf", "isMemberOf"];
const DEFAULT_EMAIL: &[&str] = &["mail"];
const DEFAULT_NAME: &[&str] = &["displayName", "{givenName} {sn}", "cn"];
const DEFAULT_DEPARTMENT: &[&str] = &["department", "ou"];

/// What happens when no rule matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// This access group.
    Default(String),
    /// The login is refused.
    Deny,
}

/// Where the operator id comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OperatorIdSource {
    NameId,
    Attribute(AttributeName),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StripDomain {
    None,
    /// Any `@domain` suffix and any `DOMAIN\` prefix.
    Any,
    /// Only these domains (folded to lowercase), as `@domain` or `DOMAIN\`.
    Only(Vec<String>),
}

/// A loaded, checked mapping table.
#[derive(Clone, Debug)]
pub struct MappingTable {
    pub(crate) file: PathBuf,
    pub(crate) operator_id: OperatorIdSource,
    pub(crate) lowercase_id: bool,
    pub(crate) strip_domain: StripDomain,
    pub(crate) email: Vec<ValueSource>,
    pub(crate) name: Vec<ValueSource>,
    pub(crate) department: Vec<ValueSource>,
    pub(crate) extra: Vec<(String, Vec<ValueSource>)>,
    pub(crate) required: Vec<AttributeName>,
    pub(crate) groups_from: Vec<AttributeName>,
    pub(crate) ignore_case: bool,
    pub(crate) rules: Vec<Rule>,
    pub(crate) fallback: Fallback,
    /// Line and key of `default` / `deny`, for warnings.
    pub(crate) fallback_at: (usize, String),
    pub(crate) patterns: PatternIndex,
    pub(crate) rules_use_groups: bool,
    /// What loads but is probably not what the admin meant (see [`MappingTable::warnings`]).
    pub(crate) warnings: Vec<Warning>,
}

impl MappingTable {
    /// Reads and checks a table file.
    pub fn load(path: impl AsRef<Path>) -> Result<MappingTable, MappingLoadError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| MappingLoadError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        MappingTable::from_toml(&text, path)
    }

    /// Checks a table given as text; `file` is only used in messages.
    pub fn from_toml(
        text: &str,
        file: impl Into<PathBuf>,
    ) -> Result<MappingTable, MappingLoadError> {
        let file = file.into();
        let src = Source::new(text);
        let raw: RawTable = match toml::from_str(text) {
            Ok(raw) => raw,
            Err(e) => {
                let problem = toml_problem(&src, &e);
                return Err(MappingLoadError::Invalid {
                    file,
                    problems: vec![problem],
                });
            }
        };
        let mut c = Compiler {
            src: &src,
            problems: Vec::new(),
        };
        let table = c.table(raw, file.clone());
        match table {
            Some(table) if c.problems.is_empty() => Ok(table),
            _ => Err(MappingLoadError::Invalid {
                file,
                problems: c.problems,
            }),
        }
    }

    /// The file the table came from.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// What happens when no rule matches.
    pub fn fallback(&self) -> &Fallback {
        &self.fallback
    }

    /// How many rules the decision table has.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// The extra headers this table forwards. The gateway must strip these from every incoming
    /// request too, like its own identity headers, or a client could send its own value.
    pub fn extra_header_names(&self) -> Vec<&str> {
        self.extra.iter().map(|(h, _)| h.as_str()).collect()
    }

    /// Settings that load but are probably not what was meant, each with its line.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Every access group the table can hand out: the rules' in order, then the default.
    pub fn access_groups(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let rules = self.rules.iter().map(|r| r.access_group.as_str());
        let default = match &self.fallback {
            Fallback::Default(g) => Some(g.as_str()),
            Fallback::Deny => None,
        };
        for g in rules.chain(default) {
            if !out.contains(&g) {
                out.push(g);
            }
        }
        out
    }
}

/// Why `strip_domain = true` is worth a warning: the operator id is the user's key at the
/// backend, and removing every domain merges the accounts of different organisations.
const STRIP_ANY_DOMAIN: &str = "strip_domain = true removes ANY domain, so users of different \
domains become one operator (ceo@example.com, ceo@evil.example and EVIL\\ceo are all \"ceo\"); \
list the domains to strip instead, e.g. strip_domain = [\"example.com\"], and ids of other \
domains keep theirs";

/// Turns a toml error (syntax, unknown key, wrong type, missing key) into a located problem.
fn toml_problem(src: &Source<'_>, e: &toml::de::Error) -> Problem {
    let span = e.span().unwrap_or(0..0);
    let table = src.table_path(span.start);
    // For an unknown key the span is the key itself; otherwise read the key on that line.
    let key = if e.message().starts_with("unknown field") {
        src.slice(&span).map(|k| k.trim_matches('"').to_owned())
    } else {
        src.key_on_line(span.start)
    };
    let key = key.unwrap_or_default();
    // An unknown table (`[extra_header]`) is reported on its own header line.
    let on_header = table == key || table.ends_with(&format!(".{key}"));
    Problem {
        line: src.line(span.start),
        key: if on_header {
            table
        } else {
            Source::join(&table, &key)
        },
        kind: ProblemKind::Toml(e.message().trim().to_owned()),
    }
}

struct Compiler<'a> {
    src: &'a Source<'a>,
    problems: Vec<Problem>,
}

impl Compiler<'_> {
    fn problem(&mut self, span: &Range<usize>, key: impl Into<String>, kind: ProblemKind) {
        self.problems.push(Problem {
            line: self.src.line_of(span),
            key: key.into(),
            kind,
        });
    }

    fn problem_at(&mut self, line: usize, key: impl Into<String>, kind: ProblemKind) {
        self.problems.push(Problem {
            line,
            key: key.into(),
            kind,
        });
    }

    fn table(&mut self, raw: RawTable, file: PathBuf) -> Option<MappingTable> {
        let required = raw
            .required_attributes
            .iter()
            .filter_map(|a| self.attribute_name(a, "required_attributes"))
            .collect();
        let strip_any_line = raw
            .operator
            .as_ref()
            .and_then(|o| o.get_ref().strip_domain.as_ref())
            .filter(|s| matches!(s.get_ref(), StripDomainSetting::Any(true)))
            .map(|s| self.src.line_of(&s.span()));
        let (operator_id, lowercase_id, strip_domain) = self.operator(raw.operator);
        let (email, name, department) = self.attributes(raw.attributes);
        let extra = self.extra_headers(raw.extra_headers);
        let access_span = raw.access.span();
        let access = raw.access.into_inner();
        let ignore_case = access.ignore_case;
        let mut patterns = PatternIndex::new(ignore_case);
        let groups_from = self.groups_from(&access);
        let fallback = self.fallback(&access, &access_span);
        let rules = self.rules(&access.rules, &mut patterns, ignore_case);
        if let Err(e) = patterns.finish() {
            self.problem(
                &access_span,
                "access.rule",
                ProblemKind::BadRegex {
                    pattern: "(all globs and regexes together)".to_owned(),
                    reason: e.to_string(),
                },
            );
        }
        let rules_use_groups = rules
            .iter()
            .any(|r| r.conditions.iter().any(Condition::uses_groups));
        if rules_use_groups && groups_from.is_empty() {
            let span = access
                .groups
                .as_ref()
                .map_or(access_span.clone(), Spanned::span);
            self.problem(&span, "access.groups", ProblemKind::NoGroupSource);
        }
        self.check_reachability(&rules, &patterns);
        let (fallback, fallback_at) = fallback?;
        let warnings = strip_any_line
            .map(|line| Warning {
                file: file.clone(),
                line,
                key: "operator.strip_domain".to_owned(),
                message: STRIP_ANY_DOMAIN.to_owned(),
            })
            .into_iter()
            .collect();
        Some(MappingTable {
            file,
            operator_id,
            lowercase_id,
            strip_domain,
            email,
            name,
            department,
            extra,
            required,
            groups_from,
            ignore_case,
            rules,
            fallback,
            fallback_at,
            patterns,
            rules_use_groups,
            warnings,
        })
    }

    fn attribute_name(&mut self, written: &Spanned<String>, key: &str) -> Option<AttributeName> {
        let name = written.get_ref().trim();
        if name.is_empty() {
            self.problem(
                &written.span(),
                key,
                ProblemKind::Empty {
                    what: "an attribute name".to_owned(),
                },
            );
            return None;
        }
        Some(AttributeName::new(name))
    }

    fn operator(
        &mut self,
        raw: Option<Spanned<RawOperator>>,
    ) -> (OperatorIdSource, bool, StripDomain) {
        let Some(raw) = raw.map(Spanned::into_inner) else {
            return (OperatorIdSource::NameId, false, StripDomain::None);
        };
        let id = match &raw.id {
            None => OperatorIdSource::NameId,
            Some(id) => {
                let written = id.get_ref().trim();
                let folded: String = written
                    .chars()
                    .filter(|c| *c != '_')
                    .collect::<String>()
                    .to_ascii_lowercase();
                if folded == "nameid" {
                    OperatorIdSource::NameId
                } else {
                    match self.attribute_name(id, "operator.id") {
                        Some(name) => OperatorIdSource::Attribute(name),
                        None => OperatorIdSource::NameId,
                    }
                }
            }
        };
        let strip = match &raw.strip_domain {
            None => StripDomain::None,
            Some(s) => match s.get_ref() {
                StripDomainSetting::Any(true) => StripDomain::Any,
                StripDomainSetting::Any(false) => StripDomain::None,
                StripDomainSetting::Only(domains) => {
                    let domains: Vec<String> = domains
                        .iter()
                        .map(|d| d.trim().trim_start_matches('@').to_lowercase())
                        .collect();
                    if domains.is_empty() || domains.iter().any(String::is_empty) {
                        self.problem(
                            &s.span(),
                            "operator.strip_domain",
                            ProblemKind::Empty {
                                what: "a domain to strip".to_owned(),
                            },
                        );
                    }
                    StripDomain::Only(domains)
                }
            },
        };
        (id, raw.lowercase, strip)
    }

    fn sources(
        &mut self,
        raw: Option<&Spanned<OneOrMany>>,
        key: &str,
        default: &[&str],
    ) -> Vec<ValueSource> {
        let Some(raw) = raw else {
            return default
                .iter()
                .filter_map(|d| ValueSource::parse(d).ok())
                .collect();
        };
        let mut out = Vec::new();
        for written in &raw.get_ref().0 {
            match ValueSource::parse(written) {
                Ok(s) => out.push(s),
                Err(reason) => self.problem(
                    &raw.span(),
                    key,
                    ProblemKind::BadTemplate {
                        template: written.clone(),
                        reason,
                    },
                ),
            }
        }
        out
    }

    fn attributes(
        &mut self,
        raw: Option<Spanned<RawAttributes>>,
    ) -> (Vec<ValueSource>, Vec<ValueSource>, Vec<ValueSource>) {
        let raw = raw.map(Spanned::into_inner).unwrap_or(RawAttributes {
            email: None,
            name: None,
            department: None,
        });
        (
            self.sources(raw.email.as_ref(), "attributes.email", DEFAULT_EMAIL),
            self.sources(raw.name.as_ref(), "attributes.name", DEFAULT_NAME),
            self.sources(
                raw.department.as_ref(),
                "attributes.department",
                DEFAULT_DEPARTMENT,
            ),
        )
    }

    fn extra_headers(
        &mut self,
        raw: std::collections::BTreeMap<Spanned<String>, Spanned<OneOrMany>>,
    ) -> Vec<(String, Vec<ValueSource>)> {
        let mut out: Vec<(String, Vec<ValueSource>)> = Vec::new();
        // In file order, so problems and headers come out in the order the admin wrote them.
        let mut entries: Vec<_> = raw.into_iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        for (header, value) in entries {
            let name = header.get_ref().trim().to_owned();
            let key = format!("extra_headers.{name:?}");
            let valid =
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !valid {
                self.problem(&header.span(), key, ProblemKind::BadHeaderName { name });
                continue;
            }
            let lower = name.to_ascii_lowercase();
            if RESERVED_HEADERS.contains(&lower.as_str()) {
                self.problem(&header.span(), key, ProblemKind::ReservedHeader { name });
                continue;
            }
            if out.iter().any(|(h, _)| h.eq_ignore_ascii_case(&name)) {
                self.problem(&header.span(), key, ProblemKind::DuplicateHeader { name });
                continue;
            }
            let sources = self.sources(Some(&value), &key, &[]);
            if value.get_ref().0.is_empty() {
                self.problem(
                    &value.span(),
                    key,
                    ProblemKind::Empty {
                        what: "the attribute list".to_owned(),
                    },
                );
            }
            out.push((name, sources));
        }
        out
    }

    fn groups_from(&mut self, access: &RawAccess) -> Vec<AttributeName> {
        match &access.groups {
            None => DEFAULT_GROUP_SOURCES
                .iter()
                .map(|n| AttributeName::new(n))
                .collect(),
            Some(list) => {
                let mut out = Vec::new();
                for n in &list.get_ref().0 {
                    if n.trim().is_empty() {
                        self.problem(
                            &list.span(),
                            "access.groups",
                            ProblemKind::Empty {
                                what: "an attribute name".to_owned(),
                            },
                        );
                    } else {
                        out.push(AttributeName::new(n.trim()));
                    }
                }
                out
            }
        }
    }

    fn access_group(&mut self, value: &Spanned<String>, key: &str, what: &str) -> Option<String> {
        let g = value.get_ref().trim();
        if g.is_empty() {
            self.problem(
                &value.span(),
                key,
                ProblemKind::Empty {
                    what: what.to_owned(),
                },
            );
            return None;
        }
        if g.chars().any(|c| c.is_control() || c == ',') {
            self.problem(
                &value.span(),
                key,
                ProblemKind::BadAccessGroup {
                    what: what.to_owned(),
                    value: g.to_owned(),
                },
            );
            return None;
        }
        Some(g.to_owned())
    }

    fn fallback(
        &mut self,
        access: &RawAccess,
        access_span: &Range<usize>,
    ) -> Option<(Fallback, (usize, String))> {
        let deny = access.deny.as_ref().filter(|d| *d.get_ref());
        match (&access.default, deny) {
            (Some(d), Some(_)) => {
                self.problem(&d.span(), "access.default", ProblemKind::DefaultAndDeny);
                None
            }
            (None, None) => {
                let span = access
                    .deny
                    .as_ref()
                    .map_or(access_span.clone(), Spanned::span);
                self.problem(&span, "access", ProblemKind::NoFallback);
                None
            }
            (Some(d), None) => {
                let g = self.access_group(d, "access.default", "the default access group")?;
                Some((
                    Fallback::Default(g),
                    (self.src.line_of(&d.span()), "access.default".to_owned()),
                ))
            }
            (None, Some(d)) => Some((
                Fallback::Deny,
                (self.src.line_of(&d.span()), "access.deny".to_owned()),
            )),
        }
    }

    fn rules(
        &mut self,
        raw: &[Spanned<RawRule>],
        patterns: &mut PatternIndex,
        ignore_case: bool,
    ) -> Vec<Rule> {
        let mut rules: Vec<Rule> = Vec::new();
        let mut names: Vec<(String, usize, usize)> = Vec::new();
        for (i, spanned) in raw.iter().enumerate() {
            let index = i + 1;
            let rule_key = format!("access.rule[{index}]");
            let line = self.src.line_of(&spanned.span());
            let r = spanned.get_ref();
            let mut ok = true;
            let mut conditions = Vec::new();

            let name = r.name.as_ref().map(|n| n.get_ref().trim().to_owned());
            if let (Some(n), Some(span)) = (&name, r.name.as_ref().map(Spanned::span)) {
                if let Some((_, first, first_line)) = names.iter().find(|(m, _, _)| m == n) {
                    self.problem(
                        &span,
                        format!("{rule_key}.name"),
                        ProblemKind::DuplicateRuleName {
                            name: n.clone(),
                            first: *first,
                            first_line: *first_line,
                        },
                    );
                } else {
                    names.push((n.clone(), index, line));
                }
            }

            let mut single =
                |c: &mut Self, v: &Option<Spanned<String>>, key: &str, kind: PatternKind| {
                    if let Some(v) = v {
                        match c.pattern(
                            v.get_ref(),
                            &v.span(),
                            &format!("{rule_key}.{key}"),
                            kind,
                            patterns,
                        ) {
                            Some(id) => conditions.push(Condition::Group(id)),
                            None => ok = false,
                        }
                    }
                };
            single(self, &r.group, "group", PatternKind::Exact);
            single(self, &r.group_glob, "group_glob", PatternKind::Glob);
            single(self, &r.group_regex, "group_regex", PatternKind::Regex);

            for (list, key, all) in [
                (&r.any_group, "any_group", false),
                (&r.all_groups, "all_groups", true),
            ] {
                let Some(list) = list else { continue };
                let key = format!("{rule_key}.{key}");
                if list.get_ref().is_empty() {
                    self.problem(
                        &list.span(),
                        &key,
                        ProblemKind::Empty {
                            what: "the group list".to_owned(),
                        },
                    );
                    ok = false;
                    continue;
                }
                let mut ids = Vec::new();
                for g in list.get_ref() {
                    match self.pattern(g, &list.span(), &key, PatternKind::Exact, patterns) {
                        Some(id) if !ids.contains(&id) => ids.push(id),
                        Some(_) => {}
                        None => ok = false,
                    }
                }
                conditions.push(if all {
                    Condition::AllGroups(ids)
                } else {
                    Condition::AnyGroup(ids)
                });
            }

            if let Some(attrs) = &r.attribute {
                let key = format!("{rule_key}.attribute");
                if attrs.get_ref().is_empty() {
                    self.problem(
                        &attrs.span(),
                        &key,
                        ProblemKind::Empty {
                            what: "the attribute condition".to_owned(),
                        },
                    );
                    ok = false;
                }
                for (name, values) in attrs.get_ref() {
                    let values: Vec<String> = values
                        .0
                        .iter()
                        .map(|v| {
                            if ignore_case {
                                v.to_lowercase()
                            } else {
                                v.clone()
                            }
                        })
                        .collect();
                    if name.trim().is_empty()
                        || values.is_empty()
                        || values.iter().any(String::is_empty)
                    {
                        self.problem(
                            &attrs.span(),
                            format!("{key}.{name}"),
                            ProblemKind::Empty {
                                what: "an attribute name or value".to_owned(),
                            },
                        );
                        ok = false;
                        continue;
                    }
                    conditions.push(Condition::Attribute {
                        name: AttributeName::new(name.trim()),
                        values,
                    });
                }
            }

            if let Some(always) = &r.always {
                if *always.get_ref() {
                    conditions.push(Condition::Always);
                } else {
                    self.problem(
                        &always.span(),
                        format!("{rule_key}.always"),
                        ProblemKind::AlwaysFalse,
                    );
                    ok = false;
                }
            }

            if conditions.is_empty() && ok {
                self.problem(
                    &spanned.span(),
                    &rule_key,
                    ProblemKind::RuleWithoutCondition { index },
                );
                ok = false;
            }

            let access_group = match &r.access_group {
                Some(g) => {
                    self.access_group(g, &format!("{rule_key}.access_group"), "the access group")
                }
                None => {
                    self.problem(
                        &spanned.span(),
                        &rule_key,
                        ProblemKind::RuleWithoutAccessGroup { index },
                    );
                    None
                }
            };

            if let (true, Some(access_group)) = (ok, access_group) {
                rules.push(Rule {
                    index,
                    name,
                    line,
                    conditions,
                    access_group,
                });
            }
        }
        rules
    }

    fn pattern(
        &mut self,
        written: &str,
        span: &Range<usize>,
        key: &str,
        kind: PatternKind,
        patterns: &mut PatternIndex,
    ) -> Option<usize> {
        if kind == PatternKind::Exact && written.is_empty() {
            self.problem(
                span,
                key,
                ProblemKind::Empty {
                    what: "a group name".to_owned(),
                },
            );
            return None;
        }
        match patterns.intern(kind, written) {
            Ok(id) => Some(id),
            Err(reason) => {
                let pattern = written.to_owned();
                let kind = match kind {
                    PatternKind::Glob => ProblemKind::BadGlob { pattern, reason },
                    _ => ProblemKind::BadRegex { pattern, reason },
                };
                self.problem(span, key, kind);
                None
            }
        }
    }

    /// A rule that an earlier rule always catches first is an error: the admin meant
    /// something else (usually the order is wrong).
    fn check_reachability(&mut self, rules: &[Rule], patterns: &PatternIndex) {
        for (i, later) in rules.iter().enumerate() {
            let earlier = rules.iter().take(i);
            for first in earlier {
                let key = format!("access.rule[{}]", later.index);
                if first.is_catch_all() {
                    self.problem_at(
                        later.line,
                        key,
                        ProblemKind::AfterCatchAll {
                            index: later.index,
                            by: first.index,
                            by_line: first.line,
                        },
                    );
                    break;
                }
                if later.implies(first, patterns) {
                    let kind = if first.implies(later, patterns) {
                        ProblemKind::DuplicateRule {
                            index: later.index,
                            first: first.index,
                            first_line: first.line,
                        }
                    } else {
                        ProblemKind::Shadowed {
                            index: later.index,
                            by: first.index,
                            by_line: first.line,
                        }
                    };
                    self.problem_at(later.line, key, kind);
                    break;
                }
            }
        }
    }
}
