//! The `catalog` stage snapshots the schema of a database so that a later `diff` stage can compare two
//! databases object by object and report drift.
//!
//! [`snapshot`] takes a connected [`tokio_postgres::Client`] and [`SnapshotOptions`] and returns a
//! [`Catalog`]: schemas, extensions, tables (partitioned, partitions, unlogged) with their columns,
//! constraints, indexes, triggers, row-level security flags and policies, views, materialized views,
//! sequences, enums, domains, composite types, functions and procedures, and their comments. It reads
//! `pg_catalog` with one query per object kind (each returning every row of the database, so the cost does
//! not grow with round trips per table) and deparses with the server's own functions (`format_type`,
//! `pg_get_expr`, `pg_get_constraintdef`, `pg_get_indexdef`, `pg_get_viewdef`, `pg_get_functiondef`,
//! `pg_get_triggerdef`) under `search_path = pg_catalog`, so that every user object is printed
//! schema-qualified whatever the session's path was (the session's `search_path` is restored afterwards).
//!
//! The model is plain data: no OIDs, every collection a `BTreeMap` keyed by name ([`QualifiedName`] for
//! schema objects, [`FunctionSignature`] for functions), so it serializes deterministically with serde and
//! two databases built from the same DDL give equal catalogs. Left out: system schemas (`pg_catalog`,
//! `information_schema`, `pg_toast*`, `pg_temp*`), objects that belong to extensions, the bookkeeping
//! tables of migration runners ([`BOOKKEEPING_TABLES`], with their sequences and the `drizzle` schema when
//! nothing else is in it), and whatever the user's [`Exclusion`]s match. Not modelled: privileges and
//! owners, roles, rules, aggregates, range and base types, collations, casts, operators, text-search
//! objects, foreign tables and servers, publications, statistics objects, event triggers, tablespaces.
//! PostgreSQL 12 or later is required.

mod filter;
mod introspect;
mod model;

#[cfg(test)]
mod tests;

pub use filter::{BOOKKEEPING_SCHEMAS, BOOKKEEPING_TABLES, Exclusion, ObjectKind, glob_match};
pub use model::*;

use tokio_postgres::Client;

use crate::engine::db_error_text;

/// What to leave out of a snapshot beyond the built-in exclusions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotOptions {
    pub exclude: Vec<Exclusion>,
}

/// Why a snapshot could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("could not read {query} from the catalog: {reason}")]
    Query { query: &'static str, reason: String },
    #[error("could not decode column `{column}` of the {query} catalog query: {reason}")]
    Decode {
        query: &'static str,
        column: &'static str,
        reason: String,
    },
    #[error("unexpected {what} `{value}` in the catalog")]
    Unexpected { what: &'static str, value: String },
    #[error(
        "the server runs PostgreSQL {version}; snapshotting its catalog needs PostgreSQL 12 or later"
    )]
    UnsupportedServer { version: String },
}

/// The oldest server whose catalog [`snapshot`] can read (`server_version_num`).
pub const MIN_SERVER_VERSION: i32 = 120000;

/// Reads the schema of the database `client` is connected to.
///
/// Runs a fixed number of catalog queries whatever the size of the schema. The session's `search_path`
/// is set to `pg_catalog` for the duration and restored afterwards.
pub async fn snapshot(client: &Client, options: &SnapshotOptions) -> Result<Catalog, CatalogError> {
    let query_err = |query: &'static str| {
        move |e: tokio_postgres::Error| CatalogError::Query {
            query,
            reason: db_error_text(&e),
        }
    };
    let row = client
        .query_one(
            "SELECT pg_catalog.current_setting('server_version_num')::pg_catalog.int4, \
                    pg_catalog.current_setting('server_version'), \
                    pg_catalog.current_setting('search_path')",
            &[],
        )
        .await
        .map_err(query_err("the server settings"))?;
    let setting = |i: usize| -> Result<String, CatalogError> {
        row.try_get::<_, String>(i)
            .map_err(|e| CatalogError::Decode {
                query: "settings",
                column: "current_setting",
                reason: e.to_string(),
            })
    };
    let version_num: i32 = row.try_get(0).map_err(|e| CatalogError::Decode {
        query: "settings",
        column: "server_version_num",
        reason: e.to_string(),
    })?;
    if version_num < MIN_SERVER_VERSION {
        return Err(CatalogError::UnsupportedServer {
            version: setting(1)?,
        });
    }
    let search_path = setting(2)?;

    client
        .execute(
            "SELECT pg_catalog.set_config('search_path', 'pg_catalog', false)",
            &[],
        )
        .await
        .map_err(query_err("search_path"))?;
    let mut filter = filter::Filter::new(&options.exclude);
    let result = introspect::read(client, version_num, &mut filter).await;
    let restored = client
        .execute(
            "SELECT pg_catalog.set_config('search_path', $1, false)",
            &[&search_path],
        )
        .await
        .map_err(query_err("search_path"));
    let catalog = result?;
    restored?;
    Ok(catalog)
}
