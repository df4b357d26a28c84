//! What each migration runner is and how it applies a file: which part runs (the Up section), how it
//! is cut into queries ([`Batch`]), and which transactions group them ([`Transactions`],
//! [`transactions`]); and the migration set as its runner sees it ([`MigrationSet`], [`Migration`],
//! [`Prelude`]), the data that discovery produces and every later stage reads.
//!
//! Pure data and functions over text: no file system walk (that is `discover`), no database.

use std::fmt;

use pgrehearse_sql::{self as sql, Span};
use serde::{Deserialize, Serialize};

pub mod layouts;
mod set;
pub mod transactions;

pub use set::*;

/// The tool that applies a set's migrations; it decides order, batching and transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runner {
    /// drizzle-kit migrate / `migrate()` from drizzle-orm.
    Drizzle,
    /// prisma migrate deploy / dev.
    Prisma,
    /// golang-migrate (`migrate up`).
    GolangMigrate,
    /// pressly/goose.
    Goose,
    /// amacneil/dbmate.
    Dbmate,
    /// sqlx migrate (Rust).
    Sqlx,
    /// diesel migration run (Rust).
    Diesel,
    /// Flyway (Redgate).
    Flyway,
    /// Supabase CLI (`supabase db reset` / `migration up`).
    Supabase,
    /// `psql -f` per file, each statement in its own transaction (autocommit), stopping at the first error.
    Psql,
    /// `psql --single-transaction -f` per file.
    PsqlSingleTransaction,
}

/// How a migration's statements are grouped into transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transactions {
    /// Every pending migration in one explicit transaction (Drizzle).
    AllPendingInOne,
    /// The file sent as one multi-statement query without BEGIN: PostgreSQL runs it as one implicit
    /// transaction.
    Implicit,
    /// The file wrapped in BEGIN … COMMIT by the runner.
    Explicit,
    /// Each statement commits on its own.
    Autocommit,
}

/// What one query sent to the server holds, as a span of the migration file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batch {
    pub span: Span,
    /// For `COPY … FROM STDIN` under a psql-style runner: the data lines fed to the copy.
    pub copy: Option<Span>,
}

impl Runner {
    /// The bookkeeping table the runner creates before it applies the first migration, as it creates
    /// it, for runners whose migrations are known to touch it (a golang-migrate migration that alters
    /// `schema_migrations` fails on a database without it). Comparisons leave bookkeeping tables out.
    pub fn bookkeeping_ddl(self) -> Option<&'static str> {
        match self {
            Runner::GolangMigrate => Some(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)",
            ),
            Runner::Dbmate => Some(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version varchar(128) PRIMARY KEY)",
            ),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Runner::Drizzle => "drizzle",
            Runner::Prisma => "prisma",
            Runner::GolangMigrate => "golang-migrate",
            Runner::Goose => "goose",
            Runner::Dbmate => "dbmate",
            Runner::Sqlx => "sqlx",
            Runner::Diesel => "diesel",
            Runner::Flyway => "flyway",
            Runner::Supabase => "supabase",
            Runner::Psql => "psql",
            Runner::PsqlSingleTransaction => "psql-single-transaction",
        }
    }

    /// The transaction mode of a migration that carries no annotation changing it.
    pub fn default_transactions(self) -> Transactions {
        match self {
            Runner::Drizzle => Transactions::AllPendingInOne,
            Runner::Prisma | Runner::GolangMigrate => Transactions::Implicit,
            Runner::Psql => Transactions::Autocommit,
            Runner::Goose
            | Runner::Dbmate
            | Runner::Sqlx
            | Runner::Diesel
            | Runner::Flyway
            | Runner::Supabase
            | Runner::PsqlSingleTransaction => Transactions::Explicit,
        }
    }

    /// How the runner applies a migration in `mode`, for messages.
    pub fn describe(self, mode: Transactions) -> String {
        let how = match mode {
            Transactions::AllPendingInOne => "runs every pending migration inside one transaction",
            Transactions::Implicit => {
                "sends the migration as one multi-statement query, which PostgreSQL runs as one transaction"
            }
            Transactions::Explicit => "wraps the migration in one transaction",
            Transactions::Autocommit => {
                "runs each statement of the migration in its own transaction"
            }
        };
        let name = match self {
            Runner::Drizzle => "drizzle-kit migrate",
            Runner::Prisma => "Prisma",
            Runner::GolangMigrate => "golang-migrate",
            Runner::Goose => "goose",
            Runner::Dbmate => "dbmate",
            Runner::Sqlx => "sqlx",
            Runner::Diesel => "diesel",
            Runner::Flyway => "Flyway",
            Runner::Supabase => "the Supabase CLI",
            Runner::Psql | Runner::PsqlSingleTransaction => "psql",
        };
        format!("{name} {how}")
    }
}

impl fmt::Display for Runner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The queries `runner` sends for the whole of `text` (e.g. a declared schema loaded like `psql -f`).
pub fn statement_batches(runner: Runner, text: &str) -> Vec<Batch> {
    layouts::batches(runner, text, Span::new(0, text.len()))
}

/// Non-empty statement code spans inside `within` (psql-style splitting, comments and strings skipped).
pub fn statements_in(text: &str, within: Span) -> Vec<Span> {
    let inner = within.slice(text);
    sql::split(inner)
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(|s| Span::new(s.code.start + within.start, s.code.end + within.start))
        .collect()
}
