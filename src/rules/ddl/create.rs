//! Rules on `CREATE` statements: column types, autovacuum settings, index and table creation.

use super::*;

pub(super) fn create(ctx: &mut Ctx<'_>, st: &Stmt<'_>) {
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

pub(super) fn create_table(ctx: &mut Ctx<'_>, st: &Stmt<'_>, at: usize) {
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
pub(super) fn column_types(
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
        Ty::ByteChar => ctx.push(
            "char-column",
            format!(
                "column `{column}` is `{written}` (PostgreSQL's internal one-byte type, not char(1)): a longer value is silently cut to its first byte"
            ),
            "use text (with CHECK (char_length(col) <= n) when the limit matters), or char(1) / a CHECK if one character is meant",
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
pub(super) fn autovacuum(
    ctx: &mut Ctx<'_>,
    st: &Stmt<'_>,
    table: &Name,
    (from, to): (usize, usize),
) {
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
        if eq && parse_bool(&value) == Some(false) {
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
