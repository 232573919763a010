//! `cargo xtask doctor`: every condition this machine can produce, through the real binary
//! (as root, as nobody, with user namespaces disabled, without `ip`, without /proc); and the
//! conditions it cannot (AppArmor, WSL, Docker, Debian's sysctl, cgroup v2), through the pure
//! decision function `assess`, fed with recorded machines.

use std::path::PathBuf;
use testkit::{is_root, reachable_by_nobody, root_or_skip, run, Out, NOBODY};
use xtask::doctor::{assess, cgroups, root_shared, wsl, Cell, Cgroups, Machine, Probe, Report, Sudo};

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
    if !user_namespaces_here() {
        eprintln!("note: user namespaces are off here; the rest of this test needs them");
        return;
    }
    assert_eq!(row(&out, "step06-user")[1], "yes", "{out:#?}");
    assert_eq!(row(&out, "step07-net")[1], "lo only", "{out:#?}");
    for step in ["step02-uts", "step05-mount", "step07-net"] {
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

// --- Through recorded machines -----------------------------------------------------------------

fn the_row<'a>(report: &'a Report, step: &str) -> &'a xtask::doctor::Row {
    report.rows.iter().find(|r| r.step == step).unwrap_or_else(|| panic!("no row {step}\n{report}"))
}

/// The finding a cell points to, as text.
fn finding_of(report: &Report, cell: &Cell) -> String {
    let Cell::No(n) = cell else { panic!("{cell:?} points to no finding\n{report}") };
    let f = &report.findings[n - 1];
    format!("{}\n{}\n{}", f.title, f.lines.join("\n"), f.fixes.join("\n"))
}

/// Every probe of an ordinary user failed with `err`.
fn user_probes_fail(m: &mut Machine, err: &str) {
    for probe in [Probe::User, Probe::Sandbox] {
        m.as_you.insert(probe, Err(err.into()));
    }
}

#[test]
fn a_healthy_machine_needs_nothing() {
    let report = assess(&Machine::example());
    assert!(report.findings.is_empty(), "{report}");
    assert_eq!(the_row(&report, "step02-uts").as_you, Cell::NeedsRoot);
    assert_eq!(the_row(&report, "step02-uts").with_sudo, Cell::Yes);
    assert_eq!(the_row(&report, "step06-user").as_you, Cell::Yes);
    assert_eq!(the_row(&report, "step07-net").as_you, Cell::LoOnly);
    assert_eq!(the_row(&report, "step07-net").in_sandbox, Cell::Yes);
    assert!(report.to_string().contains("Nothing to fix"), "{report}");
}

/// Ubuntu 23.10 and later: both fixes, the sysctl and a profile for this workspace's steps.
#[test]
fn apparmor_restricts_user_namespaces() {
    let mut m = Machine::example();
    m.apparmor_restrict = Some(1);
    user_probes_fail(&mut m, "unshare: write failed /proc/self/uid_map: Operation not permitted");
    let report = assess(&m);
    let step06 = the_row(&report, "step06-user");
    assert_eq!(step06.with_sudo, Cell::Yes, "root is not restricted\n{report}");
    let text = finding_of(&report, &step06.as_you);
    assert!(text.contains("kernel.apparmor_restrict_unprivileged_userns is 1"), "{text}");
    assert!(text.contains("sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"), "{text}");
    for line in [
        "sudo tee /etc/apparmor.d/namespaces-tutorial > /dev/null <<'EOF'",
        "abi <abi/4.0>,",
        "include <tunables/global>",
        "profile namespaces-tutorial /home/alice/namespaces/target/{debug,release}/{step[0-9][0-9]-*,setns-enter} \
         flags=(unconfined) {",
        "  userns,",
        "EOF",
        "sudo apparmor_parser -r /etc/apparmor.d/namespaces-tutorial",
    ] {
        assert!(text.lines().any(|l| l == line), "missing line {line:?} in\n{text}");
    }
    assert_eq!(the_row(&report, "step07-net").in_sandbox, step06.as_you, "the sandbox is restricted too");
    assert_eq!(the_row(&report, "step02-uts").with_sudo, Cell::Yes);
    // Printed flush left, so that the here-document pasted from the terminal ends at EOF.
    let printed = report.to_string();
    assert!(printed.lines().any(|l| l == "EOF"), "{printed}");
    assert!(printed.lines().any(|l| l == "sudo apparmor_parser -r /etc/apparmor.d/namespaces-tutorial"));

    // Once the profile is installed, the steps may, though unshare (the probes, the sandbox) may not.
    m.apparmor_profile_installed = true;
    let report = assess(&m);
    assert_eq!(the_row(&report, "step06-user").as_you, Cell::Yes, "{report}");
    assert_eq!(the_row(&report, "step07-net").as_you, Cell::LoOnly, "{report}");
    assert!(matches!(the_row(&report, "step02-uts").in_sandbox, Cell::No(_)), "{report}");
}

#[test]
fn wsl1_has_no_namespaces() {
    let mut m = Machine::example();
    m.wsl = wsl("Linux version 4.4.0-19041-Microsoft (Microsoft@Microsoft.com) (gcc version 5.4.0 (GCC) ) #1237-Microsoft");
    assert_eq!(m.wsl, Some(1));
    m.kernel = Some("4.4.0-19041-Microsoft".into());
    let einval = || Err("unshare: unshare failed: Invalid argument".to_string());
    m.as_you.values_mut().for_each(|o| *o = einval());
    m.as_root.values_mut().for_each(|o| *o = einval());
    let report = assess(&m);
    assert_eq!(the_row(&report, "step01-clone").as_you, Cell::Yes, "clone() alone works everywhere");
    for step in ["step02-uts", "step05-mount", "step06-user", "step07-net"] {
        let text = finding_of(&report, &the_row(&report, step).with_sudo);
        assert!(text.contains("WSL 1") && text.contains("wsl --set-version <distribution> 2"), "{text}");
    }
    assert!(report.to_string().contains("kernel 4.4 is older than 5.6"), "{report}");
    assert_eq!(
        wsl("Linux version 5.15.153.1-microsoft-standard-WSL2 (root@941d701f84f1) (gcc (GCC) 11.2.0)"),
        Some(2)
    );
    assert_eq!(wsl("Linux version 6.8.0-45-generic (buildd@lcy02-amd64-075)"), None);
}

#[test]
fn docker_forbids_namespaces() {
    let mut m = Machine::example();
    m.you = "root (uid 0)".into();
    m.you_are_root = true;
    m.root_on_the_host = true;
    m.sudo = Sudo::NotNeeded;
    m.seccomp = Some(2);
    m.dockerenv = true;
    let eperm = || Err("unshare: unshare failed: Operation not permitted".to_string());
    m.as_you = Probe::ALL.iter().map(|p| (*p, eperm())).collect();
    m.as_root = m.as_you.clone();
    let report = assess(&m);
    let text = finding_of(&report, &the_row(&report, "step02-uts").as_you);
    assert!(text.contains("container (/.dockerenv exists, a seccomp filter is on (Seccomp: 2))"), "{text}");
    assert!(text.contains("--security-opt seccomp=unconfined --cap-add SYS_ADMIN"), "{text}");
    assert_eq!(the_row(&report, "step06-user").as_you, the_row(&report, "step02-uts").as_you);
    assert!(!text.contains("sudo "), "doctor runs as root here: no sudo in the fixes\n{text}");
}

/// Debian's sysctl (kernels before 6.1.x): root may, users may not.
#[test]
fn unprivileged_userns_clone_off() {
    let mut m = Machine::example();
    m.unprivileged_userns_clone = Some(0);
    user_probes_fail(&mut m, "unshare: unshare failed: Operation not permitted");
    let report = assess(&m);
    let step06 = the_row(&report, "step06-user");
    assert_eq!(step06.with_sudo, Cell::Yes);
    let text = finding_of(&report, &step06.as_you);
    assert!(text.contains("kernel.unprivileged_userns_clone is 0"), "{text}");
    assert!(text.contains("sudo sysctl -w kernel.unprivileged_userns_clone=1"), "{text}");
}

#[test]
fn max_user_namespaces_zero_stops_root_too() {
    let mut m = Machine::example();
    m.max_user_namespaces = Some(0);
    let enospc = || Err("unshare: unshare failed: No space left on device".to_string());
    user_probes_fail(&mut m, "unshare: unshare failed: No space left on device");
    m.as_root.insert(Probe::User, enospc());
    m.as_root.insert(Probe::Sandbox, enospc());
    let report = assess(&m);
    let step07 = the_row(&report, "step07-net");
    assert_eq!(step07.as_you, step07.with_sudo);
    assert!(finding_of(&report, &step07.as_you).contains("sudo sysctl -w user.max_user_namespaces=15000"));
    // setns-enter as root joins any container, and steps 02-05 make none.
    assert_eq!(the_row(&report, "setns-enter").with_sudo, Cell::Yes);
    assert_eq!(the_row(&report, "step05-mount").with_sudo, Cell::Yes);
}

#[test]
fn cgroups_and_shared_root_from_mountinfo() {
    let v2 = "24 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw\n\
              30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
    assert_eq!(cgroups(v2), Cgroups::V2);
    assert_eq!(root_shared(v2), Some(true));
    let hybrid = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n\
                  31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
                  32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n\
                  41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
    assert_eq!(cgroups(hybrid), Cgroups::Hybrid);
    assert_eq!(root_shared(hybrid), Some(false));
    assert_eq!(cgroups(&hybrid.replace("cgroup2 cgroup2", "x x")), Cgroups::V1);
    let mut m = Machine::example();
    m.cgroups = Cgroups::V2;
    assert!(assess(&m).to_string().contains("v2 (cgroup2 at /sys/fs/cgroup)"));
}

#[test]
fn without_sudo_the_sandbox_is_recommended() {
    let mut m = Machine::example();
    m.sudo = Sudo::Missing;
    let report = assess(&m);
    assert_eq!(the_row(&report, "step02-uts").with_sudo, Cell::NoSudo);
    assert_eq!(the_row(&report, "step02-uts").in_sandbox, Cell::Yes);
    let text = report.to_string();
    assert!(text.contains("there is no sudo here: use the sandbox"), "{text}");
    assert!(text.contains("$ cargo xtask sandbox"), "{text}");
    m.sudo = Sudo::Refused("Sorry, user alice may not run sudo on lab3.".into());
    assert!(assess(&m).to_string().contains("sudo refused: Sorry, user alice may not run sudo"));
}

#[test]
fn sudo_with_a_password_is_left_untried() {
    let mut m = Machine::example();
    m.sudo = Sudo::NeedsPassword;
    m.as_root.clear();
    let report = assess(&m);
    assert_eq!(the_row(&report, "step04-pid").with_sudo, Cell::Untried);
    // sudo asks even those who may not use it: both ways are offered.
    let text = report.to_string();
    assert!(text.contains("$ sudo /home/alice/namespaces/target/debug/xtask doctor"), "{text}");
    assert!(text.contains("$ cargo xtask sandbox"), "{text}");
}

#[test]
fn a_new_step_gets_a_row_of_question_marks() {
    let mut m = Machine::example();
    m.steps.push("step10-example".into());
    let report = assess(&m);
    let names: Vec<&str> = report.rows.iter().map(|r| r.step.as_str()).collect();
    assert_eq!(names[names.len() - 2..], ["step10-example", "setns-enter"]);
    assert_eq!(the_row(&report, "step10-example").as_you, Cell::Unknown);
    assert!(the_row(&report, "step10-example").why.contains("add it to NEEDS"));
}

/// The bridge and veth modules are not there (issue #22): root's step07 and the sandbox's fail
/// with EOPNOTSUPP, and doctor names the modules' packages and modprobe.
#[test]
fn no_bridge_module_is_found_and_named() {
    let mut m = Machine::example();
    let eopnotsupp = || Err("Error: Unknown device type.".to_string());
    m.as_root.insert(Probe::Bridge, eopnotsupp());
    m.as_you.insert(Probe::Bridge, eopnotsupp());
    let report = assess(&m);
    assert!(!report.to_string().contains("Nothing to fix"), "{report}");
    for step in ["step07-net", "step08-cgroup", "step09-time"] {
        let row = the_row(&report, step);
        let text = finding_of(&report, &row.with_sudo);
        assert!(text.contains("no bridge or veth module"), "{text}");
        assert!(text.contains("sudo apt install linux-modules-extra-$(uname -r)"), "{text}");
        assert!(text.contains("sudo dnf install kernel-modules-$(uname -r)"), "{text}");
        assert!(text.contains("sudo modprobe bridge veth"), "{text}");
        assert!(!text.contains("reboot"), "the modules are installed: no reboot\n{text}");
        assert_eq!(row.in_sandbox, row.with_sudo, "the sandbox's bridge needs them too\n{report}");
        // An ordinary user's step07 makes no bridge: it runs, with lo only.
        assert_eq!(row.as_you, Cell::LoOnly, "{report}");
    }
    assert_eq!(the_row(&report, "step06-user").with_sudo, Cell::Yes);
    assert!(report.to_string().contains("could not be made: Error: Unknown device type."), "{report}");
}

/// A kernel upgraded and not rebooted: /lib/modules/$(uname -r) is gone, so the bridge module
/// cannot load; doctor says reboot first.
#[test]
fn modules_of_the_running_kernel_missing_says_reboot() {
    let mut m = Machine::example();
    m.modules_installed = Some(false);
    m.as_root.insert(Probe::Bridge, Err("RTNETLINK answers: Operation not supported".into()));
    m.as_you.insert(Probe::Bridge, Err("RTNETLINK answers: Operation not supported".into()));
    let report = assess(&m);
    let text = finding_of(&report, &the_row(&report, "step07-net").with_sudo);
    assert!(text.contains("/lib/modules/6.8.0-45-generic is missing"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("sudo reboot")), "{text}");
    assert!(report.to_string().contains("/lib/modules/6.8.0-45-generic is missing: not installed"));

    // Without ip doctor cannot try the bridge; the missing modules are still worth a word.
    m.as_root.remove(&Probe::Bridge);
    m.as_you.remove(&Probe::Bridge);
    let report = assess(&m);
    assert_eq!(the_row(&report, "step07-net").with_sudo, Cell::Yes, "untried is not a failure\n{report}");
    assert!(report.findings.iter().any(|f| f.title.contains("/lib/modules/6.8.0-45-generic is missing")));

    // Where the bridge is made all the same (built in, or loaded before the upgrade), and where
    // the kernel loads no modules at all, there is nothing to fix.
    m.as_root.insert(Probe::Bridge, Ok(()));
    m.as_you.insert(Probe::Bridge, Ok(()));
    assert!(assess(&m).findings.is_empty(), "{}", assess(&m));
    m.kernel_loads_modules = false;
    m.as_root.remove(&Probe::Bridge);
    m.as_you.remove(&Probe::Bridge);
    assert!(assess(&m).findings.is_empty(), "{}", assess(&m));
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

/// step06's exercise 3 decodes capabilities with capsh: doctor names its package; installed in
/// /usr/sbin, outside an ordinary user's PATH on Debian, it says to type it in full.
#[test]
fn capsh_is_a_tool_with_its_package() {
    let mut m = Machine::example();
    m.missing_tools = vec!["capsh".into()];
    let text = assess(&m).to_string();
    assert!(text.contains("not installed: capsh (libcap2-bin)"), "{text}");
    assert!(text.contains("$ sudo apt install libcap2-bin"), "{text}");
    m.missing_tools.clear();
    m.tools_outside_path = vec!["/usr/sbin/capsh".into()];
    let text = assess(&m).to_string();
    assert!(text.contains("not in your PATH, type them in full: /usr/sbin/capsh"), "{text}");
}
