//! What a statement means for transactions and retries, read from its tokens (comments and strings
//! never count as keywords).
//!
//! - [`transaction_control`]: `BEGIN`, `START TRANSACTION`, `COMMIT`, `END`, `ROLLBACK`, `ABORT`.
//! - [`non_transactional`]: statements PostgreSQL refuses inside a transaction block
//!   (`CREATE INDEX CONCURRENTLY`, `VACUUM`, `CREATE DATABASE`, …).
//! - [`rerun_hazards`]: the parts of a statement that fail, or duplicate data, when the statement runs a
//!   second time (`CREATE TABLE` without `IF NOT EXISTS`, `ADD CONSTRAINT`, `INSERT` without
//!   `ON CONFLICT`, `RENAME`, `DROP` without `IF EXISTS`, …).
//! - [`enum_add_value`]: `ALTER TYPE … ADD VALUE 'v'`, with the type and the label.
//! - [`string_value`]: the value of a string literal token.
//!
//! Like [`target`](fn@crate::target), this is classification, not validation: unknown statements classify as
//! harmless, and every function is total on arbitrary input.

use crate::lex::{Token, TokenKind};
use crate::span::Span;
use crate::split::significant_tokens;
use crate::target::ident;

/// A statement that starts or ends a transaction block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxControl {
    /// `BEGIN`, `START TRANSACTION`.
    Begin,
    /// `COMMIT`, `END`.
    Commit,
    /// `ROLLBACK`, `ABORT` (not `ROLLBACK TO SAVEPOINT`).
    Rollback,
}

/// Upper-cased text of a word token, `None` for any other token.
fn word(text: &str, t: Option<&Token>) -> Option<String> {
    t.filter(|t| t.kind == TokenKind::Word)
        .map(|t| t.span.slice(text).to_ascii_uppercase())
}

/// The words of `tokens` from `from`, upper-cased, stopping at the first token that is not a word.
fn words_from(text: &str, tokens: &[Token], from: usize, n: usize) -> Vec<String> {
    tokens
        .iter()
        .skip(from)
        .map_while(|t| word(text, Some(t)))
        .take(n)
        .collect()
}

/// Whether the statement `code` starts or ends a transaction block.
pub fn transaction_control(text: &str, code: Span) -> Option<TxControl> {
    let tokens = significant_tokens(text, code);
    let w = words_from(text, &tokens, 0, 3);
    let w: Vec<&str> = w.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["BEGIN", ..] => {
            // `BEGIN;`, `BEGIN WORK`, `BEGIN TRANSACTION ISOLATION LEVEL …`; not a PL/pgSQL block.
            Some(TxControl::Begin)
        }
        ["START", "TRANSACTION", ..] => Some(TxControl::Begin),
        ["COMMIT", "PREPARED", ..] | ["ROLLBACK", "PREPARED", ..] => None,
        ["COMMIT", ..] | ["END", ..] => Some(TxControl::Commit),
        ["ROLLBACK", "TO", ..] | ["ROLLBACK", "WORK" | "TRANSACTION", "TO", ..] => None,
        ["ROLLBACK", ..] | ["ABORT", ..] => Some(TxControl::Rollback),
        _ => None,
    }
}

/// The command, as PostgreSQL names it in "… cannot run inside a transaction block", when `code` is a
/// statement PostgreSQL refuses inside a transaction block.
pub fn non_transactional(text: &str, code: Span) -> Option<&'static str> {
    let tokens = significant_tokens(text, code);
    let w = words_from(text, &tokens, 0, 4);
    let w: Vec<&str> = w.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["CREATE", "INDEX", "CONCURRENTLY", ..]
        | ["CREATE", "UNIQUE", "INDEX", "CONCURRENTLY", ..] => Some("CREATE INDEX CONCURRENTLY"),
        ["DROP", "INDEX", "CONCURRENTLY", ..] => Some("DROP INDEX CONCURRENTLY"),
        ["VACUUM", ..] => Some("VACUUM"),
        ["ALTER", "SYSTEM", ..] => Some("ALTER SYSTEM"),
        ["CREATE", "DATABASE", ..] => Some("CREATE DATABASE"),
        ["DROP", "DATABASE", ..] => Some("DROP DATABASE"),
        ["CREATE", "TABLESPACE", ..] => Some("CREATE TABLESPACE"),
        ["DROP", "TABLESPACE", ..] => Some("DROP TABLESPACE"),
        ["DISCARD", "ALL", ..] => Some("DISCARD ALL"),
        ["REINDEX", ..] => reindex(text, &tokens),
        _ => None,
    }
}

/// `REINDEX [(options)] {INDEX|TABLE|SCHEMA|DATABASE|SYSTEM} [CONCURRENTLY] name`: CONCURRENTLY, and
/// the SCHEMA / DATABASE / SYSTEM forms, cannot run in a transaction block.
fn reindex(text: &str, tokens: &[Token]) -> Option<&'static str> {
    let mut i = 1;
    if tokens.get(i).map(|t| t.kind) == Some(TokenKind::LParen) {
        i = skip_parens(tokens, i);
    }
    let kind = word(text, tokens.get(i))?;
    let concurrently = word(text, tokens.get(i + 1)).as_deref() == Some("CONCURRENTLY");
    match (kind.as_str(), concurrently) {
        (_, true) => Some("REINDEX CONCURRENTLY"),
        ("SCHEMA", false) => Some("REINDEX SCHEMA"),
        ("DATABASE", false) => Some("REINDEX DATABASE"),
        ("SYSTEM", false) => Some("REINDEX SYSTEM"),
        _ => None,
    }
}

/// Index just after the parenthesised group opening at `open`.
fn skip_parens(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0usize;
    let mut i = open;
    while let Some(t) = tokens.get(i) {
        match t.kind {
            TokenKind::LParen => depth += 1,
            TokenKind::RParen => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    i
}

/// What would make a statement safe to run twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guard {
    /// Add `IF NOT EXISTS`.
    IfNotExists,
    /// Add `IF EXISTS`.
    IfExists,
    /// Use `CREATE OR REPLACE`.
    OrReplace,
    /// Add `ON CONFLICT DO NOTHING` (or a `WHERE NOT EXISTS` guard).
    OnConflict,
    /// PostgreSQL has no clause for it: guard it in a `DO` block, or keep it in a transaction.
    None,
}

/// What happens when the statement runs a second time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// The statement fails (the object exists, or no longer exists).
    Fails,
    /// The statement succeeds again and duplicates something (rows, an unnamed index or constraint).
    Duplicates,
}

/// One part of a statement that cannot be run twice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RerunHazard {
    /// The construct, upper-cased: `CREATE TABLE`, `ADD COLUMN`, `ADD CONSTRAINT`, `INSERT`, `RENAME`,
    /// `DROP TABLE`, `ADD VALUE`, …
    pub construct: String,
    /// The object's name as written (`public.users`, `'archived'`), when there is one.
    pub object: Option<String>,
    pub guard: Guard,
    pub retry: Retry,
    /// The tokens of this part (the whole statement, or one `ALTER` subcommand).
    pub span: Span,
}

/// CREATE kinds that accept `IF NOT EXISTS`, by their leading keywords.
const CREATE_IF_NOT_EXISTS: &[&[&str]] = &[
    &["TABLE"],
    &["INDEX"],
    &["SEQUENCE"],
    &["SCHEMA"],
    &["EXTENSION"],
    &["MATERIALIZED", "VIEW"],
    &["FOREIGN", "TABLE"],
    &["SERVER"],
    &["STATISTICS"],
    &["COLLATION"],
    &["USER", "MAPPING"],
];

/// CREATE kinds that accept `OR REPLACE`.
const CREATE_OR_REPLACE: &[&[&str]] = &[
    &["VIEW"],
    &["FUNCTION"],
    &["PROCEDURE"],
    &["TRIGGER"],
    &["RULE"],
    &["AGGREGATE"],
    &["LANGUAGE"],
    &["TRANSFORM"],
];

/// CREATE kinds with neither clause.
const CREATE_UNGUARDED: &[&[&str]] = &[
    &["TYPE"],
    &["DOMAIN"],
    &["POLICY"],
    &["ROLE"],
    &["USER"],
    &["GROUP"],
    &["DATABASE"],
    &["TABLESPACE"],
    &["PUBLICATION"],
    &["SUBSCRIPTION"],
    &["CAST"],
    &["OPERATOR"],
    &["EVENT", "TRIGGER"],
    &["CONVERSION"],
    &["TEXT", "SEARCH"],
    &["ACCESS", "METHOD"],
    &["FOREIGN", "DATA", "WRAPPER"],
];

/// Kinds whose `ALTER … IF EXISTS name RENAME TO new` is a no-op the second time.
const ALTER_IF_EXISTS: &[&[&str]] = &[
    &["TABLE"],
    &["INDEX"],
    &["SEQUENCE"],
    &["VIEW"],
    &["MATERIALIZED", "VIEW"],
    &["FOREIGN", "TABLE"],
];

/// Table-like kinds whose `ADD x` / `DROP x` without a keyword mean a column.
const ALTER_TABLE_LIKE: &[&[&str]] = &[&["TABLE"], &["FOREIGN", "TABLE"]];

/// Kinds an `ALTER` statement names; longest first so `MATERIALIZED VIEW` wins over nothing.
const ALTER_KINDS: &[&[&str]] = &[
    &["FOREIGN", "DATA", "WRAPPER"],
    &["MATERIALIZED", "VIEW"],
    &["FOREIGN", "TABLE"],
    &["EVENT", "TRIGGER"],
    &["TEXT", "SEARCH", "CONFIGURATION"],
    &["TEXT", "SEARCH", "DICTIONARY"],
    &["TABLE"],
    &["INDEX"],
    &["SEQUENCE"],
    &["VIEW"],
    &["TYPE"],
    &["DOMAIN"],
    &["SCHEMA"],
    &["FUNCTION"],
    &["PROCEDURE"],
    &["ROUTINE"],
    &["AGGREGATE"],
    &["TRIGGER"],
    &["POLICY"],
    &["RULE"],
    &["ROLE"],
    &["USER"],
    &["GROUP"],
    &["DATABASE"],
    &["TABLESPACE"],
    &["PUBLICATION"],
    &["SUBSCRIPTION"],
    &["SERVER"],
    &["COLLATION"],
    &["CONVERSION"],
    &["LANGUAGE"],
    &["OPERATOR"],
    &["STATISTICS"],
];

/// A cursor over a statement's significant tokens.
struct Cursor<'a> {
    text: &'a str,
    tokens: &'a [Token],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<String> {
        word(self.text, self.tokens.get(self.pos))
    }

    fn at(&self, kw: &str) -> bool {
        self.peek().as_deref() == Some(kw)
    }

    fn eat(&mut self, kw: &str) -> bool {
        if self.at(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_all(&mut self, kws: &[&str]) -> bool {
        let start = self.pos;
        for kw in kws {
            if !self.eat(kw) {
                self.pos = start;
                return false;
            }
        }
        true
    }

    /// The first entry of `kinds` whose keywords follow; consumes them.
    fn kind(&mut self, kinds: &[&'static [&'static str]]) -> Option<&'static [&'static str]> {
        kinds.iter().copied().find(|k| self.eat_all(k))
    }

    /// A possibly qualified name (`a`, `s.a`, `"A"`); returns its text as written.
    fn name(&mut self) -> Option<String> {
        let start = self.pos;
        let is_name = |t: &Token| matches!(t.kind, TokenKind::Word | TokenKind::QuotedIdent);
        if !self.tokens.get(self.pos).is_some_and(is_name) {
            return None;
        }
        self.pos += 1;
        while self.tokens.get(self.pos).map(|t| t.kind) == Some(TokenKind::Dot)
            && self.tokens.get(self.pos + 1).is_some_and(is_name)
        {
            self.pos += 2;
        }
        let first = self.tokens.get(start)?;
        let last = self.tokens.get(self.pos - 1)?;
        Some(
            Span::new(first.span.start, last.span.end)
                .slice(self.text)
                .to_string(),
        )
    }

    /// The text of the token at the cursor, without consuming it.
    fn raw(&self) -> Option<String> {
        self.tokens
            .get(self.pos)
            .map(|t| t.span.slice(self.text).to_string())
    }

    /// Whether the keyword sequence `kws` appears anywhere from the cursor on.
    fn contains(&self, kws: &[&str]) -> bool {
        (self.pos..self.tokens.len()).any(|i| {
            kws.iter()
                .enumerate()
                .all(|(k, kw)| word(self.text, self.tokens.get(i + k)).as_deref() == Some(*kw))
        })
    }
}

/// The parts of the statement `code` that cannot safely run a second time after they committed.
/// Empty for statements that can (or that are not recognised).
pub fn rerun_hazards(text: &str, code: Span) -> Vec<RerunHazard> {
    let tokens = significant_tokens(text, code);
    let Some(first) = tokens.first() else {
        return Vec::new();
    };
    let last = tokens.last().map_or(first.span.end, |t| t.span.end);
    let whole = Span::new(first.span.start, last);
    let mut c = Cursor {
        text,
        tokens: &tokens,
        pos: 1,
    };
    let hazard = |construct: String, object: Option<String>, guard: Guard, retry: Retry| {
        vec![RerunHazard {
            construct,
            object,
            guard,
            retry,
            span: whole,
        }]
    };
    match word(text, Some(first)).as_deref() {
        Some("CREATE") => create(&mut c, whole),
        Some("ALTER") => alter(&mut c),
        Some("DROP") => {
            if c.at("OWNED") {
                return Vec::new();
            }
            // `DROP kind [CONCURRENTLY] [IF EXISTS] name`: look for IF EXISTS among the leading words.
            let mut kind = Vec::new();
            while let Some(w) = c.peek() {
                if w == "IF" || kind.len() >= 4 {
                    break;
                }
                if w == "CONCURRENTLY" {
                    c.pos += 1;
                    continue;
                }
                // The kind is one or more keywords; the name follows. Stop at the first word that
                // is not a known kind keyword once a kind was read.
                if !kind.is_empty() && !is_kind_word(&w) {
                    break;
                }
                kind.push(w);
                c.pos += 1;
            }
            if c.eat_all(&["IF", "EXISTS"]) {
                return Vec::new();
            }
            if kind.is_empty() {
                return Vec::new();
            }
            let object = c.name();
            hazard(
                format!("DROP {}", kind.join(" ")),
                object,
                Guard::IfExists,
                Retry::Fails,
            )
        }
        Some("INSERT") => {
            if c.contains(&["ON", "CONFLICT"]) || c.contains(&["NOT", "EXISTS"]) {
                return Vec::new();
            }
            c.eat("INTO");
            let object = c.name();
            hazard(
                "INSERT".into(),
                object,
                Guard::OnConflict,
                Retry::Duplicates,
            )
        }
        Some("COPY") => {
            let object = c.name();
            // `COPY t FROM …` loads rows; `COPY t TO …` / `COPY (query) TO …` only reads.
            let mut i = c.pos;
            let mut depth = 0usize;
            let mut from = false;
            while let Some(t) = tokens.get(i) {
                match t.kind {
                    TokenKind::LParen => depth += 1,
                    TokenKind::RParen => depth = depth.saturating_sub(1),
                    TokenKind::Word if depth == 0 => {
                        let w = t.span.slice(text).to_ascii_uppercase();
                        if w == "FROM" {
                            from = true;
                            break;
                        }
                        if w == "TO" {
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            if from {
                hazard("COPY".into(), object, Guard::None, Retry::Duplicates)
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    }
}

/// Words that can be part of an object kind after DROP (`MATERIALIZED VIEW`, `TEXT SEARCH …`).
fn is_kind_word(w: &str) -> bool {
    matches!(
        w,
        "VIEW"
            | "TABLE"
            | "SEARCH"
            | "CONFIGURATION"
            | "DICTIONARY"
            | "PARSER"
            | "TEMPLATE"
            | "DATA"
            | "WRAPPER"
            | "TRIGGER"
            | "METHOD"
            | "MAPPING"
            | "CLASS"
            | "FAMILY"
    )
}

/// `CREATE …` after the CREATE keyword.
fn create(c: &mut Cursor<'_>, whole: Span) -> Vec<RerunHazard> {
    if c.eat_all(&["OR", "REPLACE"]) {
        return Vec::new();
    }
    // Modifiers before the kind.
    loop {
        if c.at("TEMP") || c.at("TEMPORARY") {
            // A temporary object lives only as long as the session.
            return Vec::new();
        }
        if [
            "GLOBAL",
            "LOCAL",
            "UNLOGGED",
            "UNIQUE",
            "TRUSTED",
            "PROCEDURAL",
            "DEFAULT",
            "RECURSIVE",
            "CONSTRAINT",
        ]
        .iter()
        .any(|m| c.eat(m))
        {
            continue;
        }
        break;
    }
    let one = |construct: String, object: Option<String>, guard: Guard, retry: Retry| {
        vec![RerunHazard {
            construct,
            object,
            guard,
            retry,
            span: whole,
        }]
    };
    if let Some(kind) = c.kind(CREATE_IF_NOT_EXISTS) {
        let construct = format!("CREATE {}", kind.join(" "));
        if kind == ["INDEX"] {
            c.eat("CONCURRENTLY");
        }
        if c.eat_all(&["IF", "NOT", "EXISTS"]) {
            return Vec::new();
        }
        if kind == ["INDEX"] && c.at("ON") {
            // `CREATE INDEX ON t (a)`: PostgreSQL picks a fresh name, so a retry builds a second index.
            c.eat("ON");
            c.eat("ONLY");
            return one(construct, c.name(), Guard::None, Retry::Duplicates);
        }
        if kind == ["USER", "MAPPING"] {
            return one(construct, None, Guard::IfNotExists, Retry::Fails);
        }
        return one(construct, c.name(), Guard::IfNotExists, Retry::Fails);
    }
    if let Some(kind) = c.kind(CREATE_OR_REPLACE) {
        return one(
            format!("CREATE {}", kind.join(" ")),
            c.name(),
            Guard::OrReplace,
            Retry::Fails,
        );
    }
    if let Some(kind) = c.kind(CREATE_UNGUARDED) {
        if kind == ["TEXT", "SEARCH"] {
            c.pos += 1;
        }
        return one(
            format!("CREATE {}", kind.join(" ")),
            c.name(),
            Guard::None,
            Retry::Fails,
        );
    }
    Vec::new()
}

/// `ALTER …` after the ALTER keyword.
fn alter(c: &mut Cursor<'_>) -> Vec<RerunHazard> {
    let Some(kind) = c.kind(ALTER_KINDS) else {
        return Vec::new();
    };
    let if_exists = c.eat_all(&["IF", "EXISTS"]);
    c.eat("ONLY");
    if c.name().is_none() {
        return Vec::new();
    }
    // Routines carry an argument list; `ALTER TABLE t *` a star.
    if c.tokens.get(c.pos).map(|t| t.kind) == Some(TokenKind::LParen) {
        c.pos = skip_parens(c.tokens, c.pos);
    }
    if c.tokens.get(c.pos).map(|t| t.span.slice(c.text)) == Some("*") {
        c.pos += 1;
    }
    let table_like = ALTER_TABLE_LIKE.contains(&kind);
    let mut out = Vec::new();
    for sub in subcommands(c.tokens, c.pos) {
        let mut s = Cursor {
            text: c.text,
            tokens: c.tokens,
            pos: sub.0,
        };
        let span = match (c.tokens.get(sub.0), c.tokens.get(sub.1.saturating_sub(1))) {
            (Some(a), Some(b)) if sub.1 > sub.0 => Span::new(a.span.start, b.span.end),
            _ => continue,
        };
        let mut push = |construct: &str, object: Option<String>, guard: Guard, retry: Retry| {
            out.push(RerunHazard {
                construct: construct.to_string(),
                object,
                guard,
                retry,
                span,
            })
        };
        let Some(verb) = s.peek() else { continue };
        s.pos += 1;
        match verb.as_str() {
            "RENAME" => {
                if s.at("TO") {
                    if if_exists && ALTER_IF_EXISTS.contains(&kind) {
                        continue;
                    }
                    s.pos += 1;
                    let guard = if ALTER_IF_EXISTS.contains(&kind) {
                        Guard::IfExists
                    } else {
                        Guard::None
                    };
                    push("RENAME TO", s.name(), guard, Retry::Fails);
                } else {
                    let what = if s.eat("COLUMN") {
                        "RENAME COLUMN"
                    } else if s.eat("CONSTRAINT") {
                        "RENAME CONSTRAINT"
                    } else if s.eat("VALUE") {
                        "RENAME VALUE"
                    } else if s.eat("ATTRIBUTE") {
                        "RENAME ATTRIBUTE"
                    } else {
                        "RENAME COLUMN"
                    };
                    let object = s.name().or_else(|| s.raw());
                    push(what, object, Guard::None, Retry::Fails);
                }
            }
            "ADD" => {
                if s.eat("COLUMN") || (table_like && !is_constraint_start(&s)) {
                    if !s.eat_all(&["IF", "NOT", "EXISTS"]) {
                        push("ADD COLUMN", s.name(), Guard::IfNotExists, Retry::Fails);
                    }
                } else if s.eat("CONSTRAINT") {
                    push("ADD CONSTRAINT", s.name(), Guard::None, Retry::Fails);
                } else if is_constraint_start(&s) {
                    let what = s.peek().unwrap_or_default();
                    let retry = if what == "PRIMARY" {
                        Retry::Fails
                    } else {
                        Retry::Duplicates
                    };
                    push("ADD CONSTRAINT", None, Guard::None, retry);
                } else if s.eat("VALUE") {
                    if !s.eat_all(&["IF", "NOT", "EXISTS"]) {
                        push("ADD VALUE", s.raw(), Guard::IfNotExists, Retry::Fails);
                    }
                } else if s.eat("ATTRIBUTE") {
                    push("ADD ATTRIBUTE", s.name(), Guard::None, Retry::Fails);
                }
            }
            "DROP" => {
                let what = if s.eat("COLUMN") {
                    Some("DROP COLUMN")
                } else if s.eat("CONSTRAINT") {
                    Some("DROP CONSTRAINT")
                } else if s.eat("ATTRIBUTE") {
                    Some("DROP ATTRIBUTE")
                } else if table_like && !s.at("IF") && s.peek().is_some() {
                    Some("DROP COLUMN")
                } else if table_like && s.at("IF") {
                    None
                } else {
                    continue;
                };
                if s.eat_all(&["IF", "EXISTS"]) {
                    continue;
                }
                if let Some(what) = what {
                    push(what, s.name(), Guard::IfExists, Retry::Fails);
                }
            }
            "ATTACH" | "DETACH" if s.at("PARTITION") => {
                s.pos += 1;
                let what = if verb == "ATTACH" {
                    "ATTACH PARTITION"
                } else {
                    "DETACH PARTITION"
                };
                push(what, s.name(), Guard::None, Retry::Fails);
            }
            _ => {}
        }
    }
    out
}

/// Whether the cursor is at an unnamed table constraint (`PRIMARY KEY`, `UNIQUE`, `CHECK`, …).
fn is_constraint_start(c: &Cursor<'_>) -> bool {
    matches!(
        c.peek().as_deref(),
        Some("PRIMARY" | "UNIQUE" | "CHECK" | "FOREIGN" | "EXCLUDE" | "CONSTRAINT")
    )
}

/// Token ranges `[start, end)` of the comma-separated subcommands from `from` (depth-0 commas; a
/// trailing `;` is left out).
fn subcommands(tokens: &[Token], from: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = from;
    let mut i = from;
    while let Some(t) = tokens.get(i) {
        match t.kind {
            TokenKind::LParen => depth += 1,
            TokenKind::RParen => depth = depth.saturating_sub(1),
            TokenKind::Comma if depth == 0 => {
                out.push((start, i));
                start = i + 1;
            }
            TokenKind::Semicolon if depth == 0 => {
                out.push((start, i));
                return out;
            }
            _ => {}
        }
        i += 1;
    }
    if start < tokens.len() {
        out.push((start, tokens.len()));
    }
    out
}

/// `ALTER TYPE name ADD VALUE [IF NOT EXISTS] 'label' …`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnumAddValue {
    /// The type's name, folded like PostgreSQL folds identifiers (the last part of a qualified name).
    pub type_name: String,
    /// The label's value.
    pub label: String,
    /// The label's string token.
    pub span: Span,
}

/// The enum label `code` adds, when it is `ALTER TYPE … ADD VALUE 'label'`.
pub fn enum_add_value(text: &str, code: Span) -> Option<EnumAddValue> {
    let tokens = significant_tokens(text, code);
    let mut c = Cursor {
        text,
        tokens: &tokens,
        pos: 0,
    };
    if !c.eat_all(&["ALTER", "TYPE"]) {
        return None;
    }
    c.name()?;
    let type_name = tokens
        .get(c.pos.checked_sub(1)?)
        .and_then(|t| ident(text, t))?;
    if !c.eat_all(&["ADD", "VALUE"]) {
        return None;
    }
    c.eat_all(&["IF", "NOT", "EXISTS"]);
    let label = tokens.get(c.pos)?;
    Some(EnumAddValue {
        type_name,
        label: string_value(text, label)?,
        span: label.span,
    })
}

/// The type a `CREATE TYPE name …` statement creates (folded, last part of the name).
pub fn created_type(text: &str, code: Span) -> Option<String> {
    let tokens = significant_tokens(text, code);
    let mut c = Cursor {
        text,
        tokens: &tokens,
        pos: 0,
    };
    if !c.eat_all(&["CREATE", "TYPE"]) {
        return None;
    }
    c.name()?;
    tokens
        .get(c.pos.checked_sub(1)?)
        .and_then(|t| ident(text, t))
}

/// The value of a plain `'…'` or `E'…'` string literal token (`None` for other tokens and for the
/// bit, hex and Unicode-escape forms).
pub fn string_value(text: &str, token: &Token) -> Option<String> {
    if token.kind != TokenKind::String {
        return None;
    }
    let s = token.span.slice(text);
    if let Some(rest) = s.strip_prefix(['e', 'E']) {
        let inner = rest.strip_prefix('\'')?.strip_suffix('\'')?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(ch) = chars.next() {
            match ch {
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(other) => out.push(other),
                    None => {}
                },
                '\'' => {
                    chars.next();
                    out.push('\'');
                }
                other => out.push(other),
            }
        }
        return Some(out);
    }
    let s = s.strip_prefix(['n', 'N']).unwrap_or(s);
    let inner = s.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("''", "'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &str) -> Span {
        Span::new(0, s.len())
    }

    fn hazards(s: &str) -> Vec<(String, Option<String>, Guard, Retry)> {
        rerun_hazards(s, all(s))
            .into_iter()
            .map(|h| (h.construct, h.object, h.guard, h.retry))
            .collect()
    }

    fn constructs(s: &str) -> Vec<String> {
        rerun_hazards(s, all(s))
            .into_iter()
            .map(|h| h.construct)
            .collect()
    }

    #[test]
    fn transaction_control_statements() {
        for (s, expected) in [
            ("BEGIN;", Some(TxControl::Begin)),
            (
                "begin transaction isolation level serializable;",
                Some(TxControl::Begin),
            ),
            ("START TRANSACTION;", Some(TxControl::Begin)),
            ("COMMIT;", Some(TxControl::Commit)),
            ("end;", Some(TxControl::Commit)),
            ("ROLLBACK;", Some(TxControl::Rollback)),
            ("abort;", Some(TxControl::Rollback)),
            ("ROLLBACK TO SAVEPOINT a;", None),
            ("ROLLBACK TO a;", None),
            ("COMMIT PREPARED 'x';", None),
            ("-- BEGIN\nSELECT 'COMMIT';", None),
            ("SAVEPOINT a;", None),
        ] {
            assert_eq!(transaction_control(s, all(s)), expected, "{s}");
        }
    }

    #[test]
    fn non_transactional_statements() {
        for (s, expected) in [
            (
                "CREATE INDEX CONCURRENTLY i ON t (a);",
                Some("CREATE INDEX CONCURRENTLY"),
            ),
            (
                "create unique index concurrently i on t (a);",
                Some("CREATE INDEX CONCURRENTLY"),
            ),
            (
                "DROP INDEX CONCURRENTLY IF EXISTS i;",
                Some("DROP INDEX CONCURRENTLY"),
            ),
            (
                "REINDEX (VERBOSE) INDEX CONCURRENTLY i;",
                Some("REINDEX CONCURRENTLY"),
            ),
            ("REINDEX TABLE t;", None),
            ("REINDEX DATABASE d;", Some("REINDEX DATABASE")),
            ("VACUUM ANALYZE t;", Some("VACUUM")),
            ("ALTER SYSTEM SET work_mem = '1MB';", Some("ALTER SYSTEM")),
            ("CREATE DATABASE d;", Some("CREATE DATABASE")),
            ("DROP TABLESPACE x;", Some("DROP TABLESPACE")),
            ("CREATE INDEX i ON t (a);", None),
            ("/* CREATE INDEX CONCURRENTLY */ SELECT 1;", None),
            ("ALTER TYPE e ADD VALUE 'x';", None),
        ] {
            assert_eq!(non_transactional(s, all(s)), expected, "{s}");
        }
    }

    #[test]
    fn creates_without_guards() {
        assert_eq!(
            hazards("CREATE TABLE users (id int);"),
            [(
                "CREATE TABLE".to_string(),
                Some("users".to_string()),
                Guard::IfNotExists,
                Retry::Fails
            )]
        );
        assert_eq!(
            constructs("CREATE TABLE IF NOT EXISTS users (id int);"),
            Vec::<String>::new()
        );
        assert_eq!(
            constructs("create unlogged table s.t (id int);"),
            ["CREATE TABLE"]
        );
        assert_eq!(
            constructs("CREATE TEMP TABLE t (id int);"),
            Vec::<String>::new()
        );
        assert_eq!(
            constructs("CREATE UNIQUE INDEX CONCURRENTLY i ON t (a);"),
            ["CREATE INDEX"]
        );
        assert_eq!(
            constructs("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);"),
            Vec::<String>::new()
        );
        assert_eq!(
            hazards("CREATE INDEX ON t (a);"),
            [(
                "CREATE INDEX".to_string(),
                Some("t".to_string()),
                Guard::None,
                Retry::Duplicates
            )]
        );
        assert_eq!(hazards("CREATE TYPE mood AS ENUM ('a');")[0].2, Guard::None);
        assert_eq!(hazards("CREATE VIEW v AS SELECT 1;")[0].2, Guard::OrReplace);
        assert_eq!(
            constructs("CREATE OR REPLACE VIEW v AS SELECT 1;"),
            Vec::<String>::new()
        );
        assert_eq!(
            constructs(
                "CREATE OR REPLACE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql;"
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            constructs("CREATE MATERIALIZED VIEW m AS SELECT 1;"),
            ["CREATE MATERIALIZED VIEW"]
        );
        assert_eq!(
            constructs("CREATE EXTENSION IF NOT EXISTS pgcrypto;"),
            Vec::<String>::new()
        );
        assert_eq!(
            constructs("CREATE EXTENSION pgcrypto;"),
            ["CREATE EXTENSION"]
        );
        assert_eq!(constructs("CREATE SCHEMA app;"), ["CREATE SCHEMA"]);
        assert_eq!(constructs("CREATE SEQUENCE s;"), ["CREATE SEQUENCE"]);
        assert_eq!(
            constructs(
                "CREATE CONSTRAINT TRIGGER t AFTER INSERT ON x FOR EACH ROW EXECUTE FUNCTION f();"
            ),
            ["CREATE TRIGGER"]
        );
        assert_eq!(
            constructs("CREATE POLICY p ON t USING (true);"),
            ["CREATE POLICY"]
        );
    }

    #[test]
    fn alter_table_subcommands() {
        assert_eq!(
            hazards("ALTER TABLE users ADD COLUMN email text, ADD CONSTRAINT u UNIQUE (email);"),
            [
                (
                    "ADD COLUMN".to_string(),
                    Some("email".to_string()),
                    Guard::IfNotExists,
                    Retry::Fails
                ),
                (
                    "ADD CONSTRAINT".to_string(),
                    Some("u".to_string()),
                    Guard::None,
                    Retry::Fails
                ),
            ]
        );
        assert_eq!(
            constructs("ALTER TABLE IF EXISTS users ADD COLUMN IF NOT EXISTS email text;"),
            Vec::<String>::new()
        );
        assert_eq!(
            constructs("ALTER TABLE users ADD email text;"),
            ["ADD COLUMN"]
        );
        assert_eq!(
            hazards("ALTER TABLE users ADD UNIQUE (email);")[0].3,
            Retry::Duplicates
        );
        assert_eq!(
            hazards("ALTER TABLE users ADD PRIMARY KEY (id);")[0].3,
            Retry::Fails
        );
        assert_eq!(
            constructs(
                "ALTER TABLE users DROP COLUMN a, DROP CONSTRAINT IF EXISTS b, DROP IF EXISTS c, DROP d;"
            ),
            ["DROP COLUMN", "DROP COLUMN"]
        );
        assert_eq!(
            constructs(
                "ALTER TABLE users ALTER COLUMN a DROP DEFAULT, ALTER COLUMN b SET NOT NULL;"
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            constructs("ALTER TABLE users RENAME COLUMN a TO b;"),
            ["RENAME COLUMN"]
        );
        assert_eq!(
            constructs("ALTER TABLE users RENAME a TO b;"),
            ["RENAME COLUMN"]
        );
        assert_eq!(
            hazards("ALTER TABLE users RENAME TO people;")[0].2,
            Guard::IfExists
        );
        assert_eq!(
            constructs("ALTER TABLE IF EXISTS users RENAME TO people;"),
            Vec::<String>::new()
        );
        assert_eq!(constructs("ALTER INDEX i RENAME TO j;"), ["RENAME TO"]);
        assert_eq!(
            constructs("ALTER TABLE ONLY p ATTACH PARTITION c FOR VALUES IN (1);"),
            ["ATTACH PARTITION"]
        );
        assert_eq!(
            constructs("ALTER FUNCTION f(int) RENAME TO g;"),
            ["RENAME TO"]
        );
        assert_eq!(
            constructs("ALTER TABLE t ADD CHECK (a > 0) NOT VALID;"),
            ["ADD CONSTRAINT"]
        );
        assert_eq!(
            constructs("ALTER DOMAIN d ADD CONSTRAINT c CHECK (VALUE > 0);"),
            ["ADD CONSTRAINT"]
        );
    }

    #[test]
    fn alter_type_add_value() {
        assert_eq!(
            hazards("ALTER TYPE mood ADD VALUE 'happy' AFTER 'ok';"),
            [(
                "ADD VALUE".to_string(),
                Some("'happy'".to_string()),
                Guard::IfNotExists,
                Retry::Fails
            )]
        );
        assert_eq!(
            constructs("ALTER TYPE mood ADD VALUE IF NOT EXISTS 'happy';"),
            Vec::<String>::new()
        );
        assert_eq!(
            constructs("ALTER TYPE mood RENAME VALUE 'a' TO 'b';"),
            ["RENAME VALUE"]
        );
        let s = "ALTER TYPE public.\"Mood\" ADD VALUE IF NOT EXISTS 'it''s';";
        let add = enum_add_value(s, all(s)).unwrap();
        assert_eq!(add.type_name, "Mood");
        assert_eq!(add.label, "it's");
        assert_eq!(add.span.slice(s), "'it''s'");
        assert_eq!(
            enum_add_value(
                "ALTER TYPE m RENAME VALUE 'a' TO 'b';",
                all("ALTER TYPE m RENAME VALUE 'a' TO 'b';")
            ),
            None
        );
        let s = "CREATE TYPE Mood AS ENUM ('a');";
        assert_eq!(created_type(s, all(s)).as_deref(), Some("mood"));
    }

    #[test]
    fn drops_inserts_and_copies() {
        assert_eq!(constructs("DROP TABLE users;"), ["DROP TABLE"]);
        assert_eq!(
            constructs("DROP TABLE IF EXISTS users;"),
            Vec::<String>::new()
        );
        assert_eq!(constructs("DROP INDEX CONCURRENTLY i;"), ["DROP INDEX"]);
        assert_eq!(
            constructs("DROP INDEX CONCURRENTLY IF EXISTS i;"),
            Vec::<String>::new()
        );
        assert_eq!(
            constructs("DROP MATERIALIZED VIEW m;"),
            ["DROP MATERIALIZED VIEW"]
        );
        assert_eq!(constructs("DROP OWNED BY r;"), Vec::<String>::new());
        assert_eq!(
            hazards("INSERT INTO roles (name) VALUES ('admin');"),
            [(
                "INSERT".to_string(),
                Some("roles".to_string()),
                Guard::OnConflict,
                Retry::Duplicates
            )]
        );
        assert_eq!(
            constructs("INSERT INTO roles (name) VALUES ('admin') ON CONFLICT DO NOTHING;"),
            Vec::<String>::new()
        );
        assert_eq!(
            constructs(
                "INSERT INTO roles (name) SELECT 'a' WHERE NOT EXISTS (SELECT 1 FROM roles);"
            ),
            Vec::<String>::new()
        );
        // Keywords inside strings and comments do not count.
        assert_eq!(
            constructs("INSERT INTO t (a) VALUES ('ON CONFLICT'); -- ON CONFLICT"),
            ["INSERT"]
        );
        assert_eq!(constructs("COPY t (a) FROM STDIN;"), ["COPY"]);
        assert_eq!(constructs("COPY t TO STDOUT;"), Vec::<String>::new());
        assert_eq!(constructs("UPDATE t SET a = 1;"), Vec::<String>::new());
        assert_eq!(
            constructs("COMMENT ON TABLE t IS 'x';"),
            Vec::<String>::new()
        );
        assert_eq!(constructs(""), Vec::<String>::new());
    }

    #[test]
    fn string_values() {
        let toks = crate::lex::tokenize("'a''b' E'c\\'d' N'e' 'x");
        let strings: Vec<Option<String>> = toks
            .iter()
            .filter(|t| t.kind.is_significant())
            .map(|t| string_value("'a''b' E'c\\'d' N'e' 'x", t))
            .collect();
        assert_eq!(
            strings,
            [
                Some("a'b".to_string()),
                Some("c'd".to_string()),
                Some("e".to_string()),
                None
            ]
        );
    }

    #[test]
    fn total_on_odd_input() {
        for s in [
            "ALTER",
            "ALTER TABLE",
            "ALTER TABLE t ADD",
            "CREATE",
            "DROP",
            "INSERT",
            "ALTER TYPE t ADD VALUE",
            "REINDEX (",
            "'",
            "CREATE INDEX",
            "ALTER TABLE t DROP",
        ] {
            let _ = rerun_hazards(s, all(s));
            let _ = non_transactional(s, all(s));
            let _ = transaction_control(s, all(s));
            let _ = enum_add_value(s, all(s));
            let _ = created_type(s, all(s));
        }
    }
}
