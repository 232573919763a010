//! What the tests of sandbox.rs and sandbox_steps.rs share: the sandbox run as nobody (as
//! ourselves when not root) with a runtime directory of its own, the workspace's binaries
//! reachable by nobody, the check that the sandbox can start here, and a root filesystem from
//! tools/mkrootfs. Both include it with `mod sandbox_support;`; it imports neither.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Once;
use testkit::{is_root, reachable_by_nobody, run, Out, NOBODY};

pub const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

/// `target/debug`: this test is `target/debug/deps/sandbox-*` (or `sandbox_steps-*`).
pub fn bin_dir() -> PathBuf {
    std::env::current_exe().unwrap().ancestors().nth(2).unwrap().to_path_buf()
}

/// A program of the workspace, as a path nobody can run. `cargo test -p xtask` builds only
/// xtask, so the first call builds the rest (`cargo test --workspace` has built them already).
pub fn bin(name: &str) -> String {
    static BUILD: Once = Once::new();
    let path = bin_dir().join(name);
    if !path.exists() {
        BUILD.call_once(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
            let out = run(&[cargo.as_str(), "build", "--quiet", "--workspace", "--bins", "--manifest-path"]
                .into_iter()
                .map(String::from)
                .chain([root.join("Cargo.toml").display().to_string()])
                .collect::<Vec<_>>());
            assert_eq!(out.status, 0, "cargo build --workspace failed\n{out:#?}");
        });
    }
    reachable_by_nobody(path.to_str().unwrap()).display().to_string()
}

/// A new directory of the sandbox's user (nobody, when we are root), mode 0700, for its
/// XDG_RUNTIME_DIR: where the sandbox records itself for `--join`.
pub fn runtime_dir() -> PathBuf {
    let dir = testkit::fresh_dir_for_nobody("runtime");
    if is_root() {
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

/// `xtask sandbox ARGS`, as nobody if we are root, with `runtime` as XDG_RUNTIME_DIR.
pub fn sandbox_argv_in(runtime: &Path, args: &[&str]) -> Vec<String> {
    let mut argv: Vec<String> = Vec::new();
    if is_root() {
        argv.extend(NOBODY.map(String::from));
    }
    argv.extend(["env".into(), format!("XDG_RUNTIME_DIR={}", runtime.display())]);
    argv.push(reachable_by_nobody(XTASK).display().to_string());
    argv.push("sandbox".into());
    argv.extend(args.iter().map(|s| s.to_string()));
    argv
}

/// The argv that runs `command` in the sandbox, as nobody if we are root.
pub fn sandbox_argv(command: &[&str]) -> Vec<String> {
    static RUNTIME: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let runtime = RUNTIME.get_or_init(runtime_dir);
    sandbox_argv_in(runtime, &[&["--"], command].concat())
}

/// Run `script` with `sh -c` in the sandbox. In it, `$S1` ... `$S7` and `$S11` ... `$S13`
/// are the steps and `$SE` is setns-enter.
pub fn in_sandbox(script: &str) -> Out {
    let mut vars = String::new();
    for (var, name) in [
        ("S1", "step01-clone"),
        ("S2", "step02-uts"),
        ("S3", "step03-ipc"),
        ("S4", "step04-pid"),
        ("S5", "step05-mount"),
        ("S6", "step06-user"),
        ("S7", "step07-net"),
        ("S11", "step11-overlay"),
        ("S12", "step12-caps"),
        ("S13", "step13-seccomp"),
        ("SE", "setns-enter"),
    ] {
        vars.push_str(&format!("{var}='{}'\n", bin(name)));
    }
    run(&sandbox_argv(&["sh", "-c", &format!("{vars}{script}")]))
}

/// Whether the sandbox can start here: it needs user namespaces. Under CI it must.
pub fn sandbox_or_skip() -> bool {
    let mut argv: Vec<&str> = if is_root() { NOBODY.to_vec() } else { Vec::new() };
    argv.extend(["unshare", "--user", "--map-root-user", "--net", "true"]);
    if run(&argv).status == 0 {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("the sandbox needs user namespaces, which are off here, and CI must run every test");
    }
    eprintln!(
        "note: user namespaces are off here, so the sandbox tests are skipped (cargo xtask doctor says why)"
    );
    false
}

/// A root filesystem from tools/mkrootfs, in a directory of its own, readable by everyone.
pub struct Rootfs(pub PathBuf);

impl Rootfs {
    pub fn build() -> Rootfs {
        let out = run(&["mktemp", "-d"]);
        let top = PathBuf::from(out.stdout.trim());
        std::fs::set_permissions(&top, std::fs::Permissions::from_mode(0o755)).unwrap();
        let dir = top.join("rootfs"); // not there yet: mkrootfs makes it
        let mkrootfs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/mkrootfs");
        let out = run(&[mkrootfs.to_str().unwrap(), dir.to_str().unwrap()]);
        assert_eq!(out.status, 0, "tools/mkrootfs failed\n{out:#?}");
        Rootfs(top)
    }
}

impl Drop for Rootfs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
