//! An image and a layer of the container's own (`--image DIR`): a union mount, as Docker's.
//!
//! overlayfs shows two directories as one: a read-only *lower* one (the image, which any number
//! of containers share) and a writable *upper* one (this container's layer). Reading finds a
//! file in the upper layer first, then in the lower; the first write to a lower file copies it
//! up whole; deleting one leaves a *whiteout* in the upper layer (a character device 0/0), and
//! a directory deleted and made again is marked *opaque* there (an xattr `overlay.opaque = y`),
//! so that nothing of the lower one shows through. The image itself never changes.
//! See <https://docs.kernel.org/filesystems/overlayfs.html>.
//!
//! The parent makes the layer's directory, exclusively and mode 0700, and hands it to the ID
//! the container's root is outside; the child, root in its user namespace, makes `upper` and
//! `work` there and mounts the overlay in its own mount namespace (Linux 5.11 lets a user
//! namespace do that). After the container ends, the parent prints what changed, as
//! `docker diff` does, reading the upper layer, which the container wrote: hostile, so we walk
//! it by file descriptor and never follow a symlink in it.

use crate::userns::Outside;
use anyhow::{bail, Context, Result};
use common::{say, Args};
use nix::errno::Errno;
use nix::fcntl::{open, openat, AtFlags, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fstatat, major, minor, mkdirat, Mode, SFlag};
use nix::unistd::{chown, geteuid, mkdtemp, Gid, Uid};
use std::ffi::OsStr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The image and the layer of a container started with `--image`; `None` without it.
pub struct Layer(Option<Parts>);

struct Parts {
    image: PathBuf,
    /// Holds `upper` (the container's changes), `work` (overlayfs's own) and `merged` (the root).
    dir: PathBuf,
    keep: bool,
}

impl Layer {
    // ANCHOR: create
    /// In the parent, before clone: check `--image DIR` and make the layer's directory, a new
    /// one (mkdtemp(3)), or the caller's new or empty `--keep-layer DIR`.
    pub fn create(args: &Args) -> Result<Layer> {
        let Some(image) = args.value("--image") else {
            if args.value("--keep-layer").is_some() {
                bail!("--keep-layer needs --image: it keeps the layer made on top of an image");
            }
            return Ok(Layer(None));
        };
        if args.value("--rootfs").is_some() {
            bail!("--image and --rootfs: give one of them, the container has one root");
        }
        let image = check_image(Path::new(image))?;
        let (dir, keep) = match args.value("--keep-layer") {
            Some(dir) => (empty_dir_of_ours(Path::new(dir))?, true),
            None => (
                mkdtemp("/tmp/container-layer.XXXXXX").context("making the layer: mkdtemp(3) failed")?,
                false,
            ),
        };
        say!("parent: the container's layer is {}, on the image {}", dir.display(), image.display());
        Ok(Layer(Some(Parts { image, dir, keep })))
    }
    // ANCHOR_END: create

    // ANCHOR: hand_over
    /// In the parent, once the child's ID maps are written: the layer belongs to whoever the
    /// container's root is outside, so the child (root inside) can make `upper` and `work` in
    /// it, and the files it copies up are its own. `outside` is the map the parent wrote, so
    /// this holds whoever that is: you, SUDO_UID, root's subordinate range or nobody.
    pub fn hand_over(&self, outside: &Outside) -> Result<()> {
        let Some(parts) = &self.0 else { return Ok(()) };
        let (uid, gid) = outside.root();
        chown(&parts.dir, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid))).with_context(|| {
            format!("handing the layer to uid {uid}: chown({}) failed", parts.dir.display())
        })?;
        // Copy-up keeps a file's owner; the kernel refuses it (EOVERFLOW) when that owner has no
        // ID inside. Say so now, in one line, rather than let writes fail later unexplained.
        let owner = std::fs::metadata(&parts.image).map(|m| std::os::unix::fs::MetadataExt::uid(&m))?;
        if outside.inside(owner).is_none() {
            say!(
                "parent: warning: the image belongs to uid {owner}, which the container's ID map does not hold: \
                 changing or deleting its files fails with EOVERFLOW (\"Value too large for defined data type\"); \
                 build the image as uid {uid} (tools/mkrootfs)"
            );
        }
        Ok(())
    }
    // ANCHOR_END: hand_over

    // ANCHOR: mount
    /// In the child, in its own user and mount namespaces: make `upper`, `work` and `merged`,
    /// mount the overlay on `merged` and return it, to become the root as `--rootfs` would.
    pub fn mount(&self) -> Result<Option<PathBuf>> {
        let Some(parts) = &self.0 else { return Ok(None) };
        let dir = open(&parts.dir, OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
            .with_context(|| format!("opening the layer {} failed", parts.dir.display()))?;
        for name in ["upper", "work", "merged"] {
            mkdirat(&dir, name, Mode::from_bits_truncate(0o755))
                .with_context(|| format!("creating the layer's {name} directory failed"))?;
        }
        let (upper, work, merged) =
            (parts.dir.join("upper"), parts.dir.join("work"), parts.dir.join("merged"));
        // userxattr: a user namespace may not write trusted.* xattrs, so overlayfs keeps its
        // marks (opaque directories) in user.overlay.* instead.
        let options = format!(
            "lowerdir={},upperdir={},workdir={},userxattr",
            parts.image.display(),
            upper.display(),
            work.display()
        );
        mount(Some("overlay"), &merged, Some("overlay"), MsFlags::MS_NOSUID, Some(options.as_str()))
            .map_err(|errno| {
                let why = match errno {
                    Errno::EPERM | Errno::EINVAL | Errno::ENODEV => {
                        "overlayfs in a user namespace needs Linux 5.11 or later".to_string()
                    }
                    Errno::EACCES => {
                        "the container's root may not read the image: build it as the user it maps to".into()
                    }
                    _ => errno.desc().to_string(),
                };
                anyhow::Error::new(errno)
                    .context(format!("mount(\"overlay\", {}) failed: {why}", merged.display()))
            })?;
        say!("child: mounted overlay on {}: the image below, the layer above", merged.display());
        Ok(Some(merged))
    }
    // ANCHOR_END: mount

    // ANCHOR: changes
    /// In the parent, after the container ended: print what it changed, as `docker diff` does:
    /// `A` added, `C` changed, `D` deleted, read from the upper layer.
    pub fn show_changes(&self) {
        let Some(parts) = &self.0 else { return };
        let mut lines = Vec::new();
        let upper = open_dir(None, &parts.dir.join("upper"));
        let image = open_dir(None, &parts.image);
        match (upper, image) {
            (Ok(upper), Ok(image)) => walk(&upper, Some(&image), "", 0, &mut lines),
            (Err(err), _) | (_, Err(err)) => return say!("parent: cannot read the layer: {err}"),
        }
        if lines.is_empty() {
            say!("parent: the container changed nothing in the image");
        }
        // The step's report, not narration: --quiet keeps it, as `docker diff` would print it.
        lines.iter().for_each(|line| eprintln!("{line}"));
        if parts.keep {
            say!("parent: kept the layer in {}: upper/ holds the changes", parts.dir.display());
        }
    }
    // ANCHOR_END: changes
}

/// The layer goes when the parent is done with it, unless `--keep-layer` asked for it.
/// Only the parent drops it: the child execs or exits without running destructors.
impl Drop for Layer {
    fn drop(&mut self) {
        let Some(parts) = &self.0 else { return };
        if parts.keep {
            return;
        }
        // overlayfs leaves work/work mode 000. Any process of the layer's owner may have put a
        // symlink there: reach it by O_PATH fds that follow none, or root would chmod its target.
        let work = open_dir(None, &parts.dir)
            .and_then(|dir| open_dir(Some(&dir), Path::new("work")))
            .and_then(|work| {
                openat(
                    &work,
                    "work",
                    OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
            });
        if let Ok(work) = work {
            let _ = std::fs::set_permissions(fd_path(&work), PermissionsExt::from_mode(0o700));
        }
        // remove_dir_all never follows a symlink: it unlinks the link, not what it names.
        if let Err(err) = std::fs::remove_dir_all(&parts.dir) {
            say!("parent: could not remove the layer {}: {err}; remove it with rm -rf", parts.dir.display());
        }
    }
}

/// Walk the upper directory `upper` (the lower one, `lower`, beside it) and add a line per
/// change. Whiteouts are deletions; an opaque directory hides all of the lower one.
fn walk(upper: &OwnedFd, lower: Option<&OwnedFd>, path: &str, depth: usize, lines: &mut Vec<String>) {
    if depth > 64 {
        return lines.push(format!("C {path}/... (deeper changes not shown)"));
    }
    let Ok(entries) = std::fs::read_dir(fd_path(upper)) else { return };
    let mut names: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    names.sort();
    for name in names {
        // The container chose the name: control characters (a newline, an escape sequence)
        // are shown escaped, or it could write fake lines, or commands, to our terminal.
        let printable = |c: char| if c.is_control() { c.escape_default().to_string() } else { c.to_string() };
        let shown = format!("{path}/{}", name.to_string_lossy().chars().map(printable).collect::<String>());
        let Ok(stat) = fstatat(upper, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) else {
            continue;
        };
        let kind = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT;
        if kind == SFlag::S_IFCHR && major(stat.st_rdev) == 0 && minor(stat.st_rdev) == 0 {
            lines.push(format!("D {shown}"));
            continue;
        }
        let below = lower.and_then(|l| fstatat(l, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW).ok());
        lines.push(format!("{} {shown}", if below.is_some() { "C" } else { "A" }));
        if kind != SFlag::S_IFDIR {
            continue;
        }
        let Ok(dir) = open_dir(Some(upper), Path::new(&name)) else { continue };
        let lower_dir = lower.and_then(|l| open_dir(Some(l), Path::new(&name)).ok());
        if is_opaque(&dir) {
            // Everything the image had here is gone: report it as docker diff does, deleted.
            if let Some(gone) = lower_dir.as_ref().and_then(|l| std::fs::read_dir(fd_path(l)).ok()) {
                let mut gone: Vec<_> = gone.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
                gone.retain(|n| fstatat(&dir, n.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW).is_err());
                gone.sort();
                lines.extend(gone.iter().map(|n| format!("D {shown}/{}", n.to_string_lossy())));
            }
            walk(&dir, None, &shown, depth + 1, lines);
        } else {
            walk(&dir, lower_dir.as_ref(), &shown, depth + 1, lines);
        }
    }
}

/// Open a directory without following a symlink, at its last component: O_NOFOLLOW.
fn open_dir(at: Option<&OwnedFd>, name: &Path) -> nix::Result<OwnedFd> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    match at {
        Some(at) => openat(at, name, flags, Mode::empty()),
        None => open(name, flags, Mode::empty()),
    }
}

/// Whether overlayfs marked this directory opaque: `user.overlay.opaque` (in a user
/// namespace, with userxattr) or `trusted.overlay.opaque` (mounted by the host's root), "y".
fn is_opaque(dir: &OwnedFd) -> bool {
    ["user.overlay.opaque\0", "trusted.overlay.opaque\0"].iter().any(|name| {
        let mut value = [0u8; 1];
        // SAFETY: fgetxattr(2) reads a NUL-terminated name and writes at most value.len() bytes
        // into `value`, which lives across the call; `dir` is an open fd.
        let len = unsafe {
            nix::libc::fgetxattr(
                dir.as_raw_fd(),
                name.as_ptr().cast(),
                value.as_mut_ptr().cast(),
                value.len(),
            )
        };
        len == 1 && value[0] == b'y'
    })
}

/// Check `--image DIR` before starting anything, and return it absolute, without symlinks. Its
/// name goes into the mount's options, where `,` and `:` separate them: refuse those.
fn check_image(image: &Path) -> Result<PathBuf> {
    let how = "build one with tools/mkrootfs DIR";
    let Ok(absolute) = image.canonicalize() else {
        bail!("--image {}: not a directory: {how}", image.display());
    };
    if !absolute.is_dir() || !absolute.join("bin/sh").exists() {
        bail!("--image {}: not a root filesystem (no bin/sh): {how}", image.display());
    }
    if absolute.to_string_lossy().contains([',', ':', '\\']) {
        bail!(
            "--image {}: overlayfs cannot take a path with ',', ':' or '\\' in it: move it",
            image.display()
        );
    }
    Ok(absolute)
}

/// `--keep-layer DIR`: a new directory, or an empty one of the caller's, never a symlink, as
/// tools/mkrootfs requires: a name in /tmp another user made first must not choose where we write.
fn empty_dir_of_ours(dir: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    if std::fs::DirBuilder::new().mode(0o700).create(dir).is_err() {
        let meta =
            std::fs::symlink_metadata(dir).with_context(|| format!("--keep-layer {}", dir.display()))?;
        let empty = std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(false);
        if !meta.is_dir() || meta.uid() != geteuid().as_raw() || !empty {
            bail!("--keep-layer {}: not a new or empty directory of yours; give a new one", dir.display());
        }
    }
    let absolute = dir.canonicalize().with_context(|| format!("--keep-layer {}", dir.display()))?;
    if absolute.to_string_lossy().contains([',', ':', '\\']) || absolute.as_os_str() == OsStr::new("/") {
        bail!("--keep-layer {}: overlayfs cannot take this path: give another", dir.display());
    }
    Ok(absolute)
}

/// The name by which a path reaches exactly the directory `fd` is open on.
fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}
