//! What the command that enters a container starts with: a terminal of its own (not the
//! caller's, into which it could push keystrokes with TIOCSTI), a minimal environment, and a
//! new session keyring. Root enters a container nobody started (step06), as in the attack.

use testkit::{run, terminal, Running, Step};

const ENTER: &str = env!("CARGO_BIN_EXE_setns-enter");

/// A user's container (step06, run by nobody), which root enters. Steps are this package's
/// siblings in the target directory, built by `cargo test --workspace`.
fn nobodys_container() -> Option<Running> {
    if !testkit::root_or_skip("root enters a user's container") {
        return None;
    }
    let exe = std::env::current_exe().unwrap();
    let bin = exe.ancestors().nth(2).unwrap().join("step06-user");
    assert!(bin.exists(), "{} is missing: run the tests with cargo test --workspace", bin.display());
    let step = Step::nobody(Box::leak(bin.display().to_string().into_boxed_str()));
    step.may_run().then(|| step.start(&["-q"]))
}

/// setns-enter, as a step for testkit's terminal checks: its arguments are `-q PID`.
const ENTER_STEP: Step = Step::root(ENTER);

#[test]
fn tiocsti_stays_inside() {
    let Some(container) = nobodys_container() else { return };
    let pid = container.container.to_string();
    terminal::tiocsti_stays_inside(ENTER_STEP, &["-q", &pid]);
    container.finish().assert_status(0);
}

#[test]
fn a_terminal_of_its_own() {
    let Some(container) = nobodys_container() else { return };
    let pid = container.container.to_string();
    terminal::a_terminal_of_its_own(ENTER_STEP, &["-q", &pid]);
    container.finish().assert_status(0);
}

#[test]
fn terminal_modes_restored() {
    let Some(container) = nobodys_container() else { return };
    let pid = container.container.to_string();
    terminal::modes_restored(ENTER_STEP, &["-q", &pid]);
    container.finish().assert_status(0);
}

/// Nothing of the caller's environment but PATH (the system's), TERM and HOME (the
/// container's root's): not a token the caller exported.
#[test]
fn minimal_environment() {
    let Some(container) = nobodys_container() else { return };
    let pid = container.container.to_string();
    let argv =
        ["env", "SECRET_TOKEN=hunter2", "TERM=xterm", "HOME=/home/root", "PATH=/root/bin:/usr/bin:/bin"];
    let mut argv: Vec<&str> = argv.to_vec();
    argv.extend([ENTER, "-q", &pid, "env"]);
    let out = run(&argv);
    out.assert_status(0);
    let mut lines: Vec<&str> = out.stdout.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        ["HOME=/root", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
        "{out:#?}"
    );
    container.finish().assert_status(0);
}

/// A key root added to its session keyring is not found from inside.
#[test]
fn new_session_keyring() {
    let Some(container) = nobodys_container() else { return };
    let pid = container.container.to_string();
    terminal::keys_stay_outside(&[ENTER.to_string(), "-q".into(), pid]);
    container.finish().assert_status(0);
}
