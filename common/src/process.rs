//! Starting the child with `clone(2)`, exec'ing the command, and waiting for it.

use crate::report::{report, status_of, Failure};
use crate::{say, Args, EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND};
use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{execvp, pipe2, Pid};
use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Instant;

/// The child's stack: 1 MiB, on the heap, as the article's `char container_stack[1024*1024]`.
pub const STACK_SIZE: usize = 1024 * 1024;

/// The signals the parent passes on to the container instead of dying of them.
const FORWARDED: [Signal; 4] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT];

/// Spell `flags` like the C constants, e.g. `CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD`.
pub fn flag_names(flags: CloneFlags) -> String {
    let mut names: Vec<&str> = flags.iter_names().map(|(name, _)| name).collect();
    names.push("SIGCHLD");
    names.join(" | ")
}

/// Run `child` in a new process made by `clone(2)` with `flags`, and return its PID.
///
/// The child gets `SIGCHLD` as its exit signal, so the parent can `waitpid` for it like any
/// child. Before running `child` it arranges to be killed if the parent dies. If `child`
/// returns an error, the child prints it as one line and exits with its status (125 unless
/// the error says otherwise, as [`exec`] does for 126 and 127).
///
/// The parent blocks the signals that [`wait_for`] forwards; the child unblocks them.
pub fn clone_child(flags: CloneFlags, mut child: impl FnMut() -> Result<Infallible>) -> Result<Pid> {
    let mut stack = vec![0u8; STACK_SIZE];

    // A pipe whose write end only the parent holds: when the parent dies, the kernel closes it,
    // and the child sees end-of-file. Both ends close on exec, so the command never sees them.
    let (parent_alive, parent_alive_w) = pipe2(OFlag::O_CLOEXEC).context("pipe2() failed")?;
    let parent_alive_w_raw = parent_alive_w.as_raw_fd();

    let forwarded: SigSet = FORWARDED.into_iter().chain([Signal::SIGCHLD]).collect();
    let mut old_mask = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&forwarded), Some(&mut old_mask))
        .context("sigprocmask() failed")?;

    let callback = Box::new(|| {
        // Give the command the signal mask we started with.
        if let Err(e) = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None) {
            eprintln!(
                "{}: error: sigprocmask() failed in the child: {e}",
                crate::cli::program()
            );
            return crate::EXIT_STEP_FAILED as isize;
        }
        // If the parent dies, even by SIGKILL, the kernel sends us SIGKILL: prctl(2), PR_SET_PDEATHSIG.
        // The parent may have died before this call; then the pipe is already at end-of-file.
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
        let _ = nix::unistd::close(parent_alive_w_raw); // our copy; only the parent's must keep it open
        let mut fds = [PollFd::new(parent_alive.as_fd(), PollFlags::POLLIN)];
        if poll(&mut fds, PollTimeout::ZERO).unwrap_or(0) > 0 {
            return crate::EXIT_STEP_FAILED as isize;
        }
        match child() {
            Ok(never) => match never {},
            Err(err) => {
                report(&err);
                status_of(&err) as isize
            }
        }
    });

    // SAFETY: nix::sched::clone is unsafe because the child runs `callback` on `stack` while
    // sharing whatever `flags` tell it to share. We never pass CLONE_VM, CLONE_FILES or
    // CLONE_SIGHAND, so, like fork(2), the child gets its own copy of our memory (the stack
    // included) and of our file descriptors, and nothing it does can corrupt the parent's.
    // This process is single-threaded (the steps start no threads), so no lock is held by
    // another thread at the moment of the copy, and the child may allocate and print.
    let result = unsafe { nix::sched::clone(callback, &mut stack, flags, Some(Signal::SIGCHLD as i32)) };
    // The parent keeps the write end open until it exits, however it exits.
    std::mem::forget(parent_alive_w);
    match result {
        Ok(pid) => Ok(pid),
        Err(errno) => {
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
            Err(clone_error(errno, flags))
        }
    }
}

/// The error [`clone_child`] returns when `clone(2)` fails, so that a step can explain it further.
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
        write!(
            f,
            "clone({}) failed: {}: {hint}",
            flag_names(self.flags),
            self.errno
        )
    }
}

impl std::error::Error for CloneFailed {}

fn clone_error(errno: Errno, flags: CloneFlags) -> anyhow::Error {
    CloneFailed { errno, flags }.into()
}

/// Replace this process with `command`, looked up in `PATH` like a shell does: `execvp(3)`.
///
/// Returns only on failure, with exit status 127 if the command was not found and 126 if it
/// could not be executed, as a shell does.
pub fn exec(command: &[CString]) -> Result<Infallible> {
    let Some(program) = command.first().filter(|p| !p.is_empty()) else {
        return Err(Failure::new(
            EXIT_NOT_FOUND,
            "the command is empty: give a command, or none for /bin/bash",
        )
        .into());
    };
    let name = program.to_string_lossy();
    let errno = match execvp(program, command) {
        Ok(never) => match never {},
        Err(errno) => errno,
    };
    // execvp reports EACCES when some directory in PATH is closed to us, even if the command
    // is in none of them; a shell calls that "not found", and so do we.
    let not_found = matches!(errno, Errno::ENOENT | Errno::ENOTDIR)
        || (errno == Errno::EACCES && !name.contains('/') && !in_path(&name));
    let failure = match errno {
        _ if not_found => Failure::new(
            EXIT_NOT_FOUND,
            format!("{name}: command not found: check the name, and that it exists inside the container"),
        ),
        Errno::EACCES | Errno::EPERM => Failure::new(
            EXIT_NOT_EXECUTABLE,
            format!("{name}: cannot execute: {errno}: is it a directory, or missing its execute permission?"),
        ),
        _ => Failure::new(EXIT_NOT_EXECUTABLE, format!("{name}: cannot execute: {errno}")),
    };
    Err(failure.into())
}

/// Whether a file called `name` exists in some directory of `PATH`.
fn in_path(name: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path).any(|dir| dir.join(name).exists())
}

/// Wait for the container to end, and return the exit status the step should end with:
/// the command's own, or 128+N if it died from signal N.
///
/// While it runs, SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to us go to the container instead.
/// A PID 1 ignores signals it has no handler for, so if the container is still running
/// `--stop-timeout` after a forwarded signal, we send SIGKILL, as `docker stop` does.
pub fn wait_for(child: Pid, args: &Args) -> Result<i32> {
    let mask: SigSet = FORWARDED.into_iter().chain([Signal::SIGCHLD]).collect();
    // Made after clone, so the child never has it; the signals are already blocked.
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .context("signalfd() failed")?;
    let mut kill_at: Option<Instant> = None;
    loop {
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, status)) => {
                say!("parent: container exited with status {status}");
                return Ok(status);
            }
            Ok(WaitStatus::Signaled(_, sig, _)) => {
                say!(
                    "parent: container was killed by {sig}; our status is {}",
                    128 + sig as i32
                );
                return Ok(128 + sig as i32);
            }
            Ok(_) | Err(Errno::EINTR) => {}
            Err(errno) => return Err(anyhow::anyhow!("waitpid({child}) failed: {errno}")),
        }
        let timeout = match kill_at {
            None => PollTimeout::NONE,
            Some(at) => {
                let left = at.saturating_duration_since(Instant::now());
                PollTimeout::try_from(left.as_millis().max(1)).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = [PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) => {
                say!(
                    "parent: container still running {:?} after the signal; sending SIGKILL",
                    args.stop_timeout
                );
                let _ = kill(child, Signal::SIGKILL);
                kill_at = None;
                continue;
            }
            Ok(_) | Err(Errno::EINTR) => {}
            Err(errno) => return Err(anyhow::anyhow!("poll() failed: {errno}")),
        }
        while let Ok(Some(info)) = signals.read_signal() {
            let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
                continue;
            };
            if sig == Signal::SIGCHLD {
                continue;
            }
            say!("parent: got {sig}; forwarding it to the container");
            let _ = kill(child, sig);
            kill_at.get_or_insert(Instant::now() + args.stop_timeout);
        }
    }
}
