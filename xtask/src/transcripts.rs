//! `cargo xtask transcripts`: run the commands in `book/transcripts/NAME.txt` and write what
//! they print to `book/src/transcripts/NAME.txt`, for the book to include.
//!
//! A script is a list of commands, one per line, each starting with `$ `, exactly as a
//! learner types them. Lines starting with `#` are notes for the reader of the script. Two
//! directives change how the script runs; both are shown in the output, so nothing is hidden:
//!
//! - `%as nobody`: run every command as the ordinary user `nobody` (uid 65534), to show a step
//!   that needs no root, or what happens without it. Such a script must begin with `$ whoami`,
//!   so that the transcript says who ran it.
//! - `%session COMMAND`: run the commands in a shell that COMMAND starts, and show
//!   `$ COMMAND` first; e.g. `sudo unshare --net bash`, a throwaway network namespace.
//! - `%cgroups LAYOUT`: what the script prints depends on how the machine mounts its cgroups,
//!   and it was recorded where that is LAYOUT; the book's test compares it only there.
//!
//! All the commands of a script run one after the other in one `bash`, in a scratch directory
//! holding `target/debug/` (copies of the step binaries) and `tools/`, so that the paths read
//! as they do in the workspace. stdout and stderr go into one pipe, as on a terminal. The
//! environment is a minimal one (PATH, HOME=/, LC_ALL=C), the same on every machine, and with
//! nothing of root's for the scripts that run as nobody.
//!
//! The transcripts are made as root. `sudo` there is a stand-in that runs its command
//! directly (root needs no sudo, and CI machines have none installed).
//!
//! The scratch directory is made new by mkdtemp ([`crate::TempDir`]), and only the scripts
//! run as nobody may read it. Each script runs in a process group of its own, which is ended
//! once the script is done, with every container it left; and if we are asked to stop
//! (Ctrl-C, SIGTERM, SIGHUP) while it runs, the group is ended and the scratch directory
//! removed before we stop.
//!
//! What changes from run to run is replaced ([`normalise`]): the host's hostname (on a line of its
//! own) by `<hostname>`, host PIDs by `<pid>` (also in a cgroup's name, `step08-cgroup-<pid>`), namespace
//! inode numbers by `ns-1`, `ns-2`... in order of appearance (so equal stays equal), MAC
//! addresses, interface indexes, ping times, IPC keys, and the kernel's number of capabilities
//! (`all <N> capabilities`). And one race is settled: the parent's
//! `started container` line and the child's `running as PID` line come in either order, and
//! are shown parent first ([`settle_race`]).

use crate::TempDir;
use anyhow::{bail, Context, Result};
use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};
use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// How long one script may run before it is ended.
const TIMEOUT: Duration = Duration::from_secs(180);

/// Marks the start of each command's output; replaced by `$ command`.
const MARK: &str = "\u{1e}xtask-command ";

/// A parsed script.
#[derive(Debug, Clone)]
pub struct Script {
    /// `step02`, `step02-outside`: the output is `book/src/transcripts/NAME.txt`.
    pub name: String,
    pub as_nobody: bool,
    pub session: Option<String>,
    /// `%cgroups LAYOUT`: what it prints depends on how the machine mounts its cgroups, and it
    /// was recorded where they are mounted so (`hybrid`, `v2` or `v1`: see [`cgroup_layout`]).
    pub cgroups: Option<String>,
    pub commands: Vec<String>,
}

/// How this machine mounts its cgroups: `v2` (one hierarchy at /sys/fs/cgroup), `hybrid` (v1
/// controllers and an empty v2 at /sys/fs/cgroup/unified) or `v1`.
pub fn cgroup_layout() -> &'static str {
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "v2"
    } else if Path::new("/sys/fs/cgroup/unified/cgroup.controllers").exists() {
        "hybrid"
    } else {
        "v1"
    }
}

/// Where the scripts are, and where their transcripts go.
pub fn scripts_dir(root: &Path) -> PathBuf {
    root.join("book/transcripts")
}
pub fn output_dir(root: &Path) -> PathBuf {
    root.join("book/src/transcripts")
}

/// Every script, by name.
pub fn scripts(root: &Path) -> Result<Vec<Script>> {
    let mut scripts = Vec::new();
    for entry in std::fs::read_dir(scripts_dir(root))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "txt") {
            scripts.push(parse(&path)?);
        }
    }
    scripts.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(scripts)
}

/// Read one script.
pub fn parse(path: &Path) -> Result<Script> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut script = Script {
        name: path.file_stem().unwrap().to_string_lossy().into_owned(),
        as_nobody: false,
        session: None,
        cgroups: None,
        commands: Vec::new(),
    };
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if let Some(command) = line.strip_prefix("$ ") {
            script.commands.push(command.to_string());
        } else if line == "%as nobody" {
            script.as_nobody = true;
        } else if let Some(session) = line.strip_prefix("%session ") {
            script.session = Some(session.to_string());
        } else if let Some(layout) = line.strip_prefix("%cgroups ") {
            script.cgroups = Some(layout.to_string());
        } else if !(line.is_empty() || line.starts_with('#')) {
            bail!(
                "{}:{}: expected `$ command`, `# note`, `%as nobody`, `%session COMMAND` or `%cgroups LAYOUT`",
                path.display(),
                n + 1
            );
        }
    }
    if script.as_nobody && script.commands.first().map(String::as_str) != Some("whoami") {
        bail!(
            "{}: a script with `%as nobody` must begin with `$ whoami`, so the reader sees who runs it",
            path.display()
        );
    }
    Ok(script)
}

/// The PATH the scripts run with, after the scratch directory's `bin/`: the system's.
const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Run `script` with the binaries in `bin_dir` (a `target/debug`) and return its transcript.
pub fn run(root: &Path, bin_dir: &Path, script: &Script) -> Result<String> {
    // From here on, Ctrl-C ends the script and removes the scratch directory, then us.
    let stop_signals = StopSignals::catch()?;
    let scratch = Scratch::new(root, bin_dir, script)?;
    let dir = scratch.dir.path();
    let mut body = String::from("exec 2>&1\n");
    for (i, command) in script.commands.iter().enumerate() {
        body += &format!("printf '%s\\n' '{MARK}{i}'\n{command}\n");
    }
    let file = dir.join("script.sh");
    std::fs::write(&file, body)?;

    let mut argv: Vec<String> = Vec::new();
    if script.as_nobody {
        argv.extend(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"].map(String::from));
    }
    if let Some(session) = &script.session {
        let session = session.strip_prefix("sudo ").unwrap_or(session);
        argv.extend(session.split_whitespace().map(String::from));
    } else {
        argv.push("bash".into());
    }
    argv.push(file.display().to_string());

    let path = format!("{}:{SYSTEM_PATH}", dir.join("bin").display());
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(dir)
        .env_clear()
        .env("PATH", path)
        .env("HOME", "/")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {argv:?}"))?;
    let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if let Some(sig) = stop_signals.caught() {
            // Asked to stop: end the script's group, with every container in it, remove the
            // scratch directory, and stop as the signal would have stopped us.
            let _ = signal::killpg(pgid, Signal::SIGKILL);
            let _ = child.wait();
            drop(scratch);
            stop_signals.die_of(sig);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // End whatever the script left running in the background: its process group, by its id.
    let _ = signal::killpg(pgid, Signal::SIGKILL);
    let _ = child.wait();
    let out = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
    match status {
        None => bail!("transcript {}: still running after {TIMEOUT:?}; it printed:\n{out}", script.name),
        Some(s) if !s.success() => {
            bail!("transcript {}: the shell failed ({s}); it printed:\n{out}", script.name)
        }
        Some(_) => {}
    }
    Ok(render(script, &out))
}

/// Put `$ command` lines in place of the marks, settle the race in each command's output, and
/// normalise what changes from run to run.
pub fn render(script: &Script, raw: &str) -> String {
    let mut text = String::new();
    if let Some(session) = &script.session {
        text += &format!("$ {session}\n");
    }
    let mut segment: Vec<&str> = Vec::new();
    let flush = |segment: &mut Vec<&str>, text: &mut String| {
        for line in settle_race(segment) {
            *text += line;
            *text += "\n";
        }
        segment.clear();
    };
    for line in raw.lines() {
        if let Some(i) = line.strip_prefix(MARK) {
            flush(&mut segment, &mut text);
            let i: usize = i.parse().unwrap_or(usize::MAX);
            let prompt = if script.session.is_some() { "#" } else { "$" };
            text += &format!("{prompt} {}\n", script.commands.get(i).map_or("?", |c| c.as_str()));
        } else {
            segment.push(line);
        }
    }
    flush(&mut segment, &mut text);
    // The host's hostname differs from machine to machine: a line that is just the hostname.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = host.trim();
    let text: String = text
        .split_inclusive('\n')
        .map(|line| match line.trim_end() == host && !host.is_empty() && host != "container" {
            true => "<hostname>\n",
            false => line,
        })
        .collect();
    normalise(&text)
}

/// The parent prints `started container PID N` when clone(2) returns; by then the child may
/// have printed lines of its own, or not. Show the parent's line first, and the child's
/// `running as PID` line right after it, where the first of the two was; every other line
/// stays where it was printed.
pub fn settle_race<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    let started = lines.iter().position(|l| l.contains("] parent: started container PID "));
    let running = lines.iter().position(|l| l.contains("] child: running as PID "));
    let (Some(s), Some(r)) = (started, running) else {
        return lines.to_vec();
    };
    let first = s.min(r);
    let mut out: Vec<&str> = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if i == first {
            out.push(lines[s]);
            out.push(lines[r]);
        }
        if i != s && i != r {
            out.push(line);
        }
    }
    out
}

/// Replace what changes from one run to the next, so that a transcript changes only when the
/// code does.
pub fn normalise(text: &str) -> String {
    let mut inodes: HashMap<String, usize> = HashMap::new();
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let original = line;
        let mut line = line.to_string();
        // Namespace inode numbers: `uts:[4026531838]`, or lsns's bare NS column.
        line = replace_digits(&line, |prefix, digits, _| {
            let bracketed = prefix.ends_with('[') && digits.len() >= 9;
            let lsns = digits.len() == 10
                && digits.starts_with("4026")
                && !prefix.ends_with(|c: char| c.is_alphanumeric());
            (bracketed || lsns).then(|| {
                let n = inodes.len() + 1;
                format!("ns-{}", inodes.entry(digits.to_string()).or_insert(n))
            })
        });
        // Host PIDs (two digits or more; the container's own are 1, 2, 3...).
        line = replace_digits(&line, |prefix, digits, rest| {
            let host_pid = digits.len() >= 2
                && (prefix.ends_with("PID ")
                    || prefix.ends_with("netns ")
                    || prefix == "NSpid:\t"
                    || (prefix.ends_with("/proc/") && rest.starts_with('/'))
                    || named_after_step(prefix));
            host_pid.then(|| "<pid>".to_string())
        });
        // Interface indexes (`eth0@if7`), ping times, IPC keys.
        line = replace_digits(&line, |prefix, _, rest| {
            if prefix.ends_with("@if")
                || prefix.ends_with(" time=")
                || (prefix.ends_with(" time ") && rest.starts_with("ms"))
            {
                Some("<n>".to_string())
            } else {
                None
            }
        });
        line = replace_decimal_after(&line, " time=<n>");
        // How many capabilities the kernel knows (cap_last_cap + 1) depends on its version:
        // `all 41 capabilities` -> `all <N> capabilities`.
        line = replace_digits(&line, |prefix, _, rest| {
            ((prefix.ends_with("all ") || prefix.ends_with(" of ")) && rest.starts_with(" capabilities"))
                .then(|| "<N>".to_string())
        });
        if let Some(i) = line.find("rtt min/avg/max/mdev = ") {
            line = format!("{}rtt min/avg/max/mdev = <times> ms\n", &line[..i]);
        }
        line = replace_hex_words(&line);
        // A replacement has another width than what it replaced, which would make the padding
        // of a table (ip -br, lsns) vary: in a changed line, runs of spaces become one.
        if line != original {
            line = collapse_spaces(&line);
        }
        out += &line;
    }
    out
}

/// Whether `prefix` ends with a step's name and a dash, as a cgroup named after the step that
/// made it does (`step08-cgroup-4242`): the number after it is that step's PID.
fn named_after_step(prefix: &str) -> bool {
    let word = prefix.rsplit(['/', ' ', '\'']).next().unwrap_or("");
    word.starts_with("step") && word.ends_with('-') && word.matches('-').count() == 2
}

fn collapse_spaces(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        if !(c == ' ' && out.ends_with(' ')) {
            out.push(c);
        }
    }
    out
}

/// Call `f(before, digits, after)` for each run of ASCII digits; replace it by what `f` returns.
fn replace_digits(line: &str, mut f: impl FnMut(&str, &str, &str) -> Option<String>) -> String {
    let mut out = String::with_capacity(line.len());
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_digit()) {
            let end = (i..bytes.len()).find(|&j| !bytes[j].is_ascii_digit()).unwrap_or(bytes.len());
            match f(&line[..i], &line[i..end], &line[end..]) {
                Some(new) => out += &new,
                None => out += &line[i..end],
            }
            i = end;
        } else {
            let c = line[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// After `marker` (`time=<n>`), drop a decimal part: `time=<n>.061` -> `time=<n>`.
fn replace_decimal_after(line: &str, marker: &str) -> String {
    match line.find(marker) {
        Some(i) => {
            let after = &line[i + marker.len()..];
            let rest =
                after.strip_prefix('.').map_or(after, |r| r.trim_start_matches(|c: char| c.is_ascii_digit()));
            format!("{}{}", &line[..i + marker.len()], rest)
        }
        None => line.to_string(),
    }
}

/// MAC addresses (`aa:bb:cc:dd:ee:ff`, but not the broadcast or null ones) and IPC keys
/// (`0x1a2b3c4d`) are random.
fn replace_hex_words(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while !rest.is_empty() {
        let word_len = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
        let word = &rest[..word_len];
        let mac = word.len() == 17
            && word.split(':').count() == 6
            && word.split(':').all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
            && word != "ff:ff:ff:ff:ff:ff"
            && word != "00:00:00:00:00:00";
        let key =
            word.len() == 10 && word.starts_with("0x") && word[2..].bytes().all(|b| b.is_ascii_hexdigit());
        out += if mac {
            "<mac>"
        } else if key {
            "0x<key>"
        } else {
            word
        };
        rest = &rest[word_len..];
        let space_len = rest.find(|c: char| !c.is_whitespace()).unwrap_or(rest.len());
        out += &rest[..space_len];
        rest = &rest[space_len..];
    }
    out
}

/// The signal that asked us to stop while a script ran, or 0. A signal handler may do very
/// little safely; storing to an atomic is one of those things.
static STOP: AtomicI32 = AtomicI32::new(0);

extern "C" fn note_stop(sig: nix::libc::c_int) {
    STOP.store(sig, Ordering::SeqCst);
}

/// While a script runs, SIGINT (Ctrl-C), SIGTERM and SIGHUP do not stop us at once: they are
/// noted, so that [`run`] can end the script's process group and remove the scratch directory
/// first. The script's group is not the terminal's, so Ctrl-C does not reach it by itself.
/// Dropped, the signals' previous dispositions come back.
struct StopSignals {
    previous: Vec<(Signal, SigAction)>,
}

impl StopSignals {
    const SIGNALS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

    fn catch() -> Result<StopSignals> {
        STOP.store(0, Ordering::SeqCst);
        let note = SigAction::new(SigHandler::Handler(note_stop), SaFlags::SA_RESTART, SigSet::empty());
        let mut previous = Vec::new();
        for sig in Self::SIGNALS {
            // SAFETY: note_stop only stores to an atomic, which is safe in a signal handler.
            let old =
                unsafe { signal::sigaction(sig, &note) }.with_context(|| format!("sigaction({sig})"))?;
            previous.push((sig, old));
        }
        Ok(StopSignals { previous })
    }

    fn caught(&self) -> Option<Signal> {
        Signal::try_from(STOP.load(Ordering::SeqCst)).ok()
    }

    /// Put the previous dispositions back, and stop as `sig` would have stopped us then.
    fn die_of(self, sig: Signal) -> ! {
        drop(self);
        eprintln!("xtask: stopped by {sig}; the script's processes ended, its scratch directory removed");
        let _ = signal::raise(sig);
        // The signal was ignored before us (a background job's SIGINT): stop all the same.
        std::process::exit(128 + sig as i32)
    }
}

impl Drop for StopSignals {
    fn drop(&mut self) {
        for (sig, old) in &self.previous {
            // SAFETY: puts back the disposition that sigaction returned for this signal.
            let _ = unsafe { signal::sigaction(*sig, old) };
        }
    }
}

/// A scratch directory that reads like the workspace: `target/debug/` with copies of the
/// binaries (copies, so that `nobody` may run them wherever the workspace is), `tools/`, and
/// `bin/sudo`. Made new (mkdtemp), readable by others only for a script run as nobody, and
/// removed when dropped.
struct Scratch {
    dir: TempDir,
}

impl Scratch {
    fn new(root: &Path, bin_dir: &Path, script: &Script) -> Result<Scratch> {
        let scratch = Scratch { dir: TempDir::new(&format!("xtask-transcript-{}.", script.name))? };
        let dir = scratch.dir.path();
        let debug = dir.join("target/debug");
        std::fs::create_dir_all(&debug)?;
        std::fs::create_dir(dir.join("bin"))?;
        std::fs::create_dir(dir.join("tools"))?;
        let mut names: Vec<String> = crate::steps(root)?;
        names.push("setns-enter".into());
        for name in names {
            let from = bin_dir.join(&name);
            if !from.is_file() {
                bail!("{} is missing: build the workspace first (cargo build --workspace)", from.display());
            }
            std::fs::copy(&from, debug.join(&name)).with_context(|| format!("copying {}", from.display()))?;
        }
        for tool in std::fs::read_dir(root.join("tools"))? {
            let tool = tool?.path();
            if tool.is_file() {
                std::fs::copy(&tool, dir.join("tools").join(tool.file_name().unwrap()))?;
            }
        }
        let sudo = dir.join("bin/sudo");
        std::fs::write(
            &sudo,
            "#!/bin/sh\n# The transcripts are made as root: run the command as it is.\n\
             [ \"$(id -u)\" = 0 ] || { echo 'sudo: the transcripts must be made as root' >&2; exit 1; }\nexec \"$@\"\n",
        )?;
        std::fs::set_permissions(&sudo, std::fs::Permissions::from_mode(0o755))?;
        // mkdtemp made the top 0700: only a script run as nobody needs to read it.
        let top = if script.as_nobody { 0o755 } else { 0o700 };
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(top))?;
        for path in [dir.join("target"), debug, dir.join("bin"), dir.join("tools")] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        }
        Ok(scratch)
    }
}

/// The `target/debug` directory of this workspace's build.
pub fn default_bin_dir(root: &Path) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let target = if target.is_relative() { root.join(target) } else { target };
    target.join("debug")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn race_is_settled_both_ways() {
        let a = [
            "[s] child: running as PID 1",
            "[s] child: x",
            "[s] parent: started container PID 99 with F",
            "out",
        ];
        let b = [
            "[s] parent: started container PID 99 with F",
            "[s] child: running as PID 1",
            "[s] child: x",
            "out",
        ];
        assert_eq!(settle_race(&a), b);
        assert_eq!(settle_race(&b), b);
        let c = [
            "[s] parent: started container PID 99 with F",
            "[s] parent: wrote",
            "[s] child: running as PID 1",
            "[s] child: y",
        ];
        let settled = [
            "[s] parent: started container PID 99 with F",
            "[s] child: running as PID 1",
            "[s] parent: wrote",
            "[s] child: y",
        ];
        assert_eq!(settle_race(&c), settled);
    }

    #[test]
    fn normalises_what_changes() {
        let text = "uts:[4026531838] uts:[4026532201] uts:[4026531838]\n\
                    [x] parent: started container PID 4242 with F\n[x] child: running as PID 1\n\
                    wrote to /proc/4242/uid_map; ip link add veth netns 4242\n\
                    2: eth0@if17: link/ether 6a:01:02:03:04:05 brd ff:ff:ff:ff:ff:ff\n\
                    eth0@if17        UP             192.168.10.2/24\n\
                    NSpid:\t714\t1\n\
                    64 bytes from 192.168.10.1: icmp_seq=1 ttl=64 time=0.061 ms\n\
                    1 packets transmitted, 1 received, 0% packet loss, time 0ms\n\
                    rtt min/avg/max/mdev = 0.061/0.061/0.061/0.000 ms\n\
                    0x5f3a2b1c 0          root       644\n\
                    4026532201 uts 1 container\n\
                    [x] child: uid 0, gid 0, all 41 capabilities, inside the user namespace\n\
                    [x] child: uid 0, gid 0, 3 of 41 capabilities\n\
                    [x] parent: removed 0::/namespaces-tutorial/step08-cgroup-4242\n";
        let expected = "uts:[ns-1] uts:[ns-2] uts:[ns-1]\n\
                    [x] parent: started container PID <pid> with F\n[x] child: running as PID 1\n\
                    wrote to /proc/<pid>/uid_map; ip link add veth netns <pid>\n\
                    2: eth0@if<n>: link/ether <mac> brd ff:ff:ff:ff:ff:ff\n\
                    eth0@if<n> UP 192.168.10.2/24\n\
                    NSpid:\t<pid>\t1\n\
                    64 bytes from 192.168.10.1: icmp_seq=1 ttl=64 time=<n> ms\n\
                    1 packets transmitted, 1 received, 0% packet loss, time <n>ms\n\
                    rtt min/avg/max/mdev = <times> ms\n\
                    0x<key> 0 root 644\n\
                    ns-2 uts 1 container\n\
                    [x] child: uid 0, gid 0, all <N> capabilities, inside the user namespace\n\
                    [x] child: uid 0, gid 0, 3 of <N> capabilities\n\
                    [x] parent: removed 0::/namespaces-tutorial/step08-cgroup-<pid>\n";
        assert_eq!(normalise(text), expected);
    }

    #[test]
    fn scripts_parse() {
        let dir = testkit::fresh_dir("xtask-parse");
        let path = dir.join("stepXX.txt");
        std::fs::write(&path, "# a note\n%as nobody\n$ whoami\n\n$ echo 'a b'\n").unwrap();
        let script = parse(&path).unwrap();
        assert!(script.as_nobody);
        assert_eq!(script.commands, ["whoami", "echo 'a b'"]);
        assert_eq!(script.cgroups, None);
        std::fs::write(
            &path,
            "%cgroups hybrid
$ true
",
        )
        .unwrap();
        assert_eq!(parse(&path).unwrap().cgroups.as_deref(), Some("hybrid"));
        std::fs::write(&path, "%as nobody\n$ id -u\n").unwrap();
        assert!(parse(&path).is_err(), "whoami must come first");
        std::fs::write(&path, "id -u\n").unwrap();
        assert!(parse(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// nobody makes the directory this test used, `/tmp/xtask-parse-PID`, before it runs as
    /// root: the test must neither write there nor remove what nobody put there.
    #[test]
    fn parse_test_directory_made_first_by_nobody_is_not_used() {
        let attack = testkit::replay::Attack {
            victim: ":",
            plant: "mkdir -m 777 /tmp/xtask-parse-$1 && echo nobodys > /tmp/xtask-parse-$1/marker",
        };
        if let Some(replayed) = testkit::replay::replay(&attack, "transcripts::tests::scripts_parse") {
            assert_eq!(replayed.status, 0, "{}", replayed.out.stderr);
            assert!(replayed.changes.is_empty(), "{:#?}", replayed.changes);
        }
    }
}
