//! Security rules: statements that reach outside the database (programs, server files, untrusted
//! languages, the server's configuration) or widen who can do what (`SECURITY DEFINER` without a fixed
//! `search_path`, write grants to PUBLIC, superuser roles, passwords in the file).
//!
//! Like the other static rules they read tokens, so comments and string literals never match. Bodies
//! of `DO` blocks and of functions and procedures in `sql` or `plpgsql` that are dollar-quoted
//! (`AS $$ … $$`) are lexed too, for `COPY … PROGRAM`, `COPY` to or from a file and the server file
//! functions: a `DO` block runs during the migration, and a function body runs whenever it is
//! called. Bodies written as ordinary `'…'` strings, and SQL built at run time (`EXECUTE '…'`), are
//! not read.

use super::*;
// Server-side file functions: the same list the replay's `needs-privilege` classification reads.
use crate::environment::privileged::FILE_FUNCTIONS;

/// Untrusted procedural languages (and `c`, `internal`): code in them runs with the server's
/// operating-system privileges.
const UNTRUSTED_LANGUAGES: &[&str] = &[
    "c",
    "internal",
    "plpythonu",
    "plpython2u",
    "plpython3u",
    "plperlu",
    "pltclu",
    "javau",
    "plsh",
    "plr",
];

/// Predefined roles that grant server file access or program execution.
const FILE_ROLES: &[&str] = &["pg_read_server_files", "pg_write_server_files"];
const PROGRAM_ROLE: &str = "pg_execute_server_program";

pub(super) fn security(ctx: &mut Ctx<'_>, i: usize, st: &Stmt<'_>) {
    match st.word(0).as_deref() {
        Some("COPY") => copy(ctx, st, 0, false),
        Some("CREATE") => {
            let at = after_create(st);
            match st.word(at).as_deref() {
                Some("FUNCTION" | "PROCEDURE") => create_routine(ctx, i, st, at),
                Some("PROCEDURAL") if st.is(at + 1, "LANGUAGE") => create_language(ctx, st, at + 1),
                Some("LANGUAGE") => create_language(ctx, st, at),
                Some("EXTENSION") => create_extension(ctx, st, at),
                Some("USER") if st.is(at + 1, "MAPPING") => user_mapping(ctx, st, at + 2),
                Some("ROLE" | "USER" | "GROUP") => role_options(ctx, st, at + 1, true),
                _ => {}
            }
        }
        Some("ALTER") => match st.word(1).as_deref() {
            Some("SYSTEM") => alter_system(ctx, st),
            Some("USER") if st.is(2, "MAPPING") => user_mapping(ctx, st, 3),
            Some("ROLE" | "USER" | "GROUP") => role_options(ctx, st, 2, false),
            Some("FUNCTION" | "PROCEDURE" | "ROUTINE") => alter_routine(ctx, i, st),
            Some("DEFAULT") if st.is(2, "PRIVILEGES") => {
                if let Some(g) = st.find((3, st.len()), &["GRANT"]) {
                    grant(ctx, st, g);
                }
            }
            _ => {}
        },
        Some("GRANT") => grant(ctx, st, 0),
        Some("DO") => do_block(ctx, st),
        _ => {}
    }
    if !matches!(
        st.word(0).as_deref(),
        Some("GRANT" | "REVOKE" | "COMMENT" | "DROP" | "SECURITY")
    ) {
        file_functions(ctx, st, false);
    }
    for body in bodies(st) {
        for (j, _) in body.toks.iter().enumerate() {
            if body.is(j, "COPY") {
                copy(ctx, &body, j, true);
            }
        }
        file_functions(ctx, &body, true);
    }
}

// ---------------------------------------------------------------------------------------------------
// COPY and server files

/// `COPY … TO | FROM PROGRAM '…'` and `COPY … TO | FROM '<file>'`, the `COPY` at `c`.
fn copy(ctx: &mut Ctx<'_>, st: &Stmt<'_>, c: usize, in_body: bool) {
    let mut depth = 0i32;
    let mut dir = None;
    for j in c + 1..st.len() {
        match st.kind(j) {
            Some(TokenKind::LParen) => depth += 1,
            Some(TokenKind::RParen) => depth -= 1,
            _ if depth == 0 && (st.is(j, "FROM") || st.is(j, "TO")) => {
                dir = Some(j);
                break;
            }
            _ => {}
        }
    }
    let Some(j) = dir else { return };
    let direction = st.word(j).unwrap_or_default();
    let place = if in_body { " in a routine body" } else { "" };
    if st.is(j + 1, "PROGRAM") {
        ctx.push(
            "copy-program",
            format!(
                "`COPY … {direction} PROGRAM`{place} runs a shell command on the database server, as the operating-system user of the server: it can read the server's files and environment and reach the network"
            ),
            "load or export data from the application or a deployment script with COPY … FROM STDIN / TO STDOUT (psql `\\copy`), never with a program the database server runs",
            st.span_of(j, j + 3),
            &[("direction", direction.as_str())],
        );
        return;
    }
    if matches!(
        st.kind(j + 1),
        Some(TokenKind::String | TokenKind::DollarString)
    ) {
        ctx.push(
            "server-file-access",
            format!(
                "`COPY … {direction} '<file>'`{place} {} a file on the database server's file system, with the server's operating-system privileges; the file is not in the repository and does not exist on other servers",
                if direction == "FROM" { "reads" } else { "writes" }
            ),
            "use COPY … FROM STDIN / TO STDOUT (psql `\\copy`, or the driver's copy API) so the data travels over the connection; seed data belongs in the migration as INSERT or COPY … FROM STDIN rows",
            st.span_of(j, j + 2),
            &[("direction", direction.as_str())],
        );
    }
}

/// Calls of the server file functions (`pg_read_file(…)`, `pg_catalog.lo_import(…)`); a function of
/// the same name in another schema, or the name in `CREATE FUNCTION name(…)`, is not a call.
fn file_functions(ctx: &mut Ctx<'_>, st: &Stmt<'_>, in_body: bool) {
    for j in 0..st.len() {
        if st.kind(j + 1) != Some(TokenKind::LParen) {
            continue;
        }
        let Some(name) = st.ident(j) else { continue };
        if !FILE_FUNCTIONS.contains(&name.as_str()) {
            continue;
        }
        let mut before = j;
        if j >= 2 && st.kind(j - 1) == Some(TokenKind::Dot) {
            if st.ident(j - 2).as_deref() != Some("pg_catalog") {
                continue;
            }
            before = j - 2;
        }
        if before > 0
            && matches!(
                st.word(before - 1).as_deref(),
                Some("FUNCTION" | "PROCEDURE" | "ROUTINE" | "AGGREGATE")
            )
        {
            continue;
        }
        let place = if in_body { " in a routine body" } else { "" };
        let what = match name.as_str() {
            "pg_read_file" | "pg_read_binary_file" => "reads a file of the database server",
            "pg_ls_dir" => "lists a directory of the database server",
            "pg_stat_file" => "reads the metadata of a file on the database server",
            "lo_import" => "reads a file of the database server into a large object",
            "lo_export" => "writes a large object to a file on the database server",
            _ => "writes, renames or deletes a file on the database server",
        };
        let close = st.close(j + 1).map_or(j + 2, |c| c + 1);
        ctx.push(
            "server-file-access",
            format!(
                "`{name}(…)`{place} {what}, with the server's operating-system privileges (configuration, keys, other databases' files)"
            ),
            "keep files out of the database server: pass the content over the connection as a parameter or with COPY … FROM STDIN (psql `\\copy`, `\\lo_import` on the client side)",
            st.span_of(before, close),
            &[("function", name.as_str())],
        );
    }
}

/// The statements of the dollar-quoted bodies of `DO` blocks and of `sql` / `plpgsql` routines,
/// split at `;`.
fn bodies<'a>(st: &Stmt<'a>) -> Vec<Stmt<'a>> {
    let routine = st.is(0, "CREATE")
        && matches!(
            st.word(after_create(st)).as_deref(),
            Some("FUNCTION" | "PROCEDURE")
        );
    if !routine && !st.is(0, "DO") {
        return Vec::new();
    }
    if let Some((lang, _)) = language(st, (1, st.len()))
        && !matches!(lang.as_str(), "sql" | "plpgsql")
    {
        return Vec::new();
    }
    let mut out = Vec::new();
    for t in &st.toks {
        if t.kind != TokenKind::DollarString {
            continue;
        }
        let s = t.text(st.text);
        let Some(tag_len) = s[1..].find('$').map(|k| k + 2) else {
            continue;
        };
        if s.len() < 2 * tag_len {
            continue;
        }
        let inner = Span::new(t.span.start + tag_len, t.span.end - tag_len);
        let toks = sql::significant_tokens(st.text, inner);
        let mut start = 0;
        for k in 0..=toks.len() {
            if k == toks.len() || toks[k].kind == TokenKind::Semicolon {
                if start < k {
                    let part = toks[start..k].to_vec();
                    let span = Span::new(part[0].span.start, part[part.len() - 1].span.end);
                    out.push(Stmt {
                        text: st.text,
                        span,
                        toks: part,
                    });
                }
                start = k + 1;
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------
// Languages

/// `LANGUAGE name` (or `LANGUAGE 'name'`) at depth 0 in `range`: the language and its token index.
fn language(st: &Stmt<'_>, range: (usize, usize)) -> Option<(String, usize)> {
    let at = st.find(range, &["LANGUAGE"])?;
    let tok = st.toks.get(at + 1)?;
    let lang = st
        .ident(at + 1)
        .or_else(|| sql::string_value(st.text, tok))?
        .to_lowercase();
    Some((lang, at))
}

fn untrusted(ctx: &mut Ctx<'_>, head: &str, lang: &str, span: Span) {
    let kind = match lang {
        "c" => "C code runs inside the server process",
        "internal" => "it calls a C function of the server directly",
        _ => "the language has no sandbox",
    };
    ctx.push(
        "untrusted-language",
        format!(
            "{head}: {kind}, so the code can do anything the server's operating-system user can (read files and keys, run programs, reach the network)"
        ),
        "write the code in a trusted language (plpgsql, sql, or the trusted plperl / pltcl / plv8); code that needs the operating system belongs in the application, or in an extension the server's administrators install",
        span,
        &[("language", lang)],
    );
}

/// The end of a routine's options: `BEGIN ATOMIC` starts an SQL-standard body.
fn options_end(st: &Stmt<'_>, from: usize) -> usize {
    st.find((from, st.len()), &["BEGIN", "ATOMIC"])
        .unwrap_or(st.len())
}

fn create_language(ctx: &mut Ctx<'_>, st: &Stmt<'_>, at: usize) {
    let Some(lang) = st.ident(at + 1) else { return };
    if !UNTRUSTED_LANGUAGES.contains(&lang.as_str()) {
        return;
    }
    let trusted = st.has((1, at), &["TRUSTED"]);
    let head = if trusted {
        format!(
            "creates the untrusted language `{lang}` as TRUSTED, so every role granted USAGE on it can write code in it"
        )
    } else {
        format!("creates the untrusted language `{lang}`")
    };
    untrusted(ctx, &head, &lang, st.span_of(0, at + 2));
}

fn create_extension(ctx: &mut Ctx<'_>, st: &Stmt<'_>, at: usize) {
    let n = st.skip_if(at + 1);
    let Some((name, _)) = st.name(n) else { return };
    if name.schema.is_none()
        && UNTRUSTED_LANGUAGES.contains(&name.name.as_str())
        && !matches!(name.name.as_str(), "c" | "internal")
    {
        untrusted(
            ctx,
            &format!("installs the untrusted language `{}`", name.name),
            &name.name,
            st.span_of(0, n + 1),
        );
    }
}

fn do_block(ctx: &mut Ctx<'_>, st: &Stmt<'_>) {
    if let Some((lang, at)) = language(st, (1, st.len()))
        && UNTRUSTED_LANGUAGES.contains(&lang.as_str())
    {
        untrusted(
            ctx,
            &format!("runs a DO block in `{lang}` during the migration"),
            &lang,
            st.span_of(at, at + 2),
        );
    }
}

// ---------------------------------------------------------------------------------------------------
// Routines: language and SECURITY DEFINER

/// `CREATE [OR REPLACE] FUNCTION | PROCEDURE name(…) …`, the object keyword at `at`.
fn create_routine(ctx: &mut Ctx<'_>, i: usize, st: &Stmt<'_>, at: usize) {
    let Some((name, mut after)) = st.name(at + 1) else {
        return;
    };
    if st.kind(after) == Some(TokenKind::LParen) {
        after = st.close(after).map_or(st.len(), |c| c + 1);
    }
    let end = options_end(st, after);
    let kind = st.word(at).unwrap_or_default().to_lowercase();
    if let Some((lang, l)) = language(st, (after, end))
        && UNTRUSTED_LANGUAGES.contains(&lang.as_str())
    {
        untrusted(
            ctx,
            &format!("creates {kind} `{}` in language `{lang}`", name.display()),
            &lang,
            st.span_of(l, l + 2),
        );
    }
    let Some(d) = st.find((after, end), &["SECURITY", "DEFINER"]) else {
        return;
    };
    if sets_search_path(st, (after, end)).is_some() {
        return;
    }
    if fixed_later(ctx, i, &name) {
        return;
    }
    definer_without_path(ctx, &kind, &name, st.span_of(d, d + 2));
}

/// `ALTER FUNCTION | PROCEDURE | ROUTINE name(…) … SECURITY DEFINER` without `SET search_path` in the
/// same statement, on a routine not known to have a fixed one.
fn alter_routine(ctx: &mut Ctx<'_>, i: usize, st: &Stmt<'_>) {
    let Some((name, mut after)) = st.name(2) else {
        return;
    };
    if st.kind(after) == Some(TokenKind::LParen) {
        after = st.close(after).map_or(st.len(), |c| c + 1);
    }
    let Some(d) = st.find((after, st.len()), &["SECURITY", "DEFINER"]) else {
        return;
    };
    if sets_search_path(st, (after, st.len())).is_some() || ctx.proven.has_fixed_path(&name) {
        return;
    }
    if fixed_later(ctx, i, &name) {
        return;
    }
    let kind = st.word(1).unwrap_or_default().to_lowercase();
    definer_without_path(ctx, &kind, &name, st.span_of(d, d + 2));
}

/// Fixed by an `ALTER FUNCTION … SET search_path` later in this migration.
fn fixed_later(ctx: &Ctx<'_>, i: usize, name: &Name) -> bool {
    ctx.later(i)
        .any(|f| matches!(f, Fact::SearchPath(n, true) if n.same(name)))
}

fn definer_without_path(ctx: &mut Ctx<'_>, kind: &str, name: &Name, span: Span) {
    let routine = name.display();
    ctx.push(
        "security-definer-search-path",
        format!(
            "{kind} `{routine}` is SECURITY DEFINER without a fixed search_path: it runs with its owner's privileges but resolves unqualified names through the caller's search_path, so a caller who can create objects in any schema on that path (or in pg_temp) can make it run their own function or operator with the owner's rights"
        ),
        "add `SET search_path = ''` (and schema-qualify every name in the body) or `SET search_path = pg_catalog, <schema>, pg_temp` to the definition; for an existing routine, `ALTER FUNCTION … SET search_path = …`",
        span,
        &[("routine", routine.as_str())],
    );
}

/// Where `SET search_path …` is in `range` (a routine's options).
pub(super) fn sets_search_path(st: &Stmt<'_>, range: (usize, usize)) -> Option<usize> {
    let (mut from, to) = range;
    while let Some(s) = st.find((from, to), &["SET"]) {
        if st.ident(s + 1).as_deref() == Some("search_path") {
            return Some(s);
        }
        from = s + 1;
    }
    None
}

/// What a `CREATE FUNCTION` / `ALTER FUNCTION` statement does to the routine's search_path: `Some(true)`
/// when it fixes one, `Some(false)` when it leaves the routine without one (`CREATE` without `SET
/// search_path`, which also replaces an earlier definition's settings, or `RESET search_path | ALL`).
pub(super) fn search_path_fact(st: &Stmt<'_>) -> Option<(Name, bool)> {
    let (name_at, create) = match (st.word(0).as_deref(), st.word(1).as_deref()) {
        (Some("CREATE"), _) => {
            let at = after_create(st);
            if !matches!(st.word(at).as_deref(), Some("FUNCTION" | "PROCEDURE")) {
                return None;
            }
            (at + 1, true)
        }
        (Some("ALTER"), Some("FUNCTION" | "PROCEDURE" | "ROUTINE")) => (2, false),
        _ => return None,
    };
    let (name, mut after) = st.name(name_at)?;
    if st.kind(after) == Some(TokenKind::LParen) {
        after = st.close(after).map_or(st.len(), |c| c + 1);
    }
    let end = options_end(st, after);
    if sets_search_path(st, (after, end)).is_some() {
        return Some((name, true));
    }
    if create {
        return Some((name, false));
    }
    let reset = st
        .find((after, end), &["RESET"])
        .is_some_and(|r| st.is(r + 1, "ALL") || st.ident(r + 1).as_deref() == Some("search_path"));
    reset.then_some((name, false))
}

// ---------------------------------------------------------------------------------------------------
// ALTER SYSTEM

fn alter_system(ctx: &mut Ctx<'_>, st: &Stmt<'_>) {
    let setting = st.ident(3).unwrap_or_else(|| "all".into());
    let verb = st.word(2).unwrap_or_default();
    ctx.push(
        "alter-system",
        format!(
            "`ALTER SYSTEM {verb} {setting}` rewrites postgresql.auto.conf: the change applies to every database of the server, outlives the migration, is not rolled back with it, and some settings (archive_command, shared_preload_libraries) run programs or load code on the server"
        ),
        "keep server configuration in the server's provisioning (postgresql.conf, the managed service's parameter group); for a setting the application needs, scope it with ALTER DATABASE … SET or ALTER ROLE … SET",
        st.span_of(0, st.len()),
        &[("setting", setting.as_str())],
    );
}

// ---------------------------------------------------------------------------------------------------
// GRANT

/// `GRANT … ON … TO PUBLIC` of write privileges, and grants of server file or program access; `g`
/// is the index of `GRANT` (`ALTER DEFAULT PRIVILEGES … GRANT` too).
fn grant(ctx: &mut Ctx<'_>, st: &Stmt<'_>, g: usize) {
    let Some(to) = st.find((g + 1, st.len()), &["TO"]) else {
        return;
    };
    let Some(on) = st.find((g + 1, to), &["ON"]) else {
        granted_roles(ctx, st, g, to);
        return;
    };
    let object = (on + 1, to);
    if matches!(
        st.word(on + 1).as_deref(),
        Some("FUNCTION" | "FUNCTIONS" | "ROUTINE" | "ROUTINES" | "PROCEDURE" | "PROCEDURES")
    ) {
        granted_file_functions(ctx, st, g, object);
    }
    let end = ["WITH", "GRANTED"]
        .iter()
        .filter_map(|kw| st.find((to + 1, st.len()), &[kw]))
        .min()
        .unwrap_or(st.len());
    // `PUBLIC`, also quoted: PostgreSQL reads the role name `"public"` as PUBLIC too.
    let Some(public) = (to + 1..end).find(|&j| st.ident(j).as_deref() == Some("public")) else {
        return;
    };
    // What the privileges apply to.
    let first = st.word(on + 1).unwrap_or_default();
    let second = st.word(on + 2).unwrap_or_default();
    let kind = match (first.as_str(), second.as_str()) {
        ("ALL", "TABLES") | ("TABLE" | "TABLES", _) => "table",
        ("ALL", "SEQUENCES") | ("SEQUENCE" | "SEQUENCES", _) => "sequence",
        ("LARGE", "OBJECT") => "large object",
        ("SCHEMA" | "SCHEMAS", _) => "schema",
        ("DATABASE", _) => "database",
        (
            "ALL" | "FUNCTION" | "FUNCTIONS" | "PROCEDURE" | "PROCEDURES" | "ROUTINE" | "ROUTINES"
            | "LANGUAGE" | "TYPE" | "TYPES" | "DOMAIN" | "FOREIGN" | "TABLESPACE" | "PARAMETER",
            _,
        ) => return,
        // `GRANT … ON name`: a table.
        _ => "table",
    };
    let write: &[&str] = match kind {
        "schema" | "database" => &["CREATE", "ALL"],
        _ => &["INSERT", "UPDATE", "DELETE", "TRUNCATE", "ALL"],
    };
    let privileges: Vec<String> = st
        .items(g + 1, on)
        .into_iter()
        .filter_map(|(a, _)| st.word(a))
        .filter(|w| write.contains(&w.as_str()))
        .collect();
    if privileges.is_empty() {
        return;
    }
    let list = privileges.join(", ");
    let target = st.span_of(object.0, object.1).slice(st.text).to_string();
    let effect = match kind {
        "schema" => {
            "every role, including ones created later, can create objects in it, and an object named like one the schema's users call unqualified (a function, an operator, a table) takes over those calls"
        }
        "database" => "every role, including ones created later, can create schemas in it",
        _ => {
            "every role on the server, including ones created later, can change or delete its data"
        }
    };
    let default = if st.is(0, "ALTER") {
        " for objects created from now on"
    } else {
        ""
    };
    ctx.push(
        "grant-write-to-public",
        format!("grants {list} on {target} to PUBLIC{default}: {effect}"),
        "grant write privileges to the roles that need them (GRANT INSERT, UPDATE ON t TO app_writer), or to a group role granted to those roles; PUBLIC should get at most SELECT, USAGE or EXECUTE",
        st.span_of(g, public + 1),
        &[("privileges", list.as_str()), ("object", target.as_str())],
    );
}

/// `GRANT pg_read_server_files | pg_write_server_files | pg_execute_server_program TO …`.
fn granted_roles(ctx: &mut Ctx<'_>, st: &Stmt<'_>, g: usize, to: usize) {
    for j in g + 1..to {
        let Some(role) = st.ident(j) else { continue };
        let (rule, what) = if FILE_ROLES.contains(&role.as_str()) {
            (
                "server-file-access",
                "read or write any file the database server can (COPY to or from files, pg_read_file)",
            )
        } else if role == PROGRAM_ROLE {
            (
                "copy-program",
                "run any shell command on the database server (COPY … PROGRAM)",
            )
        } else {
            continue;
        };
        ctx.push(
            rule,
            format!(
                "grants `{role}`: its members can {what}, with the server's operating-system privileges"
            ),
            "do not give application or migration roles server file or program access; move the data over the connection (COPY … FROM STDIN / TO STDOUT) instead",
            st.span_of(j, j + 1),
            &[("role", role.as_str())],
        );
    }
}

/// `GRANT EXECUTE ON FUNCTION pg_read_file(…) TO …` and the other server file functions.
fn granted_file_functions(ctx: &mut Ctx<'_>, st: &Stmt<'_>, g: usize, (from, to): (usize, usize)) {
    for j in from..to {
        let Some(name) = st.ident(j) else { continue };
        if !FILE_FUNCTIONS.contains(&name.as_str()) || st.kind(j + 1) == Some(TokenKind::Dot) {
            continue;
        }
        if j >= 2
            && st.kind(j - 1) == Some(TokenKind::Dot)
            && st.ident(j - 2).as_deref() != Some("pg_catalog")
        {
            continue;
        }
        ctx.push(
            "server-file-access",
            format!(
                "grants EXECUTE on `{name}`: the grantees can reach the database server's files with its operating-system privileges"
            ),
            "do not grant the server file functions; pass file contents over the connection instead",
            st.span_of(g, j + 1),
            &[("function", name.as_str())],
        );
    }
}

// ---------------------------------------------------------------------------------------------------
// Roles

/// The options of `CREATE ROLE | USER | GROUP name …` / `ALTER ROLE | USER | GROUP name …`, the name
/// at `at`.
fn role_options(ctx: &mut Ctx<'_>, st: &Stmt<'_>, at: usize, create: bool) {
    let Some(role) = st.ident(at) else { return };
    let mut i = at + 1;
    if !create
        && matches!(
            st.word(i).as_deref(),
            Some("SET" | "RESET" | "RENAME" | "IN")
        )
    {
        return;
    }
    if st.is(i, "WITH") {
        i += 1;
    }
    let verb = if create { "creates" } else { "alters" };
    for j in i..st.len() {
        // A role named in `IN ROLE a, b` / `ROLE a` / `ADMIN a` is not an option.
        let member = j > 0
            && (st.kind(j - 1) == Some(TokenKind::Comma)
                || matches!(
                    st.word(j - 1).as_deref(),
                    Some("ROLE" | "ADMIN" | "USER" | "GROUP")
                ));
        if st.is(j, "SUPERUSER") && !member {
            ctx.push(
                "superuser-role",
                format!(
                    "{verb} role `{role}` with SUPERUSER: it bypasses every permission check and row-level security policy and can run programs and read files on the server; whoever gets its credentials owns the server"
                ),
                "give the role only what it needs: the object privileges (GRANT), CREATEDB / CREATEROLE where needed, or membership in predefined roles such as pg_read_all_data; keep superuser to the administrators' own roles, created outside migrations",
                st.span_of(j, j + 1),
                &[("role", role.as_str())],
            );
        }
        if st.is(j, "PASSWORD") && !member {
            let Some(tok) = st.toks.get(j + 1) else {
                continue;
            };
            let value = match tok.kind {
                TokenKind::String => sql::string_value(st.text, tok),
                TokenKind::DollarString => {
                    let s = tok.text(st.text);
                    s[1..]
                        .find('$')
                        .map(|k| k + 2)
                        .filter(|&n| s.len() >= 2 * n)
                        .map(|n| s[n..s.len() - n].to_string())
                }
                _ => None,
            };
            let Some(value) = value else { continue };
            if value.is_empty() || is_password_hash(&value) {
                continue;
            }
            ctx.push(
                "plain-text-password",
                format!(
                    "{verb} role `{role}` with a plain-text password: it is in the repository's history for everyone who can read it, in the server log if statements are logged, and the same on every environment"
                ),
                "create the role without a password (or NOLOGIN) in the migration and set the password per environment from a secret store (psql `\\password`, the provisioning tool); if it must be in the file, write a SCRAM-SHA-256 verifier, never the password",
                st.span_of(j, j + 2),
                &[("role", role.as_str())],
            );
        }
    }
}

/// `CREATE | ALTER USER MAPPING [IF NOT EXISTS] FOR user SERVER s OPTIONS (… password '…')`: the
/// foreign server's password, which is never hashed.
fn user_mapping(ctx: &mut Ctx<'_>, st: &Stmt<'_>, at: usize) {
    let at = st.skip_if(at);
    let user = if st.is(at, "FOR") {
        st.ident(at + 1).unwrap_or_default()
    } else {
        String::new()
    };
    let Some(options) = st.find((at, st.len()), &["OPTIONS"]) else {
        return;
    };
    for j in options + 1..st.len() {
        if st.ident(j).as_deref() != Some("password") {
            continue;
        }
        let Some(value) = st
            .toks
            .get(j + 1)
            .and_then(|t| sql::string_value(st.text, t))
        else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        ctx.push(
            "plain-text-password",
            format!(
                "user mapping for `{user}` holds a plain-text password of the foreign server: it is in the repository's history for everyone who can read it, and the same on every environment"
            ),
            "create the user mapping without the password in the migration and set it per environment from a secret store (ALTER USER MAPPING … OPTIONS (SET password …) run by the provisioning tool)",
            st.span_of(j, j + 2),
            &[("role", user.as_str())],
        );
    }
}

/// A password PostgreSQL stores as given: a SCRAM-SHA-256 verifier or an MD5 hash (`md5` and 32 hex
/// digits).
pub(super) fn is_password_hash(value: &str) -> bool {
    if value.starts_with("SCRAM-SHA-256$") {
        return true;
    }
    value
        .strip_prefix("md5")
        .is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}
