//! `pgrehearse-ignore` comments.
//!
//! ```sql
//! -- pgrehearse-ignore: drop-column, rename the column has been unused since v2.3
//! ALTER TABLE users DROP COLUMN legacy_id;
//!
//! ALTER TABLE users RENAME TO accounts; -- pgrehearse-ignore: rename reader views updated first
//! ```
//!
//! - A comment on a line of its own suppresses the listed rules on the statement that follows it (in
//!   SQL files the whole statement, up to its `;`; in other files — Drizzle `schema.ts`, Prisma
//!   `schema.prisma` with `//` comments — the next line that is not a comment).
//! - A comment after code on the same line suppresses them on that statement (that line).
//! - `pgrehearse-ignore-file:` anywhere, or a `pgrehearse-ignore:` comment in the comment block at the
//!   top of the file that a blank line separates from the first statement, suppresses them in the
//!   whole file, including findings about the file as a whole.
//! - Rule ids are separated by commas; the words after the last id are the reason (kept for readers).
//!   In SQL files only real comments count, never text inside strings or dollar-quoted bodies.

use std::path::{Path, PathBuf};

use pgrehearse_sql::{self as sql, Span, TokenKind};

use super::Coverage;
use crate::model::{Evidence, Finding};
use crate::registry;

const MARKER: &str = "pgrehearse-ignore";

/// One suppression comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppression {
    pub file: PathBuf,
    /// The comment itself.
    pub comment: Span,
    pub rules: Vec<String>,
    pub reason: String,
    /// The part of the file it covers; `None` for the whole file.
    pub scope: Option<Span>,
}

/// Every suppression comment in every source file.
pub fn collect(sources: &crate::model::Sources) -> Vec<Suppression> {
    let mut out = Vec::new();
    for (path, text) in sources.iter() {
        if !text.contains(MARKER) {
            continue;
        }
        if is_sql(path) {
            out.extend(in_sql(path, text));
        } else {
            out.extend(in_other(path, text));
        }
    }
    out
}

fn is_sql(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("sql"))
}

/// The ids and reason of a comment body (the text after `--`, `//` or `#`), and whether it is a
/// whole-file suppression; `None` when the comment is not a suppression.
fn parse_body(body: &str) -> Option<(Vec<String>, String, bool)> {
    let body = body.trim_start();
    let rest = body.strip_prefix(MARKER)?;
    let (rest, whole_file) = match rest.strip_prefix("-file") {
        Some(r) => (r, true),
        None => (rest, false),
    };
    // `pgrehearse-ignore:` or `pgrehearse-ignore <ids>`; anything else (`pgrehearse-ignored`) is prose.
    let rest = match rest.strip_prefix(':') {
        Some(r) => r,
        None if rest.starts_with(char::is_whitespace) => rest,
        None => return None,
    };
    let mut ids = Vec::new();
    let mut rest = rest.trim_start();
    loop {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        ids.push(rest[..end].to_string());
        let after = rest[end..].trim_start();
        match after.strip_prefix(',') {
            Some(more) => rest = more.trim_start(),
            None => {
                rest = after;
                break;
            }
        }
    }
    Some((ids, rest.trim().to_string(), whole_file))
}

fn in_sql(path: &Path, text: &str) -> Vec<Suppression> {
    let pieces = sql::split(text);
    let first_code = pieces.iter().find(|p| !p.is_empty()).map(|p| p.code);
    let mut out = Vec::new();
    for piece in &pieces {
        for token in sql::Lexer::with_span(text, piece.span) {
            if token.kind != TokenKind::LineComment {
                continue;
            }
            let body = token.text(text).trim_start_matches('-');
            let Some((ids, reason, explicit_file)) = parse_body(body) else {
                continue;
            };
            let line_start = text[..token.span.start]
                .rfind(['\n', '\r'])
                .map_or(0, |i| i + 1);
            let trailing = !text[line_start..token.span.start].trim().is_empty();
            let scope = if explicit_file {
                None
            } else if trailing {
                // After code on the same line: the statement that line belongs to.
                statement_at(&pieces, line_start)
            } else if !piece.is_empty() && token.span.start < piece.code.start {
                // Above a statement: that statement, unless it opens the file and a blank line
                // separates it from the statement.
                let gap = &text[token.span.end..piece.code.start];
                let heads_file = Some(piece.code) == first_code && blank_line(gap);
                (!heads_file).then_some(piece.code)
            } else if piece.is_empty() && first_code.is_none() {
                None
            } else {
                // Inside a statement (e.g. above one column of a CREATE TABLE): that statement.
                Some(if piece.is_empty() {
                    token.span
                } else {
                    piece.code
                })
            };
            out.push(Suppression {
                file: path.to_path_buf(),
                comment: token.span,
                rules: ids,
                reason,
                scope,
            });
        }
    }
    out
}

/// The code span of the first statement that ends at or after byte `at` (the statement a trailing
/// comment's line belongs to).
fn statement_at(pieces: &[sql::Statement], at: usize) -> Option<Span> {
    pieces
        .iter()
        .find(|p| !p.is_empty() && p.code.end >= at)
        .map(|p| p.code)
        .or(Some(Span::new(at, at)))
}

/// Whether `gap` (text between a comment and the next statement) holds a blank line.
fn blank_line(gap: &str) -> bool {
    let segments: Vec<&str> = gap.split('\n').collect();
    segments.len() > 2
        && segments[1..segments.len() - 1]
            .iter()
            .any(|line| line.trim().is_empty())
}

/// Line-oriented files (TypeScript, Prisma, YAML): `//` and `#` comments.
fn in_other(path: &Path, text: &str) -> Vec<Suppression> {
    let mut lines: Vec<(usize, &str)> = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        lines.push((offset, line));
        offset += line.len();
    }
    let first_code = lines
        .iter()
        .position(|(_, l)| !l.trim().is_empty() && comment_body(l).is_none_or(|(pre, _)| !pre));
    let mut out = Vec::new();
    for (i, (start, line)) in lines.iter().enumerate() {
        let Some((code_before, body_at)) = comment_body(line) else {
            continue;
        };
        let Some((ids, reason, explicit_file)) = parse_body(&line[body_at..]) else {
            continue;
        };
        let comment = Span::new(
            start + body_at,
            start + line.trim_end_matches(['\n', '\r']).len(),
        );
        let line_span =
            |(s, l): (usize, &str)| Span::new(s, s + l.trim_end_matches(['\n', '\r']).len());
        let scope = if explicit_file {
            None
        } else if code_before {
            Some(line_span((*start, line)))
        } else {
            let next = lines[i + 1..]
                .iter()
                .position(|(_, l)| {
                    !l.trim().is_empty() && comment_body(l).is_none_or(|(pre, _)| pre)
                })
                .map(|j| i + 1 + j);
            match next {
                Some(j)
                    if Some(j) == first_code
                        && lines[i + 1..j].iter().any(|(_, l)| l.trim().is_empty()) =>
                {
                    None
                }
                Some(j) => Some(line_span(lines[j])),
                None => None,
            }
        };
        out.push(Suppression {
            file: path.to_path_buf(),
            comment,
            rules: ids,
            reason,
            scope,
        });
    }
    out
}

/// For a line holding a `//` or `#` comment that may be a suppression: whether code precedes the
/// comment, and the byte offset of the comment's body within the line.
fn comment_body(line: &str) -> Option<(bool, usize)> {
    let at = line.find(MARKER)?;
    let before = &line[..at];
    let trimmed = before.trim_end();
    let opener = ["//", "#", "--"]
        .into_iter()
        .find(|o| trimmed.ends_with(o))?;
    let code = trimmed[..trimmed.len() - opener.len()].trim();
    Some((!code.is_empty(), at))
}

impl Suppression {
    fn covers(&self, finding: &Finding, id: &str) -> bool {
        let Some(location) = &finding.location else {
            return false;
        };
        if location.file != self.file || finding.rule != id {
            return false;
        }
        match (self.scope, location.span) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(scope), Some(span)) => span.start >= scope.start && span.start <= scope.end,
        }
    }
}

/// Drops suppressed findings. Returns the kept findings, the notices about suppressions that are
/// unused or name no rule, and the number suppressed.
pub fn apply(
    findings: Vec<Finding>,
    suppressions: &[Suppression],
    coverage: &Coverage,
) -> (Vec<Finding>, Vec<Finding>, usize) {
    let mut used = vec![Vec::new(); suppressions.len()];
    for (s, u) in suppressions.iter().zip(used.iter_mut()) {
        *u = vec![false; s.rules.len()];
    }
    let mut kept = Vec::with_capacity(findings.len());
    let mut suppressed = 0;
    for finding in findings {
        let mut hit = false;
        for (si, s) in suppressions.iter().enumerate() {
            for (ri, id) in s.rules.iter().enumerate() {
                if s.covers(&finding, id) {
                    used[si][ri] = true;
                    hit = true;
                }
            }
        }
        if hit {
            suppressed += 1;
        } else {
            kept.push(finding);
        }
    }
    let mut notices = Vec::new();
    for (s, u) in suppressions.iter().zip(&used) {
        if s.rules.is_empty() {
            notices.push(
                registry::finding(
                    "unused-suppression",
                    "this pgrehearse-ignore comment names no rule",
                )
                .help("write the rule ids after the colon: `-- pgrehearse-ignore: drop-column <reason>`")
                .at(&s.file, Some(s.comment)),
            );
        }
        for (id, used) in s.rules.iter().zip(u) {
            if *used {
                continue;
            }
            let notice = if registry::rule(id).is_none() {
                let hint = registry::suggest(id)
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                registry::finding(
                    "unused-suppression",
                    format!("`{id}` is not a pgrehearse rule id{hint}"),
                )
                .help("`pgrehearse rules` lists the rule ids")
            } else if coverage.observes(id) {
                registry::finding(
                    "unused-suppression",
                    format!(
                        "the suppression of `{id}` is unused: no `{id}` finding {}",
                        if s.scope.is_some() {
                            "on this statement"
                        } else {
                            "in this file"
                        }
                    ),
                )
                .help("remove it, or move it onto the statement that has the finding")
            } else {
                continue;
            };
            notices.push(
                notice.at(&s.file, Some(s.comment)).evidence(Evidence {
                    extra: [("suppressed-rule".to_string(), id.clone())]
                        .into_iter()
                        .collect(),
                    ..Evidence::default()
                }),
            );
        }
    }
    (kept, notices, suppressed)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::Sources;

    fn sources(path: &str, text: &str) -> Sources {
        let mut s = Sources::new();
        s.insert(path, Arc::from(text));
        s
    }

    fn at(path: &str, text: &str, needle: &str, rule: &str) -> Finding {
        let start = text.find(needle).expect("needle in text");
        registry::finding(rule, "x").at(path, Some(Span::new(start, start + needle.len())))
    }

    fn full_coverage() -> Coverage {
        Coverage {
            replayed_fully: true,
            lock_trace: true,
            fault_injection: true,
            drift: true,
            live: true,
            off: Vec::new(),
        }
    }

    #[test]
    fn comment_bodies_parse_ids_and_reason() {
        assert_eq!(
            parse_body(" pgrehearse-ignore: drop-column, rename  unused since v2"),
            Some((
                vec!["drop-column".into(), "rename".into()],
                "unused since v2".into(),
                false
            ))
        );
        assert_eq!(
            parse_body("pgrehearse-ignore-file: mysql-syntax"),
            Some((vec!["mysql-syntax".into()], String::new(), true))
        );
        assert_eq!(
            parse_body("pgrehearse-ignore drop-table legacy"),
            Some((vec!["drop-table".into()], "legacy".into(), false))
        );
        assert_eq!(parse_body("pgrehearse-ignored by design"), None);
        assert_eq!(parse_body("just a comment"), None);
    }

    #[test]
    fn above_same_line_and_file_scopes_in_sql() {
        let text = "-- header: pgrehearse-ignore: not-a-suppression\n\
                    CREATE TABLE a (id int);\n\
                    -- pgrehearse-ignore: drop-column legacy\n\
                    ALTER TABLE a\n  DROP COLUMN x;\n\
                    ALTER TABLE a DROP COLUMN y; -- pgrehearse-ignore: drop-column also legacy\n\
                    ALTER TABLE a DROP COLUMN z;\n\
                    SELECT '-- pgrehearse-ignore: drop-column';\n";
        let found = collect(&sources("m.sql", text));
        assert_eq!(found.len(), 2, "{found:?}");
        let findings = vec![
            at("m.sql", text, "DROP COLUMN x", "drop-column"),
            at("m.sql", text, "DROP COLUMN y", "drop-column"),
            at("m.sql", text, "DROP COLUMN z", "drop-column"),
        ];
        let (kept, notices, suppressed) = apply(findings, &found, &full_coverage());
        assert_eq!(suppressed, 2);
        assert_eq!(kept.len(), 1);
        assert_eq!(
            kept[0]
                .location
                .as_ref()
                .and_then(|l| l.span)
                .map(|s| s.slice(text)),
            Some("DROP COLUMN z")
        );
        assert!(notices.is_empty(), "{notices:?}");
    }

    #[test]
    fn top_of_file_block_separated_by_a_blank_line_covers_the_file() {
        let text = "-- pgrehearse-ignore: drop-table whole file is a cleanup\n\n\
                    DROP TABLE a;\nDROP TABLE b;\n";
        let found = collect(&sources("m.sql", text));
        assert_eq!(found[0].scope, None);
        let findings = vec![
            at("m.sql", text, "DROP TABLE a", "drop-table"),
            at("m.sql", text, "DROP TABLE b", "drop-table"),
        ];
        let (kept, _, suppressed) = apply(findings, &found, &full_coverage());
        assert!(kept.is_empty());
        assert_eq!(suppressed, 2);
        // Directly above the first statement it covers that statement only.
        let text = "-- pgrehearse-ignore: drop-table\nDROP TABLE a;\nDROP TABLE b;\n";
        let found = collect(&sources("m.sql", text));
        let findings = vec![
            at("m.sql", text, "DROP TABLE a", "drop-table"),
            at("m.sql", text, "DROP TABLE b", "drop-table"),
        ];
        let (kept, _, _) = apply(findings, &found, &full_coverage());
        assert_eq!(kept.len(), 1);
    }

    #[test]
    fn unused_and_unknown_ids_are_notices_unless_the_rule_was_not_observed() {
        let text = "-- pgrehearse-ignore: drop-colum, drop-column\nSELECT 1;\n";
        let found = collect(&sources("m.sql", text));
        let (_, notices, _) = apply(vec![], &found, &full_coverage());
        let messages: Vec<&str> = notices.iter().map(|n| n.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "`drop-colum` is not a pgrehearse rule id (did you mean `drop-column`?)",
                "the suppression of `drop-column` is unused: no `drop-column` finding on this statement",
            ]
        );
        // `pgrehearse lint` cannot observe lock rules: no notice for them.
        let (_, notices, _) = apply(vec![], &found, &Coverage::static_only());
        assert_eq!(notices.len(), 1);
    }

    #[test]
    fn typescript_and_prisma_comments_cover_the_next_line() {
        let text = "export const users = pgTable('users', {\n  // pgrehearse-ignore: schema-drift kept for the importer\n  legacy: text('legacy'),\n  other: text('other'),\n});\n";
        let found = collect(&sources("schema.ts", text));
        assert_eq!(found.len(), 1);
        let findings = vec![
            at("schema.ts", text, "legacy: text", "schema-drift"),
            at("schema.ts", text, "other: text", "schema-drift"),
        ];
        let (kept, _, suppressed) = apply(findings, &found, &full_coverage());
        assert_eq!(suppressed, 1);
        assert_eq!(kept.len(), 1);
        let text =
            "model User {\n  id Int @id\n  name String // pgrehearse-ignore: schema-drift\n}\n";
        let found = collect(&sources("schema.prisma", text));
        let (kept, _, _) = apply(
            vec![at("schema.prisma", text, "name String", "schema-drift")],
            &found,
            &full_coverage(),
        );
        assert!(kept.is_empty());
    }

    #[test]
    fn never_panics_on_odd_comments() {
        for text in [
            "-- pgrehearse-ignore",
            "-- pgrehearse-ignore:",
            "--pgrehearse-ignore:,,,",
            "SELECT 1 -- pgrehearse-ignore: x",
            "// pgrehearse-ignore: é",
            "# pgrehearse-ignore-file",
            "\r-- pgrehearse-ignore: a\r\rSELECT 1;",
        ] {
            let _ = collect(&sources("a.sql", text));
            let _ = collect(&sources("a.ts", text));
        }
    }
}
