//! The `discover` stage finds the migration sets in a repository, in the order and with the runner that
//! really applies them.
//!
//! It takes the checked root (and the configuration file, if any) and returns [`Discovery`]: ordered
//! [`MigrationSet`]s, the text of every file read ([`Sources`]), and `discovery`/`dialect` findings about
//! the layout itself (a `.sql` file the runner never applies, a journal for another dialect, duplicate
//! versions). Layouts recognised without configuration:
//!
//! - Drizzle: a folder with `meta/_journal.json`; the journal gives order and tags.
//! - Prisma: a folder with `migration_lock.toml` or `<name>/migration.sql` sub-folders, in name order.
//! - golang-migrate: `<version>_<title>.up.sql` files, in numeric version order (`.down.sql` never runs).
//! - Plain numbered SQL (`001_init.sql`): numeric-aware order, applied like `psql -f` (autocommit).
//! - Flyway: `V<version>__<desc>.sql` in its locations, merged across configured locations and across
//!   sibling folders whose versions interleave.
//! - A snapshot beside versioned upgrade folders (`LATEST.sql`, `0.18/`, `0.19/`): the snapshot is the
//!   set's baseline and covers the upgrades, which are not replayed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::config::ConfigFile;
use crate::model::{Finding, Sources, Span};
use crate::registry;
use crate::runner::{
    Batch, Blocked, Migration, MigrationSet, Prelude, PreludeKind, Runner, Transactions, layouts,
};

/// What discovery found.
#[derive(Debug, Default)]
pub struct Discovery {
    pub sets: Vec<MigrationSet>,
    pub findings: Vec<Finding>,
    pub sources: Sources,
}

/// The repository could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("{}: not a directory; pass the repository root to check", path.display())]
    NotADirectory { path: PathBuf },
    #[error("{}: could not read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: not valid UTF-8 text; convert it (e.g. `iconv -f latin1 -t utf-8`)", path.display())]
    NotUtf8 {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    #[error("{}: malformed Drizzle journal: {message}; regenerate it with drizzle-kit generate or fix the JSON", path.display())]
    Journal { path: PathBuf, message: String },
    #[error("{}: configured migration set folder does not exist", path.display())]
    MissingSet { path: PathBuf },
    #[error("{}: prelude file does not exist", path.display())]
    MissingPrelude { path: PathBuf },
    #[error("{}: baseline snapshot file does not exist (`baseline: {{file: …}}` in .pgrehearse.yaml)", path.display())]
    MissingBaseline { path: PathBuf },
    #[error("{}: no migration layout recognised here; name its runner in `.pgrehearse.yaml` (`runner: psql`, …)", path.display())]
    UnknownLayout { path: PathBuf },
    #[error(transparent)]
    OutsideRoot(#[from] crate::paths::OutsideRoot),
}

const SKIP_DIRS: &[&str] = &[
    "node_modules",
    "target",
    "vendor",
    "dist",
    "build",
    "__pycache__",
];

struct Walker<'a> {
    root: &'a Path,
    exclude: Vec<PathBuf>,
    out: Discovery,
    /// Flyway `locations` named by `flyway.conf` / `flyway.toml` at the root: one set together.
    flyway_locations: Vec<PathBuf>,
    /// More Flyway locations merged into the set of a folder.
    locations_for: BTreeMap<PathBuf, Vec<PathBuf>>,
    /// Folders already merged into another set.
    consumed: Vec<PathBuf>,
    /// Snapshots found beside versioned upgrade folders, by the index of the set they start.
    snapshots: BTreeMap<usize, (Prelude, Option<String>)>,
    /// Whether a path resolves inside the root, each folder resolved once.
    confined: crate::paths::Confined,
    /// Files read whole while sniffing their heads, until they are read as sources.
    read_ahead: std::cell::RefCell<std::collections::HashMap<PathBuf, Vec<u8>>>,
}

/// A snapshot beside versioned upgrade folders (`LATEST.sql` next to `0.18/`, `0.19/`): a fresh
/// install runs the snapshot; the folders upgrade older installs to it.
struct SnapshotLayout {
    snapshot: PathBuf,
    /// The upgrade folders with their versions (a leading `v` removed), oldest first.
    folders: Vec<(String, PathBuf)>,
}

/// The snapshot names recognised beside versioned upgrade folders.
const SNAPSHOT_NAMES: &[&str] = &["LATEST.sql", "latest.sql"];

/// An upgrade folder's version: `0.18`, `1.2.3`, `v2` (digits and dots, optionally after `v`).
fn folder_version(name: &str) -> Option<&str> {
    let v = name
        .strip_prefix('v')
        .or_else(|| name.strip_prefix('V'))
        .unwrap_or(name);
    let ok = !v.is_empty()
        && v.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    ok.then_some(v)
}

/// Version parts as numbers, for ordering (`0.9` before `0.18`).
fn version_parts(v: &str) -> Vec<u128> {
    v.split('.')
        .map(|p| p.parse::<u128>().unwrap_or(u128::MAX))
        .collect()
}

/// Finds the migration sets under `root` (their declared schemas are found by
/// [`crate::declared::find`]).
pub fn find(root: &Path, config: Option<&ConfigFile>) -> Result<Discovery, DiscoverError> {
    if !root.is_dir() {
        return Err(DiscoverError::NotADirectory {
            path: root.to_path_buf(),
        });
    }
    let default = ConfigFile::default();
    let config = config.unwrap_or(&default);
    let mut w = Walker {
        root,
        exclude: config.exclude.clone(),
        out: Discovery::default(),
        flyway_locations: layouts::flyway_config_locations(root),
        locations_for: BTreeMap::new(),
        consumed: Vec::new(),
        snapshots: BTreeMap::new(),
        confined: crate::paths::Confined::new(root),
        read_ahead: Default::default(),
    };
    if config.sets.is_empty() {
        w.walk(Path::new(""))?;
    } else {
        for set in &config.sets {
            if !root.join(&set.path).is_dir() {
                return Err(DiscoverError::MissingSet {
                    path: set.path.clone(),
                });
            }
            let layout = match set.runner {
                Some(r) => Some(r),
                None => w.detect(&set.path)?,
            };
            for location in &set.locations {
                if !root.join(location).is_dir() {
                    return Err(DiscoverError::MissingSet {
                        path: location.clone(),
                    });
                }
            }
            w.locations_for
                .insert(set.path.clone(), set.locations.clone());
            match layout {
                Some(runner) => w.load_set(&set.path, runner)?,
                None => match w.snapshot_layout(&set.path)? {
                    Some(snapshot) => w.load_snapshot_set(&set.path, snapshot)?,
                    None => {
                        return Err(DiscoverError::UnknownLayout {
                            path: set.path.clone(),
                        });
                    }
                },
            }
            let preludes = set
                .prelude
                .iter()
                .map(|p| w.prelude(p))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(last) = w.out.sets.last_mut() {
                last.preludes = preludes;
            }
        }
    }
    let global = config
        .prelude
        .iter()
        .map(|p| w.prelude(p))
        .collect::<Result<Vec<_>, _>>()?;
    for set in &mut w.out.sets {
        let mut all = global.clone();
        all.append(&mut set.preludes);
        set.preludes = all;
    }
    // The environment: a platform preset, roles to create, a baseline snapshot.
    for i in 0..w.out.sets.len() {
        let set_config = config.sets.get(i);
        // A configured `baseline:` wins over a snapshot found beside upgrade folders.
        let baseline = match set_config.and_then(|s| s.baseline.as_ref()) {
            Some(b) => Some(w.baseline(b)?),
            None => w.snapshots.remove(&i),
        };
        crate::environment::prepare(&mut w.out.sets[i], config, set_config, baseline);
    }
    Ok(w.out)
}

/// The files and folders directly in `rel` (relative to `root`), each sorted. Symlinks to files are
/// followed, never those to directories (no cycles).
pub fn list_dir(root: &Path, rel: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), DiscoverError> {
    crate::paths::inside(root, rel)?;
    let path = root.join(rel);
    let entries = std::fs::read_dir(&path).map_err(|source| DiscoverError::Read {
        path: path.clone(),
        source,
    })?;
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| DiscoverError::Read {
            path: path.clone(),
            source,
        })?;
        let child = rel.join(entry.file_name());
        let ft = entry.file_type().map_err(|source| DiscoverError::Read {
            path: entry.path(),
            source,
        })?;
        // Follow symlinks to files, never to directories (no cycles).
        if ft.is_dir() {
            dirs.push(child);
        } else if ft.is_file() || (ft.is_symlink() && entry.path().is_file()) {
            files.push(child);
        }
    }
    files.sort();
    dirs.sort();
    Ok((files, dirs))
}

/// Reads `rel` (relative to `root`) as UTF-8 text and keeps it in `sources` for reporting.
pub fn read_source(
    root: &Path,
    rel: &Path,
    sources: &mut Sources,
) -> Result<Arc<str>, DiscoverError> {
    crate::paths::inside(root, rel)?;
    let path = root.join(rel);
    let bytes = std::fs::read(&path).map_err(|source| DiscoverError::Read {
        path: rel.to_path_buf(),
        source,
    })?;
    source_text(rel, bytes, sources)
}

/// The text of `rel` read as `bytes`, kept in `sources`; refused when it is not UTF-8.
fn source_text(
    rel: &Path,
    bytes: Vec<u8>,
    sources: &mut Sources,
) -> Result<Arc<str>, DiscoverError> {
    let text: Arc<str> = String::from_utf8(bytes)
        .map_err(|e| {
            let (line, column) = crate::paths::utf8_error_position(&e);
            DiscoverError::NotUtf8 {
                path: rel.to_path_buf(),
                line,
                column,
            }
        })?
        .into();
    sources.insert(rel, text.clone());
    Ok(text)
}

/// Whether discovery skips `rel`: hidden, a build or dependency folder, or under an `exclude:` path.
pub fn excluded(rel: &Path, exclude: &[PathBuf]) -> bool {
    let name = file_name(rel);
    (name.starts_with('.') && !rel.as_os_str().is_empty())
        || SKIP_DIRS.contains(&name)
        || exclude.iter().any(|e| rel.starts_with(e))
}

fn file_name(p: &Path) -> &str {
    p.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

/// Leading decimal digits of a name, as a number (None when it does not start with a digit).
fn leading_number(name: &str) -> Option<u128> {
    let digits: String = name.chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() {
        return None;
    }
    // Versions longer than u128 still order by length first, then text.
    digits.parse::<u128>().ok().or(Some(u128::MAX))
}

/// `<version>_<title>.up.sql` / `.down.sql` as golang-migrate parses it.
fn golang_migrate_name(name: &str) -> Option<(u64, bool)> {
    let (version, rest) = name.split_once('_')?;
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let up = if rest.ends_with(".up.sql") {
        true
    } else if rest.ends_with(".down.sql") {
        false
    } else {
        return None;
    };
    Some((version.parse().ok()?, up))
}

/// Migration files grouped by the version in their names, and the `.sql` files with no version there.
#[derive(Default)]
struct Versioned {
    files: BTreeMap<u64, Vec<PathBuf>>,
    unmatched: Vec<PathBuf>,
}

/// A plain numbered migration: starts with digits, then `_`, `-`, `.` or nothing before `.sql`.
fn numbered_sql(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".sql") else {
        return false;
    };
    let digits = stem.bytes().take_while(|b| b.is_ascii_digit()).count();
    digits > 0 && matches!(stem.as_bytes().get(digits), None | Some(b'_' | b'-' | b'.'))
}

/// Finds `needle` in `text` and returns its span (first occurrence at or after `from`).
fn find_span(text: &str, needle: &str, from: usize) -> Option<Span> {
    let start = text.get(from..)?.find(needle)? + from;
    Some(Span::new(start, start + needle.len()))
}

#[derive(Deserialize)]
struct Journal {
    #[serde(default)]
    dialect: Option<String>,
    entries: Vec<JournalEntry>,
}

#[derive(Deserialize)]
struct JournalEntry {
    tag: String,
    #[serde(default)]
    when: Option<u64>,
}

impl Walker<'_> {
    fn abs(&self, rel: &Path) -> PathBuf {
        self.root.join(rel)
    }

    /// A folder's files and folders, without the files `exclude:` names (a single migration file can
    /// be left out as a folder can).
    fn list(&self, rel: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), DiscoverError> {
        let (mut files, dirs) = list_dir(self.root, rel)?;
        files.retain(|f| !self.exclude.iter().any(|e| f.starts_with(e)));
        Ok((files, dirs))
    }

    fn read(&mut self, rel: &Path) -> Result<Arc<str>, DiscoverError> {
        self.confined.check(rel)?;
        let bytes = match self.read_ahead.get_mut().remove(rel) {
            Some(bytes) => bytes,
            None => std::fs::read(self.abs(rel)).map_err(|source| DiscoverError::Read {
                path: rel.to_path_buf(),
                source,
            })?,
        };
        source_text(rel, bytes, &mut self.out.sources)
    }

    /// Reads a migration file of any kind (SQL or code) for reporting.
    fn read_any(&mut self, rel: &Path) -> Result<Arc<str>, DiscoverError> {
        self.read(rel)
    }

    fn prelude(&mut self, rel: &Path) -> Result<Prelude, DiscoverError> {
        if !self.abs(rel).is_file() {
            return Err(DiscoverError::MissingPrelude {
                path: rel.to_path_buf(),
            });
        }
        Ok(Prelude {
            file: rel.to_path_buf(),
            text: self.read(rel)?,
            kind: PreludeKind::File,
        })
    }

    /// A set's `baseline:` snapshot, and the version it covers.
    fn baseline(
        &mut self,
        config: &crate::config::BaselineConfig,
    ) -> Result<(Prelude, Option<String>), DiscoverError> {
        let rel = config.file.as_path();
        if !self.abs(rel).is_file() {
            return Err(DiscoverError::MissingBaseline {
                path: rel.to_path_buf(),
            });
        }
        let prelude = Prelude {
            file: rel.to_path_buf(),
            text: self.read(rel)?,
            kind: PreludeKind::Baseline,
        };
        Ok((prelude, config.version.clone()))
    }

    fn excluded(&self, rel: &Path) -> bool {
        excluded(rel, &self.exclude)
    }

    /// The layout of one directory, if it holds migrations.
    /// The first bytes of a file, for sniffing runner annotations (never fails: unreadable is empty).
    /// The file is read whole, and kept until it is read as a source (a migration file nearly
    /// always is, right after).
    fn head(&self, rel: &Path) -> String {
        let Ok(bytes) = std::fs::read(self.abs(rel)) else {
            return String::new();
        };
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(8192)]).to_ascii_lowercase();
        self.read_ahead
            .borrow_mut()
            .insert(rel.to_path_buf(), bytes);
        head
    }

    /// Whether a Cargo.toml between `rel` and the root depends on sqlx.
    fn uses_sqlx(&self, rel: &Path) -> bool {
        rel.ancestors().any(|dir| {
            std::fs::read_to_string(self.abs(dir).join("Cargo.toml"))
                .is_ok_and(|t| t.lines().any(|l| l.trim_start().starts_with("sqlx")))
        })
    }

    /// The layout of one directory, if it holds migrations. Order matters: the more specific layouts
    /// (journal, lock file, annotations) win over plain numbered files.
    fn detect(&self, rel: &Path) -> Result<Option<Runner>, DiscoverError> {
        let abs = self.abs(rel);
        if abs.join("meta").join("_journal.json").is_file() {
            return Ok(Some(Runner::Drizzle));
        }
        let (files, dirs) = self.list(rel)?;
        if abs.join("migration_lock.toml").is_file()
            || dirs
                .iter()
                .any(|d| self.abs(d).join("migration.sql").is_file())
        {
            return Ok(Some(Runner::Prisma));
        }
        if dirs
            .iter()
            .any(|d| self.abs(d).join("up.sql").is_file() && leading_number(file_name(d)).is_some())
        {
            return Ok(Some(Runner::Diesel));
        }
        let numbered: Vec<&PathBuf> = files
            .iter()
            .filter(|f| numbered_sql(file_name(f)))
            .collect();
        if rel.ends_with("supabase/migrations") && !numbered.is_empty() {
            return Ok(Some(Runner::Supabase));
        }
        if files
            .iter()
            .any(|f| layouts::flyway_name(file_name(f)).is_some_and(|n| n.is_sql))
        {
            return Ok(Some(Runner::Flyway));
        }
        // Goose annotations win over dbmate's: one read of each file's head for both.
        let mut dbmate = false;
        for f in &numbered {
            let head = self.head(f);
            if head.contains("-- +goose up") {
                return Ok(Some(Runner::Goose));
            }
            dbmate = dbmate || head.contains("-- migrate:up");
        }
        if dbmate {
            return Ok(Some(Runner::Dbmate));
        }
        if !numbered.is_empty() && self.uses_sqlx(rel) {
            return Ok(Some(Runner::Sqlx));
        }
        if files
            .iter()
            .any(|f| golang_migrate_name(file_name(f)).is_some_and(|(_, up)| up))
        {
            return Ok(Some(Runner::GolangMigrate));
        }
        if !numbered.is_empty() {
            return Ok(Some(Runner::Psql));
        }
        Ok(None)
    }

    fn walk(&mut self, rel: &Path) -> Result<(), DiscoverError> {
        if self.excluded(rel) || self.consumed.iter().any(|c| c == rel) {
            return Ok(());
        }
        // A location named in Flyway's configuration: every location in one set.
        let configured = self.flyway_locations.iter().any(|l| l == rel)
            && self
                .flyway_files(rel)?
                .iter()
                .any(|f| layouts::flyway_name(file_name(f)).is_some());
        let runner = if configured {
            let others: Vec<PathBuf> = self
                .flyway_locations
                .iter()
                .filter(|l| l.as_path() != rel && self.abs(l).is_dir())
                .cloned()
                .collect();
            self.consumed.extend(others.iter().cloned());
            self.locations_for.insert(rel.to_path_buf(), others);
            Some(Runner::Flyway)
        } else {
            let detected = self.detect(rel)?;
            if detected == Some(Runner::Flyway) {
                let siblings = self.interleaved_flyway_siblings(rel)?;
                if !siblings.is_empty() {
                    self.consumed.extend(siblings.iter().cloned());
                    self.locations_for.insert(rel.to_path_buf(), siblings);
                }
            }
            detected
        };
        if let Some(runner) = runner {
            self.load_set(rel, runner)?;
            // Drizzle and Prisma own their whole folder, and Flyway reads its locations recursively;
            // other layouts may nest further sets.
            if matches!(runner, Runner::Drizzle | Runner::Prisma | Runner::Flyway) {
                return Ok(());
            }
        } else if let Some(snapshot) = self.snapshot_layout(rel)? {
            // Its upgrade folders belong to it; other folders may hold further sets.
            self.load_snapshot_set(rel, snapshot)?;
        }
        let (_, dirs) = self.list(rel)?;
        for d in dirs {
            self.walk(&d)?;
        }
        Ok(())
    }

    /// `rel` as a snapshot beside versioned upgrade folders, if it is one: a `LATEST.sql` and at
    /// least one folder named like a version (`0.18`, `v2`) holding `.sql` files.
    fn snapshot_layout(&self, rel: &Path) -> Result<Option<SnapshotLayout>, DiscoverError> {
        let (files, dirs) = self.list(rel)?;
        let Some(snapshot) = SNAPSHOT_NAMES
            .iter()
            .map(|n| rel.join(n))
            .find(|p| files.contains(p))
        else {
            return Ok(None);
        };
        let mut folders = Vec::new();
        for d in dirs {
            let Some(version) = folder_version(file_name(&d)) else {
                continue;
            };
            if self.excluded(&d) {
                continue;
            }
            let (inner, _) = self.list(&d)?;
            if inner.iter().any(|f| file_name(f).ends_with(".sql")) {
                folders.push((version.to_string(), d));
            }
        }
        if folders.is_empty() {
            return Ok(None);
        }
        folders.sort_by_key(|(v, d)| (version_parts(v), d.clone()));
        Ok(Some(SnapshotLayout { snapshot, folders }))
    }

    /// A snapshot with its upgrade folders, as the applications that ship them install a database
    /// (memos' `store/migration/postgres`, for one): a fresh install runs the snapshot and records the
    /// newest folder's version; only an older install runs the upgrades, those newer than its version.
    /// The snapshot already contains every upgrade, so replaying the upgrades from an empty database
    /// (or after the snapshot) would report failures no install meets. The set is the snapshot as a
    /// baseline (run like `psql -f`, as a configured `baseline:` is) covering every upgrade up to the
    /// newest folder: the replay checks that the snapshot builds, and the upgrades are not replayed.
    fn load_snapshot_set(
        &mut self,
        dir: &Path,
        layout: SnapshotLayout,
    ) -> Result<(), DiscoverError> {
        let mut set = MigrationSet {
            dir: dir.to_path_buf(),
            runner: Runner::Psql,
            migrations: Vec::new(),
            preludes: Vec::new(),
            refused: None,
            schemas: Vec::new(),
            journal_when: BTreeMap::new(),
            generated_for: None,
        };
        let mut newest = None;
        for (version, folder) in &layout.folders {
            let (files, _) = self.list(folder)?;
            let mut sql: Vec<(u128, String, PathBuf)> = files
                .into_iter()
                .filter(|f| file_name(f).ends_with(".sql"))
                .map(|f| {
                    let name = file_name(&f).to_string();
                    (leading_number(&name).unwrap_or(0), name, f)
                })
                .collect();
            sql.sort();
            for (_, name, file) in sql {
                let text = self.read(&file)?;
                let id = format!("{version}/{}", name.trim_end_matches(".sql"));
                set.migrations
                    .push(Migration::sql(id, file, text, Runner::Psql));
            }
            self.consumed.push(folder.clone());
            newest = Some(version.clone());
        }
        let snapshot = Prelude {
            file: layout.snapshot.clone(),
            text: self.read(&layout.snapshot)?,
            kind: PreludeKind::Baseline,
        };
        self.snapshots
            .insert(self.out.sets.len(), (snapshot, newest));
        self.out.sets.push(set);
        Ok(())
    }

    fn load_set(&mut self, dir: &Path, runner: Runner) -> Result<(), DiscoverError> {
        let mut set = MigrationSet {
            dir: dir.to_path_buf(),
            runner,
            migrations: Vec::new(),
            preludes: Vec::new(),
            refused: None,
            schemas: Vec::new(),
            journal_when: BTreeMap::new(),
            generated_for: None,
        };
        match runner {
            Runner::Drizzle if self.abs(dir).join("meta").join("_journal.json").is_file() => {
                self.load_drizzle(&mut set)?
            }
            Runner::Prisma => self.load_prisma(&mut set)?,
            Runner::GolangMigrate => self.load_golang_migrate(&mut set)?,
            Runner::Goose => self.load_goose(&mut set)?,
            Runner::Dbmate => self.load_dbmate(&mut set)?,
            Runner::Sqlx => self.load_sqlx(&mut set)?,
            Runner::Diesel => self.load_diesel(&mut set)?,
            Runner::Flyway => self.load_flyway(&mut set)?,
            _ => self.load_numbered(&mut set)?,
        }
        self.out.sets.push(set);
        Ok(())
    }

    fn finding(
        &mut self,
        rule: &str,
        file: &Path,
        span: Option<Span>,
        message: String,
        help: &str,
    ) {
        self.out
            .findings
            .push(registry::finding(rule, message).help(help).at(file, span));
    }

    fn load_drizzle(&mut self, set: &mut MigrationSet) -> Result<(), DiscoverError> {
        let dir = set.dir.clone();
        let journal_path = dir.join("meta").join("_journal.json");
        let text = self.read(&journal_path)?;
        let journal: Journal = serde_json::from_str(&text).map_err(|e| DiscoverError::Journal {
            path: journal_path.clone(),
            message: format!("{e}"),
        })?;
        if let Some(dialect) = journal.dialect.as_deref()
            && !matches!(dialect, "postgresql" | "pg" | "postgres")
        {
            let span = find_span(&text, &format!("\"{dialect}\""), 0)
                .or_else(|| find_span(&text, "\"dialect\"", 0));
            self.finding(
                "dialect-mismatch",
                &journal_path,
                span,
                format!(
                    "this Drizzle journal was generated for `{dialect}`, not PostgreSQL; its migrations will not run on PostgreSQL"
                ),
                "regenerate the migrations with `dialect: \"postgresql\"` in drizzle.config, or move this folder out of the PostgreSQL project",
            );
        }
        let mut listed = BTreeSet::new();
        let mut newest_when: Option<u64> = None;
        for entry in &journal.entries {
            let file = dir.join(format!("{}.sql", entry.tag));
            listed.insert(file.clone());
            let tag_span = find_span(&text, &format!("\"{}\"", entry.tag), 0);
            if let (Some(when), Some(prev)) = (entry.when, newest_when)
                && when < prev
            {
                self.finding(
                    "journal-out-of-order",
                    &journal_path,
                    tag_span,
                    format!(
                        "journal entry `{}` is older (`when`) than the entry before it; a database that already applied the newer one will skip it",
                        entry.tag
                    ),
                    "give the entry a `when` later than every earlier entry (drizzle-kit compares only against the newest applied migration)",
                );
            }
            newest_when = newest_when.max(entry.when);
            if let Some(when) = entry.when.and_then(|w| i64::try_from(w).ok()) {
                set.journal_when.insert(entry.tag.clone(), when);
            }
            if !self.abs(&file).is_file() {
                self.finding(
                    "missing-migration-file",
                    &journal_path,
                    tag_span,
                    format!(
                        "the journal lists `{}` but `{}` does not exist; drizzle-kit migrate fails on it",
                        entry.tag,
                        file.display()
                    ),
                    "restore the file, or remove the entry and regenerate with drizzle-kit",
                );
                set.refused = Some(format!("`{}` is missing", file.display()));
                continue;
            }
            let text = self.read(&file)?;
            set.migrations.push(Migration::sql(
                entry.tag.clone(),
                file,
                text,
                Runner::Drizzle,
            ));
        }
        // Every .sql file under the folder that the journal does not list is never applied.
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            let (files, dirs) = self.list(&d)?;
            for f in files {
                if f.extension().and_then(|e| e.to_str()) == Some("sql") && !listed.contains(&f) {
                    self.read(&f)?;
                    self.finding(
                        "journal-orphan",
                        &f,
                        None,
                        format!(
                            "`{}` is not listed in {}; drizzle-kit migrate never applies it",
                            file_name(&f),
                            journal_path.display()
                        ),
                        "generate migrations with `drizzle-kit generate` (or `drizzle-kit generate --custom` for hand-written SQL) so the journal lists them, or delete the file",
                    );
                }
            }
            stack.extend(dirs.into_iter().filter(|d| file_name(d) != "meta"));
        }
        Ok(())
    }

    fn load_prisma(&mut self, set: &mut MigrationSet) -> Result<(), DiscoverError> {
        let dir = set.dir.clone();
        let lock = dir.join("migration_lock.toml");
        if self.abs(&lock).is_file() {
            let text = self.read(&lock)?;
            let provider = toml_string_value(&text, "provider");
            set.generated_for = provider.as_ref().map(|(p, _)| p.clone());
            if let Some((provider, span)) = provider
                && provider != "postgresql"
                && provider != "postgres"
            {
                self.finding(
                    "dialect-mismatch",
                    &lock,
                    Some(span),
                    format!(
                        "these Prisma migrations were generated for provider `{provider}`, not PostgreSQL"
                    ),
                    "set `provider = \"postgresql\"` in the datasource and regenerate the migrations, or move this folder out of the PostgreSQL project",
                );
            }
        }
        let (files, dirs) = self.list(&dir)?;
        for d in dirs {
            let file = d.join("migration.sql");
            if self.abs(&file).is_file() {
                let text = self.read(&file)?;
                set.migrations.push(Migration::sql(
                    file_name(&d).to_string(),
                    file,
                    text,
                    Runner::Prisma,
                ));
            }
        }
        for f in files {
            if f.extension().and_then(|e| e.to_str()) == Some("sql") {
                self.read(&f)?;
                self.finding(
                    "unrecognized-migration-file",
                    &f,
                    None,
                    format!(
                        "`{}` sits directly in the Prisma migrations folder; Prisma only applies `<name>/migration.sql`",
                        file_name(&f)
                    ),
                    "move it into its own folder as `<timestamp>_<name>/migration.sql` (`prisma migrate dev --create-only`), or delete it",
                );
            }
        }
        Ok(())
    }

    fn load_golang_migrate(&mut self, set: &mut MigrationSet) -> Result<(), DiscoverError> {
        let dir = set.dir.clone();
        let (files, _) = self.list(&dir)?;
        let mut by_version: BTreeMap<u64, Vec<PathBuf>> = BTreeMap::new();
        for f in files {
            let name = file_name(&f).to_string();
            match golang_migrate_name(&name) {
                Some((version, true)) => by_version.entry(version).or_default().push(f),
                Some((_, false)) => {}
                None if name.ends_with(".sql") => {
                    self.read(&f)?;
                    self.finding(
                        "unrecognized-migration-file",
                        &f,
                        None,
                        format!(
                            "golang-migrate ignores `{name}`: names must be `<version>_<title>.up.sql` or `.down.sql`"
                        ),
                        "rename it to `<version>_<title>.up.sql`, or move it out of the migrations folder",
                    );
                }
                None => {}
            }
        }
        for (version, file) in self.unique_versions(set, by_version)? {
            let text = self.read(&file)?;
            set.migrations.push(Migration::sql(
                version.to_string(),
                file,
                text,
                Runner::GolangMigrate,
            ));
        }
        Ok(())
    }

    /// One file per version; versions used twice are reported on every file and refuse the set, as
    /// every versioned runner refuses to start on them.
    fn unique_versions(
        &mut self,
        set: &mut MigrationSet,
        by_version: BTreeMap<u64, Vec<PathBuf>>,
    ) -> Result<Vec<(u64, PathBuf)>, DiscoverError> {
        let mut out = Vec::new();
        for (version, files) in by_version {
            if files.len() > 1 {
                let names: Vec<&str> = files.iter().map(|f| file_name(f)).collect();
                let message = format!(
                    "version {version} is used by {} migrations ({}); {} refuses to run any migration",
                    files.len(),
                    names.join(", "),
                    set.runner
                );
                self.whole_file_findings(
                    "duplicate-version",
                    &files,
                    |_| message.clone(),
                    "give each migration its own version number",
                )?;
                set.refused = Some(format!("version {version} is used more than once"));
            }
            if let Some(file) = files.into_iter().next() {
                out.push((version, file));
            }
        }
        Ok(out)
    }

    /// Files named `<version>_<name>` (`<version><anything>` unless `separator`) with one of
    /// `extensions`, grouped by version; and the `.sql` files whose names do not have that form.
    fn by_version(
        &self,
        dir: &Path,
        extensions: &[&str],
        separator: bool,
    ) -> Result<Versioned, DiscoverError> {
        let (files, _) = self.list(dir)?;
        let mut out = Versioned::default();
        for f in files {
            let name = file_name(&f);
            if !extensions.iter().any(|e| name.ends_with(e)) {
                continue;
            }
            let digits = name.bytes().take_while(|b| b.is_ascii_digit()).count();
            let version = name[..digits]
                .parse::<u64>()
                .ok()
                .filter(|_| !separator || name.as_bytes().get(digits) == Some(&b'_'));
            match version {
                Some(v) => out.files.entry(v).or_default().push(f),
                None if name.ends_with(".sql") => out.unmatched.push(f),
                None => {}
            }
        }
        Ok(out)
    }

    /// Reports the `.sql` files a runner skips because of their names: `unrecognized-migration-file`.
    fn skipped_files(
        &mut self,
        files: &[PathBuf],
        why: &str,
        help: &str,
    ) -> Result<(), DiscoverError> {
        self.whole_file_findings(
            "unrecognized-migration-file",
            files,
            |name| format!("{why}: `{name}` is never applied"),
            help,
        )
    }

    /// A finding of `rule` about each of `files` (read first, so an unreadable file is an error),
    /// with the message `message` makes from its name.
    fn whole_file_findings(
        &mut self,
        rule: &str,
        files: &[PathBuf],
        message: impl Fn(&str) -> String,
        help: &str,
    ) -> Result<(), DiscoverError> {
        for f in files {
            self.read(f)?;
            self.finding(rule, f, None, message(file_name(f)), help);
        }
        Ok(())
    }

    /// Reports the `.sql` files whose names make the runner refuse the whole folder, and refuses the
    /// set as the runner does.
    fn refusing_files(
        &mut self,
        set: &mut MigrationSet,
        files: &[PathBuf],
        why: impl Fn(&str) -> String,
        help: &str,
    ) -> Result<(), DiscoverError> {
        let runner = set.runner;
        self.whole_file_findings(
            "runner-rejects-migration",
            files,
            |name| format!("{}; {runner} refuses to run any migration", why(name)),
            help,
        )?;
        if let Some(f) = files.first() {
            set.refused = Some(format!("{runner} cannot read the name `{}`", file_name(f)));
        }
        Ok(())
    }

    fn load_goose(&mut self, set: &mut MigrationSet) -> Result<(), DiscoverError> {
        let mut found = self.by_version(&set.dir.clone(), &[".sql", ".go"], true)?;
        // goose parses a version from every `.sql` file in the folder and stops on any it cannot
        // read ("could not parse SQL migration file"), or on version 0.
        let mut refused = std::mem::take(&mut found.unmatched);
        if let Some(zero) = found.files.remove(&0) {
            refused.extend(zero.into_iter().filter(|f| file_name(f).ends_with(".sql")));
        }
        self.refusing_files(
            set,
            &refused,
            |name| format!("goose cannot parse a version greater than zero from `{name}` (names must be `<version>_<name>.sql`)"),
            "rename it to `<version>_<name>.sql` with a version above zero, or move it out of the migrations folder (goose reads every .sql file there)",
        )?;
        for (version, file) in self.unique_versions(set, found.files)? {
            let text = self.read_any(&file)?;
            let mut m = Migration::sql(
                version.to_string(),
                file.clone(),
                text.clone(),
                Runner::Goose,
            );
            if file.extension().and_then(|e| e.to_str()) == Some("go") {
                m.batches.clear();
                m.blocked = Some(Blocked {
                    rule: "unreplayable-migration",
                    message: format!(
                        "`{}` is a Go migration; pgrehearse replays SQL only, so the replay stops here",
                        file_name(&file)
                    ),
                    help: "write the migration in SQL, or replay against a database that already has it applied (`--database-url`)".into(),
                    span: None,
                });
            } else {
                match layouts::goose(&text)
                    .and_then(|g| layouts::goose_statements(&text, g.up).map(|stmts| (g, stmts)))
                {
                    Ok((g, stmts)) => {
                        m.batches = stmts
                            .into_iter()
                            .map(|span| Batch { span, copy: None })
                            .collect();
                        if g.no_transaction {
                            m.transactions = Transactions::Autocommit;
                        }
                    }
                    Err(rejected) => m.blocked = Some(rejected_by(Runner::Goose, rejected)),
                }
            }
            set.migrations.push(m);
        }
        Ok(())
    }

    fn load_dbmate(&mut self, set: &mut MigrationSet) -> Result<(), DiscoverError> {
        // dbmate takes every `.sql` file whose name starts with digits; its version is those digits.
        let found = self.by_version(&set.dir.clone(), &[".sql"], false)?;
        self.skipped_files(
            &found.unmatched,
            "dbmate only applies .sql files whose names start with a version number",
            "rename it to `<version>_<name>.sql` (`dbmate new <name>`), or move it out of the migrations folder",
        )?;
        for (version, file) in self.unique_versions(set, found.files)? {
            let text = self.read(&file)?;
            let mut m = Migration::sql(version.to_string(), file, text.clone(), Runner::Dbmate);
            match layouts::dbmate(&text) {
                Ok(d) => {
                    m.batches = layouts::batches(Runner::Dbmate, &text, d.up);
                    if !d.transaction {
                        m.transactions = Transactions::Implicit;
                    }
                }
                Err(rejected) => m.blocked = Some(rejected_by(Runner::Dbmate, rejected)),
            }
            set.migrations.push(m);
        }
        Ok(())
    }

    fn load_sqlx(&mut self, set: &mut MigrationSet) -> Result<(), DiscoverError> {
        let found = self.by_version(&set.dir.clone(), &[".sql"], true)?;
        // sqlx skips a name without `_`, and stops on one whose part before the first `_` is not an
        // integer ("error parsing migration filename").
        let (refused, skipped): (Vec<PathBuf>, Vec<PathBuf>) = found
            .unmatched
            .into_iter()
            .partition(|f| file_name(f).contains('_'));
        self.skipped_files(
            &skipped,
            "sqlx only applies files named `<version>_<description>.sql`",
            "rename it to `<version>_<description>.sql` (`sqlx migrate add <description>`), or move it out of the migrations folder",
        )?;
        self.refusing_files(
            set,
            &refused,
            |name| format!("sqlx cannot parse an integer version before the first `_` of `{name}`"),
            "rename it to `<version>_<description>.sql`, or move it out of the migrations folder (sqlx reads every .sql file there)",
        )?;
        let by_version = found
            .files
            .into_iter()
            .filter_map(|(v, files)| {
                let ups: Vec<PathBuf> = files
                    .into_iter()
                    .filter(|f| !file_name(f).ends_with(".down.sql"))
                    .collect();
                (!ups.is_empty()).then_some((v, ups))
            })
            .collect();
        for (version, file) in self.unique_versions(set, by_version)? {
            let text = self.read(&file)?;
            let mut m = Migration::sql(version.to_string(), file, text.clone(), Runner::Sqlx);
            if layouts::sqlx_no_transaction(&text) {
                m.transactions = Transactions::Implicit;
            }
            set.migrations.push(m);
        }
        Ok(())
    }

    fn load_diesel(&mut self, set: &mut MigrationSet) -> Result<(), DiscoverError> {
        let (_, dirs) = self.list(&set.dir.clone())?;
        for d in dirs {
            let up = d.join("up.sql");
            if !self.abs(&up).is_file() {
                continue;
            }
            let text = self.read(&up)?;
            let mut m = Migration::sql(file_name(&d).to_string(), up, text, Runner::Diesel);
            let meta = d.join("metadata.toml");
            if self.abs(&meta).is_file() {
                let meta_text = self.read(&meta)?;
                if layouts::setting(&meta_text, "run_in_transaction") == Some("false") {
                    m.transactions = Transactions::Implicit;
                }
            }
            set.migrations.push(m);
        }
        Ok(())
    }

    /// Flyway refuses to migrate when two versioned (or baseline) migrations share a version (`1.0` is
    /// `1`), or two repeatable ones a description: `duplicate-version` on each file, and the set refused.
    fn flyway_duplicates(
        &mut self,
        set: &mut MigrationSet,
        named: &[(layouts::FlywayName, PathBuf)],
    ) -> Result<(), DiscoverError> {
        use layouts::FlywayKind;
        let mut groups: BTreeMap<(u8, Vec<u64>, String), Vec<&PathBuf>> = BTreeMap::new();
        for (n, f) in named.iter().filter(|(n, _)| n.is_sql) {
            let key = match n.kind {
                FlywayKind::Repeatable => (2, Vec::new(), n.description.clone()),
                kind => {
                    let mut v = n.version.clone();
                    while v.len() > 1 && v.last() == Some(&0) {
                        v.pop();
                    }
                    (u8::from(kind == FlywayKind::Baseline), v, String::new())
                }
            };
            groups.entry(key).or_default().push(f);
        }
        for ((kind, version, description), files) in groups {
            if files.len() < 2 {
                continue;
            }
            let names: Vec<&str> = files.iter().map(|f| file_name(f)).collect();
            let what = if kind == 2 {
                format!("the repeatable description `{description}`")
            } else {
                let v: Vec<String> = version.iter().map(u64::to_string).collect();
                format!("version {}", v.join("."))
            };
            let message = format!(
                "{what} is used by {} migrations ({}); Flyway refuses to migrate (\"Found more than one migration\")",
                files.len(),
                names.join(", ")
            );
            let files: Vec<PathBuf> = files.into_iter().cloned().collect();
            self.whole_file_findings(
                "duplicate-version",
                &files,
                |_| message.clone(),
                "give each migration its own version (or each repeatable its own description)",
            )?;
            set.refused = Some(format!("{what} is used more than once"));
        }
        Ok(())
    }

    /// The versions of the versioned migrations in a Flyway location (`1.0` is `1`).
    fn flyway_versions(&self, rel: &Path) -> Result<BTreeSet<Vec<u64>>, DiscoverError> {
        Ok(self
            .flyway_files(rel)?
            .iter()
            .filter_map(|f| layouts::flyway_name(file_name(f)))
            .filter(|n| n.kind == layouts::FlywayKind::Versioned)
            .map(|n| {
                let mut v = n.version;
                while v.len() > 1 && v.last() == Some(&0) {
                    v.pop();
                }
                v
            })
            .collect())
    }

    /// The sibling folders of the Flyway location `rel` (same parent, not configured, not yet taken)
    /// whose versions interleave with its own: one history split over several locations, which Flyway
    /// applies as one set in one version order when they are all listed in `locations` (as the
    /// project's build or Spring configuration must do for those migrations to run in that order).
    ///
    /// Siblings are merged only when the merge is the only order that makes sense: their version
    /// ranges overlap (a version of one lies between two of the other) and no version is used twice.
    /// Flyway refuses two migrations with one version in its locations, so siblings sharing a version
    /// cannot be one configuration: they are separate databases, each its own set. Siblings whose
    /// ranges do not overlap (`V1`–`V3` beside `V10`–`V12`) may be either; with no configuration
    /// saying so they stay separate sets (`locations:` in `.pgrehearse.yaml` merges them).
    fn interleaved_flyway_siblings(&self, rel: &Path) -> Result<Vec<PathBuf>, DiscoverError> {
        let Some(parent) = rel.parent() else {
            return Ok(Vec::new());
        };
        let (_, dirs) = self.list(parent)?;
        let mut group: Vec<(PathBuf, BTreeSet<Vec<u64>>)> = Vec::new();
        for d in dirs {
            if self.excluded(&d)
                || self.consumed.contains(&d)
                || self.flyway_locations.contains(&d)
                || (d.as_path() != rel && self.detect(&d)? != Some(Runner::Flyway))
            {
                continue;
            }
            let versions = self.flyway_versions(&d)?;
            if !versions.is_empty() {
                group.push((d, versions));
            }
        }
        // Grow the set from `rel`: add any sibling that interleaves with the versions gathered so far
        // and shares none of them, until nothing more joins.
        let Some(at) = group.iter().position(|(d, _)| d.as_path() == rel) else {
            return Ok(Vec::new());
        };
        let (_, mut merged) = group.remove(at);
        let mut joined = Vec::new();
        loop {
            let next = group
                .iter()
                .position(|(_, v)| merged.is_disjoint(v) && ranges_overlap(&merged, v));
            let Some(i) = next else { break };
            let (d, v) = group.remove(i);
            merged.extend(v);
            joined.push(d);
        }
        joined.sort();
        Ok(joined)
    }

    /// The files of a Flyway location, in its subfolders too (Flyway scans locations recursively).
    fn flyway_files(&self, rel: &Path) -> Result<Vec<PathBuf>, DiscoverError> {
        let (mut files, dirs) = self.list(rel)?;
        for d in dirs {
            if !self.excluded(&d) {
                files.extend(self.flyway_files(&d)?);
            }
        }
        Ok(files)
    }

    fn load_flyway(&mut self, set: &mut MigrationSet) -> Result<(), DiscoverError> {
        use layouts::FlywayKind;
        let mut files = self.flyway_files(&set.dir.clone())?;
        for location in self
            .locations_for
            .get(&set.dir)
            .cloned()
            .unwrap_or_default()
        {
            files.extend(self.flyway_files(&location)?);
        }
        let (named, unnamed): (Vec<_>, Vec<_>) = files
            .into_iter()
            .map(|f| (layouts::flyway_name(file_name(&f)), f))
            .partition(|(n, _)| n.is_some());
        let mut named: Vec<(layouts::FlywayName, PathBuf)> = named
            .into_iter()
            .filter_map(|(n, f)| n.map(|n| (n, f)))
            .collect();
        // Flyway ignores other names (SQL callbacks such as `afterMigrate.sql` and undo scripts aside).
        let skipped: Vec<PathBuf> = unnamed
            .into_iter()
            .map(|(_, f)| f)
            .filter(|f| {
                let name = file_name(f);
                name.ends_with(".sql") && !layouts::flyway_callback_or_undo(name)
            })
            .collect();
        self.skipped_files(
            &skipped,
            "Flyway only applies `V<version>__<description>.sql`, `R__<description>.sql` and `B<version>__<description>.sql` (two underscores, capital prefix)",
            "rename it to `V<version>__<description>.sql`, or move it out of the migration locations",
        )?;
        self.flyway_duplicates(set, &named)?;
        // On an empty database Flyway starts from the newest baseline migration, skipping the
        // versioned migrations it covers.
        let baseline = named
            .iter()
            .filter(|(n, _)| n.kind == FlywayKind::Baseline)
            .map(|(n, _)| n.version.clone())
            .max();
        named.retain(|(n, _)| match (&baseline, n.kind) {
            (Some(b), FlywayKind::Baseline) => &n.version == b,
            (Some(b), FlywayKind::Versioned) => &n.version > b,
            _ => true,
        });
        named.sort_by(|(a, _), (b, _)| {
            let rank = |k: FlywayKind| match k {
                FlywayKind::Baseline => 0,
                FlywayKind::Versioned => 1,
                FlywayKind::Repeatable => 2,
            };
            (rank(a.kind), &a.version, &a.description).cmp(&(
                rank(b.kind),
                &b.version,
                &b.description,
            ))
        });
        for (name, file) in named {
            let id = if name.version.is_empty() {
                format!("R {}", name.description)
            } else {
                name.version
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(".")
            };
            let text = self.read_any(&file)?;
            let mut m = Migration::sql(id, file.clone(), text.clone(), Runner::Flyway);
            if !name.is_sql {
                m.batches.clear();
                m.blocked = Some(Blocked {
                    rule: "unreplayable-migration",
                    message: format!(
                        "`{}` is not a SQL migration; pgrehearse replays SQL only, so the replay stops here",
                        file_name(&file)
                    ),
                    help: "write the migration in SQL, or replay against a database that already has it applied (`--database-url`)".into(),
                    span: None,
                });
                set.migrations.push(m);
                continue;
            }
            let conf = PathBuf::from(format!("{}.conf", file.display()));
            let configured_off = self.abs(&conf).is_file()
                && layouts::setting(&self.read(&conf)?, "executeInTransaction") == Some("false");
            let non_tx: Vec<Span> = m
                .batches
                .iter()
                .map(|b| b.span)
                .filter(|s| layouts::flyway_non_transactional(&text, *s))
                .collect();
            if configured_off || (!non_tx.is_empty() && non_tx.len() == m.batches.len()) {
                m.transactions = Transactions::Autocommit;
            } else if let Some(first) = non_tx.first() {
                m.blocked = Some(Blocked {
                    rule: "runner-rejects-migration",
                    message: "Flyway refuses this migration: it mixes statements that cannot run in a transaction with statements that can (mixed=false)".into(),
                    help: "move the non-transactional statement into a migration of its own, or set `executeInTransaction=false` in a `.sql.conf` file beside it".into(),
                    span: Some(*first),
                });
            }
            set.migrations.push(m);
        }
        Ok(())
    }

    fn load_numbered(&mut self, set: &mut MigrationSet) -> Result<(), DiscoverError> {
        let (files, _) = self.list(&set.dir)?;
        // The Supabase CLI applies `<timestamp>_<name>.sql` only, and skips other files with a warning.
        let supabase = set.runner == Runner::Supabase;
        let (files, skipped): (Vec<PathBuf>, Vec<PathBuf>) = files.into_iter().partition(|f| {
            let name = file_name(f);
            let digits = name.bytes().take_while(|b| b.is_ascii_digit()).count();
            !supabase
                || !name.ends_with(".sql")
                || (digits > 0 && name.as_bytes().get(digits) == Some(&b'_'))
        });
        self.skipped_files(
            &skipped,
            "the Supabase CLI only applies files named `<timestamp>_<name>.sql`",
            "rename it to `<timestamp>_<name>.sql` (`supabase migration new <name>`), or move it out of supabase/migrations",
        )?;
        let mut numbered: Vec<(u128, String, PathBuf)> = files
            .into_iter()
            .filter_map(|f| {
                let name = file_name(&f).to_string();
                if numbered_sql(&name) {
                    Some((leading_number(&name).unwrap_or(0), name, f))
                } else {
                    None
                }
            })
            .collect();
        numbered.sort();
        for (_, name, file) in numbered {
            let text = self.read(&file)?;
            set.migrations.push(Migration::sql(
                name.trim_end_matches(".sql").to_string(),
                file,
                text,
                set.runner,
            ));
        }
        Ok(())
    }
}

/// Whether two sets of versions interleave: each has a version below the other's newest.
fn ranges_overlap(a: &BTreeSet<Vec<u64>>, b: &BTreeSet<Vec<u64>>) -> bool {
    match (a.first(), a.last(), b.first(), b.last()) {
        (Some(a_min), Some(a_max), Some(b_min), Some(b_max)) => a_min < b_max && b_min < a_max,
        _ => false,
    }
}

/// The string value of `key = "value"` in a small TOML file, with the span of the value.
fn toml_string_value(text: &str, key: &str) -> Option<(String, Span)> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(key) {
            let rest_trim = rest.trim_start();
            if let Some(after_eq) = rest_trim.strip_prefix('=') {
                let value = after_eq.trim();
                let value = value.split('#').next().unwrap_or("").trim();
                let unquoted = value.trim_matches('"').trim_matches('\'');
                let start = offset + line.find(unquoted).unwrap_or(0);
                return Some((
                    unquoted.to_string(),
                    Span::new(start, start + unquoted.len()),
                ));
            }
        }
        offset += line.len();
    }
    None
}

/// The finding for a file its runner rejects.
fn rejected_by(runner: Runner, rejected: layouts::Rejected) -> Blocked {
    Blocked {
        rule: "runner-rejects-migration",
        message: rejected.message,
        help: format!("fix the file so that {runner} accepts it"),
        span: rejected.span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golang_migrate_names_parse_like_the_tool() {
        assert_eq!(golang_migrate_name("1_init.up.sql"), Some((1, true)));
        assert_eq!(golang_migrate_name("0002_x.down.sql"), Some((2, false)));
        assert_eq!(
            golang_migrate_name("20240101120000_add.up.sql"),
            Some((20240101120000, true))
        );
        assert_eq!(golang_migrate_name("init.up.sql"), None);
        assert_eq!(golang_migrate_name("1_init.sql"), None);
    }

    #[test]
    fn numbered_files_are_recognised() {
        assert!(numbered_sql("001_init.sql"));
        assert!(numbered_sql("2-users.sql"));
        assert!(numbered_sql("10.sql"));
        assert!(!numbered_sql("schema.sql"));
        assert!(!numbered_sql("001_init.txt"));
        assert!(!numbered_sql("001init.sql"));
    }

    #[test]
    fn numeric_order_beats_text_order() {
        let mut v = [
            (leading_number("10_c.sql"), "10_c"),
            (leading_number("2_b.sql"), "2_b"),
            (leading_number("001_a.sql"), "001_a"),
        ];
        v.sort();
        assert_eq!(
            v.iter().map(|x| x.1).collect::<Vec<_>>(),
            ["001_a", "2_b", "10_c"]
        );
    }

    #[test]
    fn toml_provider_value_and_span() {
        let text = "# comment\nprovider = \"mysql\"\n";
        let (v, span) = toml_string_value(text, "provider").unwrap();
        assert_eq!(v, "mysql");
        assert_eq!(span.slice(text), "mysql");
    }
}
