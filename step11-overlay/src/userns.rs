//! The user namespace: who the child is inside, and which user that is outside.
//!
//! The child starts in its new user namespace with no IDs mapped: it is `nobody` (65534) to
//! itself until its parent writes `/proc/PID/uid_map` and `gid_map`. So the child waits on a
//! pipe, and the parent releases it once the maps are written.

use anyhow::{bail, Context, Result};
use caps::CapSet;
use common::say;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::{close, getegid, geteuid, getgid, getuid, pipe2, read, write, Pid};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

// ANCHOR: release
/// The last line the parent sends: the maps are written, go on.
const GO: &str = "go";

/// The pipe on which the child waits for its ID maps. The parent may send a line or two of
/// its own first (step07 sends the container's address), and then [`GO`]. A child that sees
/// the pipe end without `go` stops: its parent died before the maps were written, and a
/// command without ID maps would run as `nobody` with every capability of the namespace.
pub struct Release {
    read: OwnedFd,
    write: OwnedFd,
}

impl Release {
    /// Both ends close on exec (O_CLOEXEC): the command never sees them.
    pub fn new() -> Result<Release> {
        let (read, write) = pipe2(OFlag::O_CLOEXEC).context("pipe2() failed")?;
        Ok(Release { read, write })
    }

    /// In the child: block until the parent says `go`; return what it sent before that.
    pub fn wait(&self) -> Result<String> {
        // Our copy of the parent's end, or EOF never comes; by number, since the OwnedFd is the
        // parent's and this child never drops it (it execs or exits).
        let _ = close(self.write.as_raw_fd());
        let (mut received, mut buf) = (Vec::new(), [0u8; 64]);
        loop {
            match read(&self.read, &mut buf) {
                Ok(0) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
                Err(Errno::EINTR) => continue,
                Err(errno) => bail!("waiting for the ID maps: read() failed: {errno}"),
            }
        }
        let received = String::from_utf8_lossy(&received).into_owned();
        match received.strip_suffix(&format!("{GO}\n")) {
            Some(sent) => Ok(sent.to_string()),
            None => bail!("the parent ended before it wrote our ID maps; not going on without them"),
        }
    }

    /// In the parent: send the child a line before releasing it.
    pub fn send(&self, line: &str) -> Result<()> {
        write(&self.write, format!("{line}\n").as_bytes()).context("writing to the child failed")?;
        Ok(())
    }

    /// In the parent: tell the child to go on, and close our end.
    pub fn go(self) -> Result<()> {
        self.send(GO)
    }
}
// ANCHOR_END: release

// ANCHOR: maps
/// Map root inside the child's user namespace to our own IDs outside: user_namespaces(7),
/// "User and group ID mappings", <https://man7.org/linux/man-pages/man7/user_namespaces.7.html>.
/// Each line is `ID-inside ID-outside count`; an unprivileged process may map just its own ID.
///
/// The article's C code ignores errors here, and on kernels since 3.19 its gid_map write fails
/// silently: an unprivileged process must first write `deny` to /proc/PID/setgroups, so that
/// nobody inside can drop a group with setgroups(2) that the host used to keep them out.
pub fn write_id_maps(child: Pid) -> Result<()> {
    write_proc_file(child, "uid_map", &format!("0 {} 1", geteuid()))?;
    write_proc_file(child, "setgroups", "deny")?;
    write_proc_file(child, "gid_map", &format!("0 {} 1", getegid()))
}

fn write_proc_file(child: Pid, name: &str, line: &str) -> Result<()> {
    let path = format!("/proc/{child}/{name}");
    if !Path::new("/proc/self").exists() {
        bail!("cannot write {path}: /proc is not mounted here; mount it with: mount -t proc proc /proc");
    }
    std::fs::write(&path, format!("{line}\n"))
        .with_context(|| format!("writing '{line}' to {path} failed"))?;
    say!("parent: wrote '{line}' to {path}");
    Ok(())
}
// ANCHOR_END: maps

// ANCHOR: identity
/// Show who we are now: uid and gid 0, and every capability, in our own user namespace.
pub fn show_identity() -> Result<()> {
    let effective = caps::read(None, CapSet::Effective).context("reading our capabilities failed")?;
    let known = caps::runtime::procfs_all_supported(None).unwrap_or_else(|_| caps::all());
    let count = match known.is_subset(&effective) {
        true => format!("all {}", known.len()),
        false => format!("{} of {}", effective.len(), known.len()),
    };
    say!("child: uid {}, gid {}, {count} capabilities, inside the user namespace", getuid(), getgid());
    Ok(())
}
// ANCHOR_END: identity
