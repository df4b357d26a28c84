//! Parsing and translating a 2,600-line Drizzle schema.ts with 60 tables (target: under 50 ms).
//!
//! `cargo bench --bench drizzle` prints the median and the worst of 20 runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pgrehearse::declared::drizzle::{self, Casing};

/// A schema of `tables` tables, each with 30 columns of assorted builders, a foreign key, indexes and a check.
fn schema(tables: usize) -> String {
    let mut s = String::from(
        "import { pgTable, pgEnum, serial, integer, text, varchar, numeric, timestamp, boolean, jsonb, uuid, index, uniqueIndex, check, primaryKey } from 'drizzle-orm/pg-core';\nimport { sql } from 'drizzle-orm';\n\n",
    );
    s.push_str("export const status = pgEnum('status', ['draft', 'active', 'archived']);\n\n");
    s.push_str("const timestamps = {\n  createdAt: timestamp('created_at', { withTimezone: true }).defaultNow().notNull(),\n  updatedAt: timestamp('updated_at', { withTimezone: true }),\n};\n\n");
    for t in 0..tables {
        s.push_str(&format!(
            "export const table{t} = pgTable(\n  'table_{t}',\n  {{\n"
        ));
        s.push_str("    id: serial('id').primaryKey(),\n");
        if t > 0 {
            s.push_str(&format!(
                "    parentId: integer('parent_id').references(() => table{}.id, {{ onDelete: 'cascade' }}),\n",
                t - 1
            ));
        } else {
            s.push_str("    parentId: integer('parent_id'),\n");
        }
        for c in 0..29 {
            let line = match c % 8 {
                0 => format!("    name{c}: varchar('name_{c}', {{ length: 255 }}).notNull(),\n"),
                1 => format!(
                    "    amount{c}: numeric('amount_{c}', {{ precision: 12, scale: 2 }}).default('0'),\n"
                ),
                2 => format!("    flag{c}: boolean('flag_{c}').default(false).notNull(),\n"),
                3 => format!("    data{c}: jsonb('data_{c}').default(sql`'{{}}'::jsonb`),\n"),
                4 => format!("    ref{c}: uuid('ref_{c}').defaultRandom(),\n"),
                5 => format!("    state{c}: status('state_{c}').default('draft'),\n"),
                6 => format!("    note{c}: text('note_{c}'),\n"),
                _ => format!("    count{c}: integer('count_{c}').default(0).notNull(),\n"),
            };
            s.push_str(&line);
        }
        s.push_str("    ...timestamps,\n  },\n  (t) => [\n");
        s.push_str("    index().on(t.parentId),\n");
        s.push_str("    uniqueIndex().on(t.name0, t.ref4),\n");
        s.push_str(&format!(
            "    index('idx_{t}_active').on(t.count7).where(sql`${{t.flag2}} = true`),\n"
        ));
        s.push_str(&format!(
            "    check('table_{t}_count_nonneg', sql`${{t.count7}} >= 0`),\n"
        ));
        s.push_str("  ],\n);\n\n");
    }
    s
}

fn main() {
    let text: Arc<str> = Arc::from(schema(60));
    let lines = text.matches('\n').count();
    let path = PathBuf::from("schema.ts");
    let mut times: Vec<Duration> = Vec::new();
    let mut statements = 0;
    for _ in 0..20 {
        let started = Instant::now();
        let mut load = |p: &Path| (p == path).then(|| Ok(text.clone()));
        let t = drizzle::translate_with(&mut load, std::slice::from_ref(&path), Casing::Preserve)
            .expect("translates");
        times.push(started.elapsed());
        statements = t.statements.len();
        assert!(t.findings.is_empty(), "{:?}", t.findings);
    }
    times.sort();
    println!(
        "drizzle: {lines} lines, 60 tables, {statements} statements: median {:.2} ms, worst {:.2} ms (target < 50 ms)",
        times[times.len() / 2].as_secs_f64() * 1000.0,
        times[times.len() - 1].as_secs_f64() * 1000.0
    );
}
