//! Statement splitting with exact spans: [`split`] (what `psql -f` does), [`split_drizzle_breakpoints`]
//! (what drizzle-kit does), and the small token queries built on them ([`significant_tokens`],
//! [`leading_keywords`]).
//!
//! [`split`] replicates `psqlscan.l`: a `;` ends a statement only outside quotes, comments and
//! dollar-quoted bodies, at parenthesis depth 0, and outside a `BEGIN ... END` block of a statement
//! that began `CREATE [OR REPLACE] FUNCTION|PROCEDURE` (SQL-standard `BEGIN ATOMIC` bodies), where
//! `CASE ... END` nests. Like psql, `COPY ... FROM STDIN;` (and `\copy ... from stdin`) takes the
//! lines after it, through a line holding only `\.`, as raw data: they stay in that statement's
//! piece (see [`copy_data`]) and are never lexed as SQL.
//!
//! Known, deliberate differences from psql:
//! - A psql meta-command line (`\set`, `\i`, ...) is its own piece and ends the statement before it.
//!   psql would keep buffering the query across most meta-commands (only `\g` and friends send it),
//!   but a piece must be one contiguous span, and a meta-command in the middle of a statement in a
//!   migration file is a mistake worth surfacing anyway.
//! - `\;` (psql's "semicolon that does not send") is not special: the backslash is an operator byte
//!   and the `;` splits. psql would send both statements in one query string; the effect is the same
//!   except for implicit-transaction grouping.
//! - A backslash is a meta-command only when it is the first non-blank character of its line
//!   (psql also accepts one mid-line, e.g. `SELECT 1 \gset`); mid-line it is an operator byte. A
//!   meta line runs to the end of the line (psql's `\\` separator inside it is not recognised).
//! - Text after `COPY ... FROM STDIN;` on the same line belongs to the COPY piece; psql would run it
//!   after the copy data.
//! - psql variable interpolation (`:var`, `:'var'`) is not performed.
//! - Strings are lexed with `standard_conforming_strings = on`; a file that turns it off and relies on
//!   backslash escapes in plain `'...'` strings may split differently.

use crate::lex::{Lexer, Token, TokenKind};
use crate::span::Span;

/// One piece of a split file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// The exact piece: leading whitespace/comments before the statement, the statement, its
    /// terminating `;`. Concatenating every `Statement::span` of a split gives back the input exactly.
    pub span: Span,
    /// From the statement's first significant token through its terminating `;` (inclusive) or its
    /// last significant token when there is no `;` (end of input). Empty (`start == end == span.end`)
    /// for a piece that holds only whitespace/comments (e.g. text after the last `;`).
    /// For `COPY ... FROM STDIN` it also covers the data lines through `\.` ([`copy_data`]).
    pub code: Span,
}

impl Statement {
    /// True for a piece that holds only whitespace and comments.
    pub fn is_empty(&self) -> bool {
        self.code.is_empty()
    }
}

/// Split `text` like psql does for `psql -f`.
///
/// - Leading trivia (whitespace, comments) belongs to the following statement; trivia after the last
///   statement is a final piece with empty `code`.
/// - Empty input gives **zero** pieces; input holding only whitespace/comments gives exactly one
///   piece with empty `code`.
/// - A bare `;` (e.g. the second one in `;;`) is a piece whose `code` is that `;` (psql sends it as an
///   empty query).
/// - A statement without a terminating `;` at end of input ends at its last significant token.
/// - An unterminated quote/comment/dollar string is significant and runs to the end of input, so it
///   becomes (part of) the last statement's `code`.
/// - A psql meta line (`\...`) ends the statement before it (if any) and is a piece of its own, with
///   `code` spanning the meta-command.
/// - `COPY ... FROM STDIN;` / `\copy ... from stdin` pieces also hold the data lines that follow,
///   through the `\.` line (or end of input); [`copy_data`] returns that part.
/// - T-SQL `GO` lines are not separators (PostgreSQL has none).
pub fn split(text: &str) -> Vec<Statement> {
    split_impl(text)
}

fn split_impl(text: &str) -> Vec<Statement> {
    let mut s = Splitter::new(text.as_bytes());
    let mut lexer = Lexer::new(text);
    while let Some(tok) = lexer.next() {
        if let Some(resume) = s.push(tok) {
            // COPY ... FROM STDIN data was consumed raw; lex again after it.
            lexer = Lexer::with_span(text, Span::new(resume, text.len()));
        }
    }
    s.finish(text.len())
}

/// psql's scanner state that decides whether a `;` ends the statement.
struct Splitter<'a> {
    bytes: &'a [u8],
    out: Vec<Statement>,
    piece_start: usize,
    code_start: Option<usize>,
    last_sig_end: usize,
    paren_depth: u32,
    begin_depth: u32,
    /// psqlscan.l's `identifier_count` and `identifiers[4]`.
    identifier_count: usize,
    identifiers: [u8; 4],
    /// The statement's first significant token is the word `COPY`.
    copy: bool,
    /// The previous significant token was the word `FROM` at depth 0.
    after_from: bool,
    /// `FROM STDIN` seen at depth 0 (in a `COPY` statement).
    from_stdin: bool,
}

impl<'a> Splitter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Splitter {
            bytes,
            out: Vec::new(),
            piece_start: 0,
            code_start: None,
            last_sig_end: 0,
            paren_depth: 0,
            begin_depth: 0,
            identifier_count: 0,
            identifiers: [0; 4],
            copy: false,
            after_from: false,
            from_stdin: false,
        }
    }

    fn reset_statement(&mut self) {
        self.code_start = None;
        self.paren_depth = 0;
        self.begin_depth = 0;
        self.identifier_count = 0;
        self.copy = false;
        self.after_from = false;
        self.from_stdin = false;
    }

    /// Close the current piece at `end` with code `[code_start, end)`.
    fn emit(&mut self, code_start: usize, end: usize) {
        self.out.push(Statement {
            span: Span::new(self.piece_start, end),
            code: Span::new(code_start, end),
        });
        self.piece_start = end;
    }

    /// Feed one token. Returns a byte offset when the caller must restart lexing there (after the
    /// raw data lines of a `COPY ... FROM STDIN`).
    fn push(&mut self, tok: Token) -> Option<usize> {
        match tok.kind {
            TokenKind::Whitespace | TokenKind::LineComment | TokenKind::BlockComment => None,
            TokenKind::PsqlMeta => {
                if let Some(code_start) = self.code_start {
                    self.emit(code_start, self.last_sig_end);
                }
                let meta = self
                    .bytes
                    .get(tok.span.start..tok.span.end)
                    .unwrap_or_default();
                let data_end = if is_backslash_copy_from_stdin(meta) {
                    copy_data_end(self.bytes, tok.span.end)
                } else {
                    None
                };
                self.emit(tok.span.start, data_end.unwrap_or(tok.span.end));
                self.reset_statement();
                data_end
            }
            kind => {
                let first = self.code_start.is_none();
                let code_start = *self.code_start.get_or_insert(tok.span.start);
                self.last_sig_end = tok.span.end;
                let after_from = std::mem::take(&mut self.after_from);
                match kind {
                    TokenKind::Semicolon if self.paren_depth == 0 && self.begin_depth == 0 => {
                        let data_end = if self.copy && self.from_stdin {
                            copy_data_end(self.bytes, tok.span.end)
                        } else {
                            None
                        };
                        self.emit(code_start, data_end.unwrap_or(tok.span.end));
                        self.reset_statement();
                        return data_end;
                    }
                    TokenKind::LParen => self.paren_depth = self.paren_depth.saturating_add(1),
                    TokenKind::RParen => self.paren_depth = self.paren_depth.saturating_sub(1),
                    TokenKind::Word => {
                        let w = self
                            .bytes
                            .get(tok.span.start..tok.span.end)
                            .unwrap_or_default();
                        if first {
                            self.copy = w.eq_ignore_ascii_case(b"copy");
                        } else if self.copy && self.paren_depth == 0 {
                            if after_from && w.eq_ignore_ascii_case(b"stdin") {
                                self.from_stdin = true;
                            }
                            self.after_from = w.eq_ignore_ascii_case(b"from");
                        }
                        self.word(w);
                    }
                    _ => {}
                }
                None
            }
        }
    }

    /// psqlscan.l's `{identifier}` rule: track `CREATE [OR REPLACE] FUNCTION|PROCEDURE` and count
    /// `BEGIN` / `CASE` / `END` at parenthesis depth 0.
    fn word(&mut self, w: &[u8]) {
        if self.identifier_count == 0 {
            self.identifiers = [0; 4];
        }
        if self.identifier_count < self.identifiers.len()
            && ["create", "function", "procedure", "or", "replace"]
                .iter()
                .any(|k| w.eq_ignore_ascii_case(k.as_bytes()))
        {
            self.identifiers[self.identifier_count] = w.first().map_or(0, u8::to_ascii_lowercase);
        }
        self.identifier_count = self.identifier_count.saturating_add(1);

        let id = self.identifiers;
        let routine = id[0] == b'c'
            && (id[1] == b'f'
                || id[1] == b'p'
                || (id[1] == b'o' && id[2] == b'r' && (id[3] == b'f' || id[3] == b'p')));
        if routine && self.paren_depth == 0 {
            if w.eq_ignore_ascii_case(b"begin") {
                self.begin_depth = self.begin_depth.saturating_add(1);
            } else if w.eq_ignore_ascii_case(b"case") {
                // CASE also ends with END; only tracked inside a BEGIN.
                if self.begin_depth >= 1 {
                    self.begin_depth = self.begin_depth.saturating_add(1);
                }
            } else if w.eq_ignore_ascii_case(b"end") {
                self.begin_depth = self.begin_depth.saturating_sub(1);
            }
        }
    }

    fn finish(mut self, len: usize) -> Vec<Statement> {
        if let Some(code_start) = self.code_start {
            self.emit(code_start, self.last_sig_end);
        }
        if self.piece_start < len {
            self.out.push(Statement {
                span: Span::new(self.piece_start, len),
                code: Span::new(len, len),
            });
        }
        self.out
    }
}

/// `\copy ... from stdin` (psql reads the data lines that follow from the same input).
fn is_backslash_copy_from_stdin(meta: &[u8]) -> bool {
    let mut words = meta
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    if words.next() != Some(b"\\copy".as_slice()) {
        return false;
    }
    let mut prev_from = false;
    for w in words {
        if prev_from && w.eq_ignore_ascii_case(b"stdin") {
            return true;
        }
        prev_from = w.eq_ignore_ascii_case(b"from");
    }
    false
}

/// psql reads `COPY ... FROM STDIN` data from the lines after the one holding the command, up to a
/// line that is exactly `\.` (or end of input). Returns the end of that `\.` (or of the input), or
/// `None` when no line follows the command.
fn copy_data_end(bytes: &[u8], after: usize) -> Option<usize> {
    let nl = after + bytes.get(after..)?.iter().position(|&b| b == b'\n')?;
    let mut line = nl + 1;
    while line < bytes.len() {
        let rest = &bytes[line..];
        let len = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let content = &rest[..len];
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content == b"\\." {
            return Some(line + 2);
        }
        line += len + 1;
    }
    Some(bytes.len())
}

/// The raw data lines inside a piece produced by [`split`] for `COPY ... FROM STDIN;` or
/// `\copy ... from stdin` (psql feeds the lines that follow the command, through the `\.` line, to
/// the copy). [`split`] keeps them in that piece's `code`; this returns their span (possibly empty),
/// or `None` for any other statement. The SQL part of the statement is `code.start..data.start`.
pub fn copy_data(text: &str, stmt: &Statement) -> Option<Span> {
    let code = stmt.code;
    let body = code.slice(text);
    let command_end = if body.starts_with("\\copy") {
        if !is_backslash_copy_from_stdin(body.lines().next()?.as_bytes()) {
            return None;
        }
        code.start + body.find('\n')?
    } else {
        if leading_keywords(text, code, 1)
            .first()
            .is_none_or(|k| k != "COPY")
        {
            return None;
        }
        let mut depth = 0u32;
        let semi = Lexer::with_span(text, code).find(|t| match t.kind {
            TokenKind::LParen => {
                depth += 1;
                false
            }
            TokenKind::RParen => {
                depth = depth.saturating_sub(1);
                false
            }
            TokenKind::Semicolon => depth == 0,
            _ => false,
        })?;
        semi.span.end
    };
    let nl = command_end + text.get(command_end..code.end)?.find('\n')?;
    Some(Span::new(nl + 1, code.end))
}

/// The marker drizzle-kit splits migration files on.
pub const DRIZZLE_BREAKPOINT: &str = "--> statement-breakpoint";

/// drizzle-kit migrate splits a file with JavaScript `sql.split('--> statement-breakpoint')` — a
/// literal, not a comment-aware split — and sends each chunk as one query. Returns the chunk spans
/// (the marker itself excluded), covering everything else. Like JavaScript, `n` markers give `n + 1`
/// chunks (some possibly empty), and empty input gives one empty chunk.
pub fn split_drizzle_breakpoints(text: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let mut start = 0;
    for (at, marker) in text.match_indices(DRIZZLE_BREAKPOINT) {
        out.push(Span::new(start, at));
        start = at + marker.len();
    }
    out.push(Span::new(start, text.len()));
    out
}

/// Significant tokens (not whitespace/comments) inside `span`. The span is lexed on its own (it
/// should start and end on token boundaries, as statement spans do); it is clamped to the text and
/// to character boundaries, so any span is accepted.
pub fn significant_tokens(text: &str, span: Span) -> Vec<Token> {
    Lexer::with_span(text, span)
        .filter(|t| t.kind.is_significant())
        .collect()
}

/// The statement's leading keywords, uppercased (ASCII), up to `n` [`TokenKind::Word`]s; any other
/// significant token (a quoted identifier, a parenthesis, ...) stops it. Comments are skipped.
/// E.g. `["CREATE", "INDEX", "CONCURRENTLY"]`.
pub fn leading_keywords(text: &str, code: Span, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    if n == 0 {
        return out;
    }
    for tok in Lexer::with_span(text, code).filter(|t| t.kind.is_significant()) {
        if tok.kind != TokenKind::Word {
            break;
        }
        out.push(tok.text(text).to_ascii_uppercase());
        if out.len() >= n {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_data_end_finds_the_terminator_line() {
        let t = b"COPY x FROM stdin;\na\n\\.\nrest";
        assert_eq!(copy_data_end(t, 18), Some(23));
        // `\.` must be alone on its line.
        let t = b"c;\na \\.\n\\. x\n";
        assert_eq!(copy_data_end(t, 2), Some(t.len()));
        assert_eq!(copy_data_end(b"c;", 2), None);
        assert_eq!(copy_data_end(b"c;", 99), None);
    }

    #[test]
    fn backslash_copy_detection() {
        assert!(is_backslash_copy_from_stdin(b"\\copy t (a) FROM STDIN csv"));
        assert!(!is_backslash_copy_from_stdin(b"\\copy t from pstdin"));
        assert!(!is_backslash_copy_from_stdin(b"\\copyx t from stdin"));
        assert!(!is_backslash_copy_from_stdin(b"\\set stdin from"));
    }
}
