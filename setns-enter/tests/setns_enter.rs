//! setns-enter joins a running container: started by a step through testkit, entered from
//! outside, and checked from inside (what the command prints) and against /proc/PID/ns.
//!
//! The last tests check that entering gives the container nothing of ours: root entering a
//! user's container becomes that container's root (the user, to the host), and the command
//! gets no fd, ignored signal or ptrace access that belonged to the process that entered.

use std::os::unix::fs::MetadataExt;
use testkit::{namespaces, run, Out, Running, Step};

const ENTER: &str = env!("CARGO_BIN_EXE_setns-enter");

/// The steps are this package's siblings in the target directory, built by `cargo test --workspace`.
fn step_bin(name: &str) -> &'static str {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.ancestors().nth(2).unwrap().join(name);
    assert!(bin.exists(), "{} is missing: run the tests with cargo test --workspace", bin.display());
    Box::leak(bin.display().to_string().into_boxed_str())
}

fn enter(pid: u32, command: &[&str]) -> Out {
    let pid = pid.to_string();
    let mut argv = vec![ENTER, "-q", pid.as_str()];
    argv.extend(command);
    run(&argv)
}

#[test]
fn enters_the_uts_namespace_of_step02() {
    let step = Step::root(step_bin("step02-uts"));
    if !step.may_run() {
        return;
    }
    let running = step.start(&["-q"]);
    let out = enter(running.container, &["hostname"]);
    out.assert_status(0);
    assert_eq!(out.stdout, "container\n", "{out:#?}");
    let host = run(&["hostname"]);
    assert_ne!(host.stdout, "container\n", "the host's hostname must not change");
    running.finish().assert_status(0);
}

/// The command is born in the container's PID namespace: without the fork, it would stay in ours.
#[test]
fn the_command_is_in_the_pid_namespace_of_step04() {
    let step = Step::root(step_bin("step04-pid"));
    if !step.may_run() {
        return;
    }
    let running = step.start(&["-q"]);
    let out = enter(running.container, &["sh", "-c", "echo $$; readlink /proc/self/ns/pid"]);
    out.assert_status(0);
    let theirs = namespaces(&running.container.to_string());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{out:#?}");
    let pid: u32 = lines[0].parse().unwrap();
    assert!(pid > 1 && pid < 10, "the command should have a small PID in the container: {out:#?}");
    assert_eq!(lines[1], theirs["pid"], "{out:#?}");
    running.finish().assert_status(0);
}

/// In step05 every namespace of the container, the mount namespace included: its /proc shows
/// the container's processes, and ours are not there.
#[test]
fn enters_every_namespace_of_step05() {
    let step = Step::root(step_bin("step05-mount"));
    if !step.may_run() {
        return;
    }
    let running = step.start(&["-q"]);
    let theirs = namespaces(&running.container.to_string());
    let script = "for n in uts ipc pid mnt net user; do echo $n $(readlink /proc/self/ns/$n); done; ls /proc | grep -c '^[0-9]'";
    let out = enter(running.container, &["sh", "-c", script]);
    out.assert_status(0);
    let mut lines = out.stdout.lines();
    for kind in ["uts", "ipc", "pid", "mnt", "net", "user"] {
        let line = lines.next().unwrap_or_else(|| panic!("no line for {kind}: {out:#?}"));
        assert_eq!(line, format!("{kind} {}", theirs[kind]), "{out:#?}");
    }
    // The container's sh, the `read` it waits in is a builtin; ours: sh, ls, grep.
    let count: u32 = lines.next().unwrap().parse().unwrap();
    assert!(count < 10, "the container's /proc should list only its own few processes: {out:#?}");
    running.finish().assert_status(0);
}

#[test]
fn errors_are_one_line() {
    let out = run(&[ENTER, "4194305", "true"]);
    out.assert_status(125);
    let line = testkit::one_error_line(&out);
    assert!(line.contains("there is no process 4194305"), "{line}");

    let out = run(&[ENTER, "not-a-pid"]);
    out.assert_status(125);
    assert!(testkit::one_error_line(&out).contains("'not-a-pid' is not a PID"), "{out:#?}");

    let out = run(&[ENTER]);
    out.assert_status(125);
    assert!(testkit::one_error_line(&out).contains("usage: setns-enter PID"), "{out:#?}");
}

/// Without privilege over the container's namespaces, setns fails with a line that says so.
#[test]
fn refuses_without_root() {
    let step = Step::root(step_bin("step02-uts"));
    if !step.may_run() || !testkit::real_root_or_skip(testkit::RealRoot::Nobody) {
        return;
    }
    let running = step.start(&["-q"]);
    let pid = running.container.to_string();
    let mut argv: Vec<String> = testkit::NOBODY.iter().map(|s| s.to_string()).collect();
    argv.push(testkit::reachable_by_nobody(ENTER).display().to_string());
    argv.extend([pid, "true".to_string()]);
    let out = run(&argv);
    out.assert_status(125);
    let line = testkit::one_error_line(&out);
    assert!(line.contains("failed") && line.contains("root"), "{line}");
    running.finish().assert_status(0);
}

/// The command line is parsed once: with options but no PID, the error asks for the PID
/// (it used to call the default command, /bin/bash, "not a PID"), and an argument that is not
/// UTF-8 is an error line, not a panic.
#[test]
fn no_pid_is_a_usage_error_even_with_options() {
    let out = run(&[ENTER, "--stop-timeout", "1"]);
    out.assert_status(125);
    let line = testkit::one_error_line(&out);
    assert!(line.contains("which process? usage: setns-enter PID"), "{line}");

    use std::os::unix::ffi::OsStrExt;
    let out = std::process::Command::new(ENTER)
        .arg(std::ffi::OsStr::from_bytes(b"\xff"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let out = Out::from(out);
    out.assert_status(125);
    assert!(testkit::one_error_line(&out).contains("is not a PID"), "{out:#?}");
}

/// A user's container (step06, run by nobody), for the tests in which root enters it.
fn nobodys_container() -> Running {
    Step::nobody(step_bin("step06-user")).start(&["-q"])
}

/// The words of the lines of `/proc/PID/status` that start with one of `fields`.
fn status_lines(status: &str, fields: &[&str]) -> Vec<String> {
    status
        .lines()
        .filter(|l| fields.iter().any(|f| l.starts_with(&format!("{f}:"))))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// Root enters nobody's container as that container's root: uid and gid 0 inside, none of
/// root's supplementary groups, and to the host the command is nobody, not root. (As host root it
/// could be ptraced by the container's root, and made to act as root on the host.)
#[test]
fn root_becomes_the_containers_root() {
    if !testkit::real_root_or_skip(testkit::RealRoot::Nobody) {
        return;
    }
    let container = nobodys_container();
    let pid = container.container.to_string();
    let script = "echo ready; id -u; id -G; grep -E '^(Uid|Gid|Groups):' /proc/self/status; read _; exit 0";
    // Root in two supplementary groups, as root often is (setpriv only sets them, then execs).
    let root = ["setpriv", "--groups=4,100", ENTER, "-q", &pid, "sh", "-c", script];
    let entered = Running::start(&root.map(String::from));
    let host_view = std::fs::read_to_string(format!("/proc/{}/status", entered.container)).unwrap();
    assert_eq!(
        status_lines(&host_view, &["Uid", "Gid", "Groups"]),
        ["Uid: 65534 65534 65534 65534", "Gid: 65534 65534 65534 65534", "Groups:"],
        "from the host, the command must be the container's owner, nobody"
    );
    let out = entered.finish();
    out.assert_status(0);
    let inside: Vec<String> =
        out.stdout.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(inside, ["0", "0", "Uid: 0 0 0 0", "Gid: 0 0 0 0", "Groups:"], "{out:#?}");
    container.finish().assert_status(0);
}

/// A user namespace whose uid 0 is not mapped has no root to become: one line, 125, and the
/// command does not run.
#[test]
fn refuses_a_user_namespace_without_root() {
    if !testkit::real_root_or_skip(testkit::RealRoot::Nobody) {
        return;
    }
    let mut argv: Vec<String> = testkit::NOBODY.map(String::from).to_vec();
    argv.extend(["unshare", "--user", "--map-user=1", "--map-group=1", "--fork"].map(String::from));
    argv.extend(testkit::WAIT_FOR_STDIN.map(String::from));
    let theirs = Running::start(&argv);
    let out = run(&[ENTER, &theirs.container.to_string(), "echo", "ran"]);
    out.assert_status(125);
    assert_eq!(out.stdout, "", "the command must not run");
    let line = testkit::one_error_line(&out);
    assert!(line.contains("setgid(0) failed") && line.contains("not mapped"), "{line}");
    theirs.finish().assert_status(0);
}

/// setns-enter is not dumpable: the files of its /proc/PID belong to root, and not even the user
/// it runs as (here the container's owner, who may enter its own container) can open its fds
/// or ptrace it. Its child, the command-to-be, is a copy of it until execve(2); after execve
/// the command is dumpable again, and its files belong to its user.
#[test]
fn not_dumpable_until_exec() {
    // The sandbox's root has every capability over its processes, dumpable or not.
    if testkit::is_root() && !testkit::real_root_or_skip(testkit::RealRoot::Nobody) {
        return;
    }
    let container = nobodys_container();
    let pid = container.container.to_string();
    // As root, the tests run the container and setns-enter as nobody; otherwise as ourselves.
    let as_nobody = testkit::is_real_root();
    let nobody: &[&str] = if as_nobody { &testkit::NOBODY } else { &[] };
    let mut argv: Vec<String> = nobody.iter().map(|s| s.to_string()).collect();
    argv.push(testkit::reachable_by_nobody(ENTER).display().to_string());
    argv.extend([String::from("-q"), pid]);
    argv.extend(testkit::WAIT_FOR_STDIN.map(String::from));
    let entered = Running::start(&argv);
    let owner = |pid: u32| std::fs::metadata(format!("/proc/{pid}/fd")).unwrap().uid();
    // (The directory /proc/PID itself always shows the process's uid; the files in it do not.)
    let user = owner(container.container);

    assert_eq!(owner(entered.pid()), 0, "setns-enter's /proc/PID/fd should belong to root");
    let fds = format!("/proc/{}/fd", entered.pid());
    let mut ls = nobody.to_vec();
    ls.extend(["ls", &fds]);
    let out = run(&ls);
    assert_ne!(out.status, 0, "its own user must not list its fds: {out:#?}");
    assert!(out.stderr.contains("Permission denied"), "{out:#?}");

    assert_eq!(owner(entered.container), user, "after execve the command is dumpable again");
    entered.finish().assert_status(0);
    container.finish().assert_status(0);
}

/// Run `setns-enter PID sh -c script` from a bash that first runs `setup`, under `wrap`.
fn enter_from_bash(setup: &str, pid: u32, wrap: &[&str], script: &str) -> Out {
    let mut argv = vec!["bash", "-c"];
    let bash = format!("{setup}; exec \"$@\"");
    argv.extend([bash.as_str(), "bash"]);
    argv.extend(wrap);
    let pid = pid.to_string();
    argv.extend([ENTER, &pid, "sh", "-c", script]);
    run(&argv)
}

const LIST_FDS: &str = "ls /proc/$$/fd; [ -e /proc/self/fd/7 ] && echo 'fd 7 is open'; true";

/// The command gets fds 0, 1 and 2 only: not fd 7, which the caller opened on the host's /,
/// and through which the container could reach every host file.
#[test]
fn the_command_gets_fds_0_1_2_only() {
    if !testkit::real_root_or_skip(testkit::RealRoot::Nobody) {
        return;
    }
    let container = nobodys_container();
    let out = enter_from_bash("exec 7</", container.container, &[], LIST_FDS);
    out.assert_status(0);
    assert_eq!(out.stdout, "0\n1\n2\n", "{out:#?}");
    container.finish().assert_status(0);
}

/// The same where close_range(2) is missing (kernels before 5.11): strace makes it fail with
/// ENOSYS, and setns-enter marks the fds it finds in /proc/self/fd instead.
#[test]
fn the_command_gets_fds_0_1_2_only_without_close_range() {
    if !testkit::real_root_or_skip(testkit::RealRoot::Nobody) {
        return;
    }
    let container = nobodys_container();
    let strace = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "inject=close_range:error=ENOSYS"];
    let out = enter_from_bash("exec 7</", container.container, &strace, LIST_FDS);
    out.assert_status(0);
    assert_eq!(out.stdout, "0\n1\n2\n", "{out:#?}");
    container.finish().assert_status(0);
}

/// The command starts with every signal at its default and none blocked, whatever the caller
/// ignored (and Rust programs such as setns-enter ignore SIGPIPE): an ignored disposition
/// survives execve(2), and a command that ignores SIGPIPE keeps writing to a closed pipe.
#[test]
fn the_command_gets_default_signals() {
    if !testkit::real_root_or_skip(testkit::RealRoot::Nobody) {
        return;
    }
    let container = nobodys_container();
    let trap = "trap '' PIPE USR1 RTMIN+1";
    let out = enter_from_bash(trap, container.container, &[], "grep -E '^Sig(Ign|Blk):' /proc/self/status");
    out.assert_status(0);
    let mask = |field: &str| {
        let line = out.stdout.lines().find(|l| l.starts_with(field)).unwrap();
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    assert_eq!(mask("SigBlk:"), 0, "no signal should be blocked: {out:#?}");
    // Signals 32 and 33 are glibc's own, which it does not let a program change. (The children
    // of this test process, which has threads, have them ignored: glibc's posix_spawn does that.)
    let glibcs_own = (1 << (32 - 1)) | (1 << (33 - 1));
    assert_eq!(mask("SigIgn:") & !glibcs_own, 0, "no signal should be ignored: {out:#?}");
    container.finish().assert_status(0);
}

/// A step09 container (run by root, so it has a cgroup of its own): the command joins its
/// cgroup and time namespaces too. Its clocks run the container's 1000 days ahead; and it is
/// not moved into the container's cgroup, so it sees its own cgroup above the namespace's
/// root, as `/..`: entering a cgroup namespace changes the view, not the cgroup.
#[test]
fn enters_the_cgroup_and_time_namespaces_of_step09() {
    let step = Step { wrap: &["unshare", "--net"], ..Step::root(step_bin("step09-time")) };
    if !step.may_run() || !testkit::real_root_or_skip(testkit::RealRoot::Cgroups) {
        return;
    }
    let running = step.start(&["-q"]);
    let theirs = namespaces(&running.container.to_string());
    let script =
        "readlink /proc/self/ns/cgroup /proc/self/ns/time; grep '^0::' /proc/self/cgroup; cat /proc/uptime";
    let out = enter(running.container, &["sh", "-c", script]);
    out.assert_status(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{out:#?}");
    assert_eq!(lines[..2], [theirs["cgroup"].as_str(), theirs["time"].as_str()], "{out:#?}");
    assert!(lines[2].starts_with("0::/.."), "our cgroup is outside the namespace's root: {out:#?}");
    let uptime: f64 = lines[3].split_whitespace().next().unwrap().parse().unwrap();
    assert!(uptime > 86_400_000.0, "the container's clocks run 1000 days ahead: {out:#?}");
    running.finish().assert_status(0);
}
