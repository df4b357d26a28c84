//! The local engine: a temporary PostgreSQL cluster made from server binaries on this machine.
//!
//! Binaries are looked up in `PGREHEARSE_PG_BINDIR` if set, else on PATH, through `pg_config --bindir`,
//! then under `/usr/lib/postgresql/*/bin` (newest first). The cluster lives in a temporary directory, listens only on a unix socket inside it,
//! and runs with fsync off. `initdb` refuses to run as root, so when pgrehearse runs as root the cluster
//! is made and run by an unprivileged user (`PGREHEARSE_LOCAL_USER`, else `postgres`, else `nobody`).
//! A freshly made cluster is kept as a template in the user's cache directory and copied for later
//! runs, which makes start-up several times faster than `initdb`.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::process::Command;

use super::{Cleanup, Engine, EngineError, EngineKind, EngineOptions, Resource, Server};

pub struct LocalEngine {
    pg_version: Option<u32>,
}

impl LocalEngine {
    pub fn new(options: &EngineOptions) -> LocalEngine {
        LocalEngine {
            pg_version: options.pg_version,
        }
    }
}

/// The user the cluster runs as when we are root.
#[derive(Clone, Copy, Debug)]
struct RunAs {
    uid: u32,
    gid: u32,
}

fn run_as() -> Result<Option<RunAs>, EngineError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let mut candidates: Vec<String> = Vec::new();
    if let Ok(u) = std::env::var("PGREHEARSE_LOCAL_USER") {
        candidates.push(u);
    }
    candidates.push("postgres".into());
    candidates.push("nobody".into());
    for name in &candidates {
        let Ok(cname) = CString::new(name.as_str()) else {
            continue;
        };
        // SAFETY: getpwnam takes a valid C string and returns null or a pointer to static storage that we
        // read immediately, on this thread.
        let pw = unsafe { libc::getpwnam(cname.as_ptr()) };
        if pw.is_null() {
            continue;
        }
        // SAFETY: pw is non-null and points to a valid passwd record.
        let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
        if uid != 0 {
            return Ok(Some(RunAs { uid, gid }));
        }
    }
    Err(EngineError::LocalFailed {
        reason: "running as root, and initdb refuses root: no unprivileged user (postgres, nobody) was found; set PGREHEARSE_LOCAL_USER to one".into(),
    })
}

/// A PostgreSQL installation's bin directory and its major version.
#[derive(Clone, Debug)]
pub struct BinDir {
    pub path: PathBuf,
    pub major: u32,
}

fn major_of(bindir: &Path) -> Option<u32> {
    // Asked for by the hook's engine detection, the engine choice and the engine start of one run:
    // `postgres --version` runs once per directory and process.
    static SEEN: std::sync::Mutex<Vec<(PathBuf, Option<u32>)>> = std::sync::Mutex::new(Vec::new());
    if let Ok(seen) = SEEN.lock()
        && let Some((_, major)) = seen.iter().find(|(p, _)| p == bindir)
    {
        return *major;
    }
    let major = (|| {
        let out = std::process::Command::new(bindir.join("postgres"))
            .arg("--version")
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
        let version = text.split(')').nth(1)?.split_whitespace().next()?;
        version.split('.').next()?.parse().ok()
    })();
    if let Ok(mut seen) = SEEN.lock() {
        seen.push((bindir.to_path_buf(), major));
    }
    major
}

/// `pg_config --bindir`, once per process.
fn pg_config_bindir() -> Option<PathBuf> {
    static BINDIR: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    BINDIR
        .get_or_init(|| {
            let out = std::process::Command::new("pg_config")
                .arg("--bindir")
                .output()
                .ok()?;
            Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        })
        .clone()
}

/// Finds server binaries, preferring `wanted` when given.
/// `PGREHEARSE_PG_BINDIR`, when set, is the only place looked at.
pub fn find_bindir(wanted: Option<u32>) -> Result<BinDir, EngineError> {
    if let Some(dir) = std::env::var_os("PGREHEARSE_PG_BINDIR") {
        let path = PathBuf::from(dir);
        return match major_of(&path) {
            Some(major) if path.join("initdb").is_file() => match wanted {
                Some(v) if v != major => Err(EngineError::LocalVersionMissing {
                    wanted: v,
                    found: major.to_string(),
                }),
                _ => Ok(BinDir { path, major }),
            },
            _ => Err(EngineError::NoLocalBinaries),
        };
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("postgres").is_file() {
                candidates.push(dir);
            }
        }
    }
    if let Some(dir) = pg_config_bindir()
        && dir.join("initdb").is_file()
    {
        candidates.push(dir);
    }
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((major, bin))
        })
        .collect();
    versioned.sort_by_key(|v| std::cmp::Reverse(v.0));
    candidates.extend(versioned.into_iter().map(|(_, p)| p));

    // Versions are asked for in order of preference, and only until one answers.
    let mut found: Vec<BinDir> = Vec::new();
    for path in candidates {
        if found.iter().any(|b| b.path == path) {
            continue;
        }
        if let Some(major) = major_of(&path) {
            if wanted.is_none_or(|v| v == major) {
                return Ok(BinDir { path, major });
            }
            found.push(BinDir { path, major });
        }
    }
    Err(match wanted {
        Some(v) if !found.is_empty() => EngineError::LocalVersionMissing {
            wanted: v,
            found: found
                .iter()
                .map(|b| b.major.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        },
        _ => EngineError::NoLocalBinaries,
    })
}

fn failed(reason: impl Into<String>) -> EngineError {
    EngineError::LocalFailed {
        reason: reason.into(),
    }
}

fn chown(path: &Path, who: RunAs) -> Result<(), EngineError> {
    std::os::unix::fs::chown(path, Some(who.uid), Some(who.gid)).map_err(|e| {
        failed(format!(
            "could not hand {} to uid {}: {e}",
            path.display(),
            who.uid
        ))
    })
}

/// Variables a server process keeps from pgrehearse's environment: where programs and libraries are,
/// and the time zone. Nothing else reaches it (tokens, `--against` URLs, `PGREHEARSE_*`), so SQL that
/// gets the server to run a program or read its environment finds none of pgrehearse's secrets.
const SERVER_ENV: &[&str] = &["PATH", "LD_LIBRARY_PATH", "TZ"];

/// A server program (initdb, postgres, pg_ctl) with a minimal environment of its own, run as `who`.
fn command(program: PathBuf, who: Option<RunAs>) -> Command {
    let mut cmd = Command::new(program);
    if let Some(who) = who {
        cmd.uid(who.uid).gid(who.gid);
    }
    cmd.env_clear();
    for name in SERVER_ENV {
        if let Some(value) = std::env::var_os(name) {
            cmd.env(name, value);
        }
    }
    cmd.env("LC_ALL", "C");
    cmd.stdin(std::process::Stdio::null());
    cmd
}

/// pgrehearse's directory in the user's cache directory: `PGREHEARSE_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/pgrehearse` or `~/.cache/pgrehearse` (`~/Library/Caches/pgrehearse` on macOS).
pub fn cache_root() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PGREHEARSE_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let base = if cfg!(target_os = "macos") {
        home?.join("Library").join("Caches")
    } else {
        std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| home.map(|h| h.join(".cache")))?
    };
    Some(base.join("pgrehearse"))
}

async fn initdb(bindir: &BinDir, data: &Path, who: Option<RunAs>) -> Result<(), EngineError> {
    let out = command(bindir.path.join("initdb"), who)
        .arg("-D")
        .arg(data)
        .args([
            "-U",
            super::ADMIN_ROLE,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .output()
        .await
        .map_err(|e| failed(format!("could not run initdb: {e}")))?;
    if !out.status.success() {
        return Err(failed(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// A template cluster in the cache, made once per installation and user.
async fn template(bindir: &BinDir, who: Option<RunAs>) -> Option<PathBuf> {
    let root = match who {
        // The unprivileged user cannot reach root's home: keep its templates in a directory of its own.
        Some(w) => {
            use std::os::unix::fs::PermissionsExt;
            let root = std::env::temp_dir().join(format!("pgrehearse-templates-{}", w.uid));
            if !root.is_dir() {
                std::fs::create_dir_all(&root).ok()?;
                std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).ok()?;
                chown(&root, w).ok()?;
            }
            root
        }
        None => cache_root()?,
    };
    let uid = who.map(|w| w.uid).unwrap_or_else(|| {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() }
    });
    let key = format!(
        "cluster-{}-{}-{}-{}",
        bindir.major,
        uid,
        bindir
            .path
            .to_string_lossy()
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32)),
        // The bootstrap superuser's name is part of the template.
        super::ADMIN_ROLE
    );
    let dir = root.join(key);
    if dir.join("PG_VERSION").is_file() {
        return Some(dir);
    }
    std::fs::create_dir_all(&root).ok()?;
    let staging = tempfile::Builder::new()
        .prefix(".staging-")
        .tempdir_in(&root)
        .ok()?;
    if let Some(w) = who {
        chown(staging.path(), w).ok()?;
    }
    let data = staging.path().join("data");
    initdb(bindir, &data, who).await.ok()?;
    // Another run may have won the race; either way a complete template exists afterwards.
    if std::fs::rename(&data, &dir).is_err() && !dir.join("PG_VERSION").is_file() {
        return None;
    }
    Some(dir)
}

async fn copy_dir(from: &Path, to: &Path) -> Result<(), EngineError> {
    let out = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .output()
        .await
        .map_err(|e| failed(format!("could not run cp: {e}")))?;
    if !out.status.success() {
        return Err(failed(format!(
            "could not copy the template cluster: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(54329)
}

fn process_alive(pid: u32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

/// Where temporary clusters live: `PGREHEARSE_TMPDIR`, else a RAM-backed `/dev/shm` when present (a
/// throwaway cluster needs no durability, and writing it there is an order of magnitude faster than to
/// disk), else the system temporary directory.
pub fn cluster_parents() -> Vec<PathBuf> {
    if let Some(dir) = std::env::var_os("PGREHEARSE_TMPDIR") {
        return vec![PathBuf::from(dir)];
    }
    let shm = PathBuf::from("/dev/shm");
    let mut parents = Vec::new();
    if shm.is_dir() {
        parents.push(shm);
    }
    parents.push(std::env::temp_dir());
    parents
}

fn make_cluster_dir() -> Result<tempfile::TempDir, EngineError> {
    let prefix = format!("pgrehearse-local-{}-", std::process::id());
    let mut last = None;
    for parent in cluster_parents() {
        match tempfile::Builder::new().prefix(&prefix).tempdir_in(&parent) {
            // Private to the user the cluster runs as (the start-up sweep only touches such).
            Ok(dir) => {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
                    .map_err(|e| failed(format!("{}: {e}", dir.path().display())))?;
                return Ok(dir);
            }
            Err(e) => last = Some(format!("{}: {e}", parent.display())),
        }
    }
    Err(failed(format!(
        "could not create a temporary directory ({})",
        last.unwrap_or_default()
    )))
}

/// Removes clusters left behind by runs that were killed outright (SIGKILL, power loss).
fn remove_stale(who: Option<RunAs>) {
    // The cluster directories of this user's runs are owned by the user the cluster runs as.
    // SAFETY: geteuid has no preconditions.
    let owner = who
        .map(|w| w.uid)
        .unwrap_or_else(|| unsafe { libc::geteuid() });
    for parent in cluster_parents() {
        remove_stale_in(&parent, owner);
    }
}

/// Removes, under `parent`, the cluster directories that are provably stale and provably ours: named
/// like ours, a real directory (not a symlink) owned by `owner` and private to it (0700), whose
/// pgrehearse process is gone. Their postmaster is stopped only when the process in `postmaster.pid`
/// is a postgres owned by `owner` whose data directory is that very directory; a pid file naming any
/// other process is ignored, so a file planted by another user can never make pgrehearse signal
/// anything.
pub fn remove_stale_in(parent: &Path, owner: u32) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|n| n.strip_prefix("pgrehearse-local-"))
        else {
            continue;
        };
        let Some(run) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != owner || meta.mode() & 0o077 != 0 {
            continue;
        }
        if run == std::process::id() || !super::docker::process_gone(run as i32) {
            continue;
        }
        let data = entry.path().join("data");
        if let Some(pm) = own_postmaster(&data, owner) {
            // SAFETY: pm is a postgres owned by `owner` running on this stale cluster's data directory.
            unsafe {
                libc::kill(pm, libc::SIGQUIT);
            }
        }
        let _ = std::fs::remove_dir_all(entry.path());
    }
}

/// The postmaster of the cluster in `data`, when `data/postmaster.pid` names a live `postgres` process
/// owned by `owner` whose working directory (the data directory: the postmaster changes into it) is
/// `data`. Anything else is `None`.
fn own_postmaster(data: &Path, owner: u32) -> Option<i32> {
    use std::os::unix::fs::MetadataExt;
    let data_meta = std::fs::symlink_metadata(data).ok()?;
    if !data_meta.is_dir() || data_meta.uid() != owner {
        return None;
    }
    let pidfile = data.join("postmaster.pid");
    let meta = std::fs::symlink_metadata(&pidfile).ok()?;
    if !meta.is_file() || meta.uid() != owner {
        return None;
    }
    let pm = std::fs::read_to_string(&pidfile)
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|&p| p > 1)?;
    let proc_dir = PathBuf::from(format!("/proc/{pm}"));
    if std::fs::metadata(&proc_dir).ok()?.uid() != owner {
        return None;
    }
    let comm = std::fs::read_to_string(proc_dir.join("comm")).ok()?;
    if comm.trim() != "postgres" {
        return None;
    }
    let cwd = std::fs::read_link(proc_dir.join("cwd")).ok()?;
    (cwd == data.canonicalize().ok()?).then_some(pm)
}

impl Engine for LocalEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Local
    }

    async fn start(&self, cleanup: &Cleanup) -> Result<Server, EngineError> {
        let started = Instant::now();
        let bindir = find_bindir(self.pg_version)?;
        let who = run_as()?;
        remove_stale(who);
        let dir = make_cluster_dir()?;
        if let Some(w) = who {
            chown(dir.path(), w)?;
        }
        let data = dir.path().join("data");
        match template(&bindir, who).await {
            Some(t) => copy_dir(&t, &data).await?,
            None => initdb(&bindir, &data, who).await?,
        }
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("server.log"))
            .map_err(|e| failed(format!("could not create the server log: {e}")))?;
        if let Some(w) = who {
            chown(&dir.path().join("server.log"), w)?;
        }
        let log_err = log
            .try_clone()
            .map_err(|e| failed(format!("could not open the server log: {e}")))?;
        let child = command(bindir.path.join("postgres"), who)
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(dir.path())
            .arg("-p")
            .arg(port.to_string())
            .args(SERVER_SETTINGS)
            .stdout(log)
            .stderr(log_err)
            .kill_on_drop(false)
            .spawn()
            .map_err(|e| failed(format!("could not start postgres: {e}")))?;
        let pid = child.id().unwrap_or(0);
        let log_path = dir.path().join("server.log");
        let socket_dir = dir.path().to_path_buf();
        cleanup.register(Resource::LocalCluster { pid, dir });

        let mut config = tokio_postgres::Config::new();
        config
            .host_path(&socket_dir)
            .port(port)
            .user(super::ADMIN_ROLE)
            .dbname("postgres");
        let mut child = child;
        let version = super::wait_ready(&config, Duration::from_secs(30), || {
            match child.try_wait() {
                Ok(Some(status)) => Err(format!(
                    "postgres exited ({status}): {}",
                    std::fs::read_to_string(&log_path)
                        .unwrap_or_default()
                        .trim()
                )),
                _ => Ok(()),
            }
        })
        .await
        .map_err(failed)?;
        // The child is reaped by stop_cluster; detach the handle so tokio does not wait on it.
        drop(child);
        Ok(local_server(&bindir, config, version, started))
    }
}

/// Where the cluster of the replay cache in `cache` lives (see `crate::cache`), and the uid its server
/// runs as. With the default cache directory, on RAM-backed `/dev/shm` when present (or in
/// `PGREHEARSE_TMPDIR`): copying a long history's snapshot there is several times faster than on
/// disk, and a cache lost at reboot is only a cold check. With `PGREHEARSE_CACHE_DIR` set (CI caches
/// that directory whole), inside it. As root the server runs as an unprivileged user that cannot
/// reach root's home, so it lives in a temporary directory, private to that user.
pub fn persistent_dir(cache: &Path) -> Result<(PathBuf, Option<u32>), EngineError> {
    let who = run_as()?;
    // SAFETY: geteuid has no preconditions.
    let uid = who
        .map(|w| w.uid)
        .unwrap_or_else(|| unsafe { libc::geteuid() });
    let tag = cache
        .to_string_lossy()
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    let name = format!("pgrehearse-replay-cache-{uid}-{tag:08x}");
    let explicit = std::env::var_os("PGREHEARSE_CACHE_DIR").is_some();
    Ok(match (explicit, who) {
        (true, None) => (cache.join("cluster"), None),
        (true, Some(w)) => (std::env::temp_dir().join(name), Some(w.uid)),
        (false, _) => (
            cluster_parents()
                .into_iter()
                .next()
                .unwrap_or_else(std::env::temp_dir)
                .join(name),
            who.map(|w| w.uid),
        ),
    })
}

/// How the replay cache's cluster came up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersistentStart {
    /// Made anew: whatever the cache listed in it is gone.
    Made,
    /// Started on its data directory.
    Started,
    /// Left running by the previous check, and adopted ([`linger`]).
    Adopted,
}

/// Starts the persistent cluster of the replay cache in `dir` (made from the template when missing;
/// made again when it does not start), whose lock `lock` the caller holds. A postmaster left running
/// on it by a run that was killed outright is stopped first. Stopped with a fast shutdown at cleanup;
/// the directory stays.
pub async fn start_persistent(
    options: &EngineOptions,
    cleanup: &Cleanup,
    dir: &Path,
    lock: std::fs::File,
) -> Result<(Server, PersistentStart), EngineError> {
    use std::os::unix::fs::PermissionsExt;
    let started = Instant::now();
    let bindir = find_bindir(options.pg_version)?;
    let who = run_as()?;
    // SAFETY: geteuid has no preconditions.
    let owner = who
        .map(|w| w.uid)
        .unwrap_or_else(|| unsafe { libc::geteuid() });
    // Named predictably in a shared directory: used only when it is a real directory (never a
    // symlink) of the user the cluster runs as, private to it; else made here.
    use std::os::unix::fs::MetadataExt;
    match std::fs::symlink_metadata(dir) {
        Ok(meta) => {
            if !meta.is_dir() || meta.uid() != owner || meta.mode() & 0o077 != 0 {
                return Err(failed(format!(
                    "{} is not a private directory of uid {owner}; remove it, or set PGREHEARSE_CACHE_DIR",
                    dir.display()
                )));
            }
        }
        Err(_) => {
            if let Some(parent) = dir.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| failed(format!("{}: {e}", parent.display())))?;
            }
            std::fs::create_dir(dir).map_err(|e| failed(format!("{}: {e}", dir.display())))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| failed(format!("{}: {e}", dir.display())))?;
            if let Some(w) = who {
                chown(dir, w)?;
            }
        }
    }
    let data = dir.join("data");
    if let Some((pid, config, version)) = adopt(dir, &data, owner).await {
        cleanup.register(Resource::PersistentCluster {
            pid,
            lock,
            config: config.clone(),
        });
        return Ok((
            local_server(&bindir, config, version, started),
            PersistentStart::Adopted,
        ));
    }
    if let Some(pm) = own_postmaster(&data, owner) {
        // SAFETY: pm is a postgres owned by `owner` running on this very data directory, left by a
        // run that held the cache's lock and is gone (we hold it now).
        unsafe {
            libc::kill(pm, libc::SIGQUIT);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while process_alive(pm as u32) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let mut fresh = false;
    for attempt in 0..2 {
        if attempt == 1 || !data.join("PG_VERSION").is_file() {
            let _ = std::fs::remove_dir_all(&data);
            match template(&bindir, who).await {
                Some(t) => copy_dir(&t, &data).await?,
                None => initdb(&bindir, &data, who).await?,
            }
            fresh = true;
        }
        match spawn_on(&bindir, who, dir, &data, &[]).await {
            Ok((pid, config, version)) => {
                cleanup.register(Resource::PersistentCluster {
                    pid,
                    lock,
                    config: config.clone(),
                });
                let how = if fresh {
                    PersistentStart::Made
                } else {
                    PersistentStart::Started
                };
                return Ok((local_server(&bindir, config, version, started), how));
            }
            Err((pid, e)) => {
                if pid != 0 {
                    let _ = stop_quietly(pid).await;
                }
                if attempt == 1 {
                    return Err(e);
                }
            }
        }
    }
    Err(failed("the replay cache's cluster did not start"))
}

/// Starts postgres on `data` with its socket in `dir`; its pid, connection settings and version.
async fn spawn_on(
    bindir: &BinDir,
    who: Option<RunAs>,
    dir: &Path,
    data: &Path,
    extra: &[String],
) -> Result<(u32, tokio_postgres::Config, String), (u32, EngineError)> {
    let port = free_port();
    let log_path = dir.join("server.log");
    let log = std::fs::File::create(&log_path)
        .map_err(|e| (0, failed(format!("could not create the server log: {e}"))))?;
    if let Some(w) = who {
        chown(&log_path, w).map_err(|e| (0, e))?;
    }
    let log_err = log
        .try_clone()
        .map_err(|e| (0, failed(format!("could not open the server log: {e}"))))?;
    let mut child = command(bindir.path.join("postgres"), who)
        .arg("-D")
        .arg(data)
        .arg("-k")
        .arg(dir)
        .arg("-p")
        .arg(port.to_string())
        .args(SERVER_SETTINGS)
        .args(extra)
        .stdout(log)
        .stderr(log_err)
        .kill_on_drop(false)
        .spawn()
        .map_err(|e| (0, failed(format!("could not start postgres: {e}"))))?;
    let pid = child.id().unwrap_or(0);
    let mut config = tokio_postgres::Config::new();
    config
        .host_path(dir)
        .port(port)
        .user(super::ADMIN_ROLE)
        .dbname("postgres");
    let version = super::wait_ready(&config, Duration::from_secs(30), || {
        match child.try_wait() {
            Ok(Some(status)) => Err(format!(
                "postgres exited ({status}): {}",
                std::fs::read_to_string(&log_path)
                    .unwrap_or_default()
                    .trim()
            )),
            _ => Ok(()),
        }
    })
    .await
    .map_err(|e| (pid, failed(e)))?;
    drop(child);
    Ok((pid, config, version))
}

/// Settings of every cluster the local engine runs: no durability (a replay is thrown away, and the
/// replay cache's cluster is made again when it does not start), a unix socket only.
const SERVER_SETTINGS: &[&str] = &[
    "-c",
    "listen_addresses=",
    "-c",
    "fsync=off",
    "-c",
    "synchronous_commit=off",
    "-c",
    "full_page_writes=off",
    "-c",
    "max_connections=40",
    "-c",
    "shared_buffers=64MB",
];

async fn stop_quietly(pid: u32) -> Result<(), String> {
    if process_alive(pid) {
        // SAFETY: pid is the postmaster we spawned.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGQUIT);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while process_alive(pid) && Instant::now() < deadline {
            // SAFETY: waitpid with WNOHANG on our own child pid.
            unsafe {
                libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), libc::WNOHANG);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    Ok(())
}

/// Stops the replay cache's cluster with a fast shutdown (a checkpoint: the next start needs no
/// recovery), then releases the cache's lock (`lock` is dropped).
pub async fn stop_persistent(pid: u32, lock: std::fs::File) -> Result<(), String> {
    stop_fast(pid).await;
    drop(lock);
    Ok(())
}

/// Stops the replay cache's cluster `pid` with a fast shutdown (a checkpoint); SIGQUIT when it does
/// not stop in time: the next start recovers.
async fn stop_fast(pid: u32) {
    stop_postmaster(pid, libc::SIGINT, Duration::from_secs(30), libc::SIGQUIT).await;
}

/// Sends `signal` to the postmaster `pid`, waits up to `patience` for it to exit (reaping it if it
/// is our child, so it does not linger as a zombie), then sends `last_resort`.
async fn stop_postmaster(
    pid: u32,
    signal: libc::c_int,
    patience: Duration,
    last_resort: libc::c_int,
) {
    if pid == 0 || !process_alive(pid) {
        return;
    }
    // SAFETY: pid is the postmaster we spawned.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
    let deadline = Instant::now() + patience;
    while process_alive(pid) && Instant::now() < deadline {
        // SAFETY: waitpid with WNOHANG on our own child pid.
        unsafe {
            libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), libc::WNOHANG);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if process_alive(pid) {
        // SAFETY: as above; the server did not stop in time.
        unsafe {
            libc::kill(pid as libc::pid_t, last_resort);
        }
    }
}

/// Stops a temporary cluster (immediate shutdown: the data is thrown away) and removes its directory.
pub async fn stop_cluster(pid: u32, dir: tempfile::TempDir) -> Result<(), String> {
    stop_postmaster(pid, libc::SIGQUIT, Duration::from_secs(10), libc::SIGKILL).await;
    let path = dir.path().to_path_buf();
    dir.close()
        .map_err(|e| format!("could not remove {}: {e}", path.display()))
}

/// The [`Server`] a local cluster of `bindir`'s binaries answers as, started at `started`.
fn local_server(
    bindir: &BinDir,
    config: tokio_postgres::Config,
    version: String,
    started: Instant,
) -> Server {
    Server {
        kind: EngineKind::Local,
        config,
        admin_db: "postgres".into(),
        version,
        description: format!(
            "local PostgreSQL {} ({})",
            bindir.major,
            bindir.path.display()
        ),
        image: None,
        startup: started.elapsed(),
        replay: None,
    }
}

/// What the background copy of the replay cache's cluster is handed ([`hand_over`], [`refill`]).
#[derive(serde::Serialize, serde::Deserialize)]
struct RefillSpec {
    /// The postmaster, the directory of its socket (the cluster's directory) and its port.
    pid: u32,
    socket: PathBuf,
    port: u16,
    /// The process that handed the cluster over: the copies wait until it has exited.
    parent: u32,
    copies: Vec<super::DatabaseCopy>,
    /// Evicted snapshots, dropped before the copies are made.
    #[serde(default)]
    drops: Vec<String>,
    /// How long the cluster keeps running once the copies are made, for the next check ([`linger`]).
    #[serde(default)]
    linger_secs: u64,
}

/// The file in the cache cluster's directory that names the cluster left running after a check
/// ([`refill`]): its postmaster and port, and the process that stops it once idle. The next check
/// that takes the cache's lock adopts the cluster instead of starting it.
pub const RUNNING_FILE: &str = "running.json";

/// A cluster left running after a check ([`RUNNING_FILE`]).
#[derive(serde::Serialize, serde::Deserialize)]
struct Running {
    pid: u32,
    port: u16,
    /// The `cache refill` process that stops it once idle.
    keeper: u32,
}

/// Default of [`linger`], in seconds.
pub const DEFAULT_LINGER_SECS: u64 = 300;

/// How long the replay cache's cluster keeps running after a check, for the next one to adopt
/// (`PGREHEARSE_CACHE_LINGER`, in seconds; 0 stops it as soon as the spare copies are made).
/// Starting it again costs a long history's check a few hundred milliseconds: PostgreSQL lists
/// every file of every cached snapshot when it starts.
pub fn linger() -> Duration {
    Duration::from_secs(
        std::env::var("PGREHEARSE_CACHE_LINGER")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_LINGER_SECS),
    )
}

/// The environment variable that hands a cluster to `pgrehearse cache refill`.
pub const REFILL_ENV: &str = "PGREHEARSE_REFILL";
/// The environment variable naming the file descriptor the cache's lock is handed over on.
const REFILL_FD_ENV: &str = "PGREHEARSE_REFILL_FD";
/// Names of spare copies of cached prefixes: the background copy drops every other one.
pub const SPARE_PREFIX: &str = "pgrehearse_spare_";
/// The file in the cache cluster's directory naming the background copy's process, so that a run
/// that finds the cache's lock held by it waits for it instead of replaying from scratch.
pub const REFILL_MARKER: &str = "refill.pid";

/// Hands the replay cache's cluster `pid` (reached with `config`) and the cache's `lock` over to a
/// detached `pgrehearse cache refill` process that drops `drops` and makes `copies` once this process
/// has exited, then releases the lock and keeps the cluster running for the next check ([`linger`];
/// stopped at once with 0). The run answers without waiting.
/// On failure the lock comes back, for the caller to stop the cluster.
pub fn hand_over(
    pid: u32,
    lock: std::fs::File,
    config: &tokio_postgres::Config,
    copies: &[super::DatabaseCopy],
    drops: &[String],
) -> Result<(), (std::fs::File, String)> {
    use std::os::unix::io::AsRawFd;
    use std::os::unix::process::CommandExt;
    let socket = config.get_hosts().iter().find_map(|h| match h {
        tokio_postgres::config::Host::Unix(p) => Some(p.clone()),
        _ => None,
    });
    let (Some(socket), Some(&port)) = (socket, config.get_ports().first()) else {
        return Err((lock, "the replay cache's cluster has no socket".into()));
    };
    let spec = RefillSpec {
        pid,
        socket: socket.clone(),
        port,
        parent: std::process::id(),
        copies: copies.to_vec(),
        drops: drops.to_vec(),
        linger_secs: linger().as_secs(),
    };
    let spec = match serde_json::to_string(&spec) {
        Ok(s) => s,
        Err(e) => return Err((lock, e.to_string())),
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return Err((lock, format!("could not find pgrehearse's binary: {e}"))),
    };
    let fd = lock.as_raw_fd();
    let mut cmd = std::process::Command::new(exe);
    // In a process group of its own, so that neither Ctrl-C nor the terminal closing reaches it.
    // Spawned without code between fork and exec (which would force a fork of this whole
    // process, tens of milliseconds of a hook's answer): the lock's descriptor is inherited by
    // clearing its close-on-exec flag, and named in the spec.
    cmd.args(["cache", "refill"])
        .env_clear()
        .env(REFILL_ENV, spec)
        .env(REFILL_FD_ENV, fd.to_string())
        .process_group(0)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: fcntl on a descriptor this process owns.
    unsafe {
        libc::fcntl(fd, libc::F_SETFD, 0);
    }
    match cmd.spawn() {
        Ok(child) => {
            let _ = std::fs::write(socket.join(REFILL_MARKER), child.id().to_string());
            // The child holds the lock now (the same open file); it is reaped by init.
            drop(lock);
            Ok(())
        }
        Err(e) => {
            // SAFETY: as above.
            unsafe {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
            Err((lock, format!("could not start the background copy: {e}")))
        }
    }
}

/// `pgrehearse cache refill` (started by [`hand_over`] only): waits for the run that handed the
/// cluster over to exit, drops the snapshots it evicted, makes the copies it asked for (dropping older
/// spare copies) and releases the cache's lock. Then it leaves the cluster running for the next check
/// to adopt ([`RUNNING_FILE`]) and stops it once idle for [`linger`]; with 0, it stops it before
/// releasing the lock.
pub async fn refill() -> Result<(), String> {
    use std::os::unix::io::FromRawFd;
    let spec: RefillSpec = std::env::var(REFILL_ENV)
        .map_err(|_| {
            format!("{REFILL_ENV} is not set: `cache refill` is started by pgrehearse itself")
        })
        .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))?;
    let fd: i32 = std::env::var(REFILL_FD_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&fd| fd > 2)
        .ok_or("no lock handed over")?;
    // SAFETY: the descriptor is the cache's lock, handed over by `hand_over` (checked with fstat),
    // owned by this process from here on.
    let lock = unsafe {
        let mut stat: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut stat) != 0 {
            return Err("no lock handed over".into());
        }
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        std::fs::File::from_raw_fd(fd)
    };
    // SAFETY: getppid has no preconditions.
    let deadline = Instant::now() + Duration::from_secs(30);
    while unsafe { libc::getppid() } as u32 == spec.parent && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut config = tokio_postgres::Config::new();
    config
        .host_path(&spec.socket)
        .port(spec.port)
        .user(super::ADMIN_ROLE)
        .dbname("postgres");
    if let Ok((client, connection)) = config.connect(tokio_postgres::NoTls).await {
        tokio::spawn(connection);
        for name in &spec.drops {
            let _ = client
                .batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    super::quote_ident(name)
                ))
                .await;
        }
        make_copies(&client, &spec.copies).await;
    }
    let running = spec.socket.join(RUNNING_FILE);
    let me = std::process::id();
    let left_running = spec.linger_secs > 0
        && process_alive(spec.pid)
        && serde_json::to_vec(&Running {
            pid: spec.pid,
            port: spec.port,
            keeper: me,
        })
        .ok()
        .is_some_and(|json| std::fs::write(&running, json).is_ok());
    if !left_running {
        stop_fast(spec.pid).await;
    }
    // The marker outlives the lock: a check that finds the lock held always finds the marker and
    // waits, rather than replaying from scratch.
    unlock(&lock);
    remove_marker(&spec.socket);
    if left_running {
        keep_until_idle(&spec, &lock, Duration::from_secs(spec.linger_secs)).await;
    }
    Ok(())
}

/// Releases the cache's lock (the open file stays, to take it again).
fn unlock(lock: &std::fs::File) {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a descriptor this process owns.
    unsafe {
        libc::flock(lock.as_raw_fd(), libc::LOCK_UN);
    }
}

/// Removes the refill marker while it still names this process (a later check may have handed the
/// cluster to a refill of its own meanwhile).
fn remove_marker(dir: &Path) {
    let marker = dir.join(REFILL_MARKER);
    if std::fs::read_to_string(&marker)
        .is_ok_and(|pid| pid.trim() == std::process::id().to_string())
    {
        let _ = std::fs::remove_file(marker);
    }
}

/// Whether the cluster left running is still this process's to stop: no check has adopted it.
fn still_kept(running: &Path, pid: u32) -> bool {
    std::fs::read(running)
        .ok()
        .and_then(|json| serde_json::from_slice::<Running>(&json).ok())
        .is_some_and(|r| r.keeper == std::process::id() && r.pid == pid)
}

/// Waits while the cluster left running is idle; stops it after `linger`, under the cache's lock,
/// unless a check adopted it meanwhile (then that check hands it on) or it is gone (`cache clear`).
async fn keep_until_idle(spec: &RefillSpec, lock: &std::fs::File, linger: Duration) {
    use std::os::unix::io::AsRawFd;
    let running = spec.socket.join(RUNNING_FILE);
    let deadline = Instant::now() + linger;
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if !still_kept(&running, spec.pid) || !process_alive(spec.pid) {
            return;
        }
        if Instant::now() < deadline {
            continue;
        }
        // SAFETY: flock on a descriptor this process owns.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            // A check holds the lock: it adopts the cluster (or stops it) and hands it on.
            return;
        }
        let _ = std::fs::write(
            spec.socket.join(REFILL_MARKER),
            std::process::id().to_string(),
        );
        if still_kept(&running, spec.pid) {
            stop_fast(spec.pid).await;
            let _ = std::fs::remove_file(&running);
        }
        unlock(lock);
        remove_marker(&spec.socket);
        return;
    }
}

/// The cluster a check left running in `dir` ([`RUNNING_FILE`]), when its postmaster is `owner`'s,
/// runs on `data` and answers: adopted (the file removed, so that its keeper leaves it alone), with
/// its connection settings and version. The caller holds the cache's lock.
async fn adopt(
    dir: &Path,
    data: &Path,
    owner: u32,
) -> Option<(u32, tokio_postgres::Config, String)> {
    let running = dir.join(RUNNING_FILE);
    let left: Running = serde_json::from_slice(&std::fs::read(&running).ok()?).ok()?;
    let _ = std::fs::remove_file(&running);
    let pm = own_postmaster(data, owner)?;
    if pm as u32 != left.pid {
        return None;
    }
    let mut config = tokio_postgres::Config::new();
    config
        .host_path(dir)
        .port(left.port)
        .user(super::ADMIN_ROLE)
        .dbname("postgres");
    let version = super::wait_ready(&config, Duration::from_secs(2), || Ok(()))
        .await
        .ok()?;
    Some((left.pid, config, version))
}

/// Stops the cluster a check left running in `dir` on `data`, if any (`cache clear`).
pub fn stop_left_running(dir: &Path, data: &Path, owner: u32) {
    let _ = std::fs::remove_file(dir.join(RUNNING_FILE));
    if let Some(pm) = own_postmaster(data, owner) {
        // SAFETY: pm is a postgres owned by `owner` running on this very data directory, and the
        // caller holds the cache's lock.
        unsafe {
            libc::kill(pm, libc::SIGINT);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while process_alive(pm as u32) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// How many spare copies are kept: those asked for, then the newest others up to this many.
const MAX_SPARES: usize = 2;

/// Makes each copy that is missing (with its template's owner) and drops the oldest spare copies not
/// asked for beyond [`MAX_SPARES`].
async fn make_copies(client: &tokio_postgres::Client, copies: &[super::DatabaseCopy]) {
    // Newest first (a database made later has a larger oid).
    let existing: Vec<String> = client
        .query(
            "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1) ORDER BY oid DESC",
            &[&SPARE_PREFIX],
        )
        .await
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .unwrap_or_default();
    let others = MAX_SPARES.saturating_sub(copies.len());
    let unasked = existing
        .iter()
        .filter(|name| !copies.iter().any(|c| &c.name == *name));
    for name in unasked.skip(others) {
        {
            let _ = client
                .batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    super::quote_ident(name)
                ))
                .await;
        }
    }
    let strategy = super::file_copy_strategy(client).await;
    for copy in copies {
        if existing.contains(&copy.name) {
            continue;
        }
        let Ok(Some(owner)) = client
            .query_opt(
                "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1",
                &[&copy.template],
            )
            .await
            .map(|row| row.map(|r| r.get::<_, String>(0)))
        else {
            continue;
        };
        let _ = client
            .batch_execute(&format!(
                "CREATE DATABASE {} TEMPLATE {} OWNER {}{strategy}",
                super::quote_ident(&copy.name),
                super::quote_ident(&copy.template),
                super::quote_ident(&owner),
            ))
            .await;
    }
}
