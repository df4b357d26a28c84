//! The rule registry: every rule id pgrehearse reports, as data (no checks live here).
//!
//! Each rule is one [`Rule`] record in [`RULES`]: a stable kebab-case id naming the hazard, its category,
//! its default severity and a one-line summary, plus its documentation page (`docs/rules/<id>.md`,
//! embedded at build time). Every stage that observes a hazard (discovery, replay, the static checks in
//! [`crate::rules`], drift, live bookkeeping) builds its [`Finding`] with [`finding`], under the same id a
//! static check would use; configuration names rules by these ids.

use crate::model::{Category, Finding, Severity};

/// Every rule id the static DDL rules (`rules::ddl`) report (all static: `pgrehearse lint` reports them). It also reports
/// `rename` for objects other than tables.
pub const DDL_IDS: &[&str] = &[
    "add-required-column",
    "not-null-on-existing-data",
    "unique-on-existing-data",
    "drop-index-without-concurrently",
    "reindex-without-concurrently",
    "vacuum-full-or-cluster",
    "drop-database",
    "drop-schema",
    "drop-object",
    "truncate-table",
    "drop-not-null",
    "drop-default",
    "drop-constraint",
    "identity-change",
    "generated-column-change",
    "replica-identity-change",
    "disable-trigger",
    "autovacuum-disabled",
    "domain-constraint",
    "identifier-too-long",
    "char-column",
    "prefer-text",
    "prefer-bigint",
    "prefer-identity",
    "prefer-timestamptz",
    "copy-program",
    "server-file-access",
    "untrusted-language",
    "alter-system",
    "security-definer-search-path",
    "grant-write-to-public",
    "superuser-role",
    "plain-text-password",
];

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
        summary: "Renaming a table, column or other object breaks running code that uses the old name.",
    },
    Rule {
        id: "lock-without-timeout",
        category: Category::Lock,
        severity: Severity::Warning,
        summary: "An ACCESS EXCLUSIVE lock on an existing table without a lock_timeout can queue every query.",
    },
    Rule {
        id: "detach-partition-without-concurrently",
        category: Category::Lock,
        severity: Severity::Warning,
        summary: "DETACH PARTITION without CONCURRENTLY on an existing partitioned table blocks reads and writes of all of it.",
    },
    Rule {
        id: "add-required-column",
        category: Category::MigrationError,
        severity: Severity::Warning,
        summary: "ADD COLUMN … NOT NULL without a default on an existing table fails as soon as the table has a row.",
    },
    Rule {
        id: "not-null-on-existing-data",
        category: Category::MigrationError,
        severity: Severity::Notice,
        summary: "SET NOT NULL on an existing column fails if a row holds NULL (no backfill earlier in the migration).",
    },
    Rule {
        id: "unique-on-existing-data",
        category: Category::MigrationError,
        severity: Severity::Notice,
        summary: "A unique index, UNIQUE or PRIMARY KEY on an existing table fails if the rows hold duplicates.",
    },
    Rule {
        id: "drop-index-without-concurrently",
        category: Category::Lock,
        severity: Severity::Warning,
        summary: "DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the index's table.",
    },
    Rule {
        id: "reindex-without-concurrently",
        category: Category::Lock,
        severity: Severity::Warning,
        summary: "REINDEX without CONCURRENTLY blocks writes to the tables whose indexes it rebuilds.",
    },
    Rule {
        id: "vacuum-full-or-cluster",
        category: Category::Lock,
        severity: Severity::Warning,
        summary: "VACUUM FULL or CLUSTER rewrites tables under an ACCESS EXCLUSIVE lock.",
    },
    Rule {
        id: "drop-database",
        category: Category::Lock,
        severity: Severity::Warning,
        summary: "A migration drops a database.",
    },
    Rule {
        id: "drop-schema",
        category: Category::Lock,
        severity: Severity::Warning,
        summary: "A migration drops a schema that existed before it (with CASCADE: everything in it).",
    },
    Rule {
        id: "drop-object",
        category: Category::Lock,
        severity: Severity::Warning,
        summary: "A view, routine, type, cast, sequence, foreign table, extension, trigger, policy or other object that existed before the migration is dropped and not re-created.",
    },
    Rule {
        id: "truncate-table",
        category: Category::Lock,
        severity: Severity::Warning,
        summary: "TRUNCATE deletes every row of an existing table (CASCADE: of the tables referencing it too).",
    },
    Rule {
        id: "drop-not-null",
        category: Category::Lock,
        severity: Severity::Notice,
        summary: "DROP NOT NULL on an existing column: running code may rely on it never being NULL.",
    },
    Rule {
        id: "drop-default",
        category: Category::Lock,
        severity: Severity::Notice,
        summary: "DROP DEFAULT on an existing column: inserts that leave it out now store NULL or fail.",
    },
    Rule {
        id: "drop-constraint",
        category: Category::Lock,
        severity: Severity::Notice,
        summary: "An existing constraint is dropped and not added back in the same migration.",
    },
    Rule {
        id: "identity-change",
        category: Category::Lock,
        severity: Severity::Notice,
        summary: "An existing column's identity is dropped, added or switched between ALWAYS and BY DEFAULT.",
    },
    Rule {
        id: "generated-column-change",
        category: Category::Lock,
        severity: Severity::Notice,
        summary: "DROP EXPRESSION or SET EXPRESSION on an existing generated column.",
    },
    Rule {
        id: "replica-identity-change",
        category: Category::Lock,
        severity: Severity::Notice,
        summary: "REPLICA IDENTITY FULL or NOTHING on an existing table changes logical replication.",
    },
    Rule {
        id: "disable-trigger",
        category: Category::Lock,
        severity: Severity::Warning,
        summary: "DISABLE TRIGGER or ENABLE REPLICA TRIGGER with no ENABLE TRIGGER later in the migration (ALL also disables foreign key checks); ENABLE ALWAYS TRIGGER.",
    },
    Rule {
        id: "autovacuum-disabled",
        category: Category::Lock,
        severity: Severity::Notice,
        summary: "autovacuum_enabled = false on a table.",
    },
    Rule {
        id: "domain-constraint",
        category: Category::Lock,
        severity: Severity::Notice,
        summary: "A CHECK or NOT NULL on a domain (CREATE DOMAIN, or ALTER DOMAIN ADD CONSTRAINT on an existing one).",
    },
    Rule {
        id: "identifier-too-long",
        category: Category::Lock,
        severity: Severity::Warning,
        summary: "An identifier over 63 bytes, which PostgreSQL silently truncates.",
    },
    Rule {
        id: "char-column",
        category: Category::Lock,
        severity: Severity::Notice,
        summary: "A char(n) column (blank-padded).",
    },
    Rule {
        id: "prefer-text",
        category: Category::Lock,
        severity: Severity::Notice,
        summary: "A varchar(n) column (text with a CHECK is easier to change).",
    },
    Rule {
        id: "prefer-bigint",
        category: Category::Lock,
        severity: Severity::Notice,
        summary: "A key column (primary key, identity, serial) of type integer or smallint.",
    },
    Rule {
        id: "prefer-identity",
        category: Category::Lock,
        severity: Severity::Notice,
        summary: "A serial column (prefer GENERATED … AS IDENTITY).",
    },
    Rule {
        id: "prefer-timestamptz",
        category: Category::Lock,
        severity: Severity::Notice,
        summary: "A timestamp without time zone column.",
    },
    Rule {
        id: "copy-program",
        category: Category::Security,
        severity: Severity::Error,
        summary: "COPY … TO PROGRAM / FROM PROGRAM runs a shell command on the database server (also a grant of pg_execute_server_program).",
    },
    Rule {
        id: "server-file-access",
        category: Category::Security,
        severity: Severity::Error,
        summary: "COPY to or from a server file, or a server file function (pg_read_file, pg_ls_dir, lo_import, …), reaches the database server's files.",
    },
    Rule {
        id: "untrusted-language",
        category: Category::Security,
        severity: Severity::Warning,
        summary: "A routine or DO block in an untrusted language (C, plpython3u, plperlu, pltclu, …), or CREATE LANGUAGE / CREATE EXTENSION of one.",
    },
    Rule {
        id: "alter-system",
        category: Category::Security,
        severity: Severity::Error,
        summary: "ALTER SYSTEM rewrites the whole server's configuration from a migration.",
    },
    Rule {
        id: "security-definer-search-path",
        category: Category::Security,
        severity: Severity::Warning,
        summary: "A SECURITY DEFINER function or procedure without a fixed search_path (SET search_path = … in its definition).",
    },
    Rule {
        id: "grant-write-to-public",
        category: Category::Security,
        severity: Severity::Warning,
        summary: "GRANT of INSERT, UPDATE, DELETE, TRUNCATE or ALL on tables (CREATE or ALL on a schema or database) TO PUBLIC.",
    },
    Rule {
        id: "superuser-role",
        category: Category::Security,
        severity: Severity::Warning,
        summary: "A role created or altered WITH SUPERUSER.",
    },
    Rule {
        id: "plain-text-password",
        category: Category::Security,
        severity: Severity::Warning,
        summary: "CREATE / ALTER ROLE … PASSWORD '<plain text>' (not a SCRAM or MD5 hash), or a user mapping's password.",
    },
    Rule {
        id: "retry-fails",
        category: Category::PartialFailure,
        severity: Severity::Error,
        summary: "Fault injection: a non-atomic migration that fails midway cannot be retried.",
    },
    Rule {
        id: "non-atomic-migration",
        category: Category::PartialFailure,
        severity: Severity::Warning,
        summary: "A migration with several statements that its runner does not run in one transaction.",
    },
    Rule {
        id: "not-rerunnable",
        category: Category::PartialFailure,
        severity: Severity::Notice,
        summary: "A statement of a non-atomic migration that fails or duplicates data when the file is re-run after a partial failure.",
    },
    Rule {
        id: "transaction-control-in-migration",
        category: Category::PartialFailure,
        severity: Severity::Error,
        summary: "BEGIN / COMMIT / ROLLBACK inside a transaction the runner manages (COMMIT ends it early).",
    },
    Rule {
        id: "not-allowed-in-transaction",
        category: Category::PartialFailure,
        severity: Severity::Error,
        summary: "A statement PostgreSQL refuses inside a transaction block (CREATE INDEX CONCURRENTLY, VACUUM, ...) in a migration run inside one.",
    },
    Rule {
        id: "enum-value-used-in-same-transaction",
        category: Category::PartialFailure,
        severity: Severity::Error,
        summary: "A new enum value used in the transaction that adds it (unsafe use of new value).",
    },
    Rule {
        id: "large-non-atomic-migration",
        category: Category::PartialFailure,
        severity: Severity::Warning,
        summary: "A non-atomic migration so large (over 20 statements or 500 lines) that a failure midway leaves a half-built database.",
    },
    Rule {
        id: "missing-extension",
        category: Category::Environment,
        severity: Severity::Error,
        summary: "A migration needs an extension the replay server does not have.",
    },
    Rule {
        id: "missing-role",
        category: Category::Environment,
        severity: Severity::Error,
        summary: "A migration needs a role the replay server does not have (production provides it).",
    },
    Rule {
        id: "needs-newer-postgres",
        category: Category::Environment,
        severity: Severity::Error,
        summary: "A migration uses syntax or a function of a newer PostgreSQL than the replay server.",
    },
    Rule {
        id: "needs-privilege",
        category: Category::Environment,
        severity: Severity::Error,
        summary: "A migration needs a privilege the replay role (no superuser) lacks; says what production's role needs and what `privileged:` can grant.",
    },
    Rule {
        id: "replay-as-superuser",
        category: Category::Environment,
        severity: Severity::Notice,
        summary: "The migrations were replayed as a superuser (`replay-as: superuser`).",
    },
    Rule {
        id: "roles-created",
        category: Category::Environment,
        severity: Severity::Notice,
        summary: "Roles the migrations use but never create were created for the replay (create-roles).",
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
        id: "drift-incomplete",
        category: Category::Drift,
        severity: Severity::Notice,
        summary: "The replay stopped early: what a declared schema has and the replay lacks is summed up once, not compared.",
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
        id: "declared-settings-skipped",
        category: Category::Drift,
        severity: Severity::Notice,
        summary: "Settings of a declared schema or dump that the replay server does not know (a newer server's pg_dump) were skipped.",
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
        summary: "A pending migration older than the newest applied one: drizzle-kit never applies it, Flyway refuses it without outOfOrder.",
    },
    Rule {
        id: "live-pending-migrations",
        category: Category::Drift,
        severity: Severity::Warning,
        summary: "Migrations in the repository that are not applied to the live database.",
    },
    Rule {
        id: "unused-suppression",
        category: Category::Configuration,
        severity: Severity::Notice,
        summary: "A `pgrehearse-ignore` comment suppresses nothing (the finding is gone, or the rule id is wrong).",
    },
    Rule {
        id: "stale-baseline",
        category: Category::Configuration,
        severity: Severity::Notice,
        summary: "Findings recorded in the baseline file no longer occur; re-run `pgrehearse baseline` to prune them.",
    },
    Rule {
        id: "no-migrations",
        category: Category::Discovery,
        severity: Severity::Notice,
        summary: "No migration set was found.",
    },
    Rule {
        id: "history-unavailable",
        category: Category::Environment,
        severity: Severity::Notice,
        summary: "What has already shipped could not be read (the pull request's base commit is not in the checkout): every migration was judged.",
    },
];

/// Rules whose findings judge a migration before it ships, and that are not lock or partial-failure
/// rules: statements that fail or not depending on the rows production holds.
pub const DATA_DEPENDENT: &[&str] = &[
    "add-required-column",
    "not-null-on-existing-data",
    "unique-on-existing-data",
];

/// Whether findings of rule `id` judge the risk of applying a migration: its locks and rewrites,
/// destructive changes (lock category), what a failure midway leaves behind (partial-failure) and
/// statements that depend on the data ([`DATA_DEPENDENT`]). A migration production has already applied
/// cannot be changed and those risks are past, so these findings are reported only for migrations that
/// have not shipped (`crate::history`). Replay failures, the environment, dialect, discovery, security,
/// drift and configuration findings are about every migration, shipped or not.
pub fn historical(id: &str) -> bool {
    DATA_DEPENDENT.contains(&id)
        || matches!(
            rule(id).map(|r| r.category),
            Some(Category::Lock | Category::PartialFailure)
        )
}

mod generated {
    include!(concat!(env!("OUT_DIR"), "/rule_docs.rs"));
}

/// The documentation of rule `id` (`docs/rules/<id>.md`, markdown), embedded at build time.
pub fn doc(id: &str) -> Option<&'static str> {
    generated::RULE_DOCS
        .binary_search_by(|(doc_id, _)| (*doc_id).cmp(id))
        .ok()
        .map(|i| generated::RULE_DOCS[i].1)
}

/// Ids of every documentation file, for the test that keeps docs and registry in step.
pub fn documented_ids() -> impl Iterator<Item = &'static str> {
    generated::RULE_DOCS.iter().map(|(id, _)| *id)
}

/// Rules that report nothing unless `.pgrehearse.yaml` gives them a level (`rules: {prefer-text:
/// notice}`): type preferences that ORM-generated migrations (Prisma's `TIMESTAMP(3)`, `SERIAL`,
/// `VARCHAR`) would trip on every column. Their registry severity applies once enabled with `on`-like
/// levels (`error`, `warning`, `notice`).
pub const OFF_BY_DEFAULT: &[&str] = &[
    "char-column",
    "prefer-text",
    "prefer-bigint",
    "prefer-identity",
    "prefer-timestamptz",
];

/// The default level of rule `id` as documentation shows it: its severity, or `off (opt-in)`.
pub fn default_level(r: &Rule) -> String {
    if OFF_BY_DEFAULT.contains(&r.id) {
        format!("off (opt-in, {} when enabled)", r.severity)
    } else {
        r.severity.to_string()
    }
}

/// What has to happen for a rule to be observed at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Files only (`pgrehearse lint` runs these).
    Static,
    /// Replaying the migrations.
    Replay,
    /// Replaying with lock tracing.
    Lock,
    /// Replaying with `--fault-injection`.
    FaultInjection,
    /// Comparing with a declared schema or a live database.
    Drift,
    /// Reading a live database's bookkeeping.
    Live,
}

/// The stage that observes rule `id` (by its category, with the few exceptions named here).
pub fn stage(id: &str) -> Stage {
    if DDL_IDS.contains(&id) {
        return Stage::Static;
    }
    if id == "retry-fails" {
        return Stage::FaultInjection;
    }
    if id.starts_with("live-") {
        return Stage::Live;
    }
    if id == "history-unavailable" {
        return Stage::Static;
    }
    if id == "partially-applied" {
        return Stage::Replay;
    }
    match rule(id).map(|r| r.category) {
        Some(Category::MigrationError | Category::Environment) => Stage::Replay,
        Some(Category::Lock) => Stage::Lock,
        Some(Category::Drift) => Stage::Drift,
        Some(
            Category::Dialect
            | Category::Discovery
            | Category::PartialFailure
            | Category::Configuration
            | Category::Security,
        )
        | None => Stage::Static,
    }
}

/// The registry entry for `id`.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// The registered id closest to `id` (a typo), if one is close enough to suggest.
pub fn suggest(id: &str) -> Option<&'static str> {
    RULES
        .iter()
        .map(|r| (edit_distance(id, r.id), r.id))
        .filter(|(d, candidate)| *d <= 3.max(candidate.len() / 4))
        .min()
        .map(|(_, candidate)| candidate)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A finding of rule `id` with the rule's category and default severity.
pub fn finding(id: &str, message: impl Into<String>) -> Finding {
    let (category, severity) = rule(id)
        .map(|r| (r.category, r.severity))
        .unwrap_or((Category::Discovery, Severity::Error));
    debug_assert!(rule(id).is_some(), "rule `{id}` is not in RULES");
    Finding::new(id, category, severity, message)
}

/// Failures observed by the replay that a static rule may have predicted.
pub const REPLAY_FAILURES: &[&str] = &["migration-failed", "needs-privilege"];

/// Static rules whose finding predicts that the statement fails when replayed, with the replay
/// failures that confirm each. When the replay fails at such a finding's statement, the two are
/// reported as one finding under the static rule (see `rules::confirm`).
pub const PREDICTS_FAILURE: &[(&str, &[&str])] = &[
    ("not-allowed-in-transaction", &["migration-failed"]),
    ("enum-value-used-in-same-transaction", &["migration-failed"]),
    ("transaction-control-in-migration", &["migration-failed"]),
    ("psql-meta-command", &["migration-failed"]),
    ("mysql-syntax", &["migration-failed"]),
    ("sqlite-syntax", &["migration-failed"]),
    ("tsql-syntax", &["migration-failed"]),
    ("alter-system", &["needs-privilege"]),
    ("copy-program", &["needs-privilege"]),
    ("server-file-access", &["needs-privilege"]),
    ("untrusted-language", &["needs-privilege"]),
    ("superuser-role", &["needs-privilege"]),
    ("drop-database", &["needs-privilege", "migration-failed"]),
];

/// The replay failures a static rule's finding can absorb.
pub fn confirmed_by(rule: &str) -> &'static [&'static str] {
    PREDICTS_FAILURE
        .iter()
        .find(|(id, _)| *id == rule)
        .map_or(&[], |(_, by)| by)
}

/// The rules index (`docs/rules.md`): every rule with its category, default severity and summary,
/// linking to its page. Generated from [`RULES`]; a test keeps the file in step.
pub fn index_markdown() -> String {
    let confirming = PREDICTS_FAILURE
        .iter()
        .map(|(id, by)| format!("`{id}` ({})", by.join(", ")))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = String::from(
        "# Rules\n\n\
         Generated from the rule registry (`src/registry.rs`); `pgrehearse rules` prints the same list \
         and `pgrehearse explain <id>` prints a rule's page. Change a rule's severity or turn it off with \
         `rules:` in `.pgrehearse.yaml`; suppress one occurrence with `-- pgrehearse-ignore: <id> <reason>` \
         on or above the statement. How the rules map to squawk's and Atlas's: [rule-mapping.md](rule-mapping.md).\n\n\
         **Shipped migrations.** Lock and partial-failure rules, and the data-dependent rules \
         `add-required-column`, `not-null-on-existing-data` and `unique-on-existing-data`, judge the risk of \
         applying a migration; a migration production has already applied cannot be changed and those risks \
         are past, so by default they report only on migrations that have not shipped (on a pull request: \
         files not on its base commit; locally and on a push: the newest migration of each set and what came \
         after it or is not committed; with `--against`: what the live database has not applied). Every other \
         rule (migration failures, environment, dialect, discovery, security, drift, configuration) reports \
         on every migration. The summary counts the findings held back; `--all-history` reports them, \
         `--since REF` counts the files present at REF as shipped. See [history.md](history.md).\n\n\
         **One problem, one finding.** When the replay fails at a statement a static rule already named \
         as the cause, the two are reported once: the static rule wins (its id, explanation and help say \
         why and what to write instead), the message adds the replay's error, and `evidence.confirmed_by` \
         carries the replay's rule (`migration-failed` or `needs-privilege`) and message; the finding takes \
         the more severe of the two severities. A suppression or baseline entry for either rule still \
         applies. Rules that fold a replay failure in: {confirming}.\n\n\
         | id | category | default | observed by | summary |\n|---|---|---|---|---|\n",
    )
    .replace("{confirming}", &confirming);
    for r in RULES {
        let stage = match stage(r.id) {
            Stage::Static => "files (also `lint`)",
            Stage::Replay => "replay",
            Stage::Lock => "replay with lock tracing",
            Stage::FaultInjection => "`--fault-injection`",
            Stage::Drift => "drift comparison",
            Stage::Live => "`--against` a live database",
        };
        out.push_str(&format!(
            "| [`{id}`](rules/{id}.md) | {} | {} | {stage} | {} |\n",
            r.category,
            default_level(r),
            r.summary.replace('|', "\\|"),
            id = r.id,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_a_documentation_page_and_every_page_a_rule() {
        let mut problems = Vec::new();
        for r in RULES {
            match doc(r.id) {
                None => problems.push(format!("docs/rules/{}.md is missing", r.id)),
                Some(text) => {
                    if !text.starts_with(&format!("# {}\n", r.id)) {
                        problems.push(format!(
                            "docs/rules/{}.md must start with `# {}`",
                            r.id, r.id
                        ));
                    }
                    if !text.contains("\n## Example") {
                        problems.push(format!(
                            "docs/rules/{}.md has no `## Example` section",
                            r.id
                        ));
                    }
                }
            }
        }
        for id in documented_ids() {
            if rule(id).is_none() {
                problems.push(format!("docs/rules/{id}.md documents no rule"));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn failure_predictions_name_registered_rules() {
        for (id, by) in PREDICTS_FAILURE {
            assert!(rule(id).is_some(), "{id} is not a rule");
            for r in *by {
                assert!(
                    REPLAY_FAILURES.contains(r),
                    "{id}: {r} is not a replay failure"
                );
            }
        }
        for r in REPLAY_FAILURES {
            assert!(rule(r).is_some(), "{r} is not a rule");
        }
        assert_eq!(confirmed_by("copy-program"), ["needs-privilege"]);
        assert!(confirmed_by("drop-column").is_empty());
    }

    /// `docs/rules.md` is generated; run with `PGREHEARSE_BLESS=1` to rewrite it.
    #[test]
    fn rules_index_is_up_to_date() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules.md");
        let expected = index_markdown();
        if std::env::var_os("PGREHEARSE_BLESS").is_some() {
            std::fs::write(&path, &expected).unwrap();
        }
        let actual = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            actual == expected,
            "docs/rules.md is out of date: run `PGREHEARSE_BLESS=1 cargo test --lib rules_index`"
        );
    }

    #[test]
    fn suggestions_catch_typos_only() {
        assert_eq!(suggest("drop-colum"), Some("drop-column"));
        assert_eq!(
            suggest("index-without-concurrent"),
            Some("index-without-concurrently")
        );
        assert_eq!(suggest("completely-different-thing"), None);
    }

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
