//! Fault injection: proof that a non-atomic migration can (or cannot) be retried after failing midway.
//!
//! A migration is non-atomic when its runner commits statement by statement (psql autocommit, goose
//! `NO TRANSACTION`, Flyway non-transactional scripts). If it fails after statement k, statements 1..k
//! stay committed, and an operator retries the whole migration. For every k, this stage clones the
//! database as it was before the migration (`CREATE DATABASE … TEMPLATE`), applies statements 1..k,
//! re-runs the whole migration the way its runner would, and reports the first k whose retry fails,
//! with the statement and error of the retry and what the runner's bookkeeping would show. A migration
//! whose every retry succeeds gets no finding.
//!
//! It takes the server, the cleanup registry and a set; it walks its own copy of the set (the main
//! replay is untouched) and returns `partial-failure` findings. Cost grows with statements ×
//! non-atomic migrations, so `check` runs it only when asked (`--fault-injection`).

use crate::apply::{EngineContext, ReplayError};
use crate::engine::{Cleanup, EngineError, Server};
use crate::model::{Evidence, Finding};
use crate::registry;
use crate::replay::{self, ReplayOptions};
use crate::runner::{Migration, MigrationSet, Runner, Transactions};

/// Fault injection could not run.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error("fault injection could not clone the database: {0}")]
    Clone(String),
}

/// Migrations with more than this many statements are analysed for their first statements only.
pub const MAX_STATEMENTS: usize = 200;

/// Migration `index` of `set` commits in pieces under its runner (a psql file wrapped in its own
/// `BEGIN` … `COMMIT` does not).
fn non_atomic(set: &MigrationSet, index: usize) -> bool {
    let m = &set.migrations[index];
    m.transactions == Transactions::Autocommit
        && m.batches.len() > 1
        && m.blocked.is_none()
        && crate::runner::transactions::commits_piecewise(set, index)
}

/// What the runner's bookkeeping shows after a failure midway, for messages.
fn bookkeeping(runner: Runner, id: &str) -> String {
    match runner {
        Runner::GolangMigrate => format!("golang-migrate marks the database dirty at version {id}"),
        Runner::Goose => {
            format!("goose records nothing for version {id}, so it re-runs the whole file")
        }
        Runner::Flyway => format!(
            "Flyway records version {id} as failed; `flyway repair` then re-runs the whole file"
        ),
        Runner::Dbmate => {
            format!("dbmate records nothing for version {id}, so it re-runs the whole file")
        }
        _ => "nothing records how far it got, so a retry re-runs the whole file".to_string(),
    }
}

/// A set with only `migrations` (no preludes), for applying pieces of the walk.
fn subset(set: &MigrationSet, migrations: Vec<Migration>) -> MigrationSet {
    MigrationSet {
        migrations,
        preludes: Vec::new(),
        ..set.clone()
    }
}

async fn clone_db(
    server: &Server,
    cleanup: &Cleanup,
    template: &str,
) -> Result<crate::engine::ScratchDb, FaultError> {
    let db = server
        .create_scratch_from(cleanup, "fault", template)
        .await?;
    Ok(db)
}

/// Replays `set` on database `db` as the replay role (the repository's preludes as the engine's own).
async fn replay_on(
    server: &Server,
    db: &str,
    set: &MigrationSet,
    engine: &EngineContext,
    options: &ReplayOptions,
) -> Result<replay::ReplayLog, FaultError> {
    let admin = server.connect(db).await?;
    Ok(replay::run_with(
        replay::Sessions::on(server, db, &admin),
        set,
        engine,
        options,
    )
    .await?)
}

/// Runs fault injection on every non-atomic migration of `set`.
pub async fn analyze(
    server: &Server,
    cleanup: &Cleanup,
    set: &MigrationSet,
    engine: &EngineContext,
    options: &ReplayOptions,
) -> Result<Vec<Finding>, FaultError> {
    // Tracing is the main replay's; here only what commits matters.
    let options = &ReplayOptions {
        lock_trace: false,
        ..options.clone()
    };
    let mut findings = Vec::new();
    if !(0..set.migrations.len()).any(|i| non_atomic(set, i)) {
        return Ok(findings);
    }
    // The walk: a database that follows the set migration by migration.
    let walk = server.create_scratch(cleanup, "walk").await?;
    let result = async {
        {
            let preludes = MigrationSet {
                migrations: Vec::new(),
                ..set.clone()
            };
            let log = replay_on(server, &walk.name, &preludes, engine, options).await?;
            if log.failed {
                return Ok(());
            }
        }
        for (index, migration) in set.migrations.iter().enumerate() {
            if non_atomic(set, index) {
                // The walk database has no connection here, so it can serve as a template.
                if let Some(f) =
                    analyze_one(server, cleanup, set, migration, &walk.name, engine, options)
                        .await?
                {
                    findings.push(f);
                }
            }
            let log = replay_on(
                server,
                &walk.name,
                &subset(set, vec![migration.clone()]),
                engine,
                options,
            )
            .await?;
            if log.failed || log.partial {
                break;
            }
        }
        Ok::<(), FaultError>(())
    }
    .await;
    server.drop_scratch(cleanup, walk).await;
    result?;
    Ok(findings)
}

/// Tries every failure point k of one migration; returns the finding for the first k whose retry fails.
async fn analyze_one(
    server: &Server,
    cleanup: &Cleanup,
    set: &MigrationSet,
    migration: &Migration,
    template: &str,
    engine: &EngineContext,
    options: &ReplayOptions,
) -> Result<Option<Finding>, FaultError> {
    let n = migration.batches.len().min(MAX_STATEMENTS);
    for k in 1..n {
        let db = clone_db(server, cleanup, template).await?;
        let outcome = async {
            // Statements 1..k committed, then the failure.
            let mut partial = migration.clone();
            partial.batches.truncate(k);
            let first = replay_on(
                server,
                &db.name,
                &subset(set, vec![partial]),
                engine,
                options,
            )
            .await?;
            if first.failed {
                // The migration fails by itself before k: the main replay reports that.
                return Ok::<_, FaultError>(None);
            }
            // The operator retries the whole migration.
            let retry = replay_on(
                server,
                &db.name,
                &subset(set, vec![migration.clone()]),
                engine,
                options,
            )
            .await?;
            Ok(if retry.failed { Some(retry) } else { None })
        }
        .await;
        server.drop_scratch(cleanup, db).await;
        let Some(retry) = outcome? else {
            continue;
        };
        let Some(failure) = retry
            .findings
            .into_iter()
            .find(|f| f.rule == "migration-failed" || f.rule == "missing-extension")
        else {
            continue;
        };
        let statement = failure.evidence.statement;
        let error = failure
            .message
            .split_once(": ")
            .map(|(_, m)| m.split("; ").next().unwrap_or(m).to_string())
            .unwrap_or_else(|| failure.message.clone());
        let mut extra = failure.evidence.extra.clone();
        extra.insert("failure_after_statement".to_string(), k.to_string());
        let f = registry::finding(
            "retry-fails",
            format!(
                "if `{}` fails after statement {k}, retrying it fails{}: {error} ({})",
                migration.id,
                statement.map(|s| format!(" at statement {s}")).unwrap_or_default(),
                bookkeeping(set.runner, &migration.id)
            ),
        )
        .help("make every statement safe to re-run (IF NOT EXISTS, IF EXISTS, ON CONFLICT DO NOTHING), or split the migration so that each non-transactional statement is alone in its file")
        .evidence(Evidence {
            sqlstate: failure.evidence.sqlstate.clone(),
            migration: Some(migration.id.clone()),
            statement,
            extra,
            ..Evidence::default()
        });
        let f = match &failure.location {
            Some(loc) => f.at(&loc.file, loc.span),
            None => f.at(&migration.file, None),
        };
        return Ok(Some(f));
    }
    Ok(None)
}
