//! Integration tests: the real binary on fixture repositories, against real PostgreSQL servers.
//!
//! Every replay case runs on both the local engine (a temporary cluster from the installed server
//! binaries) and the docker engine (the image in `PGREHEARSE_IMAGE`, which `.ci/run` provisions). A test
//! that cannot get its engine fails; deselect the Docker ones explicitly with `-- --skip docker`.

mod action;
mod cache;
mod cleanup;
mod cli;
mod ddl_rules;
mod drift;
mod drizzle;
mod environment;
mod faults;
mod fix_drift;
mod fixes;
mod forging;
mod github_api;
mod harness;
mod history;
mod jobs;
mod layers;
mod live;
mod live_read_only;
mod locks;
mod newcomer;
mod outside;
mod ownership;
mod partial_static;
mod policy;
mod precommit;
mod prisma;
mod replay_cases;
mod replay_lib;
mod rule_fixtures;
mod runners;
mod secrets;
