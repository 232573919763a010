//! The tests' own files under /tmp, made so that no other user can reach into them.
//!
//! Classes run the tests as root on machines where other people log in, and anyone may create
//! a file in /tmp. A name known in advance, such as `/tmp/namespaces-tests-0/`, can be made
//! first by someone else, or be a symlink to somewhere else: root then writes, chmods, deletes
//! and runs programs in a place another user chose. So every directory here is made new by
//! mkdtemp(3), which picks an unused name and fails rather than reuse anything that exists, and
//! nothing here ever opens a path that another user could have made.
//!
//! Each test process has one directory, [`test_dir`], made on first use and searchable (not
//! readable) by others; inside it, [`fresh_dir`] makes directories only we may enter, and
//! [`fresh_dir_for_nobody`] ones that `nobody` may read, for the tests that run a step as
//! nobody. A janitor process removes the whole directory when the test process ends, however
//! it ends: a test that panics, Ctrl-C, even SIGKILL.
//!
//! Called by [`crate::privilege`], [`crate::step`] and the checks, and by the tests of the steps
//! and of xtask for directories of their own.

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// mkdtemp(3): make a new directory `PREFIX` + six random characters, mode 0700, and return its
/// path. It fails if it cannot make a new one; it never returns a directory that existed.
pub fn mkdtemp(prefix: &Path) -> std::io::Result<PathBuf> {
    let mut template = prefix.as_os_str().as_bytes().to_vec();
    template.extend_from_slice(b"XXXXXX\0");
    // SAFETY: `template` is a NUL-terminated buffer that lives through the call; mkdtemp only
    // replaces the six Xs in it, in place.
    let made = unsafe { nix::libc::mkdtemp(template.as_mut_ptr().cast()) };
    if made.is_null() {
        return Err(std::io::Error::last_os_error());
    }
    template.pop(); // the NUL
    Ok(PathBuf::from(OsString::from_vec(template)))
}

/// The directory to make temporary directories in: `$TMPDIR`, or /tmp. If other users may
/// write to it, it must be sticky (as /tmp is), or they could rename our directory away and
/// put a symlink in its place.
///
/// It must belong to root or to us. In a user namespace that maps only us, as in `cargo xtask
/// sandbox`, the machine's root is unmapped and shows as the overflow uid (65534): a sticky
/// directory of that owner, such as /tmp there, is taken as root's.
pub fn tmp_root() -> PathBuf {
    let root = std::env::temp_dir();
    let meta = std::fs::metadata(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display()));
    let mode = meta.permissions().mode();
    let unmapped_root = mode & 0o1000 != 0 && meta.uid() == overflow_uid() && !in_initial_user_namespace();
    let owner_ok = meta.uid() == 0 || meta.uid() == nix::unistd::geteuid().as_raw() || unmapped_root;
    let others_may_write = mode & 0o022 != 0;
    assert!(
        owner_ok && (!others_may_write || mode & 0o1000 != 0),
        "{} (TMPDIR) is not safe for temporary directories: it must belong to root or to you, \
         and be sticky if others may write to it, like /tmp",
        root.display()
    );
    root
}

/// The uid that a user namespace shows for an owner it does not map.
fn overflow_uid() -> u32 {
    let text = std::fs::read_to_string("/proc/sys/kernel/overflowuid").unwrap_or_default();
    text.trim().parse().unwrap_or(65534)
}

/// Whether we are in the machine's own user namespace, whose uid_map maps every ID to itself.
fn in_initial_user_namespace() -> bool {
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    map.split_whitespace().eq(["0", "0", "4294967295"])
}

/// This test process's own directory, `/tmp/namespaces-tests.XXXXXX`, made on first use. Others
/// may pass through it (mode 0711) to what [`fresh_dir_for_nobody`] makes, but not list it.
pub fn test_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = mkdtemp(&tmp_root().join("namespaces-tests.")).expect("mkdtemp in /tmp");
        start_janitor(&dir);
        // We made it a moment ago, and nobody else may rename it in a sticky /tmp.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711)).unwrap();
        dir
    })
}

/// A new directory `NAME.XXXXXX` in [`test_dir`] that only we may enter (mode 0700).
pub fn fresh_dir(name: &str) -> PathBuf {
    mkdtemp(&test_dir().join(format!("{name}."))).expect("mkdtemp in the test directory")
}

/// A new directory like [`fresh_dir`], that `nobody` may read and search too (mode 0755), for
/// what a step run as nobody must reach. Only we may write to it.
pub fn fresh_dir_for_nobody(name: &str) -> PathBuf {
    let dir = fresh_dir(name);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// The janitor waits, in a process group of its own (so Ctrl-C, which signals the terminal's
/// foreground group, passes it by), for the write end of a pipe that only this process holds to
/// close: the kernel closes it when the process ends, however it ends. Then it removes `dir`,
/// without crossing into anything mounted there.
const JANITOR: &str = r#"trap '' INT HUP QUIT TERM; read _; exec rm -rf --one-file-system -- "$1""#;

// Never waited for: it ends only once this process has ended, so it is never our zombie.
#[allow(clippy::zombie_processes)]
fn start_janitor(dir: &Path) {
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe2");
    Command::new("sh")
        .args(["-c", JANITOR, "janitor"])
        .arg(dir)
        .stdin(Stdio::from(read_end))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("could not start sh, for the janitor of the test directory");
    // Held until the process ends; close-on-exec, so no program we start holds it too.
    static WRITE_END: OnceLock<OwnedFd> = OnceLock::new();
    let _ = WRITE_END.set(write_end);
}
