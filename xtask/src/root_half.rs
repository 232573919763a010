//! The part of a command that needs root, run by this same xtask binary through `sudo`.
//!
//! `sudo cargo ...` fails on stock Debian, Ubuntu and Fedora (`sudo: cargo: command not
//! found`): sudoers' `secure_path` replaces PATH, and it has no `~/.cargo/bin`. So xtask does
//! what needs cargo as you, which keeps `target/` yours, then runs itself again by absolute
//! path, `sudo /abs/target/debug/xtask check 05 --as-root`, for what needs root: that half
//! builds nothing, and gives back to you whatever it writes under the workspace
//! ([`give_back`]). Called by `check.rs` (`cargo xtask check`) and `main.rs` (`transcripts`).

use anyhow::{Context, Result};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// The flag that tells xtask it is the root half: the steps are built, don't run cargo.
pub const FLAG: &str = "--as-root";

/// `sudo /abs/xtask ARGS --as-root`: the root half's argv.
pub fn argv(args: &[String]) -> Result<Vec<String>> {
    let exe = std::env::current_exe().context("finding xtask's own executable")?;
    let mut argv = vec!["sudo".to_string(), exe.display().to_string()];
    argv.extend(args.iter().filter(|a| *a != FLAG).cloned());
    argv.push(FLAG.into());
    Ok(argv)
}

/// `argv` as one line that a shell reads back the same, for the learner to see or type.
pub fn shell_line(argv: &[String]) -> String {
    let quote = |word: &String| {
        let plain = word.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-=:+,@%".contains(&b));
        match plain && !word.is_empty() {
            true => word.clone(),
            false => format!("'{}'", word.replace('\'', r"'\''")),
        }
    };
    argv.iter().map(quote).collect::<Vec<_>>().join(" ")
}

/// Run the root half of `xtask ARGS`: say so in one line, run it through sudo, return its exit
/// status. Where sudo cannot run it without asking at a terminal we do not have (or is not
/// installed), print the command instead, with the sandbox as the way without sudo, and
/// return `None`.
pub fn run(args: &[String]) -> Result<Option<i32>> {
    let argv = argv(args)?;
    let line = shell_line(&argv);
    if !sudo_can_run() {
        let ours: Vec<String> = args.iter().filter(|a| *a != FLAG).cloned().collect();
        eprintln!(
            "xtask: this needs root: run `{line}` (what needs cargo is done), or, without sudo, \
             `cargo xtask {}` inside `cargo xtask sandbox`",
            shell_line(&ours)
        );
        return Ok(None);
    }
    eprintln!("xtask: the rest needs root, so xtask runs itself through sudo: {line}");
    let status = Command::new(&argv[0]).args(&argv[1..]).status().context("running sudo")?;
    Ok(Some(status.code().unwrap_or(2)))
}

/// Whether `sudo` is there and may ask for a password (we have a terminal) or need not.
fn sudo_can_run() -> bool {
    let no_password = Command::new("sudo")
        .args(["-n", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match no_password {
        Ok(status) if status.success() => true,
        Ok(_) => std::io::IsTerminal::is_terminal(&std::io::stdin()),
        Err(_) => false, // no sudo
    }
}

/// Give `path`, and each directory above it up to `base`, to `base`'s owner, where root made
/// them: a root half leaves nothing of root's in a learner's `target/` or `book/`, which
/// cargo, git or the next run would then fail to write. Nothing is done when `base` is
/// root's own, and symlinks are not followed (lchown).
pub fn give_back(base: &Path, path: &Path) {
    let Ok(meta) = std::fs::metadata(base) else { return };
    if meta.uid() == 0 || !nix::unistd::geteuid().is_root() {
        return;
    }
    for part in path.ancestors().take_while(|p| p.starts_with(base) && *p != base) {
        if std::fs::symlink_metadata(part).is_ok_and(|m| m.uid() == 0) {
            let _ = std::os::unix::fs::lchown(part, Some(meta.uid()), Some(meta.gid()));
        }
    }
}
