//! The `.pgrehearse.yaml` configuration file: explicit migration sets when discovery guesses wrong,
//! preludes run before replay, and paths to leave out of discovery.
//!
//! Parsed with `serde_norway`, a maintained fork of the archived `serde_yaml` that keeps its API and its
//! error locations; unknown keys are errors that name their line.
//!
//! ```yaml
//! sets:
//!   - path: db/migrations
//!     runner: psql            # drizzle | prisma | golang-migrate | psql | psql-single-transaction
//!     prelude: [db/roles.sql]
//! exclude: [examples/legacy]
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::runner::Runner;

/// The file name looked up at the root of the checked path.
pub const FILE_NAME: &str = ".pgrehearse.yaml";

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Migration sets to replay. When present, discovery does not guess.
    #[serde(default)]
    pub sets: Vec<SetConfig>,
    /// SQL files run before every set's migrations (roles, schemas, extensions the platform provides).
    #[serde(default)]
    pub prelude: Vec<PathBuf>,
    /// Directories (relative to the root) that discovery skips.
    #[serde(default)]
    pub exclude: Vec<PathBuf>,
    /// Declared schema files compared with the migrations (when the repository has one migration set;
    /// otherwise name them per set).
    #[serde(default)]
    pub schema: Vec<PathBuf>,
    /// Drift settings.
    #[serde(default)]
    pub drift: DriftConfig,
    /// Platform preset run before every set's preludes (`supabase`, or `none` to turn off the preset
    /// a runner enables by default).
    #[serde(default)]
    pub preset: Option<crate::runner::Preset>,
    /// Create (NOLOGIN) the roles the migrations reference but never create, for the replay only.
    #[serde(default, rename = "create-roles")]
    pub create_roles: Option<bool>,
    /// Severity per rule id (`error`, `warning`, `notice`), or `off` to disable the rule.
    #[serde(default)]
    pub rules: std::collections::BTreeMap<String, Level>,
    /// The findings baseline (written by `pgrehearse baseline`), relative to the root
    /// [default: `.pgrehearse-baseline.json` when present].
    #[serde(default)]
    pub baseline: Option<PathBuf>,
    /// What the replay may do with superuser rights on the migrations' behalf, by kind and name:
    /// `{extension: NAME}` creates that (untrusted) extension, `{statement: create-role}` gives the
    /// replay role CREATEROLE on servers older than 16.
    #[serde(default)]
    pub privileged: Vec<Privileged>,
    /// `superuser` replays the migrations as the engine's superuser, as before the replay role
    /// existed: for trusted repositories only; refused for pull requests from forks and under
    /// `pull_request_target`.
    #[serde(default, rename = "replay-as")]
    pub replay_as: Option<ReplayAs>,
}

/// One `privileged:` entry: `{extension: NAME}` or `{statement: KIND}`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(try_from = "PrivilegedEntry")]
pub enum Privileged {
    /// An extension only a superuser may create (`postgres_fdw`, `pg_stat_statements`, …).
    Extension(String),
    /// A kind of statement.
    Statement(PrivilegedStatement),
}

/// A `privileged:` entry as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivilegedEntry {
    extension: Option<String>,
    statement: Option<PrivilegedStatement>,
}

impl TryFrom<PrivilegedEntry> for Privileged {
    type Error = String;
    fn try_from(entry: PrivilegedEntry) -> Result<Privileged, String> {
        match (entry.extension, entry.statement) {
            (Some(name), None) => Ok(Privileged::Extension(name)),
            (None, Some(statement)) => Ok(Privileged::Statement(statement)),
            _ => Err(
                "each entry names one thing: `{extension: NAME}` or `{statement: create-role}`"
                    .into(),
            ),
        }
    }
}

/// The kinds of statement `privileged:` can allow.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum PrivilegedStatement {
    /// CREATE/ALTER/DROP ROLE and role grants on servers older than 16.
    #[serde(rename = "create-role")]
    CreateRole,
}

/// `replay-as:`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ReplayAs {
    /// The dedicated role without superuser (the default).
    Role,
    /// The engine's superuser.
    Superuser,
}

impl ConfigFile {
    /// The extensions `privileged:` lists.
    pub fn privileged_extensions(&self) -> Vec<String> {
        self.privileged
            .iter()
            .filter_map(|p| match p {
                Privileged::Extension(name) => Some(name.clone()),
                Privileged::Statement(_) => None,
            })
            .collect()
    }

    /// Whether `privileged:` lists `statement`.
    pub fn privileges(&self, statement: PrivilegedStatement) -> bool {
        self.privileged.contains(&Privileged::Statement(statement))
    }
}

/// `drift:` settings.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DriftConfig {
    /// Severity per drift class (`missing`, `column`, `enum-order`, `default`, `index`, `constraint`,
    /// `definition`, `comment`, `column-order`, `rename`): `error`, `warning`, `notice` or `off`.
    #[serde(default)]
    pub severity: std::collections::BTreeMap<crate::model::DriftClass, Level>,
    /// Objects left out of every comparison, besides the runners' bookkeeping tables:
    /// `kind:schema.name` globs (`table:public.tmp_*`, `any:audit.*`, `function:util.*`).
    #[serde(default)]
    pub exclude: Vec<String>,
}

impl DriftConfig {
    /// The exclusions as catalog filters (validated when the file is parsed).
    pub fn exclusions(&self) -> Vec<crate::catalog::Exclusion> {
        self.exclude.iter().filter_map(|e| e.parse().ok()).collect()
    }
}

/// A severity, or `off`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
    Notice,
    Off,
}

impl Level {
    pub fn severity(self) -> Option<crate::model::Severity> {
        use crate::model::Severity;
        match self {
            Level::Error => Some(Severity::Error),
            Level::Warning => Some(Severity::Warning),
            Level::Notice => Some(Severity::Notice),
            Level::Off => None,
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SetConfig {
    /// Directory of the migrations, relative to the root.
    pub path: PathBuf,
    /// The tool that applies them; detected from the layout when absent.
    pub runner: Option<Runner>,
    /// SQL files run before this set's migrations, after the global prelude.
    #[serde(default)]
    pub prelude: Vec<PathBuf>,
    /// Declared schema files compared with what this set builds.
    #[serde(default)]
    pub schema: Vec<PathBuf>,
    /// Platform preset for this set (overrides the global `preset:`).
    #[serde(default)]
    pub preset: Option<crate::runner::Preset>,
    /// `create-roles` for this set (overrides the global one).
    #[serde(default, rename = "create-roles")]
    pub create_roles: Option<bool>,
    /// A snapshot a fresh install starts from, and the version it covers.
    #[serde(default)]
    pub baseline: Option<crate::config::BaselineConfig>,
    /// Flyway: more folders whose migrations merge with this set's by version (Flyway's
    /// `locations`).
    #[serde(default)]
    pub locations: Vec<PathBuf>,
}

/// The configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: could not read the configuration file: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: the configuration file is not valid UTF-8; save it as UTF-8", path.display())]
    NotUtf8 { path: PathBuf },
    #[error("{}{}: {message}", path.display(), line.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        /// 1-based line and column, when the parser knows them.
        line: Option<(usize, usize)>,
        message: String,
    },
}

/// Loads `explicit` if given (it must exist), else `<root>/.pgrehearse.yaml` if present.
pub fn load(root: &Path, explicit: Option<&Path>) -> Result<Option<ConfigFile>, ConfigError> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let p = root.join(FILE_NAME);
            if !p.is_file() {
                return Ok(None);
            }
            p
        }
    };
    let bytes = std::fs::read(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| ConfigError::NotUtf8 { path: path.clone() })?;
    parse(&path, &text).map(Some)
}

/// Parses configuration text; `path` is used in errors only.
pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
    if text.trim().is_empty() {
        return Ok(ConfigFile::default());
    }
    let mut config: ConfigFile = serde_norway::from_str(text).map_err(|e| {
        let line = e.location().map(|l| (l.line(), l.column()));
        // The library appends " at line N column M"; the location is already in front.
        let mut message = e.to_string();
        if let Some(i) = message.find(" at line ") {
            message.truncate(i);
        }
        ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            message,
        }
    })?;
    for entry in &config.drift.exclude {
        if let Err(e) = entry.parse::<crate::catalog::Exclusion>() {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: text
                    .lines()
                    .position(|l| l.contains(entry.as_str()))
                    .map(|i| (i + 1, 1)),
                message: format!("drift.exclude: {e}"),
            });
        }
    }
    for id in config.rules.keys() {
        if crate::registry::rule(id).is_none() {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: key_line(text, id),
                message: format!(
                    "rules: `{id}` is not a pgrehearse rule id{}; `pgrehearse rules` lists them",
                    crate::registry::suggest(id)
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default()
                ),
            });
        }
    }
    for set in &config.sets {
        if set.path.is_absolute() {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: None,
                message: format!(
                    "set path `{}` must be relative to the repository root",
                    set.path.display()
                ),
            });
        }
    }
    // Paths as the repository names them: `./db/./m` is `db/m` and `.` the root, so findings, SARIF
    // and GitHub annotations carry `db/m/002_x.sql`, never `./db/m/002_x.sql`.
    let clean = |p: &mut PathBuf| {
        *p = p
            .components()
            .filter(|c| *c != std::path::Component::CurDir)
            .collect();
    };
    config.prelude.iter_mut().for_each(clean);
    config.exclude.iter_mut().for_each(clean);
    config.schema.iter_mut().for_each(clean);
    config.baseline.iter_mut().for_each(clean);
    for set in &mut config.sets {
        clean(&mut set.path);
        set.prelude.iter_mut().for_each(clean);
        set.schema.iter_mut().for_each(clean);
        set.locations.iter_mut().for_each(clean);
    }
    Ok(config)
}

/// 1-based line and column of the first mapping key `key` in `text` (quoted or not).
fn key_line(text: &str, key: &str) -> Option<(usize, usize)> {
    text.lines().enumerate().find_map(|(i, line)| {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        [key.to_string(), format!("\"{key}\""), format!("'{key}'")]
            .iter()
            .any(|k| {
                trimmed
                    .strip_prefix(k.as_str())
                    .is_some_and(|rest| rest.trim_start().starts_with(':'))
            })
            .then_some((i + 1, indent + 1))
    })
}

/// `baseline:` of a set in `.pgrehearse.yaml`: a snapshot a fresh install starts from.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BaselineConfig {
    /// The snapshot (e.g. `db/LATEST.sql`), relative to the root; run like `psql -f`.
    pub file: PathBuf,
    /// Only migrations whose version sorts after this one are replayed after the snapshot; without
    /// it, every migration is.
    #[serde(default, deserialize_with = "version_string")]
    pub version: Option<String>,
}

/// A version written as a YAML string or number.
fn version_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Unsigned(u64),
        Float(f64),
    }
    Ok(match Option::<Raw>::deserialize(d)? {
        None => None,
        Some(Raw::Text(s)) => Some(s),
        Some(Raw::Unsigned(n)) => Some(n.to_string()),
        Some(Raw::Float(f)) => Some(f.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_with_runner_and_prelude_parse() {
        let c = parse(
            Path::new("c.yaml"),
            "sets:\n  - path: db\n    runner: golang-migrate\n    prelude: [roles.sql]\nexclude: [old]\n",
        )
        .unwrap();
        assert_eq!(c.sets.len(), 1);
        assert_eq!(c.sets[0].runner, Some(Runner::GolangMigrate));
        assert_eq!(c.sets[0].prelude, vec![PathBuf::from("roles.sql")]);
        assert_eq!(c.exclude, vec![PathBuf::from("old")]);
    }

    #[test]
    fn unknown_key_is_an_error_with_its_line() {
        let err = parse(
            Path::new(".pgrehearse.yaml"),
            "sets:\n  - path: db\n    runnr: psql\n",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with(".pgrehearse.yaml:3:"), "{text}");
        assert!(text.contains("unknown field `runnr`"), "{text}");
    }

    #[test]
    fn unknown_runner_lists_the_valid_ones() {
        let err = parse(
            Path::new("c.yaml"),
            "sets:\n  - path: db\n    runner: knex\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("knex"), "{err}");
        assert!(err.contains("golang-migrate"), "{err}");
    }

    #[test]
    fn drift_severities_and_schemas_parse() {
        let c = parse(
            Path::new("c.yaml"),
            "schema: [db/schema.sql]\ndrift:\n  severity:\n    index: error\n    comment: off\n",
        )
        .unwrap();
        assert_eq!(c.schema, vec![PathBuf::from("db/schema.sql")]);
        assert_eq!(
            c.drift.severity.get(&crate::model::DriftClass::Index),
            Some(&Level::Error)
        );
        assert_eq!(
            c.drift
                .severity
                .get(&crate::model::DriftClass::Comment)
                .and_then(|l| l.severity()),
            None
        );
        let err = parse(
            Path::new("c.yaml"),
            "drift:\n  severity:\n    indexes: error\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("indexes"), "{err}");
    }

    #[test]
    fn privileged_entries_and_replay_as_are_read_and_unknown_kinds_named() {
        let c = parse(
            Path::new("c.yaml"),
            "privileged:\n  - extension: postgres_fdw\n  - {statement: create-role}\nreplay-as: superuser\n",
        )
        .expect("valid");
        assert_eq!(c.privileged_extensions(), vec!["postgres_fdw".to_string()]);
        assert!(c.privileges(PrivilegedStatement::CreateRole));
        assert_eq!(c.replay_as, Some(ReplayAs::Superuser));
        let err = parse(
            Path::new("c.yaml"),
            "privileged:\n  - statement: copy-program\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("copy-program")
                && err.contains("create-role")
                && err.contains("c.yaml:2:"),
            "{err}"
        );
        let err = parse(Path::new("c.yaml"), "replay-as: root\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("root") && err.contains("superuser"), "{err}");
    }

    #[test]
    fn drift_exclusions_are_validated_with_their_line() {
        let c = parse(
            Path::new("c.yaml"),
            "drift:\n  exclude: [\"table:public.tmp_*\"]\n",
        )
        .unwrap();
        assert_eq!(c.drift.exclusions().len(), 1);
        let err = parse(
            Path::new("c.yaml"),
            "drift:\n  exclude:\n    - \"tabel:x.*\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("c.yaml:3:"), "{err}");
        assert!(err.contains("tabel"), "{err}");
    }

    #[test]
    fn rule_levels_parse_and_unknown_ids_are_errors_with_their_line() {
        let c = parse(
            Path::new("c.yaml"),
            "rules:\n  drop-column: off\n  lock-without-timeout: notice\nbaseline: ci/baseline.json\n",
        )
        .unwrap();
        assert_eq!(c.rules.get("drop-column"), Some(&Level::Off));
        assert_eq!(c.rules.get("lock-without-timeout"), Some(&Level::Notice));
        assert_eq!(c.baseline, Some(PathBuf::from("ci/baseline.json")));
        let err = parse(
            Path::new("c.yaml"),
            "drift:\n  exclude: []\nrules:\n  drop-colum: off\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("c.yaml:4:3:"), "{err}");
        assert!(err.contains("did you mean `drop-column`"), "{err}");
        let err = parse(Path::new("c.yaml"), "rules:\n  drop-column: loud\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("loud"), "{err}");
    }

    #[test]
    fn environment_keys_parse_globally_and_per_set() {
        let c = parse(
            Path::new("c.yaml"),
            "preset: supabase\ncreate-roles: true\nsets:\n  - path: db\n    preset: none\n    create-roles: false\n    baseline: {file: db/LATEST.sql, version: \"20240101000000\"}\n",
        )
        .unwrap();
        assert_eq!(c.preset, Some(crate::runner::Preset::Supabase));
        assert_eq!(c.create_roles, Some(true));
        assert_eq!(c.sets[0].preset, Some(crate::runner::Preset::None));
        assert_eq!(c.sets[0].create_roles, Some(false));
        let baseline = c.sets[0].baseline.as_ref().unwrap();
        assert_eq!(baseline.file, PathBuf::from("db/LATEST.sql"));
        assert_eq!(baseline.version.as_deref(), Some("20240101000000"));
        let err = parse(Path::new("c.yaml"), "preset: heroku\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("heroku") && err.contains("supabase"), "{err}");
        let err = parse(
            Path::new("c.yaml"),
            "sets:\n  - path: db\n    baseline: {file: x.sql, versoin: 1}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("versoin"), "{err}");
    }

    #[test]
    fn empty_file_is_the_default_config() {
        assert_eq!(
            parse(Path::new("c.yaml"), "  \n").unwrap(),
            ConfigFile::default()
        );
    }
}
