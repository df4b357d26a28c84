//! Lock and rewrite tracing on tables that existed before the migration, observed on real servers.

use crate::harness::{Engine, check_json, fixture, repo};

fn locks(engine: Engine) {
    let run = check_json(&fixture("locks"), engine, &[]);
    // Lock findings only: the autocommit files also get static partial-failure findings.
    let mut got = lock_findings(&run);
    got.sort_by(|a, b| (&a.1, a.2).cmp(&(&b.1, b.2)));
    let risky = |rule: &str, line| {
        (
            rule.to_string(),
            "migrations/002_risky.sql".to_string(),
            line,
        )
    };
    // 001 only touches tables it creates; 003 uses the safe forms (CONCURRENTLY, NOT VALID +
    // VALIDATE, a constant default, lock_timeout set): no finding for either.
    assert_eq!(
        got,
        vec![
            risky("index-without-concurrently", 1),
            risky("table-rewrite", 2),
            risky("validation-scan", 3),
            risky("validation-scan", 4),
            risky("table-rewrite", 5),
            risky("lock-without-timeout", 6),
            risky("drop-column", 7),
            risky("rename", 8),
        ],
        "{}",
        run.json
    );
    let rewrite = run.rule("table-rewrite")[0];
    assert_eq!(rewrite["evidence"]["extra"]["lock"], "ACCESS EXCLUSIVE");
    assert_eq!(rewrite["evidence"]["extra"]["table"], "public.accounts");
    assert_eq!(run.code(), 1);
}

#[test]
fn local_locks_rewrites_and_scans_on_existing_tables() {
    locks(Engine::Local);
}

#[test]
fn docker_locks_rewrites_and_scans_on_existing_tables() {
    if crate::harness::skip_docker() {
        return;
    }
    locks(Engine::Docker);
}

#[test]
fn lock_tracing_can_be_turned_off() {
    let run = check_json(&fixture("locks"), Engine::Local, &["--no-lock-trace"]);
    assert_eq!(run.code(), 0, "{}", run.json);
    assert!(
        run.findings().iter().all(|f| f["category"] != "lock"),
        "{}",
        run.json
    );
}

#[test]
fn tracing_survives_a_migration_that_deallocates_prepared_statements() {
    // The probe is a prepared statement of the replay session; `DEALLOCATE ALL` and `DISCARD ALL` in a
    // migration remove it, and tracing has to go on after them.
    let dir = repo(&[
        (
            "migrations/001_tables.sql",
            "CREATE TABLE accounts (id bigint PRIMARY KEY, email text);\n",
        ),
        (
            "migrations/002_reset.sql",
            "DEALLOCATE ALL;\nCREATE INDEX accounts_email_idx ON accounts (email);\nDISCARD ALL;\n\
             ALTER TABLE accounts ALTER COLUMN id TYPE numeric;\n",
        ),
    ]);
    let run = check_json(dir.path(), Engine::Local, &[]);
    let file = "migrations/002_reset.sql".to_string();
    assert_eq!(
        lock_findings(&run),
        vec![
            ("index-without-concurrently".to_string(), file.clone(), 2),
            ("table-rewrite".to_string(), file, 4),
        ],
        "{}",
        run.json
    );
    assert_eq!(run.code(), 1, "{}", run.json);
}

/// (rule, file, line) of every lock finding.
fn lock_findings(run: &crate::harness::Run) -> Vec<(String, String, u64)> {
    run.findings()
        .iter()
        .filter(|f| f["category"] == "lock")
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or("").to_string(),
                f["file"].as_str().unwrap_or("").to_string(),
                f["line"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

const MULTI: &str = "CREATE INDEX accounts_email_idx ON accounts (email);\n\
                     ALTER TABLE accounts ALTER COLUMN score TYPE bigint;\n\
                     CREATE TABLE notes (id int, account_id bigint);\n\
                     ALTER TABLE notes ADD CONSTRAINT notes_account_fk FOREIGN KEY (account_id) REFERENCES notes_parent (id);\n\
                     ALTER TABLE accounts ADD CONSTRAINT accounts_score_positive CHECK (score > 0);\n";

#[test]
fn multi_statement_files_are_traced_statement_by_statement() {
    // golang-migrate sends each file as one multi-statement query (one implicit transaction); dbmate
    // wraps it in BEGIN … COMMIT. Either way each statement's locks are told apart: the index build and
    // the rewrite and validation of the existing table are found at their own lines, and the brand-new
    // table is not.
    let setup = "CREATE TABLE accounts (id bigint PRIMARY KEY, email text, score int);\n\
                 CREATE TABLE notes_parent (id bigint PRIMARY KEY);\n";
    let golang = repo(&[
        ("db/migrations/001_init.up.sql", setup),
        ("db/migrations/001_init.down.sql", "SELECT 1;\n"),
        ("db/migrations/002_change.up.sql", MULTI),
        ("db/migrations/002_change.down.sql", "SELECT 1;\n"),
    ]);
    let dbmate_setup = format!("-- migrate:up\n{setup}-- migrate:down\n");
    let dbmate_change = format!("-- migrate:up\n{MULTI}-- migrate:down\n");
    let dbmate = repo(&[
        ("db/migrations/20240101000000_init.sql", &dbmate_setup),
        ("db/migrations/20240102000000_change.sql", &dbmate_change),
    ]);
    for (dir, file, first) in [
        (&golang, "db/migrations/002_change.up.sql", 1),
        (&dbmate, "db/migrations/20240102000000_change.sql", 2),
    ] {
        let run = check_json(dir.path(), Engine::Local, &[]);
        let mut got = lock_findings(&run);
        got.retain(|f| f.0 != "lock-without-timeout");
        let at = |rule: &str, line: u64| (rule.to_string(), file.to_string(), line);
        assert_eq!(
            got,
            vec![
                at("index-without-concurrently", first),
                at("table-rewrite", first + 1),
                // Nothing for the new table's foreign key (notes is new and empty); the CHECK
                // validates every row of the existing table.
                at("validation-scan", first + 4),
            ],
            "{}",
            run.json
        );
        assert_eq!(run.code(), 1, "{}", run.json);
    }
}

#[test]
fn a_multi_statement_file_failing_at_commit_still_fails_whole() {
    // A deferred foreign key is checked when the implicit transaction of the one query ends: traced
    // statement by statement, the migration still fails there and nothing of it stays applied.
    let dir = repo(&[
        (
            "db/migrations/001_init.up.sql",
            "CREATE TABLE parents (id int PRIMARY KEY);\n",
        ),
        ("db/migrations/001_init.down.sql", "SELECT 1;\n"),
        (
            "db/migrations/002_children.up.sql",
            "CREATE TABLE children (parent_id int REFERENCES parents DEFERRABLE INITIALLY DEFERRED);\n\
             INSERT INTO children VALUES (1);\n",
        ),
        ("db/migrations/002_children.down.sql", "SELECT 1;\n"),
    ]);
    for extra in [&[][..], &["--no-lock-trace"][..]] {
        let run = check_json(dir.path(), Engine::Local, extra);
        let failed = run.failures("migration-failed");
        assert_eq!(failed.len(), 1, "{extra:?} {}", run.json);
        assert_eq!(failed[0]["file"], "db/migrations/002_children.up.sql");
        assert_eq!(failed[0]["evidence"]["sqlstate"], "23503", "{}", run.json);
        let set = &run.json["summary"]["sets"][0];
        assert_eq!(set["applied"], 1, "{extra:?} {}", run.json);
        assert_eq!(set["status"], "failed");
    }
}

#[test]
fn a_traced_multi_statement_file_fails_at_the_same_place_as_untraced() {
    // The probe runs between the statements of the one query; PostgreSQL's error position counts from
    // the start of that query, and must still land on the failing token of the file.
    let dir = repo(&[
        (
            "db/migrations/001_init.up.sql",
            "CREATE TABLE accounts (id bigint PRIMARY KEY, email text);\n",
        ),
        ("db/migrations/001_init.down.sql", "SELECT 1;\n"),
        (
            "db/migrations/002_change.up.sql",
            "CREATE INDEX accounts_email_idx ON accounts (email);\n\
             ALTER TABLE accounts ADD COLUMN note text;\n\
             UPDATE accounts SET note = missing_column;\n",
        ),
        ("db/migrations/002_change.down.sql", "SELECT 1;\n"),
    ]);
    let place = |extra: &[&str]| {
        let run = check_json(dir.path(), Engine::Local, extra);
        let failed = run.failures("migration-failed");
        assert_eq!(failed.len(), 1, "{}", run.json);
        (
            failed[0]["file"].as_str().unwrap_or("").to_string(),
            failed[0]["line"].as_u64(),
            failed[0]["column"].as_u64(),
            failed[0]["evidence"]["statement"].as_u64(),
        )
    };
    let traced = place(&[]);
    assert_eq!(
        traced,
        (
            "db/migrations/002_change.up.sql".to_string(),
            Some(3),
            Some(28),
            Some(3)
        )
    );
    assert_eq!(traced, place(&["--no-lock-trace"]));
}

#[test]
fn a_table_rewritten_in_the_migration_that_created_it_is_not_rewritten_by_the_next() {
    // 001 creates `t` and rewrites it at once (a new file node); 002's first statement on it adds a
    // nullable column (no rewrite): the baseline of `t` is its file node when 002 starts. 003 really
    // rewrites it.
    let dir = repo(&[
        (
            "migrations/001_create.sql",
            "BEGIN;\nCREATE TABLE t (id int);\nALTER TABLE t ALTER COLUMN id TYPE bigint;\nCOMMIT;\n",
        ),
        (
            "migrations/002_add.sql",
            "SET lock_timeout = '2s';\nALTER TABLE t ADD COLUMN x int;\n",
        ),
        (
            "migrations/003_widen.sql",
            "SET lock_timeout = '2s';\nALTER TABLE t ALTER COLUMN x TYPE bigint;\n",
        ),
    ]);
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(
        lock_findings(&run),
        vec![(
            "table-rewrite".to_string(),
            "migrations/003_widen.sql".to_string(),
            2
        )],
        "{}",
        run.json
    );
}

#[test]
fn validation_under_the_lock_of_the_statement_that_added_the_constraint_is_a_scan() {
    // VALIDATE CONSTRAINT in the transaction that added the constraint NOT VALID scans while the ADD's
    // lock (ACCESS EXCLUSIVE for a CHECK, SHARE ROW EXCLUSIVE for a foreign key) is still held. In a
    // transaction of its own (003, psql autocommit) it takes only SHARE UPDATE EXCLUSIVE: quiet.
    let dir = repo(&[
        (
            "migrations/001_tables.sql",
            "BEGIN;\nCREATE TABLE accounts (id bigint PRIMARY KEY, score int);\n\
             CREATE TABLE orders (id bigint PRIMARY KEY, account_id bigint);\nCOMMIT;\n",
        ),
        (
            "migrations/002_same_transaction.sql",
            "BEGIN;\nSET LOCAL lock_timeout = '2s';\n\
             ALTER TABLE accounts ADD CONSTRAINT score_positive CHECK (score > 0) NOT VALID;\n\
             ALTER TABLE accounts VALIDATE CONSTRAINT score_positive;\n\
             ALTER TABLE orders ADD CONSTRAINT orders_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) NOT VALID;\n\
             ALTER TABLE orders VALIDATE CONSTRAINT orders_account_fk;\nCOMMIT;\n",
        ),
        (
            "migrations/003_separate.sql",
            "SET lock_timeout = '2s';\n\
             ALTER TABLE accounts ADD CONSTRAINT score_small CHECK (score < 100) NOT VALID;\n\
             ALTER TABLE accounts VALIDATE CONSTRAINT score_small;\n",
        ),
    ]);
    let run = check_json(dir.path(), Engine::Local, &[]);
    let file = "migrations/002_same_transaction.sql".to_string();
    assert_eq!(
        lock_findings(&run),
        vec![
            ("validation-scan".to_string(), file.clone(), 4),
            ("validation-scan".to_string(), file, 6),
        ],
        "{}",
        run.json
    );
}

#[test]
fn primary_key_using_index_on_a_nullable_column_scans_the_table() {
    // ADD PRIMARY KEY USING INDEX sets the key columns NOT NULL: on a nullable column PostgreSQL scans
    // the table under ACCESS EXCLUSIVE. On a column already NOT NULL it does not.
    let dir = repo(&[
        (
            "migrations/001_tables.sql",
            "BEGIN;\nCREATE TABLE teams (id bigint, slug text);\n\
             CREATE TABLE members (id bigint NOT NULL);\nCOMMIT;\n",
        ),
        (
            "migrations/002_index.sql",
            "CREATE UNIQUE INDEX CONCURRENTLY teams_id_idx ON teams (id);\n",
        ),
        (
            "migrations/003_index.sql",
            "CREATE UNIQUE INDEX CONCURRENTLY members_id_idx ON members (id);\n",
        ),
        (
            "migrations/004_keys.sql",
            "BEGIN;\nSET LOCAL lock_timeout = '2s';\n\
             ALTER TABLE teams ADD CONSTRAINT teams_pkey PRIMARY KEY USING INDEX teams_id_idx;\n\
             ALTER TABLE members ADD CONSTRAINT members_pkey PRIMARY KEY USING INDEX members_id_idx;\n\
             COMMIT;\n",
        ),
    ]);
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(
        lock_findings(&run),
        vec![(
            "validation-scan".to_string(),
            "migrations/004_keys.sql".to_string(),
            3
        )],
        "{}",
        run.json
    );
}

#[test]
fn a_collation_change_rebuilds_the_column_indexes() {
    // text → text COLLATE "C" does not rewrite the table but rebuilds every index on the column under
    // ACCESS EXCLUSIVE; a column without an index, and varchar → text (the index is kept), are quiet.
    let dir = repo(&[
        (
            "migrations/001_tables.sql",
            "BEGIN;\nCREATE TABLE accounts (id bigint PRIMARY KEY, email text, note text, code varchar(10));\n\
             CREATE INDEX accounts_email_idx ON accounts (email);\n\
             CREATE INDEX accounts_code_idx ON accounts (code);\nCOMMIT;\n",
        ),
        (
            "migrations/002_collation.sql",
            "BEGIN;\nSET LOCAL lock_timeout = '2s';\n\
             ALTER TABLE accounts ALTER COLUMN email TYPE text COLLATE \"C\";\n\
             ALTER TABLE accounts ALTER COLUMN note TYPE text COLLATE \"C\";\n\
             ALTER TABLE accounts ALTER COLUMN code TYPE text;\nCOMMIT;\n",
        ),
    ]);
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(
        lock_findings(&run),
        vec![(
            "table-rewrite".to_string(),
            "migrations/002_collation.sql".to_string(),
            3
        )],
        "{}",
        run.json
    );
    let f = run.rule("table-rewrite")[0];
    assert_eq!(
        f["evidence"]["extra"]["rebuilt-indexes"], "1",
        "{}",
        run.json
    );
}

#[test]
fn indexes_built_earlier_in_the_migration_are_not_counted_as_rebuilt_by_a_type_change() {
    // The index built by the first statement is its own finding; the type change after it keeps the
    // index (varchar → text) and rebuilds nothing, then a collation change rebuilds exactly two.
    let dir = repo(&[
        (
            "migrations/001_tables.sql",
            "CREATE TABLE accounts (id bigint PRIMARY KEY, email text, code varchar(10));\n",
        ),
        (
            "migrations/002_change.sql",
            "BEGIN;\nSET LOCAL lock_timeout = '2s';\n\
             CREATE INDEX accounts_code_idx ON accounts (code);\n\
             ALTER TABLE accounts ALTER COLUMN code TYPE text;\n\
             CREATE INDEX accounts_email_idx ON accounts (email);\n\
             CREATE INDEX accounts_email_lower_idx ON accounts (email, id);\n\
             ALTER TABLE accounts ALTER COLUMN email TYPE text COLLATE \"C\";\nCOMMIT;\n",
        ),
    ]);
    let run = check_json(dir.path(), Engine::Local, &[]);
    let rewrites: Vec<(u64, String)> = run
        .rule("table-rewrite")
        .iter()
        .map(|f| {
            (
                f["line"].as_u64().unwrap_or(0),
                f["evidence"]["extra"]["rebuilt-indexes"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(rewrites, vec![(7, "2".to_string())], "{}", run.json);
}

#[test]
fn a_serial_primary_key_column_reports_its_index_build_and_its_rewrite() {
    let dir = repo(&[
        (
            "migrations/001_tables.sql",
            "CREATE TABLE events (name text);\n",
        ),
        (
            "migrations/002_key.sql",
            "BEGIN;\nSET LOCAL lock_timeout = '2s';\nALTER TABLE events ADD COLUMN id serial PRIMARY KEY;\nCOMMIT;\n",
        ),
    ]);
    let run = check_json(dir.path(), Engine::Local, &[]);
    let file = "migrations/002_key.sql".to_string();
    let mut got = lock_findings(&run);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("constraint-builds-index".to_string(), file.clone(), 3),
            ("table-rewrite".to_string(), file, 3),
        ],
        "{}",
        run.json
    );
}

#[test]
fn what_an_untraced_statement_did_is_not_blamed_on_the_next() {
    // VACUUM FULL (a rewrite) and CREATE INDEX CONCURRENTLY (scans) run untraced, outside a
    // transaction: the next traced statements did neither.
    let dir = repo(&[
        (
            "migrations/001_tables.sql",
            "CREATE TABLE t (id bigint NOT NULL, a int);\n",
        ),
        (
            "migrations/002_maintenance.sql",
            "SET lock_timeout = '2s';\nVACUUM FULL t;\n\
             CREATE UNIQUE INDEX CONCURRENTLY t_id_idx ON t (id);\n\
             ALTER TABLE t ADD CONSTRAINT t_pkey PRIMARY KEY USING INDEX t_id_idx;\n\
             ALTER TABLE t ADD COLUMN b int;\nALTER TABLE t ALTER COLUMN a SET NOT NULL;\n",
        ),
    ]);
    let run = check_json(dir.path(), Engine::Local, &[]);
    // The VACUUM FULL itself (static), and the SET NOT NULL's own scan.
    let file = "migrations/002_maintenance.sql".to_string();
    assert_eq!(
        lock_findings(&run),
        vec![
            ("vacuum-full-or-cluster".to_string(), file.clone(), 2),
            ("validation-scan".to_string(), file, 6),
        ],
        "{}",
        run.json
    );
}

#[test]
fn statements_after_a_failing_concurrent_index_build_are_still_judged_statically() {
    // goose runs the file in a transaction, where CREATE INDEX CONCURRENTLY fails: the replay stops
    // there (no lock tracing of what follows), the static rules still judge every later statement.
    let dir = repo(&[
        (
            "db/migrations/00001_init.sql",
            "-- +goose Up\nCREATE TABLE t (a int, b int);\nCREATE INDEX j ON t (b);\n",
        ),
        (
            "db/migrations/00002_idx.sql",
            "-- +goose Up\nCREATE INDEX CONCURRENTLY i ON t (a);\nDROP INDEX j;\n\
             ALTER TABLE t ALTER COLUMN a SET NOT NULL;\n",
        ),
    ]);
    let run = check_json(dir.path(), Engine::Local, &[]);
    let file = "db/migrations/00002_idx.sql".to_string();
    let mut got: Vec<(String, String, u64)> = run
        .findings()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or("").to_string(),
                f["file"].as_str().unwrap_or("").to_string(),
                f["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    got.sort();
    let at = |rule: &str, line: u64| (rule.to_string(), file.clone(), line);
    assert_eq!(
        got,
        vec![
            at("drop-index-without-concurrently", 3),
            at("not-allowed-in-transaction", 2),
            at("not-null-on-existing-data", 4),
        ],
        "{}",
        run.json
    );
}

#[test]
fn what_untraced_files_did_is_not_blamed_on_a_later_migration() {
    // Whole files sent untraced (a concurrent index build, VACUUM FULL) before a later migration that
    // opens its own transaction on the same table: the later migration only adds a column.
    let dir = repo(&[
        (
            "migrations/001_t.sql",
            "CREATE TABLE t (id int PRIMARY KEY, c int);\nINSERT INTO t SELECT g, g FROM generate_series(1, 5000) g;\n",
        ),
        (
            "migrations/002_idx.sql",
            "CREATE INDEX CONCURRENTLY t_c ON t (c);\n",
        ),
        ("migrations/003_vacuum.sql", "VACUUM FULL t;\n"),
        (
            "migrations/004_add.sql",
            "BEGIN;\nSET lock_timeout = '5s';\nALTER TABLE t ADD COLUMN x int;\nCOMMIT;\n",
        ),
    ]);
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(
        lock_findings(&run),
        vec![(
            "vacuum-full-or-cluster".to_string(),
            "migrations/003_vacuum.sql".to_string(),
            1
        )],
        "{}",
        run.json
    );
}
