//! The shared vocabulary of every stage: [`Finding`] (with its optional [`Fix`]), [`Severity`],
//! [`Category`], [`Location`] and the [`Sources`] that findings point into.
//!
//! A finding is about the user's repository (a migration failed to replay, a MySQL construct sits in a
//! PostgreSQL migration, a file the runner would never apply). It stores byte offsets only; lines and
//! columns are computed when a report is written. An *error* (pgrehearse could not do its job) is not a
//! finding: it travels as a `Result::Err` and ends the run with exit code 2.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use pgrehearse_sql::{LineIndex, Span};

/// How serious a finding is. Ordered: `Notice < Warning < Error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Notice,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Notice => "notice",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "notice" => Ok(Severity::Notice),
            "warning" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            other => Err(format!(
                "unknown severity `{other}` (expected error, warning or notice)"
            )),
        }
    }
}

/// The family a finding belongs to; part of the JSON contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// A migration failed when replayed the way its runner applies it.
    MigrationError,
    /// SQL of another database (MySQL, SQLite, T-SQL) or a project configured for another provider.
    Dialect,
    /// The layout on disk disagrees with what the runner would apply (orphans, duplicates, missing files).
    Discovery,
    /// A failure would leave the database half-migrated.
    PartialFailure,
    /// A statement takes a dangerous lock or rewrites a table.
    Lock,
    /// The schema built by the migrations differs from a declared schema or a live database.
    Drift,
    /// The replay needs something the engine does not provide (an extension, a role, a newer server).
    Environment,
    /// pgrehearse's own settings in the repository: suppression comments, the findings baseline.
    Configuration,
    /// A statement reaches outside the database (programs, server files, untrusted code, the server's
    /// configuration) or widens who can do what (superusers, write grants to PUBLIC, passwords).
    Security,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::MigrationError => "migration-error",
            Category::Dialect => "dialect",
            Category::Discovery => "discovery",
            Category::PartialFailure => "partial-failure",
            Category::Lock => "lock",
            Category::Drift => "drift",
            Category::Environment => "environment",
            Category::Configuration => "configuration",
            Category::Security => "security",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a finding points: a file relative to the checked root, and a byte span in it when known.
/// A finding about a whole file has no span.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Location {
    /// Path relative to the checked root, as found on disk.
    pub file: PathBuf,
    /// Byte range in the file, serialized as `{"start": N, "end": N}`.
    #[serde(with = "opt_span")]
    pub span: Option<Span>,
}

/// Serde for `Option<Span>` (the `sql` crate stays free of dependencies).
mod opt_span {
    use super::Span;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Raw {
        start: usize,
        end: usize,
    }

    pub fn serialize<S: Serializer>(span: &Option<Span>, s: S) -> Result<S::Ok, S::Error> {
        span.map(|sp| Raw {
            start: sp.start,
            end: sp.end,
        })
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Span>, D::Error> {
        Ok(Option::<Raw>::deserialize(d)?.map(|r| Span::new(r.start, r.end)))
    }
}

/// Facts observed while producing a finding. Every field is optional; absent ones are not serialized
/// (and read back as absent: findings are cached with replay snapshots, see `crate::cache`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Evidence {
    /// PostgreSQL SQLSTATE of the error that was observed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sqlstate: Option<String>,
    /// PostgreSQL's DETAIL line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// PostgreSQL's HINT line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The migration (version or name) the finding belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration: Option<String>,
    /// 1-based index of the statement within its migration file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<usize>,
    /// Migrations the runner would not apply because of this finding.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_applied: Vec<String>,
    /// Further named facts (construct ids, runner names, object names).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
    /// The replay failure that confirmed this static finding at the same statement, folded into it
    /// (see `rules::confirm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_by: Option<Confirmation>,
}

/// A replay failure folded into the static finding that predicted it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// The replay's rule id (`migration-failed`, `needs-privilege`).
    pub rule: String,
    /// The replay's message.
    pub message: String,
    /// The replay's help, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Where the replay's finding pointed (kept for the findings baseline; not serialized).
    #[serde(skip)]
    pub location: Option<Location>,
}

/// One problem in the user's repository.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable kebab-case rule id that names the hazard, e.g. `migration-failed`, `mysql-syntax`.
    pub rule: String,
    pub category: Category,
    pub severity: Severity,
    /// One sentence: what happens, to which object.
    pub message: String,
    /// A short imperative line saying what to do, when there is one.
    pub help: Option<String>,
    pub location: Option<Location>,
    pub evidence: Evidence,
    /// A machine-applicable edit that resolves the finding, when there is a mechanical one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
}

/// A suggested edit: replace `span` of `file` with `replacement`. A fix that touches several places
/// of a statement is one edit over the part of the statement that spans them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fix {
    /// Path relative to the checked root (the finding's file).
    pub file: PathBuf,
    /// Byte range replaced (empty: an insertion), serialized as `{"start": N, "end": N}`.
    #[serde(with = "span_serde")]
    pub span: Span,
    pub replacement: String,
    /// Applying it keeps what the migration does and cannot break the runner's way of applying it;
    /// `--fix` applies only safe fixes. An unsafe fix is still shown as a suggestion.
    pub safe: bool,
}

/// Serde for a [`Span`] (the `sql` crate stays free of dependencies).
mod span_serde {
    use super::Span;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Raw {
        start: usize,
        end: usize,
    }

    pub fn serialize<S: Serializer>(span: &Span, s: S) -> Result<S::Ok, S::Error> {
        Raw {
            start: span.start,
            end: span.end,
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        let r = Raw::deserialize(d)?;
        Ok(Span::new(r.start, r.end))
    }
}

impl Finding {
    pub fn new(
        rule: &str,
        category: Category,
        severity: Severity,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            rule: rule.to_string(),
            category,
            severity,
            message: message.into(),
            help: None,
            location: None,
            evidence: Evidence::default(),
            fix: None,
        }
    }

    /// Attaches a fix replacing `span` of the finding's file (the file of its location; no fix is
    /// attached to a finding without a location).
    pub fn fix(mut self, span: Span, replacement: impl Into<String>, safe: bool) -> Finding {
        if let Some(location) = &self.location {
            self.fix = Some(Fix {
                file: location.file.clone(),
                span,
                replacement: replacement.into(),
                safe,
            });
        }
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Finding {
        self.help = Some(help.into());
        self
    }

    pub fn at(mut self, file: impl Into<PathBuf>, span: Option<Span>) -> Finding {
        self.location = Some(Location {
            file: file.into(),
            span,
        });
        self
    }

    pub fn evidence(mut self, evidence: Evidence) -> Finding {
        self.evidence = evidence;
        self
    }

    /// Sort key: file, then position, then rule; findings without a location come first.
    pub fn sort_key(&self) -> (Option<&Path>, usize, &str) {
        match &self.location {
            Some(loc) => (
                Some(loc.file.as_path()),
                loc.span.map(|s| s.start).unwrap_or(0),
                &self.rule,
            ),
            None => (None, 0, &self.rule),
        }
    }
}

/// The text of every file findings may point into, keyed by the path relative to the checked root.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: BTreeMap<PathBuf, Arc<str>>,
}

impl Sources {
    pub fn new() -> Sources {
        Sources::default()
    }

    pub fn insert(&mut self, rel_path: impl Into<PathBuf>, text: Arc<str>) {
        self.files.insert(rel_path.into(), text);
    }

    pub fn get(&self, rel_path: &Path) -> Option<&str> {
        self.files.get(rel_path).map(|t| &**t)
    }

    /// Every file with its text, in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&Path, &str)> {
        self.files.iter().map(|(p, t)| (p.as_path(), &**t))
    }
}

/// A resolved position of a finding, for reporters: 1-based lines and columns (columns count characters).
/// `end_column` is exclusive: the column just after the last character of the span.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Position {
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
}

impl Position {
    /// Resolves a span in `text`. An empty span resolves to a single point.
    pub fn resolve(text: &str, index: &LineIndex, span: Span) -> Position {
        let (line, column) = index.line_col(text, span.start);
        let (end_line, end_column) = index.line_col(text, span.end.max(span.start));
        Position {
            line,
            column,
            end_line,
            end_column,
        }
    }
}

/// Outcome of one replayed migration set, for summaries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetSummary {
    /// Directory of the set, relative to the checked root.
    pub path: PathBuf,
    /// The runner whose semantics were replayed (`drizzle`, `prisma`, `golang-migrate`, `psql`, ...).
    pub runner: String,
    /// Number of migrations in the set.
    pub migrations: usize,
    /// Number of migrations that were applied and committed.
    pub applied: usize,
    /// `ok`, `failed`, `skipped` (not replayed: see the findings) or `static` (no database was used).
    pub status: String,
}

/// Everything a reporter needs: findings (sorted) plus what was replayed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub sets: Vec<SetSummary>,
    /// The engine used (`docker`, `local`, `url`), if a database was needed.
    pub engine: Option<String>,
    /// Findings left out by `pgrehearse-ignore` comments.
    #[serde(default)]
    pub suppressed: usize,
    /// Findings left out because the baseline file records them.
    #[serde(default)]
    pub baselined: usize,
    /// Findings left out because they judge a migration that has already shipped (lock, rewrite,
    /// destructive, partial-failure and data-dependent rules on a migration production has applied);
    /// `--all-history` reports them.
    #[serde(default)]
    pub historical: usize,
    /// What counted as already shipped in this run.
    #[serde(default)]
    pub history: Option<History>,
}

/// What counted as already shipped (see `crate::history`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// How it was worked out: `all-history` (nothing counts as shipped), `since` (files present at
    /// `--since REF`), `pull-request` (files present on the pull request's base commit), `commits`
    /// (files committed before each set's newest migration appeared), `live` (what the live database's
    /// bookkeeping lists as applied) or `none` (no git history to read: nothing counts as shipped).
    pub basis: String,
    /// The git revision compared with (`since`, `pull-request`).
    pub revision: Option<String>,
    /// Migrations counted as shipped.
    pub shipped: usize,
}

impl History {
    /// A short phrase for summaries: where the shipped migrations were found.
    pub fn describe(&self) -> String {
        let short = |rev: &str| -> String {
            if rev.len() >= 40 && rev.bytes().all(|b| b.is_ascii_hexdigit()) {
                rev[..12].to_string()
            } else {
                rev.to_string()
            }
        };
        match (self.basis.as_str(), &self.revision) {
            ("pull-request", Some(rev)) => {
                format!("present on the pull request's base {}", short(rev))
            }
            ("since", Some(rev)) => format!("present at {}", short(rev)),
            ("live", _) => "applied to the live database".to_string(),
            ("commits", _) => "committed before each set's newest migration".to_string(),
            (basis, _) => basis.to_string(),
        }
    }
}

impl Report {
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// The most severe finding, if any.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// Sorts the findings by [`Finding::sort_key`], stably. A long history's tens of thousands of
    /// findings are ordered through their files' ranks and their indices: comparing paths component
    /// by component and moving whole findings while sorting took tens of milliseconds.
    pub fn sort(&mut self) {
        let keys: Vec<(Option<usize>, usize)> = {
            let distinct: std::collections::HashSet<&std::ffi::OsStr> = self
                .findings
                .iter()
                .filter_map(|f| f.location.as_ref().map(|l| l.file.as_os_str()))
                .collect();
            let mut paths: Vec<&Path> = distinct.into_iter().map(Path::new).collect();
            paths.sort();
            // Paths that compare equal (`a/./b`, `a/b`) share a rank.
            let mut rank: std::collections::HashMap<&std::ffi::OsStr, usize> =
                std::collections::HashMap::new();
            let mut next = 0;
            let mut previous: Option<&Path> = None;
            for path in paths {
                if previous.is_some_and(|p| p != path) {
                    next += 1;
                }
                rank.entry(path.as_os_str()).or_insert(next);
                previous = Some(path);
            }
            self.findings
                .iter()
                .map(|f| match &f.location {
                    Some(loc) => (
                        rank.get(loc.file.as_os_str()).copied(),
                        loc.span.map(|s| s.start).unwrap_or(0),
                    ),
                    None => (None, 0),
                })
                .collect()
        };
        let mut order: Vec<usize> = (0..self.findings.len()).collect();
        order.sort_by(|&a, &b| {
            keys[a]
                .cmp(&keys[b])
                .then_with(|| self.findings[a].rule.cmp(&self.findings[b].rule))
        });
        let mut slots: Vec<Option<Finding>> = std::mem::take(&mut self.findings)
            .into_iter()
            .map(Some)
            .collect();
        self.findings = Vec::with_capacity(order.len());
        self.findings
            .extend(order.into_iter().filter_map(|i| slots[i].take()));
    }
}

/// A committed statement and the object it created, altered, dropped or commented on.
#[derive(Clone, Debug)]
pub struct Provenance {
    pub target: pgrehearse_sql::Target,
    pub file: std::path::PathBuf,
    /// The whole file's text (shared), so that a member can be found inside the statement.
    pub text: std::sync::Arc<str>,
    pub span: Span,
}

/// Groups of changes that share a default severity; the names are the configuration keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriftClass {
    /// A table, column, type, enum value, view, function, schema or extension on one side only.
    Missing,
    /// A column's type, nullability, identity, generated expression or collation.
    Column,
    /// Enum values in another order.
    EnumOrder,
    /// A column default.
    Default,
    /// An index missing, extra or different.
    Index,
    /// A constraint missing, extra or different.
    Constraint,
    /// Any other definition: views, functions, triggers, policies, sequences, domains, table options.
    Definition,
    /// Comments.
    Comment,
    /// Column order.
    ColumnOrder,
    /// A constraint or index with the same definition under another name.
    Rename,
}

impl DriftClass {
    pub fn default_severity(self) -> Severity {
        match self {
            DriftClass::Missing | DriftClass::Column | DriftClass::EnumOrder => Severity::Error,
            DriftClass::Default
            | DriftClass::Index
            | DriftClass::Constraint
            | DriftClass::Definition => Severity::Warning,
            DriftClass::Comment | DriftClass::ColumnOrder | DriftClass::Rename => Severity::Notice,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DriftClass::Missing => "missing",
            DriftClass::Column => "column",
            DriftClass::EnumOrder => "enum-order",
            DriftClass::Default => "default",
            DriftClass::Index => "index",
            DriftClass::Constraint => "constraint",
            DriftClass::Definition => "definition",
            DriftClass::Comment => "comment",
            DriftClass::ColumnOrder => "column-order",
            DriftClass::Rename => "rename",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sort through file ranks orders exactly as comparing [`Finding::sort_key`]s does, stably:
    /// paths compare by component (`a/b` after `a-b`, `a/./b` equal to `a/b`), findings without a
    /// location come first, ties keep their order.
    #[test]
    fn findings_sort_as_their_sort_keys_compare() {
        let files = ["a/b", "a-b", "a/./b", "b", "a/b/c", "a"];
        let rules = ["table-rewrite", "lock-without-timeout"];
        let mut findings = Vec::new();
        for i in 0..60usize {
            let mut f = Finding::new(
                rules[i % 2],
                Category::Lock,
                Severity::Warning,
                format!("finding {i}"),
            );
            if i % 7 != 0 {
                f = f.at(files[i % files.len()], Some(Span::new(i % 4, i % 4 + 1)));
            }
            findings.push(f);
        }
        let mut expected = findings.clone();
        expected.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        let mut report = Report {
            findings,
            ..Report::default()
        };
        report.sort();
        let messages = |f: &[Finding]| f.iter().map(|f| f.message.clone()).collect::<Vec<_>>();
        assert_eq!(messages(&report.findings), messages(&expected));
    }
}
