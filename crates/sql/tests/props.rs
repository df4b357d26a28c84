//! Property tests: every public function is total on arbitrary input and keeps its span invariants.

use pgrehearse_sql::{
    Lexer, LineIndex, Span, char_pos_to_byte, copy_data, detect_dialect, leading_keywords,
    significant_tokens, split, split_drizzle_breakpoints, tokenize,
};
use proptest::prelude::*;

/// SQL-ish fragments that exercise every lexer state and splitting rule.
const FRAGMENTS: &[&str] = &[
    ";",
    "'",
    "''",
    "\"",
    "$$",
    "$a$",
    "$1",
    "$",
    "--",
    "/*",
    "*/",
    "\n",
    "\r",
    "\r\n",
    " ",
    "\t",
    "begin atomic",
    "begin",
    "end",
    "case",
    "create",
    "function",
    "procedure",
    "or replace",
    "(",
    ")",
    "[",
    "]",
    "E'",
    "\\",
    "\\'",
    "\\set x",
    "`",
    "U&\"",
    "U&'",
    "select",
    "x",
    "1",
    "1.5e",
    "é",
    "😀",
    "日本",
    "::",
    ".",
    ",",
    "ENGINE=InnoDB",
    "AUTO_INCREMENT",
    "GO",
    "[dbo]",
    "int(11)",
    "IDENTITY(1,1)",
    "copy t from stdin",
    "\\.",
    "--> statement-breakpoint",
    "DELIMITER",
    "CREATE TABLE t (",
    "datetime",
    "ON UPDATE CURRENT_TIMESTAMP",
    "KEY k (a)",
    "ARRAY",
];

fn sqlish() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..40).prop_map(|v| v.concat())
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), sqlish(), "[ -~\\n\\r\\té€😀]{0,80}",]
}

fn check_tokens(text: &str) {
    let tokens = tokenize(text);
    let mut at = 0;
    for t in &tokens {
        assert_eq!(t.span.start, at, "gap/overlap in {text:?}");
        assert!(t.span.end > t.span.start, "empty token in {text:?}");
        assert!(text.is_char_boundary(t.span.start) && text.is_char_boundary(t.span.end));
        at = t.span.end;
    }
    assert_eq!(at, text.len());
}

fn check_split(text: &str) {
    let pieces = split(text);
    if text.is_empty() {
        assert!(pieces.is_empty());
    }
    let mut at = 0;
    for p in &pieces {
        assert_eq!(p.span.start, at, "pieces not contiguous in {text:?}");
        assert!(p.span.end > p.span.start, "empty piece in {text:?}");
        assert!(
            p.code.start >= p.span.start && p.code.end <= p.span.end,
            "{p:?}"
        );
        assert!(text.is_char_boundary(p.span.end));
        if p.is_empty() {
            assert_eq!(p.code, Span::new(p.span.end, p.span.end));
        } else {
            assert_eq!(p.code.end, p.span.end);
            // The code starts with a significant token.
            let first = Lexer::with_span(text, p.code).next().expect("a token");
            assert_eq!(first.span.start, p.code.start);
            assert!(
                first.kind.is_significant(),
                "code starts with {first:?} in {text:?}"
            );
            if let Some(data) = copy_data(text, p) {
                assert!(data.start > p.code.start && data.end == p.code.end);
            }
        }
        at = p.span.end;
    }
    assert_eq!(at, text.len());
    let joined: String = pieces.iter().map(|p| p.span.slice(text)).collect();
    assert_eq!(joined, text);
    // Trivia-only pieces can only be the last one.
    for p in pieces.iter().rev().skip(1) {
        assert!(
            !p.is_empty(),
            "a trivia-only piece before the end in {text:?}"
        );
    }
}

fn check_dialect(text: &str) {
    let hits = detect_dialect(text);
    let mut last = 0;
    for h in &hits {
        assert!(
            h.span.start <= h.span.end && h.span.end <= text.len(),
            "{h:?}"
        );
        assert!(text.is_char_boundary(h.span.start) && text.is_char_boundary(h.span.end));
        assert!(!h.span.is_empty());
        assert!(h.span.start >= last, "hits out of order");
        last = h.span.start;
    }
}

/// Naive reference for `LineIndex::line_col` at a char boundary.
fn reference_line_col(text: &str, offset: usize) -> (u32, u32) {
    let (mut line, mut col) = (1u32, 1u32);
    let mut chars = text[..offset].chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' | '\n' => {
                line += 1;
                col = 1;
            }
            _ => col += 1,
        }
    }
    // An offset between CR and LF is still on the CR's line.
    if text[..offset].ends_with('\r') && text[offset..].starts_with('\n') {
        let before = reference_line_col(text, offset - 1);
        return (before.0, before.1 + 1);
    }
    (line, col)
}

/// 512 cases per property, or `PROPTEST_CASES` when set (for longer local fuzzing runs).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn tokenize_covers_input(text in any_text()) {
        check_tokens(&text);
    }

    #[test]
    fn split_invariants(text in any_text()) {
        check_split(&text);
    }

    #[test]
    fn dialect_is_total(text in any_text()) {
        check_dialect(&text);
    }

    /// Totality: classification never panics, whatever the statement text.
    #[test]
    fn target_is_total(text in any_text()) {
        for piece in pgrehearse_sql::split(&text) {
            let _ = pgrehearse_sql::target(&text, piece.code);
        }
    }

    #[test]
    fn line_index_is_total_and_correct(text in any_text(), offsets in prop::collection::vec(any::<usize>(), 0..8)) {
        let idx = LineIndex::new(&text);
        let count = idx.line_count();
        for offset in offsets.into_iter().chain(0..=text.len() + 2) {
            let (line, col) = idx.line_col(&text, offset);
            prop_assert!(line >= 1 && col >= 1);
            prop_assert!((line as usize) <= count);
            if offset <= text.len() && text.is_char_boundary(offset) {
                prop_assert_eq!((line, col), reference_line_col(&text, offset));
            }
        }
        for line in 0..=count as u32 + 1 {
            if let Some(span) = idx.line_span(line) {
                let s = span.slice(&text);
                prop_assert!(!s.contains('\n') && !s.contains('\r'));
                prop_assert_eq!(span.len(), s.len());
            } else {
                prop_assert!(line == 0 || line as usize > count);
            }
        }
    }

    #[test]
    fn char_positions_match_char_indices(text in any_text(), extra in any::<usize>()) {
        let n = text.chars().count();
        for (i, (b, _)) in text.char_indices().enumerate() {
            prop_assert_eq!(char_pos_to_byte(&text, i + 1), Some(b));
        }
        prop_assert_eq!(char_pos_to_byte(&text, n + 1), Some(text.len()));
        prop_assert_eq!(char_pos_to_byte(&text, 0), None);
        if extra > n + 1 {
            prop_assert_eq!(char_pos_to_byte(&text, extra), None);
        }
    }

    #[test]
    fn span_queries_are_total(text in any_text(), a in 0usize..200, b in 0usize..200, n in 0usize..6) {
        let span = Span::new(a, b);
        let _ = span.slice(&text);
        for t in significant_tokens(&text, span) {
            prop_assert!(t.kind.is_significant());
            prop_assert!(t.span.end <= text.len());
            prop_assert!(text.is_char_boundary(t.span.start) && text.is_char_boundary(t.span.end));
        }
        prop_assert!(leading_keywords(&text, span, n).len() <= n);
    }

    #[test]
    fn drizzle_chunks_cover_everything_but_markers(text in any_text()) {
        let chunks = split_drizzle_breakpoints(&text);
        prop_assert!(!chunks.is_empty());
        let rebuilt: Vec<&str> = chunks.iter().map(|s| s.slice(&text)).collect();
        prop_assert_eq!(rebuilt.join("--> statement-breakpoint"), text.clone());
    }
}
