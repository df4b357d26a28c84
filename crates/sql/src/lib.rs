//! `pgrehearse-sql`: the SQL text layer of pgrehearse. It owns everything that looks at migration
//! text without a database: byte spans and line/column arithmetic ([`span`]), a PostgreSQL/psql
//! compatible tokenizer ([`lex`]), statement splitting exactly like `psql -f` and drizzle-kit
//! ([`mod@split`]), detection of MySQL / SQLite / T-SQL constructs ([`dialect`]), and what a
//! statement means for transactions and retries ([`classify`]).
//!
//! Every public function is total on arbitrary `&str` input (unterminated quotes and comments, lone
//! `$`, CRLF or CR-only line endings, non-ASCII text) and never panics. Positions are byte offsets
//! ([`Span`]); [`LineIndex`] turns them into 1-based lines and character columns for reports.
//! The crate has no dependencies beyond `std`.
//!
//! ```
//! use pgrehearse_sql::{LineIndex, detect_dialect, leading_keywords, split};
//!
//! let text = "-- add users\nCREATE TABLE users (id int) ENGINE=InnoDB;\nSELECT 1; -- done\n";
//! let pieces = split(text);
//! assert_eq!(pieces.len(), 3); // two statements and the trailing comment
//! assert_eq!(pieces[0].code.slice(text), "CREATE TABLE users (id int) ENGINE=InnoDB;");
//! assert_eq!(leading_keywords(text, pieces[0].code, 2), ["CREATE", "TABLE"]);
//! assert!(pieces[2].is_empty());
//!
//! let hits = detect_dialect(text);
//! assert_eq!(hits[0].construct, "engine-option");
//! assert_eq!(hits[0].span.slice(text), "ENGINE=InnoDB");
//! let index = LineIndex::new(text);
//! assert_eq!(index.line_col(text, hits[0].span.start), (2, 29));
//! ```

pub mod classify;
pub mod dialect;
mod dialect_fix;
pub mod lex;
pub mod span;
pub mod split;
pub mod target;

pub use classify::{
    EnumAddValue, Guard, RerunHazard, Retry, TxControl, created_type, enum_add_value,
    non_transactional, rerun_hazards, string_value, transaction_control,
};
pub use dialect::{CONSTRUCTS, Dialect, DialectHit, attribute_datetime, detect_dialect};
pub use dialect_fix::DialectFix;
pub use lex::{Lexer, Token, TokenKind, describe_unterminated, may_hold_word_pair, tokenize};
pub use span::{LineIndex, Span, char_pos_to_byte, floor_char_boundary};
pub use split::{
    DRIZZLE_BREAKPOINT, Statement, copy_data, leading_keywords, significant_tokens, split,
    split_drizzle_breakpoints,
};
pub use target::{Action, ObjectName, Target, TargetKind, ident, target};
