//! What stops the container from taking over the process that enters it.
//!
//! The process that enters a container starts outside it, with our privileges and our
//! resources: root's uid, root's groups, fds open on the host. After `setns(2)` it sits in
//! namespaces that the container's root controls. Unless we take care, the container may
//! ptrace it, read its fds through `/proc/PID/fd`, or simply wait for the command to run as
//! host root inside it. These functions are the care, in the order `enter` calls them; each
//! says what the kernel does and which attack it stops. runc and `nsenter` do the same.

use anyhow::{anyhow, Result};
use common::say;
use nix::errno::Errno;
use nix::unistd::{getgroups, setgid, setgroups, setuid, Gid, Uid};

// ANCHOR: groups
/// Leave every supplementary group: setgroups(2) with an empty list, before entering the user
/// namespace.
///
/// Groups are not changed by setns(2): root's groups (gid 0, often more) would come with us.
/// It must be done before, because in a user namespace the kernel refuses setgroups(2) where
/// `/proc/PID/setgroups` says `deny` (step06 writes that, as any unprivileged container must):
/// user_namespaces(7), <https://man7.org/linux/man-pages/man7/user_namespaces.7.html>.
///
/// Only root (`CAP_SETGID`) may call it. Without it, we are an ordinary user entering a
/// container we own, whose processes already carry our groups: we keep them, and say so.
pub fn drop_supplementary_groups() -> Result<()> {
    match setgroups(&[]) {
        Ok(()) => Ok(()),
        Err(Errno::EPERM) => {
            let ours = getgroups().map_err(|errno| anyhow!("getgroups() failed: {errno}"))?;
            if !ours.is_empty() {
                say!("kept our supplementary groups {ours:?}: only root may leave them");
            }
            Ok(())
        }
        Err(errno) => Err(anyhow!("setgroups([]) failed: {errno}: see setgroups(2)")),
    }
}
// ANCHOR_END: groups

// ANCHOR: root
/// Become root of the user namespace we entered: setgid(0), then setuid(0), as `nsenter -U`
/// does.
///
/// setns(2) gives us every capability in the container's user namespace, but leaves our uid
/// alone: we would stay host root (seen as `nobody` inside), and execve(2), which recomputes
/// capabilities from the uid, would give the command none. Worse, a process with host uid 0
/// in the container's user namespace may be ptraced by the container's root once it has exec'd:
/// code injected into it acts on the host as root. As uid 0 *of the namespace*, the command is
/// to the host the container's owner, and can do no more than the container's own processes.
///
/// gid first, as always: a process that changes its uid first may lose the right to change
/// its gid. Each fails with EINVAL if 0 is not mapped in the namespace (`/proc/PID/uid_map`):
/// it has no root for us to become.
pub fn become_root_of_user_namespace(pid: u32) -> Result<()> {
    setgid(Gid::from_raw(0)).map_err(|errno| match errno {
        Errno::EINVAL => anyhow!(
            "setgid(0) failed: EINVAL: gid 0 is not mapped in the user namespace of PID {pid} \
             (see /proc/{pid}/gid_map): it has no root for us to become"
        ),
        _ => anyhow!("setgid(0) failed in the user namespace of PID {pid}: {errno}"),
    })?;
    setuid(Uid::from_raw(0)).map_err(|errno| match errno {
        Errno::EINVAL => anyhow!(
            "setuid(0) failed: EINVAL: uid 0 is not mapped in the user namespace of PID {pid} \
             (see /proc/{pid}/uid_map): it has no root for us to become"
        ),
        _ => anyhow!("setuid(0) failed in the user namespace of PID {pid}: {errno}"),
    })?;
    say!("became uid 0 and gid 0 of the user namespace of PID {pid}");
    Ok(())
}
// ANCHOR_END: root
