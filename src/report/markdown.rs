//! A markdown summary of a [`Report`]: a headline with the counts, a table of the replayed migration
//! sets and a table of findings (`severity | rule | location | message`). GitHub shows it as the job
//! summary (`$GITHUB_STEP_SUMMARY`), the check run's summary and the sticky pull request comment.
//!
//! Table cells are escaped (`|`, line breaks, HTML), locations link to the file at the checked commit
//! when a link base is given, and the findings table stops after `max_findings` rows with a line saying
//! how many were left out, so the text stays under GitHub's size limits.

use std::fmt::Write as _;

use super::{Resolver, display_path, plural};
use crate::model::{Report, Severity, Sources};

/// How the summary is written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MarkdownOptions {
    /// `https://github.com/OWNER/REPO/blob/SHA`: locations become links to that commit's file.
    pub link_base: Option<String>,
    /// Prepended to every path (the checked root relative to the repository root).
    pub path_prefix: Option<std::path::PathBuf>,
    /// Rows of the findings table before it is cut.
    pub max_findings: usize,
}

/// The headline: `2 errors, 1 warning, 0 notices` or `no findings`.
pub fn headline(report: &Report) -> String {
    if report.findings.is_empty() {
        "no findings".to_string()
    } else {
        format!(
            "{}, {}, {}",
            plural(report.count(Severity::Error), "error", "errors"),
            plural(report.count(Severity::Warning), "warning", "warnings"),
            plural(report.count(Severity::Notice), "notice", "notices"),
        )
    }
}

/// Escapes text for one markdown table cell, or for one line of a comment.
///
/// Findings carry text from the repository and from PostgreSQL (which repeats what a migration
/// raised), so nothing in it may become markdown that acts: links, images, raw HTML, `@mentions` (which
/// notify people), autolinked URLs, emphasis, tables. Code spans (`` `x` ``) are kept, since findings
/// quote statements that way and nothing inside a code span is interpreted; everything outside them is
/// escaped, a backtick without its closing run included. Line breaks become `<br>`.
pub fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut rest = text;
    while let Some(at) = rest.find('`') {
        plain(&rest[..at], &mut out);
        let tail = &rest[at..];
        let run = tail.bytes().take_while(|&b| b == b'`').count();
        match closing_run(tail, run) {
            Some(close) => {
                out.push_str(&tail[..run]);
                out.push_str(&code_body(&tail[run..close]));
                out.push_str(&tail[..run]);
                rest = &tail[close + run..];
            }
            None => {
                out.push_str(&"\\`".repeat(run));
                rest = &tail[run..];
            }
        }
    }
    plain(rest, &mut out);
    out
}

/// The offset in `tail` (which starts with `run` backticks) of the next run of exactly `run` backticks.
fn closing_run(tail: &str, run: usize) -> Option<usize> {
    let mut from = run;
    while let Some(k) = tail[from..].find('`') {
        let at = from + k;
        let len = tail[at..].bytes().take_while(|&b| b == b'`').count();
        if len == run {
            return Some(at);
        }
        from = at + len;
    }
    None
}

/// The inside of a code span in a table cell: only `|` (which would end the cell) is escaped, and
/// line breaks become spaces.
fn code_body(text: &str) -> String {
    text.replace('|', "\\|")
        .replace("\r\n", " ")
        .replace(['\r', '\n'], " ")
}

/// Text outside code spans: every character that could start markdown or HTML is escaped.
fn plain(text: &str, out: &mut String) {
    let mut chars = text.chars().peekable();
    let mut word_start = true;
    while let Some(c) = chars.next() {
        match c {
            '\\' | '*' | '_' | '[' | ']' | '~' | '|' | '!' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            // A zero-width space after `@` keeps `@someone` from notifying someone, and after
            // `:` / `www` keeps a URL from being linked.
            '@' => out.push_str("@\u{200B}"),
            ':' if text_starts(&chars, "//") => out.push_str(":\u{200B}"),
            'w' | 'W' if word_start && text_starts(&chars, "ww.") => {
                out.push(c);
                out.push('\u{200B}');
            }
            '\r' => {}
            '\n' => out.push_str("<br>"),
            c => out.push(c),
        }
        word_start = !c.is_alphanumeric();
    }
}

fn text_starts(chars: &std::iter::Peekable<std::str::Chars<'_>>, prefix: &str) -> bool {
    chars.clone().take(prefix.len()).eq(prefix.chars())
}

/// A code span that survives any backticks in `text`.
fn code(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{}{pad}{fence}", code_body(text))
}

/// A fenced code block that no line of `text` can close.
pub fn fenced(info: &str, text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}{info}\n{text}\n{fence}\n")
}

fn icon(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "🔴 error",
        Severity::Warning => "🟡 warning",
        Severity::Notice => "🔵 notice",
    }
}

/// The whole summary, starting with a `### pgrehearse` heading.
pub fn summary(report: &Report, sources: &Sources, opts: &MarkdownOptions) -> String {
    let mut out = String::new();
    let mark = if report.count(Severity::Error) > 0 {
        "❌"
    } else if report.findings.is_empty() {
        "✅"
    } else {
        "⚠️"
    };
    let engine = match &report.engine {
        Some(engine) => format!(" (engine: {engine})"),
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "### {mark} pgrehearse: {} in {}{engine}\n",
        headline(report),
        plural(report.sets.len(), "migration set", "migration sets"),
    );
    if !report.sets.is_empty() {
        out.push_str("| migration set | runner | migrations | applied | status |\n");
        out.push_str("| --- | --- | ---: | ---: | --- |\n");
        for set in &report.sets {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                code(&display_path(&set.path)),
                cell(&set.runner),
                set.migrations,
                set.applied,
                cell(&set.status),
            );
        }
        out.push('\n');
    }
    if report.historical > 0 {
        let _ = writeln!(out, "Not shown: {}.\n", cell(&super::held_back(report)));
    }
    if report.findings.is_empty() {
        return out;
    }
    out.push_str("| severity | rule | location | message |\n");
    out.push_str("| --- | --- | --- | --- |\n");
    let mut resolver = Resolver::with_prefix(sources, opts.path_prefix.as_deref());
    for finding in report.findings.iter().take(opts.max_findings) {
        let location = match &finding.location {
            None => String::new(),
            Some(location) => {
                let resolved = resolver.resolve(location);
                let (label, anchor) = match &resolved.source {
                    Some(s) => (
                        format!("{}:{}:{}", resolved.file, s.pos.line, s.pos.column),
                        format!("#L{}", s.pos.line),
                    ),
                    None => (resolved.file.clone(), String::new()),
                };
                match &opts.link_base {
                    Some(base) => format!(
                        "[{}]({base}/{}{anchor})",
                        code(&label),
                        super::percent_encode_path(&resolved.file)
                    ),
                    None => code(&label),
                }
            }
        };
        let mut message = finding.message.clone();
        if let Some(help) = &finding.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        let _ = writeln!(
            out,
            "| {} | {} | {location} | {} |",
            icon(finding.severity),
            code(&finding.rule),
            cell(&message),
        );
    }
    let left = report.findings.len().saturating_sub(opts.max_findings);
    if left > 0 {
        let noun = if left == 1 { "finding" } else { "findings" };
        let _ = writeln!(
            out,
            "\n… and {left} more {noun} (see the check run's annotations or the report file)."
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::fixture;

    const EXPECTED: &str = "\
### ❌ pgrehearse: 4 errors, 2 warnings, 2 notices in 3 migration sets (engine: local)

| migration set | runner | migrations | applied | status |
| --- | --- | ---: | ---: | --- |
| `db/migrations` | drizzle | 5 | 4 | failed |
| `db/crlf` | psql | 1 | 0 | failed |
| `db/cr` | golang-migrate | 1 | 0 | static |

| severity | rule | location | message |
| --- | --- | --- | --- |
| 🔵 notice | `engine-version` |  | PostgreSQL 17 was used |
| 🔴 error | `migration-failed` | [`db/cr/0001_init.sql:2:14`](https://github.com/o/r/blob/abc/db/cr/0001_init.sql#L2) | syntax error at or near \"AUTO\\_INCREMENT\"<br>help: use `GENERATED BY DEFAULT AS IDENTITY` |
| 🔴 error | `migration-failed` | [`db/crlf/0001_init.sql:2:14`](https://github.com/o/r/blob/abc/db/crlf/0001_init.sql#L2) | syntax error at or near \"AUTO\\_INCREMENT\"<br>help: use `GENERATED BY DEFAULT AS IDENTITY` |

… and 5 more findings (see the check run's annotations or the report file).
";

    #[test]
    fn exact_summary_with_links_and_a_cut() {
        let (report, sources) = fixture();
        let opts = MarkdownOptions {
            link_base: Some("https://github.com/o/r/blob/abc".into()),
            path_prefix: None,
            max_findings: 3,
        };
        assert_eq!(summary(&report, &sources, &opts), EXPECTED);
    }

    #[test]
    fn cells_escape_pipes_html_and_line_breaks() {
        let (mut report, sources) = fixture();
        report.findings = vec![report.findings[7].clone()];
        report.findings[0].message = "a | b <script>\r\nc & d".into();
        report.sets.clear();
        let opts = MarkdownOptions {
            link_base: None,
            path_prefix: Some("svc".into()),
            max_findings: 10,
        };
        assert_eq!(
            summary(&report, &sources, &opts),
            "### ❌ pgrehearse: 1 error, 0 warnings, 0 notices in 0 migration sets (engine: local)\n\n\
             | severity | rule | location | message |\n\
             | --- | --- | --- | --- |\n\
             | 🔴 error | `odd-path` | `svc/db/odd,dir/100%:x.sql:1:8` | a \\| b &lt;script&gt;<br>c &amp; d<br>help: fix: it, now |\n"
        );
    }

    #[test]
    fn clean_report() {
        let (mut report, sources) = fixture();
        report.findings.clear();
        report.sets.truncate(1);
        let text = summary(&report, &sources, &MarkdownOptions::default());
        assert_eq!(
            text,
            "### ✅ pgrehearse: no findings in 1 migration set (engine: local)\n\n\
             | migration set | runner | migrations | applied | status |\n\
             | --- | --- | ---: | ---: | --- |\n\
             | `db/migrations` | drizzle | 5 | 4 | failed |\n\n"
        );
    }

    #[test]
    fn findings_held_back_in_shipped_migrations_are_counted() {
        let (mut report, sources) = fixture();
        report.findings.clear();
        report.sets.truncate(1);
        report.historical = 3;
        report.history = Some(crate::model::History {
            basis: "pull-request".into(),
            revision: Some("0123456789abcdef0123456789abcdef01234567".into()),
            shipped: 9,
        });
        let text = summary(&report, &sources, &MarkdownOptions::default());
        assert!(
            text.ends_with(
                "| `db/migrations` | drizzle | 5 | 4 | failed |\n\n\
                 Not shown: 3 findings in migrations already shipped (present on the pull request's base 0123456789ab; `--all-history` shows them).\n\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn text_from_migrations_cannot_act() {
        let forged = "hi @octocat ![i](https://evil.example/i.png) [x](http://e.example) \
                      <img src=x> www.evil.example *b* _i_ ~~s~~ \\ # 1";
        assert_eq!(
            cell(forged),
            "hi @\u{200B}octocat \\!\\[i\\](https:\u{200B}//evil.example/i.png) \
             \\[x\\](http:\u{200B}//e.example) &lt;img src=x&gt; w\u{200B}ww.evil.example \\*b\\* \
             \\_i\\_ \\~\\~s\\~\\~ \\\\ \\# 1"
        );
        // Code spans are kept (nothing inside one is interpreted), a lone backtick is escaped.
        assert_eq!(
            cell("`a_b [x](y) | z` and ` lone"),
            "`a_b [x](y) \\| z` and \\` lone"
        );
        assert_eq!(cell("``a`b`` c"), "``a`b`` c");
        // A fence no line of the text can close.
        assert_eq!(fenced("text", "a\n```\nb"), "````text\na\n```\nb\n````\n");
    }

    #[test]
    fn code_spans_survive_backticks() {
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
    }
}
