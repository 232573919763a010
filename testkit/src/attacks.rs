//! What a step does when the world it starts in is hostile or careless: a root filesystem full
//! of symlinks, fds and signal dispositions left by the caller, a parent killed at the worst
//! moment, Ctrl-C from a terminal. Each check replays a way in that a step once left open.

use crate::{children, is_root, run, Out, Step, NOBODY};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The step's argv run from bash, which first does `setup` (e.g. `exec 7</`) and then
/// execs the step: the way a careless caller starts it.
fn run_after(step: Step, setup: &str, args: &[&str]) -> Out {
    let mut argv: Vec<String> =
        ["bash", "-c", &format!("{setup}; exec \"$@\""), "bash"].map(String::from).to_vec();
    argv.extend(step.argv(args));
    run(&argv)
}

/// Started with fds 7 (the host's `/`) and 8 open, the command still gets fds 0-2 only: an fd
/// on the host's `/` would reach every host file from inside any root filesystem.
pub fn inherited_fds_closed(step: Step, args: &[&str]) {
    if !step.may_run() {
        return;
    }
    let script = "for fd in 7 8; do [ -e /proc/self/fd/$fd ] && echo open $fd; done; echo checked";
    let mut argv = vec!["-q"];
    argv.extend(args);
    argv.extend(["sh", "-c", script]);
    let out = run_after(step, "exec 7</ 8<>/dev/null", &argv);
    out.assert_status(0);
    assert_eq!(out.stdout, "checked\n", "the command inherited the caller's fds\n{out:#?}");
}

/// A caller that ignores SIGPIPE and SIGHUP (Rust programs ignore SIGPIPE) hands the command
/// default signal handling: it shows no ignored or blocked signal, and `yes | head -c1` ends
/// with the status a shell's child gets, 141 (128 + SIGPIPE). From step04 on, pass `--init`:
/// the kernel keeps from a PID 1 every signal it has no handler for, SIGPIPE included, so `yes`
/// as PID 1 gets EPIPE instead and exits 1; under `--init` the command is PID 2.
pub fn default_signals(step: Step, args: &[&str]) {
    if !step.may_run() {
        return;
    }
    let mut argv = vec!["-q"];
    argv.extend(args);
    argv.extend(["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"]);
    let out = run_after(step, "trap '' PIPE HUP", &argv);
    out.assert_status(0);
    for line in out.stdout.lines() {
        assert!(
            line.ends_with("0000000000000000"),
            "the command inherited a signal setting: {line}\n{out:#?}"
        );
    }
    argv.truncate(args.len() + 1);
    argv.push("yes");
    let step_argv = step.argv(&argv).join(" ");
    let out = run(&[
        "bash",
        "-c",
        &format!("trap '' PIPE; {step_argv} | head -c1 >/dev/null; echo ${{PIPESTATUS[0]}}"),
    ]);
    assert_eq!(out.stdout.trim(), "141", "yes did not die of SIGPIPE\n{out:#?}");
}

/// A file the kernel cannot execute is 126 with the kernel's reason, as bash says, not fed to
/// /bin/sh (execvp's fallback), which made it 127 with sh's text.
pub fn exec_format_error(step: Step) {
    if !step.may_run() {
        return;
    }
    let dir = crate::fresh_dir_for_nobody("attack");
    let file = dir.join("not-a-program");
    std::fs::write(&file, "\x01\x02\x03 this is neither a program nor a script\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = step.run(&["-q", file.to_str().unwrap()]);
    out.assert_status(126);
    assert!(out.stderr.contains("Exec format error"), "{out:#?}");
}

/// The step, run by root: a hostile rootfs is meant to fool root, not its owner.
fn as_root(step: Step) -> Step {
    Step { as_nobody: false, needs_root: true, ..step }
}

/// A copy of the test rootfs in `dir`, for one attack to spoil.
fn rootfs_copy(dir: &Path) -> PathBuf {
    let copy = dir.join("rootfs");
    let out = run(&["cp", "-a", crate::rootfs().to_str().unwrap(), copy.to_str().unwrap()]);
    out.assert_status(0);
    copy
}

/// Our mount table, as the host sees it: an attack must not add a line to it.
fn host_mounts() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap()
}

/// A symlink where the rootfs needs a directory (`dev`, `proc`, `tmp`, `sys`), pointing out of
/// it, absolutely or with `..`: the step refuses it with one line that names it, exit 125, and
/// nothing outside the rootfs changes (run by root, which the attack means to fool).
pub fn rootfs_symlinks_refused(step: Step) {
    let step = as_root(step);
    if !step.may_run() {
        return;
    }
    let dir = crate::fresh_dir_for_nobody("attack");
    let outside = dir.join("outside");
    std::fs::create_dir(&outside).unwrap();
    let rootfs = rootfs_copy(&dir);
    for (name, target) in [
        ("dev", outside.to_str().unwrap().to_string()),
        ("proc", "../outside".to_string()),
        ("tmp", "/".to_string()),
        ("sys", outside.to_str().unwrap().to_string()),
    ] {
        let real = rootfs.join(format!("{name}.real"));
        std::fs::rename(rootfs.join(name), &real).unwrap();
        std::os::unix::fs::symlink(&target, rootfs.join(name)).unwrap();
        let mounts = host_mounts();
        let out = step.run(&["-q", "--rootfs", rootfs.to_str().unwrap(), "true"]);
        out.assert_status(125);
        let line = crate::checks::one_error_line(&out);
        assert!(line.contains(&format!("--rootfs: {name} is a symlink")), "{line}");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "{name} -> {target}: files made outside");
        assert_eq!(host_mounts(), mounts, "{name} -> {target}: a mount reached the host");
        std::fs::remove_file(rootfs.join(name)).unwrap();
        std::fs::rename(&real, rootfs.join(name)).unwrap();
    }
}

/// `etc/hosts` as a symlink to a file outside the rootfs: the host's hosts is not bound over
/// it (that would write through the link), the step says so, and the file outside is unchanged.
/// The host's own files, bound in read-only, cannot be written from inside either.
pub fn rootfs_host_files_read_only(step: Step) {
    let step = as_root(step);
    if !step.may_run() {
        return;
    }
    let dir = crate::fresh_dir_for_nobody("attack");
    let victim = dir.join("victim");
    std::fs::write(&victim, "victim\n").unwrap();
    let rootfs = rootfs_copy(&dir);
    std::fs::remove_file(rootfs.join("etc/hosts")).unwrap();
    std::os::unix::fs::symlink(&victim, rootfs.join("etc/hosts")).unwrap();
    let hosts_before = std::fs::read("/etc/hosts").unwrap();
    let script = "echo x >> /etc/hosts; echo x >> /etc/resolv.conf; echo done";
    let out = step.run(&["--rootfs", rootfs.to_str().unwrap(), "sh", "-c", script]);
    out.assert_status(0);
    assert!(
        out.stderr.contains("left /etc/hosts as the root filesystem has it: it is a symlink"),
        "{out:#?}"
    );
    assert!(out.stderr.contains("bound the host's /etc/resolv.conf read-only"), "{out:#?}");
    assert!(out.stderr.contains("Read-only file system"), "resolv.conf was writable\n{out:#?}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "victim\n");
    assert_eq!(std::fs::read("/etc/hosts").unwrap(), hosts_before, "the host's /etc/hosts changed");
}

/// `--rootfs .` from inside the rootfs works as any other path does.
pub fn rootfs_dot(step: Step) {
    if !step.may_run() {
        return;
    }
    let rootfs = crate::rootfs();
    let mut argv: Vec<String> = ["sh", "-c", "cd \"$0\" && exec \"$@\""].map(String::from).to_vec();
    argv.push(rootfs.display().to_string());
    argv.extend(step.argv(&["-q", "--rootfs", ".", "sh", "-c", "test -d /proc/1 && echo inside"]));
    let out = run(&argv);
    out.assert_status(0);
    assert_eq!(out.stdout, "inside\n", "{out:#?}");
}

/// The parent killed as it starts to write the ID maps (strace stops it at its first write):
/// the child must not run the command without maps, where it would be a nameless `nobody`
/// with every capability of its namespaces. Tried 20 times: the window is narrow.
pub fn no_command_without_id_maps(step: Step) {
    if !step.may_run() || !crate::installed_or_skip(&["strace"]) {
        return;
    }
    for _ in 0..20 {
        let mut argv: Vec<String> =
            ["strace", "-o", "/dev/null", "-e", "trace=write", "-e", "inject=write:signal=SIGKILL"]
                .map(String::from)
                .to_vec();
        if is_root() {
            argv.splice(0..0, NOBODY.map(String::from));
        }
        let bin = if is_root() { crate::reachable_by_nobody(step.bin) } else { PathBuf::from(step.bin) };
        argv.push(bin.display().to_string());
        argv.extend(["-q", "sh", "-c", "echo RAN"].map(String::from));
        let out = run(&argv);
        assert!(!out.stdout.contains("RAN"), "the command ran without ID maps\n{out:#?}");
    }
}

/// With `--init`, the container dies with the step even after the command changed its uid,
/// which clears PR_SET_PDEATHSIG for the command: init, our PID 1, keeps it, and the kernel
/// ends the whole PID namespace with its PID 1.
pub fn dies_with_step_after_setuid_with_init(step: Step) {
    let step = as_root(step);
    if !step.may_run() {
        return;
    }
    let mut argv = step.argv(&["-q", "--init"]);
    argv.extend(NOBODY.map(String::from));
    argv.extend(["sh", "-c", "echo ready; exec sleep 60"].map(String::from));
    let mut child =
        Command::new(&argv[0]).args(&argv[1..]).stdin(Stdio::null()).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    let init = *children(child.id()).first().expect("the step has a child");
    let command = *children(init).first().expect("init has a child");
    let uid = status_field(command, "Uid:");
    assert!(uid.starts_with("65534"), "the command did not change its uid: {uid}");
    child.kill().unwrap(); // SIGKILL: the step gets no chance to clean up
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{command}")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!Path::new(&format!("/proc/{command}")).exists(), "the command outlived the step");
}

/// Ctrl-C at a terminal reaches the command once. The command has a terminal of its own
/// (common/src/session.rs), whose line discipline turns the Ctrl-C the step relays into SIGINT
/// for its whole foreground process group: the step never gets it, and `--init`, in that group
/// too, must not forward it again. `script` gives the step a terminal; we type Ctrl-C into it.
pub fn ctrl_c_arrives_once(step: Step, args: &[&str]) {
    if !step.may_run() || !crate::installed_or_skip(&["script"]) {
        return;
    }
    let mut argv = step.argv(args);
    argv.extend(["sh", "-c", "trap 'echo got-INT' INT; echo ready; sleep 3; echo after"].map(String::from));
    let quoted: Vec<String> = argv.iter().map(|a| format!("'{}'", a.replace('\'', "'\\''"))).collect();
    let mut script = Command::new("script")
        .args(["-qfec", &quoted.join(" "), "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(script.stdout.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("ready") {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen += &line;
    }
    let mut stdin = script.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"\x03").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    drop(stdin);
    script.wait().unwrap();
    seen += &rest;
    assert_eq!(seen.matches("got-INT").count(), 1, "{seen}");
    assert!(!seen.contains("forwarding it"), "a terminal's SIGINT was forwarded again\n{seen}");
}

/// A field of /proc/PID/status, e.g. `Uid:`, without its name.
fn status_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_default();
    line[field.len().min(line.len())..].trim().to_string()
}

/// `--pid-file FILE`: once the command starts, FILE holds the container's PID as the host
/// sees it (the step's own child), and it is gone when the container ends. A symlink planted
/// at FILE is replaced, never written through: its target keeps its content.
pub fn pid_file(step: Step) {
    if !step.may_run() {
        return;
    }
    let dir = crate::fresh_dir_for_nobody("attack");
    if step.as_nobody && is_root() {
        // The step runs as nobody here, and writes FILE as nobody.
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    }
    let (file, victim) = (dir.join("pid"), dir.join("victim"));
    std::fs::write(&victim, "victim\n").unwrap();
    std::os::unix::fs::symlink(&victim, &file).unwrap();
    let argv = step.argv(&["-q", "--pid-file", file.to_str().unwrap(), "sh", "-c", "echo ready; read _"]);
    let mut child =
        Command::new(&argv[0]).args(&argv[1..]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::symlink_metadata(&file).is_ok_and(|m| m.file_type().is_symlink())
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    let written = std::fs::read_to_string(&file).unwrap_or_default();
    let step_pid = children(child.id()).first().copied().unwrap_or(child.id());
    let container = children(step_pid).first().or(children(child.id()).first()).copied();
    drop(child.stdin.take());
    child.wait().unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "victim\n", "written through the symlink");
    assert_eq!(written.trim().parse::<u32>().ok(), container, "FILE does not hold the container's PID");
    assert!(!file.exists(), "FILE outlived its container");
    // A symlink planted in FILE's directory path: refused before anything runs, and the file
    // of that name in the directory it points to keeps its content.
    let secret = dir.join("secret");
    std::fs::create_dir(&secret).unwrap();
    std::fs::write(secret.join("pid"), "keep\n").unwrap();
    std::os::unix::fs::symlink(&secret, dir.join("d")).unwrap();
    let planted = dir.join("d/pid");
    let out = step.run(&["-q", "--pid-file", planted.to_str().unwrap(), "echo", "ran"]);
    out.assert_status(125);
    assert!(crate::checks::one_error_line(&out).contains("has a symlink on its way"), "{out:#?}");
    assert_eq!(out.stdout, "", "the command ran");
    assert_eq!(std::fs::read_to_string(secret.join("pid")).unwrap(), "keep\n");
}
