//! Payload files read without building their findings.
//!
//! A long history's payload holds tens of thousands of findings (16.7 MB of JSON for 2,000
//! migrations), and building them is most of what reading it costs. Most of them never reach the
//! report: a pre-commit hook's check holds back the findings about migrations already committed
//! and shows only their number. So a payload file is read as the JSON text of each finding with
//! its rule and file, and a finding is built only when a [`Prefilter`] keeps it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::PayloadBase;
use crate::model::Finding;
use crate::replay::Checkpoint;
use crate::rules::StaticState;

/// What the report would do with a finding of a cached prefix, told from its rule and file alone
/// (see `check`, which decides it with the policy and the history that judge the report).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Built and reported as usual.
    Keep,
    /// Removed without a trace (a rule turned off).
    Drop,
    /// Removed and counted as held back (a finding about a migration already shipped).
    HoldBack,
}

/// Decides a finding's [`Verdict`] from its rule and its file (none: a finding about no file).
pub type Prefilter<'a> = dyn Fn(&str, Option<&Path>) -> Verdict + Send + Sync + 'a;

/// A payload file as read: everything but its findings is built.
pub struct File {
    pub statements: usize,
    pub checkpoint: Checkpoint,
    pub base: Option<PayloadBase>,
    pub findings: Findings,
    pub statics: Option<(Findings, StaticState)>,
}

/// Findings kept as their JSON text, in order, from one payload file or more.
#[derive(Clone, Default)]
pub struct Findings {
    parts: Vec<Part>,
}

/// The findings of one payload file: ranges of its text, with the rule and file of each.
#[derive(Clone)]
struct Part {
    text: Arc<[u8]>,
    names: Arc<Names>,
    items: Vec<Item>,
}

#[derive(Clone, Copy)]
struct Item {
    start: usize,
    end: usize,
    rule: u32,
    file: u32,
}

/// The rules and files the items of a file name, each once in a row.
#[derive(Default)]
struct Names {
    rules: Vec<String>,
    files: Vec<PathBuf>,
}

/// `u32::MAX` as an item's file: a finding about no file.
const NO_FILE: u32 = u32::MAX;

impl Names {
    fn rule(&mut self, rule: &str) -> u32 {
        let at = match self.rules.iter().rposition(|r| r == rule) {
            Some(at) => at,
            None => {
                self.rules.push(rule.to_string());
                self.rules.len() - 1
            }
        };
        at as u32
    }

    fn file(&mut self, file: Option<&str>) -> u32 {
        let Some(file) = file else {
            return NO_FILE;
        };
        // Findings come file by file: the last one is nearly always the one.
        if self
            .files
            .last()
            .is_none_or(|last| last.as_os_str() != file)
        {
            self.files.push(PathBuf::from(file));
        }
        (self.files.len() - 1) as u32
    }
}

#[derive(Deserialize)]
struct RawFile<'a> {
    statements: usize,
    #[serde(borrow)]
    findings: Vec<&'a RawValue>,
    checkpoint: Checkpoint,
    #[serde(default, borrow)]
    statics: Option<RawStatics<'a>>,
    #[serde(default)]
    base: Option<PayloadBase>,
}

#[derive(Deserialize)]
struct RawStatics<'a> {
    #[serde(borrow)]
    findings: Vec<&'a RawValue>,
    state: StaticState,
}

/// The part of a finding a [`Prefilter`] needs.
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow)]
    rule: std::borrow::Cow<'a, str>,
    #[serde(default, borrow)]
    location: Option<ProbeLocation<'a>>,
}

#[derive(Deserialize)]
struct ProbeLocation<'a> {
    #[serde(borrow)]
    file: std::borrow::Cow<'a, str>,
}

/// Reads a payload file's text; `None` when it is not one.
pub fn parse(bytes: Vec<u8>) -> Option<File> {
    let text: Arc<[u8]> = bytes.into();
    let raw: RawFile<'_> = serde_json::from_slice(&text).ok()?;
    let mut names = Names::default();
    let findings = items(&text, &raw.findings, &mut names)?;
    let statics = match &raw.statics {
        Some(s) => Some((items(&text, &s.findings, &mut names)?, s.state.clone())),
        None => None,
    };
    let names = Arc::new(names);
    let part = |items| Findings {
        parts: vec![Part {
            text: text.clone(),
            names: names.clone(),
            items,
        }],
    };
    Some(File {
        statements: raw.statements,
        checkpoint: raw.checkpoint,
        base: raw.base,
        findings: part(findings),
        statics: statics.map(|(items, state)| (part(items), state)),
    })
}

fn items(text: &[u8], raw: &[&RawValue], names: &mut Names) -> Option<Vec<Item>> {
    let origin = text.as_ptr() as usize;
    raw.iter()
        .map(|value| {
            let json = value.get();
            let probe: Probe<'_> = serde_json::from_str(json).ok()?;
            let start = (json.as_ptr() as usize).checked_sub(origin)?;
            let end = start + json.len();
            (end <= text.len()).then_some(())?;
            Some(Item {
                start,
                end,
                rule: names.rule(&probe.rule),
                file: names.file(probe.location.as_ref().map(|l| &*l.file)),
            })
        })
        .collect()
}

impl Findings {
    pub fn len(&self) -> usize {
        self.parts.iter().map(|p| p.items.len()).sum()
    }

    /// These findings followed by `more`.
    pub fn append(&mut self, mut more: Findings) {
        self.parts.append(&mut more.parts);
    }

    /// Every finding, built; `None` when one is not a finding.
    pub fn build_all(&self) -> Option<Vec<Finding>> {
        self.build(&|_, _| Verdict::Keep).map(|(all, _)| all)
    }

    /// The findings `keep` keeps, built in order, and how many it held back; `None` when one of
    /// those to build is not a finding.
    pub fn build(&self, keep: &Prefilter<'_>) -> Option<(Vec<Finding>, usize)> {
        let mut kept = Vec::new();
        let mut held = 0;
        for part in &self.parts {
            let mut last: Option<((u32, u32), Verdict)> = None;
            for item in &part.items {
                let verdict = match last {
                    Some((pair, verdict)) if pair == (item.rule, item.file) => verdict,
                    _ => {
                        let file = (item.file != NO_FILE)
                            .then(|| part.names.files.get(item.file as usize))
                            .flatten();
                        let rule = part.names.rules.get(item.rule as usize)?;
                        let verdict = keep(rule, file.map(PathBuf::as_path));
                        last = Some(((item.rule, item.file), verdict));
                        verdict
                    }
                };
                match verdict {
                    Verdict::Keep => {
                        let json = part.text.get(item.start..item.end)?;
                        kept.push(serde_json::from_slice(json).ok()?);
                    }
                    Verdict::Drop => {}
                    Verdict::HoldBack => held += 1,
                }
            }
        }
        Some((kept, held))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{Payload, Statics};

    fn at(rule: &str, file: Option<&str>, message: &str) -> Finding {
        let f = crate::registry::finding(rule, message);
        match file {
            Some(file) => f.at(Path::new(file), None),
            None => f,
        }
    }

    /// Built through a prefilter, a payload's findings are those the filter keeps, whole and in
    /// order; held-back ones are counted, dropped ones are not.
    #[test]
    fn findings_are_built_only_where_the_prefilter_keeps_them() {
        let findings = vec![
            at("lock-without-timeout", Some("m/1.sql"), "one"),
            at("lock-without-timeout", Some("m/1.sql"), "two"),
            at("drop-column", Some("m/1.sql"), "three"),
            at("lock-without-timeout", Some("m/2 \"quoted\".sql"), "four"),
            at("lock-without-timeout", None, "five"),
        ];
        let payload = Payload {
            statements: 7,
            findings: findings.clone(),
            checkpoint: Checkpoint::default(),
            statics: Some(Statics {
                findings: vec![at("not-rerunnable", Some("m/1.sql"), "six")],
                state: StaticState::default(),
            }),
            base: None,
        };
        let file = parse(serde_json::to_vec(&payload).unwrap()).unwrap();
        assert_eq!(file.statements, 7);
        assert_eq!(file.findings.build_all().unwrap(), findings);
        let filter = |rule: &str, file: Option<&Path>| match (rule, file) {
            (_, None) => Verdict::Keep,
            ("drop-column", _) => Verdict::Drop,
            (_, Some(f)) if f == Path::new("m/1.sql") => Verdict::HoldBack,
            _ => Verdict::Keep,
        };
        let (kept, held) = file.findings.build(&filter).unwrap();
        let messages: Vec<_> = kept.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(messages, ["four", "five"]);
        assert_eq!(held, 2);
        let (statics, _) = file.statics.as_ref().unwrap();
        assert_eq!(statics.build(&filter).unwrap(), (vec![], 1));
        // Two files' findings, one after the other.
        let mut both = file.findings.clone();
        both.append(statics.clone());
        assert_eq!(both.len(), 6);
        assert_eq!(both.build(&filter).unwrap().1, 3);
        // Not a payload, or a finding without a rule: not read.
        assert!(parse(b"{\"statements\": 1}".to_vec()).is_none());
        let mut broken = serde_json::to_value(&payload).unwrap();
        broken["findings"][1]
            .as_object_mut()
            .unwrap()
            .remove("rule");
        assert!(parse(serde_json::to_vec(&broken).unwrap()).is_none());
    }
}
