//! Starting the child with `clone(2)`, exec'ing the command, and waiting for it.

use crate::report::{report, status_of, Failure};
use crate::session::{from_terminal, handles, Console, Relay};
use crate::{say, Args, EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND};
use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::libc;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::CloneFlags;
use nix::sys::resource::{getrlimit, Resource};
use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{execv, pipe2, Pid};
use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// The size of the child's stack: 1 MiB, as the article's `char container_stack[1024*1024]`.
pub const STACK_SIZE: usize = 1024 * 1024;

/// The signals the parent passes on to the container instead of dying of them.
const FORWARDED: [Signal; 4] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT];

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

/// What ties the child to its parent, made before `clone(2)` and used on both sides of it:
/// the child dies with the parent, and signals meant for the container wait for it.
///
/// - A pipe whose write end only the parent holds: when the parent dies, even by SIGKILL, the
///   kernel closes it, and a child that was too late to ask for `PR_SET_PDEATHSIG` sees
///   end-of-file instead. Both ends close on exec, so the command never sees them.
/// - The signals [`wait_for`] forwards are blocked from before `clone` until the parent reads
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

/// In the child: the write end of the "command starts" pipe, which [`exec`] writes to.
static COMMAND_STARTS_W: AtomicI32 = AtomicI32::new(-1);
/// In the parent: its read end, which [`wait_for`] reads.
static COMMAND_STARTS: AtomicI32 = AtomicI32::new(-1);
/// In the child: the read end of the "parent alive" pipe, for [`die_with_parent_again`].
static PARENT_ALIVE: AtomicI32 = AtomicI32::new(-1);
/// In the parent: the command's terminal, if it has one, which [`wait_for`] relays.
static CONSOLE: Mutex<Option<Console>> = Mutex::new(None);

impl Lifeline {
    /// Make the two pipes (and the terminal), and block the forwarded signals. Call it just
    /// before `clone`.
    pub fn new() -> Result<Lifeline> {
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

/// The signals the parent forwards, SIGCHLD, which tells it the child ended, and SIGWINCH,
/// which tells it our terminal changed size.
fn forwarded() -> SigSet {
    FORWARDED.into_iter().chain([Signal::SIGCHLD, Signal::SIGWINCH]).collect()
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

/// Wait for the container to end, and return the exit status the step should end with:
/// the command's own, or 128+N if it died from signal N.
///
/// While it runs, SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to us go to the container instead.
/// A PID 1 ignores signals it has no handler for, so if the container is still running
/// `--stop-timeout` after a forwarded signal, we send SIGKILL, as `docker stop` does.
pub fn wait_for(child: Pid, args: &Args) -> Result<i32> {
    // Made after clone, so the child never has it; the signals are already blocked.
    let signals = SignalFd::with_flags(&forwarded(), SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .context("signalfd() failed")?;
    // With a terminal: ours in raw mode until we return, relayed to the command's.
    let console = CONSOLE.lock().unwrap_or_else(|e| e.into_inner()).take();
    let mut relay = console.map(Relay::start).transpose()?;
    let status = relay_until_exit(child, args, &signals, relay.as_mut());
    if let (Ok(_), Some(relay)) = (&status, relay.as_mut()) {
        relay.drain();
    }
    drop(relay); // our terminal as it was, before we narrate
    match status? {
        WaitStatus::Signaled(_, sig, _) => {
            say!("parent: container was killed by {sig}; our status is {}", 128 + sig as i32);
            Ok(128 + sig as i32)
        }
        WaitStatus::Exited(_, status) => {
            say!("parent: container exited with status {status}");
            Ok(status)
        }
        other => Err(anyhow::anyhow!("waitpid({child}) returned {other:?}")),
    }
}

/// The loop of [`wait_for`]: until the child ends, forward signals and relay the terminal.
fn relay_until_exit(
    child: Pid,
    args: &Args,
    signals: &SignalFd,
    mut relay: Option<&mut Relay>,
) -> Result<WaitStatus> {
    let mut kill_at: Option<Instant> = None;
    // The PID file, removed when dropped, as we return.
    let mut _pid_file = None;
    let starts = COMMAND_STARTS.swap(-1, Ordering::Relaxed);
    let mut starts = (starts >= 0 && args.value("--pid-file").is_some()).then(|| {
        // SAFETY: the pipe's read end that Lifeline::started left us, and that nothing else owns.
        unsafe { OwnedFd::from_raw_fd(starts) }
    });
    loop {
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(ended @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => return Ok(ended),
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
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        fds.extend(starts.as_ref().map(|fd| PollFd::new(fd.as_fd(), PollFlags::POLLIN)));
        let relayed = fds.len();
        fds.extend(relay.as_ref().map(|r| r.poll_fds()).unwrap_or_default());
        let ready = poll(&mut fds, timeout);
        let revents: Vec<_> = fds.iter().map(PollFd::revents).collect();
        drop(fds);
        let typed = match (&ready, relay.as_mut()) {
            (Ok(1..), Some(relay)) => relay.copy_ready(&revents[relayed..]),
            _ => None,
        };
        if let Some(sig) = typed.filter(|&sig| !handles(child, sig)) {
            say!("parent: {sig} typed; the container ignores it, so SIGKILL in {:?}", args.stop_timeout);
            kill_at.get_or_insert(Instant::now() + args.stop_timeout);
        }
        let command_starts = starts.is_some() && revents[1].is_some_and(|r| !r.is_empty());
        if command_starts {
            // A byte: the command starts now. End of file: the child ended before it got there.
            let fd = starts.take().expect("polled");
            if nix::unistd::read(&fd, &mut [0u8; 1]) == Ok(1) {
                let path = Path::new(args.value("--pid-file").unwrap_or_default());
                _pid_file = Some(crate::pidfile::write(path, child)?);
                say!("parent: wrote PID {child} to {}", path.display());
            }
        }
        match ready {
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
            if let (Signal::SIGWINCH, Some(relay)) = (sig, relay.as_ref()) {
                relay.resize();
            }
            if sig == Signal::SIGCHLD || sig == Signal::SIGWINCH {
                continue;
            }
            if from_terminal(&info, child) {
                say!("parent: got {sig} from the terminal, which sent it to the container too");
            } else {
                say!("parent: got {sig}; forwarding it to the container");
                let _ = kill(child, sig);
            }
            kill_at.get_or_insert(Instant::now() + args.stop_timeout);
        }
    }
}
