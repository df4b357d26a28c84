//! Paths the repository names (migration files, preludes, schemas, journal tags, baselines, Flyway
//! locations) are resolved, symlinks and `..` included, and refused when they lead outside the
//! repository root: pgrehearse reads nothing a repository does not contain, so a checked-out pull
//! request cannot make it print `/etc/passwd` in a finding's snippet.

use std::io;
use std::path::{Path, PathBuf};

/// `a/./b/../c` as `a/c`, without touching the file system; a `..` past the start is kept (reading
/// it is refused by [`inside`]).
pub fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// A path of the repository that resolves outside its root.
#[derive(Debug, thiserror::Error)]
#[error(
    "{}: resolves to {}, outside the repository root {}; pgrehearse reads only files inside the repository (a symlink or `..` cannot lead out of it)",
    path.display(),
    target.display(),
    root.display()
)]
pub struct OutsideRoot {
    /// The path as the repository names it (relative to the root).
    pub path: PathBuf,
    /// Where it really leads.
    pub target: PathBuf,
    pub root: PathBuf,
}

/// Checks that `rel` (relative to `root`, or absolute) resolves inside `root`. A path that does not
/// exist (yet) is judged by its existing ancestors and its `..` components, so the caller can report
/// it missing as before.
pub fn inside(root: &Path, rel: &Path) -> Result<(), OutsideRoot> {
    let outside = |target: PathBuf, canonical_root: &Path| OutsideRoot {
        path: rel.to_path_buf(),
        target,
        root: canonical_root.to_path_buf(),
    };
    let canonical_root = match root.canonicalize() {
        Ok(r) => r,
        // No root to compare with: the caller reports the unreadable root itself.
        Err(_) => return Ok(()),
    };
    let joined = root.join(rel);
    let target = match resolve(&joined) {
        Ok(t) => t,
        Err(_) => return Ok(()),
    };
    if target.starts_with(&canonical_root) {
        Ok(())
    } else {
        Err(outside(target, &canonical_root))
    }
}

/// [`inside`] for the many files of one root: the root and each folder are resolved once, and a file
/// that is no symlink is where its folder is (a repository of 2,000 migrations is checked with one
/// `lstat` per file instead of resolving every component of every path).
pub struct Confined {
    root: PathBuf,
    canonical_root: Option<PathBuf>,
    folders: std::sync::Mutex<std::collections::HashMap<PathBuf, Option<PathBuf>>>,
}

impl Confined {
    pub fn new(root: &Path) -> Confined {
        Confined {
            root: root.to_path_buf(),
            canonical_root: root.canonicalize().ok(),
            folders: Default::default(),
        }
    }

    /// What [`inside`] says of `rel`.
    pub fn check(&self, rel: &Path) -> Result<(), OutsideRoot> {
        let Some(canonical_root) = &self.canonical_root else {
            // No root to compare with: the caller reports the unreadable root itself.
            return Ok(());
        };
        let joined = self.root.join(rel);
        let direct = match (joined.parent(), joined.file_name()) {
            (Some(folder), Some(name)) if name != ".." && name != "." => {
                let plain =
                    std::fs::symlink_metadata(&joined).is_ok_and(|m| !m.file_type().is_symlink());
                plain
                    .then(|| self.folder(folder).map(|f| f.join(name)))
                    .flatten()
            }
            _ => None,
        };
        let Some(target) = direct else {
            return inside(&self.root, rel);
        };
        if target.starts_with(canonical_root) {
            Ok(())
        } else {
            Err(OutsideRoot {
                path: rel.to_path_buf(),
                target,
                root: canonical_root.clone(),
            })
        }
    }

    /// The canonical form of an existing folder, resolved once.
    fn folder(&self, folder: &Path) -> Option<PathBuf> {
        let mut folders = self.folders.lock().ok()?;
        folders
            .entry(folder.to_path_buf())
            .or_insert_with(|| folder.canonicalize().ok())
            .clone()
    }
}

/// The canonical form of `path`: its longest existing ancestor canonicalized, then the remaining
/// components applied lexically (`..` pops).
fn resolve(path: &Path) -> io::Result<PathBuf> {
    let mut base = path.to_path_buf();
    let mut tail: Vec<std::ffi::OsString> = Vec::new();
    loop {
        if let Ok(mut out) = base.canonicalize() {
            for part in tail.iter().rev() {
                if part == ".." {
                    out.pop();
                } else if part != "." {
                    out.push(part);
                }
            }
            return Ok(out);
        }
        let last = base
            .components()
            .next_back()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        tail.push(last.as_os_str().to_os_string());
        if !base.pop() {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        }
    }
}

/// The 1-based line and column (in characters) of the first byte that is not UTF-8.
pub fn utf8_error_position(e: &std::string::FromUtf8Error) -> (usize, usize) {
    let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
    // Everything before the error is valid UTF-8.
    let text = std::str::from_utf8(valid).unwrap_or_default();
    let line_start = text.rfind('\n').map_or(0, |n| n + 1);
    (
        text.matches('\n').count() + 1,
        text[line_start..].chars().count() + 1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_errors_have_a_line_and_column() {
        let e = String::from_utf8(b"SELECT 1;\nSELECT '\xc3\xa9', \xff;\n".to_vec()).unwrap_err();
        assert_eq!(utf8_error_position(&e), (2, 13));
        let e = String::from_utf8(b"\xff".to_vec()).unwrap_err();
        assert_eq!(utf8_error_position(&e), (1, 1));
    }

    #[test]
    fn symlinks_and_dot_dots_out_of_the_root_are_refused() {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("repo");
        std::fs::create_dir_all(root.join("db")).unwrap();
        std::fs::write(outer.path().join("secret"), "x").unwrap();
        std::fs::write(root.join("db/ok.sql"), "x").unwrap();
        std::os::unix::fs::symlink(outer.path().join("secret"), root.join("db/link.sql")).unwrap();
        std::os::unix::fs::symlink("ok.sql", root.join("db/inner.sql")).unwrap();

        assert!(inside(&root, Path::new("db/ok.sql")).is_ok());
        assert!(inside(&root, Path::new("db/inner.sql")).is_ok());
        assert!(inside(&root, Path::new("db/missing.sql")).is_ok());
        let err = inside(&root, Path::new("db/link.sql")).unwrap_err();
        assert_eq!(
            err.target,
            outer.path().canonicalize().unwrap().join("secret")
        );
        assert!(
            err.to_string().starts_with("db/link.sql: resolves to "),
            "{err}"
        );
        assert!(inside(&root, Path::new("../secret")).is_err());
        assert!(inside(&root, Path::new("db/../../secret")).is_err());
        assert!(inside(&root, Path::new("db/../../nothing/here.sql")).is_err());
        assert!(inside(&root, Path::new("/etc/hostname")).is_err());
        // `Confined` says what `inside` says, a folder that is a symlink out of the root included.
        std::os::unix::fs::symlink(outer.path(), root.join("out")).unwrap();
        let confined = Confined::new(&root);
        for rel in [
            "db/ok.sql",
            "db/inner.sql",
            "db/missing.sql",
            "db/link.sql",
            "../secret",
            "db/../../secret",
            "db/../../nothing/here.sql",
            "/etc/hostname",
            "out/secret",
            "out/repo/db/ok.sql",
            "db/../db/ok.sql",
            "db/..",
        ] {
            let (rel, twice) = (Path::new(rel), 0..2);
            for _ in twice {
                assert_eq!(
                    confined.check(rel).map_err(|e| e.target),
                    inside(&root, rel).map_err(|e| e.target),
                    "{}",
                    rel.display()
                );
            }
        }
        assert!(confined.check(Path::new("out/secret")).is_err());
    }
}
