//! `--init`: a minimal init to run as PID 1, as `docker run --init` (tini) and Michael
//! Kerrisk's `simple_init` do.
//!
//! From step04 on, the command is PID 1 of its PID namespace, and PID 1 has two duties that an
//! ordinary program does not know about (pid_namespaces(7),
//! <https://man7.org/linux/man-pages/man7/pid_namespaces.7.html>):
//!
//! - **Signals.** The kernel delivers to PID 1 only the signals it has a handler for, so a
//!   `sleep 60` as PID 1 shrugs off SIGTERM and SIGINT (and our parent has to SIGKILL it).
//! - **Orphans.** Every process whose parent dies is re-parented to PID 1, which must
//!   `wait(2)` for it when it ends; otherwise it stays a zombie, an entry in the process table,
//!   until PID 1 itself ends.
//!
//! With `--init`, the container's PID 1 is this code instead of the command: it forks the
//! command (which gets PID 2 and default signal handling), passes the signals it receives on to
//! it, reaps every child that ends, and, when the command ends, ends with the command's status
//! (128+N if signal N killed it). When PID 1 ends, the kernel kills whatever is left in the
//! namespace, so nothing the command started outlives it.

use crate::report::{report, status_of};
use crate::say;
use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::libc;
use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::AsRawFd;

/// The signals init passes on to the command: the ones our parent forwards to the container
/// (SIGINT, SIGTERM, SIGHUP, SIGQUIT), plus the ones programs commonly handle, as tini does.
const FORWARDED: [Signal; 7] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// Be PID 1: run `command` as our child, forward signals to it and reap every zombie; exit with
/// the command's status once it ends. Returns only if the command could not be started.
pub fn run(command: &[CString]) -> Result<Infallible> {
    // PID 1 never execs, so it keeps what the step's child had: the caller's fds, and memory
    // that came from the host. Not dumpable, its /proc/1/fd, /proc/1/exe (the host's step
    // binary) and memory are out of the container's reach (ptrace, pidfd_getfd(2),
    // process_vm_readv(2)), as runc keeps itself out of reach while it sets a container up;
    // PR_SET_DUMPABLE, prctl(2). The command it forks execs, and is dumpable again.
    nix::sys::prctl::set_dumpable(false).context("init: prctl(PR_SET_DUMPABLE, 0) failed")?;
    // Block the signals we handle, so that none is lost or kills us between here and the
    // signalfd: blocked signals wait as "pending" and the signalfd reads them. A PID 1 would
    // ignore most of them anyway, unless it has a handler or, as here, has them blocked.
    let handled: SigSet = FORWARDED.into_iter().chain([Signal::SIGCHLD]).collect();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&handled), None).context("init: sigprocmask() failed")?;
    let signals = SignalFd::with_flags(&handled, SfdFlags::SFD_CLOEXEC).context("init: signalfd() failed")?;

    // SAFETY: after fork(2) only the calling thread exists in the child; it is safe because this
    // process is single-threaded (the child of a step's clone, which starts no threads), so
    // no lock can be held by a thread that vanished. The child only execs (common::exec gives
    // the command default signals), or prints one line and exits.
    let command_pid = match unsafe { fork() }.context("init: fork() failed")? {
        ForkResult::Child => {
            // exec gives the command default signal handling and an empty signal mask: as PID 2
            // it is an ordinary process, which SIGTERM ends.
            let err = match crate::exec(command) {
                Ok(never) => match never {},
                Err(err) => err,
            };
            report(&err);
            std::process::exit(status_of(&err));
        }
        ForkResult::Parent { child } => child,
    };
    // The command has its copies; init needs none of the fds it was handed but 0 to 2 (the
    // narration) and its signalfd: close the rest (close_range(2), or one by one before 5.9).
    let keep = signals.as_raw_fd() as u32;
    for (first, last) in
        [(3, keep.saturating_sub(1)), (keep + 1, u32::MAX)].into_iter().filter(|(f, l)| f <= l)
    {
        // SAFETY: closes fds only; none of them is used by this process after this point.
        if unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) } != 0 {
            (first..=last.min(1 << 16)).for_each(|fd| unsafe {
                // SAFETY: as above; an fd number that is not open is EBADF.
                libc::close(fd as i32);
            });
        }
    }
    let name = command[0].to_string_lossy();
    say!("init: PID 1 started {name} as PID {command_pid}; it forwards signals and reaps orphans");

    loop {
        // Blocks until a signal comes. SIGCHLD means some child ended: the command, or an orphan
        // that was re-parented to us.
        let info = match signals.read_signal() {
            Ok(Some(info)) => info,
            Ok(None) | Err(Errno::EINTR) => continue,
            Err(errno) => {
                // Without our signalfd we cannot be an init; end, and the kernel ends the rest.
                crate::report::line_to_stderr(&format!(
                    "{}: error: init: reading signals failed: {errno}\n",
                    crate::program::program()
                ));
                let _ = kill(command_pid, Signal::SIGKILL);
                std::process::exit(crate::EXIT_STEP_FAILED);
            }
        };
        match Signal::try_from(info.ssi_signo as i32) {
            Ok(Signal::SIGCHLD) => {
                if let Some(status) = reap_children(command_pid) {
                    say!("init: {name} ended; exiting with its status {status}");
                    std::process::exit(status);
                }
            }
            Ok(sig) if crate::session::from_terminal(&info, command_pid) => {
                say!("init: got {sig} from the terminal, which sent it to {name} too");
            }
            Ok(sig) => {
                say!("init: got {sig}; forwarding it to {name} (PID {command_pid})");
                let _ = kill(command_pid, sig);
            }
            Err(_) => {}
        }
    }
}

/// Reap every child that has ended (several may end per SIGCHLD: signals do not queue).
/// Returns the command's exit status (128+N for signal N) if the command was one of them.
fn reap_children(command_pid: Pid) -> Option<i32> {
    let mut command_status = None;
    loop {
        let (pid, status) = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => (pid, code),
            Ok(WaitStatus::Signaled(pid, sig, _)) => (pid, 128 + sig as i32),
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return command_status,
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => return command_status,
        };
        if pid == command_pid {
            command_status = Some(status);
        } else {
            say!("init: reaped orphan PID {pid} (status {status})");
        }
    }
}
