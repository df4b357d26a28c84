//! The `diff` stage compares two catalogs object by object: a declared (or live) schema against the
//! schema the migrations built.
//!
//! It takes two [`Catalog`]s taken on the same server (so types, defaults and definitions are already
//! spelled the way PostgreSQL normalises them: `format_type`, `pg_get_expr`, `pg_get_constraintdef`)
//! and returns [`Change`]s. Constraint and index names that differ only because one side let
//! PostgreSQL pick the name are matched by definition and reported as a [`Diff::Renamed`], never as a
//! missing plus an extra object. Each change has a [`DriftClass`] that decides its default severity.
//! The stage knows nothing of files: `check` turns changes into located findings.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::catalog::{Catalog, Column, Constraint, Index, QualifiedName, Table};
use crate::model::DriftClass;

/// The kind of object a change is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectKind {
    Schema,
    Extension,
    Table,
    Column,
    Constraint,
    Index,
    Trigger,
    Policy,
    View,
    MaterializedView,
    Sequence,
    Enum,
    EnumValue,
    Domain,
    CompositeType,
    Function,
}

impl ObjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Schema => "schema",
            ObjectKind::Extension => "extension",
            ObjectKind::Table => "table",
            ObjectKind::Column => "column",
            ObjectKind::Constraint => "constraint",
            ObjectKind::Index => "index",
            ObjectKind::Trigger => "trigger",
            ObjectKind::Policy => "policy",
            ObjectKind::View => "view",
            ObjectKind::MaterializedView => "materialized view",
            ObjectKind::Sequence => "sequence",
            ObjectKind::Enum => "enum",
            ObjectKind::EnumValue => "enum value",
            ObjectKind::Domain => "domain",
            ObjectKind::CompositeType => "composite type",
            ObjectKind::Function => "function",
        }
    }
}

/// Which object: its kind, its (table or type) name, and a member (column, constraint, index, value).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    pub kind: ObjectKind,
    /// The object, or the table/type it belongs to.
    pub name: QualifiedName,
    /// Column, constraint, index, trigger, policy or enum value name; function arguments.
    pub member: Option<String>,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.kind, &self.member) {
            (ObjectKind::Schema | ObjectKind::Extension, _) => write!(f, "{}", self.name.name),
            (ObjectKind::Function, Some(args)) => write!(f, "{}({args})", self.name),
            (ObjectKind::EnumValue, Some(v)) => write!(f, "'{v}' of {}", self.name),
            (ObjectKind::Column, Some(m)) => write!(f, "{}.{m}", self.name),
            (_, Some(m)) => write!(f, "{m} on {}", self.name),
            (_, None) => write!(f, "{}", self.name),
        }
    }
}

/// One property that differs, rendered for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Property {
    pub name: String,
    pub declared: String,
    pub migrations: String,
}

/// How the two sides differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Diff {
    /// Declared (or live) but not built by the migrations.
    OnlyDeclared,
    /// Built by the migrations but not declared (or not live).
    OnlyMigrations,
    /// Present on both sides with different properties.
    Differs {
        properties: Vec<Property>,
        /// Both sides, rendered whole (e.g. `character varying(50) NOT NULL`), when that reads better.
        declared: Option<String>,
        migrations: Option<String>,
    },
    /// The same definition under another name.
    Renamed {
        declared: String,
        migrations: String,
    },
}

/// One difference between the two catalogs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub object: ObjectRef,
    pub class: DriftClass,
    pub diff: Diff,
}

/// Renders a JSON value compactly for messages: strings bare, null as `none`.
fn render(v: &Value) -> String {
    match v {
        Value::Null => "none".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Array(a) if a.is_empty() => "none".into(),
        other => other.to_string(),
    }
}

/// Field-level differences between two values of the same type, skipping `skip`.
fn fields<T: Serialize>(a: &T, b: &T, skip: &[&str]) -> Vec<Property> {
    let (Ok(Value::Object(a)), Ok(Value::Object(b))) =
        (serde_json::to_value(a), serde_json::to_value(b))
    else {
        return Vec::new();
    };
    a.iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .filter_map(|(k, va)| {
            let vb = b.get(k).unwrap_or(&Value::Null);
            (va != vb).then(|| Property {
                name: k.replace('_', " "),
                declared: render(va),
                migrations: render(vb),
            })
        })
        .collect()
}

struct Differ {
    out: Vec<Change>,
}

impl Differ {
    fn push(
        &mut self,
        kind: ObjectKind,
        name: &QualifiedName,
        member: Option<&str>,
        class: DriftClass,
        diff: Diff,
    ) {
        self.out.push(Change {
            object: ObjectRef {
                kind,
                name: name.clone(),
                member: member.map(str::to_string),
            },
            class,
            diff,
        });
    }

    fn differs(
        &mut self,
        kind: ObjectKind,
        name: &QualifiedName,
        member: Option<&str>,
        class: DriftClass,
        properties: Vec<Property>,
    ) {
        if !properties.is_empty() {
            self.push(
                kind,
                name,
                member,
                class,
                Diff::Differs {
                    properties,
                    declared: None,
                    migrations: None,
                },
            );
        }
    }

    /// Presence on each side, then `both` for objects on both sides.
    fn keyed<K: Ord + Clone, V>(
        &mut self,
        declared: &BTreeMap<K, V>,
        migrations: &BTreeMap<K, V>,
        mut only: impl FnMut(&mut Self, &K, Diff),
        mut both: impl FnMut(&mut Self, &K, &V, &V),
    ) {
        for (k, d) in declared {
            match migrations.get(k) {
                Some(m) => both(self, k, d, m),
                None => only(self, k, Diff::OnlyDeclared),
            }
        }
        for k in migrations.keys() {
            if !declared.contains_key(k) {
                only(self, k, Diff::OnlyMigrations);
            }
        }
    }
}

/// A column default with casts to the column's own type removed: `(0)::numeric` and `0` on a numeric
/// column, `'0'::numeric` and `0`, `'x'::character varying` and `'x'` on a varchar column are the
/// same default.
fn default_key(c: &Column) -> Option<String> {
    let expr = c.default.as_deref()?;
    let base_type = c.data_type.split('(').next().unwrap_or(&c.data_type);
    let mut base = expr;
    for suffix in [format!("::{}", c.data_type), format!("::{base_type}")] {
        if let Some(stripped) = base.strip_suffix(suffix.as_str()) {
            base = stripped;
            break;
        }
    }
    let base = base
        .strip_prefix('(')
        .and_then(|b| b.strip_suffix(')'))
        .unwrap_or(base);
    let unquoted = base
        .strip_prefix('\'')
        .and_then(|b| b.strip_suffix('\''))
        .filter(|b| b.parse::<f64>().is_ok());
    Some(unquoted.unwrap_or(base).to_string())
}

/// `type [NOT NULL] [DEFAULT x]` for messages.
fn column_text(c: &Column) -> String {
    let mut s = c.data_type.clone();
    s.push_str(if c.not_null { " NOT NULL" } else { " NULL" });
    if let Some(d) = &c.default {
        s.push_str(" DEFAULT ");
        s.push_str(d);
    }
    s
}

fn compare_columns(d: &mut Differ, name: &QualifiedName, a: &Table, b: &Table) {
    d.keyed(
        &a.columns,
        &b.columns,
        |d, col, diff| {
            d.push(
                ObjectKind::Column,
                name,
                Some(col),
                DriftClass::Missing,
                diff,
            )
        },
        |d, col, ca, cb| {
            let core = fields(ca, cb, &["position", "default", "comment"]);
            if !core.is_empty() {
                d.push(
                    ObjectKind::Column,
                    name,
                    Some(col),
                    DriftClass::Column,
                    Diff::Differs {
                        properties: core,
                        declared: Some(column_text(ca)),
                        migrations: Some(column_text(cb)),
                    },
                );
            }
            if default_key(ca) != default_key(cb) {
                d.differs(
                    ObjectKind::Column,
                    name,
                    Some(col),
                    DriftClass::Default,
                    fields(
                        ca,
                        cb,
                        &[
                            "position",
                            "data_type",
                            "not_null",
                            "identity",
                            "generated",
                            "collation",
                            "comment",
                        ],
                    ),
                );
            }
            d.differs(
                ObjectKind::Column,
                name,
                Some(col),
                DriftClass::Comment,
                fields(
                    ca,
                    cb,
                    &[
                        "position",
                        "data_type",
                        "not_null",
                        "default",
                        "identity",
                        "generated",
                        "collation",
                    ],
                ),
            );
        },
    );
    // Column order, only when both sides have the same columns (otherwise the missing ones say it).
    let order = |t: &Table| {
        let mut cols: Vec<(&i64, &String)> =
            t.columns.iter().map(|(n, c)| (&c.position, n)).collect();
        cols.sort();
        cols.into_iter().map(|(_, n)| n.clone()).collect::<Vec<_>>()
    };
    let (oa, ob) = (order(a), order(b));
    if a.columns.keys().eq(b.columns.keys()) && oa != ob {
        d.differs(
            ObjectKind::Table,
            name,
            None,
            DriftClass::ColumnOrder,
            vec![Property {
                name: "column order".into(),
                declared: oa.join(", "),
                migrations: ob.join(", "),
            }],
        );
    }
}

/// Pairs up unmatched objects whose definitions are equal under another name.
fn renames<V>(
    declared_only: &[(&String, &V)],
    migrations_only: &[(&String, &V)],
    same: impl Fn(&V, &V) -> bool,
) -> Vec<(String, String)> {
    let mut taken = vec![false; migrations_only.len()];
    let mut pairs = Vec::new();
    for (dn, dv) in declared_only {
        if let Some(i) = migrations_only
            .iter()
            .enumerate()
            .position(|(i, (_, mv))| !taken[i] && same(dv, mv))
        {
            taken[i] = true;
            pairs.push(((*dn).clone(), migrations_only[i].0.clone()));
        }
    }
    pairs
}

fn constraint_shape(c: &Constraint) -> (String, &[String]) {
    (format!("{:?} {}", c.kind, c.definition), &c.columns)
}

fn index_shape(i: &Index) -> impl PartialEq + '_ {
    (
        &i.method,
        i.unique,
        i.primary,
        i.nulls_not_distinct,
        &i.key,
        &i.include,
        &i.predicate,
    )
}

/// Members of a table keyed by name (constraints, indexes) with rename detection.
fn compare_named<V: Serialize>(
    d: &mut Differ,
    (kind, class): (ObjectKind, DriftClass),
    name: &QualifiedName,
    a: &BTreeMap<String, V>,
    b: &BTreeMap<String, V>,
    skip: &[&str],
    same: impl Fn(&V, &V) -> bool,
) {
    let declared_only: Vec<(&String, &V)> = a.iter().filter(|(k, _)| !b.contains_key(*k)).collect();
    let migrations_only: Vec<(&String, &V)> =
        b.iter().filter(|(k, _)| !a.contains_key(*k)).collect();
    let pairs = renames(&declared_only, &migrations_only, &same);
    for (k, _) in &declared_only {
        match pairs.iter().find(|(dn, _)| dn == *k) {
            Some((dn, mn)) => d.push(
                kind,
                name,
                Some(mn),
                DriftClass::Rename,
                Diff::Renamed {
                    declared: dn.clone(),
                    migrations: mn.clone(),
                },
            ),
            None => d.push(kind, name, Some(k), class, Diff::OnlyDeclared),
        }
    }
    for (k, _) in &migrations_only {
        if !pairs.iter().any(|(_, mn)| mn == *k) {
            d.push(kind, name, Some(k), class, Diff::OnlyMigrations);
        }
    }
    for (k, va) in a {
        if let Some(vb) = b.get(k) {
            d.differs(
                kind,
                name,
                Some(k),
                class,
                fields(va, vb, &[skip, &["comment"]].concat()),
            );
            d.differs(
                kind,
                name,
                Some(k),
                DriftClass::Comment,
                comment_only(va, vb),
            );
        }
    }
}

fn comment_only<T: Serialize>(a: &T, b: &T) -> Vec<Property> {
    let (Ok(va), Ok(vb)) = (serde_json::to_value(a), serde_json::to_value(b)) else {
        return Vec::new();
    };
    let (ca, cb) = (
        va.get("comment").unwrap_or(&Value::Null),
        vb.get("comment").unwrap_or(&Value::Null),
    );
    if ca == cb {
        Vec::new()
    } else {
        vec![Property {
            name: "comment".into(),
            declared: render(ca),
            migrations: render(cb),
        }]
    }
}

fn compare_table(d: &mut Differ, name: &QualifiedName, a: &Table, b: &Table) {
    d.differs(
        ObjectKind::Table,
        name,
        None,
        DriftClass::Definition,
        fields(
            a,
            b,
            &[
                "comment",
                "columns",
                "constraints",
                "indexes",
                "triggers",
                "policies",
            ],
        ),
    );
    d.differs(
        ObjectKind::Table,
        name,
        None,
        DriftClass::Comment,
        comment_only(a, b),
    );
    compare_columns(d, name, a, b);
    compare_named(
        d,
        (ObjectKind::Constraint, DriftClass::Constraint),
        name,
        &a.constraints,
        &b.constraints,
        &[],
        |x, y| constraint_shape(x) == constraint_shape(y),
    );
    // Indexes that implement a constraint are compared as that constraint.
    let own = |t: &Table| -> BTreeMap<String, Index> {
        t.indexes
            .iter()
            .filter(|(_, i)| i.constraint.is_none())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    compare_named(
        d,
        (ObjectKind::Index, DriftClass::Index),
        name,
        &own(a),
        &own(b),
        &["definition"],
        |x, y| index_shape(x) == index_shape(y),
    );
    compare_named(
        d,
        (ObjectKind::Trigger, DriftClass::Definition),
        name,
        &a.triggers,
        &b.triggers,
        &[],
        |x, y| x.function == y.function && x.enabled == y.enabled && x.constraint == y.constraint,
    );
    compare_named(
        d,
        (ObjectKind::Policy, DriftClass::Definition),
        name,
        &a.policies,
        &b.policies,
        &[],
        |x, y| {
            x.command == y.command
                && x.permissive == y.permissive
                && x.roles == y.roles
                && x.using == y.using
                && x.with_check == y.with_check
        },
    );
}

/// Objects with no members compared field by field.
fn compare_flat<V: Serialize>(
    d: &mut Differ,
    kind: ObjectKind,
    a: &BTreeMap<QualifiedName, V>,
    b: &BTreeMap<QualifiedName, V>,
    skip: &[&str],
) {
    d.keyed(
        a,
        b,
        |d, k, diff| d.push(kind, k, None, DriftClass::Missing, diff),
        |d, k, va, vb| {
            d.differs(
                kind,
                k,
                None,
                DriftClass::Definition,
                fields(va, vb, &[skip, &["comment"]].concat()),
            );
            d.differs(kind, k, None, DriftClass::Comment, comment_only(va, vb));
        },
    );
}

/// Compares a declared (or live) catalog with the catalog the migrations built.
pub fn compare(declared: &Catalog, migrations: &Catalog) -> Vec<Change> {
    let mut d = Differ { out: Vec::new() };
    // Schemas and extensions are keyed by plain name.
    for (kind, a, b) in [
        (
            ObjectKind::Schema,
            declared.schemas.keys().cloned().collect::<Vec<_>>(),
            migrations.schemas.keys().cloned().collect::<Vec<_>>(),
        ),
        (
            ObjectKind::Extension,
            declared.extensions.keys().cloned().collect(),
            migrations.extensions.keys().cloned().collect(),
        ),
    ] {
        for n in a.iter().filter(|n| !b.contains(n)) {
            d.push(
                kind,
                &QualifiedName::new("", n.clone()),
                None,
                DriftClass::Missing,
                Diff::OnlyDeclared,
            );
        }
        for n in b.iter().filter(|n| !a.contains(n)) {
            d.push(
                kind,
                &QualifiedName::new("", n.clone()),
                None,
                DriftClass::Missing,
                Diff::OnlyMigrations,
            );
        }
    }
    for (n, ea) in &declared.extensions {
        if let Some(eb) = migrations.extensions.get(n) {
            d.differs(
                ObjectKind::Extension,
                &QualifiedName::new("", n.clone()),
                None,
                DriftClass::Definition,
                fields(ea, eb, &[]),
            );
        }
    }
    d.keyed(
        &declared.tables,
        &migrations.tables,
        |d, k, diff| d.push(ObjectKind::Table, k, None, DriftClass::Missing, diff),
        compare_table,
    );
    d.keyed(
        &declared.enums,
        &migrations.enums,
        |d, k, diff| d.push(ObjectKind::Enum, k, None, DriftClass::Missing, diff),
        |d, k, a, b| {
            for v in a.values.iter().filter(|v| !b.values.contains(v)) {
                d.push(
                    ObjectKind::EnumValue,
                    k,
                    Some(v),
                    DriftClass::Missing,
                    Diff::OnlyDeclared,
                );
            }
            for v in b.values.iter().filter(|v| !a.values.contains(v)) {
                d.push(
                    ObjectKind::EnumValue,
                    k,
                    Some(v),
                    DriftClass::Missing,
                    Diff::OnlyMigrations,
                );
            }
            let common = |x: &Vec<String>, y: &Vec<String>| -> Vec<String> {
                x.iter().filter(|v| y.contains(v)).cloned().collect()
            };
            let (ca, cb) = (common(&a.values, &b.values), common(&b.values, &a.values));
            if ca != cb {
                d.differs(
                    ObjectKind::Enum,
                    k,
                    None,
                    DriftClass::EnumOrder,
                    vec![Property {
                        name: "value order".into(),
                        declared: ca.join(", "),
                        migrations: cb.join(", "),
                    }],
                );
            }
            d.differs(
                ObjectKind::Enum,
                k,
                None,
                DriftClass::Comment,
                comment_only(a, b),
            );
        },
    );
    compare_flat(
        &mut d,
        ObjectKind::View,
        &declared.views,
        &migrations.views,
        &["columns"],
    );
    d.keyed(
        &declared.materialized_views,
        &migrations.materialized_views,
        |d, k, diff| {
            d.push(
                ObjectKind::MaterializedView,
                k,
                None,
                DriftClass::Missing,
                diff,
            )
        },
        |d, k, a, b| {
            d.differs(
                ObjectKind::MaterializedView,
                k,
                None,
                DriftClass::Definition,
                fields(a, b, &["columns", "indexes", "comment"]),
            );
            compare_named(
                d,
                (ObjectKind::Index, DriftClass::Index),
                k,
                &a.indexes,
                &b.indexes,
                &["definition"],
                |x, y| index_shape(x) == index_shape(y),
            );
        },
    );
    // A sequence owned by a column that exists on one side only (a `serial`) is part of that column's
    // finding, not a change of its own.
    let owner_on_both = |seq: &crate::catalog::Sequence| {
        seq.owned_by.as_ref().is_none_or(|o| {
            [declared, migrations].iter().all(|c| {
                c.tables
                    .get(&o.table)
                    .is_some_and(|t| t.columns.contains_key(&o.column))
            })
        })
    };
    let keep = |m: &BTreeMap<QualifiedName, crate::catalog::Sequence>,
                other: &BTreeMap<QualifiedName, crate::catalog::Sequence>| {
        m.iter()
            .filter(|(k, v)| other.contains_key(*k) || owner_on_both(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    compare_flat(
        &mut d,
        ObjectKind::Sequence,
        &keep(&declared.sequences, &migrations.sequences),
        &keep(&migrations.sequences, &declared.sequences),
        &[],
    );
    compare_flat(
        &mut d,
        ObjectKind::Domain,
        &declared.domains,
        &migrations.domains,
        &[],
    );
    compare_flat(
        &mut d,
        ObjectKind::CompositeType,
        &declared.composite_types,
        &migrations.composite_types,
        &[],
    );
    d.keyed(
        &declared.functions,
        &migrations.functions,
        |d, k, diff| {
            d.push(
                ObjectKind::Function,
                &k.name,
                Some(&k.arguments),
                DriftClass::Missing,
                diff,
            )
        },
        |d, k, a, b| {
            d.differs(
                ObjectKind::Function,
                &k.name,
                Some(&k.arguments),
                DriftClass::Definition,
                if same_code(a, b) {
                    fields(a, b, &["comment", "definition"])
                } else {
                    fields(a, b, &["comment"])
                },
            );
            d.differs(
                ObjectKind::Function,
                &k.name,
                Some(&k.arguments),
                DriftClass::Comment,
                comment_only(a, b),
            );
        },
    );
    d.out
}

/// Whether two SQL or PL/pgSQL functions have the same definition but for layout and comments,
/// inside their body too (PostgreSQL keeps a body as written, so a reformatted body reads as changed).
/// Other languages' bodies are compared as written: whitespace can matter there (Python).
fn same_code(a: &crate::catalog::Function, b: &crate::catalog::Function) -> bool {
    let sql_like = |l: &str| l == "sql" || l == "plpgsql";
    sql_like(&a.language)
        && a.language == b.language
        && code_tokens(&a.definition, 2) == code_tokens(&b.definition, 2)
}

/// The significant tokens of `text`, dollar-quoted bodies (`depth` levels deep) by their own tokens.
fn code_tokens(text: &str, depth: u8) -> Vec<String> {
    let mut out = Vec::new();
    for t in pgrehearse_sql::tokenize(text) {
        if !t.kind.is_significant() {
            continue;
        }
        let token = t.text(text);
        if t.kind == pgrehearse_sql::TokenKind::DollarString && depth > 0 {
            // `$tag$ … $tag$`: the tag ends at the second `$`.
            let tag_len = token[1..].find('$').map_or(token.len(), |i| i + 2);
            if token.len() >= 2 * tag_len {
                let inner = &token[tag_len..token.len() - tag_len];
                out.push("$$".to_string());
                out.extend(code_tokens(inner, depth - 1));
                out.push("$$".to_string());
                continue;
            }
        }
        out.push(token.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn function(language: &str, definition: &str) -> crate::catalog::Function {
        use crate::catalog::{FunctionKind, Parallel, Volatility};
        crate::catalog::Function {
            kind: FunctionKind::Function,
            arguments: String::new(),
            result: Some("integer".into()),
            language: language.into(),
            volatility: Volatility::Volatile,
            strict: false,
            security_definer: false,
            leakproof: false,
            parallel: Parallel::Unsafe,
            config: Vec::new(),
            definition: definition.into(),
            comment: None,
        }
    }

    #[test]
    fn function_bodies_differing_in_layout_and_comments_are_the_same_code() {
        let head =
            "CREATE OR REPLACE FUNCTION public.f()\n RETURNS integer\n LANGUAGE plpgsql\nAS ";
        let a = function(
            "plpgsql",
            &format!("{head}$function$\nBEGIN\n  RETURN 1; -- one\nEND\n$function$\n"),
        );
        let b = function(
            "plpgsql",
            &format!("{head}$function$ BEGIN /* the answer */ RETURN   1;\n\n END $function$\n"),
        );
        assert!(same_code(&a, &b));
        let c = function(
            "plpgsql",
            &format!("{head}$function$ BEGIN RETURN 2; END $function$\n"),
        );
        assert!(!same_code(&a, &c));
        // A string in the body keeps its spaces.
        let d = function("sql", "CREATE FUNCTION f() AS $$ SELECT 'a  b' $$");
        let e = function("sql", "CREATE FUNCTION f() AS $$ SELECT 'a b' $$");
        assert!(!same_code(&d, &e));
        // Python: indentation is code.
        let p1 = function("plpython3u", "AS $$\nif x:\n  return 1\n$$");
        let p2 = function("plpython3u", "AS $$\nif x:\n    return 1\n$$");
        assert!(!same_code(&p1, &p2));
    }

    fn col(data_type: &str, default: &str) -> Column {
        Column {
            position: 1,
            data_type: data_type.into(),
            not_null: false,
            default: Some(default.into()),
            identity: None,
            generated: None,
            collation: None,
            comment: None,
        }
    }

    #[test]
    fn casts_to_the_column_type_do_not_change_a_default() {
        let same = |t: &str, a: &str, b: &str| default_key(&col(t, a)) == default_key(&col(t, b));
        assert!(same("numeric", "0", "(0)::numeric"));
        assert!(same("numeric", "'0'::numeric", "0"));
        assert!(same("numeric(10,2)", "0.5", "0.5::numeric"));
        assert!(same(
            "character varying(3)",
            "'x'::character varying",
            "'x'"
        ));
        assert!(!same("numeric", "0", "1"));
        assert!(!same("text", "'a'::text", "'b'::text"));
        assert!(!same(
            "integer",
            "nextval('a_seq'::regclass)",
            "nextval('b_seq'::regclass)"
        ));
    }
}
