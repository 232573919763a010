//! Attacks by another user on the tests and on `tools/mkrootfs`, which classes run as root on
//! shared machines. Each is replayed with `testkit::replay`: `nobody` plants files in a /tmp
//! of the replay's own, next to files of root's, then one of the `inner_` tests below runs as
//! root there; nothing in /tmp may have changed once it has ended. The `inner_` tests are
//! ignored: they run only inside a replay.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use testkit::replay::{inside_replay, replay, Attack};
use testkit::{clone, mount, net, run, Step};

/// A step binary built next to this test (`cargo test --workspace` builds them all), or `None`
/// after saying why the check is skipped (under CI, it fails).
fn built_step(name: &str) -> Option<&'static str> {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.ancestors().nth(2).unwrap().join(name);
    if bin.is_file() {
        return Some(Box::leak(bin.display().to_string().into_boxed_str()));
    }
    let why = format!("{} is not built: run cargo test --workspace", bin.display());
    assert!(std::env::var_os("CI").is_none(), "{why}");
    eprintln!("note: skipped: {why}");
    None
}

/// Root's files that the attacks aim at: a passwd and group, a private directory, and a
/// directory named like a PID that has ended.
const VICTIM: &str = "mkdir -m 700 /tmp/victim /tmp/victim/etc /tmp/victim/private /tmp/victim/99999
                      echo 'root:x:0:0:the victim:/root:/bin/sh' > /tmp/victim/etc/passwd
                      echo 'root:x:0:the victim' > /tmp/victim/etc/group
                      echo kept > /tmp/victim/99999/file";

/// Fails with every change the replayed test left in /tmp, if it left any.
#[track_caller]
fn assert_nothing_reached(replayed: &testkit::replay::Replayed, status: i32) {
    assert!(
        replayed.status == status && replayed.changes.is_empty(),
        "the replayed test exited with {} (expected {}), and the attack reached these files in \
         /tmp (< before, > after):\n{}\n\n{}",
        replayed.status,
        status,
        replayed.changes.join("\n"),
        replayed.out.stderr
    );
}

/// nobody makes the directory the tests used to share, `/tmp/namespaces-tests-0/`, with a
/// directory for the test's PID in it: an `ip` of its own where ip_missing's empty PATH
/// directory goes, and a rootfs whose etc/ and tmp/ lead to root's files and whose bin/sh is
/// nobody's. The checks that used them reach none of it.
#[test]
fn a_test_directory_made_first_by_nobody_is_not_used() {
    let plant = "top=/tmp/namespaces-tests-0
                 mkdir -m 777 $top $top/$1 $top/$1/empty-path $top/$1/rootfs $top/$1/rootfs/bin
                 printf '#!/bin/sh\\n/usr/bin/touch /tmp/root-ran-nobodys-ip\\n' > $top/$1/empty-path/ip
                 printf '#!/bin/sh\\n/usr/bin/touch /tmp/root-ran-nobodys-sh\\n' > $top/$1/rootfs/bin/sh
                 chmod 755 $top/$1/empty-path/ip $top/$1/rootfs/bin/sh
                 ln -s /tmp/victim/etc $top/$1/rootfs/etc
                 ln -s /tmp/victim/private $top/$1/rootfs/tmp";
    let attack = Attack { victim: VICTIM, plant };
    if let Some(replayed) = replay(&attack, "inner_checks_that_use_test_directories") {
        assert_nothing_reached(&replayed, 0);
    }
}

/// nobody makes `/tmp/namespaces-tests-0` a symlink to a directory of root's, where a name
/// looks like the PID of a test process that has ended. Nothing there changes.
#[test]
fn a_test_directory_symlink_is_not_followed() {
    let attack = Attack { victim: VICTIM, plant: "ln -s /tmp/victim /tmp/namespaces-tests-0" };
    if let Some(replayed) = replay(&attack, "inner_checks_that_use_test_directories") {
        assert_nothing_reached(&replayed, 0);
    }
}

#[test]
#[ignore = "run by the attack replays above"]
fn inner_checks_that_use_test_directories() {
    if !inside_replay() {
        return;
    }
    let (Some(step05), Some(step06), Some(step07)) =
        (built_step("step05-mount"), built_step("step06-user"), built_step("step07-net"))
    else {
        return;
    };
    net::works_without_ip(Step {
        bin: step07,
        wrap: &["unshare", "--net"],
        as_nobody: false,
        needs_root: true,
    });
    clone::exit_statuses(Step::nobody(step06));
    mount::rootfs_errors(Step::nobody(step06));
    mount::rootfs_becomes_root(Step::root(step05), true);
}

/// Once a test process has ended, its files are gone from /tmp: here the replay has no attack,
/// and counts what the test left.
#[test]
fn test_files_are_removed_when_the_tests_end() {
    let attack = Attack { victim: ":", plant: ":" };
    if let Some(replayed) = replay(&attack, "inner_makes_test_files") {
        assert_nothing_reached(&replayed, 0);
    }
}

/// The same, when the test process is interrupted (Ctrl-C) instead of ending by itself.
#[test]
fn test_files_are_removed_after_ctrl_c() {
    let attack = Attack { victim: ":", plant: ":" };
    if let Some(replayed) = replay(&attack, "inner_makes_test_files_then_is_interrupted") {
        assert_nothing_reached(&replayed, 128 + 2);
    }
}

/// Every kind of file the checks make: directories for root and for nobody, a root
/// filesystem, and a copy of a binary that nobody could not reach where it was.
fn make_test_files() {
    let private = testkit::fresh_dir("private");
    std::fs::write(private.join("file"), "x").unwrap();
    let open = testkit::fresh_dir_for_nobody("open");
    std::fs::write(open.join("file"), "x").unwrap();
    assert!(testkit::rootfs().join("bin/sh").is_file());
    let hidden = private.join("true");
    std::fs::copy("/bin/true", &hidden).unwrap();
    let copy = testkit::reachable_by_nobody(hidden.to_str().unwrap());
    assert_ne!(copy, hidden, "a binary in a 0700 directory should be copied for nobody");
}

#[test]
#[ignore = "run by the replays above"]
fn inner_makes_test_files() {
    if inside_replay() {
        make_test_files();
    }
}

#[test]
#[ignore = "run by the replays above"]
fn inner_makes_test_files_then_is_interrupted() {
    if inside_replay() {
        make_test_files();
        nix::sys::signal::raise(nix::sys::signal::SIGINT).unwrap();
    }
}

/// A step run as nobody gets PATH, HOME=/ and LANG=C, and nothing of the environment the tests
/// run in, which nobody could read in /proc/PID/environ.
#[test]
fn nobody_gets_a_minimal_environment() {
    if !testkit::real_root_or_skip(testkit::RealRoot::Nobody) {
        return;
    }
    let through_step = Step::nobody("/usr/bin/env").argv(&[]);
    let mut through_prefix: Vec<String> = testkit::NOBODY.iter().map(|s| s.to_string()).collect();
    through_prefix.push("env".into());
    for argv in [through_step, through_prefix] {
        let out = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .env("TESTKIT_ROOT_SECRET", "only root may read this")
            .output()
            .unwrap();
        let env = String::from_utf8_lossy(&out.stdout);
        let mut names: Vec<&str> = env.lines().filter_map(|l| l.split('=').next()).collect();
        names.sort();
        assert_eq!(names, ["HOME", "LANG", "PATH"], "{argv:?} passed on:\n{env}");
        assert!(env.contains("HOME=/\n"), "{env}");
    }
}

/// The directories `tools/mkrootfs` refuses, as another user could plant them for root: one
/// of nobody's, an existing tree whose etc/ and tmp/ lead to root's files, and a symlink to an
/// empty directory of root's. Each is one line and exit status 1, and nothing changes.
#[test]
fn mkrootfs_refuses_directories_planted_by_nobody() {
    let victim = "mkdir -m 700 /tmp/victim /tmp/victim/etc /tmp/victim/private /tmp/victim/empty
                  echo 'root:x:0:0:the victim:/root:/bin/sh' > /tmp/victim/etc/passwd";
    let plant = "mkdir -m 777 /tmp/rootfs-nobodys /tmp/rootfs-tree /tmp/rootfs-tree/bin
                 ln -s /tmp/victim/etc /tmp/rootfs-tree/etc
                 ln -s /tmp/victim/private /tmp/rootfs-tree/tmp
                 ln -s /tmp/victim/empty /tmp/rootfs-link";
    let attack = Attack { victim, plant };
    if let Some(replayed) = replay(&attack, "inner_mkrootfs_on_planted_directories") {
        assert_nothing_reached(&replayed, 0);
    }
}

fn mkrootfs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/mkrootfs")
}

/// Run `tools/mkrootfs DIR` in `cwd`, and check that it refused DIR in one line that says `why`.
#[track_caller]
fn assert_mkrootfs_refuses(cwd: &Path, dir: &str, why: &str) {
    let out = std::process::Command::new(mkrootfs()).arg(dir).current_dir(cwd).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "mkrootfs {dir}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with(&format!("mkrootfs: {dir}: ")) && stderr.contains(why), "{stderr}");
}

#[test]
#[ignore = "run by the replay above"]
fn inner_mkrootfs_on_planted_directories() {
    if !inside_replay() {
        return;
    }
    let cwd = Path::new("/");
    assert_mkrootfs_refuses(cwd, "/tmp/rootfs-nobodys", "belongs to uid 65534");
    assert_mkrootfs_refuses(cwd, "/tmp/rootfs-tree", "belongs to uid 65534");
    assert_mkrootfs_refuses(cwd, "/tmp/rootfs-link", "is a symbolic link");
    assert_mkrootfs_refuses(cwd, "/tmp/rootfs-link/", "is a symbolic link");
}

/// A directory of one's own that is in use, such as the checkout (`tools/mkrootfs .`) or a
/// root filesystem built before, is refused too, and left as it was.
#[test]
fn mkrootfs_refuses_a_directory_in_use() {
    let dir = testkit::fresh_dir("in-use");
    std::fs::write(dir.join("Cargo.toml"), "[workspace]\n").unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_mkrootfs_refuses(&dir, ".", "is not empty");
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["Cargo.toml"]);
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o755, "mkrootfs changed the mode of a directory it refused");

    // A tree built before, which someone changed since: mkrootfs used to "repair" it.
    let built = testkit::fresh_dir("built");
    run(&[mkrootfs().to_str().unwrap(), built.to_str().unwrap(), "sh"]).assert_status(0);
    std::fs::write(built.join("etc/hosts"), "10.0.0.1 mine\n").unwrap();
    assert_mkrootfs_refuses(Path::new("/"), built.to_str().unwrap(), "is not empty");
    assert_eq!(
        std::fs::read_to_string(built.join("etc/hosts")).unwrap(),
        "10.0.0.1 mine\n",
        "mkrootfs changed a tree it refused"
    );
}

/// An empty directory of one's own, as `mktemp -d` makes (mode 0700), is filled, and opened to
/// everyone (mode 0755), so that a step run as another user can use it.
#[test]
fn mkrootfs_fills_an_empty_directory_of_yours() {
    let dir = testkit::fresh_dir("empty");
    let out = run(&[mkrootfs().to_str().unwrap(), dir.to_str().unwrap(), "sh", "ls"]);
    out.assert_status(0);
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o755);
    assert!(dir.join("bin/sh").is_file() && dir.join("bin/ls").is_file(), "{out:#?}");
}
