//! Rules on `ALTER TABLE`: added columns and constraints, column changes, identity, triggers.

use super::*;

/// `ALTER TABLE` (and the column actions of `ALTER FOREIGN TABLE` / `ALTER VIEW`); `at` is the index
/// after the object keyword.
pub(super) fn alter_table(ctx: &mut Ctx<'_>, i: usize, st: &Stmt<'_>, at: usize) {
    let mut at = st.skip_if(at);
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
    let emptied = ctx
        .earlier(i)
        .any(|f| matches!(f, Fact::Emptied(t) if t.same(&table)));
    // A foreign table holds no rows here and a view none at all: only their column changes count.
    let plain_table = st.is(1, "TABLE");
    for (a, b) in st.items(after, st.len()) {
        if !plain_table && !st.is(a, "ALTER") {
            continue;
        }
        match st.word(a).as_deref() {
            // Rows decide; a table this migration emptied before has none.
            Some("ADD") => add_action(ctx, st, &table, existing && !emptied, a, b),
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
            Some("ENABLE") if st.seq(a + 1, &["ALWAYS", "TRIGGER"]) && existing => {
                let Some(trigger) = st.ident(a + 3) else {
                    continue;
                };
                ctx.push(
                    "disable-trigger",
                    format!(
                        "sets trigger `{trigger}` on `{}` to ENABLE ALWAYS: it now also fires in sessions with session_replication_role = replica (logical replication applying changes on a subscriber, tools that set it to skip triggers), so replicated rows go through it a second time",
                        table.display()
                    ),
                    "keep the trigger in its default mode (ENABLE TRIGGER) unless it must run on replicated changes, and check what it does on the subscribers first",
                    st.span_of(a, b),
                    &[("table", table.display().as_str()), ("trigger", trigger.as_str()), ("mode", "always")],
                );
            }
            Some("DISABLE" | "ENABLE")
                if (st.is(a, "DISABLE") && st.is(a + 1, "TRIGGER"))
                    || st.seq(a + 1, &["REPLICA", "TRIGGER"]) =>
            {
                let replica = st.is(a + 1, "REPLICA");
                let Some(trigger) = st.ident(if replica { a + 3 } else { a + 2 }) else {
                    continue;
                };
                if replica && !existing {
                    continue;
                }
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
                let what = if replica {
                    "sets trigger `{trigger}` to ENABLE REPLICA (it then fires only in sessions with session_replication_role = replica)"
                } else {
                    "disables trigger `{trigger}`"
                }
                .replace("{trigger}", &trigger);
                ctx.push(
                    "disable-trigger",
                    format!(
                        "{what} on `{}` and nothing later in this migration enables it again: it stays off for every ordinary session after the migration{all}",
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

pub(super) fn add_action(
    ctx: &mut Ctx<'_>,
    st: &Stmt<'_>,
    table: &Name,
    existing: bool,
    a: usize,
    b: usize,
) {
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

pub(super) fn alter_column_action(
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
        if !st.is(1, "TABLE") {
            // A foreign table's NOT NULL is not checked against the remote rows.
            return;
        }
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
