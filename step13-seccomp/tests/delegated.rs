//! `--pids-max` without root, where systemd delegates a cgroup subtree to an ordinary user: the
//! way the book and the step's own error point to (`systemd-run --user --scope -p
//! Delegate=yes`). It needs a machine with cgroup v2 only, an ordinary user and their systemd
//! user manager; elsewhere it says why it skips. `tools/vm-test` runs it in such a machine (a
//! Debian 12 VM), as the user `learner`, and `.ci/run` runs that.

use std::process::Command;

const BIN: &str = env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME")));

/// Say why the test checks nothing here, straight to fd 2 (the harness captures eprintln!).
fn skip(why: &str) {
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("note: the delegated-scope test skipped: {why}\n").as_bytes(),
    );
}

/// Run `argv` and return (status, stdout, stderr).
fn run(argv: &[&str]) -> (i32, String, String) {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("could not start {argv:?}: {e}"));
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// Forks until the kernel refuses, then says how many children it started.
const FORK: &str = "import os, time
n = 0
try:
    for i in range(30):
        if os.fork() == 0:
            time.sleep(2)
            os._exit(0)
        n += 1
except OSError as e:
    print('fork failed:', e.strerror)
print('children started:', n)";

#[test]
fn pids_max_in_a_delegated_systemd_user_scope() {
    if !std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        // Not even under CI: CI runs this test where cgroups are v2 only (tools/vm-test).
        return skip("this machine's cgroups are not v2 only (tools/vm-test runs it in a VM where they are)");
    }
    if nix::unistd::geteuid().is_root() {
        return skip("it runs as root; run it as an ordinary user with a systemd user manager");
    }
    let (status, _, stderr) = run(&["systemd-run", "--user", "--scope", "--quiet", "true"]);
    if status != 0 {
        let why = format!("systemd-run --user --scope failed ({status}): no systemd user manager? {stderr}");
        assert!(std::env::var_os("CI").is_none(), "under CI this test must run: {why}");
        return skip(&why);
    }
    let scope = ["systemd-run", "--user", "--scope", "--quiet", "-p", "Delegate=yes", BIN];
    let (status, stdout, stderr) = run(&[&scope[..], &["--pids-max", "12", "python3", "-c", FORK]].concat());
    assert_eq!(status, 0, "the step failed in a delegated scope\nstdout: {stdout}\nstderr: {stderr}");
    // The limit counts the container's processes: python3 and 11 children make 12.
    assert!(stdout.contains("fork failed: Resource temporarily unavailable"), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("children started: 11"),
        "pids.max 12 should allow 11 children\n{stdout}\n{stderr}"
    );
    assert!(stderr.contains("moved itself into "), "the step should say where it moved itself\n{stderr}");
}
