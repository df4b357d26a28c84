//! Prisma: for every case of tests/fixtures/oracle-prisma (a `.prisma` file, or a folder of them for a
//! multi-file schema), the database built from pgrehearse's translation and the database built from
//! the DDL of Prisma 7's own schema engine (`prisma-sql.sh`) must be identical, by pgrehearse's diff
//! and by migra.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use pgrehearse::catalog::{self, SnapshotOptions};
use pgrehearse::declared::{self, prisma};
use pgrehearse::diff;
use pgrehearse::engine::Cleanup;
use pgrehearse::runner::DeclaredSchema;

use super::{local_server, oracle, url};

/// The `.prisma` files of a case, in name order.
fn case_files(case: &Path) -> Vec<PathBuf> {
    if case.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(case)
            .expect("case folder")
            .flatten()
            .map(|e| e.path())
            .filter(|p| prisma::is_prisma_file(p))
            .collect();
        v.sort();
        v
    } else {
        vec![case.to_path_buf()]
    }
}

#[test]
fn prisma_translation_matches_prisma_schema_engine() {
    let prisma_sql = oracle("prisma-sql.sh");
    let migra = oracle("migra.sh");
    let cleanup = Cleanup::new();
    let (rt, server) = local_server(&cleanup);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oracle-prisma");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("corpus")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() || prisma::is_prisma_file(p))
        .collect();
    cases.sort();
    let only = std::env::var("PRISMA_CASE").ok();
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in &cases {
        let name = case
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        checked += 1;
        let files = case_files(case);
        let out = Command::new("bash")
            .arg(&prisma_sql)
            .args(&files)
            .output()
            .expect("prisma-sql.sh runs");
        assert!(
            out.status.success(),
            "{name}: Prisma's engine rejects the case: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let reference = String::from_utf8(out.stdout).expect("utf-8");
        let texts: Vec<(PathBuf, Arc<str>)> = files
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(f).expect("case file");
                (f.clone(), Arc::from(text))
            })
            .collect();
        let translation = match prisma::translate(&texts) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{name}: pgrehearse rejects it: {e}"));
                continue;
            }
        };
        let ours: String = translation
            .statements
            .iter()
            .map(|s| format!("{}\n", s.sql))
            .collect();
        let result = rt.block_on(async {
            let a = server.create_scratch(&cleanup, "prisma").await.expect("db");
            let b = server.create_scratch(&cleanup, "prisma").await.expect("db");
            let ca = server.connect(&a.name).await.expect("connects");
            let cb = server.connect(&b.name).await.expect("connects");
            let la = declared::load(
                &ca,
                &DeclaredSchema {
                    file: "ours".into(),
                    text: Arc::from(""),
                    generated: Some(translation.statements.into()),
                    extensions: Vec::new(),
                },
            )
            .await
            .expect("loads");
            let lb = declared::load(
                &cb,
                &DeclaredSchema {
                    file: "prisma".into(),
                    text: Arc::from(reference.as_str()),
                    generated: None,
                    extensions: Vec::new(),
                },
            )
            .await
            .expect("loads");
            let mut problems = Vec::new();
            if !la.ok {
                problems.push(format!("our DDL does not load: {:?}", la.findings));
            }
            if !lb.ok {
                problems.push(format!("Prisma's DDL does not load: {:?}", lb.findings));
            }
            if problems.is_empty() {
                let opts = SnapshotOptions::default();
                let sa = catalog::snapshot(&ca, &opts).await.expect("snapshot");
                let sb = catalog::snapshot(&cb, &opts).await.expect("snapshot");
                let changes = diff::compare(&sb, &sa);
                if !changes.is_empty() {
                    problems.push(format!("pgrehearse diff: {changes:#?}"));
                }
            }
            drop((ca, cb));
            (a, b, problems)
        });
        let (a, b, mut problems) = result;
        if problems.is_empty() {
            let out = Command::new("bash")
                .arg(&migra)
                .arg(url(&server, &a.name))
                .arg(url(&server, &b.name))
                .output()
                .expect("migra runs");
            match out.status.code() {
                Some(0) => {}
                other => problems.push(format!(
                    "migra ({other:?}): {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                )),
            }
        }
        rt.block_on(async {
            server.drop_scratch(&cleanup, a).await;
            server.drop_scratch(&cleanup, b).await;
        });
        if !problems.is_empty() {
            failures.push(format!(
                "{name}:\n{}\n--- ours:\n{ours}\n--- Prisma:\n{reference}",
                problems.join("\n")
            ));
        }
    }
    rt.block_on(cleanup.run_all());
    if only.is_none() {
        assert!(checked >= 40, "the corpus lost cases: {checked}");
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} cases differ:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
