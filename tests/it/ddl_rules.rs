//! The static DDL rules (`src/rules/ddl/`) through `pgrehearse lint`: no database, the files alone.
//!
//! `rule_fixtures` checks each fixture with `check --engine local`; here the same fixtures go through
//! `lint`, which must report exactly the static part of each `expect.txt` (findings observed during
//! replay, such as `validation-scan`, need a database and are left out).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::command;

fn rule_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rules")
        .join(name)
}

/// `pgrehearse lint <repo> --format json`: the exit code and `<rule> <file>:<line>` of every finding.
fn lint(repo: &Path) -> (i32, Vec<String>) {
    let output = command()
        .arg("lint")
        .arg(repo)
        .args(["--format", "json"])
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "lint stdout is not a JSON report ({e})\nstdout:\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let findings = json["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    format!(
                        "{} {}:{}",
                        f["rule"].as_str().unwrap_or(""),
                        f["file"].as_str().unwrap_or("-"),
                        f["line"].as_u64().unwrap_or(0)
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (output.status.code().unwrap_or(-1), findings)
}

/// The fixtures of the static DDL rules: one per rule id.
const STATIC_FIXTURES: &[&str] = pgrehearse::rules::ddl::IDS;

#[test]
fn lint_reports_the_destructive_drops_at_their_lines() {
    // drop-object: the view and the sequence dropped for good, and the procedure and the cast dropped
    // with DROP ROUTINE and DROP CAST; the view and the function dropped and re-created in the same
    // migration are redefinitions and stay quiet.
    let (code, got) = lint(&rule_fixture("drop-object"));
    assert_eq!(
        got,
        [
            "drop-object migrations/002_drop.sql:4",
            "drop-object migrations/002_drop.sql:5",
            "drop-object migrations/004_drop_routine_cast.sql:3",
            "drop-object migrations/004_drop_routine_cast.sql:4",
        ],
        "{got:?}"
    );
    // Warnings only: lint fails on errors by default.
    assert_eq!(code, 0);
}

#[test]
fn lint_reports_data_dependent_and_type_rules_without_a_database() {
    let (_, got) = lint(&rule_fixture("not-null-on-existing-data"));
    // Lines 4 and 7 (its backfill leaves rows out); 003 sets NOT NULL after a backfill and a validated
    // CHECK, and the temporary CHECK it drops belongs to that pattern. validation-scan (observed during
    // replay) is not in a lint.
    assert_eq!(
        got,
        [
            "not-null-on-existing-data migrations/002_not_null.sql:4",
            "not-null-on-existing-data migrations/002_not_null.sql:7"
        ]
    );
    let (_, got) = lint(&rule_fixture("domain-constraint"));
    assert_eq!(
        got,
        [
            "domain-constraint migrations/001_schema.sql:3",
            "domain-constraint migrations/002_domain.sql:4",
        ]
    );
}

#[test]
fn lint_matches_the_static_part_of_every_ddl_rule_fixture() {
    let mut failures = Vec::new();
    for name in STATIC_FIXTURES {
        assert_eq!(
            pgrehearse::registry::stage(name),
            pgrehearse::registry::Stage::Static,
            "{name} is a static rule"
        );
        let dir = rule_fixture(name);
        let text = std::fs::read_to_string(dir.join("expect.txt"))
            .unwrap_or_else(|e| panic!("{name}/expect.txt: {e}"));
        let expected: BTreeSet<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter(|l| {
                let rule = l.split_whitespace().next().unwrap_or("");
                let rule = rule.split('+').next().unwrap_or(rule);
                pgrehearse::registry::stage(rule) == pgrehearse::registry::Stage::Static
            })
            // `<rule>+<replay rule>`: the static finding the replay confirmed; lint has only its part.
            .map(|l| {
                let mut words: Vec<&str> = l.split_whitespace().collect();
                if let Some(first) = words.first_mut() {
                    *first = first.split('+').next().unwrap_or(first);
                }
                words.join(" ")
            })
            .collect();
        assert!(
            expected.iter().any(|f| f.starts_with(&format!("{name} "))),
            "{name}: its expect.txt lists no {name} finding"
        );
        let (code, got) = lint(&dir);
        let got: BTreeSet<String> = got.into_iter().collect();
        if got != expected {
            failures.push(format!(
                "{name}:\n  missing:    {:?}\n  unexpected: {:?}",
                expected.difference(&got).collect::<Vec<_>>(),
                got.difference(&expected).collect::<Vec<_>>()
            ));
        }
        if ![0, 1].contains(&code) {
            failures.push(format!("{name}: exit code {code}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
