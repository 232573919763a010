//! `cargo xtask sandbox --join [PID] [-- COMMAND...]`: a second terminal in your running
//! sandbox. It finds the sandbox in your records (`records.rs`), then enters its namespaces
//! with util-linux `nsenter`, the user namespace first (so that the others, which that user
//! namespace owns, may be entered), as root there; its PID namespace through
//! `/proc/PID/ns/pid_for_children`, since the recorded process is the sandbox's unshare, whose
//! children (not itself) are in it. Inside, /proc, `ps`, the hostname and the network are the
//! sandbox's, and PIDs are the sandbox's own.
//!
//! Called by `mod.rs`.

use anyhow::{Context, Result};
use std::ffi::OsStr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// Join the sandbox `wanted` (or your only one) and run `command` there, with `path` as its
/// PATH (the sandbox's `sudo` first). Returns only on error.
pub fn run(dir: &Path, path: &OsStr, wanted: Option<u32>, command: &[String]) -> Result<()> {
    let pid = super::records::the_one(dir, wanted)?;
    let cwd = std::env::current_dir().context("could not read the current directory")?;
    eprintln!("[sandbox] joining your sandbox (its unshare is PID {pid} on the host); leave with: exit");
    let mut nsenter = Command::new("nsenter");
    nsenter.args([
        format!("--target={pid}"),
        "--user".into(),
        // Keep our uid and gid, which the sandbox maps to its root: nsenter would otherwise
        // set them to 0 and call setgroups, which the sandbox denies (unshare --map-root-user
        // writes `deny` to /proc/PID/setgroups, as an unprivileged user namespace must).
        "--preserve-credentials".into(),
        "--mount".into(),
        "--uts".into(),
        "--ipc".into(),
        "--net".into(),
        "--cgroup".into(),
        format!("--pid=/proc/{pid}/ns/pid_for_children"),
        format!("--wd={}", cwd.display()),
        "--".into(),
    ]);
    nsenter.args(command).env("PATH", path);
    let err = nsenter.exec();
    Err(err).context("could not run nsenter (it is in util-linux: sudo apt install util-linux)")
}
