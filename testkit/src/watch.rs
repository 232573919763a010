//! Watching processes from outside, for the checks that signal a step, kill it, or wait for its
//! container to end: every wait is for an event, bounded so that a broken step fails instead of
//! hanging, and no check asserts how long anything took.
//!
//! Called by the checks of [`crate::clone_signals`] and [`crate::pid`].

use crate::step::{children, Out, Running, Step};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a check waits for an event before it fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Poll `done` until it is true or [`PATIENCE`] runs out; returns whether it became true.
pub fn wait_until(mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + PATIENCE;
    while Instant::now() < end {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

/// The state letter of a process (`R`, `S`, `Z`...) from /proc/PID/stat, or `None` if it is gone.
pub fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// The command name of a process, from /proc/PID/comm (empty if it is gone).
pub fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_string()
}

/// Still running: it exists and is not a zombie.
pub fn is_running(pid: u32) -> bool {
    !matches!(state(pid), None | Some('Z'))
}

/// A field of /proc/PID/status, e.g. `Uid:`, without its name.
pub fn status_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_default();
    line[field.len().min(line.len())..].trim().to_string()
}

pub fn signal(pid: u32, sig: Signal) {
    kill(Pid::from_raw(pid as i32), sig).unwrap_or_else(|e| panic!("kill({pid}, {sig}): {e}"));
}

/// Start the step with `args`, then `sh -c script`; the script must print `ready` first.
///
/// A shell that starts a job in the background without job control sets SIGINT and SIGQUIT to
/// "ignore" for it, and a shell cannot trap a signal it was started ignoring. A terminal starts
/// the step with every signal at its default, and so do we, however the tests were started.
pub fn start(step: Step, args: &[&str], script: &str) -> Running {
    let mut all = args.to_vec();
    all.extend(["sh", "-c", script]);
    let mut argv: Vec<String> = vec!["env".into(), "--default-signal=INT,QUIT".into()];
    argv.extend(step.argv(&all));
    Running::start(&argv)
}

/// Wait for the step to end, but SIGKILL it if it has not ended after a minute, so that a step
/// that never ends fails the check instead of hanging the test run.
pub fn wait_or_kill(running: Running) -> Out {
    let (done, cancelled) = mpsc::channel::<()>();
    let pid = running.pid();
    let dog = std::thread::spawn(move || {
        if cancelled.recv_timeout(Duration::from_secs(60)).is_err() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    });
    let out = running.wait();
    let _ = done.send(());
    dog.join().unwrap();
    out
}

/// Start the step with a command that leaves a `sleep` running in the background, SIGKILL the
/// step, and wait until the container's own process is gone. Returns the sleep's PID.
pub fn kill_parent_of_container_with_orphan(step: Step, args: &[&str]) -> u32 {
    // The sleep lets go of the step's stdout and stderr, or reading them would wait for it.
    let running = start(step, args, "sleep 60 >/dev/null 2>&1 & echo ready; read _");
    let container = running.container;
    // The background child is forked before `ready`, but may not have exec'd sleep yet.
    let mut sleep = None;
    wait_until(|| {
        sleep = children(container).into_iter().find(|&pid| comm(pid) == "sleep");
        sleep.is_some()
    });
    let sleep = sleep.unwrap_or_else(|| panic!("no sleep under the container PID {container}"));
    signal(running.pid(), Signal::SIGKILL);
    running.wait().assert_status(128 + 9);
    assert!(
        wait_until(|| !is_running(container)),
        "the container PID {container} outlived its parent: PR_SET_PDEATHSIG should have killed it"
    );
    sleep
}
