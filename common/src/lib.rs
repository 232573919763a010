//! What every step needs and none of them teaches.
//!
//! Each step's `main.rs` is the lesson: which `CLONE_NEW*` flags it passes and what the child
//! does with them. Everything here is plumbing that stays the same from step to step, so the
//! `diff` between two steps shows only the new namespace:
//!
//! - [`cli`]: the command line every step shares (`stepNN [OPTIONS] [--] [COMMAND [ARG...]]`);
//! - [`stack`] for `clone(2)`, and the [`Lifeline`] that makes the child die with its parent
//!   (each step makes the `clone` call itself: it is the lesson);
//! - [`exec`]: the command with fds 0-2 only and default signals, looked up in `PATH`, with
//!   the exit codes a shell uses (127 not found, 126 not executable);
//! - [`wait_for`]: wait for the child, forward signals to it, turn its end into our exit status;
//! - `session`: what every command gets instead of the caller's session: setsid(2), a
//!   pseudo-terminal of its own when we were given a terminal (relayed by [`wait_for`]), and a
//!   new session keyring;
//! - [`say!`] for narration on stderr, and [`exit_with`] to print an error as one line;
//!   `program` holds the name those lines start with;
//! - [`userns::explain`]: why a user namespace could not be made here, from the sysctls;
//! - [`netlink`]: make and look at interfaces, addresses and routes without starting `ip`;
//! - [`cgroupfs`]: where a cgroup hierarchy is mounted, and where we are in it (step08 on);
//! - [`init::run`]: `--init`, a minimal PID 1 that forwards signals and reaps orphans.
//!
//! A learner never needs to open this crate to understand what a step does to the kernel.

pub mod cgroupfs;
pub mod cli;
mod clone;
mod exec;
mod handoff;
pub mod init;
mod lifeline;
pub mod netlink;
mod pidfile;
mod program;
mod report;
mod session;
pub mod userns;
mod wait;

pub use cli::{Args, Opt, Step};
pub use clone::{flag_names, stack, CloneFailed};
pub use exec::exec;
pub use lifeline::{die_with_parent_again, Lifeline};
pub use report::{exit_with, narrate, narrating, require_cap, Failure};
pub use wait::wait_for;

/// Exit status when the step itself failed before the command ran (as `docker run` does).
pub const EXIT_STEP_FAILED: i32 = 125;
/// Exit status when the command exists but cannot be executed (as a shell does).
pub const EXIT_NOT_EXECUTABLE: i32 = 126;
/// Exit status when the command is not found (as a shell does).
pub const EXIT_NOT_FOUND: i32 = 127;

/// Narrate what the step is doing, on stderr, so that stdout belongs to the command.
///
/// `say!("child: running as PID {}", pid)` prints `[step02-uts] child: running as PID 1`.
/// `--quiet` silences it.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => { $crate::narrate(format_args!($($arg)*)) };
}
