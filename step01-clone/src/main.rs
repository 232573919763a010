//! # Step 01: `clone()`, a child process with no isolation yet
//!
//! The article starts here. `clone(2)` creates a child process that runs a function of ours on
//! a stack we hand it. With no `CLONE_NEW*` flag, only `SIGCHLD` (the signal the kernel sends
//! us when the child ends), the child shares every namespace with us: this is a `fork()` with
//! extra steps. Each later step adds one flag, and the child sees a little less of the host.
//!
//! Try: `cargo run -p step01-clone -- hostname`, then compare `ls -l /proc/self/ns` inside and out.

use anyhow::Result;
use common::{say, Args, Step};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::unistd::getpid;
use std::convert::Infallible;

const STEP: Step = Step {
    name: "step01-clone",
    about: "Starts COMMAND in a child process made by clone(2), with no new namespaces:\n\
            it sees the same hostname, IPC objects, processes and mounts as the host.",
    needs: "nothing: any user can run it",
    options: &[],
};

// ANCHOR: flags
/// The namespaces the child gets, one more each step: clone(2),
/// <https://man7.org/linux/man-pages/man2/clone.2.html>. None yet.
const FLAGS: CloneFlags = CloneFlags::empty();
// ANCHOR_END: flags

// ANCHOR: child
/// What the child does: the article's `container_main`. It runs in the new process, so
/// everything it changes, it changes for itself and the command it execs.
fn container_main(args: &Args) -> Result<Infallible> {
    say!("child: running as PID {}", getpid());
    common::exec(&args.command)
}
// ANCHOR_END: child

// ANCHOR: parent
fn main() {
    let args = common::cli::parse(&STEP);
    common::exit_with(start_container(&args));
}

/// What the parent does: start the child with `clone`, then wait for it to end.
fn start_container(args: &Args) -> Result<i32> {
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
