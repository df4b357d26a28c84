//! `fix-drift`: the migration it writes, replayed after the set's own migrations, leaves no drift
//! but the destructive and manual steps it wrote commented out; in each runner's own format, taken by
//! discovery (and the runner's ordering) as the last migration.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::harness::{Engine, check_json, command, engine_args, repo};

/// A copy of the folder `src` in a new temporary directory.
fn copy(src: &Path) -> tempfile::TempDir {
    fn walk(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for e in std::fs::read_dir(from).expect("read fixture").flatten() {
            let p = e.path();
            let target = to.join(e.file_name());
            if p.is_dir() {
                walk(&p, &target);
            } else {
                std::fs::copy(&p, &target).expect("copy");
            }
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    walk(src, dir.path());
    dir
}

fn fixtures(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

/// Runs `pgrehearse fix-drift <dir>` on the local engine.
fn fix_drift(dir: &Path, extra: &[&str]) -> Output {
    command()
        .arg("fix-drift")
        .arg(dir)
        .args(engine_args(Engine::Local))
        .args(extra)
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The objects fix-drift says it left commented out.
fn commented(out: &str) -> BTreeSet<String> {
    out.lines()
        .filter_map(|l| l.trim().strip_prefix("commented out, not applied: "))
        .filter_map(|l| l.split_once(": ").map(|(o, _)| o.to_string()))
        .collect()
}

/// The files fix-drift says it created or updated (relative paths).
fn written(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| {
            let l = l.trim();
            l.strip_prefix("created ")
                .or_else(|| l.strip_prefix("updated "))
        })
        .map(str::to_string)
        .collect()
}

/// Checks `dir` again: the objects still drifting, and that the replay (the new migrations
/// included) did not fail.
fn drift_after(dir: &Path) -> BTreeSet<String> {
    let run = check_json(dir, Engine::Local, &[]);
    for rule in [
        "migration-failed",
        "migration-not-applied",
        "unrecognized-migration-file",
    ] {
        assert!(
            run.rule(rule).is_empty(),
            "{rule} after fix-drift: {}",
            run.json
        );
    }
    run.rule("schema-drift")
        .iter()
        .map(|f| {
            f["evidence"]["extra"]["object"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Every drift-matrix case: after fix-drift, checking again finds no drift but exactly the objects
/// whose steps it wrote commented out; the cases without drift get no file.
#[test]
fn drift_matrix_is_resolved_but_for_the_steps_left_commented_out() {
    let root = fixtures("drift-matrix");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("matrix folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 40, "the matrix lost cases: {}", cases.len());
    // Destructive (a narrowing type, a column only the migrations have) or manual (an order
    // PostgreSQL cannot change, a generated expression before PostgreSQL 17).
    let left = [
        ("column-extra", "public.t.a"),
        ("column-generated", "public.t.a"),
        ("column-order", "public.t"),
        ("column-type", "public.t.a"),
        ("enum-order", "public.e"),
    ];
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        let dir = copy(case);
        let out = fix_drift(dir.path(), &[]);
        let text = stdout(&out);
        if out.status.code() != Some(0) {
            failures.push(format!(
                "{name}: exit {:?}\n{text}{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
            continue;
        }
        let expected: BTreeSet<String> = left
            .iter()
            .filter(|(c, _)| *c == name)
            .map(|(_, o)| o.to_string())
            .collect();
        let remaining = drift_after(dir.path());
        let files = written(&text);
        let problems = [
            (remaining != expected).then(|| format!("drift after: {remaining:?}")),
            (commented(&text) != expected)
                .then(|| format!("commented out: {:?}", commented(&text))),
            (name.starts_with("same-") != files.is_empty())
                .then(|| format!("files written: {files:?}")),
        ];
        let problems: Vec<String> = problems.into_iter().flatten().collect();
        if !problems.is_empty() {
            failures.push(format!(
                "{name}: expected {expected:?} left; {}\n{text}",
                problems.join("; ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// golang-migrate: the main migration, the index built CONCURRENTLY in a one-statement file of its
/// own (golang-migrate sends a file as one query), the NOT NULL validated in a later migration; the
/// narrowing type change, the extra column and the extra table commented out.
#[test]
fn golang_migrate_gets_main_index_and_validation_migrations() {
    let dir = copy(&crate::harness::fixture("drift-sql"));
    let out = fix_drift(dir.path(), &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(
        written(&text),
        [
            "db/migrations/3_pgrehearse_fix_drift.up.sql",
            "db/migrations/3_pgrehearse_fix_drift.down.sql",
            "db/migrations/4_pgrehearse_fix_drift_index.up.sql",
            "db/migrations/4_pgrehearse_fix_drift_index.down.sql",
            "db/migrations/5_pgrehearse_fix_drift_validate.up.sql",
            "db/migrations/5_pgrehearse_fix_drift_validate.down.sql",
        ],
        "{text}"
    );
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).expect("written file");
    let main = read("db/migrations/3_pgrehearse_fix_drift.up.sql");
    assert!(main.contains("SET lock_timeout = '5s';"), "{main}");
    assert!(
        main.contains("ADD VALUE IF NOT EXISTS 'enterprise' AFTER 'pro'"),
        "{main}"
    );
    assert!(
        main.contains("CHECK (email IS NOT NULL) NOT VALID"),
        "{main}"
    );
    let index = read("db/migrations/4_pgrehearse_fix_drift_index.up.sql");
    let statements: Vec<&str> = index
        .lines()
        .filter(|l| !l.starts_with("--") && !l.trim().is_empty())
        .collect();
    assert_eq!(
        statements,
        ["CREATE INDEX CONCURRENTLY orders_user_id_idx ON public.orders USING btree (user_id);"]
    );
    let validate = read("db/migrations/5_pgrehearse_fix_drift_validate.up.sql");
    assert!(
        validate.contains("VALIDATE CONSTRAINT users_email_not_null;\n\nALTER TABLE public.users ALTER COLUMN email SET NOT NULL;"),
        "{validate}"
    );
    // Drops last: the destructive steps close the last file, commented out.
    assert!(
        validate.contains("-- DROP TABLE public.audit_log;"),
        "{validate}"
    );
    assert!(!validate.contains("\nDROP"), "{validate}");
    let left = set(&[
        "public.audit_log",
        "public.users.email",
        "public.users.nickname",
    ]);
    assert_eq!(commented(&text), left, "{text}");
    assert_eq!(drift_after(dir.path()), left);
    // The migration the rules would flag was not written: no lock, scan or index warning on it.
    let run = check_json(dir.path(), Engine::Local, &[]);
    let on_new: Vec<&serde_json::Value> = run
        .findings()
        .iter()
        .filter(|f| {
            f["file"]
                .as_str()
                .is_some_and(|p| p.contains("pgrehearse_fix_drift"))
        })
        .collect();
    assert!(on_new.is_empty(), "{on_new:?}");
}

/// `--dry-run` prints the migration and writes nothing; a second run after writing finds nothing to do.
#[test]
fn dry_run_writes_nothing_and_a_second_run_has_nothing_to_do() {
    let dir = copy(&fixtures("drift-matrix/index-missing"));
    let out = fix_drift(dir.path(), &["--dry-run"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("-- migrations/002_pgrehearse_fix_drift.sql"),
        "{text}"
    );
    assert!(
        text.contains("CREATE INDEX CONCURRENTLY t_a_idx ON public.t USING btree (a);"),
        "{text}"
    );
    assert!(
        !dir.path()
            .join("migrations/002_pgrehearse_fix_drift.sql")
            .exists()
    );
    let out = fix_drift(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        dir.path()
            .join("migrations/002_pgrehearse_fix_drift.sql")
            .is_file()
    );
    let again = fix_drift(dir.path(), &[]);
    let text = stdout(&again);
    assert_eq!(again.status.code(), Some(0), "{text}");
    assert!(text.contains("nothing to write"), "{text}");
    assert!(written(&text).is_empty(), "{text}");
}

/// Drizzle: a new `NNNN_` file with statement breakpoints, registered last in the journal, which
/// still parses; the replay (all pending migrations in one transaction) then leaves no drift.
#[test]
fn drizzle_migration_is_registered_in_the_journal() {
    let dir = copy(&fixtures("drizzle/drift-project"));
    let out = fix_drift(dir.path(), &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(
        written(&text),
        [
            "drizzle/0001_pgrehearse_fix_drift.sql",
            "drizzle/meta/_journal.json"
        ],
        "{text}"
    );
    let journal: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("drizzle/meta/_journal.json")).expect("journal"),
    )
    .expect("the journal still parses");
    let entries = journal["entries"].as_array().expect("entries");
    let last = entries.last().expect("an entry");
    assert_eq!(last["tag"], "0001_pgrehearse_fix_drift");
    assert_eq!(last["idx"], 1);
    assert_eq!(last["breakpoints"], true);
    assert!(last["when"].as_u64() > entries[0]["when"].as_u64());
    let sql = std::fs::read_to_string(dir.path().join("drizzle/0001_pgrehearse_fix_drift.sql"))
        .expect("migration");
    assert!(sql.contains("\n--> statement-breakpoint\n"), "{sql}");
    assert!(sql.contains("SET LOCAL lock_timeout"), "{sql}");
    // No CONCURRENTLY: drizzle-kit migrate runs every pending migration in one transaction.
    assert!(!sql.contains("CONCURRENTLY"), "{sql}");
    assert_eq!(drift_after(dir.path()), BTreeSet::new());
}

/// Prisma: a `<timestamp>_pgrehearse_fix_drift/migration.sql` folder after the last one; the column
/// declared in the middle of its model can only be added at the end, so the column order is left
/// (commented out) as the one remaining difference.
#[test]
fn prisma_migration_folder_follows_the_last_one() {
    let dir = copy(&fixtures("prisma/ahead"));
    let out = fix_drift(dir.path(), &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let files = written(&text);
    assert_eq!(files.len(), 1, "{text}");
    let folder = files[0]
        .strip_prefix("prisma/migrations/")
        .and_then(|f| f.strip_suffix("_pgrehearse_fix_drift/migration.sql"))
        .unwrap_or_else(|| panic!("unexpected file {}", files[0]));
    assert!(
        folder.len() == 14
            && folder.bytes().all(|b| b.is_ascii_digit())
            && folder > "20240101000000",
        "{folder}"
    );
    let left = set(&["public.\"User\""]);
    assert_eq!(commented(&text), left, "{text}");
    assert_eq!(drift_after(dir.path()), left);
}

/// The same drift in every other runner's layout: a column to add, a NOT NULL to set, a CHECK and an
/// index to add, and a table only the migrations have (its drop left commented out).
const SCHEMA: &str = "CREATE TABLE t (\n    id int PRIMARY KEY,\n    a text NOT NULL,\n    b int,\n    CONSTRAINT t_b_check CHECK (b > 0)\n);\nCREATE INDEX t_a_idx ON t (a);\n";
const INIT: &str = "CREATE TABLE t (id int PRIMARY KEY, a text);\nCREATE TABLE old (id int);\n";

/// Runs fix-drift on a repository of `files` plus `schema.sql`, checks the written file names
/// against `names` (with `TS` standing for any 14-digit version, `DT` for diesel's
/// `YYYY-MM-DD-HHMMSS`) and returns the repository and the written files' texts in order.
fn runner_case(files: &[(&str, &str)], names: &[&str]) -> (tempfile::TempDir, Vec<String>) {
    let mut all = files.to_vec();
    all.push(("schema.sql", SCHEMA));
    let dir = repo(&all);
    let out = fix_drift(dir.path(), &[]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = written(&text);
    let matches = |pattern: &str, name: &str| {
        let mut rest = name;
        let mut pattern = pattern;
        loop {
            let next = [("TS", 14usize), ("DT", 17)]
                .iter()
                .filter_map(|(tok, len)| pattern.find(tok).map(|at| (at, *len)))
                .min();
            let Some((at, len)) = next else {
                return rest == pattern;
            };
            let Some(r) = rest.strip_prefix(&pattern[..at]) else {
                return false;
            };
            let version = r.get(..len).unwrap_or("");
            let ok = version.len() == len
                && version.bytes().enumerate().all(|(i, b)| {
                    if len == 17 && matches!(i, 4 | 7 | 10) {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                });
            if !ok {
                return false;
            }
            rest = &r[len..];
            pattern = &pattern[at + 2..];
        }
    };
    assert_eq!(got.len(), names.len(), "{text}");
    for (g, n) in got.iter().zip(names) {
        assert!(matches(n, g), "{g} is not {n}\n{text}");
    }
    assert_eq!(commented(&text), set(&["public.old"]), "{text}");
    assert_eq!(drift_after(dir.path()), set(&["public.old"]));
    let texts = got
        .iter()
        .map(|f| std::fs::read_to_string(dir.path().join(f)).expect("written"))
        .collect();
    (dir, texts)
}

#[test]
fn psql_numbered_files_get_the_next_number_and_concurrent_index_inline() {
    let (_dir, texts) = runner_case(
        &[("migrations/001_init.sql", INIT)],
        &["migrations/002_pgrehearse_fix_drift.sql"],
    );
    assert!(
        texts[0].contains("CREATE INDEX CONCURRENTLY t_a_idx"),
        "{}",
        texts[0]
    );
    assert!(
        texts[0].contains("VALIDATE CONSTRAINT t_b_check"),
        "{}",
        texts[0]
    );
}

#[test]
fn goose_gets_a_no_transaction_file_for_the_index() {
    let init = format!("-- +goose Up\n{INIT}\n-- +goose Down\nDROP TABLE t;\n");
    let (_dir, texts) = runner_case(
        &[("migrations/00001_init.sql", &init)],
        &[
            "migrations/00002_pgrehearse_fix_drift.sql",
            "migrations/00003_pgrehearse_fix_drift_index.sql",
            "migrations/00004_pgrehearse_fix_drift_validate.sql",
        ],
    );
    assert!(texts[0].starts_with("-- +goose Up\n"), "{}", texts[0]);
    assert!(texts[0].contains("SET LOCAL lock_timeout"), "{}", texts[0]);
    assert!(
        texts[1].starts_with("-- +goose NO TRANSACTION\n-- +goose Up\n"),
        "{}",
        texts[1]
    );
    assert!(
        texts[1].contains("CREATE INDEX CONCURRENTLY"),
        "{}",
        texts[1]
    );
    assert!(texts[2].contains("VALIDATE CONSTRAINT"), "{}", texts[2]);
}

#[test]
fn dbmate_index_migration_runs_without_a_transaction() {
    let init = format!("-- migrate:up\n{INIT}\n-- migrate:down\nDROP TABLE t;\n");
    let (_dir, texts) = runner_case(
        &[("db/migrations/20240101000000_init.sql", &init)],
        &[
            "db/migrations/TS_pgrehearse_fix_drift.sql",
            "db/migrations/TS_pgrehearse_fix_drift_index.sql",
            "db/migrations/TS_pgrehearse_fix_drift_validate.sql",
        ],
    );
    assert!(
        texts[1].starts_with("-- migrate:up transaction:false\n"),
        "{}",
        texts[1]
    );
}

#[test]
fn sqlx_index_migration_opts_out_of_the_transaction() {
    let (_dir, texts) = runner_case(
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"app\"\n\n[dependencies]\nsqlx = \"0.8\"\n",
            ),
            ("migrations/20240101000000_init.sql", INIT),
        ],
        &[
            "migrations/TS_pgrehearse_fix_drift.sql",
            "migrations/TS_pgrehearse_fix_drift_index.sql",
            "migrations/TS_pgrehearse_fix_drift_validate.sql",
        ],
    );
    assert!(texts[1].starts_with("-- no-transaction\n"), "{}", texts[1]);
}

#[test]
fn diesel_folders_follow_the_last_one() {
    let (_dir, texts) = runner_case(
        &[
            ("migrations/2024-01-01-000000_init/up.sql", INIT),
            (
                "migrations/2024-01-01-000000_init/down.sql",
                "DROP TABLE t;\n",
            ),
        ],
        &[
            "migrations/DT_pgrehearse_fix_drift/up.sql",
            "migrations/DT_pgrehearse_fix_drift/down.sql",
            "migrations/DT_pgrehearse_fix_drift_index/up.sql",
            "migrations/DT_pgrehearse_fix_drift_index/down.sql",
            "migrations/DT_pgrehearse_fix_drift_index/metadata.toml",
            "migrations/DT_pgrehearse_fix_drift_validate/up.sql",
            "migrations/DT_pgrehearse_fix_drift_validate/down.sql",
        ],
    );
    assert_eq!(texts[4], "run_in_transaction = false\n");
}

#[test]
fn flyway_gets_the_next_version() {
    let (_dir, texts) = runner_case(
        &[("db/migration/V1__init.sql", INIT)],
        &[
            "db/migration/V2__pgrehearse_fix_drift.sql",
            "db/migration/V3__pgrehearse_fix_drift_index.sql",
            "db/migration/V4__pgrehearse_fix_drift_validate.sql",
        ],
    );
    // A Flyway file of only non-transactional statements runs without a transaction.
    let statements: Vec<&str> = texts[1]
        .lines()
        .filter(|l| !l.starts_with("--") && !l.trim().is_empty())
        .collect();
    assert_eq!(
        statements,
        ["CREATE INDEX CONCURRENTLY t_a_idx ON public.t USING btree (a);"]
    );
}

#[test]
fn supabase_gets_a_timestamped_file_and_a_plain_index() {
    let (_dir, texts) = runner_case(
        &[("supabase/migrations/20240101000000_init.sql", INIT)],
        &[
            "supabase/migrations/TS_pgrehearse_fix_drift.sql",
            "supabase/migrations/TS_pgrehearse_fix_drift_validate.sql",
        ],
    );
    // The Supabase CLI runs every file in a transaction: no CONCURRENTLY.
    assert!(!texts.concat().contains("CONCURRENTLY"));
}

/// `--direction migrations` writes nothing and names each declared line to change.
#[test]
fn direction_migrations_lists_the_declared_lines() {
    let dir = copy(&crate::harness::fixture("drift-sql"));
    let out = fix_drift(dir.path(), &["--direction", "migrations"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let lines: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.split_once(": ").map(|(at, _)| at))
        .filter(|at| at.contains(".sql:"))
        .collect();
    assert_eq!(
        lines,
        [
            "db/migrations/1_init.up.sql:8",
            "db/migrations/2_orders.up.sql:2",
            "db/schema.sql:9",
            "db/schema.sql:14",
            "db/schema.sql:37",
            "db/schema.sql:39",
        ]
        .into_iter()
        .collect(),
        "{text}"
    );
    assert!(
        text.contains("db/schema.sql:39: table `public.invoices` is in db/schema.sql but the migrations do not create it\n  = change: remove `public.invoices` from db/schema.sql"),
        "{text}"
    );
    assert!(
        text.contains("db/migrations/2_orders.up.sql:2: column `public.users.nickname` is created by the migrations but is not in db/schema.sql\n  = change: add `public.users.nickname` to db/schema.sql"),
        "{text}"
    );
    assert!(
        std::fs::read_dir(dir.path().join("db/migrations"))
            .expect("folder")
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().contains("pgrehearse")),
        "nothing is written"
    );
}

/// A widened column that a view reads: the view is dropped before the type change and created again
/// after it. A UNIQUE constraint on an existing table: its index built CONCURRENTLY in a migration of
/// its own, attached `USING INDEX` in the later one (golang-migrate).
#[test]
fn views_over_a_retyped_column_and_unique_constraints_on_existing_tables() {
    let dir = repo(&[
        (
            "db/migrations/1_init.up.sql",
            "CREATE TABLE t (id int PRIMARY KEY, a varchar(10), b int);\nCREATE VIEW v AS SELECT id, a FROM t;\nCREATE VIEW w AS SELECT a FROM v;\n",
        ),
        (
            "db/schema.sql",
            "CREATE TABLE t (id int PRIMARY KEY, a varchar(20), b int CONSTRAINT t_b_key UNIQUE);\nCREATE VIEW v AS SELECT id, a FROM t;\nCREATE VIEW w AS SELECT a FROM v;\n",
        ),
    ]);
    let out = fix_drift(dir.path(), &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(
        written(&text)
            .iter()
            .filter(|f| f.ends_with(".up.sql"))
            .collect::<Vec<_>>(),
        [
            "db/migrations/2_pgrehearse_fix_drift.up.sql",
            "db/migrations/3_pgrehearse_fix_drift_index.up.sql",
            "db/migrations/4_pgrehearse_fix_drift_validate.up.sql",
        ],
        "{text}"
    );
    let main = std::fs::read_to_string(
        dir.path()
            .join("db/migrations/2_pgrehearse_fix_drift.up.sql"),
    )
    .expect("main");
    let at = |needle: &str| {
        main.find(needle)
            .unwrap_or_else(|| panic!("`{needle}` is not in:\n{main}"))
    };
    // Readers first, then the type change, then the views again.
    assert!(
        at("DROP VIEW public.w;") < at("DROP VIEW public.v;"),
        "{main}"
    );
    assert!(at("DROP VIEW public.v;") < at("ALTER COLUMN a TYPE character varying(20)"));
    assert!(at("ALTER COLUMN a TYPE") < at("CREATE VIEW public.v AS"));
    assert!(at("CREATE VIEW public.v AS") < at("CREATE VIEW public.w AS"));
    let index = std::fs::read_to_string(
        dir.path()
            .join("db/migrations/3_pgrehearse_fix_drift_index.up.sql"),
    )
    .expect("index");
    assert!(
        index.contains("CREATE UNIQUE INDEX CONCURRENTLY t_b_key ON public.t USING btree (b);"),
        "{index}"
    );
    let validate = std::fs::read_to_string(
        dir.path()
            .join("db/migrations/4_pgrehearse_fix_drift_validate.up.sql"),
    )
    .expect("validate");
    assert!(
        validate
            .contains("ALTER TABLE public.t ADD CONSTRAINT t_b_key UNIQUE USING INDEX t_b_key;"),
        "{validate}"
    );
    assert_eq!(drift_after(dir.path()), BTreeSet::new());
}

/// A set whose migrations do not replay cleanly is not fixed (drift computed on a half-built
/// database would be wrong): it is named with the reason, nothing is written, and the exit code is 2.
#[test]
fn a_set_that_does_not_replay_is_named_and_exits_2() {
    let dir = repo(&[
        (
            "migrations/001_init.sql",
            "CREATE TABLE t (id int PRIMARY KEY);\nALTER TABLE missing ADD COLUMN a int;\n",
        ),
        (
            "schema.sql",
            "CREATE TABLE t (id int PRIMARY KEY, a int);\n",
        ),
    ]);
    let out = fix_drift(dir.path(), &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("migrations (psql): not fixed: the migrations do not replay cleanly"),
        "{text}"
    );
    assert!(written(&text).is_empty(), "{text}");
    assert!(
        !dir.path()
            .join("migrations/002_pgrehearse_fix_drift.sql")
            .exists()
    );
}

/// Every fixture repository with drift (SQL, renames, Prisma datamodels, Drizzle schema.ts): after
/// fix-drift, checking again finds drift only for the objects it left commented out.
#[test]
fn every_drift_fixture_is_resolved_but_for_the_commented_steps() {
    let mut failures = Vec::new();
    for fixture in [
        "repos/drift-sql",
        "repos/drift-rename",
        "prisma/ahead",
        "prisma/config-path-join",
        "drizzle/drift-project",
    ] {
        let dir = copy(&fixtures(fixture));
        let before = drift_after(dir.path());
        assert!(!before.is_empty(), "{fixture} has no drift any more");
        let out = fix_drift(dir.path(), &[]);
        let text = stdout(&out);
        if out.status.code() != Some(0) {
            failures.push(format!("{fixture}: exit {:?}\n{text}", out.status.code()));
            continue;
        }
        let after = drift_after(dir.path());
        if after != commented(&text) || written(&text).is_empty() {
            failures.push(format!(
                "{fixture}: drift before {before:?}, after {after:?}\n{text}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Renamed constraints and indexes are renamed, not dropped and created.
#[test]
fn renames_are_renamed() {
    let dir = copy(&crate::harness::fixture("drift-rename"));
    let out = fix_drift(dir.path(), &["--dry-run"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(
            "ALTER TABLE public.users RENAME CONSTRAINT users_email_key TO users_email_unique;"
        ),
        "{text}"
    );
    assert!(
        text.contains("ALTER INDEX public.users_handle_idx RENAME TO users_by_handle;"),
        "{text}"
    );
    assert!(!text.contains("DROP"), "{text}");
}

const ENUM_INIT: &str = "CREATE TYPE status AS ENUM ('new', 'paid');\nCREATE TABLE orders (id serial PRIMARY KEY, status status DEFAULT 'new');\n";
const ENUM_SCHEMA: &str = "CREATE TYPE status AS ENUM ('draft', 'new', 'paid', 'shipped');\nCREATE TABLE orders (id serial PRIMARY KEY, status status DEFAULT 'draft');\nCREATE INDEX orders_shipped_idx ON orders (id) WHERE status = 'shipped';\n";

/// PostgreSQL refuses an enum value in the transaction that added it: goose gets the values in a
/// migration of their own, committed before the one that uses them.
#[test]
fn new_enum_values_are_committed_before_their_use() {
    let init = format!("-- +goose Up\n{ENUM_INIT}");
    let dir = repo(&[
        ("migrations/00001_init.sql", &init),
        ("schema.sql", ENUM_SCHEMA),
    ]);
    let out = fix_drift(dir.path(), &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(
        written(&text),
        [
            "migrations/00002_pgrehearse_fix_drift_enum_values.sql",
            "migrations/00003_pgrehearse_fix_drift.sql",
            "migrations/00004_pgrehearse_fix_drift_index.sql",
        ],
        "{text}"
    );
    let values = std::fs::read_to_string(
        dir.path()
            .join("migrations/00002_pgrehearse_fix_drift_enum_values.sql"),
    )
    .expect("enum values");
    assert!(
        values.contains("ALTER TYPE public.status ADD VALUE IF NOT EXISTS 'draft' BEFORE 'new';"),
        "{values}"
    );
    assert_eq!(drift_after(dir.path()), BTreeSet::new());
}

/// Drizzle runs every pending migration in one transaction: the statements using a new enum value
/// cannot run there, so they are left commented out (and remain drift) rather than failing.
#[test]
fn drizzle_leaves_uses_of_new_enum_values_commented_out() {
    let dir = repo(&[
        (
            "drizzle/0000_init.sql",
            &ENUM_INIT.replace(";\n", ";\n--> statement-breakpoint\n"),
        ),
        (
            "drizzle/meta/_journal.json",
            "{\n  \"version\": \"7\",\n  \"dialect\": \"postgresql\",\n  \"entries\": [\n    { \"idx\": 0, \"version\": \"7\", \"when\": 1717000000000, \"tag\": \"0000_init\", \"breakpoints\": true }\n  ]\n}\n",
        ),
        ("schema.sql", ENUM_SCHEMA),
    ]);
    let out = fix_drift(dir.path(), &["--schema", "schema.sql"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let left = set(&[
        "orders_shipped_idx on public.orders",
        "public.orders.status",
    ]);
    assert_eq!(commented(&text), left, "{text}");
    assert_eq!(drift_after(dir.path()), left);
}

/// A `serial` declared as an identity column: the default is dropped, the identity added, and its
/// sequence set after the existing rows, so that the next insert (a later migration here) does not
/// collide with them. The serial's own sequence is left, its drop commented out.
#[test]
fn serial_to_identity_continues_after_existing_rows() {
    let dir = repo(&[
        (
            "migrations/001_init.sql",
            "CREATE TABLE t (id serial PRIMARY KEY, a int);\nINSERT INTO t (a) VALUES (1), (2), (3);\n",
        ),
        (
            "schema.sql",
            "CREATE TABLE t (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, a int);\n",
        ),
    ]);
    let out = fix_drift(dir.path(), &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    std::fs::write(
        dir.path().join("migrations/003_insert.sql"),
        "INSERT INTO t (a) VALUES (4);\n",
    )
    .expect("write");
    // drift_after fails on a migration that does not replay (a duplicate key here).
    assert_eq!(drift_after(dir.path()), set(&["public.t_id_seq"]));
    assert_eq!(commented(&text), set(&["public.t_id_seq"]), "{text}");
}

/// `psql --single-transaction` (configured): numbered files, no CONCURRENTLY (the file is one
/// transaction), validation in the next file.
#[test]
fn psql_single_transaction_gets_numbered_files_without_concurrently() {
    let (_dir, texts) = runner_case(
        &[
            (
                ".pgrehearse.yaml",
                "sets:\n  - path: migrations\n    runner: psql-single-transaction\n    schema: [schema.sql]\n",
            ),
            ("migrations/001_init.sql", INIT),
        ],
        &[
            "migrations/002_pgrehearse_fix_drift.sql",
            "migrations/003_pgrehearse_fix_drift_validate.sql",
        ],
    );
    assert!(texts[0].contains("SET LOCAL lock_timeout"), "{}", texts[0]);
    assert!(
        texts[0].contains("CREATE INDEX t_a_idx ON public.t USING btree (a);"),
        "{}",
        texts[0]
    );
    assert!(!texts.concat().contains("CONCURRENTLY"));
}

/// The up and down sections of a written migration (a file of its own for golang-migrate, a
/// section of the file for goose and dbmate).
fn up_down(dir: &Path, written: &[String]) -> Vec<(String, String)> {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect("written file");
    let mut out = Vec::new();
    for f in written {
        if f.ends_with(".down.sql") {
            continue;
        }
        if let Some(stem) = f.strip_suffix(".up.sql") {
            out.push((read(f), read(&format!("{stem}.down.sql"))));
            continue;
        }
        let text = read(f);
        let marker = [
            "-- +goose Down\n",
            "-- migrate:down transaction:false\n",
            "-- migrate:down\n",
        ]
        .into_iter()
        .find(|m| text.contains(m))
        .unwrap_or_else(|| panic!("{f} has no down section:\n{text}"));
        let (up, down) = text.split_once(marker).expect("marker");
        out.push((up.to_string(), down.to_string()));
    }
    out
}

/// Replays, as plain psql migrations, the original ones, the generated ups and then their downs in
/// reverse order, and returns the objects drifting from the original migrations' schema (they are
/// the declared schema): rolling every generated migration back restores what was there before.
fn drift_after_rollback(original: &[&str], parts: &[(String, String)]) -> BTreeSet<String> {
    let mut texts: Vec<String> = original.iter().map(|s| s.to_string()).collect();
    texts.extend(parts.iter().map(|(up, _)| up.clone()));
    texts.extend(parts.iter().rev().map(|(_, down)| down.clone()));
    let names: Vec<String> = (1..=texts.len())
        .map(|i| format!("migrations/{i:03}_step.sql"))
        .collect();
    let schema = original.concat();
    let mut files: Vec<(&str, &str)> = names
        .iter()
        .map(String::as_str)
        .zip(texts.iter().map(String::as_str))
        .collect();
    files.push(("schema.sql", &schema));
    files.push((
        ".pgrehearse.yaml",
        "sets:\n  - path: migrations\n    runner: psql\n    schema: [schema.sql]\n",
    ));
    let dir = repo(&files);
    drift_after(dir.path())
}

const DOWN_INIT: &str = "CREATE TYPE plan AS ENUM ('free', 'pro');\nCREATE TABLE t (id int PRIMARY KEY, a text, n int DEFAULT 1, p plan);\nCREATE TABLE old (id int);\nCREATE VIEW v AS SELECT id, a FROM t;\n";
const DOWN_SCHEMA: &str = "CREATE TYPE plan AS ENUM ('free', 'pro', 'team');\nCREATE TABLE t (\n    id int PRIMARY KEY,\n    a text NOT NULL,\n    n bigint DEFAULT 2,\n    p plan DEFAULT 'team',\n    b int,\n    CONSTRAINT t_b_check CHECK (b > 0)\n);\nCREATE INDEX t_a_idx ON t (a);\nCREATE TABLE u (id serial PRIMARY KEY, t_id int REFERENCES t (id));\nCREATE INDEX u_t_id_idx ON u (t_id);\nCREATE VIEW v AS SELECT id, a, b FROM t;\nCREATE VIEW w AS SELECT id FROM u;\n";

/// Runs fix-drift on a repository of `files` (whose migrations are `DOWN_INIT`) declaring
/// `DOWN_SCHEMA`; the up leaves no drift but the commented-out drop of `old`; rolling back every
/// generated migration leaves no drift from the original migrations but the enum value, which
/// PostgreSQL cannot remove (the down says so).
fn downs_roll_back(files: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut all = files.to_vec();
    all.push(("schema.sql", DOWN_SCHEMA));
    let dir = repo(&all);
    let out = fix_drift(dir.path(), &[]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(commented(&text), set(&["public.old"]), "{text}");
    assert_eq!(drift_after(dir.path()), set(&["public.old"]), "{text}");
    let parts = up_down(dir.path(), &written(&text));
    let downs: String = parts.iter().map(|(_, d)| d.as_str()).collect();
    assert!(downs.contains("DROP TABLE IF EXISTS public.u"), "{downs}");
    assert!(downs.contains("cannot drop an enum value"), "{downs}");
    assert!(!downs.contains("public.old"), "{downs}");
    assert_eq!(
        drift_after_rollback(&[DOWN_INIT], &parts),
        set(&["'team' of public.plan"]),
        "{downs}"
    );
    parts
}

#[test]
fn golang_migrate_downs_roll_the_fix_back() {
    let parts = downs_roll_back(&[
        ("db/migrations/1_init.up.sql", DOWN_INIT),
        ("db/migrations/1_init.down.sql", "DROP TABLE t;\n"),
    ]);
    assert!(parts.len() >= 3, "{parts:?}");
}

#[test]
fn goose_downs_roll_the_fix_back() {
    let init = format!("-- +goose Up\n{DOWN_INIT}\n-- +goose Down\nDROP TABLE t;\n");
    downs_roll_back(&[("migrations/00001_init.sql", &init)]);
}

#[test]
fn dbmate_downs_roll_the_fix_back() {
    let init = format!("-- migrate:up\n{DOWN_INIT}\n-- migrate:down\nDROP TABLE t;\n");
    downs_roll_back(&[("db/migrations/20240101000000_init.sql", &init)]);
}

/// Every drift-matrix case as a golang-migrate set: rolling back the generated migrations (downs in
/// reverse order) leaves no drift from the original migrations, but the enum value PostgreSQL
/// cannot remove.
#[test]
fn drift_matrix_downs_restore_the_migrations_schema() {
    let root = fixtures("drift-matrix");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("matrix folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && !p.ends_with("same-auto-names"))
        .collect();
    cases.sort();
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        if name.starts_with("same-") {
            continue;
        }
        let original = std::fs::read_to_string(case.join("migrations/001_m.sql")).expect("m");
        let dir = repo(&[
            ("migrations/1_m.up.sql", &original),
            ("migrations/1_m.down.sql", ""),
            (
                "schema.sql",
                &std::fs::read_to_string(case.join("schema.sql")).expect("schema"),
            ),
        ]);
        let out = fix_drift(dir.path(), &[]);
        let text = stdout(&out);
        if out.status.code() != Some(0) {
            failures.push(format!("{name}: exit {:?}\n{text}", out.status.code()));
            continue;
        }
        let parts = up_down(dir.path(), &written(&text));
        if parts.is_empty() {
            failures.push(format!("{name}: no migration written\n{text}"));
            continue;
        }
        let left = drift_after_rollback(&[&original], &parts);
        let expected = if name == "enum-value" {
            left.iter()
                .filter(|o| o.contains(" of "))
                .cloned()
                .collect()
        } else {
            BTreeSet::new()
        };
        if left != expected || (name == "enum-value" && left.is_empty()) {
            let downs: String = parts.iter().map(|(_, d)| d.as_str()).collect();
            failures.push(format!("{name}: drift after rollback {left:?}\n{downs}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
