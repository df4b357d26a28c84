//! Translation of parsed Prisma blocks into the PostgreSQL DDL Prisma 7's schema engine generates
//! from an empty database, statement by statement, each with the spans of the model, field or
//! attribute it comes from.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use pgrehearse_sql::{Action, ObjectName, Span, Target, TargetKind, floor_char_boundary};

use super::parse::{Attribute, Block, BlockKind, Field, Value};
use crate::model::Finding;
use crate::model::Provenance;
use crate::registry;
use crate::runner::GeneratedStatement;

/// One parsed file.
pub struct File {
    pub path: PathBuf,
    pub text: Arc<str>,
    pub blocks: Vec<Block>,
}

/// A meaning error at a span of one file.
pub struct SemanticError {
    pub file: usize,
    pub offset: usize,
    pub message: String,
}

pub struct Output {
    pub statements: Vec<GeneratedStatement>,
    pub findings: Vec<Finding>,
    /// False when the datasource is not PostgreSQL: the translation is not meaningful.
    pub postgres: bool,
}

const SCALARS: &[&str] = &[
    "String", "Boolean", "Int", "BigInt", "Float", "Decimal", "DateTime", "Json", "Bytes",
];

/// PostgreSQL's identifier limit, which Prisma's default names respect.
const MAX_IDENT: usize = 63;

/// `{table}_{cols}{suffix}`, the joined part truncated so that the whole fits 63 bytes.
pub fn constraint_name(table: &str, cols: &[&str], suffix: &str) -> String {
    let mut joined = table.to_string();
    for c in cols {
        joined.push('_');
        joined.push_str(c);
    }
    let limit = MAX_IDENT - suffix.len();
    if joined.len() > limit {
        let cut = floor_char_boundary(&joined, limit);
        joined.truncate(cut);
    }
    joined.push_str(suffix);
    joined
}

/// A name as PostgreSQL stores it: truncated to 63 bytes.
fn identifier(mut name: String) -> String {
    name.truncate(floor_char_boundary(&name, MAX_IDENT));
    name
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

fn object(schema: &str, name: &str) -> ObjectName {
    ObjectName {
        schema: Some(schema.to_string()),
        name: name.to_string(),
    }
}

fn target(kind: TargetKind, name: ObjectName) -> Target {
    Target {
        kind,
        action: Action::Create,
        name,
        table: None,
        columns: Vec::new(),
        constraints: Vec::new(),
    }
}

fn mapped(attrs: &[Attribute], name: &str, fallback: &str) -> String {
    attrs
        .iter()
        .find(|a| a.name == name)
        .and_then(|a| a.arg("name", true))
        .and_then(Value::as_str)
        .unwrap_or(fallback)
        .to_string()
}

struct Model<'a> {
    file: usize,
    block: &'a Block,
    table: String,
    schema: String,
}

struct Enum {
    db: String,
    schema: String,
    /// Prisma value name → database label.
    values: BTreeMap<String, String>,
}

struct Ctx<'a> {
    files: &'a [File],
    models: BTreeMap<&'a str, Model<'a>>,
    enums: BTreeMap<&'a str, Enum>,
    types: BTreeSet<&'a str>,
    out: Vec<GeneratedStatement>,
    findings: Vec<Finding>,
}

fn column_name(f: &Field) -> String {
    mapped(&f.attrs, "map", &f.name)
}

fn snake_ops(name: &str) -> String {
    let mut s = name.to_string();
    for (from, to) in [
        ("MinMaxMulti", "_minmax_multi"),
        ("MinMax", "_minmax"),
        ("Bloom", "_bloom"),
        ("Inclusion", "_inclusion"),
        ("PathOps", "_path_ops"),
    ] {
        s = s.replace(from, to);
    }
    if let Some(stem) = s.strip_suffix("Ops") {
        s = format!("{stem}_ops");
    }
    s.to_lowercase()
}

/// Standard base64 (padding optional), as Prisma reads `Bytes` defaults.
fn base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn native_type(name: &str, args: &[super::parse::Arg]) -> String {
    let base = match name {
        "DoublePrecision" => "DOUBLE PRECISION".to_string(),
        other => other.to_uppercase(),
    };
    if args.is_empty() {
        return base;
    }
    let parts: Vec<String> = args
        .iter()
        .map(|a| match &a.value {
            Value::Num(n) => n.clone(),
            Value::Str(s) => s.clone(),
            Value::Ident(s) => s.clone(),
            _ => String::new(),
        })
        .collect();
    format!("{base}({})", parts.join(","))
}

impl<'a> Ctx<'a> {
    fn err<T>(
        &self,
        file: usize,
        span: Span,
        message: impl Into<String>,
    ) -> Result<T, SemanticError> {
        Err(SemanticError {
            file,
            offset: span.start,
            message: message.into(),
        })
    }

    fn prov(&self, file: usize, span: Span, target: Target) -> Provenance {
        Provenance {
            target,
            file: self.files[file].path.clone(),
            text: self.files[file].text.clone(),
            span,
        }
    }

    fn push(&mut self, sql: String, file: usize, span: Span, provenance: Vec<Provenance>) {
        self.out.push(GeneratedStatement {
            sql,
            file: self.files[file].path.clone(),
            text: self.files[file].text.clone(),
            span,
            provenance,
        });
    }

    fn is_scalar(&self, f: &Field) -> bool {
        f.unsupported.is_some()
            || SCALARS.contains(&f.ty.as_str())
            || self.enums.contains_key(f.ty.as_str())
    }

    /// The column type, with `serial` for `autoincrement()` when `serial` is asked for.
    fn column_type(&self, m: &Model<'_>, f: &Field, serial: bool) -> Result<String, SemanticError> {
        if let Some(u) = &f.unsupported {
            return Ok(if f.list { format!("{u}[]") } else { u.clone() });
        }
        let native = f.attrs.iter().find(|a| a.name.starts_with("db."));
        let mut ty = if let Some(e) = self.enums.get(f.ty.as_str()) {
            qualified(&e.schema, &e.db)
        } else if let Some(n) = native {
            native_type(&n.name[3..], &n.args)
        } else {
            match f.ty.as_str() {
                "String" => "TEXT",
                "Boolean" => "BOOLEAN",
                "Int" => "INTEGER",
                "BigInt" => "BIGINT",
                "Float" => "DOUBLE PRECISION",
                "Decimal" => "DECIMAL(65,30)",
                "DateTime" => "TIMESTAMP(3)",
                "Json" => "JSONB",
                "Bytes" => "BYTEA",
                other => {
                    return self.err(m.file, f.span, format!("unknown type `{other}`"));
                }
            }
            .to_string()
        };
        let auto = f
            .attr("default")
            .and_then(|d| d.arg("value", true))
            .and_then(Value::name)
            == Some("autoincrement");
        if serial && auto {
            ty = match ty.as_str() {
                "BIGINT" => "BIGSERIAL".into(),
                "SMALLINT" => "SMALLSERIAL".into(),
                _ => "SERIAL".into(),
            };
        }
        if f.list {
            ty.push_str("[]");
        }
        Ok(ty)
    }

    fn literal(&self, f: &Field, v: &Value, ty: &str) -> Option<String> {
        match v {
            Value::Str(s) if f.ty == "DateTime" => {
                let mut d = s.replacen('T', " ", 1);
                if let Some(stem) = d.strip_suffix('Z') {
                    d = format!("{stem} +00:00");
                } else if let Some(i) = d.rfind(['+', '-']).filter(|&i| i > 10) {
                    d = format!("{} {}", &d[..i], &d[i..]);
                }
                Some(quote_literal(&d))
            }
            Value::Str(s) if f.ty == "Bytes" => {
                let hex: String = base64(s)?.iter().map(|b| format!("{b:02x}")).collect();
                Some(format!("'\\x{hex}'"))
            }
            Value::Str(s)
                if f.ty == "Decimal"
                    && !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-') =>
            {
                Some(s.clone())
            }
            Value::Str(s) => Some(quote_literal(s)),
            Value::Num(n) => Some(n.clone()),
            Value::Ident(i) if i == "true" || i == "false" => Some(i.clone()),
            Value::Ident(i) => {
                let e = self.enums.get(f.ty.as_str())?;
                Some(quote_literal(
                    e.values.get(i).map(String::as_str).unwrap_or(i),
                ))
            }
            Value::Array(items) => {
                let parts: Vec<String> = items
                    .iter()
                    .filter_map(|i| self.literal(f, i, ty))
                    .collect();
                Some(format!("ARRAY[{}]::{ty}", parts.join(", ")))
            }
            Value::Call(..) | Value::Object(_) => None,
        }
    }

    fn default(&mut self, m: &Model<'_>, f: &Field, ty: &str) -> Option<String> {
        let attr = f.attr("default")?;
        let v = attr.arg("value", true)?;
        match v {
            Value::Call(name, args) => match name.as_str() {
                "now" => Some("CURRENT_TIMESTAMP".into()),
                "dbgenerated" => args
                    .first()
                    .and_then(|a| a.value.as_str())
                    .map(str::to_string),
                "sequence" => {
                    self.findings.push(
                        registry::finding(
                            "dialect-mismatch",
                            format!("`sequence()` on `{}.{}` is for CockroachDB; Prisma rejects it on PostgreSQL", m.block.name, f.name),
                        )
                        .help("use `@default(autoincrement())` on PostgreSQL")
                        .at(&self.files[m.file].path, Some(attr.span)),
                    );
                    None
                }
                _ => None,
            },
            other => self.literal(f, other, ty),
        }
    }

    /// `fields` of an index-like attribute as column expressions and names.
    fn index_columns(
        &self,
        m: &Model<'_>,
        a: &Attribute,
        values: &[Value],
    ) -> Result<(Vec<String>, Vec<String>), SemanticError> {
        let mut exprs = Vec::new();
        let mut names = Vec::new();
        for v in values {
            let (fname, args) = match v {
                Value::Ident(n) => (n.as_str(), &[][..]),
                Value::Call(n, args) => (n.as_str(), args.as_slice()),
                _ => return self.err(m.file, a.span, "expected a field name in the list"),
            };
            let Some(field) = m.block.fields.iter().find(|f| f.name == fname) else {
                return self.err(
                    m.file,
                    a.span,
                    format!("`{}` has no field `{fname}`", m.block.name),
                );
            };
            let col = column_name(field);
            let mut e = quote_ident(&col);
            for arg in args {
                match (arg.name.as_deref(), &arg.value) {
                    (Some("ops"), Value::Call(n, raw)) if n == "raw" => {
                        if let Some(s) = raw.first().and_then(|r| r.value.as_str()) {
                            e.push(' ');
                            e.push_str(s);
                        }
                    }
                    (Some("ops"), Value::Ident(n)) => {
                        e.push(' ');
                        e.push_str(&snake_ops(n));
                    }
                    (Some("sort"), Value::Ident(s)) if s == "Desc" => e.push_str(" DESC"),
                    _ => {}
                }
            }
            exprs.push(e);
            names.push(col);
        }
        Ok((exprs, names))
    }

    fn fields_of(a: &Attribute) -> &[Value] {
        match a.arg("fields", true) {
            Some(Value::Array(v)) => v,
            _ => &[],
        }
    }

    fn model(&mut self, name: &str) -> Result<(), SemanticError> {
        let m = &self.models[name];
        let m = Model {
            file: m.file,
            block: m.block,
            table: m.table.clone(),
            schema: m.schema.clone(),
        };
        let fq = qualified(&m.schema, &m.table);
        let tname = object(&m.schema, &m.table);
        let mut lines = Vec::new();
        let mut prov = vec![self.prov(
            m.file,
            m.block.span,
            target(TargetKind::Table, tname.clone()),
        )];
        for f in &m.block.fields {
            if self.types.contains(f.ty.as_str()) {
                self.findings.push(
                    registry::finding(
                        "dialect-mismatch",
                        format!("field `{}.{}` has the composite type `{}`; composite types are MongoDB-only and Prisma rejects them on PostgreSQL", m.block.name, f.name, f.ty),
                    )
                    .help("model it as a relation or a `Json` field")
                    .at(&self.files[m.file].path, Some(f.span)),
                );
                continue;
            }
            if !self.is_scalar(f) {
                if self.models.contains_key(f.ty.as_str()) {
                    continue;
                }
                return self.err(m.file, f.span, format!("type `{}` is neither a built-in type nor a model, enum or type of this schema", f.ty));
            }
            let col = column_name(f);
            let ty = self.column_type(&m, f, true)?;
            let mut line = format!("{} {ty}", quote_ident(&col));
            if !f.optional && !f.list {
                line.push_str(" NOT NULL");
            }
            if let Some(d) = self.default(&m, f, &ty) {
                line.push_str(" DEFAULT ");
                line.push_str(&d);
            }
            lines.push(line);
            let mut t = target(TargetKind::Table, tname.clone());
            t.columns.push(col);
            prov.push(self.prov(m.file, f.span, t));
        }
        // Primary key.
        let mut pk: Option<(Vec<String>, String, Span)> = None;
        for f in &m.block.fields {
            if let Some(a) = f.attr("id") {
                let name = a
                    .arg("map", false)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| constraint_name(&m.table, &[], "_pkey"));
                pk = Some((vec![quote_ident(&column_name(f))], name, a.span));
            }
        }
        if let Some(a) = m.block.attr("id") {
            let (exprs, _) = self.index_columns(&m, a, Self::fields_of(a))?;
            let name = a
                .arg("map", false)
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| constraint_name(&m.table, &[], "_pkey"));
            let exprs = exprs
                .iter()
                .map(|e| e.trim_end_matches(" DESC").to_string())
                .collect();
            pk = Some((exprs, name, a.span));
        }
        if let Some((cols, name, span)) = &pk {
            lines.push(format!(
                "CONSTRAINT {} PRIMARY KEY ({})",
                quote_ident(name),
                cols.join(",")
            ));
            let mut t = target(TargetKind::Table, tname.clone());
            t.constraints.push(name.clone());
            prov.push(self.prov(m.file, *span, t));
        }
        let body = lines.join(",\n    ");
        self.push(
            format!("CREATE TABLE {fq} (\n    {body}\n);"),
            m.file,
            m.block.span,
            prov,
        );
        Ok(())
    }

    fn indexes(&mut self, name: &str) -> Result<(), SemanticError> {
        let src = &self.models[name];
        let m = Model {
            file: src.file,
            block: src.block,
            table: src.table.clone(),
            schema: src.schema.clone(),
        };
        let fq = qualified(&m.schema, &m.table);
        // (unique, attribute, column values)
        let mut items: Vec<(bool, &Attribute, Vec<Value>)> = Vec::new();
        for f in &m.block.fields {
            if let Some(a) = f.attr("unique") {
                let mut v = Value::Ident(f.name.clone());
                if let Some(Value::Ident(s)) = a.arg("sort", false) {
                    v = Value::Call(
                        f.name.clone(),
                        vec![super::parse::Arg {
                            name: Some("sort".into()),
                            value: Value::Ident(s.clone()),
                            span: a.span,
                        }],
                    );
                }
                items.push((true, a, vec![v]));
            }
        }
        for a in &m.block.attrs {
            match a.name.as_str() {
                "index" => items.push((false, a, Self::fields_of(a).to_vec())),
                "unique" => items.push((true, a, Self::fields_of(a).to_vec())),
                _ => {}
            }
        }
        for (unique, a, values) in items {
            let (exprs, cols) = self.index_columns(&m, a, &values)?;
            let colrefs: Vec<&str> = cols.iter().map(String::as_str).collect();
            let default = constraint_name(&m.table, &colrefs, if unique { "_key" } else { "_idx" });
            let name = a
                .arg("map", false)
                .or_else(|| if unique { None } else { a.arg("name", false) })
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or(default);
            let using = match a.arg("type", false).and_then(Value::name) {
                Some("Hash") => " USING HASH",
                Some("Gist") => " USING GIST",
                Some("Gin") => " USING GIN",
                Some("SpGist") => " USING SPGIST",
                Some("Brin") => " USING BRIN",
                _ => "",
            };
            let where_clause = match a.arg("where", false) {
                Some(Value::Call(n, args)) if n == "raw" => args
                    .first()
                    .and_then(|x| x.value.as_str())
                    .map(|s| format!(" WHERE ({s})"))
                    .unwrap_or_default(),
                Some(Value::Object(entries)) => {
                    let mut parts = Vec::new();
                    for (key, value) in entries {
                        let Some(field) = m.block.fields.iter().find(|f| &f.name == key) else {
                            return self.err(
                                m.file,
                                a.span,
                                format!("`{}` has no field `{key}`", m.block.name),
                            );
                        };
                        let col = quote_ident(&column_name(field));
                        parts.push(match value {
                            Value::Ident(n) if n == "null" => format!("{col} IS NULL"),
                            Value::Object(inner)
                                if matches!(inner.as_slice(), [(k, Value::Ident(n))] if k == "not" && n == "null") =>
                            {
                                format!("{col} IS NOT NULL")
                            }
                            Value::Object(inner) if matches!(inner.as_slice(), [(k, _)] if k == "not") => {
                                let lit = self.literal(field, &inner[0].1, "").unwrap_or_default();
                                format!("{col} <> {lit}")
                            }
                            other => {
                                let lit = self.literal(field, other, "").unwrap_or_default();
                                format!("{col} = {lit}")
                            }
                        });
                    }
                    format!(" WHERE ({})", parts.join(" AND "))
                }
                _ => String::new(),
            };
            let sql = format!(
                "CREATE {}INDEX {} ON {fq}{using}({}){where_clause};",
                if unique { "UNIQUE " } else { "" },
                quote_ident(&name),
                exprs.join(", ")
            );
            let mut t = target(TargetKind::Index, object(&m.schema, &name));
            t.table = Some(object(&m.schema, &m.table));
            let p = self.prov(m.file, a.span, t);
            self.push(sql, m.file, a.span, vec![p]);
        }
        Ok(())
    }

    fn relation_name(f: &Field) -> Option<String> {
        f.attr("relation")
            .and_then(|a| a.arg("name", true))
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    fn foreign_keys(
        &mut self,
        name: &str,
        relation_mode_prisma: bool,
    ) -> Result<(), SemanticError> {
        let src = &self.models[name];
        let (file, block, table, schema) =
            (src.file, src.block, src.table.clone(), src.schema.clone());
        for f in &block.fields {
            let Some(a) = f.attr("relation") else {
                continue;
            };
            let Some(Value::Array(fields)) = a.arg("fields", false) else {
                continue;
            };
            let Some(Value::Array(refs)) = a.arg("references", false) else {
                return self.err(file, a.span, "a relation with `fields` needs `references`");
            };
            let Some(target_model) = self.models.get(f.ty.as_str()) else {
                return self.err(file, f.span, format!("`{}` is not a model", f.ty));
            };
            let mut cols = Vec::new();
            for v in fields {
                let Some(n) = v.name() else { continue };
                let Some(sf) = block.fields.iter().find(|x| x.name == n) else {
                    return self.err(file, a.span, format!("`{}` has no field `{n}`", block.name));
                };
                cols.push(column_name(sf));
            }
            let mut ref_cols = Vec::new();
            for v in refs {
                let Some(n) = v.name() else { continue };
                let Some(rf) = target_model.block.fields.iter().find(|x| x.name == n) else {
                    return self.err(
                        file,
                        a.span,
                        format!("`{}` has no field `{n}`", target_model.block.name),
                    );
                };
                ref_cols.push(quote_ident(&column_name(rf)));
            }
            let action =
                |arg: &str, default: &'static str| match a.arg(arg, false).and_then(Value::name) {
                    Some("Cascade") => "CASCADE",
                    Some("Restrict") => "RESTRICT",
                    Some("NoAction") => "NO ACTION",
                    Some("SetNull") => "SET NULL",
                    Some("SetDefault") => "SET DEFAULT",
                    _ => default,
                };
            let on_delete = action("onDelete", if f.optional { "SET NULL" } else { "RESTRICT" });
            let on_update = action("onUpdate", "CASCADE");
            if relation_mode_prisma {
                continue;
            }
            let colrefs: Vec<&str> = cols.iter().map(String::as_str).collect();
            let cname = a
                .arg("map", false)
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| constraint_name(&table, &colrefs, "_fkey"));
            let sql = format!(
                "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {}({}) ON DELETE {on_delete} ON UPDATE {on_update};",
                qualified(&schema, &table),
                quote_ident(&cname),
                cols.iter()
                    .map(|c| quote_ident(c))
                    .collect::<Vec<_>>()
                    .join(", "),
                qualified(&target_model.schema, &target_model.table),
                ref_cols.join(", ")
            );
            let mut t = target(TargetKind::Table, object(&schema, &table));
            t.constraints.push(cname);
            let p = self.prov(file, a.span, t);
            self.push(sql, file, a.span, vec![p]);
        }
        Ok(())
    }

    /// The single-field id of a model, for implicit many-to-many tables.
    fn id_field(&self, model: &str) -> Option<(&'a Field, &Model<'a>)> {
        let m = self.models.get(model)?;
        let f = m.block.fields.iter().find(|f| f.attr("id").is_some())?;
        Some((f, m))
    }

    fn many_to_many(&mut self, relation_mode_prisma: bool) -> Result<(), SemanticError> {
        // (relation name, model A, model B, file, span)
        let mut done = BTreeSet::new();
        let names: Vec<&'a str> = self.models.keys().copied().collect();
        for name in names {
            let m = &self.models[name];
            let (file, block) = (m.file, m.block);
            for f in &block.fields {
                if !f.list || !self.models.contains_key(f.ty.as_str()) {
                    continue;
                }
                if f.attr("relation")
                    .is_some_and(|a| a.arg("fields", false).is_some())
                {
                    continue;
                }
                let rel = Self::relation_name(f);
                let other = &self.models[f.ty.as_str()];
                let back = other.block.fields.iter().any(|g| {
                    g.ty == name
                        && g.list
                        && Self::relation_name(g) == rel
                        && !(f.ty == name && g.name == f.name)
                });
                if !back {
                    continue;
                }
                let (a_model, b_model) = if name <= f.ty.as_str() {
                    (name.to_string(), f.ty.clone())
                } else {
                    (f.ty.clone(), name.to_string())
                };
                let rel_name = rel
                    .clone()
                    .unwrap_or_else(|| format!("{a_model}To{b_model}"));
                if !done.insert(rel_name.clone()) {
                    continue;
                }
                let mut table = format!("_{rel_name}");
                table.truncate(floor_char_boundary(&table, MAX_IDENT));
                let Some((a_id, am)) = self.id_field(&a_model) else {
                    return self.err(file, f.span, format!("`{a_model}` needs a single-field `@id` for an implicit many-to-many relation"));
                };
                let (a_ty, a_col, a_fq, schema) = (
                    self.column_type(am, a_id, false)?,
                    column_name(a_id),
                    qualified(&am.schema, &am.table),
                    am.schema.clone(),
                );
                let Some((b_id, bm)) = self.id_field(&b_model) else {
                    return self.err(file, f.span, format!("`{b_model}` needs a single-field `@id` for an implicit many-to-many relation"));
                };
                let (b_ty, b_col, b_fq) = (
                    self.column_type(bm, b_id, false)?,
                    column_name(b_id),
                    qualified(&bm.schema, &bm.table),
                );
                let fq = qualified(&schema, &table);
                let tname = object(&schema, &table);
                let pk = constraint_name(&table, &[], "_AB_pkey");
                let mut t = target(TargetKind::Table, tname.clone());
                t.columns = vec!["A".into(), "B".into()];
                t.constraints.push(pk.clone());
                let p = self.prov(file, f.span, t);
                self.push(
                    format!("CREATE TABLE {fq} (\n    \"A\" {a_ty} NOT NULL,\n    \"B\" {b_ty} NOT NULL,\n\n    CONSTRAINT {} PRIMARY KEY (\"A\",\"B\")\n);", quote_ident(&pk)),
                    file,
                    f.span,
                    vec![p],
                );
                let idx = constraint_name(&table, &[], "_B_index");
                let mut t = target(TargetKind::Index, object(&schema, &idx));
                t.table = Some(tname.clone());
                let p = self.prov(file, f.span, t);
                self.push(
                    format!("CREATE INDEX {} ON {fq}(\"B\");", quote_ident(&idx)),
                    file,
                    f.span,
                    vec![p],
                );
                if relation_mode_prisma {
                    continue;
                }
                for (col, ref_fq, ref_col) in [("A", &a_fq, &a_col), ("B", &b_fq, &b_col)] {
                    let fk = constraint_name(&table, &[], &format!("_{col}_fkey"));
                    let mut t = target(TargetKind::Table, tname.clone());
                    t.constraints.push(fk.clone());
                    let p = self.prov(file, f.span, t);
                    self.push(
                        format!(
                            "ALTER TABLE {fq} ADD CONSTRAINT {} FOREIGN KEY (\"{col}\") REFERENCES {ref_fq}({}) ON DELETE CASCADE ON UPDATE CASCADE;",
                            quote_ident(&fk),
                            quote_ident(ref_col)
                        ),
                        file,
                        f.span,
                        vec![p],
                    );
                }
            }
        }
        Ok(())
    }
}

fn string_list(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// `extensions = [name(map:, schema:, version:)]`: database name, schema, version, file, span.
struct Extension(String, Option<String>, Option<String>, usize, Span);

/// Translates parsed files into DDL.
pub fn generate(files: &[File]) -> Result<Output, SemanticError> {
    let mut ctx = Ctx {
        files,
        models: BTreeMap::new(),
        enums: BTreeMap::new(),
        types: BTreeSet::new(),
        out: Vec::new(),
        findings: Vec::new(),
    };
    let mut postgres = true;
    let mut relation_mode_prisma = false;
    let mut schemas: Vec<(String, usize, Span)> = Vec::new();
    let mut extensions: Vec<Extension> = Vec::new();
    // Without the `postgresqlExtensions` preview feature Prisma manages no extensions.
    let mut preview_extensions = false;
    let mut model_order: Vec<&str> = Vec::new();
    let mut enum_order: Vec<(&str, usize, Span)> = Vec::new();
    for (fi, file) in files.iter().enumerate() {
        for b in &file.blocks {
            let schema = b
                .attr("schema")
                .and_then(|a| a.arg("name", true))
                .and_then(Value::as_str)
                .unwrap_or("public")
                .to_string();
            match b.kind {
                BlockKind::Datasource => {
                    for (key, value, span) in &b.config {
                        match key.as_str() {
                            "provider" => {
                                let p = value.as_str().unwrap_or("");
                                if p != "postgresql" && p != "postgres" {
                                    postgres = false;
                                    ctx.findings.push(
                                        registry::finding(
                                            "dialect-mismatch",
                                            format!("the Prisma datasource provider is `{p}`, not PostgreSQL; the schema is not compared with the migrations"),
                                        )
                                        .help("set `provider = \"postgresql\"`, or move this schema out of the PostgreSQL project")
                                        .at(&file.path, Some(*span)),
                                    );
                                }
                            }
                            "relationMode" => {
                                relation_mode_prisma = value.as_str() == Some("prisma")
                            }
                            "schemas" => {
                                for s in string_list(value) {
                                    schemas.push((s, fi, *span));
                                }
                            }
                            "extensions" => {
                                if let Value::Array(items) = value {
                                    for item in items {
                                        let (name, args) = match item {
                                            Value::Ident(n) => (n.clone(), &[][..]),
                                            Value::Call(n, args) => (n.clone(), args.as_slice()),
                                            _ => continue,
                                        };
                                        let get = |k: &str| {
                                            args.iter()
                                                .find(|a| a.name.as_deref() == Some(k))
                                                .and_then(|a| a.value.as_str())
                                                .map(str::to_string)
                                        };
                                        let db = get("map").unwrap_or(name);
                                        extensions.push(Extension(
                                            db,
                                            get("schema"),
                                            get("version"),
                                            fi,
                                            *span,
                                        ));
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
                BlockKind::Model => {
                    if ctx.models.contains_key(b.name.as_str())
                        || ctx.enums.contains_key(b.name.as_str())
                    {
                        return ctx.err(fi, b.span, format!("`{}` is defined twice", b.name));
                    }
                    model_order.push(&b.name);
                    ctx.models.insert(
                        &b.name,
                        Model {
                            file: fi,
                            block: b,
                            table: identifier(mapped(&b.attrs, "map", &b.name)),
                            schema,
                        },
                    );
                }
                BlockKind::Enum => {
                    if ctx.models.contains_key(b.name.as_str())
                        || ctx.enums.contains_key(b.name.as_str())
                    {
                        return ctx.err(fi, b.span, format!("`{}` is defined twice", b.name));
                    }
                    let values = b
                        .fields
                        .iter()
                        .map(|v| (v.name.clone(), column_name(v)))
                        .collect();
                    enum_order.push((&b.name, fi, b.span));
                    ctx.enums.insert(
                        &b.name,
                        Enum {
                            db: identifier(mapped(&b.attrs, "map", &b.name)),
                            schema,
                            values,
                        },
                    );
                }
                BlockKind::Type => {
                    ctx.types.insert(&b.name);
                    ctx.findings.push(
                        registry::finding(
                            "dialect-mismatch",
                            format!("composite type `{}` is MongoDB-only; Prisma rejects composite types on PostgreSQL", b.name),
                        )
                        .help("turn it into a model with a relation, or store it in a `Json` field")
                        .at(&file.path, Some(b.span)),
                    );
                }
                BlockKind::Generator => {
                    preview_extensions |= b.config.iter().any(|(key, value, _)| {
                        key == "previewFeatures"
                            && string_list(value)
                                .iter()
                                .any(|f| f.eq_ignore_ascii_case("postgresqlExtensions"))
                    });
                }
                // Prisma Migrate does not create views.
                BlockKind::View => {}
            }
        }
    }
    // Schemas that models and enums use (a listed schema nothing uses is not created).
    let mut seen = BTreeSet::new();
    let mut used: Vec<(String, usize, Span)> = Vec::new();
    for m in ctx.models.values() {
        used.push((m.schema.clone(), m.file, m.block.span));
    }
    for (name, fi, span) in &enum_order {
        used.push((ctx.enums[name].schema.clone(), *fi, *span));
    }
    for (s, fi, span) in used {
        let (fi, span) = schemas
            .iter()
            .find(|(name, _, _)| *name == s)
            .map(|(_, f, sp)| (*f, *sp))
            .unwrap_or((fi, span));
        if seen.insert(s.clone()) {
            let p = ctx.prov(
                fi,
                span,
                target(
                    TargetKind::Schema,
                    ObjectName {
                        schema: None,
                        name: s.clone(),
                    },
                ),
            );
            ctx.push(
                format!("CREATE SCHEMA IF NOT EXISTS {};", quote_ident(&s)),
                fi,
                span,
                vec![p],
            );
        }
    }
    if !preview_extensions {
        extensions.clear();
    }
    for Extension(name, schema, version, fi, span) in extensions {
        let mut sql = format!("CREATE EXTENSION IF NOT EXISTS {}", quote_ident(&name));
        if let Some(s) = schema {
            sql.push_str(&format!(" WITH SCHEMA {}", quote_ident(&s)));
        }
        if let Some(v) = version {
            sql.push_str(&format!(" VERSION {}", quote_ident(&v)));
        }
        sql.push(';');
        let p = ctx.prov(
            fi,
            span,
            target(
                TargetKind::Extension,
                ObjectName {
                    schema: None,
                    name: name.clone(),
                },
            ),
        );
        ctx.push(sql, fi, span, vec![p]);
    }
    for (name, fi, span) in &enum_order {
        let e = &ctx.enums[name];
        let labels: Vec<String> = files[*fi]
            .blocks
            .iter()
            .find(|b| b.kind == BlockKind::Enum && b.name == *name)
            .map(|b| {
                b.fields
                    .iter()
                    .map(|v| quote_literal(&column_name(v)))
                    .collect()
            })
            .unwrap_or_default();
        let sql = format!(
            "CREATE TYPE {} AS ENUM ({});",
            qualified(&e.schema, &e.db),
            labels.join(", ")
        );
        let p = ctx.prov(
            *fi,
            *span,
            target(TargetKind::Type, object(&e.schema, &e.db)),
        );
        ctx.push(sql, *fi, *span, vec![p]);
    }
    for name in &model_order {
        ctx.model(name)?;
    }
    ctx.many_to_many(relation_mode_prisma)?;
    for name in &model_order {
        ctx.indexes(name)?;
    }
    for name in &model_order {
        ctx.foreign_keys(name, relation_mode_prisma)?;
    }
    Ok(Output {
        statements: ctx.out,
        findings: ctx.findings,
        postgres,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_truncate_to_63_bytes() {
        let t = "A".repeat(54);
        assert_eq!(
            constraint_name(&t, &["bbbbbbbb"], "_key"),
            format!("{t}_bbbb_key")
        );
        assert_eq!(
            constraint_name("User", &["email"], "_key"),
            "User_email_key"
        );
        assert_eq!(constraint_name("User", &[], "_pkey"), "User_pkey");
        assert!(constraint_name(&"é".repeat(40), &["x"], "_fkey").len() <= 63);
    }

    #[test]
    fn bytes_defaults_are_base64() {
        assert_eq!(base64("aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(base64("").as_deref(), Some(&b""[..]));
        assert_eq!(base64("!"), None);
    }

    #[test]
    fn operator_classes() {
        assert_eq!(snake_ops("JsonbPathOps"), "jsonb_path_ops");
        assert_eq!(snake_ops("Int4MinMaxMultiOps"), "int4_minmax_multi_ops");
        assert_eq!(snake_ops("TimestampTzBloomOps"), "timestamptz_bloom_ops");
        assert_eq!(snake_ops("ArrayOps"), "array_ops");
    }
}
