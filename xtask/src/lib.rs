//! Project chores behind `cargo xtask`, as a library so that the freshness tests in `tests/`
//! check exactly what the commands write.
//!
//! - [`check`]: `cargo xtask check`, the checker of the learners' coding exercises;
//! - [`diffs`]: the diff from each step to the next, for the book;
//! - [`drift`]: the files a step carries over are the previous step's, unless a table says why;
//! - [`transcripts`]: real runs of the steps, with what changes between runs normalised;
//! - [`linkcheck`]: the built book has no broken local link and no unresolved `{{#`;
//! - [`doctor`]: which steps run on this machine, and the fixes for those that cannot;
//! - [`reset`]: remove the bridge step07 leaves behind, report anything else left;
//! - [`sandbox`]: a shell that is root over namespaces of its own, for learners without sudo.

pub mod check;
pub mod diffs;
pub mod doctor;
pub mod drift;
pub mod linkcheck;
pub mod reset;
pub mod sandbox;
pub mod transcripts;

use std::path::{Path, PathBuf};

/// The workspace's root directory.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// The step directories, in order: `["step01-clone", "step02-uts", ...]`, every `stepNN-*`
/// directory with a Cargo.toml, so that a new step appears in the book by itself.
pub fn steps(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let b = name.as_bytes();
        let numbered =
            b.len() > 7 && name.starts_with("step") && b[4..6].iter().all(u8::is_ascii_digit) && b[6] == b'-';
        if numbered && root.join(&name).join("Cargo.toml").is_file() {
            steps.push(name);
        }
    }
    steps.sort();
    Ok(steps)
}

/// `step04-pid` -> `step04`.
pub fn short_name(step: &str) -> &str {
    &step[..6]
}
