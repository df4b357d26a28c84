//! Bounded output: at most [`PER_RULE_AND_FILE`] findings of one rule in one file are reported; the
//! rest become one summary finding (`… and 498,000 more`), so a huge generated file cannot flood the
//! terminal, the report file, the job log or GitHub's API.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::model::{Evidence, Finding};

/// Findings of one rule in one file that are reported before the rest are summarised.
pub const PER_RULE_AND_FILE: usize = 100;

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
/// one summary finding (same rule, severity and file; no span) after the last one kept. Returns how
/// many findings were left out.
pub fn limit(findings: &mut Vec<Finding>) -> usize {
    limit_to(findings, PER_RULE_AND_FILE)
}

fn limit_to(findings: &mut Vec<Finding>, cap: usize) -> usize {
    type Key = (String, Option<PathBuf>);
    let key =
        |f: &Finding| -> Key { (f.rule.clone(), f.location.as_ref().map(|l| l.file.clone())) };
    let mut seen: BTreeMap<Key, usize> = BTreeMap::new();
    for f in findings.iter() {
        *seen.entry(key(f)).or_default() += 1;
    }
    if seen.values().all(|&n| n <= cap) {
        return 0;
    }
    let mut kept: BTreeMap<Key, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(findings.len().min(seen.len() * (cap + 1)));
    let mut dropped = 0;
    for f in findings.drain(..) {
        let k = key(&f);
        let total = seen.get(&k).copied().unwrap_or(0);
        let n = kept.entry(k).or_default();
        *n += 1;
        if *n <= cap {
            let last = *n == cap && total > cap;
            let summary = last.then(|| summary_of(&f, total - cap));
            out.push(f);
            out.extend(summary);
        } else {
            dropped += 1;
        }
    }
    *findings = out;
    dropped
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
        extra: [("not_shown".to_string(), more.to_string())]
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
}
