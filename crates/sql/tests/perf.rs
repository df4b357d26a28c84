//! A smoke benchmark shaped like the project's: 2,000 files, 24,000 statements, every text-layer
//! pass (tokenize, split, dialect detection, leading keywords, line index). Ignored by default; run
//! with `cargo test -p pgrehearse-sql --release --test perf -- --ignored --nocapture`.

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

#[test]
#[ignore]
fn perf_smoke() {
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
