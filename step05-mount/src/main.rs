//! # Step 05: the mount namespace, its own /proc and a root filesystem of its own
//!
//! `CLONE_NEWNS` gives the child its own copy of the mount table (it was the first namespace,
//! in 2002, hence the name "NEWNS" and not "NEWMNT"). Mounts the child makes are its own:
//! - a fresh `/proc` for its PID namespace, so `ps -e` lists only the container's processes;
//! - with `--rootfs DIR`, the article's "mini image": proc, sysfs, /tmp, /dev and the host's
//!   hosts and resolv.conf (read-only) mounted into DIR, then DIR becomes `/` with `pivot_root(2)`.
//!
//! The mount code is in `rootfs.rs`. Try: `sudo target/debug/step05-mount ps -e`, and with a
//! root filesystem: `R=$(mktemp -d) && tools/mkrootfs "$R" && sudo target/debug/step05-mount --rootfs "$R"`.

mod rootfs;

use anyhow::{Context, Result};
use caps::Capability;
use common::{say, Args, Step};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::unistd::{getpid, sethostname};
use std::convert::Infallible;
use std::path::Path;

const STEP: Step = Step {
    name: "step05-mount",
    about: "Starts COMMAND in new UTS, IPC, PID and mount namespaces: the hostname is 'container',\n\
            the host's IPC objects are out of sight, COMMAND is PID 1, and a fresh /proc shows\n\
            only the container's processes. With --rootfs, DIR becomes the container's /.",
    needs: "root (CAP_SYS_ADMIN), to create the namespaces; step06-user needs none",
    options: &[common::cli::ROOTFS, common::cli::INIT],
};

// ANCHOR: flags
/// The namespaces the child gets, one more each step: clone(2),
/// <https://man7.org/linux/man-pages/man2/clone.2.html>.
const FLAGS: CloneFlags = CloneFlags::empty()
    // hostname and NIS domain name: https://man7.org/linux/man-pages/man7/uts_namespaces.7.html
    .union(CloneFlags::CLONE_NEWUTS)
    // System V IPC and POSIX message queues: https://man7.org/linux/man-pages/man7/ipc_namespaces.7.html
    .union(CloneFlags::CLONE_NEWIPC)
    // process IDs, starting again at 1: https://man7.org/linux/man-pages/man7/pid_namespaces.7.html
    .union(CloneFlags::CLONE_NEWPID)
    // the mount table: https://man7.org/linux/man-pages/man7/mount_namespaces.7.html
    .union(CloneFlags::CLONE_NEWNS);
// ANCHOR_END: flags

/// The hostname inside the container.
const HOSTNAME: &str = "container";

// ANCHOR: child
/// What the child does: the article's `container_main`. It runs in the new process, so
/// everything it changes, it changes for itself and the command it execs.
fn container_main(args: &Args) -> Result<Infallible> {
    say!("child: running as PID {}", getpid());
    set_hostname()?;
    rootfs::make_mounts_private()?;
    match args.value("--rootfs") {
        Some(dir) => rootfs::enter(Path::new(dir))?,
        None => rootfs::mount_proc()?,
    }
    // PID 1 must reap orphans and handle signals; --init puts a minimal init there for that.
    if args.flag("--init") {
        return common::init::run(&args.command);
    }
    common::exec(&args.command)
}
// ANCHOR_END: child

// ANCHOR: hostname
/// Set the hostname of the child's own UTS namespace: sethostname(2),
/// <https://man7.org/linux/man-pages/man2/sethostname.2.html>. Without CLONE_NEWUTS this
/// would rename the host itself.
fn set_hostname() -> Result<()> {
    sethostname(HOSTNAME).with_context(|| format!("sethostname(\"{HOSTNAME}\") failed"))?;
    say!("child: hostname is now '{HOSTNAME}'");
    Ok(())
}
// ANCHOR_END: hostname

// ANCHOR: parent
fn main() {
    let args = common::cli::parse(&STEP);
    common::exit_with(start_container(&args));
}

/// What the parent does: start the child with `clone`, then wait for it to end.
fn start_container(args: &Args) -> Result<i32> {
    // Every CLONE_NEW* flag but CLONE_NEWUSER needs CAP_SYS_ADMIN: check first, and explain.
    common::require_cap(Capability::CAP_SYS_ADMIN)?;
    if let Some(dir) = args.value("--rootfs") {
        rootfs::check(Path::new(dir))?;
    }
    let mut stack = common::stack();
    let lifeline = common::Lifeline::new()?;
    // ANCHOR: clone
    // SAFETY: nix's `clone` is unsafe for the reasons fork(2) is, and because the kernel cannot
    // check the stack we hand it. Without CLONE_VM the child runs on its own copy of our memory,
    // as after fork: nothing it does can corrupt ours, and it may allocate and print, because
    // this program starts no threads, so no lock in its copy is held by a thread that is not
    // there. What the copy does not make safe: `stack` has no guard page, so a child that used
    // more than its 1 MiB would overwrite other memory unnoticed; container_main stays far
    // below that (nothing in it recurses).
    let cloned = unsafe {
        nix::sched::clone(
            Box::new(|| lifeline.run_child(|| container_main(args))),
            &mut stack,
            FLAGS,
            Some(Signal::SIGCHLD as i32), // the kernel tells us with SIGCHLD when the child ends
        )
    };
    // ANCHOR_END: clone
    let child = lifeline.started(cloned, FLAGS)?;
    say!("parent: started container PID {child} with {}", common::flag_names(FLAGS, Some(Signal::SIGCHLD)));
    common::wait_for(child, args)
}
// ANCHOR_END: parent
