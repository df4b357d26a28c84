//! The tokenizer: a byte-level lexer that follows PostgreSQL's `scan.l` / psql's `psqlscan.l` closely
//! enough that statement splitting and dialect detection agree with what psql and the server see.
//!
//! Only ASCII bytes are ever treated specially. Every byte `>= 0x80` is an identifier byte (as in
//! PostgreSQL, where `\200-\377` are identifier characters) or sits inside a quoted construct, so every
//! token boundary falls on a UTF-8 character boundary. Tokens cover the input exactly, in order, with
//! no gaps or overlaps, and the lexer is total on arbitrary input: unterminated quotes, comments and
//! dollar-quoted strings become one [`TokenKind::Unterminated`] token that runs to the end of input.
//!
//! Deliberate choices:
//! - Strings follow `standard_conforming_strings = on` (the default since PostgreSQL 9.1): a backslash
//!   is an escape only in `E'...'` strings, including their continuation across a newline
//!   (`E'a'\n'b'` continues the escape string, as in `scan.l`).
//! - A backtick starts a MySQL-style identifier (`` `a``b` `` doubles the backtick) so a `;` inside it
//!   never splits. An unmatched backtick is a one-byte [`TokenKind::Backtick`] token (PostgreSQL itself
//!   would lex it as an operator character), so a stray backtick can never swallow the rest of a file.
//! - A backslash is a psql meta-command ([`TokenKind::PsqlMeta`], to end of line) when only spaces or
//!   tabs precede it on its line; elsewhere it is a one-byte [`TokenKind::Operator`].
//! - `:` is lexed as an operator character so `::` and `:=` are single tokens.

use crate::span::Span;

/// What a [`Token`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A run of spaces, tabs, LF, CR, form feeds and vertical tabs.
    Whitespace,
    /// `--` to the end of the line (the line terminator is not included).
    LineComment,
    /// `/* ... */`, nested PostgreSQL style.
    BlockComment,
    /// Identifiers and keywords (ASCII letters, digits, `_`, `$`, and every non-ASCII character).
    Word,
    /// `"..."` with `""` escapes, also `U&"..."`.
    QuotedIdent,
    /// `'...'`, `E'...'` with backslash escapes, `N'...'`, `B'...'`, `X'...'`, `U&'...'`.
    String,
    /// `$tag$ ... $tag$` (including `$$ ... $$`).
    DollarString,
    /// Numeric literals: `42`, `1.5`, `.5`, `1e-3`, `0x1F`, `1_000` (plus trailing identifier junk,
    /// which PostgreSQL rejects, e.g. `123abc`).
    Number,
    /// Positional parameters: `$1`.
    Param,
    Semicolon,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    /// Any other punctuation run (`::`, `=`, `<>`, `->>`, `..`), and any other single byte.
    Operator,
    /// `` `...` `` MySQL identifier (or a lone unmatched backtick), for dialect detection.
    Backtick,
    /// A psql meta-command line such as `\set x 1` or `\i file.sql`, to the end of the line.
    PsqlMeta,
    /// An unterminated quote, quoted identifier, block comment or dollar-quoted string; runs to the
    /// end of input.
    Unterminated,
}

impl TokenKind {
    /// Whitespace and comments: the tokens that never change what a statement means.
    pub fn is_trivia(self) -> bool {
        matches!(
            self,
            TokenKind::Whitespace | TokenKind::LineComment | TokenKind::BlockComment
        )
    }

    /// Everything that is not trivia.
    pub fn is_significant(self) -> bool {
        !self.is_trivia()
    }
}

/// One token: its kind and exact byte span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

impl Token {
    /// The token's text (`""` if `text` is not the text it was lexed from).
    pub fn text<'a>(&self, text: &'a str) -> &'a str {
        self.span.slice(text)
    }

    /// True for a [`TokenKind::Word`] equal to `keyword`, ignoring ASCII case.
    pub fn is_word(&self, text: &str, keyword: &str) -> bool {
        self.kind == TokenKind::Word && self.text(text).eq_ignore_ascii_case(keyword)
    }
}

/// Tokens covering the input exactly, in order, no gaps, no overlaps.
pub fn tokenize(text: &str) -> Vec<Token> {
    Lexer::new(text).collect()
}

/// What an [`TokenKind::Unterminated`] token failed to close, for messages:
/// `"block comment"`, `"quoted string"`, `"quoted identifier"` or `"dollar-quoted string"`.
pub fn describe_unterminated(text: &str, token: &Token) -> &'static str {
    let b = token.text(text).as_bytes();
    match b.first() {
        Some(b'/') => "block comment",
        Some(b'"') => "quoted identifier",
        Some(b'$') => "dollar-quoted string",
        Some(b'u' | b'U') if b.get(2) == Some(&b'"') => "quoted identifier",
        _ => "quoted string",
    }
}

/// A lazy tokenizer over `text` (or a sub-range of it). [`tokenize`] collects one.
#[derive(Clone, Debug)]
pub struct Lexer<'a> {
    bytes: &'a [u8],
    pos: usize,
    end: usize,
    /// Position of a `'` that continues an `E'...'` string across a newline (`usize::MAX`: none).
    e_continuation: usize,
}

impl<'a> Lexer<'a> {
    /// Lex the whole of `text`.
    pub fn new(text: &'a str) -> Lexer<'a> {
        Lexer {
            bytes: text.as_bytes(),
            pos: 0,
            end: text.len(),
            e_continuation: usize::MAX,
        }
    }

    /// Lex `text[span]` as if it were the whole input, except that the psql meta-command rule
    /// (backslash at the start of a line) looks at the text before the span. The span is clamped
    /// to the text and moved back to character boundaries, so any span is accepted.
    pub fn with_span(text: &'a str, span: Span) -> Lexer<'a> {
        let end = crate::span::floor_char_boundary(text, span.end);
        let start = crate::span::floor_char_boundary(text, span.start).min(end);
        Lexer {
            bytes: text.as_bytes(),
            pos: start,
            end,
            e_continuation: usize::MAX,
        }
    }

    /// The byte at `i`, or 0 at or past the end of the lexed range (0 is never special).
    #[inline]
    fn at(&self, i: usize) -> u8 {
        if i < self.end { self.bytes[i] } else { 0 }
    }

    /// Index of the first byte `>= from` that is `needle`, or `self.end`.
    #[inline]
    fn find_byte(&self, from: usize, needle: u8) -> usize {
        let from = from.min(self.end);
        self.bytes[from..self.end]
            .iter()
            .position(|&b| b == needle)
            .map_or(self.end, |p| from + p)
    }

    fn lex(&mut self) -> TokenKind {
        let start = self.pos;
        let b = self.bytes[start];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => {
                let mut p = start + 1;
                while p < self.end && is_space(self.bytes[p]) {
                    p += 1;
                }
                self.pos = p;
                TokenKind::Whitespace
            }
            b'-' if self.at(start + 1) == b'-' => {
                let mut p = start + 2;
                while p < self.end && !matches!(self.bytes[p], b'\n' | b'\r') {
                    p += 1;
                }
                self.pos = p;
                TokenKind::LineComment
            }
            b'/' if self.at(start + 1) == b'*' => self.block_comment(),
            b'\'' => {
                if start == self.e_continuation {
                    self.e_string(start)
                } else {
                    self.quoted(start, b'\'', true, TokenKind::String)
                }
            }
            b'"' => self.quoted(start, b'"', true, TokenKind::QuotedIdent),
            b'`' => self.backtick(),
            b'$' => self.dollar(),
            b'0'..=b'9' => self.number(),
            b'.' => match self.at(start + 1) {
                b'0'..=b'9' => self.number(),
                b'.' => {
                    self.pos = start + 2;
                    TokenKind::Operator
                }
                _ => self.single(TokenKind::Dot),
            },
            b';' => self.single(TokenKind::Semicolon),
            b'(' => self.single(TokenKind::LParen),
            b')' => self.single(TokenKind::RParen),
            b'[' => self.single(TokenKind::LBracket),
            b']' => self.single(TokenKind::RBracket),
            b',' => self.single(TokenKind::Comma),
            b'\\' => {
                if self.at_line_start(start) {
                    let mut p = start + 1;
                    while p < self.end && !matches!(self.bytes[p], b'\n' | b'\r') {
                        p += 1;
                    }
                    self.pos = p;
                    TokenKind::PsqlMeta
                } else {
                    self.single(TokenKind::Operator)
                }
            }
            b'e' | b'E' if self.at(start + 1) == b'\'' => self.e_string(start + 1),
            b'n' | b'N' if self.at(start + 1) == b'\'' => {
                self.quoted(start + 1, b'\'', true, TokenKind::String)
            }
            // Bit strings: `''` is not an escape in `scan.l`'s xb/xh states; a second quote simply
            // starts the next string, which splits identically.
            b'b' | b'B' | b'x' | b'X' if self.at(start + 1) == b'\'' => {
                self.quoted(start + 1, b'\'', false, TokenKind::String)
            }
            b'u' | b'U' if self.at(start + 1) == b'&' && self.at(start + 2) == b'\'' => {
                self.quoted(start + 2, b'\'', true, TokenKind::String)
            }
            b'u' | b'U' if self.at(start + 1) == b'&' && self.at(start + 2) == b'"' => {
                self.quoted(start + 2, b'"', true, TokenKind::QuotedIdent)
            }
            _ if is_ident_start(b) => {
                self.pos = self.ident_end(start + 1);
                TokenKind::Word
            }
            _ if is_op_char(b) => {
                let mut p = start + 1;
                while p < self.end && is_op_char(self.bytes[p]) {
                    // A comment start ends the operator, as in scan.l.
                    let next = self.at(p + 1);
                    if (self.bytes[p] == b'-' && next == b'-')
                        || (self.bytes[p] == b'/' && next == b'*')
                    {
                        break;
                    }
                    p += 1;
                }
                self.pos = p;
                TokenKind::Operator
            }
            _ => self.single(TokenKind::Operator),
        }
    }

    #[inline]
    fn single(&mut self, kind: TokenKind) -> TokenKind {
        self.pos += 1;
        kind
    }

    /// End of an identifier whose remaining bytes start at `p`.
    #[inline]
    fn ident_end(&self, mut p: usize) -> usize {
        while p < self.end && is_ident_cont(self.bytes[p]) {
            p += 1;
        }
        p
    }

    /// Only spaces and tabs between the previous line break (or start of text) and `pos`.
    fn at_line_start(&self, pos: usize) -> bool {
        let mut p = pos;
        while p > 0 {
            match self.bytes[p - 1] {
                b' ' | b'\t' => p -= 1,
                b'\n' | b'\r' => return true,
                _ => return false,
            }
        }
        true
    }

    fn block_comment(&mut self) -> TokenKind {
        let mut p = self.pos + 2;
        let mut depth = 1usize;
        while p < self.end {
            match self.bytes[p] {
                b'/' if self.at(p + 1) == b'*' => {
                    depth += 1;
                    p += 2;
                }
                b'*' if self.at(p + 1) == b'/' => {
                    depth -= 1;
                    p += 2;
                    if depth == 0 {
                        self.pos = p;
                        return TokenKind::BlockComment;
                    }
                }
                _ => p += 1,
            }
        }
        self.pos = self.end;
        TokenKind::Unterminated
    }

    /// A quoted construct whose opening quote is at `open`; a doubled quote is an escape when
    /// `doubling` is set.
    fn quoted(&mut self, open: usize, quote: u8, doubling: bool, kind: TokenKind) -> TokenKind {
        let mut p = open + 1;
        loop {
            p = self.find_byte(p, quote);
            if p >= self.end {
                self.pos = self.end;
                return TokenKind::Unterminated;
            }
            if doubling && self.at(p + 1) == quote {
                p += 2;
            } else {
                self.pos = p + 1;
                return kind;
            }
        }
    }

    /// An `E'...'` string whose opening quote is at `open`: backslash escapes and `''`.
    fn e_string(&mut self, open: usize) -> TokenKind {
        let mut p = open + 1;
        while p < self.end {
            match self.bytes[p] {
                b'\\' => p += 2,
                b'\'' if self.at(p + 1) == b'\'' => p += 2,
                b'\'' => {
                    self.pos = p + 1;
                    self.e_continuation = self.continuation_quote(p + 1);
                    return TokenKind::String;
                }
                _ => p += 1,
            }
        }
        self.pos = self.end;
        TokenKind::Unterminated
    }

    /// `scan.l`'s `quotecontinue`: after a closing quote, horizontal whitespace or `--` comments,
    /// at least one newline, more whitespace or comments, then a quote continues the string.
    /// Returns the position of that quote, or `usize::MAX`.
    fn continuation_quote(&self, mut p: usize) -> usize {
        let mut newline = false;
        while p < self.end {
            match self.bytes[p] {
                b' ' | b'\t' | 0x0c => p += 1,
                0x0b if newline => p += 1,
                b'\n' | b'\r' => {
                    newline = true;
                    p += 1;
                }
                b'-' if self.at(p + 1) == b'-' => {
                    while p < self.end && !matches!(self.bytes[p], b'\n' | b'\r') {
                        p += 1;
                    }
                }
                b'\'' if newline => return p,
                _ => return usize::MAX,
            }
        }
        usize::MAX
    }

    fn backtick(&mut self) -> TokenKind {
        let start = self.pos;
        match self.quoted(start, b'`', true, TokenKind::Backtick) {
            TokenKind::Unterminated => {
                self.pos = start + 1;
                TokenKind::Backtick
            }
            kind => kind,
        }
    }

    fn dollar(&mut self) -> TokenKind {
        let start = self.pos;
        let next = self.at(start + 1);
        if next.is_ascii_digit() {
            let mut p = start + 2;
            while p < self.end && self.bytes[p].is_ascii_digit() {
                p += 1;
            }
            // `$1abc` is one (invalid) token in PostgreSQL 16+ (`param_junk`).
            if p < self.end && is_ident_start(self.bytes[p]) {
                p = self.ident_end(p + 1);
            }
            self.pos = p;
            return TokenKind::Param;
        }
        if next != b'$' && !is_ident_start(next) {
            return self.single(TokenKind::Operator);
        }
        // `$` tag? `$`: the tag is dolq_start dolq_cont*, i.e. identifier bytes without `$`.
        let mut q = start + 1;
        while q < self.end && is_ident_cont(self.bytes[q]) && self.bytes[q] != b'$' {
            q += 1;
        }
        if self.at(q) != b'$' {
            // `$abc` without a closing `$` (scan.l's dolqfailed): a lone `$`.
            return self.single(TokenKind::Operator);
        }
        let delim = &self.bytes[start..=q];
        let body = q + 1;
        match find_subslice(&self.bytes[body.min(self.end)..self.end], delim) {
            Some(off) => {
                self.pos = body + off + delim.len();
                TokenKind::DollarString
            }
            None => {
                self.pos = self.end;
                TokenKind::Unterminated
            }
        }
    }

    fn number(&mut self) -> TokenKind {
        let start = self.pos;
        let mut p = start;
        let b1 = self.at(start + 1);
        if self.bytes[start] == b'0' && matches!(b1, b'x' | b'X' | b'o' | b'O' | b'b' | b'B') {
            // 0x1F, 0o17, 0b101 (PostgreSQL 16+): digits of any radix plus `_`.
            p = start + 2;
            while p < self.end && (self.bytes[p].is_ascii_alphanumeric() || self.bytes[p] == b'_') {
                p += 1;
            }
        } else {
            while p < self.end && (self.bytes[p].is_ascii_digit() || self.bytes[p] == b'_') {
                p += 1;
            }
            if self.at(p) == b'.' && self.at(p + 1) != b'.' {
                p += 1;
                while p < self.end && (self.bytes[p].is_ascii_digit() || self.bytes[p] == b'_') {
                    p += 1;
                }
            }
            if matches!(self.at(p), b'e' | b'E') {
                let mut q = p + 1;
                if matches!(self.at(q), b'+' | b'-') {
                    q += 1;
                }
                if self.at(q).is_ascii_digit() {
                    p = q;
                    while p < self.end && self.bytes[p].is_ascii_digit() {
                        p += 1;
                    }
                }
            }
        }
        // Trailing identifier junk (`123abc`) is part of the number token (scan.l's *_junk rules).
        if p < self.end && is_ident_start(self.bytes[p]) {
            p = self.ident_end(p + 1);
        }
        self.pos = p;
        TokenKind::Number
    }
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    #[inline]
    fn next(&mut self) -> Option<Token> {
        if self.pos >= self.end {
            return None;
        }
        let start = self.pos;
        let kind = self.lex();
        // Every rule advances by at least one byte and stops at the end of the range; keep the
        // iterator total even if that were ever violated.
        debug_assert!(self.pos > start && self.pos <= self.end);
        if self.pos <= start || self.pos > self.end {
            self.pos = self.end;
        }
        Some(Token {
            kind,
            span: Span::new(start, self.pos),
        })
    }
}

#[inline]
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

const START: u8 = 1;
const CONT: u8 = 2;

/// Byte classes for the identifier loops (a table lookup beats the comparisons in the hot loop).
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 {
            t[i] = START | CONT;
        } else if b.is_ascii_digit() || b == b'$' {
            t[i] = CONT;
        }
        i += 1;
    }
    t
};

/// `ident_start`: `[A-Za-z\200-\377_]`.
#[inline]
pub(crate) fn is_ident_start(b: u8) -> bool {
    CLASS[b as usize] & START != 0
}

/// `ident_cont`: `[A-Za-z\200-\377_0-9\$]`.
#[inline]
pub(crate) fn is_ident_cont(b: u8) -> bool {
    CLASS[b as usize] & CONT != 0
}

/// `op_chars` plus `:` (so `::` and `:=` are one token). The backtick is handled separately.
#[inline]
fn is_op_char(b: u8) -> bool {
    matches!(
        b,
        b'~' | b'!'
            | b'@'
            | b'#'
            | b'^'
            | b'&'
            | b'|'
            | b'?'
            | b'+'
            | b'-'
            | b'*'
            | b'/'
            | b'%'
            | b'<'
            | b'>'
            | b'='
            | b':'
    )
}

/// Position of the first occurrence of `needle` in `hay`.
fn find_subslice(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while from < hay.len() {
        let p = from + hay[from..].iter().position(|&b| b == first)?;
        if hay.get(p + 1..p + 1 + rest.len()) == Some(rest) {
            return Some(p);
        }
        from = p + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_subslice_finds_first_occurrence() {
        assert_eq!(find_subslice(b"ab$a$c$a$", b"$a$"), Some(2));
        assert_eq!(find_subslice(b"$$", b"$$"), Some(0));
        assert_eq!(find_subslice(b"$", b"$$"), None);
        assert_eq!(find_subslice(b"", b"$$"), None);
        assert_eq!(find_subslice(b"abc", b""), None);
    }

    #[test]
    fn identifier_byte_classes() {
        assert!(is_ident_start(b'a') && is_ident_start(b'_') && is_ident_start(0xc3));
        assert!(!is_ident_start(b'1') && !is_ident_start(b'$'));
        assert!(is_ident_cont(b'1') && is_ident_cont(b'$') && is_ident_cont(0xff));
        assert!(!is_ident_cont(b'-') && !is_ident_cont(b' '));
    }

    #[test]
    fn lexing_a_sub_range_stops_at_its_end() {
        let text = "select 'abc' from t";
        let toks: Vec<Token> = Lexer::with_span(text, Span::new(7, 10)).collect();
        assert_eq!(toks.len(), 1);
        assert_eq!(toks[0].kind, TokenKind::Unterminated);
        assert_eq!(toks[0].span, Span::new(7, 10));
    }
}

/// Whether `text` may hold one of the words `firsts` directly followed by one of `seconds` (ASCII
/// case ignored): a cheap test before tokenizing, that never says no when the tokens hold such a
/// pair. Whitespace between the two is skipped; a comment there (or anything else that is not a
/// word) makes it say yes, as does a pair inside a string or a quoted identifier. Every word must be
/// lowercase ASCII.
pub fn may_hold_word_pair(text: &str, firsts: &[&str], seconds: &[&str]) -> bool {
    let b = text.as_bytes();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80;
    let word_at = |at: usize, w: &str| {
        b.len() >= at + w.len()
            && b[at..at + w.len()].eq_ignore_ascii_case(w.as_bytes())
            && b.get(at + w.len()).is_none_or(|&c| !is_ident(c))
    };
    let mut i = 0;
    while i < b.len() {
        if !is_ident(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_ident(b[i]) {
            i += 1;
        }
        if !firsts.iter().any(|w| word_at(start, w)) {
            continue;
        }
        let mut j = i;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        match b.get(j) {
            Some(c) if is_ident(*c) && seconds.iter().any(|w| word_at(j, w)) => return true,
            Some(c) if is_ident(*c) => {}
            // A comment, a quote or anything else that is not a word: maybe.
            Some(_) => return true,
            None => {}
        }
    }
    false
}

#[cfg(test)]
mod word_pair_tests {
    use super::*;

    /// The prefilter says yes wherever the tokens hold the pair, and no on text that plainly lacks it.
    #[test]
    fn word_pairs_are_never_missed() {
        let pair = |t: &str| may_hold_word_pair(t, &["create", "alter"], &["role", "user"]);
        assert!(pair("CREATE ROLE app;"));
        assert!(pair("create\n\t user app;"));
        assert!(pair("CREATE /* x */ ROLE app;"));
        assert!(pair("ALTER -- x\nROLE app RENAME TO b;"));
        assert!(pair("DO $$ BEGIN CREATE ROLE app; END $$;"));
        assert!(!pair("CREATE TABLE user_roles (id int);"));
        assert!(!pair("RECREATE ROLE x; CREATE TABLE roles (u int);"));
        assert!(!pair("SELECT 1; CREATE"));
        assert!(!pair("CREATE TABLE t (role text, \"user\" text);"));
        assert!(!pair("CREATE INDEX ON users (id);"));
    }
}
