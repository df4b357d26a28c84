//! `pgrehearse-sql`: the SQL text layer of pgrehearse. It owns everything that looks at migration
//! text without a database: byte spans and line/column arithmetic ([`span`]), a PostgreSQL/psql
//! compatible tokenizer ([`lex`]), statement splitting exactly like `psql -f` and drizzle-kit
//! ([`split`]), and detection of MySQL / SQLite / T-SQL constructs ([`dialect`]).
//!
//! Every public function is total on arbitrary `&str` input (unterminated quotes and comments, lone
//! `$`, CRLF or CR-only line endings, non-ASCII text) and never panics. Positions are byte offsets
//! ([`Span`]); [`LineIndex`] turns them into 1-based lines and character columns for reports.
//! The crate has no dependencies beyond `std`.

pub mod dialect;
pub mod lex;
pub mod span;
pub mod split;

pub use dialect::{CONSTRUCTS, Dialect, DialectHit, detect_dialect};
pub use lex::{Lexer, Token, TokenKind, describe_unterminated, tokenize};
pub use span::{LineIndex, Span, char_pos_to_byte, floor_char_boundary};
pub use split::{
    DRIZZLE_BREAKPOINT, Statement, copy_data, leading_keywords, significant_tokens, split,
    split_drizzle_breakpoints,
};
