//! Hardening: what this step does when people press Ctrl-C, kill terminals, mistype commands
//! and run ten copies at once. The checks live in `testkit::hardening`; each test is one line.

use testkit::{attacks, cgroup_time, checks, hardening, overlay, Step};

const STEP: Step = Step {
    bin: env!("CARGO_BIN_EXE_step11-overlay"),
    wrap: &["unshare", "--net"],
    as_nobody: false,
    needs_root: true,
};

// The layer was written by the container: walked and removed without following its symlinks.
#[test]
fn hostile_layer_walked_safely() {
    overlay::hostile_layer_walked_safely(STEP)
}

// Signals: forwarded to the command; SIGKILL when PID 1 ignores them.
#[test]
fn forwards_each_signal() {
    hardening::forwards_each_signal(STEP)
}
#[test]
fn pid1_ignores_sigterm_so_sigkill() {
    hardening::pid1_ignores_sigterm_so_sigkill(STEP)
}
#[test]
fn init_forwards_sigterm() {
    hardening::init_forwards_sigterm(STEP)
}

// The parent dies, even by SIGKILL, even before its child called prctl. Its cgroups stay:
// these checks remove them after.
#[test]
fn parent_killed_takes_everything() {
    cgroup_time::then_remove_leftovers(STEP, hardening::parent_killed_takes_everything)
}
#[test]
fn parent_dies_before_pdeathsig() {
    cgroup_time::then_remove_leftovers(STEP, hardening::parent_dies_before_pdeathsig)
}
#[test]
fn cgroup_left_after_sigkill() {
    cgroup_time::cgroup_left_after_sigkill(STEP)
}

// --init: a PID 1 that reaps orphans and forwards signals.
#[test]
fn init_reaps_orphans() {
    hardening::init_reaps_orphans(STEP)
}
#[test]
fn init_exit_statuses() {
    hardening::init_exit_statuses(STEP)
}

// Leaks: file descriptors, and what many runs leave on the host.
#[test]
fn only_standard_fds() {
    checks::only_standard_fds(STEP)
}
#[test]
fn only_standard_fds_with_init() {
    hardening::only_standard_fds_with_init(STEP)
}
#[test]
fn soak() {
    cgroup_time::soak(STEP, 10)
}

// Bad input and bad environments (the rest are in the step's own tests).
#[test]
fn bad_option_values() {
    hardening::bad_option_values(STEP)
}
#[test]
fn without_proc_says_so() {
    hardening::without_proc_says_so(STEP)
}

// Concurrency.
#[test]
fn ten_at_once() {
    hardening::ten_at_once(STEP, &[])
}
#[test]
fn ten_at_once_with_rootfs() {
    let rootfs = testkit::rootfs();
    hardening::ten_at_once(STEP, &["--rootfs", rootfs.to_str().unwrap()])
}

// A careless or hostile world: fds and signal settings left by the caller, a file that is
// no program, Ctrl-C at a terminal.
#[test]
fn inherited_fds_closed() {
    attacks::inherited_fds_closed(STEP, &[])
}
#[test]
fn inherited_fds_closed_with_init() {
    attacks::inherited_fds_closed(STEP, &["--init"])
}
#[test]
fn pid_file() {
    attacks::pid_file(STEP)
}
#[test]
fn default_signals() {
    attacks::default_signals(STEP, &["--init"])
}
#[test]
fn exec_format_error() {
    attacks::exec_format_error(STEP)
}
#[test]
fn ctrl_c_arrives_once() {
    attacks::ctrl_c_arrives_once(STEP, &[])
}
#[test]
fn ctrl_c_arrives_once_with_init() {
    attacks::ctrl_c_arrives_once(STEP, &["--init"])
}

// A hostile root filesystem, run by root.
#[test]
fn rootfs_symlinks_refused() {
    attacks::rootfs_symlinks_refused(STEP)
}
#[test]
fn rootfs_host_files_read_only() {
    attacks::rootfs_host_files_read_only(STEP)
}
#[test]
fn rootfs_dot() {
    attacks::rootfs_dot(STEP)
}

// The parent killed before it wrote the ID maps.
#[test]
fn no_command_without_id_maps() {
    cgroup_time::then_remove_leftovers(STEP, attacks::no_command_without_id_maps)
}
