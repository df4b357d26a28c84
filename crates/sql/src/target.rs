//! Which object a DDL statement creates, alters, drops or comments on, read from its tokens.
//!
//! This is classification, not validation: [`target`] recognises the common DDL forms and returns
//! `None` for anything else. Identifiers are normalised the way PostgreSQL folds them: unquoted words
//! to lower case, quoted identifiers verbatim (with `""` unescaped). An unqualified name has no schema;
//! the caller decides which schema `search_path` would resolve it to.

use crate::lex::{Token, TokenKind};
use crate::span::Span;
use crate::split::significant_tokens;

/// The kind of object a statement targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TargetKind {
    Schema,
    Extension,
    Table,
    Index,
    Sequence,
    View,
    MaterializedView,
    Type,
    Domain,
    Function,
    Procedure,
    Trigger,
    Policy,
}

/// What the statement does to its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Create,
    Alter,
    Drop,
    Comment,
}

/// A possibly schema-qualified, normalised name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectName {
    pub schema: Option<String>,
    pub name: String,
}

/// The object a statement acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub kind: TargetKind,
    pub action: Action,
    pub name: ObjectName,
    /// The table an index, trigger or policy belongs to.
    pub table: Option<ObjectName>,
    /// Columns an `ALTER TABLE` adds, alters, drops or renames (old names), or a `COMMENT ON COLUMN`.
    pub columns: Vec<String>,
    /// Constraints an `ALTER TABLE` adds or drops.
    pub constraints: Vec<String>,
}

/// Normalises one identifier token like PostgreSQL: unquoted folds to lower case, quoted (`"…"`,
/// `U&"…"`) keeps its text; `None` for tokens that are not identifiers.
pub fn ident(text: &str, t: &Token) -> Option<String> {
    let s = t.span.slice(text);
    match t.kind {
        TokenKind::Word => Some(s.to_lowercase()),
        TokenKind::QuotedIdent => {
            let inner = s.strip_prefix("U&").unwrap_or(s);
            let inner = inner.strip_prefix('"')?.strip_suffix('"')?;
            Some(inner.replace("\"\"", "\""))
        }
        _ => None,
    }
}

struct Cursor<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek_word(&self) -> Option<String> {
        self.tokens
            .get(self.pos)
            .filter(|t| t.kind == TokenKind::Word)
            .map(|t| t.span.slice(self.text).to_ascii_uppercase())
    }

    /// Consumes the next token when it is the keyword `kw`.
    fn eat(&mut self, kw: &str) -> bool {
        if self.peek_word().as_deref() == Some(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes a sequence of keywords, all or nothing.
    fn eat_all(&mut self, kws: &[&str]) -> bool {
        let start = self.pos;
        for kw in kws {
            if !self.eat(kw) {
                self.pos = start;
                return false;
            }
        }
        true
    }

    fn kind(&self) -> Option<TokenKind> {
        self.tokens.get(self.pos).map(|t| t.kind)
    }

    /// A possibly qualified name (`a`, `a.b`, `"A".b`); the last two parts are kept.
    fn name(&mut self) -> Option<ObjectName> {
        let first = ident(self.text, self.tokens.get(self.pos)?)?;
        self.pos += 1;
        let mut parts = vec![first];
        while self.kind() == Some(TokenKind::Dot) {
            let next = self.tokens.get(self.pos + 1)?;
            parts.push(ident(self.text, next)?);
            self.pos += 2;
        }
        let name = parts.pop()?;
        Some(ObjectName {
            schema: parts.pop(),
            name,
        })
    }

    fn if_not_exists(&mut self) {
        self.eat_all(&["IF", "NOT", "EXISTS"]);
    }

    fn if_exists(&mut self) {
        self.eat_all(&["IF", "EXISTS"]);
    }

    /// Skips to the next top-level `ON` keyword and reads the name after it (`ON [ONLY] table`).
    fn table_after_on(&mut self) -> Option<ObjectName> {
        let mut depth = 0i32;
        while let Some(t) = self.tokens.get(self.pos) {
            match t.kind {
                TokenKind::LParen => depth += 1,
                TokenKind::RParen => depth -= 1,
                _ if depth == 0 && self.peek_word().as_deref() == Some("ON") => {
                    self.pos += 1;
                    self.eat("ONLY");
                    return self.name();
                }
                _ => {}
            }
            self.pos += 1;
        }
        None
    }
}

fn simple(kind: TargetKind, action: Action, name: ObjectName) -> Target {
    Target {
        kind,
        action,
        name,
        table: None,
        columns: Vec::new(),
        constraints: Vec::new(),
    }
}

/// The object kind named by the keywords at the cursor (`TABLE`, `MATERIALIZED VIEW`, …).
fn kind_keyword(c: &mut Cursor<'_>) -> Option<TargetKind> {
    let kind = match c.peek_word()?.as_str() {
        "SCHEMA" => TargetKind::Schema,
        "EXTENSION" => TargetKind::Extension,
        "TABLE" => TargetKind::Table,
        "INDEX" => TargetKind::Index,
        "SEQUENCE" => TargetKind::Sequence,
        "VIEW" => TargetKind::View,
        "TYPE" => TargetKind::Type,
        "DOMAIN" => TargetKind::Domain,
        "FUNCTION" => TargetKind::Function,
        "PROCEDURE" => TargetKind::Procedure,
        "TRIGGER" => TargetKind::Trigger,
        "POLICY" => TargetKind::Policy,
        "MATERIALIZED" => {
            c.pos += 1;
            if c.peek_word().as_deref() != Some("VIEW") {
                return None;
            }
            TargetKind::MaterializedView
        }
        _ => return None,
    };
    c.pos += 1;
    Some(kind)
}

/// The object `code` (a statement of `text`) acts on, when it is a recognised DDL statement.
pub fn target(text: &str, code: Span) -> Option<Target> {
    let tokens = significant_tokens(text, code);
    let mut c = Cursor {
        text,
        tokens,
        pos: 0,
    };
    match c.peek_word()?.as_str() {
        "CREATE" => {
            c.pos += 1;
            c.eat_all(&["OR", "REPLACE"]);
            for modifier in [
                "TEMP",
                "TEMPORARY",
                "UNLOGGED",
                "GLOBAL",
                "LOCAL",
                "RECURSIVE",
            ] {
                c.eat(modifier);
            }
            c.eat("TEMP");
            c.eat("TEMPORARY");
            let unique = c.eat("UNIQUE");
            let constraint = c.eat("CONSTRAINT");
            let kind = kind_keyword(&mut c)?;
            if unique && kind != TargetKind::Index || constraint && kind != TargetKind::Trigger {
                return None;
            }
            match kind {
                TargetKind::Index => {
                    c.eat("CONCURRENTLY");
                    c.if_not_exists();
                    let name = if c.peek_word().as_deref() == Some("ON") {
                        None
                    } else {
                        c.name()
                    };
                    let table = c.table_after_on()?;
                    // An unnamed index is named by PostgreSQL; the caller knows it from the catalog.
                    let name = name.unwrap_or_else(|| ObjectName {
                        schema: table.schema.clone(),
                        name: String::new(),
                    });
                    Some(Target {
                        table: Some(table),
                        ..simple(TargetKind::Index, Action::Create, name)
                    })
                }
                TargetKind::Trigger | TargetKind::Policy => {
                    let name = c.name()?;
                    let table = c.table_after_on()?;
                    Some(Target {
                        table: Some(table),
                        ..simple(kind, Action::Create, name)
                    })
                }
                _ => {
                    c.if_not_exists();
                    let name = c.name()?;
                    Some(simple(kind, Action::Create, name))
                }
            }
        }
        "ALTER" => {
            c.pos += 1;
            let kind = kind_keyword(&mut c)?;
            c.if_exists();
            c.eat("ONLY");
            if matches!(kind, TargetKind::Trigger | TargetKind::Policy) {
                let name = c.name()?;
                let table = c.table_after_on()?;
                return Some(Target {
                    table: Some(table),
                    ..simple(kind, Action::Alter, name)
                });
            }
            let name = c.name()?;
            let mut t = simple(kind, Action::Alter, name);
            if kind == TargetKind::Table {
                alter_table_actions(&mut c, &mut t);
            }
            Some(t)
        }
        "DROP" => {
            c.pos += 1;
            let kind = kind_keyword(&mut c)?;
            c.eat("CONCURRENTLY");
            c.if_exists();
            let name = c.name()?;
            let table = if matches!(kind, TargetKind::Trigger | TargetKind::Policy) {
                c.table_after_on()
            } else {
                None
            };
            Some(Target {
                table,
                ..simple(kind, Action::Drop, name)
            })
        }
        "COMMENT" => {
            c.pos += 1;
            if !c.eat("ON") {
                return None;
            }
            if c.eat("COLUMN") {
                // table.column or schema.table.column
                let mut parts = Vec::new();
                parts.push(ident(text, c.tokens.get(c.pos)?)?);
                c.pos += 1;
                while c.kind() == Some(TokenKind::Dot) {
                    parts.push(ident(text, c.tokens.get(c.pos + 1)?)?);
                    c.pos += 2;
                }
                let column = parts.pop()?;
                let table = parts.pop()?;
                return Some(Target {
                    columns: vec![column],
                    ..simple(
                        TargetKind::Table,
                        Action::Comment,
                        ObjectName {
                            schema: parts.pop(),
                            name: table,
                        },
                    )
                });
            }
            let kind = kind_keyword(&mut c)?;
            let name = c.name()?;
            Some(simple(kind, Action::Comment, name))
        }
        _ => None,
    }
}

/// Columns and constraints named by the comma-separated actions of an `ALTER TABLE`.
fn alter_table_actions(c: &mut Cursor<'_>, t: &mut Target) {
    loop {
        match c.peek_word().as_deref() {
            Some("ADD") => {
                c.pos += 1;
                if c.eat("CONSTRAINT") {
                    if let Some(n) = c.name() {
                        t.constraints.push(n.name);
                    }
                } else if matches!(
                    c.peek_word().as_deref(),
                    Some("PRIMARY" | "UNIQUE" | "CHECK" | "FOREIGN" | "EXCLUDE")
                ) {
                } else {
                    c.eat("COLUMN");
                    c.if_not_exists();
                    if let Some(n) = c.name() {
                        t.columns.push(n.name);
                    }
                }
            }
            Some("DROP") => {
                c.pos += 1;
                if c.eat("CONSTRAINT") {
                    c.if_exists();
                    if let Some(n) = c.name() {
                        t.constraints.push(n.name);
                    }
                } else {
                    c.eat("COLUMN");
                    c.if_exists();
                    if let Some(n) = c.name() {
                        t.columns.push(n.name);
                    }
                }
            }
            Some("ALTER") => {
                c.pos += 1;
                if c.eat("CONSTRAINT") {
                    if let Some(n) = c.name() {
                        t.constraints.push(n.name);
                    }
                } else {
                    c.eat("COLUMN");
                    if let Some(n) = c.name() {
                        t.columns.push(n.name);
                    }
                }
            }
            Some("RENAME") => {
                c.pos += 1;
                if c.eat("CONSTRAINT") {
                    if let Some(n) = c.name() {
                        t.constraints.push(n.name);
                    }
                } else if !c.eat("TO") {
                    c.eat("COLUMN");
                    if let Some(n) = c.name() {
                        t.columns.push(n.name);
                    }
                }
            }
            _ => {}
        }
        // Skip to the next top-level comma.
        let mut depth = 0i32;
        loop {
            match c.tokens.get(c.pos).map(|t| t.kind) {
                None => return,
                Some(TokenKind::LParen) => depth += 1,
                Some(TokenKind::RParen) => depth -= 1,
                Some(TokenKind::Comma) if depth == 0 => {
                    c.pos += 1;
                    break;
                }
                _ => {}
            }
            c.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(sql: &str) -> Option<Target> {
        target(sql, Span::new(0, sql.len()))
    }

    fn name(schema: Option<&str>, n: &str) -> ObjectName {
        ObjectName {
            schema: schema.map(str::to_string),
            name: n.to_string(),
        }
    }

    #[test]
    fn create_table_variants_fold_identifiers() {
        let x = t("CREATE UNLOGGED TABLE IF NOT EXISTS Public.\"Users\" (id int);").unwrap();
        assert_eq!((x.kind, x.action), (TargetKind::Table, Action::Create));
        assert_eq!(x.name, name(Some("public"), "Users"));
        let x = t("create table orders(id int)").unwrap();
        assert_eq!(x.name, name(None, "orders"));
    }

    #[test]
    fn create_index_names_its_table() {
        let x = t("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_email_idx ON ONLY app.users USING btree (lower(email)) WHERE (deleted_at IS NULL);").unwrap();
        assert_eq!(x.kind, TargetKind::Index);
        assert_eq!(x.name, name(None, "users_email_idx"));
        assert_eq!(x.table, Some(name(Some("app"), "users")));
        let x = t("CREATE INDEX ON users (email);").unwrap();
        assert_eq!(x.name.name, "");
        assert_eq!(x.table, Some(name(None, "users")));
    }

    #[test]
    fn alter_table_collects_columns_and_constraints() {
        let x = t("ALTER TABLE ONLY \"Post\" ADD COLUMN \"slug\" text, ALTER COLUMN title SET NOT NULL, DROP COLUMN IF EXISTS old, ADD CONSTRAINT post_fk FOREIGN KEY (a) REFERENCES b (c), ADD PRIMARY KEY (id), RENAME COLUMN x TO y;").unwrap();
        assert_eq!((x.kind, x.action), (TargetKind::Table, Action::Alter));
        assert_eq!(x.name, name(None, "Post"));
        assert_eq!(x.columns, ["slug", "title", "old", "x"]);
        assert_eq!(x.constraints, ["post_fk"]);
        let x = t("ALTER TABLE t RENAME COLUMN x TO y;").unwrap();
        assert_eq!(x.columns, ["x"]);
        let x = t("ALTER TABLE t ADD c int;").unwrap();
        assert_eq!(x.columns, ["c"]);
    }

    #[test]
    fn types_views_functions_triggers_policies() {
        assert_eq!(
            t("CREATE TYPE mood AS ENUM ('a');").map(|x| (x.kind, x.name)),
            Some((TargetKind::Type, name(None, "mood")))
        );
        assert_eq!(
            t("ALTER TYPE public.mood ADD VALUE 'b';").map(|x| (x.kind, x.action)),
            Some((TargetKind::Type, Action::Alter))
        );
        assert_eq!(
            t("CREATE OR REPLACE MATERIALIZED VIEW mv AS SELECT 1;").map(|x| x.kind),
            Some(TargetKind::MaterializedView)
        );
        assert_eq!(
            t("CREATE OR REPLACE FUNCTION f(a int) RETURNS int AS $$ select 1 $$ LANGUAGE sql;")
                .map(|x| (x.kind, x.name)),
            Some((TargetKind::Function, name(None, "f")))
        );
        let x = t(
            "CREATE CONSTRAINT TRIGGER trg AFTER INSERT ON s.t FOR EACH ROW EXECUTE FUNCTION f();",
        )
        .unwrap();
        assert_eq!(
            (x.kind, x.table),
            (TargetKind::Trigger, Some(name(Some("s"), "t")))
        );
        let x = t("CREATE POLICY \"own rows\" ON profiles FOR SELECT USING (true);").unwrap();
        assert_eq!(
            (x.kind, x.name.name.as_str()),
            (TargetKind::Policy, "own rows")
        );
    }

    #[test]
    fn drop_and_comment() {
        assert_eq!(
            t("DROP INDEX CONCURRENTLY IF EXISTS i;").map(|x| (x.kind, x.action)),
            Some((TargetKind::Index, Action::Drop))
        );
        let x = t("COMMENT ON COLUMN app.users.email IS 'x';").unwrap();
        assert_eq!((x.kind, x.action), (TargetKind::Table, Action::Comment));
        assert_eq!(x.name, name(Some("app"), "users"));
        assert_eq!(x.columns, ["email"]);
        assert_eq!(
            t("COMMENT ON TABLE users IS 'x';").map(|x| x.name),
            Some(name(None, "users"))
        );
    }

    #[test]
    fn other_statements_have_no_target() {
        for sql in [
            "SELECT 1;",
            "INSERT INTO t VALUES (1);",
            "CREATE UNIQUE TABLE t ();",
            "",
            "ALTER",
            "CREATE INDEX i ON",
        ] {
            assert_eq!(t(sql), None, "{sql}");
        }
    }
}
