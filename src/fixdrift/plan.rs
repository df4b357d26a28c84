//! From two catalogs and the changes between them to ordered DDL statements that make the
//! migrations' catalog equal to the declared one.
//!
//! The changes ([`diff::compare`]) decide what to emit; the statements are written from the declared
//! catalog, whose definitions PostgreSQL has already normalised (`pg_get_constraintdef`,
//! `pg_get_indexdef`, `pg_get_viewdef`, `pg_get_functiondef`, `format_type`).

use std::collections::{BTreeMap, BTreeSet};

use super::sql::{
    collation, column_definition, comment_on, generation, ident, identity_clause, index_definition,
    literal, qualified, sequence_options,
};
use crate::catalog::{
    Catalog, Column, ConstraintKind, Function, FunctionKind, FunctionSignature, Index,
    MaterializedView, Persistence, Policy, PolicyCommand, QualifiedName, Sequence, Table, Trigger,
    TriggerEnabled, View,
};
use crate::diff::{self, Change, Diff, ObjectKind, ObjectRef};
use crate::model::DriftClass;

/// Where a statement goes in the migration: the safe order for DDL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Schemas,
    Extensions,
    Types,
    Sequences,
    /// Functions other than `LANGUAGE sql` (their bodies are not checked against tables).
    Functions,
    Tables,
    /// Views reading a column whose type changes, dropped before the change (created again after).
    DependentViews,
    Columns,
    /// `LANGUAGE sql` functions, whose bodies must find the tables and columns they read.
    SqlFunctions,
    Constraints,
    Indexes,
    SequenceOwners,
    Views,
    Triggers,
    Policies,
    Comments,
    /// Drops of definitions only the migrations have (triggers, policies, views, functions).
    Drops,
    /// Destructive and manual steps, always commented out.
    Destructive,
}

/// Which transaction a statement needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// A transaction that commits before the main one: enum values the main one uses (PostgreSQL
    /// refuses a value in the transaction that added it).
    Before,
    /// The migration's transaction.
    #[default]
    Main,
    /// Outside any transaction block (`CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`).
    Concurrently,
    /// A transaction after the main one has committed: `VALIDATE CONSTRAINT` then holds only a
    /// SHARE UPDATE EXCLUSIVE lock while it scans.
    Later,
}

/// One statement of the migration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub phase: Phase,
    /// One SQL statement without its terminating `;`.
    pub sql: String,
    /// The object it is about, as drift findings name it.
    pub object: String,
    /// `Some(why)`: written commented out, never applied (a destructive or manual step).
    pub commented: Option<String>,
    /// The transaction it needs.
    pub stage: Stage,
}

/// What the runner lets the migration do.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlanOptions {
    /// Some statements may run outside a transaction block: build indexes on existing tables with
    /// `CREATE INDEX CONCURRENTLY`.
    pub concurrently: bool,
    /// Statements run outside a transaction block in the same file as the others (psql): a UNIQUE
    /// or PRIMARY KEY constraint is built `CONCURRENTLY` and attached `USING INDEX`.
    pub using_index: bool,
    /// A later statement can run after the earlier ones committed: constraints are added
    /// `NOT VALID` and validated in a later transaction.
    pub later_transactions: bool,
}

/// The ordered statements.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
}

impl Plan {
    /// Statements that will run.
    pub fn applied(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.commented.is_none())
    }

    /// Statements written commented out.
    pub fn commented(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.commented.is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

const DESTRUCTIVE: &str = "destructive: drops data or an object only the migrations have";

struct Planner<'a> {
    declared: &'a Catalog,
    migrations: &'a Catalog,
    options: PlanOptions,
    steps: Vec<(Phase, u32, Step)>,
    /// Tables created whole (their members come with them).
    new_tables: BTreeSet<QualifiedName>,
    /// Materialized views recreated whole (their indexes come with them).
    new_matviews: BTreeSet<QualifiedName>,
    /// Views and materialized views dropped before a column type change they depend on, and
    /// created again (as declared) after it.
    recreated: BTreeSet<QualifiedName>,
}

impl Planner<'_> {
    fn push(&mut self, phase: Phase, order: u32, object: &str, sql: String) {
        self.steps.push((
            phase,
            order,
            Step {
                phase,
                sql,
                object: object.to_string(),
                commented: None,
                stage: Stage::Main,
            },
        ));
    }

    fn push_stage(&mut self, stage: Stage, phase: Phase, order: u32, object: &str, sql: String) {
        self.push(phase, order, object, sql);
        if let Some(last) = self.steps.last_mut() {
            last.2.stage = stage;
        }
    }

    /// The stage of a validation: later when the runner commits in between.
    fn later(&self) -> Stage {
        if self.options.later_transactions {
            Stage::Later
        } else {
            Stage::Main
        }
    }

    fn commented(&mut self, object: &str, why: &str, sql: String) {
        self.steps.push((
            Phase::Destructive,
            0,
            Step {
                phase: Phase::Destructive,
                sql,
                object: object.to_string(),
                commented: Some(why.to_string()),
                stage: Stage::Main,
            },
        ));
    }

    fn table(&self, name: &QualifiedName) -> Option<&Table> {
        self.declared.tables.get(name)
    }

    fn existing(&self, name: &QualifiedName) -> bool {
        self.migrations.tables.contains_key(name) && !self.new_tables.contains(name)
    }
}

/// Plans the statements that turn `migrations` into `declared`.
pub fn plan(declared: &Catalog, migrations: &Catalog, options: PlanOptions) -> Plan {
    let changes = diff::compare(declared, migrations);
    plan_changes(declared, migrations, &changes, options)
}

/// [`plan`] for changes already computed.
pub fn plan_changes(
    declared: &Catalog,
    migrations: &Catalog,
    changes: &[Change],
    options: PlanOptions,
) -> Plan {
    let mut p = Planner {
        declared,
        migrations,
        options,
        steps: Vec::new(),
        new_tables: changes
            .iter()
            .filter(|c| c.object.kind == ObjectKind::Table && c.diff == Diff::OnlyDeclared)
            .map(|c| c.object.name.clone())
            .collect(),
        new_matviews: BTreeSet::new(),
        recreated: BTreeSet::new(),
    };
    p.new_matviews = changes
        .iter()
        .filter(|c| {
            c.object.kind == ObjectKind::MaterializedView
                && matches!(c.diff, Diff::OnlyDeclared | Diff::Differs { .. })
                && c.class != DriftClass::Comment
        })
        .map(|c| c.object.name.clone())
        .collect();
    sequences(&mut p);
    dependent_views(&mut p, changes);
    for c in changes {
        change(&mut p, c);
    }
    column_order(&mut p, changes);
    new_enum_values(&mut p);
    let mut steps = p.steps;
    // Stable: within a phase, the sub-order, then the order the changes came in.
    steps.sort_by_key(|(phase, order, _)| (*phase, *order));
    let mut seen = BTreeSet::new();
    Plan {
        steps: steps
            .into_iter()
            .map(|(_, _, s)| s)
            .filter(|s| seen.insert((s.sql.clone(), s.commented.is_some())))
            .collect(),
    }
}

/// The statements that undo what `up` (planned from `declared` over `migrations`) applies: the plan
/// that turns `declared` back into `migrations`, restricted to the objects the applied steps of
/// `up` touch (a commented-out step was never applied: nothing of it is undone). Dropping what the
/// up created is the point of a down: those drops, and the narrowing back of a type the up widened,
/// are applied; what cannot be undone in place (an enum value, a column order) stays a comment.
pub fn reverse(declared: &Catalog, migrations: &Catalog, up: &Plan) -> Plan {
    let touched: BTreeSet<&str> = up.applied().map(|s| s.object.as_str()).collect();
    let back = plan(migrations, declared, PlanOptions::default());
    Plan {
        steps: back
            .steps
            .into_iter()
            .filter(|s| touched.contains(s.object.as_str()))
            .map(|mut s| {
                if s.commented
                    .as_deref()
                    .is_some_and(|why| why.starts_with("destructive"))
                    && !s.sql.starts_with("--")
                {
                    s.commented = None;
                    s.sql = if_exists(&s.sql);
                }
                s
            })
            .collect(),
    }
    .drops_last()
}

/// The drop of `sql` made tolerant of an object a drop before it already took with it (a
/// sequence owned by a dropped table, a constraint of a dropped column).
fn if_exists(sql: &str) -> String {
    for what in [
        "DROP CONSTRAINT ",
        "DROP COLUMN ",
        "DROP TABLE ",
        "DROP SEQUENCE ",
        "DROP INDEX ",
        "DROP TYPE ",
        "DROP DOMAIN ",
        "DROP ATTRIBUTE ",
        "DROP SCHEMA ",
        "DROP EXTENSION ",
    ] {
        if let Some(at) = sql.find(what)
            && !sql[at + what.len()..].starts_with("IF EXISTS")
        {
            return format!(
                "{}IF EXISTS {}",
                &sql[..at + what.len()],
                &sql[at + what.len()..]
            );
        }
    }
    sql.to_string()
}

impl Plan {
    /// The applied drops of the destructive phase ordered so that what depends on an object goes
    /// before it: constraints and indexes, columns, tables, then sequences, types, schemas.
    fn drops_last(mut self) -> Plan {
        let rank = |s: &Step| -> u32 {
            if s.phase != Phase::Destructive || s.commented.is_some() {
                return 0;
            }
            [
                "DROP CONSTRAINT",
                "DROP INDEX",
                "DROP ATTRIBUTE",
                "DROP COLUMN",
                "DROP TABLE",
                "DROP SEQUENCE",
                "DROP DOMAIN",
                "DROP TYPE",
                "DROP EXTENSION",
                "DROP SCHEMA",
            ]
            .iter()
            .position(|w| s.sql.contains(w))
            .map_or(1, |i| i as u32 + 1)
        };
        self.steps.sort_by_key(|s| (s.phase, rank(s)));
        self
    }
}

fn object(kind: ObjectKind, name: &QualifiedName, member: Option<&str>) -> String {
    ObjectRef {
        kind,
        name: name.clone(),
        member: member.map(str::to_string),
    }
    .to_string()
}

fn change(p: &mut Planner, c: &Change) {
    let name = &c.object.name;
    let member = c.object.member.as_deref();
    let label = c.object.to_string();
    if c.class == DriftClass::Comment {
        comment_change(p, c);
        return;
    }
    match c.object.kind {
        ObjectKind::Schema => match c.diff {
            Diff::OnlyDeclared => {
                p.push(
                    Phase::Schemas,
                    0,
                    &label,
                    format!("CREATE SCHEMA {}", ident(&name.name)),
                );
                if let Some(comment) = p
                    .declared
                    .schemas
                    .get(&name.name)
                    .and_then(|s| s.comment.clone())
                {
                    p.push(
                        Phase::Comments,
                        0,
                        &label,
                        comment_on(&format!("SCHEMA {}", ident(&name.name)), Some(&comment)),
                    );
                }
            }
            Diff::OnlyMigrations => p.commented(
                &label,
                DESTRUCTIVE,
                format!("DROP SCHEMA {}", ident(&name.name)),
            ),
            _ => {}
        },
        ObjectKind::Extension => extension(p, c, &label),
        ObjectKind::Table => table_change(p, c, &label),
        ObjectKind::Column => {
            if let Some(col) = member {
                column_change(p, c, name, col, &label);
            }
        }
        ObjectKind::Constraint => constraint_change(p, c, name, &label),
        ObjectKind::Index => index_change(p, c, name, &label),
        ObjectKind::Trigger => table_member_change(
            p,
            c,
            name,
            &label,
            "TRIGGER",
            Phase::Triggers,
            |t| &t.triggers,
            create_trigger,
        ),
        ObjectKind::Policy => table_member_change(
            p,
            c,
            name,
            &label,
            "POLICY",
            Phase::Policies,
            |t| &t.policies,
            create_policy,
        ),
        ObjectKind::View => view_change(p, c, name, &label),
        ObjectKind::MaterializedView => matview_change(p, c, name, &label),
        ObjectKind::Sequence => sequence_change(p, c, name, &label),
        ObjectKind::Enum | ObjectKind::EnumValue => enum_change(p, c, name, &label),
        ObjectKind::Domain => domain_change(p, c, name, &label),
        ObjectKind::CompositeType => composite_change(p, c, name, &label),
        ObjectKind::Function => function_change(p, c, name, member.unwrap_or(""), &label),
    }
}

fn extension(p: &mut Planner, c: &Change, label: &str) {
    let n = &c.object.name.name;
    match &c.diff {
        Diff::OnlyDeclared => {
            let schema = p
                .declared
                .extensions
                .get(n)
                .map(|e| format!(" WITH SCHEMA {}", ident(&e.schema)))
                .unwrap_or_default();
            p.push(
                Phase::Extensions,
                0,
                label,
                format!("CREATE EXTENSION IF NOT EXISTS {}{schema}", ident(n)),
            );
        }
        Diff::OnlyMigrations => {
            p.commented(label, DESTRUCTIVE, format!("DROP EXTENSION {}", ident(n)))
        }
        Diff::Differs { .. } => {
            let (Some(d), Some(m)) = (p.declared.extensions.get(n), p.migrations.extensions.get(n))
            else {
                return;
            };
            let (d, m) = (d.clone(), m.clone());
            if d.schema != m.schema {
                p.push(
                    Phase::Extensions,
                    1,
                    label,
                    format!(
                        "ALTER EXTENSION {} SET SCHEMA {}",
                        ident(n),
                        ident(&d.schema)
                    ),
                );
            }
            if d.version != m.version {
                p.push(
                    Phase::Extensions,
                    2,
                    label,
                    format!(
                        "ALTER EXTENSION {} UPDATE TO {}",
                        ident(n),
                        literal(&d.version)
                    ),
                );
            }
        }
        Diff::Renamed { .. } => {}
    }
}

// ---------------------------------------------------------------- tables

fn table_change(p: &mut Planner, c: &Change, label: &str) {
    let name = &c.object.name;
    match &c.diff {
        Diff::OnlyDeclared => create_table(p, name),
        Diff::OnlyMigrations => p.commented(
            label,
            DESTRUCTIVE,
            format!("DROP TABLE {}", qualified(name)),
        ),
        Diff::Differs { .. } if c.class == DriftClass::ColumnOrder => {
            column_order_step(p, name);
        }
        Diff::Differs { .. } => table_definition(p, name, label),
        Diff::Renamed { .. } => {}
    }
}

fn column_order_step(p: &mut Planner, name: &QualifiedName) {
    let Some(t) = p.table(name) else { return };
    let mut cols: Vec<(&i64, &String)> = t.columns.iter().map(|(n, c)| (&c.position, n)).collect();
    cols.sort();
    let order = cols
        .iter()
        .map(|(_, n)| ident(n))
        .collect::<Vec<_>>()
        .join(", ");
    p.commented(
        &object(ObjectKind::Table, name, None),
        "manual: PostgreSQL cannot reorder columns; recreate the table (copying its rows) to get this order",
        format!("-- column order of {}: {order}", qualified(name)),
    );
}

/// Tables that get columns added at the end while the declared schema has them elsewhere: the
/// order then differs, which only recreating the table changes.
fn column_order(p: &mut Planner, changes: &[Change]) {
    let mut added: BTreeMap<&QualifiedName, Vec<&str>> = BTreeMap::new();
    for c in changes {
        if c.object.kind == ObjectKind::Column
            && c.diff == Diff::OnlyDeclared
            && let Some(m) = &c.object.member
        {
            added.entry(&c.object.name).or_default().push(m);
        }
    }
    let dropped: BTreeSet<&QualifiedName> = changes
        .iter()
        .filter(|c| c.object.kind == ObjectKind::Column && c.diff == Diff::OnlyMigrations)
        .map(|c| &c.object.name)
        .collect();
    for (name, cols) in added {
        if dropped.contains(name) || p.new_tables.contains(name) {
            continue;
        }
        let (Some(d), Some(m)) = (p.declared.tables.get(name), p.migrations.tables.get(name))
        else {
            continue;
        };
        let order = |t: &Table| {
            let mut v: Vec<(i64, String)> = t
                .columns
                .iter()
                .map(|(n, c)| (c.position, n.clone()))
                .collect();
            v.sort();
            v.into_iter().map(|(_, n)| n).collect::<Vec<_>>()
        };
        let declared_order = order(d);
        let mut result = order(m);
        for n in &declared_order {
            if cols.contains(&n.as_str()) {
                result.push(n.clone());
            }
        }
        if result != declared_order {
            column_order_step(p, name);
        }
    }
}

/// New tables in dependency order: partition parents and inheritance parents first.
fn create_table(p: &mut Planner, name: &QualifiedName) {
    let Some(t) = p.table(name).cloned() else {
        return;
    };
    let label = object(ObjectKind::Table, name, None);
    // Depth in the inheritance tree orders parents first.
    let mut depth = 0u32;
    let mut parent = t
        .partition_of
        .clone()
        .or_else(|| t.inherits.first().cloned());
    while let Some(q) = parent {
        depth += 1;
        if depth > 64 {
            break;
        }
        parent = p.declared.tables.get(&q).and_then(|pt| {
            pt.partition_of
                .clone()
                .or_else(|| pt.inherits.first().cloned())
        });
    }
    let unlogged = if t.persistence == Persistence::Unlogged {
        "UNLOGGED "
    } else {
        ""
    };
    let mut sql = match (&t.partition_of, &t.partition_bound) {
        (Some(parent), Some(bound)) => format!(
            "CREATE {unlogged}TABLE {} PARTITION OF {} {bound}",
            qualified(name),
            qualified(parent)
        ),
        _ => {
            let mut cols: Vec<(&i64, &String, &Column)> =
                t.columns.iter().map(|(n, c)| (&c.position, n, c)).collect();
            cols.sort_by_key(|(pos, _, _)| **pos);
            let body = cols
                .iter()
                .map(|(_, n, c)| format!("    {}", column_definition(n, c)))
                .collect::<Vec<_>>()
                .join(",\n");
            let mut s = format!("CREATE {unlogged}TABLE {} (\n{body}\n)", qualified(name));
            if !t.inherits.is_empty() {
                s.push_str(&format!(
                    " INHERITS ({})",
                    t.inherits
                        .iter()
                        .map(qualified)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            s
        }
    };
    if let Some(key) = &t.partition_key {
        sql.push_str(&format!(" PARTITION BY {key}"));
    }
    if !t.options.is_empty() {
        sql.push_str(&format!(" WITH ({})", t.options.join(", ")));
    }
    p.push(Phase::Tables, depth, &label, sql);
    if t.partition_of.is_some() {
        // Columns come from the parent; defaults and NOT NULL the partition has of its own.
        let parent = t
            .partition_of
            .as_ref()
            .and_then(|q| p.declared.tables.get(q))
            .cloned();
        for (n, c) in &t.columns {
            let pc = parent.as_ref().and_then(|pt| pt.columns.get(n));
            if c.not_null && !pc.is_some_and(|pc| pc.not_null) {
                p.push(
                    Phase::Tables,
                    depth,
                    &label,
                    format!(
                        "ALTER TABLE {} ALTER COLUMN {} SET NOT NULL",
                        qualified(name),
                        ident(n)
                    ),
                );
            }
            if let Some(d) = &c.default
                && pc.and_then(|pc| pc.default.as_ref()) != Some(d)
            {
                p.push(
                    Phase::Tables,
                    depth,
                    &label,
                    format!(
                        "ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {d}",
                        qualified(name),
                        ident(n)
                    ),
                );
            }
        }
    }
    row_security(p, name, &t, None);
    for (cn, con) in &t.constraints {
        if !con.inherited {
            add_constraint(p, name, cn, false);
        }
    }
    for (iname, idx) in &t.indexes {
        if idx.constraint.is_none() {
            create_index(p, name, iname, idx, false, t.partition_of.is_some());
        }
    }
    for (tn, tr) in &t.triggers {
        create_trigger(p, name, tn, tr);
    }
    for (pn, pol) in &t.policies {
        create_policy(p, name, pn, pol);
    }
    table_comments(p, name, &t);
}

fn table_comments(p: &mut Planner, name: &QualifiedName, t: &Table) {
    let label = object(ObjectKind::Table, name, None);
    if let Some(c) = &t.comment {
        p.push(
            Phase::Comments,
            0,
            &label,
            comment_on(&format!("TABLE {}", qualified(name)), Some(c)),
        );
    }
    for (n, col) in &t.columns {
        if let Some(c) = &col.comment {
            p.push(
                Phase::Comments,
                0,
                &label,
                comment_on(&format!("COLUMN {}.{}", qualified(name), ident(n)), Some(c)),
            );
        }
    }
    for (n, con) in &t.constraints {
        if let (Some(c), false) = (&con.comment, con.inherited) {
            p.push(
                Phase::Comments,
                0,
                &label,
                comment_on(
                    &format!("CONSTRAINT {} ON {}", ident(n), qualified(name)),
                    Some(c),
                ),
            );
        }
    }
    for (n, idx) in &t.indexes {
        if let (Some(c), None) = (&idx.comment, &idx.constraint) {
            p.push(
                Phase::Comments,
                0,
                &label,
                comment_on(
                    &format!("INDEX {}", qualified(&QualifiedName::new(&name.schema, n))),
                    Some(c),
                ),
            );
        }
    }
    for (n, tr) in &t.triggers {
        if let Some(c) = &tr.comment {
            p.push(
                Phase::Comments,
                0,
                &label,
                comment_on(
                    &format!("TRIGGER {} ON {}", ident(n), qualified(name)),
                    Some(c),
                ),
            );
        }
    }
    for (n, pol) in &t.policies {
        if let Some(c) = &pol.comment {
            p.push(
                Phase::Comments,
                0,
                &label,
                comment_on(
                    &format!("POLICY {} ON {}", ident(n), qualified(name)),
                    Some(c),
                ),
            );
        }
    }
}

fn row_security(p: &mut Planner, name: &QualifiedName, t: &Table, before: Option<&Table>) {
    let label = object(ObjectKind::Table, name, None);
    if before.map_or(t.row_security, |b| b.row_security != t.row_security) {
        p.push(
            Phase::Tables,
            90,
            &label,
            format!(
                "ALTER TABLE {} {} ROW LEVEL SECURITY",
                qualified(name),
                if t.row_security { "ENABLE" } else { "DISABLE" }
            ),
        );
    }
    if before.map_or(t.force_row_security, |b| {
        b.force_row_security != t.force_row_security
    }) {
        p.push(
            Phase::Tables,
            90,
            &label,
            format!(
                "ALTER TABLE {} {} ROW LEVEL SECURITY",
                qualified(name),
                if t.force_row_security {
                    "FORCE"
                } else {
                    "NO FORCE"
                }
            ),
        );
    }
}

fn table_definition(p: &mut Planner, name: &QualifiedName, label: &str) {
    let (Some(d), Some(m)) = (
        p.declared.tables.get(name).cloned(),
        p.migrations.tables.get(name).cloned(),
    ) else {
        return;
    };
    let q = qualified(name);
    if d.persistence != m.persistence {
        p.push(
            Phase::Tables,
            50,
            label,
            format!(
                "ALTER TABLE {q} SET {}",
                if d.persistence == Persistence::Unlogged {
                    "UNLOGGED"
                } else {
                    "LOGGED"
                }
            ),
        );
    }
    if d.partition_key != m.partition_key || (d.partition_of.is_some() != m.partition_of.is_some())
    {
        p.commented(
            label,
            "manual: a table's partitioning changes only by recreating it (copying its rows)",
            format!(
                "-- {q}: declared {}",
                match (&d.partition_key, &d.partition_of) {
                    (Some(k), _) => format!("PARTITION BY {k}"),
                    (None, Some(parent)) => format!(
                        "PARTITION OF {} {}",
                        qualified(parent),
                        d.partition_bound.clone().unwrap_or_default()
                    ),
                    (None, None) => "not partitioned".to_string(),
                }
            ),
        );
    } else if let (Some(dp), Some(mp)) = (&d.partition_of, &m.partition_of)
        && (dp != mp || d.partition_bound != m.partition_bound)
    {
        p.push(
            Phase::Tables,
            60,
            label,
            format!("ALTER TABLE {} DETACH PARTITION {q}", qualified(mp)),
        );
        p.push(
            Phase::Tables,
            61,
            label,
            format!(
                "ALTER TABLE {} ATTACH PARTITION {q} {}",
                qualified(dp),
                d.partition_bound.clone().unwrap_or_default()
            ),
        );
    }
    for parent in m.inherits.iter().filter(|x| !d.inherits.contains(x)) {
        p.push(
            Phase::Tables,
            70,
            label,
            format!("ALTER TABLE {q} NO INHERIT {}", qualified(parent)),
        );
    }
    for parent in d.inherits.iter().filter(|x| !m.inherits.contains(x)) {
        p.push(
            Phase::Tables,
            71,
            label,
            format!("ALTER TABLE {q} INHERIT {}", qualified(parent)),
        );
    }
    if d.options != m.options {
        let key = |o: &String| o.split('=').next().unwrap_or(o).to_string();
        let keep: BTreeSet<String> = d.options.iter().map(key).collect();
        let reset: Vec<String> = m
            .options
            .iter()
            .map(key)
            .filter(|k| !keep.contains(k))
            .collect();
        if !reset.is_empty() {
            p.push(
                Phase::Tables,
                80,
                label,
                format!("ALTER TABLE {q} RESET ({})", reset.join(", ")),
            );
        }
        if !d.options.is_empty() {
            p.push(
                Phase::Tables,
                81,
                label,
                format!("ALTER TABLE {q} SET ({})", d.options.join(", ")),
            );
        }
    }
    row_security(p, name, &d, Some(&m));
}

// ---------------------------------------------------------------- columns

/// Type changes that never lose a value: a longer or unbounded `varchar`, `text`, a wider integer,
/// an unconstrained `numeric`.
fn widens(from: &str, to: &str) -> bool {
    fn bounded(t: &str, base: &str) -> Option<Option<u32>> {
        let rest = t.strip_prefix(base)?;
        if rest.is_empty() {
            return Some(None);
        }
        rest.strip_prefix('(')?
            .strip_suffix(')')?
            .parse()
            .ok()
            .map(Some)
    }
    if from == to {
        return true;
    }
    for base in ["character varying", "bit varying"] {
        if let (Some(a), Some(b)) = (bounded(from, base), bounded(to, base)) {
            return match (a, b) {
                (_, None) => true,
                (Some(a), Some(b)) => b >= a,
                (None, Some(_)) => false,
            };
        }
    }
    if to == "text" && (from.starts_with("character varying") || from.starts_with("character(")) {
        return true;
    }
    let ints = ["smallint", "integer", "bigint"];
    if let (Some(a), Some(b)) = (
        ints.iter().position(|t| *t == from),
        ints.iter().position(|t| *t == to),
    ) {
        return b >= a;
    }
    if to == "numeric" && (from.starts_with("numeric") || ints.contains(&from)) {
        return true;
    }
    if let (Some(a), Some(b)) = (from.strip_prefix("numeric("), to.strip_prefix("numeric(")) {
        let parse = |s: &str| -> Option<(u32, u32)> {
            let s = s.strip_suffix(')')?;
            let (p, sc) = s.split_once(',').unwrap_or((s, "0"));
            Some((p.trim().parse().ok()?, sc.trim().parse().ok()?))
        };
        if let (Some((pa, sa)), Some((pb, sb))) = (parse(a), parse(b)) {
            return sa == sb && pb >= pa;
        }
    }
    matches!(
        (from, to),
        ("real", "double precision") | ("timestamp without time zone", "timestamp with time zone")
    )
}

fn column_change(p: &mut Planner, c: &Change, name: &QualifiedName, col: &str, label: &str) {
    let q = qualified(name);
    let qc = ident(col);
    let d = p
        .declared
        .tables
        .get(name)
        .and_then(|t| t.columns.get(col))
        .cloned();
    let m = p
        .migrations
        .tables
        .get(name)
        .and_then(|t| t.columns.get(col))
        .cloned();
    match (&c.diff, d, m) {
        (Diff::OnlyDeclared, Some(d), _) => {
            if p.new_tables.contains(name) {
                return;
            }
            // NOT NULL with no default fails on a table with rows: say so where it is written.
            let note = if d.not_null
                && d.default.is_none()
                && d.identity.is_none()
                && d.generated.is_none()
            {
                format!(
                    "-- Fails if {q} has rows: add the column without NOT NULL, fill it, then SET NOT NULL.\n"
                )
            } else {
                String::new()
            };
            p.push(
                Phase::Columns,
                0,
                label,
                format!(
                    "{note}ALTER TABLE {q} ADD COLUMN {}",
                    column_definition(col, &d)
                ),
            );
            if let Some(comment) = &d.comment {
                p.push(
                    Phase::Comments,
                    0,
                    label,
                    comment_on(&format!("COLUMN {q}.{qc}"), Some(comment)),
                );
            }
        }
        (Diff::OnlyMigrations, _, Some(_)) => p.commented(
            label,
            DESTRUCTIVE,
            format!("ALTER TABLE {q} DROP COLUMN {qc}"),
        ),
        (Diff::Differs { .. }, Some(d), Some(_)) if c.class == DriftClass::Default => {
            if d.identity.is_some() || d.generated.is_some() {
                // Identity and generated columns have no default: handled with them.
                return;
            }
            let sql = match &d.default {
                Some(expr) => format!("ALTER TABLE {q} ALTER COLUMN {qc} SET DEFAULT {expr}"),
                None => format!("ALTER TABLE {q} ALTER COLUMN {qc} DROP DEFAULT"),
            };
            // Dropping a default comes before an identity is added; setting one after a type change.
            let order = if d.default.is_none() { 1 } else { 5 };
            p.push(Phase::Columns, order, label, sql);
        }
        (Diff::Differs { .. }, Some(d), Some(m)) => column_core(p, name, col, &d, &m, label),
        _ => {}
    }
}

fn column_core(
    p: &mut Planner,
    name: &QualifiedName,
    col: &str,
    d: &Column,
    m: &Column,
    label: &str,
) {
    let q = qualified(name);
    let qc = ident(col);
    let alter = |what: String| format!("ALTER TABLE {q} ALTER COLUMN {qc} {what}");
    // Generated expressions.
    match (&d.generated, &m.generated) {
        (None, Some(_)) => p.push(Phase::Columns, 0, label, alter("DROP EXPRESSION".into())),
        (Some(g), mg) if mg.as_ref() != Some(g) => {
            p.commented(
                label,
                "manual: PostgreSQL before 17 cannot change a generated column's expression; drop the column and add it again (PostgreSQL 17: ALTER COLUMN … SET EXPRESSION)",
                alter(format!("SET EXPRESSION AS ({})", g.expression)),
            );
            return;
        }
        _ => {}
    }
    // Type and collation.
    if d.data_type != m.data_type || d.collation != m.collation {
        let coll = d
            .collation
            .as_ref()
            .map(|c| format!(" COLLATE {}", collation(c)))
            .unwrap_or_default();
        if widens(&m.data_type, &d.data_type) {
            p.push(
                Phase::Columns,
                2,
                label,
                alter(format!("TYPE {}{coll}", d.data_type)),
            );
        } else {
            p.commented(
                label,
                "destructive: the type change can lose or reject values (narrowing); check the data, then apply it",
                alter(format!("TYPE {}{coll} USING {qc}::{}", d.data_type, d.data_type)),
            );
        }
    }
    // NOT NULL: proven by a validated CHECK first, so SET NOT NULL does not scan the table again
    // under its ACCESS EXCLUSIVE lock.
    if d.not_null && !m.not_null {
        // ADD IDENTITY in this migration needs the column NOT NULL at once.
        let split = p.existing(name)
            && p.options.later_transactions
            && !(d.identity.is_some() && m.identity.is_none());
        if split {
            let check = ident(&format!("{}_{}_not_null", name.name, col));
            p.push(
                Phase::Columns,
                3,
                label,
                format!(
                    "ALTER TABLE {q} ADD CONSTRAINT {check} CHECK ({qc} IS NOT NULL) NOT VALID"
                ),
            );
            let later = p.later();
            p.push_stage(
                later,
                Phase::Columns,
                3,
                label,
                format!("ALTER TABLE {q} VALIDATE CONSTRAINT {check}"),
            );
            p.push_stage(
                later,
                Phase::Columns,
                3,
                label,
                alter("SET NOT NULL".into()),
            );
            p.push_stage(
                later,
                Phase::Columns,
                3,
                label,
                format!("ALTER TABLE {q} DROP CONSTRAINT {check}"),
            );
        } else {
            p.push(Phase::Columns, 3, label, alter("SET NOT NULL".into()));
        }
    } else if !d.not_null && m.not_null {
        p.push(Phase::Columns, 3, label, alter("DROP NOT NULL".into()));
    }
    // Identity.
    match (&d.identity, &m.identity) {
        (Some(i), None) => {
            // A serial's default goes first: an identity column has none. Its sequence no longer
            // belongs to the column (so that pg_get_serial_sequence names the identity's).
            if m.default.is_some() {
                p.push(Phase::Columns, 1, label, alter("DROP DEFAULT".into()));
            }
            let serial: Vec<QualifiedName> = p
                .migrations
                .sequences
                .iter()
                .filter(|(_, s)| {
                    s.owned_by
                        .as_ref()
                        .is_some_and(|o| &o.table == name && o.column == col)
                })
                .map(|(n, _)| n.clone())
                .collect();
            for seq in serial {
                p.push(
                    Phase::Columns,
                    1,
                    label,
                    format!("ALTER SEQUENCE {} OWNED BY NONE", qualified(&seq)),
                );
            }
            p.push(Phase::Columns, 4, label, alter(format!("ADD {}", identity_clause(i))));
            // Existing rows keep their values: the identity continues after them.
            if p.existing(name) {
                p.push(
                    Phase::Columns,
                    4,
                    label,
                    format!(
                        "SELECT setval(pg_get_serial_sequence({}, {}), greatest(coalesce(max({qc}), 0) + {}, {}), false) FROM {q}",
                        literal(&q),
                        literal(col),
                        i.increment.max(1),
                        i.start
                    ),
                );
            }
        }
        (None, Some(_)) => p.push(Phase::Columns, 0, label, alter("DROP IDENTITY".into())),
        (Some(i), Some(mi)) if i != mi => p.push(
            Phase::Columns,
            4,
            label,
            alter(format!(
                "SET GENERATED {} SET START WITH {} SET INCREMENT BY {} SET MINVALUE {} SET MAXVALUE {} SET CACHE {} SET {}",
                generation(i.generation),
                i.start,
                i.increment,
                i.min,
                i.max,
                i.cache,
                if i.cycle { "CYCLE" } else { "NO CYCLE" }
            )),
        ),
        _ => {}
    }
}

// ---------------------------------------------------------------- constraints

fn constraint_order(kind: ConstraintKind) -> u32 {
    match kind {
        ConstraintKind::PrimaryKey => 0,
        ConstraintKind::Unique => 1,
        ConstraintKind::Exclusion => 2,
        ConstraintKind::Check => 3,
        ConstraintKind::ForeignKey => 4,
    }
}

/// Adds a declared constraint. On an existing table a CHECK or FOREIGN KEY is added `NOT VALID` and
/// validated after (a SHARE UPDATE EXCLUSIVE lock while rows are checked), and a UNIQUE or PRIMARY
/// KEY is built `CONCURRENTLY` first when the migration may.
fn add_constraint(p: &mut Planner, table: &QualifiedName, name: &str, existing: bool) {
    let Some(con) = p
        .table(table)
        .and_then(|t| t.constraints.get(name))
        .cloned()
    else {
        return;
    };
    if con.inherited {
        return;
    }
    let q = qualified(table);
    let qn = ident(name);
    let label = object(ObjectKind::Constraint, table, Some(name));
    let order = constraint_order(con.kind);
    let partitioned = p.table(table).is_some_and(|t| t.partition_key.is_some());
    // A UNIQUE or PRIMARY KEY built concurrently in a migration of its own, attached in the later
    // one: only when no declared foreign key needs it (those are added in the main migration).
    let separate_index = p.options.concurrently
        && p.options.later_transactions
        && !p.declared.tables.values().any(|t| {
            t.constraints.values().any(|c| {
                c.foreign_key.as_ref().is_some_and(|fk| {
                    &fk.references == table && fk.referenced_columns == con.columns
                })
            })
        });
    match con.kind {
        ConstraintKind::Check | ConstraintKind::ForeignKey
            if existing && con.validated && p.options.later_transactions =>
        {
            p.push(
                Phase::Constraints,
                order,
                &label,
                format!(
                    "ALTER TABLE {q} ADD CONSTRAINT {qn} {} NOT VALID",
                    con.definition
                ),
            );
            let later = p.later();
            p.push_stage(
                later,
                Phase::Constraints,
                10 + order,
                &label,
                format!("ALTER TABLE {q} VALIDATE CONSTRAINT {qn}"),
            );
        }
        ConstraintKind::PrimaryKey | ConstraintKind::Unique
            if existing && !partitioned && (p.options.using_index || separate_index) =>
        {
            let index = p.table(table).and_then(|t| {
                t.indexes
                    .iter()
                    .find(|(_, i)| i.constraint.as_deref() == Some(name))
                    .map(|(n, i)| (n.clone(), i.clone()))
            });
            let Some((iname, idx)) = index else {
                p.push(
                    Phase::Constraints,
                    order,
                    &label,
                    format!("ALTER TABLE {q} ADD CONSTRAINT {qn} {}", con.definition),
                );
                return;
            };
            // psql: inline. Elsewhere the index gets a migration of its own and is attached in the
            // later one.
            let (build_phase, attach) = if p.options.using_index {
                (Phase::Constraints, Stage::Main)
            } else {
                (Phase::Indexes, Stage::Later)
            };
            p.push_stage(
                Stage::Concurrently,
                build_phase,
                order,
                &label,
                index_definition(&idx.definition, true, false),
            );
            let kind = if con.kind == ConstraintKind::PrimaryKey {
                "PRIMARY KEY"
            } else {
                "UNIQUE"
            };
            let mut deferral = String::new();
            if con.deferrable {
                deferral.push_str(" DEFERRABLE");
                if con.initially_deferred {
                    deferral.push_str(" INITIALLY DEFERRED");
                }
            }
            p.push_stage(
                attach,
                Phase::Constraints,
                order,
                &label,
                format!(
                    "ALTER TABLE {q} ADD CONSTRAINT {qn} {kind} USING INDEX {}{deferral}",
                    ident(&iname)
                ),
            );
        }
        _ => p.push(
            Phase::Constraints,
            order,
            &label,
            format!("ALTER TABLE {q} ADD CONSTRAINT {qn} {}", con.definition),
        ),
    }
    if let Some(c) = &con.comment
        && existing
    {
        p.push(
            Phase::Comments,
            0,
            &label,
            comment_on(&format!("CONSTRAINT {qn} ON {q}"), Some(c)),
        );
    }
}

fn constraint_change(p: &mut Planner, c: &Change, table: &QualifiedName, label: &str) {
    let q = qualified(table);
    match &c.diff {
        Diff::OnlyDeclared => {
            if let Some(n) = &c.object.member
                && !p.new_tables.contains(table)
            {
                add_constraint(p, table, n, true);
            }
        }
        Diff::OnlyMigrations => {
            if let Some(n) = &c.object.member {
                let inherited = p
                    .migrations
                    .tables
                    .get(table)
                    .and_then(|t| t.constraints.get(n))
                    .is_some_and(|c| c.inherited);
                if !inherited {
                    p.commented(
                        label,
                        DESTRUCTIVE,
                        format!("ALTER TABLE {q} DROP CONSTRAINT {}", ident(n)),
                    );
                }
            }
        }
        Diff::Renamed {
            declared,
            migrations,
        } => p.push(
            Phase::Constraints,
            0,
            label,
            format!(
                "ALTER TABLE {q} RENAME CONSTRAINT {} TO {}",
                ident(migrations),
                ident(declared)
            ),
        ),
        Diff::Differs { .. } => {
            let Some(n) = c.object.member.clone() else {
                return;
            };
            let d = p
                .declared
                .tables
                .get(table)
                .and_then(|t| t.constraints.get(&n))
                .cloned();
            let m = p
                .migrations
                .tables
                .get(table)
                .and_then(|t| t.constraints.get(&n))
                .cloned();
            let (Some(d), Some(m)) = (d, m) else { return };
            if d.inherited {
                return;
            }
            let bare = |def: &str| def.trim_end_matches(" NOT VALID").to_string();
            let same_but = |x: &crate::catalog::Constraint, y: &crate::catalog::Constraint| {
                x.kind == y.kind && x.columns == y.columns && x.foreign_key == y.foreign_key
            };
            if same_but(&d, &m)
                && bare(&d.definition) == bare(&m.definition)
                && d.validated
                && !m.validated
            {
                let later = p.later();
                p.push_stage(
                    later,
                    Phase::Constraints,
                    10,
                    label,
                    format!("ALTER TABLE {q} VALIDATE CONSTRAINT {}", ident(&n)),
                );
                return;
            }
            let deferral = |def: &str| {
                def.replace(" NOT DEFERRABLE", "")
                    .replace(" DEFERRABLE", "")
                    .replace(" INITIALLY DEFERRED", "")
                    .replace(" INITIALLY IMMEDIATE", "")
            };
            if d.kind == ConstraintKind::ForeignKey
                && same_but(&d, &m)
                && d.validated == m.validated
                && deferral(&d.definition) == deferral(&m.definition)
            {
                p.push(
                    Phase::Constraints,
                    5,
                    label,
                    format!(
                        "ALTER TABLE {q} ALTER CONSTRAINT {} {} INITIALLY {}",
                        ident(&n),
                        if d.deferrable {
                            "DEFERRABLE"
                        } else {
                            "NOT DEFERRABLE"
                        },
                        if d.initially_deferred {
                            "DEFERRED"
                        } else {
                            "IMMEDIATE"
                        }
                    ),
                );
                return;
            }
            // Replaced: dropped, then added as declared.
            p.push(
                Phase::Constraints,
                0,
                label,
                format!("ALTER TABLE {q} DROP CONSTRAINT {}", ident(&n)),
            );
            let existing = p.existing(table);
            add_constraint(p, table, &n, existing);
        }
    }
}

// ---------------------------------------------------------------- indexes

/// The relation an index belongs to: a table or a materialized view of the declared catalog.
fn declared_index(p: &Planner, rel: &QualifiedName, name: &str) -> Option<Index> {
    p.declared
        .tables
        .get(rel)
        .and_then(|t| t.indexes.get(name))
        .or_else(|| {
            p.declared
                .materialized_views
                .get(rel)
                .and_then(|m| m.indexes.get(name))
        })
        .cloned()
}

fn create_index(
    p: &mut Planner,
    rel: &QualifiedName,
    name: &str,
    idx: &Index,
    existing: bool,
    partition: bool,
) {
    let partitioned = p.table(rel).is_some_and(|t| t.partition_key.is_some());
    let concurrently = existing && p.options.concurrently && !partitioned;
    let label = object(ObjectKind::Index, rel, Some(name));
    let sql = index_definition(&idx.definition, concurrently, partition);
    let stage = if concurrently {
        Stage::Concurrently
    } else {
        Stage::Main
    };
    p.push_stage(stage, Phase::Indexes, 1, &label, sql);
    if existing && let Some(c) = &idx.comment {
        // After the index exists: built concurrently, it comes after the main transaction.
        let stage = if concurrently {
            Stage::Later
        } else {
            Stage::Main
        };
        p.push_stage(
            stage,
            Phase::Comments,
            0,
            &label,
            comment_on(
                &format!(
                    "INDEX {}",
                    qualified(&QualifiedName::new(&rel.schema, name))
                ),
                Some(c),
            ),
        );
    }
}

fn drop_index(p: &Planner, rel: &QualifiedName, name: &str) -> String {
    let partitioned = p.table(rel).is_some_and(|t| t.partition_key.is_some());
    format!(
        "DROP INDEX {}{}",
        if p.options.concurrently && !partitioned {
            "CONCURRENTLY "
        } else {
            ""
        },
        qualified(&QualifiedName::new(&rel.schema, name))
    )
}

fn index_change(p: &mut Planner, c: &Change, rel: &QualifiedName, label: &str) {
    if p.new_matviews.contains(rel) || p.new_tables.contains(rel) {
        return;
    }
    let Some(n) = c.object.member.clone() else {
        return;
    };
    let partition = p.table(rel).is_some_and(|t| t.partition_of.is_some());
    match &c.diff {
        Diff::OnlyDeclared => {
            if let Some(idx) = declared_index(p, rel, &n) {
                create_index(p, rel, &n, &idx, true, partition);
            }
        }
        Diff::OnlyMigrations => {
            let sql = drop_index(p, rel, &n);
            p.commented(label, DESTRUCTIVE, sql);
        }
        Diff::Renamed {
            declared,
            migrations,
        } => p.push(
            Phase::Indexes,
            0,
            label,
            format!(
                "ALTER INDEX {} RENAME TO {}",
                qualified(&QualifiedName::new(&rel.schema, migrations)),
                ident(declared)
            ),
        ),
        Diff::Differs { .. } => {
            let Some(idx) = declared_index(p, rel, &n) else {
                return;
            };
            let drop = drop_index(p, rel, &n);
            let stage = if drop.contains("CONCURRENTLY") {
                Stage::Concurrently
            } else {
                Stage::Main
            };
            p.push_stage(stage, Phase::Indexes, 0, label, drop);
            create_index(p, rel, &n, &idx, true, partition);
        }
    }
}

// ---------------------------------------------------------------- triggers and policies

fn create_trigger(p: &mut Planner, table: &QualifiedName, name: &str, t: &Trigger) {
    let label = object(ObjectKind::Trigger, table, Some(name));
    p.push(Phase::Triggers, 1, &label, t.definition.clone());
    let state = match t.enabled {
        TriggerEnabled::Origin => None,
        TriggerEnabled::Disabled => Some("DISABLE TRIGGER"),
        TriggerEnabled::Replica => Some("ENABLE REPLICA TRIGGER"),
        TriggerEnabled::Always => Some("ENABLE ALWAYS TRIGGER"),
    };
    if let Some(state) = state {
        p.push(
            Phase::Triggers,
            2,
            &label,
            format!("ALTER TABLE {} {state} {}", qualified(table), ident(name)),
        );
    }
}

/// A trigger or a policy (`keyword`, planned in `phase`) of an existing table: created, dropped,
/// renamed, or dropped and created again from its declared definition (`members` finds it in the
/// declared table, `create` writes it).
#[allow(clippy::too_many_arguments)]
fn table_member_change<T: Clone>(
    p: &mut Planner,
    c: &Change,
    table: &QualifiedName,
    label: &str,
    keyword: &str,
    phase: Phase,
    members: fn(&Table) -> &BTreeMap<String, T>,
    create: fn(&mut Planner, &QualifiedName, &str, &T),
) {
    if p.new_tables.contains(table) {
        return;
    }
    let Some(n) = c.object.member.clone() else {
        return;
    };
    let declared = p.table(table).and_then(|t| members(t).get(&n)).cloned();
    let drop = format!("DROP {keyword} {} ON {}", ident(&n), qualified(table));
    match &c.diff {
        Diff::OnlyDeclared => {
            if let Some(d) = declared {
                create(p, table, &n, &d);
            }
        }
        Diff::OnlyMigrations => p.push(Phase::Drops, 0, label, drop),
        Diff::Renamed {
            declared,
            migrations,
        } => p.push(
            phase,
            0,
            label,
            format!(
                "ALTER {keyword} {} ON {} RENAME TO {}",
                ident(migrations),
                qualified(table),
                ident(declared)
            ),
        ),
        Diff::Differs { .. } => {
            if let Some(d) = declared {
                p.push(phase, 0, label, drop);
                create(p, table, &n, &d);
            }
        }
    }
}

fn create_policy(p: &mut Planner, table: &QualifiedName, name: &str, pol: &Policy) {
    let label = object(ObjectKind::Policy, table, Some(name));
    let command = match pol.command {
        PolicyCommand::All => "ALL",
        PolicyCommand::Select => "SELECT",
        PolicyCommand::Insert => "INSERT",
        PolicyCommand::Update => "UPDATE",
        PolicyCommand::Delete => "DELETE",
    };
    let roles = pol
        .roles
        .iter()
        .map(|r| {
            if r == "public" {
                "PUBLIC".to_string()
            } else {
                ident(r)
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut sql = format!(
        "CREATE POLICY {} ON {} AS {} FOR {command} TO {}",
        ident(name),
        qualified(table),
        if pol.permissive {
            "PERMISSIVE"
        } else {
            "RESTRICTIVE"
        },
        if roles.is_empty() {
            "PUBLIC".into()
        } else {
            roles
        }
    );
    if let Some(u) = &pol.using {
        sql.push_str(&format!(" USING ({u})"));
    }
    if let Some(w) = &pol.with_check {
        sql.push_str(&format!(" WITH CHECK ({w})"));
    }
    p.push(Phase::Policies, 1, &label, sql);
}

// ---------------------------------------------------------------- views

fn view_body(definition: &str) -> String {
    definition.trim().trim_end_matches(';').trim().to_string()
}

fn with_options(options: &[String]) -> String {
    if options.is_empty() {
        String::new()
    } else {
        format!(" WITH ({})", options.join(", "))
    }
}

/// Views that read other views: created after them.
fn view_depth(p: &Planner, name: &QualifiedName) -> u32 {
    let mut depth = 0;
    let mut frontier = vec![name.clone()];
    let mut seen = BTreeSet::new();
    while let Some(n) = frontier.pop() {
        if !seen.insert(n.clone()) || depth > 32 {
            break;
        }
        let Some(def) = p
            .declared
            .views
            .get(&n)
            .map(|v| v.definition.clone())
            .or_else(|| {
                p.declared
                    .materialized_views
                    .get(&n)
                    .map(|m| m.definition.clone())
            })
        else {
            continue;
        };
        for other in p
            .declared
            .views
            .keys()
            .chain(p.declared.materialized_views.keys())
        {
            if other != &n && mentions(&def, other) {
                depth += 1;
                frontier.push(other.clone());
            }
        }
    }
    depth
}

fn mentions(definition: &str, name: &QualifiedName) -> bool {
    let spelled = [qualified(name), ident(&name.name)];
    definition
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.' || c == '"'))
        .any(|w| {
            spelled
                .iter()
                .any(|s| w == s || w.strip_suffix('.') == Some(s))
        })
}

fn create_view(p: &mut Planner, name: &QualifiedName, v: &View, replace: bool) {
    let label = object(ObjectKind::View, name, None);
    let depth = view_depth(p, name);
    p.push(
        Phase::Views,
        10 + depth,
        &label,
        format!(
            "CREATE {}VIEW {}{} AS\n{}",
            if replace { "OR REPLACE " } else { "" },
            qualified(name),
            with_options(&v.options),
            view_body(&v.definition)
        ),
    );
    if let Some(c) = &v.comment {
        p.push(
            Phase::Comments,
            0,
            &label,
            comment_on(&format!("VIEW {}", qualified(name)), Some(c)),
        );
    }
}

fn view_change(p: &mut Planner, c: &Change, name: &QualifiedName, label: &str) {
    if p.recreated.contains(name) {
        return;
    }
    match &c.diff {
        Diff::OnlyDeclared => {
            if let Some(v) = p.declared.views.get(name).cloned() {
                create_view(p, name, &v, false);
            }
        }
        Diff::OnlyMigrations => p.push(
            Phase::Drops,
            1,
            label,
            format!("DROP VIEW {}", qualified(name)),
        ),
        Diff::Differs { .. } => {
            let (Some(d), Some(m)) = (
                p.declared.views.get(name).cloned(),
                p.migrations.views.get(name).cloned(),
            ) else {
                return;
            };
            // CREATE OR REPLACE keeps the existing columns (names, types, order) and may add some
            // at the end; anything else needs the view dropped first.
            let cols = |v: &View| {
                let mut c: Vec<(i64, String, String)> = v
                    .columns
                    .iter()
                    .map(|(n, c)| (c.position, n.clone(), c.data_type.clone()))
                    .collect();
                c.sort();
                c
            };
            let (dc, mc) = (cols(&d), cols(&m));
            let extends = dc.len() >= mc.len() && dc[..mc.len()] == mc[..];
            if d.definition != m.definition || d.options != m.options {
                if extends && m.options.iter().all(|o| d.options.contains(o)) {
                    create_view(p, name, &d, true);
                } else {
                    p.push(
                        Phase::Views,
                        0,
                        label,
                        format!("DROP VIEW {}", qualified(name)),
                    );
                    create_view(p, name, &d, false);
                }
            }
        }
        Diff::Renamed { .. } => {}
    }
}

fn create_matview(p: &mut Planner, name: &QualifiedName, v: &MaterializedView) {
    let label = object(ObjectKind::MaterializedView, name, None);
    let depth = view_depth(p, name);
    p.push(
        Phase::Views,
        10 + depth,
        &label,
        format!(
            "CREATE MATERIALIZED VIEW {}{} AS\n{}\nWITH {}DATA",
            qualified(name),
            with_options(&v.options),
            view_body(&v.definition),
            if v.populated { "" } else { "NO " }
        ),
    );
    for (n, idx) in &v.indexes {
        p.push(
            Phase::Views,
            40 + depth,
            &object(ObjectKind::Index, name, Some(n)),
            index_definition(&idx.definition, false, false),
        );
    }
    if let Some(c) = &v.comment {
        p.push(
            Phase::Comments,
            0,
            &label,
            comment_on(&format!("MATERIALIZED VIEW {}", qualified(name)), Some(c)),
        );
    }
}

fn matview_change(p: &mut Planner, c: &Change, name: &QualifiedName, label: &str) {
    if p.recreated.contains(name) {
        return;
    }
    match &c.diff {
        Diff::OnlyDeclared => {
            if let Some(v) = p.declared.materialized_views.get(name).cloned() {
                create_matview(p, name, &v);
            }
        }
        Diff::OnlyMigrations => p.push(
            Phase::Drops,
            1,
            label,
            format!("DROP MATERIALIZED VIEW {}", qualified(name)),
        ),
        Diff::Differs { .. } => {
            if let Some(v) = p.declared.materialized_views.get(name).cloned() {
                p.push(
                    Phase::Views,
                    0,
                    label,
                    format!("DROP MATERIALIZED VIEW {}", qualified(name)),
                );
                create_matview(p, name, &v);
            }
        }
        Diff::Renamed { .. } => {}
    }
}

/// A column whose type changes (applied: a widening, or a collation) cannot change while a view
/// reads it: the views and materialized views that read its table (and the views reading those) are
/// dropped before the change, readers first, and created again as declared after it.
fn dependent_views(p: &mut Planner, changes: &[Change]) {
    let mut retyped: BTreeSet<QualifiedName> = BTreeSet::new();
    for c in changes {
        if c.object.kind != ObjectKind::Column || c.class != DriftClass::Column {
            continue;
        }
        let Some(col) = &c.object.member else {
            continue;
        };
        let d = p
            .declared
            .tables
            .get(&c.object.name)
            .and_then(|t| t.columns.get(col));
        let m = p
            .migrations
            .tables
            .get(&c.object.name)
            .and_then(|t| t.columns.get(col));
        if let (Some(d), Some(m)) = (d, m)
            && (d.data_type != m.data_type || d.collation != m.collation)
            && widens(&m.data_type, &d.data_type)
            && d.generated.is_none()
        {
            retyped.insert(c.object.name.clone());
        }
    }
    if retyped.is_empty() {
        return;
    }
    let definitions: Vec<(QualifiedName, String, bool)> = p
        .migrations
        .views
        .iter()
        .map(|(n, v)| (n.clone(), v.definition.clone(), false))
        .chain(
            p.migrations
                .materialized_views
                .iter()
                .map(|(n, v)| (n.clone(), v.definition.clone(), true)),
        )
        .collect();
    // Readers of the retyped tables, then readers of those, with their depth.
    let mut depth: BTreeMap<QualifiedName, u32> = BTreeMap::new();
    let mut frontier: Vec<QualifiedName> = retyped.into_iter().collect();
    let mut level = 0;
    while !frontier.is_empty() && level < 32 {
        level += 1;
        let mut next = Vec::new();
        for (n, def, _) in &definitions {
            if frontier.iter().any(|t| mentions(def, t)) && depth.get(n).is_none_or(|d| *d < level)
            {
                depth.insert(n.clone(), level);
                next.push(n.clone());
            }
        }
        frontier = next;
    }
    for (n, def_depth) in &depth {
        let materialized = definitions.iter().any(|(v, _, m)| v == n && *m);
        let label = object(
            if materialized {
                ObjectKind::MaterializedView
            } else {
                ObjectKind::View
            },
            n,
            None,
        );
        // Readers (deeper) first.
        p.push(
            Phase::DependentViews,
            100 - (*def_depth).min(99),
            &label,
            format!(
                "DROP {}VIEW {}",
                if materialized { "MATERIALIZED " } else { "" },
                qualified(n)
            ),
        );
        p.recreated.insert(n.clone());
        if materialized {
            if let Some(v) = p.declared.materialized_views.get(n).cloned() {
                create_matview(p, n, &v);
            }
        } else if let Some(v) = p.declared.views.get(n).cloned() {
            create_view(p, n, &v, false);
        }
    }
}

/// PostgreSQL refuses to use an enum value in the transaction that added it. Where the runner can
/// commit in between, the values are added in a migration before the main one; where it cannot
/// (Drizzle runs every pending migration in one transaction), the statements that use a new value
/// are left commented out, to apply in a later deployment.
fn new_enum_values(p: &mut Planner) {
    let added: Vec<(usize, Vec<String>)> = p
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, (_, _, s))| {
            let rest = s.sql.strip_prefix("ALTER TYPE ")?;
            let (q, value) = rest.split_once(" ADD VALUE IF NOT EXISTS ")?;
            let lit = if let Some(at) = value.find("' AFTER ").or_else(|| value.find("' BEFORE ")) {
                &value[..=at]
            } else {
                value
            };
            let unqualified = q.split_once('.').map_or(q, |(_, n)| n);
            Some((
                i,
                vec![format!("{lit}::{q}"), format!("{lit}::{unqualified}")],
            ))
        })
        .collect();
    if added.is_empty() {
        return;
    }
    let uses: Vec<usize> = p
        .steps
        .iter()
        .enumerate()
        .filter(|(i, (_, _, s))| {
            s.commented.is_none()
                && !added.iter().any(|(a, _)| a == i)
                && added
                    .iter()
                    .any(|(_, spellings)| spellings.iter().any(|sp| s.sql.contains(sp.as_str())))
        })
        .map(|(i, _)| i)
        .collect();
    if uses.is_empty() {
        return;
    }
    if p.options.later_transactions {
        for (i, _) in &added {
            p.steps[*i].2.stage = Stage::Before;
        }
    } else {
        for i in uses {
            let step = &mut p.steps[i];
            step.0 = Phase::Destructive;
            step.2.phase = Phase::Destructive;
            step.2.commented = Some(
                "manual: uses an enum value this migration adds, which PostgreSQL refuses in the transaction that adds it (and every pending migration runs in one): apply it in a migration deployed after this one"
                    .to_string(),
            );
        }
    }
}

// ---------------------------------------------------------------- sequences

fn create_sequence_sql(name: &QualifiedName, s: &Sequence) -> String {
    format!(
        "CREATE {}SEQUENCE {} AS {} {}",
        if s.persistence == Persistence::Unlogged {
            "UNLOGGED "
        } else {
            ""
        },
        qualified(name),
        s.data_type,
        sequence_options(s.start, s.increment, s.min, s.max, s.cache, s.cycle)
    )
}

fn owned_by(name: &QualifiedName, s: &Sequence) -> String {
    format!(
        "ALTER SEQUENCE {} OWNED BY {}",
        qualified(name),
        s.owned_by.as_ref().map_or("NONE".to_string(), |o| format!(
            "{}.{}",
            qualified(&o.table),
            ident(&o.column)
        ))
    )
}

/// Declared sequences the migrations lack, including those owned by a column the migrations lack
/// (a `serial`, which the diff counts as part of its column): created before the tables whose
/// defaults call them.
fn sequences(p: &mut Planner) {
    let missing: Vec<(QualifiedName, Sequence)> = p
        .declared
        .sequences
        .iter()
        .filter(|(k, _)| !p.migrations.sequences.contains_key(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (name, s) in missing {
        let label = object(ObjectKind::Sequence, &name, None);
        p.push(Phase::Sequences, 0, &label, create_sequence_sql(&name, &s));
        if s.owned_by.is_some() {
            p.push(Phase::SequenceOwners, 0, &label, owned_by(&name, &s));
        }
        if let Some(c) = &s.comment {
            p.push(
                Phase::Comments,
                0,
                &label,
                comment_on(&format!("SEQUENCE {}", qualified(&name)), Some(c)),
            );
        }
    }
}

fn sequence_change(p: &mut Planner, c: &Change, name: &QualifiedName, label: &str) {
    match &c.diff {
        Diff::OnlyMigrations => p.commented(
            label,
            DESTRUCTIVE,
            format!("DROP SEQUENCE {}", qualified(name)),
        ),
        Diff::Differs { .. } => {
            let (Some(d), Some(m)) = (
                p.declared.sequences.get(name).cloned(),
                p.migrations.sequences.get(name).cloned(),
            ) else {
                return;
            };
            let q = qualified(name);
            if (
                &d.data_type,
                d.start,
                d.increment,
                d.min,
                d.max,
                d.cache,
                d.cycle,
            ) != (
                &m.data_type,
                m.start,
                m.increment,
                m.min,
                m.max,
                m.cache,
                m.cycle,
            ) {
                p.push(
                    Phase::Sequences,
                    1,
                    label,
                    format!(
                        "ALTER SEQUENCE {q} AS {} {}",
                        d.data_type,
                        sequence_options(d.start, d.increment, d.min, d.max, d.cache, d.cycle)
                    ),
                );
            }
            if d.persistence != m.persistence {
                p.push(
                    Phase::Sequences,
                    2,
                    label,
                    format!(
                        "ALTER SEQUENCE {q} SET {}",
                        if d.persistence == Persistence::Unlogged {
                            "UNLOGGED"
                        } else {
                            "LOGGED"
                        }
                    ),
                );
            }
            if d.owned_by != m.owned_by {
                p.push(Phase::SequenceOwners, 0, label, owned_by(name, &d));
            }
        }
        // Created by `sequences`.
        Diff::OnlyDeclared | Diff::Renamed { .. } => {}
    }
}

// ---------------------------------------------------------------- types

fn enum_change(p: &mut Planner, c: &Change, name: &QualifiedName, label: &str) {
    let q = qualified(name);
    match (c.object.kind, &c.diff) {
        (ObjectKind::Enum, Diff::OnlyDeclared) => {
            if let Some(e) = p.declared.enums.get(name).cloned() {
                p.push(
                    Phase::Types,
                    0,
                    label,
                    format!(
                        "CREATE TYPE {q} AS ENUM ({})",
                        e.values.iter().map(|v| literal(v)).collect::<Vec<_>>().join(", ")
                    ),
                );
                if let Some(cm) = &e.comment {
                    p.push(
                        Phase::Comments,
                        0,
                        label,
                        comment_on(&format!("TYPE {q}"), Some(cm)),
                    );
                }
            }
        }
        (ObjectKind::Enum, Diff::OnlyMigrations) => {
            p.commented(label, DESTRUCTIVE, format!("DROP TYPE {q}"))
        }
        (ObjectKind::Enum, Diff::Differs { .. }) => p.commented(
            label,
            "manual: PostgreSQL cannot reorder enum values; create the type anew and convert the columns that use it",
            format!(
                "-- {q} declared order: {}",
                p.declared
                    .enums
                    .get(name)
                    .map(|e| e.values.iter().map(|v| literal(v)).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()
            ),
        ),
        (ObjectKind::EnumValue, Diff::OnlyDeclared) => {
            let (Some(d), Some(m), Some(v)) = (
                p.declared.enums.get(name).cloned(),
                p.migrations.enums.get(name).cloned(),
                c.object.member.clone(),
            ) else {
                return;
            };
            let Some(i) = d.values.iter().position(|x| *x == v) else {
                return;
            };
            let place = if i > 0 {
                format!(" AFTER {}", literal(&d.values[i - 1]))
            } else {
                d.values
                    .iter()
                    .find(|x| m.values.contains(x))
                    .map(|x| format!(" BEFORE {}", literal(x)))
                    .unwrap_or_default()
            };
            // In declared order, so that each value's neighbour exists when it is added.
            p.push(
                Phase::Types,
                10 + u32::try_from(i).unwrap_or(u32::MAX - 10),
                label,
                format!("ALTER TYPE {q} ADD VALUE IF NOT EXISTS {}{place}", literal(&v)),
            );
        }
        (ObjectKind::EnumValue, Diff::OnlyMigrations) => p.commented(
            label,
            "destructive: PostgreSQL cannot drop an enum value; create the type anew without it and convert the columns (rows holding the value must change first)",
            format!(
                "-- {q}: remove value {}",
                literal(c.object.member.as_deref().unwrap_or(""))
            ),
        ),
        _ => {}
    }
}

fn create_domain_sql(name: &QualifiedName, d: &crate::catalog::Domain) -> String {
    let mut s = format!("CREATE DOMAIN {} AS {}", qualified(name), d.base_type);
    if let Some(c) = &d.collation {
        s.push_str(&format!(" COLLATE {}", collation(c)));
    }
    if let Some(x) = &d.default {
        s.push_str(&format!(" DEFAULT {x}"));
    }
    if d.not_null {
        s.push_str(" NOT NULL");
    }
    for (n, c) in &d.checks {
        s.push_str(&format!(" CONSTRAINT {} {}", ident(n), c.definition));
    }
    s
}

fn domain_change(p: &mut Planner, c: &Change, name: &QualifiedName, label: &str) {
    let q = qualified(name);
    match &c.diff {
        Diff::OnlyDeclared => {
            if let Some(d) = p.declared.domains.get(name).cloned() {
                p.push(Phase::Types, 1, label, create_domain_sql(name, &d));
                if let Some(cm) = &d.comment {
                    p.push(
                        Phase::Comments,
                        0,
                        label,
                        comment_on(&format!("DOMAIN {q}"), Some(cm)),
                    );
                }
            }
        }
        Diff::OnlyMigrations => p.commented(label, DESTRUCTIVE, format!("DROP DOMAIN {q}")),
        Diff::Differs { .. } => {
            let (Some(d), Some(m)) = (
                p.declared.domains.get(name).cloned(),
                p.migrations.domains.get(name).cloned(),
            ) else {
                return;
            };
            if d.base_type != m.base_type || d.collation != m.collation {
                p.commented(
                    label,
                    "manual: a domain's base type or collation changes only by creating it anew and converting the columns that use it",
                    format!("-- {q}: declared {}", create_domain_sql(name, &d)),
                );
                return;
            }
            if d.default != m.default {
                p.push(
                    Phase::Types,
                    2,
                    label,
                    match &d.default {
                        Some(x) => format!("ALTER DOMAIN {q} SET DEFAULT {x}"),
                        None => format!("ALTER DOMAIN {q} DROP DEFAULT"),
                    },
                );
            }
            if d.not_null != m.not_null {
                p.push(
                    Phase::Types,
                    2,
                    label,
                    format!(
                        "ALTER DOMAIN {q} {} NOT NULL",
                        if d.not_null { "SET" } else { "DROP" }
                    ),
                );
            }
            for (n, mc) in &m.checks {
                match d.checks.get(n) {
                    None => p.commented(
                        label,
                        DESTRUCTIVE,
                        format!("ALTER DOMAIN {q} DROP CONSTRAINT {}", ident(n)),
                    ),
                    Some(dc) if dc.definition != mc.definition || dc.validated != mc.validated => {
                        p.push(
                            Phase::Types,
                            3,
                            label,
                            format!("ALTER DOMAIN {q} DROP CONSTRAINT {}", ident(n)),
                        );
                    }
                    Some(_) => {}
                }
            }
            for (n, dc) in &d.checks {
                let same = m.checks.get(n).is_some_and(|mc| {
                    mc.definition == dc.definition && mc.validated == dc.validated
                });
                if same {
                    continue;
                }
                if dc.validated && p.options.later_transactions {
                    p.push(
                        Phase::Types,
                        4,
                        label,
                        format!(
                            "ALTER DOMAIN {q} ADD CONSTRAINT {} {} NOT VALID",
                            ident(n),
                            dc.definition
                        ),
                    );
                    let later = p.later();
                    p.push_stage(
                        later,
                        Phase::Types,
                        5,
                        label,
                        format!("ALTER DOMAIN {q} VALIDATE CONSTRAINT {}", ident(n)),
                    );
                } else {
                    p.push(
                        Phase::Types,
                        4,
                        label,
                        format!(
                            "ALTER DOMAIN {q} ADD CONSTRAINT {} {}",
                            ident(n),
                            dc.definition
                        ),
                    );
                }
            }
        }
        Diff::Renamed { .. } => {}
    }
}

fn composite_change(p: &mut Planner, c: &Change, name: &QualifiedName, label: &str) {
    let q = qualified(name);
    let attr = |n: &str, a: &crate::catalog::Attribute| {
        let mut s = format!("{} {}", ident(n), a.data_type);
        if let Some(c) = &a.collation {
            s.push_str(&format!(" COLLATE {}", collation(c)));
        }
        s
    };
    match &c.diff {
        Diff::OnlyDeclared => {
            if let Some(t) = p.declared.composite_types.get(name).cloned() {
                let mut attrs: Vec<(&i64, &String, &crate::catalog::Attribute)> = t
                    .attributes
                    .iter()
                    .map(|(n, a)| (&a.position, n, a))
                    .collect();
                attrs.sort_by_key(|(pos, _, _)| **pos);
                p.push(
                    Phase::Types,
                    1,
                    label,
                    format!(
                        "CREATE TYPE {q} AS ({})",
                        attrs
                            .iter()
                            .map(|(_, n, a)| attr(n, a))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                if let Some(cm) = &t.comment {
                    p.push(
                        Phase::Comments,
                        0,
                        label,
                        comment_on(&format!("TYPE {q}"), Some(cm)),
                    );
                }
            }
        }
        Diff::OnlyMigrations => p.commented(label, DESTRUCTIVE, format!("DROP TYPE {q}")),
        Diff::Differs { .. } => {
            let (Some(d), Some(m)) = (
                p.declared.composite_types.get(name).cloned(),
                p.migrations.composite_types.get(name).cloned(),
            ) else {
                return;
            };
            for (n, ma) in &m.attributes {
                match d.attributes.get(n) {
                    None => p.commented(
                        label,
                        DESTRUCTIVE,
                        format!("ALTER TYPE {q} DROP ATTRIBUTE {}", ident(n)),
                    ),
                    Some(da) if da.data_type != ma.data_type || da.collation != ma.collation => {
                        p.push(
                            Phase::Types,
                            2,
                            label,
                            format!(
                                "ALTER TYPE {q} ALTER ATTRIBUTE {} TYPE {}{}",
                                ident(n),
                                da.data_type,
                                da.collation
                                    .as_ref()
                                    .map(|c| format!(" COLLATE {}", collation(c)))
                                    .unwrap_or_default()
                            ),
                        );
                    }
                    Some(_) => {}
                }
            }
            let mut added: Vec<(&i64, &String, &crate::catalog::Attribute)> = d
                .attributes
                .iter()
                .filter(|(n, _)| !m.attributes.contains_key(*n))
                .map(|(n, a)| (&a.position, n, a))
                .collect();
            added.sort_by_key(|(pos, _, _)| **pos);
            for (_, n, a) in added {
                p.push(
                    Phase::Types,
                    3,
                    label,
                    format!("ALTER TYPE {q} ADD ATTRIBUTE {}", attr(n, a)),
                );
            }
        }
        Diff::Renamed { .. } => {}
    }
}

// ---------------------------------------------------------------- functions

fn function_phase(f: &Function) -> Phase {
    if f.language == "sql" {
        Phase::SqlFunctions
    } else {
        Phase::Functions
    }
}

fn function_keyword(f: &Function) -> &'static str {
    if f.kind == FunctionKind::Procedure {
        "PROCEDURE"
    } else {
        "FUNCTION"
    }
}

fn function_change(p: &mut Planner, c: &Change, name: &QualifiedName, args: &str, label: &str) {
    let sig = FunctionSignature {
        name: name.clone(),
        arguments: args.to_string(),
    };
    let target = format!("{}({args})", qualified(name));
    match &c.diff {
        Diff::OnlyDeclared => {
            if let Some(f) = p.declared.functions.get(&sig).cloned() {
                p.push(
                    function_phase(&f),
                    0,
                    label,
                    f.definition.trim().to_string(),
                );
                if let Some(cm) = &f.comment {
                    p.push(
                        Phase::Comments,
                        0,
                        label,
                        comment_on(&format!("{} {target}", function_keyword(&f)), Some(cm)),
                    );
                }
            }
        }
        Diff::OnlyMigrations => {
            if let Some(f) = p.migrations.functions.get(&sig) {
                let kw = function_keyword(f);
                p.push(Phase::Drops, 2, label, format!("DROP {kw} {target}"));
            }
        }
        Diff::Differs { .. } => {
            let (Some(d), Some(m)) = (
                p.declared.functions.get(&sig).cloned(),
                p.migrations.functions.get(&sig).cloned(),
            ) else {
                return;
            };
            let phase = function_phase(&d);
            // CREATE OR REPLACE cannot change the result type, the kind or argument defaults'
            // names: drop first then.
            if d.result != m.result || d.kind != m.kind || d.arguments != m.arguments {
                p.push(
                    phase,
                    0,
                    label,
                    format!("DROP {} {target}", function_keyword(&m)),
                );
            }
            p.push(phase, 1, label, d.definition.trim().to_string());
        }
        Diff::Renamed { .. } => {}
    }
}

// ---------------------------------------------------------------- comments

fn comment_change(p: &mut Planner, c: &Change) {
    let name = &c.object.name;
    let member = c.object.member.as_deref();
    let label = c.object.to_string();
    let d = p.declared;
    let q = qualified(name);
    let (what, comment): (String, Option<String>) = match (c.object.kind, member) {
        (ObjectKind::Schema, _) => (
            format!("SCHEMA {}", ident(&name.name)),
            d.schemas.get(&name.name).and_then(|s| s.comment.clone()),
        ),
        (ObjectKind::Table, _) => (
            format!("TABLE {q}"),
            d.tables.get(name).and_then(|t| t.comment.clone()),
        ),
        (ObjectKind::Column, Some(col)) => (
            format!("COLUMN {q}.{}", ident(col)),
            d.tables
                .get(name)
                .and_then(|t| t.columns.get(col))
                .and_then(|c| c.comment.clone()),
        ),
        (ObjectKind::Constraint, Some(n)) => (
            format!("CONSTRAINT {} ON {q}", ident(n)),
            d.tables
                .get(name)
                .and_then(|t| t.constraints.get(n))
                .and_then(|c| c.comment.clone()),
        ),
        (ObjectKind::Index, Some(n)) => (
            format!("INDEX {}", qualified(&QualifiedName::new(&name.schema, n))),
            declared_index(p, name, n).and_then(|i| i.comment),
        ),
        (ObjectKind::Trigger, Some(n)) => (
            format!("TRIGGER {} ON {q}", ident(n)),
            d.tables
                .get(name)
                .and_then(|t| t.triggers.get(n))
                .and_then(|t| t.comment.clone()),
        ),
        (ObjectKind::Policy, Some(n)) => (
            format!("POLICY {} ON {q}", ident(n)),
            d.tables
                .get(name)
                .and_then(|t| t.policies.get(n))
                .and_then(|t| t.comment.clone()),
        ),
        (ObjectKind::View, _) => (
            format!("VIEW {q}"),
            d.views.get(name).and_then(|v| v.comment.clone()),
        ),
        (ObjectKind::MaterializedView, _) => (
            format!("MATERIALIZED VIEW {q}"),
            d.materialized_views
                .get(name)
                .and_then(|v| v.comment.clone()),
        ),
        (ObjectKind::Sequence, _) => (
            format!("SEQUENCE {q}"),
            d.sequences.get(name).and_then(|v| v.comment.clone()),
        ),
        (ObjectKind::Enum, _) => (
            format!("TYPE {q}"),
            d.enums.get(name).and_then(|v| v.comment.clone()),
        ),
        (ObjectKind::Domain, _) => (
            format!("DOMAIN {q}"),
            d.domains.get(name).and_then(|v| v.comment.clone()),
        ),
        (ObjectKind::CompositeType, _) => (
            format!("TYPE {q}"),
            d.composite_types.get(name).and_then(|v| v.comment.clone()),
        ),
        (ObjectKind::Function, Some(args)) => {
            let sig = FunctionSignature {
                name: name.clone(),
                arguments: args.to_string(),
            };
            let f = d.functions.get(&sig);
            (
                format!("{} {q}({args})", f.map_or("FUNCTION", function_keyword)),
                f.and_then(|f| f.comment.clone()),
            )
        }
        _ => return,
    };
    p.push(
        Phase::Comments,
        1,
        &label,
        comment_on(&what, comment.as_deref()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_in_a_down_tolerate_what_an_earlier_drop_took() {
        assert_eq!(
            if_exists("ALTER TABLE public.t DROP COLUMN b"),
            "ALTER TABLE public.t DROP COLUMN IF EXISTS b"
        );
        assert_eq!(
            if_exists("DROP TABLE IF EXISTS public.u"),
            "DROP TABLE IF EXISTS public.u"
        );
        assert_eq!(if_exists("DROP VIEW public.v"), "DROP VIEW public.v");
    }

    #[test]
    fn the_reverse_of_a_plan_undoes_only_its_applied_steps() {
        let table = Table {
            persistence: Persistence::Permanent,
            partition_key: None,
            partition_of: None,
            partition_bound: None,
            inherits: Vec::new(),
            options: Vec::new(),
            row_security: false,
            force_row_security: false,
            comment: None,
            columns: BTreeMap::new(),
            constraints: BTreeMap::new(),
            indexes: BTreeMap::new(),
            triggers: BTreeMap::new(),
            policies: BTreeMap::new(),
        };
        let mut declared = Catalog::default();
        let mut migrations = Catalog::default();
        declared
            .tables
            .insert(QualifiedName::new("public", "u"), table.clone());
        migrations
            .tables
            .insert(QualifiedName::new("public", "old"), table);
        let up = plan(&declared, &migrations, PlanOptions::default());
        assert_eq!(up.applied().count(), 1, "{up:?}");
        assert_eq!(up.commented().count(), 1, "{up:?}");
        // The up creates u (undone: dropped, applied) and leaves the drop of old commented out
        // (never applied: not undone).
        let down = reverse(&declared, &migrations, &up);
        let sql: Vec<(&str, bool)> = down
            .steps
            .iter()
            .map(|s| (s.sql.as_str(), s.commented.is_none()))
            .collect();
        assert_eq!(sql, [("DROP TABLE IF EXISTS public.u", true)]);
    }

    #[test]
    fn widening_type_changes_are_told_apart_from_narrowing_ones() {
        assert!(widens("character varying(10)", "character varying(20)"));
        assert!(widens("character varying(10)", "text"));
        assert!(widens("character varying(10)", "character varying"));
        assert!(widens("integer", "bigint"));
        assert!(widens("numeric(10,2)", "numeric(12,2)"));
        assert!(widens("numeric(10,2)", "numeric"));
        assert!(!widens("text", "character varying(10)"));
        assert!(!widens("character varying(20)", "character varying(10)"));
        assert!(!widens("bigint", "integer"));
        assert!(!widens("numeric(10,2)", "numeric(10,1)"));
        assert!(!widens("text", "integer"));
    }

    #[test]
    fn views_reading_other_views_come_after_them() {
        assert!(mentions(
            " SELECT a.id\n   FROM public.base a;",
            &QualifiedName::new("public", "base")
        ));
        assert!(!mentions(
            " SELECT a.id\n   FROM public.basement a;",
            &QualifiedName::new("public", "base")
        ));
    }
}
