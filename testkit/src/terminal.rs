//! The terminal: a step (or setns-enter) started at a terminal the test owns, a pseudo-terminal
//! that `scripts/pty-driver.py` opens and types into, as a user at a shell would. Called from
//! the steps' `tests/hardening.rs` and from `setns-enter/tests/terminal.rs`.
//!
//! What they check: the command cannot push keystrokes into the caller's terminal (TIOCSTI),
//! because it has a terminal of its own, with job control, Ctrl-C and Ctrl-Z, the caller's
//! size, and the caller's terminal modes are back as they were however the step ends.
//! Whatever regresses, the keystrokes a command injects only write into a test directory.

use crate::{fresh_dir, installed_or_skip, Step};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};

/// What the test's terminal showed, and what the driver saw.
#[derive(Debug)]
pub struct Screen {
    /// The terminal's device, as /proc/PID/stat's field 7 spells it.
    pub tty_nr: String,
    /// The terminal's device number, as stat(2)'s st_rdev.
    pub rdev: String,
    /// The terminal's modes (termios), by the name the script recorded them under.
    pub modes: BTreeMap<String, String>,
    /// How the command ended (128+N for signal N), if the script waited for it.
    pub status: Option<i32>,
    /// What went wrong in the driver (a timeout), if anything.
    pub error: Option<String>,
    /// Everything the terminal showed.
    pub output: String,
}

impl Screen {
    /// Fail, showing the screen, if the driver failed.
    #[track_caller]
    pub fn assert_ok(&self) -> &Screen {
        assert!(self.error.is_none(), "the terminal script failed: {self:#?}");
        self
    }
}

/// Run `argv` on a new terminal of the test's, playing `actions` (see the driver's header).
pub fn drive(actions: &[&str], argv: &[String], env: &[(&str, &str)]) -> Screen {
    let driver = include_str!("../scripts/pty-driver.py");
    let out = Command::new("python3")
        .args(["-c", driver, &actions.join("\n")])
        .args(argv)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs the terminal driver");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (report, output) =
        text.split_once("OUTPUT\n").unwrap_or_else(|| panic!("the driver failed: {out:#?}"));
    let mut screen = Screen {
        tty_nr: String::new(),
        rdev: String::new(),
        modes: BTreeMap::new(),
        status: None,
        error: None,
        output: output.into(),
    };
    for line in report.lines() {
        let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "TTYNR" => screen.tty_nr = rest.into(),
            "RDEV" => screen.rdev = rest.into(),
            "STATUS" => screen.status = rest.parse().ok(),
            "ERROR" => screen.error = Some(rest.into()),
            "MODES" => {
                let (name, modes) = rest.split_once(' ').unwrap_or((rest, ""));
                screen.modes.insert(name.into(), modes.into());
            }
            _ => {}
        }
    }
    screen
}

/// Whether a terminal test may run here: the step may, and python3 drives the terminal.
fn may_run(step: &Step) -> bool {
    step.may_run() && installed_or_skip(&["python3"])
}

/// Python, run inside, that pushes `echo pwned > $MARK` and a newline into its stdin's terminal
/// with TIOCSTI, one character at a time, and says whether the kernel let it.
pub const INJECT: &str = r#"
import fcntl, termios
try:
    for c in "echo pwned > $MARK\n":
        fcntl.ioctl(0, termios.TIOCSTI, c.encode())
    print("INJECTED")
except OSError as e:
    print("TIOCSTI refused:", e)
"#;

/// The TIOCSTI attack: the command pushes a command line into its terminal, and after the step
/// ends, the test's own shell reads from that terminal. The line must have gone to the
/// command's own terminal, so the shell never runs it: the mark file stays absent.
pub fn keystrokes_stay_inside(argv: &[String]) {
    let dir = fresh_dir("tiocsti");
    let mark = dir.join("mark");
    let mut shell = ["sh", "-c", "\"$@\"; PS1='$ ' exec sh", "sh"].map(String::from).to_vec();
    shell.extend(argv.iter().cloned());
    shell.extend(["python3", "-c", INJECT].map(String::from));
    let screen = drive(
        &[
            "start",
            "expect INJECTED|TIOCSTI refused",
            "expect \\$ ",
            "send echo shell-$((20+22))\\n",
            "expect shell-42",
            "send exit\\n",
            "wait",
        ],
        &shell,
        &[("MARK", mark.to_str().unwrap())],
    );
    screen.assert_ok();
    if screen.output.contains("TIOCSTI refused") {
        // dev.tty.legacy_tiocsti=0 (Linux 6.2 on): the kernel refuses TIOCSTI to all but
        // CAP_SYS_ADMIN; the attack cannot be replayed, but the command's terminal is still checked.
        eprintln!("note: this kernel refuses TIOCSTI (dev.tty.legacy_tiocsti=0); checking the terminal only");
    }
    assert!(!mark.exists(), "keystrokes the command pushed ran in the caller's shell\n{}", screen.output);
    assert!(!screen.output.contains("not a tty"), "{}", screen.output);
}

/// The step's command gets a terminal of its own: not the test's, which it would otherwise
/// share (what /dev/tty opens is the terminal /proc/self/stat names), yet a terminal.
pub fn a_terminal_of_its_own(step: Step, args: &[&str]) {
    if !may_run(&step) {
        return;
    }
    let script = "test -t 0 && echo stdin-is-a-terminal; echo tty_nr=$(cut -d' ' -f7 /proc/self/stat); \
                  test -t 0 && (exec 3</dev/tty) && echo dev-tty-opens";
    let mut argv = step.argv(args);
    argv.extend(["sh", "-c", script].map(String::from));
    let screen = drive(&["start", "wait"], &argv, &[]);
    screen.assert_ok();
    assert!(screen.output.contains("stdin-is-a-terminal"), "{}", screen.output);
    assert!(screen.output.contains("dev-tty-opens"), "no controlling terminal inside\n{}", screen.output);
    let inside =
        screen.output.split("tty_nr=").nth(1).and_then(|s| s.split_whitespace().next()).unwrap_or("");
    assert_ne!(inside, screen.tty_nr, "the command's terminal is the caller's\n{}", screen.output);
    assert_eq!(screen.status, Some(0), "{}", screen.output);
}

/// [`keystrokes_stay_inside`] for a step.
pub fn tiocsti_stays_inside(step: Step, args: &[&str]) {
    if may_run(&step) {
        keystrokes_stay_inside(&step.argv(args));
    }
}

/// An interactive bash in the container has job control: `jobs`, Ctrl-C ends the foreground
/// job only, Ctrl-Z stops it, `fg` brings it back, and the shell's exit status is the step's.
pub fn job_control(step: Step, args: &[&str]) {
    if !may_run(&step) || !installed_or_skip(&["bash"]) {
        return;
    }
    let mut argv = step.argv(args);
    argv.extend(["env", "PS1=PROMPT> ", "bash", "--norc", "--noprofile"].map(String::from));
    let screen = drive(
        &[
            "start",
            "expect PROMPT> ",
            "send sleep 30 && echo not-interrupted-$((6*7))\\n",
            "pause 0.5",
            "send \\x03",
            "expect PROMPT> ",
            "send echo status=$?\\n",
            "expect status=130",
            "send sleep 31\\n",
            "pause 0.5",
            "send \\x1a",
            "expect Stopped",
            "send jobs\\n",
            "expect Stopped +sleep 31",
            "send fg\\n",
            "expect sleep 31",
            "pause 0.5",
            "send \\x03",
            "expect PROMPT> ",
            "send exit 3\\n",
            "wait",
        ],
        &argv,
        &[],
    );
    screen.assert_ok();
    assert!(!screen.output.contains("no job control"), "{}", screen.output);
    assert!(!screen.output.contains("not-interrupted-42"), "{}", screen.output);
    assert_eq!(screen.status, Some(3), "{}", screen.output);
}

/// The caller's terminal modes (`stty -g`) are put back after the step ends: when the command
/// exits, when the step gets SIGTERM, when the command is killed. And while it runs, they are
/// raw: keystrokes go to the command's terminal as they are.
pub fn modes_restored(step: Step, args: &[&str]) {
    if !may_run(&step) {
        return;
    }
    let ends: [(&str, &[&str]); 3] = [
        ("exits", &["send x\\n"]),
        ("gets SIGTERM", &["kill 15"]),
        ("has its command killed", &["killchild 9"]),
    ];
    // A PID 1 ignores SIGTERM: the step's SIGKILL follows after --stop-timeout.
    let args: Vec<&str> = ["--stop-timeout", "1"].into_iter().chain(args.iter().copied()).collect();
    for (how, end) in ends {
        let mut argv = step.argv(&args);
        argv.extend(["sh", "-c", "echo ready; read _; exit 0"].map(String::from));
        let mut actions = vec!["modes before", "start", "expect ready", "pause 0.2", "modes during"];
        actions.extend(end);
        actions.extend(["wait", "modes after"]);
        let screen = drive(&actions, &argv, &[]);
        screen.assert_ok();
        assert_ne!(screen.modes["before"], screen.modes["during"], "not raw while it runs: {screen:#?}");
        assert_eq!(screen.modes["before"], screen.modes["after"], "when the step {how}: {screen:#?}");
    }
}

/// The command's terminal is as large as the caller's, and follows it when it changes.
pub fn window_size(step: Step, args: &[&str]) {
    if !may_run(&step) {
        return;
    }
    let mut argv = step.argv(args);
    argv.extend(["sh", "-c", "stty size; echo ready; read _; stty size"].map(String::from));
    let screen = drive(
        &["winsize 33 77", "start", "expect ready", "winsize 44 99", "pause 0.3", "send x\\n", "wait"],
        &argv,
        &[],
    );
    screen.assert_ok();
    let sizes: Vec<&str> =
        screen.output.lines().map(str::trim).filter(|l| l.ends_with(" 77") || l.ends_with(" 99")).collect();
    assert_eq!(sizes, ["33 77", "44 99"], "{}", screen.output);
}

/// At a terminal, the step's exit status is still the command's (128+N for a signal).
pub fn exit_statuses_at_terminal(step: Step, args: &[&str]) {
    if !may_run(&step) {
        return;
    }
    let cases: [(&str, &[&str], i32); 3] = [
        ("exit 7", &[], 7),
        ("exec /no-such-dir/no-such-command", &[], 127),
        ("echo ready; sleep 30", &["expect ready", "killchild 9"], 137),
    ];
    for (script, actions, status) in cases {
        let mut argv = step.argv(args);
        argv.extend(["sh", "-c", script].map(String::from));
        let actions: Vec<&str> = ["start"].iter().chain(actions).chain(&["wait"]).copied().collect();
        let screen = drive(&actions, &argv, &[]);
        screen.assert_ok();
        assert_eq!(screen.status, Some(status), "{script}: {}", screen.output);
    }
}

/// Without a terminal of its own (stdin not a terminal) but started at one, Ctrl-C reaches the
/// command once: the command is in a session of its own, so the terminal signals only the step,
/// which forwards it.
pub fn ctrl_c_once_without_pty(step: Step, args: &[&str]) {
    if !may_run(&step) {
        return;
    }
    let mut argv = ["sh", "-c", "exec \"$@\" </dev/null", "sh"].map(String::from).to_vec();
    argv.extend(step.argv(args));
    argv.extend(["sh", "-c", "trap 'echo got-INT' INT; echo ready; sleep 2; echo after"].map(String::from));
    let screen = drive(&["start", "expect ready", "pause 0.3", "send \\x03", "wait"], &argv, &[]);
    screen.assert_ok();
    assert_eq!(screen.output.matches("got-INT").count(), 1, "{}", screen.output);
}

/// The caller's session keyring is not the command's: a key added to it (in a session keyring
/// made for this test, `keyctl session -`) is not found inside. `prefix` runs the step, or
/// setns-enter, with the command after it. keyrings(7).
pub fn keys_stay_outside(prefix: &[String]) {
    if !installed_or_skip(&["keyctl"]) {
        return;
    }
    let script = "keyctl add user namespaces-test-key secret @s >/dev/null && exec \"$@\"";
    let mut argv = ["keyctl", "session", "-", "sh", "-c", script, "sh"].map(String::from).to_vec();
    argv.extend(prefix.iter().cloned());
    argv.extend(
        ["sh", "-c", "keyctl search @s user namespaces-test-key && echo found || echo not-found"]
            .map(String::from),
    );
    let out = crate::run(&argv);
    assert!(out.stdout.contains("not-found"), "the caller's session keyring reached the command: {out:#?}");
}

/// [`keys_stay_outside`] for a step.
pub fn new_session_keyring(step: Step, args: &[&str]) {
    if step.may_run() {
        keys_stay_outside(&step.argv(args));
    }
}

/// Started in the background at a terminal (`step &` at an interactive shell), the step neither
/// stops (as it would to put the terminal in raw mode) nor lets its command read what is typed
/// for the shell: the command's stdin is /dev/null, and the job runs to its end.
pub fn in_the_background(step: Step, args: &[&str]) {
    if !may_run(&step) || !installed_or_skip(&["bash"]) {
        return;
    }
    let quoted: Vec<String> =
        step.argv(args).iter().map(|a| format!("'{}'", a.replace('\'', "'\\''"))).collect();
    let job =
        format!("{} sh -c 'test -t 0 || echo not-a-terminal; read x; echo read=$x.' &", quoted.join(" "));
    let screen = drive(
        &[
            "start",
            "expect PROMPT> ",
            &format!("send {job}\\n"),
            "expect PROMPT> ",
            "send wait; echo waited=$?\\n",
            "expect waited=",
            "send exit\\n",
            "wait",
        ],
        &["env", "PS1=PROMPT> ", "bash", "--norc", "--noprofile"].map(String::from),
        &[],
    );
    screen.assert_ok();
    assert!(screen.output.contains("not-a-terminal"), "{}", screen.output);
    assert!(screen.output.contains("read=."), "{}", screen.output);
    assert!(!screen.output.contains("Stopped"), "{}", screen.output);
}

/// Keystrokes the command never reads fill its terminal; the step drops the rest, as a
/// terminal does, and goes on waiting and relaying instead of blocking: the command's end is
/// still seen, and the step ends with it.
pub fn unread_input_never_hangs(step: Step, args: &[&str]) {
    if !may_run(&step) {
        return;
    }
    let mut argv = step.argv(args);
    argv.extend(["sh", "-c", "echo ready; sleep 2"].map(String::from));
    let screen = drive(&["start", "expect ready", "flood 300000", "wait"], &argv, &[]);
    screen.assert_ok();
    assert_eq!(screen.status, Some(0), "{}", screen.output);
}

/// Started at a terminal with stdin redirected, the command still never holds the caller's
/// terminal: on fds 1 and 2 it gets a pseudo-terminal the step copies out of, so it cannot read
/// what is typed at the caller's, nor write to it after the step ends.
pub fn output_terminal_is_not_the_callers(step: Step, args: &[&str]) {
    if !may_run(&step) {
        return;
    }
    let mut argv = ["sh", "-c", "exec \"$@\" </dev/null", "sh"].map(String::from).to_vec();
    argv.extend(step.argv(args));
    let show = "import os; print('FD1=%d FD2=%d' % (os.fstat(1).st_rdev, os.fstat(2).st_rdev))";
    argv.extend(["python3", "-c", show].map(String::from));
    let screen = drive(&["start", "wait"], &argv, &[]);
    screen.assert_ok();
    let line = screen.output.lines().find(|l| l.starts_with("FD1=")).unwrap_or_default();
    assert!(!line.is_empty(), "{}", screen.output);
    for fd in ["FD1", "FD2"] {
        assert!(
            !line.contains(&format!("{fd}={} ", screen.rdev))
                && !line.ends_with(&format!("{fd}={}", screen.rdev)),
            "{fd} is the caller's terminal\n{}",
            screen.output
        );
    }
    assert_eq!(screen.status, Some(0), "{}", screen.output);
}

/// Ctrl-C typed at the terminal ends a command that does not handle SIGINT: before step04 the
/// signal kills it (130); from step04 on it is a PID 1, which the kernel spares, so the step
/// sends SIGKILL after --stop-timeout (137), as it does for a signal it forwards.
pub fn ctrl_c_ends_what_ignores_it(step: Step, args: &[&str]) {
    if !may_run(&step) {
        return;
    }
    let args: Vec<&str> = ["--stop-timeout", "1"].into_iter().chain(args.iter().copied()).collect();
    let mut argv = step.argv(&args);
    argv.extend(["sh", "-c", "echo ready; exec sleep 30"].map(String::from));
    let screen = drive(&["start", "expect ready", "pause 0.3", "send \\x03", "wait"], &argv, &[]);
    screen.assert_ok();
    assert!(matches!(screen.status, Some(130 | 137)), "{}", screen.output);
}
