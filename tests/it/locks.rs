//! Lock and rewrite tracing on tables that existed before the migration, observed on real servers.

use crate::harness::{Engine, check_json, fixture, repo};

fn locks(engine: Engine) {
    let run = check_json(&fixture("locks"), engine, &[]);
    // Lock findings only: the autocommit files also get static partial-failure findings.
    let mut got = lock_findings(&run);
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
    if crate::harness::skip_docker() {
        return;
    }
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
    let dir = repo(&[
        (
            "migrations/001_tables.sql",
            "CREATE TABLE accounts (id bigint PRIMARY KEY, email text);\n",
        ),
        (
            "migrations/002_reset.sql",
            "DEALLOCATE ALL;\nCREATE INDEX accounts_email_idx ON accounts (email);\nDISCARD ALL;\n\
             ALTER TABLE accounts ALTER COLUMN id TYPE numeric;\n",
        ),
    ]);
    let run = check_json(dir.path(), Engine::Local, &[]);
    let file = "migrations/002_reset.sql".to_string();
    assert_eq!(
        lock_findings(&run),
        vec![
            ("index-without-concurrently".to_string(), file.clone(), 2),
            ("table-rewrite".to_string(), file, 4),
        ],
        "{}",
        run.json
    );
    assert_eq!(run.code(), 1, "{}", run.json);
}

/// (rule, file, line) of every lock finding.
fn lock_findings(run: &crate::harness::Run) -> Vec<(String, String, u64)> {
    run.findings()
        .iter()
        .filter(|f| f["category"] == "lock")
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or("").to_string(),
                f["file"].as_str().unwrap_or("").to_string(),
                f["line"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

const MULTI: &str = "CREATE INDEX accounts_email_idx ON accounts (email);\n\
                     ALTER TABLE accounts ALTER COLUMN score TYPE bigint;\n\
                     CREATE TABLE notes (id int, account_id bigint);\n\
                     ALTER TABLE notes ADD CONSTRAINT notes_account_fk FOREIGN KEY (account_id) REFERENCES notes_parent (id);\n\
                     ALTER TABLE accounts ADD CONSTRAINT accounts_score_positive CHECK (score > 0);\n";

#[test]
fn multi_statement_files_are_traced_statement_by_statement() {
    // golang-migrate sends each file as one multi-statement query (one implicit transaction); dbmate
    // wraps it in BEGIN … COMMIT. Either way each statement's locks are told apart: the index build and
    // the rewrite and validation of the existing table are found at their own lines, and the brand-new
    // table is not.
    let setup = "CREATE TABLE accounts (id bigint PRIMARY KEY, email text, score int);\n\
                 CREATE TABLE notes_parent (id bigint PRIMARY KEY);\n";
    let golang = repo(&[
        ("db/migrations/001_init.up.sql", setup),
        ("db/migrations/001_init.down.sql", "SELECT 1;\n"),
        ("db/migrations/002_change.up.sql", MULTI),
        ("db/migrations/002_change.down.sql", "SELECT 1;\n"),
    ]);
    let dbmate_setup = format!("-- migrate:up\n{setup}-- migrate:down\n");
    let dbmate_change = format!("-- migrate:up\n{MULTI}-- migrate:down\n");
    let dbmate = repo(&[
        ("db/migrations/20240101000000_init.sql", &dbmate_setup),
        ("db/migrations/20240102000000_change.sql", &dbmate_change),
    ]);
    for (dir, file, first) in [
        (&golang, "db/migrations/002_change.up.sql", 1),
        (&dbmate, "db/migrations/20240102000000_change.sql", 2),
    ] {
        let run = check_json(dir.path(), Engine::Local, &[]);
        let mut got = lock_findings(&run);
        got.retain(|f| f.0 != "lock-without-timeout");
        let at = |rule: &str, line: u64| (rule.to_string(), file.to_string(), line);
        assert_eq!(
            got,
            vec![
                at("index-without-concurrently", first),
                at("table-rewrite", first + 1),
                // Nothing for the new table's foreign key (notes is new and empty); the CHECK
                // validates every row of the existing table.
                at("validation-scan", first + 4),
            ],
            "{}",
            run.json
        );
        assert_eq!(run.code(), 1, "{}", run.json);
    }
}

#[test]
fn a_multi_statement_file_failing_at_commit_still_fails_whole() {
    // A deferred foreign key is checked when the implicit transaction of the one query ends: traced
    // statement by statement, the migration still fails there and nothing of it stays applied.
    let dir = repo(&[
        (
            "db/migrations/001_init.up.sql",
            "CREATE TABLE parents (id int PRIMARY KEY);\n",
        ),
        ("db/migrations/001_init.down.sql", "SELECT 1;\n"),
        (
            "db/migrations/002_children.up.sql",
            "CREATE TABLE children (parent_id int REFERENCES parents DEFERRABLE INITIALLY DEFERRED);\n\
             INSERT INTO children VALUES (1);\n",
        ),
        ("db/migrations/002_children.down.sql", "SELECT 1;\n"),
    ]);
    for extra in [&[][..], &["--no-lock-trace"][..]] {
        let run = check_json(dir.path(), Engine::Local, extra);
        let failed = run.rule("migration-failed");
        assert_eq!(failed.len(), 1, "{extra:?} {}", run.json);
        assert_eq!(failed[0]["file"], "db/migrations/002_children.up.sql");
        assert_eq!(failed[0]["evidence"]["sqlstate"], "23503", "{}", run.json);
        let set = &run.json["summary"]["sets"][0];
        assert_eq!(set["applied"], 1, "{extra:?} {}", run.json);
        assert_eq!(set["status"], "failed");
    }
}

#[test]
fn a_traced_multi_statement_file_fails_at_the_same_place_as_untraced() {
    // The probe runs between the statements of the one query; PostgreSQL's error position counts from
    // the start of that query, and must still land on the failing token of the file.
    let dir = repo(&[
        (
            "db/migrations/001_init.up.sql",
            "CREATE TABLE accounts (id bigint PRIMARY KEY, email text);\n",
        ),
        ("db/migrations/001_init.down.sql", "SELECT 1;\n"),
        (
            "db/migrations/002_change.up.sql",
            "CREATE INDEX accounts_email_idx ON accounts (email);\n\
             ALTER TABLE accounts ADD COLUMN note text;\n\
             UPDATE accounts SET note = missing_column;\n",
        ),
        ("db/migrations/002_change.down.sql", "SELECT 1;\n"),
    ]);
    let place = |extra: &[&str]| {
        let run = check_json(dir.path(), Engine::Local, extra);
        let failed = run.rule("migration-failed");
        assert_eq!(failed.len(), 1, "{}", run.json);
        (
            failed[0]["file"].as_str().unwrap_or("").to_string(),
            failed[0]["line"].as_u64(),
            failed[0]["column"].as_u64(),
            failed[0]["evidence"]["statement"].as_u64(),
        )
    };
    let traced = place(&[]);
    assert_eq!(
        traced,
        (
            "db/migrations/002_change.up.sql".to_string(),
            Some(3),
            Some(28),
            Some(3)
        )
    );
    assert_eq!(traced, place(&["--no-lock-trace"]));
}
