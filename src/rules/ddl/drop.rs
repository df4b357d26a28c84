//! Rules on `DROP` statements: databases, schemas, objects, indexes, constraints.

use super::*;

pub(super) fn drop(ctx: &mut Ctx<'_>, i: usize, st: &Stmt<'_>) {
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
        Some("ROUTINE") => (Ns::Routine, "routine", 2),
        Some("CAST") => (Ns::Cast, "cast", 2),
        Some("FOREIGN") if st.is(2, "TABLE") => (Ns::Relation, "foreign table", 3),
        Some("FOREIGN") if st.seq(2, &["DATA", "WRAPPER"]) => {
            (Ns::Other, "foreign-data wrapper", 4)
        }
        Some("EVENT") if st.is(2, "TRIGGER") => (Ns::Other, "event trigger", 3),
        Some("TEXT") if st.is(2, "SEARCH") => match st.word(3).as_deref() {
            Some("CONFIGURATION") => (Ns::Other, "text search configuration", 4),
            Some("DICTIONARY") => (Ns::Other, "text search dictionary", 4),
            Some("PARSER") => (Ns::Other, "text search parser", 4),
            Some("TEMPLATE") => (Ns::Other, "text search template", 4),
            _ => return,
        },
        Some("COLLATION") => (Ns::Other, "collation", 2),
        Some("CONVERSION") => (Ns::Other, "conversion", 2),
        Some("SERVER") => (Ns::Other, "server", 2),
        Some("PUBLICATION") => (Ns::Other, "publication", 2),
        Some("RULE") => (Ns::Other, "rule", 2),
        Some("STATISTICS") => (Ns::Other, "statistics object", 2),
        Some("LANGUAGE") => (Ns::Other, "language", 2),
        Some("PROCEDURAL") if st.is(2, "LANGUAGE") => (Ns::Other, "language", 3),
        Some("EXTENSION") => (Ns::Extension, "extension", 2),
        Some("TRIGGER") => (Ns::Trigger, "trigger", 2),
        Some("POLICY") => (Ns::Policy, "policy", 2),
        _ => return,
    };
    let concurrently = st.is(at, "CONCURRENTLY");
    let at = st.skip_if(if concurrently { at + 1 } else { at });
    let listed = if ns == Ns::Cast {
        cast_name(st, at).map(|n| (n, at)).into_iter().collect()
    } else {
        st.name_list(at)
    };
    let names: Vec<(Name, usize)> = listed
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
                        && !ctx.swapped_out(i, ns, n)
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
