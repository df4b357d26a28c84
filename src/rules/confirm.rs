//! One problem, one finding: when the replay fails at a statement a static rule already named as the
//! cause (`CREATE INDEX CONCURRENTLY` in a transaction, MySQL backticks, `COPY … PROGRAM` without
//! superuser), the two findings become one. The static rule wins: its id, explanation and help say
//! why the statement fails and what to write instead. The replay's failure travels with it as
//! evidence (`evidence.confirmed_by`, SQLSTATE, DETAIL, HINT, the migrations left unapplied), its
//! message is appended, and the finding takes the more severe of the two severities.
//!
//! Findings about the same statement that name different problems (a failure and the migration's
//! missing idempotency, a lock and a data-dependent failure) stay separate.

use crate::model::{Confirmation, Finding};
use crate::registry::{REPLAY_FAILURES, confirmed_by};

/// Whether `a` and `b` are about the same statement: the same file and migration, the same
/// statement number when both know it, else overlapping spans.
fn same_statement(a: &Finding, b: &Finding) -> bool {
    let (Some(la), Some(lb)) = (&a.location, &b.location) else {
        return false;
    };
    if la.file != lb.file || a.evidence.migration != b.evidence.migration {
        return false;
    }
    if let (Some(sa), Some(sb)) = (a.evidence.statement, b.evidence.statement) {
        return sa == sb;
    }
    match (la.span, lb.span) {
        (Some(sa), Some(sb)) => {
            sa.start < sb.end.max(sb.start + 1) && sb.start < sa.end.max(sa.start + 1)
        }
        _ => false,
    }
}

/// Folds each replay failure into the static finding that predicted it at the same statement.
/// When several static findings sit in the failed statement, the one at the failure's position
/// (else the first) absorbs it; the others stay as they are.
pub fn merge_confirmed(findings: &mut Vec<Finding>) {
    let mut absorbed = vec![false; findings.len()];
    for r in 0..findings.len() {
        if !REPLAY_FAILURES.contains(&findings[r].rule.as_str()) {
            continue;
        }
        let replay_start = findings[r]
            .location
            .as_ref()
            .and_then(|l| l.span)
            .map(|s| s.start);
        let candidates: Vec<usize> = (0..findings.len())
            .filter(|&s| {
                s != r
                    && !absorbed[s]
                    && findings[s].evidence.confirmed_by.is_none()
                    && confirmed_by(&findings[s].rule).contains(&findings[r].rule.as_str())
                    && same_statement(&findings[s], &findings[r])
            })
            .collect();
        let at_failure = candidates.iter().copied().find(|&s| {
            findings[s]
                .location
                .as_ref()
                .and_then(|l| l.span)
                .zip(replay_start)
                .is_some_and(|(span, start)| {
                    span.start <= start && start < span.end.max(span.start + 1)
                })
        });
        let first = candidates.iter().copied().min_by_key(|&s| {
            findings[s]
                .location
                .as_ref()
                .and_then(|l| l.span)
                .map_or(0, |s| s.start)
        });
        let Some(s) = at_failure.or(first) else {
            continue;
        };
        let replay = findings[r].clone();
        absorb(&mut findings[s], replay);
        absorbed[r] = true;
    }
    let mut i = 0;
    findings.retain(|_| {
        let keep = !absorbed[i];
        i += 1;
        keep
    });
}

fn absorb(statik: &mut Finding, replay: Finding) {
    statik.severity = statik.severity.max(replay.severity);
    statik.message = format!(
        "{}; the replay confirms it: {}",
        statik.message, replay.message
    );
    if statik.help.is_none() {
        statik.help = replay.help.clone();
    }
    let ev = &mut statik.evidence;
    let rev = &replay.evidence;
    ev.sqlstate = ev.sqlstate.take().or_else(|| rev.sqlstate.clone());
    ev.detail = ev.detail.take().or_else(|| rev.detail.clone());
    ev.hint = ev.hint.take().or_else(|| rev.hint.clone());
    ev.statement = ev.statement.or(rev.statement);
    if ev.not_applied.is_empty() {
        ev.not_applied = rev.not_applied.clone();
    }
    for (k, v) in &rev.extra {
        ev.extra.entry(k.clone()).or_insert_with(|| v.clone());
    }
    ev.confirmed_by = Some(Confirmation {
        rule: replay.rule,
        message: replay.message,
        help: replay.help,
        location: replay.location,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Category, Evidence, Severity, Span};

    fn f(
        rule: &str,
        severity: Severity,
        span: (usize, usize),
        statement: Option<usize>,
    ) -> Finding {
        Finding::new(
            rule,
            Category::MigrationError,
            severity,
            format!("{rule} here"),
        )
        .at("m/001.sql", Some(Span::new(span.0, span.1)))
        .evidence(Evidence {
            migration: Some("001".into()),
            statement,
            ..Evidence::default()
        })
    }

    #[test]
    fn a_confirmed_static_finding_absorbs_the_replay_failure() {
        let mut failed = f("migration-failed", Severity::Error, (10, 40), Some(2));
        failed.evidence.sqlstate = Some("25001".into());
        failed.evidence.not_applied = vec!["002".into()];
        let mut v = vec![
            f(
                "not-allowed-in-transaction",
                Severity::Warning,
                (10, 40),
                Some(2),
            ),
            failed,
            f("not-rerunnable", Severity::Notice, (10, 40), Some(2)),
        ];
        merge_confirmed(&mut v);
        let rules: Vec<&str> = v.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(rules, ["not-allowed-in-transaction", "not-rerunnable"]);
        let merged = &v[0];
        assert_eq!(merged.severity, Severity::Error);
        assert_eq!(merged.evidence.sqlstate.as_deref(), Some("25001"));
        assert_eq!(merged.evidence.not_applied, ["002"]);
        assert_eq!(
            merged
                .evidence
                .confirmed_by
                .as_ref()
                .map(|c| c.rule.as_str()),
            Some("migration-failed")
        );
        assert!(
            merged
                .message
                .contains("the replay confirms it: migration-failed here")
        );
    }

    #[test]
    fn another_statement_or_an_unrelated_rule_stays_separate() {
        let mut v = vec![
            f(
                "not-allowed-in-transaction",
                Severity::Error,
                (0, 9),
                Some(1),
            ),
            f("migration-failed", Severity::Error, (10, 40), Some(2)),
            f("copy-program", Severity::Error, (10, 40), Some(2)),
        ];
        merge_confirmed(&mut v);
        assert_eq!(v.len(), 3);
        assert!(v.iter().all(|f| f.evidence.confirmed_by.is_none()));
    }

    #[test]
    fn the_construct_at_the_failure_absorbs_it_when_a_statement_has_several() {
        let mut v = vec![
            f("mysql-syntax", Severity::Error, (3, 5), None),
            f("mysql-syntax", Severity::Error, (20, 34), None),
            f("migration-failed", Severity::Error, (20, 21), Some(1)),
        ];
        merge_confirmed(&mut v);
        assert_eq!(v.len(), 2);
        assert!(v[0].evidence.confirmed_by.is_none());
        assert!(v[1].evidence.confirmed_by.is_some());
    }
}
