//! No copy drifts by accident: a file a step carries over from the step before is the same
//! file, byte for byte, unless [`CHANGED`] names it for that step with the reason.
//!
//! A step is the previous step plus one namespace, and a learner reads `diff -ru` between the
//! two as the lesson. A module carried forward (`rootfs.rs`, `userns.rs`, `net.rs`) that
//! changed by accident would put noise in that lesson, or leave one copy with a fix the
//! others lack.

use crate::steps;
use anyhow::Result;
use std::path::Path;

/// The files every step changes, and why.
pub const EVERY_STEP: &[(&str, &str)] = &[
    ("Cargo.toml", "it names the step's package and binary"),
    ("src/main.rs", "it is the lesson: the new flag, and what the child and the parent do with it"),
    ("tests/lesson.rs", "it adds the checks of the step's own lesson"),
    ("tests/hardening.rs", "it names the step's binary, and adds checks where the step adds a feature"),
];

/// Carried files that a step changes on purpose: `(step, file, why)`.
pub const CHANGED: &[(&str, &str, &str)] = &[(
    "step07-net",
    "src/userns.rs",
    "the pipe that releases the child also carries its address: Release::send, and wait returns what was sent",
    ),
    (
    "step11-overlay",
    "src/userns.rs",
    "the layer goes to whoever the container's root is outside: Outside::root and Outside::inside say who, from the map the parent wrote",
    ),
    (
    "step10-limits",
    "src/cgroup.rs",
    "the container's cgroups hold --memory and --cpus too: limits.rs adds its places and files, \
     and enable_pids becomes enable(parent, controller)",
    ),
    (
    "step12-caps",
    "src/rootfs.rs",
    "/dev's tmpfs is mounted nodev too, so a device node made in it cannot be opened (the bound host nodes keep their own flags)",
)];

/// Every carried file that differs from its predecessor without a reason in the tables above,
/// as one line each: `step06-user/src/rootfs.rs differs from step05-mount/src/rootfs.rs`.
pub fn check(root: &Path) -> Result<Vec<String>> {
    let mut drifted = Vec::new();
    for pair in steps(root)?.windows(2) {
        let (old, new) = (&pair[0], &pair[1]);
        for file in carried(root, old, new)? {
            let explained = EVERY_STEP.iter().any(|(f, _)| *f == file)
                || CHANGED.iter().any(|(s, f, _)| s == new && *f == file);
            let same =
                std::fs::read(root.join(old).join(&file))? == std::fs::read(root.join(new).join(&file))?;
            if !same && !explained {
                drifted.push(format!("{new}/{file} differs from {old}/{file}"));
            }
        }
    }
    Ok(drifted)
}

/// The files (relative paths under `src/`, `tests/` and `Cargo.toml`) that both steps have.
fn carried(root: &Path, old: &str, new: &str) -> Result<Vec<String>> {
    let mut files = vec!["Cargo.toml".to_string()];
    for dir in ["src", "tests"] {
        let Ok(entries) = std::fs::read_dir(root.join(new).join(dir)) else {
            continue;
        };
        for entry in entries {
            let name = format!("{dir}/{}", entry?.file_name().to_string_lossy());
            if root.join(old).join(&name).is_file() {
                files.push(name);
            }
        }
    }
    files.sort();
    Ok(files)
}
