//! `cargo xtask transcripts`, and the book test that runs the same code, run as root on shared
//! machines. These tests replay what another user could do to them (`testkit::replay`: nobody
//! plants files in a /tmp of the replay's own, then one of the `inner_` tests runs as root
//! there, and nothing in /tmp may have changed once it has ended), and what Ctrl-C did.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use testkit::replay::{inside_replay, replay, Attack, Replayed};
use xtask::{transcripts, workspace};

/// Where `cargo test --workspace` built the steps: next to this test, in `target/debug`.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(2).unwrap().to_path_buf()
}

fn script(name: &str, as_nobody: bool, commands: &[&str]) -> transcripts::Script {
    transcripts::Script {
        name: name.into(),
        as_nobody,
        session: None,
        cgroups: None,
        commands: commands.iter().map(|c| c.to_string()).collect(),
    }
}

#[track_caller]
fn assert_nothing_reached(replayed: &Replayed) {
    assert!(
        replayed.status == 0 && replayed.changes.is_empty(),
        "the replayed test exited with {} (expected 0), and the attack reached these files in \
         /tmp (< before, > after):\n{}\n\n{}",
        replayed.status,
        replayed.changes.join("\n"),
        replayed.out.stderr
    );
}

/// nobody makes the scratch directory a transcript used to run in,
/// `/tmp/xtask-transcript-PID-NAME`, with a `sudo` of its own in bin/. The transcript runs
/// root's stand-in `sudo` in a directory of its own, and leaves nobody's files alone.
#[test]
fn transcript_scratch_made_first_by_nobody_is_not_used() {
    let plant = "d=/tmp/xtask-transcript-$1-probe
                 mkdir -m 777 $d $d/bin
                 printf '#!/bin/sh\\ntouch /tmp/root-ran-nobodys-sudo\\nexec \"$@\"\\n' > $d/bin/sudo
                 chmod 755 $d/bin/sudo
                 echo nobodys > $d/marker";
    let attack = Attack { victim: ":", plant };
    if let Some(replayed) = replay(&attack, "inner_runs_a_probe_transcript") {
        assert_nothing_reached(&replayed);
    }
}

#[test]
#[ignore = "run by the replay above"]
fn inner_runs_a_probe_transcript() {
    if !inside_replay() {
        return;
    }
    let probe = script("probe", false, &["sudo true && echo sudo-ran", "pwd"]);
    let text = transcripts::run(&workspace(), &bin_dir(), &probe).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[..3], ["$ sudo true && echo sudo-ran", "sudo-ran", "$ pwd"], "{text}");
    assert!(lines[3].starts_with("/tmp/xtask-transcript-probe."), "{text}");
}

/// The setns transcript bind-mounts a namespace onto a file. It was `/tmp/kept-uts`, made by
/// `touch`, which follows a symlink that nobody put there and makes its target as root.
#[test]
fn setns_transcript_follows_no_planted_symlink() {
    let attack =
        Attack { victim: "mkdir -m 700 /tmp/victim", plant: "ln -s /tmp/victim/made-by-root /tmp/kept-uts" };
    if let Some(replayed) = replay(&attack, "inner_runs_the_setns_transcript") {
        assert_nothing_reached(&replayed);
    }
}

#[test]
#[ignore = "run by the replay above"]
fn inner_runs_the_setns_transcript() {
    if !inside_replay() {
        return;
    }
    let root = workspace();
    let setns = transcripts::parse(&transcripts::scripts_dir(&root).join("setns.txt")).unwrap();
    let text = transcripts::run(&root, &bin_dir(), &setns).unwrap();
    assert!(text.contains("\ncontainer\n"), "{text}");
}

/// A script run as nobody gets a minimal environment: nothing of root's, which nobody could
/// read in /proc/PID/environ.
#[test]
fn transcripts_run_as_nobody_get_a_minimal_environment() {
    if !testkit::real_root_or_skip(testkit::RealRoot::Nobody) {
        return;
    }
    let probe = script("env-probe", true, &["whoami", "env | cut -d= -f1 | sort"]);
    let text = transcripts::run(&workspace(), &bin_dir(), &probe).unwrap();
    let names: Vec<&str> = text.lines().skip(3).collect();
    assert!(text.starts_with("$ whoami\nnobody\n"), "{text}");
    // What bash adds by itself: PWD, SHLVL, _ (and OLDPWD in some versions).
    let allowed = ["HOME", "LC_ALL", "OLDPWD", "PATH", "PWD", "SHLVL", "_"];
    let others: Vec<&&str> = names.iter().filter(|n| !allowed.contains(n)).collect();
    assert!(others.is_empty(), "passed on to nobody: {others:?}\n{text}");
}

/// A transcript that waits for its container's `sleep 300` finds it among the step's children,
/// not anywhere on the machine: another user's `sleep 300` is neither looked at nor killed.
/// (It was: `pgrep -x -f 'sleep 300'` found both, and the transcript's `kill` ended both.)
#[test]
fn transcripts_leave_other_users_processes_alone() {
    if !testkit::real_root_or_skip(testkit::RealRoot::Nobody) {
        return;
    }
    let mut theirs = Command::new(testkit::NOBODY[0])
        .args(&testkit::NOBODY[1..])
        .args(["sleep", "300"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    // Once env and setpriv have exec'd it (5 s at most).
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end
        && Process::read(theirs.id()).map(|p| p.cmdline).as_deref() != Some("sleep 300")
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    let root = workspace();
    let mut texts = Vec::new();
    for name in ["step02-outside", "step06-outside"] {
        let path = transcripts::scripts_dir(&root).join(format!("{name}.txt"));
        let script = transcripts::parse(&path).unwrap();
        texts.push(transcripts::run(&root, &bin_dir(), &script));
    }
    let survived = theirs.try_wait().unwrap().is_none();
    let _ = theirs.kill(); // ours to end: the child we started
    let _ = theirs.wait();
    assert!(survived, "a transcript killed another user's sleep 300: {texts:#?}");
    for text in texts {
        let text = text.unwrap();
        let committed = ["exit status 143", "exit status 137"];
        assert!(committed.iter().any(|end| text.ends_with(&format!("{end}\n"))), "{text}");
        assert!(!text.contains("Is a directory") && !text.contains("No such"), "{text}");
    }
}

// --- Ctrl-C ------------------------------------------------------------------------------------

const INTERRUPTED: &str = "XTASK_TEST_INTERRUPTED";

/// A transcript that starts a container in the background (as step02-outside does) and is
/// interrupted, as Ctrl-C interrupts `cargo xtask transcripts` or the book test: the container
/// and everything else the script started end, and its scratch directory is removed.
#[test]
fn interrupted_transcript_leaves_nothing_behind() {
    if !testkit::real_root_or_skip(testkit::RealRoot::Transcripts) {
        return;
    }
    // Its output goes to a file: a pipe would stay open as long as anything left holds it.
    let log = testkit::fresh_dir("interrupted").join("log");
    let file = std::fs::File::create(&log).unwrap();
    // SIGINT at its default action, as a terminal leaves it when Ctrl-C can reach a program:
    // these tests may run in a background job (`cargo test &` from a script), whose SIGINT
    // is ignored, and an ignored SIGINT ends nothing (the inner test then exited 130).
    let mut inner = Command::new("env")
        .arg("--default-signal=INT")
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "inner_runs_a_transcript_until_interrupted"])
        .args(["--include-ignored", "--nocapture"])
        .env(INTERRUPTED, "1")
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    let log = || std::fs::read_to_string(&log).unwrap_or_default();

    // Wait until the container's `sleep 1234` runs, then note every process under the test,
    // and the script's scratch directory (the shell's working directory).
    let mut started = Vec::new();
    let end = Instant::now() + Duration::from_secs(60);
    while Instant::now() < end && !started.iter().any(|p: &Process| p.cmdline == "sleep 1234") {
        std::thread::sleep(Duration::from_millis(50));
        started = descendants(inner.id());
    }
    let scratch =
        started.iter().filter_map(|p| std::fs::read_link(format!("/proc/{}/cwd", p.pid)).ok()).find(|cwd| {
            let name = cwd.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with("xtask-transcript-") && name.contains("interrupted")
        });
    let found = started.iter().any(|p| p.cmdline == "sleep 1234") && scratch.is_some();

    nix::sys::signal::kill(nix::unistd::Pid::from_raw(inner.id() as i32), nix::sys::signal::Signal::SIGINT)
        .unwrap();
    // It ends by itself once it has cleaned up: the bound is only for a test that never ends.
    let status = wait_or_kill(&mut inner, Duration::from_secs(180));
    let left: Vec<&Process> = {
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end && started.iter().any(Process::alive) {
            std::thread::sleep(Duration::from_millis(50));
        }
        started.iter().filter(|p| p.alive()).collect()
    };
    // Clean up what a failure left, by PID (checked against its start time): ours to end.
    for p in &left {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p.pid as i32), nix::sys::signal::SIGKILL);
    }
    let scratch_left = scratch.as_ref().is_some_and(|dir| dir.exists());
    if let Some(dir) = scratch.as_ref().filter(|_| scratch_left) {
        let _ = std::fs::remove_dir_all(dir);
    }

    assert!(found, "the transcript never started its container\n{}", log());
    assert_eq!(
        status.and_then(|s| s.signal()),
        Some(2),
        "the test process should end as SIGINT ends it, once it has cleaned up\n{}",
        log()
    );
    assert!(left.is_empty(), "still running after Ctrl-C: {left:#?}\n{}", log());
    assert!(!scratch_left, "the scratch directory {scratch:?} is left\n{}", log());
}

#[test]
#[ignore = "run by interrupted_transcript_leaves_nothing_behind"]
fn inner_runs_a_transcript_until_interrupted() {
    if std::env::var_os(INTERRUPTED).is_none() {
        return;
    }
    let commands = ["sudo target/debug/step04-pid -q sleep 1234 &", "wait"];
    let result = transcripts::run(&workspace(), &bin_dir(), &script("interrupted", false, &commands));
    panic!("the transcript should have been interrupted; it ended: {result:?}");
}

/// A process, with what tells it apart from a later one with the same PID: its start time.
#[derive(Debug, PartialEq)]
struct Process {
    pid: u32,
    start: String,
    cmdline: String,
}

impl Process {
    fn read(pid: u32) -> Option<Process> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let start = stat.rsplit_once(") ")?.1.split(' ').nth(19)?.to_string();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let cmdline = String::from_utf8_lossy(&cmdline).trim_end_matches('\0').replace('\0', " ");
        Some(Process { pid, start, cmdline })
    }

    /// Still there, and not a zombie.
    fn alive(&self) -> bool {
        let state = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        let zombie = state.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z'));
        !zombie && Process::read(self.pid).is_some_and(|now| now.start == self.start)
    }
}

/// Every process under `pid`, as the host sees them.
fn descendants(pid: u32) -> Vec<Process> {
    let mut found = Vec::new();
    let mut todo = children(pid);
    while let Some(pid) = todo.pop() {
        todo.extend(children(pid));
        found.extend(Process::read(pid));
    }
    found
}

/// The children of every thread of `pid`: a test runs in a thread of its own, and a process
/// it starts is that thread's child.
fn children(pid: u32) -> Vec<u32> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten();
    tasks
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| list.split_whitespace().filter_map(|p| p.parse().ok()).collect::<Vec<u32>>())
        .collect()
}

/// Wait for `child`, SIGKILLing it after `patience`; `None` if it had to be killed.
fn wait_or_kill(child: &mut std::process::Child, patience: Duration) -> Option<std::process::ExitStatus> {
    let end = Instant::now() + patience;
    while Instant::now() < end {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}
