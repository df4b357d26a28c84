//! What the replayed SQL may do, and what it may not.
//!
//! The SQL of a pull request is untrusted, so migrations replay as a role without superuser (see
//! `engine::ReplayRole`): it owns the scratch database, so it creates schemas, tables, types,
//! functions in trusted languages and trusted extensions; on PostgreSQL 16 and newer it may create
//! roles. The repository's own configuration (preludes, presets, `create-roles`) runs as the engine's
//! superuser first, and what it made is then handed over ([`hand_over`]): the replay role becomes a
//! member of the roles it created, the roles `create-roles` made may own objects in `public`, and the
//! replay role has every privilege (with grant option) on the schemas they made as the superuser and
//! on what is in them, and owns their tables, sequences and routines (not an extension's).
//!
//! A statement that needs more fails as it would for such a role in production, and becomes a
//! `needs-privilege` finding ([`classify`]) that names the privilege and, where the team can trust it,
//! the `privileged:` entry that grants it to the rehearsal:
//!
//! - `{extension: NAME}`: the replay's `CREATE EXTENSION NAME` runs through a function owned by the
//!   superuser ([`install`]) that creates that extension and nothing else, in the replay's own
//!   transaction. It is the only way statements run as superuser on the replay's behalf, and it never
//!   runs SQL it was given: the statement is rebuilt from the extension's name, schema, version and
//!   `CASCADE`.
//! - `{statement: create-role}`: CREATEROLE on servers older than 16, where it is not given by
//!   default because it lets a role grant itself `pg_execute_server_program`.

use pgrehearse_sql::{self as sql, Span};
use tokio_postgres::Client;
use tokio_postgres::error::DbError;

use crate::apply::{EngineContext, ReplayError};
use crate::engine::quote_ident;
use crate::model::{Category, Evidence, Finding, Severity};
use crate::runner::{Prelude, PreludeKind, Preset};

/// Server-side functions that read, list or write the server's files: superuser only (or the
/// predefined `pg_read_server_files`/`pg_write_server_files` roles), never granted to the replay.
pub const FILE_FUNCTIONS: &[&str] = &[
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
    "lo_import",
    "lo_export",
    // adminpack
    "pg_file_write",
    "pg_file_rename",
    "pg_file_unlink",
];

/// The schema of the function that creates `privileged:` extensions; dropped when the replay ends,
/// before anything reads the catalog.
pub const SCHEMA: &str = "pgrehearse_privileged";

/// Makes what the repository's configuration created usable by the replay role `role`: membership in
/// the roles the presets and `create-roles` made (never a superuser), and for the Supabase preset the
/// platform's schemas, their objects and the `supabase_realtime` publication, as Supabase's own
/// `postgres` role has them.
pub async fn hand_over(
    admin: &Client,
    role: &str,
    preludes: &[Prelude],
    since: &RolesBefore,
) -> Result<(), ReplayError> {
    let mut roles: Vec<String> = Vec::new();
    let mut supabase = false;
    // Roles production has that the replay made: objects handed to them (`OWNER TO`) must be able to
    // live in `public`, as they do there.
    let mut made: Vec<String> = Vec::new();
    for prelude in preludes {
        match &prelude.kind {
            PreludeKind::CreateRoles(refs) => {
                roles.extend(refs.iter().map(|r| r.name.clone()));
                made.extend(refs.iter().map(|r| r.name.clone()));
            }
            PreludeKind::Preset(Preset::Supabase) => {
                supabase = true;
                roles.extend(super::SUPABASE_ROLES.iter().map(|r| r.to_string()));
            }
            _ => {}
        }
    }
    let broken = |e: tokio_postgres::Error| ReplayError {
        file: "the roles handed over to the replay".to_string(),
        reason: crate::engine::db_error_text(&e),
    };
    // The roles the preludes made (newer than every role before them) or that a preset or
    // `create-roles` names, that are not superusers, not predefined (`pg_*`, system OIDs), not the replay
    // role itself and not already its.
    let grantable: Vec<String> = admin
        .query(
            "SELECT rolname::pg_catalog.text FROM pg_catalog.pg_roles \
             WHERE (rolname = ANY($1) OR oid::pg_catalog.int8 > $3) \
             AND NOT rolsuper AND rolname <> $2 AND oid >= 16384 AND rolname !~ '^pg_' \
             AND NOT pg_catalog.pg_has_role($2, oid, 'MEMBER')",
            &[&roles, &role, &since.0],
        )
        .await
        .map_err(broken)?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    let mut sql = String::new();
    for r in &grantable {
        sql.push_str(&format!(
            "GRANT {} TO {};\n",
            quote_ident(r),
            quote_ident(role)
        ));
        if made.contains(r) {
            sql.push_str(&format!(
                "GRANT USAGE, CREATE ON SCHEMA public TO {};\n",
                quote_ident(r)
            ));
        }
    }
    // The schemas the preludes and presets made as the superuser (`auth`, `extensions`, a prelude's
    // `app`), and what is in them: usable and extensible by the replay role, as by a platform's
    // migration role.
    let to = quote_ident(role);
    sql.push_str(&format!(
        "DO $$ DECLARE s pg_catalog.text; BEGIN \
         FOR s IN SELECT n.nspname::pg_catalog.text FROM pg_catalog.pg_namespace n \
         JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner \
         WHERE r.rolsuper AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' AND n.nspname <> '{SCHEMA}' LOOP \
         EXECUTE pg_catalog.format('GRANT ALL ON SCHEMA %I TO {to} WITH GRANT OPTION', s); \
         EXECUTE pg_catalog.format('GRANT ALL ON ALL TABLES IN SCHEMA %I TO {to} WITH GRANT OPTION', s); \
         EXECUTE pg_catalog.format('GRANT ALL ON ALL SEQUENCES IN SCHEMA %I TO {to} WITH GRANT OPTION', s); \
         EXECUTE pg_catalog.format('GRANT ALL ON ALL ROUTINES IN SCHEMA %I TO {to} WITH GRANT OPTION', s); \
         END LOOP; END $$;\n"
    ));
    // ...and owned by it, except what belongs to an extension: a migration that alters a table a
    // prelude made works as it did when the replay ran as superuser.
    sql.push_str(&format!(
        "DO $$ DECLARE o record; BEGIN \
         FOR o IN SELECT c.oid::pg_catalog.regclass::pg_catalog.text AS name, c.relkind \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_catalog.pg_roles r ON r.oid = c.relowner \
         WHERE r.rolsuper AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' AND n.nspname <> '{SCHEMA}' \
         AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') \
         AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass \
           AND d.objid = c.oid AND d.deptype IN ('e', 'a', 'i')) LOOP \
         EXECUTE pg_catalog.format(CASE o.relkind WHEN 'S' THEN 'ALTER SEQUENCE %s OWNER TO {to}' \
           ELSE 'ALTER TABLE %s OWNER TO {to}' END, o.name); \
         END LOOP; \
         FOR o IN SELECT p.oid::pg_catalog.regprocedure::pg_catalog.text AS name \
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
         JOIN pg_catalog.pg_roles r ON r.oid = p.proowner \
         WHERE r.rolsuper AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' AND n.nspname <> '{SCHEMA}' \
         AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass \
           AND d.objid = p.oid AND d.deptype = 'e') LOOP \
         EXECUTE pg_catalog.format('ALTER ROUTINE %s OWNER TO {to}', o.name); \
         END LOOP; END $$;\n"
    ));
    if supabase {
        sql.push_str(&format!(
            "DO $$ BEGIN IF EXISTS (SELECT FROM pg_catalog.pg_publication WHERE pubname = 'supabase_realtime' AND NOT puballtables) THEN \
             ALTER PUBLICATION supabase_realtime OWNER TO {to}; END IF; END $$;\n"
        ));
        // As on Supabase, `auth` and `storage` belong to their admin roles, of which the replay role is
        // a member: policies and triggers on `storage.objects` and `auth.users` work.
        sql.push_str(
            "DO $$ DECLARE r record; BEGIN \
             FOR r IN SELECT c.oid::pg_catalog.regclass AS rel, n.nspname::pg_catalog.text AS schema \
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname IN ('auth', 'storage') AND c.relkind IN ('r', 'p', 'v', 'm', 'f') LOOP \
             EXECUTE pg_catalog.format('ALTER TABLE %s OWNER TO %I', r.rel, \
             CASE r.schema WHEN 'auth' THEN 'supabase_auth_admin' ELSE 'supabase_storage_admin' END); \
             END LOOP; END $$;\n",
        );
    }
    admin.batch_execute(&sql).await.map_err(broken)
}

/// The newest role before the preludes ran: roles after it are theirs.
#[derive(Clone, Copy, Debug)]
pub struct RolesBefore(i64);

impl RolesBefore {
    /// Reads it on `admin` (before anything of the replay ran).
    pub async fn read(admin: &Client) -> Result<RolesBefore, ReplayError> {
        admin
            .query_one(
                "SELECT coalesce(max(oid::pg_catalog.int8), 0) FROM pg_catalog.pg_roles",
                &[],
            )
            .await
            .map(|r| RolesBefore(r.get(0)))
            .map_err(|e| ReplayError {
                file: "the roles before the replay".to_string(),
                reason: crate::engine::db_error_text(&e),
            })
    }
}

/// Creates the function that creates the extensions `names` (and no other) for the replay role
/// `role`, in the replay database `admin` is connected to.
pub async fn install(admin: &Client, role: &str, names: &[String]) -> Result<(), ReplayError> {
    let listed = names
        .iter()
        .map(|n| sql_literal(n))
        .collect::<Vec<_>>()
        .join(", ");
    let to = quote_ident(role);
    // Everything in the body is schema-qualified: the caller's search_path is in force while the
    // extension's script runs, as it would be for the statement itself.
    let body = format!(
        "CREATE SCHEMA {SCHEMA};
REVOKE ALL ON SCHEMA {SCHEMA} FROM PUBLIC;
GRANT USAGE ON SCHEMA {SCHEMA} TO {to};
CREATE FUNCTION {SCHEMA}.create_extension(name pg_catalog.text, target pg_catalog.text, version pg_catalog.text, cascade pg_catalog.bool, if_not_exists pg_catalog.bool, path pg_catalog.text)
RETURNS pg_catalog.void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $body$
BEGIN
  IF NOT (name OPERATOR(pg_catalog.=) ANY (ARRAY[{listed}]::pg_catalog.text[])) THEN
    RAISE EXCEPTION 'permission denied to create extension \"%\"', name
      USING ERRCODE = '42501', HINT = 'it is not listed in `privileged:`';
  END IF;
  PERFORM pg_catalog.set_config('search_path', path, true);
  EXECUTE pg_catalog.concat('CREATE EXTENSION ',
    CASE WHEN if_not_exists THEN 'IF NOT EXISTS ' ELSE '' END,
    pg_catalog.quote_ident(name),
    CASE WHEN target IS NULL THEN '' ELSE ' SCHEMA ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(target) END,
    CASE WHEN version IS NULL THEN '' ELSE ' VERSION ' OPERATOR(pg_catalog.||) pg_catalog.quote_literal(version) END,
    CASE WHEN cascade THEN ' CASCADE' ELSE '' END);
END $body$;
REVOKE ALL ON FUNCTION {SCHEMA}.create_extension(pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.bool, pg_catalog.bool, pg_catalog.text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION {SCHEMA}.create_extension(pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.bool, pg_catalog.bool, pg_catalog.text) TO {to};"
    );
    admin.batch_execute(&body).await.map_err(|e| ReplayError {
        file: "the `privileged:` extensions".to_string(),
        reason: crate::engine::db_error_text(&e),
    })
}

/// Drops what [`install`] made.
pub async fn uninstall(admin: &Client) -> Result<(), ReplayError> {
    admin
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        .await
        .map_err(|e| ReplayError {
            file: "the `privileged:` extensions".to_string(),
            reason: crate::engine::db_error_text(&e),
        })
}

/// `'text'` with quotes doubled.
fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A `CREATE EXTENSION` statement's parts.
#[derive(Debug, PartialEq, Eq)]
struct CreateExtension {
    name: String,
    if_not_exists: bool,
    schema: Option<String>,
    version: Option<String>,
    cascade: bool,
}

/// Reads `CREATE EXTENSION [IF NOT EXISTS] name [WITH] [SCHEMA s] [VERSION v] [CASCADE]`; `None`
/// for anything else (including forms it does not know, which then run as written).
fn create_extension(text: &str, stmt: Span) -> Option<CreateExtension> {
    let tokens = sql::significant_tokens(text, stmt);
    let words: Vec<&str> = tokens.iter().map(|t| t.span.slice(text)).collect();
    let mut i = 0;
    let kw = |i: usize, k: &str| words.get(i).is_some_and(|w| w.eq_ignore_ascii_case(k));
    if !(kw(0, "CREATE") && kw(1, "EXTENSION")) {
        return None;
    }
    i += 2;
    let if_not_exists = kw(i, "IF") && kw(i + 1, "NOT") && kw(i + 2, "EXISTS");
    if if_not_exists {
        i += 3;
    }
    let name = sql::ident(text, tokens.get(i)?)?;
    i += 1;
    let mut ext = CreateExtension {
        name,
        if_not_exists,
        schema: None,
        version: None,
        cascade: false,
    };
    if kw(i, "WITH") {
        i += 1;
    }
    while i < words.len() {
        if kw(i, "SCHEMA") {
            ext.schema = Some(sql::ident(text, tokens.get(i + 1)?)?);
            i += 2;
        } else if kw(i, "VERSION") {
            let v = words.get(i + 1)?;
            ext.version = Some(
                match v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
                    Some(lit) => lit.replace("''", "'"),
                    None => sql::ident(text, tokens.get(i + 1)?)?,
                },
            );
            i += 2;
        } else if kw(i, "CASCADE") {
            ext.cascade = true;
            i += 1;
        } else if words[i] == ";" {
            i += 1;
        } else {
            return None;
        }
    }
    Some(ext)
}

/// The query that replaces `stmt` when it creates an extension listed in `privileged:`.
pub fn substitute(text: &str, stmt: Span, allowed: &[String]) -> Option<String> {
    if allowed.is_empty() {
        return None;
    }
    let ext = create_extension(text, stmt)?;
    if !allowed.iter().any(|a| a == &ext.name) {
        return None;
    }
    let opt = |v: &Option<String>| v.as_deref().map(sql_literal).unwrap_or("NULL".into());
    Some(format!(
        "SELECT {SCHEMA}.create_extension({}, {}, {}, {}, {}, pg_catalog.current_setting('search_path'))",
        sql_literal(&ext.name),
        opt(&ext.schema),
        opt(&ext.version),
        ext.cascade,
        ext.if_not_exists
    ))
}

/// What a statement that failed for lack of privilege needed.
enum Needed {
    /// `privileged: [{extension: NAME}]` can grant it.
    Extension(String),
    /// Roles: CREATEROLE, which the replay role has on 16 and newer.
    CreateRole,
    /// Superuser only, and never granted to the rehearsal: server administration, not schema.
    Never(&'static str),
    /// Anything else the replay role lacks (ownership, a grant, membership in a role).
    Other,
}

fn needed(text: &str, stmt: Span, error: &DbError) -> Needed {
    let words: Vec<String> = sql::leading_keywords(text, stmt, 4);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let message = error.message();
    if let Some(ext) = create_extension(text, stmt) {
        return Needed::Extension(ext.name);
    }
    if message.contains("COPY to or from an external program") {
        return Needed::Never("`COPY … PROGRAM` runs a program on the database server");
    }
    if message.contains("COPY to or from a file") || message.contains("COPY from a file") {
        return Needed::Never("`COPY` to or from a server file reads or writes the server's files");
    }
    if message.contains("ALTER SYSTEM") || words.starts_with(&["ALTER", "SYSTEM"]) {
        return Needed::Never("`ALTER SYSTEM` changes the server's configuration");
    }
    if message.contains("for language") || words.starts_with(&["CREATE", "LANGUAGE"]) {
        return Needed::Never(
            "functions in an untrusted language (C, plpython3u, plperlu, …) run code on the server",
        );
    }
    for f in FILE_FUNCTIONS {
        if message.contains(&format!("function {f}")) {
            return Needed::Never("server-side file functions read or write the server's files");
        }
    }
    if message.contains("event trigger") || words.starts_with(&["CREATE", "EVENT"]) {
        return Needed::Never("event triggers fire for every role's DDL, superusers' included");
    }
    if message.contains("FOR ALL TABLES") || message.contains("FOR TABLES IN SCHEMA") {
        return Needed::Never(
            "a publication for all tables (or a schema's tables) publishes every role's data",
        );
    }
    if words.starts_with(&["CREATE", "SUBSCRIPTION"]) {
        return Needed::Never("a subscription connects from the server to another server");
    }
    if message.contains("to create role")
        || message.contains("to alter role")
        || message.contains("to drop role")
        || (message.contains("permission denied to") && message.contains("role"))
    {
        return Needed::CreateRole;
    }
    Needed::Other
}

/// A `needs-privilege` finding for a statement PostgreSQL refused for lack of privilege (SQLSTATE
/// 42501), or `None` for another error.
pub fn classify(
    file: &std::path::Path,
    text: &str,
    stmt: Span,
    error: &DbError,
    engine: &EngineContext,
    evidence: &Evidence,
    not_applied_note: &str,
) -> Option<Finding> {
    if error.code().code() != "42501" || !engine.isolated {
        return None;
    }
    let major: u32 = engine
        .version
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let (what, help, kind) = match needed(text, stmt, error) {
        Needed::Extension(name) => (
            format!("extension `{name}` is not trusted: only a superuser creates it"),
            format!(
                "production's migration role must be a superuser, or the platform must create `{name}` before the migrations; when the repository's migrations are trusted, add `privileged: [{{extension: {name}}}]` to .pgrehearse.yaml and pgrehearse creates it as superuser on the replay's behalf (that extension only), or create it in a `prelude:` file"
            ),
            format!("extension {name}"),
        ),
        Needed::CreateRole => (
            if major > 0 && major < 16 {
                format!(
                    "creating and altering roles needs CREATEROLE, which the rehearsal does not give on PostgreSQL {major}: before 16, CREATEROLE can grant itself `pg_execute_server_program` and run programs on the server"
                )
            } else {
                "creating and altering roles needs CREATEROLE (and ADMIN OPTION on the roles involved)".to_string()
            },
            "production's migration role needs CREATEROLE; replay on PostgreSQL 16 or newer (`--pg-version 16`), where the rehearsal's role has it safely; or create the roles with `create-roles: true` or a `prelude:` file; or, when the repository's migrations are trusted, add `privileged: [{statement: create-role}]`".to_string(),
            "statement create-role".to_string(),
        ),
        Needed::Never(why) => (
            format!("only a superuser may do this: {why}"),
            "the rehearsal never runs this with superuser rights: move server administration out of the migrations (into the platform's configuration or an operator's runbook), or, for a trusted repository only, `replay-as: superuser`".to_string(),
            "superuser".to_string(),
        ),
        Needed::Other => (
            "the role the migrations run as lacks a privilege".to_string(),
            "the rehearsal replays as a role without superuser, as a careful production setup does: grant what the statement needs in an earlier migration (or a `prelude:` for what the platform grants), or, for a trusted repository only, `replay-as: superuser`".to_string(),
            "privilege".to_string(),
        ),
    };
    let mut evidence = evidence.clone();
    evidence.extra.insert("needs".to_string(), kind);
    Some(
        Finding::new(
            "needs-privilege",
            Category::Environment,
            Severity::Error,
            format!(
                "{what}; the replay stopped here ({}){not_applied_note}",
                error.message()
            ),
        )
        .help(help)
        .at(file, Some(stmt))
        .evidence(evidence),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Option<CreateExtension> {
        create_extension(s, Span::new(0, s.len()))
    }

    #[test]
    fn create_extension_statements_are_read_in_every_form() {
        let e = parse("CREATE EXTENSION IF NOT EXISTS \"postgres_fdw\" WITH SCHEMA ext VERSION '1.1' CASCADE;")
            .expect("parsed");
        assert_eq!(
            e,
            CreateExtension {
                name: "postgres_fdw".into(),
                if_not_exists: true,
                schema: Some("ext".into()),
                version: Some("1.1".into()),
                cascade: true
            }
        );
        assert_eq!(
            parse("create extension dblink").map(|e| e.name),
            Some("dblink".into())
        );
        assert!(parse("CREATE EXTENSION dblink FROM unpackaged").is_none());
        assert!(parse("CREATE TABLE dblink (id int)").is_none());
    }

    #[test]
    fn only_listed_extensions_are_substituted_and_literals_are_quoted() {
        let text = "CREATE EXTENSION \"it's\" SCHEMA public;";
        let stmt = Span::new(0, text.len());
        assert!(substitute(text, stmt, &[]).is_none());
        assert!(substitute(text, stmt, &["other".into()]).is_none());
        let call = substitute(text, stmt, &["it's".into()]).expect("listed");
        assert!(
            call.contains("create_extension('it''s', 'public', NULL, false, false,"),
            "{call}"
        );
    }
}
