//! `history`: which migrations have already shipped, so that the findings that judge the risk of
//! applying a migration ([`registry::historical`]: locks, rewrites, destructive changes, partial
//! failures, data-dependent failures) are reported only for migrations that have not. A migration
//! production has already applied cannot be changed, and its risks are past.
//!
//! What counts as shipped ([`shipped`]), by context:
//!
//! - `--all-history`: nothing; every migration is judged.
//! - `--since REF`: the migrations whose file exists at REF.
//! - a GitHub pull request (`GITHUB_EVENT_NAME` is `pull_request…`): the migrations whose file exists
//!   on the base commit (`pull_request.base.sha` in the event payload at `GITHUB_EVENT_PATH`, else the
//!   branch `GITHUB_BASE_REF`). When that commit is not in the checkout, nothing counts as shipped and
//!   a `history-unavailable` notice says why.
//! - elsewhere (locally, on a push): for each set, what was committed before its newest migration (by
//!   the set's order) first appeared. The newest migration, every migration that appeared with it or
//!   after it, and every migration with uncommitted changes (untracked, staged, edited) are new; the
//!   others shipped. When the newest migration is not committed yet, everything committed shipped.
//!   In a shallow clone that does not reach the commit before the newest migration, only the newest
//!   migration (and uncommitted ones) are new.
//! - with `--against URL`, for a set whose runner's bookkeeping the live database holds (golang-migrate,
//!   Prisma, Drizzle, Flyway): the migrations it lists as applied ([`Shipped::live`]).
//!
//! A root outside a git repository (or without any commit) has no history: nothing counts as shipped.
//! [`hold_back`] removes the historical findings in shipped migrations after the policy stage (so a
//! suppression or a baseline entry that matches one is still used) and counts them in the report.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path};
use std::process::Command;

use crate::model::{Finding, History, Report};
use crate::registry;
use crate::runner::MigrationSet;

/// Which migrations count as shipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Choice {
    /// By context: the pull request's base, else the commits before each set's newest migration.
    #[default]
    Context,
    /// `--since REF`: the migrations present at REF.
    Since(String),
    /// `--all-history`: none; every finding is reported.
    All,
}

/// `--since` could not be worked out (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("--since `{0}`: not a git revision (it starts with `-` or is empty)")]
    BadRef(String),
    #[error("--since `{reference}`: {message}")]
    Git { reference: String, message: String },
}

/// The migrations that shipped, and how that was worked out.
#[derive(Clone, Debug, Default)]
pub struct Shipped {
    /// Files of shipped migrations, relative to the root with `/` separators.
    files: BTreeSet<String>,
    basis: &'static str,
    revision: Option<String>,
    /// Why the history the context calls for could not be read (a pull request's base commit that is
    /// not in the checkout): a `history-unavailable` notice.
    pub notice: Option<Finding>,
    /// Why nothing counts as shipped, for `--verbose`.
    pub reason: Option<String>,
}

impl Shipped {
    fn nothing(basis: &'static str) -> Shipped {
        Shipped {
            basis,
            ..Shipped::default()
        }
    }

    /// Whether the migration file `file` (relative to the root) shipped.
    pub fn contains(&self, file: &Path) -> bool {
        self.files.contains(&normal(file))
    }

    /// Whether [`hold_back`] holds back a finding of `rule` about `file`.
    pub fn holds_back(&self, rule: &str, file: &Path) -> bool {
        registry::historical(rule) && self.contains(file)
    }

    /// The live database's bookkeeping of `set`: the migrations it lists as `applied` (by id) are the
    /// set's shipped ones, whatever git says.
    pub fn live(&mut self, set: &MigrationSet, applied: &BTreeSet<String>) {
        for m in &set.migrations {
            let file = normal(&m.file);
            if applied.contains(&m.id) {
                self.files.insert(file);
            } else {
                self.files.remove(&file);
            }
        }
        self.basis = "live";
        self.revision = None;
        // The live bookkeeping answers what git could not.
        self.notice = None;
        self.reason = None;
    }

    /// The summary's account of it.
    pub fn summary(&self) -> History {
        History {
            basis: self.basis.to_string(),
            revision: self.revision.clone(),
            shipped: self.files.len(),
        }
    }
}

/// A path relative to the root as `a/b/c` (`.` components dropped), the form git prints.
fn normal(path: &Path) -> String {
    let mut out = String::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(&part.to_string_lossy());
            }
            Component::ParentDir => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str("..");
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// Which migrations of `sets` shipped, by `choice` and this process's environment.
pub fn shipped(
    root: &Path,
    sets: &[MigrationSet],
    choice: &Choice,
) -> Result<Shipped, HistoryError> {
    shipped_with(root, sets, choice, &|name| {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    })
}

/// [`shipped`] with the environment read through `var`.
pub fn shipped_with(
    root: &Path,
    sets: &[MigrationSet],
    choice: &Choice,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Shipped, HistoryError> {
    let migration_files: BTreeSet<String> = sets
        .iter()
        .flat_map(|s| s.migrations.iter().map(|m| normal(&m.file)))
        .collect();
    // Git reads only the folders that hold migrations (a large repository's other files cost time).
    let folders: BTreeSet<String> = migration_files
        .iter()
        .map(|f| f.rsplit_once('/').map_or("", |(dir, _)| dir).to_string())
        .collect();
    let scope = if folders.contains("") {
        Vec::new()
    } else {
        folders.into_iter().collect()
    };
    let git = Git { root, scope };
    match choice {
        Choice::All => Ok(Shipped::nothing("all-history")),
        Choice::Since(reference) => {
            if reference.is_empty() || reference.starts_with('-') {
                return Err(HistoryError::BadRef(reference.clone()));
            }
            let commit = git.commit(reference).map_err(|message| HistoryError::Git {
                reference: reference.clone(),
                message: format!(
                    "git does not know this revision here ({message}); in a shallow CI checkout, fetch it first (e.g. actions/checkout with `fetch-depth: 0`)"
                ),
            })?;
            let files = git.tree(&commit).map_err(|message| HistoryError::Git {
                reference: reference.clone(),
                message,
            })?;
            Ok(Shipped {
                files: files.intersection(&migration_files).cloned().collect(),
                basis: "since",
                revision: Some(reference.clone()),
                ..Shipped::default()
            })
        }
        Choice::Context => match pull_request_base(var) {
            Some(base) => Ok(pull_request(&git, &base, &migration_files)),
            None => Ok(commits(&git, sets)),
        },
    }
}

/// The base of the pull request this GitHub Actions run is for: the base commit from the event
/// payload, else the base branch; `None` when the run is not for a pull request.
fn pull_request_base(var: &dyn Fn(&str) -> Option<String>) -> Option<Base> {
    let event = var("GITHUB_EVENT_NAME")?;
    if !event.starts_with("pull_request") {
        return None;
    }
    let sha = var("GITHUB_EVENT_PATH")
        .and_then(|path| std::fs::read(path).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|payload| {
            payload
                .pointer("/pull_request/base/sha")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        })
        .filter(|sha| sha.len() >= 7 && sha.bytes().all(|b| b.is_ascii_hexdigit()));
    let branch = var("GITHUB_BASE_REF").filter(|r| !r.starts_with('-'));
    Some(Base { sha, branch })
}

struct Base {
    sha: Option<String>,
    branch: Option<String>,
}

/// On a pull request: the migrations present on its base commit shipped.
fn pull_request(git: &Git, base: &Base, migration_files: &BTreeSet<String>) -> Shipped {
    let mut candidates = Vec::new();
    if let Some(sha) = &base.sha {
        candidates.push(sha.clone());
    }
    if let Some(branch) = &base.branch {
        candidates.push(format!("refs/remotes/origin/{branch}"));
        candidates.push(branch.clone());
    }
    let found = candidates
        .iter()
        .find_map(|c| git.commit(c).ok().map(|commit| (c, commit)));
    let listed = found.map(|(name, commit)| (name, git.tree(&commit)));
    match listed {
        Some((name, Ok(files))) => Shipped {
            files: files.intersection(migration_files).cloned().collect(),
            basis: "pull-request",
            revision: Some(base.sha.clone().unwrap_or_else(|| name.clone())),
            ..Shipped::default()
        },
        failed => {
            let what = match (&base.sha, &base.branch) {
                (Some(sha), _) => format!("the pull request's base commit {sha}"),
                (None, Some(branch)) => format!("the pull request's base branch `{branch}`"),
                (None, None) => "the pull request's base (neither `pull_request.base.sha` in the event payload nor GITHUB_BASE_REF)".to_string(),
            };
            let why = match failed {
                Some((_, Err(message))) => message,
                _ => git
                    .unavailable()
                    .unwrap_or_else(|| "it is not in this checkout (a shallow clone?)".to_string()),
            };
            let mut shipped = Shipped::nothing("none");
            shipped.reason = Some(format!("{what}: {why}"));
            shipped.notice = Some(
                registry::finding(
                    "history-unavailable",
                    format!(
                        "could not read {what}, so which migrations already shipped is unknown: every migration was judged, and findings in migrations the base branch already has are reported too ({why})"
                    ),
                )
                .help("fetch the base commit before the check (actions/checkout with `fetch-depth: 0`, or `git fetch --depth=1 origin <base sha>`; the pgrehearse Action fetches it), or pass `--since REF`"),
            );
            shipped
        }
    }
}

/// Locally and on a push: per set, what was committed before its newest migration appeared shipped.
fn commits(git: &Git, sets: &[MigrationSet]) -> Shipped {
    if let Some(why) = git.unavailable() {
        let mut shipped = Shipped::nothing("none");
        shipped.reason = Some(why);
        return shipped;
    }
    let head = match git.commit("HEAD").and_then(|head| git.tree(&head)) {
        Ok(files) => files,
        Err(_) => {
            let mut shipped = Shipped::nothing("none");
            shipped.reason = Some("the repository has no commit yet".to_string());
            return shipped;
        }
    };
    let dirty = git.dirty().unwrap_or_default();
    let mut trees: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut shipped = Shipped::nothing("commits");
    for set in sets {
        let Some(newest) = set.migrations.last().map(|m| normal(&m.file)) else {
            continue;
        };
        // What existed before the newest migration appeared.
        let before: BTreeSet<String> = if !head.contains(&newest) {
            head.clone()
        } else {
            match git.added_by(&newest) {
                Some(Added::After(parent)) => trees
                    .entry(parent.clone())
                    .or_insert_with(|| git.tree(&parent).unwrap_or_default())
                    .clone(),
                Some(Added::First) => BTreeSet::new(),
                // The history is cut before that commit (a shallow clone), or git cannot say: the
                // newest migration alone is new.
                Some(Added::CutOff) | None => {
                    let mut all = head.clone();
                    all.remove(&newest);
                    all
                }
            }
        };
        for m in &set.migrations {
            let file = normal(&m.file);
            if file != newest && before.contains(&file) && !dirty.contains(&file) {
                shipped.files.insert(file);
            }
        }
    }
    shipped
}

/// Removes the findings of historical rules located in shipped migrations; counts them in
/// `report.historical` and records what counted as shipped.
pub fn hold_back(report: &mut Report, shipped: &Shipped) {
    let before = report.findings.len();
    // The answers for the last rule and file asked about: findings come sorted by file, and a long
    // history's tens of thousands share a few rules.
    let mut rules: Vec<(String, bool)> = Vec::new();
    let mut last_file: Option<(std::path::PathBuf, bool)> = None;
    report.findings.retain(|f| {
        let Some(location) = &f.location else {
            return true;
        };
        let historical = match rules.iter().find(|(rule, _)| *rule == f.rule) {
            Some((_, historical)) => *historical,
            None => {
                let historical = registry::historical(&f.rule);
                rules.push((f.rule.clone(), historical));
                historical
            }
        };
        if !historical {
            return true;
        }
        let in_shipped = match &last_file {
            Some((file, answer)) if file.as_os_str() == location.file.as_os_str() => *answer,
            _ => {
                let answer = shipped.contains(&location.file);
                last_file = Some((location.file.clone(), answer));
                answer
            }
        };
        !in_shipped
    });
    report.historical += before - report.findings.len();
    report.history = Some(shipped.summary());
}

/// The commit that added a file, relative to what came before it.
enum Added {
    /// Added by a commit whose (first) parent is this commit.
    After(String),
    /// Added by a root commit: nothing came before.
    First,
    /// Added by a commit whose parent is not in this clone (shallow).
    CutOff,
}

/// Read-only git commands in the root's repository. Paths are relative to the root.
struct Git<'a> {
    root: &'a Path,
    /// Folders (relative to the root) that trees and changes are read in; empty: all of the root.
    scope: Vec<String>,
}

impl Git<'_> {
    fn run(&self, args: &[&str]) -> Result<Vec<u8>, String> {
        let out = Command::new("git")
            .arg("--literal-pathspecs")
            .arg("-C")
            .arg(self.root)
            .args(args)
            // Never write the index while reading (a concurrent git command keeps its lock).
            .env("GIT_OPTIONAL_LOCKS", "0")
            .output()
            .map_err(|e| format!("could not run git ({e})"))?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let first = stderr.lines().next().unwrap_or("").trim();
            Err(first.strip_prefix("fatal: ").unwrap_or(first).to_string())
        }
    }

    /// Why the root is not in a git working tree, if it is not.
    fn unavailable(&self) -> Option<String> {
        match self.run(&["rev-parse", "--is-inside-work-tree"]) {
            Ok(out) if String::from_utf8_lossy(&out).trim() == "true" => None,
            Ok(_) => Some("not inside a git working tree".to_string()),
            Err(e) => Some(e),
        }
    }

    /// The commit `reference` names.
    fn commit(&self, reference: &str) -> Result<String, String> {
        let out = self.run(&[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{reference}^{{commit}}"),
        ])?;
        let commit = String::from_utf8_lossy(&out).trim().to_string();
        if commit.is_empty() {
            Err("not a commit".to_string())
        } else {
            Ok(commit)
        }
    }

    /// `args`, then `--` and the folders in scope.
    fn scoped<'s>(&'s self, args: &[&'s str]) -> Vec<&'s str> {
        let mut all = args.to_vec();
        all.push("--");
        all.extend(self.scope.iter().map(String::as_str));
        all
    }

    /// The files under the root (in scope) at `commit`.
    fn tree(&self, commit: &str) -> Result<BTreeSet<String>, String> {
        let out = self.run(&self.scoped(&["ls-tree", "-r", "--name-only", "-z", commit]))?;
        Ok(paths(&out))
    }

    /// Files under the root that differ from `HEAD` (staged or not) or are untracked.
    fn dirty(&self) -> Result<BTreeSet<String>, String> {
        let mut files = paths(&self.run(&self.scoped(&[
            "diff",
            "--name-only",
            "--no-renames",
            "--no-ext-diff",
            "--relative",
            "-z",
            "HEAD",
        ]))?);
        files.extend(paths(&self.run(&self.scoped(&[
            "ls-files",
            "--others",
            "--exclude-standard",
            "-z",
        ]))?));
        Ok(files)
    }

    /// The commit of `HEAD`'s history that last added `file`, relative to its parent.
    fn added_by(&self, file: &str) -> Option<Added> {
        let out = self
            .run(&[
                "log",
                "-1",
                "--format=%H",
                "--diff-filter=A",
                "--no-renames",
                "HEAD",
                "--",
                file,
            ])
            .ok()?;
        let commit = String::from_utf8_lossy(&out).trim().to_string();
        if commit.is_empty() {
            return None;
        }
        if let Ok(parent) = self.commit(&format!("{commit}^1")) {
            return Some(Added::After(parent));
        }
        // No parent to read: a root commit has none, a shallow clone's boundary names one it lacks.
        let raw = self.run(&["cat-file", "commit", &commit]).ok()?;
        let text = String::from_utf8_lossy(&raw);
        let has_parent = text
            .lines()
            .take_while(|l| !l.is_empty())
            .any(|l| l.starts_with("parent "));
        Some(if has_parent {
            Added::CutOff
        } else {
            Added::First
        })
    }
}

fn paths(nul_separated: &[u8]) -> BTreeSet<String> {
    nul_separated
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{Migration, Runner};
    use std::path::PathBuf;
    use std::sync::Arc;

    fn git_ok(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .env_remove("GIT_DIR")
            .env_remove("GIT_INDEX_FILE")
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn set(root: &Path, dir: &str) -> MigrationSet {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .flatten()
            .map(|e| PathBuf::from(dir).join(e.file_name()))
            .collect();
        files.sort();
        MigrationSet {
            dir: PathBuf::from(dir),
            runner: Runner::Psql,
            migrations: files
                .into_iter()
                .map(|f| {
                    let id = f.file_stem().unwrap().to_string_lossy().into_owned();
                    Migration::sql(id, f, Arc::from("SELECT 1;"), Runner::Psql)
                })
                .collect(),
            preludes: Vec::new(),
            refused: None,
            schemas: Vec::new(),
            journal_when: BTreeMap::new(),
            generated_for: None,
        }
    }

    fn write(root: &Path, rel: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "SELECT 1;\n").unwrap();
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn shipped_files(s: &Shipped) -> Vec<&str> {
        s.files.iter().map(String::as_str).collect()
    }

    #[test]
    fn commits_before_the_newest_migration_shipped() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        git_ok(root, &["init", "-q", "-b", "main"]);
        write(root, "db/001_a.sql");
        write(root, "db/002_b.sql");
        git_ok(root, &["add", "."]);
        git_ok(root, &["commit", "-q", "-m", "first"]);
        write(root, "db/003_c.sql");
        write(root, "db/004_d.sql");
        git_ok(root, &["add", "."]);
        git_ok(root, &["commit", "-q", "-m", "two at once"]);
        write(root, "README.md");
        git_ok(root, &["add", "."]);
        git_ok(root, &["commit", "-q", "-m", "later"]);
        let sets = [set(root, "db")];
        let s = shipped_with(root, &sets, &Choice::Context, &no_env).unwrap();
        // 003 came with the newest migration: new too.
        assert_eq!(shipped_files(&s), ["db/001_a.sql", "db/002_b.sql"]);
        assert_eq!(s.summary().basis, "commits");

        // An edit to a shipped migration makes it new again; an untracked newest migration makes
        // everything committed shipped.
        std::fs::write(root.join("db/001_a.sql"), "SELECT 2;\n").unwrap();
        write(root, "db/005_e.sql");
        let sets = [set(root, "db")];
        let s = shipped_with(root, &sets, &Choice::Context, &no_env).unwrap();
        assert_eq!(
            shipped_files(&s),
            ["db/002_b.sql", "db/003_c.sql", "db/004_d.sql"]
        );

        // --since and --all-history.
        let first = git_ok(root, &["rev-list", "--max-parents=0", "HEAD"]);
        let s = shipped_with(root, &sets, &Choice::Since(first.clone()), &no_env).unwrap();
        assert_eq!(shipped_files(&s), ["db/001_a.sql", "db/002_b.sql"]);
        assert_eq!(s.summary().revision.as_deref(), Some(first.as_str()));
        let s = shipped_with(root, &sets, &Choice::All, &no_env).unwrap();
        assert!(s.files.is_empty());
        let e = shipped_with(root, &sets, &Choice::Since("nope".into()), &no_env).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--since `nope`: git does not know"),
            "{e}"
        );
        let e = shipped_with(root, &sets, &Choice::Since("--x".into()), &no_env).unwrap_err();
        assert!(matches!(e, HistoryError::BadRef(_)), "{e}");
    }

    #[test]
    fn a_root_commit_and_a_directory_outside_git_ship_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        write(&root, "db/001_a.sql");
        write(&root, "db/002_b.sql");
        let sets = [set(&root, "db")];
        let s = shipped_with(&root, &sets, &Choice::Context, &no_env).unwrap();
        assert!(s.files.is_empty());
        assert_eq!(s.summary().basis, "none");
        assert!(s.notice.is_none());
        git_ok(&root, &["init", "-q"]);
        // No commit yet.
        let s = shipped_with(&root, &sets, &Choice::Context, &no_env).unwrap();
        assert!(s.files.is_empty());
        git_ok(&root, &["add", "."]);
        git_ok(&root, &["commit", "-q", "-m", "all at once"]);
        let s = shipped_with(&root, &sets, &Choice::Context, &no_env).unwrap();
        assert!(s.files.is_empty(), "{:?}", s.files);
        assert_eq!(s.summary().basis, "commits");
    }

    #[test]
    fn a_shallow_clone_ships_all_but_the_newest_migration() {
        let dir = tempfile::tempdir().unwrap();
        let origin = dir.path().join("origin");
        write(&origin, "db/001_a.sql");
        git_ok(&origin, &["init", "-q", "-b", "main"]);
        git_ok(&origin, &["add", "."]);
        git_ok(&origin, &["commit", "-q", "-m", "one"]);
        write(&origin, "db/002_b.sql");
        write(&origin, "db/003_c.sql");
        git_ok(&origin, &["add", "."]);
        git_ok(&origin, &["commit", "-q", "-m", "two"]);
        let clone = dir.path().join("clone");
        git_ok(
            dir.path(),
            &[
                "clone",
                "-q",
                "--depth=1",
                &format!("file://{}", origin.display()),
                "clone",
            ],
        );
        let sets = [set(&clone, "db")];
        let s = shipped_with(&clone, &sets, &Choice::Context, &no_env).unwrap();
        assert_eq!(shipped_files(&s), ["db/001_a.sql", "db/002_b.sql"]);
    }

    #[test]
    fn a_pull_request_ships_what_its_base_has_and_says_when_the_base_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        write(&root, "svc/db/001_a.sql");
        git_ok(&root, &["init", "-q", "-b", "main"]);
        git_ok(&root, &["add", "."]);
        git_ok(&root, &["commit", "-q", "-m", "base"]);
        let base = git_ok(&root, &["rev-parse", "HEAD"]);
        write(&root, "svc/db/002_b.sql");
        write(&root, "svc/db/003_c.sql");
        git_ok(&root, &["add", "."]);
        git_ok(&root, &["commit", "-q", "-m", "pr"]);
        let event = dir.path().join("event.json");
        let payload =
            |sha: &str| serde_json::json!({"pull_request": {"base": {"sha": sha}}}).to_string();
        std::fs::write(&event, payload(&base)).unwrap();
        let event_path = event.display().to_string();
        let env = |name: &str| match name {
            "GITHUB_EVENT_NAME" => Some("pull_request".to_string()),
            "GITHUB_EVENT_PATH" => Some(event_path.clone()),
            _ => None,
        };
        // The root is a sub-folder of the repository.
        let svc = root.join("svc");
        let sets = [set(&svc, "db")];
        let s = shipped_with(&svc, &sets, &Choice::Context, &env).unwrap();
        assert_eq!(shipped_files(&s), ["db/001_a.sql"]);
        assert_eq!(s.summary().basis, "pull-request");
        assert!(s.notice.is_none());

        // A base commit the checkout does not have: a notice, and nothing shipped.
        let missing = "0123456789abcdef0123456789abcdef01234567";
        std::fs::write(&event, payload(missing)).unwrap();
        let s = shipped_with(&svc, &sets, &Choice::Context, &env).unwrap();
        assert!(s.files.is_empty());
        let notice = s.notice.expect("a notice");
        assert_eq!(notice.rule, "history-unavailable");
        assert!(notice.message.contains(missing), "{}", notice.message);

        // Not a pull request: the commits rule (002 and 003 came together).
        let s = shipped_with(&svc, &sets, &Choice::Context, &no_env).unwrap();
        assert_eq!(shipped_files(&s), ["db/001_a.sql"]);
        assert_eq!(s.summary().basis, "commits");
    }

    #[test]
    fn held_back_findings_are_historical_ones_in_shipped_files() {
        let mut shipped = Shipped::nothing("commits");
        shipped.files.insert("db/001_a.sql".into());
        let at = |rule: &str, file: &str| registry::finding(rule, "m").at(file, None);
        let mut report = Report {
            findings: vec![
                at("drop-column", "./db/001_a.sql"),
                at("add-required-column", "db/001_a.sql"),
                at("non-atomic-migration", "db/001_a.sql"),
                at("migration-failed", "db/001_a.sql"),
                at("copy-program", "db/001_a.sql"),
                at("mysql-syntax", "db/001_a.sql"),
                at("drop-column", "db/002_b.sql"),
            ],
            ..Report::default()
        };
        hold_back(&mut report, &shipped);
        let kept: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(
            kept,
            [
                "migration-failed",
                "copy-program",
                "mysql-syntax",
                "drop-column"
            ]
        );
        assert_eq!(report.historical, 3);
        assert_eq!(report.history.map(|h| h.shipped), Some(1));
    }
}
