//! The scratch copy of the workspace that xtask/tests/exercises.rs applies each solution to,
//! its target directories, its build, git, and the checker run in namespaces like the
//! sandbox's. Only exercises.rs includes it (`mod exercises_support;`); it imports nothing of it.

use std::path::{Path, PathBuf};
use std::process::Command;
use xtask::check::run::Workspace;

/// `xtask check ID --as-root` (the steps are built) in namespaces like `cargo xtask sandbox`'s:
/// a user namespace whose only mapped ID is 0, with mount, network, UTS, IPC and PID ones. Made
/// by nobody, as a learner's sandbox is made by the learner: made by root, its uid 0 would be
/// the host's root, which the steps refuse to map a container's root to.
pub fn check_in_a_sandbox(ws: &Workspace, id: &str) -> std::process::Output {
    // testkit::NOBODY is `env -i ... setpriv ...`: CARGO_TARGET_DIR goes in after the -i.
    let target = format!("CARGO_TARGET_DIR={}", ws.target_dir.display());
    let mut argv: Vec<&str> = Vec::new();
    if nix::unistd::geteuid().is_root() {
        argv.extend(&testkit::NOBODY[..2]);
        argv.push(&target);
        argv.extend(&testkit::NOBODY[2..]);
    }
    argv.push("unshare");
    Command::new(argv[0])
        .args(&argv[1..])
        .args(["--user", "--map-root-user", "--mount", "--propagation", "private", "--net", "--uts", "--ipc"])
        .args(["--pid", "--fork", "--mount-proc", env!("CARGO_BIN_EXE_xtask"), "check", id, "--as-root"])
        .env("CARGO_TARGET_DIR", &ws.target_dir)
        .current_dir(&ws.root)
        .output()
        .expect("running unshare")
}

pub fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("git").args(args).current_dir(dir).output().expect("running git")
}

/// Build the steps in one cargo run (the two cores work on several at once).
pub fn build_all(ws: &Workspace, steps: &[&str]) {
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo.args(["build", "--quiet"]).current_dir(&ws.root).env("CARGO_TARGET_DIR", &ws.target_dir);
    for step in steps {
        cargo.args(["--package", step]);
    }
    let out = cargo.output().expect("running cargo build");
    assert!(
        out.status.success(),
        "the unmodified steps do not build:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The workspace's target directory: this test is target/debug/deps/exercises-*.
pub fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().to_path_buf()
}

/// A target directory kept from run to run, so that only what the scratch copy changes is
/// rebuilt: the dependencies are compiled once.
pub fn shared_target_dir() -> PathBuf {
    target_dir().join("exercises-target")
}

/// Copy the files git tracks, as they are in the working tree (edits not yet committed
/// included), to `to`.
pub fn copy_tracked_files(from: &Path, to: &Path) {
    let out = git(from, &["ls-files", "-z"]);
    assert!(out.status.success(), "git ls-files failed: {}", String::from_utf8_lossy(&out.stderr));
    for name in out.stdout.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = std::str::from_utf8(name).unwrap();
        let (source, target) = (from.join(name), to.join(name));
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        match std::fs::symlink_metadata(&source) {
            Ok(meta) if meta.file_type().is_symlink() => {
                std::os::unix::fs::symlink(std::fs::read_link(&source).unwrap(), &target).unwrap()
            }
            Ok(_) => {
                std::fs::copy(&source, &target).unwrap();
            }
            Err(_) => {} // deleted in the working tree, not yet in git
        }
    }
}

/// target/exercises-scratch-PID, made fresh (it fails if it exists), removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new() -> Scratch {
        let dir = target_dir().join(format!("exercises-scratch-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
