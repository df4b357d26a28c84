//! Replay through the library on a real server, inspecting the database afterwards to prove what the
//! runner semantics leave behind; and the url engine, which must leave the server as it found it.

use crate::harness::runtime;
use std::process::Stdio;

use pgrehearse::apply::EngineContext;
use pgrehearse::discover;
use pgrehearse::engine::{self, Cleanup, Server};
use pgrehearse::replay::{self};
use tokio_postgres::config::Host;

use crate::harness::{command, fixture};

async fn local_server(cleanup: &Cleanup) -> Server {
    let options = crate::harness::local_options();
    engine::start(&options, cleanup)
        .await
        .expect("local engine starts")
}

/// Replays the only set of `repo` into a scratch database and returns the names of `relations` that exist
/// afterwards (and the replay log's applied count).
fn replay_and_probe(
    repo: &str,
    relations: &[&str],
    columns: &[(&str, &str)],
) -> (usize, Vec<String>) {
    runtime().block_on(async {
        let cleanup = Cleanup::new();
        let server = local_server(&cleanup).await;
        let discovery = discover::find(&fixture(repo), None).expect("discovers");
        let set = &discovery.sets[0];
        let db = server.create_scratch(&cleanup, "test").await.expect("scratch db");
        let client = server.connect(&db.name).await.expect("connects");
        let context = EngineContext::default();
        let log = replay::run(&client, set, &context).await.expect("replays");
        let mut present = Vec::new();
        for rel in relations {
            let row = client
                .query_one("SELECT to_regclass($1)::text", &[&format!("\"{rel}\"")])
                .await
                .expect("probe");
            if row.get::<_, Option<String>>(0).is_some() {
                present.push(rel.to_string());
            }
        }
        for (table, column) in columns {
            let row = client
                .query_one(
                    "SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped",
                    &[&format!("\"{table}\""), column],
                )
                .await
                .expect("probe column");
            if row.get::<_, i64>(0) == 1 {
                present.push(format!("{table}.{column}"));
            }
        }
        drop(client);
        server.drop_scratch(&cleanup, db).await;
        cleanup.run_all().await;
        (log.applied, present)
    })
}

#[test]
fn autocommit_failure_keeps_the_statements_before_it() {
    let (applied, present) = replay_and_probe(
        "psql-partial",
        &[
            "customers",
            "invoices",
            "invoices_customer_idx",
            "payments",
            "refunds",
        ],
        &[],
    );
    assert_eq!(applied, 1);
    // 002 failed at its third statement: its first two stayed committed, nothing after it ran.
    assert_eq!(
        present,
        vec!["customers", "invoices", "invoices_customer_idx"]
    );
}

#[test]
fn prisma_failure_rolls_back_the_whole_file() {
    let (applied, present) = replay_and_probe(
        "prisma-concurrently",
        &["Post", "Post_slug_idx"],
        &[("Post", "slug"), ("Post", "views")],
    );
    assert_eq!(applied, 1);
    // The ALTER TABLE before the failing CONCURRENTLY ran in the same implicit transaction.
    assert_eq!(present, vec!["Post"]);
}

#[test]
fn drizzle_failure_rolls_back_every_pending_migration() {
    let (applied, present) = replay_and_probe("drizzle-mysql", &["users", "orders"], &[]);
    assert_eq!(applied, 0);
    assert_eq!(present, Vec::<String>::new());
}

/// A key-value connection string for a server's admin database.
fn url_of(server: &Server) -> String {
    let host = match &server.config.get_hosts()[0] {
        Host::Unix(p) => p.display().to_string(),
        Host::Tcp(h) => h.clone(),
    };
    format!(
        "host={host} port={} user={} dbname=postgres",
        server.config.get_ports()[0],
        server.admin_user()
    )
}

async fn scratch_databases_and_roles(server: &Server) -> (Vec<String>, Vec<String>) {
    let admin = server.connect("postgres").await.expect("connects");
    let dbs = admin
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'pgrehearse%' ORDER BY 1",
            &[],
        )
        .await
        .expect("lists databases")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let roles = admin
        .query(
            "SELECT rolname FROM pg_roles WHERE rolname = 'app_reader'",
            &[],
        )
        .await
        .expect("lists roles")
        .iter()
        .map(|r| r.get(0))
        .collect();
    (dbs, roles)
}

#[test]
fn url_engine_drops_its_scratch_databases_and_roles() {
    let rt = runtime();
    let cleanup = Cleanup::new();
    let server = rt.block_on(local_server(&cleanup));
    let out = command()
        .args(["check", "--engine", "url", "--format", "json"])
        .env("PGREHEARSE_DATABASE_URL", url_of(&server))
        .arg(fixture("monorepo"))
        .output()
        .expect("runs");
    let (dbs, roles) = rt.block_on(scratch_databases_and_roles(&server));
    rt.block_on(cleanup.run_all());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["summary"]["engine"], "url");
    assert_eq!(json["summary"]["sets"].as_array().map(Vec::len), Some(2));
    assert_eq!(dbs, Vec::<String>::new());
    assert_eq!(roles, Vec::<String>::new());
}

#[test]
fn url_engine_ctrl_c_drops_the_scratch_database() {
    let rt = runtime();
    let cleanup = Cleanup::new();
    let server = rt.block_on(local_server(&cleanup));
    let mut child = command()
        .args(["check", "--engine", "url", "-v"])
        .env("PGREHEARSE_DATABASE_URL", url_of(&server))
        .arg(fixture("slow"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    // Wait until the scratch database exists and the slow statement is running.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let running = rt.block_on(async {
            let admin = server.connect("postgres").await.expect("connects");
            admin
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' AND datname LIKE 'pgrehearse%'",
                    &[],
                )
                .await
                .map(|r| r.get::<_, i64>(0))
                .unwrap_or(0)
        });
        if running > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the replay never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("waits");
    let (dbs, _) = rt.block_on(scratch_databases_and_roles(&server));
    rt.block_on(cleanup.run_all());
    assert_eq!(status.code(), Some(2));
    assert_eq!(dbs, Vec::<String>::new());
}

/// A prelude that fails because the server lacks an extension says so, with how to get a server that
/// has it, instead of asking to fix the prelude; a prelude with a mistake of its own still is asked to
/// be fixed.
#[test]
fn a_prelude_failing_on_the_server_s_missing_extension_says_so() {
    runtime().block_on(async {
        let cleanup = Cleanup::new();
        let server = local_server(&cleanup).await;
        let db = server.create_scratch(&cleanup, "test").await.expect("scratch db");
        let client = server.connect(&db.name).await.expect("connects");
        let prelude = |text: &'static str| prelude_finding(&client, &server.version, text);
        let f = prelude("CREATE SCHEMA gis;\nCREATE EXTENSION postgis WITH SCHEMA gis;\n").await;
        assert!(
            f.message
                .starts_with("prelude failed: extension `postgis` is not available on the replay server (PostgreSQL "),
            "{}",
            f.message
        );
        let help = f.help.clone().unwrap_or_default();
        assert!(help.contains("postgis/postgis:"), "{help}");
        assert!(!help.contains("fix the prelude"), "{help}");
        assert_eq!(f.evidence.extra.get("extension").map(String::as_str), Some("postgis"));
        let f = prelude("GRANT SELECT ON ALL TABLES IN SCHEMA public TO reporting;\n").await;
        assert!(f.message.contains("role `reporting` does not exist on the replay server"), "{}", f.message);
        let f = prelude("CREATE TABLE t (id int REFERENCES missing (id));\n").await;
        assert_eq!(f.help.as_deref(), Some("fix the prelude; migrations were not replayed"));
        cleanup.run_all().await;
    });
}

/// The `prelude-failed` finding for `text` run as a prelude on `client`.
async fn prelude_finding(
    client: &tokio_postgres::Client,
    version: &str,
    text: &str,
) -> pgrehearse::model::Finding {
    let Err((Some(error), completed, _)) = pgrehearse::apply::execute(client, text).await else {
        panic!("{text} fails");
    };
    let whole = pgrehearse_sql::Span::new(0, text.len());
    let (primary, statement) = pgrehearse::apply::locate(text, whole, completed, &error);
    pgrehearse::environment::prelude_failed(
        std::path::Path::new("db/prelude.sql"),
        text,
        primary,
        statement,
        &error,
        Some(version),
    )
}
