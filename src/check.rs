//! `check`: the one entry point behind the CLI (and later the GitHub Action and the pre-commit hook).
//!
//! It takes [`CheckOptions`] and a [`Cleanup`] registry owned by the caller, runs the pipeline
//! (configuration → discovery → static rules → engine → replay of every set into its own scratch
//! database) and returns the [`Report`] with the [`Sources`] its findings point into. Everything the
//! engine created is released before it returns; the caller runs [`Cleanup::run_all`] again on
//! interruption or panic.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use crate::catalog::{self, Catalog, SnapshotOptions};
use crate::declared::{self, DeclaredSchema};
use crate::diff::{self, DriftClass};
use crate::engine::Server;
use crate::replay::ReplayLog;
use crate::rules::drift::DriftContext;

use crate::config::{self, ConfigError};
use crate::discover::{self, DiscoverError};
use crate::engine::{self, Cleanup, EngineError, EngineOptions};
use crate::model::{Category, Finding, Report, SetSummary, Severity, Sources};
use crate::replay::{self, EngineContext, ReplayError};
use crate::rules;

/// What to check and how.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// The repository root.
    pub root: PathBuf,
    /// `--config FILE`; default `<root>/.pgrehearse.yaml` when present.
    pub config: Option<PathBuf>,
    pub engine: EngineOptions,
    /// `--schema FILE`: declared schema files (relative to the root) to compare with the migrations.
    pub schemas: Vec<PathBuf>,
    /// `--against URL`: a live database to compare with the migrations, read-only.
    pub against: Option<String>,
    /// `--fault-injection`: retry every non-atomic migration after a failure at each statement.
    pub fault_injection: bool,
    /// Trace locks, rewrites and scans during replay (`--no-lock-trace` turns it off).
    pub lock_trace: bool,
    /// Progress and timings on stderr.
    pub verbose: bool,
    /// Which findings baseline to apply.
    pub baseline: crate::policy::BaselineChoice,
    /// `--create-roles`: create the roles the migrations reference but never create, for every set.
    pub create_roles: bool,
}

/// Why a check could not be done (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Discover(#[from] DiscoverError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    #[error(transparent)]
    Live(#[from] crate::live::LiveError),
    #[error(transparent)]
    Faults(#[from] crate::faults::FaultError),
    #[error(transparent)]
    Baseline(#[from] crate::policy::BaselineError),
    #[error(
        "--against compares one migration set with a live database, but {0} sets were found; name the set with `sets:` in .pgrehearse.yaml"
    )]
    AgainstNeedsOneSet(usize),
}

/// A finished check.
#[derive(Debug)]
pub struct Outcome {
    pub report: Report,
    pub sources: Sources,
}

macro_rules! progress {
    ($opts:expr, $($arg:tt)*) => {
        if $opts.verbose {
            eprintln!("pgrehearse: {}", format!($($arg)*));
        }
    };
}

/// Runs the whole check. The engine is started only when some set needs a database.
pub async fn run(options: &CheckOptions, cleanup: &Cleanup) -> Result<Outcome, CheckError> {
    let result = run_inner(options, cleanup).await;
    cleanup.run_all().await;
    result
}

async fn run_inner(options: &CheckOptions, cleanup: &Cleanup) -> Result<Outcome, CheckError> {
    let started = Instant::now();
    let config = config::load(&options.root, options.config.as_deref())?;
    // `--create-roles` turns `create-roles` on for every set.
    let environment_config = options.create_roles.then(|| {
        let mut c = config.clone().unwrap_or_default();
        c.create_roles = Some(true);
        for set in &mut c.sets {
            set.create_roles = Some(true);
        }
        c
    });
    let discovery = discover::find_with_schemas(
        &options.root,
        environment_config.as_ref().or(config.as_ref()),
        &options.schemas,
    )?;
    let severities: BTreeMap<DriftClass, Option<Severity>> = config
        .as_ref()
        .map(|c| {
            c.drift
                .severity
                .iter()
                .map(|(class, level)| (*class, level.severity()))
                .collect()
        })
        .unwrap_or_default();
    let snapshot_options = SnapshotOptions {
        exclude: config
            .as_ref()
            .map(|c| c.drift.exclusions())
            .unwrap_or_default(),
    };
    progress!(
        options,
        "discovered {} migration set(s) in {:.0?}",
        discovery.sets.len(),
        started.elapsed()
    );
    let mut report = Report::default();
    report.findings.extend(discovery.findings);
    for set in &discovery.sets {
        report.findings.extend(rules::static_checks(set));
    }
    if discovery.sets.is_empty() {
        report.findings.push(
            Finding::new(
                "no-migrations",
                Category::Discovery,
                Severity::Notice,
                format!(
                    "no migration set found under {}",
                    options.root.display()
                ),
            )
            .help("name the folder and its runner in .pgrehearse.yaml (`sets: [{path: db/migrations, runner: psql}]`)"),
        );
    }

    let replayable = discovery
        .sets
        .iter()
        .filter(|s| s.refused.is_none() && !s.migrations.is_empty())
        .count();
    if options.against.is_some() && replayable != 1 {
        return Err(CheckError::AgainstNeedsOneSet(replayable));
    }
    let needs_db = discovery.sets.iter().any(|s| {
        s.refused.is_none() && (!s.migrations.is_empty() || crate::environment::has_baseline(s))
    });
    if needs_db {
        let server = engine::start(&options.engine, cleanup).await?;
        progress!(
            options,
            "engine {} ready in {:.3}s: {} (PostgreSQL {})",
            server.kind,
            server.startup.as_secs_f64(),
            server.description,
            server.version
        );
        // Fault injection for the cleanup tests: prove that a panic after the engine started leaves
        // nothing behind. Not a user setting.
        if std::env::var_os("PGREHEARSE_FAULT").is_some_and(|v| v == "panic-after-engine-start") {
            panic!("fault injected after engine start (PGREHEARSE_FAULT)");
        }
        report.engine = Some(server.kind.as_str().to_string());
        let context = EngineContext {
            description: server.description.clone(),
            version: server.version.clone(),
        };
        for set in &discovery.sets {
            let mut summary = SetSummary {
                path: set.dir.clone(),
                runner: set.runner.as_str().to_string(),
                migrations: set.migrations.len(),
                applied: 0,
                status: "skipped".into(),
            };
            if set.refused.is_some()
                || (set.migrations.is_empty() && !crate::environment::has_baseline(set))
            {
                report.sets.push(summary);
                continue;
            }
            // What the set's environment (a platform preset) provides is left out of drift.
            let snapshot_options = SnapshotOptions {
                exclude: snapshot_options
                    .exclude
                    .iter()
                    .cloned()
                    .chain(crate::environment::exclusions(set))
                    .collect(),
            };
            let set_started = Instant::now();
            cleanup.expect_roles(crate::environment::roles::created_by_set(set));
            let db = server.create_scratch(cleanup, "replay").await?;
            let result = async {
                let client = server.connect(&db.name).await?;
                let log = replay::run_with(
                    &client,
                    set,
                    &context,
                    replay::ReplayOptions {
                        lock_trace: options.lock_trace,
                    },
                )
                .await?;
                let built = if set.schemas.is_empty() && options.against.is_none() {
                    None
                } else {
                    Some(catalog::snapshot(&client, &snapshot_options).await?)
                };
                Ok::<_, CheckError>((log, built))
            }
            .await;
            server.drop_scratch(cleanup, db).await;
            let (log, built) = result?;
            if options.fault_injection {
                let fault_started = Instant::now();
                report
                    .findings
                    .extend(crate::faults::analyze(&server, cleanup, set, &context).await?);
                progress!(
                    options,
                    "fault injection on {}: {:.3}s",
                    set.dir.display(),
                    fault_started.elapsed().as_secs_f64()
                );
            }
            if let (Some(built), Some(url)) = (&built, &options.against) {
                let live = crate::live::read(url, set, &snapshot_options).await?;
                report.findings.extend(live.findings);
                let changes = diff::compare(&live.catalog, built);
                let ctx = DriftContext {
                    declared_file: None,
                    declared_label: "the live database".to_string(),
                    declared: &[],
                    migrations: &log.provenance,
                    stopped_at: log.stopped_at.as_deref(),
                    severities: &severities,
                };
                report
                    .findings
                    .extend(crate::rules::drift::findings(&changes, &ctx));
            }
            if let Some(built) = built {
                for schema in &set.schemas {
                    report.findings.extend(
                        compare_declared(
                            &server,
                            cleanup,
                            schema,
                            &built,
                            &log,
                            &severities,
                            &snapshot_options,
                            crate::environment::declared_environment(set),
                        )
                        .await?,
                    );
                }
            }
            progress!(
                options,
                "replayed {} ({}): {} of {} migrations, {} statements in {:.3}s",
                set.dir.display(),
                set.runner,
                log.applied,
                set.migrations.len(),
                log.statements,
                set_started.elapsed().as_secs_f64()
            );
            summary.applied = log.applied;
            summary.status = if log.failed {
                "failed"
            } else if log.partial {
                "partial"
            } else {
                "ok"
            }
            .into();
            report.findings.extend(log.findings);
            report.sets.push(summary);
        }
    } else {
        for set in &discovery.sets {
            report.sets.push(SetSummary {
                path: set.dir.clone(),
                runner: set.runner.as_str().to_string(),
                migrations: set.migrations.len(),
                applied: 0,
                status: "skipped".into(),
            });
        }
    }
    let coverage = crate::policy::Coverage {
        replayed_fully: needs_db
            && report
                .sets
                .iter()
                .all(|s| s.status == "ok" || s.migrations == 0),
        lock_trace: options.lock_trace,
        fault_injection: options.fault_injection,
        drift: discovery.sets.iter().any(|s| !s.schemas.is_empty()) || options.against.is_some(),
        live: options.against.is_some(),
        off: Vec::new(),
    };
    let baseline = crate::policy::baseline_path(&options.root, config.as_ref(), &options.baseline);
    crate::policy::apply(
        &mut report,
        &discovery.sources,
        &options.root,
        config.as_ref(),
        baseline.as_deref(),
        &coverage,
    )?;
    progress!(options, "done in {:.3}s", started.elapsed().as_secs_f64());
    Ok(Outcome {
        report,
        sources: discovery.sources,
    })
}

/// Loads a declared schema into its own scratch database and compares it with what the migrations built.
#[allow(clippy::too_many_arguments)]
async fn compare_declared(
    server: &Server,
    cleanup: &Cleanup,
    schema: &DeclaredSchema,
    built: &Catalog,
    log: &ReplayLog,
    severities: &BTreeMap<DriftClass, Option<Severity>>,
    snapshot_options: &SnapshotOptions,
    environment: Option<&str>,
) -> Result<Vec<Finding>, CheckError> {
    let db = server.create_scratch(cleanup, "declared").await?;
    let result = async {
        let client = server.connect(&db.name).await?;
        // The platform preset, so that a declared schema referencing `auth.users` loads as on the
        // platform. A failure here shows up as the declared schema's own failure.
        if let Some(sql) = environment {
            let _ = replay::execute(&client, sql).await;
        }
        let loaded = declared::load(&client, schema).await?;
        let declared_catalog = if loaded.ok {
            Some(catalog::snapshot(&client, snapshot_options).await?)
        } else {
            None
        };
        Ok::<_, CheckError>((loaded, declared_catalog))
    }
    .await;
    server.drop_scratch(cleanup, db).await;
    let (loaded, declared_catalog) = result?;
    let mut findings = loaded.findings;
    if let Some(declared_catalog) = declared_catalog {
        let changes = diff::compare(&declared_catalog, built);
        let ctx = DriftContext {
            declared_file: Some(&schema.file),
            declared_label: schema.file.display().to_string(),
            declared: &loaded.provenance,
            migrations: &log.provenance,
            stopped_at: log.stopped_at.as_deref(),
            severities,
        };
        findings.extend(crate::rules::drift::findings(&changes, &ctx));
    }
    Ok(findings)
}
