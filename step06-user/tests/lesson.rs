//! What this step shows, checked as a learner would see it: from inside (the command's output)
//! and from outside (/proc/PID/ns, nsenter, the host), and every earlier step's lesson again.
//! Each test runs the step's binary as a subprocess: `clone` never runs in the test process.

use testkit::{clone, ipc, mount, pid, user, uts, Step};

const NAME: &str = "step06-user";
const STEP: Step = Step::nobody(env!("CARGO_BIN_EXE_step06-user"));

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
    clone::narrates_on_stderr(
        STEP,
        "CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | SIGCHLD",
    )
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

// This step's lesson: root inside, an ordinary user outside, and no sudo.
#[test]
fn namespaces() {
    clone::namespaces_differ(STEP, &["user", "uts", "ipc", "pid", "mnt"])
}
#[test]
fn root_inside() {
    user::root_inside(STEP)
}
#[test]
fn all_capabilities_inside() {
    user::all_capabilities_inside(STEP)
}
#[test]
fn cannot_write_host_etc() {
    user::cannot_write_host_etc(STEP)
}
#[test]
fn owned_by_user_outside() {
    user::owned_by_user_outside(STEP)
}
#[test]
fn user_namespaces_disabled() {
    user::user_namespaces_disabled(STEP)
}

// What step05 established: its own /proc, its own root, and no mount leaks out.
#[test]
fn ps_sees_only_container() {
    pid::ps_sees_only_container(STEP)
}
#[test]
fn mounts_do_not_leak() {
    mount::mounts_do_not_leak(STEP, false)
}
#[test]
fn rootfs_mounts_do_not_leak() {
    mount::mounts_do_not_leak(STEP, true)
}
#[test]
fn rootfs_becomes_root() {
    mount::rootfs_becomes_root(STEP, false)
}
#[test]
fn rootfs_errors() {
    mount::rootfs_errors(STEP)
}
#[test]
fn host_files_without_rootfs() {
    mount::host_files_without_rootfs(STEP)
}

// What steps 02-04 established.
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
#[test]
fn command_is_pid1() {
    pid::command_is_pid1(STEP)
}
