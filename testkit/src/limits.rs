//! The checks of step10 (`--memory` and `--cpus`, in the container's cgroup): the limits'
//! files from outside, the article's two experiments (a busy loop held to a fifth of a CPU, a
//! hog ended by the OOM killer), what the parent reports, and bad values. Called by the
//! `tests/lesson.rs` and `tests/hardening.rs` of steps 10 on.
//!
//! The cgroup filesystem is the machine's own: these checks read the step's cgroups and write
//! none; memory tests allocate at most 300 MiB, and only under a limit of 64 MiB.

use crate::cgroup::hierarchy;
use crate::one_error_line;
use crate::{is_root, real_root_or_skip, RealRoot, Running, Step};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `--memory 64m`, in bytes.
const MIB_64: u64 = 64 << 20;
/// A hog bounded by `head`, so that a limit that regressed costs 300 MiB, not the machine:
/// `tail -n 1` keeps a line in memory until it ends, and /dev/zero has no newline. Its status
/// is tail's: 137 when the OOM killer ends it with SIGKILL, 0 when it gets its 300 MiB.
const HOG: &str = "head -c 300m /dev/zero | tail -n 1 > /dev/null";

/// The directory of process `pid`'s cgroup where `controller` is: its v1 hierarchy if there is
/// one, else v2. `pid` may be `self`.
fn cgroup_dir(pid: &str, controller: &str) -> PathBuf {
    let v1 = hierarchy("cgroup", Some(controller));
    let mount = v1.clone().or_else(|| hierarchy("cgroup2", None)).expect("no cgroup hierarchy");
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let path = text
        .lines()
        .map(|l| l.splitn(3, ':').collect::<Vec<_>>())
        .find(|f| if v1.is_some() { f[1].split(',').any(|c| c == controller) } else { f[1].is_empty() })
        .unwrap_or_else(|| panic!("/proc/{pid}/cgroup has no line for {controller}:\n{text}"))[2]
        .to_string();
    mount.join(path.trim_start_matches('/'))
}

/// The cgroup that holds the container's limit for `controller`: the one above its own.
fn limit_dir(container: u32, controller: &str) -> PathBuf {
    let dir = cgroup_dir(&container.to_string(), controller);
    assert!(
        dir.ends_with("container"),
        "the container has no {controller} cgroup of its own: {}",
        dir.display()
    );
    dir.parent().unwrap().to_path_buf()
}

/// A cgroup file's content, trimmed.
fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .trim()
        .to_string()
}

/// The number on the line `key N` of a cgroup file such as cpu.stat.
fn stat(path: &Path, key: &str) -> u64 {
    let text = read(path);
    let value = text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(' '));
    value
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{} has no {key}:\n{text}", path.display()))
}

/// For a check that ends before the step starts anything: as root, the step as it is; as an
/// ordinary user, without its wrapper (`unshare --net` needs root).
fn before_start(step: Step) -> Step {
    if is_root() {
        step
    } else {
        Step { wrap: &[], ..step }
    }
}

/// From outside, the limits are in the cgroup above the container's, as the docs name them
/// (`memory.limit_in_bytes` or `memory.max`, `cpu.cfs_quota_us` or `cpu.max`), and the
/// container's memory cgroup is below ours, wherever that is (here, below the machine's own
/// `/process_api/ID`), so every limit above ours still holds. Once it has ended, they are gone.
pub fn limits_seen_from_outside(step: Step) {
    if !step.may_run() || !real_root_or_skip(RealRoot::Cgroups) {
        return;
    }
    let running = step.start(&["-q", "--memory", "64m", "--cpus", "0.5"]);
    let memory = limit_dir(running.container, "memory");
    let cpu = limit_dir(running.container, "cpu");
    if memory.join("memory.limit_in_bytes").exists() {
        assert_eq!(read(&memory.join("memory.limit_in_bytes")), MIB_64.to_string());
        if memory.join("memory.memsw.limit_in_bytes").exists() {
            assert_eq!(read(&memory.join("memory.memsw.limit_in_bytes")), MIB_64.to_string(), "no swap");
        }
        assert_eq!(read(&cpu.join("cpu.cfs_quota_us")), "50000");
        assert_eq!(read(&cpu.join("cpu.cfs_period_us")), "100000");
    } else {
        assert_eq!(read(&memory.join("memory.max")), MIB_64.to_string());
        assert_eq!(read(&cpu.join("cpu.max")), "50000 100000");
    }
    // On v1 the memory limit goes below our own memory cgroup, so the machine's limits above it
    // still hold; on v2 it goes where step08 puts its cgroups (root's are under
    // namespaces-tutorial), as the kernel nests every controller in the one hierarchy.
    let ours = cgroup_dir("self", "memory");
    let v1 = memory.join("memory.limit_in_bytes").exists();
    assert!(
        !v1 || (memory.starts_with(&ours) && memory != ours),
        "{} is not below ours, {}",
        memory.display(),
        ours.display()
    );
    running.finish().assert_status(0);
    assert!(!memory.exists() && !cpu.exists(), "the step left {} or {}", memory.display(), cpu.display());
}

/// The article's first experiment: two busy loops under `--cpus 0.2` get about a fifth of one
/// CPU between them. Measured from outside, in the cgroup's own accounting over three seconds:
/// at most 0.3 CPUs (a generous band: the machine may be busy, so no lower bound but the
/// throttling), and the kernel throttled the cgroup (`nr_throttled`), which it never does
/// without a quota. Then the parent's report.
pub fn cpu_limit_holds(step: Step) {
    if !step.may_run() || !real_root_or_skip(RealRoot::Cgroups) {
        return;
    }
    let script = "sh -c 'while :; do :; done' & sh -c 'while :; do :; done' & echo ready; read _";
    let running = Running::start(&step.argv(&["--cpus", "0.2", "sh", "-c", script]));
    let cpu = limit_dir(running.container, "cpu");
    let usage = |dir: &Path| match dir.join("cpuacct.usage").exists() {
        true => read(&dir.join("cpuacct.usage")).parse::<u64>().unwrap(),
        false => stat(&dir.join("cpu.stat"), "usage_usec") * 1000,
    };
    let account = match hierarchy("cgroup", Some("cpuacct")) {
        Some(_) => limit_dir(running.container, "cpuacct"),
        None => cpu.clone(),
    };
    std::thread::sleep(Duration::from_millis(500));
    let (start, used_before) = (Instant::now(), usage(&account));
    std::thread::sleep(Duration::from_secs(3));
    let share = (usage(&account) - used_before) as f64 / 1e9 / start.elapsed().as_secs_f64();
    let throttled = stat(&cpu.join("cpu.stat"), "nr_throttled");
    let out = running.finish();
    assert!(share <= 0.3, "two busy loops under --cpus 0.2 used {share:.2} CPUs\n{out:#?}");
    assert!(throttled > 0, "the kernel never throttled the cgroup (used {share:.2} CPUs)\n{out:#?}");
    assert!(out.stderr.contains("s of CPU time, throttled "), "no report of the CPU used\n{out:#?}");
}

/// The article's second experiment: a process that keeps allocating under `--memory 64m` is
/// ended by the kernel's OOM killer, SIGKILL, so the status is 137, as with `docker run`, and
/// the parent says so; its peak is the limit. The same, allocating less, runs to its end.
pub fn oom_killer_ends_hog(step: Step) {
    if !step.may_run() || !real_root_or_skip(RealRoot::Cgroups) {
        return;
    }
    let small = step.run(&["--memory", "64m", "sh", "-c", "head -c 10m /dev/zero | tail -n 1 | wc -c"]);
    small.assert_status(0);
    assert_eq!(small.stdout.trim(), "10485760", "{small:#?}");
    assert!(!small.stderr.contains("OOM killer"), "{small:#?}");
    let out = step.run(&["--memory", "64m", "sh", "-c", HOG]);
    out.assert_status(137);
    let killed = out.stderr.lines().find(|l| l.contains("OOM killer ended"));
    assert!(killed.is_some(), "the parent did not say the OOM killer ended a process\n{out:#?}");
    let report = out.stderr.lines().find(|l| l.contains("MiB of memory at most")).unwrap_or_default();
    let peak: f64 =
        report.split("used ").nth(1).and_then(|r| r.split(' ').next()?.parse().ok()).unwrap_or(-1.0);
    assert!((32.0..=64.5).contains(&peak), "peak {peak} MiB under --memory 64m\n{out:#?}");
}

/// Bad values are one line and 125, before anything starts: sizes below 6m (the kernel takes
/// any, and a tiny one has the OOM killer end the command before it runs), unit typos, and
/// more CPUs than the machine has (Docker refuses those too).
pub fn limit_errors(step: Step) {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let too_many = (cpus + 1).to_string();
    let bad: [(&str, &str); 11] = [
        ("--memory", "0"),
        ("--memory", "-1"),
        ("--memory", "64x"),
        ("--memory", "5m"),
        ("--memory", ""),
        ("--memory", "99999999999g"),
        ("--cpus", "0"),
        ("--cpus", "-0.5"),
        ("--cpus", "abc"),
        ("--cpus", "0.001"),
        ("--cpus", &too_many),
    ];
    for (option, value) in bad {
        let out = before_start(step).run(&[option, value, "echo", "the command ran"]);
        out.assert_status(125);
        let line = one_error_line(&out);
        assert!(
            line.contains(&format!("{option} takes ")) && line.contains(&format!("not '{value}'")),
            "{line}"
        );
        assert!(!out.stderr.contains("started container"), "{out:#?}");
    }
}

/// Run by nobody, who may not make a cgroup here: the command runs, without limits, and the
/// step says why in one line.
pub fn no_limits_as_nobody(step: Step) {
    if !step.may_run() || !real_root_or_skip(RealRoot::Nobody) {
        return;
    }
    let out = Step { as_nobody: true, ..step }.run(&["--memory", "64m", "--cpus", "0.5", "echo", "ran"]);
    out.assert_status(0);
    assert_eq!(out.stdout, "ran\n");
    let said: Vec<&str> = out.stderr.lines().filter(|l| l.contains("no --memory or --cpus limit")).collect();
    assert_eq!(said.len(), 1, "{out:#?}");
    assert!(said[0].contains("is not writable by uid 65534"), "{}", said[0]);
}

/// With a root filesystem, the container mounts the memory hierarchy itself and lifts the limit
/// of its own cgroup, the namespace's root: the limit above it still holds, and the hog is
/// ended all the same.
pub fn container_cannot_lift_memory_limit(step: Step) {
    if !step.may_run() || !real_root_or_skip(RealRoot::Cgroups) {
        return;
    }
    let rootfs = crate::rootfs();
    let script = format!(
        "mkdir /tmp/m
         if mount -t cgroup -o memory none /tmp/m 2>/dev/null; then f=memory.limit_in_bytes; v=-1
         else mount -t cgroup2 none /tmp/m; f=memory.max; v=max; fi
         echo $v > /tmp/m/$f && echo lifted its own $f
         {HOG}"
    );
    let out = step.run(&["-q", "--memory", "64m", "--rootfs", rootfs.to_str().unwrap(), "sh", "-c", &script]);
    // Run by root, the container's root is not the host's (step06), so the kernel refuses it
    // its own cgroup's files too; were it ever let in, the limit one level up still holds.
    let refused = out.stderr.contains("/tmp/m/memory") && out.stderr.contains("Permission denied");
    assert!(out.stdout.contains("lifted its own") || refused, "{out:#?}");
    assert_eq!(out.status, 137, "the hog got its 300 MiB: the limit was lifted\n{out:#?}");
}
