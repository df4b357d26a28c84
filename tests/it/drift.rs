//! Drift between what the migrations build and a declared SQL schema, on real servers.

use crate::harness::{Engine, check_json, fixture};

/// `(file, line, column, severity)` of every schema-drift finding, sorted.
fn drift(run: &crate::harness::Run) -> Vec<(String, u64, u64, String)> {
    let mut v: Vec<_> = run
        .rule("schema-drift")
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap_or("").to_string(),
                f["line"].as_u64().unwrap_or(0),
                f["column"].as_u64().unwrap_or(0),
                f["severity"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn drift_against_declared_sql(engine: Engine) {
    let run = check_json(&fixture("drift-sql"), engine, &[]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let s = |f: &str, l, c, sev: &str| (f.to_string(), l, c, sev.to_string());
    assert_eq!(
        drift(&run),
        vec![
            // audit_log: only in the migrations, at the statement that created it.
            s("db/migrations/1_init.up.sql", 8, 1, "error"),
            // users.nickname: only in the migrations, at the ALTER TABLE that added it.
            s("db/migrations/2_orders.up.sql", 2, 1, "error"),
            // 'enterprise': an enum value only declared, at its line.
            s("db/schema.sql", 9, 5, "error"),
            // users.email: varchar(255) NOT NULL declared, text NULL built.
            s("db/schema.sql", 14, 5, "error"),
            // orders_user_id_idx: an index only declared.
            s("db/schema.sql", 37, 1, "warning"),
            // invoices: a table only declared.
            s("db/schema.sql", 39, 1, "error"),
        ]
    );
    let email = run
        .rule("schema-drift")
        .into_iter()
        .find(|f| f["evidence"]["extra"]["object"] == "public.users.email")
        .expect("a finding for users.email");
    assert_eq!(
        email["message"],
        "column `public.users.email` differs: db/schema.sql: character varying(255) NOT NULL, migrations: text NULL"
    );
    assert_eq!(email["category"], "drift");
    assert_eq!(email["evidence"]["extra"]["class"], "column");
    // The owner statement for a role the server lacks is skipped, once, with a notice.
    assert_eq!(run.rule("declared-roles-skipped").len(), 1);
}

#[test]
fn local_drift_against_declared_sql() {
    drift_against_declared_sql(Engine::Local);
}

#[test]
fn docker_drift_against_declared_sql() {
    if crate::harness::skip_docker() {
        return;
    }
    drift_against_declared_sql(Engine::Docker);
}

#[test]
fn spellings_postgres_normalizes_are_not_drift() {
    // varchar/character varying, bool/boolean, decimal/numeric, int8/bigint, timestamptz, quoted
    // identifiers, schema qualification, named vs PostgreSQL-named constraints and indexes,
    // serial vs explicit sequence + default: all equal once PostgreSQL has parsed them.
    let run = check_json(&fixture("drift-normalized"), Engine::Local, &[]);
    assert_eq!(run.code(), 0, "{}", run.json);
    assert!(run.findings().is_empty(), "{}", run.json);
}

#[test]
fn differently_named_constraint_and_index_are_renames_not_missing_objects() {
    let run = check_json(&fixture("drift-rename"), Engine::Local, &[]);
    assert_eq!(run.code(), 0, "notices only: {}", run.json);
    let s = |l, c| ("structure.sql".to_string(), l, c, "notice".to_string());
    assert_eq!(drift(&run), vec![s(5, 16), s(7, 1)]);
    let messages: Vec<&str> = run
        .rule("schema-drift")
        .iter()
        .map(|f| f["message"].as_str().unwrap_or(""))
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("`users_email_unique`") && m.contains("`users_email_key`")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("`users_by_handle`") && m.contains("`users_handle_idx`")),
        "{messages:?}"
    );
}

#[test]
fn drift_severity_is_configurable_per_class() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = fixture("drift-rename");
    std::fs::create_dir_all(dir.path().join("migrations")).expect("mkdir");
    for f in ["migrations/001_users.sql", "structure.sql"] {
        std::fs::copy(src.join(f), dir.path().join(f)).expect("copy");
    }
    std::fs::write(
        dir.path().join(".pgrehearse.yaml"),
        "drift:\n  severity:\n    rename: error\n",
    )
    .expect("config");
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(run.code(), 1, "{}", run.json);
    assert!(
        run.rule("schema-drift")
            .iter()
            .all(|f| f["severity"] == "error")
    );
    std::fs::write(
        dir.path().join(".pgrehearse.yaml"),
        "drift:\n  severity:\n    rename: off\n",
    )
    .expect("config");
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(run.code(), 0);
    assert!(run.rule("schema-drift").is_empty(), "{}", run.json);
}

#[test]
fn declared_schema_that_does_not_load_is_reported_at_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("migrations")).expect("mkdir");
    std::fs::write(
        dir.path().join("migrations/001_a.sql"),
        "CREATE TABLE a (id int);\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("schema.sql"),
        "CREATE TABLE a (id int);\n\nCREATE TABLE b (id int REFERENCES missing (id));\n",
    )
    .expect("write");
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(run.code(), 1);
    assert_eq!(run.rules(), vec!["declared-schema-failed"]);
    assert_eq!(
        run.positions("declared-schema-failed"),
        vec![("schema.sql".to_string(), 3, 1)]
    );
}

#[test]
fn schema_flag_names_the_declared_file() {
    // Without --schema the conventional file is not there; with it, drift is reported.
    let run = check_json(
        &fixture("psql-partial"),
        Engine::Local,
        &["--schema", "migrations/001_init.sql"],
    );
    assert_eq!(run.code(), 1);
    assert!(
        run.rule("schema-drift")
            .iter()
            .any(|f| f["evidence"]["extra"]["object"] == "public.invoices"),
        "{}",
        run.json
    );
    // The replay stopped early: every drift finding says so.
    assert!(
        run.rule("schema-drift").iter().all(|f| f["message"]
            .as_str()
            .unwrap_or("")
            .contains("the replay stopped at migration `002_invoices`")),
        "{}",
        run.json
    );
}

/// Every case in tests/fixtures/drift-matrix: migrations and a declared schema that differ in exactly
/// one property (one finding, at the expected line), or only in spelling PostgreSQL normalises (none).
#[test]
fn drift_matrix() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/drift-matrix");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .expect("matrix folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 40, "the matrix lost cases: {}", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let expected: Vec<String> = std::fs::read_to_string(case.join("expect.txt"))
            .expect("expect.txt")
            .lines()
            .map(str::to_string)
            .collect();
        let run = check_json(case, Engine::Local, &[]);
        let mut got: Vec<String> = run
            .rule("schema-drift")
            .iter()
            .map(|f| {
                format!(
                    "{} {} {} {}:{}",
                    f["severity"].as_str().unwrap_or(""),
                    f["evidence"]["extra"]["class"].as_str().unwrap_or(""),
                    f["evidence"]["extra"]["object"].as_str().unwrap_or(""),
                    f["file"].as_str().unwrap_or(""),
                    f["line"]
                )
            })
            .collect();
        got.sort();
        let others: Vec<String> = run
            .rules_without(crate::harness::NON_ATOMIC)
            .into_iter()
            // The domain case also trips the static rule about CHECKs on domains.
            .filter(|r| r != "schema-drift" && r != "domain-constraint")
            .collect();
        if got != expected || !others.is_empty() {
            failures.push(format!(
                "{}:\n  expected {expected:?}\n  got      {got:?}\n  other findings {others:?}",
                case.file_name().and_then(|n| n.to_str()).unwrap_or("?")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn drift_exclusions_leave_objects_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = fixture("drift-sql");
    std::fs::create_dir_all(dir.path().join("db/migrations")).expect("mkdir");
    for f in [
        "db/migrations/1_init.up.sql",
        "db/migrations/2_orders.up.sql",
        "db/schema.sql",
    ] {
        std::fs::copy(src.join(f), dir.path().join(f)).expect("copy");
    }
    std::fs::write(
        dir.path().join(".pgrehearse.yaml"),
        "drift:\n  exclude: [\"table:public.audit_*\", \"any:public.invoices\"]\n",
    )
    .expect("config");
    let run = check_json(dir.path(), Engine::Local, &[]);
    let objects: Vec<&str> = run
        .rule("schema-drift")
        .iter()
        .map(|f| f["evidence"]["extra"]["object"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(objects.len(), 4, "{objects:?}");
    assert!(
        !objects
            .iter()
            .any(|o| o.contains("audit_log") || o.contains("invoices")),
        "{objects:?}"
    );
}

#[test]
fn a_function_body_differing_only_in_layout_and_comments_is_not_drift() {
    let dir = crate::harness::repo(&[
        (
            "db/migrations/001_f.sql",
            "CREATE FUNCTION add_one(x int) RETURNS int LANGUAGE plpgsql AS $$\nBEGIN\n  RETURN x + 1;\nEND\n$$;\n",
        ),
        (
            "db/schema.sql",
            "CREATE FUNCTION add_one(x int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN -- add one\n RETURN x + 1; END $$;\n\
             CREATE FUNCTION add_two(x int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN x + 2; END $$;\n",
        ),
        (
            "db/migrations/002_g.sql",
            "CREATE FUNCTION add_two(x int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN x + 3; END $$;\n",
        ),
        (".pgrehearse.yaml", "schema: [db/schema.sql]\n"),
    ]);
    let run = crate::harness::check_json(dir.path(), crate::harness::Engine::Local, &[]);
    let drift: Vec<(String, u64)> = run
        .rule("schema-drift")
        .iter()
        .map(|f| {
            (
                f["message"]
                    .as_str()
                    .unwrap_or("")
                    .chars()
                    .take(40)
                    .collect(),
                f["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    // Only the function whose code differs.
    assert_eq!(drift.len(), 1, "{}", run.json);
    assert!(drift[0].0.contains("add_two"), "{}", run.json);
}

/// A Diesel project's `src/schema.rs` (found through diesel.toml) is its declared schema: compared in
/// what it can say (tables, column types without modifiers, nullability, primary keys, custom types),
/// quiet when it matches, drift at its lines when it does not.
#[test]
fn diesel_schema_rs_is_compared_within_what_it_declares() {
    let migrations: &[(&str, &str)] = &[
        (
            "diesel.toml",
            "[print_schema]\nfile = \"src/schema.rs\"\ncustom_type_derives = [\"diesel::query_builder::QueryId\"]\n",
        ),
        (
            "migrations/00000000000000_diesel_initial_setup/up.sql",
            "CREATE OR REPLACE FUNCTION diesel_set_updated_at() RETURNS trigger AS $$ BEGIN NEW.updated_at := current_timestamp; RETURN NEW; END; $$ LANGUAGE plpgsql;\n",
        ),
        (
            "migrations/00000000000000_diesel_initial_setup/down.sql",
            "DROP FUNCTION diesel_set_updated_at();\n",
        ),
        (
            "migrations/2024-01-02-000000_create_posts/up.sql",
            "CREATE TYPE mood AS ENUM ('happy', 'sad');\nCREATE TABLE users (id bigserial PRIMARY KEY, email varchar(255) NOT NULL UNIQUE, mood mood, tags text[] NOT NULL DEFAULT '{}');\nCREATE TABLE posts (id serial PRIMARY KEY, author_id bigint NOT NULL REFERENCES users (id), title varchar NOT NULL, \"type\" text, score numeric(10, 2), created_at timestamptz NOT NULL DEFAULT now());\nCREATE INDEX posts_author ON posts (author_id);\n",
        ),
        (
            "migrations/2024-01-02-000000_create_posts/down.sql",
            "DROP TABLE posts;\nDROP TABLE users;\nDROP TYPE mood;\n",
        ),
    ];
    let schema = |posts_extra: &str, body_type: &str| {
        format!(
            "// @generated automatically by Diesel CLI.\n\npub mod sql_types {{\n    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]\n    #[diesel(postgres_type(name = \"mood\"))]\n    pub struct Mood;\n}}\n\ndiesel::table! {{\n    use diesel::sql_types::*;\n    use super::sql_types::Mood;\n\n    users (id) {{\n        id -> Int8,\n        #[max_length = 255]\n        email -> Varchar,\n        mood -> Nullable<Mood>,\n        tags -> Array<Nullable<Text>>,\n    }}\n}}\n\ndiesel::table! {{\n    posts (id) {{\n        id -> Int4,\n        author_id -> Int8,\n        title -> {body_type},\n        #[sql_name = \"type\"]\n        type_ -> Nullable<Text>,\n        score -> Nullable<Numeric>,\n        created_at -> Timestamptz,{posts_extra}\n    }}\n}}\n\ndiesel::joinable!(posts -> users (author_id));\ndiesel::allow_tables_to_appear_in_same_query!(posts, users,);\n"
        )
    };
    let run_with = |schema_rs: String| {
        let mut files: Vec<(&str, &str)> = migrations.to_vec();
        files.push(("src/schema.rs", &schema_rs));
        let dir = crate::harness::repo(&files);
        check_json(dir.path(), Engine::Local, &[])
    };
    let clean = run_with(schema("", "Varchar"));
    assert!(clean.rule("schema-drift").is_empty(), "{:#}", clean.json);
    assert!(
        clean.rule("declared-schema-failed").is_empty(),
        "{:#}",
        clean.json
    );

    let drifted = run_with(schema("\n        published -> Bool,", "Nullable<Varchar>"));
    let drift: Vec<(u64, String)> = drifted
        .rule("schema-drift")
        .iter()
        .filter(|f| f["file"] == "src/schema.rs")
        .map(|f| {
            (
                f["line"].as_u64().unwrap_or(0),
                f["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        drift
            .iter()
            .any(|(line, m)| *line == 31 && m.contains("published")),
        "{drift:?}\n{:#}",
        drifted.json
    );
    assert!(
        drift
            .iter()
            .any(|(line, m)| *line == 26 && m.contains("title")),
        "{drift:?}\n{:#}",
        drifted.json
    );
    assert_eq!(drift.len(), 2, "{drift:?}");
}

/// A migration that fails early is one error and one `drift-incomplete` summary for what the replay
/// lacks (the tables, columns and comments of the migrations after it), not one drift finding each;
/// a difference of a table the replay did build is still reported.
#[test]
fn an_early_failure_sums_up_what_could_not_be_compared() {
    let mut files: Vec<(String, String)> = vec![
        (
            "migrations/001_users.sql".into(),
            "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n".into(),
        ),
        (
            // Fails: `acounts` does not exist.
            "migrations/002_orders.sql".into(),
            "CREATE TABLE orders (id bigint PRIMARY KEY, account_id bigint REFERENCES acounts (id));\n"
                .into(),
        ),
    ];
    let mut schema = String::from(
        "CREATE TABLE users (id bigint PRIMARY KEY, email varchar(255));\nCOMMENT ON TABLE users IS 'people';\n\n\
         CREATE TABLE orders (id bigint PRIMARY KEY, account_id bigint);\n",
    );
    for i in 3..=30 {
        files.push((
            format!("migrations/{i:03}_t{i}.sql"),
            format!("CREATE TABLE t{i} (id bigint PRIMARY KEY, note text);\nCOMMENT ON TABLE t{i} IS 'table {i}';\n"),
        ));
        schema.push_str(&format!(
            "CREATE TABLE t{i} (id bigint PRIMARY KEY, note text);\nCOMMENT ON TABLE t{i} IS 'table {i}';\n"
        ));
    }
    files.push(("schema.sql".into(), schema));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let dir = crate::harness::repo(&refs);
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert_eq!(
        run.rules_without(crate::harness::NON_ATOMIC),
        vec!["drift-incomplete", "migration-failed", "schema-drift"],
        "{}",
        run.json
    );
    // users was built: its column type differs from the declared one.
    let drift = &run.rule("schema-drift")[0];
    assert_eq!(drift["evidence"]["extra"]["object"], "public.users.email");
    // orders, t3..t30 and users' comment: one summary at the declared file.
    let summary = &run.rule("drift-incomplete")[0];
    assert_eq!(
        summary["message"],
        "30 objects or properties in schema.sql (29 tables, 1 comment) could not be compared: the replay stopped at migration `002_orders`, and the migrations that did not run may create them"
    );
    assert_eq!(summary["file"], "schema.sql");
    assert_eq!(summary["severity"], "notice");
    assert_eq!(summary["evidence"]["extra"]["stopped_at"], "002_orders");
    assert_eq!(summary["evidence"]["extra"]["count"], "30");
}

/// Settings a newer server's dump makes that this server does not know (`SET`, `set_config`) are
/// skipped with one notice naming them; the rest of the file loads and is compared.
#[test]
fn unknown_settings_in_a_declared_dump_are_skipped_with_one_notice() {
    let dir = crate::harness::repo(&[
        (
            "migrations/001_a.sql",
            "CREATE TABLE a (id int PRIMARY KEY, note text);\n",
        ),
        (
            "schema.sql",
            "SET statement_timeout = 0;\nSET transaction_timeout = 0;\nSELECT pg_catalog.set_config('search_path', '', false);\n\
             SELECT pg_catalog.set_config('future_knob', 'on', false);\nSET SESSION transaction_timeout TO 0;\n\n\
             CREATE TABLE public.a (id int PRIMARY KEY, note varchar(10));\n",
        ),
    ]);
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert_eq!(
        run.rules(),
        vec!["declared-settings-skipped", "schema-drift"],
        "{}",
        run.json
    );
    let notice = &run.rule("declared-settings-skipped")[0];
    assert_eq!(
        notice["evidence"]["extra"]["parameters"],
        "transaction_timeout,future_knob"
    );
    assert_eq!(
        run.positions("declared-settings-skipped"),
        vec![("schema.sql".to_string(), 2, 1)]
    );
    assert_eq!(
        run.rule("schema-drift")[0]["evidence"]["extra"]["object"],
        "public.a.note"
    );
}

/// A declared schema that fails because the replay server lacks an extension or a role says so,
/// rather than asking to fix the file.
#[test]
fn a_declared_schema_failing_on_the_server_s_environment_says_so() {
    let migrations = ("migrations/001_a.sql", "CREATE TABLE a (id int);\n");
    let dir = crate::harness::repo(&[
        migrations,
        (
            "schema.sql",
            "CREATE TABLE a (id int);\nCREATE EXTENSION IF NOT EXISTS postgis;\n",
        ),
    ]);
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(run.rules(), vec!["declared-schema-failed"], "{}", run.json);
    let f = &run.rule("declared-schema-failed")[0];
    let message = f["message"].as_str().unwrap_or("");
    assert!(
        message.starts_with("the declared schema does not load because extension `postgis` is not available on the replay server (PostgreSQL "),
        "{message}"
    );
    let help = f["help"].as_str().unwrap_or("");
    assert!(
        help.starts_with("the file is fine; the replay server lacks `postgis`"),
        "{help}"
    );
    assert!(help.contains("postgis/postgis:"), "{help}");
    assert_eq!(f["evidence"]["extra"]["extension"], "postgis");
    assert_eq!(
        run.positions("declared-schema-failed"),
        vec![("schema.sql".to_string(), 2, 1)]
    );

    let dir = crate::harness::repo(&[
        migrations,
        (
            "schema.sql",
            "CREATE TABLE a (id int);\nALTER TABLE a ENABLE ROW LEVEL SECURITY;\nCREATE POLICY readers ON a FOR SELECT TO reporting USING (true);\n",
        ),
    ]);
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(run.rules(), vec!["declared-schema-failed"], "{}", run.json);
    let f = &run.rule("declared-schema-failed")[0];
    let message = f["message"].as_str().unwrap_or("");
    assert!(
        message.contains("because role `reporting` does not exist on the replay server"),
        "{message}"
    );
    assert!(
        f["help"]
            .as_str()
            .unwrap_or("")
            .starts_with("the file is fine;"),
        "{f}"
    );
    assert_eq!(f["evidence"]["extra"]["role"], "reporting");
}

/// A declared schema loads in the set's environment too: a role a `prelude:` creates is there for its
/// `CREATE POLICY … TO`, and what the prelude makes is on both sides (no drift).
#[test]
fn a_declared_schema_loads_with_the_roles_a_prelude_creates() {
    let schema = "CREATE TABLE notes (id int PRIMARY KEY, owner text);\nALTER TABLE notes ENABLE ROW LEVEL SECURITY;\nCREATE POLICY own ON notes TO app_user USING (owner = current_user);\n";
    let dir = crate::harness::repo(&[
        (
            "db/roles.sql",
            "CREATE ROLE app_user NOLOGIN;\nCREATE SCHEMA platform;\nCREATE TABLE platform.settings (k text PRIMARY KEY);\n",
        ),
        (
            ".pgrehearse.yaml",
            "prelude: [db/roles.sql]\nschema: [db/schema.sql]\n",
        ),
        (
            "db/migrations/001_notes.sql",
            &format!("BEGIN;\n{schema}COMMIT;\n"),
        ),
        ("db/schema.sql", schema),
    ]);
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(run.code(), 0, "{:#}", run.json);
    assert!(run.findings().is_empty(), "{:#}", run.json);
}

/// Drift about a column points at the statement that created the column, not at the last
/// `ALTER TABLE` of its table.
#[test]
fn column_drift_points_at_the_statement_that_created_the_column() {
    let dir = crate::harness::repo(&[
        (
            "db/migrations/001_t.sql",
            "CREATE TABLE t (\n    a int PRIMARY KEY,\n    note text\n);\n",
        ),
        (
            "db/migrations/002_b.sql",
            "ALTER TABLE t ADD COLUMN b text;\n",
        ),
        (
            "db/migrations/003_c.sql",
            "ALTER TABLE t ADD COLUMN c text;\n",
        ),
        (
            "db/schema.sql",
            "CREATE TABLE t (a int PRIMARY KEY, b text);\n",
        ),
    ]);
    let run = check_json(dir.path(), Engine::Local, &["--schema", "db/schema.sql"]);
    let mut at: Vec<(String, u64, String)> = run
        .rule("schema-drift")
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap_or("").to_string(),
                f["line"].as_u64().unwrap_or(0),
                f["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    at.sort();
    assert_eq!(at.len(), 2, "{at:?}");
    assert!(
        at[0].0 == "db/migrations/001_t.sql" && at[0].1 == 3 && at[0].2.contains("`public.t.note`"),
        "{at:?}"
    );
    assert!(
        at[1].0 == "db/migrations/003_c.sql" && at[1].1 == 1 && at[1].2.contains("`public.t.c`"),
        "{at:?}"
    );
}
