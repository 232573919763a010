//! What this step shows, checked as a learner would see it: from inside (the command's output)
//! and from outside (/proc/PID/ns, nsenter, the host), and every earlier step's lesson again.
//! Each test runs the step's binary as a subprocess: `clone` never runs in the test process.

use testkit::{clone, ipc, pid, uts, Step};

const NAME: &str = "step04-pid";
const STEP: Step = Step::root(env!("CARGO_BIN_EXE_step04-pid"));

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
    clone::narrates_on_stderr(STEP, "CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | SIGCHLD")
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

// This step's lesson: the command is PID 1, but ps still reads the host's /proc.
#[test]
fn namespaces() {
    clone::namespaces_differ(STEP, &["uts", "ipc", "pid"])
}
#[test]
fn command_is_pid1() {
    pid::command_is_pid1(STEP)
}
#[test]
fn ps_sees_host_processes() {
    pid::ps_sees_host_processes(STEP)
}

// What steps 02-03 established.
#[test]
fn hostname_is_container() {
    uts::hostname_is_container(STEP)
}
#[test]
fn nsenter_sees_hostname() {
    uts::nsenter_sees_hostname(STEP)
}
#[test]
fn ipc_queue_hidden() {
    ipc::ipc_queue_hidden(STEP)
}
