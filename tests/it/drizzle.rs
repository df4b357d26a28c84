//! Drizzle schemas (`schema.ts`) as declared schemas: translation without a database, and drift
//! between a Drizzle project's schema files and its migrations on a real server.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pgrehearse::declared::drizzle::{self, Casing, DrizzleError, Translation};
use proptest::prelude::*;

use crate::harness::{Engine, check_json};

/// A copy of the Drizzle fixture project `name` to edit: the temporary directory and the project in it.
fn project_copy(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = std::process::Command::new("cp")
        .arg("-r")
        .arg(drizzle_fixture(name))
        .arg(dir.path().join("project"))
        .status()
        .expect("cp runs");
    assert!(copy.success());
    let root = dir.path().join("project");
    (dir, root)
}

fn drizzle_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/drizzle")
        .join(name)
}

/// Translates in-memory files; the first is the entry.
fn translate(files: &[(&str, &str)], casing: Casing) -> Result<Translation, DrizzleError> {
    let owned: Vec<(PathBuf, Arc<str>)> = files
        .iter()
        .map(|(p, t)| (PathBuf::from(p), Arc::from(*t)))
        .collect();
    let mut load = |p: &Path| {
        owned
            .iter()
            .find(|(q, _)| q == p)
            .map(|(_, t)| Ok(t.clone()))
    };
    drizzle::translate_with(&mut load, &[PathBuf::from(files[0].0)], casing)
}

/// Like `translate`, asserting success.
fn translate_ok(files: &[(&str, &str)], casing: Casing) -> Translation {
    translate(files, casing).expect("the schema translates")
}

/// `(rule, file, line)` of each finding of a translation.
fn finding_lines(t: &Translation) -> Vec<(String, String, usize)> {
    let mut v: Vec<_> = t
        .findings
        .iter()
        .map(|f| {
            let loc = f.location.as_ref().expect("a location");
            let text = &t
                .files
                .iter()
                .find(|(p, _)| *p == loc.file)
                .expect("the file")
                .1;
            let start = loc.span.expect("a span").start;
            let line = 1 + text[..start].matches('\n').count();
            (f.rule.clone(), loc.file.display().to_string(), line)
        })
        .collect();
    v.sort();
    v
}

/// The end-to-end fixture: enum values, NOT NULL vs nullable, a missing index, a table only in
/// schema.ts and a mysqlTable file, each at its line in the .ts file, and nothing else.
#[test]
fn local_drizzle_schema_drift_at_ts_lines() {
    let run = check_json(&drizzle_fixture("drift-project"), Engine::Local, &[]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let mut got: Vec<(String, String, u64, String)> = run
        .findings()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or("").to_string(),
                f["file"].as_str().unwrap_or("").to_string(),
                f["line"].as_u64().unwrap_or(0),
                f["severity"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    got.sort();
    let s = |r: &str, f: &str, l, sev: &str| (r.to_string(), f.to_string(), l, sev.to_string());
    assert_eq!(
        got,
        vec![
            // The import of drizzle-orm/mysql-core, and the mysqlTable declaration.
            s("dialect-mismatch", "src/db/legacy.ts", 1, "error"),
            s("dialect-mismatch", "src/db/legacy.ts", 3, "error"),
            // 'deleted': an enum value only in schema.ts, on the pgEnum line.
            s("schema-drift", "src/db/schema.ts", 4, "error"),
            // users.email: notNull() in schema.ts, nullable in the migrations.
            s("schema-drift", "src/db/schema.ts", 8, "error"),
            // posts_author_id_index: only in schema.ts, at the index() line.
            s("schema-drift", "src/db/schema.ts", 23, "warning"),
            // invoices: a table only in schema.ts.
            s("schema-drift", "src/db/schema.ts", 27, "error"),
        ],
        "{}",
        run.json
    );
    let email = run
        .rule("schema-drift")
        .into_iter()
        .find(|f| f["evidence"]["extra"]["object"] == "public.users.email")
        .expect("a finding for users.email");
    assert_eq!(
        email["message"],
        "column `public.users.email` differs: src/db/schema.ts: character varying(255) NOT NULL, migrations: character varying(255) NULL"
    );
}

#[test]
fn casing_snake_case_names_columns_from_keys() {
    let t = translate_ok(
        &[(
            "schema.ts",
            "import { pgTable, integer, text } from 'drizzle-orm/pg-core';\n\
             export const userProfiles = pgTable('user_profiles', {\n\
               userId: integer().primaryKey(),\n\
               displayName: text('DisplayName'),\n\
               createdAtUTC: text(),\n\
             });\n",
        )],
        Casing::SnakeCase,
    );
    assert!(
        t.sql.contains("\"user_id\" integer PRIMARY KEY NOT NULL"),
        "{}",
        t.sql
    );
    // An explicit name is kept as written.
    assert!(t.sql.contains("\"DisplayName\" text"), "{}", t.sql);
    assert!(t.sql.contains("\"created_at_utc\" text"), "{}", t.sql);
    assert!(t.findings.is_empty(), "{:?}", t.findings);
}

#[test]
fn what_cannot_be_evaluated_is_a_notice_at_its_span() {
    let src = "import { pgTable, integer, text, index } from 'drizzle-orm/pg-core';\n\
               import { helper } from 'some-package';\n\
               export const t = pgTable('t', {\n\
                 id: integer().primaryKey(),\n\
                 computed: helper(),\n\
                 name: text().default(process.env.DEFAULT_NAME),\n\
               }, (t) => [index().on(t.name)]);\n";
    let t = translate_ok(&[("schema.ts", src)], Casing::Preserve);
    let lines = finding_lines(&t);
    assert_eq!(
        lines,
        vec![
            ("declared-not-evaluated".into(), "schema.ts".into(), 5),
            ("declared-not-evaluated".into(), "schema.ts".into(), 6),
        ],
        "{:#?}",
        t.findings
    );
    assert!(
        t.findings
            .iter()
            .all(|f| f.message.starts_with("not evaluated: ") && f.severity.as_str() == "notice"),
        "{:#?}",
        t.findings
    );
    // What could be evaluated is still translated.
    assert!(t.sql.contains("CREATE TABLE \"t\""), "{}", t.sql);
    assert!(t.sql.contains("\"t_name_index\""), "{}", t.sql);
}

#[test]
fn a_table_declared_in_two_files_is_a_finding_on_both() {
    let t = translate_ok(
        &[
            ("index.ts", "export * from './a';\nexport * from './b';\n"),
            (
                "a.ts",
                "import { pgTable, serial } from 'drizzle-orm/pg-core';\n\nexport const users = pgTable('users', { id: serial().primaryKey() });\n",
            ),
            (
                "b.ts",
                "import { pgTable, serial, text } from 'drizzle-orm/pg-core';\nexport const people = pgTable('users', {\n  id: serial().primaryKey(),\n  name: text(),\n});\n",
            ),
        ],
        Casing::Preserve,
    );
    assert_eq!(
        finding_lines(&t),
        vec![
            ("declared-duplicate-table".into(), "a.ts".into(), 3),
            ("declared-duplicate-table".into(), "b.ts".into(), 2),
        ]
    );
}

#[test]
fn imports_and_spread_columns_follow_relative_files() {
    let t = translate_ok(
        &[
            ("db/schema/index.ts", "export * from './users.js';\n"),
            (
                "db/schema/users.ts",
                "import { pgTable, serial } from 'drizzle-orm/pg-core';\nimport { timestamps as ts } from '../columns';\nexport const users = pgTable('users', { id: serial().primaryKey(), ...ts });\n",
            ),
            (
                "db/columns/index.ts",
                "import { timestamp } from 'drizzle-orm/pg-core';\nexport const timestamps = {\n  createdAt: timestamp('created_at').defaultNow(),\n};\n",
            ),
        ],
        Casing::Preserve,
    );
    assert!(
        t.sql.contains("\"created_at\" timestamp DEFAULT now()"),
        "{}",
        t.sql
    );
    assert!(t.findings.is_empty(), "{:?}", t.findings);
    // The spread column's provenance points into the file that declares it.
    let created = t
        .statements
        .iter()
        .flat_map(|s| &s.provenance)
        .find(|p| p.target.columns == ["created_at"])
        .expect("provenance for created_at");
    assert_eq!(created.file, Path::new("db/columns/index.ts"));
}

#[test]
fn malformed_file_is_an_error_with_its_position() {
    let err = translate(
        &[(
            "src/schema.ts",
            "import { pgTable } from 'drizzle-orm/pg-core';\n\nexport const t = pgTable('t', {\n  id: integer(.primaryKey(),\n});\n",
        )],
        Casing::Preserve,
    )
    .expect_err("a syntax error");
    match &err {
        DrizzleError::Syntax { line, column, .. } => {
            assert_eq!((*line, *column), (4, 15), "{err}");
        }
        other => panic!("expected a syntax error, got {other}"),
    }
    assert!(
        err.to_string()
            .starts_with("src/schema.ts:4:15: TypeScript syntax error: "),
        "{err}"
    );
}

#[test]
fn drizzle_config_globs_arrays_and_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("app/src/db/tables")).expect("mkdir");
    std::fs::create_dir_all(root.join("app/migrations/meta")).expect("mkdir");
    std::fs::write(
        root.join("app/drizzle.config.ts"),
        "import { defineConfig } from 'drizzle-kit';\nexport default defineConfig({\n  dialect: 'postgresql',\n  schema: ['./src/db/tables/*.ts', './src/db/enums.ts'],\n  out: './migrations',\n  casing: 'snake_case',\n});\n",
    )
    .expect("write");
    for f in [
        "src/db/tables/a.ts",
        "src/db/tables/b.ts",
        "src/db/enums.ts",
        "src/db/other.ts",
    ] {
        std::fs::write(root.join("app").join(f), "").expect("write");
    }
    let (files, casing) =
        drizzle::project_schema(root, Path::new("app/migrations")).expect("a project");
    assert_eq!(
        files,
        vec![
            PathBuf::from("app/src/db/enums.ts"),
            PathBuf::from("app/src/db/tables/a.ts"),
            PathBuf::from("app/src/db/tables/b.ts"),
        ]
    );
    assert_eq!(casing, Casing::SnakeCase);
    // A config whose `out` names another folder does not own this one.
    assert!(drizzle::project_schema(root, Path::new("app/other")).is_none());
}

proptest! {

    /// Arbitrary text never panics the front end: it translates or reports a positioned error.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = translate(&[("s.ts", &text)], Casing::Preserve);
    }

    /// Schema-shaped token soup (the constructs the evaluator knows, in random order) never panics,
    /// and a syntax error's position is inside the file.
    #[test]
    fn schema_token_soup_never_panics(parts in proptest::collection::vec(prop_oneof![
        Just("export const t = pgTable('t', {"), Just("id: serial().primaryKey(),"),
        Just("a: text('a').notNull().default(sql`now()`),"), Just("}, (t) => ["),
        Just("index().on(t.a),"), Just("uniqueIndex('u').on(t.id).where(sql`${t.a} > 1`),"),
        Just("]);"), Just("});"), Just("...x,"), Just("b: integer().references(() => t.id),"),
        Just("export const e = pgEnum('e', ['a', 'b']);"), Just("export * from './s';"),
        Just("import { pgTable, serial, text, integer, index, uniqueIndex, pgEnum, foreignKey, unique, primaryKey, check } from 'drizzle-orm/pg-core';"),
        Just("import { sql } from 'drizzle-orm';"), Just("("), Just(")"), Just("{"), Just("}"),
        Just("check('c', sql`${t.id} > 0`),"), Just("primaryKey({ columns: [t.id, t.a] }),"),
        Just("const x = { c: text() };"),
        Just("foreignKey({ columns: [t.id], foreignColumns: [] }),"),
        Just("foreignKey({ columns: [], foreignColumns: [t.id] }).onDelete('cascade'),"),
        Just("unique().on(),"), Just("index('i').on(),"), Just("primaryKey({ columns: [] }),"),
        Just("c: integer().generatedAlwaysAs(() => sql`${t.id} + 1`),"),
        Just("d: integer().generatedAlwaysAsIdentity({ startWith: 5 }),"), Just("customType({ dataType() { return 'text' } })"),
    ], 0..40)) {
        let text = parts.join("\n");
        match translate(&[("s.ts", &text)], Casing::Preserve) {
            Ok(_) => {}
            Err(DrizzleError::Syntax { offset, line, column, .. }) => {
                prop_assert!(offset <= text.len());
                prop_assert!(line >= 1 && column >= 1);
            }
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }
}

#[test]
fn deep_nesting_and_recursion_do_not_overflow() {
    let deep = format!(
        "export const x = {}1{};\n",
        "(".repeat(20_000),
        ")".repeat(20_000)
    );
    let _ = translate(&[("a.ts", &deep)], Casing::Preserve);
    let arrays = format!(
        "export const x = {}{};\n",
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    let _ = translate(&[("b.ts", &arrays)], Casing::Preserve);
    for soup in [
        "!", "-", "a = ", "a ? b : ", "x.", "await ", "new ", "typeof ", "a + ", "`${",
    ] {
        let text = format!("export const x = {}1;\n", soup.repeat(20_000));
        let _ = translate(&[("d.ts", &text)], Casing::Preserve);
    }
    let recursive = "import { pgTable } from 'drizzle-orm/pg-core';\nconst f = () => f();\nexport const t = pgTable('t', f());\nconst a = b;\nconst b = a;\nexport const u = pgTable('u', { ...a });\n";
    let t = translate_ok(&[("c.ts", recursive)], Casing::Preserve);
    assert!(!t.findings.is_empty());
}

#[test]
fn drizzle_config_json_and_commonjs_configs_are_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("db/schema")).expect("mkdir");
    std::fs::write(
        root.join("drizzle.config.json"),
        r#"{ "dialect": "postgresql", "schema": "./db/schema", "out": "./drizzle" }"#,
    )
    .expect("write");
    for f in ["db/schema/a.ts", "db/schema/b.ts", "db/schema/types.d.ts"] {
        std::fs::write(root.join(f), "").expect("write");
    }
    let (files, casing) = drizzle::project_schema(root, Path::new("drizzle")).expect("a project");
    assert_eq!(
        files,
        vec![
            PathBuf::from("db/schema/a.ts"),
            PathBuf::from("db/schema/b.ts")
        ]
    );
    assert_eq!(casing, Casing::Preserve);

    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::write(
        root.join("drizzle.config.js"),
        "/** @type {import('drizzle-kit').Config} */\nmodule.exports = {\n  schema: './schema.ts',\n  out: './migrations',\n  casing: 'snake_case',\n};\n",
    )
    .expect("write");
    std::fs::write(root.join("schema.ts"), "").expect("write");
    let (files, casing) =
        drizzle::project_schema(root, Path::new("migrations")).expect("a project");
    assert_eq!(files, vec![PathBuf::from("schema.ts")]);
    assert_eq!(casing, Casing::SnakeCase);
}

#[test]
fn export_lists_and_table_creators_declare_tables() {
    let t = translate_ok(
        &[(
            "schema.ts",
            "import { pgTable, pgTableCreator, serial, text } from 'drizzle-orm/pg-core';\n\
             const users = pgTable('users', { id: serial().primaryKey() });\n\
             export { users };\n\
             const createTable = pgTableCreator((name) => `app_${name}`);\n\
             export const posts = createTable('post', {\n\
               id: serial().primaryKey(),\n\
               title: text(),\n\
             });\n",
        )],
        Casing::Preserve,
    );
    assert!(t.findings.is_empty(), "{:?}", t.findings);
    assert!(t.sql.contains("CREATE TABLE \"users\""), "{}", t.sql);
    assert!(t.sql.contains("CREATE TABLE \"app_post\""), "{}", t.sql);
    // The column's provenance is its own line.
    let title = t
        .statements
        .iter()
        .flat_map(|s| &s.provenance)
        .find(|p| p.target.columns == ["title"])
        .expect("provenance for title");
    assert_eq!(
        &title.text[title.span.start..title.span.end],
        "title: text()"
    );
}

/// Every differential-corpus file, cut and spliced at pseudo-random places (a deterministic loop),
/// translates or reports a positioned syntax error; it never panics.
#[test]
fn mutated_corpus_files_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oracle-drizzle");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "ts"))
        .collect();
    files.sort();
    assert!(files.len() >= 40);
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n.max(1) as u64) as usize
    };
    for f in &files {
        let text = std::fs::read_to_string(f).expect("case");
        let boundaries: Vec<usize> = text
            .char_indices()
            .map(|(i, _)| i)
            .chain([text.len()])
            .collect();
        for _ in 0..40 {
            let a = boundaries[next(boundaries.len())];
            let b = boundaries[next(boundaries.len())];
            let (a, b) = (a.min(b), a.max(b));
            let c = boundaries[next(boundaries.len())];
            let mutated = match next(3) {
                0 => format!("{}{}", &text[..a], &text[b..]),
                1 => format!("{}{}{}", &text[..c], &text[a..b], &text[c..]),
                _ => format!("{}{}", &text[..a], &text[a..b].repeat(3)),
            };
            match translate(&[("m.ts", &mutated)], Casing::Preserve) {
                Ok(_) => {}
                Err(DrizzleError::Syntax { offset, line, .. }) => {
                    assert!(offset <= mutated.len() && line >= 1);
                }
                Err(e) => panic!("unexpected error {e}"),
            }
        }
    }
}

/// Validation schemas beside the tables (zod, drizzle-zod, valibot, …) describe values, not database
/// objects: no `declared-not-evaluated` notice for them; an unknown helper that may build a table still
/// gets one.
#[test]
fn validator_schemas_beside_the_tables_are_not_notices() {
    let (_dir, root) = project_copy("drift-project");
    let schema = root.join("src/db/schema.ts");
    let mut text = std::fs::read_to_string(&schema).expect("reads schema.ts");
    text.push_str(
        "\nimport { z } from 'zod';\nimport { createInsertSchema } from 'drizzle-zod';\nimport * as v from 'valibot';\nimport { makeAuditTable } from '@acme/db-helpers';\n\
         export const insertUserSchema = createInsertSchema(users, { email: (s) => s.email() });\n\
         export const userForm = z.object({ email: z.string().email() });\n\
         export const nameSchema = v.pipe(v.string(), v.minLength(1));\n\
         export const audit = makeAuditTable('audit');\n",
    );
    std::fs::write(&schema, text).expect("writes schema.ts");
    let run = check_json(&root, Engine::Local, &[]);
    let notices: Vec<String> = run
        .rule("declared-not-evaluated")
        .iter()
        .filter_map(|f| f["message"].as_str().map(str::to_string))
        .collect();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].contains("`audit`"), "{notices:?}");
}

/// A Drizzle schema that re-exports a workspace package's tables (`export * from "@acme/db/schema"`,
/// resolved through package.json `workspaces` and the package's `exports`) is compared like a local
/// one, and its drift points into the package.
#[test]
fn a_schema_re_exported_from_a_workspace_package_is_compared() {
    let journal = r#"{"version":"7","dialect":"postgresql","entries":[{"idx":0,"version":"7","when":1717000000000,"tag":"0000_init","breakpoints":true}]}"#;
    let dir = crate::harness::repo(&[
        (
            "package.json",
            r#"{"name": "acme", "private": true, "workspaces": ["apps/*", "packages/*"]}"#,
        ),
        (
            "packages/db/package.json",
            r#"{"name": "@acme/db", "exports": {"./schema": {"types": "./src/schema.ts", "default": "./dist/schema.js"}}}"#,
        ),
        (
            "packages/db/src/schema.ts",
            "import { pgTable, serial, text } from 'drizzle-orm/pg-core';\n\nexport const users = pgTable('users', {\n  id: serial('id').primaryKey(),\n  email: text('email').notNull(),\n  nickname: text('nickname'),\n});\n",
        ),
        ("apps/web/package.json", r#"{"name": "web"}"#),
        (
            "apps/web/drizzle.config.ts",
            "import { defineConfig } from 'drizzle-kit';\nexport default defineConfig({ dialect: 'postgresql', schema: './src/db/schema.ts', out: './drizzle' });\n",
        ),
        (
            "apps/web/src/db/schema.ts",
            "export * from '@acme/db/schema';\n",
        ),
        ("apps/web/drizzle/meta/_journal.json", journal),
        (
            "apps/web/drizzle/0000_init.sql",
            "CREATE TABLE \"users\" (\n\t\"id\" serial PRIMARY KEY NOT NULL,\n\t\"email\" text NOT NULL\n);\n",
        ),
    ]);
    let run = check_json(dir.path(), Engine::Local, &[]);
    let drift: Vec<(String, String)> = run
        .rule("schema-drift")
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap_or("").to_string(),
                f["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        drift
            .iter()
            .any(|(file, message)| file == "packages/db/src/schema.ts"
                && message.contains("nickname")),
        "{drift:?}\n{:#}",
        run.json
    );
    assert!(
        run.rule("declared-not-evaluated").is_empty(),
        "{:#}",
        run.json
    );
}

/// Drift about an object declared in another file of the schema (a column spread in from
/// `columns.ts`) names that file in its message, where the finding points.
#[test]
fn drift_names_the_schema_file_that_holds_the_object() {
    let (_dir, root) = project_copy("drift-project");
    let migration = root.join("drizzle/0000_init.sql");
    let text = std::fs::read_to_string(&migration).expect("reads the migration");
    let edited = text.replacen(
        "\"created_at\" timestamp with time zone DEFAULT now() NOT NULL",
        "\"created_at\" timestamp with time zone DEFAULT now()",
        1,
    );
    assert_ne!(text, edited, "the fixture's users.created_at changed");
    std::fs::write(&migration, edited).expect("writes the migration");
    let run = check_json(&root, Engine::Local, &[]);
    let finding = run
        .rule("schema-drift")
        .into_iter()
        .find(|f| {
            f["message"]
                .as_str()
                .is_some_and(|m| m.contains("users.created_at"))
        })
        .unwrap_or_else(|| panic!("no drift on created_at: {:#}", run.json));
    assert_eq!(finding["file"], "src/db/columns.ts", "{finding:#}");
    let message = finding["message"].as_str().unwrap_or("");
    assert!(
        message.contains("src/db/columns.ts:") && !message.contains("src/db/schema.ts"),
        "{message}"
    );
}

/// A drizzle config whose `schema` cannot be evaluated statically is a notice at the config saying
/// what is compared instead, not a silent fallback.
#[test]
fn a_drizzle_config_schema_that_cannot_be_evaluated_says_so() {
    let (_dir, root) = project_copy("drift-project");
    std::fs::write(
        root.join("drizzle.config.ts"),
        "import { defineConfig } from 'drizzle-kit';\nexport default defineConfig({ dialect: 'postgresql', schema: process.env.DB_SCHEMA!, out: './drizzle' });\n",
    )
    .expect("writes the config");
    let run = check_json(&root, Engine::Local, &[]);
    let notices = run.rule("declared-not-evaluated");
    assert_eq!(notices.len(), 1, "{:#}", run.json);
    assert_eq!(notices[0]["file"], "drizzle.config.ts");
    let message = notices[0]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("cannot be evaluated") && message.contains("src/db/schema.ts"),
        "{message}"
    );
}
