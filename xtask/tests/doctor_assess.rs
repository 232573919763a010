//! `cargo xtask doctor`'s conditions this machine cannot produce (AppArmor, WSL, Docker,
//! Debian's sysctl, cgroup v2, missing modules, no sudo), through the pure decision function
//! `assess`, fed with recorded machines. doctor.rs runs the real binary.

use xtask::doctor::{assess, cgroups, root_shared, wsl, Cell, Cgroups, Machine, Probe, Report, Sudo};

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

/// A kernel built without CONFIG_SECCOMP_FILTER (issue #25): prctl(PR_SET_SECCOMP) says EINVAL.
/// step13 cannot install its filter anywhere, as you, with sudo or in the sandbox; doctor says
/// why and gives the one-line way round it; step12 and the others still run.
#[test]
fn a_kernel_without_seccomp_filters_stops_step13_only() {
    let mut m = Machine::example();
    let einval =
        || Err("prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER): Invalid argument (os error 22)".to_string());
    m.as_you.insert(Probe::Seccomp, einval());
    m.as_root.insert(Probe::Seccomp, einval());
    let report = assess(&m);
    let step13 = the_row(&report, "step13-seccomp");
    for cell in [&step13.as_you, &step13.with_sudo, &step13.in_sandbox] {
        let text = finding_of(&report, cell);
        assert!(text.contains("without CONFIG_SECCOMP_FILTER"), "{text}");
        assert!(
            text.lines().any(|l| l == "target/debug/step13-seccomp --seccomp unconfined COMMAND..."),
            "{text}"
        );
    }
    assert_eq!(report.findings.len(), 1, "one finding, named once\n{report}");
    let step12 = the_row(&report, "step12-caps");
    assert_eq!(
        (&step12.as_you, &step12.with_sudo, &step12.in_sandbox),
        (&Cell::LoOnly, &Cell::Yes, &Cell::Yes)
    );
    assert!(
        report.to_string().contains("a seccomp filter  ")
            && report.to_string().contains("could not be installed: prctl")
    );

    // Another failure of the probe is not blamed on the kernel's configuration.
    m.as_you.insert(
        Probe::Seccomp,
        Err("prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER): Cannot allocate memory".into()),
    );
    m.as_root.insert(
        Probe::Seccomp,
        Err("prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER): Cannot allocate memory".into()),
    );
    let report = assess(&m);
    let text = finding_of(&report, &the_row(&report, "step13-seccomp").as_you);
    assert!(text.starts_with("a seccomp filter (prctl(PR_SET_SECCOMP)) failed: prctl"), "{text}");
    assert!(!text.contains("CONFIG_SECCOMP_FILTER"), "{text}");
}

/// Steps 12 and 13 are step11 plus what takes power away: the same row as step11 where the
/// kernel has seccomp filters, and as an ordinary user `lo` only, as every bridged step.
#[test]
fn steps_12_and_13_run_where_step11_does() {
    let report = assess(&Machine::example());
    let step11 = the_row(&report, "step11-overlay");
    for step in ["step12-caps", "step13-seccomp"] {
        let row = the_row(&report, step);
        assert_eq!(
            (&row.as_you, &row.with_sudo, &row.in_sandbox),
            (&step11.as_you, &step11.with_sudo, &step11.in_sandbox),
            "{report}"
        );
        assert_eq!(row.as_you, Cell::LoOnly, "{report}");
    }
    let names: Vec<&str> = report.rows.iter().map(|r| r.step.as_str()).collect();
    assert_eq!(names[names.len() - 4..], ["step11-overlay", "step12-caps", "step13-seccomp", "setns-enter"]);
}
