//! What replayed SQL can read of pgrehearse's environment through the server it runs on.

use std::os::unix::fs::PermissionsExt;

use crate::harness::{Engine, command, engine_args, repo};

/// A migration that gets the local engine's server to run `env` finds none of the calling process's
/// variables: no token, no database URL, no `PGREHEARSE_*` setting.
#[test]
fn the_local_server_runs_without_the_callers_environment() {
    let out_dir = tempfile::tempdir().expect("tempdir");
    // The server runs as an unprivileged user when pgrehearse runs as root: let it write here.
    std::fs::set_permissions(out_dir.path(), std::fs::Permissions::from_mode(0o777))
        .expect("chmod");
    let dump = out_dir.path().join("env.txt");
    let sql = format!("COPY (SELECT 1) TO PROGRAM 'env > {}';\n", dump.display());
    let dir = repo(&[("migrations/001_env.sql", &sql)]);
    let out = command()
        .arg("check")
        .arg(dir.path())
        .args(engine_args(Engine::Local))
        .args(["--format", "json", "--fail-on", "never"])
        .env("GITHUB_TOKEN", "ghs_canary_token_value")
        .env("DATABASE_URL", "postgres://canary:secret@db.example/prod")
        .env("PGREHEARSE_CANARY", "canary-setting")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    // The statement is reported before anything runs it.
    assert!(
        json["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["rule"] == "copy-program"),
        "{json}"
    );
    let env = std::fs::read_to_string(&dump).expect("the server ran the program");
    assert!(env.contains("PATH="), "{env}");
    for secret in [
        "ghs_canary_token_value",
        "canary:secret",
        "canary-setting",
        "GITHUB_TOKEN",
    ] {
        assert!(!env.contains(secret), "{secret} reached the server: {env}");
    }
}

/// A password written in a migration is reported without being printed again, snippet included.
#[test]
fn a_plain_text_password_is_not_printed_in_any_format() {
    let dir = repo(&[(
        "migrations/001_role.sql",
        "CREATE ROLE app LOGIN PASSWORD 'hunter2-ü';\n",
    )]);
    for format in ["human", "json", "github", "sarif"] {
        let out = command()
            .arg("lint")
            .arg(dir.path())
            .args(["--format", format, "--fail-on", "never"])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("plain-text-password"), "{format}: {stdout}");
        assert!(!stdout.contains("hunter2"), "{format}: {stdout}");
    }
}
