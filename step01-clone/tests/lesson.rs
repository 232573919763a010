//! What this step shows, checked as a learner would see it: from inside (the command's output)
//! and from outside (/proc/PID/ns, nsenter, the host), and every earlier step's lesson again.
//! Each test runs the step's binary as a subprocess: `clone` never runs in the test process.

use testkit::{clone, pid, uts, Step};

const NAME: &str = "step01-clone";
const STEP: Step = Step::new(env!("CARGO_BIN_EXE_step01-clone"));

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
    clone::narrates_on_stderr(STEP, "SIGCHLD")
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

// This step's lesson: a child, and no isolation yet.
#[test]
fn shares_every_namespace() {
    clone::namespaces_differ(STEP, &[])
}
#[test]
fn hostname_is_the_hosts() {
    uts::hostname_is_hosts(STEP)
}
#[test]
fn command_is_not_pid1() {
    pid::command_is_not_pid1(STEP)
}
#[test]
fn runs_as_nobody() {
    clone::runs_as_nobody(STEP)
}
