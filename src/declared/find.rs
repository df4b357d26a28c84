//! Which declared schemas each discovered set is compared with: files named per set or globally in
//! the configuration or on the command line (`--schema`), a conventional `schema.sql`, a Drizzle
//! project's schema files (from its `drizzle.config.*`), or a Prisma set's datamodel. ORM schemas are
//! translated to SQL here ([`super::prisma`], [`super::drizzle`]); their findings join discovery's.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::ConfigFile;
use crate::discover::{self, DiscoverError, Discovery};
use crate::runner::{DeclaredSchema, MigrationSet, PreludeKind, Runner};
use pgrehearse_sql::Span;

/// Conventional declared schema files, looked for when none is named and there is one set.
pub const CONVENTIONAL_SCHEMAS: &[&str] = &[
    "db/schema.sql",
    "db/structure.sql",
    "schema.sql",
    "structure.sql",
];

/// A declared schema could not be found or read.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error(transparent)]
    Read(#[from] DiscoverError),
    #[error("{}: declared schema file does not exist", path.display())]
    MissingSchema { path: PathBuf },
    #[error(transparent)]
    Prisma(#[from] crate::declared::prisma::PrismaError),
    #[error(transparent)]
    Drizzle(#[from] crate::declared::drizzle::DrizzleError),
    #[error("declared schema {} given for {sets} migration sets; say which set it describes with `sets: [{{path: …, schema: [{}]}}]` in .pgrehearse.yaml", path.display(), path.display())]
    AmbiguousSchema { path: PathBuf, sets: usize },
}

/// Adds to each set of `discovery` the declared schemas it is compared with; `schemas` are the files
/// named on the command line.
pub fn find(
    root: &Path,
    config: Option<&ConfigFile>,
    schemas: &[PathBuf],
    discovery: &mut Discovery,
) -> Result<(), FindError> {
    let default = ConfigFile::default();
    let config = config.unwrap_or(&default);
    Finder {
        root,
        exclude: &config.exclude,
        out: discovery,
    }
    .attach(config, schemas)
}

struct Finder<'a> {
    root: &'a Path,
    exclude: &'a [PathBuf],
    out: &'a mut Discovery,
}

impl Finder<'_> {
    fn attach(&mut self, config: &ConfigFile, schemas: &[PathBuf]) -> Result<(), FindError> {
        // Declared schemas: per set from the configuration; otherwise the global ones (flags first, then
        // configuration), or a conventional file, for a repository with one set.
        for (i, set_config) in config.sets.iter().enumerate() {
            for path in &set_config.schema {
                let schema = self.schema(path)?;
                if let Some(set) = self.out.sets.get_mut(i) {
                    set.schemas.push(schema);
                }
            }
        }
        let mut global_schemas: Vec<PathBuf> = schemas.to_vec();
        global_schemas.extend(config.schema.iter().cloned());
        if global_schemas.is_empty()
            && self.out.sets.len() == 1
            && self.out.sets[0].schemas.is_empty()
        {
            global_schemas = CONVENTIONAL_SCHEMAS
                .iter()
                .map(PathBuf::from)
                .filter(|p| self.root.join(p).is_file())
                .take(1)
                .collect();
        }
        for path in global_schemas {
            let schema = self.schema(&path)?;
            match self.out.sets.len() {
                1 => self.out.sets[0].schemas.push(schema),
                0 => {}
                n => {
                    return Err(FindError::AmbiguousSchema { path, sets: n });
                }
            }
        }
        // A Drizzle migration set with no declared schema named: its project's schema files.
        for i in 0..self.out.sets.len() {
            let set = &self.out.sets[i];
            if set.runner != Runner::Drizzle || !set.schemas.is_empty() {
                continue;
            }
            let dir = set.dir.clone();
            let found = crate::declared::drizzle::project_schema(self.root, &dir);
            // A config whose `schema` names nothing pgrehearse can read: say so, and what is compared.
            if let Some(config) = crate::declared::drizzle::find_config(self.root, &dir)
                && config.dialect.as_deref().is_none_or(|d| d == "postgresql")
                && config.schema_files(self.root).is_empty()
            {
                let what = if config.schema.is_empty() {
                    "its `schema` cannot be evaluated without running the config".to_string()
                } else {
                    format!("its `schema` ({}) names no file", config.schema.join(", "))
                };
                let instead = match &found {
                    Some((entries, _)) => format!(
                        "the migrations are compared with `{}` instead",
                        entries
                            .iter()
                            .map(|e| e.display().to_string())
                            .collect::<Vec<_>>()
                            .join("`, `")
                    ),
                    None => "no declared schema is compared with the migrations".to_string(),
                };
                self.out.findings.push(
                    crate::registry::finding(
                        "declared-not-evaluated",
                        format!(
                            "the Drizzle config `{}`: {what}; {instead}",
                            config.file.display()
                        ),
                    )
                    .help("write `schema` as a path, a glob or an array of them, or name the schema in .pgrehearse.yaml: `schema: [src/db/schema.ts]`")
                    .at(&config.file, None),
                );
            }
            if let Some((entries, casing)) = found {
                let schema = self.drizzle_schema(&entries, casing)?;
                self.out.sets[i].schemas.push(schema);
            }
        }
        // A Diesel migration set with no declared schema named: its project's `schema.rs`.
        for i in 0..self.out.sets.len() {
            let set = &self.out.sets[i];
            if set.runner != Runner::Diesel || !set.schemas.is_empty() {
                continue;
            }
            if let Some(path) = crate::declared::diesel::project_schema(self.root, &set.dir) {
                let schema = self.diesel_schema(&path)?;
                self.out.sets[i].schemas.push(schema);
            }
        }
        // A Prisma migration set with no declared schema named: its datamodel.
        for i in 0..self.out.sets.len() {
            let set = &self.out.sets[i];
            if set.runner != Runner::Prisma || !set.schemas.is_empty() {
                continue;
            }
            if let Some(path) = self.conventional_prisma_schema(&set.dir.clone())? {
                let (schema, postgres) = self.prisma_schema(&path)?;
                if postgres {
                    self.out.sets[i].schemas.push(schema);
                }
            }
        }
        // Prisma leaves extensions to the migrations (unless the datamodel lists them): its datamodel
        // loads with the extensions they create.
        for set in &mut self.out.sets {
            if !set.schemas.iter().any(is_prisma) {
                continue;
            }
            let created = extensions_created(set);
            for schema in set.schemas.iter_mut().filter(|s| is_prisma(s)) {
                schema.extensions = created.clone();
            }
        }
        Ok(())
    }

    fn abs(&self, rel: &Path) -> PathBuf {
        self.root.join(rel)
    }

    fn read(&mut self, rel: &Path) -> Result<Arc<str>, DiscoverError> {
        discover::read_source(self.root, rel, &mut self.out.sources)
    }

    fn list(&self, rel: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), DiscoverError> {
        discover::list_dir(self.root, rel)
    }

    fn excluded(&self, rel: &Path) -> bool {
        discover::excluded(rel, self.exclude)
    }

    fn schema(&mut self, rel: &Path) -> Result<DeclaredSchema, FindError> {
        let rel = rel.strip_prefix(self.root).unwrap_or(rel);
        if crate::declared::drizzle::is_drizzle_path(rel) && self.abs(rel).is_file() {
            let (entries, casing) = crate::declared::drizzle::entries_for(self.root, rel);
            return self.drizzle_schema(&entries, casing);
        }
        if crate::declared::diesel::is_diesel_file(rel) && self.abs(rel).is_file() {
            return self.diesel_schema(rel);
        }
        if crate::declared::prisma::is_prisma_file(rel) || self.abs(rel).is_dir() {
            return Ok(self.prisma_schema(rel)?.0);
        }
        if !self.abs(rel).is_file() {
            return Err(FindError::MissingSchema {
                path: rel.to_path_buf(),
            });
        }
        Ok(DeclaredSchema {
            file: rel.to_path_buf(),
            text: self.read(rel)?,
            generated: None,
            extensions: Vec::new(),
        })
    }

    /// A Diesel `schema.rs`, translated to SQL. A file that cannot be read as one is a
    /// `declared-not-evaluated` notice, and nothing is compared.
    fn diesel_schema(&mut self, rel: &Path) -> Result<DeclaredSchema, FindError> {
        let text = self.read(rel)?;
        let generated = match crate::declared::diesel::translate(rel, &text) {
            Ok(statements) => statements,
            Err(e) => {
                self.out.findings.push(
                    crate::registry::finding(
                        "declared-not-evaluated",
                        format!("`{}` could not be read as a Diesel schema: {}", rel.display(), e.message),
                    )
                    .help("regenerate it with `diesel print-schema`, or name another declared schema with `schema:` in .pgrehearse.yaml")
                    .at(rel, Some(pgrehearse_sql::Span::new(e.offset, e.offset))),
                );
                Vec::new()
            }
        };
        Ok(DeclaredSchema {
            file: rel.to_path_buf(),
            text,
            generated: Some(generated.into()),
            extensions: Vec::new(),
        })
    }

    /// Drizzle schema files (and the files they import), translated to SQL. Findings about them go to
    /// discovery's findings.
    fn drizzle_schema(
        &mut self,
        entries: &[PathBuf],
        casing: crate::declared::drizzle::Casing,
    ) -> Result<DeclaredSchema, FindError> {
        let (schema, findings, files) =
            crate::declared::drizzle::declared(self.root, entries, casing)?;
        for (path, text) in files {
            self.out.sources.insert(&path, text);
        }
        self.out.findings.extend(findings);
        Ok(schema)
    }

    /// A Prisma schema: one `.prisma` file, or every `.prisma` file under a schema folder, translated
    /// to SQL, and whether its datasource is PostgreSQL. Findings about it (another provider) go to
    /// discovery's findings.
    fn prisma_schema(&mut self, rel: &Path) -> Result<(DeclaredSchema, bool), FindError> {
        let mut paths = Vec::new();
        if self.abs(rel).is_dir() {
            let mut pending = vec![rel.to_path_buf()];
            while let Some(dir) = pending.pop() {
                let (files, dirs) = self.list(&dir)?;
                paths.extend(
                    files
                        .into_iter()
                        .filter(|f| crate::declared::prisma::is_prisma_file(f)),
                );
                pending.extend(dirs.into_iter().filter(|d| !self.excluded(d)));
            }
            paths.sort();
        } else if self.abs(rel).is_file() {
            paths.push(rel.to_path_buf());
        }
        if paths.is_empty() {
            return Err(FindError::MissingSchema {
                path: rel.to_path_buf(),
            });
        }
        let mut files = Vec::new();
        for p in paths {
            let text = self.read(&p)?;
            files.push((p, text));
        }
        let translation = crate::declared::prisma::translate(&files)?;
        self.out.findings.extend(translation.findings);
        let schema = DeclaredSchema {
            file: rel.to_path_buf(),
            text: files[0].1.clone(),
            generated: Some(translation.statements.into()),
            extensions: Vec::new(),
        };
        Ok((schema, translation.postgres))
    }

    /// The Prisma schema of a Prisma migrations folder: the `schema` of the nearest `prisma.config.*`
    /// (in the folder or a parent, up to the root), else the folder holding the migrations folder when
    /// it has `.prisma` files, or its `schema.prisma` / `schema/`. A config whose `schema` cannot be
    /// evaluated statically is a `declared-not-evaluated` notice at its value, naming what was used
    /// instead.
    fn conventional_prisma_schema(&mut self, set_dir: &Path) -> Result<Option<PathBuf>, FindError> {
        use crate::declared::prisma::config::{CONFIG_NAMES, SchemaSetting, schema_setting};
        let config = set_dir.ancestors().find_map(|dir| {
            CONFIG_NAMES
                .iter()
                .map(|name| dir.join(name))
                .find(|p| self.abs(p).is_file())
        });
        let mut unevaluated = None;
        let mut missing = None;
        if let Some(config) = config {
            let text = self.read(&config)?;
            match schema_setting(&config, &text) {
                Some(SchemaSetting::Path(path)) if self.abs(&path).exists() => {
                    return Ok(Some(path));
                }
                Some(SchemaSetting::Path(path)) => missing = Some((config, path)),
                Some(SchemaSetting::NotEvaluated { span, what }) => {
                    unevaluated = Some((config, span, what));
                }
                Some(SchemaSetting::Absent) | None => {}
            }
        }
        let beside = self.prisma_schema_beside(set_dir);
        let instead = match &beside {
            Some(p) => format!(
                "the migrations are compared with `{}`, found beside them, instead",
                p.display()
            ),
            None => "no declared schema is compared with the migrations".to_string(),
        };
        if let Some((config, path)) = missing {
            self.out.findings.push(
                crate::registry::finding(
                    "declared-not-evaluated",
                    format!(
                        "the Prisma schema `{}` that `{}` names does not exist; {instead}",
                        path.display(),
                        config.display()
                    ),
                )
                .help("fix `schema` in the Prisma config, or name the schema in .pgrehearse.yaml: `schema: [prisma/schema.prisma]`")
                .at(&config, None),
            );
        }
        if let Some((config, span, what)) = unevaluated {
            let config_name = config.display();
            self.out.findings.push(
                crate::registry::finding(
                    "declared-not-evaluated",
                    format!(
                        "the Prisma schema path (`schema`) in `{config_name}` cannot be evaluated without running the config ({what}); {instead}"
                    ),
                )
                .help("name the schema in .pgrehearse.yaml: `schema: [prisma/schema.prisma]` (or `schema:` under the set in `sets:`)")
                .at(&config, Some(span)),
            );
        }
        Ok(beside)
    }

    /// The schema beside a Prisma migrations folder: the folder holding it when it has `.prisma`
    /// files, or its `schema.prisma` / `schema/`.
    fn prisma_schema_beside(&self, set_dir: &Path) -> Option<PathBuf> {
        let parent = set_dir.parent()?;
        let has_prisma = |dir: &Path| {
            std::fs::read_dir(self.abs(dir)).is_ok_and(|entries| {
                entries
                    .flatten()
                    .any(|e| crate::declared::prisma::is_prisma_file(&e.path()))
            })
        };
        let single = parent.join("schema.prisma");
        let folder = parent.join("schema");
        if has_prisma(parent) {
            let count = std::fs::read_dir(self.abs(parent))
                .map(|entries| {
                    entries
                        .flatten()
                        .filter(|e| crate::declared::prisma::is_prisma_file(&e.path()))
                        .count()
                })
                .unwrap_or(0);
            if count == 1 && self.abs(&single).is_file() {
                return Some(single);
            }
            return Some(parent.to_path_buf());
        }
        if self.abs(&folder).is_dir() && has_prisma(&folder) {
            return Some(folder);
        }
        None
    }
}

/// Whether `schema` was translated from a Prisma datamodel.
fn is_prisma(schema: &DeclaredSchema) -> bool {
    schema.generated.as_ref().is_some_and(|statements| {
        statements
            .iter()
            .any(|s| crate::declared::prisma::is_prisma_file(&s.file))
    })
}

/// The extensions the replay of `set` creates (`CREATE EXTENSION` in its `prelude:` files, its
/// baseline snapshot and its migrations) and does not drop afterwards, in the order first created.
fn extensions_created(set: &MigrationSet) -> Vec<String> {
    use pgrehearse_sql::{Action, TargetKind};
    let whole = |text: &Arc<str>| Span::new(0, text.len());
    let texts = set
        .preludes
        .iter()
        .filter(|p| matches!(p.kind, PreludeKind::File | PreludeKind::Baseline))
        .map(|p| (p.text.clone(), vec![whole(&p.text)]))
        .chain(
            set.migrations
                .iter()
                .map(|m| (m.text.clone(), m.batches.iter().map(|b| b.span).collect())),
        );
    let mut names: Vec<String> = Vec::new();
    for (text, batches) in texts {
        for batch in batches {
            for stmt in crate::runner::statements_in(&text, batch) {
                let Some(target) = pgrehearse_sql::target(&text, stmt) else {
                    continue;
                };
                if target.kind != TargetKind::Extension {
                    continue;
                }
                let name = target.name.name;
                match target.action {
                    Action::Create if !names.contains(&name) => names.push(name),
                    Action::Drop => names.retain(|n| *n != name),
                    _ => {}
                }
            }
        }
    }
    names
}
