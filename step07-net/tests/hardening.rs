//! Hardening: what this step does when people press Ctrl-C, kill terminals, mistype commands
//! and run ten copies at once. The checks live in `testkit::hardening`; each test is one line.

use testkit::{attacks, checks, hardening, terminal, Step};

const STEP: Step = Step {
    bin: env!("CARGO_BIN_EXE_step07-net"),
    wrap: &["unshare", "--net"],
    as_nobody: false,
    needs_root: true,
};

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

// The parent dies, even by SIGKILL, even before its child called prctl.
#[test]
fn parent_killed_takes_everything() {
    hardening::parent_killed_takes_everything(STEP)
}
#[test]
fn parent_dies_before_pdeathsig() {
    hardening::parent_dies_before_pdeathsig(STEP)
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
    hardening::soak(STEP, 10)
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
    attacks::no_command_without_id_maps(STEP)
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
