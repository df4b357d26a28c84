//! `--jobs`: a monorepo's migration sets replay concurrently, each in its own database, and the report
//! is the same, in the same order, whatever the number of jobs.

use crate::harness::command;

fn check(repo: &std::path::Path, jobs: &str) -> (i32, String, String) {
    let out = command()
        .arg("check")
        .arg(repo)
        .args([
            "--engine",
            "local",
            "--format",
            "json",
            "--fail-on",
            "never",
            "--jobs",
            jobs,
        ])
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn sets_replayed_concurrently_report_as_one_by_one() {
    let repo = tempfile::tempdir().unwrap();
    // Four sets; each creates the same table names (its own database), one fails, one creates a
    // role (run alone, after the others).
    let sets = [
        (
            "zeta",
            "CREATE TABLE t (id int);\nALTER TABLE t ADD COLUMN n int NOT NULL DEFAULT 0;\n",
        ),
        (
            "alpha",
            "CREATE TABLE t (id int PRIMARY KEY);\nCREATE INDEX t_idx ON t (id);\n",
        ),
        (
            "mid",
            "CREATE TABLE t (id int);\nSELECT * FROM missing_table;\n",
        ),
        (
            "roles",
            "CREATE ROLE pgrehearse_jobs_test NOLOGIN;\nCREATE TABLE t (id int);\n",
        ),
    ];
    let mut config = String::from("sets:\n");
    for (name, sql) in sets {
        let dir = repo.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("001_init.sql"), sql).unwrap();
        config.push_str(&format!("  - path: {name}\n    runner: psql\n"));
    }
    config.push_str("privileged:\n  - {statement: create-role}\n");
    std::fs::write(repo.path().join(".pgrehearse.yaml"), config).unwrap();
    let (code1, one, err1) = check(repo.path(), "1");
    let (code4, four, err4) = check(repo.path(), "4");
    assert_eq!(code1, 0, "{err1}");
    assert_eq!(code4, 0, "{err4}");
    assert_eq!(one, four);
    let json: serde_json::Value = serde_json::from_str(&four).unwrap();
    let paths: Vec<&str> = json["summary"]["sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["path"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(paths, ["zeta", "alpha", "mid", "roles"]);
    let statuses: Vec<&str> = json["summary"]["sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(statuses, ["ok", "ok", "failed", "ok"]);
}

#[test]
fn jobs_must_be_at_least_one() {
    let out = command()
        .args(["check", ".", "--jobs", "0"])
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--jobs"));
}
