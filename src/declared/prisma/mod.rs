//! Prisma declared schemas: reads `schema.prisma`, or a folder of `.prisma` files (a multi-file
//! schema), natively, and translates it into the PostgreSQL DDL Prisma 7's schema engine generates
//! from an empty database (`prisma migrate diff --from-empty`).
//!
//! It takes the files' paths and texts and returns a [`Translation`]: the statements (each with the
//! model, field or attribute span it comes from, so drift points into the `.prisma` file) and findings
//! about the schema itself (a provider other than PostgreSQL, composite types). A file that does not
//! parse, or refers to things it does not define, is a [`PrismaError`] at its line and column.
//! Prisma Migrate creates no views and no database defaults for `uuid()`, `cuid()` or `@updatedAt`;
//! neither does this translation.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pgrehearse_sql::LineIndex;

use crate::model::Finding;
use crate::runner::GeneratedStatement;

pub mod config;
mod ddl;
mod parse;

pub use ddl::constraint_name;

/// The DDL translated from a Prisma schema.
#[derive(Debug)]
pub struct Translation {
    pub statements: Vec<GeneratedStatement>,
    pub findings: Vec<Finding>,
    /// False when the datasource names another provider: the schema must not be compared.
    pub postgres: bool,
}

/// A Prisma schema file that is malformed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct PrismaError {
    pub file: PathBuf,
    /// 1-based.
    pub line: u32,
    /// 1-based, in characters.
    pub column: u32,
    pub message: String,
}

impl fmt::Display for PrismaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: not a valid Prisma schema: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

fn error(file: &Path, text: &str, offset: usize, message: String) -> PrismaError {
    let (line, column) = LineIndex::new(text).line_col(text, offset);
    PrismaError {
        file: file.to_path_buf(),
        line,
        column,
        message,
    }
}

/// Whether `path` names a Prisma schema file.
pub fn is_prisma_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "prisma")
}

/// Parses and translates the files of one Prisma schema (one file, or every file of a schema folder).
pub fn translate(files: &[(PathBuf, Arc<str>)]) -> Result<Translation, PrismaError> {
    let mut parsed = Vec::with_capacity(files.len());
    for (path, text) in files {
        let blocks = parse::parse(text).map_err(|e| error(path, text, e.offset, e.message))?;
        parsed.push(ddl::File {
            path: path.clone(),
            text: text.clone(),
            blocks,
        });
    }
    let out = ddl::generate(&parsed).map_err(|e| {
        let f = &parsed[e.file];
        error(&f.path, &f.text, e.offset, e.message)
    })?;
    Ok(Translation {
        statements: out.statements,
        findings: out.findings,
        postgres: out.postgres,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Result<Translation, PrismaError> {
        translate(&[(PathBuf::from("schema.prisma"), Arc::from(text))])
    }

    #[test]
    fn malformed_files_are_errors_at_line_and_column() {
        let e = one("model A {\n  id Int @id\n  name String @default(\n}\n").unwrap_err();
        assert_eq!((e.line, e.column), (4, 1), "{e}");
        assert!(
            e.to_string()
                .starts_with("schema.prisma:4:1: not a valid Prisma schema")
        );
        let e = one("model A {\n  id Int @id\n  x Strin\n}\n").unwrap_err();
        assert_eq!((e.line, e.column), (3, 3), "{e}");
    }

    #[test]
    fn other_providers_are_dialect_findings() {
        let t = one("datasource db {\n  provider = \"mysql\"\n}\n").unwrap();
        assert!(!t.postgres);
        assert_eq!(t.findings[0].rule, "dialect-mismatch");
    }

    #[test]
    fn extensions_are_created_only_with_the_preview_feature() {
        let datasource =
            "datasource db {\n  provider = \"postgresql\"\n  extensions = [citext]\n}\n";
        let created = |t: &Translation| {
            t.statements
                .iter()
                .any(|s| s.sql == "CREATE EXTENSION IF NOT EXISTS \"citext\";")
        };
        assert!(!created(&one(datasource).unwrap()));
        let preview = format!(
            "generator client {{\n  provider = \"prisma-client-js\"\n  previewFeatures = [\"postgresqlExtensions\"]\n}}\n{datasource}"
        );
        assert!(created(&one(&preview).unwrap()));
    }

    #[test]
    fn statements_point_at_their_model() {
        let text =
            "model User {\n  id Int @id @default(autoincrement())\n  email String @unique\n}\n";
        let t = one(text).unwrap();
        let sql: Vec<&str> = t.statements.iter().map(|s| s.sql.as_str()).collect();
        assert!(
            sql.iter().any(|s| s.contains("\"id\" SERIAL NOT NULL")),
            "{sql:?}"
        );
        assert!(
            sql.iter()
                .any(|s| s.contains("CREATE UNIQUE INDEX \"User_email_key\"")),
            "{sql:?}"
        );
        let table = t
            .statements
            .iter()
            .find(|s| s.sql.starts_with("CREATE TABLE"))
            .unwrap();
        assert_eq!(table.span.slice(text), "model User");
        assert_eq!(table.provenance[2].span.slice(text), "email String");
    }
}
