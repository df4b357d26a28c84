//! Spelling SQL: identifiers, names, literals and the clauses the plan reuses.

use crate::catalog::{Column, Identity, IdentityGeneration, QualifiedName};

/// PostgreSQL's reserved keywords and those that cannot be a column name: an identifier spelled like
/// one must be quoted.
const RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

/// An identifier as `quote_ident` writes it: bare when it reads back the same, else double-quoted.
pub fn ident(name: &str) -> String {
    let mut chars = name.chars();
    let plain = matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$')
        && !RESERVED.contains(&name);
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// `schema.name`, each part quoted as needed.
pub fn qualified(name: &QualifiedName) -> String {
    format!("{}.{}", ident(&name.schema), ident(&name.name))
}

/// A string literal.
pub fn literal(text: &str) -> String {
    if text.contains('\\') {
        format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
    } else {
        format!("'{}'", text.replace('\'', "''"))
    }
}

/// A collation as the catalog names it (`C`, `schema.name`), quoted.
pub fn collation(name: &str) -> String {
    match name.split_once('.') {
        Some((schema, n)) => format!("{}.{}", ident(schema), ident(n)),
        None => ident(name),
    }
}

/// `(START WITH … NO CYCLE)` options of a sequence or an identity column.
pub fn sequence_options(
    start: i64,
    increment: i64,
    min: i64,
    max: i64,
    cache: i64,
    cycle: bool,
) -> String {
    format!(
        "START WITH {start} INCREMENT BY {increment} MINVALUE {min} MAXVALUE {max} CACHE {cache} {}",
        if cycle { "CYCLE" } else { "NO CYCLE" }
    )
}

pub fn identity_clause(i: &Identity) -> String {
    format!(
        "GENERATED {} AS IDENTITY ({})",
        generation(i.generation),
        sequence_options(i.start, i.increment, i.min, i.max, i.cache, i.cycle)
    )
}

pub fn generation(g: IdentityGeneration) -> &'static str {
    match g {
        IdentityGeneration::Always => "ALWAYS",
        IdentityGeneration::ByDefault => "BY DEFAULT",
    }
}

/// A column as `CREATE TABLE` / `ADD COLUMN` declares it.
pub fn column_definition(name: &str, c: &Column) -> String {
    let mut s = format!("{} {}", ident(name), c.data_type);
    if let Some(coll) = &c.collation {
        s.push_str(&format!(" COLLATE {}", collation(coll)));
    }
    if let Some(g) = &c.generated {
        let kind = match g.kind {
            crate::catalog::GeneratedKind::Stored => "STORED",
            crate::catalog::GeneratedKind::Virtual => "VIRTUAL",
        };
        s.push_str(&format!(" GENERATED ALWAYS AS ({}) {kind}", g.expression));
    }
    if let Some(i) = &c.identity {
        s.push(' ');
        s.push_str(&identity_clause(i));
    }
    if let Some(d) = &c.default {
        s.push_str(&format!(" DEFAULT {d}"));
    }
    if c.not_null {
        s.push_str(" NOT NULL");
    }
    s
}

/// `COMMENT ON <what> IS '…'` (or `IS NULL`).
pub fn comment_on(what: &str, comment: Option<&str>) -> String {
    format!(
        "COMMENT ON {what} IS {}",
        comment.map_or_else(|| "NULL".to_string(), literal)
    )
}

/// An index definition (`pg_get_indexdef`) made `CONCURRENTLY` and/or `IF NOT EXISTS`, and for a
/// partitioned table's index, built on the partitions too (`ON ONLY` dropped).
pub fn index_definition(definition: &str, concurrently: bool, if_not_exists: bool) -> String {
    let mut def = definition.trim().trim_end_matches(';').to_string();
    if let Some(at) = def.find(" INDEX ") {
        let mut extra = String::new();
        if concurrently {
            extra.push_str("CONCURRENTLY ");
        }
        if if_not_exists {
            extra.push_str("IF NOT EXISTS ");
        }
        def.insert_str(at + " INDEX ".len(), &extra);
    }
    if let Some(at) = def.find(" ON ONLY ") {
        def.replace_range(at..at + " ON ONLY ".len(), " ON ");
    }
    def
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_when_postgres_would_not_read_them_back() {
        assert_eq!(ident("users"), "users");
        assert_eq!(ident("user"), "\"user\"");
        assert_eq!(ident("Orders"), "\"Orders\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(ident("1x"), "\"1x\"");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(collation("C"), "\"C\"");
        assert_eq!(collation("public.german"), "public.german");
    }

    #[test]
    fn index_definitions_gain_concurrently_and_lose_only() {
        assert_eq!(
            index_definition(
                "CREATE UNIQUE INDEX t_a_idx ON public.t USING btree (a)",
                true,
                false
            ),
            "CREATE UNIQUE INDEX CONCURRENTLY t_a_idx ON public.t USING btree (a)"
        );
        assert_eq!(
            index_definition(
                "CREATE INDEX p_a_idx ON ONLY public.p USING btree (a)",
                false,
                true
            ),
            "CREATE INDEX IF NOT EXISTS p_a_idx ON public.p USING btree (a)"
        );
    }
}
