//! `cargo xtask doctor`: every condition this machine can produce, through the real binary
//! (as root, as nobody, through sudo, with user namespaces disabled, without `ip`, without
//! /proc). The conditions it cannot produce are in doctor_assess.rs.

use std::path::PathBuf;
use testkit::{is_root, reachable_by_nobody, root_or_skip, run, Out, NOBODY};

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

// --- Through the real binary -----------------------------------------------------------------

/// The argv that runs `xtask doctor` as nobody when the tests run as root, or else as ourselves.
fn doctor_as_nobody() -> Vec<String> {
    let mut argv: Vec<String> = Vec::new();
    if is_root() {
        argv.extend(NOBODY.map(String::from));
    }
    argv.push(reachable_by_nobody(XTASK).display().to_string());
    argv.push("doctor".into());
    argv
}

/// `env` with the variables sudo sets removed, then `set` added: the tests decide whether doctor
/// sees a run through sudo, whether or not they themselves run through sudo (`SUDO_UID` in
/// their environment would make doctor report for that user).
fn doctor_env(set: &[&str]) -> Vec<String> {
    let mut argv: Vec<String> =
        ["env", "-u", "SUDO_UID", "-u", "SUDO_GID", "-u", "SUDO_USER", "-u", "SUDO_COMMAND"]
            .map(String::from)
            .to_vec();
    argv.extend(set.iter().map(|s| s.to_string()));
    argv
}

/// `xtask doctor` as this process's user, never "through sudo".
fn doctor_plain() -> Vec<String> {
    let mut argv = doctor_env(&[]);
    argv.extend([XTASK.to_string(), "doctor".into()]);
    argv
}

/// The cells of the table's row for `step`: [step, as you, with sudo, in sandbox, why].
fn row(out: &Out, step: &str) -> Vec<String> {
    let line = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{step} ")))
        .unwrap_or_else(|| panic!("no row for {step}\n{out:#?}"));
    line.trim().split("  ").map(str::trim).filter(|c| !c.is_empty()).map(String::from).collect()
}

/// The text of finding `cell` ("no, see 2") points to, up to the next finding.
fn finding<'a>(out: &'a Out, cell: &str) -> &'a str {
    let n: usize = cell.strip_prefix("no, see ").and_then(|n| n.parse().ok()).unwrap_or_else(|| {
        panic!("'{cell}' does not point to a finding\n{out:#?}");
    });
    let start = out.stdout.find(&format!("\n  {n}. ")).unwrap_or_else(|| panic!("no finding {n}\n{out:#?}"));
    let rest = &out.stdout[start + 1..];
    let end = rest.find(&format!("\n  {}. ", n + 1)).map_or(rest.len(), |e| e + 1);
    &rest[..end]
}

/// Whether this user may make user namespaces (as nobody, when we are root).
fn user_namespaces_here() -> bool {
    let mut argv: Vec<&str> = if is_root() { NOBODY.to_vec() } else { Vec::new() };
    argv.extend(["unshare", "--user", "--map-root-user", "true"]);
    run(&argv).status == 0
}

/// The fact line of the seccomp probe: this machine's kernel has seccomp filters (issue #25).
fn assert_seccomp_filter_installed(out: &Out) {
    let line = out.stdout.lines().find(|l| l.trim_start().starts_with("a seccomp filter "));
    assert!(line.is_some_and(|l| l.contains("installed, in a throwaway process")), "{out:#?}");
}

#[test]
fn as_root_every_step_has_a_row_and_runs() {
    if !root_or_skip("doctor's 'as you' is root only when run by root") {
        return;
    }
    let out = run(&doctor_plain());
    out.assert_status(0);
    assert!(out.stdout.starts_with("Which steps run here, for root (uid 0):"), "{out:#?}");
    let steps = xtask::steps(&xtask::workspace()).unwrap();
    for step in steps.iter().map(String::as_str).chain(["setns-enter"]) {
        let cells = row(&out, step);
        assert_eq!(cells.len(), 5, "{cells:?}");
        // This machine runs every step as root; a step not in doctor's table would be "?".
        assert_eq!(cells[1], "yes", "{step} as root\n{out:#?}");
        assert_eq!(cells[2], "yes", "{step} with sudo: root is root\n{out:#?}");
    }
    assert!(
        out.stdout.contains("sudo") && out.stdout.contains("not needed: doctor runs as root"),
        "{out:#?}"
    );
    // It made a bridge and a veth pair, in a throwaway network namespace.
    let bridge = out.stdout.lines().find(|l| l.trim_start().starts_with("a bridge and a veth pair"));
    assert!(bridge.is_some_and(|l| l.contains("made, in a throwaway")), "{out:#?}");
    assert_seccomp_filter_installed(&out);
    assert!(out.stderr.is_empty(), "{out:#?}");
}

#[test]
fn as_nobody_steps_02_to_05_need_root_and_run_in_the_sandbox() {
    let out = run(&doctor_as_nobody());
    out.assert_status(0);
    for step in ["step02-uts", "step03-ipc", "step04-pid", "step05-mount"] {
        assert_eq!(row(&out, step)[1], "needs root", "{out:#?}");
    }
    assert_eq!(row(&out, "step01-clone")[1], "yes", "{out:#?}");
    // no_new_privs lets anyone install a seccomp filter, as step13 does.
    assert_seccomp_filter_installed(&out);
    if !user_namespaces_here() {
        eprintln!("note: user namespaces are off here; the rest of this test needs them");
        return;
    }
    assert_eq!(row(&out, "step06-user")[1], "yes", "{out:#?}");
    for step in ["step07-net", "step11-overlay", "step12-caps", "step13-seccomp"] {
        assert_eq!(row(&out, step)[1], "lo only", "{step}\n{out:#?}");
    }
    for step in ["step02-uts", "step05-mount", "step07-net", "step13-seccomp"] {
        assert_eq!(row(&out, step)[3], "yes", "{step} in the sandbox\n{out:#?}");
    }
    // Without sudo (none is installed here, or nobody may not use it), the sandbox is the way.
    if run(&["sh", "-c", "command -v sudo"]).status != 0 {
        assert_eq!(row(&out, "step02-uts")[2], "no sudo", "{out:#?}");
        assert!(out.stdout.contains("$ cargo xtask sandbox"), "should recommend the sandbox\n{out:#?}");
    }
}

/// Started through sudo, "as you" is the user who ran sudo (SUDO_UID), probed through setpriv,
/// and "with sudo" is root.
#[test]
fn through_sudo_as_you_is_the_user_who_ran_it() {
    if !root_or_skip("sudo runs doctor as root") {
        return;
    }
    let mut argv = doctor_env(&["SUDO_UID=65534", "SUDO_GID=65534"]);
    argv.extend([XTASK.to_string(), "doctor".into()]);
    let out = run(&argv);
    out.assert_status(0);
    assert!(
        out.stdout.starts_with("Which steps run here, for nobody (uid 65534), through sudo:"),
        "{out:#?}"
    );
    let step02 = row(&out, "step02-uts");
    assert_eq!(step02[1..3], ["needs root", "yes"], "{out:#?}");
    if user_namespaces_here() {
        assert_eq!(row(&out, "step07-net")[1..3], ["lo only", "yes"], "{out:#?}");
    }
}

/// In a throwaway user namespace whose user.max_user_namespaces is 0 (a limit each user
/// namespace has of its own), steps 06 and 07 cannot run, and doctor names the sysctl.
#[test]
fn user_namespaces_disabled() {
    if !user_namespaces_here() {
        eprintln!("note: user namespaces are off here; this test needs one to turn them off in");
        return;
    }
    let before = std::fs::read_to_string("/proc/sys/user/max_user_namespaces").unwrap();
    let mut argv: Vec<String> = Vec::new();
    if is_root() {
        argv.extend(NOBODY.map(String::from));
    }
    argv.extend(["unshare", "--user", "--map-root-user", "sh", "-c"].map(String::from));
    argv.push("echo 0 > /proc/sys/user/max_user_namespaces && exec \"$@\"".into());
    argv.push("sh".into());
    argv.extend([reachable_by_nobody(XTASK).display().to_string(), "doctor".into()]);
    let out = run(&argv);
    out.assert_status(0);
    for step in ["step06-user", "step07-net"] {
        let cells = row(&out, step);
        assert!(cells[1].starts_with("no, see "), "{step}: {cells:?}\n{out:#?}");
        let text = finding(&out, &cells[1]);
        assert!(text.contains("user.max_user_namespaces is 0"), "{text}");
        assert!(text.contains("sysctl -w user.max_user_namespaces=15000"), "{text}");
        assert_eq!(cells[3], cells[1], "the sandbox needs user namespaces too");
    }
    // Root in that user namespace may still make the others.
    assert_eq!(row(&out, "step02-uts")[1], "yes", "{out:#?}");
    assert!(out.stdout.contains("a user namespace (uid_map 0 "), "{out:#?}");
    assert_eq!(std::fs::read_to_string("/proc/sys/user/max_user_namespaces").unwrap(), before);
}

/// A directory with every program of PATH but `ip`, as symlinks.
fn path_without_ip() -> PathBuf {
    let dir = testkit::fresh_dir_for_nobody("path-without-ip");
    let path = std::env::var_os("PATH").unwrap();
    for entry in std::env::split_paths(&path).filter_map(|d| std::fs::read_dir(d).ok()).flatten().flatten() {
        let link = dir.join(entry.file_name());
        if entry.file_name() != "ip" && !link.exists() {
            let _ = std::os::unix::fs::symlink(entry.path(), link);
        }
    }
    dir
}

#[test]
fn a_missing_tool_is_named_with_its_package() {
    if !is_root() && !user_namespaces_here() {
        eprintln!("note: this test needs root, or user namespaces");
        return;
    }
    let dir = path_without_ip();
    let path = format!("PATH={}", dir.display());
    // Doctor looks for tools in the sbin directories too (capsh is /usr/sbin/capsh on Debian,
    // outside a user's PATH), where ip is as well: an empty tmpfs hides them, in a throwaway
    // mount namespace (of a user namespace of our own, when we are not root).
    let hide_sbin = "for d in /usr/local/sbin /usr/sbin /sbin; do \
                       if [ -d $d ]; then mount -t tmpfs none $d || exit 125; fi; done; exec \"$@\"";
    let without_ip = |sudo: &[&str]| {
        let mut argv = doctor_env(&[&[path.as_str()], sudo].concat());
        if !is_root() {
            argv.extend(["unshare", "--user", "--map-root-user"].map(String::from));
        }
        argv.extend(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", hide_sbin, "sh"].map(String::from),
        );
        argv.extend([XTASK.to_string(), "doctor".into()]);
        run(&argv)
    };
    let out = without_ip(&[]);
    // Run by root through sudo, doctor names the tool all the same.
    let through_sudo = is_root().then(|| without_ip(&["SUDO_UID=65534", "SUDO_GID=65534"]));
    let _ = std::fs::remove_dir_all(&dir);
    for out in [Some(&out), through_sudo.as_ref()].into_iter().flatten() {
        out.assert_status(0);
        assert!(out.stdout.contains("missing: ip"), "{out:#?}");
        assert!(out.stdout.contains("not installed: ip (iproute2)"), "{out:#?}");
        assert!(out.stdout.contains("apt install iproute2"), "{out:#?}");
    }
    // step07 speaks rtnetlink itself: without ip, root still gets its bridge; the user who ran
    // sudo, lo only.
    if let Some(sudo) = &through_sudo {
        assert_eq!(row(&out, "step07-net")[1], "yes", "{out:#?}");
        assert_eq!(row(sudo, "step07-net")[1..3], ["lo only", "yes"], "{sudo:#?}");
    }
}

/// Without /proc: one clear finding, no panic. As root, /proc is unmounted in a throwaway mount
/// namespace; otherwise a tmpfs hides it (an ordinary user's mount namespace may not unmount
/// what it inherited, but may mount over it).
#[test]
fn without_proc() {
    let argv: Vec<String> = if is_root() {
        let mut argv = doctor_env(&[]);
        argv.extend(
            [
                "unshare",
                "--mount",
                "--pid",
                "--fork",
                "sh",
                "-c",
                "umount -l /proc && exec \"$0\" doctor",
                XTASK,
            ]
            .map(String::from),
        );
        argv
    } else {
        if !user_namespaces_here() {
            eprintln!("note: this test needs root, or user namespaces");
            return;
        }
        let hide = "mount -t tmpfs none /proc && exec \"$0\" doctor";
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", hide, XTASK]
            .map(String::from)
            .to_vec()
    };
    let out = run(&argv);
    out.assert_status(0);
    assert!(!out.stderr.contains("panicked"), "{out:#?}");
    let cells = row(&out, "step06-user");
    let text = finding(&out, &cells[1]);
    assert!(text.contains("/proc is not mounted here"), "{text}");
    assert!(text.contains("mount -t proc proc /proc"), "{text}");
    assert!(out.stdout.contains("unknown: /proc is not mounted"), "{out:#?}");
}

/// Started through sudo, doctor runs its probes "as you" with a minimal environment: a process
/// of yours may read its own processes' /proc/PID/environ, so root's variables must not reach
/// them (issue #20). `unshare` is replaced, in a throwaway mount namespace, by a script that
/// writes down its uid and environment, then runs the real one.
#[test]
fn through_sudo_the_probes_as_you_get_none_of_roots_environment() {
    if !root_or_skip("sudo runs doctor as root") {
        return;
    }
    let dir = testkit::fresh_dir_for_nobody("probe-environ");
    let seen = dir.join("seen");
    std::fs::create_dir(&seen).unwrap();
    std::os::unix::fs::chown(&seen, Some(65534), Some(65534)).unwrap();
    let real = dir.join("unshare.real");
    let which = run(&["sh", "-c", "command -v unshare"]);
    std::fs::copy(which.stdout.trim(), &real).unwrap();
    let wrapper = dir.join("unshare");
    let script = format!(
        "#!/bin/sh\n{{ id -u; env; }} > {seen}/$$ 2>/dev/null\nexec {real} \"$@\"\n",
        seen = seen.display(),
        real = real.display()
    );
    std::fs::write(&wrapper, script).unwrap();
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // Every unshare in PATH, in the mount namespace only, is the wrapper.
    let bind = "for u in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do \
                  [ -f $u/unshare ] && mount --bind \"$0\" $u/unshare; done; exec \"$@\"";
    let wrapper = wrapper.display().to_string();
    let out = run(&[
        "env",
        "SUDO_UID=65534",
        "SUDO_GID=65534",
        "SUDO_USER=nobody",
        "ROOTS_SECRET=do-not-show",
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        bind,
        &wrapper,
        XTASK,
        "doctor",
    ]);
    out.assert_status(0);
    let mut as_you = 0;
    for entry in std::fs::read_dir(&seen).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        if text.lines().next() != Some("65534") {
            continue;
        }
        as_you += 1;
        let mut vars: Vec<&str> =
            text.lines().skip(1).filter_map(|l| l.split_once('=')).map(|(k, _)| k).collect();
        vars.sort();
        vars.dedup();
        // `sh` (the wrapper) adds PWD of its own; nothing else may be there but PATH.
        vars.retain(|v| !["PWD", "SHLVL", "_", "OLDPWD"].contains(v));
        assert_eq!(vars, ["PATH"], "a probe run as you saw\n{text}");
        assert!(text.contains("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"), "{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(as_you >= 3, "the probes as you (User, Sandbox, Bridge) should have run as 65534\n{out:#?}");
}
