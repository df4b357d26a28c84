//! Bounded output. At most [`PER_RULE_AND_FILE`] findings of one rule in one file are reported; the
//! rest become one summary finding (`… and 498,000 more`), so a huge generated file cannot flood the
//! terminal, the report file, the job log or GitHub's API. Rules collect into a [`Bounded`], which
//! builds at most [`HELD_PER_RULE_AND_FILE`] findings of a rule in a file and only counts the rest, so
//! the memory a run holds stays bounded too; [`limit`] then cuts what is reported.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::model::{Evidence, Finding};

/// Findings of one rule in one file that are reported before the rest are summarised.
pub const PER_RULE_AND_FILE: usize = 100;

/// Findings of one rule in one file that the rules build and hold; beyond it they are only counted.
/// Far above [`PER_RULE_AND_FILE`], so that suppressions and baselines, applied before the report is
/// cut, still see every finding of any file short of a generated one.
pub const HELD_PER_RULE_AND_FILE: usize = 10_000;

/// The `evidence.extra` key of a summary finding: how many findings it stands for.
pub const NOT_SHOWN: &str = "not_shown";

type Key = (String, Option<PathBuf>);

fn key(f: &Finding) -> Key {
    (f.rule.clone(), f.location.as_ref().map(|l| l.file.clone()))
}

/// How many findings `f` stands for when it is a summary (`… and N more`), else `None`.
fn summarised(f: &Finding) -> Option<usize> {
    if f.location.as_ref().is_some_and(|l| l.span.is_some()) {
        return None;
    }
    f.evidence.extra.get(NOT_SHOWN)?.parse().ok()
}

/// `498000` as `498,000`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Keeps the first [`PER_RULE_AND_FILE`] findings of each rule in each file, in their order, and puts
/// one summary finding (same rule, severity and file; no span) after the last one kept, counting also
/// what summaries already in `findings` stood for. Returns how many findings were left out.
pub fn limit(findings: &mut Vec<Finding>) -> usize {
    limit_to(findings, PER_RULE_AND_FILE)
}

fn limit_to(findings: &mut Vec<Finding>, cap: usize) -> usize {
    // Per rule and file: findings present, and findings earlier summaries stood for.
    let mut seen: BTreeMap<Key, (usize, usize)> = BTreeMap::new();
    for f in findings.iter() {
        let entry = seen.entry(key(f)).or_default();
        match summarised(f) {
            Some(n) => entry.1 += n,
            None => entry.0 += 1,
        }
    }
    if seen.values().all(|&(n, hidden)| n <= cap && hidden == 0) {
        return 0;
    }
    let mut kept: BTreeMap<Key, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(findings.len().min(seen.len() * (cap + 1)));
    let mut dropped = 0;
    let mut templates: Vec<(Key, Finding)> = Vec::new();
    for f in findings.drain(..) {
        let k = key(&f);
        let (total, hidden) = seen.get(&k).copied().unwrap_or((0, 0));
        if summarised(&f).is_some() {
            // Stands in for findings no rule built; its own line comes back below.
            if total == 0 && !templates.iter().any(|(t, _)| *t == k) {
                templates.push((k, f));
            }
            continue;
        }
        let n = kept.entry(k).or_default();
        *n += 1;
        if *n <= cap {
            let more = total.saturating_sub(cap) + hidden;
            let last = *n == total.min(cap) && more > 0;
            let summary = last.then(|| summary_of(&f, more));
            out.push(f);
            out.extend(summary);
        } else {
            dropped += 1;
        }
    }
    // Summaries of findings none of which was built (a rule and file whose every finding was counted).
    for (k, template) in templates {
        let hidden = seen.get(&k).map_or(0, |&(_, hidden)| hidden);
        out.push(summary_of(&template, hidden));
    }
    *findings = out;
    dropped
}

/// Findings as rules collect them: the first [`HELD_PER_RULE_AND_FILE`] of a rule in a file are held,
/// the next one is kept as the pattern of the summary line, and the rest are only counted. Call
/// [`Bounded::full`] before building a finding to skip building what would only be counted.
#[derive(Default)]
pub struct Bounded {
    findings: Vec<Finding>,
    held: HashMap<Key, usize>,
    /// Per rule and file over the bound: the first finding not held, and how many were not held.
    over: BTreeMap<Key, (Finding, usize)>,
    limit: Option<usize>,
}

impl Bounded {
    pub fn new() -> Bounded {
        Bounded::default()
    }

    #[cfg(test)]
    fn with_limit(limit: usize) -> Bounded {
        Bounded {
            limit: Some(limit),
            ..Bounded::default()
        }
    }

    fn limit(&self) -> usize {
        self.limit.unwrap_or(HELD_PER_RULE_AND_FILE)
    }

    /// Whether a further finding of `rule` in `file` would only be counted: then call
    /// [`Bounded::count`] instead of building it.
    pub fn full(&self, rule: &str, file: &Path) -> bool {
        self.over
            .contains_key(&(rule.to_string(), Some(file.to_path_buf())))
    }

    /// Counts one finding of `rule` in `file` that was not built (only after [`Bounded::full`]).
    pub fn count(&mut self, rule: &str, file: &Path) {
        if let Some((_, n)) = self
            .over
            .get_mut(&(rule.to_string(), Some(file.to_path_buf())))
        {
            *n += 1;
        }
    }

    pub fn push(&mut self, f: Finding) {
        let k = key(&f);
        if let Some(n) = summarised(&f) {
            // A summary from another collector: what it stands for is counted, not held.
            if let Some((_, hidden)) = self.over.get_mut(&k) {
                *hidden += n;
            } else {
                self.over.insert(k, (f, n));
            }
            return;
        }
        if let Some((_, hidden)) = self.over.get_mut(&k) {
            *hidden += 1;
            return;
        }
        let limit = self.limit();
        let held = self.held.entry(k.clone()).or_default();
        if *held < limit {
            *held += 1;
            self.findings.push(f);
        } else {
            self.over.insert(k, (f, 1));
        }
    }

    /// The findings held, each rule and file over the bound followed by one summary line.
    pub fn finish(self) -> Vec<Finding> {
        let mut out = self.findings;
        for (_, (pattern, hidden)) in self.over {
            out.push(summary_of(&pattern, hidden));
        }
        out
    }
}

impl Extend<Finding> for Bounded {
    fn extend<I: IntoIterator<Item = Finding>>(&mut self, findings: I) {
        for f in findings {
            self.push(f);
        }
    }
}

fn summary_of(f: &Finding, more: usize) -> Finding {
    let place = match &f.location {
        Some(_) => "in this file",
        None => "without a file",
    };
    let mut summary = Finding::new(
        &f.rule,
        f.category,
        f.severity,
        format!(
            "… and {} more `{}` findings {place}, not shown (pgrehearse reports the first {} of a rule in each file)",
            thousands(more),
            f.rule,
            thousands(PER_RULE_AND_FILE)
        ),
    )
    .evidence(Evidence {
        extra: [(NOT_SHOWN.to_string(), more.to_string())]
            .into_iter()
            .collect(),
        ..Evidence::default()
    });
    if let Some(location) = &f.location {
        summary = summary.at(location.file.clone(), None);
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Category, Severity, Span};

    fn f(rule: &str, file: &str, at: usize) -> Finding {
        Finding::new(
            rule,
            Category::Dialect,
            Severity::Notice,
            format!("{rule} {at}"),
        )
        .at(file, Some(Span::new(at, at + 1)))
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(498_000), "498,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn each_rule_and_file_is_cut_with_a_summary_after_the_last_kept() {
        let mut findings = Vec::new();
        for i in 0..5 {
            findings.push(f("a", "x.sql", i));
            findings.push(f("b", "x.sql", i));
        }
        findings.push(f("a", "y.sql", 0));
        let dropped = limit_to(&mut findings, 2);
        assert_eq!(dropped, 6);
        let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "a 0",
                "b 0",
                "a 1",
                "… and 3 more `a` findings in this file, not shown (pgrehearse reports the first 100 of a rule in each file)",
                "b 1",
                "… and 3 more `b` findings in this file, not shown (pgrehearse reports the first 100 of a rule in each file)",
                "a 0",
            ]
        );
        assert_eq!(findings[3].location.as_ref().unwrap().span, None);
        assert_eq!(findings[3].evidence.extra["not_shown"], "3");
    }

    #[test]
    fn nothing_changes_under_the_cap() {
        let mut findings = vec![f("a", "x.sql", 0), f("a", "x.sql", 1)];
        let before = findings.clone();
        assert_eq!(limit_to(&mut findings, 2), 0);
        assert_eq!(findings, before);
    }

    #[test]
    fn bounded_holds_up_to_its_limit_and_counts_the_rest() {
        let mut b = Bounded::with_limit(3);
        for i in 0..10 {
            if b.full("a", Path::new("x.sql")) {
                b.count("a", Path::new("x.sql"));
            } else {
                b.push(f("a", "x.sql", i));
            }
        }
        b.push(f("b", "x.sql", 0));
        let held = b.finish();
        let messages: Vec<&str> = held.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(messages[..4], ["a 0", "a 1", "a 2", "b 0"]);
        assert_eq!(held.len(), 5);
        assert_eq!(held[4].evidence.extra["not_shown"], "7");
        assert_eq!(held[4].location.as_ref().unwrap().span, None);
    }

    #[test]
    fn what_a_collector_only_counted_is_in_the_reported_summary() {
        let mut b = Bounded::with_limit(3);
        b.extend((0..10).map(|i| f("a", "x.sql", i)));
        // A second collector's summary adds to the count without being held.
        let mut inner = Bounded::with_limit(1);
        inner.extend((0..4).map(|i| f("a", "x.sql", 100 + i)));
        b.extend(inner.finish());
        let mut findings = b.finish();
        assert_eq!(findings.len(), 4);
        limit_to(&mut findings, 2);
        let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "a 0",
                "a 1",
                "… and 12 more `a` findings in this file, not shown (pgrehearse reports the first 100 of a rule in each file)",
            ]
        );
        assert_eq!(findings[2].evidence.extra["not_shown"], "12");
    }

    #[test]
    fn a_summary_under_the_cap_still_reports_what_it_stood_for() {
        let mut findings = vec![f("a", "x.sql", 0)];
        let mut only_counted = Bounded::with_limit(0);
        only_counted.extend((0..5).map(|i| f("b", "x.sql", i)));
        findings.extend(only_counted.finish());
        assert_eq!(limit_to(&mut findings, 2), 0);
        assert_eq!(findings.len(), 2);
        assert_eq!(findings[1].rule, "b");
        assert_eq!(findings[1].evidence.extra["not_shown"], "5");
    }
}
