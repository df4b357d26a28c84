//! What a snapshot leaves out: migration runners' bookkeeping tables and user exclusions (an object kind,
//! or any, and a `*`/`?` glob on `schema.name`).

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::model::QualifiedName;

/// The kinds of top-level catalog objects an [`Exclusion`] can name. Columns, constraints, indexes,
/// triggers and policies go with their table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// Matched on the schema's name alone; excluding a schema excludes everything in it.
    Schema,
    /// Matched on the extension's name alone.
    Extension,
    Table,
    View,
    MaterializedView,
    Sequence,
    Enum,
    Domain,
    CompositeType,
    /// Functions and procedures, matched on `schema.name` (every overload).
    Function,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 10] = [
        ObjectKind::Schema,
        ObjectKind::Extension,
        ObjectKind::Table,
        ObjectKind::View,
        ObjectKind::MaterializedView,
        ObjectKind::Sequence,
        ObjectKind::Enum,
        ObjectKind::Domain,
        ObjectKind::CompositeType,
        ObjectKind::Function,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Schema => "schema",
            ObjectKind::Extension => "extension",
            ObjectKind::Table => "table",
            ObjectKind::View => "view",
            ObjectKind::MaterializedView => "materialized_view",
            ObjectKind::Sequence => "sequence",
            ObjectKind::Enum => "enum",
            ObjectKind::Domain => "domain",
            ObjectKind::CompositeType => "composite_type",
            ObjectKind::Function => "function",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ObjectKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ObjectKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = ObjectKind::ALL.iter().map(|k| k.as_str()).collect();
                format!(
                    "unknown object kind `{s}` (expected {} or any)",
                    names.join(", ")
                )
            })
    }
}

/// Leaves objects out of a snapshot: those of `kind` (every kind when `None`) whose unquoted
/// `schema.name` (or bare name, for schemas and extensions) matches the glob `pattern`, where `*` matches
/// any run of characters (dots included) and `?` any one character. Matching is case-sensitive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclusion {
    pub kind: Option<ObjectKind>,
    pub pattern: String,
}

impl Exclusion {
    /// Objects of every kind matching `pattern`.
    pub fn any(pattern: impl Into<String>) -> Exclusion {
        Exclusion {
            kind: None,
            pattern: pattern.into(),
        }
    }

    /// Objects of `kind` matching `pattern`.
    pub fn of(kind: ObjectKind, pattern: impl Into<String>) -> Exclusion {
        Exclusion {
            kind: Some(kind),
            pattern: pattern.into(),
        }
    }

    /// Whether this exclusion leaves out the object of `kind` named `name`.
    pub fn matches(&self, kind: ObjectKind, name: &str) -> bool {
        self.kind.is_none_or(|k| k == kind) && glob_match(&self.pattern, name)
    }
}

/// `[kind:]pattern`, e.g. `table:public.tmp_*`, `any:audit.*` or `audit.*` (any kind).
impl FromStr for Exclusion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, pattern) = match s.split_once(':') {
            Some(("any", pattern)) => (None, pattern),
            Some((kind, pattern)) => (Some(kind.parse()?), pattern),
            None => (None, s),
        };
        if pattern.is_empty() {
            return Err(format!("empty pattern in exclusion `{s}`"));
        }
        Ok(Exclusion {
            kind,
            pattern: pattern.to_string(),
        })
    }
}

impl fmt::Display for Exclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Some(k) => write!(f, "{k}:{}", self.pattern),
            None => write!(f, "any:{}", self.pattern),
        }
    }
}

/// Matches `text` against a glob where `*` is any run of characters (possibly empty) and `?` is exactly
/// one character; every other character matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was seen, and the text position it is currently assumed to extend to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                // Let the last `*` swallow one more character and retry.
                Some((sp, st)) => {
                    star = Some((sp, st + 1));
                    pi = sp + 1;
                    ti = st + 1;
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Bookkeeping tables of migration runners, matched by name in any schema: golang-migrate, dbmate and
/// Rails (`schema_migrations`), goose, Prisma, Drizzle, Flyway, sqlx, Diesel, Atlas, and a few other
/// common runners (Rails, Alembic, Django, Knex, Liquibase, Sequelize).
pub const BOOKKEEPING_TABLES: &[&str] = &[
    "schema_migrations",
    "goose_db_version",
    "_prisma_migrations",
    "__drizzle_migrations",
    "flyway_schema_history",
    "_sqlx_migrations",
    "__diesel_schema_migrations",
    "atlas_schema_revisions",
    "ar_internal_metadata",
    "alembic_version",
    "django_migrations",
    "knex_migrations",
    "knex_migrations_lock",
    "databasechangelog",
    "databasechangeloglock",
    "SequelizeMeta",
];

/// Schemas runners create for their bookkeeping alone; left out when nothing else is in them.
pub const BOOKKEEPING_SCHEMAS: &[&str] = &["drizzle", "atlas_schema_revisions"];

/// The exclusions of one snapshot: the built-in bookkeeping rules plus the user's.
pub(crate) struct Filter<'a> {
    user: &'a [Exclusion],
    /// Schemas the user excluded: everything in them is left out too.
    pub excluded_schemas: HashSet<String>,
}

impl Filter<'_> {
    pub fn new(user: &[Exclusion]) -> Filter<'_> {
        Filter {
            user,
            excluded_schemas: HashSet::new(),
        }
    }

    /// Whether the object of `kind` named `name` is left out.
    pub fn excludes(&self, kind: ObjectKind, name: &QualifiedName) -> bool {
        if self.excluded_schemas.contains(&name.schema) {
            return true;
        }
        if kind == ObjectKind::Table && BOOKKEEPING_TABLES.contains(&name.name.as_str()) {
            return true;
        }
        let raw = name.raw();
        self.user.iter().any(|e| e.matches(kind, &raw))
    }

    /// Whether the schema or extension (kinds matched on a bare name) named `name` is left out.
    pub fn excludes_bare(&self, kind: ObjectKind, name: &str) -> bool {
        self.user.iter().any(|e| e.matches(kind, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_star_and_question_mark() {
        assert!(glob_match("public.tmp_*", "public.tmp_import"));
        assert!(glob_match("public.tmp_*", "public.tmp_"));
        assert!(!glob_match("public.tmp_*", "public.tmpx"));
        assert!(!glob_match("public.tmp_*", "audit.tmp_import"));
        assert!(glob_match("*.schema_migrations", "any.schema_migrations"));
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "a.b"));
        assert!(!glob_match("", "a"));
        assert!(glob_match("", ""));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(!glob_match("a?c", "abbc"));
        assert!(glob_match("a*b*c", "a_x_b_y_b_c"));
        assert!(!glob_match("a*b*c", "a_x_b_y_b_"));
        assert!(glob_match("*_log", "public.audit_log"));
        assert!(!glob_match("*_log", "public.audit_logs"));
        assert!(glob_match("p?blic.*s", "public.users"));
        // Case-sensitive, and multi-byte characters count as one.
        assert!(!glob_match("public.Users", "public.users"));
        assert!(glob_match("public.caf?", "public.café"));
        // Backtracking across several stars.
        assert!(glob_match("*a*a*a*", "xaxxaxxxa"));
        assert!(!glob_match("*a*a*a*", "xaxxaxxx"));
    }

    #[test]
    fn exclusion_parses_kind_and_pattern() {
        assert_eq!(
            "table:public.tmp_*".parse::<Exclusion>(),
            Ok(Exclusion::of(ObjectKind::Table, "public.tmp_*"))
        );
        assert_eq!(
            "materialized_view:*.mv".parse::<Exclusion>(),
            Ok(Exclusion::of(ObjectKind::MaterializedView, "*.mv"))
        );
        assert_eq!(
            "any:audit.*".parse::<Exclusion>(),
            Ok(Exclusion::any("audit.*"))
        );
        assert_eq!(
            "audit.*".parse::<Exclusion>(),
            Ok(Exclusion::any("audit.*"))
        );
        assert!(
            "tables:x.*"
                .parse::<Exclusion>()
                .is_err_and(|e| e.contains("unknown object kind `tables`"))
        );
        assert!("table:".parse::<Exclusion>().is_err());
        for kind in ObjectKind::ALL {
            let e = Exclusion::of(kind, "s.n");
            assert_eq!(e.to_string().parse::<Exclusion>(), Ok(e));
        }
    }

    #[test]
    fn exclusion_matches_its_kind_only() {
        let e = Exclusion::of(ObjectKind::View, "public.v*");
        assert!(e.matches(ObjectKind::View, "public.v1"));
        assert!(!e.matches(ObjectKind::Table, "public.v1"));
        assert!(Exclusion::any("public.v*").matches(ObjectKind::Table, "public.v1"));
    }

    #[test]
    fn bookkeeping_tables_are_excluded_in_any_schema() {
        let filter = Filter::new(&[]);
        let q = |s: &str, n: &str| QualifiedName::new(s, n);
        assert!(filter.excludes(ObjectKind::Table, &q("public", "schema_migrations")));
        assert!(filter.excludes(ObjectKind::Table, &q("drizzle", "__drizzle_migrations")));
        assert!(filter.excludes(ObjectKind::Table, &q("app", "_prisma_migrations")));
        assert!(!filter.excludes(ObjectKind::Table, &q("public", "schema_migration")));
        // Only tables: a view of that name is the user's.
        assert!(!filter.excludes(ObjectKind::View, &q("public", "schema_migrations")));
        let user = [Exclusion::of(ObjectKind::Function, "billing.*")];
        let mut filter = Filter::new(&user);
        assert!(filter.excludes(ObjectKind::Function, &q("billing", "secret")));
        assert!(!filter.excludes(ObjectKind::Function, &q("public", "secret")));
        assert!(!filter.excludes_bare(ObjectKind::Schema, "billing"));
        // Everything in an excluded schema goes with it.
        assert!(!filter.excludes(ObjectKind::Table, &q("audit", "log")));
        filter.excluded_schemas.insert("audit".into());
        assert!(filter.excludes(ObjectKind::Table, &q("audit", "log")));
    }
}
