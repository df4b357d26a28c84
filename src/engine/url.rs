//! The url engine: an existing PostgreSQL server given by `--database-url`.
//!
//! Nothing on that server is touched except what the replay creates: each migration set gets a uniquely
//! named scratch database (`pgrehearse_…`, see [`scratch`](super::scratch)) that is dropped at the end,
//! and roles the replay creates (roles are cluster-wide) are dropped after it. Scratch databases left by
//! a run killed outright on this machine are dropped by the next run. With the replay cache, the
//! snapshots it keeps stay, with the role that owns them (see `crate::cache`). The connecting role needs CREATEDB, and CREATEROLE if
//! the migrations create roles. Point it at a disposable or CI server, not at production: to compare with
//! production, a later read-only mode is the tool for that.

use std::str::FromStr;
use std::time::{Duration, Instant};

use tokio_postgres::Config;

use super::{Cleanup, Engine, EngineError, EngineKind, EngineOptions, Server};

pub struct UrlEngine {
    config: Config,
}

impl UrlEngine {
    pub fn new(options: &EngineOptions) -> Result<UrlEngine, EngineError> {
        let url = options
            .database_url
            .as_deref()
            .ok_or(EngineError::UrlMissing)?;
        let config = Config::from_str(url).map_err(|e| EngineError::UrlInvalid {
            reason: super::db_error_text(&e),
        })?;
        Ok(UrlEngine { config })
    }
}

/// `user@host:port/db` of the server `--database-url` names, never the password: what the replay
/// cache tells servers apart by (see `crate::cache::server_dir`).
pub fn target(options: &EngineOptions) -> Result<String, EngineError> {
    let engine = UrlEngine::new(options)?;
    Ok(format!(
        "{}@{}",
        engine.config.get_user().unwrap_or(""),
        super::describe_config(&engine.config)
    ))
}

impl Engine for UrlEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Url
    }

    async fn start(&self, _cleanup: &Cleanup) -> Result<Server, EngineError> {
        let started = Instant::now();
        let mut config = self.config.clone();
        let admin_db = config.get_dbname().unwrap_or("postgres").to_string();
        if config.get_dbname().is_none() {
            config.dbname(&admin_db);
        }
        let target = super::describe_config(&config);
        let version = tokio::time::timeout(Duration::from_secs(15), async {
            let client = super::connect(&config).await?;
            // Scratch databases of runs on this machine that were killed outright (SIGKILL).
            for name in super::scratch::sweep(&client).await {
                eprintln!(
                    "pgrehearse: dropped scratch database {name}, left by a pgrehearse run that no longer exists"
                );
            }
            client
                .query_one("SHOW server_version", &[])
                .await
                .map(|r| r.get::<_, String>(0))
                .map_err(|e| EngineError::Connect {
                    target: target.clone(),
                    reason: super::db_error_text(&e),
                })
        })
        .await
        .map_err(|_| EngineError::Connect {
            target: target.clone(),
            reason: "no answer within 15s".into(),
        })??;
        Ok(Server {
            kind: EngineKind::Url,
            config,
            admin_db,
            version,
            description: format!("server at {target}"),
            image: None,
            startup: started.elapsed(),
            replay: None,
        })
    }
}
