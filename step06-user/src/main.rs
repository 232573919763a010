//! # Step 06: the user namespace, root inside and an ordinary user outside
//!
//! `CLONE_NEWUSER` gives the child its own user and group IDs and its own capabilities. The
//! kernel makes the user namespace first, and the other new namespaces belong to it, so an
//! ordinary user may create them all: no sudo. Inside, the child is root with every
//! capability, but only over what its namespaces own; to the host it is still the user who
//! started it.
//!
//! Which inside ID is which outside ID, the parent writes into `/proc/PID/uid_map` and
//! `gid_map`, while the child waits on a pipe: until then it would be `nobody` (65534).
//!
//! The maps and the pipe are in `userns.rs`. Try, as an ordinary user:
//! `target/debug/step06-user sh -c 'id; hostname; echo $$; ps -e'`.

mod rootfs;
mod userns;

use anyhow::{Context, Result};
use common::{say, Args, Step};
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{getpid, sethostname};
use std::convert::Infallible;
use std::path::Path;

const STEP: Step = Step {
    name: "step06-user",
    about: "Starts COMMAND in new user, UTS, IPC, PID and mount namespaces: COMMAND is root inside,\n\
            with its own hostname 'container', IPC objects, PID 1 and /proc, while the host sees\n\
            the user who started it. With --rootfs, DIR becomes the container's /.",
    needs: "nothing: any user can run it, where user namespaces are enabled",
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
    .union(CloneFlags::CLONE_NEWNS)
    // user and group IDs, capabilities: https://man7.org/linux/man-pages/man7/user_namespaces.7.html
    .union(CloneFlags::CLONE_NEWUSER);
// ANCHOR_END: flags

/// The hostname inside the container.
const HOSTNAME: &str = "container";

// ANCHOR: child
/// What the child does: the article's `container_main`. It runs in the new process, so
/// everything it changes, it changes for itself and the command it execs.
fn container_main(args: &Args, maps: &userns::Release) -> Result<Infallible> {
    say!("child: running as PID {}", getpid());
    maps.wait()?;
    userns::become_root()?;
    userns::show_identity()?;
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
    // No CAP_SYS_ADMIN needed: the user namespace is made first, and we own what comes after.
    if let Some(dir) = args.value("--rootfs") {
        rootfs::check(Path::new(dir))?;
    }
    // Whom the container's root is on the host; never the host's root.
    let outside = userns::Outside::choose()?;
    // The child waits on this pipe until we have written its ID maps.
    let maps = userns::Release::new()?;
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
            Box::new(|| lifeline.run_child(|| container_main(args, &maps).map_err(common::userns::explain))),
            &mut stack,
            FLAGS,
            Some(Signal::SIGCHLD as i32), // the kernel tells us with SIGCHLD when the child ends
        )
    };
    // ANCHOR_END: clone
    let child = lifeline.started(cloned, FLAGS).map_err(common::userns::explain)?;
    say!("parent: started container PID {child} with {}", common::flag_names(FLAGS, Some(Signal::SIGCHLD)));
    if let Err(err) = userns::write_id_maps(child, &outside) {
        let _ = kill(child, Signal::SIGKILL); // before `maps` closes: its end would tell the child we died
        let _ = waitpid(child, None);
        return Err(err);
    }
    maps.go()?;
    common::wait_for(child, args)
}
// ANCHOR_END: parent
