//! Syntax and functions that exist only from some PostgreSQL major version on, found with the lexer
//! in a statement the server rejected.
//!
//! A construct is blamed only when all of these hold: the statement failed with an error such a
//! construct causes on an older server (syntax error, undefined function, unknown option or role),
//! the construct is in the statement (function bodies included), the server is older than the
//! version that introduced it, and the error points at it: the error position lies inside the
//! construct, or (errors without a position) the message names it.

use pgrehearse_sql::{self as sql, Span, Token, TokenKind};

/// How a construct is recognised.
#[derive(Clone, Copy, Debug)]
enum Pattern {
    /// A call `name(…)`, unqualified or qualified with `pg_catalog`.
    Call(&'static str),
    /// Consecutive words anywhere in the statement.
    Words(&'static [&'static str]),
    /// A statement starting with the word.
    Starts(&'static str),
    /// `MERGE … RETURNING`.
    MergeReturning,
    /// `IS [NOT] JSON`.
    IsJson,
    /// `GENERATED ALWAYS AS (…) VIRTUAL`.
    Virtual,
    /// `NOT NULL … NOT VALID` in one constraint.
    NotNullNotValid,
    /// `COPY … (ON_ERROR …)`.
    CopyOption(&'static str),
    /// `GRANT|REVOKE <privilege> ON …`.
    Privilege(&'static str),
    /// A predefined role granted or used by name (`pg_maintain`).
    PredefinedRole(&'static str),
}

/// One versioned construct.
#[derive(Clone, Copy, Debug)]
pub struct Construct {
    /// Stable id (evidence).
    pub id: &'static str,
    /// How messages name it (SQL, shown in backticks).
    pub label: &'static str,
    /// The major version that introduced it.
    pub version: u32,
    pattern: Pattern,
}

const fn call(id: &'static str, label: &'static str, version: u32) -> Construct {
    Construct {
        id,
        label,
        version,
        pattern: Pattern::Call(id),
    }
}

/// A subquery in `FROM` without an alias: PostgreSQL 16 accepts it; older servers answer "subquery in
/// FROM must have an alias". Told by that message, not by a text pattern.
pub static SUBQUERY_WITHOUT_ALIAS: Construct = Construct {
    id: "subquery-without-alias",
    label: "a subquery in FROM without an alias",
    version: 16,
    pattern: Pattern::Starts(""),
};

/// Every construct pgrehearse knows, oldest first.
pub const CONSTRUCTS: &[Construct] = &[
    call("gen_random_uuid", "gen_random_uuid()", 13),
    call("trim_scale", "trim_scale()", 13),
    call("min_scale", "min_scale()", 13),
    Construct {
        id: "drop-expression",
        label: "ALTER COLUMN … DROP EXPRESSION",
        version: 13,
        pattern: Pattern::Words(&["DROP", "EXPRESSION"]),
    },
    Construct {
        id: "with-ties",
        label: "FETCH FIRST … WITH TIES",
        version: 13,
        pattern: Pattern::Words(&["WITH", "TIES"]),
    },
    call("string_to_table", "string_to_table()", 14),
    call("date_bin", "date_bin()", 14),
    call("trim_array", "trim_array()", 14),
    call("bit_count", "bit_count()", 14),
    call("unistr", "unistr()", 14),
    call("range_agg", "range_agg()", 14),
    Construct {
        id: "create-or-replace-trigger",
        label: "CREATE OR REPLACE TRIGGER",
        version: 14,
        pattern: Pattern::Words(&["OR", "REPLACE", "TRIGGER"]),
    },
    Construct {
        id: "begin-atomic",
        label: "BEGIN ATOMIC",
        version: 14,
        pattern: Pattern::Words(&["BEGIN", "ATOMIC"]),
    },
    Construct {
        id: "pg_read_all_data",
        label: "pg_read_all_data",
        version: 14,
        pattern: Pattern::PredefinedRole("pg_read_all_data"),
    },
    Construct {
        id: "pg_write_all_data",
        label: "pg_write_all_data",
        version: 14,
        pattern: Pattern::PredefinedRole("pg_write_all_data"),
    },
    Construct {
        id: "pg_database_owner",
        label: "pg_database_owner",
        version: 14,
        pattern: Pattern::PredefinedRole("pg_database_owner"),
    },
    Construct {
        id: "nulls-not-distinct",
        label: "NULLS NOT DISTINCT",
        version: 15,
        pattern: Pattern::Words(&["NULLS", "NOT", "DISTINCT"]),
    },
    Construct {
        id: "merge",
        label: "MERGE",
        version: 15,
        pattern: Pattern::Starts("MERGE"),
    },
    Construct {
        id: "security-invoker",
        label: "WITH (security_invoker)",
        version: 15,
        pattern: Pattern::Words(&["SECURITY_INVOKER"]),
    },
    Construct {
        id: "set-access-method",
        label: "ALTER TABLE … SET ACCESS METHOD",
        version: 15,
        pattern: Pattern::Words(&["SET", "ACCESS", "METHOD"]),
    },
    call("regexp_count", "regexp_count()", 15),
    call("regexp_instr", "regexp_instr()", 15),
    call("regexp_like", "regexp_like()", 15),
    call("regexp_substr", "regexp_substr()", 15),
    Construct {
        id: "pg_checkpoint",
        label: "pg_checkpoint",
        version: 15,
        pattern: Pattern::PredefinedRole("pg_checkpoint"),
    },
    call("any_value", "any_value()", 16),
    call("array_sample", "array_sample()", 16),
    call("array_shuffle", "array_shuffle()", 16),
    call("random_normal", "random_normal()", 16),
    call("date_add", "date_add()", 16),
    call("date_subtract", "date_subtract()", 16),
    call("pg_input_is_valid", "pg_input_is_valid()", 16),
    call("pg_input_error_info", "pg_input_error_info()", 16),
    call("erf", "erf()", 16),
    call("erfc", "erfc()", 16),
    call("json_object", "JSON_OBJECT()", 16),
    call("json_array", "JSON_ARRAY()", 16),
    call("json_arrayagg", "JSON_ARRAYAGG()", 16),
    call("json_objectagg", "JSON_OBJECTAGG()", 16),
    Construct {
        id: "is-json",
        label: "IS JSON",
        version: 16,
        pattern: Pattern::IsJson,
    },
    Construct {
        id: "pg_create_subscription",
        label: "pg_create_subscription",
        version: 16,
        pattern: Pattern::PredefinedRole("pg_create_subscription"),
    },
    Construct {
        id: "pg_use_reserved_connections",
        label: "pg_use_reserved_connections",
        version: 16,
        pattern: Pattern::PredefinedRole("pg_use_reserved_connections"),
    },
    Construct {
        id: "set-expression",
        label: "ALTER COLUMN … SET EXPRESSION",
        version: 17,
        pattern: Pattern::Words(&["SET", "EXPRESSION"]),
    },
    Construct {
        id: "merge-returning",
        label: "MERGE … RETURNING",
        version: 17,
        pattern: Pattern::MergeReturning,
    },
    Construct {
        id: "merge-not-matched-by-source",
        label: "MERGE … WHEN NOT MATCHED BY SOURCE",
        version: 17,
        pattern: Pattern::Words(&["NOT", "MATCHED", "BY", "SOURCE"]),
    },
    Construct {
        id: "copy-on-error",
        label: "COPY … ON_ERROR",
        version: 17,
        pattern: Pattern::CopyOption("on_error"),
    },
    Construct {
        id: "copy-log-verbosity",
        label: "COPY … LOG_VERBOSITY",
        version: 17,
        pattern: Pattern::CopyOption("log_verbosity"),
    },
    Construct {
        id: "maintain-privilege",
        label: "GRANT MAINTAIN",
        version: 17,
        pattern: Pattern::Privilege("maintain"),
    },
    Construct {
        id: "pg_maintain",
        label: "pg_maintain",
        version: 17,
        pattern: Pattern::PredefinedRole("pg_maintain"),
    },
    call("json_table", "JSON_TABLE()", 17),
    call("json_exists", "JSON_EXISTS()", 17),
    call("json_query", "JSON_QUERY()", 17),
    call("json_value", "JSON_VALUE()", 17),
    call("json_scalar", "JSON_SCALAR()", 17),
    call("json_serialize", "JSON_SERIALIZE()", 17),
    call("json", "JSON()", 17),
    call("to_bin", "to_bin()", 17),
    call("to_oct", "to_oct()", 17),
    call("random", "random(min, max)", 17),
    call("uuidv7", "uuidv7()", 18),
    call("uuidv4", "uuidv4()", 18),
    call("uuid_extract_version", "uuid_extract_version()", 17),
    call("uuid_extract_timestamp", "uuid_extract_timestamp()", 17),
    call("pg_get_acl", "pg_get_acl()", 18),
    call("casefold", "casefold()", 18),
    call("array_sort", "array_sort()", 18),
    call("array_reverse", "array_reverse()", 18),
    call("crc32", "crc32()", 18),
    call("crc32c", "crc32c()", 18),
    Construct {
        id: "virtual-generated-column",
        label: "GENERATED ALWAYS AS (…) VIRTUAL",
        version: 18,
        pattern: Pattern::Virtual,
    },
    Construct {
        id: "not-null-not-valid",
        label: "NOT NULL … NOT VALID",
        version: 18,
        pattern: Pattern::NotNullNotValid,
    },
    Construct {
        id: "without-overlaps",
        label: "WITHOUT OVERLAPS",
        version: 18,
        pattern: Pattern::Words(&["WITHOUT", "OVERLAPS"]),
    },
    Construct {
        id: "not-enforced",
        label: "NOT ENFORCED",
        version: 18,
        pattern: Pattern::Words(&["NOT", "ENFORCED"]),
    },
    Construct {
        id: "pg_signal_autovacuum_worker",
        label: "pg_signal_autovacuum_worker",
        version: 18,
        pattern: Pattern::PredefinedRole("pg_signal_autovacuum_worker"),
    },
];

/// A construct found in a statement.
#[derive(Clone, Copy, Debug)]
pub struct Hit {
    pub construct: &'static Construct,
    pub span: Span,
}

/// The error the server answered, as the matcher needs it.
pub struct ErrorFacts<'a> {
    pub sqlstate: &'a str,
    pub message: &'a str,
    /// Byte offset (in the file) of the error position, when the server gave one.
    pub position: Option<usize>,
}

/// SQLSTATEs an older server answers to newer syntax or functions.
const SQLSTATES: &[&str] = &["42601", "42883", "42704", "22023", "0A000"];

/// The PostgreSQL major version of a `server_version` string (`15.8 (Debian …)`, `9.6.24`).
pub fn major(version: &str) -> Option<u32> {
    let digits: String = version
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// The construct that explains why `stmt` failed on a server of major version `server`, if any.
pub fn explain(text: &str, stmt: Span, server: u32, error: &ErrorFacts<'_>) -> Option<Hit> {
    if !SQLSTATES.contains(&error.sqlstate) {
        return None;
    }
    let message = error.message.to_ascii_lowercase();
    if error.sqlstate == "42601"
        && message == "subquery in from must have an alias"
        && server < SUBQUERY_WITHOUT_ALIAS.version
    {
        // The error points at the subquery's opening parenthesis.
        let p = error.position?;
        let toks = sql::significant_tokens(text, stmt);
        let i = toks.iter().position(|t| t.span.start == p)?;
        let end = closing(&toks, i).unwrap_or(toks[i].span.end);
        return Some(Hit {
            construct: &SUBQUERY_WITHOUT_ALIAS,
            span: Span::new(p, end),
        });
    }
    let hits: Vec<Hit> = find(text, stmt)
        .into_iter()
        .filter(|h| h.construct.version > server)
        .collect();
    let at_position = |h: &&Hit| {
        error
            .position
            .is_some_and(|p| h.span.start <= p && p < h.span.end.max(h.span.start + 1))
    };
    let named = |h: &&Hit| match h.construct.pattern {
        Pattern::Call(name) => {
            error.sqlstate == "42883"
                && (message.starts_with(&format!("function {name}("))
                    || message.starts_with(&format!("function pg_catalog.{name}(")))
        }
        Pattern::PredefinedRole(name) => {
            matches!(error.sqlstate, "42704" | "22023")
                && message == format!("role \"{name}\" does not exist")
        }
        Pattern::CopyOption(option) => message.contains(&format!("\"{option}\"")),
        Pattern::Privilege(privilege) => message.contains(&format!("\"{privilege}\"")),
        Pattern::Words(words) if words == ["SECURITY_INVOKER"] => {
            message.contains("security_invoker")
        }
        _ => false,
    };
    hits.iter()
        .find(|h| named(h))
        .or_else(|| {
            hits.iter()
                .filter(|h| !matches!(h.construct.pattern, Pattern::PredefinedRole(_)))
                .find(at_position)
        })
        .copied()
}

/// Every construct of [`CONSTRUCTS`] in statement `stmt` of `text` (and in the dollar-quoted bodies
/// it contains), in order.
pub fn find(text: &str, stmt: Span) -> Vec<Hit> {
    let mut out = Vec::new();
    scan(text, stmt, true, &mut out, 0);
    out
}

fn scan(text: &str, span: Span, statement: bool, out: &mut Vec<Hit>, nesting: usize) {
    let toks = sql::significant_tokens(text, span);
    let word = |i: usize, w: &str| toks.get(i).is_some_and(|t| t.is_word(text, w));
    let kind = |i: usize| toks.get(i).map(|t| t.kind);
    for construct in CONSTRUCTS {
        match construct.pattern {
            Pattern::Call(name) => {
                for i in 0..toks.len() {
                    if !word(i, name) || kind(i + 1) != Some(TokenKind::LParen) {
                        continue;
                    }
                    // `x.name(` is another schema's function, unless that schema is pg_catalog;
                    // `name(` right after FUNCTION or a type keyword is a definition or a type.
                    if i > 0
                        && kind(i - 1) == Some(TokenKind::Dot)
                        && !(i >= 2 && word(i - 2, "pg_catalog"))
                    {
                        continue;
                    }
                    if i > 0 && (word(i - 1, "FUNCTION") || word(i - 1, "PROCEDURE")) {
                        continue;
                    }
                    let end = closing(&toks, i + 1).unwrap_or(toks[i + 1].span.end);
                    out.push(Hit {
                        construct,
                        span: Span::new(toks[i].span.start, end),
                    });
                }
            }
            Pattern::Words(words) => {
                for i in 0..toks.len() {
                    if words.iter().enumerate().all(|(k, w)| word(i + k, w)) {
                        let last = toks[i + words.len() - 1];
                        out.push(Hit {
                            construct,
                            span: Span::new(toks[i].span.start, last.span.end),
                        });
                    }
                }
            }
            Pattern::Starts(w) => {
                if statement && word(0, w) {
                    out.push(Hit {
                        construct,
                        span: toks[0].span,
                    });
                }
            }
            Pattern::MergeReturning => {
                if statement && word(0, "MERGE") {
                    let mut depth = 0usize;
                    for (i, t) in toks.iter().enumerate() {
                        match t.kind {
                            TokenKind::LParen => depth += 1,
                            TokenKind::RParen => depth = depth.saturating_sub(1),
                            _ if depth == 0 && word(i, "RETURNING") => out.push(Hit {
                                construct,
                                span: t.span,
                            }),
                            _ => {}
                        }
                    }
                }
            }
            Pattern::IsJson => {
                for i in 0..toks.len() {
                    if !word(i, "IS") {
                        continue;
                    }
                    let j = if word(i + 1, "NOT") { i + 2 } else { i + 1 };
                    if word(j, "JSON") {
                        out.push(Hit {
                            construct,
                            span: Span::new(toks[i].span.start, toks[j].span.end),
                        });
                    }
                }
            }
            Pattern::Virtual => {
                for pair in toks.windows(2) {
                    if pair[1].is_word(text, "VIRTUAL") && pair[0].kind == TokenKind::RParen {
                        out.push(Hit {
                            construct,
                            span: pair[1].span,
                        });
                    }
                }
            }
            Pattern::NotNullNotValid => {
                for i in 0..toks.len() {
                    if !(word(i, "NOT") && word(i + 1, "NULL")) {
                        continue;
                    }
                    // The same constraint: up to the next comma or closing parenthesis.
                    let mut j = i + 2;
                    while j + 1 < toks.len()
                        && !matches!(kind(j), Some(TokenKind::Comma | TokenKind::RParen))
                    {
                        if word(j, "NOT") && word(j + 1, "VALID") {
                            // A constraint name before NOT NULL belongs to it.
                            let start = if i >= 2 && word(i - 2, "CONSTRAINT") {
                                i - 2
                            } else {
                                i
                            };
                            out.push(Hit {
                                construct,
                                span: Span::new(toks[start].span.start, toks[j + 1].span.end),
                            });
                            break;
                        }
                        j += 1;
                    }
                }
            }
            Pattern::CopyOption(option) => {
                if statement && word(0, "COPY") {
                    for t in toks.iter().filter(|t| t.is_word(text, option)) {
                        out.push(Hit {
                            construct,
                            span: t.span,
                        });
                    }
                }
            }
            Pattern::Privilege(privilege) => {
                if statement && (word(0, "GRANT") || word(0, "REVOKE")) {
                    for (i, t) in toks.iter().enumerate() {
                        if word(i, "ON") {
                            break;
                        }
                        if t.is_word(text, privilege) {
                            out.push(Hit {
                                construct,
                                span: t.span,
                            });
                        }
                    }
                }
            }
            Pattern::PredefinedRole(name) => {
                for t in toks.iter().filter(|t| t.is_word(text, name)) {
                    out.push(Hit {
                        construct,
                        span: t.span,
                    });
                }
            }
        }
    }
    if nesting < 4 {
        for t in toks.iter().filter(|t| t.kind == TokenKind::DollarString) {
            if let Some(body) = super::roles::dollar_body(text, t.span) {
                scan(text, body, false, out, nesting + 1);
            }
        }
    }
    out.sort_by_key(|h| h.span.start);
}

/// The end (byte offset) of the parenthesis opened at token `open`.
fn closing(toks: &[Token], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for t in toks.get(open..)? {
        match t.kind {
            TokenKind::LParen => depth += 1,
            TokenKind::RParen => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(t.span.end);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explain_on(
        sql: &str,
        server: u32,
        sqlstate: &str,
        message: &str,
        at: Option<&str>,
    ) -> Option<&'static str> {
        let position = at.and_then(|needle| sql.find(needle));
        explain(
            sql,
            Span::new(0, sql.len()),
            server,
            &ErrorFacts {
                sqlstate,
                message,
                position,
            },
        )
        .map(|h| h.construct.id)
    }

    #[test]
    fn functions_are_blamed_by_the_message() {
        let sql = "SELECT any_value(a) FROM t";
        assert_eq!(
            explain_on(
                sql,
                15,
                "42883",
                "function any_value(integer) does not exist",
                Some("any_value")
            ),
            Some("any_value")
        );
        // A newer server, or another function missing, blames nothing.
        assert_eq!(
            explain_on(
                sql,
                16,
                "42883",
                "function any_value(integer) does not exist",
                None
            ),
            None
        );
        assert_eq!(
            explain_on(
                sql,
                15,
                "42883",
                "function other(integer) does not exist",
                None
            ),
            None
        );
        // Another schema's function of the same name is not the built-in one.
        let sql = "SELECT extensions.uuidv7()";
        assert_eq!(
            explain_on(
                sql,
                15,
                "42883",
                "function extensions.uuidv7() does not exist",
                None
            ),
            None
        );
        // Inside a SQL function body.
        let sql = "CREATE FUNCTION f() RETURNS uuid LANGUAGE sql AS $$ SELECT uuidv7() $$";
        assert_eq!(
            explain_on(
                sql,
                17,
                "42883",
                "function uuidv7() does not exist",
                Some("uuidv7")
            ),
            Some("uuidv7")
        );
    }

    #[test]
    fn syntax_is_blamed_by_the_error_position() {
        let sql = "ALTER TABLE t ALTER COLUMN b SET EXPRESSION AS (a * 3)";
        assert_eq!(
            explain_on(
                sql,
                15,
                "42601",
                "syntax error at or near \"EXPRESSION\"",
                Some("EXPRESSION")
            ),
            Some("set-expression")
        );
        // An error elsewhere in the statement is something else.
        assert_eq!(
            explain_on(
                sql,
                15,
                "42601",
                "syntax error at or near \"ALTER\"",
                Some("ALTER")
            ),
            None
        );
        let sql = "CREATE TABLE v (a int, b int GENERATED ALWAYS AS (a * 2) VIRTUAL)";
        assert_eq!(
            explain_on(
                sql,
                17,
                "42601",
                "syntax error at or near \"VIRTUAL\"",
                Some("VIRTUAL")
            ),
            Some("virtual-generated-column")
        );
        let sql = "CREATE TABLE w (a int, CONSTRAINT c NOT NULL a NOT VALID)";
        assert_eq!(
            explain_on(
                sql,
                15,
                "42601",
                "syntax error at or near \"not\"",
                Some("NOT NULL")
            ),
            Some("not-null-not-valid")
        );
        let sql = "SELECT json_object('a': 1)";
        assert_eq!(
            explain_on(sql, 15, "42601", "syntax error at or near \":\"", Some(":")),
            Some("json_object")
        );
        let sql = "MERGE INTO t USING s ON true WHEN MATCHED THEN DO NOTHING RETURNING *";
        assert_eq!(
            explain_on(
                sql,
                16,
                "42601",
                "syntax error at or near \"RETURNING\"",
                Some("RETURNING")
            ),
            Some("merge-returning")
        );
    }

    #[test]
    fn errors_without_a_position_are_blamed_by_name() {
        let sql = "GRANT MAINTAIN ON t TO app";
        assert_eq!(
            explain_on(
                sql,
                16,
                "42601",
                "unrecognized privilege type \"maintain\"",
                None
            ),
            Some("maintain-privilege")
        );
        let sql = "COPY t FROM STDIN WITH (ON_ERROR ignore)";
        assert_eq!(
            explain_on(
                sql,
                16,
                "42601",
                "option \"on_error\" not recognized",
                Some("ON_ERROR")
            ),
            Some("copy-on-error")
        );
        let sql = "GRANT pg_maintain TO app";
        assert_eq!(
            explain_on(
                sql,
                16,
                "42704",
                "role \"pg_maintain\" does not exist",
                None
            ),
            Some("pg_maintain")
        );
    }

    #[test]
    fn server_versions_parse() {
        assert_eq!(major("15.8 (Debian 15.8-1.pgdg120+1)"), Some(15));
        assert_eq!(major("9.6.24"), Some(9));
        assert_eq!(major("17beta1"), Some(17));
        assert_eq!(major(""), None);
    }
}
