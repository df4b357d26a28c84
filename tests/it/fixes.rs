//! Fix-and-recheck: for every fixable rule, a fixture repository whose findings of that rule all carry a
//! safe fix; `check --fix` applies them, and checking the fixed files again on a real PostgreSQL reports
//! none of that rule and no error. The goose case proves an unsafe fix is left alone by `--fix` and that
//! the opt-out its help names really lets the suggested statement run.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::harness::{Engine, check_json, command, engine_args};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("fixture exists").flatten() {
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).expect("copy");
        }
    }
}

fn check_fix(repo: &Path) -> Output {
    command()
        .arg("check")
        .arg(repo)
        .args(engine_args(Engine::Local))
        .args(["--fix", "--format", "json"])
        .output()
        .expect("the binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Copies `fixture` (relative to tests/fixtures), checks that every `rule` finding has a safe fix,
/// applies them with `--fix`, and checks again: no finding of the rule and no error is left.
fn fix_and_recheck(fixture: &str, rule: &str) {
    let (before, after) = fix_and_recheck_some(fixture, rule);
    assert_eq!(
        before.rule(rule).len(),
        before
            .rule(rule)
            .iter()
            .filter(|f| f["fix"]["safe"] == Value::Bool(true))
            .count(),
        "{fixture}: every {rule} finding has a safe fix"
    );
    let errors: Vec<&Value> = after
        .findings()
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    assert!(
        errors.is_empty(),
        "{fixture}: errors after --fix: {errors:?}"
    );
    assert_eq!(after.code(), 0, "{}", after.stderr());
}

/// Like [`fix_and_recheck`] for a fixture where only some `rule` findings have a safe fix: exactly
/// those are gone after `--fix`, the others stay, and no rule reports an error it did not before.
/// Returns the runs before and after.
fn fix_and_recheck_some(fixture: &str, rule: &str) -> (crate::harness::Run, crate::harness::Run) {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    copy_dir(&fixtures().join(fixture), &repo);

    let before = check_json(&repo, Engine::Local, &[]);
    let found = before.rule(rule);
    let fixable: Vec<&Value> = found
        .iter()
        .copied()
        .filter(|f| f["fix"]["safe"] == Value::Bool(true))
        .collect();
    assert!(!fixable.is_empty(), "{fixture}: no {rule} finding to fix");
    for f in &fixable {
        assert!(f["fix"]["line"].as_u64().unwrap_or(0) > 0, "{f}");
    }

    let out = check_fix(&repo);
    let err = stderr(&out);
    assert!(
        [0, 1].contains(&out.status.code().unwrap_or(-1)),
        "{fixture}: {err}"
    );
    let fixed_lines = err
        .lines()
        .filter(|l| l.starts_with("fixed ") && l.contains(&format!(": {rule}: ")))
        .count();
    assert_eq!(fixed_lines, fixable.len(), "{fixture}: {err}");
    assert!(err.contains("--fix applied"), "{err}");
    // The report printed by --fix no longer holds the findings it fixed.
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let left = report["findings"]
        .as_array()
        .map_or(0, |a| a.iter().filter(|f| f["rule"] == rule).count());
    assert_eq!(left, found.len() - fixable.len(), "{fixture}: {report}");

    let after = check_json(&repo, Engine::Local, &[]);
    assert_eq!(
        after.rule(rule).len(),
        found.len() - fixable.len(),
        "{fixture}: {rule} after --fix: {:?}",
        after.findings()
    );
    let errors_before: Vec<&str> = before
        .findings()
        .iter()
        .filter(|f| f["severity"] == "error")
        .filter_map(|f| f["rule"].as_str())
        .collect();
    let new_errors: Vec<&Value> = after
        .findings()
        .iter()
        .filter(|f| f["severity"] == "error")
        .filter(|f| !errors_before.contains(&f["rule"].as_str().unwrap_or("")))
        .collect();
    assert!(
        new_errors.is_empty(),
        "{fixture}: new errors after --fix: {new_errors:?}"
    );
    // Nothing left to fix: a second --fix changes nothing.
    let again = check_fix(&repo);
    assert!(
        stderr(&again).contains("--fix applied 0 fix(es) in 0 file(s)"),
        "{}",
        stderr(&again)
    );
    (before, after)
}

#[test]
fn mysql_syntax_fixes_replay_cleanly() {
    fix_and_recheck("fixes/mysql-syntax", "mysql-syntax");
}

#[test]
fn tsql_syntax_fixes_replay_cleanly() {
    fix_and_recheck("fixes/tsql-syntax", "tsql-syntax");
}

#[test]
fn sqlite_syntax_fixes_replay_cleanly() {
    fix_and_recheck("rules/sqlite-syntax", "sqlite-syntax");
}

#[test]
fn index_without_concurrently_fix_replays_cleanly() {
    fix_and_recheck(
        "fixes/index-without-concurrently",
        "index-without-concurrently",
    );
}

#[test]
fn drop_index_without_concurrently_fix_replays_cleanly() {
    // A static rule: `lint` offers the same fix, knowing the runner's transactions without a database.
    let out = command()
        .arg("lint")
        .arg(fixtures().join("rules/drop-index-without-concurrently"))
        .args(["--format", "json"])
        .output()
        .expect("runs");
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let fix = report["findings"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|f| f["rule"] == "drop-index-without-concurrently")
        })
        .map(|f| f["fix"].clone());
    assert_eq!(
        fix,
        Some(serde_json::json!({
            "file": "migrations/002_drop_email_idx.sql", "line": 2, "column": 11, "end_line": 2,
            "end_column": 11, "replacement": " CONCURRENTLY", "safe": true
        }))
    );
    fix_and_recheck(
        "rules/drop-index-without-concurrently",
        "drop-index-without-concurrently",
    );
}

#[test]
fn reindex_without_concurrently_fix_replays_cleanly() {
    // The two REINDEX statements that turn CONCURRENTLY off in an option list get no fix.
    let (before, _) = fix_and_recheck_some(
        "rules/reindex-without-concurrently",
        "reindex-without-concurrently",
    );
    assert_eq!(before.rule("reindex-without-concurrently").len(), 3);
}

#[test]
fn constraint_builds_index_fix_replays_cleanly() {
    // The named UNIQUE constraint is fixed; the unnamed primary key is not (no index name to give).
    let (before, _) =
        fix_and_recheck_some("rules/constraint-builds-index", "constraint-builds-index");
    assert_eq!(before.rule("constraint-builds-index").len(), 2);
}

#[test]
fn validation_scan_fix_replays_cleanly() {
    fix_and_recheck("fixes/validation-scan", "validation-scan");
}

#[test]
fn fixed_text_is_the_postgresql_equivalent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    copy_dir(&fixtures().join("fixes/validation-scan"), &repo);
    let out = check_fix(&repo);
    assert!(out.status.code().is_some(), "{}", stderr(&out));
    let text = std::fs::read_to_string(repo.join("migrations/002_constraints.sql")).unwrap();
    assert_eq!(
        text,
        "SET lock_timeout = '5s';\n\
         ALTER TABLE members ADD CONSTRAINT members_team_fk\n  \
         FOREIGN KEY (team_id) REFERENCES teams (id) ON DELETE CASCADE NOT VALID;\n\
         ALTER TABLE members VALIDATE CONSTRAINT members_team_fk;\n\
         ALTER TABLE public.members ADD CONSTRAINT members_age_check CHECK (age >= 0) NOT VALID;\n\
         ALTER TABLE public.members VALIDATE CONSTRAINT members_age_check;\n"
    );
}

#[test]
fn a_fix_inside_the_runner_s_transaction_is_unsafe_and_its_opt_out_works() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    copy_dir(&fixtures().join("fixes/goose-transaction"), &repo);
    let file = repo.join("db/migrations/00002_users_email_idx.sql");
    let original = std::fs::read_to_string(&file).unwrap();

    let before = check_json(&repo, Engine::Local, &[]);
    let found = before.rule("index-without-concurrently");
    assert_eq!(found.len(), 1, "{:?}", before.findings());
    let finding = found[0];
    assert_eq!(finding["fix"]["safe"], Value::Bool(false), "{finding}");
    assert_eq!(finding["fix"]["replacement"], " CONCURRENTLY");
    let help = finding["help"].as_str().unwrap_or_default();
    assert!(help.contains("-- +goose NO TRANSACTION"), "{help}");

    // --fix leaves the unsafe fix alone and says so.
    let out = check_fix(&repo);
    assert!(
        stderr(&out).contains("1 unsafe fix(es) not applied"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), original);

    // Applying the suggestion without the opt-out fails in goose's transaction ...
    let line = finding["fix"]["line"].as_u64().unwrap() as usize;
    let column = finding["fix"]["column"].as_u64().unwrap() as usize;
    let mut lines: Vec<String> = original.lines().map(str::to_string).collect();
    let target = &mut lines[line - 1];
    let at = target
        .char_indices()
        .nth(column - 1)
        .map_or(target.len(), |(i, _)| i);
    target.insert_str(at, " CONCURRENTLY");
    let suggested = lines.join("\n") + "\n";
    std::fs::write(&file, &suggested).unwrap();
    let failed = check_json(&repo, Engine::Local, &[]);
    assert!(
        !failed.failures("migration-failed").is_empty(),
        "{:?}",
        failed.findings()
    );
    // ... and runs once the file opts out as the help says.
    std::fs::write(&file, format!("-- +goose NO TRANSACTION\n{suggested}")).unwrap();
    let after = check_json(&repo, Engine::Local, &[]);
    assert!(
        after.failures("migration-failed").is_empty()
            && after.rule("index-without-concurrently").is_empty(),
        "{:?}",
        after.findings()
    );
}

#[test]
fn lint_fix_reports_what_it_changed_and_refuses_non_utf8_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("migrations")).unwrap();
    let file = repo.join("migrations/001_a.sql");
    std::fs::write(&file, "CREATE TABLE `a` (id int) ENGINE=InnoDB;\n").unwrap();
    let out = command()
        .arg("lint")
        .arg(&repo)
        .arg("--fix")
        .output()
        .expect("runs");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("fixed migrations/001_a.sql:1:14: mysql-syntax: `` `a` `` → `\"a\"`"),
        "{err}"
    );
    assert!(
        err.contains("fixed migrations/001_a.sql:1:26: mysql-syntax: removed `ENGINE=InnoDB`"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "CREATE TABLE \"a\" (id int);\n"
    );

    // A file that is not UTF-8 is an error naming it, and nothing is written.
    let latin1 = repo.join("migrations/002_b.sql");
    let mut bytes = b"CREATE TABLE `b` (name text DEFAULT '".to_vec();
    bytes.push(0xE9);
    bytes.extend_from_slice(b"');\n");
    std::fs::write(&latin1, &bytes).unwrap();
    std::fs::write(&file, "CREATE TABLE `a` (id int);\n").unwrap();
    let out = command()
        .arg("lint")
        .arg(&repo)
        .arg("--fix")
        .output()
        .expect("runs");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("002_b.sql") && err.contains("UTF-8"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "CREATE TABLE `a` (id int);\n"
    );
    assert_eq!(std::fs::read(&latin1).unwrap(), bytes);
}

#[test]
fn fixes_show_in_the_human_report_and_the_json_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("migrations")).unwrap();
    // A CRLF file with a non-ASCII comment before the construct: columns count characters.
    std::fs::write(
        repo.join("migrations/001_a.sql"),
        "-- café\r\nCREATE TABLE a (id int AUTO_INCREMENT, at DATETIME(3));\r\n",
    )
    .unwrap();
    let out = command().arg("lint").arg(&repo).output().expect("runs");
    let human = String::from_utf8_lossy(&out.stdout);
    assert!(
        human.contains(
            "= help: fix: replace `AUTO_INCREMENT` with `GENERATED BY DEFAULT AS IDENTITY` (`--fix` applies it)"
        ),
        "{human}"
    );
    assert!(
        human.contains("= help: fix: replace `DATETIME(3)` with `timestamp(3)`"),
        "{human}"
    );

    let out = command()
        .arg("lint")
        .arg(&repo)
        .args(["--format", "json"])
        .output()
        .expect("runs");
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let fixes: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f.get("fix"))
        .collect();
    assert_eq!(
        fixes,
        [
            &serde_json::json!({
                "file": "migrations/001_a.sql", "line": 2, "column": 24, "end_line": 2,
                "end_column": 38, "replacement": "GENERATED BY DEFAULT AS IDENTITY", "safe": true
            }),
            &serde_json::json!({
                "file": "migrations/001_a.sql", "line": 2, "column": 43, "end_line": 2,
                "end_column": 54, "replacement": "timestamp(3)", "safe": true
            }),
        ]
    );
    // GitHub workflow commands carry the fix after the help line.
    let out = command()
        .arg("lint")
        .arg(&repo)
        .args(["--format", "github"])
        .output()
        .expect("runs");
    let commands = String::from_utf8_lossy(&out.stdout);
    assert!(
        commands.contains("%0Afix: replace `AUTO_INCREMENT` with `GENERATED BY DEFAULT AS IDENTITY` (`--fix` applies it)"),
        "{commands}"
    );
    // Findings without a fix have no `fix` key at all.
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["rule"] == "mysql-syntax" || f.get("fix").is_none())
    );
}

#[test]
fn migrations_generated_for_another_database_are_not_rewritten() {
    // Prisma's migration_lock.toml says `mysql`: the fix is the provider, not an edit of each file.
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    copy_dir(&fixtures().join("repos/prisma-mysql-lock"), &repo);
    let before = snapshot(&repo);
    let out = command()
        .arg("lint")
        .arg(&repo)
        .arg("--fix")
        .output()
        .expect("runs");
    let err = stderr(&out);
    assert!(
        err.contains("--fix applied 0 fix(es) in 0 file(s)"),
        "{err}"
    );
    assert!(err.contains("unsafe fix(es) not applied"), "{err}");
    assert_eq!(snapshot(&repo), before);
}

/// Every file under `dir` with its bytes, in path order.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((path.clone(), std::fs::read(&path).expect("read")));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn not_valid_in_a_runner_transaction_is_unsafe_and_its_advice_works() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    copy_dir(&fixtures().join("fixes/goose-validate"), &repo);
    let before = check_json(&repo, Engine::Local, &[]);
    let found = before.rule("validation-scan");
    assert_eq!(found.len(), 1, "{:?}", before.findings());
    assert_eq!(found[0]["fix"]["safe"], Value::Bool(false), "{}", found[0]);
    let help = found[0]["help"].as_str().unwrap_or_default();
    assert!(
        help.contains("goose wraps the migration in one transaction")
            && help.contains("move the `VALIDATE CONSTRAINT` into a later migration"),
        "{help}"
    );
    // Applied as suggested within goose's transaction, the VALIDATE still runs under the ADD's lock.
    let file = repo.join("db/migrations/00002_members_team_fk.sql");
    let text = std::fs::read_to_string(&file).unwrap();
    let replacement = found[0]["fix"]["replacement"].as_str().unwrap();
    let stmt_end = text.find("(id);").unwrap() + "(id)".len();
    let same_file = format!(
        "{}{replacement}{}",
        &text[..stmt_end],
        &text[stmt_end + 1..]
    );
    std::fs::write(&file, &same_file).unwrap();
    let same = check_json(&repo, Engine::Local, &[]);
    assert!(
        same.rule("validation-scan")
            .iter()
            .any(|f| f["evidence"]["extra"]["same-transaction"] == "true"),
        "{:?}",
        same.findings()
    );
    // Following the help (VALIDATE in the next migration) leaves no lock finding.
    let (add, validate) = replacement.split_once('\n').unwrap();
    std::fs::write(
        &file,
        format!("{}{add}{}", &text[..stmt_end], &text[stmt_end + 1..]),
    )
    .unwrap();
    std::fs::write(
        repo.join("db/migrations/00003_validate_members_team_fk.sql"),
        format!("-- +goose Up\n{validate}\n\n-- +goose Down\nSELECT 1;\n"),
    )
    .unwrap();
    let after = check_json(&repo, Engine::Local, &[]);
    assert!(
        after.rule("validation-scan").is_empty() && after.failures("migration-failed").is_empty(),
        "{:?}",
        after.findings()
    );
}
