//! The `declared` stage loads a declared schema (what the team believes the database looks like) into
//! a scratch database, so that it can be introspected and compared with what the migrations build.
//!
//! It takes a connected client on an empty scratch database and a [`DeclaredSchema`]; it returns a
//! [`Loaded`]: whether the file loaded, the statement that declares each object (for drift findings at
//! the declared file's line), and findings about the file itself. SQL files load statement by statement
//! like `psql -f` (pg_dump output included: `SET` lines, `set_config('search_path', '', false)`,
//! `ALTER TABLE ONLY`, `OWNED BY`, `COPY … FROM stdin`, dbmate's trailing INSERT into
//! schema_migrations). Ownership and privilege statements that name roles this server does not have
//! are skipped with one notice: owners and grants are not compared. So are settings this server does
//! not know (`SET transaction_timeout = 0;` in a newer server's dump): they never change the schema.
//!
//! A schema written in an ORM's language ([`prisma`], [`drizzle`]) is translated to SQL at
//! discovery: the [`GeneratedStatement`]s are loaded one by one instead, and their provenance points
//! into the ORM files, so drift is reported at the model's or field's line.

use pgrehearse_sql::{self as sql, Span};
use tokio_postgres::Client;

use crate::apply::ReplayError;
use crate::apply::{self};
use crate::model::Provenance;
use crate::model::{Evidence, Finding};
use crate::registry;
use crate::runner::{Batch, DeclaredSchema, GeneratedStatement, Runner};

pub mod drizzle;
mod find;
pub use find::{CONVENTIONAL_SCHEMAS, FindError, find};
pub mod prisma;

/// The outcome of loading a declared schema.
#[derive(Debug, Default)]
pub struct Loaded {
    /// `false` when a statement failed: the schema is incomplete and must not be compared.
    pub ok: bool,
    pub findings: Vec<Finding>,
    /// The statements that declare each object, in file order.
    pub provenance: Vec<Provenance>,
}

/// Statements that only set owners or privileges.
fn is_role_statement(text: &str, stmt: Span) -> bool {
    let words = sql::leading_keywords(text, stmt, 2);
    let first = words.first().map(String::as_str);
    if matches!(first, Some("GRANT" | "REVOKE")) {
        return true;
    }
    // ALTER … OWNER TO …
    first == Some("ALTER")
        && sql::significant_tokens(text, stmt).windows(2).any(|w| {
            w[0].span.slice(text).eq_ignore_ascii_case("owner")
                && w[1].span.slice(text).eq_ignore_ascii_case("to")
        })
}

/// Loads `schema` into the empty database behind `client`.
pub async fn load(client: &Client, schema: &DeclaredSchema) -> Result<Loaded, ReplayError> {
    if let Some(generated) = &schema.generated {
        return load_generated(client, generated, &schema.extensions).await;
    }
    let text = &*schema.text;
    let mut loaded = Loaded {
        ok: true,
        ..Loaded::default()
    };
    let batches: Vec<Batch> = crate::runner::statement_batches(Runner::Psql, text);
    let mut skipped_roles = 0usize;
    // Parameters this server does not know, and the first statement that set one.
    let mut skipped_settings: Vec<String> = Vec::new();
    let mut first_setting: Option<Span> = None;
    for batch in &batches {
        let stmt = batch.span;
        if stmt.slice(text).starts_with('\\') {
            continue; // psql meta-commands in dumps (\connect, \restrict)
        }
        let outcome = match batch.copy {
            Some(data) => apply::copy_in(client, stmt.slice(text), data.slice(text)).await,
            None => apply::execute(client, stmt.slice(text)).await,
        };
        match outcome {
            Ok(_) => {
                if let Some(target) = sql::target(text, stmt) {
                    loaded.provenance.push(Provenance {
                        target,
                        file: schema.file.clone(),
                        text: schema.text.clone(),
                        span: stmt,
                    });
                }
            }
            Err((Some(error), _, _)) => {
                if error.code().code() == "42704" && is_role_statement(text, stmt) {
                    skipped_roles += 1;
                    continue;
                }
                if let Some(name) = apply::unknown_setting(text, stmt, &error) {
                    first_setting.get_or_insert(stmt);
                    if !skipped_settings.contains(&name) {
                        skipped_settings.push(name);
                    }
                    continue;
                }
                let (primary, statement) = apply::locate(text, stmt, 0, &error);
                loaded.ok = false;
                loaded.findings.push(
                    registry::finding(
                        "declared-schema-failed",
                        format!(
                            "the declared schema does not load: {}; it is not compared with the migrations",
                            error.message()
                        ),
                    )
                    .help("fix the declared schema so that it applies to an empty database (it is loaded like `psql -f`)")
                    .at(&schema.file, Some(primary))
                    .evidence(apply::db_evidence(&error, None, statement)),
                );
                return Ok(loaded);
            }
            Err((None, _, reason)) => {
                return Err(ReplayError {
                    file: schema.file.display().to_string(),
                    reason,
                });
            }
        }
    }
    if let Some(first) = first_setting {
        let names = skipped_settings
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        loaded.findings.push(
            registry::finding(
                "declared-settings-skipped",
                format!(
                    "the declared schema sets parameters the replay server does not know ({names}), as a newer PostgreSQL's pg_dump writes; those settings were skipped (they do not change the schema)"
                ),
            )
            .help("replay on the PostgreSQL version the file was dumped from (`--pg-version`), or dump it with the replay server's pg_dump")
            .at(&schema.file, Some(first))
            .evidence(Evidence {
                extra: [("parameters".to_string(), skipped_settings.join(","))]
                    .into_iter()
                    .collect(),
                ..Evidence::default()
            }),
        );
    }
    if skipped_roles > 0 {
        loaded.findings.push(
            registry::finding(
                "declared-roles-skipped",
                format!(
                    "{skipped_roles} ownership or privilege statement(s) name roles the replay server does not have; they were skipped (owners and grants are not compared)"
                ),
            )
            .at(&schema.file, None)
            .evidence(Evidence::default()),
        );
    }
    Ok(loaded)
}

/// Loads statements translated from an ORM schema; a failure is reported at the ORM span.
async fn load_generated(
    client: &Client,
    statements: &[GeneratedStatement],
    extensions: &[String],
) -> Result<Loaded, ReplayError> {
    let mut loaded = Loaded {
        ok: true,
        ..Loaded::default()
    };
    // The migrations' extensions the schema does not create itself. One that cannot be created here
    // makes the statement that needs it fail, reported below.
    let declared_extensions: Vec<&str> = statements
        .iter()
        .flat_map(|s| &s.provenance)
        .filter(|p| p.target.kind == sql::TargetKind::Extension)
        .map(|p| p.target.name.name.as_str())
        .collect();
    for name in extensions
        .iter()
        .filter(|n| !declared_extensions.contains(&n.as_str()))
    {
        let create = format!(
            "CREATE EXTENSION IF NOT EXISTS {}",
            crate::engine::quote_ident(name)
        );
        if let Err((None, _, reason)) = apply::execute(client, &create).await {
            return Err(ReplayError {
                file: format!("extension `{name}`"),
                reason,
            });
        }
    }
    for stmt in statements {
        match apply::execute(client, &stmt.sql).await {
            Ok(_) => loaded.provenance.extend(stmt.provenance.iter().cloned()),
            Err((Some(error), _, _)) => {
                loaded.ok = false;
                loaded.findings.push(
                    registry::finding(
                        "declared-schema-failed",
                        format!(
                            "the declared schema does not load: {} (in the generated `{}`); it is not compared with the migrations",
                            error.message(),
                            stmt.sql.lines().next().unwrap_or("")
                        ),
                    )
                    .help("fix the declared schema so that its DDL applies to an empty database")
                    .at(&stmt.file, Some(stmt.span))
                    .evidence(apply::db_evidence(&error, None, None)),
                );
                return Ok(loaded);
            }
            Err((None, _, reason)) => {
                return Err(ReplayError {
                    file: stmt.file.display().to_string(),
                    reason,
                });
            }
        }
    }
    Ok(loaded)
}
