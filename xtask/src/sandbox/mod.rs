//! `cargo xtask sandbox [-- COMMAND...]`: a shell in which you are root, without sudo; and
//! `cargo xtask sandbox --join`: a second terminal in it.
//!
//! It is util-linux `unshare` with the flags of [`SANDBOX_FLAGS`]: a user namespace first, in
//! which you are root (uid 0 inside is you outside), then network, UTS, IPC, mount, cgroup,
//! PID and time namespaces that this user namespace owns. Root there may do what steps 02-05 and
//! step07's bridge need, over those namespaces only: the host's network, hostname, IPC objects
//! and mounts are not theirs, so nothing done inside reaches them, and all of it goes when the
//! sandbox ends.
//!
//! We `exec` unshare rather than start it, so that it replaces this process: the shell's parent
//! is then your terminal's shell, as with any command, and job control (Ctrl-Z, `fg`) works.
//! (`cargo run`, behind `cargo xtask`, also replaces itself with us.) Before, we record its
//! PID for `--join` (`records.rs`, `join.rs`), and put a `sudo` that explains itself first in
//! its PATH (`sudo.rs`). Called by `main.rs`.

mod join;
mod records;
mod sudo;

use anyhow::{bail, Context, Result};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use crate::unshare::SANDBOX_FLAGS;

const HELP: &str = "\
cargo xtask sandbox [-- COMMAND...]       a shell (or COMMAND) in which you are root, without sudo
cargo xtask sandbox --join [PID] [-- COMMAND...]
                                          from another terminal: into your running sandbox
cargo xtask sandbox --help                this

Inside, every step runs without sudo. The book's sudo lines, in the sandbox: leave out sudo;
`sudo -s` or `sudo bash`: you are in a root shell already; `sudo unshare --net X`: run X (the
sandbox is a throwaway network namespace already).
";

/// What runs inside before the command: bring `lo` up (a new network namespace has it down,
/// and step07's containers reach each other through the bridge, not lo, but a learner pinging
/// 127.0.0.1 should not be puzzled), and name the sandbox, so the prompt says where you are.
/// `$0` is the name in error messages; `"$@"` is the command.
const PRELUDE: &str =
    "ip link set lo up || echo \"sandbox: could not bring lo up (is iproute2 installed?)\" >&2
hostname sandbox 2>/dev/null || true
exec \"$@\"";

/// `cargo xtask sandbox ARGS`: `--help`, `--join [PID]`, or start one, running `[--] COMMAND...`
/// (default: your `$SHELL`, or /bin/bash). Returns only on error, or after the help.
pub fn run(args: &[String]) -> Result<()> {
    let (options, command) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => match args.iter().position(|a| !a.starts_with('-') && a.parse::<u32>().is_err()) {
            Some(i) => (&args[..i], &args[i..]),
            None => (args, &[][..]),
        },
    };
    let command = if command.is_empty() {
        vec![std::env::var("SHELL").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "/bin/bash".into())]
    } else {
        command.to_vec()
    };
    let join = match options {
        [] => None,
        [help] if help == "--help" || help == "-h" => {
            print!("{HELP}");
            return Ok(());
        }
        [join] if join == "--join" => Some(None),
        [join, pid] if join == "--join" => {
            Some(Some(pid.parse::<u32>().with_context(|| format!("--join {pid}: not a PID"))?))
        }
        _ => bail!("sandbox: unknown option {}; see cargo xtask sandbox --help", options.join(" ")),
    };
    let dir = records::own_dir()?;
    let bin = sudo::install(&dir)?;
    if let Some(wanted) = join {
        return join::run(&dir, &path_with(&bin), wanted, &command);
    }
    // Try it first, as doctor does: if user namespaces are off here, say why and how to fix it,
    // instead of leaving unshare's bare "Operation not permitted".
    let flags = crate::unshare::for_this_kernel(SANDBOX_FLAGS);
    if let Err(why) = crate::unshare::try_unshare(&[], &flags, &["true"]) {
        let machine = crate::doctor::look_without_probes();
        bail!("the sandbox cannot start here: {why}\n{}", crate::doctor::why_user_namespaces_fail(&machine));
    }
    records::running(&dir)?; // which also removes the records of sandboxes that ended
    records::record_self(&dir)?;
    banner(&flags);
    let mut unshare = Command::new("unshare");
    unshare.args(&flags).args(["--", "sh", "-c", PRELUDE, "sandbox"]).args(&command);
    unshare.env("PATH", path_with(&bin));
    // exec only returns if it failed.
    let err = unshare.exec();
    Err(err).context("could not run unshare (it is in util-linux: sudo apt install util-linux)")
}

/// `bin`, then the PATH we were given: the sandbox's `sudo` comes first.
fn path_with(bin: &Path) -> std::ffi::OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&path));
    std::env::join_paths(dirs).unwrap_or(path)
}

/// Where you are, and how to leave: on stderr, so that stdout is the command's alone.
fn banner(flags: &[&str]) {
    let uid = nix::unistd::geteuid();
    let mut lines = vec![
        format!("you are root here, in a user namespace you own; to the host you are still uid {uid}"),
        "it has its own network (lo only), hostname (sandbox), IPC, cgroup root, clocks, PIDs (this shell \
         is PID 1, and /proc is the sandbox's) and mounts"
            .to_string(),
        format!(
            "the host's are unchanged, and all that is made here goes when you leave; the files are \
             the host's, and you write them as uid {uid}"
        ),
        "every step runs here without sudo: target/debug/step02-uts ... step13-seccomp, step07's bridge \
         included; not step08's --pids-max, which needs a cgroup the system delegated to you"
            .to_string(),
        "the book's sudo lines, here: leave out sudo; `sudo unshare --net X` is X (this is a throwaway \
         network namespace already)"
            .to_string(),
        "a --pid-file written here holds the sandbox's own PID: use it here (setns-enter, nsenter), \
         or from a terminal that joined"
            .to_string(),
        "another terminal joins with: cargo xtask sandbox --join".to_string(),
        "leave with: exit".to_string(),
        format!("made with: unshare {}", flags.join(" ")),
    ];
    if uid.is_root() {
        lines.insert(
            0,
            "you are root already, and do not need the sandbox; steps 06 on refuse to run here (their \
             container's root would be yours, the host's): run them outside, with sudo"
                .to_string(),
        );
    }
    for line in lines {
        eprintln!("[sandbox] {line}");
    }
}
