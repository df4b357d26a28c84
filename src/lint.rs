//! `lint`: the static part of `check`, with no database. It takes the repository root (and the
//! configuration file), runs discovery (layouts, journals, orphans, duplicate versions, splitting) and
//! the static rules (MySQL / SQLite / T-SQL constructs), and returns the same [`Outcome`] as
//! [`check::run`](crate::check::run), every set marked `static`. The pre-commit hook `pgrehearse-lint`
//! and `pgrehearse lint` use it: it takes milliseconds, so it can run on every commit.

use std::path::PathBuf;

use crate::check::{CheckError, Outcome};
use crate::model::{Category, Finding, Report, SetSummary, Severity};
use crate::{config, discover, policy, rules};

/// What to lint.
#[derive(Clone, Debug)]
pub struct LintOptions {
    pub root: PathBuf,
    /// `--config FILE`; default `<root>/.pgrehearse.yaml` when present.
    pub config: Option<PathBuf>,
    /// Which findings baseline to apply.
    pub baseline: crate::policy::BaselineChoice,
}

/// Discovery and static checks of every migration set under the root.
pub fn run(options: &LintOptions) -> Result<Outcome, CheckError> {
    let config = config::load(&options.root, options.config.as_deref())?;
    let discovery = discover::find(&options.root, config.as_ref())?;
    let mut report = Report::default();
    report.findings.extend(discovery.findings);
    for set in &discovery.sets {
        report.findings.extend(rules::static_checks(set));
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
    let baseline = policy::baseline_path(&options.root, config.as_ref(), &options.baseline);
    policy::apply(
        &mut report,
        &discovery.sources,
        &options.root,
        config.as_ref(),
        baseline.as_deref(),
        &policy::Coverage::static_only(),
    )?;
    Ok(Outcome {
        report,
        sources: discovery.sources,
    })
}
