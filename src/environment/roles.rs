//! Roles a migration needs to exist, and roles it creates itself, read statically from its tokens.
//!
//! References: `GRANT … TO`, `GRANT role TO`, `GRANTED BY`, `REVOKE … FROM`, `OWNER TO`,
//! `REASSIGN OWNED BY … TO`, `DROP OWNED BY`, `SET ROLE`, `SET SESSION AUTHORIZATION`,
//! `CREATE SCHEMA … AUTHORIZATION`, `CREATE POLICY … TO` / `ALTER POLICY … TO`,
//! `ALTER DEFAULT PRIVILEGES FOR ROLE`, `ALTER ROLE|USER|GROUP name`, `COMMENT ON ROLE`, and
//! `CREATE ROLE … IN ROLE|ROLE|ADMIN|USER …`. Creations: `CREATE ROLE|USER|GROUP name` at the top
//! level or inside a dollar-quoted body (`DO $$ … CREATE ROLE … $$`), and `ALTER ROLE … RENAME TO`.
//! `PUBLIC`, `CURRENT_USER`, `SESSION_USER`, `CURRENT_ROLE` and the reserved `pg_*` roles are never
//! reported.

use pgrehearse_sql::{self as sql, Span, Token, TokenKind};

/// A role named in a statement, normalised the way PostgreSQL folds identifiers, with the span of
/// its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Named {
    pub name: String,
    pub span: Span,
}

/// Names that are never roles to create.
fn is_pseudo(name: &str) -> bool {
    matches!(
        name,
        "public" | "current_user" | "session_user" | "current_role" | "none" | "all"
    ) || name.starts_with("pg_")
}

/// The role name of one token (`Word` folded to lower case, quoted identifier verbatim, a string
/// literal for `SET ROLE 'x'`).
fn role_name(text: &str, t: &Token) -> Option<String> {
    let s = t.span.slice(text);
    match t.kind {
        TokenKind::Word => Some(s.to_ascii_lowercase()),
        TokenKind::QuotedIdent => {
            let inner = s.strip_prefix('"')?.strip_suffix('"')?;
            Some(inner.replace("\"\"", "\""))
        }
        TokenKind::String => {
            let inner = s.strip_prefix('\'')?.strip_suffix('\'')?;
            Some(inner.replace("''", "'"))
        }
        _ => None,
    }
}

struct Tokens<'a> {
    text: &'a str,
    toks: Vec<Token>,
    /// Parenthesis depth before each token.
    depth: Vec<usize>,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str, span: Span) -> Tokens<'a> {
        let toks = sql::significant_tokens(text, span);
        let mut depth = Vec::with_capacity(toks.len());
        let mut d = 0usize;
        for t in &toks {
            if t.kind == TokenKind::RParen {
                d = d.saturating_sub(1);
            }
            depth.push(d);
            if t.kind == TokenKind::LParen {
                d += 1;
            }
        }
        Tokens { text, toks, depth }
    }

    fn word(&self, i: usize, w: &str) -> bool {
        self.toks.get(i).is_some_and(|t| t.is_word(self.text, w))
    }

    fn words(&self, i: usize, ws: &[&str]) -> bool {
        ws.iter().enumerate().all(|(k, w)| self.word(i + k, w))
    }

    /// The first index at or after `from` holding word `w` at depth 0.
    fn find_top(&self, from: usize, w: &str) -> Option<usize> {
        (from..self.toks.len()).find(|&i| self.depth[i] == 0 && self.word(i, w))
    }

    /// A comma-separated role list starting at `i` (each entry optionally preceded by `GROUP`);
    /// returns the index after the list.
    fn list(&self, mut i: usize, out: &mut Vec<Named>) -> usize {
        loop {
            if self.word(i, "GROUP") && self.is_name(i + 1) {
                i += 1;
            }
            if !self.is_name(i) {
                return i;
            }
            self.push(i, out);
            i += 1;
            if self.toks.get(i).is_some_and(|t| t.kind == TokenKind::Comma) {
                i += 1;
            } else {
                return i;
            }
        }
    }

    fn is_name(&self, i: usize) -> bool {
        self.toks.get(i).is_some_and(|t| {
            matches!(
                t.kind,
                TokenKind::Word | TokenKind::QuotedIdent | TokenKind::String
            )
        })
    }

    fn push(&self, i: usize, out: &mut Vec<Named>) {
        if let Some(t) = self.toks.get(i)
            && let Some(name) = role_name(self.text, t)
            && !is_pseudo(&name)
            && !name.is_empty()
        {
            out.push(Named { name, span: t.span });
        }
    }

    /// `GRANT … TO list [WITH …] [GRANTED BY role]` starting at `g` (the GRANT token); `role_grant`
    /// when no `ON` precedes `TO` (the granted names are roles too).
    fn grant(&self, g: usize, out: &mut Vec<Named>) {
        let Some(to) = self.find_top(g + 1, "TO") else {
            return;
        };
        let on = (g + 1..to).any(|i| self.depth[i] == 0 && self.word(i, "ON"));
        if !on {
            self.list(g + 1, out);
        }
        let after = self.list(to + 1, out);
        self.granted_by(after, out);
    }

    fn revoke(&self, r: usize, out: &mut Vec<Named>) {
        let Some(from) = self.find_top(r + 1, "FROM") else {
            return;
        };
        let mut start = r + 1;
        for option in ["GRANT", "ADMIN", "INHERIT", "SET"] {
            if self.words(start, &[option, "OPTION", "FOR"]) {
                start += 3;
            }
        }
        let on = (start..from).any(|i| self.depth[i] == 0 && self.word(i, "ON"));
        if !on {
            self.list(start, out);
        }
        let after = self.list(from + 1, out);
        self.granted_by(after, out);
    }

    fn granted_by(&self, from: usize, out: &mut Vec<Named>) {
        if let Some(g) = self.find_top(from, "GRANTED")
            && self.word(g + 1, "BY")
        {
            self.list(g + 2, out);
        }
    }
}

/// Roles statement `stmt` of `text` needs to exist, in order of appearance.
pub fn referenced(text: &str, stmt: Span) -> Vec<Named> {
    let t = Tokens::new(text, stmt);
    let mut out = Vec::new();
    let n = t.toks.len();
    if n == 0 {
        return out;
    }
    if t.word(0, "GRANT") {
        t.grant(0, &mut out);
    } else if t.word(0, "REVOKE") {
        t.revoke(0, &mut out);
    } else if t.words(0, &["ALTER", "DEFAULT", "PRIVILEGES"]) {
        let mut i = 3;
        if t.word(i, "FOR") && (t.word(i + 1, "ROLE") || t.word(i + 1, "USER")) {
            i = t.list(i + 2, &mut out);
        }
        if let Some(g) = t.find_top(i, "GRANT") {
            t.grant(g, &mut out);
        } else if let Some(r) = t.find_top(i, "REVOKE") {
            t.revoke(r, &mut out);
        }
    } else if t.word(0, "SET") {
        let mut i = 1;
        if t.word(i, "SESSION") || t.word(i, "LOCAL") {
            i += 1;
        }
        if t.word(i, "ROLE") || (t.word(i, "AUTHORIZATION") && !t.word(i + 1, "DEFAULT")) {
            t.list(i + 1, &mut out);
        }
    } else if t.words(0, &["CREATE", "SCHEMA"]) {
        if let Some(a) = t.find_top(2, "AUTHORIZATION") {
            t.list(a + 1, &mut out);
        }
    } else if (t.words(0, &["CREATE", "POLICY"]) || t.words(0, &["ALTER", "POLICY"]))
        && let Some(to) = t.find_top(2, "TO")
    {
        // `ALTER POLICY … RENAME TO new` names a policy, not a role.
        if !t.word(to.saturating_sub(1), "RENAME") {
            t.list(to + 1, &mut out);
        }
    } else if (t.word(0, "ALTER") || t.word(0, "COMMENT"))
        && (t.word(1, "ROLE")
            || t.word(1, "GROUP")
            || (t.word(1, "USER") && !t.word(2, "MAPPING"))
            || t.words(1, &["ON", "ROLE"]))
    {
        let i = if t.word(1, "ON") { 3 } else { 2 };
        t.list(i, &mut out);
        if t.word(1, "GROUP") {
            for w in ["ADD", "DROP"] {
                if let Some(a) = t.find_top(i, w)
                    && t.word(a + 1, "USER")
                {
                    t.list(a + 2, &mut out);
                }
            }
        }
    } else if t.word(0, "CREATE")
        && (t.word(1, "ROLE") || t.word(1, "GROUP") || (t.word(1, "USER") && !t.word(2, "MAPPING")))
    {
        let mut i = 3;
        while i < n {
            if t.words(i, &["IN", "ROLE"]) || t.words(i, &["IN", "GROUP"]) {
                i = t.list(i + 2, &mut out);
            } else if t.word(i, "ROLE") || t.word(i, "ADMIN") || t.word(i, "USER") {
                i = t.list(i + 1, &mut out);
            } else {
                i += 1;
            }
        }
    } else if t.words(0, &["REASSIGN", "OWNED", "BY"]) {
        let after = t.list(3, &mut out);
        if t.word(after, "TO") {
            t.list(after + 1, &mut out);
        }
    } else if t.words(0, &["DROP", "OWNED", "BY"]) {
        t.list(3, &mut out);
    }
    // `OWNER TO role` in any ALTER statement.
    for i in 0..n {
        if t.depth[i] == 0 && t.words(i, &["OWNER", "TO"]) {
            t.push(i + 2, &mut out);
        }
    }
    out
}

/// Roles statement `stmt` of `text` creates (`CREATE ROLE|USER|GROUP`, also inside dollar-quoted
/// bodies such as `DO $$ … $$`, and the new name of `ALTER ROLE … RENAME TO`).
pub fn created(text: &str, stmt: Span) -> Vec<String> {
    let mut out = Vec::new();
    // Most statements name no role: not tokenized (a long history's thousands add up).
    if pgrehearse_sql::may_hold_word_pair(
        stmt.slice(text),
        &["create", "alter"],
        &["role", "user", "group"],
    ) {
        scan_created(text, stmt, &mut out, 0);
    }
    out
}

fn scan_created(text: &str, span: Span, out: &mut Vec<String>, nesting: usize) {
    let t = Tokens::new(text, span);
    for i in 0..t.toks.len() {
        let create = t.word(i, "CREATE")
            && (t.word(i + 1, "ROLE")
                || t.word(i + 1, "GROUP")
                || (t.word(i + 1, "USER") && !t.word(i + 2, "MAPPING")));
        if create
            && let Some(tok) = t.toks.get(i + 2)
            && tok.kind != TokenKind::String
            && let Some(name) = role_name(text, tok)
        {
            out.push(name);
        }
        let rename = t.word(i, "ALTER")
            && (t.word(i + 1, "ROLE") || t.word(i + 1, "USER") || t.word(i + 1, "GROUP"))
            && t.words(i + 3, &["RENAME", "TO"]);
        if rename
            && let Some(tok) = t.toks.get(i + 5)
            && let Some(name) = role_name(text, tok)
        {
            out.push(name);
        }
        if let Some(tok) = t.toks.get(i)
            && tok.kind == TokenKind::DollarString
            && nesting < 4
            && let Some(inner) = dollar_body(text, tok.span)
        {
            scan_created(text, inner, out, nesting + 1);
        }
    }
}

/// Every role a replay of `set` may create: `CREATE ROLE|USER|GROUP` (and `ALTER ROLE … RENAME TO`)
/// anywhere in its migrations, preludes, presets, baseline snapshot and declared schemas, and the roles
/// `create-roles` creates. The url engine drops only roles of these names that did not exist before
/// the run, so a role another session creates meanwhile is never touched.
pub fn created_by_set(set: &crate::runner::MigrationSet) -> std::collections::BTreeSet<String> {
    let mut names = created_by_migrations(set);
    let mut scan = |text: &str| names.extend(created(text, Span::new(0, text.len())));
    for s in &set.schemas {
        scan(&s.text);
        for g in s.generated.iter().flat_map(|g| g.iter()) {
            scan(&g.sql);
        }
    }
    names
}

/// The roles the migrations and preludes of `set` may create ([`created_by_set`] without its
/// declared schemas).
pub fn created_by_migrations(
    set: &crate::runner::MigrationSet,
) -> std::collections::BTreeSet<String> {
    use crate::runner::PreludeKind;
    let mut names = std::collections::BTreeSet::new();
    let mut scan = |text: &str| names.extend(created(text, Span::new(0, text.len())));
    for m in &set.migrations {
        scan(&m.text);
    }
    for p in &set.preludes {
        scan(&p.text);
    }
    for p in &set.preludes {
        match &p.kind {
            PreludeKind::Preset(preset) => {
                names.extend(preset.roles().iter().map(|r| r.to_string()))
            }
            PreludeKind::CreateRoles(refs) => names.extend(refs.iter().map(|r| r.name.clone())),
            PreludeKind::File | PreludeKind::Baseline => {}
        }
    }
    names
}

/// The body of a `$tag$ … $tag$` string, without its delimiters.
pub(crate) fn dollar_body(text: &str, span: Span) -> Option<Span> {
    let s = span.slice(text);
    let close = s.get(1..)?.find('$')? + 2;
    if s.len() < 2 * close {
        return None;
    }
    Some(Span::new(span.start + close, span.end - close))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(sql: &str) -> Vec<String> {
        referenced(sql, Span::new(0, sql.len()))
            .into_iter()
            .map(|n| n.name)
            .collect()
    }

    fn made(sql: &str) -> Vec<String> {
        created(sql, Span::new(0, sql.len()))
    }

    #[test]
    fn grants_and_revokes() {
        assert_eq!(
            refs("GRANT SELECT, INSERT ON TABLE public.t TO anon, \"Auth Role\" WITH GRANT OPTION"),
            ["anon", "Auth Role"]
        );
        assert_eq!(
            refs("grant execute on function f(a int, b text) to group readers, public"),
            ["readers"]
        );
        assert_eq!(
            refs("GRANT anon, authenticated TO authenticator"),
            ["anon", "authenticated", "authenticator"]
        );
        assert_eq!(
            refs("GRANT SELECT ON t TO CURRENT_USER GRANTED BY boss"),
            ["boss"]
        );
        assert_eq!(refs("REVOKE ALL ON t FROM app, PUBLIC CASCADE"), ["app"]);
        assert_eq!(
            refs("REVOKE GRANT OPTION FOR SELECT ON t FROM reader"),
            ["reader"]
        );
        assert_eq!(refs("REVOKE admin FROM bob"), ["admin", "bob"]);
        assert_eq!(refs("GRANT pg_read_all_data TO bob"), ["bob"]);
    }

    #[test]
    fn owners_schemas_policies_and_default_privileges() {
        assert_eq!(refs("ALTER TABLE t OWNER TO app_owner"), ["app_owner"]);
        assert_eq!(refs("ALTER FUNCTION f(int) OWNER TO \"Owner\""), ["Owner"]);
        assert_eq!(
            refs("CREATE SCHEMA IF NOT EXISTS s AUTHORIZATION app"),
            ["app"]
        );
        assert_eq!(refs("CREATE SCHEMA AUTHORIZATION app"), ["app"]);
        assert_eq!(
            refs(
                "create policy \"own\" on t for select to authenticated, anon using (auth.uid() = id)"
            ),
            ["authenticated", "anon"]
        );
        assert_eq!(
            refs("ALTER POLICY p ON t RENAME TO q"),
            Vec::<String>::new()
        );
        assert_eq!(
            refs(
                "ALTER DEFAULT PRIVILEGES FOR ROLE migrator, admin IN SCHEMA s GRANT SELECT ON TABLES TO reader"
            ),
            ["migrator", "admin", "reader"]
        );
        assert_eq!(
            refs("ALTER DEFAULT PRIVILEGES IN SCHEMA s REVOKE ALL ON TABLES FROM old"),
            ["old"]
        );
        assert_eq!(refs("SET ROLE 'deployer'"), ["deployer"]);
        assert_eq!(refs("SET LOCAL ROLE NONE"), Vec::<String>::new());
        assert_eq!(refs("SET SESSION AUTHORIZATION admin"), ["admin"]);
        assert_eq!(
            refs("ALTER ROLE authenticated SET statement_timeout = '8s'"),
            ["authenticated"]
        );
        assert_eq!(
            refs("ALTER USER MAPPING FOR bob SERVER s"),
            Vec::<String>::new()
        );
        assert_eq!(refs("CREATE ROLE x IN ROLE a, b ADMIN c"), ["a", "b", "c"]);
        assert_eq!(refs("REASSIGN OWNED BY a TO b"), ["a", "b"]);
        assert_eq!(
            refs("CREATE TABLE t (owner text, \"to\" int)"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn creations_at_top_level_and_in_do_blocks() {
        assert_eq!(made("CREATE ROLE app_admin NOLOGIN"), ["app_admin"]);
        assert_eq!(made("create user \"Bob\" with password 'x'"), ["Bob"]);
        assert_eq!(
            made("CREATE USER MAPPING FOR bob SERVER s"),
            Vec::<String>::new()
        );
        assert_eq!(
            made(
                "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'r') THEN CREATE ROLE r; END IF; END $$"
            ),
            ["r"]
        );
        assert_eq!(made("DO $body$ BEGIN CREATE ROLE x; END $body$"), ["x"]);
        assert_eq!(made("ALTER ROLE a RENAME TO b"), ["b"]);
    }

    #[test]
    fn dollar_bodies_are_cut_out() {
        let text = "$tag$abc$tag$";
        assert_eq!(
            dollar_body(text, Span::new(0, text.len())).map(|s| s.slice(text)),
            Some("abc")
        );
        let text = "$$$$";
        assert_eq!(
            dollar_body(text, Span::new(0, text.len())).map(|s| s.slice(text)),
            Some("")
        );
        assert_eq!(dollar_body("$", Span::new(0, 1)), None);
    }
}
