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
//! Try, as an ordinary user: `target/debug/step06-user sh -c 'id; hostname; echo $$; ps -e'`.

use anyhow::{bail, Context, Result};
use caps::CapSet;
use common::{say, Args, Opt, Step};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{
    chdir, close, getegid, geteuid, getgid, getpid, getuid, pipe2, pivot_root, read, sethostname, Pid,
};
use std::convert::Infallible;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

const STEP: Step = Step {
    name: "step06-user",
    about: "Starts COMMAND in new user, UTS, IPC, PID and mount namespaces: COMMAND is root inside,\n\
            with its own hostname 'container', IPC objects, PID 1 and /proc, while the host sees\n\
            the user who started it. With --rootfs, DIR becomes the container's /.",
    needs: "nothing: any user can run it, where user namespaces are enabled",
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
    .union(CloneFlags::CLONE_NEWNS)
    // user and group IDs, capabilities: https://man7.org/linux/man-pages/man7/user_namespaces.7.html
    .union(CloneFlags::CLONE_NEWUSER);
// ANCHOR_END: flags

/// The hostname inside the container.
const HOSTNAME: &str = "container";

// ANCHOR: child
/// What the child does: the article's `container_main`. It runs in the new process, so
/// everything it changes, it changes for itself and the command it execs.
fn container_main(args: &Args, maps_written: &OwnedFd) -> Result<Infallible> {
    say!("child: running as PID {}", getpid());
    wait_for_id_maps(maps_written)?;
    show_identity()?;
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

// ANCHOR: identity
/// Block until the parent closes its end of the pipe: then our ID maps are written.
fn wait_for_id_maps(maps_written: &OwnedFd) -> Result<()> {
    let mut byte = [0u8; 1];
    loop {
        match read(maps_written, &mut byte) {
            Ok(0) => return Ok(()),
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(errno) => bail!("waiting for the ID maps: read() failed: {errno}"),
        }
    }
}

/// Show who we are now: uid and gid 0, and every capability, in our own user namespace.
fn show_identity() -> Result<()> {
    let effective = caps::read(None, CapSet::Effective).context("reading our capabilities failed")?;
    let known = caps::runtime::procfs_all_supported(None).unwrap_or_else(|_| caps::all());
    let count = match known.is_subset(&effective) {
        true => format!("all {}", known.len()),
        false => format!("{} of {}", effective.len(), known.len()),
    };
    say!(
        "child: uid {}, gid {}, {count} capabilities, inside the user namespace",
        getuid(),
        getgid()
    );
    Ok(())
}
// ANCHOR_END: identity

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
    mount_sysfs(&rootfs.join("sys"))?;
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

/// Mount sysfs on `target`, or bind the host's /sys where a user namespace may not.
///
/// The kernel lets a user namespace mount sysfs only if it also owns the network namespace
/// (sysfs shows network devices); this step has none of its own yet, so mount(2) says EPERM.
/// Docker does the same as our fallback when it runs a container without a network namespace.
fn mount_sysfs(target: &Path) -> Result<()> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY;
    match mount(Some("sysfs"), target, Some("sysfs"), flags, None::<&str>) {
        Ok(()) => {
            say!("child: mounted sysfs on {}", target.display());
            Ok(())
        }
        Err(Errno::EPERM) => {
            mount(
                Some("/sys"),
                target,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .with_context(|| format!("bind-mounting /sys on {} failed", target.display()))?;
            say!("child: may not mount sysfs without a network namespace; bound the host's /sys instead");
            Ok(())
        }
        Err(errno) => {
            Err(errno).with_context(|| format!("mount(\"sysfs\", \"{}\") failed", target.display()))
        }
    }
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
    // No CAP_SYS_ADMIN needed: the user namespace is made first, and we own what comes after.
    if let Some(rootfs) = args.value("--rootfs") {
        check_rootfs(Path::new(rootfs))?;
    }
    // The child waits on this pipe until we have written its ID maps, and goes on at EOF, when
    // we close our end. O_CLOEXEC: the command never sees it.
    let (maps_written, maps_written_w) = pipe2(OFlag::O_CLOEXEC).context("pipe2() failed")?;
    let writer = maps_written_w.as_raw_fd();
    let child = common::clone_child(FLAGS, || {
        let _ = close(writer); // the child's copy of our end, or it would never see EOF
        container_main(args, &maps_written).map_err(common::userns::explain)
    })
    .map_err(common::userns::explain)?;
    say!(
        "parent: started container PID {child} with {}",
        common::flag_names(FLAGS)
    );
    if let Err(err) = write_id_maps(child) {
        let _ = kill(child, Signal::SIGKILL);
        let _ = waitpid(child, None);
        return Err(err);
    }
    drop(maps_written_w); // EOF: the child may go on
    common::wait_for(child, args)
}
// ANCHOR_END: parent

// ANCHOR: maps
/// Map root inside the child's user namespace to our own IDs outside: user_namespaces(7),
/// "User and group ID mappings", <https://man7.org/linux/man-pages/man7/user_namespaces.7.html>.
/// Each line is `ID-inside ID-outside count`; an unprivileged process may map just its own ID.
///
/// The article's C code ignores errors here, and on kernels since 3.19 its gid_map write fails
/// silently: an unprivileged process must first write `deny` to /proc/PID/setgroups, so that
/// nobody inside can drop a group with setgroups(2) that the host used to keep them out.
fn write_id_maps(child: Pid) -> Result<()> {
    write_proc_file(child, "uid_map", &format!("0 {} 1", geteuid()))?;
    write_proc_file(child, "setgroups", "deny")?;
    write_proc_file(child, "gid_map", &format!("0 {} 1", getegid()))
}

fn write_proc_file(child: Pid, name: &str, line: &str) -> Result<()> {
    let path = format!("/proc/{child}/{name}");
    if !Path::new("/proc/self").exists() {
        bail!("cannot write {path}: /proc is not mounted here; mount it with: mount -t proc proc /proc");
    }
    std::fs::write(&path, format!("{line}\n"))
        .with_context(|| format!("writing '{line}' to {path} failed"))?;
    say!("parent: wrote '{line}' to {path}");
    Ok(())
}
// ANCHOR_END: maps
