//! step04's lesson, the PID namespace: the command is PID 1, and what that changes. `ps` sees
//! the host until step05 mounts a /proc of its own; PID 1 gets no signal it has no handler for,
//! so the step sends SIGKILL after `--stop-timeout`; its death ends the whole namespace; and
//! `--init` runs a PID 1 that forwards signals and reaps orphans.
//!
//! Called by the `tests/lesson.rs` and `tests/hardening.rs` of steps 01 on.

use crate::privilege::{installed_or_skip, real_root_or_skip, RealRoot, NOBODY};
use crate::step::{children, one_error_line, Step};
use crate::watch::{
    comm, is_running, kill_parent_of_container_with_orphan, signal, start, state, status_field, wait_or_kill,
    wait_until,
};
use crate::wording as says;
use nix::sys::signal::Signal;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

// --- PID 1 ---------------------------------------------------------------------------------------

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

// --- Signals to PID 1, and its death -------------------------------------------------------------

/// Step 04 on: `sleep` as PID 1 has no handler, so the kernel drops SIGTERM; after
/// `--stop-timeout` the step sends SIGKILL and says so: 137.
pub fn pid1_ignores_sigterm_so_sigkill(step: Step) {
    if !step.may_run() {
        return;
    }
    let running = start(step, &["--stop-timeout", "0.5"], "echo ready; exec sleep 60");
    signal(running.pid(), Signal::SIGTERM);
    let out = wait_or_kill(running);
    out.assert_status(128 + 9);
    assert!(out.stderr.contains(&says::forwarding("SIGTERM")), "{out:#?}");
    assert!(out.stderr.contains(&says::still_running_after(500)), "{out:#?}");
    assert!(out.stderr.contains(&says::killed_by("SIGKILL")), "{out:#?}");
}

/// Step 04 on, with `--init`: the command is PID 2, so SIGTERM ends it at once, and the step
/// ends with 143, before the stop timeout (10 s by default) would send SIGKILL.
pub fn init_forwards_sigterm(step: Step) {
    if !step.may_run() {
        return;
    }
    let running = start(step, &["--init"], "echo ready; exec sleep 60");
    signal(running.pid(), Signal::SIGTERM);
    let out = wait_or_kill(running);
    out.assert_status(128 + 15);
    assert!(out.stderr.contains(&says::init_forwarding("SIGTERM", "sh", 2)), "{out:#?}");
    assert!(!out.stderr.contains(says::SENDING_SIGKILL), "{out:#?}");
}

/// The parent is SIGKILLed: its child dies with it (PR_SET_PDEATHSIG), and so, from step04 on,
/// does every process of the container, because the kernel kills a PID namespace's processes
/// when its PID 1 dies.
pub fn parent_killed_takes_everything(step: Step) {
    if !step.may_run() {
        return;
    }
    let sleep = kill_parent_of_container_with_orphan(step, &[]);
    assert!(
        wait_until(|| !is_running(sleep)),
        "the container's background sleep (PID {sleep}) outlived its PID 1"
    );
}

// --- PID 1's duties: --init ----------------------------------------------------------------------

/// A command that leaves an orphan behind: without `--init`, the orphan ends as a zombie that
/// nobody reaps (PID 1 is `cat`, which never calls wait); with `--init`, init reaps it.
pub fn init_reaps_orphans(step: Step) {
    if !step.may_run() {
        return;
    }
    // The inner sh starts a `sleep 1` and exits at once, so the sleep is re-parented to PID 1.
    let script = "sh -c 'sleep 1 &'; echo ready; exec cat";
    let orphans = |pid1: u32| -> Vec<(u32, char)> {
        children(pid1)
            .into_iter()
            .filter(|&p| comm(p) == "sleep")
            .filter_map(|p| Some((p, state(p)?)))
            .collect()
    };

    let without = start(step, &["-q"], script);
    let pid1 = without.container;
    assert!(
        wait_until(|| orphans(pid1).iter().any(|&(_, s)| s == 'Z')),
        "without --init, the orphan should end as a zombie under PID 1: {:?}",
        orphans(pid1)
    );
    without.finish().assert_status(0);

    let with = start(step, &["-q", "--init"], script);
    let pid1 = with.container;
    // (Once it has exec'd sleep: until then it is a copy of sh.)
    assert!(wait_until(|| !orphans(pid1).is_empty()), "the orphan should be re-parented to init");
    assert!(
        wait_until(|| orphans(pid1).is_empty()),
        "with --init, the orphan should be reaped: {:?}",
        orphans(pid1)
    );
    let out = with.finish();
    out.assert_status(0);
}

/// With `--init` too, the command (init's child) sees only fds 0, 1 and 2.
pub fn only_standard_fds_with_init(step: Step) {
    if !step.may_run() {
        return;
    }
    let running = step.start_with_standard_fds_only(&["-q", "--init"]);
    let command = children(running.container);
    assert_eq!(command.len(), 1, "init should have one child, the command");
    let mut fds: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", command[0]))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    fds.sort();
    assert_eq!(fds, ["0", "1", "2"], "the command's open fds under --init");
    running.finish().assert_status(0);
}

/// `--init` passes the command's exit status through: its own, 127 if not found.
pub fn init_exit_statuses(step: Step) {
    if !step.may_run() {
        return;
    }
    step.run(&["-q", "--init", "sh", "-c", "exit 7"]).assert_status(7);
    let out = step.run(&["--init", "no-such-command-anywhere"]);
    out.assert_status(127);
    assert!(one_error_line(&out).contains(&says::command_not_found("no-such-command-anywhere")), "{out:#?}");
    let out = step.run(&["-q", "--init", "sh", "-c", "kill -TERM $$"]);
    out.assert_status(128 + 15);
}

/// With `--init`, the container dies with the step even after the command changed its uid,
/// which clears PR_SET_PDEATHSIG for the command: init, our PID 1, keeps it, and the kernel
/// ends the whole PID namespace with its PID 1.
pub fn dies_with_step_after_setuid_with_init(step: Step) {
    let step = step.as_root();
    if !step.may_run() || !real_root_or_skip(RealRoot::Nobody) {
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
