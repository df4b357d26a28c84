//! Benchmark of the text layer, shaped like the project's corpus: 2,000 files, 24,000 statements, every
//! pass (tokenize, split, dialect detection, leading keywords, line index); then inputs built to trigger
//! quadratic behaviour. Prints timings; run with `cargo bench -p pgrehearse-sql`.

use std::time::Instant;

use pgrehearse_sql::{LineIndex, detect_dialect, leading_keywords, split, tokenize};

fn corpus() -> Vec<String> {
    let statements = [
        "CREATE TABLE IF NOT EXISTS accounts_{n} (\n    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    email text NOT NULL UNIQUE,\n    tags text[] DEFAULT '{}',\n    created_at timestamptz NOT NULL DEFAULT now()\n);\n",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS accounts_{n}_email ON accounts_{n} USING btree (lower(email));\n",
        "-- add a column\nALTER TABLE accounts_{n} ADD COLUMN note text DEFAULT 'it''s; fine';\n",
        "CREATE OR REPLACE FUNCTION touch_{n}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  NEW.updated_at := now();\n  RETURN NEW;\nEND;\n$$;\n",
        "CREATE TRIGGER t_{n} BEFORE UPDATE ON accounts_{n} FOR EACH ROW EXECUTE FUNCTION touch_{n}();\n",
        "INSERT INTO accounts_{n} (email) VALUES ('a@example.com'), ('b@example.com') ON CONFLICT DO NOTHING;\n",
        "UPDATE accounts_{n} SET tags[1] = 'x' WHERE id = ANY (ARRAY[1, 2, 3]);\n",
        "/* block comment */ COMMENT ON TABLE accounts_{n} IS 'Accounts; the main table';\n",
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'mood_{n}') THEN CREATE TYPE mood_{n} AS ENUM ('a', 'b'); END IF; END $$;\n",
        "CREATE VIEW v_{n} AS SELECT id, email, created_at::date AS day FROM accounts_{n} WHERE email LIKE '%@%';\n",
        "ALTER TABLE accounts_{n} ADD CONSTRAINT accounts_{n}_email_check CHECK (email <> '');\n",
        "GRANT SELECT ON accounts_{n} TO reporting;\n",
    ];
    (0..2000)
        .map(|n| {
            statements
                .iter()
                .map(|s| s.replace("{n}", &n.to_string()))
                .collect()
        })
        .collect()
}

fn corpus_passes() {
    let files = corpus();
    let bytes: usize = files.iter().map(String::len).sum();
    let start = Instant::now();
    let (mut statements, mut tokens, mut hits, mut kw) = (0, 0, 0, 0);
    for text in &files {
        tokens += tokenize(text).len();
        let index = LineIndex::new(text);
        for st in split(text) {
            if !st.is_empty() {
                statements += 1;
                kw += leading_keywords(text, st.code, 3).len();
                let _ = index.line_col(text, st.code.start);
            }
        }
        hits += detect_dialect(text).len();
    }
    let elapsed = start.elapsed();
    println!(
        "{} files, {bytes} bytes, {statements} statements, {tokens} tokens, {kw} keywords, {hits} hits in {elapsed:?}",
        files.len()
    );
    assert_eq!(statements, 24_000);
    assert_eq!(hits, 0);
}

/// Inputs built to trigger quadratic behaviour (deep nesting, endless unterminated constructs,
/// thousands of constructs in one statement).
fn pathological_inputs() {
    let n = 200_000;
    let cases: Vec<(&str, String)> = vec![
        ("open parens", "(".repeat(n)),
        ("nested comments", "/*".repeat(n)),
        ("dollar fragments", "$a".repeat(n)),
        ("dollar tags", "$a$ $b$ ".repeat(n / 4)),
        ("quotes", "'".repeat(n)),
        (
            "enum in one statement",
            format!("CREATE TABLE t ({}", "a ENUM(".repeat(n / 8)),
        ),
        (
            "on update in one statement",
            format!("CREATE TABLE t ({}", "ON UPDATE NOW( ".repeat(n / 8)),
        ),
        ("brackets", format!("SELECT {}", "[a] ".repeat(n / 4))),
        ("go lines", "x\nGO\n".repeat(n / 5)),
        (
            "unsigned",
            format!("CREATE TABLE t ({}", "a int(1) UNSIGNED, ".repeat(n / 16)),
        ),
        (
            "begin atomic",
            format!("CREATE FUNCTION f() {}", "BEGIN CASE ".repeat(n / 8)),
        ),
        ("meta lines", "\\x\n".repeat(n / 3)),
        (
            "copy",
            format!("COPY t FROM stdin;\n{}", "a\tb\n".repeat(n / 4)),
        ),
    ];
    for (name, text) in &cases {
        let start = Instant::now();
        let tokens = tokenize(text).len();
        let pieces = split(text).len();
        let hits = detect_dialect(text).len();
        let index = LineIndex::new(text);
        let _ = index.line_col(text, text.len() / 2);
        let elapsed = start.elapsed();
        println!(
            "{name}: {} bytes, {tokens} tokens, {pieces} pieces, {hits} hits in {elapsed:?}",
            text.len()
        );
    }
}

fn main() {
    corpus_passes();
    pathological_inputs();
}
