//! The replay cache (`crate::cache`): a check that starts from a cached prefix reports exactly what a
//! check from scratch reports, and a prefix is used only while everything that determines it is
//! unchanged. Each test has a cache directory (and so a cache cluster) of its own, cleared at its end.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::harness::{command, fixture, git};

/// A cache directory of the test's own; its cluster is removed (`pgrehearse cache clear`) on drop.
struct Cache {
    dir: tempfile::TempDir,
    /// The engine's arguments: `--engine local`, or the url engine on a server.
    engine: Vec<String>,
}

/// One check: its exit code, JSON report (stdout) and stderr.
struct Checked {
    code: i32,
    json: String,
    stderr: String,
}

impl Cache {
    fn new() -> Cache {
        Cache {
            dir: tempfile::tempdir().expect("a temporary directory"),
            engine: vec!["--engine".into(), "local".into()],
        }
    }

    /// A cache for the docker engine (the image the docker cases use).
    fn in_docker() -> Cache {
        Cache {
            dir: tempfile::tempdir().expect("a temporary directory"),
            engine: crate::harness::engine_args(crate::harness::Engine::Docker),
        }
    }

    /// A cache (another machine's, when there are two) for the url engine on the server `url`.
    fn on_server(url: &str) -> Cache {
        Cache {
            dir: tempfile::tempdir().expect("a temporary directory"),
            engine: vec![
                "--engine".into(),
                "url".into(),
                "--database-url".into(),
                url.into(),
            ],
        }
    }

    fn run(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
        let mut cmd = command();
        cmd.env_remove("PGREHEARSE_NO_CACHE")
            .env("PGREHEARSE_CACHE_DIR", self.dir.path())
            .args(args);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        cmd.output().expect("the binary runs")
    }

    /// `check REPO --engine local --format json -v` (or the url engine), with the cache unless
    /// `extra` says `--no-cache`.
    fn check_env(&self, repo: &Path, extra: &[&str], env: &[(&str, &str)]) -> Checked {
        let repo = repo.to_string_lossy().into_owned();
        let mut args = vec!["check", repo.as_str()];
        args.extend(self.engine.iter().map(String::as_str));
        args.extend(["--format", "json", "-v", "--fail-on", "never"]);
        args.extend_from_slice(extra);
        let out = self.run(&args, env);
        let checked = Checked {
            code: out.status.code().unwrap_or(-1),
            json: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert_eq!(checked.code, 0, "{}", checked.stderr);
        checked
    }

    fn check(&self, repo: &Path, extra: &[&str]) -> Checked {
        self.check_env(repo, extra, &[])
    }

    fn status(&self) -> String {
        let out = self.run(&["cache", "status"], &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        let _ = self.run(&["cache", "clear"], &[]);
    }
}

/// Whether one of the lines the cache wrote on the check's stderr says `what`.
fn cache_said(checked: &Checked, what: &str) -> bool {
    cache_lines(&checked.stderr)
        .iter()
        .any(|l| l.contains(what))
}

/// The lines of stderr the cache wrote.
fn cache_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("pgrehearse: cache: "))
        .collect()
}

/// A copy of `from` in a temporary directory.
fn copy(from: &Path) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let to = tmp.path().join("repo");
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(&to)
        .status()
        .expect("cp runs");
    assert!(status.success());
    (tmp, to)
}

/// Checks `repo` with its last migrations (`held_back`, paths in the repository) missing, then whole
/// from that cached prefix, then whole from scratch, then whole from the complete cached set: the three
/// reports of the whole repository are the same, byte for byte. Returns the cache's lines of the last
/// two runs with the cache.
fn cold_equals_warm(repo: &Path, held_back: &[&str]) -> String {
    cold_equals_warm_in(&Cache::new(), repo, held_back)
}

/// [`cold_equals_warm`] with the cache `cache`.
fn cold_equals_warm_in(cache: &Cache, repo: &Path, held_back: &[&str]) -> String {
    let (_tmp, copy) = copy(repo);
    let aside = copy.with_file_name("aside");
    std::fs::create_dir_all(&aside).unwrap();
    for (i, path) in held_back.iter().enumerate() {
        std::fs::rename(copy.join(path), aside.join(i.to_string())).unwrap();
    }
    if !held_back.is_empty() {
        cache.check(&copy, &[]);
    }
    for (i, path) in held_back.iter().enumerate() {
        std::fs::rename(aside.join(i.to_string()), copy.join(path)).unwrap();
    }
    let warm = cache.check(&copy, &[]);
    let cold = cache.check(&copy, &["--no-cache"]);
    let hit = cache.check(&copy, &[]);
    assert!(
        cache_lines(&cold.stderr).is_empty(),
        "--no-cache used the cache: {}",
        cold.stderr
    );
    assert_eq!(
        warm.json, cold.json,
        "warm (from a prefix) vs cold\n{}",
        warm.stderr
    );
    assert_eq!(
        hit.json, cold.json,
        "warm (all cached) vs cold\n{}",
        hit.stderr
    );
    let mut lines = cache_lines(&warm.stderr);
    lines.extend(cache_lines(&hit.stderr));
    lines.join("\n")
}

fn fixture_path(name: &str) -> PathBuf {
    if name == "examples/shop" {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
    } else if let Some(rest) = name.strip_prefix("fixtures/") {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(rest)
    } else {
        fixture(name)
    }
}

/// One test per runner fixture: `(test, fixture, held back, what the cache says on the warm run)`.
macro_rules! cold_equals_warm {
    ($($test:ident: $fixture:expr, $held:expr, $says:expr;)*) => {$(
        #[test]
        fn $test() {
            let says = cold_equals_warm(&fixture_path($fixture), $held);
            assert!(says.contains($says), "expected `{}` in:\n{says}", $says);
        }
    )*};
}

cold_equals_warm! {
    cold_equals_warm_dbmate: "runners/dbmate", &["db/migrations/20240103000000_refunds.sql"],
        "2 of 3 migrations cached";
    cold_equals_warm_diesel: "runners/diesel", &["migrations/2024-01-03-000000_posts_title_idx"],
        "2 of 3 migrations cached";
    // Repeatable migrations run after every versioned one: held back too, so that the versioned
    // prefix is what was cached.
    cold_equals_warm_flyway: "runners/flyway",
        &["db/migration/V3__plan.sql", "db/migration/R__accounts_view.sql"],
        "3 of 5 migrations cached";
    cold_equals_warm_goose_resumed_failure: "runners/goose-broken", &["db/migrations/00002_touch.sql"],
        "1 of 2 migrations cached";
    cold_equals_warm_goose_resumed_code_migration: "runners/goose-ok", &["db/migrations/00004_backfill.go"],
        "3 of 4 migrations cached";
    cold_equals_warm_sqlx: "runners/sqlx", &["migrations/20240103000000_events_created_idx.sql"],
        "2 of 3 migrations cached";
    cold_equals_warm_supabase_preset_not_cached: "runners/supabase", &[],
        "not cached: its SQL creates roles";
    cold_equals_warm_golang_migrate_resumed_failure: "golang-enum",
        &[
            "db/migrations/000002_archive.up.sql",
            "db/migrations/000002_archive.down.sql",
            "db/migrations/000003_add_priority.up.sql",
        ],
        "1 of 3 migrations cached";
    cold_equals_warm_lock_tracing: "locks", &["migrations/002_risky.sql", "migrations/003_safe.sql"],
        "1 of 3 migrations cached";
    cold_equals_warm_psql_copy_failure_not_cached: "psql-copy", &[],
        "no snapshot kept: not every migration was applied";
    cold_equals_warm_baseline_snapshot: "baseline-snapshot", &[], "1 of 1 migrations cached";
    cold_equals_warm_prisma: "fixtures/prisma/extensions-enum-order",
        &["prisma/migrations/20240201000000_moderator"], "1 of 2 migrations cached";
    cold_equals_warm_prisma_drift: "fixtures/prisma/ahead", &[], "1 of 1 migrations cached";
    cold_equals_warm_drizzle_drift: "fixtures/drizzle/drift-project", &[], "1 of 1 migrations cached";
    cold_equals_warm_drizzle_failing_transaction: "examples/shop", &[], "no cached prefix";
    cold_equals_warm_monorepo_roles_not_cached: "monorepo", &[], "not cached: its SQL creates roles";
}

/// A Drizzle project with `migrations` (tag, SQL) listed in its journal.
fn drizzle(root: &Path, migrations: &[(&str, &str)]) {
    let dir = root.join("drizzle");
    std::fs::create_dir_all(dir.join("meta")).unwrap();
    std::fs::write(
        root.join("drizzle.config.ts"),
        "import { defineConfig } from 'drizzle-kit';\nexport default defineConfig({ dialect: 'postgresql', out: './drizzle' });\n",
    )
    .unwrap();
    let mut entries = Vec::new();
    for (i, (tag, sql)) in migrations.iter().enumerate() {
        std::fs::write(dir.join(format!("{tag}.sql")), sql).unwrap();
        entries.push(format!(
            "{{ \"idx\": {i}, \"version\": \"7\", \"when\": {}, \"tag\": \"{tag}\", \"breakpoints\": true }}",
            1_717_000_000_000i64 + i as i64
        ));
    }
    std::fs::write(
        dir.join("meta/_journal.json"),
        format!(
            "{{ \"version\": \"7\", \"dialect\": \"postgresql\", \"entries\": [{}] }}",
            entries.join(", ")
        ),
    )
    .unwrap();
}

const USERS: (&str, &str) = (
    "0000_users",
    "CREATE TABLE \"users\" (\"id\" serial PRIMARY KEY, \"email\" text);",
);
const ORDERS: (&str, &str) = (
    "0001_orders",
    "CREATE TABLE \"orders\" (\"id\" serial PRIMARY KEY, \"user_id\" integer);\n--> statement-breakpoint\nALTER TABLE \"users\" ADD COLUMN \"name\" text;",
);
const LOCKING: (&str, &str) = (
    "0002_locking",
    "ALTER TABLE \"users\" ALTER COLUMN \"email\" SET NOT NULL;\n--> statement-breakpoint\nALTER TABLE \"orders\" ADD CONSTRAINT \"orders_user_fk\" FOREIGN KEY (\"user_id\") REFERENCES \"users\"(\"id\");",
);
const CONCURRENTLY: (&str, &str) = (
    "0003_search",
    "CREATE INDEX CONCURRENTLY \"users_email_idx\" ON \"users\" (\"email\");",
);

/// Drizzle applies every pending migration in one transaction: a prefix resumes inside a new one,
/// with the locks its migrations took remembered, and the report is the cold one.
#[test]
fn drizzle_resumes_inside_its_one_transaction() {
    let cache = Cache::new();
    let repo = tempfile::tempdir().unwrap();
    drizzle(repo.path(), &[USERS, ORDERS]);
    cache.check(repo.path(), &[]);
    drizzle(repo.path(), &[USERS, ORDERS, LOCKING]);
    let warm = cache.check(repo.path(), &[]);
    assert!(
        warm.stderr.contains("2 of 3 migrations cached"),
        "{}",
        warm.stderr
    );
    let cold = cache.check(repo.path(), &["--no-cache"]);
    assert_eq!(warm.json, cold.json);
    // The lock findings of the new migration (tables of cached migrations count as existing).
    assert!(cold.json.contains("0002_locking.sql"), "{}", cold.json);
}

/// A failure in Drizzle's one transaction rolls back the cached migrations too: the set is
/// replayed again from scratch, and reports what a cold check reports.
#[test]
fn drizzle_failure_after_a_prefix_is_replayed_from_scratch() {
    let cache = Cache::new();
    let repo = tempfile::tempdir().unwrap();
    drizzle(repo.path(), &[USERS, ORDERS]);
    cache.check(repo.path(), &[]);
    drizzle(repo.path(), &[USERS, ORDERS, CONCURRENTLY]);
    let warm = cache.check(repo.path(), &[]);
    assert!(
        warm.stderr.contains("replayed again from scratch"),
        "{}",
        warm.stderr
    );
    let cold = cache.check(repo.path(), &["--no-cache"]);
    assert_eq!(warm.json, cold.json);
    assert!(
        cold.json.contains("none of the 3 migrations were applied"),
        "{}",
        cold.json
    );
}

/// What lasts only until the COMMIT of Drizzle's transaction (`SET LOCAL`, a deferred constraint
/// check) cannot be carried by a snapshot: no prefix ending after it is kept.
#[test]
fn drizzle_prefix_is_not_cut_inside_transaction_state() {
    for (first, why) in [
        (
            "SET LOCAL search_path = public;\n--> statement-breakpoint\nCREATE TABLE \"a\" (\"id\" int);",
            "SET LOCAL",
        ),
        (
            "CREATE TABLE \"a\" (\"id\" int UNIQUE DEFERRABLE INITIALLY DEFERRED);\n--> statement-breakpoint\nINSERT INTO \"a\" VALUES (1);",
            "deferrable check",
        ),
    ] {
        let cache = Cache::new();
        let repo = tempfile::tempdir().unwrap();
        drizzle(repo.path(), &[("0000_first", first)]);
        let run = cache.check(repo.path(), &[]);
        assert!(
            run.stderr.contains("no snapshot kept") && run.stderr.contains(why),
            "{}",
            run.stderr
        );
        assert!(
            cache.status().contains("0 snapshot(s)"),
            "{}",
            cache.status()
        );
    }
}

/// A repository of numbered SQL files (psql runner).
fn psql_repo(root: &Path, files: &[(&str, &str)]) {
    let dir = root.join("migrations");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

const M1: (&str, &str) = (
    "001_schema.sql",
    "CREATE SCHEMA app;\nSET search_path = app, public;\n",
);
const M2: (&str, &str) = ("002_table.sql", "CREATE TABLE t (id int PRIMARY KEY);\n");
const M3: (&str, &str) = (
    "003_use.sql",
    "INSERT INTO app.t VALUES (1);\nALTER TABLE app.t ADD COLUMN note text NOT NULL DEFAULT '';\n",
);
const M4: (&str, &str) = ("004_more.sql", "CREATE TABLE u (id int);\n");

/// Fills the cache with the prefixes 1, 1..2 and 1..3 of [M1, M2, M3].
fn three_prefixes(cache: &Cache, repo: &Path) {
    for n in 1..=3 {
        psql_repo(repo, &[M1, M2, M3][..n]);
        cache.check(repo, &[]);
    }
    let status = cache.status();
    assert!(status.contains("3 snapshot(s)"), "{status}");
    assert!(
        status.contains("prefixes of 1, 2, 3 migration(s)"),
        "{status}"
    );
}

/// The session settings a cached migration made (`SET search_path`) are in force for the migrations
/// replayed after it, as in one replay from scratch.
#[test]
fn session_settings_of_a_cached_prefix_carry_over() {
    let cache = Cache::new();
    let repo = tempfile::tempdir().unwrap();
    psql_repo(repo.path(), &[M1]);
    cache.check(repo.path(), &[]);
    psql_repo(repo.path(), &[M1, M2, M3]);
    let warm = cache.check(repo.path(), &[]);
    assert!(
        warm.stderr.contains("1 of 3 migrations cached"),
        "{}",
        warm.stderr
    );
    let cold = cache.check(repo.path(), &["--no-cache"]);
    assert_eq!(warm.json, cold.json);
    assert!(!cold.json.contains("migration-failed"), "{}", cold.json);
}

/// After a check, spare copies of the prefixes it used are made in the background: the next check,
/// which adds a migration, and the one after it, which changes that migration again (amending the
/// commit a hook refused), each rename a spare instead of copying the snapshot, and report what a
/// check from scratch reports. `PGREHEARSE_CACHE_SPARES=0` makes none.
#[test]
fn spare_copies_save_the_next_checks_the_copy() {
    let cache = Cache::new();
    let repo = tempfile::tempdir().unwrap();
    psql_repo(repo.path(), &[M1, M2]);
    let fill = cache.check(repo.path(), &[]);
    assert!(!fill.stderr.contains("spare copy"), "{}", fill.stderr);
    psql_repo(repo.path(), &[M1, M2, M3]);
    let added = cache.check(repo.path(), &[]);
    let spare = "the prefix of 2 taken from its spare copy";
    assert!(
        added.stderr.contains("2 of 3 migrations cached") && added.stderr.contains(spare),
        "{}",
        added.stderr
    );
    let amended = ("003_use.sql", "INSERT INTO app.t VALUES (2);\n");
    psql_repo(repo.path(), &[M1, M2, amended]);
    let again = cache.check(repo.path(), &[]);
    assert!(
        again.stderr.contains("2 of 3 migrations cached") && again.stderr.contains(spare),
        "{}",
        again.stderr
    );
    let cold = cache.check(repo.path(), &["--no-cache"]);
    assert_eq!(again.json, cold.json);

    let off = [("PGREHEARSE_CACHE_SPARES", "0")];
    let cache = Cache::new();
    psql_repo(repo.path(), &[M1, M2]);
    cache.check_env(repo.path(), &[], &off);
    psql_repo(repo.path(), &[M1, M2, M3]);
    let copied = cache.check_env(repo.path(), &[], &off);
    assert!(
        copied.stderr.contains("2 of 3 migrations cached") && !copied.stderr.contains("spare"),
        "{}",
        copied.stderr
    );
}

/// The processes whose command line names `dir` (the cache cluster's postmaster runs on the data
/// directory inside it).
fn processes_in(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&needle))
        .collect()
}

/// The background copy a check leaves behind ends by itself: once `cache clear` (which waits for it)
/// returns, neither it nor the cache's cluster runs any more.
#[test]
fn nothing_runs_after_the_background_copy() {
    let cache = Cache::new();
    let repo = tempfile::tempdir().unwrap();
    psql_repo(repo.path(), &[M1, M2]);
    cache.check(repo.path(), &[]);
    let status = cache.status();
    let cluster = status
        .lines()
        .find_map(|l| l.strip_prefix("cluster: "))
        .expect("status names the cluster");
    let out = cache.run(&["cache", "clear"], &[]);
    assert!(out.status.success());
    assert_eq!(processes_in(Path::new(cluster)), Vec::<String>::new());
}

/// After a check the cache's cluster keeps running for `PGREHEARSE_CACHE_LINGER` seconds: the next
/// check reuses it instead of starting it, reports what a check from scratch reports, and once idle
/// that long the cluster stops by itself. With 0 it stops as soon as the spare copies are made.
#[test]
fn the_cluster_keeps_running_for_the_next_check_then_stops() {
    let cache = Cache::new();
    let repo = tempfile::tempdir().unwrap();
    let linger = [("PGREHEARSE_CACHE_LINGER", "2")];
    let reused = "reused the cluster the previous check left running";
    psql_repo(repo.path(), &[M1, M2]);
    let first = cache.check_env(repo.path(), &[], &linger);
    assert!(!first.stderr.contains(reused), "{}", first.stderr);
    psql_repo(repo.path(), &[M1, M2, M3]);
    let next = cache.check_env(repo.path(), &[], &linger);
    assert!(next.stderr.contains(reused), "{}", next.stderr);
    assert_eq!(next.json, cache.check(repo.path(), &["--no-cache"]).json);
    let status = cache.status();
    let cluster = Path::new(
        status
            .lines()
            .find_map(|l| l.strip_prefix("cluster: "))
            .expect("status names the cluster"),
    )
    .to_path_buf();
    let stops = |what: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !processes_in(&cluster).is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert_eq!(processes_in(&cluster), Vec::<String>::new(), "{what}");
    };
    stops("idle for 2 s, the cluster stops by itself");
    let off = [("PGREHEARSE_CACHE_LINGER", "0")];
    let started = cache.check_env(repo.path(), &[], &off);
    assert!(!started.stderr.contains(reused), "{}", started.stderr);
    stops("with 0, the cluster stops once the copies are made");
}

/// A snapshot whose payload was written as a delta (only the findings after the complete payload it
/// continues) is resumed from like any other: the report is the one a check from scratch gives.
#[test]
fn a_prefix_stored_as_a_delta_resumes_like_a_cold_check() {
    let cache = Cache::new();
    let repo = tempfile::tempdir().unwrap();
    let files = [
        (
            "001_table.sql",
            "CREATE TABLE a (id int PRIMARY KEY);
",
        ),
        (
            "002_alter.sql",
            "ALTER TABLE a ADD COLUMN b int NOT NULL DEFAULT 0;
CREATE INDEX a_b ON a (b);
",
        ),
        (
            "003_quiet.sql",
            "CREATE TABLE q (id int);
",
        ),
        (
            "004_last.sql",
            "ALTER TABLE q ADD COLUMN n int;
",
        ),
    ];
    let deltas = || {
        std::fs::read_dir(cache.dir.path().join("replay").join("entries"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter(|e| std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains("\"base\"")))
            .count()
    };
    for n in 1..=3 {
        psql_repo(repo.path(), &files[..n]);
        cache.check(repo.path(), &[]);
    }
    assert_eq!(deltas(), 1, "the prefix of 3 continues the payload of 2");
    psql_repo(repo.path(), &files);
    let warm = cache.check(repo.path(), &[]);
    assert!(
        warm.stderr.contains("3 of 4 migrations cached"),
        "{}",
        warm.stderr
    );
    let cold = cache.check(repo.path(), &["--no-cache"]);
    assert!(cold.json.contains("lock-without-timeout"), "{}", cold.json);
    assert_eq!(warm.json, cold.json);
}

/// In a git repository a check holds back the findings about committed migrations (history), and
/// from the cache it does so before building them: the findings of a cached prefix that the
/// history holds back are counted, those of a rule turned off dropped, and the others built. The
/// report is the one a check from scratch gives, with the same counts: a rule turned off
/// (`index-without-concurrently`), one turned on (`prefer-text`, held back in committed files), a
/// finding the history does not hold back (`grant-write-to-public`) and a suppression comment in a
/// committed migration (its file's findings are all built, so that the suppression is seen used).
#[test]
fn findings_the_history_holds_back_are_counted_without_being_built() {
    let cache = Cache::new();
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(
        repo.path().join(".pgrehearse.yaml"),
        "rules:\n  index-without-concurrently: off\n  prefer-text: warning\n",
    )
    .unwrap();
    let committed = [
        (
            "001_table.sql",
            "CREATE TABLE a (id int PRIMARY KEY, name varchar(20));\nGRANT INSERT ON a TO PUBLIC;\n",
        ),
        (
            "002_alter.sql",
            "ALTER TABLE a ADD COLUMN b int NOT NULL DEFAULT 0;\nCREATE INDEX a_b ON a (b);\n",
        ),
        (
            "003_suppressed.sql",
            "-- pgrehearse-ignore: lock-without-timeout the table is small\nALTER TABLE a ADD COLUMN c int;\nALTER TABLE a ADD COLUMN d int;\n",
        ),
    ];
    psql_repo(repo.path(), &committed);
    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-qm", "three migrations"]);
    cache.check(repo.path(), &[]);
    std::fs::write(
        repo.path().join("migrations/004_new.sql"),
        "ALTER TABLE a ADD COLUMN e varchar(5);\n",
    )
    .unwrap();
    git(repo.path(), &["add", "-A"]);
    let warm = cache.check(repo.path(), &[]);
    assert!(
        warm.stderr.contains("3 of 4 migrations cached"),
        "{}",
        warm.stderr
    );
    let all_cached = cache.check(repo.path(), &[]);
    let cold = cache.check(repo.path(), &["--no-cache"]);
    let report: serde_json::Value = serde_json::from_str(&cold.json).unwrap();
    let summary = &report["summary"];
    // The committed migrations' lock findings are held back (counted), the suppressed one is
    // counted as suppressed; the new migration's findings and the security finding are reported.
    assert!(summary["historical"].as_u64() >= Some(3), "{}", cold.json);
    assert_eq!(summary["suppressed"], 1, "{}", cold.json);
    let reported: Vec<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["rule"].as_str().unwrap(),
                f["file"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        reported,
        [
            "grant-write-to-public migrations/001_table.sql",
            "lock-without-timeout migrations/004_new.sql",
            "prefer-text migrations/004_new.sql",
        ],
        "{}",
        cold.json
    );
    assert_eq!(warm.json, cold.json, "warm (from a prefix) vs cold");
    assert_eq!(all_cached.json, cold.json, "every migration cached vs cold");
}

/// A cached prefix whose findings do not read back (a damaged payload file) is dropped with its
/// snapshot, and the set replayed from scratch: the report is the one a check from scratch gives,
/// and the next check finds nothing left to drop.
#[test]
fn a_prefix_whose_findings_do_not_read_back_is_dropped() {
    let cache = Cache::new();
    let repo = tempfile::tempdir().unwrap();
    psql_repo(repo.path(), &[M1, M2, M3]);
    cache.check(repo.path(), &[]);
    let entries = cache.dir.path().join("replay").join("entries");
    let mut damaged = 0;
    for e in std::fs::read_dir(&entries).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "data") {
            let text = std::fs::read(e.path()).unwrap();
            std::fs::write(e.path(), &text[..text.len() / 2]).unwrap();
            damaged += 1;
        }
    }
    assert_eq!(damaged, 1);
    psql_repo(repo.path(), &[M1, M2, M3, M4]);
    let warm = cache.check(repo.path(), &[]);
    assert!(
        warm.stderr
            .contains("the findings kept with the prefix of 3 do not read back: it is dropped")
            && warm.stderr.contains("no cached prefix of its 4 migrations"),
        "{}",
        warm.stderr
    );
    let cold = cache.check(repo.path(), &["--no-cache"]);
    assert_eq!(warm.json, cold.json);
    let next = cache.check(repo.path(), &[]);
    assert!(
        next.stderr.contains("4 of 4 migrations cached")
            && !next.stderr.contains("that no cache entry lists"),
        "{}",
        next.stderr
    );
    assert_eq!(next.json, cold.json);
}

/// Editing, inserting, reordering or deleting a migration falls back to the longest prefix still
/// valid; every fallback reports what a cold check reports.
#[test]
fn invalidation_falls_back_to_the_longest_valid_prefix() {
    let edited2 = ("002_table.sql", "CREATE TABLE t (id bigint PRIMARY KEY);\n");
    let inserted = ("002_between.sql", "CREATE TABLE between_them (id int);\n");
    type Files<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(&str, Files, &str)> = vec![
        (
            "unchanged, one added",
            vec![M1, M2, M3, M4],
            "3 of 4 migrations cached",
        ),
        (
            "the second edited",
            vec![M1, edited2, M3],
            "1 of 3 migrations cached",
        ),
        (
            "one inserted after the first",
            vec![M1, inserted, ("003_table.sql", M2.1), ("004_use.sql", M3.1)],
            "1 of 4 migrations cached",
        ),
        (
            "the last two reordered",
            vec![M1, ("002_table.sql", M3.1), ("003_use.sql", M2.1)],
            "1 of 3 migrations cached",
        ),
        (
            "the third deleted",
            vec![M1, M2],
            "2 of 2 migrations cached",
        ),
        ("the first deleted", vec![M2, M3], "no cached prefix"),
    ];
    for (what, files, says) in cases {
        let cache = Cache::new();
        let repo = tempfile::tempdir().unwrap();
        three_prefixes(&cache, repo.path());
        psql_repo(repo.path(), &files);
        let warm = cache.check(repo.path(), &[]);
        assert!(
            cache_lines(&warm.stderr).iter().any(|l| l.contains(says)),
            "{what}: expected `{says}` in\n{}",
            warm.stderr
        );
        let cold = cache.check(repo.path(), &["--no-cache"]);
        assert_eq!(warm.json, cold.json, "{what}");
    }
}

/// A change of prelude, preset or of the configuration the replay depends on invalidates every
/// prefix; a change of what only judges the result (a drift severity) does not.
#[test]
fn configuration_that_affects_replay_invalidates_and_other_configuration_does_not() {
    let cache = Cache::new();
    let repo = tempfile::tempdir().unwrap();
    psql_repo(repo.path(), &[M1, M2]);
    std::fs::write(repo.path().join("prelude.sql"), "CREATE SCHEMA platform;\n").unwrap();
    let config = |extra: &str| {
        format!(
            "sets:\n  - path: migrations\n    runner: psql\n    prelude: [prelude.sql]\n{extra}"
        )
    };
    std::fs::write(repo.path().join(".pgrehearse.yaml"), config("")).unwrap();
    cache.check(repo.path(), &[]);
    let again = cache.check(repo.path(), &[]);
    assert!(
        again.stderr.contains("2 of 2 migrations cached"),
        "{}",
        again.stderr
    );

    // Only how drift is judged: still cached.
    std::fs::write(
        repo.path().join(".pgrehearse.yaml"),
        config("drift:\n  severity:\n    index: error\n"),
    )
    .unwrap();
    let judged = cache.check(repo.path(), &[]);
    assert!(
        judged.stderr.contains("2 of 2 migrations cached"),
        "{}",
        judged.stderr
    );

    // The prelude's text.
    std::fs::write(
        repo.path().join("prelude.sql"),
        "CREATE SCHEMA platform2;\n",
    )
    .unwrap();
    let prelude = cache.check(repo.path(), &[]);
    assert!(
        prelude.stderr.contains("no cached prefix"),
        "{}",
        prelude.stderr
    );

    // Lock tracing off changes what the replay records.
    let untraced = cache.check(repo.path(), &["--no-lock-trace"]);
    assert!(
        untraced.stderr.contains("no cached prefix"),
        "{}",
        untraced.stderr
    );

    // `privileged:` extensions are created on the replay's behalf.
    std::fs::write(
        repo.path().join(".pgrehearse.yaml"),
        config("privileged:\n  - {extension: pgcrypto}\n"),
    )
    .unwrap();
    let privileged = cache.check(repo.path(), &[]);
    assert!(
        privileged.stderr.contains("no cached prefix"),
        "{}",
        privileged.stderr
    );
}

/// `cache status` lists what is cached and `cache clear` removes it; the size bound evicts the
/// least recently used snapshots.
#[test]
fn status_clear_and_the_size_bound() {
    let cache = Cache::new();
    let repo = tempfile::tempdir().unwrap();
    let bounded = [("PGREHEARSE_CACHE_MAX_MB", "20")];
    for n in 1..=3 {
        psql_repo(repo.path(), &[M1, M2, M3][..n]);
        cache.check_env(repo.path(), &[], &bounded);
    }
    // An empty database is about 7.5 MiB: two fit in 20 MiB, the oldest went.
    let status = cache.status();
    assert!(status.contains("2 snapshot(s)"), "{status}");
    assert!(status.contains("prefixes of 2, 3 migration(s)"), "{status}");
    // Its database too (after the run, in the background): the next run finds none to drop.
    let next = cache.check_env(repo.path(), &[], &bounded);
    assert!(
        next.stderr.contains("3 of 3 migrations cached")
            && !next.stderr.contains("no cache entry lists"),
        "{}",
        next.stderr
    );
    let out = cache.run(&["cache", "clear"], &[]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("removed 2"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(cache.status().contains("0 snapshot(s)"));
    let cold = cache.check(repo.path(), &[]);
    assert!(cold.stderr.contains("no cached prefix"), "{}", cold.stderr);
}

/// Two checks at once: one uses the cache, the other replays from scratch in a temporary cluster;
/// both finish with the same report.
#[test]
fn concurrent_checks_neither_block_nor_corrupt() {
    let cache = Cache::new();
    let repo = tempfile::tempdir().unwrap();
    psql_repo(repo.path(), &[M1, M2, M3]);
    let reference = cache.check(repo.path(), &["--no-cache"]);
    let runs: Vec<Checked> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|_| s.spawn(|| cache.check(repo.path(), &[])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for run in &runs {
        assert_eq!(run.json, reference.json, "{}", run.stderr);
    }
    // And the cache is intact afterwards.
    let after = cache.check(repo.path(), &[]);
    assert!(
        after.stderr.contains("3 of 3 migrations cached"),
        "{}",
        after.stderr
    );
    assert_eq!(after.json, reference.json);
}

/// With the default cache directory the cluster lives in a shared temporary directory (`/dev/shm`)
/// under a predictable name: something else at that name (a symlink planted by another user) is never
/// used or changed; the check replays from scratch.
#[test]
fn a_planted_cluster_directory_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        command()
            .env_remove("PGREHEARSE_NO_CACHE")
            .env_remove("PGREHEARSE_CACHE_DIR")
            .env("XDG_CACHE_HOME", home.path())
            .args(args)
            .output()
            .expect("the binary runs")
    };
    let status = String::from_utf8_lossy(&run(&["cache", "status"]).stdout).into_owned();
    let cluster = status
        .lines()
        .find_map(|l| l.strip_prefix("cluster: "))
        .expect("status names the cluster")
        .to_string();
    let target = home.path().join("elsewhere");
    std::fs::create_dir_all(&target).unwrap();
    let _ = std::fs::remove_file(&cluster);
    std::os::unix::fs::symlink(&target, &cluster).unwrap();
    let repo = tempfile::tempdir().unwrap();
    psql_repo(repo.path(), &[M1, M2]);
    let out = run(&[
        "check",
        &repo.path().to_string_lossy(),
        "--engine",
        "local",
        "-v",
    ]);
    let _ = std::fs::remove_file(&cluster);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("replay cache not used") && stderr.contains("is not a private directory"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(&target).unwrap().uid(),
        // SAFETY: getuid has no preconditions.
        unsafe { libc::getuid() }
    );
}

/// [`cold_equals_warm_in`] `cache` on the diesel fixture, its last migration held back: resumed from
/// the prefix of 2, then fully cached.
fn diesel_cold_equals_warm(cache: &Cache) {
    let says = cold_equals_warm_in(
        cache,
        &fixture_path("runners/diesel"),
        &["migrations/2024-01-03-000000_posts_title_idx"],
    );
    assert!(says.contains("2 of 3 migrations cached"), "{says}");
    assert!(says.contains("3 of 3 migrations cached"), "{says}");
}

/// The first column of `query` (text) on the server's `postgres` database.
fn server_names(
    rt: &tokio::runtime::Runtime,
    server: &pgrehearse::engine::Server,
    query: &str,
) -> Vec<String> {
    rt.block_on(crate::harness::names(server, query))
}

/// The tag of a url engine's cache in `cache` (its only server), which ends its snapshots' names.
fn server_tag(cache: &Cache) -> String {
    let servers = cache.dir.path().join("servers");
    let dir = std::fs::read_dir(&servers)
        .expect("a server's cache")
        .flatten()
        .next()
        .expect("one server")
        .path();
    std::fs::read_to_string(dir.join("tag"))
        .expect("its tag")
        .trim()
        .to_string()
}

const SNAPSHOTS: &str =
    "SELECT datname::text FROM pg_database WHERE datname LIKE 'pgrehearse\\_prefix\\_%' ORDER BY 1";

/// The url engine caches on its server: a prefix resumes from a `TEMPLATE` copy there and the
/// reports from a prefix, from scratch and fully cached are equal byte for byte; the snapshots
/// are owned by the cache's role, which cannot log in between checks; nothing of the run is left.
#[test]
fn url_engine_caches_prefixes_on_its_server() {
    let rt = crate::harness::runtime();
    let cleanup = pgrehearse::engine::Cleanup::new();
    let (server, url) = crate::harness::shared_server(&rt, &cleanup);
    let cache = Cache::on_server(&url);
    diesel_cold_equals_warm(&cache);
    let tag = server_tag(&cache);
    let snapshots = server_names(&rt, &server, SNAPSHOTS);
    assert_eq!(snapshots.len(), 2, "{snapshots:?}");
    assert!(
        snapshots.iter().all(|s| s.contains(&format!("_{tag}_"))),
        "{snapshots:?}"
    );
    let owners = server_names(
        &rt,
        &server,
        "SELECT DISTINCT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname LIKE 'pgrehearse\\_prefix\\_%'",
    );
    let role = format!("pgrehearse_cache_{tag}");
    assert_eq!(owners, vec![role.clone()]);
    let login = server_names(
        &rt,
        &server,
        &format!("SELECT rolcanlogin::text FROM pg_roles WHERE rolname = '{role}'"),
    );
    assert_eq!(
        login,
        vec!["false".to_string()],
        "the cache's role can log in"
    );
    // Nothing else of the runs: no scratch database, no per-run role.
    let left = server_names(
        &rt,
        &server,
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'pgrehearse%' AND datname NOT LIKE 'pgrehearse\\_prefix\\_%' \
         UNION ALL SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'pgrehearse\\_role\\_%'",
    );
    assert!(left.is_empty(), "{left:?}");
    let status = cache.status();
    assert!(status.contains("2 snapshot(s)"), "{status}");
    // `cache clear --database-url` drops them and the role.
    let out = cache.run(&["cache", "clear", "--database-url", &url], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(server_names(&rt, &server, SNAPSHOTS).is_empty());
    let roles = server_names(
        &rt,
        &server,
        &format!("SELECT rolname::text FROM pg_roles WHERE rolname = '{role}'"),
    );
    assert!(roles.is_empty(), "{roles:?}");
    rt.block_on(cleanup.run_all());
}

/// Two machines share a server: each resumes from its own snapshots and never drops the other's,
/// except those the other kept more than 30 days ago; a snapshot of its own that its index does not
/// list (a run killed between keeping and recording it) is dropped.
#[test]
fn machines_sharing_a_server_keep_to_their_own_snapshots() {
    let rt = crate::harness::runtime();
    let cleanup = pgrehearse::engine::Cleanup::new();
    let (server, url) = crate::harness::shared_server(&rt, &cleanup);
    let (one, two) = (Cache::on_server(&url), Cache::on_server(&url));
    let repo = tempfile::tempdir().unwrap();
    psql_repo(repo.path(), &[M1, M2]);
    one.check(repo.path(), &[]);
    let first = two.check(repo.path(), &[]);
    assert!(cache_said(&first, "no cached prefix"), "{}", first.stderr);
    let (tag_one, tag_two) = (server_tag(&one), server_tag(&two));
    assert_ne!(tag_one, tag_two);
    let mine = |tag: &str| {
        server_names(&rt, &server, SNAPSHOTS)
            .into_iter()
            .filter(|s| s.contains(&format!("_{tag}_")))
            .count()
    };
    assert_eq!((mine(&tag_one), mine(&tag_two)), (1, 1));
    // Planted: an unlisted snapshot of the first machine's, and two of a third machine's, one kept
    // long ago.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let key = "ab".repeat(12);
    let unlisted = format!("pgrehearse_prefix_{key}_{tag_one}_{now}");
    let old = format!("pgrehearse_prefix_{key}_0c0c0c0c_{}", now - 31 * 24 * 3600);
    let recent = format!("pgrehearse_prefix_{key}_0c0c0c0c_{}", now - 24 * 3600);
    let other = "pgrehearse_prefix_kept_by_hand".to_string();
    // A cache gone for good (only an old snapshot, its role NOLOGIN), and one whose check is
    // running (its role can log in).
    let gone = format!("pgrehearse_prefix_{key}_0d0d0d0d_{}", now - 40 * 24 * 3600);
    let running = format!("pgrehearse_prefix_{key}_0e0e0e0e_{}", now - 40 * 24 * 3600);
    rt.block_on(async {
        let admin = server.connect("postgres").await.expect("connects");
        for db in [&unlisted, &old, &recent, &other, &gone, &running] {
            admin
                .batch_execute(&format!("CREATE DATABASE \"{db}\""))
                .await
                .expect("creates a database");
        }
        admin
            .batch_execute(
                "CREATE ROLE pgrehearse_cache_0c0c0c0c NOLOGIN; \
                 CREATE ROLE pgrehearse_cache_0d0d0d0d NOLOGIN; \
                 CREATE ROLE pgrehearse_cache_0e0e0e0e LOGIN",
            )
            .await
            .expect("creates roles");
    });
    let again = one.check(repo.path(), &[]);
    assert!(
        cache_said(&again, "2 of 2 migrations cached"),
        "{}",
        again.stderr
    );
    assert!(
        again.stderr.contains("dropped 4 snapshot(s) on the server"),
        "{}",
        again.stderr
    );
    let left = server_names(&rt, &server, SNAPSHOTS);
    assert!(
        !left.contains(&unlisted) && !left.contains(&old),
        "{left:?}"
    );
    assert!(left.contains(&recent) && left.contains(&other), "{left:?}");
    assert_eq!((mine(&tag_one), mine(&tag_two)), (1, 1));
    // The gone cache's role went with its last snapshot; the others' roles stay.
    let roles = server_names(
        &rt,
        &server,
        "SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'pgrehearse\\_cache\\_0%' ORDER BY 1",
    );
    assert_eq!(
        roles,
        vec![
            "pgrehearse_cache_0c0c0c0c".to_string(),
            "pgrehearse_cache_0e0e0e0e".to_string()
        ]
    );
    // The second machine's cache still answers from its own.
    let hit = two.check(repo.path(), &[]);
    assert!(
        cache_said(&hit, "2 of 2 migrations cached"),
        "{}",
        hit.stderr
    );
    assert_eq!(hit.json, again.json);
    for cache in [&one, &two] {
        let out = cache.run(&["cache", "clear", "--database-url", &url], &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let left = server_names(&rt, &server, SNAPSHOTS);
    assert!(!left.iter().any(|db| db.contains("_0e0e0e0e_")), "{left:?}");
    assert_eq!(left, {
        let mut l = vec![recent.clone(), other.clone()];
        l.sort();
        l
    });
    rt.block_on(cleanup.run_all());
}

/// `docker` with `args`: whether it succeeded, and its stdout.
fn docker(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

/// The docker engine caches in a named volume that each check's container mounts: a prefix resumes
/// there and the reports from a prefix, from scratch and fully cached are equal byte for byte; no
/// container is left, only the volume; a lost password makes the volume anew; `cache clear` removes
/// it.
#[test]
fn docker_engine_caches_in_a_volume() {
    if crate::harness::skip_docker() {
        return;
    }
    let cache = Cache::in_docker();
    diesel_cold_equals_warm(&cache);
    let status = cache.status();
    assert!(status.contains("2 snapshot(s)"), "{status}");
    let volume = status
        .split("(volume ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .expect("status names the volume")
        .to_string();
    assert!(docker(&["volume", "inspect", &volume]).0, "{status}");
    let (_, using) = docker(&["ps", "-a", "-q", "--filter", &format!("volume={volume}")]);
    assert!(using.is_empty(), "containers left on the volume: {using}");
    // The password the volume's cluster was made with is this user's only.
    let dir = std::fs::read_dir(cache.dir.path().join("docker"))
        .expect("the docker cache")
        .flatten()
        .next()
        .expect("one image")
        .path();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("password"))
        .expect("the password file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // Without it the volume cannot be used: it is made anew, and the cache starts empty.
    std::fs::remove_file(dir.join("password")).unwrap();
    let repo = fixture_path("runners/diesel");
    let anew = cache.check(&repo, &[]);
    assert!(
        cache_said(&anew, "no cached prefix of its 3 migrations"),
        "{}",
        anew.stderr
    );
    let hit = cache.check(&repo, &[]);
    assert!(
        cache_said(&hit, "3 of 3 migrations cached"),
        "{}",
        hit.stderr
    );
    assert_eq!(hit.json, anew.json);
    // A cluster the image does not start (another major version's, under the same tag): the volume
    // is made anew, and the check goes on from scratch.
    let (broke, _) = docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{volume}:/var/lib/postgresql"),
        "--entrypoint",
        "/bin/sh",
        &crate::harness::image(),
        "-c",
        "echo 99 > /var/lib/postgresql/pgrehearse/PG_VERSION",
    ]);
    assert!(broke, "could not write into the volume");
    let remade = cache.check(&repo, &[]);
    assert!(
        remade.stderr.contains("it is made anew")
            && cache_said(&remade, "no cached prefix of its 3 migrations"),
        "{}",
        remade.stderr
    );
    assert_eq!(remade.json, anew.json);
    let out = cache.run(&["cache", "clear"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !docker(&["volume", "inspect", &volume]).0,
        "the volume outlived `cache clear`"
    );
}

/// A url engine's role that is no superuser but may create databases and roles (a managed
/// platform's administrator) replays as a role of its own, and keeps, copies and drops snapshots
/// that role owns: from scratch and cached alike.
#[test]
fn a_platform_administrator_without_superuser_replays_and_caches() {
    let rt = crate::harness::runtime();
    let cleanup = pgrehearse::engine::Cleanup::new();
    let (server, url) = crate::harness::shared_server(&rt, &cleanup);
    rt.block_on(async {
        let admin = server.connect("postgres").await.expect("connects");
        admin
            .batch_execute("CREATE ROLE platform_admin LOGIN CREATEDB CREATEROLE")
            .await
            .expect("creates the administrator");
    });
    let url = url.replace(
        &format!("user={}", server.admin_user()),
        "user=platform_admin",
    );
    let cache = Cache::on_server(&url);
    let repo = fixture_path("runners/diesel");
    let cold = cache.check(&repo, &["--no-cache"]);
    let first = cache.check(&repo, &[]);
    let hit = cache.check(&repo, &[]);
    assert!(
        cache_said(&hit, "3 of 3 migrations cached"),
        "{}",
        hit.stderr
    );
    assert_eq!(first.json, cold.json);
    assert_eq!(hit.json, cold.json);
    let role = format!("pgrehearse_cache_{}", server_tag(&cache));
    let owners = server_names(
        &rt,
        &server,
        "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname LIKE 'pgrehearse\\_prefix\\_%'",
    );
    assert_eq!(owners, vec![role.clone()]);
    let out = cache.run(&["cache", "clear", "--database-url", &url], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left = server_names(
        &rt,
        &server,
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'pgrehearse\\_%' \
         UNION ALL SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'pgrehearse\\_%'",
    );
    assert!(left.is_empty(), "{left:?}");
    rt.block_on(cleanup.run_all());
}
