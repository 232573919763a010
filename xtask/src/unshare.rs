//! The `unshare` command lines that both `cargo xtask sandbox` and `cargo xtask doctor` use:
//! the sandbox's flags, which the sandbox runs and doctor tries, and [`try_unshare`], which
//! tries any flags in a child process (never in this one) and keeps what went wrong.
//!
//! Called by `sandbox.rs` (to start, and to check first that it can) and by `doctor/` (its
//! probes, and its `Probe::Sandbox`). It imports neither, so neither imports the other.

use std::process::{Command, Stdio};

/// The flags the sandbox gives `unshare`: unshare(1), <https://man7.org/linux/man-pages/man1/unshare.1.html>.
pub const SANDBOX_FLAGS: &[&str] = &[
    // A user namespace, made first, in which we map uid 0 to ourselves: we are root inside it,
    // with every capability over the namespaces it owns, and ourselves to the host.
    "--user",
    "--map-root-user",
    // Its own network: only `lo` at first; step07's bridge and veths are made here.
    "--net",
    // Its own hostname (we call it `sandbox`) and IPC objects: `ipcmk` inside leaves no queue behind.
    "--uts",
    "--ipc",
    // Its own cgroup namespace: /proc/self/cgroup inside shows the sandbox's cgroup as `/`, and
    // `nsenter --all` inside, which enters every namespace of its target, finds one to enter.
    "--cgroup",
    // Its own mount table, private, so that no mount made inside propagates to the host.
    "--mount",
    "--propagation",
    "private",
    // Its own PIDs: unshare forks, the shell is PID 1, and a /proc of its own is mounted, so
    // that /proc/PID and `ps` inside show the sandbox's processes by the numbers they have there.
    // When PID 1 ends, the kernel ends every process left in the namespace: nothing survives us.
    "--pid",
    "--fork",
    "--mount-proc",
    // If unshare itself is killed, its child (our PID 1) gets SIGKILL too.
    "--kill-child",
    // Its own time namespace (Linux 5.6), for the same reason as the cgroup one: with it,
    // every namespace nsenter --all looks for is the sandbox's. Left out on older kernels.
    "--time",
];

/// `flags` without `--time` on a kernel that has no time namespaces (no /proc/self/ns/time).
pub fn for_this_kernel(flags: &[&'static str]) -> Vec<&'static str> {
    let time = std::path::Path::new("/proc/self/ns/time").exists();
    flags.iter().copied().filter(|f| time || *f != "--time").collect()
}

/// Run `[PREFIX...] unshare FLAGS COMMAND...` in a child process: `Err` holds what went wrong,
/// for a table cell (the last line it wrote on stderr).
pub fn try_unshare(prefix: &[String], flags: &[&str], command: &[&str]) -> Result<(), String> {
    let mut argv: Vec<&str> = prefix.iter().map(String::as_str).collect();
    argv.push("unshare");
    argv.extend(flags);
    argv.push("--");
    argv.extend(command);
    let out = Command::new(argv[0]).args(&argv[1..]).stdin(Stdio::null()).output();
    match out {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("{} is not installed", argv[0]))
        }
        Err(err) => Err(format!("could not run {}: {err}", argv[0])),
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            Err(stderr.lines().last().unwrap_or("failed, and said nothing").trim().to_string())
        }
    }
}
