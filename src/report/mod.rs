//! Writes a [`Report`] in one of four formats: `human` (annotated source snippets), `json` (a stable,
//! versioned contract for tools), `github` (GitHub Actions workflow commands, which become
//! annotations on the pull request) and `sarif` (SARIF 2.1.0 for GitHub code scanning). [`markdown`]
//! renders the summary used by the job summary, the check run and the pull request comment.
//!
//! Findings store byte spans; this module turns them into 1-based lines and character columns with
//! [`Position::resolve`], so every format reports the same `file:line:column` for a finding, whatever
//! the line endings (LF, CRLF, CR) of the file.

pub mod actions;
pub mod changed;
mod github;
mod human;
mod json;
pub mod markdown;
mod sarif;

pub(crate) use github::{command as workflow_command, escape_data};

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use crate::model::{
    Fix, LineIndex, Location, Position, Report, SetSummary, Severity, Sources, Span,
};

/// The output format of a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Diagnostics with annotated source excerpts, then a summary.
    Human,
    /// The versioned JSON document (see [`json`](self) for the contract).
    Json,
    /// GitHub Actions workflow commands (`::error file=…::message`).
    Github,
    /// SARIF 2.1.0, as GitHub code scanning accepts it (see [`sarif`](self)).
    Sarif,
}

impl Format {
    /// Every format, in the order they are documented.
    pub const ALL: [Format; 4] = [Format::Human, Format::Json, Format::Github, Format::Sarif];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Human => "human",
            Format::Json => "json",
            Format::Github => "github",
            Format::Sarif => "sarif",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "human" => Ok(Format::Human),
            "json" => Ok(Format::Json),
            "github" => Ok(Format::Github),
            "sarif" => Ok(Format::Sarif),
            other => Err(format!(
                "unknown format `{other}` (expected human, json, github or sarif)"
            )),
        }
    }
}

/// How a report is written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Emit ANSI colours (human format only).
    pub color: bool,
    /// Print findings only: no summary (human and github formats; JSON always has its summary).
    pub quiet: bool,
    /// Prepended to every path by the formats GitHub reads (`github`, `sarif`), whose paths must be
    /// relative to the repository root when the checked root is a sub-folder of it. Human and JSON
    /// paths stay relative to the checked root.
    pub path_prefix: Option<PathBuf>,
}

/// Writes the report. `sources` gives the text of files findings point into (by path relative to the root).
pub fn write(
    out: &mut dyn io::Write,
    format: Format,
    report: &Report,
    sources: &Sources,
    opts: &RenderOptions,
) -> io::Result<()> {
    match format {
        Format::Human => human::write(out, report, sources, opts),
        Format::Json => json::write(out, report, sources),
        Format::Github => github::write(out, report, sources, opts),
        Format::Sarif => sarif::write(out, report, sources, opts),
    }
}

/// A path for display: its components joined with `/`, whatever the platform. An empty path is `.`.
pub(crate) fn display_path(path: &Path) -> String {
    let mut out = String::new();
    for component in path.components() {
        let part = match component {
            Component::Prefix(prefix) => prefix.as_os_str().to_string_lossy(),
            Component::RootDir => {
                out.push('/');
                continue;
            }
            Component::CurDir => ".".into(),
            Component::ParentDir => "..".into(),
            Component::Normal(name) => name.to_string_lossy(),
        };
        if !out.is_empty() && !out.ends_with('/') {
            out.push('/');
        }
        out.push_str(&part);
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// A path as a relative URI reference: RFC 3986 unreserved characters and `/` as they are, every other
/// byte percent-encoded (so `%`, `:`, `,`, spaces and non-ASCII names stay valid in SARIF and links).
pub(crate) fn percent_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A finding's location made concrete: the display path and, when the span and the file's text are
/// both known, the text, the span (clamped to the text) and its resolved position.
pub(crate) struct Resolved<'a> {
    pub file: String,
    pub source: Option<ResolvedSpan<'a>>,
}

pub(crate) struct ResolvedSpan<'a> {
    pub text: &'a str,
    pub span: Span,
    pub pos: Position,
}

/// Resolves locations, building each file's [`LineIndex`] once.
pub(crate) struct Resolver<'a> {
    sources: &'a Sources,
    indexes: BTreeMap<&'a Path, LineIndex>,
    prefix: Option<PathBuf>,
}

impl<'a> Resolver<'a> {
    pub fn new(sources: &'a Sources) -> Resolver<'a> {
        Resolver {
            sources,
            indexes: BTreeMap::new(),
            prefix: None,
        }
    }

    /// A resolver whose display paths start with `prefix` (when given and not empty).
    pub fn with_prefix(sources: &'a Sources, prefix: Option<&Path>) -> Resolver<'a> {
        Resolver {
            prefix: prefix
                .filter(|p| !p.as_os_str().is_empty())
                .map(Path::to_path_buf),
            ..Resolver::new(sources)
        }
    }

    pub fn resolve(&mut self, location: &'a Location) -> Resolved<'a> {
        let file = match &self.prefix {
            Some(prefix) => display_path(&prefix.join(&location.file)),
            None => display_path(&location.file),
        };
        let source = match (location.span, self.sources.get(&location.file)) {
            (Some(span), Some(text)) => {
                let span = clamp_span(text, span);
                let index = self
                    .indexes
                    .entry(location.file.as_path())
                    .or_insert_with(|| LineIndex::new(text));
                let pos = Position::resolve(text, index, span);
                Some(ResolvedSpan { text, span, pos })
            }
            _ => None,
        };
        Resolved { file, source }
    }

    /// A fix made concrete, when its file's text is known and its span lies on character boundaries
    /// of it (a fix that does not fit the text is never shown).
    pub fn resolve_fix(&mut self, fix: &'a Fix) -> Option<ResolvedFix<'a>> {
        let text = self.sources.get(&fix.file)?;
        if clamp_span(text, fix.span) != fix.span {
            return None;
        }
        let file = match &self.prefix {
            Some(prefix) => display_path(&prefix.join(&fix.file)),
            None => display_path(&fix.file),
        };
        let index = self
            .indexes
            .entry(fix.file.as_path())
            .or_insert_with(|| LineIndex::new(text));
        Some(ResolvedFix {
            file,
            pos: Position::resolve(text, index, fix.span),
            original: fix.span.slice(text),
            text,
            fix,
        })
    }
}

/// One line for the human and GitHub formats: what the fix does, and whether `--fix` applies it.
pub(crate) fn describe_fix(fix: &ResolvedFix<'_>) -> String {
    let quote = |s: &str| {
        if s.contains('`') {
            format!("`` {s} ``")
        } else {
            format!("`{s}`")
        }
    };
    let what = if fix.fix.replacement.is_empty() {
        format!("remove {}", quote(fix.original.trim()))
    } else if fix.original.is_empty() {
        format!(
            "insert {} at line {}, column {}",
            quote(&fix.fix.replacement),
            fix.pos.line,
            fix.pos.column
        )
    } else {
        format!(
            "replace {} with {}",
            quote(fix.original),
            quote(&fix.fix.replacement)
        )
    };
    if fix.fix.safe {
        format!("fix: {what} (`--fix` applies it)")
    } else {
        format!("suggested fix (review it, `--fix` leaves it): {what}")
    }
}

/// A fix made concrete: the display path, the position of the replaced text, and the texts.
pub(crate) struct ResolvedFix<'a> {
    pub file: String,
    pub pos: Position,
    /// The text the fix replaces.
    pub original: &'a str,
    /// The whole file.
    pub text: &'a str,
    pub fix: &'a Fix,
}

/// Keeps a span inside `text` and on character boundaries, so a stale or wrong span can never make a
/// reporter panic.
fn clamp_span(text: &str, span: Span) -> Span {
    let floor = |mut offset: usize| {
        offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    };
    let start = floor(span.start);
    let end = floor(span.end.max(start)).max(start);
    Span { start, end }
}

fn plural(n: usize, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("{n} {singular}")
    } else {
        format!("{n} {plural}")
    }
}

/// The summary printed after the findings by the human and github formats: one line of counts, then a
/// line per migration set.
pub(crate) fn summary(report: &Report) -> String {
    let sets = plural(report.sets.len(), "migration set", "migration sets");
    let engine = match &report.engine {
        Some(engine) => format!(" (engine: {engine})"),
        None => String::new(),
    };
    let mut out = if report.findings.is_empty() {
        format!("pgrehearse: no findings in {sets}{engine}\n")
    } else {
        format!(
            "pgrehearse: {}, {}, {} in {sets}{engine}\n",
            plural(report.count(Severity::Error), "error", "errors"),
            plural(report.count(Severity::Warning), "warning", "warnings"),
            plural(report.count(Severity::Notice), "notice", "notices"),
        )
    };
    if report.suppressed > 0 || report.baselined > 0 || report.historical > 0 {
        let mut parts = Vec::new();
        if report.suppressed > 0 {
            parts.push(format!(
                "{} suppressed by pgrehearse-ignore comments",
                plural(report.suppressed, "finding", "findings")
            ));
        }
        if report.baselined > 0 {
            parts.push(format!(
                "{} recorded in the baseline",
                plural(report.baselined, "finding", "findings")
            ));
        }
        if report.historical > 0 {
            parts.push(held_back(report));
        }
        out.push_str(&format!("  not shown: {}\n", parts.join(", ")));
    }
    for set in &report.sets {
        out.push_str(&set_line(set));
        out.push('\n');
    }
    out
}

/// `3 findings in migrations already shipped (…; `--all-history` shows them)`.
pub(crate) fn held_back(report: &Report) -> String {
    let basis = report
        .history
        .as_ref()
        .map(|h| format!("{}; ", h.describe()))
        .unwrap_or_default();
    format!(
        "{} in migrations already shipped ({basis}`--all-history` shows them)",
        plural(report.historical, "finding", "findings")
    )
}

fn set_line(set: &SetSummary) -> String {
    let migrations = plural(set.migrations, "migration", "migrations");
    let head = format!("  {} ({})", display_path(&set.path), set.runner);
    match set.status.as_str() {
        "static" => format!("{head}: {migrations}, checked without a database"),
        "skipped" => format!("{head}: {migrations}, skipped"),
        status => format!("{head}: {} of {migrations} applied, {status}", set.applied),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Shared fixtures; each format's module holds its own exact-output tests.

    use std::path::PathBuf;
    use std::sync::Arc;

    use super::*;
    use crate::model::{Category, Evidence, Finding};

    pub const LF_PATH: &str = "db/migrations/0001_init.sql";
    pub const LF: &str = "CREATE TABLE users (\n  id integer AUTO_INCREMENT,\n  name text\n);\n";
    pub const CRLF_PATH: &str = "db/crlf/0001_init.sql";
    pub const CR_PATH: &str = "db/cr/0001_init.sql";
    pub const UTF8_PATH: &str = "db/migrations/0002_seed.sql";
    pub const UTF8: &str =
        "INSERT INTO users (name) VALUES ('Zoë – ünï');\nSELECT naïve FROM ünknown;\n";
    pub const MULTI_PATH: &str = "db/migrations/0003_view.sql";
    pub const MULTI: &str = "-- view\nCREATE VIEW v AS\n  SELECT id\n  FROM users;\nSELECT 1;\n";
    pub const ORPHAN_PATH: &str = "db/migrations/0004_orphan.sql";
    pub const ODD_PATH: &str = "db/odd,dir/100%:x.sql";
    pub const ODD: &str = "SELECT 1;\n";

    pub fn span_of(text: &str, needle: &str) -> Span {
        let start = text.find(needle).expect("needle in fixture");
        Span {
            start,
            end: start + needle.len(),
        }
    }

    fn mysql_finding(path: &str, text: &str) -> Finding {
        Finding::new(
            "migration-failed",
            Category::MigrationError,
            Severity::Error,
            "syntax error at or near \"AUTO_INCREMENT\"",
        )
        .help("use `GENERATED BY DEFAULT AS IDENTITY`")
        .at(path, Some(span_of(text, "AUTO_INCREMENT")))
        .evidence(Evidence {
            sqlstate: Some("42601".into()),
            detail: Some("the statement was rolled back".into()),
            hint: Some("PostgreSQL has no AUTO_INCREMENT".into()),
            migration: Some("0001_init".into()),
            statement: Some(1),
            not_applied: vec!["0002_seed".into(), "0003_view".into()],
            ..Evidence::default()
        })
    }

    /// A report exercising every shape of finding, and its sources.
    pub fn fixture() -> (Report, Sources) {
        let crlf = LF.replace('\n', "\r\n");
        let cr = LF.replace('\n', "\r");
        let mut sources = Sources::new();
        sources.insert(LF_PATH, Arc::from(LF));
        sources.insert(CRLF_PATH, Arc::from(crlf.as_str()));
        sources.insert(CR_PATH, Arc::from(cr.as_str()));
        sources.insert(UTF8_PATH, Arc::from(UTF8));
        sources.insert(MULTI_PATH, Arc::from(MULTI));
        sources.insert(ODD_PATH, Arc::from(ODD));

        let findings = vec![
            Finding::new(
                "engine-version",
                Category::Environment,
                Severity::Notice,
                "PostgreSQL 17 was used",
            ),
            mysql_finding(CR_PATH, &cr),
            mysql_finding(CRLF_PATH, &crlf),
            mysql_finding(LF_PATH, LF),
            Finding::new(
                "relation-missing",
                Category::MigrationError,
                Severity::Warning,
                "relation \"ünknown\" does not exist",
            )
            .at(UTF8_PATH, Some(span_of(UTF8, "ünknown"))),
            Finding::new(
                "view-rewrite",
                Category::Lock,
                Severity::Notice,
                "CREATE VIEW takes an ACCESS EXCLUSIVE lock",
            )
            .at(
                MULTI_PATH,
                Some(span_of(
                    MULTI,
                    "CREATE VIEW v AS\n  SELECT id\n  FROM users;",
                )),
            ),
            Finding::new(
                "orphan-file",
                Category::Discovery,
                Severity::Warning,
                "drizzle never applies this file: it is not in meta/_journal.json",
            )
            .help("add it to the journal or delete it")
            .at(ORPHAN_PATH, None),
            Finding::new(
                "odd-path",
                Category::Dialect,
                Severity::Error,
                "100% wrong: a, b\nsecond line",
            )
            .help("fix: it, now")
            .at(ODD_PATH, Some(span_of(ODD, "1"))),
        ];
        let report = Report {
            findings,
            sets: vec![
                SetSummary {
                    path: PathBuf::from("db/migrations"),
                    runner: "drizzle".into(),
                    migrations: 5,
                    applied: 4,
                    status: "failed".into(),
                },
                SetSummary {
                    path: PathBuf::from("db/crlf"),
                    runner: "psql".into(),
                    migrations: 1,
                    applied: 0,
                    status: "failed".into(),
                },
                SetSummary {
                    path: PathBuf::from("db/cr"),
                    runner: "golang-migrate".into(),
                    migrations: 1,
                    applied: 0,
                    status: "static".into(),
                },
            ],
            engine: Some("local".into()),
            ..Report::default()
        };
        (report, sources)
    }

    pub fn render(
        format: Format,
        report: &Report,
        sources: &Sources,
        opts: RenderOptions,
    ) -> String {
        let mut out = Vec::new();
        write(&mut out, format, report, sources, &opts).expect("writing to a Vec cannot fail");
        String::from_utf8(out).expect("reports are UTF-8")
    }

    pub const PLAIN: RenderOptions = RenderOptions {
        color: false,
        quiet: false,
        path_prefix: None,
    };
    pub const QUIET: RenderOptions = RenderOptions {
        color: false,
        quiet: true,
        path_prefix: None,
    };

    #[test]
    fn format_from_str_round_trips_and_lists_valid_values() {
        for format in Format::ALL {
            assert_eq!(format.as_str().parse::<Format>(), Ok(format));
        }
        let err = "junit".parse::<Format>().unwrap_err();
        assert_eq!(
            err,
            "unknown format `junit` (expected human, json, github or sarif)"
        );
        assert!("Human".parse::<Format>().is_err());
    }

    #[test]
    fn display_path_uses_forward_slashes() {
        assert_eq!(
            display_path(Path::new("db/migrations/1.sql")),
            "db/migrations/1.sql"
        );
        assert_eq!(display_path(Path::new("")), ".");
        assert_eq!(display_path(Path::new("./a//b/")), "./a/b");
    }

    #[test]
    fn line_endings_do_not_change_positions() {
        let (report, sources) = fixture();
        let mut resolver = Resolver::new(&sources);
        let positions: Vec<Position> = report.findings[1..4]
            .iter()
            .map(|f| {
                let resolved = resolver.resolve(f.location.as_ref().unwrap());
                resolved.source.expect("span and text are known").pos
            })
            .collect();
        let expected = Position {
            line: 2,
            column: 14,
            end_line: 2,
            end_column: 28,
        };
        assert_eq!(positions, vec![expected; 3]);
    }

    #[test]
    fn out_of_range_spans_are_clamped() {
        let text = "aé";
        assert_eq!(
            clamp_span(text, Span { start: 2, end: 99 }),
            Span { start: 1, end: 3 }
        );
        assert_eq!(
            clamp_span(text, Span { start: 3, end: 1 }),
            Span { start: 3, end: 3 }
        );
    }

    #[test]
    fn summary_counts_and_sets() {
        let (report, _) = fixture();
        assert_eq!(
            summary(&report),
            "pgrehearse: 4 errors, 2 warnings, 2 notices in 3 migration sets (engine: local)\n\
             \x20 db/migrations (drizzle): 4 of 5 migrations applied, failed\n\
             \x20 db/crlf (psql): 0 of 1 migration applied, failed\n\
             \x20 db/cr (golang-migrate): 1 migration, checked without a database\n"
        );
        let empty = Report {
            findings: vec![],
            sets: vec![SetSummary {
                path: PathBuf::new(),
                runner: "prisma".into(),
                migrations: 1,
                applied: 1,
                status: "ok".into(),
            }],
            engine: None,
            suppressed: 2,
            baselined: 1,
            ..Report::default()
        };
        assert_eq!(
            summary(&empty),
            "pgrehearse: no findings in 1 migration set\n  not shown: 2 findings suppressed by pgrehearse-ignore comments, 1 finding recorded in the baseline\n  . (prisma): 1 of 1 migration applied, ok\n"
        );
        let held = Report {
            historical: 1,
            history: Some(crate::model::History {
                basis: "since".into(),
                revision: Some("origin/main".into()),
                shipped: 4,
            }),
            ..empty
        };
        assert_eq!(
            summary(&held),
            "pgrehearse: no findings in 1 migration set\n  not shown: 2 findings suppressed by pgrehearse-ignore comments, 1 finding recorded in the baseline, 1 finding in migrations already shipped (present at origin/main; `--all-history` shows them)\n  . (prisma): 1 of 1 migration applied, ok\n"
        );
    }

    #[test]
    fn fixes_are_described_and_never_resolved_off_the_text() {
        let mut sources = Sources::new();
        sources.insert(LF_PATH, Arc::from(LF));
        let fix = |span: Span, replacement: &str, safe: bool| Fix {
            file: PathBuf::from(LF_PATH),
            span,
            replacement: replacement.to_string(),
            safe,
        };
        let mut resolver = Resolver::new(&sources);
        let cases = [
            (
                fix(
                    span_of(LF, "AUTO_INCREMENT"),
                    "GENERATED BY DEFAULT AS IDENTITY",
                    true,
                ),
                "fix: replace `AUTO_INCREMENT` with `GENERATED BY DEFAULT AS IDENTITY` (`--fix` applies it)",
            ),
            (
                fix(Span::new(14, 14), " CONCURRENTLY", false),
                "suggested fix (review it, `--fix` leaves it): insert ` CONCURRENTLY` at line 1, column 15",
            ),
            (
                fix(span_of(LF, " AUTO_INCREMENT"), "", true),
                "fix: remove `AUTO_INCREMENT` (`--fix` applies it)",
            ),
        ];
        for (f, expected) in &cases {
            let resolved = resolver.resolve_fix(f).expect("fits the text");
            assert_eq!(describe_fix(&resolved), *expected);
        }
        let (line, column) = {
            let r = resolver.resolve_fix(&cases[0].0).expect("fits");
            (r.pos.line, r.pos.column)
        };
        assert_eq!((line, column), (2, 14));
        // Past the end, inside a character, or in a file whose text is unknown: never shown.
        assert!(
            resolver
                .resolve_fix(&fix(Span::new(0, LF.len() + 1), "", true))
                .is_none()
        );
        let mut utf8 = Sources::new();
        utf8.insert(UTF8_PATH, Arc::from(UTF8));
        let mut resolver = Resolver::new(&utf8);
        let inside = UTF8.find('ë').expect("ë") + 1;
        let mid_char = Fix {
            file: PathBuf::from(UTF8_PATH),
            ..fix(Span::new(inside, inside), "x", true)
        };
        assert!(resolver.resolve_fix(&mid_char).is_none());
        assert!(
            resolver
                .resolve_fix(&fix(Span::new(0, 1), "", true))
                .is_none()
        );
    }
}
