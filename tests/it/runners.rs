//! Each runner's order, Up/Down sections and transaction annotations, replayed on the local engine
//! (runner semantics do not depend on the engine; the engine matrix is in `replay_cases`).

use serde_json::json;

use crate::harness::{Engine, Run, check_json, repo};

fn run(name: &str) -> Run {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/repos/runners")
        .join(name);
    check_json(&repo, Engine::Local, &[])
}

fn run_fixture(name: &str) -> Run {
    check_json(&crate::harness::fixture(name), Engine::Local, &[])
}

fn set(run: &Run) -> &serde_json::Value {
    &run.json["summary"]["sets"][0]
}

#[test]
fn goose_up_sections_no_transaction_and_statement_blocks() {
    // 00002 builds an index CONCURRENTLY under `-- +goose NO TRANSACTION`; 00003 is a function kept
    // whole by StatementBegin/End; the Down sections never run; the Go migration stops the replay.
    let run = run("goose-ok");
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.rules(), vec!["unreplayable-migration"]);
    let f = run.rule("unreplayable-migration")[0];
    assert_eq!(f["file"], "db/migrations/00004_backfill.go");
    assert_eq!(f["severity"], "notice");
    assert_eq!(set(&run)["runner"], "goose");
    assert_eq!(set(&run)["applied"], 3);
    assert_eq!(set(&run)["status"], "partial");
}

#[test]
fn goose_cuts_a_function_without_statement_begin_at_its_first_semicolon() {
    let run = run("goose-broken");
    assert_eq!(run.code(), 1, "{}", run.stderr());
    // The cut-off `END;` goose sends on its own commits the migration's transaction.
    assert_eq!(
        run.rules(),
        vec!["migration-failed", "transaction-control-in-migration"]
    );
    let f = run.rule("migration-failed")[0];
    assert_eq!(f["file"], "db/migrations/00002_touch.sql");
    // PostgreSQL points at the `$$` whose body goose cut off.
    assert_eq!(
        (f["line"].as_u64(), f["column"].as_u64()),
        (Some(2), Some(44))
    );
    assert_eq!(f["evidence"]["sqlstate"], "42601");
    assert_eq!(set(&run)["applied"], 1);
}

#[test]
fn dbmate_sections_and_transaction_false() {
    // 0102 runs CONCURRENTLY with transaction:false; 0103 uses an enum value in the transaction
    // that adds it.
    let run = run("dbmate");
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert_eq!(run.rules(), vec!["enum-value-used-in-same-transaction"]);
    let f = run.failures("migration-failed")[0];
    assert_eq!(f["file"], "db/migrations/20240103000000_refunds.sql");
    assert_eq!(
        (f["line"].as_u64(), f["column"].as_u64()),
        (Some(3), Some(27))
    );
    assert_eq!(f["evidence"]["sqlstate"], "55P04");
    assert_eq!(set(&run)["runner"], "dbmate");
    assert_eq!(set(&run)["applied"], 2);
}

#[test]
fn sqlx_no_transaction_directive() {
    let run = run("sqlx");
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert_eq!(run.rules(), vec!["not-allowed-in-transaction"]);
    let f = run.failures("migration-failed")[0];
    assert_eq!(
        f["file"],
        "migrations/20240103000000_events_created_idx.sql"
    );
    assert_eq!(f["line"], 2);
    assert_eq!(f["evidence"]["sqlstate"], "25001");
    assert!(
        f["help"]
            .as_str()
            .unwrap_or("")
            .contains("-- no-transaction"),
        "{f}"
    );
    assert_eq!(set(&run)["runner"], "sqlx");
    assert_eq!(set(&run)["applied"], 2);
}

#[test]
fn diesel_folders_in_order_with_run_in_transaction_false() {
    let run = run("diesel");
    assert_eq!(run.code(), 0, "{}\n{}", run.stderr(), run.json);
    assert!(run.findings().is_empty(), "{}", run.json);
    assert_eq!(set(&run)["runner"], "diesel");
    assert_eq!(set(&run)["applied"], 3);
    assert_eq!(set(&run)["status"], "ok");
}

#[test]
fn flyway_versions_repeatables_and_mixed_transactions() {
    // V1, V1_1 (dotted version order), V2 (only a non-transactional statement: runs outside a
    // transaction), then V3 mixes both kinds, which Flyway refuses; R__ would run last.
    let run = run("flyway");
    assert_eq!(run.code(), 1, "{}", run.stderr());
    // V1_1 alters the table of V1 with no lock_timeout.
    assert_eq!(
        run.rules(),
        vec!["lock-without-timeout", "runner-rejects-migration"]
    );
    let f = run.rule("runner-rejects-migration")[0];
    assert_eq!(f["file"], "db/migration/V3__plan.sql");
    assert_eq!(f["line"], 2);
    assert_eq!(
        f["evidence"]["not_applied"],
        json!(["3", "R accounts view"])
    );
    assert_eq!(set(&run)["runner"], "flyway");
    assert_eq!(set(&run)["migrations"], 5);
    assert_eq!(set(&run)["applied"], 3);
}

#[test]
fn supabase_migrations_folder() {
    let run = run("supabase");
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(run.findings().is_empty(), "{}", run.json);
    assert_eq!(set(&run)["path"], "supabase/migrations");
    assert_eq!(set(&run)["runner"], "supabase");
    assert_eq!(set(&run)["applied"], 1);
}

/// (rule, file) of every finding of the discovery stage and of the runner's refusals.
fn file_findings(run: &Run) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = run
        .findings()
        .iter()
        .filter(|f| {
            matches!(
                f["rule"].as_str(),
                Some(
                    "unrecognized-migration-file"
                        | "duplicate-version"
                        | "runner-rejects-migration"
                )
            )
        })
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or("").to_string(),
                f["file"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

const TABLE: &str = "CREATE TABLE t (id int);\n";

#[test]
fn misnamed_files_each_runner_skips_are_reported_and_not_replayed() {
    let dbmate_up = "-- migrate:up\nCREATE TABLE t (id int);\n-- migrate:down\n";
    for (files, skipped, applied) in [
        // dbmate takes any name that starts with digits, `_` or not.
        (
            vec![
                ("db/migrations/20240101-init.sql", dbmate_up),
                ("db/migrations/add_users.sql", dbmate_up),
            ],
            "db/migrations/add_users.sql",
            1,
        ),
        // sqlx skips a name without `_`.
        (
            vec![
                (
                    "Cargo.toml",
                    "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[dependencies]\nsqlx = \"0.8\"\n",
                ),
                ("migrations/20240101000000_init.sql", TABLE),
                ("migrations/cleanup.sql", TABLE),
            ],
            "migrations/cleanup.sql",
            1,
        ),
        // The Supabase CLI wants `<timestamp>_<name>.sql`.
        (
            vec![
                ("supabase/migrations/20240101000000_init.sql", TABLE),
                ("supabase/migrations/20240102-seed.sql", TABLE),
            ],
            "supabase/migrations/20240102-seed.sql",
            1,
        ),
        // Flyway wants two underscores and a capital prefix; callbacks are not migrations.
        (
            vec![
                ("db/migration/V1__init.sql", TABLE),
                ("db/migration/V2_add_users.sql", TABLE),
                ("db/migration/afterMigrate.sql", "SELECT 1;\n"),
            ],
            "db/migration/V2_add_users.sql",
            1,
        ),
    ] {
        let dir = repo(&files);
        let run = check_json(dir.path(), Engine::Local, &[]);
        assert_eq!(
            file_findings(&run),
            vec![(
                "unrecognized-migration-file".to_string(),
                skipped.to_string()
            )],
            "{files:?}: {}",
            run.json
        );
        assert_eq!(set(&run)["applied"], applied, "{files:?}: {}", run.json);
        assert_eq!(set(&run)["status"], "ok", "{files:?}: {}", run.json);
    }
}

#[test]
fn names_that_make_the_runner_refuse_the_folder() {
    let goose_up = "-- +goose Up\nCREATE TABLE t (id int);\n";
    for (files, refusing, rule) in [
        // goose stops on any .sql file it cannot parse a version from.
        (
            vec![
                ("db/migrations/00001_init.sql", goose_up),
                ("db/migrations/fix_users.sql", goose_up),
            ],
            vec!["db/migrations/fix_users.sql"],
            "runner-rejects-migration",
        ),
        // sqlx stops on a name whose part before `_` is not an integer.
        (
            vec![
                (
                    "Cargo.toml",
                    "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[dependencies]\nsqlx = \"0.8\"\n",
                ),
                ("migrations/20240101000000_init.sql", TABLE),
                ("migrations/v2_users.sql", TABLE),
            ],
            vec!["migrations/v2_users.sql"],
            "runner-rejects-migration",
        ),
        // Flyway: `1.0` is version 1.
        (
            vec![
                ("db/migration/V1__init.sql", TABLE),
                ("db/migration/V1.0__again.sql", TABLE),
            ],
            vec!["db/migration/V1.0__again.sql", "db/migration/V1__init.sql"],
            "duplicate-version",
        ),
    ] {
        let dir = repo(&files);
        let run = check_json(dir.path(), Engine::Local, &[]);
        let expected: Vec<(String, String)> = refusing
            .iter()
            .map(|f| (rule.to_string(), f.to_string()))
            .collect();
        assert_eq!(file_findings(&run), expected, "{files:?}: {}", run.json);
        assert_eq!(set(&run)["status"], "skipped", "{files:?}: {}", run.json);
        assert_eq!(run.code(), 1, "{files:?}: {}", run.json);
    }
}

#[test]
fn lint_reports_files_the_runner_refuses_without_a_database() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/repos/runners/flyway");
    let out = crate::harness::command()
        .arg("lint")
        .arg(&repo)
        .args(["--format", "json"])
        .output()
        .expect("runs");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    let refused: Vec<(&str, u64)> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "runner-rejects-migration")
        .map(|f| {
            (
                f["file"].as_str().unwrap_or(""),
                f["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(refused, vec![("db/migration/V3__plan.sql", 2)], "{json}");
    assert_eq!(out.status.code(), Some(1), "{json}");
}

#[test]
fn flyway_locations_merge_by_version_and_are_read_recursively() {
    // V2 lives in a second location and V3 in a subfolder; V3 needs the tables of V1 and V2, so only
    // the merged order 1, 2, 3 replays cleanly.
    let files = |config: (&'static str, &'static str)| {
        vec![
            config,
            (
                "db/migration/V1__accounts.sql",
                "CREATE TABLE accounts (id int PRIMARY KEY);\n",
            ),
            (
                "db/hotfix/V2__orders.sql",
                "CREATE TABLE orders (id int PRIMARY KEY, account_id int REFERENCES accounts);\n",
            ),
            (
                "db/migration/2024/V3__order_index.sql",
                "CREATE INDEX orders_account_idx ON orders (account_id);\n",
            ),
        ]
    };
    for config in [
        // Named in .pgrehearse.yaml …
        (
            ".pgrehearse.yaml",
            "sets:\n  - path: db/migration\n    runner: flyway\n    locations: [db/hotfix]\n",
        ),
        // … or read from Flyway's own configuration.
        (
            "flyway.conf",
            "flyway.locations=filesystem:db/migration,filesystem:db/hotfix\n",
        ),
        (
            "flyway.toml",
            "[flyway]\nlocations = [\"filesystem:db/migration\", \"filesystem:db/hotfix\"]\n",
        ),
    ] {
        let dir = repo(&files(config));
        let run = check_json(dir.path(), Engine::Local, &[]);
        let sets = run.json["summary"]["sets"].as_array().expect("sets");
        assert_eq!(sets.len(), 1, "{config:?}: {}", run.json);
        assert_eq!(set(&run)["runner"], "flyway");
        assert_eq!(set(&run)["migrations"], 3, "{config:?}: {}", run.json);
        assert_eq!(set(&run)["applied"], 3, "{config:?}: {}", run.json);
        assert_eq!(run.code(), 0, "{config:?}: {}", run.json);
    }
    // The same version in two locations: Flyway refuses to migrate.
    let dir = repo(&[
        (
            "flyway.conf",
            "flyway.locations=filesystem:db/migration,filesystem:db/hotfix\n",
        ),
        ("db/migration/V1__accounts.sql", TABLE),
        ("db/hotfix/V1__again.sql", TABLE),
    ]);
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(
        file_findings(&run),
        vec![
            (
                "duplicate-version".to_string(),
                "db/hotfix/V1__again.sql".to_string()
            ),
            (
                "duplicate-version".to_string(),
                "db/migration/V1__accounts.sql".to_string()
            ),
        ],
        "{}",
        run.json
    );
}

#[test]
fn flyway_sibling_locations_whose_versions_interleave_are_one_set() {
    // src/main/resources/db/migration holds V1 and V3, db/migration-extra beside it V2: one history
    // over two locations (V3 indexes the table V2 creates, which references V1's), replayed as one set
    // in version order. reports/db/primary and archive share V1: Flyway refuses that in one
    // configuration, so they are two databases. legacy/db/v1 (V1, V2) and v2 (V10) do not interleave:
    // nothing says they are one history, so they stay two sets.
    let run = run_fixture("flyway-siblings");
    let mut sets: Vec<(String, u64, u64, String)> = run.json["summary"]["sets"]
        .as_array()
        .expect("sets")
        .iter()
        .map(|s| {
            (
                s["path"].as_str().unwrap_or("").to_string(),
                s["migrations"].as_u64().unwrap_or(0),
                s["applied"].as_u64().unwrap_or(0),
                s["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    sets.sort();
    let ok = |path: &str, n: u64| (path.to_string(), n, n, "ok".to_string());
    assert_eq!(
        sets,
        vec![
            ok("legacy/db/v1", 2),
            ok("legacy/db/v2", 1),
            ok("reports/db/archive", 2),
            ok("reports/db/primary", 2),
            ok("src/main/resources/db/migration", 3),
        ],
        "{:#}",
        run.json
    );
    assert!(run.rule("migration-failed").is_empty(), "{:#}", run.json);
    assert!(run.rule("duplicate-version").is_empty(), "{:#}", run.json);
}

#[test]
fn files_flyway_does_not_read_and_excluded_files_are_not_migrations() {
    let dir = repo(&[
        (
            "db/migration/V1__accounts.sql",
            "CREATE TABLE accounts (id int);\n",
        ),
        (
            "db/migration/V57__readme.md",
            "# How to write a migration\n",
        ),
        (
            "db/migration/V2__orders.sql",
            "CREATE TABLE orders (id int);\n",
        ),
        ("db/legacy/001_init.sql", "CREATE TABLE legacy (id int);\n"),
        (
            "db/legacy/002_mysql.sql",
            "CREATE TABLE `old` (id int) ENGINE=InnoDB;\n",
        ),
        (".pgrehearse.yaml", "exclude: [db/legacy/002_mysql.sql]\n"),
    ]);
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(run.code(), 0, "{}", run.json);
    let sets = run.json["summary"]["sets"].as_array().expect("sets");
    let migrations = |path: &str| {
        sets.iter()
            .find(|s| s["path"] == path)
            .map(|s| (s["migrations"].clone(), s["status"].clone()))
    };
    assert_eq!(
        migrations("db/migration"),
        Some((json!(2), json!("ok"))),
        "{}",
        run.json
    );
    assert_eq!(
        migrations("db/legacy"),
        Some((json!(1), json!("ok"))),
        "{}",
        run.json
    );
    assert!(
        run.json["findings"]
            .as_array()
            .expect("findings")
            .is_empty(),
        "{}",
        run.json
    );
}

#[test]
fn a_golang_migrate_migration_can_use_the_runners_own_table() {
    let dir = repo(&[
        (
            "db/migrations/000001_init.up.sql",
            "CREATE TABLE accounts (id int);\n",
        ),
        (
            "db/migrations/000001_init.down.sql",
            "DROP TABLE accounts;\n",
        ),
        (
            "db/migrations/000002_note.up.sql",
            "COMMENT ON TABLE schema_migrations IS 'applied by golang-migrate';\n",
        ),
        ("db/migrations/000002_note.down.sql", "SELECT 1;\n"),
    ]);
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(run.code(), 0, "{}", run.json);
    let sets = run.json["summary"]["sets"].as_array().expect("sets");
    assert_eq!(sets[0]["runner"], "golang-migrate", "{}", run.json);
    assert_eq!(sets[0]["status"], "ok", "{}", run.json);
    assert_eq!(sets[0]["applied"], 2, "{}", run.json);
}
