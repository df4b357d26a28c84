//! Cleanup touches only what this run owns: the start-up sweeps never signal or remove what another
//! user planted or still uses, a run killed outright is swept by the next one, SIGHUP cleans up like
//! SIGTERM, and the docker engine's superuser is reachable only from this machine with a password of
//! its own.

use crate::harness::{names, runtime, shared_server};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cleanup::wait_until_ready;
use crate::harness::{Engine, command, containers_of, engine_args, fixture, image};

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

fn alive(child: &mut Child) -> bool {
    child.try_wait().expect("try_wait").is_none()
}

/// A pid that belonged to a process that has exited.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().expect("spawns");
    let pid = child.id();
    child.wait().expect("waits");
    pid
}

fn plant(parent: &Path, name: &str, pid: u32) -> PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir_all(dir.join("data")).expect("mkdir");
    std::fs::write(dir.join("data/postmaster.pid"), format!("{pid}\n/x\n")).expect("write");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    dir
}

fn chown_tree(dir: &Path, uid: u32) {
    let status = Command::new("chown")
        .args(["-R", &format!("{uid}:{uid}")])
        .arg(dir)
        .status()
        .expect("chown runs");
    assert!(status.success());
}

#[test]
fn local_stale_sweep_signals_only_its_own_postmasters() {
    let parent = tempfile::tempdir().expect("tempdir");
    let mut victim = Command::new("sleep").arg("600").spawn().expect("spawns");
    let dead = dead_pid();
    // Planted by another user, naming our victim.
    let planted = plant(
        parent.path(),
        &format!("pgrehearse-local-{dead}-planted"),
        victim.id(),
    );
    if euid() == 0 {
        chown_tree(&planted, 65534);
    }
    // Ours and stale, but its pid file names a process that is not its postmaster.
    let ours = plant(
        parent.path(),
        &format!("pgrehearse-local-{dead}-ours"),
        victim.id(),
    );
    // A symlink named like ours, to a directory of ours elsewhere: never followed.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let target = plant(elsewhere.path(), "cluster", victim.id());
    let link = parent.path().join(format!("pgrehearse-local-{dead}-link"));
    std::os::unix::fs::symlink(&target, &link).expect("symlink");

    pgrehearse::engine::local::remove_stale_in(parent.path(), euid());

    std::thread::sleep(Duration::from_millis(200));
    assert!(
        alive(&mut victim),
        "the sweep signalled a process it does not own"
    );
    let _ = victim.kill();
    let _ = victim.wait();
    if euid() == 0 {
        assert!(planted.exists(), "another user's directory was removed");
    }
    assert!(!ours.exists(), "our stale directory is removed");
    assert!(
        target.join("data/postmaster.pid").exists(),
        "a symlink was followed"
    );
    assert!(std::fs::symlink_metadata(&link).is_ok());
}

fn wait_gone(pid: i32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Gone, or a zombie waiting for a parent that is not ours.
        if state.is_empty() || state.split(") ").nth(1).is_some_and(|s| s.starts_with('Z')) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn local_cluster_of_a_killed_run_is_swept_by_the_next_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // The cluster runs as an unprivileged user when we are root: it must reach its directory.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut child = command()
        .arg("check")
        .arg(fixture("slow"))
        .args(engine_args(Engine::Local))
        .arg("-v")
        .env("PGREHEARSE_TMPDIR", tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let pid = child.id();
    wait_until_ready(&mut child);
    child.kill().expect("SIGKILL");
    child.wait().expect("waits");
    let dir = std::fs::read_dir(tmp.path())
        .expect("readdir")
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("pgrehearse-local-{pid}-")))
        })
        .expect("the killed run left its cluster");
    let mode = std::fs::metadata(&dir).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "cluster directories are private");
    let pm: i32 = std::fs::read_to_string(dir.join("data/postmaster.pid"))
        .expect("pid file")
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .expect("pid");
    assert!(
        !wait_gone(pm, Duration::from_millis(100)),
        "the orphaned postmaster runs"
    );

    let out = command()
        .arg("check")
        .arg(fixture("psql-partial"))
        .args(engine_args(Engine::Local))
        .arg("-q")
        .env("PGREHEARSE_TMPDIR", tmp.path())
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        wait_gone(pm, Duration::from_secs(10)),
        "the orphaned postmaster was stopped"
    );
    assert!(!dir.exists(), "the stale cluster directory was removed");
}

#[test]
fn local_sighup_leaves_nothing() {
    let mut child = command()
        .arg("check")
        .arg(fixture("slow"))
        .args(engine_args(Engine::Local))
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let pid = child.id();
    wait_until_ready(&mut child);
    std::thread::sleep(Duration::from_millis(300));
    let status = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let code = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status.code();
        }
        assert!(
            Instant::now() < deadline,
            "pgrehearse did not stop after SIGHUP"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(2));
    assert_eq!(crate::harness::local_dirs_of(pid), Vec::<PathBuf>::new());
}

fn docker_inspect(id: &str, format: &str) -> String {
    let out = Command::new("docker")
        .args(["inspect", "--format", format, id])
        .output()
        .expect("docker inspect runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn docker_container_has_no_network_and_a_random_password() {
    use std::os::unix::fs::PermissionsExt;
    if crate::harness::skip_docker() {
        return;
    }
    let mut passwords = Vec::new();
    for _ in 0..2 {
        let mut child = command()
            .arg("check")
            .arg(fixture("slow"))
            .args(engine_args(Engine::Docker))
            .arg("-v")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawns");
        let pid = child.id();
        wait_until_ready(&mut child);
        let ids = containers_of(pid);
        assert_eq!(ids.len(), 1, "{ids:?}");
        let mode = docker_inspect(&ids[0], "{{.HostConfig.NetworkMode}}");
        let bindings = docker_inspect(&ids[0], "{{json .HostConfig.PortBindings}}");
        let published = docker_inspect(&ids[0], "{{json .NetworkSettings.Ports}}");
        let binds = docker_inspect(&ids[0], "{{json .HostConfig.Binds}}");
        let env = docker_inspect(&ids[0], "{{json .Config.Env}}");
        // The socket's directory, and the private one around it.
        let socket_dir = binds
            .split('"')
            .find_map(|b| b.strip_suffix(":/var/run/postgresql"))
            .map(std::path::PathBuf::from)
            .expect("the socket directory is mounted");
        let private = socket_dir.parent().expect("a parent").to_path_buf();
        let private_mode = std::fs::metadata(&private)
            .map(|m| m.permissions().mode() & 0o777)
            .expect("the private directory exists");
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let _ = child.wait();
        assert_eq!(mode, "none");
        assert!(bindings == "null" || bindings == "{}", "{bindings}");
        assert!(published == "null" || published == "{}", "{published}");
        assert!(
            private
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("pgrehearse-docker-{pid}-"))),
            "{private:?}"
        );
        assert_eq!(private_mode, 0o700, "{private:?}");
        assert!(!private.exists(), "{private:?} was left behind");
        let password = env
            .split('"')
            .find_map(|v| v.strip_prefix("POSTGRES_PASSWORD="))
            .expect("a password is set")
            .to_string();
        assert_eq!(password.len(), 32, "{password}");
        assert_ne!(password, "pgrehearse");
        passwords.push(password);
        assert_eq!(containers_of(pid), Vec::<String>::new());
    }
    assert_ne!(passwords[0], passwords[1]);
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

fn labelled_container(owner: u32) -> String {
    let out = Command::new("docker")
        .args(["create", "--label", "dev.pgrehearse.managed=true"])
        .args(["--label", &format!("dev.pgrehearse.pid={owner}")])
        .args(["--label", &format!("dev.pgrehearse.host={}", hostname())])
        .arg(image())
        .output()
        .expect("docker create runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn exists(id: &str) -> bool {
    Command::new("docker")
        .args(["inspect", id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn docker_sweep_removes_only_containers_whose_owner_is_gone() {
    if crate::harness::skip_docker() {
        return;
    }
    let mut owner = Command::new("sleep").arg("600").spawn().expect("spawns");
    let live = labelled_container(owner.id());
    let stale = labelled_container(dead_pid());
    let out = command()
        .arg("check")
        .arg(fixture("psql-partial"))
        .args(engine_args(Engine::Docker))
        .arg("-q")
        .output()
        .expect("runs");
    let live_kept = exists(&live);
    let stale_kept = exists(&stale);
    let _ = Command::new("docker")
        .args(["rm", "-f", &live, &stale])
        .output();
    let _ = owner.kill();
    let _ = owner.wait();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(live_kept, "a container whose owner runs was removed");
    assert!(!stale_kept, "a container whose owner is gone was kept");
}

async fn role_names(server: &pgrehearse::engine::Server) -> Vec<String> {
    names(server, "SELECT rolname::text FROM pg_roles ORDER BY 1").await
}

#[test]
fn url_engine_drops_only_the_roles_it_created() {
    let rt = runtime();
    let cleanup = pgrehearse::engine::Cleanup::new();
    let (server, url) = shared_server(&rt, &cleanup);
    let repo = crate::harness::repo(&[
        (
            "migrations/001_roles.sql",
            "CREATE ROLE pgr_mine NOLOGIN;\nSELECT pg_sleep(3);\n",
        ),
        (".pgrehearse.yaml", TRUSTED_WITH_ROLES),
    ]);
    let child = command()
        .args(["check", "--engine", "url", "-q", "--database-url", &url])
        .arg(repo.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    // While the replay sleeps, another session creates a role of its own.
    std::thread::sleep(Duration::from_millis(1500));
    rt.block_on(async {
        let admin = server.connect("postgres").await.expect("connects");
        admin
            .batch_execute("CREATE ROLE other_session_role NOLOGIN")
            .await
            .expect("creates a role");
    });
    let out = child.wait_with_output().expect("waits");
    let after = rt.block_on(role_names(&server));
    rt.block_on(cleanup.run_all());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        after.contains(&"other_session_role".to_string()),
        "{after:?}"
    );
    assert!(!after.contains(&"pgr_mine".to_string()), "{after:?}");
}

/// Migrations that create and alter roles replay with CREATEROLE on every server version.
const TRUSTED_WITH_ROLES: &str = "privileged: [{statement: create-role}]\n";

#[test]
fn url_engine_undoes_and_reports_a_rename_of_an_existing_role() {
    let rt = runtime();
    let cleanup = pgrehearse::engine::Cleanup::new();
    let (server, url) = shared_server(&rt, &cleanup);
    rt.block_on(async {
        let admin = server.connect("postgres").await.expect("connects");
        admin
            .batch_execute("CREATE ROLE pgr_existing NOLOGIN; CREATE ROLE pgr_altered NOLOGIN")
            .await
            .expect("creates the existing roles");
    });
    let repo = crate::harness::repo(&[
        (
            "migrations/001_rename.sql",
            "ALTER ROLE pgr_existing RENAME TO pgr_renamed;\nALTER ROLE pgr_altered CONNECTION LIMIT 3;\n",
        ),
        (".pgrehearse.yaml", TRUSTED_WITH_ROLES),
    ]);
    let out = command()
        .args(["check", "--engine", "url", "-q", "--database-url", &url])
        .arg(repo.path())
        .output()
        .expect("runs");
    let after = rt.block_on(role_names(&server));
    rt.block_on(cleanup.run_all());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(after.contains(&"pgr_existing".to_string()), "{after:?}");
    assert!(!after.contains(&"pgr_renamed".to_string()), "{after:?}");
    assert!(after.contains(&"pgr_altered".to_string()), "{after:?}");
    assert!(
        stderr.contains("a migration renamed role pgr_existing (which existed before the replay) to pgr_renamed; it was renamed back"),
        "{stderr}"
    );
    assert!(
        stderr.contains("a migration altered role pgr_altered (which existed before the replay)")
            && stderr.contains("CONNECTION LIMIT -1")
            && stderr.contains("CONNECTION LIMIT 3"),
        "{stderr}"
    );
}

async fn database_names(server: &pgrehearse::engine::Server) -> Vec<String> {
    names(server, "SELECT datname::text FROM pg_database ORDER BY 1").await
}

#[test]
fn url_engine_sweeps_only_provably_stale_scratch_databases() {
    use pgrehearse::engine::scratch;
    let rt = runtime();
    let cleanup = pgrehearse::engine::Cleanup::new();
    let (server, url) = shared_server(&rt, &cleanup);
    let host = scratch::host_tag();
    let mut live = Command::new("sleep").arg("600").spawn().expect("spawns");
    let dead = dead_pid();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let old = now - 3_600;
    let stale = scratch::name("replay", &host, dead, old, 0);
    let kept = [
        // Its process still runs.
        scratch::name("replay", &host, live.id(), old, 1),
        // Too young to judge.
        scratch::name("replay", &host, dead, now, 2),
        // Made on another machine: its process cannot be checked from here.
        scratch::name("replay", "0badf00d", dead, old, 3),
        // Owned by another role.
        scratch::name("declared", &host, dead, old, 4),
        // Not named by pgrehearse.
        "pgrehearse_app".to_string(),
    ];
    rt.block_on(async {
        let admin = server.connect("postgres").await.expect("connects");
        admin
            .batch_execute("CREATE ROLE pgr_other_owner NOLOGIN")
            .await
            .expect("role");
        for name in std::iter::once(&stale).chain(&kept[..3]).chain(&kept[4..]) {
            admin
                .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("creates");
        }
        admin
            .batch_execute(&format!(
                "CREATE DATABASE \"{}\" OWNER pgr_other_owner",
                kept[3]
            ))
            .await
            .expect("creates");
    });
    let repo = crate::harness::repo(&[("migrations/001_a.sql", "SELECT 1;\n")]);
    let out = command()
        .args(["check", "--engine", "url", "-q", "--database-url", &url])
        .arg(repo.path())
        .output()
        .expect("runs");
    let after = rt.block_on(database_names(&server));
    let _ = live.kill();
    let _ = live.wait();
    rt.block_on(cleanup.run_all());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!after.contains(&stale), "{after:?}");
    assert!(
        stderr.contains(&format!("dropped scratch database {stale}")),
        "{stderr}"
    );
    for name in &kept {
        assert!(after.contains(name), "{name} was dropped: {after:?}");
    }
}

#[test]
fn url_engine_scratch_database_of_a_killed_run_is_dropped_by_a_later_run() {
    let rt = runtime();
    let cleanup = pgrehearse::engine::Cleanup::new();
    let (server, url) = shared_server(&rt, &cleanup);
    let mut child = command()
        .args(["check", "--engine", "url", "-v", "--database-url", &url])
        .arg(fixture("slow"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let pid = child.id();
    wait_until_ready(&mut child);
    std::thread::sleep(Duration::from_millis(500));
    child.kill().expect("SIGKILL");
    child.wait().expect("waits");
    let left: Vec<String> = rt
        .block_on(database_names(&server))
        .into_iter()
        .filter(|d| d.contains(&format!("_{pid}_")))
        .collect();
    assert_eq!(left.len(), 1, "the killed run left its scratch database");
    // The sweep waits until a scratch database is a minute old: age it.
    // pgrehearse_<label>_<host>_<pid>_<secs>_<n>
    let parts: Vec<&str> = left[0].rsplitn(3, '_').collect();
    let secs: u64 = parts[1].parse().expect("seconds in the name");
    let renamed = format!("{}_{}_{}", parts[2], secs - 120, parts[0]);
    rt.block_on(async {
        let admin = server.connect("postgres").await.expect("connects");
        // The killed run's session is still inside its statement.
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                &[&left[0]],
            )
            .await
            .expect("terminates");
        tokio::time::sleep(Duration::from_millis(300)).await;
        admin
            .batch_execute(&format!(
                "ALTER DATABASE \"{}\" RENAME TO \"{renamed}\"",
                left[0]
            ))
            .await
            .expect("renames");
    });
    let repo = crate::harness::repo(&[("migrations/001_a.sql", "SELECT 1;\n")]);
    let out = command()
        .args(["check", "--engine", "url", "-q", "--database-url", &url])
        .arg(repo.path())
        .output()
        .expect("runs");
    let after = rt.block_on(database_names(&server));
    rt.block_on(cleanup.run_all());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!after.contains(&renamed), "{after:?}");
}

#[test]
fn docker_interrupt_early_in_the_start_leaves_no_container() {
    if crate::harness::skip_docker() {
        return;
    }
    for delay_ms in [50, 120, 200, 300] {
        let child = command()
            .arg("check")
            .arg(fixture("psql-partial"))
            .args(engine_args(Engine::Docker))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawns");
        let pid = child.id();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status();
        let out = child.wait_with_output().expect("waits");
        // Whatever the daemon was still creating when the run stopped is gone too.
        std::thread::sleep(Duration::from_millis(1500));
        let left = containers_of(pid);
        for id in &left {
            let _ = Command::new("docker").args(["rm", "-f", id]).output();
        }
        assert_eq!(
            left,
            Vec::<String>::new(),
            "SIGINT after {delay_ms} ms left a container; stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn auto_falls_back_to_local_when_docker_cannot_get_the_image() {
    if crate::harness::skip_docker() {
        return;
    }
    let out = command()
        .args(["check", "--engine", "auto", "--format", "json"])
        .args(["--image", "pgrehearse-missing.invalid/nothing:1"])
        .env("PGREHEARSE_PULL_TIMEOUT", "20")
        .arg(fixture("psql-partial"))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("falling back to the local engine (PostgreSQL server binaries found)"),
        "{stderr}"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(json["summary"]["engine"], "local");
}
