//! Running the binary and reading its JSON report.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Runs `git -C dir args…` (as a fixed author) and returns its trimmed stdout; fails the test when
/// git fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Which engine a case runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Local,
    Docker,
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pgrehearse"))
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/repos")
        .join(name)
}

/// The Docker image the docker cases use: `PGREHEARSE_IMAGE`, else `postgres:17`.
pub fn image() -> String {
    match std::env::var("PGREHEARSE_IMAGE") {
        Ok(i) if !i.is_empty() => i,
        _ => "postgres:17".to_string(),
    }
}

/// Why the docker cases cannot run here (no daemon answers, or the image is not present), checked
/// once per test binary.
fn docker_unavailable() -> Option<&'static str> {
    static WHY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    WHY.get_or_init(|| {
        let image = image();
        let probe = Command::new("docker")
            .args(["image", "inspect", "--format", "{{.Id}}", &image])
            .output();
        match probe {
            Err(e) => Some(format!("the `docker` command could not run ({e})")),
            Ok(out) if out.status.success() => None,
            Ok(out) => {
                let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
                Some(if err.contains("No such image") {
                    format!("the image `{image}` is not present (set PGREHEARSE_IMAGE to a local postgres image)")
                } else {
                    format!("no Docker daemon answered ({err})")
                })
            }
        }
    })
    .as_deref()
}

/// Whether a docker case must be skipped. The first time, says on the terminal (not captured by the
/// test harness) that the docker cases were not run and why. With `PGREHEARSE_REQUIRE_DOCKER=1` (set
/// by `.ci/run`) a missing daemon or image fails the case instead.
pub fn skip_docker() -> bool {
    use std::io::Write as _;
    static TOLD: std::sync::Once = std::sync::Once::new();
    let Some(why) = docker_unavailable() else {
        return false;
    };
    if std::env::var("PGREHEARSE_REQUIRE_DOCKER").as_deref() == Ok("1") {
        panic!(
            "PGREHEARSE_REQUIRE_DOCKER=1 but the docker cases cannot run: {why}; provision Docker and an image with `bash ../shared/ci/docker-postgres.sh`"
        );
    }
    TOLD.call_once(|| {
        // Written to the process's stderr directly, past libtest's capture, once per binary.
        let _ = writeln!(
            std::io::stderr(),
            "\nNOTE: the docker-engine tests were NOT run: {why}. They pass vacuously here; run \
             `bash ../shared/ci/docker-postgres.sh` and set PGREHEARSE_IMAGE to run them \
             (.ci/run requires them with PGREHEARSE_REQUIRE_DOCKER=1).\n"
        );
    });
    true
}

/// Arguments selecting `engine`.
pub fn engine_args(engine: Engine) -> Vec<String> {
    match engine {
        Engine::Local => vec!["--engine".into(), "local".into()],
        Engine::Docker => vec![
            "--engine".into(),
            "docker".into(),
            "--image".into(),
            image(),
        ],
    }
}

/// A command for the binary with a clean environment for the variables it reads.
pub fn command() -> Command {
    let mut cmd = Command::new(bin());
    cmd.env_remove("PGREHEARSE_IMAGE")
        .env_remove("PGREHEARSE_DATABASE_URL")
        // Under GitHub Actions (the project's own CI) the binary would publish to GitHub, and on a
        // pull request judge only what the pull request adds.
        .env_remove("GITHUB_ACTIONS")
        // ...and a pull request's event would decide what the replay may do and what counts as shipped.
        .env_remove("GITHUB_EVENT_NAME")
        .env_remove("GITHUB_EVENT_PATH")
        .env_remove("GITHUB_BASE_REF")
        // The fixture repositories are not git repositories of their own: git must not find this
        // project's history above them, or their older migrations would count as already shipped.
        .env(
            "GIT_CEILING_DIRECTORIES",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
        )
        .env("NO_COLOR", "1")
        // Each check replays from scratch and leaves the user's cache alone (`cache` tests the
        // replay cache with a cache directory of its own).
        .env("PGREHEARSE_NO_CACHE", "1");
    cmd
}

/// `(file, line, column)` of each finding.
fn positions(findings: &[&Value]) -> Vec<(String, u64, u64)> {
    findings
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap_or("").to_string(),
                f["line"].as_u64().unwrap_or(0),
                f["column"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

pub struct Run {
    pub output: Output,
    pub json: Value,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn findings(&self) -> &Vec<Value> {
        self.json["findings"]
            .as_array()
            .expect("the JSON report has a findings array")
    }

    /// Findings with this rule id.
    pub fn rule(&self, rule: &str) -> Vec<&Value> {
        self.findings()
            .iter()
            .filter(|f| f["rule"] == rule)
            .collect()
    }

    /// Every failure the replay reported as `rule` (`migration-failed`, `needs-privilege`): on its
    /// own, or folded into the static finding that predicted it (`evidence.confirmed_by`).
    pub fn failures(&self, rule: &str) -> Vec<&Value> {
        self.findings()
            .iter()
            .filter(|f| f["rule"] == rule || f["evidence"]["confirmed_by"]["rule"] == rule)
            .collect()
    }

    /// `(file, line, column)` of every failure [`Run::failures`] lists.
    pub fn failure_positions(&self, rule: &str) -> Vec<(String, u64, u64)> {
        positions(&self.failures(rule))
    }

    /// `(file, line, column)` of every finding with this rule id.
    pub fn positions(&self, rule: &str) -> Vec<(String, u64, u64)> {
        positions(&self.rule(rule))
    }

    /// Rule ids reported, sorted, leaving out `ignored` ones (rules a test is not about).
    pub fn rules_without(&self, ignored: &[&str]) -> Vec<String> {
        self.rules()
            .into_iter()
            .filter(|r| !ignored.contains(&r.as_str()))
            .collect()
    }

    /// All rule ids reported, sorted.
    pub fn rules(&self) -> Vec<String> {
        let mut r: Vec<String> = self
            .findings()
            .iter()
            .map(|f| f["rule"].as_str().unwrap_or("").to_string())
            .collect();
        r.sort();
        r
    }
}

/// The static partial-failure rules every multi-statement autocommit file gets; tests about other
/// rules leave them out.
pub const NON_ATOMIC: &[&str] = &["non-atomic-migration", "not-rerunnable"];

/// Runs `pgrehearse check <repo> --format json` with `extra` arguments and parses the report.
pub fn check_json(repo: &Path, engine: Engine, extra: &[&str]) -> Run {
    let output = command()
        .arg("check")
        .arg(repo)
        .args(engine_args(engine))
        .args(["--format", "json"])
        .args(extra)
        .output()
        .expect("the binary runs");
    Run::from_output(output)
}

impl Run {
    /// Parses the JSON report a finished `pgrehearse … --format json` printed.
    pub fn from_output(output: Output) -> Run {
        let stdout = String::from_utf8_lossy(&output.stdout);
        let json: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not a JSON report ({e}); exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
                output.status.code(),
                String::from_utf8_lossy(&output.stderr)
            )
        });
        Run { output, json }
    }
}

/// Runs `pgrehearse lint <repo> --format json` and parses the report.
pub fn lint_json(repo: &Path) -> Run {
    Run::from_output(
        command()
            .args(["lint", "--format", "json"])
            .arg(repo)
            .output()
            .expect("the binary runs"),
    )
}

/// Containers labelled by pgrehearse for the process `pid`.
pub fn containers_of(pid: u32) -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "-q",
            "--filter",
            &format!("label=dev.pgrehearse.pid={pid}"),
        ])
        .output()
        .expect("docker ps runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Temporary cluster directories of the process `pid`.
pub fn local_dirs_of(pid: u32) -> Vec<PathBuf> {
    pgrehearse::engine::local::cluster_parents()
        .into_iter()
        .flat_map(|parent| std::fs::read_dir(parent).into_iter().flatten().flatten())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("pgrehearse-local-{pid}-")))
        })
        .collect()
}

/// Copies the directory tree `from` into `to` (created when missing).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixture").flatten() {
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).expect("copy");
        }
    }
}

/// A repository of `files` (path, text) in a new temporary directory.
pub fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, text) in files {
        let path = dir.path().join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write");
    }
    dir
}

/// A multi-threaded runtime for tests that drive the library's async API.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A local server standing in for the shared server of `--engine url`, and its URL.
pub fn shared_server(
    rt: &tokio::runtime::Runtime,
    cleanup: &pgrehearse::engine::Cleanup,
) -> (pgrehearse::engine::Server, String) {
    use pgrehearse::engine;
    let options = local_options();
    let server = rt
        .block_on(engine::start(&options, cleanup))
        .expect("local server");
    let host = match &server.config.get_hosts()[0] {
        tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
    };
    let url = format!(
        "host={host} port={} user={} dbname=postgres",
        server.config.get_ports()[0],
        server.admin_user()
    );
    (server, url)
}

/// The first column of `query` (text) on the server's `postgres` database.
pub async fn names(server: &pgrehearse::engine::Server, query: &str) -> Vec<String> {
    let client = server.connect("postgres").await.expect("connects");
    client
        .query(query, &[])
        .await
        .expect("lists names")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The local engine's options: a temporary cluster of the installed PostgreSQL.
pub fn local_options() -> pgrehearse::engine::EngineOptions {
    pgrehearse::engine::EngineOptions {
        kind: pgrehearse::engine::EngineKind::Local,
        database_url: None,
        image: None,
        pg_version: None,
        replay: Default::default(),
    }
}
