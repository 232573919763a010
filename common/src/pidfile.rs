//! `--pid-file FILE`, as podman has: the container's PID, as the host sees it, written once the
//! container is set up and its command is about to start, so a script can find exactly its own
//! container (`kill $(cat FILE)`) without searching every process on the machine.
//!
//! A step may run as root with a path a user chose, in a directory others may write to, such
//! as /tmp: we never write through a symlink there, and never leave a half-written file. The
//! PID goes into a new file (O_EXCL, O_NOFOLLOW), which rename(2) then puts in place in one
//! step; rename replaces a symlink at FILE itself, never its target.

use anyhow::{Context, Result};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The file we wrote, to remove when the container ends (unless someone replaced it).
pub struct PidFile {
    path: PathBuf,
    inode: u64,
}

/// Write `pid` to `path`, atomically and without following symlinks.
pub fn write(path: &Path, pid: Pid) -> Result<PidFile> {
    let name = path.file_name().with_context(|| format!("--pid-file {}: not a file name", path.display()))?;
    let temporary = path.with_file_name(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = nix::fcntl::open(&temporary, flags, Mode::from_bits_truncate(0o644))
        .with_context(|| format!("--pid-file: creating {} failed", temporary.display()))?;
    let mut file = std::fs::File::from(fd);
    std::io::Write::write_all(&mut file, format!("{pid}\n").as_bytes())
        .with_context(|| format!("--pid-file: writing {} failed", temporary.display()))?;
    let inode = file.metadata()?.ino();
    std::fs::rename(&temporary, path).with_context(|| {
        let _ = std::fs::remove_file(&temporary);
        format!("--pid-file: renaming {} to {} failed", temporary.display(), path.display())
    })?;
    Ok(PidFile { path: path.to_path_buf(), inode })
}

impl Drop for PidFile {
    /// A PID file that outlives its container names a PID the kernel will give to another
    /// process: remove it, if it is still the file we wrote.
    fn drop(&mut self) {
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.ino() == self.inode) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
