//! The time namespace: its own offsets for the clocks that count from boot.
//!
//! A time namespace shifts two clocks for the processes in it: CLOCK_MONOTONIC, and
//! CLOCK_BOOTTIME, which /proc/uptime and `uptime` show. It has no offset for CLOCK_REALTIME,
//! the wall clock `date` shows. It was made for checkpoint and restore (CRIU): a container moved
//! to another machine must see its monotonic clocks go on from where they were, and never jump
//! back; the date is the same on both machines, or should be.
//!
//! The kernel decides the order of every step here (time_namespaces(7)):
//! - `CLONE_NEWTIME` is 0x80, inside the low byte of clone(2)'s flags, which holds the signal
//!   the parent gets when the child ends: clone(2) cannot ask for it, only unshare(2) (or
//!   clone3(2), which has a field of its own for the signal);
//! - unshare(CLONE_NEWTIME) does not move the caller: it makes the namespace its *children*
//!   will be born in, /proc/self/ns/time_for_children;
//! - the offsets can be written to /proc/PID/timens_offsets only before any process is in the
//!   namespace (afterwards: EACCES), and not so that a clock would read less than 0 (ERANGE).
//!
//! So the child unshares, writes the offsets, and then joins the namespace itself with
//! setns(2), before it execs the command. (Since Linux 6.1, execve(2) would also move it into
//! time_for_children; older kernels need the setns.)

use anyhow::{anyhow, Context, Result};
use common::{say, Args};
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::libc;
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::stat::Mode;

/// The default offset: 1000 days, a round number large enough to see in `uptime`.
const DEFAULT_OFFSET: i64 = 1000 * 24 * 60 * 60;

// ANCHOR: offset
/// `--uptime-offset SECS`: how far ahead of the host's the container's boot clocks run
/// (negative: behind). Checked before anything starts, so a typo costs one line.
pub fn uptime_offset(args: &Args) -> Result<i64> {
    let Some(value) = args.value("--uptime-offset") else {
        return Ok(DEFAULT_OFFSET);
    };
    let text = value.to_string_lossy();
    text.parse().map_err(|_| anyhow!("--uptime-offset takes a whole number of seconds, not '{text}'"))
}
// ANCHOR_END: offset

// ANCHOR: enter
/// In the child, last before exec: a time namespace whose clocks run `offset` seconds ahead.
pub fn enter(offset: i64) -> Result<()> {
    // nix has no name for it: the bit is libc's.
    let newtime = CloneFlags::from_bits_retain(libc::CLONE_NEWTIME);
    unshare(newtime).map_err(|errno| {
        let why = match errno {
            Errno::EINVAL => ": this kernel has no time namespaces (they came with Linux 5.6)",
            _ => "",
        };
        anyhow!("unshare(CLONE_NEWTIME) failed: {errno}{why}")
    })?;
    say!("child: unshare(CLONE_NEWTIME): our children's clocks will be offset; ours are not yet");

    // One write, both lines: `CLOCK OFFSET-SECONDS OFFSET-NANOSECONDS`.
    let offsets = format!("monotonic {offset} 0\nboottime {offset} 0\n");
    std::fs::write("/proc/self/timens_offsets", &offsets).map_err(|err| offsets_failed(err, offset))?;
    say!("child: wrote 'monotonic {offset} 0' and 'boottime {offset} 0' to /proc/self/timens_offsets");

    // Join the namespace we made for our children: from now on, our own clocks are offset.
    let path = "/proc/self/ns/time_for_children";
    let ns = open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .with_context(|| format!("open({path}) failed"))?;
    setns(&ns, newtime).with_context(|| format!("setns({path}, CLONE_NEWTIME) failed"))?;
    say!("child: setns(time_for_children, CLONE_NEWTIME): our own clocks run {offset} s ahead now");
    Ok(())
}
// ANCHOR_END: enter

/// Why the kernel refused the offsets, in one line.
fn offsets_failed(err: std::io::Error, offset: i64) -> anyhow::Error {
    let errno = Errno::from_raw(err.raw_os_error().unwrap_or(0));
    let why = match errno {
        Errno::ERANGE => {
            ": the kernel lets no offset make a clock negative, as one more negative than the \
             uptime (/proc/uptime) would, nor run it past about 146 years"
        }
        Errno::EACCES => ": a process is in the namespace already; offsets are set once, before",
        Errno::EPERM => ": it takes CAP_SYS_TIME in the namespace's user namespace",
        _ => "",
    };
    anyhow!("writing 'monotonic {offset} 0' to /proc/self/timens_offsets failed: {errno}{why}")
}
