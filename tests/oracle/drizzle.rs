//! Drizzle: for every schema file of tests/fixtures/oracle-drizzle, the database built from
//! pgrehearse's translation and the database built from the DDL of drizzle-kit 0.31's own `export`
//! (`drizzle-sql.sh`) must be identical, by pgrehearse's diff and by migra.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use pgrehearse::catalog::{self, SnapshotOptions};
use pgrehearse::declared::{self, drizzle};
use pgrehearse::diff;
use pgrehearse::engine::Cleanup;
use pgrehearse::runner::DeclaredSchema;

use super::{local_server, oracle, url};

/// The schema files of a case: one `.ts` file, or every `.ts` file of a folder (a multi-file schema).
fn case_files(case: &Path) -> Vec<PathBuf> {
    if case.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(case)
            .expect("case folder")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "ts"))
            .collect();
        v.sort();
        v
    } else {
        vec![case.to_path_buf()]
    }
}

#[test]
fn drizzle_translation_matches_drizzle_kit_export() {
    let drizzle_sql = oracle("drizzle-sql.sh");
    let migra = oracle("migra.sh");
    let cleanup = Cleanup::new();
    let (rt, server) = local_server(&cleanup);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oracle-drizzle");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("corpus")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "ts"))
        .collect();
    cases.sort();
    let only = std::env::var("DRIZZLE_CASE").ok();
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
            .arg(&drizzle_sql)
            .arg(case)
            .output()
            .expect("drizzle-sql.sh runs");
        assert!(
            out.status.success(),
            "{name}: drizzle-kit rejects the case: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let reference = String::from_utf8(out.stdout).expect("utf-8");
        let translation = match drizzle::translate(Path::new(""), &files, drizzle::Casing::Preserve)
        {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{name}: pgrehearse rejects it: {e}"));
                continue;
            }
        };
        let ours = translation.sql.clone();
        // A case lists the findings it expects in `// expect-finding: <rule>` lines.
        let expected: Vec<String> = files
            .iter()
            .flat_map(|f| {
                std::fs::read_to_string(f)
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|l| l.strip_prefix("// expect-finding: "))
                    .map(|r| r.split_whitespace().next().unwrap_or("").to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        let got: Vec<String> = translation
            .findings
            .iter()
            .map(|f| f.rule.clone())
            .collect();
        if got != expected {
            let all: Vec<String> = translation
                .findings
                .iter()
                .map(|f| format!("{}: {}", f.rule, f.message))
                .collect();
            failures.push(format!("{name}: findings {all:#?}, expected {expected:?}"));
            continue;
        }
        let result = rt.block_on(async {
            let a = server
                .create_scratch(&cleanup, "drizzle")
                .await
                .expect("db");
            let b = server
                .create_scratch(&cleanup, "drizzle")
                .await
                .expect("db");
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
                    file: "drizzle-kit".into(),
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
                problems.push(format!(
                    "drizzle-kit's DDL does not load: {:?}",
                    lb.findings
                ));
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
                "{name}:\n{}\n--- ours:\n{ours}\n--- drizzle-kit:\n{reference}",
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
