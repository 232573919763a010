//! step01's lesson, `clone()` and `waitpid()`, as every step keeps it: the command runs, with
//! its arguments, its output and its exit status (128+N for signal N, 127, 126, 125); the
//! narration on stderr; `--help`; one line for a bad option; ten copies at once; and, from
//! outside, which namespaces the container has.
//!
//! Called by every step's `tests/lesson.rs` (and `tests/hardening.rs`, for bad options and
//! concurrency). Signals and parent death are in [`crate::clone_signals`]; what a careless
//! caller hands a step, in [`crate::clone_caller`].

use crate::privilege::{is_real_root, real_root_or_skip, RealRoot};
use crate::step::{namespaces, one_error_line, run, run_as_nobody, run_as_nobody_with_path, Step};
use crate::tmp::fresh_dir_for_nobody;
use crate::wording as says;
use std::process::{Command, Stdio};

// --- The command line, exit statuses, narration --------------------------------------------------

/// The command runs, stdout is the command's alone, and its exit status is ours.
pub fn runs_command(step: Step) {
    if !step.may_run() {
        return;
    }
    let out = step.run(&["sh", "-c", "echo out; echo err >&2; exit 7"]);
    out.assert_status(7);
    assert_eq!(out.stdout, "out\n", "stdout must hold only the command's output");
    assert_eq!(out.errors(), ["err"], "{out:#?}");
}

/// Arguments after the command go to the command, even ones that look like our options.
pub fn passes_arguments(step: Step) {
    if !step.may_run() {
        return;
    }
    let out = step.run(&["printf", "%s|", "--quiet", "-x", "--rootfs"]);
    out.assert_status(0);
    assert_eq!(out.stdout, "--quiet|-x|--rootfs|");
}

/// With no command, the step runs /bin/bash, as the article does.
pub fn default_is_bash(step: Step) {
    if !step.may_run() {
        return;
    }
    let mut argv = step.argv(&["-q"]);
    let script = "echo $0 $BASH_VERSION";
    let shell = format!("echo '{script}' | \"$@\"");
    argv.splice(0..0, ["sh", "-c", shell.as_str(), "sh"].map(String::from));
    let out = run(&argv);
    out.assert_status(0);
    assert!(out.stdout.starts_with("/bin/bash "), "{out:#?}");
}

/// The narration goes to stderr: the parent's PID and flags, the child, and how it ended.
pub fn narrates_on_stderr(step: Step, flags: &str) {
    if !step.may_run() {
        return;
    }
    let out = step.run(&["true"]);
    out.assert_status(0);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains(says::STARTED_CONTAINER), "{out:#?}");
    assert!(out.stderr.contains(&says::with_flags(flags)), "flags should be spelled {flags}\n{out:#?}");
    assert!(out.stderr.contains(says::CHILD_RUNNING), "{out:#?}");
    assert!(out.stderr.contains(&says::exited_with(0)), "{out:#?}");
    let quiet = step.run(&["--quiet", "true"]);
    assert_eq!(quiet.stderr, "", "--quiet should silence the narration");
}

/// `--help` prints the usage line, what the step shows, and whether it needs root.
pub fn help(step: Step, name: &str) {
    let out = step.run(&["--help"]);
    out.assert_status(0);
    assert!(out.stdout.starts_with(&says::usage(name)), "{out:#?}");
    assert!(out.stdout.contains(says::NEEDS), "{out:#?}");
}

/// An unknown option: one line, status 125, and no container.
pub fn unknown_option(step: Step) {
    let out = step.run(&["--no-such-option", "true"]);
    out.assert_status(125);
    let line = one_error_line(&out);
    assert!(line.contains(&says::unknown_option("--no-such-option")), "{line}");
    assert!(!out.stderr.contains(says::STARTED_CONTAINER), "{out:#?}");
}

/// 127 for a command that is not found (and for an empty one), 126 for one that cannot run.
pub fn exit_statuses(step: Step) {
    if !step.may_run() {
        return;
    }
    let out = step.run(&["no-such-command-anywhere"]);
    out.assert_status(127);
    let line = one_error_line(&out);
    assert!(line.contains(&says::command_not_found("no-such-command-anywhere")), "{line}");

    let out = step.run(&[""]);
    out.assert_status(127);
    assert!(one_error_line(&out).contains(says::EMPTY_COMMAND), "{out:#?}");

    let out = step.run(&["/"]);
    out.assert_status(126);
    assert!(one_error_line(&out).contains(&says::cannot_execute("/")), "{out:#?}");

    // A file the step may read but not execute: in a directory that nobody may read too.
    let plain = fresh_dir_for_nobody("exit-statuses").join("not-executable");
    std::fs::write(&plain, "echo should not run\n").unwrap();
    let out = step.run(&[plain.to_str().unwrap()]);
    out.assert_status(126);
    assert!(one_error_line(&out).contains(&says::cannot_execute(plain.to_str().unwrap())), "{out:#?}");
}

/// A command killed by signal N makes the step exit 128+N.
pub fn signal_status(step: Step) {
    if !step.may_run() {
        return;
    }
    let running = step.start(&[]);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(running.container as i32), nix::sys::signal::SIGKILL)
        .unwrap();
    let out = running.wait();
    out.assert_status(128 + 9);
    assert!(out.stderr.contains(&says::killed_by("SIGKILL")), "{out:#?}");
}

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

// --- From outside --------------------------------------------------------------------------------

/// From outside: the container's `/proc/PID/ns/*` differ from ours for exactly `isolated`.
pub fn namespaces_differ(step: Step, isolated: &[&str]) {
    if !step.may_run() {
        return;
    }
    let running = step.start(&["-q"]);
    let ours = namespaces("self");
    let theirs = namespaces(&running.container.to_string());
    for (name, link) in &ours {
        if isolated.contains(&name.as_str()) {
            assert_ne!(link, &theirs[name], "the container should have its own {name} namespace");
        } else {
            assert_eq!(link, &theirs[name], "the container should share our {name} namespace");
        }
    }
    for name in isolated {
        assert!(ours.contains_key(*name), "no namespace called {name}");
    }
    running.finish().assert_status(0);
}

/// Step 01 needs no privilege at all.
pub fn runs_as_nobody(step: Step) {
    let out = run_as_nobody(step, &["-q", "id", "-u"]);
    out.assert_status(0);
    let expected =
        if is_real_root() { "65534\n".to_string() } else { format!("{}\n", nix::unistd::geteuid()) };
    assert_eq!(out.stdout, expected);

    // A PATH with a directory closed to us (/root is 0700) makes execvp fail with EACCES;
    // a missing command is still "not found", 127, as in a shell.
    let out = run_as_nobody_with_path(step, "/root:/usr/bin:/bin", &["no-such-command"]);
    out.assert_status(127);
    assert!(one_error_line(&out).contains(&says::command_not_found("no-such-command")), "{out:#?}");
}

// --- Concurrency ---------------------------------------------------------------------------------

/// Ten copies of the step at once all succeed, each with its own output.
pub fn ten_at_once(step: Step, args: &[&str]) {
    if !step.may_run() {
        return;
    }
    // --memory and --cpus make cgroups: only the machine's root may.
    let limits = args.iter().any(|arg| ["--memory", "--cpus"].contains(arg));
    if limits && !real_root_or_skip(RealRoot::Cgroups) {
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
