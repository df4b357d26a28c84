//! `--changed-since REF`: the files that changed since a git revision, and the filter that keeps only
//! the findings in them.
//!
//! "Changed since REF" is what differs between the merge base of REF and `HEAD` and the working tree
//! (`git diff --name-only --relative $(git merge-base REF HEAD)`), plus untracked files that are not
//! ignored (`git ls-files --others --exclude-standard`). In CI the working tree is `HEAD`, so this is
//! the pull request's diff (`REF...HEAD`); locally it also covers staged and unstaged edits and new
//! files. Without the history for a merge base (a shallow clone), REF itself is compared. Paths are
//! relative to the checked root. Findings without a file (about the run as a whole) are kept.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::display_path;
use crate::model::Report;

/// `--changed-since` could not be worked out (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum ChangedError {
    #[error("--changed-since `{0}`: not a git revision (it starts with `-`)")]
    BadRef(String),
    #[error("--changed-since: could not run git in {}: {source}; install git or drop --changed-since", root.display())]
    Spawn {
        root: PathBuf,
        source: std::io::Error,
    },
    #[error("--changed-since `{reference}`: {message}")]
    Git { reference: String, message: String },
}

fn git(root: &Path, args: &[&str], reference: &str) -> Result<Vec<u8>, ChangedError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .map_err(|source| ChangedError::Spawn {
            root: root.to_path_buf(),
            source,
        })?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(ChangedError::Git {
            reference: reference.to_string(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

fn paths(nul_separated: &[u8]) -> impl Iterator<Item = String> + '_ {
    nul_separated
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
}

/// Files (relative to `root`, forward slashes) changed since `reference`.
pub fn changed_files(root: &Path, reference: &str) -> Result<BTreeSet<String>, ChangedError> {
    if reference.starts_with('-') || reference.is_empty() {
        return Err(ChangedError::BadRef(reference.to_string()));
    }
    let resolved = git(
        root,
        &["rev-parse", "--verify", "--quiet", &format!("{reference}^{{commit}}")],
        reference,
    )
    .map_err(|_| ChangedError::Git {
        reference: reference.to_string(),
        message: "git does not know this revision here (in a shallow CI checkout, fetch it first, e.g. actions/checkout with `fetch-depth: 0`)".into(),
    })?;
    let commit = String::from_utf8_lossy(&resolved).trim().to_string();
    let base = git(root, &["merge-base", &commit, "HEAD"], reference)
        .map(|out| String::from_utf8_lossy(&out).trim().to_string())
        .unwrap_or(commit);
    let mut files: BTreeSet<String> = BTreeSet::new();
    let diff = git(
        root,
        &[
            "diff",
            "--name-only",
            "--relative",
            "--no-renames",
            "-z",
            &base,
            "--",
        ],
        reference,
    )?;
    files.extend(paths(&diff));
    let untracked = git(
        root,
        &["ls-files", "--others", "--exclude-standard", "-z"],
        reference,
    )?;
    files.extend(paths(&untracked));
    Ok(files)
}

/// Keeps the findings whose file is in `changed` (and those without a file), plus drift findings
/// whose other side changed: the declared schema file or the migration that built the object;
/// returns how many were dropped.
pub fn retain_changed(report: &mut Report, changed: &BTreeSet<String>) -> usize {
    let before = report.findings.len();
    report.findings.retain(|f| {
        let other_side_changed = ["declared", "migration_file"].iter().any(|key| {
            f.evidence
                .extra
                .get(*key)
                .is_some_and(|path| changed.contains(&display_path(Path::new(path))))
        });
        other_side_changed
            || match &f.location {
                Some(location) => changed.contains(&display_path(&location.file)),
                None => true,
            }
    });
    before - report.findings.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::fixture;

    fn git_ok(dir: &Path, args: &[&str]) {
        let st = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .expect("git runs");
        assert!(
            st.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&st.stderr)
        );
    }

    #[test]
    fn changed_since_a_branch_point_with_worktree_and_untracked_files() {
        let repo = tempfile::tempdir().unwrap();
        let root = repo.path();
        std::fs::create_dir_all(root.join("svc/db")).unwrap();
        std::fs::write(root.join("svc/db/001_a.sql"), "SELECT 1;\n").unwrap();
        std::fs::write(root.join("svc/db/002_b.sql"), "SELECT 2;\n").unwrap();
        std::fs::write(root.join("svc/.gitignore"), "ignored.sql\n").unwrap();
        git_ok(root, &["init", "-q", "-b", "main"]);
        git_ok(root, &["add", "."]);
        git_ok(root, &["commit", "-q", "-m", "base"]);
        git_ok(root, &["checkout", "-q", "-b", "feature"]);
        std::fs::write(root.join("svc/db/003_c.sql"), "SELECT 3;\n").unwrap();
        git_ok(root, &["add", "."]);
        git_ok(root, &["commit", "-q", "-m", "add c"]);
        // main moves on after the branch point: its change is not the feature's.
        git_ok(root, &["checkout", "-q", "main"]);
        std::fs::write(root.join("svc/db/001_a.sql"), "SELECT 11;\n").unwrap();
        git_ok(root, &["commit", "-q", "-am", "main edit"]);
        git_ok(root, &["checkout", "-q", "feature"]);
        // An unstaged edit, an untracked file and an ignored one.
        std::fs::write(root.join("svc/db/002_b.sql"), "SELECT 22;\n").unwrap();
        std::fs::write(root.join("svc/db/004 d.sql"), "SELECT 4;\n").unwrap();
        std::fs::write(root.join("svc/ignored.sql"), "x").unwrap();

        let changed = changed_files(&root.join("svc"), "main").unwrap();
        assert_eq!(
            changed.into_iter().collect::<Vec<_>>(),
            ["db/002_b.sql", "db/003_c.sql", "db/004 d.sql"]
        );
    }

    #[test]
    fn unknown_and_option_like_refs_are_errors() {
        let repo = tempfile::tempdir().unwrap();
        git_ok(repo.path(), &["init", "-q"]);
        let err = changed_files(repo.path(), "no-such-branch").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("--changed-since `no-such-branch`: git does not know this revision"),
            "{err}"
        );
        let err = changed_files(repo.path(), "--output=/tmp/x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "--changed-since `--output=/tmp/x`: not a git revision (it starts with `-`)"
        );
    }

    #[test]
    fn retain_keeps_drift_whose_declared_or_migration_side_changed() {
        use crate::model::{Category, Finding, Severity};
        let drift = |file: &str, key: &str, other: &str| {
            let mut f = Finding::new("schema-drift", Category::Drift, Severity::Error, "drift")
                .at(file, None);
            f.evidence.extra.insert(key.to_string(), other.to_string());
            f
        };
        let mut report = Report {
            findings: vec![
                // Located in the declared file; the migration that built the object changed.
                drift(
                    "db/schema.sql",
                    "migration_file",
                    "db/migrations/2_new.up.sql",
                ),
                // Located in an old migration; the declared file changed.
                drift("db/migrations/1_old.up.sql", "declared", "db/schema.sql"),
                // Neither side changed.
                drift("db/migrations/1_old.up.sql", "declared", "other.sql"),
            ],
            ..Report::default()
        };
        let changed: BTreeSet<String> = [
            "db/migrations/2_new.up.sql".to_string(),
            "db/schema.sql".to_string(),
        ]
        .into();
        assert_eq!(retain_changed(&mut report, &changed), 1);
        assert_eq!(report.findings.len(), 2);
    }

    #[test]
    fn retain_keeps_changed_files_and_global_findings() {
        let (mut report, _) = fixture();
        let changed: BTreeSet<String> = ["db/migrations/0001_init.sql".to_string()].into();
        let dropped = retain_changed(&mut report, &changed);
        let kept: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(kept, ["engine-version", "migration-failed"]);
        assert_eq!(dropped, 6);
    }
}
