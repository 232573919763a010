//! Looking at this machine: [`look`] reads the files, sysctls and PATH that decide what can
//! run here ([`look_without_probes`]), and tries each namespace for real, with util-linux
//! `unshare` in a child process, as you and as root; and a seccomp filter, in a child process.
//!
//! Called by `mod.rs` (`cargo xtask doctor`) and by `sandbox.rs`, which explains with these
//! facts why it cannot start. The only part of doctor that reads or runs anything.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use super::machine::{Cgroups, Machine, Outcome, Sudo};
use super::needs::{Probe, APPARMOR_PROFILE, TOOLS};

/// The PATH of the probes doctor, run by root through sudo, runs as you: the system's.
const MINIMAL_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Gather the facts, and run the probes.
pub fn look() -> Machine {
    let mut machine = look_without_probes();
    if machine.sudo != Sudo::NotNeeded {
        machine.sudo = sudo();
    }
    let you = invoking_user();
    // As you: through setpriv if we are root because of sudo, so that "as you" means you. With
    // an environment of its own, cleared first (`env -i`, while still root): a process of yours
    // may read /proc/PID/environ of your processes, and root's variables are not for you.
    let as_you_prefix: Vec<String> = match you {
        Some((uid, gid)) => [
            "env",
            "-i",
            &format!("PATH={MINIMAL_PATH}"),
            "setpriv",
            &format!("--reuid={uid}"),
            &format!("--regid={gid}"),
            "--clear-groups",
        ]
        .map(String::from)
        .to_vec(),
        None => Vec::new(),
    };
    // An ordinary user may try only what needs no root: the user namespaces, and a seccomp
    // filter. The bridge is made with `ip`: without it, doctor cannot try (and says so).
    let ip = in_path("ip");
    let mine: &[Probe] = &[Probe::User, Probe::Sandbox, Probe::Bridge, Probe::Overlay, Probe::Seccomp];
    let yours: &[Probe] = if machine.you_are_root { &Probe::ALL } else { mine };
    let tried = |probes: &[Probe], prefix: &[String]| -> BTreeMap<Probe, Outcome> {
        probes.iter().filter(|&&p| p != Probe::Bridge || ip).map(|&p| (p, probe(prefix, p))).collect()
    };
    machine.as_you = tried(yours, &as_you_prefix);
    machine.as_root = match machine.sudo {
        _ if machine.you_are_root => machine.as_you.clone(),
        Sudo::NotNeeded => tried(&Probe::ALL, &[]),
        Sudo::Works => tried(&Probe::ALL, &["sudo".into(), "-n".into()]),
        _ => BTreeMap::new(),
    };
    machine
}

/// The facts that need no probe: files, sysctls, PATH. The sandbox uses them to explain a failure.
pub fn look_without_probes() -> Machine {
    let root = crate::workspace();
    let euid_root = nix::unistd::geteuid().is_root();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid_map = std::fs::read_to_string("/proc/self/uid_map").ok();
    // "0 0 4294967295": every uid maps to itself; that is the host's user namespace.
    let identity = uid_map
        .as_deref()
        .map_or(true, |m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"]);
    let you = invoking_user();
    let sys_admin = capability(&status, 21).unwrap_or(euid_root); // CAP_SYS_ADMIN is bit 21
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let exe = std::env::current_exe().ok();
    let kernel = kernel_release();
    let target_dir = exe
        .as_deref()
        .and_then(|e| e.parent()?.parent())
        .filter(|t| t.file_name().is_some_and(|n| n == "target") || t.join("debug").is_dir())
        .map_or_else(|| root.join("target"), Path::to_path_buf);
    let doctor = exe.map_or_else(|| "cargo xtask".to_string(), |e| e.display().to_string());
    Machine {
        you: match you {
            Some((uid, _)) => format!("{}, through sudo", user_name(uid)),
            None => user_name(nix::unistd::geteuid().as_raw()),
        },
        you_are_root: sys_admin && you.is_none(),
        root_on_the_host: euid_root && identity,
        uid_map: if identity {
            None
        } else {
            uid_map.map(|m| m.split_whitespace().collect::<Vec<_>>().join(" "))
        },
        // Asking sudo is left to look(): this is also what the sandbox uses to explain a failure.
        sudo: if euid_root { Sudo::NotNeeded } else { Sudo::Missing },
        as_you: BTreeMap::new(),
        as_root: BTreeMap::new(),
        proc_mounted: Path::new("/proc/self").exists(),
        max_user_namespaces: sysctl("user/max_user_namespaces"),
        unprivileged_userns_clone: sysctl("kernel/unprivileged_userns_clone"),
        apparmor_restrict: sysctl("kernel/apparmor_restrict_unprivileged_userns"),
        apparmor_profile_installed: Path::new(APPARMOR_PROFILE).exists(),
        seccomp: field(&status, "Seccomp:").and_then(|v| v.parse().ok()),
        dockerenv: Path::new("/.dockerenv").exists(),
        containerenv: Path::new("/run/.containerenv").exists(),
        wsl: wsl(&std::fs::read_to_string("/proc/version").unwrap_or_default()),
        cgroups: cgroups(&mountinfo),
        root_shared: root_shared(&mountinfo),
        kernel_loads_modules: Path::new("/proc/modules").exists(),
        modules_installed: kernel.as_ref().map(|k| Path::new("/lib/modules").join(k).is_dir()),
        kernel,
        missing_tools: TOOLS
            .iter()
            .filter(|(t, ..)| !in_path(t) && outside_path(t).is_none())
            .map(|(t, ..)| t.to_string())
            .collect(),
        tools_outside_path: TOOLS
            .iter()
            .filter(|(t, ..)| !in_path(t))
            .filter_map(|(t, ..)| Some(outside_path(t)?.display().to_string()))
            .collect(),
        steps: crate::steps(&root).unwrap_or_default(),
        target_dir,
        doctor_command: format!("{doctor} doctor"),
    }
}

/// Run one probe, `[PREFIX...] unshare FLAGS true`, in a child process; or install a seccomp
/// filter in one, which `PREFIX` (sudo, setpriv) cannot carry: whether the kernel has seccomp
/// filters is the same for every user, and no_new_privs lets any user install one.
pub fn probe(prefix: &[String], probe: Probe) -> Outcome {
    if probe == Probe::Seccomp {
        return seccomp_filter();
    }
    crate::unshare::try_unshare(prefix, &crate::unshare::for_this_kernel(probe.flags()), probe.command())
}

/// What step13 does before exec, for real: set no_new_privs and install a seccomp filter, here
/// of one instruction that allows every call, in a child process of ours between fork and
/// exec; the child then runs `true`, and the filter ends with it. Only installing one shows
/// CONFIG_SECCOMP_FILTER: the `Seccomp:` line of /proc/self/status, and prctl(PR_GET_SECCOMP),
/// need only CONFIG_SECCOMP. A kernel without filters says EINVAL. seccomp(2):
/// <https://man7.org/linux/man-pages/man2/seccomp.2.html>
fn seccomp_filter() -> Outcome {
    use nix::libc;
    use std::os::unix::process::CommandExt;
    // BPF_RET|BPF_K: return the constant k, here SECCOMP_RET_ALLOW, whatever the call.
    let allow_all = [libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k: libc::SECCOMP_RET_ALLOW,
    }];
    let install = move || {
        let program = libc::sock_fprog { len: 1, filter: allow_all.as_ptr().cast_mut() };
        let (zero, one): (libc::c_ulong, libc::c_ulong) = (0, 1);
        // SAFETY: prctl(2) with unsigned long arguments (it refuses no_new_privs unless the
        // unused ones are 0), and a pointer to `program`, which lives on this stack frame until
        // the call returns; the kernel copies the program.
        let installed = unsafe {
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, one, zero, zero, zero) == 0
                && libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::c_ulong::from(libc::SECCOMP_MODE_FILTER),
                    &program as *const libc::sock_fprog,
                ) == 0
        };
        if installed {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    let mut child = Command::new("true");
    child.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    // SAFETY: between fork and exec, `install` makes two system calls and reads its errno: no
    // allocation, no lock, nothing a fork of a threaded process could find held.
    unsafe { child.pre_exec(install) };
    match child.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("true, under an allow-all seccomp filter, ended with {status}")),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err("true is not installed".into()),
        Err(err) => Err(format!("prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER): {err}")),
    }
}

/// The user and group who ran sudo, if doctor runs as root because of sudo.
fn invoking_user() -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let uid: u32 = std::env::var("SUDO_UID").ok()?.parse().ok()?;
    let gid: u32 = std::env::var("SUDO_GID").ok()?.parse().ok()?;
    (uid != 0).then_some((uid, gid))
}

/// "alice (uid 1000)", or "uid 1000" for a uid with no name in /etc/passwd.
fn user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(uid.into()) {
        Ok(Some(user)) => format!("{} (uid {uid})", user.name),
        _ => format!("uid {uid}"),
    }
}

/// Whether capability number `bit` is in `CapEff:` of /proc/self/status.
fn capability(status: &str, bit: u32) -> Option<bool> {
    let caps = u64::from_str_radix(field(status, "CapEff:")?, 16).ok()?;
    Some(caps & (1 << bit) != 0)
}

/// The value after `name` on its line of a /proc file such as /proc/self/status.
fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|l| l.strip_prefix(name)).map(str::trim)
}

/// A number from /proc/sys/NAME, if the file is there.
fn sysctl(name: &str) -> Option<i64> {
    std::fs::read_to_string(Path::new("/proc/sys").join(name)).ok()?.trim().parse().ok()
}

/// What `sudo -n true` says: `-n` makes sudo fail rather than ask for a password.
fn sudo() -> Sudo {
    let out = Command::new("sudo").args(["-n", "true"]).stdin(Stdio::null()).output();
    match out {
        Err(_) => Sudo::Missing,
        Ok(out) if out.status.success() => Sudo::Works,
        Ok(out) => {
            let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
            if said.contains("password") {
                Sudo::NeedsPassword
            } else {
                Sudo::Refused(said)
            }
        }
    }
}

/// WSL 1 or 2, from /proc/version: "...-Microsoft" (WSL 1), "...-microsoft-standard-WSL2".
pub fn wsl(version: &str) -> Option<u8> {
    if version.contains("WSL2") {
        Some(2)
    } else if version.to_lowercase().contains("microsoft") {
        Some(1)
    } else {
        None
    }
}

/// Each line of /proc/self/mountinfo as its mount point, its filesystem type, and the part
/// before " - " (where the optional fields, such as `shared:1`, are); see proc(5).
fn mounts(mountinfo: &str) -> impl Iterator<Item = (&str, &str, &str)> {
    mountinfo.lines().filter_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        let fields: Vec<&str> = before.split(' ').collect();
        let fstype = after.split(' ').next()?;
        Some((*fields.get(4)?, fstype, before))
    })
}

/// Which cgroup hierarchy /proc/self/mountinfo shows at /sys/fs/cgroup.
pub fn cgroups(mountinfo: &str) -> Cgroups {
    let fstype = |at: &str| mounts(mountinfo).filter(|(m, ..)| *m == at).map(|(_, t, _)| t).last();
    match (fstype("/sys/fs/cgroup"), fstype("/sys/fs/cgroup/unified")) {
        (Some("cgroup2"), _) => Cgroups::V2,
        (Some("tmpfs"), Some("cgroup2")) => Cgroups::Hybrid,
        (Some("tmpfs"), _) => Cgroups::V1,
        _ => Cgroups::Unknown,
    }
}

/// Whether `/` is a shared mount: its line has an optional field `shared:N`.
pub fn root_shared(mountinfo: &str) -> Option<bool> {
    let (.., before) = mounts(mountinfo).filter(|(m, ..)| *m == "/").last()?;
    Some(before.split(' ').skip(6).any(|f| f.starts_with("shared:")))
}

/// The kernel release: /proc/sys/kernel/osrelease, or `uname -r` where /proc is not mounted.
fn kernel_release() -> Option<String> {
    if let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        return Some(release.trim().to_string());
    }
    let out = Command::new("uname").arg("-r").output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string()).filter(|r| !r.is_empty())
}

/// Where `tool` is in the system's sbin directories, which an ordinary user's PATH lacks on
/// Debian (capsh is /usr/sbin/capsh there).
fn outside_path(tool: &str) -> Option<std::path::PathBuf> {
    ["/usr/local/sbin", "/usr/sbin", "/sbin"].iter().map(|d| Path::new(d).join(tool)).find(|p| p.is_file())
}

fn in_path(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join(tool).is_file())
}
