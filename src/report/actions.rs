//! Output a migration cannot turn into a GitHub Actions workflow command.
//!
//! The Actions runner reads every line a step prints (stdout and stderr), trims it, and executes the
//! lines that look like workflow commands (`::error …::`, `::add-mask::`, `::stop-commands::…`, and the
//! older `##[error]…`). pgrehearse prints text that comes from the repository (file contents in
//! snippets, PostgreSQL error messages raised by a migration, file names), so in Actions
//! (`GITHUB_ACTIONS=true`) it first turns command processing off with `::stop-commands::<token>`, where
//! the token is chosen at random for each run and never printed anywhere else. Only the commands
//! pgrehearse itself writes (annotations, notices) are printed inside [`commands`], which turns
//! processing on (`::<token>::`) for exactly those lines and off again afterwards. A migration cannot
//! guess the token, so nothing it makes pgrehearse print can end the pause.

use std::io::{self, Write};
use std::sync::OnceLock;

static TOKEN: OnceLock<Option<String>> = OnceLock::new();

/// The token of this run, when running in GitHub Actions.
fn token() -> Option<&'static str> {
    TOKEN
        .get_or_init(|| {
            (std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true")).then(random_token)
        })
        .as_deref()
}

/// 128 random bits, never printed except in the pause and resume lines.
fn random_token() -> String {
    format!("pgrehearse-{}", crate::random::hex(16))
}

/// Whether workflow commands are paused for this run (running in GitHub Actions).
pub fn active() -> bool {
    token().is_some()
}

/// Pauses workflow command processing for the rest of the step (in GitHub Actions; otherwise does
/// nothing). Called once at start-up, before anything from the repository can be printed.
pub fn pause(out: &mut dyn Write) -> io::Result<()> {
    if let Some(token) = token() {
        writeln!(out, "::stop-commands::{token}")?;
        out.flush()?;
    }
    Ok(())
}

/// Resumes workflow command processing (at exit, so later steps of a composite action are unaffected).
pub fn resume(out: &mut dyn Write) -> io::Result<()> {
    if let Some(token) = token() {
        writeln!(out, "::{token}::")?;
        out.flush()?;
    }
    Ok(())
}

/// Writes pgrehearse's own workflow commands: processing is on while `write` runs and off again after.
/// Every line `write` prints must be a command pgrehearse built (its data escaped, one line each).
pub fn commands<R>(
    out: &mut dyn Write,
    write: impl FnOnce(&mut dyn Write) -> io::Result<R>,
) -> io::Result<R> {
    match token() {
        None => write(out),
        Some(token) => {
            writeln!(out, "::{token}::")?;
            let result = write(out);
            writeln!(out, "::stop-commands::{token}")?;
            out.flush()?;
            result
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_long() {
        let a = random_token();
        let b = random_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), "pgrehearse-".len() + 32);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'));
    }
}
