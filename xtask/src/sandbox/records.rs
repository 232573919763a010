//! Where a running sandbox can be found again, so that a second terminal may join it: each
//! sandbox writes `PID STARTTIME` (its unshare's, as the host sees them) into a file of a
//! directory of your own, and `--join` reads them back, keeping only those still running.
//!
//! No machine-wide search (pgrep) is needed, and nobody else's sandbox is ever found: the
//! directory is yours (your uid, no access for others), and so must be the process.
//! Called by `mod.rs` (to record, and to put the `sudo` note in) and `join.rs` (to find).

use anyhow::{bail, Context, Result};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Your directory for the sandbox's records: `$XDG_RUNTIME_DIR/namespaces-sandbox` (the
/// per-user directory systemd makes at login), or else `/tmp/namespaces-sandbox-UID.XXXXXX`,
/// made by mkdtemp and found again by its name, owner and mode.
pub fn own_dir() -> Result<PathBuf> {
    let uid = nix::unistd::geteuid().as_raw();
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        if is_own_private_dir(&runtime, uid) {
            let dir = runtime.join("namespaces-sandbox");
            let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
            if is_own_private_dir(&dir, uid) {
                return Ok(dir);
            }
        }
    }
    // A name another user made first is theirs, and is skipped: only the owner test counts.
    let prefix = format!("namespaces-sandbox-{uid}.");
    let tmp = Path::new("/tmp");
    for entry in std::fs::read_dir(tmp).context("could not list /tmp")?.flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with(&prefix) && is_own_private_dir(&path, uid) {
            return Ok(path);
        }
    }
    let dir = nix::unistd::mkdtemp(&tmp.join(format!("{prefix}XXXXXX")))
        .context("could not make a directory for the sandbox in /tmp (mkdtemp)")?;
    Ok(dir)
}

/// `path` is a directory (not a symlink to one), of `uid`, that no one else may enter.
fn is_own_private_dir(path: &Path, uid: u32) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0)
}

/// `sandbox.PID`: one file per sandbox.
fn record_path(dir: &Path, pid: u32) -> PathBuf {
    dir.join(format!("sandbox.{pid}"))
}

/// Record this process (about to become the sandbox's unshare, by exec: same PID, same start
/// time) as a running sandbox.
pub fn record_self(dir: &Path) -> Result<()> {
    let pid = std::process::id();
    let start = start_time(pid).context("could not read /proc/self/stat")?;
    let path = record_path(dir, pid);
    std::fs::write(&path, format!("{pid} {start}\n"))
        .with_context(|| format!("could not write {}", path.display()))
}

/// Field 22 of /proc/PID/stat, the process's start time: with the PID, it names one process,
/// even after the PID is reused. The command name (field 2) may hold spaces: skip past its `)`.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.split(' ').nth(19)?.parse().ok()
}

/// The PIDs of your sandboxes that still run; the records of those that ended are removed.
pub fn running(dir: &Path) -> Result<Vec<u32>> {
    let uid = nix::unistd::geteuid().as_raw();
    let mut pids = Vec::new();
    for entry in
        std::fs::read_dir(dir).with_context(|| format!("could not list {}", dir.display()))?.flatten()
    {
        if !entry.file_name().to_string_lossy().starts_with("sandbox.") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().ok());
        let (Some(Some(pid)), Some(Some(start))) = (fields.next(), fields.next()) else { continue };
        let pid = pid as u32;
        let ours = std::fs::metadata(format!("/proc/{pid}")).is_ok_and(|m| m.uid() == uid);
        if ours && start_time(pid) == Some(start) {
            pids.push(pid);
        } else {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    pids.sort_unstable();
    Ok(pids)
}

/// The one sandbox to join: `wanted`, if given and running, or the only one that runs.
pub fn the_one(dir: &Path, wanted: Option<u32>) -> Result<u32> {
    let pids = running(dir)?;
    match (wanted, pids.as_slice()) {
        (Some(pid), _) if pids.contains(&pid) => Ok(pid),
        (Some(pid), _) => bail!("no sandbox of yours runs as PID {pid}; yours: {pids:?}"),
        (None, []) => bail!("no sandbox of yours is running: start one with cargo xtask sandbox"),
        (None, [pid]) => Ok(*pid),
        (None, _) => {
            bail!("several sandboxes of yours run, PIDs {pids:?}: say which, cargo xtask sandbox --join PID")
        }
    }
}
