//! `--pid-file FILE`, as podman has: the container's PID, as the host sees it, written once the
//! container is set up and its command is about to start, so a script can find exactly its own
//! container (`kill $(cat FILE)`) without searching every process on the machine.
//!
//! A step may run as root with a path a user chose, in a directory others may write to, such
//! as /tmp: we never write through a symlink there, and never leave a half-written file.
//! FILE's directory is opened once, with no symlink anywhere on the way (openat2(2),
//! `RESOLVE_NO_SYMLINKS`): a symlink planted in the path could otherwise send root's writes
//! into any directory. Everything else happens relative to that directory: the PID goes into a
//! new file with a random name (O_EXCL, O_NOFOLLOW), which renameat(2) then puts in place in one step, replacing
//! whatever had FILE's name, a symlink included, never its target.

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::{openat, openat2, renameat, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstatat, Mode};
use nix::unistd::{unlinkat, Pid, UnlinkatFlags};
use std::ffi::{OsStr, OsString};
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
    let (fd, temporary) = create_temporary(&dir, &name)
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

/// A new file next to FILE, `.FILE.RANDOM.tmp`: a name nobody can guess, since another user
/// who may write the directory could otherwise create it first (O_EXCL would then fail, and
/// the step with it). 64 random bits from the standard library's hasher seed, which the OS
/// gives each process; a name taken all the same is tried again with another.
fn create_temporary(dir: &OwnedFd, name: &OsStr) -> nix::Result<(OwnedFd, String)> {
    use std::hash::{BuildHasher, Hasher};
    let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mut tries = 0;
    loop {
        let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
        let temporary = format!(".{}.{random:016x}.tmp", name.to_string_lossy());
        match openat(dir, temporary.as_str(), flags, Mode::from_bits_truncate(0o644)) {
            Err(Errno::EEXIST) if tries < 16 => tries += 1,
            result => return result.map(|fd| (fd, temporary)),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of this test's own, made new (mkdtemp), and removed at the end.
    fn fresh_dir() -> PathBuf {
        nix::unistd::mkdtemp(&std::env::temp_dir().join("pidfile-test.XXXXXX")).unwrap()
    }

    /// Another user who may write the directory (/tmp) pre-creates the names a temporary file
    /// could have: they cannot be guessed, so the PID file is written all the same.
    #[test]
    fn temporary_name_cannot_be_taken_first() {
        let dir = fresh_dir();
        for pid in std::process::id().saturating_sub(5)..std::process::id() + 5 {
            std::fs::write(dir.join(format!(".pid.{pid}.tmp")), "taken\n").unwrap();
        }
        let path = dir.join("pid");
        let written = write(&path, Pid::from_raw(42));
        let text = std::fs::read_to_string(&path);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(written.is_ok(), "{:#}", written.err().unwrap());
        assert_eq!(text.unwrap(), "42\n");
    }
}
