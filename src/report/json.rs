//! The `json` format, a stable contract (`"version": 1`). Field order is fixed:
//!
//! ```text
//! {"version":1,
//!  "findings":[{"rule","category","severity","file","line","column","end_line","end_column",
//!               "message","help","evidence","fix"?}],
//!  "summary":{"findings","errors","warnings","notices","suppressed","baselined","historical","engine",
//!             "sets":[{"path","runner","migrations","applied","status"}],
//!             "history":{"basis","revision","shipped"}}}
//! ```
//!
//! Lines and columns are 1-based, columns count characters and `end_column` is exclusive. A finding
//! about a whole file (or whose file text is unknown) has all four set to 0; a finding without a
//! location has `"file": null` and zeros. Paths use forward slashes. `evidence` is the serde form of
//! [`Evidence`](crate::model::Evidence): absent facts are omitted. Pretty-printed with a 2-space
//! indent and a trailing newline.
//!
//! `evidence.confirmed_by` (`{"rule", "message", "help"}`) is present when the replay failed at the
//! statement a static rule's finding names and the two were reported as one (added without a bump).
//!
//! `fix` is present only on findings with a machine-applicable fix: `{"file","line","column",
//! "end_line","end_column","replacement","safe"}` — replace the text from (`line`, `column`) up to
//! (`end_line`, `end_column`), end exclusive, same conventions as the finding's own position, with
//! `replacement` (an empty range is an insertion). `safe` fixes keep what the migration does and
//! are the ones `--fix` applies; the others are suggestions to review. Added to version 1 without a
//! bump.
//!
//! `historical` counts the findings held back because they judge a migration that already shipped
//! (lock, partial-failure and data-dependent rules; `--all-history` reports them), and `history` says
//! what counted as shipped: `basis` (`pull-request`, `since`, `commits`, `live`, `all-history` or
//! `none`), the git `revision` compared with, and how many migrations `shipped` (`null` when the run
//! did not work it out). Both were added to version 1 without a bump.

use std::io;

use serde::Serialize;

use super::{Resolver, display_path};
use crate::model::{Category, Evidence, History, Report, Severity, Sources};

/// Version of the JSON contract; bumped only on incompatible changes.
pub const VERSION: u32 = 1;

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    findings: Vec<JsonFinding<'a>>,
    summary: JsonSummary<'a>,
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    rule: &'a str,
    category: Category,
    severity: Severity,
    file: Option<String>,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
    message: &'a str,
    help: Option<&'a str>,
    evidence: &'a Evidence,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<JsonFix<'a>>,
}

#[derive(Serialize)]
struct JsonFix<'a> {
    file: String,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
    replacement: &'a str,
    safe: bool,
}

#[derive(Serialize)]
struct JsonSummary<'a> {
    findings: usize,
    errors: usize,
    warnings: usize,
    notices: usize,
    /// Findings left out by `pgrehearse-ignore` comments (added in 0.1 without a version bump).
    suppressed: usize,
    /// Findings left out because the baseline file records them.
    baselined: usize,
    /// Findings left out because they judge a migration that already shipped (added without a bump).
    historical: usize,
    engine: Option<&'a str>,
    sets: Vec<JsonSet<'a>>,
    /// What counted as shipped (added without a bump).
    history: Option<&'a History>,
}

#[derive(Serialize)]
struct JsonSet<'a> {
    path: String,
    runner: &'a str,
    migrations: usize,
    applied: usize,
    status: &'a str,
}

pub(super) fn write(out: &mut dyn io::Write, report: &Report, sources: &Sources) -> io::Result<()> {
    let mut resolver = Resolver::new(sources);
    let findings = report
        .findings
        .iter()
        .map(|finding| {
            let mut json = JsonFinding {
                rule: &finding.rule,
                category: finding.category,
                severity: finding.severity,
                file: None,
                line: 0,
                column: 0,
                end_line: 0,
                end_column: 0,
                message: &finding.message,
                help: finding.help.as_deref(),
                evidence: &finding.evidence,
                fix: None,
            };
            if let Some(fix) = finding.fix.as_ref().and_then(|f| resolver.resolve_fix(f)) {
                json.fix = Some(JsonFix {
                    file: fix.file,
                    line: fix.pos.line,
                    column: fix.pos.column,
                    end_line: fix.pos.end_line,
                    end_column: fix.pos.end_column,
                    replacement: &fix.fix.replacement,
                    safe: fix.fix.safe,
                });
            }
            if let Some(location) = &finding.location {
                let resolved = resolver.resolve(location);
                json.file = Some(resolved.file);
                if let Some(source) = resolved.source {
                    json.line = source.pos.line;
                    json.column = source.pos.column;
                    json.end_line = source.pos.end_line;
                    json.end_column = source.pos.end_column;
                }
            }
            json
        })
        .collect();
    let document = JsonReport {
        version: VERSION,
        findings,
        summary: JsonSummary {
            findings: report.findings.len(),
            errors: report.count(Severity::Error),
            warnings: report.count(Severity::Warning),
            notices: report.count(Severity::Notice),
            suppressed: report.suppressed,
            baselined: report.baselined,
            historical: report.historical,
            engine: report.engine.as_deref(),
            sets: report
                .sets
                .iter()
                .map(|set| JsonSet {
                    path: display_path(&set.path),
                    runner: &set.runner,
                    migrations: set.migrations,
                    applied: set.applied,
                    status: &set.status,
                })
                .collect(),
            history: report.history.as_ref(),
        },
    };
    serde_json::to_writer_pretty(&mut *out, &document)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::report::Format;
    use crate::report::tests::{PLAIN, QUIET, fixture, render};

    const COMPACT: &str = r#"{
  "version": 1,
  "findings": [
    {
      "rule": "engine-version",
      "category": "environment",
      "severity": "notice",
      "file": null,
      "line": 0,
      "column": 0,
      "end_line": 0,
      "end_column": 0,
      "message": "PostgreSQL 17 was used",
      "help": null,
      "evidence": {}
    },
    {
      "rule": "migration-failed",
      "category": "migration-error",
      "severity": "error",
      "file": "db/crlf/0001_init.sql",
      "line": 2,
      "column": 14,
      "end_line": 2,
      "end_column": 28,
      "message": "syntax error at or near \"AUTO_INCREMENT\"",
      "help": "use `GENERATED BY DEFAULT AS IDENTITY`",
      "evidence": {
        "sqlstate": "42601",
        "detail": "the statement was rolled back",
        "hint": "PostgreSQL has no AUTO_INCREMENT",
        "migration": "0001_init",
        "statement": 1,
        "not_applied": [
          "0002_seed",
          "0003_view"
        ]
      }
    },
    {
      "rule": "orphan-file",
      "category": "discovery",
      "severity": "warning",
      "file": "db/migrations/0004_orphan.sql",
      "line": 0,
      "column": 0,
      "end_line": 0,
      "end_column": 0,
      "message": "drizzle never applies this file: it is not in meta/_journal.json",
      "help": "add it to the journal or delete it",
      "evidence": {}
    }
  ],
  "summary": {
    "findings": 3,
    "errors": 1,
    "warnings": 1,
    "notices": 1,
    "suppressed": 0,
    "baselined": 0,
    "historical": 0,
    "engine": null,
    "sets": [
      {
        "path": "db/migrations",
        "runner": "drizzle",
        "migrations": 5,
        "applied": 4,
        "status": "failed"
      }
    ],
    "history": null
  }
}
"#;

    #[test]
    fn exact_document() {
        let (mut report, sources) = fixture();
        report.findings = [0, 2, 6].map(|i| report.findings[i].clone()).to_vec();
        report.sets.truncate(1);
        report.engine = None;
        assert_eq!(render(Format::Json, &report, &sources, PLAIN), COMPACT);
        // `quiet` does not apply to JSON: the summary is part of the contract.
        assert_eq!(render(Format::Json, &report, &sources, QUIET), COMPACT);
    }

    #[test]
    fn positions_of_every_finding() {
        let (report, sources) = fixture();
        let out = render(Format::Json, &report, &sources, PLAIN);
        let doc: Value = serde_json::from_str(&out).unwrap();
        let rows: Vec<String> = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                format!(
                    "{} {}:{}-{}:{}",
                    f["file"], f["line"], f["column"], f["end_line"], f["end_column"]
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                "null 0:0-0:0",
                "\"db/cr/0001_init.sql\" 2:14-2:28",
                "\"db/crlf/0001_init.sql\" 2:14-2:28",
                "\"db/migrations/0001_init.sql\" 2:14-2:28",
                // `SELECT naïve FROM ` is 18 characters (19 bytes); `ünknown` is 7 characters.
                "\"db/migrations/0002_seed.sql\" 2:19-2:26",
                "\"db/migrations/0003_view.sql\" 2:1-4:14",
                "\"db/migrations/0004_orphan.sql\" 0:0-0:0",
                "\"db/odd,dir/100%:x.sql\" 1:8-1:9",
            ]
        );
        assert_eq!(
            doc["findings"][7]["message"],
            "100% wrong: a, b\nsecond line"
        );
        assert_eq!(doc["summary"]["engine"], "local");
        assert_eq!(doc["summary"]["sets"][2]["status"], "static");
        assert!(out.ends_with("}\n") && !out.ends_with("\n\n"));
    }
}
