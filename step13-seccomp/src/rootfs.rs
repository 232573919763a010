//! Mounts of the container's own, and a root filesystem of its own (`--rootfs DIR`).
//!
//! The mount namespace gives us a copy of the host's mount table; this file decides what goes
//! in it. First we cut our copy off from the host's, then we mount a fresh /proc, and with
//! `--rootfs` we build the article's "mini image" in DIR and make it our `/`.
//!
//! A root filesystem belongs to whoever made it, and a step run by root must treat it as
//! hostile: a symlink `DIR/dev -> /` would have us mount and create files in the host's own
//! `/`. So every path inside DIR is opened with openat2(2) and `RESOLVE_NO_SYMLINKS`, and we
//! mount onto the fd we got (through its name `/proc/self/fd/N`), never onto a path that could
//! be swapped between our check and the mount. runc does the same (its `securejoin` and
//! mounting onto `/proc/self/fd`), after CVE-2019-19921 and CVE-2021-30465.

use anyhow::{bail, Context, Result};
use common::say;
use nix::errno::Errno;
use nix::fcntl::{open, openat, openat2, OFlag, OpenHow, ResolveFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{fstat, mkdirat, Mode, SFlag};
use nix::sys::statfs::{fstatfs, TMPFS_MAGIC};
use nix::sys::statvfs::{fstatvfs, FsFlags};
use nix::unistd::{chdir, fchdir, pivot_root, symlinkat};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

// ANCHOR: private
/// Cut every mount in our new namespace off from the host's.
///
/// `CLONE_NEWNS` copies the parent's mounts *with their propagation type*. Where `/` is a
/// shared mount (every systemd machine: see `findmnt -o TARGET,PROPAGATION /`), a mount made
/// inside would propagate back to the host: the article's C code, run there, replaces the
/// host's /proc with the container's. `MS_REC | MS_PRIVATE` on `/` stops propagation both ways.
/// See mount_namespaces(7), "Shared subtrees".
pub fn make_mounts_private() -> Result<()> {
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .context("making / private: mount(\"/\", MS_REC | MS_PRIVATE) failed")?;
    say!("child: made / recursively private, so no mount leaks to the host");
    Ok(())
}
// ANCHOR_END: private

// ANCHOR: proc
/// Mount a fresh proc on the host's `/proc`, in our namespace only. proc(5) shows the
/// processes of the PID namespace of whoever mounts it, so this one shows only the
/// container's: `ps` reads it.
pub fn mount_proc() -> Result<()> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(Some("proc"), "/proc", Some("proc"), flags, None::<&str>)
        .context("mount(\"proc\", \"/proc\", \"proc\") failed")?;
    say!("child: mounted proc on /proc");
    Ok(())
}
// ANCHOR_END: proc

// ANCHOR: rootfs
/// The article's "mini image": mount what a root filesystem needs into `rootfs`, then make
/// it the container's `/`.
pub fn enter(dir: &Path) -> Result<()> {
    // An absolute path without symlinks: `--rootfs .` included.
    let rootfs = &check(dir)?;
    // We name mount targets /proc/self/fd/N: a host without /proc gets one, in our namespace.
    if !Path::new("/proc/self/fd").exists() {
        mount_proc()?;
    }
    // pivot_root(2) needs the new root to be a mount point: bind-mount the directory onto itself,
    // then open it: the name leads into the mount we just made.
    let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
    mount(Some(rootfs), rootfs, None::<&str>, bind, None::<&str>)
        .with_context(|| format!("bind-mounting {} onto itself failed", rootfs.display()))?;
    let root = open(rootfs, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .with_context(|| format!("opening {} failed", rootfs.display()))?;

    let (nosuid_nodev, noexec) = (MsFlags::MS_NOSUID | MsFlags::MS_NODEV, MsFlags::MS_NOEXEC);
    mount_on(&open_in(&root, "proc")?, "/proc", "proc", nosuid_nodev | noexec, None)?;
    mount_sysfs(&open_in(&root, "sys")?)?;
    mount_on(&open_in(&root, "tmp")?, "/tmp", "tmpfs", nosuid_nodev, Some("mode=1777"))?;
    mount_dev(&root)?;
    bind_host_files(&root)?;

    // Now swap roots. chroot(2) would only change where this process starts resolving "/":
    // the host's whole tree stays mounted in the namespace, and a root process can walk back
    // out of a chroot. pivot_root(2) moves the old root off "/", and once we unmount it no path
    // leads back to the host's files. pivot_root(".", ".") stacks the old root on top of the
    // new one, and umount2(".", MNT_DETACH) takes it away (see the NOTES of pivot_root(2)).
    fchdir(&root).with_context(|| format!("chdir({}) failed", rootfs.display()))?;
    pivot_root(".", ".").context("pivot_root(\".\", \".\") failed")?;
    umount2(".", MntFlags::MNT_DETACH)
        .context("unmounting the old root: umount2(\".\", MNT_DETACH) failed")?;
    chdir("/").context("chdir(\"/\") failed")?;
    say!("child: {} is now /, with its own /proc, /tmp and /dev", dir.display());
    Ok(())
}

/// Mount sysfs, read-only. The kernel lets a user namespace mount sysfs only if it also owns
/// the network namespace (sysfs shows network devices): where it may not, /sys stays empty
/// rather than showing the host's, and we say so.
fn mount_sysfs(target: &OwnedFd) -> Result<()> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY;
    match mount_on(target, "/sys", "sysfs", flags, None) {
        Err(err) if err.downcast_ref::<Errno>() == Some(&Errno::EPERM) => {
            say!("child: left /sys empty: a user namespace may mount sysfs only with a network namespace of its own");
            Ok(())
        }
        result => result,
    }
}

/// A minimal /dev: a tmpfs with a few harmless devices bound from the host, and a private
/// devpts for terminals. The article mounts devtmpfs here, which hands the container every
/// device of the host, disks included; runc and Docker do as we do.
fn mount_dev(root: &OwnedFd) -> Result<()> {
    let beneath = open_in(root, "dev")?;
    // nodev: no device node in this tmpfs opens, so a node the container makes with mknod(2)
    // is useless. A bind mount keeps its source's flags, so the host's nodes bound below open.
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
    mount_on(&beneath, "/dev", "tmpfs", flags, Some("mode=755"))?;
    // Open it again: the name now leads into our tmpfs, a filesystem (st_dev) of its own. Check
    // that it does, in case DIR/dev was swapped meanwhile, and create every file with O_EXCL,
    // so nothing is overwritten.
    let dev = open_in(root, "dev")?;
    let device = |fd: &OwnedFd| fstat(fd).map(|s| s.st_dev).ok();
    let tmpfs = fstatfs(&dev).map(|s| s.filesystem_type()).ok() == Some(TMPFS_MAGIC);
    if !tmpfs || device(&dev) == device(&beneath) {
        bail!("--rootfs: dev changed while we mounted on it; refusing to go on");
    }
    for name in ["null", "zero", "full", "random", "urandom", "tty"] {
        let node = openat(&dev, name, create_new(), Mode::from_bits_truncate(0o666))
            .with_context(|| format!("creating /dev/{name} failed"))?;
        let host = format!("/dev/{name}");
        mount(Some(host.as_str()), &fd_path(&node), None::<&str>, MsFlags::MS_BIND, None::<&str>)
            .with_context(|| format!("bind-mounting {host} failed"))?;
    }
    let nosuid_noexec = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    for (dir, fstype, flags, data) in [
        // newinstance: the container's ptys are its own, not the host's.
        ("pts", "devpts", nosuid_noexec, "newinstance,ptmxmode=0666,mode=620"),
        ("shm", "tmpfs", nosuid_noexec | MsFlags::MS_NODEV, "mode=1777"),
    ] {
        mkdirat(&dev, dir, Mode::from_bits_truncate(0o755))
            .with_context(|| format!("creating /dev/{dir} failed"))?;
        mount_on(&open_in(&dev, dir)?, &format!("/dev/{dir}"), fstype, flags, Some(data))?;
    }
    symlinkat("pts/ptmx", &dev, "ptmx").context("creating /dev/ptmx failed")?;
    Ok(())
}

/// The host's hosts and resolv.conf, bound read-only where DIR has them, so the container
/// resolves names as the host does (as Docker does, with copies of its own) and cannot write
/// to the host's files.
fn bind_host_files(root: &OwnedFd) -> Result<()> {
    for name in ["etc/hosts", "etc/resolv.conf"] {
        let host = Path::new("/").join(name);
        let target = match open_in(root, name) {
            Err(err) if err.downcast_ref::<Errno>() == Some(&Errno::ENOENT) => continue,
            Err(err) if err.downcast_ref::<Errno>() == Some(&Errno::ELOOP) => {
                say!("child: left /{name} as the root filesystem has it: it is a symlink, or has one on its way");
                continue;
            }
            target => target?,
        };
        if !host.exists() || !is_file(&target) {
            continue;
        }
        mount(Some(&host), &fd_path(&target), None::<&str>, MsFlags::MS_BIND, None::<&str>)
            .with_context(|| format!("bind-mounting {} failed", host.display()))?;
        // A bind mount starts writable whatever we ask; remounting makes it read-only. The new
        // name leads into the bind; a swapped one is not a mount point, and remount refuses it.
        let bound = open_in(root, name)?;
        let keep = fstatvfs(&bound).map(|s| s.flags()).unwrap_or(FsFlags::empty());
        let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        flags |= MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        // A user namespace may not change the host's atime flags: keep them (mount(2), EPERM).
        for (st, ms) in [
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ] {
            flags.set(ms, keep.contains(st));
        }
        mount(None::<&str>, &fd_path(&bound), None::<&str>, flags, None::<&str>)
            .with_context(|| format!("making /{name} read-only failed"))?;
        say!("child: bound the host's /{name} read-only");
    }
    Ok(())
}

/// Open `name` inside `dir` without following any symlink on the way: openat2(2) with
/// `RESOLVE_NO_SYMLINKS`, and `RESOLVE_BENEATH`, which refuses `..` out of `dir`. A symlink
/// where a mount point must be is refused with one line that names it.
fn open_in(dir: &OwnedFd, name: &str) -> Result<OwnedFd> {
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_NO_SYMLINKS | ResolveFlag::RESOLVE_BENEATH);
    openat2(dir, name, how).map_err(|errno| {
        let why = match errno {
            Errno::ELOOP => "is a symlink, or has one on its way; refusing it, since a symlink could lead \
                             out of the root filesystem"
                .to_string(),
            Errno::ENOENT => "does not exist: build the root filesystem with tools/mkrootfs".to_string(),
            Errno::ENOSYS => "cannot be checked: openat2(2) needs Linux 5.6 or later".to_string(),
            _ => format!("cannot be opened: {errno}"),
        };
        anyhow::Error::new(errno).context(format!("--rootfs: {name} {why}"))
    })
}

/// mount(2) a new filesystem of type `fstype` onto the directory `target`, named `shown`
/// inside the container, with an error that names the call.
fn mount_on(target: &OwnedFd, shown: &str, fstype: &str, flags: MsFlags, data: Option<&str>) -> Result<()> {
    if !is_dir(target) {
        bail!("--rootfs: {} is not a directory", shown.trim_start_matches('/'));
    }
    mount(Some(fstype), &fd_path(target), Some(fstype), flags, data)
        .map_err(anyhow::Error::new)
        .with_context(|| format!("mount(\"{fstype}\", \"{shown}\", \"{fstype}\") failed"))?;
    say!("child: mounted {fstype} on {shown}");
    Ok(())
}

/// The name by which mount(2) reaches exactly the file `fd` is open on: /proc/self/fd/N.
fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Flags that create a new file, and fail if anything, a symlink included, is there already.
fn create_new() -> OFlag {
    OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY | OFlag::O_CLOEXEC
}

fn is_dir(fd: &OwnedFd) -> bool {
    fstat(fd).is_ok_and(|s| SFlag::from_bits_truncate(s.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR)
}

fn is_file(fd: &OwnedFd) -> bool {
    fstat(fd).is_ok_and(|s| SFlag::from_bits_truncate(s.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG)
}

/// Check `--rootfs DIR` before starting anything, so a mistake costs one clear line, and
/// return it as an absolute path without symlinks (`--rootfs .` included).
pub fn check(rootfs: &Path) -> Result<PathBuf> {
    let how = "build one with tools/mkrootfs DIR";
    let Ok(absolute) = rootfs.canonicalize() else {
        bail!("--rootfs {}: not a directory: {how}", rootfs.display());
    };
    if !absolute.is_dir() {
        bail!("--rootfs {}: not a directory: {how}", rootfs.display());
    }
    if !absolute.join("bin/sh").exists() {
        bail!("--rootfs {}: it has no bin/sh, so it is not a root filesystem: {how}", rootfs.display());
    }
    Ok(absolute)
}
// ANCHOR_END: rootfs
