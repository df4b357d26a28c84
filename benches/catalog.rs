//! Times `catalog::snapshot` on a database of 1,000 tables (8 columns, a primary key, an index, a foreign
//! key and a check each) on a temporary local cluster. The budget is 1 s per snapshot.
//!
//! Run with `cargo bench --bench catalog` (needs PostgreSQL server binaries). Optional arguments:
//! `TABLES RUNS` (default 1000 and 7).

use std::time::{Duration, Instant};

use pgrehearse::catalog::{self, SnapshotOptions};
use pgrehearse::engine::{self, Cleanup, EngineKind, EngineOptions};

const BUDGET: Duration = Duration::from_secs(1);

/// DDL for tables `from..to`; each references the previous table.
fn ddl(from: usize, to: usize) -> String {
    let mut sql = String::new();
    for i in from..to {
        let parent = if i == 0 { 0 } else { i - 1 };
        sql.push_str(&format!(
            "CREATE TABLE public.t{i} (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                parent_id bigint,
                name varchar(80) NOT NULL DEFAULT '',
                email text,
                amount numeric(12,2) NOT NULL DEFAULT 0,
                created_at timestamptz NOT NULL DEFAULT now(),
                active boolean NOT NULL DEFAULT true,
                notes jsonb,
                CONSTRAINT t{i}_amount_check CHECK (amount >= 0),
                CONSTRAINT t{i}_parent_fk FOREIGN KEY (parent_id) REFERENCES public.t{parent} (id) ON DELETE SET NULL
            );
            CREATE INDEX t{i}_created_idx ON public.t{i} (created_at) WHERE active;\n"
        ));
    }
    sql
}

fn arg(n: usize, default: usize) -> usize {
    // `cargo bench` passes `--bench`; only plain numbers are ours.
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

async fn bench(cleanup: &Cleanup, tables: usize, runs: usize) -> Result<Vec<Duration>, String> {
    let options = EngineOptions {
        kind: EngineKind::Local,
        database_url: None,
        image: None,
        pg_version: None,
        replay: Default::default(),
    };
    let server = engine::start(&options, cleanup)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "engine: {} ({:.2?} to start)",
        server.description, server.startup
    );
    let db = server
        .create_scratch(cleanup, "bench")
        .await
        .map_err(|e| e.to_string())?;
    let client = server.connect(&db.name).await.map_err(|e| e.to_string())?;

    let started = Instant::now();
    for from in (0..tables).step_by(100) {
        client
            .batch_execute(&ddl(from, (from + 100).min(tables)))
            .await
            .map_err(|e| engine::db_error_text(&e))?;
    }
    client
        .batch_execute("ANALYZE")
        .await
        .map_err(|e| engine::db_error_text(&e))?;
    println!("created {tables} tables in {:.2?}", started.elapsed());

    let options = SnapshotOptions::default();
    // Warm-up: the first run also pays for catalog caches of the new backend.
    let catalog = catalog::snapshot(&client, &options)
        .await
        .map_err(|e| e.to_string())?;
    let columns: usize = catalog.tables.values().map(|t| t.columns.len()).sum();
    let constraints: usize = catalog.tables.values().map(|t| t.constraints.len()).sum();
    let indexes: usize = catalog.tables.values().map(|t| t.indexes.len()).sum();
    println!(
        "snapshot holds {} tables, {columns} columns, {constraints} constraints, {indexes} indexes",
        catalog.tables.len()
    );
    if catalog.tables.len() != tables {
        return Err(format!(
            "expected {tables} tables in the snapshot, found {}",
            catalog.tables.len()
        ));
    }

    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let again = catalog::snapshot(&client, &options)
            .await
            .map_err(|e| e.to_string())?;
        times.push(start.elapsed());
        if again != catalog {
            return Err("two snapshots of an unchanged database differ".into());
        }
    }
    drop(client);
    server.drop_scratch(cleanup, db).await;
    Ok(times)
}

fn main() {
    let tables = arg(0, 1000);
    let runs = arg(1, 7).max(1);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("catalog bench: no runtime: {e}");
            std::process::exit(2);
        }
    };
    let result = runtime.block_on(async {
        let cleanup = Cleanup::new();
        let result = bench(&cleanup, tables, runs).await;
        cleanup.run_all().await;
        result
    });
    match result {
        Ok(mut times) => {
            times.sort();
            let min = times[0];
            let median = times[times.len() / 2];
            let max = times[times.len() - 1];
            println!(
                "catalog::snapshot, {tables} tables, {runs} runs: min {min:.2?}, median {median:.2?}, max {max:.2?} (budget {BUDGET:.0?}: {})",
                if median < BUDGET { "ok" } else { "EXCEEDED" }
            );
        }
        Err(e) => {
            eprintln!("catalog bench failed: {e}");
            std::process::exit(2);
        }
    }
}
