//! `pgrehearse hook install`: writes the plain git pre-commit hook (`hooks/pre-commit` in this
//! repository, embedded in the binary) into the repository's hooks folder, for people who do not use
//! the pre-commit framework. `pgrehearse hook run` (what both hooks run) replays when an engine is
//! available ([`engine_available`]) and falls back to the static checks otherwise. The folder is asked of git (`git rev-parse --git-path hooks`), so
//! worktrees and `core.hooksPath` are honoured. An existing hook that pgrehearse did not write is
//! kept unless `force` is set.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The hook script.
pub const PRE_COMMIT: &str = include_str!("../hooks/pre-commit");
/// The line that marks a hook as pgrehearse's own (safe to overwrite).
const MARKER: &str = "# pgrehearse-hook-version:";

/// Why the hook could not be installed (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{}: not a git repository ({message})", path.display())]
    NotARepository { path: PathBuf, message: String },
    #[error("could not run git: {0}; install git")]
    Git(std::io::Error),
    #[error("{}: a pre-commit hook that pgrehearse did not write is already there; merge it by hand, or pass --force to replace it", path.display())]
    Exists { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Which engine a hook's check replays on, as `(--engine value, description for the hook's output)`:
/// a database URL when one is set, else local PostgreSQL server binaries (the replay cache keeps the
/// prefixes there, so a commit replays only what changed), else a Docker daemon that answers. `Err`
/// says why there is none (the hook then runs `lint`).
pub async fn engine_available() -> Result<(&'static str, String), String> {
    if std::env::var_os("PGREHEARSE_DATABASE_URL").is_some_and(|u| !u.is_empty()) {
        return Ok(("url", "url engine, PGREHEARSE_DATABASE_URL".into()));
    }
    let local = match crate::engine::local::find_bindir(None) {
        Ok(bin) => {
            return Ok((
                "local",
                format!(
                    "local engine, PostgreSQL {} in {}; the replay cache replays only what changed since the last check",
                    bin.major,
                    bin.path.display()
                ),
            ));
        }
        Err(e) => e,
    };
    match crate::engine::docker::daemon().await {
        Ok(_) => Ok(("docker", "docker engine".into())),
        Err(docker) => Err(format!("local: {local}; docker: {docker}")),
    }
}

/// Installs the hook into the repository at `repo`; returns the hook's path.
pub fn install(repo: &Path, force: bool) -> Result<PathBuf, HookError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["rev-parse", "--path-format=absolute", "--git-path", "hooks"])
        .output()
        .map_err(HookError::Git)?;
    if !out.status.success() {
        return Err(HookError::NotARepository {
            path: repo.to_path_buf(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let path = dir.join("pre-commit");
    if let Ok(existing) = std::fs::read_to_string(&path)
        && !existing.contains(MARKER)
        && !force
    {
        return Err(HookError::Exists { path });
    }
    let write_err = |source| HookError::Write {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(write_err)?;
    std::fs::write(&path, PRE_COMMIT).map_err(write_err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .map_err(write_err)?;
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The files that trigger the git hook and the pre-commit hooks: one pattern, including Drizzle
    /// schema files, checked with grep -E as the hook runs it.
    #[test]
    fn hook_patterns_include_drizzle_schema_files() {
        let hook = PRE_COMMIT
            .lines()
            .find_map(|l| l.trim().strip_prefix("| grep -Eq '"))
            .and_then(|l| l.strip_suffix("'; then"))
            .expect("the hook's file pattern");
        let yaml = include_str!("../.pre-commit-hooks.yaml");
        let files: Vec<&str> = yaml
            .lines()
            .filter_map(|l| l.trim().strip_prefix("files: '"))
            .filter_map(|l| l.strip_suffix('\''))
            .collect();
        assert_eq!(
            files,
            vec![hook, hook],
            "both pre-commit hooks use the git hook's pattern"
        );
        let matches = |path: &str| {
            let mut child = Command::new("grep")
                .args(["-Eq", hook])
                .stdin(std::process::Stdio::piped())
                .spawn()
                .expect("grep runs");
            use std::io::Write as _;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(format!("{path}\n").as_bytes())
                .expect("writes");
            child.wait().expect("waits").success()
        };
        for path in [
            "src/db/schema.ts",
            "schema.ts",
            "drizzle.config.ts",
            "drizzle.config.json",
            "src/schema/users.ts",
            "drizzle/0001_a.sql",
            "drizzle/meta/_journal.json",
            "prisma/schema.prisma",
            ".pgrehearse.yaml",
        ] {
            assert!(matches(path), "{path} does not trigger the hook");
        }
        for path in ["src/app.ts", "src/myschema.ts", "README.md"] {
            assert!(!matches(path), "{path} triggers the hook");
        }
    }

    #[test]
    fn installs_refuses_foreign_hooks_and_forces() {
        let repo = tempfile::tempdir().unwrap();
        let st = Command::new("git")
            .args(["init", "-q"])
            .arg(repo.path())
            .status()
            .unwrap();
        assert!(st.success());
        let path = install(repo.path(), false).unwrap();
        assert_eq!(
            path,
            repo.path()
                .canonicalize()
                .unwrap()
                .join(".git/hooks/pre-commit")
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), PRE_COMMIT);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o755
            );
        }
        // Re-installing over our own hook is fine.
        install(repo.path(), false).unwrap();
        std::fs::write(&path, "#!/bin/sh\nmake lint\n").unwrap();
        let err = install(repo.path(), false).unwrap_err();
        assert!(matches!(err, HookError::Exists { .. }), "{err}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "#!/bin/sh\nmake lint\n"
        );
        install(repo.path(), true).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), PRE_COMMIT);
    }

    #[test]
    fn outside_a_repository_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = install(dir.path(), false).unwrap_err();
        assert!(err.to_string().contains("not a git repository"), "{err}");
    }
}
