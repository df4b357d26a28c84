//! Differential tests against independent tools (oracles). They need the reference tools from
//! `../shared/oracles` (installed from PyPI and npm on first use), so they are a separate test target:
//! `cargo test --test oracle` (`.ci/run` runs it).
//!
//! migra: for every case of the drift matrix, the database the migrations build and the database the
//! declared schema builds must differ by migra exactly when pgrehearse reports drift; and after
//! `fix-drift`, they must not differ at all but for the steps it left commented out.

use std::path::{Path, PathBuf};
use std::process::Command;

use pgrehearse::apply::EngineContext;
use pgrehearse::declared::{self};
use pgrehearse::discover;
use pgrehearse::engine::{self, Cleanup, EngineKind, EngineOptions, Server};
use pgrehearse::replay::{self};
use pgrehearse::runner::DeclaredSchema;
use tokio_postgres::config::Host;

mod drizzle;
mod fix_drift;
mod prisma;

/// A runtime and a local PostgreSQL server (registered with `cleanup`) for one oracle test.
fn local_server(cleanup: &Cleanup) -> (tokio::runtime::Runtime, Server) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let options = EngineOptions {
        kind: EngineKind::Local,
        database_url: None,
        image: None,
        pg_version: None,
        replay: Default::default(),
    };
    let server = rt
        .block_on(engine::start(&options, cleanup))
        .expect("local server");
    (rt, server)
}

/// Cases where migra and pgrehearse legitimately disagree, with the reason.
const EXCEPTIONS: &[(&str, &str)] = &[
    ("comment-table", "migra does not compare comments"),
    (
        "column-order",
        "migra does not compare column order; pgrehearse reports it as a notice",
    ),
    (
        "domain-check",
        "migra does not compare a domain's CHECK constraints",
    ),
    (
        "sequence-increment",
        "migra creates and drops sequences but does not compare their options",
    ),
    (
        "table-partition-bound",
        "migra does not compare partition bounds",
    ),
    (
        "same-default-casts",
        "migra compares default expressions as text; pgrehearse drops casts to the column's own type ((0)::numeric = 0)",
    ),
];

fn oracle(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/oracles")
        .join(name);
    assert!(
        path.is_file(),
        "{} is missing: the oracle tests need the shared oracles folder beside the repository",
        path.display()
    );
    path
}

fn url(server: &Server, db: &str) -> String {
    let host = match &server.config.get_hosts()[0] {
        Host::Unix(p) => p.display().to_string(),
        Host::Tcp(h) => h.clone(),
    };
    format!(
        "postgresql://{}@/{db}?host={host}&port={}",
        server.admin_user(),
        server.config.get_ports()[0]
    )
}

#[test]
fn migra_agrees_with_the_drift_matrix() {
    let migra = oracle("migra.sh");
    let cleanup = Cleanup::new();
    let (rt, server) = local_server(&cleanup);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/drift-matrix");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("matrix")
        .flatten()
        .map(|e| e.path())
        .collect();
    cases.sort();
    let mut disagreements = Vec::new();
    for case in &cases {
        let name = case
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let drift_expected = !std::fs::read_to_string(case.join("expect.txt"))
            .expect("expect")
            .trim()
            .is_empty();
        let (built, declared_db) = rt.block_on(async {
            let discovery = discover::find(case, None).expect("discovers");
            let built = server
                .create_scratch(&cleanup, "oracle")
                .await
                .expect("scratch");
            let client = server.connect(&built.name).await.expect("connects");
            replay::run(&client, &discovery.sets[0], &EngineContext::default())
                .await
                .expect("replays");
            let declared_db = server
                .create_scratch(&cleanup, "oracle")
                .await
                .expect("scratch");
            let client = server.connect(&declared_db.name).await.expect("connects");
            let text = std::fs::read_to_string(case.join("schema.sql")).expect("schema");
            let loaded = declared::load(
                &client,
                &DeclaredSchema {
                    file: "schema.sql".into(),
                    text: text.into(),
                    generated: None,
                    extensions: Vec::new(),
                },
            )
            .await
            .expect("loads");
            assert!(loaded.ok, "{name}: declared schema does not load");
            (built, declared_db)
        });
        let out = Command::new("bash")
            .arg(&migra)
            .arg(url(&server, &built.name))
            .arg(url(&server, &declared_db.name))
            .output()
            .expect("migra runs");
        let migra_differs = match out.status.code() {
            Some(0) => false,
            Some(2) => true,
            other => panic!(
                "{name}: migra failed ({other:?}): {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        };
        rt.block_on(async {
            server.drop_scratch(&cleanup, built).await;
            server.drop_scratch(&cleanup, declared_db).await;
        });
        let excepted = EXCEPTIONS.iter().any(|(n, _)| *n == name);
        if migra_differs != drift_expected && !excepted {
            disagreements.push(format!(
                "{name}: pgrehearse drift={drift_expected}, migra differs={migra_differs}\n{}",
                String::from_utf8_lossy(&out.stdout)
            ));
        }
        if excepted && migra_differs == drift_expected {
            disagreements.push(format!(
                "{name}: listed as an exception but migra agrees; remove it from EXCEPTIONS"
            ));
        }
    }
    rt.block_on(cleanup.run_all());
    assert!(cases.len() >= 40);
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
