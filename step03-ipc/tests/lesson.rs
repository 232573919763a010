//! What this step shows, checked as a learner would see it: from inside (the command's output)
//! and from outside (/proc/PID/ns, nsenter, the host), and every earlier step's lesson again.
//! Each test runs the step's binary as a subprocess: `clone` never runs in the test process.

use testkit::{clone, ipc, pid, uts, Step};

const NAME: &str = "step03-ipc";
const STEP: Step = Step::root(env!("CARGO_BIN_EXE_step03-ipc"));

// The command line, exit statuses and narration every step shares.
#[test]
fn runs_command() {
    clone::runs_command(STEP)
}
#[test]
fn passes_arguments() {
    clone::passes_arguments(STEP)
}
#[test]
fn default_is_bash() {
    clone::default_is_bash(STEP)
}
#[test]
fn narrates_on_stderr() {
    clone::narrates_on_stderr(STEP, "CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD")
}
#[test]
fn help() {
    clone::help(STEP, NAME)
}
#[test]
fn unknown_option() {
    clone::unknown_option(STEP)
}
#[test]
fn exit_statuses() {
    clone::exit_statuses(STEP)
}
#[test]
fn signal_status() {
    clone::signal_status(STEP)
}

#[test]
fn refuses_without_root() {
    uts::refuses_without_root(STEP, NAME)
}

// This step's lesson: System V IPC objects of its own.
#[test]
fn namespaces() {
    clone::namespaces_differ(STEP, &["uts", "ipc"])
}
#[test]
fn ipc_queue_hidden() {
    ipc::ipc_queue_hidden(STEP)
}

// What step02 established.
#[test]
fn hostname_is_container() {
    uts::hostname_is_container(STEP)
}
#[test]
fn nsenter_sees_hostname() {
    uts::nsenter_sees_hostname(STEP)
}

// Not isolated yet.
#[test]
fn command_is_not_pid1() {
    pid::command_is_not_pid1(STEP)
}
