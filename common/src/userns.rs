//! Why a user namespace could not be made, or used, in one line.
//!
//! The kernel says only EPERM or ENOSPC. The reasons differ by machine, and each has its own
//! fix, so we look at the sysctls that decide and say which one it is.

use crate::CloneFailed;
use nix::errno::Errno;

/// Add to `err` the reason user namespaces failed here, if we can tell; otherwise return it as is.
pub fn explain(err: anyhow::Error) -> anyhow::Error {
    let clone = err.chain().find_map(|e| e.downcast_ref::<CloneFailed>()).map(|c| c.errno);
    let errno = clone.or_else(|| err.chain().find_map(|e| e.downcast_ref::<Errno>()).copied());
    let hint = match (clone.is_some(), errno) {
        (true, Some(Errno::ENOSPC)) => match sysctl("/proc/sys/user/max_user_namespaces") {
            Some(0) => Some(
                "user namespaces are disabled here: user.max_user_namespaces is 0; \
                 enable them with: sudo sysctl -w user.max_user_namespaces=15000"
                    .to_string(),
            ),
            Some(n) => Some(format!(
                "all the user namespaces allowed here are in use (user.max_user_namespaces is {n}); \
                 end some containers, or raise it with sudo sysctl -w user.max_user_namespaces=..."
            )),
            None => None,
        },
        (true, Some(Errno::EUSERS)) => {
            Some("user namespaces are already nested 32 deep, the kernel's limit".to_string())
        }
        (true, Some(Errno::EPERM)) => Some(match sysctl("/proc/sys/kernel/unprivileged_userns_clone") {
            Some(0) => "unprivileged user namespaces are disabled: kernel.unprivileged_userns_clone is 0; \
                        enable them with: sudo sysctl -w kernel.unprivileged_userns_clone=1, or run as root"
                .to_string(),
            _ => "this system forbids new user namespaces (inside a container, a seccomp filter \
                  usually does); run it on the host, or as root"
                .to_string(),
        }),
        // A container's masked paths (Docker's, step 12's on) are mounts over parts of /proc:
        // the kernel then mounts no new proc in a user namespace, which would show them again.
        (false, Some(Errno::EPERM))
            if err.chain().any(|e| e.to_string().starts_with("mount(\"proc\"")) && proc_is_masked() =>
        {
            Some(
                "the kernel mounts a new proc in a user namespace only where the /proc we see has \
                 nothing mounted over it, and this one has masks (we run in a container: Docker's, \
                 or step 12's on); run the step outside it, or in one without masks (step 11)"
                    .to_string(),
            )
        }
        (false, Some(Errno::EPERM | Errno::EACCES)) => {
            match sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") {
                Some(1) => Some(
                    "AppArmor let us create the user namespace but denies capabilities inside it \
                     (kernel.apparmor_restrict_unprivileged_userns is 1, as on Ubuntu 23.10+); \
                     allow it with: sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, \
                     or run as root"
                        .to_string(),
                ),
                _ => None,
            }
        }
        _ => None,
    };
    match hint {
        Some(hint) => anyhow::anyhow!("{err:#}: {hint}"),
        None => err,
    }
}

/// Whether something is mounted over a part of our /proc (a mount point under /proc/).
fn proc_is_masked() -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    mounts.lines().any(|line| line.split(' ').nth(4).is_some_and(|point| point.starts_with("/proc/")))
}

/// A number from a file under /proc/sys, if the file exists.
fn sysctl(path: &str) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}
