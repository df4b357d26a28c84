//! The `sarif` format: one SARIF 2.1.0 log, as GitHub code scanning (`github/codeql-action/upload-sarif`)
//! accepts it.
//!
//! - `runs[0].tool.driver.rules` lists every rule of [`RULES`](crate::registry::RULES) in registry order
//!   (id, summary, help text and markdown, default level, category tag), then any other rule id a finding
//!   uses; each result's `ruleIndex` points into that list.
//! - A result has `ruleId`, `ruleIndex`, `level` (`error`, `warning`, `note` for a notice), `message.text`
//!   (the finding's message, then its help line) and one `physicalLocation`: `artifactLocation.uri` is the
//!   path relative to the repository root (forward slashes, percent-encoded, `uriBaseId: %SRCROOT%`) and
//!   `region` has `startLine`, `startColumn`, `endLine`, `endColumn`, 1-based, with `endColumn`
//!   exclusive as SARIF defines it and columns counting Unicode code points (`columnKind`). A finding
//!   about a whole file has no `region`. The finding's evidence is the result's property bag.
//! - A finding with a machine-applicable fix has one `fixes` entry: a `description`, one
//!   `artifactChanges` entry for its file with one replacement (`deletedRegion`, same conventions as
//!   `region`, empty for an insertion; `insertedContent.text`), and `properties.safe` (whether
//!   `--fix` applies it).
//! - Code scanning rejects the **whole** file when one result has no location
//!   (`locationFromSarifResult: expected at least one location`), so a finding without a file is written
//!   as a tool execution notification of `invocations[0]`, not as a result.
//!
//! Pretty-printed with a 2-space indent and a trailing newline.

use std::collections::BTreeMap;
use std::io;

use serde_json::{Map, Value, json};

use super::{RenderOptions, Resolver};
use crate::model::{Finding, Report, Severity, Sources};
use crate::registry::{RULES, Rule};

/// `$schema` of the log: the OASIS errata01 schema GitHub documents.
pub const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

pub(super) fn write(
    out: &mut dyn io::Write,
    report: &Report,
    sources: &Sources,
    opts: &RenderOptions,
) -> io::Result<()> {
    let log = log(report, sources, opts);
    serde_json::to_writer_pretty(&mut *out, &log)?;
    out.write_all(b"\n")
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Notice => "note",
    }
}

fn information_uri() -> &'static str {
    env!("CARGO_PKG_REPOSITORY")
}

fn rule_descriptor(rule: &Rule) -> Value {
    let text = format!(
        "{summary}\n\nCategory: {category}. Default severity: {severity}. pgrehearse reports it at the \
         file, line and column where the runner would fail or misbehave; each finding's message says \
         what happens and its help line what to do.",
        summary = rule.summary,
        category = rule.category,
        severity = rule.severity,
    );
    let markdown = format!(
        "**{summary}**\n\n| category | default severity |\n| --- | --- |\n| `{category}` | {severity} |\n\n\
         Each finding's message says what happens and its help line what to do. See \
         [the list of findings]({uri}#findings).",
        summary = rule.summary,
        category = rule.category,
        severity = rule.severity,
        uri = information_uri(),
    );
    json!({
        "id": rule.id,
        "name": rule.id,
        "shortDescription": { "text": rule.summary },
        "fullDescription": { "text": rule.summary },
        "help": { "text": text, "markdown": markdown },
        "helpUri": format!("{}#findings", information_uri()),
        "defaultConfiguration": { "level": level(rule.severity) },
        "properties": { "tags": ["postgresql", "migrations", rule.category.as_str()] },
    })
}

/// A descriptor for a rule id that is not in the registry (it still needs one for `ruleIndex`).
fn ad_hoc_descriptor(finding: &Finding) -> Value {
    let text = format!("pgrehearse rule `{}`.", finding.rule);
    json!({
        "id": finding.rule,
        "name": finding.rule,
        "shortDescription": { "text": text },
        "help": { "text": text },
        "defaultConfiguration": { "level": level(finding.severity) },
        "properties": { "tags": ["postgresql", "migrations", finding.category.as_str()] },
    })
}

fn message_text(finding: &Finding) -> String {
    match &finding.help {
        Some(help) => format!("{}\nhelp: {help}", finding.message),
        None => finding.message.clone(),
    }
}

fn properties(finding: &Finding) -> Value {
    let mut bag = Map::new();
    bag.insert("category".into(), json!(finding.category.as_str()));
    if let Ok(Value::Object(evidence)) = serde_json::to_value(&finding.evidence) {
        bag.extend(evidence);
    }
    Value::Object(bag)
}

fn log(report: &Report, sources: &Sources, opts: &RenderOptions) -> Value {
    let mut rules: Vec<Value> = RULES.iter().map(rule_descriptor).collect();
    let mut index: BTreeMap<&str, usize> =
        RULES.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    for finding in &report.findings {
        if !index.contains_key(finding.rule.as_str()) {
            index.insert(&finding.rule, rules.len());
            rules.push(ad_hoc_descriptor(finding));
        }
    }

    let mut resolver = Resolver::with_prefix(sources, opts.path_prefix.as_deref());
    let mut results = Vec::new();
    let mut notifications = Vec::new();
    for finding in &report.findings {
        let rule_index = index.get(finding.rule.as_str()).copied().unwrap_or(0);
        let Some(location) = &finding.location else {
            notifications.push(json!({
                "level": level(finding.severity),
                "message": { "text": message_text(finding) },
                "descriptor": { "id": finding.rule },
                "associatedRule": { "id": finding.rule, "index": rule_index },
            }));
            continue;
        };
        let resolved = resolver.resolve(location);
        let mut physical = Map::new();
        physical.insert(
            "artifactLocation".into(),
            json!({ "uri": super::percent_encode_path(&resolved.file), "uriBaseId": "%SRCROOT%" }),
        );
        if let Some(source) = resolved.source {
            let pos = source.pos;
            physical.insert(
                "region".into(),
                json!({
                    "startLine": pos.line,
                    "startColumn": pos.column,
                    "endLine": pos.end_line,
                    "endColumn": pos.end_column,
                }),
            );
        }
        let mut result = json!({
            "ruleId": finding.rule,
            "ruleIndex": rule_index,
            "level": level(finding.severity),
            "message": { "text": message_text(finding) },
            "locations": [ { "physicalLocation": Value::Object(physical) } ],
            "properties": properties(finding),
        });
        if let (Some(fix), Some(obj)) = (
            finding.fix.as_ref().and_then(|f| resolver.resolve_fix(f)),
            result.as_object_mut(),
        ) {
            let pos = fix.pos;
            obj.insert(
                "fixes".into(),
                json!([ {
                    "description": { "text": super::describe_fix(&fix) },
                    "artifactChanges": [ {
                        "artifactLocation": {
                            "uri": super::percent_encode_path(&fix.file),
                            "uriBaseId": "%SRCROOT%",
                        },
                        "replacements": [ {
                            "deletedRegion": {
                                "startLine": pos.line,
                                "startColumn": pos.column,
                                "endLine": pos.end_line,
                                "endColumn": pos.end_column,
                            },
                            "insertedContent": { "text": fix.fix.replacement },
                        } ],
                    } ],
                    "properties": { "safe": fix.fix.safe },
                } ]),
            );
        }
        results.push(result);
    }

    let mut invocation = json!({
        "executionSuccessful": true,
    });
    if !notifications.is_empty()
        && let Some(obj) = invocation.as_object_mut()
    {
        obj.insert(
            "toolExecutionNotifications".into(),
            Value::Array(notifications),
        );
    }

    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [ {
            "tool": { "driver": {
                "name": "pgrehearse",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "informationUri": information_uri(),
                "rules": rules,
            } },
            "invocations": [ invocation ],
            "columnKind": "unicodeCodePoints",
            "results": results,
        } ],
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::Value;

    use super::*;
    use crate::report::Format;
    use crate::report::tests::{PLAIN, fixture, render};

    fn sarif(report: &Report, sources: &Sources, opts: RenderOptions) -> Value {
        let text = render(Format::Sarif, report, sources, opts);
        assert!(text.ends_with("}\n") && !text.ends_with("\n\n"));
        serde_json::from_str(&text).expect("SARIF is JSON")
    }

    /// The results of the fixture report, exactly, apart from the driver's rule list.
    const RESULTS: &str = r#"[
  {
    "level": "error",
    "locations": [
      {
        "physicalLocation": {
          "artifactLocation": {
            "uri": "db/cr/0001_init.sql",
            "uriBaseId": "%SRCROOT%"
          },
          "region": {
            "endColumn": 28,
            "endLine": 2,
            "startColumn": 14,
            "startLine": 2
          }
        }
      }
    ],
    "message": {
      "text": "syntax error at or near \"AUTO_INCREMENT\"\nhelp: use `GENERATED BY DEFAULT AS IDENTITY`"
    },
    "properties": {
      "category": "migration-error",
      "detail": "the statement was rolled back",
      "hint": "PostgreSQL has no AUTO_INCREMENT",
      "migration": "0001_init",
      "not_applied": [
        "0002_seed",
        "0003_view"
      ],
      "sqlstate": "42601",
      "statement": 1
    },
    "ruleId": "migration-failed",
    "ruleIndex": 0
  },
  {
    "level": "warning",
    "locations": [
      {
        "physicalLocation": {
          "artifactLocation": {
            "uri": "db/migrations/0002_seed.sql",
            "uriBaseId": "%SRCROOT%"
          },
          "region": {
            "endColumn": 26,
            "endLine": 2,
            "startColumn": 19,
            "startLine": 2
          }
        }
      }
    ],
    "message": {
      "text": "relation \"ünknown\" does not exist"
    },
    "properties": {
      "category": "migration-error"
    },
    "ruleId": "relation-missing",
    "ruleIndex": @1
  },
  {
    "level": "note",
    "locations": [
      {
        "physicalLocation": {
          "artifactLocation": {
            "uri": "db/migrations/0003_view.sql",
            "uriBaseId": "%SRCROOT%"
          },
          "region": {
            "endColumn": 14,
            "endLine": 4,
            "startColumn": 1,
            "startLine": 2
          }
        }
      }
    ],
    "message": {
      "text": "CREATE VIEW takes an ACCESS EXCLUSIVE lock"
    },
    "properties": {
      "category": "lock"
    },
    "ruleId": "view-rewrite",
    "ruleIndex": @2
  },
  {
    "level": "warning",
    "locations": [
      {
        "physicalLocation": {
          "artifactLocation": {
            "uri": "db/migrations/0004_orphan.sql",
            "uriBaseId": "%SRCROOT%"
          },
          "region": null
        }
      }
    ],
    "message": {
      "text": "drizzle never applies this file: it is not in meta/_journal.json\nhelp: add it to the journal or delete it"
    },
    "properties": {
      "category": "discovery"
    },
    "ruleId": "orphan-file",
    "ruleIndex": @3
  },
  {
    "level": "error",
    "locations": [
      {
        "physicalLocation": {
          "artifactLocation": {
            "uri": "db/odd%2Cdir/100%25%3Ax.sql",
            "uriBaseId": "%SRCROOT%"
          },
          "region": {
            "endColumn": 9,
            "endLine": 1,
            "startColumn": 8,
            "startLine": 1
          }
        }
      }
    ],
    "message": {
      "text": "100% wrong: a, b\nsecond line\nhelp: fix: it, now"
    },
    "properties": {
      "category": "dialect"
    },
    "ruleId": "odd-path",
    "ruleIndex": @4
  }
]"#;

    #[test]
    fn exact_results() {
        let (mut report, sources) = fixture();
        // One finding per shape: no file, a span (CR file), a multi-byte column, a multi-line span,
        // a whole file, a path that needs encoding.
        report.findings = [0, 1, 4, 5, 6, 7]
            .map(|i| report.findings[i].clone())
            .to_vec();
        let doc = sarif(&report, &sources, PLAIN);
        let mut results = doc["runs"][0]["results"].clone();
        // A whole-file finding has no region at all; make that visible in the exact text below.
        if let Some(loc) = results[3]["locations"][0]["physicalLocation"].as_object_mut() {
            assert!(
                !loc.contains_key("region"),
                "a whole-file finding has no region"
            );
            loc.insert("region".into(), Value::Null);
        }
        assert_eq!(
            serde_json::to_string_pretty(&results).unwrap(),
            (1..=4).fold(RESULTS.to_string(), |text, i| text.replace(
                &format!("\"ruleIndex\": @{i}"),
                &format!("\"ruleIndex\": {}", RULES.len() + i)
            ))
        );
    }

    #[test]
    fn log_header_driver_and_notifications() {
        let (report, sources) = fixture();
        let doc = sarif(&report, &sources, PLAIN);
        assert_eq!(doc["version"], "2.1.0");
        assert_eq!(doc["$schema"], SCHEMA);
        let run = &doc["runs"][0];
        assert_eq!(run["columnKind"], "unicodeCodePoints");
        let driver = &run["tool"]["driver"];
        assert_eq!(driver["name"], "pgrehearse");
        assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
        let rules = driver["rules"].as_array().unwrap();
        // Registry rules first, in order, then the fixture's ad-hoc ids in order of appearance.
        let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
        let mut expected: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        expected.extend([
            "engine-version",
            "relation-missing",
            "view-rewrite",
            "orphan-file",
            "odd-path",
        ]);
        assert_eq!(ids, expected);
        // Every registry rule carries its summary and a help text.
        let failed = &rules[0];
        assert_eq!(failed["id"], "migration-failed");
        assert_eq!(
            failed["shortDescription"]["text"],
            "A migration fails when applied the way its runner applies it."
        );
        assert_eq!(failed["defaultConfiguration"]["level"], "error");
        assert_eq!(
            failed["properties"]["tags"],
            json!(["postgresql", "migrations", "migration-error"])
        );
        assert!(
            failed["help"]["text"]
                .as_str()
                .unwrap()
                .starts_with("A migration fails when applied the way its runner applies it.\n\nCategory: migration-error. Default severity: error.")
        );
        for rule in rules {
            assert!(!rule["help"]["text"].as_str().unwrap().is_empty());
        }
        // Every result's ruleIndex names its ruleId.
        for result in run["results"].as_array().unwrap() {
            let i = result["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[i]["id"], result["ruleId"]);
            assert_eq!(result["locations"].as_array().unwrap().len(), 1);
        }
        // The finding without a file is a notification, not a location-less result.
        assert_eq!(run["results"].as_array().unwrap().len(), 7);
        assert_eq!(
            run["invocations"][0]["toolExecutionNotifications"],
            json!([{
                "level": "note",
                "message": { "text": "PostgreSQL 17 was used" },
                "descriptor": { "id": "engine-version" },
                "associatedRule": { "id": "engine-version", "index": RULES.len() },
            }])
        );
        assert_eq!(run["invocations"][0]["executionSuccessful"], true);
    }

    #[test]
    fn crlf_and_cr_regions_match_lf() {
        let (report, sources) = fixture();
        let doc = sarif(&report, &sources, PLAIN);
        let regions: Vec<&Value> = doc["runs"][0]["results"].as_array().unwrap()[0..3]
            .iter()
            .map(|r| &r["locations"][0]["physicalLocation"]["region"])
            .collect();
        assert_eq!(regions[0], regions[1]);
        assert_eq!(regions[1], regions[2]);
        assert_eq!(
            *regions[0],
            json!({"startLine": 2, "startColumn": 14, "endLine": 2, "endColumn": 28})
        );
    }

    #[test]
    fn path_prefix_is_prepended() {
        let (mut report, sources) = fixture();
        report.findings = vec![report.findings[3].clone()];
        let opts = RenderOptions {
            path_prefix: Some(PathBuf::from("services/api")),
            ..PLAIN
        };
        let doc = sarif(&report, &sources, opts);
        assert_eq!(
            doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "services/api/db/migrations/0001_init.sql"
        );
    }

    #[test]
    fn no_findings_is_an_empty_result_list() {
        let doc = sarif(&Report::default(), &Sources::new(), PLAIN);
        assert_eq!(doc["runs"][0]["results"], json!([]));
        assert!(
            doc["runs"][0]["invocations"][0]
                .get("toolExecutionNotifications")
                .is_none()
        );
    }

    #[test]
    fn uris_are_percent_encoded() {
        use crate::report::percent_encode_path as enc;
        assert_eq!(enc("db/m/0001_a-b.c~d.sql"), "db/m/0001_a-b.c~d.sql");
        assert_eq!(enc("a b/c:d,e%f"), "a%20b/c%3Ad%2Ce%25f");
        assert_eq!(enc("ü.sql"), "%C3%BC.sql");
    }
}
