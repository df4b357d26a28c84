//! The `rules` stage: the static checks that need no database, and the drift findings.
//!
//! Static checks here take a discovered set and return findings (ids from [`crate::registry`]); they
//! never decide how a migration is applied (that is `replay`'s job). [`drift`] turns the differences
//! [`crate::diff`] found into findings at the statement that built each object. Dialect findings
//! carry their PostgreSQL rewrite as a fix; [`fixes`] adds the `CONCURRENTLY` and `NOT VALID` fixes
//! of the lock findings once it knows how the runner groups each statement into transactions.
//! [`static_checks_from`] resumes the static checks after the migrations a cache already checked,
//! from the small [`StaticState`] they leave.

pub mod confirm;
pub mod ddl;
pub mod drift;
pub mod fixes;
pub mod partial;
#[cfg(test)]
mod resume_tests;

use pgrehearse_sql::{self as sql, Dialect, Span};

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use crate::model::{Category, Evidence, Finding, Severity, Sources};
use crate::runner::{Migration, MigrationSet};

fn dialect_rule(d: Dialect) -> &'static str {
    match d {
        Dialect::MySql => "mysql-syntax",
        Dialect::Sqlite => "sqlite-syntax",
        Dialect::TSql => "tsql-syntax",
    }
}

/// Checks that need only the files: every non-PostgreSQL construct in every migration of the set.
pub fn static_checks(set: &MigrationSet) -> Vec<Finding> {
    static_checks_from(set, 0, None).0
}

/// What the static checks carry from migrations `..k` of a set to migration `k`, so that
/// [`static_checks_from`] can go on from `k` without reading the earlier files. Deterministic and
/// small (serde JSON), so the replay cache can store it with the findings of migrations `..k`.
///
/// Today only the DDL rules carry anything: the `CHECK (col IS NOT NULL)` constraints proven or still
/// `NOT VALID`, and the routines whose search_path is fixed. The dialect rules read each file alone,
/// and the partial-failure rules each transaction, which never spans migrations outside Drizzle.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StaticState {
    ddl: ddl::Carried,
}

/// The static checks of migrations `start..` of `set`, continuing from `state` (what
/// [`static_checks_from`] returned for the set's migrations `..start`; `None`: nothing carried, the
/// state before the first migration, so only right with `start` 0), and the state after the set's
/// last migration.
///
/// The findings are exactly those of [`static_checks`] located in the files of migrations `start..`,
/// in the same order (each rule and file is bounded alone, so the caps are the same too), and no
/// earlier migration is read. A later migration never changes an earlier one's findings.
///
/// The state is `None` when the set cannot be cut after its last migration: its runner applies every
/// pending migration in one transaction (Drizzle), so what runs after the cut shares a transaction
/// with what ran before it, and which migrations are pending together decides the findings. (A
/// transaction block a file leaves open does not cross: each file is a session or runner transaction
/// of its own.) Such a set is checked from its first migration.
pub fn static_checks_from(
    set: &MigrationSet,
    start: usize,
    state: Option<&StaticState>,
) -> (Vec<Finding>, Option<StaticState>) {
    let mut findings = crate::cap::Bounded::new();
    findings.extend(dialect_checks(set, start));
    findings.extend(partial::findings_from(set, start));
    let carried = state.map(|s| s.ddl.clone()).unwrap_or_default();
    let (ddl_findings, ddl) = ddl::findings_from(set, start, carried);
    findings.extend(ddl_findings);
    let state =
        (!crate::runner::transactions::spans_migrations(set)).then_some(StaticState { ddl });
    (findings.finish(), state)
}

/// Every non-PostgreSQL construct in the `.sql` migrations `start..` of `set`, in the part its runner
/// sends (each file is read alone).
fn dialect_checks(set: &MigrationSet, start: usize) -> Vec<Finding> {
    let mut findings = Vec::new();
    let generated_for = match set.generated_for.as_deref() {
        Some("sqlite") => Some(sql::Dialect::Sqlite),
        Some("mysql") => Some(sql::Dialect::MySql),
        Some("sqlserver") => Some(sql::Dialect::TSql),
        _ => None,
    };
    for m in set.migrations.iter().skip(start) {
        let is_sql = m
            .file
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("sql"));
        if !is_sql {
            // Code migrations (Go, Java): their strings are not SQL the runner sends as written.
            continue;
        }
        // Only the part the runner sends (not a Down section); a file the runner refuses is read whole.
        let sent = |span: Span| {
            m.batches.is_empty()
                || m.batches
                    .iter()
                    .any(|b| b.span.start <= span.start && span.end <= b.span.end)
        };
        let mut hits = sql::detect_dialect(&m.text);
        // `DATETIME` exists in several dialects: the one the migrations were generated for wins.
        if let Some(dialect) = generated_for {
            sql::attribute_datetime(&m.text, &mut hits, dialect);
        }
        for hit in hits.into_iter().filter(|h| sent(h.span)) {
            let mut finding = Finding::new(
                dialect_rule(hit.dialect),
                Category::Dialect,
                Severity::Error,
                hit.message,
            )
            .help(hit.help)
            .at(&m.file, Some(hit.span))
            .evidence(Evidence {
                migration: Some(m.id.clone()),
                extra: [
                    ("construct".to_string(), hit.construct.to_string()),
                    ("dialect".to_string(), hit.dialect.name().to_string()),
                ]
                .into_iter()
                .collect(),
                ..Evidence::default()
            });
            if let Some(fix) = hit.fix {
                // Migrations generated for another database are fixed by changing the provider and
                // generating them again, not by editing them: the rewrite stays a suggestion.
                let safe = fix.safe && generated_for.is_none();
                finding = finding.fix(fix.span, fix.replacement, safe);
            }
            findings.push(finding);
        }
    }
    findings
}

/// Other-dialect SQL in the `.sql` files of a set's folder that its runner never applies (journal
/// orphans, misnamed files, duplicate versions): the file nobody applies today is the one someone
/// will register tomorrow, so its MySQL or T-SQL is reported like an applied file's, marked as such.
///
/// `discovered` are discovery's findings: a whole-file finding names each file the runner skips.
pub fn unapplied_dialect_checks(
    sets: &[MigrationSet],
    discovered: &[Finding],
    sources: &Sources,
) -> Vec<Finding> {
    let applied: BTreeSet<&Path> = sets
        .iter()
        .flat_map(|s| s.migrations.iter().map(|m| m.file.as_path()))
        .collect();
    let mut seen = BTreeSet::new();
    let mut findings = Vec::new();
    for f in discovered {
        let Some(loc) = f.location.as_ref().filter(|l| l.span.is_none()) else {
            continue;
        };
        let file = loc.file.as_path();
        let is_sql = file
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("sql"));
        if !is_sql || applied.contains(file) || !seen.insert(file) {
            continue;
        }
        let Some(text) = sources.get(file) else {
            continue;
        };
        // Judged as the set whose folder holds it would apply it, once registered.
        let Some(set) = sets
            .iter()
            .filter(|s| file.starts_with(&s.dir))
            .max_by_key(|s| s.dir.components().count())
        else {
            continue;
        };
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let unapplied = MigrationSet {
            dir: set.dir.clone(),
            runner: set.runner,
            migrations: vec![Migration::sql(
                name,
                file.to_path_buf(),
                Arc::from(text),
                set.runner,
            )],
            preludes: Vec::new(),
            refused: None,
            schemas: Vec::new(),
            journal_when: Default::default(),
            generated_for: set.generated_for.clone(),
        };
        for mut finding in dialect_checks(&unapplied, 0) {
            finding.message.push_str(&format!(
                " (`{}` is never applied today; registering it as it is would fail)",
                file.display()
            ));
            finding.evidence.migration = None;
            finding
                .evidence
                .extra
                .insert("applied".to_string(), "never".to_string());
            findings.push(finding);
        }
    }
    findings
}
