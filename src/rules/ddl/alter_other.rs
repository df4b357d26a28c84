//! Rules on `ALTER DOMAIN` and on renames of objects other than tables.

use super::*;

pub(super) fn alter_domain(ctx: &mut Ctx<'_>, st: &Stmt<'_>) {
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
pub(super) fn rename_object(ctx: &mut Ctx<'_>, st: &Stmt<'_>) {
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
