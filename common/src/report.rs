//! Narration, errors as one line, exit statuses, and the privilege check.

use crate::program::{invoked_as, program};
use anyhow::Result;
use caps::{CapSet, Capability};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

pub(crate) fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether narration is on (no `--quiet`): skip work done only to narrate.
pub fn narrating() -> bool {
    !QUIET.load(Ordering::Relaxed)
}

/// Print one line of narration to stderr (use the [`say!`](crate::say) macro).
pub fn narrate(line: fmt::Arguments) {
    if !QUIET.load(Ordering::Relaxed) {
        line_to_stderr(&format!("[{}] {line}\n", program()));
    }
}

/// An error that carries the exit status the step should end with.
///
/// Errors without one end the step with 125 ([`EXIT_STEP_FAILED`](crate::EXIT_STEP_FAILED)).
#[derive(Debug)]
pub struct Failure {
    pub status: i32,
    pub message: String,
}

impl Failure {
    pub fn new(status: i32, message: impl Into<String>) -> Self {
        Failure { status, message: message.into() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The exit status an error should end the step with.
pub(crate) fn status_of(err: &anyhow::Error) -> i32 {
    err.chain().find_map(|e| e.downcast_ref::<Failure>()).map_or(crate::EXIT_STEP_FAILED, |f| f.status)
}

/// Print `err` as one line on stderr, `stepNN-x: error: what failed: why`.
///
/// We print it ourselves with `{:#}` rather than returning it from `main`: returning it would
/// print a debug dump, and a backtrace wherever `RUST_BACKTRACE` is set.
pub(crate) fn report(err: &anyhow::Error) {
    line_to_stderr(&format!("{}: error: {err:#}\n", program()));
}

/// Write a whole line with one write(2), so that lines from the parent and the child, which
/// share stderr, never interleave mid-line (`eprintln!` may write a line in pieces).
pub(crate) fn line_to_stderr(line: &str) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// End the process: with the status in `Ok`, or after printing the error as one line.
pub fn exit_with(result: Result<i32>) -> ! {
    let status = match result {
        Ok(status) => status,
        Err(err) => {
            report(&err);
            status_of(&err)
        }
    };
    std::process::exit(status)
}

/// Fail with one clear line unless this process has `cap` in its effective set.
///
/// Creating any namespace other than a user namespace needs `CAP_SYS_ADMIN`; see
/// [namespaces(7)](https://man7.org/linux/man-pages/man7/namespaces.7.html). We check before
/// calling `clone`, so a normal user gets advice instead of a bare `EPERM`.
pub fn require_cap(cap: Capability) -> Result<()> {
    let has = caps::has_cap(None, CapSet::Effective, cap)
        .map_err(|e| anyhow::anyhow!("reading this process's capabilities failed: {e}"))?;
    if has {
        return Ok(());
    }
    if nix::unistd::geteuid().is_root() {
        // uid 0 without the capability: root of a user namespace other than the host's, or a
        // root whose capabilities were dropped (a container, capsh, setpriv). sudo cannot help.
        anyhow::bail!(
            "{} needs {cap} to create its namespaces, and this process is uid 0 without it: it is \
             not the host's real root (a user namespace's, or one whose capabilities were \
             dropped); run it as the host's root, or try step06-user, which needs no root",
            program(),
        )
    }
    anyhow::bail!(
        "{} needs {cap} to create its namespaces, and this process (uid {}) does not have it: \
         run it as root (sudo {}), or in a sandbox of your own (cargo xtask sandbox), \
         or try step06-user, which needs no root",
        program(),
        nix::unistd::geteuid(),
        invoked_as(),
    )
}
