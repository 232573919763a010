//! The book shows the current code: its committed diffs and transcripts must be what the code
//! produces now. When one is stale, regenerate it (the message says how) and commit it.

use std::path::PathBuf;
use xtask::{diffs, transcripts, workspace};

/// Where `cargo test --workspace` built the steps: next to this test, in `target/debug`.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(2).unwrap().to_path_buf()
}

/// The first line where `committed` and `fresh` differ, to show in the failure.
fn first_difference(committed: &str, fresh: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (committed.lines().collect(), fresh.lines().collect());
    let n = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    format!(
        "line {}:\n  committed: {:?}\n  now:       {:?}",
        n + 1,
        a.get(n).unwrap_or(&"(end)"),
        b.get(n).unwrap_or(&"(end)")
    )
}

#[test]
fn committed_diffs_match_the_code() {
    let root = workspace();
    let dir = diffs::dir(&root);
    let fresh = diffs::generate(&root).unwrap();
    assert!(!fresh.is_empty(), "no steps found");
    let mut stale = Vec::new();
    for (name, text) in &fresh {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(committed) if committed == *text => {}
            Ok(committed) => {
                stale.push(format!("book/src/diffs/{name}: {}", first_difference(&committed, text)))
            }
            Err(_) => stale.push(format!("book/src/diffs/{name} is missing")),
        }
    }
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".diff") && !fresh.iter().any(|(n, _)| *n == name) {
            stale.push(format!("book/src/diffs/{name} belongs to no step"));
        }
    }
    assert!(
        stale.is_empty(),
        "the book's diffs no longer match the code: run `cargo xtask diffs` and commit book/src/diffs. \
         (If you edited a step for an exercise, this is expected: these checks are for the tutorial's \
         maintainers; `git stash` puts the steps back.)\n{}",
        stale.join("\n")
    );
}

/// Every chapter that includes a diff or transcript includes one that exists, and every
/// script is included somewhere (one layout's at least, for a script recorded per cgroup layout).
#[test]
fn chapters_include_what_exists() {
    let root = workspace();
    let src = root.join("book/src");
    let mut included = String::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            included += &std::fs::read_to_string(&path).unwrap();
        }
    }
    for script in transcripts::scripts(&root).unwrap() {
        // A script recorded per cgroup layout: the book may show one layout's, or each.
        let files = script.files();
        assert!(
            files.iter().any(|file| included.contains(&format!("transcripts/{file}"))),
            "no chapter includes transcripts/{}",
            files.join(" or transcripts/")
        );
    }
    for (name, _) in diffs::generate(&root).unwrap() {
        let include = format!("diffs/{name}");
        assert!(included.contains(&include), "no chapter includes {include}");
    }
}

/// A script whose output depends on the cgroup layout is recorded on both layouts CI has: the
/// hybrid one of the machine it runs on, and the v2-only one of tools/vm-test's VM. So none is
/// left uncompared, and every transcript it names is committed.
#[test]
fn cgroup_layout_transcripts_are_recorded_for_hybrid_and_v2() {
    let root = workspace();
    for script in transcripts::scripts(&root).unwrap() {
        let Some(layouts) = &script.cgroups else { continue };
        for needed in ["hybrid", "v2"] {
            assert!(
                layouts.iter().any(|l| l == needed),
                "book/transcripts/{}.txt says `%cgroups {}`: record it for {needed} too \
                 (v2: sudo tools/vm-test --record {})",
                script.name,
                layouts.join(" "),
                script.name
            );
        }
        for file in script.files() {
            assert!(
                transcripts::output_dir(&root).join(&file).is_file(),
                "book/src/transcripts/{file} is missing: record it (`cargo xtask transcripts {}` where \
                 cgroups are hybrid, `sudo tools/vm-test --record {}` for v2)",
                script.name,
                script.name
            );
        }
    }
}

/// Run each script and compare what it prints with the committed transcript for this machine.
/// `layout_dependent` picks the scripts recorded per cgroup layout, or the others.
fn compare_transcripts(layout_dependent: bool) {
    let root = workspace();
    let out_dir = transcripts::output_dir(&root);
    let mut stale = Vec::new();
    for script in transcripts::scripts(&root).unwrap() {
        if script.cgroups.is_some() != layout_dependent {
            continue;
        }
        let Some(file) = script.file_here() else {
            // Straight to fd 2: the test harness captures eprintln!, and a skip must be seen.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!(
                    "note: book/transcripts/{}.txt is recorded where cgroups are {:?}, and this \
                     machine's are {}: not compared here\n",
                    script.name,
                    script.cgroups.as_deref().unwrap_or_default(),
                    transcripts::cgroup_layout()
                )
                .as_bytes(),
            );
            continue;
        };
        let fresh = transcripts::run(&root, &bin_dir(), &script).unwrap_or_else(|e| panic!("{e:#}"));
        match std::fs::read_to_string(out_dir.join(&file)) {
            Ok(committed) if committed == fresh => {}
            Ok(committed) => {
                stale.push(format!("book/src/transcripts/{file}: {}", first_difference(&committed, &fresh)))
            }
            Err(_) => stale.push(format!("book/src/transcripts/{file} is missing")),
        }
    }
    let how = match transcripts::cgroup_layout() {
        "v2" if layout_dependent => {
            "record them with `sudo tools/vm-test --record NAME...` (a VM with cgroup v2 only)"
        }
        _ => "run `cargo xtask transcripts` as root",
    };
    assert!(
        stale.is_empty(),
        "the book's transcripts no longer match what the steps print: {how} and commit \
         book/src/transcripts. (If you edited a step for an exercise, this is expected: these checks \
         are for the tutorial's maintainers; `git stash` puts the steps back.)\n{}",
        stale.join("\n")
    );
}

#[test]
fn committed_transcripts_match_what_the_steps_print() {
    if testkit::root_or_skip("the transcripts run steps 02-05, which create namespaces") {
        compare_transcripts(false);
    }
}

/// The scripts recorded per cgroup layout: tools/vm-test runs this one where cgroups are v2
/// only, and the machine CI runs on compares the hybrid ones.
#[test]
fn committed_cgroup_layout_transcripts_match_this_machine() {
    if testkit::root_or_skip("the transcripts run steps that make cgroups") {
        compare_transcripts(true);
    }
}
