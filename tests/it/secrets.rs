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
    // As superuser, the program runs: what it sees is the server's environment.
    let dir = repo(&[
        ("migrations/001_env.sql", &sql),
        (".pgrehearse.yaml", "replay-as: superuser\n"),
    ]);
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

/// Every way replayed SQL could reach past the database: each fails inside the replay, as a finding at
/// its statement, on the local and the docker engine, and leaves no file behind and no secret in the
/// report.
#[test]
fn replayed_sql_reaches_no_program_file_setting_or_secret() {
    for engine in [Engine::Local, Engine::Docker] {
        if engine == Engine::Docker && crate::harness::skip_docker() {
            continue;
        }
        attacks_fail(engine);
    }
}

fn attacks_fail(engine: Engine) {
    let out_dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(out_dir.path(), std::fs::Permissions::from_mode(0o777))
        .expect("chmod");
    let canary = |name: &str| out_dir.path().join(name).display().to_string();
    // (set, statement that must fail, the finding expected at it)
    let attacks: Vec<(&str, String, &str)> = vec![
        ("copy_to_program", format!("COPY (SELECT 1) TO PROGRAM 'env > {}'", canary("to_program")), "needs-privilege"),
        ("copy_from_program", format!("COPY stolen FROM PROGRAM 'env; touch {}'", canary("from_program")), "needs-privilege"),
        ("copy_to_file", format!("COPY stolen TO '{}'", canary("to_file")), "needs-privilege"),
        ("read_file", "INSERT INTO stolen SELECT pg_read_file('/proc/self/environ')".into(), "needs-privilege"),
        ("ls_dir", "INSERT INTO stolen SELECT pg_ls_dir('/')".into(), "needs-privilege"),
        ("lo_import", "SELECT lo_import('/etc/passwd')".into(), "needs-privilege"),
        ("lo_export", format!("SELECT lo_export(lo_from_bytea(0, 'x'), '{}')", canary("lo_export")), "needs-privilege"),
        ("c_function", "CREATE FUNCTION sys(cstring) RETURNS int AS 'libc.so.6', 'system' LANGUAGE c".into(), "needs-privilege"),
        ("untrusted_language", "CREATE LANGUAGE shell_language HANDLER plpgsql_call_handler".into(), "needs-privilege"),
        ("alter_system", "ALTER SYSTEM SET shared_preload_libraries = 'x'".into(), "needs-privilege"),
        // Listed in `privileged:`, dblink is created; as the replay role it still cannot log in to the
        // server's superuser (no password), nor anywhere without one.
        ("dblink", "CREATE EXTENSION dblink; SELECT * FROM dblink('dbname=postgres user=pgrehearse', 'SELECT 1') AS t(x int)".into(), "migration-failed"),
        ("postgres_fdw", "CREATE EXTENSION postgres_fdw".into(), "needs-privilege"),
        ("file_fdw", "CREATE EXTENSION file_fdw".into(), "needs-privilege"),
        ("grant_itself", "GRANT pg_execute_server_program TO CURRENT_USER".into(), "needs-privilege"),
        ("become_superuser", "ALTER ROLE CURRENT_USER SUPERUSER".into(), "needs-privilege"),
        ("event_trigger", "CREATE EVENT TRIGGER spy ON ddl_command_start EXECUTE FUNCTION pg_catalog.now()".into(), "needs-privilege"),
        // Every setting the role can read, thrown back as the error message the report shows.
        ("settings", "DO $$ BEGIN RAISE EXCEPTION 'settings: %', (SELECT string_agg(name || '=' || coalesce(setting, ''), ' ') FROM pg_settings); END $$".into(), "migration-failed"),
    ];
    let mut files: Vec<(String, String)> = Vec::new();
    let mut sets = String::from("privileged: [{extension: dblink}]\nsets:\n");
    for (name, statement, _) in &attacks {
        files.push((
            format!("{name}/001_attack.sql"),
            format!("CREATE TABLE stolen (t text);\n{statement};\n"),
        ));
        sets.push_str(&format!("  - {{path: {name}, runner: psql}}\n"));
    }
    files.push((".pgrehearse.yaml".into(), sets));
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let dir = repo(&borrowed);
    let out = command()
        .arg("check")
        .arg(dir.path())
        .args(engine_args(engine))
        .args(["--format", "json", "--fail-on", "never"])
        .env("GITHUB_TOKEN", "ghs_canary_token_value")
        .env(
            "PGREHEARSE_DATABASE_URL_CANARY",
            "postgres://canary:secret@db.example/prod",
        )
        .env("PGREHEARSE_CANARY", "canary-setting")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{engine:?}: {out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON report");
    let findings = json["findings"].as_array().expect("findings");
    for (name, _, rule) in &attacks {
        let at = format!("{name}/001_attack.sql");
        assert!(
            findings
                .iter()
                // A static rule that predicted the failure carries it (`confirmed_by`).
                .any(
                    |f| (f["rule"] == *rule || f["evidence"]["confirmed_by"]["rule"] == *rule)
                        && f["file"] == at.as_str()
                        && f["line"] == 2
                ),
            "{engine:?}: {name}: no `{rule}` at {at}:2 in {json}"
        );
    }
    // Every set stopped at its attack.
    for set in json["summary"]["sets"].as_array().expect("sets") {
        assert_eq!(set["status"], "failed", "{engine:?}: {set}");
    }
    // The settings the role could read hold none of pgrehearse's.
    let settings = findings
        .iter()
        .find(|f| f["file"] == "settings/001_attack.sql" && f["rule"] == "migration-failed")
        .and_then(|f| f["message"].as_str())
        .expect("the settings were thrown back");
    assert!(settings.contains("application_name="), "{settings}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for secret in ["ghs_canary_token_value", "canary:secret", "canary-setting"] {
        assert!(
            !stdout.contains(secret),
            "{engine:?}: {secret} in the report"
        );
        assert!(!stderr.contains(secret), "{engine:?}: {secret} on stderr");
    }
    let left: Vec<_> = std::fs::read_dir(out_dir.path())
        .expect("reads")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "{engine:?}: the replay wrote {left:?}");
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

/// The docker engine's container runs on an internal network of its own: even a program run by the
/// server (here as superuser, `replay-as: superuser`) reaches no address of the host.
#[test]
fn the_docker_container_reaches_no_address_of_the_host() {
    if crate::harness::skip_docker() {
        return;
    }
    let listener = std::net::TcpListener::bind("0.0.0.0:0").expect("listens");
    listener.set_nonblocking(true).expect("non-blocking");
    let port = listener.local_addr().expect("address").port();
    let out = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show"])
        .output()
        .expect("ip runs");
    let addresses: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3))
        .filter_map(|cidr| cidr.split('/').next())
        .filter(|ip| !ip.starts_with("127."))
        .map(str::to_string)
        .collect();
    assert!(!addresses.is_empty(), "no host address found");
    // One connection attempt per host address, in the background so the statement returns at once.
    let attempts: String = addresses
        .iter()
        .map(|ip| format!("(exec 3<>/dev/tcp/{ip}/{port}) & "))
        .collect();
    let sql = format!("COPY (SELECT 1) TO PROGRAM 'bash -c \"{attempts}\"';\n");
    let dir = repo(&[
        ("migrations/001_call_home.sql", &sql),
        (".pgrehearse.yaml", "replay-as: superuser\n"),
    ]);
    let run = command()
        .arg("check")
        .arg(dir.path())
        .args(engine_args(Engine::Docker))
        .args(["--format", "json", "--fail-on", "never"])
        .output()
        .expect("runs");
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).expect("JSON report");
    // The program ran (the statement succeeded as superuser)...
    assert_eq!(json["summary"]["sets"][0]["status"], "ok", "{json}");
    // ...and no attempt arrived.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while std::time::Instant::now() < deadline {
        if let Ok((_, from)) = listener.accept() {
            panic!("the container reached the host from {from} (tried {addresses:?})");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `replay-as: superuser` is refused, with the reason, when the workflow runs a fork's code; on a
/// push it replays and says so in the report.
#[test]
fn replaying_as_superuser_is_refused_for_a_fork_and_noted_otherwise() {
    let dir = repo(&[
        ("migrations/001_t.sql", "CREATE TABLE t (id int);\n"),
        (".pgrehearse.yaml", "replay-as: superuser\n"),
    ]);
    let event = tempfile::NamedTempFile::new().expect("event file");
    std::fs::write(
        event.path(),
        r#"{"pull_request": {"number": 7, "head": {"sha": "abc", "repo": {"full_name": "mallory/app", "fork": true}}, "base": {"sha": "def", "repo": {"full_name": "acme/app", "fork": false}}}}"#,
    )
    .expect("writes the event");
    let run = |event_name: &str| {
        command()
            .arg("check")
            .arg(dir.path())
            .args(engine_args(Engine::Local))
            .args(["--format", "json"])
            .env("GITHUB_EVENT_NAME", event_name)
            .env("GITHUB_EVENT_PATH", event.path())
            .output()
            .expect("runs")
    };
    for event_name in ["pull_request", "pull_request_target"] {
        let out = run(event_name);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{event_name}: {stderr}");
        assert!(
            stderr.contains("`replay-as: superuser` is refused")
                && (stderr.contains("fork") || stderr.contains("pull_request_target")),
            "{event_name}: {stderr}"
        );
    }
    let out = run("push");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert!(
        json["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["rule"] == "replay-as-superuser"),
        "{json}"
    );
}
