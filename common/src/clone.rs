//! The `clone(2)` plumbing every step shares: the child's stack, the flags spelled as in C, and
//! the error a step explains when `clone` failed. The steps call [`stack`] and [`flag_names`];
//! [`Lifeline::started`](crate::Lifeline) returns [`CloneFailed`], which userns.rs explains.

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;

/// The size of the child's stack: 1 MiB, as the article's `char container_stack[1024*1024]`.
pub const STACK_SIZE: usize = 1024 * 1024;
/// A stack for the child that `clone(2)` starts: zeroed memory on the heap. The kernel starts
/// the child with its stack pointer at the *end* of it, because on x86 and ARM a stack grows
/// down, towards lower addresses; nix's `clone` does that arithmetic for us.
pub fn stack() -> Vec<u8> {
    vec![0u8; STACK_SIZE]
}

/// Spell `flags` like the C constants, e.g. `CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD`, with the
/// exit signal last if there is one.
pub fn flag_names(flags: CloneFlags, exit_signal: Option<Signal>) -> String {
    let names = flags.iter_names().map(|(name, _)| name);
    let names: Vec<&str> = names.chain(exit_signal.map(Signal::as_str)).collect();
    match names.is_empty() {
        true => "0".to_string(),
        false => names.join(" | "),
    }
}

/// The error [`Lifeline::started`] returns when `clone(2)` failed, so that a step can explain it.
#[derive(Debug)]
pub struct CloneFailed {
    pub errno: Errno,
    pub flags: CloneFlags,
}

impl std::fmt::Display for CloneFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let hint = match self.errno {
            Errno::EPERM => "creating these namespaces needs more privilege than this process has",
            Errno::ENOSPC | Errno::EUSERS => {
                "a limit on the number of namespaces was reached (see /proc/sys/user/)"
            }
            Errno::EINVAL => "this kernel does not support one of these namespaces",
            Errno::ENOMEM | Errno::EAGAIN => "the system is out of memory or processes; try again",
            _ => "see clone(2)",
        };
        write!(f, "clone({}) failed: {}: {hint}", flag_names(self.flags, Some(Signal::SIGCHLD)), self.errno)
    }
}

impl std::error::Error for CloneFailed {}
