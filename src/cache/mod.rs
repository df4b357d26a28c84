//! The replay cache: replays start from the longest prefix of a migration set already replayed.
//!
//! After a replay that applied every migration of a set, the database it built is kept as a
//! *snapshot* with what the replay reported about those migrations (findings, statement count) and
//! what its session held that later migrations depend on (lock tracing's memory, settings and role
//! the migrations set: [`crate::replay::Checkpoint`]). A snapshot is keyed by everything that
//! determines it ([`keys`]): pgrehearse's version, the engine and server version, who the SQL runs
//! as and the `privileged:` extensions, lock tracing, the set's runner and folder, its preludes,
//! presets and created roles, and the content (text, batches, transaction mode) of migrations
//! 1..k in order. A later replay of the same set starts from the longest prefix whose key is cached:
//! a copy of that snapshot (`CREATE DATABASE … TEMPLATE … STRATEGY FILE_COPY`), with the cached
//! findings and the provenance of the prefix recorded again, so its report is the one a replay from
//! scratch gives. When every migration is cached, the snapshot is only read (drift), never copied.
//! The static checks' findings of the prefix are kept with it too, with the state they resume from
//! ([`crate::rules::static_checks_from`]), so only the new migrations are checked statically.
//!
//! The copy is what a resumed check spends most time on. After a check, once it has exited, a
//! background process it hands the cluster and the lock to makes spare copies of the prefix it
//! resumed from and of the snapshot it kept ([`spare_name`], [`crate::engine::Cleanup::copy_after`]);
//! the next check renames a spare instead of copying.
//!
//! Where a prefix may be cut is decided by what the replay observed, not guessed: a snapshot is kept
//! only when the session carries nothing a snapshot cannot (temporary objects, open cursors,
//! prepared statements, advisory locks) and, for runners that apply every pending migration in one
//! transaction (drizzle-kit), nothing that lasts only until that transaction's COMMIT: a `SET
//! LOCAL`, an enum value added in it (unusable until COMMIT), a deferrable constraint or trigger.
//! A resumed one-transaction replay that fails is replayed again from scratch, because there a
//! failure rolls every migration back, the cached ones included.
//!
//! Sets whose SQL creates or alters roles, databases or tablespaces (cluster-wide state a database
//! snapshot does not hold) are never cached. The snapshots live in one persistent local cluster
//! (on `/dev/shm` when present, see [`crate::engine::local::persistent_dir`]) indexed in the user's
//! cache directory, used by one run at a time (an exclusive `flock`): a run that
//! finds it busy replays from scratch in a temporary cluster, as without the cache. The snapshots
//! are bounded in total size (`PGREHEARSE_CACHE_MAX_MB`, default 2048), least recently used first
//! out.
//!
//! On a url engine's server the snapshots are databases there, named with a tag of this cache's
//! and owned by a role of its own that can log in only during a check ([`open_server`],
//! [`Cache::reconcile`]); the index stays on this machine. The docker engine keeps its cluster in a
//! named volume that each check's container mounts ([`open_volume`]).

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::apply::EngineContext;
use crate::engine::Server;
use crate::model::Finding;
use crate::replay::{Checkpoint, ReplayOptions};
use crate::runner::{MigrationSet, Transactions};

mod lazy;
pub use lazy::{Prefilter, Verdict};

/// Default bound of the snapshots' total size, in MiB (they may live in RAM-backed `/dev/shm`).
pub const DEFAULT_MAX_MB: u64 = 2048;

/// The name prefix of snapshot databases (never swept as scratch databases: see `engine::scratch`).
const DB_PREFIX: &str = "pgrehearse_prefix_";

/// The cache's directory: `<user cache dir>/pgrehearse/replay`.
pub fn dir() -> Option<PathBuf> {
    crate::engine::local::cache_root().map(|r| r.join("replay"))
}

/// One cached prefix in the index (`entries/<key>.json`): its database, size and last use. What
/// its replay reported is read only when it is used ([`Payload`], `entries/<key>.data.json`): a long
/// history's findings run to megabytes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    pub key: String,
    pub database: String,
    /// The set's folder and how many of its migrations the snapshot holds.
    pub set: PathBuf,
    pub migrations: usize,
    pub bytes: u64,
    pub created: u64,
    pub used: u64,
    /// The payload file this entry's payload continues (see [`PayloadBase`]): kept while it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
}

/// What the replay of a cached prefix reported and left in its session.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Payload {
    pub statements: usize,
    pub findings: Vec<Finding>,
    pub checkpoint: Checkpoint,
    /// What the static checks found in the prefix and carry past it (none for a set whose static
    /// checks cannot be cut, see [`crate::rules::static_checks_from`]).
    #[serde(default)]
    pub statics: Option<Statics>,
    /// On disk, a payload that continues another (a *delta*): its findings and static findings are
    /// those after the ones of the complete payload `base` names. A hook's check adds one migration
    /// to a long history: it writes the new migration's findings, not the history's tens of
    /// thousands again. Read back, every payload is complete, and this names the complete payload
    /// file its first findings came from (its own, when it is complete on disk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<PayloadBase>,
}

/// A complete payload file (by its entry's key) and how many findings and static findings it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadBase {
    pub key: String,
    pub findings: usize,
    pub statics: usize,
}

/// A payload file parsed ahead, while the repository is read (see [`prefetch`]), with the identity of
/// the file it was parsed from.
pub struct Prefetched {
    key: String,
    stamp: (u64, u64, i64, i64),
    file: lazy::File,
}

/// The identity of a file's contents as far as the cache needs it: payload files are written once
/// (a rename), so inode, size and modification time tell a rewritten one apart.
fn stamp(path: &Path) -> Option<(u64, u64, i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.ino(), m.size(), m.mtime(), m.mtime_nsec()))
}

/// Parses the complete payload the most recently used snapshot's findings start with: a check that
/// follows another (the next commit of a hook, or the same commit amended) resumes from that
/// snapshot or from the one it resumed from, which share it. Run while the repository is read,
/// before the cache's lock is taken: payload files are never changed in place, and what it read is
/// used only when the file is still the same ([`Cache::with_prefetched`]).
pub fn prefetch() -> Option<Prefetched> {
    let entries = dir()?.join("entries");
    let latest = entries_in(&entries).into_iter().max_by_key(|e| e.used)?;
    let key = latest.base.unwrap_or(latest.key);
    let path = entries.join(format!("{key}.data"));
    let stamp = stamp(&path)?;
    let file = lazy::parse(std::fs::read(&path).ok()?)?;
    file.base
        .is_none()
        .then_some(Prefetched { key, stamp, file })
}

/// The static checks of a cached prefix: its findings and the state they resume from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Statics {
    pub findings: Vec<Finding>,
    pub state: crate::rules::StaticState,
}

/// What a replay from the cache gives: the replay's log, the catalog it built (when asked for) and
/// the set's static findings (those of the cached prefix, and the checks of the migrations after it),
/// without the findings of the cached prefix the [`Prefilter`] held back, which are counted.
pub struct Cached {
    pub log: crate::replay::ReplayLog,
    pub built: Option<crate::catalog::Catalog>,
    pub statics: Vec<Finding>,
    pub held_back: usize,
}

/// A cached prefix's payload as read ([`Cache::loaded`]): its findings not built yet.
pub struct Loaded {
    pub statements: usize,
    pub findings: lazy::Findings,
    pub checkpoint: Checkpoint,
    pub statics: Option<(lazy::Findings, crate::rules::StaticState)>,
    /// The complete payload file its first findings came from (its own, when it is complete).
    pub base: PayloadBase,
}

/// The findings of a cached prefix that reach the report: built through the prefilter.
struct Prefix {
    findings: Vec<Finding>,
    /// None when the payload has no static findings (they are then checked whole).
    statics: Option<Vec<Finding>>,
    held_findings: usize,
    held_statics: usize,
}

impl Loaded {
    fn prefix(&self, prefilter: Option<&Prefilter<'_>>) -> Option<Prefix> {
        let keep_all = |_: &str, _: Option<&Path>| Verdict::Keep;
        let prefilter = prefilter.unwrap_or(&keep_all);
        let (findings, held_findings) = self.findings.build(prefilter)?;
        let (statics, held_statics) = match &self.statics {
            Some((statics, _)) => {
                let (statics, held) = statics.build(prefilter)?;
                (Some(statics), held)
            }
            None => (None, 0),
        };
        Some(Prefix {
            findings,
            statics,
            held_findings,
            held_statics,
        })
    }
}

/// The static checks of `set` after the cached prefix `hit` when its payload has them (only the
/// migrations after it), else of the whole set.
fn static_checks(
    set: &MigrationSet,
    hit: Option<&(usize, Entry, Loaded)>,
) -> (Vec<Finding>, Option<crate::rules::StaticState>) {
    match hit.and_then(|(k, _, p)| p.statics.as_ref().map(|(_, state)| (*k, state))) {
        Some((k, state)) => crate::rules::static_checks_from(set, k, Some(state)),
        None => crate::rules::static_checks_from(set, 0, None),
    }
}

/// Milliseconds since the epoch (`created`, `used`): checks a second apart must not tie in LRU order.
/// Unix time in milliseconds (the index's `created` and `used`).
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Why the cache could not be used or changed (`pgrehearse cache …`).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("no cache directory: set XDG_CACHE_HOME, HOME or PGREHEARSE_CACHE_DIR")]
    NoDirectory,
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error(
        "the replay cache in {0} is in use by another pgrehearse run; try again when it has finished"
    )]
    Busy(PathBuf),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> CacheError + '_ {
    move |e| CacheError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// The cache of one run: its index, under an exclusive lock held until the run's cleanup stops the
/// cluster.
pub struct Cache {
    entries: PathBuf,
    max_bytes: u64,
    /// Where the snapshots live.
    place: Place,
    /// A payload being parsed ahead ([`prefetch`]).
    prefetched: std::sync::Mutex<Option<std::thread::JoinHandle<Option<Prefetched>>>>,
}

/// Where a cache's snapshots live.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Place {
    /// The local engine's persistent cluster.
    Local,
    /// The cluster in the docker engine's volume ([`open_volume`]).
    Volume,
    /// A url engine's server, shared with others: the names of this cache's snapshots and of the
    /// role that owns them end with its `tag` ([`open_server`]).
    Server { tag: String },
}

/// Opens the cache directory `dir` and takes its lock without waiting: `Ok(None)` when another
/// run holds it. Returns the cache, the lock (handed to the engine's cleanup) and where its
/// cluster lives.
pub fn open(dir: &Path) -> Result<Option<(Cache, std::fs::File, PathBuf)>, CacheError> {
    std::fs::create_dir_all(dir.join("entries")).map_err(io(dir))?;
    let (cluster, _) = crate::engine::local::persistent_dir(dir).map_err(|e| CacheError::Io {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    // The background copy of spares a finished run left holds the lock for a second or two: wait
    // for it (another check may hold it for minutes, and is not waited for).
    let deadline = std::time::Instant::now() + REFILL_PATIENCE;
    let lock = loop {
        match lock_file(dir, false)? {
            Some(lock) => break lock,
            None if refilling(&cluster) && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            None => return Ok(None),
        }
    };
    Ok(Some((Cache::at(dir, Place::Local), lock, cluster)))
}

/// The directory of the cache of the server `target` (its address and the role connected as, as
/// [`crate::engine::describe_config`] and the user give them) used by the url engine:
/// `<user cache dir>/pgrehearse/servers/<hash>`.
pub fn server_dir(target: &str) -> Option<PathBuf> {
    crate::engine::local::cache_root()
        .map(|r| r.join("servers").join(short_hash(target.as_bytes())))
}

/// The first 16 hex digits of the SHA-256 of `bytes`: a name for what they identify.
fn short_hash(bytes: &[u8]) -> String {
    let mut hash = hex(&Sha256::digest(bytes));
    hash.truncate(16);
    hash
}

/// Opens the cache of a url engine's server in `dir` ([`server_dir`]) and takes its lock without
/// waiting: `Ok(None)` when another run on this machine holds it. The snapshots live on that
/// server, named with a tag of this cache's (random, made once, kept in `dir/tag`); the index and
/// the findings live in `dir`, as for the local engine. `target` is recorded for `cache status`.
pub fn open_server(dir: &Path, target: &str) -> Result<Option<(Cache, std::fs::File)>, CacheError> {
    std::fs::create_dir_all(dir.join("entries")).map_err(io(dir))?;
    let Some(lock) = lock_file(dir, false)? else {
        return Ok(None);
    };
    let tag_path = dir.join("tag");
    let tag = match std::fs::read_to_string(&tag_path) {
        Ok(tag) if is_tag(tag.trim()) => tag.trim().to_string(),
        _ => {
            let tag = crate::random::hex(4);
            std::fs::write(&tag_path, &tag).map_err(io(&tag_path))?;
            tag
        }
    };
    let server = dir.join("server");
    std::fs::write(&server, target).map_err(io(&server))?;
    Ok(Some((Cache::at(dir, Place::Server { tag }), lock)))
}

/// The role that owns the snapshots of the cache with tag `tag` on a url engine's server, and that
/// replayed SQL runs as there.
fn server_role(tag: &str) -> String {
    format!("pgrehearse_cache_{tag}")
}

/// The directory of the docker engine's cache for `image`: `<user cache dir>/pgrehearse/docker/<hash>`
/// (the hash of the image and of `DOCKER_HOST`: a remote daemon keeps its volumes apart).
pub fn volume_dir(image: &str) -> Option<PathBuf> {
    let daemon = std::env::var("DOCKER_HOST").unwrap_or_default();
    let hash = short_hash(format!("{image}\u{0}{daemon}").as_bytes());
    crate::engine::local::cache_root().map(|r| r.join("docker").join(hash))
}

/// The volume of the docker engine's cache in `dir` ([`volume_dir`]): named after the directory,
/// so each user's cache (and each `PGREHEARSE_CACHE_DIR`) has its own.
fn volume_name(dir: &Path) -> String {
    format!(
        "pgrehearse-cache-{}",
        short_hash(dir.as_os_str().as_encoded_bytes())
    )
}

/// Opens the docker engine's cache in `dir` ([`volume_dir`]) and takes its lock without waiting:
/// `Ok(None)` when another run holds it. The snapshots are databases of a cluster kept in a named
/// volume that each check's container mounts; its superuser's password is kept in `dir/password`
/// (readable by this user only), made with the volume. `image` is recorded for `cache status`.
pub fn open_volume(
    dir: &Path,
    image: &str,
) -> Result<Option<(Cache, std::fs::File, crate::engine::docker::CacheVolume)>, CacheError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(dir.join("entries")).map_err(io(dir))?;
    let Some(lock) = lock_file(dir, false)? else {
        return Ok(None);
    };
    let path = dir.join("password");
    let (password, reset) = match std::fs::read_to_string(&path) {
        Ok(p) if p.trim().len() == 32 => (p.trim().to_string(), false),
        _ => {
            let password = crate::random::hex(16);
            let _ = std::fs::remove_file(&path);
            let mut f = std::fs::OpenOptions::new()
                .create_new(true)
                .write(true)
                .mode(0o600)
                .open(&path)
                .map_err(io(&path))?;
            f.write_all(password.as_bytes()).map_err(io(&path))?;
            // A volume made with another password cannot be used: it is made again.
            (password, true)
        }
    };
    let target = dir.join("image");
    std::fs::write(&target, image).map_err(io(&target))?;
    Ok(Some((
        Cache::at(dir, Place::Volume),
        lock,
        crate::engine::docker::CacheVolume {
            name: volume_name(dir),
            password,
            reset,
        },
    )))
}

/// Eight lowercase hex digits.
fn is_tag(tag: &str) -> bool {
    tag.len() == 8 && tag.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Snapshots on a shared server that another cache (another machine, or a cache directory since
/// removed) kept longer ago than this are dropped by any cache that sees them.
pub const SERVER_SNAPSHOT_MAX_AGE: std::time::Duration =
    std::time::Duration::from_secs(30 * 24 * 3600);

/// Whether the cache's cluster has been made (by an earlier check): a check then starts it while it
/// reads the repository, before it knows a set needs it.
pub fn cluster_made() -> bool {
    dir()
        .and_then(|d| crate::engine::local::persistent_dir(&d).ok())
        .is_some_and(|(cluster, _)| cluster.join("data").join("PG_VERSION").is_file())
}

/// How long a run waits for the background copy of spares before replaying from scratch.
const REFILL_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether the cache's lock is held by the background copy of spares (its marker names a live
/// process), rather than by another check.
fn refilling(cluster: &Path) -> bool {
    std::fs::read_to_string(cluster.join(crate::engine::local::REFILL_MARKER))
        .ok()
        .and_then(|pid| pid.trim().parse::<i32>().ok())
        .filter(|&pid| pid > 1)
        // SAFETY: kill with signal 0 only checks for existence.
        .is_some_and(|pid| unsafe { libc::kill(pid, 0) } == 0)
}

/// Whether spare copies of the prefixes a run used are made after it (`PGREHEARSE_CACHE_SPARES=0`
/// turns it off: half the memory, and the next run copies its prefix itself).
fn spares_on() -> bool {
    std::env::var("PGREHEARSE_CACHE_SPARES").map_or(true, |v| v != "0")
}

fn max_bytes() -> u64 {
    std::env::var("PGREHEARSE_CACHE_MAX_MB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(DEFAULT_MAX_MB)
        .saturating_mul(1024 * 1024)
}

/// The cache's lock file, locked exclusively (`wait`: until it is free; else `None` when busy).
fn lock_file(dir: &Path, wait: bool) -> Result<Option<std::fs::File>, CacheError> {
    let path = dir.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(&path))?;
    let flags = if wait {
        libc::LOCK_EX
    } else {
        libc::LOCK_EX | libc::LOCK_NB
    };
    // SAFETY: flock on a file descriptor we own; the lock lives as long as the file.
    if unsafe { libc::flock(file.as_raw_fd(), flags) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Ok(None);
        }
        return Err(io(&path)(e));
    }
    Ok(Some(file))
}

impl Cache {
    /// The cache whose index is in `dir`, its snapshots in `place`.
    fn at(dir: &Path, place: Place) -> Cache {
        Cache {
            entries: dir.join("entries"),
            max_bytes: max_bytes(),
            place,
            prefetched: std::sync::Mutex::new(None),
        }
    }

    /// The role replayed SQL runs as on a url engine's server (it owns the snapshots there).
    pub fn replay_role(&self) -> Option<String> {
        match &self.place {
            Place::Server { tag } => Some(server_role(tag)),
            _ => None,
        }
    }

    /// The database name of the snapshot with key `key`: `pgrehearse_prefix_<key>` on the local
    /// engine's cluster; on a url engine's server `pgrehearse_prefix_<key>_<tag>_<unix seconds>`,
    /// shorter in key, so that each machine's are its own and any can tell how old they are.
    pub fn database_name(&self, key: &str) -> String {
        match &self.place {
            Place::Local | Place::Volume => format!("{DB_PREFIX}{}", &key[..key.len().min(40)]),
            Place::Server { tag } => format!(
                "{DB_PREFIX}{}_{tag}_{}",
                &key[..key.len().min(24)],
                now() / 1000
            ),
        }
    }

    /// Whether spare copies are made after a run: only on the local engine's cluster (the
    /// background process that makes them runs it after the check; nothing of a check runs after it
    /// on a docker volume's or a url engine's).
    fn spares(&self) -> bool {
        self.place == Place::Local && spares_on()
    }

    fn entry_path(&self, key: &str) -> PathBuf {
        self.entries.join(format!("{key}.json"))
    }

    fn payload_path(&self, key: &str) -> PathBuf {
        self.entries.join(format!("{key}.data"))
    }

    fn read(&self, key: &str) -> Option<Entry> {
        let text = std::fs::read_to_string(self.entry_path(key)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Uses the payload being parsed by `prefetch` (a [`prefetch`] thread) where it is the file
    /// asked for.
    pub fn with_prefetched(&self, prefetch: std::thread::JoinHandle<Option<Prefetched>>) {
        if let Ok(mut slot) = self.prefetched.lock() {
            *slot = Some(prefetch);
        }
    }

    /// The payload file of `key` as it is on disk: complete, or a delta.
    fn payload_file(&self, key: &str) -> Option<lazy::File> {
        let path = self.payload_path(key);
        let prefetched = self
            .prefetched
            .lock()
            .ok()
            .and_then(|mut slot| slot.take())
            .and_then(|thread| thread.join().ok().flatten());
        if let Some(p) = prefetched
            && p.key == key
            && stamp(&path) == Some(p.stamp)
        {
            return Some(p.file);
        }
        lazy::parse(std::fs::read(path).ok()?)
    }

    /// What the replay of the prefix `entry` reported, complete, its findings not built yet.
    pub fn loaded(&self, entry: &Entry) -> Option<Loaded> {
        let file = self.payload_file(&entry.key)?;
        let statics_len = |s: &Option<(lazy::Findings, _)>| s.as_ref().map_or(0, |(f, _)| f.len());
        let Some(base) = file.base else {
            let base = PayloadBase {
                key: entry.key.clone(),
                findings: file.findings.len(),
                statics: statics_len(&file.statics),
            };
            return Some(Loaded {
                statements: file.statements,
                findings: file.findings,
                checkpoint: file.checkpoint,
                statics: file.statics,
                base,
            });
        };
        let full = self.payload_file(&base.key)?;
        if full.base.is_some()
            || full.findings.len() != base.findings
            || statics_len(&full.statics) != base.statics
        {
            return None;
        }
        let mut findings = full.findings;
        findings.append(file.findings);
        let statics = match (file.statics, full.statics) {
            (Some((more, state)), Some((mut all, _))) => {
                all.append(more);
                Some((all, state))
            }
            (statics, _) => statics,
        };
        Some(Loaded {
            statements: file.statements,
            findings,
            checkpoint: file.checkpoint,
            statics,
            base,
        })
    }

    /// What the replay of the prefix `entry` reported, every finding built, its `base` naming the
    /// complete payload file its first findings came from (the tests' view of [`Cache::loaded`]).
    #[cfg(test)]
    fn payload(&self, entry: &Entry) -> Option<Payload> {
        let loaded = self.loaded(entry)?;
        let statics = match &loaded.statics {
            Some((findings, state)) => Some(Statics {
                findings: findings.build_all()?,
                state: state.clone(),
            }),
            None => None,
        };
        Some(Payload {
            statements: loaded.statements,
            findings: loaded.findings.build_all()?,
            checkpoint: loaded.checkpoint,
            statics,
            base: Some(loaded.base),
        })
    }

    fn write(&self, entry: &Entry) -> Result<(), CacheError> {
        self.write_file(&self.entry_path(&entry.key), entry)
    }

    /// Writes `value` as JSON to `path` atomically (a rename).
    fn write_file(&self, path: &Path, value: &impl Serialize) -> Result<(), CacheError> {
        let tmp = self.entries.join(format!(
            ".{}.tmp",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("entry")
        ));
        let text = serde_json::to_vec(value).map_err(|e| CacheError::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&text).map_err(io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io(path))
    }

    /// Removes `key` from the index, and every payload file no entry needs any more.
    fn forget(&self, key: &str) {
        let _ = std::fs::remove_file(self.entry_path(key));
        self.sweep_payloads();
    }

    /// Removes the payload files that no entry is, or continues (an entry's `base`).
    fn sweep_payloads(&self) {
        let entries = self.all();
        let needed = |key: &str| {
            entries
                .iter()
                .any(|e| e.key == key || e.base.as_deref() == Some(key))
        };
        for file in std::fs::read_dir(&self.entries)
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = file.path();
            if path.extension().is_some_and(|x| x == "data")
                && let Some(key) = path.file_stem().and_then(|k| k.to_str())
                && !needed(key)
            {
                let _ = std::fs::remove_file(&path);
            }
        }
    }

    fn all(&self) -> Vec<Entry> {
        entries_in(&self.entries)
    }

    /// Makes the index and the cluster agree: entries whose database is gone are forgotten and
    /// snapshot databases no entry lists are dropped (a run killed between the two steps). With a
    /// cluster made anew, every entry is forgotten. Returns how many snapshots were dropped.
    pub async fn reconcile(&self, server: &Server, fresh: bool) -> usize {
        let Ok(admin) = server.connect(&server.admin_db).await else {
            return 0;
        };
        if let Place::Server { tag } = &self.place {
            return self.reconcile_server(&admin, tag).await;
        }
        let databases = snapshot_databases(&admin).await.unwrap_or_default();
        let entries = self.forget_missing(&databases, fresh);
        let mut dropped = 0;
        for db in &databases {
            if fresh || !entries.iter().any(|e| &e.database == db) {
                let _ = admin
                    .batch_execute(&format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        crate::engine::quote_ident(db)
                    ))
                    .await;
                dropped += 1;
            }
        }
        dropped
    }

    /// Forgets the entries whose database is not among `databases` (every entry, when `all`); returns
    /// the entries as they were.
    fn forget_missing(&self, databases: &[String], all: bool) -> Vec<Entry> {
        let entries = self.all();
        for e in &entries {
            if all || !databases.contains(&e.database) {
                self.forget(&e.key);
            }
        }
        entries
    }

    /// [`Cache::reconcile`] on a url engine's server, where other machines keep snapshots too: of
    /// the snapshots there, this cache drops those with its tag that its index does not list, and
    /// those of any other tag kept more than [`SERVER_SNAPSHOT_MAX_AGE`] ago (a cache directory
    /// gone with the machine or runner that had it), and then that cache's role when none of its
    /// snapshots is left. Any other database or role is never touched.
    async fn reconcile_server(&self, admin: &tokio_postgres::Client, tag: &str) -> usize {
        let databases = snapshot_databases(admin).await.unwrap_or_default();
        let entries = self.forget_missing(&databases, false);
        let mut dropped = 0;
        // Other caches' tags: whether all of their snapshots are gone.
        let mut others: BTreeMap<&str, bool> = BTreeMap::new();
        for db in &databases {
            let Some((owner, kept)) = server_snapshot(db) else {
                continue;
            };
            let stale = if owner == tag {
                !entries.iter().any(|e| &e.database == db)
            } else {
                (now() / 1000).saturating_sub(kept) > SERVER_SNAPSHOT_MAX_AGE.as_secs()
            };
            let gone = stale
                && admin
                    .batch_execute(&format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        crate::engine::quote_ident(db)
                    ))
                    .await
                    .is_ok();
            dropped += usize::from(gone);
            if owner != tag {
                *others.entry(owner).or_insert(true) &= gone;
            }
        }
        // The role of a cache whose every snapshot was too old goes with them, unless a check of
        // that cache is running (its role can log in only then) or it still owns anything (then
        // the server refuses).
        for (other, all_gone) in others {
            if all_gone {
                let role = server_role(other);
                let _ = admin
                    .batch_execute(&format!(
                        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}' \
                         AND NOT rolcanlogin) THEN DROP ROLE {}; END IF; END $$",
                        crate::engine::quote_ident(&role)
                    ))
                    .await;
            }
        }
        dropped
    }

    /// The longest cached prefix among `keys` (key of prefix i+1 at i): its length and entry.
    pub fn longest(&self, keys: &[String]) -> Option<(usize, Entry)> {
        keys.iter()
            .enumerate()
            .rev()
            .find_map(|(i, k)| self.read(k).map(|e| (i + 1, e)))
    }

    /// Marks `entry` as just used (LRU).
    pub fn touch(&self, entry: &Entry) {
        let mut e = entry.clone();
        e.used = now();
        let _ = self.write(&e);
    }

    /// Records the snapshot kept as `database` (of `bytes`, else measured) and evicts the least
    /// recently used ones beyond the size bound.
    pub async fn insert(
        &self,
        server: &Server,
        cleanup: &crate::engine::Cleanup,
        mut entry: Entry,
        payload: &Payload,
        bytes: Option<u64>,
    ) -> Result<(), CacheError> {
        if let Some(bytes) = bytes {
            entry.bytes = bytes;
        } else if let Ok(admin) = server.connect(&server.admin_db).await {
            entry.bytes = admin
                .query_one("SELECT pg_database_size($1)::int8", &[&entry.database])
                .await
                .map(|r| r.get::<_, i64>(0).max(0) as u64)
                .unwrap_or(0);
        }
        // The payload first: an index entry is never without it.
        self.write_file(&self.payload_path(&entry.key), payload)?;
        entry.base = payload.base.as_ref().map(|b| b.key.clone());
        self.write(&entry)?;
        let mut all = self.all();
        // Most recently used first; on a tie, the longer prefix.
        all.sort_by_key(|e| std::cmp::Reverse((e.used, e.migrations)));
        let mut total = 0u64;
        let mut evict = Vec::new();
        for e in all {
            total = total.saturating_add(e.bytes);
            // The entry just written is kept even when it alone exceeds the bound.
            if total > self.max_bytes && e.key != entry.key {
                evict.push(e);
            }
        }
        if evict.is_empty() {
            return Ok(());
        }
        for e in &evict {
            let _ = std::fs::remove_file(self.entry_path(&e.key));
        }
        self.sweep_payloads();
        self.drop_snapshots(server, cleanup, &evict).await
    }

    /// Drops the databases of entries the index no longer lists (a snapshot and its spare copy):
    /// after the run, with the spare copies (a snapshot the index does not list is never used);
    /// without spare copies, now.
    async fn drop_snapshots(
        &self,
        server: &Server,
        cleanup: &crate::engine::Cleanup,
        gone: &[Entry],
    ) -> Result<(), CacheError> {
        let names = gone
            .iter()
            .flat_map(|e| [e.database.clone(), spare_name(&e.key)]);
        if self.spares() {
            names.for_each(|name| cleanup.drop_after(name));
            return Ok(());
        }
        let admin = server
            .connect(&server.admin_db)
            .await
            .map_err(|e| CacheError::Io {
                path: self.entries.clone(),
                reason: e.to_string(),
            })?;
        for name in names {
            // One statement each: DROP DATABASE cannot run in the transaction of a multi-statement
            // query.
            let _ = admin
                .batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    crate::engine::quote_ident(&name)
                ))
                .await;
        }
        Ok(())
    }
}

fn entries_in(dir: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = e.path();
        if path.extension().is_some_and(|x| x == "json")
            && let Ok(text) = std::fs::read_to_string(&path)
            && let Ok(entry) = serde_json::from_str::<Entry>(&text)
        {
            out.push(entry);
        }
    }
    out.sort_by(|a, b| a.set.cmp(&b.set).then(a.migrations.cmp(&b.migrations)));
    out
}

/// The name of the spare copy of the snapshot with key `key`: made in the background after a run
/// ([`crate::engine::Cleanup::copy_after`]) and renamed, not copied, by the next run that resumes
/// from that snapshot.
pub fn spare_name(key: &str) -> String {
    format!(
        "{}{}",
        crate::engine::local::SPARE_PREFIX,
        &key[..key.len().min(40)]
    )
}

/// The databases on a server named as snapshots (`pgrehearse_prefix_…`).
async fn snapshot_databases(
    admin: &tokio_postgres::Client,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = admin
        .query(
            "SELECT datname::text FROM pg_database WHERE datname LIKE 'pgrehearse\\_prefix\\_%'",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// What the name of a snapshot on a url engine's server says ([`Cache::database_name`]): the tag
/// of the cache that kept it and when.
fn server_snapshot(name: &str) -> Option<(&str, u64)> {
    let rest = name.strip_prefix(DB_PREFIX)?;
    let mut parts = rest.split('_');
    let (key, tag, secs) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none()
        && key.len() == 24
        && key.bytes().all(|b| b.is_ascii_hexdigit())
        && is_tag(tag))
    .then_some(())?;
    Some((tag, secs.parse().ok()?))
}

/// What besides the set determines a replay (see the module documentation).
#[derive(Clone, Debug)]
pub struct KeyContext {
    /// pgrehearse's version.
    pub version: String,
    /// The engine, its server (`local PostgreSQL 15 (/usr/lib/postgresql/15/bin)`), the server's
    /// version and image.
    pub engine: String,
    pub server: String,
    pub server_version: String,
    pub image: Option<String>,
    /// Who the SQL runs as.
    pub replay_user: String,
    pub isolated: bool,
    pub lock_trace: bool,
    pub privileged_extensions: Vec<String>,
}

impl KeyContext {
    pub fn new(server: &Server, engine: &EngineContext, options: &ReplayOptions) -> KeyContext {
        KeyContext {
            version: env!("CARGO_PKG_VERSION").to_string(),
            engine: server.kind.as_str().to_string(),
            server: engine.description.clone(),
            server_version: engine.version.clone(),
            image: server.image.clone(),
            replay_user: server.replay_user().to_string(),
            isolated: engine.isolated,
            lock_trace: options.lock_trace,
            privileged_extensions: options.privileged_extensions.clone(),
        }
    }
}

/// The key of every prefix of `set`: `keys[i]` is the key of migrations 1..=i+1, a hash chained
/// over the context, the set's runner, folder and preludes, then each migration in order.
pub fn keys(set: &MigrationSet, ctx: &KeyContext) -> Vec<String> {
    let mut base = Sha256::new();
    let preludes: Vec<String> = set
        .preludes
        .iter()
        .map(|p| format!("{:?}\u{0}{}\u{0}{}", p.kind, p.file.display(), p.text))
        .collect();
    base.update(
        format!(
            "{ctx:?}\u{0}{:?}\u{0}{:?}\u{0}{:?}",
            set.dir,
            set.runner,
            (preludes, &set.generated_for),
        )
        .as_bytes(),
    );
    let mut chain: [u8; 32] = base.finalize().into();
    set.migrations
        .iter()
        .map(|m| {
            let mut h = Sha256::new();
            h.update(chain);
            h.update(
                format!(
                    "{}\u{0}{}\u{0}{:?}\u{0}{:?}\u{0}{:?}\u{0}",
                    m.id,
                    m.file.display(),
                    m.transactions,
                    m.blocked,
                    set.journal_when.get(&m.id),
                )
                .as_bytes(),
            );
            // The batches as numbers (formatting them took longer than hashing the text).
            h.update((m.batches.len() as u64).to_le_bytes());
            for b in &m.batches {
                let copy = b
                    .copy
                    .map_or([u64::MAX; 2], |c| [c.start as u64, c.end as u64]);
                for n in [b.span.start as u64, b.span.end as u64, copy[0], copy[1]] {
                    h.update(n.to_le_bytes());
                }
            }
            h.update(m.text.as_bytes());
            chain = h.finalize().into();
            hex(&chain)
        })
        .collect()
}

/// A set's folder for messages (`.` for the repository's root).
fn shown(dir: &Path) -> String {
    if dir.as_os_str().is_empty() {
        ".".into()
    } else {
        dir.display().to_string()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why `set` is never cached, when it is not: its SQL changes what a database snapshot does not
/// hold (roles, databases, tablespaces, server settings).
pub fn uncacheable(set: &MigrationSet) -> Option<String> {
    uncacheable_after(set, 0)
}

/// [`uncacheable`], knowing that the set's preludes and first `cached` migrations are not the
/// reason: they are a cached prefix, whose key covers them, and a prefix is kept only of a set
/// that may be cached.
fn uncacheable_after(set: &MigrationSet, cached: usize) -> Option<String> {
    let creates_roles = if cached == 0 {
        !crate::environment::roles::created_by_migrations(set).is_empty()
    } else {
        set.migrations.iter().skip(cached).any(|m| {
            let all = pgrehearse_sql::Span::new(0, m.text.len());
            !crate::environment::roles::created(&m.text, all).is_empty()
        })
    };
    if creates_roles {
        return Some("its SQL creates roles, which live outside the database".into());
    }
    let preludes = set
        .preludes
        .iter()
        .filter(|_| cached == 0)
        .map(|p| &*p.text);
    let texts = preludes.chain(set.migrations.iter().skip(cached).map(|m| &*m.text));
    for text in texts {
        if let Some(what) = cluster_wide(text) {
            return Some(format!(
                "its SQL changes {what}, which lives outside the database"
            ));
        }
    }
    None
}

/// What cluster-wide (or database-level) state `text` changes, if any.
fn cluster_wide(text: &str) -> Option<&'static str> {
    use pgrehearse_sql as sql;
    // Most files change nothing of the kind: not tokenized.
    let reassign = text
        .as_bytes()
        .windows(8)
        .any(|w| w.eq_ignore_ascii_case(b"reassign"));
    if !reassign
        && !sql::may_hold_word_pair(
            text,
            &["alter", "create", "drop", "on", "rename"],
            &[
                "role",
                "user",
                "group",
                "database",
                "tablespace",
                "system",
                "subscription",
            ],
        )
    {
        return None;
    }
    let tokens = sql::significant_tokens(text, sql::Span::new(0, text.len()));
    for w in tokens.windows(2) {
        let verb = ["ALTER", "CREATE", "DROP", "ON", "RENAME", "REASSIGN"]
            .iter()
            .any(|v| w[0].is_word(text, v));
        if !verb {
            continue;
        }
        for (word, what) in [
            ("ROLE", "roles"),
            ("USER", "roles"),
            ("GROUP", "roles"),
            ("DATABASE", "a database's settings"),
            ("TABLESPACE", "tablespaces"),
            ("SYSTEM", "server settings"),
            ("SUBSCRIPTION", "subscriptions"),
        ] {
            if w[1].is_word(text, word) {
                return Some(what);
            }
        }
        if w[0].is_word(text, "REASSIGN") {
            return Some("roles");
        }
    }
    None
}

/// Whether a failed or stopped resumed replay of `set` must be replayed again from scratch: its
/// runner applies every pending migration in one transaction, which a failure rolls back whole.
pub fn cold_on_failure(set: &MigrationSet) -> bool {
    set.runner.default_transactions() == Transactions::AllPendingInOne
}

/// An entry for the prefix of `set` that a replay which applied every migration produced, kept as
/// `database`.
pub fn entry(set: &MigrationSet, key: &str, database: String) -> Entry {
    Entry {
        key: key.to_string(),
        database,
        set: set.dir.clone(),
        migrations: set.migrations.len(),
        bytes: 0,
        created: now(),
        used: now(),
        base: None,
    }
}

/// Why a cached replay could not be done (exit code 2, as without the cache).
#[derive(Debug, thiserror::Error)]
pub enum ReplayFailure {
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    #[error(transparent)]
    Replay(#[from] crate::apply::ReplayError),
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
}

/// What [`replay_set`] needs besides the set.
pub struct Replay<'a> {
    pub cleanup: &'a crate::engine::Cleanup,
    pub server: &'a Server,
    pub engine: &'a EngineContext,
    pub options: &'a ReplayOptions,
    pub snapshot: &'a crate::catalog::SnapshotOptions,
    /// Whether drift needs the catalog the migrations built.
    pub catalog: bool,
    pub verbose: bool,
    /// What the report will do with each finding of a cached prefix: only those it keeps are
    /// built (none: every one is).
    pub prefilter: Option<&'a Prefilter<'a>>,
}

/// Replays `set` from its longest cached prefix and keeps a snapshot when every migration applied;
/// `None` when the set is never cached (the caller replays it as usual).
pub async fn replay_set(
    cache: &Cache,
    set: &MigrationSet,
    r: &Replay<'_>,
) -> Result<Option<Cached>, ReplayFailure> {
    let say = |what: String| {
        if r.verbose {
            eprintln!("pgrehearse: cache: {}: {what}", shown(&set.dir));
        }
    };
    if set.migrations.is_empty() {
        return Ok(None);
    }
    let keys = keys(set, &KeyContext::new(r.server, r.engine, r.options));
    let n = set.migrations.len();
    let longest = cache.longest(&keys);
    if let Some(reason) = uncacheable_after(set, longest.as_ref().map_or(0, |(k, _)| *k)) {
        say(format!("not cached: {reason}"));
        return Ok(None);
    }
    // The prefix's findings that reach the report are built now (a payload that does not read
    // back is forgotten with its snapshot, and the set replayed from scratch).
    let mut loaded = None;
    if let Some((k, entry)) = longest {
        let read = cache.loaded(&entry);
        match read.and_then(|p| p.prefix(r.prefilter).map(|prefix| (p, prefix))) {
            Some((payload, prefix)) => loaded = Some(((k, entry, payload), prefix)),
            None => {
                say(format!(
                    "the findings kept with the prefix of {k} do not read back: it is dropped"
                ));
                cache.forget(&entry.key);
                if let Err(err) = cache.drop_snapshots(r.server, r.cleanup, &[entry]).await {
                    say(format!("could not drop it: {err}"));
                }
            }
        }
    }
    let (mut hit, prefix) = match loaded {
        Some((hit, prefix)) => (Some(hit), Some(prefix)),
        None => (None, None),
    };
    // The static findings of the migrations after the prefix (of every migration, when the prefix
    // has none).
    let (more_statics, static_state) = static_checks(set, hit.as_ref());
    match &hit {
        Some((k, entry, payload)) => {
            cache.touch(entry);
            say(format!("{k} of {n} migrations cached"));
            if *k == n {
                // The next run most likely adds a migration to these.
                want_spare(cache, r, entry);
                // Nothing to replay: the snapshot is only read.
                let log = crate::replay::prefix_log(set, n, Vec::new(), payload.statements);
                let built = if r.catalog {
                    let client = r.server.connect(&entry.database).await?;
                    Some(crate::catalog::snapshot(&client, r.snapshot).await?)
                } else {
                    None
                };
                let cached = Cached {
                    log,
                    built,
                    statics: more_statics,
                    held_back: 0,
                };
                return Ok(Some(cached.after(prefix, true)));
            }
        }
        None => say(format!("no cached prefix of its {n} migrations")),
    }
    let after = After {
        keys: &keys,
        statics: more_statics,
        static_state,
    };
    let (cached, resumed) = replay_after(cache, set, r, hit.as_mut(), after).await?;
    Ok(Some(cached.after(prefix, resumed)))
}

impl Cached {
    /// The findings of the cached prefix first: its static findings, and its replay's when the
    /// replay went on from it (`resumed`).
    fn after(mut self, prefix: Option<Prefix>, resumed: bool) -> Cached {
        let Some(prefix) = prefix else {
            return self;
        };
        if let Some(mut statics) = prefix.statics {
            statics.append(&mut self.statics);
            self.statics = statics;
            self.held_back += prefix.held_statics;
        }
        if resumed {
            let mut findings = prefix.findings;
            findings.append(&mut self.log.findings);
            self.log.findings = findings;
            self.held_back += prefix.held_findings;
        }
        self
    }
}

/// What [`replay_after`] needs besides the set: the prefixes' keys and the static checks of the
/// migrations after the cached prefix (of all of them, when the prefix has none).
struct After<'a> {
    keys: &'a [String],
    statics: Vec<Finding>,
    static_state: Option<crate::rules::StaticState>,
}

/// Replays the migrations of `set` after the cached prefix `hit` (all of them without one) and
/// keeps a snapshot when every migration applied. The log and static findings returned are those
/// after the prefix, and whether the replay went on from it (a replay from scratch instead has
/// every finding of its replay).
async fn replay_after(
    cache: &Cache,
    set: &MigrationSet,
    r: &Replay<'_>,
    mut hit: Option<&mut (usize, Entry, Loaded)>,
    after: After<'_>,
) -> Result<(Cached, bool), ReplayFailure> {
    let say = |what: String| {
        if r.verbose {
            eprintln!("pgrehearse: cache: {}: {what}", shown(&set.dir));
        }
    };
    let n = set.migrations.len();
    let After {
        keys,
        statics: mut more_statics,
        static_state,
    } = after;
    let mut resumed = hit.is_some();
    let first = match replay_from(cache, set, r, hit.as_deref_mut()).await {
        // The prefix's session could not be restored (a lock its transaction held): from scratch.
        Err(ReplayFailure::Replay(e))
            if hit.is_some() && e.reason.starts_with(crate::replay::RESUME_FAILED) =>
        {
            say(format!("{}; replayed from scratch", e.reason));
            resumed = false;
            replay_from(cache, set, r, None).await?
        }
        other => other?,
    };
    let (mut log, built, db, kept) = match first {
        // One transaction around every migration: a failure rolls back the cached ones too.
        (log, _, db, _) if hit.is_some() && (log.failed || log.partial) && cold_on_failure(set) => {
            r.server.drop_scratch(r.cleanup, db).await;
            say("the one transaction failed: replayed again from scratch".into());
            resumed = false;
            replay_from(cache, set, r, None).await?
        }
        other => other,
    };
    let prefix = hit.as_deref();
    // The complete payload the new one may continue: the findings of the prefix it resumed from
    // come first, unchanged (replay and static checks only append), as long as the part after
    // it stays small next to it.
    let delta = prefix.filter(|_| resumed).and_then(|(_, _, p)| {
        let base = p.base.clone();
        let statics_resumed = base.statics == 0 || p.statics.is_some();
        let after = log.findings.len() + more_statics.len();
        (statics_resumed && after * 2 <= base.findings + base.statics).then_some(base)
    });
    match kept {
        Ok(checkpoint) if !log.failed && !log.partial && log.applied == n => {
            let key = &keys[n - 1];
            // Moved into the payload and back: a long history's findings are not copied. As a
            // delta, only what comes after its base is written; otherwise every finding, the
            // prefix's built whole (rarely: a long history is continued as a delta).
            let whole = |findings: Option<&lazy::Findings>| match (&delta, findings) {
                (None, Some(findings)) => findings.build_all(),
                _ => Some(Vec::new()),
            };
            let front = (
                whole(prefix.filter(|_| resumed).map(|(_, _, p)| &p.findings)),
                whole(prefix.and_then(|(_, _, p)| p.statics.as_ref().map(|(s, _)| s))),
            );
            let database = cache.database_name(key);
            let kept = match front {
                (Some(findings), Some(statics)) => r
                    .server
                    .keep_scratch(r.cleanup, db, &database)
                    .await
                    .map(|()| (findings, statics))
                    .map_err(|e| e.to_string()),
                _ => {
                    r.server.drop_scratch(r.cleanup, db).await;
                    Err("the cached prefix's findings do not read back".to_string())
                }
            };
            // Not keeping it is no reason to fail the check (the database is then dropped at
            // cleanup).
            match kept {
                Ok((mut findings, mut statics)) => {
                    let (front, static_front) = (findings.len(), statics.len());
                    findings.append(&mut log.findings);
                    statics.append(&mut more_statics);
                    // Without a state to resume from, static findings are not kept (checked whole).
                    let (statics, mut unkept) = match static_state {
                        Some(state) => (
                            Some(Statics {
                                findings: statics,
                                state,
                            }),
                            Vec::new(),
                        ),
                        None => (None, statics),
                    };
                    let mut payload = Payload {
                        statements: log.statements,
                        findings,
                        checkpoint,
                        statics,
                        base: delta,
                    };
                    let kept = entry(set, key, database);
                    // A snapshot resumed from another has about its size (the migrations after a
                    // prefix add little): not measured again, which would read every file of it.
                    let bytes = prefix.map(|(_, base, _)| base.bytes);
                    let inserted = cache
                        .insert(r.server, r.cleanup, kept.clone(), &payload, bytes)
                        .await;
                    log.findings = payload.findings.split_off(front);
                    more_statics = match &mut payload.statics {
                        Some(statics) => statics.findings.split_off(static_front),
                        None => unkept.split_off(static_front),
                    };
                    match inserted {
                        Ok(()) => {
                            // The next run either adds a migration to these, or changes the new
                            // ones (amending the commit the hook refused) and resumes where this
                            // run did.
                            want_spare(cache, r, &kept);
                            if let Some((_, base, _)) = prefix {
                                want_spare(cache, r, base);
                            }
                        }
                        Err(err) => say(format!("could not record the snapshot: {err}")),
                    }
                }
                Err(err) => say(format!("could not keep the snapshot: {err}")),
            }
        }
        kept => {
            if let Err(reason) = kept {
                say(format!("no snapshot kept: {reason}"));
            }
            r.server.drop_scratch(r.cleanup, db).await;
        }
    }
    let cached = Cached {
        log,
        built,
        statics: more_statics,
        held_back: 0,
    };
    Ok((cached, resumed))
}

/// Asks for a spare copy of the snapshot `entry`, made after the run (see [`spare_name`]).
fn want_spare(cache: &Cache, r: &Replay<'_>, entry: &Entry) {
    if cache.spares() {
        r.cleanup.copy_after(crate::engine::DatabaseCopy {
            template: entry.database.clone(),
            name: spare_name(&entry.key),
        });
    }
}

type Replayed = (
    crate::replay::ReplayLog,
    Option<crate::catalog::Catalog>,
    crate::engine::ScratchDb,
    Result<Checkpoint, String>,
);

/// Replays `set` into a scratch database: a copy of the cached prefix `from`, or empty.
async fn replay_from(
    cache: &Cache,
    set: &MigrationSet,
    r: &Replay<'_>,
    from: Option<&mut (usize, Entry, Loaded)>,
) -> Result<Replayed, ReplayFailure> {
    let db = match from.as_deref() {
        Some((k, entry, _)) => match match cache.spares() {
            true => {
                r.server
                    .take_spare(r.cleanup, &spare_name(&entry.key))
                    .await?
            }
            false => None,
        } {
            Some(db) => {
                if r.verbose {
                    eprintln!(
                        "pgrehearse: cache: {}: the prefix of {k} taken from its spare copy",
                        shown(&set.dir)
                    );
                }
                db
            }
            None => r.server.copy_snapshot(r.cleanup, &entry.database).await?,
        },
        None => r.server.create_scratch(r.cleanup, "replay").await?,
    };
    // The replay's log holds the findings after the prefix: the prefix's are added by the caller.
    let resume = from.map(|(k, _, payload)| crate::replay::Resume {
        start: *k,
        findings: Vec::new(),
        statements: payload.statements,
        checkpoint: std::mem::take(&mut payload.checkpoint),
    });
    let result = async {
        let client = r.server.connect(&db.name).await?;
        let (log, kept) = crate::replay::run_resumable(
            crate::replay::Sessions::on(r.server, &db.name, &client),
            set,
            r.engine,
            r.options,
            resume,
        )
        .await?;
        let built = if r.catalog {
            Some(crate::catalog::snapshot(&client, r.snapshot).await?)
        } else {
            None
        };
        Ok::<_, ReplayFailure>((log, built, kept))
    }
    .await;
    match result {
        Ok((log, built, kept)) => Ok((log, built, db, kept)),
        Err(e) => {
            r.server.drop_scratch(r.cleanup, db).await;
            Err(e)
        }
    }
}

/// `pgrehearse cache status`: where the cache is and what it holds.
pub fn status(out: &mut impl Write) -> Result<(), CacheError> {
    let dir = dir().ok_or(CacheError::NoDirectory)?;
    let entries = entries_in(&dir.join("entries"));
    let total: u64 = entries.iter().map(|e| e.bytes).sum();
    let w = |e: std::io::Error| CacheError::Io {
        path: PathBuf::from("<stdout>"),
        reason: e.to_string(),
    };
    writeln!(out, "replay cache: {}", dir.display()).map_err(w)?;
    let (cluster, _) = crate::engine::local::persistent_dir(&dir).map_err(|e| CacheError::Io {
        path: dir.clone(),
        reason: e.to_string(),
    })?;
    writeln!(out, "cluster: {}", cluster.display()).map_err(w)?;
    writeln!(
        out,
        "{} snapshot(s), {} MiB of {} MiB",
        entries.len(),
        total.div_ceil(1024 * 1024),
        max_bytes() / (1024 * 1024)
    )
    .map_err(w)?;
    write_sets(out, &entries).map_err(w)?;
    for (dir, entries) in volumes() {
        let image = std::fs::read_to_string(dir.join("image")).unwrap_or_default();
        let total: u64 = entries.iter().map(|e| e.bytes).sum();
        writeln!(
            out,
            "docker image {image} (volume {}; index in {}): {} snapshot(s), {} MiB",
            volume_name(&dir),
            dir.display(),
            entries.len(),
            total.div_ceil(1024 * 1024)
        )
        .map_err(w)?;
        write_sets(out, &entries).map_err(w)?;
    }
    for (server, entries) in servers() {
        let target = std::fs::read_to_string(server.join("server")).unwrap_or_default();
        let total: u64 = entries.iter().map(|e| e.bytes).sum();
        writeln!(
            out,
            "server {target} (url engine; index in {}): {} snapshot(s), {} MiB",
            server.display(),
            entries.len(),
            total.div_ceil(1024 * 1024)
        )
        .map_err(w)?;
        write_sets(out, &entries).map_err(w)?;
    }
    Ok(())
}

/// The prefixes `entries` hold, by set.
fn write_sets(out: &mut impl Write, entries: &[Entry]) -> std::io::Result<()> {
    let mut by_set: BTreeMap<&Path, Vec<&Entry>> = BTreeMap::new();
    for e in entries {
        by_set.entry(&e.set).or_default().push(e);
    }
    for (set, list) in by_set {
        let prefixes: Vec<String> = list.iter().map(|e| e.migrations.to_string()).collect();
        writeln!(
            out,
            "  {}: prefixes of {} migration(s)",
            shown(set),
            prefixes.join(", ")
        )?;
    }
    Ok(())
}

/// The caches of url engines' servers ([`server_dir`]) and their entries.
fn servers() -> Vec<(PathBuf, Vec<Entry>)> {
    caches_in("servers", "tag")
}

/// The docker engine's caches ([`volume_dir`]) and their entries.
fn volumes() -> Vec<(PathBuf, Vec<Entry>)> {
    caches_in("docker", "image")
}

/// The caches in `<user cache dir>/pgrehearse/<kind>` (those holding a file `marker`) and their entries.
fn caches_in(kind: &str, marker: &str) -> Vec<(PathBuf, Vec<Entry>)> {
    let Some(root) = crate::engine::local::cache_root() else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join(kind))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join(marker).is_file())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|d| {
            let entries = entries_in(&d.join("entries"));
            (d, entries)
        })
        .collect()
}

/// `pgrehearse cache clear`: removes every snapshot and the cache's cluster. Waits for a run using
/// the cache to finish.
pub fn clear() -> Result<usize, CacheError> {
    let dir = dir().ok_or(CacheError::NoDirectory)?;
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let lock = lock_file(&dir, true)?;
    let entries = entries_in(&dir.join("entries"));
    let (cluster, uid) =
        crate::engine::local::persistent_dir(&dir).map_err(|e| CacheError::Io {
            path: dir.clone(),
            reason: e.to_string(),
        })?;
    if cluster.exists() {
        // SAFETY: geteuid has no preconditions.
        let owner = uid.unwrap_or_else(|| unsafe { libc::geteuid() });
        crate::engine::local::stop_left_running(&cluster, &cluster.join("data"), owner);
        std::fs::remove_dir_all(&cluster).map_err(io(&cluster))?;
    }
    let entries_dir = dir.join("entries");
    if entries_dir.exists() {
        std::fs::remove_dir_all(&entries_dir).map_err(io(&entries_dir))?;
    }
    drop(lock);
    Ok(entries.len())
}

/// `pgrehearse cache clear` for the caches of url engines' servers: their indexes are emptied (each
/// under its lock); the snapshots stay on the servers until the next check against each drops them
/// ([`Cache::reconcile`]) or [`clear_server`]. Returns each server and how many it holds.
pub fn clear_indexes() -> Result<Vec<(String, usize)>, CacheError> {
    let mut out = Vec::new();
    for (dir, entries) in servers() {
        let lock = lock_file(&dir, true)?;
        let entries_dir = dir.join("entries");
        if entries_dir.exists() {
            std::fs::remove_dir_all(&entries_dir).map_err(io(&entries_dir))?;
        }
        drop(lock);
        if !entries.is_empty() {
            let target = std::fs::read_to_string(dir.join("server")).unwrap_or_default();
            out.push((target, entries.len()));
        }
    }
    Ok(out)
}

/// `pgrehearse cache clear` for the docker engine's caches: each volume is removed (under the cache's
/// lock) with the index and the password. Returns each image and how many snapshots it held; a
/// volume that could not be removed (no daemon answers) is an error that says how to remove it.
pub async fn clear_volumes() -> Result<Vec<(String, usize)>, CacheError> {
    let mut out = Vec::new();
    for (dir, entries) in volumes() {
        let lock = lock_file(&dir, true)?;
        let name = volume_name(&dir);
        let image = std::fs::read_to_string(dir.join("image")).unwrap_or_default();
        let docker = crate::engine::docker::daemon().await.map_err(|e| {
            CacheError::Engine(crate::engine::EngineError::DockerUnavailable {
                reason: format!(
                    "{e}; the replay cache's volume {name} is left: remove it with `docker volume rm {name}`"
                ),
            })
        })?;
        crate::engine::docker::remove_volume(&docker, &name).await?;
        std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
        drop(lock);
        out.push((image, entries.len()));
    }
    Ok(out)
}

/// `pgrehearse cache clear --database-url URL`: drops this machine's snapshots on that server (those
/// with its cache's tag, listed or not) and the role that owns them, and empties its index. Waits for
/// a check using that cache to finish. Returns how many snapshots were dropped.
pub async fn clear_server(url: &str) -> Result<usize, CacheError> {
    let options = crate::engine::EngineOptions {
        kind: crate::engine::EngineKind::Url,
        database_url: Some(url.to_string()),
        image: None,
        pg_version: None,
        replay: crate::engine::ReplayAccess::default(),
    };
    let target = crate::engine::url::target(&options)?;
    let dir = server_dir(&target).ok_or(CacheError::NoDirectory)?;
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let lock = lock_file(&dir, true)?;
    let entries_dir = dir.join("entries");
    let tag = std::fs::read_to_string(dir.join("tag"))
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| is_tag(t));
    let mut dropped = 0;
    if let Some(tag) = tag {
        let cleanup = crate::engine::Cleanup::new();
        let result = async {
            let server = crate::engine::start(
                &crate::engine::EngineOptions {
                    replay: crate::engine::ReplayAccess::Superuser,
                    ..options.clone()
                },
                &cleanup,
            )
            .await?;
            let admin = server.connect(&server.admin_db).await?;
            let failed = |e: tokio_postgres::Error| crate::engine::EngineError::ScratchDatabase {
                target: server.description.clone(),
                reason: crate::engine::db_error_text(&e),
            };
            for db in snapshot_databases(&admin).await.map_err(failed)? {
                if server_snapshot(&db).is_some_and(|(t, _)| t == tag) {
                    admin
                        .batch_execute(&format!(
                            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                            crate::engine::quote_ident(&db)
                        ))
                        .await
                        .map_err(failed)?;
                    dropped += 1;
                }
            }
            admin
                .batch_execute(&format!(
                    "DROP ROLE IF EXISTS {}",
                    crate::engine::quote_ident(&server_role(&tag))
                ))
                .await
                .map_err(failed)?;
            Ok::<_, CacheError>(())
        }
        .await;
        cleanup.run_all().await;
        result?;
    }
    if entries_dir.exists() {
        std::fs::remove_dir_all(&entries_dir).map_err(io(&entries_dir))?;
    }
    drop(lock);
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> KeyContext {
        KeyContext {
            version: "1.0.0".into(),
            engine: "local".into(),
            server: "local PostgreSQL 15 (/usr/lib/postgresql/15/bin)".into(),
            server_version: "15.18".into(),
            image: None,
            replay_user: "postgres".into(),
            isolated: true,
            lock_trace: true,
            privileged_extensions: Vec::new(),
        }
    }

    /// The set of numbered SQL files `files` (name, text) in a temporary repository.
    fn set(files: &[(&str, &str)]) -> MigrationSet {
        let dir = tempfile::tempdir().unwrap();
        let migrations = dir.path().join("migrations");
        std::fs::create_dir_all(&migrations).unwrap();
        for (name, text) in files {
            std::fs::write(migrations.join(name), text).unwrap();
        }
        let mut discovery = crate::discover::find(dir.path(), None).unwrap();
        discovery.sets.remove(0)
    }

    const A: (&str, &str) = ("001_a.sql", "CREATE TABLE a (id int);");
    const B: (&str, &str) = ("002_b.sql", "CREATE TABLE b (id int);");
    const C: (&str, &str) = ("003_c.sql", "CREATE TABLE c (id int);");

    #[test]
    fn a_prefix_key_depends_on_its_migrations_in_order_and_on_nothing_after_them() {
        let base = keys(&set(&[A, B, C]), &context());
        assert_eq!(base.len(), 3);
        // Appending keeps every earlier key.
        assert_eq!(keys(&set(&[A, B]), &context())[..], base[..2]);
        // Editing the second changes its key and every later one, not the first.
        let edited = keys(
            &set(&[A, ("002_b.sql", "CREATE TABLE b (id bigint);"), C]),
            &context(),
        );
        assert_eq!(edited[0], base[0]);
        assert_ne!(edited[1], base[1]);
        assert_ne!(edited[2], base[2]);
        // Same texts under other names (a reordering) share no key past the first.
        let reordered = keys(
            &set(&[A, ("002_b.sql", C.1), ("003_c.sql", B.1)]),
            &context(),
        );
        assert_ne!(reordered[1], base[1]);
        // Deleting one: the key of the two left differs from the first two before.
        let deleted = keys(&set(&[A, C]), &context());
        assert_ne!(deleted[1], base[1]);
        // The same text sent as other batches (or with other COPY data) is another replay.
        for change in [
            |b: &mut crate::runner::Batch| b.span.end -= 1,
            |b: &mut crate::runner::Batch| b.copy = Some(pgrehearse_sql::Span::new(0, 1)),
        ] {
            let mut other = set(&[A, B, C]);
            change(&mut other.migrations[1].batches[0]);
            let rebatched = keys(&other, &context());
            assert_eq!(rebatched[0], base[0]);
            assert_ne!(rebatched[1], base[1]);
        }
    }

    #[test]
    fn every_part_of_the_context_changes_every_key() {
        let set = set(&[A, B]);
        let base = keys(&set, &context());
        let changes: [fn(&mut KeyContext); 8] = [
            |c| c.version = "1.0.1".into(),
            |c| c.server_version = "15.19".into(),
            |c| c.server = "local PostgreSQL 16 (/usr/lib/postgresql/16/bin)".into(),
            |c| c.image = Some("postgres:17".into()),
            |c| c.replay_user = "pgrehearse".into(),
            |c| c.isolated = false,
            |c| c.lock_trace = false,
            |c| c.privileged_extensions = vec!["postgis".into()],
        ];
        for change in changes {
            let mut ctx = context();
            change(&mut ctx);
            let other = keys(&set, &ctx);
            assert_ne!(other[0], base[0], "{ctx:?}");
            assert_ne!(other[1], base[1], "{ctx:?}");
        }
    }

    #[test]
    fn findings_and_checkpoints_round_trip_through_an_entry() {
        let finding = crate::registry::finding("lock-without-timeout", "takes a lock").at(
            "migrations/001_a.sql",
            Some(pgrehearse_sql::Span::new(3, 9)),
        );
        let mut bare = finding.clone();
        bare.help = None;
        let local = Cache {
            entries: PathBuf::new(),
            max_bytes: 0,
            place: Place::Local,
            prefetched: std::sync::Mutex::new(None),
        };
        let key = "ab".repeat(32);
        let e = entry(&set(&[A]), &key, local.database_name(&key));
        let p_static = bare.clone();
        let p = Payload {
            statements: 7,
            findings: vec![finding, bare],
            checkpoint: Checkpoint {
                settings: vec![("search_path".into(), "app, public".into())],
                role: Some("app_owner".into()),
                locks: vec![("public.t".into(), "AccessExclusiveLock".into())],
                ..Checkpoint::default()
            },
            statics: Some(Statics {
                findings: vec![p_static.clone()],
                state: crate::rules::StaticState::default(),
            }),
            base: None,
        };
        let back: Payload = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back.findings, p.findings);
        assert_eq!(
            back.statics.map(|s| (s.findings, s.state)),
            Some((vec![p_static], crate::rules::StaticState::default()))
        );
        // A payload written before static findings were kept reads as having none.
        let mut old = serde_json::to_value(&p).unwrap();
        old.as_object_mut().unwrap().remove("statics");
        assert!(serde_json::from_value::<Payload>(old).is_ok_and(|p| p.statics.is_none()));
        assert_eq!(back.checkpoint.settings, p.checkpoint.settings);
        assert_eq!(back.checkpoint.role, p.checkpoint.role);
        assert_eq!(back.checkpoint.locks, p.checkpoint.locks);
        let back: Entry = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back.database, format!("pgrehearse_prefix_{}", &key[..40]));
        assert!(back.database.len() < 64);
    }

    /// A snapshot's name on a shared server says which cache kept it and when, fits PostgreSQL's 63
    /// bytes, and nothing else reads as one.
    #[test]
    fn server_snapshot_names_carry_their_cache_and_time() {
        let cache = Cache {
            entries: PathBuf::new(),
            max_bytes: 0,
            place: Place::Server {
                tag: "0a1b2c3d".into(),
            },
            prefetched: std::sync::Mutex::new(None),
        };
        assert_eq!(
            cache.replay_role().as_deref(),
            Some("pgrehearse_cache_0a1b2c3d")
        );
        let name = cache.database_name(&"f0".repeat(32));
        assert!(name.len() <= 63, "{name}");
        let (tag, secs) = server_snapshot(&name).expect("a server snapshot's name");
        assert_eq!(tag, "0a1b2c3d");
        assert!((now() / 1000).abs_diff(secs) < 5, "{secs}");
        let local = format!("pgrehearse_prefix_{}", "f0".repeat(20));
        for other in [
            local.as_str(),
            "pgrehearse_prefix_f0f0f0f0f0f0f0f0f0f0f0f0_0a1b2c3d",
            "pgrehearse_prefix_f0f0f0f0f0f0f0f0f0f0f0f0_0A1B2C3D_1700000000",
            "pgrehearse_prefix_f0f0f0f0f0f0f0f0f0f0f0f0_0a1b2c3d_1700000000_x",
            "pgrehearse_prefix_zz_0a1b2c3d_1700000000",
            "pgrehearse_cache_0a1b2c3d_1_2_3",
        ] {
            assert_eq!(server_snapshot(other), None, "{other}");
        }
        assert_eq!(
            server_snapshot("pgrehearse_prefix_f0f0f0f0f0f0f0f0f0f0f0f0_0a1b2c3d_1700000000"),
            Some(("0a1b2c3d", 1_700_000_000))
        );
    }

    /// A payload written as a delta reads back complete, keeps its base file alive after the base's
    /// own entry is gone, and is refused when its base does not hold what it says.
    #[test]
    fn a_delta_payload_reads_back_complete_and_keeps_its_base() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache {
            entries: dir.path().to_path_buf(),
            max_bytes: u64::MAX,
            place: Place::Local,
            prefetched: std::sync::Mutex::new(None),
        };
        let f = |m: &str| crate::registry::finding("lock-without-timeout", m);
        let statics = |findings: Vec<Finding>| {
            Some(Statics {
                findings,
                state: crate::rules::StaticState::default(),
            })
        };
        let payload = |findings, s, base| Payload {
            statements: 3,
            findings,
            checkpoint: Checkpoint::default(),
            statics: statics(s),
            base,
        };
        let (full_key, delta_key) = ("f".repeat(64), "d".repeat(64));
        let full_entry = entry(&set(&[A]), &full_key, cache.database_name(&full_key));
        let mut delta_entry = entry(&set(&[A]), &delta_key, cache.database_name(&delta_key));
        delta_entry.base = Some(full_key.clone());
        let base = PayloadBase {
            key: full_key.clone(),
            findings: 2,
            statics: 1,
        };
        let write = |e: &Entry, p: &Payload| {
            cache.write_file(&cache.payload_path(&e.key), p).unwrap();
            cache.write(e).unwrap();
        };
        write(
            &full_entry,
            &payload(vec![f("a"), f("b")], vec![f("s1")], None),
        );
        write(
            &delta_entry,
            &payload(vec![f("c")], vec![f("s2")], Some(base.clone())),
        );
        let messages = |p: &Payload| {
            let all = p
                .findings
                .iter()
                .chain(p.statics.iter().flat_map(|s| &s.findings));
            all.map(|f| f.message.clone()).collect::<Vec<_>>()
        };
        let read = cache.payload(&delta_entry).unwrap();
        assert_eq!(messages(&read), ["a", "b", "c", "s1", "s2"]);
        assert_eq!(read.base.as_ref(), Some(&base));
        let own = cache.payload(&full_entry).unwrap();
        assert_eq!(
            own.base,
            Some(base.clone()),
            "a complete payload is its own base"
        );
        // The base's entry goes (evicted): its payload file stays while the delta needs it.
        cache.forget(&full_key);
        assert_eq!(messages(&cache.payload(&delta_entry).unwrap()).len(), 5);
        cache.forget(&delta_key);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        // A base that holds other findings than the delta says: not used.
        write(&full_entry, &payload(vec![f("a")], vec![f("s1")], None));
        write(
            &delta_entry,
            &payload(vec![f("c")], vec![f("s2")], Some(base.clone())),
        );
        assert!(cache.payload(&delta_entry).is_none());
        // A payload parsed ahead is used only while its file is the one parsed.
        let path = cache.payload_path(&full_key);
        let ahead = |stamp| {
            let payload = payload(vec![f("ahead")], vec![], None);
            let file = lazy::parse(serde_json::to_vec(&payload).unwrap()).unwrap();
            let key = full_key.clone();
            std::thread::spawn(move || Some(Prefetched { key, stamp, file }))
        };
        cache.with_prefetched(ahead(super::stamp(&path).unwrap()));
        assert_eq!(messages(&cache.payload(&full_entry).unwrap()), ["ahead"]);
        cache.with_prefetched(ahead((0, 0, 0, 0)));
        assert_eq!(messages(&cache.payload(&full_entry).unwrap()), ["a", "s1"]);
    }

    #[test]
    fn cluster_wide_statements_are_recognised() {
        assert_eq!(cluster_wide("CREATE ROLE app;"), Some("roles"));
        assert_eq!(
            cluster_wide("alter database current set search_path = app;"),
            Some("a database's settings")
        );
        assert_eq!(
            cluster_wide("GRANT CONNECT ON DATABASE x TO y;"),
            Some("a database's settings")
        );
        assert_eq!(
            cluster_wide("ALTER SYSTEM SET work_mem = '1MB';"),
            Some("server settings")
        );
        assert_eq!(cluster_wide("CREATE TABLE users (id int);"), None);
        assert_eq!(
            cluster_wide("-- create role app\nSELECT 'drop role';"),
            None
        );
    }
}
