//! The catalog queries (one per object kind, each returning every row of the database) and the assembly of
//! their rows into the model. OIDs are read only to join rows together here; none reaches the model.

use std::collections::{BTreeMap, HashMap};

use tokio_postgres::types::FromSql;
use tokio_postgres::{Client, Row};

use super::CatalogError;
use super::filter::{BOOKKEEPING_SCHEMAS, Filter, ObjectKind};
use super::model::*;

/// Leaves out `pg_catalog`, `pg_toast*`, `pg_temp*` (every `pg_` schema is reserved) and
/// `information_schema`; `{n}` is the alias of the `pg_namespace` row.
const USER_SCHEMA: &str = "{n}.nspname !~ '^pg_' AND {n}.nspname <> 'information_schema'";

/// True when the object `{oid}` of catalog `{class}` belongs to an extension.
const EXTENSION_MEMBER: &str = "EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = '{class}'::regclass AND x.objid = {oid} AND x.deptype = 'e')";

/// The name of a collation as the model spells it: bare in `pg_catalog`, else `schema.name`.
const COLLATION_NAME: &str = "CASE WHEN {cn}.nspname = 'pg_catalog' THEN {co}.collname::text ELSE {cn}.nspname || '.' || {co}.collname END";

fn user_schema(alias: &str) -> String {
    USER_SCHEMA.replace("{n}", alias)
}

fn extension_member(class: &str, oid: &str) -> String {
    EXTENSION_MEMBER
        .replace("{class}", class)
        .replace("{oid}", oid)
}

fn collation_name(co: &str, cn: &str) -> String {
    COLLATION_NAME.replace("{co}", co).replace("{cn}", cn)
}

/// The SQL of every query, adapted to the server version.
struct Queries {
    schemas: String,
    extensions: String,
    relations: String,
    columns: String,
    constraints: String,
    indexes: String,
    triggers: String,
    policies: String,
    sequences: String,
    types: String,
    functions: String,
}

impl Queries {
    fn new(version: i32) -> Queries {
        let generated = if version >= 120000 {
            "a.attgenerated::text"
        } else {
            "''::text"
        };
        let nulls_not_distinct = if version >= 150000 {
            "i.indnullsnotdistinct"
        } else {
            "false"
        };
        Queries {
            schemas: format!(
                "SELECT n.nspname::text AS name, d.description AS comment
                 FROM pg_namespace n
                 LEFT JOIN pg_description d
                   ON d.objoid = n.oid AND d.classoid = 'pg_namespace'::regclass AND d.objsubid = 0
                 WHERE {} AND NOT {}",
                user_schema("n"),
                extension_member("pg_namespace", "n.oid"),
            ),
            extensions: "SELECT e.extname::text AS name, n.nspname::text AS schema, e.extversion AS version
                 FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
                .to_string(),
            // Every relation, extension members included (flagged): partition parents, inheritance
            // parents and sequence owners are resolved through them.
            relations: format!(
                "SELECT c.oid AS oid, n.nspname::text AS schema, c.relname::text AS name,
                        c.relkind::text AS kind, c.relpersistence::text AS persistence,
                        c.relrowsecurity AS row_security, c.relforcerowsecurity AS force_row_security,
                        c.relispopulated AS populated, c.reloptions::text[] AS options,
                        c.relispartition AS is_partition,
                        CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
                        CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,
                        ARRAY(SELECT i.inhparent FROM pg_inherits i WHERE i.inhrelid = c.oid ORDER BY i.inhseqno) AS parents,
                        CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END AS view_definition,
                        d.description AS comment,
                        {} AS extension_member
                 FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 LEFT JOIN pg_description d
                   ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
                 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {}",
                extension_member("pg_class", "c.oid"),
                user_schema("n"),
            ),
            columns: format!(
                "SELECT a.attrelid AS relid, a.attnum AS attnum, a.attname::text AS name,
                        row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum) AS position,
                        format_type(a.atttypid, a.atttypmod) AS data_type, a.attnotnull AS not_null,
                        pg_get_expr(ad.adbin, ad.adrelid) AS default_expr,
                        a.attidentity::text AS identity, {generated} AS generated,
                        CASE WHEN a.attcollation <> t.typcollation THEN {collation} END AS collation,
                        d.description AS comment
                 FROM pg_attribute a
                 JOIN pg_class c ON c.oid = a.attrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 JOIN pg_type t ON t.oid = a.atttypid
                 LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                 LEFT JOIN pg_collation co ON co.oid = a.attcollation
                 LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
                 LEFT JOIN pg_description d
                   ON d.objoid = a.attrelid AND d.classoid = 'pg_class'::regclass AND d.objsubid = a.attnum
                 WHERE a.attnum > 0 AND NOT a.attisdropped
                   AND c.relkind IN ('r', 'p', 'v', 'm', 'c') AND {schema}",
                collation = collation_name("co", "cn"),
                schema = user_schema("n"),
            ),
            // Table constraints (conrelid) and domain checks (contypid) together.
            constraints: format!(
                "SELECT con.conrelid AS relid, con.contypid AS typid, con.conname::text AS name,
                        con.contype::text AS kind, pg_get_constraintdef(con.oid) AS definition,
                        con.condeferrable AS deferrable, con.condeferred AS deferred,
                        con.convalidated AS validated, con.conislocal AS local,
                        ARRAY(SELECT a.attname::text
                              FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
                              JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
                              ORDER BY k.ord) AS columns,
                        fn.nspname::text AS ref_schema, fc.relname::text AS ref_name,
                        ARRAY(SELECT a.attname::text
                              FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
                              JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
                              ORDER BY k.ord) AS ref_columns,
                        con.confupdtype::text AS on_update, con.confdeltype::text AS on_delete,
                        con.confmatchtype::text AS match_type,
                        d.description AS comment
                 FROM pg_constraint con
                 JOIN pg_namespace n ON n.oid = con.connamespace
                 LEFT JOIN pg_class fc ON fc.oid = con.confrelid
                 LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
                 LEFT JOIN pg_description d
                   ON d.objoid = con.oid AND d.classoid = 'pg_constraint'::regclass AND d.objsubid = 0
                 WHERE con.contype IN ('p', 'u', 'c', 'f', 'x') AND {}",
                user_schema("n"),
            ),
            indexes: format!(
                "SELECT i.indrelid AS relid, ic.relname::text AS name, am.amname::text AS method,
                        pg_get_indexdef(i.indexrelid) AS definition,
                        i.indisunique AS is_unique, i.indisprimary AS is_primary, i.indisvalid AS valid,
                        {nulls_not_distinct} AS nulls_not_distinct,
                        ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, false)
                              FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k) AS key,
                        ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, false)
                              FROM generate_series(i.indnkeyatts + 1, i.indnatts) AS k ORDER BY k) AS include,
                        pg_get_expr(i.indpred, i.indrelid) AS predicate,
                        con.conname::text AS constraint_name,
                        d.description AS comment
                 FROM pg_index i
                 JOIN pg_class ic ON ic.oid = i.indexrelid
                 JOIN pg_namespace n ON n.oid = ic.relnamespace
                 JOIN pg_am am ON am.oid = ic.relam
                 LEFT JOIN pg_constraint con
                   ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
                 LEFT JOIN pg_description d
                   ON d.objoid = i.indexrelid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
                 WHERE {}",
                user_schema("n"),
            ),
            triggers: format!(
                "SELECT t.tgrelid AS relid, t.tgname::text AS name, pg_get_triggerdef(t.oid) AS definition,
                        t.tgenabled::text AS enabled, pn.nspname::text AS function_schema,
                        p.proname::text AS function_name, t.tgconstraint <> 0 AS is_constraint,
                        d.description AS comment
                 FROM pg_trigger t
                 JOIN pg_class c ON c.oid = t.tgrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 JOIN pg_proc p ON p.oid = t.tgfoid
                 JOIN pg_namespace pn ON pn.oid = p.pronamespace
                 LEFT JOIN pg_description d
                   ON d.objoid = t.oid AND d.classoid = 'pg_trigger'::regclass AND d.objsubid = 0
                 WHERE NOT t.tgisinternal AND {}",
                user_schema("n"),
            ),
            policies: format!(
                "SELECT pol.polrelid AS relid, pol.polname::text AS name, pol.polcmd::text AS command,
                        pol.polpermissive AS permissive,
                        ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'public'
                                          ELSE COALESCE((SELECT ro.rolname::text FROM pg_roles ro WHERE ro.oid = r.oid),
                                                        r.oid::text) END
                              FROM unnest(pol.polroles) AS r(oid)) AS roles,
                        pg_get_expr(pol.polqual, pol.polrelid) AS using_expr,
                        pg_get_expr(pol.polwithcheck, pol.polrelid) AS with_check,
                        d.description AS comment
                 FROM pg_policy pol
                 JOIN pg_class c ON c.oid = pol.polrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 LEFT JOIN pg_description d
                   ON d.objoid = pol.oid AND d.classoid = 'pg_policy'::regclass AND d.objsubid = 0
                 WHERE {}",
                user_schema("n"),
            ),
            // With the column that owns the sequence (`a`: OWNED BY, `i`: an identity column's).
            sequences: format!(
                "SELECT c.oid AS oid, n.nspname::text AS schema, c.relname::text AS name,
                        format_type(s.seqtypid, NULL) AS data_type,
                        s.seqstart AS start, s.seqincrement AS increment, s.seqmin AS min, s.seqmax AS max,
                        s.seqcache AS cache, s.seqcycle AS cycle, c.relpersistence::text AS persistence,
                        dep.deptype::text AS dependency, dep.refobjid AS owner_relid,
                        dep.refobjsubid AS owner_attnum, oa.attname::text AS owner_column,
                        d.description AS comment
                 FROM pg_sequence s
                 JOIN pg_class c ON c.oid = s.seqrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 LEFT JOIN pg_depend dep
                   ON dep.classid = 'pg_class'::regclass AND dep.objid = c.oid
                  AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')
                 LEFT JOIN pg_attribute oa ON oa.attrelid = dep.refobjid AND oa.attnum = dep.refobjsubid
                 LEFT JOIN pg_description d
                   ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
                 WHERE {} AND NOT {}",
                user_schema("n"),
                extension_member("pg_class", "c.oid"),
            ),
            // Enums, domains and stand-alone composite types (not the row types of tables).
            types: format!(
                "SELECT n.nspname::text AS schema, t.typname::text AS name, t.typtype::text AS kind,
                        t.typrelid AS relid, t.oid AS oid,
                        ARRAY(SELECT e.enumlabel::text FROM pg_enum e
                              WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS labels,
                        CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base_type,
                        t.typnotnull AS not_null, pg_get_expr(t.typdefaultbin, 0) AS default_expr,
                        CASE WHEN t.typtype = 'd' AND t.typcollation <> bt.typcollation THEN {collation} END AS collation,
                        d.description AS comment
                 FROM pg_type t
                 JOIN pg_namespace n ON n.oid = t.typnamespace
                 LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
                 LEFT JOIN pg_collation co ON co.oid = t.typcollation
                 LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
                 LEFT JOIN pg_description d
                   ON d.objoid = t.oid AND d.classoid = 'pg_type'::regclass AND d.objsubid = 0
                 WHERE (t.typtype IN ('e', 'd')
                        OR (t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_class r WHERE r.oid = t.typrelid AND r.relkind = 'c')))
                   AND {schema} AND NOT {member}",
                collation = collation_name("co", "cn"),
                schema = user_schema("n"),
                member = extension_member("pg_type", "t.oid"),
            ),
            functions: format!(
                "SELECT n.nspname::text AS schema, p.proname::text AS name,
                        pg_get_function_identity_arguments(p.oid) AS identity_arguments,
                        pg_get_function_arguments(p.oid) AS arguments,
                        pg_get_function_result(p.oid) AS result,
                        p.prokind::text AS kind, l.lanname::text AS language,
                        p.provolatile::text AS volatility, p.proisstrict AS strict,
                        p.prosecdef AS security_definer, p.proleakproof AS leakproof,
                        p.proparallel::text AS parallel, p.proconfig AS config,
                        COALESCE(pg_get_functiondef(p.oid), p.prosrc) AS definition,
                        d.description AS comment
                 FROM pg_proc p
                 JOIN pg_namespace n ON n.oid = p.pronamespace
                 JOIN pg_language l ON l.oid = p.prolang
                 LEFT JOIN pg_description d
                   ON d.objoid = p.oid AND d.classoid = 'pg_proc'::regclass AND d.objsubid = 0
                 WHERE p.prokind <> 'a' AND {} AND NOT {}",
                user_schema("n"),
                extension_member("pg_proc", "p.oid"),
            ),
        }
    }
}

/// One row of one query, read without panicking.
struct Fields<'a> {
    row: &'a Row,
    query: &'static str,
}

impl<'a> Fields<'a> {
    fn get<T: FromSql<'a>>(&self, column: &'static str) -> Result<T, CatalogError> {
        self.row.try_get(column).map_err(|e| CatalogError::Decode {
            query: self.query,
            column,
            reason: e.to_string(),
        })
    }

    /// A text column that must be one of the codes `decode` knows.
    fn code<T>(
        &self,
        column: &'static str,
        decode: impl FnOnce(&str) -> Option<T>,
    ) -> Result<T, CatalogError> {
        let value: String = self.get(column)?;
        decode(&value).ok_or(CatalogError::Unexpected {
            what: column,
            value,
        })
    }

    fn strings(&self, column: &'static str) -> Result<Vec<String>, CatalogError> {
        Ok(self.get::<Option<Vec<String>>>(column)?.unwrap_or_default())
    }
}

async fn run(client: &Client, query: &'static str, sql: &str) -> Result<Vec<Row>, CatalogError> {
    client
        .query(sql, &[])
        .await
        .map_err(|e| CatalogError::Query {
            query,
            reason: crate::engine::db_error_text(&e),
        })
}

fn rows<'a>(rows: &'a [Row], query: &'static str) -> impl Iterator<Item = Fields<'a>> {
    rows.iter().map(move |row| Fields { row, query })
}

fn persistence(code: &str) -> Option<Persistence> {
    match code {
        "p" => Some(Persistence::Permanent),
        "u" => Some(Persistence::Unlogged),
        _ => None,
    }
}

fn referential_action(code: &str) -> Option<ReferentialAction> {
    match code {
        "a" => Some(ReferentialAction::NoAction),
        "r" => Some(ReferentialAction::Restrict),
        "c" => Some(ReferentialAction::Cascade),
        "n" => Some(ReferentialAction::SetNull),
        "d" => Some(ReferentialAction::SetDefault),
        _ => None,
    }
}

/// A relation as read: its name and whether the snapshot keeps it.
struct Relation {
    name: QualifiedName,
    included: bool,
}

/// The table-like objects being assembled, by OID.
#[derive(Default)]
struct Relations {
    all: HashMap<u32, Relation>,
    tables: HashMap<u32, Table>,
    views: HashMap<u32, View>,
    materialized_views: HashMap<u32, MaterializedView>,
    /// Stand-alone composite types, by the OID of their `pg_class` row.
    composites: HashMap<u32, (QualifiedName, CompositeType)>,
}

impl Relations {
    fn columns_of(&mut self, relid: u32) -> Option<&mut BTreeMap<String, Column>> {
        if let Some(t) = self.tables.get_mut(&relid) {
            Some(&mut t.columns)
        } else if let Some(v) = self.views.get_mut(&relid) {
            Some(&mut v.columns)
        } else {
            self.materialized_views
                .get_mut(&relid)
                .map(|m| &mut m.columns)
        }
    }

    fn indexes_of(&mut self, relid: u32) -> Option<&mut BTreeMap<String, Index>> {
        if let Some(t) = self.tables.get_mut(&relid) {
            Some(&mut t.indexes)
        } else {
            self.materialized_views
                .get_mut(&relid)
                .map(|m| &mut m.indexes)
        }
    }

    fn triggers_of(&mut self, relid: u32) -> Option<&mut BTreeMap<String, Trigger>> {
        if let Some(t) = self.tables.get_mut(&relid) {
            Some(&mut t.triggers)
        } else {
            self.views.get_mut(&relid).map(|v| &mut v.triggers)
        }
    }

    fn name_of(&self, relid: u32) -> Result<QualifiedName, CatalogError> {
        name_of(&self.all, relid)
    }
}

fn name_of(all: &HashMap<u32, Relation>, relid: u32) -> Result<QualifiedName, CatalogError> {
    all.get(&relid)
        .map(|r| r.name.clone())
        .ok_or(CatalogError::Unexpected {
            what: "relation reference",
            value: relid.to_string(),
        })
}

/// Runs every query (pipelined on the one connection) and assembles the catalog.
pub(crate) async fn read(
    client: &Client,
    version: i32,
    filter: &mut Filter<'_>,
) -> Result<Catalog, CatalogError> {
    let q = Queries::new(version);
    let (
        schemas,
        extensions,
        relations,
        columns,
        constraints,
        indexes,
        triggers,
        policies,
        sequences,
        types,
        functions,
    ) = tokio::try_join!(
        run(client, "schemas", &q.schemas),
        run(client, "extensions", &q.extensions),
        run(client, "relations", &q.relations),
        run(client, "columns", &q.columns),
        run(client, "constraints", &q.constraints),
        run(client, "indexes", &q.indexes),
        run(client, "triggers", &q.triggers),
        run(client, "policies", &q.policies),
        run(client, "sequences", &q.sequences),
        run(client, "types", &q.types),
        run(client, "functions", &q.functions),
    )?;

    let mut assembly = Assembly {
        catalog: Catalog::default(),
        rels: Relations::default(),
        filter,
        identities: HashMap::new(),
        domains_by_oid: HashMap::new(),
    };
    assembly.schemas(&schemas)?;
    assembly.extensions(&extensions)?;
    assembly.relations(&relations)?;
    assembly.sequences(&sequences)?;
    assembly.types(&types)?;
    assembly.columns(&columns)?;
    assembly.constraints(&constraints)?;
    assembly.indexes(&indexes)?;
    assembly.triggers(&triggers)?;
    assembly.policies(&policies)?;
    assembly.functions(&functions)?;
    assembly.finish()
}

/// The catalog being assembled from the query results, one object kind at a time.
struct Assembly<'a, 'f> {
    catalog: Catalog,
    rels: Relations,
    filter: &'a mut Filter<'f>,
    /// Options of identity columns' sequences by (table, column number), for the columns.
    identities: HashMap<(u32, i32), Identity>,
    /// Domains by type OID, receiving their constraints before they join the catalog.
    domains_by_oid: HashMap<u32, (QualifiedName, Domain)>,
}

impl Assembly<'_, '_> {
    /// User schemas (an excluded one is remembered, so its objects are left out too).
    fn schemas(&mut self, rows_of: &[Row]) -> Result<(), CatalogError> {
        for f in rows(rows_of, "schemas") {
            let name: String = f.get("name")?;
            if self.filter.excludes_bare(ObjectKind::Schema, &name) {
                self.filter.excluded_schemas.insert(name);
                continue;
            }
            self.catalog.schemas.insert(
                name,
                Schema {
                    comment: f.get("comment")?,
                },
            );
        }
        Ok(())
    }

    /// Installed extensions.
    fn extensions(&mut self, rows_of: &[Row]) -> Result<(), CatalogError> {
        for f in rows(rows_of, "extensions") {
            let name: String = f.get("name")?;
            if self.filter.excludes_bare(ObjectKind::Extension, &name) {
                continue;
            }
            self.catalog.extensions.insert(
                name,
                Extension {
                    schema: f.get("schema")?,
                    version: f.get("version")?,
                },
            );
        }
        Ok(())
    }

    /// Tables, views and materialized views (sequences have their own query), and the partition and
    /// inheritance parents of tables, resolved once every relation is known.
    fn relations(&mut self, rows_of: &[Row]) -> Result<(), CatalogError> {
        // Partition and inheritance parents, resolved once every relation is known.
        let mut parents: Vec<(u32, bool, Vec<u32>)> = Vec::new();
        for f in rows(rows_of, "relations") {
            let oid: u32 = f.get("oid")?;
            let name = QualifiedName::new(f.get::<String>("schema")?, f.get::<String>("name")?);
            let relkind: String = f.get("kind")?;
            let kind = match relkind.as_str() {
                "r" | "p" | "f" => ObjectKind::Table,
                "v" => ObjectKind::View,
                "m" => ObjectKind::MaterializedView,
                "S" => ObjectKind::Sequence,
                _ => {
                    return Err(CatalogError::Unexpected {
                        what: "relkind",
                        value: relkind,
                    });
                }
            };
            let member: bool = f.get("extension_member")?;
            // Foreign tables need foreign servers, which are not modelled: they are never listed.
            let included = !member && relkind != "f" && !self.filter.excludes(kind, &name);
            if included {
                let options = f.strings("options")?;
                let comment: Option<String> = f.get("comment")?;
                match kind {
                    ObjectKind::Table => {
                        self.rels.tables.insert(
                            oid,
                            Table {
                                persistence: f.code("persistence", persistence)?,
                                partition_key: f.get("partition_key")?,
                                partition_of: None,
                                partition_bound: f.get("partition_bound")?,
                                inherits: Vec::new(),
                                options,
                                row_security: f.get("row_security")?,
                                force_row_security: f.get("force_row_security")?,
                                comment,
                                columns: BTreeMap::new(),
                                constraints: BTreeMap::new(),
                                indexes: BTreeMap::new(),
                                triggers: BTreeMap::new(),
                                policies: BTreeMap::new(),
                            },
                        );
                        parents.push((oid, f.get("is_partition")?, f.get("parents")?));
                    }
                    ObjectKind::View => {
                        self.rels.views.insert(
                            oid,
                            View {
                                definition: f
                                    .get::<Option<String>>("view_definition")?
                                    .unwrap_or_default(),
                                options,
                                comment,
                                columns: BTreeMap::new(),
                                triggers: BTreeMap::new(),
                            },
                        );
                    }
                    ObjectKind::MaterializedView => {
                        self.rels.materialized_views.insert(
                            oid,
                            MaterializedView {
                                definition: f
                                    .get::<Option<String>>("view_definition")?
                                    .unwrap_or_default(),
                                populated: f.get("populated")?,
                                options,
                                comment,
                                columns: BTreeMap::new(),
                                indexes: BTreeMap::new(),
                            },
                        );
                    }
                    // Sequences are read by their own query.
                    _ => {}
                }
            }
            self.rels.all.insert(oid, Relation { name, included });
        }
        for (oid, is_partition, parent_oids) in parents {
            let mut names = Vec::with_capacity(parent_oids.len());
            for p in parent_oids {
                names.push(self.rels.name_of(p)?);
            }
            if let Some(table) = self.rels.tables.get_mut(&oid) {
                if is_partition {
                    table.partition_of = names.into_iter().next();
                } else {
                    table.inherits = names;
                }
            }
        }
        Ok(())
    }

    /// Sequences, and the options of identity columns' sequences by (table, column number).
    fn sequences(&mut self, rows_of: &[Row]) -> Result<(), CatalogError> {
        // Sequences, and the options of identity columns' sequences by (table, column number).
        for f in rows(rows_of, "sequences") {
            let name = QualifiedName::new(f.get::<String>("schema")?, f.get::<String>("name")?);
            let dependency: Option<String> = f.get("dependency")?;
            let owner_relid: Option<u32> = f.get("owner_relid")?;
            let owner_attnum: Option<i32> = f.get("owner_attnum")?;
            let (start, increment, min, max, cache, cycle) = (
                f.get("start")?,
                f.get("increment")?,
                f.get("min")?,
                f.get("max")?,
                f.get("cache")?,
                f.get("cycle")?,
            );
            if let (Some("i"), Some(relid), Some(attnum)) =
                (dependency.as_deref(), owner_relid, owner_attnum)
            {
                self.identities.insert(
                    (relid, attnum),
                    Identity {
                        // Set from the column's attidentity below.
                        generation: IdentityGeneration::Always,
                        start,
                        increment,
                        min,
                        max,
                        cache,
                        cycle,
                    },
                );
                continue;
            }
            if self.filter.excludes(ObjectKind::Sequence, &name) {
                continue;
            }
            let owned_by = match (dependency.as_deref(), owner_relid) {
                (Some("a"), Some(relid)) => {
                    let owner = self.rels.all.get(&relid);
                    // A sequence goes with the table that owns it (e.g. a bookkeeping table's serial).
                    if owner.is_some_and(|o| !o.included) {
                        continue;
                    }
                    let column: Option<String> = f.get("owner_column")?;
                    Some(ColumnRef {
                        table: self.rels.name_of(relid)?,
                        column: column.unwrap_or_default(),
                    })
                }
                _ => None,
            };
            self.catalog.sequences.insert(
                name,
                Sequence {
                    data_type: f.get("data_type")?,
                    start,
                    increment,
                    min,
                    max,
                    cache,
                    cycle,
                    persistence: f.code("persistence", persistence)?,
                    owned_by,
                    comment: f.get("comment")?,
                },
            );
        }
        Ok(())
    }

    /// Enums, domains and composite types (before columns, so that composite types receive their
    /// attributes).
    fn types(&mut self, rows_of: &[Row]) -> Result<(), CatalogError> {
        // Types first, so that composite types can receive their attributes from the columns query.
        for f in rows(rows_of, "types") {
            let name = QualifiedName::new(f.get::<String>("schema")?, f.get::<String>("name")?);
            let comment: Option<String> = f.get("comment")?;
            let typtype: String = f.get("kind")?;
            match typtype.as_str() {
                "e" => {
                    if !self.filter.excludes(ObjectKind::Enum, &name) {
                        self.catalog.enums.insert(
                            name,
                            EnumType {
                                values: f.get("labels")?,
                                comment,
                            },
                        );
                    }
                }
                "d" => {
                    if !self.filter.excludes(ObjectKind::Domain, &name) {
                        let domain = Domain {
                            base_type: f.get::<Option<String>>("base_type")?.unwrap_or_default(),
                            not_null: f.get("not_null")?,
                            default: f.get("default_expr")?,
                            collation: f.get("collation")?,
                            checks: BTreeMap::new(),
                            comment,
                        };
                        self.domains_by_oid.insert(f.get("oid")?, (name, domain));
                    }
                }
                "c" => {
                    if !self.filter.excludes(ObjectKind::CompositeType, &name) {
                        let composite = CompositeType {
                            attributes: BTreeMap::new(),
                            comment,
                        };
                        self.rels
                            .composites
                            .insert(f.get("relid")?, (name, composite));
                    }
                }
                _ => {
                    return Err(CatalogError::Unexpected {
                        what: "typtype",
                        value: typtype,
                    });
                }
            }
        }
        Ok(())
    }

    /// Columns of tables, views and materialized views, and attributes of composite types.
    fn columns(&mut self, rows_of: &[Row]) -> Result<(), CatalogError> {
        for f in rows(rows_of, "columns") {
            let relid: u32 = f.get("relid")?;
            let name: String = f.get("name")?;
            let position: i64 = f.get("position")?;
            let data_type: String = f.get("data_type")?;
            let collation: Option<String> = f.get("collation")?;
            let comment: Option<String> = f.get("comment")?;
            if let Some((_, composite)) = self.rels.composites.get_mut(&relid) {
                composite.attributes.insert(
                    name,
                    Attribute {
                        position,
                        data_type,
                        collation,
                        comment,
                    },
                );
                continue;
            }
            let attnum: i16 = f.get("attnum")?;
            let identity = match f.get::<String>("identity")?.as_str() {
                "" => None,
                code => {
                    let generation = match code {
                        "a" => IdentityGeneration::Always,
                        "d" => IdentityGeneration::ByDefault,
                        _ => {
                            return Err(CatalogError::Unexpected {
                                what: "attidentity",
                                value: code.to_string(),
                            });
                        }
                    };
                    let options = self.identities.remove(&(relid, i32::from(attnum))).ok_or(
                        CatalogError::Unexpected {
                            what: "identity column without a sequence",
                            value: name.clone(),
                        },
                    )?;
                    Some(Identity {
                        generation,
                        ..options
                    })
                }
            };
            let default_expr: Option<String> = f.get("default_expr")?;
            let (default, generated) = match f.get::<String>("generated")?.as_str() {
                "" => (default_expr, None),
                code => {
                    let kind = match code {
                        "s" => GeneratedKind::Stored,
                        "v" => GeneratedKind::Virtual,
                        _ => {
                            return Err(CatalogError::Unexpected {
                                what: "attgenerated",
                                value: code.to_string(),
                            });
                        }
                    };
                    let expression = default_expr.unwrap_or_default();
                    (None, Some(Generated { kind, expression }))
                }
            };
            let Some(columns) = self.rels.columns_of(relid) else {
                continue;
            };
            columns.insert(
                name,
                Column {
                    position,
                    data_type,
                    not_null: f.get("not_null")?,
                    default,
                    identity,
                    generated,
                    collation,
                    comment,
                },
            );
        }
        Ok(())
    }

    /// Constraints of tables and of domains.
    fn constraints(&mut self, rows_of: &[Row]) -> Result<(), CatalogError> {
        for f in rows(rows_of, "constraints") {
            let name: String = f.get("name")?;
            let definition: String = f.get("definition")?;
            let validated: bool = f.get("validated")?;
            let comment: Option<String> = f.get("comment")?;
            let typid: u32 = f.get("typid")?;
            if typid != 0 {
                if let Some((_, domain)) = self.domains_by_oid.get_mut(&typid) {
                    domain.checks.insert(
                        name,
                        DomainCheck {
                            definition,
                            validated,
                            comment,
                        },
                    );
                }
                continue;
            }
            let relid: u32 = f.get("relid")?;
            let Some(table) = self.rels.tables.get_mut(&relid) else {
                continue;
            };
            let kind = f.code("kind", |c| match c {
                "p" => Some(ConstraintKind::PrimaryKey),
                "u" => Some(ConstraintKind::Unique),
                "c" => Some(ConstraintKind::Check),
                "f" => Some(ConstraintKind::ForeignKey),
                "x" => Some(ConstraintKind::Exclusion),
                _ => None,
            })?;
            let foreign_key = if kind == ConstraintKind::ForeignKey {
                let (Some(schema), Some(table_name)) = (
                    f.get::<Option<String>>("ref_schema")?,
                    f.get::<Option<String>>("ref_name")?,
                ) else {
                    return Err(CatalogError::Unexpected {
                        what: "foreign key without a referenced table",
                        value: name,
                    });
                };
                Some(ForeignKey {
                    references: QualifiedName::new(schema, table_name),
                    referenced_columns: f.get("ref_columns")?,
                    on_update: f.code("on_update", referential_action)?,
                    on_delete: f.code("on_delete", referential_action)?,
                    match_type: f.code("match_type", |c| match c {
                        "s" => Some(MatchType::Simple),
                        "f" => Some(MatchType::Full),
                        "p" => Some(MatchType::Partial),
                        _ => None,
                    })?,
                })
            } else {
                None
            };
            table.constraints.insert(
                name,
                Constraint {
                    kind,
                    definition,
                    columns: f.get("columns")?,
                    deferrable: f.get("deferrable")?,
                    initially_deferred: f.get("deferred")?,
                    validated,
                    inherited: !f.get::<bool>("local")?,
                    foreign_key,
                    comment,
                },
            );
        }
        for (_, (name, domain)) in std::mem::take(&mut self.domains_by_oid) {
            self.catalog.domains.insert(name, domain);
        }
        Ok(())
    }

    /// Indexes of tables and materialized views.
    fn indexes(&mut self, rows_of: &[Row]) -> Result<(), CatalogError> {
        for f in rows(rows_of, "indexes") {
            let relid: u32 = f.get("relid")?;
            let Some(indexes) = self.rels.indexes_of(relid) else {
                continue;
            };
            indexes.insert(
                f.get("name")?,
                Index {
                    method: f.get("method")?,
                    definition: f.get("definition")?,
                    unique: f.get("is_unique")?,
                    primary: f.get("is_primary")?,
                    nulls_not_distinct: f.get("nulls_not_distinct")?,
                    valid: f.get("valid")?,
                    key: f.get("key")?,
                    include: f.get("include")?,
                    predicate: f.get("predicate")?,
                    constraint: f.get("constraint_name")?,
                    comment: f.get("comment")?,
                },
            );
        }
        Ok(())
    }

    /// Triggers of tables and views.
    fn triggers(&mut self, rows_of: &[Row]) -> Result<(), CatalogError> {
        for f in rows(rows_of, "triggers") {
            let relid: u32 = f.get("relid")?;
            let Some(triggers) = self.rels.triggers_of(relid) else {
                continue;
            };
            triggers.insert(
                f.get("name")?,
                Trigger {
                    definition: f.get("definition")?,
                    function: QualifiedName::new(
                        f.get::<String>("function_schema")?,
                        f.get::<String>("function_name")?,
                    ),
                    enabled: f.code("enabled", |c| match c {
                        "O" => Some(TriggerEnabled::Origin),
                        "D" => Some(TriggerEnabled::Disabled),
                        "R" => Some(TriggerEnabled::Replica),
                        "A" => Some(TriggerEnabled::Always),
                        _ => None,
                    })?,
                    constraint: f.get("is_constraint")?,
                    comment: f.get("comment")?,
                },
            );
        }
        Ok(())
    }

    /// Row-level security policies.
    fn policies(&mut self, rows_of: &[Row]) -> Result<(), CatalogError> {
        for f in rows(rows_of, "policies") {
            let relid: u32 = f.get("relid")?;
            let Some(table) = self.rels.tables.get_mut(&relid) else {
                continue;
            };
            let mut roles: Vec<String> = f.get("roles")?;
            roles.sort();
            table.policies.insert(
                f.get("name")?,
                Policy {
                    command: f.code("command", |c| match c {
                        "*" => Some(PolicyCommand::All),
                        "r" => Some(PolicyCommand::Select),
                        "a" => Some(PolicyCommand::Insert),
                        "w" => Some(PolicyCommand::Update),
                        "d" => Some(PolicyCommand::Delete),
                        _ => None,
                    })?,
                    permissive: f.get("permissive")?,
                    roles,
                    using: f.get("using_expr")?,
                    with_check: f.get("with_check")?,
                    comment: f.get("comment")?,
                },
            );
        }
        Ok(())
    }

    /// Functions and procedures.
    fn functions(&mut self, rows_of: &[Row]) -> Result<(), CatalogError> {
        for f in rows(rows_of, "functions") {
            let name = QualifiedName::new(f.get::<String>("schema")?, f.get::<String>("name")?);
            if self.filter.excludes(ObjectKind::Function, &name) {
                continue;
            }
            let signature = FunctionSignature {
                name,
                arguments: f
                    .get::<Option<String>>("identity_arguments")?
                    .unwrap_or_default(),
            };
            self.catalog.functions.insert(
                signature,
                Function {
                    kind: f.code("kind", |c| match c {
                        "f" => Some(FunctionKind::Function),
                        "p" => Some(FunctionKind::Procedure),
                        "w" => Some(FunctionKind::Window),
                        _ => None,
                    })?,
                    arguments: f.get::<Option<String>>("arguments")?.unwrap_or_default(),
                    result: f.get("result")?,
                    language: f.get("language")?,
                    volatility: f.code("volatility", |c| match c {
                        "i" => Some(Volatility::Immutable),
                        "s" => Some(Volatility::Stable),
                        "v" => Some(Volatility::Volatile),
                        _ => None,
                    })?,
                    strict: f.get("strict")?,
                    security_definer: f.get("security_definer")?,
                    leakproof: f.get("leakproof")?,
                    parallel: f.code("parallel", |c| match c {
                        "s" => Some(Parallel::Safe),
                        "r" => Some(Parallel::Restricted),
                        "u" => Some(Parallel::Unsafe),
                        _ => None,
                    })?,
                    config: f.strings("config")?,
                    definition: f.get::<Option<String>>("definition")?.unwrap_or_default(),
                    comment: f.get("comment")?,
                },
            );
        }
        Ok(())
    }

    /// The catalog, with every relation under its name.
    fn finish(self) -> Result<Catalog, CatalogError> {
        let mut catalog = self.catalog;
        let Relations {
            all,
            tables,
            views,
            materialized_views,
            composites,
        } = self.rels;
        for (oid, table) in tables {
            catalog.tables.insert(name_of(&all, oid)?, table);
        }
        for (oid, view) in views {
            catalog.views.insert(name_of(&all, oid)?, view);
        }
        for (oid, view) in materialized_views {
            catalog.materialized_views.insert(name_of(&all, oid)?, view);
        }
        for (_, (name, composite)) in composites {
            catalog.composite_types.insert(name, composite);
        }

        // A runner's own schema (e.g. `drizzle`) is left out once its bookkeeping table is.
        for schema in BOOKKEEPING_SCHEMAS {
            if !schema_in_use(&catalog, schema) {
                catalog.schemas.remove(*schema);
            }
        }
        Ok(catalog)
    }
}

/// Whether anything in the catalog lives in `schema`.
fn schema_in_use(catalog: &Catalog, schema: &str) -> bool {
    fn any<T>(map: &BTreeMap<QualifiedName, T>, schema: &str) -> bool {
        map.keys().any(|k| k.schema == schema)
    }
    any(&catalog.tables, schema)
        || any(&catalog.views, schema)
        || any(&catalog.materialized_views, schema)
        || any(&catalog.sequences, schema)
        || any(&catalog.enums, schema)
        || any(&catalog.domains, schema)
        || any(&catalog.composite_types, schema)
        || catalog.functions.keys().any(|k| k.name.schema == schema)
        || catalog.extensions.values().any(|e| e.schema == schema)
}
