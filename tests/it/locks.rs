//! Lock and rewrite tracing on tables that existed before the migration, observed on real servers.

use crate::harness::{Engine, check_json, fixture};

fn locks(engine: Engine) {
    let run = check_json(&fixture("locks"), engine, &[]);
    // Lock findings only: the autocommit files also get static partial-failure findings.
    let mut got: Vec<(String, String, u64)> = run
        .findings()
        .iter()
        .filter(|f| f["category"] == "lock")
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or("").to_string(),
                f["file"].as_str().unwrap_or("").to_string(),
                f["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    got.sort_by(|a, b| (&a.1, a.2).cmp(&(&b.1, b.2)));
    let risky = |rule: &str, line| {
        (
            rule.to_string(),
            "migrations/002_risky.sql".to_string(),
            line,
        )
    };
    // 001 only touches tables it creates; 003 uses the safe forms (CONCURRENTLY, NOT VALID +
    // VALIDATE, a constant default, lock_timeout set): no finding for either.
    assert_eq!(
        got,
        vec![
            risky("index-without-concurrently", 1),
            risky("table-rewrite", 2),
            risky("validation-scan", 3),
            risky("validation-scan", 4),
            risky("table-rewrite", 5),
            risky("lock-without-timeout", 6),
            risky("drop-column", 7),
            risky("rename", 8),
        ],
        "{}",
        run.json
    );
    let rewrite = run.rule("table-rewrite")[0];
    assert_eq!(rewrite["evidence"]["extra"]["lock"], "ACCESS EXCLUSIVE");
    assert_eq!(rewrite["evidence"]["extra"]["table"], "public.accounts");
    assert_eq!(run.code(), 1);
}

#[test]
fn local_locks_rewrites_and_scans_on_existing_tables() {
    locks(Engine::Local);
}

#[test]
fn docker_locks_rewrites_and_scans_on_existing_tables() {
    locks(Engine::Docker);
}

#[test]
fn lock_tracing_can_be_turned_off() {
    let run = check_json(&fixture("locks"), Engine::Local, &["--no-lock-trace"]);
    assert_eq!(run.code(), 0, "{}", run.json);
    assert!(
        run.findings().iter().all(|f| f["category"] != "lock"),
        "{}",
        run.json
    );
}

#[test]
fn tracing_survives_a_migration_that_deallocates_prepared_statements() {
    // The probe is a prepared statement of the replay session; `DEALLOCATE ALL` and `DISCARD ALL` in a
    // migration remove it, and tracing has to go on after them.
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    std::fs::write(
        migrations.join("001_tables.sql"),
        "CREATE TABLE accounts (id bigint PRIMARY KEY, email text);\n",
    )
    .unwrap();
    std::fs::write(
        migrations.join("002_reset.sql"),
        "DEALLOCATE ALL;\nCREATE INDEX accounts_email_idx ON accounts (email);\nDISCARD ALL;\n\
         ALTER TABLE accounts ALTER COLUMN id TYPE numeric;\n",
    )
    .unwrap();
    let run = check_json(dir.path(), Engine::Local, &[]);
    let got: Vec<(String, u64)> = run
        .findings()
        .iter()
        .filter(|f| f["category"] == "lock")
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or("").to_string(),
                f["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("index-without-concurrently".to_string(), 2),
            ("table-rewrite".to_string(), 4),
        ],
        "{}",
        run.json
    );
    assert_eq!(run.code(), 1, "{}", run.json);
}
