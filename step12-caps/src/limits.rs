//! Memory and CPU limits, `--memory SIZE` and `--cpus N`, as CoolShell's "Docker基础技术：Linux
//! CGroup" shows them: files written in the cgroup above the container's, where step08 writes
//! `pids.max`, and read again when the container has ended, to say what it used.
//!
//! cgroup v2 has one file per limit in the one hierarchy (`memory.max`, `cpu.max`); cgroup v1
//! has a hierarchy per controller, each with its own files (`memory.limit_in_bytes` in the
//! memory hierarchy, `cpu.cfs_quota_us` in the cpu one), and the container needs a cgroup in
//! each. cgroups(7): <https://man7.org/linux/man-pages/man7/cgroups.7.html>; the files:
//! <https://docs.kernel.org/admin-guide/cgroup-v2.html>.

use crate::cgroup::{enable, write, Cgroup, Place, CONTAINER};
use anyhow::{bail, Result};
use common::cgroupfs::{hierarchy, own_dir};
use common::{say, Args};
use nix::unistd::{access, geteuid, AccessFlags};
use std::path::{Path, PathBuf};

/// The period of the CPU limit, in microseconds: `--cpus 0.2` is 20 ms of CPU time in every
/// 100 ms, as Docker sets it.
const PERIOD_US: u64 = 100_000;
/// The smallest `--memory`, as Docker's: the kernel accepts any value (`0` included), and a
/// limit below what a process needs to start has the OOM killer end it at once.
const MEMORY_MIN: u64 = 6 << 20;

/// One file written in the cgroup that holds the limits; `optional` where the kernel may not
/// have it (swap accounting is a build and boot option).
pub struct Setting {
    file: &'static str,
    value: String,
    optional: bool,
}

// ANCHOR: options
/// `--memory SIZE`: bytes, or a whole number with `k`, `m` or `g`, as `docker run --memory`.
fn memory(args: &Args) -> Result<Option<u64>> {
    let Some(value) = args.value("--memory") else {
        return Ok(None);
    };
    let text = value.to_string_lossy();
    let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => Some(0),
        "k" => Some(10),
        "m" => Some(20),
        "g" => Some(30),
        _ => None,
    };
    let bytes = digits.parse::<u64>().ok().zip(shift).and_then(|(n, shift)| n.checked_mul(1 << shift));
    match bytes {
        Some(bytes) if (MEMORY_MIN..=i64::MAX as u64).contains(&bytes) => Ok(Some(bytes)),
        _ => bail!("--memory takes a size of at least 6m (bytes, or a number with k, m or g), not '{text}'"),
    }
}

/// `--cpus N`: a share of one CPU, `0.2` for a fifth, as `docker run --cpus`; like Docker,
/// from 0.01 (the kernel's smallest quota, 1 ms per period) to the CPUs this machine has.
fn cpu_quota(args: &Args) -> Result<Option<u64>> {
    let Some(value) = args.value("--cpus") else {
        return Ok(None);
    };
    let text = value.to_string_lossy();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.01 && n <= cpus as f64 => {
            Ok(Some((n * PERIOD_US as f64).round() as u64))
        }
        _ => bail!(
            "--cpus takes a number of CPUs from 0.01 to {cpus}, as this machine has {cpus}, not '{text}'"
        ),
    }
}
// ANCHOR_END: options

/// Whether the step was asked for a limit of this module's.
pub fn asked(args: &Args) -> bool {
    args.value("--memory").is_some() || args.value("--cpus").is_some()
}

// ANCHOR: place
/// Add the limits to the places `Cgroup::create` makes cgroups in: on cgroup v2, to the one
/// v2 place; on v1, a place in each of the memory, cpu and cpuacct hierarchies (cpuacct counts
/// the CPU time we report; it is often mounted with cpu). Each goes under our own cgroup there:
/// where that is not the hierarchy's root (a systemd slice, a CI runner's cgroup), its limits
/// keep holding over the container's. A place we may not write gets no limits, and says why.
pub fn place(args: &Args, places: &mut Vec<Place>) -> Result<()> {
    let (memory, quota) = (memory(args)?, cpu_quota(args)?);
    if memory.is_none() && quota.is_none() {
        return Ok(());
    }
    let v1 = |c| hierarchy("cgroup", Some(c)).map(|mount| (mount, c));
    let mut wanted: Vec<(PathBuf, &'static str)> = Vec::new();
    for (mount, controller) in [v1("memory"), v1("cpu"), v1("cpuacct")].into_iter().flatten() {
        match wanted.iter_mut().find(|(m, _)| *m == mount) {
            Some(same) => same.1 = "cpu,cpuacct", // one hierarchy with both controllers
            None => wanted.push((mount, controller)),
        }
    }
    let parents: Vec<PathBuf> =
        wanted.iter().map(|(mount, c)| own_dir(mount, c.split(',').next())).collect::<Result<_>>()?;
    if !parents.iter().all(|parent| writable(parent)) {
        return Ok(());
    }
    for ((mount, controller), parent) in wanted.into_iter().zip(parents) {
        let settings = match controller {
            "memory" => memory.map(v1_memory).unwrap_or_default(),
            "cpu" | "cpu,cpuacct" => quota.map(v1_cpu).unwrap_or_default(),
            _ => Vec::new(),
        };
        let label = match controller {
            "memory" => "memory:",
            "cpu" => "cpu:",
            "cpuacct" => "cpuacct:",
            _ => "cpu,cpuacct:",
        };
        places.push(Place { mount, label, parent, limit: None, settings });
    }
    let memory_on_v1 = hierarchy("cgroup", Some("memory")).is_some();
    let cpu_on_v1 = hierarchy("cgroup", Some("cpu")).is_some();
    if (memory.is_none() || memory_on_v1) && (quota.is_none() || cpu_on_v1) {
        return Ok(());
    }
    let Some(v2) = places.iter_mut().find(|place| place.label == "0::") else {
        bail!("--memory and --cpus: this kernel has no memory or cpu controller mounted (see /proc/cgroups)");
    };
    if !writable(&v2.parent) {
        return Ok(());
    }
    if let (Some(bytes), false) = (memory, memory_on_v1) {
        enable(&v2.parent, "memory")?;
        v2.settings.push(Setting { file: "memory.max", value: bytes.to_string(), optional: false });
        // Without this, memory over the limit goes to swap, and the container goes on, slowly.
        v2.settings.push(Setting { file: "memory.swap.max", value: "0".into(), optional: true });
    }
    if let (Some(quota), false) = (quota, cpu_on_v1) {
        enable(&v2.parent, "cpu")?;
        v2.settings.push(Setting { file: "cpu.max", value: format!("{quota} {PERIOD_US}"), optional: false });
    }
    Ok(())
}

/// cgroup v1's memory limit; the same value for memory + swap, so that none of it is swap.
fn v1_memory(bytes: u64) -> Vec<Setting> {
    vec![
        Setting { file: "memory.limit_in_bytes", value: bytes.to_string(), optional: false },
        Setting { file: "memory.memsw.limit_in_bytes", value: bytes.to_string(), optional: true },
    ]
}

/// cgroup v1's CPU limit: at most `quota` microseconds of CPU time in every period.
fn v1_cpu(quota: u64) -> Vec<Setting> {
    vec![
        Setting { file: "cpu.cfs_period_us", value: PERIOD_US.to_string(), optional: false },
        Setting { file: "cpu.cfs_quota_us", value: quota.to_string(), optional: false },
    ]
}
// ANCHOR_END: place

/// Whether we may make a cgroup in `parent`; if not, say that the container runs without
/// limits, and why, once.
fn writable(parent: &Path) -> bool {
    if access(parent, AccessFlags::W_OK).is_ok() {
        return true;
    }
    say!(
        "parent: no --memory or --cpus limit: {} is not writable by uid {}; run as root, or where a \
         cgroup subtree is delegated to you",
        parent.display(),
        geteuid()
    );
    false
}

// ANCHOR: apply
/// Write the limits in the cgroup `dir`, just made, before the container is in it.
pub fn apply(dir: &Path, settings: &[Setting]) -> Result<()> {
    let mut written = Vec::new();
    for setting in settings {
        let path = dir.join(setting.file);
        if setting.optional && !path.exists() {
            continue; // no swap accounting in this kernel: no swap to limit
        }
        write(&path, &setting.value)?;
        written.push(format!("{} {}", setting.file, setting.value));
    }
    if !written.is_empty() {
        say!("parent: wrote {} in {}", written.join(", "), dir.display());
    }
    Ok(())
}
// ANCHOR_END: apply

// ANCHOR: report
/// Once the container has ended: what it used, from the cgroups that held its limits, in one
/// line, and whether the kernel's OOM killer ended a process of it.
pub fn report(args: &Args, cgroup: &Cgroup) {
    if !asked(args) {
        return;
    }
    let dirs: Vec<&Path> = cgroup.made.iter().map(|made| made.dir.as_path()).collect();
    let dirs = &dirs[..];
    let peak = read(dirs, "memory.peak", None).or(read(dirs, "memory.max_usage_in_bytes", None));
    let cpu_ns =
        read(dirs, "cpuacct.usage", None).or(read(dirs, "cpu.stat", Some("usage_usec")).map(|us| us * 1000));
    let throttled_ns =
        read(dirs, "cpu.stat", Some("throttled_time"))
            .or(read(dirs, "cpu.stat", Some("throttled_usec")).map(|us| us * 1000));
    let periods = read(dirs, "cpu.stat", Some("nr_throttled"));
    let mut used = Vec::new();
    if let Some(bytes) = peak {
        used.push(format!("{:.1} MiB of memory at most", bytes as f64 / (1 << 20) as f64));
    }
    if let Some(ns) = cpu_ns {
        used.push(format!("{:.2} s of CPU time", ns as f64 / 1e9));
    }
    if let (Some(ns), Some(n), Some(_)) = (throttled_ns, periods, args.value("--cpus")) {
        used.push(format!("throttled {:.2} s, in {n} periods", ns as f64 / 1e9));
    }
    if !used.is_empty() {
        say!("parent: the container used {}", used.join(", "));
    }
    // v2 counts OOM kills in every cgroup above the process (memory.events); v1 only in the
    // process's own cgroup, the container's (memory.oom_control).
    let below: Vec<PathBuf> = dirs.iter().map(|d| d.join(CONTAINER)).collect();
    let below: Vec<&Path> = below.iter().map(PathBuf::as_path).collect();
    let killed = read(dirs, "memory.events", Some("oom_kill")).or(read(
        &below,
        "memory.oom_control",
        Some("oom_kill"),
    ));
    if let Some(n) = killed.filter(|&n| n > 0) {
        say!("parent: the kernel's OOM killer ended {n} process(es) in the container: it reached its --memory limit");
    }
}

/// A number from the first of `dirs` that has `file`: its content, or the value on its line
/// `key VALUE`.
fn read(dirs: &[&Path], file: &str, key: Option<&str>) -> Option<u64> {
    dirs.iter().find_map(|dir| {
        let text = std::fs::read_to_string(dir.join(file)).ok()?;
        match key {
            None => text.trim().parse().ok(),
            Some(key) => {
                text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
            }
        }
    })
}
// ANCHOR_END: report
