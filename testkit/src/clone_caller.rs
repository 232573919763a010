//! step01's hardening: what a careless or hostile caller hands a step, and what many runs leave
//! behind. The command gets fds 0, 1 and 2 only and default signal handling, whatever the step
//! inherited; a file that is no program is 126; `--pid-file` follows no symlink; and
//! `tools/soak` finds nothing left on the host after many runs.
//!
//! Called by every step's `tests/hardening.rs`.

use crate::privilege::{installed_or_skip, is_real_root, root_or_skip};
use crate::step::{children, one_error_line, run, Out, Step};
use crate::tmp::fresh_dir_for_nobody;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

// --- File descriptors and signal settings --------------------------------------------------------

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

/// A directory on stdin, stdout or stderr (`0</`) would lead the command out of any root: the
/// step refuses it in one line, 125, and nothing runs.
pub fn directory_on_stdio_refused(step: Step) {
    if !step.may_run() {
        return;
    }
    for redirect in ["0</", "1</", "2</"] {
        let mut argv: Vec<String> =
            ["sh", "-c", &format!("exec \"$@\" {redirect}"), "sh"].map(String::from).to_vec();
        argv.extend(step.argv(&["-q", "sh", "-c", "echo ran >&2"]));
        let out = crate::step::run(&argv);
        out.assert_status(125);
        assert!(!out.stderr.contains("ran\n"), "{redirect}: {out:#?}");
        if redirect != "2</" {
            let line = crate::step::one_error_line(&out);
            assert!(line.contains("is a directory") && line.contains("a pipe"), "{redirect}: {line}");
        }
    }
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
    let dir = fresh_dir_for_nobody("attack");
    let file = dir.join("not-a-program");
    std::fs::write(&file, "\x01\x02\x03 this is neither a program nor a script\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = step.run(&["-q", file.to_str().unwrap()]);
    out.assert_status(126);
    assert!(out.stderr.contains("Exec format error"), "{out:#?}");
}

// --- --pid-file ----------------------------------------------------------------------------------

/// `--pid-file FILE`: once the command starts, FILE holds the container's PID as the host
/// sees it (the step's own child), and it is gone when the container ends. A symlink planted
/// at FILE is replaced, never written through: its target keeps its content.
pub fn pid_file(step: Step) {
    if !step.may_run() {
        return;
    }
    let dir = fresh_dir_for_nobody("attack");
    if step.as_nobody && is_real_root() {
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
    assert!(one_error_line(&out).contains("has a symlink on its way"), "{out:#?}");
    assert_eq!(out.stdout, "", "the command ran");
    assert_eq!(std::fs::read_to_string(secret.join("pid")).unwrap(), "keep\n");
}

// --- What many runs leave behind -----------------------------------------------------------------

/// `tools/soak N STEP`: N runs of the step in throwaway namespaces leave nothing behind in the
/// outer mount table, IPC objects, interfaces or process table, no zombies, and no cgroups
/// (the soak counts those its own runs made, in a cgroup of its own, and nobody else's).
pub fn soak(step: Step, runs: u32) {
    if !root_or_skip("tools/soak makes throwaway namespaces with unshare") || !installed_or_skip(&["unshare"])
    {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/soak");
    let out = run(&[script.to_str().unwrap(), &runs.to_string(), step.bin]);
    out.assert_status(0);
    // The soak leaves out --memory and --cpus where it may not (cargo xtask sandbox): say so.
    for line in out.stderr.lines().filter(|l| l.contains("no --memory and --cpus runs")) {
        let _ = writeln!(std::io::stderr(), "note: {line}");
    }
    let name = Path::new(step.bin).file_name().unwrap().to_string_lossy();
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with(name.as_ref()))
        .unwrap_or_else(|| panic!("no figures for {name}\n{out:#?}"));
    assert!(line.contains(&format!(" runs={runs} failed=0 ")), "{line}");
    assert!(line.ends_with(" residue=0"), "{line}");
}
