//! Static DDL rules: statements whose hazard shows in the text alone, with no database.
//!
//! Each migration is read the way its runner sends it (`Migration::batches`, so only the Up part of a
//! file), statement by statement, with the `pgrehearse_sql` tokenizer: comments, strings and
//! dollar-quoted bodies never match. A statement the rules do not understand gives no finding, and the
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
//!   `prefer-timestamptz`.

use std::collections::HashMap;

use pgrehearse_sql::{self as sql, Span, Token, TokenKind, ident};

use crate::discover::{Migration, MigrationSet};
use crate::model::{Evidence, Finding};
use crate::rules::finding;

/// Every rule id this module reports (all static: `pgrehearse lint` reports them). It also reports
/// `rename` for objects other than tables.
pub const IDS: &[&str] = &[
    "add-required-column",
    "not-null-on-existing-data",
    "unique-on-existing-data",
    "drop-index-without-concurrently",
    "reindex-without-concurrently",
    "vacuum-full-or-cluster",
    "drop-database",
    "drop-schema",
    "drop-object",
    "truncate-table",
    "drop-not-null",
    "drop-default",
    "drop-constraint",
    "identity-change",
    "generated-column-change",
    "replica-identity-change",
    "disable-trigger",
    "autovacuum-disabled",
    "domain-constraint",
    "identifier-too-long",
    "char-column",
    "prefer-text",
    "prefer-bigint",
    "prefer-identity",
    "prefer-timestamptz",
];

/// PostgreSQL's longest identifier in bytes (NAMEDATALEN - 1).
const MAX_IDENTIFIER: usize = 63;

/// Findings of every static DDL rule on every migration of the set.
pub fn findings(set: &MigrationSet) -> Vec<Finding> {
    findings_in(&set.migrations)
}

/// Findings of the migrations of one set, in order: what an earlier one proves carries to the later.
fn findings_in(migrations: &[Migration]) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut proven = Proven::default();
    for m in migrations {
        if m.blocked.is_some() {
            // A code migration, or one the runner refuses: none of it runs.
            continue;
        }
        out.extend(migration_findings(m, &mut proven));
    }
    out
}

/// What the migrations so far prove about the data, carried from one migration to the next.
#[derive(Default)]
struct Proven {
    /// `CHECK (col IS NOT NULL) NOT VALID` constraints not validated yet: table, constraint, column.
    pending: Vec<(Name, String, String)>,
    /// Columns a validated `CHECK (col IS NOT NULL)` keeps free of NULLs: table, column.
    not_null: Vec<(Name, String)>,
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
            _ => {}
        }
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
        out.extend(crate::replay::statements_in(text, b.span));
    }
    out
}

fn migration_findings(m: &Migration, proven: &mut Proven) -> Vec<Finding> {
    let text = &*m.text;
    let stmts: Vec<Stmt<'_>> = statements(m)
        .into_iter()
        .map(|span| Stmt::new(text, span))
        .collect();
    let facts: Vec<Vec<Fact>> = stmts.iter().map(facts).collect();
    let mut ctx = Ctx {
        m,
        facts: &facts,
        created: HashMap::new(),
        proven: std::mem::take(proven),
        out: Vec::new(),
    };
    for (i, st) in stmts.iter().enumerate() {
        check(&mut ctx, i, st);
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
    ctx.out
}

// ---------------------------------------------------------------------------------------------------
// Tokens and names

/// A possibly schema-qualified, normalised name (unquoted identifiers fold to lower case).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Name {
    schema: Option<String>,
    name: String,
}

impl Name {
    /// The same object, when an unqualified name may resolve to the qualified one.
    fn same(&self, other: &Name) -> bool {
        self.name == other.name
            && (self.schema.is_none() || other.schema.is_none() || self.schema == other.schema)
    }

    fn display(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// One statement's significant tokens (the terminating `;` left out).
struct Stmt<'a> {
    text: &'a str,
    span: Span,
    toks: Vec<Token>,
}

impl<'a> Stmt<'a> {
    fn new(text: &'a str, span: Span) -> Stmt<'a> {
        let mut toks = sql::significant_tokens(text, span);
        while toks.last().is_some_and(|t| t.kind == TokenKind::Semicolon) {
            toks.pop();
        }
        // COPY … FROM STDIN carries its data lines in the same span: never read them as SQL.
        if toks.first().is_some_and(|t| t.is_word(text, "COPY")) {
            toks.truncate(1);
        }
        Stmt { text, span, toks }
    }

    fn len(&self) -> usize {
        self.toks.len()
    }

    fn kind(&self, i: usize) -> Option<TokenKind> {
        self.toks.get(i).map(|t| t.kind)
    }

    /// The keyword at `i`, upper-cased (`None` for anything but a plain word).
    fn word(&self, i: usize) -> Option<String> {
        self.toks
            .get(i)
            .filter(|t| t.kind == TokenKind::Word)
            .map(|t| t.text(self.text).to_ascii_uppercase())
    }

    fn is(&self, i: usize, kw: &str) -> bool {
        self.toks.get(i).is_some_and(|t| t.is_word(self.text, kw))
    }

    /// Whether the keywords `kws` start at `i`.
    fn seq(&self, i: usize, kws: &[&str]) -> bool {
        kws.iter().enumerate().all(|(k, kw)| self.is(i + k, kw))
    }

    /// Whether the keyword sequence occurs anywhere in `range` at parenthesis depth 0.
    fn has(&self, range: (usize, usize), kws: &[&str]) -> bool {
        self.find(range, kws).is_some()
    }

    /// Where the keyword sequence first occurs in `range` at parenthesis depth 0.
    fn find(&self, (from, to): (usize, usize), kws: &[&str]) -> Option<usize> {
        let mut depth = 0i32;
        for i in from..to.min(self.len()) {
            match self.kind(i) {
                Some(TokenKind::LParen | TokenKind::LBracket) => depth += 1,
                Some(TokenKind::RParen | TokenKind::RBracket) => depth -= 1,
                _ if depth == 0 && self.seq(i, kws) => return Some(i),
                _ => {}
            }
        }
        None
    }

    fn ident(&self, i: usize) -> Option<String> {
        ident(self.text, self.toks.get(i)?)
    }

    /// A possibly qualified name at `i` and the index after it.
    fn name(&self, i: usize) -> Option<(Name, usize)> {
        let mut parts = vec![self.ident(i)?];
        let mut j = i + 1;
        while self.kind(j) == Some(TokenKind::Dot) {
            parts.push(self.ident(j + 1)?);
            j += 2;
        }
        let name = parts.pop()?;
        Some((
            Name {
                schema: parts.pop(),
                name,
            },
            j,
        ))
    }

    /// Skips `IF EXISTS` / `IF NOT EXISTS` at `i`.
    fn skip_if(&self, i: usize) -> usize {
        if self.seq(i, &["IF", "NOT", "EXISTS"]) {
            i + 3
        } else if self.seq(i, &["IF", "EXISTS"]) {
            i + 2
        } else {
            i
        }
    }

    /// The byte span of tokens `from..to` (at least one token).
    fn span_of(&self, from: usize, to: usize) -> Span {
        let first = self.toks.get(from).or(self.toks.last());
        let last = self.toks.get(to.saturating_sub(1).max(from)).or(first);
        match (first, last) {
            (Some(a), Some(b)) => Span::new(a.span.start, b.span.end.max(a.span.start)),
            _ => self.span,
        }
    }

    /// The index of the parenthesis closing the one at `open`.
    fn close(&self, open: usize) -> Option<usize> {
        let mut depth = 0i32;
        for i in open..self.len() {
            match self.kind(i) {
                Some(TokenKind::LParen) => depth += 1,
                Some(TokenKind::RParen) => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// Ranges of the comma-separated items of `from..to` at parenthesis depth 0.
    fn items(&self, from: usize, to: usize) -> Vec<(usize, usize)> {
        let to = to.min(self.len());
        let mut out = Vec::new();
        let mut depth = 0i32;
        let mut start = from;
        for i in from..to {
            match self.kind(i) {
                Some(TokenKind::LParen | TokenKind::LBracket) => depth += 1,
                Some(TokenKind::RParen | TokenKind::RBracket) => depth -= 1,
                Some(TokenKind::Comma) if depth == 0 => {
                    if start < i {
                        out.push((start, i));
                    }
                    start = i + 1;
                }
                _ => {}
            }
        }
        if start < to {
            out.push((start, to));
        }
        out
    }

    /// Names of a comma-separated list starting at `i` (`DROP VIEW a, b.c`), with their token
    /// indexes; a `(…)` after a name (function arguments) is skipped.
    fn name_list(&self, i: usize) -> Vec<(Name, usize)> {
        let mut out = Vec::new();
        let mut j = i;
        while let Some((n, next)) = self.name(j) {
            out.push((n, j));
            j = next;
            if self.kind(j) == Some(TokenKind::LParen) {
                match self.close(j) {
                    Some(c) => j = c + 1,
                    None => break,
                }
            }
            if self.kind(j) == Some(TokenKind::Comma) {
                j += 1;
            } else {
                break;
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------------
// Facts: what each statement creates, renames, backfills or re-enables (read before the rules run, so
// rules can look ahead in the migration).

/// Object namespaces (relations share one: tables, indexes, views, sequences).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ns {
    Relation,
    Type,
    Routine,
    Schema,
    Extension,
    Trigger,
    Policy,
    Database,
}

#[derive(Clone, Debug)]
enum Fact {
    Created(Ns, Name),
    Renamed(Ns, Name, Name),
    /// `ALTER TABLE … ADD COLUMN` (`true` when it has a non-null default or is generated).
    AddedColumn(Name, String, bool),
    /// `UPDATE table SET col = …`.
    Updated(Name, Vec<String>),
    AddedConstraint(Name, String),
    SetDefault(Name, String),
    /// `ALTER COLUMN … SET NOT NULL` on a table.
    SetNotNull(Name),
    /// `ENABLE TRIGGER name | ALL | USER` on a table.
    EnabledTrigger(Name, String),
    /// `ADD CONSTRAINT name CHECK (col IS NOT NULL)`: table, constraint, column, and whether it is
    /// validated at once (no `NOT VALID`).
    NotNullCheck(Name, String, String, bool),
    /// `VALIDATE CONSTRAINT name` on a table.
    Validated(Name, String),
}

/// Skips `CREATE [OR REPLACE] [TEMP|UNLOGGED|…]` and returns the index of the object keyword.
fn after_create(st: &Stmt<'_>) -> usize {
    let mut i = 1;
    if st.seq(i, &["OR", "REPLACE"]) {
        i += 2;
    }
    while matches!(
        st.word(i).as_deref(),
        Some("TEMP" | "TEMPORARY" | "UNLOGGED" | "GLOBAL" | "LOCAL" | "RECURSIVE" | "TRUSTED")
    ) {
        i += 1;
    }
    i
}

/// The table of `CREATE [UNIQUE] INDEX … ON [ONLY] table` and the index name, if any.
fn create_index_parts(st: &Stmt<'_>, at: usize) -> Option<(Option<Name>, Name, usize)> {
    let mut i = at + 1; // after INDEX
    if st.is(i, "CONCURRENTLY") {
        i += 1;
    }
    i = st.skip_if(i);
    let name = if st.is(i, "ON") {
        None
    } else {
        let (n, next) = st.name(i)?;
        i = next;
        Some(n)
    };
    if !st.is(i, "ON") {
        return None;
    }
    i += 1;
    if st.is(i, "ONLY") {
        i += 1;
    }
    let (table, _) = st.name(i)?;
    Some((name, table, i))
}

fn facts(st: &Stmt<'_>) -> Vec<Fact> {
    let mut out = Vec::new();
    match st.word(0).as_deref() {
        Some("CREATE") => {
            let i = after_create(st);
            let unique = st.is(i, "UNIQUE");
            let k = if unique { i + 1 } else { i };
            let obj = |ns: Ns, at: usize| {
                let at = st.skip_if(at);
                st.name(at).map(|(n, _)| Fact::Created(ns, n))
            };
            let fact = match st.word(k).as_deref() {
                Some("TABLE") => obj(Ns::Relation, k + 1),
                Some("VIEW" | "SEQUENCE") => obj(Ns::Relation, k + 1),
                Some("MATERIALIZED") if st.is(k + 1, "VIEW") => obj(Ns::Relation, k + 2),
                Some("INDEX") => create_index_parts(st, k)
                    .and_then(|(n, _, _)| n)
                    .map(|n| Fact::Created(Ns::Relation, n)),
                Some("TYPE" | "DOMAIN") => obj(Ns::Type, k + 1),
                Some("FUNCTION" | "PROCEDURE" | "AGGREGATE") => obj(Ns::Routine, k + 1),
                Some("SCHEMA") => {
                    let at = st.skip_if(k + 1);
                    if st.is(at, "AUTHORIZATION") {
                        st.name(at + 1).map(|(n, _)| Fact::Created(Ns::Schema, n))
                    } else {
                        obj(Ns::Schema, k + 1)
                    }
                }
                Some("EXTENSION") => obj(Ns::Extension, k + 1),
                Some("TRIGGER") => obj(Ns::Trigger, k + 1),
                Some("CONSTRAINT") if st.is(k + 1, "TRIGGER") => obj(Ns::Trigger, k + 2),
                Some("POLICY") => obj(Ns::Policy, k + 1),
                Some("DATABASE") => obj(Ns::Database, k + 1),
                _ => None,
            };
            out.extend(fact);
        }
        Some("ALTER") => {
            let (ns, at) = match st.word(1).as_deref() {
                Some("TABLE" | "INDEX" | "VIEW" | "SEQUENCE") => (Ns::Relation, 2),
                Some("MATERIALIZED") => (Ns::Relation, 3),
                Some("TYPE" | "DOMAIN") => (Ns::Type, 2),
                Some("FUNCTION" | "PROCEDURE") => (Ns::Routine, 2),
                Some("SCHEMA") => (Ns::Schema, 2),
                _ => return out,
            };
            let mut at = st.skip_if(at);
            if st.is(at, "ONLY") {
                at += 1;
            }
            let Some((name, after)) = st.name(at) else {
                return out;
            };
            // `RENAME TO new` (not RENAME COLUMN / CONSTRAINT / VALUE), anywhere at depth 0.
            if let Some(r) = st.find((after, st.len()), &["RENAME", "TO"])
                && let Some((new, _)) = st.name(r + 2)
            {
                let new = Name {
                    schema: name.schema.clone(),
                    name: new.name,
                };
                out.push(Fact::Renamed(ns, name.clone(), new));
            }
            if st.is(1, "TABLE") {
                for (a, b) in st.items(after, st.len()) {
                    table_action_facts(st, &name, a, b, &mut out);
                }
            }
        }
        Some("UPDATE") => {
            let mut i = 1;
            if st.is(i, "ONLY") {
                i += 1;
            }
            let Some((table, after)) = st.name(i) else {
                return out;
            };
            let Some(set) = st.find((after, st.len()), &["SET"]) else {
                return out;
            };
            let end = ["FROM", "WHERE", "RETURNING"]
                .iter()
                .filter_map(|kw| st.find((set + 1, st.len()), &[kw]))
                .min()
                .unwrap_or(st.len());
            let mut cols = Vec::new();
            for (a, b) in st.items(set + 1, end) {
                let eq = (a..b).find(|&j| {
                    st.kind(j) == Some(TokenKind::Operator) && st.toks[j].text(st.text) == "="
                });
                let Some(eq) = eq else { continue };
                // `col =`, `t.col =`, `(a, b) =`: every identifier before the `=`.
                for j in a..eq {
                    if let Some(c) = st.ident(j)
                        && st.kind(j + 1) != Some(TokenKind::Dot)
                    {
                        cols.push(c);
                    }
                }
            }
            out.push(Fact::Updated(table, cols));
        }
        _ => {}
    }
    out
}

fn table_action_facts(st: &Stmt<'_>, table: &Name, a: usize, b: usize, out: &mut Vec<Fact>) {
    match st.word(a).as_deref() {
        Some("ADD") => {
            if st.is(a + 1, "CONSTRAINT") {
                if let Some((n, _)) = st.name(a + 2) {
                    if let Some(column) = not_null_check(st, a + 3, b) {
                        out.push(Fact::NotNullCheck(
                            table.clone(),
                            n.name.clone(),
                            column,
                            !st.has((a, b), &["NOT", "VALID"]),
                        ));
                    }
                    out.push(Fact::AddedConstraint(table.clone(), n.name.clone()));
                    if st.has((a, b), &["UNIQUE"]) || st.has((a, b), &["PRIMARY", "KEY"]) {
                        out.push(Fact::Created(Ns::Relation, n));
                    }
                }
            } else if let Some(col) = column_def(st, add_column_start(st, a), b) {
                out.push(Fact::AddedColumn(
                    table.clone(),
                    col.name.clone(),
                    (col.default && !col.default_null) || col.generated || col.ty.serial(),
                ));
            }
        }
        Some("ALTER") => {
            let c = if st.is(a + 1, "COLUMN") { a + 2 } else { a + 1 };
            if let Some(col) = st.ident(c) {
                if st.seq(c + 1, &["SET", "DEFAULT"]) {
                    out.push(Fact::SetDefault(table.clone(), col));
                } else if st.seq(c + 1, &["SET", "NOT", "NULL"]) {
                    out.push(Fact::SetNotNull(table.clone()));
                }
            }
        }
        Some("VALIDATE") => {
            if st.is(a + 1, "CONSTRAINT")
                && let Some(name) = st.ident(a + 2)
            {
                out.push(Fact::Validated(table.clone(), name));
            }
        }
        Some("ENABLE") => {
            let mut i = a + 1;
            if st.is(i, "ALWAYS") || st.is(i, "REPLICA") {
                i += 1;
            }
            if st.is(i, "TRIGGER")
                && let Some(t) = st.ident(i + 1)
            {
                out.push(Fact::EnabledTrigger(table.clone(), t));
            }
        }
        _ => {}
    }
}

/// The column of `CHECK (col IS NOT NULL)` (any number of parentheses) starting at token `at`.
fn not_null_check(st: &Stmt<'_>, at: usize, end: usize) -> Option<String> {
    if !st.is(at, "CHECK") {
        return None;
    }
    let mut i = at + 1;
    let mut open = 0;
    while st.kind(i) == Some(TokenKind::LParen) {
        open += 1;
        i += 1;
    }
    let column = st.ident(i)?;
    i += 1;
    if open == 0 || !st.seq(i, &["IS", "NOT", "NULL"]) {
        return None;
    }
    i += 3;
    for _ in 0..open {
        if st.kind(i) != Some(TokenKind::RParen) {
            return None;
        }
        i += 1;
    }
    // Nothing but `NOT VALID` / `NO INHERIT` may follow within the action.
    (i..end)
        .all(|k| st.kind(k) == Some(TokenKind::Word))
        .then_some(column)
}

/// Where the column definition of an `ADD [COLUMN] [IF NOT EXISTS]` action starts, or `usize::MAX`
/// when the action adds a constraint.
fn add_column_start(st: &Stmt<'_>, a: usize) -> usize {
    if matches!(
        st.word(a + 1).as_deref(),
        Some("CONSTRAINT" | "PRIMARY" | "UNIQUE" | "CHECK" | "FOREIGN" | "EXCLUDE")
    ) {
        return usize::MAX;
    }
    let i = if st.is(a + 1, "COLUMN") { a + 2 } else { a + 1 };
    st.skip_if(i)
}

// ---------------------------------------------------------------------------------------------------
// Column definitions and types

/// What a column's type is, for the type rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Int16,
    Int32,
    Serial16,
    Serial32,
    Serial64,
    /// `varchar(n)` / `character varying(n)`.
    VarcharN,
    /// `char`, `char(n)`, `character(n)`, `bpchar`.
    Char,
    /// `timestamp [(p)] [without time zone]`.
    Timestamp,
    Other,
}

impl Ty {
    fn serial(self) -> bool {
        matches!(self, Ty::Serial16 | Ty::Serial32 | Ty::Serial64)
    }

    /// 16- or 32-bit integers (serial included).
    fn small_int(self) -> bool {
        matches!(self, Ty::Int16 | Ty::Int32 | Ty::Serial16 | Ty::Serial32)
    }

    fn sql(self) -> &'static str {
        match self {
            Ty::Int16 => "smallint",
            Ty::Int32 => "integer",
            Ty::Serial16 => "smallserial",
            Ty::Serial32 => "serial",
            Ty::Serial64 => "bigserial",
            Ty::VarcharN => "varchar(n)",
            Ty::Char => "char(n)",
            Ty::Timestamp => "timestamp without time zone",
            Ty::Other => "",
        }
    }
}

/// Classifies the type written in tokens `from..to`.
fn classify_type(st: &Stmt<'_>, from: usize, to: usize) -> Ty {
    // `pg_catalog.int4`: the last part of a qualified name.
    let mut i = from;
    while st.kind(i + 1) == Some(TokenKind::Dot) && i + 2 < to {
        i += 2;
    }
    let Some(first) = st.word(i) else {
        return Ty::Other;
    };
    let words: Vec<String> = (i..to).filter_map(|j| st.word(j)).collect();
    let paren = st.kind(i + 1) == Some(TokenKind::LParen)
        || (st.is(i + 1, "VARYING") && st.kind(i + 2) == Some(TokenKind::LParen));
    match first.as_str() {
        "INT" | "INTEGER" | "INT4" => Ty::Int32,
        "SMALLINT" | "INT2" => Ty::Int16,
        "SERIAL" | "SERIAL4" => Ty::Serial32,
        "SMALLSERIAL" | "SERIAL2" => Ty::Serial16,
        "BIGSERIAL" | "SERIAL8" => Ty::Serial64,
        "VARCHAR" if paren => Ty::VarcharN,
        "CHARACTER" | "CHAR" if st.is(i + 1, "VARYING") => {
            if paren {
                Ty::VarcharN
            } else {
                Ty::Other
            }
        }
        "CHARACTER" | "CHAR" | "BPCHAR" => Ty::Char,
        "TIMESTAMP" if !words.iter().any(|w| w == "WITH") => Ty::Timestamp,
        _ => Ty::Other,
    }
}

/// One column definition (`name type [constraints]`).
struct ColumnDef {
    name: String,
    ty: Ty,
    /// Token range of the type.
    ty_range: (usize, usize),
    not_null: bool,
    primary_key: bool,
    default: bool,
    /// `DEFAULT NULL`.
    default_null: bool,
    /// `GENERATED … AS IDENTITY` or `GENERATED ALWAYS AS (…) STORED`.
    generated: bool,
    identity: bool,
}

/// Words that end a column's type and start its constraints.
const COLUMN_CONSTRAINT: &[&str] = &[
    "CONSTRAINT",
    "NOT",
    "NULL",
    "DEFAULT",
    "PRIMARY",
    "UNIQUE",
    "CHECK",
    "REFERENCES",
    "GENERATED",
    "COLLATE",
    "COMPRESSION",
    "STORAGE",
    "DEFERRABLE",
    "INITIALLY",
];

/// Words that start a table constraint (not a column) in a `CREATE TABLE` list.
const TABLE_CONSTRAINT: &[&str] = &[
    "CONSTRAINT",
    "PRIMARY",
    "UNIQUE",
    "CHECK",
    "FOREIGN",
    "EXCLUDE",
    "LIKE",
];

fn column_def(st: &Stmt<'_>, from: usize, to: usize) -> Option<ColumnDef> {
    if from >= to {
        return None;
    }
    let name = st.ident(from)?;
    if st.kind(from) == Some(TokenKind::Word)
        && st
            .word(from)
            .is_some_and(|w| TABLE_CONSTRAINT.contains(&w.as_str()))
    {
        return None;
    }
    let ty_start = from + 1;
    let mut ty_end = to;
    let mut depth = 0i32;
    for j in ty_start..to {
        match st.kind(j) {
            Some(TokenKind::LParen | TokenKind::LBracket) => depth += 1,
            Some(TokenKind::RParen | TokenKind::RBracket) => depth -= 1,
            _ if depth == 0
                && st
                    .word(j)
                    .is_some_and(|w| COLUMN_CONSTRAINT.contains(&w.as_str())) =>
            {
                ty_end = j;
                break;
            }
            _ => {}
        }
    }
    if ty_end <= ty_start {
        return None;
    }
    let rest = (ty_end, to);
    let default_at = st.find(rest, &["DEFAULT"]);
    Some(ColumnDef {
        name,
        ty: classify_type(st, ty_start, ty_end),
        ty_range: (ty_start, ty_end),
        not_null: st.has(rest, &["NOT", "NULL"]),
        primary_key: st.has(rest, &["PRIMARY", "KEY"]),
        default: default_at.is_some(),
        default_null: default_at.is_some_and(|d| st.is(d + 1, "NULL")),
        generated: st.has(rest, &["GENERATED"]),
        identity: st.has(rest, &["GENERATED"]) && st.has(rest, &["IDENTITY"]),
    })
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
    out: Vec<Finding>,
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
    if matches!(first.as_deref(), Some("CREATE" | "ALTER")) {
        identifier_too_long(ctx, st);
    }
    match first.as_deref() {
        Some("CREATE") => create(ctx, st),
        Some("ALTER") => match st.word(1).as_deref() {
            Some("TABLE") => alter_table(ctx, i, st),
            Some("DOMAIN") => {
                alter_domain(ctx, st);
                rename_object(ctx, st);
            }
            Some(_) => rename_object(ctx, st),
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

// --- CREATE

fn create(ctx: &mut Ctx<'_>, st: &Stmt<'_>) {
    let i = after_create(st);
    match st.word(i).as_deref() {
        Some("TABLE") => create_table(ctx, st, i + 1),
        Some("UNIQUE") if st.is(i + 1, "INDEX") => {
            let Some((_, table, at)) = create_index_parts(st, i + 1) else {
                return;
            };
            if ctx.is_created(Ns::Relation, &table) {
                return;
            }
            let concurrently = st.is(i + 2, "CONCURRENTLY");
            let tail = if concurrently {
                "; a failed CONCURRENTLY build also leaves an INVALID index behind that every write still maintains"
            } else {
                ""
            };
            ctx.push(
                "unique-on-existing-data",
                format!(
                    "builds a unique index on `{}`, which existed before this migration: it fails if the existing rows hold duplicates{tail}",
                    table.display()
                ),
                "look for duplicates before deploying (`SELECT cols, count(*) FROM t GROUP BY cols HAVING count(*) > 1`) and resolve them in an earlier migration; after a failed concurrent build, DROP INDEX CONCURRENTLY the invalid index before retrying",
                st.span_of(0, at + 1),
                &[("table", table.display().as_str())],
            );
        }
        Some("DOMAIN") => {
            let at = st.skip_if(i + 1);
            let Some((name, after)) = st.name(at) else {
                return;
            };
            let check = st.find((after, st.len()), &["CHECK"]);
            let not_null = st.find((after, st.len()), &["NOT", "NULL"]);
            if let Some(c) = check.or(not_null) {
                ctx.push(
                    "domain-constraint",
                    format!(
                        "creates domain `{}` with a constraint: changing it later checks every column of every table that uses the domain, and the constraint cannot differ per table",
                        name.display()
                    ),
                    "put the CHECK or NOT NULL on the table columns instead and use a domain without constraints (or plain types)",
                    st.span_of(c, c + 1),
                    &[("domain", name.display().as_str())],
                );
            }
        }
        _ => {}
    }
}

fn create_table(ctx: &mut Ctx<'_>, st: &Stmt<'_>, at: usize) {
    let at = st.skip_if(at);
    let Some((table, after)) = st.name(at) else {
        return;
    };
    autovacuum(ctx, st, &table, (after, st.len()));
    // `CREATE TABLE t (…)`; `PARTITION OF`, `OF type` and `AS SELECT` have no column types to read.
    if st.kind(after) != Some(TokenKind::LParen) {
        return;
    }
    let Some(close) = st.close(after) else {
        return;
    };
    let items = st.items(after + 1, close);
    // Columns named in a table-level PRIMARY KEY (…).
    let mut pk_columns: Vec<String> = Vec::new();
    for &(a, b) in &items {
        let start = if st.is(a, "CONSTRAINT") { a + 2 } else { a };
        if st.seq(start, &["PRIMARY", "KEY"]) && st.kind(start + 2) == Some(TokenKind::LParen) {
            let end = st.close(start + 2).unwrap_or(b);
            pk_columns.extend((start + 3..end).filter_map(|j| st.ident(j)));
        }
    }
    for &(a, b) in &items {
        if let Some(col) = column_def(st, a, b) {
            let key = col.primary_key || pk_columns.contains(&col.name);
            column_types(ctx, st, &table, &col, key, true);
        }
    }
}

/// The type rules for one column. `new_column`: the column is being created (serial and key rules
/// apply); otherwise its type is being changed.
fn column_types(
    ctx: &mut Ctx<'_>,
    st: &Stmt<'_>,
    table: &Name,
    col: &ColumnDef,
    key: bool,
    new_column: bool,
) {
    let span = st.span_of(col.ty_range.0, col.ty_range.1);
    let written = span.slice(st.text).to_string();
    let column = format!("{}.{}", table.display(), col.name);
    let extra = [("column", column.as_str()), ("type", written.as_str())];
    match col.ty {
        Ty::Char => ctx.push(
            "char-column",
            format!(
                "column `{column}` is `{written}` (blank-padded character): values are padded with spaces to the full length, and trailing spaces are ignored when comparing"
            ),
            "use text (with CHECK (char_length(col) <= n) when the limit matters) or varchar(n)",
            span,
            &extra,
        ),
        Ty::VarcharN => ctx.push(
            "prefer-text",
            format!(
                "column `{column}` is `{written}`: the length limit lives in the type, so lowering it later rewrites the table under an ACCESS EXCLUSIVE lock and inserts longer than the limit fail"
            ),
            "use text, with CHECK (char_length(col) <= n) if the limit matters: a CHECK can be replaced with NOT VALID + VALIDATE CONSTRAINT without a rewrite",
            span,
            &extra,
        ),
        Ty::Timestamp => ctx.push(
            "prefer-timestamptz",
            format!(
                "column `{column}` is `{written}`: it stores no time zone, so the same instant written from sessions in different time zones is stored as different values"
            ),
            "use timestamptz (timestamp with time zone): it stores an absolute instant and displays it in the session's time zone",
            span,
            &extra,
        ),
        _ => {}
    }
    if !new_column {
        return;
    }
    if col.ty.serial() {
        ctx.push(
            "prefer-identity",
            format!(
                "column `{column}` is `{}`: serial creates a separate sequence that needs its own grants, is not copied by CREATE TABLE … LIKE, and can be written around by explicit inserts",
                col.ty.sql()
            ),
            "use `bigint GENERATED ALWAYS AS IDENTITY` (or BY DEFAULT when code inserts explicit ids)",
            span,
            &extra,
        );
    }
    if col.ty.small_int() && (key || col.identity || col.ty.serial()) {
        let limit = if matches!(col.ty, Ty::Int16 | Ty::Serial16) {
            "32,767"
        } else {
            "2,147,483,647"
        };
        ctx.push(
            "prefer-bigint",
            format!(
                "key column `{column}` is `{}`: it runs out after {limit} values, and widening it later rewrites the table and every index that uses it under an ACCESS EXCLUSIVE lock",
                col.ty.sql()
            ),
            "use bigint (bigint GENERATED … AS IDENTITY, or bigserial): the extra 4 bytes per row are cheap next to a forced migration of a full table",
            span,
            &extra,
        );
    }
}

/// `autovacuum_enabled = false` (also `toast.autovacuum_enabled`) in a storage parameter list.
fn autovacuum(ctx: &mut Ctx<'_>, st: &Stmt<'_>, table: &Name, (from, to): (usize, usize)) {
    for j in from..to.min(st.len()) {
        if !st.is(j, "AUTOVACUUM_ENABLED") {
            continue;
        }
        let eq = st.kind(j + 1) == Some(TokenKind::Operator)
            && st.toks.get(j + 1).is_some_and(|t| t.text(st.text) == "=");
        let value = st
            .toks
            .get(j + 2)
            .map(|t| t.text(st.text).trim_matches('\'').to_ascii_lowercase())
            .unwrap_or_default();
        if eq && matches!(value.as_str(), "false" | "off" | "0" | "no" | "f" | "n") {
            ctx.push(
                "autovacuum-disabled",
                format!(
                    "turns autovacuum off for `{}`: dead rows pile up and the table bloats until someone vacuums it by hand (only anti-wraparound vacuums still run)",
                    table.display()
                ),
                "leave autovacuum on and tune it per table instead (autovacuum_vacuum_scale_factor, autovacuum_vacuum_cost_limit)",
                st.span_of(j, j + 3),
                &[("table", table.display().as_str())],
            );
        }
    }
}

// --- ALTER TABLE

fn alter_table(ctx: &mut Ctx<'_>, i: usize, st: &Stmt<'_>) {
    let mut at = st.skip_if(2);
    if st.is(at, "ONLY") {
        at += 1;
    }
    let Some((table, mut after)) = st.name(at) else {
        return;
    };
    if st.kind(after) == Some(TokenKind::Operator) && st.toks[after].text(st.text) == "*" {
        after += 1;
    }
    let existing = !ctx.is_created(Ns::Relation, &table);
    for (a, b) in st.items(after, st.len()) {
        match st.word(a).as_deref() {
            Some("ADD") => add_action(ctx, st, &table, existing, a, b),
            Some("ALTER") => alter_column_action(ctx, i, st, &table, a, b),
            Some("DROP") if st.is(a + 1, "CONSTRAINT") && existing => {
                let c = st.skip_if(a + 2);
                let Some(name) = st.ident(c) else { continue };
                // Quiet when it is added back later (a redefinition), when it was added earlier in
                // this migration (nothing relies on it yet), and when the migration sets a column of
                // the table NOT NULL (the temporary `CHECK (col IS NOT NULL)` of the lock-safe
                // NOT NULL pattern, replaced by the real NOT NULL).
                let re_added = ctx.later(i).any(
                    |f| matches!(f, Fact::AddedConstraint(t, n) if t.same(&table) && *n == name),
                );
                let temporary = ctx.earlier(i).any(
                    |f| matches!(f, Fact::AddedConstraint(t, n) if t.same(&table) && *n == name),
                ) || ctx
                    .facts
                    .iter()
                    .flatten()
                    .any(|f| matches!(f, Fact::SetNotNull(t) if t.same(&table)));
                if re_added || temporary {
                    continue;
                }
                ctx.push(
                    "drop-constraint",
                    format!(
                        "drops constraint `{name}` of `{}` and does not add it back in this migration: the guarantee it gave (a foreign key, a check, uniqueness) is gone for the code and data that rely on it",
                        table.display()
                    ),
                    "if it is being replaced, add the new constraint in the same migration (NOT VALID, then VALIDATE CONSTRAINT); otherwise make sure nothing relies on it any more",
                    st.span_of(a, b),
                    &[("table", table.display().as_str()), ("constraint", name.as_str())],
                );
            }
            Some("REPLICA") if st.is(a + 1, "IDENTITY") && existing => {
                let mode = st.word(a + 2).unwrap_or_default();
                let why = match mode.as_str() {
                    "FULL" => {
                        "every UPDATE and DELETE now writes the whole old row to the WAL (more WAL, slower logical replication)"
                    }
                    "NOTHING" => {
                        "UPDATE and DELETE fail on it while it is in a publication that publishes them"
                    }
                    _ => continue,
                };
                ctx.push(
                    "replica-identity-change",
                    format!(
                        "sets REPLICA IDENTITY {mode} on `{}`: {why}",
                        table.display()
                    ),
                    "keep REPLICA IDENTITY DEFAULT (the primary key) or USING INDEX on a unique index; check what the table's publications and subscribers need first",
                    st.span_of(a, b),
                    &[("table", table.display().as_str()), ("replica-identity", mode.as_str())],
                );
            }
            Some("DISABLE") if st.is(a + 1, "TRIGGER") => {
                let Some(trigger) = st.ident(a + 2) else {
                    continue;
                };
                let enabled = ctx.later(i).any(|f| {
                    matches!(f, Fact::EnabledTrigger(t, n)
                        if t.same(&table) && (*n == trigger || n == "all" || (n == "user" && trigger != "all")))
                });
                if enabled {
                    continue;
                }
                let all = if trigger == "all" {
                    " (ALL also disables the internal triggers that enforce foreign keys)"
                } else {
                    ""
                };
                ctx.push(
                    "disable-trigger",
                    format!(
                        "disables trigger `{trigger}` on `{}` and nothing later in this migration enables it again: it stays off for every session after the migration{all}",
                        table.display()
                    ),
                    "ENABLE TRIGGER again in the same migration after the work that needed it off; to skip triggers only for the migration's own session, SET session_replication_role = replica around that work instead",
                    st.span_of(a, b),
                    &[("table", table.display().as_str()), ("trigger", trigger.as_str())],
                );
            }
            Some("SET") if st.kind(a + 1) == Some(TokenKind::LParen) => {
                autovacuum(ctx, st, &table, (a, b));
            }
            _ => {}
        }
    }
}

fn add_action(ctx: &mut Ctx<'_>, st: &Stmt<'_>, table: &Name, existing: bool, a: usize, b: usize) {
    let start = add_column_start(st, a);
    if start != usize::MAX {
        let Some(col) = column_def(st, start, b) else {
            return;
        };
        column_types(ctx, st, table, &col, col.primary_key, true);
        let required = (col.not_null || col.primary_key)
            && (!col.default || col.default_null)
            && !col.generated
            && !col.ty.serial();
        if existing && required {
            let column = format!("{}.{}", table.display(), col.name);
            ctx.push(
                "add-required-column",
                format!(
                    "adds `{column}` as NOT NULL without a default to a table that existed before this migration: PostgreSQL rejects the statement as soon as the table has a row (a replay on an empty database succeeds)"
                ),
                "add it with a DEFAULT (a constant default needs no rewrite since PostgreSQL 11), or add it nullable, backfill it, then SET NOT NULL",
                st.span_of(a, b),
                &[("table", table.display().as_str()), ("column", column.as_str())],
            );
        }
        return;
    }
    // A constraint: UNIQUE / PRIMARY KEY builds a unique index over the existing rows.
    let unique = st.has((a, b), &["UNIQUE"]);
    let pk = st.has((a, b), &["PRIMARY", "KEY"]);
    if existing && (unique || pk) && !st.has((a, b), &["USING", "INDEX"]) {
        let what = if pk {
            "a primary key"
        } else {
            "a unique constraint"
        };
        ctx.push(
            "unique-on-existing-data",
            format!(
                "adds {what} to `{}`, which existed before this migration: it fails if the existing rows hold duplicates{}",
                table.display(),
                if pk { " or NULLs" } else { "" }
            ),
            "look for duplicates before deploying (`SELECT cols, count(*) FROM t GROUP BY cols HAVING count(*) > 1`) and resolve them in an earlier migration; build the index with CREATE UNIQUE INDEX CONCURRENTLY and attach it with ADD CONSTRAINT … USING INDEX",
            st.span_of(a, b),
            &[("table", table.display().as_str())],
        );
    }
}

fn alter_column_action(
    ctx: &mut Ctx<'_>,
    i: usize,
    st: &Stmt<'_>,
    table: &Name,
    a: usize,
    b: usize,
) {
    if st.is(a + 1, "CONSTRAINT") {
        return;
    }
    let c = if st.is(a + 1, "COLUMN") { a + 2 } else { a + 1 };
    let Some(column) = st.ident(c) else { return };
    let op = c + 1;
    let span = st.span_of(a, b);
    let qualified = format!("{}.{}", table.display(), column);
    let extra = [("table", table.display()), ("column", qualified.clone())];
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // A type change: the type rules on the new type.
    let ty_at = if st.seq(op, &["SET", "DATA", "TYPE"]) {
        Some(op + 3)
    } else if st.is(op, "TYPE") {
        Some(op + 1)
    } else {
        None
    };
    if let Some(t) = ty_at {
        let end = st
            .find((t, b), &["USING"])
            .or_else(|| st.find((t, b), &["COLLATE"]))
            .unwrap_or(b);
        if t < end {
            let col = ColumnDef {
                name: column.clone(),
                ty: classify_type(st, t, end),
                ty_range: (t, end),
                not_null: false,
                primary_key: false,
                default: false,
                default_null: false,
                generated: false,
                identity: false,
            };
            column_types(ctx, st, table, &col, false, false);
        }
        return;
    }
    if ctx.is_created(Ns::Relation, table) {
        // A table created earlier in this migration: empty, and nothing relies on it yet.
        return;
    }
    let added = ctx.added_column(i, table, &column);
    if st.seq(op, &["SET", "NOT", "NULL"]) {
        let backfilled = ctx.earlier(i).any(|f| match f {
            Fact::Updated(t, cols) => t.same(table) && cols.contains(&column),
            _ => false,
        });
        // A validated `CHECK (col IS NOT NULL)` already proves there is no NULL: the safe pattern.
        if !backfilled && added != Some(true) && !ctx.proven.has_no_nulls(table, &column) {
            ctx.push(
                "not-null-on-existing-data",
                format!(
                    "sets `{qualified}` NOT NULL: the statement fails if any existing row holds NULL there, and nothing earlier in this migration backfills it"
                ),
                "backfill first (`UPDATE … SET col = … WHERE col IS NULL`, in batches on a large table) or check for NULLs before deploying",
                span,
                &extra,
            );
        }
    } else if added.is_some() {
        // A column added earlier in this migration: nothing relies on it yet.
    } else if st.seq(op, &["DROP", "NOT", "NULL"]) {
        ctx.push(
            "drop-not-null",
            format!(
                "drops NOT NULL from `{qualified}`: code deployed before this migration may rely on the column never being NULL"
            ),
            "make sure every reader of the column handles NULL before this migration ships",
            span,
            &extra,
        );
    } else if st.seq(op, &["DROP", "DEFAULT"]) {
        let reset = ctx
            .later(i)
            .any(|f| matches!(f, Fact::SetDefault(t, col) if t.same(table) && *col == column));
        if !reset {
            ctx.push(
                "drop-default",
                format!(
                    "drops the default of `{qualified}`: inserts from code deployed before this migration that leave the column out now store NULL, or fail if it is NOT NULL"
                ),
                "ship code that always sets the column first, then drop the default in a later migration",
                span,
                &extra,
            );
        }
    } else if st.seq(op, &["DROP", "EXPRESSION"]) {
        ctx.push(
            "generated-column-change",
            format!(
                "turns generated column `{qualified}` into a plain column: it keeps its values but is no longer computed, so rows written afterwards by code that does not set it hold NULL"
            ),
            "have the code write the column before dropping its expression",
            span,
            &extra,
        );
    } else if st.seq(op, &["SET", "EXPRESSION"]) {
        ctx.push(
            "generated-column-change",
            format!(
                "changes the expression of generated column `{qualified}`: PostgreSQL recomputes every row, rewriting the table under an ACCESS EXCLUSIVE lock, and readers see the new values at once"
            ),
            "add a new generated column (or a plain one backfilled in batches), switch the code to it, then drop the old one",
            span,
            &extra,
        );
    } else if st.seq(op, &["DROP", "IDENTITY"]) {
        ctx.push(
            "identity-change",
            format!(
                "drops the identity of `{qualified}`: inserts that leave the column out no longer get a value and fail (or store NULL)"
            ),
            "give the column a default (or have the code set it) before dropping the identity",
            span,
            &extra,
        );
    } else if st.seq(op, &["ADD", "GENERATED"]) || st.seq(op, &["SET", "GENERATED"]) {
        let always = st.has((op, b), &["ALWAYS"]);
        let why = if always {
            "inserts that supply a value now fail unless they say OVERRIDING SYSTEM VALUE"
        } else {
            "its sequence starts at 1 unless told otherwise, so it can hand out values existing rows already hold"
        };
        ctx.push(
            "identity-change",
            format!("changes the identity of `{qualified}`: {why}"),
            "coordinate with the code that writes the column; when adding an identity, start it above the current maximum (`… AS IDENTITY (START WITH n)` or `ALTER COLUMN … RESTART WITH n`)",
            span,
            &extra,
        );
    }
}

// --- ALTER DOMAIN / renames of other objects

fn alter_domain(ctx: &mut Ctx<'_>, st: &Stmt<'_>) {
    let Some((name, after)) = st.name(2) else {
        return;
    };
    if !st.is(after, "ADD") || ctx.is_created(Ns::Type, &name) {
        return;
    }
    if st.has((after, st.len()), &["NOT", "VALID"]) {
        return;
    }
    ctx.push(
        "domain-constraint",
        format!(
            "adds a constraint to domain `{}`, which existed before this migration: PostgreSQL checks every column of every table that uses the domain, locking them while it scans",
            name.display()
        ),
        "put the constraint on the table columns instead; if it must be on the domain, ADD CONSTRAINT … NOT VALID and VALIDATE CONSTRAINT in a later migration",
        st.span_of(after, st.len()),
        &[("domain", name.display().as_str())],
    );
}

/// `rename` for objects other than tables (table renames are observed during replay):
/// `ALTER VIEW|MATERIALIZED VIEW|SEQUENCE|TYPE|DOMAIN|FUNCTION|PROCEDURE|SCHEMA … RENAME … / SET SCHEMA`.
fn rename_object(ctx: &mut Ctx<'_>, st: &Stmt<'_>) {
    let (ns, kind, at) = match st.word(1).as_deref() {
        Some("VIEW") => (Ns::Relation, "view", 2),
        Some("MATERIALIZED") if st.is(2, "VIEW") => (Ns::Relation, "materialized view", 3),
        Some("SEQUENCE") => (Ns::Relation, "sequence", 2),
        Some("TYPE") => (Ns::Type, "type", 2),
        Some("DOMAIN") => (Ns::Type, "domain", 2),
        Some("FUNCTION") => (Ns::Routine, "function", 2),
        Some("PROCEDURE") => (Ns::Routine, "procedure", 2),
        Some("SCHEMA") => (Ns::Schema, "schema", 2),
        _ => return,
    };
    let at = st.skip_if(at);
    let Some((name, after)) = st.name(at) else {
        return;
    };
    if ctx.is_created(ns, &name) {
        return;
    }
    let rest = (after, st.len());
    let what = if let Some(r) = st.find(rest, &["RENAME"]) {
        match st.word(r + 1).as_deref() {
            Some("VALUE") => "renames a value of",
            Some("ATTRIBUTE") => "renames an attribute of",
            Some("COLUMN") => "renames a column of",
            Some("CONSTRAINT") => return,
            _ => "renames",
        }
    } else if st.has(rest, &["SET", "SCHEMA"]) {
        "moves to another schema"
    } else {
        return;
    };
    ctx.push(
        "rename",
        format!(
            "{what} {kind} `{}`, which existed before this migration: running code that uses the old name breaks",
            name.display()
        ),
        "add the new name alongside the old one (a view or wrapper function under the old name), switch the code, then drop the old",
        st.span,
        &[("object", name.display().as_str()), ("kind", kind)],
    );
}

// --- DROP

fn drop(ctx: &mut Ctx<'_>, i: usize, st: &Stmt<'_>) {
    let (ns, kind, at) = match st.word(1).as_deref() {
        Some("DATABASE") => (Ns::Database, "database", 2),
        Some("SCHEMA") => (Ns::Schema, "schema", 2),
        Some("INDEX") => (Ns::Relation, "index", 2),
        Some("VIEW") => (Ns::Relation, "view", 2),
        Some("MATERIALIZED") if st.is(2, "VIEW") => (Ns::Relation, "materialized view", 3),
        Some("SEQUENCE") => (Ns::Relation, "sequence", 2),
        Some("TYPE") => (Ns::Type, "type", 2),
        Some("DOMAIN") => (Ns::Type, "domain", 2),
        Some("FUNCTION") => (Ns::Routine, "function", 2),
        Some("PROCEDURE") => (Ns::Routine, "procedure", 2),
        Some("AGGREGATE") => (Ns::Routine, "aggregate", 2),
        Some("EXTENSION") => (Ns::Extension, "extension", 2),
        Some("TRIGGER") => (Ns::Trigger, "trigger", 2),
        Some("POLICY") => (Ns::Policy, "policy", 2),
        _ => return,
    };
    let concurrently = st.is(at, "CONCURRENTLY");
    let at = st.skip_if(if concurrently { at + 1 } else { at });
    let names: Vec<(Name, usize)> = st
        .name_list(at)
        .into_iter()
        .filter(|(n, _)| !ctx.is_created(ns, n))
        .collect();
    if names.is_empty() {
        return;
    }
    let list = names
        .iter()
        .map(|(n, _)| format!("`{}`", n.display()))
        .collect::<Vec<_>>()
        .join(", ");
    let cascade = st.has((at, st.len()), &["CASCADE"]);
    let first_at = names.first().map(|(_, j)| *j).unwrap_or(at);
    let span = st.span_of(0, first_at + 1);
    match ns {
        Ns::Database => ctx.push(
            "drop-database",
            format!("drops database {list} from a migration: everything in it is lost"),
            "drop databases by hand or in provisioning code, never in a migration that runs on every environment",
            span,
            &[("database", list.trim_matches('`'))],
        ),
        Ns::Schema => ctx.push(
            "drop-schema",
            format!(
                "drops schema {list}, which existed before this migration{}",
                if cascade {
                    ", with CASCADE: every table, view and function in it goes too, with their data"
                } else {
                    ": running code that uses its objects breaks"
                }
            ),
            "drop the objects in it one by one, each in a release after nothing uses it; never CASCADE from a migration",
            span,
            &[("schema", list.trim_matches('`'))],
        ),
        Ns::Relation if kind == "index" => {
            if concurrently {
                return;
            }
            ctx.push(
                "drop-index-without-concurrently",
                format!(
                    "drops index {list} without CONCURRENTLY: DROP INDEX takes an ACCESS EXCLUSIVE lock on the index's table, so reads and writes of the table wait (also while it waits for the lock)"
                ),
                "use DROP INDEX CONCURRENTLY IF EXISTS, one index per statement, in a migration that runs outside a transaction (indexes backing a constraint are dropped with ALTER TABLE … DROP CONSTRAINT instead)",
                span,
                &[("index", list.trim_matches('`'))],
            );
        }
        _ => {
            // Dropped and created again in this migration (a redefinition): nothing is lost.
            let gone: Vec<&(Name, usize)> = names
                .iter()
                .filter(|(n, _)| {
                    !ctx.later(i)
                        .any(|f| matches!(f, Fact::Created(fns, c) if *fns == ns && c.same(n)))
                })
                .collect();
            if gone.is_empty() {
                return;
            }
            let list = gone
                .iter()
                .map(|(n, _)| format!("`{}`", n.display()))
                .collect::<Vec<_>>()
                .join(", ");
            let loss = match ns {
                Ns::Relation if kind == "sequence" => "; the sequence's current value is lost",
                Ns::Extension => "; the extension's objects (and their data) go with it",
                Ns::Policy => "; the rows it restricted may become visible to, or hidden from, other roles",
                Ns::Trigger => "; what it did on every write stops happening",
                _ => "",
            };
            ctx.push(
                "drop-object",
                format!(
                    "drops {kind} {list}, which existed before this migration and is not created again in it: running code that uses it breaks{loss}"
                ),
                "stop using it in a release first, then drop it in a later migration; to change its definition, drop and re-create it in the same migration (or CREATE OR REPLACE)",
                span,
                &[("kind", kind), ("object", list.trim_matches('`'))],
            );
        }
    }
}

// --- TRUNCATE, REINDEX, VACUUM, CLUSTER

fn truncate(ctx: &mut Ctx<'_>, st: &Stmt<'_>) {
    let at = if st.is(1, "TABLE") { 2 } else { 1 };
    let end = ["RESTART", "CONTINUE", "CASCADE", "RESTRICT"]
        .iter()
        .filter_map(|kw| st.find((at, st.len()), &[kw]))
        .min()
        .unwrap_or(st.len());
    let cascade = st.is(end, "CASCADE");
    let names: Vec<Name> = st
        .items(at, end)
        .into_iter()
        .filter_map(|(a, _)| st.name(if st.is(a, "ONLY") { a + 1 } else { a }))
        .map(|(n, _)| n)
        .collect();
    if names.is_empty() || (!cascade && names.iter().all(|n| ctx.is_created(Ns::Relation, n))) {
        return;
    }
    let list = names
        .iter()
        .map(|n| format!("`{}`", n.display()))
        .collect::<Vec<_>>()
        .join(", ");
    let tail = if cascade {
        "; CASCADE also empties every table with a foreign key to it, and the tables referencing those"
    } else {
        ""
    };
    ctx.push(
        "truncate-table",
        format!("empties {list} from a migration: every row is deleted{tail}"),
        "delete data on purpose in an operational script (or with DELETE … WHERE in batches), not in a schema migration; never TRUNCATE … CASCADE",
        st.span,
        &[("tables", list.as_str())],
    );
}

fn reindex(ctx: &mut Ctx<'_>, st: &Stmt<'_>) {
    let mut at = 1;
    let mut concurrently = false;
    if st.kind(at) == Some(TokenKind::LParen) {
        let close = st.close(at).unwrap_or(st.len());
        concurrently = (at..close).any(|j| st.is(j, "CONCURRENTLY"))
            && !(at..close).any(|j| st.is(j, "FALSE") || st.is(j, "OFF"));
        at = close + 1;
    }
    let Some(kind) = st.word(at) else { return };
    if !matches!(kind.as_str(), "INDEX" | "TABLE" | "SCHEMA" | "DATABASE") {
        // REINDEX SYSTEM cannot run concurrently.
        return;
    }
    at += 1;
    if st.is(at, "CONCURRENTLY") {
        concurrently = true;
        at += 1;
    }
    if concurrently {
        return;
    }
    let name = st.name(at).map(|(n, _)| n);
    if let Some(n) = &name
        && matches!(kind.as_str(), "INDEX" | "TABLE")
        && ctx.is_created(Ns::Relation, n)
    {
        return;
    }
    let target = name
        .map(|n| format!("{} `{}`", kind.to_lowercase(), n.display()))
        .unwrap_or_else(|| format!("the current {}", kind.to_lowercase()));
    ctx.push(
        "reindex-without-concurrently",
        format!(
            "rebuilds the indexes of {target} without CONCURRENTLY: writes to each table wait while its indexes are rebuilt, and reads that use an index being rebuilt wait too"
        ),
        "use REINDEX … CONCURRENTLY (PostgreSQL 12+), in a migration that runs outside a transaction",
        st.span,
        &[("target", target.as_str())],
    );
}

fn vacuum(ctx: &mut Ctx<'_>, st: &Stmt<'_>) {
    let mut at = 1;
    let mut full = false;
    if st.kind(at) == Some(TokenKind::LParen) {
        let close = st.close(at).unwrap_or(st.len());
        full = (at..close).any(|j| st.is(j, "FULL"))
            && !(at..close).any(|j| st.is(j, "FALSE") || st.is(j, "OFF"));
        at = close + 1;
    } else {
        while let Some(w) = st.word(at) {
            match w.as_str() {
                "FULL" => full = true,
                "FREEZE" | "VERBOSE" | "ANALYZE" | "ANALYSE" => {}
                _ => break,
            }
            at += 1;
        }
    }
    if !full {
        return;
    }
    rewrite_maintenance(ctx, st, "VACUUM FULL", at);
}

fn cluster(ctx: &mut Ctx<'_>, st: &Stmt<'_>) {
    let mut at = 1;
    if st.kind(at) == Some(TokenKind::LParen) {
        at = st.close(at).map_or(st.len(), |c| c + 1);
    }
    if st.is(at, "VERBOSE") {
        at += 1;
    }
    rewrite_maintenance(ctx, st, "CLUSTER", at);
}

fn rewrite_maintenance(ctx: &mut Ctx<'_>, st: &Stmt<'_>, what: &str, at: usize) {
    let names: Vec<Name> = st.name_list(at).into_iter().map(|(n, _)| n).collect();
    if !names.is_empty() && names.iter().all(|n| ctx.is_created(Ns::Relation, n)) {
        return;
    }
    let target = if names.is_empty() && what == "CLUSTER" {
        "every table clustered before".to_string()
    } else if names.is_empty() {
        "every table of the database".to_string()
    } else {
        names
            .iter()
            .map(|n| format!("`{}`", n.display()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    ctx.push(
        "vacuum-full-or-cluster",
        format!(
            "`{what}` rewrites {target} under an ACCESS EXCLUSIVE lock: reads and writes wait for the whole rewrite"
        ),
        "reclaim space or re-order rows online with pg_repack or pg_squeeze; a plain VACUUM takes no exclusive lock",
        st.span,
        &[("command", what), ("target", target.as_str())],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::{Batch, Transactions};
    use std::path::PathBuf;
    use std::sync::Arc;

    /// Rule ids and 1-based lines of the findings on `sql` (one migration, psql-style batches).
    fn lint(sql: &str) -> Vec<(String, usize)> {
        let text: Arc<str> = Arc::from(sql);
        let batches = sql::split(sql)
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(|s| Batch {
                span: s.code,
                copy: None,
            })
            .collect();
        let m = Migration {
            id: "001".into(),
            file: PathBuf::from("001.sql"),
            text: text.clone(),
            batches,
            transactions: Transactions::Autocommit,
            blocked: None,
        };
        let index = sql::LineIndex::new(sql);
        migration_findings(&m, &mut Proven::default())
            .into_iter()
            .map(|f| {
                let start = f.location.and_then(|l| l.span).map_or(0, |s| s.start);
                (f.rule, index.line_col(sql, start).0 as usize)
            })
            .collect()
    }

    fn rules(sql: &str) -> Vec<String> {
        lint(sql).into_iter().map(|(r, _)| r).collect()
    }

    #[test]
    fn every_id_is_registered() {
        for id in IDS {
            assert!(crate::rules::rule(id).is_some(), "{id} is not in RULES");
        }
    }

    #[test]
    fn add_required_column_only_on_existing_tables_without_default() {
        assert_eq!(
            rules("ALTER TABLE users ADD COLUMN age int NOT NULL;"),
            ["add-required-column"]
        );
        assert_eq!(
            rules("ALTER TABLE users ADD COLUMN age bigint PRIMARY KEY;"),
            ["add-required-column"]
        );
        for ok in [
            "ALTER TABLE users ADD COLUMN age int NOT NULL DEFAULT 0;",
            "ALTER TABLE users ADD COLUMN age int;",
            "ALTER TABLE users ADD COLUMN n bigserial NOT NULL;",
            "ALTER TABLE users ADD COLUMN n bigint NOT NULL GENERATED ALWAYS AS IDENTITY;",
            "ALTER TABLE users ADD COLUMN n bigint NOT NULL GENERATED ALWAYS AS (id * 2) STORED;",
            "CREATE TABLE users (id bigint); ALTER TABLE users ADD COLUMN age int NOT NULL;",
            "CREATE TABLE a (id bigint); ALTER TABLE a RENAME TO users; ALTER TABLE users ADD COLUMN x int NOT NULL;",
            "-- ALTER TABLE users ADD COLUMN age int NOT NULL;\nSELECT 'ALTER TABLE users ADD COLUMN age int NOT NULL';",
        ] {
            assert!(
                !rules(ok).iter().any(|r| r == "add-required-column"),
                "{ok}: {:?}",
                rules(ok)
            );
        }
        assert_eq!(
            rules("ALTER TABLE users ADD COLUMN age int NOT NULL DEFAULT NULL;"),
            ["add-required-column"]
        );
    }

    #[test]
    fn set_not_null_is_quiet_after_a_backfill() {
        assert_eq!(
            rules("ALTER TABLE users ALTER COLUMN email SET NOT NULL;"),
            ["not-null-on-existing-data"]
        );
        assert!(
            rules(
                "UPDATE users SET email = '' WHERE email IS NULL;\nALTER TABLE users ALTER COLUMN email SET NOT NULL;"
            )
            .is_empty()
        );
        assert!(
            rules("ALTER TABLE users ADD COLUMN c int DEFAULT 0; ALTER TABLE users ALTER c SET NOT NULL;")
                .is_empty()
        );
        // Added without a default: every existing row holds NULL.
        assert_eq!(
            rules("ALTER TABLE users ADD COLUMN c int; ALTER TABLE users ALTER c SET NOT NULL;"),
            ["not-null-on-existing-data"]
        );
        assert!(
            rules("ALTER TABLE users ADD COLUMN c int;\nUPDATE users SET c = 0;\nALTER TABLE users ALTER c SET NOT NULL;")
                .is_empty()
        );
    }

    #[test]
    fn set_not_null_is_quiet_after_a_validated_not_null_check() {
        let set_not_null = "ALTER TABLE users ALTER COLUMN email SET NOT NULL;";
        for (before, fires) in [
            (
                "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;\n\
                 ALTER TABLE users VALIDATE CONSTRAINT email_nn;",
                false,
            ),
            (
                "ALTER TABLE users ADD CONSTRAINT email_nn CHECK ((email IS NOT NULL));",
                false,
            ),
            // Not validated yet: NULLs may still be there.
            (
                "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;",
                true,
            ),
            // Another column, another constraint, another condition.
            (
                "ALTER TABLE users ADD CONSTRAINT name_nn CHECK (name IS NOT NULL);",
                true,
            ),
            (
                "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;\n\
                 ALTER TABLE users VALIDATE CONSTRAINT other;",
                true,
            ),
            (
                "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL OR id < 0);",
                true,
            ),
        ] {
            let found = rules(&format!("{before}\n{set_not_null}"));
            assert_eq!(
                found.contains(&"not-null-on-existing-data".to_string()),
                fires,
                "{before}: {found:?}"
            );
        }
    }

    #[test]
    fn a_not_null_check_validated_in_an_earlier_migration_counts() {
        let migration = |id: &str, sql: &str| {
            let text: Arc<str> = Arc::from(sql);
            Migration {
                id: id.into(),
                file: PathBuf::from(format!("{id}.sql")),
                text,
                batches: sql::split(sql)
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .map(|s| Batch {
                        span: s.code,
                        copy: None,
                    })
                    .collect(),
                transactions: Transactions::Autocommit,
                blocked: None,
            }
        };
        let add = migration(
            "001",
            "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;",
        );
        let validate = migration("002", "ALTER TABLE users VALIDATE CONSTRAINT email_nn;");
        let set = migration("003", "ALTER TABLE users ALTER COLUMN email SET NOT NULL;");
        let rules_of = |ms: &[Migration]| -> Vec<String> {
            findings_in(ms).into_iter().map(|f| f.rule).collect()
        };
        assert!(
            !rules_of(&[add.clone(), validate, set.clone()])
                .contains(&"not-null-on-existing-data".to_string())
        );
        assert!(rules_of(&[add, set]).contains(&"not-null-on-existing-data".to_string()));
    }

    #[test]
    fn unique_indexes_and_constraints_on_existing_tables() {
        assert_eq!(
            lint("CREATE UNIQUE INDEX CONCURRENTLY u ON users (email);"),
            [("unique-on-existing-data".to_string(), 1)]
        );
        assert_eq!(
            rules("ALTER TABLE users ADD CONSTRAINT u UNIQUE (email);"),
            ["unique-on-existing-data"]
        );
        assert!(rules("ALTER TABLE users ADD CONSTRAINT u UNIQUE USING INDEX u_idx;").is_empty());
        assert!(rules("CREATE TABLE t (a int); CREATE UNIQUE INDEX ON t (a);").is_empty());
        assert!(rules("CREATE INDEX i ON users (email);").is_empty());
    }

    #[test]
    fn drop_index_reindex_vacuum_cluster() {
        assert_eq!(rules("DROP INDEX i;"), ["drop-index-without-concurrently"]);
        assert!(rules("DROP INDEX CONCURRENTLY IF EXISTS i;").is_empty());
        assert!(rules("CREATE INDEX i ON t (a); DROP INDEX i;").is_empty());
        assert_eq!(
            rules("REINDEX TABLE users;"),
            ["reindex-without-concurrently"]
        );
        assert!(rules("REINDEX TABLE CONCURRENTLY users;").is_empty());
        assert!(rules("REINDEX (CONCURRENTLY, VERBOSE) INDEX i;").is_empty());
        assert!(rules("REINDEX SYSTEM;").is_empty());
        assert_eq!(rules("VACUUM FULL users;"), ["vacuum-full-or-cluster"]);
        assert_eq!(rules("VACUUM (FULL, ANALYZE);"), ["vacuum-full-or-cluster"]);
        assert!(rules("VACUUM ANALYZE users;").is_empty());
        assert_eq!(
            rules("CLUSTER users USING users_pkey;"),
            ["vacuum-full-or-cluster"]
        );
        assert!(rules("CREATE TABLE s (a int); VACUUM FULL s;").is_empty());
    }

    #[test]
    fn destructive_drops_and_truncate() {
        assert_eq!(rules("DROP DATABASE app;"), ["drop-database"]);
        assert_eq!(rules("DROP SCHEMA IF EXISTS old CASCADE;"), ["drop-schema"]);
        assert!(rules("CREATE SCHEMA tmp; DROP SCHEMA tmp;").is_empty());
        assert_eq!(rules("DROP VIEW v, w;"), ["drop-object"]);
        assert_eq!(rules("DROP FUNCTION f(int), g();"), ["drop-object"]);
        // Re-created in the same migration: a redefinition.
        assert!(rules("DROP VIEW v;\nCREATE VIEW v AS SELECT 1;").is_empty());
        assert!(rules("DROP FUNCTION f(int);\nCREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS $$ SELECT a $$;").is_empty());
        assert_eq!(rules("DROP TRIGGER t ON users;"), ["drop-object"]);
        assert_eq!(rules("TRUNCATE users;"), ["truncate-table"]);
        assert_eq!(
            rules("CREATE TABLE s (a int); TRUNCATE s CASCADE;"),
            ["truncate-table"]
        );
        assert!(rules("CREATE TABLE s (a int); TRUNCATE s;").is_empty());
        // DROP TABLE is observed during replay (drop-table), not here.
        assert!(rules("DROP TABLE users;").is_empty());
    }

    #[test]
    fn backward_incompatible_column_changes() {
        assert_eq!(
            rules("ALTER TABLE t ALTER COLUMN a DROP NOT NULL;"),
            ["drop-not-null"]
        );
        assert_eq!(
            rules("ALTER TABLE t ALTER a DROP DEFAULT;"),
            ["drop-default"]
        );
        assert!(
            rules("ALTER TABLE t ALTER a DROP DEFAULT;\nALTER TABLE t ALTER a SET DEFAULT 1;")
                .is_empty()
        );
        assert_eq!(
            rules("ALTER TABLE t DROP CONSTRAINT t_a_check;"),
            ["drop-constraint"]
        );
        assert!(
            rules("ALTER TABLE t DROP CONSTRAINT c;\nALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;")
                .is_empty()
        );
        // The lock-safe NOT NULL pattern drops its temporary CHECK.
        assert!(
            rules(
                "ALTER TABLE t ALTER a SET NOT NULL;\nALTER TABLE t DROP CONSTRAINT t_a_not_null;"
            )
            .iter()
            .all(|r| r != "drop-constraint")
        );
        assert!(
            rules("ALTER TABLE t ADD CONSTRAINT tmp CHECK (a > 0) NOT VALID;\nALTER TABLE t DROP CONSTRAINT tmp;")
                .is_empty()
        );
        assert_eq!(
            rules("ALTER TABLE t ALTER a DROP IDENTITY;"),
            ["identity-change"]
        );
        assert_eq!(
            rules("ALTER TABLE t ALTER a SET GENERATED ALWAYS;"),
            ["identity-change"]
        );
        assert_eq!(
            rules("ALTER TABLE t ALTER a DROP EXPRESSION;"),
            ["generated-column-change"]
        );
        assert_eq!(
            rules("ALTER TABLE t REPLICA IDENTITY FULL;"),
            ["replica-identity-change"]
        );
        assert!(rules("ALTER TABLE t REPLICA IDENTITY DEFAULT;").is_empty());
        assert_eq!(
            rules("ALTER TABLE t DISABLE TRIGGER ALL;"),
            ["disable-trigger"]
        );
        assert!(
            rules("ALTER TABLE t DISABLE TRIGGER ALL;\nUPDATE t SET a = 1;\nALTER TABLE t ENABLE TRIGGER ALL;")
                .is_empty()
        );
        // Columns of tables created in the same migration are new: nobody relies on them yet.
        assert!(
            rules("CREATE TABLE t (a int NOT NULL); ALTER TABLE t ALTER a DROP NOT NULL;")
                .is_empty()
        );
    }

    #[test]
    fn renames_of_other_objects() {
        assert_eq!(rules("ALTER VIEW v RENAME TO w;"), ["rename"]);
        assert_eq!(
            rules("ALTER TYPE mood RENAME VALUE 'sad' TO 'blue';"),
            ["rename"]
        );
        assert_eq!(rules("ALTER FUNCTION f(int) SET SCHEMA util;"), ["rename"]);
        assert!(rules("CREATE VIEW v AS SELECT 1; ALTER VIEW v RENAME TO w;").is_empty());
        // Table renames are observed during replay.
        assert!(rules("ALTER TABLE t RENAME TO u;").is_empty());
    }

    #[test]
    fn column_types() {
        let sql = "CREATE TABLE t (\n  id serial PRIMARY KEY,\n  code char(3),\n  name varchar(100) NOT NULL,\n  note character varying,\n  at timestamp,\n  at2 timestamp with time zone,\n  qty integer,\n  \"char\" text\n);";
        assert_eq!(
            lint(sql),
            [
                ("prefer-identity".to_string(), 2),
                ("prefer-bigint".to_string(), 2),
                ("char-column".to_string(), 3),
                ("prefer-text".to_string(), 4),
                ("prefer-timestamptz".to_string(), 6),
            ]
        );
        assert_eq!(
            rules("CREATE TABLE t (a int, b int, PRIMARY KEY (a));"),
            ["prefer-bigint"]
        );
        assert_eq!(
            rules("CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY);"),
            ["prefer-bigint"]
        );
        assert!(rules("CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n int, s text, ts timestamptz);").is_empty());
        assert_eq!(
            rules("ALTER TABLE t ALTER COLUMN s TYPE varchar(20);"),
            ["prefer-text"]
        );
        assert_eq!(
            rules("ALTER TABLE t ADD COLUMN ts timestamp(3);"),
            ["prefer-timestamptz"]
        );
    }

    #[test]
    fn operations_rules() {
        assert_eq!(
            rules("ALTER TABLE t SET (autovacuum_enabled = false);"),
            ["autovacuum-disabled"]
        );
        assert_eq!(
            rules("CREATE TABLE t (a bigint) WITH (autovacuum_enabled = off);"),
            ["autovacuum-disabled"]
        );
        assert!(rules("ALTER TABLE t SET (autovacuum_vacuum_scale_factor = 0.01);").is_empty());
        assert_eq!(
            rules("CREATE DOMAIN pos AS int CHECK (VALUE > 0);"),
            ["domain-constraint"]
        );
        assert_eq!(
            rules("ALTER DOMAIN pos ADD CONSTRAINT c CHECK (VALUE < 10);"),
            ["domain-constraint"]
        );
        assert!(
            rules("ALTER DOMAIN pos ADD CONSTRAINT c CHECK (VALUE < 10) NOT VALID;").is_empty()
        );
        let long = "a".repeat(64);
        assert_eq!(
            rules(&format!("CREATE TABLE t (id bigint, {long} text);")),
            ["identifier-too-long"]
        );
        assert!(
            rules(&format!(
                "CREATE TABLE t (id bigint, {} text);",
                "a".repeat(63)
            ))
            .is_empty()
        );
    }

    #[test]
    fn every_prefix_of_every_form_is_handled_without_panicking() {
        let sql = "CREATE UNLOGGED TABLE IF NOT EXISTS s.\"T\" (id serial PRIMARY KEY, c char(2), v varchar(9), t timestamp(3), CONSTRAINT k PRIMARY KEY (id)) WITH (autovacuum_enabled = false);\n\
            ALTER TABLE ONLY t * ADD COLUMN IF NOT EXISTS a int NOT NULL DEFAULT NULL, ALTER COLUMN b SET DATA TYPE varchar(3) USING b::text, ALTER b DROP NOT NULL, DROP CONSTRAINT IF EXISTS x, REPLICA IDENTITY FULL, DISABLE TRIGGER ALL, SET (autovacuum_enabled = 'off'), ENABLE REPLICA TRIGGER y, RENAME TO u;\n\
            UPDATE ONLY t AS q SET (a, b) = (1, 2), q.c = 3 FROM z WHERE true;\n\
            CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON ONLY t USING btree (a);\n\
            DROP FUNCTION IF EXISTS f(int, text), g() CASCADE; DROP INDEX CONCURRENTLY i; TRUNCATE TABLE ONLY a, ONLY b RESTART IDENTITY CASCADE;\n\
            REINDEX (VERBOSE, CONCURRENTLY false) TABLE t; VACUUM (FULL, ANALYZE) t (a); CLUSTER (VERBOSE) t USING i;\n\
            ALTER DOMAIN d ADD CONSTRAINT c CHECK (VALUE > 0); ALTER TYPE e RENAME VALUE 'a' TO 'b'; CREATE DOMAIN d2 AS int NOT NULL;";
        for end in 0..=sql.len() {
            if sql.is_char_boundary(end) {
                let _ = lint(&sql[..end]);
            }
        }
    }

    #[test]
    fn unknown_statements_do_not_stop_the_walk() {
        let sql = "ALTER TABLE ;\nDO $$ BEGIN ALTER TABLE x DROP CONSTRAINT y; END $$;\nSELEC 1;\nDROP INDEX i;";
        assert_eq!(
            lint(sql),
            [("drop-index-without-concurrently".to_string(), 4)]
        );
        for junk in [
            "ALTER",
            "CREATE TABLE",
            "DROP",
            "ALTER TABLE t ALTER",
            "UPDATE",
            "REINDEX (",
            "VACUUM (",
            "CREATE TABLE t (a",
            "\u{e9}\u{e9}",
        ] {
            let _ = lint(junk);
        }
    }
}
