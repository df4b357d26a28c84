//! One fixture repository per rule: `tests/fixtures/rules/<rule-id>/` with an `expect.txt` listing every
//! finding `pgrehearse check --engine local` reports on it (`<rule> <file>:<line>`, or `<rule>+<replay rule>
//! <file>:<line>` for a static finding the replay confirmed and absorbed; `#` comments, an
//! optional `# args: ...` line with extra flags). Each fixture holds the risky form next to the safe
//! one, so the exact list proves both that the rule fires and that it stays quiet on the safe form.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::harness::{Engine, check_json};

/// Rules proven by a dedicated test instead of a fixture here (they need a live server, a failing
/// declared schema, an ORM schema or GitHub), with the test that covers each.
const COVERED_ELSEWHERE: &[(&str, &str)] = &[
    ("migration-failed", "replay_cases, runners"),
    ("partially-applied", "replay_cases::psql_partial"),
    ("table-rewrite", "locks"),
    ("index-without-concurrently", "locks"),
    ("validation-scan", "locks"),
    ("drop-column", "locks"),
    ("rename", "locks"),
    ("lock-without-timeout", "locks"),
    ("retry-fails", "faults"),
    ("missing-extension", "replay_cases (needs-extension)"),
    ("runner-rejects-migration", "runners"),
    ("unreplayable-migration", "runners"),
    ("mysql-syntax", "replay_cases"),
    ("tsql-syntax", "github_api"),
    ("dialect-mismatch", "replay_cases, prisma, drizzle"),
    ("journal-orphan", "replay_cases"),
    ("duplicate-version", "replay_cases"),
    (
        "schema-drift",
        "drift (41-case matrix), prisma, drizzle, live",
    ),
    (
        "drift-incomplete",
        "drift::an_early_failure_sums_up_what_could_not_be_compared",
    ),
    ("declared-schema-failed", "drift, prisma"),
    ("declared-roles-skipped", "drift"),
    ("declared-not-evaluated", "drizzle"),
    ("declared-duplicate-table", "drizzle"),
    ("live-dirty", "live"),
    ("live-failed-migration", "live"),
    ("live-rolled-back-migration", "live"),
    (
        "live-unknown-migration",
        "live::prisma_bookkeeping_failed_rows_and_edited_migrations",
    ),
    ("live-checksum-mismatch", "live"),
    ("live-skipped-migration", "live"),
    ("live-pending-migrations", "live"),
    ("no-migrations", "cli"),
    ("stale-baseline", "policy::baseline_round_trip"),
    (
        "history-unavailable",
        "history::a_pull_request_counts_what_its_base_branch_has_as_shipped",
    ),
];

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules")
}

struct Expectation {
    args: Vec<String>,
    findings: BTreeSet<String>,
}

fn read_expectation(dir: &Path) -> Expectation {
    let path = dir.join("expect.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (every rule fixture needs one)", path.display()));
    let mut args = Vec::new();
    let mut findings = BTreeSet::new();
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("# args:") {
            args.extend(rest.split_whitespace().map(str::to_string));
        } else if !line.is_empty() && !line.starts_with('#') {
            findings.insert(line.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    Expectation { args, findings }
}

fn fixture_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("tests/fixtures/rules exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_rule_fixture_reports_exactly_its_expected_findings() {
    let mut failures = Vec::new();
    let dirs = fixture_dirs();
    assert!(!dirs.is_empty(), "no rule fixtures found");
    for dir in &dirs {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let expected = read_expectation(dir);
        assert!(
            expected
                .findings
                .iter()
                .any(|f| f.starts_with(&format!("{name} ")) || f.starts_with(&format!("{name}+"))),
            "fixture {name}: expect.txt must list at least one `{name}` finding"
        );
        let args: Vec<&str> = expected.args.iter().map(String::as_str).collect();
        let run = check_json(dir, Engine::Local, &args);
        let got: BTreeSet<String> = run
            .findings()
            .iter()
            .map(|f| {
                // A static finding the replay confirmed (and absorbed) is `<rule>+<replay rule>`.
                let confirmed = f["evidence"]["confirmed_by"]["rule"]
                    .as_str()
                    .map(|r| format!("+{r}"))
                    .unwrap_or_default();
                format!(
                    "{}{confirmed} {}:{}",
                    f["rule"].as_str().unwrap_or(""),
                    f["file"].as_str().unwrap_or("-"),
                    f["line"].as_u64().unwrap_or(0)
                )
            })
            .collect();
        if got != expected.findings {
            failures.push(format!(
                "fixture {name}:\n  missing:    {:?}\n  unexpected: {:?}\n  stderr: {}",
                expected.findings.difference(&got).collect::<Vec<_>>(),
                got.difference(&expected.findings).collect::<Vec<_>>(),
                run.stderr().trim()
            ));
        }
        if ![0, 1].contains(&run.code()) {
            failures.push(format!("fixture {name}: exit code {}", run.code()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_rule_has_a_fixture_or_a_named_test() {
    let fixtures: BTreeSet<String> = fixture_dirs()
        .iter()
        .filter_map(|d| d.file_name().and_then(|n| n.to_str()).map(str::to_string))
        .collect();
    let mut missing = Vec::new();
    for rule in pgrehearse::registry::RULES {
        let elsewhere = COVERED_ELSEWHERE.iter().any(|(id, _)| *id == rule.id);
        if !fixtures.contains(rule.id) && !elsewhere {
            missing.push(rule.id);
        }
        assert!(
            !(fixtures.contains(rule.id) && elsewhere),
            "{} has a fixture; drop it from COVERED_ELSEWHERE",
            rule.id
        );
    }
    for name in &fixtures {
        assert!(
            pgrehearse::registry::rule(name).is_some(),
            "tests/fixtures/rules/{name} is not named after a rule id"
        );
    }
    assert!(
        missing.is_empty(),
        "rules without a fixture in tests/fixtures/rules/ or an entry in COVERED_ELSEWHERE: {missing:?}"
    );
}
