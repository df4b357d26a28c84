//! Drift findings: each [`Change`] from the `diff` stage becomes a `schema-drift` finding that names both
//! sides and points at the declared file's statement for the object, or, for an object only the
//! migrations build, at the migration statement that last created or altered it. Changes the declared
//! schema's own tool does not see are left out (for a Prisma datamodel, enum value order and the
//! extensions it does not list).
//!
//! When the replay stopped early, the changes that say the replay lacks something the declared side
//! has (an object only declared, a comment or default the replay's object has none of) are what the
//! migrations that did not run may build: they become one `drift-incomplete` finding that counts
//! them, so that one failed migration is one error and one summary, not a finding per later object.
//! Differences of objects the replay did build stay findings of their own.

use std::collections::BTreeMap;
use std::path::Path;

use pgrehearse_sql::{ObjectName, Span, TargetKind, TokenKind};

use crate::catalog::QualifiedName;
use crate::diff::{Change, Diff, ObjectKind, ObjectRef};
use crate::model::DriftClass;
use crate::model::Provenance;
use crate::model::{Evidence, Finding, Severity};

/// What drift findings need besides the changes.
pub struct DriftContext<'a> {
    /// The declared schema file (or a description of the live database), relative to the root.
    pub declared_file: Option<&'a Path>,
    /// How to call the declared side in messages: `db/schema.sql`, `the live database`.
    pub declared_label: String,
    pub declared: &'a [Provenance],
    pub migrations: &'a [Provenance],
    /// The migration the replay stopped at, when it stopped early.
    pub stopped_at: Option<&'a str>,
    /// Severity per class; `None` turns a class off.
    pub severities: &'a BTreeMap<DriftClass, Option<Severity>>,
}

fn same_name(n: &ObjectName, q: &QualifiedName) -> bool {
    n.name == q.name && n.schema.as_deref().unwrap_or("public") == q.schema
}

/// Whether a statement's target is about `object`; `Some(true)` when it names the exact member.
fn matches(p: &Provenance, object: &ObjectRef) -> Option<bool> {
    let t = &p.target;
    let member = object.member.as_deref();
    let on_table = |kind: TargetKind| {
        t.kind == kind
            && t.table
                .as_ref()
                .is_some_and(|tb| same_name(tb, &object.name))
            && member.is_some_and(|m| t.name.name == m)
    };
    match object.kind {
        ObjectKind::Table | ObjectKind::Column | ObjectKind::Constraint => {
            if t.kind != TargetKind::Table || !same_name(&t.name, &object.name) {
                return None;
            }
            let exact = match (object.kind, member) {
                (ObjectKind::Column, Some(m)) => t.columns.iter().any(|c| c == m),
                (ObjectKind::Constraint, Some(m)) => t.constraints.iter().any(|c| c == m),
                _ => false,
            };
            Some(exact)
        }
        ObjectKind::Index => {
            if on_table(TargetKind::Index) {
                Some(true)
            } else if t.kind == TargetKind::Table && same_name(&t.name, &object.name) {
                Some(false)
            } else {
                None
            }
        }
        ObjectKind::Trigger | ObjectKind::Policy => {
            let kind = if object.kind == ObjectKind::Trigger {
                TargetKind::Trigger
            } else {
                TargetKind::Policy
            };
            if on_table(kind) {
                Some(true)
            } else if t.kind == TargetKind::Table && same_name(&t.name, &object.name) {
                Some(false)
            } else {
                None
            }
        }
        ObjectKind::Enum | ObjectKind::EnumValue | ObjectKind::CompositeType => {
            (t.kind == TargetKind::Type && same_name(&t.name, &object.name)).then_some(true)
        }
        ObjectKind::Domain => {
            (t.kind == TargetKind::Domain && same_name(&t.name, &object.name)).then_some(true)
        }
        ObjectKind::View => {
            (t.kind == TargetKind::View && same_name(&t.name, &object.name)).then_some(true)
        }
        ObjectKind::MaterializedView => (t.kind == TargetKind::MaterializedView
            && same_name(&t.name, &object.name))
        .then_some(true),
        ObjectKind::Sequence => {
            (t.kind == TargetKind::Sequence && same_name(&t.name, &object.name)).then_some(true)
        }
        ObjectKind::Function => (matches!(t.kind, TargetKind::Function | TargetKind::Procedure)
            && same_name(&t.name, &object.name))
        .then_some(true),
        ObjectKind::Schema => {
            (t.kind == TargetKind::Schema && t.name.name == object.name.name).then_some(true)
        }
        ObjectKind::Extension => {
            (t.kind == TargetKind::Extension && t.name.name == object.name.name).then_some(true)
        }
    }
}

/// The statement for `object` in `provenance`: an exact member match wins over the enclosing table;
/// `last` picks the latest (migrations: the last statement that touched it) rather than the first
/// (a declared file: where it is declared).
fn locate<'a>(
    provenance: &'a [Provenance],
    object: &ObjectRef,
    last: bool,
) -> Option<&'a Provenance> {
    let mut exact = None;
    let mut enclosing = None;
    for p in provenance {
        match matches(p, object) {
            Some(true) if last || exact.is_none() => exact = Some(p),
            // The `CREATE TABLE` that defines the column or constraint names it exactly too: a later
            // `ALTER TABLE` of other columns is not where it comes from.
            Some(false)
                if (last || exact.is_none())
                    && p.target.action == pgrehearse_sql::Action::Create
                    && narrow(p, object).is_some() =>
            {
                exact = Some(p)
            }
            Some(false) if last || enclosing.is_none() => enclosing = Some(p),
            _ => {}
        }
    }
    exact.or(enclosing)
}

/// Inside a `CREATE TABLE` or `CREATE TYPE … AS ENUM` statement, the line that defines `member` (a
/// column at the top level of the parenthesised list, or an enum label): from its first token to the
/// end of that line.
fn narrow(p: &Provenance, object: &ObjectRef) -> Option<Span> {
    let member = object.member.as_deref()?;
    let text = &*p.text;
    let tokens = pgrehearse_sql::significant_tokens(text, p.span);
    let mut depth = 0i32;
    let mut prev: Option<TokenKind> = None;
    let mut prev_word: Option<String> = None;
    for t in &tokens {
        match t.kind {
            TokenKind::LParen => depth += 1,
            TokenKind::RParen => depth -= 1,
            _ => {}
        }
        let after_constraint = prev_word
            .as_deref()
            .is_some_and(|w| w.eq_ignore_ascii_case("constraint"));
        let hit = depth == 1
            && (matches!(prev, Some(TokenKind::LParen | TokenKind::Comma))
                || (object.kind == ObjectKind::Constraint && after_constraint))
            && match (object.kind, t.kind) {
                (ObjectKind::Constraint, TokenKind::Word | TokenKind::QuotedIdent) => {
                    let name = t.span.slice(text);
                    let name = if t.kind == TokenKind::Word {
                        name.to_lowercase()
                    } else {
                        name.trim_matches('"').replace("\"\"", "\"")
                    };
                    after_constraint && name == member
                }
                (ObjectKind::Column, TokenKind::Word) => {
                    t.span.slice(text).to_lowercase() == member
                }
                (ObjectKind::Column, TokenKind::QuotedIdent) => {
                    t.span.slice(text).trim_matches('"').replace("\"\"", "\"") == member
                }
                (ObjectKind::EnumValue, TokenKind::String) => {
                    t.span.slice(text).trim_matches('\'').replace("''", "'") == member
                }
                _ => false,
            };
        if hit {
            let line_end = text[t.span.start..p.span.end]
                .find(['\n', '\r'])
                .map(|i| t.span.start + i)
                .unwrap_or(p.span.end);
            let end = text[t.span.start..line_end].trim_end().len() + t.span.start;
            return Some(Span::new(t.span.start, end.max(t.span.end)));
        }
        prev = Some(t.kind);
        prev_word = (t.kind == TokenKind::Word).then(|| t.span.slice(text).to_string());
    }
    None
}

/// The message and help of `change`; `declared` names the declared side (the file that holds the
/// object when the declared schema spans several).
fn describe(change: &Change, declared: &str) -> (String, String) {
    let kind = change.object.kind.as_str();
    let obj = &change.object;
    match &change.diff {
        Diff::OnlyDeclared => (
            format!("{kind} `{obj}` is in {declared} but the migrations do not create it"),
            format!("add a migration that creates it, or remove it from {declared}"),
        ),
        Diff::OnlyMigrations => (
            format!("{kind} `{obj}` is created by the migrations but is not in {declared}"),
            format!("add it to {declared}, or drop it in a migration"),
        ),
        Diff::Differs {
            properties,
            declared: Some(d),
            migrations: Some(m),
        } if !properties.is_empty() => (
            format!("{kind} `{obj}` differs: {declared}: {d}, migrations: {m}"),
            format!("make {declared} and the migrations agree (a new migration, or an update of {declared})"),
        ),
        Diff::Differs { properties, .. } => {
            let parts: Vec<String> = properties
                .iter()
                .map(|p| format!("{} is {} in {declared}, {} in the migrations", p.name, p.declared, p.migrations))
                .collect();
            (
                format!("{kind} `{obj}` differs: {}", parts.join("; ")),
                format!("make {declared} and the migrations agree (a new migration, or an update of {declared})"),
            )
        }
        Diff::Renamed { declared: d, migrations: m } => (
            format!(
                "{kind} on `{}` is named `{d}` in {declared} but `{m}` by the migrations (same definition)",
                obj.name
            ),
            "name it explicitly on both sides, so that scripts referring to it by name work everywhere".to_string(),
        ),
    }
}

/// Whether the declared side is a Prisma datamodel (its statements come from `.prisma` files).
fn declared_by_prisma(ctx: &DriftContext<'_>) -> bool {
    use crate::declared::prisma::is_prisma_file;
    ctx.declared_file.is_some_and(is_prisma_file)
        || ctx.declared.iter().any(|p| is_prisma_file(&p.file))
}

/// Whether the declared schema's own tool does not see `change`. For a Prisma datamodel that is what
/// `prisma migrate diff` ignores: the order of enum values (it only adds and drops values), and every
/// extension the datamodel does not list in `extensions = [...]` (which needs the
/// `postgresqlExtensions` preview feature; Prisma never drops an extension it does not manage).
fn unseen_by_declared_tool(change: &Change, ctx: &DriftContext<'_>) -> bool {
    if !declared_by_prisma(ctx) {
        return false;
    }
    match change.object.kind {
        ObjectKind::Extension => !ctx.declared.iter().any(|p| {
            p.target.kind == TargetKind::Extension && p.target.name.name == change.object.name.name
        }),
        _ => change.class == DriftClass::EnumOrder,
    }
}

/// Whether `change` is something the declared side has and the replay lacks: an object only declared,
/// or properties (a comment, a default) the replay's object has none of. When the replay stopped
/// early, the migrations that did not run may well have built it.
fn lacking_in_replay(change: &Change) -> bool {
    match &change.diff {
        Diff::OnlyDeclared => true,
        Diff::Differs { properties, .. } => {
            !properties.is_empty() && properties.iter().all(|p| p.migrations == "none")
        }
        Diff::OnlyMigrations | Diff::Renamed { .. } => false,
    }
}

fn plural(word: &str, n: usize) -> String {
    if n == 1 {
        format!("1 {word}")
    } else if let Some(stem) = word.strip_suffix('y') {
        format!("{n} {stem}ies")
    } else if word.ends_with('x') || word.ends_with('s') {
        format!("{n} {word}es")
    } else {
        format!("{n} {word}s")
    }
}

/// Objects listed by name in the evidence of a `drift-incomplete` finding.
const LISTED: usize = 50;

/// The one finding that stands for every change the replay could not be compared on, because it
/// stopped at migration `stop` before building what the declared side has.
fn not_compared(lacking: &[&Change], stop: &str, ctx: &DriftContext<'_>) -> Finding {
    let declared = &ctx.declared_label;
    // What each is: the object's kind, or for a property the replay lacks, the property.
    let what = |c: &Change| match &c.diff {
        Diff::Differs { properties, .. } => properties
            .iter()
            .map(|p| p.name.clone())
            .collect::<Vec<_>>()
            .join(" and "),
        _ => c.object.kind.as_str().to_string(),
    };
    let mut counts: Vec<(String, usize)> = Vec::new();
    for c in lacking {
        let w = what(c);
        match counts.iter_mut().find(|(k, _)| *k == w) {
            Some((_, n)) => *n += 1,
            None => counts.push((w, 1)),
        }
    }
    let groups: Vec<String> = counts.iter().map(|(w, n)| plural(w, *n)).collect();
    let mut listed: Vec<String> = lacking
        .iter()
        .take(LISTED)
        .map(|c| match &c.diff {
            Diff::OnlyDeclared => format!("{} {}", c.object.kind.as_str(), c.object),
            _ => format!("{} of {} {}", what(c), c.object.kind.as_str(), c.object),
        })
        .collect();
    if lacking.len() > LISTED {
        listed.push(format!("and {} more", lacking.len() - LISTED));
    }
    let mut extra = BTreeMap::new();
    extra.insert("stopped_at".to_string(), stop.to_string());
    extra.insert("count".to_string(), lacking.len().to_string());
    extra.insert("objects".to_string(), listed.join(", "));
    if let Some(file) = ctx.declared_file {
        extra.insert("declared".to_string(), file.display().to_string());
    }
    let finding = crate::registry::finding(
        "drift-incomplete",
        format!(
            "{} in {declared} ({}) could not be compared: the replay stopped at migration `{stop}`, and the migrations that did not run may create them",
            if lacking.len() == 1 {
                "1 object or property".to_string()
            } else {
                format!("{} objects or properties", lacking.len())
            },
            groups.join(", "),
        ),
    )
    .help(format!(
        "make migration `{stop}` replay, then run again to compare the rest of {declared}"
    ));
    let finding = match ctx.declared_file {
        Some(file) => finding.at(file, None),
        None => finding,
    };
    finding.evidence(Evidence {
        extra,
        ..Evidence::default()
    })
}

/// One finding per change whose class is not turned off. When the replay stopped early, what the
/// declared side has and the replay lacks is one `drift-incomplete` finding instead; the differences
/// of objects the replay did build are still reported one by one.
pub fn findings(changes: &[Change], ctx: &DriftContext<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut lacking: Vec<&Change> = Vec::new();
    for change in changes {
        if unseen_by_declared_tool(change, ctx) {
            continue;
        }
        let severity = match ctx.severities.get(&change.class) {
            Some(None) => continue,
            Some(Some(s)) => *s,
            None => change.class.default_severity(),
        };
        if ctx.stopped_at.is_some() && lacking_in_replay(change) {
            lacking.push(change);
            continue;
        }
        // A renamed member is found on the declared side under its declared name.
        let declared_object = match &change.diff {
            Diff::Renamed { declared, .. } => ObjectRef {
                member: Some(declared.clone()),
                ..change.object.clone()
            },
            _ => change.object.clone(),
        };
        let declared_side = locate(ctx.declared, &declared_object, false);
        // A schema of several files (Drizzle, Prisma folders): the message names the one that holds
        // the object.
        let label = match (ctx.declared_file, declared_side) {
            (Some(file), Some(p)) if p.file != file => p.file.display().to_string(),
            _ => ctx.declared_label.clone(),
        };
        let (mut message, help) = describe(change, &label);
        if let Some(stop) = ctx.stopped_at {
            message.push_str(&format!(
                " (the replay stopped at migration `{stop}`: drift is computed on what was applied)"
            ));
        }
        let migration_side = locate(ctx.migrations, &change.object, true);
        let declared_hit = declared_side.map(|p| (p, &declared_object));
        let migration_hit = migration_side.map(|p| (p, &change.object));
        let primary = match change.diff {
            Diff::OnlyMigrations => migration_hit.or(declared_hit),
            _ => declared_hit.or(migration_hit),
        };
        let mut extra = BTreeMap::new();
        extra.insert("class".to_string(), change.class.as_str().to_string());
        extra.insert("object".to_string(), change.object.to_string());
        extra.insert(
            "object_kind".to_string(),
            change.object.kind.as_str().to_string(),
        );
        if let Some(file) = ctx.declared_file {
            extra.insert("declared".to_string(), file.display().to_string());
        }
        if let Some(m) = migration_side {
            extra.insert("migration_file".to_string(), m.file.display().to_string());
        }
        let mut finding = crate::registry::finding("schema-drift", message).help(help);
        finding.severity = severity;
        finding = match primary {
            Some((p, object)) => {
                let span = narrow(p, object).unwrap_or(p.span);
                finding.at(&p.file, Some(span))
            }
            None => match ctx.declared_file {
                Some(file) => finding.at(file, None),
                None => finding,
            },
        };
        out.push(finding.evidence(Evidence {
            extra,
            ..Evidence::default()
        }));
    }
    if let Some(stop) = ctx.stopped_at
        && !lacking.is_empty()
    {
        out.push(not_compared(&lacking, stop, ctx));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use pgrehearse_sql::{Action, ObjectName, Target};

    use super::*;
    use crate::diff::Property;

    fn change(kind: ObjectKind, name: &str, class: DriftClass, diff: Diff) -> Change {
        Change {
            object: ObjectRef {
                kind,
                name: QualifiedName::new(
                    if kind == ObjectKind::Extension {
                        ""
                    } else {
                        "public"
                    },
                    name,
                ),
                member: None,
            },
            class,
            diff,
        }
    }

    fn declared_extension(file: &str, name: &str) -> Provenance {
        let text: Arc<str> = Arc::from("extensions = [hstore]");
        Provenance {
            target: Target {
                kind: TargetKind::Extension,
                action: Action::Create,
                name: ObjectName {
                    schema: None,
                    name: name.to_string(),
                },
                table: None,
                columns: Vec::new(),
                constraints: Vec::new(),
            },
            file: file.into(),
            span: Span::new(0, text.len()),
            text,
        }
    }

    fn reported(
        changes: &[Change],
        file: &str,
        declared: &[Provenance],
        stop: Option<&str>,
    ) -> Vec<String> {
        let severities = BTreeMap::new();
        let ctx = DriftContext {
            declared_file: Some(Path::new(file)),
            declared_label: file.to_string(),
            declared,
            migrations: &[],
            stopped_at: stop,
            severities: &severities,
        };
        findings(changes, &ctx)
            .into_iter()
            .map(|f| format!("{} {}", f.rule, f.message))
            .collect()
    }

    fn order() -> Change {
        change(
            ObjectKind::Enum,
            "Role",
            DriftClass::EnumOrder,
            Diff::Differs {
                properties: vec![Property {
                    name: "value order".into(),
                    declared: "USER, MODERATOR, ADMIN".into(),
                    migrations: "USER, ADMIN, MODERATOR".into(),
                }],
                declared: None,
                migrations: None,
            },
        )
    }

    #[test]
    fn prisma_datamodels_ignore_enum_order_and_extensions_they_do_not_list() {
        let trgm = change(
            ObjectKind::Extension,
            "pg_trgm",
            DriftClass::Missing,
            Diff::OnlyMigrations,
        );
        let hstore = change(
            ObjectKind::Extension,
            "hstore",
            DriftClass::Missing,
            Diff::OnlyDeclared,
        );
        let changes = [order(), trgm, hstore];
        // A SQL schema: every change is drift.
        assert_eq!(reported(&changes, "db/schema.sql", &[], None).len(), 3);
        // A Prisma datamodel listing hstore: only hstore is.
        let listed = [declared_extension("prisma/schema.prisma", "hstore")];
        let prisma = reported(&changes, "prisma/schema.prisma", &listed, None);
        assert_eq!(prisma.len(), 1, "{prisma:?}");
        assert!(prisma[0].contains("`hstore`"), "{prisma:?}");
        // A multi-file datamodel (a folder) is recognised by its statements' files.
        assert_eq!(reported(&changes, "prisma/schema", &listed, None).len(), 1);
        // Listing nothing: nothing is.
        assert!(reported(&changes, "prisma/schema.prisma", &[], None).is_empty());
    }

    #[test]
    fn after_an_early_stop_what_the_replay_lacks_is_one_summary() {
        let comment = change(
            ObjectKind::Table,
            "users",
            DriftClass::Comment,
            Diff::Differs {
                properties: vec![Property {
                    name: "comment".into(),
                    declared: "people".into(),
                    migrations: "none".into(),
                }],
                declared: None,
                migrations: None,
            },
        );
        let missing = (0..120).map(|i| {
            change(
                ObjectKind::Table,
                &format!("t{i}"),
                DriftClass::Missing,
                Diff::OnlyDeclared,
            )
        });
        let extra = change(
            ObjectKind::Table,
            "legacy",
            DriftClass::Missing,
            Diff::OnlyMigrations,
        );
        let changes: Vec<Change> = missing.chain([comment, extra, order()]).collect();
        // Without a stop, one finding each.
        assert_eq!(reported(&changes, "db/schema.sql", &[], None).len(), 123);
        let stopped = reported(&changes, "db/schema.sql", &[], Some("0002_orders"));
        // The built objects' differences stay; the rest is one summary.
        assert_eq!(stopped.len(), 3, "{stopped:#?}");
        assert!(
            stopped[0].contains("`public.legacy`")
                && stopped[0].contains("stopped at migration `0002_orders`")
        );
        assert!(stopped[1].contains("value order"));
        assert_eq!(
            stopped[2],
            "drift-incomplete 121 objects or properties in db/schema.sql (120 tables, 1 comment) could not be compared: the replay stopped at migration `0002_orders`, and the migrations that did not run may create them"
        );
    }

    #[test]
    fn plurals() {
        assert_eq!(plural("index", 2), "2 indexes");
        assert_eq!(plural("policy", 3), "3 policies");
        assert_eq!(plural("enum value", 1), "1 enum value");
        assert_eq!(plural("materialized view", 4), "4 materialized views");
    }
}
