//! The checks the steps' tests run. Each step's `tests/` calls the ones its lesson has reached,
//! so a later step still proves what every earlier step established.

use crate::wording as says;
use crate::{installed_or_skip, namespaces, root_or_skip, run, run_with_env, sh, Out, Step};
use std::path::Path;

/// The one line of stderr that is not narration; fails unless there is exactly one.
#[track_caller]
pub fn one_error_line(out: &Out) -> &str {
    let errors = out.errors();
    assert_eq!(errors.len(), 1, "expected exactly one error line\n{out:#?}");
    errors[0]
}

// --- Every step: the command line, exit statuses, narration --------------------------------

/// The command runs, stdout is the command's alone, and its exit status is ours.
pub fn runs_command(step: Step) {
    if !step.may_run() {
        return;
    }
    let out = step.run(&["sh", "-c", "echo out; echo err >&2; exit 7"]);
    out.assert_status(7);
    assert_eq!(out.stdout, "out\n", "stdout must hold only the command's output");
    assert_eq!(out.errors(), ["err"], "{out:#?}");
}

/// Arguments after the command go to the command, even ones that look like our options.
pub fn passes_arguments(step: Step) {
    if !step.may_run() {
        return;
    }
    let out = step.run(&["printf", "%s|", "--quiet", "-x", "--rootfs"]);
    out.assert_status(0);
    assert_eq!(out.stdout, "--quiet|-x|--rootfs|");
}

/// With no command, the step runs /bin/bash, as the article does.
pub fn default_is_bash(step: Step) {
    if !step.may_run() {
        return;
    }
    let mut argv = step.argv(&["-q"]);
    let script = "echo $0 $BASH_VERSION";
    let shell = format!("echo '{script}' | \"$@\"");
    argv.splice(0..0, ["sh", "-c", shell.as_str(), "sh"].map(String::from));
    let out = run(&argv);
    out.assert_status(0);
    assert!(out.stdout.starts_with("/bin/bash "), "{out:#?}");
}

/// The narration goes to stderr: the parent's PID and flags, the child, and how it ended.
pub fn narrates_on_stderr(step: Step, flags: &str) {
    if !step.may_run() {
        return;
    }
    let out = step.run(&["true"]);
    out.assert_status(0);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains(says::STARTED_CONTAINER), "{out:#?}");
    assert!(out.stderr.contains(&says::with_flags(flags)), "flags should be spelled {flags}\n{out:#?}");
    assert!(out.stderr.contains(says::CHILD_RUNNING), "{out:#?}");
    assert!(out.stderr.contains(&says::exited_with(0)), "{out:#?}");
    let quiet = step.run(&["--quiet", "true"]);
    assert_eq!(quiet.stderr, "", "--quiet should silence the narration");
}

/// `--help` prints the usage line, what the step shows, and whether it needs root.
pub fn help(step: Step, name: &str) {
    let out = step.run(&["--help"]);
    out.assert_status(0);
    assert!(out.stdout.starts_with(&says::usage(name)), "{out:#?}");
    assert!(out.stdout.contains(says::NEEDS), "{out:#?}");
}

/// An unknown option: one line, status 125, and no container.
pub fn unknown_option(step: Step) {
    let out = step.run(&["--no-such-option", "true"]);
    out.assert_status(125);
    let line = one_error_line(&out);
    assert!(line.contains(&says::unknown_option("--no-such-option")), "{line}");
    assert!(!out.stderr.contains(says::STARTED_CONTAINER), "{out:#?}");
}

/// 127 for a command that is not found (and for an empty one), 126 for one that cannot run.
pub fn exit_statuses(step: Step) {
    if !step.may_run() {
        return;
    }
    let out = step.run(&["no-such-command-anywhere"]);
    out.assert_status(127);
    let line = one_error_line(&out);
    assert!(line.contains(&says::command_not_found("no-such-command-anywhere")), "{line}");

    let out = step.run(&[""]);
    out.assert_status(127);
    assert!(one_error_line(&out).contains(says::EMPTY_COMMAND), "{out:#?}");

    let out = step.run(&["/"]);
    out.assert_status(126);
    assert!(one_error_line(&out).contains(&says::cannot_execute("/")), "{out:#?}");

    // A file the step may read but not execute: in a directory that nobody may read too.
    let plain = crate::fresh_dir_for_nobody("exit-statuses").join("not-executable");
    std::fs::write(&plain, "echo should not run\n").unwrap();
    let out = step.run(&[plain.to_str().unwrap()]);
    out.assert_status(126);
    assert!(one_error_line(&out).contains(&says::cannot_execute(plain.to_str().unwrap())), "{out:#?}");
}

/// A command killed by signal N makes the step exit 128+N.
pub fn signal_status(step: Step) {
    if !step.may_run() {
        return;
    }
    let running = step.start(&[]);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(running.container as i32), nix::sys::signal::SIGKILL)
        .unwrap();
    let out = running.wait();
    out.assert_status(128 + 9);
    assert!(out.stderr.contains(&says::killed_by("SIGKILL")), "{out:#?}");
}

/// From outside: the container's `/proc/PID/ns/*` differ from ours for exactly `isolated`.
pub fn namespaces_differ(step: Step, isolated: &[&str]) {
    if !step.may_run() {
        return;
    }
    let running = step.start(&["-q"]);
    let ours = namespaces("self");
    let theirs = namespaces(&running.container.to_string());
    for (name, link) in &ours {
        if isolated.contains(&name.as_str()) {
            assert_ne!(link, &theirs[name], "the container should have its own {name} namespace");
        } else {
            assert_eq!(link, &theirs[name], "the container should share our {name} namespace");
        }
    }
    for name in isolated {
        assert!(ours.contains_key(*name), "no namespace called {name}");
    }
    running.finish().assert_status(0);
}

// --- Privileges -------------------------------------------------------------------------------

/// Run as nobody (or as ourselves, if we are not root), with the system's PATH.
fn run_as_nobody(step: Step, args: &[&str]) -> Out {
    run_as_nobody_with_path(step, crate::SYSTEM_PATH, args)
}

fn run_as_nobody_with_path(step: Step, path: &str, args: &[&str]) -> Out {
    let mut argv: Vec<String> = match crate::is_real_root() {
        true => crate::nobody_with_path(path),
        false => vec!["env".into(), format!("PATH={path}")],
    };
    argv.push(crate::reachable_by_nobody(step.bin).display().to_string());
    argv.extend(args.iter().map(|s| s.to_string()));
    run(&argv)
}

/// Run by an ordinary user, the step refuses before clone, naming CAP_SYS_ADMIN and the way out.
pub fn refuses_without_root(step: Step, name: &str) {
    if crate::is_root() && !crate::real_root_or_skip(crate::RealRoot::Nobody) {
        return;
    }
    let out = run_as_nobody(step, &["true"]);
    out.assert_status(125);
    let line = one_error_line(&out);
    assert!(line.starts_with(&says::error_prefix(name)), "{line}");
    let [capability, how, step06] = says::WITHOUT_ROOT;
    assert!(line.contains(capability), "should name the capability: {line}");
    assert!(line.contains(how), "should say how to run it: {line}");
    assert!(line.contains(step06), "should point to step06: {line}");
    assert!(!out.stderr.contains(says::STARTED_CONTAINER), "must fail before clone\n{out:#?}");
}

/// Step 01 needs no privilege at all.
pub fn runs_as_nobody(step: Step) {
    let out = run_as_nobody(step, &["-q", "id", "-u"]);
    out.assert_status(0);
    let expected =
        if crate::is_real_root() { "65534\n".to_string() } else { format!("{}\n", nix::unistd::geteuid()) };
    assert_eq!(out.stdout, expected);

    // A PATH with a directory closed to us (/root is 0700) makes execvp fail with EACCES;
    // a missing command is still "not found", 127, as in a shell.
    let out = run_as_nobody_with_path(step, "/root:/usr/bin:/bin", &["no-such-command"]);
    out.assert_status(127);
    assert!(one_error_line(&out).contains(&says::command_not_found("no-such-command")), "{out:#?}");
}

// --- UTS ------------------------------------------------------------------------------------

fn host_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap()
}

/// Inside, the hostname is `container`; outside, it has not changed.
pub fn hostname_is_container(step: Step) {
    if !step.may_run() || !installed_or_skip(&["hostname"]) {
        return;
    }
    let before = host_hostname();
    let out = step.run(&["hostname"]);
    out.assert_status(0);
    assert_eq!(out.stdout, "container\n");
    assert_eq!(host_hostname(), before, "the host's hostname must not change");
}

/// Without a UTS namespace the child sees the host's hostname.
pub fn hostname_is_hosts(step: Step) {
    if !step.may_run() || !installed_or_skip(&["hostname"]) {
        return;
    }
    let out = step.run(&["hostname"]);
    out.assert_status(0);
    assert_eq!(out.stdout, host_hostname());
}

/// From outside: `nsenter -t PID -u hostname` prints `container` while the host keeps its name.
pub fn nsenter_sees_hostname(step: Step) {
    if !step.may_run() {
        return;
    }
    if !root_or_skip("nsenter into another process's namespace needs root")
        || !installed_or_skip(&["nsenter", "hostname"])
    {
        return;
    }
    let before = host_hostname();
    let running = step.start(&["-q"]);
    let pid = running.container.to_string();
    let out = run(&["nsenter", "-t", &pid, "-u", "hostname"]);
    out.assert_status(0);
    assert_eq!(out.stdout, "container\n");
    assert_eq!(host_hostname(), before);
    running.finish().assert_status(0);
}

// --- IPC ------------------------------------------------------------------------------------

/// Make a message queue with `ipcmk -Q` in a throwaway IPC namespace, then run the step there
/// with `ipcs -q`. Returns how many queues the outside saw, and the step's output.
fn ipc_queue_then(step: Step) -> (usize, Out) {
    let script = include_str!("../scripts/ipc-queue-then.sh");
    let mut argv: Vec<String> = ["unshare", "--ipc", "sh", "-c", script, "sh"].map(String::from).to_vec();
    argv.extend(step.argv(&["-q", "ipcs", "-q"]));
    let out = run(&argv);
    out.assert_status(0);
    let outside = out.stderr.lines().next().unwrap_or("").trim().parse().unwrap_or(0);
    (outside, out)
}

fn queue_rows(ipcs: &str) -> usize {
    ipcs.lines().filter(|l| l.starts_with("0x")).count()
}

/// A queue made outside does not show inside: `ipcs -q` lists no rows.
pub fn ipc_queue_hidden(step: Step) {
    if !step.may_run() {
        return;
    }
    if !root_or_skip("unshare --ipc needs root") || !installed_or_skip(&["unshare", "ipcmk", "ipcs"]) {
        return;
    }
    let (outside, out) = ipc_queue_then(step);
    assert_eq!(outside, 1, "the queue should exist outside\n{out:#?}");
    assert!(out.stdout.contains("Message Queues"), "{out:#?}");
    assert_eq!(queue_rows(&out.stdout), 0, "the host's queue must not show inside\n{out:#?}");
}

/// Without an IPC namespace, the queue made outside shows inside too.
pub fn ipc_queue_shared(step: Step) {
    if !step.may_run() {
        return;
    }
    if !root_or_skip("unshare --ipc needs root") || !installed_or_skip(&["unshare", "ipcmk", "ipcs"]) {
        return;
    }
    let (outside, out) = ipc_queue_then(step);
    assert_eq!(outside, 1, "{out:#?}");
    assert_eq!(queue_rows(&out.stdout), 1, "the queue should be visible\n{out:#?}");
}

// --- PID ------------------------------------------------------------------------------------

/// The command is PID 1.
pub fn command_is_pid1(step: Step) {
    if !step.may_run() {
        return;
    }
    let out = step.run(&["sh", "-c", "echo $$"]);
    out.assert_status(0);
    assert_eq!(out.stdout, "1\n");
}

/// The command has an ordinary PID: no PID namespace.
pub fn command_is_not_pid1(step: Step) {
    if !step.may_run() {
        return;
    }
    let out = step.run(&["sh", "-c", "echo $$"]);
    out.assert_status(0);
    let pid: u32 = out.stdout.trim().parse().unwrap();
    assert!(pid > 1, "{out:#?}");
}

/// `ps` still lists the host's processes (this test's own among them): /proc is the host's.
pub fn ps_sees_host_processes(step: Step) {
    if !step.may_run() || !installed_or_skip(&["ps"]) {
        return;
    }
    let out = step.run(&["ps", "-e", "-o", "pid="]);
    out.assert_status(0);
    let me = std::process::id().to_string();
    assert!(out.stdout.lines().any(|l| l.trim() == me), "ps inside should still list PID {me}\n{out:#?}");
}

/// `ps` lists only the container's processes: a fresh /proc for the new PID namespace.
pub fn ps_sees_only_container(step: Step) {
    if !step.may_run() || !installed_or_skip(&["ps"]) {
        return;
    }
    let out = step.run(&["ps", "-e", "-o", "pid=,comm="]);
    out.assert_status(0);
    let rows: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    assert_eq!(rows, ["1 ps"], "ps should be PID 1 and alone\n{out:#?}");
}

// --- Mount ----------------------------------------------------------------------------------

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
    let rootfs = crate::rootfs();
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

/// `--rootfs DIR`: DIR is `/`, with its own /proc, /dev and /tmp, and the host's files are gone.
/// `own_sysfs`: whether the step may mount a sysfs of its own there (not step06: a user
/// namespace may mount sysfs only with a network namespace of its own, and /sys stays empty).
pub fn rootfs_becomes_root(step: Step, own_sysfs: bool) {
    if !step.may_run() {
        return;
    }
    let rootfs = crate::rootfs();
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
    let dir = crate::fresh_dir_for_nobody("rootfs-errors");
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

// --- User -----------------------------------------------------------------------------------

/// Inside, the command is root: uid and gid 0, mapped to the user who ran the step, with
/// setgroups denied.
pub fn root_inside(step: Step) {
    if !step.may_run() {
        return;
    }
    let script = "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups";
    let out = step.run(&["-q", "sh", "-c", script]);
    out.assert_status(0);
    let outside = if step.as_nobody && crate::is_real_root() { 65534 } else { nix::unistd::geteuid().as_raw() };
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
    if !step.may_run() || !(step.as_nobody && crate::is_real_root()) && crate::is_real_root() {
        return;
    }
    let probe = format!("/etc/namespaces-probe-{}", std::process::id());
    let out = step.run(&["-q", "sh", "-c", &format!("touch {probe} && echo created")]);
    assert_ne!(out.status, 0, "{out:#?}");
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("Permission denied"), "{out:#?}");
    assert!(!Path::new(&probe).exists(), "the file must not appear on the host");
}

/// From outside, the container's process belongs to the user who ran the step.
pub fn owned_by_user_outside(step: Step) {
    if !step.may_run() {
        return;
    }
    let running = step.start(&["-q"]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", running.container)).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap().to_string();
    let outside = if step.as_nobody && crate::is_real_root() { 65534 } else { nix::unistd::geteuid().as_raw() };
    let uids: Vec<u32> = uid_line.split_whitespace().skip(1).map(|u| u.parse().unwrap()).collect();
    assert_eq!(uids, [outside; 4], "{uid_line}");
    running.finish().assert_status(0);
}

/// The command sees only fds 0, 1 and 2: no sync pipe, no other fd of ours leaks into it.
pub fn only_standard_fds(step: Step) {
    if !step.may_run() {
        return;
    }
    let running = step.start_with_standard_fds_only(&["-q"]);
    let dir = format!("/proc/{}/fd", running.container);
    let mut fds: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    fds.sort();
    assert_eq!(fds, ["0", "1", "2"], "the command's open fds");
    running.finish().assert_status(0);
}

/// With user namespaces disabled (user.max_user_namespaces = 0, set inside a throwaway
/// `unshare --user --map-root-user`), the step says which setting it is and how to fix it: 125.
pub fn user_namespaces_disabled(step: Step) {
    if !installed_or_skip(&["unshare"]) {
        return;
    }
    let before = std::fs::read_to_string("/proc/sys/user/max_user_namespaces").unwrap();
    let mut argv: Vec<String> =
        ["unshare", "--user", "--map-root-user", "sh", "-c"].map(String::from).to_vec();
    argv.push("echo 0 > /proc/sys/user/max_user_namespaces && exec \"$@\"".into());
    argv.push("sh".into());
    argv.push(step.bin.into());
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

// --- Network ----------------------------------------------------------------------------------
// Every check runs the step inside a throwaway network namespace (`unshare --net`, in the Step's
// `wrap`, or here), so the bridge and veths it makes never touch the machine's own network.

/// Run `script` with `sh -c` inside a throwaway network namespace, with `env` set; `"$@"` is the
/// step (without its own wrap: the namespace is this one).
fn in_throwaway_netns(step: Step, script: &str, env: &[(&str, &str)]) -> Out {
    let mut argv: Vec<String> = ["unshare", "--net", "sh", "-c", script, "sh"].map(String::from).to_vec();
    argv.extend(Step { wrap: &[], ..step }.argv(&[]));
    run_with_env(&argv, env)
}

/// Inside: exactly `lo` and `eth0` are up; eth0 has an address in the bridge's subnet, and the
/// default route goes through the bridge, which the container reaches.
pub fn network_inside(step: Step) {
    if !step.may_run() || !installed_or_skip(&["ip", "ping"]) {
        return;
    }
    let script = include_str!("../scripts/network-inside.sh");
    let out = step.run(&["-q", "sh", "-c", script]);
    out.assert_status(0);
    let lines: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    assert_eq!(lines.len(), 4, "{out:#?}");
    assert_eq!(lines[0], "lo eth0", "exactly lo and eth0 should be up\n{out:#?}");
    assert!(lines[1].starts_with("192.168.10.") && lines[1].ends_with("/24"), "{out:#?}");
    assert_ne!(lines[1], "192.168.10.1/24", "the bridge's address is not the container's");
    assert!(lines[2].starts_with("default via 192.168.10.1 dev eth0"), "{out:#?}");
    assert_eq!(lines[3], "reached-bridge", "{out:#?}");
}

/// The narration shows the network before setup (lo, down) and each change as an `ip` command.
pub fn network_narrated(step: Step) {
    if !step.may_run() {
        return;
    }
    let out = step.run(&["true"]);
    out.assert_status(0);
    for expected in says::NETWORK {
        assert!(out.stderr.contains(expected), "narration should include '{expected}'\n{out:#?}");
    }
}

/// `--ip`, `--bridge` and `--subnet` choose the network; bad values are one line and 125.
pub fn network_options(step: Step) {
    if !step.may_run() {
        return;
    }
    let out = step.run(&[
        "-q",
        "--bridge",
        "br-test",
        "--subnet",
        "10.99.0.0/16",
        "--ip",
        "10.99.3.7",
        "sh",
        "-c",
        "ip -4 -o addr show dev eth0 | tr -s ' ' | cut -d' ' -f4; ip route show default | cut -d' ' -f1-3",
    ]);
    out.assert_status(0);
    assert_eq!(out.stdout, "10.99.3.7/16\ndefault via 10.99.0.1\n", "{out:#?}");
    for (args, error) in says::BAD_NETWORK_OPTIONS {
        let out = step.run(&[args[0], args[1], "true"]);
        out.assert_status(125);
        let line = one_error_line(&out);
        assert!(line.contains(error), "{line}");
        assert!(!out.stderr.contains(says::STARTED_CONTAINER), "{out:#?}");
    }
}

/// Two containers at once get different addresses and reach each other; once they have
/// exited, no veth is left (the kernel removes it with the container's network namespace).
pub fn two_containers_reach_each_other(step: Step) {
    if !root_or_skip("a throwaway network namespace needs root") || !installed_or_skip(&["ip", "ping"]) {
        return;
    }
    // The two containers meet in a directory of ours; root inside them is root outside too.
    let dir = crate::fresh_dir("two-containers");
    std::fs::write(dir.join("a.sh"), include_str!("../scripts/two-containers-a.sh")).unwrap();
    std::fs::write(dir.join("b.sh"), include_str!("../scripts/two-containers-b.sh")).unwrap();
    let script = include_str!("../scripts/two-containers.sh");
    let out = in_throwaway_netns(step, script, &[("DIR", dir.to_str().unwrap())]);
    let _ = std::fs::remove_dir_all(&dir);
    out.assert_status(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{out:#?}");
    let a = lines[0].strip_prefix("a ").unwrap();
    let b = lines[1].strip_prefix("b ").unwrap();
    assert!(a.starts_with("192.168.10.") && b.starts_with("192.168.10."), "{out:#?}");
    assert_ne!(a, b, "two containers must not share an address");
    assert_eq!(lines[2], "b-reached-a", "{out:#?}");
    assert_eq!(lines[3], "0", "no veth should be left once the containers have exited\n{out:#?}");
    assert_eq!(lines[4], "bridge-kept", "{out:#?}");
}

/// Five containers at once all reach the bridge, each with an address of its own.
pub fn five_at_once(step: Step) {
    if !root_or_skip("a throwaway network namespace needs root") || !installed_or_skip(&["ip", "ping"]) {
        return;
    }
    let script = include_str!("../scripts/five-at-once.sh");
    let out = in_throwaway_netns(step, script, &[]);
    out.assert_status(0);
    let mut addresses: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(addresses.len(), 5, "all five should reach the bridge\n{out:#?}");
    addresses.sort();
    addresses.dedup();
    assert_eq!(addresses.len(), 5, "each should have its own address\n{out:#?}");
}

/// Run by an ordinary user, the step still runs, with `lo` only (up), says why in one line, and
/// exits with the command's status.
pub fn lo_only_without_root(step: Step) {
    if !root_or_skip("a throwaway network namespace needs root")
        || !crate::real_root_or_skip(crate::RealRoot::Nobody)
        || !installed_or_skip(&["ip", "setpriv"])
    {
        return;
    }
    let nobody = Step { as_nobody: true, ..step };
    let out = nobody.run(&[
        "sh",
        "-c",
        "ip -o link show | cut -d: -f2 | tr -d ' '; ip -o link show up | wc -l; exit 3",
    ]);
    out.assert_status(3);
    assert_eq!(out.stdout, "lo\n1\n", "only lo, and up\n{out:#?}");
    let why: Vec<&str> = out.stderr.lines().filter(|l| l.contains(says::NO_NETWORK_LINK)).collect();
    assert_eq!(why.len(), 1, "{out:#?}");
    let [capability, how] = says::NO_NETWORK_LINK_WHY;
    assert!(why[0].contains(capability) && why[0].contains(how), "{}", why[0]);
}

// step07: bridge and option checks (net-netlink)

/// Like [`in_throwaway_netns`], for scripts that name the step as `$STEP` (run with `eval`).
fn in_netns_naming_step(step: Step, script: &str) -> Out {
    let argv = Step { wrap: &[], ..step }.argv(&[]);
    let step_cmd = argv.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(" ");
    in_throwaway_netns(step, &format!("STEP=\"{step_cmd}\"\n{script}"), &[])
}

/// With no `ip` anywhere in PATH, the step still connects the container: it asks the kernel
/// over rtnetlink itself. (The command gets PATH back to run `ip` inside.)
pub fn works_without_ip(step: Step) {
    if !root_or_skip("a throwaway network namespace needs root") {
        return;
    }
    let empty = crate::fresh_dir("empty-path");
    let script = format!(
        "(PATH={}; eval \"$STEP -q /bin/sh -c 'PATH=/usr/sbin:/usr/bin:/sbin:/bin; \
         ip -4 -o addr show dev eth0 | tr -s \\\" \\\" | cut -d\\\" \\\" -f4'\"); echo status $?",
        empty.display()
    );
    let out = in_netns_naming_step(step, &script);
    out.assert_status(0);
    assert_eq!(out.stdout, "192.168.10.2/24\nstatus 0\n", "{out:#?}");
}

/// A --bridge value that is not an interface name we use is one line and 125, and nothing is
/// made: not ASCII (it used to panic at a character boundary), not UTF-8, `%` (`a%d` made a0),
/// `#`, a tab, a leading `-`, `.`, `..`, `/`, `:`, empty, too long.
pub fn bridge_name_errors(step: Step) {
    if !root_or_skip("a throwaway network namespace needs root") {
        return;
    }
    // Each name as printf's %b writes it: \0377 is the byte 0xff, \t a tab.
    for name in
        ["ééééééé", "\\0377", "a%d", "#", "a\\tb", "-x", ".", "..", "a/b", "a:b", "", "a-name-far-too-long"]
    {
        let script = format!(
            "name=$(printf '%b' '{name}'); eval \"$STEP --bridge \\\"\\$name\\\" true\"; echo \"status $?\"
             ip -o link | grep -vc ': lo:' || true"
        );
        let out = in_netns_naming_step(step, &script);
        assert_eq!(out.stdout, "status 125\n0\n", "--bridge {name:?}: 125 and nothing made\n{out:#?}");
        let line = one_error_line(&out);
        assert!(line.contains("--bridge") && line.contains("not an interface name"), "{line}");
        assert!(!out.stderr.contains("started container"), "{out:#?}");
    }
}

/// A bridge left half-made (as by a run killed between `ip link add` and `ip addr add`) is
/// completed: the missing address added, the bridge brought up, each narrated; the container
/// then reaches its gateway.
pub fn half_made_bridge_is_completed(step: Step) {
    if !root_or_skip("a throwaway network namespace needs root") {
        return;
    }
    for (made, narrated, not_narrated) in [
        (
            "ip link add lxcbr0 type bridge",
            &["parent: ip addr add 192.168.10.1/24 dev lxcbr0", "parent: ip link set lxcbr0 up"][..],
            &["parent: ip link add lxcbr0 type bridge"][..],
        ),
        (
            "ip link add lxcbr0 type bridge; ip addr add 192.168.10.1/24 dev lxcbr0",
            &["parent: ip link set lxcbr0 up"][..],
            &["parent: ip link add lxcbr0 type bridge", "parent: ip addr add 192.168.10.1/24"][..],
        ),
    ] {
        let script = format!(
            "{made}
             eval \"$STEP sh -c 'ping -c1 -W2 192.168.10.1 >/dev/null && echo reached'\"; echo \"status $?\"
             ip -4 -o addr show dev lxcbr0 | tr -s ' ' | cut -d' ' -f4
             ip -o link show lxcbr0 | grep -q '[<,]UP[,>]' && echo bridge-up"
        );
        let out = in_netns_naming_step(step, &script);
        assert_eq!(out.stdout, "reached\nstatus 0\n192.168.10.1/24\nbridge-up\n", "after `{made}`\n{out:#?}");
        for line in narrated {
            assert!(out.stderr.contains(line), "should narrate '{line}'\n{out:#?}");
        }
        for line in not_narrated {
            assert!(!out.stderr.contains(line), "should not narrate '{line}'\n{out:#?}");
        }
    }
}

/// A bridge that holds another address, or an interface that is not a bridge, is refused with
/// one line that says how to fix it, 125, and nothing made or changed.
pub fn foreign_bridge_refused(step: Step) {
    if !root_or_skip("a throwaway network namespace needs root") {
        return;
    }
    for (args, says) in [
        (
            "--subnet 10.9.0.0/24",
            &["holds 192.168.10.1/24", "--subnet 192.168.10.0/24", "sudo ip link del lxcbr0"][..],
        ),
        ("--bridge lo", &["--bridge lo", "not a bridge"][..]),
    ] {
        let script = format!(
            "ip link add lxcbr0 type bridge; ip addr add 192.168.10.1/24 dev lxcbr0; ip link set lxcbr0 up
             eval \"$STEP {args} true\"; echo \"status $?\"
             ip -o link | grep -vc ': l' || true
             ip -4 -o addr | tr -s ' ' | cut -d' ' -f2,4 | grep -v '^lo '"
        );
        let out = in_netns_naming_step(step, &script);
        assert_eq!(out.stdout, "status 125\n0\nlxcbr0 192.168.10.1/24\n", "{args}\n{out:#?}");
        let line = one_error_line(&out);
        for part in says {
            assert!(line.contains(part), "{args}: the error should say '{part}': {line}");
        }
        assert!(!out.stderr.contains("started container"), "{out:#?}");
    }
}

/// Two bridges whose names share their first 13 bytes (the most a veth name could keep of
/// them) still get veths of their own: a container on each, with the same host number (.2),
/// runs at once, and no veth is left once both have exited.
pub fn bridges_sharing_a_prefix(step: Step) {
    if !root_or_skip("a throwaway network namespace needs root") {
        return;
    }
    let dir = crate::fresh_dir("prefix");
    let d = dir.display();
    // Each loop is bounded: at most 200 waits of 50 ms.
    let a = format!(
        "touch {d}/a; i=0; while [ ! -e {d}/done ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done"
    );
    std::fs::write(dir.join("a.sh"), a).unwrap();
    let script = format!(
        "eval \"$STEP -q --bridge bridge-prefix-a --subnet 10.1.1.0/24 --ip 10.1.1.2 sh {d}/a.sh\" &
         i=0; while [ ! -e {d}/a ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
         eval \"$STEP -q --bridge bridge-prefix-b --subnet 10.2.2.0/24 --ip 10.2.2.2 \
                sh -c 'ping -c1 -W2 10.2.2.1 >/dev/null && echo b-reached'\"; echo \"status $?\"
         touch {d}/done; wait
         i=0; while ip -o link | grep -q veth && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
         ip -o link | grep -c veth || true"
    );
    let out = in_netns_naming_step(step, &script);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.stdout, "b-reached\nstatus 0\n0\n", "{out:#?}");
}

/// A --subnet of addresses no container can use is refused before anything is made: "this
/// network" (0/8), loopback (127/8), multicast (224/4), reserved and broadcast (240/4).
pub fn unusable_subnets_refused(step: Step) {
    if !root_or_skip("a throwaway network namespace needs root") {
        return;
    }
    for subnet in
        ["0.0.0.0/8", "127.0.0.0/8", "224.0.0.0/24", "239.255.0.0/16", "240.0.0.0/24", "255.255.255.0/24"]
    {
        let script = format!(
            "eval \"$STEP --subnet {subnet} true\"; echo \"status $?\"; ip -o link | grep -vc ': lo:' || true"
        );
        let out = in_netns_naming_step(step, &script);
        assert_eq!(out.stdout, "status 125\n0\n", "--subnet {subnet}\n{out:#?}");
        let line = one_error_line(&out);
        assert!(line.contains(&format!("--subnet {subnet}: not a subnet of ordinary addresses")), "{line}");
        assert!(!out.stderr.contains("started container"), "{out:#?}");
    }
}

/// `--subnet 10.0.0.0/8` needs no list of its 16 million addresses (it took 67 MB): the step
/// runs within 32 MB of address space, and `--ip` far into the subnet works too.
pub fn big_subnet_in_little_memory(step: Step) {
    if !root_or_skip("a throwaway network namespace needs root") {
        return;
    }
    let script = "ulimit -v 32000
                  for ip in '' '--ip 10.200.3.7'; do
                      eval \"$STEP -q --subnet 10.0.0.0/8 $ip \
                            sh -c 'ip -4 -o addr show dev eth0 | tr -s \\\" \\\" | cut -d\\\" \\\" -f4'\"
                      echo \"status $?\"
                  done";
    let out = in_netns_naming_step(step, script);
    assert_eq!(out.stdout, "10.0.0.2/8\nstatus 0\n10.200.3.7/8\nstatus 0\n", "{out:#?}");
}
