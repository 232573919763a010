//! Checks that a step behaves like a trusted tool (util-linux `unshare`, `docker run`) when
//! people press Ctrl-C, kill terminals, mistype commands and run ten copies at once: the right
//! exit status, one clear line, and nothing left behind.
//!
//! Every wait here is for an event, bounded so that a broken step fails instead of hanging;
//! no check asserts how long anything took.

use crate::checks::one_error_line;
use crate::wording as says;
use crate::{children, installed_or_skip, root_or_skip, run, Out, Running, Step};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a check waits for an event before it fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// Poll `done` until it is true or [`PATIENCE`] runs out; returns whether it became true.
fn wait_until(mut done: impl FnMut() -> bool) -> bool {
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
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// The command name of a process, from /proc/PID/comm (empty if it is gone).
fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_string()
}

/// Still running: it exists and is not a zombie.
fn is_running(pid: u32) -> bool {
    !matches!(state(pid), None | Some('Z'))
}

fn signal(pid: u32, sig: Signal) {
    kill(Pid::from_raw(pid as i32), sig).unwrap_or_else(|e| panic!("kill({pid}, {sig}): {e}"));
}

/// Start the step with `args`, then `sh -c script`; the script must print `ready` first.
///
/// A shell that starts a job in the background without job control sets SIGINT and SIGQUIT to
/// "ignore" for it, and a shell cannot trap a signal it was started ignoring. A terminal starts
/// the step with every signal at its default, and so do we, however the tests were started.
fn start(step: Step, args: &[&str], script: &str) -> Running {
    let mut all = args.to_vec();
    all.extend(["sh", "-c", script]);
    let mut argv: Vec<String> = vec!["env".into(), "--default-signal=INT,QUIT".into()];
    argv.extend(step.argv(&all));
    Running::start(&argv)
}

/// Wait for the step to end, but SIGKILL it if it has not ended after a minute, so that a step
/// that never ends fails the check instead of hanging the test run.
fn wait_or_kill(running: Running) -> Out {
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

// --- Signals --------------------------------------------------------------------------------

/// SIGINT, SIGHUP, SIGQUIT and SIGTERM sent to the step reach the command, which handles them.
pub fn forwards_each_signal(step: Step) {
    if !step.may_run() {
        return;
    }
    let script = include_str!("../scripts/trap-each-signal.sh");
    for sig in [Signal::SIGINT, Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGTERM] {
        let running = start(step, &[], script);
        signal(running.pid(), sig);
        let out = wait_or_kill(running);
        out.assert_status(42);
        let name = sig.as_str().trim_start_matches("SIG");
        assert_eq!(out.stdout, format!("got {name}\n"), "{out:#?}");
        assert!(out.stderr.contains(&says::forwarding(sig)), "{out:#?}");
    }
}

/// Steps 01-03: a `sleep` is an ordinary process, and SIGTERM forwarded to it ends it: 143.
pub fn sigterm_ends_command(step: Step) {
    if !step.may_run() {
        return;
    }
    let running = start(step, &[], "echo ready; exec sleep 60");
    signal(running.pid(), Signal::SIGTERM);
    let out = wait_or_kill(running);
    out.assert_status(128 + 15);
    assert!(out.stderr.contains(&says::killed_by("SIGTERM")), "{out:#?}");
    assert!(!out.stderr.contains(says::SENDING_SIGKILL), "{out:#?}");
}

/// Step 04 on: `sleep` as PID 1 has no handler, so the kernel drops SIGTERM; after
/// `--stop-timeout` the step sends SIGKILL and says so: 137.
pub fn pid1_ignores_sigterm_so_sigkill(step: Step) {
    if !step.may_run() {
        return;
    }
    let running = start(step, &["--stop-timeout", "0.5"], "echo ready; exec sleep 60");
    signal(running.pid(), Signal::SIGTERM);
    let out = wait_or_kill(running);
    out.assert_status(128 + 9);
    assert!(out.stderr.contains(&says::forwarding("SIGTERM")), "{out:#?}");
    assert!(out.stderr.contains(&says::still_running_after(500)), "{out:#?}");
    assert!(out.stderr.contains(&says::killed_by("SIGKILL")), "{out:#?}");
}

/// Step 04 on, with `--init`: the command is PID 2, so SIGTERM ends it at once, and the step
/// ends with 143, before the stop timeout (10 s by default) would send SIGKILL.
pub fn init_forwards_sigterm(step: Step) {
    if !step.may_run() {
        return;
    }
    let running = start(step, &["--init"], "echo ready; exec sleep 60");
    signal(running.pid(), Signal::SIGTERM);
    let out = wait_or_kill(running);
    out.assert_status(128 + 15);
    assert!(out.stderr.contains(&says::init_forwarding("SIGTERM", "sh", 2)), "{out:#?}");
    assert!(!out.stderr.contains(says::SENDING_SIGKILL), "{out:#?}");
}

// --- Parent death ---------------------------------------------------------------------------

/// Start the step with a command that leaves a `sleep` running in the background, SIGKILL the
/// step, and wait until the container's own process is gone. Returns the sleep's PID.
fn kill_parent_of_container_with_orphan(step: Step, args: &[&str]) -> u32 {
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

/// The parent is SIGKILLed: its child dies with it (PR_SET_PDEATHSIG), and so, from step04 on,
/// does every process of the container, because the kernel kills a PID namespace's processes
/// when its PID 1 dies.
pub fn parent_killed_takes_everything(step: Step) {
    if !step.may_run() {
        return;
    }
    let sleep = kill_parent_of_container_with_orphan(step, &[]);
    assert!(
        wait_until(|| !is_running(sleep)),
        "the container's background sleep (PID {sleep}) outlived its PID 1"
    );
}

/// Steps 01-03 have no PID namespace: when the parent is SIGKILLed its child dies
/// (PR_SET_PDEATHSIG), but a process the command left in the background lives on, re-parented
/// to the host's init. This is the lesson of step04, where killing PID 1 kills them all.
pub fn parent_killed_leaves_orphans(step: Step) {
    if !step.may_run() {
        return;
    }
    let sleep = kill_parent_of_container_with_orphan(step, &[]);
    let outlived = is_running(sleep);
    let _ = kill(Pid::from_raw(sleep as i32), Signal::SIGKILL); // ours to clean up, by its PID
    assert!(outlived, "without a PID namespace, the background sleep should outlive the container");
}

/// The parent dies before the child has called prctl(PR_SET_PDEATHSIG): the child must notice
/// (the parent-alive pipe is at end-of-file) and end, instead of running the command forever.
/// `strace` delays the child's prctl by a second and a half, so the parent's death comes first.
pub fn parent_dies_before_pdeathsig(step: Step) {
    if !step.may_run() {
        return;
    }
    if !root_or_skip("strace attaches to the step, which needs ptrace rights")
        || !installed_or_skip(&["strace"])
    {
        return;
    }
    let mut argv: Vec<String> = [
        "strace",
        "-f",
        "-qq",
        "-o",
        "/dev/null",
        "-e",
        "trace=prctl",
        "-e",
        "inject=prctl:delay_enter=1500000",
    ]
    .map(String::from)
    .to_vec();
    argv.extend(step.argv(&["-q", "sleep", "60"]));
    let mut strace = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("could not start strace");
    // The step is strace's child (after any wrappers exec'd), and the container the step's child.
    let mut step_pid = 0;
    let mut container = 0;
    let found = wait_until(|| {
        step_pid = children(strace.id()).first().copied().unwrap_or(0);
        container = children(step_pid).first().copied().unwrap_or(0);
        container != 0
    });
    assert!(found, "the step never started its container under strace");
    crate::note_started(step_pid);
    signal(step_pid, Signal::SIGKILL);
    let survived = !wait_until(|| !is_running(container));
    if survived {
        let _ = kill(Pid::from_raw(container as i32), Signal::SIGKILL);
    }
    let _ = strace.wait();
    assert!(
        !survived,
        "the container (PID {container}, {}) outlived its parent, which died before prctl()",
        comm(container)
    );
}

// --- PID 1's duties: --init -----------------------------------------------------------------

/// A command that leaves an orphan behind: without `--init`, the orphan ends as a zombie that
/// nobody reaps (PID 1 is `cat`, which never calls wait); with `--init`, init reaps it.
pub fn init_reaps_orphans(step: Step) {
    if !step.may_run() {
        return;
    }
    // The inner sh starts a `sleep 1` and exits at once, so the sleep is re-parented to PID 1.
    let script = "sh -c 'sleep 1 &'; echo ready; exec cat";
    let orphans = |pid1: u32| -> Vec<(u32, char)> {
        children(pid1)
            .into_iter()
            .filter(|&p| comm(p) == "sleep")
            .filter_map(|p| Some((p, state(p)?)))
            .collect()
    };

    let without = start(step, &["-q"], script);
    let pid1 = without.container;
    assert!(
        wait_until(|| orphans(pid1).iter().any(|&(_, s)| s == 'Z')),
        "without --init, the orphan should end as a zombie under PID 1: {:?}",
        orphans(pid1)
    );
    without.finish().assert_status(0);

    let with = start(step, &["-q", "--init"], script);
    let pid1 = with.container;
    // (Once it has exec'd sleep: until then it is a copy of sh.)
    assert!(wait_until(|| !orphans(pid1).is_empty()), "the orphan should be re-parented to init");
    assert!(
        wait_until(|| orphans(pid1).is_empty()),
        "with --init, the orphan should be reaped: {:?}",
        orphans(pid1)
    );
    let out = with.finish();
    out.assert_status(0);
}

/// With `--init` too, the command (init's child) sees only fds 0, 1 and 2.
pub fn only_standard_fds_with_init(step: Step) {
    if !step.may_run() {
        return;
    }
    let running = step.start_with_standard_fds_only(&["-q", "--init"]);
    let command = children(running.container);
    assert_eq!(command.len(), 1, "init should have one child, the command");
    let mut fds: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", command[0]))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    fds.sort();
    assert_eq!(fds, ["0", "1", "2"], "the command's open fds under --init");
    running.finish().assert_status(0);
}

/// `--init` passes the command's exit status through: its own, 127 if not found.
pub fn init_exit_statuses(step: Step) {
    if !step.may_run() {
        return;
    }
    step.run(&["-q", "--init", "sh", "-c", "exit 7"]).assert_status(7);
    let out = step.run(&["--init", "no-such-command-anywhere"]);
    out.assert_status(127);
    assert!(one_error_line(&out).contains(&says::command_not_found("no-such-command-anywhere")), "{out:#?}");
    let out = step.run(&["-q", "--init", "sh", "-c", "kill -TERM $$"]);
    out.assert_status(128 + 15);
}

// --- Bad input and bad environments ---------------------------------------------------------

/// Bad option values: one line naming the option, 125, and nothing started.
pub fn bad_option_values(step: Step) {
    for (args, error) in says::BAD_OPTION_VALUES {
        let out = step.run(args);
        out.assert_status(125);
        let line = one_error_line(&out);
        assert!(line.contains(error), "{args:?}: {line}");
        assert!(line.contains(says::SEE_HELP), "should point to --help: {line}");
        assert_eq!(out.stdout, "");
        assert!(!out.stderr.contains(says::STARTED_CONTAINER), "{out:#?}");
    }
}

/// With no /proc mounted (inside a throwaway `unshare --mount`), the step still runs.
pub fn works_without_proc(step: Step) {
    if !step.may_run() || !root_or_skip("unshare --mount needs root") || !installed_or_skip(&["unshare"]) {
        return;
    }
    let mut argv: Vec<String> =
        ["unshare", "--mount", "sh", "-c", "umount -l /proc && exec \"$@\"", "sh"].map(String::from).to_vec();
    argv.extend(step.argv(&["sh", "-c", "echo ok"]));
    let out = run(&argv);
    out.assert_status(0);
    assert_eq!(out.stdout, "ok\n");
    assert!(out.errors().is_empty(), "{out:#?}");
}

/// From step06 on, the parent writes the child's ID maps under /proc/PID: with no /proc it
/// says so in one line, 125, and leaves no process behind.
pub fn without_proc_says_so(step: Step) {
    if !step.may_run()
        || !root_or_skip("unshare --mount needs root")
        || !installed_or_skip(&["unshare", "ps"])
    {
        return;
    }
    let script = include_str!("../scripts/without-proc.sh");
    let mut argv: Vec<String> =
        ["unshare", "--mount", "--pid", "--fork", "sh", "-c", script, "sh"].map(String::from).to_vec();
    argv.extend(step.argv(&["sh", "-c", "echo should-not-run"]));
    let out = run(&argv);
    out.assert_status(0);
    assert_eq!(out.stdout, "status 125\n0\n", "125, and no zombie left\n{out:#?}");
    let line = one_error_line(&out);
    let [missing, fix] = says::NO_PROC;
    assert!(line.contains(missing) && line.contains(fix), "{line}");
}

// --- Concurrency ----------------------------------------------------------------------------

/// Ten copies of the step at once all succeed, each with its own output.
pub fn ten_at_once(step: Step, args: &[&str]) {
    if !step.may_run() {
        return;
    }
    // Start them all first, then wait for each.
    let children: Vec<_> = (0..10)
        .map(|i| {
            let mut all = args.to_vec();
            let script = format!("echo copy {i}; hostname");
            all.extend(["-q", "sh", "-c"]);
            let mut argv = step.argv(&all);
            argv.push(script);
            Command::new(&argv[0])
                .args(&argv[1..])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "copy {i}: {:?}\n{stderr}", out.status);
        assert!(stdout.starts_with(&format!("copy {i}\n")), "copy {i}: {stdout}");
        assert_eq!(stderr, "", "copy {i}");
    }
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(), hostname);
}

// --- Soak -----------------------------------------------------------------------------------

/// `tools/soak N STEP`: N runs of the step in throwaway namespaces leave nothing behind in the
/// outer mount table, IPC objects, interfaces or process table, no zombies, and no cgroups
/// (the soak counts those its own runs made, in a cgroup of its own, and nobody else's).
pub fn soak(step: Step, runs: u32) {
    if !root_or_skip("tools/soak makes throwaway namespaces with unshare") || !installed_or_skip(&["unshare"])
    {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/soak");
    let out = run(&[script.to_str().unwrap(), &runs.to_string(), step.bin]);
    out.assert_status(0);
    let name = Path::new(step.bin).file_name().unwrap().to_string_lossy();
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with(name.as_ref()))
        .unwrap_or_else(|| panic!("no figures for {name}\n{out:#?}"));
    assert!(line.contains(&format!(" runs={runs} failed=0 ")), "{line}");
    assert!(line.ends_with(" residue=0"), "{line}");
}
