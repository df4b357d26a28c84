//! Errors a user can cause: each names the file or the option, says what to do, and exits with 2.

use std::process::Output;

use crate::harness::{command, fixture};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn repo_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, content) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }
    dir
}

#[test]
fn unknown_config_key_names_its_line() {
    let repo = repo_with(&[
        (
            ".pgrehearse.yaml",
            b"sets:\n  - path: migrations\n    runer: psql\n",
        ),
        ("migrations/001_a.sql", b"SELECT 1;\n"),
    ]);
    let out = command()
        .args(["check", "--engine", "local"])
        .arg(repo.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains(".pgrehearse.yaml:3:"), "{err}");
    assert!(err.contains("unknown field `runer`"), "{err}");
}

#[test]
fn malformed_drizzle_journal_names_the_file() {
    let repo = repo_with(&[
        (
            "drizzle/meta/_journal.json",
            b"{ \"entries\": [ { \"tag\": 1 } ] ",
        ),
        ("drizzle/0000_a.sql", b"SELECT 1;\n"),
    ]);
    let out = command()
        .args(["check", "--engine", "local"])
        .arg(repo.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("drizzle/meta/_journal.json"), "{err}");
    assert!(err.contains("malformed Drizzle journal"), "{err}");
}

#[test]
fn non_utf8_migration_names_the_file() {
    let repo = repo_with(&[("migrations/001_latin1.sql", b"SELECT 'caf\xe9';\n")]);
    let out = command()
        .args(["check", "--engine", "local"])
        .arg(repo.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("migrations/001_latin1.sql"), "{err}");
    assert!(err.contains("UTF-8"), "{err}");
}

#[test]
fn missing_path_is_an_error() {
    let out = command()
        .args(["check", "/nonexistent/pgrehearse-repo"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent/pgrehearse-repo: does not exist"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn url_engine_without_url_says_which_flag() {
    let out = command()
        .args(["check", "--engine", "url"])
        .arg(fixture("psql-partial"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--database-url"), "{}", stderr(&out));
}

#[test]
fn repository_without_migrations_is_clean_with_a_notice() {
    let repo = repo_with(&[("README.md", b"nothing here\n")]);
    let out = command()
        .args(["check", "--format", "json"])
        .arg(repo.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["version"], 1);
    assert_eq!(json["findings"][0]["rule"], "no-migrations");
    assert_eq!(json["findings"][0]["severity"], "notice");
    // --fail-on notice turns the notice into a failing exit code.
    let out = command()
        .args(["check", "--fail-on", "notice", "-q"])
        .arg(repo.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn docker_engine_without_a_daemon_fails_fast_and_names_the_alternatives() {
    let started = std::time::Instant::now();
    let out = command()
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["check", "--engine", "docker"])
        .arg(fixture("psql-partial"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("no Docker daemon answered"), "{err}");
    assert!(err.contains("--engine local"), "{err}");
    assert!(err.contains("--database-url"), "{err}");
    // A guard against hanging, not a speed target (that is measured by the benchmark).
    assert!(started.elapsed().as_secs() < 20);
}

#[test]
fn docker_unpullable_image_fails_with_the_image_name() {
    if crate::harness::skip_docker() {
        return;
    }
    let out = command()
        .env("PGREHEARSE_PULL_TIMEOUT", "30")
        .args([
            "check",
            "--engine",
            "docker",
            "--image",
            "pgrehearse-test/does-not-exist:0",
        ])
        .arg(fixture("psql-partial"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("`pgrehearse-test/does-not-exist:0`"), "{err}");
    assert!(err.contains("--engine local"), "{err}");
}

#[test]
fn human_output_shows_the_source_line_and_help() {
    let out = command()
        .args(["check", "--engine", "local"])
        .arg(fixture("golang-enum"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    // The replay's failure confirms the static finding at the same statement: one finding.
    assert!(
        text.contains("error[enum-value-used-in-same-transaction]"),
        "{text}"
    );
    assert!(!text.contains("error[migration-failed]"), "{text}");
    assert!(text.contains("the replay confirms it"), "{text}");
    assert!(
        text.contains("db/migrations/000002_archive.up.sql:4:14"),
        "{text}"
    );
    assert!(text.contains("SET status = 'archived'"), "{text}");
    assert!(text.contains("earlier migration"), "{text}");
}

#[test]
fn github_output_is_workflow_commands() {
    let out = command()
        .args(["check", "--engine", "local", "--format", "github"])
        .arg(fixture("golang-enum"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("::error "))
        .unwrap_or_else(|| panic!("no ::error command in {text}"));
    assert!(
        line.starts_with(
            "::error file=db/migrations/000002_archive.up.sql,line=4,col=14,endLine=4,endColumn=23,"
        ),
        "{line}"
    );
}

#[test]
fn auto_engine_with_nothing_available_explains_all_three() {
    let out = command()
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env("PGREHEARSE_PG_BINDIR", "/nonexistent/bin")
        .arg("check")
        .arg(fixture("psql-partial"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("no engine can run the replay"), "{err}");
    assert!(err.contains("- url: no `--database-url` given"), "{err}");
    assert!(err.contains("- docker: no Docker daemon answered"), "{err}");
    assert!(
        err.contains("- local: no PostgreSQL server binaries found"),
        "{err}"
    );
}

#[test]
fn drizzle_journal_for_mysql_is_a_dialect_finding_at_its_line() {
    let repo = repo_with(&[(
        "drizzle/meta/_journal.json",
        b"{\n  \"version\": \"7\",\n  \"dialect\": \"mysql\",\n  \"entries\": []\n}\n",
    )]);
    let out = command()
        .args(["check", "--format", "json"])
        .arg(repo.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let f = &json["findings"][0];
    assert_eq!(f["rule"], "dialect-mismatch");
    assert_eq!(f["file"], "drizzle/meta/_journal.json");
    assert_eq!(
        (f["line"].as_u64(), f["column"].as_u64()),
        (Some(3), Some(14))
    );
    // Nothing to replay: no engine was started.
    assert_eq!(json["summary"]["engine"], serde_json::Value::Null);
}

#[test]
fn a_set_at_the_repository_root_reports_plain_repository_paths() {
    // `sets: [{path: .}]` (also `./db`): finding paths are the repository's own (`002_drop.sql`,
    // `db/002_drop.sql`), never `./002_drop.sql`, in every format, so annotations and code scanning
    // land on the file.
    let schema = "CREATE TABLE accounts (id bigint PRIMARY KEY);\nCREATE VIEW active AS SELECT id FROM accounts;\n";
    for (set, file) in [(".", "002_drop.sql"), ("./db/.", "db/002_drop.sql")] {
        let dir_of = |f: &str| {
            if set == "." {
                f.to_string()
            } else {
                format!("db/{f}")
            }
        };
        let config = format!("sets:\n  - path: {set}\n    runner: psql\n");
        let dir = repo_with(&[
            (".pgrehearse.yaml", config.as_bytes()),
            (&dir_of("001_schema.sql"), schema.as_bytes()),
            (&dir_of("002_drop.sql"), b"DROP VIEW active;\n"),
        ]);
        let run = |format: &str| {
            let out = command()
                .arg("lint")
                .arg(dir.path())
                .args(["--format", format])
                .output()
                .expect("runs");
            // drop-object is a warning: below the default --fail-on error.
            assert_eq!(out.status.code(), Some(0), "{format}: {}", stderr(&out));
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let json: serde_json::Value = serde_json::from_str(&run("json")).expect("json report");
        let files: Vec<&str> = json["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter_map(|f| f["file"].as_str())
            .collect();
        assert!(files.contains(&file), "{set}: {files:?}");
        assert!(
            files
                .iter()
                .all(|f| !f.starts_with("./") && !f.contains("/./")),
            "{set}: {files:?}"
        );
        let github = run("github");
        assert!(github.contains(&format!("file={file},")), "{set}: {github}");
        assert!(!github.contains("file=./"), "{set}: {github}");
        let sarif: serde_json::Value = serde_json::from_str(&run("sarif")).expect("sarif report");
        let uris: Vec<&str> = sarif["runs"][0]["results"]
            .as_array()
            .expect("results")
            .iter()
            .filter_map(|r| {
                r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].as_str()
            })
            .collect();
        assert!(uris.contains(&file), "{set}: {uris:?}");
        assert!(uris.iter().all(|u| !u.contains("./")), "{set}: {uris:?}");
    }
}
