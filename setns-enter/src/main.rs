//! # setns-enter: join a running container's namespaces, like a tiny `nsenter`
//!
//! Every namespace a process is in appears as a file under `/proc/PID/ns/`. Opening that
//! file and passing it to `setns(2)` moves the calling process into that namespace. This is
//! how `docker exec` and `nsenter` put a new process into a container that is already running.
//!
//! Three namespaces need care:
//! - the user namespace is entered first: it decides what we may do in all the others;
//! - the PID namespace: `setns` cannot change the PID of a running process, so it only sets
//!   the namespace our *children* will be born in. We start a child, and it runs the command;
//! - the time namespace: `setns` moves us and our future children, but only a process with
//!   one thread may enter one (EUSERS otherwise); we have one, and the child we start is in it.
//!
//! Entering a cgroup namespace moves no process into another cgroup: the command stays in our
//! cgroup, outside the container's limits, and its /proc/self/cgroup shows where that is
//! from the container's root (`/../..`). `docker exec` also writes the new process into the
//! container's `cgroup.procs`.
//!
//! And the process that enters brings nothing of ours in: it becomes the root of the
//! container's user namespace (not host root), cannot be ptraced, and the command gets fds 0-2,
//! default signals, a minimal environment, a new session keyring, and, at a terminal, a
//! terminal of its own instead of ours. `defences.rs` says why each is needed.
//!
//! Try, in a root shell (`sudo -s`): `target/debug/step04-pid --pid-file /run/c.pid sleep 1000 &`,
//! then `target/debug/setns-enter $(cat /run/c.pid) sh -c 'hostname; echo $$'`.

mod defences;

use anyhow::{anyhow, bail, Context, Result};
use common::{say, Args, Step};
use nix::errno::Errno;
use nix::fcntl::{open, openat, OFlag};
use nix::sched::{setns, CloneFlags};
use nix::sys::stat::{fstat, stat, Mode};
use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::OwnedFd;

const STEP: Step = Step {
    name: "setns-enter",
    about: "Usage: setns-enter PID [COMMAND [ARG...]]\n\
            Runs COMMAND (default /bin/bash) in the namespaces of the running process PID,\n\
            with setns(2): its user, UTS, IPC, network, PID, cgroup, time and mount namespaces.",
    needs: "root (CAP_SYS_ADMIN), or the owner of the container's user namespace",
    options: &[],
};

// ANCHOR: kinds
/// The namespaces we enter, in this order: the user namespace first, because it decides which
/// capabilities we have in the others; the mount namespace last, because entering it changes
/// our root directory, and with it what `/proc` means. (nix has no name for CLONE_NEWTIME.)
const KINDS: [(&str, CloneFlags); 8] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("time", CloneFlags::from_bits_retain(nix::libc::CLONE_NEWTIME)),
    ("mnt", CloneFlags::CLONE_NEWNS),
];
// ANCHOR_END: kinds

/// What the common command line runs when it is given no command.
const DEFAULT_COMMAND: &str = "/bin/bash";

const USAGE: &str = "usage: setns-enter PID [COMMAND [ARG...]]";

fn main() {
    let mut args = common::cli::parse(&STEP);
    common::exit_with(enter(&mut args));
}

fn enter(args: &mut Args) -> Result<i32> {
    let pid = split_off_pid(args)?;

    // First, so that nothing of ours reaches the container: no ptrace from it. (No fd of ours
    // survives exec either: common::exec sees to that, as in every step.)
    defences::become_non_dumpable()?;

    let namespaces = open_namespaces(pid)?;
    // Root's groups stay ours: dropped before setns, since the container may deny setgroups.
    let enters_user_namespace = namespaces.iter().any(|(kind, ..)| *kind == "user");
    if enters_user_namespace {
        defences::drop_supplementary_groups()?;
    }

    // ANCHOR: setns
    // setns(2), https://man7.org/linux/man-pages/man2/setns.2.html: the flag makes the kernel
    // check that the file is the kind of namespace we mean.
    for (kind, flag, file) in &namespaces {
        setns(file, *flag).map_err(|errno| {
            let why = match errno {
                Errno::EPERM => "entering a namespace needs CAP_SYS_ADMIN over it: run as root (sudo)",
                Errno::EINVAL => "the kernel refused this namespace (a multi-threaded process may not enter a user namespace)",
                Errno::EUSERS => "a process with more than one thread may not enter a time namespace",
                _ => "see setns(2)",
            };
            anyhow!("setns(/proc/{pid}/ns/{kind}, {}) failed: {errno}: {why}", common::flag_names(*flag, None))
        })?;
        say!("entered the {kind} namespace of PID {pid}");
    }
    // ANCHOR_END: setns

    // In a user namespace that is not ours, be its root, not host root with our uid.
    if enters_user_namespace {
        defences::become_root_of_user_namespace(pid)?;
    }

    // ANCHOR: fork
    // Our own PID cannot change: only a child of ours is born in the container's PID
    // namespace. clone(2) with no flags is a fork(2); the child runs the command, we wait.
    let mut stack = common::stack();
    let lifeline = common::Lifeline::new()?;
    // SAFETY: as in every step's clone call: no CLONE_VM, so the child runs on its own copy of
    // our memory, and this program starts no threads, so no lock in that copy is held; the
    // child only changes directory and execs, far within its 1 MiB stack.
    let cloned = unsafe {
        nix::sched::clone(
            Box::new(|| lifeline.run_child(|| run_command(args))),
            &mut stack,
            CloneFlags::empty(),
            Some(nix::sys::signal::Signal::SIGCHLD as i32),
        )
    };
    let child = lifeline.started(cloned, CloneFlags::empty())?;
    say!("started {} as PID {child}", args.command[0].to_string_lossy());
    common::wait_for(child, args)
    // ANCHOR_END: fork
}

/// The common command line reads `PID COMMAND...` as one command: split off the PID.
fn split_off_pid(args: &mut Args) -> Result<u32> {
    // Given nothing but options, the common command line fills in its default command. No PID
    // is spelled /bin/bash, so that command alone means no PID was given.
    if args.command.len() == 1 && args.command[0].as_bytes() == DEFAULT_COMMAND.as_bytes() {
        bail!("which process? {USAGE}");
    }
    let pid = args.command.remove(0);
    if args.command.is_empty() {
        args.command.push(CString::new(DEFAULT_COMMAND).expect("no NUL"));
    }
    let pid = pid.to_string_lossy();
    pid.parse().map_err(|_| anyhow!("'{pid}' is not a PID: {USAGE}"))
}

// ANCHOR: open
/// Open the namespace files of process `pid`, and keep those we are not in already.
///
/// All of them, before the first setns: once we are in the container's mount namespace,
/// /proc/PID may name another process, or none. And all through one fd of the directory
/// /proc/PID, which stays tied to the process it was opened for: if that process ends and
/// another one gets its PID, opening through the fd fails, instead of giving us a stranger's
/// namespaces. Each with O_CLOEXEC, so the command does not inherit them: open(2),
/// <https://man7.org/linux/man-pages/man2/open.2.html>.
fn open_namespaces(pid: u32) -> Result<Vec<(&'static str, CloneFlags, OwnedFd)>> {
    let dir = format!("/proc/{pid}");
    let process = open(dir.as_str(), OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()).map_err(
        |errno| match errno {
            Errno::ENOENT => anyhow!("open({dir}) failed: there is no process {pid}"),
            _ => anyhow!("open({dir}) failed: {errno}"),
        },
    )?;
    let mut namespaces = Vec::new();
    for (kind, flag) in KINDS {
        // A kernel too old for a kind (cgroup: Linux 4.6, time: 5.6) has no file for it.
        let ours_path = format!("/proc/self/ns/{kind}");
        let Ok(ours) = stat(ours_path.as_str()) else {
            continue;
        };
        let theirs = format!("/proc/{pid}/ns/{kind}");
        let file = openat(&process, format!("ns/{kind}").as_str(), OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|errno| match errno {
                Errno::ENOENT | Errno::ESRCH => anyhow!("open({theirs}) failed: there is no process {pid} any more"),
                Errno::EACCES | Errno::EPERM => anyhow!(
                    "open({theirs}) failed: {errno}: only root or the owner of process {pid} may open its namespaces: run as root (sudo)"
                ),
                _ => anyhow!("open({theirs}) failed: {errno}"),
            })?;
        // A namespace is known by the device and inode numbers of its file. setns(2) to the user
        // namespace we are already in fails with EINVAL; skip any we share.
        let their_ns = fstat(&file).with_context(|| format!("fstat({theirs}) failed"))?;
        if (their_ns.st_dev, their_ns.st_ino) != (ours.st_dev, ours.st_ino) {
            namespaces.push((kind, flag, file));
        }
    }
    Ok(namespaces)
}
// ANCHOR_END: open

/// In the child: now in every namespace of the container, PID included.
fn run_command(args: &Args) -> Result<Infallible> {
    // After setns into a mount namespace the kernel puts our root and working directory at
    // that namespace's root, so paths resolve inside the container; start at its /.
    std::env::set_current_dir("/").context("chdir(\"/\") failed")?;
    // Nothing of our environment but what defences::minimal_environment keeps.
    let keep = defences::minimal_environment();
    for (name, _) in std::env::vars_os() {
        std::env::remove_var(name);
    }
    for (name, value) in keep {
        std::env::set_var(name, value);
    }
    common::exec(&args.command)
}
