//! `tools/soak` on one step that has every variant it knows (step11: `--rootfs`, `--memory` and
//! `--cpus`, `--image`), once each: every run ends as expected, nothing grows, and the machine
//! is left as it was. In particular no cgroup of the soak's runs stays at the top of the
//! machine's v1 hierarchies, where a SIGKILLed run's `--memory` cgroup used to stay (its cgroup
//! namespace saw the machine's own v1 mounts, so the step put its cgroup at their top, out from
//! under the machine's limits).
//!
//! It counts the machine's cgroups: a soak of the old kind run by someone else at the same time
//! could disturb it; run it again alone before concluding.

use std::path::{Path, PathBuf};
use testkit::{real_root_or_skip, run, RealRoot};

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// step11's binary, in the target directory this test was built in (`target/debug/deps/soak-*`
/// is us); `cargo test -p xtask` builds only xtask, so the first call builds it.
fn step11() -> PathBuf {
    let bin = std::env::current_exe().unwrap().ancestors().nth(2).unwrap().join("step11-overlay");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let manifest = workspace().join("Cargo.toml");
        let out = run(&[
            cargo.as_str(),
            "build",
            "--quiet",
            "-p",
            "step11-overlay",
            "--manifest-path",
            manifest.to_str().unwrap(),
        ]);
        out.assert_status(0);
    }
    bin
}

/// The directories at the top of the machine's v1 hierarchies of memory, cpu and cpuacct named
/// as step11's cgroup in a PID namespace of its own (`step11-overlay-PID-pidnsINODE`), which the
/// soak's runs are: none of theirs belongs there.
fn top_level_step11_cgroups() -> Vec<String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut found = Vec::new();
    for line in mountinfo.lines() {
        let Some((before, after)) = line.split_once(" - ") else { continue };
        let mut after = after.split(' ');
        let (fstype, options) = (after.next(), after.nth(1).unwrap_or_default());
        let limits = options.split(',').any(|o| ["memory", "cpu", "cpuacct"].contains(&o));
        let Some(point) = before.split(' ').nth(4) else { continue };
        if fstype != Some("cgroup") || !limits {
            continue;
        }
        for entry in std::fs::read_dir(point).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("step11-overlay-") && name.contains("-pidns") {
                found.push(format!("{point}/{name}"));
            }
        }
    }
    found
}

#[test]
fn soak_runs_every_variant_of_step11_and_leaves_nothing() {
    if !real_root_or_skip(RealRoot::Cgroups) {
        return;
    }
    let step = step11();
    let before = top_level_step11_cgroups();
    // 13 runs: one of each variant step11 has.
    let soak = workspace().join("tools/soak");
    let out = run(&[soak.to_str().unwrap(), "13", step.to_str().unwrap()]);
    let after = top_level_step11_cgroups();
    out.assert_status(0);
    let line =
        out.stdout.lines().find(|l| l.starts_with("step11-overlay ")).unwrap_or_else(|| panic!("{out:#?}"));
    assert!(line.contains(" failed=0 ") && line.ends_with(" residue=0"), "{out:#?}");
    assert!(line.contains(" tmp "), "the soak should count what the runs leave in /tmp\n{out:#?}");
    let left: Vec<&String> = after.iter().filter(|c| !before.contains(c)).collect();
    assert!(
        left.is_empty(),
        "the soak's runs left cgroups at the top of the machine's hierarchies: {left:?}"
    );
}
