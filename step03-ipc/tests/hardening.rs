//! Hardening: what this step does when people press Ctrl-C, kill terminals, mistype commands
//! and run ten copies at once. Each test is one line: a check of testkit's, in the file of the
//! lesson that brought it (`testkit::clone_signals`, `testkit::pid`, `testkit::mount`...).

use testkit::{clone, clone_caller, clone_signals, mount, terminal, Step};

const STEP: Step = Step::root(env!("CARGO_BIN_EXE_step03-ipc"));

// Signals: forwarded to the command; SIGKILL when PID 1 ignores them.
#[test]
fn forwards_each_signal() {
    clone_signals::forwards_each_signal(STEP)
}
#[test]
fn sigterm_ends_command() {
    clone_signals::sigterm_ends_command(STEP)
}

// The parent dies, even by SIGKILL, even before its child called prctl.
#[test]
fn parent_killed_leaves_orphans() {
    clone_signals::parent_killed_leaves_orphans(STEP)
}
#[test]
fn parent_dies_before_pdeathsig() {
    clone_signals::parent_dies_before_pdeathsig(STEP)
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
fn soak() {
    clone_caller::soak(STEP, 10)
}

// Bad input and bad environments (the rest are in the step's own tests).
#[test]
fn bad_option_values() {
    clone::bad_option_values(STEP)
}
#[test]
fn works_without_proc() {
    mount::works_without_proc(STEP)
}

// Concurrency.
#[test]
fn ten_at_once() {
    clone::ten_at_once(STEP, &[])
}

// A careless or hostile world: fds and signal settings left by the caller, a file that is
// no program, Ctrl-C at a terminal.
#[test]
fn inherited_fds_closed() {
    clone_caller::inherited_fds_closed(STEP, &[])
}
#[test]
fn pid_file() {
    clone_caller::pid_file(STEP)
}
#[test]
fn default_signals() {
    clone_caller::default_signals(STEP, &[])
}
#[test]
fn exec_format_error() {
    clone_caller::exec_format_error(STEP)
}
#[test]
fn ctrl_c_arrives_once() {
    clone_signals::ctrl_c_arrives_once(STEP, &[])
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
