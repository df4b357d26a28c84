//! The `pgrehearse` command line: parses flags, calls [`pgrehearse::check::run`], prints the report and
//! picks the exit code (0 clean, 1 findings at or above `--fail-on`, 2 could not run).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use pgrehearse::check::{self, CheckOptions};
use pgrehearse::deliver::{self, DeliverOptions, GithubOptions};
use pgrehearse::engine::{Cleanup, EngineKind, EngineOptions};
use pgrehearse::history::Choice as HistoryChoice;
use pgrehearse::model::Severity;
use pgrehearse::policy::BaselineChoice;
use pgrehearse::report::Format;

/// `println!` that ends the command quietly when stdout is closed (`pgrehearse rules | head`).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout().lock(), $($arg)*).is_err() {
            return ExitCode::SUCCESS;
        }
    }};
}

#[derive(Parser, Debug)]
#[command(
    name = "pgrehearse",
    version,
    about = "Rehearse a repository's PostgreSQL migrations in an ephemeral database before they reach production"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Replay every migration set from scratch the way its runner applies it, and report problems.
    Check(CheckArgs),
    /// Replay the migrations and compare the result with a live database (read-only): `check --against`.
    Drift(CheckArgs),
    /// Static checks only, no database: discovery, splitting and other-dialect SQL (milliseconds).
    Lint(LintArgs),
    /// Write, for each migration set that drifts from its declared schema, the migration that makes
    /// what the migrations build equal to the declared schema, in the set's runner format (destructive
    /// steps commented out); `--direction migrations` lists the declared lines to change instead.
    FixDrift(FixDriftArgs),
    /// Record the current findings in the baseline file, so that only new findings fail from now on.
    /// Takes the same options as `check`; writes `--baseline FILE`, else `baseline:` from the
    /// configuration, else PATH/.pgrehearse-baseline.json.
    Baseline(CheckArgs),
    /// Explain a rule: what it finds, why it matters, an example and what to do.
    Explain {
        /// Rule id, e.g. `index-without-concurrently` (`pgrehearse rules` lists them).
        rule: String,
    },
    /// List every rule with its category, default severity and summary.
    Rules {
        /// `human` (a table) or `json`.
        #[arg(long, default_value = "human", value_parser = ["human", "json"])]
        format: String,
    },
    /// Git hooks for repositories that do not use the pre-commit framework.
    #[command(subcommand)]
    Hook(HookCommand),
    /// The replay cache: snapshots of replayed migration prefixes that later checks start from.
    #[command(subcommand)]
    Cache(CacheCommand),
}

#[derive(Subcommand, Debug)]
enum CacheCommand {
    /// Where the cache is, its size and the prefixes it holds.
    Status,
    /// Remove every snapshot (waits for a check using the cache to finish). The snapshots kept on a
    /// url engine's server are dropped by the next check against it, or now with --database-url.
    Clear {
        /// Drop this machine's snapshots on this server, and the role that owns them.
        #[arg(
            long,
            value_name = "URL",
            env = "PGREHEARSE_DATABASE_URL",
            hide_env_values = true
        )]
        database_url: Option<String>,
    },
    /// Make the spare copies a finished check asked for (started by the check itself).
    #[command(hide = true)]
    Refill,
}

#[derive(Subcommand, Debug)]
enum HookCommand {
    /// Write pgrehearse's pre-commit hook into the repository's git hooks folder.
    Install {
        /// Repository to install into.
        #[arg(default_value = ".")]
        path: PathBuf,
        /// Replace a pre-commit hook that pgrehearse did not write.
        #[arg(long)]
        force: bool,
    },
    /// What the hooks run: `check` (replay, from the replay cache) when an engine is available (a
    /// database URL, a Docker daemon, or local PostgreSQL server binaries), else `lint`, saying which
    /// and why on stderr.
    Run {
        /// Repository root to check.
        #[arg(default_value = ".")]
        path: PathBuf,
    },
}

/// Where the report goes besides stdout, and which findings it keeps (shared by `check` and `lint`).
#[derive(clap::Args, Debug)]
struct ReportArgs {
    /// Write the report in --format to FILE; stdout then gets the human report.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Replay everything, but report only findings in files changed since this git revision (the diff
    /// from its merge base with HEAD to the working tree, plus untracked files).
    #[arg(long, value_name = "REF")]
    changed_since: Option<String>,

    /// Findings baseline to apply [default: `baseline:` from the configuration, else
    /// PATH/.pgrehearse-baseline.json when present].
    #[arg(long, value_name = "FILE", conflicts_with = "no_baseline")]
    baseline: Option<PathBuf>,

    /// Report every finding, even those recorded in the baseline file.
    #[arg(long)]
    no_baseline: bool,

    /// Count the migrations whose files exist at this git revision as already shipped: their lock,
    /// rewrite, destructive, partial-failure and data-dependent findings are held back [default: on a
    /// pull request, its base commit; else what was committed before each set's newest migration].
    #[arg(long, value_name = "REF", conflicts_with = "all_history")]
    since: Option<String>,

    /// Judge every migration, including those already shipped (report every finding).
    #[arg(long)]
    all_history: bool,
}

impl ReportArgs {
    fn baseline_choice(&self) -> BaselineChoice {
        match (&self.baseline, self.no_baseline) {
            (_, true) => BaselineChoice::Off,
            (Some(file), false) => BaselineChoice::File(file.clone()),
            (None, false) => BaselineChoice::Auto,
        }
    }

    fn history_choice(&self) -> HistoryChoice {
        match (&self.since, self.all_history) {
            (_, true) => HistoryChoice::All,
            (Some(reference), false) => HistoryChoice::Since(reference.clone()),
            (None, false) => HistoryChoice::Context,
        }
    }
}

/// GitHub reporting, active in GitHub Actions (`GITHUB_ACTIONS=true`; the API needs `GITHUB_TOKEN`).
#[derive(clap::Args, Debug)]
struct GithubArgs {
    /// Name of the GitHub check run.
    #[arg(long, value_name = "NAME", default_value = "pgrehearse")]
    check_name: String,

    /// No pull request comments (the summary comment and inline review comments).
    #[arg(long)]
    no_comment: bool,

    /// No GitHub reporting at all (check run, comments, job summary, step outputs).
    #[arg(long)]
    no_github: bool,
}

#[derive(clap::Args, Debug)]
struct LintArgs {
    /// Repository root to check.
    #[arg(default_value = ".")]
    path: PathBuf,

    /// Configuration file [default: PATH/.pgrehearse.yaml when present].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Output format.
    #[arg(long, default_value = "human", value_parser = parse_format)]
    format: Format,

    /// Exit with 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value = "error")]
    fail_on: FailOn,

    /// Print findings only (no summary).
    #[arg(short, long)]
    quiet: bool,

    /// Apply the safe fixes to the migration files in place, and say what was changed.
    #[arg(long)]
    fix: bool,

    #[command(flatten)]
    report: ReportArgs,
}

/// The `--fail-on` threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum FailOn {
    Error,
    Warning,
    Notice,
    Never,
}

impl FailOn {
    fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Error => Some(Severity::Error),
            FailOn::Warning => Some(Severity::Warning),
            FailOn::Notice => Some(Severity::Notice),
            FailOn::Never => None,
        }
    }
}

/// Which server replays the migrations (shared by `check`, `drift`, `baseline` and `fix-drift`).
#[derive(clap::Args, Debug)]
struct ServerArgs {
    /// Where to replay: a Docker container, a temporary local cluster, or scratch databases on a server.
    /// `auto` uses --database-url if given, else Docker if a daemon answers, else local binaries.
    #[arg(long, default_value = "auto", value_parser = parse_engine)]
    engine: EngineKind,

    /// Server for `--engine url`; pgrehearse creates and drops its own scratch databases there.
    #[arg(
        long,
        value_name = "URL",
        env = "PGREHEARSE_DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,

    /// Docker image for `--engine docker` [default: postgres:<pg-version>].
    #[arg(long, value_name = "IMAGE", env = "PGREHEARSE_IMAGE")]
    image: Option<String>,

    /// PostgreSQL major version: the official image's tag (default 17), or the local installation to use.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(9..100))]
    pg_version: Option<u32>,
}

impl ServerArgs {
    fn engine_options(&self) -> EngineOptions {
        EngineOptions {
            kind: self.engine,
            database_url: self.database_url.clone(),
            image: self.image.clone(),
            pg_version: self.pg_version,
            replay: Default::default(),
        }
    }
}

#[derive(clap::Args, Debug)]
struct CheckArgs {
    /// Repository root to check.
    #[arg(default_value = ".")]
    path: PathBuf,

    /// Configuration file [default: PATH/.pgrehearse.yaml when present].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(flatten)]
    server: ServerArgs,

    /// Declared schema file (relative to PATH) to compare with what the migrations build; repeatable.
    /// Default: `schema:` in the configuration, else db/schema.sql, db/structure.sql, schema.sql or
    /// structure.sql when present.
    #[arg(long = "schema", value_name = "FILE")]
    schemas: Vec<PathBuf>,

    /// For every migration that is not atomic under its runner, simulate a failure after each statement
    /// and retry the whole migration, as an operator would; report the first failure point whose retry
    /// fails. Cost grows with statements x non-atomic migrations.
    #[arg(long)]
    fault_injection: bool,

    /// Do not trace the locks, rewrites and validation scans statements take on existing tables.
    #[arg(long)]
    no_lock_trace: bool,

    /// Replay every migration from scratch: do not start from a cached prefix, keep no snapshot.
    #[arg(
        long,
        env = "PGREHEARSE_NO_CACHE",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    no_cache: bool,

    /// How many migration sets (a monorepo's) replay at once, each in its own database (default: the
    /// available cores). The report lists them in the same order whatever N is.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,

    /// Create (NOLOGIN, for the replay only) the roles the migrations reference in GRANT, OWNER TO,
    /// CREATE POLICY … TO, … but never create; same as `create-roles: true` in the configuration.
    #[arg(long)]
    create_roles: bool,

    /// A live database to compare with what the migrations build. Read-only: one READ ONLY
    /// transaction with statement and lock timeouts; the runner's bookkeeping is checked too.
    #[arg(
        long,
        value_name = "URL",
        env = "PGREHEARSE_AGAINST_URL",
        hide_env_values = true
    )]
    against: Option<String>,

    /// Output format.
    #[arg(long, default_value = "human", value_parser = parse_format)]
    format: Format,

    /// Exit with 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value = "error")]
    fail_on: FailOn,

    /// Print findings only (no summary).
    #[arg(short, long)]
    quiet: bool,

    /// Print progress and timings on stderr.
    #[arg(short, long)]
    verbose: bool,

    /// Apply the safe fixes to the migration files in place, and say what was changed (`check`, `lint`).
    #[arg(long)]
    fix: bool,

    #[command(flatten)]
    report: ReportArgs,

    #[command(flatten)]
    github: GithubArgs,
}

#[derive(clap::Args, Debug)]
struct FixDriftArgs {
    /// Repository root.
    #[arg(default_value = ".")]
    path: PathBuf,

    /// Configuration file [default: PATH/.pgrehearse.yaml when present].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Which side wins: `declared` writes the migration; `migrations` writes nothing and lists the
    /// declared lines to change.
    #[arg(long, default_value = "declared", value_parser = parse_direction)]
    direction: pgrehearse::fixdrift::Direction,

    /// Print the migration instead of writing it.
    #[arg(long, visible_alias = "stdout")]
    dry_run: bool,

    #[command(flatten)]
    server: ServerArgs,

    /// Declared schema file (relative to PATH) to follow; default as for `check`.
    #[arg(long = "schema", value_name = "FILE")]
    schemas: Vec<PathBuf>,

    /// Create the roles the migrations reference but never create (as for `check`).
    #[arg(long)]
    create_roles: bool,

    /// Print progress and timings on stderr.
    #[arg(short, long)]
    verbose: bool,
}

fn parse_direction(s: &str) -> Result<pgrehearse::fixdrift::Direction, String> {
    s.parse()
}

fn parse_engine(s: &str) -> Result<EngineKind, String> {
    s.parse()
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
        .map_err(|e: <Format as std::str::FromStr>::Err| e.to_string())
}

fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "pgrehearse {}: internal error: {info}\nThis is a bug in pgrehearse; please file an issue with this message and the command you ran.",
            env!("CARGO_PKG_VERSION")
        );
    }));
}

async fn interrupted() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut term), Ok(mut hangup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return "interrupted (Ctrl-C)",
                _ = term.recv() => return "terminated (SIGTERM)",
                _ = hangup.recv() => return "hung up (SIGHUP)",
            }
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    "interrupted (Ctrl-C)"
}

fn stdout_color(format: Format, output: Option<&PathBuf>) -> bool {
    (format == Format::Human || output.is_some())
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none()
}

fn check_options(args: &CheckArgs) -> CheckOptions {
    CheckOptions {
        root: args.path.clone(),
        config: args.config.clone(),
        engine: args.server.engine_options(),
        schemas: args.schemas.clone(),
        against: args.against.clone(),
        fault_injection: args.fault_injection,
        lock_trace: !args.no_lock_trace,
        verbose: args.verbose,
        baseline: args.report.baseline_choice(),
        create_roles: args.create_roles,
        history: args.report.history_choice(),
        cache: !args.no_cache,
        jobs: args.jobs.map(usize::from).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(std::num::NonZeroUsize::get)
                .unwrap_or(1)
        }),
    }
}

/// Runs the check, removing everything it created on Ctrl-C, SIGTERM, a panic or an error.
/// `Err` carries the message already printed (for GitHub).
async fn run_check_task(options: CheckOptions) -> Result<check::Outcome, String> {
    let cleanup = Arc::new(Cleanup::new());
    let mut task = tokio::spawn({
        let cleanup = cleanup.clone();
        async move { check::run(&options, &cleanup).await }
    });
    let joined = tokio::select! {
        joined = &mut task => Some(joined),
        why = interrupted() => {
            task.abort();
            let _ = task.await;
            // Interrupted: nothing keeps running after this process, spare copies included.
            cleanup.forget_copies();
            cleanup.run_all().await;
            eprintln!("pgrehearse: {why}; everything the replay created was removed");
            None
        }
    };
    match joined {
        None => Err("interrupted".to_string()),
        Some(Err(_panic)) => {
            // The panic hook already explained; remove what the replay created.
            cleanup.forget_copies();
            cleanup.run_all().await;
            Err("internal error (see the log)".to_string())
        }
        Some(Ok(Err(e))) => {
            cleanup.run_all().await;
            eprintln!("pgrehearse: error: {e}");
            Err(e.to_string())
        }
        Some(Ok(Ok(outcome))) => Ok(outcome),
    }
}

async fn run_baseline(args: CheckArgs) -> ExitCode {
    if args.fix {
        eprintln!(
            "pgrehearse: error: --fix applies to `check` and `lint`, not `baseline` (fix first, then record the baseline)"
        );
        return ExitCode::from(2);
    }
    if !root_exists(&args.path) {
        return ExitCode::from(2);
    }
    let mut options = check_options(&args);
    options.baseline = BaselineChoice::Off;
    // The baseline records every finding, shipped migrations' too.
    options.history = HistoryChoice::All;
    let target = match &args.report.baseline {
        Some(file) => file.clone(),
        None => {
            let config = pgrehearse::config::load(&args.path, args.config.as_deref())
                .ok()
                .flatten();
            match pgrehearse::policy::repository_baseline(&args.path, config.as_ref()) {
                Ok(path) => path,
                Err(e) => {
                    eprintln!("pgrehearse: error: {e}");
                    return ExitCode::from(2);
                }
            }
        }
    };
    let outcome = match run_check_task(options).await {
        Ok(outcome) => outcome,
        Err(_) => return ExitCode::from(2),
    };
    let baseline =
        pgrehearse::policy::Baseline::from_findings(&outcome.report.findings, &outcome.sources);
    if let Err(e) = baseline.write(&target) {
        eprintln!("pgrehearse: error: {e}");
        return ExitCode::from(2);
    }
    outln!(
        "pgrehearse: recorded {} finding(s) in {}; `check` and `lint` now report only new ones",
        baseline.findings.len(),
        target.display()
    );
    ExitCode::SUCCESS
}

async fn run_fix_drift(args: FixDriftArgs) -> ExitCode {
    use pgrehearse::fixdrift::{self, FixOptions};
    if !root_exists(&args.path) {
        return ExitCode::from(2);
    }
    let options = FixOptions {
        check: CheckOptions {
            root: args.path.clone(),
            config: args.config.clone(),
            engine: args.server.engine_options(),
            schemas: args.schemas.clone(),
            against: None,
            fault_injection: false,
            lock_trace: false,
            verbose: args.verbose,
            baseline: BaselineChoice::Off,
            create_roles: args.create_roles,
            history: HistoryChoice::All,
            // fix-drift replays each set from scratch, one at a time.
            cache: false,
            jobs: 1,
        },
        direction: args.direction,
        dry_run: args.dry_run,
    };
    let cleanup = Arc::new(Cleanup::new());
    let mut task = tokio::spawn({
        let cleanup = cleanup.clone();
        let options = options.clone();
        async move { fixdrift::run(&options, &cleanup).await }
    });
    let joined = tokio::select! {
        joined = &mut task => joined,
        why = interrupted() => {
            task.abort();
            let _ = task.await;
            // Interrupted: nothing keeps running after this process, spare copies included.
            cleanup.forget_copies();
            cleanup.run_all().await;
            eprintln!("pgrehearse: {why}; everything the replay created was removed");
            return ExitCode::from(2);
        }
    };
    if joined.is_err() {
        // A panic: a container being created may still appear (see `Cleanup::forget_copies`).
        cleanup.forget_copies();
    }
    cleanup.run_all().await;
    match joined {
        Err(_panic) => ExitCode::from(2),
        Ok(Err(e)) => {
            eprintln!("pgrehearse: error: {e}");
            ExitCode::from(2)
        }
        Ok(Ok(outcome)) => {
            if fixdrift::print(&mut std::io::stdout().lock(), &outcome, &options).is_err() {
                return ExitCode::SUCCESS;
            }
            if outcome.incomplete() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

fn run_explain(id: &str) -> ExitCode {
    use pgrehearse::registry;
    let Some(rule) = registry::rule(id) else {
        let hint = registry::suggest(id)
            .map(|s| format!(" Did you mean `{s}`?"))
            .unwrap_or_default();
        eprintln!(
            "pgrehearse: error: `{id}` is not a rule id.{hint} `pgrehearse rules` lists them."
        );
        return ExitCode::from(2);
    };
    outln!(
        "{} ({}, default severity {})\n\n{}\n",
        rule.id,
        rule.category,
        registry::default_level(rule),
        rule.summary
    );
    match registry::doc(rule.id) {
        Some(doc) => {
            // The heading repeats the id printed above.
            let body = doc
                .strip_prefix(&format!("# {}", rule.id))
                .unwrap_or(doc)
                .trim();
            outln!("{body}");
        }
        None => outln!("(no documentation page yet)"),
    }
    outln!(
        "\nConfigure: `rules: {{{}: off|error|warning|notice}}` in .pgrehearse.yaml; suppress one \
         occurrence with `-- pgrehearse-ignore: {} <reason>` on or above the statement.",
        rule.id,
        rule.id
    );
    ExitCode::SUCCESS
}

fn run_rules(format: &str) -> ExitCode {
    use pgrehearse::registry::{self, RULES};
    if format == "json" {
        let list: Vec<serde_json::Value> = RULES
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id,
                    "category": r.category.as_str(),
                    "severity": r.severity.as_str(),
                    "enabled_by_default": !registry::OFF_BY_DEFAULT.contains(&r.id),
                    "summary": r.summary,
                    "stage": format!("{:?}", registry::stage(r.id)).to_lowercase(),
                    // Held back on migrations that already shipped (added without a change of shape).
                    "historical": registry::historical(r.id),
                })
            })
            .collect();
        match serde_json::to_string_pretty(&list) {
            Ok(text) => outln!("{text}"),
            Err(e) => {
                eprintln!("pgrehearse: error: {e}");
                return ExitCode::from(2);
            }
        }
        return ExitCode::SUCCESS;
    }
    let width = RULES.iter().map(|r| r.id.len()).max().unwrap_or(0);
    for r in RULES {
        outln!(
            "{:width$}  {:16} {:8} {}",
            r.id,
            r.category.as_str(),
            if registry::OFF_BY_DEFAULT.contains(&r.id) {
                "off"
            } else {
                r.severity.as_str()
            },
            r.summary
        );
    }
    ExitCode::SUCCESS
}

/// A repository root that does not exist is said to be missing (discovery says "not a directory" of
/// a file given as the root).
fn root_exists(path: &std::path::Path) -> bool {
    if path.exists() {
        return true;
    }
    eprintln!(
        "pgrehearse: error: {}: does not exist; pass the repository root to check",
        path.display()
    );
    false
}

async fn run_check(args: CheckArgs) -> ExitCode {
    if !root_exists(&args.path) {
        return ExitCode::from(2);
    }
    let mut github = match deliver::github_start(
        &args.path,
        &GithubOptions {
            disabled: args.github.no_github,
            check_name: args.github.check_name.clone(),
            comment: !args.github.no_comment,
            fail_on: args.fail_on.threshold(),
        },
        args.report.output.as_deref(),
        args.format,
    )
    .await
    {
        Ok(github) => github,
        Err(e) => {
            eprintln!("pgrehearse: error: GitHub reporting: {e} (or pass --no-github)");
            return ExitCode::from(2);
        }
    };
    let mut outcome = match run_check_task(check_options(&args)).await {
        Ok(outcome) => outcome,
        Err(why) => {
            deliver::github_abort(github.as_mut(), &why).await;
            return ExitCode::from(2);
        }
    };
    if args.fix && !apply_fixes(&args.path, &mut outcome) {
        deliver::github_abort(github.as_mut(), "--fix could not write the fixed files").await;
        return ExitCode::from(2);
    }
    let options = DeliverOptions {
        root: args.path.clone(),
        format: args.format,
        color: stdout_color(args.format, args.report.output.as_ref()),
        output: args.report.output,
        quiet: args.quiet,
        fail_on: args.fail_on.threshold(),
        changed_since: args.report.changed_since,
        verbose: args.verbose,
    };
    ExitCode::from(deliver::finish(outcome, &options, github.as_mut()).await)
}

/// `--fix`: applies the safe fixes and says on stderr what changed; false (after printing the
/// error) when no file could be fixed.
fn apply_fixes(root: &std::path::Path, outcome: &mut check::Outcome) -> bool {
    match pgrehearse::fix::apply(root, outcome) {
        Ok(fixed) => {
            for applied in &fixed.applied {
                eprintln!("fixed {}", applied.describe());
            }
            eprintln!("pgrehearse: {}", fixed.summary());
            true
        }
        Err(e) => {
            eprintln!("pgrehearse: error: --fix: {e}");
            false
        }
    }
}

async fn run_lint(args: LintArgs) -> ExitCode {
    if !root_exists(&args.path) {
        return ExitCode::from(2);
    }
    let options = pgrehearse::lint::LintOptions {
        root: args.path.clone(),
        config: args.config.clone(),
        baseline: args.report.baseline_choice(),
        history: args.report.history_choice(),
    };
    let mut outcome = match pgrehearse::lint::run(&options) {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("pgrehearse: error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.fix && !apply_fixes(&args.path, &mut outcome) {
        return ExitCode::from(2);
    }
    let options = DeliverOptions {
        root: args.path,
        format: args.format,
        color: stdout_color(args.format, args.report.output.as_ref()),
        output: args.report.output,
        quiet: args.quiet,
        fail_on: args.fail_on.threshold(),
        changed_since: args.report.changed_since,
        verbose: false,
    };
    ExitCode::from(deliver::finish(outcome, &options, None).await)
}

async fn run_hook(command: HookCommand) -> ExitCode {
    match command {
        HookCommand::Run { path } => {
            let path = path.to_string_lossy().into_owned();
            let parsed = match pgrehearse::hook::engine_available().await {
                Ok((engine, description)) => {
                    eprintln!(
                        "pgrehearse hook: replaying the migrations ({description}); PGREHEARSE_HOOK=lint for static checks only"
                    );
                    Cli::try_parse_from(["pgrehearse", "check", path.as_str(), "--engine", engine])
                }
                Err(why) => {
                    eprintln!(
                        "pgrehearse hook: no engine to replay on ({why}): static checks only (`pgrehearse lint`); install PostgreSQL server binaries, start Docker or set PGREHEARSE_DATABASE_URL to replay"
                    );
                    Cli::try_parse_from(["pgrehearse", "lint", path.as_str()])
                }
            };
            match parsed.map(|c| c.command) {
                Ok(Command::Check(args)) => run_check(args).await,
                Ok(Command::Lint(args)) => run_lint(args).await,
                Ok(_) | Err(_) => ExitCode::from(2),
            }
        }
        HookCommand::Install { path, force } => match pgrehearse::hook::install(&path, force) {
            Ok(installed) => {
                outln!(
                    "pgrehearse: installed the pre-commit hook at {}",
                    installed.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("pgrehearse: error: {e}");
                ExitCode::from(2)
            }
        },
    }
}

/// `pgrehearse cache clear [--database-url URL]`.
async fn clear_cache(url: Option<&str>) -> Result<(), pgrehearse::cache::CacheError> {
    let n = pgrehearse::cache::clear()?;
    println!("pgrehearse: removed {n} cached replay prefix(es)");
    if let Some(url) = url {
        let n = pgrehearse::cache::clear_server(url).await?;
        println!("pgrehearse: dropped {n} snapshot(s) on the server");
    }
    for (image, n) in pgrehearse::cache::clear_volumes().await? {
        println!("pgrehearse: removed the docker volume of image {image} and its {n} snapshot(s)");
    }
    for (server, n) in pgrehearse::cache::clear_indexes()? {
        println!(
            "pgrehearse: forgot {n} snapshot(s) on {server}: the next check against it drops them, or `pgrehearse cache clear --database-url URL` now"
        );
    }
    Ok(())
}

/// `pgrehearse cache status|clear`.
async fn run_cache(command: CacheCommand) -> ExitCode {
    let result = match command {
        CacheCommand::Status => pgrehearse::cache::status(&mut std::io::stdout().lock()),
        CacheCommand::Clear { database_url } => clear_cache(database_url.as_deref()).await,
        CacheCommand::Refill => {
            return match pgrehearse::engine::local::refill().await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("pgrehearse: error: cache refill: {e}");
                    ExitCode::from(2)
                }
            };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pgrehearse: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn main() -> ExitCode {
    install_panic_hook();
    let cli = Cli::parse();
    // In GitHub Actions, nothing printed from here on (snippets of repository files, PostgreSQL
    // messages raised by migrations) is read as a workflow command; pgrehearse's own commands are
    // printed through `report::actions::commands`.
    let _ = pgrehearse::report::actions::pause(&mut std::io::stdout().lock());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pgrehearse: error: could not start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            Command::Check(args) => run_check(args).await,
            Command::Drift(args) if args.against.is_none() => {
                eprintln!(
                    "pgrehearse: error: `drift` needs `--against URL` (or PGREHEARSE_AGAINST_URL): the live database to compare with"
                );
                ExitCode::from(2)
            }
            Command::Drift(args) => run_check(args).await,
            Command::Lint(args) => run_lint(args).await,
            Command::Baseline(args) => run_baseline(args).await,
            Command::FixDrift(args) => run_fix_drift(args).await,
            Command::Explain { rule } => run_explain(&rule),
            Command::Rules { format } => run_rules(&format),
            Command::Hook(command) => run_hook(command).await,
            Command::Cache(command) => run_cache(command).await,
        }
    });
    // Everything the command started has been awaited: the runtime's threads are not waited for
    // (tearing them down took tens of milliseconds of a hook's answer).
    runtime.shutdown_background();
    let _ = pgrehearse::report::actions::resume(&mut std::io::stdout().lock());
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_flags_parse_with_defaults() {
        let cli = Cli::try_parse_from(["pgrehearse", "check"]).unwrap();
        let Command::Check(args) = cli.command else {
            panic!("parsed as check")
        };
        assert_eq!(args.path, PathBuf::from("."));
        assert_eq!(args.server.engine, EngineKind::Auto);
        assert_eq!(args.fail_on, FailOn::Error);
        assert_eq!(args.format, Format::Human);
    }

    #[test]
    fn fix_drift_flags_parse() {
        let cli = Cli::try_parse_from(["pgrehearse", "fix-drift"]).unwrap();
        let Command::FixDrift(args) = cli.command else {
            panic!("parsed as fix-drift")
        };
        assert_eq!(args.direction, pgrehearse::fixdrift::Direction::Declared);
        assert!(!args.dry_run);
        let cli = Cli::try_parse_from([
            "pgrehearse",
            "fix-drift",
            "repo",
            "--stdout",
            "--direction",
            "migrations",
        ])
        .unwrap();
        let Command::FixDrift(args) = cli.command else {
            panic!("parsed as fix-drift")
        };
        assert!(args.dry_run);
        assert_eq!(args.path, PathBuf::from("repo"));
        assert_eq!(args.direction, pgrehearse::fixdrift::Direction::Migrations);
        let err = Cli::try_parse_from(["pgrehearse", "fix-drift", "--direction", "both"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`declared`"), "{err}");
    }

    #[test]
    fn no_cache_and_jobs_parse() {
        let parsed = |args: &[&str]| {
            let Command::Check(args) = Cli::try_parse_from(args).unwrap().command else {
                panic!("parsed as check")
            };
            args
        };
        let args = parsed(&["pgrehearse", "check", "--no-cache", "-j", "3"]);
        assert!(args.no_cache);
        assert_eq!(args.jobs, Some(3));
        assert!(Cli::try_parse_from(["pgrehearse", "check", "--jobs", "0"]).is_err());
        // PGREHEARSE_NO_CACHE=1 (what the integration tests' harness sets) is read by every
        // check the integration tests run.
    }

    #[test]
    fn unknown_engine_is_rejected_with_the_choices() {
        let err = Cli::try_parse_from(["pgrehearse", "check", "--engine", "podman"]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("auto, docker, local or url"), "{text}");
    }

    #[test]
    fn fail_on_never_has_no_threshold() {
        let cli = Cli::try_parse_from(["pgrehearse", "check", "--fail-on", "never"]).unwrap();
        let Command::Check(args) = cli.command else {
            panic!("parsed as check")
        };
        assert_eq!(args.fail_on.threshold(), None);
        assert_eq!(FailOn::Warning.threshold(), Some(Severity::Warning));
    }

    #[test]
    fn pg_version_must_be_a_plausible_major() {
        assert!(Cli::try_parse_from(["pgrehearse", "check", "--pg-version", "3"]).is_err());
        let cli = Cli::try_parse_from(["pgrehearse", "check", "--pg-version", "16"]).unwrap();
        let Command::Check(args) = cli.command else {
            panic!("parsed as check")
        };
        assert_eq!(args.server.pg_version, Some(16));
    }

    #[test]
    fn report_and_github_flags_parse() {
        let cli = Cli::try_parse_from([
            "pgrehearse",
            "check",
            "--format",
            "sarif",
            "--output",
            "out.sarif",
            "--changed-since",
            "origin/main",
            "--check-name",
            "migrations",
            "--no-comment",
        ])
        .unwrap();
        let Command::Check(args) = cli.command else {
            panic!("parsed as check")
        };
        assert_eq!(args.format, Format::Sarif);
        assert_eq!(args.report.output, Some(PathBuf::from("out.sarif")));
        assert_eq!(args.report.changed_since.as_deref(), Some("origin/main"));
        assert_eq!(args.github.check_name, "migrations");
        assert!(args.github.no_comment && !args.github.no_github);
        let cli = Cli::try_parse_from(["pgrehearse", "check"]).unwrap();
        let Command::Check(args) = cli.command else {
            panic!("parsed as check")
        };
        assert_eq!(args.github.check_name, "pgrehearse");
        assert_eq!(args.report.output, None);
        let err = Cli::try_parse_from(["pgrehearse", "check", "--format", "xml"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("expected human, json, github or sarif"),
            "{err}"
        );
    }

    #[test]
    fn history_flags_parse_and_exclude_each_other() {
        let args = |extra: &[&str]| {
            let cli = Cli::try_parse_from(["pgrehearse", "check"].iter().chain(extra)).unwrap();
            let Command::Check(args) = cli.command else {
                panic!("parsed as check")
            };
            args.report.history_choice()
        };
        assert_eq!(args(&[]), HistoryChoice::Context);
        assert_eq!(
            args(&["--since", "origin/main"]),
            HistoryChoice::Since("origin/main".into())
        );
        assert_eq!(args(&["--all-history"]), HistoryChoice::All);
        let err = Cli::try_parse_from(["pgrehearse", "lint", "--since", "main", "--all-history"])
            .unwrap_err();
        assert!(err.to_string().contains("cannot be used with"), "{err}");
    }

    #[test]
    fn lint_and_hook_install_parse() {
        let cli =
            Cli::try_parse_from(["pgrehearse", "lint", "repo", "--format", "github"]).unwrap();
        let Command::Lint(args) = cli.command else {
            panic!("parsed as lint")
        };
        assert_eq!(args.path, PathBuf::from("repo"));
        assert_eq!(args.format, Format::Github);
        assert!(Cli::try_parse_from(["pgrehearse", "lint", "--engine", "docker"]).is_err());
        let cli = Cli::try_parse_from(["pgrehearse", "hook", "install", "--force"]).unwrap();
        let Command::Hook(HookCommand::Install { path, force }) = cli.command else {
            panic!("parsed as hook install")
        };
        assert_eq!(path, PathBuf::from("."));
        assert!(force);
    }
}
