//! `check`: the one entry point behind the CLI (and later the GitHub Action and the pre-commit hook).
//!
//! It takes [`CheckOptions`] and a [`Cleanup`] registry owned by the caller, runs the pipeline
//! (configuration → discovery → static rules → engine → replay of every set into its own scratch
//! database) and returns the [`Report`] with the [`Sources`] its findings point into. Everything the
//! engine created is released before it returns; the caller runs [`Cleanup::run_all`] again on
//! interruption or panic.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::catalog::{self, Catalog, SnapshotOptions};
use crate::declared::{self};
use crate::diff::{self};
use crate::engine::Server;
use crate::model::DriftClass;
use crate::replay::ReplayLog;
use crate::rules::drift::DriftContext;
use crate::runner::{DeclaredSchema, MigrationSet};

use crate::apply::{EngineContext, ReplayError};
use crate::config::{self, ConfigError};
use crate::discover::{self, DiscoverError};
use crate::engine::{self, Cleanup, EngineError, EngineOptions};
use crate::model::{Category, Finding, Report, SetSummary, Severity, Sources};
use crate::replay::{self};
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
    /// Which migrations count as shipped: their lock, rewrite, destructive, partial-failure and
    /// data-dependent findings are held back (`--since REF`, `--all-history`).
    pub history: crate::history::Choice,
    /// Start each replay from its longest cached prefix (see [`crate::cache`]); `--no-cache` turns
    /// it off.
    pub cache: bool,
    /// How many migration sets replay at once (`--jobs`, default: the available cores).
    pub jobs: usize,
}

/// Why a check could not be done (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Discover(#[from] DiscoverError),
    #[error(transparent)]
    Declared(#[from] declared::FindError),
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
    #[error(transparent)]
    History(#[from] crate::history::HistoryError),
    #[error(transparent)]
    Cached(#[from] crate::cache::ReplayFailure),
    #[error(
        "--against compares one migration set with a live database, but {0} sets were found; name the set with `sets:` in .pgrehearse.yaml"
    )]
    AgainstNeedsOneSet(usize),
    #[error(
        "`replay-as: superuser` is refused: {0}. The pull request's SQL would run as a PostgreSQL superuser, which can run programs on the machine running the check and read its secrets; remove `replay-as` (list what the migrations need in `privileged:` instead), or run the superuser replay only on trusted events (push, or pull requests from branches of this repository)"
    )]
    SuperuserRefused(String),
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
    let access = Access::new(options, config.as_ref());
    // Reading the repository (discovery and its git history) and starting the replay cache's
    // cluster take about as long as each other: they run at the same time.
    let read = {
        let (options, config) = (options.clone(), config.clone());
        tokio::task::spawn_blocking(move || {
            let discovery = discover_sets(&options, config.as_ref())?;
            let found = started.elapsed();
            // Before the replay, so that a wrong `--since` fails at once.
            let shipped =
                crate::history::shipped(&options.root, &discovery.sets, &options.history)?;
            Ok::<_, CheckError>((discovery, found, shipped))
        })
    };
    let early = async {
        match &access {
            Ok((access, _)) if early_start(options) => {
                // And the findings of the prefix the next replay most likely resumes from are
                // parsed meanwhile (megabytes for a long history).
                let prefetch = std::thread::spawn(crate::cache::prefetch);
                let engine_options = engine_options(options, access);
                Some(start_cached(options, &engine_options, cleanup, Some(prefetch)).await)
            }
            _ => None,
        }
    };
    let (read, early) = tokio::join!(read, early);
    let (discovery, found, mut shipped) = match read {
        Ok(read) => read?,
        Err(e) => std::panic::resume_unwind(
            e.try_into_panic()
                .unwrap_or_else(|e| Box::new(e.to_string())),
        ),
    };
    progress!(
        options,
        "discovered {} migration set(s) in {:.0?}",
        discovery.sets.len(),
        found
    );
    let mut report = Report::default();
    let needs_db = discovery.sets.iter().any(replayable);
    static_findings(options, &discovery, needs_db, &mut report);
    if options.against.is_some() {
        let replayable = discovery
            .sets
            .iter()
            .filter(|s| s.refused.is_none() && !s.migrations.is_empty())
            .count();
        if replayable != 1 {
            return Err(CheckError::AgainstNeedsOneSet(replayable));
        }
    }
    if needs_db {
        let drift = DriftSettings::new(config.as_ref());
        let (access, notices) = access?;
        report.findings.extend(notices);
        let prefilter = prefilter(options, config.as_ref(), &discovery, &shipped);
        let live = replay_sets(
            options,
            cleanup,
            &discovery,
            &drift,
            &access,
            &mut report,
            early,
            prefilter
                .as_ref()
                .map(|p| p as &crate::cache::Prefilter<'_>),
        )
        .await?;
        drop(prefilter);
        // The live bookkeeping says what shipped, unless `--since` or `--all-history` says otherwise.
        if options.history == crate::history::Choice::Context {
            for (set, applied) in discovery.sets.iter().zip(live) {
                if let Some(applied) = applied {
                    shipped.live(set, &applied);
                }
            }
        }
    } else {
        report.sets.extend(discovery.sets.iter().map(skipped));
    }
    report.findings.extend(shipped.notice.take());
    apply_policy(options, config.as_ref(), &discovery, needs_db, &mut report)?;
    crate::history::hold_back(&mut report, &shipped);
    // Sorted once the history's findings are held back: a long history's tens of thousands are not.
    report.sort();
    // Fixes only for what is reported: a long history's held-back findings need none.
    crate::rules::fixes::attach(&mut report.findings, &discovery.sets);
    rules::confirm::merge_confirmed(&mut report.findings);
    progress!(
        options,
        "history: {} migration(s) counted as shipped ({}{}), {} finding(s) about them held back",
        report.history.as_ref().map_or(0, |h| h.shipped),
        report
            .history
            .as_ref()
            .map_or(String::new(), |h| h.basis.clone()),
        shipped
            .reason
            .as_ref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default(),
        report.historical
    );
    progress!(options, "done in {:.3}s", started.elapsed().as_secs_f64());
    Ok(Outcome {
        report,
        sources: discovery.sources,
    })
}

/// The migration sets and the declared schemas each is compared with. `--create-roles` turns
/// `create-roles` on for every set.
fn discover_sets(
    options: &CheckOptions,
    config: Option<&config::ConfigFile>,
) -> Result<discover::Discovery, CheckError> {
    let environment_config = options.create_roles.then(|| {
        let mut c = config.cloned().unwrap_or_default();
        c.create_roles = Some(true);
        for set in &mut c.sets {
            set.create_roles = Some(true);
        }
        c
    });
    let set_config = environment_config.as_ref().or(config);
    let mut discovery = discover::find(&options.root, set_config)?;
    declared::find(&options.root, set_config, &options.schemas, &mut discovery)?;
    Ok(discovery)
}

/// The findings that need only the files: discovery's, and the static rules of every set not replayed. The static checks of a set that is replayed are made with
/// its replay (`check_set`): resumed after the cached prefix when the replay is (see [`crate::cache`]).
fn static_findings(
    options: &CheckOptions,
    discovery: &discover::Discovery,
    needs_db: bool,
    report: &mut Report,
) {
    report.findings.extend(discovery.findings.iter().cloned());
    for set in &discovery.sets {
        if !(needs_db && replayable(set)) {
            report.findings.extend(rules::static_checks(set));
        }
    }
    report.findings.extend(rules::unapplied_dialect_checks(
        &discovery.sets,
        &discovery.findings,
        &discovery.sources,
    ));
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
}

/// How drift is judged: per-class severities and what snapshots leave out (`drift:` configuration).
struct DriftSettings {
    severities: BTreeMap<DriftClass, Option<Severity>>,
    snapshot: SnapshotOptions,
}

impl DriftSettings {
    /// What a snapshot of `set`'s database leaves out: the configured exclusions and what the set's
    /// environment (a platform preset) provides.
    fn snapshot_for(&self, set: &MigrationSet) -> SnapshotOptions {
        SnapshotOptions {
            exclude: self
                .snapshot
                .exclude
                .iter()
                .cloned()
                .chain(crate::environment::exclusions(set))
                .collect(),
        }
    }

    fn new(config: Option<&config::ConfigFile>) -> DriftSettings {
        DriftSettings {
            severities: config
                .map(|c| {
                    c.drift
                        .severity
                        .iter()
                        .map(|(class, level)| (*class, level.severity()))
                        .collect()
                })
                .unwrap_or_default(),
            snapshot: SnapshotOptions {
                exclude: config.map(|c| c.drift.exclusions()).unwrap_or_default(),
            },
        }
    }
}

/// Who the migrations replay as, and what they may do with superuser rights (`replay-as:` and
/// `privileged:` configuration).
struct Access {
    engine: engine::ReplayAccess,
    extensions: Vec<String>,
}

impl Access {
    /// Who replays, with the finding that says so when it is a superuser.
    fn new(
        options: &CheckOptions,
        config: Option<&config::ConfigFile>,
    ) -> Result<(Access, Option<Finding>), CheckError> {
        let superuser = config.and_then(|c| c.replay_as) == Some(config::ReplayAs::Superuser);
        let mut notice = None;
        if superuser {
            if let Some(reason) = crate::github::untrusted_event() {
                return Err(CheckError::SuperuserRefused(reason));
            }
            let file = options
                .config
                .clone()
                .unwrap_or_else(|| PathBuf::from(config::FILE_NAME));
            notice = Some(
                crate::registry::finding(
                    "replay-as-superuser",
                    "the migrations were replayed as a PostgreSQL superuser (`replay-as: superuser`): their SQL could run programs and read files on the machine running the check",
                )
                .help("keep `replay-as: superuser` for trusted repositories; list what the migrations need in `privileged:` to replay them as a role without superuser")
                .at(&file, None),
            );
        }
        let create_role =
            config.is_some_and(|c| c.privileges(config::PrivilegedStatement::CreateRole));
        let access = Access {
            engine: if superuser {
                engine::ReplayAccess::Superuser
            } else if create_role {
                engine::ReplayAccess::IsolatedWithCreateRole
            } else {
                engine::ReplayAccess::Isolated
            },
            extensions: config
                .map(config::ConfigFile::privileged_extensions)
                .unwrap_or_default(),
        };
        Ok((access, notice))
    }
}

/// The summary of a set that was not replayed.
fn skipped(set: &MigrationSet) -> SetSummary {
    SetSummary {
        path: set.dir.clone(),
        runner: set.runner.as_str().to_string(),
        migrations: set.migrations.len(),
        applied: 0,
        status: "skipped".into(),
    }
}

/// Whether `set` is replayed: it is not refused and has migrations (or a baseline to load).
fn replayable(set: &MigrationSet) -> bool {
    set.refused.is_none() && (!set.migrations.is_empty() || crate::environment::has_baseline(set))
}

/// What the policy and the history will do with a finding of a cached prefix, told from its rule and
/// file: the findings they remove are then not even built from the cache (a long history's tens of
/// thousands, which a pre-commit hook's check holds back). `None` where that cannot be told from
/// those alone: a findings baseline matches findings on more, and `--against` changes what counts
/// as shipped after the replay.
fn prefilter<'a>(
    options: &CheckOptions,
    config: Option<&'a config::ConfigFile>,
    discovery: &discover::Discovery,
    shipped: &'a crate::history::Shipped,
) -> Option<impl Fn(&str, Option<&Path>) -> crate::cache::Verdict + Send + Sync + 'a> {
    use crate::cache::Verdict;
    let baseline = crate::policy::baseline_path(&options.root, config, &options.baseline);
    if options.against.is_some() || !matches!(baseline, Ok(None)) {
        return None;
    }
    // A suppression comment decides by the finding's place too: its file's findings are all built.
    let suppressing = crate::policy::suppressing_files(&discovery.sources);
    Some(move |rule: &str, file: Option<&Path>| match file {
        None => Verdict::Keep,
        Some(file) if suppressing.contains(file) => Verdict::Keep,
        Some(_) if crate::policy::turned_off(config, rule) => Verdict::Drop,
        Some(file) if shipped.holds_back(rule, file) => Verdict::HoldBack,
        Some(_) => Verdict::Keep,
    })
}

/// Starts the engine and checks every set on it, each in its own scratch database. For each set (in
/// order), the migrations the live database's bookkeeping lists as applied, when it was read.
#[allow(clippy::too_many_arguments)]
async fn replay_sets(
    options: &CheckOptions,
    cleanup: &Cleanup,
    discovery: &discover::Discovery,
    drift: &DriftSettings,
    access: &Access,
    report: &mut Report,
    early: Option<Early>,
    prefilter: Option<&crate::cache::Prefilter<'_>>,
) -> Result<Vec<Option<BTreeSet<String>>>, CheckError> {
    let engine_options = engine_options(options, access);
    let (server, cache) = match early {
        Some(Some((server, cache))) => (server, Some(cache)),
        // Tried early and unusable: not again.
        Some(None) => (engine::start(&engine_options, cleanup).await?, None),
        None => start_engine(options, &engine_options, cleanup).await?,
    };
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
        isolated: access.engine != engine::ReplayAccess::Superuser,
    };
    // Sets replay concurrently (`--jobs`), each in its own database; roles are cluster-wide, so a
    // set whose SQL creates roles runs alone, after the others. Reported in the sets' order.
    let replayed: Vec<usize> = (0..discovery.sets.len())
        .filter(|&i| replayable(&discovery.sets[i]))
        .collect();
    let (alone, together): (Vec<usize>, Vec<usize>) = if replayed.len() < 2 {
        (Vec::new(), replayed)
    } else {
        replayed.into_iter().partition(|&i| {
            !crate::environment::roles::created_by_set(&discovery.sets[i]).is_empty()
        })
    };
    let one = |i: usize| {
        let (server, context) = (&server, &context);
        let cache = cache.as_ref().map(|cache| (cache, prefilter));
        async move {
            let mut own = Report::default();
            let (summary, applied) = check_set(
                options,
                cleanup,
                server,
                context,
                &discovery.sets[i],
                drift,
                access,
                &mut own,
                cache,
            )
            .await?;
            Ok::<_, CheckError>((i, summary, applied, own))
        }
    };
    let mut done = BTreeMap::new();
    {
        use futures_util::StreamExt as _;
        let mut concurrent = futures_util::stream::iter(together.into_iter().map(one))
            .buffer_unordered(options.jobs.max(1));
        while let Some(result) = concurrent.next().await {
            let (i, summary, applied, own) = result?;
            done.insert(i, (summary, applied, own));
        }
    }
    for i in alone {
        let (i, summary, applied, own) = one(i).await?;
        done.insert(i, (summary, applied, own));
    }
    let mut live = Vec::new();
    for (i, set) in discovery.sets.iter().enumerate() {
        match done.remove(&i) {
            Some((summary, applied, own)) => {
                report.findings.extend(own.findings);
                // Findings of cached prefixes the history holds back, never built.
                report.historical += own.historical;
                report.sets.push(summary);
                live.push(applied);
            }
            None => {
                report.sets.push(skipped(set));
                live.push(None);
            }
        }
    }
    Ok(live)
}

/// The engine's options for replaying as `access` says.
fn engine_options(options: &CheckOptions, access: &Access) -> EngineOptions {
    EngineOptions {
        replay: access.engine,
        ..options.engine.clone()
    }
}

/// Whether the engine starts while the repository is read, before it is known that a set needs it:
/// when it is the replay cache's cluster (`--engine local`), made by an earlier check (a repository
/// without migrations then only stops it again). Anything slower (a new cluster, a container, or
/// `auto`'s look for Docker) waits until a set needs it.
fn early_start(options: &CheckOptions) -> bool {
    options.cache
        && options.engine.kind == engine::EngineKind::Local
        && crate::cache::cluster_made()
}

/// What starting the engine early ([`early_start`]) gave: the replay cache's cluster, or nothing,
/// the cache being unusable (then the engine starts without it once a set needs it).
type Early = Option<(Server, crate::cache::Cache)>;

/// Starts the engine: on the replay cache's cluster when the cache is on, the engine is local and no
/// other run holds the cache (see [`crate::cache`]).
async fn start_engine(
    options: &CheckOptions,
    engine_options: &EngineOptions,
    cleanup: &Cleanup,
) -> Result<(Server, Option<crate::cache::Cache>), CheckError> {
    // The local engine caches in a cluster of its own (`auto` picks it when no URL is given and
    // Docker does not answer), the docker engine in a volume, the url engine on its server.
    let (kind, no_url) = (engine_options.kind, engine_options.database_url.is_none());
    // Which one `auto` without a URL picks: Docker when a daemon answers, else the local binaries.
    let daemon = options.cache
        && kind == engine::EngineKind::Auto
        && no_url
        && engine::docker::daemon().await.is_ok();
    let local = options.cache
        && (kind == engine::EngineKind::Local
            || (kind == engine::EngineKind::Auto
                && no_url
                && !daemon
                && engine::local::find_bindir(engine_options.pg_version).is_ok()));
    if local
        && let Some((server, cache)) = start_cached(options, engine_options, cleanup, None).await
    {
        return Ok((server, Some(cache)));
    }
    let docker = options.cache && no_url && (kind == engine::EngineKind::Docker || daemon);
    if docker {
        match start_in_volume(options, engine_options, cleanup).await {
            Ok(Some((server, cache))) => return Ok((server, Some(cache))),
            Ok(None) => {}
            // `auto` with a daemon that cannot get the image: the local engine, as without the cache.
            Err(e) => {
                let Some(local) = engine::local_fallback(engine_options, &e) else {
                    return Err(e.into());
                };
                if let Some((server, cache)) = start_cached(options, &local, cleanup, None).await {
                    return Ok((server, Some(cache)));
                }
                return Ok((engine::start(&local, cleanup).await?, None));
            }
        }
    }
    let url = options.cache
        && !no_url
        && matches!(kind, engine::EngineKind::Url | engine::EngineKind::Auto);
    if url && let Some((server, cache)) = start_on_server(options, engine_options, cleanup).await? {
        return Ok((server, Some(cache)));
    }
    Ok((engine::start(engine_options, cleanup).await?, None))
}

/// Starts the docker engine with the replay cache of its image (see [`crate::cache::open_volume`]),
/// unless another run on this machine holds that cache (said with `-v`). An engine that does not
/// start is an error, as without the cache.
async fn start_in_volume(
    options: &CheckOptions,
    engine_options: &EngineOptions,
    cleanup: &Cleanup,
) -> Result<Option<(Server, crate::cache::Cache)>, engine::EngineError> {
    let image = engine_options.docker_image();
    let Some(dir) = crate::cache::volume_dir(&image) else {
        return Ok(None);
    };
    let Some((cache, lock, volume)) = opened(options, crate::cache::open_volume(&dir, &image))
    else {
        return Ok(None);
    };
    let (server, fresh) = engine::start_in_volume(engine_options, cleanup, volume, lock).await?;
    let dropped = cache.reconcile(&server, fresh).await;
    if dropped > 0 {
        progress!(
            options,
            "cache: dropped {dropped} snapshot(s) that no cache entry lists (left by an interrupted run)"
        );
    }
    Ok(Some((server, cache)))
}

/// The cache `open` gave, or `None` when another run holds it or it cannot be used (said with `-v`).
fn opened<T>(
    options: &CheckOptions,
    open: Result<Option<T>, crate::cache::CacheError>,
) -> Option<T> {
    match open {
        Ok(Some(opened)) => return Some(opened),
        Ok(None) => progress!(
            options,
            "the replay cache is in use by another run: replaying from scratch"
        ),
        Err(e) => progress!(options, "replay cache not used: {e}"),
    }
    None
}

/// Starts the url engine with the replay cache of its server (see [`crate::cache::open_server`]),
/// unless another run on this machine holds that cache or it cannot be used (said with `-v`). An
/// engine that does not start is an error, as without the cache.
async fn start_on_server(
    options: &CheckOptions,
    engine_options: &EngineOptions,
    cleanup: &Cleanup,
) -> Result<Option<(Server, crate::cache::Cache)>, CheckError> {
    let Some(dir) = engine::url::target(engine_options)
        .ok()
        .and_then(|target| crate::cache::server_dir(&target).map(|dir| (dir, target)))
    else {
        return Ok(None);
    };
    let (dir, target) = dir;
    let Some((cache, lock)) = opened(options, crate::cache::open_server(&dir, &target)) else {
        return Ok(None);
    };
    let Some(role) = cache.replay_role() else {
        return Ok(None);
    };
    match engine::start_with_kept_role(engine_options, cleanup, &role, lock).await {
        Ok(server) => {
            let dropped = cache.reconcile(&server, false).await;
            if dropped > 0 {
                progress!(
                    options,
                    "cache: dropped {dropped} snapshot(s) on the server that no cache lists (left by an interrupted run, or kept by another machine more than 30 days ago)"
                );
            }
            Ok(Some((server, cache)))
        }
        // The cache's role could not be made or altered: without the cache.
        Err(e @ engine::EngineError::ReplayRole { .. }) => {
            progress!(options, "replay cache not used: {e}");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Starts the replay cache's cluster, unless another run holds the cache or it does not start (said
/// with `-v`). `prefetch` parses the payload the replay most likely needs ([`crate::cache::prefetch`]).
async fn start_cached(
    options: &CheckOptions,
    engine_options: &EngineOptions,
    cleanup: &Cleanup,
    prefetch: Option<std::thread::JoinHandle<Option<crate::cache::Prefetched>>>,
) -> Early {
    let dir = crate::cache::dir()?;
    let (cache, lock, cluster) = opened(options, crate::cache::open(&dir))?;
    match engine::start_persistent(engine_options, cleanup, &cluster, lock).await {
        Ok((server, how)) => {
            if how == engine::local::PersistentStart::Adopted {
                progress!(
                    options,
                    "cache: reused the cluster the previous check left running"
                );
            }
            let fresh = how == engine::local::PersistentStart::Made;
            let dropped = cache.reconcile(&server, fresh).await;
            if let Some(prefetch) = prefetch {
                cache.with_prefetched(prefetch);
            }
            if dropped > 0 {
                progress!(
                    options,
                    "cache: dropped {dropped} snapshot(s) that no cache entry lists (left by an interrupted run)"
                );
            }
            Some((server, cache))
        }
        Err(e) => {
            progress!(options, "replay cache not used: {e}");
            None
        }
    }
}

/// One set: replay, fault injection, drift from the live database and from each declared schema.
/// Returns the set's summary and, when a live database was read, the migrations it has applied.
#[allow(clippy::too_many_arguments)]
async fn check_set(
    options: &CheckOptions,
    cleanup: &Cleanup,
    server: &Server,
    context: &EngineContext,
    set: &MigrationSet,
    drift: &DriftSettings,
    access: &Access,
    report: &mut Report,
    cache: Option<(&crate::cache::Cache, Option<&crate::cache::Prefilter<'_>>)>,
) -> Result<(SetSummary, Option<BTreeSet<String>>), CheckError> {
    let snapshot_options = drift.snapshot_for(set);
    let set_started = Instant::now();
    let replay_options = replay::ReplayOptions {
        lock_trace: options.lock_trace,
        privileged_extensions: access.extensions.clone(),
    };
    let cached = match cache {
        Some((cache, prefilter)) => {
            let r = crate::cache::Replay {
                cleanup,
                server,
                engine: context,
                options: &replay_options,
                snapshot: &snapshot_options,
                catalog: !set.schemas.is_empty() || options.against.is_some(),
                verbose: options.verbose,
                prefilter,
            };
            crate::cache::replay_set(cache, set, &r).await?
        }
        None => None,
    };
    let (log, built) = match cached {
        Some(done) => {
            report.historical += done.held_back;
            // Moved, not copied, when nothing came before (a long history's tens of thousands).
            if report.findings.is_empty() {
                report.findings = done.statics;
            } else {
                report.findings.extend(done.statics);
            }
            (done.log, done.built)
        }
        None => {
            report.findings.extend(rules::static_checks(set));
            replay_set(
                options,
                cleanup,
                server,
                context,
                set,
                &replay_options,
                &snapshot_options,
            )
            .await?
        }
    };
    if options.fault_injection {
        let fault_started = Instant::now();
        report
            .findings
            .extend(crate::faults::analyze(server, cleanup, set, context, &replay_options).await?);
        progress!(
            options,
            "fault injection on {}: {:.3}s",
            set.dir.display(),
            fault_started.elapsed().as_secs_f64()
        );
    }
    let mut applied = None;
    if let (Some(built), Some(url)) = (&built, &options.against) {
        let live = crate::live::read(url, set, &snapshot_options).await?;
        applied = live.applied;
        report.findings.extend(live.findings);
        let changes = diff::compare(&live.catalog, built);
        let ctx = DriftContext {
            declared_file: None,
            declared_label: "the live database".to_string(),
            declared: &[],
            migrations: &log.provenance(set),
            stopped_at: log.stopped_at.as_deref(),
            severities: &drift.severities,
        };
        report
            .findings
            .extend(crate::rules::drift::findings(&changes, &ctx));
    }
    if let Some(built) = built {
        for schema in &set.schemas {
            report.findings.extend(
                compare_declared(
                    server,
                    cleanup,
                    schema,
                    &built,
                    &log,
                    &drift.severities,
                    &snapshot_options,
                    set,
                    context,
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
    let mut summary = skipped(set);
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
    Ok((summary, applied))
}

/// Replays `set` into a scratch database; the catalog it built when drift needs it.
async fn replay_set(
    options: &CheckOptions,
    cleanup: &Cleanup,
    server: &Server,
    context: &EngineContext,
    set: &MigrationSet,
    replay_options: &replay::ReplayOptions,
    snapshot_options: &SnapshotOptions,
) -> Result<(ReplayLog, Option<Catalog>), CheckError> {
    cleanup.expect_roles(crate::environment::roles::created_by_set(set));
    let db = server.create_scratch(cleanup, "replay").await?;
    let result = async {
        let client = server.connect(&db.name).await?;
        let log = replay::run_with(
            replay::Sessions::on(server, &db.name, &client),
            set,
            context,
            replay_options,
        )
        .await?;
        let built = if set.schemas.is_empty() && options.against.is_none() {
            None
        } else {
            Some(catalog::snapshot(&client, snapshot_options).await?)
        };
        Ok::<_, CheckError>((log, built))
    }
    .await;
    server.drop_scratch(cleanup, db).await;
    result
}

/// Levels, suppressions and the findings baseline, judged by what this run could observe.
fn apply_policy(
    options: &CheckOptions,
    config: Option<&config::ConfigFile>,
    discovery: &discover::Discovery,
    needs_db: bool,
    report: &mut Report,
) -> Result<(), CheckError> {
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
    let baseline = crate::policy::baseline_path(&options.root, config, &options.baseline)?;
    crate::policy::apply(
        report,
        &discovery.sources,
        &options.root,
        config,
        baseline.as_deref(),
        &coverage,
    )?;
    Ok(())
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
    set: &MigrationSet,
    context: &EngineContext,
) -> Result<Vec<Finding>, CheckError> {
    let (loaded, declared_catalog) =
        load_declared(server, cleanup, schema, snapshot_options, set, context).await?;
    let mut findings = loaded.findings;
    if let Some(declared_catalog) = declared_catalog {
        let (declared_catalog, built) = comparable(schema, declared_catalog, built);
        let changes = diff::compare(&declared_catalog, &built);
        let ctx = DriftContext {
            declared_file: Some(&schema.file),
            declared_label: schema.file.display().to_string(),
            declared: &loaded.provenance,
            migrations: &log.provenance(set),
            stopped_at: log.stopped_at.as_deref(),
            severities,
        };
        findings.extend(crate::rules::drift::findings(&changes, &ctx));
    }
    Ok(findings)
}

/// The two catalogs as they are compared: a Diesel `schema.rs` says only what Diesel needs, so both
/// sides are projected onto that.
fn comparable<'a>(
    schema: &DeclaredSchema,
    mut declared_catalog: Catalog,
    built: &'a Catalog,
) -> (Catalog, std::borrow::Cow<'a, Catalog>) {
    if crate::declared::diesel::is_diesel_file(&schema.file) {
        crate::declared::diesel::project(&mut declared_catalog);
        let mut b = built.clone();
        crate::declared::diesel::project(&mut b);
        (declared_catalog, std::borrow::Cow::Owned(b))
    } else {
        (declared_catalog, std::borrow::Cow::Borrowed(built))
    }
}

/// Loads a declared schema into its own scratch database, after the set's environment; its catalog
/// when it loaded completely.
async fn load_declared(
    server: &Server,
    cleanup: &Cleanup,
    schema: &DeclaredSchema,
    snapshot_options: &SnapshotOptions,
    set: &MigrationSet,
    context: &EngineContext,
) -> Result<(declared::Loaded, Option<Catalog>), CheckError> {
    let db = server.create_scratch(cleanup, "declared").await?;
    let result = async {
        let client = server.connect(&db.name).await?;
        // The set's environment (preset, `prelude:` files, the roles `create-roles` makes), as before
        // the migrations, so that a declared schema referencing `auth.users` or a prelude's role loads
        // as on the platform. Their failures were reported by the replay; here they show up as the
        // declared schema's own.
        let environment = MigrationSet {
            migrations: Vec::new(),
            preludes: set
                .preludes
                .iter()
                .filter(|p| p.kind != crate::runner::PreludeKind::Baseline)
                .cloned()
                .collect(),
            ..set.clone()
        };
        let _ = replay::run_with(
            replay::Sessions::on(server, &db.name, &client),
            &environment,
            context,
            &replay::ReplayOptions::default(),
        )
        .await?;
        // The declared schema is the repository's too: loaded as the replay role.
        let loader = server.connect_replay(&db.name).await?;
        let loaded = declared::load(&loader, schema).await?;
        let declared_catalog = if loaded.ok {
            Some(catalog::snapshot(&client, snapshot_options).await?)
        } else {
            None
        };
        Ok::<_, CheckError>((loaded, declared_catalog))
    }
    .await;
    server.drop_scratch(cleanup, db).await;
    result
}

/// One migration set with the catalog its replay built and the catalog of each declared schema it
/// is compared with, as `check` compares them (for `fix-drift`).
#[derive(Debug)]
pub struct SetCatalogs {
    pub set: MigrationSet,
    /// What the replay built; `Err` says why there is nothing to compare (the replay stopped).
    pub built: Result<Catalog, String>,
    /// Each declared schema with its catalog (projected as compared); `Err` says why it did not load.
    pub declared: Vec<(DeclaredSchema, Result<Catalog, String>)>,
}

/// Replays every set that has a declared schema and loads those schemas, on one engine: the two
/// catalogs `check` compares, for each set. Everything the engine created is released before it
/// returns.
pub async fn catalogs(
    options: &CheckOptions,
    cleanup: &Cleanup,
) -> Result<Vec<SetCatalogs>, CheckError> {
    let result = catalogs_inner(options, cleanup).await;
    cleanup.run_all().await;
    result
}

async fn catalogs_inner(
    options: &CheckOptions,
    cleanup: &Cleanup,
) -> Result<Vec<SetCatalogs>, CheckError> {
    let config = config::load(&options.root, options.config.as_deref())?;
    let discovery = discover_sets(options, config.as_ref())?;
    let wanted: Vec<&MigrationSet> = discovery
        .sets
        .iter()
        .filter(|s| s.refused.is_none() && !s.schemas.is_empty())
        .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let drift = DriftSettings::new(config.as_ref());
    let (access, _) = Access::new(options, config.as_ref())?;
    let server = engine::start(&engine_options(options, &access), cleanup).await?;
    let context = EngineContext {
        description: server.description.clone(),
        version: server.version.clone(),
        isolated: access.engine != engine::ReplayAccess::Superuser,
    };
    let replay_options = replay::ReplayOptions {
        lock_trace: false,
        privileged_extensions: access.extensions.clone(),
    };
    let mut out = Vec::new();
    for set in wanted {
        let snapshot_options = drift.snapshot_for(set);
        let (log, built) = replay_set(
            options,
            cleanup,
            &server,
            &context,
            set,
            &replay_options,
            &snapshot_options,
        )
        .await?;
        let built = match (built, &log.stopped_at) {
            (Some(_), _) if log.failed => Err(format!(
                "the migrations do not replay cleanly{}; run `pgrehearse check` and fix that first",
                log.stopped_at
                    .as_deref()
                    .map(|m| format!(" (stopped at `{m}`)"))
                    .unwrap_or_default()
            )),
            (Some(_), Some(m)) => Err(format!(
                "the replay stopped at `{m}`; run `pgrehearse check` and fix that first"
            )),
            (Some(b), None) => Ok(b),
            (None, _) => Err("no catalog was taken".to_string()),
        };
        let mut declared = Vec::new();
        for schema in &set.schemas {
            let (loaded, catalog) =
                load_declared(&server, cleanup, schema, &snapshot_options, set, &context).await?;
            let catalog = match (catalog, &built) {
                (Some(c), Ok(b)) => Ok(comparable(schema, c, b).0),
                (Some(c), Err(_)) => Ok(c),
                (None, _) => Err(format!(
                    "{} does not load{}; run `pgrehearse check` for the failing statement",
                    schema.file.display(),
                    loaded
                        .findings
                        .first()
                        .map(|f| format!(": {}", f.message))
                        .unwrap_or_default()
                )),
            };
            declared.push((schema.clone(), catalog));
        }
        let built = match built {
            Ok(b)
                if set
                    .schemas
                    .iter()
                    .any(|s| crate::declared::diesel::is_diesel_file(&s.file)) =>
            {
                let mut b = b;
                crate::declared::diesel::project(&mut b);
                Ok(b)
            }
            other => other,
        };
        out.push(SetCatalogs {
            set: set.clone(),
            built,
            declared,
        });
    }
    Ok(out)
}
