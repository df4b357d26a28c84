//! GitHub reporting: publishes a finished [`Report`] where people look on GitHub.
//!
//! It takes the standard Actions environment ([`Context::from_env`]: `GITHUB_REPOSITORY`, `GITHUB_SHA`,
//! `GITHUB_EVENT_PATH` for the pull request number and head commit, `GITHUB_API_URL` for GitHub
//! Enterprise Server, `GITHUB_TOKEN`, `GITHUB_STEP_SUMMARY`, `GITHUB_OUTPUT`) and a [`Publisher`] over
//! the REST [`Api`], and writes:
//!
//! - a **check run** (default name `pgrehearse`), created `in_progress` by [`Publisher::start`] and
//!   completed by [`Publisher::finish`] with a conclusion (`failure` when a finding reaches `--fail-on`,
//!   `neutral` for findings below it, `success` when clean), a markdown summary and **every** annotation,
//!   50 per request (the API's limit): `notice`/`warning`/`failure`, start and end line, columns only
//!   when the span is on one line (end column inclusive, as the Actions toolkit's);
//! - on pull requests, one **sticky summary comment**, found again by a hidden marker and edited in
//!   place (created only when there are findings), and **inline review comments** on the lines the pull
//!   request added or modified, each marked with a fingerprint of its finding so a re-run never posts the
//!   same comment twice; a finding whose fix lies on changed lines gets a ```` ```suggestion ```` block
//!   holding those lines with the fix applied, and its comment spans them (`start_line` … `line`);
//! - the **job summary** (`$GITHUB_STEP_SUMMARY`, a markdown table) and the step **outputs**
//!   (`findings`, `errors`, `warnings`, `notices`, `report-path` in `$GITHUB_OUTPUT`).
//!
//! Without a token, or when GitHub refuses a write (HTTP 401/403: the read-only token of a pull
//! request from a fork, or missing `permissions:`), it degrades to workflow commands (`::error file=…`)
//! and the job summary, with one notice saying why; any other API failure becomes one warning. GitHub
//! reporting never changes the exit code.

mod api;
pub mod diff;

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

pub use api::{Api, ApiError, Comment, PullFile, Rest};
use diff::ChangedLines;

use crate::model::{Finding, Report, Severity, Sources};
use crate::report::markdown::{self, MarkdownOptions};
use crate::report::{Resolved, ResolvedFix, Resolver};

/// The check run's default name (`--check-name`).
pub const DEFAULT_CHECK_NAME: &str = "pgrehearse";
/// The Checks API accepts at most this many annotations per request.
pub const ANNOTATIONS_PER_REQUEST: usize = 50;
/// Rows of the findings table in summaries (the check run summary is limited to 65,535 characters).
const SUMMARY_ROWS: usize = 100;
const MAX_SUMMARY_CHARS: usize = 60_000;
/// Annotations sent to the check run: 20 requests at most, whatever the report holds (the rest are
/// in the report file and the job log).
pub const MAX_ANNOTATIONS: usize = 1_000;
/// Inline review comments posted by one run.
pub const MAX_REVIEW_COMMENTS: usize = 30;

/// Where the run happens, from the Actions environment.
/// Why the current GitHub Actions event runs code from outside the repository, or `None` when it
/// does not (or when not on GitHub Actions): `pull_request_target`, and pull requests (or a
/// `workflow_run` of one) whose head is in a fork. Checks that would hand the pull request's SQL more
/// than the repository trusts refuse to run then.
pub fn untrusted_event() -> Option<String> {
    let name = std::env::var("GITHUB_EVENT_NAME").ok()?;
    let payload = std::env::var_os("GITHUB_EVENT_PATH")
        .and_then(|path| std::fs::read(path).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    untrusted(&name, payload.as_ref())
}

/// [`untrusted_event`] for event `name` with its `payload`.
fn untrusted(name: &str, payload: Option<&Value>) -> Option<String> {
    if name == "pull_request_target" {
        return Some("the workflow runs on `pull_request_target`, with the base repository's secrets, for a pull request's code".into());
    }
    let foreign = |head: &Value, base: &Value| {
        let head_name = head
            .pointer("/repo/full_name")
            .or_else(|| head.get("full_name"));
        let base_name = base
            .pointer("/repo/full_name")
            .or_else(|| base.get("full_name"));
        head.pointer("/repo/fork").or_else(|| head.get("fork")) == Some(&Value::Bool(true))
            || head_name.is_none()
            || head_name != base_name
    };
    match name {
        "pull_request" | "pull_request_review" | "pull_request_review_comment" => {
            let unknown = || {
                Some(format!(
                    "the `{name}` event payload (GITHUB_EVENT_PATH) could not be read, so where the pull request comes from is unknown"
                ))
            };
            let Some(pr) = payload.and_then(|p| p.get("pull_request")) else {
                return unknown();
            };
            let (Some(head), Some(base)) = (pr.get("head"), pr.get("base")) else {
                return unknown();
            };
            foreign(head, base).then(|| "the pull request comes from a fork".to_string())
        }
        "workflow_run" => {
            let run = payload?.get("workflow_run")?;
            let event = run.get("event").and_then(Value::as_str);
            let from_pr = matches!(event, Some("pull_request" | "pull_request_target"));
            let head = run.get("head_repository")?;
            let base = run.get("repository")?;
            (from_pr && foreign(head, base))
                .then(|| "the workflow run was triggered by a pull request from a fork".to_string())
        }
        _ => None,
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// `GITHUB_API_URL` (default `https://api.github.com`).
    pub api_url: String,
    /// `GITHUB_SERVER_URL` (default `https://github.com`), for links.
    pub server_url: String,
    /// `owner/name`.
    pub repository: String,
    /// The commit checks and links are about: the pull request's head, else `GITHUB_SHA`.
    pub sha: String,
    pub pull_request: Option<PullRequest>,
    /// `GITHUB_TOKEN`; without it nothing is sent to the API.
    pub token: Option<String>,
    pub step_summary: Option<PathBuf>,
    pub output: Option<PathBuf>,
    /// `GITHUB_WORKSPACE`, the repository checkout.
    pub workspace: Option<PathBuf>,
}

/// The pull request of a `pull_request` / `pull_request_target` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullRequest {
    pub number: u64,
    pub head_sha: String,
    /// The base commit, the default for `--changed-since` in the Action.
    pub base_sha: Option<String>,
}

/// The environment does not describe a usable Actions run.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("GITHUB_REPOSITORY `{0}` is not `owner/name`")]
    Repository(String),
    #[error("GITHUB_EVENT_PATH {}: could not read the event payload: {source}", path.display())]
    Event { path: PathBuf, source: io::Error },
    #[error("GITHUB_EVENT_PATH {}: the event payload is not JSON: {source}", path.display())]
    EventJson {
        path: PathBuf,
        source: serde_json::Error,
    },
}

impl Context {
    /// The context of this process: `None` unless `GITHUB_ACTIONS=true`.
    pub fn from_env() -> Result<Option<Context>, ContextError> {
        Context::from_vars(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// The context from a variable lookup (for tests and for `from_env`).
    pub fn from_vars(
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Context>, ContextError> {
        if var("GITHUB_ACTIONS").as_deref() != Some("true") {
            return Ok(None);
        }
        let repository = var("GITHUB_REPOSITORY").unwrap_or_default();
        let valid = repository.split('/').count() == 2
            && repository.split('/').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            });
        if !valid {
            return Err(ContextError::Repository(repository));
        }
        let pull_request = match var("GITHUB_EVENT_PATH") {
            Some(path) => {
                let path = PathBuf::from(path);
                let text =
                    std::fs::read_to_string(&path).map_err(|source| ContextError::Event {
                        path: path.clone(),
                        source,
                    })?;
                let event: Value = serde_json::from_str(&text)
                    .map_err(|source| ContextError::EventJson { path, source })?;
                pull_request_of(&event)
            }
            None => None,
        };
        let sha = match &pull_request {
            Some(pr) => pr.head_sha.clone(),
            None => var("GITHUB_SHA").unwrap_or_default(),
        };
        Ok(Some(Context {
            api_url: var("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into()),
            server_url: var("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into()),
            repository,
            sha,
            pull_request,
            token: var("GITHUB_TOKEN"),
            step_summary: var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            output: var("GITHUB_OUTPUT").map(PathBuf::from),
            workspace: var("GITHUB_WORKSPACE").map(PathBuf::from),
        }))
    }

    /// The checked root relative to the workspace (what GitHub's paths are relative to), when the root
    /// is inside it.
    pub fn path_prefix(&self, root: &Path) -> Option<PathBuf> {
        let workspace = self.workspace.as_ref()?.canonicalize().ok()?;
        let root = root.canonicalize().ok()?;
        root.strip_prefix(&workspace).ok().map(Path::to_path_buf)
    }
}

fn pull_request_of(event: &Value) -> Option<PullRequest> {
    let pr = event.get("pull_request")?;
    Some(PullRequest {
        number: pr.get("number")?.as_u64()?,
        head_sha: pr.get("head")?.get("sha")?.as_str()?.to_string(),
        base_sha: pr
            .get("base")
            .and_then(|b| b.get("sha"))
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// What to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub check_name: String,
    /// Post the sticky summary comment and inline review comments on pull requests.
    pub comment: bool,
    /// `--fail-on`: findings at or above it make the check run fail.
    pub fail_on: Option<Severity>,
    /// The checked root relative to the repository root.
    pub path_prefix: Option<PathBuf>,
    /// The report file written with `--output`, for the `report-path` output.
    pub report_path: Option<PathBuf>,
    /// Whether workflow commands for every finding are already on stdout (`--format github`).
    pub commands_printed: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            check_name: DEFAULT_CHECK_NAME.into(),
            comment: true,
            fail_on: Some(Severity::Error),
            path_prefix: None,
            report_path: None,
            commands_printed: false,
        }
    }
}

/// Publishes one run. `A` is the REST API ([`Rest`] in the binary).
pub struct Publisher<A: Api> {
    context: Context,
    options: Options,
    api: Option<A>,
    check_run: Option<u64>,
    /// Why the API is no longer used (already told to the user).
    degraded: bool,
}

/// `failure`, `neutral` or `success`.
pub fn conclusion(report: &Report, fail_on: Option<Severity>) -> &'static str {
    let failing = fail_on.is_some_and(|t| report.findings.iter().any(|f| f.severity >= t));
    if failing {
        "failure"
    } else if report.findings.is_empty() {
        "success"
    } else {
        "neutral"
    }
}

/// A stable 64-bit FNV-1a hash (the fingerprint of review comments; std's hashers are not stable).
fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.as_bytes().iter().chain(std::iter::once(&0u8)) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n\n… (cut)", &text[..end])
}

/// A finding placed in the repository: its path and, when known, its position.
struct Placed<'a> {
    finding: &'a Finding,
    resolved: Resolved<'a>,
}

impl<A: Api> Publisher<A> {
    /// `api` is `None` when there is no token: only the job summary, outputs and workflow commands.
    pub fn new(context: Context, options: Options, api: Option<A>) -> Publisher<A> {
        Publisher {
            context,
            options,
            api,
            check_run: None,
            degraded: false,
        }
    }

    pub fn context(&self) -> &Context {
        &self.context
    }

    fn sticky_marker(&self) -> String {
        format!("<!-- pgrehearse:summary:{} -->", self.options.check_name)
    }

    /// Reacts to a failed call: a refused write degrades with one notice, anything else with one
    /// warning. Either way the API is not used again.
    fn degrade(&mut self, out: &mut dyn Write, what: &str, error: &ApiError) -> io::Result<()> {
        if self.degraded {
            return Ok(());
        }
        self.degraded = true;
        self.api = None;
        if error.is_forbidden() {
            writeln!(
                out,
                "::notice title=pgrehearse::{}",
                crate::report::escape_data(&format!(
                    "pgrehearse could not {what} ({error}): the token is read-only here, as for a pull request from a fork, or the workflow lacks `permissions: checks: write, pull-requests: write`. Findings are reported as workflow annotations and in the job summary instead."
                ))
            )
        } else {
            writeln!(
                out,
                "::warning title=pgrehearse::{}",
                crate::report::escape_data(&format!(
                    "pgrehearse could not {what} ({error}). Findings are reported as workflow annotations and in the job summary instead."
                ))
            )
        }
    }

    /// Creates the check run, `in_progress`, before the replay starts.
    pub async fn start(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let Some(api) = &self.api else {
            return Ok(());
        };
        let body = json!({
            "name": self.options.check_name,
            "head_sha": self.context.sha,
            "status": "in_progress",
            "output": {
                "title": "Replaying migrations",
                "summary": "pgrehearse is replaying the migrations in an ephemeral PostgreSQL.",
            },
        });
        match api.create_check_run(&body).await {
            Ok(id) => self.check_run = Some(id),
            Err(e) => self.degrade(out, "create the check run", &e)?,
        }
        Ok(())
    }

    fn summary_markdown(&self, report: &Report, sources: &Sources) -> String {
        let opts = MarkdownOptions {
            link_base: Some(format!(
                "{}/{}/blob/{}",
                self.context.server_url.trim_end_matches('/'),
                self.context.repository,
                self.context.sha
            )),
            path_prefix: self.options.path_prefix.clone(),
            max_findings: SUMMARY_ROWS,
        };
        cut(
            &markdown::summary(report, sources, &opts),
            MAX_SUMMARY_CHARS,
        )
    }

    /// Publishes the finished report. Writes workflow commands and notices to `out`.
    pub async fn finish(
        &mut self,
        report: &Report,
        sources: &Sources,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let summary = self.summary_markdown(report, sources);
        self.write_outputs(report)?;
        self.write_step_summary(&summary)?;
        self.publish_check_run(report, sources, &summary, out)
            .await?;
        if self.options.comment && self.context.pull_request.is_some() {
            self.publish_sticky_comment(report, &summary, out).await?;
            self.publish_review_comments(report, sources, out).await?;
        }
        if self.api.is_none() && !self.options.commands_printed {
            let mut resolver = Resolver::with_prefix(sources, self.options.path_prefix.as_deref());
            for finding in &report.findings {
                writeln!(
                    out,
                    "{}",
                    crate::report::workflow_command(&mut resolver, finding)
                )?;
            }
        }
        Ok(())
    }

    /// Completes the check run as failed when pgrehearse itself could not run (exit code 2), so a
    /// required check never stays `in_progress`.
    pub async fn abort(&mut self, error: &str, out: &mut dyn Write) -> io::Result<()> {
        let text = format!(
            "### pgrehearse could not run\n\n{}",
            markdown::fenced("text", error)
        );
        self.write_step_summary(&text)?;
        let (Some(api), Some(id)) = (&self.api, self.check_run) else {
            return Ok(());
        };
        let body = json!({
            "status": "completed",
            "conclusion": "failure",
            "output": { "title": "pgrehearse could not run", "summary": cut(&text, MAX_SUMMARY_CHARS) },
        });
        if let Err(e) = api.update_check_run(id, &body).await {
            self.degrade(out, "complete the check run", &e)?;
        }
        Ok(())
    }

    fn write_outputs(&self, report: &Report) -> io::Result<()> {
        let Some(path) = &self.context.output else {
            return Ok(());
        };
        let mut text = format!(
            "findings={}\nerrors={}\nwarnings={}\nnotices={}\n",
            report.findings.len(),
            report.count(Severity::Error),
            report.count(Severity::Warning),
            report.count(Severity::Notice),
        );
        let report_path = self
            .options
            .report_path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        // A path cannot hold a newline that would forge another output.
        let _ = writeln!(
            text,
            "report-path={}",
            report_path.replace(['\n', '\r'], "")
        );
        append(path, &text)
    }

    fn write_step_summary(&self, summary: &str) -> io::Result<()> {
        match &self.context.step_summary {
            Some(path) => append(path, summary),
            None => Ok(()),
        }
    }

    fn placed<'a>(&self, report: &'a Report, sources: &'a Sources) -> Vec<Placed<'a>> {
        let mut resolver = Resolver::with_prefix(sources, self.options.path_prefix.as_deref());
        report
            .findings
            .iter()
            .filter_map(|finding| {
                let location = finding.location.as_ref()?;
                Some(Placed {
                    finding,
                    resolved: resolver.resolve(location),
                })
            })
            .collect()
    }

    async fn publish_check_run(
        &mut self,
        report: &Report,
        sources: &Sources,
        summary: &str,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        if self.api.is_none() {
            return Ok(());
        }
        let annotations: Vec<Value> = self
            .placed(report, sources)
            .iter()
            .take(MAX_ANNOTATIONS)
            .map(annotation)
            .collect();
        let title = format!("pgrehearse: {}", markdown::headline(report));
        let output =
            |batch: &[Value]| json!({ "title": title, "summary": summary, "annotations": batch });
        let mut batches = annotations.chunks(ANNOTATIONS_PER_REQUEST);
        let first = batches.next().unwrap_or(&[]);
        let conclusion = conclusion(report, self.options.fail_on);
        let Some(api) = &self.api else {
            return Ok(());
        };
        let id = match self.check_run {
            Some(id) => {
                let body = json!({
                    "status": "completed",
                    "conclusion": conclusion,
                    "output": output(first),
                });
                api.update_check_run(id, &body).await.map(|_| id)
            }
            None => {
                let body = json!({
                    "name": self.options.check_name,
                    "head_sha": self.context.sha,
                    "status": "completed",
                    "conclusion": conclusion,
                    "output": output(first),
                });
                api.create_check_run(&body).await
            }
        };
        let id = match id {
            Ok(id) => id,
            Err(e) => return self.degrade(out, "complete the check run", &e),
        };
        self.check_run = Some(id);
        for batch in batches {
            if let Err(e) = api
                .update_check_run(id, &json!({ "output": output(batch) }))
                .await
            {
                return self.degrade(out, "add annotations to the check run", &e);
            }
        }
        Ok(())
    }

    async fn publish_sticky_comment(
        &mut self,
        report: &Report,
        summary: &str,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let (Some(api), Some(pr)) = (&self.api, &self.context.pull_request) else {
            return Ok(());
        };
        let marker = self.sticky_marker();
        let body = format!("{marker}\n{summary}");
        let existing = match api.issue_comments(pr.number).await {
            Ok(comments) => comments
                .into_iter()
                .find(|c| c.body.as_deref().is_some_and(|b| b.contains(&marker))),
            Err(e) => return self.degrade(out, "read the pull request's comments", &e),
        };
        let result = match existing {
            Some(comment) if comment.body.as_deref() == Some(body.as_str()) => Ok(()),
            Some(comment) => api.update_issue_comment(comment.id, &body).await,
            // Nothing to say on a clean pull request that never had a comment.
            None if report.findings.is_empty() => Ok(()),
            None => api.create_issue_comment(pr.number, &body).await,
        };
        if let Err(e) = result {
            return self.degrade(out, "write the pull request comment", &e);
        }
        Ok(())
    }

    async fn publish_review_comments(
        &mut self,
        report: &Report,
        sources: &Sources,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let (Some(api), Some(pr)) = (&self.api, &self.context.pull_request) else {
            return Ok(());
        };
        let placed = self.placed(report, sources);
        if !placed.iter().any(|p| p.resolved.source.is_some()) {
            return Ok(());
        }
        let changed = match api.pull_files(pr.number).await {
            Ok(files) => ChangedLines::from_files(&files),
            Err(e) => return self.degrade(out, "read the pull request's files", &e),
        };
        let mut fixes = Resolver::with_prefix(sources, self.options.path_prefix.as_deref());
        let candidates: Vec<(String, Value)> = placed
            .iter()
            .filter_map(|p| {
                let line = p.resolved.source.as_ref()?.pos.line;
                // A fix whose lines the pull request changed becomes a suggestion on those lines.
                let suggested = p
                    .finding
                    .fix
                    .as_ref()
                    .and_then(|f| fixes.resolve_fix(f))
                    .and_then(|fix| suggestion(&fix))
                    .filter(|(from, to, _, _)| {
                        (*from..=*to).all(|l| changed.contains(&p.resolved.file, l))
                    });
                if !changed.contains(&p.resolved.file, line) && suggested.is_none() {
                    return None;
                }
                let f = p.finding;
                let marker = format!(
                    "<!-- pgrehearse:review:{:016x} -->",
                    fnv1a(&[&f.rule, &p.resolved.file, &line.to_string(), &f.message])
                );
                let mut body = format!(
                    "**{}** `{}`: {}",
                    f.severity,
                    f.rule,
                    markdown::cell(&f.message)
                );
                if let Some(help) = &f.help {
                    let _ = write!(body, "\n\nhelp: {}", markdown::cell(help));
                }
                let mut comment = json!({ "path": p.resolved.file, "line": line, "side": "RIGHT" });
                if let Some((from, to, lines, safe)) = &suggested {
                    let fence = if lines.contains("```") { "````" } else { "```" };
                    let _ = write!(
                        body,
                        "\n\n{}:\n\n{fence}suggestion\n{lines}\n{fence}",
                        if *safe {
                            "Suggested fix (`pgrehearse --fix` applies it)"
                        } else {
                            "Suggested fix (review it: it is not safe to apply as is, see the help)"
                        }
                    );
                    comment["line"] = json!(to);
                    if from != to {
                        comment["start_line"] = json!(from);
                        comment["start_side"] = json!("RIGHT");
                    }
                }
                let _ = write!(body, "\n\n{marker}");
                comment["body"] = json!(body);
                Some((marker, comment))
            })
            .collect();
        if candidates.is_empty() {
            return Ok(());
        }
        let existing = match api.review_comments(pr.number).await {
            Ok(comments) => comments,
            Err(e) => return self.degrade(out, "read the pull request's review comments", &e),
        };
        let mut seen: Vec<&str> = Vec::new();
        let mut comments = Vec::new();
        for (marker, comment) in &candidates {
            let posted = existing.iter().any(|c| {
                c.body
                    .as_deref()
                    .is_some_and(|b| b.contains(marker.as_str()))
            });
            if !posted && !seen.contains(&marker.as_str()) && comments.len() < MAX_REVIEW_COMMENTS {
                seen.push(marker);
                comments.push(comment.clone());
            }
        }
        if comments.is_empty() {
            return Ok(());
        }
        let body = json!({
            "commit_id": pr.head_sha,
            "event": "COMMENT",
            "body": format!(
                "pgrehearse: {} on lines this pull request changed.",
                if comments.len() == 1 { "1 finding".to_string() } else { format!("{} findings", comments.len()) }
            ),
            "comments": comments,
        });
        if let Err(e) = api.create_review(pr.number, &body).await {
            return self.degrade(out, "post review comments", &e);
        }
        Ok(())
    }
}

/// A fix as a GitHub suggestion: the first and last line it touches and their text with the fix
/// applied (LF line ends), and whether it is safe. `None` when the fix ends at the very start of a
/// line after its first one (it would swallow a line end the suggestion cannot show).
fn suggestion(fix: &ResolvedFix<'_>) -> Option<(u32, u32, String, bool)> {
    let text = fix.text;
    let span = fix.fix.span;
    let bytes = text.as_bytes();
    let is_break = |b: u8| b == b'\n' || b == b'\r';
    if span.end > span.start && is_break(bytes[span.end - 1]) {
        return None;
    }
    let first = bytes[..span.start]
        .iter()
        .rposition(|&b| is_break(b))
        .map_or(0, |i| i + 1);
    let last = bytes[span.end..]
        .iter()
        .position(|&b| is_break(b))
        .map_or(text.len(), |i| span.end + i);
    let lines = format!(
        "{}{}{}",
        text.get(first..span.start)?,
        fix.fix.replacement,
        text.get(span.end..last)?
    )
    .replace("\r\n", "\n")
    .replace('\r', "\n");
    Some((fix.pos.line, fix.pos.end_line, lines, fix.fix.safe))
}

/// One check run annotation.
fn annotation(placed: &Placed<'_>) -> Value {
    let f = placed.finding;
    let level = match f.severity {
        Severity::Error => "failure",
        Severity::Warning => "warning",
        Severity::Notice => "notice",
    };
    let mut a = json!({
        "path": placed.resolved.file,
        "annotation_level": level,
        "title": format!("pgrehearse({})", f.rule),
        "message": cut(&f.message, 60_000),
    });
    let (start, end) = match &placed.resolved.source {
        Some(s) => (s.pos.line, s.pos.end_line.max(s.pos.line)),
        // A finding about a whole file is shown on its first line.
        None => (1, 1),
    };
    if let Some(obj) = a.as_object_mut() {
        obj.insert("start_line".into(), json!(start));
        obj.insert("end_line".into(), json!(end));
        if let Some(s) = &placed.resolved.source
            && s.pos.line == s.pos.end_line
        {
            obj.insert("start_column".into(), json!(s.pos.column));
            obj.insert(
                "end_column".into(),
                json!(s.pos.end_column.saturating_sub(1).max(s.pos.column)),
            );
        }
        if let Some(help) = &f.help {
            obj.insert("raw_details".into(), json!(format!("help: {help}")));
        }
    }
    a
}

fn append(path: &Path, text: &str) -> io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    file.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn outside_actions_there_is_no_context() {
        assert_eq!(Context::from_vars(vars(&[])).unwrap(), None);
        assert_eq!(
            Context::from_vars(vars(&[("GITHUB_ACTIONS", "false")])).unwrap(),
            None
        );
    }

    #[test]
    fn pull_request_event_gives_number_and_head() {
        let dir = tempfile::tempdir().unwrap();
        let event = dir.path().join("event.json");
        std::fs::write(
            &event,
            r#"{"action":"synchronize","number":7,"pull_request":{"number":7,"head":{"sha":"headsha"},"base":{"sha":"basesha"}}}"#,
        )
        .unwrap();
        let ctx = Context::from_vars(vars(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "acme/shop"),
            ("GITHUB_SHA", "mergesha"),
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
            ("GITHUB_API_URL", "https://ghe.example.com/api/v3"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(ctx.repository, "acme/shop");
        assert_eq!(ctx.sha, "headsha");
        assert_eq!(ctx.api_url, "https://ghe.example.com/api/v3");
        assert_eq!(ctx.server_url, "https://github.com");
        assert_eq!(
            ctx.pull_request,
            Some(PullRequest {
                number: 7,
                head_sha: "headsha".into(),
                base_sha: Some("basesha".into())
            })
        );
        assert_eq!(ctx.token, None);
    }

    #[test]
    fn push_event_uses_github_sha() {
        let ctx = Context::from_vars(vars(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "acme/shop"),
            ("GITHUB_SHA", "pushsha"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(ctx.sha, "pushsha");
        assert_eq!(ctx.pull_request, None);
        assert_eq!(ctx.api_url, "https://api.github.com");
    }

    #[test]
    fn bad_repository_and_event_are_errors() {
        let err = Context::from_vars(vars(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "acme/shop/../x"),
        ]))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "GITHUB_REPOSITORY `acme/shop/../x` is not `owner/name`"
        );
        let err = Context::from_vars(vars(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "acme/shop"),
            ("GITHUB_EVENT_PATH", "/nonexistent/event.json"),
        ]))
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("GITHUB_EVENT_PATH /nonexistent/event.json: could not read"),
            "{err}"
        );
    }

    #[test]
    fn path_prefix_is_the_root_inside_the_workspace() {
        let workspace = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(workspace.path().join("services/api")).unwrap();
        let ctx = Context {
            workspace: Some(workspace.path().to_path_buf()),
            ..Context::default()
        };
        assert_eq!(
            ctx.path_prefix(&workspace.path().join("services/api/.")),
            Some(PathBuf::from("services/api"))
        );
        assert_eq!(ctx.path_prefix(workspace.path()), Some(PathBuf::new()));
        let elsewhere = tempfile::tempdir().unwrap();
        assert_eq!(ctx.path_prefix(elsewhere.path()), None);
        assert_eq!(Context::default().path_prefix(workspace.path()), None);
    }

    #[test]
    fn conclusions_follow_fail_on() {
        let (report, _) = crate::report::tests::fixture();
        assert_eq!(conclusion(&report, Some(Severity::Error)), "failure");
        assert_eq!(conclusion(&report, None), "neutral");
        let mut warnings = report.clone();
        warnings.findings.retain(|f| f.severity < Severity::Error);
        assert_eq!(conclusion(&warnings, Some(Severity::Error)), "neutral");
        assert_eq!(conclusion(&warnings, Some(Severity::Warning)), "failure");
        assert_eq!(
            conclusion(&Report::default(), Some(Severity::Notice)),
            "success"
        );
    }

    #[test]
    fn fingerprints_are_stable() {
        // FNV-1a of known input, so the marker of a posted comment never changes between versions.
        assert_eq!(fnv1a(&[]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(&["a"]), fnv1a(&["a"]));
        assert_ne!(fnv1a(&["ab", "c"]), fnv1a(&["a", "bc"]));
    }

    #[test]
    fn events_that_run_a_fork_s_code_are_untrusted() {
        let pr = |head: &str, fork: bool| json!({"pull_request": {"head": {"repo": {"full_name": head, "fork": fork}}, "base": {"repo": {"full_name": "acme/app", "fork": false}}}});
        assert!(untrusted("pull_request_target", None).is_some());
        assert_eq!(
            untrusted("pull_request", Some(&pr("acme/app", false))),
            None
        );
        assert!(untrusted("pull_request", Some(&pr("mallory/app", true))).is_some());
        // A deleted fork has no head repository.
        let deleted = json!({"pull_request": {"head": {"repo": null}, "base": {"repo": {"full_name": "acme/app"}}}});
        assert!(untrusted("pull_request", Some(&deleted)).is_some());
        assert!(untrusted("pull_request", None).is_some());
        assert_eq!(untrusted("push", None), None);
        let run = |event: &str, head: &str| json!({"workflow_run": {"event": event, "head_repository": {"full_name": head, "fork": head != "acme/app"}, "repository": {"full_name": "acme/app"}}});
        assert!(untrusted("workflow_run", Some(&run("pull_request", "mallory/app"))).is_some());
        assert_eq!(
            untrusted("workflow_run", Some(&run("pull_request", "acme/app"))),
            None
        );
        assert_eq!(
            untrusted("workflow_run", Some(&run("push", "acme/app"))),
            None
        );
    }
}
