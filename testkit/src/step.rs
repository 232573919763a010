//! How a check runs a step's binary, and what it gets back: [`Step`] (the binary, and how the
//! tests run it), [`Out`] (what a finished step printed, and its status), [`Running`] (a step
//! whose command waits for its stdin to close), and the PIDs, namespaces and root filesystem a
//! check looks at.
//!
//! Called by every lesson's checks, and by the steps' and xtask's tests for checks of their own.

use crate::privilege::{
    installed_or_skip, is_real_root, is_root, nobody_with_path, reachable_by_nobody, root_or_skip, NOBODY,
    SYSTEM_PATH,
};
use crate::tmp::fresh_dir;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::OnceLock;

/// How to run one step's binary in a test.
#[derive(Clone, Copy)]
pub struct Step {
    /// `env!("CARGO_BIN_EXE_stepNN-x")`.
    pub bin: &'static str,
    /// Commands to run the step under when the tests run as root, e.g. `&["unshare", "--net"]`
    /// for step07: a throwaway network namespace for the bridge it makes. Only root may make
    /// one; run by an ordinary user, step07 changes no network, and runs without it.
    pub wrap: &'static [&'static str],
    /// Run the step as `nobody` (when the test runs as the machine's root, [`is_real_root`]):
    /// step06 onwards needs no root.
    pub as_nobody: bool,
    /// The step needs root (steps 02-05): without it, its tests are skipped, or fail under CI.
    pub needs_root: bool,
}

impl Step {
    /// A step any user can run.
    pub const fn new(bin: &'static str) -> Step {
        Step { bin, wrap: &[], as_nobody: false, needs_root: false }
    }

    /// A step that needs root (CAP_SYS_ADMIN).
    pub const fn root(bin: &'static str) -> Step {
        Step { bin, wrap: &[], as_nobody: false, needs_root: true }
    }

    /// A step that needs no privilege, run as nobody when the tests run as root (step06 on).
    pub const fn nobody(bin: &'static str) -> Step {
        Step { bin, wrap: &[], as_nobody: true, needs_root: false }
    }

    /// Whether a test of this step may run here: as root ([`root_or_skip`]), and with the
    /// programs it is run under installed ([`installed_or_skip`]).
    pub fn may_run(&self) -> bool {
        if self.needs_root && !root_or_skip("this step creates namespaces, which needs CAP_SYS_ADMIN") {
            return false;
        }
        let mut tools: Vec<&str> = self.wrap.iter().take(1).copied().collect();
        if self.wrap.contains(&"--net") {
            // A step that needs a throwaway network namespace is one that makes a network
            // (step07), and it makes its bridge and veth pair with `ip`.
            tools.push("ip");
        }
        if self.as_nobody && is_real_root() {
            tools.push("setpriv");
        }
        installed_or_skip(&tools)
    }

    /// The step, run by root: for a check of what a hostile root filesystem is meant to fool
    /// root into, not the user who owns it.
    pub fn as_root(self) -> Step {
        Step { as_nobody: false, needs_root: true, ..self }
    }

    /// For a check that ends before the step starts anything: as root, the step as it is
    /// (inside its throwaway namespaces); as an ordinary user, without its wrapper (`unshare
    /// --net` needs root), so that the check runs there too.
    pub fn before_start(self) -> Step {
        if is_root() {
            self
        } else {
            Step { wrap: &[], ..self }
        }
    }

    /// The full argv that runs the step with `args`.
    pub fn argv(&self, args: &[&str]) -> Vec<String> {
        let mut argv: Vec<String> = Vec::new();
        if is_root() {
            argv.extend(self.wrap.iter().map(|s| s.to_string()));
        }
        let mut bin = self.bin.to_string();
        if self.as_nobody && is_real_root() {
            argv.extend(NOBODY.iter().map(|s| s.to_string()));
            bin = reachable_by_nobody(self.bin).display().to_string();
        }
        argv.push(bin);
        argv.extend(args.iter().map(|s| s.to_string()));
        argv
    }

    /// Run the step with `args` (stdin empty) and collect what it printed.
    pub fn run(&self, args: &[&str]) -> Out {
        run(&self.argv(args))
    }

    /// Like [`Step::start`], with fds 0, 1 and 2 only, whatever this test process inherited:
    /// a bash closes the rest, then execs the step.
    pub fn start_with_standard_fds_only(&self, args: &[&str]) -> Running {
        let close_the_rest = include_str!("../scripts/close-fds-then-exec.sh");
        let mut argv: Vec<String> = ["bash", "-c", close_the_rest, "bash"].map(String::from).to_vec();
        argv.extend(self.argv(args));
        argv.extend(WAIT_FOR_STDIN.map(String::from));
        Running::start(&argv)
    }

    /// Start the step with a command that prints `ready` and then waits for stdin to close.
    pub fn start(&self, args: &[&str]) -> Running {
        let mut argv = self.argv(args);
        argv.extend(WAIT_FOR_STDIN.map(String::from));
        Running::start(&argv)
    }
}

/// A command that prints `ready`, then waits for its stdin to close, for [`Running::start`].
pub const WAIT_FOR_STDIN: [&str; 3] = ["sh", "-c", "echo ready; read _; exit 0"];

// --- What a step printed -------------------------------------------------------------------------

/// What a finished process printed, and how it ended.
#[derive(Debug)]
pub struct Out {
    /// The exit status, or 128+N if it was killed by signal N.
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Assert the exit status, showing everything the process printed if it is wrong.
    #[track_caller]
    pub fn assert_status(&self, status: i32) -> &Self {
        assert_eq!(self.status, status, "wrong exit status\n{self:#?}");
        self
    }

    /// The lines of stderr that are not narration (`[stepNN-x] ...`).
    pub fn errors(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| !l.starts_with('[')).collect()
    }
}

/// The one line of stderr that is not narration; fails unless there is exactly one.
#[track_caller]
pub fn one_error_line(out: &Out) -> &str {
    let errors = out.errors();
    assert_eq!(errors.len(), 1, "expected exactly one error line\n{out:#?}");
    errors[0]
}

fn status_of(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Run `argv` with empty stdin and collect what it printed.
pub fn run(argv: &[impl AsRef<str>]) -> Out {
    run_with_env(argv, &[])
}

/// Like [`run`], with these variables added to the environment.
pub fn run_with_env(argv: &[impl AsRef<str>], env: &[(&str, &str)]) -> Out {
    let argv: Vec<&str> = argv.iter().map(AsRef::as_ref).collect();
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("could not start {argv:?}: {e}"));
    Out::from(out)
}

impl From<std::process::Output> for Out {
    /// What a finished process printed, and its status (128+N if signal N killed it).
    fn from(out: std::process::Output) -> Out {
        Out {
            status: status_of(out.status),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Run a shell script; for looking at the host's state.
pub fn sh(script: &str) -> Out {
    run(&["sh", "-c", script])
}

/// Run as nobody (or as ourselves, if we are not root), with the system's PATH.
pub fn run_as_nobody(step: Step, args: &[&str]) -> Out {
    run_as_nobody_with_path(step, SYSTEM_PATH, args)
}

pub fn run_as_nobody_with_path(step: Step, path: &str, args: &[&str]) -> Out {
    let mut argv: Vec<String> = match is_real_root() {
        true => nobody_with_path(path),
        false => vec!["env".into(), format!("PATH={path}")],
    };
    argv.push(reachable_by_nobody(step.bin).display().to_string());
    argv.extend(args.iter().map(|s| s.to_string()));
    run(&argv)
}

// --- A running step ------------------------------------------------------------------------------

/// A step that is running a command which waits for its stdin to close.
pub struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// The PID of the process the step runs the command in, as the host sees it.
    pub container: u32,
}

impl Running {
    /// Start `argv`, whose command prints `ready` and then reads stdin.
    pub fn start(argv: &[String]) -> Running {
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {argv:?}: {e}"));
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        if line.trim() != "ready" {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("{argv:?} did not get ready: {line:?}\n{}", String::from_utf8_lossy(&out.stderr));
        }
        note_started(child.id());
        let stdin = child.stdin.take();
        // The step is the process we started, or the last process that a wrapper (unshare,
        // setpriv) exec'd into, so the container is the step's one child.
        let container = children(child.id())
            .first()
            .copied()
            .unwrap_or_else(|| panic!("{argv:?}: the step has no child process"));
        Running { child, stdin, stdout, container }
    }

    /// The step's own PID (the parent of the container).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Close the command's stdin, so it ends, and collect what the step printed.
    pub fn finish(mut self) -> Out {
        drop(self.stdin.take());
        self.wait()
    }

    /// Wait for the step to end without closing stdin.
    pub fn wait(mut self) -> Out {
        let status = self.child.wait().unwrap();
        let mut stderr = String::new();
        std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        let mut stdout = String::new();
        std::io::Read::read_to_string(&mut self.stdout, &mut stdout).unwrap();
        Out { status: status_of(status), stdout, stderr }
    }

    /// Write a line to the command's stdin.
    pub fn send(&mut self, line: &str) {
        writeln!(self.stdin.as_mut().unwrap(), "{line}").unwrap();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A failed assertion must not leave the step behind: end it, by its PID.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

thread_local! {
    /// The steps this thread's test started, for [`started_here`]. Each test runs in a thread
    /// of its own, so a test sees only its own.
    static STARTED: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Note that this test started a step with PID `pid` ([`Running::start`] does).
pub fn note_started(pid: u32) {
    STARTED.with(|started| started.borrow_mut().push(pid));
}

/// The PIDs of the steps this test noted since the last call, and forget them: what a check
/// that cleans up after its steps may clean up, and nothing of another test's or run's.
pub fn started_here() -> Vec<u32> {
    STARTED.with(|started| std::mem::take(&mut *started.borrow_mut()))
}

/// The PIDs of `pid`'s children, as the host sees them.
pub fn children(pid: u32) -> Vec<u32> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// The namespaces a process is in: `{"uts": "uts:[4026531838]", ...}`, from `/proc/PID/ns`.
pub fn namespaces(pid: &str) -> BTreeMap<String, String> {
    let dir = format!("/proc/{pid}/ns");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {dir}: {e}"))
        .map(|entry| {
            let entry = entry.unwrap();
            let link = std::fs::read_link(entry.path()).unwrap();
            (entry.file_name().to_string_lossy().into_owned(), link.display().to_string())
        })
        .filter(|(name, _)| !name.ends_with("_for_children"))
        .collect()
}

// --- A root filesystem ---------------------------------------------------------------------------

/// A root filesystem built by `tools/mkrootfs`, once per test process, readable by everyone.
pub fn rootfs() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // A new, empty directory of ours: mkrootfs refuses any other, and opens it to others.
        let dir = fresh_dir("rootfs");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/mkrootfs");
        let out = run(&[script.to_str().unwrap(), dir.to_str().unwrap()]);
        assert_eq!(out.status, 0, "tools/mkrootfs failed: {out:#?}");
        dir
    })
    .clone()
}
