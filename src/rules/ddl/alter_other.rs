//! Rules on `ALTER DOMAIN` and on renames of objects other than tables.

use super::*;

pub(super) fn alter_domain(ctx: &mut Ctx<'_>, i: usize, st: &Stmt<'_>) {
    let Some((name, after)) = st.name(2) else {
        return;
    };
    if ctx.is_created(Ns::Type, &name) {
        return;
    }
    let domain = name.display();
    let extra = [("domain", domain.as_str())];
    if st.seq(after, &["DROP", "NOT", "NULL"]) {
        ctx.push(
            "drop-not-null",
            format!(
                "drops NOT NULL from domain `{domain}`: every column of that type now accepts NULL, and code deployed before this migration may rely on it never being NULL"
            ),
            "make sure every reader of the columns of this domain handles NULL before this migration ships",
            st.span_of(after, st.len()),
            &extra,
        );
        return;
    }
    if st.seq(after, &["DROP", "DEFAULT"]) {
        // `SET DEFAULT` later in this migration replaces it.
        let reset = ctx
            .later(i)
            .any(|f| matches!(f, Fact::SetDefault(t, c) if t.same(&name) && c.is_empty()));
        if !reset {
            ctx.push(
                "drop-default",
                format!(
                    "drops the default of domain `{domain}`: inserts from code deployed before this migration that leave a column of that type out now store NULL, or fail on a NOT NULL"
                ),
                "ship code that always sets those columns first, then drop the default in a later migration",
                st.span_of(after, st.len()),
                &extra,
            );
        }
        return;
    }
    if !st.is(after, "ADD") {
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

/// `rename` for objects other than tables (table renames are observed during replay): `ALTER <kind>
/// … RENAME … / SET SCHEMA` for every kind of object that has a name (views, sequences, indexes,
/// types, domains, routines, schemas, triggers, policies, rules, foreign tables, collations, …).
pub(super) fn rename_object(ctx: &mut Ctx<'_>, i: usize, st: &Stmt<'_>) {
    let (ns, kind, at) = match st.word(1).as_deref() {
        Some("VIEW") => (Ns::Relation, "view", 2),
        Some("MATERIALIZED") if st.is(2, "VIEW") => (Ns::Relation, "materialized view", 3),
        Some("SEQUENCE") => (Ns::Relation, "sequence", 2),
        Some("INDEX") => (Ns::Relation, "index", 2),
        Some("FOREIGN") if st.is(2, "TABLE") => (Ns::Relation, "foreign table", 3),
        Some("FOREIGN") if st.seq(2, &["DATA", "WRAPPER"]) => {
            (Ns::Other, "foreign-data wrapper", 4)
        }
        Some("TYPE") => (Ns::Type, "type", 2),
        Some("DOMAIN") => (Ns::Type, "domain", 2),
        Some("FUNCTION") => (Ns::Routine, "function", 2),
        Some("PROCEDURE") => (Ns::Routine, "procedure", 2),
        Some("ROUTINE") => (Ns::Routine, "routine", 2),
        Some("AGGREGATE") => (Ns::Routine, "aggregate", 2),
        Some("SCHEMA") => (Ns::Schema, "schema", 2),
        Some("TRIGGER") => (Ns::Trigger, "trigger", 2),
        Some("POLICY") => (Ns::Policy, "policy", 2),
        Some("DATABASE") => (Ns::Database, "database", 2),
        Some("EVENT") if st.is(2, "TRIGGER") => (Ns::Other, "event trigger", 3),
        Some("TEXT") if st.is(2, "SEARCH") => (Ns::Other, "text search object", 4),
        Some("STATISTICS") => (Ns::Other, "statistics object", 2),
        Some("OPERATOR") if st.is(2, "CLASS") || st.is(2, "FAMILY") => {
            (Ns::Other, "operator class", 3)
        }
        Some(
            w @ ("RULE" | "COLLATION" | "CONVERSION" | "SERVER" | "PUBLICATION" | "SUBSCRIPTION"
            | "LANGUAGE" | "TABLESPACE" | "EXTENSION" | "ROLE" | "USER" | "GROUP"),
        ) => (Ns::Other, other_kind(w), 2),
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
    // Renamed out of the way of a new object of the same name (the enum swap): the name stays.
    let recreated = ctx
        .later(i)
        .any(|f| matches!(f, Fact::Created(fns, c) if *fns == ns && c.same(&name)));
    if recreated && st.find(rest, &["RENAME", "TO"]).is_some() {
        return;
    }
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

fn other_kind(word: &str) -> &'static str {
    match word {
        "RULE" => "rule",
        "COLLATION" => "collation",
        "CONVERSION" => "conversion",
        "SERVER" => "server",
        "PUBLICATION" => "publication",
        "SUBSCRIPTION" => "subscription",
        "LANGUAGE" => "language",
        "TABLESPACE" => "tablespace",
        "EXTENSION" => "extension",
        _ => "role",
    }
}
