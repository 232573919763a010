//! step08's lesson, a cgroup namespace in a cgroup of its own: `/` inside, the real place
//! outside, and `--pids-max N`, a limit the container cannot lift.
//!
//! The cgroup filesystem is the machine's own, whatever namespaces a test makes, and others'
//! steps, tests and soaks make cgroups in the same directories: a check that leaves a cgroup
//! behind (a step killed by SIGKILL leaves its own, by design) removes it, found by the PID of
//! the step it started, and touches no cgroup that it or its step did not make.
//! Called by the `tests/lesson.rs` and `tests/hardening.rs` of steps 08 on.

use crate::privilege::{is_real_root, real_root_or_skip, RealRoot};
use crate::step::{one_error_line, rootfs, run, sh, started_here, Running, Step};
use crate::tmp::mkdtemp;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The kernel's words for EAGAIN, which fork(2) returns at a cgroup's pids.max.
const EAGAIN_TEXT: &str = "Resource temporarily unavailable";

// --- Where the cgroups are -----------------------------------------------------------------------

/// The step's program name, which begins the name of its cgroups: `step08-cgroup-PID`.
fn program(step: Step) -> String {
    Path::new(step.bin).file_name().unwrap().to_string_lossy().into_owned()
}

/// The last mount of a cgroup hierarchy: `cgroup2`, or the v1 hierarchy with `controller`.
pub(crate) fn hierarchy(fstype: &str, controller: Option<&str>) -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mounts.lines().rev().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let fields: Vec<&str> = right.split(' ').collect();
        let has = controller.map_or(true, |c| fields.get(2).is_some_and(|o| o.split(',').any(|x| x == c)));
        (fields[0] == fstype && has).then(|| PathBuf::from(left.split(' ').nth(4).unwrap()))
    })
}

/// Where the pids controller is: the v1 pids hierarchy, or else the v2 one.
fn pids_hierarchy() -> (PathBuf, Option<&'static str>) {
    match hierarchy("cgroup", Some("pids")) {
        Some(v1) => (v1, Some("pids")),
        None => (hierarchy("cgroup2", None).expect("no cgroup hierarchy with pids"), None),
    }
}

/// The path of process `pid`'s cgroup in a hierarchy, as /proc/PID/cgroup shows it to us:
/// the `0::` line for v2, the line naming `controller` for v1.
fn cgroup_of(pid: &str, controller: Option<&str>) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let line = text.lines().find(|l| {
        let fields: Vec<&str> = l.splitn(3, ':').collect();
        controller.map_or(fields[1].is_empty(), |c| fields[1].split(',').any(|x| x == c))
    });
    line.unwrap_or_else(|| panic!("/proc/{pid}/cgroup has no line for {controller:?}:\n{text}"))
        .splitn(3, ':')
        .nth(2)
        .unwrap()
        .to_string()
}

/// The directory of the cgroup that holds the container's limit: its pids cgroup's parent.
pub(crate) fn limit_dir(container: u32) -> PathBuf {
    let (mount, controller) = pids_hierarchy();
    let path = cgroup_of(&container.to_string(), controller);
    let dir = mount.join(path.trim_start_matches('/'));
    assert!(dir.ends_with("container"), "the container is not in a cgroup of its own: {}", dir.display());
    dir.parent().unwrap().to_path_buf()
}

/// The directories the step's cgroups would be made in: our own cgroup in each hierarchy, and
/// the tutorial's own at the top of a v2-only hierarchy.
fn parents() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(v2) = hierarchy("cgroup2", None) {
        dirs.push(v2.join("namespaces-tutorial"));
        dirs.push(v2.join(cgroup_of("self", None).trim_start_matches('/')));
    }
    if let Some(pids) = hierarchy("cgroup", Some("pids")) {
        dirs.push(pids.join(cgroup_of("self", Some("pids")).trim_start_matches('/')));
    }
    dirs
}

/// Whether no process is left in the cgroup `dir` or below it.
fn unpopulated(dir: &Path) -> bool {
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    let below = std::fs::read_dir(dir).into_iter().flatten().flatten().filter(|e| e.path().is_dir());
    procs.trim().is_empty() && below.map(|e| e.path()).all(|d| unpopulated(&d))
}

/// Remove the cgroup `dir` and those below it, deepest first, once their processes are gone.
fn remove_cgroup(dir: &Path) {
    let end = Instant::now() + Duration::from_secs(10);
    while !unpopulated(dir) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.path().is_dir() {
            remove_cgroup(&entry.path());
        }
    }
    match std::fs::remove_dir(dir) {
        // Gone already: the step removed it itself after all.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        result => result.unwrap_or_else(|e| panic!("rmdir {}: {e}", dir.display())),
    }
}

/// Whether `name` is the name of a cgroup that step `program` with PID `pid` made:
/// `PROGRAM-PID`, or that followed by anything but a digit (a suffix that tells apart steps
/// with the same PID in different PID namespaces).
fn made_by(name: &str, program: &str, pid: u32) -> bool {
    let rest = name.strip_prefix(program).and_then(|r| r.strip_prefix('-'));
    let rest = rest.and_then(|r| r.strip_prefix(&pid.to_string()));
    rest.is_some_and(|r| !r.starts_with(|c: char| c.is_ascii_digit()))
}

// --- Cleaning up after a step killed by SIGKILL --------------------------------------------------

/// Run `check`, which may SIGKILL the steps it starts, and then remove the cgroups that those
/// steps left behind, found by their PIDs ([`started_here`]). Never anyone else's: other
/// tests of this binary, run in parallel, leave theirs on purpose (see
/// [`cgroup_left_after_sigkill`]), and other people's runs make theirs in the same directories.
pub fn then_remove_leftovers(step: Step, check: fn(Step)) {
    let _ = started_here();
    check(step);
    let program = program(step);
    for pid in started_here() {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == program.chars().take(15).collect::<String>() {
            continue; // still running, or its PID already taken by another step: not ours now
        }
        for parent in parents() {
            for entry in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
                if made_by(&entry.file_name().to_string_lossy(), &program, pid) {
                    remove_cgroup(&entry.path());
                }
            }
        }
    }
}

/// A cgroup named as a step with a PID no process can have (above PID_MAX_LIMIT) would name it,
/// as another run leaves one, in the directory where root's steps make theirs: a check that
/// removes its steps' leftovers, after a check that starts no step, must leave it alone.
pub fn leftovers_of_others_stay(step: Step) {
    if !step.may_run() || !real_root_or_skip(RealRoot::Cgroups) {
        return;
    }
    let Some(v2) = hierarchy("cgroup2", None) else { return };
    let top = v2.join("namespaces-tutorial");
    // Made as step08 makes it; it stays, as step08 leaves it.
    std::fs::create_dir_all(&top).unwrap();
    let theirs = top.join(format!("{}-4194305", program(step)));
    std::fs::create_dir(&theirs).unwrap_or_else(|e| panic!("mkdir {}: {e}", theirs.display()));
    then_remove_leftovers(step, |_| {});
    let survived = theirs.is_dir();
    remove_cgroup(&theirs);
    assert!(survived, "{} was removed: it was no cgroup of this check's steps", theirs.display());
}

/// The step SIGKILLed: its container dies with it, but nothing is left to remove its cgroups.
/// They stay, empty, under the name `PROGRAM-PID`; the check finds them by that name, as the
/// book says to, and removes them.
pub fn cgroup_left_after_sigkill(step: Step) {
    if !step.may_run() || !real_root_or_skip(RealRoot::Cgroups) {
        return;
    }
    let running = step.start(&["-q", "--pids-max", "5"]);
    let (container, limit) = (running.container, limit_dir(running.container));
    let name = limit.file_name().unwrap().to_string_lossy().into_owned();
    let v2 = hierarchy("cgroup2", None).unwrap();
    let view = v2.join(cgroup_of(&container.to_string(), None).trim_start_matches('/'));
    assert!(made_by(&name, &program(step), running.pid()), "{}", limit.display());
    assert!(view.parent().unwrap().ends_with(&name), "{}", view.display());
    kill(Pid::from_raw(running.pid() as i32), Signal::SIGKILL).unwrap();
    running.wait().assert_status(128 + 9);
    let end = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{container}")).exists() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = run(&["find", "/sys/fs/cgroup", "-name", &name]);
    let mut found: Vec<&str> = out.stdout.lines().collect();
    found.sort();
    let mut left = vec![limit.to_str().unwrap(), view.parent().unwrap().to_str().unwrap()];
    left.sort();
    left.dedup();
    assert_eq!(found, left, "the cgroups should stay after SIGKILL\n{out:#?}");
    for dir in left {
        assert!(unpopulated(Path::new(dir)), "{dir} should be empty: the container died with the step");
        remove_cgroup(Path::new(dir));
    }
    assert_eq!(run(&["find", "/sys/fs/cgroup", "-name", &name]).stdout, "");
}

/// `tools/soak`, in a cgroup of this check's own seen as the top of the v2 hierarchy (a cgroup
/// namespace, and cgroup2 mounted again over a tmpfs in a mount namespace), where an empty
/// cgroup named like another run's leftover, `PROGRAM-99998`, waits: the soak removes the
/// cgroups its own steps leave, never that one, which must survive it.
pub fn soak_leaves_other_cgroups_alone(step: Step) {
    if !step.may_run() || !real_root_or_skip(RealRoot::Cgroups) {
        return;
    }
    let v2 = hierarchy("cgroup2", None).expect("no cgroup2 hierarchy");
    let own = v2.join(cgroup_of("self", None).trim_start_matches('/'));
    let sandbox = mkdtemp(&own.join("testkit-soak.")).unwrap();
    // mkdtemp makes it 0700: the soak's containers, whose root is not the host's, pass through it.
    std::fs::set_permissions(&sandbox, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let theirs = sandbox.join(format!("{}-99998", program(step)));
    std::fs::create_dir(&theirs).unwrap();
    let soak = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/soak");
    let (sandbox_dir, v2_dir, soak) = (sandbox.display(), v2.display(), soak.display());
    let script = format!(
        "echo $$ > {sandbox_dir}/cgroup.procs && exec unshare --cgroup --mount sh -c \
         'mount -t tmpfs tmpfs {v2_dir} && mount -t cgroup2 cgroup2 {v2_dir} && exec \"$0\" \"$@\"' \
         {soak} 10 {}",
        step.bin
    );
    let out = run(&["sh", "-c", &script]);
    let survived = theirs.is_dir();
    remove_cgroup(&sandbox);
    out.assert_status(0);
    assert!(survived, "the soak removed {}, a cgroup its runs did not make\n{out:#?}", theirs.display());
}

/// Started in a cgroup namespace whose root is a cgroup of this check's own, below the host's
/// pids mount (`unshare --cgroup` keeps the host's mounts): /proc/self/cgroup says `/`, which
/// in that mount is the hierarchy's top. The step must not make its cgroup there, out of every
/// limit on its own: it says so in one line, 125. Only the v1 pids hierarchy is used, so a step
/// that regressed would make a top-level pids cgroup, never a memory one. On cgroup v2 only,
/// root puts the container under the tutorial's own top cgroup by design, as Docker does.
pub fn foreign_cgroup_mount_refused(step: Step) {
    if !step.may_run() || !real_root_or_skip(RealRoot::Cgroups) {
        return;
    }
    let Some(pids) = hierarchy("cgroup", Some("pids")) else {
        eprintln!(
            "skipped: no v1 pids hierarchy; on cgroup v2 root's cgroups go under the tutorial's own top"
        );
        return;
    };
    let own = pids.join(cgroup_of("self", Some("pids")).trim_start_matches('/'));
    let ns_root = mkdtemp(&own.join("testkit-cgns.")).unwrap();
    let argv = step.argv(&["-q", "--pids-max", "5", "true"]).join(" ");
    let script = format!("echo $$ > {}/cgroup.procs && exec unshare --cgroup {argv}", ns_root.display());
    let out = run(&["sh", "-c", &script]);
    remove_cgroup(&ns_root);
    out.assert_status(125);
    let line = one_error_line(&out);
    assert!(
        line.contains("from outside our cgroup namespace") && line.contains("made by unshare --cgroup"),
        "{line}"
    );
}

// --- The cgroup namespace ------------------------------------------------------------------------

/// Inside, /proc/self/cgroup shows the container's cgroup as `/`; from outside, /proc/PID/cgroup
/// shows where it really is: `PROGRAM-PID/container`, made by the step (PID is the step's) and
/// removed once the container has ended. A step that may not write the cgroup filesystem (as
/// nobody) says so in one line and makes the namespace only, rooted in its own cgroup.
pub fn cgroup_is_root_inside(step: Step) {
    if !step.may_run() {
        return;
    }
    let script = "echo ready; read _; grep '^0::' /proc/self/cgroup";
    let running = Running::start(&step.argv(&["sh", "-c", script]));
    let outside = cgroup_of(&running.container.to_string(), None);
    let v2 = hierarchy("cgroup2", None).expect("no cgroup2 hierarchy");
    let dir = v2.join(outside.trim_start_matches('/'));
    let made = outside
        .strip_suffix("/container")
        .and_then(|o| o.rsplit('/').next())
        .is_some_and(|name| made_by(name, &program(step), running.pid()));
    assert!(made || outside == cgroup_of("self", None), "the container is in {outside}");
    assert!(dir.is_dir(), "{} should exist while the container runs", dir.display());
    let out = running.finish();
    out.assert_status(0);
    assert_eq!(out.stdout, "0::/\n", "inside, the container's cgroup is /\n{out:#?}");
    let why: Vec<&str> = out.stderr.lines().filter(|l| l.contains("no cgroup of its own")).collect();
    if step.as_nobody && is_real_root() {
        assert!(!made, "nobody may not make cgroups here");
        assert_eq!(why.len(), 1, "one line should say why there is no cgroup\n{out:#?}");
        assert!(why[0].contains("is not writable by uid 65534"), "{}", why[0]);
    }
    if made {
        assert!(why.is_empty(), "{out:#?}");
        assert!(!dir.parent().unwrap().exists(), "{} should be removed after the container", dir.display());
        assert!(out.stderr.contains("parent: removed "), "{out:#?}");
    }
}

/// With `--rootfs`, /sys/fs/cgroup inside is a cgroup2 filesystem of the container's own
/// subtree: mounted read-only, its root the container's cgroup (from outside, the mount's root
/// is `PROGRAM-PID/container`), with no cgroup of the host in it.
pub fn cgroup_view_with_rootfs(step: Step) {
    if !step.may_run() || !real_root_or_skip(RealRoot::Cgroups) {
        return;
    }
    let rootfs = rootfs();
    let script = "echo ready; read _
                  grep ' /sys/fs/cgroup ' /proc/self/mountinfo
                  for d in /sys/fs/cgroup/*; do [ -d \"$d\" ] && echo \"subdirectory $d\"; done
                  grep -qx 1 /sys/fs/cgroup/cgroup.procs && echo pid1-is-in-it
                  mkdir /sys/fs/cgroup/x 2>&1 || true";
    let running =
        Running::start(&step.argv(&["-q", "--rootfs", rootfs.to_str().unwrap(), "sh", "-c", script]));
    let theirs = std::fs::read_to_string(format!("/proc/{}/mountinfo", running.container)).unwrap();
    let out = running.finish();
    out.assert_status(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{out:#?}");
    let fields: Vec<&str> = lines[0].split(' ').collect();
    assert_eq!(&fields[3..5], ["/", "/sys/fs/cgroup"], "its root should be / inside\n{out:#?}");
    assert!(fields[5].starts_with("ro,") && lines[0].contains(" - cgroup2 "), "{out:#?}");
    assert_eq!(lines[1], "pid1-is-in-it", "no cgroup of the host should show inside\n{out:#?}");
    assert!(lines[2].ends_with("Read-only file system"), "{out:#?}");
    let outside = theirs.lines().find(|l| l.contains(" /sys/fs/cgroup ")).expect("no cgroup mount");
    let root = outside.split(' ').nth(3).unwrap();
    assert!(root.ends_with("/container") && root.contains(&program(step)), "from outside: {outside}");
}

// --- The pids limit ------------------------------------------------------------------------------

/// `--pids-max 20`, and a bash loop that starts 50 `sleep 1 &`: the kernel refuses the forks
/// past 20 processes with EAGAIN (bash says so, and tries again), seen from outside in the
/// limit's pids.current and pids.events; meanwhile the host forks as it likes.
pub fn pids_limit_holds(step: Step) {
    if !step.may_run() || !real_root_or_skip(RealRoot::Cgroups) {
        return;
    }
    let script = "echo ready; for i in $(seq 50); do sleep 1 & done; wait; echo started $i";
    let running = Running::start(&step.argv(&["-q", "--pids-max", "20", "bash", "-c", script]));
    let dir = limit_dir(running.container);
    assert_eq!(std::fs::read_to_string(dir.join("pids.max")).unwrap(), "20\n");
    let (mut most, mut refused, mut host) = (0, 0, None);
    let end = Instant::now() + Duration::from_secs(60);
    while let (Ok(current), true) = (std::fs::read_to_string(dir.join("pids.current")), Instant::now() < end)
    {
        most = most.max(current.trim().parse().unwrap_or(0));
        // v2 counts a refused fork where the limit is, v1 where the process is.
        for events in [dir.join("pids.events"), dir.join("container/pids.events")] {
            let events = std::fs::read_to_string(events).unwrap_or_default();
            refused = refused.max(events.trim().trim_start_matches("max ").parse().unwrap_or(0));
        }
        if most == 20 && host.is_none() {
            host = Some(sh("for i in $(seq 30); do sleep 0 & done; wait; echo host-forks"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let out = running.wait();
    // On a loaded machine bash may give up instead: a fork it retried was interrupted by a
    // signal ("fork: Interrupted system call", status 254). The limit held all the same, as
    // the counts read from outside below show; only the loop's own end is not reached.
    if !(out.status == 254 && out.stderr.contains("fork: Interrupted system call")) {
        out.assert_status(0);
        assert_eq!(out.stdout, "started 50\n", "{out:#?}");
    }
    assert!(out.stderr.contains(&format!("fork: retry: {EAGAIN_TEXT}")), "{out:#?}");
    assert_eq!(most, 20, "at most 20 processes, and 20 reached");
    assert!(refused > 0, "pids.events should count the refused forks");
    let host = host.expect("the container never reached its limit");
    assert_eq!((host.status, host.stdout.as_str(), host.stderr.as_str()), (0, "host-forks\n", ""));
    assert!(!dir.exists(), "{} should be removed after the container", dir.display());
}

/// Root in its own user and cgroup namespaces, with a root filesystem: the container mounts the
/// pids hierarchy again, read-write, and sets its own cgroup's pids.max to `max`, and remounts
/// /sys/fs/cgroup read-write; the limit, one level up, out of its reach, still holds.
pub fn container_cannot_lift_its_limit(step: Step) {
    if !step.may_run() || !real_root_or_skip(RealRoot::Cgroups) {
        return;
    }
    let rootfs = rootfs();
    // Run inside the container, whose /tmp is a tmpfs of its own: no path of the host's /tmp.
    let script = "mkdir /tmp/p
                  mount -t cgroup -o pids none /tmp/p 2>/dev/null || mount -t cgroup2 none /tmp/p
                  [ -e /tmp/p/pids.max ] && echo max > /tmp/p/pids.max && echo own-pids.max-is-max
                  mount -o remount,bind,rw /sys/fs/cgroup && echo remounted-read-write
                  for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 30 & done
                  echo started all";
    let out = step.run(&["-q", "--pids-max", "8", "--rootfs", rootfs.to_str().unwrap(), "sh", "-c", script]);
    assert!(out.stdout.contains("remounted-read-write"), "{out:#?}");
    assert!(!out.stdout.contains("started all"), "the limit was lifted\n{out:#?}");
    assert!(out.stderr.contains("Cannot fork") || out.stderr.contains(EAGAIN_TEXT), "{out:#?}");
}

/// Bad values for `--pids-max`: one line, 125, nothing started. Run by nobody, who may not
/// make a cgroup here, `--pids-max` is one line and 125 too.
pub fn pids_max_errors(step: Step) {
    for value in ["0", "-1", "abc", "4194305", ""] {
        let out = step.before_start().run(&["--pids-max", value, "true"]);
        out.assert_status(125);
        let line = one_error_line(&out);
        let says = format!("--pids-max takes a number of processes from 1 to 4194304, not '{value}'");
        assert!(line.contains(&says), "{line}");
        assert!(!out.stderr.contains("started container"), "{out:#?}");
    }
    if !step.may_run() || !real_root_or_skip(RealRoot::Nobody) {
        return;
    }
    let out = Step { as_nobody: true, ..step }.run(&["--pids-max", "20", "true"]);
    out.assert_status(125);
    let line = one_error_line(&out);
    assert!(line.contains("--pids-max needs a cgroup of its own, and /sys/fs/cgroup/"), "{line}");
    assert!(line.contains("is not writable by uid 65534"), "{line}");
    assert_eq!(out.stderr.lines().count(), 1, "nothing but the error\n{out:#?}");
}
