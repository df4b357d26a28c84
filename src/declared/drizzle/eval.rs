//! Static evaluation of the declarative subset of a Drizzle schema: `pgTable`, `pgSchema`, `pgEnum`, the
//! `drizzle-orm/pg-core` column builders and table extras. Values that cannot be known without running
//! the code become [`Val::Unknown`] and are reported where they are used.

use std::collections::HashMap;
use std::rc::Rc;

use pgrehearse_sql::Span;

use super::ts::{Binding, Module, Node};

/// A file of the project, parsed.
pub struct File {
    pub module: Module,
    /// Resolved relative imports: source string → file index.
    pub resolved: HashMap<String, usize>,
}

#[derive(Clone, Debug)]
pub enum Val {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Obj(Vec<(String, Val)>),
    Arr(Vec<Val>),
    Sql(Vec<SqlPart>),
    /// A function from drizzle-orm (`pgTable`, `integer`, `index`, `sql` …) or another dialect's module.
    Lib(Lib, String),
    /// `import * as pg from 'drizzle-orm/pg-core'`.
    Namespace(Lib),
    Schema(String),
    Enum(usize),
    Table(usize),
    Col(ColRef),
    Builder(Box<Column>),
    Extra(Box<Extra>),
    /// A method of a value, not yet called (`users.id.desc`).
    Method(Box<Val>, String),
    Closure(Rc<Closure>),
    /// `pgTableCreator((name) => \`app_${name}\`)`: a `pgTable` whose names go through the closure.
    TableCreator(Rc<Closure>),
    Unknown(String, Span),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lib {
    PgCore,
    Orm,
    /// `drizzle-orm/mysql-core`, `sqlite-core`, `singlestore-core`, `gel-core`.
    Other(&'static str),
}

#[derive(Debug)]
pub struct Closure {
    pub params: Vec<String>,
    pub body: Node,
    pub file: usize,
    pub scope: Vec<(String, Val)>,
}

#[derive(Clone, Debug)]
pub enum SqlPart {
    Raw(String),
    Col(ColRef),
    Table(usize),
    Value(Val),
}

/// A column of a table (or of a table being built: `table` is its index either way).
#[derive(Clone, Debug, PartialEq)]
pub struct ColRef {
    pub table: usize,
    pub column: usize,
    pub order: Option<&'static str>,
    pub nulls: Option<&'static str>,
    pub op: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Column {
    /// The name given as the builder's first argument.
    pub name: Option<String>,
    pub ty: String,
    pub dims: usize,
    pub not_null: bool,
    pub pk: bool,
    pub unique: Option<(Option<String>, bool)>,
    pub default: Option<(Val, Span)>,
    pub generated: Option<(Val, Span)>,
    /// `(always, options)`
    pub identity: Option<(bool, Vec<(String, Val)>)>,
    pub refs: Vec<Reference>,
    /// Things in the builder chain that could not be evaluated.
    pub unknown: Vec<(String, Span)>,
}

#[derive(Clone, Debug)]
pub struct Reference {
    pub target: Val,
    pub on_delete: Option<String>,
    pub on_update: Option<String>,
    pub span: Span,
}

#[derive(Clone, Debug, Default)]
pub struct Extra {
    pub kind: ExtraKind,
    pub name: Option<String>,
    pub columns: Vec<Val>,
    pub foreign: Vec<Val>,
    pub unique: bool,
    pub method: Option<String>,
    pub where_: Option<Val>,
    pub with: Vec<(String, Val)>,
    pub nulls_not_distinct: bool,
    pub on_delete: Option<String>,
    pub on_update: Option<String>,
    pub check: Option<Val>,
    pub unknown: Vec<(String, Span)>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExtraKind {
    #[default]
    Index,
    PrimaryKey,
    ForeignKey,
    Unique,
    Check,
    /// Policies, views … that are not translated.
    Unsupported,
}

#[derive(Clone, Debug)]
pub struct Table {
    pub schema: Option<String>,
    pub name: String,
    pub file: usize,
    /// The declaration (`export const users = pgTable(…)`), or the call when not bound.
    pub span: Span,
    pub binding: Option<String>,
    pub exported: bool,
    pub columns: Vec<TableColumn>,
    pub extras: Vec<(Val, Span)>,
    pub unknown: Vec<(String, Span)>,
}

#[derive(Clone, Debug)]
pub struct TableColumn {
    pub key: String,
    pub name: String,
    pub col: Column,
    pub span: Span,
    /// Where the column was declared (a spread from another file keeps its own file).
    pub file: usize,
}

#[derive(Clone, Debug)]
pub struct EnumDef {
    pub schema: Option<String>,
    pub name: String,
    pub values: Vec<String>,
    pub file: usize,
    pub span: Span,
}

/// A finding the evaluator wants to report.
#[derive(Clone, Debug)]
pub struct Note {
    pub file: usize,
    pub span: Span,
    pub kind: NoteKind,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoteKind {
    NotEvaluated,
    Dialect,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Casing {
    Preserve,
    SnakeCase,
    CamelCase,
}

pub struct Eval<'a> {
    pub files: &'a [File],
    pub casing: Casing,
    pub tables: Vec<Table>,
    pub enums: Vec<EnumDef>,
    pub schemas: Vec<(String, usize, Span)>,
    pub notes: Vec<Note>,
    cache: HashMap<(usize, String), Val>,
    in_progress: Vec<(usize, String)>,
    /// The binding being evaluated (its statement span), for table provenance.
    current: Vec<(usize, String, Span, bool)>,
    steps: usize,
    /// Closures being called (recursion guard).
    calls: usize,
}

const MAX_STEPS: usize = 2_000_000;
const MAX_CALL_DEPTH: usize = 32;

/// Validation libraries whose schemas (`z.object(…)`, `createInsertSchema(users)`) often sit beside
/// the tables: they describe values, never database objects.
const VALIDATORS: &[&str] = &[
    "zod",
    "drizzle-zod",
    "valibot",
    "drizzle-valibot",
    "yup",
    "joi",
    "arktype",
    "drizzle-arktype",
    "superstruct",
    "@sinclair/typebox",
    "drizzle-typebox",
    "@effect/schema",
    "effect",
    "class-validator",
];

/// Whether `n` is built by a function of a validation library (its root name is imported from one).
fn validator(file: &File, n: &Node) -> bool {
    let mut root = n;
    loop {
        root = match root {
            Node::Call(callee, _, _) => callee,
            Node::Member(object, _, _) => object,
            _ => break,
        };
    }
    let Node::Ident(name, _) = root else {
        return false;
    };
    file.module.imports.iter().any(|i| {
        &i.local == name
            && VALIDATORS
                .iter()
                .any(|v| i.source == *v || i.source.starts_with(&format!("{v}/")))
    })
}

fn unknown(what: impl Into<String>, span: Span) -> Val {
    Val::Unknown(what.into(), span)
}

pub fn to_snake(s: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = s.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            if i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit()) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(*c);
        }
    }
    out
}

fn to_camel(s: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn lib_of(source: &str) -> Option<Lib> {
    Some(match source {
        "drizzle-orm/pg-core" => Lib::PgCore,
        "drizzle-orm" | "drizzle-orm/sql" | "drizzle-orm/relations" => Lib::Orm,
        "drizzle-orm/mysql-core" => Lib::Other("mysql"),
        "drizzle-orm/sqlite-core" => Lib::Other("sqlite"),
        "drizzle-orm/singlestore-core" => Lib::Other("singlestore"),
        "drizzle-orm/gel-core" => Lib::Other("gel"),
        _ => return None,
    })
}

impl<'a> Eval<'a> {
    pub fn new(files: &'a [File], casing: Casing) -> Self {
        Eval {
            files,
            casing,
            tables: Vec::new(),
            enums: Vec::new(),
            schemas: Vec::new(),
            notes: Vec::new(),
            cache: HashMap::new(),
            in_progress: Vec::new(),
            current: Vec::new(),
            steps: 0,
            calls: 0,
        }
    }

    pub fn note(&mut self, file: usize, span: Span, kind: NoteKind, message: String) {
        if !self
            .notes
            .iter()
            .any(|n| n.file == file && n.span == span && n.message == message)
        {
            self.notes.push(Note {
                file,
                span,
                kind,
                message,
            });
        }
    }

    fn not_evaluated(&mut self, file: usize, what: &str, span: Span) {
        self.note(
            file,
            span,
            NoteKind::NotEvaluated,
            format!("not evaluated: {what}"),
        );
    }

    /// Evaluates every top-level binding of every file (exported ones are declared objects).
    pub fn run(&mut self) {
        for (i, f) in self.files.iter().enumerate() {
            for imp in &f.module.imports {
                if let Some(Lib::Other(d)) = lib_of(&imp.source) {
                    self.note(
                        i,
                        imp.statement,
                        NoteKind::Dialect,
                        format!(
                            "this schema file imports drizzle-orm's {d} module (`{}`) in a PostgreSQL project",
                            imp.source
                        ),
                    );
                }
            }
            for b in &f.module.bindings {
                let v = self.binding(i, &b.name);
                if let Val::Unknown(what, span) = v
                    && b.exported
                    && !what.is_empty()
                    && self.looks_like_schema(&b.init)
                    && !validator(f, &b.init)
                {
                    self.not_evaluated(i, &format!("`{}`: {what}", b.name), span);
                }
            }
        }
        for t in 0..self.tables.len() {
            for c in 0..self.tables[t].columns.len() {
                if let Some((Val::Closure(cl), span)) =
                    self.tables[t].columns[c].col.generated.clone()
                {
                    let v = self.call_closure(&cl, Vec::new());
                    self.tables[t].columns[c].col.generated = Some((v, span));
                }
            }
        }
    }

    /// Whether a binding that failed to evaluate was probably meant as schema (a call, not a helper).
    /// Whether `n` may declare a database object: a call (or an expression the front end does not
    /// model), not a literal.
    fn looks_like_schema(&self, n: &Node) -> bool {
        matches!(n, Node::Call(..) | Node::Other(..))
    }

    fn find_binding(&self, file: usize, name: &str) -> Option<&'a Binding> {
        self.files
            .get(file)?
            .module
            .bindings
            .iter()
            .find(|b| b.name == name)
    }

    /// The value of top-level `name` in `file`, following imports; memoised.
    pub fn binding(&mut self, file: usize, name: &str) -> Val {
        let key = (file, name.to_string());
        if let Some(v) = self.cache.get(&key) {
            return v.clone();
        }
        if self.in_progress.contains(&key) {
            return unknown(format!("`{name}` refers to itself"), Span::default());
        }
        self.in_progress.push(key.clone());
        let v = self.binding_uncached(file, name);
        self.in_progress.retain(|k| k != &key);
        self.cache.insert(key, v.clone());
        v
    }

    fn binding_uncached(&mut self, file: usize, name: &str) -> Val {
        let files = self.files;
        let Some(f) = files.get(file) else {
            return unknown(format!("`{name}`"), Span::default());
        };
        if let Some(b) = self.find_binding(file, name) {
            self.current
                .push((file, name.to_string(), b.span, b.exported));
            let v = self.eval(file, &b.init, &[]);
            self.current.pop();
            return v;
        }
        if let Some(imp) = f.module.imports.iter().find(|i| i.local == name) {
            if let Some(lib) = lib_of(&imp.source) {
                return match &imp.imported {
                    Some(n) => Val::Lib(lib, n.clone()),
                    None => Val::Namespace(lib),
                };
            }
            return match (f.resolved.get(&imp.source), &imp.imported) {
                (Some(&target), Some(n)) => self.export(target, n, imp.span),
                (Some(_), None) => unknown(
                    format!("namespace import `{name}` of a schema file"),
                    imp.span,
                ),
                (None, _) => unknown(
                    format!(
                        "`{name}` is imported from `{}`, which is not a schema file of this project",
                        imp.source
                    ),
                    Span::default(),
                ),
            };
        }
        unknown(
            format!("`{name}` is not defined at the top level"),
            Span::default(),
        )
    }

    /// The export `name` of `file` (declarations, `export { a as b }`, `export * from`).
    fn export(&mut self, file: usize, name: &str, at: Span) -> Val {
        let files = self.files;
        let f = &files[file];
        if f.module
            .bindings
            .iter()
            .any(|b| b.name == name && b.exported)
        {
            return self.binding(file, name);
        }
        for (local, exported, source, _) in &f.module.reexports {
            if exported == name {
                return match source {
                    None => self.binding(file, local),
                    Some(s) => match f.resolved.get(s) {
                        Some(&t) => self.export(t, local, at),
                        None => unknown(format!("`{name}` from `{s}`"), at),
                    },
                };
            }
        }
        if self.steps > MAX_STEPS {
            return unknown("the schema is too large to evaluate", at);
        }
        self.steps += 1;
        for (s, _) in &f.module.export_all {
            if let Some(&t) = f.resolved.get(s)
                && t != file
            {
                let v = self.export(t, name, at);
                if !matches!(v, Val::Unknown(..)) {
                    return v;
                }
            }
        }
        if f.module.bindings.iter().any(|b| b.name == name) {
            return self.binding(file, name);
        }
        unknown(format!("`{name}` is not exported by the imported file"), at)
    }

    pub fn eval(&mut self, file: usize, n: &Node, scope: &[(String, Val)]) -> Val {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return unknown("the schema is too large to evaluate", n.span());
        }
        match n {
            Node::Str(s, _) => Val::Str(s.clone()),
            Node::Num(x, _) => Val::Num(*x),
            Node::Bool(b, _) => Val::Bool(*b),
            Node::Null(_) => Val::Null,
            Node::Ident(name, span) => {
                if let Some((_, v)) = scope.iter().rev().find(|(k, _)| k == name) {
                    return v.clone();
                }
                if name == "undefined" {
                    return Val::Null;
                }
                match self.binding(file, name) {
                    Val::Unknown(what, s) if s == Span::default() => Val::Unknown(what, *span),
                    v => v,
                }
            }
            Node::Object(props, _) => {
                let mut out: Vec<(String, Val)> = Vec::new();
                for p in props {
                    match (&p.key, &p.value) {
                        (None, Node::Spread(inner, span)) => match self.eval(file, inner, scope) {
                            Val::Obj(kv) => {
                                for (k, v) in kv {
                                    out.retain(|(x, _)| x != &k);
                                    out.push((k, v));
                                }
                            }
                            Val::Unknown(w, s) => out.push((String::new(), Val::Unknown(w, s))),
                            _ => out.push((String::new(), unknown("a spread", *span))),
                        },
                        (Some(k), v) => {
                            let v = self.eval(file, v, scope);
                            out.retain(|(x, _)| x != k);
                            out.push((k.clone(), v));
                        }
                        (None, v) => {
                            out.push((String::new(), unknown("a computed property", v.span())))
                        }
                    }
                }
                Val::Obj(out)
            }
            Node::Array(items, _) => {
                let mut out = Vec::new();
                for it in items {
                    match it {
                        Node::Spread(inner, span) => match self.eval(file, inner, scope) {
                            Val::Arr(v) => out.extend(v),
                            Val::Unknown(w, s) => out.push(Val::Unknown(w, s)),
                            _ => out.push(unknown("a spread", *span)),
                        },
                        other => out.push(self.eval(file, other, scope)),
                    }
                }
                Val::Arr(out)
            }
            Node::Arrow(params, body, _) => Val::Closure(Rc::new(Closure {
                params: params.clone(),
                body: (**body).clone(),
                file,
                scope: scope.to_vec(),
            })),
            Node::Template(tag, quasis, exprs, span) => {
                let tagged_sql = match tag {
                    None => false,
                    Some(t) => {
                        matches!(self.eval(file, t, scope), Val::Lib(Lib::Orm, ref n) if n == "sql")
                    }
                };
                if tag.is_some() && !tagged_sql {
                    return unknown("a template tag other than sql", *span);
                }
                let mut parts = Vec::new();
                for (i, q) in quasis.iter().enumerate() {
                    parts.push(SqlPart::Raw(unescape_template(q)));
                    if let Some(e) = exprs.get(i) {
                        let v = self.eval(file, e, scope);
                        match v {
                            Val::Col(c) => parts.push(SqlPart::Col(c)),
                            Val::Table(t) => parts.push(SqlPart::Table(t)),
                            Val::Sql(p) => parts.extend(p),
                            Val::Unknown(w, s) => return Val::Unknown(w, s),
                            other if tagged_sql => parts.push(SqlPart::Value(other)),
                            Val::Str(s) => parts.push(SqlPart::Raw(s)),
                            Val::Num(x) => parts.push(SqlPart::Raw(num(x))),
                            _ => return unknown("a template expression", e.span()),
                        }
                    }
                }
                if tagged_sql {
                    Val::Sql(parts)
                } else {
                    let mut s = String::new();
                    for p in parts {
                        if let SqlPart::Raw(r) = p {
                            s.push_str(&r);
                        }
                    }
                    Val::Str(s)
                }
            }
            Node::Member(obj, prop, span) => {
                let o = self.eval(file, obj, scope);
                self.member(o, prop, *span)
            }
            Node::Call(callee, args, span) => {
                let f = self.eval(file, callee, scope);
                let args: Vec<Val> = args.iter().map(|a| self.eval(file, a, scope)).collect();
                let arg_spans: Vec<Span> = match n {
                    Node::Call(_, a, _) => a.iter().map(Node::span).collect(),
                    _ => Vec::new(),
                };
                self.call(file, f, args, &arg_spans, *span)
            }
            Node::Spread(_, span) => unknown("a spread", *span),
            Node::Other(what, span) => unknown(*what, *span),
        }
    }

    fn member(&mut self, o: Val, prop: &str, span: Span) -> Val {
        match o {
            Val::Unknown(w, s) => Val::Unknown(w, s),
            Val::Namespace(lib) => Val::Lib(lib, prop.to_string()),
            Val::Obj(kv) => match kv.into_iter().rev().find(|(k, _)| k == prop) {
                Some((_, v)) => v,
                None => unknown(format!("property `{prop}`"), span),
            },
            Val::Table(t) => {
                if let Some(i) = self.tables[t].columns.iter().position(|c| c.key == prop) {
                    Val::Col(ColRef {
                        table: t,
                        column: i,
                        order: None,
                        nulls: None,
                        op: None,
                    })
                } else {
                    unknown(
                        format!("`{}` has no column `{prop}`", self.tables[t].name),
                        span,
                    )
                }
            }
            Val::Enum(e) if prop == "enumValues" => Val::Arr(
                self.enums[e]
                    .values
                    .iter()
                    .map(|v| Val::Str(v.clone()))
                    .collect(),
            ),
            Val::Arr(a) if prop == "length" => Val::Num(a.len() as f64),
            other => Val::Method(Box::new(other), prop.to_string()),
        }
    }

    pub fn call_closure(&mut self, c: &Closure, args: Vec<Val>) -> Val {
        if self.calls > MAX_CALL_DEPTH {
            return unknown("functions that call each other too deeply", c.body.span());
        }
        self.calls += 1;
        let v = self.call_closure_inner(c, args);
        self.calls -= 1;
        v
    }

    fn call_closure_inner(&mut self, c: &Closure, args: Vec<Val>) -> Val {
        let mut scope = c.scope.clone();
        for (i, p) in c.params.iter().enumerate() {
            scope.push((p.clone(), args.get(i).cloned().unwrap_or(Val::Null)));
        }
        self.eval(c.file, &c.body, &scope)
    }

    fn call(&mut self, file: usize, f: Val, args: Vec<Val>, arg_spans: &[Span], span: Span) -> Val {
        if let Some(Val::Unknown(w, s)) = args.iter().find(|a| matches!(a, Val::Unknown(..))) {
            let (w, s) = (w.clone(), *s);
            match f {
                // Application-side hooks: their arguments never reach the DDL.
                Val::Method(_, ref m)
                    if matches!(
                        m.as_str(),
                        "$defaultFn" | "$default" | "$onUpdate" | "$onUpdateFn" | "$type"
                    ) => {}
                // A column or an index keeps what is known; the unknown part is reported at its span.
                Val::Method(obj, m) => {
                    return match *obj {
                        Val::Builder(mut c) => {
                            c.unknown.push((format!("`.{m}()`: {w}"), s));
                            Val::Builder(c)
                        }
                        Val::Extra(mut e) => {
                            e.unknown.push((format!("`.{m}()`: {w}"), s));
                            Val::Extra(e)
                        }
                        _ => Val::Unknown(w, s),
                    };
                }
                _ => return Val::Unknown(w, s),
            }
        }
        match f {
            Val::Unknown(w, s) => Val::Unknown(w, s),
            Val::Closure(c) => self.call_closure(&c, args),
            Val::TableCreator(c) => {
                let mut args = args;
                match args.first().cloned() {
                    Some(name @ Val::Str(_)) => match self.call_closure(&c, vec![name]) {
                        Val::Str(full) => {
                            args[0] = Val::Str(full);
                            self.table(file, None, args, span)
                        }
                        Val::Unknown(w, s) => Val::Unknown(w, s),
                        _ => unknown(
                            "a pgTableCreator function that does not return a string",
                            span,
                        ),
                    },
                    _ => unknown("a table without a literal name", span),
                }
            }
            Val::Enum(e) => {
                let def = &self.enums[e];
                let ty = match &def.schema {
                    Some(s) => format!("{}.{}", quote(s), quote(&def.name)),
                    None => quote(&def.name),
                };
                Val::Builder(Box::new(Column {
                    name: str_arg(&args, 0),
                    ty,
                    ..Column::default()
                }))
            }
            Val::Lib(Lib::Other(d), name) => {
                if name.ends_with("Table") || name.ends_with("Enum") || name.ends_with("Schema") {
                    let at = match self.current.last() {
                        Some((f, _, decl, _)) if *f == file => *decl,
                        _ => span,
                    };
                    let what = match args.first() {
                        Some(Val::Str(t)) => format!("`{name}('{t}')`"),
                        _ => format!("`{name}`"),
                    };
                    self.note(
                        file,
                        at,
                        NoteKind::Dialect,
                        format!("{what} is drizzle-orm's {d} dialect in a PostgreSQL project: drizzle-kit drops it, so no PostgreSQL table is declared"),
                    );
                }
                Val::Unknown(String::new(), span)
            }
            Val::Lib(Lib::Orm, name) => match name.as_str() {
                "relations" => Val::Null,
                _ => unknown(format!("`{name}()` from drizzle-orm"), span),
            },
            Val::Lib(Lib::PgCore, name) => self.pg_core(file, &name, args, arg_spans, span),
            Val::Method(obj, m) => self.method(file, *obj, &m, args, span),
            _ => unknown(
                "a call of something that is not a drizzle-orm function",
                span,
            ),
        }
    }

    fn pg_core(
        &mut self,
        file: usize,
        name: &str,
        args: Vec<Val>,
        _arg_spans: &[Span],
        span: Span,
    ) -> Val {
        match name {
            "pgTable" => self.table(file, None, args, span),
            "pgSchema" => match args.first() {
                Some(Val::Str(s)) => {
                    if !self.schemas.iter().any(|(n, _, _)| n == s) {
                        let decl = self.current.last().map(|c| c.2).unwrap_or(span);
                        self.schemas.push((s.clone(), file, decl));
                    }
                    Val::Schema(s.clone())
                }
                _ => unknown("pgSchema without a literal name", span),
            },
            "pgEnum" => self.enum_(file, None, args, span),
            "pgTableCreator" => match args.into_iter().next() {
                Some(Val::Closure(c)) => Val::TableCreator(c),
                _ => unknown("pgTableCreator without a literal function", span),
            },
            "index" | "uniqueIndex" => Val::Extra(Box::new(Extra {
                kind: ExtraKind::Index,
                unique: name == "uniqueIndex",
                name: str_arg(&args, 0),
                ..Extra::default()
            })),
            "unique" => Val::Extra(Box::new(Extra {
                kind: ExtraKind::Unique,
                name: str_arg(&args, 0),
                ..Extra::default()
            })),
            "primaryKey" => {
                let mut e = Extra {
                    kind: ExtraKind::PrimaryKey,
                    ..Extra::default()
                };
                match args.first() {
                    Some(Val::Obj(kv)) => {
                        for (k, v) in kv {
                            match (k.as_str(), v) {
                                ("columns", Val::Arr(c)) => e.columns = c.clone(),
                                ("name", Val::Str(s)) => e.name = Some(s.clone()),
                                _ => e.unknown.push((format!("primaryKey option `{k}`"), span)),
                            }
                        }
                    }
                    _ => e.columns = args.clone(),
                }
                Val::Extra(Box::new(e))
            }
            "foreignKey" => {
                let mut e = Extra {
                    kind: ExtraKind::ForeignKey,
                    ..Extra::default()
                };
                match args.first() {
                    Some(Val::Obj(kv)) => {
                        for (k, v) in kv {
                            match (k.as_str(), v) {
                                ("columns", Val::Arr(c)) => e.columns = c.clone(),
                                ("foreignColumns", Val::Arr(c)) => e.foreign = c.clone(),
                                ("name", Val::Str(s)) => e.name = Some(s.clone()),
                                _ => e.unknown.push((format!("foreignKey option `{k}`"), span)),
                            }
                        }
                    }
                    _ => e.unknown.push(("foreignKey arguments".into(), span)),
                }
                Val::Extra(Box::new(e))
            }
            "check" => Val::Extra(Box::new(Extra {
                kind: ExtraKind::Check,
                name: str_arg(&args, 0),
                check: args.get(1).cloned(),
                ..Extra::default()
            })),
            "pgPolicy" | "pgView" | "pgMaterializedView" | "pgSequence" | "pgRole" => {
                self.not_evaluated(file, &format!("`{name}` is not translated"), span);
                Val::Extra(Box::new(Extra {
                    kind: ExtraKind::Unsupported,
                    ..Extra::default()
                }))
            }
            "customType" => match args.first() {
                Some(Val::Obj(kv)) => match kv.iter().find(|(k, _)| k == "dataType") {
                    Some((_, Val::Closure(c))) => {
                        let c = c.clone();
                        let v = self.call_closure(&c, vec![Val::Obj(Vec::new())]);
                        match v {
                            Val::Str(ty) => Val::Lib(Lib::PgCore, format!("custom:{ty}")),
                            _ => unknown("customType whose dataType() depends on its config", span),
                        }
                    }
                    _ => unknown("customType without dataType()", span),
                },
                _ => unknown("customType without a literal definition", span),
            },
            other => match self.column_type(other, &args, span) {
                Some(b) => Val::Builder(Box::new(b)),
                None => unknown(format!("`{other}` from drizzle-orm/pg-core"), span),
            },
        }
    }

    /// A column builder call: `varchar('name', { length: 255 })`, `varchar({ length })`, `integer()`.
    fn column_type(&mut self, builder: &str, args: &[Val], span: Span) -> Option<Column> {
        let (name, config) = match (args.first(), args.get(1)) {
            (Some(Val::Str(n)), Some(Val::Obj(c))) => (Some(n.clone()), c.clone()),
            (Some(Val::Str(n)), _) => (Some(n.clone()), Vec::new()),
            (Some(Val::Obj(c)), _) => (None, c.clone()),
            _ => (None, Vec::new()),
        };
        let opt = |k: &str| config.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
        let int = |k: &str| match opt(k) {
            Some(Val::Num(n)) => Some(num(n)),
            _ => None,
        };
        let tz = matches!(opt("withTimezone"), Some(Val::Bool(true)));
        let ty = if let Some(t) = builder.strip_prefix("custom:") {
            t.to_string()
        } else {
            match builder {
                "integer" | "smallint" | "text" | "boolean" | "date" | "json" | "jsonb"
                | "uuid" | "inet" | "cidr" | "macaddr" | "macaddr8" | "real" | "serial"
                | "smallserial" | "bigserial" | "bigint" | "point" | "line" | "bytea" => {
                    builder.to_string()
                }
                "int" => "integer".into(),
                "doublePrecision" => "double precision".into(),
                "varchar" => match int("length") {
                    Some(l) => format!("varchar({l})"),
                    None => "varchar".into(),
                },
                "char" => match int("length") {
                    Some(l) => format!("char({l})"),
                    None => "char".into(),
                },
                "bit" => match int("dimensions") {
                    Some(l) => format!("bit({l})"),
                    None => "bit".into(),
                },
                "vector" | "halfvec" | "sparsevec" => match int("dimensions") {
                    Some(l) => format!("{builder}({l})"),
                    None => builder.into(),
                },
                "numeric" | "decimal" => match (int("precision"), int("scale")) {
                    (Some(p), Some(s)) => format!("numeric({p}, {s})"),
                    (Some(p), None) => format!("numeric({p})"),
                    _ => "numeric".into(),
                },
                "timestamp" | "time" => {
                    let mut t = builder.to_string();
                    if let Some(p) = int("precision") {
                        t.push_str(&format!(" ({p})"));
                    }
                    if tz {
                        t.push_str(" with time zone");
                    }
                    t
                }
                "interval" => {
                    let mut t = "interval".to_string();
                    if let Some(Val::Str(f)) = opt("fields") {
                        t.push(' ');
                        t.push_str(&f);
                    }
                    if let Some(p) = int("precision") {
                        t.push_str(&format!("({p})"));
                    }
                    t
                }
                "geometry" => "geometry(point)".into(),
                _ => return None,
            }
        };
        let _ = span;
        Some(Column {
            name,
            ty,
            ..Column::default()
        })
    }

    fn enum_(&mut self, file: usize, schema: Option<String>, args: Vec<Val>, span: Span) -> Val {
        let Some(Val::Str(name)) = args.first() else {
            return unknown("an enum without a literal name", span);
        };
        let values = match args.get(1) {
            Some(Val::Arr(v)) => {
                let mut out = Vec::new();
                for x in v {
                    match x {
                        Val::Str(s) => out.push(s.clone()),
                        _ => return unknown("an enum value that is not a string literal", span),
                    }
                }
                out
            }
            // TypeScript `enum` objects are not evaluated.
            _ => return unknown("enum values that are not an array literal", span),
        };
        let decl = self.current.last().map(|c| c.2).unwrap_or(span);
        self.enums.push(EnumDef {
            schema,
            name: name.clone(),
            values,
            file,
            span: decl,
        });
        Val::Enum(self.enums.len() - 1)
    }

    fn table(&mut self, file: usize, schema: Option<String>, args: Vec<Val>, span: Span) -> Val {
        let Some(Val::Str(name)) = args.first() else {
            return unknown("a table without a literal name", span);
        };
        let (decl, binding, exported) = match self.current.last() {
            Some((f, n, s, e)) if *f == file => (*s, Some(n.clone()), *e),
            _ => (span, None, false),
        };
        let idx = self.tables.len();
        self.tables.push(Table {
            schema,
            name: name.clone(),
            file,
            span: decl,
            binding,
            exported,
            columns: Vec::new(),
            extras: Vec::new(),
            unknown: Vec::new(),
        });
        let cols = match args.get(1) {
            Some(Val::Closure(c)) => {
                // `pgTable('t', (t) => ({ id: t.integer() }))`: the builders as the parameter.
                let c = c.clone();
                self.call_closure(&c, vec![Val::Namespace(Lib::PgCore)])
            }
            Some(v) => v.clone(),
            None => Val::Obj(Vec::new()),
        };
        match cols {
            Val::Obj(kv) => {
                for (key, v) in kv {
                    match v {
                        Val::Builder(col) => {
                            let name = match &col.name {
                                Some(n) => n.clone(),
                                None => match self.casing {
                                    Casing::SnakeCase => to_snake(&key),
                                    Casing::CamelCase => to_camel(&key),
                                    Casing::Preserve => key.clone(),
                                },
                            };
                            let (span, cfile) =
                                self.column_span(file, &key).unwrap_or((decl, file));
                            self.tables[idx].columns.push(TableColumn {
                                key,
                                name,
                                col: *col,
                                span,
                                file: cfile,
                            });
                        }
                        Val::Unknown(w, s) => self.tables[idx].unknown.push((
                            if key.is_empty() {
                                w
                            } else {
                                format!("column `{key}`: {w}")
                            },
                            s,
                        )),
                        _ => {
                            let (s, _) = self.column_span(file, &key).unwrap_or((decl, file));
                            self.tables[idx]
                                .unknown
                                .push((format!("column `{key}` is not a column builder"), s))
                        }
                    }
                }
            }
            Val::Unknown(w, s) => self.tables[idx].unknown.push((w, s)),
            _ => self.tables[idx]
                .unknown
                .push(("columns that are not an object literal".into(), span)),
        }
        if let Some(extra) = args.get(2) {
            let this = Val::Table(idx);
            let v = match extra {
                Val::Closure(c) => {
                    let c = c.clone();
                    self.call_closure(&c, vec![this])
                }
                other => other.clone(),
            };
            let spans = self.extra_spans(file, &args, span);
            match v {
                Val::Arr(items) => {
                    for (i, it) in items.into_iter().enumerate() {
                        let s = spans.get(i).copied().unwrap_or(span);
                        self.tables[idx].extras.push((it, s));
                    }
                }
                Val::Obj(kv) => {
                    for (i, (_, it)) in kv.into_iter().enumerate() {
                        let s = spans.get(i).copied().unwrap_or(span);
                        self.tables[idx].extras.push((it, s));
                    }
                }
                Val::Unknown(w, s) => self.tables[idx].unknown.push((w, s)),
                _ => self.tables[idx].unknown.push((
                    "table extras that are not an array or object literal".into(),
                    span,
                )),
            }
        }
        Val::Table(idx)
    }

    /// The span of the property `key` in the columns object of the table call being evaluated, or, for
    /// a column spread in from elsewhere, in the object it came from.
    fn column_span(&self, file: usize, key: &str) -> Option<(Span, usize)> {
        let (f, _, decl, _) = self.current.last()?;
        if *f != file {
            return None;
        }
        let b = self.files[file]
            .module
            .bindings
            .iter()
            .find(|b| b.span == *decl)?;
        let call = find_table_call(&b.init)?;
        let Node::Call(_, args, _) = call else {
            return None;
        };
        let obj = match args.get(1)? {
            Node::Arrow(_, body, _) => &**body,
            n => n,
        };
        let Node::Object(props, _) = obj else {
            return None;
        };
        for p in props.iter().rev() {
            if p.key.as_deref() == Some(key) {
                return Some((p.span, file));
            }
        }
        // A spread: find the object it names.
        for p in props.iter().rev() {
            if let Node::Spread(inner, _) = &p.value
                && let Some(found) = self.spread_span(file, inner, key, 0)
            {
                return Some(found);
            }
        }
        None
    }

    fn spread_span(&self, file: usize, n: &Node, key: &str, depth: usize) -> Option<(Span, usize)> {
        if depth > 8 {
            return None;
        }
        let Node::Ident(name, _) = n else {
            return None;
        };
        let f = &self.files[file];
        if let Some(b) = f.module.bindings.iter().find(|b| &b.name == name) {
            if let Node::Object(props, _) = &b.init {
                for p in props.iter().rev() {
                    if p.key.as_deref() == Some(key) {
                        return Some((p.span, file));
                    }
                    if let Node::Spread(inner, _) = &p.value
                        && let Some(x) = self.spread_span(file, inner, key, depth + 1)
                    {
                        return Some(x);
                    }
                }
            }
            return None;
        }
        let imp = f.module.imports.iter().find(|i| &i.local == name)?;
        let target = *f.resolved.get(&imp.source)?;
        let imported = imp.imported.clone()?;
        self.spread_span(
            target,
            &Node::Ident(imported, Span::default()),
            key,
            depth + 1,
        )
    }

    /// The spans of the table extras (array items or object properties) of the call being evaluated.
    fn extra_spans(&self, file: usize, _args: &[Val], _span: Span) -> Vec<Span> {
        let Some((f, _, decl, _)) = self.current.last() else {
            return Vec::new();
        };
        if *f != file {
            return Vec::new();
        }
        let Some(b) = self.files[file]
            .module
            .bindings
            .iter()
            .find(|b| b.span == *decl)
        else {
            return Vec::new();
        };
        let Some(Node::Call(_, args, _)) = find_table_call(&b.init) else {
            return Vec::new();
        };
        let body = match args.get(2) {
            Some(Node::Arrow(_, body, _)) => &**body,
            Some(n) => n,
            None => return Vec::new(),
        };
        match body {
            Node::Array(items, _) => items.iter().map(Node::span).collect(),
            Node::Object(props, _) => props.iter().map(|p| p.span).collect(),
            _ => Vec::new(),
        }
    }

    fn method(&mut self, file: usize, obj: Val, m: &str, args: Vec<Val>, span: Span) -> Val {
        match obj {
            Val::Schema(s) => match m {
                "table" => self.table(file, Some(s), args, span),
                "enum" => self.enum_(file, Some(s), args, span),
                _ => unknown(format!("`{m}` of a pgSchema"), span),
            },
            Val::Enum(e) => {
                // `mood('col')` is a call of the enum itself; methods here are rare.
                let _ = e;
                unknown(format!("`.{m}()` of an enum"), span)
            }
            Val::Builder(mut c) => {
                self.column_method(&mut c, m, args, span);
                Val::Builder(c)
            }
            Val::Col(mut c) => {
                match m {
                    "asc" => c.order = Some("ASC"),
                    "desc" => c.order = Some("DESC"),
                    "nullsFirst" => c.nulls = Some("FIRST"),
                    "nullsLast" => c.nulls = Some("LAST"),
                    "op" => c.op = str_arg(&args, 0),
                    _ => return unknown(format!("`.{m}()` of a column"), span),
                }
                Val::Col(c)
            }
            Val::Extra(mut e) => {
                self.extra_method(&mut e, m, args, span);
                Val::Extra(e)
            }
            Val::Lib(Lib::Orm, ref n) if n == "sql" && m == "raw" => match str_arg(&args, 0) {
                Some(s) => Val::Sql(vec![SqlPart::Raw(s)]),
                None => unknown("sql.raw() without a string literal", span),
            },
            Val::Arr(_) if m == "map" => unknown("`.map()` over an array", span),
            Val::Arr(_) | Val::Obj(_) | Val::Str(_) => unknown(format!("`.{m}()`"), span),
            other => unknown(format!("`.{m}()` of {}", describe(&other)), span),
        }
    }

    fn column_method(&mut self, c: &mut Column, m: &str, args: Vec<Val>, span: Span) {
        let a0 = args.first().cloned();
        match m {
            "notNull" => c.not_null = true,
            "primaryKey" => {
                c.pk = true;
                c.not_null = true;
            }
            "unique" => {
                let nulls = matches!(args.get(1), Some(Val::Obj(kv)) if kv.iter().any(|(k, v)| k == "nulls" && matches!(v, Val::Str(s) if s == "not distinct")));
                c.unique = Some((str_arg(&args, 0), nulls));
            }
            "default" => match a0 {
                Some(v) => c.default = Some((v, span)),
                None => c
                    .unknown
                    .push(("`.default()` without a value".into(), span)),
            },
            "defaultNow" => c.default = Some((Val::Sql(vec![SqlPart::Raw("now()".into())]), span)),
            "defaultRandom" => {
                c.default = Some((
                    Val::Sql(vec![SqlPart::Raw("gen_random_uuid()".into())]),
                    span,
                ))
            }
            // Application-side: no DDL.
            "$defaultFn" | "$default" | "$onUpdate" | "$onUpdateFn" | "$type" | "$notNull" => {}
            "array" => {
                c.dims += 1;
            }
            "references" => {
                let mut r = Reference {
                    target: a0.unwrap_or(Val::Null),
                    on_delete: None,
                    on_update: None,
                    span,
                };
                if let Some(Val::Obj(kv)) = args.get(1) {
                    for (k, v) in kv {
                        match (k.as_str(), v) {
                            ("onDelete", Val::Str(s)) => r.on_delete = Some(s.clone()),
                            ("onUpdate", Val::Str(s)) => r.on_update = Some(s.clone()),
                            _ => c.unknown.push((format!("references option `{k}`"), span)),
                        }
                    }
                }
                c.refs.push(r);
            }
            // A closure (`() => sql\`${users.first} …\``) may name the table being built: it is called
            // once every table is known (see `run`).
            "generatedAlwaysAs" => match a0 {
                Some(v) => c.generated = Some((v, span)),
                None => c
                    .unknown
                    .push(("generatedAlwaysAs without an expression".into(), span)),
            },
            "generatedAlwaysAsIdentity" | "generatedByDefaultAsIdentity" => {
                let opts = match a0 {
                    Some(Val::Obj(kv)) => kv,
                    _ => Vec::new(),
                };
                c.identity = Some((m == "generatedAlwaysAsIdentity", opts));
            }
            _ => c.unknown.push((format!("`.{m}()` of a column"), span)),
        }
    }

    fn extra_method(&mut self, e: &mut Extra, m: &str, args: Vec<Val>, span: Span) {
        match (e.kind, m) {
            (ExtraKind::Index | ExtraKind::Unique, "on") => e.columns = args,
            (ExtraKind::Index, "onOnly") => e.columns = args,
            (ExtraKind::Index, "using") => {
                e.method = str_arg(&args, 0);
                e.columns = args.into_iter().skip(1).collect();
            }
            (ExtraKind::Index, "where") => e.where_ = args.into_iter().next(),
            (ExtraKind::Index, "concurrently") => {}
            (ExtraKind::Index, "with") => {
                if let Some(Val::Obj(kv)) = args.into_iter().next() {
                    e.with = kv;
                }
            }
            (ExtraKind::Unique, "nullsNotDistinct") => e.nulls_not_distinct = true,
            (ExtraKind::ForeignKey, "onDelete") => e.on_delete = str_arg(&args, 0),
            (ExtraKind::ForeignKey, "onUpdate") => e.on_update = str_arg(&args, 0),
            (ExtraKind::Unsupported, _) => {}
            _ => e.unknown.push((format!("`.{m}()`"), span)),
        }
    }
}

/// The `pgTable(…)` / `schema.table(…)` call at the root of a binding's initialiser.
fn find_table_call(n: &Node) -> Option<&Node> {
    match n {
        Node::Call(callee, _, _) => match &**callee {
            Node::Ident(name, _) if name == "pgTable" => Some(n),
            // A table creator (`createTable('post', {…})`): a call whose first argument is the name.
            Node::Ident(..) if matches!(n, Node::Call(_, a, _) if matches!(a.first(), Some(Node::Str(..)))) => {
                Some(n)
            }
            Node::Member(_, m, _) if m == "table" || m == "pgTable" => Some(n),
            _ => None,
        },
        _ => None,
    }
}

fn describe(v: &Val) -> &'static str {
    match v {
        Val::Table(_) => "a table",
        Val::Enum(_) => "an enum",
        Val::Schema(_) => "a schema",
        Val::Closure(_) => "a function",
        Val::Num(_) => "a number",
        Val::Bool(_) => "a boolean",
        Val::Null => "null",
        Val::Sql(_) => "a sql template",
        _ => "a value",
    }
}

fn str_arg(args: &[Val], i: usize) -> Option<String> {
    match args.get(i) {
        Some(Val::Str(s)) => Some(s.clone()),
        _ => None,
    }
}

/// A double-quoted SQL identifier.
pub fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e18 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// A template literal's raw text with JavaScript escapes resolved (`\`` and `\\`, `\$`, `\n`).
fn unescape_template(raw: &str) -> String {
    let mut out = String::new();
    let mut it = raw.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}
