//! Sending statements to a database, with the error located in the file: the one place that talks to
//! PostgreSQL on behalf of replay, declared schemas, the environment and fault injection alike.
//!
//! [`execute`] sends a text as one simple query and counts the statements that completed before an
//! error; [`locate`] maps PostgreSQL's error position (a 1-based *character* offset into the text
//! sent) to the byte span of the token there, or to the failing statement when there is no position.

use futures_util::StreamExt;
use pgrehearse_sql::{self as sql, Span};
use tokio_postgres::error::{DbError, ErrorPosition};
use tokio_postgres::{Client, SimpleQueryMessage};

use crate::model::Evidence;
use crate::runner::layouts::trim;
use crate::runner::{Migration, statements_in};

/// Where the engine came from, for environment findings.
#[derive(Clone, Debug, Default)]
pub struct EngineContext {
    /// `docker image postgres:17`, `local PostgreSQL 15 (...)`, ...
    pub description: String,
    /// The server's version string.
    pub version: String,
    /// Whether migrations replay as a role without superuser (the default; not with
    /// `replay-as: superuser`): a refused privilege is then the rehearsal's limit, explained as such.
    pub isolated: bool,
}

/// A statement the server rejected, and where.
pub struct Failure {
    pub error: DbError,
    /// The batch that was sent.
    pub batch: Span,
    /// Statements that completed before the error within the batch.
    pub completed: usize,
    /// Characters sent before `batch` in the same query (the error position counts from there).
    pub shift: usize,
}

/// Sends `text` as one simple query; on error, returns it with the number of statements that completed.
pub async fn execute(
    client: &Client,
    text: &str,
) -> Result<usize, (Option<DbError>, usize, String)> {
    match execute_grouped(client, text).await {
        (groups, None) => Ok(groups.len()),
        (groups, Some((error, reason))) => Err((error, groups.len(), reason)),
    }
}

/// Sends `text` as one simple query and returns the rows of each statement that completed, in order;
/// on error, also the error (or the reason the connection failed).
pub async fn execute_grouped(
    client: &Client,
    text: &str,
) -> (
    Vec<Vec<tokio_postgres::SimpleQueryRow>>,
    Option<(Option<DbError>, String)>,
) {
    let mut groups = Vec::new();
    let mut rows = Vec::new();
    let stream = match client.simple_query_raw(text).await {
        Ok(s) => s,
        Err(e) => {
            let reason = crate::engine::db_error_text(&e);
            return (groups, Some((e.as_db_error().cloned(), reason)));
        }
    };
    futures_util::pin_mut!(stream);
    while let Some(item) = stream.next().await {
        match item {
            Ok(SimpleQueryMessage::CommandComplete(_)) => groups.push(std::mem::take(&mut rows)),
            Ok(SimpleQueryMessage::Row(row)) => rows.push(row),
            Ok(_) => {}
            Err(e) => {
                let reason = crate::engine::db_error_text(&e);
                return (groups, Some((e.as_db_error().cloned(), reason)));
            }
        }
    }
    (groups, None)
}

/// Runs `COPY … FROM STDIN` with `data` as psql would feed it.
pub async fn copy_in(
    client: &Client,
    command: &str,
    data: &str,
) -> Result<usize, (Option<DbError>, usize, String)> {
    use futures_util::SinkExt;
    // psql ends the copy itself at the `\.` line and never sends that line.
    let data = match data.trim_end_matches(['\r', '\n']).strip_suffix("\\.") {
        Some(rest) if rest.is_empty() || rest.ends_with('\n') => rest,
        _ => data,
    };
    let fail = |e: tokio_postgres::Error| {
        (
            e.as_db_error().cloned(),
            0,
            crate::engine::db_error_text(&e),
        )
    };
    let sink = client
        .copy_in::<_, std::io::Cursor<Vec<u8>>>(command)
        .await
        .map_err(fail)?;
    futures_util::pin_mut!(sink);
    sink.send(std::io::Cursor::new(data.as_bytes().to_vec()))
        .await
        .map_err(fail)?;
    sink.as_mut().finish().await.map_err(fail)?;
    Ok(1)
}

/// The lost connection or protocol failure that is not a statement error.
#[derive(Debug, thiserror::Error)]
#[error("the connection to the replay database failed while applying {file}: {reason}")]
pub struct ReplayError {
    pub file: String,
    pub reason: String,
}

/// Evidence of a statement error: SQLSTATE, detail, hint, and where it happened.
pub fn db_evidence(
    error: &DbError,
    migration: Option<&Migration>,
    statement: Option<usize>,
) -> Evidence {
    Evidence {
        sqlstate: Some(error.code().code().to_string()),
        detail: error.detail().map(str::to_string),
        hint: error.hint().map(str::to_string),
        migration: migration.map(|m| m.id.clone()),
        statement,
        ..Evidence::default()
    }
}

/// The span to underline for an error in `batch` of `text`, and the 1-based index (within the file) of the
/// failing statement when it can be told.
pub fn locate(text: &str, batch: Span, completed: usize, error: &DbError) -> (Span, Option<usize>) {
    locate_shifted(text, batch, completed, error, 0)
}

/// [`locate`] for a batch sent after `shift` other characters in the same query.
pub fn locate_shifted(
    text: &str,
    batch: Span,
    completed: usize,
    error: &DbError,
    shift: usize,
) -> (Span, Option<usize>) {
    let file_statements = statements_in(text, Span::new(0, text.len()));
    let index_of = |span: Span| {
        file_statements
            .iter()
            .position(|s| s.start <= span.start && span.start < s.end.max(s.start + 1))
            .map(|i| i + 1)
    };
    if let Some(ErrorPosition::Original(pos)) = error.position() {
        let batch_text = batch.slice(text);
        let pos = (*pos as usize)
            .checked_sub(shift)
            .filter(|p| shift == 0 || *p > 0);
        if let Some(byte) = pos.and_then(|pos| sql::char_pos_to_byte(batch_text, pos)) {
            let offset = batch.start + byte;
            let token = sql::tokenize(text)
                .into_iter()
                .find(|t| t.span.contains(offset))
                .map(|t| t.span)
                .unwrap_or(Span::new(offset, offset));
            return (token, index_of(token));
        }
    }
    let in_batch = statements_in(text, batch);
    match in_batch.get(completed) {
        Some(stmt) => (*stmt, index_of(*stmt)),
        None => (trim(text, batch), None),
    }
}

/// The settings a dump sets that the server does not know (see [`unknown_setting`]), skipped while
/// loading it: each name once, and where the first one is.
#[derive(Debug, Default)]
pub struct SkippedSettings {
    names: Vec<String>,
    first: Option<Span>,
}

impl SkippedSettings {
    pub fn add(&mut self, name: String, stmt: Span) {
        self.first.get_or_insert(stmt);
        if !self.names.contains(&name) {
            self.names.push(name);
        }
    }

    /// The one `declared-settings-skipped` notice for `file`, when something was skipped: `subject`
    /// names the dump in the message ("the declared schema"), `source` in the help ("file").
    pub fn finding(
        &self,
        file: &std::path::Path,
        subject: &str,
        source: &str,
    ) -> Option<crate::model::Finding> {
        let first = self.first?;
        let names = self
            .names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        Some(
            crate::registry::finding(
                "declared-settings-skipped",
                format!(
                    "{subject} sets parameters the replay server does not know ({names}), as a newer PostgreSQL's pg_dump writes; those settings were skipped (they do not change the schema)"
                ),
            )
            .help(format!("replay on the PostgreSQL version the {source} was dumped from (`--pg-version`), or dump it with the replay server's pg_dump"))
            .at(file, Some(first))
            .evidence(Evidence {
                extra: [("parameters".to_string(), self.names.join(","))]
                    .into_iter()
                    .collect(),
                ..Evidence::default()
            }),
        )
    }
}

/// The parameter of a `SET` (or `SELECT set_config(…)`) statement `stmt` of `text` that the server
/// rejected as unknown ("unrecognized configuration parameter", SQLSTATE 42704): what a newer
/// server's `pg_dump` writes (`SET transaction_timeout = 0;`). Loading a dump skips such settings.
pub fn unknown_setting(text: &str, stmt: Span, error: &DbError) -> Option<String> {
    if error.code().code() != "42704" {
        return None;
    }
    let name = error
        .message()
        .strip_prefix("unrecognized configuration parameter \"")?
        .strip_suffix('"')?;
    let tokens = sql::significant_tokens(text, stmt);
    let word = |i: usize| {
        tokens
            .get(i)
            .map(|t| t.span.slice(text).to_ascii_lowercase())
    };
    let setting = match word(0).as_deref() {
        Some("set") => true,
        Some("select") => tokens.iter().any(|t| {
            let w = t.span.slice(text).to_ascii_lowercase();
            w == "set_config" || w == "\"set_config\""
        }),
        _ => false,
    };
    setting.then(|| name.to_string())
}
