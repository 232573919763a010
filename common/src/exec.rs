//! [`exec`]: replace the child with the command, with a clean slate (only fds 0-2, every signal
//! at its default), looked up in `PATH`, with a shell's exit codes. The steps' child functions,
//! init.rs (`--init`) and setns-enter call it.

use crate::handoff::COMMAND_STARTS_W;
use crate::report::Failure;
use crate::{EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND};
use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::libc;
use nix::sys::resource::{getrlimit, Resource};
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow};
use nix::unistd::execv;
use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStringExt;
use std::sync::atomic::Ordering;

/// Replace this process with `command`, looked up in `PATH` as a shell does: execve(2).
///
/// The command starts with a clean slate, whatever the step itself inherited (runc does the
/// same before it execs a container's process):
/// - only fds 0, 1 and 2: any other fd the caller left open could lead out of the container (an
///   fd open on the host's `/` reaches every host file, whatever our root is);
/// - every signal at its default action and none blocked: the Rust runtime ignores SIGPIPE,
///   and an ignored signal stays ignored across exec, so `yes | head -1` would never end.
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
    close_other_fds()?;
    default_signals()?;
    let starts = COMMAND_STARTS_W.load(Ordering::Relaxed);
    if starts >= 0 {
        // SAFETY: the fd is the pipe's write end that Lifeline handed the child, still open here.
        let _ = nix::unistd::write(unsafe { BorrowedFd::borrow_raw(starts) }, b"!");
    }
    let name = program.to_string_lossy();
    let errno = exec_in_path(program, command);
    // EACCES from a directory in PATH closed to us, with the command in none of them, is what
    // a shell calls "not found", and so do we.
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
        Errno::ENOEXEC => Failure::new(
            EXIT_NOT_EXECUTABLE,
            format!("{name}: cannot execute: {errno}: not a program for this machine, nor a script with #!"),
        ),
        _ => Failure::new(EXIT_NOT_EXECUTABLE, format!("{name}: cannot execute: {errno}")),
    };
    Err(failure.into())
}

/// execv(3) `program` in each directory of `PATH` in turn, as execvp(3) does, but without
/// execvp's fallback of feeding a file the kernel cannot execute (ENOEXEC) to `/bin/sh`.
/// Returns the error that decides: EACCES if some file was there but not executable.
fn exec_in_path(program: &CString, command: &[CString]) -> Errno {
    if program.as_bytes().contains(&b'/') {
        return execv(program, command).unwrap_err();
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
    let mut result = Errno::ENOENT;
    for dir in std::env::split_paths(&path) {
        let Ok(full) = CString::new(dir.join(program.to_string_lossy().as_ref()).into_os_string().into_vec())
        else {
            continue;
        };
        match execv(&full, command).unwrap_err() {
            Errno::ENOENT | Errno::ENOTDIR => {}
            Errno::EACCES => result = Errno::EACCES,
            errno => return errno,
        }
    }
    result
}

/// Where a command is looked up when `PATH` is not set, as glibc's execvp does.
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Whether a file called `name` exists in some directory of `PATH`.
fn in_path(name: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
    std::env::split_paths(&path).any(|dir| dir.join(name).exists())
}

/// Mark every fd above 2 close-on-exec: close_range(2) with `CLOSE_RANGE_CLOEXEC` (Linux 5.11).
/// Older kernels: the same, one fd at a time, up to our limit on open files.
fn close_other_fds() -> Result<()> {
    // SAFETY: close_range only sets a flag on fds of this process; it touches no memory.
    let done = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
    if done == 0 {
        return Ok(());
    }
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit(RLIMIT_NOFILE) failed")?;
    for fd in 3..hard.min(1 << 20) as i32 {
        // SAFETY: F_SETFD only sets a flag on an fd number; one that is not open is EBADF.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

/// Every signal back to its default action (SIG_DFL), and none blocked: rt_sigaction(2).
///
/// We ask the kernel directly, for all 64 signals: glibc's sigaction(3) refuses the two real-time
/// signals it keeps for itself (32 and 33), and a caller may have left those ignored too.
fn default_signals() -> Result<()> {
    // The kernel's struct sigaction, all zero: handler SIG_DFL, no flags, an empty mask. 32
    // bytes covers its layout on every architecture Linux runs Rust on.
    let default = [0u64; 4];
    for signal in (1..=64).filter(|&s| s != libc::SIGKILL && s != libc::SIGSTOP) {
        // SAFETY: rt_sigaction reads `default`, which lives until the call returns, and writes
        // nothing (the old action is NULL); SIG_DFL runs no code of ours in a signal context.
        let result = unsafe {
            libc::syscall(libc::SYS_rt_sigaction, signal, default.as_ptr(), std::ptr::null::<u8>(), 8)
        };
        if result != 0 && Errno::last() != Errno::EINVAL {
            return Err(Errno::last()).with_context(|| format!("rt_sigaction({signal}, SIG_DFL) failed"));
        }
    }
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None).context("sigprocmask() failed")?;
    Ok(())
}
