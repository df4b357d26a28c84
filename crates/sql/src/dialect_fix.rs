//! The PostgreSQL rewrite of a [`DialectHit`](crate::DialectHit), for the constructs that have an
//! exact equivalent: quoted identifiers, `AUTO_INCREMENT` / `AUTOINCREMENT` / `IDENTITY(s, n)` as an
//! identity column, MySQL and T-SQL types, MySQL table options that PostgreSQL has no use for, and
//! `GETDATE()`.
//!
//! A rewrite is one edit ([`DialectFix`]); when it must also touch another part of the same column
//! definition (an `AUTO_INCREMENT` column's `DEFAULT`, a `TINYINT(1)` column's `DEFAULT 0`), the edit
//! covers the text from the first change to the last, with the text in between kept as written.
//! A T-SQL `GO` line becomes the `;` that ends the statement before it (or goes, after a `;`).
//! Constructs without an exact equivalent (`UNSIGNED`, inline `ENUM`, `ON UPDATE`, comments, inline
//! indexes, `DELIMITER`) get none.

use crate::lex::{Token, TokenKind};
use crate::span::Span;

/// A machine-applicable rewrite of one construct: replace `span` with `replacement`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialectFix {
    pub span: Span,
    pub replacement: String,
    /// The rewrite means exactly what the construct meant. `false` when it may not: an identifier
    /// with capital letters (quoted in PostgreSQL, it keeps its case, so unquoted references to it
    /// stop matching), a collation dropped with the table option, an identity column on a type that is
    /// not an integer.
    pub safe: bool,
}

/// Where the construct stands, as the scanner saw it.
pub(crate) struct Context<'a> {
    pub text: &'a str,
    /// The statement's significant tokens.
    pub t: &'a [Token],
    /// The statement is a `CREATE TABLE`.
    pub create_table: bool,
}

/// Words that can be the type of an identity column (before dialect rewrites).
const INTEGER_TYPES: &[&str] = &[
    "INT",
    "INTEGER",
    "BIGINT",
    "SMALLINT",
    "TINYINT",
    "MEDIUMINT",
    "INT2",
    "INT4",
    "INT8",
];

impl Context<'_> {
    fn tx(&self, i: usize) -> &str {
        self.t.get(i).map_or("", |t| t.text(self.text))
    }

    fn is(&self, i: usize, kind: TokenKind) -> bool {
        self.t.get(i).is_some_and(|t| t.kind == kind)
    }

    fn w(&self, i: usize, kw: &str) -> bool {
        self.t.get(i).is_some_and(|t| t.is_word(self.text, kw))
    }

    /// The last token of the identifier starting at `k` (the `]` of a `[bracketed name]`).
    fn ident_end(&self, k: usize) -> usize {
        if !self.is(k, TokenKind::LBracket) {
            return k;
        }
        (k + 1..self.t.len())
            .find(|&e| self.is(e, TokenKind::RBracket))
            .unwrap_or(k)
    }

    /// Index of the token starting at byte `start`.
    fn at(&self, start: usize) -> Option<usize> {
        let i = self.t.partition_point(|t| t.span.start < start);
        (self.t.get(i)?.span.start == start).then_some(i)
    }

    /// Index of the token ending at byte `end`.
    fn ending(&self, end: usize) -> Option<usize> {
        let i = self.t.partition_point(|t| t.span.end < end);
        (self.t.get(i)?.span.end == end).then_some(i)
    }

    /// The column definition around token `i`: indices of its first and last token (bounded by the
    /// `(` or `,` before it and the `,` or `)` after it, at its own nesting depth).
    fn column_bounds(&self, i: usize) -> Option<(usize, usize)> {
        let mut depth = 0usize;
        let mut first = None;
        for k in (0..i).rev() {
            match self.t[k].kind {
                TokenKind::RParen => depth += 1,
                TokenKind::LParen if depth == 0 => {
                    first = Some(k + 1);
                    break;
                }
                TokenKind::LParen => depth -= 1,
                TokenKind::Comma if depth == 0 => {
                    first = Some(k + 1);
                    break;
                }
                _ => {}
            }
        }
        // Outside a column list (`ALTER TABLE t ADD COLUMN c ...`): the statement.
        let first = first.unwrap_or(0);
        let mut depth = 0usize;
        for k in i..self.t.len() {
            match self.t[k].kind {
                TokenKind::LParen => depth += 1,
                TokenKind::RParen if depth == 0 => return Some((first, k.checked_sub(1)?)),
                TokenKind::RParen => depth -= 1,
                TokenKind::Comma | TokenKind::Semicolon if depth == 0 => {
                    return Some((first, k.checked_sub(1)?));
                }
                _ => {}
            }
        }
        Some((first, self.t.len().checked_sub(1)?))
    }

    /// The span of tokens `i..=j` together with the whitespace right before `i` (so that removing
    /// it leaves no double space), and through a `,` right after `j` when `comma` is set.
    fn removal(&self, i: usize, j: usize, comma: bool) -> Span {
        let start = self.t[i].span.start;
        let floor = i.checked_sub(1).map_or(0, |p| self.t[p].span.end);
        let bytes = self.text.as_bytes();
        let mut s = start;
        while s > floor && matches!(bytes[s - 1], b' ' | b'\t') {
            s -= 1;
        }
        let end = if comma && self.is(j + 1, TokenKind::Comma) {
            self.t[j + 1].span.end
        } else {
            self.t[j].span.end
        };
        Span::new(s, end)
    }
}

/// Several edits of one statement merged into one: the span from the first to the last, with the
/// text between them kept. Edits must not overlap.
fn merge(text: &str, mut edits: Vec<(Span, String)>) -> Option<(Span, String)> {
    edits.sort_by_key(|(s, _)| (s.start, s.end));
    let start = edits.first()?.0.start;
    let end = edits.last()?.0.end;
    let mut out = String::new();
    let mut at = start;
    for (span, replacement) in edits {
        if span.start < at {
            return None;
        }
        out.push_str(text.get(at..span.start)?);
        out.push_str(&replacement);
        at = span.end;
    }
    Some((Span::new(start, end), out))
}

/// A quoted PostgreSQL identifier holding `name`, and whether quoting it keeps every reference
/// matching (no capital letters: unquoted references fold to lower case).
fn quoted(name: &str) -> (String, bool) {
    let safe = !name.is_empty() && !name.chars().any(char::is_uppercase);
    (format!("\"{}\"", name.replace('"', "\"\"")), safe)
}

/// T-SQL's `[int]`, `[nvarchar]`, `[datetime]` in type position (right after a column name): the
/// PostgreSQL type, unquoted (a quoted `"int"` names no type).
fn bracketed_type(cx: &Context<'_>, i: usize, name: &str) -> Option<&'static str> {
    let p = i.checked_sub(1)?;
    let after_name = cx.is(p, TokenKind::RBracket)
        || (cx.is(p, TokenKind::Word)
            && p.checked_sub(1)
                .is_some_and(|q| cx.is(q, TokenKind::LParen) || cx.is(q, TokenKind::Comma)));
    if !after_name {
        return None;
    }
    Some(match name.to_ascii_lowercase().as_str() {
        "int" | "integer" => "integer",
        "bigint" => "bigint",
        "smallint" | "tinyint" => "smallint",
        "bit" => "boolean",
        "varchar" | "nvarchar" => "varchar",
        "char" | "nchar" => "char",
        "text" | "ntext" => "text",
        "date" => "date",
        "time" => "time",
        "datetime" | "datetime2" | "smalldatetime" => "timestamp",
        "datetimeoffset" => "timestamptz",
        "real" => "real",
        "float" => "double precision",
        "decimal" | "numeric" => "numeric",
        "uniqueidentifier" => "uuid",
        "varbinary" | "binary" | "image" => "bytea",
        _ => return None,
    })
}

/// The fix for a hit of `construct` at `span`, when it has an exact PostgreSQL equivalent.
pub(crate) fn fix(cx: &Context<'_>, construct: &str, span: Span) -> Option<DialectFix> {
    let text = cx.text;
    let i = cx.at(span.start)?;
    let j = cx.ending(span.end).filter(|&j| j >= i)?;
    let simple = |replacement: &str| {
        Some(DialectFix {
            span,
            replacement: replacement.to_string(),
            safe: true,
        })
    };
    match construct {
        "backtick-identifier" => {
            let raw = span.slice(text);
            let inner = raw.strip_prefix('`')?.strip_suffix('`')?;
            let (replacement, safe) = quoted(&inner.replace("``", "`"));
            Some(DialectFix {
                span,
                replacement,
                safe,
            })
        }
        "bracket-identifier" => {
            let inner = text.get(cx.t[i].span.end..cx.t[j].span.start)?;
            // Only words and blanks inside (no comment between the brackets).
            if !inner
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | ' '))
            {
                return None;
            }
            let name = inner.trim();
            if let Some(ty) = bracketed_type(cx, i, name) {
                return simple(ty);
            }
            let (replacement, safe) = quoted(name);
            Some(DialectFix {
                span,
                replacement,
                safe,
            })
        }
        "auto-increment" | "autoincrement" => identity(cx, i, span, None),
        "identity-seed" => {
            // `IDENTITY(seed, step)`: numbers with optional signs.
            let args: String = cx.t[i + 1..j]
                .iter()
                .filter(|t| t.kind != TokenKind::LParen)
                .map(|t| t.text(text))
                .collect();
            let parts: Vec<&str> = args.split(',').collect();
            let options = match parts.as_slice() {
                [seed, step] if (*seed, *step) == ("1", "1") => None,
                [seed, step] => Some(format!("START WITH {seed} INCREMENT BY {step}")),
                [seed] if *seed == "1" => None,
                [seed] => Some(format!("START WITH {seed}")),
                _ => return None,
            };
            identity(cx, i, span, options)
        }
        "auto-increment-option" | "engine-option" | "charset-option" | "collate-option" => {
            if !cx.create_table {
                // An `ALTER TABLE` left with no action would not parse either.
                return None;
            }
            Some(DialectFix {
                span: cx.removal(i, j, true),
                replacement: String::new(),
                // A `_ci` collation makes comparisons case-insensitive: PostgreSQL's default does not.
                safe: construct != "collate-option",
            })
        }
        "tinyint" => {
            let boolean = j == i + 3 && cx.tx(i + 2) == "1";
            if !boolean {
                return simple("smallint");
            }
            // `TINYINT(1) ... DEFAULT 0` becomes `boolean ... DEFAULT false`.
            let mut edits = vec![(span, "boolean".to_string())];
            if let Some((_, last)) = cx.column_bounds(i) {
                for k in j + 1..=last {
                    if cx.w(k, "DEFAULT") {
                        let value = cx.tx(k + 1).trim_matches('\'');
                        let value = match value {
                            "0" => "false",
                            "1" => "true",
                            _ => continue,
                        };
                        if k < last
                            && (cx.is(k + 1, TokenKind::Number) || cx.is(k + 1, TokenKind::String))
                        {
                            edits.push((cx.t[k + 1].span, value.to_string()));
                        }
                    }
                }
            }
            let (span, replacement) = merge(text, edits)?;
            Some(DialectFix {
                span,
                replacement,
                safe: true,
            })
        }
        "go-batch-separator" => {
            // The `GO` line ends the statement before it: after a `;` it goes, else it becomes `;`.
            let last = if cx.is(j + 1, TokenKind::Semicolon) {
                j + 1
            } else {
                j
            };
            let after_semicolon = i == 0 || cx.is(i - 1, TokenKind::Semicolon);
            if !after_semicolon {
                return Some(DialectFix {
                    span: Span::new(span.start, cx.t[last].span.end),
                    replacement: ";".to_string(),
                    safe: true,
                });
            }
            let bytes = text.as_bytes();
            let start = bytes[..span.start]
                .iter()
                .rposition(|&b| b == b'\n' || b == b'\r')
                .map_or(0, |p| p + 1);
            let mut end = cx.t[last].span.end;
            while end < bytes.len() && matches!(bytes[end], b' ' | b'\t') {
                end += 1;
            }
            if bytes.get(end) == Some(&b'\r') {
                end += 1;
            }
            if bytes.get(end) == Some(&b'\n') {
                end += 1;
            }
            Some(DialectFix {
                span: Span::new(start, end),
                replacement: String::new(),
                safe: true,
            })
        }
        "mediumint" => simple("integer"),
        "datetime" | "datetime2" => {
            let precision = (j == i + 3)
                .then(|| cx.tx(i + 2).parse::<u32>().ok())
                .flatten();
            match precision {
                Some(p) => simple(&format!("timestamp({})", p.min(6))),
                None if j == i => simple("timestamp"),
                None => None,
            }
        }
        "int-display-width" => simple(cx.tx(i)),
        "text-type" | "ntext" | "varchar-max" => simple("text"),
        "blob-type" => simple("bytea"),
        "uniqueidentifier" => simple("uuid"),
        "nvarchar" => {
            if j == i {
                simple("varchar")
            } else if j == i + 3 && cx.w(i + 2, "MAX") {
                simple("text")
            } else if j == i + 3 && cx.is(i + 2, TokenKind::Number) {
                simple(&format!("varchar({})", cx.tx(i + 2)))
            } else {
                None
            }
        }
        "getdate" => {
            if cx.w(i, "GETUTCDATE") {
                simple("(now() AT TIME ZONE 'UTC')")
            } else {
                simple("now()")
            }
        }
        _ => None,
    }
}

/// `AUTO_INCREMENT`, `AUTOINCREMENT` or `IDENTITY(s, n)` at token `i` as an identity column. The
/// column's `DEFAULT` and a lone `NULL` go (PostgreSQL rejects them on an identity column); a MySQL
/// `AUTO_INCREMENT=n` table option of the same `CREATE TABLE` becomes the identity's `START WITH n`.
fn identity(
    cx: &Context<'_>,
    i: usize,
    span: Span,
    mut options: Option<String>,
) -> Option<DialectFix> {
    let (first, last) = cx.column_bounds(i)?;
    let mut edits = Vec::new();
    let mut k = first + 1;
    while k <= last {
        if k != i && cx.w(k, "DEFAULT") && k < last {
            // `DEFAULT value` with a one-token value (anything longer is left alone: not exact).
            let value_end = k + 1;
            if cx.is(value_end + 1, TokenKind::LParen) {
                return None;
            }
            edits.push((cx.removal(k, value_end, false), String::new()));
            k = value_end + 1;
            continue;
        }
        if cx.w(k, "NULL") && !cx.w(k.wrapping_sub(1), "NOT") && !cx.w(k.wrapping_sub(1), "DEFAULT")
        {
            edits.push((cx.removal(k, k, false), String::new()));
        }
        k += 1;
    }
    if options.is_none() && cx.t[i].is_word(cx.text, "AUTO_INCREMENT") {
        // The table option `AUTO_INCREMENT = n` at depth 0 of the statement.
        let mut depth = 0usize;
        for (k, t) in cx.t.iter().enumerate() {
            match t.kind {
                TokenKind::LParen => depth += 1,
                TokenKind::RParen => depth = depth.saturating_sub(1),
                TokenKind::Word
                    if depth == 0
                        && t.is_word(cx.text, "AUTO_INCREMENT")
                        && cx.tx(k + 1) == "="
                        && cx.is(k + 2, TokenKind::Number)
                        && cx.tx(k + 2) != "1" =>
                {
                    options = Some(format!("START WITH {}", cx.tx(k + 2)));
                }
                _ => {}
            }
        }
    }
    let replacement = match options {
        Some(o) => format!("GENERATED BY DEFAULT AS IDENTITY ({o})"),
        None => "GENERATED BY DEFAULT AS IDENTITY".to_string(),
    };
    edits.push((span, replacement));
    // The column's type: the token after its name (either may be a T-SQL `[bracketed]` word).
    let mut ty = cx.ident_end(first) + 1;
    if cx.is(ty, TokenKind::LBracket) {
        ty += 1;
    }
    let integer = INTEGER_TYPES.iter().any(|name| cx.w(ty, name));
    let (span, replacement) = merge(cx.text, edits)?;
    Some(DialectFix {
        span,
        replacement,
        safe: integer,
    })
}
