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
use crate::environment::Lacking;
use crate::model::Provenance;
use crate::model::{Evidence, Finding};
use crate::registry;
use crate::runner::{Batch, DeclaredSchema, GeneratedStatement, Runner};

pub mod diesel;
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
    let mut skipped_settings = apply::SkippedSettings::default();
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
                    skipped_settings.add(name, stmt);
                    continue;
                }
                let (primary, statement) = apply::locate(text, stmt, 0, &error);
                loaded.ok = false;
                let failure = Failure {
                    error: &error,
                    lacking: Lacking::of(text, stmt, &error),
                    generated: None,
                };
                let finding = failure
                    .finding(
                        client,
                        "fix the declared schema so that it applies to an empty database (it is loaded like `psql -f`)",
                    )
                    .await
                    .at(&schema.file, Some(primary));
                let mut evidence = apply::db_evidence(&error, None, statement);
                evidence.extra.extend(failure.lacking.map(|l| l.evidence()));
                loaded.findings.push(finding.evidence(evidence));
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
    loaded
        .findings
        .extend(skipped_settings.finding(&schema.file, "the declared schema", "file"));
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
    let mut not_created: Vec<String> = Vec::new();
    for name in extensions
        .iter()
        .filter(|n| !declared_extensions.contains(&n.as_str()))
    {
        let create = format!(
            "CREATE EXTENSION IF NOT EXISTS {}",
            crate::engine::quote_ident(name)
        );
        match apply::execute(client, &create).await {
            Ok(_) => {}
            Err((Some(_), _, _)) => not_created.push(name.clone()),
            Err((None, _, reason)) => {
                return Err(ReplayError {
                    file: format!("extension `{name}`"),
                    reason,
                });
            }
        }
    }
    for stmt in statements {
        match apply::execute(client, &stmt.sql).await {
            Ok(_) => loaded.provenance.extend(stmt.provenance.iter().cloned()),
            Err((Some(error), _, _)) => {
                loaded.ok = false;
                // A type that does not exist, while an extension the migrations create could not
                // be created here: that extension is what the server lacks.
                let lacking =
                    Lacking::of(&stmt.sql, Span::new(0, stmt.sql.len()), &error).or_else(|| {
                        (error.code().code() == "42704" && error.message().starts_with("type "))
                            .then(|| not_created.first().cloned().map(Lacking::Extension))
                            .flatten()
                    });
                let failure = Failure {
                    error: &error,
                    lacking,
                    generated: Some(stmt.sql.lines().next().unwrap_or("")),
                };
                let finding = failure
                    .finding(
                        client,
                        "fix the declared schema so that its DDL applies to an empty database",
                    )
                    .await
                    .at(&stmt.file, Some(stmt.span));
                let mut evidence = apply::db_evidence(&error, None, None);
                evidence.extra.extend(failure.lacking.map(|l| l.evidence()));
                loaded.findings.push(finding.evidence(evidence));
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

/// A statement of a declared schema the server rejected.
struct Failure<'a> {
    error: &'a tokio_postgres::error::DbError,
    /// What the replay server lacks, when that is why.
    lacking: Option<Lacking>,
    /// The first line of the generated statement, for an ORM schema.
    generated: Option<&'a str>,
}

impl Failure<'_> {
    /// The `declared-schema-failed` finding: `help` asks to fix the file, unless the cause is the
    /// replay server (an extension it does not ship, a role it does not have), which it then names.
    async fn finding(&self, client: &Client, help: &str) -> Finding {
        let generated = self
            .generated
            .map(|g| format!(" (in the generated `{g}`)"))
            .unwrap_or_default();
        let Some(lacking) = &self.lacking else {
            return registry::finding(
                "declared-schema-failed",
                format!(
                    "the declared schema does not load: {}{generated}; it is not compared with the migrations",
                    self.error.message()
                ),
            )
            .help(help);
        };
        let version = client
            .query_one("SHOW server_version", &[])
            .await
            .ok()
            .and_then(|row| row.try_get::<_, String>(0).ok())
            .and_then(|v| v.split_whitespace().next().map(str::to_string));
        let help = match lacking {
            Lacking::Extension(ext) => {
                let major = version
                    .as_deref()
                    .and_then(|v| v.split('.').next())
                    .unwrap_or("");
                crate::environment::extension_help(ext, major)
            }
            Lacking::Role(role) => format!(
                "the file is fine; production has role `{role}` and the replay server does not. A declared schema loads with the roles of the platform preset (`preset:`) only, not with those of `prelude:` files or `create-roles`: point `--database-url` at a server that has the role"
            ),
        };
        registry::finding(
            "declared-schema-failed",
            format!(
                "the declared schema does not load because {}: {}{generated}; it is not compared with the migrations",
                lacking.describe(version.as_deref()),
                self.error.message()
            ),
        )
        .help(help)
    }
}
