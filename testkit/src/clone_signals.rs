//! step01's hardening: signals and the death of the parent. SIGINT, SIGHUP, SIGQUIT and SIGTERM
//! sent to a step reach its command; Ctrl-C at a terminal reaches it once; a step SIGKILLed
//! takes its container with it (PR_SET_PDEATHSIG), even when it dies before its child set that.
//! What changes once the command is PID 1 (step04 on) is in [`crate::pid`].
//!
//! Called by every step's `tests/hardening.rs`.

use crate::privilege::{installed_or_skip, root_or_skip};
use crate::step::{children, note_started, Step};
use crate::watch::{
    comm, is_running, kill_parent_of_container_with_orphan, signal, start, wait_or_kill, wait_until,
};
use crate::wording as says;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

// --- Signals -------------------------------------------------------------------------------------

/// SIGINT, SIGHUP, SIGQUIT and SIGTERM sent to the step reach the command, which handles them.
pub fn forwards_each_signal(step: Step) {
    if !step.may_run() {
        return;
    }
    let script = include_str!("../scripts/trap-each-signal.sh");
    for sig in [Signal::SIGINT, Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGTERM] {
        let running = start(step, &[], script);
        signal(running.pid(), sig);
        let out = wait_or_kill(running);
        out.assert_status(42);
        let name = sig.as_str().trim_start_matches("SIG");
        assert_eq!(out.stdout, format!("got {name}\n"), "{out:#?}");
        assert!(out.stderr.contains(&says::forwarding(sig)), "{out:#?}");
    }
}

/// Steps 01-03: a `sleep` is an ordinary process, and SIGTERM forwarded to it ends it: 143.
pub fn sigterm_ends_command(step: Step) {
    if !step.may_run() {
        return;
    }
    let running = start(step, &[], "echo ready; exec sleep 60");
    signal(running.pid(), Signal::SIGTERM);
    let out = wait_or_kill(running);
    out.assert_status(128 + 15);
    assert!(out.stderr.contains(&says::killed_by("SIGTERM")), "{out:#?}");
    assert!(!out.stderr.contains(says::SENDING_SIGKILL), "{out:#?}");
}

/// Ctrl-C at a terminal reaches the command once. The command has a terminal of its own
/// (common/src/session.rs), whose line discipline turns the Ctrl-C the step relays into SIGINT
/// for its whole foreground process group: the step never gets it, and `--init`, in that group
/// too, must not forward it again. `script` gives the step a terminal; we type Ctrl-C into it.
pub fn ctrl_c_arrives_once(step: Step, args: &[&str]) {
    if !step.may_run() || !installed_or_skip(&["script"]) {
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

// --- Parent death --------------------------------------------------------------------------------

/// Steps 01-03 have no PID namespace: when the parent is SIGKILLed its child dies
/// (PR_SET_PDEATHSIG), but a process the command left in the background lives on, re-parented
/// to the host's init. This is the lesson of step04, where killing PID 1 kills them all.
pub fn parent_killed_leaves_orphans(step: Step) {
    if !step.may_run() {
        return;
    }
    let sleep = kill_parent_of_container_with_orphan(step, &[]);
    let outlived = is_running(sleep);
    let _ = kill(Pid::from_raw(sleep as i32), Signal::SIGKILL); // ours to clean up, by its PID
    assert!(outlived, "without a PID namespace, the background sleep should outlive the container");
}

/// The parent dies before the child has called prctl(PR_SET_PDEATHSIG): the child must notice
/// (the parent-alive pipe is at end-of-file) and end, instead of running the command forever.
/// `strace` delays the child's prctl by a second and a half, so the parent's death comes first.
pub fn parent_dies_before_pdeathsig(step: Step) {
    if !step.may_run() {
        return;
    }
    if !root_or_skip("strace attaches to the step, which needs ptrace rights")
        || !installed_or_skip(&["strace"])
    {
        return;
    }
    let mut argv: Vec<String> = [
        "strace",
        "-f",
        "-qq",
        "-o",
        "/dev/null",
        "-e",
        "trace=prctl",
        "-e",
        "inject=prctl:delay_enter=1500000",
    ]
    .map(String::from)
    .to_vec();
    argv.extend(step.argv(&["-q", "sleep", "60"]));
    let mut strace = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("could not start strace");
    // The step is strace's child (after any wrappers exec'd), and the container the step's child.
    let mut step_pid = 0;
    let mut container = 0;
    let found = wait_until(|| {
        step_pid = children(strace.id()).first().copied().unwrap_or(0);
        container = children(step_pid).first().copied().unwrap_or(0);
        container != 0
    });
    assert!(found, "the step never started its container under strace");
    note_started(step_pid);
    signal(step_pid, Signal::SIGKILL);
    let survived = !wait_until(|| !is_running(container));
    if survived {
        let _ = kill(Pid::from_raw(container as i32), Signal::SIGKILL);
    }
    let _ = strace.wait();
    assert!(
        !survived,
        "the container (PID {container}, {}) outlived its parent, which died before prctl()",
        comm(container)
    );
}
