//! The `replay` stage applies one migration set to a fresh database the way its runner does, and turns
//! what PostgreSQL answered into findings at exact file positions.
//!
//! It takes a connected client on an empty scratch database and a [`MigrationSet`]; it returns a
//! [`ReplayLog`]: how many migrations were applied and committed, and `migration-error`,
//! `partial-failure` and `environment` findings. Batching follows the runner:
//!
//! - Drizzle: one explicit transaction around every pending migration; each file split on
//!   `--> statement-breakpoint` and each chunk sent as one query.
//! - Prisma, golang-migrate: each file sent as one multi-statement simple query, which PostgreSQL runs as
//!   one implicit transaction.
//! - psql: each statement sent on its own (autocommit); `psql-single-transaction` wraps the file in
//!   BEGIN … COMMIT. Both stop at the first error (`ON_ERROR_STOP`).
//!
//! The failing statement is identified without re-running anything: PostgreSQL sends one CommandComplete
//! per finished statement of a multi-statement query, so the count received before the error is the
//! failing statement's index. An error position (1-based *character* offset into the text sent) is
//! mapped to the byte span of the token there; errors without a position point at the whole statement.

use pgrehearse_sql::{self as sql, Span};
use tokio_postgres::Client;
use tokio_postgres::error::{DbError, ErrorPosition};

use crate::apply::{
    EngineContext, Failure, ReplayError, copy_in, db_evidence, execute, execute_grouped, locate,
    locate_shifted,
};
use crate::engine::Server;
use crate::model::Provenance;
use crate::model::{Category, Evidence, Finding, Severity};
use crate::runner::{
    Batch, Migration, MigrationSet, Prelude, PreludeKind, Runner, Transactions, statements_in,
};

/// What replaying one set produced.
#[derive(Debug, Default)]
pub struct ReplayLog {
    /// Migrations applied and committed, in order.
    pub applied: usize,
    /// Whether a migration (or a prelude) failed.
    pub failed: bool,
    /// Whether the replay stopped at a migration it cannot run (a code migration).
    pub partial: bool,
    pub findings: Vec<Finding>,
    /// Statements executed (for benchmarks and summaries).
    pub statements: usize,
    /// The migrations (index in the set) whose statements committed, in the order applied, each up to
    /// the batch it failed at when only part of it committed: [`ReplayLog::provenance`] reads the
    /// statements from them when drift needs it (a long history's thousands are not parsed otherwise).
    committed: Vec<(usize, Option<Span>)>,
    /// Where the replay stopped early (migration id), when it did.
    pub stopped_at: Option<String>,
}

impl ReplayLog {
    /// Every committed DDL statement of `set` (the set this log replayed) with the object it acts on,
    /// in the order applied: the last entry for an object is the statement that last created or
    /// altered it.
    pub fn provenance(&self, set: &MigrationSet) -> Vec<Provenance> {
        let mut out = Vec::new();
        for &(index, until) in &self.committed {
            let Some(migration) = set.migrations.get(index) else {
                continue;
            };
            for batch in &migration.batches {
                if until.is_some_and(|u| batch.span.start >= u.start) {
                    break;
                }
                for stmt in statements_in(&migration.text, batch.span) {
                    if let Some(target) = sql::target(&migration.text, stmt) {
                        out.push(Provenance {
                            target,
                            file: migration.file.clone(),
                            text: migration.text.clone(),
                            span: stmt,
                        });
                    }
                }
            }
        }
        out
    }
}

/// Records that the statements of migration `index` committed: all, or those before a failing batch
/// `until` under autocommit.
fn record(log: &mut ReplayLog, index: usize, until: Option<Span>) {
    log.committed.push((index, until));
}

/// How to replay.
#[derive(Clone, Debug, Default)]
pub struct ReplayOptions {
    /// Trace the locks, rewrites and scans of single-statement batches on pre-existing tables.
    pub lock_trace: bool,
    /// Extensions created as superuser on the replay's behalf (`privileged:`).
    pub privileged_extensions: Vec<String>,
}

/// The sessions of one replay database.
#[derive(Clone, Copy)]
pub struct Sessions<'a> {
    /// The engine's own role: preludes, presets and `create-roles`, the repository's configuration.
    pub admin: &'a Client,
    /// Where the migrations and a baseline snapshot run, the pull request's SQL.
    pub replay: Replayer<'a>,
}

/// The session the migrations run in.
#[derive(Clone, Copy)]
pub enum Replayer<'a> {
    /// The admin session itself (tests and reference tools).
    Same,
    /// A session of the server's replay role on database `db`, opened once the preludes ran.
    Connect { server: &'a Server, db: &'a str },
}

impl<'a> Sessions<'a> {
    /// One session for everything (the engine's own role).
    pub fn single(client: &'a Client) -> Sessions<'a> {
        Sessions {
            admin: client,
            replay: Replayer::Same,
        }
    }

    /// The admin session `admin` on database `db` of `server`, and its replay role.
    pub fn on(server: &'a Server, db: &'a str, admin: &'a Client) -> Sessions<'a> {
        Sessions {
            admin,
            replay: Replayer::Connect { server, db },
        }
    }

    fn replay_role(&self) -> Option<&'a str> {
        match self.replay {
            Replayer::Same => None,
            Replayer::Connect { server, .. } => server.replay.as_ref().map(|r| r.name.as_str()),
        }
    }
}

/// The tables lock tracing reads counters of for the statements in `spans`: each statement's table
/// (the table of an index, trigger or policy), quoted and qualified as written.
fn traced_tables(text: &str, spans: impl IntoIterator<Item = Span>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for stmt in spans {
        let Some(t) = sql::target(text, stmt) else {
            continue;
        };
        let name = match t.kind {
            sql::TargetKind::Table => Some(t.name),
            sql::TargetKind::Index | sql::TargetKind::Trigger | sql::TargetKind::Policy => t.table,
            _ => None,
        };
        let Some(name) = name else {
            continue;
        };
        let qualified = crate::locks::qualified(&name);
        if !names.contains(&qualified) {
            names.push(qualified);
        }
    }
    names
}

/// The tables of every statement `migration` sends (see [`traced_tables`]).
fn migration_tables(migration: &Migration) -> Vec<String> {
    let text = &*migration.text;
    traced_tables(
        text,
        migration
            .batches
            .iter()
            .flat_map(|batch| statements_in(text, batch.span)),
    )
}

/// What lock tracing reads before `migration` runs, in one round trip: the largest relation OID
/// (relations up to it existed before the migration) unless `threshold` already holds it, and the
/// backend's pending scan counts of `tables` (the existing tables the migration acts on). The counts
/// are per backend, not per transaction (they grow until PostgreSQL flushes them at idle), so each
/// statement's scans are measured from here.
async fn lock_baseline(
    client: &Client,
    migration: &Migration,
    tables: &[String],
    threshold: Option<i64>,
) -> Result<(i64, Vec<(i64, i64)>, Vec<(i64, i64)>), ReplayError> {
    let literals: Vec<String> = tables
        .iter()
        .map(|n| crate::locks::regclass_literal(n))
        .collect();
    // Also each table's file node (the base of the rewrites of the migration's statements). The
    // largest OID through pg_class's OID index, not a scan of the whole catalog.
    let max_oid = "(SELECT m.oid::pg_catalog.int8 FROM pg_catalog.pg_class m \
                   ORDER BY m.oid DESC LIMIT 1)";
    let mut parts: Vec<String> = Vec::new();
    if threshold.is_none() {
        parts.push(format!("SELECT 0, coalesce({max_oid}, 0), 0, 0"));
    }
    if !literals.is_empty() {
        parts.push(format!(
            "SELECT 1, c::pg_catalog.oid::pg_catalog.int8, \
             pg_catalog.pg_stat_get_xact_numscans(c), \
             (SELECT r.relfilenode::pg_catalog.int8 FROM pg_catalog.pg_class r WHERE r.oid = c) \
             FROM pg_catalog.unnest(ARRAY[{}]::pg_catalog.text[]) AS n, \
             pg_catalog.to_regclass(n) AS c WHERE c IS NOT NULL",
            literals.join(", ")
        ));
    }
    if parts.is_empty() {
        // Nothing to read: the threshold is known and the statements name no table.
        return Ok((threshold.unwrap_or(0), Vec::new(), Vec::new()));
    }
    let query = parts.join(" UNION ALL ");
    let rows = match execute_grouped(client, &query).await {
        (groups, None) => groups.into_iter().flatten().collect::<Vec<_>>(),
        (_, Some((_, reason))) => {
            return Err(ReplayError {
                file: migration.file.display().to_string(),
                reason,
            });
        }
    };
    let number = |row: &tokio_postgres::SimpleQueryRow, i: usize| -> i64 {
        row.get(i).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    let mut threshold = threshold.unwrap_or(0);
    let mut counts = Vec::new();
    let mut storage = Vec::new();
    for row in &rows {
        if number(row, 0) == 0 {
            threshold = number(row, 1);
        } else {
            counts.push((number(row, 1), number(row, 2)));
            storage.push((number(row, 1), number(row, 3)));
        }
    }
    Ok((threshold, counts, storage))
}

/// Whether `stmt` sets `lock_timeout` for what follows: `SET [SESSION] lock_timeout`, or `SET LOCAL
/// lock_timeout` when it runs `in_transaction` (under autocommit, `SET LOCAL` ends with itself). A
/// `SET lock_timeout` in a prelude or in a role's settings is not seen here.
fn sets_lock_timeout(text: &str, stmt: Span, in_transaction: bool) -> bool {
    let keywords = sql::leading_keywords(text, stmt, 3);
    let session = keywords.len() >= 2
        && keywords[0] == "SET"
        && (keywords[1] == "LOCK_TIMEOUT"
            || (keywords[1] == "SESSION"
                && keywords.get(2).map(String::as_str) == Some("LOCK_TIMEOUT")));
    session || (in_transaction && keywords == ["SET", "LOCAL", "LOCK_TIMEOUT"])
}

/// Whether a batch can be traced: sent as the one query the runner sends, with the probe after each
/// statement, it keeps its outcome. No statement controls the transaction, refuses a transaction block
/// or deallocates the probe, and the text ends where the last statement does.
fn traceable(text: &str, batch: &Batch) -> bool {
    let stmts = statements_in(text, batch.span);
    batch.copy.is_none()
        && !batch.span.slice(text).starts_with('\\')
        && !stmts.is_empty()
        && stmts
            .iter()
            .all(|s| !crate::locks::cannot_run_in_transaction(text, *s))
        && !crate::locks::forgets_probe(text, batch.span)
        && sql::significant_tokens(text, batch.span)
            .last()
            .is_some_and(|t| t.kind != sql::TokenKind::Unterminated)
}

/// `batch` as one query with the statements that create `privileged:` extensions replaced by the call
/// that creates them, and each statement's span and start in it (characters); `None` when no statement
/// is replaced.
fn substituted(
    text: &str,
    batch: Span,
    allowed: &[String],
) -> Option<(String, Vec<(Span, usize)>)> {
    if allowed.is_empty() {
        return None;
    }
    let stmts = statements_in(text, batch);
    let calls: Vec<Option<String>> = stmts
        .iter()
        .map(|s| crate::environment::privileged::substitute(text, *s, allowed))
        .collect();
    if calls.iter().all(Option::is_none) {
        return None;
    }
    let mut query = String::new();
    let mut parts = Vec::new();
    let mut chars = 0;
    for (stmt, call) in stmts.into_iter().zip(calls) {
        let body = call.unwrap_or_else(|| {
            stmt.slice(text)
                .trim_end()
                .trim_end_matches(';')
                .to_string()
        });
        parts.push((stmt, chars));
        query.push_str(&body);
        query.push_str(";\n");
        chars += body.chars().count() + 2;
    }
    Some((query, parts))
}

/// Lock tracing's state while one migration replays.
struct Trace<'a> {
    client: &'a Client,
    migration: &'a Migration,
    tracker: &'a mut crate::locks::Tracker,
    /// Whether the probe is prepared in the session.
    probe_ready: &'a mut bool,
    /// Whether the migration set a lock_timeout before the statement.
    lock_timeout: bool,
    /// Extensions created on the replay's behalf (see [`crate::environment::privileged`]).
    privileged: &'a [String],
}

impl Trace<'_> {
    /// Prepares the probe in the session unless it is.
    async fn prepare(&mut self) -> Result<(), ReplayError> {
        if !*self.probe_ready {
            control(self.client, &crate::locks::prepare(), Some(self.migration)).await?;
            *self.probe_ready = true;
        }
        Ok(())
    }

    /// Sends a batch as the one query the runner sends (for several statements, one transaction), with
    /// the probe run after each statement that may lock an existing table, and adds the lock findings
    /// of each statement to `log`. Returns the statements completed, or the failure.
    async fn batch(
        &mut self,
        span: Span,
        threshold: i64,
        log: &mut ReplayLog,
    ) -> Result<Result<usize, Failure>, ReplayError> {
        self.prepare().await?;
        let text = &*self.migration.text;
        // Per statement: its span, where it starts in the query (in characters), and whether the
        // probe follows it.
        let mut parts: Vec<(Span, usize, bool, bool)> = Vec::new();
        let mut query = String::new();
        let mut chars = 0;
        let stmts = statements_in(text, span);
        // The statements of a multi-statement query share its implicit transaction (`SET LOCAL`
        // lasts); a lone statement's own setting was read by the caller.
        let shared = stmts.len() > 1;
        for stmt in stmts {
            let call = crate::environment::privileged::substitute(text, stmt, self.privileged);
            let body = call
                .as_deref()
                .unwrap_or_else(|| stmt.slice(text).trim_end().trim_end_matches(';'));
            let probe = !crate::locks::leaves_existing_tables_alone(text, stmt);
            let list = probe && crate::locks::lists_indexes(text, stmt);
            // Its table's indexes just before it, to tell those it rebuilds.
            let before = list
                .then(|| crate::locks::index_list_query(text, stmt))
                .flatten();
            if let Some(q) = &before {
                query.push_str(q);
                query.push_str(";\n");
                chars += q.chars().count() + 2;
            }
            parts.push((stmt, chars, probe, before.is_some()));
            query.push_str(body);
            query.push_str(";\n");
            chars += body.chars().count() + 2;
            if probe {
                let p = crate::locks::probe_statement(threshold, list);
                query.push_str(&p);
                query.push_str(";\n");
                chars += p.len() + 2;
            }
        }
        let (groups, error) = execute_grouped(self.client, &query).await;
        // The statements (and probes) that completed, in order.
        let mut done = groups.iter();
        let mut completed = 0;
        let mut failed = None;
        for (stmt, start, probe, before) in &parts {
            if sets_lock_timeout(text, *stmt, shared) {
                self.lock_timeout = true;
            }
            if *before {
                match done.next() {
                    Some(rows) => self.tracker.indexes_before(rows),
                    None => {
                        failed = Some((*stmt, *start));
                        break;
                    }
                }
            }
            if done.next().is_none() {
                failed = Some((*stmt, *start));
                break;
            }
            completed += 1;
            if *probe {
                match done.next() {
                    Some(rows) => self.record(*stmt, rows, log),
                    None => {
                        if let Some((Some(error), _)) = &error
                            && crate::locks::probe_missing(error)
                        {
                            return Err(self.lost_probe(error));
                        }
                        break;
                    }
                }
            }
        }
        match error {
            None => Ok(Ok(completed)),
            Some((Some(error), _)) => Ok(Err(match failed {
                Some((stmt, start)) => Failure {
                    error,
                    batch: stmt,
                    completed: 0,
                    shift: start,
                },
                // After every statement: a deferred constraint checked as the transaction ends.
                None => Failure {
                    error,
                    batch: span,
                    completed,
                    shift: 0,
                },
            })),
            Some((None, reason)) => Err(ReplayError {
                file: self.migration.file.display().to_string(),
                reason,
            }),
        }
    }

    /// Adds the lock findings of `stmt`, whose probe returned `rows`, to `log`.
    fn record(&mut self, stmt: Span, rows: &[tokio_postgres::SimpleQueryRow], log: &mut ReplayLog) {
        let migration = self.migration;
        let text = &*migration.text;
        let effects: Vec<crate::locks::Effect> = self
            .tracker
            .observe(&crate::locks::parse(rows))
            .into_iter()
            .filter(|e| {
                if e.table.is_empty() {
                    drops_table(text, stmt)
                } else {
                    targets(text, stmt, &e.table)
                }
            })
            .collect();
        if !effects.is_empty() {
            log.findings.extend(crate::locks::findings(
                text,
                stmt,
                &effects,
                self.lock_timeout,
                &migration.file,
                &migration.id,
            ));
        }
    }

    fn lost_probe(&self, error: &DbError) -> ReplayError {
        ReplayError {
            file: self.migration.file.display().to_string(),
            reason: format!(
                "lock tracing lost its prepared query after this statement ({}); rerun with \
                 --no-lock-trace",
                error.message()
            ),
        }
    }
}

/// Whether the statement is `DROP TABLE` (the tables it drops are gone when the probe runs).
fn drops_table(text: &str, stmt: Span) -> bool {
    sql::target(text, stmt)
        .is_some_and(|t| t.kind == sql::TargetKind::Table && t.action == sql::Action::Drop)
}

/// Whether the statement acts on `table` (`schema.name`): its target, or the table of its index,
/// trigger or policy.
fn targets(text: &str, stmt: Span, table: &str) -> bool {
    let Some(t) = sql::target(text, stmt) else {
        return false;
    };
    let name = match t.kind {
        sql::TargetKind::Table => Some(t.name),
        sql::TargetKind::Index | sql::TargetKind::Trigger | sql::TargetKind::Policy => t.table,
        _ => None,
    };
    let Some(name) = name else {
        return false;
    };
    let (schema, rel) = table.split_once('.').unwrap_or(("public", table));
    if name.name == rel && name.schema.as_deref().is_none_or(|s| s == schema) {
        return true;
    }
    // `ALTER TABLE old RENAME TO new`: the probe sees the table under its new name.
    let tokens = sql::significant_tokens(text, stmt);
    tokens.windows(3).any(|w| {
        w[0].is_word(text, "RENAME")
            && w[1].is_word(text, "TO")
            && sql::ident(text, &w[2]).is_some_and(|n| n == rel)
    }) && tokens.get(1).is_some_and(|t| t.is_word(text, "TABLE"))
}

/// Replays `set` on `client` (an empty database). Statement errors become findings; only a broken
/// connection is an error.
pub async fn run(
    client: &Client,
    set: &MigrationSet,
    engine: &EngineContext,
) -> Result<ReplayLog, ReplayError> {
    run_with(
        Sessions::single(client),
        set,
        engine,
        &ReplayOptions::default(),
    )
    .await
}

/// [`run`] with the sessions of a replay role and options.
pub async fn run_with(
    sessions: Sessions<'_>,
    set: &MigrationSet,
    engine: &EngineContext,
    options: &ReplayOptions,
) -> Result<ReplayLog, ReplayError> {
    let privileged = match sessions.replay_role() {
        Some(role) if !options.privileged_extensions.is_empty() => {
            crate::environment::privileged::install(
                sessions.admin,
                role,
                &options.privileged_extensions,
            )
            .await?;
            true
        }
        _ => false,
    };
    let replayed = replay(sessions, set, engine, options, None).await;
    if privileged {
        crate::environment::privileged::uninstall(sessions.admin).await?;
    }
    replayed.map(|(log, _)| log)
}

/// The log of a replay that applied the first `start` migrations of `set` and reported `findings`
/// (a cached prefix): their provenance is recorded from the set, whose text is the prefix's.
pub fn prefix_log(
    set: &MigrationSet,
    start: usize,
    findings: Vec<Finding>,
    statements: usize,
) -> ReplayLog {
    let mut log = ReplayLog {
        applied: start,
        findings,
        statements,
        ..ReplayLog::default()
    };
    for index in 0..start.min(set.migrations.len()) {
        record(&mut log, index, None);
    }
    log
}

/// Where a replay resumes: after the first `start` migrations of the set, already applied to the
/// database (a cached prefix, see `crate::cache`), with what their replay left behind.
#[derive(Debug)]
pub struct Resume {
    pub start: usize,
    /// Findings and statement count of the prefix (its provenance is recorded again from the set).
    pub findings: Vec<Finding>,
    pub statements: usize,
    pub checkpoint: Checkpoint,
}

/// What a replay that applied every migration of its set leaves in its session, kept with a snapshot
/// so that a later replay can resume from it exactly.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// Lock tracing's memory of file nodes, scan counts and (one-transaction runners) locks held.
    pub tracker: crate::locks::Tracker,
    /// Settings the migrations set for the session (`SET search_path …`): in force for later ones.
    pub settings: Vec<(String, String)>,
    /// The role a `SET ROLE` left the session in, when not the login role.
    pub role: Option<String>,
    /// One transaction around every migration: the table locks it held after the last one
    /// (qualified name, mode), taken again when a replay resumes inside a new transaction.
    #[serde(default)]
    pub locks: Vec<(String, String)>,
}

/// [`run_with`] from a cached prefix (`resume`). Also returns, when every migration was applied and
/// what the session holds can be carried over to a later replay, the [`Checkpoint`] to cache with a
/// snapshot of the database; `Err(reason)` says why it cannot.
pub async fn run_resumable(
    sessions: Sessions<'_>,
    set: &MigrationSet,
    engine: &EngineContext,
    options: &ReplayOptions,
    resume: Option<Resume>,
) -> Result<(ReplayLog, Result<Checkpoint, String>), ReplayError> {
    let privileged = match sessions.replay_role() {
        Some(role) if !options.privileged_extensions.is_empty() => {
            crate::environment::privileged::install(
                sessions.admin,
                role,
                &options.privileged_extensions,
            )
            .await?;
            true
        }
        _ => false,
    };
    let replayed = replay(sessions, set, engine, options, resume).await;
    if privileged {
        crate::environment::privileged::uninstall(sessions.admin).await?;
    }
    replayed
}

/// What the replay session holds that a snapshot of the database does not: the settings and role
/// it set, and (one transaction around every migration, read before its COMMIT) what lasts only
/// until the transaction ends. `Err(reason)` when something cannot be carried over.
async fn checkpoint(
    client: &Client,
    tracker: &crate::locks::Tracker,
    in_transaction: bool,
    probe_ready: bool,
) -> Result<Checkpoint, String> {
    let text =
        |row: &tokio_postgres::SimpleQueryRow, i: usize| row.get(i).unwrap_or("").to_string();
    let rows = |q: &'static str| async move {
        match execute_grouped(client, q).await {
            (groups, None) => Ok(groups.into_iter().flatten().collect::<Vec<_>>()),
            (_, Some((_, reason))) => Err(reason),
        }
    };
    // Temporary objects, cursors, prepared statements (but lock tracing's probe) and advisory locks
    // live in the session; a snapshot cannot carry them.
    let held = rows(
        "SELECT (SELECT count(*) FROM pg_catalog.pg_class c \
                 WHERE c.relnamespace = pg_catalog.pg_my_temp_schema()), \
                (SELECT count(*) FROM pg_catalog.pg_cursors), \
                (SELECT count(*) FROM pg_catalog.pg_prepared_statements WHERE from_sql), \
                (SELECT count(*) FROM pg_catalog.pg_locks \
                 WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid()), \
                current_user::text, session_user::text",
    )
    .await?;
    let row = held.first().ok_or("no answer")?;
    let count = |i: usize| row.get(i).and_then(|v| v.parse::<i64>().ok()).unwrap_or(1);
    if count(0) > 0 {
        return Err("a migration left temporary objects in the session".into());
    }
    if count(1) > 0 {
        return Err("a migration left a cursor open".into());
    }
    if count(2) > i64::from(probe_ready) {
        return Err("a migration prepared a statement".into());
    }
    if count(3) > 0 {
        return Err("a migration holds an advisory lock".into());
    }
    let (current, login) = (text(row, 4), text(row, 5));
    let settings = session_settings(client).await?;
    if in_transaction {
        // Values added to an enum type made before the transaction (by a prelude: unusable until
        // COMMIT, where a resumed replay would find them committed) and deferred constraint checks
        // last until the transaction ends (`SET LOCAL` is compared after the COMMIT, see `replay`).
        // Types the migrations create in the transaction are safe to extend and use in it, cold
        // or resumed: a resumed replay that fails on such a use is replayed again from scratch.
        let local = rows(
            "SELECT (SELECT count(*) FROM pg_catalog.pg_enum e \
                     JOIN pg_catalog.pg_type t ON t.oid = e.enumtypid \
                     WHERE e.xmin::text = (pg_catalog.txid_current() % 4294967296)::text \
                     AND t.xmin::text <> e.xmin::text) + \
                    (SELECT count(*) FROM pg_catalog.pg_constraint WHERE condeferrable) + \
                    (SELECT count(*) FROM pg_catalog.pg_trigger WHERE tgdeferrable)",
        )
        .await?;
        if local
            .first()
            .and_then(|r| r.get(0))
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(1)
            > 0
        {
            return Err(
                "the transaction around every migration holds an enum value or a deferrable check that lasts until its COMMIT"
                    .into(),
            );
        }
    }
    let locks = if in_transaction {
        rows(
            "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), l.mode \
             FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_class c ON c.oid = l.relation \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'relation' AND l.granted \
             AND c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
             ORDER BY l.relation, l.mode",
        )
        .await?
        .iter()
        .map(|r| (text(r, 0), text(r, 1)))
        .collect()
    } else {
        Vec::new()
    };
    Ok(Checkpoint {
        tracker: tracker.clone(),
        settings,
        role: (current != login).then_some(current),
        locks,
    })
}

/// Takes again, in a resumed replay's new transaction, the table locks the prefix's transaction held.
async fn relock(client: &Client, checkpoint: &Checkpoint) -> Result<(), String> {
    let sql: String = checkpoint
        .locks
        .iter()
        .map(|(table, mode)| {
            format!(
                "LOCK TABLE ONLY {table} IN {} MODE;\n",
                crate::locks::mode_name(mode)
            )
        })
        .collect();
    if sql.is_empty() {
        return Ok(());
    }
    client
        .batch_execute(&sql)
        .await
        .map_err(|e| crate::engine::db_error_text(&e))
}

/// The settings the session's own `SET`s gave it.
async fn session_settings(client: &Client) -> Result<Vec<(String, String)>, String> {
    match execute_grouped(
        client,
        "SELECT name, setting FROM pg_catalog.pg_settings WHERE source = 'session' ORDER BY name",
    )
    .await
    {
        (groups, None) => Ok(groups
            .iter()
            .flatten()
            .map(|r| {
                (
                    r.get(0).unwrap_or("").to_string(),
                    r.get(1).unwrap_or("").to_string(),
                )
            })
            .collect()),
        (_, Some((_, reason))) => Err(reason),
    }
}

/// Puts a resumed replay's session where the prefix's left it (settings, role).
async fn restore(client: &Client, checkpoint: &Checkpoint) -> Result<(), String> {
    let mut sql = String::new();
    for (name, value) in &checkpoint.settings {
        sql.push_str(&format!(
            "SELECT pg_catalog.set_config({}, {}, false);\n",
            literal(name),
            literal(value)
        ));
    }
    if let Some(role) = &checkpoint.role {
        sql.push_str(&format!("SET ROLE {};\n", crate::engine::quote_ident(role)));
    }
    if sql.is_empty() {
        return Ok(());
    }
    client
        .batch_execute(&sql)
        .await
        .map_err(|e| crate::engine::db_error_text(&e))
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

async fn replay(
    sessions: Sessions<'_>,
    set: &MigrationSet,
    engine: &EngineContext,
    options: &ReplayOptions,
    resume: Option<Resume>,
) -> Result<(ReplayLog, Result<Checkpoint, String>), ReplayError> {
    let mut log = ReplayLog::default();
    let admin = sessions.admin;
    // A cached prefix ran the preludes, the baseline and the runner's table already.
    let resumed = resume.is_some();
    let roles_before = match sessions.replay {
        Replayer::Connect { .. } if !resumed => {
            Some(crate::environment::privileged::RolesBefore::read(admin).await?)
        }
        _ => None,
    };
    // Preludes, and the environment the set needs (see `crate::environment`): the repository's
    // configuration, run as the engine's own role.
    for prelude in set
        .preludes
        .iter()
        .filter(|p| p.kind != PreludeKind::Baseline && !resumed)
    {
        let outcome = match &prelude.kind {
            PreludeKind::File => run_prelude(admin, prelude, engine)
                .await?
                .map_err(|f| vec![f]),
            PreludeKind::Preset(preset) => {
                crate::environment::run_preset(admin, *preset, &prelude.text)
                    .await?
                    .map_err(|f| vec![f])
            }
            PreludeKind::CreateRoles(refs) => {
                match crate::environment::create_roles(admin, refs).await? {
                    Ok(notice) => {
                        log.findings.extend(notice);
                        Ok(())
                    }
                    Err(f) => Err(vec![f]),
                }
            }
            PreludeKind::Baseline => Ok(()),
        };
        if let Err(findings) = outcome {
            log.failed = true;
            log.findings.extend(findings);
            // Nothing was applied: drift sums up what could not be compared.
            log.stopped_at = set.migrations.first().map(|m| m.id.clone());
            return Ok((log, Err(NOT_APPLIED.into())));
        }
    }
    // The replay role's session starts now, as the runner's would on a prepared database (settings the
    // preludes gave the database with `ALTER DATABASE … SET` are in force).
    let connected;
    let client = match sessions.replay {
        Replayer::Same => admin,
        Replayer::Connect { server, db } => {
            if let (Some(role), Some(before)) = (&server.replay, &roles_before) {
                crate::environment::privileged::hand_over(admin, &role.name, &set.preludes, before)
                    .await?;
            }
            connected = server.connect_replay(db).await.map_err(|e| ReplayError {
                file: set.dir.display().to_string(),
                reason: e.to_string(),
            })?;
            &connected
        }
    };
    for prelude in set
        .preludes
        .iter()
        .filter(|p| p.kind == PreludeKind::Baseline && !resumed)
    {
        if let Err(findings) = run_baseline(client, set, prelude, engine, &mut log).await? {
            log.failed = true;
            log.findings.extend(findings);
            log.stopped_at = set.migrations.first().map(|m| m.id.clone());
            return Ok((log, Err(NOT_APPLIED.into())));
        }
    }
    // The runner's own table exists before its first migration, as on a real database.
    if let Some(ddl) = set.runner.bookkeeping_ddl()
        && !set.migrations.is_empty()
        && !resumed
    {
        control(client, ddl, set.migrations.first()).await?;
    }
    let all_in_one = set.runner.default_transactions() == Transactions::AllPendingInOne;
    // File nodes are remembered across migrations; held locks per transaction.
    let mut tracker = crate::locks::Tracker::default();
    let mut start = 0;
    let relocks = resume.as_ref().map(|r| r.checkpoint.clone());
    if let Some(resume) = resume {
        start = resume.start.min(set.migrations.len());
        log = prefix_log(set, start, resume.findings, resume.statements);
        tracker = resume.checkpoint.tracker.clone();
        if all_in_one {
            tracker.continue_transaction();
        }
        restore(client, &resume.checkpoint)
            .await
            .map_err(|reason| ReplayError {
                file: set.dir.display().to_string(),
                reason: format!("{RESUME_FAILED}: {reason}"),
            })?;
    }
    // Whether the lock probe is prepared in this session.
    let mut probe_ready = false;
    if all_in_one {
        control(client, "BEGIN", set.migrations.get(start)).await?;
        if let Some(checkpoint) = &relocks {
            relock(client, checkpoint)
                .await
                .map_err(|reason| ReplayError {
                    file: set.dir.display().to_string(),
                    reason: format!("{RESUME_FAILED}: {reason}"),
                })?;
        }
    }
    for (index, migration) in set.migrations.iter().enumerate().skip(start) {
        if let Some(blocked) = &migration.blocked {
            if all_in_one {
                rollback(client, migration).await?;
            }
            let not_applied: Vec<String> = set.migrations[index..]
                .iter()
                .map(|m| m.id.clone())
                .collect();
            log.findings.push(
                crate::registry::finding(blocked.rule, blocked.message.clone())
                    .help(blocked.help.clone())
                    .at(&migration.file, blocked.span)
                    .evidence(Evidence {
                        migration: Some(migration.id.clone()),
                        not_applied,
                        ..Evidence::default()
                    }),
            );
            if blocked.rule == "unreplayable-migration" {
                log.partial = true;
            } else {
                log.failed = true;
            }
            if all_in_one {
                log.applied = 0;
                log.committed.clear();
            }
            log.stopped_at = Some(migration.id.clone());
            return Ok((log, Err(NOT_APPLIED.into())));
        }
        let explicit = migration.transactions == Transactions::Explicit;
        if explicit {
            control(client, "BEGIN", Some(migration)).await?;
        }
        let mut failure = None;
        let mut sent = 0usize;
        // Lock tracing: relations up to this OID existed before the migration.
        let tables = if options.lock_trace {
            migration_tables(migration)
        } else {
            Vec::new()
        };
        let threshold = if options.lock_trace {
            let (threshold, counts, storage) =
                lock_baseline(client, migration, &tables, None).await?;
            tracker.baseline(&counts);
            tracker.storage(&storage);
            Some(threshold)
        } else {
            None
        };
        tracker.new_transaction();
        let mut lock_timeout = false;
        // A `BEGIN` written in the file is open (its `SET LOCAL`s last until its `COMMIT`).
        let mut file_block = false;
        for batch in &migration.batches {
            match sql::transaction_control(&migration.text, batch.span) {
                Some(sql::TxControl::Begin) => file_block = true,
                Some(sql::TxControl::Commit | sql::TxControl::Rollback) => file_block = false,
                None => {}
            }
            // Inside a transaction: the runner's, or one the file opened.
            let in_transaction = explicit || all_in_one || file_block;
            if sets_lock_timeout(
                &migration.text,
                batch.span,
                in_transaction || migration.transactions != Transactions::Autocommit,
            ) {
                lock_timeout = true;
            }
            let mut trace = Trace {
                client,
                migration,
                tracker: &mut tracker,
                probe_ready: &mut probe_ready,
                lock_timeout,
                privileged: &options.privileged_extensions,
            };
            // Sent as the runner sends it, with the probe after each statement, so each statement's
            // locks can be told apart.
            if let Some(threshold) = threshold.filter(|_| traceable(&migration.text, batch)) {
                if !in_transaction {
                    trace.tracker.new_transaction();
                }
                let outcome = trace.batch(batch.span, threshold, &mut log).await?;
                lock_timeout = trace.lock_timeout;
                match outcome {
                    Ok(n) => {
                        sent += 1;
                        log.statements += n;
                        continue;
                    }
                    Err(f) => {
                        failure = Some(f);
                        break;
                    }
                }
            }
            // psql interprets meta-commands itself; other runners send the line to the server, which
            // rejects it (the replay does the same).
            if batch.span.slice(&migration.text).starts_with('\\')
                && matches!(set.runner, Runner::Psql | Runner::PsqlSingleTransaction)
            {
                log.findings.push(
                    crate::registry::finding(
                        "psql-meta-command",
                        "psql meta-command is not replayed",
                    )
                    .help("keep migrations to plain SQL so every runner can apply them")
                    .at(&migration.file, Some(batch.span)),
                );
                continue;
            }
            if probe_ready && crate::locks::forgets_probe(&migration.text, batch.span) {
                probe_ready = false;
            }
            let outcome = match batch.copy {
                Some(data) => {
                    copy_in(
                        client,
                        batch.span.slice(&migration.text),
                        data.slice(&migration.text),
                    )
                    .await
                }
                None => {
                    match substituted(&migration.text, batch.span, &options.privileged_extensions) {
                        None => execute(client, batch.span.slice(&migration.text)).await,
                        Some((query, parts)) => match execute(client, &query).await {
                            // The failing statement, where it starts in the query that was sent.
                            Err((Some(error), completed, _)) if completed < parts.len() => {
                                let (stmt, shift) = parts[completed];
                                log.statements += completed;
                                failure = Some(Failure {
                                    error,
                                    batch: stmt,
                                    completed: 0,
                                    shift,
                                });
                                break;
                            }
                            other => other,
                        },
                    }
                }
            };
            match outcome {
                Ok(n) => {
                    sent += 1;
                    log.statements += n;
                    // What an untraced statement did (a concurrent index build scans, VACUUM FULL
                    // rewrites) is not the next traced statement's doing: read the counters again.
                    if threshold.is_some()
                        && sql::transaction_control(&migration.text, batch.span).is_none()
                    {
                        // Only the tables the statement names, when it names any.
                        let own = traced_tables(
                            &migration.text,
                            statements_in(&migration.text, batch.span),
                        );
                        let which = if own.is_empty() { &tables } else { &own };
                        let (_, counts, storage) =
                            lock_baseline(client, migration, which, threshold).await?;
                        tracker.baseline(&counts);
                        tracker.storage(&storage);
                    }
                }
                Err((Some(error), completed, _)) => {
                    log.statements += completed;
                    failure = Some(Failure {
                        error,
                        batch: batch.span,
                        completed,
                        shift: 0,
                    });
                    break;
                }
                Err((None, _, reason)) => {
                    return Err(ReplayError {
                        file: migration.file.display().to_string(),
                        reason,
                    });
                }
            }
        }
        match failure {
            None => {
                if explicit {
                    commit(client, migration).await?;
                }
                log.applied += 1;
                record(&mut log, index, None);
            }
            Some(failure) => {
                // Also for a file that opened its own transaction block: the runner's session would
                // end there, rolling it back.
                rollback(client, migration).await?;
                log.failed = true;
                log.findings.extend(failure_findings(
                    set,
                    index,
                    &failure,
                    engine,
                    sent > 0 && crate::runner::transactions::commits_piecewise(set, index),
                    None,
                ));
                log.applied = if all_in_one { 0 } else { index };
                log.stopped_at = Some(migration.id.clone());
                if all_in_one {
                    log.committed.clear();
                } else if migration.transactions == Transactions::Autocommit {
                    record(&mut log, index, Some(failure.batch));
                }
                return Ok((log, Err(NOT_APPLIED.into())));
            }
        }
    }
    let mut kept = checkpoint(client, &tracker, all_in_one, probe_ready).await;
    if all_in_one && let Some(last) = set.migrations.last() {
        commit(client, last).await?;
        // A `SET LOCAL` ended with the transaction, and the migrations after a prefix would run
        // without it.
        if let Ok(k) = &kept
            && session_settings(client).await.as_ref() != Ok(&k.settings)
        {
            kept = Err(
                "a `SET LOCAL` lasts until the COMMIT of the transaction around every migration"
                    .into(),
            );
        }
    }
    Ok((log, kept))
}

/// How an error resuming from a cached prefix begins (the caller replays from scratch instead).
pub const RESUME_FAILED: &str = "resuming from the cached prefix";

/// Why a replay that stopped early leaves nothing to cache.
const NOT_APPLIED: &str = "not every migration was applied";

async fn control(
    client: &Client,
    sql: &str,
    migration: Option<&Migration>,
) -> Result<(), ReplayError> {
    client.batch_execute(sql).await.map_err(|e| ReplayError {
        file: migration
            .map(|m| m.file.display().to_string())
            .unwrap_or_default(),
        reason: crate::engine::db_error_text(&e),
    })
}

async fn commit(client: &Client, m: &Migration) -> Result<(), ReplayError> {
    control(client, "COMMIT", Some(m)).await
}

async fn rollback(client: &Client, m: &Migration) -> Result<(), ReplayError> {
    control(client, "ROLLBACK", Some(m)).await
}

/// Runs a `baseline:` snapshot like `psql -f` (each statement on its own, `COPY … FROM stdin` fed
/// its data, meta-commands skipped), stopping at the first error. `Ok(Err(findings))` when
/// PostgreSQL rejected a statement: reported at the snapshot's line, classified like a migration
/// failure.
async fn run_baseline(
    client: &Client,
    set: &MigrationSet,
    prelude: &Prelude,
    engine: &EngineContext,
    log: &mut ReplayLog,
) -> Result<Result<(), Vec<Finding>>, ReplayError> {
    let snapshot = Migration {
        id: prelude.file.display().to_string(),
        file: prelude.file.clone(),
        text: prelude.text.clone(),
        batches: crate::runner::statement_batches(Runner::Psql, &prelude.text),
        transactions: Transactions::Autocommit,
        blocked: None,
    };
    // Settings the server does not know, skipped.
    let mut skipped = crate::apply::SkippedSettings::default();
    for batch in &snapshot.batches {
        let stmt_text = batch.span.slice(&snapshot.text);
        if stmt_text.starts_with('\\') {
            continue; // psql meta-commands in dumps (\connect, \restrict)
        }
        let outcome = match batch.copy {
            Some(data) => copy_in(client, stmt_text, data.slice(&snapshot.text)).await,
            None => execute(client, stmt_text).await,
        };
        match outcome {
            Ok(n) => log.statements += n,
            Err((Some(error), completed, _)) => {
                // A setting of a newer server's pg_dump (`SET transaction_timeout = 0`): skipped.
                if let Some(name) =
                    crate::apply::unknown_setting(&snapshot.text, batch.span, &error)
                {
                    skipped.add(name, batch.span);
                    continue;
                }
                let failure = Failure {
                    error,
                    batch: batch.span,
                    completed,
                    shift: 0,
                };
                // The snapshot in front of the migrations, so that they count as not applied.
                let with_snapshot = MigrationSet {
                    runner: Runner::Psql,
                    migrations: std::iter::once(snapshot.clone())
                        .chain(set.migrations.iter().cloned())
                        .collect(),
                    ..set.clone()
                };
                let subject = format!("baseline snapshot `{}`", snapshot.file.display());
                return Ok(Err(failure_findings(
                    &with_snapshot,
                    0,
                    &failure,
                    engine,
                    false,
                    Some(&subject),
                )));
            }
            Err((None, _, reason)) => {
                return Err(ReplayError {
                    file: snapshot.file.display().to_string(),
                    reason,
                });
            }
        }
    }
    log.findings
        .extend(skipped.finding(&snapshot.file, "the baseline snapshot", "snapshot"));
    Ok(Ok(()))
}

/// Runs a prelude file as one query. `Ok(Err(finding))` when PostgreSQL rejected it: said to be the
/// replay server's doing when it lacks an extension or a role the file needs.
async fn run_prelude(
    client: &Client,
    prelude: &Prelude,
    engine: &EngineContext,
) -> Result<Result<(), Finding>, ReplayError> {
    match execute(client, &prelude.text).await {
        Ok(_) => Ok(Ok(())),
        Err((Some(error), completed, _)) => {
            let span = Span::new(0, prelude.text.len());
            let (primary, statement) = locate(&prelude.text, span, completed, &error);
            Ok(Err(crate::environment::prelude_failed(
                &prelude.file,
                &prelude.text,
                primary,
                statement,
                &error,
                Some(engine.version.as_str()).filter(|v| !v.is_empty()),
            )))
        }
        Err((None, _, reason)) => Err(ReplayError {
            file: prelude.file.display().to_string(),
            reason,
        }),
    }
}

/// The extension a `CREATE EXTENSION` statement asks for.
fn extension_name(text: &str, stmt: Span) -> Option<String> {
    let words = sql::leading_keywords(text, stmt, 2);
    if words != ["CREATE", "EXTENSION"] {
        return None;
    }
    sql::significant_tokens(text, stmt)
        .iter()
        .skip(2)
        .map(|t| t.span.slice(text))
        .find(|w| {
            !["if", "not", "exists"]
                .iter()
                .any(|k| w.eq_ignore_ascii_case(k))
        })
        .map(|w| w.trim_matches('"').to_string())
}

/// Findings for `failure` in migration `index` of `set`; `subject` names it in messages when it is
/// not a migration (a baseline snapshot).
fn failure_findings(
    set: &MigrationSet,
    index: usize,
    failure: &Failure,
    engine: &EngineContext,
    earlier_batches_committed: bool,
    subject: Option<&str>,
) -> Vec<Finding> {
    let migration = &set.migrations[index];
    let subject = subject
        .map(str::to_string)
        .unwrap_or_else(|| format!("migration `{}`", migration.id));
    let text = &*migration.text;
    let (primary, statement) = locate_shifted(
        text,
        failure.batch,
        failure.completed,
        &failure.error,
        failure.shift,
    );
    let error = &failure.error;
    let sqlstate = error.code().code();
    let mut evidence = db_evidence(error, Some(migration), statement);
    let later: Vec<String> = set.migrations[index + 1..]
        .iter()
        .map(|m| m.id.clone())
        .collect();
    let transactions = if set.runner.default_transactions() == Transactions::AllPendingInOne {
        Transactions::AllPendingInOne
    } else {
        migration.transactions
    };
    evidence.not_applied = if transactions == Transactions::AllPendingInOne {
        set.migrations.iter().map(|m| m.id.clone()).collect()
    } else {
        later.clone()
    };
    let mut findings = Vec::new();

    // The statement the failure is in (for environment checks and partial-failure spans).
    let stmt_span = statements_in(text, failure.batch)
        .into_iter()
        .find(|s| s.start <= primary.start && primary.start <= s.end)
        .unwrap_or(primary);
    let major = engine.version.split('.').next().unwrap_or("").to_string();

    if let Some(ext) = extension_name(text, stmt_span).filter(|_| {
        matches!(sqlstate, "58P01" | "0A000" | "42704") && error.message().contains("extension")
    }) {
        let help = match crate::environment::extension_image(&ext, &major) {
            Some(image) => format!(
                "replay on a server that has `{ext}`: `--image {image}` with the docker engine (match its PostgreSQL major to `--pg-version`), or `--database-url` to a server with it installed; when production's platform creates it outside the migrations, create it in a `prelude:` file on such a server"
            ),
            None => format!(
                "replay on a server that has `{ext}`: pass an image that ships it with `--image` (for the PostgreSQL major of `--pg-version`), or `--database-url` to a server with it installed; when production's platform creates it outside the migrations, create it in a `prelude:` file on such a server"
            ),
        };
        findings.push(
            Finding::new(
                "missing-extension",
                Category::Environment,
                Severity::Error,
                format!(
                    "extension `{ext}` is not available on the replay server ({}, PostgreSQL {}); `{}` and everything after it could not be replayed",
                    engine.description, engine.version, migration.id
                ),
            )
            .help(help)
            .at(&migration.file, Some(stmt_span))
            .evidence(Evidence {
                extra: [("extension".to_string(), ext)].into_iter().collect(),
                ..evidence
            }),
        );
        return findings;
    }

    let not_applied_note = match (transactions, later.len()) {
        (Transactions::AllPendingInOne, _) => format!(
            "; none of the {} migrations were applied (one transaction)",
            set.migrations.len()
        ),
        (_, 0) => String::new(),
        (_, 1) => "; 1 later migration was not applied".to_string(),
        (_, n) => format!("; {n} later migrations were not applied"),
    };
    // A privilege the replay role lacks (it is no superuser).
    if let Some(f) = crate::environment::privileged::classify(
        &migration.file,
        text,
        stmt_span,
        error,
        engine,
        &evidence,
        &not_applied_note,
    ) {
        findings.push(f);
        return findings;
    }
    // A role, or a newer PostgreSQL, the replay server lacks.
    if let Some(f) = crate::environment::classify(&crate::environment::Failed {
        set,
        migration,
        subject: &subject,
        stmt: stmt_span,
        primary,
        has_position: matches!(error.position(), Some(ErrorPosition::Original(_))),
        error,
        engine,
        evidence: &evidence,
        not_applied_note: &not_applied_note,
    }) {
        findings.push(f);
        return findings;
    }
    let help = match sqlstate {
        "25001" => Some(match set.runner {
            Runner::Drizzle => "drizzle-kit migrate runs all pending migrations in one transaction, so this statement can never run there: drop CONCURRENTLY, or run it outside drizzle-kit".to_string(),
            Runner::PsqlSingleTransaction => "remove --single-transaction for this file, or move the statement to a file applied without a transaction".to_string(),
            Runner::Goose => "goose wraps each migration in a transaction: add `-- +goose NO TRANSACTION` to this file".to_string(),
            Runner::Dbmate => "dbmate wraps each migration in a transaction: use `-- migrate:up transaction:false`, with this statement alone in its file".to_string(),
            Runner::Sqlx => "sqlx wraps each migration in a transaction: start the file with `-- no-transaction`, with this statement alone in it".to_string(),
            Runner::Diesel => "diesel wraps each migration in a transaction: add `run_in_transaction = false` to the migration's metadata.toml, with this statement alone in it".to_string(),
            _ => format!("{}; put this statement alone in its own migration file", set.runner.describe(transactions)),
        }),
        "55P04" => Some(format!(
            "{}; a new enum value cannot be used in the transaction that adds it: move `ALTER TYPE … ADD VALUE` into an earlier migration",
            set.runner.describe(transactions)
        )),
        _ => crate::environment::platform_help(error, set)
            .or_else(|| error.hint().map(|h| h.to_string())),
    };
    let mut finding = Finding::new(
        "migration-failed",
        Category::MigrationError,
        Severity::Error,
        format!(
            "{} failed{}: {}{}",
            subject,
            statement
                .map(|s| format!(" at statement {s}"))
                .unwrap_or_default(),
            error.message(),
            not_applied_note
        ),
    )
    .at(&migration.file, Some(primary))
    .evidence(evidence);
    if let Some(help) = help {
        finding = finding.help(help);
    }
    findings.push(finding);

    // Under autocommit the statements before the failing one stay committed.
    if transactions == Transactions::Autocommit && earlier_batches_committed {
        let committed: Vec<Span> = statements_in(text, Span::new(0, text.len()))
            .into_iter()
            .filter(|s| s.end <= failure.batch.start)
            .collect();
        if let (Some(first), Some(last)) = (committed.first(), committed.last()) {
            let k = statement.unwrap_or(committed.len() + 1);
            findings.push(
                Finding::new(
                    "partially-applied",
                    Category::PartialFailure,
                    Severity::Error,
                    format!(
                        "{} of `{}` stayed committed when statement {k} failed: the database is left half-migrated",
                        match committed.len() {
                            1 => "statement 1".to_string(),
                            n => format!("statements 1–{n}"),
                        },
                        migration.id
                    ),
                )
                .help("make the migration atomic (BEGIN … COMMIT, or `psql --single-transaction`), or make every statement safe to re-run (IF NOT EXISTS) so a retry succeeds")
                .at(&migration.file, Some(Span::new(first.start, last.end)))
                .evidence(Evidence {
                    migration: Some(migration.id.clone()),
                    statement: Some(k),
                    extra: [("committed_statements".to_string(), committed.len().to_string())]
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
    fn extension_names_are_read_from_create_extension() {
        let text = "CREATE EXTENSION IF NOT EXISTS \"vector\";";
        assert_eq!(
            extension_name(text, Span::new(0, text.len())).as_deref(),
            Some("vector")
        );
        let text = "create extension postgis schema public;";
        assert_eq!(
            extension_name(text, Span::new(0, text.len())).as_deref(),
            Some("postgis")
        );
        let text = "CREATE TABLE t(id int);";
        assert_eq!(extension_name(text, Span::new(0, text.len())), None);
    }

    #[test]
    fn trim_span_drops_surrounding_whitespace() {
        let text = "  select 1;\n";
        assert_eq!(
            crate::runner::layouts::trim(text, Span::new(0, text.len())).slice(text),
            "select 1;"
        );
    }
}
