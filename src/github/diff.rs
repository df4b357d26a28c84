//! The lines a pull request changed: parses the unified-diff `patch` of each PR file (from
//! `GET /pulls/{n}/files`) into the set of line numbers, on the new side, of the lines it added or
//! modified. Review comments are only posted there (`side: RIGHT`).

use std::collections::{BTreeMap, BTreeSet};

use super::api::PullFile;

/// Added lines of every file of a pull request, by path (repository-relative, forward slashes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangedLines {
    files: BTreeMap<String, BTreeSet<u32>>,
}

impl ChangedLines {
    pub fn from_files(files: &[PullFile]) -> ChangedLines {
        let mut out = ChangedLines::default();
        for file in files {
            if let Some(patch) = &file.patch {
                out.files.insert(file.filename.clone(), added_lines(patch));
            }
        }
        out
    }

    /// Whether `line` (1-based, new side) of `path` was added or modified by the pull request.
    pub fn contains(&self, path: &str, line: u32) -> bool {
        self.files
            .get(path)
            .is_some_and(|lines| lines.contains(&line))
    }
}

/// Line numbers (new side) of the `+` lines of a unified diff. Malformed hunk headers end the parse of
/// that hunk; nothing panics.
pub fn added_lines(patch: &str) -> BTreeSet<u32> {
    let mut lines = BTreeSet::new();
    let mut new_line: Option<u32> = None;
    for raw in patch.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(header) = line.strip_prefix("@@ ") {
            new_line = hunk_new_start(header);
            continue;
        }
        let Some(current) = new_line else { continue };
        match line.as_bytes().first() {
            Some(b'+') => {
                lines.insert(current);
                new_line = current.checked_add(1);
            }
            Some(b'-') => {}
            // "\ No newline at end of file"
            Some(b'\\') => {}
            // A context line (a space), or an empty context line some tools trim.
            _ => new_line = current.checked_add(1),
        }
    }
    lines
}

/// `-a,b +c,d @@ …` → `c`.
fn hunk_new_start(header: &str) -> Option<u32> {
    let plus = header.split(' ').find(|part| part.starts_with('+'))?;
    let start = plus[1..].split(',').next()?;
    start.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_lines_of_two_hunks() {
        let patch = "@@ -1,3 +1,4 @@\n CREATE TABLE a (id int);\n-DROP TABLE b;\n+DROP TABLE IF EXISTS b;\n+SELECT 1;\n CREATE TABLE c (id int);\n@@ -10,2 +11,3 @@ CREATE TABLE c\n x\n+y\n z\n\\ No newline at end of file";
        assert_eq!(
            added_lines(patch).into_iter().collect::<Vec<_>>(),
            vec![2, 3, 12]
        );
    }

    #[test]
    fn new_file_and_crlf() {
        let patch = "@@ -0,0 +1,2 @@\r\n+CREATE TABLE a (id int);\r\n+SELECT 1;";
        assert_eq!(
            added_lines(patch).into_iter().collect::<Vec<_>>(),
            vec![1, 2]
        );
    }

    #[test]
    fn garbage_is_empty() {
        assert!(added_lines("+not a hunk\n@@ nonsense @@\n+x").is_empty());
        assert!(added_lines("").is_empty());
    }

    #[test]
    fn changed_lines_by_file() {
        let files = vec![
            PullFile {
                filename: "db/1.sql".into(),
                patch: Some("@@ -0,0 +1 @@\n+SELECT 1;".into()),
            },
            PullFile {
                filename: "big.bin".into(),
                patch: None,
            },
        ];
        let changed = ChangedLines::from_files(&files);
        assert!(changed.contains("db/1.sql", 1));
        assert!(!changed.contains("db/1.sql", 2));
        assert!(!changed.contains("big.bin", 1));
    }
}
