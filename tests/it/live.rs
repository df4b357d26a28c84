//! Drift against a live database, read-only, with the runner's bookkeeping.

use pgrehearse::engine::{self, Cleanup, EngineKind, EngineOptions, Server};
use tokio_postgres::config::Host;

use crate::harness::{command, fixture};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn url(server: &Server, db: &str) -> String {
    let host = match &server.config.get_hosts()[0] {
        Host::Unix(p) => p.display().to_string(),
        Host::Tcp(h) => h.clone(),
    };
    format!(
        "host={host} port={} user=postgres dbname={db}",
        server.config.get_ports()[0]
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
    let options = EngineOptions {
        kind: EngineKind::Local,
        database_url: None,
        image: None,
        pg_version: None,
    };
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
    let options = EngineOptions {
        kind: EngineKind::Local,
        database_url: None,
        image: None,
        pg_version: None,
    };
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
