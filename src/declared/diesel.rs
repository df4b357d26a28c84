//! Diesel's `schema.rs` (`diesel print-schema`) as a declared schema.
//!
//! The file is generated from a database and says only what Diesel's query builder needs: each
//! table's columns with their SQL types and nullability, its primary key, and the custom types
//! (`sql_types::Mood` with `postgres_type(name = "mood")`). It is translated to `CREATE TABLE`
//! statements with a span per table and column, and compared within that scope ([`project`]): column
//! types without their modifiers (Diesel writes `Varchar` for `varchar(255)`; only newer versions
//! add a `#[max_length]`), nullability, primary keys, tables and custom types by name.
//! Defaults, indexes, other constraints, enum labels, views, functions and the rest are not in the
//! file, so they are not drift.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pgrehearse_sql::{Action, ObjectName, Span, Target, TargetKind};

use crate::catalog::Catalog;
use crate::model::Provenance;
use crate::runner::GeneratedStatement;

/// Whether `path` is a Diesel schema file (`schema.rs`, or a `.rs` file that declares `table!`s).
pub fn is_diesel_file(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()) == Some("rs")
}

/// The schema file a Diesel project declares: `[print_schema] file` of the nearest `diesel.toml` at
/// or above `set_dir` (relative to that file), else `src/schema.rs` beside it; `None` without one.
pub fn project_schema(root: &Path, set_dir: &Path) -> Option<PathBuf> {
    for dir in set_dir.ancestors() {
        let toml = dir.join("diesel.toml");
        let Ok(text) = std::fs::read_to_string(root.join(&toml)) else {
            continue;
        };
        let file = print_schema_file(&text).unwrap_or_else(|| "src/schema.rs".to_string());
        let path = crate::paths::lexical(&dir.join(file));
        return root.join(&path).is_file().then_some(path);
    }
    None
}

/// `file = "…"` under `[print_schema]` in a diesel.toml.
fn print_schema_file(text: &str) -> Option<String> {
    let mut section = "";
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim();
            continue;
        }
        if section == "print_schema"
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "file"
        {
            return Some(value.trim().trim_matches('"').to_string());
        }
    }
    None
}

/// A token of the Rust text: an identifier or path segment, a punctuation character, a string.
#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Punct(char),
}

fn tokens(text: &str) -> Vec<(Tok, Span)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if text[i..].starts_with("//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if text[i..].starts_with("/*") {
            i = text[i + 2..]
                .find("*/")
                .map(|e| i + 2 + e + 2)
                .unwrap_or(bytes.len());
        } else if c == b'"' {
            let start = i;
            i += 1;
            let mut value = String::new();
            while i < bytes.len() && bytes[i] != b'"' {
                if bytes[i] == b'\\' && i + 1 < bytes.len() {
                    i += 1;
                }
                let ch = text[i..].chars().next().unwrap_or(' ');
                value.push(ch);
                i += ch.len_utf8();
            }
            i = (i + 1).min(bytes.len());
            out.push((Tok::Str(value), Span::new(start, i)));
        } else if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] >= 0x80)
            {
                i += 1;
            }
            // Raw identifiers (`r#type`).
            if &text[start..i] == "r" && bytes.get(i) == Some(&b'#') {
                i += 1;
                let s = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                out.push((Tok::Word(text[s..i].to_string()), Span::new(start, i)));
                continue;
            }
            out.push((Tok::Word(text[start..i].to_string()), Span::new(start, i)));
        } else {
            let ch = text[i..].chars().next().unwrap_or(' ');
            out.push((Tok::Punct(ch), Span::new(i, i + ch.len_utf8())));
            i += ch.len_utf8();
        }
    }
    out
}

/// A table of the schema file.
#[derive(Debug)]
struct Table {
    schema: Option<String>,
    name: String,
    span: Span,
    primary_key: Vec<String>,
    columns: Vec<Column>,
}

#[derive(Debug)]
struct Column {
    name: String,
    sql_type: String,
    nullable: bool,
    span: Span,
}

/// Why a schema file could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{message} (at byte {offset})")]
pub struct DieselError {
    pub message: String,
    pub offset: usize,
}

/// The `CREATE` statements for `text` (the schema file at `path`).
pub fn translate(path: &Path, text: &Arc<str>) -> Result<Vec<GeneratedStatement>, DieselError> {
    let toks = tokens(text);
    let custom = custom_types(&toks);
    let tables = tables(&toks, &custom)?;
    let mut out = Vec::new();
    let prov = |span: Span, target: Target| Provenance {
        target,
        file: path.to_path_buf(),
        text: text.clone(),
        span,
    };
    let mut schemas: Vec<&str> = Vec::new();
    for t in &tables {
        if let Some(s) = t.schema.as_deref()
            && !schemas.contains(&s)
        {
            schemas.push(s);
            out.push(GeneratedStatement {
                sql: format!("CREATE SCHEMA IF NOT EXISTS {}", quote(s)),
                file: path.to_path_buf(),
                text: text.clone(),
                span: t.span,
                provenance: Vec::new(),
            });
        }
    }
    for c in custom.values() {
        let name = ObjectName {
            schema: c.schema.clone(),
            name: c.name.clone(),
        };
        out.push(GeneratedStatement {
            sql: format!(
                "CREATE TYPE {} AS ENUM ()",
                qualified(c.schema.as_deref(), &c.name)
            ),
            file: path.to_path_buf(),
            text: text.clone(),
            span: c.span,
            provenance: vec![prov(c.span, target(TargetKind::Type, name, None))],
        });
    }
    for t in &tables {
        let name = ObjectName {
            schema: t.schema.clone(),
            name: t.name.clone(),
        };
        let mut parts: Vec<String> = t
            .columns
            .iter()
            .map(|c| {
                format!(
                    "{} {}{}",
                    quote(&c.name),
                    c.sql_type,
                    if c.nullable { "" } else { " NOT NULL" }
                )
            })
            .collect();
        if !t.primary_key.is_empty() {
            parts.push(format!(
                "PRIMARY KEY ({})",
                t.primary_key
                    .iter()
                    .map(|c| quote(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let mut provenance = vec![prov(t.span, target(TargetKind::Table, name.clone(), None))];
        for c in &t.columns {
            provenance.push(prov(
                c.span,
                target(TargetKind::Table, name.clone(), Some(c.name.clone())),
            ));
        }
        out.push(GeneratedStatement {
            sql: format!(
                "CREATE TABLE {} ({})",
                qualified(t.schema.as_deref(), &t.name),
                parts.join(", ")
            ),
            file: path.to_path_buf(),
            text: text.clone(),
            span: t.span,
            provenance,
        });
    }
    Ok(out)
}

fn target(kind: TargetKind, name: ObjectName, column: Option<String>) -> Target {
    Target {
        kind,
        action: Action::Create,
        name,
        table: None,
        columns: column.into_iter().collect(),
        constraints: Vec::new(),
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn qualified(schema: Option<&str>, name: &str) -> String {
    match schema {
        Some(s) => format!("{}.{}", quote(s), quote(name)),
        None => quote(name),
    }
}

/// A custom type of `sql_types`: its PostgreSQL name and schema, and the span of its struct.
#[derive(Clone, Debug)]
struct Custom {
    name: String,
    schema: Option<String>,
    span: Span,
}

/// The custom types of `sql_types` by Rust name, from
/// `#[diesel(postgres_type(name = "mood", schema = "x"))] pub struct Mood;`.
fn custom_types(toks: &[(Tok, Span)]) -> BTreeMap<String, Custom> {
    let mut by_rust = BTreeMap::new();
    let mut i = 0;
    while i < toks.len() {
        if toks[i].0 == Tok::Word("postgres_type".into()) {
            let mut name = None;
            let mut schema = None;
            let mut j = i + 1;
            let mut depth = 0;
            while j < toks.len() {
                match &toks[j].0 {
                    Tok::Punct('(') => depth += 1,
                    Tok::Punct(')') => {
                        depth -= 1;
                        if depth <= 0 {
                            break;
                        }
                    }
                    Tok::Word(w) if (w == "name" || w == "schema") => {
                        if let (Some((Tok::Punct('='), _)), Some((Tok::Str(v), _))) =
                            (toks.get(j + 1), toks.get(j + 2))
                        {
                            if w == "name" {
                                name = Some(v.clone());
                            } else {
                                schema = Some(v.clone());
                            }
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            // The struct the attribute belongs to.
            let rust = toks[j.min(toks.len())..]
                .windows(2)
                .find(|w| w[0].0 == Tok::Word("struct".into()))
                .and_then(|w| match &w[1].0 {
                    Tok::Word(n) => Some((n.clone(), w[1].1)),
                    _ => None,
                });
            if let (Some(name), Some((rust, span))) = (name, rust) {
                by_rust.insert(rust, Custom { name, schema, span });
            }
            i = j;
        }
        i += 1;
    }
    by_rust
}

/// Every `table! { [schema.]name (pk, …) { column -> Type, … } }` of the file.
fn tables(
    toks: &[(Tok, Span)],
    custom: &BTreeMap<String, Custom>,
) -> Result<Vec<Table>, DieselError> {
    let err = |message: &str, at: Span| DieselError {
        message: message.to_string(),
        offset: at.start,
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i + 2 < toks.len() {
        let is_macro = toks[i].0 == Tok::Word("table".into())
            && toks[i + 1].0 == Tok::Punct('!')
            && toks[i + 2].0 == Tok::Punct('{');
        if !is_macro {
            i += 1;
            continue;
        }
        let mut j = i + 3;
        // `use …;` lines and attributes before the table name.
        let mut sql_name: Option<String> = None;
        loop {
            match toks.get(j).map(|t| &t.0) {
                Some(Tok::Word(w)) if w == "use" => {
                    while j < toks.len() && toks[j].0 != Tok::Punct(';') {
                        j += 1;
                    }
                    j += 1;
                }
                Some(Tok::Punct('#')) => {
                    let (attr, next) = attribute(toks, j);
                    if let Some(v) = attr.get("sql_name") {
                        sql_name = Some(v.clone());
                    }
                    j = next;
                }
                _ => break,
            }
        }
        let Some((Tok::Word(first), first_span)) = toks.get(j).cloned() else {
            return Err(err("expected a table name in `table!`", toks[i].1));
        };
        j += 1;
        let (schema, mut name) = if toks.get(j).map(|t| &t.0) == Some(&Tok::Punct('.')) {
            let Some((Tok::Word(n), _)) = toks.get(j + 1).cloned() else {
                return Err(err("expected a table name after the schema", first_span));
            };
            j += 2;
            (Some(first), n)
        } else {
            (None, first)
        };
        if let Some(n) = sql_name {
            name = n;
        }
        let mut primary_key = Vec::new();
        if toks.get(j).map(|t| &t.0) == Some(&Tok::Punct('(')) {
            j += 1;
            while let Some((t, _)) = toks.get(j) {
                j += 1;
                match t {
                    Tok::Punct(')') => break,
                    Tok::Word(w) => primary_key.push(w.clone()),
                    _ => {}
                }
            }
        } else {
            primary_key.push("id".to_string());
        }
        if toks.get(j).map(|t| &t.0) != Some(&Tok::Punct('{')) {
            return Err(err("expected `{` with the table's columns", first_span));
        }
        j += 1;
        let mut columns = Vec::new();
        let mut renamed: BTreeMap<String, String> = BTreeMap::new();
        loop {
            let mut attrs: BTreeMap<String, String> = BTreeMap::new();
            while toks.get(j).map(|t| &t.0) == Some(&Tok::Punct('#')) {
                let (a, next) = attribute(toks, j);
                attrs.extend(a);
                j = next;
            }
            match toks.get(j).cloned() {
                Some((Tok::Punct('}'), _)) => {
                    j += 1;
                    break;
                }
                Some((Tok::Word(rust_name), span)) => {
                    if toks.get(j + 1).map(|t| &t.0) != Some(&Tok::Punct('-'))
                        || toks.get(j + 2).map(|t| &t.0) != Some(&Tok::Punct('>'))
                    {
                        return Err(err("expected `column -> Type`", span));
                    }
                    j += 3;
                    let start = j;
                    let mut depth = 0;
                    while let Some((t, _)) = toks.get(j) {
                        match t {
                            Tok::Punct('<') => depth += 1,
                            Tok::Punct('>') => depth -= 1,
                            Tok::Punct(',') if depth == 0 => break,
                            Tok::Punct('}') if depth == 0 => break,
                            _ => {}
                        }
                        j += 1;
                    }
                    let ty = sql_type(&toks[start..j], custom);
                    let end = toks
                        .get(j.saturating_sub(1))
                        .map(|t| t.1.end)
                        .unwrap_or(span.end);
                    if toks.get(j).map(|t| &t.0) == Some(&Tok::Punct(',')) {
                        j += 1;
                    }
                    let name = attrs.get("sql_name").cloned().unwrap_or(rust_name.clone());
                    renamed.insert(rust_name, name.clone());
                    columns.push(Column {
                        name,
                        sql_type: ty.0,
                        nullable: ty.1,
                        span: Span::new(span.start, end),
                    });
                }
                Some((_, span)) => return Err(err("unexpected text in a table's columns", span)),
                None => return Err(err("`table!` is not closed", first_span)),
            }
        }
        let primary_key = primary_key
            .into_iter()
            .map(|c| renamed.get(&c).cloned().unwrap_or(c))
            .collect();
        let end = toks.get(j).map(|t| t.1.end).unwrap_or(first_span.end);
        out.push(Table {
            schema,
            name,
            span: Span::new(toks[i].1.start, end),
            primary_key,
            columns,
        });
        i = j;
    }
    Ok(out)
}

/// `#[key = "value"]` or `#[key(…)]` at `at`: its `key = value` pairs, and the index after it.
fn attribute(toks: &[(Tok, Span)], at: usize) -> (BTreeMap<String, String>, usize) {
    let mut out = BTreeMap::new();
    let mut j = at + 1;
    if toks.get(j).map(|t| &t.0) != Some(&Tok::Punct('[')) {
        return (out, j);
    }
    let mut depth = 0;
    while let Some((t, _)) = toks.get(j) {
        match t {
            Tok::Punct('[') => depth += 1,
            Tok::Punct(']') => {
                depth -= 1;
                if depth == 0 {
                    j += 1;
                    break;
                }
            }
            Tok::Word(k) if toks.get(j + 1).map(|t| &t.0) == Some(&Tok::Punct('=')) => {
                if let Some(Tok::Str(v) | Tok::Word(v)) = toks.get(j + 2).map(|t| &t.0) {
                    out.insert(k.clone(), v.clone());
                }
            }
            _ => {}
        }
        j += 1;
    }
    (out, j)
}

/// The SQL type of a Diesel type (`Nullable<Array<Int4>>`), and whether it is nullable.
fn sql_type(toks: &[(Tok, Span)], custom: &BTreeMap<String, Custom>) -> (String, bool) {
    // The last segment of each path, in order: `diesel::sql_types::Nullable<crate::x::Mood>` is
    // `Nullable`, `Mood`.
    let mut segments: Vec<String> = Vec::new();
    let mut last: Option<String> = None;
    for (t, _) in toks {
        match t {
            Tok::Word(w) => last = Some(w.clone()),
            Tok::Punct('<') | Tok::Punct('>') => {
                if let Some(l) = last.take() {
                    segments.push(l);
                }
            }
            _ => {}
        }
    }
    if let Some(l) = last {
        segments.push(l);
    }
    let mut nullable = false;
    let mut arrays = 0;
    let mut base = String::from("text");
    for s in &segments {
        match s.as_str() {
            "Nullable" => {
                if arrays == 0 {
                    nullable = true;
                }
            }
            "Array" => arrays += 1,
            other => {
                base = base_type(other, custom);
                break;
            }
        }
    }
    (format!("{base}{}", "[]".repeat(arrays)), nullable)
}

fn base_type(name: &str, custom: &BTreeMap<String, Custom>) -> String {
    match name {
        "Int2" | "SmallInt" | "Smallint" => "smallint".into(),
        "Int4" | "Integer" => "integer".into(),
        "Int8" | "BigInt" | "Bigint" => "bigint".into(),
        "Float4" | "Float" => "real".into(),
        "Float8" | "Double" => "double precision".into(),
        "Numeric" | "Decimal" => "numeric".into(),
        "Text" => "text".into(),
        "Varchar" | "VarChar" => "varchar".into(),
        "Bpchar" | "Char" => "char".into(),
        "Bool" => "boolean".into(),
        "Date" => "date".into(),
        "Time" => "time".into(),
        "Timetz" => "timetz".into(),
        "Timestamp" => "timestamp".into(),
        "Timestamptz" => "timestamptz".into(),
        "Interval" => "interval".into(),
        "Uuid" => "uuid".into(),
        "Bytea" | "Binary" | "Blob" => "bytea".into(),
        "Json" => "json".into(),
        "Jsonb" => "jsonb".into(),
        "Inet" => "inet".into(),
        "Cidr" => "cidr".into(),
        "MacAddr" | "Macaddr" => "macaddr".into(),
        "MacAddr8" | "Macaddr8" => "macaddr8".into(),
        "Money" | "Cents" => "money".into(),
        "Oid" => "oid".into(),
        "Int4range" => "int4range".into(),
        "Int8range" => "int8range".into(),
        "Numrange" => "numrange".into(),
        "Tsrange" => "tsrange".into(),
        "Tstzrange" => "tstzrange".into(),
        "Daterange" => "daterange".into(),
        "Tsvector" | "TsVector" => "tsvector".into(),
        "Tsquery" | "TsQuery" => "tsquery".into(),
        "Citext" => "citext".into(),
        other => match custom.get(other) {
            Some(c) => qualified(c.schema.as_deref(), &c.name),
            None => quote(&other.to_lowercase()),
        },
    }
}

/// `catalog` within what a Diesel schema file can say (see the module documentation).
pub fn project(catalog: &mut Catalog) {
    catalog.extensions.clear();
    catalog.views.clear();
    catalog.materialized_views.clear();
    catalog.sequences.clear();
    catalog.domains.clear();
    catalog.composite_types.clear();
    catalog.functions.clear();
    for e in catalog.enums.values_mut() {
        e.values.clear();
    }
    for t in catalog.tables.values_mut() {
        t.partition_key = None;
        t.partition_of = None;
        t.partition_bound = None;
        t.inherits.clear();
        t.options.clear();
        t.row_security = false;
        t.force_row_security = false;
        t.comment = None;
        t.indexes.clear();
        t.triggers.clear();
        t.policies.clear();
        t.constraints
            .retain(|_, c| c.kind == crate::catalog::ConstraintKind::PrimaryKey);
        for c in t.columns.values_mut() {
            c.default = None;
            c.identity = None;
            c.generated = None;
            c.collation = None;
            c.comment = None;
            c.position = 0;
            c.data_type = without_modifier(&c.data_type);
        }
    }
}

/// `numeric(10,2)` → `numeric`, `timestamp(3) with time zone` → `timestamp with time zone`.
fn without_modifier(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    let mut depth = 0;
    for ch in t.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 => out.push(ch),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"// @generated automatically by Diesel CLI.
pub mod sql_types {
    #[derive(diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "job_state", schema = "work"))]
    pub struct JobState;
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::JobState;

    work.jobs (queue, r#ref) {
        queue -> Text,
        r#ref -> Int8,
        state -> JobState,
        payload -> Nullable<Jsonb>,
        attempts -> Array<Int4>,
    }
}

table! {
    #[sql_name = "Legacy"]
    legacy {
        id -> Integer,
    }
}
"#;

    fn sql(text: &str) -> Vec<String> {
        translate(Path::new("src/schema.rs"), &Arc::from(text))
            .expect("translates")
            .into_iter()
            .map(|s| s.sql)
            .collect()
    }

    #[test]
    fn tables_columns_keys_and_custom_types_become_ddl() {
        assert_eq!(
            sql(SAMPLE),
            [
                "CREATE SCHEMA IF NOT EXISTS \"work\"",
                "CREATE TYPE \"work\".\"job_state\" AS ENUM ()",
                "CREATE TABLE \"work\".\"jobs\" (\"queue\" text NOT NULL, \"ref\" bigint NOT NULL, \"state\" \"work\".\"job_state\" NOT NULL, \"payload\" jsonb, \"attempts\" integer[] NOT NULL, PRIMARY KEY (\"queue\", \"ref\"))",
                "CREATE TABLE \"Legacy\" (\"id\" integer NOT NULL, PRIMARY KEY (\"id\"))",
            ]
        );
    }

    #[test]
    fn every_truncation_of_a_schema_file_is_an_error_or_ddl_never_a_panic() {
        for end in (0..SAMPLE.len()).filter(|e| SAMPLE.is_char_boundary(*e)) {
            let _ = translate(Path::new("s.rs"), &Arc::from(&SAMPLE[..end]));
        }
    }

    #[test]
    fn diesel_toml_names_the_schema_file() {
        assert_eq!(
            print_schema_file("[print_schema]\nfile = \"src/db/schema.rs\"\n"),
            Some("src/db/schema.rs".into())
        );
        assert_eq!(
            print_schema_file("[migrations_directory]\ndir = \"m\"\n"),
            None
        );
    }
}
