//! The static partial-failure rules through `pgrehearse lint`: no database, the real binary on the rule
//! fixtures, exact rule / line / severity lists (the replay's `migration-failed` is absent, proving the
//! static rules fire without it).

use std::path::{Path, PathBuf};

use serde_json::Value;

fn rule_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rules")
        .join(name)
}

struct Lint {
    code: Option<i32>,
    json: Value,
}

impl Lint {
    fn findings(&self) -> &Vec<Value> {
        self.json["findings"]
            .as_array()
            .expect("the JSON report has a findings array")
    }

    /// `rule file:line severity` of every finding, in report order (sorted by file and position).
    fn list(&self) -> Vec<String> {
        self.findings()
            .iter()
            .map(|f| {
                format!(
                    "{} {}:{} {}",
                    f["rule"].as_str().unwrap_or(""),
                    f["file"].as_str().unwrap_or("-"),
                    f["line"].as_u64().unwrap_or(0),
                    f["severity"].as_str().unwrap_or("")
                )
            })
            .collect()
    }

    fn finding(&self, rule: &str, file: &str) -> &Value {
        self.findings()
            .iter()
            .find(|f| f["rule"] == rule && f["file"] == file)
            .unwrap_or_else(|| panic!("no {rule} finding in {file}: {}", self.json))
    }
}

fn lint(repo: &Path) -> Lint {
    let run = crate::harness::lint_json(repo);
    assert_eq!(
        run.json["summary"]["sets"]
            .as_array()
            .map(|sets| sets.iter().all(|s| s["status"] == "static")),
        Some(true),
        "lint never replays: {}",
        run.json
    );
    Lint {
        code: run.output.status.code(),
        json: run.json,
    }
}

#[test]
fn lint_reports_statements_not_allowed_in_a_transaction_per_runner() {
    let run = lint(&rule_fixture("not-allowed-in-transaction"));
    assert_eq!(
        run.list(),
        [
            "not-allowed-in-transaction dbmate/20240103000000_invoices_paid_idx.sql:2 error",
            "not-allowed-in-transaction drizzle/0001_users_email_lower_idx.sql:1 error",
            "not-allowed-in-transaction golang/3_orders_placed_at.up.sql:3 error",
            "not-allowed-in-transaction goose/00003_products_name_idx.sql:3 error",
        ],
        "{}",
        run.json
    );
    assert_eq!(run.code, Some(1), "errors fail the lint");
    // The help says how this runner runs the file outside a transaction.
    for (file, needle) in [
        (
            "goose/00003_products_name_idx.sql",
            "-- +goose NO TRANSACTION",
        ),
        (
            "dbmate/20240103000000_invoices_paid_idx.sql",
            "-- migrate:up transaction:false",
        ),
        (
            "golang/3_orders_placed_at.up.sql",
            "alone in a migration of its own",
        ),
        (
            "drizzle/0001_users_email_lower_idx.sql",
            "outside drizzle-kit",
        ),
    ] {
        let f = run.finding("not-allowed-in-transaction", file);
        assert!(
            f["help"].as_str().unwrap_or("").contains(needle),
            "{file}: {}",
            f["help"]
        );
        assert!(
            f["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("`CREATE INDEX CONCURRENTLY` cannot run inside a transaction block"),
            "{}",
            f["message"]
        );
        assert_eq!(f["category"], "partial-failure");
    }
}

#[test]
fn lint_reports_non_atomic_migrations_and_statements_that_cannot_be_rerun() {
    let run = lint(&rule_fixture("not-rerunnable"));
    assert_eq!(
        run.list(),
        [
            "non-atomic-migration goose/00001_orders.sql:3 warning",
            "not-rerunnable goose/00001_orders.sql:4 notice",
            "not-rerunnable goose/00001_orders.sql:7 notice",
            "non-atomic-migration psql/001_setup.sql:2 warning",
            "not-rerunnable psql/001_setup.sql:2 notice",
            "not-rerunnable psql/001_setup.sql:5 notice",
            "not-rerunnable psql/001_setup.sql:9 notice",
            "not-rerunnable psql/001_setup.sql:11 notice",
            "not-rerunnable psql/001_setup.sql:14 notice",
            "not-rerunnable psql/001_setup.sql:20 notice",
            "not-rerunnable psql/001_setup.sql:24 notice",
            "not-rerunnable psql/001_setup.sql:27 notice",
            // ADD CONSTRAINT after DROP CONSTRAINT IF EXISTS of the same constraint (lines 7, 8) is
            // re-runnable; after a guard on another constraint or table it is not.
            "non-atomic-migration psql/002_guards.sql:3 warning",
            "not-rerunnable psql/002_guards.sql:11 notice",
            "not-rerunnable psql/002_guards.sql:13 notice",
        ],
        "{}",
        run.json
    );
    assert_eq!(run.code, Some(0), "warnings alone do not fail the lint");
    let f = run.finding("non-atomic-migration", "psql/001_setup.sql");
    assert!(
        f["message"]
            .as_str()
            .unwrap_or("")
            .contains("psql runs each statement of the migration in its own transaction"),
        "{}",
        f["message"]
    );
    let constraint = run
        .findings()
        .iter()
        .find(|f| f["rule"] == "not-rerunnable" && f["line"] == 9)
        .expect("the ADD CONSTRAINT finding");
    assert!(
        constraint["message"]
            .as_str()
            .unwrap_or("")
            .contains("no IF NOT EXISTS for ADD CONSTRAINT"),
        "{}",
        constraint["message"]
    );
}

#[test]
fn lint_reports_transaction_control_and_enum_values_in_runner_transactions() {
    let run = lint(&rule_fixture("transaction-control-in-migration"));
    assert_eq!(
        run.list(),
        [
            "transaction-control-in-migration drizzle/0000_init.sql:3 error",
            "transaction-control-in-migration golang/2_commit_midway.up.sql:3 error",
            "transaction-control-in-migration goose/00001_customers.sql:4 error",
            "transaction-control-in-migration goose/00002_phones.sql:3 warning",
        ],
        "{}",
        run.json
    );

    let run = lint(&rule_fixture("enum-value-used-in-same-transaction"));
    assert_eq!(
        run.list(),
        [
            "enum-value-used-in-same-transaction drizzle/0002_archive_old_posts.sql:2 error",
            "enum-value-used-in-same-transaction goose/00004_mood_ecstatic.sql:4 error",
            "non-atomic-migration psql/002_priority_urgent.sql:2 warning",
        ],
        "{}",
        run.json
    );
    let f = run.finding(
        "enum-value-used-in-same-transaction",
        "drizzle/0002_archive_old_posts.sql",
    );
    assert!(
        f["message"]
            .as_str()
            .unwrap_or("")
            .contains("drizzle/0001_status_archived.sql:1"),
        "the message names the ADD VALUE line: {}",
        f["message"]
    );
    assert_eq!(f["evidence"]["sqlstate"], "55P04");

    let run = lint(&rule_fixture("large-non-atomic-migration"));
    assert_eq!(
        run.list(),
        [
            "large-non-atomic-migration goose/00002_ledger.sql:3 warning",
            "non-atomic-migration goose/00002_ledger.sql:3 warning",
            "large-non-atomic-migration psql/001_reports.sql:2 warning",
            "non-atomic-migration psql/001_reports.sql:2 warning",
            "non-atomic-migration psql/002_metrics.sql:2 warning",
        ],
        "{}",
        run.json
    );
}
