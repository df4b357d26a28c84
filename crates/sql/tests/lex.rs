//! Tokenizer tests: one or more per token kind, plus the PostgreSQL corner cases that decide where
//! statements split.

use pgrehearse_sql::{Token, TokenKind, TokenKind::*, describe_unterminated, tokenize};

/// `(kind, text)` for every token.
fn toks(text: &str) -> Vec<(TokenKind, &str)> {
    let tokens = tokenize(text);
    assert_covers(text, &tokens);
    tokens.iter().map(|t| (t.kind, t.text(text))).collect()
}

/// Significant `(kind, text)` only.
fn sig(text: &str) -> Vec<(TokenKind, &str)> {
    toks(text)
        .into_iter()
        .filter(|(k, _)| k.is_significant())
        .collect()
}

fn assert_covers(text: &str, tokens: &[Token]) {
    let mut at = 0;
    for t in tokens {
        assert_eq!(t.span.start, at, "gap or overlap at {at} in {text:?}");
        assert!(t.span.end > t.span.start, "empty token in {text:?}");
        at = t.span.end;
    }
    assert_eq!(at, text.len(), "tokens do not reach the end of {text:?}");
}

#[test]
fn empty_input_has_no_tokens() {
    assert!(tokenize("").is_empty());
}

#[test]
fn whitespace_runs_include_all_line_endings() {
    assert_eq!(
        toks(" \t\r\n\r\x0b\x0c"),
        vec![(Whitespace, " \t\r\n\r\x0b\x0c")]
    );
    assert_eq!(
        toks("a \n b"),
        vec![(Word, "a"), (Whitespace, " \n "), (Word, "b")]
    );
}

#[test]
fn line_comment_stops_before_lf_cr_or_end() {
    assert_eq!(
        toks("-- hi\nx"),
        vec![(LineComment, "-- hi"), (Whitespace, "\n"), (Word, "x")]
    );
    assert_eq!(
        toks("-- hi\rx"),
        vec![(LineComment, "-- hi"), (Whitespace, "\r"), (Word, "x")]
    );
    assert_eq!(toks("--"), vec![(LineComment, "--")]);
    assert_eq!(toks("-- ; 'x"), vec![(LineComment, "-- ; 'x")]);
}

#[test]
fn block_comments_nest() {
    assert_eq!(
        toks("/* a /* b */ ; */x"),
        vec![(BlockComment, "/* a /* b */ ; */"), (Word, "x")]
    );
    assert_eq!(toks("/**/"), vec![(BlockComment, "/**/")]);
    assert_eq!(toks("/* ** */"), vec![(BlockComment, "/* ** */")]);
    assert_eq!(toks("/*/"), vec![(Unterminated, "/*/")]);
    assert_eq!(
        toks("/* /* */"),
        vec![(Unterminated, "/* /* */")],
        "one level still open"
    );
}

#[test]
fn words_include_dollar_digits_and_non_ascii() {
    assert_eq!(sig("foo_1$bar"), vec![(Word, "foo_1$bar")]);
    assert_eq!(sig("café"), vec![(Word, "café")]);
    assert_eq!(sig("日本 語"), vec![(Word, "日本"), (Word, "語")]);
    // `AS$$` is one identifier in PostgreSQL, not AS + dollar quote.
    assert_eq!(sig("AS$$x"), vec![(Word, "AS$$x")]);
    // A non-ASCII no-break space is an identifier character in PostgreSQL too.
    assert_eq!(sig("a\u{a0}b"), vec![(Word, "a\u{a0}b")]);
}

#[test]
fn quoted_identifiers() {
    assert_eq!(sig(r#""we;ird""#), vec![(QuotedIdent, r#""we;ird""#)]);
    assert_eq!(sig(r#""a""b""#), vec![(QuotedIdent, r#""a""b""#)]);
    assert_eq!(sig(r#"U&"d\0061t""#), vec![(QuotedIdent, r#"U&"d\0061t""#)]);
    assert_eq!(sig(r#"u&"x""#), vec![(QuotedIdent, r#"u&"x""#)]);
    assert_eq!(sig(r#""open ;"#), vec![(Unterminated, r#""open ;"#)]);
    // A backslash does not escape in a quoted identifier.
    assert_eq!(
        sig(r#""a\" b"#),
        vec![(QuotedIdent, r#""a\""#), (Word, "b")]
    );
}

#[test]
fn standard_strings() {
    assert_eq!(sig("'it''s;'"), vec![(String, "'it''s;'")]);
    assert_eq!(sig("''"), vec![(String, "''")]);
    assert_eq!(sig("''''"), vec![(String, "''''")]);
    // standard_conforming_strings: a backslash is an ordinary character.
    assert_eq!(sig(r"'a\' ;"), vec![(String, r"'a\'"), (Semicolon, ";")]);
    assert_eq!(
        sig("'never closed; x"),
        vec![(Unterminated, "'never closed; x")]
    );
    assert_eq!(sig("'ünï'"), vec![(String, "'ünï'")]);
}

#[test]
fn escape_strings() {
    assert_eq!(sig(r"E'it\'s;'"), vec![(String, r"E'it\'s;'")]);
    assert_eq!(sig(r"e'a\\' b"), vec![(String, r"e'a\\'"), (Word, "b")]);
    assert_eq!(sig(r"E'a''b'"), vec![(String, r"E'a''b'")]);
    assert_eq!(sig(r"E'\"), vec![(Unterminated, r"E'\")]);
    assert_eq!(sig(r"E'\é'"), vec![(String, r"E'\é'")]);
    // Only a token-initial E starts an escape string.
    assert_eq!(sig(r"xe'a\'"), vec![(Word, "xe"), (String, r"'a\'")]);
}

#[test]
fn escape_string_continues_across_a_newline() {
    // scan.l: E'a' <newline> 'b\'c' is one escape string, so `\'` is an escape in the second part.
    let text = "E'a'\n'b\\';'";
    assert_eq!(
        sig(text),
        vec![(String, "E'a'"), (String, "'b\\';'")],
        "the continuation is lexed as an escape string"
    );
    // Without a newline it is not a continuation (and the next quote starts a plain string).
    assert_eq!(
        sig("E'a' 'b\\' x"),
        vec![(String, "E'a'"), (String, "'b\\'"), (Word, "x")]
    );
    // Comments may sit between the parts.
    assert_eq!(
        sig("E'a' -- c\n  'b\\'';"),
        vec![(String, "E'a'"), (String, "'b\\''"), (Semicolon, ";")]
    );
}

#[test]
fn prefixed_strings() {
    assert_eq!(sig("N'x;y'"), vec![(String, "N'x;y'")]);
    assert_eq!(sig("B'1010'"), vec![(String, "B'1010'")]);
    assert_eq!(sig("X'1F'"), vec![(String, "X'1F'")]);
    assert_eq!(sig("U&'d\\0061t'"), vec![(String, "U&'d\\0061t'")]);
    assert_eq!(sig("U&x"), vec![(Word, "U"), (Operator, "&"), (Word, "x")]);
    assert_eq!(sig("n"), vec![(Word, "n")]);
}

#[test]
fn dollar_strings() {
    assert_eq!(sig("$$ ; $$"), vec![(DollarString, "$$ ; $$")]);
    assert_eq!(
        sig("$fn$ a $$ b $x$ ; $fn$;"),
        vec![(DollarString, "$fn$ a $$ b $x$ ; $fn$"), (Semicolon, ";")]
    );
    assert_eq!(sig("$a$$a$"), vec![(DollarString, "$a$$a$")]);
    assert_eq!(sig("$_ü$x$_ü$"), vec![(DollarString, "$_ü$x$_ü$")]);
    // Tags are case-sensitive.
    assert_eq!(sig("$a$ $A$"), vec![(Unterminated, "$a$ $A$")]);
    assert_eq!(sig("$$ never"), vec![(Unterminated, "$$ never")]);
    // A tag cannot start with a digit: that is a parameter.
    assert_eq!(sig("$1$"), vec![(Param, "$1"), (Operator, "$")]);
    // `$abc` without a closing `$` is a lone `$`.
    assert_eq!(
        sig("$abc x"),
        vec![(Operator, "$"), (Word, "abc"), (Word, "x")]
    );
    assert_eq!(sig("$"), vec![(Operator, "$")]);
    assert_eq!(sig("$ $"), vec![(Operator, "$"), (Operator, "$")]);
}

#[test]
fn params_do_not_start_dollar_strings() {
    assert_eq!(
        sig("$1 + $23;"),
        vec![
            (Param, "$1"),
            (Operator, "+"),
            (Param, "$23"),
            (Semicolon, ";")
        ]
    );
    assert_eq!(sig("$1abc"), vec![(Param, "$1abc")]);
}

#[test]
fn numbers() {
    for n in [
        "42", "1.5", ".5", "1.", "1e10", "1E-3", "2.5e+7", "0x1F", "0o17", "0b101", "1_000",
    ] {
        assert_eq!(sig(n), vec![(Number, n)], "{n}");
    }
    assert_eq!(
        sig("1..10"),
        vec![(Number, "1"), (Operator, ".."), (Number, "10")]
    );
    assert_eq!(sig("123abc"), vec![(Number, "123abc")]);
    assert_eq!(sig("1$$x$$"), vec![(Number, "1"), (DollarString, "$$x$$")]);
    assert_eq!(sig("1e"), vec![(Number, "1e")]);
}

#[test]
fn punctuation() {
    assert_eq!(
        sig("( ) [ ] , . ;"),
        vec![
            (LParen, "("),
            (RParen, ")"),
            (LBracket, "["),
            (RBracket, "]"),
            (Comma, ","),
            (Dot, "."),
            (Semicolon, ";")
        ]
    );
    assert_eq!(sig("a.b"), vec![(Word, "a"), (Dot, "."), (Word, "b")]);
}

#[test]
fn operators() {
    assert_eq!(
        sig("x::int"),
        vec![(Word, "x"), (Operator, "::"), (Word, "int")]
    );
    for op in [
        "=", "<>", "!=", "->>", "#>>", "@>", "||", ":=", "=>", "~~*", "%", "^",
    ] {
        assert_eq!(sig(op), vec![(Operator, op)], "{op}");
    }
    // A comment start ends an operator run.
    assert_eq!(
        toks("a+--c\n"),
        vec![
            (Word, "a"),
            (Operator, "+"),
            (LineComment, "--c"),
            (Whitespace, "\n")
        ]
    );
    assert_eq!(
        toks("*/*x*/"),
        vec![(Operator, "*"), (BlockComment, "/*x*/")]
    );
    // Bytes no rule claims are one-byte operators.
    assert_eq!(sig("{}"), vec![(Operator, "{"), (Operator, "}")]);
    assert_eq!(sig("\0"), vec![(Operator, "\0")]);
}

#[test]
fn backticks() {
    assert_eq!(sig("`a;b`"), vec![(Backtick, "`a;b`")]);
    assert_eq!(sig("`a``b`"), vec![(Backtick, "`a``b`")]);
    assert_eq!(
        sig("`t`.`c`"),
        vec![(Backtick, "`t`"), (Dot, "."), (Backtick, "`c`")]
    );
    // An unmatched backtick is one byte, never swallowing the rest of the file.
    assert_eq!(
        sig("a ` b;"),
        vec![(Word, "a"), (Backtick, "`"), (Word, "b"), (Semicolon, ";")]
    );
}

#[test]
fn psql_meta_lines() {
    assert_eq!(
        toks("\\set x 1\nselect"),
        vec![
            (PsqlMeta, "\\set x 1"),
            (Whitespace, "\n"),
            (Word, "select")
        ]
    );
    assert_eq!(
        sig("select 1;\n  \\i other.sql\r\nx"),
        vec![
            (Word, "select"),
            (Number, "1"),
            (Semicolon, ";"),
            (PsqlMeta, "\\i other.sql"),
            (Word, "x")
        ]
    );
    // Not at line start: a one-byte operator.
    assert_eq!(
        sig("a \\ b"),
        vec![(Word, "a"), (Operator, "\\"), (Word, "b")]
    );
    // Inside a string it is just string content.
    assert_eq!(sig("'\n\\x'"), vec![(String, "'\n\\x'")]);
}

#[test]
fn unterminated_description() {
    for (text, what) in [
        ("/* x", "block comment"),
        ("'x", "quoted string"),
        ("E'x", "quoted string"),
        ("\"x", "quoted identifier"),
        ("U&\"x", "quoted identifier"),
        ("$$x", "dollar-quoted string"),
    ] {
        let tokens = tokenize(text);
        assert_eq!(tokens.len(), 1, "{text}");
        assert_eq!(tokens[0].kind, Unterminated, "{text}");
        assert_eq!(describe_unterminated(text, &tokens[0]), what, "{text}");
    }
}

#[test]
fn token_helpers() {
    let text = "Select x";
    let t = tokenize(text);
    assert!(t[0].is_word(text, "SELECT"));
    assert!(!t[1].is_word(text, "SELECT"));
    assert!(Whitespace.is_trivia() && LineComment.is_trivia() && BlockComment.is_trivia());
    assert!(Unterminated.is_significant() && PsqlMeta.is_significant());
}

#[test]
fn a_realistic_statement() {
    let text = "CREATE INDEX CONCURRENTLY idx ON t USING gin ((data->>'k')) WHERE a <> $1;";
    let kinds: Vec<TokenKind> = sig(text).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        kinds,
        vec![
            Word, Word, Word, Word, Word, Word, Word, Word, LParen, LParen, Word, Operator, String,
            RParen, RParen, Word, Word, Operator, Param, Semicolon
        ]
    );
}
