//! The `engine` stage owns where replays run: an ephemeral PostgreSQL server and the scratch databases on it.
//!
//! It takes an [`EngineOptions`] and returns a running [`Server`]: a connection recipe for any database on
//! it plus the means to create and drop scratch databases. Three engines implement [`Engine`]:
//! [`docker`] (a throwaway container through testcontainers), [`local`] (a temporary cluster made with
//! `initdb`) and [`url`] (scratch databases on an existing server). `auto` picks the first that can work.
//!
//! Everything an engine creates is registered in a [`Cleanup`] before it exists, so that a normal end, an
//! error, a panic and Ctrl-C all leave nothing behind: the caller runs [`Cleanup::run_all`] on every path.

pub mod docker;
pub mod local;
pub mod scratch;
pub mod url;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_postgres::{Client, Config, NoTls};

/// Which engine to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineKind {
    Auto,
    Docker,
    Local,
    Url,
}

impl EngineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Auto => "auto",
            EngineKind::Docker => "docker",
            EngineKind::Local => "local",
            EngineKind::Url => "url",
        }
    }
}

impl std::str::FromStr for EngineKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(EngineKind::Auto),
            "docker" => Ok(EngineKind::Docker),
            "local" => Ok(EngineKind::Local),
            "url" => Ok(EngineKind::Url),
            other => Err(format!(
                "unknown engine `{other}` (expected auto, docker, local or url)"
            )),
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The PostgreSQL major version used when none is asked for (docker image tag).
pub const DEFAULT_PG_VERSION: u32 = 17;

/// Who the replayed SQL runs as. The SQL of a pull request is untrusted: by default it runs as a
/// dedicated role without superuser (see [`ReplayRole`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReplayAccess {
    /// A dedicated login role that owns the scratch databases: no superuser, no CREATEDB, CREATEROLE
    /// only on PostgreSQL 16 and newer (where it no longer reaches the predefined roles).
    #[default]
    Isolated,
    /// As [`ReplayAccess::Isolated`], with CREATEROLE on every version (`privileged:` lists
    /// `{statement: create-role}`): before 16 CREATEROLE can grant itself `pg_execute_server_program`.
    IsolatedWithCreateRole,
    /// The engine's own role, a superuser on the docker and local engines (`replay-as: superuser`).
    Superuser,
}

/// What the user asked of the engine.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    pub kind: EngineKind,
    /// `--database-url` for the url engine.
    pub database_url: Option<String>,
    /// `--image` for the docker engine; default `postgres:<pg_version>`.
    pub image: Option<String>,
    /// `--pg-version`: the image tag for docker, the preferred installation for local.
    pub pg_version: Option<u32>,
    /// Who the replayed SQL runs as.
    pub replay: ReplayAccess,
}

impl EngineOptions {
    pub fn docker_image(&self) -> String {
        self.image.clone().unwrap_or_else(|| {
            format!("postgres:{}", self.pg_version.unwrap_or(DEFAULT_PG_VERSION))
        })
    }
}

/// Why an engine could not give us a server. Each message says what to do instead.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(
        "no Docker daemon answered ({reason}); start Docker, or use `--engine local` (needs PostgreSQL server binaries) or `--database-url URL`"
    )]
    DockerUnavailable { reason: String },
    #[error(
        "the Docker image `{image}` is not present and could not be pulled ({reason}); pull it yourself (`docker pull {image}`), pass another image with `--image`, or use `--engine local` or `--database-url URL`"
    )]
    ImageUnavailable { image: String, reason: String },
    #[error(
        "the container from image `{image}` did not become ready: {reason}; check the image with `docker run --rm -e POSTGRES_PASSWORD=x {image}`, or use `--engine local` or `--database-url URL`"
    )]
    ContainerFailed {
        image: String,
        reason: String,
        /// Whether the container's server exited (rather than not answering in time).
        exited: bool,
    },
    #[error(
        "no PostgreSQL server binaries found (looked in PGREHEARSE_PG_BINDIR if set, else for `initdb` on PATH, in `pg_config --bindir` and under /usr/lib/postgresql/*/bin); install PostgreSQL, or use `--engine docker` or `--database-url URL`"
    )]
    NoLocalBinaries,
    #[error(
        "PostgreSQL {wanted} is not installed locally (found: {found}); drop `--pg-version`, install it, or use `--engine docker`"
    )]
    LocalVersionMissing { wanted: u32, found: String },
    #[error("the temporary local cluster could not be started: {reason}")]
    LocalFailed { reason: String },
    #[error("`--engine url` needs `--database-url URL` (or PGREHEARSE_DATABASE_URL)")]
    UrlMissing,
    #[error(
        "the database URL is not valid: {reason}; expected e.g. postgres://user:password@localhost:5432/postgres"
    )]
    UrlInvalid { reason: String },
    #[error("could not connect to the server at `{target}`: {reason}")]
    Connect { target: String, reason: String },
    #[error(
        "could not log in to `{target}` as the role the replayed SQL runs as: {reason}; allow password logins for `pgrehearse_role_*` roles in the server's pg_hba.conf"
    )]
    ReplayLogin { target: String, reason: String },
    #[error("could not create the role the replayed SQL runs as on `{target}`: {reason}")]
    ReplayRole { target: String, reason: String },
    #[error("could not create a scratch database on `{target}`: {reason}")]
    ScratchDatabase { target: String, reason: String },
    #[error(
        "no engine can run the replay:\n  - url: no `--database-url` given\n  - docker: {docker}\n  - local: {local}"
    )]
    NothingAvailable { docker: String, local: String },
}

/// A running server and how to reach any database on it.
pub struct Server {
    pub kind: EngineKind,
    /// Connection settings without a database name.
    pub config: Config,
    /// The database to connect to for CREATE/DROP DATABASE.
    pub admin_db: String,
    /// `server_version` as reported by the server.
    pub version: String,
    /// Human description, e.g. `local PostgreSQL 15 (/usr/lib/postgresql/15/bin)`.
    pub description: String,
    /// Hint for environment findings: how to get a server with more extensions.
    pub image: Option<String>,
    /// How long the engine took to be ready.
    pub startup: Duration,
    /// The role the replayed SQL runs as; `None`: the engine's own role (`replay-as: superuser`, or a
    /// url engine whose role is neither a superuser nor allowed to create roles).
    pub replay: Option<ReplayRole>,
}

/// The login role replayed SQL runs as: not a superuser, owner of every scratch database.
#[derive(Clone)]
pub struct ReplayRole {
    pub name: String,
    password: String,
}

impl fmt::Debug for ReplayRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayRole")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The name of the replay role on servers the engine made itself (docker, local): `postgres`, the
/// role migrations written for a managed platform or dumped with pg_dump name as owner. The
/// engine's superuser there is [`ADMIN_ROLE`].
pub const REPLAY_ROLE: &str = "postgres";

/// The superuser of the servers the docker and local engines make.
pub const ADMIN_ROLE: &str = "pgrehearse";

impl Server {
    /// Connection settings for `dbname` on this server.
    pub fn config_for(&self, dbname: &str) -> Config {
        let mut config = self.config.clone();
        config.dbname(dbname);
        config
    }

    /// Connects to `dbname` as the engine's own role; the connection task runs in the background.
    pub async fn connect(&self, dbname: &str) -> Result<Client, EngineError> {
        connect(&self.config_for(dbname)).await
    }

    /// Connects to `dbname` as the role replayed SQL runs as (see [`Server::replay`]).
    pub async fn connect_replay(&self, dbname: &str) -> Result<Client, EngineError> {
        let mut config = self.config_for(dbname);
        if let Some(role) = &self.replay {
            config.user(&role.name).password(&role.password);
        }
        connect(&config).await.map_err(|e| match e {
            EngineError::Connect { target, reason } if self.replay.is_some() => {
                EngineError::ReplayLogin { target, reason }
            }
            other => other,
        })
    }

    /// The engine's own role.
    pub fn admin_user(&self) -> &str {
        self.config.get_user().unwrap_or("postgres")
    }

    /// The role replayed SQL runs as.
    pub fn replay_user(&self) -> &str {
        match &self.replay {
            Some(role) => &role.name,
            None => self.admin_user(),
        }
    }

    /// Creates a uniquely named, empty scratch database, registered for cleanup.
    pub async fn create_scratch(
        &self,
        cleanup: &Cleanup,
        label: &str,
    ) -> Result<ScratchDb, EngineError> {
        self.create_database(cleanup, label, None).await
    }

    /// Creates a scratch database as a copy of `template` (which must have no open connections).
    pub async fn create_scratch_from(
        &self,
        cleanup: &Cleanup,
        label: &str,
        template: &str,
    ) -> Result<ScratchDb, EngineError> {
        self.create_database(cleanup, label, Some((template, "")))
            .await
    }

    async fn create_database(
        &self,
        cleanup: &Cleanup,
        label: &str,
        template: Option<(&str, &str)>,
    ) -> Result<ScratchDb, EngineError> {
        let name = scratch::new_name(label);
        let admin = self.connect(&self.admin_db).await?;
        let (token, roles_token) = self.register_scratch(cleanup, &admin, &name).await;
        admin
            .batch_execute(&format!(
                "{}{}",
                match template {
                    None => format!(
                        "CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'",
                        quote_ident(&name)
                    ),
                    // The template, and how to copy it (` STRATEGY …`).
                    Some((t, strategy)) => {
                        format!(
                            "CREATE DATABASE {} TEMPLATE {}{strategy}",
                            quote_ident(&name),
                            quote_ident(t)
                        )
                    }
                },
                // The replay role owns it: it creates schemas, and `public` is the owner's.
                match &self.replay {
                    Some(role) => format!(" OWNER {}", quote_ident(&role.name)),
                    None => String::new(),
                }
            ))
            .await
            .map_err(|e| EngineError::ScratchDatabase {
                target: self.description.clone(),
                reason: db_error_text(&e),
            })?;
        Ok(ScratchDb {
            name,
            token,
            roles_token,
        })
    }

    /// Registers scratch database `name` for cleanup: it, then the roles created while it exists.
    async fn register_scratch(&self, cleanup: &Cleanup, admin: &Client, name: &str) -> (u64, u64) {
        // Roles are cluster-wide: remember which exist (and how) so that the roles the replay creates
        // are dropped after the database (registered later, so released first), later sets never see
        // them, and a migration that renames or alters a role that existed is caught.
        let roles = role_states(admin).await.unwrap_or_default();
        let roles_token = cleanup.register(Resource::NewRoles {
            config: self.config_for(&self.admin_db),
            baseline: roles,
            names: cleanup.role_names.clone(),
        });
        let token = cleanup.register(Resource::Database {
            config: self.config_for(&self.admin_db),
            name: name.to_string(),
        });
        (token, roles_token)
    }

    /// Takes the database `spare` (a ready copy of a cached snapshot, see [`Cleanup::copy_after`]) as
    /// a scratch database: renamed, so nothing is copied. `None` when there is no such database.
    pub async fn take_spare(
        &self,
        cleanup: &Cleanup,
        spare: &str,
    ) -> Result<Option<ScratchDb>, EngineError> {
        let admin = self.connect(&self.admin_db).await?;
        let exists = admin
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&spare])
            .await
            .map(|r| r.is_some())
            .unwrap_or(false);
        if !exists {
            return Ok(None);
        }
        let name = scratch::new_name("replay");
        let (token, roles_token) = self.register_scratch(cleanup, &admin, &name).await;
        match admin
            .batch_execute(&format!(
                "ALTER DATABASE {} RENAME TO {}",
                quote_ident(spare),
                quote_ident(&name)
            ))
            .await
        {
            Ok(()) => Ok(Some(ScratchDb {
                name,
                token,
                roles_token,
            })),
            Err(_) => {
                cleanup.take(Some(token));
                cleanup.take(Some(roles_token));
                Ok(None)
            }
        }
    }

    /// Creates a scratch database as a copy of the cached snapshot `template` (see `crate::cache`):
    /// a file copy, faster than the WAL-logged copy for the large databases long histories build.
    pub async fn copy_snapshot(
        &self,
        cleanup: &Cleanup,
        template: &str,
    ) -> Result<ScratchDb, EngineError> {
        let admin = self.connect(&self.admin_db).await?;
        let suffix = file_copy_strategy(&admin).await;
        self.create_database(cleanup, "replay", Some((template, suffix)))
            .await
    }

    /// Keeps scratch database `db` under the name `name` (a cached snapshot, see `crate::cache`):
    /// its sessions are ended, it is renamed, and it is no longer dropped at cleanup.
    pub async fn keep_scratch(
        &self,
        cleanup: &Cleanup,
        db: ScratchDb,
        name: &str,
    ) -> Result<(), EngineError> {
        let admin = self.connect(&self.admin_db).await?;
        let failed = |e: tokio_postgres::Error| EngineError::ScratchDatabase {
            target: self.description.clone(),
            reason: db_error_text(&e),
        };
        let mut tries = 0;
        loop {
            admin
                .execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = $1 AND pid <> pg_backend_pid()",
                    &[&db.name],
                )
                .await
                .map_err(failed)?;
            match admin
                .batch_execute(&format!(
                    "ALTER DATABASE {} RENAME TO {}",
                    quote_ident(&db.name),
                    quote_ident(name)
                ))
                .await
            {
                Ok(()) => break,
                // A session that was ending still counted.
                Err(e)
                    if tries < 50
                        && e.code() == Some(&tokio_postgres::error::SqlState::OBJECT_IN_USE) =>
                {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(e) => return Err(failed(e)),
            }
        }
        cleanup.take(Some(db.token));
        cleanup.run_one(db.roles_token).await;
        Ok(())
    }

    /// Drops a scratch database and the roles created while it existed.
    pub async fn drop_scratch(&self, cleanup: &Cleanup, db: ScratchDb) {
        cleanup.run_one(db.token).await;
        cleanup.run_one(db.roles_token).await;
    }
}

/// A scratch database; drop it with [`Server::drop_scratch`] (or let [`Cleanup::run_all`] do it).
pub struct ScratchDb {
    pub name: String,
    token: u64,
    roles_token: u64,
}

/// An engine provisions a [`Server`], registering everything it creates in `cleanup` first.
pub trait Engine {
    fn kind(&self) -> EngineKind;
    fn start(
        &self,
        cleanup: &Cleanup,
    ) -> impl std::future::Future<Output = Result<Server, EngineError>> + Send;
}

/// Starts the engine the options ask for (`auto` tries url, docker, then local) and prepares the role
/// the replayed SQL runs as.
pub async fn start(options: &EngineOptions, cleanup: &Cleanup) -> Result<Server, EngineError> {
    let mut server = start_engine(options, cleanup).await?;
    server.replay = replay_role(&server, options.replay, cleanup, None).await?;
    Ok(server)
}

/// Starts the docker engine for the replay cache (see `crate::cache`): its container keeps its
/// cluster in `volume`, and the cache's lock `lock` is held until the container is stopped and
/// removed. Also says whether the volume is new.
pub async fn start_in_volume(
    options: &EngineOptions,
    cleanup: &Cleanup,
    volume: docker::CacheVolume,
    lock: std::fs::File,
) -> Result<(Server, bool), EngineError> {
    cleanup.register(Resource::Lock { lock });
    let (mut server, fresh) =
        docker::DockerEngine::start_in_volume(options, volume, cleanup).await?;
    // Scratch databases of runs that were killed outright.
    if let Ok(admin) = server.connect(&server.admin_db).await {
        scratch::sweep(&admin).await;
    }
    server.replay = replay_role(&server, options.replay, cleanup, None).await?;
    Ok((server, fresh))
}

/// Starts the url engine for the replay cache (see `crate::cache`): the replayed SQL runs as the
/// kept role `role` (the owner of the cache's snapshots on that server, made when missing), which
/// may log in only while the run holds `lock`, the cache's lock: at the end of the run it is made
/// `NOLOGIN` again, then the lock is released.
pub async fn start_with_kept_role(
    options: &EngineOptions,
    cleanup: &Cleanup,
    role: &str,
    lock: std::fs::File,
) -> Result<Server, EngineError> {
    // Released last: after the role can no longer log in.
    cleanup.register(Resource::Lock { lock });
    let mut server = url::UrlEngine::new(options)?.start(cleanup).await?;
    server.replay = replay_role(&server, options.replay, cleanup, Some(role)).await?;
    Ok(server)
}

/// Starts the local engine on the replay cache's persistent cluster in `dir` (see `crate::cache`),
/// whose lock `lock` the caller holds, and prepares the role the replayed SQL runs as. Also says
/// how the cluster came up (made anew, what the cache listed in it is gone; or adopted, left running
/// by the previous check).
pub async fn start_persistent(
    options: &EngineOptions,
    cleanup: &Cleanup,
    dir: &std::path::Path,
    lock: std::fs::File,
) -> Result<(Server, local::PersistentStart), EngineError> {
    let (mut server, how) = local::start_persistent(options, cleanup, dir, lock).await?;
    // Scratch databases of runs that were killed outright.
    if let Ok(admin) = server.connect(&server.admin_db).await {
        scratch::sweep(&admin).await;
    }
    server.replay = replay_role(&server, options.replay, cleanup, None).await?;
    Ok((server, how))
}

/// Creates the role replayed SQL runs as (see [`ReplayAccess`]); `None` replays as the engine's own role.
/// `kept`: on a url engine, the replay cache's role of that name, kept after the run (see
/// [`start_with_kept_role`]).
async fn replay_role(
    server: &Server,
    access: ReplayAccess,
    cleanup: &Cleanup,
    kept: Option<&str>,
) -> Result<Option<ReplayRole>, EngineError> {
    if access == ReplayAccess::Superuser {
        return Ok(None);
    }
    let target = server.description.clone();
    let failed = |e: tokio_postgres::Error| EngineError::ReplayRole {
        target: target.clone(),
        reason: db_error_text(&e),
    };
    let admin = server.connect(&server.admin_db).await?;
    let row = admin
        .query_one(
            "SELECT rolsuper, rolcreaterole, current_setting('server_version_num')::int \
             FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .map_err(failed)?;
    let (superuser, createrole, version): (bool, bool, i32) = (row.get(0), row.get(1), row.get(2));
    if !superuser && !createrole {
        // Replayed as the url's own role, which is no superuser either.
        return Ok(None);
    }
    let own_server = matches!(server.kind, EngineKind::Docker | EngineKind::Local);
    let name = match &kept {
        _ if own_server => REPLAY_ROLE.to_string(),
        Some(role) => role.to_string(),
        // Roles are cluster-wide on a shared server: a name of this run's, swept like scratch databases.
        None => scratch::new_name("role"),
    };
    let password = crate::random::hex(16);
    // Before 16, CREATEROLE can grant membership in any role that is not a superuser, the predefined
    // `pg_execute_server_program` and `pg_read_server_files` included.
    let create_role = version >= 160_000 || access == ReplayAccess::IsolatedWithCreateRole;
    let keeps = own_server || kept.is_some();
    match kept {
        _ if own_server => {}
        // Registered before any scratch database: released after all of them.
        Some(_) => {
            cleanup.register(Resource::KeptRole {
                config: server.config_for(&server.admin_db),
                name: name.clone(),
            });
        }
        None => {
            cleanup.register(Resource::Role {
                config: server.config_for(&server.admin_db),
                name: name.clone(),
            });
        }
    }
    // BYPASSRLS as a superuser had it: loading rows into a table under row-level security (a platform's
    // `storage.buckets`) works as it did, and the replay's data is its own.
    // The replay cache's cluster keeps its replay role (it owns the cached databases).
    let exists = keeps
        && admin
            .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&name])
            .await
            .map_err(failed)?
            .is_some();
    // Only a superuser may name the superuser, replication and bypass-RLS attributes in ALTER ROLE:
    // a role kept from an earlier run (the replay cache's) was made with them by the same role.
    let privileged = if superuser {
        " NOSUPERUSER NOREPLICATION BYPASSRLS"
    } else if exists {
        ""
    } else {
        " NOSUPERUSER NOREPLICATION NOBYPASSRLS"
    };
    admin
        .batch_execute(&format!(
            "{} ROLE {} LOGIN NOCREATEDB {}{privileged} PASSWORD '{}'",
            if exists { "ALTER" } else { "CREATE" },
            quote_ident(&name),
            if create_role {
                "CREATEROLE"
            } else {
                "NOCREATEROLE"
            },
            password
        ))
        .await
        .map_err(failed)?;
    if !superuser {
        // A role that is no superuser (a managed platform's administrator: CREATEDB and CREATEROLE)
        // gives the replay role its scratch databases, and renames, copies and drops them, only as
        // a member of it. The replayed SQL gains nothing by it.
        admin
            .batch_execute(&format!("GRANT {} TO CURRENT_USER", quote_ident(&name)))
            .await
            .map_err(failed)?;
    }
    Ok(Some(ReplayRole { name, password }))
}

async fn start_engine(options: &EngineOptions, cleanup: &Cleanup) -> Result<Server, EngineError> {
    match options.kind {
        EngineKind::Url => url::UrlEngine::new(options)?.start(cleanup).await,
        EngineKind::Docker => docker::DockerEngine::new(options).start(cleanup).await,
        EngineKind::Local => local::LocalEngine::new(options).start(cleanup).await,
        EngineKind::Auto => {
            if options.database_url.is_some() {
                return url::UrlEngine::new(options)?.start(cleanup).await;
            }
            let docker_reason = match docker::daemon().await {
                Ok(_) => match docker::DockerEngine::new(options).start(cleanup).await {
                    // A daemon that cannot get the image: the local binaries, when present, are
                    // what `auto` is for.
                    Err(e) => match local_fallback(options, &e) {
                        Some(local) => return local::LocalEngine::new(&local).start(cleanup).await,
                        None => return Err(e),
                    },
                    started => return started,
                },
                Err(e) => e.to_string(),
            };
            match local::find_bindir(options.pg_version) {
                Ok(_) => local::LocalEngine::new(options).start(cleanup).await,
                Err(e) => Err(EngineError::NothingAvailable {
                    docker: docker_reason,
                    local: e.to_string(),
                }),
            }
        }
    }
}

/// Where `auto` goes when the docker engine failed with `e`: a daemon that cannot get the image falls
/// back to the local engine when its binaries are present (what `auto` is for), said on stderr.
/// Returns the local engine's options, or `None` when `e` stands.
pub fn local_fallback(options: &EngineOptions, e: &EngineError) -> Option<EngineOptions> {
    let falls_back = options.kind == EngineKind::Auto
        && matches!(e, EngineError::ImageUnavailable { .. })
        && local::find_bindir(options.pg_version).is_ok();
    falls_back.then(|| {
        eprintln!(
            "pgrehearse: docker: {e}\npgrehearse: falling back to the local engine (PostgreSQL server binaries found)"
        );
        EngineOptions {
            kind: EngineKind::Local,
            ..options.clone()
        }
    })
}

/// Connects with a short timeout and spawns the connection driver.
pub async fn connect(config: &Config) -> Result<Client, EngineError> {
    let mut config = config.clone();
    config.connect_timeout(Duration::from_secs(10));
    config.application_name("pgrehearse");
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|e| EngineError::Connect {
            target: describe_config(&config),
            reason: db_error_text(&e),
        })?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// `host:port/db` for messages, never the password.
pub fn describe_config(config: &Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", config.get_dbname().unwrap_or(""))
}

/// The most useful text of a driver error: the server's message when there is one.
pub fn db_error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

/// Quotes an SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A role as it was before a replay: its oid, name and attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleState {
    oid: u32,
    name: String,
    attributes: String,
}

const ROLE_STATES: &str = "SELECT oid, rolname::text, concat_ws(', ', \
     CASE WHEN rolsuper THEN 'SUPERUSER' ELSE 'NOSUPERUSER' END, \
     CASE WHEN rolinherit THEN 'INHERIT' ELSE 'NOINHERIT' END, \
     CASE WHEN rolcreaterole THEN 'CREATEROLE' ELSE 'NOCREATEROLE' END, \
     CASE WHEN rolcreatedb THEN 'CREATEDB' ELSE 'NOCREATEDB' END, \
     CASE WHEN rolcanlogin THEN 'LOGIN' ELSE 'NOLOGIN' END, \
     CASE WHEN rolreplication THEN 'REPLICATION' ELSE 'NOREPLICATION' END, \
     CASE WHEN rolbypassrls THEN 'BYPASSRLS' ELSE 'NOBYPASSRLS' END, \
     'CONNECTION LIMIT ' || rolconnlimit, \
     'VALID UNTIL ' || coalesce(rolvaliduntil::text, 'infinity'), \
     'password ' || rolpassword, \
     'config ' || coalesce(array_to_string(rolconfig, ' '), '')) \
     FROM pg_roles ORDER BY oid DESC";

async fn role_states(client: &Client) -> Result<Vec<RoleState>, tokio_postgres::Error> {
    let rows = client.query(ROLE_STATES, &[]).await?;
    Ok(rows
        .iter()
        .map(|r| RoleState {
            oid: r.get(0),
            name: r.get(1),
            attributes: r.get(2),
        })
        .collect())
}

/// How `CREATE DATABASE … TEMPLATE` copies a large template fastest on the server `admin` is
/// connected to: ` STRATEGY FILE_COPY` from PostgreSQL 15 on (whose default is the WAL-logged copy),
/// nothing before (a file copy is all there is).
pub async fn file_copy_strategy(admin: &Client) -> &'static str {
    let file_copy = admin
        .query_one(
            "SELECT current_setting('server_version_num')::int >= 150000",
            &[],
        )
        .await
        .map(|r| r.get::<_, bool>(0))
        .unwrap_or(false);
    if file_copy { " STRATEGY FILE_COPY" } else { "" }
}

/// Something that must not outlive the run.
pub enum Resource {
    /// A container started by the docker engine.
    Container { id: String },
    /// The docker engine's container of the replay cache (see `docker::CacheVolume`): stopped, so
    /// that its cluster is shut down cleanly in the volume, then removed.
    CacheContainer { id: String },
    /// A directory of the run (the docker container's socket), removed after what uses it.
    Directory { dir: tempfile::TempDir },
    /// A temporary cluster: the postmaster's pid and its directory.
    LocalCluster { pid: u32, dir: tempfile::TempDir },
    /// The replay cache's cluster (see `crate::cache`), reached with `config`: stopped, kept, and its
    /// lock released; or, when copies were asked for ([`Cleanup::copy_after`]), handed over with its
    /// lock to a process that makes them in the background and then stops it.
    PersistentCluster {
        pid: u32,
        lock: std::fs::File,
        config: Config,
    },
    /// A scratch database on a server reached with `config` (connected to the admin database).
    Database { config: Config, name: String },
    /// The role a url engine's replay ran as (see [`ReplayRole`]), dropped after every scratch database.
    Role { config: Config, name: String },
    /// The replay cache's role on a url engine's server (see [`start_with_kept_role`]): made
    /// `NOLOGIN` after every scratch database.
    KeptRole { config: Config, name: String },
    /// The replay cache's lock, held by a run on a url engine's server until everything else of it
    /// is released (see [`start_with_kept_role`]).
    Lock { lock: std::fs::File },
    /// Roles created (cluster-wide) since `baseline` was taken whose names the run's SQL creates
    /// (`names`); dropped after their scratch database. Roles of `baseline` that were renamed are
    /// renamed back, and altered ones are reported.
    NewRoles {
        config: Config,
        baseline: Vec<RoleState>,
        names: Arc<Mutex<BTreeSet<String>>>,
    },
}

/// The registry of everything to remove. Resources are removed newest first.
#[derive(Default)]
pub struct Cleanup {
    items: Mutex<Vec<(u64, Resource)>>,
    next: AtomicU64,
    /// Set before the docker engine creates anything: a container created but not yet registered when
    /// the run is interrupted is still found by its labels.
    docker_used: std::sync::atomic::AtomicBool,
    /// The names of the roles the replayed SQL may create (see [`Cleanup::expect_roles`]).
    role_names: Arc<Mutex<BTreeSet<String>>>,
    /// Databases of the replay cache's cluster to copy once the run is over ([`Cleanup::copy_after`]).
    copies: Mutex<Vec<DatabaseCopy>>,
    /// Databases of the replay cache's cluster to drop once the run is over ([`Cleanup::drop_after`]).
    drops: Mutex<Vec<String>>,
    /// Set when the run was interrupted: the replay cache's cluster is stopped, not handed over, and
    /// containers this process labelled are looked for until none appears (one may still be in creation).
    interrupted: std::sync::atomic::AtomicBool,
}

/// A database of the replay cache's cluster to copy after the run: `name` as a copy of `template`,
/// with its owner (see `local::refill`, which also drops the oldest spare copies not asked for).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DatabaseCopy {
    pub template: String,
    pub name: String,
}

impl Cleanup {
    pub fn new() -> Cleanup {
        Cleanup::default()
    }

    /// Registers a resource; returns a token for [`Cleanup::run_one`].
    pub fn register(&self, resource: Resource) -> u64 {
        let token = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut items) = self.items.lock() {
            items.push((token, resource));
        }
        token
    }

    /// Replaces a registered resource (e.g. once a container id or pid is known).
    pub fn replace(&self, token: u64, resource: Resource) {
        if let Ok(mut items) = self.items.lock() {
            if let Some(item) = items.iter_mut().find(|(t, _)| *t == token) {
                item.1 = resource;
            } else {
                items.push((token, resource));
            }
        }
    }

    fn take(&self, token: Option<u64>) -> Vec<Resource> {
        let Ok(mut items) = self.items.lock() else {
            return Vec::new();
        };
        match token {
            Some(t) => match items.iter().position(|(x, _)| *x == t) {
                Some(i) => vec![items.remove(i).1],
                None => Vec::new(),
            },
            None => items.drain(..).rev().map(|(_, r)| r).collect(),
        }
    }

    /// Removes one resource now.
    pub async fn run_one(&self, token: u64) {
        for r in self.take(Some(token)) {
            release(r).await;
        }
    }

    /// Records the roles a migration set's replay may create (by name, as its SQL creates them). Only
    /// roles of these names that did not exist before are dropped after a scratch database; a role
    /// another session creates meanwhile is never touched.
    pub fn expect_roles(&self, names: impl IntoIterator<Item = String>) {
        if let Ok(mut known) = self.role_names.lock() {
            known.extend(names);
        }
    }

    /// Asks for `copy.name` to be made as a copy of `copy.template` on the replay cache's cluster once
    /// the run is over, in the background (see `crate::cache`: a spare copy of a cached prefix that
    /// the next run renames instead of copying). Without a cache cluster, nothing happens.
    pub fn copy_after(&self, copy: DatabaseCopy) {
        if let Ok(mut copies) = self.copies.lock()
            && !copies.contains(&copy)
        {
            copies.push(copy);
        }
    }

    /// Asks for database `name` of the replay cache's cluster (an evicted snapshot) to be dropped once
    /// the run is over, in the background with the copies: dropping a long history's snapshot takes
    /// longer than replaying a migration. Without a cache cluster, nothing happens; a snapshot left
    /// undropped is dropped by the next run (see `crate::cache::Cache::reconcile`).
    pub fn drop_after(&self, name: String) {
        if let Ok(mut drops) = self.drops.lock()
            && !drops.contains(&name)
        {
            drops.push(name);
        }
    }

    /// Forgets the copies and drops asked for ([`Cleanup::copy_after`], [`Cleanup::drop_after`]) and
    /// stops the replay cache's cluster instead of handing it over: the run was interrupted, and
    /// nothing of it may keep running after it.
    pub fn forget_copies(&self) {
        self.interrupted.store(true, Ordering::SeqCst);
        if let Ok(mut drops) = self.drops.lock() {
            drops.clear();
        }
        if let Ok(mut copies) = self.copies.lock() {
            copies.clear();
        }
    }

    /// Records that the docker engine may create containers.
    pub fn docker_used(&self) {
        self.docker_used.store(true, Ordering::SeqCst);
    }

    /// Removes everything still registered, newest first. Safe to call more than once.
    pub async fn run_all(&self) {
        let copies = self
            .copies
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default();
        let drops = self
            .drops
            .lock()
            .map(|mut d| std::mem::take(&mut *d))
            .unwrap_or_default();
        for r in self.take(None) {
            match r {
                Resource::PersistentCluster { pid, lock, config }
                    if !self.interrupted.load(Ordering::SeqCst)
                        && (!copies.is_empty()
                            || !drops.is_empty()
                            || !local::linger().is_zero()) =>
                {
                    if let Err((lock, e)) = local::hand_over(pid, lock, &config, &copies, &drops) {
                        eprintln!("pgrehearse: warning: {e}");
                        let _ = local::stop_persistent(pid, lock).await;
                    }
                }
                r => release(r).await,
            }
        }
        if self.docker_used.load(Ordering::SeqCst) {
            docker::remove_own_containers(self.interrupted.load(Ordering::SeqCst)).await;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.items.lock().map(|i| i.is_empty()).unwrap_or(true)
    }
}

async fn release(resource: Resource) {
    let result = match resource {
        Resource::Container { id } => docker::remove_container(&id).await,
        Resource::CacheContainer { id } => docker::stop_and_remove_container(&id).await,
        Resource::Directory { dir } => {
            let path = dir.path().display().to_string();
            dir.close()
                .map_err(|e| format!("could not remove {path}: {e}"))
        }
        Resource::LocalCluster { pid, dir } => local::stop_cluster(pid, dir).await,
        Resource::PersistentCluster { pid, lock, .. } => local::stop_persistent(pid, lock).await,
        Resource::Database { config, name } => drop_database(&config, &name).await,
        Resource::Role { config, name } => drop_role(&config, &name).await,
        Resource::KeptRole { config, name } => log_out(&config, &name).await,
        Resource::Lock { lock } => {
            drop(lock);
            Ok(())
        }
        Resource::NewRoles {
            config,
            baseline,
            names,
        } => {
            let names = names.lock().map(|n| n.clone()).unwrap_or_default();
            drop_new_roles(&config, &baseline, &names).await
        }
    };
    if let Err(e) = result {
        eprintln!("pgrehearse: cleanup: {e}");
    }
}

async fn drop_database(config: &Config, name: &str) -> Result<(), String> {
    cleanup_statement(
        config,
        &format!("drop scratch database {name}"),
        &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name)),
        "; drop it by hand",
    )
    .await
}

async fn drop_role(config: &Config, name: &str) -> Result<(), String> {
    cleanup_statement(
        config,
        &format!("drop role {name} the replay ran as"),
        &format!("DROP ROLE IF EXISTS {}", quote_ident(name)),
        "; drop it by hand",
    )
    .await
}

/// Makes the replay cache's kept role unable to log in until the next run (see [`Resource::KeptRole`]).
async fn log_out(config: &Config, name: &str) -> Result<(), String> {
    cleanup_statement(
        config,
        &format!("make role {name} (the replay cache's) NOLOGIN"),
        &format!("ALTER ROLE {} NOLOGIN PASSWORD NULL", quote_ident(name)),
        "",
    )
    .await
}

/// Runs `sql` on the server `config` reaches (connecting within 15 s) to `action` (for messages:
/// "could not {action}: …", with `hint` after the server's error).
async fn cleanup_statement(
    config: &Config,
    action: &str,
    sql: &str,
    hint: &str,
) -> Result<(), String> {
    let client = tokio::time::timeout(Duration::from_secs(15), connect(config))
        .await
        .map_err(|_| format!("timed out connecting to {action}"))?
        .map_err(|e| format!("could not {action}: {e}"))?;
    client
        .batch_execute(sql)
        .await
        .map_err(|e| format!("could not {action}: {}{hint}", db_error_text(&e)))
}

async fn drop_new_roles(
    config: &Config,
    baseline: &[RoleState],
    names: &BTreeSet<String>,
) -> Result<(), String> {
    let client = tokio::time::timeout(Duration::from_secs(15), connect(config))
        .await
        .map_err(|_| "timed out connecting to drop roles created by the replay".to_string())?
        .map_err(|e| e.to_string())?;
    let now = role_states(&client).await.map_err(|e| db_error_text(&e))?;
    let mut problems = Vec::new();
    for role in &now {
        match baseline.iter().find(|b| b.oid == role.oid) {
            // Created since the baseline: ours only when the replayed SQL creates that name.
            None if names.contains(&role.name) => {
                if let Err(e) = client
                    .batch_execute(&format!("DROP ROLE IF EXISTS {}", quote_ident(&role.name)))
                    .await
                {
                    problems.push(format!(
                        "could not drop role {} created by the replay: {}",
                        role.name,
                        db_error_text(&e)
                    ));
                }
            }
            None => {}
            Some(before) => {
                if before.name != role.name {
                    let undone = client
                        .batch_execute(&format!(
                            "ALTER ROLE {} RENAME TO {}",
                            quote_ident(&role.name),
                            quote_ident(&before.name)
                        ))
                        .await;
                    problems.push(match undone {
                        Ok(()) => format!(
                            "a migration renamed role {} (which existed before the replay) to {}; it was renamed back",
                            before.name, role.name
                        ),
                        Err(e) => format!(
                            "a migration renamed role {} (which existed before the replay) to {} and renaming it back failed ({}): rename it back by hand",
                            before.name,
                            role.name,
                            db_error_text(&e)
                        ),
                    });
                }
                if before.attributes != role.attributes {
                    problems.push(format!(
                        "a migration altered role {} (which existed before the replay): it was {} and is now {}; restore it by hand, and replay role changes on a server of their own",
                        before.name,
                        redact(&before.attributes),
                        redact(&role.attributes)
                    ));
                }
            }
        }
    }
    for before in baseline {
        if !now.iter().any(|r| r.oid == before.oid) {
            problems.push(format!(
                "a migration dropped role {}, which existed before the replay",
                before.name
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Role attributes for a message: whether a password is set, never the password.
fn redact(attributes: &str) -> String {
    attributes
        .split(", ")
        .map(|a| match a.strip_prefix("password ") {
            Some(_) => "PASSWORD set",
            None => a,
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Waits until `SELECT 1` succeeds on `config`, or `deadline` passes, or `alive` says the server is gone.
pub async fn wait_ready(
    config: &Config,
    deadline: Duration,
    mut alive: impl FnMut() -> Result<(), String>,
) -> Result<String, String> {
    let start = std::time::Instant::now();
    loop {
        alive()?;
        let last;
        let mut c = config.clone();
        c.connect_timeout(Duration::from_secs(2));
        match c.connect(NoTls).await {
            Ok((client, connection)) => {
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                match client.simple_query("SELECT 1").await {
                    Ok(_) => {
                        let version = client
                            .query_one("SHOW server_version", &[])
                            .await
                            .map(|r| r.get::<_, String>(0))
                            .unwrap_or_default();
                        return Ok(version);
                    }
                    Err(e) => last = db_error_text(&e),
                }
            }
            Err(e) => last = db_error_text(&e),
        }
        if start.elapsed() > deadline {
            return Err(format!(
                "not ready after {}s (last error: {last})",
                deadline.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
