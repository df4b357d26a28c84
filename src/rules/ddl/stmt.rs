//! Tokens and names: a statement read as tokens, and the (possibly qualified) names in it.

use super::*;

/// A possibly schema-qualified, normalised name (unquoted identifiers fold to lower case).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct Name {
    pub(super) schema: Option<String>,
    pub(super) name: String,
}

impl Name {
    /// The same object, when an unqualified name may resolve to the qualified one.
    pub(super) fn same(&self, other: &Name) -> bool {
        self.name == other.name
            && (self.schema.is_none() || other.schema.is_none() || self.schema == other.schema)
    }

    pub(super) fn display(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// One statement's significant tokens (the terminating `;` left out).
pub(super) struct Stmt<'a> {
    pub(super) text: &'a str,
    pub(super) span: Span,
    pub(super) toks: Vec<Token>,
}

impl<'a> Stmt<'a> {
    pub(super) fn new(text: &'a str, span: Span) -> Stmt<'a> {
        let mut toks = sql::significant_tokens(text, span);
        while toks.last().is_some_and(|t| t.kind == TokenKind::Semicolon) {
            toks.pop();
        }
        // COPY … FROM STDIN carries its data lines in the same span, after the command's `;`: never
        // read them as SQL.
        if toks.first().is_some_and(|t| t.is_word(text, "COPY")) {
            let end = toks
                .iter()
                .position(|t| t.kind == TokenKind::Semicolon)
                .unwrap_or(toks.len());
            toks.truncate(end);
        }
        Stmt { text, span, toks }
    }

    pub(super) fn len(&self) -> usize {
        self.toks.len()
    }

    pub(super) fn kind(&self, i: usize) -> Option<TokenKind> {
        self.toks.get(i).map(|t| t.kind)
    }

    /// The keyword at `i`, upper-cased (`None` for anything but a plain word).
    pub(super) fn word(&self, i: usize) -> Option<String> {
        self.toks
            .get(i)
            .filter(|t| t.kind == TokenKind::Word)
            .map(|t| t.text(self.text).to_ascii_uppercase())
    }

    pub(super) fn is(&self, i: usize, kw: &str) -> bool {
        self.toks.get(i).is_some_and(|t| t.is_word(self.text, kw))
    }

    /// Whether the keywords `kws` start at `i`.
    pub(super) fn seq(&self, i: usize, kws: &[&str]) -> bool {
        kws.iter().enumerate().all(|(k, kw)| self.is(i + k, kw))
    }

    /// Whether the keyword sequence occurs anywhere in `range` at parenthesis depth 0.
    pub(super) fn has(&self, range: (usize, usize), kws: &[&str]) -> bool {
        self.find(range, kws).is_some()
    }

    /// Where the keyword sequence first occurs in `range` at parenthesis depth 0.
    pub(super) fn find(&self, (from, to): (usize, usize), kws: &[&str]) -> Option<usize> {
        let mut depth = 0i32;
        for i in from..to.min(self.len()) {
            match self.kind(i) {
                Some(TokenKind::LParen | TokenKind::LBracket) => depth += 1,
                Some(TokenKind::RParen | TokenKind::RBracket) => depth -= 1,
                _ if depth == 0 && self.seq(i, kws) => return Some(i),
                _ => {}
            }
        }
        None
    }

    pub(super) fn ident(&self, i: usize) -> Option<String> {
        ident(self.text, self.toks.get(i)?)
    }

    /// A possibly qualified name at `i` and the index after it.
    pub(super) fn name(&self, i: usize) -> Option<(Name, usize)> {
        let mut parts = vec![self.ident(i)?];
        let mut j = i + 1;
        while self.kind(j) == Some(TokenKind::Dot) {
            parts.push(self.ident(j + 1)?);
            j += 2;
        }
        let name = parts.pop()?;
        Some((
            Name {
                schema: parts.pop(),
                name,
            },
            j,
        ))
    }

    /// Skips `IF EXISTS` / `IF NOT EXISTS` at `i`.
    pub(super) fn skip_if(&self, i: usize) -> usize {
        if self.seq(i, &["IF", "NOT", "EXISTS"]) {
            i + 3
        } else if self.seq(i, &["IF", "EXISTS"]) {
            i + 2
        } else {
            i
        }
    }

    /// The byte span of tokens `from..to` (at least one token).
    pub(super) fn span_of(&self, from: usize, to: usize) -> Span {
        let first = self.toks.get(from).or(self.toks.last());
        let last = self.toks.get(to.saturating_sub(1).max(from)).or(first);
        match (first, last) {
            (Some(a), Some(b)) => Span::new(a.span.start, b.span.end.max(a.span.start)),
            _ => self.span,
        }
    }

    /// The index of the parenthesis closing the one at `open`.
    pub(super) fn close(&self, open: usize) -> Option<usize> {
        let mut depth = 0i32;
        for i in open..self.len() {
            match self.kind(i) {
                Some(TokenKind::LParen) => depth += 1,
                Some(TokenKind::RParen) => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// Ranges of the comma-separated items of `from..to` at parenthesis depth 0.
    pub(super) fn items(&self, from: usize, to: usize) -> Vec<(usize, usize)> {
        let to = to.min(self.len());
        let mut out = Vec::new();
        let mut depth = 0i32;
        let mut start = from;
        for i in from..to {
            match self.kind(i) {
                Some(TokenKind::LParen | TokenKind::LBracket) => depth += 1,
                Some(TokenKind::RParen | TokenKind::RBracket) => depth -= 1,
                Some(TokenKind::Comma) if depth == 0 => {
                    if start < i {
                        out.push((start, i));
                    }
                    start = i + 1;
                }
                _ => {}
            }
        }
        if start < to {
            out.push((start, to));
        }
        out
    }

    /// Names of a comma-separated list starting at `i` (`DROP VIEW a, b.c`), with their token
    /// indexes; a `(…)` after a name (function arguments) is skipped.
    pub(super) fn name_list(&self, i: usize) -> Vec<(Name, usize)> {
        let mut out = Vec::new();
        let mut j = i;
        while let Some((n, next)) = self.name(j) {
            out.push((n, j));
            j = next;
            if self.kind(j) == Some(TokenKind::LParen) {
                match self.close(j) {
                    Some(c) => j = c + 1,
                    None => break,
                }
            }
            if self.kind(j) == Some(TokenKind::Comma) {
                j += 1;
            } else {
                break;
            }
        }
        out
    }
}
