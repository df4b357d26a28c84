//! Static partial-failure rules: migrations that could leave production half-migrated, found from the
//! files alone (no database).
//!
//! The set is walked the way its runner sends it (`Migration::batches`, `Migration::transactions`, and
//! Drizzle's one transaction around every pending migration), tracking which statements share a
//! transaction: the runner's own BEGIN … COMMIT, a multi-statement query (one implicit transaction),
//! and BEGIN / COMMIT written in the file. From that walk:
//!
//! - `non-atomic-migration`: an autocommit migration whose statements commit in more than one
//!   transaction.
//! - `not-rerunnable`: in such a migration, a committed statement that a retry of the file cannot run
//!   again (`CREATE TABLE` without `IF NOT EXISTS`, `ADD CONSTRAINT`, `INSERT` without `ON CONFLICT`, …).
//! - `large-non-atomic-migration`: such a migration with more than [`LARGE_STATEMENTS`] statements or
//!   [`LARGE_LINES`] lines.
//! - `transaction-control-in-migration`: BEGIN / COMMIT / ROLLBACK inside a transaction the runner
//!   manages.
//! - `not-allowed-in-transaction`: a statement PostgreSQL refuses inside a transaction block, sent
//!   inside one.
//! - `enum-value-used-in-same-transaction`: a label used in the transaction that adds it to its enum.
//!
//! Only the part of a file the runner runs (the Up section) is looked at.

use std::collections::BTreeSet;

use pgrehearse_sql::{self as sql, Guard, LineIndex, Retry, Span, TxControl};

use crate::cap::Bounded;
use crate::model::{Evidence, Finding, Severity};
use crate::registry::finding;
use crate::runner::transactions::{Block, TxStatement, by_migration, mode, walk_from};
use crate::runner::{Migration, MigrationSet, Runner, Transactions};

/// A non-atomic migration with more statements than this is `large-non-atomic-migration`.
pub const LARGE_STATEMENTS: usize = 20;
/// A non-atomic migration spanning more lines than this is `large-non-atomic-migration`.
pub const LARGE_LINES: usize = 500;

fn evidence(m: &Migration, statement: Option<usize>, extra: &[(&str, String)]) -> Evidence {
    Evidence {
        migration: Some(m.id.clone()),
        statement,
        extra: extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        ..Evidence::default()
    }
}

/// The migration's file name, for messages (`V2__indexes.sql`, `00002_indexes.sql`).
fn name(m: &Migration) -> String {
    match m.file.file_name().and_then(|n| n.to_str()) {
        // Diesel and Prisma name the folder, not the file.
        Some("up.sql" | "migration.sql") | None => m.id.clone(),
        Some(n) => n.to_string(),
    }
}

fn line_of(text: &str, offset: usize) -> u32 {
    LineIndex::new(text).line_col(text, offset).0
}

/// Every static partial-failure finding of `set`.
pub fn findings(set: &MigrationSet) -> Vec<Finding> {
    findings_from(set, 0)
}

/// The static partial-failure findings located in migrations `start..` of `set`: exactly those of
/// [`findings`] in those files. Every rule here looks only at the transactions a statement shares,
/// and only Drizzle's transaction spans migrations: other sets are walked from `start` alone
/// (nothing earlier is read); a Drizzle set is walked whole.
pub fn findings_from(set: &MigrationSet, start: usize) -> Vec<Finding> {
    let stmts = walk_from(set, start);
    let mut out = Bounded::new();
    for (mi, m) in set.migrations.iter().enumerate().skip(start) {
        if m.blocked.is_some() {
            continue;
        }
        // The walk is in migration order: this migration's statements are one run of it.
        let from = stmts.partition_point(|s| s.migration < mi);
        let to = stmts.partition_point(|s| s.migration <= mi);
        non_atomic(set, m, mi, &stmts[from..to], &mut out);
    }
    transaction_control(set, &stmts, start, &mut out);
    not_allowed_in_transaction(set, &stmts, start, &mut out);
    enum_values(set, &stmts, start, &mut out);
    out.finish()
}

/// `non-atomic-migration`, `not-rerunnable` and `large-non-atomic-migration` for one migration.
fn non_atomic(
    set: &MigrationSet,
    m: &Migration,
    mi: usize,
    stmts: &[TxStatement],
    out: &mut Bounded,
) {
    if mode(set, m) != Transactions::Autocommit {
        return;
    }
    let own: Vec<&TxStatement> = by_migration(stmts, mi).collect();
    let txns: BTreeSet<usize> = own.iter().map(|s| s.txn).collect();
    let (Some(first), Some(last)) = (own.first(), own.last()) else {
        return;
    };
    if txns.len() < 2 {
        return;
    }
    let text = &*m.text;
    let how = set.runner.describe(Transactions::Autocommit);
    let n = own.len();
    out.push(
        finding(
            "non-atomic-migration",
            format!(
                "`{}` is not atomic: {how}, so its {n} statements commit in {} separate transactions and a failure midway leaves the earlier ones applied",
                name(m),
                txns.len()
            ),
        )
        .help(non_atomic_help(set.runner))
        .at(&m.file, Some(first.span))
        .evidence(evidence(
            m,
            Some(first.index),
            &[
                ("runner", set.runner.as_str().to_string()),
                ("statements", n.to_string()),
                ("transactions", txns.len().to_string()),
            ],
        )),
    );

    // not-rerunnable: statements committed before a later transaction of the file can fail.
    let last_txn = last.txn;
    // `DROP CONSTRAINT IF EXISTS` guards: (table, constraint, where the guard is). A retry of the file
    // runs the guard again before the `ADD CONSTRAINT` it precedes.
    let guards: Vec<(String, String, usize)> = own
        .iter()
        .flat_map(|s| dropped_if_exists(text, s.span))
        .collect();
    for s in &own {
        let cic = sql::non_transactional(text, s.span) == Some("CREATE INDEX CONCURRENTLY");
        if s.txn == last_txn && !cic {
            continue;
        }
        let table = sql::target(text, s.span).map(|t| t.name.name);
        let mut hazards = sql::rerun_hazards(text, s.span);
        hazards.retain(|h| {
            let (Some(table), Some(object), "ADD CONSTRAINT") =
                (&table, &h.object, h.construct.as_str())
            else {
                return true;
            };
            let constraint = normalise_ident(object);
            !guards
                .iter()
                .any(|(t, c, at)| t == table && *c == constraint && *at < h.span.start)
        });
        if hazards.is_empty() {
            continue;
        }
        if out.full("not-rerunnable", &m.file) {
            out.count("not-rerunnable", &m.file);
            continue;
        }
        let parts: Vec<String> = hazards.iter().map(hazard_text).collect();
        let mut helps: Vec<String> = Vec::new();
        if cic {
            helps.push("write `CREATE INDEX CONCURRENTLY IF NOT EXISTS`, and before a retry drop an INVALID index a failed build left behind (`DROP INDEX CONCURRENTLY IF EXISTS`)".to_string());
        }
        for h in hazards.iter().filter(|_| !cic) {
            let help = hazard_help(h);
            if !helps.contains(&help) {
                helps.push(help);
            }
        }
        let when = if s.txn == last_txn {
            "if it fails midway it leaves an INVALID index behind".to_string()
        } else {
            "if a later statement fails, it stays committed".to_string()
        };
        out.push(
            finding(
                "not-rerunnable",
                format!(
                    "statement {} of `{}` cannot be re-run after a partial failure: {}; {when}, and re-running the file {}",
                    s.index,
                    name(m),
                    parts.join("; "),
                    retry_outcome(&hazards)
                ),
            )
            .help(helps.join("; "))
            .at(&m.file, Some(s.span))
            .evidence(evidence(
                m,
                Some(s.index),
                &[(
                    "constructs",
                    hazards
                        .iter()
                        .map(|h| h.construct.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                )],
            )),
        );
    }

    let lines =
        line_of(text, last.span.end).saturating_sub(line_of(text, first.span.start)) as usize + 1;
    if n > LARGE_STATEMENTS || lines > LARGE_LINES {
        out.push(
            finding(
                "large-non-atomic-migration",
                format!(
                    "`{}` runs {n} statements over {lines} lines without one transaction ({how}): a failure midway leaves a half-built database to finish by hand",
                    name(m)
                ),
            )
            .help(format!(
                "split it into smaller migrations (at most {LARGE_STATEMENTS} statements or {LARGE_LINES} lines each), atomic wherever the runner allows, with only the statements that cannot run in a transaction in migrations of their own"
            ))
            .at(&m.file, Some(first.span))
            .evidence(evidence(
                m,
                None,
                &[
                    ("statements", n.to_string()),
                    ("lines", lines.to_string()),
                ],
            )),
        );
    }
}

/// The constraints an `ALTER TABLE` drops with `IF EXISTS`: (table, constraint, offset of the DROP).
fn dropped_if_exists(text: &str, span: Span) -> Vec<(String, String, usize)> {
    let toks = sql::significant_tokens(text, span);
    let is = |i: usize, kw: &str| toks.get(i).is_some_and(|t| t.is_word(text, kw));
    if !(is(0, "ALTER") && is(1, "TABLE")) {
        return Vec::new();
    }
    let Some(table) = sql::target(text, span).map(|t| t.name.name) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut depth = 0i32;
    for (i, t) in toks.iter().enumerate() {
        match t.kind {
            sql::TokenKind::LParen => depth += 1,
            sql::TokenKind::RParen => depth -= 1,
            _ if depth == 0
                && is(i, "DROP")
                && is(i + 1, "CONSTRAINT")
                && is(i + 2, "IF")
                && is(i + 3, "EXISTS") =>
            {
                if let Some(name) = toks.get(i + 4).and_then(|n| sql::ident(text, n)) {
                    out.push((table.clone(), name, t.span.start));
                }
            }
            _ => {}
        }
    }
    out
}

/// An identifier as written (`"Name"`, `name`) normalised like PostgreSQL does.
fn normalise_ident(written: &str) -> String {
    match written.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => written.to_lowercase(),
    }
}

fn non_atomic_help(runner: Runner) -> String {
    match runner {
        Runner::Goose => "remove `-- +goose NO TRANSACTION` unless a statement needs it, give each statement that needs it (CREATE INDEX CONCURRENTLY, …) a migration of its own, or make every statement safe to re-run".into(),
        Runner::Flyway => "give each statement that cannot run in a transaction (CREATE INDEX CONCURRENTLY, …) a migration of its own and let Flyway run the rest in a transaction (no `executeInTransaction=false`), or make every statement safe to re-run".into(),
        _ => "wrap the file in `BEGIN;` … `COMMIT;` (or apply it with `psql --single-transaction`), keeping statements that cannot run in a transaction in files of their own; otherwise make every statement safe to re-run".into(),
    }
}

/// `ADD COLUMN email fails because it already exists`.
fn hazard_text(h: &sql::RerunHazard) -> String {
    let construct = if h.construct == "INSERT" {
        "INSERT INTO"
    } else {
        h.construct.as_str()
    };
    let what = match &h.object {
        Some(o) => format!("`{construct} {o}`"),
        None => format!("`{construct}`"),
    };
    let why = match (h.retry, h.guard, h.construct.as_str()) {
        (Retry::Duplicates, _, "INSERT") => "inserts its rows a second time".to_string(),
        (Retry::Duplicates, _, "COPY") => "loads its rows a second time".to_string(),
        (Retry::Duplicates, _, "CREATE INDEX") => {
            "builds a second index (an unnamed index gets a fresh name)".to_string()
        }
        (Retry::Duplicates, _, _) => {
            "adds a second copy of the constraint (an unnamed constraint gets a fresh name)"
                .to_string()
        }
        (Retry::Fails, Guard::IfExists, c) if c.starts_with("DROP") => {
            "fails because it no longer exists".to_string()
        }
        (Retry::Fails, _, c) if c.starts_with("RENAME") || c.starts_with("DETACH") => {
            "fails because the old name no longer exists".to_string()
        }
        (Retry::Fails, _, "ATTACH PARTITION") => {
            "fails because the partition is already attached".to_string()
        }
        (Retry::Fails, _, "ADD CONSTRAINT") if h.object.is_none() => {
            "fails because the table already has a primary key".to_string()
        }
        (Retry::Fails, Guard::None, _) => format!(
            "fails because it already exists (PostgreSQL has no IF NOT EXISTS for {})",
            h.construct
        ),
        (Retry::Fails, _, _) => "fails because it already exists".to_string(),
    };
    format!("{what} {why}")
}

fn retry_outcome(hazards: &[sql::RerunHazard]) -> &'static str {
    if hazards.iter().any(|h| h.retry == Retry::Fails) {
        "fails here"
    } else {
        "duplicates what it did"
    }
}

fn hazard_help(h: &sql::RerunHazard) -> String {
    let c = h.construct.as_str();
    match h.guard {
        Guard::IfNotExists if c == "ADD VALUE" => "write `ADD VALUE IF NOT EXISTS`".into(),
        Guard::IfNotExists => format!("write `{c} IF NOT EXISTS`"),
        Guard::IfExists if c == "RENAME TO" => {
            "write `ALTER … IF EXISTS … RENAME TO …`".into()
        }
        Guard::IfExists => format!("write `{c} IF EXISTS`"),
        Guard::OrReplace if c == "CREATE TRIGGER" => {
            "write `CREATE OR REPLACE TRIGGER` (PostgreSQL 14+), or `DROP TRIGGER IF EXISTS` before it".into()
        }
        Guard::OrReplace => format!("write `{}`", c.replacen("CREATE", "CREATE OR REPLACE", 1)),
        Guard::OnConflict if c == "INSERT" => {
            "add `ON CONFLICT DO NOTHING` (or a `WHERE NOT EXISTS` guard)".into()
        }
        Guard::OnConflict | Guard::None => match c {
            "CREATE INDEX" => "name the index and write `CREATE INDEX IF NOT EXISTS name`".into(),
            "COPY" => "load the rows in a migration of their own, or into a staging table merged with `INSERT … ON CONFLICT DO NOTHING`".into(),
            "ADD CONSTRAINT" => "PostgreSQL has no `ADD CONSTRAINT IF NOT EXISTS`: guard it in a `DO` block that checks pg_constraint (or catches duplicate_object), or put it in a migration that runs in a transaction".into(),
            _ if c.starts_with("RENAME") || c.ends_with("PARTITION") => format!(
                "PostgreSQL has no IF EXISTS for {c}: guard it in a `DO` block that checks the catalog first (e.g. information_schema.columns), or put it in a migration that runs in a transaction"
            ),
            _ => format!(
                "PostgreSQL has no IF [NOT] EXISTS for {c}: guard it in a `DO $$ BEGIN … EXCEPTION WHEN duplicate_object THEN NULL; END $$` block or one that checks the catalog, or put it in a migration that runs in a transaction"
            ),
        },
    }
}

/// `transaction-control-in-migration` in migrations `start..`.
fn transaction_control(set: &MigrationSet, stmts: &[TxStatement], start: usize, out: &mut Bounded) {
    for (i, s) in stmts.iter().enumerate() {
        let Some(control) = s.control.filter(|_| s.migration >= start) else {
            continue;
        };
        let m = &set.migrations[s.migration];
        let mode = mode(set, m);
        let how = set.runner.describe(mode);
        let word = leading_word(&m.text, s.span);
        // Later statements of the same query (batch).
        let rest_of_query = stmts[i + 1..]
            .iter()
            .take_while(|o| o.migration == s.migration && o.batch == s.batch);
        let (message, severity) = match (mode, control) {
            (Transactions::Autocommit, TxControl::Begin) => {
                let closed = stmts[i + 1..]
                    .iter()
                    .take_while(|o| o.migration == s.migration)
                    .any(|o| matches!(o.control, Some(TxControl::Commit | TxControl::Rollback)));
                if closed {
                    // BEGIN … COMMIT written in the file: the file's own transaction.
                    continue;
                }
                (
                    format!(
                        "`{word}` in `{}` opens a transaction that nothing in the file commits: {how}, so everything after it stays uncommitted and is rolled back when the session ends (psql still exits with status 0), or is carried into whatever the session runs next",
                        name(m)
                    ),
                    Severity::Error,
                )
            }
            (Transactions::Autocommit, _) => continue,
            (Transactions::Implicit, TxControl::Begin) => {
                if rest_of_query.clone().any(|o| o.control.is_some()) {
                    // BEGIN … COMMIT around the query: it stays one transaction.
                    continue;
                }
                (
                    format!(
                        "`{word}` in `{}` opens a transaction block that nothing in the file closes: {how}, and the block stays open after it, so the runner's bookkeeping and everything after it run inside a transaction that is never committed",
                        name(m)
                    ),
                    Severity::Warning,
                )
            }
            (Transactions::Implicit, TxControl::Commit) => {
                if !rest_of_query.clone().any(|o| o.control.is_none()) {
                    // COMMIT as the last statement of a BEGIN … COMMIT file: harmless.
                    continue;
                }
                (
                    format!(
                        "`{word}` in `{}` commits midway: {how}, so the statements after it run in a new transaction and a failure there leaves the statements before it applied",
                        name(m)
                    ),
                    Severity::Error,
                )
            }
            (Transactions::Implicit, TxControl::Rollback) => (
                format!(
                    "`{word}` in `{}` discards the statements before it, yet the runner records the migration as applied",
                    name(m)
                ),
                Severity::Error,
            ),
            (_, TxControl::Begin) => (
                format!(
                    "`{word}` in `{}` is inside the runner's transaction ({how}): PostgreSQL only warns \"there is already a transaction in progress\" and the file's own transaction boundaries do not apply",
                    name(m)
                ),
                Severity::Warning,
            ),
            (_, TxControl::Commit) => (
                format!(
                    "`{word}` in `{}` ends the runner's transaction early ({how}): the statements after it{} run outside any transaction, so a failure leaves the migration half-applied",
                    name(m),
                    if mode == Transactions::AllPendingInOne {
                        ", and every later pending migration,"
                    } else {
                        " and the runner's bookkeeping"
                    }
                ),
                Severity::Error,
            ),
            (_, TxControl::Rollback) => (
                format!(
                    "`{word}` in `{}` rolls back the runner's transaction ({how}): everything before it is discarded, the rest runs outside any transaction, and the runner still records the migration as applied",
                    name(m)
                ),
                Severity::Error,
            ),
        };
        let help = if mode == Transactions::Autocommit {
            format!(
                "end the block with `COMMIT;` in the same file, or drop `{word}` and let {} run the file in one transaction{}",
                set.runner,
                match set.runner {
                    Runner::Psql =>
                        " (`psql --single-transaction`, runner `psql-single-transaction`)",
                    _ => "",
                }
            )
        } else {
            format!(
                "remove `{word}`: {} manages the transaction; to run a statement outside it, {}",
                set.runner,
                runner_switch(set.runner)
            )
        };
        let mut f = finding("transaction-control-in-migration", message)
            .help(help)
            .at(&m.file, Some(s.span))
            .evidence(evidence(
                m,
                Some(s.index),
                &[("runner", set.runner.as_str().to_string())],
            ));
        f.severity = severity;
        out.push(f);
    }
}

/// The statement's first keyword as written, upper-cased (`COMMIT`, `BEGIN`).
fn leading_word(text: &str, span: Span) -> String {
    sql::leading_keywords(text, span, 1)
        .into_iter()
        .next()
        .unwrap_or_default()
}

/// How to run a statement outside the runner's transaction, as the end of a sentence.
fn runner_switch(runner: Runner) -> &'static str {
    match runner {
        Runner::Goose => "use `-- +goose NO TRANSACTION`",
        Runner::Dbmate => "use `-- migrate:up transaction:false`",
        Runner::Sqlx => "start the file with `-- no-transaction`",
        Runner::Diesel => "set `run_in_transaction = false` in the migration's metadata.toml",
        Runner::Flyway => {
            "set `executeInTransaction=false` in a `.sql.conf` file beside the script"
        }
        Runner::PsqlSingleTransaction => "apply the file without `--single-transaction`",
        Runner::Drizzle => {
            "run it outside drizzle-kit migrate, which always runs every pending migration in one transaction"
        }
        Runner::Prisma | Runner::GolangMigrate => "put it alone in a migration of its own",
        Runner::Supabase => "run it outside the Supabase CLI",
        Runner::Psql => "nothing is needed: psql runs each statement on its own",
    }
}

/// `not-allowed-in-transaction` in migrations `start..`.
fn not_allowed_in_transaction(
    set: &MigrationSet,
    stmts: &[TxStatement],
    start: usize,
    out: &mut Bounded,
) {
    for s in stmts {
        if s.block == Block::None || s.control.is_some() || s.migration < start {
            continue;
        }
        let m = &set.migrations[s.migration];
        let Some(command) = sql::non_transactional(&m.text, s.span) else {
            continue;
        };
        let mode = mode(set, m);
        let file_name = m
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (reason, help) = match s.block {
            Block::File => (
                "the file's own BEGIN opened one".to_string(),
                "move it out of the BEGIN … COMMIT block".to_string(),
            ),
            Block::Query => (
                format!(
                    "{} sends it in one query together with other statements, which PostgreSQL runs as one transaction",
                    set.runner
                ),
                match set.runner {
                    Runner::Goose => "take it out of the `-- +goose StatementBegin` … `StatementEnd` block, so goose sends it on its own".to_string(),
                    Runner::GolangMigrate => "put it alone in a migration of its own (golang-migrate sends each file as one query; a lone statement runs outside a transaction block), or enable the driver's `x-multi-statement` option".to_string(),
                    Runner::Prisma => "put it alone in a migration of its own (Prisma sends migration.sql as one query; a lone statement runs outside a transaction block)".to_string(),
                    r => format!("keep it alone in a migration of its own: with the transaction turned off, {r} still sends the file as one query"),
                },
            ),
            Block::Runner | Block::None => (
                set.runner.describe(mode),
                match set.runner {
                    Runner::Goose => "add `-- +goose NO TRANSACTION` to this file, and keep the statement in a migration of its own".to_string(),
                    Runner::Dbmate => "write `-- migrate:up transaction:false`, with this statement alone in the migration (dbmate then sends it as one query)".to_string(),
                    Runner::Sqlx => "start the file with `-- no-transaction`, with this statement alone in it".to_string(),
                    Runner::Diesel => "add `run_in_transaction = false` to the migration's metadata.toml, with this statement alone in it".to_string(),
                    Runner::Flyway => format!("set `executeInTransaction=false` in `{file_name}.conf` beside it, or keep it in a migration whose every statement is non-transactional (Flyway then runs it outside a transaction)"),
                    Runner::PsqlSingleTransaction => "apply this file without `--single-transaction`, or move the statement to a file of its own".to_string(),
                    Runner::Drizzle => "drizzle-kit migrate runs every pending migration in one transaction, so this can never run there: drop CONCURRENTLY (fine for a new or small table), or run the statement outside drizzle-kit (e.g. a psql step after `drizzle-kit migrate`)".to_string(),
                    Runner::Supabase => "the Supabase CLI applies each migration in a transaction: run this statement outside it (e.g. with psql)".to_string(),
                    r => format!("put this statement alone in a migration of its own that {r} runs without a transaction"),
                },
            ),
        };
        out.push(
            finding(
                "not-allowed-in-transaction",
                format!(
                    "`{command}` cannot run inside a transaction block, and {reason}: `{}` fails here",
                    name(m)
                ),
            )
            .help(help)
            .at(&m.file, Some(s.span))
            .evidence(evidence(
                m,
                Some(s.index),
                &[
                    ("command", command.to_string()),
                    ("runner", set.runner.as_str().to_string()),
                ],
            )),
        );
    }
}

/// `enum-value-used-in-same-transaction`, at uses in migrations `start..` (the value may be added in
/// an earlier migration of the same transaction).
fn enum_values(set: &MigrationSet, stmts: &[TxStatement], start: usize, out: &mut Bounded) {
    for (i, add_stmt) in stmts.iter().enumerate() {
        let am = &set.migrations[add_stmt.migration];
        let Some(add) = sql::enum_add_value(&am.text, add_stmt.span) else {
            continue;
        };
        // The block the ADD VALUE runs in; a statement on its own commits at once.
        let alone = add_stmt.block == Block::None;
        if alone {
            continue;
        }
        // PostgreSQL 17 accepts new values of a type created in the same transaction; 12–16 do not.
        // Only a creation in the same file counts: an earlier migration is usually applied already.
        let created_here = stmts[..i].iter().any(|o| {
            o.txn == add_stmt.txn
                && o.migration == add_stmt.migration
                && sql::created_type(&set.migrations[o.migration].text, o.span).as_deref()
                    == Some(add.type_name.as_str())
        });
        let add_line = line_of(&am.text, add_stmt.span.start);
        for use_stmt in stmts[i + 1..]
            .iter()
            .filter(|o| o.txn == add_stmt.txn && o.migration >= start)
        {
            let um = &set.migrations[use_stmt.migration];
            let text = &*um.text;
            if use_stmt.control.is_some()
                || sql::enum_add_value(text, use_stmt.span).is_some()
                // A new type's own labels, not a use of the extended one's.
                || sql::created_type(text, use_stmt.span).is_some()
            {
                continue;
            }
            let tokens = sql::significant_tokens(text, use_stmt.span);
            let Some(token) = tokens
                .iter()
                .find(|t| sql::string_value(text, t).as_deref() == Some(add.label.as_str()))
            else {
                continue;
            };
            // The label of another enum this migration created, named in the statement (`z size
            // DEFAULT 'b'`) while the extended enum is not: the value is that enum's.
            let names = |name: &str| {
                tokens
                    .iter()
                    .any(|t| sql::ident(text, t).as_deref() == Some(name))
            };
            let other_enum = stmts[..i]
                .iter()
                .chain(stmts[i + 1..].iter())
                .filter(|o| o.migration == use_stmt.migration && o.index < use_stmt.index)
                .filter_map(|o| {
                    let t = &*set.migrations[o.migration].text;
                    let name = sql::created_type(t, o.span)?;
                    let labels = sql::significant_tokens(t, o.span)
                        .iter()
                        .any(|l| sql::string_value(t, l).as_deref() == Some(add.label.as_str()));
                    (labels && name != add.type_name).then_some(name)
                })
                .any(|name| names(&name));
            if other_enum && !names(&add.type_name) {
                continue;
            }
            let mode = mode(set, am);
            let where_added = if use_stmt.migration == add_stmt.migration {
                format!("line {add_line}")
            } else {
                format!("{}:{add_line}", am.file.display())
            };
            let help = if mode == Transactions::AllPendingInOne {
                "drizzle-kit migrate applies every pending migration in one transaction: deploy the migration that adds the value on its own (run migrate) before the one that uses it".to_string()
            } else {
                format!(
                    "{}: move `ALTER TYPE … ADD VALUE` into an earlier migration, so it commits before the value is used",
                    set.runner.describe(mode)
                )
            };
            let mut f = finding(
                "enum-value-used-in-same-transaction",
                format!(
                    "`{}` is used in the transaction that adds it to enum `{}` (`ALTER TYPE … ADD VALUE` at {where_added}): PostgreSQL refuses it with \"unsafe use of new value\" until that transaction commits{}",
                    token.text(text),
                    add.type_name,
                    if created_here {
                        " (PostgreSQL 17 and later accept it because the type is created in the same transaction; 12 to 16 refuse it)"
                    } else {
                        ""
                    }
                ),
            )
            .help(help)
            .at(&um.file, Some(token.span))
            .evidence(Evidence {
                    sqlstate: Some("55P04".into()),
                    ..evidence(
                        um,
                        Some(use_stmt.index),
                        &[
                            ("enum", add.type_name.clone()),
                            ("value", add.label.clone()),
                            (
                                "added_at",
                                format!("{}:{add_line}", am.file.display()),
                            ),
                        ],
                    )
                });
            if created_here {
                f.severity = Severity::Warning;
            }
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::Arc;

    fn set(runner: Runner, files: &[(&str, &str)]) -> MigrationSet {
        set_with(runner, files, |_| {})
    }

    fn set_with(
        runner: Runner,
        files: &[(&str, &str)],
        adjust: impl Fn(&mut Migration),
    ) -> MigrationSet {
        let migrations = files
            .iter()
            .map(|(name, text)| {
                let text: Arc<str> = Arc::from(*text);
                let mut m = Migration {
                    id: name.trim_end_matches(".sql").to_string(),
                    file: PathBuf::from("migrations").join(name),
                    batches: crate::runner::statement_batches(runner, &text),
                    text,
                    transactions: runner.default_transactions(),
                    blocked: None,
                };
                adjust(&mut m);
                m
            })
            .collect();
        MigrationSet {
            dir: PathBuf::from("migrations"),
            runner,
            migrations,
            preludes: Vec::new(),
            refused: None,
            schemas: Vec::new(),
            journal_when: Default::default(),
            generated_for: None,
        }
    }

    /// `(rule, line, severity)` of every finding.
    fn report(set: &MigrationSet) -> Vec<(String, u32, Severity)> {
        let mut out: Vec<(String, u32, Severity)> = findings(set)
            .into_iter()
            .map(|f| {
                let loc = f.location.expect("located");
                let m = set
                    .migrations
                    .iter()
                    .find(|m| m.file == loc.file)
                    .expect("file of the set");
                let line = loc.span.map_or(0, |s| line_of(&m.text, s.start));
                (f.rule, line, f.severity)
            })
            .collect();
        out.sort();
        out
    }

    fn rules(set: &MigrationSet) -> Vec<(String, u32)> {
        report(set).into_iter().map(|(r, l, _)| (r, l)).collect()
    }

    fn r(rule: &str, line: u32) -> (String, u32) {
        (rule.to_string(), line)
    }

    #[test]
    fn psql_autocommit_file_is_non_atomic_and_flags_unguarded_statements() {
        let s = set(
            Runner::Psql,
            &[(
                "001.sql",
                "CREATE TABLE a (id int);\nCREATE TABLE IF NOT EXISTS b (id int);\nINSERT INTO a VALUES (1);\nINSERT INTO a VALUES (2) ON CONFLICT DO NOTHING;\nCREATE TABLE c (id int);\n",
            )],
        );
        assert_eq!(
            rules(&s),
            [
                r("non-atomic-migration", 1),
                r("not-rerunnable", 1),
                r("not-rerunnable", 3),
            ],
            "the last statement never commits before a failure, so it is not flagged"
        );
    }

    #[test]
    fn a_psql_file_wrapped_in_begin_commit_is_atomic() {
        let s = set(
            Runner::Psql,
            &[(
                "001.sql",
                "BEGIN;\nCREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\nCOMMIT;\n",
            )],
        );
        assert_eq!(rules(&s), Vec::<(String, u32)>::new());
        // A single statement is atomic too.
        let s = set(Runner::Psql, &[("001.sql", "CREATE TABLE a (id int);\n")]);
        assert_eq!(rules(&s), Vec::<(String, u32)>::new());
    }

    #[test]
    fn create_index_concurrently_inside_begin_fails() {
        let s = set(
            Runner::Psql,
            &[(
                "001.sql",
                "BEGIN;\nCREATE INDEX CONCURRENTLY i ON t (a);\nCOMMIT;\n",
            )],
        );
        assert_eq!(rules(&s), [r("not-allowed-in-transaction", 2)]);
    }

    #[test]
    fn concurrent_index_last_is_still_flagged_for_invalid_index() {
        let s = set_with(
            Runner::Goose,
            &[(
                "1_x.sql",
                "-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY IF NOT EXISTS a ON t (a);\nCREATE INDEX CONCURRENTLY b ON t (b);\n",
            )],
            |m| m.transactions = Transactions::Autocommit,
        );
        assert_eq!(
            rules(&s),
            [r("non-atomic-migration", 3), r("not-rerunnable", 4)]
        );
    }

    #[test]
    fn a_transaction_a_psql_file_never_commits() {
        let s = set(
            Runner::Psql,
            &[
                ("001_ok.sql", "BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\n"),
                (
                    "002_open.sql",
                    "CREATE TABLE b (id int);\nBEGIN;\nCREATE TABLE c (id int);\n",
                ),
            ],
        );
        let got: Vec<(String, u32, Severity)> = report(&s)
            .into_iter()
            .filter(|(r, _, _)| r == "transaction-control-in-migration")
            .collect();
        assert_eq!(
            got,
            [(
                "transaction-control-in-migration".to_string(),
                2,
                Severity::Error
            )]
        );
    }

    #[test]
    fn transaction_control_under_runner_transactions() {
        let s = set(
            Runner::Goose,
            &[(
                "1_x.sql",
                "BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\nCREATE TABLE b (id int);\nROLLBACK TO SAVEPOINT x;\n",
            )],
        );
        let got = report(&s);
        assert_eq!(
            got,
            [
                (
                    "transaction-control-in-migration".to_string(),
                    1,
                    Severity::Warning
                ),
                (
                    "transaction-control-in-migration".to_string(),
                    3,
                    Severity::Error
                ),
            ]
        );
        // golang-migrate: BEGIN … COMMIT around the whole file is harmless; COMMIT midway is not.
        let s = set(
            Runner::GolangMigrate,
            &[
                ("1_ok.up.sql", "BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\n"),
                (
                    "2_bad.up.sql",
                    "BEGIN;\nCREATE TABLE b (id int);\nCOMMIT;\nCREATE TABLE c (id int);\n",
                ),
                ("3_rb.up.sql", "CREATE TABLE d (id int);\nROLLBACK;\n"),
            ],
        );
        assert_eq!(
            report(&s),
            [
                (
                    "transaction-control-in-migration".to_string(),
                    2,
                    Severity::Error
                ),
                (
                    "transaction-control-in-migration".to_string(),
                    3,
                    Severity::Error
                ),
            ]
        );
        // A psql file may use BEGIN … COMMIT: that is how it becomes atomic.
        let s = set(Runner::Psql, &[("1.sql", "BEGIN;\nSELECT 1;\nCOMMIT;\n")]);
        assert_eq!(rules(&s), Vec::<(String, u32)>::new());
    }

    #[test]
    fn not_allowed_in_transaction_follows_the_runner() {
        let text = "CREATE TABLE t (a int);\nCREATE INDEX CONCURRENTLY i ON t (a);\n";
        for runner in [
            Runner::Goose,
            Runner::Dbmate,
            Runner::Sqlx,
            Runner::Diesel,
            Runner::PsqlSingleTransaction,
            Runner::GolangMigrate,
            Runner::Prisma,
            Runner::Drizzle,
        ] {
            let s = set(runner, &[("1_x.sql", text)]);
            assert_eq!(rules(&s), [r("not-allowed-in-transaction", 2)], "{runner}");
        }
        // Alone in its file, a multi-statement-query runner sends it outside a transaction block.
        let lone = "CREATE INDEX CONCURRENTLY i ON t (a);\n";
        for runner in [Runner::GolangMigrate, Runner::Prisma, Runner::Psql] {
            let s = set(runner, &[("1_x.sql", lone)]);
            assert_eq!(rules(&s), Vec::<(String, u32)>::new(), "{runner}");
        }
        // Drizzle: never.
        let s = set(Runner::Drizzle, &[("0000_x.sql", lone)]);
        assert_eq!(rules(&s), [r("not-allowed-in-transaction", 1)]);
        // Goose NO TRANSACTION / dbmate transaction:false with the statement alone: fine.
        let s = set_with(Runner::Dbmate, &[("1_x.sql", lone)], |m| {
            m.transactions = Transactions::Implicit
        });
        assert_eq!(rules(&s), Vec::<(String, u32)>::new());
        // A keyword in a comment or string is not a statement.
        let s = set(
            Runner::Goose,
            &[(
                "1_x.sql",
                "-- CREATE INDEX CONCURRENTLY\nSELECT 'VACUUM';\n",
            )],
        );
        assert_eq!(rules(&s), Vec::<(String, u32)>::new());
    }

    #[test]
    fn a_label_of_another_enum_is_not_a_use_of_the_added_value() {
        let enum_rules = |text: &str| -> Vec<(String, u32)> {
            rules(&set(Runner::Goose, &[("1_x.sql", text)]))
                .into_iter()
                .filter(|(r, _)| r == "enum-value-used-in-same-transaction")
                .collect()
        };
        // A new enum with the same label, and a column of that enum defaulting to it.
        let quiet = "ALTER TYPE mood ADD VALUE 'b';\nCREATE TYPE size AS ENUM ('b', 'big');\n\
                     CREATE TABLE shirts (s size DEFAULT 'b');\n";
        assert_eq!(enum_rules(quiet), Vec::<(String, u32)>::new());
        // Naming the extended enum, or neither, is still a use.
        let used = "ALTER TYPE mood ADD VALUE 'b';\nCREATE TYPE size AS ENUM ('b');\n\
                    SELECT 'b'::mood;\nINSERT INTO people (m) VALUES ('b');\n";
        assert_eq!(
            enum_rules(used),
            [
                r("enum-value-used-in-same-transaction", 3),
                r("enum-value-used-in-same-transaction", 4)
            ]
        );
    }

    #[test]
    fn enum_value_used_in_the_same_transaction() {
        let text = "ALTER TYPE mood ADD VALUE 'ecstatic';\nUPDATE people SET mood = 'ecstatic' WHERE mood = 'happy';\n";
        let s = set(Runner::Goose, &[("1_x.sql", text)]);
        let f = findings(&s);
        assert_eq!(rules(&s), [r("enum-value-used-in-same-transaction", 2)]);
        let loc = f[0].location.as_ref().and_then(|l| l.span).unwrap();
        assert_eq!(loc.slice(text), "'ecstatic'");
        assert!(f[0].message.contains("line 1"), "{}", f[0].message);
        // Autocommit: the ADD VALUE commits first.
        let s = set(Runner::Psql, &[("1.sql", text)]);
        assert!(
            !rules(&s)
                .iter()
                .any(|(r, _)| r == "enum-value-used-in-same-transaction")
        );
        // A type created in the same transaction: only PostgreSQL 17+ accepts it, so a warning.
        let s = set(
            Runner::Goose,
            &[(
                "1_x.sql",
                "CREATE TYPE mood AS ENUM ('a');\nALTER TYPE mood ADD VALUE 'b';\nSELECT 'b'::mood;\n",
            )],
        );
        assert_eq!(
            report(&s),
            [(
                "enum-value-used-in-same-transaction".to_string(),
                3,
                Severity::Warning
            )]
        );
        // Drizzle: a later pending migration is in the same transaction.
        let s = set(
            Runner::Drizzle,
            &[
                ("0000_a.sql", "ALTER TYPE \"mood\" ADD VALUE 'ecstatic';"),
                (
                    "0001_b.sql",
                    "-- 'ecstatic' in a comment\nINSERT INTO people (mood) VALUES ('ecstatic');",
                ),
            ],
        );
        let f = findings(&s);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule, "enum-value-used-in-same-transaction");
        assert!(
            f[0].message.contains("migrations/0000_a.sql:1"),
            "{}",
            f[0].message
        );
        assert_eq!(
            f[0].location.as_ref().map(|l| l.file.clone()),
            Some(PathBuf::from("migrations/0001_b.sql"))
        );
    }

    #[test]
    fn large_non_atomic_migrations() {
        let text: String = (0..21)
            .map(|i| format!("CREATE TABLE IF NOT EXISTS t{i} (id int);\n"))
            .collect();
        let s = set(Runner::Psql, &[("1.sql", &text)]);
        assert_eq!(
            rules(&s),
            [
                r("large-non-atomic-migration", 1),
                r("non-atomic-migration", 1)
            ]
        );
        let text: String = (0..20)
            .map(|i| format!("CREATE TABLE IF NOT EXISTS t{i} (id int);\n"))
            .collect();
        let s = set(Runner::Psql, &[("1.sql", &text)]);
        assert_eq!(rules(&s), [r("non-atomic-migration", 1)]);
        let text = format!(
            "CREATE TABLE IF NOT EXISTS a (id int);\n{}CREATE TABLE IF NOT EXISTS b (id int);\n",
            "-- note\n".repeat(500)
        );
        let s = set(Runner::Psql, &[("1.sql", &text)]);
        assert_eq!(
            rules(&s),
            [
                r("large-non-atomic-migration", 1),
                r("non-atomic-migration", 1)
            ]
        );
    }

    #[test]
    fn blocked_and_meta_commands_are_skipped() {
        let s = set_with(
            Runner::Goose,
            &[(
                "1_x.sql",
                "COMMIT;\nCREATE INDEX CONCURRENTLY i ON t (a);\n",
            )],
            |m| {
                m.blocked = Some(crate::runner::Blocked {
                    rule: "runner-rejects-migration",
                    message: String::new(),
                    help: String::new(),
                    span: None,
                })
            },
        );
        assert_eq!(rules(&s), Vec::<(String, u32)>::new());
        let s = set(
            Runner::Psql,
            &[("1.sql", "\\set x 1\nCREATE TABLE a (id int);\n")],
        );
        assert_eq!(rules(&s), Vec::<(String, u32)>::new());
    }
}
