//! `check --against` never writes to the live database: the live server logs every statement it
//! receives (`log_statement = all`), and every statement on pgrehearse's connection is parsed and must
//! be a catalog read (SELECT/SHOW, a session setting, a READ ONLY transaction and its ROLLBACK). None of
//! the repository's SQL (CREATE TABLE, INSERT, a DO block, …) may reach the live server.

use crate::harness::runtime;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use pgrehearse::engine::{self, Cleanup, Server};
use tokio_postgres::config::Host;

use crate::harness::{command, repo};

/// Every name the repository's migrations create or touch starts with this; none may reach the live
/// server.
const MARKER: &str = "rehearsal_only";

/// The application name of the test's own connections to the live server (pgrehearse's is
/// `pgrehearse`).
const TEST_APP: &str = "live-read-only-test";

/// A prefix that starts every line the server logs: pid, database, application name.
const PREFIX_MARK: &str = "@@pglog@@";

fn socket_dir(server: &Server) -> PathBuf {
    match &server.config.get_hosts()[0] {
        Host::Unix(p) => p.clone(),
        Host::Tcp(h) => panic!("the local engine listens on a unix socket, not {h}"),
    }
}

fn url(server: &Server, db: &str) -> String {
    format!(
        "host={} port={} user={} dbname={db}",
        socket_dir(server).display(),
        server.config.get_ports()[0],
        server.admin_user()
    )
}

/// A connection of the test itself, under its own application name (the engine's `connect` would
/// call it `pgrehearse`, like the connection under test).
async fn test_client(server: &Server, db: &str) -> tokio_postgres::Client {
    let mut config = server.config_for(db);
    config.application_name(TEST_APP);
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .expect("the test connects");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// One message of the server log: who sent it and what it says (continuation lines included).
#[derive(Debug)]
struct LogEntry {
    pid: String,
    db: String,
    app: String,
    /// `LOG:  statement: …`, `DETAIL:  parameters: …`, …
    text: String,
}

/// Splits the server log into messages (lines starting with the prefix; others continue the
/// previous message, as multi-line statements do).
fn log_entries(log: &str) -> Vec<LogEntry> {
    let mut out: Vec<LogEntry> = Vec::new();
    for line in log.split('\n') {
        if let Some(rest) = line.strip_prefix(PREFIX_MARK) {
            let mut fields = rest.splitn(4, '|');
            let pid = fields.next().unwrap_or("").to_string();
            let db = fields.next().unwrap_or("").to_string();
            let app = fields.next().unwrap_or("").to_string();
            let text = fields.next().unwrap_or("").trim_start().to_string();
            out.push(LogEntry { pid, db, app, text });
        } else if let Some(last) = out.last_mut() {
            last.text.push('\n');
            last.text.push_str(line);
        }
    }
    out
}

/// The SQL of a `log_statement` message (`statement: …` for the simple protocol, `execute <name>: …`
/// for the extended one), or of the `STATEMENT:` echo after an error.
fn logged_sql(text: &str) -> Option<&str> {
    if let Some(rest) = text.strip_prefix("LOG:") {
        let rest = rest.trim_start();
        if let Some(sql) = rest.strip_prefix("statement: ") {
            return Some(sql);
        }
        if let Some(rest) = rest.strip_prefix("execute ") {
            return rest.split_once(": ").map(|(_, sql)| sql);
        }
        return None;
    }
    text.strip_prefix("STATEMENT:").map(str::trim_start)
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    /// An unquoted word, lower-cased.
    Word(String),
    /// A string constant's value ('…', E'…', $tag$…$tag$).
    Str(String),
    /// A double-quoted identifier.
    Quoted(String),
    /// A number or a `$1` parameter.
    Value,
    Punct(char),
}

/// Tokenizes PostgreSQL SQL, dropping comments (an oracle independent of pgrehearse's lexer).
fn tokens(sql: &str) -> Result<Vec<Tok>, String> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if sql[i..].starts_with("--") {
            i = sql[i..].find('\n').map_or(b.len(), |n| i + n + 1);
        } else if sql[i..].starts_with("/*") {
            let mut depth = 0;
            loop {
                if i >= b.len() {
                    return Err("unterminated comment".into());
                }
                if sql[i..].starts_with("/*") {
                    depth += 1;
                    i += 2;
                } else if sql[i..].starts_with("*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == b'\'' || ((c == b'e' || c == b'E') && b.get(i + 1) == Some(&b'\'')) {
            let escapes = c != b'\'';
            i += if escapes { 2 } else { 1 };
            let mut value = String::new();
            loop {
                let Some(&d) = b.get(i) else {
                    return Err("unterminated string".into());
                };
                if escapes && d == b'\\' {
                    i += 2;
                } else if d == b'\'' && b.get(i + 1) == Some(&b'\'') {
                    value.push('\'');
                    i += 2;
                } else if d == b'\'' {
                    i += 1;
                    break;
                } else {
                    let ch = sql[i..].chars().next().ok_or("bad text")?;
                    value.push(ch);
                    i += ch.len_utf8();
                }
            }
            out.push(Tok::Str(value));
        } else if c == b'"' {
            let end = sql[i + 1..].find('"').ok_or("unterminated identifier")? + i + 1;
            out.push(Tok::Quoted(sql[i + 1..end].to_string()));
            i = end + 1;
        } else if c == b'$' && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            i += 1;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            out.push(Tok::Value);
        } else if c == b'$' {
            let close = sql[i + 1..].find('$').ok_or("bad dollar quote")? + i + 1;
            let tag = &sql[i..=close];
            let body_end = sql[close + 1..]
                .find(tag)
                .ok_or("unterminated dollar quote")?
                + close
                + 1;
            out.push(Tok::Str(sql[close + 1..body_end].to_string()));
            i = body_end + tag.len();
        } else if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            let start = i;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$' || b[i] >= 0x80)
            {
                i += 1;
            }
            out.push(Tok::Word(sql[start..i].to_ascii_lowercase()));
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
            out.push(Tok::Value);
        } else {
            out.push(Tok::Punct(c as char));
            i += 1;
        }
    }
    Ok(out)
}

/// Words that write, change privileges, run other SQL or take locks, anywhere in a statement
/// (string constants and quoted identifiers aside): a catalog read never needs them.
const WRITING_WORDS: &[&str] = &[
    "insert",
    "update",
    "delete",
    "merge",
    "upsert",
    "create",
    "alter",
    "drop",
    "truncate",
    "grant",
    "revoke",
    "copy",
    "do",
    "call",
    "execute",
    "prepare",
    "lock",
    "comment",
    "security",
    "vacuum",
    "analyze",
    "analyse",
    "cluster",
    "reindex",
    "refresh",
    "into",
    "listen",
    "notify",
    "import",
    "load",
    "checkpoint",
    "discard",
    "reassign",
    "owner",
];

/// Functions with side effects (or that run SQL given as text) a catalog read never calls; a name
/// ending in `*` is a prefix.
const WRITING_FUNCTIONS: &[&str] = &[
    "nextval",
    "setval",
    "pg_advisory*",
    "pg_try_advisory*",
    "lo_*",
    "dblink*",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_switch_wal",
    "pg_create_*",
    "pg_drop_*",
    "pg_stat_reset*",
    "pg_notify",
    "txid_current",
    "pg_current_xact_id",
    "query_to_xml*",
    "cursor_to_xml*",
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_*",
    "pg_file_*",
    "pg_import_system_collations",
    "pg_replication_origin_*",
    "pg_logical_emit_message",
    "pg_promote",
    "pg_sleep*",
    "pg_log_backend_memory_contexts",
];

/// Settings a read-only session may change for itself.
const SESSION_SETTINGS: &[&str] = &[
    "search_path",
    "statement_timeout",
    "lock_timeout",
    "idle_in_transaction_session_timeout",
    "application_name",
    "client_encoding",
    "datestyle",
    "timezone",
    "extra_float_digits",
    "intervalstyle",
    "client_min_messages",
];

fn word_is(t: Option<&Tok>, w: &str) -> bool {
    matches!(t, Some(Tok::Word(x)) if x == w)
}

fn has_words(toks: &[Tok], seq: &[&str]) -> bool {
    toks.windows(seq.len())
        .any(|win| win.iter().zip(seq).all(|(t, w)| word_is(Some(t), w)))
}

fn listed(name: &str, list: &[&str]) -> bool {
    list.iter().any(|l| match l.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == *l,
    })
}

/// Why one statement (tokens, no `;`) is not a catalog read, if it is not.
fn not_a_read(toks: &[Tok]) -> Option<String> {
    let first = match toks.first() {
        Some(Tok::Word(w)) => w.as_str(),
        other => return Some(format!("starts with {other:?}")),
    };
    match first {
        "select" | "with" | "show" => {}
        "rollback" | "abort" if toks.len() == 1 => return None,
        "begin" | "start" => {
            // Only a READ ONLY transaction.
            return (!has_words(toks, &["read", "only"]) || has_words(toks, &["read", "write"]))
                .then(|| "opens a transaction that is not READ ONLY".to_string());
        }
        "set" | "reset" => {
            let mut at = 1;
            if word_is(toks.get(1), "session") || word_is(toks.get(1), "local") {
                at = 2;
            }
            if word_is(toks.get(at), "transaction") || word_is(toks.get(at), "characteristics") {
                return (!has_words(toks, &["read", "only"])
                    || has_words(toks, &["read", "write"]))
                .then(|| "changes the transaction mode without READ ONLY".to_string());
            }
            return match toks.get(at) {
                Some(Tok::Word(name)) if SESSION_SETTINGS.contains(&name.as_str()) => None,
                other => Some(format!("sets {other:?}, not a plain session setting")),
            };
        }
        other => return Some(format!("`{other}` is not a read")),
    }
    for (i, t) in toks.iter().enumerate() {
        let Tok::Word(w) = t else { continue };
        // A column label (`d.description AS comment`) or a qualified column name is not a keyword.
        let label = i > 0 && (word_is(toks.get(i - 1), "as") || toks[i - 1] == Tok::Punct('.'));
        if WRITING_WORDS.contains(&w.as_str()) && !label {
            return Some(format!("contains `{w}`"));
        }
        // SELECT … FOR UPDATE/SHARE locks rows.
        if w == "for"
            && matches!(toks.get(i + 1), Some(Tok::Word(n)) if ["share", "no", "key"].contains(&n.as_str()))
        {
            return Some("locks rows (FOR SHARE/NO KEY UPDATE/KEY SHARE)".into());
        }
        if toks.get(i + 1) == Some(&Tok::Punct('(')) {
            if listed(w, WRITING_FUNCTIONS) {
                return Some(format!("calls `{w}()`"));
            }
            if w == "set_config" {
                match toks.get(i + 2) {
                    Some(Tok::Str(name))
                        if SESSION_SETTINGS.contains(&name.to_ascii_lowercase().as_str()) => {}
                    other => return Some(format!("calls set_config() on {other:?}")),
                }
            }
        }
    }
    None
}

/// Every statement of `sql` that is not a catalog read, with the reason.
fn writes_in(sql: &str) -> Vec<String> {
    let toks = match tokens(sql) {
        Ok(t) => t,
        Err(e) => return vec![format!("cannot tokenize ({e}): {sql}")],
    };
    toks.split(|t| *t == Tok::Punct(';'))
        .filter(|s| !s.is_empty())
        .filter_map(|s| not_a_read(s).map(|why| format!("{why}: {sql}")))
        .collect()
}

#[test]
fn the_statement_oracle_tells_reads_from_writes() {
    // What pgrehearse's live connection sends today passes.
    for read in [
        "BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        "SELECT to_regclass($1) IS NOT NULL",
        "SELECT pg_catalog.set_config('search_path', $1, false)",
        "SELECT pg_catalog.set_config('search_path', 'pg_catalog', false)",
        "SELECT c.relname, 'INSERT' AS k /* drop */ FROM pg_class c -- create\n WHERE c.relkind = ANY($1)",
        "SELECT $fn$CREATE TABLE x$fn$, \"update\" FROM t",
        "SELECT d.description AS comment, t.insert FROM t",
        "SHOW transaction_read_only",
        "SET statement_timeout = 0",
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
        "ROLLBACK",
    ] {
        assert_eq!(writes_in(read), Vec::<String>::new(), "{read}");
    }
    // Anything that writes, or could, fails.
    for write in [
        "CREATE TABLE rehearsal_only_t (id int)",
        "insert into t values (1)",
        "DO $$BEGIN PERFORM 1; END$$",
        "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x",
        "SELECT * INTO new_table FROM t",
        "WITH x AS MATERIALIZED (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM x",
        "SELECT pg_catalog.nextval('s')",
        "SELECT nextval('s')",
        "SELECT pg_advisory_lock(1)",
        "SELECT * FROM t FOR UPDATE",
        "SELECT * FROM t FOR SHARE",
        "SELECT set_config('default_transaction_read_only', 'off', false)",
        "SET default_transaction_read_only = off",
        "SET ROLE admin",
        "SET SESSION AUTHORIZATION admin",
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
        "BEGIN",
        "START TRANSACTION READ WRITE",
        "COMMIT",
        "SELECT 1; UPDATE t SET a = 1",
        "TRUNCATE t",
        "COPY t FROM STDIN",
        "VACUUM t",
        "SELECT query_to_xml('delete from t', true, true, '')",
    ] {
        assert!(!writes_in(write).is_empty(), "accepted: {write}");
    }
}

/// A repository whose migrations write in every way a migration can.
fn writing_repository() -> tempfile::TempDir {
    repo(&[
        (
            "migrations/1_accounts.up.sql",
            "CREATE TABLE rehearsal_only_accounts (id bigserial PRIMARY KEY, email text NOT NULL);\n\
             INSERT INTO rehearsal_only_accounts (email) VALUES ('rehearsal_only@example.com');\n\
             CREATE INDEX rehearsal_only_accounts_email ON rehearsal_only_accounts (email);\n",
        ),
        (
            "migrations/2_audit.up.sql",
            "DO $$\nBEGIN\n  CREATE TABLE rehearsal_only_audit (id int);\n  INSERT INTO rehearsal_only_audit VALUES (1);\nEND\n$$;\n\
             UPDATE rehearsal_only_accounts SET email = lower(email);\n\
             CREATE FUNCTION rehearsal_only_touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;\n",
        ),
        (
            "migrations/3_cleanup.up.sql",
            "DELETE FROM rehearsal_only_audit;\nTRUNCATE rehearsal_only_audit;\n\
             ALTER TABLE rehearsal_only_accounts ADD COLUMN rehearsal_only_note text;\n\
             GRANT SELECT ON rehearsal_only_accounts TO PUBLIC;\n",
        ),
    ])
}

/// Turns statement logging on for the whole server (and the prefix this test parses), and waits
/// until new sessions see it.
async fn log_every_statement(server: &Server) {
    let admin = test_client(server, "postgres").await;
    // One statement per query: ALTER SYSTEM refuses the implicit transaction of a multi-statement query.
    for sql in [
        "ALTER SYSTEM SET log_statement = 'all'".to_string(),
        "ALTER SYSTEM SET log_connections = on".to_string(),
        format!("ALTER SYSTEM SET log_line_prefix = '{PREFIX_MARK}%p|%d|%a| '"),
        "SELECT pg_reload_conf()".to_string(),
    ] {
        admin
            .batch_execute(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let probe = test_client(server, "postgres").await;
        let setting: String = probe
            .query_one("SHOW log_statement", &[])
            .await
            .expect("reads log_statement")
            .get(0);
        if setting == "all" {
            break;
        }
        assert!(Instant::now() < deadline, "log_statement stays {setting}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn check_against_a_live_database_sends_it_catalog_reads_only() {
    let rt = runtime();
    let cleanup = Cleanup::new();
    let options = crate::harness::local_options();
    let server = rt
        .block_on(engine::start(&options, &cleanup))
        .expect("local server");
    let repository = writing_repository();
    let log_path = socket_dir(&server).join("server.log");

    let (out, live_tables) = rt.block_on(async {
        let admin = test_client(&server, "postgres").await;
        admin
            .batch_execute("CREATE DATABASE prod")
            .await
            .expect("creates prod");
        let prod = test_client(&server, "prod").await;
        prod.batch_execute(
            "CREATE TABLE users (id int PRIMARY KEY);
             CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
             INSERT INTO schema_migrations VALUES (1, false);",
        )
        .await
        .expect("prepares prod");
        drop(prod);
        log_every_statement(&server).await;

        let out = command()
            .args([
                "check",
                "--engine",
                "local",
                "--format",
                "json",
                "--against",
                &url(&server, "prod"),
            ])
            .arg(repository.path())
            .output()
            .expect("runs");

        let prod = test_client(&server, "prod").await;
        let tables: Vec<String> = prod
            .query(
                "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = 'public' ORDER BY 1",
                &[],
            )
            .await
            .expect("lists tables")
            .iter()
            .map(|r| r.get(0))
            .collect();
        let functions: i64 = prod
            .query_one(
                "SELECT count(*) FROM pg_proc WHERE proname LIKE 'rehearsal_only%'",
                &[],
            )
            .await
            .expect("counts functions")
            .get(0);
        (out, (tables, functions))
    });
    let log = std::fs::read_to_string(&log_path)
        .unwrap_or_else(|e| panic!("{}: {e}", log_path.display()));
    rt.block_on(cleanup.run_all());

    let entries = log_entries(&log);
    // Sessions, from `log_connections`: the test's own, and the others (pgrehearse's).
    let connections: Vec<&LogEntry> = entries
        .iter()
        .filter(|e| e.text.starts_with("LOG:  connection authorized:"))
        .collect();
    let test_pids: Vec<&str> = connections
        .iter()
        .filter(|e| e.text.contains(&format!("application_name={TEST_APP}")))
        .map(|e| e.pid.as_str())
        .collect();
    let theirs: Vec<&LogEntry> = connections
        .iter()
        .copied()
        .filter(|e| !test_pids.contains(&e.pid.as_str()))
        .collect();
    assert!(
        !theirs.is_empty(),
        "no pgrehearse session was logged:\n{log}"
    );
    for c in &theirs {
        assert!(
            c.text.contains("database=prod") && c.text.contains("application_name=pgrehearse"),
            "{c:#?}"
        );
    }
    let their_pids: Vec<&str> = theirs.iter().map(|e| e.pid.as_str()).collect();
    // Every statement the server logged that the test did not send came from those sessions.
    let sent: Vec<(&LogEntry, &str)> = entries
        .iter()
        .filter(|e| !test_pids.contains(&e.pid.as_str()))
        .filter_map(|e| logged_sql(&e.text).map(|sql| (e, sql)))
        .collect();
    let strangers: Vec<&LogEntry> = sent
        .iter()
        .map(|(e, _)| *e)
        .filter(|e| !their_pids.contains(&e.pid.as_str()))
        .collect();
    assert!(strangers.is_empty(), "{strangers:#?}");
    assert!(
        sent.iter()
            .all(|(e, _)| e.db == "prod" && e.app == "pgrehearse"),
        "{sent:#?}"
    );
    let statements: Vec<&str> = sent.iter().map(|(_, sql)| *sql).collect();
    // The log really holds what was sent: the bookkeeping read and the catalog snapshot.
    assert!(
        statements.iter().any(|s| s.contains("schema_migrations")),
        "{statements:#?}"
    );
    assert!(
        statements.iter().any(|s| s.contains("pg_class")),
        "{statements:#?}"
    );
    // Every one of them is a catalog read …
    let writes: Vec<String> = statements.iter().flat_map(|s| writes_in(s)).collect();
    assert!(
        writes.is_empty(),
        "statements that are not catalog reads reached the live server:\n{writes:#?}"
    );
    // … and no text of the repository reached the server, not even as a parameter.
    let leaked: Vec<&str> = entries
        .iter()
        .filter(|e| their_pids.contains(&e.pid.as_str()))
        .map(|e| e.text.as_str())
        .filter(|t| t.contains(MARKER))
        .collect();
    assert!(leaked.is_empty(), "{leaked:#?}");

    // The check ran to the end and compared with the live database.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let findings = json["findings"].as_array().expect("findings");
    assert!(
        findings
            .iter()
            .any(|f| f["rule"] == "live-pending-migrations"),
        "{json:#}"
    );
    assert!(
        findings.iter().any(|f| f["rule"] == "schema-drift"),
        "{json:#}"
    );
    // Nothing of the repository exists on the live database.
    assert_eq!(
        live_tables,
        (
            vec![
                "schema_migrations".to_string(),
                "schema_migrations_pkey".to_string(),
                "users".to_string(),
                "users_pkey".to_string()
            ],
            0
        )
    );
}
