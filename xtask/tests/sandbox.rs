//! `cargo xtask sandbox`: an ordinary user runs every step inside it, and each shows, from
//! inside, what its root tests check; and once it has exited, the host has no new mount, no
//! new interface and no process of it left.
//!
//! When these tests run as root, the sandbox runs as nobody (setpriv), so that what is checked
//! is what a learner without sudo gets; as anyone else, it runs as them. The steps are this
//! workspace's binaries, in the target directory this test was built in, reachable by nobody.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Once;
use testkit::{children, is_root, reachable_by_nobody, run, Out, Running, NOBODY};

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

/// `target/debug`: this test is `target/debug/deps/sandbox-*`.
fn bin_dir() -> PathBuf {
    std::env::current_exe().unwrap().ancestors().nth(2).unwrap().to_path_buf()
}

/// A program of the workspace, as a path nobody can run. `cargo test -p xtask` builds only
/// xtask, so the first call builds the rest (`cargo test --workspace` has built them already).
fn bin(name: &str) -> String {
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
fn runtime_dir() -> PathBuf {
    let dir = testkit::fresh_dir_for_nobody("runtime");
    if is_root() {
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

/// `xtask sandbox ARGS`, as nobody if we are root, with `runtime` as XDG_RUNTIME_DIR.
fn sandbox_argv_in(runtime: &Path, args: &[&str]) -> Vec<String> {
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
fn sandbox_argv(command: &[&str]) -> Vec<String> {
    static RUNTIME: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let runtime = RUNTIME.get_or_init(runtime_dir);
    sandbox_argv_in(runtime, &[&["--"], command].concat())
}

/// Run `script` with `sh -c` in the sandbox. In it, `$S1` ... `$S7` are the steps and `$SE`
/// is setns-enter.
fn in_sandbox(script: &str) -> Out {
    let mut vars = String::new();
    for (var, name) in [
        ("S1", "step01-clone"),
        ("S2", "step02-uts"),
        ("S3", "step03-ipc"),
        ("S4", "step04-pid"),
        ("S5", "step05-mount"),
        ("S6", "step06-user"),
        ("S7", "step07-net"),
        ("SE", "setns-enter"),
    ] {
        vars.push_str(&format!("{var}='{}'\n", bin(name)));
    }
    run(&sandbox_argv(&["sh", "-c", &format!("{vars}{script}")]))
}

/// Whether the sandbox can start here: it needs user namespaces. Under CI it must.
fn sandbox_or_skip() -> bool {
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

fn host_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap()
}

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

// --- Every step inside, checked as its root tests check it -------------------------------------

#[test]
fn step01_runs() {
    if !sandbox_or_skip() {
        return;
    }
    let out = in_sandbox("$S1 -q sh -c 'echo hello from $$'");
    out.assert_status(0);
    assert!(out.stdout.starts_with("hello from "), "{out:#?}");
}

#[test]
fn step02_hostname_is_container_and_the_sandboxs_is_unchanged() {
    if !sandbox_or_skip() {
        return;
    }
    let before = host_hostname();
    let out = in_sandbox("hostname; $S2 -q hostname; hostname");
    out.assert_status(0);
    assert_eq!(out.stdout, "sandbox\ncontainer\nsandbox\n", "{out:#?}");
    assert_eq!(host_hostname(), before, "the host's hostname must not change");
}

#[test]
fn step03_ipcs_is_empty() {
    if !sandbox_or_skip() {
        return;
    }
    let out = in_sandbox(
        "ipcs -q | grep -c '^0x'; ipcmk -Q >/dev/null; ipcs -q | grep -c '^0x'; $S3 -q ipcs -q | grep -c '^0x'; exit 0",
    );
    out.assert_status(0);
    // The sandbox's own IPC namespace starts empty; the queue made in it does not show in step03.
    assert_eq!(out.stdout, "0\n1\n0\n", "{out:#?}");
}

#[test]
fn step04_the_command_is_pid_1() {
    if !sandbox_or_skip() {
        return;
    }
    let out = in_sandbox("$S4 -q sh -c 'echo $$'");
    out.assert_status(0);
    assert_eq!(out.stdout, "1\n", "{out:#?}");
}

/// A root filesystem from tools/mkrootfs, in a directory of its own, readable by everyone.
struct Rootfs(PathBuf);

impl Rootfs {
    fn build() -> Rootfs {
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

#[test]
fn step05_rootfs_with_its_own_proc() {
    if !sandbox_or_skip() {
        return;
    }
    let rootfs = Rootfs::build();
    let dir = rootfs.0.join("rootfs");
    let script = format!(
        "$S5 -q --rootfs '{d}' ps -e -o pid=,comm=; echo --; $S5 -q --rootfs '{d}' ls /",
        d = dir.display()
    );
    let out = in_sandbox(&script);
    out.assert_status(0);
    let (ps, ls) = out.stdout.split_once("--\n").unwrap();
    let rows: Vec<&str> = ps.lines().map(str::trim).collect();
    assert_eq!(rows, ["1 ps"], "ps should be PID 1 and alone\n{out:#?}");
    let mut expected: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    expected.sort();
    let mut seen: Vec<&str> = ls.lines().collect();
    seen.sort();
    assert_eq!(seen, expected, "/ should be the rootfs\n{out:#?}");
}

#[test]
fn step06_uid_0_inside() {
    if !sandbox_or_skip() {
        return;
    }
    let out = in_sandbox("$S6 -q sh -c 'id -u; id -g; tr -s \" \" < /proc/self/uid_map'");
    out.assert_status(0);
    // uid 0 in step06's user namespace is uid 0 of the sandbox's, which is us to the host.
    assert_eq!(out.stdout, "0\n0\n 0 0 1\n", "{out:#?}");
}

#[test]
fn step07_two_containers_on_the_bridge_ping_each_other() {
    if !sandbox_or_skip() {
        return;
    }
    let out = in_sandbox(
        "$S7 -q --ip 192.168.10.2 sleep 30 &
         $S7 -q --ip 192.168.10.3 sh -c '
             ip -4 -o addr show dev eth0 | tr -s \" \" | cut -d\" \" -f4
             i=0; until ping -c1 -W1 192.168.10.2 >/dev/null; do
                 i=$((i+1)); [ $i -lt 50 ] || exit 1; sleep 0.1
             done
             echo reached 192.168.10.2'
         status=$?
         kill -KILL $!; wait
         ip -o link show type bridge | cut -d: -f2 | tr -d ' '
         exit $status",
    );
    out.assert_status(0);
    assert_eq!(out.stdout, "192.168.10.3/24\nreached 192.168.10.2\nlxcbr0\n", "{out:#?}");
}

#[test]
fn setns_enter_and_nsenter_join_a_running_container() {
    if !sandbox_or_skip() {
        return;
    }
    let out = in_sandbox(
        "$S7 -q --ip 192.168.10.5 sleep 300 &
         i=0; until C=$(pgrep -x -f 'sleep 300'); do i=$((i+1)); [ $i -lt 100 ] || exit 9; sleep 0.05; done
         $SE -q $C sh -c 'hostname; id -u; ip -4 -o addr show dev eth0 | tr -s \" \" | cut -d\" \" -f4'
         nsenter -t $C -u hostname
         kill -KILL $!; wait; exit 0",
    );
    out.assert_status(0);
    assert_eq!(out.stdout, "container\n0\n192.168.10.5/24\ncontainer\n", "{out:#?}");
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
