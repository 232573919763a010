//! [`wait_for`]: the parent waits for the container, forwards signals to it, relays its
//! terminal, writes `--pid-file`, and turns its end into our exit status. Every step's main.rs
//! calls it; [`forwarded`] is the set of signals Lifeline blocks before `clone(2)` for it.

use crate::handoff::{COMMAND_STARTS, CONSOLE};
use crate::session::{from_terminal, handles, Relay};
use crate::{say, Args};
use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// The signals the parent passes on to the container instead of dying of them.
const FORWARDED: [Signal; 4] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT];
/// The signals the parent forwards, SIGCHLD, which tells it the child ended, and SIGWINCH,
/// which tells it our terminal changed size.
pub(crate) fn forwarded() -> SigSet {
    FORWARDED.into_iter().chain([Signal::SIGCHLD, Signal::SIGWINCH]).collect()
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
