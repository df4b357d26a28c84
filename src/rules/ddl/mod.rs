//! Static DDL rules: statements whose hazard shows in the text alone, with no database.
//!
//! Each migration is read the way its runner sends it (`Migration::batches`, so only the Up part of a
//! file), statement by statement, with the `pgrehearse_sql` tokenizer: comments, strings and
//! dollar-quoted bodies never match (only the security rules look into the dollar-quoted bodies of
//! `DO` blocks and `sql` / `plpgsql` routines, lexing them as SQL). A statement the rules do not understand gives no finding, and the
//! walk goes on with the next one.
//!
//! Like the lock rules observed during replay, the rules about existing objects stay quiet on objects
//! created earlier in the same migration file (a `CREATE TABLE` followed by changes to that table is
//! harmless: nothing uses it yet). Renames of such objects are followed. Some rules also look ahead in
//! the same migration: a dropped view that is re-created, a dropped constraint that is added again, a
//! trigger that is enabled again, a column that is backfilled before `SET NOT NULL`.
//!
//! Rules (ids in [`IDS`]):
//!
//! - data-dependent: `add-required-column`, `not-null-on-existing-data`, `unique-on-existing-data`
//!   (the statement fails or not depending on the rows; a replay on an empty database always
//!   succeeds);
//! - locks the replay does not trace (statements that run outside a transaction, or whose lock falls on
//!   an index): `drop-index-without-concurrently`, `reindex-without-concurrently`,
//!   `vacuum-full-or-cluster`;
//! - destructive: `drop-database`, `drop-schema`, `drop-object`, `truncate-table`;
//! - backward-incompatible: `drop-not-null`, `drop-default`, `drop-constraint`, `identity-change`,
//!   `generated-column-change`, `replica-identity-change`, `disable-trigger`, and `rename` for objects
//!   other than tables (table renames are observed during replay);
//! - operations: `autovacuum-disabled`, `domain-constraint`, `identifier-too-long`;
//! - column types (style, notices): `char-column`, `prefer-text`, `prefer-bigint`, `prefer-identity`,
//!   `prefer-timestamptz`;
//! - security (category `security`): `copy-program`, `server-file-access`, `untrusted-language`,
//!   `alter-system`, `security-definer-search-path`, `grant-write-to-public`, `superuser-role`,
//!   `plain-text-password` (see `security.rs` for which routine bodies are read).

use std::collections::HashMap;

use pgrehearse_sql::{self as sql, Span, Token, TokenKind, ident};

use crate::cap::Bounded;
use crate::model::{Evidence, Finding};
use crate::registry::finding;
use crate::runner::{Migration, MigrationSet};

mod alter_other;
mod alter_table;
mod columns;
mod create;
mod drop;
mod facts;
mod maintenance;
mod security;
mod stmt;
#[cfg(test)]
mod tests;

use alter_other::*;
use alter_table::*;
use columns::*;
use create::*;
use drop::*;
use facts::*;
use maintenance::*;
use security::*;
use stmt::*;

/// Every rule id this module reports (all static: `pgrehearse lint` reports them).
pub use crate::registry::DDL_IDS as IDS;

/// PostgreSQL's longest identifier in bytes (NAMEDATALEN - 1).
const MAX_IDENTIFIER: usize = 63;

/// Findings of every static DDL rule on every migration of the set.
pub fn findings(set: &MigrationSet) -> Vec<Finding> {
    findings_from(set, 0, Carried::default()).0
}

/// What the DDL rules carry from one migration of a set to the next (and nothing else reaches a
/// later migration): what the migrations so far prove about the data. Serializable, so a cache can
/// keep it with the findings of the migrations it follows.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Carried(Proven);

/// Findings of every static DDL rule on migrations `start..` of the set, continuing from `carried`
/// (what migrations `..start` left), and what the set's last migration leaves. With
/// [`Carried::default`] and `start` 0, [`findings`].
pub fn findings_from(
    set: &MigrationSet,
    start: usize,
    carried: Carried,
) -> (Vec<Finding>, Carried) {
    let rest = set.migrations.get(start..).unwrap_or_default();
    let (found, proven) = findings_in_from(rest, carried.0);
    (found, Carried(proven))
}

/// Findings of the migrations of one set, in order: what an earlier one proves carries to the later.
#[cfg(test)]
fn findings_in(migrations: &[Migration]) -> Vec<Finding> {
    findings_in_from(migrations, Proven::default()).0
}

fn findings_in_from(migrations: &[Migration], mut proven: Proven) -> (Vec<Finding>, Proven) {
    let mut out = Bounded::new();
    for m in migrations {
        if m.blocked.is_some() {
            // A code migration, or one the runner refuses: none of it runs.
            continue;
        }
        migration_findings(m, &mut proven, &mut out);
    }
    (out.finish(), proven)
}

/// What the migrations so far prove about the data, carried from one migration to the next.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Proven {
    /// `CHECK (col IS NOT NULL) NOT VALID` constraints not validated yet: table, constraint, column.
    pending: Vec<(Name, String, String)>,
    /// Columns a validated `CHECK (col IS NOT NULL)` keeps free of NULLs: table, column.
    not_null: Vec<(Name, String)>,
    /// Routines whose definition fixes their search_path (`SET search_path` in `CREATE FUNCTION`
    /// or `ALTER FUNCTION`).
    fixed_path: Vec<Name>,
}

impl Proven {
    fn learn(&mut self, fact: &Fact) {
        match fact {
            Fact::NotNullCheck(table, constraint, column, valid) => {
                if *valid {
                    self.not_null.push((table.clone(), column.clone()));
                } else {
                    self.pending
                        .push((table.clone(), constraint.clone(), column.clone()));
                }
            }
            Fact::Validated(table, constraint) => {
                let (done, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
                    .into_iter()
                    .partition(|(t, c, _)| t.same(table) && c == constraint);
                self.pending = rest;
                self.not_null
                    .extend(done.into_iter().map(|(t, _, column)| (t, column)));
            }
            Fact::SearchPath(routine, fixed) => {
                self.fixed_path.retain(|r| !r.same(routine));
                if *fixed {
                    self.fixed_path.push(routine.clone());
                }
            }
            _ => {}
        }
    }

    fn has_fixed_path(&self, routine: &Name) -> bool {
        self.fixed_path.iter().any(|r| r.same(routine))
    }

    fn has_no_nulls(&self, table: &Name, column: &str) -> bool {
        self.not_null
            .iter()
            .any(|(t, c)| t.same(table) && c == column)
    }
}

/// The statements of a migration the runner sends (psql meta-commands and COPY data left out).
fn statements(m: &Migration) -> Vec<Span> {
    let text = &*m.text;
    let mut out = Vec::new();
    for b in &m.batches {
        if b.span.slice(text).starts_with('\\') {
            continue;
        }
        out.extend(crate::runner::statements_in(text, b.span));
    }
    out
}

fn migration_findings(m: &Migration, proven: &mut Proven, out: &mut Bounded) {
    let text = &*m.text;
    let spans = statements(m);
    // The tokens of one statement at a time: a generated file of a million statements is read twice
    // rather than held as tokens.
    let facts: Vec<Vec<Fact>> = spans
        .iter()
        .map(|&span| facts(&Stmt::new(text, span)))
        .collect();
    let mut ctx = Ctx {
        m,
        facts: &facts,
        created: HashMap::new(),
        proven: std::mem::take(proven),
        out,
    };
    for (i, &span) in spans.iter().enumerate() {
        check(&mut ctx, i, &Stmt::new(text, span));
        // Objects created (or renamed from created ones) by this statement count from the next one.
        for fact in &facts[i] {
            match fact {
                Fact::Created(ns, name) => ctx.create(*ns, name),
                Fact::Renamed(ns, from, to) if ctx.is_created(*ns, from) => ctx.create(*ns, to),
                _ => ctx.proven.learn(fact),
            }
        }
    }
    *proven = ctx.proven;
}

// ---------------------------------------------------------------------------------------------------
// The rules

struct Ctx<'m> {
    m: &'m Migration,
    facts: &'m [Vec<Fact>],
    /// Objects created earlier in this migration, by name.
    created: HashMap<String, Vec<(Ns, Name)>>,
    /// What earlier statements and migrations prove about the data.
    proven: Proven,
    out: &'m mut Bounded,
}

impl Ctx<'_> {
    fn is_created(&self, ns: Ns, name: &Name) -> bool {
        self.created
            .get(&name.name)
            .is_some_and(|v| v.iter().any(|(n, c)| *n == ns && c.same(name)))
    }

    fn create(&mut self, ns: Ns, name: &Name) {
        self.created
            .entry(name.name.clone())
            .or_default()
            .push((ns, name.clone()));
    }

    /// Facts of the statements after `i`.
    fn later(&self, i: usize) -> impl Iterator<Item = &Fact> {
        self.facts.iter().skip(i + 1).flatten()
    }

    /// Whether `name`, dropped by statement `i`, is an object an earlier statement renamed to it out of
    /// the way of a new object under its old name (`ALTER TYPE x RENAME TO x_old; CREATE TYPE x …;
    /// DROP TYPE x_old`): what running code uses is still there.
    fn swapped_out(&self, i: usize, ns: Ns, name: &Name) -> bool {
        self.earlier(i).any(|f| match f {
            Fact::Renamed(rns, from, to) if *rns == ns && to.same(name) => self
                .facts
                .iter()
                .flatten()
                .any(|g| matches!(g, Fact::Created(cns, c) if *cns == ns && c.same(from))),
            _ => false,
        })
    }

    /// Facts of the statements before `i`.
    fn earlier(&self, i: usize) -> impl Iterator<Item = &Fact> {
        self.facts.iter().take(i).flatten()
    }

    /// When `table.column` was added earlier in this migration: whether it got a value on every row
    /// (a non-null default, a generated or serial column).
    fn added_column(&self, i: usize, table: &Name, column: &str) -> Option<bool> {
        self.earlier(i).find_map(|f| match f {
            Fact::AddedColumn(t, c, filled) if t.same(table) && c == column => Some(*filled),
            _ => None,
        })
    }

    fn push(
        &mut self,
        rule: &str,
        message: String,
        help: &str,
        span: Span,
        extra: &[(&str, &str)],
    ) {
        if self.out.full(rule, &self.m.file) {
            self.out.count(rule, &self.m.file);
            return;
        }
        self.out.push(
            finding(rule, message)
                .help(help)
                .at(&self.m.file, Some(span))
                .evidence(Evidence {
                    migration: Some(self.m.id.clone()),
                    extra: extra
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    ..Evidence::default()
                }),
        );
    }
}

fn check(ctx: &mut Ctx<'_>, i: usize, st: &Stmt<'_>) {
    let first = st.word(0);
    // A long name in DROP is truncated too: the statement drops (or misses) the truncated name.
    if matches!(first.as_deref(), Some("CREATE" | "ALTER" | "DROP")) {
        identifier_too_long(ctx, st);
    }
    security(ctx, i, st);
    match first.as_deref() {
        Some("CREATE") => create(ctx, st),
        Some("ALTER") => match st.word(1).as_deref() {
            Some("TABLE") => alter_table(ctx, i, st, 2),
            // Column defaults and NOT NULL of foreign tables and views (a view's column default
            // applies to inserts through it).
            Some("FOREIGN") if st.is(2, "TABLE") => {
                alter_table(ctx, i, st, 3);
                rename_object(ctx, i, st);
            }
            Some("VIEW") => {
                alter_table(ctx, i, st, 2);
                rename_object(ctx, i, st);
            }
            Some("DOMAIN") => {
                alter_domain(ctx, i, st);
                rename_object(ctx, i, st);
            }
            Some(_) => rename_object(ctx, i, st),
            None => {}
        },
        Some("DROP") => drop(ctx, i, st),
        Some("TRUNCATE") => truncate(ctx, st),
        Some("REINDEX") => reindex(ctx, st),
        Some("VACUUM") => vacuum(ctx, st),
        Some("CLUSTER") => cluster(ctx, st),
        _ => {}
    }
}

fn identifier_too_long(ctx: &mut Ctx<'_>, st: &Stmt<'_>) {
    let mut seen: Vec<String> = Vec::new();
    for (j, t) in st.toks.iter().enumerate() {
        let Some(id) = st.ident(j) else { continue };
        if id.len() <= MAX_IDENTIFIER || seen.contains(&id) {
            continue;
        }
        let cut = sql::floor_char_boundary(&id, MAX_IDENTIFIER);
        let truncated = id.get(..cut).unwrap_or_default().to_string();
        ctx.push(
            "identifier-too-long",
            format!(
                "identifier `{id}` is {} bytes long: PostgreSQL silently truncates it to `{truncated}` (63 bytes), so the name in the database is not the one written",
                id.len()
            ),
            "shorten the name to at most 63 bytes; two long names that share their first 63 bytes collide after truncation",
            t.span,
            &[("identifier", id.as_str()), ("truncated", truncated.as_str())],
        );
        seen.push(id);
    }
}
