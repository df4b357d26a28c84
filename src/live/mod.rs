//! The `live` stage reads a live database, strictly read-only, so that the schema the migrations build
//! can be compared with what really runs, and the migration runner's own bookkeeping can be checked.
//!
//! It takes a connection URL and a migration set; it returns the live [`Catalog`] and `drift` findings
//! about the bookkeeping: a golang-migrate database left dirty, migrations in the repository that are
//! not applied, applied versions missing from the repository, Prisma migrations that failed or were
//! rolled back or whose file changed since, Drizzle migrations the high-water-mark logic would skip, and
//! Flyway's failed rows. Everything runs in one `READ ONLY` transaction on a session whose
//! `default_transaction_read_only` is on, with statement and lock timeouts, and ends in ROLLBACK.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio_postgres::{Client, Config};

use crate::catalog::{self, Catalog, SnapshotOptions};
use crate::engine::{EngineError, db_error_text};
use crate::model::{Evidence, Finding};
use crate::registry;
use crate::runner::{MigrationSet, Runner};

/// The live database could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("the --against URL is not valid: {reason}")]
    Url { reason: String },
    #[error("could not read the live database: {0}")]
    Connect(#[from] EngineError),
    #[error("could not read the live database: {0}")]
    Query(String),
    #[error(transparent)]
    Catalog(#[from] catalog::CatalogError),
}

/// Connects with `default_transaction_read_only=on` and short timeouts, and opens a READ ONLY
/// transaction. Every statement sent on the returned client is read-only for the server.
pub async fn connect_read_only(url: &str) -> Result<Client, LiveError> {
    let mut config = Config::from_str(url).map_err(|e| LiveError::Url {
        reason: db_error_text(&e),
    })?;
    config.options(
        "-c default_transaction_read_only=on -c statement_timeout=30000 -c lock_timeout=5000 -c idle_in_transaction_session_timeout=60000",
    );
    config.connect_timeout(Duration::from_secs(10));
    let client = crate::engine::connect(&config).await?;
    client
        .batch_execute("BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await
        .map_err(|e| LiveError::Query(db_error_text(&e)))?;
    Ok(client)
}

/// What was read from the live database.
pub struct Live {
    pub catalog: Catalog,
    pub findings: Vec<Finding>,
    /// The set's migrations (ids) that the runner's bookkeeping records as applied; `None` for a
    /// runner whose bookkeeping is not read.
    pub applied: Option<BTreeSet<String>>,
}

/// Reads the live catalog and checks the runner's bookkeeping against `set`.
pub async fn read(
    url: &str,
    set: &MigrationSet,
    options: &SnapshotOptions,
) -> Result<Live, LiveError> {
    let client = connect_read_only(url).await?;
    let result = async {
        let catalog = catalog::snapshot(&client, options).await?;
        let findings = bookkeeping(&client, set).await?;
        let applied = applied(&client, set).await?;
        Ok::<_, LiveError>(Live {
            catalog,
            findings,
            applied,
        })
    }
    .await;
    let _ = client.batch_execute("ROLLBACK").await;
    result
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn table_exists(client: &Client, qualified: &str) -> Result<bool, LiveError> {
    let row = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&qualified])
        .await
        .map_err(|e| LiveError::Query(db_error_text(&e)))?;
    Ok(row.get(0))
}

async fn rows(client: &Client, sql: &str) -> Result<Vec<tokio_postgres::Row>, LiveError> {
    client
        .query(sql, &[])
        .await
        .map_err(|e| LiveError::Query(db_error_text(&e)))
}

fn live_finding(
    rule: &str,
    message: String,
    help: &str,
    set: &MigrationSet,
    migration: Option<&str>,
) -> Finding {
    let file = migration
        .and_then(|id| set.migrations.iter().find(|m| m.id == id))
        .map(|m| m.file.clone());
    let f = registry::finding(rule, message).help(help);
    let f = match file {
        Some(file) => f.at(file, None),
        None => f,
    };
    f.evidence(Evidence {
        migration: migration.map(str::to_string),
        ..Evidence::default()
    })
}

/// Checks the runner's bookkeeping table, when the live database has one.
async fn bookkeeping(client: &Client, set: &MigrationSet) -> Result<Vec<Finding>, LiveError> {
    let mut out = Vec::new();
    let repo: Vec<&str> = set.migrations.iter().map(|m| m.id.as_str()).collect();
    match set.runner {
        Runner::GolangMigrate => {
            if !table_exists(client, "public.schema_migrations").await? {
                return Ok(out);
            }
            let found = rows(
                client,
                "SELECT version::bigint, dirty FROM public.schema_migrations LIMIT 1",
            )
            .await?;
            let Some(row) = found.first() else {
                return Ok(out);
            };
            let version: i64 = row.get(0);
            let dirty: bool = row.get(1);
            let v = version.to_string();
            if dirty {
                out.push(live_finding(
                    "live-dirty",
                    format!("the live database is dirty at version {version}: migration {version} failed part-way and golang-migrate refuses to run until it is fixed"),
                    "inspect what the failed migration left behind, repair it by hand, then `migrate force <version>`",
                    set,
                    Some(&v),
                ));
            }
            if !repo.contains(&v.as_str()) {
                out.push(live_finding(
                    "live-unknown-migration",
                    format!(
                        "the live database is at version {version}, which is not in the repository"
                    ),
                    "restore the migration file, or find which branch applied it",
                    set,
                    None,
                ));
            }
            let pending: Vec<&str> = set
                .migrations
                .iter()
                .filter(|m| m.id.parse::<i64>().is_ok_and(|n| n > version))
                .map(|m| m.id.as_str())
                .collect();
            if !pending.is_empty() {
                out.push(live_finding(
                    "live-pending-migrations",
                    format!("{} migration(s) in the repository are not applied to the live database: {}", pending.len(), pending.join(", ")),
                    "apply them (`migrate up`) or expect the drift findings they explain",
                    set,
                    pending.first().copied(),
                ));
            }
        }
        Runner::Prisma => {
            if !table_exists(client, "public._prisma_migrations").await? {
                return Ok(out);
            }
            let found = rows(
                client,
                "SELECT migration_name, checksum, finished_at IS NOT NULL, rolled_back_at IS NOT NULL, logs IS NOT NULL FROM public._prisma_migrations ORDER BY started_at",
            )
            .await?;
            let mut applied = BTreeSet::new();
            for row in &found {
                let name: String = row.get(0);
                let checksum: String = row.get(1);
                let finished: bool = row.get(2);
                let rolled_back: bool = row.get(3);
                // Prisma records the error in `logs` when a migration fails; a row with neither an end
                // nor logs is still running, or its process died before recording anything.
                let logged: bool = row.get(4);
                if rolled_back {
                    out.push(live_finding(
                        "live-rolled-back-migration",
                        format!("migration `{name}` was marked rolled back on the live database (`prisma migrate resolve --rolled-back`); prisma migrate deploy applies it again"),
                        "make sure it can be applied again cleanly (what the failed attempt left behind is gone)",
                        set,
                        Some(&name),
                    ));
                    continue;
                }
                if !finished {
                    let what = if logged {
                        "failed on the live database and was never resolved"
                    } else {
                        "has no recorded outcome on the live database: it is still running, or the process applying it died"
                    };
                    out.push(live_finding(
                        "live-failed-migration",
                        format!("migration `{name}` {what}; prisma migrate deploy refuses to continue"),
                        "fix what it left behind, then `prisma migrate resolve --rolled-back` or `--applied`",
                        set,
                        Some(&name),
                    ));
                    continue;
                }
                applied.insert(name.clone());
                match set.migrations.iter().find(|m| m.id == name) {
                    None => out.push(live_finding(
                        "live-unknown-migration",
                        format!("migration `{name}` is applied to the live database but is not in the repository"),
                        "restore the migration folder, or find which branch applied it",
                        set,
                        None,
                    )),
                    Some(m) if sha256_hex(&m.text) != checksum => out.push(live_finding(
                        "live-checksum-mismatch",
                        format!("migration `{name}` changed after it was applied to the live database"),
                        "never edit an applied migration: revert the edit and add a new migration",
                        set,
                        Some(&name),
                    )),
                    Some(_) => {}
                }
            }
            let pending: Vec<&str> = repo
                .iter()
                .copied()
                .filter(|id| !applied.contains(*id))
                .collect();
            if !pending.is_empty() {
                out.push(live_finding(
                    "live-pending-migrations",
                    format!("{} migration(s) in the repository are not applied to the live database: {}", pending.len(), pending.join(", ")),
                    "apply them (`prisma migrate deploy`) or expect the drift findings they explain",
                    set,
                    pending.first().copied(),
                ));
            }
        }
        Runner::Drizzle => {
            if !table_exists(client, "drizzle.__drizzle_migrations").await? {
                return Ok(out);
            }
            let found = rows(
                client,
                "SELECT hash, created_at::bigint FROM drizzle.__drizzle_migrations",
            )
            .await?;
            let hashes: BTreeMap<String, i64> =
                found.iter().map(|r| (r.get(0), r.get(1))).collect();
            let newest = hashes.values().copied().max();
            for m in &set.migrations {
                if hashes.contains_key(&sha256_hex(&m.text)) {
                    continue;
                }
                let when = journal_when(set, &m.id);
                match (when, newest) {
                    (Some(w), Some(n)) if w <= n => out.push(live_finding(
                        "live-skipped-migration",
                        format!("migration `{}` is not applied, and drizzle-kit migrate will never apply it: its journal `when` ({w}) is not newer than the newest applied migration ({n})", m.id),
                        "give it a `when` newer than every applied migration (or regenerate it), so that drizzle-kit applies it",
                        set,
                        Some(&m.id),
                    )),
                    _ => out.push(live_finding(
                        "live-pending-migrations",
                        format!("migration `{}` is not applied to the live database", m.id),
                        "apply it (`drizzle-kit migrate`) or expect the drift findings it explains",
                        set,
                        Some(&m.id),
                    )),
                }
            }
        }
        Runner::Flyway => {
            if !table_exists(client, "public.flyway_schema_history").await? {
                return Ok(out);
            }
            let found = rows(
                client,
                "SELECT coalesce(version, description), success, version IS NOT NULL, checksum, type FROM public.flyway_schema_history ORDER BY installed_rank",
            )
            .await?;
            // Versions Flyway counts as applied (a baseline covers every version up to its own).
            let mut applied: Vec<Vec<u64>> = Vec::new();
            let mut baseline: Option<Vec<u64>> = None;
            let newest_local = set
                .migrations
                .iter()
                .filter_map(|m| flyway_version(&m.id))
                .max();
            for row in &found {
                let version: String = row.get(0);
                let success: bool = row.get(1);
                let versioned: bool = row.get(2);
                let checksum: Option<i32> = row.get(3);
                let kind: String = row.get(4);
                let key = versioned.then(|| flyway_version(&version)).flatten();
                // The repository's file for the row (`001.1` is `1.1`).
                let local = key.as_ref().and_then(|k| {
                    set.migrations
                        .iter()
                        .find(|m| flyway_version(&m.id).as_ref() == Some(k))
                });
                let local_id = local.map(|m| m.id.as_str());
                if !success {
                    out.push(live_finding(
                        "live-failed-migration",
                        format!("Flyway recorded migration {version} as failed on the live database; flyway migrate refuses to continue"),
                        "fix what it left behind, then `flyway repair`",
                        set,
                        local_id,
                    ));
                    // Attempted: reported as failed, not as pending too.
                    applied.extend(key);
                    continue;
                }
                let Some(key) = key else {
                    // Repeatable migrations re-run when their checksum changes.
                    continue;
                };
                applied.push(key.clone());
                if kind.contains("BASELINE") {
                    baseline = baseline.max(Some(key));
                    continue;
                }
                match (local, checksum) {
                    (Some(m), Some(expected)) if flyway_checksum(&m.text) != expected => {
                        out.push(live_finding(
                            "live-checksum-mismatch",
                            format!("migration {version} changed after it was applied to the live database (Flyway checksum mismatch: flyway validate fails)"),
                            "never edit an applied migration: revert the edit and add a new migration",
                            set,
                            local_id,
                        ));
                    }
                    // Flyway ignores applied versions newer than every local one ("future").
                    (None, _) if newest_local.as_ref().is_some_and(|n| key < *n) => {
                        out.push(live_finding(
                            "live-unknown-migration",
                            format!("migration {version} is applied to the live database but is not in the repository; flyway migrate fails validation (\"Detected applied migration not resolved locally\")"),
                            "restore the migration file, or find which branch applied it",
                            set,
                            None,
                        ));
                    }
                    _ => {}
                }
            }
            let newest = applied.iter().max().cloned();
            let mut pending = Vec::new();
            for m in &set.migrations {
                let Some(key) = flyway_version(&m.id) else {
                    continue; // repeatable
                };
                if applied.contains(&key) || baseline.as_ref().is_some_and(|b| key <= *b) {
                    continue;
                }
                if newest.as_ref().is_some_and(|n| key < *n) {
                    out.push(live_finding(
                        "live-skipped-migration",
                        format!("migration {} is not applied, and it is older than the newest applied migration: flyway migrate fails validation (\"Detected resolved migration not applied to database\") unless outOfOrder is set", m.id),
                        "give it a version newer than every applied migration, or run it with -outOfOrder=true on purpose",
                        set,
                        Some(&m.id),
                    ));
                } else {
                    pending.push(m.id.as_str());
                }
            }
            if !pending.is_empty() {
                out.push(live_finding(
                    "live-pending-migrations",
                    format!("{} migration(s) in the repository are not applied to the live database: {}", pending.len(), pending.join(", ")),
                    "apply them (`flyway migrate`) or expect the drift findings they explain",
                    set,
                    pending.first().copied(),
                ));
            }
        }
        _ => {}
    }
    Ok(out)
}

/// The ids of `set`'s migrations that the runner's bookkeeping records as applied (finished, not
/// failed, rolled back or left dirty; for Flyway, also those a baseline covers). A database without the
/// bookkeeping table has applied none; `None` for runners whose bookkeeping is not read.
async fn applied(
    client: &Client,
    set: &MigrationSet,
) -> Result<Option<BTreeSet<String>>, LiveError> {
    let ids = |keep: &dyn Fn(&crate::runner::Migration) -> bool| -> BTreeSet<String> {
        set.migrations
            .iter()
            .filter(|m| keep(m))
            .map(|m| m.id.clone())
            .collect()
    };
    let table = match set.runner {
        Runner::GolangMigrate => "public.schema_migrations",
        Runner::Prisma => "public._prisma_migrations",
        Runner::Drizzle => "drizzle.__drizzle_migrations",
        Runner::Flyway => "public.flyway_schema_history",
        _ => return Ok(None),
    };
    if !table_exists(client, table).await? {
        return Ok(Some(BTreeSet::new()));
    }
    let applied = match set.runner {
        Runner::GolangMigrate => {
            let found = rows(
                client,
                "SELECT version::bigint, dirty FROM public.schema_migrations LIMIT 1",
            )
            .await?;
            match found.first() {
                None => BTreeSet::new(),
                Some(row) => {
                    let version: i64 = row.get(0);
                    let dirty: bool = row.get(1);
                    ids(&|m| {
                        m.id.parse::<i64>()
                            .is_ok_and(|n| n < version || (n == version && !dirty))
                    })
                }
            }
        }
        Runner::Prisma => {
            let found = rows(
                client,
                "SELECT migration_name FROM public._prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL",
            )
            .await?;
            let names: BTreeSet<String> = found.iter().map(|r| r.get(0)).collect();
            ids(&|m| names.contains(&m.id))
        }
        Runner::Drizzle => {
            let found = rows(client, "SELECT hash FROM drizzle.__drizzle_migrations").await?;
            let hashes: BTreeSet<String> = found.iter().map(|r| r.get(0)).collect();
            ids(&|m| hashes.contains(&sha256_hex(&m.text)))
        }
        _ => {
            let found = rows(
                client,
                "SELECT version, type FROM public.flyway_schema_history WHERE success AND version IS NOT NULL",
            )
            .await?;
            let mut versions = BTreeSet::new();
            let mut baseline: Option<Vec<u64>> = None;
            for row in &found {
                let version: String = row.get(0);
                let kind: String = row.get(1);
                if let Some(key) = flyway_version(&version) {
                    if kind.contains("BASELINE") {
                        baseline = baseline.max(Some(key.clone()));
                    }
                    versions.insert(key);
                }
            }
            ids(&|m| {
                flyway_version(&m.id).is_some_and(|key| {
                    versions.contains(&key) || baseline.as_ref().is_some_and(|b| key <= *b)
                })
            })
        }
    };
    Ok(Some(applied))
}

/// A Flyway version as numbers (`1.1`, `1_1` and `001.1.0` are the same version); None for a
/// repeatable migration's id or a description.
fn flyway_version(version: &str) -> Option<Vec<u64>> {
    let mut parts: Vec<u64> = version
        .split(['.', '_'])
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    while parts.len() > 1 && parts.last() == Some(&0) {
        parts.pop();
    }
    Some(parts)
}

/// Flyway's checksum of a SQL migration: CRC-32 over the UTF-8 bytes of each line without its line
/// terminator (a leading byte-order mark removed), as a signed 32-bit integer.
pub fn flyway_checksum(text: &str) -> i32 {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut crc = Crc32::default();
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
        crc.update(&rest.as_bytes()[..end]);
        let after = &rest[end..];
        rest = after
            .strip_prefix("\r\n")
            .or_else(|| after.strip_prefix('\n'))
            .or_else(|| after.strip_prefix('\r'))
            .unwrap_or(after);
    }
    crc.value() as i32
}

/// CRC-32 (IEEE 802.3, as `java.util.zip.CRC32`).
struct Crc32 {
    state: u32,
}

impl Default for Crc32 {
    fn default() -> Self {
        Crc32 { state: 0xFFFF_FFFF }
    }
}

impl Crc32 {
    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.state ^= u32::from(b);
            for _ in 0..8 {
                let mask = (self.state & 1).wrapping_neg();
                self.state = (self.state >> 1) ^ (0xEDB8_8320 & mask);
            }
        }
    }

    fn value(&self) -> u32 {
        !self.state
    }
}

/// The `when` of a Drizzle journal entry, read back from the journal text in the sources.
fn journal_when(set: &MigrationSet, tag: &str) -> Option<i64> {
    let journal = set.journal_when.get(tag)?;
    Some(*journal)
}

#[cfg(test)]
mod tests {
    use super::flyway_checksum;

    #[test]
    fn flyway_checksum_is_crc32_of_lines_without_terminators() {
        // CRC-32 of "123456789" is 0xCBF43926 (the standard check value).
        assert_eq!(flyway_checksum("123456789"), 0xCBF4_3926_u32 as i32);
        // Line terminators do not count, whatever their style; a BOM is dropped.
        let lf = flyway_checksum("CREATE TABLE a (id int);\nSELECT 1;\n");
        assert_eq!(
            lf,
            flyway_checksum("CREATE TABLE a (id int);\r\nSELECT 1;\r\n")
        );
        assert_eq!(
            lf,
            flyway_checksum("\u{feff}CREATE TABLE a (id int);\rSELECT 1;")
        );
        assert_ne!(
            lf,
            flyway_checksum("CREATE TABLE a (id bigint);\nSELECT 1;\n")
        );
    }
}
