//! `cargo xtask sandbox` itself: what an ordinary user gets in it (root, PID 1, its own
//! hostname and cgroup namespace, `--join` from a second terminal), and, once it has exited,
//! a host with no new mount, no new interface and no process of it left. The steps run inside
//! it are tested in sandbox_steps.rs.
//!
//! When these tests run as root, the sandbox runs as nobody (setpriv), so that what is checked
//! is what a learner without sudo gets; as anyone else, it runs as them. The steps are this
//! workspace's binaries, in the target directory this test was built in, reachable by nobody.

mod sandbox_support;

use sandbox_support::{
    bin, in_sandbox, runtime_dir, sandbox_argv, sandbox_argv_in, sandbox_or_skip, Rootfs, XTASK,
};
use std::collections::BTreeSet;
use testkit::{children, run, Running};

// --- The sandbox itself ------------------------------------------------------------------------

#[test]
fn banner_on_stderr_and_the_commands_exit_status() {
    if !sandbox_or_skip() {
        return;
    }
    let out = run(&sandbox_argv(&["sh", "-c", "echo out; exit 3"]));
    out.assert_status(3);
    assert_eq!(out.stdout, "out\n", "stdout is the command's alone");
    for says in
        ["[sandbox] you are root here, in a user namespace you own", "leave with: exit", "unshare --user"]
    {
        assert!(out.stderr.contains(says), "the banner should say '{says}'\n{out:#?}");
    }
    assert!(!out.stderr.contains("root already"), "{out:#?}");
    assert!(out.stderr.contains("another terminal joins with: cargo xtask sandbox --join"), "{out:#?}");
    assert!(out.stderr.contains("a --pid-file written here holds the sandbox's own PID"), "{out:#?}");
    assert!(out.stderr.contains("`sudo unshare --net X` is X"), "{out:#?}");
}

#[test]
fn help_is_printed_not_run() {
    for help in ["--help", "-h"] {
        let out = run(&sandbox_argv_in(&runtime_dir(), &[help]));
        out.assert_status(0);
        assert!(out.stdout.contains("cargo xtask sandbox --join [PID] [-- COMMAND...]"), "{out:#?}");
        assert!(!out.stderr.contains("[sandbox]"), "no sandbox was to start\n{out:#?}");
    }
    let out = run(&sandbox_argv_in(&runtime_dir(), &["--bogus"]));
    assert_ne!(out.status, 0, "{out:#?}");
    assert!(out.stderr.contains("unknown option --bogus; see cargo xtask sandbox --help"), "{out:#?}");
}

/// A cgroup namespace (and a time namespace, where the kernel has them) of its own: inside,
/// every cgroup path is `/`, and `nsenter --all`, which enters each namespace of its target,
/// works.
#[test]
fn cgroup_namespace_of_its_own_and_nsenter_all_works() {
    if !sandbox_or_skip() {
        return;
    }
    let out =
        in_sandbox("readlink /proc/self/ns/cgroup; cat /proc/self/cgroup; nsenter --all -t $$ echo entered");
    out.assert_status(0);
    let mut lines = out.stdout.lines();
    let host = std::fs::read_link("/proc/self/ns/cgroup").unwrap();
    assert_ne!(lines.next(), Some(host.to_str().unwrap()), "{out:#?}");
    let rest: Vec<&str> = lines.collect();
    assert_eq!(rest.last(), Some(&"entered"), "{out:#?}");
    for line in &rest[..rest.len() - 1] {
        assert!(line.ends_with(":/"), "{line}: the sandbox's cgroup should be its root\n{out:#?}");
    }
}

/// `sudo` inside says, in one line, what to type instead, and runs nothing.
#[test]
fn sudo_inside_says_it_is_not_needed() {
    if !sandbox_or_skip() {
        return;
    }
    let out = in_sandbox("sudo echo ran; echo $?; sudo -s; sudo bash; sudo unshare --net ip -br link");
    out.assert_status(1);
    assert_eq!(out.stdout, "1\n", "{out:#?}");
    let said: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("sudo: ")).collect();
    assert_eq!(
        said,
        [
            "sudo: you are already root in the sandbox: run the command without sudo: echo ran",
            "sudo: you are already root in the sandbox, in a root shell: no need for sudo -s",
            "sudo: you are already root in the sandbox, in a root shell: no need for sudo bash",
            "sudo: the sandbox is already a throwaway network namespace: run ip -br link (without sudo unshare --net)",
        ],
        "{out:#?}"
    );
}

/// A second terminal joins the running sandbox: the same namespaces, root there, the sandbox's
/// PIDs and hostname, found through the sandbox's own record, without a machine-wide search.
#[test]
fn a_second_terminal_joins_the_running_sandbox() {
    if !sandbox_or_skip() {
        return;
    }
    let runtime = runtime_dir();
    let out = run(&sandbox_argv_in(&runtime, &["--join"]));
    assert_ne!(out.status, 0, "{out:#?}");
    assert!(out.stderr.contains("no sandbox of yours is running"), "{out:#?}");

    let script = "hostname joined-one; echo ready; read _; exit 0";
    let running = Running::start(&sandbox_argv_in(&runtime, &["--", "sh", "-c", script]));
    let pid1 = running.container;
    let ns =
        |name: &str| std::fs::read_link(format!("/proc/{pid1}/ns/{name}")).unwrap().display().to_string();
    let inside = "id -u; hostname; readlink /proc/self/ns/net /proc/self/ns/pid /proc/self/ns/mnt; \
                  tr '\\0' ' ' < /proc/1/cmdline; echo; echo $$";
    let out = run(&sandbox_argv_in(&runtime, &["--join", "--", "sh", "-c", inside]));
    out.assert_status(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[..5], ["0", "joined-one", &ns("net"), &ns("pid"), &ns("mnt")], "{out:#?}");
    assert!(lines[5].contains(script), "PID 1 there is the sandbox's command\n{out:#?}");
    let pid: u32 = lines[6].parse().unwrap();
    assert!(pid < 100, "a PID of the sandbox's own, not the host's: {pid}\n{out:#?}");
    assert!(out.stderr.contains("[sandbox] joining your sandbox"), "{out:#?}");
    // By PID too; and a PID that is no sandbox of ours is refused.
    let by_pid = run(&sandbox_argv_in(&runtime, &["--join", &running.pid().to_string(), "--", "hostname"]));
    by_pid.assert_status(0);
    assert_eq!(by_pid.stdout, "joined-one\n", "{by_pid:#?}");
    let not_ours = run(&sandbox_argv_in(&runtime, &["--join", "1", "--", "true"]));
    assert_ne!(not_ours.status, 0, "{not_ours:#?}");
    assert!(not_ours.stderr.contains("no sandbox of yours runs as PID 1"), "{not_ours:#?}");
    running.finish().assert_status(0);
}

#[test]
fn inside_root_pid_1_hostname_sandbox_and_lo_up() {
    if !sandbox_or_skip() {
        return;
    }
    let out = in_sandbox("id -u; echo $$; hostname; ip -o link show up | cut -d: -f2 | tr -d ' '");
    out.assert_status(0);
    assert_eq!(out.stdout, "0\n1\nsandbox\nlo\n", "{out:#?}");
}

#[test]
fn run_by_root_it_says_root_does_not_need_it_and_works() {
    if !testkit::root_or_skip("checks what the sandbox says to root") {
        return;
    }
    let runtime = format!("XDG_RUNTIME_DIR={}", testkit::fresh_dir("runtime").display());
    let out = run(&["env", &runtime, XTASK, "sandbox", "--", "id", "-u"]);
    out.assert_status(0);
    assert_eq!(out.stdout, "0\n");
    assert!(out.stderr.contains("you are root already, and do not need the sandbox"), "{out:#?}");
}

// --- Nothing left on the host ------------------------------------------------------------------

/// The host's mounts, without the mount IDs (the 1st and 2nd fields of each line of mountinfo).
fn host_mounts() -> BTreeSet<String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mountinfo.lines().map(|l| l.splitn(3, ' ').nth(2).unwrap_or(l).to_string()).collect()
}

/// The host's interfaces, by name.
fn host_links() -> BTreeSet<String> {
    let out = run(&["ip", "-o", "link", "show"]);
    out.stdout.lines().filter_map(|l| l.split(": ").nth(1)).map(String::from).collect()
}

/// `pid` and every process below it, with their command lines, as the host sees them.
fn tree(pid: u32) -> Vec<(u32, String)> {
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let mut tree = vec![(pid, cmdline)];
    for child in children(pid) {
        tree.extend(self::tree(child));
    }
    tree
}

#[test]
fn leaves_nothing_on_the_host() {
    if !sandbox_or_skip() {
        return;
    }
    let (mounts, links) = (host_mounts(), host_links());
    let rootfs = Rootfs::build();
    // A bridge, a mount, and a process left running in the background, as a learner might.
    let script = format!(
        "{s7} -q true && {s5} -q --rootfs '{d}' true && mount -t tmpfs sandbox-tmpfs /mnt || exit 1
         sleep 300 >/dev/null 2>&1 &
         echo ready; read _; exit 0",
        s7 = bin("step07-net"),
        s5 = bin("step05-mount"),
        d = rootfs.0.join("rootfs").display(),
    );
    let running = Running::start(&sandbox_argv(&["sh", "-c", &script]));
    // The shell prints `ready` right after it forks the sleep, which may not have exec'd yet.
    let is_sleep = |(_, cmd): &(u32, String)| cmd.split('\0').collect::<Vec<_>>() == ["sleep", "300", ""];
    let mut inside = tree(running.pid());
    for _ in 0..100 {
        if inside.iter().any(is_sleep) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        inside = tree(running.pid());
    }
    assert!(inside.iter().any(is_sleep), "no sleep in {inside:?}");
    assert_eq!(host_mounts(), mounts, "a mount made in the sandbox must not show on the host");
    running.finish().assert_status(0);
    for (pid, cmdline) in &inside {
        let now = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        assert!(now.is_empty() || now != *cmdline, "PID {pid} ({cmdline:?}) outlived the sandbox");
    }
    let new_mounts: Vec<String> = host_mounts().difference(&mounts).cloned().collect();
    assert!(new_mounts.is_empty(), "new mounts on the host: {new_mounts:#?}");
    let new_links: Vec<String> = host_links().difference(&links).cloned().collect();
    assert!(new_links.is_empty(), "new interfaces on the host: {new_links:#?}");
}
