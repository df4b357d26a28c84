//! pgrehearse rehearses a repository's PostgreSQL migrations before they reach production.
//!
//! One pipeline, data flowing one way ([`check::run`] calls the stages in this order):
//! [`discover`] (the migration sets, in the order and with the runner that applies them) →
//! [`declared`] (the declared schemas found beside them) → [`rules`] (static checks) → [`engine`] (an
//! ephemeral PostgreSQL: docker, local or url, with guaranteed cleanup) → [`replay`] (each set applied
//! the way its runner does, with [`locks`] traced, from the longest prefix in the [`cache`]) → [`catalog`] (what the replay built) → [`diff`] and
//! [`rules::drift`] (drift from the declared schema, and from a [`live`] database on request) →
//! [`policy`] (levels, suppressions, baseline) → [`history`] (findings that judge
//! migrations already shipped held back) → [`report`] (human, JSON, GitHub, SARIF) → [`deliver`]
//! (stdout, `--output`, [`github`]). [`lint::run`] is the static half (the pre-commit hook); [`hook`]
//! installs the plain git hook.
//!
//! # Floors
//!
//! Modules are layered: a module imports only from its own floor or the floors below, and never
//! through a loop (`tests/it/layers.rs` reads this table and every `crate::` path of `src/` and fails
//! otherwise). A module that needs something from above is a sign the thing lives in the wrong place.
//!
//! | floor | modules | what lives there |
//! |---|---|---|
//! | 1 | [`model`], [`registry`], [`cap`], [`paths`], [`random`] | the vocabulary: [`model::Finding`], [`model::Span`], provenance; every rule id with its severity and docs (data, no checks); how many findings of a rule in a file are held and reported; paths kept inside the repository; per-run random tokens; the `pgrehearse-sql` crate sits beside them |
//! | 2 | [`runner`], [`config`], [`engine`], [`catalog`] | what each runner is and how it batches and groups statements, and the migration-set model; `.pgrehearse.yaml` parsing; servers to replay on; `pg_catalog` introspection |
//! | 3 | [`apply`] | sending statements to a database with the error located in the file |
//! | 4 | [`discover`], [`declared`], [`environment`], [`replay`], [`locks`], [`history`] | finding sets and declared files; loading declared schemas; presets, roles and environment findings; replaying a set; lock tracing; which migrations already shipped (git, a pull request's base) |
//! | 5 | [`diff`], [`rules`], [`live`], [`faults`], [`cache`] | catalog comparison; static checks and drift findings; live bookkeeping; fault injection; replays that start from a cached prefix |
//! | 6 | [`check`], [`fixdrift`], [`policy`], [`report`], [`github`] | the pipeline; the migration that resolves drift (`fix-drift`); levels, suppressions, baseline; output formats; the GitHub API |
//! | 7 | [`lint`], [`deliver`], [`hook`], [`fix`] | the entry points the binary (`main.rs`) calls; `--fix` applying the safe fixes of a report |

pub mod apply;
pub mod cache;
pub mod cap;
pub mod catalog;
pub mod check;
pub mod config;
pub mod declared;
pub mod deliver;
pub mod diff;
pub mod discover;
pub mod engine;
pub mod environment;
pub mod faults;
pub mod fix;
pub mod fixdrift;
pub mod github;
pub mod history;
pub mod hook;
pub mod lint;
pub mod live;
pub mod locks;
pub mod model;
pub mod paths;
pub mod policy;
pub mod random;
pub mod registry;
pub mod replay;
pub mod report;
pub mod rules;
pub mod runner;
