//! step12's lesson, root inside loses its power: the command keeps exactly Docker's 14 default
//! capabilities in every set (none inheritable or ambient), so mount(2), sethostname(2) and
//! lifting a mask fail with EPERM; runc's masked paths read empty and `/proc/sys` is read-only
//! (EROFS); /dev is nodev; `--no-new-privileges` sets NoNewPrivs, and then a setuid-root
//! program inside gains nothing. Seen from inside (the command's output) and from outside
//! (/proc/PID/status, the host's hostname and mount table).
//!
//! None of these can hurt the machine if the defence regresses: the container's mounts, its
//! hostname and its /proc/sys/kernel/hostname are its own namespaces', mknod runs in a root
//! filesystem this test made, and the host is only read. Called by step12's `tests/lesson.rs`
//! and `tests/hardening.rs` (and by later steps' tests).

use crate::privilege::{installed_or_skip, real_root_or_skip, RealRoot};
use crate::step::{rootfs, run, Step};
use crate::tmp::fresh_dir_for_nobody;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW
/// SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP, as /proc/PID/status shows them.
pub const DOCKER_DEFAULTS: &str = "00000000a80425fb";

/// The `Cap*:` fields of a /proc/PID/status text, as `CapEff 00000000a80425fb` lines.
fn cap_fields(status: &str) -> Vec<String> {
    status
        .lines()
        .filter(|l| l.starts_with("Cap"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ").replace(':', ""))
        .collect()
}

/// The five sets as a container of this step must show them.
fn expected() -> Vec<String> {
    ["CapInh 0000000000000000", "CapPrm =", "CapEff =", "CapBnd =", "CapAmb 0000000000000000"]
        .map(|l| l.replace('=', DOCKER_DEFAULTS))
        .to_vec()
}

/// Inside, with and without a root filesystem and with `--init`: CapEff, CapPrm and CapBnd are
/// exactly the 14, CapInh and CapAmb empty; the narration decodes the sets before and after.
pub fn only_docker_defaults(step: Step) {
    if !step.may_run() {
        return;
    }
    let root = rootfs();
    for args in [&[][..], &["--init"], &["--rootfs", root.to_str().unwrap()]] {
        let mut argv = args.to_vec();
        argv.extend(["grep", "^Cap", "/proc/self/status"]);
        let out = step.run(&argv);
        out.assert_status(0);
        assert_eq!(cap_fields(&out.stdout), expected(), "the command's capabilities, {args:?}\n{out:#?}");
        let after = format!("after the drop, CapEff {DOCKER_DEFAULTS}: chown dac_override fowner fsetid");
        assert!(out.stderr.contains(&after), "the narration should decode the sets\n{out:#?}");
        assert!(out.stderr.contains("before the drop, CapBnd"), "{out:#?}");
    }
}

/// From outside: /proc/PID/status of the running command shows the same sets, while the host
/// keeps its hostname and has none of the container's masks in its mount table.
pub fn seen_from_outside(step: Step) {
    if !step.may_run() {
        return;
    }
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let running = step.start(&["-q"]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", running.container)).unwrap();
    running.finish().assert_status(0);
    assert_eq!(cap_fields(&status), expected(), "the command's capabilities, from outside");
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(), hostname);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(" /proc/keys "), "a mask reached the host's mount table:\n{mounts}");
}

/// What root inside tries, and the errno it gets, as `name: ERRNO` lines (python3 names them).
const ATTEMPTS: &str = r#"
import ctypes, errno, os, socket
libc = ctypes.CDLL(None, use_errno=True)
def c(ret):
    if ret != 0:
        e = ctypes.get_errno(); raise OSError(e, os.strerror(e))
def attempt(name, call):
    try:
        call(); print(name + ": ok")
    except OSError as e:
        print(name + ": " + errno.errorcode[e.errno])
attempt("sethostname", lambda: socket.sethostname("x"))
attempt("mount tmpfs", lambda: c(libc.mount(b"t", b"/tmp", b"tmpfs", 0, None)))
attempt("umount /proc/keys", lambda: c(libc.umount2(b"/proc/keys", 0)))
attempt("write /proc/sys/kernel/hostname", lambda: open("/proc/sys/kernel/hostname", "w").write("x"))
attempt("remount /proc/sys rw", lambda: c(libc.mount(None, b"/proc/sys", None, 32 | 4096, None)))
print("read /proc/keys: %d bytes" % len(open("/proc/keys", "rb").read()))
kcore = os.path.exists("/proc/kcore") and len(open("/proc/kcore", "rb").read(1)) > 0
print("read /proc/kcore: " + ("something" if kcore else "nothing"))
"#;

/// Inside, without a root filesystem: sethostname and mount get EPERM (no CAP_SYS_ADMIN),
/// lifting a mask EPERM, writing /proc/sys EROFS (read-only bind), remounting it read-write
/// EPERM; the masked /proc/keys reads empty, /proc/kcore (where the kernel has it) nothing.
pub fn root_power_gone(step: Step) {
    let python = "/usr/bin/python3";
    if !step.may_run() || !installed_or_skip(&[python]) {
        return;
    }
    let out = step.run(&["-q", python, "-c", ATTEMPTS]);
    out.assert_status(0);
    let expected = "sethostname: EPERM\nmount tmpfs: EPERM\numount /proc/keys: EPERM\n\
                    write /proc/sys/kernel/hostname: EROFS\nremount /proc/sys rw: EPERM\n\
                    read /proc/keys: 0 bytes\nread /proc/kcore: nothing\n";
    assert_eq!(out.stdout, expected, "what root inside could still do\n{out:#?}");
}

/// A root filesystem of `programs` from tools/mkrootfs, in a directory of its own.
fn rootfs_of(programs: &[&str]) -> PathBuf {
    let dir = fresh_dir_for_nobody("caps").join("rootfs");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/mkrootfs");
    let mut argv = vec![script.display().to_string(), dir.display().to_string()];
    argv.extend(programs.iter().map(|p| p.to_string()));
    run(&argv).assert_status(0);
    dir
}

/// With a root filesystem: /dev is a nodev tmpfs; making a device node there fails (EPERM:
/// the kernel wants CAP_MKNOD over the init user namespace), the bound /dev/null still works.
pub fn dev_is_nodev(step: Step) {
    if !step.may_run() || !installed_or_skip(&["mknod"]) {
        return;
    }
    let root = rootfs_of(&["sh", "grep", "mknod", "cat"]);
    let script = "grep ' /dev ' /proc/self/mountinfo | grep -o nodev
                  mknod /dev/zero2 c 1 5 || echo mknod failed
                  echo written > /dev/null && echo /dev/null works";
    let out = step.run(&["-q", "--rootfs", root.to_str().unwrap(), "sh", "-c", script]);
    out.assert_status(0);
    assert_eq!(out.stdout, "nodev\nmknod failed\n/dev/null works\n", "{out:#?}");
    assert!(out.stderr.contains("mknod: /dev/zero2: Operation not permitted"), "{out:#?}");
}

/// `--no-new-privileges` sets NoNewPrivs for the command, and only with it.
pub fn no_new_privileges(step: Step) {
    if !step.may_run() {
        return;
    }
    for (args, value) in [(&[][..], "0"), (&["--no-new-privileges"], "1")] {
        let mut argv = args.to_vec();
        argv.extend(["grep", "NoNewPrivs", "/proc/self/status"]);
        let out = step.run(&argv);
        out.assert_status(0);
        assert_eq!(out.stdout.split_whitespace().collect::<Vec<_>>(), ["NoNewPrivs:", value], "{args:?}");
    }
}

/// Started by root with a subordinate range (`root:100000:65536`, in a throwaway mount
/// namespace), so the container has users besides root: a copy of `id`, setuid and owned by
/// the container's root, run by uid 1000 inside, gives euid 0 without `--no-new-privileges`
/// and nothing with it.
pub fn setuid_gains_nothing(step: Step) {
    // The machine's root: only it may map a range of other users' IDs, and chown to them.
    if !real_root_or_skip(RealRoot::Nobody)
        || !step.as_root().may_run()
        || !installed_or_skip(&["setpriv", "id"])
    {
        return;
    }
    let root = rootfs_of(&["sh", "id", "setpriv"]);
    let first = 100_000;
    let program = root.join("bin/id-setuid");
    std::fs::copy(root.join("bin/id"), &program).unwrap();
    nix::unistd::chown(&program, Some(first.into()), Some(first.into())).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let subid = fresh_dir_for_nobody("subid");
    for file in ["subuid", "subgid"] {
        std::fs::write(subid.join(file), format!("root:{first}:65536\n")).unwrap();
    }
    let bind = "for f in subuid subgid; do mount --bind \"$0/$f\" /etc/$f || exit 125; done; exec \"$@\"";
    for (flag, euid) in [(None, "0"), (Some("--no-new-privileges"), "1000")] {
        let mut argv: Vec<String> = ["env", "-u", "SUDO_UID", "-u", "SUDO_GID", "unshare", "--mount"]
            .into_iter()
            .chain(["--propagation", "private", "sh", "-c", bind, subid.to_str().unwrap()])
            .map(String::from)
            .collect();
        let mut args = vec!["-q", "--rootfs", root.to_str().unwrap()];
        args.extend(flag);
        args.extend(["setpriv", "--reuid=1000", "--regid=1000", "--clear-groups", "/bin/id-setuid", "-u"]);
        argv.extend(step.as_root().argv(&args));
        let out = run(&argv);
        out.assert_status(0);
        assert_eq!(out.stdout, format!("{euid}\n"), "the setuid program's euid, {flag:?}\n{out:#?}");
    }
}

/// Hardening: the drop and the masks hold with `--image` and `--init` too, and in the
/// container's children (the masks are mounts, the sets inherited across fork and exec).
pub fn holds_in_every_mode(step: Step) {
    if !step.may_run() {
        return;
    }
    let image = rootfs();
    let script = "grep ^CapEff /proc/self/status; sh -c 'grep ^CapBnd /proc/self/status'
                  grep -c -e ' /proc/keys ' -e ' /proc/sys ' /proc/self/mountinfo";
    for args in [&["--image", image.to_str().unwrap()][..], &["--init", "--image", image.to_str().unwrap()]] {
        let mut argv = args.to_vec();
        argv.extend(["-q", "sh", "-c", script]);
        let out = step.run(&argv);
        out.assert_status(0);
        let lines: Vec<String> =
            out.stdout.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
        let want = [format!("CapEff: {DOCKER_DEFAULTS}"), format!("CapBnd: {DOCKER_DEFAULTS}"), "2".into()];
        assert_eq!(lines, want, "{args:?}\n{out:#?}");
    }
}

/// The step inside itself: the inner one cannot mount its proc, because the outer one's masks
/// are mounts over parts of /proc (the kernel then mounts no new proc in a user namespace). It
/// says why, in one line, 125. `outer` are options for the outer step (step13's
/// `--seccomp unconfined`, whose filter would refuse the inner clone first).
pub fn nested_says_why(step: Step, outer: &[&str]) {
    // In the sandbox the outer container's root is uid 0 of the namespace around it, and the
    // inner step refuses that map ('0 0 1') before it tries to mount proc.
    if !step.may_run() || !real_root_or_skip(RealRoot::MapOthers) {
        return;
    }
    let inner = crate::privilege::reachable_by_nobody(step.bin).display().to_string();
    let mut args = vec!["-q"];
    args.extend(outer);
    args.extend([inner.as_str(), "-q", "echo", "inner-ran"]);
    let out = step.run(&args);
    out.assert_status(125);
    assert!(!out.stdout.contains("inner-ran"), "{out:#?}");
    let line = crate::step::one_error_line(&out);
    // Where the caller's cgroup is not the top (cgroup v2 only, a systemd machine), the inner
    // step stops sooner, and says why too: the outer container's cgroup namespace shows the
    // host's cgroup mount from outside (common/src/cgroupfs.rs).
    let masks = line.contains("mount(\"proc\"") && line.contains("has masks");
    assert!(masks || line.contains("from outside our cgroup namespace"), "{line}");
}
