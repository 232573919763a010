//! `--pid-file FILE`, as podman has: the container's PID, as the host sees it, written once the
//! container is set up and its command is about to start, so a script can find exactly its own
//! container (`kill $(cat FILE)`) without searching every process on the machine.
//!
//! A step may run as root with a path a user chose, in a directory others may write to, such
//! as /tmp: we never write through a symlink there, and never leave a half-written file.
//! FILE's directory is opened once, with no symlink anywhere on the way (openat2(2),
//! `RESOLVE_NO_SYMLINKS`): a symlink planted in the path could otherwise send root's writes
//! into any directory. Everything else happens relative to that directory: the PID goes into a
//! new file (O_EXCL, O_NOFOLLOW), which renameat(2) then puts in place in one step, replacing
//! whatever had FILE's name, a symlink included, never its target.

use anyhow::{Context, Result};
use nix::fcntl::{openat, openat2, renameat, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstatat, Mode};
use nix::unistd::{unlinkat, Pid, UnlinkatFlags};
use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The file we wrote, to remove when the container ends (unless someone replaced it).
pub struct PidFile {
    dir: OwnedFd,
    name: OsString,
    written: (u64, u64),
}

/// Check, before anything starts, that FILE's directory can be opened as [`write`] will.
pub fn check(path: &Path) -> Result<()> {
    open_dir(path).map(drop)
}

/// FILE's directory, opened with no symlink on the way, and FILE's name in it.
fn open_dir(path: &Path) -> Result<(OwnedFd, OsString)> {
    let shown = path.display();
    let name = path.file_name().with_context(|| format!("--pid-file {shown}: not a file name"))?.to_owned();
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_NO_SYMLINKS);
    let dir = openat2(nix::fcntl::AT_FDCWD, &parent, how).map_err(|errno| {
        let why = match errno {
            nix::errno::Errno::ELOOP => {
                "has a symlink on its way: give the path without symlinks (see realpath)"
            }
            _ => "cannot be opened",
        };
        anyhow::Error::new(errno)
            .context(format!("--pid-file {shown}: its directory {} {why}", parent.display()))
    })?;
    Ok((dir, name))
}

/// Write `pid` to `path`, atomically and without following symlinks.
pub fn write(path: &Path, pid: Pid) -> Result<PidFile> {
    let shown = path.display();
    let (dir, name) = open_dir(path)?;
    let temporary = format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id());
    let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(&dir, temporary.as_str(), flags, Mode::from_bits_truncate(0o644))
        .with_context(|| format!("--pid-file {shown}: creating a file next to it failed"))?;
    let mut file = std::fs::File::from(fd);
    std::io::Write::write_all(&mut file, format!("{pid}\n").as_bytes())
        .with_context(|| format!("--pid-file {shown}: writing failed"))?;
    let meta = file.metadata()?;
    renameat(&dir, temporary.as_str(), &dir, name.as_os_str()).with_context(|| {
        let _ = unlinkat(&dir, temporary.as_str(), UnlinkatFlags::NoRemoveDir);
        format!("--pid-file {shown}: putting it in place (rename) failed")
    })?;
    Ok(PidFile { dir, name, written: (meta.dev(), meta.ino()) })
}

impl Drop for PidFile {
    /// A PID file that outlives its container names a PID the kernel will give to another
    /// process: remove it, if it is still the file we wrote.
    fn drop(&mut self) {
        let ours = fstatat(&self.dir, self.name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            .is_ok_and(|s| (s.st_dev, s.st_ino) == self.written);
        if ours {
            let _ = unlinkat(&self.dir, self.name.as_os_str(), UnlinkatFlags::NoRemoveDir);
        }
    }
}
