//! step05's lesson, the mount namespace: no mount leaks out, `--rootfs DIR` becomes `/` with its
//! own /proc, /dev and /tmp, a bad `--rootfs` is one line, and a root filesystem that is hostile
//! (symlinks out of it, the host's files to write through) fools no root.
//!
//! Called by the `tests/lesson.rs` and `tests/hardening.rs` of steps 01 on.

use crate::privilege::{installed_or_skip, is_real_root, real_root_or_skip, root_or_skip, RealRoot};
use crate::step::{one_error_line, rootfs, run, sh, Step};
use crate::tmp::fresh_dir_for_nobody;
use crate::wording as says;
use std::path::{Path, PathBuf};

// --- Mounts --------------------------------------------------------------------------------------

/// Run the step inside an outer `unshare --mount` whose `/` is made shared, as on systemd
/// machines, and check that the outer /proc and mount table are as they were afterwards.
pub fn mounts_do_not_leak(step: Step, with_rootfs: bool) {
    if !step.may_run() {
        return;
    }
    if !root_or_skip("unshare --mount needs root") || !installed_or_skip(&["unshare"]) {
        return;
    }
    let script = include_str!("../scripts/mounts-unchanged.sh");
    let mut argv: Vec<String> = ["unshare", "--mount", "--propagation", "shared", "sh", "-c", script, "sh"]
        .map(String::from)
        .to_vec();
    let rootfs = rootfs();
    let args = match with_rootfs {
        true => vec!["--rootfs", rootfs.to_str().unwrap(), "true"],
        false => vec!["true"],
    };
    argv.extend(step.argv(&args));
    let out = run(&argv);
    out.assert_status(0);
    let mut lines = out.stdout.lines();
    let counts: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(counts.len(), 3, "{out:#?}");
    assert_eq!(counts[1], counts[2], "the outer mount table changed\n{out:#?}");
    assert_eq!(lines.next(), Some("proc-is-ours"), "the outer /proc was replaced\n{out:#?}");
}

/// With no /proc mounted (inside a throwaway `unshare --mount`), the step still runs.
pub fn works_without_proc(step: Step) {
    if !step.may_run() || !real_root_or_skip(RealRoot::NoProc) || !installed_or_skip(&["unshare"]) {
        return;
    }
    let mut argv: Vec<String> =
        ["unshare", "--mount", "sh", "-c", "umount -l /proc && exec \"$@\"", "sh"].map(String::from).to_vec();
    argv.extend(step.argv(&["sh", "-c", "echo ok"]));
    let out = run(&argv);
    out.assert_status(0);
    assert_eq!(out.stdout, "ok\n");
    assert!(out.errors().is_empty(), "{out:#?}");
}

// --- --rootfs ------------------------------------------------------------------------------------

/// `--rootfs DIR`: DIR is `/`, with its own /proc, /dev and /tmp, and the host's files are gone.
/// `own_sysfs`: whether the step may mount a sysfs of its own there (not step06: a user
/// namespace may mount sysfs only with a network namespace of its own, and /sys stays empty).
pub fn rootfs_becomes_root(step: Step, own_sysfs: bool) {
    if !step.may_run() {
        return;
    }
    let rootfs = rootfs();
    let marker = rootfs.join("etc/rootfs-marker");
    std::fs::write(&marker, "inside the rootfs\n").unwrap();
    let script = include_str!("../scripts/rootfs-inside.sh");
    let out = step.run(&["-q", "--rootfs", rootfs.to_str().unwrap(), "sh", "-c", script]);
    out.assert_status(0);
    let sys = if own_sysfs { " /sys" } else { "" };
    let mounts = format!(
        "/ /dev /dev/full /dev/null /dev/pts /dev/random /dev/shm /dev/tty /dev/urandom /dev/zero \
         /etc/hosts /etc/resolv.conf /proc{sys} /tmp"
    );
    let lines: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    assert_eq!(
        lines,
        [
            "inside the rootfs",
            "container",
            "full null ptmx pts random shm tty urandom zero",
            "dev-null-is-a-device",
            "tmp-writable",
            mounts.as_str(),
            "1 ps"
        ],
        "{out:#?}"
    );
    assert!(!rootfs.join("tmp/x").exists(), "/tmp inside should be a tmpfs of its own");
}

/// `--rootfs` pointing at nothing, at a file, or at a directory without bin/sh: one line, 125.
pub fn rootfs_errors(step: Step) {
    if !step.may_run() {
        return;
    }
    // Where a step run as nobody may look, so that it meets each error and not EACCES.
    let dir = fresh_dir_for_nobody("rootfs-errors");
    let file = dir.join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let empty = dir.join("empty-rootfs");
    std::fs::create_dir(&empty).unwrap();
    let missing = dir.join("missing");
    for (path, error) in
        [(&missing, says::NOT_A_DIRECTORY), (&file, says::NOT_A_DIRECTORY), (&empty, says::NO_BIN_SH)]
    {
        let out = step.run(&["--rootfs", path.to_str().unwrap(), "true"]);
        out.assert_status(125);
        let line = one_error_line(&out);
        assert!(line.contains(error) && line.contains(&path.display().to_string()), "{line}");
        assert!(!out.stderr.contains(says::STARTED_CONTAINER), "must fail before clone\n{out:#?}");
    }
    assert!(!Path::new(&missing).exists());
}

/// Without --rootfs the container still sees the host's files, under its own /proc.
pub fn host_files_without_rootfs(step: Step) {
    if !step.may_run() {
        return;
    }
    let out = sh("test -e /etc/os-release && echo yes");
    let inside = step.run(&["sh", "-c", "test -e /etc/os-release && echo yes"]);
    assert_eq!(inside.stdout, out.stdout);
}

/// `--rootfs .` from inside the rootfs works as any other path does.
pub fn rootfs_dot(step: Step) {
    if !step.may_run() {
        return;
    }
    let rootfs = rootfs();
    let mut argv: Vec<String> = ["sh", "-c", "cd \"$0\" && exec \"$@\""].map(String::from).to_vec();
    argv.push(rootfs.display().to_string());
    argv.extend(step.argv(&["-q", "--rootfs", ".", "sh", "-c", "test -d /proc/1 && echo inside"]));
    let out = run(&argv);
    out.assert_status(0);
    assert_eq!(out.stdout, "inside\n", "{out:#?}");
}

// --- A hostile root filesystem, run by root ------------------------------------------------------

/// A copy of the test rootfs in `dir`, for one attack to spoil.
fn rootfs_copy(dir: &Path) -> PathBuf {
    let copy = dir.join("rootfs");
    let out = run(&["cp", "-a", rootfs().to_str().unwrap(), copy.to_str().unwrap()]);
    out.assert_status(0);
    copy
}

/// Our mount table, as the host sees it: an attack must not add a line to it.
fn host_mounts() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap()
}

/// A symlink where the rootfs needs a directory (`dev`, `proc`, `tmp`, `sys`), pointing out of
/// it, absolutely or with `..`: the step refuses it with one line that names it, exit 125, and
/// nothing outside the rootfs changes (run by root, which the attack means to fool).
pub fn rootfs_symlinks_refused(step: Step) {
    let step = step.as_root();
    if !step.may_run() {
        return;
    }
    let dir = fresh_dir_for_nobody("attack");
    let outside = dir.join("outside");
    std::fs::create_dir(&outside).unwrap();
    let rootfs = rootfs_copy(&dir);
    for (name, target) in [
        ("dev", outside.to_str().unwrap().to_string()),
        ("proc", "../outside".to_string()),
        ("tmp", "/".to_string()),
        ("sys", outside.to_str().unwrap().to_string()),
    ] {
        let real = rootfs.join(format!("{name}.real"));
        std::fs::rename(rootfs.join(name), &real).unwrap();
        std::os::unix::fs::symlink(&target, rootfs.join(name)).unwrap();
        let mounts = host_mounts();
        let out = step.run(&["-q", "--rootfs", rootfs.to_str().unwrap(), "true"]);
        out.assert_status(125);
        let line = one_error_line(&out);
        assert!(line.contains(&format!("--rootfs: {name} is a symlink")), "{line}");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "{name} -> {target}: files made outside");
        assert_eq!(host_mounts(), mounts, "{name} -> {target}: a mount reached the host");
        std::fs::remove_file(rootfs.join(name)).unwrap();
        std::fs::rename(&real, rootfs.join(name)).unwrap();
    }
}

/// `etc/hosts` as a symlink to a file outside the rootfs: the host's hosts is not bound over
/// it (that would write through the link), the step says so, and the file outside is unchanged.
/// The host's own files, bound in read-only, cannot be written from inside either.
pub fn rootfs_host_files_read_only(step: Step) {
    let step = step.as_root();
    if !step.may_run() {
        return;
    }
    let dir = fresh_dir_for_nobody("attack");
    let victim = dir.join("victim");
    std::fs::write(&victim, "victim\n").unwrap();
    let rootfs = rootfs_copy(&dir);
    std::fs::remove_file(rootfs.join("etc/hosts")).unwrap();
    std::os::unix::fs::symlink(&victim, rootfs.join("etc/hosts")).unwrap();
    let hosts_before = std::fs::read("/etc/hosts").unwrap();
    let resolv_before = std::fs::read("/etc/resolv.conf").unwrap();
    let script = "echo x >> /etc/hosts; echo x >> /etc/resolv.conf; echo done";
    let out = step.run(&["--rootfs", rootfs.to_str().unwrap(), "sh", "-c", script]);
    out.assert_status(0);
    assert!(
        out.stderr.contains("left /etc/hosts as the root filesystem has it: it is a symlink"),
        "{out:#?}"
    );
    assert!(out.stderr.contains("bound the host's /etc/resolv.conf read-only"), "{out:#?}");
    // A container root that is not the machine's root (the sandbox's; from step06 on, even when
    // root starts the step) may not write the machine's files at all, mount or no mount: the
    // kernel says so first (EACCES). Only the machine's own root meets the read-only bind.
    let refused = if is_real_root() {
        &["Read-only file system", "Permission denied"][..]
    } else {
        &["Permission denied"]
    };
    assert!(
        refused.iter().any(|why| out.stderr.contains(&format!("/etc/resolv.conf: {why}"))),
        "resolv.conf was writable\n{out:#?}"
    );
    assert_eq!(std::fs::read("/etc/resolv.conf").unwrap(), resolv_before, "the host's resolv.conf changed");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "victim\n");
    assert_eq!(std::fs::read("/etc/hosts").unwrap(), hosts_before, "the host's /etc/hosts changed");
}
