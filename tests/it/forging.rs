//! Output a migration cannot forge: in GitHub Actions, text from the repository or from PostgreSQL
//! never becomes a workflow command, and markdown written to GitHub never carries links, images,
//! HTML or mentions from a migration. Output is bounded whatever a file produces.

use std::collections::BTreeSet;

use crate::harness::{command, repo};

/// A migration whose PostgreSQL error message and whose text both carry workflow commands (the v2
/// `::cmd::` form, the v1 `##[cmd]` form, a `stop-commands` that would switch off pgrehearse's own
/// annotations), mentions, images, links and HTML.
const FORGING_MIGRATION: &str = "\
CREATE TABLE t (id int);
DO $$
BEGIN
PERFORM '
::stop-commands::forgedtoken
::error::forged-after-stop';
RAISE EXCEPTION E'boom\\n::error file=x.sql,line=1::forged-from-message\\n  ::add-mask::secret\\n##[error]forged-v1\\n@octocat ![img](https://evil.example/i.png) [click](https://evil.example/x) <img src=x onerror=alert(1)> www.evil.example';
END
$$;
";

/// The commands the Actions runner would execute for this output, read as it reads a step's log: each
/// line trimmed, `::stop-commands::T` pausing everything until a line `::T::`.
fn executed(output: &str) -> Vec<String> {
    let mut stopped: Option<String> = None;
    let mut commands = Vec::new();
    for line in output.lines() {
        let line = line.trim();
        if let Some(token) = &stopped {
            if line == format!("::{token}::") {
                stopped = None;
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("::stop-commands::") {
            stopped = Some(rest.to_string());
            continue;
        }
        if line.starts_with("::") || line.starts_with("##[") {
            commands.push(line.to_string());
        }
    }
    commands
}

fn actions_run(
    repo: &std::path::Path,
    format: &str,
    summary: &std::path::Path,
) -> std::process::Output {
    command()
        .args(["check", "--engine", "local", "--format", format])
        .arg(repo)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "acme/shop")
        .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
        .env("GITHUB_STEP_SUMMARY", summary)
        .env_remove("GITHUB_TOKEN")
        .env_remove("GITHUB_EVENT_PATH")
        .output()
        .expect("the binary runs")
}

#[test]
fn migration_text_and_errors_never_become_workflow_commands() {
    let repo = repo(&[("migrations/001_forge.sql", FORGING_MIGRATION)]);
    let summary_dir = tempfile::tempdir().expect("tempdir");
    for format in ["human", "github"] {
        let summary = summary_dir.path().join(format!("{format}.md"));
        let out = actions_run(repo.path(), format, &summary);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // The fault is there to be forged: PostgreSQL's message reaches the output, with its
        // `::error` line at the start of a line.
        let raw: BTreeSet<&str> = stdout.lines().map(str::trim).collect();
        assert!(
            format == "github"
                || raw
                    .iter()
                    .any(|l| l.starts_with("::error file=x.sql,line=1::forged-from-message")),
            "{format}: the forged line is printed (that is what must be neutralised):\n{stdout}"
        );
        let mut commands = executed(&stdout);
        commands.extend(executed(&stderr));
        let forged: Vec<&String> = commands
            .iter()
            .filter(|c| {
                c.starts_with("::error file=x.sql")
                    || c.starts_with("::add-mask")
                    || c.starts_with("##[")
                    || c.contains("forged-after-stop")
                    || !c.contains("title=pgrehearse(")
            })
            .collect();
        assert!(
            forged.is_empty(),
            "{format}: forged commands would run: {forged:?}\nstdout:\n{stdout}"
        );
        // pgrehearse's own annotation still runs (printed by --format github, or by the GitHub
        // reporting without a token), and is escaped onto one line.
        let own: Vec<&String> = commands
            .iter()
            .filter(|c| {
                c.starts_with("::error file=migrations/001_forge.sql")
                    && c.contains("title=pgrehearse(migration-failed)")
            })
            .collect();
        assert!(!own.is_empty(), "{format}: {commands:?}\n{stdout}");
        assert!(
            own.iter().all(|c| c.contains("%0A::error file=x.sql")),
            "{own:?}"
        );

        // The job summary shows the message without acting on it.
        let md = std::fs::read_to_string(&summary).expect("the job summary is written");
        assert!(md.contains("boom"), "{md}");
        for live in [
            "@octocat",
            "![img](",
            "[click](",
            "<img",
            "https://evil",
            "www.evil",
        ] {
            assert!(!md.contains(live), "{format}: `{live}` is live in:\n{md}");
        }
        assert!(md.contains("@\u{200B}octocat"), "{md}");
        assert!(md.contains("&lt;img src=x"), "{md}");
    }
}

#[test]
fn outside_actions_nothing_is_paused() {
    let repo = repo(&[("migrations/001_a.sql", "SELECT 1;\n")]);
    let out = command()
        .args(["lint", "--format", "github"])
        .arg(repo.path())
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("stop-commands"), "{stdout}");
}

#[test]
fn findings_are_capped_per_rule_and_file_with_a_summary_line() {
    // 1,200 statements of a psql-style (autocommit) file, each but the last `not-rerunnable` (a
    // notice: the last has no later statement whose failure would leave it committed).
    let mut sql = String::new();
    for i in 0..1_200 {
        sql.push_str(&format!("CREATE TABLE t{i} (id int);\n"));
    }
    let repo = repo(&[("migrations/001_tables.sql", &sql)]);
    let out = command()
        .args(["lint", "--format", "json", "--fail-on", "never"])
        .arg(repo.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is the JSON report");
    let findings = json["findings"].as_array().expect("findings");
    let rerun: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| f["rule"] == "not-rerunnable")
        .collect();
    assert_eq!(rerun.len(), 101, "100 findings and one summary line");
    let last = rerun[100];
    assert_eq!(
        last["message"],
        "… and 1,099 more `not-rerunnable` findings in this file, not shown (pgrehearse reports the first 100 of a rule in each file)"
    );
    assert_eq!(last["file"], "migrations/001_tables.sql");
    assert_eq!(last["line"], 0);
    for f in findings {
        let n = findings
            .iter()
            .filter(|g| g["rule"] == f["rule"] && g["file"] == f["file"])
            .count();
        assert!(n <= 101, "{} has {n} findings", f["rule"]);
    }
}
