//! step06's lesson, the user namespace: root inside with every capability, mapped to the user
//! who ran the step, who is all the host sees; no command runs before its ID maps are written;
//! and what happens without user namespaces or without /proc.
//!
//! Called by the `tests/lesson.rs` and `tests/hardening.rs` of steps 06 on.

use crate::privilege::{
    installed_or_skip, is_real_root, reachable_by_nobody, real_root_or_skip, RealRoot, NOBODY,
};
use crate::step::{one_error_line, run, Step};
use crate::wording as says;
use std::path::PathBuf;

// --- Root inside, a user outside -----------------------------------------------------------------

/// Inside, the command is root: uid and gid 0, mapped to the user who ran the step, with
/// setgroups denied.
pub fn root_inside(step: Step) {
    if !step.may_run() {
        return;
    }
    let script = "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups";
    let out = step.run(&["-q", "sh", "-c", script]);
    out.assert_status(0);
    let outside = if step.as_nobody && is_real_root() { 65534 } else { nix::unistd::geteuid().as_raw() };
    let lines: Vec<String> =
        out.stdout.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    let map = format!("0 {outside} 1");
    assert_eq!(lines, ["0", "0", map.as_str(), map.as_str(), "deny"], "{out:#?}");
}

/// The child says it has every capability inside.
pub fn all_capabilities_inside(step: Step) {
    if !step.may_run() {
        return;
    }
    let out = step.run(&["true"]);
    out.assert_status(0);
    assert!(out.stderr.contains(says::ALL_CAPABILITIES), "{out:#?}");
    let theirs = step.run(&["-q", "grep", "^CapEff", "/proc/self/status"]);
    let inside = u64::from_str_radix(theirs.stdout.split_whitespace().nth(1).unwrap(), 16).unwrap();
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").unwrap().trim().parse().unwrap();
    assert_eq!(inside, (1u64 << (last + 1)) - 1, "CapEff inside should be every capability the kernel has");
}

/// Root inside is nobody to the host: it cannot create a file in the host's /etc.
pub fn cannot_write_host_etc(step: Step) {
    if !step.may_run() || !(step.as_nobody && is_real_root()) && is_real_root() {
        return;
    }
    // A name no one else's run has: PIDs are small and reused in a PID namespace (in `cargo
    // xtask sandbox`, this process may be PID 5 again and again), so a name made of the PID
    // alone could meet a file some other run left, and this check would blame the step for it.
    let probe = PathBuf::from(format!("/etc/namespaces-probe-{}-{:016x}", std::process::id(), random()));
    assert!(!probe.exists(), "{} is there before the step ran: whose is it?", probe.display());
    let touch = format!("touch '{}' && echo created", probe.display());
    let out = step.run(&["-q", "sh", "-c", &touch]);
    // Made by this run if it is there now: removed before any assertion can fail.
    let appeared = std::fs::remove_file(&probe).is_ok();
    assert!(
        !appeared,
        "the file must not appear on the host: the container wrote {}\n{out:#?}",
        probe.display()
    );
    assert_ne!(out.status, 0, "{out:#?}");
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("Permission denied"), "{out:#?}");
}

/// 64 random bits, from the keys the standard library draws from the kernel for each hasher.
fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new().build_hasher().finish()
}

/// From outside, the container's process belongs to the user who ran the step.
pub fn owned_by_user_outside(step: Step) {
    if !step.may_run() {
        return;
    }
    let running = step.start(&["-q"]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", running.container)).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap().to_string();
    let outside = if step.as_nobody && is_real_root() { 65534 } else { nix::unistd::geteuid().as_raw() };
    let uids: Vec<u32> = uid_line.split_whitespace().skip(1).map(|u| u.parse().unwrap()).collect();
    assert_eq!(uids, [outside; 4], "{uid_line}");
    running.finish().assert_status(0);
}

// --- The ID maps ---------------------------------------------------------------------------------

/// The parent killed as it starts to write the ID maps (strace stops it at its first write):
/// the child must not run the command without maps, where it would be a nameless `nobody`
/// with every capability of its namespaces. Tried 20 times: the window is narrow.
pub fn no_command_without_id_maps(step: Step) {
    if !step.may_run() || !installed_or_skip(&["strace"]) {
        return;
    }
    for _ in 0..20 {
        let mut argv: Vec<String> =
            ["strace", "-o", "/dev/null", "-e", "trace=write", "-e", "inject=write:signal=SIGKILL"]
                .map(String::from)
                .to_vec();
        if is_real_root() {
            argv.splice(0..0, NOBODY.map(String::from));
        }
        let bin = if is_real_root() { reachable_by_nobody(step.bin) } else { PathBuf::from(step.bin) };
        argv.push(bin.display().to_string());
        argv.extend(["-q", "sh", "-c", "echo RAN"].map(String::from));
        let out = run(&argv);
        assert!(!out.stdout.contains("RAN"), "the command ran without ID maps\n{out:#?}");
    }
}

/// With user namespaces disabled (user.max_user_namespaces = 0, set inside a throwaway user
/// namespace), the step says which setting it is and how to fix it: 125. The step runs there
/// as uid 65534, not 0: a root whose map is `0 0 1` is refused before clone (it may be the
/// host's root, seen through a user namespace), and in `cargo xtask sandbox` that is all one
/// can map. `--keep-caps` leaves the shell CAP_SYS_RESOURCE there, which the sysctl asks for.
pub fn user_namespaces_disabled(step: Step) {
    if !installed_or_skip(&["unshare"]) {
        return;
    }
    let before = std::fs::read_to_string("/proc/sys/user/max_user_namespaces").unwrap();
    let mut argv: Vec<String> =
        ["unshare", "--user", "--map-user=65534", "--map-group=65534", "--keep-caps", "sh", "-c"]
            .map(String::from)
            .to_vec();
    argv.push("echo 0 > /proc/sys/user/max_user_namespaces && exec \"$@\"".into());
    argv.push("sh".into());
    argv.push(reachable_by_nobody(step.bin).display().to_string());
    argv.push("true".into());
    let out = run(&argv);
    out.assert_status(125);
    let line = one_error_line(&out);
    let [errno, setting, fix] = says::USER_NAMESPACES_DISABLED;
    assert!(line.contains(errno), "{line}");
    assert!(line.contains(setting), "should name the setting: {line}");
    assert!(line.contains(fix), "should say how to fix it: {line}");
    assert_eq!(std::fs::read_to_string("/proc/sys/user/max_user_namespaces").unwrap(), before);
}

/// From step06 on, the parent writes the child's ID maps under /proc/PID: with no /proc it
/// says so in one line, 125, and leaves no process behind.
pub fn without_proc_says_so(step: Step) {
    if !step.may_run() || !real_root_or_skip(RealRoot::NoProc) || !installed_or_skip(&["unshare", "ps"]) {
        return;
    }
    let script = include_str!("../scripts/without-proc.sh");
    let mut argv: Vec<String> =
        ["unshare", "--mount", "--pid", "--fork", "sh", "-c", script, "sh"].map(String::from).to_vec();
    argv.extend(step.argv(&["sh", "-c", "echo should-not-run"]));
    let out = run(&argv);
    out.assert_status(0);
    assert_eq!(out.stdout, "status 125\n0\n", "125, and no zombie left\n{out:#?}");
    let line = one_error_line(&out);
    let [missing, fix] = says::NO_PROC;
    assert!(line.contains(missing) && line.contains(fix), "{line}");
}

/// Under `unshare --pid` without `--mount-proc`, /proc is the host's, where the child's PID
/// (a PID of the new namespace) is another process: the parent must not write that process's
/// ID maps. It says so in one line, 125, and the command never runs.
pub fn foreign_proc_says_so(step: Step) {
    if !step.may_run() || !real_root_or_skip(RealRoot::NoProc) || !installed_or_skip(&["unshare"]) {
        return;
    }
    let mut argv: Vec<String> = ["unshare", "--pid", "--fork"].map(String::from).to_vec();
    argv.extend(step.argv(&["sh", "-c", "echo should-not-run"]));
    let out = run(&argv);
    out.assert_status(125);
    assert!(!out.stdout.contains("should-not-run"), "{out:#?}");
    let line = one_error_line(&out);
    let [what, fix] = says::FOREIGN_PROC;
    assert!(line.contains(what) && line.contains(fix), "{line}");
}

/// With `--init`, PID 1 is the step's own code, which never execs: it holds memory and a
/// binary from the host, and, until it closes them, the caller's fds (here fd 7, the host's
/// `/`). The container's root, which holds CAP_SYS_PTRACE in its user namespace, must not
/// reach them: /proc/1/fd, /proc/1/exe and /proc/1/environ stay closed to it.
pub fn init_out_of_reach(step: Step) {
    if !step.may_run() {
        return;
    }
    // In the sandbox, the container's root owns init's /proc/1/fd directory, so it may list
    // it; what matters, that no fd it lists can be followed, is checked there instead.
    let sandboxed = crate::privilege::is_root() && !is_real_root();
    let list = !sandboxed || real_root_or_skip(RealRoot::InitProcOwner);
    let fds = match list {
        true => "ls /proc/1/fd >/dev/null 2>&1 && echo fd-readable",
        false => "for fd in /proc/1/fd/*; do readlink \"$fd\" >/dev/null 2>&1 && echo fd-readable; done",
    };
    let script = format!(
        "{fds}
                  readlink /proc/1/exe >/dev/null 2>&1 && echo exe-readable
                  cat /proc/1/environ >/dev/null 2>&1 && echo environ-readable
                  echo checked"
    );
    let mut argv: Vec<String> = ["sh", "-c", "exec 7</ && exec \"$@\"", "sh"].map(String::from).to_vec();
    argv.extend(step.argv(&["-q", "--init", "sh", "-c", &script]));
    let out = run(&argv);
    out.assert_status(0);
    assert_eq!(out.stdout, "checked\n", "PID 1 (init) is within the container's reach\n{out:#?}");
}
