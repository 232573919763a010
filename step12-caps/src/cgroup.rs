//! The cgroup namespace, and a cgroup of the container's own (`--pids-max N`).
//!
//! A cgroup ("control group") is a directory in the cgroup filesystem: the processes listed in
//! its `cgroup.procs` share its limits (`pids.max`, `memory.max`...). A cgroup namespace
//! changes no limit; it changes what a process is shown: the cgroup it is in when the
//! namespace is made becomes `/` in its /proc/self/cgroup and in any cgroup filesystem it
//! mounts. That root is fixed when the namespace is made, so the order is the lesson:
//! the parent makes the cgroup and moves the child into it while the child waits on its pipe;
//! only then does the child call unshare(CLONE_NEWCGROUP).
//!
//! The limit sits one level above the container's cgroup, `step08-cgroup-PID/container`:
//! a container that is root in its own user namespace may mount the cgroup filesystem again,
//! read-write, but it can reach only its namespace's root and below, never the limit.
//! `--memory` and `--cpus` (limits.rs) add their files and hierarchies to the same places.

use crate::limits;
use anyhow::{anyhow, bail, Context, Result};
use common::cgroupfs::{hierarchy, name, own_dir, remove_tree};
use common::{say, Args};
use nix::errno::Errno;
use nix::fcntl::{open, openat2, OFlag, OpenHow, ResolveFlag};
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::stat::Mode;
use nix::sys::statfs::{fstatfs, SYSFS_MAGIC};
use nix::unistd::{access, geteuid, getpid, AccessFlags, Pid};
use std::path::{Path, PathBuf};

/// The name of the container's cgroup, inside the one that holds the limit.
pub const CONTAINER: &str = "container";
/// Where root puts its cgroups in the v2 hierarchy (see [`v2_parent`]).
const TOP: &str = "namespaces-tutorial";
/// Where the step moves itself in a delegated cgroup, so that the cgroup may enable controllers
/// for the container's (see [`enable`]).
const LEAF: &str = "step-leaf";
/// pids.max takes at most the kernel's largest PID (PID_MAX_LIMIT).
const PIDS_MAX_LIMIT: u32 = 4_194_304;

// ANCHOR: create
/// The cgroups the parent made for the container, one per hierarchy it uses; removed when the
/// container has ended (or when this is dropped, on any early return).
pub struct Cgroup {
    pub made: Vec<Made>,
}

/// Where one cgroup of the container's goes: the hierarchy's mount point, how /proc/PID/cgroup
/// names that hierarchy (`0::` for v2, `pids:` for v1's), the parent directory, and the limit.
pub struct Place {
    pub mount: PathBuf,
    pub label: &'static str,
    pub parent: PathBuf,
    pub limit: Option<u32>,
    pub settings: Vec<limits::Setting>,
}

/// A cgroup we made: its directory, and its name as /proc/PID/cgroup spells it, for narration.
pub struct Made {
    pub dir: PathBuf,
    shown: String,
}

impl Cgroup {
    /// Make `step08-cgroup-PID/container` (PID is ours) wherever a cgroup is needed and we may
    /// write: in the v2 hierarchy, for the namespace's view, and, for `--pids-max`, where the
    /// pids controller is (the v1 pids hierarchy on a hybrid machine, v2 on a v2-only one).
    /// We decide by whether the parent directory is writable, not by our uid: root in a user
    /// namespace has uid 0 and still may not write the host's cgroups.
    pub fn create(args: &Args) -> Result<Cgroup> {
        let max = pids_max(args)?;
        let v1_pids = hierarchy("cgroup", Some("pids"));
        let mut places = Vec::new();
        if let (Some(mount), Some(_)) = (v1_pids.clone(), max) {
            let parent = own_dir(&mount, Some("pids"))?;
            places.push(Place { mount, label: "pids:", parent, limit: max, settings: Vec::new() });
        }
        if let Some(mount) = hierarchy("cgroup2", None) {
            let limit = if v1_pids.is_none() { max } else { None };
            let parent = v2_parent(&mount)?;
            places.push(Place { mount, label: "0::", parent, limit, settings: Vec::new() });
        }
        if max.is_some() && !places.iter().any(|place| place.limit.is_some()) {
            bail!("--pids-max: this kernel has no pids controller mounted (see /proc/cgroups)");
        }
        limits::place(args, &mut places)?;
        let mut cgroup = Cgroup { made: Vec::new() };
        for place in places {
            if access(&place.parent, AccessFlags::W_OK).is_err() {
                let why = format!("{} is not writable by uid {}", place.parent.display(), geteuid());
                if place.limit.is_some() {
                    // uid 0 that may not write there is root of a user namespace (cargo xtask sandbox)
                    let who = if geteuid().is_root() {
                        "the host's root (uid 0 here is a user namespace's)"
                    } else {
                        "root"
                    };
                    bail!(
                        "--pids-max needs a cgroup of its own, and {why}: run as {who}, or where a \
                         cgroup subtree is delegated to you (systemd-run --user -p Delegate=yes)"
                    );
                }
                say!("parent: no cgroup of its own for the container, only a cgroup namespace: {why}");
                continue;
            }
            if place.limit.is_some() {
                enable(&place.parent, "pids")?;
            }
            cgroup.made.push(make(&place)?);
        }
        Ok(cgroup)
    }

    /// Move the waiting child into the container's cgroups: write its PID to `cgroup.procs`.
    pub fn add(&self, child: Pid) -> Result<()> {
        for made in &self.made {
            write(&made.dir.join(CONTAINER).join("cgroup.procs"), &child.to_string())?;
            say!("parent: moved the container into {}/{CONTAINER}", made.shown);
        }
        Ok(())
    }

    /// Remove the cgroups, once the container has ended. A step killed by SIGKILL leaves them:
    /// find them with `find /sys/fs/cgroup -name 'step08-*'` and remove them with rmdir.
    pub fn remove(&mut self) {
        for made in self.made.drain(..).rev() {
            match remove_tree(&made.dir) {
                Ok(()) => say!("parent: removed {}", made.shown),
                Err(err) => eprintln!(
                    "{}: warning: could not remove the cgroup {}: {err}; remove it with rmdir",
                    common::cli::program(),
                    made.dir.display()
                ),
            }
        }
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        self.remove();
    }
}
// ANCHOR_END: create

// ANCHOR: make
/// Make `step08-cgroup-PID` in `place`, with the limit if there is one, and `container` in it.
fn make(place: &Place) -> Result<Made> {
    let dir = place.parent.join(name());
    mkdir(&dir)?;
    let filled = place.limit.map_or(Ok(()), |max| write(&dir.join("pids.max"), &max.to_string()));
    let filled = filled.and_then(|()| limits::apply(&dir, &place.settings));
    if let Err(err) = filled.and_then(|()| mkdir(&dir.join(CONTAINER))) {
        let _ = remove_tree(&dir);
        return Err(err);
    }
    let shown = format!("{}/{}", place.label, dir.strip_prefix(&place.mount).unwrap_or(&dir).display());
    match place.limit {
        Some(max) => say!("parent: made the cgroup {shown}/{CONTAINER}, under pids.max {max} in {shown}"),
        None => say!("parent: made the cgroup {shown}/{CONTAINER}"),
    }
    Ok(Made { dir, shown })
}

/// Where the container's cgroup goes in the v2 hierarchy. Root uses a cgroup of the tutorial's
/// own at the top, as Docker's cgroupfs driver uses /sys/fs/cgroup/docker: on a machine with
/// cgroup v2 only, a limit works in a cgroup only if its parent lists the controller in
/// `cgroup.subtree_control`, and the kernel refuses that (EBUSY) for a cgroup that holds
/// processes, such as our login session's. Like docker's, it stays (`rmdir` removes it).
/// Others use their own cgroup, which is writable where it is delegated to them.
fn v2_parent(v2: &Path) -> Result<PathBuf> {
    if access(v2, AccessFlags::W_OK).is_err() {
        return own_dir(v2, None);
    }
    let top = v2.join(TOP);
    std::fs::create_dir_all(&top).with_context(|| format!("mkdir {} failed", top.display()))?;
    Ok(top)
}

/// On cgroup v2, a limit works only where the parent enables the controller for its children
/// in `cgroup.subtree_control`. We enable it in the tutorial's own cgroup, and in our own
/// cgroup where it is delegated to us (`systemd-run --user --scope -p Delegate=yes`). The
/// kernel refuses (EBUSY) to enable a controller for the children of a cgroup that holds
/// processes, the "no internal processes" rule, and a delegated scope holds us: so we first
/// move ourselves into a leaf of our own beside the container's, as runc and systemd do.
pub fn enable(parent: &Path, controller: &str) -> Result<()> {
    let control = parent.join("cgroup.subtree_control");
    let Ok(enabled) = std::fs::read_to_string(&control) else {
        return Ok(()); // cgroup v1: every cgroup of a controller's hierarchy has its files
    };
    if enabled.split_whitespace().any(|c| c == controller) {
        return Ok(());
    }
    let above = parent.parent().unwrap_or(parent).join("cgroup.subtree_control");
    let add = format!("+{controller}");
    if parent.ends_with(TOP) {
        // ENOENT: the cgroup above does not offer it (systemd offers cpu once a unit asks for it)
        return write(&control, &add)
            .map_err(|err| anyhow!("{err:#}: is {controller} enabled in {}?", above.display()));
    }
    let offered = std::fs::read_to_string(parent.join("cgroup.controllers")).unwrap_or_default();
    if !offered.split_whitespace().any(|c| c == controller) {
        bail!(
            "the {controller} controller is not delegated to {} (its cgroup.controllers lacks \
             {controller}): start the step with systemd-run --user --scope -p Delegate=yes",
            parent.display()
        );
    }
    move_to_leaf(parent)?;
    write(&control, &add).map_err(|err| match err.root_cause().downcast_ref::<std::io::Error>() {
        Some(io) if io.raw_os_error() == Some(Errno::EBUSY as i32) => anyhow!(
            "{err:#}: other processes than this step are in {}; start the step itself in a scope \
             of its own: systemd-run --user --scope -p Delegate=yes {} ...",
            parent.display(),
            common::cli::program()
        ),
        _ => err,
    })
}

/// Move this process (the parent) out of `parent` into the leaf `parent/LEAF`, so that
/// `parent` holds no process and may enable controllers for its children. The leaf stays
/// while we are in it; systemd removes it with the scope.
fn move_to_leaf(parent: &Path) -> Result<()> {
    let (leaf, pid) = (parent.join(LEAF), getpid().to_string());
    if std::fs::read_to_string(leaf.join("cgroup.procs")).is_ok_and(|p| p.lines().any(|l| l == pid)) {
        return Ok(()); // moved already, for another controller
    }
    std::fs::create_dir_all(&leaf).with_context(|| format!("mkdir {} failed", leaf.display()))?;
    write(&leaf.join("cgroup.procs"), &pid)?;
    say!("parent: moved itself into {}: cgroups whose children have limits hold no process", leaf.display());
    Ok(())
}
// ANCHOR_END: make

// ANCHOR: namespace
/// In the child, once the parent has moved it into its cgroup: a cgroup namespace of its own,
/// rooted where it is now. With a root filesystem of its own, it also gets a cgroup filesystem
/// at /sys/fs/cgroup that shows its own subtree only, read-only, as Docker mounts it.
pub fn enter_namespace(mount_view: bool) -> Result<()> {
    unshare(CloneFlags::CLONE_NEWCGROUP).context("unshare(CLONE_NEWCGROUP) failed")?;
    let ours = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let line = ours.lines().find(|l| l.starts_with("0::")).or(ours.lines().next()).unwrap_or("?");
    say!("child: unshare(CLONE_NEWCGROUP): /proc/self/cgroup now says {line}");
    if !mount_view {
        return Ok(());
    }
    // After pivot_root, "/" is the container's; open the target without following symlinks,
    // and mount onto the fd, as rootfs.rs does.
    let dir = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let root = open("/", dir, Mode::empty()).context("open(\"/\") failed")?;
    let how =
        OpenHow::new().flags(dir).resolve(ResolveFlag::RESOLVE_NO_SYMLINKS | ResolveFlag::RESOLVE_BENEATH);
    let target = openat2(&root, "sys/fs/cgroup", how).ok();
    let Some(target) = target.filter(|fd| fstatfs(fd).is_ok_and(|s| s.filesystem_type() == SYSFS_MAGIC))
    else {
        say!("child: left /sys/fs/cgroup alone: /sys is not a sysfs of ours");
        return Ok(());
    };
    let flags = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&target));
    mount(Some("cgroup2"), path.as_str(), Some("cgroup2"), flags, None::<&str>)
        .context("mount(\"cgroup2\", \"/sys/fs/cgroup\", \"cgroup2\", MS_RDONLY) failed")?;
    say!("child: mounted cgroup2 on /sys/fs/cgroup, read-only: our own cgroup is its root");
    Ok(())
}
// ANCHOR_END: namespace

/// `--pids-max N`: a whole number of processes, 1 or more, as `docker run --pids-limit`.
fn pids_max(args: &Args) -> Result<Option<u32>> {
    let Some(text) = args.value("--pids-max").map(|value| value.to_string_lossy()) else {
        return Ok(None);
    };
    match text.parse::<u32>() {
        Ok(n) if (1..=PIDS_MAX_LIMIT).contains(&n) => Ok(Some(n)),
        _ => bail!("--pids-max takes a number of processes from 1 to {PIDS_MAX_LIMIT}, not '{text}'"),
    }
}

/// mkdir(2) a cgroup. One that exists already was left by a step killed by SIGKILL that had our
/// PID (PIDs are used again, and each PID namespace has its own): say how to remove it.
fn mkdir(dir: &Path) -> Result<()> {
    std::fs::create_dir(dir).map_err(|err| match err.kind() {
        std::io::ErrorKind::AlreadyExists => {
            let procs = std::fs::read_to_string(dir.join(CONTAINER).join("cgroup.procs")).unwrap_or_default();
            let why = if procs.trim().is_empty() {
                format!("a step killed by SIGKILL left it, empty: rmdir {0}/{CONTAINER} {0}", dir.display())
            } else {
                "a container runs in it, of a step with our PID in another PID namespace".into()
            };
            anyhow!("the cgroup {} exists already: {why}", dir.display())
        }
        _ => anyhow!("mkdir {} failed: {err}", dir.display()),
    })
}

/// Write `value` to a cgroup file, with an error that names both.
pub fn write(path: &Path, value: &str) -> Result<()> {
    std::fs::write(path, value).with_context(|| format!("writing '{value}' to {} failed", path.display()))
}
