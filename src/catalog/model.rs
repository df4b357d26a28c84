//! The normalized catalog model: plain data, no OIDs, every collection a `BTreeMap` so that two snapshots
//! serialize identically when the databases are alike and can be compared object by object.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Everything a snapshot found in one database, outside system schemas, extension members and excluded
/// objects.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// Schemas by name (including `public` when it exists).
    pub schemas: BTreeMap<String, Schema>,
    /// Installed extensions by name (`plpgsql` is one in every database).
    pub extensions: BTreeMap<String, Extension>,
    /// Ordinary, partitioned and partition tables.
    pub tables: BTreeMap<QualifiedName, Table>,
    pub views: BTreeMap<QualifiedName, View>,
    pub materialized_views: BTreeMap<QualifiedName, MaterializedView>,
    /// Sequences, except those backing identity columns (see [`Column::identity`]).
    pub sequences: BTreeMap<QualifiedName, Sequence>,
    pub enums: BTreeMap<QualifiedName, EnumType>,
    pub domains: BTreeMap<QualifiedName, Domain>,
    pub composite_types: BTreeMap<QualifiedName, CompositeType>,
    /// Functions and procedures (not aggregates), keyed by name and identity arguments so that overloads
    /// are distinct objects.
    pub functions: BTreeMap<FunctionSignature, Function>,
}

/// A schema-qualified object name. Serialized (and usable as a JSON map key) as `schema.name`, each part
/// double-quoted when it is not a plain lower-case identifier: `public.users`, `"Sales".orders`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QualifiedName {
    pub schema: String,
    pub name: String,
}

impl QualifiedName {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> QualifiedName {
        QualifiedName {
            schema: schema.into(),
            name: name.into(),
        }
    }

    /// `schema.name` without any quoting: the text exclusion globs are matched against.
    pub fn raw(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_part(f, &self.schema)?;
        f.write_str(".")?;
        write_part(f, &self.name)
    }
}

/// Whether `part` can be written without quotes and read back unambiguously.
fn is_plain(part: &str) -> bool {
    let mut chars = part.chars();
    match chars.next() {
        Some(c) if c.is_ascii_lowercase() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$')
}

fn write_part(f: &mut fmt::Formatter<'_>, part: &str) -> fmt::Result {
    if is_plain(part) {
        f.write_str(part)
    } else {
        write!(f, "\"{}\"", part.replace('"', "\"\""))
    }
}

/// Reads one name part from the start of `s`; returns it and the rest.
fn read_part(s: &str) -> Result<(String, &str), String> {
    if let Some(quoted) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = quoted.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '"' {
                if let Some((_, '"')) = chars.peek() {
                    out.push('"');
                    chars.next();
                } else {
                    return Ok((out, &quoted[i + 1..]));
                }
            } else {
                out.push(c);
            }
        }
        Err(format!("unterminated quoted identifier in `{s}`"))
    } else {
        let end = s
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$'))
            .unwrap_or(s.len());
        let part = &s[..end];
        if !is_plain(part) {
            return Err(format!("expected an identifier at `{s}`"));
        }
        Ok((part.to_string(), &s[end..]))
    }
}

/// Reads `schema.name` from the start of `s`; returns it and the rest.
fn read_qualified(s: &str) -> Result<(QualifiedName, &str), String> {
    let (schema, rest) = read_part(s)?;
    let rest = rest
        .strip_prefix('.')
        .ok_or_else(|| format!("expected `schema.name`, found `{s}`"))?;
    let (name, rest) = read_part(rest)?;
    Ok((QualifiedName { schema, name }, rest))
}

impl FromStr for QualifiedName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match read_qualified(s)? {
            (q, "") => Ok(q),
            (_, rest) => Err(format!("unexpected `{rest}` after the name in `{s}`")),
        }
    }
}

impl Serialize for QualifiedName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for QualifiedName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A function or procedure's identity: its qualified name and its identity arguments as
/// `pg_get_function_identity_arguments` prints them. Serialized as `schema.name(arguments)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FunctionSignature {
    pub name: QualifiedName,
    /// E.g. `a integer, b integer` (argument names included, defaults and OUT arguments not).
    pub arguments: String,
}

impl fmt::Display for FunctionSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name, self.arguments)
    }
}

impl FromStr for FunctionSignature {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, rest) = read_qualified(s)?;
        let arguments = rest
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .ok_or_else(|| format!("expected `schema.name(arguments)`, found `{s}`"))?;
        Ok(FunctionSignature {
            name,
            arguments: arguments.to_string(),
        })
    }
}

impl Serialize for FunctionSignature {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FunctionSignature {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    pub comment: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    /// The schema its objects were installed in.
    pub schema: String,
    pub version: String,
}

/// Whether a relation is WAL-logged. Temporary relations live in `pg_temp*` schemas and are never listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Persistence {
    Permanent,
    Unlogged,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub persistence: Persistence,
    /// `Some` for a partitioned table: `pg_get_partkeydef`, e.g. `RANGE (created_at)`.
    pub partition_key: Option<String>,
    /// `Some` for a partition: its parent.
    pub partition_of: Option<QualifiedName>,
    /// `Some` for a partition: e.g. `FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`.
    pub partition_bound: Option<String>,
    /// Parents by classic (non-partition) inheritance, in order.
    pub inherits: Vec<QualifiedName>,
    /// Storage parameters (`reloptions`), e.g. `fillfactor=70`.
    pub options: Vec<String>,
    /// `ENABLE ROW LEVEL SECURITY`.
    pub row_security: bool,
    /// `FORCE ROW LEVEL SECURITY`.
    pub force_row_security: bool,
    pub comment: Option<String>,
    pub columns: BTreeMap<String, Column>,
    /// Primary key, unique, check, foreign-key and exclusion constraints by name.
    pub constraints: BTreeMap<String, Constraint>,
    pub indexes: BTreeMap<String, Index>,
    pub triggers: BTreeMap<String, Trigger>,
    pub policies: BTreeMap<String, Policy>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// 1-based position among the relation's live columns (dropped columns leave no gap, so a column
    /// added and dropped by a past migration does not make two otherwise equal tables differ).
    pub position: i64,
    /// `format_type`, e.g. `character varying(50)`, `public.mood`, `integer[]`.
    pub data_type: String,
    pub not_null: bool,
    /// `pg_get_expr` of the default, e.g. `'x'::character varying`; `None` for generated columns.
    pub default: Option<String>,
    pub identity: Option<Identity>,
    pub generated: Option<Generated>,
    /// The collation when it differs from the type's default, e.g. `C` or `public.german`.
    pub collation: Option<String>,
    pub comment: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityGeneration {
    Always,
    ByDefault,
}

/// An identity column and the options of its (implicit) sequence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub generation: IdentityGeneration,
    pub start: i64,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
    pub cache: i64,
    pub cycle: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeneratedKind {
    Stored,
    Virtual,
}

/// `GENERATED ALWAYS AS (expression)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generated {
    pub kind: GeneratedKind,
    pub expression: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConstraintKind {
    PrimaryKey,
    Unique,
    Check,
    ForeignKey,
    Exclusion,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraint {
    pub kind: ConstraintKind,
    /// `pg_get_constraintdef`, e.g. `CHECK ((amount > (0)::numeric)) NOT VALID`.
    pub definition: String,
    /// The constrained columns in constraint order (empty for a check on an expression only).
    pub columns: Vec<String>,
    pub deferrable: bool,
    pub initially_deferred: bool,
    /// `false` for a constraint added `NOT VALID` and not validated since.
    pub validated: bool,
    /// Inherited from a parent (e.g. cloned onto a partition) rather than declared on this table.
    pub inherited: bool,
    pub foreign_key: Option<ForeignKey>,
    pub comment: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKey {
    pub references: QualifiedName,
    pub referenced_columns: Vec<String>,
    pub on_update: ReferentialAction,
    pub on_delete: ReferentialAction,
    pub match_type: MatchType,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferentialAction {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchType {
    Simple,
    Full,
    Partial,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// Access method: `btree`, `gist`, `gin`, ...
    pub method: String,
    /// `pg_get_indexdef`, e.g. `CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email)`.
    pub definition: String,
    pub unique: bool,
    pub primary: bool,
    /// `NULLS NOT DISTINCT` (PostgreSQL 15+; always `false` before).
    pub nulls_not_distinct: bool,
    /// `false` for an index left invalid by a failed `CREATE INDEX CONCURRENTLY`.
    pub valid: bool,
    /// Key columns and expressions in order, e.g. `["email"]`, `["lower((name)::text)"]`.
    pub key: Vec<String>,
    /// `INCLUDE` columns.
    pub include: Vec<String>,
    /// The `WHERE` of a partial index.
    pub predicate: Option<String>,
    /// The primary key, unique or exclusion constraint this index implements.
    pub constraint: Option<String>,
    pub comment: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerEnabled {
    /// Fires in origin and local sessions (the default).
    Origin,
    Disabled,
    Replica,
    Always,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    /// `pg_get_triggerdef`, e.g. `CREATE TRIGGER t BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.touch()`.
    pub definition: String,
    pub function: QualifiedName,
    pub enabled: TriggerEnabled,
    /// A `CREATE CONSTRAINT TRIGGER`.
    pub constraint: bool,
    pub comment: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyCommand {
    All,
    Select,
    Insert,
    Update,
    Delete,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub command: PolicyCommand,
    /// `AS PERMISSIVE` (the default) rather than `AS RESTRICTIVE`.
    pub permissive: bool,
    /// Role names, sorted; `public` for PUBLIC.
    pub roles: Vec<String>,
    pub using: Option<String>,
    pub with_check: Option<String>,
    pub comment: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    /// `pg_get_viewdef`.
    pub definition: String,
    /// `reloptions`, e.g. `check_option=local`, `security_barrier=true`.
    pub options: Vec<String>,
    pub comment: Option<String>,
    pub columns: BTreeMap<String, Column>,
    /// `INSTEAD OF` and statement triggers on the view.
    pub triggers: BTreeMap<String, Trigger>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaterializedView {
    /// `pg_get_viewdef`.
    pub definition: String,
    /// `false` when created `WITH NO DATA` and never refreshed.
    pub populated: bool,
    pub options: Vec<String>,
    pub comment: Option<String>,
    pub columns: BTreeMap<String, Column>,
    pub indexes: BTreeMap<String, Index>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnRef {
    pub table: QualifiedName,
    pub column: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sequence {
    /// `smallint`, `integer` or `bigint`.
    pub data_type: String,
    pub start: i64,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
    pub cache: i64,
    pub cycle: bool,
    pub persistence: Persistence,
    /// `OWNED BY` (e.g. the column of a `serial`).
    pub owned_by: Option<ColumnRef>,
    pub comment: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnumType {
    /// Labels in sort order.
    pub values: Vec<String>,
    pub comment: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    /// `format_type` of the base type, e.g. `numeric(10,2)`.
    pub base_type: String,
    pub not_null: bool,
    pub default: Option<String>,
    pub collation: Option<String>,
    pub checks: BTreeMap<String, DomainCheck>,
    pub comment: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainCheck {
    /// `pg_get_constraintdef`, e.g. `CHECK ((VALUE > 0))`.
    pub definition: String,
    pub validated: bool,
    pub comment: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompositeType {
    pub attributes: BTreeMap<String, Attribute>,
    pub comment: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    /// 1-based position among live attributes.
    pub position: i64,
    pub data_type: String,
    pub collation: Option<String>,
    pub comment: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FunctionKind {
    Function,
    Procedure,
    /// A `WINDOW` function.
    Window,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Volatility {
    Immutable,
    Stable,
    Volatile,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Parallel {
    Safe,
    Restricted,
    Unsafe,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Function {
    pub kind: FunctionKind,
    /// `pg_get_function_arguments`: the full argument list with modes and defaults.
    pub arguments: String,
    /// `pg_get_function_result`, e.g. `integer`, `SETOF public.users`, `TABLE(id integer)`; `None` for a
    /// procedure.
    pub result: Option<String>,
    pub language: String,
    pub volatility: Volatility,
    pub strict: bool,
    pub security_definer: bool,
    pub leakproof: bool,
    pub parallel: Parallel,
    /// `SET` clauses (`proconfig`), e.g. `search_path=pg_catalog`.
    pub config: Vec<String>,
    /// `pg_get_functiondef`: the whole `CREATE OR REPLACE` statement.
    pub definition: String,
    pub comment: Option<String>,
}
