//! Replay cases on fixture repositories, each run on the local and the docker engine, asserting findings
//! at exact lines and columns.

use crate::harness::{Engine, NON_ATOMIC, check_json, fixture};

/// Defines `local_<name>` and `docker_<name>` tests that run `$body(engine)`.
macro_rules! on_both_engines {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn local() {
                ($body)(Engine::Local)
            }
            #[test]
            fn docker() {
                if crate::harness::skip_docker() {
                    return;
                }
                ($body)(Engine::Docker)
            }
        }
    };
}

on_both_engines!(mysql_migration_in_drizzle_project, |engine| {
    let run = check_json(&fixture("drizzle-mysql"), engine, &[]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let file = "drizzle/0001_legacy_orders.sql";
    // Every MySQL construct is reported, not only the first one PostgreSQL rejects.
    let mysql = run.positions("mysql-syntax");
    for expected in [
        (1, 14), // `orders`
        (2, 3),  // `id`
        (2, 21), // AUTO_INCREMENT
        (5, 16), // datetime
        (5, 51), // ON UPDATE CURRENT_TIMESTAMP
        (7, 3),  // ENGINE=InnoDB
    ] {
        assert!(
            mysql.contains(&(file.to_string(), expected.0, expected.1)),
            "no mysql-syntax finding at {file}:{}:{}; got {mysql:?}",
            expected.0,
            expected.1
        );
    }
    // PostgreSQL itself stops at the first backtick: the replay confirms the finding there, and
    // the two are one finding.
    assert_eq!(run.rule("migration-failed").len(), 0);
    assert_eq!(
        run.failure_positions("migration-failed"),
        vec![(file.to_string(), 1, 14)]
    );
    let failed = run.failures("migration-failed")[0];
    assert_eq!(failed["rule"], "mysql-syntax");
    assert_eq!(failed["evidence"]["sqlstate"], "42601");
    // drizzle-kit migrate applies all pending migrations in one transaction: nothing was applied.
    let set = &run.json["summary"]["sets"][0];
    assert_eq!(set["runner"], "drizzle");
    assert_eq!(set["applied"], 0);
    assert_eq!(set["status"], "failed");
    assert_eq!(
        failed["evidence"]["not_applied"],
        serde_json::json!(["0000_init", "0001_legacy_orders"])
    );
});

on_both_engines!(journal_orphan_is_reported, |engine| {
    let run = check_json(&fixture("drizzle-orphan"), engine, &[]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    // 0001 alters a table of 0000 with no lock_timeout.
    assert_eq!(run.rules(), vec!["journal-orphan", "lock-without-timeout"]);
    let orphan = run.rule("journal-orphan")[0];
    assert_eq!(orphan["file"], "migrations/0002_backfill_by_hand.sql");
    assert_eq!(orphan["category"], "discovery");
    let set = &run.json["summary"]["sets"][0];
    assert_eq!(set["applied"], 2);
    assert_eq!(set["status"], "ok");
});

on_both_engines!(concurrently_in_prisma_migration_fails, |engine| {
    let run = check_json(&fixture("prisma-concurrently"), engine, &[]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    // The static rule says the same without a database, at the same statement: one finding,
    // carrying the replay's evidence.
    assert_eq!(run.rules(), vec!["not-allowed-in-transaction"]);
    let file = "prisma/migrations/20240102000000_search/migration.sql";
    assert_eq!(
        run.positions("not-allowed-in-transaction"),
        vec![(file.to_string(), 5, 1)]
    );
    // No error position: the whole failing statement (the second one) is the location.
    assert_eq!(
        run.failure_positions("migration-failed"),
        vec![(file.to_string(), 5, 1)]
    );
    let f = run.failures("migration-failed")[0];
    assert_eq!(f["end_line"], 5);
    assert_eq!(f["evidence"]["sqlstate"], "25001");
    assert_eq!(f["evidence"]["statement"], 2);
    assert_eq!(
        f["evidence"]["not_applied"],
        serde_json::json!(["20240103000000_later"])
    );
    assert!(
        f["help"]
            .as_str()
            .unwrap_or("")
            .contains("alone in a migration of its own"),
        "{f}"
    );
    let set = &run.json["summary"]["sets"][0];
    assert_eq!(set["runner"], "prisma");
    assert_eq!(set["applied"], 1);
});

on_both_engines!(enum_value_used_in_same_golang_migrate_file, |engine| {
    let run = check_json(&fixture("golang-enum"), engine, &[]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert_eq!(run.rules(), vec!["enum-value-used-in-same-transaction"]);
    // The static rule points at the use of the new value, like PostgreSQL does.
    assert_eq!(
        run.positions("enum-value-used-in-same-transaction")
            .iter()
            .map(|(f, l, _)| (f.as_str(), *l))
            .collect::<Vec<_>>(),
        vec![("db/migrations/000002_archive.up.sql", 4)]
    );
    // PostgreSQL's error position points at the literal 'archived' on line 4.
    assert_eq!(
        run.failure_positions("migration-failed"),
        vec![("db/migrations/000002_archive.up.sql".to_string(), 4, 14)]
    );
    let f = run.failures("migration-failed")[0];
    assert_eq!(f["end_column"], 24);
    assert_eq!(f["evidence"]["sqlstate"], "55P04");
    assert_eq!(f["evidence"]["statement"], 2);
    assert_eq!(f["evidence"]["not_applied"], serde_json::json!(["3"]));
    let set = &run.json["summary"]["sets"][0];
    assert_eq!(set["runner"], "golang-migrate");
    assert_eq!(set["migrations"], 3);
    assert_eq!(set["applied"], 1);
});

on_both_engines!(autocommit_failure_leaves_earlier_statements, |engine| {
    let run = check_json(&fixture("psql-partial"), engine, &[]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert_eq!(
        run.rules_without(NON_ATOMIC),
        vec!["migration-failed", "partially-applied"]
    );
    // Statically, the failing file was already known not to be atomic.
    assert!(
        run.rule("non-atomic-migration")
            .iter()
            .any(|f| f["file"] == "migrations/002_invoices.sql"),
        "{}",
        run.json
    );
    let file = "migrations/002_invoices.sql".to_string();
    let failed = run.rule("migration-failed")[0];
    assert_eq!(failed["line"], 6, "{failed}");
    assert_eq!(failed["evidence"]["sqlstate"], "42P01");
    assert_eq!(failed["evidence"]["statement"], 3);
    assert_eq!(
        failed["evidence"]["not_applied"],
        serde_json::json!(["010_later"])
    );
    // The committed part spans the first two statements (lines 2-4).
    assert_eq!(run.positions("partially-applied"), vec![(file, 2, 1)]);
    let partial = run.rule("partially-applied")[0];
    assert_eq!(partial["end_line"], 4);
    assert_eq!(partial["category"], "partial-failure");
    let set = &run.json["summary"]["sets"][0];
    assert_eq!(set["runner"], "psql");
    assert_eq!(set["applied"], 1);
});

on_both_engines!(missing_extension_is_an_environment_finding, |engine| {
    let run = check_json(&fixture("needs-extension"), engine, &[]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert_eq!(run.rules_without(NON_ATOMIC), vec!["missing-extension"]);
    let f = run.rule("missing-extension")[0];
    assert_eq!(f["category"], "environment");
    assert_eq!(f["file"], "migrations/001_embeddings.sql");
    assert_eq!(f["line"], 3);
    let message = f["message"].as_str().unwrap_or("");
    assert!(message.contains("`vector`"), "{message}");
    let help = f["help"].as_str().unwrap_or("");
    assert!(help.contains("--image pgvector/pgvector:pg"), "{help}");
    assert_eq!(f["evidence"]["extra"]["extension"], "vector");
});

on_both_engines!(prisma_lock_for_mysql_is_a_dialect_finding, |engine| {
    let run = check_json(&fixture("prisma-mysql-lock"), engine, &[]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert_eq!(
        run.positions("dialect-mismatch"),
        vec![("migrations/migration_lock.toml".to_string(), 3, 13)]
    );
    assert!(!run.rule("mysql-syntax").is_empty());
});

on_both_engines!(monorepo_sets_replay_into_separate_databases, |engine| {
    // Both sets create the same cluster-wide role; each must start from a clean cluster.
    let run = check_json(&fixture("monorepo"), engine, &[]);
    assert_eq!(run.code(), 0, "{}\n{}", run.stderr(), run.json);
    assert!(run.rules_without(NON_ATOMIC).is_empty(), "{}", run.json);
    let sets = run.json["summary"]["sets"].as_array().expect("sets");
    assert_eq!(sets.len(), 2);
    for set in sets {
        assert_eq!(set["status"], "ok");
        assert_eq!(set["applied"], 1);
    }
});

#[test]
fn duplicate_golang_migrate_versions_refuse_the_set_without_a_database() {
    // The runner refuses to start, so no engine is needed: the docker engine with a bogus image proves
    // that none was started.
    let run = crate::harness::command()
        .args([
            "check",
            "--format",
            "json",
            "--engine",
            "docker",
            "--image",
            "pgrehearse-test/never-started:0",
        ])
        .arg(fixture("golang-duplicate"))
        .output()
        .expect("runs");
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).expect("json report");
    assert_eq!(run.status.code(), Some(1));
    let dups: Vec<&str> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "duplicate-version")
        .map(|f| f["file"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        dups,
        vec!["migrations/01_second.up.sql", "migrations/1_first.up.sql"]
    );
    assert_eq!(json["summary"]["sets"][0]["status"], "skipped");
    assert_eq!(json["summary"]["engine"], serde_json::Value::Null);
}

on_both_engines!(copy_from_stdin_data_is_fed_like_psql, |engine| {
    // The data lines (one holds a quote) are copied, not parsed as SQL: the later INSERT fails on the
    // key the COPY loaded.
    let run = check_json(&fixture("psql-copy"), engine, &[]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert_eq!(
        run.positions("migration-failed"),
        vec![("migrations/001_seed.sql".to_string(), 7, 1)]
    );
    let f = run.rule("migration-failed")[0];
    assert_eq!(f["evidence"]["sqlstate"], "23505");
    assert_eq!(f["evidence"]["statement"], 4);
});

on_both_engines!(configured_runner_and_prelude_are_used, |engine| {
    // Without the prelude, 001 fails (no schema `app`, no role). Under psql-single-transaction the
    // failing 002 leaves nothing half-applied, so there is no partial-failure finding.
    let run = check_json(&fixture("configured"), engine, &[]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    // 002 first alters app.items (from 001) with no lock_timeout, then fails.
    assert_eq!(
        run.rules(),
        vec!["lock-without-timeout", "migration-failed"]
    );
    let f = run.rule("migration-failed")[0];
    assert_eq!(f["file"], "sql/schema/002_prices.sql");
    assert_eq!(f["line"], 2);
    assert_eq!(f["evidence"]["sqlstate"], "0A000");
    let sets = run.json["summary"]["sets"].as_array().expect("sets");
    assert_eq!(sets.len(), 1, "only the configured set is replayed");
    assert_eq!(sets[0]["runner"], "psql-single-transaction");
    assert_eq!(sets[0]["applied"], 1);
});

/// Other-dialect SQL in files the runner never applies is reported like an applied file's, and the
/// finding says the file is not applied: a Drizzle journal orphan and a golang-migrate file with a name
/// the runner ignores, both in MySQL, next to a PostgreSQL orphan that stays a plain orphan.
#[test]
fn mysql_in_files_the_runner_never_applies() {
    let journal = r#"{"version": "7", "dialect": "postgresql", "entries": [
  {"idx": 0, "version": "7", "when": 1717000000000, "tag": "0000_init", "breakpoints": true}]}"#;
    let dir = crate::harness::repo(&[
        ("drizzle/meta/_journal.json", journal),
        (
            "drizzle/0000_init.sql",
            "CREATE TABLE \"accounts\" (\"id\" bigint PRIMARY KEY);\n",
        ),
        (
            "drizzle/0001_legacy.sql",
            "CREATE TABLE `legacy` (\n  `id` int NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB;\n",
        ),
        (
            "drizzle/0002_by_hand.sql",
            "UPDATE \"accounts\" SET \"id\" = \"id\";\n",
        ),
        (
            "db/migrations/1_init.up.sql",
            "CREATE TABLE notes (id bigint PRIMARY KEY);\n",
        ),
        (
            "db/migrations/2_tags.sql",
            "CREATE TABLE tags (name VARCHAR(20)) ENGINE=InnoDB;\n",
        ),
    ]);
    for command in ["check", "lint"] {
        let run = if command == "check" {
            check_json(dir.path(), Engine::Local, &[])
        } else {
            crate::harness::lint_json(dir.path())
        };
        assert_eq!(run.code(), 1, "{command}: {}", run.stderr());
        let mysql = run.positions("mysql-syntax");
        for expected in [
            ("drizzle/0001_legacy.sql", 1, 14), // `legacy`
            ("drizzle/0001_legacy.sql", 2, 21), // AUTO_INCREMENT
            ("drizzle/0001_legacy.sql", 4, 3),  // ENGINE=InnoDB
            ("db/migrations/2_tags.sql", 1, 38),
        ] {
            assert!(
                mysql.contains(&(expected.0.to_string(), expected.1, expected.2)),
                "{command}: no mysql-syntax at {expected:?}; got {mysql:?}"
            );
        }
        for f in run.rule("mysql-syntax") {
            assert_eq!(f["evidence"]["extra"]["applied"], "never", "{f}");
            assert!(
                f["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("is never applied today"),
                "{f}"
            );
        }
        // The PostgreSQL orphan is only an orphan; each unapplied file keeps its discovery finding.
        assert!(
            mysql
                .iter()
                .all(|(file, _, _)| file != "drizzle/0002_by_hand.sql"),
            "{mysql:?}"
        );
        assert_eq!(run.rule("journal-orphan").len(), 2, "{command}");
        assert_eq!(
            run.rule("unrecognized-migration-file").len(),
            1,
            "{command}"
        );
    }
}

/// A static finding the replay confirms and the replay's failure are one finding; a findings
/// baseline records both, so that the next run still matches it.
#[test]
fn a_confirmed_failure_is_one_finding_and_baselines_as_both() {
    let dir = tempfile::tempdir().expect("tempdir");
    crate::harness::copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/shop"),
        dir.path(),
    );
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert_eq!(
        run.rules(),
        vec!["journal-orphan", "not-allowed-in-transaction"]
    );
    let f = run.rule("not-allowed-in-transaction")[0];
    assert_eq!(f["severity"], "error");
    assert_eq!(f["evidence"]["confirmed_by"]["rule"], "migration-failed");
    assert_eq!(f["evidence"]["sqlstate"], "25001");
    assert_eq!(
        f["evidence"]["not_applied"],
        serde_json::json!(["0000_init", "0001_orders", "0002_order_search"])
    );
    let out = crate::harness::command()
        .args(["baseline", "--engine", "local"])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("recorded 3 finding(s)"),
        "{out:?}"
    );
    let again = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(again.code(), 0, "{}", again.json);
    assert!(again.findings().is_empty(), "{}", again.json);
    assert_eq!(again.json["summary"]["baselined"], 3, "{}", again.json);
}
