//! The `policy` stage, last before reporting: what the repository itself says about findings.
//!
//! 1. `-- pgrehearse-ignore: <id>[, <id>] <reason>` comments suppress findings of those rules on the
//!    statement they sit on or above (or in the whole file: see [`suppress`]); a suppression that
//!    suppresses nothing becomes an `unused-suppression` notice at the comment.
//! 2. The baseline file (`pgrehearse baseline` writes it) removes findings recorded earlier, so that an
//!    existing repository fails only on new findings; recorded findings that no longer occur are
//!    reported once as `stale-baseline`.
//! 3. `rules:` in `.pgrehearse.yaml` sets a rule's severity or turns it `off`.
//!
//! Rules the run could not have observed (replay rules under `pgrehearse lint`, lock rules with
//! `--no-lock-trace`, fault injection when it was not requested, migrations after a replay stopped)
//! never make a suppression or a baseline entry look unused.

pub mod baseline;
pub mod suppress;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::{ConfigFile, Level};
use crate::model::{Finding, Report, Sources};
use crate::registry;

pub use baseline::{Baseline, BaselineError};
pub use suppress::Suppression;

/// Which baseline file to use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum BaselineChoice {
    /// `baseline:` from the configuration, else `<root>/.pgrehearse-baseline.json` when present.
    #[default]
    Auto,
    /// `--baseline FILE`: this file, which must exist.
    File(PathBuf),
    /// `--no-baseline`, and `pgrehearse baseline` itself.
    Off,
}

/// The default baseline file name, at the repository root.
pub const BASELINE_FILE: &str = ".pgrehearse-baseline.json";

/// What the run observed, so that unobserved rules do not count as unused.
#[derive(Clone, Debug, Default)]
pub struct Coverage {
    /// Every set was replayed to the end (no failure, no stop).
    pub replayed_fully: bool,
    pub lock_trace: bool,
    pub fault_injection: bool,
    /// Declared schemas or a live database were compared.
    pub drift: bool,
    /// A live database was read.
    pub live: bool,
    /// Rules turned off (by `rules:` or by default): never judged.
    pub off: Vec<String>,
}

impl Coverage {
    /// Only static rules (`pgrehearse lint`).
    pub fn static_only() -> Coverage {
        Coverage::default()
    }

    /// Whether the run would have reported findings of rule `id` if there were any.
    pub fn observes(&self, id: &str) -> bool {
        use registry::Stage;
        if self.off.iter().any(|o| o == id) {
            return false;
        }
        match registry::stage(id) {
            Stage::Static => true,
            Stage::Replay => self.replayed_fully,
            Stage::Lock => self.replayed_fully && self.lock_trace,
            Stage::FaultInjection => self.replayed_fully && self.fault_injection,
            Stage::Drift => self.replayed_fully && self.drift,
            Stage::Live => self.live,
        }
    }
}

/// Where the baseline file lives for `choice`, or `None` when there is none to read. The file the
/// repository names (`baseline:`, or the default file) must resolve inside the repository; a file
/// named on the command line is the user's own choice.
pub fn baseline_path(
    root: &Path,
    config: Option<&ConfigFile>,
    choice: &BaselineChoice,
) -> Result<Option<PathBuf>, BaselineError> {
    match choice {
        BaselineChoice::Off => Ok(None),
        BaselineChoice::File(path) => Ok(Some(path.clone())),
        BaselineChoice::Auto => {
            let path = repository_baseline(root, config)?;
            let configured = config.is_some_and(|c| c.baseline.is_some());
            Ok((configured || path.exists()).then_some(path))
        }
    }
}

/// The baseline file the repository names: `baseline:` from the configuration, else the default file;
/// refused when it resolves outside the repository (a symlink or `..`).
pub fn repository_baseline(
    root: &Path,
    config: Option<&ConfigFile>,
) -> Result<PathBuf, BaselineError> {
    let rel = config
        .and_then(|c| c.baseline.clone())
        .unwrap_or_else(|| PathBuf::from(BASELINE_FILE));
    crate::paths::inside(root, &rel)?;
    Ok(root.join(rel))
}

/// Applies suppressions, the baseline and rule levels to `report`, in that order. The findings are
/// left unsorted: callers hold back the history's first ([`crate::history::hold_back`]), then sort
/// what is reported ([`Report::sort`]).
pub fn apply(
    report: &mut Report,
    sources: &Sources,
    root: &Path,
    config: Option<&ConfigFile>,
    baseline: Option<&Path>,
    coverage: &Coverage,
) -> Result<(), BaselineError> {
    let empty = BTreeMap::new();
    let levels = config.map_or(&empty, |c| &c.rules);
    let mut coverage = coverage.clone();
    coverage.off = registry::RULES
        .iter()
        .filter(|r| match levels.get(r.id) {
            Some(level) => level.severity().is_none(),
            None => registry::OFF_BY_DEFAULT.contains(&r.id),
        })
        .map(|r| r.id.to_string())
        .collect();
    let coverage = &coverage;
    let suppressions = suppress::collect(sources);
    let (kept, notices, suppressed) = suppress::apply(
        std::mem::take(&mut report.findings),
        &suppressions,
        coverage,
    );
    report.findings = kept;
    report.suppressed += suppressed;
    if let Some(path) = baseline {
        let recorded = Baseline::read(path)?;
        let (kept, baselined, stale) =
            recorded.filter(std::mem::take(&mut report.findings), sources, coverage);
        report.findings = kept;
        report.baselined += baselined;
        if stale > 0 {
            let shown = path.strip_prefix(root).unwrap_or(path);
            report.findings.push(
                registry::finding(
                    "stale-baseline",
                    format!("{stale} finding(s) recorded in the baseline no longer occur"),
                )
                .help("run `pgrehearse baseline` to rewrite the baseline without them")
                .at(shown, None),
            );
        }
    }
    report.findings.extend(notices);
    apply_levels(&mut report.findings, levels);
    Ok(())
}

/// `rules:` levels: a new severity, or the finding removed (`off`).
fn apply_levels(findings: &mut Vec<Finding>, levels: &BTreeMap<String, Level>) {
    findings.retain_mut(|f| match leveled(levels, &f.rule) {
        None => false,
        Some(severity) => {
            if let Some(severity) = severity {
                f.severity = severity;
            }
            true
        }
    });
}

/// What `rules:` (`levels`) does with the findings of `rule`: `None` removes them (`off`, or off by
/// default and not named), `Some(None)` keeps them as they are, `Some(Some(s))` gives them severity
/// `s`.
fn leveled(levels: &BTreeMap<String, Level>, rule: &str) -> Option<Option<crate::model::Severity>> {
    match levels.get(rule).map(|l| l.severity()) {
        None if registry::OFF_BY_DEFAULT.contains(&rule) => None,
        None => Some(None),
        Some(None) => None,
        Some(severity) => Some(severity),
    }
}

/// Whether [`apply`] removes every finding of `rule` without counting it, the baseline aside: a rule
/// turned off (by `rules:` in `config`, or by default).
pub fn turned_off(config: Option<&ConfigFile>, rule: &str) -> bool {
    let empty = BTreeMap::new();
    leveled(config.map_or(&empty, |c| &c.rules), rule).is_none()
}

/// The files a suppression comment is in: [`apply`] keeps or drops a finding of any other file by
/// its rule alone.
pub fn suppressing_files(sources: &Sources) -> std::collections::BTreeSet<std::path::PathBuf> {
    suppress::collect(sources)
        .into_iter()
        .map(|s| s.file)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;

    #[test]
    fn levels_change_severity_or_remove() {
        let mut findings = vec![
            registry::finding("drop-column", "a"),
            registry::finding("rename", "b"),
            registry::finding("drop-table", "c"),
            registry::finding("prefer-text", "d"),
            registry::finding("prefer-timestamptz", "e"),
        ];
        let levels: BTreeMap<String, Level> = [
            ("drop-column".to_string(), Level::Off),
            ("rename".to_string(), Level::Error),
            ("prefer-timestamptz".to_string(), Level::Warning),
        ]
        .into_iter()
        .collect();
        apply_levels(&mut findings, &levels);
        let got: Vec<(&str, Severity)> = findings
            .iter()
            .map(|f| (f.rule.as_str(), f.severity))
            .collect();
        assert_eq!(
            got,
            vec![
                ("rename", Severity::Error),
                ("drop-table", Severity::Warning),
                // Opt-in rules report only when given a level.
                ("prefer-timestamptz", Severity::Warning),
            ]
        );
    }

    #[test]
    fn coverage_of_lint_is_static_rules_only() {
        let lint = Coverage::static_only();
        assert!(lint.observes("mysql-syntax"));
        assert!(!lint.observes("drop-column"));
        assert!(!lint.observes("migration-failed"));
        let check = Coverage {
            replayed_fully: true,
            lock_trace: false,
            ..Coverage::default()
        };
        assert!(check.observes("migration-failed"));
        assert!(!check.observes("drop-column"));
        assert!(!check.observes("retry-fails"));
    }

    #[test]
    fn baseline_path_prefers_flag_then_config_then_default_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(
            baseline_path(root, None, &BaselineChoice::Auto).unwrap(),
            None
        );
        std::fs::write(root.join(BASELINE_FILE), "{}").unwrap();
        assert_eq!(
            baseline_path(root, None, &BaselineChoice::Auto).unwrap(),
            Some(root.join(BASELINE_FILE))
        );
        let config = ConfigFile {
            baseline: Some(PathBuf::from("ci/b.json")),
            ..ConfigFile::default()
        };
        assert_eq!(
            baseline_path(root, Some(&config), &BaselineChoice::Auto).unwrap(),
            Some(root.join("ci/b.json"))
        );
        assert_eq!(
            baseline_path(root, Some(&config), &BaselineChoice::Off).unwrap(),
            None
        );
        assert_eq!(
            baseline_path(root, None, &BaselineChoice::File("x.json".into())).unwrap(),
            Some(PathBuf::from("x.json"))
        );
    }

    #[test]
    fn a_repository_baseline_outside_the_repository_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = &dir.path().join("repo");
        std::fs::create_dir(root).unwrap();
        std::fs::write(dir.path().join("elsewhere.json"), "{}").unwrap();
        let config = ConfigFile {
            baseline: Some(PathBuf::from("../elsewhere.json")),
            ..ConfigFile::default()
        };
        let e = baseline_path(root, Some(&config), &BaselineChoice::Auto).unwrap_err();
        assert!(e.to_string().contains("outside the repository root"), "{e}");
        // The default file, symlinked out of the repository.
        std::os::unix::fs::symlink(dir.path().join("elsewhere.json"), root.join(BASELINE_FILE))
            .unwrap();
        assert!(baseline_path(root, None, &BaselineChoice::Auto).is_err());
        assert!(repository_baseline(root, None).is_err());
        // Named on the command line, it is the user's choice.
        let flag = BaselineChoice::File(dir.path().join("elsewhere.json"));
        assert!(baseline_path(root, None, &flag).unwrap().is_some());
    }
}
