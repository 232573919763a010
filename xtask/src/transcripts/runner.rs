//! Running one script ([`run`]): in a scratch directory that reads like the workspace, in
//! one `bash` with a minimal environment, as root or as nobody, in a process group of its own
//! that is ended when the script is done or when we are asked to stop. Called by
//! `cargo xtask transcripts` (xtask/src/main.rs) and by xtask/tests/book.rs and attacks.rs.

use super::normalise::{render, MARK};
use super::script::Script;
use crate::TempDir;
use anyhow::{bail, Context, Result};
use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// How long one script may run before it is ended.
const TIMEOUT: Duration = Duration::from_secs(180);

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
