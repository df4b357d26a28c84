//! The migration set as its runner sees it: the migrations in order, the preludes that run before
//! them, and the declared schemas it is compared with.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Batch, Runner, Transactions, layouts};
use crate::model::{Evidence, Provenance, Span};

/// One migration file as its runner sees it.
#[derive(Clone, Debug)]
pub struct Migration {
    /// The runner's name for it: a version, a tag or a folder name.
    pub id: String,
    /// Path relative to the root.
    pub file: PathBuf,
    pub text: Arc<str>,
    /// The queries the runner sends, in order (only the part of the file that runs: the Up section).
    pub batches: Vec<Batch>,
    pub transactions: Transactions,
    /// Why this migration cannot be replayed (code migrations), or why the runner rejects it.
    pub blocked: Option<Blocked>,
}

/// A migration that stops the replay before it runs.
#[derive(Clone, Debug)]
pub struct Blocked {
    /// Rule id of the finding that explains it.
    pub rule: &'static str,
    pub message: String,
    pub help: String,
    pub span: Option<Span>,
}

impl Migration {
    /// A SQL migration applied with `runner`'s default batching and transactions.
    pub fn sql(id: String, file: PathBuf, text: Arc<str>, runner: Runner) -> Migration {
        let span = Span::new(0, text.len());
        let batches = layouts::batches(runner, &text, span);
        Migration {
            id,
            file,
            text,
            batches,
            transactions: runner.default_transactions(),
            blocked: None,
        }
    }
}

/// A SQL file run before a set's migrations.
#[derive(Clone, Debug)]
pub struct Prelude {
    pub file: PathBuf,
    pub text: Arc<str>,
    /// What it is: a configured file, or part of the set's environment.
    pub kind: PreludeKind,
}

/// What a [`Prelude`] is (see [`crate::environment`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PreludeKind {
    /// A `prelude:` file, run as one query.
    #[default]
    File,
    /// A built-in platform preset (`text` is its SQL).
    Preset(Preset),
    /// Roles the migrations reference but never create, created NOLOGIN when missing.
    CreateRoles(Vec<RoleRef>),
    /// A `baseline:` snapshot, run like `psql -f` after the other preludes.
    Baseline,
}

/// Migrations applied together by one runner into one database.
#[derive(Clone, Debug)]
pub struct MigrationSet {
    /// Folder relative to the root.
    pub dir: PathBuf,
    pub runner: Runner,
    pub migrations: Vec<Migration>,
    pub preludes: Vec<Prelude>,
    /// Why the runner itself would refuse to start, when it would (e.g. duplicate versions).
    pub refused: Option<String>,
    /// Declared schemas to compare with what this set builds.
    pub schemas: Vec<DeclaredSchema>,
    /// Drizzle: each journal entry's `when` (milliseconds), by tag.
    pub journal_when: BTreeMap<String, i64>,
    /// The database the runner's own files say the migrations were generated for, when they say
    /// (Prisma's `migration_lock.toml` `provider`): names an ambiguous construct's dialect.
    pub generated_for: Option<String>,
}

/// Evidence naming a migration.
pub fn migration_evidence(m: &Migration) -> Evidence {
    Evidence {
        migration: Some(m.id.clone()),
        ..Evidence::default()
    }
}

/// A platform whose provided objects are recreated before a set's migrations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Supabase: roles, `auth` / `storage` / `extensions` schemas, JWT helper functions.
    Supabase,
    /// Nothing (turns off the preset a runner enables by default).
    None,
}

impl Preset {
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Supabase => "supabase",
            Preset::None => "none",
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role a migration references, where it is first referenced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleRef {
    pub name: String,
    pub file: PathBuf,
    pub span: Span,
}

/// A declared schema file.
#[derive(Clone, Debug)]
pub struct DeclaredSchema {
    /// Path relative to the root.
    pub file: PathBuf,
    pub text: Arc<str>,
    /// A schema written in an ORM's language (Prisma, Drizzle), translated to SQL by discovery: the
    /// statements to load instead of `text`, each pointing into the ORM files. `None`: `text` is SQL.
    pub generated: Option<Arc<[GeneratedStatement]>>,
    /// Extensions created (`IF NOT EXISTS`) in the scratch database before the schema loads. For a
    /// Prisma datamodel, discovery puts here the extensions its set's migrations create and the
    /// datamodel does not list: Prisma leaves them to the migrations, yet a field of an extension's
    /// type (`@db.Citext`) needs them to load.
    pub extensions: Vec<String>,
}

/// One SQL statement translated from an ORM schema.
#[derive(Clone, Debug)]
pub struct GeneratedStatement {
    pub sql: String,
    /// The ORM file and span it comes from (where a failure to load it is reported).
    pub file: PathBuf,
    pub text: Arc<str>,
    pub span: Span,
    /// The objects it declares, at their spans in the ORM files.
    pub provenance: Vec<Provenance>,
}
