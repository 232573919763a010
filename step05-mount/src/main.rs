//! # Step 05: the mount namespace, its own /proc and a root filesystem of its own
//!
//! `CLONE_NEWNS` gives the child its own copy of the mount table (it was the first namespace,
//! in 2002, hence the name "NEWNS" and not "NEWMNT"). Mounts the child makes are its own:
//! - a fresh `/proc` for its PID namespace, so `ps -e` lists only the container's processes;
//! - with `--rootfs DIR`, the article's "mini image": proc, sysfs, /tmp, /dev and the host's
//!   identity files mounted into DIR, and then DIR becomes `/` with `pivot_root(2)`.
//!
//! Try: `sudo target/debug/step05-mount ps -e`, and with a root filesystem:
//! `tools/mkrootfs /tmp/rootfs && sudo target/debug/step05-mount --rootfs /tmp/rootfs`.

use anyhow::{bail, Context, Result};
use caps::Capability;
use common::{say, Args, Opt, Step};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::unistd::{chdir, getpid, pivot_root, sethostname};
use std::convert::Infallible;
use std::path::Path;

const STEP: Step = Step {
    name: "step05-mount",
    about: "Starts COMMAND in new UTS, IPC, PID and mount namespaces: the hostname is 'container',\n\
            the host's IPC objects are out of sight, COMMAND is PID 1, and a fresh /proc shows\n\
            only the container's processes. With --rootfs, DIR becomes the container's /.",
    needs: "root (CAP_SYS_ADMIN), to create the namespaces; step06-user needs none",
    options: &[
        Opt {
            name: "--rootfs",
            value: Some("DIR"),
            help: "make DIR the container's root filesystem (build one with tools/mkrootfs DIR)",
        },
        Opt {
            name: "--init",
            value: None,
            help: "run a minimal init as PID 1 that forwards signals to COMMAND and reaps orphans",
        },
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
    make_mounts_private()?;
    match args.value("--rootfs") {
        Some(rootfs) => enter_rootfs(Path::new(rootfs))?,
        None => mount_proc(Path::new("/proc"))?,
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

// ANCHOR: private
/// Cut every mount in our new namespace off from the host's.
///
/// `CLONE_NEWNS` copies the parent's mounts *with their propagation type*. Where `/` is a
/// shared mount (every systemd machine: see `findmnt -o TARGET,PROPAGATION /`), a mount made
/// inside would propagate back to the host: the article's C code, run there, replaces the
/// host's /proc with the container's. `MS_REC | MS_PRIVATE` on `/` stops propagation both ways.
/// See mount_namespaces(7), "Shared subtrees".
fn make_mounts_private() -> Result<()> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context("making / private: mount(\"/\", MS_REC | MS_PRIVATE) failed")?;
    say!("child: made / recursively private, so no mount leaks to the host");
    Ok(())
}
// ANCHOR_END: private

// ANCHOR: proc
/// Mount a fresh proc on `target`. proc(5) shows the processes of the PID namespace of
/// whoever mounts it, so this one shows only the container's: `ps` reads it.
fn mount_proc(target: &Path) -> Result<()> {
    mount_fs(
        "proc",
        target,
        "proc",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
    )
}
// ANCHOR_END: proc

// ANCHOR: rootfs
/// The article's "mini image": mount what a root filesystem needs into `rootfs`, then make
/// it the container's `/`.
fn enter_rootfs(rootfs: &Path) -> Result<()> {
    // pivot_root(2) needs the new root to be a mount point: bind-mount the directory onto itself.
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_context(|| format!("bind-mounting {} onto itself failed", rootfs.display()))?;

    let nosuid_nodev = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    mount_proc(&rootfs.join("proc"))?;
    mount_fs(
        "sysfs",
        &rootfs.join("sys"),
        "sysfs",
        nosuid_nodev | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY,
        None,
    )?;
    mount_fs(
        "tmpfs",
        &rootfs.join("tmp"),
        "tmpfs",
        nosuid_nodev,
        Some("mode=1777"),
    )?;
    mount_dev(&rootfs.join("dev"))?;

    // Docker bind-mounts these from the host, so the container resolves names as the host does.
    for file in ["etc/hostname", "etc/hosts", "etc/resolv.conf"] {
        let (host, inside) = (Path::new("/").join(file), rootfs.join(file));
        if host.exists() && inside.exists() {
            mount(Some(&host), &inside, None::<&str>, MsFlags::MS_BIND, None::<&str>)
                .with_context(|| format!("bind-mounting {} failed", host.display()))?;
        }
    }

    // Now swap roots. chroot(2) would only change where this process starts resolving "/":
    // the host's whole tree stays mounted in the namespace, and a root process can walk back
    // out of a chroot. pivot_root(2) moves the old root off "/", and once we unmount it no path
    // leads back to the host's files. pivot_root(".", ".") stacks the old root on top of the
    // new one, and umount2(".", MNT_DETACH) takes it away (see the NOTES of pivot_root(2)).
    chdir(rootfs).with_context(|| format!("chdir({}) failed", rootfs.display()))?;
    pivot_root(".", ".").context("pivot_root(\".\", \".\") failed")?;
    umount2(".", MntFlags::MNT_DETACH)
        .context("unmounting the old root: umount2(\".\", MNT_DETACH) failed")?;
    chdir("/").context("chdir(\"/\") failed")?;
    say!(
        "child: {} is now /, with its own /proc, /sys, /tmp and /dev",
        rootfs.display()
    );
    Ok(())
}

/// A minimal /dev: a tmpfs with a few harmless devices bound from the host, and a private
/// devpts for terminals. The article mounts devtmpfs here, which hands the container every
/// device of the host, disks included; runc and Docker do as we do.
fn mount_dev(dev: &Path) -> Result<()> {
    mount_fs(
        "tmpfs",
        dev,
        "tmpfs",
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("mode=755"),
    )?;
    for name in ["null", "zero", "full", "random", "urandom", "tty"] {
        let node = dev.join(name);
        std::fs::File::create(&node).with_context(|| format!("creating {} failed", node.display()))?;
        mount(
            Some(&Path::new("/dev").join(name)),
            &node,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .with_context(|| format!("bind-mounting /dev/{name} failed"))?;
    }
    for dir in ["pts", "shm"] {
        std::fs::create_dir(dev.join(dir))
            .with_context(|| format!("creating {}/{dir} failed", dev.display()))?;
    }
    // newinstance: the container's ptys are its own, not the host's.
    mount_fs(
        "devpts",
        &dev.join("pts"),
        "devpts",
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=620"),
    )?;
    mount_fs(
        "tmpfs",
        &dev.join("shm"),
        "tmpfs",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=1777"),
    )?;
    std::os::unix::fs::symlink("pts/ptmx", dev.join("ptmx")).context("creating /dev/ptmx failed")?;
    Ok(())
}

/// mount(2) a new filesystem of type `fstype`, with an error that names the call.
fn mount_fs(source: &str, target: &Path, fstype: &str, flags: MsFlags, data: Option<&str>) -> Result<()> {
    mount(Some(source), target, Some(fstype), flags, data).with_context(|| {
        format!(
            "mount(\"{source}\", \"{}\", \"{fstype}\") failed",
            target.display()
        )
    })?;
    say!("child: mounted {fstype} on {}", target.display());
    Ok(())
}

/// Check `--rootfs DIR` before starting anything, so a mistake costs one clear line.
fn check_rootfs(rootfs: &Path) -> Result<()> {
    let how = "build one with tools/mkrootfs DIR";
    if !rootfs.is_dir() {
        bail!("--rootfs {}: not a directory: {how}", rootfs.display());
    }
    if !rootfs.join("bin/sh").exists() {
        bail!(
            "--rootfs {}: it has no bin/sh, so it is not a root filesystem: {how}",
            rootfs.display()
        );
    }
    Ok(())
}
// ANCHOR_END: rootfs

// ANCHOR: parent
/// What the parent does: start the child with `clone`, then wait for it to end.
fn main() {
    let args = common::cli::parse(&STEP);
    common::exit_with(start_container(&args));
}

fn start_container(args: &Args) -> Result<i32> {
    // Every CLONE_NEW* flag but CLONE_NEWUSER needs CAP_SYS_ADMIN: check first, and explain.
    common::require_cap(Capability::CAP_SYS_ADMIN)?;
    if let Some(rootfs) = args.value("--rootfs") {
        check_rootfs(Path::new(rootfs))?;
    }
    let child = common::clone_child(FLAGS, || container_main(args))?;
    say!(
        "parent: started container PID {child} with {}",
        common::flag_names(FLAGS)
    );
    common::wait_for(child, args)
}
// ANCHOR_END: parent
