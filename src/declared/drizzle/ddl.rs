//! Rendering evaluated Drizzle objects as the DDL drizzle-kit 0.31 generates, with provenance.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use pgrehearse_sql::{Action, ObjectName, Span, Target, TargetKind};

use super::eval::{ColRef, Eval, Extra, ExtraKind, NoteKind, SqlPart, Table, Val, num, quote};
use super::{Translation, finding};
use crate::model::Provenance;
use crate::model::{Category, Severity};
use crate::runner::GeneratedStatement;

/// PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1).
pub fn truncate(name: &str) -> String {
    if name.len() <= 63 {
        return name.to_string();
    }
    let mut end = 63;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_string()
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// How `${column}` renders inside a `sql` template.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ColStyle {
    /// `"table"."column"` (checks, index `where`, generated columns).
    Qualified,
    /// `"column"` (index expressions).
    Bare,
}

struct Out<'e, 'a> {
    ev: &'e Eval<'a>,
    paths: &'e [PathBuf],
    texts: &'e [Arc<str>],
    tr: Translation,
    /// Provenance of the statement being built.
    pending: Vec<Provenance>,
}

impl Out<'_, '_> {
    fn prov(&mut self, file: usize, span: Span, target: Target) {
        self.pending.push(Provenance {
            target,
            file: self.paths[file].clone(),
            text: self.texts[file].clone(),
            span,
        });
    }

    /// A statement with the provenance recorded since the last one.
    fn statement(&mut self, sql: String, file: usize, span: Span) -> GeneratedStatement {
        GeneratedStatement {
            sql,
            file: self.paths[file].clone(),
            text: self.texts[file].clone(),
            span,
            provenance: std::mem::take(&mut self.pending),
        }
    }

    fn notice(&mut self, file: usize, span: Span, message: String) {
        self.tr.findings.push(
            finding(
                "declared-not-evaluated",
                Category::Drift,
                Severity::Notice,
                message,
                &self.paths[file],
                Some(span),
            )
            .help("declare it with literal drizzle-orm/pg-core calls, or compare a SQL schema instead"),
        );
    }

    fn col_name(&self, c: &ColRef) -> String {
        self.ev.tables[c.table].columns[c.column].name.clone()
    }

    fn sql(&self, v: &Val, style: ColStyle) -> Result<String, String> {
        match v {
            Val::Sql(parts) => {
                let mut s = String::new();
                for p in parts {
                    match p {
                        SqlPart::Raw(r) => s.push_str(r),
                        SqlPart::Col(c) => {
                            if style == ColStyle::Qualified {
                                s.push_str(&quote(&self.ev.tables[c.table].name));
                                s.push('.');
                            }
                            s.push_str(&quote(&self.col_name(c)));
                        }
                        SqlPart::Table(t) => s.push_str(&quote(&self.ev.tables[*t].name)),
                        SqlPart::Value(v) => s.push_str(&self.value(v, false)?),
                    }
                }
                Ok(s)
            }
            other => self.value(other, false),
        }
    }

    /// A JavaScript value as a SQL literal, the way drizzle-kit writes defaults.
    fn value(&self, v: &Val, json: bool) -> Result<String, String> {
        Ok(match v {
            Val::Str(s) if json => literal(&serde_json::Value::String(s.clone()).to_string()),
            Val::Str(s) => literal(s),
            Val::Num(x) => num(*x),
            Val::Bool(b) => b.to_string(),
            Val::Null => "null".into(),
            Val::Sql(_) => self.sql(v, ColStyle::Qualified)?,
            Val::Arr(_) | Val::Obj(_) if json => literal(&to_json(v)?.to_string()),
            Val::Arr(items) => {
                let mut parts = Vec::new();
                for it in items {
                    parts.push(match it {
                        Val::Str(s) => {
                            format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
                        }
                        Val::Num(x) => num(*x),
                        Val::Bool(b) => b.to_string(),
                        _ => return Err("an array default with nested values".into()),
                    });
                }
                literal(&format!("{{{}}}", parts.join(",")))
            }
            Val::Obj(_) => literal(&to_json(v)?.to_string()),
            Val::Unknown(w, _) => return Err(w.clone()),
            _ => return Err("a default that is not a literal or sql template".into()),
        })
    }

    fn schema_name(&self, schema: &Option<String>, name: &str) -> String {
        match schema {
            Some(s) => format!("{}.{}", quote(s), quote(name)),
            None => quote(name),
        }
    }
}

fn to_json(v: &Val) -> Result<serde_json::Value, String> {
    Ok(match v {
        Val::Str(s) => serde_json::Value::String(s.clone()),
        Val::Num(x) if x.fract() == 0.0 && x.abs() < 9e15 => serde_json::Value::from(*x as i64),
        Val::Num(x) => serde_json::Number::from_f64(*x)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Val::Bool(b) => serde_json::Value::Bool(*b),
        Val::Null => serde_json::Value::Null,
        Val::Arr(a) => serde_json::Value::Array(a.iter().map(to_json).collect::<Result<_, _>>()?),
        Val::Obj(kv) => {
            let mut m = serde_json::Map::new();
            for (k, v) in kv {
                m.insert(k.clone(), to_json(v)?);
            }
            serde_json::Value::Object(m)
        }
        _ => return Err("a JSON default with computed values".into()),
    })
}

fn target(kind: TargetKind, schema: &Option<String>, name: &str) -> Target {
    Target {
        kind,
        action: Action::Create,
        name: ObjectName {
            schema: schema.clone(),
            name: truncate(name),
        },
        table: None,
        columns: Vec::new(),
        constraints: Vec::new(),
    }
}

fn action(a: &Option<String>) -> &str {
    a.as_deref().unwrap_or("no action")
}

pub fn render(ev: &Eval<'_>, paths: &[PathBuf], texts: &[Arc<str>]) -> Translation {
    let mut o = Out {
        ev,
        paths,
        texts,
        tr: Translation::default(),
        pending: Vec::new(),
    };
    for n in &ev.notes {
        let (rule, category, severity) = match n.kind {
            NoteKind::NotEvaluated => ("declared-not-evaluated", Category::Drift, Severity::Notice),
            NoteKind::Dialect => ("dialect-mismatch", Category::Dialect, Severity::Error),
        };
        let f = finding(
            rule,
            category,
            severity,
            n.message.clone(),
            &paths[n.file],
            Some(n.span),
        );
        o.tr.findings.push(match n.kind {
            NoteKind::Dialect => f.help("declare PostgreSQL tables with drizzle-orm/pg-core (pgTable), or move this file out of the PostgreSQL schema"),
            NoteKind::NotEvaluated => f.help("declare it with literal drizzle-orm/pg-core calls, or compare a SQL schema instead"),
        });
    }
    let mut sql: Vec<GeneratedStatement> = Vec::new();
    // Schemas that tables or enums use, and exported pgSchema values.
    let mut schemas: Vec<(String, usize, Span)> = Vec::new();
    for (name, file, span) in &ev.schemas {
        if !schemas.iter().any(|(n, _, _)| n == name) {
            schemas.push((name.clone(), *file, *span));
        }
    }
    for (name, file, span) in &schemas {
        if name == "public" {
            continue;
        }
        o.prov(*file, *span, target(TargetKind::Schema, &None, name));
        let st = o.statement(format!("CREATE SCHEMA {};", quote(name)), *file, *span);
        sql.push(st);
    }
    let mut seen_enums: BTreeMap<(Option<String>, String), usize> = BTreeMap::new();
    for e in &ev.enums {
        if seen_enums.contains_key(&(e.schema.clone(), e.name.clone())) {
            continue;
        }
        seen_enums.insert((e.schema.clone(), e.name.clone()), e.file);
        let values: Vec<String> = e.values.iter().map(|v| literal(v)).collect();
        o.prov(e.file, e.span, target(TargetKind::Type, &e.schema, &e.name));
        let st = o.statement(
            format!(
                "CREATE TYPE {} AS ENUM ({});",
                o.schema_name(&e.schema, &e.name),
                values.join(", ")
            ),
            e.file,
            e.span,
        );
        sql.push(st);
    }
    // Tables drizzle-kit sees: exported ones. The same table twice is a finding on each.
    let mut by_name: BTreeMap<(Option<String>, String), Vec<usize>> = BTreeMap::new();
    for (i, t) in ev.tables.iter().enumerate() {
        if !t.exported {
            o.notice(
                t.file,
                t.span,
                format!(
                    "not evaluated: table `{}` is not exported, so drizzle-kit ignores it",
                    t.name
                ),
            );
            continue;
        }
        by_name
            .entry((t.schema.clone(), t.name.clone()))
            .or_default()
            .push(i);
    }
    let mut tables: Vec<usize> = Vec::new();
    for ((_, name), idx) in &by_name {
        if idx.len() > 1 {
            let places: Vec<String> = idx
                .iter()
                .map(|&i| paths[ev.tables[i].file].display().to_string())
                .collect();
            for &i in idx {
                let t = &ev.tables[i];
                o.tr.findings.push(
                    finding(
                        "declared-duplicate-table",
                        Category::Drift,
                        Severity::Error,
                        format!(
                            "table `{name}` is declared {} times ({}); drizzle-kit keeps only one of them",
                            idx.len(),
                            places.join(", ")
                        ),
                        &paths[t.file],
                        Some(t.span),
                    )
                    .help("declare each table once and import it where it is needed"),
                );
            }
        }
        tables.push(idx[0]);
    }
    tables.sort();
    let mut after: Vec<GeneratedStatement> = Vec::new();
    let mut indexes: Vec<GeneratedStatement> = Vec::new();
    for &ti in &tables {
        let t = &ev.tables[ti];
        table(&mut o, t, &mut sql, &mut after, &mut indexes);
    }
    sql.extend(after);
    sql.extend(indexes);
    o.tr.sql = sql.iter().map(|s| format!("{}\n", s.sql)).collect();
    o.tr.statements = sql;
    o.tr
}

fn table(
    o: &mut Out<'_, '_>,
    t: &Table,
    sql: &mut Vec<GeneratedStatement>,
    after: &mut Vec<GeneratedStatement>,
    indexes: &mut Vec<GeneratedStatement>,
) {
    let ev = o.ev;
    let qname = o.schema_name(&t.schema, &t.name);
    let mut lines: Vec<String> = Vec::new();
    let mut constraints: Vec<String> = Vec::new();
    o.prov(
        t.file,
        t.span,
        target(TargetKind::Table, &t.schema, &t.name),
    );
    for (w, s) in &t.unknown {
        o.notice(
            t.file,
            *s,
            format!("not evaluated: in table `{}`: {w}", t.name),
        );
    }
    let table_target = |columns: Vec<String>, constraints: Vec<String>| Target {
        columns,
        constraints: constraints.iter().map(|c| truncate(c)).collect(),
        ..target(TargetKind::Table, &t.schema, &t.name)
    };
    for c in &t.columns {
        let col = &c.col;
        for (w, s) in &col.unknown {
            o.notice(
                c.file,
                *s,
                format!("not evaluated: column `{}.{}`: {w}", t.name, c.name),
            );
        }
        let mut line = format!("{} {}{}", quote(&c.name), col.ty, "[]".repeat(col.dims));
        if col.pk {
            line.push_str(" PRIMARY KEY");
        }
        if col.not_null {
            line.push_str(" NOT NULL");
        }
        if let Some((v, span)) = &col.default {
            let json = col.ty.starts_with("json");
            match o.value(v, json) {
                Ok(d) => line.push_str(&format!(" DEFAULT {d}")),
                Err(w) => o.notice(
                    c.file,
                    *span,
                    format!("not evaluated: default of `{}.{}`: {w}", t.name, c.name),
                ),
            }
        }
        if let Some((v, span)) = &col.generated {
            match o.sql(v, ColStyle::Qualified) {
                Ok(g) => line.push_str(&format!(" GENERATED ALWAYS AS ({g}) STORED")),
                Err(w) => o.notice(
                    c.file,
                    *span,
                    format!(
                        "not evaluated: generated expression of `{}.{}`: {w}",
                        t.name, c.name
                    ),
                ),
            }
        }
        if let Some((always, opts)) = &col.identity {
            let mut parts = Vec::new();
            for (k, v) in opts {
                let v = match v {
                    Val::Num(x) => num(*x),
                    Val::Str(s) => s.clone(),
                    Val::Bool(b) => b.to_string(),
                    _ => continue,
                };
                match k.as_str() {
                    "name" => parts.push(format!("SEQUENCE NAME {}", o.schema_name(&t.schema, &v))),
                    "startWith" => parts.push(format!("START WITH {v}")),
                    "increment" => parts.push(format!("INCREMENT BY {v}")),
                    "minValue" => parts.push(format!("MINVALUE {v}")),
                    "maxValue" => parts.push(format!("MAXVALUE {v}")),
                    "cache" => parts.push(format!("CACHE {v}")),
                    "cycle" if v == "true" => parts.push("CYCLE".into()),
                    _ => {}
                }
            }
            line.push_str(&format!(
                " GENERATED {} AS IDENTITY{}",
                if *always { "ALWAYS" } else { "BY DEFAULT" },
                if parts.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", parts.join(" "))
                }
            ));
        }
        lines.push(line);
        o.prov(
            c.file,
            c.span,
            table_target(vec![c.name.clone()], Vec::new()),
        );
        if col.pk {
            o.prov(
                c.file,
                c.span,
                table_target(Vec::new(), vec![format!("{}_pkey", t.name)]),
            );
        }
        if let Some((name, nnd)) = &col.unique {
            let name = name
                .clone()
                .unwrap_or_else(|| format!("{}_{}_unique", t.name, c.name));
            constraints.push(format!(
                "CONSTRAINT {} UNIQUE{} ({})",
                quote(&name),
                if *nnd { " NULLS NOT DISTINCT" } else { "" },
                quote(&c.name)
            ));
            o.prov(c.file, c.span, table_target(Vec::new(), vec![name]));
        }
        for r in &col.refs {
            let target_col = match &r.target {
                Val::Closure(cl) => {
                    // Evaluating a closure needs the evaluator mutably; references are resolved here
                    // from the closure's body, which is a member expression of a table.
                    resolve_ref(ev, cl)
                }
                Val::Col(c) => Ok(c.clone()),
                _ => Err("a reference that is not `() => table.column`".to_string()),
            };
            match target_col {
                Ok(rc) => {
                    let rt = &ev.tables[rc.table];
                    let rcol = o.col_name(&rc);
                    let name = format!("{}_{}_{}_{}_fk", t.name, c.name, rt.name, rcol);
                    let stmt = format!(
                        "ALTER TABLE {qname} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {}({}) ON DELETE {} ON UPDATE {};",
                        quote(&name),
                        quote(&c.name),
                        o.schema_name(&rt.schema, &rt.name),
                        quote(&rcol),
                        action(&r.on_delete),
                        action(&r.on_update),
                    );
                    let saved = std::mem::take(&mut o.pending);
                    o.prov(c.file, c.span, table_target(Vec::new(), vec![name]));
                    let st = o.statement(stmt, c.file, c.span);
                    o.pending = saved;
                    after.push(st);
                }
                Err(w) => o.notice(
                    c.file,
                    r.span,
                    format!("not evaluated: reference of `{}.{}`: {w}", t.name, c.name),
                ),
            }
        }
    }
    for (v, span) in &t.extras {
        let e: &Extra = match v {
            Val::Extra(e) => e,
            Val::Unknown(w, s) => {
                o.notice(
                    t.file,
                    *s,
                    format!("not evaluated: in table `{}`: {w}", t.name),
                );
                continue;
            }
            Val::Null => continue,
            _ => {
                o.notice(
                    t.file,
                    *span,
                    format!(
                        "not evaluated: in table `{}`: an extra that is not an index or constraint",
                        t.name
                    ),
                );
                continue;
            }
        };
        for (w, s) in &e.unknown {
            o.notice(
                t.file,
                *s,
                format!("not evaluated: in table `{}`: {w}", t.name),
            );
        }
        if !e.unknown.is_empty() {
            continue;
        }
        let mut cols: Vec<ColRef> = Vec::new();
        let mut bad = None;
        for c in &e.columns {
            match c {
                Val::Col(c) => cols.push(c.clone()),
                Val::Unknown(w, _) => bad = Some(w.clone()),
                _ => {}
            }
        }
        let names: Vec<String> = cols.iter().map(|c| o.col_name(c)).collect();
        let quoted = names
            .iter()
            .map(|n| quote(n))
            .collect::<Vec<_>>()
            .join(", ");
        match e.kind {
            ExtraKind::Unsupported => {}
            ExtraKind::PrimaryKey | ExtraKind::Unique
                if bad.is_some() || cols.is_empty() || cols.len() != e.columns.len() =>
            {
                o.notice(t.file, *span, format!("not evaluated: in table `{}`: constraint columns that are not columns of a table", t.name));
            }
            ExtraKind::PrimaryKey => {
                let name = e
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("{}_{}_pk", t.name, names.join("_")));
                constraints.push(format!("CONSTRAINT {} PRIMARY KEY({quoted})", quote(&name)));
                o.prov(t.file, *span, table_target(Vec::new(), vec![name]));
            }
            ExtraKind::Unique => {
                let name = e
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("{}_{}_unique", t.name, names.join("_")));
                constraints.push(format!(
                    "CONSTRAINT {} UNIQUE{}({quoted})",
                    quote(&name),
                    if e.nulls_not_distinct {
                        " NULLS NOT DISTINCT"
                    } else {
                        ""
                    }
                ));
                o.prov(t.file, *span, table_target(Vec::new(), vec![name]));
            }
            ExtraKind::Check => {
                let (Some(name), Some(expr)) = (&e.name, &e.check) else {
                    o.notice(t.file, *span, format!("not evaluated: in table `{}`: check() without a name and a sql template", t.name));
                    continue;
                };
                match o.sql(expr, ColStyle::Qualified) {
                    Ok(x) => {
                        constraints.push(format!("CONSTRAINT {} CHECK ({x})", quote(name)));
                        o.prov(t.file, *span, table_target(Vec::new(), vec![name.clone()]));
                    }
                    Err(w) => {
                        o.notice(t.file, *span, format!("not evaluated: check `{name}`: {w}"))
                    }
                }
            }
            ExtraKind::ForeignKey => {
                let mut fcols = Vec::new();
                for c in &e.foreign {
                    if let Val::Col(c) = c {
                        fcols.push(c.clone());
                    }
                }
                if cols.is_empty()
                    || fcols.is_empty()
                    || fcols.len() != e.foreign.len()
                    || cols.len() != e.columns.len()
                {
                    o.notice(
                        t.file,
                        *span,
                        format!("not evaluated: in table `{}`: foreignKey() columns", t.name),
                    );
                    continue;
                }
                let rt = &ev.tables[fcols[0].table];
                let fnames: Vec<String> = fcols.iter().map(|c| o.col_name(c)).collect();
                let name = e.name.clone().unwrap_or_else(|| {
                    format!(
                        "{}_{}_{}_{}_fk",
                        t.name,
                        names.join("_"),
                        rt.name,
                        fnames.join("_")
                    )
                });
                let stmt = format!(
                    "ALTER TABLE {qname} ADD CONSTRAINT {} FOREIGN KEY ({quoted}) REFERENCES {}({}) ON DELETE {} ON UPDATE {};",
                    quote(&name),
                    o.schema_name(&rt.schema, &rt.name),
                    fnames
                        .iter()
                        .map(|n| quote(n))
                        .collect::<Vec<_>>()
                        .join(", "),
                    action(&e.on_delete),
                    action(&e.on_update),
                );
                let saved = std::mem::take(&mut o.pending);
                o.prov(t.file, *span, table_target(Vec::new(), vec![name]));
                let st = o.statement(stmt, t.file, *span);
                o.pending = saved;
                after.push(st);
            }
            ExtraKind::Index => {
                let mut parts = Vec::new();
                let mut all_columns = true;
                let mut failed = bad.clone();
                for c in &e.columns {
                    match c {
                        Val::Col(c) => {
                            let mut p = quote(&o.col_name(c));
                            if let Some(op) = &c.op {
                                p.push(' ');
                                p.push_str(op);
                            }
                            if c.order.is_some() || c.nulls.is_some() {
                                p.push_str(&format!(
                                    " {} NULLS {}",
                                    c.order.unwrap_or("ASC"),
                                    c.nulls.unwrap_or("LAST")
                                ));
                            }
                            parts.push(p);
                        }
                        other => {
                            all_columns = false;
                            match o.sql(other, ColStyle::Bare) {
                                Ok(x) => parts.push(x),
                                Err(w) => failed = Some(w),
                            }
                        }
                    }
                }
                if parts.is_empty() && failed.is_none() {
                    failed = Some("an index without columns".into());
                }
                if let Some(w) = failed {
                    o.notice(
                        t.file,
                        *span,
                        format!("not evaluated: index on `{}`: {w}", t.name),
                    );
                    continue;
                }
                let name = match &e.name {
                    Some(n) => n.clone(),
                    None if all_columns && !cols.is_empty() => {
                        format!("{}_{}_index", t.name, names.join("_"))
                    }
                    None => {
                        o.notice(t.file, *span, format!("not evaluated: an index on an expression of `{}` without a name (drizzle-kit requires one)", t.name));
                        continue;
                    }
                };
                let mut stmt = format!(
                    "CREATE {}INDEX {} ON {qname} USING {} ({})",
                    if e.unique { "UNIQUE " } else { "" },
                    quote(&name),
                    e.method.as_deref().unwrap_or("btree"),
                    parts.join(", ")
                );
                if !e.with.is_empty() {
                    let w: Vec<String> = e
                        .with
                        .iter()
                        .map(|(k, v)| {
                            format!(
                                "{k}={}",
                                match v {
                                    Val::Num(x) => num(*x),
                                    Val::Str(s) => s.clone(),
                                    Val::Bool(b) => b.to_string(),
                                    _ => String::new(),
                                }
                            )
                        })
                        .collect();
                    stmt.push_str(&format!(" WITH ({})", w.join(", ")));
                }
                if let Some(wh) = &e.where_ {
                    match o.sql(wh, ColStyle::Qualified) {
                        Ok(x) => stmt.push_str(&format!(" WHERE {x}")),
                        Err(w) => {
                            o.notice(t.file, *span, format!("not evaluated: index `{name}`: {w}"));
                            continue;
                        }
                    }
                }
                stmt.push(';');
                let saved = std::mem::take(&mut o.pending);
                o.prov(
                    t.file,
                    *span,
                    Target {
                        table: Some(ObjectName {
                            schema: t.schema.clone(),
                            name: t.name.clone(),
                        }),
                        ..target(TargetKind::Index, &t.schema, &name)
                    },
                );
                let st = o.statement(stmt, t.file, *span);
                o.pending = saved;
                indexes.push(st);
            }
        }
    }
    lines.extend(constraints);
    let st = o.statement(
        format!("CREATE TABLE {qname} (\n\t{}\n);", lines.join(",\n\t")),
        t.file,
        t.span,
    );
    sql.push(st);
}

/// `() => users.id`: the column a reference closure names, read from its body without running it.
fn resolve_ref(ev: &Eval<'_>, cl: &super::eval::Closure) -> Result<ColRef, String> {
    use super::ts::Node;
    let Node::Member(obj, prop, _) = &cl.body else {
        return Err("a reference that is not `() => table.column`".into());
    };
    let Node::Ident(table_binding, _) = &**obj else {
        return Err("a reference that is not `() => table.column`".into());
    };
    // The table bound to that name, in the closure's file or imported into it.
    let t = ev
        .tables
        .iter()
        .position(|t| t.binding.as_deref() == Some(table_binding) && t.file == cl.file)
        .or_else(|| {
            let f = &ev.files[cl.file];
            let imp = f
                .module
                .imports
                .iter()
                .find(|i| &i.local == table_binding)?;
            let target = *f.resolved.get(&imp.source)?;
            let name = imp.imported.as_deref()?;
            ev.tables
                .iter()
                .position(|t| t.binding.as_deref() == Some(name) && t.file == target)
                .or_else(|| {
                    ev.tables
                        .iter()
                        .position(|t| t.binding.as_deref() == Some(name))
                })
        })
        .ok_or_else(|| format!("`{table_binding}` is not a table of the schema"))?;
    let column = ev.tables[t]
        .columns
        .iter()
        .position(|c| &c.key == prop)
        .ok_or_else(|| format!("`{table_binding}` has no column `{prop}`"))?;
    Ok(ColRef {
        table: t,
        column,
        order: None,
        nulls: None,
        op: None,
    })
}
