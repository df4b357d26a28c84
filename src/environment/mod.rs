//! The environment a replay needs: what the platform provides before the migrations run, and
//! findings that say exactly what is missing from the replay server and how to provide it.
//!
//! - **Presets** ([`Preset`]): built-in SQL that recreates what a platform provides. `supabase`
//!   (on by default for `supabase/migrations`, `preset: none` turns it off) creates Supabase's roles
//!   (`anon`, `authenticated`, `service_role`, `authenticator`, `supabase_admin`, …, all NOLOGIN), the
//!   `auth`, `storage`, `extensions`, `realtime` and `graphql_public` schemas, `auth.users`,
//!   `auth.identities`, `storage.buckets`, `storage.objects`, `auth.uid()`, `auth.role()`,
//!   `auth.jwt()`, `auth.email()`, the storage path helpers and the `supabase_realtime` publication.
//!   What it creates is left out of drift comparisons ([`exclusions`]).
//! - **create-roles**: roles the migrations reference (`GRANT … TO`, `OWNER TO`, `CREATE POLICY … TO`,
//!   …, found statically by [`roles`]) but never create are created NOLOGIN before the replay, and
//!   reported once (`roles-created`).
//! - **baseline snapshots**: a set's `baseline: {file, version}` runs the snapshot first, like
//!   `psql -f`, and replays only the migrations after `version`.
//!
//! All of them travel with the set as [`Prelude`]s of a special [`PreludeKind`], so that they run
//! once per replay database, before the migrations, wherever a set is replayed. Roles created for a
//! replay are dropped with its scratch database, like roles the migrations create (the engine's
//! `NewRoles` cleanup); roles that already existed on a shared server are left untouched.
//!
//! When a migration fails, [`classify`] turns the generic failure into `missing-role` (the error names
//! a role that does not exist) or `needs-newer-postgres` (the statement uses a construct of a newer
//! PostgreSQL than the replay server, see [`versions`]). When a prelude or a declared schema fails,
//! [`Lacking`] tells whether the server is the cause (an extension it does not ship, a role it does
//! not have), so that the finding names it instead of asking to fix the file ([`prelude_failed`]).

pub mod privileged;
pub mod roles;
pub mod versions;

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;

use pgrehearse_sql::Span;
use tokio_postgres::Client;
use tokio_postgres::error::DbError;

use crate::apply::{EngineContext, ReplayError};
use crate::catalog::{Exclusion, ObjectKind};
use crate::config::{ConfigFile, SetConfig};
use crate::model::{Evidence, Finding};
use crate::runner::{Migration, MigrationSet, Prelude, PreludeKind, Preset, RoleRef, Runner};

/// The SQL of the `supabase` preset.
pub const SUPABASE_SQL: &str = include_str!("supabase.sql");

/// Roles the `supabase` preset creates when missing.
pub const SUPABASE_ROLES: &[&str] = &[
    "anon",
    "authenticated",
    "service_role",
    "authenticator",
    "supabase_admin",
    "supabase_auth_admin",
    "supabase_storage_admin",
    "dashboard_user",
    "postgres",
];

/// Schemas Supabase manages: the preset creates some of them, a live Supabase database has all of
/// them; drift comparisons leave them out when the preset is on.
const SUPABASE_SCHEMAS: &[&str] = &[
    "auth",
    "storage",
    "extensions",
    "realtime",
    "_realtime",
    "graphql",
    "graphql_public",
    "vault",
    "pgbouncer",
    "pgsodium",
    "pgsodium_masks",
    "supabase_functions",
    "supabase_migrations",
    "_analytics",
    "net",
    "cron",
];

impl Preset {
    /// The SQL the preset runs, if any.
    pub fn sql(self) -> Option<&'static str> {
        match self {
            Preset::Supabase => Some(SUPABASE_SQL),
            Preset::None => None,
        }
    }

    /// Roles the preset provides.
    pub fn roles(self) -> &'static [&'static str] {
        match self {
            Preset::Supabase => SUPABASE_ROLES,
            Preset::None => &[],
        }
    }

    /// What drift comparisons leave out when the preset is on.
    pub fn exclusions(self) -> Vec<Exclusion> {
        match self {
            Preset::Supabase => SUPABASE_SCHEMAS
                .iter()
                .map(|s| Exclusion::of(ObjectKind::Schema, *s))
                .chain(
                    ["uuid-ossp", "pgcrypto"]
                        .iter()
                        .map(|e| Exclusion::of(ObjectKind::Extension, *e)),
                )
                .collect(),
            Preset::None => Vec::new(),
        }
    }
}

/// The leading version of a migration id or configured version: `[0-9.]` prefix split on dots.
fn version_key(s: &str) -> Vec<&str> {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    s[..end].split('.').filter(|p| !p.is_empty()).collect()
}

/// Compares two digit strings as numbers of any length.
fn cmp_digits(a: &str, b: &str) -> std::cmp::Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Whether migration `id` sorts after baseline `version` (numeric-aware, as discovery orders
/// migrations). Migrations without a version (Flyway repeatables) always run after a snapshot.
pub fn replays_after(id: &str, version: &str) -> bool {
    let (ik, vk) = (version_key(id), version_key(version));
    if ik.is_empty() {
        return true;
    }
    if vk.is_empty() {
        return id > version;
    }
    for i in 0..ik.len().max(vk.len()) {
        let a = ik.get(i).copied().unwrap_or("0");
        let b = vk.get(i).copied().unwrap_or("0");
        match cmp_digits(a, b) {
            std::cmp::Ordering::Equal => continue,
            o => return o == std::cmp::Ordering::Greater,
        }
    }
    false
}

/// Applies the environment settings to a discovered set: drops the migrations a baseline snapshot
/// covers and puts, in order, the preset, the roles to create, the set's own preludes and the
/// snapshot in front of the migrations.
pub fn prepare(
    set: &mut MigrationSet,
    global: &ConfigFile,
    set_config: Option<&SetConfig>,
    baseline: Option<(Prelude, Option<String>)>,
) {
    if let Some((_, Some(version))) = &baseline {
        set.migrations.retain(|m| replays_after(&m.id, version));
    }
    let preset = set_config
        .and_then(|s| s.preset)
        .or(global.preset)
        .unwrap_or(if set.runner == Runner::Supabase {
            Preset::Supabase
        } else {
            Preset::None
        });
    let create = set_config
        .and_then(|s| s.create_roles)
        .or(global.create_roles)
        .unwrap_or(false);
    let mut preludes = Vec::new();
    if let Some(sql) = preset.sql() {
        preludes.push(Prelude {
            file: PathBuf::from(format!("<preset {preset}>")),
            text: sql.into(),
            kind: PreludeKind::Preset(preset),
        });
    }
    if create {
        let refs = needed_roles(set, preset, baseline.as_ref().map(|(b, _)| b));
        if !refs.is_empty() {
            preludes.push(Prelude {
                file: PathBuf::from("<create-roles>"),
                text: "".into(),
                kind: PreludeKind::CreateRoles(refs),
            });
        }
    }
    preludes.append(&mut set.preludes);
    if let Some((snapshot, _)) = baseline {
        preludes.push(snapshot);
    }
    set.preludes = preludes;
}

/// Roles the set's preludes, snapshot and migrations reference but never create (nor the preset
/// provides), each at its first reference.
fn needed_roles(set: &MigrationSet, preset: Preset, baseline: Option<&Prelude>) -> Vec<RoleRef> {
    let mut created: HashSet<String> = preset.roles().iter().map(|r| r.to_string()).collect();
    let mut refs: Vec<RoleRef> = Vec::new();
    let mut scan = |file: &PathBuf, text: &str, stmts: Vec<Span>| {
        for stmt in stmts {
            created.extend(roles::created(text, stmt));
            refs.extend(roles::referenced(text, stmt).into_iter().map(|n| RoleRef {
                name: n.name,
                file: file.clone(),
                span: n.span,
            }));
        }
    };
    for p in set
        .preludes
        .iter()
        .filter(|p| p.kind == PreludeKind::File)
        .chain(baseline)
    {
        let stmts = crate::runner::statements_in(&p.text, Span::new(0, p.text.len()));
        scan(&p.file, &p.text, stmts);
    }
    for m in &set.migrations {
        let stmts = m
            .batches
            .iter()
            .flat_map(|b| crate::runner::statements_in(&m.text, b.span))
            .collect();
        scan(&m.file, &m.text, stmts);
    }
    let mut seen = BTreeSet::new();
    refs.into_iter()
        .filter(|r| !created.contains(&r.name) && seen.insert(r.name.clone()))
        .collect()
}

/// The preset active for `set`, if any.
pub fn preset_of(set: &MigrationSet) -> Option<Preset> {
    set.preludes.iter().find_map(|p| match p.kind {
        PreludeKind::Preset(p) => Some(p),
        _ => None,
    })
}

/// Whether `create-roles` is on for `set` (and found roles to create).
pub fn creates_roles(set: &MigrationSet) -> bool {
    set.preludes
        .iter()
        .any(|p| matches!(p.kind, PreludeKind::CreateRoles(_)))
}

/// Whether `set` starts from a `baseline:` snapshot.
pub fn has_baseline(set: &MigrationSet) -> bool {
    set.preludes.iter().any(|p| p.kind == PreludeKind::Baseline)
}

/// What drift comparisons of `set` leave out because of its environment.
pub fn exclusions(set: &MigrationSet) -> Vec<Exclusion> {
    preset_of(set).map(Preset::exclusions).unwrap_or_default()
}

/// Runs a preset's SQL. `Ok(Err(finding))` when the server rejected it.
pub async fn run_preset(
    client: &Client,
    preset: Preset,
    text: &str,
) -> Result<Result<(), Finding>, ReplayError> {
    match crate::apply::execute(client, text).await {
        Ok(_) => Ok(Ok(())),
        Err((Some(error), _, _)) => Ok(Err(crate::registry::finding(
            "prelude-failed",
            format!("the built-in `{preset}` preset failed: {}", error.message()),
        )
        .help("the preset creates roles (the url engine's role needs CREATEROLE), schemas and tables in the replay database; fix the server's permissions, or set `preset: none` and provide what the migrations need in a `prelude:` file")
        .evidence(Evidence {
            sqlstate: Some(error.code().code().to_string()),
            detail: error.detail().map(str::to_string),
            hint: error.hint().map(str::to_string),
            extra: [("preset".to_string(), preset.to_string())]
                .into_iter()
                .collect(),
            ..Evidence::default()
        }))),
        Err((None, _, reason)) => Err(ReplayError {
            file: format!("the `{preset}` preset"),
            reason,
        }),
    }
}

/// Creates (NOLOGIN) the roles of `refs` the server does not have. `Ok(Ok(Some(notice)))` lists the
/// roles created; `Ok(Err(finding))` when the server refused to create one.
pub async fn create_roles(
    client: &Client,
    refs: &[RoleRef],
) -> Result<Result<Option<Finding>, Finding>, ReplayError> {
    let broken = |e: tokio_postgres::Error| ReplayError {
        file: "the roles to create".to_string(),
        reason: crate::engine::db_error_text(&e),
    };
    let names: Vec<String> = refs.iter().map(|r| r.name.clone()).collect();
    let existing: HashSet<String> = client
        .query(
            "SELECT rolname::pg_catalog.text FROM pg_catalog.pg_roles WHERE rolname = ANY($1)",
            &[&names],
        )
        .await
        .map_err(broken)?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    let mut made: Vec<&RoleRef> = Vec::new();
    for r in refs.iter().filter(|r| !existing.contains(&r.name)) {
        let statement = format!(
            "CREATE ROLE {} NOLOGIN",
            crate::engine::quote_ident(&r.name)
        );
        if let Err(e) = client.batch_execute(&statement).await {
            let Some(error) = e.as_db_error() else {
                return Err(broken(e));
            };
            return Ok(Err(crate::registry::finding(
                "prelude-failed",
                format!(
                    "could not create role `{}` for the replay (`create-roles`): {}",
                    r.name,
                    error.message()
                ),
            )
            .help("the url engine's role needs CREATEROLE to create roles; or create the role on the server yourself")
            .at(&r.file, Some(r.span))
            .evidence(Evidence {
                sqlstate: Some(error.code().code().to_string()),
                extra: [("role".to_string(), r.name.clone())].into_iter().collect(),
                ..Evidence::default()
            })));
        }
        made.push(r);
    }
    let Some(first) = made.first() else {
        return Ok(Ok(None));
    };
    let list = made
        .iter()
        .map(|r| format!("`{}`", r.name))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(Ok(Some(
        crate::registry::finding(
            "roles-created",
            format!(
                "created {} for the replay that the migrations use but never create (NOLOGIN, dropped afterwards): {list}",
                if made.len() == 1 {
                    "1 role".to_string()
                } else {
                    format!("{} roles", made.len())
                }
            ),
        )
        .help("production must have these roles before the migrations run: create them in a migration, or keep them in a `prelude:` file so the requirement is written down")
        .at(&first.file, Some(first.span))
        .evidence(Evidence {
            extra: [(
                "roles".to_string(),
                made.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(","),
            )]
            .into_iter()
            .collect(),
            ..Evidence::default()
        }),
    )))
}

/// A migration (or snapshot) statement the server rejected, as [`classify`] needs it.
pub struct Failed<'a> {
    pub set: &'a MigrationSet,
    pub migration: &'a Migration,
    /// `migration `0002_x`` or `baseline `db/LATEST.sql``, for messages.
    pub subject: &'a str,
    /// The failing statement.
    pub stmt: Span,
    /// Where the error points (a token when the server gave a position).
    pub primary: Span,
    pub has_position: bool,
    pub error: &'a DbError,
    pub engine: &'a EngineContext,
    /// Evidence already gathered (SQLSTATE, statement, migrations not applied).
    pub evidence: &'a Evidence,
    /// `; 2 later migrations were not applied`, or empty.
    pub not_applied_note: &'a str,
}

/// An environment finding that explains the failure better than `migration-failed`, if any.
pub fn classify(f: &Failed<'_>) -> Option<Finding> {
    needs_newer_postgres(f).or_else(|| missing_role(f))
}

fn needs_newer_postgres(f: &Failed<'_>) -> Option<Finding> {
    let server = versions::major(&f.engine.version)?;
    let text = &*f.migration.text;
    let hit = versions::explain(
        text,
        f.stmt,
        server,
        &versions::ErrorFacts {
            sqlstate: f.error.code().code(),
            message: f.error.message(),
            position: f.has_position.then_some(f.primary.start),
        },
    )?;
    let needed = hit.construct.version;
    let label = hit.construct.label;
    let mut evidence = f.evidence.clone();
    evidence
        .extra
        .insert("construct".into(), hit.construct.id.to_string());
    evidence
        .extra
        .insert("required_version".into(), needed.to_string());
    evidence
        .extra
        .insert("server_version".into(), f.engine.version.clone());
    Some(
        crate::registry::finding(
            "needs-newer-postgres",
            format!(
                "{} needs PostgreSQL {needed} (`{label}`); this replay ran on PostgreSQL {server}: {}{}",
                f.subject,
                f.error.message(),
                f.not_applied_note
            ),
        )
        .help(format!(
            "replay on PostgreSQL {needed} or later: pass `--pg-version {needed}` (docker engine) or `--image postgres:{needed}`, or point `--database-url` at a PostgreSQL {needed} server; if production runs PostgreSQL {server}, this statement fails there too: rewrite it without `{label}`"
        ))
        .at(&f.migration.file, Some(hit.span))
        .evidence(evidence),
    )
}

/// The role a `role "x" does not exist` error names.
fn missing_role_name(error: &DbError) -> Option<String> {
    if !matches!(error.code().code(), "42704" | "22023") {
        return None;
    }
    let rest = error.message().strip_prefix("role \"")?;
    let name = rest.strip_suffix("\" does not exist")?;
    Some(name.to_string())
}

fn missing_role(f: &Failed<'_>) -> Option<Finding> {
    let name = missing_role_name(f.error)?;
    let text = &*f.migration.text;
    // Point at the role's name in the statement when it is there.
    let span = roles::referenced(text, f.stmt)
        .into_iter()
        .find(|n| n.name == name)
        .map(|n| n.span)
        .unwrap_or(f.primary);
    let preset = preset_of(f.set);
    let mut ways = Vec::new();
    if SUPABASE_ROLES.contains(&name.as_str()) && preset != Some(Preset::Supabase) {
        ways.push(format!(
            "`preset: supabase` in .pgrehearse.yaml (Supabase provides `{name}`; the preset is on by default for supabase/migrations unless `preset: none`)"
        ));
    }
    if !creates_roles(f.set) {
        ways.push(
            "`create-roles: true` in .pgrehearse.yaml or `--create-roles` (creates every role the migrations reference but never create, NOLOGIN, for the replay only)"
                .to_string(),
        );
    }
    let quoted = crate::engine::quote_ident(&name);
    let quoted = if quoted.trim_matches('"') == name
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        name.clone()
    } else {
        quoted
    };
    ways.push(format!(
        "a `prelude:` file with `CREATE ROLE {quoted} NOLOGIN;`"
    ));
    let mut evidence = f.evidence.clone();
    evidence.extra.insert("role".into(), name.clone());
    Some(
        crate::registry::finding(
            "missing-role",
            format!(
                "role `{name}` does not exist on the replay server; {} needs it{}{}",
                f.subject,
                f.evidence
                    .statement
                    .map(|s| format!(" at statement {s}"))
                    .unwrap_or_default(),
                f.not_applied_note
            ),
        )
        .help(format!(
            "production has this role before the migrations run; give the replay one too: {}",
            ways.join(", or ")
        ))
        .at(&f.migration.file, Some(span))
        .evidence(evidence),
    )
}

/// Something the replay server lacks that a statement of the repository's environment (a prelude, a
/// declared schema) needs: the failure is the server's, not the file's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lacking {
    /// An extension the server does not ship.
    Extension(String),
    /// A role the server does not have.
    Role(String),
}

impl Lacking {
    /// What the server lacks, read from the error of statement `stmt` of `text`: a `CREATE EXTENSION`
    /// of an extension the server does not ship, or a role that does not exist.
    pub fn of(text: &str, stmt: Span, error: &DbError) -> Option<Lacking> {
        if let Some(name) = missing_role_name(error) {
            return Some(Lacking::Role(name));
        }
        let target = pgrehearse_sql::target(text, stmt)?;
        let unavailable = matches!(error.code().code(), "58P01" | "0A000" | "42704")
            && error.message().contains("extension");
        (target.kind == pgrehearse_sql::TargetKind::Extension
            && target.action == pgrehearse_sql::Action::Create
            && unavailable)
            .then_some(Lacking::Extension(target.name.name))
    }

    /// `extension `postgis` is not available on the replay server (PostgreSQL 15.10)`.
    pub fn describe(&self, server_version: Option<&str>) -> String {
        let server = match server_version {
            Some(v) => format!("the replay server (PostgreSQL {v})"),
            None => "the replay server".to_string(),
        };
        match self {
            Lacking::Extension(name) => format!("extension `{name}` is not available on {server}"),
            Lacking::Role(name) => format!("role `{name}` does not exist on {server}"),
        }
    }

    /// Evidence `extra` naming it.
    pub fn evidence(&self) -> (String, String) {
        match self {
            Lacking::Extension(name) => ("extension".to_string(), name.clone()),
            Lacking::Role(name) => ("role".to_string(), name.clone()),
        }
    }
}

/// Images known to ship an extension the official image lacks.
pub fn extension_image(ext: &str, major: &str) -> Option<String> {
    let major = if major.is_empty() { "17" } else { major };
    match ext {
        "vector" => Some(format!("pgvector/pgvector:pg{major}")),
        "postgis" | "postgis_topology" | "postgis_raster" | "postgis_tiger_geocoder" => {
            Some(format!("postgis/postgis:{major}-3.5"))
        }
        "timescaledb" => Some(format!("timescale/timescaledb:latest-pg{major}")),
        "pg_cron" | "pg_graphql" | "pgsodium" | "pg_net" | "supabase_vault" => {
            Some("supabase/postgres (the Supabase CLI image)".into())
        }
        _ => None,
    }
}

/// How to give the replay server an extension it lacks (`major`: its PostgreSQL major version).
pub fn extension_help(ext: &str, major: &str) -> String {
    let image = match extension_image(ext, major) {
        Some(image) => format!(
            "`--image {image}` with the docker engine (match its PostgreSQL major to `--pg-version`)"
        ),
        None => {
            "an image that ships it with `--image` (for the PostgreSQL major of `--pg-version`)"
                .to_string()
        }
    };
    format!(
        "the file is fine; the replay server lacks `{ext}`: replay on a server that has it, {image}, or `--database-url` to a server with it installed"
    )
}

/// A prelude the server rejected. When the cause is the server (an extension it does not ship, a
/// role it does not have) the finding says so, rather than asking to fix the prelude.
pub fn prelude_failed(
    file: &std::path::Path,
    text: &str,
    primary: Span,
    statement: Option<usize>,
    error: &DbError,
    server_version: Option<&str>,
) -> Finding {
    let stmt = crate::runner::statements_in(text, Span::new(0, text.len()))
        .into_iter()
        .find(|s| s.start <= primary.start && primary.start <= s.end)
        .unwrap_or(primary);
    let mut evidence = crate::apply::db_evidence(error, None, statement);
    let finding = match Lacking::of(text, stmt, error) {
        Some(lacking) => {
            let major = server_version
                .and_then(|v| v.split('.').next())
                .unwrap_or("");
            let help = match &lacking {
                Lacking::Extension(ext) => extension_help(ext, major),
                Lacking::Role(role) => format!(
                    "the prelude expects role `{role}`, which production has and the replay server does not: create it first (`CREATE ROLE {role} NOLOGIN` at the top of the prelude), or `create-roles: true` (it creates the roles the preludes and migrations reference but never create)"
                ),
            };
            let (k, v) = lacking.evidence();
            evidence.extra.insert(k, v);
            crate::registry::finding(
                "prelude-failed",
                format!(
                    "prelude failed: {}: {}; migrations were not replayed",
                    lacking.describe(server_version),
                    error.message()
                ),
            )
            .help(help)
        }
        None => crate::registry::finding(
            "prelude-failed",
            format!("prelude failed: {}", error.message()),
        )
        .help("fix the prelude; migrations were not replayed"),
    };
    finding.at(file, Some(primary)).evidence(evidence)
}

/// Help for a failure on an object a platform provides (Supabase's `auth.users`, `auth.uid()`, …)
/// when its preset is off.
pub fn platform_help(error: &DbError, set: &MigrationSet) -> Option<String> {
    if preset_of(set) == Some(Preset::Supabase) {
        return None;
    }
    let message = error.message();
    let object = [
        "auth",
        "storage",
        "extensions",
        "realtime",
        "graphql_public",
    ]
    .iter()
    .find(|s| {
        message.contains(&format!("schema \"{s}\""))
            || message.contains(&format!("\"{s}."))
            || message.contains(&format!(" {s}."))
    })
    .map(|s| format!("`{s}`"))
    .or_else(|| {
        message
            .contains("publication \"supabase_realtime\"")
            .then(|| "the `supabase_realtime` publication".to_string())
    })?;
    Some(format!(
        "{object} is provided by the Supabase platform: add `preset: supabase` to .pgrehearse.yaml so the replay recreates it (it is on by default for supabase/migrations unless `preset: none`)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BaselineConfig;

    #[test]
    fn baseline_versions_compare_numerically() {
        assert!(!replays_after("20240101000000", "20240101000000"));
        assert!(!replays_after("20240101000000_init", "20240101000000"));
        assert!(replays_after("20240201000000_next", "20240101000000"));
        assert!(!replays_after("20231231235959_old", "20240101000000"));
        assert!(replays_after("10_c", "9"));
        assert!(!replays_after("009_c", "10"));
        assert!(replays_after("1.10", "1.9"));
        assert!(!replays_after("1.2", "1.10"));
        assert!(replays_after("R repeatable", "5"));
        assert!(replays_after("0003_bright", "0002"));
    }

    #[test]
    fn presets_exclude_supabase_schemas_from_drift() {
        let ex = Preset::Supabase.exclusions();
        assert!(ex.iter().any(|e| e.matches(ObjectKind::Schema, "auth")));
        assert!(ex.iter().any(|e| e.matches(ObjectKind::Schema, "storage")));
        assert!(!ex.iter().any(|e| e.matches(ObjectKind::Schema, "public")));
        assert!(Preset::None.exclusions().is_empty());
    }

    #[test]
    fn baseline_config_accepts_numeric_versions() {
        let b: BaselineConfig =
            serde_norway::from_str("file: db/LATEST.sql\nversion: 20240101000000\n").unwrap();
        assert_eq!(b.version.as_deref(), Some("20240101000000"));
        let b: BaselineConfig = serde_norway::from_str("file: db/LATEST.sql\n").unwrap();
        assert_eq!(b.version, None);
        assert!(serde_norway::from_str::<BaselineConfig>("file: x\nversoin: 1\n").is_err());
    }
}
