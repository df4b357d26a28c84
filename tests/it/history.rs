//! History is not news: lock, partial-failure and data-dependent findings are reported only for
//! migrations that have not shipped. The `long-history` fixture (ten migrations, risky statements in
//! old ones) is committed one migration per commit into a fresh git repository, then a new migration is
//! added; the real binary replays it on a local PostgreSQL.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::harness::{Engine, check_json, command, copy_dir, engine_args, fixture, git};

const MIGRATIONS: &str = "db/migrations";

/// A new migration: an index built without CONCURRENTLY on an existing table.
const NEW: (&str, &str) = (
    "011_users_nickname.sql",
    "ALTER TABLE users ADD COLUMN nickname text;\nCREATE INDEX users_nickname_idx ON users (nickname);\n",
);

/// The fixture in a git repository, one commit per migration (oldest first); returns the repository
/// and the commit that added each migration (`commits[0]` added 001).
fn long_history() -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    copy_dir(&fixture("long-history"), root);
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(MIGRATIONS))
        .expect("migrations")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 10);
    git(root, &["init", "-q", "-b", "main"]);
    let mut commits = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(root).expect("inside");
        git(root, &["add", "--", rel.to_str().expect("utf-8")]);
        git(root, &["commit", "-q", "-m", "migration"]);
        commits.push(git(root, &["rev-parse", "HEAD"]));
    }
    (dir, commits)
}

fn add_new_migration(root: &Path) {
    std::fs::write(root.join(MIGRATIONS).join(NEW.0), NEW.1).expect("write");
}

/// `rule@NNN` (the migration's number) of every finding in a migration, sorted.
fn located(run: &Value) -> Vec<String> {
    let mut v: Vec<String> = run["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| {
            let file = f["file"].as_str()?;
            let name = file.strip_prefix("db/migrations/")?;
            Some(format!(
                "{}@{}",
                f["rule"].as_str().unwrap_or(""),
                &name[..3]
            ))
        })
        .collect();
    v.sort();
    v
}

/// The findings of historical rules (`pgrehearse rules --format json`), by `located`.
fn historical(located: &[String]) -> Vec<String> {
    let out = command()
        .args(["rules", "--format", "json"])
        .output()
        .expect("runs");
    let rules: Value = serde_json::from_slice(&out.stdout).expect("rules json");
    let ids: Vec<&str> = rules
        .as_array()
        .expect("rules")
        .iter()
        .filter(|r| r["historical"] == true)
        .filter_map(|r| r["id"].as_str())
        .collect();
    located
        .iter()
        .filter(|l| ids.contains(&l.split('@').next().unwrap_or("")))
        .cloned()
        .collect()
}

fn numbered(located: &[String], from: &str, to: &str) -> Vec<String> {
    located
        .iter()
        .filter(|l| {
            let n = l.rsplit('@').next().unwrap_or("");
            n >= from && n <= to
        })
        .cloned()
        .collect()
}

/// What the fixture's old migrations risk, judged with `--all-history`.
const OLD_RISKS: &[&str] = &[
    "index-without-concurrently@003",
    "drop-column@004",
    "add-required-column@005",
    "validation-scan@010",
    "not-null-on-existing-data@010",
];

#[test]
fn locally_only_the_newest_migration_is_judged_and_all_history_judges_every_one() {
    let (dir, _) = long_history();
    let root = dir.path();
    add_new_migration(root);

    let all = check_json(root, Engine::Local, &["--all-history"]);
    let every = located(&all.json);
    for risk in OLD_RISKS {
        assert!(every.contains(&risk.to_string()), "{risk}: {every:?}");
    }
    assert!(every.contains(&"index-without-concurrently@011".to_string()));
    assert_eq!(all.json["summary"]["historical"], 0);
    assert_eq!(all.json["summary"]["history"]["basis"], "all-history");

    // Untracked, 011 is the newest migration and everything committed shipped.
    let run = check_json(root, Engine::Local, &[]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let reported = located(&run.json);
    assert_eq!(
        historical(&reported),
        historical(&numbered(&every, "011", "011")),
        "only the new migration's risks: {reported:?}"
    );
    assert!(
        reported.contains(&"index-without-concurrently@011".to_string()),
        "{reported:?}"
    );
    // A standing security hazard of a shipped migration is still reported.
    assert!(
        reported.contains(&"grant-write-to-public@008".to_string()),
        "{reported:?}"
    );
    // Held back, not lost: counted, and everything else is the same.
    let held_back = historical(&numbered(&every, "001", "010"));
    assert_eq!(
        run.json["summary"]["historical"],
        held_back.len(),
        "{held_back:?}"
    );
    let mut expected: Vec<String> = every
        .iter()
        .filter(|l| !held_back.contains(l))
        .cloned()
        .collect();
    expected.sort();
    assert_eq!(reported, expected);
    assert_eq!(
        run.json["summary"]["history"],
        json!({"basis": "commits", "revision": null, "shipped": 10})
    );
    // The suppression in the shipped 007 still suppresses its (held back) finding: it is not unused.
    assert_eq!(run.rule("unused-suppression"), Vec::<&Value>::new());
    assert_eq!(run.json["summary"]["suppressed"], 1);

    // The human summary says how many were held back and how to see them.
    let out = command()
        .arg("check")
        .arg(root)
        .args(engine_args(Engine::Local))
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "{} findings in migrations already shipped (committed before each set's newest migration; `--all-history` shows them)",
            held_back.len()
        )),
        "{stdout}"
    );

    // Committed, 011 is still the newest migration: still judged, the rest still shipped.
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "nickname"]);
    let committed = check_json(root, Engine::Local, &[]);
    assert_eq!(located(&committed.json), reported);
    assert_eq!(committed.json["summary"]["historical"], held_back.len());

    // lint holds back the same way: 005's add-required-column and 010's not-null only with
    // --all-history.
    let lint = |extra: &[&str]| {
        let out = command()
            .arg("lint")
            .arg(root)
            .args(["--format", "json"])
            .args(extra)
            .output()
            .expect("runs");
        located(&serde_json::from_slice(&out.stdout).expect("lint json"))
    };
    let default = lint(&[]);
    let everything = lint(&["--all-history"]);
    for risk in ["add-required-column@005", "not-null-on-existing-data@010"] {
        assert!(everything.contains(&risk.to_string()), "{everything:?}");
        assert!(!default.contains(&risk.to_string()), "{default:?}");
    }
}

#[test]
fn since_a_revision_counts_what_it_holds_as_shipped() {
    let (dir, commits) = long_history();
    let root = dir.path();
    add_new_migration(root);
    let every = located(&check_json(root, Engine::Local, &["--all-history"]).json);

    // At the commit that added 005, migrations 001 to 005 existed.
    let run = check_json(root, Engine::Local, &["--since", &commits[4]]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let reported = located(&run.json);
    assert_eq!(
        historical(&reported),
        historical(&numbered(&every, "006", "011")),
        "{reported:?}"
    );
    for risk in ["validation-scan@010", "not-null-on-existing-data@010"] {
        assert!(reported.contains(&risk.to_string()), "{reported:?}");
    }
    assert_eq!(
        run.json["summary"]["history"],
        json!({"basis": "since", "revision": commits[4], "shipped": 5})
    );

    // A revision git does not know is an error, before anything is replayed.
    let bad = command()
        .arg("check")
        .arg(root)
        .args(engine_args(Engine::Local))
        .args(["--since", "no-such-branch"])
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("--since `no-such-branch`: git does not know this revision"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

/// `pgrehearse check --format json` as a GitHub Actions `pull_request` run would start it.
fn pull_request_check(root: &Path, event: &Value) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let event_path = dir.path().join("event.json");
    std::fs::write(&event_path, event.to_string()).expect("event");
    let out = command()
        .arg("check")
        .arg(root)
        .args(engine_args(Engine::Local))
        .args(["--format", "json"])
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", &event_path)
        .output()
        .expect("runs");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn a_pull_request_counts_what_its_base_branch_has_as_shipped() {
    let (repo, commits) = long_history();
    // The base branch has 001 to 008; the pull request adds 009, 010 and 011.
    let root = repo.path();
    add_new_migration(root);
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "nickname"]);
    let base = &commits[7];
    let every = located(&check_json(root, Engine::Local, &["--all-history"]).json);

    let event = json!({
        "action": "synchronize",
        "pull_request": {
            "number": 7,
            "head": { "sha": git(root, &["rev-parse", "HEAD"]) },
            "base": { "sha": base, "ref": "main" },
        },
    });
    let run = pull_request_check(root, &event);
    let reported = located(&run);
    assert_eq!(
        historical(&reported),
        historical(&numbered(&every, "009", "011")),
        "{reported:?}"
    );
    assert!(
        reported.contains(&"validation-scan@010".to_string()),
        "{reported:?}"
    );
    assert!(!reported.contains(&"drop-column@004".to_string()));
    assert_eq!(
        run["summary"]["history"],
        json!({"basis": "pull-request", "revision": base, "shipped": 8})
    );
    assert_eq!(
        run["summary"]["historical"],
        historical(&numbered(&every, "001", "008")).len(),
        "{reported:?}"
    );
    assert!(
        run["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .all(|f| f["rule"] != "history-unavailable")
    );

    // A base commit the checkout lacks (a shallow clone): every migration is judged, and a notice
    // says why.
    let mut shallow = event.clone();
    shallow["pull_request"]["base"]["sha"] = json!("0123456789abcdef0123456789abcdef01234567");
    let run = pull_request_check(root, &shallow);
    let mut reported = located(&run);
    reported.sort();
    assert_eq!(reported, every);
    let notices: Vec<&Value> = run["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "history-unavailable")
        .collect();
    assert_eq!(notices.len(), 1, "{run}");
    assert_eq!(notices[0]["severity"], "notice");
    assert!(
        notices[0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("0123456789abcdef0123456789abcdef01234567"),
        "{}",
        notices[0]
    );
    assert_eq!(run["summary"]["historical"], 0);
    assert_eq!(run["summary"]["history"]["basis"], "none");
}

/// With `--against`, what the live database's bookkeeping lists as applied shipped, whatever git says
/// (here the repository is not a git repository at all, which alone would ship nothing).
#[test]
fn against_a_live_database_its_applied_migrations_shipped() {
    use pgrehearse::engine::{self, Cleanup};
    use tokio_postgres::config::Host;

    let repo = tempfile::tempdir().expect("tempdir");
    let migrations = [
        (
            "1_users.up.sql",
            "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n",
        ),
        (
            "2_email_index.up.sql",
            "CREATE INDEX users_email_idx ON users (email);\n",
        ),
        (
            "3_id_index.up.sql",
            "CREATE INDEX users_id_email_idx ON users (id, email);\n",
        ),
    ];
    for (name, sql) in migrations {
        let path = repo.path().join("migrations").join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, sql).expect("write");
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let cleanup = Cleanup::new();
    let options = crate::harness::local_options();
    let server = rt
        .block_on(engine::start(&options, &cleanup))
        .expect("local server");
    // Production applied 1 and 2 with golang-migrate.
    rt.block_on(async {
        let admin = server.connect("postgres").await.expect("connects");
        admin
            .batch_execute("CREATE DATABASE prod")
            .await
            .expect("creates prod");
        let prod = server.connect("prod").await.expect("connects to prod");
        for (_, sql) in &migrations[..2] {
            prod.batch_execute(sql).await.expect("applies");
        }
        prod.batch_execute(
            "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
             INSERT INTO schema_migrations VALUES (2, false);",
        )
        .await
        .expect("bookkeeping");
    });
    let host = match &server.config.get_hosts()[0] {
        Host::Unix(p) => p.display().to_string(),
        Host::Tcp(h) => h.clone(),
    };
    let url = format!(
        "host={host} port={} user={} dbname=prod",
        server.config.get_ports()[0],
        server.admin_user()
    );
    let drift = |extra: &[&str]| {
        let out = command()
            .arg("drift")
            .arg(repo.path())
            .args(engine_args(Engine::Local))
            .args(["--format", "json", "--against", &url])
            .args(extra)
            .output()
            .expect("runs");
        let json: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
        let mut found: Vec<String> = json["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| {
                format!(
                    "{}@{}",
                    f["rule"].as_str().unwrap_or(""),
                    f["file"].as_str().unwrap_or("-")
                )
            })
            .collect();
        found.sort();
        (found, json["summary"].clone())
    };
    let (default, summary) = drift(&[]);
    let (all, _) = drift(&["--all-history"]);
    rt.block_on(cleanup.run_all());

    let index = |n: &str| format!("index-without-concurrently@migrations/{n}");
    assert!(all.contains(&index("2_email_index.up.sql")), "{all:?}");
    assert!(all.contains(&index("3_id_index.up.sql")), "{all:?}");
    assert!(
        !default.contains(&index("2_email_index.up.sql")),
        "{default:?}"
    );
    assert!(default.contains(&index("3_id_index.up.sql")), "{default:?}");
    // Drift and bookkeeping findings are about every migration.
    assert!(
        default.contains(&"live-pending-migrations@migrations/3_id_index.up.sql".to_string()),
        "{default:?}"
    );
    assert_eq!(
        summary["history"],
        json!({"basis": "live", "revision": null, "shipped": 2})
    );
    assert_eq!(summary["historical"], 1, "{default:?}");
}

/// The baseline records every finding, shipped migrations' too; holding them back afterwards never
/// makes those entries look stale.
#[test]
fn a_baseline_of_every_finding_stays_matched_while_history_is_held_back() {
    let (dir, _) = long_history();
    let root = dir.path();
    let out = command()
        .arg("baseline")
        .arg(root)
        .args(engine_args(Engine::Local))
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recorded: Value = serde_json::from_slice(
        &std::fs::read(root.join(".pgrehearse-baseline.json")).expect("baseline file"),
    )
    .expect("baseline json");
    let recorded = recorded["findings"].as_array().map_or(0, Vec::len);
    assert!(recorded > 5, "{recorded}");

    // 010 is the newest migration: 001 to 009 shipped.
    let run = check_json(root, Engine::Local, &[]);
    assert_eq!(run.rule("stale-baseline"), Vec::<&Value>::new());
    assert_eq!(run.json["summary"]["baselined"], recorded);
    assert_eq!(run.json["summary"]["historical"], 0);
    assert_eq!(located(&run.json), Vec::<String>::new());
    // With a new migration, only its findings are reported.
    add_new_migration(root);
    let run = check_json(root, Engine::Local, &[]);
    assert_eq!(run.rule("stale-baseline"), Vec::<&Value>::new());
    assert!(
        located(&run.json).iter().all(|l| l.ends_with("@011")),
        "{:?}",
        located(&run.json)
    );
}
