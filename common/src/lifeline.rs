//! The [`Lifeline`] a step makes just before `clone(2)` and uses on both sides of it, so that
//! the child dies with its parent, and [`die_with_parent_again`] for a child that changed its
//! uid. Every step's main.rs calls them.

use crate::clone::CloneFailed;
use crate::handoff::{COMMAND_STARTS, COMMAND_STARTS_W, CONSOLE};
use crate::report::{report, status_of};
use crate::session::Console;
use crate::wait::forwarded;
use anyhow::{Context, Result};
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::CloneFlags;
use nix::sys::signal::{sigprocmask, SigmaskHow, Signal};
use nix::unistd::{pipe2, Pid};
use std::convert::Infallible;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

/// What ties the child to its parent, made before `clone(2)` and used on both sides of it:
/// the child dies with the parent, and signals meant for the container wait for it.
///
/// - A pipe whose write end only the parent holds: when the parent dies, even by SIGKILL, the
///   kernel closes it, and a child that was too late to ask for `PR_SET_PDEATHSIG` sees
///   end-of-file instead. Both ends close on exec, so the command never sees them.
/// - The signals [`wait_for`](crate::wait_for) forwards are blocked from before `clone` until the parent reads
///   them from a signalfd, so none is lost or kills the parent in between.
/// - A second pipe, the other way, on which the child says "the command starts now", for
///   `--pid-file`: the parent writes the file when the container is set up, not before.
/// - When our stdin is a terminal, a new one for the command (see common/src/session.rs).
pub struct Lifeline {
    parent_alive: OwnedFd,
    parent_alive_w: OwnedFd,
    command_starts: OwnedFd,
    command_starts_w: OwnedFd,
    console: Option<Console>,
}
/// The command keeps fds 0, 1 and 2 whatever its root is. One open on a directory (`0</`) is
/// a way out of any root filesystem: `cd /proc/self/fd/0` leads to that directory of the host.
/// runc passes stdio through as it is and dockerd hands the container pipes; we refuse it.
fn refuse_directories_on_stdio() -> Result<()> {
    for (fd, name) in [(0, "stdin"), (1, "stdout"), (2, "stderr")] {
        // SAFETY: fd 0, 1 or 2 is only borrowed for fstat(2); a closed one gives EBADF.
        let stat = nix::sys::stat::fstat(unsafe { BorrowedFd::borrow_raw(fd) });
        if stat.is_ok_and(|s| s.st_mode & nix::libc::S_IFMT == nix::libc::S_IFDIR) {
            anyhow::bail!(
                "{name} (fd {fd}) is a directory, which would let the command out of its root \
                 filesystem: give it a file, a pipe or a terminal"
            );
        }
    }
    Ok(())
}

/// In the child: the read end of the "parent alive" pipe, for [`die_with_parent_again`].
static PARENT_ALIVE: AtomicI32 = AtomicI32::new(-1);

impl Lifeline {
    /// Make the two pipes (and the terminal), and block the forwarded signals. Call it just
    /// before `clone`.
    pub fn new() -> Result<Lifeline> {
        refuse_directories_on_stdio()?;
        let (parent_alive, parent_alive_w) = pipe2(OFlag::O_CLOEXEC).context("pipe2() failed")?;
        let (command_starts, command_starts_w) = pipe2(OFlag::O_CLOEXEC).context("pipe2() failed")?;
        let console = Console::open_if_terminal()?;
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&forwarded()), None).context("sigprocmask() failed")?;
        Ok(Lifeline { parent_alive, parent_alive_w, command_starts, command_starts_w, console })
    }

    /// In the child, first thing: ask to die with the parent, then run `child`. Returns the
    /// exit status if `child` fails, after printing its error as one line.
    pub fn run_child(&self, child: impl FnOnce() -> Result<Infallible>) -> isize {
        // If the parent dies, even by SIGKILL, the kernel sends us SIGKILL: prctl(2),
        // PR_SET_PDEATHSIG. The kernel clears this when the command changes its uid or execs a
        // setuid program (prctl(2)); `--init` keeps a process of ours as PID 1 for that case.
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
        // Close our copies of the parent's ends, by number: the OwnedFds that hold them are the
        // parent's, and this child never drops them (it execs or exits).
        let _ = nix::unistd::close(self.parent_alive_w.as_raw_fd()); // only the parent's may count
        let _ = nix::unistd::close(self.command_starts.as_raw_fd());
        COMMAND_STARTS_W.store(self.command_starts_w.as_raw_fd(), Ordering::Relaxed);
        PARENT_ALIVE.store(self.parent_alive.as_raw_fd(), Ordering::Relaxed);
        let mut fds = [PollFd::new(self.parent_alive.as_fd(), PollFlags::POLLIN)];
        if poll(&mut fds, PollTimeout::ZERO).unwrap_or(0) > 0 {
            return crate::EXIT_STEP_FAILED as isize; // the parent died before we asked
        }
        // A session of our own, so that the caller's terminal and keys are not the command's.
        match crate::session::begin(self.console.as_ref()).and_then(|()| child()) {
            Ok(never) => match never {},
            Err(err) => {
                report(&err);
                status_of(&err) as isize
            }
        }
    }

    /// In the parent, after `clone`: the child's PID, or why `clone` failed. The parent keeps
    /// the pipe's write end open until it exits, however it exits.
    pub fn started(self, cloned: nix::Result<Pid>, flags: CloneFlags) -> Result<Pid> {
        std::mem::forget(self.parent_alive_w);
        COMMAND_STARTS.store(self.command_starts.into_raw_fd(), Ordering::Relaxed);
        drop(self.command_starts_w); // the child's end: its last copy closes when the command starts
        *CONSOLE.lock().unwrap_or_else(|e| e.into_inner()) = self.console;
        cloned.map_err(|errno| {
            let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&forwarded()), None);
            CloneFailed { errno, flags }.into()
        })
    }
}

/// In the child, after it changed its uid or gid, which clears PR_SET_PDEATHSIG (step06 on,
/// run by root, it takes uid 0 inside its user namespace): ask again to die with the parent,
/// and stop if the parent died in between (the pipe only the parent writes to has ended).
pub fn die_with_parent_again() -> Result<()> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).context("prctl(PR_SET_PDEATHSIG) failed")?;
    // SAFETY: the fd was stored by run_child, in this process, and stays open until exec.
    let parent_alive = unsafe { BorrowedFd::borrow_raw(PARENT_ALIVE.load(Ordering::Relaxed)) };
    let mut fds = [PollFd::new(parent_alive, PollFlags::POLLIN)];
    if poll(&mut fds, PollTimeout::ZERO).unwrap_or(0) > 0 {
        anyhow::bail!("the parent ended while the container was set up; not going on without it");
    }
    Ok(())
}
