//! `fix-drift`: for each migration set that drifts from its declared schema, the migration that
//! resolves the drift, written in the set's own runner format as its next migration.
//!
//! It takes [`FixOptions`] (the `check` options plus a direction), gets from [`check::catalogs`] the
//! catalog each set's replay builds and the catalog of its declared schema, plans the DDL that turns
//! the first into the second ([`plan`]: safe order, lock-aware patterns, destructive steps commented
//! out) and writes it ([`write`]: file names and layout per runner, the Drizzle journal). With
//! [`Direction::Migrations`] it writes nothing and lists, from `check`'s drift findings, the declared
//! lines to change instead.

pub mod plan;
mod sql;
pub mod write;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::check::{self, CheckError, CheckOptions};
use crate::engine::Cleanup;
use crate::runner::Runner;

pub use plan::{Phase, Plan, PlanOptions, Step};
pub use write::{FileWrite, Now, WriteError};

/// Which side wins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    /// The declared schema is right: write the migration that gets there.
    #[default]
    Declared,
    /// The migrations are right: say which declared lines to change.
    Migrations,
}

impl std::str::FromStr for Direction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "declared" => Ok(Direction::Declared),
            "migrations" => Ok(Direction::Migrations),
            other => Err(format!(
                "`{other}` is not a direction: use `declared` (write the migration) or `migrations` (list the declared lines to change)"
            )),
        }
    }
}

#[derive(Clone, Debug)]
pub struct FixOptions {
    pub check: CheckOptions,
    pub direction: Direction,
    /// Print the migration instead of writing it.
    pub dry_run: bool,
}

/// Why fix-drift could not run (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum FixError {
    #[error(transparent)]
    Check(#[from] CheckError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("could not write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} was written but discovery does not take it as the last migration of {set} ({found}); it was removed again. Please report this with the folder's file names"
    )]
    NotLast {
        path: PathBuf,
        set: PathBuf,
        found: String,
    },
}

/// What was done for one set.
#[derive(Clone, Debug)]
pub struct SetFix {
    pub dir: PathBuf,
    pub runner: Runner,
    /// The declared schema the migration aims at.
    pub declared: Option<PathBuf>,
    /// The files written (or, with `--dry-run`, that would be).
    pub files: Vec<FileWrite>,
    pub plan: Plan,
    /// Why nothing was written for this set although it may drift (the replay failed, …).
    pub skipped: Option<String>,
}

/// One declared line to change (`--direction migrations`).
#[derive(Clone, Debug)]
pub struct DeclaredEdit {
    /// `file:line` (relative): the declared line, or the migration statement that builds an object
    /// the declared schema lacks.
    pub at: String,
    /// The drift finding's message (both sides).
    pub message: String,
    /// What to change in the declared schema.
    pub change: String,
}

/// The result of a run.
#[derive(Clone, Debug, Default)]
pub struct FixOutcome {
    pub sets: Vec<SetFix>,
    pub edits: Vec<DeclaredEdit>,
}

impl FixOutcome {
    /// Whether some set could not be handled (exit code 2).
    pub fn incomplete(&self) -> bool {
        self.sets.iter().any(|s| s.skipped.is_some())
    }
}

/// Runs fix-drift. Everything the engine created is released before it returns.
pub async fn run(options: &FixOptions, cleanup: &Cleanup) -> Result<FixOutcome, FixError> {
    match options.direction {
        Direction::Declared => declared_wins(options, cleanup).await,
        Direction::Migrations => migrations_win(options, cleanup).await,
    }
}

async fn declared_wins(options: &FixOptions, cleanup: &Cleanup) -> Result<FixOutcome, FixError> {
    let root = &options.check.root;
    let sets = check::catalogs(&options.check, cleanup).await?;
    let now = Now::system();
    let mut outcome = FixOutcome::default();
    for sc in sets {
        let mut fix = SetFix {
            dir: sc.set.dir.clone(),
            runner: sc.set.runner,
            declared: sc.declared.first().map(|(s, _)| s.file.clone()),
            files: Vec::new(),
            plan: Plan::default(),
            skipped: None,
        };
        let built = match sc.built {
            Ok(b) => b,
            Err(why) => {
                fix.skipped = Some(why);
                outcome.sets.push(fix);
                continue;
            }
        };
        if sc.declared.len() > 1 {
            fix.skipped = Some(format!(
                "the set is compared with {} declared schemas; name the one to follow with --schema",
                sc.declared.len()
            ));
            outcome.sets.push(fix);
            continue;
        }
        let Some((schema, declared)) = sc.declared.into_iter().next() else {
            continue;
        };
        let declared = match declared {
            Ok(d) => d,
            Err(why) => {
                fix.skipped = Some(why);
                outcome.sets.push(fix);
                continue;
            }
        };
        let plan = plan::plan(&declared, &built, write::plan_options(sc.set.runner));
        if !plan.is_empty() {
            let source = schema.file.display().to_string();
            let down = plan::reverse(&declared, &built, &plan);
            fix.files = write::render(root, &sc.set, &plan, &down, &source, now)?;
            if !options.dry_run {
                let previous = write_files(root, &fix.files)?;
                verify_last(options, &sc.set.dir, &fix.files, &previous)?;
            }
        }
        fix.plan = plan;
        outcome.sets.push(fix);
    }
    Ok(outcome)
}

/// Writes the files; on failure, removes those already created. Returns the previous contents of
/// the files it rewrote (the Drizzle journal).
fn write_files(root: &Path, files: &[FileWrite]) -> Result<Vec<(PathBuf, String)>, FixError> {
    let mut created: Vec<PathBuf> = Vec::new();
    let mut previous = Vec::new();
    for f in files {
        let path = root.join(&f.path);
        if f.replaces {
            let old = std::fs::read_to_string(&path).map_err(|source| FixError::Io {
                path: f.path.clone(),
                source,
            })?;
            previous.push((f.path.clone(), old));
        }
        let result = (|| {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, &f.contents)
        })();
        if let Err(source) = result {
            for c in &created {
                let _ = std::fs::remove_file(c);
            }
            restore(root, &previous);
            return Err(FixError::Io {
                path: f.path.clone(),
                source,
            });
        }
        if !f.replaces {
            created.push(path);
        }
    }
    Ok(previous)
}

fn restore(root: &Path, previous: &[(PathBuf, String)]) {
    for (path, text) in previous {
        let _ = std::fs::write(root.join(path), text);
    }
}

/// Discovery must take the new migrations as the set's last ones, in order; otherwise the files are
/// removed (and a rewritten journal restored) and the run fails.
fn verify_last(
    options: &FixOptions,
    dir: &Path,
    files: &[FileWrite],
    previous: &[(PathBuf, String)],
) -> Result<(), FixError> {
    let written: Vec<&PathBuf> = files
        .iter()
        .filter(|f| f.migration)
        .map(|f| &f.path)
        .collect();
    let Some(main) = written.first() else {
        return Ok(());
    };
    let config = crate::config::load(&options.check.root, options.check.config.as_deref())
        .map_err(CheckError::from)?;
    let found = crate::discover::find(&options.check.root, config.as_ref())
        .map_err(CheckError::from)
        .map(|d| {
            d.sets.into_iter().find(|s| s.dir == dir).map(|s| {
                s.migrations
                    .iter()
                    .rev()
                    .take(written.len())
                    .rev()
                    .map(|m| m.file.clone())
                    .collect::<Vec<_>>()
            })
        });
    match found {
        Ok(Some(last)) if last.iter().eq(written.iter().copied()) => Ok(()),
        other => {
            let found = match other {
                Ok(Some(last)) => format!(
                    "its last migrations are {}",
                    last.iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Ok(None) => "the set is not found".to_string(),
                Err(e) => e.to_string(),
            };
            undo(&options.check.root, files);
            restore(&options.check.root, previous);
            Err(FixError::NotLast {
                path: (*main).clone(),
                set: dir.to_path_buf(),
                found,
            })
        }
    }
}

/// Removes the files (and folders) a run created.
fn undo(root: &Path, files: &[FileWrite]) {
    for f in files {
        if !f.replaces {
            let _ = std::fs::remove_file(root.join(&f.path));
            if let Some(parent) = f.path.parent()
                && parent
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.contains(write::NAME))
            {
                let _ = std::fs::remove_dir(root.join(parent));
            }
        }
    }
}

async fn migrations_win(options: &FixOptions, cleanup: &Cleanup) -> Result<FixOutcome, FixError> {
    let outcome = check::run(&options.check, cleanup).await?;
    let mut edits = Vec::new();
    for f in outcome
        .report
        .findings
        .iter()
        .filter(|f| f.rule == "schema-drift")
    {
        let Some(loc) = &f.location else { continue };
        let at = match (loc.span, outcome.sources.get(&loc.file)) {
            (Some(span), Some(text)) => {
                let (line, _) = pgrehearse_sql::LineIndex::new(text).line_col(text, span.start);
                format!("{}:{line}", loc.file.display())
            }
            _ => loc.file.display().to_string(),
        };
        let declared = f
            .evidence
            .extra
            .get("declared")
            .cloned()
            .unwrap_or_default();
        let object = f.evidence.extra.get("object").cloned().unwrap_or_default();
        let in_declared = loc.file.to_str() == Some(declared.as_str());
        let change = if !in_declared {
            format!("add `{object}` to {declared} as this migration builds it")
        } else if f.message.contains("but the migrations do not create it") {
            format!("remove `{object}` from {declared}: the migrations never build it")
        } else {
            format!("declare `{object}` as the migrations build it (the `migrations:` side above)")
        };
        edits.push(DeclaredEdit {
            at,
            message: f.message.clone(),
            change,
        });
    }
    Ok(FixOutcome {
        sets: Vec::new(),
        edits,
    })
}

/// The human summary: per set, the files written and what they do; the destructive steps left
/// commented out; or the declared lines to change.
pub fn print(
    out: &mut impl Write,
    outcome: &FixOutcome,
    options: &FixOptions,
) -> std::io::Result<()> {
    if options.direction == Direction::Migrations {
        if outcome.edits.is_empty() {
            writeln!(
                out,
                "pgrehearse: no drift: the declared schemas match what the migrations build"
            )?;
        }
        for e in &outcome.edits {
            writeln!(out, "{}: {}\n  = change: {}", e.at, e.message, e.change)?;
        }
        if !outcome.edits.is_empty() {
            writeln!(
                out,
                "pgrehearse: {} difference(s); change the declared schema as above to match the migrations (nothing was written)",
                outcome.edits.len()
            )?;
        }
        return Ok(());
    }
    if outcome.sets.is_empty() {
        writeln!(
            out,
            "pgrehearse: no migration set with a declared schema to compare with; nothing to do"
        )?;
    }
    for s in &outcome.sets {
        let what = format!("{} ({})", s.dir.display(), s.runner);
        if let Some(why) = &s.skipped {
            writeln!(out, "{what}: not fixed: {why}")?;
            continue;
        }
        if s.plan.is_empty() {
            writeln!(
                out,
                "{what}: no drift from {}; nothing to write",
                s.declared
                    .as_ref()
                    .map_or(String::new(), |d| d.display().to_string())
            )?;
            continue;
        }
        if options.dry_run {
            for f in &s.files {
                writeln!(out, "-- {}", f.path.display())?;
                writeln!(out, "{}", f.contents)?;
            }
        }
        let applied = s.plan.applied().count();
        let commented: Vec<&Step> = s.plan.commented().collect();
        writeln!(
            out,
            "{what}: {} {} statement(s) to match {}{}",
            if options.dry_run {
                "would write"
            } else {
                "wrote"
            },
            applied,
            s.declared
                .as_ref()
                .map_or(String::new(), |d| d.display().to_string()),
            if commented.is_empty() {
                String::new()
            } else {
                format!(
                    ", and {} destructive or manual step(s) commented out",
                    commented.len()
                )
            }
        )?;
        for f in &s.files {
            writeln!(
                out,
                "  {} {}",
                match (options.dry_run, f.replaces) {
                    (false, true) => "updated",
                    (false, false) => "created",
                    (true, true) => "would update",
                    (true, false) => "would create",
                },
                f.path.display()
            )?;
        }
        for c in &commented {
            writeln!(
                out,
                "  commented out, not applied: {}: {}",
                c.object,
                c.commented.as_deref().unwrap_or("")
            )?;
        }
    }
    Ok(())
}
