//! The user namespace: who the child is inside, and which user that is outside.
//!
//! The child starts in its new user namespace with no IDs mapped: it is `nobody` (65534) to
//! itself until its parent writes `/proc/PID/uid_map` and `gid_map`. So the child waits on a
//! pipe, and the parent releases it once the maps are written; the child then takes uid 0
//! inside. Run by an ordinary user, root inside is that user outside; run by root, it is the
//! user who ran sudo, root's range in /etc/subuid, or nobody: never the host's root.

use anyhow::{bail, Context, Result};
use caps::CapSet;
use common::say;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::prctl::set_dumpable;
use nix::unistd::{
    close, getegid, geteuid, getgid, getpid, getuid, pipe2, read, setresgid, setresuid, write, Gid, Pid, Uid,
};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

// ANCHOR: release
/// What the parent sends last: the maps are written, go on.
const GO: &str = "go";

/// The pipe on which the child waits for its ID maps. The parent may send a line or two of
/// its own first (the container's address, from `net.rs`), and then [`GO`]. A child that sees
/// the pipe end without `go` stops: its parent died before the maps were written, and a
/// command without ID maps would run as `nobody` with every capability of the namespace.
pub struct Release {
    read: OwnedFd,
    write: OwnedFd,
}

impl Release {
    /// Both ends close on exec (O_CLOEXEC): the command never sees them.
    pub fn new() -> Result<Release> {
        let (read, write) = pipe2(OFlag::O_CLOEXEC).context("pipe2() failed")?;
        Ok(Release { read, write })
    }

    /// In the child: block until the parent says `go`; return what it sent before that.
    pub fn wait(&self) -> Result<String> {
        // Our copy of the parent's end, or EOF never comes; by number, since the OwnedFd is the
        // parent's and this child never drops it (it execs or exits).
        let _ = close(self.write.as_raw_fd());
        let (mut received, mut buf) = (Vec::new(), [0u8; 64]);
        loop {
            match read(&self.read, &mut buf) {
                Ok(0) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
                Err(Errno::EINTR) => continue,
                Err(errno) => bail!("waiting for the ID maps: read() failed: {errno}"),
            }
        }
        let received = String::from_utf8_lossy(&received).into_owned();
        match received.strip_suffix(&format!("{GO}\n")) {
            Some(sent) => Ok(sent.to_string()),
            None => bail!("the parent ended before it wrote our ID maps; not going on without them"),
        }
    }

    /// In the parent: send the child a line before releasing it.
    pub fn send(&self, line: &str) -> Result<()> {
        write(&self.write, format!("{line}\n").as_bytes()).context("writing to the child failed")?;
        Ok(())
    }

    /// In the parent: tell the child to go on, and close our end.
    pub fn go(self) -> Result<()> {
        self.send(GO)
    }
}
// ANCHOR_END: release

// ANCHOR: outside
/// Who the container's root is on the host: the first host uid and gid of the ID maps, and
/// how many IDs each maps (`0 FIRST COUNT`).
pub struct Outside {
    uid: u32,
    gid: u32,
    count: u32,
}

/// Where root's subordinate ranges are: subuid(5), subgid(5). Fixed paths, never taken from
/// the environment or the command line: whoever could name the file could name the IDs.
const SUBUID: &str = "/etc/subuid";
const SUBGID: &str = "/etc/subgid";

/// The overflow uid and gid, `nobody` and `nogroup`.
const NOBODY: u32 = 65534;

impl Outside {
    /// Choose, before clone, whom the container's root is on the host, and say why.
    ///
    /// An ordinary user may map only its own IDs, and does. Root may map any, and `0 0 1` would
    /// make the container's root the host's root: every file root owns on the host, and the
    /// host's /proc/sys, would be its to write. So root never maps 0: it maps the user who ran
    /// sudo (`SUDO_UID`, `SUDO_GID`), else root's subordinate range in /etc/subuid and
    /// /etc/subgid (as LXC, Podman and `dockerd --userns-remap` do), else nobody (65534).
    pub fn choose() -> Result<Outside> {
        if !geteuid().is_root() || !host_root() {
            // Root mapped to the host's root (`sudo unshare --user --map-root-user`): refuse.
            if geteuid().is_root() && first_map_line().is_some_and(|(outside, _)| outside == "0") {
                bail!(
                    "uid 0 here is the host's root, seen through a user namespace (uid_map '0 0 N'): \
                     the container's root would be the host's; run the step outside that namespace, with sudo"
                );
            }
            return Ok(Outside { uid: geteuid().as_raw(), gid: getegid().as_raw(), count: 1 });
        }
        let (outside, why) = match sudo_user()? {
            Some((uid, gid)) => {
                (Outside { uid, gid, count: 1 }, "the user who ran sudo (SUDO_UID, SUDO_GID)")
            }
            None => match (subordinate(SUBUID), subordinate(SUBGID)) {
                (Some((uid, uids)), Some((gid, gids))) => (
                    Outside { uid, gid, count: uids.min(gids) },
                    "root's range in /etc/subuid and /etc/subgid",
                ),
                _ => (
                    Outside { uid: NOBODY, gid: NOBODY, count: 1 },
                    "nobody, as there is no SUDO_UID and no range for root in /etc/subuid and /etc/subgid",
                ),
            },
        };
        let (uid, gid, count) = (outside.uid, outside.gid, outside.count);
        let ids = match count {
            1 => format!("uid {uid}, gid {gid}"),
            _ => format!("uid {uid}, gid {gid} (and the {} IDs after them)", count - 1),
        };
        say!(
            "parent: run by root, so the container's root is not the host's: it is {ids} on the host, {why}"
        );
        Ok(outside)
    }

    /// The host uid and gid the container's root is.
    pub fn root(&self) -> (u32, u32) {
        (self.uid, self.gid)
    }

    /// The uid inside that host uid `id` is, if the map holds it.
    pub fn inside(&self, id: u32) -> Option<u32> {
        id.checked_sub(self.uid).filter(|n| *n < self.count)
    }
}

/// Whether our uid 0 is the host's root, in the host's own user namespace, whose map is
/// `0 0 4294967295`. Root of any other user namespace (`unshare --user --map-root-user`, and so
/// `cargo xtask sandbox`) may map only the IDs its own namespace maps, so it maps its own.
fn host_root() -> bool {
    match first_map_line() {
        Some((outside, count)) => outside == "0" && count == "4294967295",
        None => true, // no /proc: write_id_maps says so
    }
}

/// Whom uid 0 is in our parent user namespace, and how many IDs follow: our uid_map's `0` line.
fn first_map_line() -> Option<(String, String)> {
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    map.lines().find_map(|line| match line.split_whitespace().collect::<Vec<_>>()[..] {
        ["0", outside, count] => Some((outside.to_string(), count.to_string())),
        _ => None,
    })
}

/// `SUDO_UID` and `SUDO_GID`, which sudo(8) sets to the IDs of the user who ran it. Whoever
/// started us chose them, so they are checked: decimal numbers, both set, and not
/// 4294967295, `(uid_t)-1`. Root running sudo sets 0: then we go on as if there were none.
fn sudo_user() -> Result<Option<(u32, u32)>> {
    let (uid, gid) = (std::env::var_os("SUDO_UID"), std::env::var_os("SUDO_GID"));
    if uid.is_none() && gid.is_none() {
        return Ok(None);
    }
    let parse = |name: &str, value: Option<std::ffi::OsString>| -> Result<u32> {
        let value = value.unwrap_or_default().to_string_lossy().into_owned();
        match number(&value) {
            Some(id) if id != u32::MAX => Ok(id),
            _ => bail!(
                "{name}='{value}' is not a user or group ID; unset SUDO_UID and SUDO_GID, or run with sudo"
            ),
        }
    };
    let (uid, gid) = (parse("SUDO_UID", uid)?, parse("SUDO_GID", gid)?);
    if uid == 0 || gid == 0 {
        say!("parent: SUDO_UID or SUDO_GID is 0 (root ran sudo): the container's root is not mapped to it");
        return Ok(None);
    }
    Ok(Some((uid, gid)))
}

/// The first valid `root:START:COUNT` line of a subuid(5) or subgid(5) file: `(START, COUNT)`.
/// A malformed `root:` line, or a range holding 0 or `(uid_t)-1`, is skipped, and said so.
/// No file, or no line for root: `None`.
fn subordinate(path: &str) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string(path).ok()?;
    for (index, line) in text.lines().enumerate() {
        let Some(range) = line.strip_prefix("root:") else {
            continue;
        };
        let parsed = range.split_once(':').and_then(|(start, count)| Some((number(start)?, number(count)?)));
        match parsed {
            Some((start, count)) if start > 0 && count > 0 && start.checked_add(count).is_some() => {
                return Some((start, count));
            }
            _ => say!("parent: skipped line {} of {path}, not root:START:COUNT: {line:?}", index + 1),
        }
    }
    None
}

/// A decimal number, digits only: `str::parse` would also take a sign.
fn number(text: &str) -> Option<u32> {
    match !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        true => text.parse().ok(),
        false => None,
    }
}
// ANCHOR_END: outside

// ANCHOR: maps
/// Write the child's ID maps: user_namespaces(7), "User and group ID mappings",
/// <https://man7.org/linux/man-pages/man7/user_namespaces.7.html>. Each line is
/// `ID-inside ID-outside count`: root inside is [`Outside`]'s IDs outside.
///
/// The article's C code ignores errors here, and on kernels since 3.19 its gid_map write fails
/// silently: an unprivileged process must first write `deny` to /proc/PID/setgroups, so that
/// nobody inside can drop a group with setgroups(2) that the host used to keep them out.
/// Root need not, and does not: a container with a range of IDs needs setgroups(2) (`su`
/// and `apt` call it), and [`become_root`] first drops every group the child had from the
/// host, so none is left that the host could have used to keep it out.
pub fn write_id_maps(child: Pid, outside: &Outside) -> Result<()> {
    write_proc_file(child, "uid_map", &format!("0 {} {}", outside.uid, outside.count))?;
    if !geteuid().is_root() || !host_root() {
        write_proc_file(child, "setgroups", "deny")?;
    }
    write_proc_file(child, "gid_map", &format!("0 {} {}", outside.gid, outside.count))
}

fn write_proc_file(child: Pid, name: &str, line: &str) -> Result<()> {
    let path = format!("/proc/{child}/{name}");
    // /proc shows the PID namespace that mounted it, and `child` is a PID of ours. Under
    // `unshare --pid` without --mount-proc, /proc is still the host's, where that number is
    // another process: /proc/self, which names us, names us by another number there.
    match std::fs::read_link("/proc/self") {
        Err(_) => {
            bail!("cannot write {path}: /proc is not mounted here; mount it with: mount -t proc proc /proc")
        }
        Ok(me) if me != Path::new(&getpid().to_string()) => bail!(
            "cannot write {path}: /proc is another PID namespace's, where {child} is not our child; \
             with unshare --pid, add --mount-proc"
        ),
        Ok(_) => {}
    }
    std::fs::write(&path, format!("{line}\n"))
        .with_context(|| format!("writing '{line}' to {path} failed"))?;
    say!("parent: wrote '{line}' to {path}");
    Ok(())
}
// ANCHOR_END: maps

// ANCHOR: become
/// In the child, once the maps are written: become uid and gid 0 of the namespace for real.
///
/// A map changes no process's IDs. The child still has those of whoever started the step;
/// run by root, that is the host's uid 0, which the maps leave unmapped, and which owns
/// every file root owns on the host, /proc/sys and /dev/full included. setresuid(2) to 0
/// inside makes it the host user the maps name. Before that, setgroups(2) drops root's
/// groups (the kernel allows it only where the parent did not deny it: when root started
/// us); a user's own groups stay, as the kernel wants. Changing uid makes the kernel mark us
/// not dumpable, and our /proc/self files then belong to the host's root, whom this
/// namespace cannot map; prctl(2) PR_SET_DUMPABLE sets it back, as execve would.
pub fn become_root() -> Result<()> {
    let setgroups =
        std::fs::read_to_string("/proc/self/setgroups").context("reading /proc/self/setgroups failed")?;
    if setgroups.trim() == "allow" {
        nix::unistd::setgroups(&[]).context("setgroups([]) failed")?;
    }
    let (uid, gid) = (Uid::from_raw(0), Gid::from_raw(0));
    setresgid(gid, gid, gid).context("setresgid(0, 0, 0) inside the user namespace failed")?;
    setresuid(uid, uid, uid).context("setresuid(0, 0, 0) inside the user namespace failed")?;
    set_dumpable(true).context("prctl(PR_SET_DUMPABLE, 1) failed")?;
    // The new uid cleared PR_SET_PDEATHSIG too: without it, a killed step would leave us running.
    common::die_with_parent_again()
}
// ANCHOR_END: become

// ANCHOR: identity
/// Show who we are now: uid and gid 0, and every capability, in our own user namespace.
pub fn show_identity() -> Result<()> {
    let effective = caps::read(None, CapSet::Effective).context("reading our capabilities failed")?;
    let known = caps::runtime::procfs_all_supported(None).unwrap_or_else(|_| caps::all());
    let count = match known.is_subset(&effective) {
        true => format!("all {}", known.len()),
        false => format!("{} of {}", effective.len(), known.len()),
    };
    say!("child: uid {}, gid {}, {count} capabilities, inside the user namespace", getuid(), getgid());
    Ok(())
}
// ANCHOR_END: identity
