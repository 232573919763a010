//! `cargo xtask transcripts`, and the book test that runs the same code, run as root on shared
//! machines. These tests replay what another user could do to them (`testkit::replay`: nobody
//! plants files in a /tmp of the replay's own, then one of the `inner_` tests runs as root
//! there, and nothing in /tmp may have changed once it has ended).

use std::path::PathBuf;
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
    assert_eq!(
        lines[..3],
        ["$ sudo true && echo sudo-ran", "sudo-ran", "$ pwd"],
        "{text}"
    );
    assert!(lines[3].starts_with("/tmp/xtask-transcript-probe."), "{text}");
}

/// A script run as nobody gets a minimal environment: nothing of root's, which nobody could
/// read in /proc/PID/environ.
#[test]
fn transcripts_run_as_nobody_get_a_minimal_environment() {
    if !testkit::root_or_skip("the transcripts are made as root") {
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
