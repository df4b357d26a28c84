//! Lock and rewrite tracing: what each statement does to tables that existed before its migration.
//!
//! `replay` sends [`probe_statement`] after each statement in the same simple query, so the probe runs
//! in the statement's own transaction (implicit, or the runner's explicit one) and sees exactly the relation
//! locks the backend holds, before they are released at commit. Only relations the statement locked are
//! inspected, and only those older than the migration (their OID is at most the largest OID at the
//! migration's start): a table created earlier in the same migration is harmless. A rewrite shows as
//! `relfilenode` moving away from its previous value (a table PostgreSQL creates has `relfilenode` equal
//! to its OID; a partitioned table has no storage, so it never rewrites); a validation scan as
//! `pg_stat_get_xact_numscans` growing within the transaction.
//!
//! [`findings`] turns the observations into `lock` findings with the lock mode, the table and the safer
//! pattern. Statements that cannot run inside a transaction block (`CREATE INDEX CONCURRENTLY`, …) are
//! sent without a probe: they are the safe forms.

use std::collections::BTreeMap;

use pgrehearse_sql::{self as sql, Span};
use tokio_postgres::SimpleQueryRow;

use crate::model::{Evidence, Finding};
use crate::registry;

/// The name under which [`prepare`] registers the probe query in the replay session.
pub const PROBE_NAME: &str = "pgrehearse_lock_probe";

/// Registers the probe query as a prepared statement of the session: every relation lock this backend
/// holds on an ordinary or partitioned table whose OID is at most `$1`, with its file node, the
/// transaction's scan count, its kind (`r` ordinary, `p` partitioned) and the virtual transaction id
/// holding the lock; when `$2` is true, also its indexes with their storage ([`index_list`]). Listing
/// indexes reads `pg_index` and `pg_class` per table, which on a catalog a long replay has churned
/// costs more than the rest of the probe, so only statements that can rebuild indexes without a
/// rewrite ask for it ([`lists_indexes`]). A dropped table has no `pg_class` row any more and shows
/// with an empty name. Prepared once, the query is planned once instead of once per statement, which
/// keeps tracing cheap. Prepared statements are not transactional: a rolled-back migration leaves it
/// in place; only `DEALLOCATE` and `DISCARD ALL` remove it (see [`forgets_probe`]).
pub fn prepare() -> String {
    format!(
        "PREPARE {PROBE_NAME}(pg_catalog.int8, pg_catalog.bool) AS \
         SELECT l.relation::pg_catalog.int8, n.nspname, c.relname, c.relfilenode::int8, l.mode, \
         pg_catalog.pg_stat_get_xact_numscans(c.oid), c.relkind::text, l.virtualtransaction, \
         CASE WHEN $2 THEN {} END \
         FROM pg_catalog.pg_locks l \
         LEFT JOIN pg_catalog.pg_class c ON c.oid = l.relation \
         LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'relation' AND l.granted \
         AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()) \
         AND l.relation::pg_catalog.int8 <= $1 \
         AND (c.oid IS NULL OR (c.relkind IN ('r', 'p') \
         AND n.nspname NOT IN ('pg_catalog', 'information_schema')))",
        index_list("c.oid")
    )
}

/// The indexes of `table` (an OID expression) with their storage, `oid:filenode,…` in OID order (an
/// empty string for none): an index the statement rebuilt has a new file node.
fn index_list(table: &str) -> String {
    format!(
        "(SELECT coalesce(pg_catalog.string_agg(x.indexrelid::pg_catalog.text \
         OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||) xc.relfilenode::pg_catalog.text, ',' \
         ORDER BY x.indexrelid), '') FROM pg_catalog.pg_index x \
         JOIN pg_catalog.pg_class xc ON xc.oid = x.indexrelid WHERE x.indrelid = {table})"
    )
}

/// The probe sent after a statement in the same simple query (no `;`): runs the prepared probe for the
/// tables older than `threshold`, listing their indexes when `list_indexes`.
pub fn probe_statement(threshold: i64, list_indexes: bool) -> String {
    format!("EXECUTE {PROBE_NAME}({threshold}, {list_indexes})")
}

/// Whether the statement can rebuild a table's indexes without rewriting it, which only comparing its
/// indexes before and after tells: `ALTER TABLE … ALTER COLUMN … TYPE` (a new collation or operator
/// class).
pub fn lists_indexes(text: &str, stmt: Span) -> bool {
    sql::leading_keywords(text, stmt, 1)
        .first()
        .is_some_and(|k| k == "ALTER")
        && sql::significant_tokens(text, stmt)
            .iter()
            .any(|t| t.is_word(text, "TYPE"))
}

/// A table's name as written, each part quoted: `"app"."Users"`, the form `to_regclass` reads back.
pub fn qualified(name: &sql::ObjectName) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    match &name.schema {
        Some(schema) => format!("{}.{}", quote(schema), quote(&name.name)),
        None => quote(&name.name),
    }
}

/// A [`qualified`] name as an `E''` string literal, which reads the same whatever
/// `standard_conforming_strings` the migrations set.
pub fn regclass_literal(qualified: &str) -> String {
    format!("E'{}'", qualified.replace('\\', "\\\\").replace('\'', "''"))
}

/// The query sent just before a statement that [`lists_indexes`]: its table's OID and indexes, which
/// the probe's list after it is compared with. `None` when the statement names no table.
pub fn index_list_query(text: &str, stmt: Span) -> Option<String> {
    let target = sql::target(text, stmt)?;
    if target.kind != sql::TargetKind::Table {
        return None;
    }
    let literal = regclass_literal(&qualified(&target.name));
    Some(format!(
        "SELECT c::pg_catalog.oid::pg_catalog.int8, {} FROM pg_catalog.to_regclass({literal}) AS c \
         WHERE c IS NOT NULL",
        index_list("c::pg_catalog.oid")
    ))
}

fn parse_index_list(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether a statement in `span` removes the session's prepared statements (`DEALLOCATE`, `DISCARD`),
/// so the probe has to be prepared again before its next use.
pub fn forgets_probe(text: &str, span: Span) -> bool {
    let inner = span.slice(text);
    sql::split(inner).iter().any(|s| {
        sql::leading_keywords(inner, s.code, 1)
            .first()
            .is_some_and(|k| k == "DEALLOCATE" || k == "DISCARD")
    })
}

/// Whether `error` is the probe's own prepared statement having gone missing.
pub fn probe_missing(error: &tokio_postgres::error::DbError) -> bool {
    error.code() == &tokio_postgres::error::SqlState::INVALID_SQL_STATEMENT_NAME
        && error.message().contains(PROBE_NAME)
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
    /// A partitioned table: it has no storage of its own (`relfilenode` 0) and its indexes cannot be
    /// built concurrently.
    pub partitioned: bool,
    /// The virtual transaction id of the statement's transaction (empty when unknown).
    pub vxid: String,
    /// Its indexes with their storage (`oid:filenode`), when the probe listed them.
    pub indexes: Option<Vec<String>>,
}

/// Parses the probe's rows: one entry per table, with its strongest lock. Relations the statement
/// dropped (locked, but gone from `pg_class` within the transaction: the table and its indexes and
/// TOAST table) become one entry with an empty name, the oldest of them.
pub fn parse(rows: &[SimpleQueryRow]) -> Vec<Seen> {
    let mut by_oid: BTreeMap<i64, Seen> = BTreeMap::new();
    let mut dropped: Option<i64> = None;
    let mut vxid = String::new();
    for row in rows {
        let get = |i: usize| row.get(i).unwrap_or("");
        vxid = get(7).to_string();
        let oid = match (get(1), get(0).parse::<i64>()) {
            ("", Ok(oid)) => {
                dropped = Some(dropped.map_or(oid, |d| d.min(oid)));
                continue;
            }
            (_, Ok(oid)) => oid,
            (_, Err(_)) => continue,
        };
        let seen = Seen {
            oid,
            name: format!("{}.{}", get(1), get(2)),
            relfilenode: get(3).parse().unwrap_or(oid),
            mode: get(4).to_string(),
            scans: get(5).parse().unwrap_or(0),
            partitioned: get(6) == "p",
            vxid: get(7).to_string(),
            indexes: row.get(8).map(parse_index_list),
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
    if let Some(oid) = dropped {
        by_oid.entry(oid).or_insert(Seen {
            oid,
            name: String::new(),
            relfilenode: oid,
            mode: "AccessExclusiveLock".to_string(),
            scans: 0,
            partitioned: false,
            vxid,
            indexes: None,
        });
    }
    by_oid.into_values().collect()
}

/// What one statement did to one pre-existing table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effect {
    pub table: String,
    /// The strongest lock held on the table after the statement.
    pub mode: String,
    /// The statement took that lock: the transaction held none, or a weaker one, before it.
    pub new_lock: bool,
    pub rewrote: bool,
    pub scanned: bool,
    pub partitioned: bool,
    /// Indexes of the table the statement built again (new storage for an existing index: a type or
    /// collation change), or built new.
    pub rebuilt_indexes: i64,
}

/// Tracks probes within one migration to attribute locks, rewrites and scans to statements.
/// Serializable: a cached replay prefix keeps it, so that the migrations replayed after the prefix see
/// what a replay from scratch would have remembered (see `crate::cache`).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Tracker {
    /// Per table: the strongest lock held so far in the transaction, the file node and scan count seen.
    held: BTreeMap<i64, (String, i64, i64)>,
    /// File nodes seen before, across transactions (a new table's file node is its OID).
    filenodes: BTreeMap<i64, i64>,
    /// The virtual transaction id of the last probe that saw a lock.
    vxid: Option<String>,
    /// [`Tracker::new_transaction`] was called since that probe.
    reset: bool,
    /// Per table: the backend's pending scan count at its last probe, across transactions (the count
    /// is not per transaction: it grows until PostgreSQL flushes it).
    scans: BTreeMap<i64, i64>,
    /// Per table: its indexes with their storage just before the statement running now, when that
    /// statement [`lists_indexes`].
    indexes: BTreeMap<i64, Vec<String>>,
    /// The next probe's transaction continues the one remembered (see [`Tracker::continue_transaction`]).
    #[serde(default)]
    adopt: bool,
}

impl Tracker {
    /// A new transaction may begin: locks and per-transaction scan counts start over, unless the next
    /// probe shows the same transaction still open (a `BEGIN` written in an autocommit file keeps one
    /// transaction across statements the runner sends one by one).
    pub fn new_transaction(&mut self) {
        self.reset = true;
    }

    /// The transaction the next probe sees continues the one remembered, although its id differs: a
    /// replay resumed from a cached prefix of a runner that applies every pending migration in one
    /// transaction, whose earlier part was committed into the cache.
    pub fn continue_transaction(&mut self) {
        self.adopt = true;
    }

    /// Scan counts `(oid, count)` read before a migration: the base its statements' scans count from.
    pub fn baseline(&mut self, counts: &[(i64, i64)]) {
        self.scans.extend(counts.iter().copied());
    }

    /// The storage of tables `(oid, file node)` read when a migration starts: a rewrite is a file node
    /// that moved away from this one, whatever happened to the table before (created and rewritten by
    /// an earlier migration, …). Also called for some tables within a migration, after a statement
    /// lock tracing could not follow.
    pub fn storage(&mut self, tables: &[(i64, i64)]) {
        for &(oid, node) in tables {
            self.filenodes.insert(oid, node);
        }
    }

    /// A table's indexes just before a statement that [`lists_indexes`] (the rows of
    /// [`index_list_query`]).
    pub fn indexes_before(&mut self, rows: &[SimpleQueryRow]) {
        self.indexes.clear();
        for row in rows {
            if let (Some(Ok(oid)), Some(list)) = (row.get(0).map(str::parse::<i64>), row.get(1)) {
                self.indexes.insert(oid, parse_index_list(list));
            }
        }
    }

    #[cfg(test)]
    fn indexes_of(&mut self, oid: i64, list: &str) {
        self.indexes.insert(oid, parse_index_list(list));
    }

    /// Effects of the statement whose probe returned `seen`.
    pub fn observe(&mut self, seen: &[Seen]) -> Vec<Effect> {
        if let Some(s) = seen.first() {
            if self.adopt {
                self.adopt = false;
            } else if self.reset
                && (s.vxid.is_empty() || self.vxid.as_deref() != Some(s.vxid.as_str()))
            {
                self.held.clear();
            }
            self.reset = false;
            self.vxid = Some(s.vxid.clone()).filter(|v| !v.is_empty());
        }
        let mut effects = Vec::new();
        for s in seen {
            let before_node = *self.filenodes.get(&s.oid).unwrap_or(&s.oid);
            let prev_mode = self
                .held
                .get(&s.oid)
                .map(|(m, _, _)| m.clone())
                .unwrap_or_default();
            let prev_scans = self.scans.get(&s.oid).copied().unwrap_or(0);
            let stronger = prev_mode.is_empty() || strength(&s.mode) > strength(&prev_mode);
            // A partitioned table has no storage: its file node is 0 and never tells a rewrite.
            let rewrote = !s.name.is_empty() && !s.partitioned && s.relfilenode != before_node;
            // A count below the last one means PostgreSQL flushed at idle before this statement.
            let scanned = if s.scans < prev_scans {
                s.scans > 0
            } else {
                s.scans > prev_scans
            };
            self.scans.insert(s.oid, s.scans);
            // A table first seen now (not read when the migration started): no increase to attribute.
            // Indexes with storage the statement gave them. A type change that keeps an index's data
            // creates it again under a new OID on the same file node: not a rebuild.
            let rebuilt_indexes = match (&s.indexes, self.indexes.remove(&s.oid)) {
                (Some(after), Some(before)) => {
                    let node = |i: &String| i.rsplit(':').next().unwrap_or_default().to_string();
                    let kept: Vec<String> = before.iter().map(node).collect();
                    after.iter().filter(|i| !kept.contains(&node(i))).count() as i64
                }
                _ => 0,
            };
            // Every locked table is reported: what the statement did to it (a dropped column, a
            // rename) matters even when an earlier statement of the transaction took the lock.
            effects.push(Effect {
                table: s.name.clone(),
                mode: s.mode.clone(),
                new_lock: stronger,
                rewrote,
                scanned,
                partitioned: s.partitioned,
                rebuilt_indexes,
            });
            let mode = if stronger { s.mode.clone() } else { prev_mode };
            self.held.insert(s.oid, (mode, s.relfilenode, s.scans));
            self.filenodes.insert(s.oid, s.relfilenode);
        }
        effects
    }
}

/// Whether a statement cannot run inside a transaction block (it is sent without a probe).
pub fn cannot_run_in_transaction(text: &str, stmt: Span) -> bool {
    if sql::leading_keywords(text, stmt, 2) == ["ALTER", "TABLE"] {
        // `ALTER TABLE … DETACH PARTITION … CONCURRENTLY` refuses a transaction block.
        let w = words(text, stmt);
        if has_seq(&w, &["DETACH", "PARTITION"]) && w.iter().any(|x| x == "CONCURRENTLY") {
            return true;
        }
    }
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

/// Whether a statement can neither lock, rewrite nor scan a table that existed before it, so it needs
/// no probe: session settings, comments, `DEALLOCATE`, and the creation of types, functions, schemas, sequences,
/// roles, extensions and of tables that name no other table. Skipping their probes keeps tracing
/// cheap; a weak lock some of them take (a comment's, a function body's parse) never makes a finding.
pub fn leaves_existing_tables_alone(text: &str, stmt: Span) -> bool {
    let mut words = sql::leading_keywords(text, stmt, 6);
    match words.first().map(String::as_str) {
        // `DEALLOCATE` / `DISCARD` would also remove the probe before it runs.
        Some("SET" | "RESET" | "SHOW" | "COMMENT" | "DEALLOCATE" | "DISCARD") => return true,
        Some("CREATE") => {}
        _ => return false,
    }
    words.remove(0);
    if words.first().map(String::as_str) == Some("OR")
        && words.get(1).map(String::as_str) == Some("REPLACE")
    {
        words.drain(..2);
    }
    // `CREATE [GLOBAL|LOCAL] [TEMP|TEMPORARY|UNLOGGED] TABLE`.
    while words.first().is_some_and(|w| {
        matches!(
            w.as_str(),
            "GLOBAL" | "LOCAL" | "TEMP" | "TEMPORARY" | "UNLOGGED"
        )
    }) {
        words.remove(0);
    }
    match words.first().map(String::as_str) {
        Some(
            "TYPE" | "DOMAIN" | "SCHEMA" | "SEQUENCE" | "FUNCTION" | "PROCEDURE" | "ROLE" | "USER"
            | "GROUP" | "EXTENSION" | "COLLATION",
        ) => true,
        Some("TABLE") => {
            let w = self::words(text, stmt);
            !w.iter().any(|x| {
                matches!(
                    x.as_str(),
                    "REFERENCES" | "PARTITION" | "INHERITS" | "LIKE" | "AS" | "OF"
                )
            })
        }
        _ => false,
    }
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
    // A dropped table is gone from the catalog when the probe runs: name it from the statement.
    let dropped_name = || {
        sql::target(text, stmt)
            .map(|t| match t.name.schema {
                Some(schema) => format!("{schema}.{}", t.name.name),
                None => format!("public.{}", t.name.name),
            })
            .unwrap_or_else(|| "the dropped table".to_string())
    };
    let named: Vec<Effect> = effects
        .iter()
        .map(|e| Effect {
            table: if e.table.is_empty() {
                dropped_name()
            } else {
                e.table.clone()
            },
            ..e.clone()
        })
        .collect();
    let effects = named.as_slice();
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
                registry::finding(rule, message)
                    .help(help)
                    .at(file, Some(stmt))
                    .evidence(evidence(extra)),
            );
        };
        let table = &e.table;
        // Lock rules need something new from this statement: a lock the transaction did not hold, a
        // rewrite or a scan. Rules about what the statement does (drop, rename, trigger) do not.
        let fresh = e.new_lock || e.rewrote || e.scanned;
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
            // `ADD COLUMN id serial PRIMARY KEY`: the rewrite, and the key's index built with it.
            if first == "ALTER"
                && has_seq(&w, &["ADD"])
                && (has_seq(&w, &["PRIMARY", "KEY"]) || has_seq(&w, &["UNIQUE"]))
                && !has_seq(&w, &["USING", "INDEX"])
            {
                push(
                    "constraint-builds-index",
                    format!(
                        "adds a primary key or unique constraint to `{table}`, building its index under {a} {mode} lock"
                    ),
                    "add the column without the constraint, CREATE UNIQUE INDEX CONCURRENTLY on it, then ADD CONSTRAINT … USING INDEX",
                    &[],
                );
            }
            continue;
        }
        if first == "ALTER" && e.rebuilt_indexes > 0 && has_seq(&w, &["TYPE"]) {
            let n = e.rebuilt_indexes.to_string();
            let indexes = if e.rebuilt_indexes == 1 {
                "an index".to_string()
            } else {
                format!("{n} indexes")
            };
            push(
                "table-rewrite",
                format!(
                    "rebuilds {indexes} of `{table}` (the column's collation or operator class changes) while holding {a} {mode} lock: reads and writes wait until every index is rebuilt"
                ),
                "add a new column with the new type or collation, backfill it in batches, CREATE INDEX CONCURRENTLY on it, then switch reads and writes and drop the old column",
                &[("rebuilt-indexes", n.as_str())],
            );
            continue;
        }
        if first == "CREATE" && has_seq(&w, &["INDEX"]) && !has_seq(&w, &["CONCURRENTLY"]) {
            if !fresh {
                continue;
            }
            if e.partitioned {
                push(
                    "index-without-concurrently",
                    format!(
                        "builds an index on partitioned table `{table}` and on every partition while holding {a} {mode} lock on each: writes wait until all are built (a partitioned table's index cannot be built CONCURRENTLY)"
                    ),
                    "CREATE INDEX … ON ONLY the partitioned table (instant, left invalid), CREATE INDEX CONCURRENTLY on each partition, then ALTER INDEX … ATTACH PARTITION each one (the parent index becomes valid when all are attached)",
                    &[("partitioned", "true")],
                );
            } else {
                push(
                    "index-without-concurrently",
                    format!(
                        "builds an index on `{table}` while holding {a} {mode} lock: writes wait until it is built"
                    ),
                    "use CREATE INDEX CONCURRENTLY, in a migration that runs outside a transaction",
                    &[],
                );
            }
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
        if has_seq(&w, &["VALIDATE", "CONSTRAINT"])
            && e.scanned
            && strength(&e.mode) > strength("ShareUpdateExclusiveLock")
        {
            push(
                "validation-scan",
                format!(
                    "VALIDATE CONSTRAINT scans all of `{table}` while its transaction still holds the {mode} lock an earlier statement took (adding the constraint NOT VALID): the split only helps when the validation runs in a later transaction"
                ),
                "commit between ADD CONSTRAINT … NOT VALID and VALIDATE CONSTRAINT (validate in a later migration, or in a transaction of its own): alone, VALIDATE takes only a SHARE UPDATE EXCLUSIVE lock",
                &[("scan", "true"), ("same-transaction", "true")],
            );
        } else if fresh && has_seq(&w, &["ADD"]) && has_seq(&w, &["EXCLUDE"]) {
            push(
                "constraint-builds-index",
                format!(
                    "adds an exclusion constraint to `{table}`, building its index and checking every row under {a} {mode} lock"
                ),
                "an exclusion constraint can be neither NOT VALID nor built from an existing index: add it while the table is small, or in a maintenance window with a lock_timeout",
                &[("constraint", "exclude")],
            );
        } else if fresh
            && (has_seq(&w, &["PRIMARY", "KEY"]) || has_seq(&w, &["UNIQUE"]))
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
        } else if e.scanned
            && has_seq(&w, &["ADD"])
            && has_seq(&w, &["PRIMARY", "KEY"])
            && has_seq(&w, &["USING", "INDEX"])
        {
            push(
                "validation-scan",
                format!(
                    "ADD PRIMARY KEY USING INDEX sets the key columns NOT NULL, scanning all of `{table}` while holding {a} {mode} lock (a key column is nullable)"
                ),
                "make the key columns NOT NULL first without a scan: ADD CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT in a later migration, SET NOT NULL, then ADD PRIMARY KEY USING INDEX",
                &[("scan", "true")],
            );
        } else if has_seq(&w, &["SET", "NOT", "NULL"]) && e.scanned {
            push(
                "validation-scan",
                format!("SET NOT NULL scans all of `{table}` while holding {a} {mode} lock"),
                "add CHECK (column IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT in a later migration, then SET NOT NULL (no scan since PostgreSQL 12)",
                &[("scan", "true")],
            );
        } else if fresh
            && has_seq(&w, &["ADD"])
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
        } else if fresh
            && has_seq(&w, &["DETACH", "PARTITION"])
            && !has_seq(&w, &["CONCURRENTLY"])
            && !has_seq(&w, &["FINALIZE"])
        {
            push(
                "detach-partition-without-concurrently",
                format!(
                    "detaches a partition from `{table}` while holding {a} {mode} lock: reads and writes of the whole partitioned table wait"
                ),
                "ALTER TABLE … DETACH PARTITION … CONCURRENTLY (PostgreSQL 14+), in a migration that runs outside a transaction; it takes only a SHARE UPDATE EXCLUSIVE lock",
                &[],
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
        } else if has_seq(&w, &["SET", "SCHEMA"]) {
            let old = sql::target(text, stmt)
                .map(|t| match t.name.schema {
                    Some(schema) => format!("{schema}.{}", t.name.name),
                    None => t.name.name,
                })
                .unwrap_or_else(|| "the table".to_string());
            push(
                "rename",
                format!(
                    "moves `{old}` to `{table}`: running code that uses its old qualified name (or finds it through search_path) breaks"
                ),
                "leave a view under the old name while the code switches, or move it in a release that no longer uses the old name",
                &[("set-schema", "true")],
            );
        } else if e.new_lock && e.mode == "AccessExclusiveLock" && !lock_timeout {
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
            registry::finding(
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
            partitioned: false,
            vxid: String::new(),
            indexes: None,
        };
        // First statement in the transaction: a share lock, no rewrite (file node = OID), no scan.
        assert_eq!(
            t.observe(&[seen("ShareLock", 10, 0)]),
            vec![Effect {
                table: "public.t".into(),
                mode: "ShareLock".into(),
                new_lock: true,
                rewrote: false,
                scanned: false,
                partitioned: false,
                rebuilt_indexes: 0,
            }]
        );
        // Same lock again: nothing new.
        let e = t.observe(&[seen("ShareLock", 10, 0)]);
        assert!(!e[0].new_lock && !e[0].rewrote && !e[0].scanned);
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
    fn a_partitioned_table_never_counts_as_rewritten() {
        // A partitioned table has no storage: pg_class.relfilenode is 0, not its OID.
        let mut t = Tracker::default();
        let parent = Seen {
            oid: 20,
            name: "public.events".into(),
            relfilenode: 0,
            mode: "AccessExclusiveLock".into(),
            scans: 0,
            partitioned: true,
            vxid: "3/7".into(),
            indexes: None,
        };
        let e = t.observe(&[parent]);
        assert_eq!(e.len(), 1);
        assert!(!e[0].rewrote && e[0].partitioned);
    }

    #[test]
    fn a_begin_in_the_file_keeps_one_transaction_across_statements() {
        let mut t = Tracker::default();
        let seen = |vxid: &str, scans: i64| Seen {
            oid: 10,
            name: "public.t".into(),
            relfilenode: 10,
            mode: "AccessExclusiveLock".into(),
            scans,
            partitioned: false,
            vxid: vxid.into(),
            indexes: None,
        };
        assert!(t.observe(&[seen("3/7", 1)])[0].new_lock);
        // The runner sends the next statement on its own, but the file's BEGIN is still open: the
        // same lock and scan count are nothing new.
        t.new_transaction();
        let e = t.observe(&[seen("3/7", 1)]);
        assert!(!e[0].new_lock && !e[0].scanned);
        // A statement that locks nothing old says nothing about the transaction.
        t.new_transaction();
        assert!(t.observe(&[]).is_empty());
        // A really new transaction starts over for locks; the scan count is the backend's, so the
        // same count is no new scan and a higher one is.
        let e = t.observe(&[seen("3/8", 1)]);
        assert!(e[0].new_lock && !e[0].scanned);
        t.new_transaction();
        let e = t.observe(&[seen("3/9", 2)]);
        assert!(e[0].new_lock && e[0].scanned);
        // A migration's baseline is where its scans count from: the same count is no scan.
        t.baseline(&[(10, 7)]);
        t.new_transaction();
        assert!(!t.observe(&[seen("3/10", 7)])[0].scanned);
        t.new_transaction();
        assert!(t.observe(&[seen("3/12", 8)])[0].scanned);
        // A count that dropped means PostgreSQL flushed at idle before the statement.
        t.new_transaction();
        let e = t.observe(&[seen("3/11", 0)]);
        assert!(!e[0].scanned);
    }

    fn effect(table: &str, mode: &str, partitioned: bool) -> Effect {
        Effect {
            table: table.into(),
            mode: mode.into(),
            new_lock: true,
            rewrote: false,
            scanned: false,
            partitioned,
            rebuilt_indexes: 0,
        }
    }

    fn rules_of(sql: &str, effects: &[Effect], lock_timeout: bool) -> Vec<String> {
        findings(
            sql,
            Span::new(0, sql.len()),
            effects,
            lock_timeout,
            std::path::Path::new("m.sql"),
            "m",
        )
        .into_iter()
        .map(|f| f.rule)
        .collect()
    }

    #[test]
    fn detach_exclude_set_schema_and_partitioned_indexes() {
        let ae = |p| effect("public.t", "AccessExclusiveLock", p);
        assert_eq!(
            rules_of("ALTER TABLE t DETACH PARTITION t_2020", &[ae(true)], true),
            ["detach-partition-without-concurrently"]
        );
        assert!(
            rules_of(
                "ALTER TABLE t DETACH PARTITION t_2020 FINALIZE",
                &[ae(true)],
                true
            )
            .is_empty()
        );
        assert_eq!(
            rules_of(
                "ALTER TABLE t ADD CONSTRAINT no_overlap EXCLUDE USING gist (r WITH &&)",
                &[ae(false)],
                true
            ),
            ["constraint-builds-index"]
        );
        assert_eq!(
            rules_of("ALTER TABLE t SET SCHEMA archive", &[ae(false)], true),
            ["rename"]
        );
        let f = findings(
            "CREATE INDEX ON t (a)",
            Span::new(0, 21),
            &[effect("public.t", "ShareLock", true)],
            true,
            std::path::Path::new("m.sql"),
            "m",
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule, "index-without-concurrently");
        assert!(f[0].help.as_deref().unwrap_or("").contains("ON ONLY"));
    }

    #[test]
    fn the_storage_read_at_a_migration_start_is_the_base_of_rewrites_and_index_rebuilds() {
        let mut t = Tracker::default();
        let seen = |node: i64, indexes: Option<&str>| Seen {
            oid: 10,
            name: "public.t".into(),
            relfilenode: node,
            mode: "AccessExclusiveLock".into(),
            scans: 0,
            partitioned: false,
            vxid: "3/7".into(),
            indexes: indexes.map(parse_index_list),
        };
        // Rewritten by the migration that created it (file node 99, not its OID): no rewrite now.
        t.storage(&[(10, 99)]);
        let e = t.observe(&[seen(99, None)]);
        assert!(!e[0].rewrote && e[0].rebuilt_indexes == 0);
        // Three indexes before a type change: one rebuilt (new file node), one created again on the
        // same storage (new OID, same file node: kept), one untouched.
        t.indexes_of(10, "11:11,12:12,13:13");
        let e = t.observe(&[seen(99, Some("11:11,12:200,14:13"))]);
        assert!(!e[0].rewrote && e[0].rebuilt_indexes == 1);
        // Without a list before the statement, nothing is counted.
        let e = t.observe(&[seen(120, Some("11:300"))]);
        assert!(e[0].rewrote && e[0].rebuilt_indexes == 0);
        // The next migration reads the storage again: rewrites count from there.
        t.storage(&[(10, 120)]);
        t.new_transaction();
        let e = t.observe(&[seen(120, None)]);
        assert!(!e[0].rewrote && e[0].rebuilt_indexes == 0);
    }

    #[test]
    fn validation_under_a_held_lock_primary_key_scans_and_index_rebuilds() {
        let with = |mode: &str, new_lock: bool, scanned: bool, rebuilt: i64| Effect {
            new_lock,
            scanned,
            rebuilt_indexes: rebuilt,
            ..effect("public.t", mode, false)
        };
        let validate = "ALTER TABLE t VALIDATE CONSTRAINT c";
        assert_eq!(
            rules_of(
                validate,
                &[with("AccessExclusiveLock", false, true, 0)],
                true
            ),
            ["validation-scan"]
        );
        assert_eq!(
            rules_of(
                validate,
                &[with("ShareRowExclusiveLock", false, true, 0)],
                true
            ),
            ["validation-scan"]
        );
        // In a transaction of its own: SHARE UPDATE EXCLUSIVE, the point of the split.
        assert!(
            rules_of(
                validate,
                &[with("ShareUpdateExclusiveLock", true, true, 0)],
                true
            )
            .is_empty()
        );
        let pk = "ALTER TABLE t ADD CONSTRAINT t_pkey PRIMARY KEY USING INDEX t_id_idx";
        assert_eq!(
            rules_of(pk, &[with("AccessExclusiveLock", true, true, 0)], true),
            ["validation-scan"]
        );
        assert!(rules_of(pk, &[with("AccessExclusiveLock", true, false, 0)], true).is_empty());
        let collate = "ALTER TABLE t ALTER COLUMN c TYPE text COLLATE \"C\"";
        assert_eq!(
            rules_of(
                collate,
                &[with("AccessExclusiveLock", true, false, 2)],
                true
            ),
            ["table-rewrite"]
        );
        assert!(
            rules_of(
                collate,
                &[with("AccessExclusiveLock", true, false, 0)],
                true
            )
            .is_empty()
        );
        let serial = Effect {
            rewrote: true,
            ..effect("public.t", "AccessExclusiveLock", false)
        };
        assert_eq!(
            rules_of(
                "ALTER TABLE t ADD COLUMN id serial PRIMARY KEY",
                std::slice::from_ref(&serial),
                true
            ),
            ["table-rewrite", "constraint-builds-index"]
        );
        assert_eq!(
            rules_of(
                "ALTER TABLE t ADD COLUMN n int DEFAULT random()",
                &[serial],
                true
            ),
            ["table-rewrite"]
        );
    }

    #[test]
    fn a_lock_already_held_still_reports_drops_and_renames_but_no_lock_rules() {
        let held = Effect {
            new_lock: false,
            ..effect("public.t", "AccessExclusiveLock", false)
        };
        assert_eq!(
            rules_of(
                "ALTER TABLE t RENAME COLUMN a TO b",
                std::slice::from_ref(&held),
                true
            ),
            ["rename"]
        );
        assert_eq!(
            rules_of(
                "ALTER TABLE t DROP COLUMN a",
                std::slice::from_ref(&held),
                true
            ),
            ["drop-column"]
        );
        assert!(
            rules_of(
                "ALTER TABLE t ADD COLUMN a int",
                std::slice::from_ref(&held),
                false
            )
            .is_empty()
        );
        assert!(rules_of("CREATE INDEX ON t (a)", std::slice::from_ref(&held), false).is_empty());
        assert!(rules_of("ALTER TABLE t ADD UNIQUE (a)", &[held], false).is_empty());
    }

    #[test]
    fn statements_that_cannot_touch_existing_tables_get_no_probe() {
        for (s, expected) in [
            ("SET lock_timeout = '2s'", true),
            ("COMMENT ON TABLE t IS 'x'", true),
            ("CREATE TYPE mood AS ENUM ('a')", true),
            (
                "CREATE OR REPLACE FUNCTION f() RETURNS int AS 'select 1' LANGUAGE sql",
                true,
            ),
            ("CREATE TABLE IF NOT EXISTS n (id int PRIMARY KEY)", true),
            ("CREATE UNLOGGED TABLE n (id int)", true),
            ("CREATE TABLE n (id int REFERENCES t (id))", false),
            ("CREATE TABLE n PARTITION OF t FOR VALUES IN (1)", false),
            ("CREATE TABLE n (LIKE t)", false),
            ("CREATE TABLE n AS SELECT * FROM t", false),
            ("CREATE INDEX i ON t (a)", false),
            (
                "CREATE TRIGGER g BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION f()",
                false,
            ),
            (
                "CREATE OR REPLACE TRIGGER g BEFORE UPDATE ON t EXECUTE FUNCTION f()",
                false,
            ),
            ("ALTER TABLE t ADD COLUMN a int", false),
            ("SELECT f()", false),
            ("DO $$ BEGIN ALTER TABLE t ADD COLUMN a int; END $$", false),
        ] {
            assert_eq!(
                leaves_existing_tables_alone(s, Span::new(0, s.len())),
                expected,
                "{s}"
            );
        }
    }

    #[test]
    fn statements_that_cannot_run_in_a_transaction_get_no_probe() {
        for (s, expected) in [
            ("CREATE INDEX CONCURRENTLY i ON t (a)", true),
            ("VACUUM t", true),
            ("COMMIT", true),
            ("CREATE INDEX i ON t (a)", false),
            ("ALTER TABLE t ADD COLUMN a int", false),
            ("ALTER TABLE t DETACH PARTITION t_1 CONCURRENTLY", true),
            ("ALTER TABLE t DETACH PARTITION t_1", false),
        ] {
            assert_eq!(
                cannot_run_in_transaction(s, Span::new(0, s.len())),
                expected,
                "{s}"
            );
        }
    }
}
