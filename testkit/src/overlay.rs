//! Checks of step11's lesson: an image shared read-only under a layer of each container's own
//! (`--image DIR`), the changes printed as `docker diff` prints them, `--keep-layer DIR`.
//! Called by the `tests/lesson.rs` and `tests/hardening.rs` of steps 11 on.

use crate::{
    fresh_dir, fresh_dir_for_nobody, is_real_root, is_root, real_root_or_skip, run, RealRoot, Step, NOBODY,
};
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A new image, made by tools/mkrootfs as the user the step runs as, so that the container's
/// root owns it, with a few files of our own to change and delete.
pub fn image(step: Step) -> PathBuf {
    let dir = fresh_dir_for_nobody("image");
    // Only the machine's root starts the step as nobody (`Step::as_nobody`); the sandbox's root
    // runs it as itself, and the container's root is then the sandbox's, which owns what it makes.
    let nobody = step.as_nobody && is_real_root();
    if nobody {
        run(&["chown", "65534:65534", dir.to_str().unwrap()]).assert_status(0);
    }
    let image = dir.join("image");
    let mkrootfs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/mkrootfs");
    let script = "set -e; \"$0\" \"$1\" >/dev/null; mkdir -p \"$1/srv/old\"; echo a > \"$1/srv/old/a\"; \
                  echo b > \"$1/srv/old/b\"; echo kept > \"$1/srv/keep\"";
    let mut argv: Vec<String> = if nobody { NOBODY.map(String::from).to_vec() } else { Vec::new() };
    argv.extend(["sh", "-c", script, mkrootfs.to_str().unwrap(), image.to_str().unwrap()].map(String::from));
    run(&argv).assert_status(0);
    if is_real_root() && !nobody {
        // Run by root, the container's root is not the host's (step06): the image is given to
        // whom it is, as `tools/mkrootfs` run by that user would make it, so copy-up works.
        let uid = crate::root_started::container_root_outside();
        let gid = std::env::var("SUDO_GID").ok().filter(|_| std::env::var("SUDO_UID").is_ok());
        let owner = format!("{uid}:{}", gid.unwrap_or_else(|| uid.to_string()));
        run(&["chown", "-R", "--no-dereference", &owner, image.to_str().unwrap()]).assert_status(0);
    }
    image
}

/// Every file of the tree under `dir`, with its type, mode, owner, size, times and contents,
/// read without following symlinks: two sums are equal only if nothing in it changed.
pub fn checksum(dir: &Path) -> u64 {
    fn walk(path: &Path, hasher: &mut DefaultHasher) {
        let meta = std::fs::symlink_metadata(path).unwrap();
        (path, meta.mode(), meta.uid(), meta.gid(), meta.size(), meta.mtime(), meta.mtime_nsec())
            .hash(hasher);
        if meta.is_file() {
            std::fs::read(path).unwrap().hash(hasher);
        } else if meta.is_dir() {
            let mut names: Vec<_> = std::fs::read_dir(path).unwrap().map(|e| e.unwrap().path()).collect();
            names.sort();
            names.iter().for_each(|p| walk(p, hasher));
        }
    }
    let mut hasher = DefaultHasher::new();
    walk(dir, &mut hasher);
    hasher.finish()
}

/// The script that creates, changes and deletes files in the image, and the lines the step
/// prints for it afterwards, as `docker diff` does.
const CHANGES: &str = "echo new > /new; echo more >> /srv/keep; rm /bin/uname; rm -r /srv/old; \
                       mkdir /srv/old; echo c > /srv/old/c; cat /srv/keep";
const DIFF: [&str; 9] = [
    "C /bin",
    "D /bin/uname",
    "A /new",
    "C /srv",
    "C /srv/keep",
    "C /srv/old",
    "D /srv/old/a",
    "D /srv/old/b",
    "A /srv/old/c",
];

/// The lines of `docker diff` form in what the step printed (on stderr, even with `-q`).
fn diff_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| matches!(l.get(..3), Some("A /" | "C /" | "D /"))).collect()
}

/// The layer's directory, as the step named it.
fn layer_of(stderr: &str) -> PathBuf {
    let line = stderr.lines().find(|l| l.contains("the container's layer is ")).expect(stderr);
    let rest = line.split("the container's layer is ").nth(1).unwrap();
    PathBuf::from(rest.split(", on the image").next().unwrap())
}

/// The container sees the image and writes over it; the step prints the changes; the image is
/// the same before and after, byte for byte; the layer is removed.
pub fn image_never_changes(step: Step) {
    if !step.may_run() {
        return;
    }
    let image = image(step);
    let before = checksum(&image);
    let out = step.run(&["--image", image.to_str().unwrap(), "sh", "-c", CHANGES]);
    out.assert_status(0);
    assert_eq!(out.stdout, "kept\nmore\n", "{out:#?}");
    assert_eq!(diff_lines(&out.stderr), DIFF, "{out:#?}");
    assert_eq!(checksum(&image), before, "the image changed\n{out:#?}");
    assert!(!layer_of(&out.stderr).exists(), "the layer was not removed\n{out:#?}");
}

/// Two containers on one image at once: each sees its own changes, not the other's.
pub fn containers_do_not_see_each_other(step: Step) {
    if !step.may_run() {
        return;
    }
    let image = image(step);
    let before = checksum(&image);
    let start = |name: &str| {
        let script = format!("echo {name} > /{name}; rm /srv/keep; echo ready; read _; ls /; cat /srv/keep");
        crate::Running::start(&step.argv(&["-q", "--image", image.to_str().unwrap(), "sh", "-c", &script]))
    };
    let (one, two) = (start("one"), start("two"));
    let (one, two) = (one.finish(), two.finish());
    for (out, mine, theirs) in [(&one, "one", "two"), (&two, "two", "one")] {
        let names: Vec<&str> = out.stdout.lines().collect();
        assert!(names.contains(&mine) && !names.contains(&theirs), "{out:#?}");
        assert!(out.stderr.contains("No such file"), "/srv/keep should be gone: {out:#?}");
    }
    assert_eq!(checksum(&image), before, "the image changed");
}

/// `--keep-layer DIR` keeps the layer: DIR/upper holds what the container wrote.
pub fn keep_layer(step: Step) {
    if !step.may_run() {
        return;
    }
    let image = image(step);
    let parent = fresh_dir_for_nobody("keep");
    if step.as_nobody && is_real_root() {
        run(&["chown", "65534:65534", parent.to_str().unwrap()]).assert_status(0);
    }
    let keep = parent.join("layer");
    let args = ["-q", "--image", image.to_str().unwrap(), "--keep-layer", keep.to_str().unwrap()];
    let out = step.run(&[&args[..], &["sh", "-c", "echo kept > /new"]].concat());
    out.assert_status(0);
    assert_eq!(std::fs::read_to_string(keep.join("upper/new")).ok().as_deref(), Some("kept\n"), "{out:#?}");
    assert_eq!(diff_lines(&out.stderr), ["A /new"], "-q keeps the changes' lines: {out:#?}");
    // Again into the same, no longer empty, DIR: refused in one line.
    let out = step.run(&[&args[..], &["true"]].concat());
    out.assert_status(125);
    assert_eq!(out.errors().len(), 1, "{out:#?}");
    assert!(out.stderr.contains("--keep-layer"), "{out:#?}");
}

/// Mistakes cost one line and 125: no such image, --image with --rootfs, --keep-layer alone.
pub fn image_errors(step: Step) {
    if !step.may_run() {
        return;
    }
    let dir = fresh_dir_for_nobody("image-errors");
    let missing = dir.join("missing");
    let image = image(step);
    for args in [
        vec!["--image", missing.to_str().unwrap(), "true"],
        vec!["--image", dir.to_str().unwrap(), "true"],
        vec!["--image", image.to_str().unwrap(), "--rootfs", image.to_str().unwrap(), "true"],
        vec!["--keep-layer", missing.to_str().unwrap(), "true"],
    ] {
        let out = step.run(&args);
        out.assert_status(125);
        assert_eq!(out.errors().len(), 1, "{args:?}: {out:#?}");
    }
}

/// The upper layer was written by the container: the step lists a symlink in it as one entry,
/// never what it leads to, and removing the layer removes the link, not its target.
pub fn hostile_layer_walked_safely(step: Step) {
    if !step.may_run() {
        return;
    }
    let image = image(step);
    std::fs::copy("/bin/ln", image.join("bin/ln")).unwrap(); // mkrootfs has no ln: same libraries
    let host = fresh_dir("host-target");
    std::fs::write(host.join("marker"), "host\n").unwrap();
    let script = format!(
        "ln -s {} /link; ln -s / /root-link; mkdir /d; ln -s {} /d/link; echo > \"$(printf '/x\\nD fake')\"",
        host.display(),
        host.display()
    );
    let out = step.run(&["--image", image.to_str().unwrap(), "sh", "-c", &script]);
    out.assert_status(0);
    // A name with a newline is one line, escaped: the container cannot forge a line of ours.
    let lines = diff_lines(&out.stderr);
    assert_eq!(lines, ["A /d", "A /d/link", "A /link", "A /root-link", "A /x\\nD fake"], "{out:#?}");
    assert!(host.join("marker").exists(), "removing the layer followed a symlink out of it");
}

/// An image whose files belong to an ID the container's map does not hold (root's, in a
/// container run as nobody): the step warns in one line, and copy-up fails with EOVERFLOW.
pub fn unmapped_image_explained(nobody: Step) {
    if !nobody.may_run() || !real_root_or_skip(RealRoot::Nobody) {
        return;
    }
    let image = crate::rootfs(); // made by root: its files are root's
    let out = nobody.run(&["--image", image.to_str().unwrap(), "sh", "-c", "echo x >> /bin/sh"]);
    assert_ne!(out.status, 0, "{out:#?}");
    assert!(out.stderr.contains("EOVERFLOW"), "no warning: {out:#?}");
    assert!(out.stderr.contains("Value too large"), "copy-up should fail: {out:#?}");
}

/// The layer belongs to whom the container's root is outside, and so does every other process
/// of that user: while the container runs, one of them swaps `work/work` for a symlink to a
/// file of root's. Removing the layer afterwards, the step (root) must change nothing through
/// it: overlayfs leaves `work/work` mode 000, and making it removable must not follow a link.
pub fn layer_cleanup_follows_no_symlink(step: Step) {
    if !step.may_run() || !is_root() {
        return;
    }
    let image = image(step);
    let victim = fresh_dir("victim").join("file");
    std::fs::write(&victim, "root's\n").unwrap();
    std::fs::set_permissions(&victim, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let running = crate::step::Running::start(&step.argv(&[
        "-q",
        "--image",
        image.to_str().unwrap(),
        "sh",
        "-c",
        "echo ready; read _; true",
    ]));
    let mounts = std::fs::read_to_string(format!("/proc/{}/mountinfo", running.container)).unwrap();
    let upper = mounts.split(',').find_map(|o| o.strip_prefix("upperdir=")).expect("no overlay mounted");
    let layer = Path::new(upper).parent().unwrap().to_path_buf();
    let owner = std::fs::metadata(&layer).unwrap();
    let (uid, gid) = (owner.uid().to_string(), owner.gid().to_string());
    let swap = format!(
        "mv {0}/work {0}/work.old && mkdir {0}/work && ln -s {1} {0}/work/work",
        layer.display(),
        victim.display()
    );
    // In the sandbox the layer is the sandbox root's, ours: we swap it as we are (setpriv's
    // --clear-groups would be refused, as setgroups is denied there).
    let swapped = match is_real_root() {
        true => run(&["setpriv", "--reuid", &uid, "--regid", &gid, "--clear-groups", "sh", "-c", &swap]),
        false => run(&["sh", "-c", &swap]),
    };
    let out = running.finish();
    swapped.assert_status(0);
    out.assert_status(0);
    let mode = std::fs::metadata(&victim).unwrap().mode() & 0o7777;
    assert_eq!(mode, 0o644, "removing the layer changed {} through a symlink\n{out:#?}", victim.display());
    assert!(!layer.exists(), "the layer {} was not removed\n{out:#?}", layer.display());
}
