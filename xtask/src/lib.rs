//! Project chores behind `cargo xtask`, as a library so that the freshness tests in `tests/`
//! check exactly what the commands write.
//!
//! - [`check`]: `cargo xtask check`, the checker of the learners' coding exercises;
//! - [`diffs`]: the diff from each step to the next, for the book;
//! - [`drift`]: the files a step carries over are the previous step's, unless a table says why;
//! - [`transcripts`]: real runs of the steps, with what changes between runs normalised;
//! - [`linkcheck`]: the built book has no broken local link and no unresolved `{{#`;
//! - [`doctor`]: which steps run on this machine, and the fixes for those that cannot;
//! - [`reset`]: remove the bridge step07 leaves behind, report anything else left;
//! - [`root_half`]: the part of a command that needs root, re-run through `sudo` by absolute
//!   path, since sudo's `secure_path` has no `~/.cargo/bin` and `sudo cargo` fails;
//! - [`sandbox`]: a shell that is root over namespaces of its own, for learners without sudo.
//! - [`unshare`]: the `unshare` flags the sandbox runs and doctor tries, and the trying.

pub mod check;
pub mod diffs;
pub mod doctor;
pub mod drift;
pub mod linkcheck;
pub mod reset;
pub mod root_half;
pub mod sandbox;
pub mod transcripts;
pub mod unshare;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The workspace's root directory, found when xtask runs, not when it was built: the nearest
/// directory, from the current one up, whose Cargo.toml has `[workspace]` and which holds
/// `xtask/`; failing that, the one above our own executable (`target/debug/xtask`); failing
/// that, the one xtask was built in. A checkout copied with `cp -a ns ns2` keeps its old
/// `target/`, and an xtask that still took its root from the build would check, and write its
/// hints into, the original.
pub fn workspace() -> PathBuf {
    let from_cwd = std::env::current_dir().ok().and_then(|dir| workspace_above(&dir));
    let from_exe = || std::env::current_exe().ok().and_then(|exe| workspace_above(&exe));
    from_cwd.or_else(from_exe).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
    })
}

/// The nearest directory at or above `path` that is this kind of workspace.
pub fn workspace_above(path: &Path) -> Option<PathBuf> {
    path.ancestors().find(|dir| is_workspace(dir)).map(Path::to_path_buf)
}

fn is_workspace(dir: &Path) -> bool {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
    manifest.lines().any(|l| l.trim() == "[workspace]") && dir.join("xtask/Cargo.toml").is_file()
}

/// The step directories, in order: `["step01-clone", "step02-uts", ...]`, every `stepNN-*`
/// directory with a Cargo.toml, so that a new step appears in the book by itself.
pub fn steps(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let b = name.as_bytes();
        let numbered =
            b.len() > 7 && name.starts_with("step") && b[4..6].iter().all(u8::is_ascii_digit) && b[6] == b'-';
        if numbered && root.join(&name).join("Cargo.toml").is_file() {
            steps.push(name);
        }
    }
    steps.sort();
    Ok(steps)
}

/// `step04-pid` -> `step04`.
pub fn short_name(step: &str) -> &str {
    &step[..6]
}

/// A directory made new by mkdtemp(3) in /tmp (or `$TMPDIR`), mode 0700, removed when dropped.
///
/// `cargo xtask transcripts` runs as root on machines where others log in, and anyone may
/// create a file in /tmp. A name known in advance could already be someone else's directory,
/// or a symlink to one, and root would then write there and run what it finds. mkdtemp picks
/// an unused name and fails rather than reuse anything that exists.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// A new directory named `PREFIX` and six random characters.
    pub fn new(prefix: &str) -> anyhow::Result<TempDir> {
        let root = std::env::temp_dir();
        let meta = std::fs::metadata(&root)?;
        let others_may_write = meta.mode() & 0o022 != 0;
        let owner_ok = meta.uid() == 0 || meta.uid() == nix::unistd::geteuid().as_raw();
        // Others who may write to it may rename our directory and put a symlink in its place,
        // unless it is sticky, as /tmp is.
        anyhow::ensure!(
            owner_ok && (!others_may_write || meta.mode() & 0o1000 != 0),
            "{} (TMPDIR) must belong to root or to you, and be sticky if others may write to it",
            root.display()
        );
        let mut template = root.join(prefix).into_os_string().into_vec();
        template.extend_from_slice(b"XXXXXX\0");
        // SAFETY: `template` is a NUL-terminated buffer that lives through the call; mkdtemp
        // only replaces the six Xs in it, in place.
        let made = unsafe { nix::libc::mkdtemp(template.as_mut_ptr().cast()) };
        if made.is_null() {
            let err = std::io::Error::last_os_error();
            anyhow::bail!("mkdtemp in {}: {err}", root.display());
        }
        template.pop(); // the NUL
        Ok(TempDir { path: PathBuf::from(OsString::from_vec(template)) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
