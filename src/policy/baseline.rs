//! The findings baseline: `pgrehearse baseline` records the current findings so that a repository can
//! adopt pgrehearse and fail only on new findings.
//!
//! Each finding is recorded by a fingerprint that survives edits elsewhere in the file: the rule, the
//! file and the finding's own source text with whitespace collapsed (for findings without a position,
//! the message). Line numbers are stored for readers but never compared. Identical fingerprints are
//! counted, so a second copy of a recorded statement is a new finding.
//!
//! ```json
//! {
//!   "version": 1,
//!   "findings": [
//!     {"rule": "drop-column", "file": "db/migrations/0007_users.sql", "line": 3,
//!      "fingerprint": "5f0c6a1e9b2d7c44", "message": "..."}
//!   ]
//! }
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Coverage;
use crate::model::{Finding, LineIndex, Sources};
use crate::registry;
use crate::report::display_path;

/// Version of the baseline file format.
pub const VERSION: u32 = 1;

/// A baseline file's contents.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    pub version: u32,
    pub findings: Vec<Entry>,
}

/// One recorded finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub rule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line when it was recorded, for readers; not used for matching.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    pub fingerprint: String,
    #[serde(default)]
    pub message: String,
}

/// The baseline file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("{}: could not read the baseline file: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{}: not a pgrehearse baseline file ({message}); regenerate it with `pgrehearse baseline`, or pass --no-baseline",
        path.display()
    )]
    Invalid { path: PathBuf, message: String },
    #[error("{}: could not write the baseline file: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `baseline:` in the configuration, or the default file, leads out of the repository.
    #[error(transparent)]
    Outside(#[from] crate::paths::OutsideRoot),
}

/// The fingerprint of a finding: stable under edits elsewhere in its file.
pub fn fingerprint(finding: &Finding, sources: &Sources) -> String {
    let mut hasher = Sha256::new();
    hasher.update(finding.rule.as_bytes());
    hasher.update([0]);
    let snippet = finding.location.as_ref().and_then(|location| {
        hasher.update(display_path(&location.file).as_bytes());
        hasher.update([0]);
        let span = location.span?;
        let text = sources.get(&location.file)?;
        text.get(span.start..span.end)
    });
    match snippet {
        Some(snippet) => {
            for word in snippet.split_whitespace() {
                hasher.update(word.as_bytes());
                hasher.update([b' ']);
            }
        }
        None => hasher.update(finding.message.as_bytes()),
    }
    let digest = hasher.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

impl Baseline {
    /// Records `findings`.
    pub fn from_findings(findings: &[Finding], sources: &Sources) -> Baseline {
        // A static finding that absorbed the replay failure it predicted (`rules::confirm`) is
        // recorded as both, as the baseline filter sees them before they are folded together.
        let confirmations: Vec<Finding> = findings
            .iter()
            .filter_map(|f| {
                let c = f.evidence.confirmed_by.as_ref()?;
                let mut replay = Finding::new(&c.rule, f.category, f.severity, c.message.clone());
                replay.location = c.location.clone();
                Some(replay)
            })
            .collect();
        let findings = findings
            .iter()
            .chain(&confirmations)
            .map(|f| {
                let line = f.location.as_ref().and_then(|l| {
                    let span = l.span?;
                    let text = sources.get(&l.file)?;
                    let (line, _) = LineIndex::new(text).line_col(text, span.start);
                    Some(line)
                });
                Entry {
                    rule: f.rule.clone(),
                    file: f.location.as_ref().map(|l| display_path(&l.file)),
                    line,
                    fingerprint: fingerprint(f, sources),
                    message: f.message.clone(),
                }
            })
            .collect();
        Baseline {
            version: VERSION,
            findings,
        }
    }

    pub fn read(path: &Path) -> Result<Baseline, BaselineError> {
        let bytes = std::fs::read(path).map_err(|source| BaselineError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let baseline: Baseline =
            serde_json::from_slice(&bytes).map_err(|e| BaselineError::Invalid {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        if baseline.version != VERSION {
            return Err(BaselineError::Invalid {
                path: path.to_path_buf(),
                message: format!(
                    "format version {} is not supported (this pgrehearse writes version {VERSION})",
                    baseline.version
                ),
            });
        }
        Ok(baseline)
    }

    pub fn write(&self, path: &Path) -> Result<(), BaselineError> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| BaselineError::Write {
            path: path.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
        text.push('\n');
        std::fs::write(path, text).map_err(|source| BaselineError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Drops the findings the baseline records. Returns the kept findings, how many were dropped, and
    /// how many recorded entries (of rules this run observes) matched nothing.
    pub fn filter(
        &self,
        findings: Vec<Finding>,
        sources: &Sources,
        coverage: &Coverage,
    ) -> (Vec<Finding>, usize, usize) {
        let mut remaining: HashMap<&str, usize> = HashMap::new();
        for entry in &self.findings {
            *remaining.entry(entry.fingerprint.as_str()).or_default() += 1;
        }
        let mut kept = Vec::with_capacity(findings.len());
        let mut dropped = 0;
        for finding in findings {
            let fp = fingerprint(&finding, sources);
            match remaining.get_mut(fp.as_str()) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    dropped += 1;
                }
                _ => kept.push(finding),
            }
        }
        let mut stale = 0;
        for entry in &self.findings {
            if let Some(n) = remaining.get_mut(entry.fingerprint.as_str())
                && *n > 0
            {
                *n -= 1;
                if coverage.observes(&entry.rule) && registry::rule(&entry.rule).is_some() {
                    stale += 1;
                }
            }
        }
        (kept, dropped, stale)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::Span;

    fn finding(text: &str, needle: &str) -> Finding {
        let start = text.find(needle).expect("needle");
        registry::finding("drop-column", "dropping a column")
            .at("m.sql", Some(Span::new(start, start + needle.len())))
    }

    #[test]
    fn fingerprints_survive_moves_and_reformatting_but_not_other_statements() {
        let mut a = Sources::new();
        let ta = "ALTER TABLE t DROP COLUMN x;\n";
        a.insert("m.sql", Arc::from(ta));
        let mut b = Sources::new();
        let tb = "-- new comment\nCREATE TABLE u (id int);\nALTER TABLE t\n    DROP COLUMN   x;\n";
        b.insert("m.sql", Arc::from(tb));
        let fa = fingerprint(&finding(ta, "DROP COLUMN x"), &a);
        let fb = fingerprint(&finding(tb, "DROP COLUMN   x"), &b);
        assert_eq!(fa, fb);
        let other = fingerprint(&finding(ta, "ALTER TABLE t"), &a);
        assert_ne!(fa, other);
    }

    #[test]
    fn round_trip_drops_recorded_and_counts_duplicates_and_stale() {
        let text = "ALTER TABLE t DROP COLUMN x;\nALTER TABLE t DROP COLUMN x;\n";
        let mut sources = Sources::new();
        sources.insert("m.sql", Arc::from(text));
        let first = finding(text, "DROP COLUMN x");
        let baseline = Baseline::from_findings(std::slice::from_ref(&first), &sources);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.json");
        baseline.write(&path).unwrap();
        let read = Baseline::read(&path).unwrap();
        assert_eq!(read, baseline);
        assert_eq!(read.findings[0].line, Some(1));
        let second = {
            let start = text.rfind("DROP COLUMN x").unwrap();
            registry::finding("drop-column", "dropping a column")
                .at("m.sql", Some(Span::new(start, start + 13)))
        };
        let coverage = Coverage {
            replayed_fully: true,
            lock_trace: true,
            ..Coverage::default()
        };
        // The same statement twice: one is recorded, the copy is new.
        let (kept, dropped, stale) = read.filter(vec![first.clone(), second], &sources, &coverage);
        assert_eq!((kept.len(), dropped, stale), (1, 1, 0));
        // Fixed: the recorded entry is stale, unless the run could not observe the rule.
        let (_, _, stale) = read.filter(vec![], &sources, &coverage);
        assert_eq!(stale, 1);
        let (_, _, stale) = read.filter(vec![], &sources, &Coverage::static_only());
        assert_eq!(stale, 0);
    }

    #[test]
    fn malformed_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.json");
        std::fs::write(&path, "{\"version\": 1, \"findings\": [{\"rule\": 3}]}").unwrap();
        let err = Baseline::read(&path).unwrap_err().to_string();
        assert!(err.contains("not a pgrehearse baseline file"), "{err}");
        std::fs::write(&path, "{\"version\": 9, \"findings\": []}").unwrap();
        let err = Baseline::read(&path).unwrap_err().to_string();
        assert!(err.contains("version 9"), "{err}");
        let err = Baseline::read(&dir.path().join("missing.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("could not read"), "{err}");
    }
}
