//! Column definitions and types.

use super::*;

/// What a column's type is, for the type rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ty {
    Int16,
    Int32,
    Serial16,
    Serial32,
    Serial64,
    /// `varchar(n)` / `character varying(n)`.
    VarcharN,
    /// `char`, `char(n)`, `character(n)`, `bpchar`.
    Char,
    /// `timestamp [(p)] [without time zone]`.
    Timestamp,
    /// `"char"` (quoted): PostgreSQL's internal one-byte type.
    ByteChar,
    Other,
}

impl Ty {
    pub(super) fn serial(self) -> bool {
        matches!(self, Ty::Serial16 | Ty::Serial32 | Ty::Serial64)
    }

    /// 16- or 32-bit integers (serial included).
    pub(super) fn small_int(self) -> bool {
        matches!(self, Ty::Int16 | Ty::Int32 | Ty::Serial16 | Ty::Serial32)
    }

    pub(super) fn sql(self) -> &'static str {
        match self {
            Ty::Int16 => "smallint",
            Ty::Int32 => "integer",
            Ty::Serial16 => "smallserial",
            Ty::Serial32 => "serial",
            Ty::Serial64 => "bigserial",
            Ty::VarcharN => "varchar(n)",
            Ty::Char => "char(n)",
            Ty::Timestamp => "timestamp without time zone",
            Ty::ByteChar => "\"char\"",
            Ty::Other => "",
        }
    }
}

/// Classifies the type written in tokens `from..to`.
pub(super) fn classify_type(st: &Stmt<'_>, from: usize, to: usize) -> Ty {
    // `pg_catalog.int4`: the last part of a qualified name.
    let mut i = from;
    while st.kind(i + 1) == Some(TokenKind::Dot) && i + 2 < to {
        i += 2;
    }
    // A quoted type name is the type of exactly that (case-sensitive) name: `"serial"` is serial,
    // `"varchar"(20)` varchar(20), and `"char"` the internal one-byte type, not char(1).
    let first = match st.kind(i) {
        Some(TokenKind::Word) => st.word(i),
        Some(TokenKind::QuotedIdent) => match st.ident(i) {
            Some(q) if q == "char" => return Ty::ByteChar,
            Some(q) if q == q.to_lowercase() => Some(q.to_uppercase()),
            _ => None,
        },
        _ => None,
    };
    let Some(first) = first else {
        return Ty::Other;
    };
    let words: Vec<String> = (i..to).filter_map(|j| st.word(j)).collect();
    let paren = st.kind(i + 1) == Some(TokenKind::LParen)
        || (st.is(i + 1, "VARYING") && st.kind(i + 2) == Some(TokenKind::LParen));
    match first.as_str() {
        "INT" | "INTEGER" | "INT4" => Ty::Int32,
        "SMALLINT" | "INT2" => Ty::Int16,
        "SERIAL" | "SERIAL4" => Ty::Serial32,
        "SMALLSERIAL" | "SERIAL2" => Ty::Serial16,
        "BIGSERIAL" | "SERIAL8" => Ty::Serial64,
        "VARCHAR" if paren => Ty::VarcharN,
        "CHARACTER" | "CHAR" if st.is(i + 1, "VARYING") => {
            if paren {
                Ty::VarcharN
            } else {
                Ty::Other
            }
        }
        "CHARACTER" | "CHAR" | "BPCHAR" => Ty::Char,
        "TIMESTAMP" if !words.iter().any(|w| w == "WITH") => Ty::Timestamp,
        _ => Ty::Other,
    }
}

/// One column definition (`name type [constraints]`).
pub(super) struct ColumnDef {
    pub(super) name: String,
    pub(super) ty: Ty,
    /// Token range of the type.
    pub(super) ty_range: (usize, usize),
    pub(super) not_null: bool,
    pub(super) primary_key: bool,
    pub(super) default: bool,
    /// `DEFAULT NULL`.
    pub(super) default_null: bool,
    /// `GENERATED … AS IDENTITY` or `GENERATED ALWAYS AS (…) STORED`.
    pub(super) generated: bool,
    pub(super) identity: bool,
}

/// Words that end a column's type and start its constraints.
pub(super) const COLUMN_CONSTRAINT: &[&str] = &[
    "CONSTRAINT",
    "NOT",
    "NULL",
    "DEFAULT",
    "PRIMARY",
    "UNIQUE",
    "CHECK",
    "REFERENCES",
    "GENERATED",
    "COLLATE",
    "COMPRESSION",
    "STORAGE",
    "DEFERRABLE",
    "INITIALLY",
];

/// Words that start a table constraint (not a column) in a `CREATE TABLE` list.
pub(super) const TABLE_CONSTRAINT: &[&str] = &[
    "CONSTRAINT",
    "PRIMARY",
    "UNIQUE",
    "CHECK",
    "FOREIGN",
    "EXCLUDE",
    "LIKE",
];

pub(super) fn column_def(st: &Stmt<'_>, from: usize, to: usize) -> Option<ColumnDef> {
    if from >= to {
        return None;
    }
    let name = st.ident(from)?;
    if st.kind(from) == Some(TokenKind::Word)
        && st
            .word(from)
            .is_some_and(|w| TABLE_CONSTRAINT.contains(&w.as_str()))
    {
        return None;
    }
    let ty_start = from + 1;
    let mut ty_end = to;
    let mut depth = 0i32;
    for j in ty_start..to {
        match st.kind(j) {
            Some(TokenKind::LParen | TokenKind::LBracket) => depth += 1,
            Some(TokenKind::RParen | TokenKind::RBracket) => depth -= 1,
            _ if depth == 0
                && st
                    .word(j)
                    .is_some_and(|w| COLUMN_CONSTRAINT.contains(&w.as_str())) =>
            {
                ty_end = j;
                break;
            }
            _ => {}
        }
    }
    if ty_end <= ty_start {
        return None;
    }
    let rest = (ty_end, to);
    let default_at = st.find(rest, &["DEFAULT"]);
    Some(ColumnDef {
        name,
        ty: classify_type(st, ty_start, ty_end),
        ty_range: (ty_start, ty_end),
        not_null: st.has(rest, &["NOT", "NULL"]),
        primary_key: st.has(rest, &["PRIMARY", "KEY"]),
        default: default_at.is_some(),
        default_null: default_at.is_some_and(|d| st.is(d + 1, "NULL")),
        generated: st.has(rest, &["GENERATED"]),
        identity: st.has(rest, &["GENERATED"]) && st.has(rest, &["IDENTITY"]),
    })
}
