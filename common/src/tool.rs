//! Running a system tool such as `ip`, with its failure as one line.

use anyhow::{anyhow, Result};
use std::io::Write;
use std::process::{Command, Stdio};

/// Run `program` with `args`, feeding it `input` on stdin if given, and return its stdout.
///
/// Fails with one line that repeats the first line it printed on stderr, or says the program
/// is not installed; the caller adds what it was doing.
pub fn run_tool(program: &str, args: &[&str], input: Option<&str>) -> Result<String> {
    let shown = std::iter::once(program).chain(args.iter().copied()).collect::<Vec<_>>().join(" ");
    let mut child = Command::new(program)
        .args(args)
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                anyhow!("{program} is not installed, or not in PATH (for ip: apt install iproute2)")
            }
            _ => anyhow!("`{shown}` failed to start: {e}"),
        })?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(input.as_bytes()).map_err(|e| anyhow!("`{shown}`: writing its input failed: {e}"))?;
    }
    let out = child.wait_with_output().map_err(|e| anyhow!("`{shown}` failed: {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let why = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("no message").trim();
        return Err(anyhow!("{program} failed ({}): {why}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
