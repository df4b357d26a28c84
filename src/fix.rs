//! `--fix`: applies the safe fixes of a report to the migration files, in place.
//!
//! It takes the [`Outcome`] of `check` or `lint` (the report and the text of every file as it was
//! read) and, per file, keeps every safe fix that overlaps no other kept one (in file order), then
//! replaces from the end of the file backwards so that earlier byte offsets stay valid. A file is
//! written only when it still holds exactly the text the check read: a file that changed on disk
//! meanwhile, or is not UTF-8, is an error naming it, and then no file is written at all. The
//! findings whose fix was applied leave the report (they are gone from the files); what remains is
//! what the fixes did not resolve, until the next run checks the new text.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::check::Outcome;
use crate::model::{Finding, LineIndex, Position, Span};
use crate::report::display_path;

/// One fix that was applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The file, relative to the checked root.
    pub file: PathBuf,
    /// Where the replaced text was, in the file as it was read.
    pub position: Position,
    pub rule: String,
    /// The text replaced and its replacement.
    pub original: String,
    pub replacement: String,
}

impl Applied {
    /// `file:line:column rule: `old` → `new``, for the command's output.
    pub fn describe(&self) -> String {
        let shown = |s: &str| -> String {
            let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
            if one_line.is_empty() {
                "nothing".to_string()
            } else {
                let cut: String = if one_line.chars().count() > 60 {
                    one_line.chars().take(57).chain(['…']).collect()
                } else {
                    one_line
                };
                if cut.contains('`') {
                    format!("`` {cut} ``")
                } else {
                    format!("`{cut}`")
                }
            }
        };
        let what = if self.replacement.is_empty() {
            format!("removed {}", shown(&self.original))
        } else if self.original.is_empty() {
            format!("inserted {}", shown(&self.replacement))
        } else {
            format!("{} → {}", shown(&self.original), shown(&self.replacement))
        };
        format!(
            "{}:{}:{}: {}: {what}",
            display_path(&self.file),
            self.position.line,
            self.position.column,
            self.rule
        )
    }
}

/// What `--fix` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fixed {
    /// Every fix applied, by file then position.
    pub applied: Vec<Applied>,
    /// Files written.
    pub files: usize,
    /// Fixes not applied because they are not safe (suggestions to review).
    pub unsafe_left: usize,
    /// Safe fixes not applied because they overlap one that was (a second run applies them).
    pub overlapping: usize,
    /// Findings only counted, not built (over [`crate::cap::HELD_PER_RULE_AND_FILE`] of a rule in a
    /// file), whose fixes a second run applies.
    pub only_counted: usize,
}

impl Fixed {
    /// One line: how many fixes went into how many files, and what was left.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "--fix applied {} fix(es) in {} file(s)",
            self.applied.len(),
            self.files
        );
        if self.overlapping > 0 {
            out.push_str(&format!(
                "; {} overlapping fix(es) left for the next run",
                self.overlapping
            ));
        }
        if self.only_counted > 0 {
            out.push_str(&format!(
                "; {} finding(s) past the {} held of a rule in a file were only counted, not fixed (run --fix again)",
                self.only_counted,
                crate::cap::thousands(crate::cap::HELD_PER_RULE_AND_FILE)
            ));
        }
        if self.unsafe_left > 0 {
            out.push_str(&format!(
                "; {} unsafe fix(es) not applied (review the suggestions)",
                self.unsafe_left
            ));
        }
        if !self.applied.is_empty() {
            out.push_str("; run again to check the fixed files");
        }
        out
    }
}

/// Why `--fix` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum FixError {
    #[error("{0}: changed on disk since pgrehearse read it; no file was fixed, run again")]
    Changed(String),
    #[error("{0}: not UTF-8 text; no file was fixed (save it as UTF-8 and run again)")]
    NotUtf8(String),
    #[error("{0}: cannot read it to apply fixes: {1}")]
    Read(String, std::io::Error),
    #[error("{0}: cannot write the fixed file: {1}")]
    Write(String, std::io::Error),
}

/// Applies the safe fixes of `outcome`'s findings to the files under `root` and removes the fixed
/// findings from the report.
pub fn apply(root: &Path, outcome: &mut Outcome) -> Result<Fixed, FixError> {
    let mut fixed = Fixed::default();
    // Per file: the indices of findings with a safe fix, in file order.
    let mut by_file: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
    for (i, finding) in outcome.report.findings.iter().enumerate() {
        match &finding.fix {
            Some(fix) if fix.safe => by_file.entry(fix.file.clone()).or_default().push(i),
            _ => {}
        }
    }
    fixed.only_counted = outcome
        .report
        .findings
        .iter()
        .filter(|f| f.location.as_ref().is_some_and(|l| l.span.is_none()))
        .filter_map(|f| {
            f.evidence
                .extra
                .get(crate::cap::NOT_SHOWN)?
                .parse::<usize>()
                .ok()
        })
        .sum();
    // Every finding with a span, by file.
    let mut located: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
    for (i, finding) in outcome.report.findings.iter().enumerate() {
        if let Some(location) = finding.location.as_ref().filter(|l| l.span.is_some()) {
            located.entry(location.file.clone()).or_default().push(i);
        }
    }
    let mut writes: Vec<(PathBuf, String)> = Vec::new();
    let mut done: Vec<usize> = Vec::new();
    for (file, mut indices) in by_file {
        let shown = display_path(&file);
        let Some(read) = outcome.sources.get(&file) else {
            continue;
        };
        let path = root.join(&file);
        let bytes = std::fs::read(&path).map_err(|e| FixError::Read(shown.clone(), e))?;
        let on_disk = String::from_utf8(bytes).map_err(|_| FixError::NotUtf8(shown.clone()))?;
        if on_disk != read {
            return Err(FixError::Changed(shown));
        }
        let fix_of = |i: usize| outcome.report.findings[i].fix.as_ref();
        indices.sort_by_key(|&i| fix_of(i).map(|f| (f.span.start, f.span.end)));
        // Keep the fixes that overlap no earlier kept one; two insertions at one point overlap.
        let mut kept: Vec<usize> = Vec::new();
        let mut end: Option<usize> = None;
        for i in indices {
            let Some(fix) = fix_of(i) else { continue };
            let fits = fix.span.start <= fix.span.end
                && fix.span.end <= read.len()
                && read.is_char_boundary(fix.span.start)
                && read.is_char_boundary(fix.span.end);
            if !fits {
                continue;
            }
            let duplicate = kept.last().and_then(|&k| fix_of(k)).is_some_and(|k| {
                k.span == fix.span && k.replacement == fix.replacement && !fix.span.is_empty()
            });
            if duplicate {
                // The same edit for two findings (one construct reported twice): apply it once.
                done.push(i);
                continue;
            }
            let second_insertion = fix.span.is_empty()
                && kept
                    .last()
                    .and_then(|&k| fix_of(k))
                    .is_some_and(|k| k.span.is_empty() && k.span.start == fix.span.start);
            if second_insertion || end.is_some_and(|e| fix.span.start < e) {
                // Inside text a kept fix deletes (`ENGINE=`InnoDB``): gone with it.
                let removed = kept.last().and_then(|&k| fix_of(k)).is_some_and(|k| {
                    k.replacement.is_empty()
                        && k.span.start <= fix.span.start
                        && fix.span.end <= k.span.end
                        && !second_insertion
                });
                if removed {
                    done.push(i);
                } else {
                    fixed.overlapping += 1;
                }
                continue;
            }
            end = Some(fix.span.end);
            kept.push(i);
        }
        let index = LineIndex::new(read);
        let mut text = read.to_string();
        for &i in kept.iter().rev() {
            let Some(fix) = fix_of(i) else { continue };
            text.replace_range(fix.span.start..fix.span.end, &fix.replacement);
        }
        for &i in &kept {
            let finding: &Finding = &outcome.report.findings[i];
            let Some(fix) = &finding.fix else { continue };
            fixed.applied.push(Applied {
                file: file.clone(),
                position: Position::resolve(read, &index, fix.span),
                rule: finding.rule.clone(),
                original: Span::slice(&fix.span, read).to_string(),
                replacement: fix.replacement.clone(),
            });
        }
        // Other findings whose text a kept fix deletes are gone with it (a backtick inside a removed
        // `ENGINE=` option), whatever their own fix. Kept fixes do not overlap: sorted by start.
        let removals: Vec<Span> = kept
            .iter()
            .filter_map(|&k| fix_of(k))
            .filter(|f| f.replacement.is_empty() && !f.span.is_empty())
            .map(|f| f.span)
            .collect();
        if !removals.is_empty() {
            for &i in located.get(&file).map(Vec::as_slice).unwrap_or_default() {
                let Some(sp) = outcome.report.findings[i]
                    .location
                    .as_ref()
                    .and_then(|l| l.span)
                else {
                    continue;
                };
                let at = removals.partition_point(|r| r.start <= sp.start);
                let inside = at
                    .checked_sub(1)
                    .and_then(|r| removals.get(r))
                    .is_some_and(|r| sp.end <= r.end);
                if inside {
                    done.push(i);
                }
            }
        }
        done.extend(kept);
        if text != read {
            writes.push((file, text));
        }
    }
    for (file, text) in &writes {
        std::fs::write(root.join(file), text)
            .map_err(|e| FixError::Write(display_path(file), e))?;
    }
    fixed.files = writes.len();
    done.sort_unstable();
    done.dedup();
    fixed.unsafe_left = outcome
        .report
        .findings
        .iter()
        .enumerate()
        .filter(|(i, f)| f.fix.as_ref().is_some_and(|x| !x.safe) && done.binary_search(i).is_err())
        .count();
    for i in done.into_iter().rev() {
        outcome.report.findings.remove(i);
    }
    Ok(fixed)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{Category, Report, Severity, Sources};

    fn finding(rule: &str, span: Span, replacement: &str, safe: bool) -> Finding {
        Finding::new(rule, Category::Dialect, Severity::Error, "m")
            .at("m/001.sql", Some(span))
            .fix(span, replacement, safe)
    }

    /// A repository holding `m/001.sql` with `text`, and an outcome read from it.
    fn outcome(text: &str, findings: Vec<Finding>) -> (tempfile::TempDir, Outcome) {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("m")).expect("mkdir");
        std::fs::write(dir.path().join("m/001.sql"), text).expect("write");
        let mut sources = Sources::new();
        sources.insert("m/001.sql", Arc::from(text));
        let report = Report {
            findings,
            ..Report::default()
        };
        (dir, Outcome { report, sources })
    }

    fn read(dir: &tempfile::TempDir) -> String {
        std::fs::read_to_string(dir.path().join("m/001.sql")).expect("read")
    }

    #[test]
    fn applies_safe_non_overlapping_fixes_from_the_end() {
        let text = "ab cd ef";
        let (dir, mut out) = outcome(
            text,
            vec![
                finding("r1", Span::new(0, 2), "XY", true),
                // Overlaps the first: left for the next run.
                finding("r2", Span::new(1, 4), "-", true),
                finding("r3", Span::new(6, 8), "", true),
                // Not safe: never applied.
                finding("r4", Span::new(3, 5), "??", false),
                // An insertion at the end of an applied edit's span is not an overlap.
                finding("r5", Span::new(2, 2), "!", true),
            ],
        );
        let fixed = apply(dir.path(), &mut out).expect("fixes apply");
        assert_eq!(read(&dir), "XY! cd ");
        assert_eq!(fixed.applied.len(), 3);
        assert_eq!(fixed.overlapping, 1);
        assert_eq!(fixed.unsafe_left, 1);
        assert_eq!(fixed.files, 1);
        // The fixed findings leave the report; the others stay.
        let left: Vec<&str> = out
            .report
            .findings
            .iter()
            .map(|f| f.rule.as_str())
            .collect();
        assert_eq!(left, ["r2", "r4"]);
        assert_eq!(
            fixed.applied[2].describe(),
            "m/001.sql:1:7: r3: removed `ef`"
        );
    }

    #[test]
    fn a_file_changed_on_disk_is_an_error_and_nothing_is_written() {
        let (dir, mut out) = outcome("ab", vec![finding("r", Span::new(0, 1), "X", true)]);
        std::fs::write(dir.path().join("m/001.sql"), "abc").expect("write");
        let err = apply(dir.path(), &mut out).expect_err("changed file");
        assert!(matches!(err, FixError::Changed(_)));
        assert!(
            err.to_string().starts_with("m/001.sql: changed on disk"),
            "{err}"
        );
        assert_eq!(read(&dir), "abc");
        assert_eq!(out.report.findings.len(), 1);
    }

    #[test]
    fn a_file_that_is_no_longer_utf8_is_an_error() {
        let (dir, mut out) = outcome("ab", vec![finding("r", Span::new(0, 1), "X", true)]);
        std::fs::write(dir.path().join("m/001.sql"), [b'a', 0xff]).expect("write");
        let err = apply(dir.path(), &mut out).expect_err("not UTF-8");
        assert!(matches!(err, FixError::NotUtf8(_)), "{err}");
    }

    #[test]
    fn a_fix_inside_removed_text_goes_with_it() {
        // `ENGINE=`InnoDB``: the option's removal takes the backtick finding's text with it.
        let text = "CREATE TABLE a (id int) ENGINE=`InnoDB`;";
        let engine = Span::new(23, 39);
        let backtick = Span::new(31, 39);
        assert_eq!(&text[engine.start..engine.end], " ENGINE=`InnoDB`");
        let (dir, mut out) = outcome(
            text,
            vec![
                finding("mysql-syntax", engine, "", true),
                // Capital letters: an unsafe fix, gone with the text all the same.
                finding("mysql-syntax", backtick, "\"InnoDB\"", false),
            ],
        );
        let fixed = apply(dir.path(), &mut out).expect("fixes apply");
        assert_eq!(read(&dir), "CREATE TABLE a (id int);");
        assert_eq!(
            (fixed.applied.len(), fixed.overlapping, fixed.unsafe_left),
            (1, 0, 0)
        );
        assert!(out.report.findings.is_empty());
    }

    #[test]
    fn the_same_edit_for_two_findings_is_applied_once() {
        let (dir, mut out) = outcome(
            "`a`",
            vec![
                finding("mysql-syntax", Span::new(0, 3), "\"a\"", true),
                finding("mysql-syntax", Span::new(0, 3), "\"a\"", true),
            ],
        );
        let fixed = apply(dir.path(), &mut out).expect("fixes apply");
        assert_eq!(read(&dir), "\"a\"");
        assert_eq!(fixed.applied.len(), 1);
        assert!(out.report.findings.is_empty());
    }
}
