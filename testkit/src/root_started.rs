//! Root inside is never root outside: the checks of steps 06-09 started by root.
//!
//! Run by root, a step maps the container's root to the user who ran sudo (`SUDO_UID`), else
//! to root's range in /etc/subuid, else to nobody; never to the host's uid 0. These checks run
//! the step as root in each of the three cases and look from outside (/proc/PID/uid_map and
//! status), then replay what a container whose root was the host's root could do: write
//! /proc/sys, lift its pids limit, join the pids root, remount the host's /etc/hosts
//! read-write, chmod a host file, plant a setuid-root program, mount a host cgroup hierarchy.
//!
//! None of them can damage the machine if the defence regresses: the container probes with
//! `test -w` (access(2)), writes only in a root filesystem this test made, and remounts only
//! in its own mount namespace; the host's /dev/full is compared, never changed. /etc/subuid is
//! replaced only inside a throwaway mount namespace (`unshare --mount`, a bind mount). Called
//! from the steps' tests/hardening.rs, 06 to 09.

use crate::{is_real_root, real_root_or_skip, root_or_skip, run, tmp, Out, RealRoot, Running, Step};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The host uid of the container's root when a test runs a step as root in the environment
/// it was given: the user who ran sudo (`sudo cargo test` sets SUDO_UID), else the first
/// `root:` range of /etc/subuid, else nobody. The step's own choice, seen from the test. The
/// sandbox's root (`cargo xtask sandbox`, [`crate::is_real_root`] false) may map only itself,
/// and does: the container's root is then the sandbox's, uid 0 as the tests see it.
pub fn container_root_outside() -> u32 {
    if !crate::is_real_root() {
        return nix::unistd::geteuid().as_raw();
    }
    let number =
        |text: &str| text.bytes().all(|b| b.is_ascii_digit()).then(|| text.parse::<u32>().ok()).flatten();
    if let Some(uid) = std::env::var("SUDO_UID").ok().as_deref().and_then(number).filter(|&uid| uid != 0) {
        return uid;
    }
    let subuid = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
    let range =
        subuid.lines().filter_map(|l| l.strip_prefix("root:")?.split_once(':')).find_map(|(start, count)| {
            let (start, count) = (number(start)?, number(count)?);
            (start > 0 && count > 0 && start.checked_add(count).is_some()).then_some(start)
        });
    range.unwrap_or(65534)
}

/// The step run as root itself, whatever the test's Step says (06-09 run as nobody otherwise).
fn as_root(step: Step) -> Step {
    Step { as_nobody: false, needs_root: true, ..step }
}

/// The argv prefix that runs what follows with /etc/subuid and /etc/subgid replaced by
/// `dir`'s `subuid` and `subgid`, in a throwaway mount namespace, where the host has them (a
/// bind mount needs a file to land on), and with SUDO_UID and SUDO_GID set to `sudo` or unset.
fn prefix(dir: &Path, sudo: Option<&str>) -> Vec<String> {
    let mut argv: Vec<String> = ["env", "-u", "SUDO_UID", "-u", "SUDO_GID"].map(String::from).to_vec();
    if let Some(id) = sudo {
        argv.extend([format!("SUDO_UID={id}"), format!("SUDO_GID={id}")]);
    }
    let bind = "for f in subuid subgid; do [ ! -e /etc/$f ] || mount --bind \"$0/$f\" /etc/$f || exit 125; done; exec \"$@\"";
    argv.extend(["unshare", "--mount", "--propagation", "private", "sh", "-c", bind].map(String::from));
    argv.push(dir.display().to_string());
    argv
}

/// A fresh directory holding `subuid` and `subgid` with these lines.
fn subid_files(subuid: &str, subgid: &str) -> PathBuf {
    let dir = tmp::fresh_dir_for_nobody("subid");
    std::fs::write(dir.join("subuid"), subuid).unwrap();
    std::fs::write(dir.join("subgid"), subgid).unwrap();
    dir
}

/// Start the step as root under `prefix`, with a command that prints `ready` and then runs
/// each line it reads as `test -w LINE`, printing `writable: LINE` for each that is.
fn start(step: Step, prefix: &[String], args: &[&str]) -> Running {
    let probe = "echo ready; while read f; do test -w \"$f\" && echo \"writable: $f\"; done; echo probed";
    let mut argv = prefix.to_vec();
    let mut step_args = args.to_vec();
    step_args.extend(["sh", "-c", probe]);
    argv.extend(as_root(step).argv(&step_args));
    Running::start(&argv)
}

/// One line of /proc/PID/FILE, its fields joined by one space: `0 65534 1`.
fn proc_line(pid: u32, file: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The four IDs of a `Uid:` or `Gid:` line of /proc/PID/status.
fn ids(pid: u32, field: &str) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().skip(1).map(|id| id.parse().unwrap()).collect()
}

/// Start the step in one case, check from outside whom its container runs as, and that it says
/// why in one line; then let it finish.
fn check_case(step: Step, prefix: &[String], map: (&str, &str), why: &str) -> Out {
    let running = start(step, prefix, &[]);
    let pid = running.container;
    assert_eq!(proc_line(pid, "uid_map"), map.0, "uid_map seen from outside");
    assert_eq!(proc_line(pid, "gid_map"), map.1, "gid_map seen from outside");
    let (uid, gid) = (map.0.split(' ').nth(1).unwrap(), map.1.split(' ').nth(1).unwrap());
    assert_eq!(ids(pid, "Uid:"), [uid.parse::<u32>().unwrap(); 4], "the container's uids from outside");
    assert_eq!(ids(pid, "Gid:"), [gid.parse::<u32>().unwrap(); 4], "the container's gids from outside");
    let groups = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let groups = groups.lines().find(|l| l.starts_with("Groups:")).unwrap().to_string();
    assert_eq!(groups.trim_end(), "Groups:", "root's supplementary groups must not reach the container");
    let out = running.finish();
    out.assert_status(0);
    let told: Vec<&str> =
        out.stderr.lines().filter(|l| l.contains("the container's root is not the host's")).collect();
    assert_eq!(told.len(), 1, "one line should say whom the container's root is\n{out:#?}");
    assert!(told[0].contains(why), "{}", told[0]);
    out
}

/// Run by root under sudo, the container's root is the user who ran sudo (SUDO_UID, SUDO_GID).
pub fn maps_sudo_user(step: Step) {
    if !real_root_or_skip(RealRoot::MapOthers) || !as_root(step).may_run() {
        return;
    }
    let dir = subid_files("root:300000:65536\n", "root:300000:65536\n");
    let out =
        check_case(step, &prefix(&dir, Some("65534")), ("0 65534 1", "0 65534 1"), "the user who ran sudo");
    assert!(out.stderr.contains("it is uid 65534, gid 65534 on the host"), "{out:#?}");
}

/// Run by root, without sudo: root's first valid range in /etc/subuid and /etc/subgid. The
/// lines before it that would map 0, (uid_t)-1 or nothing are skipped, each said so.
pub fn maps_root_subuid_range(step: Step) {
    if !real_root_or_skip(RealRoot::MapOthers) || !as_root(step).may_run() {
        return;
    }
    if !Path::new("/etc/subuid").exists() || !Path::new("/etc/subgid").exists() {
        println!("skipped: no /etc/subuid and /etc/subgid here to bind a test's own over");
        return;
    }
    let hostile = "root:0:65536\nroot:4294967295:1\nroot:-1:5\nroot:100000\nroot:+5:5\n";
    let dir =
        subid_files(&format!("student:100000:65536\n{hostile}root:300000:65536\n"), "root:400000:65536\n");
    let out = check_case(
        step,
        &prefix(&dir, None),
        ("0 300000 65536", "0 400000 65536"),
        "root's range in /etc/subuid and /etc/subgid",
    );
    let skipped = out.stderr.lines().filter(|l| l.contains("skipped line")).count();
    assert_eq!(skipped, hostile.lines().count(), "each malformed line is skipped, in one line\n{out:#?}");
}

/// Run by root, with neither sudo nor a range for root: nobody. SUDO_UID=0 (root ran sudo)
/// counts as neither.
pub fn maps_nobody_otherwise(step: Step) {
    if !real_root_or_skip(RealRoot::MapOthers) || !as_root(step).may_run() {
        return;
    }
    let dir = subid_files("student:100000:65536\n", "");
    check_case(step, &prefix(&dir, None), ("0 65534 1", "0 65534 1"), "nobody");
    let out = check_case(step, &prefix(&dir, Some("0")), ("0 65534 1", "0 65534 1"), "nobody");
    assert!(out.stderr.contains("SUDO_UID or SUDO_GID is 0"), "{out:#?}");
}

/// Root of a user namespace that maps it to the host's root (`sudo unshare --user
/// --map-root-user`, `sudo cargo xtask sandbox`) may map only its own ID, and its own ID is the
/// host's root: the step refuses in one line, 125, and nothing runs (it once wrote `0 0 1`, and
/// the container's root wrote the host's /etc).
pub fn nested_root_of_root_refused(step: Step) {
    if !root_or_skip("only root makes a user namespace that maps 0 to 0") || !as_root(step).may_run() {
        return;
    }
    let mut argv: Vec<String> =
        ["unshare", "--user", "--map-root-user", "env", "-u", "SUDO_UID", "-u", "SUDO_GID"]
            .map(String::from)
            .to_vec();
    argv.extend(as_root(step).argv(&["sh", "-c", "echo ran"]));
    let out = run(&argv);
    out.assert_status(125);
    assert_eq!(out.stdout, "", "{out:#?}");
    let line = crate::one_error_line(&out);
    assert!(line.contains("uid 0 here is the host's root") && line.contains("with sudo"), "{line}");
}

/// SUDO_UID that is not a number, or is (uid_t)-1: refused in one line, before clone.
pub fn refuses_hostile_sudo_ids(step: Step) {
    if !real_root_or_skip(RealRoot::MapOthers) || !as_root(step).may_run() {
        return;
    }
    let dir = subid_files("", "");
    for id in ["abc", "-1", "4294967295", "+1000", " 1000", ""] {
        let mut argv = prefix(&dir, Some(id));
        argv.extend(as_root(step).argv(&["-q", "true"]));
        let out = run(&argv);
        out.assert_status(125);
        let line = crate::one_error_line(&out);
        assert!(line.contains(&format!("SUDO_UID='{id}' is not a user or group ID")), "{line}");
        assert!(!out.stderr.contains("started container"), "must fail before clone\n{out:#?}");
    }
}

/// What the host's root may write, the container's may not: core_pattern, swappiness, the
/// pids root's cgroup.procs and, with `--pids-max`, its own limit. Probed with `test -w`.
pub fn host_out_of_reach(step: Step, args: &[&str]) {
    if !real_root_or_skip(RealRoot::MapOthers) || !as_root(step).may_run() {
        return;
    }
    let dir = subid_files("", "");
    for sudo in [None, Some("65534")] {
        let mut running = start(step, &prefix(&dir, sudo), args);
        let mut probes: Vec<String> =
            ["/proc/sys/kernel/core_pattern", "/proc/sys/vm/swappiness", "/etc/passwd"]
                .map(String::from)
                .to_vec();
        if let Some(pids) = pids_mount() {
            probes.push(pids.join("cgroup.procs").display().to_string());
        }
        if args.contains(&"--pids-max") {
            let limit = crate::cgroup::limit_dir(running.container);
            probes.extend(
                ["pids.max", "cgroup.procs", "container/cgroup.procs"]
                    .map(|f| limit.join(f).display().to_string()),
            );
        }
        for probe in &probes {
            running.send(probe);
        }
        let out = running.finish();
        out.assert_status(0);
        assert!(out.stdout.ends_with("probed\n"), "the probes did not run\n{out:#?}");
        assert!(!out.stdout.contains("writable"), "the container may write the host's files\n{out:#?}");
    }
}

/// The mount point of the v1 pids hierarchy, if the machine has one.
fn pids_mount() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mounts.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let fields: Vec<&str> = right.split(' ').collect();
        let pids = fields[0] == "cgroup" && fields.get(2)?.split(',').any(|o| o == "pids");
        pids.then(|| PathBuf::from(left.split(' ').nth(4).unwrap()))
    })
}

/// With a root filesystem made by root: the container's `chown 0` and `chmod u+s` on a copy
/// of `true` give the host a file of the mapped user, not a setuid-root one; chmod of a file
/// root owns fails; `mount -o remount,bind,rw` of the bound /etc/hosts leaves it unwritable;
/// a v1 cgroup hierarchy mounted inside (its own mount namespace) is not the container's to
/// write. The host's /dev/full, bound in, is only compared: a chmod of it would change the host's.
pub fn rootfs_attacks_fail(step: Step, args: &[&str]) {
    if !real_root_or_skip(RealRoot::MapOthers) || !as_root(step).may_run() {
        return;
    }
    let programs = ["sh", "cat", "chmod", "chown", "cp", "mkdir", "mount", "test", "true"];
    let dir = tmp::fresh_dir_for_nobody("root-started");
    let rootfs = dir.join("rootfs");
    std::fs::create_dir(&rootfs).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/mkrootfs");
    let mut argv = vec![script.display().to_string(), rootfs.display().to_string()];
    argv.extend(programs.map(String::from));
    run(&argv).assert_status(0);
    let work = rootfs.join("work");
    std::fs::create_dir(&work).unwrap();
    nix::unistd::chown(&work, Some(65534.into()), Some(65534.into())).unwrap();
    let victim = rootfs.join("etc/victim");
    std::fs::write(&victim, "victim\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let full = std::fs::metadata("/dev/full").unwrap().mode();
    let inside = "cp /bin/true /work/true; chown 0:0 /work/true; chmod 4755 /work/true
                  chmod 666 /etc/victim 2>/dev/null && echo changed: /etc/victim
                  mount -o remount,bind,rw /etc/hosts 2>/dev/null
                  test -w /etc/hosts && echo writable: /etc/hosts
                  mkdir /tmp/freezer && mount -t cgroup -o freezer freezer /tmp/freezer 2>/dev/null &&
                      for f in /tmp/freezer/cgroup.procs /tmp/freezer/*/freezer.state; do
                          [ ! -e \"$f\" ] || ! test -w \"$f\" || echo writable: $f; done
                  echo probed";
    let subid = subid_files("", "");
    let mut argv = prefix(&subid, None);
    let mut step_args = args.to_vec();
    step_args.extend(["-q", "--rootfs", rootfs.to_str().unwrap(), "sh", "-c", inside]);
    argv.extend(as_root(step).argv(&step_args));
    let out = run(&argv);
    let host_full = std::fs::metadata("/dev/full").unwrap().mode();
    assert_eq!(host_full, full, "the host's /dev/full changed mode");
    out.assert_status(0);
    assert_eq!(out.stdout, "probed\n", "the container changed what root owns\n{out:#?}");
    let planted = std::fs::metadata(work.join("true")).expect("the copy should be there");
    assert_eq!(planted.uid(), 65534, "its owner, from outside: root's would be a setuid-root program");
    assert_eq!(std::fs::metadata(&victim).unwrap().mode() & 0o7777, 0o644, "a file root owns changed mode");
}

/// Two steps run by root in PID namespaces of their own (`unshare --pid --fork`) are both PID
/// 1 there (`unshare --pid --fork --mount-proc`): each still gets a cgroup of its own, both
/// run at once, and both remove theirs.
pub fn cgroup_names_unique_across_pid_namespaces(step: Step) {
    if !real_root_or_skip(RealRoot::Cgroups) || !as_root(step).may_run() {
        return;
    }
    // --mount-proc: the step writes /proc/PID/uid_map, and PID is one of its own PID namespace.
    let mut argv: Vec<String> = ["unshare", "--pid", "--fork", "--mount-proc"].map(String::from).to_vec();
    argv.extend(as_root(step).argv(&["--pids-max", "20", "sh", "-c", "echo ready; read _; exit 0"]));
    // Running::start finds the container as the first child of what it started: here that
    // is unshare's forked child, the step itself.
    let first = Running::start(&argv);
    let second = Running::start(&argv);
    let (first, second) = (first.finish(), second.finish());
    first.assert_status(0);
    second.assert_status(0);
    for out in [&first, &second] {
        assert!(out.stderr.contains("parent: removed "), "{out:#?}");
    }
}

/// uid 0 that is not the host's root, here without CAP_SYS_ADMIN (setpriv drops it from the
/// bounding set): the step does not tell it to "run it as root (sudo ...)", which it is.
pub fn uid0_without_capability_is_told_what_is_missing(step: Step) {
    if !root_or_skip("only root can be uid 0 without CAP_SYS_ADMIN")
        || !crate::installed_or_skip(&["setpriv"])
    {
        return;
    }
    let mut argv: Vec<String> =
        ["setpriv", "--bounding-set", "-sys_admin", "--inh-caps", "-sys_admin"].map(String::from).to_vec();
    argv.extend([step.bin, "true"].map(String::from));
    let out = run(&argv);
    out.assert_status(125);
    let line = crate::one_error_line(&out);
    assert!(line.contains("uid 0 without it") && line.contains("not the host's real root"), "{line}");
    assert!(!line.contains("sudo"), "uid 0 told to use sudo: {line}");
}

/// `--pids-max` as uid 0 of a user namespace that nobody made (`unshare --user
/// --map-root-user`, as cargo xtask sandbox does), which may not write the host's cgroups:
/// the step says it is not the host's root, instead of "run as root".
pub fn pids_max_as_namespace_root_says_what_is_missing(step: Step) {
    if !root_or_skip("the test makes a user namespace to be uid 0 in") || !as_root(step).may_run() {
        return;
    }
    // The sandbox's root is that uid 0 already: the step runs as it is. The machine's root
    // makes one, as nobody.
    let mut argv = Vec::new();
    if is_real_root() {
        argv = prefix(&subid_files("", ""), None);
        argv.extend(crate::NOBODY.map(String::from));
        argv.extend(["unshare", "--user", "--map-root-user"].map(String::from));
    }
    argv.push(match is_real_root() {
        true => crate::reachable_by_nobody(step.bin).display().to_string(),
        false => step.bin.to_string(),
    });
    argv.extend(["--pids-max", "5", "true"].map(String::from));
    let out = run(&argv);
    out.assert_status(125);
    let line = crate::one_error_line(&out);
    assert!(line.contains("--pids-max needs a cgroup of its own"), "{line}");
    assert!(line.contains("uid 0 here is a user namespace's"), "{line}");
}
