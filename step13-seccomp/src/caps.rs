//! What root inside may still do: Docker's 14 default capabilities, and /proc and /sys with
//! their dangerous corners hidden or read-only.
//!
//! A user namespace hides the host, but its root holds every capability over what its
//! namespaces own: it may mount, unmount what we mounted (lifting a mask), set the hostname,
//! write /proc/sys files its namespaces own. Docker keeps 14 capabilities (moby's
//! `DefaultCapabilities`) and drops the rest; runc masks the /proc files that leak the host's
//! kernel (`/proc/kcore`, `/proc/keys`...) and makes `/proc/sys` and a few others read-only.
//! We do the same, in that order: the masks first (mount(2) needs CAP_SYS_ADMIN), the drop
//! last, just before exec. See capabilities(7),
//! <https://man7.org/linux/man-pages/man7/capabilities.7.html>.

use ::caps::{CapSet, Capability, CapsHashSet};
use anyhow::{Context, Result};
use common::say;
use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fstat, SFlag};
use nix::sys::statvfs::{fstatvfs, FsFlags};
use std::os::fd::{AsRawFd, OwnedFd};

// ANCHOR: kept
/// moby's `DefaultCapabilities` (oci/caps/defaults.go): what `docker run` leaves root.
/// CAP_SYS_ADMIN (mount, sethostname, setns...), CAP_NET_ADMIN, CAP_SYS_PTRACE, CAP_SYS_MODULE
/// and the other 27 are not among them.
pub const DOCKER_DEFAULTS: [Capability; 14] = [
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FSETID,
    Capability::CAP_FOWNER,
    Capability::CAP_MKNOD,
    Capability::CAP_NET_RAW,
    Capability::CAP_SETGID,
    Capability::CAP_SETUID,
    Capability::CAP_SETFCAP,
    Capability::CAP_SETPCAP,
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_SYS_CHROOT,
    Capability::CAP_KILL,
    Capability::CAP_AUDIT_WRITE,
];
// ANCHOR_END: kept

// ANCHOR: paths
/// runc's default masked paths (Docker's `oci.DefaultSpec`): the host's kernel memory, its
/// keys, timers and scheduler state, its hardware. A file gets /dev/null bound over it, a
/// directory an empty read-only tmpfs.
const MASKED: [&str; 12] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// runc's default read-only paths: the kernel's knobs (`/proc/sys`), the magic SysRq key,
/// interrupts' CPU affinity, buses and filesystems' settings.
const READ_ONLY: [&str; 5] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];
// ANCHOR_END: paths

// ANCHOR: mask
/// Hide [`MASKED`] and make [`READ_ONLY`] read-only, in our own mount namespace, once /proc is
/// the container's. What does not exist here (no sysfs, an older kernel) is skipped.
pub fn mask_paths() -> Result<()> {
    let (mut masked, mut read_only) = (0, 0);
    for path in MASKED {
        let Some(target) = open_path(path)? else { continue };
        if is_dir(&target) {
            // An empty tmpfs, read-only, that no file or device can be made in.
            let flags = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
            mount(Some("tmpfs"), &fd_path(&target), Some("tmpfs"), flags, None::<&str>)
        } else {
            mount(Some("/dev/null"), &fd_path(&target), None::<&str>, MsFlags::MS_BIND, None::<&str>)
        }
        .with_context(|| format!("masking {path}: mount(2) over it failed"))?;
        masked += 1;
    }
    for path in READ_ONLY {
        let Some(target) = open_path(path)? else { continue };
        // A bind mount starts with its source's flags, read-write; only a remount of the bind
        // makes it read-only (mount(2), "Creating a bind mount").
        mount(Some(&fd_path(&target)), &fd_path(&target), None::<&str>, MsFlags::MS_BIND, None::<&str>)
            .with_context(|| format!("binding {path} onto itself failed"))?;
        // Open it again: the name now leads into the bind, the mount we may remount.
        let Some(bound) = open_path(path)? else { continue };
        mount(None::<&str>, &fd_path(&bound), None::<&str>, remount_read_only(&bound), None::<&str>)
            .with_context(|| format!("making {path} read-only: mount(MS_REMOUNT | MS_RDONLY) failed"))?;
        read_only += 1;
    }
    say!("child: masked {masked} paths of /proc and /sys, made {read_only} read-only (as runc does)");
    Ok(())
}

/// The flags that remount a bind read-only. In a user namespace the kernel refuses (EPERM) a
/// remount that would clear a flag it locked (nosuid, nodev, noexec, the atime flags of a
/// mount inherited from a more privileged namespace), so we keep every flag the mount has, as
/// runc does (mount(2), "EPERM"; mount_namespaces(7), "Restrictions on mount namespaces").
fn remount_read_only(bound: &OwnedFd) -> MsFlags {
    let keep = fstatvfs(bound).map(|s| s.flags()).unwrap_or(FsFlags::empty());
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    for (st, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        flags.set(ms, keep.contains(st));
    }
    flags
}

/// Open `path` without following a symlink on the way (openat2(2), `RESOLVE_NO_SYMLINKS`):
/// /sys may be the root filesystem's own directory, and a symlink there must not lead our
/// mount elsewhere. `None` when it does not exist, or is a symlink (said so).
fn open_path(path: &str) -> Result<Option<OwnedFd>> {
    let how =
        OpenHow::new().flags(OFlag::O_PATH | OFlag::O_CLOEXEC).resolve(ResolveFlag::RESOLVE_NO_SYMLINKS);
    match openat2(nix::fcntl::AT_FDCWD, path, how) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::ENOENT) => Ok(None),
        Err(Errno::ELOOP) => {
            say!("child: left {path} alone: it is a symlink, or has one on its way");
            Ok(None)
        }
        Err(errno) => Err(errno).with_context(|| format!("opening {path} to mask it failed")),
    }
}

/// The name by which mount(2) reaches exactly the file `fd` is open on.
fn fd_path(fd: &OwnedFd) -> std::path::PathBuf {
    format!("/proc/self/fd/{}", fd.as_raw_fd()).into()
}

fn is_dir(fd: &OwnedFd) -> bool {
    fstat(fd).is_ok_and(|s| SFlag::from_bits_truncate(s.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR)
}
// ANCHOR_END: mask

// ANCHOR: drop
/// Keep [`DOCKER_DEFAULTS`], drop every other capability from every set; with
/// `no_new_privileges`, also make sure no exec can give any back. Called last before exec:
/// after this, even our own mount(2) and sethostname(2) fail with EPERM.
pub fn drop_to_docker_defaults(no_new_privileges: bool) -> Result<()> {
    show("before");
    let kept: CapsHashSet = DOCKER_DEFAULTS.into_iter().collect();
    // Ambient: what a non-root exec would keep (PR_CAP_AMBIENT_CLEAR_ALL, prctl(2)).
    ::caps::clear(None, CapSet::Ambient).context("clearing the ambient set: prctl(PR_CAP_AMBIENT) failed")?;
    // Bounding: the most any exec can ever give this process and its children, root's
    // setuid programs and file capabilities included. Dropping needs CAP_SETPCAP, which we
    // keep, and cannot be undone (PR_CAPBSET_DROP, prctl(2)).
    for cap in ::caps::runtime::thread_all_supported().difference(&kept) {
        ::caps::drop(None, CapSet::Bounding, *cap).with_context(|| {
            format!("dropping {cap} from the bounding set: prctl(PR_CAPBSET_DROP) failed")
        })?;
    }
    // Inheritable: empty, as moby has left it since CVE-2022-24769, so no file's inheritable
    // capabilities match ours across exec.
    ::caps::clear(None, CapSet::Inheritable).context("clearing the inheritable set: capset(2) failed")?;
    // Effective, then permitted (capset(2) refuses an effective set larger than the permitted).
    // Root's exec recomputes both from the bounding set: see "Capabilities and execution of
    // programs by root" in capabilities(7).
    ::caps::set(None, CapSet::Effective, &kept).context("setting the effective set: capset(2) failed")?;
    ::caps::set(None, CapSet::Permitted, &kept).context("setting the permitted set: capset(2) failed")?;
    if no_new_privileges {
        // No exec may raise privileges again: setuid and setgid bits and file capabilities are
        // ignored. Inherited by children, never unset (PR_SET_NO_NEW_PRIVS, prctl(2);
        // https://docs.kernel.org/userspace-api/no_new_privs.html).
        nix::sys::prctl::set_no_new_privs().context("prctl(PR_SET_NO_NEW_PRIVS) failed")?;
        say!("child: no_new_privs set: setuid programs and file capabilities give nothing");
    }
    show("after");
    Ok(())
}
// ANCHOR_END: drop

// ANCHOR: show
/// Narrate CapEff and CapBnd as /proc/self/status shows them, decoded by name.
fn show(when: &str) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for field in ["CapEff", "CapBnd"] {
        let hex = status.lines().find_map(|l| l.strip_prefix(&format!("{field}:"))).unwrap_or("").trim();
        let mask = u64::from_str_radix(hex, 16).unwrap_or(0);
        let all = ::caps::runtime::thread_all_supported();
        if !all.is_empty() && all.iter().all(|c| mask & c.bitmask() != 0) {
            say!("child: {when} the drop, {field}: all {} capabilities", all.len());
        } else {
            say!("child: {when} the drop, {field} {hex}: {}", decode(mask));
        }
    }
}

/// The names of the capabilities in `mask`, in the kernel's order: `chown dac_override ...`.
fn decode(mask: u64) -> String {
    let mut caps: Vec<Capability> = ::caps::all().into_iter().filter(|c| mask & c.bitmask() != 0).collect();
    caps.sort_by_key(|c| c.index());
    let names: Vec<String> =
        caps.iter().map(|c| c.to_string().trim_start_matches("CAP_").to_lowercase()).collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(" ")
    }
}
// ANCHOR_END: show
