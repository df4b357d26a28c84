//! `deliver`: the last step of `check` and `lint`. It takes a finished [`Outcome`], keeps only the
//! findings in changed files when `--changed-since` is given, writes the report (the chosen format to
//! stdout, or to `--output FILE` with the human report on stdout), publishes it to GitHub when running
//! in GitHub Actions, and returns the exit code (0 clean, 1 findings at or above `--fail-on`, 2 when
//! pgrehearse could not do its job).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::check::Outcome;
use crate::github::{self, Context, Publisher, Rest};
use crate::model::Severity;
use crate::report::{self, Format, RenderOptions, changed};

/// How to deliver a report.
#[derive(Clone, Debug)]
pub struct DeliverOptions {
    /// The checked root.
    pub root: PathBuf,
    pub format: Format,
    /// `--output FILE`: the format goes there, the human report to stdout.
    pub output: Option<PathBuf>,
    pub quiet: bool,
    /// Colours for the human report on stdout (stdout is a terminal, `NO_COLOR` unset).
    pub color: bool,
    /// `--fail-on`; `None` never fails.
    pub fail_on: Option<Severity>,
    /// `--changed-since REF`.
    pub changed_since: Option<String>,
    pub verbose: bool,
}

/// GitHub reporting flags.
#[derive(Clone, Debug)]
pub struct GithubOptions {
    /// `--no-github`: no check run, comments, job summary or outputs.
    pub disabled: bool,
    pub check_name: String,
    /// Pull request comments (sticky summary and inline review comments).
    pub comment: bool,
    pub fail_on: Option<Severity>,
}

/// The GitHub publisher of this run, when running in GitHub Actions (`GITHUB_ACTIONS=true`). Without
/// `GITHUB_TOKEN` it only writes the job summary, the outputs and workflow commands. The check run is
/// created `in_progress` here, before the replay.
pub async fn github_start(
    root: &Path,
    options: &GithubOptions,
    output: Option<&Path>,
    format: Format,
) -> Result<Option<Publisher<Rest>>, String> {
    if options.disabled {
        return Ok(None);
    }
    let Some(context) = Context::from_env().map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let api = match &context.token {
        Some(token) => Some(
            Rest::new(&context.api_url, token, &context.repository).map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    let publish = github::Options {
        check_name: options.check_name.clone(),
        comment: options.comment,
        fail_on: options.fail_on,
        path_prefix: context.path_prefix(root),
        report_path: output.map(Path::to_path_buf),
        commands_printed: format == Format::Github && output.is_none(),
    };
    let mut publisher = Publisher::new(context, publish, api);
    let stdout = io::stdout();
    let mut notices = Vec::new();
    publisher
        .start(&mut notices)
        .await
        .and_then(|()| report::actions::commands(&mut stdout.lock(), |out| out.write_all(&notices)))
        .map_err(|e| format!("could not write to stdout: {e}"))?;
    Ok(Some(publisher))
}

/// Marks the check run failed when pgrehearse could not run.
pub async fn github_abort(publisher: Option<&mut Publisher<Rest>>, error: &str) {
    if let Some(publisher) = publisher {
        let mut notices = Vec::new();
        let _ = publisher.abort(error, &mut notices).await;
        let _ = print_commands(&mut io::stdout().lock(), &notices);
    }
}

/// Prints workflow commands pgrehearse built (one escaped command a line), with command processing
/// on for them only.
fn print_commands(out: &mut dyn Write, commands: &[u8]) -> io::Result<()> {
    if commands.is_empty() {
        return Ok(());
    }
    report::actions::commands(out, |out| out.write_all(commands))
}

fn write_report(
    out: &mut dyn Write,
    format: Format,
    outcome: &Outcome,
    render: &RenderOptions,
) -> io::Result<()> {
    report::write(out, format, &outcome.report, &outcome.sources, render)?;
    out.flush()
}

/// Filters, writes and publishes the report; returns the exit code.
pub async fn finish(
    mut outcome: Outcome,
    options: &DeliverOptions,
    github: Option<&mut Publisher<Rest>>,
) -> u8 {
    // At most `cap::PER_RULE_AND_FILE` findings of a rule in a file, then one summary line.
    crate::cap::limit(&mut outcome.report.findings);
    if let Some(reference) = &options.changed_since {
        match changed::changed_files(&options.root, reference) {
            Ok(files) => {
                let dropped = changed::retain_changed(&mut outcome.report, &files);
                if options.verbose {
                    eprintln!(
                        "pgrehearse: --changed-since {reference}: {} changed file(s), {dropped} finding(s) in unchanged files not reported",
                        files.len()
                    );
                }
            }
            Err(e) => {
                eprintln!("pgrehearse: error: {e}");
                github_abort(github, &e.to_string()).await;
                return 2;
            }
        }
    }

    let path_prefix = github.as_ref().and_then(|p| {
        p.context()
            .path_prefix(&options.root)
            .filter(|p| !p.as_os_str().is_empty())
    });
    let github_render = RenderOptions {
        color: false,
        quiet: options.quiet,
        path_prefix,
    };
    if let Some(path) = &options.output {
        let written = std::fs::File::create(path).and_then(|file| {
            let mut file = io::BufWriter::new(file);
            write_report(&mut file, options.format, &outcome, &github_render)
        });
        if let Err(e) = written {
            eprintln!(
                "pgrehearse: error: --output {}: could not write the report: {e}",
                path.display()
            );
            github_abort(github, &e.to_string()).await;
            return 2;
        }
    }
    let (stdout_format, render) = match (&options.output, options.format) {
        (Some(_), _) | (None, Format::Human) => (
            Format::Human,
            RenderOptions {
                color: options.color,
                quiet: options.quiet,
                path_prefix: None,
            },
        ),
        (None, format) => (format, github_render),
    };
    let stdout = io::stdout();
    let written = if stdout_format == Format::Github {
        // The annotations are commands for the runner; the summary after them is plain text.
        let commands_only = RenderOptions {
            quiet: true,
            ..render.clone()
        };
        let mut out = stdout.lock();
        report::actions::commands(&mut out, |out| {
            write_report(out, stdout_format, &outcome, &commands_only)
        })
        .and_then(|()| {
            if options.quiet {
                Ok(())
            } else {
                out.write_all(report::summary(&outcome.report).as_bytes())?;
                out.flush()
            }
        })
    } else {
        write_report(&mut stdout.lock(), stdout_format, &outcome, &render)
    };
    if let Err(e) = written
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        eprintln!("pgrehearse: error: could not write the report: {e}");
        return 2;
    }

    if let Some(publisher) = github {
        // Workflow commands and notices go where the runner reads them; stdout holds a machine
        // format when one was asked for without --output.
        let machine_stdout = matches!(stdout_format, Format::Json | Format::Sarif);
        // Its notices and annotations are commands: written in one burst, then processing is paused
        // again (see `report::actions`).
        let mut commands = Vec::new();
        let result = publisher
            .finish(&outcome.report, &outcome.sources, &mut commands)
            .await;
        let printed = if machine_stdout {
            print_commands(&mut io::stderr().lock(), &commands)
        } else {
            print_commands(&mut io::stdout().lock(), &commands)
        };
        let result = result.and(printed);
        if let Err(e) = result {
            eprintln!(
                "pgrehearse: warning: could not write the GitHub job summary or outputs: {e}"
            );
        }
    }

    let failing = options.fail_on.is_some_and(|threshold| {
        outcome
            .report
            .findings
            .iter()
            .any(|f| f.severity >= threshold)
    });
    u8::from(failing)
}
