//! A plan written as the set's next migration, in its runner's format and naming, so that the
//! runner (and discovery) takes it as the last migration.

use std::path::{Path, PathBuf};

use super::plan::{Plan, PlanOptions, Stage, Step};
use crate::runner::{MigrationSet, Runner, Transactions};

/// The base name of the migration (each runner's naming rules added around it).
pub const NAME: &str = "pgrehearse_fix_drift";

/// One file to write (created, or replaced for the Drizzle journal).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileWrite {
    /// Relative to the repository root.
    pub path: PathBuf,
    pub contents: String,
    /// `true` for a file that exists and is rewritten (the Drizzle journal).
    pub replaces: bool,
    /// `true` for the file the runner applies as a migration (not a `.down.sql`, a
    /// `metadata.toml` or the journal).
    pub migration: bool,
}

/// Why the migration cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{path}: {message}")]
    Journal { path: PathBuf, message: String },
    #[error("{path} already exists; remove it or rename it, then run fix-drift again")]
    Exists { path: PathBuf },
}

/// What the runner lets the generated migration do. `psql -f` commits each statement on its own:
/// everything fits in one file. Drizzle runs every pending migration in one transaction: nothing can
/// run outside it or after it commits. The Supabase CLI and `psql --single-transaction` wrap every
/// file in a transaction with no way out. The others can run a file without a transaction (goose
/// `NO TRANSACTION`, dbmate `transaction:false`, sqlx `-- no-transaction`, diesel
/// `run_in_transaction = false`, a Flyway file of only such statements, and a one-statement file
/// for Prisma and golang-migrate).
pub fn plan_options(runner: Runner) -> PlanOptions {
    match runner {
        Runner::Psql => PlanOptions {
            concurrently: true,
            using_index: true,
            later_transactions: true,
        },
        Runner::Drizzle => PlanOptions::default(),
        Runner::Supabase | Runner::PsqlSingleTransaction => PlanOptions {
            concurrently: false,
            using_index: false,
            later_transactions: true,
        },
        Runner::Prisma
        | Runner::GolangMigrate
        | Runner::Goose
        | Runner::Dbmate
        | Runner::Sqlx
        | Runner::Diesel
        | Runner::Flyway => PlanOptions {
            concurrently: true,
            using_index: false,
            later_transactions: true,
        },
    }
}

/// The current time: seconds since the epoch and milliseconds.
#[derive(Clone, Copy, Debug)]
pub struct Now {
    pub unix_seconds: u64,
}

impl Now {
    pub fn system() -> Now {
        Now {
            unix_seconds: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }

    /// `(year, month, day, hour, minute, second)` in UTC.
    fn civil(self) -> (i64, u32, u32, u32, u32, u32) {
        let secs = self.unix_seconds;
        let days = i64::try_from(secs / 86_400).unwrap_or(0);
        let rem = secs % 86_400;
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = if m <= 2 { y + 1 } else { y };
        let h = rem / 3600;
        let mi = (rem % 3600) / 60;
        let s = rem % 60;
        let n = |v: i64| u32::try_from(v).unwrap_or(0);
        let n64 = |v: u64| u32::try_from(v).unwrap_or(0);
        (y, n(m), n(d), n64(h), n64(mi), n64(s))
    }

    /// `YYYYMMDDHHMMSS`.
    pub fn timestamp(self) -> String {
        let (y, mo, d, h, mi, s) = self.civil();
        format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}")
    }

    /// Diesel's `YYYY-MM-DD-HHMMSS`.
    fn diesel(self) -> String {
        let (y, mo, d, h, mi, s) = self.civil();
        format!("{y:04}-{mo:02}-{d:02}-{h:02}{mi:02}{s:02}")
    }
}

fn file_name(p: &Path) -> &str {
    p.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

fn leading_digits(name: &str) -> &str {
    let n = name.bytes().take_while(u8::is_ascii_digit).count();
    &name[..n]
}

/// The digits `digits + 1`, zero-padded to the same width.
fn increment(digits: &str) -> String {
    let width = digits.len();
    let value = digits.parse::<u128>().unwrap_or(0).saturating_add(1);
    format!("{value:0width$}")
}

/// Whether a version looks like a `YYYYMMDDHHMMSS` timestamp.
fn is_timestamp(digits: &str) -> bool {
    digits.len() == 14 && (digits.starts_with("19") || digits.starts_with("20"))
}

/// The version after `last` (the highest in use): a timestamp now when the set uses timestamps,
/// else the next number at the same width; `fresh` when there is none.
fn next_version(last: Option<&str>, now: Now, fresh: &str) -> String {
    match last {
        None => fresh.to_string(),
        Some(last) if is_timestamp(last) => {
            let candidate = now.timestamp();
            if candidate.as_str() > last {
                candidate
            } else {
                increment(last)
            }
        }
        Some(last) => increment(last),
    }
}

/// The highest version among names starting with digits.
fn highest<'a>(names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    names
        .map(leading_digits)
        .filter(|d| !d.is_empty())
        .max_by(|a, b| {
            a.trim_start_matches('0')
                .len()
                .cmp(&b.trim_start_matches('0').len())
                .then_with(|| a.trim_start_matches('0').cmp(b.trim_start_matches('0')))
        })
}

/// Names of the set's migrations as the runner reads their version: the file name, or the folder
/// name for runners that keep one folder per migration.
fn migration_names(set: &MigrationSet) -> Vec<String> {
    set.migrations
        .iter()
        .map(|m| match set.runner {
            Runner::Prisma | Runner::Diesel => m
                .file
                .parent()
                .map(|p| file_name(p).to_string())
                .unwrap_or_default(),
            _ => file_name(&m.file).to_string(),
        })
        .collect()
}

/// How a part of the migration runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PartKind {
    /// In the runner's transaction.
    Transaction,
    /// Outside any transaction block (`CREATE INDEX CONCURRENTLY`).
    NoTransaction,
}

/// One migration file (or folder) of the fix.
struct Part {
    suffix: &'static str,
    kind: PartKind,
    stage: Stage,
    steps: Vec<Step>,
}

/// Whether a runner sends a file without a transaction as one multi-statement query (PostgreSQL
/// then runs it as one implicit transaction): `CREATE INDEX CONCURRENTLY` needs a file of its own.
fn one_statement_per_file(runner: Runner) -> bool {
    matches!(
        runner,
        Runner::Prisma | Runner::GolangMigrate | Runner::Dbmate | Runner::Sqlx | Runner::Diesel
    )
}

/// The plan cut into the migrations the runner needs: the main one; the concurrent index builds,
/// outside a transaction (one file each where the runner sends a file as one query); and the
/// validations, in a transaction after the main one committed. `psql -f` commits every statement
/// on its own and Drizzle runs every pending migration in one transaction: one file there.
fn parts(runner: Runner, plan: &Plan) -> Vec<Part> {
    let applied: Vec<Step> = plan.applied().cloned().collect();
    let single = |steps| {
        vec![Part {
            suffix: "",
            kind: PartKind::Transaction,
            stage: Stage::Main,
            steps,
        }]
    };
    if matches!(runner, Runner::Psql | Runner::Drizzle)
        || applied.iter().all(|s| s.stage == Stage::Main)
    {
        return single(applied);
    }
    let of = |stage: Stage| -> Vec<Step> {
        applied
            .iter()
            .filter(|s| s.stage == stage)
            .cloned()
            .collect()
    };
    let mut out = vec![
        Part {
            suffix: "_enum_values",
            kind: PartKind::Transaction,
            stage: Stage::Before,
            steps: of(Stage::Before),
        },
        Part {
            suffix: "",
            kind: PartKind::Transaction,
            stage: Stage::Main,
            steps: of(Stage::Main),
        },
    ];
    let concurrent = of(Stage::Concurrently);
    let index_part = |steps| Part {
        suffix: "_index",
        kind: PartKind::NoTransaction,
        stage: Stage::Concurrently,
        steps,
    };
    if one_statement_per_file(runner) {
        out.extend(concurrent.into_iter().map(|s| index_part(vec![s])));
    } else if !concurrent.is_empty() {
        out.push(index_part(concurrent));
    }
    out.push(Part {
        suffix: "_validate",
        kind: PartKind::Transaction,
        stage: Stage::Later,
        steps: of(Stage::Later),
    });
    out.retain(|p| !p.steps.is_empty());
    if out.is_empty() {
        return single(Vec::new());
    }
    out
}

/// The text of one part: a header, the statements (`separator` between them, each written by
/// `wrap`), and in the last part the commented-out block.
#[allow(clippy::too_many_arguments)]
fn part_text(
    runner: Runner,
    part: &Part,
    (index, count): (usize, usize),
    source: &str,
    commented: &[&Step],
    separator: &str,
    wrap: &dyn Fn(&Step) -> String,
) -> String {
    let mut out = if index == 0 {
        format!(
            "-- Generated by `pgrehearse fix-drift`: makes the schema these migrations build equal to\n-- {source}. Review it before committing.\n"
        )
    } else {
        let what = match part.stage {
            Stage::Main => "the main part, after the enum values it uses were committed",
            Stage::Before => "adds enum values, committed before the migrations that use them",
            Stage::Concurrently => {
                "builds an index CONCURRENTLY, outside a transaction, so that writes to the table go on"
            }
            _ => {
                "validates what the earlier part added NOT VALID, in a later transaction that locks out no writes while it scans"
            }
        };
        format!(
            "-- Generated by `pgrehearse fix-drift` (part {} of {count}): {what}.\n",
            index + 1
        )
    };
    if part.steps.iter().any(|s| s.stage == Stage::Concurrently) && runner == Runner::Psql {
        out.push_str(
            "-- CREATE INDEX CONCURRENTLY cannot run inside a transaction block: apply this file as psql -f does, statement by statement.\n",
        );
    }
    out.push('\n');
    let mut statements: Vec<String> = part.steps.iter().map(wrap).collect();
    // A file of concurrent index builds holds nothing else: Flyway refuses a file mixing both, a
    // one-query file must be one statement, and goose may send each statement of a NO TRANSACTION
    // file on another pooled connection.
    let timeout = !statements.is_empty() && part.kind == PartKind::Transaction;
    if timeout {
        statements.insert(0, lock_timeout(runner, part.kind));
    }
    out.push_str(&statements.join(separator));
    if index + 1 == count && !commented.is_empty() {
        if !statements.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(&destructive_block(commented));
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// The destructive and manual steps, commented out under a warning.
pub fn destructive_block(steps: &[&Step]) -> String {
    let mut out = String::from(
        "-- WARNING: destructive or manual steps, commented out. pgrehearse never applies them:\n-- each drops data or an object only the migrations have, narrows a type, or needs a\n-- change PostgreSQL cannot make in place. Uncomment (or rewrite) the ones you mean.\n",
    );
    for s in steps {
        out.push_str(&format!(
            "--\n-- {}: {}\n",
            s.object,
            s.commented.as_deref().unwrap_or("")
        ));
        for line in s.sql.lines() {
            if line.starts_with("--") {
                out.push_str(&format!("{line}\n"));
            } else {
                out.push_str(&format!("-- {line};\n"));
            }
        }
    }
    out
}

/// A lock timeout before the first statement, so that a migration waiting for a table's lock fails
/// instead of queueing every query behind it: `SET LOCAL` where the runner opens a transaction, else
/// `SET` (the file's session).
fn lock_timeout(runner: Runner, kind: PartKind) -> String {
    match (runner.default_transactions(), kind) {
        (Transactions::Explicit | Transactions::AllPendingInOne, PartKind::Transaction) => {
            format!("SET LOCAL lock_timeout = '{LOCK_TIMEOUT}';")
        }
        _ => format!("SET lock_timeout = '{LOCK_TIMEOUT}';"),
    }
}

/// How long a statement of the generated migration waits for a lock.
pub const LOCK_TIMEOUT: &str = "5s";

fn statement(s: &Step) -> String {
    format!("{};", s.sql)
}

/// goose cuts the Up section at lines ending in `;`: a statement over several lines is kept whole.
fn goose_statement(s: &Step) -> String {
    if s.sql.contains('\n') {
        format!(
            "-- +goose StatementBegin\n{};\n-- +goose StatementEnd",
            s.sql
        )
    } else {
        statement(s)
    }
}

/// The down of each part: the steps of `down` (see [`super::plan::reverse`]) about an object one
/// of the part's steps touches, each in the first such part; the rest in the main part.
fn downs<'a>(parts: &[Part], down: &'a Plan) -> Vec<Vec<&'a Step>> {
    let mut out: Vec<Vec<&Step>> = vec![Vec::new(); parts.len()];
    let main = parts
        .iter()
        .position(|p| p.stage == Stage::Main)
        .unwrap_or(0);
    for s in &down.steps {
        let at = parts
            .iter()
            .position(|p| p.steps.iter().any(|u| u.object == s.object))
            .unwrap_or(main);
        if let Some(d) = out.get_mut(at) {
            d.push(s);
        }
    }
    out
}

/// The text of a part's down: undoes what the part applied, in the reverse direction; what cannot
/// be undone is a comment saying why.
fn down_text(
    runner: Runner,
    kind: PartKind,
    steps: &[&Step],
    wrap: &dyn Fn(&Step) -> String,
) -> String {
    let mut out = String::from(
        "-- Generated by `pgrehearse fix-drift`: undoes what the up of this migration applied.\n\n",
    );
    let mut statements: Vec<String> = steps
        .iter()
        .filter(|s| s.commented.is_none())
        .map(|s| wrap(s))
        .collect();
    if statements.is_empty() {
        out.push_str("-- Nothing to undo.\n");
    } else {
        if kind == PartKind::Transaction {
            statements.insert(0, lock_timeout(runner, kind));
        }
        out.push_str(&statements.join("\n\n"));
        out.push('\n');
    }
    for s in steps.iter().filter(|s| s.commented.is_some()) {
        out.push_str(&format!(
            "\n-- Not undone ({}): {}\n",
            s.object,
            s.commented.as_deref().unwrap_or_default()
        ));
        for line in s.sql.lines() {
            if line.starts_with("--") {
                out.push_str(&format!("{line}\n"));
            } else {
                out.push_str(&format!("-- {line}\n"));
            }
        }
    }
    out
}

/// The files that add `plan` as the next migrations of `set` (usually one; see [`parts`]).
/// `source` names the declared schema.
pub fn render(
    root: &Path,
    set: &MigrationSet,
    plan: &Plan,
    down: &Plan,
    source: &str,
    now: Now,
) -> Result<Vec<FileWrite>, WriteError> {
    if set.runner == Runner::Drizzle {
        return drizzle(root, set, plan, source, now);
    }
    let names = migration_names(set);
    let last = highest(names.iter().map(String::as_str));
    let dir = &set.dir;
    let parts = parts(set.runner, plan);
    let commented: Vec<&Step> = plan.commented().collect();
    let count = parts.len();
    let downs = downs(&parts, down);
    let mut version = match set.runner {
        Runner::GolangMigrate => next_version(last, now, "1"),
        Runner::Psql | Runner::PsqlSingleTransaction => next_version(last, now, "001"),
        Runner::Flyway => flyway_version(&names),
        Runner::Diesel => diesel_folder(&names, now),
        _ => next_version(last, now, &now.timestamp()),
    };
    let file = |path: PathBuf, contents: String| FileWrite {
        migration: !path.ends_with("metadata.toml")
            && !path.to_string_lossy().ends_with("down.sql"),
        path,
        contents,
        replaces: false,
    };
    let mut files = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            version = match set.runner {
                Runner::Diesel => next_diesel_stamp(&version),
                _ => increment(&version),
            };
        }
        let name = format!("{NAME}{}", part.suffix);
        let wrap: &dyn Fn(&Step) -> String = if set.runner == Runner::Goose {
            &goose_statement
        } else {
            &statement
        };
        let text = part_text(
            set.runner,
            part,
            (i, count),
            source,
            &commented,
            "\n\n",
            wrap,
        );
        let no_tx = part.kind == PartKind::NoTransaction;
        let down = down_text(set.runner, part.kind, &downs[i], wrap);
        match set.runner {
            Runner::Drizzle => {}
            Runner::Prisma => files.push(file(
                dir.join(format!("{version}_{name}")).join("migration.sql"),
                text,
            )),
            Runner::GolangMigrate => {
                files.push(file(dir.join(format!("{version}_{name}.up.sql")), text));
                files.push(file(
                    dir.join(format!("{version}_{name}.down.sql")),
                    down.clone(),
                ));
            }
            Runner::Goose => files.push(file(
                dir.join(format!("{version}_{name}.sql")),
                format!(
                    "{}-- +goose Up\n{text}\n-- +goose Down\n{down}",
                    if no_tx {
                        "-- +goose NO TRANSACTION\n"
                    } else {
                        ""
                    }
                ),
            )),
            Runner::Dbmate => files.push(file(
                dir.join(format!("{version}_{name}.sql")),
                format!(
                    "-- migrate:up{}\n{text}\n-- migrate:down{}\n{down}",
                    if no_tx { " transaction:false" } else { "" },
                    if no_tx { " transaction:false" } else { "" }
                ),
            )),
            Runner::Sqlx => {
                let text = if no_tx {
                    format!("-- no-transaction\n{text}")
                } else {
                    text
                };
                if names.iter().any(|n| n.ends_with(".up.sql")) {
                    files.push(file(dir.join(format!("{version}_{name}.up.sql")), text));
                    files.push(file(
                        dir.join(format!("{version}_{name}.down.sql")),
                        down.clone(),
                    ));
                } else {
                    files.push(file(dir.join(format!("{version}_{name}.sql")), text));
                }
            }
            Runner::Diesel => {
                let folder = format!("{version}_{name}");
                files.push(file(dir.join(&folder).join("up.sql"), text));
                files.push(file(dir.join(&folder).join("down.sql"), down.clone()));
                if no_tx {
                    files.push(file(
                        dir.join(&folder).join("metadata.toml"),
                        "run_in_transaction = false\n".into(),
                    ));
                }
            }
            Runner::Flyway => files.push(file(dir.join(format!("V{version}__{name}.sql")), text)),
            Runner::Supabase | Runner::Psql | Runner::PsqlSingleTransaction => {
                files.push(file(dir.join(format!("{version}_{name}.sql")), text))
            }
        }
    }
    for f in &files {
        if root.join(&f.path).exists() {
            return Err(WriteError::Exists {
                path: f.path.clone(),
            });
        }
    }
    Ok(files)
}

/// The diesel version one second after `stamp` (`YYYY-MM-DD-HHMMSS`), or the next number.
fn next_diesel_stamp(stamp: &str) -> String {
    if stamp.len() == 17 && stamp.as_bytes().get(4) == Some(&b'-') {
        let digits: String = stamp.chars().filter(char::is_ascii_digit).collect();
        let next = increment(&digits);
        format!(
            "{}-{}-{}-{}",
            &next[..4],
            &next[4..6],
            &next[6..8],
            &next[8..]
        )
    } else {
        increment(stamp)
    }
}

/// The next Flyway version: the highest versioned migration's first component plus one, at its width.
fn flyway_version(names: &[String]) -> String {
    let majors = names
        .iter()
        .filter_map(|n| n.strip_prefix('V'))
        .filter_map(|rest| rest.split("__").next())
        .map(|v| v.split(['.', '_']).next().unwrap_or(v).to_string())
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .collect::<Vec<_>>();
    highest(majors.iter().map(String::as_str)).map_or_else(|| "1".to_string(), increment)
}

/// The version of the next diesel folder: `YYYY-MM-DD-HHMMSS` (diesel's own naming) after the last
/// folder, or the next number when the folders are numbered.
fn diesel_folder(names: &[String], now: Now) -> String {
    let last = names.iter().max().map(String::as_str);
    let stamp = |n: &str| n.split('_').next().unwrap_or(n).to_string();
    match last {
        Some(l) if stamp(l).len() != 17 && !leading_digits(l).is_empty() => {
            next_version(Some(leading_digits(l)), now, "")
        }
        Some(l) if format!("{}_", now.diesel()).as_str() <= l => next_diesel_stamp(&stamp(l)),
        _ => now.diesel(),
    }
}

/// A Drizzle migration: the next `NNNN_name.sql`, statements split by `--> statement-breakpoint`,
/// and its entry appended to `meta/_journal.json`.
fn drizzle(
    root: &Path,
    set: &MigrationSet,
    plan: &Plan,
    source: &str,
    now: Now,
) -> Result<Vec<FileWrite>, WriteError> {
    let journal_path = set.dir.join("meta").join("_journal.json");
    let text =
        std::fs::read_to_string(root.join(&journal_path)).map_err(|e| WriteError::Journal {
            path: journal_path.clone(),
            message: e.to_string(),
        })?;
    let journal: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| WriteError::Journal {
            path: journal_path.clone(),
            message: e.to_string(),
        })?;
    let entries = journal
        .get("entries")
        .and_then(|e| e.as_array())
        .cloned()
        .unwrap_or_default();
    let idx = entries.len();
    let tag = format!("{idx:04}_{NAME}");
    let newest_when = entries
        .iter()
        .filter_map(|e| e.get("when").and_then(serde_json::Value::as_u64))
        .max()
        .unwrap_or(0);
    let when = (now.unix_seconds.saturating_mul(1000)).max(newest_when.saturating_add(1));
    let version = entries
        .last()
        .and_then(|e| e.get("version"))
        .and_then(|v| v.as_str())
        .or_else(|| journal.get("version").and_then(|v| v.as_str()))
        .unwrap_or("7")
        .to_string();
    let entry_fields = [
        ("idx", idx.to_string()),
        ("version", serde_json::Value::String(version).to_string()),
        ("when", when.to_string()),
        ("tag", serde_json::Value::String(tag.clone()).to_string()),
        ("breakpoints", "true".to_string()),
    ];
    let updated = append_entry(&text, &entry_fields).ok_or_else(|| WriteError::Journal {
        path: journal_path.clone(),
        message: "cannot find the `entries` array to add the migration to".into(),
    })?;
    // The journal must still parse, with the entry last.
    let reparsed: Result<serde_json::Value, _> = serde_json::from_str(&updated);
    let last_tag = reparsed.ok().and_then(|j| {
        j.get("entries")
            .and_then(|e| e.as_array())
            .and_then(|e| e.last())
            .and_then(|e| e.get("tag"))
            .and_then(|t| t.as_str())
            .map(str::to_string)
    });
    if last_tag.as_deref() != Some(tag.as_str()) {
        return Err(WriteError::Journal {
            path: journal_path,
            message: "could not add an entry to the journal".into(),
        });
    }
    let sql_path = set.dir.join(format!("{tag}.sql"));
    if root.join(&sql_path).exists() {
        return Err(WriteError::Exists { path: sql_path });
    }
    let part = parts(Runner::Drizzle, plan)
        .into_iter()
        .next()
        .unwrap_or(Part {
            suffix: "",
            kind: PartKind::Transaction,
            stage: Stage::Main,
            steps: Vec::new(),
        });
    let commented: Vec<&Step> = plan.commented().collect();
    let contents = part_text(
        Runner::Drizzle,
        &part,
        (0, 1),
        source,
        &commented,
        "\n--> statement-breakpoint\n",
        &statement,
    );
    Ok(vec![
        FileWrite {
            path: sql_path,
            contents,
            replaces: false,
            migration: true,
        },
        FileWrite {
            path: journal_path,
            contents: updated,
            replaces: true,
            migration: false,
        },
    ])
}

/// Appends an entry to the journal's `entries` array in place, in the layout of the entry before it
/// (one line, or one field a line), leaving the rest of the file as it is.
fn append_entry(text: &str, fields: &[(&str, String)]) -> Option<String> {
    let key = text.find("\"entries\"")?;
    let open = key + text[key..].find('[')?;
    // The matching `]`, skipping strings.
    let bytes = text.as_bytes();
    let (mut depth, mut i, mut in_string) = (0i32, open, false);
    let close = loop {
        let c = *bytes.get(i)?;
        if in_string {
            if c == b'\\' {
                i += 1;
            } else if c == b'"' {
                in_string = false;
            }
        } else {
            match c {
                b'"' => in_string = true,
                b'[' | b'{' => depth += 1,
                b']' | b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        break i;
                    }
                }
                _ => {}
            }
        }
        i += 1;
    };
    let inner = &text[open + 1..close];
    let last_brace = inner.rfind('}');
    let one_line = |indent: &str| {
        format!(
            "{indent}{{ {} }}",
            fields
                .iter()
                .map(|(k, v)| format!("\"{k}\": {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    match last_brace {
        None => {
            let entry = one_line("    ");
            Some(format!("{}\n{entry}\n  {}", &text[..=open], &text[close..]))
        }
        Some(rel) => {
            let at = open + 1 + rel + 1;
            // The previous entry: from its `{` (matching this `}`) to here.
            let start = text[..at]
                .rfind("{\n")
                .filter(|s| *s > open)
                .unwrap_or_else(|| text[..at].rfind('{').unwrap_or(open));
            let previous = &text[start..at];
            let line_start = text[..start].rfind('\n').map_or(0, |n| n + 1);
            let indent: String = text[line_start..start]
                .chars()
                .take_while(|c| c.is_whitespace())
                .collect();
            let entry = if previous.contains('\n') {
                let field_indent = previous
                    .lines()
                    .nth(1)
                    .map(|l| {
                        l.chars()
                            .take_while(|c| c.is_whitespace())
                            .collect::<String>()
                    })
                    .unwrap_or_else(|| format!("{indent}  "));
                format!(
                    "{indent}{{\n{}\n{indent}}}",
                    fields
                        .iter()
                        .map(|(k, v)| format!("{field_indent}\"{k}\": {v}"))
                        .collect::<Vec<_>>()
                        .join(",\n")
                )
            } else {
                one_line(&indent)
            };
            Some(format!("{},\n{entry}{}", &text[..at], &text[at..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_the_sets_numbering() {
        let now = Now {
            unix_seconds: 1_767_225_600, // 2026-01-01 00:00:00 UTC
        };
        assert_eq!(now.timestamp(), "20260101000000");
        assert_eq!(now.diesel(), "2026-01-01-000000");
        assert_eq!(next_version(Some("002"), now, "1"), "003");
        assert_eq!(next_version(Some("9"), now, "1"), "10");
        assert_eq!(
            next_version(Some("20240101000000"), now, "1"),
            "20260101000000"
        );
        // A set whose last version is in the future still gets a later one.
        assert_eq!(
            next_version(Some("20990101000000"), now, "1"),
            "20990101000001"
        );
        assert_eq!(
            highest(["001_a.sql", "010_b.sql", "9_c.sql"].into_iter()),
            Some("010")
        );
        assert_eq!(
            flyway_version(&["V1__a.sql".into(), "V1.1__b.sql".into(), "R__v.sql".into()]),
            "2"
        );
        assert_eq!(flyway_version(&["V009__a.sql".into()]), "010");
        assert_eq!(
            diesel_folder(&["2024-01-01-000000_users".into()], now),
            "2026-01-01-000000"
        );
        assert_eq!(
            diesel_folder(&["2099-01-01-000059_users".into()], now),
            "2099-01-01-000060"
        );
        assert_eq!(
            diesel_folder(&["00000000000000_diesel_initial_setup".into()], now),
            "00000000000001"
        );
        assert_eq!(diesel_folder(&["0001_users".into()], now), "0002");
    }

    #[test]
    fn journal_entries_are_appended_in_the_layout_of_the_last_one() {
        let fields = [("idx", "2".to_string()), ("tag", "\"0002_x\"".to_string())];
        let one = "{\n  \"entries\": [\n    { \"idx\": 0, \"tag\": \"a\" },\n    { \"idx\": 1, \"tag\": \"b\" }\n  ]\n}\n";
        assert_eq!(
            append_entry(one, &fields).as_deref(),
            Some(
                "{\n  \"entries\": [\n    { \"idx\": 0, \"tag\": \"a\" },\n    { \"idx\": 1, \"tag\": \"b\" },\n    { \"idx\": 2, \"tag\": \"0002_x\" }\n  ]\n}\n"
            )
        );
        let pretty =
            "{\n  \"entries\": [\n    {\n      \"idx\": 0,\n      \"tag\": \"a\"\n    }\n  ]\n}";
        assert_eq!(
            append_entry(pretty, &fields).as_deref(),
            Some(
                "{\n  \"entries\": [\n    {\n      \"idx\": 0,\n      \"tag\": \"a\"\n    },\n    {\n      \"idx\": 2,\n      \"tag\": \"0002_x\"\n    }\n  ]\n}"
            )
        );
        let empty = "{\"entries\": []}";
        let out = append_entry(empty, &fields).unwrap_or_default();
        assert!(
            serde_json::from_str::<serde_json::Value>(&out).is_ok(),
            "{out}"
        );
    }
}
