//! Fault injection: every failure point of a non-atomic migration, then a retry of the whole file.

use crate::harness::{Engine, check_json, fixture};

fn faults(engine: Engine) {
    let run = check_json(&fixture("faults"), engine, &["--fault-injection"]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    // The ALTER TABLEs on tables of earlier migrations also take ACCESS EXCLUSIVE locks with no
    // lock_timeout (lock tracing runs alongside).
    assert_eq!(
        run.rules_without(crate::harness::NON_ATOMIC),
        vec![
            "lock-without-timeout",
            "lock-without-timeout",
            "retry-fails",
            "retry-fails"
        ]
    );
    let found: Vec<(String, u64, String, String)> = run
        .rule("retry-fails")
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap_or("").to_string(),
                f["line"].as_u64().unwrap_or(0),
                f["evidence"]["extra"]["failure_after_statement"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                f["evidence"]["sqlstate"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            // Failing after statement 1 leaves the column; the retry's ADD COLUMN fails.
            (
                "migrations/002_email.sql".to_string(),
                1,
                "1".to_string(),
                "42701".to_string()
            ),
            // Failing after statement 1 is harmless (IF NOT EXISTS); after 2, the index exists.
            (
                "migrations/003_audit.sql".to_string(),
                2,
                "2".to_string(),
                "42P07".to_string()
            ),
        ]
    );
    // 004 is re-runnable at every point: no finding. The main replay itself is clean.
    assert_eq!(run.json["summary"]["sets"][0]["status"], "ok");
}

#[test]
fn local_fault_injection_finds_the_first_failure_point_whose_retry_fails() {
    faults(Engine::Local);
}

#[test]
fn docker_fault_injection_finds_the_first_failure_point_whose_retry_fails() {
    if crate::harness::skip_docker() {
        return;
    }
    faults(Engine::Docker);
}

#[test]
fn fault_injection_is_opt_in() {
    let run = check_json(&fixture("faults"), Engine::Local, &[]);
    assert_eq!(run.code(), 0, "{}", run.json);
    assert!(run.rule("retry-fails").is_empty(), "{}", run.json);
}

#[test]
fn goose_no_transaction_retry_names_the_bookkeeping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = dir.path().join("db/migrations");
    std::fs::create_dir_all(&m).expect("mkdir");
    std::fs::write(
        m.join("00001_t.sql"),
        "-- +goose Up\nCREATE TABLE t (id int);\n",
    )
    .expect("write");
    std::fs::write(
        m.join("00002_idx.sql"),
        "-- +goose NO TRANSACTION\n-- +goose Up\nALTER TABLE t ADD COLUMN a int;\nCREATE INDEX CONCURRENTLY t_a_idx ON t (a);\n",
    )
    .expect("write");
    let run = check_json(dir.path(), Engine::Local, &["--fault-injection"]);
    let f = run.rule("retry-fails");
    assert_eq!(f.len(), 1, "{}", run.json);
    assert_eq!(f[0]["line"], 3);
    assert!(
        f[0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("goose records nothing for version 2"),
        "{}",
        f[0]
    );
}
