//! A newcomer's first ten minutes: `lint` agrees with `check` on files PostgreSQL cannot parse, a
//! mistyped path says it does not exist, a file that is not UTF-8 names its line, and the README's
//! example output is what the binary prints.

use crate::harness::{command, repo};

fn findings(out: &std::process::Output) -> Vec<(String, String, u64, u64)> {
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or("").to_string(),
                f["file"].as_str().unwrap_or("").to_string(),
                f["line"].as_u64().unwrap_or(0),
                f["column"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn lint_reports_unterminated_comments_and_quotes_as_check_does() {
    let repo = repo(&[
        (
            "comment/001_a.sql",
            "CREATE TABLE a (id int);\n/* never closed\nCREATE TABLE b (id int);\n",
        ),
        ("quote/001_a.sql", "SELECT 1;\nSELECT 'never closed;\n"),
        (
            ".pgrehearse.yaml",
            "sets:\n  - path: comment\n    runner: psql\n  - path: quote\n    runner: psql\n",
        ),
    ]);
    let failed = |out: &std::process::Output| -> Vec<(String, u64)> {
        findings(out)
            .into_iter()
            .filter(|f| f.0 == "migration-failed")
            .map(|f| (f.1, f.2))
            .collect()
    };
    let lint = command()
        .args(["lint", "--format", "json"])
        .arg(repo.path())
        .output()
        .expect("runs");
    assert_eq!(lint.status.code(), Some(1), "{lint:?}");
    let check = command()
        .args(["check", "--engine", "local", "--format", "json"])
        .arg(repo.path())
        .output()
        .expect("runs");
    assert_eq!(check.status.code(), Some(1), "{check:?}");
    let expected = vec![
        ("comment/001_a.sql".to_string(), 2),
        ("quote/001_a.sql".to_string(), 2),
    ];
    assert_eq!(failed(&lint), expected);
    assert_eq!(failed(&check), expected);
    let json: serde_json::Value = serde_json::from_slice(&lint.stdout).expect("JSON");
    let messages: Vec<&str> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "migration-failed")
        .filter_map(|f| f["message"].as_str())
        .collect();
    assert!(
        messages[0].contains("unterminated block comment"),
        "{messages:?}"
    );
    assert!(
        messages[1].contains("unterminated quoted string"),
        "{messages:?}"
    );
}

#[test]
fn a_missing_path_does_not_exist() {
    for sub in ["lint", "check", "baseline"] {
        let out = command()
            .args([sub, "/nonexistent/pgrehearse-repo"])
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{sub}: {stderr}");
        assert_eq!(
            stderr,
            "pgrehearse: error: /nonexistent/pgrehearse-repo: does not exist; pass the repository root to check\n",
            "{sub}"
        );
    }
    // A file given as the root is still "not a directory".
    let repo = repo(&[("file.sql", "SELECT 1;\n")]);
    let out = command()
        .arg("lint")
        .arg(repo.path().join("file.sql"))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a directory"), "{stderr}");
}

#[test]
fn a_file_that_is_not_utf8_names_its_line_and_column() {
    let dir = repo(&[("migrations/001_a.sql", "SELECT 1;\n")]);
    std::fs::write(
        dir.path().join("migrations/002_b.sql"),
        b"SELECT 1;\nSELECT 'caf\xe9';\n",
    )
    .expect("write");
    let out = command()
        .arg("lint")
        .arg(dir.path())
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("migrations/002_b.sql:2:12: not valid UTF-8 text"),
        "{stderr}"
    );
}

#[test]
fn the_readme_example_output_is_what_the_binary_prints() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let section = readme
        .split("## What the example shows")
        .nth(1)
        .expect("the example section");
    let block = section
        .split("```text\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the example output block");
    let out = command()
        .args(["check", "--engine", "local"])
        .arg(root.join("examples/shop"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let printed =
        String::from_utf8_lossy(&out.stdout).replace("(engine: local)", "(engine: docker)");
    assert_eq!(block, printed);
}
