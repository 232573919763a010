//! Where the cgroup filesystems are, and where we are in them: the mount point of a hierarchy
//! (from /proc/self/mountinfo) and our own cgroup's directory there (from /proc/self/cgroup);
//! a name no other run of the step has; and how to remove a cgroup with the ones below it.
//!
//! step08-cgroup on call these from their `cgroup.rs` (step10 on from `limits.rs` too): they
//! find and name the cgroups the steps make, and remove them after. What a step does with a
//! cgroup is the lesson; reading /proc for it is not. Of `common`, it uses `cli` only.
//! cgroups(7): <https://man7.org/linux/man-pages/man7/cgroups.7.html>.

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::unistd::getpid;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The mount point of a cgroup hierarchy, from /proc/self/mountinfo: the last mount of type
/// `fstype` (whose options name `controller`, for v1), the one a path there reaches.
pub fn hierarchy(fstype: &str, controller: Option<&str>) -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mounts.lines().rev().find_map(|line| {
        // ID PARENT MAJOR:MINOR ROOT MOUNT-POINT OPTIONS... - TYPE SOURCE SUPER-OPTIONS
        let (left, right) = line.split_once(" - ")?;
        let right: Vec<&str> = right.split(' ').collect();
        let has = controller.map_or(true, |c| right.get(2).is_some_and(|o| o.split(',').any(|x| x == c)));
        (right[0] == fstype && has).then(|| PathBuf::from(left.split(' ').nth(4).unwrap_or("?")))
    })
}

/// Our own cgroup's directory in the hierarchy mounted at `mount`, from /proc/self/cgroup:
/// the line `0::PATH` for v2, `N:CONTROLLER,...:PATH` for the v1 hierarchy of `controller`.
pub fn own_dir(mount: &Path, controller: Option<&str>) -> Result<PathBuf> {
    let ours = std::fs::read_to_string("/proc/self/cgroup").context("reading /proc/self/cgroup failed")?;
    for line in ours.lines() {
        // HIERARCHY-ID:CONTROLLERS:PATH
        let [_, controllers, path] = line.splitn(3, ':').collect::<Vec<_>>()[..] else {
            continue;
        };
        if controller.map_or(controllers.is_empty(), |c| controllers.split(',').any(|x| x == c)) {
            // PATH and the mount's root (mountinfo's ROOT) are both seen from the root of our
            // cgroup namespace. A hierarchy mounted outside the namespace (`unshare --cgroup`
            // keeps the host's mounts) has its root above ours, "/..": PATH leads to another
            // cgroup there, higher up. Where we may write it (root), we would make our cgroups
            // at the hierarchy's top, out of every limit on our own: refuse. Where we may not
            // (the sandbox), the caller finds it not writable, and goes on without a cgroup of
            // its own, as it would anyway. cgroup_namespaces(7).
            let root = mount_root(mount).unwrap_or_else(|| "/".into());
            let Ok(below) = Path::new(path).strip_prefix(&root) else {
                let elsewhere: PathBuf = mount.join(path.trim_start_matches('/')).components().collect();
                if nix::unistd::access(&elsewhere, nix::unistd::AccessFlags::W_OK).is_err() {
                    return Ok(elsewhere);
                }
                bail!(
                    "{} shows the cgroup hierarchy from outside our cgroup namespace (its root is {root}), \
                     so our cgroup cannot be found there: run the step outside that namespace (made by \
                     unshare --cgroup), or mount the hierarchy again inside it",
                    mount.display()
                );
            };
            return Ok(mount.join(below).components().collect());
        }
    }
    bail!("/proc/self/cgroup does not say where we are in the {} hierarchy", controller.unwrap_or("v2"))
}

/// The root of the mount at `mount`: which cgroup its top directory is (mountinfo's fourth field).
fn mount_root(mount: &Path) -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mounts.lines().rev().find_map(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        (Path::new(fields.get(4)?) == mount).then(|| fields[3].to_string())
    })
}

/// rmdir(2) `dir` and every cgroup below it (a container may have made some), deepest
/// first. A cgroup with processes in it cannot be removed (EBUSY); the container's last
/// processes may take a moment to be gone, so try again for up to two seconds.
pub fn remove_tree(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)?.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path())?;
        }
    }
    for _ in 0..200 {
        match std::fs::remove_dir(dir) {
            Err(err) if err.raw_os_error() == Some(Errno::EBUSY as i32) => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            result => return result,
        }
    }
    std::fs::remove_dir(dir)
}

/// The name of a step's cgroups: `PROGRAM-PID` (`step08-cgroup-4242`), and outside the host's
/// PID namespace (PROC_PID_INIT_INO), where two steps may both be PID 1, `-pidnsINODE`: no
/// other living PID namespace has our inode number.
pub fn name() -> String {
    const HOST_PID_NAMESPACE: u64 = 4026531836;
    let (program, pid) = (crate::cli::program(), getpid());
    match std::fs::metadata("/proc/self/ns/pid").map(|ns| ns.ino()) {
        Ok(HOST_PID_NAMESPACE) | Err(_) => format!("{program}-{pid}"),
        Ok(namespace) => format!("{program}-{pid}-pidns{namespace}"),
    }
}
