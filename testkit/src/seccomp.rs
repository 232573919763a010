//! Checks of step13's lesson, the seccomp filter: it is there inside (`Seccomp: 2` in
//! /proc/PID/status) and not in the step itself, it holds across exec and fork, each refused
//! call gets EPERM inside and works with `--seccomp unconfined`, everyday programs still run,
//! a call of a foreign architecture kills the process, and a number no architecture has gets
//! ENOSYS. Called by step13-seccomp's tests/lesson.rs.
//!
//! Every refused call is made inside the container's own namespaces, by its root, who holds no
//! capability over the host: were the filter gone, what they do would stay in the container.

use crate::{installed_or_skip, one_error_line, Out, Step};
use nix::libc;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The `Seccomp:` and `Seccomp_filters:` lines of /proc/PID/status, as numbers.
fn seccomp_of(status: &str) -> (u32, u32) {
    let field = |name: &str| {
        let line =
            status.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name}: {status}"));
        line[name.len()..].trim().parse().unwrap()
    };
    (field("Seccomp:"), field("Seccomp_filters:"))
}

/// Ours: the step may run under a filter already (in a container, `cargo xtask sandbox`).
fn ours() -> (u32, u32) {
    seccomp_of(&std::fs::read_to_string("/proc/self/status").unwrap())
}

/// Inside, the command and its grandchildren (one exec and two forks later) are in mode 2
/// under one filter more than the step itself, which, seen from outside, has only ours.
pub fn filter_inside_not_outside(step: Step) {
    if !step.may_run() {
        return;
    }
    let script = "grep Seccomp /proc/self/status; sh -c 'sh -c \"grep Seccomp /proc/self/status\"'";
    let out = step.run(&["-q", "sh", "-c", script]);
    out.assert_status(0);
    let expected = format!("Seccomp:\t2\nSeccomp_filters:\t{}\n", ours().1 + 1);
    assert_eq!(out.stdout, expected.repeat(2), "{out:#?}");

    let running = step.start(&["-q"]);
    let outside = std::fs::read_to_string(format!("/proc/{}/status", running.pid())).unwrap();
    let inside = std::fs::read_to_string(format!("/proc/{}/status", running.container)).unwrap();
    assert_eq!(seccomp_of(&outside), ours(), "the step's parent is under a filter of its own");
    assert_eq!(seccomp_of(&inside), (2, ours().1 + 1), "seen from outside, the container has no filter");
    running.finish().assert_status(0);
}

/// `--seccomp unconfined`: no filter more than ours; any other value is one line and 125.
pub fn unconfined_and_bad_values(step: Step) {
    if !step.may_run() {
        return;
    }
    let out = step.run(&["-q", "--seccomp", "unconfined", "grep", "Seccomp_filters", "/proc/self/status"]);
    assert_eq!(out.stdout, format!("Seccomp_filters:\t{}\n", ours().1), "{out:#?}");
    for value in ["", "default", "unconfined2", "/etc/passwd"] {
        let out = step.before_start().run(&["--seccomp", value, "true"]);
        out.assert_status(125);
        assert!(one_error_line(&out).contains("--seccomp takes only 'unconfined'"), "{out:#?}");
    }
}

/// The refused calls, by name and number, as the test expects them (not read from the step).
const REFUSED: &[(&str, libc::c_long)] = &[
    ("keyctl", libc::SYS_keyctl),
    ("add_key", libc::SYS_add_key),
    ("request_key", libc::SYS_request_key),
    ("bpf", libc::SYS_bpf),
    ("perf_event_open", libc::SYS_perf_event_open),
    ("userfaultfd", libc::SYS_userfaultfd),
    ("kexec_load", libc::SYS_kexec_load),
    ("kexec_file_load", libc::SYS_kexec_file_load),
    ("init_module", libc::SYS_init_module),
    ("finit_module", libc::SYS_finit_module),
    ("delete_module", libc::SYS_delete_module),
    ("reboot", libc::SYS_reboot),
    ("swapon", libc::SYS_swapon),
    ("swapoff", libc::SYS_swapoff),
    ("mount", libc::SYS_mount),
    ("umount2", libc::SYS_umount2),
    ("unshare", libc::SYS_unshare),
    ("setns", libc::SYS_setns),
    ("open_by_handle_at", libc::SYS_open_by_handle_at),
    ("sethostname", libc::SYS_sethostname),
    ("fsopen", libc::SYS_fsopen),
    ("io_uring_setup", libc::SYS_io_uring_setup),
    ("io_uring_enter", libc::SYS_io_uring_enter),
    ("io_uring_register", libc::SYS_io_uring_register),
    ("pidfd_getfd", libc::SYS_pidfd_getfd),
    ("kcmp", libc::SYS_kcmp),
    ("process_madvise", libc::SYS_process_madvise),
    ("quotactl_fd", libc::SYS_quotactl_fd),
    ("open_tree_attr", 467), // not in libc yet; 467 on every architecture
    ("move_pages", libc::SYS_move_pages),
    ("migrate_pages", libc::SYS_migrate_pages),
    ("mbind", libc::SYS_mbind),
    ("set_mempolicy", libc::SYS_set_mempolicy),
];

/// The calls that root of the container may make without the filter, or that fail for their
/// arguments before any permission is checked: `unshare(0)` succeeds, `mount(NULL, …)` gives
/// EFAULT, `setns(0, 0)` EINVAL, `keyctl(0, …)` EINVAL. (The others need a capability the
/// container does not hold, over the host or, since step12's drop, CAP_SYS_ADMIN over its own
/// namespaces, as sethostname and fsopen do: they fail with EPERM anyway.)
const UNCONFINED_NOT_EPERM: [&str; 13] = [
    "keyctl",
    "add_key",
    "request_key",
    "mount",
    "umount2",
    "unshare",
    "setns",
    "io_uring_setup",
    "pidfd_getfd",
    "process_madvise",
    "move_pages",
    "mbind",
    "set_mempolicy",
];

/// Each refused call, made by python3 through ctypes with all-zero arguments, fails with
/// EPERM inside; unconfined, [`UNCONFINED_NOT_EPERM`] do not: so EPERM is the filter's doing.
/// socket(2) too, for AF_VSOCK (40) only, the host's virtual-machine sockets: AF_UNIX works.
pub fn refused_calls_get_eperm(step: Step) {
    if !step.may_run() || !installed_or_skip(&["python3"]) {
        return;
    }
    let calls: Vec<String> = REFUSED.iter().map(|(name, nr)| format!("('{name}', {nr})")).collect();
    let script = format!(
        "import ctypes, errno\n\
         libc = ctypes.CDLL(None, use_errno=True)\n\
         for name, nr in [{}]:\n\
         \x20   r = libc.syscall(nr, 0, 0, 0, 0, 0, 0)\n\
         \x20   print(name, 'ok' if r >= 0 else errno.errorcode[ctypes.get_errno()])\n\
         r = libc.socket(40, 1, 0)\n\
         print('socket(AF_VSOCK)', 'ok' if r >= 0 else errno.errorcode[ctypes.get_errno()])\n\
         r = libc.socket(1, 1, 0)\n\
         print('socket(AF_UNIX)', 'ok' if r >= 0 else errno.errorcode[ctypes.get_errno()])\n",
        calls.join(", ")
    );
    let results = |out: &Out| -> Vec<(String, String)> {
        out.stdout.lines().filter_map(|l| l.split_once(' ')).map(|(a, b)| (a.into(), b.into())).collect()
    };
    let out = step.run(&["-q", "python3", "-c", &script]);
    out.assert_status(0);
    let got = results(&out);
    assert_eq!(got.len(), REFUSED.len() + 2, "{out:#?}");
    for (name, result) in &got {
        let expected = if name == "socket(AF_UNIX)" { "ok" } else { "EPERM" };
        assert_eq!(result, expected, "{name}\n{out:#?}");
    }
    let out = step.run(&["-q", "--seccomp", "unconfined", "python3", "-c", &script]);
    let got = results(&out);
    for name in UNCONFINED_NOT_EPERM.iter().chain(&["socket(AF_VSOCK)"]) {
        let result = got.iter().find(|(n, _)| n == name).map(|(_, r)| r.as_str());
        assert!(matches!(result, Some(r) if r != "EPERM"), "{name} unconfined: {result:?}\n{out:#?}");
    }
}

/// What a learner would try, refused with EPERM's words, and working without the filter:
/// `unshare -U` (no capability needed), `keyctl add` (none either), `setarch -R` (personality
/// ADDR_NO_RANDOMIZE, 0x40000, not one of Docker's values). And `mount -t tmpfs`, refused
/// with or without the filter: step12's drop took CAP_SYS_ADMIN, the filter refuses the call
/// before any capability is looked at.
pub fn refused_commands(step: Step) {
    if !step.may_run() || !installed_or_skip(&["unshare", "keyctl", "setarch", "mount"]) {
        return;
    }
    let script = "unshare -U true && echo unshare-worked
                  keyctl add user k v @s >/dev/null && echo keyctl-worked
                  setarch -R true && echo setarch-worked
                  mount -t tmpfs none /tmp && echo mount-worked
                  true";
    let out = step.run(&["-q", "sh", "-c", script]);
    out.assert_status(0);
    assert_eq!(out.stdout, "", "{out:#?}");
    for said in ["unshare failed: Operation not permitted", "add_key: Operation not permitted"] {
        assert!(out.stderr.contains(said), "no '{said}'\n{out:#?}");
    }
    assert!(
        out.stderr.contains("failed to set personality") && out.stderr.contains("not permitted"),
        "{out:#?}"
    );
    assert!(out.stderr.contains("mount") && out.stderr.contains("permission denied"), "{out:#?}");
    let out = step.run(&["-q", "--seccomp", "unconfined", "sh", "-c", script]);
    assert_eq!(out.stdout, "unshare-worked\nkeyctl-worked\nsetarch-worked\n", "{out:#?}");
    assert!(out.stderr.contains("mount") && out.stderr.contains("permission denied"), "{out:#?}");
}

/// A shell, coreutils, python3 with a thread (clone3 gets ENOSYS, so glibc falls back to
/// clone), and ping, which needs CAP_NET_RAW over the container's network namespace.
pub fn everyday_programs_work(step: Step) {
    if !step.may_run() || !installed_or_skip(&["python3", "ping"]) {
        return;
    }
    let script = "ls / >/dev/null && date >/dev/null && echo hi | tr a-z A-Z && sleep 0.1 && \
                  python3 -c 'import threading; t = threading.Thread(target=print, args=(\"thread\",)); t.start(); t.join()' && \
                  ping -c1 -W5 127.0.0.1 >/dev/null && echo pinged";
    let out = step.run(&["-q", "sh", "-c", script]);
    assert_eq!(out.stdout, "HI\nthread\npinged\n", "{out:#?}");
    out.assert_status(0);
}

/// testkit/scripts/foreign-call.rs, compiled once with rustc into a directory nobody can read.
fn foreign_call() -> &'static PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = crate::fresh_dir_for_nobody("foreign-call").join("foreign-call");
        let source = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/foreign-call.rs");
        let out =
            Command::new("rustc").args(["--edition", "2021", "-o"]).arg(&bin).arg(source).output().unwrap();
        assert!(out.status.success(), "rustc {source}: {}", String::from_utf8_lossy(&out.stderr));
        bin
    })
}

/// An i386 call (`int $0x80`) and an x32 call from an x86_64 program: the filter kills it
/// with SIGSYS (status 159) after the line it prints before; without the filter it prints the
/// line after too (the call's result, or -ENOSYS where the kernel has no x32).
pub fn foreign_architecture_killed(step: Step) {
    if !cfg!(target_arch = "x86_64") {
        eprintln!("note: only x86_64 runs a foreign architecture's calls here (i386, x32); not tested");
        return;
    }
    if !step.may_run() || !installed_or_skip(&["rustc"]) {
        return;
    }
    let bin = foreign_call().to_str().unwrap();
    for abi in ["i386", "x32"] {
        let out = step.run(&["-q", bin, abi]);
        assert_eq!(out.stdout, format!("before the {abi} call\n"), "{out:#?}");
        out.assert_status(128 + libc::SIGSYS);
        let out = step.run(&["-q", "--seccomp", "unconfined", bin, abi]);
        assert!(out.stdout.contains(&format!("after the {abi} call")), "{out:#?}");
    }
}

/// A number no architecture uses, from 0x80000000 up, such as syscall(-1), with which programs
/// probe: the filter lets it through to the kernel, which answers ENOSYS (x32's range,
/// 0x40000000 to 0x7fffffff, is killed: [`foreign_architecture_killed`]).
pub fn no_such_call_gets_enosys(step: Step) {
    if !step.may_run() || !installed_or_skip(&["python3"]) {
        return;
    }
    let script = "import ctypes, errno\n\
                  libc = ctypes.CDLL(None, use_errno=True)\n\
                  for nr in [-1, 0x80000000 | 39]:\n\
                  \x20   r = libc.syscall(ctypes.c_long(nr))\n\
                  \x20   print(hex(nr), r, errno.errorcode[ctypes.get_errno()])\n";
    let out = step.run(&["-q", "python3", "-c", script]);
    assert_eq!(out.stdout, "-0x1 -1 ENOSYS\n0x80000027 -1 ENOSYS\n", "{out:#?}");
    out.assert_status(0);
}

/// The narration names every refused call; `-q` keeps it quiet.
pub fn narration_names_refused(step: Step) {
    if !step.may_run() {
        return;
    }
    let out = step.run(&["true"]);
    out.assert_status(0);
    let line = out.stderr.lines().find(|l| l.contains("seccomp refuses with EPERM")).expect("no narration");
    for (name, _) in REFUSED {
        assert!(line.split(' ').any(|word| word == *name), "{name} not named: {line}");
    }
}
