//! Facts: what each statement creates, renames, backfills or re-enables (read before the rules run, so
//! rules can look ahead in the migration).

use super::*;

/// Object namespaces (relations share one: tables, indexes, views, sequences).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ns {
    Relation,
    Type,
    Routine,
    Schema,
    Extension,
    Trigger,
    Policy,
    Database,
    /// `CAST (source AS target)`, named `source as target`.
    Cast,
    /// Kinds whose creation is not followed (collations, servers, publications, …): always taken as
    /// existing.
    Other,
}

#[derive(Clone, Debug)]
pub(super) enum Fact {
    Created(Ns, Name),
    Renamed(Ns, Name, Name),
    /// `ALTER TABLE … ADD COLUMN` (`true` when it has a non-null default or is generated).
    AddedColumn(Name, String, bool),
    /// `UPDATE table SET col = …` that reaches every row where the column is NULL (no `WHERE`, or a
    /// `WHERE col IS NULL [OR …]`, and no `FROM` join that could leave rows out): the columns so
    /// backfilled.
    Updated(Name, Vec<String>),
    AddedConstraint(Name, String),
    SetDefault(Name, String),
    /// `ALTER COLUMN … SET NOT NULL` on a table.
    SetNotNull(Name),
    /// `ENABLE [ALWAYS] TRIGGER name | ALL | USER` on a table (it fires in ordinary sessions again).
    EnabledTrigger(Name, String),
    /// `ADD CONSTRAINT name CHECK (col IS NOT NULL)`: table, constraint, column, and whether it is
    /// validated at once (no `NOT VALID`).
    NotNullCheck(Name, String, String, bool),
    /// `VALIDATE CONSTRAINT name` on a table.
    Validated(Name, String),
    /// A routine's search_path: fixed by `SET search_path` in `CREATE FUNCTION` / `ALTER FUNCTION`
    /// (`true`), or left unset by a `CREATE` without it or a `RESET` (`false`).
    SearchPath(Name, bool),
    /// `TRUNCATE table`, or `DELETE FROM table` with no `WHERE` and no `USING`: no row is left.
    Emptied(Name),
}

/// The tables a `TRUNCATE [TABLE] [ONLY] a, b … [RESTART IDENTITY] [CASCADE]` empties, and whether
/// it cascades.
pub(super) fn truncated(st: &Stmt<'_>) -> (Vec<Name>, bool) {
    let at = if st.is(1, "TABLE") { 2 } else { 1 };
    let end = ["RESTART", "CONTINUE", "CASCADE", "RESTRICT"]
        .iter()
        .filter_map(|kw| st.find((at, st.len()), &[kw]))
        .min()
        .unwrap_or(st.len());
    let names = st
        .items(at, end)
        .into_iter()
        .filter_map(|(a, _)| st.name(if st.is(a, "ONLY") { a + 1 } else { a }))
        .map(|(n, _)| n)
        .collect();
    (names, st.is(end, "CASCADE"))
}

/// Skips `CREATE [OR REPLACE] [TEMP|UNLOGGED|…]` and returns the index of the object keyword.
pub(super) fn after_create(st: &Stmt<'_>) -> usize {
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
pub(super) fn create_index_parts(st: &Stmt<'_>, at: usize) -> Option<(Option<Name>, Name, usize)> {
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

pub(super) fn facts(st: &Stmt<'_>) -> Vec<Fact> {
    let mut out = Vec::new();
    if let Some((routine, fixed)) = search_path_fact(st) {
        out.push(Fact::SearchPath(routine, fixed));
    }
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
                Some("FOREIGN") if st.is(k + 1, "TABLE") => obj(Ns::Relation, k + 2),
                Some("CAST") => cast_name(st, k + 1).map(|n| Fact::Created(Ns::Cast, n)),
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
                Some("FOREIGN") if st.is(2, "TABLE") => (Ns::Relation, 3),
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
            if st.is(1, "TABLE") || st.is(1, "VIEW") || st.is(1, "FOREIGN") {
                for (a, b) in st.items(after, st.len()) {
                    table_action_facts(st, &name, a, b, &mut out);
                }
            }
            // `ALTER DOMAIN d SET DEFAULT …`: a default with no column.
            if st.is(1, "DOMAIN") && st.seq(after, &["SET", "DEFAULT"]) {
                out.push(Fact::SetDefault(name.clone(), String::new()));
            }
        }
        Some("TRUNCATE") => {
            out.extend(truncated(st).0.into_iter().map(Fact::Emptied));
        }
        Some("DELETE") if st.is(1, "FROM") => {
            let at = if st.is(2, "ONLY") { 3 } else { 2 };
            if let Some((table, after)) = st.name(at)
                && st.find((after, st.len()), &["WHERE"]).is_none()
                && st.find((after, st.len()), &["USING"]).is_none()
            {
                out.push(Fact::Emptied(table));
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
            // A join only updates the rows it matches.
            if st.is(end, "FROM") {
                out.push(Fact::Updated(table, Vec::new()));
                return out;
            }
            let filter = st.is(end, "WHERE").then(|| {
                let stop = st
                    .find((end + 1, st.len()), &["RETURNING"])
                    .unwrap_or(st.len());
                (end + 1, stop)
            });
            let mut cols = Vec::new();
            for (a, b) in st.items(set + 1, end) {
                let eq = (a..b).find(|&j| {
                    st.kind(j) == Some(TokenKind::Operator) && st.toks[j].text(st.text) == "="
                });
                let Some(eq) = eq else { continue };
                // `col =`, `t.col =`, `(a, b) =`: every identifier before the `=`; a value that is
                // NULL itself backfills nothing.
                if eq + 2 == b && st.is(eq + 1, "NULL") {
                    continue;
                }
                for j in a..eq {
                    if let Some(c) = st.ident(j)
                        && st.kind(j + 1) != Some(TokenKind::Dot)
                        && filter.is_none_or(|w| where_covers_nulls(st, w, &c))
                    {
                        cols.push(c);
                    }
                }
            }
            out.push(Fact::Updated(table, cols));
        }
        _ => {}
    }
    // Held for every statement of the migration: no spare capacity.
    out.shrink_to_fit();
    out
}

pub(super) fn table_action_facts(
    st: &Stmt<'_>,
    table: &Name,
    a: usize,
    b: usize,
    out: &mut Vec<Fact>,
) {
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
            // `ENABLE REPLICA` fires only in replica sessions: not enabled for ordinary ones.
            if st.is(i, "REPLICA") {
                return;
            }
            if st.is(i, "ALWAYS") {
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
pub(super) fn not_null_check(st: &Stmt<'_>, at: usize, end: usize) -> Option<String> {
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
pub(super) fn add_column_start(st: &Stmt<'_>, a: usize) -> usize {
    if matches!(
        st.word(a + 1).as_deref(),
        Some("CONSTRAINT" | "PRIMARY" | "UNIQUE" | "CHECK" | "FOREIGN" | "EXCLUDE")
    ) {
        return usize::MAX;
    }
    let i = if st.is(a + 1, "COLUMN") { a + 2 } else { a + 1 };
    st.skip_if(i)
}

/// Whether the `WHERE` condition in `range` holds on every row where `column` is NULL: the condition
/// is `column IS NULL` (any parentheses, optionally qualified), or an `OR` with such a branch at the
/// top level. Anything else (`WHERE random() > 0.5`, `WHERE col IS NULL AND id < 1000`) may leave
/// NULL rows behind.
pub(super) fn where_covers_nulls(st: &Stmt<'_>, (from, to): (usize, usize), column: &str) -> bool {
    // Split on OR at parenthesis depth 0, after stripping parentheses around the whole condition.
    let (mut from, mut to) = (from, to.min(st.len()));
    while st.kind(from) == Some(TokenKind::LParen) && st.close(from) == Some(to.saturating_sub(1)) {
        from += 1;
        to -= 1;
    }
    let mut branches = Vec::new();
    let mut depth = 0i32;
    let mut start = from;
    for i in from..to {
        match st.kind(i) {
            Some(TokenKind::LParen) => depth += 1,
            Some(TokenKind::RParen) => depth -= 1,
            _ if depth == 0 && st.is(i, "OR") => {
                branches.push((start, i));
                start = i + 1;
            }
            _ => {}
        }
    }
    branches.push((start, to));
    if branches.len() == 1 {
        // `col IS NULL`, `t.col IS NULL`.
        let mut i = from;
        while st.kind(i + 1) == Some(TokenKind::Dot) {
            i += 2;
        }
        return i + 3 == to
            && st.ident(i).as_deref() == Some(column)
            && st.seq(i + 1, &["IS", "NULL"]);
    }
    branches
        .into_iter()
        .any(|range| where_covers_nulls(st, range, column))
}

/// The name of `(source AS target)` starting at the `(` at `at`: both types as written, lower-cased.
pub(super) fn cast_name(st: &Stmt<'_>, at: usize) -> Option<Name> {
    if st.kind(at) != Some(TokenKind::LParen) {
        return None;
    }
    let close = st.close(at)?;
    let words: Vec<String> = (at + 1..close)
        .map(|j| st.toks[j].text(st.text).to_lowercase())
        .collect();
    Some(Name {
        schema: None,
        name: words.join(" "),
    })
}
