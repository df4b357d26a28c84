//! fix-drift: for every case of the drift matrix and every drift fixture repository (SQL, Prisma,
//! Drizzle), the database the migrations build together with the migration `pgrehearse fix-drift`
//! writes, and the database the declared schema builds, are identical by migra, except where
//! fix-drift left a destructive or manual step commented out that migra sees (column order it does
//! not compare).

use std::path::{Path, PathBuf};
use std::process::Command;

use pgrehearse::apply::EngineContext;
use pgrehearse::declared::{self};
use pgrehearse::discover;
use pgrehearse::engine::Cleanup;
use pgrehearse::replay::{self};

use super::{local_server, oracle, url};

/// A copy of the folder `src` in a new temporary directory.
fn copy(src: &Path) -> tempfile::TempDir {
    fn walk(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for e in std::fs::read_dir(from).expect("read fixture").flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, &to.join(e.file_name()));
            } else {
                std::fs::copy(&p, to.join(e.file_name())).expect("copy");
            }
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    walk(src, dir.path());
    dir
}

#[test]
fn migra_finds_no_difference_after_fix_drift() {
    let migra = oracle("migra.sh");
    let cleanup = Cleanup::new();
    let (rt, server) = local_server(&cleanup);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures.join("drift-matrix"))
        .expect("matrix")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases.extend(
        [
            "repos/drift-rename",
            "prisma/ahead",
            "prisma/config-path-join",
            "drizzle/drift-project",
        ]
        .map(|f| fixtures.join(f)),
    );
    let mut failures = Vec::new();
    let mut compared = 0;
    for case in &cases {
        let name = case
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let dir = copy(case);
        let fix = Command::new(env!("CARGO_BIN_EXE_pgrehearse"))
            .arg("fix-drift")
            .arg(dir.path())
            .args(["--engine", "local"])
            .env_remove("PGREHEARSE_DATABASE_URL")
            .output()
            .expect("fix-drift runs");
        let fix_out = String::from_utf8_lossy(&fix.stdout).into_owned();
        if fix.status.code() != Some(0) {
            failures.push(format!(
                "{name}: fix-drift exit {:?}\n{fix_out}{}",
                fix.status.code(),
                String::from_utf8_lossy(&fix.stderr)
            ));
            continue;
        }
        // Cases with a step left commented out still differ, by design (but for column order,
        // which migra does not compare); and where migra sees a difference pgrehearse does not (the
        // exceptions of the drift-matrix oracle, with no drift expected), fix-drift has nothing to
        // write.
        let no_drift =
            std::fs::read_to_string(case.join("expect.txt")).is_ok_and(|e| e.trim().is_empty());
        let left_differing = fix_out
            .lines()
            .filter(|l| l.contains("commented out, not applied"))
            .any(|l| !l.contains("cannot reorder columns"));
        if left_differing || (no_drift && super::EXCEPTIONS.iter().any(|(n, _)| *n == name)) {
            continue;
        }
        compared += 1;
        let (built, declared_db) = rt.block_on(async {
            let mut discovery = discover::find(dir.path(), None).expect("discovers");
            declared::find(dir.path(), None, &[], &mut discovery)
                .expect("finds the declared schema");
            let set = &discovery.sets[0];
            let built = server
                .create_scratch(&cleanup, "oracle")
                .await
                .expect("scratch");
            let client = server.connect(&built.name).await.expect("connects");
            let log = replay::run(&client, set, &EngineContext::default())
                .await
                .expect("replays");
            assert!(
                !log.failed,
                "{name}: the migrations and the generated one do not replay: {:?}",
                log.findings
            );
            let declared_db = server
                .create_scratch(&cleanup, "oracle")
                .await
                .expect("scratch");
            let client = server.connect(&declared_db.name).await.expect("connects");
            let loaded = declared::load(&client, &set.schemas[0])
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
        rt.block_on(async {
            server.drop_scratch(&cleanup, built).await;
            server.drop_scratch(&cleanup, declared_db).await;
        });
        match out.status.code() {
            Some(0) => {}
            other => failures.push(format!(
                "{name}: migra ({other:?}) still finds:\n{}{}\n--- fix-drift:\n{fix_out}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )),
        }
    }
    rt.block_on(cleanup.run_all());
    assert!(compared >= 39, "too few cases compared: {compared}");
    assert!(
        failures.is_empty(),
        "{} of {compared} cases:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
