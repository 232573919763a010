//! Helpers for the steps' integration tests.
//!
//! Every test runs a step's real binary as a subprocess (never `clone` in the test process,
//! which is multi-threaded) and checks what a learner would observe: the command's output
//! from inside, and `/proc/PID/ns/*`, `nsenter` and the host's state from outside.
//!
//! [`checks`] holds the checks themselves, so that a later step's tests can run every check
//! an earlier step established with one line each; [`wording`], what the steps say, which the
//! checks look for. Their longer shell scripts are in `testkit/scripts/`.
//!
//! The tests run as root on shared machines, so what they leave to other users is kept small:
//! their files are in directories made new for them ([`tmp`]), and a step run as nobody gets
//! a minimal environment ([`NOBODY`]). [`replay`] replays attacks on that, as tests.

pub mod attacks;
pub mod cgroup_time;
pub mod checks;
pub mod hardening;
pub mod overlay;
pub mod replay;
pub mod tmp;
pub mod wording;

pub use tmp::{fresh_dir, fresh_dir_for_nobody};

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// How to run one step's binary in a test.
#[derive(Clone, Copy)]
pub struct Step {
    /// `env!("CARGO_BIN_EXE_stepNN-x")`.
    pub bin: &'static str,
    /// Commands to run the step under when the tests run as root, e.g. `&["unshare", "--net"]`
    /// for step07: a throwaway network namespace for the bridge it makes. Only root may make
    /// one; run by an ordinary user, step07 changes no network, and runs without it.
    pub wrap: &'static [&'static str],
    /// Run the step as `nobody` (when the test runs as root): step06 onwards needs no root.
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
        if self.as_nobody && is_root() {
            tools.push("setpriv");
        }
        installed_or_skip(&tools)
    }

    /// The full argv that runs the step with `args`.
    pub fn argv(&self, args: &[&str]) -> Vec<String> {
        let mut argv: Vec<String> = Vec::new();
        if is_root() {
            argv.extend(self.wrap.iter().map(|s| s.to_string()));
        }
        let mut bin = self.bin.to_string();
        if self.as_nobody && is_root() {
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

// A macro rather than a const, so that NOBODY below can be spelled with concat!.
macro_rules! system_path {
    () => {
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    };
}
/// The PATH a process started as nobody gets: the system's directories, nothing of root's.
pub const SYSTEM_PATH: &str = system_path!();

/// The argv prefix that runs a command as nobody (uid and gid 65534, no supplementary groups)
/// with a minimal environment. `env -i` first: root's environment (its HOME, tokens, proxies,
/// whatever the shell that ran the tests had) must not pass to a process that nobody owns,
/// which could read it in /proc/PID/environ.
pub const NOBODY: [&str; 9] = [
    "env",
    "-i",
    concat!("PATH=", system_path!()),
    "HOME=/",
    "LANG=C",
    "setpriv",
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
];

/// [`NOBODY`], with another PATH.
pub fn nobody_with_path(path: &str) -> Vec<String> {
    NOBODY
        .iter()
        .map(|arg| match arg.starts_with("PATH=") {
            true => format!("PATH={path}"),
            false => arg.to_string(),
        })
        .collect()
}

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

/// Whether the tests run as root.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// For a test that needs root: true if it may go on. Otherwise it prints why it is skipped
/// and returns false, except under CI (`CI` set), where a skip would hide a gap: it fails.
pub fn root_or_skip(why: &str) -> bool {
    if is_root() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("this test needs root ({why}), and CI must run every test: run the tests as root");
    }
    // Straight to fd 2: the test harness captures eprintln!, and a skip must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "note: {} skipped a check: it needs root ({why}); run the tests as root to include it",
        std::thread::current().name().unwrap_or("a test")
    );
    false
}

/// For a test that needs programs: true if every one of `tools` is installed. Otherwise it
/// prints which Debian package to install and returns false, except under CI, where it fails.
pub fn installed_or_skip(tools: &[&str]) -> bool {
    let path = format!("{}:{SYSTEM_PATH}", std::env::var("PATH").unwrap_or_default());
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|tool| !path.split(':').any(|dir| Path::new(dir).join(tool).is_file()))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let install: Vec<String> =
        missing.iter().map(|tool| format!("{tool} (apt-get install {})", debian_package(tool))).collect();
    let install = install.join(", ");
    if std::env::var_os("CI").is_some() {
        panic!("this test needs {install}, and CI must run every test: install it");
    }
    let _ = writeln!(
        std::io::stderr(),
        "note: {} skipped a check: it needs {install}",
        std::thread::current().name().unwrap_or("a test")
    );
    false
}

/// The Debian package that has `tool`.
fn debian_package(tool: &str) -> &'static str {
    match tool {
        "unshare" | "nsenter" | "setpriv" | "ipcmk" | "ipcs" | "lsns" | "findmnt" => "util-linux",
        "mount" | "umount" => "mount",
        "ps" | "pgrep" => "procps",
        "ip" => "iproute2",
        "ping" => "iputils-ping",
        "nc" => "netcat-openbsd",
        "strace" => "strace",
        "script" => "bsdutils",
        "hostname" => "hostname",
        _ => "the package that has it",
    }
}

/// A path to `bin` that nobody (uid 65534) can execute: the binary itself if every directory
/// above it is searchable by others, or else a copy in a directory of the test's that nobody
/// may read ([`fresh_dir_for_nobody`]).
pub fn reachable_by_nobody(bin: &str) -> PathBuf {
    let path = Path::new(bin);
    let open = path
        .ancestors()
        .skip(1)
        .all(|dir| std::fs::metadata(dir).map(|m| m.permissions().mode() & 0o001 != 0).unwrap_or(false));
    if open {
        return path.to_path_buf();
    }
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    static COPYING: Mutex<()> = Mutex::new(());
    let dir = DIR.get_or_init(|| fresh_dir_for_nobody("bin"));
    let copy = dir.join(path.file_name().unwrap());
    // Tests run in threads: one copies, the others wait for it.
    let _one_at_a_time = COPYING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if !copy.exists() {
        std::fs::copy(path, &copy).unwrap_or_else(|e| panic!("copying {bin}: {e}"));
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    copy
}

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
