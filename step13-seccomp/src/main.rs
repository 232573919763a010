//! # Step 13: a system-call filter, as Docker's default seccomp profile
//!
//! Last before the command starts, the child installs a seccomp filter: the kernel kills a call
//! from a foreign architecture, refuses `keyctl`, `bpf`, `mount`, `unshare`, kernel modules and
//! the rest of Docker's list with EPERM, and allows everything else, for the command and all it
//! starts. `--seccomp unconfined` goes without, as `--security-opt seccomp=unconfined` does: see
//! `seccomp.rs`.
//!
//! `target/debug/step13-seccomp grep Seccomp /proc/self/status`

mod caps;
mod cgroup;
mod limits;
mod net;
mod overlay;
mod rootfs;
mod seccomp;
mod timens;
mod userns;

use anyhow::{Context, Result};
use common::{say, Args, Opt, Step};
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{getpid, sethostname};
use std::convert::Infallible;
use std::path::{Path, PathBuf};

const STEP: Step = Step {
    name: "step13-seccomp",
    about: "Starts COMMAND as step12-caps does, under a seccomp filter: a foreign architecture is\n\
            killed; keyctl, bpf, mount, unshare… fail with EPERM, as in Docker's default profile.\n\
            Try it inside a throwaway network namespace: sudo unshare --net target/debug/step13-seccomp",
    needs: "root for the network link, the cgroup and its limits; without it, lo only, no limits",
    options: &[
        common::cli::ROOTFS,
        Opt {
            name: "--image",
            value: Some("DIR"),
            help: "a read-only image under a layer of the container's own",
        },
        Opt {
            name: "--keep-layer",
            value: Some("DIR"),
            help: "keep the layer in DIR, a new or empty directory",
        },
        common::cli::INIT,
        Opt { name: "--bridge", value: Some("NAME"), help: "the bridge to connect to (default lxcbr0)" },
        Opt { name: "--subnet", value: Some("CIDR"), help: "the bridge's subnet (default 192.168.10.0/24)" },
        Opt {
            name: "--ip",
            value: Some("ADDR"),
            help: "the container's address (default: the first free one)",
        },
        Opt { name: "--pids-max", value: Some("N"), help: "at most N processes in the container" },
        Opt { name: "--uptime-offset", value: Some("SECS"), help: "added to the uptime (default 1000 days)" },
        Opt {
            name: "--memory",
            value: Some("SIZE"),
            help: "at most SIZE bytes of memory (k, m, g), no swap",
        },
        Opt { name: "--cpus", value: Some("N"), help: "at most N CPUs' time, e.g. 0.2 for a fifth of one" },
        Opt {
            name: "--no-new-privileges",
            value: None,
            help: "setuid programs and file capabilities give nothing",
        },
        Opt { name: "--seccomp", value: Some("unconfined"), help: "no system-call filter" },
    ],
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
    .union(CloneFlags::CLONE_NEWUSER)
    // interfaces, addresses, routes, ports: https://man7.org/linux/man-pages/man7/network_namespaces.7.html
    .union(CloneFlags::CLONE_NEWNET);
// Not CLONE_NEWCGROUP, whose root would be our own cgroup: the child unshares once moved into its own.
// Nor CLONE_NEWTIME, 0x80, which clone(2) would read as part of the exit signal: see timens.rs.
// ANCHOR_END: flags

/// The hostname inside the container.
const HOSTNAME: &str = "container";

// ANCHOR: child
/// What the child does: the article's `container_main`. It runs in the new process, so
/// everything it changes, it changes for itself and the command it execs.
fn container_main(args: &Args, maps: &userns::Release, layer: &overlay::Layer) -> Result<Infallible> {
    say!("child: running as PID {}", getpid());
    let link = maps.wait()?;
    userns::become_root()?;
    userns::show_identity()?;
    net::set_up_network(&link)?;
    set_hostname()?;
    rootfs::make_mounts_private()?;
    // With --image, the root is the overlay the child mounts, here in its own mount namespace.
    let root = layer.mount()?.or_else(|| args.value("--rootfs").map(PathBuf::from));
    match &root {
        Some(dir) => rootfs::enter(dir)?,
        None => rootfs::mount_proc()?,
    }
    caps::mask_paths()?; // now that /proc is the container's
    cgroup::enter_namespace(root.is_some())?;
    timens::enter(timens::uptime_offset(args)?)?;
    // Before the drop, which takes CAP_SYS_ADMIN: without no_new_privs, the kernel installs a
    // filter only for a process that holds it (see seccomp.rs). Nothing after it is refused.
    seccomp::install(seccomp::wanted(args)?)?;
    // Last: everything above needed CAP_SYS_ADMIN.
    caps::drop_to_docker_defaults(args.flag("--no-new-privileges"))?;
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
    let network = net::Network::from_args(args)?;
    timens::uptime_offset(args)?;
    seccomp::wanted(args)?;
    let layer = overlay::Layer::create(args)?;
    let mut cgroup = cgroup::Cgroup::create(args)?;
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
            Box::new(|| {
                lifeline.run_child(|| container_main(args, &maps, &layer).map_err(common::userns::explain))
            }),
            &mut stack,
            FLAGS,
            Some(Signal::SIGCHLD as i32), // the kernel tells us with SIGCHLD when the child ends
        )
    };
    // ANCHOR_END: clone
    let child = lifeline.started(cloned, FLAGS).map_err(common::userns::explain)?;
    say!("parent: started container PID {child} with {}", common::flag_names(FLAGS, Some(Signal::SIGCHLD)));
    let set_up = userns::write_id_maps(child, &outside)
        .and_then(|()| layer.hand_over(&outside))
        .and_then(|()| net::connect(child, &network, &maps))
        .and_then(|()| cgroup.add(child));
    if let Err(err) = set_up {
        let _ = kill(child, Signal::SIGKILL); // before `maps` closes: its end would tell the child we died
        let _ = waitpid(child, None);
        return Err(err);
    }
    maps.go()?;
    let status = common::wait_for(child, args);
    limits::report(args, &cgroup);
    cgroup.remove();
    layer.show_changes(); // and the layer goes when `layer` does, unless --keep-layer keeps it
    status
}
// ANCHOR_END: parent
