//! Statement splitting (`split`, psql semantics), drizzle breakpoints, `significant_tokens` and
//! `leading_keywords`. Fixture files in `tests/fixtures/split/` pair a `.sql` file with a
//! `.expected` file listing each statement's code, separated by lines of `----`.

use pgrehearse_sql::{
    Span, Statement, TokenKind, copy_data, leading_keywords, significant_tokens, split,
    split_drizzle_breakpoints,
};

/// The pieces' invariants, checked for every split in this file.
fn check(text: &str, pieces: &[Statement]) {
    let mut at = 0;
    for p in pieces {
        assert_eq!(p.span.start, at, "pieces must be contiguous in {text:?}");
        assert!(p.span.end >= p.span.start);
        assert!(p.code.start >= p.span.start && p.code.end <= p.span.end);
        if p.is_empty() {
            assert_eq!((p.code.start, p.code.end), (p.span.end, p.span.end));
        } else {
            assert_eq!(p.code.end, p.span.end, "code ends the piece in {text:?}");
        }
        at = p.span.end;
    }
    assert_eq!(at, text.len());
    let joined: String = pieces.iter().map(|p| p.span.slice(text)).collect();
    assert_eq!(joined, text);
}

/// The code of every non-empty piece.
fn codes(text: &str) -> Vec<&str> {
    let pieces = split(text);
    check(text, &pieces);
    pieces
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| p.code.slice(text))
        .collect()
}

#[test]
fn empty_input_gives_zero_pieces() {
    assert!(split("").is_empty());
}

#[test]
fn whitespace_or_comment_only_input_gives_one_empty_piece() {
    for text in [
        " ",
        "\n\n",
        "-- just a comment\n",
        "/* a */ /* b */",
        "-- a\r-- b\r",
    ] {
        let pieces = split(text);
        check(text, &pieces);
        assert_eq!(pieces.len(), 1, "{text:?}");
        assert!(pieces[0].is_empty());
        assert_eq!(pieces[0].code, Span::new(text.len(), text.len()));
    }
}

#[test]
fn simple_statements_and_trivia_ownership() {
    let text = "-- header\nCREATE TABLE a (id int);\n\n/* b */ SELECT 1; -- trailing\n";
    let pieces = split(text);
    check(text, &pieces);
    assert_eq!(pieces.len(), 3);
    assert_eq!(
        pieces[0].span.slice(text),
        "-- header\nCREATE TABLE a (id int);"
    );
    assert_eq!(pieces[0].code.slice(text), "CREATE TABLE a (id int);");
    assert_eq!(pieces[1].span.slice(text), "\n\n/* b */ SELECT 1;");
    assert_eq!(pieces[1].code.slice(text), "SELECT 1;");
    assert_eq!(pieces[2].span.slice(text), " -- trailing\n");
    assert!(pieces[2].is_empty());
}

#[test]
fn trailing_statement_without_semicolon() {
    let text = "SELECT 1;\nSELECT 2 -- no semicolon\n";
    let pieces = split(text);
    check(text, &pieces);
    assert_eq!(pieces.len(), 3);
    assert_eq!(pieces[1].code.slice(text), "SELECT 2");
    assert_eq!(pieces[2].span.slice(text), " -- no semicolon\n");
    assert_eq!(codes("SELECT 1"), vec!["SELECT 1"]);
}

#[test]
fn semicolons_inside_comments_do_not_split() {
    assert_eq!(
        codes("SELECT 1 /* /* */ ; */ + 1; SELECT 2;"),
        vec!["SELECT 1 /* /* */ ; */ + 1;", "SELECT 2;"]
    );
    assert_eq!(
        codes("SELECT 1 -- ; not here\n + 1; SELECT 2;"),
        vec!["SELECT 1 -- ; not here\n + 1;", "SELECT 2;"]
    );
}

#[test]
fn semicolons_inside_strings_and_identifiers_do_not_split() {
    assert_eq!(
        codes(r#"SELECT E'it\'s;'; SELECT 'it''s;'; SELECT 1 AS "we;ird"; SELECT 2;"#),
        vec![
            r"SELECT E'it\'s;';",
            "SELECT 'it''s;';",
            r#"SELECT 1 AS "we;ird";"#,
            "SELECT 2;"
        ]
    );
    // A plain string ends at the quote after a backslash (standard_conforming_strings).
    assert_eq!(
        codes(r"SELECT 'a\'; SELECT 2;"),
        vec![r"SELECT 'a\';", "SELECT 2;"]
    );
    assert_eq!(
        codes("SELECT `a;b` FROM t; SELECT 2;"),
        vec!["SELECT `a;b` FROM t;", "SELECT 2;"]
    );
}

#[test]
fn dollar_quoted_bodies() {
    assert_eq!(
        codes("SELECT $$ ; $$; SELECT 2;"),
        vec!["SELECT $$ ; $$;", "SELECT 2;"]
    );
    let text =
        "CREATE FUNCTION f() RETURNS text AS $fn$ SELECT $$;$$; $fn$ LANGUAGE sql;\nSELECT 2;";
    assert_eq!(
        codes(text),
        vec![
            "CREATE FUNCTION f() RETURNS text AS $fn$ SELECT $$;$$; $fn$ LANGUAGE sql;",
            "SELECT 2;"
        ]
    );
    assert_eq!(
        codes("DO $$ BEGIN PERFORM 1; END $$;\nSELECT 2;"),
        vec!["DO $$ BEGIN PERFORM 1; END $$;", "SELECT 2;"]
    );
}

#[test]
fn params_are_not_dollar_quotes() {
    assert_eq!(
        codes("PREPARE p AS SELECT $1; EXECUTE p(1); SELECT $2;"),
        vec!["PREPARE p AS SELECT $1;", "EXECUTE p(1);", "SELECT $2;"]
    );
}

#[test]
fn plpgsql_function_body_with_semicolons() {
    let text = "CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  NEW.updated_at := now();\n  RETURN NEW;\nEND;\n$$;\nCREATE TRIGGER t BEFORE UPDATE ON x FOR EACH ROW EXECUTE FUNCTION touch();";
    let c = codes(text);
    assert_eq!(c.len(), 2);
    assert!(c[0].ends_with("$$;"));
    assert!(c[1].starts_with("CREATE TRIGGER"));
}

#[test]
fn begin_atomic_bodies() {
    let text = "CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT a + b;\n  SELECT CASE WHEN a > 0 THEN 1 ELSE 2 END;\nEND;\nSELECT 2;";
    let c = codes(text);
    assert_eq!(c.len(), 2, "{c:#?}");
    assert!(c[0].ends_with("END;\nEND;"));
    assert_eq!(c[1], "SELECT 2;");

    let text =
        "create or replace procedure p() begin atomic insert into t values (1); end; select 1;";
    assert_eq!(
        codes(text),
        vec![
            "create or replace procedure p() begin atomic insert into t values (1); end;",
            "select 1;"
        ]
    );
}

#[test]
fn begin_is_counted_only_in_create_function_or_procedure() {
    // A transaction block: every statement splits.
    assert_eq!(
        codes("BEGIN; SELECT 1; END;"),
        vec!["BEGIN;", "SELECT 1;", "END;"]
    );
    // CASE ... END outside a BEGIN ATOMIC body is not tracked.
    assert_eq!(
        codes("SELECT CASE WHEN true THEN 1 END; SELECT 2;"),
        vec!["SELECT CASE WHEN true THEN 1 END;", "SELECT 2;"]
    );
    // CREATE TABLE ... a column named begin does not open a block.
    assert_eq!(
        codes("CREATE TABLE t (begin int); SELECT 2;"),
        vec!["CREATE TABLE t (begin int);", "SELECT 2;"]
    );
    // Inside parentheses BEGIN is not counted even in CREATE FUNCTION.
    assert_eq!(
        codes("CREATE FUNCTION f(begin int) RETURNS int AS 'select 1' LANGUAGE sql; SELECT 2;"),
        vec![
            "CREATE FUNCTION f(begin int) RETURNS int AS 'select 1' LANGUAGE sql;",
            "SELECT 2;"
        ]
    );
    // The identifiers must be the statement's first words: a quoted "create" does not count.
    assert_eq!(
        codes("\"create\" function begin; x;"),
        vec!["\"create\" function begin;", "x;"]
    );
}

#[test]
fn parentheses_hold_semicolons() {
    assert_eq!(
        codes("SELECT (1;2); SELECT 3;"),
        vec!["SELECT (1;2);", "SELECT 3;"]
    );
    // An unbalanced `(` swallows the rest of the file, as in psql.
    assert_eq!(codes("SELECT (1; SELECT 2;"), vec!["SELECT (1; SELECT 2;"]);
    // A stray `)` does not go negative.
    assert_eq!(
        codes("SELECT 1); SELECT 2;"),
        vec!["SELECT 1);", "SELECT 2;"]
    );
    // Brackets are not counted (psql does not count them).
    assert_eq!(
        codes("SELECT a[1; SELECT 2;"),
        vec!["SELECT a[1;", "SELECT 2;"]
    );
}

#[test]
fn crlf_and_cr_only_input() {
    let text = "SELECT 1;\r\n-- c\r\nSELECT 2;\r\n";
    let pieces = split(text);
    check(text, &pieces);
    assert_eq!(pieces.len(), 3);
    assert_eq!(pieces[1].span.slice(text), "\r\n-- c\r\nSELECT 2;");
    assert_eq!(pieces[2].span.slice(text), "\r\n");

    let text = "SELECT 1;\r-- c ; still comment\rSELECT 2;\r";
    assert_eq!(codes(text), vec!["SELECT 1;", "SELECT 2;"]);
}

#[test]
fn unterminated_constructs_run_to_end_of_input() {
    assert_eq!(
        codes("SELECT 1; SELECT 'oops; SELECT 2;"),
        vec!["SELECT 1;", "SELECT 'oops; SELECT 2;"]
    );
    assert_eq!(
        codes("SELECT 1; /* open ; SELECT 2;"),
        vec!["SELECT 1;", "/* open ; SELECT 2;"]
    );
    assert_eq!(codes("SELECT $$ open; x"), vec!["SELECT $$ open; x"]);
    assert_eq!(codes("SELECT \"open; x"), vec!["SELECT \"open; x"]);
    let pieces = split("SELECT 1; /* open");
    assert_eq!(pieces.len(), 2);
    assert_eq!(pieces[1].code, Span::new(10, 17));
}

#[test]
fn bare_semicolons_are_empty_queries() {
    let text = "SELECT 1;;\n;";
    assert_eq!(codes(text), vec!["SELECT 1;", ";", ";"]);
}

#[test]
fn go_lines_are_not_separators() {
    assert_eq!(
        codes("CREATE TABLE a (id int)\nGO\nCREATE TABLE b (id int);"),
        vec!["CREATE TABLE a (id int)\nGO\nCREATE TABLE b (id int);"]
    );
}

#[test]
fn psql_meta_lines_are_their_own_pieces() {
    let text = "\\set ON_ERROR_STOP on\nSELECT 1;\n\\i other.sql\nSELECT 2;";
    let pieces = split(text);
    check(text, &pieces);
    let c: Vec<&str> = pieces.iter().map(|p| p.code.slice(text)).collect();
    assert_eq!(
        c,
        vec![
            "\\set ON_ERROR_STOP on",
            "SELECT 1;",
            "\\i other.sql",
            "SELECT 2;"
        ]
    );

    // A meta line ends an unterminated statement before it.
    let text = "SELECT 1\n\\gset\nSELECT 2;";
    let pieces = split(text);
    check(text, &pieces);
    let spans: Vec<&str> = pieces.iter().map(|p| p.span.slice(text)).collect();
    assert_eq!(spans, vec!["SELECT 1", "\n\\gset", "\nSELECT 2;"]);
    assert_eq!(pieces[1].code.slice(text), "\\gset");

    // State resets after a meta line: the parenthesis opened before it is forgotten.
    assert_eq!(
        codes("SELECT (\n\\echo x\nSELECT 1; SELECT 2;"),
        vec!["SELECT (", "\\echo x", "SELECT 1;", "SELECT 2;"]
    );
}

#[test]
fn code_never_starts_with_trivia() {
    let text = "  /* c */ -- d\n SELECT 1 /* in */ ; \n\t";
    for p in split(text) {
        if let Some(first) = significant_tokens(text, p.code).first() {
            assert_eq!(first.span.start, p.code.start);
        }
    }
}

#[test]
fn drizzle_breakpoints() {
    let text = "CREATE TABLE a (id int);\n--> statement-breakpoint\nCREATE TABLE b (id int);";
    let chunks = split_drizzle_breakpoints(text);
    let parts: Vec<&str> = chunks.iter().map(|s| s.slice(text)).collect();
    assert_eq!(
        parts,
        vec!["CREATE TABLE a (id int);\n", "\nCREATE TABLE b (id int);"]
    );

    // A literal split: inside a string or comment the marker still splits (as in drizzle-kit).
    let text = "SELECT '--> statement-breakpoint';";
    let parts: Vec<&str> = split_drizzle_breakpoints(text)
        .iter()
        .map(|s| s.slice(text))
        .collect();
    assert_eq!(parts, vec!["SELECT '", "';"]);

    // JavaScript semantics: no marker → one chunk; empty input → one empty chunk; adjacent
    // markers → an empty chunk between them.
    assert_eq!(split_drizzle_breakpoints("SELECT 1"), vec![Span::new(0, 8)]);
    assert_eq!(split_drizzle_breakpoints(""), vec![Span::new(0, 0)]);
    let m = "--> statement-breakpoint";
    let text = format!("{m}{m}");
    assert_eq!(
        split_drizzle_breakpoints(&text),
        vec![Span::new(0, 0), Span::new(24, 24), Span::new(48, 48)]
    );
}

#[test]
fn significant_tokens_in_a_span() {
    let text = "SELECT 1; /* x */ INSERT INTO t VALUES (1);";
    let pieces = split(text);
    let toks = significant_tokens(text, pieces[1].span);
    let texts: Vec<&str> = toks.iter().map(|t| t.text(text)).collect();
    assert_eq!(
        texts,
        vec!["INSERT", "INTO", "t", "VALUES", "(", "1", ")", ";"]
    );
    // Out-of-range and inverted spans are accepted.
    assert!(significant_tokens(text, Span::new(1000, 2000)).is_empty());
    assert!(significant_tokens(text, Span::new(5, 2)).is_empty());
    // A span inside a multi-byte character is moved back to its start.
    let t = significant_tokens("é", Span::new(1, 2));
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].span, Span::new(0, 2));
    // A span starting at a meta line inside a larger text still sees it as a meta line.
    let text = "SELECT 1;\n\\echo hi";
    let t = significant_tokens(text, Span::new(10, text.len()));
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].kind, TokenKind::PsqlMeta);
}

#[test]
fn leading_keywords_of_statements() {
    let text = "/* c */ create index concurrently if not exists idx on t (a);";
    let code = split(text)[0].code;
    assert_eq!(
        leading_keywords(text, code, 3),
        vec!["CREATE", "INDEX", "CONCURRENTLY"]
    );
    assert_eq!(leading_keywords(text, code, 0), Vec::<String>::new());
    assert_eq!(leading_keywords(text, code, 100).len(), 9);
    // A quoted identifier (or any non-word) stops it.
    let text = "ALTER TABLE \"Users\" ADD x int;";
    assert_eq!(
        leading_keywords(text, Span::new(0, text.len()), 5),
        vec!["ALTER", "TABLE"]
    );
    // Comments between keywords are skipped.
    let text = "CREATE /* x */ UNIQUE -- y\n INDEX i ON t (a);";
    assert_eq!(
        leading_keywords(text, Span::new(0, text.len()), 3),
        vec!["CREATE", "UNIQUE", "INDEX"]
    );
    assert!(leading_keywords("", Span::new(0, 0), 3).is_empty());
}

#[test]
fn fixtures() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/split");
    let mut seen = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixture dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    entries.sort();
    for sql in entries {
        let text = std::fs::read_to_string(&sql).expect("read fixture");
        let expected =
            std::fs::read_to_string(sql.with_extension("expected")).expect("read expected");
        let want: Vec<&str> = expected
            .split("\n----\n")
            .map(|s| s.strip_suffix('\n').unwrap_or(s))
            .filter(|s| !s.is_empty())
            .collect();
        let got = codes(&text);
        assert_eq!(got, want, "fixture {}", sql.display());
        seen += 1;
    }
    assert!(seen >= 3, "fixtures were not found in {}", dir.display());
}

#[test]
fn copy_from_stdin_data_stays_with_its_command() {
    let text = "COPY t (a, b) FROM STDIN;\n1\tit's; raw\n2\t$$\n\\.\nSELECT 1;";
    let pieces = split(text);
    check(text, &pieces);
    assert_eq!(pieces.len(), 2);
    assert_eq!(
        pieces[0].code.slice(text),
        "COPY t (a, b) FROM STDIN;\n1\tit's; raw\n2\t$$\n\\."
    );
    let data = copy_data(text, &pieces[0]).expect("copy data");
    assert_eq!(data.slice(text), "1\tit's; raw\n2\t$$\n\\.");
    assert_eq!(copy_data(text, &pieces[1]), None);
    assert_eq!(pieces[1].code.slice(text), "SELECT 1;");

    // CRLF data lines and an unterminated data block (runs to end of input).
    let text = "copy t from stdin;\r\nx\r\n\\.\r\nselect 2;\r\n";
    assert_eq!(
        codes(text),
        vec!["copy t from stdin;\r\nx\r\n\\.", "select 2;"]
    );
    let text = "COPY t FROM stdin;\nx';\n";
    assert_eq!(codes(text), vec!["COPY t FROM stdin;\nx';\n"]);

    // Not STDIN, or no following line: an ordinary statement.
    assert_eq!(
        codes("COPY t TO STDOUT;\nSELECT 1;"),
        vec!["COPY t TO STDOUT;", "SELECT 1;"]
    );
    assert_eq!(
        codes("COPY t FROM '/tmp/x';\n1;"),
        vec!["COPY t FROM '/tmp/x';", "1;"]
    );
    let pieces = split("COPY t FROM STDIN;");
    assert_eq!(pieces.len(), 1);
    assert_eq!(copy_data("COPY t FROM STDIN;", &pieces[0]), None);

    // psql's \copy ... from stdin reads the following lines too.
    let text = "\\copy t from stdin\na;b\n\\.\nSELECT 1;";
    let pieces = split(text);
    check(text, &pieces);
    assert_eq!(pieces[0].code.slice(text), "\\copy t from stdin\na;b\n\\.");
    assert_eq!(
        copy_data(text, &pieces[0]).map(|d| d.slice(text)),
        Some("a;b\n\\.")
    );
    assert_eq!(
        codes("\\copy t to 'x'\nSELECT 1;"),
        vec!["\\copy t to 'x'", "SELECT 1;"]
    );
}

#[test]
fn leading_trivia_belongs_to_the_following_statement_with_crlf_and_comments() {
    let text = "SELECT 1; -- about two\r\n/* more */\r\nSELECT 2;";
    let pieces = split(text);
    check(text, &pieces);
    assert_eq!(
        pieces[1].span.slice(text),
        " -- about two\r\n/* more */\r\nSELECT 2;"
    );
    assert_eq!(pieces[1].code.slice(text), "SELECT 2;");
}
