//! Hardening: what this step does when people press Ctrl-C, kill terminals, mistype commands
//! and run ten copies at once. Each test is one line: a check of testkit's, in the file of the
//! lesson that brought it (`testkit::clone_signals`, `testkit::pid`, `testkit::mount`...).

use testkit::{clone, clone_caller, clone_signals, mount, pid, root_started, terminal, user, Step};

const STEP: Step = Step::nobody(env!("CARGO_BIN_EXE_step06-user"));

// Signals: forwarded to the command; SIGKILL when PID 1 ignores them.
#[test]
fn forwards_each_signal() {
    clone_signals::forwards_each_signal(STEP)
}
#[test]
fn pid1_ignores_sigterm_so_sigkill() {
    pid::pid1_ignores_sigterm_so_sigkill(STEP)
}
#[test]
fn init_forwards_sigterm() {
    pid::init_forwards_sigterm(STEP)
}

// The parent dies, even by SIGKILL, even before its child called prctl.
#[test]
fn parent_killed_takes_everything() {
    pid::parent_killed_takes_everything(STEP)
}
#[test]
fn parent_dies_before_pdeathsig() {
    clone_signals::parent_dies_before_pdeathsig(STEP)
}

// --init: a PID 1 that reaps orphans and forwards signals.
#[test]
fn init_reaps_orphans() {
    pid::init_reaps_orphans(STEP)
}
#[test]
fn init_exit_statuses() {
    pid::init_exit_statuses(STEP)
}

// Leaks: file descriptors, and what many runs leave on the host.
#[test]
fn only_standard_fds() {
    clone_caller::only_standard_fds(STEP)
}
#[test]
fn directory_on_stdio_refused() {
    clone_caller::directory_on_stdio_refused(STEP)
}
#[test]
fn only_standard_fds_with_init() {
    pid::only_standard_fds_with_init(STEP)
}
#[test]
fn soak() {
    clone_caller::soak(STEP, 10)
}

// Bad input and bad environments (the rest are in the step's own tests).
#[test]
fn bad_option_values() {
    clone::bad_option_values(STEP)
}
#[test]
fn without_proc_says_so() {
    user::without_proc_says_so(STEP)
}
#[test]
fn foreign_proc_says_so() {
    user::foreign_proc_says_so(STEP)
}
#[test]
fn init_out_of_reach() {
    user::init_out_of_reach(STEP)
}

// Concurrency.
#[test]
fn ten_at_once() {
    clone::ten_at_once(STEP, &[])
}
#[test]
fn ten_at_once_with_rootfs() {
    let rootfs = testkit::rootfs();
    clone::ten_at_once(STEP, &["--rootfs", rootfs.to_str().unwrap()])
}

// A careless or hostile world: fds and signal settings left by the caller, a file that is
// no program, Ctrl-C at a terminal.
#[test]
fn inherited_fds_closed() {
    clone_caller::inherited_fds_closed(STEP, &[])
}
#[test]
fn inherited_fds_closed_with_init() {
    clone_caller::inherited_fds_closed(STEP, &["--init"])
}
#[test]
fn pid_file() {
    clone_caller::pid_file(STEP)
}
#[test]
fn default_signals() {
    clone_caller::default_signals(STEP, &["--init"])
}
#[test]
fn exec_format_error() {
    clone_caller::exec_format_error(STEP)
}
#[test]
fn ctrl_c_arrives_once() {
    clone_signals::ctrl_c_arrives_once(STEP, &[])
}
#[test]
fn ctrl_c_arrives_once_with_init() {
    clone_signals::ctrl_c_arrives_once(STEP, &["--init"])
}

// A hostile root filesystem, run by root.
#[test]
fn rootfs_symlinks_refused() {
    mount::rootfs_symlinks_refused(STEP)
}
#[test]
fn rootfs_host_files_read_only() {
    mount::rootfs_host_files_read_only(STEP)
}
#[test]
fn rootfs_dot() {
    mount::rootfs_dot(STEP)
}

// The parent killed before it wrote the ID maps.
#[test]
fn no_command_without_id_maps() {
    user::no_command_without_id_maps(STEP)
}

// Run by root: the container's root is never the host's, and what it could do as the host's
// root fails.
#[test]
fn root_started_maps_sudo_user() {
    root_started::maps_sudo_user(STEP)
}
#[test]
fn root_started_maps_root_subuid_range() {
    root_started::maps_root_subuid_range(STEP)
}
#[test]
fn root_started_maps_nobody_otherwise() {
    root_started::maps_nobody_otherwise(STEP)
}
#[test]
fn root_started_nested_root_of_root_refused() {
    root_started::nested_root_of_root_refused(STEP)
}
#[test]
fn root_started_refuses_hostile_sudo_ids() {
    root_started::refuses_hostile_sudo_ids(STEP)
}
#[test]
fn root_started_host_out_of_reach() {
    root_started::host_out_of_reach(STEP, &[])
}
#[test]
fn root_started_rootfs_attacks_fail() {
    root_started::rootfs_attacks_fail(STEP, &[])
}

// At a terminal: the command gets one of its own, so it cannot type into the caller's (TIOCSTI);
// job control, window size, exit statuses, and the caller's terminal modes restored.
#[test]
fn tiocsti_stays_inside() {
    terminal::tiocsti_stays_inside(STEP, &[])
}
#[test]
fn a_terminal_of_its_own() {
    terminal::a_terminal_of_its_own(STEP, &[])
}
#[test]
fn job_control_at_a_terminal() {
    terminal::job_control(STEP, &[])
}
#[test]
fn terminal_modes_restored() {
    terminal::modes_restored(STEP, &[])
}
#[test]
fn window_size_passes_through() {
    terminal::window_size(STEP, &[])
}
#[test]
fn exit_statuses_at_a_terminal() {
    terminal::exit_statuses_at_terminal(STEP, &[])
}
#[test]
fn ctrl_c_once_without_a_terminal_of_its_own() {
    terminal::ctrl_c_once_without_pty(STEP, &[])
}
#[test]
fn new_session_keyring() {
    terminal::new_session_keyring(STEP, &[])
}
#[test]
fn in_the_background_at_a_terminal() {
    terminal::in_the_background(STEP, &[])
}
#[test]
fn unread_input_never_hangs() {
    terminal::unread_input_never_hangs(STEP, &[])
}
#[test]
fn output_terminal_is_not_the_callers() {
    terminal::output_terminal_is_not_the_callers(STEP, &[])
}
#[test]
fn ctrl_c_ends_what_ignores_it() {
    terminal::ctrl_c_ends_what_ignores_it(STEP, &[])
}
#[test]
fn job_control_at_a_terminal_with_init() {
    terminal::job_control(STEP, &["--init"])
}
#[test]
fn exit_statuses_at_a_terminal_with_init() {
    terminal::exit_statuses_at_terminal(STEP, &["--init"])
}
