//! `cargo xtask reset`: remove what the steps leave on a host by design, and report the rest.
//!
//! By design, step07 leaves one thing behind: the bridge `lxcbr0`, like `docker0`. Reset
//! removes it, as root, if it is a bridge with step07's address (192.168.10.1/24) and no port
//! left (a port is a running container's veth). Everything else it finds, it reports with the command that removes it, and leaves
//! alone, because the steps do not make it on purpose and it may be someone's: a `vethB-N`
//! veth, a mount under the workspace, a `/tmp/namespaces-*` directory of yours, a layer
//! (`/tmp/container-layer.*`) a killed step11, 12 or 13 left, a step of yours still running.
//! Steps 12 and 13 leave nothing new: their masks, their /dev and their seccomp filter live in
//! the container's own mount namespace and process, and go with them.
//! It never kills a process.
//!
//! It asks `ip` rather than /sys/class/net: /sys shows the network namespace of whoever
//! mounted it, so inside `unshare --net` it still shows the host's interfaces.

use anyhow::{Context, Result};
use std::path::Path;
use std::process::Command;

/// The bridge step07 makes. Its veths' host ends are `vethB-N`, B the bridge's interface index.
const BRIDGE: &str = "lxcbr0";
/// The address step07 gives it (the default --subnet's first). LXC's default bridge is also
/// called lxcbr0, with 10.0.3.1/24: a bridge without our address is not ours to remove.
const ADDRESS: &str = "192.168.10.1/24";

/// What reset did and found, one line each, and whether anything it should remove is left.
pub struct Outcome {
    pub lines: Vec<String>,
    pub left: bool,
}

/// `cargo xtask reset`: clean, say what was done and found on stderr, and exit 1 if something
/// it should remove is left.
pub fn run(root: &Path) -> Result<()> {
    let outcome = clean(root)?;
    for line in &outcome.lines {
        eprintln!("xtask reset: {line}");
    }
    if outcome.left {
        std::process::exit(1);
    }
    Ok(())
}

/// Remove the bridge if we may, and report everything else.
pub fn clean(root: &Path) -> Result<Outcome> {
    let mut out = Outcome { lines: Vec::new(), left: false };
    bridge(&mut out)?;
    veths(&mut out)?;
    mounts(root, &mut out);
    tmp_dirs(&mut out);
    running_steps(&mut out);
    if out.lines.is_empty() {
        out.lines.push("nothing left by the steps here".into());
    }
    Ok(out)
}

/// `ip ARGS`, its stdout; `None` if `ip` is not installed.
fn ip(args: &[&str]) -> Result<Option<String>> {
    match Command::new("ip").args(args).output() {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).context("running ip"),
        Ok(out) => Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned())),
    }
}

/// The interface names in `ip -o link` output: "4: lxcbr0-2@if3: <...>" -> ("lxcbr0-2", "if3").
fn links(listing: &str) -> Vec<(String, String)> {
    listing
        .lines()
        .filter_map(|l| {
            let name = l.split(": ").nth(1)?;
            let (name, peer) = name.split_once('@').unwrap_or((name, ""));
            Some((name.to_string(), peer.to_string()))
        })
        .collect()
}

/// The bridge: removed if it is one, has no port, and we may.
fn bridge(out: &mut Outcome) -> Result<()> {
    let Some(all) = ip(&["-o", "link", "show"])? else {
        out.lines.push("ip is not installed, so no interface was checked (sudo apt install iproute2)".into());
        return Ok(());
    };
    if !links(&all).iter().any(|(name, _)| name == BRIDGE) {
        return Ok(());
    }
    let bridges = ip(&["-o", "link", "show", "type", "bridge"])?.unwrap_or_default();
    if !links(&bridges).iter().any(|(name, _)| name == BRIDGE) {
        out.lines.push(format!("{BRIDGE} is there but is not a bridge: not step07's, left alone"));
        return Ok(());
    }
    let addresses = ip(&["-o", "-4", "addr", "show", "dev", BRIDGE])?.unwrap_or_default();
    if !addresses.split_whitespace().any(|word| word == ADDRESS) {
        out.lines.push(format!(
            "{BRIDGE} does not carry step07's address {ADDRESS}: not step07's (LXC's is called \
             {BRIDGE} too), left alone"
        ));
        return Ok(());
    }
    let ports: Vec<String> = links(&ip(&["-o", "link", "show", "master", BRIDGE])?.unwrap_or_default())
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    if !ports.is_empty() {
        out.lines.push(format!(
            "the bridge {BRIDGE} still has ports ({}): a container is running on it; left alone",
            ports.join(", ")
        ));
        return Ok(());
    }
    // Deleting an interface needs CAP_NET_ADMIN over its network namespace: root on the host,
    // or root in the sandbox, whose network it is.
    if !nix::unistd::geteuid().is_root() {
        out.lines.push(format!(
            "the bridge {BRIDGE} is left from step07; removing it needs root: sudo ip link del {BRIDGE}"
        ));
        out.left = true;
        return Ok(());
    }
    let del = Command::new("ip").args(["link", "del", BRIDGE]).output().context("running ip link del")?;
    if del.status.success() {
        out.lines.push(format!("removed the bridge {BRIDGE}, left by step07: ip link del {BRIDGE}"));
    } else {
        out.lines.push(format!(
            "could not remove the bridge {BRIDGE}: ip link del {BRIDGE}: {}",
            String::from_utf8_lossy(&del.stderr).trim()
        ));
        out.left = true;
    }
    Ok(())
}

/// Host ends of step07's veth pairs (`vethB-N`): a running container's, or one whose peer is gone.
fn veths(out: &mut Outcome) -> Result<()> {
    let all = ip(&["-o", "link", "show"])?.unwrap_or_default();
    for (name, peer) in links(&all) {
        if !is_step_veth(&name) {
            continue;
        }
        if peer == "NONE" || peer.is_empty() {
            out.lines.push(format!(
                "{name}: step07's name for a veth, with no peer: remove it with: sudo ip link del {name}"
            ));
        } else {
            out.lines.push(format!(
                "{name}: the host end of a running container's veth: it goes when that container ends"
            ));
        }
    }
    Ok(())
}

/// Whether `name` is step07's name for a veth's host end: `vethB-N`, two numbers.
fn is_step_veth(name: &str) -> bool {
    let numbers = name.strip_prefix("veth").and_then(|rest| rest.split_once('-'));
    numbers.is_some_and(|(b, n)| {
        [b, n].iter().all(|part| !part.is_empty() && part.bytes().all(|c| c.is_ascii_digit()))
    })
}

/// Mounts under the workspace, or under a /tmp/namespaces-* directory: a rootfs left mounted.
fn mounts(root: &Path, out: &mut Outcome) {
    let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") else {
        out.lines.push("/proc is not mounted, so no mount was checked".into());
        return;
    };
    let root = root.display().to_string();
    for line in mountinfo.lines() {
        // proc(5): the 5th field is the mount point, with a space written as \040.
        let Some(point) = line.split(' ').nth(4).map(unescape) else { continue };
        let under_root = point.starts_with(&format!("{root}/"));
        if under_root || point.starts_with("/tmp/namespaces-") {
            out.lines.push(format!(
                "{point} is mounted: the steps mount only in their own namespaces, so this came from \
                 elsewhere; unmount it with: sudo umount --recursive '{point}'"
            ));
        }
    }
}

/// `\040` and the other octal escapes of /proc/self/mountinfo, back to characters.
fn unescape(field: &str) -> String {
    let mut out = String::new();
    let mut rest = field;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 4).and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(byte) => {
                out.push(byte as char);
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The user reset works for: who ran sudo, or who runs it.
fn user() -> u32 {
    let euid = nix::unistd::geteuid().as_raw();
    let sudo_uid = std::env::var("SUDO_UID").ok().and_then(|u| u.parse().ok());
    if euid == 0 {
        sudo_uid.unwrap_or(0)
    } else {
        euid
    }
}

/// `/tmp/namespaces-*` directories of yours: the tests' scratch space; `/tmp/container-layer.*`:
/// a container's layer that a step killed by SIGKILL (11 on: they carry overlay.rs) could not remove.
fn tmp_dirs(out: &mut Outcome) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir("/tmp") else { return };
    let mut found: Vec<String> = entries
        .flatten()
        .filter(|e| {
            ["namespaces-", "container-layer."].iter().any(|p| e.file_name().to_string_lossy().starts_with(p))
        })
        .filter(|e| e.metadata().is_ok_and(|m| m.is_dir() && m.uid() == user()))
        .map(|e| e.path().display().to_string())
        .collect();
    found.sort();
    for dir in found {
        out.lines.push(match dir.starts_with("/tmp/container-layer.") {
            true => format!(
                "{dir}: a container's layer, left by a killed step11, 12 or 13; if none is running: rm -rf {dir}"
            ),
            false => format!(
                "{dir}: scratch space of the tests (they reuse it); if no test is running: rm -rf {dir}"
            ),
        });
    }
}

/// Steps of yours still running, found by their names in /proc/PID/comm; never killed.
fn running_steps(out: &mut Outcome) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir("/proc") else { return };
    let mut found: Vec<(u32, String)> = entries
        .flatten()
        .filter(|e| e.metadata().is_ok_and(|m| m.uid() == user()))
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_string_lossy().parse().ok()?;
            let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
            let comm = comm.trim();
            crate::doctor::NEEDS.iter().any(|n| n.name == comm).then(|| (pid, comm.to_string()))
        })
        .collect();
    found.sort();
    for (pid, name) in found {
        out.lines.push(format!("{name} is running as PID {pid}: left alone (reset never kills)"));
    }
}
