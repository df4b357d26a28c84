//! Rules on `TRUNCATE`, `REINDEX`, `VACUUM` and `CLUSTER`.

use super::*;

pub(super) fn truncate(ctx: &mut Ctx<'_>, st: &Stmt<'_>) {
    let (names, cascade) = truncated(st);
    if names.is_empty() || (!cascade && names.iter().all(|n| ctx.is_created(Ns::Relation, n))) {
        return;
    }
    let list = names
        .iter()
        .map(|n| format!("`{}`", n.display()))
        .collect::<Vec<_>>()
        .join(", ");
    let tail = if cascade {
        "; CASCADE also empties every table with a foreign key to it, and the tables referencing those"
    } else {
        ""
    };
    ctx.push(
        "truncate-table",
        format!("empties {list} from a migration: every row is deleted{tail}"),
        "delete data on purpose in an operational script (or with DELETE … WHERE in batches), not in a schema migration; never TRUNCATE … CASCADE",
        st.span,
        &[("tables", list.as_str())],
    );
}

pub(super) fn reindex(ctx: &mut Ctx<'_>, st: &Stmt<'_>) {
    let mut at = 1;
    let mut concurrently = false;
    if st.kind(at) == Some(TokenKind::LParen) {
        let close = st.close(at).unwrap_or(st.len());
        concurrently = bool_option(st, at, close, "CONCURRENTLY").unwrap_or(false);
        at = close + 1;
    }
    let Some(kind) = st.word(at) else { return };
    if !matches!(kind.as_str(), "INDEX" | "TABLE" | "SCHEMA" | "DATABASE") {
        // REINDEX SYSTEM cannot run concurrently.
        return;
    }
    at += 1;
    if st.is(at, "CONCURRENTLY") {
        concurrently = true;
        at += 1;
    }
    if concurrently {
        return;
    }
    let name = st.name(at).map(|(n, _)| n);
    if let Some(n) = &name
        && matches!(kind.as_str(), "INDEX" | "TABLE")
        && ctx.is_created(Ns::Relation, n)
    {
        return;
    }
    let target = name
        .map(|n| format!("{} `{}`", kind.to_lowercase(), n.display()))
        .unwrap_or_else(|| format!("the current {}", kind.to_lowercase()));
    ctx.push(
        "reindex-without-concurrently",
        format!(
            "rebuilds the indexes of {target} without CONCURRENTLY: writes to each table wait while its indexes are rebuilt, and reads that use an index being rebuilt wait too"
        ),
        "use REINDEX … CONCURRENTLY (PostgreSQL 12+), in a migration that runs outside a transaction",
        st.span,
        &[("target", target.as_str())],
    );
}

pub(super) fn vacuum(ctx: &mut Ctx<'_>, st: &Stmt<'_>) {
    let mut at = 1;
    let mut full = false;
    if st.kind(at) == Some(TokenKind::LParen) {
        let close = st.close(at).unwrap_or(st.len());
        full = bool_option(st, at, close, "FULL").unwrap_or(false);
        at = close + 1;
    } else {
        while let Some(w) = st.word(at) {
            match w.as_str() {
                "FULL" => full = true,
                "FREEZE" | "VERBOSE" | "ANALYZE" | "ANALYSE" => {}
                _ => break,
            }
            at += 1;
        }
    }
    if !full {
        return;
    }
    rewrite_maintenance(ctx, st, "VACUUM FULL", at);
}

pub(super) fn cluster(ctx: &mut Ctx<'_>, st: &Stmt<'_>) {
    let mut at = 1;
    if st.kind(at) == Some(TokenKind::LParen) {
        at = st.close(at).map_or(st.len(), |c| c + 1);
    }
    if st.is(at, "VERBOSE") {
        at += 1;
    }
    rewrite_maintenance(ctx, st, "CLUSTER", at);
}

pub(super) fn rewrite_maintenance(ctx: &mut Ctx<'_>, st: &Stmt<'_>, what: &str, at: usize) {
    let names: Vec<Name> = st.name_list(at).into_iter().map(|(n, _)| n).collect();
    if !names.is_empty() && names.iter().all(|n| ctx.is_created(Ns::Relation, n)) {
        return;
    }
    let target = if names.is_empty() && what == "CLUSTER" {
        "every table clustered before".to_string()
    } else if names.is_empty() {
        "every table of the database".to_string()
    } else {
        names
            .iter()
            .map(|n| format!("`{}`", n.display()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    ctx.push(
        "vacuum-full-or-cluster",
        format!(
            "`{what}` rewrites {target} under an ACCESS EXCLUSIVE lock: reads and writes wait for the whole rewrite"
        ),
        "reclaim space or re-order rows online with pg_repack or pg_squeeze; a plain VACUUM takes no exclusive lock",
        st.span,
        &[("command", what), ("target", target.as_str())],
    );
}

/// The value of boolean option `name` in the parenthesised option list opening at `open` and closing
/// at `close` (`VACUUM (FULL, ANALYZE off)`, `REINDEX (CONCURRENTLY 0)`): `Some(true)` for the bare
/// option, the parsed value otherwise (every PostgreSQL spelling, quoted or not), `None` when the
/// option is absent or its value is not a boolean.
pub(super) fn bool_option(st: &Stmt<'_>, open: usize, close: usize, name: &str) -> Option<bool> {
    st.items(open + 1, close)
        .into_iter()
        .rfind(|&(a, _)| st.is(a, name))
        .and_then(|(a, b)| {
            if a + 1 >= b {
                return Some(true);
            }
            let value = st.toks.get(a + 1)?.text(st.text);
            parse_bool(value.trim_matches('\''))
        })
}

/// PostgreSQL's reading of a boolean (`parse_bool`): `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`
/// and their unique prefixes (`t`, `f`, `y`, `n`, `of`), in any case.
pub(super) fn parse_bool(value: &str) -> Option<bool> {
    let v = value.trim().to_ascii_lowercase();
    let prefix_of = |word: &str, min: usize| v.len() >= min && word.starts_with(v.as_str());
    if v == "1" || prefix_of("true", 1) || prefix_of("yes", 1) || v == "on" {
        Some(true)
    } else if v == "0" || prefix_of("false", 1) || prefix_of("no", 1) || prefix_of("off", 2) {
        Some(false)
    } else {
        None
    }
}
