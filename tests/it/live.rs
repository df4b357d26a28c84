//! Drift against a live database, read-only, with the runner's bookkeeping.

use crate::harness::runtime;
use pgrehearse::engine::{self, Cleanup, Server};
use tokio_postgres::config::Host;

use crate::harness::{command, fixture};

fn url(server: &Server, db: &str) -> String {
    let host = match &server.config.get_hosts()[0] {
        Host::Unix(p) => p.display().to_string(),
        Host::Tcp(h) => h.clone(),
    };
    format!(
        "host={host} port={} user={} dbname={db}",
        server.config.get_ports()[0],
        server.admin_user()
    )
}

/// A "production" database: migrations 1 and 2 applied, then changed by hand, and golang-migrate's
/// bookkeeping left dirty at version 2.
async fn production(server: &Server) {
    let admin = server.connect("postgres").await.expect("connects");
    admin
        .batch_execute("CREATE DATABASE prod")
        .await
        .expect("creates prod");
    let prod = server.connect("prod").await.expect("connects to prod");
    let dir = fixture("live-golang").join("migrations");
    for f in ["1_users.up.sql", "2_nickname.up.sql"] {
        let sql = std::fs::read_to_string(dir.join(f)).expect("reads migration");
        prod.batch_execute(&sql).await.expect("applies migration");
    }
    prod.batch_execute(
        "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
         INSERT INTO schema_migrations VALUES (2, true);
         ALTER TABLE users ADD COLUMN added_by_hand text;
         DROP INDEX users_email_idx;",
    )
    .await
    .expect("alters prod by hand");
}

#[test]
fn live_drift_reports_hand_changes_and_a_dirty_version() {
    let rt = runtime();
    let cleanup = Cleanup::new();
    let options = crate::harness::local_options();
    let server = rt
        .block_on(engine::start(&options, &cleanup))
        .expect("local server");
    rt.block_on(production(&server));
    let out = command()
        .args([
            "drift",
            "--engine",
            "local",
            "--format",
            "json",
            "--against",
            &url(&server, "prod"),
        ])
        .arg(fixture("live-golang"))
        .output()
        .expect("runs");
    // Nothing was written to the live database.
    let (tables, dirty) = rt.block_on(async {
        let prod = server.connect("prod").await.expect("connects");
        let tables: i64 = prod
            .query_one(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
                &[],
            )
            .await
            .expect("counts")
            .get(0);
        let dirty: bool = prod
            .query_one("SELECT dirty FROM schema_migrations", &[])
            .await
            .expect("reads")
            .get(0);
        (tables, dirty)
    });
    rt.block_on(cleanup.run_all());
    assert_eq!((tables, dirty), (2, true));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let findings = json["findings"].as_array().expect("findings");
    let by_rule = |rule: &str| {
        findings
            .iter()
            .filter(|f| f["rule"] == rule)
            .collect::<Vec<_>>()
    };
    let dirty = by_rule("live-dirty");
    assert_eq!(dirty.len(), 1, "{json}");
    assert_eq!(dirty[0]["file"], "migrations/2_nickname.up.sql");
    assert!(
        dirty[0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("dirty at version 2")
    );
    let pending = by_rule("live-pending-migrations");
    assert_eq!(pending.len(), 1);
    assert!(
        pending[0]["message"]
            .as_str()
            .unwrap_or("")
            .ends_with(": 3"),
        "{}",
        pending[0]
    );
    let mut drift: Vec<(String, String, u64)> = by_rule("schema-drift")
        .iter()
        .map(|f| {
            (
                f["evidence"]["extra"]["object"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                f["file"].as_str().unwrap_or("-").to_string(),
                f["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    drift.sort();
    assert_eq!(
        drift,
        vec![
            // Only in the migrations: pointed at the statement that built it.
            (
                "public.orders".to_string(),
                "migrations/3_orders.up.sql".to_string(),
                1
            ),
            // Added by hand on the live database: pointed at the migration that last altered its table.
            (
                "public.users.added_by_hand".to_string(),
                "migrations/2_nickname.up.sql".to_string(),
                1
            ),
            (
                "users_email_idx on public.users".to_string(),
                "migrations/1_users.up.sql".to_string(),
                2
            ),
        ],
        "{json}"
    );
}

#[test]
fn live_connection_cannot_write() {
    let rt = runtime();
    let cleanup = Cleanup::new();
    let options = crate::harness::local_options();
    let server = rt
        .block_on(engine::start(&options, &cleanup))
        .expect("local server");
    let result = rt.block_on(async {
        let client = pgrehearse::live::connect_read_only(&url(&server, "postgres"))
            .await
            .expect("connects");
        let write = client
            .batch_execute("CREATE TABLE must_not_exist (id int)")
            .await;
        // Even after leaving the transaction, the session stays read-only.
        let _ = client.batch_execute("ROLLBACK").await;
        let again = client
            .batch_execute("CREATE TABLE must_not_exist (id int)")
            .await;
        let admin = server.connect("postgres").await.expect("connects");
        let exists: bool = admin
            .query_one("SELECT to_regclass('must_not_exist') IS NOT NULL", &[])
            .await
            .expect("probe")
            .get(0);
        (
            write
                .err()
                .and_then(|e| e.code().map(|c| c.code().to_string())),
            again
                .err()
                .and_then(|e| e.code().map(|c| c.code().to_string())),
            exists,
        )
    });
    rt.block_on(cleanup.run_all());
    assert_eq!(
        result,
        (Some("25006".to_string()), Some("25006".to_string()), false)
    );
}

#[test]
fn drift_without_against_is_a_usage_error() {
    let out = command()
        .args(["drift"])
        .arg(fixture("live-golang"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--against"));
}

/// Runs `drift --against` a database prepared by `setup` (SQL run on a fresh database `prod`), for the
/// fixture repository `repo`; returns the findings.
fn drift_against(repo: &std::path::Path, setup: &str) -> Vec<serde_json::Value> {
    let rt = runtime();
    let cleanup = Cleanup::new();
    let options = crate::harness::local_options();
    let server = rt
        .block_on(engine::start(&options, &cleanup))
        .expect("local server");
    rt.block_on(async {
        let admin = server.connect("postgres").await.expect("connects");
        admin
            .batch_execute("CREATE DATABASE prod")
            .await
            .expect("creates prod");
        let prod = server.connect("prod").await.expect("connects");
        prod.batch_execute(setup).await.expect("prepares prod");
    });
    let out = command()
        .args([
            "drift",
            "--engine",
            "local",
            "--format",
            "json",
            "--against",
            &url(&server, "prod"),
        ])
        .arg(repo)
        .output()
        .expect("runs");
    rt.block_on(cleanup.run_all());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    json["findings"].as_array().cloned().unwrap_or_default()
}

fn rules_of(findings: &[serde_json::Value]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = findings
        .iter()
        .filter(|f| f["rule"].as_str().is_some_and(|r| r.starts_with("live-")))
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or("").to_string(),
                f["evidence"]["migration"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn sha256(path: &std::path::Path) -> String {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).expect("reads");
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn prisma_bookkeeping_failed_rows_and_edited_migrations() {
    // 0101 applied with the right checksum, 0102 applied but edited since, 0103 failed and unresolved,
    // and a hotfix applied from a branch that never reached the repository.
    let repo = tempfile::tempdir().expect("tempdir");
    let m = repo.path().join("prisma/migrations");
    for (name, sql) in [
        ("20240101000000_a", "CREATE TABLE a (id int);\n"),
        ("20240102000000_b", "CREATE TABLE b (id int);\n"),
        ("20240103000000_c", "CREATE TABLE c (id int);\n"),
    ] {
        std::fs::create_dir_all(m.join(name)).expect("mkdir");
        std::fs::write(m.join(name).join("migration.sql"), sql).expect("write");
    }
    std::fs::write(m.join("migration_lock.toml"), "provider = \"postgresql\"\n").expect("lock");
    let a = sha256(&m.join("20240101000000_a/migration.sql"));
    let setup = format!(
        "CREATE TABLE _prisma_migrations (id varchar(36) PRIMARY KEY, checksum varchar(64) NOT NULL, finished_at timestamptz,
             migration_name varchar(255) NOT NULL, logs text, rolled_back_at timestamptz, started_at timestamptz NOT NULL DEFAULT now(),
             applied_steps_count int NOT NULL DEFAULT 0);
         INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name) VALUES
             ('1', '{a}', now(), '20240101000000_a'),
             ('2', 'edited', now(), '20240102000000_b'),
             ('3', 'x', NULL, '20240103000000_c'),
             ('5', 'z', now(), '20231231000000_hotfix_from_a_branch');
         INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, rolled_back_at) VALUES
             ('4', 'y', NULL, '20240103000000_c', now() - interval '1 day');
         CREATE TABLE a (id int); CREATE TABLE b (id int);"
    );
    let findings = drift_against(repo.path(), &setup);
    assert_eq!(
        rules_of(&findings),
        vec![
            (
                "live-checksum-mismatch".to_string(),
                "20240102000000_b".to_string()
            ),
            (
                "live-failed-migration".to_string(),
                "20240103000000_c".to_string()
            ),
            (
                "live-pending-migrations".to_string(),
                "20240103000000_c".to_string()
            ),
            (
                "live-rolled-back-migration".to_string(),
                "20240103000000_c".to_string()
            ),
            // Applied on the live database, absent from the repository.
            ("live-unknown-migration".to_string(), String::new()),
        ]
    );
    // Its row has neither an end nor logs: Prisma may still be applying it.
    let unresolved = findings
        .iter()
        .find(|f| f["rule"] == "live-failed-migration")
        .expect("a failed-migration finding");
    assert!(
        unresolved["message"]
            .as_str()
            .unwrap_or("")
            .contains("still running, or the process applying it died"),
        "{unresolved}"
    );
    let unknown = findings
        .iter()
        .find(|f| f["rule"] == "live-unknown-migration")
        .expect("an unknown-migration finding");
    assert!(
        unknown["message"]
            .as_str()
            .unwrap_or("")
            .contains("20231231000000_hotfix_from_a_branch"),
        "{unknown}"
    );
}

#[test]
fn drizzle_bookkeeping_migrations_the_high_water_mark_skips() {
    // 0001 was applied; 0000 was not, and its `when` is older than 0001's, so drizzle-kit migrate will
    // never apply it. 0002 is simply pending.
    let repo = tempfile::tempdir().expect("tempdir");
    let d = repo.path().join("drizzle");
    std::fs::create_dir_all(d.join("meta")).expect("mkdir");
    std::fs::write(
        d.join("meta/_journal.json"),
        r#"{"version":"7","dialect":"postgresql","entries":[
            {"idx":0,"version":"7","when":1000,"tag":"0000_a","breakpoints":true},
            {"idx":1,"version":"7","when":2000,"tag":"0001_b","breakpoints":true},
            {"idx":2,"version":"7","when":3000,"tag":"0002_c","breakpoints":true}]}"#,
    )
    .expect("journal");
    for (tag, sql) in [
        ("0000_a", "CREATE TABLE a (id int);"),
        ("0001_b", "CREATE TABLE b (id int);"),
        ("0002_c", "CREATE TABLE c (id int);"),
    ] {
        std::fs::write(d.join(format!("{tag}.sql")), sql).expect("write");
    }
    let b = sha256(&d.join("0001_b.sql"));
    let setup = format!(
        "CREATE SCHEMA drizzle;
         CREATE TABLE drizzle.__drizzle_migrations (id serial PRIMARY KEY, hash text NOT NULL, created_at bigint);
         INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES ('{b}', 2000);
         CREATE TABLE b (id int);"
    );
    let findings = drift_against(repo.path(), &setup);
    assert_eq!(
        rules_of(&findings),
        vec![
            ("live-pending-migrations".to_string(), "0002_c".to_string()),
            ("live-skipped-migration".to_string(), "0000_a".to_string()),
        ]
    );
}

#[test]
fn flyway_bookkeeping_failed_rows_checksums_pending_and_unknown() {
    let repo = tempfile::tempdir().expect("tempdir");
    let d = repo.path().join("db/migration");
    std::fs::create_dir_all(&d).expect("mkdir");
    for (name, sql) in [
        ("V1__a.sql", "CREATE TABLE a (id int);\n"),
        ("V2__b.sql", "CREATE TABLE b (id int);\n"),
        ("V2_5__late.sql", "CREATE TABLE late (id int);\n"),
        ("V3__c.sql", "CREATE TABLE c (id int);\n"),
        ("V4__d.sql", "CREATE TABLE d (id int);\n"),
    ] {
        std::fs::write(d.join(name), sql).expect("write");
    }
    let v1 = pgrehearse::live::flyway_checksum("CREATE TABLE a (id int);\n");
    // V1 applied unchanged (recorded as `1.0`, the same version), V2 failed, V3 applied but edited
    // since (checksum differs), 1.5 applied from a branch that never reached the repository, 2.5 never
    // applied although newer versions are (Flyway's validation refuses it without outOfOrder), V4
    // pending.
    let setup = format!(
        "CREATE TABLE flyway_schema_history (installed_rank int PRIMARY KEY, version varchar(50), description varchar(200) NOT NULL,
             type varchar(20) NOT NULL, checksum int, success boolean NOT NULL);
         INSERT INTO flyway_schema_history VALUES (1, '1.0', 'a', 'SQL', {v1}, true), (2, '1.5', 'hotfix', 'SQL', 7, true),
             (3, '2', 'b', 'SQL', 1, false), (4, '3', 'c', 'SQL', 12345, true);
         CREATE TABLE a (id int);"
    );
    let findings = drift_against(repo.path(), &setup);
    assert_eq!(
        rules_of(&findings),
        vec![
            ("live-checksum-mismatch".to_string(), "3".to_string()),
            ("live-failed-migration".to_string(), "2".to_string()),
            ("live-pending-migrations".to_string(), "4".to_string()),
            ("live-skipped-migration".to_string(), "2.5".to_string()),
            ("live-unknown-migration".to_string(), String::new()),
        ]
    );
}
