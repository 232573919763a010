//! Build a step, run an exercise's checks against it from outside, as the tests do, and say
//! what each saw.
//!
//! Each check is a `sh` script from the spec. It runs with a minimal environment, in a fresh
//! directory `$SCRATCH`, with `step` on its PATH: a two-line script that runs a copy of the
//! step's binary, through `setpriv` as `nobody` where the spec says so and the checker is root.
//! Run by root, every script runs inside throwaway mount, UTS, IPC and network namespaces
//! (`unshare --mount --uts --ipc --net`), on a tmpfs of its own: a learner's step that goes
//! wrong renames, mounts on, or adds links to those, never the machine's own.

use super::spec::{Check, Exercise};
use anyhow::{bail, Context, Result};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where the checker builds and keeps its state.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The workspace's root: `exercises/`, `tools/mkrootfs` and the steps are there.
    pub root: PathBuf,
    /// The cargo target directory the steps are built in.
    pub target_dir: PathBuf,
}

impl Workspace {
    /// The workspace we run in ([`crate::workspace`]), and its target directory:
    /// `CARGO_TARGET_DIR`, or the one our own executable is in (`TARGET/debug/xtask`: sudo
    /// drops `CARGO_TARGET_DIR`, and the root half must find the steps the user built), or
    /// `target/`.
    pub fn this() -> Workspace {
        let root = crate::workspace();
        let ours = std::env::current_exe().ok().and_then(|exe| {
            let debug = exe.parent()?;
            let target = debug.parent()?;
            let in_workspace = target.starts_with(&root) || target.join("CACHEDIR.TAG").is_file();
            (debug.file_name()? == "debug" && in_workspace).then(|| target.to_path_buf())
        });
        let target_dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).or(ours);
        let target_dir = target_dir.unwrap_or_else(|| root.join("target"));
        let target_dir = if target_dir.is_absolute() { target_dir } else { root.join(target_dir) };
        Workspace { root, target_dir }
    }

    /// The step's binary, where `cargo build` puts it.
    pub fn binary(&self, step: &str) -> PathBuf {
        self.target_dir.join("debug").join(step)
    }
}

/// Build one step with `cargo build -p STEP`. `Ok(Err(text))` if it does not compile: `text`
/// is what cargo said, or empty when cargo printed it to our stderr (`show_errors`).
pub fn build(ws: &Workspace, step: &str, show_errors: bool) -> Result<Result<PathBuf, String>> {
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo.args(["build", "--quiet", "--package", step]).current_dir(&ws.root);
    cargo.env("CARGO_TARGET_DIR", &ws.target_dir).stdin(Stdio::null()).stdout(Stdio::null());
    if !show_errors {
        cargo.stderr(Stdio::piped());
    }
    let out = cargo.output().context("running cargo build")?;
    if !out.status.success() {
        return Ok(Err(String::from_utf8_lossy(&out.stderr).into_owned()));
    }
    Ok(Ok(ws.binary(step)))
}

/// Whether the learner has started: the step's `--help` lists the exercise's option (or the
/// word its spec names in `- started:`).
pub fn started(binary: &Path, exercise: &Exercise) -> Result<bool> {
    let out = Command::new(binary)
        .arg("--help")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {} --help", binary.display()))?;
    let help = String::from_utf8_lossy(&out.stdout);
    Ok(help.split_whitespace().any(|word| word == exercise.started_word()))
}

/// What one check saw.
#[derive(Debug)]
pub struct Outcome {
    pub title: String,
    pub passed: bool,
    /// The outputs that would have passed, with the variables filled in.
    pub expected: Vec<String>,
    /// The script's stdout.
    pub stdout: String,
    /// The lines of its stderr that are not a step's narration (`[stepNN-x] ...`).
    pub stderr: String,
    /// Set if the script ran too long and was ended.
    pub timed_out: bool,
    /// Why the machine, not the learner's step, made the check fail, if it did: its setup
    /// failed (status 99), `setpriv` could not become nobody, a program it runs is missing.
    pub environment: Option<String>,
}

/// How long one check may take: a step that hangs is ended after this.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The PATH the scripts get, after the directory that holds `step`.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What every script starts with.
const PRELUDE: &str = "\
# wait_for FILE: until FILE is there and not empty, while the job started last with & runs; 5 s at most.
wait_for() { i=0; while [ ! -s \"$1\" ] && kill -0 $! 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; }
";

/// What a script run by root starts with, in its throwaway mount namespace: $SCRATCH becomes
/// a tmpfs of its own. A learner's remount that forgets MS_BIND changes the flags of the whole
/// filesystem under the mount point, in every namespace: here that is this tmpfs, not the
/// filesystem of the machine's /tmp.
/// It then starts in the tmpfs, not beneath it, so relative names land where $SCRATCH does.
/// It is `nosuid,nodev`, as /tmp often is, so that a check can see whether a step's remount
/// keeps the flags of the filesystem under it.
const ROOT_PRELUDE: &str =
    "mount -t tmpfs -o mode=0755,nosuid,nodev check \"$SCRATCH\" && cd \"$SCRATCH\" || exit 99\n";

/// With `rootfs: yes`: a copy of the root filesystem in $SCRATCH, so that each check gets one
/// as tools/mkrootfs made it.
const ROOTFS_PRELUDE: &str = "cp -a \"$ROOTFS_IMAGE\" \"$ROOTFS\" || exit 99\n";

/// Run every check of `exercise` against `binary`, each in a directory of its own under a
/// fresh one in /tmp, which is removed afterwards.
pub fn run_checks(ws: &Workspace, exercise: &Exercise, binary: &Path) -> Result<Vec<Outcome>> {
    let scratch = Scratch::new()?;
    let result = run_checks_in(ws, exercise, binary, &scratch.0);
    scratch.remove()?;
    result
}

fn run_checks_in(ws: &Workspace, exercise: &Exercise, binary: &Path, dir: &Path) -> Result<Vec<Outcome>> {
    let root = is_root();
    // Where uid 0 is the only one (the sandbox), nobody does not exist: setpriv would fail.
    let as_nobody = exercise.as_nobody && root && !only_root_mapped();
    // A copy of the binary that nobody can reach, and `step`, which runs it.
    let bin = make_dir(&dir.join("bin"))?;
    let copy = bin.join(&exercise.step);
    std::fs::copy(binary, &copy).with_context(|| format!("copying {}", binary.display()))?;
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755))?;
    let nobody = if as_nobody { "setpriv --reuid=65534 --regid=65534 --clear-groups " } else { "" };
    let wrapper = format!("#!/bin/sh\nexec {nobody}'{}' \"$@\"\n", copy.display());
    std::fs::write(bin.join("step"), wrapper)?;
    std::fs::set_permissions(bin.join("step"), std::fs::Permissions::from_mode(0o755))?;

    let image = dir.join("rootfs");
    if exercise.rootfs {
        let out = Command::new(ws.root.join("tools/mkrootfs"))
            .arg(&image)
            .stdin(Stdio::null())
            .output()
            .context("running tools/mkrootfs")?;
        if !out.status.success() {
            bail!("tools/mkrootfs failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
    }
    let step_uid = if as_nobody { 65534 } else { nix::unistd::geteuid().as_raw() };
    let mut outcomes = Vec::new();
    for (n, check) in exercise.checks.iter().enumerate() {
        let scratch = make_dir(&dir.join(format!("check-{}", n + 1)))?;
        let vars = [
            ("SCRATCH", scratch.display().to_string()),
            ("ROOTFS", scratch.join("rootfs").display().to_string()),
            ("ROOTFS_IMAGE", image.display().to_string()),
            ("STEP_UID", step_uid.to_string()),
        ];
        let mut script = String::from(PRELUDE);
        if root {
            script += ROOT_PRELUDE;
        }
        if exercise.rootfs {
            script += ROOTFS_PRELUDE;
        }
        script += &check.script;
        outcomes.push(run_check(check, &script, &bin, &scratch, &vars, root)?);
    }
    Ok(outcomes)
}

fn run_check(
    check: &Check,
    script: &str,
    bin: &Path,
    scratch: &Path,
    vars: &[(&str, String)],
    root: bool,
) -> Result<Outcome> {
    let mut argv: Vec<&str> = Vec::new();
    if root {
        argv.extend(["unshare", "--mount", "--uts", "--ipc", "--net"]);
    }
    argv.extend(["sh", "-c", script]);
    let mut command = Command::new(argv[0]);
    command.args(&argv[1..]).env_clear().current_dir(scratch);
    command.env("PATH", format!("{}:{PATH}", bin.display())).env("LC_ALL", "C").env("HOME", scratch);
    for (name, value) in vars {
        command.env(name, value);
    }
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let (status_timed_out, status, stdout, stderr) = run_with_timeout(command)?;
    let environment = environment_problem(status, &stderr);

    let fill = |text: &str| {
        vars.iter().fold(text.to_string(), |t, (name, value)| t.replace(&format!("${name}"), value))
    };
    let expected: Vec<String> = check.expected.iter().map(|e| fill(e)).collect();
    let passed = !status_timed_out && expected.iter().any(|e| same_output(e, &stdout));
    let stderr = stderr.lines().filter(|l| !l.starts_with("[step")).collect::<Vec<_>>().join("\n");
    let timed_out = status_timed_out;
    Ok(Outcome { title: check.title.clone(), passed, expected, stdout, stderr, timed_out, environment })
}

/// Whether a check's failure is the machine's: [`Outcome::environment`].
pub fn environment_problem(status: Option<i32>, stderr: &str) -> Option<String> {
    let last = |pred: &dyn Fn(&str) -> bool| stderr.lines().rev().find(|l| pred(l)).map(str::to_string);
    if let Some(line) = last(&|l| l.starts_with("setpriv: ")) {
        return Some(format!("setpriv could not run the step as nobody: {line}"));
    }
    // sh says `sh: 3: ip: not found`; `step` itself is ours, and always there.
    let missing = |l: &str| l.starts_with("sh: ") && l.ends_with(": not found") && !l.contains(": step: ");
    if let Some(line) = last(&missing) {
        return Some(format!("a program the check runs is missing: {line}"));
    }
    if status == Some(99) {
        let line = last(&|l| !l.trim().is_empty() && !l.starts_with("[step")).unwrap_or_default();
        return Some(format!("the check's setup failed: {line}"));
    }
    None
}

/// Whether this user namespace maps uid 0 and nothing else (`/proc/self/uid_map` is
/// `0 UID 1`), as `cargo xtask sandbox`'s does: no `nobody` to run a step as.
pub fn only_root_mapped() -> bool {
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    let lines: Vec<Vec<&str>> = map.lines().map(|l| l.split_whitespace().collect()).collect();
    matches!(lines.as_slice(), [line] if line.first() == Some(&"0") && line.get(2) == Some(&"1"))
}

/// What the checker says once, where steps that run as nobody elsewhere run as root here.
pub fn only_root_mapped_note(exercises: &[Exercise]) -> Option<String> {
    (is_root() && only_root_mapped() && exercises.iter().any(|e| e.as_nobody)).then(|| {
        "only uid 0 exists in this user namespace (the sandbox), so the step runs as root here, \
         where elsewhere it runs as nobody"
            .to_string()
    })
}

/// Why an exercise cannot be checked where we are, in one line naming where it can, if so:
/// in the sandbox, an exercise whose spec says `sandbox: no: WHY`.
pub fn cannot_check_here(exercise: &Exercise) -> Option<String> {
    let why = exercise.not_in_sandbox.as_ref()?;
    (is_root() && only_root_mapped()).then(|| {
        format!(
            "in `cargo xtask sandbox`, {why}: run `cargo xtask check {}` outside it (it asks sudo for \
             the part that needs root)",
            exercise.number()
        )
    })
}

/// Run `command` in a process group of its own, for [`TIMEOUT`] at most; then end whatever is
/// left in the group (a step the script left running), so that its pipes close. Returns
/// whether it timed out, its exit status, and its stdout and stderr.
fn run_with_timeout(mut command: Command) -> Result<(bool, Option<i32>, String, String)> {
    let mut child = command.spawn().context("running sh")?;
    let group = nix::unistd::Pid::from_raw(child.id() as i32);
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stdout.read_to_end(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        text
    });
    let start = Instant::now();
    let mut timed_out = false;
    let mut status = None;
    loop {
        if let Some(done) = child.try_wait()? {
            status = done.code();
            break;
        }
        if start.elapsed() > TIMEOUT {
            timed_out = true;
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::SIGKILL);
            let _ = child.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // The group is ours: the shell we started, and what it started and left behind.
    let _ = nix::sys::signal::killpg(group, nix::sys::signal::SIGKILL);
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    Ok((timed_out, status, text(out.join().unwrap_or_default()), text(err.join().unwrap_or_default())))
}

/// Whether two outputs are the same, but for spaces at the ends of lines and blank lines at
/// the end.
pub fn same_output(expected: &str, seen: &str) -> bool {
    normalize(expected) == normalize(seen)
}

fn normalize(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    while lines.last() == Some(&"") {
        lines.pop();
    }
    lines
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn make_dir(path: &Path) -> Result<PathBuf> {
    std::fs::create_dir(path).with_context(|| format!("creating {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(path.to_path_buf())
}

/// A directory of our own in /tmp, made by mkdtemp(3) and open to everyone, so that a step run
/// as nobody reaches its binary and `$SCRATCH`.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch> {
        let dir = nix::unistd::mkdtemp("/tmp/xtask-check-XXXXXX").context("mkdtemp in /tmp failed")?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
        Ok(Scratch(dir))
    }

    /// Remove it, unless something is mounted under it: then removing would reach into the
    /// mounted directory, which may be the host's. The checks run in throwaway mount
    /// namespaces, so this happens only if the checker itself has gone wrong.
    fn remove(self) -> Result<()> {
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let prefix = format!("{}/", self.0.display());
        if mounts.lines().filter_map(|l| l.split(' ').nth(4)).any(|m| m.starts_with(&prefix)) {
            bail!(
                "something is mounted under {}; not removing it: look with findmnt, unmount, then rm -r",
                self.0.display()
            );
        }
        std::fs::remove_dir_all(&self.0).with_context(|| format!("removing {}", self.0.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::environment_problem;

    #[test]
    fn the_machine_failing_is_not_the_learner_failing() {
        let setpriv = environment_problem(Some(1), "setpriv: setresuid failed: Invalid argument\n");
        assert!(setpriv.is_some_and(|p| p.contains("setpriv could not run the step as nobody")));
        assert!(environment_problem(Some(127), "sh: 3: ip: not found\n")
            .is_some_and(|p| p.contains("ip: not found")));
        assert!(environment_problem(Some(99), "mount: permission denied\n").is_some());
        // A learner's step that fails, or is missing an option, is the learner's.
        assert_eq!(environment_problem(Some(125), "step05-mount: error: unknown option '--volume'\n"), None);
        assert_eq!(environment_problem(Some(1), "touch: cannot touch '/x': Read-only file system\n"), None);
    }
}
