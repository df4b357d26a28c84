//! Names of scratch databases, and the sweep of those left by runs that were killed outright.
//!
//! A scratch database is named `pgrehearse_<label>_<host>_<pid>_<unix seconds>_<n>`: `<host>` is a
//! short hash of this machine's hostname and `<pid>` the pgrehearse process that created it. A later
//! run on the same machine, connected as the same role, drops the ones that are provably stale: made on
//! this machine by a process that no longer exists, more than [`STALE_AFTER`] ago, and owned by the
//! connecting role. A database of a run on another machine, of a live process, of another role, or
//! named otherwise is never touched. The login roles url-engine runs replay as are named the same way
//! (`pgrehearse_role_…`); the databases they own and then the roles themselves are swept alike.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_postgres::Client;

/// Scratch databases younger than this are never swept, whatever their process.
pub const STALE_AFTER: Duration = Duration::from_secs(60);

/// Eight hex digits identifying this machine (FNV-1a of its hostname).
pub fn host_tag() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let mut hash: u32 = 0x811c_9dc5;
    for b in host.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{hash:08x}")
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The name of a scratch database made now by this process.
pub fn new_name(label: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    name(
        label,
        &host_tag(),
        std::process::id(),
        now_secs(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
    )
}

/// `pgrehearse_<label>_<host>_<pid>_<secs>_<n>`.
pub fn name(label: &str, host: &str, pid: u32, secs: u64, n: u64) -> String {
    format!("pgrehearse_{label}_{host}_{pid}_{secs}_{n}")
}

/// What a scratch database's name says: `(host, pid, unix seconds)`.
fn parse(name: &str) -> Option<(&str, u32, u64)> {
    let rest = name.strip_prefix("pgrehearse_")?;
    let mut parts = rest.rsplitn(5, '_');
    let _n: u64 = parts.next()?.parse().ok()?;
    let secs: u64 = parts.next()?.parse().ok()?;
    let pid: u32 = parts.next()?.parse().ok()?;
    let host = parts.next()?;
    let label = parts.next()?;
    (host.len() == 8 && host.bytes().all(|b| b.is_ascii_hexdigit()) && !label.is_empty())
        .then_some((host, pid, secs))
}

/// Whether a scratch database of this name is provably stale (see the module documentation; the
/// owner is checked by the query).
pub fn is_stale(name: &str, host: &str, now: u64) -> bool {
    let Some((h, pid, secs)) = parse(name) else {
        return false;
    };
    h == host
        && pid != std::process::id()
        && now.saturating_sub(secs) > STALE_AFTER.as_secs()
        && pid <= i32::MAX as u32
        && super::docker::process_gone(pid as i32)
}

/// Drops the stale scratch databases on the server `admin` is connected to; returns their names.
pub async fn sweep(admin: &Client) -> Vec<String> {
    let Ok(rows) = admin
        .query(
            "SELECT d.datname::text FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba \
             WHERE d.datname LIKE 'pgrehearse\\_%' \
             AND (r.rolname = current_user OR r.rolname LIKE 'pgrehearse\\_role\\_%')",
            &[],
        )
        .await
    else {
        return Vec::new();
    };
    let host = host_tag();
    let now = now_secs();
    let mut dropped = Vec::new();
    for row in rows {
        let name: String = row.get(0);
        if !is_stale(&name, &host, now) {
            continue;
        }
        let sql = format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            super::quote_ident(&name)
        );
        if admin.batch_execute(&sql).await.is_ok() {
            dropped.push(name);
        }
    }
    // The roles those runs replayed as (named like scratch databases, see `engine::ReplayRole`).
    if let Ok(rows) = admin
        .query(
            "SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'pgrehearse\\_role\\_%'",
            &[],
        )
        .await
    {
        for row in rows {
            let name: String = row.get(0);
            if is_stale(&name, &host, now) {
                let sql = format!("DROP ROLE IF EXISTS {}", super::quote_ident(&name));
                let _ = admin.batch_execute(&sql).await;
            }
        }
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_only_stale_ones_of_this_host_are_stale() {
        let host = host_tag();
        let dead = {
            let mut c = std::process::Command::new("true").spawn().unwrap();
            let pid = c.id();
            c.wait().unwrap();
            pid
        };
        let now = now_secs();
        let old = now - 3600;
        assert_eq!(
            parse(&name("replay", &host, 42, 7, 0)),
            Some((host.as_str(), 42, 7))
        );
        assert!(is_stale(&name("replay", &host, dead, old, 3), &host, now));
        // Fresh, alive, another host, our own, or named otherwise: never.
        assert!(!is_stale(&name("replay", &host, dead, now, 3), &host, now));
        assert!(!is_stale(&name("replay", &host, 1, old, 3), &host, now));
        assert!(!is_stale(
            &name("replay", "0badf00d", dead, old, 3),
            &host,
            now
        ));
        assert!(!is_stale(
            &name("replay", &host, std::process::id(), old, 3),
            &host,
            now
        ));
        assert!(!is_stale("pgrehearse_replay_123_456_7", &host, now));
        assert!(!is_stale("app_production", &host, now));
        assert!(new_name("declared").starts_with(&format!("pgrehearse_declared_{host}_")));
    }
}
