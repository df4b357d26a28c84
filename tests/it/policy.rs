//! What a repository says about findings: suppression comments, the findings baseline, rule levels in
//! `.pgrehearse.yaml`, and `explain` / `rules`. Real binary, real local PostgreSQL for the replay rules.

use std::path::Path;

use serde_json::Value;

use crate::harness::{Engine, check_json, command};

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// `(rule, file, line)` of every finding, sorted.
fn located(json: &Value) -> Vec<(String, String, u64)> {
    let mut v: Vec<(String, String, u64)> = json["findings"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or("").to_string(),
                f["file"].as_str().unwrap_or("").to_string(),
                f["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    v.sort();
    v
}

fn lint_json(root: &Path, extra: &[&str]) -> (i32, Value, String) {
    let out = command()
        .arg("lint")
        .arg(root)
        .args(["--format", "json"])
        .args(extra)
        .output()
        .expect("runs");
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One transaction per file keeps the expected lists to the lock rules under test.
const SINGLE_TRANSACTION: &str =
    "sets:\n  - path: migrations\n    runner: psql-single-transaction\n";

#[test]
fn baseline_round_trip_reports_only_new_findings_and_survives_edits() {
    let repo = tempfile::tempdir().expect("tempdir");
    let root = repo.path();
    write(root, ".pgrehearse.yaml", SINGLE_TRANSACTION);
    write(
        root,
        "migrations/001_tables.sql",
        "CREATE TABLE accounts (id bigint PRIMARY KEY, legacy_id bigint, note text);\n",
    );
    write(
        root,
        "migrations/002_cleanup.sql",
        "SET lock_timeout = '2s';\nALTER TABLE accounts DROP COLUMN legacy_id;\nALTER TABLE accounts RENAME COLUMN note TO remark;\n",
    );
    let before = check_json(root, Engine::Local, &[]);
    let recorded = located(&before.json);
    assert_eq!(
        recorded,
        vec![
            ("drop-column".into(), "migrations/002_cleanup.sql".into(), 2),
            ("rename".into(), "migrations/002_cleanup.sql".into(), 3),
        ],
        "{}",
        before.json
    );

    // Record them.
    let out = command()
        .arg("baseline")
        .arg(root)
        .args(["--engine", "local"])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("recorded 2 finding(s)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join(".pgrehearse-baseline.json")).expect("baseline written"),
    )
    .expect("baseline is JSON");
    assert_eq!(file["version"], 1);
    assert_eq!(file["findings"].as_array().map(Vec::len), Some(2));

    // Nothing new: clean, and the summary says what was left out.
    let run = check_json(root, Engine::Local, &["--fail-on", "warning"]);
    assert_eq!(located(&run.json), vec![], "{}", run.json);
    assert_eq!(run.json["summary"]["baselined"], 2);
    assert_eq!(run.code(), 0);

    // Lines move (a comment on top) and a new risky migration arrives: only the new one is reported.
    write(
        root,
        "migrations/002_cleanup.sql",
        "-- cleanup of the 2.x columns\nSET lock_timeout = '2s';\nALTER TABLE accounts DROP COLUMN legacy_id;\nALTER TABLE accounts\n  RENAME COLUMN note TO remark;\n",
    );
    write(
        root,
        "migrations/003_more.sql",
        "SET lock_timeout = '2s';\nALTER TABLE accounts DROP COLUMN remark;\n",
    );
    let run = check_json(root, Engine::Local, &["--fail-on", "warning"]);
    assert_eq!(
        located(&run.json),
        vec![("drop-column".into(), "migrations/003_more.sql".into(), 2)],
        "{}",
        run.json
    );
    assert_eq!(run.code(), 1);
    // --no-baseline shows everything.
    let run = check_json(root, Engine::Local, &["--no-baseline"]);
    assert_eq!(run.findings().len(), 3, "{}", run.json);

    // A recorded finding is fixed: the baseline is reported stale.
    write(
        root,
        "migrations/002_cleanup.sql",
        "SET lock_timeout = '2s';\nALTER TABLE accounts DROP COLUMN legacy_id;\n",
    );
    write(
        root,
        "migrations/003_more.sql",
        "SET lock_timeout = '2s';\nALTER TABLE accounts DROP COLUMN note;\n",
    );
    let run = check_json(root, Engine::Local, &[]);
    assert_eq!(
        located(&run.json),
        vec![
            ("drop-column".into(), "migrations/003_more.sql".into(), 2),
            (
                "stale-baseline".into(),
                ".pgrehearse-baseline.json".into(),
                0
            ),
        ],
        "{}",
        run.json
    );

    // A damaged baseline stops the run with exit 2 and names the file.
    write(
        root,
        ".pgrehearse-baseline.json",
        "{\"version\": 1, \"findings\": 7}",
    );
    let run = command()
        .arg("check")
        .arg(root)
        .args(["--engine", "local"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(".pgrehearse-baseline.json: not a pgrehearse baseline file"),
        "{stderr}"
    );
}

#[test]
fn suppressions_and_rule_levels_apply_to_lint_and_check() {
    let repo = tempfile::tempdir().expect("tempdir");
    let root = repo.path();
    write(
        root,
        "migrations/001_users.sql",
        "-- pgrehearse-ignore: mysql-syntax imported from the legacy service, converted by hand below\n\
         CREATE TABLE `users` (id int);\n\
         CREATE TABLE `teams` (id int);\n",
    );
    let (code, json, stderr) = lint_json(root, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        located(&json)
            .into_iter()
            .filter(|(r, _, _)| r == "mysql-syntax")
            .collect::<Vec<_>>(),
        // The comment covers the statement under it, not the next one.
        vec![("mysql-syntax".into(), "migrations/001_users.sql".into(), 3)],
        "{json}"
    );
    assert_eq!(json["summary"]["suppressed"], 1);

    // rules: turns the rule off everywhere, or changes its severity.
    write(root, ".pgrehearse.yaml", "rules:\n  mysql-syntax: notice\n");
    let (code, json, _) = lint_json(root, &[]);
    assert_eq!(code, 0, "{json}");
    assert!(
        json["findings"].as_array().is_some_and(|f| f
            .iter()
            .filter(|f| f["rule"] == "mysql-syntax")
            .all(|f| f["severity"] == "notice")),
        "{json}"
    );
    write(root, ".pgrehearse.yaml", "rules:\n  mysql-syntax: off\n");
    let (_, json, _) = lint_json(root, &[]);
    assert!(
        json["findings"]
            .as_array()
            .is_some_and(|f| f.iter().all(|f| f["rule"] != "mysql-syntax")),
        "{json}"
    );

    // An unknown rule id in the configuration is an error at its line.
    write(root, ".pgrehearse.yaml", "rules:\n  mysql-syntx: off\n");
    let (code, _, stderr) = lint_json(root, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains(".pgrehearse.yaml:2:3"), "{stderr}");
    assert!(stderr.contains("did you mean `mysql-syntax`"), "{stderr}");
}

#[test]
fn security_rules_obey_suppressions_and_rule_levels() {
    let repo = tempfile::tempdir().expect("tempdir");
    let root = repo.path();
    write(
        root,
        "migrations/001_ops.sql",
        "-- pgrehearse-ignore: alter-system dedicated reporting server, configured by this repository\n\
         ALTER SYSTEM SET work_mem = '64MB';\n",
    );
    write(
        root,
        "migrations/002_export.sql",
        "COPY (SELECT 1) TO PROGRAM 'cat > /dev/null';\n",
    );
    // copy-program is an error: lint fails; the suppressed alter-system is counted, not reported.
    let (code, json, stderr) = lint_json(root, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        located(&json),
        vec![("copy-program".into(), "migrations/002_export.sql".into(), 1)],
        "{json}"
    );
    assert_eq!(json["summary"]["suppressed"], 1);
    assert_eq!(json["findings"][0]["category"], "security");

    write(
        root,
        ".pgrehearse.yaml",
        "rules:\n  copy-program: warning\n",
    );
    let (code, json, _) = lint_json(root, &[]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["findings"][0]["severity"], "warning", "{json}");

    write(root, ".pgrehearse.yaml", "rules:\n  copy-program: off\n");
    let (code, json, _) = lint_json(root, &[]);
    assert_eq!(code, 0, "{json}");
    assert!(located(&json).is_empty(), "{json}");
}

#[test]
fn lock_rule_suppressions_count_only_when_lock_tracing_ran() {
    let repo = tempfile::tempdir().expect("tempdir");
    let root = repo.path();
    write(root, ".pgrehearse.yaml", SINGLE_TRANSACTION);
    write(
        root,
        "migrations/001_tables.sql",
        "CREATE TABLE accounts (id bigint PRIMARY KEY, legacy_id bigint);\n",
    );
    write(
        root,
        "migrations/002_cleanup.sql",
        "SET lock_timeout = '2s';\n-- pgrehearse-ignore: drop-column unused since 2.3\nALTER TABLE accounts DROP COLUMN legacy_id;\n",
    );
    let run = check_json(root, Engine::Local, &["--fail-on", "notice"]);
    assert_eq!(located(&run.json), vec![], "{}", run.json);
    assert_eq!(run.json["summary"]["suppressed"], 1);
    // Without lock tracing the suppression cannot be judged: no unused-suppression notice.
    let run = check_json(
        root,
        Engine::Local,
        &["--no-lock-trace", "--fail-on", "notice"],
    );
    assert_eq!(located(&run.json), vec![], "{}", run.json);
    // lint cannot observe lock rules either.
    let (code, json, _) = lint_json(root, &["--fail-on", "notice"]);
    assert_eq!((code, located(&json)), (0, vec![]));
}

#[test]
fn explain_prints_the_rule_page_and_rules_lists_the_registry() {
    let out = command()
        .args(["explain", "index-without-concurrently"])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text.starts_with("index-without-concurrently (lock, default severity warning)"),
        "{text}"
    );
    assert!(text.contains("## Example"), "{text}");
    assert!(text.contains("CONCURRENTLY"), "{text}");

    let out = command()
        .args(["explain", "index-without-concurrenty"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("Did you mean `index-without-concurrently`?"),
        "{stderr}"
    );

    let out = command()
        .args(["rules", "--format", "json"])
        .output()
        .expect("runs");
    let list: Value = serde_json::from_slice(&out.stdout).expect("json");
    let ids: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    let registry: Vec<&str> = pgrehearse::registry::RULES.iter().map(|r| r.id).collect();
    assert_eq!(ids, registry);
}
