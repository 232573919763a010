//! `cargo xtask diffs`: `book/src/diffs/stepNN.diff`, what step NN changes in step NN-1.
//!
//! For each step after the first: its `Cargo.toml`, `src/` and `tests/`, compared with the
//! previous step's by `diff -u`, file by file, with paths that read `step04-pid/src/main.rs`
//! and no timestamps, so the output depends on the code alone. Every step names its files
//! alike (`src/rootfs.rs`, `tests/lesson.rs`), so a file is compared with its predecessor's,
//! and a file new in the step shows as added from /dev/null.

use crate::{short_name, steps};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The diffs the code produces now: `("step04.diff", text)` for every step after the first.
pub fn generate(root: &Path) -> Result<Vec<(String, String)>> {
    let steps = steps(root)?;
    let mut out = Vec::new();
    for pair in steps.windows(2) {
        let text = diff_steps(root, &pair[0], &pair[1])?;
        out.push((format!("{}.diff", short_name(&pair[1])), text));
    }
    Ok(out)
}

/// Where the diffs are committed.
pub fn dir(root: &Path) -> PathBuf {
    root.join("book/src/diffs")
}

/// Write every diff, and remove diffs of steps that no longer exist.
pub fn write(root: &Path) -> Result<Vec<String>> {
    let dir = dir(root);
    std::fs::create_dir_all(&dir)?;
    let diffs = generate(root)?;
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".diff") && !diffs.iter().any(|(n, _)| *n == name) {
            std::fs::remove_file(&path)?;
        }
    }
    let mut written = Vec::new();
    for (name, text) in diffs {
        let path = dir.join(&name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            written.push(name);
        }
    }
    Ok(written)
}

/// The files of a step the book compares, keyed by their path within the step.
fn files(root: &Path, step: &str) -> Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    let base = root.join(step);
    let mut todo = vec![base.join("Cargo.toml"), base.join("src"), base.join("tests")];
    while let Some(path) = todo.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                todo.push(entry?.path());
            }
        } else if path.is_file() {
            let rel = path.strip_prefix(&base)?.to_string_lossy().into_owned();
            files.insert(rel.clone(), rel);
        }
    }
    Ok(files)
}

fn diff_steps(root: &Path, old: &str, new: &str) -> Result<String> {
    let (old_files, new_files) = (files(root, old)?, files(root, new)?);
    let mut keys: Vec<&String> = old_files.keys().chain(new_files.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut text = String::new();
    for key in keys {
        let side = |files: &BTreeMap<String, String>, step: &str| match files.get(key) {
            Some(rel) => (root.join(step).join(rel), format!("{step}/{rel}")),
            None => (PathBuf::from("/dev/null"), "/dev/null".to_string()),
        };
        let (old_path, old_label) = side(&old_files, old);
        let (new_path, new_label) = side(&new_files, new);
        let out = Command::new("diff")
            .args(["-u", "--label", &old_label, "--label", &new_label])
            .arg(&old_path)
            .arg(&new_path)
            .env("LC_ALL", "C")
            .output()
            .context("running diff (install diffutils)")?;
        match out.status.code() {
            Some(0) => {}
            Some(1) => {
                text += &format!("diff -u {old_label} {new_label}\n");
                text += &String::from_utf8(out.stdout).context("diff printed something not UTF-8")?;
            }
            _ => {
                bail!("diff {old_label} {new_label} failed: {}", String::from_utf8_lossy(&out.stderr).trim())
            }
        }
    }
    Ok(text)
}
