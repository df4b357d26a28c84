//! How each runner reads a migration file: which part runs (the Up section), how it is cut into queries,
//! and which annotations change its transaction. Pure functions over text; the walker in `mod.rs` decides
//! which runner a folder belongs to.

use pgrehearse_sql::{self as sql, Span};

use std::path::{Path, PathBuf};

use super::{Batch, Runner};

/// The queries `runner` sends for the `body` of `text`.
pub fn batches(runner: Runner, text: &str, body: Span) -> Vec<Batch> {
    let whole = |span: Span| vec![Batch { span, copy: None }];
    match runner {
        Runner::Drizzle => sql::split_drizzle_breakpoints(body.slice(text))
            .into_iter()
            .map(|s| Batch {
                span: Span::new(s.start + body.start, s.end + body.start),
                copy: None,
            })
            .collect(),
        Runner::Prisma | Runner::GolangMigrate | Runner::Dbmate | Runner::Sqlx | Runner::Diesel => {
            whole(body)
        }
        Runner::Goose => goose_statements(text, body)
            .unwrap_or_default()
            .into_iter()
            .map(|span| Batch { span, copy: None })
            .collect(),
        Runner::Psql | Runner::PsqlSingleTransaction | Runner::Flyway | Runner::Supabase => {
            statements(text, body)
        }
    }
}

/// One batch per statement (psql-style splitting), with COPY data attached to its command.
pub fn statements(text: &str, body: Span) -> Vec<Batch> {
    let inner = body.slice(text);
    sql::split(inner)
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(|s| {
            let shift = |sp: Span| Span::new(sp.start + body.start, sp.end + body.start);
            match sql::copy_data(inner, &s) {
                Some(data) => Batch {
                    span: trim(text, shift(Span::new(s.code.start, data.start))),
                    copy: Some(shift(data)),
                },
                None => Batch {
                    span: shift(s.code),
                    copy: None,
                },
            }
        })
        .collect()
}

/// `span` without surrounding whitespace.
pub fn trim(text: &str, span: Span) -> Span {
    let s = span.slice(text);
    let start = span.start + (s.len() - s.trim_start().len());
    let end = span.end - (s.len() - s.trim_end().len());
    if start <= end {
        Span::new(start, end)
    } else {
        span
    }
}

/// Lines of `text` with their byte offsets (line excludes its terminator).
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut offset = 0;
    text.split_inclusive('\n').map(move |raw| {
        let start = offset;
        offset += raw.len();
        (start, raw.trim_end_matches(['\n', '\r']))
    })
}

/// A problem that makes the runner reject a file, with where it is.
#[derive(Debug, PartialEq, Eq)]
pub struct Rejected {
    pub message: String,
    pub span: Option<Span>,
}

/// A goose SQL migration: its Up section and whether it opted out of the transaction.
#[derive(Debug, PartialEq, Eq)]
pub struct GooseFile {
    pub up: Span,
    pub no_transaction: bool,
}

fn goose_annotation(line: &str) -> Option<String> {
    let rest = line.trim_start().strip_prefix("--")?.trim_start();
    let rest = rest.strip_prefix("+goose")?;
    Some(rest.trim().to_ascii_lowercase())
}

/// Parses goose's annotations: `-- +goose Up` starts the part that runs, `-- +goose Down` ends it,
/// `-- +goose NO TRANSACTION` (anywhere, any case) opts out of the per-file transaction.
pub fn goose(text: &str) -> Result<GooseFile, Rejected> {
    let mut up_start = None;
    let mut up_end = None;
    let mut no_transaction = false;
    for (offset, line) in lines(text) {
        let Some(annotation) = goose_annotation(line) else {
            continue;
        };
        match annotation.as_str() {
            "up" if up_start.is_none() => {
                up_start = Some(offset + line.len());
            }
            "down" if up_start.is_some() && up_end.is_none() => up_end = Some(offset),
            "no transaction" => no_transaction = true,
            _ => {}
        }
    }
    let Some(start) = up_start else {
        return Err(Rejected {
            message: "goose refuses this migration: it has no `-- +goose Up` annotation".into(),
            span: None,
        });
    };
    Ok(GooseFile {
        up: Span::new(start, up_end.unwrap_or(text.len())),
        no_transaction,
    })
}

/// Does the line end in `;`, ignoring a trailing `--` comment (goose's `endsWithSemicolon`)?
fn ends_with_semicolon(line: &str) -> bool {
    let mut prev = "";
    for word in line.split_whitespace() {
        if word.starts_with("--") {
            break;
        }
        prev = word;
    }
    prev.ends_with(';')
}

/// Goose cuts the Up section into statements line by line: a line ending in `;` ends a statement,
/// except between `-- +goose StatementBegin` and `-- +goose StatementEnd`, which make one statement.
/// (So a function body without StatementBegin is cut at its first inner `;`, as goose does.)
pub fn goose_statements(text: &str, up: Span) -> Result<Vec<Span>, Rejected> {
    let mut out = Vec::new();
    let mut current: Option<usize> = None;
    let mut in_block = false;
    for (offset, line) in lines(up.slice(text)) {
        let offset = offset + up.start;
        if let Some(annotation) = goose_annotation(line) {
            match annotation.as_str() {
                "statementbegin" => {
                    in_block = true;
                    current = None;
                }
                "statementend" => {
                    if let Some(start) = current.take() {
                        out.push(trim(text, Span::new(start, offset)));
                    }
                    in_block = false;
                }
                _ => {}
            }
            continue;
        }
        if current.is_none() {
            if line.trim().is_empty() || (!in_block && line.trim_start().starts_with("--")) {
                continue;
            }
            current = Some(offset);
        }
        if !in_block
            && ends_with_semicolon(line)
            && let Some(start) = current.take()
        {
            out.push(trim(text, Span::new(start, offset + line.len())));
        }
    }
    if let Some(start) = current {
        let span = trim(text, Span::new(start, up.end));
        if !span.slice(text).trim().is_empty() {
            return Err(Rejected {
                message: if in_block {
                    "goose refuses this migration: `-- +goose StatementBegin` has no matching StatementEnd".into()
                } else {
                    "goose refuses this migration: the last statement does not end with `;`".into()
                },
                span: Some(span),
            });
        }
    }
    Ok(out)
}

/// A dbmate migration: the `-- migrate:up` section and whether it runs in a transaction.
#[derive(Debug, PartialEq, Eq)]
pub struct DbmateFile {
    pub up: Span,
    pub transaction: bool,
}

/// Parses dbmate's `-- migrate:up [transaction:false]` … `-- migrate:down` sections.
pub fn dbmate(text: &str) -> Result<DbmateFile, Rejected> {
    let mut up: Option<(usize, bool)> = None;
    let mut end = None;
    for (offset, line) in lines(text) {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("-- migrate:up") {
            if up.is_none() {
                let transaction = !rest
                    .split_whitespace()
                    .any(|opt| opt.eq_ignore_ascii_case("transaction:false"));
                up = Some((offset + line.len(), transaction));
            }
        } else if trimmed.starts_with("-- migrate:down") && up.is_some() && end.is_none() {
            end = Some(offset);
        }
    }
    match up {
        Some((start, transaction)) => Ok(DbmateFile {
            up: Span::new(start.min(text.len()), end.unwrap_or(text.len())),
            transaction,
        }),
        None => Err(Rejected {
            message: "dbmate refuses this migration: it has no `-- migrate:up` block".into(),
            span: None,
        }),
    }
}

/// sqlx's `-- no-transaction` directive: the first line of the file.
pub fn sqlx_no_transaction(text: &str) -> bool {
    text.lines()
        .next()
        .is_some_and(|l| l.trim() == "-- no-transaction")
}

/// The kind of a Flyway migration file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FlywayKind {
    Versioned,
    Repeatable,
    Baseline,
}

/// A Flyway file name: `V1.2__desc.sql`, `R__desc.sql`, `B5__desc.sql`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlywayName {
    pub kind: FlywayKind,
    /// Version parts (`1_2` and `1.2` are both `[1, 2]`); empty for repeatables.
    pub version: Vec<u64>,
    pub description: String,
    /// `.sql`, or another extension (a Java or script migration).
    pub is_sql: bool,
}

/// Extensions of the code migrations Flyway runs: Java and Kotlin classes, and script migrations.
const FLYWAY_CODE: &[&str] = &[
    "java", "kt", "class", "sh", "bash", "ps1", "bat", "cmd", "py",
];

/// Parses a Flyway migration file name, or None when the name is not one.
pub fn flyway_name(name: &str) -> Option<FlywayName> {
    let (kind, rest) = match name.as_bytes().first()? {
        b'V' => (FlywayKind::Versioned, &name[1..]),
        b'R' => (FlywayKind::Repeatable, &name[1..]),
        b'B' => (FlywayKind::Baseline, &name[1..]),
        _ => return None,
    };
    let (version, rest) = rest.split_once("__")?;
    let (description, ext) = rest.rsplit_once('.')?;
    if name.ends_with(".sql.conf") {
        return None;
    }
    let version: Vec<u64> = if version.is_empty() {
        if kind != FlywayKind::Repeatable {
            return None;
        }
        Vec::new()
    } else {
        if kind == FlywayKind::Repeatable {
            return None;
        }
        version
            .split(['.', '_'])
            .map(|p| p.parse::<u64>().ok())
            .collect::<Option<Vec<_>>>()?
    };
    let is_sql = ext == "sql";
    // Flyway reads `.sql` files and code migrations (Java, Kotlin, scripts); a `V57__notes.md` or any
    // other file beside them is not a migration to it.
    if !is_sql && !FLYWAY_CODE.contains(&ext.to_ascii_lowercase().as_str()) {
        return None;
    }
    Some(FlywayName {
        kind,
        version,
        description: description.replace('_', " "),
        is_sql,
    })
}

/// The filesystem folders (relative to `root`) that Flyway's configuration at the root names in
/// `flyway.locations` (`flyway.conf`, `conf/flyway.conf`) or `locations` (`flyway.toml`): existing
/// folders only, `filesystem:` paths as written, `classpath:` ones under `src/main/resources`.
pub fn flyway_config_locations(root: &Path) -> Vec<PathBuf> {
    let mut values: Vec<String> = Vec::new();
    for conf in ["flyway.conf", "conf/flyway.conf"] {
        if let Ok(text) = std::fs::read_to_string(root.join(conf))
            && let Some(v) = setting(&text, "flyway.locations")
        {
            values.extend(v.split(',').map(|s| s.trim().to_string()));
        }
    }
    if let Ok(text) = std::fs::read_to_string(root.join("flyway.toml")) {
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            if key.trim() == "locations" {
                // `locations = ["filesystem:sql", "classpath:db/migration"]`
                values.extend(value.split('"').skip(1).step_by(2).map(str::to_string));
            }
        }
    }
    let mut out: Vec<PathBuf> = Vec::new();
    for v in values.iter().filter(|v| !v.is_empty()) {
        let path = match v.split_once(':') {
            Some(("filesystem", p)) => PathBuf::from(p.trim_start_matches("./")),
            Some(("classpath", p)) => {
                Path::new("src/main/resources").join(p.trim_start_matches('/'))
            }
            None => Path::new("src/main/resources").join(v.trim_start_matches('/')),
            Some(_) => continue,
        };
        let path: PathBuf = path.components().collect();
        if !path.is_absolute() && root.join(&path).is_dir() && !out.contains(&path) {
            out.push(path);
        }
    }
    out
}

/// Whether a file name in a Flyway location is a SQL callback (`afterMigrate.sql`,
/// `beforeEachMigrate__note.sql`, …) or an undo migration (`U1__desc.sql`): not a migration, and not
/// a misnamed one.
pub fn flyway_callback_or_undo(name: &str) -> bool {
    let undo = name.strip_prefix('U').is_some_and(|rest| {
        rest.split_once("__").is_some_and(|(v, _)| {
            !v.is_empty()
                && v.bytes()
                    .all(|b| b.is_ascii_digit() || b == b'.' || b == b'_')
        })
    });
    let event = name.split(['.', '_']).next().unwrap_or("");
    undo || event.starts_with("before") || event.starts_with("after") || event == "createSchema"
}

/// Statements Flyway's PostgreSQL parser treats as unable to run inside a transaction.
pub fn flyway_non_transactional(text: &str, stmt: Span) -> bool {
    let words = sql::leading_keywords(text, stmt, 4);
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    matches!(
        w.as_slice(),
        ["CREATE", "DATABASE", ..]
            | ["DROP", "DATABASE", ..]
            | ["CREATE", "TABLESPACE", ..]
            | ["DROP", "TABLESPACE", ..]
            | ["ALTER", "SYSTEM", ..]
            | ["VACUUM", ..]
            | ["DISCARD", "ALL", ..]
            | ["CREATE", "INDEX", "CONCURRENTLY", ..]
            | ["CREATE", "UNIQUE", "INDEX", "CONCURRENTLY"]
            | ["DROP", "INDEX", "CONCURRENTLY", ..]
            | ["REINDEX", _, "CONCURRENTLY", ..]
            | ["REFRESH", "MATERIALIZED", "VIEW", "CONCURRENTLY"]
    )
}

/// `key = value` from a small properties or TOML file (`executeInTransaction=false`,
/// `run_in_transaction = false`), unquoted.
pub fn setting<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.split('#').next().unwrap_or("").trim().trim_matches('"'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str, spans: &[Span]) -> Vec<String> {
        spans.iter().map(|s| s.slice(text).to_string()).collect()
    }

    #[test]
    fn batches_follow_the_runner() {
        let text =
            "CREATE TABLE a(id int);\n--> statement-breakpoint\nCREATE TABLE b(id int);\nSELECT 1;";
        let all = Span::new(0, text.len());
        assert_eq!(batches(Runner::Drizzle, text, all).len(), 2);
        assert_eq!(batches(Runner::Prisma, text, all).len(), 1);
        assert_eq!(batches(Runner::Sqlx, text, all).len(), 1);
        let psql: Vec<&str> = batches(Runner::Psql, text, all)
            .iter()
            .map(|b| b.span.slice(text))
            .collect();
        assert_eq!(
            psql,
            [
                "CREATE TABLE a(id int);",
                "CREATE TABLE b(id int);",
                "SELECT 1;"
            ]
        );
    }

    #[test]
    fn goose_up_section_and_statements() {
        let text = "-- +goose Up\nCREATE TABLE a (id int);\nINSERT INTO a\nVALUES (1); -- trailing\n\n-- +goose StatementBegin\nCREATE FUNCTION f() RETURNS int AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$ LANGUAGE plpgsql;\n-- +goose StatementEnd\n-- +goose Down\nDROP TABLE a;\n";
        let file = goose(text).unwrap();
        assert!(!file.no_transaction);
        let stmts = goose_statements(text, file.up).unwrap();
        assert_eq!(
            texts(text, &stmts),
            [
                "CREATE TABLE a (id int);",
                "INSERT INTO a\nVALUES (1); -- trailing",
                "CREATE FUNCTION f() RETURNS int AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$ LANGUAGE plpgsql;",
            ]
        );
    }

    #[test]
    fn goose_cuts_a_function_body_without_statement_begin() {
        let text = "-- +goose Up\nCREATE FUNCTION f() RETURNS int AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$ LANGUAGE plpgsql;\n";
        let file = goose(text).unwrap();
        let stmts = goose_statements(text, file.up).unwrap();
        assert_eq!(stmts.len(), 3, "{:?}", texts(text, &stmts));
        assert!(stmts[0].slice(text).ends_with("RETURN 1;"));
    }

    #[test]
    fn goose_no_transaction_is_case_insensitive_and_missing_up_is_rejected() {
        let file = goose("-- +goose no transaction\n-- +goose Up\nSELECT 1;\n").unwrap();
        assert!(file.no_transaction);
        assert!(goose("SELECT 1;\n").is_err());
        let text = "-- +goose Up\nSELECT 1\n";
        let file = goose(text).unwrap();
        let err = goose_statements(text, file.up).unwrap_err();
        assert!(
            err.message.contains("does not end with `;`"),
            "{}",
            err.message
        );
        assert_eq!(err.span.map(|s| s.slice(text)), Some("SELECT 1"));
    }

    #[test]
    fn dbmate_sections_and_transaction_option() {
        let text = "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (a);\n\n-- migrate:down\nDROP INDEX i;\n";
        let file = dbmate(text).unwrap();
        assert!(!file.transaction);
        assert_eq!(
            file.up.slice(text).trim(),
            "CREATE INDEX CONCURRENTLY i ON t (a);"
        );
        assert!(dbmate("-- migrate:up\nSELECT 1;\n").unwrap().transaction);
        assert!(dbmate("SELECT 1;\n").is_err());
    }

    #[test]
    fn flyway_names_parse() {
        let v = flyway_name("V1_2__Add_users.sql").unwrap();
        assert_eq!(v.kind, FlywayKind::Versioned);
        assert_eq!(v.version, vec![1, 2]);
        assert_eq!(v.description, "Add users");
        assert!(v.is_sql);
        assert_eq!(flyway_name("V10.1__x.sql").unwrap().version, vec![10, 1]);
        assert_eq!(
            flyway_name("R__views.sql").unwrap().kind,
            FlywayKind::Repeatable
        );
        assert!(!flyway_name("V3__Seed.java").unwrap().is_sql);
        assert!(!flyway_name("V4__seed.sh").unwrap().is_sql);
        assert!(flyway_name("V57__readme.md").is_none());
        assert!(flyway_name("V58__notes.txt").is_none());
        assert_eq!(flyway_name("V1__x.sql.conf"), None);
        assert_eq!(flyway_name("R1__x.sql"), None);
        assert_eq!(flyway_name("V__x.sql"), None);
        assert_eq!(flyway_name("users.sql"), None);
    }

    #[test]
    fn flyway_callbacks_and_undo_scripts_are_not_misnamed_migrations() {
        for name in [
            "afterMigrate.sql",
            "beforeEachMigrate__audit.sql",
            "createSchema.sql",
            "U2__undo_users.sql",
        ] {
            assert!(flyway_callback_or_undo(name), "{name}");
        }
        for name in [
            "V2_add_users.sql",
            "v2__add_users.sql",
            "users.sql",
            "Undo_users.sql",
        ] {
            assert!(!flyway_callback_or_undo(name), "{name}");
        }
    }

    #[test]
    fn flyway_detects_non_transactional_statements() {
        for (sql, expected) in [
            ("CREATE INDEX CONCURRENTLY i ON t (a);", true),
            ("create unique index concurrently i on t (a);", true),
            ("VACUUM ANALYZE t;", true),
            ("CREATE INDEX i ON t (a);", false),
            ("ALTER TABLE t ADD COLUMN a int;", false),
        ] {
            assert_eq!(
                flyway_non_transactional(sql, Span::new(0, sql.len())),
                expected,
                "{sql}"
            );
        }
    }

    #[test]
    fn settings_are_read_from_conf_and_toml() {
        assert_eq!(
            setting("executeInTransaction=false\n", "executeInTransaction"),
            Some("false")
        );
        assert_eq!(
            setting("run_in_transaction = false # why\n", "run_in_transaction"),
            Some("false")
        );
        assert_eq!(setting("other = 1\n", "run_in_transaction"), None);
        assert!(sqlx_no_transaction(
            "-- no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);"
        ));
        assert!(!sqlx_no_transaction("SELECT 1;\n-- no-transaction\n"));
    }
}
