//! `cargo xtask sandbox [-- COMMAND...]`: a shell in which you are root, without sudo.
//!
//! It is util-linux `unshare` with the flags of [`SANDBOX_FLAGS`]: a user namespace first, in which you are
//! root (uid 0 inside is you outside), then network, UTS, IPC, mount and PID namespaces that
//! this user namespace owns. Root there may do what steps 02-05 and step07's bridge need,
//! over those namespaces only: the host's network, hostname, IPC objects and mounts are not
//! theirs, so nothing done inside reaches them, and all of it goes when the sandbox ends.
//!
//! We `exec` unshare rather than start it, so that it replaces this process: the shell's parent
//! is then your terminal's shell, as with any command, and job control (Ctrl-Z, `fg`) works.
//! (`cargo run`, behind `cargo xtask`, also replaces itself with us.)

use anyhow::{bail, Context, Result};
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::unshare::SANDBOX_FLAGS;

/// What runs inside before the command: bring `lo` up (a new network namespace has it down,
/// and step07's containers reach each other through the bridge, not lo, but a learner pinging
/// 127.0.0.1 should not be puzzled), and name the sandbox, so the prompt says where you are.
/// `$0` is the name in error messages; `"$@"` is the command.
const PRELUDE: &str =
    "ip link set lo up || echo \"sandbox: could not bring lo up (is iproute2 installed?)\" >&2
hostname sandbox 2>/dev/null || true
exec \"$@\"";

/// Run `[--] COMMAND...` (default: your `$SHELL`, or /bin/bash) in the sandbox. Returns only
/// on error.
pub fn run(args: &[String]) -> Result<()> {
    let command = args.strip_prefix(&["--".to_string()]).unwrap_or(args);
    let command = if command.is_empty() {
        vec![std::env::var("SHELL").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "/bin/bash".into())]
    } else {
        command.to_vec()
    };
    // Try it first, as doctor does: if user namespaces are off here, say why and how to fix it,
    // instead of leaving unshare's bare "Operation not permitted".
    if let Err(why) = crate::unshare::try_unshare(&[], SANDBOX_FLAGS, &["true"]) {
        let machine = crate::doctor::look_without_probes();
        bail!("the sandbox cannot start here: {why}\n{}", crate::doctor::why_user_namespaces_fail(&machine));
    }
    banner();
    let mut unshare = Command::new("unshare");
    unshare.args(SANDBOX_FLAGS).args(["--", "sh", "-c", PRELUDE, "sandbox"]).args(&command);
    // exec only returns if it failed.
    let err = unshare.exec();
    Err(err).context("could not run unshare (it is in util-linux: sudo apt install util-linux)")
}

/// Where you are, and how to leave: on stderr, so that stdout is the command's alone.
fn banner() {
    let uid = nix::unistd::geteuid();
    let mut lines = vec![
        format!("you are root here, in a user namespace you own; to the host you are still uid {uid}"),
        "it has its own network (lo only), hostname (sandbox), IPC, PIDs (this shell is PID 1, \
         and /proc is the sandbox's) and mounts"
            .to_string(),
        format!(
            "the host's are unchanged, and all that is made here goes when you leave; the files are \
             the host's, and you write them as uid {uid}"
        ),
        "every step runs here without sudo: target/debug/step02-uts ... step09-time, step07's bridge \
         included; not step08's --pids-max, which needs a cgroup the system delegated to you"
            .to_string(),
        "leave with: exit".to_string(),
        format!("made with: unshare {}", SANDBOX_FLAGS.join(" ")),
    ];
    if uid.is_root() {
        lines.insert(
            0,
            "you are root already, and do not need the sandbox; here it is all the same".to_string(),
        );
    }
    for line in lines {
        eprintln!("[sandbox] {line}");
    }
}
