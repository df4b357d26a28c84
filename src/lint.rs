//! `lint`: the static part of `check`, with no database. It takes the repository root (and the
//! configuration file), runs discovery (layouts, journals, orphans, duplicate versions, splitting, files
//! the runner refuses) and the static rules, and returns the same [`Outcome`] as
//! [`check::run`](crate::check::run), every set marked `static`. The pre-commit hook `pgrehearse-lint`
//! and `pgrehearse lint` use it: it takes milliseconds, so it can run on every commit.

use std::path::PathBuf;

use crate::check::{CheckError, Outcome};
use crate::model::{Category, Evidence, Finding, Report, SetSummary, Severity};
use crate::{config, declared, discover, history, policy, registry, rules};

/// What to lint.
#[derive(Clone, Debug)]
pub struct LintOptions {
    pub root: PathBuf,
    /// `--config FILE`; default `<root>/.pgrehearse.yaml` when present.
    pub config: Option<PathBuf>,
    /// Which findings baseline to apply.
    pub baseline: crate::policy::BaselineChoice,
    /// Which migrations count as shipped (see [`crate::history`]).
    pub history: crate::history::Choice,
}

/// Discovery and static checks of every migration set under the root.
pub fn run(options: &LintOptions) -> Result<Outcome, CheckError> {
    let config = config::load(&options.root, options.config.as_deref())?;
    let mut discovery = discover::find(&options.root, config.as_ref())?;
    declared::find(&options.root, config.as_ref(), &[], &mut discovery)?;
    let mut shipped = history::shipped(&options.root, &discovery.sets, &options.history)?;
    let mut report = Report::default();
    report.findings.extend(rules::unapplied_dialect_checks(
        &discovery.sets,
        &discovery.findings,
        &discovery.sources,
    ));
    report.findings.extend(discovery.findings);
    report.findings.extend(shipped.notice.take());
    for set in &discovery.sets {
        report.findings.extend(rules::static_checks(set));
        report.findings.extend(unterminated(set));
        // Files the runner itself would refuse: the replay reports the first one it reaches; with no
        // replay, every one of them.
        for m in &set.migrations {
            if let Some(blocked) = m
                .blocked
                .as_ref()
                .filter(|b| b.rule == "runner-rejects-migration")
            {
                report.findings.push(
                    registry::finding(blocked.rule, blocked.message.clone())
                        .help(blocked.help.clone())
                        .at(&m.file, blocked.span)
                        .evidence(Evidence {
                            migration: Some(m.id.clone()),
                            ..Evidence::default()
                        }),
                );
            }
        }
        report.sets.push(SetSummary {
            path: set.dir.clone(),
            runner: set.runner.as_str().to_string(),
            migrations: set.migrations.len(),
            applied: 0,
            status: "static".into(),
        });
    }
    if discovery.sets.is_empty() {
        report.findings.push(
            Finding::new(
                "no-migrations",
                Category::Discovery,
                Severity::Notice,
                format!("no migration set found under {}", options.root.display()),
            )
            .help("name the folder and its runner in .pgrehearse.yaml (`sets: [{path: db/migrations, runner: psql}]`)"),
        );
    }
    let baseline = policy::baseline_path(&options.root, config.as_ref(), &options.baseline)?;
    policy::apply(
        &mut report,
        &discovery.sources,
        &options.root,
        config.as_ref(),
        baseline.as_deref(),
        &policy::Coverage::static_only(),
    )?;
    history::hold_back(&mut report, &shipped);
    report.sort();
    // Fixes only for what is reported.
    rules::fixes::attach(&mut report.findings, &discovery.sets);
    Ok(Outcome {
        report,
        sources: discovery.sources,
    })
}

/// Migrations PostgreSQL rejects whatever the database holds: an unterminated block comment, quoted
/// string, quoted identifier or dollar-quoted string in what the runner sends. `check` reports these
/// as the replay's `migration-failed`; `lint` reports the same, at the opening token.
fn unterminated(set: &crate::runner::MigrationSet) -> Vec<Finding> {
    use pgrehearse_sql::{self as sql, Span, TokenKind};
    let mut findings = Vec::new();
    for m in &set.migrations {
        let is_sql = m
            .file
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("sql"));
        if !is_sql {
            continue;
        }
        let spans: Vec<Span> = if m.batches.is_empty() {
            vec![Span::new(0, m.text.len())]
        } else {
            m.batches.iter().map(|b| b.span).collect()
        };
        let open = spans.into_iter().find_map(|span| {
            sql::significant_tokens(&m.text, span)
                .into_iter()
                .find(|t| t.kind == TokenKind::Unterminated)
        });
        let Some(token) = open else {
            continue;
        };
        let what = sql::describe_unterminated(&m.text, &token);
        let start = token.span.start;
        let end = m.text[start..]
            .find(['\n', '\r'])
            .map_or(token.span.end, |n| start + n)
            .max(start + 1)
            .min(m.text.len());
        findings.push(
            registry::finding(
                "migration-failed",
                format!(
                    "migration `{}` cannot run: unterminated {what} from here to the end of the file; PostgreSQL rejects it",
                    m.id
                ),
            )
            .help(format!("close the {what}"))
            .at(&m.file, Some(Span::new(start, end)))
            .evidence(Evidence {
                migration: Some(m.id.clone()),
                ..Evidence::default()
            }),
        );
    }
    findings
}
