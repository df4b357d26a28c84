//! Fixes for the lock findings: `CREATE INDEX` → `CREATE INDEX CONCURRENTLY`
//! (`index-without-concurrently`, observed by the replay), `DROP INDEX` / `REINDEX` → their
//! `CONCURRENTLY` forms (`drop-index-without-concurrently`, `reindex-without-concurrently`, static),
//! `ADD CONSTRAINT c UNIQUE (…)` → `CREATE UNIQUE INDEX CONCURRENTLY` then `ADD CONSTRAINT … USING
//! INDEX` (`constraint-builds-index`), and `ADD CONSTRAINT … FOREIGN KEY / CHECK` → the same with
//! `NOT VALID`, followed by `ALTER TABLE … VALIDATE CONSTRAINT …;` (`validation-scan`).
//!
//! These rewrites only help when the statement runs outside a transaction block: `CONCURRENTLY` is
//! rejected inside one, and a `VALIDATE CONSTRAINT` in the transaction that added the constraint
//! still holds the strong lock taken by the `ADD`. [`attach`] reads how the runner groups the
//! statement (`runner::transactions`): outside a transaction block the fix is safe; inside one that
//! the runner or the file opens it is offered as unsafe, and the finding's help says how to take
//! the migration out of the transaction (each runner's own opt-out). The `VALIDATE` of the second fix
//! is only safe where each statement commits on its own; elsewhere the help says to move it into a
//! later migration. Drizzle runs every pending migration in one transaction with no opt-out: no fix
//! there.

use std::collections::BTreeMap;
use std::path::Path;

use pgrehearse_sql::{self as sql, Span, TokenKind};

use crate::model::{Finding, Fix};
use crate::runner::transactions::{self, Block, TxStatement};
use crate::runner::{MigrationSet, Runner, Transactions};

/// Attaches the lock fixes to the findings of `sets` that have one (and no fix yet).
pub fn attach(findings: &mut [Finding], sets: &[MigrationSet]) {
    let mut walks = BTreeMap::new();
    for finding in findings.iter_mut() {
        if finding.fix.is_some()
            || !matches!(
                finding.rule.as_str(),
                "index-without-concurrently"
                    | "constraint-builds-index"
                    | "drop-index-without-concurrently"
                    | "reindex-without-concurrently"
                    | "validation-scan"
            )
        {
            continue;
        }
        let Some((file, span)) = finding
            .location
            .as_ref()
            .and_then(|l| Some((l.file.clone(), l.span?)))
        else {
            continue;
        };
        let Some((set, mi, block, stmt)) = locate(sets, &mut walks, &file, span) else {
            continue;
        };
        let text = &*set.migrations[mi].text;
        let edit = match finding.rule.as_str() {
            "index-without-concurrently" if !finding.evidence.extra.contains_key("partitioned") => {
                concurrently(text, stmt)
            }
            "constraint-builds-index" => unique_using_index(text, stmt),
            "drop-index-without-concurrently" => drop_concurrently(text, stmt),
            "reindex-without-concurrently" => reindex_concurrently(text, stmt),
            "validation-scan" => not_valid(text, stmt),
            _ => None,
        };
        let Some((fix_span, replacement)) = edit else {
            continue;
        };
        let mode = transactions::mode(set, &set.migrations[mi]);
        let note = if mode == Transactions::AllPendingInOne {
            // drizzle-kit migrate: one transaction around every pending migration, no way out.
            continue;
        } else if finding.rule == "constraint-builds-index" {
            // A concurrent build in a statement of its own, then the constraint from the index.
            (block != Block::None || mode != Transactions::Autocommit).then(|| {
                "the suggested `CREATE UNIQUE INDEX CONCURRENTLY` cannot run in a transaction block and must commit before `ADD CONSTRAINT … USING INDEX`: put it in a migration of its own that runs outside a transaction".to_string()
            })
        } else if finding.rule == "validation-scan" {
            // The added VALIDATE must commit apart from the ADD: only when each statement commits
            // on its own.
            (block != Block::None || mode != Transactions::Autocommit).then(|| {
                format!(
                    "the suggested `VALIDATE CONSTRAINT` only helps in a later transaction, and {}: keep `NOT VALID` here and move the `VALIDATE CONSTRAINT` into a later migration",
                    match block {
                        Block::File => "the file's own BEGIN … COMMIT encloses both".to_string(),
                        _ => set.runner.describe(mode),
                    }
                )
            })
        } else if block == Block::None {
            None
        } else {
            match opt_out(set, mi, block) {
                Some(how) => Some(format!(
                    "the suggested fix needs the statement outside a transaction: {how}"
                )),
                None => continue,
            }
        };
        let safe = note.is_none();
        if let Some(note) = note {
            let help = finding.help.take().unwrap_or_default();
            finding.help = Some(format!("{help}; {note}"));
        }
        finding.fix = Some(Fix {
            file,
            span: fix_span,
            replacement,
            safe,
        });
    }
}

/// The set, migration index and transaction block of the statement at `span` of `file`. Each set's
/// statements are walked once (`walks` caches them by set index).
fn locate<'a>(
    sets: &'a [MigrationSet],
    walks: &mut BTreeMap<usize, Vec<TxStatement>>,
    file: &Path,
    span: Span,
) -> Option<(&'a MigrationSet, usize, Block, Span)> {
    sets.iter().enumerate().find_map(|(si, set)| {
        let mi = set.migrations.iter().position(|m| m.file == file)?;
        let stmt = walks
            .entry(si)
            .or_insert_with(|| transactions::walk(set))
            .iter()
            .find(|s| s.migration == mi && s.span.start <= span.start && span.end <= s.span.end)?;
        Some((set, mi, stmt.block, stmt.span))
    })
}

/// How to run migration `mi` of `set` outside a transaction block; `None` when the runner offers no
/// way.
fn opt_out(set: &MigrationSet, mi: usize, block: Block) -> Option<String> {
    let mode = transactions::mode(set, &set.migrations[mi]);
    Some(match block {
        Block::None => return None,
        Block::File => {
            "move it after the file's own COMMIT (or remove the file's BEGIN … COMMIT)".to_string()
        }
        Block::Query | Block::Runner => match set.runner {
            Runner::Drizzle => return None,
            _ if mode == Transactions::AllPendingInOne => return None,
            Runner::PsqlSingleTransaction => {
                "apply this file without --single-transaction".to_string()
            }
            Runner::Goose => "add `-- +goose NO TRANSACTION` to this file".to_string(),
            Runner::Dbmate => {
                "use `-- migrate:up transaction:false`, with this statement alone in its file"
                    .to_string()
            }
            Runner::Sqlx => {
                "start the file with `-- no-transaction`, with this statement alone in it"
                    .to_string()
            }
            Runner::Diesel => "add `run_in_transaction = false` to the migration's metadata.toml, with this statement alone in it".to_string(),
            runner => format!(
                "{}; put this statement alone in its own migration file",
                runner.describe(mode)
            ),
        },
    })
}

/// `CREATE [UNIQUE] INDEX …` → `CREATE [UNIQUE] INDEX CONCURRENTLY …`: an insertion after `INDEX`.
fn concurrently(text: &str, stmt: Span) -> Option<(Span, String)> {
    let t = sql::significant_tokens(text, stmt);
    let w = |i: usize, kw: &str| t.get(i).is_some_and(|tok| tok.is_word(text, kw));
    let at = if w(0, "CREATE") && w(1, "INDEX") {
        1
    } else if w(0, "CREATE") && w(1, "UNIQUE") && w(2, "INDEX") {
        2
    } else {
        return None;
    };
    if w(at + 1, "CONCURRENTLY") {
        return None;
    }
    let end = t.get(at)?.span.end;
    Some((Span::new(end, end), " CONCURRENTLY".to_string()))
}

/// `ALTER TABLE t ADD CONSTRAINT c UNIQUE (cols);` → `CREATE UNIQUE INDEX CONCURRENTLY c ON t (cols);`
/// then `ALTER TABLE t ADD CONSTRAINT c UNIQUE USING INDEX c;`: the index is built without blocking
/// writes and the constraint takes it over at once. Only a single named `UNIQUE` with a plain column
/// list and nothing after it (a primary key would also set its columns NOT NULL, with a scan).
fn unique_using_index(text: &str, stmt: Span) -> Option<(Span, String)> {
    let t = sql::significant_tokens(text, stmt);
    let w = |i: usize, kw: &str| t.get(i).is_some_and(|tok| tok.is_word(text, kw));
    let kind = |i: usize| t.get(i).map(|tok| tok.kind);
    if !(w(0, "ALTER") && w(1, "TABLE")) {
        return None;
    }
    let mut i = 2;
    if w(i, "IF") && w(i + 1, "EXISTS") {
        return None;
    }
    if w(i, "ONLY") {
        i += 1;
    }
    let name_start = i;
    let add = (i..t.len()).find(|&k| w(k, "ADD"))?;
    let name_end = add.checked_sub(1).filter(|&e| e >= name_start)?;
    let named = w(add + 1, "CONSTRAINT")
        && matches!(
            kind(add + 2),
            Some(TokenKind::Word | TokenKind::QuotedIdent)
        );
    if !named || !w(add + 3, "UNIQUE") || kind(add + 4) != Some(TokenKind::LParen) {
        return None;
    }
    // `(col, …)` of plain names, then only the statement's end.
    let mut k = add + 5;
    loop {
        match kind(k)? {
            TokenKind::Word | TokenKind::QuotedIdent | TokenKind::Comma => k += 1,
            TokenKind::RParen => break,
            _ => return None,
        }
    }
    let close = k;
    match kind(close + 1) {
        None | Some(TokenKind::Semicolon) => {}
        _ => return None,
    }
    let table = Span::new(t[name_start].span.start, t[name_end].span.end).slice(text);
    let constraint = t[add + 2].span.slice(text);
    let columns = Span::new(t[add + 4].span.start, t[close].span.end).slice(text);
    let end = t.get(close + 1).map_or(t[close].span.end, |s| s.span.end);
    Some((
        Span::new(t.first()?.span.start, end),
        format!(
            "CREATE UNIQUE INDEX CONCURRENTLY {constraint} ON {table} {columns};\nALTER TABLE {table} ADD CONSTRAINT {constraint} UNIQUE USING INDEX {constraint};"
        ),
    ))
}

/// `DROP INDEX [IF EXISTS] name [RESTRICT]` → `DROP INDEX CONCURRENTLY …` (one index, no CASCADE:
/// PostgreSQL refuses both with CONCURRENTLY).
fn drop_concurrently(text: &str, stmt: Span) -> Option<(Span, String)> {
    let t = sql::significant_tokens(text, stmt);
    let w = |i: usize, kw: &str| t.get(i).is_some_and(|tok| tok.is_word(text, kw));
    if !(w(0, "DROP") && w(1, "INDEX")) || w(2, "CONCURRENTLY") {
        return None;
    }
    let several = t.iter().any(|tok| tok.kind == TokenKind::Comma);
    let cascade = t.iter().any(|tok| tok.is_word(text, "CASCADE"));
    if several || cascade {
        return None;
    }
    let end = t.get(1)?.span.end;
    Some((Span::new(end, end), " CONCURRENTLY".to_string()))
}

/// `REINDEX {INDEX | TABLE | SCHEMA | DATABASE} name` → `REINDEX … CONCURRENTLY name`
/// (PostgreSQL 12+). Not with an option list (it may set CONCURRENTLY itself) nor `SYSTEM`.
fn reindex_concurrently(text: &str, stmt: Span) -> Option<(Span, String)> {
    let t = sql::significant_tokens(text, stmt);
    let w = |i: usize, kw: &str| t.get(i).is_some_and(|tok| tok.is_word(text, kw));
    let kind = ["INDEX", "TABLE", "SCHEMA", "DATABASE"]
        .iter()
        .any(|k| w(1, k));
    if !w(0, "REINDEX") || !kind || w(2, "CONCURRENTLY") {
        return None;
    }
    let end = t.get(1)?.span.end;
    Some((Span::new(end, end), " CONCURRENTLY".to_string()))
}

/// `ALTER TABLE t ADD CONSTRAINT c FOREIGN KEY … ;` (or `CHECK (…)`), a single named action, →
/// the same with `NOT VALID`, then `ALTER TABLE t VALIDATE CONSTRAINT c;`. One edit from the end of
/// the action through the statement's `;`.
fn not_valid(text: &str, stmt: Span) -> Option<(Span, String)> {
    let t = sql::significant_tokens(text, stmt);
    let w = |i: usize, kw: &str| t.get(i).is_some_and(|tok| tok.is_word(text, kw));
    if !(w(0, "ALTER") && w(1, "TABLE")) {
        return None;
    }
    let mut i = 2;
    if w(i, "IF") && w(i + 1, "EXISTS") {
        i += 2;
    }
    if w(i, "ONLY") {
        i += 1;
    }
    let name_start = i;
    let add = (i..t.len()).find(|&k| w(k, "ADD"))?;
    let name_end = add.checked_sub(1).filter(|&e| e >= name_start)?;
    if !(w(add + 1, "CONSTRAINT")
        && matches!(
            t.get(add + 2).map(|tok| tok.kind),
            Some(TokenKind::Word | TokenKind::QuotedIdent)
        )
        && (w(add + 3, "FOREIGN") || w(add + 3, "CHECK")))
    {
        return None;
    }
    // One action: no comma at depth 0, and not already NOT VALID.
    let mut depth = 0usize;
    for (k, tok) in t.iter().enumerate() {
        match tok.kind {
            TokenKind::LParen => depth += 1,
            TokenKind::RParen => depth = depth.saturating_sub(1),
            TokenKind::Comma if depth == 0 => return None,
            TokenKind::Word if tok.is_word(text, "VALID") && w(k.wrapping_sub(1), "NOT") => {
                return None;
            }
            _ => {}
        }
    }
    let table = Span::new(t[name_start].span.start, t[name_end].span.end).slice(text);
    let constraint = t[add + 2].span.slice(text);
    let last = t.iter().rposition(|tok| tok.kind != TokenKind::Semicolon)?;
    let semicolon = t
        .get(last + 1)
        .filter(|tok| tok.kind == TokenKind::Semicolon);
    let from = t[last].span.end;
    let to = semicolon.map_or(from, |s| s.span.end);
    let between = text.get(from..to)?;
    let between = if semicolon.is_some() { between } else { ";" };
    Some((
        Span::new(from, to),
        format!(" NOT VALID{between}\nALTER TABLE {table} VALIDATE CONSTRAINT {constraint};"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(text: &str, edit: Option<(Span, String)>) -> Option<String> {
        let (span, replacement) = edit?;
        let mut out = text.to_string();
        out.replace_range(span.start..span.end, &replacement);
        Some(out)
    }

    #[test]
    fn create_index_gains_concurrently() {
        let text = "CREATE UNIQUE INDEX IF NOT EXISTS i ON t (a);";
        assert_eq!(
            apply(text, concurrently(text, Span::new(0, text.len()))).as_deref(),
            Some("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);")
        );
        let done = "CREATE INDEX CONCURRENTLY i ON t (a);";
        assert!(concurrently(done, Span::new(0, done.len())).is_none());
    }

    #[test]
    fn drop_index_and_reindex_gain_concurrently() {
        let whole = |t: &str| Span::new(0, t.len());
        let drop = "DROP INDEX IF EXISTS i;";
        assert_eq!(
            apply(drop, drop_concurrently(drop, whole(drop))).as_deref(),
            Some("DROP INDEX CONCURRENTLY IF EXISTS i;")
        );
        for no in [
            "DROP INDEX a, b;",
            "DROP INDEX a CASCADE;",
            "DROP INDEX CONCURRENTLY a;",
        ] {
            assert!(drop_concurrently(no, whole(no)).is_none(), "{no}");
        }
        let reindex = "REINDEX TABLE accounts;";
        assert_eq!(
            apply(reindex, reindex_concurrently(reindex, whole(reindex))).as_deref(),
            Some("REINDEX TABLE CONCURRENTLY accounts;")
        );
        for no in [
            "REINDEX (CONCURRENTLY false) TABLE accounts;",
            "REINDEX SYSTEM db;",
            "REINDEX INDEX CONCURRENTLY i;",
        ] {
            assert!(reindex_concurrently(no, whole(no)).is_none(), "{no}");
        }
    }

    #[test]
    fn a_unique_constraint_takes_over_a_concurrently_built_index() {
        let text = "ALTER TABLE public.accounts ADD CONSTRAINT accounts_email_key UNIQUE (email, team_id);";
        assert_eq!(
            apply(text, unique_using_index(text, Span::new(0, text.len()))).as_deref(),
            Some(
                "CREATE UNIQUE INDEX CONCURRENTLY accounts_email_key ON public.accounts (email, team_id);\nALTER TABLE public.accounts ADD CONSTRAINT accounts_email_key UNIQUE USING INDEX accounts_email_key;"
            )
        );
        for no in [
            "ALTER TABLE t ADD UNIQUE (a);",
            "ALTER TABLE t ADD CONSTRAINT k PRIMARY KEY (a);",
            "ALTER TABLE t ADD CONSTRAINT k UNIQUE (a) DEFERRABLE;",
            "ALTER TABLE t ADD CONSTRAINT k UNIQUE (lower(a));",
            "ALTER TABLE t ADD CONSTRAINT k UNIQUE NULLS NOT DISTINCT (a);",
        ] {
            assert!(
                unique_using_index(no, Span::new(0, no.len())).is_none(),
                "{no}"
            );
        }
    }

    #[test]
    fn constraint_is_added_not_valid_then_validated() {
        let text = "ALTER TABLE public.orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;";
        assert_eq!(
            apply(text, not_valid(text, Span::new(0, text.len()))).as_deref(),
            Some(
                "ALTER TABLE public.orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE NOT VALID;\nALTER TABLE public.orders VALIDATE CONSTRAINT orders_user_fk;"
            )
        );
        let check = "ALTER TABLE t ADD CONSTRAINT \"Pos\" CHECK (a > 0)";
        assert_eq!(
            apply(check, not_valid(check, Span::new(0, check.len()))).as_deref(),
            Some(
                "ALTER TABLE t ADD CONSTRAINT \"Pos\" CHECK (a > 0) NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT \"Pos\";"
            )
        );
    }

    #[test]
    fn unnamed_multi_action_and_already_not_valid_constraints_get_no_fix() {
        for text in [
            "ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES u (id);",
            "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0), ADD CONSTRAINT d CHECK (b > 0);",
            "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;",
            "ALTER TABLE t ALTER COLUMN a SET NOT NULL;",
        ] {
            assert!(
                not_valid(text, Span::new(0, text.len())).is_none(),
                "{text}"
            );
        }
    }
}
