//! What stops the container from taking over the process that enters it.
//!
//! The process that enters a container starts outside it, with our privileges and our
//! resources: root's uid, root's groups, fds open on the host. After `setns(2)` it sits in
//! namespaces that the container's root controls. Unless we take care, the container may
//! ptrace it, read its fds through `/proc/PID/fd`, or simply wait for the command to run as
//! host root inside it. These functions are the care, in the order `enter` calls them; each
//! says what the kernel does and which attack it stops. runc and `nsenter` do the same.
//! The rest is `common::exec`'s, as in every step: the command gets fds 0-2 only, and every
//! signal at its default.

use anyhow::{anyhow, Result};
use common::say;
use nix::errno::Errno;
use nix::unistd::{getgroups, setgid, setgroups, setuid, Gid, Uid};

// ANCHOR: dumpable
/// Make this process non-dumpable: prctl(2), PR_SET_DUMPABLE,
/// <https://man7.org/linux/man-pages/man2/prctl.2.html>.
///
/// Another process may ptrace us, or open our `/proc/PID/fd/*` and `/proc/PID/mem`, if it has
/// our uid, or `CAP_SYS_PTRACE` in our user namespace. Once we have entered the container's
/// user namespace, its root has that capability over us, while we still hold what we brought
/// from the host (CVE-2016-9962: runc's `exec`, ptraced by the container's PID 1, leaked host
/// fds; runc's `nsexec` now makes itself non-dumpable first thing, for this reason). A process
/// that is not dumpable may only be ptraced by a holder of `CAP_SYS_PTRACE` in the user
/// namespace its program was started in, the host's, and its `/proc/PID` files belong to root.
///
/// Our child, the command-to-be, inherits this until execve(2). There the kernel makes the
/// process dumpable again if the new program's credentials allow it (not set-user-ID, a file it
/// may read): by then the command runs as the container's root, holds only fds 0-2, and its
/// program belongs to the container's user namespace, so the container's root may ptrace it,
/// as it may any of its processes. That is right: it gets nothing of ours that way.
///
/// Changing our uid also resets the flag, to the value of the `fs.suid_dumpable` sysctl,
/// which may be 1 (dumpable): after we become the container's root, we call this again.
pub fn become_non_dumpable() -> Result<()> {
    nix::sys::prctl::set_dumpable(false)
        .map_err(|errno| anyhow!("prctl(PR_SET_DUMPABLE, 0) failed: {errno}: see prctl(2)"))
}
// ANCHOR_END: dumpable

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
    // The uid change reset our dumpable flag to fs.suid_dumpable: set it again.
    become_non_dumpable()?;
    say!("became uid 0 and gid 0 of the user namespace of PID {pid}");
    Ok(())
}
// ANCHOR_END: root

// ANCHOR: environment
/// The environment the command starts with: `PATH`, `TERM` and `HOME=/root`, nothing else of
/// ours, as sudo's `env_reset` and `docker exec` do.
///
/// The command runs code of the container's, and the container's root may read the
/// environment of any of its processes in `/proc/PID/environ`: whatever we exported (a
/// token, a proxy password, `SSH_AUTH_SOCK`, `LD_PRELOAD` of our own) would be theirs. `TERM`
/// only says what our terminal understands, so it stays, if it looks like a terminal's name.
/// `HOME` is the container's root's home, not ours. (The session keyring we had is not the
/// command's either: `common` gives every command a new one, see keyrings(7).)
pub fn minimal_environment() -> Vec<(&'static str, String)> {
    let term = std::env::var("TERM").ok().filter(|t| {
        !t.is_empty() && t.len() < 64 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b))
    });
    let mut env = vec![("PATH", SECURE_PATH.to_string()), ("HOME", "/root".to_string())];
    env.extend(term.map(|t| ("TERM", t)));
    env
}

/// The PATH sudo gives root (Debian's `secure_path`): the system's directories only.
const SECURE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
// ANCHOR_END: environment
