//! The environment a replay needs: the Supabase preset, roles created for the replay, a newer
//! PostgreSQL than the replay server, and baseline snapshots.

use crate::harness::runtime;
use pgrehearse::engine::{self, Cleanup, Server};
use tokio_postgres::config::Host;

use crate::harness::{Engine, check_json, command, fixture};

/// A config file outside the fixture (so the fixture's own default stays the auto-enabled case).
fn config_file(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new()
        .suffix(".yaml")
        .tempfile()
        .expect("temp config");
    std::fs::write(file.path(), text).expect("writes config");
    file
}

fn set_status(run: &crate::harness::Run, i: usize) -> (String, u64) {
    let set = &run.json["summary"]["sets"][i];
    (
        set["status"].as_str().unwrap_or("").to_string(),
        set["applied"].as_u64().unwrap_or(0),
    )
}

#[test]
fn supabase_migrations_replay_clean_with_the_auto_enabled_preset() {
    let repo = fixture("supabase-app");
    let run = check_json(&repo, Engine::Local, &["--schema", "declared.sql"]);
    assert_eq!(run.code(), 0, "{}\n{:#}", run.stderr(), run.json);
    assert_eq!(run.json["summary"]["sets"][0]["runner"], "supabase");
    assert_eq!(set_status(&run, 0), ("ok".to_string(), 3));
    for rule in [
        "missing-role",
        "migration-failed",
        "prelude-failed",
        "schema-drift",
        "declared-schema-failed",
    ] {
        assert!(run.rule(rule).is_empty(), "{rule}: {:#}", run.json);
    }
}

#[test]
fn supabase_migrations_without_the_preset_report_the_missing_role() {
    let repo = fixture("supabase-app");
    let config = config_file("preset: none\n");
    let config_path = config.path().to_str().expect("utf-8 path");
    let run = check_json(&repo, Engine::Local, &["--config", config_path]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let file = "supabase/migrations/20240101000000_profiles.sql";
    // The role's name in `to authenticated`, instead of a generic migration failure.
    assert_eq!(
        run.positions("missing-role"),
        vec![(file.to_string(), 13, 6)]
    );
    assert!(
        run.failures("migration-failed").is_empty(),
        "{:#}",
        run.json
    );
    let finding = run.rule("missing-role")[0];
    assert_eq!(finding["category"], "environment");
    assert_eq!(finding["severity"], "error");
    assert_eq!(finding["evidence"]["sqlstate"], "42704");
    assert_eq!(finding["evidence"]["extra"]["role"], "authenticated");
    assert_eq!(
        finding["evidence"]["not_applied"],
        serde_json::json!(["20240102000000_auth_link", "20240103000000_avatars"])
    );
    let help = finding["help"].as_str().unwrap_or("");
    for way in [
        "`preset: supabase`",
        "`create-roles: true`",
        "`--create-roles`",
        "`CREATE ROLE authenticated NOLOGIN;`",
    ] {
        assert!(help.contains(way), "{way} missing from: {help}");
    }
    assert_eq!(set_status(&run, 0), ("failed".to_string(), 0));
}

#[test]
fn supabase_objects_without_the_preset_point_at_it() {
    // Roles created, but no `auth` schema: the failure names the preset.
    let repo = fixture("supabase-app");
    let config = config_file("preset: none\ncreate-roles: true\n");
    let config_path = config.path().to_str().expect("utf-8 path");
    let run = check_json(&repo, Engine::Local, &["--config", config_path]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let failed = run.failures("migration-failed");
    assert_eq!(failed.len(), 1, "{:#}", run.json);
    assert_eq!(failed[0]["evidence"]["sqlstate"], "3F000");
    assert!(
        failed[0]["help"]
            .as_str()
            .is_some_and(|h| h.contains("`preset: supabase`")),
        "{:#}",
        failed[0]
    );
    // The roles the policies and grants use were created and reported once.
    let notice = run.rule("roles-created");
    assert_eq!(notice.len(), 1, "{:#}", run.json);
    assert_eq!(
        notice[0]["evidence"]["extra"]["roles"],
        "authenticated,anon,service_role"
    );
}

#[test]
fn create_roles_replays_what_fails_without_it() {
    let repo = fixture("create-roles");
    let without = check_json(&repo, Engine::Local, &[]);
    assert_eq!(without.code(), 1, "{}", without.stderr());
    assert_eq!(
        without.positions("missing-role"),
        vec![("migrations/001_schema.sql".to_string(), 2, 33)]
    );
    assert_eq!(
        without.rule("missing-role")[0]["evidence"]["extra"]["role"],
        "pgr_app_owner"
    );
    assert!(without.failures("migration-failed").is_empty());

    let with = check_json(&repo, Engine::Local, &["--create-roles"]);
    assert_eq!(with.code(), 0, "{}\n{:#}", with.stderr(), with.json);
    assert_eq!(set_status(&with, 0), ("ok".to_string(), 2));
    assert!(with.rule("missing-role").is_empty());
    // One notice, at the first reference, listing every role created (not the one the
    // migrations create themselves).
    assert_eq!(
        with.positions("roles-created"),
        vec![("migrations/001_schema.sql".to_string(), 2, 33)]
    );
    let notice = with.rule("roles-created")[0];
    assert_eq!(notice["severity"], "notice");
    assert_eq!(
        notice["evidence"]["extra"]["roles"],
        "pgr_app_owner,pgr_app_reader,PGR Reporting"
    );

    // The configuration key does the same.
    let config = config_file(
        "sets:\n  - path: migrations\n    runner: psql-single-transaction\n    create-roles: true\nprivileged: [{statement: create-role}]\n",
    );
    let config_path = config.path().to_str().expect("utf-8 path");
    let configured = check_json(&repo, Engine::Local, &["--config", config_path]);
    assert_eq!(configured.code(), 0, "{}", configured.stderr());
    assert_eq!(configured.rule("roles-created").len(), 1);
}

fn url(server: &Server) -> String {
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

async fn roles(server: &Server) -> Vec<String> {
    let client = server.connect("postgres").await.expect("connects");
    client
        .query("SELECT rolname::text FROM pg_roles ORDER BY 1", &[])
        .await
        .expect("lists roles")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn databases(server: &Server) -> Vec<String> {
    let client = server.connect("postgres").await.expect("connects");
    client
        .query("SELECT datname::text FROM pg_database ORDER BY 1", &[])
        .await
        .expect("lists databases")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn the_url_engine_leaves_no_role_behind() {
    let rt = runtime();
    let cleanup = Cleanup::new();
    let options = crate::harness::local_options();
    let server = rt
        .block_on(engine::start(&options, &cleanup))
        .expect("local server");
    // A role that already exists on the shared server is used, never dropped.
    rt.block_on(async {
        let admin = server.connect("postgres").await.expect("connects");
        admin
            .batch_execute("CREATE ROLE pgr_app_reader NOLOGIN; CREATE ROLE anon NOLOGIN")
            .await
            .expect("creates the existing roles");
    });
    let before = (rt.block_on(roles(&server)), rt.block_on(databases(&server)));
    let run_url = |repo: &str, extra: &[&str]| {
        let out = command()
            .args(["check", "--engine", "url", "--format", "json"])
            .args(["--database-url", &url(&server)])
            .args(extra)
            .arg(fixture(repo))
            .output()
            .expect("runs");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), json)
    };
    let (code, json) = run_url("create-roles", &["--create-roles"]);
    let after_roles = (rt.block_on(roles(&server)), rt.block_on(databases(&server)));
    let (supabase_code, supabase_json) = run_url("supabase-app", &[]);
    let after_supabase = (rt.block_on(roles(&server)), rt.block_on(databases(&server)));
    rt.block_on(cleanup.run_all());

    assert_eq!(code, Some(0), "{json:#}");
    let created: Vec<&serde_json::Value> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "roles-created")
        .collect();
    assert_eq!(created.len(), 1, "{json:#}");
    // Only the roles the server lacked were created.
    assert_eq!(
        created[0]["evidence"]["extra"]["roles"],
        "pgr_app_owner,PGR Reporting"
    );
    assert_eq!(after_roles, before);
    assert_eq!(supabase_code, Some(0), "{supabase_json:#}");
    assert_eq!(after_supabase, before);
    assert!(before.0.contains(&"anon".to_string()));
}

#[test]
fn constructs_of_a_newer_postgres_are_named_with_the_version() {
    let server = pgrehearse::engine::local::find_bindir(None)
        .expect("local PostgreSQL binaries")
        .major;
    let run = check_json(&fixture("needs-newer"), Engine::Local, &[]);
    let expected = [
        (
            "any-value/001_events.sql",
            5,
            21,
            16,
            "any_value",
            "`any_value()`",
        ),
        (
            "set-expression/001_orders.sql",
            8,
            39,
            17,
            "set-expression",
            "`ALTER COLUMN … SET EXPRESSION`",
        ),
        ("uuidv7/001_tokens.sql", 3, 33, 18, "uuidv7", "`uuidv7()`"),
    ];
    let found = run.positions("needs-newer-postgres");
    for (i, (file, line, column, version, construct, label)) in expected.into_iter().enumerate() {
        let at = (file.to_string(), line, column);
        if server >= version {
            assert!(!found.contains(&at), "{file} runs on {server}: {found:?}");
            assert_eq!(set_status(&run, i).0, "ok");
            continue;
        }
        assert!(found.contains(&at), "{at:?} not in {found:?}");
        let finding = run
            .rule("needs-newer-postgres")
            .into_iter()
            .find(|f| f["file"] == file)
            .expect("the finding");
        assert_eq!(finding["category"], "environment");
        assert_eq!(finding["evidence"]["extra"]["construct"], construct);
        assert_eq!(
            finding["evidence"]["extra"]["required_version"],
            version.to_string()
        );
        let message = finding["message"].as_str().unwrap_or("");
        assert!(
            message.contains(&format!("needs PostgreSQL {version} ({label})"))
                && message.contains(&format!("this replay ran on PostgreSQL {server}")),
            "{message}"
        );
        let help = finding["help"].as_str().unwrap_or("");
        for way in [
            format!("`--pg-version {version}`"),
            format!("`--image postgres:{version}`"),
            "`--database-url`".to_string(),
        ] {
            assert!(help.contains(&way), "{way} missing from: {help}");
        }
        assert_eq!(set_status(&run, i).0, "failed");
    }
    // Never reported as a generic failure.
    assert!(
        run.failures("migration-failed").is_empty(),
        "{:#}",
        run.json
    );
}

#[test]
fn a_baseline_snapshot_runs_first_and_covers_older_migrations() {
    let repo = fixture("baseline-snapshot");
    let run = check_json(&repo, Engine::Local, &[]);
    // The two migrations up to 20240101000000 would fail after the snapshot (their tables exist):
    // only the later one is replayed, on top of the snapshot (COPY data and all).
    assert_eq!(run.code(), 0, "{}\n{:#}", run.stderr(), run.json);
    let set = &run.json["summary"]["sets"][0];
    assert_eq!(set["migrations"], 1);
    assert_eq!(set["applied"], 1);
    assert_eq!(set["status"], "ok");

    // Without a version, every migration runs after the snapshot: the first one then fails.
    let config = config_file(
        "sets:\n  - path: db/migrations\n    runner: golang-migrate\n    baseline: {file: db/LATEST.sql}\n",
    );
    let config_path = config.path().to_str().expect("utf-8 path");
    let all = check_json(&repo, Engine::Local, &["--config", config_path]);
    assert_eq!(all.code(), 1, "{}", all.stderr());
    assert_eq!(
        all.positions("migration-failed"),
        vec![(
            "db/migrations/20231101000000_users.up.sql".to_string(),
            1,
            1
        )]
    );
}

#[test]
fn a_failing_baseline_snapshot_is_reported_at_its_line() {
    let repo = fixture("baseline-snapshot");
    let config = repo.join("broken.yaml");
    let config_path = config.to_str().expect("utf-8 path");
    let run = check_json(&repo, Engine::Local, &["--config", config_path]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert_eq!(
        run.positions("missing-role"),
        vec![("db/BROKEN.sql".to_string(), 7, 35)]
    );
    let finding = run.rule("missing-role")[0];
    assert!(
        finding["message"]
            .as_str()
            .is_some_and(|m| m.contains("baseline snapshot `db/BROKEN.sql`")),
        "{finding:#}"
    );
    assert_eq!(
        finding["evidence"]["not_applied"],
        serde_json::json!(["20240201000000"])
    );
    let fixed = check_json(
        &repo,
        Engine::Local,
        &["--config", config_path, "--create-roles"],
    );
    assert_eq!(fixed.code(), 0, "{:#}", fixed.json);
    assert_eq!(
        fixed.positions("roles-created"),
        vec![("db/BROKEN.sql".to_string(), 7, 35)]
    );
}

#[test]
fn a_subquery_without_an_alias_needs_postgres_16_at_its_parenthesis() {
    let dir = crate::harness::repo(&[(
        "migrations/001_view.sql",
        "BEGIN;\nCREATE TABLE t (id int);\nCREATE VIEW v AS SELECT * FROM (SELECT id FROM t);\nCOMMIT;\n",
    )]);
    // PostgreSQL 15, the server CI provisions: 16 and later accept the statement.
    let run = check_json(dir.path(), Engine::Local, &["--pg-version", "15"]);
    let found = run.rule("needs-newer-postgres");
    assert_eq!(found.len(), 1, "{}", run.json);
    assert_eq!(found[0]["line"], 3, "{}", run.json);
    assert_eq!(found[0]["column"], 32, "{}", run.json);
    assert_eq!(
        found[0]["evidence"]["extra"]["required_version"], "16",
        "{}",
        run.json
    );
    assert!(run.failures("migration-failed").is_empty(), "{}", run.json);
}

#[test]
fn a_snapshot_beside_versioned_upgrade_folders_is_the_baseline_of_its_set() {
    // LATEST.sql is the whole schema; 0.9/, 0.18/ and 0.19/ upgrade older installs to it. Replayed
    // from an empty database (or after the snapshot) every upgrade would fail: the set is the snapshot
    // alone, covering them.
    let repo = fixture("snapshot-upgrades");
    let config = config_file("sets:\n  - path: store/migration/postgres\n");
    let config_path = config.path().to_str().expect("utf-8 path");
    for extra in [vec![], vec!["--config", config_path]] {
        let run = check_json(&repo, Engine::Local, &extra);
        assert_eq!(run.code(), 0, "{extra:?}: {}\n{:#}", run.stderr(), run.json);
        let sets = run.json["summary"]["sets"].as_array().expect("sets");
        assert_eq!(sets.len(), 1, "{extra:?}: {:#}", run.json);
        assert_eq!(sets[0]["path"], "store/migration/postgres");
        assert_eq!(sets[0]["migrations"], 0, "{:#}", run.json);
        assert_eq!(sets[0]["status"], "ok", "{:#}", run.json);
        assert!(
            run.failures("migration-failed").is_empty(),
            "{:#}",
            run.json
        );
    }

    // The snapshot really is replayed: a broken one fails at its line.
    let broken = tempfile::tempdir().expect("tempdir");
    let dir = broken.path().join("store/migration/postgres");
    for (rel, text) in [
        (
            "LATEST.sql",
            "CREATE TABLE memo (id int);\nALTER TABLE nope ADD COLUMN x int;\n",
        ),
        (
            "0.18/00__memo_visibility.sql",
            "ALTER TABLE memo ADD COLUMN visibility text;\n",
        ),
    ] {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    let run = check_json(broken.path(), Engine::Local, &[]);
    assert_eq!(run.code(), 1, "{}\n{:#}", run.stderr(), run.json);
    assert_eq!(
        run.positions("migration-failed"),
        vec![("store/migration/postgres/LATEST.sql".to_string(), 2, 1)],
        "{:#}",
        run.json
    );
}

/// What a prelude makes as the superuser (a schema, a table in it, an extension's functions) is the
/// migrations' to use and alter, although they replay as a role without superuser.
#[test]
fn migrations_use_and_alter_what_a_prelude_made() {
    let dir = crate::harness::repo(&[
        (
            "db/prelude.sql",
            "CREATE SCHEMA app;\nCREATE TABLE app.settings (k text PRIMARY KEY);\nCREATE EXTENSION IF NOT EXISTS pgcrypto SCHEMA app;\n",
        ),
        (".pgrehearse.yaml", "prelude: [db/prelude.sql]\n"),
        (
            "db/migrations/001_users.sql",
            "BEGIN;\nCREATE TABLE app.users (id uuid PRIMARY KEY DEFAULT app.gen_random_uuid());\nINSERT INTO app.settings VALUES ('x');\nALTER TABLE app.settings ADD COLUMN v text;\nCOMMIT;\n",
        ),
    ]);
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(run.code(), 0, "{}\n{:#}", run.stderr(), run.json);
    assert_eq!(set_status(&run, 0), ("ok".to_string(), 1));
}

/// A baseline snapshot dumped by a newer PostgreSQL (`SET transaction_timeout = 0;`) replays with the
/// settings this server lacks skipped, and one notice naming them.
#[test]
fn a_baseline_snapshot_from_a_newer_server_skips_unknown_settings() {
    let dir = crate::harness::repo(&[
        (
            "db/LATEST.sql",
            "SET transaction_timeout = 0;\nSET statement_timeout = 0;\nSELECT pg_catalog.set_config('transaction_timeout', '0', false);\nCREATE TABLE public.users (id bigint PRIMARY KEY);\n",
        ),
        (
            ".pgrehearse.yaml",
            "sets:\n  - path: db/migrations\n    runner: psql\n    baseline: {file: db/LATEST.sql, version: \"001\"}\n",
        ),
        (
            "db/migrations/001_users.sql",
            "CREATE TABLE users (id bigint PRIMARY KEY);\n",
        ),
        (
            "db/migrations/002_posts.sql",
            "CREATE TABLE posts (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));\n",
        ),
    ]);
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(run.code(), 0, "{}\n{:#}", run.stderr(), run.json);
    assert_eq!(set_status(&run, 0).0, "ok", "{:#}", run.json);
    assert_eq!(
        run.positions("declared-settings-skipped")
            .into_iter()
            .map(|p| (p.0, p.1))
            .collect::<Vec<_>>(),
        vec![("db/LATEST.sql".to_string(), 1)]
    );
    let notice = run.rule("declared-settings-skipped")[0];
    assert_eq!(
        notice["evidence"]["extra"]["parameters"],
        "transaction_timeout"
    );
}
