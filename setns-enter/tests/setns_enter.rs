//! setns-enter joins a running container: started by a step through testkit, entered from
//! outside, and checked from inside (what the command prints) and against /proc/PID/ns.

use testkit::{namespaces, run, Out, Step};

const ENTER: &str = env!("CARGO_BIN_EXE_setns-enter");

/// The steps are this package's siblings in the target directory, built by `cargo test --workspace`.
fn step_bin(name: &str) -> &'static str {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.ancestors().nth(2).unwrap().join(name);
    assert!(
        bin.exists(),
        "{} is missing: run the tests with cargo test --workspace",
        bin.display()
    );
    Box::leak(bin.display().to_string().into_boxed_str())
}

fn enter(pid: u32, command: &[&str]) -> Out {
    let pid = pid.to_string();
    let mut argv = vec![ENTER, "-q", pid.as_str()];
    argv.extend(command);
    run(&argv)
}

#[test]
fn enters_the_uts_namespace_of_step02() {
    let step = Step::root(step_bin("step02-uts"));
    if !step.may_run() {
        return;
    }
    let running = step.start(&["-q"]);
    let out = enter(running.container, &["hostname"]);
    out.assert_status(0);
    assert_eq!(out.stdout, "container\n", "{out:#?}");
    let host = run(&["hostname"]);
    assert_ne!(host.stdout, "container\n", "the host's hostname must not change");
    running.finish().assert_status(0);
}

/// The command is born in the container's PID namespace: without the fork, it would stay in ours.
#[test]
fn the_command_is_in_the_pid_namespace_of_step04() {
    let step = Step::root(step_bin("step04-pid"));
    if !step.may_run() {
        return;
    }
    let running = step.start(&["-q"]);
    let out = enter(
        running.container,
        &["sh", "-c", "echo $$; readlink /proc/self/ns/pid"],
    );
    out.assert_status(0);
    let theirs = namespaces(&running.container.to_string());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{out:#?}");
    let pid: u32 = lines[0].parse().unwrap();
    assert!(
        pid > 1 && pid < 10,
        "the command should have a small PID in the container: {out:#?}"
    );
    assert_eq!(lines[1], theirs["pid"], "{out:#?}");
    running.finish().assert_status(0);
}

/// In step05 every namespace of the container, the mount namespace included: its /proc shows
/// the container's processes, and ours are not there.
#[test]
fn enters_every_namespace_of_step05() {
    let step = Step::root(step_bin("step05-mount"));
    if !step.may_run() {
        return;
    }
    let running = step.start(&["-q"]);
    let theirs = namespaces(&running.container.to_string());
    let script = "for n in uts ipc pid mnt net user; do echo $n $(readlink /proc/self/ns/$n); done; ls /proc | grep -c '^[0-9]'";
    let out = enter(running.container, &["sh", "-c", script]);
    out.assert_status(0);
    let mut lines = out.stdout.lines();
    for kind in ["uts", "ipc", "pid", "mnt", "net", "user"] {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("no line for {kind}: {out:#?}"));
        assert_eq!(line, format!("{kind} {}", theirs[kind]), "{out:#?}");
    }
    // The container's sh, the `read` it waits in is a builtin; ours: sh, ls, grep.
    let count: u32 = lines.next().unwrap().parse().unwrap();
    assert!(
        count < 10,
        "the container's /proc should list only its own few processes: {out:#?}"
    );
    running.finish().assert_status(0);
}

#[test]
fn errors_are_one_line() {
    let out = run(&[ENTER, "4194305", "true"]);
    out.assert_status(125);
    let line = testkit::checks::one_error_line(&out);
    assert!(line.contains("there is no process 4194305"), "{line}");

    let out = run(&[ENTER, "not-a-pid"]);
    out.assert_status(125);
    assert!(
        testkit::checks::one_error_line(&out).contains("'not-a-pid' is not a PID"),
        "{out:#?}"
    );

    let out = run(&[ENTER]);
    out.assert_status(125);
    assert!(
        testkit::checks::one_error_line(&out).contains("usage: setns-enter PID"),
        "{out:#?}"
    );
}

/// Without privilege over the container's namespaces, setns fails with a line that says so.
#[test]
fn refuses_without_root() {
    let step = Step::root(step_bin("step02-uts"));
    if !step.may_run() {
        return;
    }
    let running = step.start(&["-q"]);
    let pid = running.container.to_string();
    let mut argv: Vec<String> = testkit::NOBODY.iter().map(|s| s.to_string()).collect();
    argv.push(testkit::reachable_by_nobody(ENTER).display().to_string());
    argv.extend([pid, "true".to_string()]);
    let out = run(&argv);
    out.assert_status(125);
    let line = testkit::checks::one_error_line(&out);
    assert!(line.contains("failed") && line.contains("root"), "{line}");
    running.finish().assert_status(0);
}

/// The command line is parsed once: with options but no PID, the error asks for the PID
/// (it used to call the default command, /bin/bash, "not a PID"), and an argument that is not
/// UTF-8 is an error line, not a panic.
#[test]
fn no_pid_is_a_usage_error_even_with_options() {
    let out = run(&[ENTER, "--stop-timeout", "1"]);
    out.assert_status(125);
    let line = testkit::checks::one_error_line(&out);
    assert!(line.contains("which process? usage: setns-enter PID"), "{line}");

    use std::os::unix::ffi::OsStrExt;
    let out = std::process::Command::new(ENTER)
        .arg(std::ffi::OsStr::from_bytes(b"\xff"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let out = Out {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    out.assert_status(125);
    assert!(
        testkit::checks::one_error_line(&out).contains("is not a PID"),
        "{out:#?}"
    );
}
