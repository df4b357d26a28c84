//! Prisma declared schemas: a datamodel ahead of its migrations is drift at the `.prisma` lines; a
//! malformed schema is a tool error naming the file, line and column; the front end never panics.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pgrehearse::declared::prisma;
use proptest::prelude::*;

use crate::harness::{Engine, check_json, command, engine_args};

fn prisma_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/prisma")
        .join(name)
}

fn translate(text: &str) -> Result<prisma::Translation, prisma::PrismaError> {
    prisma::translate(&[(PathBuf::from("schema.prisma"), Arc::from(text))])
}

/// Issue 4: a model, an enum and a field with no migration are drift at the model's, the enum's and
/// the field's line of prisma/schema.prisma, and nothing else is reported.
#[test]
fn local_issue_4_datamodel_ahead_of_migrations_is_drift_at_prisma_lines() {
    datamodel_ahead_of_migrations(Engine::Local);
}

#[test]
fn docker_issue_4_datamodel_ahead_of_migrations_is_drift_at_prisma_lines() {
    if crate::harness::skip_docker() {
        return;
    }
    datamodel_ahead_of_migrations(Engine::Docker);
}

fn datamodel_ahead_of_migrations(engine: Engine) {
    let run = check_json(&prisma_fixture("ahead"), engine, &[]);
    assert_eq!(run.code(), 1, "{}\n{}", run.json, run.stderr());
    assert_eq!(run.rules(), vec!["schema-drift"; 3], "{}", run.json);
    let mut positions = run.positions("schema-drift");
    positions.sort();
    assert_eq!(
        positions,
        vec![
            // `bio String?` in model User.
            ("prisma/schema.prisma".to_string(), 18, 3),
            // `model Comment`.
            ("prisma/schema.prisma".to_string(), 36, 1),
            // `enum Visibility`.
            ("prisma/schema.prisma".to_string(), 47, 1),
        ],
        "{}",
        run.json
    );
    let objects: Vec<&str> = run
        .rule("schema-drift")
        .iter()
        .map(|f| f["evidence"]["extra"]["object"].as_str().unwrap_or(""))
        .collect();
    assert!(objects.contains(&"public.\"User\".bio"), "{objects:?}");
    assert!(objects.contains(&"public.\"Comment\""), "{objects:?}");
    assert!(objects.contains(&"public.\"Visibility\""), "{objects:?}");
}

/// The same project with the datamodel the migrations were generated from: no drift.
#[test]
fn prisma_schema_matching_its_migrations_is_clean() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = prisma_fixture("ahead/prisma");
    let dst = dir.path().join("prisma");
    std::fs::create_dir_all(dst.join("migrations/20240101000000_init")).expect("mkdir");
    for f in [
        "migrations/migration_lock.toml",
        "migrations/20240101000000_init/migration.sql",
    ] {
        std::fs::copy(src.join(f), dst.join(f)).expect("copy");
    }
    let schema = std::fs::read_to_string(src.join("schema.prisma")).expect("schema");
    // Drop what the migrations lack: the `bio` field, the `comments` back-relations, model Comment
    // and enum Visibility (the end of the file).
    let behind: String = schema
        .split_inclusive('\n')
        .take_while(|l| !l.starts_with("model Comment"))
        .filter(|l| !l.contains(" bio ") && !l.contains("Comment[]"))
        .collect();
    std::fs::write(dst.join("schema.prisma"), behind).expect("write");
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(run.code(), 0, "{}\n{}", run.json, run.stderr());
    assert!(run.findings().is_empty(), "{}", run.json);
}

/// A multi-file schema (a folder of `.prisma` files beside the migrations folder) is one declared schema.
#[test]
fn prisma_schema_folder_is_one_declared_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = prisma_fixture("ahead/prisma");
    let dst = dir.path().join("prisma/schema");
    std::fs::create_dir_all(dst.join("migrations/20240101000000_init")).expect("mkdir");
    for f in [
        "migrations/migration_lock.toml",
        "migrations/20240101000000_init/migration.sql",
    ] {
        std::fs::copy(src.join(f), dst.join(f)).expect("copy");
    }
    let schema = std::fs::read_to_string(src.join("schema.prisma")).expect("schema");
    let at = schema.find("model Comment").expect("model Comment");
    std::fs::write(dst.join("schema.prisma"), &schema[..at]).expect("write");
    std::fs::write(dst.join("comment.prisma"), &schema[at..]).expect("write");
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(run.code(), 1, "{}\n{}", run.json, run.stderr());
    let mut positions = run.positions("schema-drift");
    positions.sort();
    assert_eq!(
        positions,
        vec![
            ("prisma/schema/comment.prisma".to_string(), 1, 1),
            ("prisma/schema/comment.prisma".to_string(), 12, 1),
            ("prisma/schema/schema.prisma".to_string(), 18, 3),
        ],
        "{}",
        run.json
    );
}

/// A copy of the `ahead` migrations under `migrations_dir` of a new repository.
fn repo_with_migrations(migrations_dir: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = prisma_fixture("ahead/prisma/migrations");
    let dst = dir.path().join(migrations_dir);
    std::fs::create_dir_all(dst.join("20240101000000_init")).expect("mkdir");
    for f in ["migration_lock.toml", "20240101000000_init/migration.sql"] {
        std::fs::copy(src.join(f), dst.join(f)).expect("copy");
    }
    dir
}

/// `prisma.config.ts` names the schema; a `prisma/schema/` folder beside `prisma/migrations` is found too.
#[test]
fn prisma_schema_is_found_from_config_or_schema_folder() {
    let schema =
        std::fs::read_to_string(prisma_fixture("ahead/prisma/schema.prisma")).expect("schema");
    let dir = repo_with_migrations("prisma/migrations");
    std::fs::create_dir_all(dir.path().join("models")).expect("mkdir");
    std::fs::write(dir.path().join("models/app.prisma"), &schema).expect("write");
    std::fs::write(
        dir.path().join("prisma.config.ts"),
        "import { defineConfig } from \"prisma/config\";\n\nexport default defineConfig({\n  schema: \"./models/app.prisma\",\n  migrations: { path: \"prisma/migrations\" },\n});\n",
    )
    .expect("write");
    let run = check_json(dir.path(), Engine::Local, &[]);
    let files: Vec<String> = run
        .positions("schema-drift")
        .into_iter()
        .map(|p| p.0)
        .collect();
    assert_eq!(files, vec!["models/app.prisma"; 3], "{}", run.json);

    let dir = repo_with_migrations("prisma/migrations");
    std::fs::create_dir_all(dir.path().join("prisma/schema")).expect("mkdir");
    std::fs::write(dir.path().join("prisma/schema/schema.prisma"), &schema).expect("write");
    let run = check_json(dir.path(), Engine::Local, &[]);
    let files: Vec<String> = run
        .positions("schema-drift")
        .into_iter()
        .map(|p| p.0)
        .collect();
    assert_eq!(
        files,
        vec!["prisma/schema/schema.prisma"; 3],
        "{}",
        run.json
    );
}

/// An index and a unique index only the datamodel declares point at their attributes.
#[test]
fn prisma_index_and_constraint_drift_points_at_attributes() {
    let dir = repo_with_migrations("prisma/migrations");
    let schema =
        std::fs::read_to_string(prisma_fixture("ahead/prisma/schema.prisma")).expect("schema");
    let behind: String = schema
        .split_inclusive('\n')
        .take_while(|l| !l.starts_with("model Comment"))
        .filter(|l| !l.contains(" bio ") && !l.contains("Comment[]"))
        .collect::<String>()
        .replace(
            "  @@index([authorId])\n",
            "  @@index([authorId])\n  @@index([published, title])\n",
        )
        .replace("  name      String?", "  name      String?   @unique");
    std::fs::write(dir.path().join("prisma/schema.prisma"), &behind).expect("write");
    let line_of = |needle: &str| {
        behind
            .split('\n')
            .position(|l| l.contains(needle))
            .map(|i| i as u64 + 1)
            .expect("line")
    };
    let run = check_json(dir.path(), Engine::Local, &[]);
    let mut got: Vec<(u64, u64, String)> = run
        .rule("schema-drift")
        .iter()
        .map(|f| {
            (
                f["line"].as_u64().unwrap_or(0),
                f["column"].as_u64().unwrap_or(0),
                f["evidence"]["extra"]["object"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                line_of("name      String?"),
                23,
                "User_name_key on public.\"User\"".to_string()
            ),
            (
                line_of("@@index([published, title])"),
                3,
                "Post_published_title_idx on public.\"Post\"".to_string()
            ),
        ],
        "{}",
        run.json
    );
    assert_eq!(run.rules(), vec!["schema-drift"; 2], "{}", run.json);
}

/// DDL that PostgreSQL rejects (here a default calling a missing function) is reported at the model
/// it was generated from, and the schema is not compared.
#[test]
fn prisma_schema_that_does_not_load_is_reported_at_the_model() {
    let dir = repo_with_migrations("prisma/migrations");
    std::fs::write(
        dir.path().join("prisma/schema.prisma"),
        "datasource db {\n  provider = \"postgresql\"\n}\n\nmodel Broken {\n  id Int @id @default(dbgenerated(\"no_such_function()\"))\n}\n",
    )
    .expect("write");
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(run.rules(), vec!["declared-schema-failed"], "{}", run.json);
    assert_eq!(
        run.positions("declared-schema-failed"),
        vec![("prisma/schema.prisma".to_string(), 5, 1)]
    );
}

/// A datasource for another provider is a dialect finding at its line, and the schema is not compared.
#[test]
fn prisma_schema_for_another_provider_is_not_compared() {
    let dir = repo_with_migrations("prisma/migrations");
    std::fs::write(
        dir.path().join("prisma/schema.prisma"),
        "datasource db {\n  provider = \"mysql\"\n}\n\nmodel Only {\n  id Int @id\n}\n",
    )
    .expect("write");
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(run.rules(), vec!["dialect-mismatch"], "{}", run.json);
    assert_eq!(
        run.positions("dialect-mismatch"),
        vec![("prisma/schema.prisma".to_string(), 2, 3)]
    );
}

#[test]
fn malformed_prisma_schema_is_an_error_naming_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = prisma_fixture("ahead/prisma");
    let dst = dir.path().join("prisma");
    std::fs::create_dir_all(dst.join("migrations/20240101000000_init")).expect("mkdir");
    for f in [
        "migrations/migration_lock.toml",
        "migrations/20240101000000_init/migration.sql",
    ] {
        std::fs::copy(src.join(f), dst.join(f)).expect("copy");
    }
    std::fs::write(
        dst.join("schema.prisma"),
        "model User {\n  id Int @id\n  email String @default(\"x\"\n}\n",
    )
    .expect("write");
    let output = command()
        .arg("check")
        .arg(dir.path())
        .args(engine_args(Engine::Local))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("prisma/schema.prisma:4:1: not a valid Prisma schema"),
        "{stderr}"
    );
}

#[test]
fn other_provider_is_a_dialect_finding_at_its_line() {
    let t = translate("// x\ndatasource db {\n  provider = \"mysql\"\n}\n").expect("parses");
    assert!(!t.postgres);
    assert_eq!(t.findings.len(), 1);
    assert_eq!(t.findings[0].rule, "dialect-mismatch");
    let span = t.findings[0]
        .location
        .as_ref()
        .and_then(|l| l.span)
        .expect("a span");
    assert_eq!(span.start, "// x\ndatasource db {\n  ".len());
}

#[test]
fn cockroach_sequence_default_is_a_dialect_finding_at_the_attribute() {
    let text = "model A {\n  id Int @id @default(sequence())\n}\n";
    let t = translate(text).expect("parses");
    assert_eq!(t.findings.len(), 1);
    assert_eq!(t.findings[0].rule, "dialect-mismatch");
    let span = t.findings[0]
        .location
        .as_ref()
        .and_then(|l| l.span)
        .expect("a span");
    assert_eq!(span.slice(text), "@default(sequence())");
}

#[test]
fn composite_types_are_findings_not_tables() {
    let t = translate(
        "datasource db {\n  provider = \"postgresql\"\n}\n\ntype Address {\n  street String\n}\n\nmodel User {\n  id Int @id\n  address Address\n}\n",
    )
    .expect("parses");
    assert!(t.postgres);
    let rules: Vec<&str> = t.findings.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(rules, ["dialect-mismatch", "dialect-mismatch"]);
    let table = t
        .statements
        .iter()
        .find(|s| s.sql.starts_with("CREATE TABLE"))
        .expect("table");
    assert!(!table.sql.contains("address"), "{}", table.sql);
}

/// Every prefix of every corpus file, and every corpus file with one byte replaced, translates or
/// fails with an error at a real position; nothing panics.
#[test]
fn prisma_front_end_never_panics_on_mutated_corpus_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oracle-prisma");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("corpus")
        .flatten()
        .map(|e| e.path())
        .filter(|p| prisma::is_prisma_file(p))
        .collect();
    files.sort();
    assert!(files.len() >= 40);
    let junk = [
        b'{', b'}', b'(', b')', b'[', b']', b'@', b'"', b'\n', b'?', b':', b'x', b'9',
    ];
    let mut checked = 0usize;
    for path in &files {
        let text = std::fs::read_to_string(path).expect("read");
        let bytes = text.as_bytes();
        for cut in (0..bytes.len()).step_by(3) {
            let mutated = String::from_utf8_lossy(&bytes[..cut]).into_owned();
            check_total(&mutated);
            let mut m = bytes.to_vec();
            m[cut] = junk[cut % junk.len()];
            check_total(&String::from_utf8_lossy(&m));
            checked += 2;
        }
    }
    assert!(checked > 1000);
}

/// `translate` returns, and an error's position lies inside the text.
fn check_total(text: &str) {
    if let Err(e) = translate(text) {
        let lines = text.split(['\n']).count() as u32 + text.matches('\r').count() as u32;
        assert!(
            e.line >= 1 && e.line <= lines.max(1) && e.column >= 1,
            "{e} for {text:?}"
        );
        assert!(!e.message.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn prisma_front_end_never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
        check_total(&text);
    }

    #[test]
    fn prisma_front_end_never_panics_on_schema_like_text(
        text in "(model|enum|view|type|datasource|generator| |\\{|\\}|\\(|\\)|\\[|\\]|@@?|[a-zA-Z_]{1,6}|\"[a-z\\\\]{0,4}\"?|[0-9.-]{1,4}|,|:|=|\\?|\n|\r\n|//[a-z ]{0,5}){0,60}"
    ) {
        check_total(&text);
    }
}

/// A copy of the `config-path-join` fixture whose `prisma.config.ts` is `config`.
fn config_repo(config: &str) -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
            let target = to.join(entry.file_name());
            if entry.path().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).expect("copy");
            }
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    copy(&prisma_fixture("config-path-join"), dir.path());
    std::fs::write(dir.path().join("prisma.config.ts"), config).expect("write");
    dir
}

fn drift_files(run: &crate::harness::Run) -> Vec<String> {
    run.positions("schema-drift")
        .into_iter()
        .map(|p| p.0)
        .collect()
}

/// `prisma.config.ts` computes the schema path with `path.join(__dirname, …)`, `path.resolve(…)` or
/// `import.meta.dirname`: the schema it names is found (not `schema.prisma` beside the migrations).
#[test]
fn prisma_config_schema_paths_built_with_path_join_are_followed() {
    let run = check_json(&prisma_fixture("config-path-join"), Engine::Local, &[]);
    assert_eq!(
        drift_files(&run),
        vec!["models/app.prisma"; 3],
        "{}",
        run.json
    );
    assert!(
        run.rule("declared-not-evaluated").is_empty(),
        "{}",
        run.json
    );
    for config in [
        "import { join } from \"path\";\nexport default {\n  schema: join(import.meta.dirname, \"models/app.prisma\"),\n};\n",
        "import * as path from \"node:path\";\nconst models = path.resolve(\"models\");\nexport default defineConfig({ schema: `${models}/app.prisma` });\n",
    ] {
        let dir = config_repo(config);
        let run = check_json(dir.path(), Engine::Local, &[]);
        assert_eq!(
            drift_files(&run),
            vec!["models/app.prisma"; 3],
            "{config}: {}",
            run.json
        );
    }
}

/// A `schema` the config computes at run time is a notice at its value that names the config and
/// what is compared instead, not silence.
#[test]
fn a_prisma_config_schema_that_cannot_be_evaluated_is_a_notice() {
    let config = "import path from \"node:path\";\nimport { defineConfig } from \"prisma/config\";\n\nexport default defineConfig({\n  schema: process.env.PRISMA_SCHEMA ?? path.join(__dirname, \"models\", \"app.prisma\"),\n});\n";
    let dir = config_repo(config);
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(run.code(), 0, "{}", run.json);
    assert_eq!(
        run.positions("declared-not-evaluated"),
        vec![("prisma.config.ts".to_string(), 5, 11)],
        "{}",
        run.json
    );
    let notice = run.rule("declared-not-evaluated")[0];
    assert_eq!(notice["severity"], "notice");
    let message = notice["message"].as_str().unwrap_or("");
    assert!(
        message.contains("`prisma.config.ts`")
            && message.contains("a logical expression")
            && message.ends_with("no declared schema is compared with the migrations"),
        "{message}"
    );
    let help = notice["help"].as_str().unwrap_or("");
    assert!(help.contains("schema: [prisma/schema.prisma]"), "{help}");
    assert!(drift_files(&run).is_empty(), "{}", run.json);

    // With a schema beside the migrations, that one is compared, and the notice says so.
    let schema = std::fs::read_to_string(dir.path().join("models/app.prisma")).expect("read");
    std::fs::write(dir.path().join("db/schema.prisma"), schema).expect("write");
    let run = check_json(dir.path(), Engine::Local, &[]);
    let notice = run.rule("declared-not-evaluated");
    assert_eq!(notice.len(), 1, "{}", run.json);
    assert!(
        notice[0]["message"].as_str().unwrap_or("").ends_with(
            "the migrations are compared with `db/schema.prisma`, found beside them, instead"
        ),
        "{}",
        notice[0]
    );
    assert_eq!(
        drift_files(&run),
        vec!["db/schema.prisma"; 3],
        "{}",
        run.json
    );
}

/// `DATETIME` is SQLite's when Prisma's lock says the migrations were generated for SQLite (it would
/// otherwise be named MySQL's, the most common source).
#[test]
fn datetime_in_migrations_generated_for_sqlite_is_called_sqlite() {
    let migration = "CREATE TABLE \"User\" (\n    \"id\" INTEGER NOT NULL PRIMARY KEY,\n    \"createdAt\" DATETIME NOT NULL\n);\n";
    let lock = |provider: &str| format!("provider = \"{provider}\"\n");
    for (provider, rule) in [("sqlite", "sqlite-syntax"), ("mysql", "mysql-syntax")] {
        let lock = lock(provider);
        let dir = crate::harness::repo(&[
            ("prisma/migrations/migration_lock.toml", &lock),
            (
                "prisma/migrations/20240101000000_init/migration.sql",
                migration,
            ),
        ]);
        let out = crate::harness::command()
            .arg("lint")
            .arg(dir.path())
            .args(["--format", "json", "--fail-on", "never"])
            .output()
            .expect("runs");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
        let rules: Vec<&str> = json["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter_map(|f| f["rule"].as_str())
            .collect();
        assert!(rules.contains(&rule), "{provider}: {json}");
        assert!(rules.contains(&"dialect-mismatch"), "{provider}: {json}");
        let other = if rule == "sqlite-syntax" {
            "mysql-syntax"
        } else {
            "sqlite-syntax"
        };
        assert!(!rules.contains(&other), "{provider}: {json}");
    }
}

/// A copy of the fixture `name` in a new repository, with `edit` applied to `prisma/schema.prisma`.
fn fixture_copy(name: &str, edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = prisma_fixture(name);
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        for entry in std::fs::read_dir(src.join(&rel))
            .expect("fixture")
            .flatten()
        {
            let rel = rel.join(entry.file_name());
            if entry.path().is_dir() {
                std::fs::create_dir_all(dir.path().join(&rel)).expect("mkdir");
                pending.push(rel);
            } else {
                std::fs::copy(entry.path(), dir.path().join(&rel)).expect("copy");
            }
        }
    }
    let schema = dir.path().join("prisma/schema.prisma");
    let text = std::fs::read_to_string(&schema).expect("schema");
    std::fs::write(&schema, edit(&text)).expect("write");
    dir
}

/// Prisma leaves extensions to hand-written migrations unless the datamodel lists them (with the
/// `postgresqlExtensions` preview feature), and `prisma migrate dev` appends enum values: a
/// `@db.Citext` field loads with the extension the migrations create, and neither the migrations'
/// extensions nor the order of enum values is drift, as for `prisma migrate diff`.
#[test]
fn prisma_enum_order_and_unmanaged_extensions_are_not_drift() {
    let run = check_json(&prisma_fixture("extensions-enum-order"), Engine::Local, &[]);
    assert_eq!(run.code(), 0, "{}\n{}", run.json, run.stderr());
    assert!(run.findings().is_empty(), "{}", run.json);
}

/// With the preview feature, the extensions the datamodel lists are compared: one the migrations do
/// not create is drift at the datasource's `extensions` line; those it does not list still are not.
#[test]
fn prisma_extensions_listed_in_the_datamodel_are_compared() {
    let dir = fixture_copy("extensions-enum-order", |text| {
        text.replace(
            "provider = \"prisma-client-js\"\n",
            "provider = \"prisma-client-js\"\n  previewFeatures = [\"postgresqlExtensions\"]\n",
        )
        .replace(
            "provider = \"postgresql\"\n",
            "provider = \"postgresql\"\n  extensions = [citext, hstore]\n",
        )
    });
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(run.code(), 1, "{}\n{}", run.json, run.stderr());
    assert_eq!(run.rules(), vec!["schema-drift"], "{}", run.json);
    let drift = &run.rule("schema-drift")[0];
    assert_eq!(drift["evidence"]["extra"]["object"], "hstore", "{drift}");
    assert_eq!(
        run.positions("schema-drift"),
        vec![("prisma/schema.prisma".to_string(), 10, 3)]
    );
}

/// A datamodel whose column type comes from an extension the migrations create but the replay server
/// does not ship: the failure names the extension and the server, not the datamodel.
#[test]
fn prisma_schema_needing_an_extension_the_server_lacks_says_so() {
    let dir = crate::harness::repo(&[
        (
            "prisma/migrations/migration_lock.toml",
            "provider = \"postgresql\"\n",
        ),
        (
            "prisma/migrations/20240101000000_init/migration.sql",
            "CREATE EXTENSION IF NOT EXISTS postgis;\n\nCREATE TABLE \"Place\" (\n    \"id\" INTEGER NOT NULL,\n    \"at\" geometry,\n\n    CONSTRAINT \"Place_pkey\" PRIMARY KEY (\"id\")\n);\n",
        ),
        (
            "prisma/schema.prisma",
            "datasource db {\n  provider = \"postgresql\"\n}\n\nmodel Place {\n  id Int @id\n  at Unsupported(\"geometry\")?\n}\n",
        ),
    ]);
    let run = check_json(dir.path(), Engine::Local, &[]);
    assert_eq!(
        run.rules(),
        vec!["declared-schema-failed", "missing-extension"],
        "{}",
        run.json
    );
    let f = &run.rule("declared-schema-failed")[0];
    let message = f["message"].as_str().unwrap_or("");
    assert!(
        message.starts_with("the declared schema does not load because extension `postgis` is not available on the replay server"),
        "{message}"
    );
    assert_eq!(f["evidence"]["extra"]["extension"], "postgis");
    assert_eq!(
        run.positions("declared-schema-failed"),
        vec![("prisma/schema.prisma".to_string(), 5, 1)]
    );
}

/// A `prisma.config.ts` whose `schema` names a file that does not exist is a notice saying what is
/// compared instead, not a silent fallback.
#[test]
fn a_prisma_config_naming_a_missing_schema_says_so() {
    let dir = config_repo("export default { schema: \"models/missing.prisma\" };\n");
    let run = check_json(dir.path(), Engine::Local, &[]);
    let notices = run.rule("declared-not-evaluated");
    assert_eq!(notices.len(), 1, "{:#}", run.json);
    let message = notices[0]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("models/missing.prisma") && message.contains("does not exist"),
        "{message}"
    );
    assert_eq!(notices[0]["file"], "prisma.config.ts");
}
