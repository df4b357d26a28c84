//! Which statements of a set share a transaction, as the runner sends them: the runner's own
//! BEGIN … COMMIT (or Drizzle's one transaction around every pending migration), a multi-statement
//! query (one implicit transaction), and BEGIN / COMMIT written in the file.

use std::collections::BTreeSet;

use pgrehearse_sql::{self as sql, Span, TxControl};

use super::{Migration, MigrationSet, Transactions};

/// Why a statement runs inside a transaction block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Block {
    /// It does not (autocommit: a single-statement query outside BEGIN … COMMIT).
    None,
    /// The runner wrapped the migration (or every pending migration) in BEGIN … COMMIT.
    Runner,
    /// The file's own BEGIN opened it.
    File,
    /// It is sent in one query together with other statements (PostgreSQL's implicit transaction).
    Query,
}

/// One SQL statement of the set, as the runner sends it.
#[derive(Clone, Debug)]
pub struct TxStatement {
    /// Index of its migration in the set.
    pub migration: usize,
    /// Index of its batch in the migration.
    pub batch: usize,
    /// 1-based position among the migration's statements.
    pub index: usize,
    pub span: Span,
    /// Transaction id: statements with the same id commit (or fail) together.
    pub txn: usize,
    pub block: Block,
    pub control: Option<TxControl>,
}

/// The transaction mode a migration of `set` really runs in.
pub fn mode(set: &MigrationSet, m: &Migration) -> Transactions {
    if set.runner.default_transactions() == Transactions::AllPendingInOne {
        Transactions::AllPendingInOne
    } else {
        m.transactions
    }
}

/// Walks the set's statements in the order the runner sends them, numbering transactions.
pub fn walk(set: &MigrationSet) -> Vec<TxStatement> {
    walk_from(set, 0)
}

/// Whether the set's runner applies every pending migration in one transaction (Drizzle): then a
/// transaction spans migrations, and no walk can start midway through the set.
pub fn spans_migrations(set: &MigrationSet) -> bool {
    set.runner.default_transactions() == Transactions::AllPendingInOne
}

/// [`walk`] of migrations `start..` only, reading none of the earlier ones: each file is a session
/// (or runner transaction) of its own, so nothing of an earlier file is open when migration `start`
/// begins. Statements keep their index in the set (`migration`) and their position in their file;
/// only the transaction ids differ from [`walk`]'s, and only in their absolute value (statements
/// share an id here exactly when they share one there). A set whose transaction spans migrations
/// ([`spans_migrations`]) is walked whole whatever `start` is.
pub fn walk_from(set: &MigrationSet, start: usize) -> Vec<TxStatement> {
    let all_in_one = spans_migrations(set);
    let start = if all_in_one { 0 } else { start };
    let mut out = Vec::new();
    let mut next = 0usize;
    let mut new_txn = || {
        next += 1;
        next
    };
    // The open transaction block and who opened it.
    let mut block = Block::None;
    let mut txn = 0;
    if all_in_one {
        block = Block::Runner;
        txn = new_txn();
    }
    for (mi, m) in set.migrations.iter().enumerate().skip(start) {
        if m.blocked.is_some() {
            continue;
        }
        let explicit = !all_in_one && m.transactions == Transactions::Explicit;
        if !all_in_one {
            // Each file is its own session (psql -f) or its own runner transaction.
            block = Block::None;
        }
        if explicit {
            block = Block::Runner;
            txn = new_txn();
        }
        let text = &*m.text;
        let mut index = 0;
        for (bi, b) in m.batches.iter().enumerate() {
            if b.span.slice(text).starts_with('\\') {
                // A psql meta-command, not SQL.
                continue;
            }
            let stmts = super::statements_in(text, b.span);
            let multi = stmts.len() > 1;
            if block == Block::None {
                txn = new_txn();
            }
            for span in stmts {
                index += 1;
                let control = sql::transaction_control(text, span);
                let current = match block {
                    Block::None if multi => Block::Query,
                    other => other,
                };
                out.push(TxStatement {
                    migration: mi,
                    batch: bi,
                    index,
                    span,
                    txn,
                    block: current,
                    control,
                });
                match control {
                    Some(TxControl::Begin) if block == Block::None => block = Block::File,
                    Some(TxControl::Commit | TxControl::Rollback) if block != Block::None => {
                        block = Block::None;
                        // The rest of this query runs in a new (implicit) transaction.
                        txn = new_txn();
                    }
                    _ => {}
                }
            }
        }
        if explicit && block == Block::Runner {
            block = Block::None;
        }
    }
    out
}

/// Whether a failure midway through migration `index` of `set` can leave part of it committed: its
/// statements run in more than one transaction under the runner, counting the file's own
/// `BEGIN` … `COMMIT` (a psql file wrapped in one is atomic).
pub fn commits_piecewise(set: &MigrationSet, index: usize) -> bool {
    let stmts = walk(set);
    let txns: BTreeSet<usize> = by_migration(&stmts, index).map(|s| s.txn).collect();
    txns.len() > 1
}

/// The SQL statements (not BEGIN / COMMIT) of one migration of the set.
pub fn by_migration(stmts: &[TxStatement], migration: usize) -> impl Iterator<Item = &TxStatement> {
    stmts
        .iter()
        .filter(move |s| s.migration == migration && s.control.is_none())
}
