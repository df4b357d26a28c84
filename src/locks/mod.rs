//! Lock and rewrite tracing: what each statement does to tables that existed before its migration.
//!
//! `replay` appends [`probe`] to a single statement in the same simple query, so the probe runs in the
//! statement's own transaction (implicit or the runner's explicit one) and sees exactly the relation
//! locks the backend holds, before they are released at commit. Only relations the statement locked are
//! inspected, and only those older than the migration (their OID is at most the largest OID at the
//! migration's start): a table created earlier in the same migration is harmless. A rewrite shows as
//! `relfilenode` moving away from its previous value (a table PostgreSQL creates has `relfilenode` equal
//! to its OID); a validation scan as `pg_stat_get_xact_numscans` growing within the transaction.
//!
//! [`findings`] turns the observations into `lock` findings with the lock mode, the table and the safer
//! pattern. Statements that cannot run inside a transaction block (`CREATE INDEX CONCURRENTLY`, …) are
//! sent without a probe: they are the safe forms.

use std::collections::BTreeMap;

use pgrehearse_sql::{self as sql, Span};
use tokio_postgres::SimpleQueryRow;

use crate::model::{Evidence, Finding};
use crate::rules;

/// The query that finds the largest relation OID, run at the start of each migration.
pub const THRESHOLD_QUERY: &str = "SELECT coalesce(max(oid)::int8, 0) FROM pg_catalog.pg_class";

/// The probe appended to a statement: every relation lock this backend holds on an ordinary or
/// partitioned table older than `threshold`, with its file node and the transaction's scan count.
pub fn probe(threshold: i64) -> String {
    format!(
        ";\nSELECT c.oid::int8, n.nspname, c.relname, c.relfilenode::int8, l.mode, \
         pg_catalog.pg_stat_get_xact_numscans(c.oid) \
         FROM pg_catalog.pg_locks l \
         JOIN pg_catalog.pg_class c ON c.oid = l.relation \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'relation' AND l.granted \
         AND c.relkind IN ('r', 'p') AND c.oid <= {threshold} \
         AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
    )
}

/// Lock modes in order of strength.
const MODES: &[&str] = &[
    "AccessShareLock",
    "RowShareLock",
    "RowExclusiveLock",
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
];

fn strength(mode: &str) -> usize {
    MODES.iter().position(|m| *m == mode).unwrap_or(0)
}

/// PostgreSQL's spelling of a lock mode in SQL: `ACCESS EXCLUSIVE`.
pub fn mode_name(mode: &str) -> String {
    let base = mode.strip_suffix("Lock").unwrap_or(mode);
    let mut out = String::new();
    for (i, ch) in base.char_indices() {
        if ch.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}

/// A table as the probe saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub oid: i64,
    pub name: String,
    pub relfilenode: i64,
    /// The strongest lock held on it.
    pub mode: String,
    pub scans: i64,
}

/// Parses the probe's rows: one entry per table, with its strongest lock.
pub fn parse(rows: &[SimpleQueryRow]) -> Vec<Seen> {
    let mut by_oid: BTreeMap<i64, Seen> = BTreeMap::new();
    for row in rows {
        let get = |i: usize| row.get(i).unwrap_or("");
        let Ok(oid) = get(0).parse::<i64>() else {
            continue;
        };
        let seen = Seen {
            oid,
            name: format!("{}.{}", get(1), get(2)),
            relfilenode: get(3).parse().unwrap_or(oid),
            mode: get(4).to_string(),
            scans: get(5).parse().unwrap_or(0),
        };
        match by_oid.get_mut(&oid) {
            Some(existing) if strength(&seen.mode) > strength(&existing.mode) => {
                existing.mode = seen.mode
            }
            Some(_) => {}
            None => {
                by_oid.insert(oid, seen);
            }
        }
    }
    by_oid.into_values().collect()
}

/// What one statement did to one pre-existing table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effect {
    pub table: String,
    /// The strongest lock it took, when stronger than what the transaction already held.
    pub mode: String,
    pub rewrote: bool,
    pub scanned: bool,
}

/// Tracks probes within one migration to attribute locks, rewrites and scans to statements.
#[derive(Default)]
pub struct Tracker {
    /// Per table: the strongest lock held so far in the transaction, the file node and scan count seen.
    held: BTreeMap<i64, (String, i64, i64)>,
    /// File nodes seen before, across transactions (a new table's file node is its OID).
    filenodes: BTreeMap<i64, i64>,
}

impl Tracker {
    /// A new transaction begins: locks and per-transaction scan counts start over.
    pub fn new_transaction(&mut self) {
        self.held.clear();
    }

    /// Effects of the statement whose probe returned `seen`.
    pub fn observe(&mut self, seen: &[Seen]) -> Vec<Effect> {
        let mut effects = Vec::new();
        for s in seen {
            let before_node = *self.filenodes.get(&s.oid).unwrap_or(&s.oid);
            let (prev_mode, prev_scans) = self
                .held
                .get(&s.oid)
                .map(|(m, _, sc)| (m.clone(), *sc))
                .unwrap_or_default();
            let stronger = prev_mode.is_empty() || strength(&s.mode) > strength(&prev_mode);
            let rewrote = s.relfilenode != before_node;
            let scanned = s.scans > prev_scans;
            if stronger || rewrote || scanned {
                effects.push(Effect {
                    table: s.name.clone(),
                    mode: s.mode.clone(),
                    rewrote,
                    scanned,
                });
            }
            let mode = if stronger { s.mode.clone() } else { prev_mode };
            self.held.insert(s.oid, (mode, s.relfilenode, s.scans));
            self.filenodes.insert(s.oid, s.relfilenode);
        }
        effects
    }
}

/// Whether a statement cannot run inside a transaction block (it is sent without a probe).
pub fn cannot_run_in_transaction(text: &str, stmt: Span) -> bool {
    let words = sql::leading_keywords(text, stmt, 4);
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    matches!(
        w.as_slice(),
        ["CREATE", "DATABASE", ..]
            | ["DROP", "DATABASE", ..]
            | ["CREATE", "TABLESPACE", ..]
            | ["DROP", "TABLESPACE", ..]
            | ["ALTER", "SYSTEM", ..]
            | ["VACUUM", ..]
            | ["CREATE", "INDEX", "CONCURRENTLY", ..]
            | ["CREATE", "UNIQUE", "INDEX", "CONCURRENTLY"]
            | ["DROP", "INDEX", "CONCURRENTLY", ..]
            | ["REINDEX", ..]
            | ["CLUSTER", ..]
            | ["BEGIN", ..]
            | ["START", ..]
            | ["COMMIT", ..]
            | ["END", ..]
            | ["ROLLBACK", ..]
            | ["ABORT", ..]
            | ["SAVEPOINT", ..]
            | ["RELEASE", ..]
            | ["PREPARE", "TRANSACTION", ..]
            | ["COPY", ..]
    )
}

/// Upper-cased significant words of a statement.
fn words(text: &str, stmt: Span) -> Vec<String> {
    sql::significant_tokens(text, stmt)
        .iter()
        .filter(|t| t.kind == sql::TokenKind::Word)
        .map(|t| t.span.slice(text).to_ascii_uppercase())
        .collect()
}

fn has_seq(words: &[String], seq: &[&str]) -> bool {
    words
        .windows(seq.len())
        .any(|w| w.iter().zip(seq).all(|(a, b)| a == b))
}

/// Findings for one statement's effects. `lock_timeout` says whether the migration set one before it.
pub fn findings(
    text: &str,
    stmt: Span,
    effects: &[Effect],
    lock_timeout: bool,
    file: &std::path::Path,
    migration: &str,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let w = words(text, stmt);
    let first = w.first().map(String::as_str).unwrap_or("");
    for e in effects {
        let mode = mode_name(&e.mode);
        let a = if mode.starts_with(['A', 'E']) {
            "an"
        } else {
            "a"
        };
        let evidence = |extra: &[(&str, &str)]| Evidence {
            migration: Some(migration.to_string()),
            extra: [("table", e.table.as_str()), ("lock", mode.as_str())]
                .into_iter()
                .chain(extra.iter().copied())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Evidence::default()
        };
        let mut push = |rule: &str, message: String, help: &str, extra: &[(&str, &str)]| {
            out.push(
                rules::finding(rule, message)
                    .help(help)
                    .at(file, Some(stmt))
                    .evidence(evidence(extra)),
            );
        };
        let table = &e.table;
        if e.rewrote {
            let help = if has_seq(&w, &["ADD", "COLUMN"])
                || (has_seq(&w, &["ADD"]) && has_seq(&w, &["DEFAULT"]))
            {
                "add the column without a volatile default, then backfill it in batches and set the default"
            } else if has_seq(&w, &["TYPE"]) {
                "add a new column of the new type, backfill it in batches, then switch reads and writes and drop the old one"
            } else {
                "avoid rewriting a large table under an ACCESS EXCLUSIVE lock: do the change in steps that do not rewrite"
            };
            push(
                "table-rewrite",
                format!(
                    "rewrites `{table}` while holding {a} {mode} lock: reads and writes wait for the whole rewrite"
                ),
                help,
                &[("rewrite", "true")],
            );
            continue;
        }
        if first == "CREATE" && has_seq(&w, &["INDEX"]) && !has_seq(&w, &["CONCURRENTLY"]) {
            push(
                "index-without-concurrently",
                format!(
                    "builds an index on `{table}` while holding {a} {mode} lock: writes wait until it is built"
                ),
                "use CREATE INDEX CONCURRENTLY, in a migration that runs outside a transaction",
                &[],
            );
            continue;
        }
        if first == "CREATE" && has_seq(&w, &["TRIGGER"]) {
            push(
                "trigger-on-existing-table",
                format!(
                    "creates a trigger on `{table}` while holding {a} {mode} lock; every write to it now runs the trigger"
                ),
                "make sure the trigger function is cheap and correct for existing rows; create it in a quiet period",
                &[],
            );
            continue;
        }
        if first != "ALTER" || !has_seq(&w, &["TABLE"]) {
            continue;
        }
        if (has_seq(&w, &["PRIMARY", "KEY"]) || has_seq(&w, &["UNIQUE"]))
            && has_seq(&w, &["ADD"])
            && !has_seq(&w, &["USING", "INDEX"])
        {
            push(
                "constraint-builds-index",
                format!(
                    "adds a primary key or unique constraint to `{table}`, building its index under {a} {mode} lock"
                ),
                "CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT … USING INDEX",
                &[],
            );
        } else if has_seq(&w, &["SET", "NOT", "NULL"]) && e.scanned {
            push(
                "validation-scan",
                format!("SET NOT NULL scans all of `{table}` while holding {a} {mode} lock"),
                "add CHECK (column IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT in a later migration, then SET NOT NULL (no scan since PostgreSQL 12)",
                &[("scan", "true")],
            );
        } else if has_seq(&w, &["ADD"])
            && (has_seq(&w, &["FOREIGN", "KEY"])
                || has_seq(&w, &["CHECK"])
                || has_seq(&w, &["REFERENCES"]))
            && !has_seq(&w, &["NOT", "VALID"])
        {
            push(
                "validation-scan",
                format!(
                    "adds a constraint to `{table}` and validates every row while holding {a} {mode} lock"
                ),
                "ADD CONSTRAINT … NOT VALID, then VALIDATE CONSTRAINT in a later migration (it takes a weaker lock)",
                &[("scan", if e.scanned { "true" } else { "false" })],
            );
        } else if has_seq(&w, &["DROP", "COLUMN"])
            || (has_seq(&w, &["DROP"])
                && !has_seq(&w, &["CONSTRAINT"])
                && !has_seq(&w, &["DEFAULT"])
                && !has_seq(&w, &["NOT", "NULL"])
                && !has_seq(&w, &["IDENTITY"])
                && !has_seq(&w, &["EXPRESSION"]))
        {
            push(
                "drop-column",
                format!(
                    "drops a column of `{table}`: its data is lost and running code that reads it breaks"
                ),
                "stop reading and writing the column in a release first, then drop it in a later migration",
                &[],
            );
        } else if has_seq(&w, &["RENAME"]) {
            push(
                "rename",
                format!("renames on `{table}`: running code that uses the old name breaks"),
                "add the new name alongside the old one (a view, or a new column kept in sync), switch the code, then drop the old",
                &[],
            );
        } else if e.mode == "AccessExclusiveLock" && !lock_timeout {
            push(
                "lock-without-timeout",
                format!(
                    "takes {a} {mode} lock on `{table}` with no lock_timeout: if a long query holds the table, this waits and every query behind it queues"
                ),
                "SET lock_timeout = '5s' at the start of the migration (and retry on timeout)",
                &[],
            );
        }
    }
    // DROP TABLE of a pre-existing table.
    if first == "DROP"
        && w.get(1).map(String::as_str) == Some("TABLE")
        && let Some(e) = effects.first()
    {
        out.push(
            rules::finding(
                "drop-table",
                format!(
                    "drops `{}`: its data is lost and running code that uses it breaks",
                    e.table
                ),
            )
            .help("stop using the table in a release first, then drop it in a later migration")
            .at(file, Some(stmt))
            .evidence(Evidence {
                migration: Some(migration.to_string()),
                extra: [("table".to_string(), e.table.clone())]
                    .into_iter()
                    .collect(),
                ..Evidence::default()
            }),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_modes_read_like_sql() {
        assert_eq!(mode_name("AccessExclusiveLock"), "ACCESS EXCLUSIVE");
        assert_eq!(mode_name("ShareRowExclusiveLock"), "SHARE ROW EXCLUSIVE");
        assert_eq!(mode_name("ShareLock"), "SHARE");
    }

    #[test]
    fn tracker_attributes_new_locks_rewrites_and_scans() {
        let mut t = Tracker::default();
        let seen = |mode: &str, node: i64, scans: i64| Seen {
            oid: 10,
            name: "public.t".into(),
            relfilenode: node,
            mode: mode.into(),
            scans,
        };
        // First statement in the transaction: a share lock, no rewrite (file node = OID), no scan.
        assert_eq!(
            t.observe(&[seen("ShareLock", 10, 0)]),
            vec![Effect {
                table: "public.t".into(),
                mode: "ShareLock".into(),
                rewrote: false,
                scanned: false
            }]
        );
        // Same lock again: nothing new.
        assert!(t.observe(&[seen("ShareLock", 10, 0)]).is_empty());
        // A stronger lock with a new file node and a scan.
        let e = t.observe(&[seen("AccessExclusiveLock", 99, 1)]);
        assert_eq!(e.len(), 1);
        assert!(e[0].rewrote && e[0].scanned);
        // A new transaction: the lock is new again, the file node is remembered.
        t.new_transaction();
        let e = t.observe(&[seen("AccessExclusiveLock", 99, 0)]);
        assert_eq!(e.len(), 1);
        assert!(!e[0].rewrote && !e[0].scanned);
    }

    #[test]
    fn statements_that_cannot_run_in_a_transaction_get_no_probe() {
        for (s, expected) in [
            ("CREATE INDEX CONCURRENTLY i ON t (a)", true),
            ("VACUUM t", true),
            ("COMMIT", true),
            ("CREATE INDEX i ON t (a)", false),
            ("ALTER TABLE t ADD COLUMN a int", false),
        ] {
            assert_eq!(
                cannot_run_in_transaction(s, Span::new(0, s.len())),
                expected,
                "{s}"
            );
        }
    }
}
