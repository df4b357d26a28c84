//! [`static_checks_from`]: resuming the static checks after a cut gives exactly the findings of the
//! whole set, on every migration set of every fixture repository, cut after every migration.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::runner::transactions::spans_migrations;
use crate::runner::{Runner, Transactions};

/// The set cut after its first `k` migrations.
fn prefix(set: &MigrationSet, k: usize) -> MigrationSet {
    let mut cut = set.clone();
    cut.migrations.truncate(k);
    cut
}

fn file_of(f: &Finding) -> Option<&Path> {
    f.location.as_ref().map(|l| l.file.as_path())
}

/// Checks the two cut properties of `set` after each of its first `ks` migrations. Returns a
/// description of each failure.
fn check_cuts(label: &str, set: &MigrationSet, ks: impl IntoIterator<Item = usize>) -> Vec<String> {
    let mut failures = Vec::new();
    let full = static_checks(set);
    let (whole, end) = static_checks_from(set, 0, None);
    if whole != full {
        failures.push(format!("{label}: static_checks_from(set, 0, None) differs"));
    }
    let files: Vec<&Path> = set.migrations.iter().map(|m| m.file.as_path()).collect();
    let distinct: BTreeSet<&Path> = files.iter().copied().collect();
    if distinct.len() != files.len() {
        failures.push(format!("{label}: two migrations share a file"));
    }
    for f in &full {
        if !file_of(f).is_some_and(|file| distinct.contains(file)) {
            failures.push(format!(
                "{label}: {} finding outside the set's migration files: {:?}",
                f.rule, f.location
            ));
        }
    }
    if spans_migrations(set) != end.is_none() {
        failures.push(format!(
            "{label}: the end state is {end:?} for runner {}",
            set.runner
        ));
    }
    for k in ks {
        let before: BTreeSet<&Path> = files[..k].iter().copied().collect();
        let in_prefix = |f: &&Finding| file_of(f).is_some_and(|file| before.contains(file));
        let (found, state) = static_checks_from(&prefix(set, k), 0, None);
        // (a) a later migration never changes an earlier one's findings.
        let expected: Vec<&Finding> = full.iter().filter(in_prefix).collect();
        if found.iter().collect::<Vec<_>>() != expected {
            failures.push(format!(
                "{label}, cut after {k}: the prefix alone finds {:?}, the whole set {:?}",
                found.iter().map(|f| &f.rule).collect::<Vec<_>>(),
                expected.iter().map(|f| &f.rule).collect::<Vec<_>>()
            ));
        }
        let Some(state) = state else {
            if !spans_migrations(set) {
                failures.push(format!("{label}, cut after {k}: no state"));
            }
            continue;
        };
        // The state as the cache stores it.
        let stored = serde_json::to_string(&state).expect("the state serializes");
        let state: StaticState = serde_json::from_str(&stored).expect("the state deserializes");
        // (b) resuming finds exactly the whole set's findings in the rest, in the same order.
        let (rest, resumed_end) = static_checks_from(set, k, Some(&state));
        let expected: Vec<&Finding> = full.iter().filter(|f| !in_prefix(f)).collect();
        if rest.iter().collect::<Vec<_>>() != expected {
            failures.push(format!(
                "{label}, resumed at {k}: {:?}, the whole set {:?}",
                rest.iter()
                    .map(|f| (&f.rule, f.location.as_ref()))
                    .collect::<Vec<_>>(),
                expected
                    .iter()
                    .map(|f| (&f.rule, f.location.as_ref()))
                    .collect::<Vec<_>>()
            ));
        }
        if resumed_end != end {
            failures.push(format!(
                "{label}, resumed at {k}: end state {resumed_end:?}, the whole set's {end:?}"
            ));
        }
    }
    failures
}

/// Every directory under `dir`.
fn dirs_under(dir: &Path, out: &mut Vec<PathBuf>) {
    out.push(dir.to_path_buf());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut children: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    children.sort();
    for child in children {
        dirs_under(&child, out);
    }
}

/// Every migration set that discovery finds with any fixture or example directory as the root
/// (with that root's configuration file), once each.
fn fixture_sets() -> Vec<(String, MigrationSet)> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut roots = Vec::new();
    dirs_under(&manifest.join("tests/fixtures"), &mut roots);
    dirs_under(&manifest.join("examples"), &mut roots);
    let mut seen = BTreeSet::new();
    let mut sets = Vec::new();
    for root in roots {
        let Ok(config) = crate::config::load(&root, None) else {
            continue;
        };
        let Ok(discovery) = crate::discover::find(&root, config.as_ref()) else {
            continue;
        };
        for set in discovery.sets {
            let key = (
                set.runner.as_str().to_string(),
                set.generated_for.clone(),
                set.migrations
                    .iter()
                    .map(|m| (root.join(&m.file), m.transactions, m.blocked.is_some()))
                    .collect::<Vec<_>>(),
            );
            if seen.insert(format!("{key:?}")) {
                let label = format!(
                    "{} ({})",
                    root.join(&set.dir)
                        .strip_prefix(manifest)
                        .unwrap_or(&root)
                        .display(),
                    set.runner
                );
                sets.push((label, set));
            }
        }
    }
    sets
}

#[test]
fn resuming_after_any_migration_of_any_fixture_set_finds_what_the_whole_set_finds() {
    let sets = fixture_sets();
    let migrations: usize = sets.iter().map(|(_, s)| s.migrations.len()).sum();
    // The fixtures hold well over a hundred sets; far fewer means discovery found nothing.
    assert!(
        sets.len() > 100,
        "only {} fixture sets discovered",
        sets.len()
    );
    let runners: BTreeSet<&str> = sets.iter().map(|(_, s)| s.runner.as_str()).collect();
    assert!(
        runners.contains("drizzle") && runners.contains("psql") && runners.contains("goose"),
        "{runners:?}"
    );
    let with_findings = sets
        .iter()
        .filter(|(_, s)| !static_checks(s).is_empty())
        .count();
    assert!(
        with_findings > 50,
        "only {with_findings} sets have findings"
    );
    eprintln!(
        "{} fixture sets ({migrations} migrations, runners {runners:?}), {with_findings} with findings",
        sets.len()
    );
    let mut failures = Vec::new();
    for (label, set) in &sets {
        failures.extend(check_cuts(label, set, 0..=set.migrations.len()));
    }
    assert!(
        failures.is_empty(),
        "{} of {} sets ({migrations} migrations):\n{}",
        failures.len(),
        sets.len(),
        failures.join("\n")
    );
}

/// The benchmark corpus (`gen_corpus.py DIR N SEED`, files in `DIR/migrations`) when
/// `PGREHEARSE_STATIC_CORPUS` names it: a few cuts, and the time of a whole run against a resumed one.
#[test]
fn resuming_on_the_benchmark_corpus() {
    let Some(dir) = std::env::var_os("PGREHEARSE_STATIC_CORPUS") else {
        return;
    };
    let root = PathBuf::from(dir);
    let config = crate::config::load(&root, None).expect("corpus config");
    let discovery = crate::discover::find(&root, config.as_ref()).expect("corpus discovered");
    for set in &discovery.sets {
        let n = set.migrations.len();
        let failures = check_cuts("corpus", set, [0, 1, n / 3, n / 2, n - 1, n]);
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        let k = n.saturating_sub(1);
        let (_, state) = static_checks_from(&prefix(set, k), 0, None);
        let state = state.expect("a psql corpus can be cut");
        let clock = std::time::Instant::now();
        let whole = static_checks(set);
        let whole_time = clock.elapsed();
        let clock = std::time::Instant::now();
        let (rest, _) = static_checks_from(set, k, Some(&state));
        let rest_time = clock.elapsed();
        eprintln!(
            "corpus {}: {n} migrations, {} findings in {whole_time:?}; resumed at {k}: {} findings in {rest_time:?}; state {} bytes of JSON",
            set.runner,
            whole.len(),
            rest.len(),
            serde_json::to_string(&state).map_or(0, |s| s.len())
        );
    }
}

fn set_of(runner: Runner, files: &[(&str, &str)]) -> MigrationSet {
    let migrations = files
        .iter()
        .map(|(name, text)| {
            Migration::sql(
                name.trim_end_matches(".sql").to_string(),
                PathBuf::from("migrations").join(name),
                Arc::from(*text),
                runner,
            )
        })
        .collect();
    MigrationSet {
        dir: PathBuf::from("migrations"),
        runner,
        migrations,
        preludes: Vec::new(),
        refused: None,
        schemas: Vec::new(),
        journal_when: Default::default(),
        generated_for: None,
    }
}

fn rules_of(findings: &[Finding]) -> Vec<(&str, &Path)> {
    findings
        .iter()
        .map(|f| (f.rule.as_str(), file_of(f).unwrap_or(Path::new(""))))
        .collect()
}

#[test]
fn drizzle_sets_cannot_be_cut_yet_resume_correctly() {
    // Drizzle runs every pending migration in one transaction: the value added in 0001 is used in
    // the transaction that adds it when both are pending.
    let set = set_of(
        Runner::Drizzle,
        &[
            ("0000_init.sql", "CREATE TYPE mood AS ENUM ('ok');\n"),
            ("0001_add.sql", "ALTER TYPE mood ADD VALUE 'sad';\n"),
            ("0002_use.sql", "CREATE TABLE t (m mood DEFAULT 'sad');\n"),
        ],
    );
    assert_eq!(
        set.migrations[1].transactions,
        Transactions::AllPendingInOne
    );
    let full = static_checks(&set);
    assert!(
        rules_of(&full).contains(&(
            "enum-value-used-in-same-transaction",
            Path::new("migrations/0002_use.sql")
        )),
        "{full:?}"
    );
    for k in 0..=3 {
        assert_eq!(
            static_checks_from(&prefix(&set, k), 0, None).1,
            None,
            "cut after {k}"
        );
    }
    // The partial-failure rules walk a Drizzle set whole even from a later start: the use after
    // the start is found with its addition before it.
    let (rest, end) = static_checks_from(&set, 2, None);
    assert_eq!(
        rules_of(&rest),
        vec![(
            "enum-value-used-in-same-transaction",
            Path::new("migrations/0002_use.sql")
        )]
    );
    assert_eq!(end, None);
    assert!(check_cuts("drizzle", &set, 0..=3).is_empty());
}

#[test]
fn a_transaction_block_a_psql_file_leaves_open_ends_with_the_file() {
    let set = set_of(
        Runner::Psql,
        &[
            (
                "001_open.sql",
                "BEGIN;\nCREATE TYPE mood AS ENUM ('ok');\nCREATE TABLE t (m mood);\nALTER TYPE mood ADD VALUE 'sad';\n",
            ),
            (
                "002_next.sql",
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (m) WHERE m = 'sad';\n",
            ),
        ],
    );
    let full = static_checks(&set);
    // The open BEGIN is reported in its file; the next file runs in a session of its own, so its
    // CREATE INDEX CONCURRENTLY and its use of 'sad' are fine.
    assert_eq!(
        rules_of(&full),
        vec![(
            "transaction-control-in-migration",
            Path::new("migrations/001_open.sql")
        )],
        "{full:?}"
    );
    let (_, state) = static_checks_from(&prefix(&set, 1), 0, None);
    let state = state.expect("a psql set can be cut after a file that leaves a block open");
    assert_eq!(static_checks_from(&set, 1, Some(&state)).0, Vec::new());
    let failures = check_cuts("psql open block", &set, 0..=2);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_state_carries_what_earlier_migrations_prove_about_the_data() {
    let set = set_of(
        Runner::Psql,
        &[
            (
                "001_check.sql",
                "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;\n",
            ),
            (
                "002_validate.sql",
                "ALTER TABLE users VALIDATE CONSTRAINT email_nn;\n",
            ),
            (
                "003_not_null.sql",
                "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n",
            ),
        ],
    );
    let full = static_checks(&set);
    assert!(
        !full.iter().any(|f| f.rule == "not-null-on-existing-data"),
        "{full:?}"
    );
    let (_, state) = static_checks_from(&prefix(&set, 2), 0, None);
    let state = state.expect("a psql set can be cut");
    assert_ne!(state, StaticState::default());
    // Resumed with the state: the validated check proves the column has no NULLs.
    let (rest, _) = static_checks_from(&set, 2, Some(&state));
    assert!(
        !rest.iter().any(|f| f.rule == "not-null-on-existing-data"),
        "{rest:?}"
    );
    // Without it, the same file alone would be reported: the state is what makes the difference.
    let (alone, _) = static_checks_from(&set, 2, None);
    assert!(
        alone.iter().any(|f| f.rule == "not-null-on-existing-data"),
        "{alone:?}"
    );
    // The state is small, deterministic JSON.
    let json = serde_json::to_string(&state).expect("serializes");
    let again = static_checks_from(&prefix(&set, 2), 0, None).1;
    assert_eq!(json, serde_json::to_string(&again).expect("serializes"));
    assert!(json.len() < 200, "{json}");
    let failures = check_cuts("proven", &set, 0..=3);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
