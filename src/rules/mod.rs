//! The `rules` stage: the registry of every rule id pgrehearse reports, and the static checks that need
//! no database.
//!
//! Each rule is one [`Rule`] record in [`RULES`]: a stable kebab-case id naming the hazard, its category,
//! its default severity and a one-line summary. Stages that observe a hazard (discovery, replay) report it
//! under the same id a static check would use. Static checks here take a discovered set and return
//! findings; they never decide how a migration is applied (that is `replay`'s job).

pub mod drift;

use pgrehearse_sql::{self as sql, Dialect};

use crate::discover::MigrationSet;
use crate::model::{Category, Evidence, Finding, Severity};

/// Metadata of one rule.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub id: &'static str,
    pub category: Category,
    pub severity: Severity,
    pub summary: &'static str,
}

/// Every rule pgrehearse can report.
pub const RULES: &[Rule] = &[
    Rule {
        id: "migration-failed",
        category: Category::MigrationError,
        severity: Severity::Error,
        summary: "A migration fails when applied the way its runner applies it.",
    },
    Rule {
        id: "partially-applied",
        category: Category::PartialFailure,
        severity: Severity::Error,
        summary: "A failing migration leaves its earlier statements committed (autocommit runner).",
    },
    Rule {
        id: "table-rewrite",
        category: Category::Lock,
        severity: Severity::Error,
        summary: "A statement rewrites an existing table under an ACCESS EXCLUSIVE lock (observed: its file node changed).",
    },
    Rule {
        id: "index-without-concurrently",
        category: Category::Lock,
        severity: Severity::Warning,
        summary: "CREATE INDEX on an existing table without CONCURRENTLY blocks writes while it builds.",
    },
    Rule {
        id: "validation-scan",
        category: Category::Lock,
        severity: Severity::Warning,
        summary: "Adding a validated constraint or SET NOT NULL scans an existing table under a strong lock.",
    },
    Rule {
        id: "constraint-builds-index",
        category: Category::Lock,
        severity: Severity::Warning,
        summary: "ADD PRIMARY KEY / UNIQUE without USING INDEX builds the index under an ACCESS EXCLUSIVE lock.",
    },
    Rule {
        id: "trigger-on-existing-table",
        category: Category::Lock,
        severity: Severity::Notice,
        summary: "A trigger created on an existing table runs on every write from then on.",
    },
    Rule {
        id: "drop-column",
        category: Category::Lock,
        severity: Severity::Warning,
        summary: "Dropping a column loses its data and breaks running code that reads it.",
    },
    Rule {
        id: "drop-table",
        category: Category::Lock,
        severity: Severity::Warning,
        summary: "Dropping an existing table loses its data and breaks running code that uses it.",
    },
    Rule {
        id: "rename",
        category: Category::Lock,
        severity: Severity::Warning,
        summary: "Renaming a table or column breaks running code that uses the old name.",
    },
    Rule {
        id: "lock-without-timeout",
        category: Category::Lock,
        severity: Severity::Warning,
        summary: "An ACCESS EXCLUSIVE lock on an existing table without a lock_timeout can queue every query.",
    },
    Rule {
        id: "retry-fails",
        category: Category::PartialFailure,
        severity: Severity::Error,
        summary: "Fault injection: a non-atomic migration that fails midway cannot be retried.",
    },
    Rule {
        id: "missing-extension",
        category: Category::Environment,
        severity: Severity::Error,
        summary: "A migration needs an extension the replay server does not have.",
    },
    Rule {
        id: "prelude-failed",
        category: Category::Environment,
        severity: Severity::Error,
        summary: "A configured prelude SQL file fails.",
    },
    Rule {
        id: "runner-rejects-migration",
        category: Category::MigrationError,
        severity: Severity::Error,
        summary: "The migration runner itself refuses the file (missing annotations, mixed transaction modes).",
    },
    Rule {
        id: "unreplayable-migration",
        category: Category::Environment,
        severity: Severity::Notice,
        summary: "A code migration (Go, Java) cannot be replayed; the replay is partial from there.",
    },
    Rule {
        id: "psql-meta-command",
        category: Category::Environment,
        severity: Severity::Notice,
        summary: "A psql meta-command (\\set, \\i, ...) cannot be replayed.",
    },
    Rule {
        id: "mysql-syntax",
        category: Category::Dialect,
        severity: Severity::Error,
        summary: "MySQL syntax in a PostgreSQL migration.",
    },
    Rule {
        id: "sqlite-syntax",
        category: Category::Dialect,
        severity: Severity::Error,
        summary: "SQLite syntax in a PostgreSQL migration.",
    },
    Rule {
        id: "tsql-syntax",
        category: Category::Dialect,
        severity: Severity::Error,
        summary: "T-SQL (SQL Server) syntax in a PostgreSQL migration.",
    },
    Rule {
        id: "dialect-mismatch",
        category: Category::Dialect,
        severity: Severity::Error,
        summary: "Migrations generated for another database provider.",
    },
    Rule {
        id: "journal-orphan",
        category: Category::Discovery,
        severity: Severity::Error,
        summary: "A .sql file in a Drizzle migrations folder that the journal does not list.",
    },
    Rule {
        id: "journal-out-of-order",
        category: Category::Discovery,
        severity: Severity::Warning,
        summary: "A Drizzle journal entry older than the entry before it.",
    },
    Rule {
        id: "missing-migration-file",
        category: Category::Discovery,
        severity: Severity::Error,
        summary: "A migration listed by the runner's journal does not exist.",
    },
    Rule {
        id: "duplicate-version",
        category: Category::Discovery,
        severity: Severity::Error,
        summary: "Two migrations share a version number.",
    },
    Rule {
        id: "unrecognized-migration-file",
        category: Category::Discovery,
        severity: Severity::Warning,
        summary: "A .sql file in a migrations folder that the runner ignores because of its name or place.",
    },
    Rule {
        id: "schema-drift",
        category: Category::Drift,
        severity: Severity::Error,
        summary: "The schema the migrations build differs from a declared schema or a live database (severity by drift class).",
    },
    Rule {
        id: "declared-schema-failed",
        category: Category::Drift,
        severity: Severity::Error,
        summary: "A declared schema file does not load into an empty database.",
    },
    Rule {
        id: "declared-roles-skipped",
        category: Category::Drift,
        severity: Severity::Notice,
        summary: "Ownership or privilege statements of a declared schema name roles the replay server lacks.",
    },
    Rule {
        id: "declared-not-evaluated",
        category: Category::Drift,
        severity: Severity::Notice,
        summary: "Part of an ORM schema (e.g. Drizzle schema.ts) is computed at run time and was not translated.",
    },
    Rule {
        id: "declared-duplicate-table",
        category: Category::Drift,
        severity: Severity::Error,
        summary: "The same table is declared in two places of an ORM schema (e.g. two Drizzle schema files).",
    },
    Rule {
        id: "live-dirty",
        category: Category::Drift,
        severity: Severity::Error,
        summary: "golang-migrate left the live database dirty at a version (a migration failed part-way).",
    },
    Rule {
        id: "live-failed-migration",
        category: Category::Drift,
        severity: Severity::Error,
        summary: "The runner recorded a failed migration on the live database (Prisma, Flyway).",
    },
    Rule {
        id: "live-rolled-back-migration",
        category: Category::Drift,
        severity: Severity::Notice,
        summary: "Prisma recorded a migration as rolled back on the live database; it will be applied again.",
    },
    Rule {
        id: "live-unknown-migration",
        category: Category::Drift,
        severity: Severity::Error,
        summary: "The live database applied a migration that is not in the repository.",
    },
    Rule {
        id: "live-checksum-mismatch",
        category: Category::Drift,
        severity: Severity::Error,
        summary: "A migration file changed after it was applied to the live database.",
    },
    Rule {
        id: "live-skipped-migration",
        category: Category::Drift,
        severity: Severity::Error,
        summary: "A Drizzle migration the high-water-mark logic will never apply (older `when` than the newest applied).",
    },
    Rule {
        id: "live-pending-migrations",
        category: Category::Drift,
        severity: Severity::Warning,
        summary: "Migrations in the repository that are not applied to the live database.",
    },
    Rule {
        id: "no-migrations",
        category: Category::Discovery,
        severity: Severity::Notice,
        summary: "No migration set was found.",
    },
];

/// The registry entry for `id`.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// A finding of rule `id` with the rule's category and default severity.
pub fn finding(id: &str, message: impl Into<String>) -> Finding {
    let (category, severity) = rule(id)
        .map(|r| (r.category, r.severity))
        .unwrap_or((Category::Discovery, Severity::Error));
    debug_assert!(rule(id).is_some(), "rule `{id}` is not in RULES");
    Finding::new(id, category, severity, message)
}

fn dialect_rule(d: Dialect) -> &'static str {
    match d {
        Dialect::MySql => "mysql-syntax",
        Dialect::Sqlite => "sqlite-syntax",
        Dialect::TSql => "tsql-syntax",
    }
}

/// Checks that need only the files: every non-PostgreSQL construct in every migration of the set.
pub fn static_checks(set: &MigrationSet) -> Vec<Finding> {
    let mut findings = Vec::new();
    for m in &set.migrations {
        for hit in sql::detect_dialect(&m.text) {
            findings.push(
                Finding::new(
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
                }),
            );
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for r in RULES {
            assert!(seen.insert(r.id), "duplicate rule id {}", r.id);
            assert!(
                r.id.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{} is not kebab-case",
                r.id
            );
        }
    }
}
