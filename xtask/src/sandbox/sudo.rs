//! `sudo` inside the sandbox: the book's commands say `sudo`, and in the sandbox you are root
//! already (and the real sudo would refuse: its setuid root is not root here). A script of this
//! name, early in the sandbox's PATH, says in one line what to type instead, and runs nothing.
//!
//! Called by `mod.rs`, which writes the script into your sandbox directory (`records.rs`) and
//! puts it first in the PATH of the sandbox and of those who join it.

use anyhow::{Context, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The script. `sudo unshare --net X` is the book's way to try step07 in a throwaway network
/// namespace: the sandbox is one already, so X alone does it.
const SCRIPT: &str = r#"#!/bin/sh
# sudo, inside cargo xtask sandbox: you are root here already. This says what to type instead.
shell=""
while [ $# -gt 0 ]; do
  case "$1" in
    -s|-i|--shell|--login) shell="$1"; shift ;;
    -u|-g|-U|-C|-D|-p|-r|-t) shift 2 ;;
    --) shift; break ;;
    -*) shift ;;
    *) break ;;
  esac
done
case "$1" in
  "") if [ -n "$shell" ]; then
        echo "sudo: you are already root in the sandbox, in a root shell: no need for sudo $shell" >&2
      else
        echo "sudo: you are already root in the sandbox: no need for sudo here" >&2
      fi ;;
  bash|sh|su|zsh)
    echo "sudo: you are already root in the sandbox, in a root shell: no need for sudo $*" >&2 ;;
  unshare)
    shift; opts=""
    while [ $# -gt 0 ]; do case "$1" in -*) opts="$opts $1"; shift ;; *) break ;; esac; done
    if [ "$opts" = " --net" ] || [ "$opts" = " -n" ]; then
      echo "sudo: the sandbox is already a throwaway network namespace: run $* (without sudo unshare$opts)" >&2
    else
      echo "sudo: you are already root in the sandbox: run the command without sudo: unshare$opts $*" >&2
    fi ;;
  *) echo "sudo: you are already root in the sandbox: run the command without sudo: $*" >&2 ;;
esac
exit 1
"#;

/// Write the script as DIR/bin/sudo (anew each time, through a rename), and return DIR/bin.
pub fn install(dir: &Path) -> Result<PathBuf> {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).with_context(|| format!("could not make {}", bin.display()))?;
    let new = bin.join(format!(".sudo.{}", std::process::id()));
    std::fs::write(&new, SCRIPT).with_context(|| format!("could not write {}", new.display()))?;
    std::fs::set_permissions(&new, std::fs::Permissions::from_mode(0o755))?;
    std::fs::rename(&new, bin.join("sudo"))
        .with_context(|| format!("could not write {}/sudo", bin.display()))?;
    Ok(bin)
}
