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
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow};
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

// ANCHOR: fds
/// Mark every fd above 2 close-on-exec, so the command gets fds 0, 1 and 2 only.
///
/// An fd is a capability: whoever holds one to the host's `/`, a host socket or a root-owned
/// file uses it, whatever namespace it is in (`openat(fd, "..")` climbs out of any container).
/// Whoever started us may have left fds open, without `O_CLOEXEC`; they must not reach the
/// container. We keep them until execve(2), which closes them for us.
///
/// runc does the same before it execs a container's process (`CloseExecFrom(3)`).
/// close_range(2), <https://man7.org/linux/man-pages/man2/close_range.2.html>, does it in one
/// call; its `CLOSE_RANGE_CLOEXEC` needs Linux 5.11, and before that we mark the fds listed in
/// `/proc/self/fd`. We are called before entering the container's mount namespace, where
/// `/proc` would be the container's, listing some other process's fds.
pub fn close_fds_on_exec() -> Result<()> {
    // SAFETY: close_range(2) takes three integers and touches no memory of ours. With
    // CLOSE_RANGE_CLOEXEC it closes nothing now, so no fd that Rust code owns is invalidated.
    let result = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_close_range,
            3,
            nix::libc::c_uint::MAX,
            nix::libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    match Errno::result(result) {
        Ok(_) => Ok(()),
        // ENOSYS: no close_range (before Linux 5.9); EINVAL: no CLOSE_RANGE_CLOEXEC (5.9, 5.10).
        Err(errno @ (Errno::ENOSYS | Errno::EINVAL)) => {
            say!("close_range() is not available ({errno}): marking each fd in /proc/self/fd instead");
            mark_listed_fds_on_exec()
        }
        Err(errno) => Err(anyhow!("close_range(3, ~0, CLOSE_RANGE_CLOEXEC) failed: {errno}")),
    }
}

/// The fallback of [`close_fds_on_exec`]: FD_CLOEXEC on each fd above 2 in `/proc/self/fd`.
fn mark_listed_fds_on_exec() -> Result<()> {
    let listing = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| anyhow!("reading /proc/self/fd failed: {e}: is /proc mounted?"))?;
    // Read the whole list first: the directory's own fd is in it, and closed by the time we mark.
    let fds: Vec<i32> = listing
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: fcntl(2) with F_SETFD takes and changes only integers: on a number that is not
        // an open fd it fails with EBADF, and it changes no fd that Rust code relies on (an fd
        // that Rust code owns keeps working until exec).
        let result = unsafe { nix::libc::fcntl(fd, nix::libc::F_SETFD, nix::libc::FD_CLOEXEC) };
        match Errno::result(result) {
            Ok(_) | Err(Errno::EBADF) => {} // EBADF: the listing's own fd, closed since
            Err(errno) => return Err(anyhow!("fcntl({fd}, F_SETFD, FD_CLOEXEC) failed: {errno}")),
        }
    }
    Ok(())
}
// ANCHOR_END: fds

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

// ANCHOR: signals
/// Give the command every signal at its default action, and none blocked.
///
/// execve(2) resets signals we *handle* to the default, but keeps those we *ignore*, and the
/// signal mask (signal(7), <https://man7.org/linux/man-pages/man7/signal.7.html>). The Rust
/// runtime ignores SIGPIPE, and whoever started us may have ignored more: a command that
/// ignores SIGPIPE keeps writing into a closed pipe, one that ignores SIGTERM cannot be stopped.
pub fn reset_signals() -> Result<()> {
    for signal in 1..=nix::libc::SIGRTMAX() {
        // SIGKILL and SIGSTOP always have their default action. The kernel's real-time signals
        // start at 32, but glibc keeps the first two for its threads (its SIGRTMIN is above
        // them) and refuses to change them; its own posix_spawn may leave them ignored in the
        // programs it starts, and a program that uses them installs its own handlers, so an
        // inherited "ignore" does not hurt it.
        let glibcs_own = (32..nix::libc::SIGRTMIN()).contains(&signal);
        if signal == nix::libc::SIGKILL || signal == nix::libc::SIGSTOP || glibcs_own {
            continue;
        }
        // SAFETY: setting a disposition to SIG_DFL installs no code of ours to run in a signal
        // handler, so nothing here needs to be async-signal-safe.
        if unsafe { nix::libc::signal(signal, nix::libc::SIG_DFL) } == nix::libc::SIG_ERR {
            return Err(anyhow!("signal({signal}, SIG_DFL) failed: {}", Errno::last()));
        }
    }
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .map_err(|errno| anyhow!("sigprocmask(SIG_SETMASK, {{}}) failed: {errno}"))
}
// ANCHOR_END: signals
