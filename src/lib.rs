//! pgrehearse rehearses a repository's PostgreSQL migrations before they reach production.
//!
//! The pipeline, one module per stage, data flowing one way:
//!
//! 1. [`config`] reads `.pgrehearse.yaml`.
//! 2. [`discover`] finds the migration sets, in the order and with the runner that applies them.
//! 3. [`rules`] runs static checks (dialect detection) on top of the `pgrehearse-sql` splitter.
//! 4. [`engine`] provisions an ephemeral PostgreSQL (docker, local or url) with guaranteed cleanup.
//! 5. [`replay`] applies each set the way its runner does and turns errors into findings.
//! 6. [`report`] writes findings as human diagnostics, JSON, GitHub workflow commands or SARIF.
//! 7. [`deliver`] filters (`--changed-since`), writes the report (stdout, `--output`) and publishes it to
//!    GitHub ([`github`]: check run, pull request comments, job summary) when running in Actions.
//!
//! [`check::run`] is the single entry point the CLI calls ([`lint::run`] is its static half, used by
//! the pre-commit hook; [`hook`] installs the plain git hook); [`model`] holds the shared vocabulary
//! ([`model::Finding`], [`model::Span`]).

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
pub mod github;
pub mod hook;
pub mod lint;
pub mod live;
pub mod locks;
pub mod model;
pub mod paths;
pub mod policy;
pub mod random;
pub mod replay;
pub mod report;
pub mod rules;
