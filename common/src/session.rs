//! A session of the command's own: setsid(2), a pseudo-terminal when the caller has a terminal,
//! and a new session keyring. `Lifeline` (lifeline.rs) opens the terminal before `clone`, the child
//! calls [`begin`], and `wait_for` relays the terminal while it waits.
//!
//! **Why.** A process whose controlling terminal is the caller's can push keystrokes into it
//! with `ioctl(fd, TIOCSTI, &c)` (ioctl_tty(2),
//! <https://man7.org/linux/man-pages/man2/ioctl_tty.2.html>): the kernel allows it to any
//! process whose controlling terminal that is, on every kernel before 6.2 and on later ones
//! where `dev.tty.legacy_tiocsti` is 1. A command in a container that did that to
//! `sudo setns-enter PID hostname` typed `id > /tmp/pwned⏎` into root's shell, which ran it as
//! soon as we ended. So, as runc's init always does, the command gets a session of its own
//! (setsid(2)) and so no controlling terminal of the caller's; when we were given a terminal,
//! the command gets a new one, a pseudo-terminal (pty(7)) whose other end we hold and relay,
//! as `docker run -t` does. Keystrokes it pushes land in its own terminal, where only it reads.
//! With stdin redirected but stdout or stderr on our terminal, the command gets a pseudo-terminal
//! there too, for output only: holding ours, it could read what is typed at it, even after we end.
//!
//! And the caller's session keyring stays the caller's: keyrings(7) and session-keyring(7)
//! (<https://man7.org/linux/man-pages/man7/session-keyring.7.html>). A child inherits its
//! parent's session keyring, and every key in it is readable by any process of the same uid,
//! here the container's (root's keys, for a step run with sudo). runc joins a new, empty one
//! for every container; so do we.

use anyhow::{anyhow, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::libc;
use nix::poll::{PollFd, PollFlags};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::signal::Signal;
use nix::sys::signalfd::siginfo;
use nix::sys::stat::Mode;
use nix::sys::termios::{
    cfmakeraw, tcgetattr, tcsetattr, LocalFlags, SetArg, SpecialCharacterIndices, Termios,
};
use nix::unistd::Pid;
use nix::unistd::{dup2_stderr, dup2_stdin, dup2_stdout, isatty, setsid};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// The pseudo-terminal the command gets when one of our fds 0-2 is a terminal: both ends,
/// opened before `clone`, close-on-exec. The child keeps only the second, the parent the first.
pub(crate) struct Console {
    master: OwnedFd,
    slave: OwnedFd,
    /// Whether it is the command's input too, and its controlling terminal: our stdin is a
    /// terminal, and we are in its foreground. Otherwise it only stands in for our terminal
    /// on fd 1 or 2, so that the command never holds our terminal (and could read what is
    /// typed at it, or write to it after we end).
    input: bool,
    /// The fd, 1 or 2, that is our terminal: where the command's output goes.
    output: i32,
}

impl Console {
    /// A new pseudo-terminal, as large as ours, if one of our fds 0-2 is a terminal; `None`
    /// otherwise (pipes, files, tests, the benchmark), and the command keeps our fds 0-2.
    pub(crate) fn open_if_terminal() -> Result<Option<Console>> {
        let input = at_terminal_in_foreground();
        let output = match (input, is_terminal(libc::STDOUT_FILENO), is_terminal(libc::STDERR_FILENO)) {
            (true, _, _) | (false, true, _) => libc::STDOUT_FILENO,
            (false, false, true) => libc::STDERR_FILENO,
            (false, false, false) => return Ok(None),
        };
        // posix_openpt(3), grantpt(3), unlockpt(3): a new pair from /dev/ptmx. O_NOCTTY, so
        // it does not become our controlling terminal; O_CLOEXEC, so no command inherits it.
        let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
        let master = posix_openpt(flags).context("posix_openpt() failed")?;
        grantpt(&master).context("grantpt() failed")?;
        unlockpt(&master).context("unlockpt() failed")?;
        let name = ptsname_r(&master).context("ptsname() failed")?;
        let slave =
            open(name.as_str(), flags, Mode::empty()).with_context(|| format!("open({name}) failed"))?;
        if !input {
            // Output only: no "\n" to "\r\n" here, which our own terminal does again.
            let mut modes = tcgetattr(&slave).context("tcgetattr(new terminal) failed")?;
            modes.output_flags.remove(nix::sys::termios::OutputFlags::OPOST);
            tcsetattr(&slave, SetArg::TCSANOW, &modes).context("tcsetattr(new terminal) failed")?;
        }
        let console = Console { master: master.into(), slave, input, output };
        console.copy_window_size();
        Ok(Some(console))
    }

    /// Give the command's terminal our terminal's size (rows and columns): TIOCGWINSZ, then
    /// TIOCSWINSZ, which also sends SIGWINCH to the command's foreground process group.
    pub(crate) fn copy_window_size(&self) {
        let mut size = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
        let ours = if self.input { libc::STDIN_FILENO } else { self.output };
        // SAFETY: TIOCGWINSZ writes one struct winsize into `size`, which lives past the call.
        if unsafe { libc::ioctl(ours, libc::TIOCGWINSZ, &mut size) } == 0 {
            // SAFETY: TIOCSWINSZ reads one struct winsize from `size`.
            unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
        }
    }

    /// Our terminal, where the command's output goes.
    fn output(&self) -> BorrowedFd<'_> {
        // SAFETY: fd 1 or 2, which stays open as long as this process lives.
        unsafe { BorrowedFd::borrow_raw(self.output) }
    }

    /// The end we read the command's output from and write its input to.
    pub(crate) fn master(&self) -> BorrowedFd<'_> {
        self.master.as_fd()
    }
}

/// Whether `fd` is open on a terminal: isatty(3).
fn is_terminal(fd: i32) -> bool {
    // SAFETY: isatty only asks the kernel about an fd number; one that is not open is false.
    unsafe { libc::isatty(fd) == 1 }
}

/// Whether our stdin is a terminal whose foreground process group is ours. In the background
/// (`step01-clone sleep 60 &` at a shell), putting the terminal in raw mode would stop us
/// (SIGTTOU), and reading it would steal the shell's input: we relay no input there.
fn at_terminal_in_foreground() -> bool {
    isatty(stdin()).unwrap_or(false) && nix::unistd::tcgetpgrp(stdin()).ok() == Some(nix::unistd::getpgrp())
}

// ANCHOR: begin
/// In the child, before anything else: a new session, the pseudo-terminal (if any) in place
/// of our terminal, and a new session keyring.
pub(crate) fn begin(console: Option<&Console>) -> Result<()> {
    // setsid(2): a new session and process group, led by us, with no controlling terminal. The
    // caller's terminal, if any, is no longer ours: TIOCSTI on it fails (EPERM), and /dev/tty
    // does not open. Ctrl-C there no longer reaches us directly: the parent forwards it.
    setsid().context("setsid() failed")?;
    if let Some(console) = console {
        // The master is the parent's: the command must not be able to read its own input.
        let _ = nix::unistd::close(console.master.as_raw_fd());
        let slave = console.slave.as_fd();
        if console.input {
            // TIOCSCTTY: a session leader without a terminal takes this one as its controlling
            // terminal, so the command's shell gets job control, Ctrl-C and Ctrl-Z (ioctl_tty(2)).
            // SAFETY: TIOCSCTTY takes an int argument (0: steal from no one), touches no memory.
            if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } != 0 {
                return Err(Errno::last()).context("ioctl(TIOCSCTTY) on the new terminal failed");
            }
            dup2_stdin(slave).context("dup2(terminal, 0) failed")?;
        }
        // It replaces our terminal on fds 1 and 2 (copies without close-on-exec; the original
        // closes on exec): the command never holds ours.
        if is_terminal(libc::STDOUT_FILENO) || console.input {
            dup2_stdout(slave).context("dup2(terminal, 1) failed")?;
        }
        if is_terminal(libc::STDERR_FILENO) || console.input {
            dup2_stderr(slave).context("dup2(terminal, 2) failed")?;
        }
    }
    if is_terminal(libc::STDIN_FILENO) && !console.is_some_and(|c| c.input) {
        // Our stdin is a terminal we are in the background of: nothing would stop the command
        // reading what is typed there for the shell (or a password prompt). It reads /dev/null,
        // as with `docker run` without `-i`.
        let null = open("/dev/null", OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
            .context("open(/dev/null) failed")?;
        dup2_stdin(&null).context("dup2(/dev/null, 0) failed")?;
    }
    join_new_session_keyring()
}
// ANCHOR_END: begin

/// keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL): a new, empty, anonymous session keyring, as runc
/// gives every container. keyctl(2), <https://man7.org/linux/man-pages/man2/keyctl.2.html>.
fn join_new_session_keyring() -> Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: with a NULL name the kernel reads no memory of ours; it only changes our keyrings.
    let done =
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, std::ptr::null::<u8>()) };
    match Errno::result(done) {
        Ok(_) => Ok(()),
        // A kernel without keyrings, or a seccomp filter that refuses keyctl (Docker's default
        // profile does, having given us a new session keyring already): no keys to take with us.
        Err(Errno::ENOSYS | Errno::EPERM) => Ok(()),
        Err(errno) => Err(anyhow!(
            "keyctl(KEYCTL_JOIN_SESSION_KEYRING) failed: {errno}: too many keys for this user? see keyrings(7)"
        )),
    }
}

/// In the parent, while the command runs: our terminal in raw mode, relayed to and from the
/// command's. Dropping it puts our terminal back as it was, however we leave `wait_for`.
pub(crate) struct Relay {
    console: Console,
    saved: Option<Termios>,
    stdin_open: bool,
}

impl Relay {
    /// Raw mode on our terminal, as `docker run -t` does: every byte we read goes to the
    /// command's terminal as it is, and its line discipline does the rest (echo, line editing,
    /// Ctrl-C into SIGINT, Ctrl-Z into SIGTSTP, for the command's foreground group only).
    /// Without input, our terminal stays as it is, and we only copy the command's output.
    pub(crate) fn start(console: Console) -> Result<Relay> {
        let saved = match console.input {
            true => Some(tcgetattr(stdin()).context("tcgetattr(stdin) failed")?),
            false => None,
        };
        if let Some(saved) = &saved {
            let mut raw = saved.clone();
            cfmakeraw(&mut raw);
            tcsetattr(stdin(), SetArg::TCSADRAIN, &raw).context("tcsetattr(stdin, raw) failed")?;
        }
        // Never wait for the command to read its input: keystrokes it leaves unread past the
        // terminal's buffer (4 KiB) are dropped, as a terminal drops them, and we keep relaying.
        let _ = nix::fcntl::fcntl(console.master(), nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK));
        let stdin_open = console.input;
        Ok(Relay { console, saved, stdin_open })
    }

    /// What to poll: our stdin (while it is open), and the command's terminal.
    pub(crate) fn poll_fds(&self) -> Vec<PollFd<'_>> {
        let stdin = (self.stdin_open).then(|| PollFd::new(stdin(), PollFlags::POLLIN));
        stdin.into_iter().chain([PollFd::new(self.console.master(), PollFlags::POLLIN)]).collect()
    }

    /// Copy what is ready, after poll said so: our stdin to the command, its output to ours.
    /// Returns SIGINT or SIGQUIT if the input held the key that sends it (Ctrl-C, Ctrl-\\).
    pub(crate) fn copy_ready(&mut self, revents: &[Option<PollFlags>]) -> Option<Signal> {
        let ready = |i: usize| revents.get(i).copied().flatten().is_some_and(|r| !r.is_empty());
        let mut typed = None;
        if self.stdin_open && ready(0) {
            let mut buf = [0u8; 4096];
            match nix::unistd::read(stdin(), &mut buf) {
                Ok(0) | Err(_) => self.stdin_open = false, // our terminal hung up
                Ok(n) => {
                    typed = self.signal_key(&buf[..n]);
                    write_all(self.console.master(), &buf[..n]);
                }
            }
        }
        if ready(usize::from(self.stdin_open)) {
            copy(self.console.master(), self.console.output());
        }
        typed
    }

    /// The signal the command's terminal sends for one of these keystrokes, if it sends one.
    fn signal_key(&self, typed: &[u8]) -> Option<Signal> {
        let modes = tcgetattr(self.console.master()).ok()?;
        let keys = [
            (SpecialCharacterIndices::VINTR, Signal::SIGINT),
            (SpecialCharacterIndices::VQUIT, Signal::SIGQUIT),
        ];
        let signals = modes.local_flags.contains(LocalFlags::ISIG);
        keys.into_iter()
            .find(|(key, _)| signals && typed.contains(&modes.control_chars[*key as usize]))
            .map(|(_, s)| s)
    }

    /// SIGWINCH: our terminal changed size; give the command's the same.
    pub(crate) fn resize(&self) {
        self.console.copy_window_size();
    }

    /// After the command ended: pass on what it wrote last and is still buffered.
    pub(crate) fn drain(&mut self) {
        while copy(self.console.master(), self.console.output()) {}
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(saved) = self.saved.take() {
            let _ = tcsetattr(stdin(), SetArg::TCSADRAIN, &saved);
        }
    }
}

/// Our fd 0, the caller's terminal in relay mode.
fn stdin() -> BorrowedFd<'static> {
    // SAFETY: fd 0 stays open as long as this process lives: nothing of ours closes it.
    unsafe { BorrowedFd::borrow_raw(libc::STDIN_FILENO) }
}

/// Read what `from` has (once) and write all of it to `to`. False at end of file or error.
fn copy(from: BorrowedFd, to: BorrowedFd) -> bool {
    let mut buf = [0u8; 4096];
    match nix::unistd::read(from, &mut buf) {
        Ok(0) | Err(_) => false,
        Ok(n) => write_all(to, &buf[..n]),
    }
}

/// Write all of `bytes` to `to`, or as much as a full terminal takes. False on error.
fn write_all(to: BorrowedFd, bytes: &[u8]) -> bool {
    let mut rest = bytes;
    while !rest.is_empty() {
        match nix::unistd::write(to, rest) {
            Ok(written) => rest = &rest[written..],
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => return true, // the command's terminal is full: drop the rest
            Err(_) => return false,
        }
    }
    true
}

/// Whether `child` catches or blocks `sig`: if neither, and it is a PID 1, the kernel drops the
/// signal its terminal sends it (pid_namespaces(7)), and only our SIGKILL will end it.
pub(crate) fn handles(child: Pid, sig: Signal) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{child}/status")).unwrap_or_default();
    let mask = |field: &str| {
        let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_default();
        u64::from_str_radix(line[field.len()..].trim(), 16).unwrap_or(0)
    };
    (mask("SigCgt:") | mask("SigBlk:")) & (1 << (sig as u64 - 1)) != 0
}

/// Whether the terminal sent this signal (Ctrl-C, Ctrl-\\) to a process group that `child` is
/// in too: the kernel then delivered it to the child as well, and forwarding it would deliver
/// it twice. The kernel marks signals it sends itself with `si_code` SI_KERNEL.
/// A step's child leads a session of its own (setsid), so for the step this holds only before
/// the child got there: afterwards the terminal signals the step alone, and it forwards. It
/// matters to `--init`, whose command shares its process group.
pub(crate) fn from_terminal(info: &siginfo, child: Pid) -> bool {
    const SI_KERNEL: i32 = 0x80;
    info.ssi_code == SI_KERNEL && nix::unistd::getpgid(Some(child)).ok() == Some(nix::unistd::getpgrp())
}
