//! pgrehearse reads nothing outside the repository: every path the repository names (migration files,
//! preludes, baselines, Drizzle journal tags, Flyway locations, schemas) is resolved, symlinks and
//! `..` included, and one that leads outside the root stops the run (exit 2, naming the path) before
//! anything of it is read or printed. A Prisma schema nested absurdly deep is an error at its line,
//! not a stack overflow.

use std::process::Output;

use crate::harness::{command, repo};

fn run(args: &[&str], root: &std::path::Path) -> Output {
    command()
        .args(args)
        .arg(root)
        .output()
        .expect("the binary runs")
}

fn assert_refused(out: &Output, path: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("{path}: resolves to "))
            && stderr.contains("outside the repository root"),
        "{stderr}"
    );
    assert!(!stdout.contains("root:x:0"), "{stdout}");
}

#[test]
fn a_migration_symlinked_to_etc_passwd_is_refused() {
    let repo = repo(&[("migrations/001_a.sql", "SELECT 1;\n")]);
    std::os::unix::fs::symlink("/etc/passwd", repo.path().join("migrations/002_b.sql"))
        .expect("symlink");
    assert_refused(&run(&["lint"], repo.path()), "migrations/002_b.sql");
    assert_refused(
        &run(&["check", "--engine", "local"], repo.path()),
        "migrations/002_b.sql",
    );
}

#[test]
fn a_prelude_outside_the_root_is_refused() {
    let repo = repo(&[
        (".pgrehearse.yaml", "prelude: [../../../../etc/hostname]\n"),
        ("migrations/001_a.sql", "SELECT 1;\n"),
    ]);
    assert_refused(
        &run(&["check", "--engine", "local"], repo.path()),
        "../../../../etc/hostname",
    );
}

#[test]
fn a_drizzle_journal_tag_leading_out_of_the_root_is_refused() {
    let outer = tempfile::tempdir().expect("tempdir");
    let root = outer.path().join("repo");
    std::fs::create_dir_all(root.join("drizzle/meta")).expect("mkdir");
    std::fs::write(outer.path().join("0000_evil.sql"), "SELECT 1;\n").expect("write");
    std::fs::write(
        root.join("drizzle/meta/_journal.json"),
        r#"{"dialect":"postgresql","entries":[{"idx":0,"tag":"../../0000_evil","when":1}]}"#,
    )
    .expect("write");
    assert_refused(&run(&["lint"], &root), "drizzle/../../0000_evil.sql");
}

#[test]
fn a_migrations_folder_symlinked_out_of_the_root_is_refused() {
    let outer = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(outer.path().join("elsewhere")).expect("mkdir");
    std::fs::write(outer.path().join("elsewhere/001_a.sql"), "SELECT 1;\n").expect("write");
    let repo = repo(&[(
        ".pgrehearse.yaml",
        "sets:\n  - path: db/migrations\n    runner: psql\n",
    )]);
    std::fs::create_dir_all(repo.path().join("db")).expect("mkdir");
    std::os::unix::fs::symlink(
        outer.path().join("elsewhere"),
        repo.path().join("db/migrations"),
    )
    .expect("symlink");
    assert_refused(&run(&["lint"], repo.path()), "db/migrations");
}

#[test]
fn a_symlink_inside_the_root_is_still_followed() {
    let repo = repo(&[("shared/001_a.sql", "SELECT 1;\n")]);
    std::fs::create_dir_all(repo.path().join("migrations")).expect("mkdir");
    std::os::unix::fs::symlink(
        "../shared/001_a.sql",
        repo.path().join("migrations/001_a.sql"),
    )
    .expect("symlink");
    let out = run(&["lint", "--format", "json"], repo.path());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn a_prisma_attribute_nested_4000_deep_is_an_error_at_its_line() {
    let depth = 4_000;
    let schema = format!(
        "datasource db {{\n  provider = \"postgresql\"\n}}\n\nmodel A {{\n  id Int @id @default({}1{})\n}}\n",
        "f(".repeat(depth),
        ")".repeat(depth)
    );
    let repo = repo(&[
        ("prisma/schema.prisma", schema.as_str()),
        (
            "prisma/migrations/migration_lock.toml",
            "provider = \"postgresql\"\n",
        ),
        (
            "prisma/migrations/20240101000000_init/migration.sql",
            "CREATE TABLE \"A\" (\"id\" INTEGER NOT NULL);\n",
        ),
    ]);
    let out = run(&["check", "--engine", "local"], repo.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("prisma/schema.prisma:6:"), "{stderr}");
    assert!(stderr.contains("nested more than 256 deep"), "{stderr}");
}

#[test]
fn a_configured_baseline_outside_the_root_is_refused_for_reading_and_writing() {
    let repo = repo(&[
        (
            ".pgrehearse.yaml",
            "baseline: ../../../../tmp/pgrehearse-outside-baseline.json\n",
        ),
        ("migrations/001_a.sql", "SELECT 1;\n"),
    ]);
    let target = "../../../../tmp/pgrehearse-outside-baseline.json";
    assert_refused(&run(&["lint"], repo.path()), target);
    assert_refused(
        &run(&["baseline", "--engine", "local"], repo.path()),
        target,
    );
    assert!(!std::path::Path::new("/tmp/pgrehearse-outside-baseline.json").exists());
}
